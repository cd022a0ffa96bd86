/*  swim_probe.c - probes, relays, local health and suspicion timers.

    Each probe interval (times the health multiplier) starts a probe of
    the member whose turn it is (s_next_target): a PING; without its ACK in
    the probe timeout (times the multiplier), a REQ to indirect_checks
    other members, who each PING the target with a number of their own,
    relay its ACK back under ours, or send a NACK if it stays silent for
    4/5 of their probe timeout. A probe that got no ACK when every
    relay has sent its NACK, or else when the next one starts, makes
    the target suspect.

    Lifeguard's local health: a probe that ends without an ACK raises
    the score by one if no relay was asked, else by the NACKs missing
    (relays that did not answer at all suggest that our own links are
    the problem); a probe that got its ACK lowers it by one; refuting a
    suspicion of ourselves raises it by one. The multiplier, score + 1,
    is at most awareness_max.

    A suspicion lasts from max down to min, min being suspicion_mult *
    (1 + log10(n / 10) / 2) probe intervals (n > 10; else one) and max suspicion_max_mult
    times that, shrinking with the logarithm of the independent
    confirmations received up to suspicion_mult - 2 of them.
*/
#include "swim_internal.h"
#include "meshq.h"

#include <assert.h>
#include <string.h>

//  Natural logarithm of x >= 1, to 1e-9, without libm (the library
//  links no libm): x = m * 2^e with m in [1, 2), then the atanh series.
static double
s_ln (double x)
{
    int e = 0;
    while (x >= 2) {
        x /= 2;
        e++;
    }
    double y = (x - 1) / (x + 1);
    double y2 = y * y;
    double term = y;
    double sum = 0;
    for (int i = 1; i < 40; i += 2) {
        sum += term / i;
        term *= y2;
    }
    return e * 0.69314718055994530942 + 2 * sum;
}

void
meshq_swim_awareness (meshq_swim_t *self, int delta)
{
    int64_t score = (int64_t)self->awareness + delta;
    int64_t top = (int64_t)self->config.awareness_max - 1;
    if (score < 0)
        score = 0;
    if (score > top)
        score = top;
    self->awareness = (uint32_t)score;
}

static int64_t
s_scaled (meshq_swim_t *self, uint32_t ms)
{
    return (int64_t)ms * (self->awareness + 1);
}

int64_t
meshq_swim_suspicion_timeout (meshq_swim_t *self,
                              const meshq_swim_member_t *member)
{
    //  The scale grows by half a step per decade past ten members (1
    //  to 10, 1.7 at 256, 2 at 1,000): a full step per decade kept a
    //  stopped agent of 256 suspect 2.4 s at best (measured 3.7 s to
    //  its first death), where the refutation it is waiting for takes
    //  one round trip whatever the mesh's size.
    double n = (double)meshq_swim_live (self) + 1;
    double scale =
        n > 10 ? 1 + s_ln (n / 10) / (2 * 2.30258509299404568402) : 1;
    uint32_t unit = self->config.suspicion_unit_ms
                        ? self->config.suspicion_unit_ms
                        : self->config.probe_interval_ms;
    double min = self->config.suspicion_mult * scale * unit;
    double max = self->config.suspicion_max_mult * min;
    double k =
        self->config.suspicion_mult > 2 ? self->config.suspicion_mult - 2 : 0;
    if (n - 2 < k)
        k = 0;
    //  Nobody else could confirm (a mesh of two or three): waiting
    //  for confirmations that cannot come would only delay the verdict.
    double timeout = k > 0 ? max : min;
    if (k > 0) {
        double c = member->confirmations < k ? member->confirmations : k;
        if ((member->flags & MESHQ_SWIM_F_FRESH) && c > 1)
            c = 1;
        timeout = max - (max - min) * s_ln (c + 1) / s_ln (k + 1);
    }
    if (timeout < min)
        timeout = min;
    return (int64_t)timeout;
}

//  The relays of probe p that sent their NACK.
static uint32_t
s_nacks (const meshq_swim_probe_t *p)
{
    return (uint32_t)__builtin_popcount (p->nacked);
}

