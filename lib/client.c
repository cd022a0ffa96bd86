/*  client.c - the client: its life cycle, settings and connecting. See
    meshq_client.h.

    One DEALER to the agent carries everything; docs/PROTOCOL.md
    (section 3) lists the frames. connect opens it, logs in (PLAIN on
    ipc:// and tcp://; inproc:// has no handshake, so HELLO carries the
    user and password too) and says HELLO. The heartbeat actor
    (client_heartbeat.c) then keeps the session alive from its own
    thread. client_internal.h says which file holds the rest.
*/
#include "client_heartbeat.h"
#include "client_internal.h"

#include <stdarg.h>

void
meshq_client_set_error (meshq_client_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
}

static void
s_consumer_free (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_delivery_free (void **item)
{
    meshq_delivery_destroy ((meshq_delivery_t **)item);
}

meshq_client_t *
meshq_client_new (void)
{
    //  Signals belong to the application: CZMQ's own SIGINT handler
    //  would make every later call of ours fail after one Ctrl-C.
    zsys_handler_set (NULL);
    meshq_client_t *self = calloc (1, sizeof *self);
    assert (self);
    self->timeout_ms = 10000;
    self->heartbeat_ms = 1000;
    self->user = strdup ("guest");
    self->password = strdup ("guest");
    self->vhost = strdup ("/");
    self->consumers = zlistx_new ();
    zlistx_set_destructor (self->consumers, s_consumer_free);
    self->ready = zlistx_new ();
    zlistx_set_destructor (self->ready, s_delivery_free);
    self->callbacks = zlistx_new ();
    zlistx_set_destructor (self->callbacks, s_delivery_free);
    meshq_buf_init (&self->args_buf);
    meshq_buf_init (&self->body_buf);
    meshq_buf_init (&self->publish_buf);
    meshq_buf_init (&self->frame_buf);
    return self;
}

void
meshq_client_destroy (meshq_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    meshq_client_t *self = *self_p;
    if (self->connected && !self->lost) {
        //  Goodbye if the agent takes it now; a gone agent does not.
        zsock_set_sndtimeo (self->dealer, 0);
        meshq_client_flush_acks (self);
        //  Publishes may still wait in libzmq's queue, which closing
        //  would drop after the linger: wait until the agent has read
        //  them (a round trip), as long as a request may take.
        meshq_client_sync (self, self->timeout_ms);
        meshq_args_t args;
        memset (&args, 0, sizeof args);
        meshq_client_send (self, "BYE", &args, NULL, 0);
    }
    zmsg_destroy (&self->last_reply);
    zactor_destroy (&self->heartbeat);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->dealer);
    zlistx_destroy (&self->consumers);
    zlistx_destroy (&self->ready);
    zlistx_destroy (&self->callbacks);
    meshq_buf_fini (&self->args_buf);
    meshq_buf_fini (&self->body_buf);
    meshq_buf_fini (&self->publish_buf);
    meshq_buf_fini (&self->frame_buf);
    free (self->items);
    free (self->endpoint);
    free (self->user);
    free (self->password);
    free (self->vhost);
    free (self);
    *self_p = NULL;
}

void
meshq_client_set_credentials (meshq_client_t *self, const char *user,
                              const char *password)
{
    assert (self);
    free (self->user);
    free (self->password);
    self->user = strdup (user ? user : "");
    self->password = strdup (password ? password : "");
}

void
meshq_client_set_vhost (meshq_client_t *self, const char *vhost)
{
    assert (self);
    free (self->vhost);
    self->vhost = strdup (vhost && *vhost ? vhost : "/");
}

void
meshq_client_set_timeout (meshq_client_t *self, int timeout_ms)
{
    assert (self);
    self->timeout_ms = timeout_ms;
    if (self->dealer)
        zsock_set_sndtimeo (self->dealer, timeout_ms);
}

void
meshq_client_set_heartbeat (meshq_client_t *self, int heartbeat_ms)
{
    assert (self);
    self->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : 1000;
}

const char *
meshq_client_error (const meshq_client_t *self)
{
    assert (self);
    return self->error;
}

