/*  agent_settle.c - what becomes of a delivery: acks (single, multiple,
    batched), nacks and rejects, in-progress, lapsed leases, gets, the
    requeue of a session that went away, dead letters, and the count and
    log of what queues disposed of by their rules.
*/
#include "agent_internal.h"
#include "codec.h"
#include "codec_args.h"

#include <inttypes.h>

//  Dead letters routed per turn, so that a loop cannot starve the agent.
#define S_DEATHS_PER_TURN 10000

// --------------------------------------------------------------------
//  Acks, nacks, leases, gets

//  An entry settled out of its queue is acked: counted, remembered for
//  dedup, its ack stored or sent to its origin, and gone.
static void
s_acked (meshq_engine_t *self, meshq_queue_t *queue, meshq_entry_t *entry)
{
    self->acked++;
    meshq_engine_note_wait (self, entry, true);
    if (meshq_queue_args (queue)->dedup_window > 0)
        meshq_engine_dedup_note (
            queue, entry->remote ? entry->origin : self->node_id, entry->seq);
    meshq_engine_entry_done (self, entry);
}

void
meshq_engine_ack_sent (meshq_engine_t *self, meshq_entry_t *entry)
{
    meshq_queue_t *queue = entry->queue;
    //  The consumer's count stays up until its client gives it back
    //  (CREDIT): so the prefetch still bounds what is on its way.
    entry->consumer = NULL;
    meshq_queue_settle (queue, entry);
    s_acked (self, queue, entry);
}

void
meshq_engine_credit (meshq_engine_t *self, meshq_session_t *session,
                     const meshq_args_t *args)
{
    char tag[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (tag, args->tag);
    meshq_consumer_t *consumer = meshq_engine_session_consumer (session, tag);
    if (!consumer)
        return;  //  Cancelled while the credit was on its way.
    if (!consumer->no_ack) {
        //  Its acks give its credit back: more would break its prefetch.
        meshq_engine_bad_input (self,
                                "agent: CREDIT dropped reason=consumer '%s' "
                                "acks its deliveries",
                                tag);
        return;
    }
    uint64_t back =
        args->credit < consumer->unacked ? args->credit : consumer->unacked;
    consumer->unacked -= (uint32_t)back;
    meshq_engine_mark_dirty (self, consumer->queue);
}

void
meshq_engine_settle (meshq_engine_t *self, meshq_session_t *session,
                     const char *verb, const meshq_args_t *args)
{
    if (MESHQ_ARGS_HAS (args, DTAGS)) {
        //  A batch of tags (8 bytes each, little-endian): one at a time.
        if (args->dtags.size % 8) {
            meshq_engine_bad_input (self,
                                    "agent: %s dropped reason=dts of "
                                    "%u bytes",
                                    verb, args->dtags.size);
            return;
        }
        meshq_args_t one = *args;
        one.present &= ~MESHQ_ARG_BIT (MESHQ_A_DTAGS);
        one.present &= ~MESHQ_ARG_BIT (MESHQ_A_MULTIPLE);
        for (uint32_t i = 0; i < args->dtags.size; i += 8) {
            uint64_t tag = 0;
            for (int b = 7; b >= 0; b--)
                tag = (tag << 8) | (uint8_t)args->dtags.data[i + (uint32_t)b];
            one.dtag = tag;
            meshq_engine_settle (self, session, verb, &one);
        }
        return;
    }
    meshq_entry_t *last = meshq_map64_lookup (session->deliveries, args->dtag);
    if (!last && session->peer) {
        //  Requeued when the link went down, most often, and settled
        //  over the link that came back. The mesh has no ERROR: the peer
        //  could not read one.
        meshq_engine_bad_input (self,
                                "mesh: %s dropped peer=%s dtag=%" PRIu64
                                " reason=unknown delivery tag",
                                verb, session->user, args->dtag);
        return;
    }
    if (!last) {
        meshq_engine_reply_error (
            self, session, 0, MESHQ_EPRECONDITION,
            "unknown delivery tag %" PRIu64
            " (acked already, or its lease lapsed and it was redelivered)",
            args->dtag);
        return;
    }
    bool in_progress = streq (verb, "IN_PROGRESS");
    bool ack = streq (verb, "ACK");
    bool requeue = !MESHQ_ARGS_HAS (args, REQUEUE) || args->requeue;
    bool multiple = MESHQ_ARGS_HAS (args, MULTIPLE) && args->multiple;
    //  A peer's settlement says whether one of its consumers had the
    //  message: only then was it a delivery (docs/SEMANTICS.md).
    bool consumed = session->peer &&
                    !(MESHQ_ARGS_HAS (args, UNDELIVERED) && args->undelivered);
    if (in_progress) {
        meshq_queue_touch (last->queue, last, zclock_mono ());
        if (last->remote)
            meshq_engine_mesh_settled (self, last, "IN_PROGRESS", false);
        return;
    }
    meshq_entry_t *entry = multiple ? session->head : last;
    while (entry) {
        meshq_entry_t *next = multiple && entry != last ? entry->snext : NULL;
        meshq_queue_t *queue = entry->queue;
        meshq_engine_unsession (entry);
        meshq_queue_settle (queue, entry);
        if (consumed)
            entry->deliveries++;
        if (ack)
            s_acked (self, queue, entry);
        else if (requeue)
            meshq_engine_requeue (self, queue, entry);
        else
            meshq_engine_dispose (meshq_queue_host (queue), entry, "rejected");
        meshq_engine_mark_dirty (self, queue);
        entry = next;
    }
}

void
meshq_engine_get (meshq_engine_t *self, meshq_session_t *session,
                  const meshq_args_t *args)
{
    char name[MESHQ_MAX_SHORTSTR + 1];
    memcpy (name, args->queue.data ? args->queue.data : "", args->queue.size);
    name[args->queue.size] = 0;
    meshq_queue_t *queue = zhashx_lookup (session->vhost->queues, name);
    if (!queue) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_ENOTFOUND,
                                  "no queue '%s' in vhost '%s'", name,
                                  session->vhost->name);
        return;
    }
    //  An exclusive queue is its connection's, for GET as for CONSUME.
    void *owner = meshq_queue_owner (queue);
    if (owner && owner != meshq_session_owner (session)) {
        meshq_engine_reply_error (
            self, session, args->rid, MESHQ_EACCESS,
            "queue '%s' is exclusive to another connection", name);
        return;
    }
    if (!meshq_engine_allowed (self, session, MESHQ_PERM_READ, "queue", name,
                               args->rid))
        return;
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    MESHQ_ARGS_SET (&results, RID, rid, args->rid);
    meshq_entry_t *entry = meshq_queue_take (queue, zclock_time ());
    if (!entry) {
        MESHQ_ARGS_SET (&results, EMPTY, empty, true);
        meshq_engine_send (self, session, "OK", &results, NULL, 0);
        meshq_engine_arm_turn (self);
        return;
    }
    meshq_engine_ensession (session, entry);
    meshq_engine_delivery_args (self, entry, &results);
    int rc = meshq_engine_send (self, session, "OK", &results,
                                entry->blob->data, entry->blob->size);
    self->delivered++;
    if (entry->deliveries == 1)
        meshq_engine_note_wait (self, entry, false);
    //  One that could not be sent stays unacked, for the queue again.
    if (rc == 0 && MESHQ_ARGS_HAS (args, NO_ACK) && args->no_ack) {
        meshq_engine_unsession (entry);
        meshq_queue_settle (queue, entry);
        meshq_engine_entry_done (self, entry);
    }
    meshq_engine_arm_turn (self);
}

