/*  map64.h - a hash map from 64-bit keys to pointers.

    The agent looks up deliveries by tag and store completions by
    ticket on every ack and every commit; this open-addressing map does
    that without allocating per entry. Key 0 is reserved (empty slot).
*/
#ifndef MESHQ_MAP64_H_INCLUDED
#define MESHQ_MAP64_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _meshq_map64_t meshq_map64_t;

meshq_map64_t *meshq_map64_new (void);
void meshq_map64_destroy (meshq_map64_t **self_p);

//  Sets key (not 0) to value, replacing any value it had.
void meshq_map64_insert (meshq_map64_t *self, uint64_t key, void *value);

//  Returns the value of key, or NULL.
void *meshq_map64_lookup (const meshq_map64_t *self, uint64_t key);

//  Removes key and returns its value, or NULL if it was not there.
void *meshq_map64_delete (meshq_map64_t *self, uint64_t key);

//  Number of keys.
size_t meshq_map64_size (const meshq_map64_t *self);

#endif
