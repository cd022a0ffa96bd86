/*  agent_messages.c - the message path of the agent: publish, routing,
    confirms and delivery. What becomes of a delivery (acks, nacks,
    leases, dead letters) is agent_settle.c; recovery of the messages in
    the store, agent_recover.c.

    A publish is decoded only as far as routing needs (the envelope view,
    no copy), stored as the bytes the publisher sent, one record per
    queue it reached, and confirmed once every record is durable. The
    same bytes go out in each delivery.
*/
#include "agent_internal.h"
#include "codec.h"
#include "codec_args.h"

#include <inttypes.h>

static bool
s_persistent (const meshq_envelope_t *envelope)
{
    return envelope->delivery_mode == MESHQ_PERSISTENT;
}

//  Frees an entry that left for good: its store record is acked.
void
meshq_engine_entry_done (meshq_engine_t *self, meshq_entry_t *entry)
{
    meshq_vhost_t *vhost = meshq_queue_host (entry->queue);
    if (entry->remote)
        //  Its origin holds it: the ack goes there.
        meshq_engine_mesh_settled (self, entry, "ACK", false);
    else if (entry->stored && vhost->store) {
        uint64_t ticket;
        int rc = meshq_store_ack (vhost->store, meshq_queue_name (entry->queue),
                                  self->node_id, entry->seq, MESHQ_SYNC_NONE,
                                  &ticket);
        if (rc)
            zsys_error ("agent: cannot store ack queue=%s: %s",
                        meshq_queue_name (entry->queue),
                        meshq_store_why (vhost->store));
        meshq_engine_arm_turn (self);
    }
    meshq_blob_unref (&entry->blob);
    meshq_engine_entry_free (self, entry);
}

//  Removes a delivered entry from its session's books.
void
meshq_engine_unsession (meshq_entry_t *entry)
{
    meshq_session_t *session = entry->session;
    if (!session)
        return;
    meshq_map64_delete (session->deliveries, entry->dtag);
    if (entry->sprev)
        entry->sprev->snext = entry->snext;
    else
        session->head = entry->snext;
    if (entry->snext)
        entry->snext->sprev = entry->sprev;
    else
        session->tail = entry->sprev;
    entry->sprev = entry->snext = NULL;
    entry->session = NULL;
}

//  Puts a settled delivery back: in front of its queue, or, if another
//  agent sent it, back to that agent.
void
meshq_engine_requeue (meshq_engine_t *self, meshq_queue_t *queue,
                      meshq_entry_t *entry)
{
    if (entry->remote) {
        meshq_engine_mesh_settled (self, entry, "NACK", true);
        meshq_blob_unref (&entry->blob);
        meshq_engine_entry_free (self, entry);
    } else
        meshq_queue_requeue (queue, entry);
}

//  Gives a delivered entry to a session: a delivery tag, its books.
void
meshq_engine_ensession (meshq_session_t *session, meshq_entry_t *entry)
{
    entry->dtag = ++session->next_dtag;
    entry->session = session;
    meshq_map64_insert (session->deliveries, entry->dtag, entry);
    entry->snext = NULL;
    entry->sprev = session->tail;
    if (session->tail)
        session->tail->snext = entry;
    else
        session->head = entry;
    session->tail = entry;
}

void
meshq_engine_delivery_args (meshq_engine_t *self, const meshq_entry_t *entry,
                            meshq_args_t *args)
{
    MESHQ_ARGS_SET (args, DTAG, dtag, entry->dtag);
    if (entry->redelivered)
        MESHQ_ARGS_SET (args, REDELIVERED, redelivered, true);
    MESHQ_ARGS_SET (args, DELIVERIES, count, meshq_entry_count (entry));
    memcpy (args->origin, entry->remote ? entry->origin : self->node_id, 16);
    MESHQ_ARGS_MARK (args, ORIGIN);
    MESHQ_ARGS_SET (args, SEQ, seq, entry->seq);
    MESHQ_ARGS_SET (args, QUEUE, queue,
                    meshq_span (meshq_queue_name (entry->queue)));
}

