/*  agent_mesh.c - the mesh: peers, gossip of metadata, credit, and
    delivery across agents.

    Each vhost joins its own mesh (discovery's peers module, hosted in
    the engine's loop). A peer that is up is a session of the engine:
    it consumes with credit, acks and nacks like a client, so the
    origin's queues, leases and requeues serve it unchanged.

    Agents of the default vhost find each other by beacons or seeds.
    Seeds name default-vhost endpoints (other vhosts' ports are
    ephemeral), so every agent also tells its peers of the default
    vhost where its other vhosts' meshes are (VHOST): without beacons,
    that is how the agents of those vhosts meet.

    The flow, for a queue Q with a backlog on agent A (the origin) and a
    consumer on agent B:
      * A announces BACKLOG {q, msgs} to its peers when Q's ready count
        changes (at once to or from zero, else at most every 20 ms);
      * B grants credit, GRANT {q, credit}, out of its consumers' free
        prefetch, and reserves those slots so that its own dispatch
        leaves them free; so no consumer ever holds more than its
        prefetch, wherever the messages come from;
      * A counts the grant as a consumer's prefetch (each delivery uses up
        one) and dispatches by free credit across its local consumers and
        its peers alike; DELIVER carries the envelope as published;
      * B hands it to a consumer; its ack, nack or in-progress goes back
        to A (acks batched per turn), which settles, stores the ack, and
        requeues on nack;
      * when Q runs dry A returns unused credit (BACKLOG {msgs: 0,
        credit}); when a peer goes down, A requeues what was in flight to
        it and B forgets the credit it had granted.
*/
#include "agent_mesh.h"
#include "codec_args.h"
#include "peers.h"

#include <inttypes.h>

//  Minimum gap between two announcements of a queue's backlog that
//  does not change between empty and not.
#define S_ANNOUNCE_MS 20

//  Deliveries to a peer sent in one message, at most.
#define S_BATCH 256

//  Interval of VHOST to peers that a vhost's mesh does not have up.
#define S_INTRODUCE_MS 1000

meshq_qmesh_t *
meshq_qmesh (meshq_queue_t *queue, bool create)
{
    meshq_qmesh_t *qmesh = meshq_queue_mesh (queue);
    if (!qmesh && create) {
        qmesh = calloc (1, sizeof *qmesh);
        assert (qmesh);
        qmesh->origins = zhashx_new ();
        zhashx_set_destructor (qmesh->origins, meshq_free_item);
        meshq_queue_set_mesh (queue, qmesh);
    }
    return qmesh;
}

void
meshq_engine_mesh_forget_queue (meshq_queue_t *queue)
{
    meshq_qmesh_t *qmesh = meshq_queue_mesh (queue);
    if (qmesh) {
        meshq_dedup_forget_queue (queue);
        zhashx_destroy (&qmesh->origins);
        free (qmesh);
        meshq_queue_set_mesh (queue, NULL);
    }
}

meshq_session_t *
meshq_mesh_peer_session (meshq_vhost_t *vhost, const uint8_t *id)
{
    char key[33];
    meshq_hex16 (id, key);
    return zhashx_lookup (vhost->peer_sessions, key);
}

// --------------------------------------------------------------------
//  Sending

//  Sends the deliveries gathered for a peer as one message.
static int
s_flush_deliveries (meshq_engine_t *self, meshq_session_t *session)
{
    zmsg_t *msg = session->peer_batch;
    session->peer_batch = NULL;
    session->peer_batch_count = 0;
    if (!msg)
        return 0;
    int rc = meshq_peers_send (session->vhost->peers, session->id, &msg);
    zmsg_destroy (&msg);
    if (rc)
        meshq_engine_warn (self,
                           "mesh: send failed verb=DELIVER peer=%s reason=%s",
                           session->user, meshq_strerror (rc));
    return rc;
}

