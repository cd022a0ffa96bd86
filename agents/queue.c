/*  queue.c - one queue: ready levels, unacked list, dispatch. Its
    consumers and their credit are in queue_consumers.c. See queue.h.
*/
#include "queue_internal.h"

#include "cache.h"

#include <time.h>

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
    //  One a publish, freed as it is delivered: from the thread's cache
    //  (lib/cache.h), as malloc and free were 8% of the agent's time.
    size_t capacity;
    meshq_blob_t *self = meshq_cache_alloc (sizeof *self + size, &capacity);
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
        meshq_cache_free (self,
                          meshq_cache_capacity (sizeof *self + self->size));
    }
    *self_p = NULL;
}

static const char *s_disposal_names[MESHQ_DISPOSED_COUNT] = {
    "expired", "maxlen", "rejected", "delivery_limit", "dedup"};

const char *
meshq_disposal_name (meshq_disposal_t disposal)
{
    assert (disposal < MESHQ_DISPOSED_COUNT);
    return s_disposal_names[disposal];
}

meshq_disposal_t
meshq_disposal_find (const char *reason)
{
    int disposal = 0;
    while (disposal < MESHQ_DISPOSED_COUNT && reason &&
           strcmp (reason, s_disposal_names[disposal]))
        disposal++;
    return (meshq_disposal_t)(reason ? disposal : MESHQ_DISPOSED_COUNT);
}

uint32_t
meshq_entry_count (const meshq_entry_t *entry)
{
    return entry->deliveries +
           (entry->consumer && entry->consumer->remote ? 1 : 0);
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
        meshq_entry_list_unlink (&self->unacked, entry);
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

bool
meshq_queue_route_mark (meshq_queue_t *self, uint64_t mark)
{
    if (self->route_mark == mark)
        return false;
    self->route_mark = mark;
    return true;
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

void
meshq_queue_unacked_split (const meshq_queue_t *self, uint64_t *remote,
                           uint64_t *own_bytes)
{
    *remote = *own_bytes = 0;
    for (const meshq_entry_t *entry = self->unacked.head; entry;
         entry = entry->next)
        if (entry->remote)
            (*remote)++;
        else
            *own_bytes += entry->body_size;
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

double
meshq_queue_drain_rate (meshq_queue_t *self, int64_t now)
{
    int64_t elapsed = now - self->drain_at;
    if (!self->drain_at || elapsed < 0) {
        self->drain_at = now;
        self->drain_then = self->delivered;
    } else if (elapsed >= 20) {
        double rate =
            (double)(self->delivered - self->drain_then) / (double)elapsed;
        self->drain_rate =
            self->drain_rate > 0 ? (self->drain_rate + rate) / 2 : rate;
        self->drain_at = now;
        self->drain_then = self->delivered;
    }
    return self->drain_rate;
}

void
meshq_queue_note_disposed (meshq_queue_t *self, meshq_disposal_t disposal,
                           uint64_t count)
{
    assert (disposal < MESHQ_DISPOSED_COUNT);
    self->disposed[disposal] += count;
}

uint64_t
meshq_queue_disposed (const meshq_queue_t *self, meshq_disposal_t disposal)
{
    assert (disposal < MESHQ_DISPOSED_COUNT);
    return self->disposed[disposal];
}

void
meshq_queue_totals (const meshq_queue_t *self, meshq_queue_totals_t *totals)
{
    totals->published = self->pushed;
    totals->delivered = self->delivered;
    totals->first_deliveries = self->first_deliveries;
    totals->delivery_wait_ms = self->delivery_wait_ms;
    totals->acked = self->acked;
    totals->ack_wait_ms = self->ack_wait_ms;
}

void
meshq_queue_note_wait (meshq_queue_t *self, bool acked, int64_t wait_ms)
{
    uint64_t wait = wait_ms > 0 ? (uint64_t)wait_ms : 0;
    if (acked) {
        self->acked++;
        self->ack_wait_ms += wait;
    } else {
        self->first_deliveries++;
        self->delivery_wait_ms += wait;
    }
}

uint64_t
meshq_queue_disposed_since (const meshq_queue_t *self,
                            meshq_disposal_t disposal)
{
    assert (disposal < MESHQ_DISPOSED_COUNT);
    return self->disposed[disposal] - self->reported[disposal];
}

void
meshq_queue_disposed_logged (meshq_queue_t *self, meshq_disposal_t disposal)
{
    assert (disposal < MESHQ_DISPOSED_COUNT);
    self->reported[disposal] = self->disposed[disposal];
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
            meshq_entry_list_unlink (&self->ready[level], entry);
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
            meshq_entry_list_unlink (&self->ready[level], entry);
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
    //  Its wait (/metrics) counts from here.
    if (!entry->born)
        entry->born = meshq_mono_ms ();
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
    meshq_entry_list_append (&self->ready[entry->priority], entry);
    self->pushed++;
    self->ready_count++;
    self->ready_bytes += entry->body_size;
    return 0;
}

void
meshq_queue_unpush (meshq_queue_t *self, meshq_entry_t *entry)
{
    assert (!entry->unacked && entry->queue == self);
    meshq_entry_list_unlink (&self->ready[entry->priority], entry);
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
    meshq_entry_list_prepend (&self->ready[entry->priority], entry);
    self->ready_count++;
    self->ready_bytes += entry->body_size;
}

void
meshq_queue_settle (meshq_queue_t *self, meshq_entry_t *entry)
{
    assert (entry->unacked && entry->queue == self);
    meshq_entry_list_unlink (&self->unacked, entry);
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

static meshq_consumer_t *
s_pick (meshq_queue_t *self)
{
    return meshq_queue_pick_among (self, false);
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

void
meshq_queue_deliver_entry (meshq_queue_t *self, meshq_entry_t *entry,
                           meshq_consumer_t *consumer, int64_t lease)
{
    if (!consumer || !consumer->remote)
        entry->deliveries++;
    self->delivered++;
    entry->consumer = consumer;
    entry->lease = lease;
    entry->unacked = true;
    meshq_entry_list_append (&self->unacked, entry);
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
        meshq_queue_deliver_entry (self, entry, consumer, lease);
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
        meshq_queue_deliver_entry (self, entry, NULL,
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
            meshq_entry_list_unlink (&self->ready[level], entry);
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
    meshq_entry_list_unlink (&self->unacked, entry);
    entry->lease = now + self->args.ack_timeout;
    meshq_entry_list_append (&self->unacked, entry);
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
                meshq_entry_list_unlink (&self->ready[level], entry);
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
