/*  peers.h - discovery: the peer table, its links, beacons and seeds.

    meshq_peers is a module that lives inside its owner's zloop (the
    agent's engine, or the meshq_discovery actor), so that mesh traffic
    uses the owner's own sockets with no thread in between:

        meshq_peers_config_t config = {.name = "a", .mesh = "prod"};
        meshq_peers_t *peers = meshq_peers_new (&config);
        meshq_peers_set_handler (peers, s_on_peer, self);
        const char *why;
        if (meshq_peers_start (peers, loop, &why))
            ...  //  say why and stop: the node would be deaf or mute
        ...
        meshq_peers_destroy (&peers);  //  says BYE to the peers that are up

    Once started, it binds one ROUTER for the mesh, beacons on the chosen
    interface, connects a DEALER to every peer it hears of (beacons,
    seeds, gossip), says HELLO, heartbeats, and tells the owner through
    the handler when a peer is up, when it is down, and when an up peer
    sends a command of the owner's. docs/DISCOVERY.md explains the modes
    and the failure detector; docs/PROTOCOL.md section 5 gives the bytes.
*/
#ifndef MESHQ_PEERS_H_INCLUDED
#define MESHQ_PEERS_H_INCLUDED

#include "beacon.h"
#include "udp.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _meshq_peers_t meshq_peers_t;

//  Defaults, in milliseconds where timed.
#define MESHQ_PEERS_BEACON_MS    250
#define MESHQ_PEERS_BACKOFF_MS   8000
#define MESHQ_PEERS_HEARTBEAT_MS 250
#define MESHQ_PEERS_TIMEOUT_MS   2000
#define MESHQ_PEERS_GOSSIP_MS    200
#define MESHQ_PEERS_MAX_MSG      (16 * 1024 * 1024 + 64 * 1024)
#define MESHQ_PEERS_MAX          1024
#define MESHQ_PEERS_FULL_LINKS   64
#define MESHQ_PEERS_MAX_LINKS    256
#define MESHQ_PEERS_RESOLVE_MS   30000

//  What a node is and how it finds others. Zero means the default for
//  every field; strings are copied by meshq_peers_new.
typedef struct {
    const char *name;       //  This node's name; NULL: the host name.
    const char *mesh;       //  Mesh name; NULL: "default".
    const char *vhost;      //  Virtual host; NULL: "/".
    uint8_t node[16];       //  Node id; all zero: a random UUID.
    uint64_t incarnation;   //  Must rise at every start; 0: the time in us.
    uint16_t port;          //  ROUTER tcp port; 0: an ephemeral one.
    const char *interface;  //  Name or address; NULL: ZSYS_INTERFACE if
                            //  set, else the loopback interface.
    uint16_t beacon_port;   //  UDP port of beacons; 0: 5680.
    bool no_beacon;         //  Neither send nor hear beacons (seeds only).
    meshq_transport_t transport;  //  How beacons travel; 0: automatic.
    const char *seeds;            //  Comma-separated tcp://HOST:PORT, HOST a
                                  //  numeric address or a DNS name (every
                                  //  address it resolves to), or NULL.
    uint32_t seed_refresh_ms;     //  How often names are resolved again;
                                  //  0: 30000.
    uint32_t beacon_interval_ms;  //  0: 250.
    uint32_t beacon_slow_ms;      //  Longest interval once a peer is up
                                  //  (beacon_pace.h); 0: 8000; at most
                                  //  beacon_interval_ms: no back-off.
    uint32_t heartbeat_ms;        //  0: 250.
    uint32_t peer_timeout_ms;     //  Silence until down; 0: 2000.
    uint32_t gossip_interval_ms;  //  Membership gossip rounds; 0: 200.
    size_t max_msg_size;          //  Largest frame a peer may send; 0: 16 MiB
                                  //  + 64 KiB.
    size_t max_peers;             //  Peer table size; 0: 1024.
    uint32_t full_links;          //  Up to this many members, a link to
                                  //  each; beyond, to an overlay of about
                                  //  log2 of them and to those the owner
                                  //  wants (meshq_peers_want). 0: 64.
    uint32_t max_links;           //  Past full_links, most links open at
                                  //  once: a new one takes the place of
                                  //  the least recently used spare one,
                                  //  or is refused (the overlay's never
                                  //  is). At least full_links; 0: 256,
                                  //  or full_links + 64 if more.
    const char *curve_public;     //  With curve_secret: the mesh's CURVE
    const char *curve_secret;     //  keypair in Z85 (40 characters each),
                                  //  the same on every node; NULL: no CURVE.
    const char *commands;         //  The owner's commands beyond the first set,
        //  space-separated, that HELLO announces; NULL:
        //  none.
    bool no_membership;  //  Run no membership, and send or hear no
                         //  beacons: another module's membership (the
                         //  same node's, in another vhost) says who is
                         //  alive (meshq_peers_follow,
                         //  meshq_peers_member_gone). Its peers come
                         //  by meshq_peers_introduce, seeds and HELLOs.
} meshq_peers_config_t;

