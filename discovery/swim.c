/*  swim.c - the membership module's life cycle, its merge rules and its
    public calls (the table is swim_table.c).

    The merge rules order a member's records by (incarnation, version):
    a higher incarnation is a restart, reported DEAD then ALIVE; within
    one incarnation, ALIVE needs a higher version to win, SUSPECT,
    DEAD and LEFT an equal or higher one, and DEAD and LEFT are final
    but for the member's own refutation (a higher version). A suspicion
    of ourselves is refuted by raising our version.
*/
#include "swim_internal.h"
#include "meshq.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t s_zero_id[16];

void
meshq_swim_config_defaults (meshq_swim_config_t *config)
{
    assert (config);
    *config = (meshq_swim_config_t){
        .probe_interval_ms = 200,
        .probe_timeout_ms = 100,
        .indirect_checks = 3,
        .suspicion_mult = 4,
        .suspicion_max_mult = 6,
        .retransmit_mult = 4,
        .gossip_interval_ms = 200,
        .gossip_nodes = 3,
        .piggyback_max = 8,
        .gossip_max = 16,
        .awareness_max = 8,
        .sync_interval_ms = 30000,
        .sync_chunk = MESHQ_SWIM_UPDATES_MAX,
        .dead_keep_ms = 30000,
        .max_members = 16384,
        .gossip_queue_max = 1024,
        .relay_max = 32,
        .fresh_ms = 3000,
    };
}

