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
    that is how the agents of those vhosts meet. Only the default
    vhost's mesh beacons and runs the membership; the others follow it
    (agent_mesh_peers.c, "One membership per agent").

    The flow, for a queue Q with a backlog on agent A (the origin) and a
    consumer on agent B:
      * A announces BACKLOG {q, msgs} to the peers that consume Q, by
        their consumer records (agent_interest.c), when Q's ready count
        changes (at once to or from zero, else at most every 20 ms); a
        peer whose record comes while Q has a backlog is told at once,
        and one whose record ends is told BACKLOG {q, 0};
      * B grants credit, GRANT {q, credit}, out of its consumers' free
        prefetch, and reserves those slots so that its own dispatch
        leaves them free; so no consumer ever holds more than its
        prefetch, wherever the messages come from;
      * A counts the grant as a consumer's prefetch (each delivery uses up
        one) and dispatches by free credit across its local consumers and
        its peers alike; DELIVER carries the envelope as published;
      * B hands it to a consumer (or holds it for the next free slot: B
        also grants some credit ahead, agent_ahead.c); its ack, nack or in-progress goes back
        to A (acks batched per turn), which settles, stores the ack, and
        requeues on nack;
      * when Q runs dry A returns unused credit (BACKLOG {msgs: 0,
        credit}); when a peer goes down, A requeues what was in flight to
        it and B forgets the credit it had granted.
*/
#include "agent_mesh.h"
#include "codec_args.h"
#include "mesh_secret.h"
#include "peers.h"

#include <inttypes.h>
#include <sodium.h>

//  Minimum gap between two announcements of a queue's backlog that
//  does not change between empty and not.
#define S_ANNOUNCE_MS 20

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
        meshq_vhost_t *vhost = meshq_queue_host (queue);
        meshq_ahead_forget (vhost->engine, queue);
        zhashx_destroy (&qmesh->origins);
        zhashx_destroy (&qmesh->told);
        free (qmesh);
        meshq_queue_set_mesh (queue, NULL);
    }
}

void
meshq_engine_mesh_owner (meshq_queue_t *queue, const uint8_t *node)
{
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, true);
    qmesh->owned_elsewhere = true;
    memcpy (qmesh->owner, node, 16);
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

int
meshq_engine_mesh_send (meshq_engine_t *self, meshq_session_t *session,
                        const char *verb, const void *args, size_t args_size,
                        const void *body, size_t size)
{
    meshq_vhost_t *vhost = session->vhost;
    if (!vhost->peers || session->dead)
        return MESHQ_ECONNLOST;
    int command = meshq_mesh_command_index (verb);
    if (command < 0) {
        //  A reply meant for a client (OK, ERROR) reached a peer's
        //  session: the peer could not read it, so it stays here.
        meshq_engine_warn (self,
                           "mesh: frame not sent verb=%s peer=%s reason=not "
                           "a command between agents",
                           verb, session->user);
        return MESHQ_EINVAL;
    }
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, verb);
    zmsg_addmem (msg, args, args_size);
    if (body)
        zmsg_addmem (msg, body, size);
    //  A digest that waited for a sign of life cost an idle pair a PING,
    //  its PONG and a second of quick ticks every 10 s or so: half the
    //  wakes of an idle agent's loop in a mesh of 80.
    int rc = meshq_mesh_command_awaited (command)
                 ? meshq_peers_send (vhost->peers, session->id, &msg)
                 : meshq_peers_send_unawaited (vhost->peers, session->id, &msg);
    zmsg_destroy (&msg);
    if (!rc)
        self->mesh_commands[0][command]++;
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
    meshq_mesh_send_tags_of (self, session, verb, &args, values, count);
}

void
meshq_mesh_send_tags_of (meshq_engine_t *self, meshq_session_t *session,
                         const char *verb, const meshq_args_t *with,
                         const uint64_t *values, size_t count)
{
    meshq_args_t args = *with;
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
    if (!session->link.ack_count)
        return;
    meshq_mesh_send_tags (self, session, "ACK", session->link.acks,
                          session->link.ack_count);
    session->link.ack_count = 0;
}

