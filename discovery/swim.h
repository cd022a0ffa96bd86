/*  swim.h - membership of a whole mesh at a cost per agent that does not
    grow with it: SWIM with Lifeguard's refinements.

    One meshq_swim_t per agent (not per vhost) keeps a table of the
    other members, each named by its 16-byte node id. Every probe
    interval it probes one member, in a shuffled round-robin order: a
    PING, then, without an ACK in the probe timeout, a REQ to a few
    others who ping the target for it. A member that answers no probe
    is suspected; a suspicion ends in DEAD after a timeout that shrinks
    as other members independently confirm it, unless the member first
    refutes it by raising its own version counter. States spread by
    gossip piggybacked on every message, each update sent a bounded
    number of times, and by a periodic exchange of whole tables with one
    member (SYNC), which is also how a newcomer joins.

    A member's incarnation is the start of its process: a record with a
    new incarnation means the member restarted, reported as DEAD then
    ALIVE, never merged. The version is the member's own counter within
    one incarnation, raised only by itself to refute a suspicion.

    Local health (Lifeguard): probes of ours that go unanswered while
    the relays we asked do not answer either raise a score that
    stretches our probe interval and timeout, so an agent that is
    starved (overloaded, paused, behind a lossy link) slows down
    instead of accusing healthy members; answered probes lower it.

    The module is pure: no sockets, threads or clock. The owner passes
    now_ms and send callbacks, feeds it received bytes
    (meshq_swim_recv), calls meshq_swim_tick when meshq_swim_next says,
    and hears of changes through the change callback. It runs the same
    in the agent and in the simulator (bench/sim_membership.c).
    Everything a message can make it spend is bounded: members (cap),
    gossip queue, relayed probes; a forged or truncated message is
    counted and dropped. docs/DISCOVERY.md, "Membership (SWIM)", is the
    specification.
*/
#ifndef MESHQ_SWIM_H_INCLUDED
#define MESHQ_SWIM_H_INCLUDED

#include "codec_swim.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _meshq_swim_t meshq_swim_t;

//  Where a member listens: an IPv6 address (IPv4 as ::ffff:a.b.c.d) and
//  a port. The transport maps it to its own endpoint.
typedef struct {
    uint8_t ip[16];  //  Address bytes.
    uint16_t port;   //  Port.
} meshq_swim_addr_t;

//  The owner's side. All callbacks get arg first. send must not call
//  back into the module; it may drop (the protocol tolerates loss).
typedef struct {
    int64_t (*now_ms) (void *arg);  //  A monotonic clock, milliseconds.
    //  Sends size bytes (borrowed) to the member id at addr; id is all
    //  zero for a seed whose id is not known yet.
    void (*send) (void *arg, const uint8_t *id, const meshq_swim_addr_t *addr,
                  const void *data, size_t size);
    //  A member changed state, as this agent sees it: ALIVE (joined, or
    //  back), SUSPECT, DEAD or LEFT. A restart is DEAD with the old
    //  incarnation, then ALIVE with the new one. fresh: ALIVE of a member
    //  that was neither alive nor suspect (new, restarted, or back from
    //  the dead), not the end of a suspicion. May be NULL.
    void (*change) (void *arg, const uint8_t *id, meshq_swim_state_t state,
                    bool fresh, uint64_t incarnation);
    void *arg;  //  Passed to the callbacks.
} meshq_swim_io_t;

//  Settings; meshq_swim_config_defaults gives the documented defaults.
typedef struct {
    uint32_t probe_interval_ms;   //  One probe per interval.
    uint32_t probe_timeout_ms;    //  Direct PING's wait before REQs.
    uint32_t indirect_checks;     //  Members asked to ping for us (k).
    uint32_t suspicion_mult;      //  Shortest suspicion: mult * (1 +
                                  //  log10(n / 10) / 2) units.
    uint32_t suspicion_unit_ms;   //  That unit; 0: the probe interval.
    uint32_t suspicion_max_mult;  //  Longest: this times the shortest.
    uint32_t retransmit_mult;     //  An update goes mult * log10(n+1)
                                  //  times (rounded up).
    uint32_t gossip_interval_ms;  //  Gossip-only messages, if queued.
    uint32_t gossip_nodes;        //  Members each gossip round goes to.
    uint32_t piggyback_max;       //  Updates per PING or ACK.
    uint32_t gossip_max;          //  Updates per GOSSIP.
    uint32_t awareness_max;       //  Largest health multiplier.
    uint32_t sync_interval_ms;    //  Whole-table exchange; 0: never.
    uint32_t sync_chunk;          //  Members per SYNC message.
    uint32_t dead_keep_ms;        //  A dead or left member is forgotten
                                  //  after this.
    uint32_t max_members;         //  Table cap; new members beyond are
                                  //  dropped and counted.
    uint32_t gossip_queue_max;    //  Updates waiting to be gossiped.
    uint32_t relay_max;           //  Probes relayed for others at once.
    uint32_t initial_members;     //  Room made at start (0: grow as
                                  //  members come, by half each time).
    uint32_t fresh_ms;            //  A member suspected within this of
                                  //  coming alive (joined, restarted,
                                  //  refuted), or within 1 s of the
                                  //  second of two joins, counts one
                                  //  confirmation at most; 0: off.
} meshq_swim_config_t;

