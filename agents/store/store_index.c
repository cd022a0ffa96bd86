/*  store_index.c - what the store knows in memory, and how each record
    changes it.

    The index maps a message id (queue, origin, sequence) to the one
    record that holds it: a live enqueue. Queue names and origins are
    interned to small ids, so an entry is 48 bytes with no pointers, in
    a slab of fixed chunks that never moves. An open-addressing table
    (linear probing, deletion by backward shift) keeps entry index and
    hash in one 64-bit slot, so most probes touch no entry. Entries are
    also linked in ordinal (first-append) order for foreach.

    meshq_store_apply is the only way the index changes, whether replay
    reads a record or commit has written one: the same function for both
    is what keeps memory and disk in step. It also keeps each segment's
    count of live bytes, from which deletion and compaction decide.
    Metadata records go to store_meta.c.
*/
#include "store_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

// --------------------------------------------------------------------
//  Hashes

static uint64_t
s_mix (uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint32_t
meshq_store_hash_bytes (const void *data, size_t size)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return (uint32_t)(s_mix (h) >> 32);
}

static uint32_t
s_hash_key (uint32_t queue, uint32_t origin, uint64_t seq)
{
    uint32_t h = (uint32_t)(s_mix (seq ^ ((uint64_t)queue << 32 | origin) *
                                             0x9e3779b97f4a7c15ULL) >>
                            32);
    return h ? h : 1;
}

// --------------------------------------------------------------------
//  Interned names

static void
s_names_fini (meshq_store_names_t *names)
{
    for (uint32_t i = 0; i < names->count; i++)
        free (names->items[i]);
    free (names->items);
    free (names->sizes);
    free (names->table);
    memset (names, 0, sizeof *names);
}

static bool
s_names_equal (meshq_store_names_t *names, uint32_t id, const void *data,
               uint32_t size)
{
    return names->sizes[id - 1] == size &&
           memcmp (names->items[id - 1], data, size) == 0;
}

static int
s_names_grow (meshq_store_names_t *names)
{
    uint32_t slots = names->table ? (names->mask + 1) * 2 : 64;
    uint32_t *table = calloc (slots, sizeof *table);
    if (!table)
        return -1;
    for (uint32_t id = 1; id <= names->count; id++) {
        uint32_t i = meshq_store_hash_bytes (names->items[id - 1],
                                             names->sizes[id - 1]) &
                     (slots - 1);
        while (table[i])
            i = (i + 1) & (slots - 1);
        table[i] = id;
    }
    free (names->table);
    names->table = table;
    names->mask = slots - 1;
    return 0;
}

//  Returns the id of data, adding it if new; 0 if out of memory.
static uint32_t
s_names_intern (meshq_store_names_t *names, const void *data, uint32_t size)
{
    if (names->last && s_names_equal (names, names->last, data, size))
        return names->last;
    uint32_t hash = meshq_store_hash_bytes (data, size);
    if (names->table) {
        for (uint32_t i = hash & names->mask; names->table[i];
             i = (i + 1) & names->mask)
            if (s_names_equal (names, names->table[i], data, size))
                return names->last = names->table[i];
    }
    if ((names->count + 1) * 4 >= (names->table ? names->mask + 1 : 0) * 3 &&
        s_names_grow (names))
        return 0;
    if (names->count == names->capacity) {
        uint32_t capacity = names->capacity ? names->capacity * 2 : 16;
        char **items = realloc (names->items, capacity * sizeof *items);
        if (!items)
            return 0;
        names->items = items;
        uint32_t *sizes = realloc (names->sizes, capacity * sizeof *sizes);
        if (!sizes)
            return 0;
        names->sizes = sizes;
        names->capacity = capacity;
    }
    char *copy = malloc (size + 1);
    if (!copy)
        return 0;
    memcpy (copy, data, size);
    copy[size] = 0;
    names->items[names->count] = copy;
    names->sizes[names->count] = size;
    uint32_t id = ++names->count;
    uint32_t i = hash & names->mask;
    while (names->table[i])
        i = (i + 1) & names->mask;
    names->table[i] = id;
    return names->last = id;
}

uint32_t
meshq_store_queue_id (meshq_store_t *self, const char *name, uint32_t size)
{
    return s_names_intern (&self->queues, name, size);
}

