/*  agent_lists.c - STATUS and the LIST_* requests: what an agent and a
    vhost hold, as rows of arguments (docs/PROTOCOL.md, 3.3).
*/
#include "agent_mesh.h"
#include "codec_args.h"
#include "peers.h"

#include <inttypes.h>

void
meshq_engine_reply_list (meshq_engine_t *self, meshq_session_t *session,
                         uint64_t rid, const char *what,
                         const meshq_args_t *rows, size_t count)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    const char *why = NULL;
    int rc = meshq_codec_encode_list (rid, what, rows, count, &buf, &why);
    if (rc)
        meshq_engine_reply_error (self, session, rid, rc, "%s", why);
    else
        meshq_engine_send_raw (self, session, "OK", buf.data, buf.size, NULL,
                               0);
    meshq_buf_fini (&buf);
}

//  Sets the counts of entries disposed of by rule, one per reason.
static void
s_disposed (meshq_args_t *row, const uint64_t *disposed)
{
    MESHQ_ARGS_SET (row, DISPOSED_EXPIRED, disposed_expired,
                    disposed[MESHQ_DISPOSED_EXPIRED]);
    MESHQ_ARGS_SET (row, DISPOSED_MAXLEN, disposed_maxlen,
                    disposed[MESHQ_DISPOSED_MAXLEN]);
    MESHQ_ARGS_SET (row, DISPOSED_REJECTED, disposed_rejected,
                    disposed[MESHQ_DISPOSED_REJECTED]);
    MESHQ_ARGS_SET (row, DISPOSED_LIMIT, disposed_limit,
                    disposed[MESHQ_DISPOSED_DELIVERY_LIMIT]);
    MESHQ_ARGS_SET (row, DISPOSED_DEDUP, disposed_dedup,
                    disposed[MESHQ_DISPOSED_DEDUP]);
}

