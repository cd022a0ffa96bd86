/*  agent_internal.h - the agent engine's state, shared by its files.

    The engine is one actor split by subject: agent.c (sockets, the
    loop, sessions), agent_commands.c (declarations, bindings),
    agent_lists*.c and agent_health.c (status and lists, the mesh-wide
    ones gathered from the peers), agent_messages.c (publish, delivery,
    acks, confirms, dead letters, recovery). Everything here lives on
    the actor's thread.
*/
#ifndef MESHQ_AGENT_INTERNAL_H_INCLUDED
#define MESHQ_AGENT_INTERNAL_H_INCLUDED

#include "agent.h"
#include "agent_trace.h"
#include "auth.h"
#include "args.h"
#include "buf.h"
#include "exchange.h"
#include "hist.h"
#include "map64.h"
#include "queue.h"
#include "store.h"

typedef struct _meshq_session_t meshq_session_t;
typedef struct _meshq_vhost_t meshq_vhost_t;
typedef struct _meshq_engine_t meshq_engine_t;
typedef struct _meshq_batch_t meshq_batch_t;

//  A front door other than the ROUTER (docs/decisions/0017): the engine
//  hands its sessions' frames to it, as the native verbs and arguments
//  it would send (OK, ERROR, DELIVER, CONFIRM, NACK, RETURN, BLOCKED,
//  UNBLOCKED); body is the message envelope when there is one.
typedef struct {
    //  Returns 0, or MESHQ_EAGAIN (the client does not read) or
    //  MESHQ_ECONNLOST (it is going) if the frame cannot go out: the
    //  session then ends at the end of the turn.
    int (*send) (void *arg, meshq_session_t *session, const char *verb,
                 const meshq_args_t *args, const void *body, size_t size);
    //  The engine removed a consumer of the session (its queue went).
    void (*cancelled) (void *arg, meshq_session_t *session, const char *tag);
    //  The engine closes the session (it could not send to it).
    void (*closed) (void *arg, meshq_session_t *session);
} meshq_front_t;

//  Who may send a verb (meshq_engine_request).
#define MESHQ_DOOR_NATIVE 1  //  A client of the ROUTER.
#define MESHQ_DOOR_AMQP   2  //  An AMQP channel (agents/amqp/).

//  Room for the commands between agents, counted by command.
#define MESHQ_MESH_COMMAND_MAX 16

//  Copies a span into a NUL-terminated buffer of MESHQ_MAX_SHORTSTR + 1.
static inline void
meshq_span_copy (char *out, meshq_span_t span)
{
    if (span.size)
        memcpy (out, span.data, span.size);
    out[span.size] = 0;
}

//  Writes a 16-byte id as 32 hex digits and a NUL.
static inline void
meshq_hex16 (const uint8_t *id, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[32] = 0;
}

//  A zlistx/zhashx destructor for items made with malloc.
static inline void
meshq_free_item (void **item)
{
    free (*item);
    *item = NULL;
}

//  A metadata record as a vhost holds it in memory (agent_meta.c).
typedef struct {
    uint64_t version;  //  Lamport clock << 20 | writer.
    uint32_t size;     //  Bytes of the record.
    bool present;      //  false: a tombstone.
    uint8_t data[];    //  The record, an argument map.
} meshq_meta_entry_t;

//  Buckets of a vhost's metadata digest (agent_meta_sync.c).
#define MESHQ_META_BUCKETS 64

//  A virtual host: an isolated namespace with its own store.
struct _meshq_vhost_t {
    meshq_engine_t *engine;             //  Its engine.
    char name[MESHQ_MAX_SHORTSTR + 1];  //  Vhost name, "/" by default.
    char dir[1024];                     //  Its store directory.
    meshq_store_t *store;               //  Its durable log.
    zhashx_t *queues;                   //  Name -> meshq_queue_t.
    zhashx_t *exchanges;                //  Name -> meshq_exchange_t.
    meshq_map64_t *tickets;             //  Store ticket -> meshq_pending_t.
    uint64_t meta_version;              //  Last metadata version written.
    zlistx_t *restoring;                //  Bindings waiting for their parts.
    zhashx_t *meta;                     //  Key -> meshq_meta_entry_t.
    uint64_t meta_digest[MESHQ_META_BUCKETS];  //  Of meta, for peers
                                               //  (agent_meta_sync.c).
    int64_t meta_sync_at;                      //  Next digest exchange, or 0.
    struct _meshq_peers_t *peers;              //  Its mesh, or NULL.
    zhashx_t *peer_sessions;    //  Peer id hex -> meshq_session_t.
    zhashx_t *late_acks;        //  Acks for origins away, or NULL.
    meshq_queue_t *last_route;  //  Last default-exchange route.
    uint64_t route_mark;        //  Last mark given to a route.
    zhashx_t *quarantine;       //  Queue name -> meshq_quarantine_t, or NULL.
    uint64_t unreadable;        //  Stored messages kept but not loaded.
    uint64_t foreign;           //  Stored messages of another origin seen.
    bool rebasing;              //  Recovery's pass over those.
    zlistx_t *rebased;          //  Their old ids, acked once rebased.
};

