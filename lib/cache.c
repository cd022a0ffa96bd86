/*  cache.c - small blocks kept for reuse per thread. See cache.h.

    Sizes are rounded up to a multiple of S_UNIT; blocks up to S_LARGEST
    bytes are kept, one free list a size, at most S_KEEP_BYTES a thread.
    The lists hang from a thread-specific key whose destructor frees
    them when the thread ends.
*/
#include "cache.h"

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define S_UNIT       128
#define S_LARGEST    4096
#define S_CLASSES    (S_LARGEST / S_UNIT)
#define S_KEEP_BYTES (2 * 1024 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define S_PASS_THROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_PASS_THROUGH 1
#endif
#endif

//  A free block: the link lives in the block itself.
typedef struct _s_block_t {
    struct _s_block_t *next;
} s_block_t;

typedef struct {
    s_block_t *free[S_CLASSES];  //  Free blocks, by size class.
    size_t bytes;                //  Bytes kept in all of them.
} s_lists_t;

#ifndef S_PASS_THROUGH
static pthread_key_t s_key;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static __thread s_lists_t *s_mine;

static void
s_lists_destroy (void *arg)
{
    s_lists_t *lists = arg;
    for (int i = 0; i < S_CLASSES; i++)
        while (lists->free[i]) {
            s_block_t *block = lists->free[i];
            lists->free[i] = block->next;
            free (block);
        }
    free (lists);
    s_mine = NULL;
}

static void
s_key_create (void)
{
    int rc = pthread_key_create (&s_key, s_lists_destroy);
    assert (rc == 0);
    (void)rc;
}

//  This thread's lists, made at first use.
static s_lists_t *
s_lists (void)
{
    if (!s_mine) {
        pthread_once (&s_once, s_key_create);
        s_mine = calloc (1, sizeof *s_mine);
        assert (s_mine);
        pthread_setspecific (s_key, s_mine);
    }
    return s_mine;
}
#endif

size_t
meshq_cache_capacity (size_t size)
{
    return size ? (size + S_UNIT - 1) / S_UNIT * S_UNIT : S_UNIT;
}

void *
meshq_cache_alloc (size_t size, size_t *capacity)
{
    assert (capacity);
    size_t rounded = meshq_cache_capacity (size);
#ifndef S_PASS_THROUGH
    if (rounded <= S_LARGEST) {
        s_lists_t *lists = s_lists ();
        size_t class = rounded / S_UNIT - 1;
        s_block_t *block = lists->free[class];
        if (block) {
            lists->free[class] = block->next;
            lists->bytes -= rounded;
            *capacity = rounded;
            return block;
        }
    }
#endif
    void *block = malloc (rounded);
    *capacity = rounded;
    return block;
}

void
meshq_cache_free (void *block, size_t capacity)
{
    if (!block)
        return;
#ifndef S_PASS_THROUGH
    if (capacity >= S_UNIT && capacity <= S_LARGEST && capacity % S_UNIT == 0) {
        s_lists_t *lists = s_lists ();
        if (lists->bytes + capacity <= S_KEEP_BYTES) {
            size_t class = capacity / S_UNIT - 1;
            s_block_t *link = block;
            link->next = lists->free[class];
            lists->free[class] = link;
            lists->bytes += capacity;
            return;
        }
    }
#else
    (void)capacity;
#endif
    free (block);
}

void
meshq_cache_trim (void)
{
#ifndef S_PASS_THROUGH
    if (s_mine) {
        for (int i = 0; i < S_CLASSES; i++)
            while (s_mine->free[i]) {
                s_block_t *block = s_mine->free[i];
                s_mine->free[i] = block->next;
                free (block);
            }
        s_mine->bytes = 0;
    }
#endif
}
