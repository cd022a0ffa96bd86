/*  swim_internal.h - the state of the membership module, shared by its
    files:

      swim.c         new/destroy, states, the merge rules, recv, the
                     public calls
      swim_table.c   the member table: slots, index, probe order, reclaim
      swim_probe.c   probes (PING, REQ, ACK, NACK), relays for others,
                     local health, suspicion timeouts, tick and next
      swim_gossip.c  the gossip queue, piggybacking, sending messages,
                     whole-table SYNC
*/
#ifndef MESHQ_SWIM_INTERNAL_H_INCLUDED
#define MESHQ_SWIM_INTERNAL_H_INCLUDED

#include "swim.h"
#include <string.h>

//  A slot number that names ourselves in the gossip queue.
#define S_SWIM_SELF (UINT32_MAX - 2)

//  Member flags.
enum {
    MESHQ_SWIM_F_USED = 1,    //  The slot holds a member.
    MESHQ_SWIM_F_QUEUED = 2,  //  An update of it waits in the gossip queue.
    MESHQ_SWIM_F_LISTED = 4,  //  It is in the suspect list.
    MESHQ_SWIM_F_OURS = 8,    //  Suspect by a probe of ours: told so
                              //  every probe interval (swim_probe.c).
    MESHQ_SWIM_F_FRESH = 16,  //  Suspect within fresh_ms of coming
                              //  alive: one confirmation counts at most.
};

//  One member: 64 bytes, the table's whole cost per member but for
//  its index and probe order slots (12 bytes).
typedef struct {
    uint8_t id[16];         //  Node id.
    uint8_t ip[16];         //  Address.
    uint64_t incarnation;   //  Its start; a new one is a restart.
    int64_t since;          //  When it entered its state (ms); for a
                            //  free slot, the next free slot.
    uint32_t version;       //  Its own refutation counter.
    uint16_t port;          //  Port.
    uint8_t state;          //  A meshq_swim_state_t.
    uint8_t flags;          //  MESHQ_SWIM_F_*.
    uint16_t confirm_mask;  //  Suspecters seen, one bit per id hash.
    uint8_t confirmations;  //  Independent confirmations of the
                            //  suspicion, beyond the first suspecter.
    uint8_t spare;          //  Unused.
    uint16_t queue_pos;     //  Its place in the gossip queue if queued.
    uint16_t spare2;        //  Unused.
} meshq_swim_member_t;

//  No entry, in the gossip queue's lists.
#define S_SWIM_NONE UINT16_MAX

//  An update waiting to be gossiped: the member's current record is
//  sent, so a newer update of a member replaces its older one. Entries
//  sent t times are on list t (newest first), so that the least sent
//  and the most sent are found without a scan.
typedef struct {
    uint32_t slot;      //  Member slot, or S_SWIM_SELF; free entries:
                        //  UINT32_MAX - 1.
    uint8_t transmits;  //  Times sent so far: its list.
    bool has_by;        //  A suspicion: by is the suspecter.
    uint16_t prev;      //  Previous entry on its list, or S_SWIM_NONE.
    uint16_t next;      //  Next entry on its list (or free list).
    uint8_t by[16];     //  Suspecter's id.
} meshq_swim_queued_t;

//  A probe we relay for another member (it sent us a REQ).
typedef struct {
    bool used;                   //  The entry is in use.
    uint64_t seq;                //  Our PING's number.
    uint64_t req_seq;            //  The requester's probe number.
    uint8_t req_id[16];          //  The requester.
    meshq_swim_addr_t req_addr;  //  Where it listens.
    int64_t nack_at;             //  When to tell it we heard nothing.
} meshq_swim_relay_t;

//  Our own probe of one member.
typedef struct {
    bool active;              //  A probe is under way.
    bool acked;               //  Its ACK came (directly or relayed).
    bool indirect;            //  REQs went out.
    uint8_t target[16];       //  Whom we probe.
    uint64_t seq;             //  Its number.
    int64_t timeout_at;       //  When to send REQs if no ACK.
    uint32_t nacks_expected;  //  REQs sent.
    uint16_t nacked;          //  Bit i: relays[i] sent its NACK.
    uint8_t relays[16][16];   //  Whom the REQs went to.
} meshq_swim_probe_t;

struct _meshq_swim_t {
    meshq_swim_config_t config;  //  Settings.
    meshq_swim_io_t io;          //  Clock, transport, events.
    meshq_swim_update_t me;      //  Our own record.
    bool leaving;                //  We said LEFT.
    uint16_t me_queue_pos;       //  Our place in the gossip queue.
    bool me_queued;              //  Our record waits in it.
    uint64_t rng;                //  xorshift64* state.
    uint64_t hash_key[2];        //  Keys of the id hash.