void
meshq_engine_status (meshq_engine_t *self, meshq_session_t *session,
                     const meshq_args_t *args)
{
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    char node[33];
    for (int i = 0; i < 16; i++)
        snprintf (node + 2 * i, 3, "%02x", self->node_id[i]);
    MESHQ_ARGS_SET (&results, NODE, node, meshq_span (node));
    MESHQ_ARGS_SET (&results, NAME, name, meshq_span (self->config.name));
    char version[32];
    snprintf (version, sizeof version, "%d.%d.%d", MESHQ_VERSION_MAJOR,
              MESHQ_VERSION_MINOR, MESHQ_VERSION_PATCH);
    MESHQ_ARGS_SET (&results, VERSION, version, meshq_span (version));
    MESHQ_ARGS_SET (&results, UPTIME, uptime,
                    (uint64_t)(zclock_mono () - self->started));
    uint64_t messages = 0;
    meshq_queue_t *queue = zhashx_first (session->vhost->queues);
    for (; queue; queue = zhashx_next (session->vhost->queues))
        messages += meshq_queue_ready (queue) + meshq_queue_unacked (queue);
    MESHQ_ARGS_SET (&results, MESSAGES, messages, messages);
    MESHQ_ARGS_SET (&results, QUARANTINED, quarantined,
                    meshq_vhost_quarantined (session->vhost, NULL));
    MESHQ_ARGS_SET (&results, CONSUMERS, consumers,
                    zhashx_size (self->sessions));
    //  Logins the auth module refused, and accesses the engine did.
    const meshq_auth_stats_t *auth = meshq_auth_stats (self->auth);
    uint64_t refused = self->auth_failures;
    for (int i = 0; i < MESHQ_AUTH_REASONS; i++)
        refused += auth->refused[i];
    MESHQ_ARGS_SET (&results, REFUSED, refused, refused);
    MESHQ_ARGS_SET (&results, REFUSED_PASSWORD, refused_password,
                    auth->refused[MESHQ_AUTH_PASSWORD]);
    MESHQ_ARGS_SET (&results, REFUSED_BUSY, refused_busy,
                    auth->refused[MESHQ_AUTH_BUSY]);
    MESHQ_ARGS_SET (&results, REFUSED_THROTTLED, refused_throttled,
                    auth->refused[MESHQ_AUTH_THROTTLED]);
    MESHQ_ARGS_SET (&results, VHOST, vhost, meshq_span (session->vhost->name));
    if (*self->amqp_endpoint)
        MESHQ_ARGS_SET (&results, AMQP, amqp, meshq_span (self->amqp_endpoint));
    if (self->config.mesh) {
        MESHQ_ARGS_SET (&results, MESH, mesh,
                        meshq_span (*self->config.mesh_name
                                        ? self->config.mesh_name
                                        : "default"));
        MESHQ_ARGS_SET (&results, PEERS, peers,
                        zhashx_size (session->vhost->peer_sessions));
        const char *endpoint = meshq_engine_mesh_endpoint (session->vhost);
        if (endpoint)
            MESHQ_ARGS_SET (&results, ENDPOINT, endpoint,
                            meshq_span (endpoint));
        //  Datagrams on the beacon port that are not beacons at all:
        //  what a misbehaving sender, or noise, costs. (Beacons of other
        //  meshes and our own are normal traffic, not counted here.)
        if (session->vhost->peers) {
            const meshq_peers_stats_t *stats =
                meshq_peers_stats (session->vhost->peers);
            //  Unsealed or forged ones, with a mesh secret, count too.
            uint64_t bad = stats->beacons_dropped[MESHQ_BEACON_DROP_SIZE] +
                           stats->beacons_dropped[MESHQ_BEACON_DROP_SIGNATURE] +
                           stats->beacons_dropped[MESHQ_BEACON_DROP_VERSION] +
                           stats->beacons_dropped[MESHQ_BEACON_DROP_MALFORMED] +
                           stats->beacons_dropped[MESHQ_BEACON_DROP_AUTH] +
                           stats->membership_dropped;
            MESHQ_ARGS_SET (&results, BAD_BEACONS, bad_beacons, bad);
            //  Connections to the mesh endpoint that failed the ZeroMQ
            //  handshake: another mesh secret, or none where one is due.
            MESHQ_ARGS_SET (&results, BAD_HANDSHAKES, bad_handshakes,
                            stats->handshakes_failed);
            //  The vhost's links: open now (and the most at once), their
            //  cap past full_links,
            //  new ones refused at it, and links closed to make room.
            MESHQ_ARGS_SET (&results, LINKS, links, stats->links_open);
            MESHQ_ARGS_SET (&results, LINKS_PEAK, links_peak,
                            stats->links_peak);
            MESHQ_ARGS_SET (&results, MAX_LINKS, max_links, stats->links_max);
            MESHQ_ARGS_SET (&results, LINKS_REFUSED, links_refused,
                            stats->links_refused);
            MESHQ_ARGS_SET (&results, LINKS_EVICTED, links_evicted,
                            stats->links_evicted);
            //  The agent's membership (the default vhost's, which every
            //  vhost shares): members alive (suspects included), those
            //  suspected, and our own health multiplier (1 is healthy;
            //  more: our answers come late, and we slow down).
            const meshq_peers_stats_t *agent =
                meshq_peers_stats (meshq_mesh_membership (session->vhost));
            MESHQ_ARGS_SET (&results, MEMBERS, members, agent->members_alive);
            MESHQ_ARGS_SET (&results, SUSPECTS, suspects,
                            agent->members_suspect);
            MESHQ_ARGS_SET (&results, HEALTH, health, agent->membership_health);
            //  What the membership could not hold: new members beyond
            //  its table, updates pushed out of its gossip queue.
            MESHQ_ARGS_SET (&results, MEMBERS_FULL, members_full,
                            agent->members_full);
            MESHQ_ARGS_SET (&results, GOSSIP_DROPPED, gossip_dropped,
                            agent->gossip_dropped);
            MESHQ_ARGS_SET (&results, ANSWERS_HELD, answers_held,
                            agent->answers_held);
            //  Reachable from the network with no mesh secret.
            MESHQ_ARGS_SET (&results, INSECURE, insecure,
                            meshq_peers_insecure (session->vhost->peers));
            //  Peers that came up with this agent's own name.
            MESHQ_ARGS_SET (&results, DUP_NAMES, dup_names,
                            stats->duplicate_names);
        }
    }
    //  Where HTTP is served (a port 0 setting shows the port picked).
    const char *http = meshq_engine_http_address (self, "http");
    const char *metrics = meshq_engine_http_address (self, "metrics");
    if (http)
        MESHQ_ARGS_SET (&results, HTTP, http, meshq_span (http));
    if (metrics)
        MESHQ_ARGS_SET (&results, METRICS, metrics, meshq_span (metrics));
    char alarms[64];
    meshq_engine_health (self, &results, alarms, sizeof alarms);
    MESHQ_ARGS_SET (&results, DROPPED, dropped, self->malformed);
    MESHQ_ARGS_SET (&results, SLOW_CLIENTS, slow_clients, self->slow_clients);
    MESHQ_ARGS_SET (&results, UNSENT, unsent, self->unsent);
    long rss, peak;
    meshq_engine_memory (&rss, &peak);
    MESHQ_ARGS_SET (&results, RSS, rss, (uint64_t)rss);
    MESHQ_ARGS_SET (&results, RSS_PEAK, rss_peak, (uint64_t)peak);
    if (self->idle_kb)
        MESHQ_ARGS_SET (&results, RSS_IDLE, rss_idle, (uint64_t)self->idle_kb);
    char stages[512];
    meshq_engine_trace_text (self, stages, sizeof stages);
    MESHQ_ARGS_SET (&results, STAGES, stages, meshq_span (stages));
    s_disposed (&results, self->disposed);
    meshq_engine_reply_ok (self, session, &results, args->rid);
}

