/*  swim_gossip.c - the gossip queue, piggybacking, and sending.

    Each change of a member's state puts the member in the gossip
    queue, once: what is sent is its record as it is when sent, so a
    newer change replaces an older one. Every message we send carries
    up to piggyback_max queued updates, those sent the fewest times
    first, and an update leaves the queue once sent retransmit_mult *
    ceil(log10(n + 1)) times: enough for an epidemic to reach all n
    members with high probability, at a cost per message that does not
    grow with n. A full queue pushes out the update sent most often.
    When the queue holds updates, a gossip round every gossip_interval
    also sends them to gossip_nodes members picked at random.

    A SYNC sends the whole table in chunks, to a newcomer's seed (which
    answers with its own) and, every sync interval, to one member at
    random, which heals what gossip dropped.
*/
#include "swim_internal.h"
#include "meshq.h"

#include <assert.h>
#include <string.h>

uint32_t
meshq_swim_retransmit_limit (meshq_swim_t *self)
{
    //  ceil (log10 (n + 1)) is the number of decimal digits of n.
    uint32_t digits = 1;
    for (uint32_t n = self->count + 1; n >= 10; n /= 10)
        digits++;
    uint32_t limit = self->config.retransmit_mult * digits;
    return limit ? limit : 1;
}

void
meshq_swim_queue_init (meshq_swim_t *self)
{
    for (uint32_t t = 0; t < 256; t++)
        self->heads[t] = S_SWIM_NONE;
    uint32_t max = self->config.gossip_queue_max;
    for (uint32_t i = 0; i < max; i++)
        self->queue[i].next = i + 1 < max ? (uint16_t)(i + 1) : S_SWIM_NONE;
    self->queue_free = 0;
}

static void
s_unlink (meshq_swim_t *self, uint16_t pos)
{
    meshq_swim_queued_t *q = &self->queue[pos];
    if (q->prev != S_SWIM_NONE)
        self->queue[q->prev].next = q->next;
    else
        self->heads[q->transmits] = q->next;
    if (q->next != S_SWIM_NONE)
        self->queue[q->next].prev = q->prev;
}

static void
s_link (meshq_swim_t *self, uint16_t pos, uint8_t transmits)
{
    meshq_swim_queued_t *q = &self->queue[pos];
    q->transmits = transmits;
    q->prev = S_SWIM_NONE;
    q->next = self->heads[transmits];
    if (q->next != S_SWIM_NONE)
        self->queue[q->next].prev = pos;
    self->heads[transmits] = pos;
}

static void
s_queue_remove (meshq_swim_t *self, uint16_t pos)
{
    meshq_swim_queued_t *q = &self->queue[pos];
    if (q->slot == S_SWIM_SELF)
        self->me_queued = false;
    else
        self->members[q->slot].flags &= ~MESHQ_SWIM_F_QUEUED;
    s_unlink (self, pos);
    q->slot = UINT32_MAX - 1;
    q->next = self->queue_free;
    self->queue_free = pos;
    self->queue_len--;
}

void
meshq_swim_enqueue (meshq_swim_t *self, uint32_t slot, const uint8_t *by)
{
    uint16_t pos;
    bool queued = slot == S_SWIM_SELF
                      ? self->me_queued
                      : (self->members[slot].flags & MESHQ_SWIM_F_QUEUED);
    if (queued) {
        pos = slot == S_SWIM_SELF ? self->me_queue_pos
                                  : self->members[slot].queue_pos;
        s_unlink (self, pos);
    } else {
        if (self->queue_free == S_SWIM_NONE) {
            //  Full: the update sent most often has done the most good.
            uint32_t t = 255;
            while (self->heads[t] == S_SWIM_NONE)
                t--;
            s_queue_remove (self, self->heads[t]);
            self->stats.gossip_dropped++;
        }
        pos = self->queue_free;
        self->queue_free = self->queue[pos].next;
        self->queue_len++;
        self->queue[pos].slot = slot;
        if (slot == S_SWIM_SELF) {
            self->me_queued = true;
            self->me_queue_pos = pos;
        } else {
            self->members[slot].flags |= MESHQ_SWIM_F_QUEUED;
            self->members[slot].queue_pos = pos;
        }
    }
    meshq_swim_queued_t *q = &self->queue[pos];
    s_link (self, pos, 0);
    q->has_by = by != NULL;
    if (by)
        memcpy (q->by, by, 16);
}

void
meshq_swim_dequeue (meshq_swim_t *self, uint32_t slot)
{
    if (self->members[slot].flags & MESHQ_SWIM_F_QUEUED)
        s_queue_remove (self, self->members[slot].queue_pos);
}

//  The record of slot (or ourselves) as it travels.
void
meshq_swim_record (meshq_swim_t *self, uint32_t slot,
                   meshq_swim_update_t *update)
{
    if (slot == S_SWIM_SELF) {
        *update = self->me;
        update->has_by = false;
        return;
    }
    const meshq_swim_member_t *m = &self->members[slot];
    memcpy (update->id, m->id, 16);
    memcpy (update->ip, m->ip, 16);
    update->incarnation = m->incarnation;
    update->version = m->version;
    update->port = m->port;
    update->state = m->state;
    update->has_by = false;
}