    meshq_swim_member_t *members;  //  Slots.
    uint32_t members_cap;          //  Slots allocated.
    uint32_t members_used;         //  Slots ever used (high water).
    uint32_t free_slot;            //  First free slot + 1; 0: none.
    uint32_t count;                //  Members in the table.
    uint32_t *index;               //  Open addressing: slot + 1, 0 free.
    uint32_t index_cap;            //  A power of two, > 2 * count.
    uint32_t *order;               //  Probe order: slots by member id,
                                   //  members_cap.
    uint32_t order_len;            //  Entries in order.
    uint32_t order_me;             //  Our place among them: members
                                   //  whose id is below ours.
    bool order_stale;              //  A member came, died or came back
                                   //  since it was made.
    uint32_t probe_pos;            //  Probes since it was made.
    uint16_t probe_phase;          //  Our probes' place in each round,
                                   //  in 65,536ths of it.
    int64_t round_offset;          //  Added to the clock to number
                                   //  rounds (swim_probe.c).
    bool accused;                  //  The message being read held a
                                   //  record of us not alive,
    bool refuted;                  //  which we refuted (else we had),
    bool accused_by;               //  and named its suspecter,
    uint8_t accuser[16];           //  this member.
    int64_t answers_at;            //  Answers to accusers: the window
    uint32_t answers;              //  they count in, and how many.
    uint32_t *suspects;            //  Slots of suspect members.
    uint32_t suspects_len;         //  Entries in suspects.
    uint32_t suspects_cap;         //  Entries allocated.

    meshq_swim_queued_t *queue;  //  Gossip queue, gossip_queue_max.
    uint32_t queue_len;          //  Entries in use.
    uint16_t queue_free;         //  First free entry, or S_SWIM_NONE.
    uint16_t heads[256];         //  First entry sent t times, by t.
    meshq_swim_relay_t *relays;  //  relay_max entries.
    meshq_swim_probe_t probe;    //  Our probe under way.
    uint64_t seq;                //  Last probe number used.
    uint32_t awareness;          //  Health score, 0 is healthy.

    int64_t due;          //  Deadline meshq_swim_next last gave, or 0.
    int64_t probe_next;   //  Next probe starts.
    int64_t gossip_next;  //  Next gossip round.
    int64_t sync_next;    //  Next whole-table exchange.
    uint32_t catch_up;    //  Quick exchanges a newcomer may still make.
    //  When the last two members joined (or came back from the dead):
    //  two within S_SWIM_GROWING_MS of now is a mesh growing.
    int64_t joined_at[2];

    meshq_buf_t out;               //  Reused for encoding.
    meshq_swim_update_t *scratch;  //  Decoded or outgoing updates,
                                   //  MESHQ_SWIM_UPDATES_MAX.
    meshq_swim_stats_t stats;      //  Counters.
};

//  Where member m listens.
static inline meshq_swim_addr_t
meshq_swim_addr_of (const meshq_swim_member_t *m)
{
    meshq_swim_addr_t addr;
    memcpy (addr.ip, m->ip, 16);
    addr.port = m->port;
    return addr;
}

//  swim_table.c: the table.
uint32_t meshq_swim_hash (const meshq_swim_t *self, const uint8_t *id);
meshq_swim_member_t *meshq_swim_find (meshq_swim_t *self, const uint8_t *id,
                                      uint32_t *slot);
int meshq_swim_reserve (meshq_swim_t *self, uint32_t cap);
uint32_t meshq_swim_add (meshq_swim_t *self, const meshq_swim_update_t *u);
void meshq_swim_unlist (meshq_swim_t *self, uint32_t slot);
void meshq_swim_rebuild_order (meshq_swim_t *self);
uint32_t meshq_swim_live (meshq_swim_t *self);
uint32_t meshq_swim_random_live (meshq_swim_t *self, uint32_t *slots,
                                 uint32_t want, const uint8_t *except);

//  swim.c: states and merge rules.
uint64_t meshq_swim_random (meshq_swim_t *self);
int64_t meshq_swim_now (meshq_swim_t *self);
void meshq_swim_set_state (meshq_swim_t *self, uint32_t slot,
                           meshq_swim_state_t state);
void meshq_swim_suspect (meshq_swim_t *self, uint32_t slot, const uint8_t *by);
void meshq_swim_confirm (meshq_swim_t *self, uint32_t slot, const uint8_t *by);

//  swim_probe.c: probes and timers.
//  When a probe due after ms from now starts: at our place in a round.
int64_t meshq_swim_probe_at (meshq_swim_t *self, int64_t now, int64_t after);
void meshq_swim_probe_recv (meshq_swim_t *self, const meshq_swim_msg_t *msg);
void meshq_swim_probe_member (meshq_swim_t *self, uint32_t slot);
void meshq_swim_awareness (meshq_swim_t *self, int delta);
int64_t meshq_swim_suspicion_timeout (meshq_swim_t *self,
                                      const meshq_swim_member_t *member);

//  swim_gossip.c: the queue and the messages.
void meshq_swim_queue_init (meshq_swim_t *self);
void meshq_swim_enqueue (meshq_swim_t *self, uint32_t slot, const uint8_t *by);
void meshq_swim_dequeue (meshq_swim_t *self, uint32_t slot);
uint32_t meshq_swim_retransmit_limit (meshq_swim_t *self);
void meshq_swim_record (meshq_swim_t *self, uint32_t slot,
                        meshq_swim_update_t *update);
void meshq_swim_send (meshq_swim_t *self, const uint8_t *id,
                      const meshq_swim_addr_t *addr, meshq_swim_msg_t *msg,
                      uint32_t target_slot);
//  Sends a GOSSIP with no updates: our own record only.
void meshq_swim_send_self (meshq_swim_t *self, uint32_t slot);
void meshq_swim_send_to (meshq_swim_t *self, uint32_t slot,
                         meshq_swim_msg_t *msg);
void meshq_swim_gossip_tick (meshq_swim_t *self, int64_t now);
void meshq_swim_sync_send (meshq_swim_t *self, const uint8_t *id,
                           const meshq_swim_addr_t *addr, bool reply);

#endif