//  xorshift64*: fast, and good enough to shuffle and pick members.
uint64_t
meshq_swim_random (meshq_swim_t *self)
{
    uint64_t x = self->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int64_t
meshq_swim_now (meshq_swim_t *self)
{
    return self->io.now_ms (self->io.arg);
}

meshq_swim_t *
meshq_swim_new (const meshq_swim_config_t *config, const meshq_swim_io_t *io,
                const uint8_t *id, uint64_t incarnation,
                const meshq_swim_addr_t *addr, uint64_t seed)
{
    assert (config && io && io->now_ms && io->send && id && addr);
    meshq_swim_t *self = calloc (1, sizeof *self);
    assert (self);
    self->config = *config;
    meshq_swim_config_t *c = &self->config;
    if (c->piggyback_max > MESHQ_SWIM_UPDATES_MAX)
        c->piggyback_max = MESHQ_SWIM_UPDATES_MAX;
    if (c->gossip_max == 0 || c->gossip_max > MESHQ_SWIM_UPDATES_MAX)
        c->gossip_max = MESHQ_SWIM_UPDATES_MAX;
    if (c->sync_chunk == 0 || c->sync_chunk > MESHQ_SWIM_UPDATES_MAX)
        c->sync_chunk = MESHQ_SWIM_UPDATES_MAX;
    if (c->gossip_queue_max == 0 || c->gossip_queue_max >= UINT16_MAX)
        c->gossip_queue_max = UINT16_MAX - 1;
    if (c->relay_max == 0)
        c->relay_max = 1;
    if (c->awareness_max == 0)
        c->awareness_max = 1;
    if (c->probe_interval_ms == 0)
        c->probe_interval_ms = 1;
    if (c->max_members == 0 || c->max_members > (1u << 30))
        c->max_members = 1u << 30;
    self->io = *io;
    memcpy (self->me.id, id, 16);
    memcpy (self->me.ip, addr->ip, 16);
    self->me.port = addr->port;
    self->me.incarnation = incarnation;
    self->me.state = MESHQ_SWIM_ALIVE;
    self->rng = seed ? seed : 0x853c49e6748fea9bULL;
    self->hash_key[0] = meshq_swim_random (self);
    self->hash_key[1] = meshq_swim_random (self);
    self->queue = calloc (c->gossip_queue_max, sizeof *self->queue);
    self->relays = calloc (c->relay_max, sizeof *self->relays);
    self->scratch = calloc (MESHQ_SWIM_UPDATES_MAX, sizeof *self->scratch);
    assert (self->queue && self->relays && self->scratch);
    meshq_swim_queue_init (self);
    meshq_buf_init (&self->out);
    if (c->initial_members)
        meshq_swim_reserve (self, c->initial_members);
    int64_t now = meshq_swim_now (self);
    //  Our probes at a random place of each round, so that agents
    //  started together do not probe in step.
    self->probe_phase = (uint16_t)meshq_swim_random (self);
    self->probe_next = meshq_swim_probe_at (self, now, 0);
    self->gossip_next = now + c->gossip_interval_ms;
    self->joined_at[0] = self->joined_at[1] = INT64_MIN / 2;
    //  The first exchange at a random point of one interval, so that a
    //  mesh started at once does not exchange tables all at once.
    if (c->sync_interval_ms)
        self->sync_next =
            now + c->sync_interval_ms / 2 +
            (int64_t)(meshq_swim_random (self) % c->sync_interval_ms);
    return self;
}

void
meshq_swim_destroy (meshq_swim_t **self_p)
{
    assert (self_p);
    meshq_swim_t *self = *self_p;
    if (!self)
        return;
    free (self->members);
    free (self->index);
    free (self->order);
    free (self->suspects);
    free (self->queue);
    free (self->relays);
    free (self->scratch);
    meshq_buf_fini (&self->out);
    free (self);
    *self_p = NULL;
}

static void
s_report (meshq_swim_t *self, const meshq_swim_member_t *m,
          meshq_swim_state_t state, bool fresh)
{
    if (fresh && state == MESHQ_SWIM_ALIVE) {
        self->joined_at[0] = self->joined_at[1];
        self->joined_at[1] = meshq_swim_now (self);
    }
    if (self->io.change)
        self->io.change (self->io.arg, m->id, state, fresh, m->incarnation);
}

static void
s_count (meshq_swim_t *self, uint8_t state, int delta)
{
    if (state == MESHQ_SWIM_ALIVE)
        self->stats.alive += delta;
    else if (state == MESHQ_SWIM_SUSPECT)
        self->stats.suspect += delta;
    else
        self->stats.dead += delta;
}

//  A death or a leave is news the whole mesh waits for: each member
//  that learns it sends a gossip round at once, not at its next one
//  (each hop of the epidemic waited half a gossip interval on
//  average). Rounds stay a quarter of an interval apart at least,
//  however many deaths come in, forged or not.
static void
s_tell_soon (meshq_swim_t *self)
{
    int64_t now = meshq_swim_now (self);
    int64_t interval = self->config.gossip_interval_ms;
    int64_t earliest = self->gossip_next - interval + interval / 4;
    int64_t at = now > earliest ? now : earliest;
    if (at < self->gossip_next)
        self->gossip_next = at;
}

//  Moves a member to state now, reports it, and keeps the counts and
//  the suspect list.
void
meshq_swim_set_state (meshq_swim_t *self, uint32_t slot,
                      meshq_swim_state_t state)
{
    meshq_swim_member_t *m = &self->members[slot];
    bool fresh = state == MESHQ_SWIM_ALIVE && m->state != MESHQ_SWIM_SUSPECT;
    //  Into or out of the probe ring: it is made again before the next
    //  probe, so that it stays the ring the other members see.
    if (meshq_swim_is_live (m->state) != meshq_swim_is_live (state))
        self->order_stale = true;
    s_count (self, m->state, -1);
    s_count (self, state, +1);
    m->state = (uint8_t)state;
    m->since = meshq_swim_now (self);
    if (state == MESHQ_SWIM_SUSPECT && !(m->flags & MESHQ_SWIM_F_LISTED)) {
        if (self->suspects_len == self->suspects_cap) {
            uint32_t cap = self->suspects_cap ? self->suspects_cap * 2 : 16;
            uint32_t *list = realloc (self->suspects, cap * sizeof *list);
            assert (list);
            self->suspects = list;
            self->suspects_cap = cap;
        }
        self->suspects[self->suspects_len++] = slot;
        m->flags |= MESHQ_SWIM_F_LISTED;
    } else if (state != MESHQ_SWIM_SUSPECT && (m->flags & MESHQ_SWIM_F_LISTED))
        meshq_swim_unlist (self, slot);
    if (state != MESHQ_SWIM_SUSPECT)
        m->flags &= (uint8_t) ~(MESHQ_SWIM_F_OURS | MESHQ_SWIM_F_FRESH);
    if (state == MESHQ_SWIM_DEAD || state == MESHQ_SWIM_LEFT)
        s_tell_soon (self);
    s_report (self, m, state, fresh);
}

static uint16_t
s_confirm_bit (meshq_swim_t *self, const uint8_t *by)
{
    return (uint16_t)(1u << (meshq_swim_hash (self, by) & 15));
}

//  Two joins within this of now: the mesh is growing.
#define S_SWIM_GROWING_MS 1000

//  Starts a suspicion of slot by the member by (or ourselves).
void
meshq_swim_suspect (meshq_swim_t *self, uint32_t slot, const uint8_t *by)
{
    meshq_swim_member_t *m = &self->members[slot];
    m->confirm_mask = s_confirm_bit (self, by);
    m->confirmations = 0;
    //  A member that came alive moments ago (a process starting, on a
    //  host busy starting others; or one that just refuted a suspicion)
    //  is the one most likely to answer late: its suspicion waits for
    //  more than the confirmations of members that probed it in the
    //  same starved seconds (a start of 256 agents on two cores
    //  declared such an agent dead 2.1 s after it joined, 0.3 s before
    //  its refutation came). So does any suspicion while members join:
    //  their starts starve the hosts' older agents too (256 agents
    //  started one by one on two cores had one 13 s old declared dead
    //  as the last ones started, back 0.3 s later). A re-suspicion at a
    //  newer version keeps it.
    int64_t now = meshq_swim_now (self);
    bool growing = now - self->joined_at[0] < S_SWIM_GROWING_MS;
    bool fresh =
        self->config.fresh_ms > 0 &&
        (m->state == MESHQ_SWIM_ALIVE
             ? growing || now - m->since < (int64_t)self->config.fresh_ms
             : (m->flags & MESHQ_SWIM_F_FRESH) != 0);
    meshq_swim_set_state (self, slot, MESHQ_SWIM_SUSPECT);
    if (fresh)
        m->flags |= MESHQ_SWIM_F_FRESH;
    meshq_swim_enqueue (self, slot, by);
    if (memcmp (by, self->me.id, 16) == 0) {
        //  Our own suspicion: tell the member at once, so that, alive,
        //  it refutes it before the timeout rather than when gossip
        //  happens to reach it (Lifeguard's buddy system).
        self->stats.suspicions++;
        m->flags |= MESHQ_SWIM_F_OURS;
        meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_GOSSIP};
        meshq_swim_send_to (self, slot, &msg);
    }
}

