/*  http.c - one HTTP listener, served by libmicrohttpd. See http.h.

    libmicrohttpd is called through the table mhd_load.h loads when the
    first listener starts: a process that serves no HTTP never maps it.

    libmicrohttpd runs one thread per listener (its internal polling
    thread); that thread parses the requests, and for each one sends it
    to the backend on a DEALER socket it alone uses, then waits for the
    answer, at most MESHQ_HTTP_WAIT_MS. The backend answers in a few
    milliseconds, so one thread is enough; while it waits, other
    connections wait too, which bounds what scrapes can ask of the
    engine to one request at a time per listener.
*/
#include "http.h"
#include "meshq.h"
#include "mhd_load.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

struct _meshq_http_t {
    char listener[16];          //  "http", "metrics".
    char backend[128];          //  The owner's ROUTER.
    char address[96];           //  HOST:PORT served.
    uint16_t port;              //  The port bound.
    int fd;                     //  The listening socket, or -1.
    const meshq_mhd_t *mhd;     //  libmicrohttpd's functions, once started.
    struct MHD_Daemon *daemon;  //  libmicrohttpd, once started.
    zsock_t *dealer;            //  To the backend; its thread's only.
    uint64_t next_rid;          //  Last request id; its thread's only.
    atomic_bool stopping;       //  Set by destroy: stop waiting.
};

meshq_http_t *
meshq_http_new (const char *listener, const char *backend)
{
    meshq_http_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->listener, sizeof self->listener, "%s", listener);
    snprintf (self->backend, sizeof self->backend, "%s", backend);
    self->fd = -1;
    atomic_init (&self->stopping, false);
    return self;
}

void
meshq_http_destroy (meshq_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    meshq_http_t *self = *self_p;
    atomic_store (&self->stopping, true);
    //  Joins its thread: the dealer is free to close after.
    if (self->daemon)
        self->mhd->stop_daemon (self->daemon);
    if (self->fd >= 0)
        close (self->fd);
    zsock_destroy (&self->dealer);
    free (self);
    *self_p = NULL;
}

int
meshq_http_parse (const char *spec, char *host, size_t host_size,
                  uint16_t *port, char *why, size_t size)
{
    const char *colon = strrchr (spec, ':');
    const char *digits = colon ? colon + 1 : spec;
    size_t host_length = colon ? (size_t)(colon - spec) : 0;
    char *end = NULL;
    errno = 0;
    unsigned long number = strtoul (digits, &end, 10);
    if (!*digits || *end || errno || number > 65535 || *digits == '-' ||
        *digits == '+') {
        snprintf (why, size, "'%s': not [HOST:]PORT with PORT 0..65535", spec);
        return MESHQ_EINVAL;
    }
    if (host_length == 0)
        snprintf (host, host_size, "127.0.0.1");
    else if (host_length < host_size) {
        memcpy (host, spec, host_length);
        host[host_length] = 0;
    } else
        host[0] = 0;
    struct in_addr address;
    if (!*host || inet_pton (AF_INET, host, &address) != 1) {
        snprintf (why, size,
                  "'%s': HOST must be a numeric IPv4 address, such as "
                  "127.0.0.1 or 0.0.0.0",
                  spec);
        return MESHQ_EINVAL;
    }
    *port = (uint16_t)number;
    return 0;
}

// --------------------------------------------------------------------
//  Requests, on libmicrohttpd's thread