//  Ends the probe under way: a missed ACK makes the target suspect.
static void
s_probe_end (meshq_swim_t *self)
{
    meshq_swim_probe_t *p = &self->probe;
    if (!p->active)
        return;
    p->active = false;
    if (p->acked) {
        meshq_swim_awareness (self, -1);
        return;
    }
    int delta = p->nacks_expected ? (int)(p->nacks_expected - s_nacks (p)) : 1;
    meshq_swim_awareness (self, delta);
    uint32_t slot;
    meshq_swim_member_t *m = meshq_swim_find (self, p->target, &slot);
    if (m && m->state == MESHQ_SWIM_ALIVE)
        meshq_swim_suspect (self, slot, self->me.id);
    else if (m && m->state == MESHQ_SWIM_SUSPECT)
        //  Already suspect, by others: our own failed probe is one more
        //  independent confirmation, which we spread.
        meshq_swim_confirm (self, slot, self->me.id);
}

//  Starts a probe of slot now.
void
meshq_swim_probe_member (meshq_swim_t *self, uint32_t slot)
{
    s_probe_end (self);
    meshq_swim_probe_t *p = &self->probe;
    memset (p, 0, sizeof *p);
    p->active = true;
    p->seq = ++self->seq;
    memcpy (p->target, self->members[slot].id, 16);
    p->timeout_at =
        meshq_swim_now (self) + s_scaled (self, self->config.probe_timeout_ms);
    meshq_swim_msg_t msg = {
        .type = MESHQ_SWIM_MSG_PING, .seq = p->seq, .has_target = true};
    memcpy (msg.target.id, p->target, 16);
    meshq_swim_send_to (self, slot, &msg);
}

//  The number of the round at now: rounds are probe intervals counted
//  on the clock plus round_offset (the wall clock, in an agent).
static int64_t
s_round (meshq_swim_t *self, int64_t now)
{
    int64_t t = now + self->round_offset;
    int64_t length = (int64_t)self->config.probe_interval_ms;
    return t >= 0 ? t / length : (t - length + 1) / length;
}

//  The member to probe in the round at now, or UINT32_MAX if none is
//  alive. Members and ourselves stand in a ring by id; in round r each
//  probes the one r places on (r modulo the ring, 0 skipped). Every
//  member that shares our view is then probed by exactly one member a
//  round, and each of ours once in as many rounds as there are
//  members. With each member's own shuffled order (SWIM's), the
//  probes of a member came as chance gave: a stopped agent of 256
//  went unprobed 1.2 s at times (a probe every 500 ms), and was known
//  dead up to 3.9 s after it stopped.
static uint32_t
s_next_target (meshq_swim_t *self, int64_t now)
{
    if (self->order_stale || self->probe_pos >= self->order_len)
        meshq_swim_rebuild_order (self);
    uint32_t len = self->order_len;
    if (len == 0)
        return UINT32_MAX;
    uint64_t ring = (uint64_t)len + 1;
    int64_t round = s_round (self, now);
    uint64_t step = (uint64_t)(round % (int64_t)ring + (int64_t)ring) % ring;
    if (step == 0)
        step = 1;
    //  A member dead or left (not yet forgotten) passes its turn on.
    for (uint64_t i = 0; i < ring; i++) {
        uint64_t at = (self->order_me + step + i) % ring;
        if (at == self->order_me)
            continue;
        uint32_t slot = self->order[at < self->order_me ? at : at - 1];
        meshq_swim_member_t *m = &self->members[slot];
        if ((m->flags & MESHQ_SWIM_F_USED) && meshq_swim_is_live (m->state)) {
            self->probe_pos++;
            return slot;
        }
    }
    return UINT32_MAX;
}

int64_t
meshq_swim_probe_at (meshq_swim_t *self, int64_t now, int64_t after)
{
    //  At our place in a round (probe_phase), the nearest to now +
    //  after: probes keep their place in the rounds, one round after
    //  another, instead of drifting by each tick's lateness.
    int64_t length = (int64_t)self->config.probe_interval_ms;
    int64_t phase = (int64_t)self->probe_phase * length / 65536;
    int64_t want = now + after;
    int64_t into =
        ((want + self->round_offset - phase) % length + length) % length;
    int64_t at = want - into;
    if (into > length / 2)
        at += length;
    return at > now ? at : at + length;
}

