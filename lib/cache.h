/*  cache.h - small blocks kept for reuse by the thread that freed them.

    A consumer makes a delivery and a decoded message for every message
    it takes, and frees them as the application is done with them; in
    batches of up to a prefetch, so glibc gave the freed top of the
    thread's heap back to the system and faulted it in again for the
    next batch (a third of a consumer's time in a profile). Blocks freed
    here wait, per thread and up to a bound, for the next allocation of
    their size class on that thread. A block may be freed on any thread.
    Built with AddressSanitizer, every call goes to malloc and free.
*/
#ifndef MESHQ_CACHE_H_INCLUDED
#define MESHQ_CACHE_H_INCLUDED

#include <stddef.h>

//  Returns a block of at least size bytes (not zeroed) and sets
//  *capacity to its size, which meshq_cache_free needs; NULL if memory
//  is exhausted.
void *meshq_cache_alloc (size_t size, size_t *capacity);

//  The capacity meshq_cache_alloc gives a block of size bytes.
size_t meshq_cache_capacity (size_t size);

//  Frees a block that meshq_cache_alloc returned with this capacity:
//  kept for reuse by this thread, or given back to malloc. NULL-safe.
void meshq_cache_free (void *block, size_t capacity);

//  Frees the blocks this thread keeps (for a process giving memory back).
void meshq_cache_trim (void);

#endif
