/*  agent_mesh_peers.c - the mesh's peers: what happens when one comes
    up or goes down, and what each command from a peer does (META,
    BACKLOG, GRANT, DELIVER, ACK, NACK, IN_PROGRESS, ACKED, VHOST;
    docs/PROTOCOL.md, section 4). The credit flow they take part in is
    described in agent_mesh.c.
*/
#include "agent_mesh.h"
#include "codec_args.h"
#include "peers.h"

#include <inttypes.h>

//  Interval of VHOST to peers that a vhost's mesh does not have up.
#define S_INTRODUCE_MS 1000

//  Deliveries to a peer in one DELIVER frame, at most.
#define S_PEER_BATCH 256

// --------------------------------------------------------------------
//  Peers up and down

void
meshq_mesh_announce (meshq_engine_t *self, meshq_session_t *session,
                     meshq_queue_t *queue, uint64_t ready, uint32_t credit)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span (meshq_queue_name (queue)));
    MESHQ_ARGS_SET (&args, MESSAGES, messages, ready);
    if (credit)
        MESHQ_ARGS_SET (&args, CREDIT, credit, credit);
    meshq_engine_send (self, session, "BACKLOG", &args, NULL, 0);
}

//  Tells a peer of the default vhost where our mesh of another vhost is.
void
meshq_mesh_send_vhost (meshq_engine_t *self, meshq_session_t *session,
                       meshq_vhost_t *vhost)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, VHOST, vhost, meshq_span (vhost->name));
    MESHQ_ARGS_SET (&args, ENDPOINT, endpoint,
                    meshq_span (meshq_peers_endpoint (vhost->peers)));
    MESHQ_ARGS_SET (&args, INCARNATION, incarnation,
                    meshq_peers_incarnation (vhost->peers));
    meshq_engine_send (self, session, "VHOST", &args, NULL, 0);
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
    //  Deliveries to a peer go several to a frame, as to a client that
    //  takes batches (docs/PROTOCOL.md, section 4).
    session->batch = S_PEER_BATCH;
    snprintf (session->user, sizeof session->user, "%s",
              *peer->name ? peer->name : key);
    session->deliveries = meshq_map64_new ();
    session->consumers = zlistx_new ();
    session->last_seen = zclock_mono ();
    //  Delivery tags never repeat across the peer's sessions, nor across
    //  our restarts (ms << 20 leaves a million tags a ms): a settlement
    //  made over a link that went down, and sent over the one that came
    //  back, finds no delivery rather than another message's.
    session->next_dtag = (uint64_t)zclock_time () << 20;
    //  What it sends us is marked with this link; what came over an
    //  earlier one is settled by message id (meshq_engine_mesh_settled).
    session->link.number = ++self->links;
    //  Told a backlog only where its records say it consumes, if it
    //  writes them; else, an older agent, every backlog as before.
    session->link.records = meshq_mesh_answers (peer, "INTEREST");
    zhashx_insert (vhost->peer_sessions, key, session);
    meshq_notice ("mesh: peer up vhost=%s name=%s endpoint=%s", vhost->name,
                  peer->name, peer->endpoint);
    meshq_mesh_digest_link_up (self, session);
    if (vhost == self->root) {
        meshq_vhost_t *other = zhashx_first (self->vhosts);
        for (; other; other = zhashx_next (self->vhosts))
            if (other != self->root && other->peers)
                meshq_mesh_send_vhost (self, session, other);
    }
    meshq_dedup_peer_up (self, session);
    //  Our backlogs that it consumes, by the records we have of it, are
    //  told at the turn's end; those its records name later, when they
    //  come (agent_interest.c).
    meshq_queue_t *queue = zhashx_first (vhost->queues);
    for (; queue; queue = zhashx_next (vhost->queues)) {
        meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
        if (qmesh)
            qmesh->retell = true;
    }
    meshq_mesh_gather_linked (self, session, peer);
}

