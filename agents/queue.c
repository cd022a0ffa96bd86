/*  queue.c - one queue: ready levels, unacked list, consumers, dispatch.
    See queue.h.
*/
#include "queue.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_LEVELS (MESHQ_MAX_PRIORITY + 1)

//  A doubly linked list of entries.
typedef struct {
    meshq_entry_t *head;  //  First entry.
    meshq_entry_t *tail;  //  Last entry.
} s_list_t;

struct _meshq_queue_t {
    char name[MESHQ_MAX_SHORTSTR + 1];  //  Queue name.
    meshq_queue_args_t args;            //  Declared arguments.
    const meshq_queue_host_t *host;     //  Callbacks to the agent.
    void *host_arg;                     //  Their argument.
    s_list_t ready[S_LEVELS];           //  Ready entries by priority level.
    uint64_t ready_count;               //  Entries in ready.
    uint64_t ready_bytes;               //  Body bytes in ready.
    s_list_t unacked;                   //  Delivered, in lease order.
    uint64_t unacked_count;             //  Entries in unacked.
    meshq_consumer_t *consumers;        //  Consumers, in arrival order.
    uint32_t consumer_count;            //  Number of consumers.
    uint32_t rotor;                     //  Where the next credit scan starts.
    void *owner;                        //  Owning session if exclusive.
    uint64_t pushed;                    //  Entries ever pushed.
    uint64_t delivered;                 //  Deliveries ever made.
    uint64_t pushed_then;               //  pushed at the last sample.
    uint64_t delivered_then;            //  delivered at the last sample.
    int64_t sampled;                    //  When the last sample was (ms).
    double publish_rate;                //  Pushed per second.
    double deliver_rate;                //  Delivered per second.
    uint32_t reserved;                  //  Local slots promised to agents.
    int64_t ahead;                      //  Of those, how many need none.
    void *mesh;                         //  The host's mesh state.
};

int64_t
meshq_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
meshq_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

meshq_blob_t *
meshq_blob_new (const void *data, size_t size, uint64_t *account)
{
    meshq_blob_t *self = malloc (sizeof *self + size);
    assert (self);
    self->refs = 1;
    self->size = (uint32_t)size;
    self->account = account;
    if (account)
        *account += size;
    memcpy (self->data, data, size);
    return self;
}

meshq_blob_t *
meshq_blob_ref (meshq_blob_t *self)
{
    self->refs++;
    return self;
}

void
meshq_blob_unref (meshq_blob_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    meshq_blob_t *self = *self_p;
    if (--self->refs == 0) {
        if (self->account)
            *self->account -= self->size;
        free (self);
    }
    *self_p = NULL;
}

static void
s_append (s_list_t *list, meshq_entry_t *entry)
{
    entry->next = NULL;
    entry->prev = list->tail;
    if (list->tail)
        list->tail->next = entry;
    else
        list->head = entry;
    list->tail = entry;
}

static void
s_prepend (s_list_t *list, meshq_entry_t *entry)
{
    entry->prev = NULL;
    entry->next = list->head;
    if (list->head)
        list->head->prev = entry;
    else
        list->tail = entry;
    list->head = entry;
}

static void
s_unlink (s_list_t *list, meshq_entry_t *entry)
{
    if (entry->prev)
        entry->prev->next = entry->next;
    else
        list->head = entry->next;
    if (entry->next)
        entry->next->prev = entry->prev;
    else
        list->tail = entry->prev;
    entry->prev = entry->next = NULL;
}

void
meshq_queue_args_init (meshq_queue_args_t *args)
{
    memset (args, 0, sizeof *args);
    args->durable = true;
    args->max_length = -1;
    args->max_bytes = -1;
    args->message_ttl = -1;
    args->max_deliveries = 20;
    args->ack_timeout = 30 * 60 * 1000;
}

meshq_queue_t *
meshq_queue_new (const char *name, const meshq_queue_args_t *args,
                 const meshq_queue_host_t *host, void *arg)
{
    meshq_queue_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->name, sizeof self->name, "%s", name);
    self->args = *args;
    self->host = host;
    self->host_arg = arg;
    return self;
}

void
meshq_queue_destroy (meshq_queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    meshq_queue_t *self = *self_p;
    assert (self->consumers == NULL);
    meshq_queue_purge (self);
    while (self->unacked.head) {
        meshq_entry_t *entry = self->unacked.head;
        s_unlink (&self->unacked, entry);
        entry->unacked = false;
        self->host->dispose (self->host_arg, entry, NULL);
    }
    free (self);
    *self_p = NULL;
}

const char *
meshq_queue_name (const meshq_queue_t *self)
{
    return self->name;
}

bool
meshq_queue_set_args (meshq_queue_t *self, const meshq_queue_args_t *args)
{
    if (args->max_priority != self->args.max_priority &&
        self->ready_count + self->unacked_count)
        return false;
    self->args = *args;
    return true;
}

void *
meshq_queue_host (const meshq_queue_t *self)
{
    return self->host_arg;
}

void *
meshq_queue_owner (const meshq_queue_t *self)
{
    return self->owner;
}

