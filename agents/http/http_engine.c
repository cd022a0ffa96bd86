/*  http_engine.c - the engine's side of its HTTP listeners: it starts
    them (the "http" and "metrics" settings), answers their requests on
    its own thread (the backend ROUTER, read by the engine's loop), logs
    their users in through the auth module, and counts what /metrics
    shows of the message path.

    A request never reads engine state from the listener's thread: the
    listener asks, the engine renders the answer between two of its
    loop's events, and sends it back as one message
    (docs/decisions/0020-http-on-the-engine-thread.md).

    Who may see what, as RabbitMQ's management plugin: /metrics needs no
    login on its own listener (unless metrics_login is set); everything
    else needs a user tagged monitoring or administrator (all vhosts),
    or management (the vhosts it has permissions in).
*/
#include "agent_gather.h"
#include "agent_internal.h"
#include "http.h"
#include "http_render.h"
#include "http_text.h"

#include <sodium.h>
#include <stdatomic.h>
#include <time.h>

//  What a request needs to be answered, kept while its login is checked.
typedef struct {
    zframe_t *routing;                   //  The listener's routing id.
    zframe_t *rid;                       //  Its request id.
    char listener[16];                   //  "http" or "metrics".
    char path[1024];                     //  Path asked for (cut).
    char user[MESHQ_MAX_SHORTSTR + 1];   //  Who logs in.
    char vhost[MESHQ_MAX_SHORTSTR + 1];  //  /api/queues/VHOST/NAME: VHOST,
    char name[MESHQ_MAX_SHORTSTR + 1];   //  and NAME (else both empty).
    bool local;                          //  ?local=true: no gather.
} s_request_t;

typedef struct _meshq_engine_http_t {
    zsock_t *backend;       //  Requests of the listeners come here.
    meshq_http_t *api;      //  The "http" listener, or NULL.
    meshq_http_t *metrics;  //  The "metrics" listener, or NULL.
    zlistx_t *waiting;      //  s_request_t waiting for their login.
    zlistx_t *gathering;    //  s_request_t waiting for a mesh-wide list.
    meshq_buf_t out;        //  The answer being written.
    size_t last_size;       //  Bytes of the last /metrics.
} s_http_t;

int64_t
meshq_engine_mono_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

void
meshq_engine_note_wait (meshq_engine_t *self, meshq_entry_t *entry, bool acked)
{
    if (!entry->born || !entry->queue)
        return;
    int64_t now = self->frame_mono      ? self->frame_mono
                  : self->dispatch_mono ? self->dispatch_mono
                                        : zclock_mono ();
    int64_t wait = now > entry->born ? now - entry->born : 0;
    meshq_hist_note (acked ? &self->ack_wait : &self->delivery_wait,
                     (uint64_t)wait * 1000);
    meshq_queue_note_wait (entry->queue, acked, wait);
}

// --------------------------------------------------------------------
//  Answers

static void
s_request_destroy (s_request_t **self_p)
{
    s_request_t *self = *self_p;
    if (self) {
        zframe_destroy (&self->routing);
        zframe_destroy (&self->rid);
        free (self);
        *self_p = NULL;
    }
}

static void
s_free_body (void *data, void *hint)
{
    (void)hint;
    free (data);
}