int
meshq_engine_mesh_send (meshq_engine_t *self, meshq_session_t *session,
                        const char *verb, const void *args, size_t args_size,
                        const void *body, size_t size)
{
    meshq_vhost_t *vhost = session->vhost;
    if (!vhost->peers || session->dead)
        return MESHQ_ECONNLOST;
    //  Deliveries of a turn go several to a message (section 4 of
    //  docs/PROTOCOL.md): one for libzmq to queue and wake the peer for.
    if (body && streq (verb, "DELIVER")) {
        if (!session->peer_batch) {
            session->peer_batch = zmsg_new ();
            zmsg_addstr (session->peer_batch, verb);
        }
        zmsg_addmem (session->peer_batch, args, args_size);
        zmsg_addmem (session->peer_batch, body, size);
        if (++session->peer_batch_count == S_BATCH)
            return s_flush_deliveries (self, session);
        meshq_engine_arm_turn (self);
        return 0;
    }
    //  Anything else goes after the deliveries before it.
    s_flush_deliveries (self, session);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, verb);
    zmsg_addmem (msg, args, args_size);
    if (body)
        zmsg_addmem (msg, body, size);
    int rc = meshq_peers_send (vhost->peers, session->id, &msg);
    zmsg_destroy (&msg);
    if (rc)
        meshq_engine_warn (self, "mesh: send failed verb=%s peer=%s reason=%s",
                           verb, session->user, meshq_strerror (rc));
    return rc;
}

//  Sends a command to a peer session, arguments encoded here.
static int
s_send (meshq_engine_t *self, meshq_session_t *session, const char *verb,
        const meshq_args_t *args, const void *body, size_t size)
{
    return meshq_engine_send (self, session, verb, args, body, size);
}

void
meshq_mesh_send_tags (meshq_engine_t *self, meshq_session_t *session,
                      const char *verb, const uint64_t *values, size_t count)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    size_t bytes = count * 8;
    uint8_t *tags = malloc (bytes + 1);
    assert (tags);
    for (size_t i = 0; i < count; i++)
        for (int b = 0; b < 8; b++)
            tags[i * 8 + (size_t)b] = (uint8_t)(values[i] >> (8 * b));
    //  One frame carries at most 8191 tags (the argument's cap); an
    //  empty list is one frame too.
    size_t done = 0;
    do {
        size_t chunk = bytes - done < 8191 * 8 ? bytes - done : 8191 * 8;
        meshq_span_t span = {(const char *)tags + done, (uint32_t)chunk};
        MESHQ_ARGS_SET (&args, DTAGS, dtags, span);
        s_send (self, session, verb, &args, NULL, 0);
        done += chunk;
    } while (done < bytes);
    free (tags);
}

static void
s_flush_acks (meshq_engine_t *self, meshq_session_t *session)
{
    if (!session->peer_ack_count)
        return;
    meshq_mesh_send_tags (self, session, "ACK", session->peer_acks,
                          session->peer_ack_count);
    session->peer_ack_count = 0;
}

void
meshq_engine_mesh_settled (meshq_engine_t *self, meshq_entry_t *entry,
                           const char *verb, bool requeue)
{
    meshq_vhost_t *vhost = meshq_queue_host (entry->queue);
    meshq_session_t *origin = meshq_mesh_peer_session (vhost, entry->origin);
    if (!origin) {
        //  It is down or cut off: an ack waits for it to be back, so
        //  that it does not deliver the message again (agent_dedup.c);
        //  the rest it redelivers anyway.
        if (streq (verb, "ACK"))
            meshq_dedup_late_ack (vhost, entry->origin, entry->seq);
        return;
    }
    if (streq (verb, "ACK")) {
        if (origin->peer_ack_count == origin->peer_ack_capacity) {
            origin->peer_ack_capacity =
                origin->peer_ack_capacity ? origin->peer_ack_capacity * 2 : 64;
            origin->peer_acks =
                realloc (origin->peer_acks,
                         origin->peer_ack_capacity * sizeof (uint64_t));
            assert (origin->peer_acks);
        }
        origin->peer_acks[origin->peer_ack_count++] = entry->origin_dtag;
        meshq_engine_arm_turn (self);
        return;
    }
    //  In order: the acks held back go first.
    s_flush_acks (self, origin);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, DTAG, dtag, entry->origin_dtag);
    if (streq (verb, "NACK"))
        MESHQ_ARGS_SET (&args, REQUEUE, requeue, requeue);
    s_send (self, origin, verb, &args, NULL, 0);
}

