/*  agent_mesh.h - what agent_mesh.c, agent_dedup.c, agent_lists.c and
    agent_lists_mesh.c share of the mesh: a queue's view of it, and
    peers by id.
*/
#ifndef MESHQ_AGENT_MESH_H_INCLUDED
#define MESHQ_AGENT_MESH_H_INCLUDED

#include "agent_internal.h"
#include "peers.h"

//  Credit B has granted an origin for a queue, and its backlog there.
typedef struct {
    uint8_t id[16];        //  The origin.
    uint64_t backlog;      //  Ready messages it last announced.
    uint32_t outstanding;  //  Granted, not yet used or returned.
} meshq_origin_t;

//  What a queue knows of the mesh (meshq_queue_mesh).
typedef struct {
    zhashx_t *origins;     //  Peer id hex -> meshq_origin_t.
    uint64_t announced;    //  Ready count last announced.
    int64_t announced_at;  //  When, monotonic ms.
    uint32_t rotor;        //  Whose turn a lone free slot is.
    zhashx_t *seen;        //  Dedup: acked lately, key -> expiry, or NULL.
    zlistx_t *seen_order;  //  The same, oldest first.
    zlistx_t *parked;      //  Dedup: held for a peer that went down.
    zlistx_t *held;        //  Read ahead: entries waiting for a slot.
    bool owned_elsewhere;  //  Exclusive to a connection on another agent,
    uint8_t owner[16];     //  this one.
    //  Peers told of a backlog here and not yet that it ended: id hex ->
    //  the link's number (as a pointer), or NULL.
    zhashx_t *told;
    bool retell;    //  Who consumes it changed: tell them this turn.
    bool recorded;  //  Our consumer record of it says we consume it.
} meshq_qmesh_t;

//  The queue's mesh state, made if create and missing.
meshq_qmesh_t *meshq_qmesh (meshq_queue_t *queue, bool create);

//  The session of the peer with this id, or NULL if it is not up.
meshq_session_t *meshq_mesh_peer_session (meshq_vhost_t *vhost,
                                          const uint8_t *id);

//  Sends verb {dtags: values} to a peer, in frames of at most 8191.
void meshq_mesh_send_tags (meshq_engine_t *self, meshq_session_t *session,
                           const char *verb, const uint64_t *values,
                           size_t count);
//  The same, each frame with the arguments in args too.
void meshq_mesh_send_tags_of (meshq_engine_t *self, meshq_session_t *session,
                              const char *verb, const meshq_args_t *args,
                              const uint64_t *values, size_t count);

//  agent_mesh_peers.c
//  Tells a peer of queue's backlog here; with credit, gives that much
//  unused credit back.
void meshq_mesh_announce (meshq_engine_t *self, meshq_session_t *session,
                          meshq_queue_t *queue, uint64_t ready,
                          uint32_t credit);
//  Tells a peer of the default vhost where our mesh of vhost is.
void meshq_mesh_send_vhost (meshq_engine_t *self, meshq_session_t *session,
                            meshq_vhost_t *vhost);
//  True if verb is a command between agents (docs/PROTOCOL.md, 4).
bool meshq_mesh_command_known (const char *verb);
//  The index of verb among the commands between agents, or -1.
int meshq_mesh_command_index (const char *verb);
//  Whether the command of index, sent, waits for a sign of life of the
//  peer (meshq_peers_send_unawaited); all do but digests.
bool meshq_mesh_command_awaited (int index);
//  The command of index, or NULL past the last.
const char *meshq_mesh_command_name (int index);
//  The peers module's callback: a peer up or down, or a frame from one.
void meshq_mesh_on_peer (void *arg, meshq_peer_event_t event,
                         const meshq_peer_info_t *peer, zmsg_t **msg_p);
//  Tells peers of the default vhost, now and then, where our meshes of
//  other vhosts are, while they are not up there.
void meshq_mesh_introduce_missing (meshq_engine_t *self, int64_t now);

//  One membership per agent: the default vhost's. The other vhosts'
//  peers modules run none (no beacons, no probes) and follow it
//  (meshq_peers_follow); a member it declares dead or gone goes down in
//  every other vhost at once (meshq_peers_gone_fn, arg the engine).
void meshq_mesh_member_gone (void *arg, const uint8_t node[16],
                             uint64_t incarnation, bool left);

//  The peers module whose membership serves the vhost: its own, or the
//  default vhost's when it has none; NULL outside a mesh.
meshq_peers_t *meshq_mesh_membership (meshq_vhost_t *vhost);

//  The commands beyond the first set that our HELLO announces. INTEREST
//  is not a frame: it says that we write consumer records at any mesh
//  size, so that BACKLOG goes to us only for the queues they name.
#define MESHQ_MESH_COMMANDS "QUERY DIGEST INTEREST"

//  agent_meta_sync.c
//  A link up: sends our digest if the peer takes one, else every record.
void meshq_mesh_digest_link_up (meshq_engine_t *self, meshq_session_t *session);
//  Now and then, our digest to one peer of the vhost.
void meshq_mesh_digest_tick (meshq_engine_t *self, meshq_vhost_t *vhost,
                             int64_t now);