static void
s_deliver (void *host, meshq_consumer_t *consumer, meshq_entry_t *entry)
{
    meshq_engine_t *self = ((meshq_vhost_t *)host)->engine;
    meshq_session_t *session = consumer->session;
    const uint8_t *origin = entry->remote ? entry->origin : self->node_id;
    if (!session->peer && meshq_queue_args (entry->queue)->dedup_window > 0 &&
        meshq_engine_dedup_seen (entry->queue, origin, entry->seq)) {
        //  Acked here within the dedup window: a duplicate after some
        //  failure. It is settled as acked again, not delivered.
        meshq_queue_settle (entry->queue, entry);
        meshq_engine_note_disposed (self, entry->queue, MESHQ_DISPOSED_DEDUP,
                                    1);
        meshq_engine_entry_done (self, entry);
        self->duplicates++;
        return;
    }
    //  A no-ack consumer's delivery is acked as it goes: it needs a tag,
    //  not a place in the session's books.
    meshq_engine_trace_dispatched (self, entry);
    bool no_ack = consumer->no_ack && !session->peer;
    if (no_ack)
        entry->dtag = ++session->next_dtag;
    else
        meshq_engine_ensession (session, entry);
    self->delivered++;
    if (entry->deliveries == 1)
        meshq_engine_note_wait (self, entry, false);
    if (session->batch > 1) {
        //  A no-ack delivery is acked when its batch goes out.
        meshq_engine_batch_add (self, session, consumer, entry, no_ack);
        return;
    }
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, TAG, tag, meshq_span (consumer->tag));
    meshq_engine_delivery_args (self, entry, &args);
    int rc = meshq_engine_send (self, session, "DELIVER", &args,
                                entry->blob->data, entry->blob->size);
    meshq_engine_trace_sent (self);
    if (no_ack)
        meshq_engine_sent_no_ack (self, session, entry, rc == 0);
}

void
meshq_engine_sent_no_ack (meshq_engine_t *self, meshq_session_t *session,
                          meshq_entry_t *entry, bool sent)
{
    if (sent)
        meshq_engine_ack_sent (self, entry);
    else
        //  Not sent (its client does not read, or is gone): kept in the
        //  session's books, it goes back to its queue when the session
        //  ends, as an unacked delivery does. Its consumer's count stays
        //  up, so dispatch gives that consumer nothing more meanwhile.
        meshq_engine_ensession (session, entry);
}

void
meshq_engine_dispose (void *host, meshq_entry_t *entry, const char *reason)
{
    meshq_engine_t *self = ((meshq_vhost_t *)host)->engine;
    meshq_engine_unsession (entry);
    if (entry->remote) {
        //  Its origin dead-letters it, as its own queue says.
        meshq_engine_mesh_settled (self, entry, "NACK", false);
        meshq_blob_unref (&entry->blob);
        meshq_engine_entry_free (self, entry);
        return;
    }
    meshq_disposal_t disposal = meshq_disposal_find (reason);
    if (disposal < MESHQ_DISPOSED_COUNT)
        meshq_engine_note_disposed (self, entry->queue, disposal, 1);
    if (reason && meshq_queue_args (entry->queue)->has_dlx) {
        meshq_death_t *death = malloc (sizeof *death);
        assert (death);
        death->entry = entry;
        death->reason = reason;
        zlistx_add_end (self->dead_letters, death);
        meshq_engine_arm_turn (self);
        return;
    }
    meshq_engine_entry_done (self, entry);
}

const meshq_queue_host_t meshq_engine_queue_host = {s_deliver,
                                                    meshq_engine_dispose};

// --------------------------------------------------------------------
//  Routing

void
meshq_routes_init (meshq_routes_t *self, const meshq_queue_t *skip)
{
    self->queues = self->inline_queues;
    self->count = 0;
    self->capacity = MESHQ_ROUTES_INLINE;
    self->mark = 0;
    self->skip = skip;
}