// --------------------------------------------------------------------
//  Peers up and down

//  Sends every metadata record the vhost holds to a peer.
static void
s_send_metadata (meshq_engine_t *self, meshq_vhost_t *vhost,
                 meshq_session_t *session)
{
    meshq_meta_entry_t *entry = zhashx_first (vhost->meta);
    for (; entry; entry = zhashx_next (vhost->meta)) {
        const char *key = zhashx_cursor (vhost->meta);
        if (streq (key, "node"))
            continue;
        meshq_args_t args;
        memset (&args, 0, sizeof args);
        MESHQ_ARGS_SET (&args, META_KEY, meta_key, meshq_span (key));
        MESHQ_ARGS_SET (&args, META_VERSION, meta_version, entry->version);
        s_send (self, session, "META", &args,
                entry->present ? entry->data : NULL, entry->size);
    }
}

static void
s_announce (meshq_engine_t *self, meshq_session_t *session,
            meshq_queue_t *queue, uint64_t ready, uint32_t credit)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span (meshq_queue_name (queue)));
    MESHQ_ARGS_SET (&args, MESSAGES, messages, ready);
    if (credit)
        MESHQ_ARGS_SET (&args, CREDIT, credit, credit);
    s_send (self, session, "BACKLOG", &args, NULL, 0);
}

//  Tells a peer of the default vhost where our mesh of another vhost is.
static void
s_send_vhost (meshq_engine_t *self, meshq_session_t *session,
              meshq_vhost_t *vhost)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, VHOST, vhost, meshq_span (vhost->name));
    MESHQ_ARGS_SET (&args, ENDPOINT, endpoint,
                    meshq_span (meshq_peers_endpoint (vhost->peers)));
    MESHQ_ARGS_SET (&args, INCARNATION, incarnation,
                    meshq_peers_incarnation (vhost->peers));
    s_send (self, session, "VHOST", &args, NULL, 0);
}

static void
s_peer_up (meshq_engine_t *self, meshq_vhost_t *vhost,
           const meshq_peer_info_t *peer)
{
    char key[33];
    meshq_hex16 (peer->id, key);
    if (zhashx_lookup (vhost->peer_sessions, key))
        return;
    meshq_session_t *session = calloc (1, sizeof *session);
    assert (session);
    memcpy (session->id, peer->id, 16);
    session->vhost = vhost;
    session->peer = true;
    snprintf (session->user, sizeof session->user, "%s",
              *peer->name ? peer->name : key);
    session->deliveries = meshq_map64_new ();
    session->consumers = zlistx_new ();
    session->last_seen = zclock_mono ();
    zhashx_insert (vhost->peer_sessions, key, session);
    meshq_notice ("mesh: peer up vhost=%s name=%s endpoint=%s", vhost->name,
                  peer->name, peer->endpoint);
    s_send_metadata (self, vhost, session);
    if (vhost == self->root) {
        meshq_vhost_t *other = zhashx_first (self->vhosts);
        for (; other; other = zhashx_next (self->vhosts))
            if (other != self->root && other->peers)
                s_send_vhost (self, session, other);
    }
    meshq_dedup_peer_up (self, session);
    meshq_queue_t *queue = zhashx_first (vhost->queues);
    for (; queue; queue = zhashx_next (vhost->queues))
        if (meshq_queue_ready (queue))
            s_announce (self, session, queue, meshq_queue_ready (queue), 0);
}