//  A queue restored without a readable record: its messages are kept
//  and served, and it is listed as quarantined (docs/STORAGE.md 9.2).
typedef struct {
    uint64_t messages;  //  Messages restored into it.
} meshq_quarantine_t;

//  An entry on its way to a dead-letter exchange.
typedef struct {
    meshq_entry_t *entry;  //  Out of its queue, not yet freed.
    const char *reason;    //  "expired", "maxlen", "rejected", ...
} meshq_death_t;
typedef struct _meshq_pending_t meshq_pending_t;

//  A publish waiting for its store appends before its confirm.
struct _meshq_pending_t {
    meshq_pending_t *next;     //  Next publish of the session, in order.
    meshq_session_t *session;  //  Its publisher, NULL once gone.
    uint64_t seq;              //  Publisher's sequence number.
    uint32_t remaining;        //  Appends not yet durable.
    int code;                  //  0, or why it is refused.
    const char *why;           //  Static reason when code is set.
    int64_t started_us;        //  Monotonic us it came (/metrics).
};

//  A session: a client's (peer false), or another agent's link (peer
//  true), identified by 16 bytes: a native client's DEALER routing id,
//  a random id for another door's session, a peer's node id. First what
//  the engine keeps for both (deliveries, consumers, confirms), then the
//  client side, then the peer-link side (docs/decisions/0017).
struct _meshq_session_t {
    uint8_t id[16];                     //  Session id.
    meshq_vhost_t *vhost;               //  The vhost it works in.
    bool peer;                          //  Another agent (id: its node id).
    char user[MESHQ_MAX_SHORTSTR + 1];  //  Authenticated user (peer: id).
    uint64_t next_dtag;                 //  Last delivery tag given.
    meshq_map64_t *deliveries;          //  Delivery tag -> entry.
    meshq_entry_t *head;                //  Unacked entries, in tag order.
    meshq_entry_t *tail;                //  Same, last.
    zlistx_t *consumers;                //  Its meshq_consumer_t.
    meshq_pending_t *pending;       //  Publishes awaiting confirm, in order.
    meshq_pending_t *pending_tail;  //  Same, last.
    uint64_t confirmed;             //  Highest seq answered.
    bool confirm_due;               //  A confirm should go out this turn.
    bool dead;                      //  To be closed at the end of the turn.
    uint32_t batch;                 //  Most deliveries it takes per frame.

    //  The client side.
    bool plain;         //  Logged in by ZAP: its frames carry User-Id.
    int64_t last_seen;  //  Monotonic ms of its last frame.
    int heartbeat_ms;   //  Its heartbeat interval.
    char publish_exchange[MESHQ_MAX_SHORTSTR + 1];  //  Last checked.
    uint64_t publish_generation;  //  Permissions it was checked under.
    bool publish_allowed;         //  The answer.
    //  Its door: NULL for the ROUTER, else its frames go to front->send
    //  (an AMQP channel).
    const meshq_front_t *front;
    void *front_arg;              //  front's argument.
    unsigned door;                //  MESHQ_DOOR_*: what it may send.
    meshq_session_t *connection;  //  Owns its exclusive queues; NULL:
                                  //  the session itself.
    bool paused;                  //  Told PAUSE, not yet RESUME.

    //  The peer-link side.
    struct {
        uint64_t *acks;       //  Acks to send this turn.
        size_t ack_count;     //  How many.
        size_t ack_capacity;  //  Room.
        uint32_t number;      //  The engine's count of links.
        bool records;         //  It writes consumer records at any size
                              //  (HELLO announced INTEREST).
    } link;
};

//  The session that owns what a session declares exclusive (an AMQP
//  connection's, for its channels).
static inline meshq_session_t *
meshq_session_owner (meshq_session_t *session)
{
    return session->connection ? session->connection : session;
}

