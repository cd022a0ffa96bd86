/*  peers_internal.h - what the files of the peers module share.

    meshq_peers is one module in eight files: peers.c (life cycle, start
    and stop), peers_owner.c (the owner's calls once it runs),
    peers_table.c (the table, the actions the state machine asks for,
    timers), peers_input.c (beacons, frames and link events),
    peers_seeds.c (seeds), peers_swim.c (the membership: its thread,
    socket and events), peers_links.c (which members get a link, and
    when) and peers_unlink.c (closing idle links, the cap on links).
    Nothing outside discovery/peers*.c includes this header.
*/
#ifndef MESHQ_PEERS_INTERNAL_H_INCLUDED
#define MESHQ_PEERS_INTERNAL_H_INCLUDED

#include "beacon_pace.h"
#include "codec_peer.h"
#include "codec_reader.h"
#include "iface.h"
#include "link.h"
#include "meshq.h"
#include "overlay.h"
#include "peer.h"
#include "peers.h"
#include "swim.h"
#include "swim_udp.h"

#include <inttypes.h>
#include <pthread.h>

//  The software version a HELLO announces.
#define MESHQ_PEERS_VERSION "0.1.0"

//  File descriptors whose connections the ROUTER monitor tracks; peers
//  on higher ones are found dead by heartbeats alone.
#define MESHQ_PEERS_FDS 65536