//  The ZAP domain of a CURVE mesh's ROUTER: this prefix, then the mesh's
//  public key in Z85. The process's ZAP handler (the agent's) accepts a
//  client of such a domain only if the client's key is that key, which
//  proves in the handshake that the client holds the mesh's secret key.
#define MESHQ_PEERS_ZAP_PREFIX "meshq-mesh-"

//  Events for the owner.
typedef enum {
    MESHQ_PEER_UP,       //  HELLOs went both ways: the peer is up.
    MESHQ_PEER_DOWN,     //  The peer is down (info->reason says why).
    MESHQ_PEER_MESSAGE,  //  An up peer sent a command of the owner's.
} meshq_peer_event_t;

//  A peer as the owner sees it; valid until the next call into the
//  module.
typedef struct {
    uint8_t id[16];         //  Node id.
    const char *id_hex;     //  Node id in lowercase hex (32 digits).
    const char *name;       //  Its name ("" until its HELLO).
    const char *endpoint;   //  Where we reach its ROUTER.
    const char *state;      //  "up", "suspect" or "down".
    uint64_t incarnation;   //  The incarnation the event is about.
    uint64_t last_seen_ms;  //  Milliseconds since we last heard from it.
    const char *reason;     //  Why it is suspect or down; "up" otherwise.
    const char *commands;   //  The commands its HELLO announced ("" for
                            //  none, or for an older agent).
    const char *member;     //  Its state in the membership: "alive",
                            //  "suspect", "dead", "left", or "none"
                            //  when the membership does not know it.
    uint64_t member_inc;    //  The incarnation the membership knows
                            //  (0 with "none").
    uint32_t member_ver;    //  Its version in that incarnation, raised
                            //  by each refutation (0 with "none").
} meshq_peer_info_t;

//  A member of the mesh this node has no link to (past full_links).
typedef struct {
    uint8_t id[16];                     //  Node id.
    char id_hex[33];                    //  In lowercase hex.
    char endpoint[MESHQ_ENDPOINT_MAX];  //  Where its ROUTER listens.
    const char *member;                 //  "alive" or "suspect".
    uint64_t incarnation;               //  Its start, as the membership
    uint32_t version;                   //  knows it, and its version.
} meshq_peers_member_t;

//  Called from the owner's zloop. For MESHQ_PEER_MESSAGE, *msg_p holds
//  the message (frame 1 the command, then its frames) and the handler
//  may take it (and null *msg_p); msg_p is NULL for UP and DOWN. The
//  handler may call meshq_peers_send and the accessors, not stop or
//  destroy.
typedef void (meshq_peers_fn) (void *arg, meshq_peer_event_t event,
                               const meshq_peer_info_t *peer, zmsg_t **msg_p);