void
meshq_routes_fini (meshq_routes_t *self)
{
    if (self->queues != self->inline_queues)
        free (self->queues);
    self->queues = self->inline_queues;
    self->count = 0;
}

static void
s_route_one (void *arg, void *queue)
{
    meshq_routes_t *routes = arg;
    //  A queue that two bindings match is marked by the first.
    if (queue == routes->skip || !meshq_queue_route_mark (queue, routes->mark))
        return;
    if (routes->count == routes->capacity) {
        int capacity = routes->capacity * 2;
        meshq_queue_t **queues = malloc ((size_t)capacity * sizeof *queues);
        assert (queues);
        memcpy (queues, routes->queues, (size_t)routes->count * sizeof *queues);
        if (routes->queues != routes->inline_queues)
            free (routes->queues);
        routes->queues = queues;
        routes->capacity = capacity;
    }
    routes->queues[routes->count++] = queue;
}

//  Finds the queues a message goes to. Returns 0, or MESHQ_ENOTFOUND if
//  the exchange does not exist.
int
meshq_engine_route (meshq_vhost_t *self, const meshq_envelope_t *envelope,
                    meshq_routes_t *routes)
{
    meshq_span_t exchange_name = envelope->strings[MESHQ_F_EXCHANGE];
    meshq_span_t key = envelope->strings[MESHQ_F_ROUTING_KEY];
    routes->mark = ++self->route_mark;
    if (exchange_name.size == 0) {
        //  The default exchange: the queue named by the routing key,
        //  most often the one of the last publish.
        meshq_queue_t *queue = self->last_route;
        const char *last = queue ? meshq_queue_name (queue) : "";
        if (!queue || (key.size && memcmp (last, key.data, key.size)) ||
            last[key.size]) {
            char name[MESHQ_MAX_SHORTSTR + 1];
            memcpy (name, key.data ? key.data : "", key.size);
            name[key.size] = 0;
            queue = zhashx_lookup (self->queues, name);
            if (queue)
                self->last_route = queue;
        }
        if (queue)
            s_route_one (routes, queue);
        return 0;
    }
    char name[MESHQ_MAX_SHORTSTR + 1];
    memcpy (name, exchange_name.data, exchange_name.size);
    name[exchange_name.size] = 0;
    meshq_exchange_t *exchange = zhashx_lookup (self->exchanges, name);
    if (!exchange)
        return MESHQ_ENOTFOUND;
    meshq_exchange_route (exchange, key, envelope->headers_raw, s_route_one,
                          routes);
    return 0;
}

static meshq_pending_t *
s_pending_new (meshq_engine_t *self, meshq_session_t *session, uint64_t seq)
{
    meshq_pending_t *pending = meshq_engine_pending_new (self);
    pending->session = session;
    pending->seq = seq;
    pending->started_us = meshq_engine_mono_us ();
    if (session->pending_tail)
        session->pending_tail->next = pending;
    else
        session->pending = pending;
    session->pending_tail = pending;
    return pending;
}

static void
s_refuse (meshq_pending_t *pending, int code, const char *why)
{
    if (pending && !pending->code) {
        pending->code = code;
        pending->why = why;
    }
}

//  Refuses publishes from now on, and tells every session.
static void
s_block (meshq_engine_t *self, const char *why)
{
    if (self->blocked)
        return;
    self->blocked = true;
    self->blocked_why = why;
    zsys_warning ("agent: publishers blocked reason=%s memory=%" PRIu64, why,
                  self->memory);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, WHY, why, meshq_span (why));
    meshq_session_t *session = zhashx_first (self->sessions);
    for (; session; session = zhashx_next (self->sessions))
        meshq_engine_send (self, session, "BLOCKED", &args, NULL, 0);
}