//  Queues a plain text answer.
static enum MHD_Result
s_answer_text (meshq_http_t *self, struct MHD_Connection *connection,
               unsigned status, const char *text)
{
    struct MHD_Response *response = self->mhd->create_response_from_buffer (
        strlen (text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    self->mhd->add_response_header (response, "Content-Type",
                                    "text/plain; charset=utf-8");
    enum MHD_Result rc =
        self->mhd->queue_response (connection, status, response);
    self->mhd->destroy_response (response);
    return rc;
}

static void
s_frame_free (void *arg)
{
    zframe_t *frame = arg;
    zframe_destroy (&frame);
}

//  Sends the request to the backend and waits for its answer; NULL if
//  none came in time. The answer's frames: status, type, body.
static zmsg_t *
s_ask (meshq_http_t *self, const char *method, const char *url,
       const char *user, const char *password, const char *peer)
{
    if (!self->dealer) {
        self->dealer = zsock_new (ZMQ_DEALER);
        assert (self->dealer);
        zsock_set_linger (self->dealer, 0);
        if (zsock_connect (self->dealer, "%s", self->backend)) {
            zsock_destroy (&self->dealer);
            return NULL;
        }
    }
    uint64_t rid = ++self->next_rid;
    zmsg_t *request = zmsg_new ();
    zmsg_addmem (request, &rid, sizeof rid);
    zmsg_addstr (request, self->listener);
    zmsg_addstr (request, method);
    zmsg_addstr (request, url);
    zmsg_addstr (request, user);
    zmsg_addstr (request, password);
    zmsg_addstr (request, peer);
    if (zmsg_send (&request, self->dealer)) {
        zmsg_destroy (&request);
        return NULL;
    }
    int64_t deadline = zclock_mono () + MESHQ_HTTP_WAIT_MS;
    zpoller_t *poller = zpoller_new (self->dealer, NULL);
    zmsg_t *answer = NULL;
    while (!answer && !atomic_load (&self->stopping)) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        if (!zpoller_wait (poller, left < 100 ? (int)left : 100))
            continue;
        answer = zmsg_recv (self->dealer);
        if (!answer)
            break;
        //  An answer to an earlier request that gave up: not ours.
        zframe_t *id = zmsg_pop (answer);
        bool ours = id && zframe_size (id) == sizeof rid &&
                    memcmp (zframe_data (id), &rid, sizeof rid) == 0 &&
                    zmsg_size (answer) == 3;
        zframe_destroy (&id);
        if (!ours)
            zmsg_destroy (&answer);
    }
    zpoller_destroy (&poller);
    return answer;
}

static enum MHD_Result
s_access (void *arg, struct MHD_Connection *connection, const char *url,
          const char *method, const char *version, const char *upload_data,
          size_t *upload_data_size, void **request_p)
{
    (void)version;
    (void)upload_data;
    (void)request_p;
    meshq_http_t *self = arg;
    if (*upload_data_size)
        return MHD_NO;  //  A body we refused is not read: close.
    if (!streq (method, "GET") && !streq (method, "HEAD"))
        return s_answer_text (self, connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                              "only GET and HEAD are served\n");
    const char *length = self->mhd->lookup_connection_value (
        connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *chunked = self->mhd->lookup_connection_value (
        connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if ((length && !streq (length, "0")) || chunked)
        return s_answer_text (self, connection, MHD_HTTP_CONTENT_TOO_LARGE,
                              "requests take no body\n");
    char *password = NULL;
    char *user =
        self->mhd->basic_auth_get_username_password (connection, &password);
    char peer[INET6_ADDRSTRLEN] = "";
    const union MHD_ConnectionInfo *info = self->mhd->get_connection_info (
        connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info && info->client_addr && info->client_addr->sa_family == AF_INET)
        inet_ntop (AF_INET,
                   &((const struct sockaddr_in *)info->client_addr)->sin_addr,
                   peer, sizeof peer);
    //  Of the query, only what the engine reads: local=true asks for
    //  this agent's view of the queues instead of the mesh's.
    const char *local = self->mhd->lookup_connection_value (
        connection, MHD_GET_ARGUMENT_KIND, "local");
    char path[1100];
    snprintf (path, sizeof path, "%s%s", url,
              local && (streq (local, "true") || streq (local, "1") ||
                        streq (local, "yes"))
                  ? "?local=true"
                  : "");
    zmsg_t *answer = s_ask (self, method, path, user ? user : "",
                            password ? password : "", peer);
    if (password) {
        //  Not kept longer than needed.
        memset (password, 0, strlen (password));
        self->mhd->free (password);
    }
    if (user)
        self->mhd->free (user);
    if (!answer)
        return s_answer_text (self, connection, MHD_HTTP_SERVICE_UNAVAILABLE,
                              "the agent did not answer in time\n");
    char *status = zmsg_popstr (answer);
    char *type = zmsg_popstr (answer);
    zframe_t *body = zmsg_pop (answer);
    zmsg_destroy (&answer);
    unsigned code = status ? (unsigned)atoi (status) : 500;
    struct MHD_Response *response =
        self->mhd->create_response_from_buffer_with_free_callback_cls (
            zframe_size (body), zframe_data (body), s_frame_free, body);
    enum MHD_Result rc = MHD_NO;
    if (response) {
        self->mhd->add_response_header (response, "Content-Type",
                                        type ? type : "text/plain");
        self->mhd->add_response_header (response, "Cache-Control", "no-store");
        if (code == MHD_HTTP_UNAUTHORIZED)
            self->mhd->add_response_header (response, "WWW-Authenticate",
                                            "Basic realm=\"meshq\"");
        rc = self->mhd->queue_response (connection, code, response);
        self->mhd->destroy_response (response);
    } else
        zframe_destroy (&body);
    zstr_free (&status);
    zstr_free (&type);
    return rc;
}

//  Leaves the path as it came: names in it are decoded where they are
//  split (http_api.c), so that "%2F", the vhost "/", is not a separator.
static size_t
s_keep_escapes (void *arg, struct MHD_Connection *connection, char *text)
{
    (void)arg;
    (void)connection;
    return strlen (text);
}

//  libmicrohttpd's own messages (a request too big, a connection
//  refused for the limits), at debug: a stranger can cause them.
static void
s_log (void *arg, const char *format, va_list list)
{
    (void)arg;
    char line[256];
    vsnprintf (line, sizeof line, format, list);
    size_t size = strlen (line);
    while (size && line[size - 1] == '\n')
        line[--size] = 0;
    meshq_debug ("http: %s", line);
}

int
meshq_http_start (meshq_http_t *self, const char *spec, char *why, size_t size)
{
    assert (self);
    assert (!self->daemon);
    char host[64];
    uint16_t port;
    int rc = meshq_http_parse (spec, host, sizeof host, &port, why, size);
    if (rc)
        return rc;
    self->mhd = meshq_mhd_load (why, size);
    if (!self->mhd)
        return MESHQ_ENOTSUP;
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons (port)};
    inet_pton (AF_INET, host, &address.sin_addr);
    //  The socket is ours, so that a port in use is told apart from
    //  other failures, and port 0's pick is known.
    self->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (self->fd < 0 ||
        setsockopt (self->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on)) {
        snprintf (why, size, "%s %s: cannot make a socket: %s", self->listener,
                  spec, strerror (errno));
        return MESHQ_EIO;
    }
    if (bind (self->fd, (struct sockaddr *)&address, sizeof address) ||
        listen (self->fd, 64)) {
        int error = errno;
        snprintf (why, size, "%s port %s:%u is in use", self->listener, host,
                  port);
        if (error != EADDRINUSE)
            snprintf (why, size, "%s %s:%u: cannot listen: %s", self->listener,
                      host, port, strerror (error));
        close (self->fd);
        self->fd = -1;
        return error == EADDRINUSE ? MESHQ_EEXIST : MESHQ_EIO;
    }
    socklen_t length = sizeof address;
    getsockname (self->fd, (struct sockaddr *)&address, &length);
    self->port = ntohs (address.sin_port);
    snprintf (self->address, sizeof self->address, "%s:%u", host, self->port);
    self->daemon = self->mhd->start_daemon (
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, s_access, self, MHD_OPTION_LISTEN_SOCKET, self->fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MESHQ_HTTP_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MESHQ_HTTP_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MESHQ_HTTP_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MESHQ_HTTP_MEMORY,
        MHD_OPTION_EXTERNAL_LOGGER, s_log, NULL, MHD_OPTION_UNESCAPE_CALLBACK,
        s_keep_escapes, NULL, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (why, size, "%s %s: libmicrohttpd did not start",
                  self->listener, self->address);
        close (self->fd);
        self->fd = -1;
        self->port = 0;
        self->address[0] = 0;
        return MESHQ_EIO;
    }
    //  libmicrohttpd closes the socket at stop.
    self->fd = -1;
    meshq_notice ("http: listening what=%s address=%s", self->listener,
                  self->address);
    return 0;
}

uint16_t
meshq_http_port (const meshq_http_t *self)
{
    assert (self);
    return self->port;
}

const char *
meshq_http_address (const meshq_http_t *self)
{
    assert (self);
    return self->address;
}
