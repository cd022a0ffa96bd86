/*  swim_table.c - the member table: slots, the id index, the probe
    order, and forgetting the dead.

    Members live in slots that do not move while they are in the table,
    found by id through an open-addressing index (linear probing, kept
    at most 3/4 full, removal by backward shift) keyed with a per-agent
    random key: ids come from outside, and a fixed hash would let a
    stranger pick ids that collide. The probe order is the list of
    slots sorted by member id (swim_probe.c says why), made again when
    a member came, and after as many probes as it holds, when dead
    members past their keep time are forgotten and their slots reused.
*/
#include "swim_internal.h"
#include "meshq.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  splitmix64's finaliser: every input bit moves every output bit.
static uint64_t
s_mix (uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint32_t
meshq_swim_hash (const meshq_swim_t *self, const uint8_t *id)
{
    uint64_t a, b;
    memcpy (&a, id, 8);
    memcpy (&b, id + 8, 8);
    return (uint32_t)s_mix (s_mix (a ^ self->hash_key[0]) ^ b ^
                            self->hash_key[1]);
}

meshq_swim_member_t *
meshq_swim_find (meshq_swim_t *self, const uint8_t *id, uint32_t *slot)
{
    if (!self->index_cap)
        return NULL;
    uint32_t mask = self->index_cap - 1;
    for (uint32_t i = meshq_swim_hash (self, id) & mask;; i = (i + 1) & mask) {
        uint32_t entry = self->index[i];
        if (!entry)
            return NULL;
        meshq_swim_member_t *m = &self->members[entry - 1];
        if (memcmp (m->id, id, 16) == 0) {
            if (slot)
                *slot = entry - 1;
            return m;
        }
    }
}

static void
s_index_put (meshq_swim_t *self, uint32_t slot)
{
    uint32_t mask = self->index_cap - 1;
    uint32_t i = meshq_swim_hash (self, self->members[slot].id) & mask;
    while (self->index[i])
        i = (i + 1) & mask;
    self->index[i] = slot + 1;
}

//  Removes slot from the index, shifting back the entries after it so
//  that lookups need no tombstones.
static void
s_index_remove (meshq_swim_t *self, uint32_t slot)
{
    uint32_t mask = self->index_cap - 1;
    uint32_t i = meshq_swim_hash (self, self->members[slot].id) & mask;
    while (self->index[i] != slot + 1)
        i = (i + 1) & mask;
    uint32_t j = i;
    while (true) {
        self->index[i] = 0;
        while (true) {
            j = (j + 1) & mask;
            if (!self->index[j])
                return;
            uint32_t home =
                meshq_swim_hash (self, self->members[self->index[j] - 1].id) &
                mask;
            //  Move j back to i unless its home lies cyclically in (i, j].
            bool stays =
                i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays)
                break;
        }
        self->index[i] = self->index[j];
        i = j;
    }
}

int
meshq_swim_reserve (meshq_swim_t *self, uint32_t cap)
{
    if (cap > self->config.max_members)
        cap = self->config.max_members;
    if (cap <= self->members_cap)
        return 0;
    meshq_swim_member_t *members =
        realloc (self->members, (size_t)cap * sizeof *members);
    if (!members)
        return MESHQ_ENOMEM;
    self->members = members;
    uint32_t *order = realloc (self->order, (size_t)cap * sizeof *order);
    if (!order)
        return MESHQ_ENOMEM;
    self->order = order;
    self->members_cap = cap;
    return 0;
}

//  Makes room for one more member.
static int
s_grow (meshq_swim_t *self)
{
    if (!self->free_slot && self->members_used == self->members_cap &&
        meshq_swim_reserve (self, self->members_cap ? self->members_cap +
                                                          self->members_cap / 2
                                                    : 16))
        return MESHQ_ENOMEM;
    if ((self->count + 1) * 4 > self->index_cap * 3) {
        uint32_t cap = self->index_cap ? self->index_cap * 2 : 32;
        uint32_t *index = calloc (cap, sizeof *index);
        if (!index)
            return MESHQ_ENOMEM;
        free (self->index);
        self->index = index;
        self->index_cap = cap;
        for (uint32_t slot = 0; slot < self->members_used; slot++)
            if (self->members[slot].flags & MESHQ_SWIM_F_USED)
                s_index_put (self, slot);
    }
    return 0;
}