//  Another suspecter of a member already suspect: one more independent
//  confirmation (Lifeguard), which shortens the timeout, passed on.
void
meshq_swim_confirm (meshq_swim_t *self, uint32_t slot, const uint8_t *by)
{
    meshq_swim_member_t *m = &self->members[slot];
    uint16_t bit = s_confirm_bit (self, by);
    if (m->confirm_mask & bit)
        return;
    m->confirm_mask |= bit;
    if (m->confirmations < UINT8_MAX)
        m->confirmations++;
    meshq_swim_enqueue (self, slot, by);
}

//  A record about ourselves: refute what is not true of us.
static void
s_apply_self (meshq_swim_t *self, const meshq_swim_update_t *u)
{
    if (u->incarnation != self->me.incarnation ||
        u->state == MESHQ_SWIM_ALIVE || self->leaving)
        return;
    //  Whoever told us, and whoever suspects us, hears our answer once
    //  the message is read (s_answer_accusers).
    self->accused = true;
    if (u->has_by && memcmp (u->by, self->me.id, 16) != 0) {
        self->accused_by = true;
        memcpy (self->accuser, u->by, 16);
    }
    if (u->version < self->me.version)
        return;
    self->refuted = true;
    self->me.version = u->version + 1;
    self->stats.refutations++;
    meshq_swim_enqueue (self, S_SWIM_SELF, NULL);
    //  Someone could not hear us: our links or our host may be slow.
    meshq_swim_awareness (self, +1);
}

//  Answers to accusers, at most this many a probe interval: each costs
//  a datagram, and a stranger on an open mesh can send suspicions.
#define S_SWIM_ANSWERS 4