struct _meshq_engine_t {
    zsock_t *pipe;                  //  To the owner.
    zloop_t *loop;                  //  The actor's loop.
    meshq_agent_config_t config;    //  Settings.
    zsock_t *router;                //  Clients connect here.
    zhashx_t *vhosts;               //  Name -> meshq_vhost_t.
    bool restoring_root;            //  The default vhost is being read.
    meshq_auth_t *auth;             //  Users, permissions, logins.
    bool mesh_secret;               //  Mesh links use CURVE, keys made
    uint8_t mesh_key[32];           //  from this (mesh_secret.h).
    uint64_t auth_failures;         //  Accesses (and vhosts) refused.
    char node_hex[33];              //  node_id in hex.
    meshq_vhost_t *root;            //  The default vhost, "/".
    uint8_t node_id[16];            //  This node's id, kept in the store.
    bool node_restored;             //  node_id came from the store.
    uint64_t next_seq;              //  Last message sequence given.
    int64_t started;                //  Monotonic ms at start.
    int64_t sampled;                //  Monotonic ms of the last sample.
    int tick_timer;                 //  The tick's zloop timer.
    bool tick_slow;                 //  Idle: it ticks once a second.
    int64_t introduced;             //  Monotonic ms of the last VHOST round.
    zhashx_t *sessions;             //  Hex session id -> meshq_session_t.
    meshq_session_t *last_session;  //  Cache: sender of the last frame.
    zlistx_t *dirty;                //  Queues to dispatch this turn.
    bool turn_armed;                //  The end-of-turn timer is set.
    meshq_buf_t buf;                //  Reused for argument maps.
    meshq_map64_t *dirty_set;       //  The queues in dirty, by address.
    zlistx_t *dead_letters;         //  meshq_death_t, routed at end of turn.
    zlistx_t *held_replies;         //  Replies waiting for the commit.
    bool hold_replies;              //  Metadata changed this turn.
    uint64_t memory;                //  Bytes of messages held.
    bool blocked;                   //  Publishes refused: memory or disk full.
    const char *blocked_why;        //  Which.
    bool paused;                    //  Publishers asked to pause (flow).
    uint64_t flow_pauses;           //  Times they were.
    int64_t flow_logged;            //  When that was last logged (ms).
    //  The queues that paused them (agent_flow.c): vhost, queue names.
    char flow_queues[8][2][MESHQ_MAX_SHORTSTR + 1];
    //  Counters.
    uint64_t published;      //  Publishes accepted.
    uint64_t delivered;      //  Deliveries sent.
    uint64_t acked;          //  Deliveries acked.
    uint64_t malformed;      //  Frames refused as malformed.
    uint64_t warnings;       //  Bad-input warnings this tick.
    uint64_t suppressed;     //  Those not logged this tick.
    uint64_t dead_lettered;  //  Entries sent to a dead-letter exchange.
    uint64_t duplicates;     //  Deliveries the dedup window suppressed.
    uint64_t slow_clients;   //  Sessions ended: their client did not read.
    uint64_t unsent;         //  Frames for clients that could not go out.
    uint64_t disposed[MESHQ_DISPOSED_COUNT];  //  Left by a rule, by reason.
    uint64_t meta_digests_sent;               //  DIGEST and DIGEST_BACK sent.
    uint64_t meta_repaired;  //  Records sent for digests that differed.
    uint32_t links;          //  Peer sessions made: each one's number.
    //  Frames of the mesh's commands to peers [0] and from them [1], by
    //  command (meshq_mesh_command_name).
    uint64_t mesh_commands[2][MESHQ_MESH_COMMAND_MAX];

    //  The hot path's reused state (agent_batch.c, agent_pool.c).
    meshq_batch_t *batches;          //  Deliveries to send, by consumer.
    int batch_count;                 //  Open batches, first in batches.
    meshq_entry_t *free_entries;     //  Kept for reuse, linked by next.
    uint32_t free_entry_count;       //  How many.
    meshq_pending_t *free_pendings;  //  Kept for reuse, linked by next.
    uint32_t free_pending_count;     //  How many.
    long trimmed_kb;                 //  VmRSS after the last trim.
    uint64_t trim_activity;          //  Traffic counted at the last tick.
    uint32_t quiet_ticks;            //  Ticks since it changed.
    int64_t frame_mono;     //  zclock_mono () while frames are handled, or 0.
    int64_t frame_wall;     //  zclock_time () while frames are handled, or 0.
    int64_t dispatch_mono;  //  zclock_mono () while s_dispatch runs, or 0.
    int turn_timer;         //  The end-of-turn timer while turn_armed, or 0.
    meshq_queue_t *last_dirty;  //  Queue last marked dirty (in dirty).

    //  HTTP and /metrics (agents/http/).
    struct _meshq_engine_http_t *http;  //  Its listeners, or NULL.
    meshq_hist_t confirm_wait;          //  Publish to confirm.
    meshq_hist_t delivery_wait;         //  Queued to a first delivery.
    meshq_hist_t ack_wait;              //  Queued to ack.
    zlistx_t *gathers;        //  Mesh-wide lists being gathered, or NULL.
    uint64_t gathered;        //  The last one's id.
    void *amqp;               //  The AMQP door's listener, or NULL.
    char amqp_endpoint[272];  //  Where it listens ("host:port"), or "".
    meshq_trace_t trace;      //  A message followed (agent_trace.c).
    long idle_kb;             //  VmRSS 3 s after start, or 0.
};

//  A door the engine starts with its ROUTER (the AMQP listener): linked
//  into the daemon, not into libmeshq (docs/decisions/0015, 0017).
typedef struct {
    int (*start) (meshq_engine_t *engine, char *why, size_t size);
    void (*stop) (meshq_engine_t *engine);
    //  An answer of the auth module: true if ticket was the door's.
    bool (*login) (meshq_engine_t *engine, void *ticket, int rc,
                   const char *why);
} meshq_door_t;
//  Gives a login answer to the door whose ticket it is; false if none.
bool meshq_engine_door_login (meshq_engine_t *self, void *ticket, int rc,
                              const char *why);