//  Adds a member from its record, alive. Returns its slot, or
//  UINT32_MAX if the table is full.
uint32_t
meshq_swim_add (meshq_swim_t *self, const meshq_swim_update_t *u)
{
    if (self->count >= self->config.max_members || s_grow (self)) {
        self->stats.members_full++;
        return UINT32_MAX;
    }
    uint32_t slot;
    if (self->free_slot) {
        slot = self->free_slot - 1;
        self->free_slot = (uint32_t)self->members[slot].since;
    } else
        slot = self->members_used++;
    meshq_swim_member_t *m = &self->members[slot];
    memset (m, 0, sizeof *m);
    memcpy (m->id, u->id, 16);
    memcpy (m->ip, u->ip, 16);
    m->port = u->port;
    m->incarnation = u->incarnation;
    m->version = u->version;
    m->state = MESHQ_SWIM_ALIVE;
    m->since = meshq_swim_now (self);
    m->flags = MESHQ_SWIM_F_USED;
    s_index_put (self, slot);
    self->count++;
    self->stats.alive++;
    //  Probed from the next round on, in its place by id.
    self->order[self->order_len++] = slot;
    self->order_stale = true;
    return slot;
}

void
meshq_swim_unlist (meshq_swim_t *self, uint32_t slot)
{
    for (uint32_t i = 0; i < self->suspects_len; i++)
        if (self->suspects[i] == slot) {
            self->suspects[i] = self->suspects[--self->suspects_len];
            break;
        }
    self->members[slot].flags &= ~MESHQ_SWIM_F_LISTED;
}

//  Forgets a dead or left member past its keep time.
static void
s_reclaim (meshq_swim_t *self, uint32_t slot)
{
    meshq_swim_member_t *m = &self->members[slot];
    if (m->flags & MESHQ_SWIM_F_QUEUED)
        meshq_swim_dequeue (self, slot);
    if (m->flags & MESHQ_SWIM_F_LISTED)
        meshq_swim_unlist (self, slot);
    s_index_remove (self, slot);
    self->stats.dead--;
    self->count--;
    m->flags = 0;
    m->since = self->free_slot;
    self->free_slot = slot + 1;
}

static int
s_by_id (const void *a, const void *b, void *arg)
{
    const meshq_swim_t *self = arg;
    return memcmp (self->members[*(const uint32_t *)a].id,
                   self->members[*(const uint32_t *)b].id, 16);
}

void
meshq_swim_rebuild_order (meshq_swim_t *self)
{
    int64_t now = meshq_swim_now (self);
    self->order_len = 0;
    for (uint32_t slot = 0; slot < self->members_used; slot++) {
        meshq_swim_member_t *m = &self->members[slot];
        if (!(m->flags & MESHQ_SWIM_F_USED))
            continue;
        if (m->state == MESHQ_SWIM_DEAD || m->state == MESHQ_SWIM_LEFT) {
            if (now - m->since >= self->config.dead_keep_ms)
                s_reclaim (self, slot);
            continue;
        }
        self->order[self->order_len++] = slot;
    }
    if (self->order_len > 1)
        qsort_r (self->order, self->order_len, sizeof *self->order, s_by_id,
                 self);
    uint32_t below = 0;
    while (below < self->order_len &&
           memcmp (self->members[self->order[below]].id, self->me.id, 16) < 0)
        below++;
    self->order_me = below;
    self->order_stale = false;
    self->probe_pos = 0;
}

size_t
meshq_swim_member_bytes (void)
{
    //  The entry, its probe order slot, and its index slot at the
    //  index's highest load (3/4) and its lowest (3/8) on average.
    return sizeof (meshq_swim_member_t) + sizeof (uint32_t) +
           2 * sizeof (uint32_t);
}

//  Members that may be probed or asked: alive or suspect.
uint32_t
meshq_swim_live (meshq_swim_t *self)
{
    return self->stats.alive + self->stats.suspect;
}

//  Picks up to want distinct live members at random, not except (may
//  be NULL); returns how many went to slots.
uint32_t
meshq_swim_random_live (meshq_swim_t *self, uint32_t *slots, uint32_t want,
                        const uint8_t *except)
{
    uint32_t got = 0;
    if (!self->members_used)
        return 0;
    //  Random tries over the slots: cheap whatever the table's size,
    //  and enough when most members are alive; a bounded number of
    //  tries keeps it cheap when few are.
    for (uint32_t tries = 0; got < want && tries < want * 8 + 16; tries++) {
        uint32_t slot =
            (uint32_t)(meshq_swim_random (self) % self->members_used);
        meshq_swim_member_t *m = &self->members[slot];
        if (!(m->flags & MESHQ_SWIM_F_USED) || !meshq_swim_is_live (m->state) ||
            (except && memcmp (m->id, except, 16) == 0))
            continue;
        bool dup = false;
        for (uint32_t i = 0; i < got; i++)
            dup |= slots[i] == slot;
        if (!dup)
            slots[got++] = slot;
    }
    return got;
}