void
meshq_engine_queue_row (meshq_engine_t *self, meshq_queue_t *queue,
                        meshq_args_t *row)
{
    meshq_vhost_t *vhost = meshq_queue_host (queue);
    MESHQ_ARGS_SET (row, QUEUE, queue, meshq_span (meshq_queue_name (queue)));
    MESHQ_ARGS_SET (row, MESSAGES, messages, meshq_queue_ready (queue));
    MESHQ_ARGS_SET (row, UNACKED, unacked, meshq_queue_unacked (queue));
    MESHQ_ARGS_SET (row, CONSUMERS, consumers,
                    meshq_queue_local_consumers (queue));
    MESHQ_ARGS_SET (row, NAME, name, meshq_span (self->config.name));
    MESHQ_ARGS_SET (row, BYTES, bytes, meshq_queue_ready_bytes (queue));
    MESHQ_ARGS_SET (row, PUBLISH_RATE, publish_rate,
                    (uint64_t)meshq_queue_publish_rate (queue));
    MESHQ_ARGS_SET (row, DELIVER_RATE, deliver_rate,
                    (uint64_t)meshq_queue_deliver_rate (queue));
    MESHQ_ARGS_SET (row, DURABLE, durable, meshq_queue_args (queue)->durable);
    uint64_t quarantined =
        meshq_vhost_quarantined (vhost, meshq_queue_name (queue));
    if (quarantined)
        MESHQ_ARGS_SET (row, QUARANTINED, quarantined, quarantined);
    uint64_t disposed[MESHQ_DISPOSED_COUNT];
    for (int d = 0; d < MESHQ_DISPOSED_COUNT; d++)
        disposed[d] = meshq_queue_disposed (queue, d);
    s_disposed (row, disposed);
}