static void
s_peer_down (meshq_engine_t *self, meshq_vhost_t *vhost,
             const meshq_peer_info_t *peer)
{
    char key[33];
    meshq_hex16 (peer->id, key);
    if (streq (peer->reason, "unlinked"))
        meshq_info ("mesh: link closed vhost=%s name=%s reason=%s", vhost->name,
                    peer->name, peer->reason);
    else
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
    //  What we held of its messages it requeues itself.
    for (queue = zhashx_first (vhost->queues); queue;
         queue = zhashx_next (vhost->queues))
        meshq_ahead_drop (self, queue, peer->id);
    //  Exclusive queues of its connections die with them, mesh-wide (if
    //  it is only cut off, it says so when it is back).
    zlistx_t *orphans = zlistx_new ();
    for (queue = zhashx_first (vhost->queues); queue;
         queue = zhashx_next (vhost->queues)) {
        meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
        if (qmesh && qmesh->owned_elsewhere &&
            memcmp (qmesh->owner, peer->id, 16) == 0)
            zlistx_add_end (orphans, queue);
    }
    while ((queue = zlistx_detach (orphans, NULL)))
        meshq_vhost_queue_delete (vhost, queue);
    zlistx_destroy (&orphans);
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
            meshq_engine_send (self, session, "BACKLOG", &back, NULL, 0);
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
              const meshq_args_t *args, const void *body, size_t size)
{
    meshq_vhost_t *vhost = session->vhost;
    meshq_queue_t *queue = s_queue (vhost, args);
    bool credited = false;
    if (queue) {
        meshq_qmesh_t *qmesh = meshq_qmesh (queue, true);
        char key[33];
        meshq_hex16 (session->id, key);
        meshq_origin_t *origin = zhashx_lookup (qmesh->origins, key);
        if (origin && origin->outstanding) {
            origin->outstanding--;
            meshq_queue_reserve (queue, -1);
            credited = true;
        }
    }
    meshq_entry_t *entry = meshq_engine_entry_new (self);
    entry->remote = true;
    memcpy (entry->origin, session->id, 16);
    entry->origin_link = session->link.number;
    entry->origin_dtag = args->dtag;
    entry->seq = args->seq;
    entry->deliveries = (uint32_t)args->count;
    entry->redelivered = args->redelivered;
    entry->body_size = (uint32_t)size;
    entry->blob = meshq_blob_new (body, size, &self->memory);
    //  No consumer to take it (it went away): back to its origin.
    if (!queue || !meshq_ahead_hold (self, queue, entry, credited))
        meshq_ahead_give_back (self, vhost, entry);
}

