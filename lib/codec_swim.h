/*  codec_swim.h - the messages of the membership protocol (SWIM).

    Every membership message is one msgpack map (docs/DISCOVERY.md,
    "Membership (SWIM)", gives the keys). Each carries its sender's own
    record, so that any message tells the receiver who is alive, and may
    carry updates about other members (gossip, or a whole table for a
    sync). This codec is pure: bytes in, struct or code out; it reads no
    clock and holds no state, so it can be fuzzed alone.

    Decoding is bounded: a message is at most MESHQ_SWIM_MSG_MAX bytes,
    carries at most the caller's cap of updates (never more than
    MESHQ_SWIM_UPDATES_MAX), and is checked whole before the caller
    acts on any of it.
*/
#ifndef MESHQ_CODEC_SWIM_H_INCLUDED
#define MESHQ_CODEC_SWIM_H_INCLUDED

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The membership protocol version this code speaks.
#define MESHQ_SWIM_PROTOCOL 1

//  Longest message accepted, in bytes.
#define MESHQ_SWIM_MSG_MAX 65536

//  Most updates one message may carry (a sync chunk, a gossip).
#define MESHQ_SWIM_UPDATES_MAX 64

//  What a message is.
typedef enum {
    MESHQ_SWIM_MSG_PING = 1,    //  Are you there? Answered by ACK.
    MESHQ_SWIM_MSG_ACK = 2,     //  Yes (from the target, or relayed).
    MESHQ_SWIM_MSG_NACK = 3,    //  A relay heard nothing from the target.
    MESHQ_SWIM_MSG_REQ = 4,     //  Ping this target for me (ping-req).
    MESHQ_SWIM_MSG_GOSSIP = 5,  //  Updates only.
    MESHQ_SWIM_MSG_SYNC = 6,    //  Part of a whole table (join, anti-entropy).
} meshq_swim_msg_type_t;

//  What a member is, as it travels.
typedef enum {
    MESHQ_SWIM_ALIVE = 0,    //  Answers, or refuted the last suspicion.
    MESHQ_SWIM_SUSPECT = 1,  //  Someone could not reach it.
    MESHQ_SWIM_DEAD = 2,     //  Suspected past the timeout, or gone.
    MESHQ_SWIM_LEFT = 3,     //  Said it leaves.
} meshq_swim_state_t;

//  Whether a member in state is taken to run: alive, or suspect (not
//  yet found dead). Such members are probed, relay, and are linked.
static inline bool
meshq_swim_is_live (unsigned state)
{
    return state == MESHQ_SWIM_ALIVE || state == MESHQ_SWIM_SUSPECT;
}

//  One member's record: who, which start of it, how far it counted.
typedef struct {
    uint8_t id[16];        //  Node id.
    uint8_t ip[16];        //  Address (IPv4 as ::ffff:a.b.c.d).
    uint64_t incarnation;  //  Which start of the process; a new one
                           //  means it restarted.
    uint32_t version;      //  The member's own counter, raised to refute
                           //  a suspicion of it.
    uint16_t port;         //  Port of its endpoint.
    uint8_t state;         //  A meshq_swim_state_t.
    bool has_by;           //  Whether by is set (suspicions only).
    uint8_t by[16];        //  Who suspects it, for confirmations.
} meshq_swim_update_t;

//  A decoded message. Updates go to the caller's array.
typedef struct {
    uint32_t type;               //  A meshq_swim_msg_type_t.
    meshq_swim_update_t from;    //  The sender's own record (alive).
    uint64_t seq;                //  PING, ACK, NACK, REQ: probe number.
    bool has_target;             //  PING, REQ: target is set.
    meshq_swim_update_t target;  //  PING: its id; REQ: its record.
    bool reply;                  //  SYNC: answer with your own table.
    uint32_t count;              //  Updates decoded into the array.
} meshq_swim_msg_t;

//  Appends one message to out: msg's fields for its type, then count
//  updates. Returns 0, or MESHQ_EINVAL if count is above
//  MESHQ_SWIM_UPDATES_MAX, or MESHQ_ENOMEM.
int meshq_codec_swim_encode (meshq_buf_t *out, const meshq_swim_msg_t *msg,
                             const meshq_swim_update_t *updates,
                             uint32_t count);

//  Decodes one message of size bytes, its updates into updates[0..cap).
//  Returns 0, or MESHQ_EMSGSIZE, MESHQ_EVERSION, MESHQ_ETOOBIG (more
//  updates than cap) or MESHQ_EMALFORMED, with *why set to a static
//  reason. Nothing in msg or updates may be used after a failure.
int meshq_codec_swim_decode (const void *data, size_t size,
                             meshq_swim_msg_t *msg,
                             meshq_swim_update_t *updates, uint32_t cap,
                             const char **why);

#endif