//  Sends our own record alone (no gossip of others) to slot, within
//  the budget of answers.
static void
s_answer (meshq_swim_t *self, uint32_t slot)
{
    int64_t now = meshq_swim_now (self);
    if (now - self->answers_at >= (int64_t)self->config.probe_interval_ms) {
        self->answers_at = now;
        self->answers = 0;
    }
    if (self->answers >= S_SWIM_ANSWERS) {
        self->stats.answers_held++;
        return;
    }
    self->answers++;
    self->stats.answers++;
    meshq_swim_send_self (self, slot);
}

//  A message told us we were suspect (or dead). Every message of ours
//  carries our own record, at the version that refutes it: one goes at
//  once to the member that told us (but for a PING: its ACK will) and
//  to the suspecter it named, whose timer runs out first. A suspicion
//  we had refuted already is answered only to the suspecter itself
//  (its reminders say our answer was lost), so that passing gossip
//  does not make us talk. With gossip alone the answer reached the
//  suspecter as chance gave: 1,000 simulated nodes at 5% loss had 58
//  false downs in five runs, 28 with the answer (0043).
static void
s_answer_accusers (meshq_swim_t *self, const meshq_swim_msg_t *msg)
{
    if (self->leaving)
        return;
    bool from_accuser =
        self->accused_by && memcmp (self->accuser, msg->from.id, 16) == 0;
    uint32_t slot;
    if ((self->refuted || from_accuser) && msg->type != MESHQ_SWIM_MSG_PING &&
        meshq_swim_find (self, msg->from.id, &slot))
        s_answer (self, slot);
    if (self->refuted && self->accused_by && !from_accuser &&
        meshq_swim_find (self, self->accuser, &slot))
        s_answer (self, slot);
}

//  Moves the next table exchange to within a sixth of the interval.
static void
s_sync_soon (meshq_swim_t *self)
{
    uint32_t soon = self->config.sync_interval_ms / 6;
    int64_t now = meshq_swim_now (self);
    if (soon && self->sync_next > now + soon * 3 / 2)
        self->sync_next =
            now + soon / 2 + (int64_t)(meshq_swim_random (self) % soon);
}

//  Applies one record; returns whether it brought a member we did not
//  have (new, or back from the dead).
static bool
s_apply (meshq_swim_t *self, const meshq_swim_update_t *u, bool sync)
{
    if (memcmp (u->id, self->me.id, 16) == 0) {
        s_apply_self (self, u);
        return false;
    }
    if (memcmp (u->id, s_zero_id, 16) == 0)
        return false;
    uint32_t slot;
    meshq_swim_member_t *m = meshq_swim_find (self, u->id, &slot);
    if (!m) {
        //  Only a live record brings a member in: a suspicion or a death
        //  of a member never seen is nothing to act on.
        if (u->state == MESHQ_SWIM_DEAD || u->state == MESHQ_SWIM_LEFT)
            return false;
        if (u->state == MESHQ_SWIM_SUSPECT && !sync)
            return false;
        slot = meshq_swim_add (self, u);
        if (slot == UINT32_MAX)
            return false;
        m = &self->members[slot];
        s_report (self, m, MESHQ_SWIM_ALIVE, true);
        //  Spread even a member a table exchange brought: if we missed
        //  it, others may have too (measured: without this, a mesh of
        //  2,000 started over 40 s took minutes instead of seconds to
        //  reach full membership).
        meshq_swim_enqueue (self, slot, NULL);
        if (u->state == MESHQ_SWIM_SUSPECT)
            meshq_swim_suspect (self, slot, u->has_by ? u->by : u->id);
        return true;
    }
    if (u->incarnation < m->incarnation)
        return false;
    if (u->incarnation > m->incarnation) {
        //  A restart: the old start is gone (what it had in flight must
        //  be sent again), the new one is another life of the member.
        if (meshq_swim_is_live (m->state))
            meshq_swim_set_state (self, slot, MESHQ_SWIM_DEAD);
        m->incarnation = u->incarnation;
        m->version = u->version;
        memcpy (m->ip, u->ip, 16);
        m->port = u->port;
        if (meshq_swim_is_live (u->state)) {
            meshq_swim_set_state (self, slot, MESHQ_SWIM_ALIVE);
            meshq_swim_enqueue (self, slot, NULL);
            if (u->state == MESHQ_SWIM_SUSPECT)
                meshq_swim_suspect (self, slot, u->has_by ? u->by : u->id);
        } else {
            if (m->state != u->state)
                meshq_swim_set_state (self, slot, u->state);
            meshq_swim_enqueue (self, slot, NULL);
        }
        return true;
    }
    switch (u->state) {
        case MESHQ_SWIM_ALIVE:
            if (u->version <= m->version)
                return false;
            bool back =
                m->state == MESHQ_SWIM_DEAD || m->state == MESHQ_SWIM_LEFT;
            m->version = u->version;
            memcpy (m->ip, u->ip, 16);
            m->port = u->port;
            if (m->state != MESHQ_SWIM_ALIVE)
                meshq_swim_set_state (self, slot, MESHQ_SWIM_ALIVE);
            meshq_swim_enqueue (self, slot, NULL);
            return back;
        case MESHQ_SWIM_SUSPECT: {
            const uint8_t *by = u->has_by ? u->by : u->id;
            if (u->version < m->version || m->state == MESHQ_SWIM_DEAD ||
                m->state == MESHQ_SWIM_LEFT)
                return false;
            if (m->state == MESHQ_SWIM_SUSPECT && u->version == m->version) {
                meshq_swim_confirm (self, slot, by);
                return false;
            }
            m->version = u->version;
            meshq_swim_suspect (self, slot, by);
            return false;
        }
        default:
            if (u->version < m->version || m->state == MESHQ_SWIM_DEAD ||
                m->state == MESHQ_SWIM_LEFT)
                return false;
            m->version = u->version;
            meshq_swim_set_state (self, slot, u->state);
            meshq_swim_enqueue (self, slot, NULL);
            return false;
    }
}