void
meshq_engine_requeue_session (meshq_engine_t *self, meshq_session_t *session)
{
    //  From the newest back, so that each lands in front of the older.
    meshq_entry_t *entry;
    while ((entry = session->tail)) {
        meshq_queue_t *queue = entry->queue;
        meshq_engine_unsession (entry);
        meshq_queue_settle (queue, entry);
        if (!meshq_engine_dedup_park (self, session, entry))
            meshq_engine_requeue (self, queue, entry);
        meshq_engine_mark_dirty (self, queue);
    }
}

void
meshq_engine_check_leases (meshq_engine_t *self, int64_t now)
{
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        meshq_queue_t *queue = zhashx_first (vhost->queues);
        for (; queue; queue = zhashx_next (vhost->queues)) {
            meshq_entry_t *entry;
            while ((entry = meshq_queue_lapsed (queue, now))) {
                zsys_warning ("agent: delivery lapsed queue=%s dtag=%" PRIu64
                              " ack_timeout_ms=%" PRId64,
                              meshq_queue_name (queue), entry->dtag,
                              meshq_queue_args (queue)->ack_timeout);
                //  Handed to an agent that is up and says nothing of
                //  it for the ack timeout: one of its consumers has it
                //  (an agent's own lease starts later), so it counts.
                meshq_session_t *holder = entry->session;
                if (holder && holder->peer)
                    entry->deliveries++;
                meshq_engine_unsession (entry);
                meshq_queue_settle (queue, entry);
                meshq_engine_requeue (self, queue, entry);
                meshq_engine_mark_dirty (self, queue);
            }
        }
    }
}

// --------------------------------------------------------------------
//  Dead letters