void
meshq_engine_check_pressure (meshq_engine_t *self)
{
    if (!self->blocked)
        return;
    //  Unblock with some room to spare, so as not to flap.
    uint64_t quota = self->config.store.quota;
    if (self->memory > self->config.max_memory / 10 * 9)
        return;
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost && quota; vhost = zhashx_next (self->vhosts)) {
        meshq_store_stats_t stats;
        meshq_store_stats (vhost->store, &stats);
        if (stats.bytes > quota / 10 * 9)
            return;
    }
    self->blocked = false;
    meshq_notice ("agent: publishers unblocked memory=%" PRIu64, self->memory);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    meshq_session_t *session = zhashx_first (self->sessions);
    for (; session; session = zhashx_next (self->sessions))
        meshq_engine_send (self, session, "UNBLOCKED", &args, NULL, 0);
}

//  Puts a message into the queues it routes to. envelope/data describe
//  the bytes; pending (may be NULL) collects store tickets. Returns the
//  number of queues that took it.
int
meshq_engine_enqueue (meshq_vhost_t *vhost, const meshq_envelope_t *envelope,
                      const void *data, size_t size,
                      const meshq_routes_t *routes, meshq_pending_t *pending)
{
    meshq_engine_t *self = vhost->engine;
    meshq_blob_t *blob = NULL;
    uint64_t seq = ++self->next_seq;
    //  The clock read for the frames being handled, if any: a clock
    //  read per message showed in profiles.
    int64_t now = self->frame_wall ? self->frame_wall : zclock_time ();
    int64_t ttl = envelope->present & (1u << MESHQ_F_EXPIRATION)
                      ? (int64_t)envelope->expiration
                      : -1;
    //  Its wait in the queue counts from here: the same clock read.
    int64_t born = self->frame_mono ? self->frame_mono : zclock_mono ();
    int taken = 0;
    for (int i = 0; i < routes->count; i++) {
        meshq_queue_t *queue = routes->queues[i];
        meshq_entry_t *entry = meshq_engine_entry_new (self);
        entry->born = born;
        //  The function holds one reference, each entry another.
        if (!blob)
            blob = meshq_blob_new (data, size, &self->memory);
        entry->blob = meshq_blob_ref (blob);
        entry->seq = seq;
        entry->priority = envelope->priority;
        entry->body_size = envelope->body.size;
        entry->expires = meshq_queue_expiry (queue, now, ttl);
        int rc = meshq_queue_push (queue, entry);
        if (rc == MESHQ_ELIMIT) {
            s_refuse (pending, MESHQ_ELIMIT,
                      "a queue is full (max-length with overflow "
                      "reject-publish): message refused");
            meshq_blob_unref (&entry->blob);
            meshq_engine_entry_free (self, entry);
            continue;
        }
        taken++;
        if (rc == 1)
            continue;  //  Too big for the queue alone: dropped as maxlen.
        //  An exclusive queue ends with its connection, so its messages
        //  are never stored: a restart could not tell them from those of
        //  a queue whose record was lost.
        if (s_persistent (envelope) && meshq_queue_args (queue)->durable &&
            !meshq_queue_args (queue)->exclusive) {
            uint64_t ticket;
            rc = meshq_store_enqueue (vhost->store, meshq_queue_name (queue),
                                      self->node_id, seq, data, size,
                                      MESHQ_SYNC_ALWAYS, &ticket);
            if (rc) {
                //  Not durable, so not accepted: take it back.
                meshq_queue_unpush (queue, entry);
                meshq_blob_unref (&entry->blob);
                meshq_engine_entry_free (self, entry);
                if (rc == MESHQ_EFULL)
                    s_block (self, "the agent's disk quota is reached: "
                                   "publishes are refused until consumers "
                                   "catch up");
                s_refuse (pending, rc,
                          rc == MESHQ_EFULL ? self->blocked_why
                                            : "the agent cannot write its "
                                              "store");
                continue;
            }
            entry->stored = true;
            if (pending) {
                pending->remaining++;
                meshq_map64_insert (vhost->tickets, ticket, pending);
            }
        }
        meshq_engine_mark_dirty (self, queue);
    }
    if (blob)
        meshq_blob_unref (&blob);
    if (routes->count)
        meshq_engine_arm_turn (self);
    return taken;
}