static void
s_peer_down (meshq_engine_t *self, meshq_vhost_t *vhost,
             const meshq_peer_info_t *peer)
{
    char key[33];
    meshq_hex16 (peer->id, key);
    meshq_notice ("mesh: peer down vhost=%s name=%s reason=%s", vhost->name,
                  peer->name, peer->reason);
    //  As a consumer: forget the credit granted to it.
    meshq_queue_t *queue = zhashx_first (vhost->queues);
    for (; queue; queue = zhashx_next (vhost->queues)) {
        meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
        meshq_origin_t *origin =
            qmesh ? zhashx_lookup (qmesh->origins, key) : NULL;
        if (origin) {
            meshq_queue_reserve (queue, -(int64_t)origin->outstanding);
            zhashx_delete (qmesh->origins, key);
            meshq_engine_mark_dirty (self, queue);
        }
    }
    //  As an origin: what was in flight to it goes back to its queues.
    meshq_session_t *session = zhashx_lookup (vhost->peer_sessions, key);
    if (session) {
        zhashx_delete (vhost->peer_sessions, key);
        meshq_engine_close_session (self, session);
    }
}

// --------------------------------------------------------------------
//  Frames from peers

static meshq_queue_t *
s_queue (meshq_vhost_t *vhost, const meshq_args_t *args)
{
    char name[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (name, args->queue);
    return zhashx_lookup (vhost->queues, name);
}

static void
s_on_grant (meshq_engine_t *self, meshq_session_t *session,
            const meshq_args_t *args)
{
    meshq_queue_t *queue = s_queue (session->vhost, args);
    if (!queue || !args->credit || args->credit > UINT32_MAX) {
        //  A queue we do not know (yet): give the credit back.
        if (args->credit && args->credit <= UINT32_MAX) {
            meshq_args_t back;
            memset (&back, 0, sizeof back);
            MESHQ_ARGS_SET (&back, QUEUE, queue, args->queue);
            MESHQ_ARGS_SET (&back, MESSAGES, messages, 0);
            MESHQ_ARGS_SET (&back, CREDIT, credit, args->credit);
            s_send (self, session, "BACKLOG", &back, NULL, 0);
        }
        return;
    }
    meshq_consumer_t *consumer = zlistx_first (session->consumers);
    while (consumer && consumer->queue != queue)
        consumer = zlistx_next (session->consumers);
    if (!consumer) {
        char tag[MESHQ_MAX_SHORTSTR + 1];
        snprintf (tag, sizeof tag, "mesh:%.240s", session->user);
        consumer = meshq_queue_add_remote (queue, session, tag);
        zlistx_add_end (session->consumers, consumer);
    }
    consumer->prefetch += (uint32_t)args->credit;
    meshq_engine_mark_dirty (self, queue);
}

static void
s_on_backlog (meshq_engine_t *self, meshq_session_t *session,
              const meshq_args_t *args)
{
    meshq_queue_t *queue = s_queue (session->vhost, args);
    if (!queue)
        return;
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, true);
    char key[33];
    meshq_hex16 (session->id, key);
    meshq_origin_t *origin = zhashx_lookup (qmesh->origins, key);
    if (!origin) {
        origin = calloc (1, sizeof *origin);
        assert (origin);
        memcpy (origin->id, session->id, 16);
        zhashx_insert (qmesh->origins, key, origin);
    }
    origin->backlog = args->messages;
    if (MESHQ_ARGS_HAS (args, CREDIT)) {
        uint32_t back = args->credit > origin->outstanding
                            ? origin->outstanding
                            : (uint32_t)args->credit;
        origin->outstanding -= back;
        meshq_queue_reserve (queue, -(int64_t)back);
    }
    meshq_engine_mark_dirty (self, queue);
}