//  DIGEST and DIGEST_BACK from a peer.
void meshq_mesh_on_digest (meshq_engine_t *self, meshq_session_t *session,
                           meshq_args_t *args, zframe_t *body);
void meshq_mesh_on_digest_back (meshq_engine_t *self, meshq_session_t *session,
                                meshq_args_t *args, zframe_t *body);

//  agent_lists_mesh.c
//  A peer came up: a mesh-wide list waiting for its link asks it now.
void meshq_mesh_gather_linked (meshq_engine_t *self, meshq_session_t *session,
                               const meshq_peer_info_t *peer);
//  Whether a peer's HELLO said it answers verb.
bool meshq_mesh_answers (const meshq_peer_info_t *peer, const char *verb);
//  QUERY from a peer: our parts of the vhost's queues, in ANSWER.
void meshq_mesh_on_query (meshq_engine_t *self, meshq_session_t *session,
                          meshq_args_t *args, zframe_t *body);
//  ANSWER from a peer: its parts, for the gather that asked.
void meshq_mesh_on_answer (meshq_engine_t *self, meshq_session_t *session,
                           meshq_args_t *args, zframe_t *body);

//  agent_interest.c
//  Ends our records that name a queue not consumed here (restarts leave
//  them), writes those missing; in a mesh past full links, wants links
//  to the consumers of our backlog.
void meshq_mesh_interest_tick (meshq_engine_t *self, meshq_vhost_t *vhost);
//  Writes or ends our record of queue when its local consumers came or
//  went (at every turn: a consumer must not wait for the tick).
void meshq_mesh_interest_note (meshq_vhost_t *vhost, meshq_queue_t *queue);
//  A metadata record new here, from a peer: passed on to the other
//  linked peers in a mesh past full links; a consumer record has the
//  queue's backlog told again (meshq_mesh_interested), and one of ours
//  that says otherwise than our consumers is written again.
void meshq_mesh_interest_forward (meshq_engine_t *self, meshq_session_t *from,
                                  const char *key);
//  Writes the start of the keys of queue's consumer records into prefix
//  (35 bytes and the NUL): the node's id in hex completes a key.
void meshq_mesh_interest_prefix (const char *queue, char *prefix);
//  Whether the peer of session consumes the queue of prefix, so that its
//  backlog here must be told to it: its record says so, or it is an
//  older agent that writes none (and is told every backlog).
bool meshq_mesh_interested (meshq_vhost_t *vhost, const char *prefix,
                            const meshq_session_t *session);

//  agent_dedup.c
//  A queue's dedup state goes (the queue does).
void meshq_dedup_forget_queue (meshq_queue_t *queue);
//  An ack of a message of queue that could not reach its origin (it is
//  down): kept for when it is back.
void meshq_dedup_late_ack (meshq_vhost_t *vhost, const uint8_t *origin,
                           const char *queue, uint64_t seq);
//  Tells an up peer what was acked here of its messages that it took
//  back (ACKED per queue).
void meshq_dedup_send_late (meshq_engine_t *self, meshq_session_t *session);
//  A peer is up: tells it what was acked here while it was away.
void meshq_dedup_peer_up (meshq_engine_t *self, meshq_session_t *session);
//  ACKED from a peer: what it acked while we were apart.
void meshq_dedup_on_acked (meshq_engine_t *self, meshq_session_t *session,
                           const meshq_args_t *args);
//  Expires what left its window; gives back what was held too long.
void meshq_dedup_tick (meshq_engine_t *self, int64_t now);

//  agent_ahead.c
//  Credit the queue's origins may be granted now: local consumers' free
//  slots and the read-ahead, less what is granted and not yet come and
//  what is held.
uint32_t meshq_ahead_grantable (meshq_engine_t *self, meshq_queue_t *queue);
//  An entry from an origin: to a local consumer with a free slot, else
//  held if it came on credit. False if neither (the caller gives it
//  back).
bool meshq_ahead_hold (meshq_engine_t *self, meshq_queue_t *queue,
                       meshq_entry_t *entry, bool credited);
//  Hands held entries to the slots that are free, oldest first (with no
//  local consumer left, gives them back to their origins), and tells the
//  queue how much of its reservation the read-ahead covers.
void meshq_ahead_release (meshq_engine_t *self, meshq_queue_t *queue);
//  Gives an entry back to its origin (NACK with requeue) and frees it.
void meshq_ahead_give_back (meshq_engine_t *self, meshq_vhost_t *vhost,
                            meshq_entry_t *entry);
//  Lets go of the entries held from origin (all, if NULL): it requeues
//  them itself when it sees us down.
void meshq_ahead_drop (meshq_engine_t *self, meshq_queue_t *queue,
                       const uint8_t *origin);
//  The queue goes: lets go of what it holds.
void meshq_ahead_forget (meshq_engine_t *self, meshq_queue_t *queue);

#endif