//  Counters, from start. Drop reasons are indexed by meshq_beacon_drop_t
//  and meshq_frame_drop_t; meshq_peers_frame_drop_name names the latter.
typedef enum {
    MESHQ_FRAME_DROP_ROUTING_ID,  //  Routing id of another size or prefix.
    MESHQ_FRAME_DROP_COMMAND,     //  Frame 1 is not a command.
    MESHQ_FRAME_DROP_MALFORMED,   //  A frame of ours that fails to decode.
    MESHQ_FRAME_DROP_MESH,        //  HELLO of another mesh, vhost, protocol.
    MESHQ_FRAME_DROP_MISMATCH,    //  HELLO node id is not its routing id's.
    MESHQ_FRAME_DROP_SELF,        //  Our own HELLO (a seed that is us).
    MESHQ_FRAME_DROP_NOT_UP,      //  From a peer that is not up.
    MESHQ_FRAME_DROP_STALE,       //  From an older incarnation.
    MESHQ_FRAME_DROP_ENDPOINT,    //  An endpoint that is not numeric tcp.
    MESHQ_FRAME_DROP_FULL,        //  A new peer, and the table is full.
    MESHQ_FRAME_DROP_DUPLICATE,   //  HELLO of a session already seen.
    MESHQ_FRAME_DROP_FUTURE,      //  An incarnation over 24 h ahead.
    MESHQ_FRAME_DROP_PENDING,     //  A stranger, and too many are pending
                                  //  or were tried this second.
    MESHQ_FRAME_DROP_COUNT
} meshq_frame_drop_t;

typedef struct {
    uint64_t beacons_sent;      //  Beacons sent.
    uint64_t beacon_errors;     //  Beacons the socket refused to send.
    uint64_t beacons_received;  //  Beacons taken.
    uint64_t beacons_dropped[MESHQ_BEACON_DROP_COUNT];  //  By reason.
    uint64_t frames_received;  //  Frames taken from peers.
    uint64_t frames_dropped[MESHQ_FRAME_DROP_COUNT];  //  By reason.
    uint64_t frames_sent;                             //  Frames sent to peers.
    uint64_t bytes_received;      //  Bytes of the frames taken from peers.
    uint64_t bytes_sent;          //  Bytes of the frames sent to peers.
    uint64_t send_errors;         //  Sends refused (queue full).
    uint64_t link_errors;         //  Links libzmq refused a socket for
                                  //  (too many sockets or open files).
    uint64_t duplicate_names;     //  Peers that came up with our name
                                  //  (another node id): a misconfigured
                                  //  mesh.
    uint64_t links_unlinked;      //  Links closed by UNLINK (idle, not
                                  //  needed, past full_links).
    uint64_t unlinks_asked;       //  UNLINKs we sent asking to close one.
    uint64_t unlinks_refused;     //  Asks we did not take: we need it.
    uint64_t peer_up_events;      //  MESHQ_PEER_UP reported.
    uint64_t peer_down_events;    //  MESHQ_PEER_DOWN reported.
    uint64_t handshakes_failed;   //  Connections to our ROUTER that failed
                                  //  the ZeroMQ handshake (no, or another,
                                  //  mesh secret; junk on the port).
    uint64_t seeds_unresolved;    //  Tries to resolve a seed name that
                                  //  failed.
    uint64_t members_alive;       //  Members the membership has alive
                                  //  (or suspect) now, as of the last tick.
    uint64_t members_suspect;     //  Of which suspect.
    uint64_t membership_health;   //  Our own health multiplier: 1 healthy,
                                  //  up to 8 when our answers come late.
    uint64_t membership_dropped;  //  Membership datagrams dropped: forged
                                  //  (bad tag), cut, or that did not
                                  //  decode (another mesh's not counted).
    uint64_t members_full;        //  New members the membership dropped:
                                  //  its table was full.
    uint64_t gossip_dropped;      //  Membership updates pushed out of its
                                  //  full gossip queue, never sent.
    uint64_t answers_held;        //  Answers to suspicions of us not
                                  //  sent: more than four a probe
                                  //  interval (forged, or a mesh in
                                  //  trouble).
    uint64_t links_open;          //  Links open now (up or trying), as of
                                  //  the last tick or link opened.
    uint64_t links_peak;          //  The most open at once since start.
    uint64_t links_max;           //  The cap past full_links (max_links).
    uint64_t links_refused;       //  New links refused: max_links open,
                                  //  none of them spare.
    uint64_t links_evicted;       //  Links closed to make room for one.
} meshq_peers_stats_t;