uint32_t
meshq_store_origin_id (meshq_store_t *self, const uint8_t *origin)
{
    return s_names_intern (&self->origins, origin, 16);
}

const char *
meshq_store_queue_name (meshq_store_t *self, uint32_t id)
{
    assert (id && id <= self->queues.count);
    return self->queues.items[id - 1];
}

const uint8_t *
meshq_store_origin_bytes (meshq_store_t *self, uint32_t id)
{
    assert (id && id <= self->origins.count);
    return (const uint8_t *)self->origins.items[id - 1];
}

// --------------------------------------------------------------------
//  Entries

meshq_store_entry_t *
meshq_store_entry (meshq_store_t *self, uint32_t i)
{
    return &self->chunks[i / MESHQ_STORE_CHUNK][i % MESHQ_STORE_CHUNK];
}

static uint32_t
s_entry_new (meshq_store_t *self)
{
    if (self->free_entry) {
        uint32_t i = self->free_entry;
        self->free_entry = meshq_store_entry (self, i)->next;
        return i;
    }
    if (self->entry_count == 0)
        self->entry_count = 1;  //  0 means none.
    if (self->entry_count == UINT32_MAX)
        return 0;
    if (self->entry_count >= self->chunk_count * MESHQ_STORE_CHUNK) {
        meshq_store_entry_t **chunks =
            realloc (self->chunks, (self->chunk_count + 1) * sizeof *chunks);
        if (!chunks)
            return 0;
        self->chunks = chunks;
        chunks[self->chunk_count] =
            malloc (MESHQ_STORE_CHUNK * sizeof **chunks);
        if (!chunks[self->chunk_count])
            return 0;
        self->chunk_count++;
    }
    return self->entry_count++;
}

static void
s_link_tail (meshq_store_t *self, uint32_t i)
{
    meshq_store_entry_t *entry = meshq_store_entry (self, i);
    entry->next = 0;
    entry->prev = self->last;
    if (self->last) {
        meshq_store_entry_t *last = meshq_store_entry (self, self->last);
        if (last->ordinal > entry->ordinal)
            self->unsorted = true;  //  A copy whose original is gone.
        last->next = i;
    } else
        self->first = i;
    self->last = i;
}

static void
s_unlink (meshq_store_t *self, uint32_t i)
{
    meshq_store_entry_t *entry = meshq_store_entry (self, i);
    if (entry->prev)
        meshq_store_entry (self, entry->prev)->next = entry->next;
    else
        self->first = entry->next;
    if (entry->next)
        meshq_store_entry (self, entry->next)->prev = entry->prev;
    else
        self->last = entry->prev;
}

//  Returns the slot holding entry index i (which must be in the table).
static uint64_t
s_slot_of (meshq_store_t *self, uint32_t i, uint32_t hash)
{
    uint64_t slot = hash & self->mask;
    while ((uint32_t)(self->table[slot] >> 32) != i)
        slot = (slot + 1) & self->mask;
    return slot;
}

static int
s_table_grow (meshq_store_t *self)
{
    uint64_t slots = self->table ? (self->mask + 1) * 2 : 1024;
    uint64_t *table = calloc (slots, sizeof *table);
    if (!table)
        return -1;
    for (uint64_t s = 0; self->table && s <= self->mask; s++) {
        uint64_t value = self->table[s];
        if (!value)
            continue;
        uint64_t i = (uint32_t)value & (slots - 1);
        while (table[i])
            i = (i + 1) & (slots - 1);
        table[i] = value;
    }
    free (self->table);
    self->table = table;
    self->mask = slots - 1;
    return 0;
}

static uint32_t
s_find (meshq_store_t *self, uint32_t queue, uint32_t origin, uint64_t seq,
        uint32_t hash)
{
    if (!self->table)
        return 0;
    for (uint64_t s = hash & self->mask; self->table[s];
         s = (s + 1) & self->mask) {
        uint64_t value = self->table[s];
        if ((uint32_t)value != hash)
            continue;
        uint32_t i = (uint32_t)(value >> 32);
        meshq_store_entry_t *entry = meshq_store_entry (self, i);
        if (entry->seq == seq && entry->queue == queue &&
            entry->origin == origin)
            return i;
    }
    return 0;
}