static void
s_on_deliver (meshq_engine_t *self, meshq_session_t *session,
              const meshq_args_t *args, zframe_t *body)
{
    meshq_vhost_t *vhost = session->vhost;
    meshq_queue_t *queue = s_queue (vhost, args);
    if (queue) {
        meshq_qmesh_t *qmesh = meshq_qmesh (queue, true);
        char key[33];
        meshq_hex16 (session->id, key);
        meshq_origin_t *origin = zhashx_lookup (qmesh->origins, key);
        if (origin && origin->outstanding) {
            origin->outstanding--;
            meshq_queue_reserve (queue, -1);
        }
    }
    meshq_entry_t *entry = meshq_engine_entry_new (self);
    entry->remote = true;
    memcpy (entry->origin, session->id, 16);
    entry->origin_dtag = args->dtag;
    entry->seq = args->seq;
    entry->deliveries = (uint32_t)args->count;
    entry->redelivered = args->redelivered;
    entry->body_size = (uint32_t)zframe_size (body);
    if (!queue ||
        !meshq_queue_deliver_remote (
            queue, (entry->blob = meshq_blob_new (
                        zframe_data (body), zframe_size (body), &self->memory),
                    entry))) {
        //  No consumer to take it (it went away): back to its origin.
        meshq_args_t nack;
        memset (&nack, 0, sizeof nack);
        MESHQ_ARGS_SET (&nack, DTAG, dtag, args->dtag);
        MESHQ_ARGS_SET (&nack, REQUEUE, requeue, true);
        s_send (self, session, "NACK", &nack, NULL, 0);
        meshq_blob_unref (&entry->blob);
        meshq_engine_entry_free (self, entry);
    }
}