void
meshq_engine_list (meshq_engine_t *self, meshq_session_t *session,
                   const meshq_args_t *args, const char *what)
{
    size_t capacity = 16, count = 0;
    meshq_args_t *rows = malloc (capacity * sizeof *rows);
    assert (rows);
#define S_ROW()                                                                \
    (count == capacity                                                         \
         ? (rows = realloc (rows, (capacity *= 2) * sizeof *rows),             \
            assert (rows), memset (&rows[count], 0, sizeof *rows),             \
            &rows[count++])                                                    \
         : (memset (&rows[count], 0, sizeof *rows), &rows[count++]))
    if (streq (what, "queues") && args->meshwide) {
        //  Gathered from the mesh, answered when all have answered.
        free (rows);
        meshq_engine_gather_queues (self, session, args);
        return;
    }
    if (streq (what, "queues")) {
        meshq_queue_t *queue = zhashx_first (session->vhost->queues);
        for (; queue; queue = zhashx_next (session->vhost->queues)) {
            meshq_engine_queue_row (self, queue, S_ROW ());
            if (args->local)
                continue;
            //  The part of the queue other agents hold, one row each,
            //  and the total of the mesh in this node's row.
            uint64_t total = meshq_queue_ready (queue);
            size_t first = count;
            meshq_engine_mesh_rows (self, queue, &rows, &count, &capacity);
            for (size_t i = first; i < count; i++)
                total += rows[i].messages;
            MESHQ_ARGS_SET (&rows[first - 1], MESH_READY, mesh_ready, total);
        }
    } else if (streq (what, "exchanges")) {
        meshq_exchange_t *exchange = zhashx_first (session->vhost->exchanges);
        for (; exchange; exchange = zhashx_next (session->vhost->exchanges)) {
            meshq_args_t *row = S_ROW ();
            MESHQ_ARGS_SET (row, EXCHANGE, exchange,
                            meshq_span (meshq_exchange_name (exchange)));
            MESHQ_ARGS_SET (row, TYPE, type,
                            meshq_span (meshq_exchange_type_name (
                                meshq_exchange_type (exchange))));
            MESHQ_ARGS_SET (row, DURABLE, durable,
                            meshq_exchange_durable (exchange));
        }
    } else if (streq (what, "bindings")) {
        meshq_exchange_t *exchange = zhashx_first (session->vhost->exchanges);
        for (; exchange; exchange = zhashx_next (session->vhost->exchanges))
            for (const meshq_binding_t *b = meshq_exchange_bindings (exchange);
                 b; b = b->next) {
                meshq_args_t *row = S_ROW ();
                MESHQ_ARGS_SET (row, EXCHANGE, exchange,
                                meshq_span (meshq_exchange_name (exchange)));
                MESHQ_ARGS_SET (row, QUEUE, queue,
                                meshq_span (meshq_queue_name (b->queue)));
                MESHQ_ARGS_SET (row, KEY, key, meshq_span (b->key));
            }
    } else {
        //  The caller's vhost only, as every other list; an
        //  administrator sees every vhost's, each row naming its own.
        bool every = meshq_auth_tagged (self->auth, session->user,
                                        MESHQ_TAG_ADMINISTRATOR);
        meshq_session_t *owner = zhashx_first (self->sessions);
        for (; owner; owner = zhashx_next (self->sessions)) {
            if (!every && owner->vhost != session->vhost)
                continue;
            meshq_consumer_t *consumer = zlistx_first (owner->consumers);
            for (; consumer; consumer = zlistx_next (owner->consumers)) {
                meshq_args_t *row = S_ROW ();
                MESHQ_ARGS_SET (
                    row, QUEUE, queue,
                    meshq_span (meshq_queue_name (consumer->queue)));
                MESHQ_ARGS_SET (row, TAG, tag, meshq_span (consumer->tag));
                MESHQ_ARGS_SET (row, PREFETCH, prefetch, consumer->prefetch);
                MESHQ_ARGS_SET (row, UNACKED, unacked, consumer->unacked);
                MESHQ_ARGS_SET (row, USER, user, meshq_span (owner->user));
                MESHQ_ARGS_SET (row, VHOST, vhost,
                                meshq_span (owner->vhost->name));
            }
        }
    }
#undef S_ROW
    meshq_engine_reply_list (self, session, args->rid, what, rows, count);
    free (rows);
}

// --------------------------------------------------------------------
//  The mesh's rows: peers, and queues' backlog elsewhere

void
meshq_engine_mesh_rows (meshq_engine_t *self, meshq_queue_t *queue,
                        meshq_args_t **rows, size_t *count, size_t *capacity)
{
    (void)self;
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
    if (!qmesh)
        return;
    meshq_vhost_t *vhost = meshq_queue_host (queue);
    meshq_origin_t *origin = zhashx_first (qmesh->origins);
    for (; origin; origin = zhashx_next (qmesh->origins)) {
        meshq_session_t *session = meshq_mesh_peer_session (vhost, origin->id);
        if (!session || !origin->backlog)
            continue;
        if (*count == *capacity) {
            *rows = realloc (*rows, (*capacity *= 2) * sizeof **rows);
            assert (*rows);
        }
        meshq_args_t *row = &(*rows)[(*count)++];
        memset (row, 0, sizeof *row);
        MESHQ_ARGS_SET (row, QUEUE, queue,
                        meshq_span (meshq_queue_name (queue)));
        MESHQ_ARGS_SET (row, NAME, name, meshq_span (session->user));
        MESHQ_ARGS_SET (row, MESSAGES, messages, origin->backlog);
        //  Every agent keeps the queue's record: the same for its part.
        MESHQ_ARGS_SET (row, DURABLE, durable,
                        meshq_queue_args (queue)->durable);
    }
}

