/*  httputil.h - a tiny HTTP/1.1 client for the tests of the agent's
    listeners: one GET (or any raw request) per connection, the answer
    read until the server closes, its status and body split out.
*/
#ifndef MESHQ_HTTPUTIL_H_INCLUDED
#define MESHQ_HTTPUTIL_H_INCLUDED

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int status;   //  HTTP status, or -1 if no answer came.
    char *text;   //  The whole answer, headers and body (malloc'd).
    size_t size;  //  Its bytes.
    char *body;   //  Into text: after the blank line.
} httputil_answer_t;

//  A connection to 127.0.0.1:port, or -1.
static inline int
httputil_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons ((uint16_t)port)};
    inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
    if (fd >= 0 && connect (fd, (struct sockaddr *)&address, sizeof address)) {
        close (fd);
        fd = -1;
    }
    return fd;
}

//  Sends request (size bytes) and reads the answer until the server
//  closes or timeout_ms passes without a byte.
static inline httputil_answer_t
httputil_raw (int port, const char *request, size_t size, int timeout_ms)
{
    httputil_answer_t answer = {.status = -1};
    int fd = httputil_connect (port);
    cr_assert_geq (fd, 0, "cannot connect to port %d", port);
    size_t sent = 0;
    while (sent < size) {
        ssize_t n = send (fd, request + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;  //  The server may close on us: read what it said.
        sent += (size_t)n;
    }
    size_t capacity = 65536;
    answer.text = malloc (capacity + 1);
    cr_assert_not_null (answer.text);
    while (true) {
        struct pollfd item = {.fd = fd, .events = POLLIN};
        if (poll (&item, 1, timeout_ms) <= 0)
            break;
        if (answer.size == capacity) {
            capacity *= 2;
            answer.text = realloc (answer.text, capacity + 1);
            cr_assert_not_null (answer.text);
        }
        ssize_t n =
            recv (fd, answer.text + answer.size, capacity - answer.size, 0);
        if (n <= 0)
            break;
        answer.size += (size_t)n;
    }
    close (fd);
    answer.text[answer.size] = 0;
    if (sscanf (answer.text, "HTTP/1.%*d %d", &answer.status) != 1)
        answer.status = -1;
    char *blank = strstr (answer.text, "\r\n\r\n");
    answer.body = blank ? blank + 4 : answer.text + answer.size;
    return answer;
}

//  GET path on 127.0.0.1:port, with Basic authentication if user is
//  not NULL.
static inline httputil_answer_t
httputil_get (int port, const char *path, const char *user,
              const char *password)
{
    char request[2048], credentials[512] = "", header[800] = "";
    if (user) {
        char plain[300];
        snprintf (plain, sizeof plain, "%s:%s", user, password);
        sodium_bin2base64 (credentials, sizeof credentials,
                           (const unsigned char *)plain, strlen (plain),
                           sodium_base64_VARIANT_ORIGINAL);
        snprintf (header, sizeof header, "Authorization: Basic %s\r\n",
                  credentials);
    }
    int size = snprintf (request, sizeof request,
                         "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
                         "Connection: close\r\n\r\n",
                         path, header);
    return httputil_raw (port, request, (size_t)size, 10000);
}

static inline void
httputil_free (httputil_answer_t *answer)
{
    free (answer->text);
    answer->text = answer->body = NULL;
}

//  The port of a "HOST:PORT" in text after key (as in the JSON of
//  meshq status --json: "http":"127.0.0.1:PORT"), or 0.
static inline int
httputil_port_after (const char *text, const char *key)
{
    const char *at = strstr (text, key);
    if (!at)
        return 0;
    at = strchr (at + strlen (key), '"');  //  The value's opening quote.
    at = at ? strchr (at + 1, ':') : NULL;
    return at ? atoi (at + 1) : 0;
}

#endif