void
meshq_engine_mesh_settled (meshq_engine_t *self, meshq_entry_t *entry,
                           const char *verb, bool requeue)
{
    meshq_vhost_t *vhost = meshq_queue_host (entry->queue);
    meshq_session_t *origin = meshq_mesh_peer_session (vhost, entry->origin);
    if (!origin || origin->link.number != entry->origin_link) {
        //  It is down or cut off, or back over another link since the
        //  message came: it took the message back when the link went
        //  down, and the tag is not ours to use. An ack is told by the
        //  message's id (ACKED, agent_dedup.c), at once if it is up, so
        //  that it does not deliver the message again; the rest it
        //  redelivers anyway.
        if (streq (verb, "ACK")) {
            meshq_dedup_late_ack (vhost, entry->origin,
                                  meshq_queue_name (entry->queue), entry->seq);
            //  Sent at the end of the turn if the origin is up.
            if (origin)
                meshq_engine_arm_turn (self);
        }
        return;
    }
    if (streq (verb, "ACK")) {
        if (origin->link.ack_count == origin->link.ack_capacity) {
            origin->link.ack_capacity =
                origin->link.ack_capacity ? origin->link.ack_capacity * 2 : 64;
            origin->link.acks =
                realloc (origin->link.acks,
                         origin->link.ack_capacity * sizeof (uint64_t));
            assert (origin->link.acks);
        }
        origin->link.acks[origin->link.ack_count++] = entry->origin_dtag;
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
    uint32_t avail = meshq_ahead_grantable (self, queue);
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
    if (vhost->peers) {
        //  What was read ahead goes before anything else.
        meshq_ahead_release (self, queue);
        s_grant (self, vhost, queue);
    }
}

//  Whether session was told a backlog of qmesh's queue over its link.
static bool
s_told (meshq_qmesh_t *qmesh, const meshq_session_t *session, const char *key)
{
    void *link = qmesh->told ? zhashx_lookup (qmesh->told, key) : NULL;
    return link && (uintptr_t)link == session->link.number;
}

//  Tells the peers that consume queue (meshq_mesh_interested) that it
//  has ready messages: all of them (a change), or those not told yet
//  (a consumer record came, or a link). Those told once that no longer
//  consume it are told it ended, so that they grant no more for it.
static void
s_tell (meshq_engine_t *self, meshq_vhost_t *vhost, meshq_queue_t *queue,
        meshq_qmesh_t *qmesh, uint64_t ready, bool all)
{
    if (!qmesh->told) {
        if (!ready)
            return;
        qmesh->told = zhashx_new ();
    }
    char prefix[36];
    meshq_mesh_interest_prefix (meshq_queue_name (queue), prefix);
    meshq_session_t *session = zhashx_first (vhost->peer_sessions);
    for (; session; session = zhashx_next (vhost->peer_sessions)) {
        const char *key = zhashx_cursor (vhost->peer_sessions);
        bool told = s_told (qmesh, session, key);
        bool wants = meshq_mesh_interested (vhost, prefix, session);
        if (wants && (all || (ready && !told)))
            meshq_mesh_announce (self, session, queue, ready, 0);
        else if (!wants && told)
            meshq_mesh_announce (self, session, queue, 0, 0);
        if (wants && ready)
            zhashx_update (qmesh->told, key,
                           (void *)(uintptr_t)session->link.number);
        else if (told || !wants)
            zhashx_delete (qmesh->told, key);
    }
    //  Links gone since: their peers forgot the backlog with them.
    if (all && zhashx_size (qmesh->told) > zhashx_size (vhost->peer_sessions)) {
        zlistx_t *gone = zhashx_keys (qmesh->told);
        for (char *key = zlistx_first (gone); key; key = zlistx_next (gone))
            if (!zhashx_lookup (vhost->peer_sessions, key))
                zhashx_delete (qmesh->told, key);
        zlistx_destroy (&gone);
    }
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
                meshq_mesh_announce (self, consumer->session, queue, 0, unused);
            }
    }
    bool edge = (ready == 0) != (announced == 0);
    bool due = ready != announced &&
               (edge || !qmesh || now - qmesh->announced_at >= S_ANNOUNCE_MS);
    if (due) {
        qmesh = meshq_qmesh (queue, true);
        qmesh->announced = ready;
        qmesh->announced_at = now;
        qmesh->retell = false;
        s_tell (self, vhost, queue, qmesh, ready, true);
    } else if (qmesh && qmesh->retell) {
        //  Who consumes it changed: the newcomers hear what the others
        //  heard last, those gone hear it ended.
        qmesh->retell = false;
        s_tell (self, vhost, queue, qmesh, announced, false);
    }
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
            s_flush_acks (self, session);
            meshq_dedup_send_late (self, session);
        }
        meshq_queue_t *queue = zhashx_first (vhost->queues);
        for (; queue; queue = zhashx_next (vhost->queues)) {
            meshq_mesh_interest_note (vhost, queue);
            s_backlog (self, vhost, queue, now);
            s_grant (self, vhost, queue);
        }
    }
}

