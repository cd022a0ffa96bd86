/*  beacon_pace.c - when an agent sends its next beacon: fast until it
    has a peer up, then backing off, fast again when its view changes.
*/
#include "beacon_pace.h"

#include <assert.h>

void
meshq_beacon_pace_init (meshq_beacon_pace_t *self, uint32_t fast_ms,
                        uint32_t slow_ms, int64_t now)
{
    assert (self && fast_ms > 0);
    self->fast_ms = fast_ms;
    self->slow_ms = slow_ms < fast_ms ? fast_ms : slow_ms;
    self->interval_ms = fast_ms;
    self->members = 0;
    self->next = now;
}

bool
meshq_beacon_pace_due (const meshq_beacon_pace_t *self, int64_t now)
{
    return now + self->fast_ms / 2 >= self->next;
}

void
meshq_beacon_pace_sent (meshq_beacon_pace_t *self, bool joined, int64_t now)
{
    uint32_t longest = meshq_beacon_pace_longest (self);
    if (!joined)
        self->interval_ms = self->fast_ms;
    else if (self->members > MESHQ_BEACON_PACE_LARGE)
        //  Joined a large mesh: its beacons only merge meshes that were
        //  apart, and 256 agents doubling from 500 ms sent some 1,300
        //  beacons in their first 15 s, each read by all.
        self->interval_ms = longest;
    else if (self->interval_ms > longest / 2)
        self->interval_ms = longest;
    else
        self->interval_ms *= 2;
    self->next = now + self->interval_ms;
}

void
meshq_beacon_pace_members (meshq_beacon_pace_t *self, uint32_t members)
{
    self->members = members;
}

uint32_t
meshq_beacon_pace_longest (const meshq_beacon_pace_t *self)
{
    uint32_t shares = self->members / MESHQ_BEACON_PACE_SHARE;
    if (shares < 1)
        shares = 1;
    if (shares > MESHQ_BEACON_PACE_STRETCH)
        shares = MESHQ_BEACON_PACE_STRETCH;
    return self->slow_ms * shares;
}