//  DELIVER: one message, or (with nb) a frame of deliveries back to back,
//  each an item of dtag, seq, count, redelivered and envelope.
static void
s_on_deliver_batch (meshq_engine_t *self, meshq_session_t *session,
                    meshq_args_t *args, zframe_t *body)
{
    if (!MESHQ_ARGS_HAS (args, BATCH)) {
        s_on_deliver (self, session, args, zframe_data (body),
                      zframe_size (body));
        return;
    }
    meshq_span_t cursor = {(const char *)zframe_data (body),
                           (uint32_t)zframe_size (body)};
    for (uint64_t i = 0; i < args->batch && cursor.size; i++) {
        meshq_delivery_item_t item;
        const char *why = NULL;
        if (meshq_codec_decode_delivery (
                &cursor, (uint32_t)self->config.max_message, &item, &why)) {
            meshq_engine_bad_input (self,
                                    "mesh: DELIVER dropped peer=%s reason=%s",
                                    session->user, why);
            return;
        }
        args->dtag = item.dtag;
        args->seq = item.seq;
        args->count = item.count;
        args->redelivered = item.redelivered;
        s_on_deliver (self, session, args, item.envelope.data,
                      item.envelope.size);
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

//  A command from a peer: its frames after the verb, decoded.
typedef void (s_handler_fn) (meshq_engine_t *self, meshq_session_t *session,
                             meshq_args_t *args, zframe_t *body);

static void
s_on_meta (meshq_engine_t *self, meshq_session_t *session, meshq_args_t *args,
           zframe_t *body)
{
    char key[MESHQ_MAX_HEADER_VALUE + 1];
    snprintf (key, sizeof key, "%.*s", (int)args->meta_key.size,
              args->meta_key.data ? args->meta_key.data : "");
    if (!*key || !MESHQ_ARGS_HAS (args, META_VERSION))
        meshq_engine_bad_input (self,
                                "mesh: META dropped peer=%s "
                                "reason=no key or version",
                                session->user);
    else if (meshq_vhost_meta_receive (session->vhost, key, args->meta_version,
                                       body ? zframe_data (body) : NULL,
                                       body ? zframe_size (body) : 0))
        meshq_mesh_interest_forward (self, session, key);
}

static void
s_on_grant_frame (meshq_engine_t *self, meshq_session_t *session,
                  meshq_args_t *args, zframe_t *body)
{
    (void)body;
    s_on_grant (self, session, args);
}

static void
s_on_backlog_frame (meshq_engine_t *self, meshq_session_t *session,
                    meshq_args_t *args, zframe_t *body)
{
    (void)body;
    s_on_backlog (self, session, args);
}

static void
s_on_deliver_frame (meshq_engine_t *self, meshq_session_t *session,
                    meshq_args_t *args, zframe_t *body)
{
    if (body)
        s_on_deliver_batch (self, session, args, body);
    else
        meshq_engine_bad_input (self,
                                "mesh: DELIVER dropped peer=%s reason=no "
                                "envelope",
                                session->user);
}

static void
s_on_acked_frame (meshq_engine_t *self, meshq_session_t *session,
                  meshq_args_t *args, zframe_t *body)
{
    (void)body;
    meshq_dedup_on_acked (self, session, args);
}

static void
s_on_vhost_frame (meshq_engine_t *self, meshq_session_t *session,
                  meshq_args_t *args, zframe_t *body)
{
    (void)body;
    s_on_vhost (self, session->vhost, session, args);
}

static void
s_on_ack (meshq_engine_t *self, meshq_session_t *session, meshq_args_t *args,
          zframe_t *body)
{
    (void)body;
    meshq_engine_settle (self, session, "ACK", args);
}

static void
s_on_nack (meshq_engine_t *self, meshq_session_t *session, meshq_args_t *args,
           zframe_t *body)
{
    (void)body;
    meshq_engine_settle (self, session, "NACK", args);
}

static void
s_on_in_progress (meshq_engine_t *self, meshq_session_t *session,
                  meshq_args_t *args, zframe_t *body)
{
    (void)body;
    meshq_engine_settle (self, session, "IN_PROGRESS", args);
}

//  Every command agents send each other (docs/PROTOCOL.md, section 4):
//  what a peer sends is handled by this table, and what we send a peer
//  must be in it. Replies to clients (OK, ERROR) are not: a peer could
//  not read them.
static const struct {
    const char *verb;       //  The command.
    s_handler_fn *handler;  //  What handles it.
    bool unawaited;         //  Sent, it asks for no sign of life: a
                            //  digest, which the next one repeats and
                            //  a peer in step does not answer.
} s_commands[] = {
    {"META", s_on_meta, false},
    {"GRANT", s_on_grant_frame, false},
    {"BACKLOG", s_on_backlog_frame, false},
    {"DELIVER", s_on_deliver_frame, false},
    {"ACKED", s_on_acked_frame, false},
    {"VHOST", s_on_vhost_frame, false},
    {"ACK", s_on_ack, false},
    {"NACK", s_on_nack, false},
    {"IN_PROGRESS", s_on_in_progress, false},
    //  Announced in HELLO (MESHQ_MESH_COMMANDS): sent only to peers
    //  that announce them too.
    {"QUERY", meshq_mesh_on_query, false},
    {"ANSWER", meshq_mesh_on_answer, false},
    {"DIGEST", meshq_mesh_on_digest, true},
    {"DIGEST_BACK", meshq_mesh_on_digest_back, true},
};

//  The command's index in s_commands, or -1.
static int
s_command (const char *verb)
{
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (streq (verb, s_commands[i].verb))
            return (int)i;
    return -1;
}

bool
meshq_mesh_command_known (const char *verb)
{
    return s_command (verb) >= 0;
}

int
meshq_mesh_command_index (const char *verb)
{
    return s_command (verb);
}

bool
meshq_mesh_command_awaited (int index)
{
    return index >= 0 &&
           (size_t)index < sizeof s_commands / sizeof s_commands[0] &&
           !s_commands[index].unawaited;
}

const char *
meshq_mesh_command_name (int index)
{
    _Static_assert(sizeof s_commands / sizeof s_commands[0] <=
                       MESHQ_MESH_COMMAND_MAX,
                   "room for every command's counters");
    return index >= 0 &&
                   (size_t)index < sizeof s_commands / sizeof s_commands[0]
               ? s_commands[index].verb
               : NULL;
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
    int command = s_command (verb);
    if (command >= 0) {
        self->mesh_commands[1][command]++;
        s_commands[command].handler (self, session, &args, body);
    } else
        meshq_engine_bad_input (self, "mesh: unknown command verb=%s peer=%s",
                                verb, peer->name);
}

void
meshq_mesh_on_peer (void *arg, meshq_peer_event_t event,
                    const meshq_peer_info_t *peer, zmsg_t **msg_p)
{
    meshq_vhost_t *vhost = arg;
    meshq_engine_t *self = vhost->engine;
    if (event == MESHQ_PEER_UP)
        s_peer_up (self, vhost, peer);
    else if (event == MESHQ_PEER_DOWN)
        s_peer_down (self, vhost, peer);
    else if (msg_p && *msg_p)
        s_on_message (self, vhost, peer, *msg_p);
    //  Deliveries of messages from peers go out now, not at the turn's
    //  end: a batch holds its consumer and its no-ack entries, which a
    //  client's frame handled meanwhile could cancel or delete.
    meshq_engine_batch_flush (self);
    meshq_engine_arm_turn (self);
}

//  Tells the peers of the default vhost again where our other vhosts'
//  meshes are, if those meshes do not have them up: a VHOST lost, or a
//  vhost's peer counted down while the default vhost's stayed up, would
//  otherwise keep them apart until the default vhost's peer comes up
//  again.
void
meshq_mesh_introduce_missing (meshq_engine_t *self, int64_t now)
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
                meshq_mesh_send_vhost (self, session, vhost);
        }
    }
}