//  Registers the AMQP door; before any agent starts.
void meshq_engine_set_amqp_door (const meshq_door_t *door);

//  agent.c
void meshq_engine_bad_input (meshq_engine_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
void meshq_engine_warn (meshq_engine_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
void meshq_engine_arm_turn (meshq_engine_t *self);
void meshq_engine_mark_dirty (meshq_engine_t *self, meshq_queue_t *queue);
void meshq_engine_close_session (meshq_engine_t *self,
                                 meshq_session_t *session);
void meshq_engine_forget_consumers (meshq_engine_t *self, meshq_queue_t *queue);

//  The session's consumer with this tag, or NULL; the session's list of
//  consumers is left with its cursor on it.
meshq_consumer_t *meshq_engine_session_consumer (meshq_session_t *session,
                                                 const char *tag);
//  The client session of this routing id, or NULL.
meshq_session_t *meshq_engine_session_find (meshq_engine_t *self,
                                            const uint8_t *id);
meshq_session_t *meshq_engine_session_open (meshq_engine_t *self,
                                            const uint8_t *id,
                                            const meshq_args_t *args,
                                            const char *user,
                                            meshq_vhost_t *vhost);

//  http/http_engine.c: the HTTP listeners, and what /metrics counts on
//  the message path.
int meshq_engine_http_start (meshq_engine_t *self, char *why, size_t size);
//  Stops the listeners; meshq_engine_http_destroy frees the rest, once
//  the auth module has answered every login it was asked.
void meshq_engine_http_stop (meshq_engine_t *self);
void meshq_engine_http_destroy (meshq_engine_t *self);
//  The auth module's answer to a login of an HTTP request: true if
//  ticket was one (and it is taken care of).
bool meshq_engine_http_login (meshq_engine_t *self, void *ticket, int rc,
                              const char *why);
//  "HOST:PORT" a listener ("http", "metrics") serves, or NULL.
const char *meshq_engine_http_address (meshq_engine_t *self,
                                       const char *listener);
//  Notes entry delivered a first time (acked false), or acked.
void meshq_engine_note_wait (meshq_engine_t *self, meshq_entry_t *entry,
                             bool acked);
//  Monotonic microseconds.
int64_t meshq_engine_mono_us (void);
//  Ends the turn now (commit, confirms, dispatch), for a door that
//  handled frames with frame_mono set, as the ROUTER's handler does.
void meshq_engine_end_turn (meshq_engine_t *self);

//  agent_verbs.c: what a session may ask, by verb, from either door
//  (docs/decisions/0017). Unknown verbs and verbs its door may not send
//  are answered with an ERROR. body is a PUBLISH's envelope.
void meshq_engine_request (meshq_engine_t *self, meshq_session_t *session,
                           const char *verb, const meshq_args_t *args,
                           const void *body, size_t size);
//  Opens a session for a front door other than the ROUTER: a fresh id,
//  no heartbeat of the engine's (the door keeps its own).
meshq_session_t *meshq_engine_front_open (meshq_engine_t *self,
                                          const meshq_front_t *front, void *arg,
                                          const char *user,
                                          meshq_vhost_t *vhost,
                                          meshq_session_t *connection);
//  Closes such a session now, without calling its door back.
void meshq_engine_front_close (meshq_engine_t *self, meshq_session_t *session);

//  agent_endpoint.c
//  Whether endpoint can be bound without taking it from a running agent
//  (an ipc:// path another process accepts connections on). Returns 0,
//  or MESHQ_EEXIST with why naming that process.
int meshq_engine_endpoint_check (const char *endpoint, char *why, size_t size);
//  Names the process that listens on a tcp:// endpoint ("pid N: its
//  command line"), or "another process" if it cannot tell.
void meshq_engine_endpoint_owner (const char *endpoint, char *who, size_t size);

//  agent_auth.c
int meshq_engine_auth_start (meshq_engine_t *self, char *why, size_t size);
//  True if a frame of this User-Id (NULL: from inproc://) may act for
//  the session: its routing id alone proves nothing.
bool meshq_engine_auth_owns (meshq_session_t *session, const char *user_id);
void meshq_engine_auth_hello (meshq_engine_t *self, const uint8_t *id,
                              const meshq_args_t *args, const char *user_id);
bool meshq_engine_allowed (meshq_engine_t *self, meshq_session_t *session,
                           meshq_perm_kind_t kind, const char *type,
                           const char *resource, uint64_t rid);
bool meshq_engine_may_publish (meshq_engine_t *self, meshq_session_t *session,
                               meshq_span_t exchange);

//  agent_users.c
void meshq_engine_auth_open (meshq_engine_t *self);
void meshq_engine_auth_meta (meshq_engine_t *self, const char *key,
                             const meshq_args_t *args);
//  The administrative requests (agent_verbs.c's table names them).
typedef enum {
    MESHQ_ADMIN_LIST_USERS,
    MESHQ_ADMIN_LIST_VHOSTS,
    MESHQ_ADMIN_LIST_PERMISSIONS,
    MESHQ_ADMIN_LIST_USER_PERMISSIONS,
    MESHQ_ADMIN_ADD_USER,
    MESHQ_ADMIN_DELETE_USER,
    MESHQ_ADMIN_CHANGE_PASSWORD,
    MESHQ_ADMIN_SET_USER_TAGS,
    MESHQ_ADMIN_SET_PERMISSIONS,
    MESHQ_ADMIN_CLEAR_PERMISSIONS,
    MESHQ_ADMIN_ADD_VHOST,
    MESHQ_ADMIN_DELETE_VHOST,
    MESHQ_ADMIN_COUNT
} meshq_admin_t;
//  Handles one, checking the user's tags first (administrator, or
//  monitoring for the lists).
void meshq_engine_admin (meshq_engine_t *self, meshq_session_t *session,
                         meshq_admin_t action, const meshq_args_t *args);

//  agent_send.c
int meshq_engine_send (meshq_engine_t *self, meshq_session_t *session,
                       const char *verb, const meshq_args_t *args,
                       const void *body, size_t size);
int meshq_engine_send_raw (meshq_engine_t *self, meshq_session_t *session,
                           const char *verb, const void *args, size_t args_size,
                           const void *body, size_t size);
void meshq_engine_reply_ok (meshq_engine_t *self, meshq_session_t *session,
                            meshq_args_t *results, uint64_t rid);
void meshq_engine_reply_error (meshq_engine_t *self, meshq_session_t *session,
                               uint64_t rid, int code, const char *format, ...);
//  Sends the replies held for the commit just made.
void meshq_engine_release_replies (meshq_engine_t *self);

//  agent_batch.c
void meshq_engine_batch_init (meshq_engine_t *self);
void meshq_engine_batch_fini (meshq_engine_t *self);
//  Adds a delivery (its entry given to session, with its tag) to the
//  consumer's batch; sends the batch when it is full.
//  A no-ack delivery is acked when its batch is sent (kept unacked in
//  the session if it cannot be).
void meshq_engine_batch_add (meshq_engine_t *self, meshq_session_t *session,
                             meshq_consumer_t *consumer, meshq_entry_t *entry,
                             bool no_ack);
//  Sends every open batch.
void meshq_engine_batch_flush (meshq_engine_t *self);
//  Most publishes one PUBLISH frame may carry (HELLO's 'nb' answer).
#define MESHQ_ENGINE_PUBLISH_BATCH 1024
//  A batched PUBLISH (docs/PROTOCOL.md, 3.4): each of its items handled
//  as a PUBLISH of its own, in order; data is frame 3.
void meshq_engine_publish_batch (meshq_engine_t *self, meshq_session_t *session,
                                 const meshq_args_t *args, const void *data,
                                 size_t size);

//  agent_pool.c: entries and pendings come zeroed, as from calloc.
meshq_entry_t *meshq_engine_entry_new (meshq_engine_t *self);
void meshq_engine_entry_free (meshq_engine_t *self, meshq_entry_t *entry);
meshq_pending_t *meshq_engine_pending_new (meshq_engine_t *self);
void meshq_engine_pending_free (meshq_engine_t *self, meshq_pending_t *pending);
void meshq_engine_pool_fini (meshq_engine_t *self);
//  Once drained, gives memory a backlog left back to the system (each
//  tick; cheap when there is nothing to give).
void meshq_engine_pool_trim (meshq_engine_t *self);

//  agent_trace.c: the stages of one message at a time (agent_trace.h).
void meshq_engine_trace_wake (meshq_engine_t *self);
//  At stage RECEIVE (a publish starts: follow it if none is), ROUTE or
//  APPEND (persistent: it waits for a commit) of a publish.
void meshq_engine_trace_publish (meshq_engine_t *self, meshq_session_t *session,
                                 const meshq_args_t *args, int stage,
                                 bool persistent);
void meshq_engine_trace_commit (meshq_engine_t *self);
void meshq_engine_trace_synced (meshq_engine_t *self);
void meshq_engine_trace_confirmed (meshq_engine_t *self,
                                   meshq_session_t *session, uint64_t upto);
void meshq_engine_trace_dispatched (meshq_engine_t *self,
                                    const meshq_entry_t *entry);
void meshq_engine_trace_sent (meshq_engine_t *self);
//  "n=N stage=p50/p99/max ..." in us, over the messages kept.
void meshq_engine_trace_text (meshq_engine_t *self, char *text, size_t size);
void meshq_engine_trace_fini (meshq_engine_t *self);
//  agent_pool.c: the process's VmRSS and VmHWM in kB (0 if unknown).
void meshq_engine_memory (long *rss_kb, long *peak_kb);

//  agent_commands.c: the requests on queues, exchanges and consumers;
//  each answers the session (OK or ERROR, with args->rid).
void meshq_engine_declare_queue (meshq_engine_t *self, meshq_session_t *session,
                                 const meshq_args_t *args);
void meshq_engine_delete_queue (meshq_engine_t *self, meshq_session_t *session,
                                const meshq_args_t *args);
void meshq_engine_purge_queue (meshq_engine_t *self, meshq_session_t *session,
                               const meshq_args_t *args);
void meshq_engine_declare_exchange (meshq_engine_t *self,
                                    meshq_session_t *session,
                                    const meshq_args_t *args);
void meshq_engine_delete_exchange (meshq_engine_t *self,
                                   meshq_session_t *session,
                                   const meshq_args_t *args);
void meshq_engine_bind (meshq_engine_t *self, meshq_session_t *session,
                        const meshq_args_t *args, bool add);
void meshq_engine_consume (meshq_engine_t *self, meshq_session_t *session,
                           const meshq_args_t *args);
void meshq_engine_cancel (meshq_engine_t *self, meshq_session_t *session,
                          const meshq_args_t *args);

//  agent_lists.c
void meshq_engine_status (meshq_engine_t *self, meshq_session_t *session,
                          const meshq_args_t *args);
//  This agent's row of queue: its part of the queue.
void meshq_engine_queue_row (meshq_engine_t *self, meshq_queue_t *queue,
                             meshq_args_t *row);

//  agent_health.c: memory, store, disk, blocked, and the alarms they
//  raise (comma-separated into alarms), into STATUS's results.
void meshq_engine_health (meshq_engine_t *self, meshq_args_t *results,
                          char *alarms, size_t size);

//  agent_lists_ops.c: LIST_CONNECTIONS, LIST_LISTENERS.
void meshq_engine_list_ops (meshq_engine_t *self, meshq_session_t *session,
                            const meshq_args_t *args, const char *verb);

//  agent_lists_mesh.c: LIST_QUEUES of the whole mesh, gathered from the
//  peers (QUERY, ANSWER); answered when all answered, or at a timeout.
void meshq_engine_gather_queues (meshq_engine_t *self, meshq_session_t *session,
                                 const meshq_args_t *args);
//  Ends the lists being gathered, answering nobody.
void meshq_engine_gather_fini (meshq_engine_t *self);
void meshq_engine_list (meshq_engine_t *self, meshq_session_t *session,
                        const meshq_args_t *args, const char *what);

//  agent_vhost.c
meshq_vhost_t *meshq_vhost_new (meshq_engine_t *engine, const char *name);
void meshq_vhost_destroy (meshq_vhost_t **self_p);
int meshq_vhost_open (meshq_vhost_t *self, char *why, size_t size);
//  Makes and opens a new vhost (its store, its mesh), if one more fits:
//  under max_vhosts (or what the process's open files and ZeroMQ
//  sockets allow) and with the files it needs free. Returns 0, or
//  MESHQ_ELIMIT or the open's code with why naming the limit; on an
//  error there is no vhost.
int meshq_vhost_add (meshq_engine_t *engine, const char *name, char *why,
                     size_t size);
//  Whether one more vhost fits, as meshq_vhost_add checks it: 0, or
//  MESHQ_ELIMIT with why naming the limit.
int meshq_vhost_room (meshq_engine_t *engine, const char *name, char *why,
                      size_t size);
void meshq_vhost_close (meshq_vhost_t *self);
void meshq_vhost_queue_record (const char *name, const meshq_queue_args_t *q,
                               meshq_args_t *args);
int meshq_vhost_queue_args (meshq_vhost_t *self, const meshq_args_t *args,
                            meshq_queue_args_t *q, char *why, size_t size);
meshq_queue_t *meshq_vhost_queue_create (meshq_vhost_t *self, const char *name,
                                         const meshq_queue_args_t *args,
                                         bool persist);
void meshq_vhost_queue_delete (meshq_vhost_t *self, meshq_queue_t *queue);
//  Tells the mesh again of an exclusive queue of ours and its bindings
//  (others deleted it, thinking its owner gone).
void meshq_vhost_queue_reassert (meshq_vhost_t *self, meshq_queue_t *queue);
void meshq_vhost_queue_drop (meshq_vhost_t *self, meshq_queue_t *queue);
meshq_exchange_t *meshq_vhost_exchange_create (meshq_vhost_t *self,
                                               const char *name,
                                               meshq_exchange_type_t type,
                                               bool durable, bool persist);
void meshq_vhost_exchange_drop (meshq_vhost_t *self,
                                meshq_exchange_t *exchange);

//  agent_recover.c: a vhost's messages read back at start.
int meshq_vhost_recover (meshq_vhost_t *self, char *why, size_t size);
void meshq_vhost_unquarantine (meshq_vhost_t *self, const char *name);
//  Messages restored into queue name without its record (name NULL: in
//  every queue of the vhost), and those kept unread.
uint64_t meshq_vhost_quarantined (meshq_vhost_t *self, const char *name);

//  agent_meta.c
void meshq_vhost_meta_note (meshq_vhost_t *self, const char *key,
                            const meshq_args_t *args, bool persist);
void meshq_vhost_meta_write (meshq_vhost_t *self, const char *key,
                             const meshq_args_t *args);
//  The version of a record a fresh mesh starts with: the metadata
//  clock's first tick, written by no node (its 20 writer bits 0). Every
//  agent writes its defaults at this version, so that fresh agents hold
//  the same records and their digests agree at link up (each writing
//  its own version had every pair of a new mesh trade and store them);
//  any later write, a delete too, is newer. Digests compare keys and
//  versions, not values: a default's value must never change while it
//  keeps this version, or agents of two releases would hold different
//  records that their digests call the same.
#define MESHQ_META_GENESIS ((uint64_t)1 << 20)
//  Writes a default record at MESHQ_META_GENESIS, unless the key has a
//  record already (a default deleted stays deleted). Returns whether it
//  wrote it.
bool meshq_vhost_meta_genesis (meshq_vhost_t *self, const char *key,
                               const meshq_args_t *args);
//  0 if the vhost's store has room for a record of size bytes now, else
//  a code and why (naming the limit).
int meshq_vhost_meta_room (meshq_vhost_t *self, size_t size, char *why,
                           size_t why_size);
void meshq_vhost_binding_note (meshq_vhost_t *self,
                               const meshq_exchange_t *exchange,
                               meshq_queue_t *queue, const char *binding_key,
                               meshq_span_t match, uint32_t match_count,
                               bool add);
int meshq_vhost_meta_restore (void *arg, const char *key, uint64_t version,
                              const void *value, size_t size);
void meshq_vhost_meta_finish (meshq_vhost_t *self);
bool meshq_vhost_meta_receive (meshq_vhost_t *self, const char *key,
                               uint64_t version, const void *value,
                               size_t size);

//  agent_meta_sync.c
//  Adds the record (key, version) to the vhost's digest, or takes it
//  out (XOR: the same call does both).
void meshq_vhost_meta_digest (meshq_vhost_t *self, const char *key,
                              uint64_t version);

//  agent_mesh.c
int meshq_engine_mesh_start (meshq_vhost_t *vhost, char *why, size_t size);
void meshq_engine_mesh_stop (meshq_vhost_t *vhost);
void meshq_engine_mesh_meta (meshq_vhost_t *vhost, const char *key,
                             uint64_t version, const void *value, size_t size);
void meshq_engine_mesh_forget_queue (meshq_queue_t *queue);
int meshq_engine_mesh_send (meshq_engine_t *self, meshq_session_t *session,
                            const char *verb, const void *args,
                            size_t args_size, const void *body, size_t size);
//  Notes the node whose connection owns an exclusive queue known here.
void meshq_engine_mesh_owner (meshq_queue_t *queue, const uint8_t *node);
//  Grants origins with a backlog their share of queue's free credit;
//  before the queue dispatches its own backlog.
void meshq_engine_mesh_grant (meshq_engine_t *self, meshq_queue_t *queue);
void meshq_engine_mesh_turn (meshq_engine_t *self);
void meshq_engine_mesh_tick (meshq_engine_t *self);
void meshq_engine_mesh_settled (meshq_engine_t *self, meshq_entry_t *entry,
                                const char *verb, bool requeue);
bool meshq_engine_dedup_seen (meshq_queue_t *queue, const uint8_t *origin,
                              uint64_t seq);
void meshq_engine_dedup_note (meshq_queue_t *queue, const uint8_t *origin,
                              uint64_t seq);
const char *meshq_engine_mesh_endpoint (meshq_vhost_t *vhost);

//  agent_dedup.c
//  Holds an entry that was in flight to a peer that went down, if its
//  queue has a dedup window; false if it goes back to the queue now.
bool meshq_engine_dedup_park (meshq_engine_t *self, meshq_session_t *session,
                              meshq_entry_t *entry);

//  agent_lists.c
//  Answers a list request with rows (the caller keeps them).
void meshq_engine_reply_list (meshq_engine_t *self, meshq_session_t *session,
                              uint64_t rid, const char *what,
                              const meshq_args_t *rows, size_t count);
//  The mesh's rows.
void meshq_engine_mesh_rows (meshq_engine_t *self, meshq_queue_t *queue,
                             meshq_args_t **rows, size_t *count,
                             size_t *capacity);
void meshq_engine_mesh_list (meshq_engine_t *self, meshq_session_t *session,
                             const meshq_args_t *args);

//  agent_messages.c
//  Queues a route holds without allocating.
#define MESHQ_ROUTES_INLINE 16

//  The queues a message goes to: as many as match (a fanout exchange
//  may have thousands bound), each once.
typedef struct {
    meshq_queue_t **queues;     //  Matched queues (inline, or allocated).
    int count;                  //  How many.
    int capacity;               //  Room in queues.
    uint64_t mark;              //  This route's mark on its queues.
    const meshq_queue_t *skip;  //  A queue not to route to.
    meshq_queue_t *inline_queues[MESHQ_ROUTES_INLINE];
} meshq_routes_t;

//  Starts an empty route that never goes to skip (NULL: none).
void meshq_routes_init (meshq_routes_t *self, const meshq_queue_t *skip);
//  Frees what a route allocated.
void meshq_routes_fini (meshq_routes_t *self);

//  agent_flow.c: publishers paused while a queue with consumers holds
//  more than flow_memory, resumed when it holds half as much.
//  After a publish from session to routes: pauses it if one of them is
//  behind its consumers.
void meshq_engine_flow_publish (meshq_engine_t *self, meshq_session_t *session,
                                const meshq_routes_t *routes);
//  Resumes the paused publishers once the agent holds little enough.
void meshq_engine_flow_check (meshq_engine_t *self);

//  Finds the queues a message goes to. Returns 0, or MESHQ_ENOTFOUND if
//  the exchange does not exist.
int meshq_engine_route (meshq_vhost_t *self, const meshq_envelope_t *envelope,
                        meshq_routes_t *routes);
//  Enqueues a message on the routed queues (and in the store); returns
//  the number of queues that took it, or a negative code.
int meshq_engine_enqueue (meshq_vhost_t *vhost,
                          const meshq_envelope_t *envelope, const void *data,
                          size_t size, const meshq_routes_t *routes,
                          meshq_pending_t *pending);
//  Gives a delivered entry to a session (its tag, its books), and takes
//  it back.
void meshq_engine_ensession (meshq_session_t *session, meshq_entry_t *entry);
void meshq_engine_unsession (meshq_entry_t *entry);
//  The arguments of a DELIVER of entry.
void meshq_engine_delivery_args (meshq_engine_t *self,
                                 const meshq_entry_t *entry,
                                 meshq_args_t *args);
//  Puts a settled delivery back: in front of its queue, or to its
//  origin if another agent sent it.
void meshq_engine_requeue (meshq_engine_t *self, meshq_queue_t *queue,
                           meshq_entry_t *entry);
//  Disposes of an entry that left its queue (reason NULL: acked or
//  purged; else dead-lettered if the queue says so). The queue host's.
void meshq_engine_dispose (void *host, meshq_entry_t *entry,
                           const char *reason);
extern const meshq_queue_host_t meshq_engine_queue_host;
void meshq_engine_publish (meshq_engine_t *self, meshq_session_t *session,
                           const meshq_args_t *args, const void *envelope,
                           size_t size);
//  Refuses one publish (args: its seq, if any) as meshq_engine_publish
//  would: a NACK with confirms, else an ERROR. why is static.
void meshq_engine_refuse_publish (meshq_engine_t *self,
                                  meshq_session_t *session,
                                  const meshq_args_t *args, int code,
                                  const char *why);
//  A delivery to a no-ack consumer was sent: it is acked now.
void meshq_engine_ack_sent (meshq_engine_t *self, meshq_entry_t *entry);
//  A delivery to a no-ack consumer was sent (acked now), or could not
//  be (kept unacked in the session, to be requeued when it ends).
void meshq_engine_sent_no_ack (meshq_engine_t *self, meshq_session_t *session,
                               meshq_entry_t *entry, bool sent);
//  CREDIT from a no-ack consumer's client: that many deliveries are in.
void meshq_engine_credit (meshq_engine_t *self, meshq_session_t *session,
                          const meshq_args_t *args);
void meshq_engine_settle (meshq_engine_t *self, meshq_session_t *session,
                          const char *verb, const meshq_args_t *args);
void meshq_engine_get (meshq_engine_t *self, meshq_session_t *session,
                       const meshq_args_t *args);
void meshq_engine_requeue_session (meshq_engine_t *self,
                                   meshq_session_t *session);
//  Frees a settled entry: its ack goes to the store, or to its origin.
void meshq_engine_entry_done (meshq_engine_t *self, meshq_entry_t *entry);
void meshq_engine_store_done (void *arg, uint64_t ticket, int status);
void meshq_engine_flush_confirms (meshq_engine_t *self,
                                  meshq_session_t *session);
void meshq_engine_forget_pending (meshq_engine_t *self,
                                  meshq_session_t *session);
void meshq_engine_check_leases (meshq_engine_t *self, int64_t now);
void meshq_engine_route_dead_letters (meshq_engine_t *self);
//  Counts count entries of queue disposed of by a rule (agent_settle.c).
void meshq_engine_note_disposed (meshq_engine_t *self, meshq_queue_t *queue,
                                 meshq_disposal_t disposal, uint64_t count);
//  Logs what queue disposed of since it last did, a line per reason,
//  as long as *budget (lines) lasts; what is left waits for the next.
void meshq_engine_report_disposed (meshq_queue_t *queue, int *budget);
void meshq_engine_check_pressure (meshq_engine_t *self);

#endif
