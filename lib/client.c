/*  client.c - the client: requests, publishing, deliveries. See
    meshq_client.h.

    One DEALER to the agent carries everything; docs/PROTOCOL.md
    (section 3) lists the frames. Requests wait for their OK or ERROR
    while other frames (deliveries, confirms) that arrive meanwhile are
    handled and queued. The heartbeat actor (client_heartbeat.c) keeps
    the session alive from its own thread.
*/
#include "client_heartbeat.h"
#include "client_internal.h"
#include "codec.h"
#include "codec_args.h"
#include "msg_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>

//  A consumer with a callback.
typedef struct {
    char tag[256];         //  Consumer tag.
    meshq_consume_fn *fn;  //  Callback, or NULL for recv.
    void *arg;             //  Its argument.
    bool no_ack;           //  The library acks on receipt.
} s_consumer_t;

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
    return self;
}

void
meshq_client_destroy (meshq_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    meshq_client_t *self = *self_p;
    if (self->connected && !self->lost) {
        meshq_client_flush_acks (self);
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

static s_consumer_t *
s_consumer (meshq_client_t *self, const char *tag, size_t size)
{
    s_consumer_t *consumer = zlistx_first (self->consumers);
    while (consumer) {
        if (strlen (consumer->tag) == size &&
            memcmp (consumer->tag, tag, size) == 0)
            return consumer;
        consumer = zlistx_next (self->consumers);
    }
    return NULL;
}

//  The delivery a DELIVER of one message or a GET answer describes:
//  its arguments, and the envelope in frame 3.
static void
s_item (const meshq_args_t *args, const void *envelope, size_t size,
        meshq_delivery_item_t *item)
{
    item->dtag = args->dtag;
    item->seq = args->seq;
    item->count = args->count;
    item->redelivered = args->redelivered;
    item->envelope.data = envelope;
    item->envelope.size = (uint32_t)size;
}

//  Builds a delivery: what args say of all the frame's deliveries (tag,
//  queue, origin) and what item says of this one.
static meshq_delivery_t *
s_delivery (meshq_client_t *self, const meshq_args_t *args,
            const meshq_delivery_item_t *item)
{
    meshq_msg_t *msg = NULL;
    const char *why = NULL;
    int rc = meshq_msg_decode (item->envelope.data, item->envelope.size,
                               SIZE_MAX, &msg, &why);
    if (rc) {
        meshq_client_set_error (self, "agent sent a malformed message: %s",
                                why);
        return NULL;
    }
    meshq_delivery_t *delivery = calloc (1, sizeof *delivery);
    assert (delivery);
    delivery->msg = msg;
    delivery->delivery_tag = item->dtag;
    meshq_client_copy_span (delivery->consumer_tag,
                            sizeof delivery->consumer_tag, args->tag);
    meshq_client_copy_span (delivery->queue, sizeof delivery->queue,
                            args->queue);
    delivery->redelivered = item->redelivered;
    delivery->delivery_count = (uint32_t)item->count;
    if (MESHQ_ARGS_HAS (args, ORIGIN))
        meshq_msg_set_id (msg, args->origin, item->seq);
    if (item->count > 1)
        meshq_msg_set_redelivery_count (msg, (uint32_t)item->count - 1);
    return delivery;
}

//  Takes one delivery of consumer (NULL if unknown): acks it at once
//  for a no-ack consumer (if ack, else the caller did), queues it for
//  recv or its callback.
static void
s_accept (meshq_client_t *self, s_consumer_t *consumer,
          const meshq_args_t *args, const meshq_delivery_item_t *item, bool ack)
{
    meshq_delivery_t *delivery = s_delivery (self, args, item);
    if (!delivery)
        return;
    if (ack && consumer && consumer->no_ack)
        meshq_client_ack (self, delivery->delivery_tag, false);
    zlistx_add_end (consumer && consumer->fn ? self->callbacks : self->ready,
                    delivery);
}

//  A DELIVER: one message, or a batch of them (docs/PROTOCOL.md 3.4).
void
meshq_client_deliver (meshq_client_t *self, const meshq_args_t *args,
                      const void *body, size_t size)
{
    s_consumer_t *consumer =
        s_consumer (self, args->tag.data ? args->tag.data : "", args->tag.size);
    meshq_delivery_item_t item;
    if (!MESHQ_ARGS_HAS (args, BATCH)) {
        s_item (args, body, size, &item);
        s_accept (self, consumer, args, &item, true);
        return;
    }
    //  The items first (at most MESHQ_CLIENT_MAX_BATCH, as HELLO said), then the
    //  messages: a no-ack consumer acks the whole batch in between, so
    //  that the agent sends the next one while this one is decoded.
    if (!self->items) {
        self->items = calloc (MESHQ_CLIENT_MAX_BATCH, sizeof *self->items);
        assert (self->items);
    }
    meshq_span_t cursor = {body, (uint32_t)size};
    uint64_t count = args->batch < MESHQ_CLIENT_MAX_BATCH
                         ? args->batch
                         : MESHQ_CLIENT_MAX_BATCH;
    for (uint64_t i = 0; i < count; i++) {
        const char *why = NULL;
        if (meshq_codec_decode_delivery (&cursor, MESHQ_CLIENT_MAX_FRAME,
                                         &self->items[i], &why)) {
            meshq_client_set_error (self, "agent sent a malformed delivery: %s",
                                    why);
            count = i;
            break;
        }
        if (consumer && consumer->no_ack)
            meshq_client_ack (self, self->items[i].dtag, false);
    }
    if (consumer && consumer->no_ack)
        meshq_client_flush_acks (self);
    for (uint64_t i = 0; i < count; i++)
        s_accept (self, consumer, args, &self->items[i], false);
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

int
meshq_client_consume_with (meshq_client_t *self, const char *queue,
                           uint32_t prefetch, const char *tag, int flags,
                           meshq_consume_fn *fn, void *arg)
{
    assert (self);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_CLIENT_SET_STR (&args, QUEUE, queue, queue);
    MESHQ_CLIENT_SET_STR (&args, TAG, tag, tag);
    MESHQ_ARGS_SET (&args, PREFETCH, prefetch, prefetch ? prefetch : 1);
    if (flags & MESHQ_EXCLUSIVE)
        MESHQ_ARGS_SET (&args, EXCLUSIVE, exclusive, true);
    //  Register first: deliveries may arrive before the OK does.
    s_consumer_t *consumer = calloc (1, sizeof *consumer);
    assert (consumer);
    consumer->fn = fn;
    consumer->arg = arg;
    consumer->no_ack = (flags & MESHQ_NO_ACK) != 0;
    if (tag)
        snprintf (consumer->tag, sizeof consumer->tag, "%s", tag);
    else {
        //  Choose the tag here, so that deliveries match it at once.
        zuuid_t *uuid = zuuid_new ();
        snprintf (consumer->tag, sizeof consumer->tag, "ctag-%s",
                  zuuid_str_canonical (uuid));
        zuuid_destroy (&uuid);
        MESHQ_ARGS_SET (&args, TAG, tag, meshq_span (consumer->tag));
    }
    void *handle = zlistx_add_end (self->consumers, consumer);
    int rc = meshq_client_request (self, "CONSUME", &args, NULL);
    if (rc)
        zlistx_delete (self->consumers, handle);
    else
        snprintf (self->consumer_tag, sizeof self->consumer_tag, "%s",
                  consumer->tag);
    return rc;
}

int
meshq_client_consume (meshq_client_t *self, const char *queue,
                      uint32_t prefetch, const char *tag, int flags)
{
    return meshq_client_consume_with (self, queue, prefetch, tag, flags, NULL,
                                      NULL);
}

const char *
meshq_client_consumer_tag (const meshq_client_t *self)
{
    assert (self);
    return self->consumer_tag;
}

int
meshq_client_cancel (meshq_client_t *self, const char *tag)
{
    assert (self);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_CLIENT_SET_STR (&args, TAG, tag, tag);
    int rc = meshq_client_request (self, "CANCEL", &args, NULL);
    s_consumer_t *consumer = tag ? s_consumer (self, tag, strlen (tag)) : NULL;
    if (rc == 0 && consumer) {
        void *handle = zlistx_find (self->consumers, consumer);
        zlistx_delete (self->consumers, handle);
    }
    return rc;
}

int
meshq_client_recv (meshq_client_t *self, int timeout_ms,
                   meshq_delivery_t **delivery_p)
{
    assert (self && delivery_p);
    *delivery_p = NULL;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : zclock_mono () + timeout_ms;
    while (zlistx_size (self->ready) == 0) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return MESHQ_ETIMEOUT;
        int rc = meshq_client_poll (
            self, left > INT32_MAX ? INT32_MAX : (int)left, 0, NULL);
        if (rc < 0)
            return rc;
    }
    *delivery_p = zlistx_detach (self->ready, NULL);
    return 0;
}

int
meshq_client_dispatch (meshq_client_t *self, int timeout_ms)
{
    assert (self);
    if (zlistx_size (self->callbacks) == 0) {
        int rc = meshq_client_poll (self, timeout_ms, 0, NULL);
        if (rc < 0)
            return rc;
    }
    int handled = 0;
    meshq_delivery_t *delivery;
    while ((delivery = zlistx_detach (self->callbacks, NULL))) {
        s_consumer_t *consumer = s_consumer (self, delivery->consumer_tag,
                                             strlen (delivery->consumer_tag));
        if (consumer && consumer->fn) {
            consumer->fn (self, delivery, consumer->arg);
            handled++;
        } else
            meshq_delivery_destroy (&delivery);
    }
    return handled;
}

int
meshq_client_get (meshq_client_t *self, const char *queue, bool no_ack,
                  meshq_delivery_t **delivery_p)
{
    assert (self && delivery_p);
    *delivery_p = NULL;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_CLIENT_SET_STR (&args, QUEUE, queue, queue);
    if (no_ack)
        MESHQ_ARGS_SET (&args, NO_ACK, no_ack, true);
    meshq_args_t results;
    int rc = meshq_client_request (self, "GET", &args, &results);
    if (rc || results.empty)
        return rc;
    zmsg_first (self->last_reply);
    zmsg_next (self->last_reply);
    zframe_t *body = zmsg_next (self->last_reply);
    if (!body) {
        meshq_client_set_error (self, "agent answered GET without a message");
        return MESHQ_EMALFORMED;
    }
    meshq_delivery_item_t item;
    s_item (&results, zframe_data (body), zframe_size (body), &item);
    *delivery_p = s_delivery (self, &results, &item);
    return *delivery_p ? 0 : MESHQ_EMALFORMED;
}

void
meshq_delivery_destroy (meshq_delivery_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    meshq_msg_destroy (&(*self_p)->msg);
    free (*self_p);
    *self_p = NULL;
}