// --------------------------------------------------------------------
//  One membership per agent

void
meshq_mesh_member_gone (void *arg, const uint8_t node[16], uint64_t incarnation,
                        bool left)
{
    meshq_engine_t *self = arg;
    char hex[33];
    meshq_hex16 (node, hex);
    meshq_info ("mesh: member gone id=%s incarnation=%" PRIu64 " left=%s", hex,
                incarnation, left ? "true" : "false");
    //  Each vhost's link to it goes down now, with what was in flight
    //  to it requeued (s_peer_down), as the default vhost's does. On a
    //  copy of the list: the membership may be acting inside a walk of
    //  the vhosts (a want, from the tick).
    zlistx_t *vhosts = zhashx_values (self->vhosts);
    meshq_vhost_t *vhost = zlistx_first (vhosts);
    for (; vhost; vhost = zlistx_next (vhosts))
        if (vhost != self->root && vhost->peers)
            meshq_peers_member_gone (vhost->peers, node, left);
    zlistx_destroy (&vhosts);
}

meshq_peers_t *
meshq_mesh_membership (meshq_vhost_t *vhost)
{
    if (!vhost->peers || meshq_peers_has_membership (vhost->peers))
        return vhost->peers;
    meshq_engine_t *self = vhost->engine;
    return self->root && self->root->peers ? self->root->peers : vhost->peers;
}
