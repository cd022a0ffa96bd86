/*  client_publish.c - publishing: messages, confirms, pressure and
    returns. See meshq_client.h.

    A publish is sent and not waited for. With confirms on, each carries
    a sequence number and the agent answers CONFIRM up to one, or NACK;
    publish keeps at most 'window' of them unanswered, and
    wait_for_confirms waits for all. Under memory or disk pressure the
    agent says BLOCKED and refuses publishes until UNBLOCKED; a client
    may choose to wait. client_call.c receives those frames, and RETURN
    for a mandatory message no queue took.

    A publish with MESHQ_MORE may be held back, to go with the next ones
    in one batched PUBLISH frame (docs/PROTOCOL.md, 3.4): one frame for
    libzmq and the agent instead of one a message. They go when a
    publish comes without MESHQ_MORE, at MESHQ_CLIENT_PUBLISH_BATCH
    messages or MESHQ_CLIENT_PUBLISH_BYTES, on publish_flush, and before
    anything else the client sends or waits for (client_call.c), so none
    waits while the application does something else with the client.
*/
#include "client_internal.h"
#include "msg_internal.h"

#include <inttypes.h>

int
meshq_client_set_confirms (meshq_client_t *self, uint32_t window)
{
    assert (self);
    //  Those held back were sent without sequence numbers.
    int rc = meshq_client_flush_publishes (self);
    if (rc)
        return rc;
    self->confirms = true;
    self->window = window ? window : 1000;
    return 0;
}

int
meshq_client_publish (meshq_client_t *self, const meshq_msg_t *msg, int flags)
{
    assert (self);
    if (!self->connected) {
        meshq_client_set_error (
            self, "not connected: call meshq_client_connect first");
        return MESHQ_ESTATE;
    }
    //  Keep the window: wait while too many publishes are unanswered.
    while (self->confirms &&
           self->published - self->confirmed >= self->window) {
        int rc = meshq_client_poll (self, self->timeout_ms, 0, NULL);
        if (rc < 0)
            return rc;
        if (self->published - self->confirmed >= self->window && rc == 0 &&
            self->lost) {
            return MESHQ_ECONNLOST;
        }
    }
    //  The agent asks publishers to wait while a queue of theirs is far
    //  behind its consumers (PAUSE until RESUME). Frames are read here
    //  only now and then: a publisher with no window to keep may never
    //  wait for anything else. It waits up to its timeout each time, then
    //  publishes anyway: the agent's max_memory is the hard limit.
    if (++self->since_drained >= MESHQ_CLIENT_FLOW_CHECK || self->paused) {
        self->since_drained = 0;
        meshq_client_drain (self);
        int64_t until = zclock_mono () + self->timeout_ms;
        while (self->paused && !self->lost) {
            int64_t left = until - zclock_mono ();
            if (left <= 0)
                break;
            int rc = meshq_client_poll (self, (int)left, 0, NULL);
            if (rc < 0)
                return rc;
        }
    }
    //  Under pressure the agent refuses publishes; a client that chose
    //  to block waits for it to have room again.
    int64_t deadline =
        self->blocked ? zclock_mono () + self->timeout_ms : INT64_MAX;
    while (self->blocked && self->block_on_pressure) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0) {
            meshq_client_set_error (
                self, "the agent refused publishes for %d ms (%s)",
                self->timeout_ms, "memory or disk full");
            return MESHQ_ETIMEOUT;
        }
        int rc = meshq_client_poll (self, (int)left, 0, NULL);
        if (rc < 0)
            return rc;
    }
    meshq_buf_reset (&self->body_buf);
    int rc = meshq_msg_encode_into (msg, &self->body_buf);
    if (rc)
        return rc;
    size_t body;
    meshq_msg_body (msg, &body);
    if (body > self->max_message) {
        meshq_client_set_error (
            self,
            "message body of %zu bytes is above the agent's "
            "maximum of %zu",
            body, self->max_message);
        return MESHQ_EMSGSIZE;
    }
    bool more = (flags & MESHQ_MORE) && self->publish_max > 1;
    if (!more && !self->publish_count) {
        //  Alone: the single form.
        meshq_args_t args;
        memset (&args, 0, sizeof args);
        if (self->confirms)
            MESHQ_ARGS_SET (&args, SEQ, seq, self->published + 1);
        if (flags & MESHQ_MANDATORY)
            MESHQ_ARGS_SET (&args, MANDATORY, mandatory, true);
        rc = meshq_client_sync_before (self);
        if (rc == 0)
            rc = meshq_client_send (self, "PUBLISH", &args, self->body_buf.data,
                                    self->body_buf.size);
        if (rc)
            return rc;
        if (self->confirms)
            self->published++;
        self->unsynced += self->body_buf.size;
        return 0;
    }
    //  With those held back, in one frame of a bounded size.
    if (self->publish_count && self->publish_buf.size + self->body_buf.size >
                                   MESHQ_CLIENT_PUBLISH_BYTES) {
        rc = meshq_client_flush_publishes (self);
        if (rc)
            return rc;
    }
    meshq_publish_item_t item = {.mandatory = (flags & MESHQ_MANDATORY) != 0,
                                 .envelope = {(const char *)self->body_buf.data,
                                              (uint32_t)self->body_buf.size}};
    rc = meshq_codec_encode_publish (&item, &self->publish_buf);
    if (rc)
        return rc;
    if (self->publish_count++ == 0)
        self->publish_seq = self->published + 1;
    if (self->confirms)
        self->published++;
    if (!more || self->publish_count >= self->publish_max ||
        self->publish_buf.size >= MESHQ_CLIENT_PUBLISH_BYTES)
        return meshq_client_flush_publishes (self);
    return 0;
}