//  Counters, for status and the simulator.
typedef struct {
    uint32_t alive;           //  Members alive now (self not counted).
    uint32_t suspect;         //  Members suspect now.
    uint32_t dead;            //  Dead or left, not yet forgotten.
    uint32_t awareness;       //  Health multiplier now, 1 is healthy.
    uint32_t queued;          //  Updates waiting in the gossip queue.
    uint64_t msgs_in;         //  Messages accepted.
    uint64_t msgs_out;        //  Messages sent.
    uint64_t bytes_out;       //  Bytes sent.
    uint64_t bad_msgs;        //  Messages that did not decode: dropped.
    uint64_t misdirected;     //  PINGs for another id: dropped.
    uint64_t members_full;    //  New members dropped: table full.
    uint64_t gossip_dropped;  //  Updates pushed out of a full queue.
    uint64_t relays_dropped;  //  REQs dropped: too many relayed.
    uint64_t suspicions;      //  Suspicions this agent started.
    uint64_t refutations;     //  Suspicions of itself it refuted.
    uint64_t answers;         //  Its record sent to who accused it.
    uint64_t answers_held;    //  Answers not sent: over the budget.
    uint64_t stalls;          //  Ticks that came a probe interval or
                              //  more late: this node was not running.
} meshq_swim_stats_t;

//  Fills config with the defaults (docs/DISCOVERY.md, "Timers").
void meshq_swim_config_defaults (meshq_swim_config_t *config);

//  Creates the membership of the agent id (16 bytes, copied) in its
//  incarnation, listening at addr. config and io are copied; seed
//  drives the module's choices (shuffles, relays). Never fails.
meshq_swim_t *meshq_swim_new (const meshq_swim_config_t *config,
                              const meshq_swim_io_t *io, const uint8_t *id,
                              uint64_t incarnation,
                              const meshq_swim_addr_t *addr, uint64_t seed);

//  Destroys the membership; NULL-safe, nulls *self_p.
void meshq_swim_destroy (meshq_swim_t **self_p);

//  Joins through a member at addr (a seed, a beacon's sender): sends it
//  our table, asking for its own. Harmless to repeat.
void meshq_swim_join (meshq_swim_t *self, const meshq_swim_addr_t *addr);

//  Heard of a member (a beacon, a peer list) of incarnation (0: not
//  known): if we do not have it alive, or have an older start of it
//  alive, PING it; its ACK brings it in (or tells of its restart), and
//  our PING brings us into its table. Cheaper than a join, which sends
//  the whole table: call join only while our table is empty. The owner
//  bounds how often.
void meshq_swim_hello (meshq_swim_t *self, const uint8_t *id,
                       uint64_t incarnation, const meshq_swim_addr_t *addr);

//  Says we leave: gossips LEFT about ourselves to a few members at once.
void meshq_swim_leave (meshq_swim_t *self);

//  Takes one received message (size bytes, borrowed). Returns 0, or
//  the codec's code if it was refused (counted in bad_msgs).
int meshq_swim_recv (meshq_swim_t *self, const void *data, size_t size);

//  Runs what is due at now. Call it at meshq_swim_next () or later.
void meshq_swim_tick (meshq_swim_t *self);

//  Probes one member every ms from the next probe on (the owner slows
//  them in a large mesh); suspicions keep their unit if one was set.
void meshq_swim_set_probe_interval (meshq_swim_t *self, uint32_t ms);

//  Numbers the probe rounds on the clock plus ms (0 at first): an agent
//  gives the wall clock's lead on its own, so that members of hosts
//  whose clocks agree take their turns alike (swim_probe.c).
void meshq_swim_set_round_offset (meshq_swim_t *self, int64_t ms);

//  When meshq_swim_tick must next run (now_ms's clock).
int64_t meshq_swim_next (meshq_swim_t *self);

//  The owner's connection to id closed: suspect it at once (the fast
//  path), and probe it now. Returns 0, or MESHQ_ENOTFOUND.
int meshq_swim_lost (meshq_swim_t *self, const uint8_t *id);

//  The owner has proof that id is gone (its endpoint refused a
//  connection): dead at once. Returns 0, or MESHQ_ENOTFOUND.
int meshq_swim_gone (meshq_swim_t *self, const uint8_t *id);

//  What this agent knows of id. Returns 0, or MESHQ_ENOTFOUND.
int meshq_swim_member (meshq_swim_t *self, const uint8_t *id,
                       meshq_swim_state_t *state, uint64_t *incarnation,
                       uint32_t *version);

//  Where id listens. Returns 0, or MESHQ_ENOTFOUND.
int meshq_swim_member_addr (meshq_swim_t *self, const uint8_t *id,
                            meshq_swim_addr_t *addr);

//  Walks the table: the first member at *cursor (start at 0) or after,
//  with *cursor moved past it. Returns false at the end. Any call that
//  changes the table may reorder it: finish a walk first.
bool meshq_swim_walk (meshq_swim_t *self, uint32_t *cursor, uint8_t *id,
                      meshq_swim_state_t *state, uint64_t *incarnation);

//  Our own version counter (raised by each refutation).
uint32_t meshq_swim_version (meshq_swim_t *self);

//  Copies the counters into stats.
void meshq_swim_stats (meshq_swim_t *self, meshq_swim_stats_t *stats);

//  Bytes of table state per member: the entry plus its index and probe
//  order slots (what 10,000 members cost, divided by 10,000).
size_t meshq_swim_member_bytes (void);

#endif