void
meshq_queue_set_owner (meshq_queue_t *self, void *owner)
{
    self->owner = owner;
}

const meshq_queue_args_t *
meshq_queue_args (const meshq_queue_t *self)
{
    return &self->args;
}

uint64_t
meshq_queue_ready (const meshq_queue_t *self)
{
    return self->ready_count;
}

uint64_t
meshq_queue_ready_bytes (const meshq_queue_t *self)
{
    return self->ready_bytes;
}

uint64_t
meshq_queue_unacked (const meshq_queue_t *self)
{
    return self->unacked_count;
}

uint32_t
meshq_queue_consumer_count (const meshq_queue_t *self)
{
    return self->consumer_count;
}

meshq_consumer_t *
meshq_queue_consumers (const meshq_queue_t *self)
{
    return self->consumers;
}

void
meshq_queue_sample_rates (meshq_queue_t *self, int64_t now)
{
    if (self->sampled && now > self->sampled) {
        double seconds = (double)(now - self->sampled) / 1000.0;
        self->publish_rate =
            (double)(self->pushed - self->pushed_then) / seconds;
        self->deliver_rate =
            (double)(self->delivered - self->delivered_then) / seconds;
    }
    self->pushed_then = self->pushed;
    self->delivered_then = self->delivered;
    self->sampled = now;
}

double
meshq_queue_publish_rate (const meshq_queue_t *self)
{
    return self->publish_rate;
}

double
meshq_queue_deliver_rate (const meshq_queue_t *self)
{
    return self->deliver_rate;
}

int64_t
meshq_queue_expiry (const meshq_queue_t *self, int64_t now, int64_t message_ttl)
{
    int64_t ttl = self->args.message_ttl;
    if (message_ttl >= 0 && (ttl < 0 || message_ttl < ttl))
        ttl = message_ttl;
    //  Zero means "expire unless delivered at once": one ms of grace.
    return ttl < 0 ? 0 : now + (ttl > 0 ? ttl : 1);
}

//  Removes the head of the highest non-empty level, or returns NULL.
static meshq_entry_t *
s_pop (meshq_queue_t *self)
{
    for (int level = self->args.max_priority; level >= 0; level--) {
        meshq_entry_t *entry = self->ready[level].head;
        if (entry) {
            s_unlink (&self->ready[level], entry);
            self->ready_count--;
            self->ready_bytes -= entry->body_size;
            return entry;
        }
    }
    return NULL;
}

//  Removes the oldest entry of the lowest non-empty level (drop-head).
static meshq_entry_t *
s_pop_oldest (meshq_queue_t *self)
{
    for (int level = 0; level <= self->args.max_priority; level++) {
        meshq_entry_t *entry = self->ready[level].head;
        if (entry) {
            s_unlink (&self->ready[level], entry);
            self->ready_count--;
            self->ready_bytes -= entry->body_size;
            return entry;
        }
    }
    return NULL;
}

static bool
s_full (const meshq_queue_t *self, uint32_t extra_bytes)
{
    return (self->args.max_length >= 0 &&
            self->ready_count + 1 > (uint64_t)self->args.max_length) ||
           (self->args.max_bytes >= 0 &&
            self->ready_bytes + extra_bytes > (uint64_t)self->args.max_bytes);
}

int
meshq_queue_push (meshq_queue_t *self, meshq_entry_t *entry)
{
    if (s_full (self, entry->body_size)) {
        if (self->args.reject_publish)
            return MESHQ_ELIMIT;
        while (self->ready_count && s_full (self, entry->body_size)) {
            meshq_entry_t *oldest = s_pop_oldest (self);
            self->host->dispose (self->host_arg, oldest, "maxlen");
        }
        //  A limit of zero, or one message larger than max-length-bytes:
        //  the newcomer is the one that does not fit.
        if (s_full (self, entry->body_size)) {
            entry->queue = self;
            self->host->dispose (self->host_arg, entry, "maxlen");
            return 1;
        }
    }
    if (entry->priority > self->args.max_priority)
        entry->priority = (uint8_t)self->args.max_priority;
    entry->queue = self;
    s_append (&self->ready[entry->priority], entry);
    self->pushed++;
    self->ready_count++;
    self->ready_bytes += entry->body_size;
    return 0;
}

void
meshq_queue_unpush (meshq_queue_t *self, meshq_entry_t *entry)
{
    assert (!entry->unacked && entry->queue == self);
    s_unlink (&self->ready[entry->priority], entry);
    self->ready_count--;
    self->ready_bytes -= entry->body_size;
}

void
meshq_queue_requeue (meshq_queue_t *self, meshq_entry_t *entry)
{
    assert (!entry->unacked);
    entry->redelivered = true;
    entry->consumer = NULL;
    entry->session = NULL;
    entry->dtag = 0;
    s_prepend (&self->ready[entry->priority], entry);
    self->ready_count++;
    self->ready_bytes += entry->body_size;
}