int
meshq_swim_recv (meshq_swim_t *self, const void *data, size_t size)
{
    assert (self);
    meshq_swim_msg_t msg;
    const char *why;
    int rc = meshq_codec_swim_decode (data, size, &msg, self->scratch,
                                      MESHQ_SWIM_UPDATES_MAX, &why);
    if (rc) {
        self->stats.bad_msgs++;
        return rc;
    }
    if (memcmp (msg.from.id, self->me.id, 16) == 0 ||
        memcmp (msg.from.id, s_zero_id, 16) == 0) {
        self->stats.bad_msgs++;
        return MESHQ_EMALFORMED;
    }
    self->stats.msgs_in++;
    self->accused = self->refuted = self->accused_by = false;
    //  The sender is alive, at least as of its record.
    bool alone = self->count == 0;
    s_apply (self, &msg.from, false);
    bool sync = msg.type == MESHQ_SWIM_MSG_SYNC;
    if (alone && !sync && self->count && self->config.sync_interval_ms &&
        !self->leaving) {
        //  A newcomer found by the mesh (its beacon heard, the members
        //  PING it) never joined through a seed: it asks the first one
        //  for its table at once, and again soon, as a join does. (A
        //  newcomer to 256 idle agents had all of them only after 21 s,
        //  by gossip.)
        meshq_swim_addr_t addr;
        memcpy (addr.ip, msg.from.ip, 16);
        addr.port = msg.from.port;
        meshq_swim_sync_send (self, msg.from.id, &addr, true);
        self->catch_up = 2;
        s_sync_soon (self);
    }
    bool news = false;
    for (uint32_t i = 0; i < msg.count; i++)
        news |= s_apply (self, &self->scratch[i], sync);
    if (sync && news && self->catch_up) {
        //  A newcomer whose exchange still brings members exchanges again
        //  soon, with another member: a few times at most.
        self->catch_up--;
        s_sync_soon (self);
    }
    if (sync) {
        if (msg.reply && !self->leaving) {
            meshq_swim_addr_t addr;
            memcpy (addr.ip, msg.from.ip, 16);
            addr.port = msg.from.port;
            meshq_swim_sync_send (self, msg.from.id, &addr, false);
        }
    } else
        meshq_swim_probe_recv (self, &msg);
    if (self->accused)
        s_answer_accusers (self, &msg);
    return 0;
}

void
meshq_swim_join (meshq_swim_t *self, const meshq_swim_addr_t *addr)
{
    assert (self && addr);
    meshq_swim_sync_send (self, s_zero_id, addr, true);
    //  A newcomer exchanges tables again soon, with another member, for
    //  the joins that were still being gossiped when the seed answered,
    //  and what a lost chunk of its answer held.
    if (self->count == 0) {
        self->catch_up = 2;
        s_sync_soon (self);
    }
}

