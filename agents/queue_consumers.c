/*  queue_consumers.c - a queue's consumers, local and remote, their
    credit, and the slots reserved for other agents. See queue.h.
*/
#include "queue_internal.h"

static uint32_t
s_free (const meshq_consumer_t *consumer)
{
    return consumer->prefetch > consumer->unacked
               ? consumer->prefetch - consumer->unacked
               : 0;
}

//  The consumer with the most free credit, starting the scan at the
//  rotor so that equal credit is shared in turn. Local consumers leave
//  the slots reserved for other agents free; with local_first they go
//  before remote ones; with local_only remote ones are not considered
//  (and reservations are ignored: a remote entry has its own slot).
meshq_consumer_t *
meshq_queue_pick_among (meshq_queue_t *self, bool local_only)
{
    if (!self->consumers)
        return NULL;
    uint32_t local_free = 0;
    for (meshq_consumer_t *c = self->consumers; c; c = c->next)
        if (!c->remote)
            local_free += s_free (c);
    bool locals = local_only ||
                  (int64_t)local_free + self->ahead > (int64_t)self->reserved;
    uint32_t start = self->rotor % self->consumer_count;
    meshq_consumer_t *first = self->consumers;
    for (uint32_t i = 0; i < start; i++)
        first = first->next;
    meshq_consumer_t *best = NULL, *best_local = NULL;
    uint32_t best_credit = 0, best_local_credit = 0;
    meshq_consumer_t *consumer = first;
    for (uint32_t i = 0; i < self->consumer_count; i++) {
        uint32_t credit = s_free (consumer);
        bool eligible = consumer->remote ? !local_only : locals;
        if (eligible && credit > best_credit) {
            best = consumer;
            best_credit = credit;
        }
        if (eligible && !consumer->remote && credit > best_local_credit) {
            best_local = consumer;
            best_local_credit = credit;
        }
        consumer = consumer->next ? consumer->next : self->consumers;
    }
    return self->args.local_first && best_local ? best_local : best;
}

//  Puts a new consumer last: dispatch scans them in arrival order.
static meshq_consumer_t *
s_append (meshq_queue_t *self, meshq_consumer_t *consumer)
{
    meshq_consumer_t **link = &self->consumers;
    while (*link)
        link = &(*link)->next;
    *link = consumer;
    self->consumer_count++;
    return consumer;
}

meshq_consumer_t *
meshq_queue_add_remote (meshq_queue_t *self, void *session, const char *tag)
{
    meshq_consumer_t *consumer = calloc (1, sizeof *consumer);
    assert (consumer);
    consumer->queue = self;
    consumer->session = session;
    snprintf (consumer->tag, sizeof consumer->tag, "%s", tag);
    consumer->remote = true;
    return s_append (self, consumer);
}

void
meshq_queue_reserve (meshq_queue_t *self, int64_t slots)
{
    int64_t reserved = (int64_t)self->reserved + slots;
    self->reserved = reserved > 0 ? (uint32_t)reserved : 0;
}

uint32_t
meshq_queue_reserved (const meshq_queue_t *self)
{
    return self->reserved;
}

void
meshq_queue_set_ahead (meshq_queue_t *self, int64_t ahead)
{
    self->ahead = ahead;
}

uint32_t
meshq_queue_local_consumers (const meshq_queue_t *self)
{
    uint32_t count = 0;
    for (meshq_consumer_t *c = self->consumers; c; c = c->next)
        count += !c->remote;
    return count;
}

bool
meshq_queue_deliver_remote (meshq_queue_t *self, meshq_entry_t *entry)
{
    meshq_consumer_t *consumer = meshq_queue_pick_among (self, true);
    if (!consumer)
        return false;
    entry->queue = self;
    //  It came with its count, this delivery included: not again here.
    entry->deliveries--;
    meshq_queue_deliver_entry (self, entry, consumer,
                               meshq_mono_ms () + self->args.ack_timeout);
    self->rotor++;
    self->host->deliver (self->host_arg, consumer, entry);
    return true;
}

void *
meshq_queue_mesh (const meshq_queue_t *self)
{
    return self->mesh;
}

void
meshq_queue_set_mesh (meshq_queue_t *self, void *mesh)
{
    self->mesh = mesh;
}

meshq_consumer_t *
meshq_queue_add_consumer (meshq_queue_t *self, void *session, const char *tag,
                          uint32_t prefetch, bool exclusive)
{
    for (meshq_consumer_t *c = self->consumers; c; c = c->next)
        if (!c->remote && (c->exclusive || exclusive))
            return NULL;
    meshq_consumer_t *consumer = calloc (1, sizeof *consumer);
    assert (consumer);
    consumer->queue = self;
    consumer->session = session;
    snprintf (consumer->tag, sizeof consumer->tag, "%s", tag);
    consumer->prefetch = prefetch ? prefetch : 1;
    consumer->exclusive = exclusive;
    return s_append (self, consumer);
}

void
meshq_queue_remove_consumer (meshq_queue_t *self, meshq_consumer_t *consumer)
{
    for (meshq_entry_t *entry = self->unacked.head; entry; entry = entry->next)
        if (entry->consumer == consumer)
            entry->consumer = NULL;
    for (meshq_consumer_t **link = &self->consumers; *link;
         link = &(*link)->next)
        if (*link == consumer) {
            *link = consumer->next;
            self->consumer_count--;
            free (consumer);
            return;
        }
    assert (false);
}
