/*  map64.c - a hash map from 64-bit keys to pointers. See map64.h.

    Linear probing with backward-shift deletion, so no tombstones build
    up under the steady insert/delete churn of deliveries and acks.
*/
#include "map64.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct {
    uint64_t key;  //  0 when the slot is empty.
    void *value;   //  The value.
} s_slot_t;

struct _meshq_map64_t {
    s_slot_t *slots;  //  capacity slots.
    size_t capacity;  //  A power of two.
    size_t size;      //  Keys held.
};

static size_t
s_hash (uint64_t key, size_t mask)
{
    //  Keys are often sequential; mix them (splitmix64's finaliser).
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return (size_t)key & mask;
}

meshq_map64_t *
meshq_map64_new (void)
{
    meshq_map64_t *self = calloc (1, sizeof *self);
    assert (self);
    self->capacity = 64;
    self->slots = calloc (self->capacity, sizeof *self->slots);
    assert (self->slots);
    return self;
}

void
meshq_map64_destroy (meshq_map64_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->slots);
    free (*self_p);
    *self_p = NULL;
}

static void
s_grow (meshq_map64_t *self)
{
    s_slot_t *old = self->slots;
    size_t old_capacity = self->capacity;
    self->capacity *= 2;
    self->slots = calloc (self->capacity, sizeof *self->slots);
    assert (self->slots);
    self->size = 0;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].key)
            meshq_map64_insert (self, old[i].key, old[i].value);
    free (old);
}

void
meshq_map64_insert (meshq_map64_t *self, uint64_t key, void *value)
{
    assert (key);
    if ((self->size + 1) * 4 > self->capacity * 3)
        s_grow (self);
    size_t mask = self->capacity - 1;
    size_t i = s_hash (key, mask);
    while (self->slots[i].key && self->slots[i].key != key)
        i = (i + 1) & mask;
    if (!self->slots[i].key)
        self->size++;
    self->slots[i].key = key;
    self->slots[i].value = value;
}

void *
meshq_map64_lookup (const meshq_map64_t *self, uint64_t key)
{
    if (!key)
        return NULL;
    size_t mask = self->capacity - 1;
    size_t i = s_hash (key, mask);
    while (self->slots[i].key) {
        if (self->slots[i].key == key)
            return self->slots[i].value;
        i = (i + 1) & mask;
    }
    return NULL;
}

void *
meshq_map64_delete (meshq_map64_t *self, uint64_t key)
{
    if (!key)
        return NULL;
    size_t mask = self->capacity - 1;
    size_t i = s_hash (key, mask);
    while (self->slots[i].key && self->slots[i].key != key)
        i = (i + 1) & mask;
    if (!self->slots[i].key)
        return NULL;
    void *value = self->slots[i].value;
    //  Shift later entries of the run back so lookups still find them.
    size_t hole = i;
    size_t j = (i + 1) & mask;
    while (self->slots[j].key) {
        size_t home = s_hash (self->slots[j].key, mask);
        //  Move j into the hole unless its home lies in (hole, j].
        bool stays =
            hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            self->slots[hole] = self->slots[j];
            hole = j;
        }
        j = (j + 1) & mask;
    }
    self->slots[hole].key = 0;
    self->slots[hole].value = NULL;
    self->size--;
    return value;
}

size_t
meshq_map64_size (const meshq_map64_t *self)
{
    return self->size;
}