//  A peer of the default vhost says where its mesh of another vhost is.
//  A vhost we do not serve (yet) is skipped: once it opens here, ours
//  goes to the peer, whose agent of that vhost then says HELLO to ours.
static void
s_on_vhost (meshq_engine_t *self, meshq_vhost_t *vhost,
            meshq_session_t *session, const meshq_args_t *args)
{
    if (vhost != self->root || !MESHQ_ARGS_HAS (args, VHOST) ||
        !MESHQ_ARGS_HAS (args, ENDPOINT) ||
        !MESHQ_ARGS_HAS (args, INCARNATION)) {
        meshq_engine_bad_input (self,
                                "mesh: VHOST dropped peer=%s reason=not in "
                                "the default vhost, or no vhost, endpoint "
                                "or incarnation",
                                session->user);
        return;
    }
    char name[MESHQ_MAX_SHORTSTR + 1], endpoint[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (name, args->vhost);
    meshq_span_copy (endpoint, args->endpoint);
    meshq_vhost_t *target = zhashx_lookup (self->vhosts, name);
    if (!target || target == self->root || !target->peers)
        return;
    int rc = meshq_peers_introduce (target->peers, session->id,
                                    args->incarnation, endpoint);
    if (rc)
        meshq_engine_bad_input (self,
                                "mesh: VHOST dropped peer=%s vhost=%s "
                                "reason=%s",
                                session->user, name,
                                rc == MESHQ_EFULL
                                    ? "peer table full"
                                    : "endpoint is not tcp://ADDRESS:PORT");
}

static void
s_on_message (meshq_engine_t *self, meshq_vhost_t *vhost,
              const meshq_peer_info_t *peer, zmsg_t *msg)
{
    meshq_session_t *session = meshq_mesh_peer_session (vhost, peer->id);
    zframe_t *verb_frame = zmsg_first (msg);
    zframe_t *args_frame = zmsg_next (msg);
    zframe_t *body = zmsg_next (msg);
    char verb[32] = "";
    if (verb_frame && zframe_size (verb_frame) < sizeof verb)
        memcpy (verb, zframe_data (verb_frame), zframe_size (verb_frame));
    meshq_args_t args;
    const char *why = NULL;
    if (!session || !args_frame ||
        meshq_codec_decode_args (zframe_data (args_frame),
                                 zframe_size (args_frame), &args, &why)) {
        meshq_engine_bad_input (self,
                                "mesh: frame dropped verb=%s peer=%s "
                                "reason=%s",
                                verb, peer->name,
                                why ? why : "no session or no arguments");
        return;
    }
    session->last_seen = zclock_mono ();
    if (streq (verb, "META")) {
        char key[MESHQ_MAX_HEADER_VALUE + 1];
        snprintf (key, sizeof key, "%.*s", (int)args.meta_key.size,
                  args.meta_key.data ? args.meta_key.data : "");
        if (!*key || !MESHQ_ARGS_HAS (&args, META_VERSION))
            meshq_engine_bad_input (self,
                                    "mesh: META dropped peer=%s "
                                    "reason=no key or version",
                                    peer->name);
        else
            meshq_vhost_meta_receive (vhost, key, args.meta_version,
                                      body ? zframe_data (body) : NULL,
                                      body ? zframe_size (body) : 0);
    } else if (streq (verb, "GRANT"))
        s_on_grant (self, session, &args);
    else if (streq (verb, "BACKLOG"))
        s_on_backlog (self, session, &args);
    else if (streq (verb, "DELIVER") && body) {
        //  One or more pairs of arguments and envelope.
        s_on_deliver (self, session, &args, body);
        zframe_t *more;
        while ((more = zmsg_next (msg)) && (body = zmsg_next (msg))) {
            if (meshq_codec_decode_args (zframe_data (more), zframe_size (more),
                                         &args, &why)) {
                meshq_engine_bad_input (self,
                                        "mesh: DELIVER dropped peer=%s "
                                        "reason=%s",
                                        peer->name, why);
                break;
            }
            s_on_deliver (self, session, &args, body);
        }
    } else if (streq (verb, "ACKED"))
        meshq_dedup_on_acked (self, session, &args);
    else if (streq (verb, "VHOST"))
        s_on_vhost (self, vhost, session, &args);
    else if (streq (verb, "ACK") || streq (verb, "NACK") ||
             streq (verb, "IN_PROGRESS"))
        meshq_engine_settle (self, session, verb, &args);
    else
        meshq_engine_bad_input (self, "mesh: unknown command verb=%s peer=%s",
                                verb, peer->name);
}

static void
s_on_peer (void *arg, meshq_peer_event_t event, const meshq_peer_info_t *peer,
           zmsg_t **msg_p)
{
    meshq_vhost_t *vhost = arg;
    meshq_engine_t *self = vhost->engine;
    if (event == MESHQ_PEER_UP)
        s_peer_up (self, vhost, peer);
    else if (event == MESHQ_PEER_DOWN)
        s_peer_down (self, vhost, peer);
    else if (msg_p && *msg_p)
        s_on_message (self, vhost, peer, *msg_p);
    meshq_engine_arm_turn (self);
}

// --------------------------------------------------------------------
//  Each turn: acks out, credit granted, backlog announced

//  Grants credit for a queue to the origins that have a backlog, out of
//  the free prefetch of local consumers, shared in turn. When the queue
//  has a backlog here too, it is one more party: balanced dispatch gives
//  every consumer messages from every origin, so no consumer's share
//  depends on which agent it happens to be on. With local-first the
//  local backlog goes first and origins get credit only once it is gone.
static void
s_grant (meshq_engine_t *self, meshq_vhost_t *vhost, meshq_queue_t *queue)
{
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
    if (!qmesh || zhashx_size (qmesh->origins) == 0)
        return;
    bool local = meshq_queue_ready (queue) > 0;
    if (local && meshq_queue_args (queue)->local_first)
        return;
    uint32_t avail = meshq_queue_local_free (queue);
    uint32_t wanting = 0;
    meshq_origin_t *origin = zhashx_first (qmesh->origins);
    for (; origin; origin = zhashx_next (qmesh->origins))
        wanting += origin->backlog > origin->outstanding;
    if (!avail || !wanting)
        return;
    //  The origins' part; with one slot free, they get it in their turn.
    uint32_t parties = wanting + (local ? 1 : 0);
    uint32_t budget = local ? avail - avail / parties : avail;
    if (local && avail < parties)
        budget = qmesh->rotor++ % parties < wanting ? 1 : 0;
    while (budget && wanting) {
        uint32_t share = budget / wanting ? budget / wanting : 1;
        wanting = 0;
        origin = zhashx_first (qmesh->origins);
        for (; origin && budget; origin = zhashx_next (qmesh->origins)) {
            if (origin->backlog <= origin->outstanding)
                continue;
            uint64_t want = origin->backlog - origin->outstanding;
            uint32_t grant = want < share ? (uint32_t)want : share;
            if (grant > budget)
                grant = budget;
            meshq_session_t *session =
                meshq_mesh_peer_session (vhost, origin->id);
            if (!session)
                continue;
            meshq_args_t args;
            memset (&args, 0, sizeof args);
            MESHQ_ARGS_SET (&args, QUEUE, queue,
                            meshq_span (meshq_queue_name (queue)));
            MESHQ_ARGS_SET (&args, CREDIT, credit, grant);
            if (s_send (self, session, "GRANT", &args, NULL, 0))
                continue;
            origin->outstanding += grant;
            meshq_queue_reserve (queue, grant);
            budget -= grant;
            wanting += origin->backlog > origin->outstanding;
        }
    }
}

void
meshq_engine_mesh_grant (meshq_engine_t *self, meshq_queue_t *queue)
{
    meshq_vhost_t *vhost = meshq_queue_host (queue);
    if (vhost->peers && !meshq_queue_args (queue)->exclusive)
        s_grant (self, vhost, queue);
}

//  Tells peers of a queue's backlog when it changed; gives unused
//  credit back when the queue is empty.
static void
s_backlog (meshq_engine_t *self, meshq_vhost_t *vhost, meshq_queue_t *queue,
           int64_t now)
{
    uint64_t ready = meshq_queue_ready (queue);
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
    uint64_t announced = qmesh ? qmesh->announced : 0;
    if (ready == 0) {
        meshq_consumer_t *consumer = meshq_queue_consumers (queue);
        for (; consumer; consumer = consumer->next)
            if (consumer->remote && consumer->prefetch > consumer->unacked) {
                uint32_t unused = consumer->prefetch - consumer->unacked;
                consumer->prefetch -= unused;
                s_announce (self, consumer->session, queue, 0, unused);
            }
    }
    if (ready == announced)
        return;
    bool edge = (ready == 0) != (announced == 0);
    if (!edge && qmesh && now - qmesh->announced_at < S_ANNOUNCE_MS)
        return;
    qmesh = meshq_qmesh (queue, true);
    qmesh->announced = ready;
    qmesh->announced_at = now;
    meshq_session_t *session = zhashx_first (vhost->peer_sessions);
    for (; session; session = zhashx_next (vhost->peer_sessions))
        s_announce (self, session, queue, ready, 0);
}

void
meshq_engine_mesh_turn (meshq_engine_t *self)
{
    int64_t now = zclock_mono ();
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        if (!vhost->peers || zhashx_size (vhost->peer_sessions) == 0)
            continue;
        meshq_session_t *session = zhashx_first (vhost->peer_sessions);
        for (; session; session = zhashx_next (vhost->peer_sessions)) {
            s_flush_deliveries (self, session);
            s_flush_acks (self, session);
        }
        meshq_queue_t *queue = zhashx_first (vhost->queues);
        for (; queue; queue = zhashx_next (vhost->queues)) {
            if (meshq_queue_args (queue)->exclusive)
                continue;
            s_backlog (self, vhost, queue, now);
            s_grant (self, vhost, queue);
        }
    }
}

