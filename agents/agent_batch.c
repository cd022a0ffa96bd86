/*  agent_batch.c - deliveries sent several to a frame, and publishes
    received several to a frame.

    Dispatch at the end of a turn may give a consumer many messages. A
    session that said in HELLO that it takes batches ('nb') gets them as
    one DELIVER frame per consumer (docs/PROTOCOL.md, 3.4) instead of one
    each: one frame for libzmq to allocate, queue and wake the client
    for, and the arguments common to all (tag, queue, origin) once; messages
    of another origin start another batch. The
    envelopes are copied in byte for byte. A batch goes out when it is
    full or when the turn's dispatch ends (meshq_engine_batch_flush), so
    it never waits longer than the dispatch that made it.

    A client may likewise send several publishes in one PUBLISH frame
    (its 'nb' and items); each is handled as a PUBLISH of its own, with
    the sequence numbers that follow the frame's 'seq'.
*/
#include "agent_internal.h"
#include "codec_args.h"

#include <inttypes.h>

//  Consumers with a batch open at once; one more sends them all.
#define S_OPEN 64

//  Bytes of items in one frame, at most (one larger delivery goes
//  alone); also the capacity a batch buffer keeps between turns.
#define S_BYTES (256 * 1024)

//  Deliveries to one consumer, waiting to go out in one frame.
struct _meshq_batch_t {
    meshq_consumer_t *consumer;  //  Whose deliveries.
    meshq_session_t *session;    //  Its session.
    uint32_t count;              //  Deliveries in items.
    meshq_buf_t items;           //  Their encoded items.
    uint8_t origin[16];          //  The agent the messages are from.
    meshq_entry_t **no_acks;     //  Its no-ack deliveries, acked once sent.
    uint32_t no_ack_count;       //  How many.
    uint32_t no_ack_capacity;    //  Room in no_acks.
};

void
meshq_engine_batch_init (meshq_engine_t *self)
{
    self->batches = calloc (S_OPEN, sizeof *self->batches);
    assert (self->batches);
    for (int i = 0; i < S_OPEN; i++)
        meshq_buf_init (&self->batches[i].items);
    self->batch_count = 0;
}

void
meshq_engine_batch_fini (meshq_engine_t *self)
{
    if (!self->batches)
        return;
    for (int i = 0; i < S_OPEN; i++) {
        meshq_buf_fini (&self->batches[i].items);
        free (self->batches[i].no_acks);
    }
    free (self->batches);
    self->batches = NULL;
}

//  Sends a batch and empties it.
static void
s_send (meshq_engine_t *self, meshq_batch_t *batch)
{
    meshq_consumer_t *consumer = batch->consumer;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue,
                    meshq_span (meshq_queue_name (consumer->queue)));
    MESHQ_ARGS_SET (&args, TAG, tag, meshq_span (consumer->tag));
    memcpy (args.origin, batch->origin, 16);
    MESHQ_ARGS_MARK (&args, ORIGIN);
    MESHQ_ARGS_SET (&args, BATCH, batch, batch->count);
    int rc = meshq_engine_send (self, batch->session, "DELIVER", &args,
                                batch->items.data, batch->items.size);
    //  A no-ack delivery is settled only once it went out: one that
    //  could not is kept for its queue, never lost.
    for (uint32_t i = 0; i < batch->no_ack_count; i++)
        meshq_engine_sent_no_ack (self, batch->session, batch->no_acks[i],
                                  rc == 0);
    batch->no_ack_count = 0;
    batch->count = 0;
    if (batch->items.capacity > S_BYTES)
        meshq_buf_fini (&batch->items);
    else
        meshq_buf_reset (&batch->items);
}

//  Sends open batch number index and closes it.
static void
s_close (meshq_engine_t *self, int index)
{
    meshq_batch_t *batch = &self->batches[index];
    s_send (self, batch);
    //  Keep the open ones first: swap the last open one in, buffers too.
    int last = --self->batch_count;
    if (index != last) {
        meshq_batch_t swap = self->batches[index];
        self->batches[index] = self->batches[last];
        self->batches[last] = swap;
    }
}