void
meshq_engine_mesh_tick (meshq_engine_t *self)
{
    meshq_mesh_introduce_missing (self, zclock_mono ());
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        meshq_mesh_interest_tick (self, vhost);
        meshq_mesh_digest_tick (self, vhost, zclock_mono ());
    }
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
    config.seed_refresh_ms = self->config.seeds_refresh_ms;
    config.beacon_interval_ms = self->config.beacon_ms;
    config.transport =
        streq (self->config.transport, "multicast") ? MESHQ_TRANSPORT_MULTICAST
        : streq (self->config.transport, "broadcast")
            ? MESHQ_TRANSPORT_BROADCAST
        : streq (self->config.transport, "ipv6") ? MESHQ_TRANSPORT_IPV6
                                                 : MESHQ_TRANSPORT_AUTO;
    config.heartbeat_ms = self->config.heartbeat_ms;
    config.peer_timeout_ms = self->config.peer_timeout_ms;
    config.full_links = self->config.full_links;
    config.max_links = self->config.max_links;
    config.max_msg_size = self->config.max_message + 65536;
    config.commands = MESHQ_MESH_COMMANDS;
    //  One membership per agent: the default vhost's. Another vhost's
    //  mesh runs none (no beacons, no probes, no UDP socket) and takes
    //  its members' liveness from it; its peers come by VHOST.
    bool follower = vhost != self->root && self->root && self->root->peers;
    config.no_membership = follower;
    char public_key[41], secret_key[41];
    if (self->mesh_secret) {
        meshq_mesh_secret_keypair (self->mesh_key, vhost->name, public_key,
                                   secret_key);
        config.curve_public = public_key;
        config.curve_secret = secret_key;
    }
    vhost->peers = meshq_peers_new (&config);
    sodium_memzero (secret_key, sizeof secret_key);
    meshq_peers_set_handler (vhost->peers, meshq_mesh_on_peer, vhost);
    if (follower)
        meshq_peers_follow (vhost->peers, self->root->peers);
    else if (vhost == self->root)
        meshq_peers_set_gone (vhost->peers, meshq_mesh_member_gone, self);
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
            meshq_mesh_send_vhost (self, session, vhost);
    }
    return 0;
}

void
meshq_engine_mesh_stop (meshq_vhost_t *vhost)
{
    if (!vhost->peers)
        return;
    //  The other vhosts follow the default vhost's membership: not once
    //  it is gone (vhosts close in no set order). On a copy of the
    //  list: the caller may be walking the vhosts.
    meshq_engine_t *self = vhost->engine;
    if (vhost == self->root) {
        zlistx_t *vhosts = zhashx_values (self->vhosts);
        meshq_vhost_t *other = zlistx_first (vhosts);
        for (; other; other = zlistx_next (vhosts))
            if (other != vhost && other->peers)
                meshq_peers_follow (other->peers, NULL);
        zlistx_destroy (&vhosts);
    }
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