static void
s_indirect (meshq_swim_t *self)
{
    meshq_swim_probe_t *p = &self->probe;
    p->indirect = true;
    uint32_t target;
    if (!meshq_swim_find (self, p->target, &target))
        return;
    uint32_t slots[16];
    uint32_t want =
        self->config.indirect_checks < 16 ? self->config.indirect_checks : 16;
    uint32_t got = meshq_swim_random_live (self, slots, want, p->target);
    meshq_swim_msg_t msg = {
        .type = MESHQ_SWIM_MSG_REQ, .seq = p->seq, .has_target = true};
    meshq_swim_record (self, target, &msg.target);
    msg.target.state = MESHQ_SWIM_ALIVE;
    for (uint32_t i = 0; i < got; i++) {
        //  A suspect relay is not asked: it may well be down too.
        if (self->members[slots[i]].state != MESHQ_SWIM_ALIVE)
            continue;
        meshq_swim_send_to (self, slots[i], &msg);
        memcpy (p->relays[p->nacks_expected++], self->members[slots[i]].id, 16);
    }
    //  And the target is asked once more ourselves, with the same
    //  number (memberlist tries TCP at this point). A lost PING or ACK
    //  is the likeliest reason for the silence, and each relay's path
    //  has four datagrams to lose: at 5% loss about one probe in 1,600
    //  of a live member failed all of them, enough suspicions at 10,000
    //  simulated nodes to swamp the gossip. One datagram more, only for
    //  a probe that already failed once.
    meshq_swim_msg_t ping = {
        .type = MESHQ_SWIM_MSG_PING, .seq = p->seq, .has_target = true};
    memcpy (ping.target.id, p->target, 16);
    meshq_swim_send_to (self, target, &ping);
}

//  Whether a NACK from id counts for probe p: it comes from a relay we
//  asked, the first from it. A duplicate, or one from anyone else, would
//  end the probe early: a suspicion of a live member.
static bool
s_nack_counts (meshq_swim_probe_t *p, const uint8_t *id)
{
    for (uint32_t i = 0; i < p->nacks_expected; i++)
        if (!(p->nacked & 1u << i) && memcmp (p->relays[i], id, 16) == 0) {
            p->nacked |= (uint16_t)(1u << i);
            return true;
        }
    return false;
}

static void
s_relay_tick (meshq_swim_t *self, int64_t now)
{
    for (uint32_t i = 0; i < self->config.relay_max; i++) {
        meshq_swim_relay_t *r = &self->relays[i];
        if (!r->used || now < r->nack_at)
            continue;
        r->used = false;
        meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_NACK, .seq = r->req_seq};
        meshq_swim_send (self, r->req_id, &r->req_addr, &msg, UINT32_MAX);
    }
}

static void
s_suspects_tick (meshq_swim_t *self, int64_t now)
{
    for (uint32_t i = 0; i < self->suspects_len;) {
        uint32_t slot = self->suspects[i];
        meshq_swim_member_t *m = &self->members[slot];
        if (now - m->since >= meshq_swim_suspicion_timeout (self, m)) {
            //  set_state takes it off the list: the same i again.
            meshq_swim_set_state (self, slot, MESHQ_SWIM_DEAD);
            meshq_swim_enqueue (self, slot, NULL);
        } else
            i++;
    }
}

//  The tick came late by late ms: this node was not running (a paused
//  process, a starved thread, a host swapping). What the mesh said
//  meanwhile waits in its socket, read or not yet; the time away is no
//  member's silence. The probe under way gets a new timeout instead of
//  failing, suspicions resume where they stood, and our health falls.
static void
s_stalled (meshq_swim_t *self, int64_t now, int64_t late)
{
    self->stats.stalls++;
    meshq_swim_awareness (self, 1);
    meshq_swim_probe_t *p = &self->probe;
    if (p->active && !p->acked) {
        if (!p->indirect)
            p->timeout_at =
                now + s_scaled (self, self->config.probe_timeout_ms);
        int64_t next = now + s_scaled (self, self->config.probe_interval_ms);
        if (self->probe_next < next)
            self->probe_next = next;
    }
    for (uint32_t i = 0; i < self->suspects_len; i++)
        self->members[self->suspects[i]].since += late;
}

