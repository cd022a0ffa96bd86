/*  client_consume.c - consuming: consumers, deliveries, recv, dispatch
    and get. See meshq_client.h.

    A consumer is registered here before the agent confirms it, so that
    deliveries that arrive first find it. client_call.c receives each
    DELIVER frame (one message, or a batch of them with HELLO's 'nb')
    and hands it to meshq_client_deliver, which decodes the messages
    and queues them for recv or for their consumer's callback, which
    dispatch calls. A no-ack consumer's deliveries are acked by the
    agent as it sends them; their credit goes back as the application
    takes them.
*/
#include "cache.h"
#include "client_internal.h"
#include "codec_args.h"

//  A consumer with a callback.
typedef struct {
    char tag[256];         //  Consumer tag.
    meshq_consume_fn *fn;  //  Callback, or NULL for recv.
    void *arg;             //  Its argument.
    bool no_ack;           //  The agent acks as it sends; the library
                           //  gives the credit back as they are taken.
    uint32_t prefetch;     //  Its prefetch.
    uint32_t owed;         //  Deliveries taken, credit not yet given.
} s_consumer_t;

static s_consumer_t *
s_consumer (meshq_client_t *self, const char *tag, size_t size)
{
    //  Most clients have one consumer, or take many of one in a row.
    s_consumer_t *consumer = self->last_consumer;
    if (consumer && strlen (consumer->tag) == size &&
        memcmp (consumer->tag, tag, size) == 0)
        return consumer;
    consumer = zlistx_first (self->consumers);
    while (consumer) {
        if (strlen (consumer->tag) == size &&
            memcmp (consumer->tag, tag, size) == 0) {
            self->last_consumer = consumer;
            return consumer;
        }
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
    //  From the thread's cache, and not zeroed: every field is set here.
    size_t capacity;
    meshq_delivery_t *delivery =
        meshq_cache_alloc (sizeof *delivery, &capacity);
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

//  Gives a no-ack consumer's agent count deliveries' worth of credit
//  back: it acked them as it sent them, and its prefetch bounds only
//  what is on the way.
static void
s_credit (meshq_client_t *self, const s_consumer_t *consumer, uint64_t count)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, TAG, tag, meshq_span (consumer->tag));
    MESHQ_ARGS_SET (&args, CREDIT, credit, count);
    meshq_client_send (self, "CREDIT", &args, NULL, 0);
}

//  The application took a delivery (from recv, or handed to its
//  callback): a no-ack consumer's credit goes back once half its
//  prefetch is owed, and the rest before the client waits
//  (meshq_client_flush_credit).
//  Given back on receipt instead, it let the agent send on while the
//  application was behind, and the deliveries piled up in the client.
static void
s_taken (meshq_client_t *self, s_consumer_t *consumer)
{
    if (consumer && consumer->no_ack &&
        ++consumer->owed >= (consumer->prefetch + 1) / 2) {
        s_credit (self, consumer, consumer->owed);
        consumer->owed = 0;
    }
}

void
meshq_client_flush_credit (meshq_client_t *self)
{
    s_consumer_t *consumer = zlistx_first (self->consumers);
    for (; consumer; consumer = zlistx_next (self->consumers))
        if (consumer->owed) {
            s_credit (self, consumer, consumer->owed);
            consumer->owed = 0;
        }
}

//  Takes one delivery of consumer (NULL if unknown): queues it for recv
//  or its callback.
static void
s_accept (meshq_client_t *self, s_consumer_t *consumer,
          const meshq_args_t *args, const meshq_delivery_item_t *item)
{
    meshq_delivery_t *delivery = s_delivery (self, args, item);
    if (!delivery) {
        //  Unreadable: credit to give back all the same.
        if (consumer && consumer->no_ack)
            s_credit (self, consumer, 1);
        return;
    }
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
        s_accept (self, consumer, args, &item);
        return;
    }
    //  The items first (at most MESHQ_CLIENT_MAX_BATCH, as HELLO said),
    //  then the messages.
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
    }
    //  All the agent sent is credit to give back: what cannot be read, now.
    if (consumer && consumer->no_ack && args->batch > count)
        s_credit (self, consumer, args->batch - count);
    for (uint64_t i = 0; i < count; i++)
        s_accept (self, consumer, args, &self->items[i]);
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
    consumer->prefetch = prefetch ? prefetch : 1;
    //  The agent acks a no-ack consumer's deliveries as it sends them.
    if (consumer->no_ack)
        MESHQ_ARGS_SET (&args, NO_ACK, no_ack, true);
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
    if (rc) {
        if (self->last_consumer == consumer)
            self->last_consumer = NULL;
        zlistx_delete (self->consumers, handle);
    } else
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
        if (self->last_consumer == consumer)
            self->last_consumer = NULL;
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
    //  Publishes held back go now, even if a delivery is ready.
    int rc = meshq_client_flush_publishes (self);
    if (rc)
        return rc;
    //  The clock only when there is something to wait for.
    int64_t deadline = timeout_ms < 0 || zlistx_size (self->ready)
                           ? INT64_MAX
                           : zclock_mono () + timeout_ms;
    while (zlistx_size (self->ready) == 0) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return MESHQ_ETIMEOUT;
        rc = meshq_client_poll (self, left > INT32_MAX ? INT32_MAX : (int)left,
                                0, NULL);
        if (rc < 0)
            return rc;
    }
    meshq_delivery_t *delivery = zlistx_detach (self->ready, NULL);
    s_taken (self, s_consumer (self, delivery->consumer_tag,
                               strlen (delivery->consumer_tag)));
    *delivery_p = delivery;
    return 0;
}

int
meshq_client_dispatch (meshq_client_t *self, int timeout_ms)
{
    assert (self);
    //  Publishes held back go now, even if deliveries are waiting.
    int rc = meshq_client_flush_publishes (self);
    if (rc)
        return rc;
    if (zlistx_size (self->callbacks) == 0) {
        rc = meshq_client_poll (self, timeout_ms, 0, NULL);
        if (rc < 0)
            return rc;
    }
    int handled = 0;
    meshq_delivery_t *delivery;
    while ((delivery = zlistx_detach (self->callbacks, NULL))) {
        s_consumer_t *consumer = s_consumer (self, delivery->consumer_tag,
                                             strlen (delivery->consumer_tag));
        if (consumer && consumer->fn) {
            //  Taken as it is handed over: the callback may cancel.
            s_taken (self, consumer);
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
    meshq_cache_free (*self_p, meshq_cache_capacity (sizeof **self_p));
    *self_p = NULL;
}