uint32_t
meshq_store_find (meshq_store_t *self, uint32_t queue, uint32_t origin,
                  uint64_t seq)
{
    return s_find (self, queue, origin, seq, s_hash_key (queue, origin, seq));
}

void
meshq_store_prefetch (meshq_store_t *self, meshq_store_op_t *op)
{
    if (op->type == MESHQ_RECORD_META)
        return;
    op->hash = s_hash_key (op->queue, op->origin, op->seq);
    if (self->table)
        __builtin_prefetch (&self->table[op->hash & self->mask]);
}

//  Removes entry i from the table, shifting back the probes after it.
static void
s_table_remove (meshq_store_t *self, uint32_t i, uint32_t hash)
{
    uint64_t hole = s_slot_of (self, i, hash);
    uint64_t next = hole;
    for (;;) {
        next = (next + 1) & self->mask;
        uint64_t value = self->table[next];
        if (!value)
            break;
        uint64_t home = (uint32_t)value & self->mask;
        //  Move it back unless its home lies cyclically in (hole, next].
        bool stays = hole <= next ? (home > hole && home <= next)
                                  : (home > hole || home <= next);
        if (!stays) {
            self->table[hole] = value;
            hole = next;
        }
    }
    self->table[hole] = 0;
}

void
meshq_store_kill (meshq_store_t *self, uint64_t number, uint32_t size)
{
    meshq_store_segment_t *segment = meshq_store_segment (self, number);
    if (!segment)
        return;
    assert (segment->live >= size);
    segment->live -= size;
    segment->kill_lsn = self->written;
}

static int
s_apply_enqueue (meshq_store_t *self, meshq_store_op_t *op,
                 meshq_store_segment_t *segment)
{
    uint32_t i = s_find (self, op->queue, op->origin, op->seq, op->hash);
    meshq_store_entry_t *entry;
    if (i) {
        //  A newer record of a live message: a compaction copy (same
        //  ordinal), or the same id stored again (a new one).
        entry = meshq_store_entry (self, i);
        meshq_store_kill (self, entry->segment, entry->size);
        if (entry->ordinal != op->ordinal) {
            s_unlink (self, i);
            entry->ordinal = op->ordinal;
            s_link_tail (self, i);
        }
    } else {
        if ((self->live + 1) * 4 > (self->table ? self->mask + 1 : 0) * 3 &&
            s_table_grow (self))
            return MESHQ_ENOMEM;
        i = s_entry_new (self);
        if (!i)
            return MESHQ_ENOMEM;
        entry = meshq_store_entry (self, i);
        entry->seq = op->seq;
        entry->queue = op->queue;
        entry->origin = op->origin;
        entry->ordinal = op->ordinal;
        uint64_t s = op->hash & self->mask;
        while (self->table[s])
            s = (s + 1) & self->mask;
        self->table[s] = (uint64_t)i << 32 | op->hash;
        s_link_tail (self, i);
        self->live++;
    }
    entry->segment = (uint32_t)op->segment;
    entry->offset = op->offset;
    entry->size = op->size;
    segment->live += op->size;
    if (op->ordinal >= self->next_ordinal)
        self->next_ordinal = op->ordinal + 1;
    return 0;
}

static void
s_apply_ack (meshq_store_t *self, meshq_store_op_t *op,
             meshq_store_segment_t *segment)
{
    segment->acks += op->size;
    uint32_t i = s_find (self, op->queue, op->origin, op->seq, op->hash);
    if (!i) {
        if (!op->internal)
            self->stats.unmatched_acks++;
        return;
    }
    meshq_store_entry_t *entry = meshq_store_entry (self, i);
    meshq_store_kill (self, entry->segment, entry->size);
    s_table_remove (self, i, op->hash);
    s_unlink (self, i);
    entry->next = self->free_entry;
    self->free_entry = i;
    self->live--;
}

// --------------------------------------------------------------------
//  Applying records