//  Most members suspect by our probes told again a probe interval.
#define S_REMIND_MAX 4

//  Tells the members we suspect ourselves of it again (a GOSSIP, whose
//  first update is that suspicion): the first word of it, one
//  datagram, may have been lost, and gossip may not reach the member
//  before the others' timeouts run out. At 1,000 simulated nodes and
//  5% loss, a quarter of the suspicions did not reach their member in
//  time and ended in a false death.
static void
s_remind (meshq_swim_t *self)
{
    uint32_t told = 0;
    for (uint32_t i = 0; i < self->suspects_len && told < S_REMIND_MAX; i++) {
        uint32_t slot = self->suspects[i];
        if (!(self->members[slot].flags & MESHQ_SWIM_F_OURS))
            continue;
        meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_GOSSIP};
        meshq_swim_send_to (self, slot, &msg);
        told++;
    }
}

void
meshq_swim_tick (meshq_swim_t *self)
{
    assert (self);
    int64_t now = meshq_swim_now (self);
    int64_t late = self->due ? now - self->due : 0;
    self->due = 0;
    if (late >= (int64_t)self->config.probe_interval_ms)
        s_stalled (self, now, late);
    s_relay_tick (self, now);
    s_suspects_tick (self, now);
    meshq_swim_probe_t *p = &self->probe;
    if (p->active && !p->acked && !p->indirect && now >= p->timeout_at)
        s_indirect (self);
    if (now >= self->probe_next) {
        //  The round is that of the time the probe was due: a tick late
        //  past the round's end takes the turn it was due for.
        int64_t due = self->probe_next;
        s_probe_end (self);
        s_remind (self);
        self->probe_next = meshq_swim_probe_at (
            self, now, s_scaled (self, self->config.probe_interval_ms));
        if (!self->leaving) {
            uint32_t slot = s_next_target (self, due);
            if (slot != UINT32_MAX)
                meshq_swim_probe_member (self, slot);
        }
    }
    if (now >= self->gossip_next)
        meshq_swim_gossip_tick (self, now);
    if (self->config.sync_interval_ms && now >= self->sync_next) {
        //  Like memberlist's push-pull, less often in larger meshes: one
        //  more interval for each doubling past 32 members.
        uint32_t scale = 1;
        for (uint32_t n = self->count; n > 32; n /= 2)
            scale++;
        int64_t interval = (int64_t)self->config.sync_interval_ms * scale;
        self->sync_next =
            now + interval / 2 +
            (int64_t)(meshq_swim_random (self) % (uint64_t)interval);
        uint32_t slot;
        if (!self->leaving && meshq_swim_random_live (self, &slot, 1, NULL)) {
            meshq_swim_member_t *m = &self->members[slot];
            meshq_swim_addr_t addr = meshq_swim_addr_of (m);
            meshq_swim_sync_send (self, m->id, &addr, true);
        }
    }
}

int64_t
meshq_swim_next (meshq_swim_t *self)
{
    assert (self);
    int64_t next = self->probe_next;
    meshq_swim_probe_t *p = &self->probe;
    if (p->active && !p->acked && !p->indirect && p->timeout_at < next)
        next = p->timeout_at;
    if (self->queue_len && self->gossip_next < next)
        next = self->gossip_next;
    if (self->config.sync_interval_ms && self->sync_next < next)
        next = self->sync_next;
    for (uint32_t i = 0; i < self->config.relay_max; i++)
        if (self->relays[i].used && self->relays[i].nack_at < next)
            next = self->relays[i].nack_at;
    for (uint32_t i = 0; i < self->suspects_len; i++) {
        meshq_swim_member_t *m = &self->members[self->suspects[i]];
        int64_t at = m->since + meshq_swim_suspicion_timeout (self, m);
        if (at < next)
            next = at;
    }
    self->due = next;
    return next;
}

