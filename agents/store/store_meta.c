/*  store_meta.c - the store's metadata keys: each key's winning record.

    Mesh metadata (queues, exchanges, bindings, users...) is a set of
    versioned keys. The highest version of a key wins, and of equal
    versions the last appended, so that a record copied forward by
    compaction (same version) takes over from its original. A tombstone
    (no value) that wins is kept like a value: it is what stops an older
    version, still in the log or arriving late, from coming back. Values
    are kept in memory (at most 1 MiB each), so foreach reads none of
    them from disk.
*/
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

meshq_store_meta_t *
meshq_store_meta_find (meshq_store_t *self, const char *key, uint32_t size)
{
    if (!self->meta_table)
        return NULL;
    uint32_t hash = meshq_store_hash_bytes (key, size);
    for (uint32_t s = hash & self->meta_mask; self->meta_table[s];
         s = (s + 1) & self->meta_mask) {
        meshq_store_meta_t *meta = &self->metas[self->meta_table[s] - 1];
        if (meta->key_size == size && memcmp (meta->key, key, size) == 0)
            return meta;
    }
    return NULL;
}

static int
s_meta_grow (meshq_store_t *self)
{
    uint32_t slots = self->meta_table ? (self->meta_mask + 1) * 2 : 64;
    uint32_t *table = calloc (slots, sizeof *table);
    if (!table)
        return -1;
    for (uint32_t m = 0; m < self->meta_count; m++) {
        uint32_t s = meshq_store_hash_bytes (self->metas[m].key,
                                             self->metas[m].key_size) &
                     (slots - 1);
        while (table[s])
            s = (s + 1) & (slots - 1);
        table[s] = m + 1;
    }
    free (self->meta_table);
    self->meta_table = table;
    self->meta_mask = slots - 1;
    return 0;
}

int
meshq_store_meta_apply (meshq_store_t *self, meshq_store_op_t *op,
                        meshq_store_segment_t *segment)
{
    meshq_store_meta_t *meta =
        meshq_store_meta_find (self, op->key, op->key_size);
    if (meta && op->version < meta->version)
        return 0;  //  Stale: dead as soon as written.
    if (!meta) {
        if ((self->meta_count + 1) * 4 >=
                (self->meta_table ? self->meta_mask + 1 : 0) * 3 &&
            s_meta_grow (self))
            return MESHQ_ENOMEM;
        if (self->meta_count == self->meta_capacity) {
            uint32_t capacity =
                self->meta_capacity ? self->meta_capacity * 2 : 16;
            meshq_store_meta_t *metas =
                realloc (self->metas, capacity * sizeof *metas);
            if (!metas)
                return MESHQ_ENOMEM;
            self->metas = metas;
            self->meta_capacity = capacity;
        }
        meta = &self->metas[self->meta_count++];
        memset (meta, 0, sizeof *meta);
        meta->key = op->key;
        meta->key_size = op->key_size;
        op->key = NULL;
        uint32_t s = meshq_store_hash_bytes (meta->key, meta->key_size) &
                     self->meta_mask;
        while (self->meta_table[s])
            s = (s + 1) & self->meta_mask;
        self->meta_table[s] = self->meta_count;
    } else {
        meshq_store_kill (self, meta->segment, meta->rsize);
        free (meta->value);
    }
    meta->version = op->version;
    meta->value = op->value;
    meta->size = op->value_size;
    op->value = NULL;
    meta->segment = (uint32_t)op->segment;
    meta->offset = op->offset;
    meta->rsize = op->size;
    segment->live += op->size;
    return 0;
}

void
meshq_store_meta_fini (meshq_store_t *self)
{
    for (uint32_t m = 0; m < self->meta_count; m++) {
        free (self->metas[m].key);
        free (self->metas[m].value);
    }
    free (self->metas);
    free (self->meta_table);
    self->metas = NULL;
    self->meta_table = NULL;
    self->meta_count = self->meta_capacity = 0;
    self->meta_mask = 0;
}