void
meshq_swim_hello (meshq_swim_t *self, const uint8_t *id, uint64_t incarnation,
                  const meshq_swim_addr_t *addr)
{
    assert (self && id && addr);
    uint32_t slot = UINT32_MAX;
    meshq_swim_member_t *m = meshq_swim_find (self, id, &slot);
    if (memcmp (id, self->me.id, 16) == 0 ||
        (m && m->state != MESHQ_SWIM_DEAD && m->state != MESHQ_SWIM_LEFT &&
         incarnation <= m->incarnation))
        return;
    //  Number 0 is no probe of ours: its ACK only brings the member in.
    //  One we hold dead is told so first (meshq_swim_send): alive, it
    //  refutes, and its ACK brings it back (a healed partition).
    meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_PING, .has_target = true};
    memcpy (msg.target.id, id, 16);
    meshq_swim_send (self, id, addr, &msg, slot);
}

void
meshq_swim_leave (meshq_swim_t *self)
{
    assert (self);
    if (self->leaving)
        return;
    self->leaving = true;
    self->me.state = MESHQ_SWIM_LEFT;
    meshq_swim_enqueue (self, S_SWIM_SELF, NULL);
    meshq_swim_gossip_tick (self, meshq_swim_now (self));
}

int
meshq_swim_lost (meshq_swim_t *self, const uint8_t *id)
{
    assert (self && id);
    uint32_t slot;
    meshq_swim_member_t *m = meshq_swim_find (self, id, &slot);
    if (!m)
        return MESHQ_ENOTFOUND;
    if (m->state == MESHQ_SWIM_ALIVE)
        meshq_swim_suspect (self, slot, self->me.id);
    if (m->state == MESHQ_SWIM_SUSPECT)
        meshq_swim_probe_member (self, slot);
    return 0;
}

int
meshq_swim_gone (meshq_swim_t *self, const uint8_t *id)
{
    assert (self && id);
    uint32_t slot;
    meshq_swim_member_t *m = meshq_swim_find (self, id, &slot);
    if (!m)
        return MESHQ_ENOTFOUND;
    if (meshq_swim_is_live (m->state)) {
        meshq_swim_set_state (self, slot, MESHQ_SWIM_DEAD);
        meshq_swim_enqueue (self, slot, NULL);
    }
    return 0;
}

int
meshq_swim_member (meshq_swim_t *self, const uint8_t *id,
                   meshq_swim_state_t *state, uint64_t *incarnation,
                   uint32_t *version)
{
    assert (self && id);
    meshq_swim_member_t *m = meshq_swim_find (self, id, NULL);
    if (!m)
        return MESHQ_ENOTFOUND;
    if (state)
        *state = m->state;
    if (incarnation)
        *incarnation = m->incarnation;
    if (version)
        *version = m->version;
    return 0;
}

int
meshq_swim_member_addr (meshq_swim_t *self, const uint8_t *id,
                        meshq_swim_addr_t *addr)
{
    assert (self && id && addr);
    meshq_swim_member_t *m = meshq_swim_find (self, id, NULL);
    if (!m)
        return MESHQ_ENOTFOUND;
    memcpy (addr->ip, m->ip, 16);
    addr->port = m->port;
    return 0;
}

bool
meshq_swim_walk (meshq_swim_t *self, uint32_t *cursor, uint8_t *id,
                 meshq_swim_state_t *state, uint64_t *incarnation)
{
    assert (self && cursor && id);
    for (; *cursor < self->members_used; (*cursor)++) {
        const meshq_swim_member_t *m = &self->members[*cursor];
        if (!(m->flags & MESHQ_SWIM_F_USED))
            continue;
        memcpy (id, m->id, 16);
        if (state)
            *state = m->state;
        if (incarnation)
            *incarnation = m->incarnation;
        (*cursor)++;
        return true;
    }
    return false;
}

uint32_t
meshq_swim_version (meshq_swim_t *self)
{
    assert (self);
    return self->me.version;
}

void
meshq_swim_stats (meshq_swim_t *self, meshq_swim_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
    stats->awareness = self->awareness + 1;
    stats->queued = self->queue_len;
}