void
meshq_queue_settle (meshq_queue_t *self, meshq_entry_t *entry)
{
    assert (entry->unacked && entry->queue == self);
    s_unlink (&self->unacked, entry);
    entry->unacked = false;
    self->unacked_count--;
    if (entry->consumer) {
        assert (entry->consumer->unacked > 0);
        entry->consumer->unacked--;
        //  Another agent's credit is good for one delivery each.
        if (entry->consumer->remote && entry->consumer->prefetch)
            entry->consumer->prefetch--;
    }
}

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
static meshq_consumer_t *
s_pick_among (meshq_queue_t *self, bool local_only)
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

static meshq_consumer_t *
s_pick (meshq_queue_t *self)
{
    return s_pick_among (self, false);
}

//  Pops the next entry that may be delivered, disposing of the expired
//  and those past the delivery limit on the way.
static meshq_entry_t *
s_next_deliverable (meshq_queue_t *self, int64_t now)
{
    meshq_entry_t *entry;
    while ((entry = s_pop (self))) {
        if (entry->expires && entry->expires <= now)
            self->host->dispose (self->host_arg, entry, "expired");
        else if (entry->deliveries >= self->args.max_deliveries)
            self->host->dispose (self->host_arg, entry, "delivery_limit");
        else
            return entry;
    }
    return NULL;
}

static void
s_deliver (meshq_queue_t *self, meshq_entry_t *entry,
           meshq_consumer_t *consumer, int64_t lease)
{
    entry->deliveries++;
    self->delivered++;
    entry->consumer = consumer;
    entry->lease = lease;
    entry->unacked = true;
    s_append (&self->unacked, entry);
    self->unacked_count++;
    if (consumer)
        consumer->unacked++;
}

int
meshq_queue_dispatch (meshq_queue_t *self, int64_t now)
{
    int delivered = 0;
    int64_t lease = 0;
    meshq_consumer_t *consumer;
    while (self->ready_count && (consumer = s_pick (self))) {
        meshq_entry_t *entry = s_next_deliverable (self, now);
        if (!entry)
            break;
        if (!lease)
            lease = meshq_mono_ms () + self->args.ack_timeout;
        s_deliver (self, entry, consumer, lease);
        self->rotor++;
        self->host->deliver (self->host_arg, consumer, entry);
        delivered++;
    }
    return delivered;
}

meshq_entry_t *
meshq_queue_take (meshq_queue_t *self, int64_t now)
{
    meshq_entry_t *entry = s_next_deliverable (self, now);
    if (entry)
        s_deliver (self, entry, NULL,
                   meshq_mono_ms () + self->args.ack_timeout);
    return entry;
}

void
meshq_queue_expire (meshq_queue_t *self, int64_t now)
{
    for (int level = 0; level <= self->args.max_priority; level++) {
        meshq_entry_t *entry;
        while ((entry = self->ready[level].head) && entry->expires &&
               entry->expires <= now) {
            s_unlink (&self->ready[level], entry);
            self->ready_count--;
            self->ready_bytes -= entry->body_size;
            self->host->dispose (self->host_arg, entry, "expired");
        }
    }
}

meshq_entry_t *
meshq_queue_lapsed (meshq_queue_t *self, int64_t now)
{
    meshq_entry_t *entry = self->unacked.head;
    return entry && entry->lease <= now ? entry : NULL;
}

void
meshq_queue_touch (meshq_queue_t *self, meshq_entry_t *entry, int64_t now)
{
    assert (entry->unacked);
    s_unlink (&self->unacked, entry);
    entry->lease = now + self->args.ack_timeout;
    s_append (&self->unacked, entry);
}

uint64_t
meshq_queue_purge (meshq_queue_t *self)
{
    uint64_t purged = 0;
    meshq_entry_t *entry;
    while ((entry = s_pop (self))) {
        self->host->dispose (self->host_arg, entry, NULL);
        purged++;
    }
    return purged;
}

uint64_t
meshq_queue_dispose_if (meshq_queue_t *self,
                        bool (*match) (const meshq_entry_t *entry, void *arg),
                        void *arg)
{
    uint64_t count = 0;
    for (int level = 0; level <= self->args.max_priority; level++) {
        meshq_entry_t *entry = self->ready[level].head;
        while (entry) {
            meshq_entry_t *next = entry->next;
            if (match (entry, arg)) {
                s_unlink (&self->ready[level], entry);
                self->ready_count--;
                self->ready_bytes -= entry->body_size;
                self->host->dispose (self->host_arg, entry, NULL);
                count++;
            }
            entry = next;
        }
    }
    return count;
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
    meshq_consumer_t **link = &self->consumers;
    while (*link)
        link = &(*link)->next;
    *link = consumer;
    self->consumer_count++;
    return consumer;
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
    meshq_consumer_t *consumer = s_pick_among (self, true);
    if (!consumer)
        return false;
    entry->queue = self;
    //  Counted where it was delivered from: not again here.
    entry->deliveries--;
    s_deliver (self, entry, consumer,
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
    meshq_consumer_t **link = &self->consumers;
    while (*link)
        link = &(*link)->next;
    *link = consumer;
    self->consumer_count++;
    return consumer;
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
