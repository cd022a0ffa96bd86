/*  client_ack.c - settling deliveries: ack, nack, reject, in progress.
    See meshq_client.h.

    The agent answers a settlement only if it fails, so settlements are
    sent and not waited for. Single acks are held back and go as one
    frame of up to MESHQ_CLIENT_ACK_BATCH tags: when the batch is full,
    before any other settlement or request, and before every wait for
    the agent, so that they stay in order and the agent never waits for
    acks the client holds.
*/
#include "client_internal.h"

//  Sends the acks held back: one frame for all of them.
int
meshq_client_flush_acks (meshq_client_t *self)
{
    if (!self->ack_count)
        return 0;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    uint8_t tags[MESHQ_CLIENT_ACK_BATCH * 8];
    if (self->ack_count == 1)
        MESHQ_ARGS_SET (&args, DTAG, dtag, self->acks[0]);
    else {
        for (size_t i = 0; i < self->ack_count; i++)
            for (int b = 0; b < 8; b++)
                tags[i * 8 + (size_t)b] = (uint8_t)(self->acks[i] >> (8 * b));
        meshq_span_t span = {(const char *)tags,
                             (uint32_t)(self->ack_count * 8)};
        MESHQ_ARGS_SET (&args, DTAGS, dtags, span);
    }
    self->ack_count = 0;
    return meshq_client_send (self, "ACK", &args, NULL, 0);
}

//  Sends an acknowledgement of some kind; the agent answers only errors.
static int
s_settle (meshq_client_t *self, const char *verb, uint64_t tag, bool multiple,
          int requeue)
{
    assert (self);
    if (!self->connected) {
        meshq_client_set_error (self, "not connected");
        return MESHQ_ESTATE;
    }
    //  Single acks wait for a batch (or for the next wait, request or
    //  other settlement): in order, and at most MESHQ_CLIENT_ACK_BATCH
    //  of them.
    if (streq (verb, "ACK") && !multiple) {
        self->acks[self->ack_count++] = tag;
        return self->ack_count == MESHQ_CLIENT_ACK_BATCH
                   ? meshq_client_flush_acks (self)
                   : 0;
    }
    int rc = meshq_client_flush_acks (self);
    if (rc)
        return rc;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, DTAG, dtag, tag);
    if (multiple)
        MESHQ_ARGS_SET (&args, MULTIPLE, multiple, true);
    if (requeue >= 0)
        MESHQ_ARGS_SET (&args, REQUEUE, requeue, requeue != 0);
    return meshq_client_send (self, verb, &args, NULL, 0);
}

int
meshq_client_ack (meshq_client_t *self, uint64_t tag, bool multiple)
{
    return s_settle (self, "ACK", tag, multiple, -1);
}

int
meshq_client_nack (meshq_client_t *self, uint64_t tag, bool multiple,
                   bool requeue)
{
    return s_settle (self, "NACK", tag, multiple, requeue);
}

int
meshq_client_reject (meshq_client_t *self, uint64_t tag, bool requeue)
{
    return s_settle (self, "NACK", tag, false, requeue);
}

int
meshq_client_in_progress (meshq_client_t *self, uint64_t tag)
{
    return s_settle (self, "IN_PROGRESS", tag, false, -1);
}
