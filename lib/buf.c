/*  buf.c - a growable byte buffer. See buf.h. */
#include "buf.h"
#include "meshq.h"

#include <stdlib.h>

void
meshq_buf_init (meshq_buf_t *self)
{
    self->data = NULL;
    self->size = 0;
    self->capacity = 0;
}

void
meshq_buf_fini (meshq_buf_t *self)
{
    free (self->data);
    meshq_buf_init (self);
}

void
meshq_buf_reset (meshq_buf_t *self)
{
    self->size = 0;
}

int
meshq_buf_reserve (meshq_buf_t *self, size_t extra)
{
    if (extra > SIZE_MAX - self->size)
        return MESHQ_ENOMEM;
    size_t needed = self->size + extra;
    if (needed <= self->capacity)
        return 0;
    size_t capacity = self->capacity ? self->capacity : 256;
    while (capacity < needed)
        capacity = capacity > SIZE_MAX / 2 ? needed : capacity * 2;
    uint8_t *data = realloc (self->data, capacity);
    if (!data)
        return MESHQ_ENOMEM;
    self->data = data;
    self->capacity = capacity;
    return 0;
}

int
meshq_buf_append_slow (meshq_buf_t *self, const void *data, size_t size)
{
    if (size == 0)
        return 0;
    int rc = meshq_buf_reserve (self, size);
    if (rc)
        return rc;
    memcpy (self->data + self->size, data, size);
    self->size += size;
    return 0;
}

uint8_t *
meshq_buf_detach (meshq_buf_t *self, size_t *size)
{
    uint8_t *data = self->data;
    *size = self->size;
    meshq_buf_init (self);
    return data;
}