//  The membership declared node's start incarnation dead (left: it
//  said it was leaving), and the table has no newer start of it.
typedef void (meshq_peers_gone_fn) (void *arg, const uint8_t node[16],
                                    uint64_t incarnation, bool left);

//  Creates the module with a copy of config. Never fails for outside
//  reasons; meshq_peers_start does what can.
meshq_peers_t *meshq_peers_new (const meshq_peers_config_t *config);

//  Stops (saying BYE to up peers) if started, and destroys. NULL-safe.
void meshq_peers_destroy (meshq_peers_t **self_p);

//  Sets the handler of events; none by default.
void meshq_peers_set_handler (meshq_peers_t *self, meshq_peers_fn *fn,
                              void *arg);

//  Sets what is called, on the owner's loop, when the membership
//  declares a member dead or gone; nothing by default.
void meshq_peers_set_gone (meshq_peers_t *self, meshq_peers_gone_fn *fn,
                           void *arg);

//  For a module with no membership (config.no_membership): the module
//  whose membership it follows (the same node's, in the default vhost),
//  or NULL. Borrowed: the owner calls this again with NULL before it
//  stops or destroys that module. Its membership's word on a node fills
//  the lists (meshq_peer_info_t's member fields, "suspect" on an up
//  link), stretches a silent link's patience (as does its own health
//  multiplier) and admits a member's HELLO; meshq_peers_partial,
//  meshq_peers_want and the members worth an idle link past full_links
//  are its. Without one, every node is "none".
void meshq_peers_follow (meshq_peers_t *self, meshq_peers_t *membership);

//  Whether it runs a membership of its own (not config.no_membership).
bool meshq_peers_has_membership (const meshq_peers_t *self);

//  For a module with no membership: the owner's membership declared
//  node dead (left: it left). Its link goes down at once (PEER_DOWN,
//  reason "declared dead by the membership" or "left"); a later
//  introduction or HELLO of the node opens a new one. Does nothing for
//  a module with a membership of its own, or a node not in the table.
void meshq_peers_member_gone (meshq_peers_t *self, const uint8_t node[16],
                              bool left);

//  Checks the configuration, resolves the interface, binds the ROUTER,
//  opens the beacon socket and sends the first beacon, and registers
//  readers and timers on loop. Returns 0, or a negative code with *why
//  set to a sentence (valid until the next call) naming what failed and
//  what to do: MESHQ_EINVAL for a bad configuration (also a CURVE
//  keypair with a libzmq that has no CURVE), MESHQ_ENOTFOUND for
//  an interface that is not there, MESHQ_EIO for a socket the operating
//  system refused. On failure nothing stays registered on loop.
int meshq_peers_start (meshq_peers_t *self, zloop_t *loop, const char **why);

//  Leaves the loop and closes every socket; with goodbye, first says BYE
//  to the peers that are up (and lingers up to 200 ms for it to leave).
//  No events are reported. Does nothing unless started.
void meshq_peers_stop (meshq_peers_t *self, bool goodbye);

//  Sends msg (frame 1 a command of the owner's, upper case) to an up
//  peer. Takes ownership of *msg_p. Returns 0, MESHQ_ENOTFOUND if the
//  peer is not up, MESHQ_EAGAIN if its queue is full, MESHQ_EINVAL if
//  frame 1 is not an owner's command.
int meshq_peers_send (meshq_peers_t *self, const uint8_t peer[16],
                      zmsg_t **msg_p);

//  As meshq_peers_send, for a frame that asks for no sign of life: one
//  whose loss costs nothing, since the next of its kind repeats it (a
//  digest), and which may get no answer. The link neither waits for the
//  peer after it nor counts it as use: an idle link stays idle (no
//  PING, no sooner tick), and may still close idle.
int meshq_peers_send_unawaited (meshq_peers_t *self, const uint8_t peer[16],
                                zmsg_t **msg_p);