void
meshq_engine_batch_add (meshq_engine_t *self, meshq_session_t *session,
                        meshq_consumer_t *consumer, meshq_entry_t *entry,
                        bool no_ack)
{
    int index = self->batch_count - 1;
    while (index >= 0 && self->batches[index].consumer != consumer)
        index--;
    if (index < 0) {
        if (self->batch_count == S_OPEN)
            meshq_engine_batch_flush (self);
        index = self->batch_count++;
        self->batches[index].consumer = consumer;
        self->batches[index].session = session;
    }
    meshq_batch_t *batch = &self->batches[index];
    //  One origin a batch: a message from another agent starts another.
    const uint8_t *origin = entry->remote ? entry->origin : self->node_id;
    if (batch->count && memcmp (batch->origin, origin, 16) != 0)
        s_send (self, batch);
    memcpy (batch->origin, origin, 16);
    meshq_delivery_item_t item = {
        .dtag = entry->dtag,
        .seq = entry->seq,
        .count = meshq_entry_count (entry),
        .redelivered = entry->redelivered,
        .envelope = {(const char *)entry->blob->data, entry->blob->size}};
    if (batch->count && batch->items.size + entry->blob->size > S_BYTES) {
        //  Too big to join: what is there goes first.
        s_send (self, batch);
    }
    int rc = meshq_codec_encode_delivery (&item, &batch->items);
    assert (rc == 0);
    if (no_ack) {
        if (batch->no_ack_count == batch->no_ack_capacity) {
            batch->no_ack_capacity =
                batch->no_ack_capacity ? 2 * batch->no_ack_capacity : 64;
            batch->no_acks =
                realloc (batch->no_acks,
                         batch->no_ack_capacity * sizeof *batch->no_acks);
            assert (batch->no_acks);
        }
        batch->no_acks[batch->no_ack_count++] = entry;
    }
    batch->count++;
    if (batch->count >= session->batch || batch->items.size >= S_BYTES)
        s_close (self, index);
}

void
meshq_engine_batch_flush (meshq_engine_t *self)
{
    while (self->batch_count)
        s_close (self, self->batch_count - 1);
    meshq_engine_trace_sent (self);
}

// --------------------------------------------------------------------
//  Publishes received several to a frame

void
meshq_engine_publish_batch (meshq_engine_t *self, meshq_session_t *session,
                            const meshq_args_t *args, const void *data,
                            size_t size)
{
    //  Check, then trust: an item takes 4 bytes at least (array, bool,
    //  bin header), so a count the frame cannot hold is refused whole.
    if (args->batch == 0 || args->batch > MESHQ_ENGINE_PUBLISH_BATCH ||
        args->batch > size / 4) {
        meshq_engine_bad_input (
            self, "agent: publish dropped user=%s nb=%" PRIu64 " bytes=%zu",
            session->user, args->batch, size);
        meshq_engine_reply_error (
            self, session, 0, MESHQ_EMALFORMED,
            "PUBLISH of %" PRIu64 " messages in %zu bytes (1..%d)", args->batch,
            size, MESHQ_ENGINE_PUBLISH_BATCH);
        //  Each sequence number of a count we take is refused too: a
        //  later CONFIRM would otherwise count them as confirmed.
        if (MESHQ_ARGS_HAS (args, SEQ) &&
            args->batch <= MESHQ_ENGINE_PUBLISH_BATCH) {
            meshq_args_t one;
            memset (&one, 0, sizeof one);
            for (uint64_t i = 0; i < args->batch; i++) {
                MESHQ_ARGS_SET (&one, SEQ, seq, args->seq + i);
                meshq_engine_refuse_publish (self, session, &one,
                                             MESHQ_EMALFORMED,
                                             "publish frame too short");
            }
        }
        return;
    }
    meshq_span_t cursor = {data, (uint32_t)size};
    meshq_args_t one;
    memset (&one, 0, sizeof one);
    const char *why = NULL;
    bool broken = false;
    for (uint64_t i = 0; i < args->batch; i++) {
        one.present = 0;
        if (MESHQ_ARGS_HAS (args, SEQ))
            MESHQ_ARGS_SET (&one, SEQ, seq, args->seq + i);
        meshq_publish_item_t item;
        if (!broken &&
            meshq_codec_decode_publish (&cursor, UINT32_MAX, &item, &why)) {
            broken = true;
            meshq_engine_bad_input (
                self,
                "agent: publish refused user=%s item=%" PRIu64 " reason=%s",
                session->user, i, why);
        }
        if (broken) {
            //  The rest of the frame cannot be read: each of its
            //  publishes is refused, as it would be alone.
            meshq_engine_refuse_publish (self, session, &one, MESHQ_EMALFORMED,
                                         why);
            continue;
        }
        if (item.mandatory)
            MESHQ_ARGS_SET (&one, MANDATORY, mandatory, true);
        meshq_engine_publish (self, session, &one, item.envelope.data,
                              item.envelope.size);
    }
    if (!broken && cursor.size)
        meshq_engine_bad_input (self,
                                "agent: publish frame has %u bytes after "
                                "its %" PRIu64 " items user=%s",
                                cursor.size, args->batch, session->user);
}