int
meshq_client_connect (meshq_client_t *self, const char *endpoint)
{
    assert (self);
    if (self->dealer) {
        meshq_client_set_error (self, "already connected to %s",
                                self->endpoint);
        return MESHQ_ESTATE;
    }
    if (!endpoint)
        endpoint = getenv ("MESHQ_AGENT");
    if (!endpoint || !*endpoint)
        endpoint = MESHQ_DEFAULT_ENDPOINT;
    self->endpoint = strdup (endpoint);
    zuuid_t *uuid = zuuid_new ();
    memcpy (self->session, zuuid_data (uuid), 16);
    zuuid_destroy (&uuid);

    self->dealer = zsock_new (ZMQ_DEALER);
    assert (self->dealer);
    //  The session id is the routing id (binary: not zsock_set_identity,
    //  which takes a string).
    zmq_setsockopt (zsock_resolve (self->dealer), ZMQ_ROUTING_ID, self->session,
                    16);
    zsock_set_linger (self->dealer, 1000);
    //  A send to an agent that is gone (its queue full, or an inproc://
    //  agent stopped) fails after the request timeout, not never.
    zsock_set_sndtimeo (self->dealer, self->timeout_ms);
    zsock_set_maxmsgsize (self->dealer, MESHQ_CLIENT_MAX_FRAME);
    zsock_set_rcvhwm (self->dealer, 100000);
    zsock_set_sndhwm (self->dealer, 100000);
    //  ipc:// and tcp:// agents check user and password with PLAIN
    //  before the connection is up; inproc:// has no handshake, so HELLO
    //  carries them too.
    zsock_set_plain_username (self->dealer, self->user);
    zsock_set_plain_password (self->dealer, self->password);
    //  A refused login closes the connection without a word; the socket
    //  monitor tells, so that connect can say so at once. It listens
    //  before the connection starts, or a quick refusal goes unheard.
    self->monitor = zactor_new (zmonitor, self->dealer);
    zstr_sendx (self->monitor, "LISTEN", "HANDSHAKE_FAILED_AUTH", NULL);
    zstr_send (self->monitor, "START");
    zsock_wait (self->monitor);
    if (zsock_connect (self->dealer, "%s", endpoint)) {
        meshq_client_set_error (self, "cannot connect to '%s': %s", endpoint,
                                zmq_strerror (zmq_errno ()));
        zactor_destroy (&self->monitor);
        zsock_destroy (&self->dealer);
        return MESHQ_EINVAL;
    }
    self->poller = zpoller_new (self->dealer, NULL);
    zpoller_add (self->poller, self->monitor);

    meshq_args_t args;
    memset (&args, 0, sizeof args);
    memcpy (args.session, self->session, 16);
    MESHQ_ARGS_MARK (&args, SESSION);
    MESHQ_ARGS_SET (&args, HEARTBEAT, heartbeat, (uint64_t)self->heartbeat_ms);
    MESHQ_ARGS_SET (&args, USER, user, meshq_span (self->user));
    MESHQ_ARGS_SET (&args, PASSWORD, password, meshq_span (self->password));
    MESHQ_ARGS_SET (&args, VHOST, vhost, meshq_span (self->vhost));
    //  Deliveries may come several to a frame.
    MESHQ_ARGS_SET (&args, BATCH, batch, MESHQ_CLIENT_MAX_BATCH);
    meshq_args_t results;
    int rc = meshq_client_request (self, "HELLO", &args, &results);
    if (rc == MESHQ_ETIMEOUT) {
        meshq_client_set_error (
            self,
            "no agent answers at %s (is meshq-agent running? "
            "set --agent or MESHQ_AGENT)",
            endpoint);
        rc = MESHQ_ECONNLOST;
    }
    zpoller_remove (self->poller, self->monitor);
    zactor_destroy (&self->monitor);
    if (rc) {
        zpoller_destroy (&self->poller);
        zsock_destroy (&self->dealer);
        return rc;
    }
    self->max_message = MESHQ_ARGS_HAS (&results, MAX_MESSAGE)
                            ? (size_t)results.max_message
                            : MESHQ_MAX_BODY_DEFAULT;
    //  An agent that takes several publishes in one frame says how many.
    self->publish_max =
        MESHQ_ARGS_HAS (&results, BATCH) && results.batch > 1
            ? (uint32_t)(results.batch < MESHQ_CLIENT_PUBLISH_BATCH
                             ? results.batch
                             : MESHQ_CLIENT_PUBLISH_BATCH)
            : 0;
    //  An agent that takes a command as one frame says so.
    self->one_frame = MESHQ_ARGS_HAS (&results, ONE_FRAME) && results.one_frame;
    self->connected = true;

    meshq_heartbeat_args_t heartbeat = {.endpoint = endpoint,
                                        .user = self->user,
                                        .password = self->password,
                                        .interval_ms = self->heartbeat_ms};
    memcpy (heartbeat.session, self->session, 16);
    self->heartbeat = zactor_new (meshq_client_heartbeat, &heartbeat);
    zpoller_add (self->poller, self->heartbeat);
    return 0;
}