//  Sends the answer to request, with body (taken from the engine's
//  buffer, or text if not NULL).
static void
s_answer (meshq_engine_t *self, s_request_t *request, unsigned status,
          const char *type, const char *text)
{
    s_http_t *http = self->http;
    if (text) {
        meshq_buf_reset (&http->out);
        meshq_text_str (&http->out, text);
    }
    char code[8];
    snprintf (code, sizeof code, "%u", status);
    size_t size = 0;
    uint8_t *body = meshq_buf_detach (&http->out, &size);
    void *handle = zsock_resolve (http->backend);
    zmq_send (handle, zframe_data (request->routing),
              zframe_size (request->routing), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (handle, zframe_data (request->rid), zframe_size (request->rid),
              ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (handle, code, strlen (code), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (handle, type, strlen (type), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    //  Megabytes for many queues: handed over, not copied.
    zmq_msg_t frame;
    if (body)
        zmq_msg_init_data (&frame, body, size, s_free_body, NULL);
    else
        zmq_msg_init (&frame);
    if (zmq_msg_send (&frame, handle, ZMQ_DONTWAIT) < 0)
        zmq_msg_close (&frame);
}

//  /api/queues and /api/queues/VHOST/NAME, mesh-wide unless the query
//  says local=true: gathered from the agents that hold part of the
//  queues (agent_lists_mesh.c), answered when they did or the gather's
//  timeout passed. 1 if the request waits for it (then it is kept), -1
//  if it was answered (refused), 0 if it is answered from local state.
static int
s_gather (meshq_engine_t *self, s_request_t *request, const char *only)
{
    const char *path = request->path;
    if (request->local)
        return 0;
    meshq_vhost_t *vhost = NULL;
    if (strncmp (path, "/api/queues/", 12) == 0 && path[12]) {
        if (meshq_http_api_split (path + 12, request->vhost,
                                  sizeof request->vhost, request->name,
                                  sizeof request->name))
            return 0;  //  Malformed: refused as a local one is.
        vhost = zhashx_lookup (self->vhosts, request->vhost);
        if (!vhost ||
            (only && !meshq_auth_may_enter (self->auth, only, vhost->name)))
            return 0;  //  Not there, or not shown: 404.
    } else if (!streq (path, "/api/queues") && !streq (path, "/api/queues/"))
        return 0;
    zlistx_add_end (self->http->gathering, request);
    if (meshq_engine_gather_http (self, only, vhost, request) == 0)
        return 1;
    zlistx_delete (self->http->gathering,
                   zlistx_find (self->http->gathering, request));
    s_answer (self, request, 503, "text/plain; charset=utf-8",
              "too many mesh-wide lists are being gathered; try again, or "
              "ask for this agent's view with ?local=true\n");
    return -1;
}

void
meshq_engine_http_gathered (meshq_engine_t *self, void *ticket,
                            const meshq_gather_view_t *view)
{
    s_http_t *http = self->http;
    void *handle = http ? zlistx_find (http->gathering, ticket) : NULL;
    if (!handle)
        return;
    s_request_t *request = zlistx_detach (http->gathering, handle);
    if (http->backend) {
        meshq_buf_reset (&http->out);
        unsigned status = meshq_http_api_gathered (
            self, view, *request->vhost ? request->vhost : NULL, request->name,
            &http->out);
        s_answer (self, request, status,
                  status == 200 ? "application/json"
                                : "text/plain; charset=utf-8",
                  NULL);
    }
    s_request_destroy (&request);
}

//  Answers a request: open (served to anyone), or of a user logged in,
//  or neither (then it asks for a login). True if it kept the request
//  to answer it later (a mesh-wide list being gathered).
static bool
s_serve (meshq_engine_t *self, s_request_t *request, bool open, bool logged_in)
{
    s_http_t *http = self->http;
    meshq_buf_reset (&http->out);
    bool metrics = streq (request->path, "/metrics");
    if (!open && !logged_in) {
        s_answer (self, request, 401, "text/plain; charset=utf-8",
                  "log in: HTTP Basic authentication\n");
        return false;
    }
    unsigned all = MESHQ_TAG_MONITORING | MESHQ_TAG_ADMINISTRATOR;
    if (logged_in &&
        !meshq_auth_tagged (
            self->auth, request->user,
            all | (metrics ? 0u : (unsigned)MESHQ_TAG_MANAGEMENT))) {
        self->auth_failures++;
        meshq_engine_warn (self, "http: refused user=%s reason=%s path=%s",
                           request->user, "no monitoring tag", request->path);
        s_answer (self, request, 403, "text/plain; charset=utf-8",
                  metrics ? "needs a user tagged monitoring or "
                            "administrator\n"
                          : "needs a user tagged management, monitoring or "
                            "administrator\n");
        return false;
    }
    if (metrics) {
        //  As much room as the last one took, and some: growing a
        //  buffer of megabytes by doubling copies it over and over.
        meshq_buf_reserve (&http->out, http->last_size + http->last_size / 8);
        meshq_http_metrics (self, &http->out);
        http->last_size = http->out.size;
        s_answer (self, request, 200, "text/plain; version=0.0.4", NULL);
        return false;
    }
    if (streq (request->path, "/")) {
        meshq_http_page (&http->out);
        s_answer (self, request, 200, "text/html; charset=utf-8", NULL);
        return false;
    }
    //  Management users see the vhosts they have permissions in.
    const char *only = meshq_auth_tagged (self->auth, request->user, all)
                           ? NULL
                           : request->user;
    int gathered = s_gather (self, request, only);
    if (gathered)
        return gathered > 0;
    unsigned status =
        meshq_http_api (self, request->path, request->user, only, &http->out);
    s_answer (self, request, status,
              status == 200 ? "application/json" : "text/plain; charset=utf-8",
              NULL);
    return false;
}

//  A request from a listener: [routing] rid listener method path user
//  password peer.
static int
s_handle_backend (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    meshq_engine_t *self = arg;
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return 0;
    if (zmsg_size (msg) != 8) {
        //  Only our listeners connect here.
        zmsg_destroy (&msg);
        return 0;
    }
    s_request_t *request = calloc (1, sizeof *request);
    assert (request);
    request->routing = zmsg_pop (msg);
    request->rid = zmsg_pop (msg);
    char *listener = zmsg_popstr (msg);
    char *method = zmsg_popstr (msg);
    char *path = zmsg_popstr (msg);
    char *user = zmsg_popstr (msg);
    zframe_t *password = zmsg_pop (msg);
    char *peer = zmsg_popstr (msg);
    zmsg_destroy (&msg);
    snprintf (request->listener, sizeof request->listener, "%s", listener);
    snprintf (request->path, sizeof request->path, "%s", path);
    //  Of a query, the listener passes on only ?local=true.
    char *query = strchr (request->path, '?');
    request->local = query && streq (query, "?local=true");
    if (query)
        *query = 0;
    snprintf (request->user, sizeof request->user, "%s", user);
    bool metrics_only = streq (listener, "metrics");
    bool open = metrics_only && !self->config.metrics_login;
    if (metrics_only && !streq (request->path, "/metrics"))
        s_answer (self, request, 404, "text/plain; charset=utf-8",
                  "this listener serves /metrics only\n");
    else if (open || !*user) {
        if (s_serve (self, request, open, false))
            request = NULL;  //  Answered later.
    } else if (strlen (user) > MESHQ_MAX_SHORTSTR)
        s_answer (self, request, 401, "text/plain; charset=utf-8",
                  "login refused\n");
    else if (streq (user, "guest") && !streq (peer, "127.0.0.1")) {
        //  As RabbitMQ keeps guest to localhost.
        self->auth_failures++;
        meshq_engine_warn (self, "http: refused user=guest reason=%s peer=%s",
                           "guest from afar", peer);
        s_answer (self, request, 401, "text/plain; charset=utf-8",
                  "guest may log in only from localhost\n");
    } else {
        char source[80];
        snprintf (source, sizeof source, "http:%s", peer);
        zlistx_add_end (self->http->waiting, request);
        //  The answer may come at once (a pass remembered) or later,
        //  from the verifier, to meshq_engine_http_login.
        meshq_auth_login (self->auth, request->user, zframe_data (password),
                          zframe_size (password), source, request);
        request = NULL;
    }
    s_request_destroy (&request);
    if (password)
        sodium_memzero (zframe_data (password), zframe_size (password));
    zframe_destroy (&password);
    zstr_free (&listener);
    zstr_free (&method);
    zstr_free (&path);
    zstr_free (&user);
    zstr_free (&peer);
    return 0;
}

bool
meshq_engine_http_login (meshq_engine_t *self, void *ticket, int rc,
                         const char *why)
{
    s_http_t *http = self->http;
    void *handle = http ? zlistx_find (http->waiting, ticket) : NULL;
    if (!handle)
        return false;
    s_request_t *request = zlistx_detach (http->waiting, handle);
    if (!http->backend)
        ;  //  Stopping: nobody to answer.
    else if (rc)
        s_answer (self, request, 401, "text/plain; charset=utf-8",
                  why && *why ? why : "login refused");
    else if (s_serve (self, request, false, true))
        return true;  //  Answered later.
    s_request_destroy (&request);
    return true;
}

// --------------------------------------------------------------------
//  Start and stop

//  Starts one listener on spec; a default (fallback) port that is taken,
//  or a libmicrohttpd that cannot be loaded, gives a warning and no
//  listener.
static int
s_listen (meshq_engine_t *self, const char *listener, const char *spec,
          bool fallback, meshq_http_t **server_p, char *why, size_t size)
{
    if (!*spec)
        return 0;
    meshq_http_t *server =
        meshq_http_new (listener, zsock_endpoint (self->http->backend));
    char reason[512];
    int rc = meshq_http_start (server, spec, reason, sizeof reason);
    if (rc == 0) {
        *server_p = server;
        return 0;
    }
    meshq_http_destroy (&server);
    //  A default port taken (by the first of several agents on a host,
    //  say) is only a warning, as for AMQP; who holds it is looked up
    //  for an error only: it means reading every process's descriptors,
    //  which with 256 agents on a host took each starting agent seconds.
    if (rc == MESHQ_EEXIST && fallback) {
        zsys_warning ("http: not serving what=%s reason=port in use "
                      "address=%s (set --%s to another port, or '' "
                      "for none)",
                      listener, spec, listener);
        return 0;
    }
    //  So is a libmicrohttpd that cannot be loaded: the agent runs on
    //  without HTTP, as it does without the port.
    if (rc == MESHQ_ENOTSUP && fallback) {
        zsys_warning ("http: not serving what=%s reason=%s (install it, or "
                      "set --%s '' for none)",
                      listener, reason, listener);
        return 0;
    }
    char who[320] = "another process";
    if (rc == MESHQ_EEXIST) {
        char host[64], endpoint[96];
        uint16_t port = 0;
        meshq_http_parse (spec, host, sizeof host, &port, why, size);
        snprintf (endpoint, sizeof endpoint, "tcp://%s:%u", host, port);
        meshq_engine_endpoint_owner (endpoint, who, sizeof who);
    }
    if (rc == MESHQ_EEXIST)
        snprintf (why, size,
                  "%s: port %s is in use by %s; stop it, or give this agent "
                  "another --%s (or '' for none)",
                  listener, spec, who, listener);
    else if (rc == MESHQ_ENOTSUP)
        snprintf (why, size,
                  "%s: %s; install it, or give this agent --%s '' for none",
                  listener, reason, listener);
    else
        snprintf (why, size, "%s", reason);
    return rc;
}

int
meshq_engine_http_start (meshq_engine_t *self, char *why, size_t size)
{
    if (!*self->config.http && !*self->config.metrics)
        return 0;
    s_http_t *http = calloc (1, sizeof *http);
    assert (http);
    self->http = http;
    http->waiting = zlistx_new ();
    http->gathering = zlistx_new ();
    meshq_buf_init (&http->out);
    http->backend = zsock_new (ZMQ_ROUTER);
    assert (http->backend);
    zsock_set_linger (http->backend, 0);
    //  A name of its own: an agent of the same name restarted in this
    //  process must not wait for libzmq to release the last one's.
    static atomic_uint backends;
    if (zsock_bind (http->backend, "inproc://meshq-http-%s-%u",
                    self->config.name, atomic_fetch_add (&backends, 1)) < 0) {
        snprintf (why, size, "http: cannot bind its backend: %s",
                  zmq_strerror (zmq_errno ()));
        return MESHQ_EIO;
    }
    zloop_reader (self->loop, http->backend, s_handle_backend, self);
    int rc = s_listen (self, "http", self->config.http,
                       self->config.http_fallback, &http->api, why, size);
    if (rc == 0)
        rc =
            s_listen (self, "metrics", self->config.metrics,
                      self->config.metrics_fallback, &http->metrics, why, size);
    return rc;
}

void
meshq_engine_http_stop (meshq_engine_t *self)
{
    s_http_t *http = self->http;
    if (!http)
        return;
    meshq_http_destroy (&http->api);
    meshq_http_destroy (&http->metrics);
    if (http->backend) {
        zloop_reader_end (self->loop, http->backend);
        zsock_destroy (&http->backend);
    }
}

void
meshq_engine_http_destroy (meshq_engine_t *self)
{
    s_http_t *http = self->http;
    if (!http)
        return;
    meshq_engine_http_stop (self);
    s_request_t *request;
    while ((request = zlistx_detach (http->waiting, NULL)))
        s_request_destroy (&request);
    zlistx_destroy (&http->waiting);
    while ((request = zlistx_detach (http->gathering, NULL)))
        s_request_destroy (&request);
    zlistx_destroy (&http->gathering);
    meshq_buf_fini (&http->out);
    free (http);
    self->http = NULL;
}

const char *
meshq_engine_http_address (meshq_engine_t *self, const char *listener)
{
    s_http_t *http = self->http;
    meshq_http_t *server = !http                      ? NULL
                           : streq (listener, "http") ? http->api
                                                      : http->metrics;
    return server ? meshq_http_address (server) : NULL;
}