void
meshq_engine_refuse_publish (meshq_engine_t *self, meshq_session_t *session,
                             const meshq_args_t *args, int code,
                             const char *why)
{
    if (MESHQ_ARGS_HAS (args, SEQ))
        s_refuse (s_pending_new (self, session, args->seq), code, why);
    else
        meshq_engine_reply_error (self, session, 0, code, "message refused: %s",
                                  why);
    session->confirm_due = true;
    meshq_engine_arm_turn (self);
}

void
meshq_engine_publish (meshq_engine_t *self, meshq_session_t *session,
                      const meshq_args_t *args, const void *data, size_t size)
{
    meshq_envelope_t envelope;
    const char *why = NULL;
    int rc = meshq_codec_decode_envelope (data, size, self->config.max_message,
                                          &envelope, &why);
    if (rc) {
        meshq_engine_bad_input (self,
                                "agent: publish refused user=%s reason=%s",
                                session->user, why);
        meshq_engine_refuse_publish (self, session, args, rc, why);
        return;
    }
    meshq_engine_trace_publish (self, session, args, MESHQ_TRACE_RECEIVE,
                                false);
    meshq_pending_t *pending = MESHQ_ARGS_HAS (args, SEQ)
                                   ? s_pending_new (self, session, args->seq)
                                   : NULL;
    meshq_routes_t routes;
    meshq_routes_init (&routes, NULL);
    if (!meshq_engine_may_publish (self, session,
                                   envelope.strings[MESHQ_F_EXCHANGE])) {
        self->auth_failures++;
        s_refuse (pending, MESHQ_EACCESS,
                  "access to the exchange refused: the user needs write "
                  "permission on it");
        if (!pending)
            meshq_engine_reply_error (
                self, session, 0, MESHQ_EACCESS,
                "access to exchange '%.*s' in vhost '%s' refused for user "
                "'%s' (needs write permission)",
                (int)envelope.strings[MESHQ_F_EXCHANGE].size,
                envelope.strings[MESHQ_F_EXCHANGE].data
                    ? envelope.strings[MESHQ_F_EXCHANGE].data
                    : "",
                session->vhost->name, session->user);
        session->confirm_due = true;
        meshq_engine_arm_turn (self);
        return;
    }
    //  A user id, if the message has one, is the publisher's own, as
    //  RabbitMQ's validated user-id: consumers may trust it.
    meshq_span_t user_id = envelope.strings[MESHQ_F_USER_ID];
    if (user_id.size && (user_id.size != strlen (session->user) ||
                         memcmp (user_id.data, session->user, user_id.size))) {
        self->auth_failures++;
        meshq_engine_warn (self, "agent: publish refused user=%s reason=%s",
                           session->user, "user_id of another user");
        s_refuse (pending, MESHQ_EPRECONDITION,
                  "the message's user_id is not the connection's user");
        if (!pending)
            meshq_engine_reply_error (
                self, session, 0, MESHQ_EPRECONDITION,
                "message refused: user_id '%.*s' is not the connection's "
                "user '%s'",
                (int)user_id.size, user_id.data, session->user);
        session->confirm_due = true;
        meshq_engine_arm_turn (self);
        return;
    }
    if (!self->blocked && self->memory + size > self->config.max_memory)
        s_block (self, "the agent's memory high-water mark is reached");
    rc = self->blocked
             ? MESHQ_EFULL
             : meshq_engine_route (session->vhost, &envelope, &routes);
    if (rc == MESHQ_EFULL) {
        //  Refused whole, so that memory and disk never grow past their
        //  marks; consumers are still served and will drain it.
        s_refuse (pending, rc, self->blocked_why);
        if (!pending)
            meshq_engine_reply_error (self, session, 0, rc, "%s",
                                      self->blocked_why);
    } else if (rc) {
        s_refuse (pending, rc, "no such exchange in this vhost");
        if (!pending)
            meshq_engine_reply_error (
                self, session, 0, rc, "no exchange '%.*s' in this vhost",
                (int)envelope.strings[MESHQ_F_EXCHANGE].size,
                envelope.strings[MESHQ_F_EXCHANGE].data);
    } else if (routes.count == 0 && MESHQ_ARGS_HAS (args, MANDATORY) &&
               args->mandatory) {
        meshq_args_t back;
        memset (&back, 0, sizeof back);
        MESHQ_ARGS_SET (&back, CODE, code, MESHQ_EUNROUTABLE);
        MESHQ_ARGS_SET (&back, WHY, why, meshq_span ("NO_ROUTE"));
        if (pending)
            MESHQ_ARGS_SET (&back, SEQ, seq, pending->seq);
        meshq_engine_send (self, session, "RETURN", &back, data, size);
    } else {
        meshq_engine_trace_publish (self, session, args, MESHQ_TRACE_ROUTE,
                                    false);
        meshq_engine_enqueue (session->vhost, &envelope, data, size, &routes,
                              pending);
        meshq_engine_trace_publish (self, session, args, MESHQ_TRACE_APPEND,
                                    s_persistent (&envelope));
    }
    self->published++;
    meshq_engine_flow_publish (self, session, &routes);
    meshq_routes_fini (&routes);
    if (pending && pending->remaining == 0) {
        session->confirm_due = true;
        meshq_engine_arm_turn (self);
    }
}