//  Tells the peers of the default vhost again where our other vhosts'
//  meshes are, if those meshes do not have them up: a VHOST lost, or a
//  vhost's peer counted down while the default vhost's stayed up, would
//  otherwise keep them apart until the default vhost's peer comes up
//  again.
static void
s_introduce_missing (meshq_engine_t *self, int64_t now)
{
    if (!self->root->peers || now - self->introduced < S_INTRODUCE_MS)
        return;
    self->introduced = now;
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        if (vhost == self->root || !vhost->peers)
            continue;
        meshq_session_t *session = zhashx_first (self->root->peer_sessions);
        for (; session; session = zhashx_next (self->root->peer_sessions)) {
            const meshq_peer_info_t *peer =
                meshq_peers_lookup (vhost->peers, session->id);
            if (!peer || streq (peer->state, "down"))
                s_send_vhost (self, session, vhost);
        }
    }
}

void
meshq_engine_mesh_tick (meshq_engine_t *self)
{
    s_introduce_missing (self, zclock_mono ());
    meshq_dedup_tick (self, zclock_mono ());
    //  Announcements held back by the rate limit go out now.
    meshq_engine_mesh_turn (self);
}

// --------------------------------------------------------------------
//  Metadata and endpoints

void
meshq_engine_mesh_meta (meshq_vhost_t *vhost, const char *key, uint64_t version,
                        const void *value, size_t size)
{
    if (!vhost->peers)
        return;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, META_KEY, meta_key, meshq_span (key));
    MESHQ_ARGS_SET (&args, META_VERSION, meta_version, version);
    meshq_session_t *session = zhashx_first (vhost->peer_sessions);
    for (; session; session = zhashx_next (vhost->peer_sessions))
        s_send (vhost->engine, session, "META", &args, value, size);
}

