/*  beacon_pace.h - when an agent sends its next beacon.

    An agent that has no peer up beacons at the fast interval (250 ms
    by default), so that it is found at once. Once it has a peer up, each
    beacon doubles the wait to the next one, up to the slow interval: a
    joined mesh of N does not send N beacons every fast interval, and it
    stays slow: newcomers are found by their own beacons, which agents
    that are up answer through the membership (a PING), and a peer that
    comes back is the membership's to find, so backing off slows
    neither. Past a few members the longest interval grows with the
    members known, so that the whole mesh sends about as many beacons
    as 4 agents (one every 2 s): every agent hears every beacon, and
    256 agents each beaconing every 8 s made 8,192 datagrams a second
    to read. An agent joined to a mesh of more than 16 goes to that
    interval at once instead of doubling towards it.

    Pure: the caller passes the clock, in milliseconds, and sends the
    beacon; the unit tests drive it with a made-up one.
*/
#ifndef MESHQ_BEACON_PACE_H_INCLUDED
#define MESHQ_BEACON_PACE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t fast_ms;      //  The interval with no peer up.
    uint32_t slow_ms;      //  The longest interval once joined, in a
                           //  mesh of up to MESHQ_BEACON_PACE_SHARE.
    uint32_t members;      //  Other members known (0: not told).
    uint32_t interval_ms;  //  From the last beacon to the next.
    int64_t next;          //  When the next beacon is due.
} meshq_beacon_pace_t;

//  Agents whose beacons, each at slow_ms, a mesh's make up; past them
//  each agent's longest interval grows in proportion, up to
//  MESHQ_BEACON_PACE_STRETCH times slow_ms. (With 16, an idle mesh of
//  256 read two beacons a second on each agent, a quarter of its
//  membership thread's wakeups: 0.40 cores in all, against 0.31 with
//  4.) Past MESHQ_BEACON_PACE_LARGE members, a joined agent goes to its
//  longest interval at once.
#define MESHQ_BEACON_PACE_SHARE   4
#define MESHQ_BEACON_PACE_STRETCH 64
#define MESHQ_BEACON_PACE_LARGE   16

//  Fast at first, the first beacon due now. slow_ms below fast_ms is
//  taken as fast_ms (no back-off).
void meshq_beacon_pace_init (meshq_beacon_pace_t *self, uint32_t fast_ms,
                             uint32_t slow_ms, int64_t now);

//  Whether a beacon is due at now. The caller asks every fast interval;
//  a beacon due within half of one is due now, so that a timer that
//  fires a little early does not skip a whole interval.
bool meshq_beacon_pace_due (const meshq_beacon_pace_t *self, int64_t now);

//  A beacon went at now. joined: the agent has at least one peer up;
//  the next one is then twice as far as the last (up to slow_ms),
//  otherwise one fast interval away.
void meshq_beacon_pace_sent (meshq_beacon_pace_t *self, bool joined,
                             int64_t now);

//  The mesh has members other agents (alive, in the membership): sets
//  the longest interval from the next beacon on.
void meshq_beacon_pace_members (meshq_beacon_pace_t *self, uint32_t members);

//  The longest interval now, in milliseconds.
uint32_t meshq_beacon_pace_longest (const meshq_beacon_pace_t *self);

#endif