void
meshq_engine_mesh_list (meshq_engine_t *self, meshq_session_t *session,
                        const meshq_args_t *args)
{
    meshq_vhost_t *vhost = session->vhost;
    size_t count = 0, capacity = 16;
    meshq_args_t *rows = calloc (capacity, sizeof *rows);
    assert (rows);
    if (vhost->peers) {
        const meshq_peer_info_t *peer = meshq_peers_first (vhost->peers);
        for (; peer; peer = meshq_peers_next (vhost->peers)) {
            if (count == capacity) {
                rows = realloc (rows, (capacity *= 2) * sizeof *rows);
                assert (rows);
            }
            meshq_args_t *row = &rows[count++];
            memset (row, 0, sizeof *row);
            MESHQ_ARGS_SET (row, ID, id, meshq_span (peer->id_hex));
            MESHQ_ARGS_SET (row, NAME, name, meshq_span (peer->name));
            MESHQ_ARGS_SET (row, ENDPOINT, endpoint,
                            meshq_span (peer->endpoint));
            MESHQ_ARGS_SET (row, STATE, state, meshq_span (peer->state));
            MESHQ_ARGS_SET (row, INCARNATION, incarnation, peer->incarnation);
            MESHQ_ARGS_SET (row, LAST_SEEN, last_seen, peer->last_seen_ms);
            //  The membership's view of it, which may differ from its
            //  link's: a link down to a member alive, a member dead
            //  whose link has not noticed yet.
            MESHQ_ARGS_SET (row, MEMBER, member, meshq_span (peer->member));
            MESHQ_ARGS_SET (row, MEMBER_INCARNATION, member_incarnation,
                            peer->member_inc);
            MESHQ_ARGS_SET (row, MEMBER_VERSION, member_version,
                            peer->member_ver);
            //  Credit it granted us and we have not used; deliveries to
            //  it not yet settled.
            meshq_session_t *peer_session =
                meshq_mesh_peer_session (vhost, peer->id);
            uint64_t credit = 0, inflight = 0;
            if (peer_session) {
                meshq_consumer_t *consumer =
                    zlistx_first (peer_session->consumers);
                for (; consumer;
                     consumer = zlistx_next (peer_session->consumers)) {
                    credit += consumer->prefetch > consumer->unacked
                                  ? consumer->prefetch - consumer->unacked
                                  : 0;
                    inflight += consumer->unacked;
                }
            }
            MESHQ_ARGS_SET (row, CREDIT, credit, credit);
            MESHQ_ARGS_SET (row, INFLIGHT, inflight, inflight);
        }
    }
    //  Past full_links, members this agent never linked to: the
    //  membership's word alone (no name, no link, no credit).
    meshq_peers_member_t *members = NULL;
    size_t unlinked =
        vhost->peers ? meshq_peers_unlinked (vhost->peers, &members) : 0;
    for (size_t i = 0; i < unlinked; i++) {
        if (count == capacity) {
            rows = realloc (rows, (capacity *= 2) * sizeof *rows);
            assert (rows);
        }
        const meshq_peers_member_t *member = &members[i];
        meshq_args_t *row = &rows[count++];
        memset (row, 0, sizeof *row);
        MESHQ_ARGS_SET (row, ID, id, meshq_span (member->id_hex));
        MESHQ_ARGS_SET (row, NAME, name, meshq_span (""));
        MESHQ_ARGS_SET (row, ENDPOINT, endpoint, meshq_span (member->endpoint));
        MESHQ_ARGS_SET (row, STATE, state, meshq_span (member->member));
        MESHQ_ARGS_SET (row, INCARNATION, incarnation, member->incarnation);
        MESHQ_ARGS_SET (row, LAST_SEEN, last_seen, 0);
        MESHQ_ARGS_SET (row, MEMBER, member, meshq_span (member->member));
        MESHQ_ARGS_SET (row, MEMBER_INCARNATION, member_incarnation,
                        member->incarnation);
        MESHQ_ARGS_SET (row, MEMBER_VERSION, member_version, member->version);
        MESHQ_ARGS_SET (row, CREDIT, credit, 0);
        MESHQ_ARGS_SET (row, INFLIGHT, inflight, 0);
    }
    meshq_engine_reply_list (self, session, args->rid, "peers", rows, count);
    free (rows);
    free (members);
}