int
meshq_client_flush_publishes (meshq_client_t *self)
{
    if (!self->publish_count)
        return 0;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    if (self->confirms)
        MESHQ_ARGS_SET (&args, SEQ, seq, self->publish_seq);
    MESHQ_ARGS_SET (&args, BATCH, batch, self->publish_count);
    uint32_t count = self->publish_count;
    //  None held back any more, for what the SYNC's wait sends.
    self->publish_count = 0;
    int rc = meshq_client_sync_before (self);
    if (rc == 0)
        rc = meshq_client_send (self, "PUBLISH", &args, self->publish_buf.data,
                                self->publish_buf.size);
    if (rc == 0)
        self->unsynced += self->publish_buf.size;
    //  A large message made it grow: do not keep that much.
    if (self->publish_buf.capacity > 2 * MESHQ_CLIENT_PUBLISH_BYTES)
        meshq_buf_fini (&self->publish_buf);
    else
        meshq_buf_reset (&self->publish_buf);
    if (rc && self->confirms)
        self->published -= count;
    return rc;
}

//  Sends a SYNC; its answer says that the agent has handled every frame
//  sent before it.
static int
s_sync_send (meshq_client_t *self)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, ++self->next_rid);
    int rc = meshq_client_send (self, "SYNC", &args, NULL, 0);
    if (rc == 0) {
        self->sync_rid = args.rid;
        self->unsynced = 0;
    }
    return rc;
}

//  Waits up to timeout_ms for the answer to the SYNC sent last.
static int
s_sync_wait (meshq_client_t *self, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (self->sync_rid) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0) {
            meshq_client_set_error (
                self, "the agent at %s did not read our publishes within %d ms",
                self->endpoint, timeout_ms);
            return MESHQ_ETIMEOUT;
        }
        int rc = meshq_client_poll (self, (int)left, 0, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int
meshq_client_sync_before (meshq_client_t *self)
{
    //  Without this bound, what the agent has not read yet waits in
    //  libzmq's queues, up to client_hwm frames on the agent's side: a
    //  batched publisher that outran the agent's loop put 140 MB there.
    //  Checked before a publish is sent, so that a failed wait sends
    //  nothing.
    if (self->unsynced < MESHQ_CLIENT_SYNC_BYTES)
        return 0;
    int rc = s_sync_wait (self, self->timeout_ms);
    return rc ? rc : s_sync_send (self);
}

int
meshq_client_sync (meshq_client_t *self, int timeout_ms)
{
    int rc = meshq_client_flush_publishes (self);
    if (rc == 0 && self->unsynced)
        rc = s_sync_send (self);
    return rc ? rc : s_sync_wait (self, timeout_ms);
}

int
meshq_client_publish_flush (meshq_client_t *self)
{
    assert (self);
    return meshq_client_flush_publishes (self);
}

int
meshq_client_publish_body (meshq_client_t *self, const char *exchange,
                           const char *routing_key, const void *body,
                           size_t size)
{
    meshq_msg_t *msg = meshq_msg_new ();
    int rc =
        meshq_msg_set_exchange (msg, exchange && *exchange ? exchange : NULL);
    if (rc == 0)
        rc = meshq_msg_set_routing_key (msg, routing_key);
    if (rc == 0)
        rc = meshq_msg_set_body (msg, body, size);
    if (rc == 0)
        rc = meshq_client_publish (self, msg, 0);
    meshq_msg_destroy (&msg);
    return rc;
}

int
meshq_client_wait_for_confirms (meshq_client_t *self, int timeout_ms)
{
    assert (self);
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : zclock_mono () + timeout_ms;
    while (self->confirmed < self->published) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0) {
            meshq_client_set_error (
                self,
                "%" PRIu64 " publishes not confirmed within "
                "%d ms",
                self->published - self->confirmed, timeout_ms);
            return MESHQ_ETIMEOUT;
        }
        int rc = meshq_client_poll (
            self, left > INT32_MAX ? INT32_MAX : (int)left, 0, NULL);
        if (rc < 0)
            return rc;
    }
    int rc = self->nack_code;
    self->nack_code = 0;
    return rc;
}

void
meshq_client_set_block_on_pressure (meshq_client_t *self, bool block)
{
    assert (self);
    self->block_on_pressure = block;
}

bool
meshq_client_blocked (const meshq_client_t *self)
{
    assert (self);
    return self->blocked;
}

void
meshq_client_set_return_handler (meshq_client_t *self, meshq_return_fn *fn,
                                 void *arg)
{
    assert (self);
    self->return_fn = fn;
    self->return_arg = arg;
}