// --------------------------------------------------------------------
//  Confirms

void
meshq_engine_store_done (void *arg, uint64_t ticket, int status)
{
    meshq_vhost_t *self = arg;
    meshq_engine_trace_synced (self->engine);
    meshq_pending_t *pending = meshq_map64_delete (self->tickets, ticket);
    if (!pending)
        return;
    if (status < 0)
        s_refuse (pending, status,
                  "the agent could not make the message "
                  "durable");
    assert (pending->remaining > 0);
    pending->remaining--;
    if (pending->remaining == 0) {
        if (pending->session)
            pending->session->confirm_due = true;
        else
            meshq_engine_pending_free (self->engine,
                                       pending);  //  Its publisher is gone.
    }
}

void
meshq_engine_flush_confirms (meshq_engine_t *self, meshq_session_t *session)
{
    session->confirm_due = false;
    uint64_t upto = 0;
    meshq_pending_t *pending;
    int64_t now_us = session->pending ? meshq_engine_mono_us () : 0;
    while ((pending = session->pending) && pending->remaining == 0) {
        meshq_hist_note (&self->confirm_wait,
                         (uint64_t)(now_us - pending->started_us));
        if (pending->code) {
            meshq_args_t nack;
            memset (&nack, 0, sizeof nack);
            MESHQ_ARGS_SET (&nack, SEQ, seq, pending->seq);
            MESHQ_ARGS_SET (&nack, CODE, code, pending->code);
            MESHQ_ARGS_SET (&nack, WHY, why, meshq_span (pending->why));
            meshq_engine_send (self, session, "NACK", &nack, NULL, 0);
        }
        upto = pending->seq;
        session->pending = pending->next;
        if (!session->pending)
            session->pending_tail = NULL;
        meshq_engine_pending_free (self, pending);
    }
    if (upto) {
        meshq_args_t confirm;
        memset (&confirm, 0, sizeof confirm);
        MESHQ_ARGS_SET (&confirm, UPTO, upto, upto);
        //  A confirm that could not go out is not one: the session ends,
        //  and its publisher, never told, publishes again.
        if (meshq_engine_send (self, session, "CONFIRM", &confirm, NULL, 0) ==
            0)
            session->confirmed = upto;
        meshq_engine_trace_confirmed (self, session, upto);
    }
}

void
meshq_engine_forget_pending (meshq_engine_t *self, meshq_session_t *session)
{
    meshq_pending_t *pending = session->pending;
    while (pending) {
        meshq_pending_t *next = pending->next;
        if (pending->remaining == 0)
            meshq_engine_pending_free (self, pending);
        else
            pending->session = NULL;  //  Freed by its last completion.
        pending = next;
    }
    session->pending = session->pending_tail = NULL;
}
