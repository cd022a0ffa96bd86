/*  buf.h - a growable byte buffer.

    Encoders append to a meshq_buf_t; callers reuse one buffer across
    messages (meshq_buf_reset keeps the capacity), so the hot path does
    not allocate per message once the buffer has grown to its working size.
*/
#ifndef MESHQ_BUF_H_INCLUDED
#define MESHQ_BUF_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint8_t *data;    //  Owned storage, or NULL while empty.
    size_t size;      //  Bytes in use.
    size_t capacity;  //  Bytes allocated.
} meshq_buf_t;

//  Initialises an empty buffer (no allocation).
void meshq_buf_init (meshq_buf_t *self);

//  Frees the storage and empties the buffer.
void meshq_buf_fini (meshq_buf_t *self);

//  Empties the buffer and keeps its storage.
void meshq_buf_reset (meshq_buf_t *self);

//  Makes room for at least extra more bytes. Returns 0 or MESHQ_ENOMEM.
int meshq_buf_reserve (meshq_buf_t *self, size_t extra);

//  Appends size bytes, growing the buffer first. Returns 0 or
//  MESHQ_ENOMEM. meshq_buf_append calls it when there is no room.
int meshq_buf_append_slow (meshq_buf_t *self, const void *data, size_t size);

//  Appends size bytes. Returns 0 or MESHQ_ENOMEM. Inline: encoders call
//  it for every key and value.
static inline int
meshq_buf_append (meshq_buf_t *self, const void *data, size_t size)
{
    if (size <= self->capacity - self->size) {
        if (size)
            memcpy (self->data + self->size, data, size);
        self->size += size;
        return 0;
    }
    return meshq_buf_append_slow (self, data, size);
}

//  Gives the storage to the caller (free () it) and empties the buffer.
uint8_t *meshq_buf_detach (meshq_buf_t *self, size_t *size);

#endif