const char *
meshq_engine_mesh_endpoint (meshq_vhost_t *vhost)
{
    return vhost->peers ? meshq_peers_endpoint (vhost->peers) : NULL;
}

// --------------------------------------------------------------------
//  Start and stop

int
meshq_engine_mesh_start (meshq_vhost_t *vhost, char *why, size_t size)
{
    meshq_engine_t *self = vhost->engine;
    if (!self->config.mesh || vhost->peers)
        return 0;
    meshq_peers_config_t config;
    memset (&config, 0, sizeof config);
    config.name = self->config.name;
    config.mesh = *self->config.mesh_name ? self->config.mesh_name : NULL;
    config.vhost = vhost->name;
    memcpy (config.node, self->node_id, 16);
    //  Only the default vhost takes the configured port: the others'
    //  ROUTERs need ports of their own.
    config.port = vhost == self->root ? self->config.port : 0;
    config.interface = *self->config.interface ? self->config.interface : NULL;
    config.beacon_port = self->config.beacon_port;
    config.no_beacon = self->config.no_beacon;
    //  Seeds are default-vhost endpoints: another vhost's HELLO to one
    //  would only be refused there. Its peers come by VHOST instead.
    config.seeds =
        vhost == self->root && *self->config.seeds ? self->config.seeds : NULL;
    config.beacon_interval_ms = self->config.beacon_ms;
    config.transport =
        streq (self->config.transport, "multicast") ? MESHQ_TRANSPORT_MULTICAST
        : streq (self->config.transport, "broadcast")
            ? MESHQ_TRANSPORT_BROADCAST
        : streq (self->config.transport, "ipv6") ? MESHQ_TRANSPORT_IPV6
                                                 : MESHQ_TRANSPORT_AUTO;
    config.heartbeat_ms = self->config.heartbeat_ms;
    config.peer_timeout_ms = self->config.peer_timeout_ms;
    config.max_msg_size = self->config.max_message + 65536;
    vhost->peers = meshq_peers_new (&config);
    meshq_peers_set_handler (vhost->peers, s_on_peer, vhost);
    const char *peers_why = NULL;
    int rc = meshq_peers_start (vhost->peers, self->loop, &peers_why);
    if (rc) {
        snprintf (why, size, "vhost '%.255s' cannot join mesh: %.700s",
                  vhost->name, peers_why);
        meshq_peers_destroy (&vhost->peers);
        return rc;
    }
    meshq_notice ("mesh: joined vhost=%s endpoint=%s interface=%s "
                  "transport=%s",
                  vhost->name, meshq_peers_endpoint (vhost->peers),
                  meshq_peers_interface (vhost->peers),
                  meshq_peers_transport (vhost->peers));
    //  A vhost added (here or by a peer) while the default vhost's
    //  peers are up: tell them where it is.
    if (vhost != self->root && self->root->peers) {
        meshq_session_t *session = zhashx_first (self->root->peer_sessions);
        for (; session; session = zhashx_next (self->root->peer_sessions))
            s_send_vhost (self, session, vhost);
    }
    return 0;
}

void
meshq_engine_mesh_stop (meshq_vhost_t *vhost)
{
    if (!vhost->peers)
        return;
    meshq_peers_stop (vhost->peers, true);
    meshq_session_t *session;
    while ((session = zhashx_first (vhost->peer_sessions))) {
        char key[33];
        meshq_hex16 (session->id, key);
        zhashx_delete (vhost->peer_sessions, key);
        meshq_engine_close_session (vhost->engine, session);
    }
    meshq_peers_destroy (&vhost->peers);
}
