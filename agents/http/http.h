/*  http.h - one HTTP listener of an agent, served by libmicrohttpd.

    The listener parses HTTP on libmicrohttpd's thread and decides
    nothing itself: each request goes as a message to its backend, a
    ROUTER socket that the owner (the engine) reads on its own thread,
    and the answer comes back the same way (docs/decisions/
    0020-http-on-the-engine-thread.md). The listener never touches the
    owner's state.

        meshq_http_t *http = meshq_http_new ("metrics", "inproc://b");
        if (meshq_http_start (http, "127.0.0.1:15692", why, sizeof why))
            ...                             //  MESHQ_EEXIST: port taken
        printf ("%u\n", meshq_http_port (http));
        meshq_http_destroy (&http);

    A request to the backend is six frames: the request id (8 bytes),
    the listener's name, the method, the path (query string cut), the
    user and password of Basic authentication ("" without), and the
    client's address. The answer is four: the same request id, the
    status code as text ("200"), the content type and the body. An
    answer with status 401 gets a WWW-Authenticate challenge.

    What a stranger can make the listener spend is bounded: connections
    (MESHQ_HTTP_CONNECTIONS, MESHQ_HTTP_PER_IP from one address), idle
    time (MESHQ_HTTP_TIMEOUT_S), the memory of one request's headers
    (MESHQ_HTTP_MEMORY: more gets 431), and bodies: the API only reads,
    so a request with a body is refused (413) and any method but GET
    and HEAD too (405), before a byte of the body is read.
*/
#ifndef MESHQ_HTTP_H_INCLUDED
#define MESHQ_HTTP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Where meshq-agent serves by default (RabbitMQ's ports for its
//  management API and its Prometheus metrics).
#define MESHQ_HTTP_DEFAULT    "127.0.0.1:15672"
#define MESHQ_METRICS_DEFAULT "127.0.0.1:15692"

//  Connections open at once, at most, and from one address.
#define MESHQ_HTTP_CONNECTIONS 64
#define MESHQ_HTTP_PER_IP      16
//  Seconds an idle connection is kept.
#define MESHQ_HTTP_TIMEOUT_S 15
//  Bytes of memory for one connection's request (its headers).
#define MESHQ_HTTP_MEMORY (32 * 1024)
//  Milliseconds a request waits for its backend's answer (then 503).
#define MESHQ_HTTP_WAIT_MS 10000

typedef struct _meshq_http_t meshq_http_t;

//  A listener named listener ("http", "metrics"), whose requests go to
//  the ROUTER bound at backend (an inproc:// endpoint). Not started.
meshq_http_t *meshq_http_new (const char *listener, const char *backend);
//  Stops serving (a request waiting for its answer gives up) and
//  destroys it. NULL-safe; nulls *self_p.
void meshq_http_destroy (meshq_http_t **self_p);

//  Parses a listener setting "[HOST:]PORT" (HOST a numeric IPv4
//  address, 127.0.0.1 if left out; PORT 0 for any free one). Returns 0,
//  or MESHQ_EINVAL with why filled in.
int meshq_http_parse (const char *spec, char *host, size_t host_size,
                      uint16_t *port, char *why, size_t size);

//  Binds spec and serves it from a thread of its own. Returns 0;
//  MESHQ_EEXIST if the port is in use (why names who holds it, if this
//  process may know); MESHQ_ENOTSUP if libmicrohttpd cannot be loaded
//  (why says what dlopen said; no listener of this process will
//  serve); MESHQ_EINVAL or MESHQ_EIO with why.
int meshq_http_start (meshq_http_t *self, const char *spec, char *why,
                      size_t size);

//  The port it listens on (the one picked, for port 0), or 0.
uint16_t meshq_http_port (const meshq_http_t *self);
//  "HOST:PORT" it listens on, or "" (borrowed).
const char *meshq_http_address (const meshq_http_t *self);

#endif