//  Republishes a dead entry to its queue's dead-letter exchange, with
//  the reason in x-death-* headers, as a new message.
static void
s_dead_letter (meshq_engine_t *self, meshq_entry_t *entry, const char *reason)
{
    meshq_queue_t *queue = entry->queue;
    meshq_vhost_t *vhost = meshq_queue_host (queue);
    const meshq_queue_args_t *args = meshq_queue_args (queue);
    meshq_msg_t *msg = NULL;
    if (meshq_msg_decode (entry->blob->data, entry->blob->size, SIZE_MAX, &msg,
                          NULL))
        return;
    const meshq_value_t *count = meshq_msg_header (msg, "x-death-count");
    int64_t deaths =
        count && count->type == MESHQ_VALUE_INT ? count->u.integer + 1 : 1;
    if (!meshq_msg_header (msg, "x-first-death-queue")) {
        meshq_msg_set_header_str (msg, "x-first-death-queue",
                                  meshq_queue_name (queue));
        meshq_msg_set_header_str (msg, "x-first-death-reason", reason);
        meshq_msg_set_header_str (
            msg, "x-first-death-exchange",
            meshq_msg_exchange (msg) ? meshq_msg_exchange (msg) : "");
    }
    meshq_msg_set_header_str (msg, "x-death-reason", reason);
    meshq_msg_set_header_str (msg, "x-death-queue", meshq_queue_name (queue));
    meshq_msg_set_header_int (msg, "x-death-count", deaths);
    meshq_msg_set_header_int (msg, "x-delivery-count", entry->deliveries);
    meshq_msg_set_exchange (msg, args->dlx[0] ? args->dlx : NULL);
    if (args->has_dlrk)
        meshq_msg_set_routing_key (msg, args->dlrk);
    //  The TTL that killed it must not kill it again where it goes.
    meshq_msg_set_expiration (msg, -1);
    uint8_t *data;
    size_t size;
    if (meshq_msg_encode (msg, &data, &size) == 0) {
        meshq_envelope_t envelope;
        if (meshq_codec_decode_envelope (data, size, SIZE_MAX, &envelope,
                                         NULL) == 0) {
            meshq_routes_t routes;
            //  A queue that dead-letters into itself would loop forever.
            meshq_routes_init (&routes, queue);
            if (meshq_engine_route (vhost, &envelope, &routes))
                zsys_warning ("agent: dead letter dropped queue=%s "
                              "reason=no exchange '%s'",
                              meshq_queue_name (queue), args->dlx);
            else if (meshq_engine_enqueue (vhost, &envelope, data, size,
                                           &routes, NULL))
                self->dead_lettered++;
            meshq_routes_fini (&routes);
        }
        free (data);
    }
    meshq_msg_destroy (&msg);
}

void
meshq_engine_route_dead_letters (meshq_engine_t *self)
{
    meshq_death_t *death;
    int routed = 0;
    while (routed++ < S_DEATHS_PER_TURN &&
           (death = zlistx_detach (self->dead_letters, NULL))) {
        s_dead_letter (self, death->entry, death->reason);
        meshq_engine_entry_done (self, death->entry);
        free (death);
    }
    if (zlistx_size (self->dead_letters))
        meshq_engine_arm_turn (self);
}

// --------------------------------------------------------------------
//  Disposals by rule: counted per queue and agent, logged

void
meshq_engine_note_disposed (meshq_engine_t *self, meshq_queue_t *queue,
                            meshq_disposal_t disposal, uint64_t count)
{
    if (!count)
        return;
    self->disposed[disposal] += count;
    meshq_queue_note_disposed (queue, disposal, count);
}

void
meshq_engine_report_disposed (meshq_queue_t *queue, int *budget)
{
    meshq_vhost_t *vhost = meshq_queue_host (queue);
    const meshq_queue_args_t *args = meshq_queue_args (queue);
    for (int d = 0; d<MESHQ_DISPOSED_COUNT && * budget> 0; d++) {
        uint64_t count = meshq_queue_disposed_since (queue, d);
        if (!count)
            continue;
        //  Dedup drops what was acked elsewhere; the rest go to the
        //  dead-letter exchange if the queue has one, else nowhere.
        bool dropped = d != MESHQ_DISPOSED_DEDUP && !args->has_dlx;
        const char *to = d == MESHQ_DISPOSED_DEDUP ? "acked"
                         : dropped                 ? "dropped"
                                                   : "dead-letter-exchange";
        char line[600];
        snprintf (line, sizeof line,
                  "agent: messages disposed vhost=%s queue=%s reason=%s "
                  "count=%" PRIu64 " total=%" PRIu64 " to=%s",
                  vhost->name, meshq_queue_name (queue),
                  meshq_disposal_name (d), count,
                  meshq_queue_disposed (queue, d), to);
        if (dropped)
            zsys_warning ("%s", line);
        else
            meshq_notice ("%s", line);
        meshq_queue_disposed_logged (queue, d);
        (*budget)--;
    }
}