//  Fills self->scratch from start with up to max queued updates, the
//  least sent first, skipping the one about skip (sent already); counts
//  each as sent. Returns how many.
static uint32_t
s_piggyback (meshq_swim_t *self, uint32_t start, uint32_t max, uint32_t skip)
{
    if (!self->queue_len || start >= max)
        return 0;
    uint16_t picked[MESHQ_SWIM_UPDATES_MAX];
    uint32_t got = 0;
    for (uint32_t t = 0; t < 256 && got < max - start; t++)
        for (uint16_t pos = self->heads[t];
             pos != S_SWIM_NONE && got < max - start;
             pos = self->queue[pos].next)
            if (self->queue[pos].slot != skip)
                picked[got++] = pos;
    uint32_t limit = meshq_swim_retransmit_limit (self);
    for (uint32_t i = 0; i < got; i++) {
        meshq_swim_queued_t *q = &self->queue[picked[i]];
        meshq_swim_update_t *u = &self->scratch[start + i];
        meshq_swim_record (self, q->slot, u);
        if (q->has_by && u->state == MESHQ_SWIM_SUSPECT) {
            u->has_by = true;
            memcpy (u->by, q->by, 16);
        }
        uint32_t sent = q->transmits + 1u;
        if (sent >= limit || sent > 255)
            s_queue_remove (self, picked[i]);
        else {
            s_unlink (self, picked[i]);
            s_link (self, picked[i], (uint8_t)sent);
        }
    }
    return got;
}

static void
s_emit (meshq_swim_t *self, const uint8_t *id, const meshq_swim_addr_t *addr,
        meshq_swim_msg_t *msg, uint32_t count)
{
    msg->from = self->me;
    msg->from.state = MESHQ_SWIM_ALIVE;
    msg->from.has_by = false;
    meshq_buf_reset (&self->out);
    if (meshq_codec_swim_encode (&self->out, msg, self->scratch, count))
        return;
    self->stats.msgs_out++;
    self->stats.bytes_out += self->out.size;
    self->io.send (self->io.arg, id, addr, self->out.data, self->out.size);
}

//  Sends msg with gossip piggybacked. A member we suspect (or hold dead)
//  is told first, so that it can refute it at once.
void
meshq_swim_send (meshq_swim_t *self, const uint8_t *id,
                 const meshq_swim_addr_t *addr, meshq_swim_msg_t *msg,
                 uint32_t target_slot)
{
    uint32_t count = 0;
    uint32_t max = msg->type == MESHQ_SWIM_MSG_GOSSIP
                       ? self->config.gossip_max
                       : self->config.piggyback_max;
    if (target_slot != UINT32_MAX && max > 0 &&
        self->members[target_slot].state != MESHQ_SWIM_ALIVE)
        meshq_swim_record (self, target_slot, &self->scratch[count++]);
    else
        target_slot = UINT32_MAX;
    count += s_piggyback (self, count, max, target_slot);
    s_emit (self, id, addr, msg, count);
}

void
meshq_swim_send_to (meshq_swim_t *self, uint32_t slot, meshq_swim_msg_t *msg)
{
    const meshq_swim_member_t *m = &self->members[slot];
    meshq_swim_addr_t addr = meshq_swim_addr_of (m);
    meshq_swim_send (self, m->id, &addr, msg, slot);
}

void
meshq_swim_send_self (meshq_swim_t *self, uint32_t slot)
{
    const meshq_swim_member_t *m = &self->members[slot];
    meshq_swim_addr_t addr = meshq_swim_addr_of (m);
    meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_GOSSIP};
    s_emit (self, m->id, &addr, &msg, 0);
}

void
meshq_swim_gossip_tick (meshq_swim_t *self, int64_t now)
{
    if (now >= self->gossip_next)
        self->gossip_next = now + self->config.gossip_interval_ms;
    if (!self->queue_len)
        return;
    uint32_t slots[16];
    uint32_t want =
        self->config.gossip_nodes < 16 ? self->config.gossip_nodes : 16;
    uint32_t got = meshq_swim_random_live (self, slots, want, NULL);
    for (uint32_t i = 0; i < got && self->queue_len; i++) {
        meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_GOSSIP};
        meshq_swim_send_to (self, slots[i], &msg);
    }
}

void
meshq_swim_sync_send (meshq_swim_t *self, const uint8_t *id,
                      const meshq_swim_addr_t *addr, bool reply)
{
    //  Every member, chunk by chunk (our own record is in each
    //  message's "f"); the first chunk asks for the answer.
    meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_SYNC, .reply = reply};
    uint32_t count = 0;
    bool sent = false;
    for (uint32_t slot = 0; slot < self->members_used; slot++) {
        if (!(self->members[slot].flags & MESHQ_SWIM_F_USED))
            continue;
        meshq_swim_record (self, slot, &self->scratch[count++]);
        if (count == self->config.sync_chunk) {
            s_emit (self, id, addr, &msg, count);
            msg.reply = false;
            count = 0;
            sent = true;
        }
    }
    if (count || !sent)
        s_emit (self, id, addr, &msg, count);
}