//  The ROUTER monitor's events of connections that failed their
//  handshake: another or no mesh secret, or not ZeroMQ at all.
#define MESHQ_PEERS_HANDSHAKE_EVENTS                                           \
    (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                                    \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

//  Most tries at once to peers never up (each holds a link's socket),
//  and how many such tries may start a second, in a burst of at most
//  MESHQ_PEERS_STRANGERS_BURST: forged beacons or PEERS lists naming
//  ever new nodes cost a few sockets, never all of them.
#define MESHQ_PEERS_PENDING_MAX     64
#define MESHQ_PEERS_STRANGERS_PER_S 10
#define MESHQ_PEERS_STRANGERS_BURST 64

//  How far ahead of our clock an incarnation (the start of its node, in
//  microseconds since 1970) may be: beyond, it is refused.
#define MESHQ_PEERS_FUTURE_US (24 * 3600 * INT64_C (1000000))

//  How long a link a mesh past full_links does not need (neither
//  overlay nor wanted) stays up with no frame of the owner's either way
//  before it is closed by UNLINK (peers_unlink.c).
#define MESHQ_PEERS_IDLE_MS 15000

//  Most seed endpoints (numeric, and the addresses of names), and most
//  seed names.
#define MESHQ_PEERS_SEEDS_MAX      64
#define MESHQ_PEERS_SEED_NAMES_MAX 16

//  At most one log line a second per kind of trouble.
typedef struct {
    int64_t next;  //  When the next line may go out (ms).
} meshq_peers_ratelog_t;

//  One peer in the table.
typedef struct {
    meshq_peers_t *owner;                 //  The module, for probe events.
    meshq_peer_t peer;                    //  Its state machine.
    uint8_t node[16];                     //  Its node id.
    char hex[33];                         //  The id in hex, the index key.
    char name[256];                       //  Its name, from its HELLO.
    char commands[256];                   //  Its commands, from its HELLO.
    char endpoint[MESHQ_ENDPOINT_MAX];    //  Where our link connects.
    char advertised[MESHQ_ENDPOINT_MAX];  //  Its own, from its HELLO.
    bool listed;                          //  It has been up.
    meshq_link_t *link;                   //  Our DEALER to it, if open.
    int fd;                               //  Its connection to our ROUTER
                                          //  (ZMQ_SRCFD), or -1.
    int probe;                            //  A TCP connect to its ROUTER
                                          //  after a loss, or -1.
    zmq_pollitem_t probe_item;            //  The probe's zloop poller.
    int64_t probe_deadline;               //  When to give up the probe.
    meshq_peer_info_t info;               //  What events and lists show.
} meshq_peers_entry_t;

//  A seed endpoint and its probe.
typedef struct {
    char *endpoint;       //  tcp://ADDRESS:PORT.
    meshq_link_t *probe;  //  A DEALER with routing prefix 02, or NULL.
    int64_t next;         //  When to probe next (ms).
    int name;             //  The seed name it is an address of, or -1.
} meshq_peers_seed_t;

//  A change of a member's state, from the membership's thread to the
//  owner's loop (peers_swim.c), where links follow (peers_links.c).
typedef struct {
    uint8_t id[16];            //  The member.
    meshq_swim_state_t state;  //  Its new state.
    bool fresh;                //  Alive, and was not (see swim.h).
    uint64_t incarnation;      //  Of which start.
    meshq_swim_addr_t addr;    //  Where it listens.
} meshq_peers_swim_event_t;

//  The membership's growth is measured over this many samples
//  (peers_links.c, s_filling).
#define MESHQ_PEERS_SAMPLES 4

//  The membership (peers_swim.c: the fields down to log) and the link
//  decisions drawn from it (peers_links.c: from members on, though the
//  membership's events set members and changed too). One struct, made
//  by meshq_peers_swim_open and freed by meshq_peers_swim_stop.
typedef struct _meshq_peers_swim_t {
    meshq_peers_t *owner;              //  The peers module.
    meshq_swim_t *swim;                //  Who is in the mesh.
    meshq_swim_udp_t *udp;             //  Its datagrams.
    uint8_t key[MESHQ_SWIM_KEY_SIZE];  //  Seals them, with a secret.
    pthread_mutex_t lock;              //  Guards all below but pipes.
    pthread_t thread;                  //  Runs the membership.
    bool running;                      //  The thread was started.
    bool stopping;                     //  The thread must end.
    int wake[2];                       //  Owner -> thread.
    int notify[2];                     //  Thread -> owner's loop.
    zmq_pollitem_t notify_item;        //  Its zloop poller.
    bool notified;                     //  A byte waits in notify.
    meshq_peers_swim_event_t *events;  //  Changes for the owner.
    size_t events_len, events_cap;     //  In use, allocated.
    bool overflow;                     //  Some were dropped.
    int64_t joined;                    //  Last join through seeds.
    meshq_peers_ratelog_t log;         //  Dropped datagrams' lines.
    //  The owner's side only (no lock): lines on answers held, and how
    //  many they told of;
    meshq_peers_ratelog_t held_log;
    uint64_t held_logged;
    //  which members get a link.
    uint32_t members;   //  Alive or suspect, at the last scan.
    uint32_t linked;    //  Links up or coming, at the last scan, plus
                        //  those opened since while it grows.
    int64_t link_next;  //  When the next overlay link past S_FLOOR may
                        //  open.
    //  Members past full_links linked to (overlay.h), sorted.
    uint8_t overlay[MESHQ_OVERLAY_MAX][16];
    size_t overlay_len;
    zhashx_t *wanted;  //  Hex id -> int64_t* until when the
                       //  owner wants a link to it.
    //  Members at the last scans, one every S_SAMPLE_MS.
    uint32_t counts[MESHQ_PEERS_SAMPLES];
    int64_t counted;  //  When the last was taken.
    size_t count_at;  //  The oldest, in counts.
    int64_t scanned;  //  When the last scan was.
    bool changed;     //  A member changed since (under lock).
    bool filling;     //  The last scan found it filling.
    bool settled;     //  The last found nothing to do (under lock).
} meshq_peers_swim_t;

struct _meshq_peers_t {
    meshq_peers_config_t config;  //  Defaults applied; strings below.
    char *name;                   //  Node name.
    char *mesh;                   //  Mesh name.
    char *vhost;                  //  Vhost name.
    char *interface;              //  Interface asked for, or NULL.
    char *seeds;                  //  Seed list as given, or NULL.
    char *commands;               //  Our commands for HELLO, or NULL.
    uint8_t node[16];             //  Our node id.
    char node_hex[33];            //  The id in hex.
    uint8_t mesh_id[16];          //  Our beacons' mesh id.
    uint64_t incarnation;         //  This start's incarnation.
    meshq_peers_fn *handler;      //  The owner's event handler.
    void *handler_arg;            //  Passed to it.
    meshq_peers_stats_t stats;    //  Counters.
    char error[512];              //  The last start failure.
    bool curve;                   //  The mesh uses CURVE: keys below.
    char curve_public[64];        //  The mesh's public key, Z85.
    char curve_secret[64];        //  The mesh's secret key, Z85.

    //  One membership per agent (peers.h): the owner is told of members
    //  gone; a module with none follows another's (borrowed).
    meshq_peers_gone_fn *gone_fn;
    void *gone_arg;
    meshq_peers_t *leader;

    //  While started:
    bool started;                //  Registered on loop.
    zloop_t *loop;               //  The owner's loop; borrowed.
    int64_t started_ms;          //  When it started (zclock_mono).
    meshq_iface_t iface;         //  The interface in use.
    void *router;                //  Our ROUTER for the mesh (libzmq).
    void *monitor;               //  Its lost connections: peers gone.
    zmq_pollitem_t router_item;  //  Their zloop pollers.
    zmq_pollitem_t monitor_item;
    uint8_t open[MESHQ_PEERS_FDS / 8];          //  A bit per fd: its connection
                                                //  was accepted and not lost.
    char endpoint[MESHQ_ENDPOINT_MAX];          //  Where peers reach it.
    meshq_udp_t *udp;                           //  Beacon socket, or NULL.
    uint8_t beacon[MESHQ_BEACON_SEALED_SIZE];   //  Our beacon record,
    size_t beacon_size;                         //  sealed with a secret,
    uint8_t beacon_key[MESHQ_BEACON_KEY_SIZE];  //  by this key.
    meshq_beacon_pace_t beacon_pace;            //  When the next one goes.
    meshq_buf_t hello;                          //  Our HELLO map, encoded once,
        //  with no session: seed probes.
    meshq_hello_t hello_fields;      //  Its fields, for links' HELLOs.
    int beacon_timer;                //  zloop timer ids, or -1.
    int64_t beacon_at;               //  When the beacon's one-shot fires.
    int tick_timer;                  //  Heartbeats and expiry.
    bool tick_calm;                  //  The tick runs once a second.
    int64_t tick_due;                //  When the armed tick should run.
    int64_t stalled_at;              //  When a late tick last ran.
    meshq_peers_swim_t *membership;  //  Who is in the mesh (peers_swim.c).
    //  The table: an array to iterate, an index to look up.
    meshq_peers_entry_t **entries;  //  max_peers slots.
    size_t count;                   //  Entries in use.
    zhashx_t *index;                //  Hex id to entry.
    size_t up_count;                //  Entries reported up.
    size_t cursor;                  //  For meshq_peers_first/next.
    meshq_peers_seed_t seed_list[MESHQ_PEERS_SEEDS_MAX];  //  Seeds.
    size_t seed_count;                                    //  Seeds in use.
    char *seed_hosts[MESHQ_PEERS_SEED_NAMES_MAX];         //  Seeds by DNS name,
    uint16_t seed_ports[MESHQ_PEERS_SEED_NAMES_MAX];      //  and their ports.
    size_t seed_names;                                    //  Names in use.
    zactor_t *resolver;  //  Resolves them (resolver.h), while started.
    meshq_peers_ratelog_t resolve_log;
    uint64_t links_opened;             //  Makes monitor names unique.
    uint64_t ping_seq;                 //  Last PING sequence number.
    meshq_buf_t buf;                   //  Reused to encode frames.
    meshq_gossip_t *gossip;            //  MESHQ_GOSSIP_MAX entries, reused.
    double stranger_tokens;            //  Tries to strangers allowed now.
    int64_t stranger_refill;           //  When the tokens were counted.
    meshq_peers_ratelog_t beacon_log;  //  Rate limits of log lines.
    meshq_peers_ratelog_t frame_log;
    meshq_peers_ratelog_t error_log;
    meshq_peers_ratelog_t handshake_log;
    meshq_peers_ratelog_t cap_log;
    int64_t cap_theirs;  //  When a peer's HELLO last made room (ms).
};

//  peers_table.c
void meshq_peers_hex (const uint8_t node[16], char hex[33]);
meshq_peers_entry_t *meshq_peers_find (meshq_peers_t *self,
                                       const uint8_t node[16]);
//  Adds an entry, evicting the peer down longest if the table is full;
//  NULL if every entry is up.
meshq_peers_entry_t *meshq_peers_add (meshq_peers_t *self,
                                      const uint8_t node[16], int64_t now);
//  Empties the table, closing every link.
void meshq_peers_clear (meshq_peers_t *self);
const meshq_peer_info_t *meshq_peers_info (meshq_peers_entry_t *entry,
                                           int64_t now);
//  Carries out the state machine's actions. endpoint is where to open
//  a link; hello, if any, brings the peer's name and own endpoint.
void meshq_peers_apply (meshq_peers_t *self, meshq_peers_entry_t *entry,
                        unsigned actions, const char *endpoint,
                        const meshq_hello_t *hello, int64_t now);
//  Asks whether anything still listens where the entry's link goes: a
//  refused TCP connect means its process is gone (meshq_peer_refused).
void meshq_peers_probe_start (meshq_peers_t *self, meshq_peers_entry_t *entry);
void meshq_peers_probe_stop (meshq_peers_t *self, meshq_peers_entry_t *entry);
//  Sends msg on the entry's link (which it must have) and counts it;
//  takes msg, as meshq_link_send does. Returns its code.
int meshq_peers_link_send (meshq_peers_t *self, meshq_peers_entry_t *entry,
                           zmsg_t **msg_p);
//  Sends [command][args] on the entry's link.
int meshq_peers_send_frame (meshq_peers_t *self, meshq_peers_entry_t *entry,
                            const char *command, const meshq_buf_t *args);
//  Puts the tick back to every heartbeat, if it was calm: something
//  changed that it must time (a link opening, a wait, a probe).
void meshq_peers_hurry (meshq_peers_t *self);

//  peers_input.c
//  A peer named by a beacon, an introduction or the membership
//  (member: it vouches for it, so no stranger's rate applies; gossip:
//  second-hand, see meshq_peer_discovered).
void meshq_peers_discovered (meshq_peers_t *self, const uint8_t node[16],
                             uint64_t incarnation, const char *endpoint,
                             bool gossip, bool member, int64_t now);
//  The entry's connection to our ROUTER was lost: suspect it, probe
//  whether anything listens where it was, and tell the membership.
void meshq_peers_lost (meshq_peers_t *self, meshq_peers_entry_t *entry,
                       int64_t now);
//  Nothing listens where the entry's link goes.
void meshq_peers_refused (meshq_peers_t *self, meshq_peers_entry_t *entry,
                          int64_t now);

//  peers_swim.c
//  Opens the membership's socket at the ROUTER's port: 0, MESHQ_EEXIST
//  if the port is taken for UDP, or MESHQ_EIO, with self->error set.
int meshq_peers_swim_open (meshq_peers_t *self, uint16_t port);
//  Starts the membership on the loop; 0 or MESHQ_EIO.
int meshq_peers_swim_start (meshq_peers_t *self);
//  Leaves (with goodbye: says so), stops and closes.
void meshq_peers_swim_stop (meshq_peers_t *self, bool goodbye);
//  Heard of node at endpoint (a beacon, a seed's answer, the owner).
void meshq_peers_swim_heard (meshq_peers_t *self, const uint8_t node[16],
                             uint64_t incarnation, const char *endpoint);
//  The same, on the membership's thread with its lock held (beacons).
void meshq_peers_swim_heard_locked (meshq_peers_t *self, const uint8_t node[16],
                                    uint64_t incarnation, const char *endpoint);
//  A link's connection to node was lost: suspect it, probe it now.
void meshq_peers_swim_lost (meshq_peers_t *self, const uint8_t node[16]);
//  Proof that node's incarnation is gone: dead, for the whole mesh.
void meshq_peers_swim_gone (meshq_peers_t *self, const uint8_t node[16],
                            uint64_t incarnation);
//  Whether the membership has node alive (or suspect), or suspect.
bool meshq_peers_swim_alive (meshq_peers_t *self, const uint8_t node[16]);
bool meshq_peers_swim_suspect (meshq_peers_t *self, const uint8_t node[16]);
//  What the membership knows of node, read under its lock: its state's
//  name ("alive", "suspect", "dead" or "left"), the start it knows and
//  that start's version (raised by each refutation). Returns 0, or
//  MESHQ_ENOTFOUND (unknown to it, or no membership) with "none", 0, 0.
int meshq_peers_swim_member (meshq_peers_t *self, const uint8_t node[16],
                             const char **state, uint64_t *incarnation,
                             uint32_t *version);
//  Our own health multiplier (1 healthy, up to 8): how late our own
//  answers are, which stretches a silent link's timeout as it stretches
//  the membership's. Also copies the membership's counts to the stats.
uint32_t meshq_peers_swim_awareness (meshq_peers_t *self);
//  The name of a membership state: "alive", "suspect", "dead" or "left".
const char *meshq_peers_swim_state_name (meshq_swim_state_t state);
//  The membership's part of a scan (meshq_peers_swim_scan), with its
//  lock held and its counts in stats: alone, joins again through the
//  seeds, at most once a second; past full_links members, probes every
//  two heartbeats.
void meshq_peers_swim_scan_locked (meshq_peers_t *self,
                                   const meshq_swim_stats_t *stats,
                                   int64_t now);
//  Hangs the membership's thread (frozen) or lets it go, as SIGSTOP
//  would: for tests of a hung node.
void meshq_peers_swim_freeze (meshq_peers_t *self, bool frozen);

//  peers_links.c
//  Whether the link to the member is needed: every member alive up to
//  full_links members; beyond, those of our overlay and those wanted.
bool meshq_peers_swim_needed (meshq_peers_t *self, const uint8_t node[16],
                              int64_t now);
//  Whether links go only to the overlay and the wants: past full_links
//  members, or filling towards it.
bool meshq_peers_swim_partial (meshq_peers_t *self);
//  Whether the member is in our overlay now.
bool meshq_peers_swim_overlay (meshq_peers_t *self, const uint8_t node[16]);
//  Forgets the owner's want of a link to the member (its link was
//  closed to make room): the scan does not open it again until the
//  owner wants it again.
void meshq_peers_swim_unwant (meshq_peers_t *self, const uint8_t node[16]);
//  Whether the member gets a link from us now: one needed, but while a
//  membership past full_links grows fast, overlay links only up to a
//  few (the rest once it holds still).
bool meshq_peers_swim_linkable (meshq_peers_t *self, const uint8_t node[16],
                                int64_t now);
//  A member changed (an event of the membership's, or a scan's
//  finding): a member alive gets a link if linkable, one dead or left
//  is declared dead to its peer and to the owner (gone_fn).
void meshq_peers_swim_apply (meshq_peers_t *self,
                             const meshq_peers_swim_event_t *event,
                             int64_t now);
//  Reconciles links with the table: a link for each member alive, none
//  for one dead or gone; alone, joins through the seeds.
void meshq_peers_swim_scan (meshq_peers_t *self, int64_t now);
//  Whether the tick's scan is due: a member changed since the last, or
//  a second went by (to retry links that failed), ten once the last
//  found nothing to do.
bool meshq_peers_swim_due (meshq_peers_t *self, int64_t now);

//  peers_unlink.c
//  Past full_links, asks the peers whose links are idle and not needed
//  to close them (UNLINK). Every tick.
void meshq_peers_unlink_tick (meshq_peers_t *self, int64_t now);
//  UNLINK from the entry's peer: done, it closed its side; else it asks,
//  and we close ours (and say so) if we can do without the link.
void meshq_peers_unlink_input (meshq_peers_t *self, meshq_peers_entry_t *entry,
                               bool done, int64_t now);

//  peers_unlink.c, the cap on links
//  Links open now (entries with a link: up, suspect or trying).
size_t meshq_peers_links (const meshq_peers_t *self);
//  Whether the entry's peer (node; entry NULL if not in the table) may
//  get a new link now: past full_links, with max_links open, only by
//  closing the least recently used spare link. theirs: the peer asks
//  (its HELLO) and we need no link to it: such room is made at most
//  once a second. Counts and logs a refusal.
bool meshq_peers_cap_room (meshq_peers_t *self, meshq_peers_entry_t *entry,
                           const uint8_t node[16], bool theirs, int64_t now);
//  Notes a link opened (the peak).
void meshq_peers_cap_opened (meshq_peers_t *self);

//  peers_seeds.c
//  Reads the seed list into seed_list (numeric endpoints) and
//  seed_hosts (names); 0 or MESHQ_EINVAL with self->error set.
int meshq_peers_seeds_parse (meshq_peers_t *self);
//  Opens a probe to every numeric seed, and starts resolving the names;
//  0 or MESHQ_EIO with self->error set.
int meshq_peers_seeds_open (meshq_peers_t *self);
//  Stops resolving, closes every probe, forgets the seeds.
void meshq_peers_close_seeds (meshq_peers_t *self);
//  Whether a report (beacon, PEERS entry, HELLO) about node may open a
//  try: always for a peer that has been up or is being tried; for a
//  stranger only within MESHQ_PEERS_PENDING_MAX and the rate. entry is
//  the node's, or NULL.
bool meshq_peers_admit (meshq_peers_t *self, meshq_peers_entry_t *entry,
                        bool member, int64_t now);
//  Whether incarnation is more than MESHQ_PEERS_FUTURE_US ahead.
bool meshq_peers_future (uint64_t incarnation);
int meshq_peers_tick (zloop_t *loop, int timer_id, void *arg);
bool meshq_peers_ratelog (meshq_peers_ratelog_t *log, int64_t now);

//  peers_input.c
int meshq_peers_router_input (zloop_t *loop, zmq_pollitem_t *item, void *arg);
//  Reads the beacons waiting, each heard by the membership: on the
//  membership's thread, with its lock held.
void meshq_peers_beacons_read (meshq_peers_t *self);
int meshq_peers_monitor_input (zloop_t *loop, zmq_pollitem_t *item, void *arg);
int meshq_peers_probe_input (zloop_t *loop, zmq_pollitem_t *item, void *arg);

#endif