//  A REQ: ping its target for the requester.
static void
s_relay (meshq_swim_t *self, const meshq_swim_msg_t *msg)
{
    if (memcmp (msg->target.id, self->me.id, 16) == 0 || self->leaving)
        return;
    meshq_swim_relay_t *r = NULL;
    for (uint32_t i = 0; i < self->config.relay_max && !r; i++)
        if (!self->relays[i].used)
            r = &self->relays[i];
    if (!r) {
        self->stats.relays_dropped++;
        return;
    }
    meshq_swim_addr_t to;
    uint32_t slot;
    meshq_swim_member_t *m = meshq_swim_find (self, msg->target.id, &slot);
    if (m) {
        memcpy (to.ip, m->ip, 16);
        to.port = m->port;
    } else {
        memcpy (to.ip, msg->target.ip, 16);
        to.port = msg->target.port;
        slot = UINT32_MAX;
    }
    r->used = true;
    r->seq = ++self->seq;
    r->req_seq = msg->seq;
    memcpy (r->req_id, msg->from.id, 16);
    memcpy (r->req_addr.ip, msg->from.ip, 16);
    r->req_addr.port = msg->from.port;
    r->nack_at =
        meshq_swim_now (self) + (int64_t)self->config.probe_timeout_ms * 4 / 5;
    meshq_swim_msg_t ping = {
        .type = MESHQ_SWIM_MSG_PING, .seq = r->seq, .has_target = true};
    memcpy (ping.target.id, msg->target.id, 16);
    meshq_swim_send (self, msg->target.id, &to, &ping, slot);
}

void
meshq_swim_probe_recv (meshq_swim_t *self, const meshq_swim_msg_t *msg)
{
    meshq_swim_probe_t *p = &self->probe;
    uint32_t from_slot = UINT32_MAX;
    meshq_swim_find (self, msg->from.id, &from_slot);
    meshq_swim_addr_t from;
    memcpy (from.ip, msg->from.ip, 16);
    from.port = msg->from.port;
    switch (msg->type) {
        case MESHQ_SWIM_MSG_PING: {
            if (memcmp (msg->target.id, self->me.id, 16) != 0) {
                //  For an earlier node at our address: not ours to answer.
                self->stats.misdirected++;
                return;
            }
            meshq_swim_msg_t ack = {.type = MESHQ_SWIM_MSG_ACK,
                                    .seq = msg->seq};
            meshq_swim_send (self, msg->from.id, &from, &ack, from_slot);
            return;
        }
        case MESHQ_SWIM_MSG_ACK:
            if (p->active && msg->seq == p->seq) {
                p->acked = true;
                return;
            }
            for (uint32_t i = 0; i < self->config.relay_max; i++) {
                meshq_swim_relay_t *r = &self->relays[i];
                if (r->used && r->seq == msg->seq) {
                    r->used = false;
                    meshq_swim_msg_t ack = {.type = MESHQ_SWIM_MSG_ACK,
                                            .seq = r->req_seq};
                    meshq_swim_send (self, r->req_id, &r->req_addr, &ack,
                                     UINT32_MAX);
                    return;
                }
            }
            return;
        case MESHQ_SWIM_MSG_NACK:
            if (p->active && msg->seq == p->seq && p->indirect &&
                s_nack_counts (p, msg->from.id)) {
                //  Every relay failed to reach it too: nothing is left to
                //  wait for but our own ACK, late past the timeouts of
                //  four members. Waiting out the interval made each
                //  suspicion, and each confirmation, about half an
                //  interval later.
                if (s_nacks (p) == p->nacks_expected && !p->acked)
                    s_probe_end (self);
            }
            return;
        case MESHQ_SWIM_MSG_REQ:
            s_relay (self, msg);
            return;
        default:
            return;
    }
}

void
meshq_swim_set_probe_interval (meshq_swim_t *self, uint32_t ms)
{
    assert (self);
    self->config.probe_interval_ms = ms ? ms : 1;
}

void
meshq_swim_set_round_offset (meshq_swim_t *self, int64_t ms)
{
    assert (self);
    self->round_offset = ms;
}