int
meshq_store_apply (meshq_store_t *self, meshq_store_op_t *op)
{
    meshq_store_segment_t *segment = meshq_store_segment (self, op->segment);
    assert (segment);
    if (!op->hash && op->type != MESHQ_RECORD_META)
        op->hash = s_hash_key (op->queue, op->origin, op->seq);
    int rc = 0;
    switch (op->type) {
        case MESHQ_RECORD_ENQUEUE:
            rc = s_apply_enqueue (self, op, segment);
            break;
        case MESHQ_RECORD_ACK:
            s_apply_ack (self, op, segment);
            break;
        default:
            rc = meshq_store_meta_apply (self, op, segment);
            break;
    }
    free (op->key);
    free (op->value);
    op->key = NULL;
    op->value = NULL;
    return rc;
}

//  Merges two ascending lists linked by next; returns the head and sets
//  *tail.
static uint32_t
s_merge (meshq_store_t *self, uint32_t a, uint32_t b, uint32_t *tail)
{
    uint32_t head = 0, last = 0;
    while (a || b) {
        uint32_t take;
        if (!b || (a && meshq_store_entry (self, a)->ordinal <=
                            meshq_store_entry (self, b)->ordinal)) {
            take = a;
            a = meshq_store_entry (self, a)->next;
        } else {
            take = b;
            b = meshq_store_entry (self, b)->next;
        }
        if (last)
            meshq_store_entry (self, last)->next = take;
        else
            head = take;
        last = take;
    }
    if (last)
        meshq_store_entry (self, last)->next = 0;
    *tail = last;
    return head;
}

//  Cuts the ascending run starting at head off the list; returns the
//  head of the rest.
static uint32_t
s_cut_run (meshq_store_t *self, uint32_t head)
{
    meshq_store_entry_t *entry = meshq_store_entry (self, head);
    while (entry->next &&
           meshq_store_entry (self, entry->next)->ordinal >= entry->ordinal)
        entry = meshq_store_entry (self, entry->next);
    uint32_t rest = entry->next;
    entry->next = 0;
    return rest;
}

void
meshq_store_index_sort (meshq_store_t *self)
{
    if (!self->unsorted)
        return;
    //  Natural merge sort: the list is a few long ascending runs (one
    //  per compaction that moved records), so this is a few passes.
    for (;;) {
        uint32_t rest = self->first;
        uint32_t head = 0, tail = 0;
        int merges = 0;
        while (rest) {
            uint32_t a = rest;
            rest = s_cut_run (self, a);
            uint32_t b = rest;
            if (b)
                rest = s_cut_run (self, b);
            uint32_t merged_tail;
            uint32_t merged = s_merge (self, a, b, &merged_tail);
            if (tail)
                meshq_store_entry (self, tail)->next = merged;
            else
                head = merged;
            tail = merged_tail;
            merges++;
        }
        self->first = head;
        if (merges <= 1)
            break;
    }
    uint32_t prev = 0;
    for (uint32_t i = self->first; i; i = meshq_store_entry (self, i)->next) {
        meshq_store_entry (self, i)->prev = prev;
        prev = i;
    }
    self->last = prev;
    self->unsorted = false;
}

//  Entries ever handed out past which an empty index is given back.
#define S_SHRINK_ENTRIES 4096

void
meshq_store_index_shrink (meshq_store_t *self)
{
    //  Only an empty index, whose slab and table hold nothing: a backlog
    //  that drained would otherwise keep them (about 64 bytes a message
    //  at its peak) for good.
    if (self->live || self->entry_count < S_SHRINK_ENTRIES)
        return;
    for (uint32_t c = 0; c < self->chunk_count; c++)
        free (self->chunks[c]);
    free (self->chunks);
    self->chunks = NULL;
    self->chunk_count = 0;
    self->entry_count = 0;
    self->free_entry = 0;
    free (self->table);
    self->table = NULL;
    self->mask = 0;
    self->first = self->last = 0;
    self->unsorted = false;
}

void
meshq_store_index_fini (meshq_store_t *self)
{
    s_names_fini (&self->queues);
    s_names_fini (&self->origins);
    for (uint32_t c = 0; c < self->chunk_count; c++)
        free (self->chunks[c]);
    free (self->chunks);
    self->chunks = NULL;
    self->chunk_count = 0;
    self->entry_count = 0;
    self->free_entry = 0;
    free (self->table);
    self->table = NULL;
    self->mask = 0;
    self->live = 0;
    self->first = self->last = 0;
    meshq_store_meta_fini (self);
}