//  Says the owner wants a link to the member node (it has messages or
//  metadata for it): in a mesh of more than full_links members, where
//  links go only to an overlay, the link is opened if the member is
//  alive, and kept for a minute unless wanted again (or until the link
//  is closed to make room at either end's max_links: call again while
//  the work lasts). Does nothing for a smaller mesh, where every member
//  has a link anyway.
void meshq_peers_want (meshq_peers_t *self, const uint8_t node[16]);

//  The members alive or suspect that meshq_peers_first and _next do
//  not list (never up on a link, or closed by UNLINK), in a new array
//  in *members that the caller frees. Returns how many.
size_t meshq_peers_unlinked (meshq_peers_t *self,
                             meshq_peers_member_t **members);

//  True if the mesh has more than full_links members: links go to an
//  overlay and to the members wanted, not to every member.
bool meshq_peers_partial (meshq_peers_t *self);

//  Whether the link to node is one this node needs (its overlay, or
//  wanted; every link up to full_links members): a link that is not,
//  once idle, closes by UNLINK, so only needed links should carry
//  traffic of no urgency.
bool meshq_peers_needed (meshq_peers_t *self, const uint8_t node[16]);

//  Tells the module of a peer that the owner learnt of another way (for
//  an agent, from the same node in another vhost's mesh): node id, the
//  incarnation of its start and the endpoint of its ROUTER. The module
//  connects and says HELLO, as for a peer heard by beacon. Returns 0,
//  MESHQ_EINVAL if endpoint is not tcp://ADDRESS:PORT with a numeric
//  address, node is this node or incarnation is more than 24 hours
//  ahead of our clock, MESHQ_EFULL if the table is full of
//  peers that are up, MESHQ_ESTATE unless started.
int meshq_peers_introduce (meshq_peers_t *self, const uint8_t node[16],
                           uint64_t incarnation, const char *endpoint);

//  Iterates the peers that have been up (up, suspect or down), in no
//  particular order. Returns NULL at the end.
const meshq_peer_info_t *meshq_peers_first (meshq_peers_t *self);
const meshq_peer_info_t *meshq_peers_next (meshq_peers_t *self);

//  Returns the peer with that id if it has been up, else NULL.
const meshq_peer_info_t *meshq_peers_lookup (meshq_peers_t *self,
                                             const uint8_t peer[16]);

//  Peers up now (suspect ones included).
size_t meshq_peers_up_count (const meshq_peers_t *self);

//  This node: id (16 bytes), id in hex, incarnation, name, mesh, vhost,
//  and the ROUTER endpoint peers reach (valid after start).
const uint8_t *meshq_peers_node (const meshq_peers_t *self);
const char *meshq_peers_node_hex (const meshq_peers_t *self);
uint64_t meshq_peers_incarnation (const meshq_peers_t *self);
const char *meshq_peers_name (const meshq_peers_t *self);
const char *meshq_peers_mesh (const meshq_peers_t *self);
const char *meshq_peers_vhost (const meshq_peers_t *self);
const char *meshq_peers_endpoint (const meshq_peers_t *self);

//  The interface and beacon transport in use (valid after start;
//  transport "none" with no_beacon).
const char *meshq_peers_interface (const meshq_peers_t *self);
const char *meshq_peers_transport (const meshq_peers_t *self);

//  Whether the mesh is open: its endpoint is on an interface other than
//  loopback, reachable from the network, and it has no mesh secret.
bool meshq_peers_insecure (const meshq_peers_t *self);

//  Counters since start.
const meshq_peers_stats_t *meshq_peers_stats (const meshq_peers_t *self);

//  Hangs the membership's own thread (frozen), or lets it go: with the
//  owner's loop stopped too, the node hangs as under SIGSTOP. For tests.
void meshq_peers_freeze (meshq_peers_t *self, bool frozen);

//  Names a frame drop reason ("routing_id", "not_up", ...).
const char *meshq_peers_frame_drop_name (meshq_frame_drop_t reason);

#endif
