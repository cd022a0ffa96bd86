/*  overlay.c - the members an agent links to past full_links. See
    overlay.h.

    Distances 1, 4, 16, ... both ways around the sorted ring: b is d
    places after a exactly when a is d places before b, so both ends of
    a pair pick each other and a link one opens is one the other keeps.
    About log2(n) picks (8 at 256, 10 at 1,000), and any member is at
    most about log2(n) hops away (6 at 256, 7 at 1,000). Powers of two
    gave 15 picks at 256 for 4 hops: each link is a TCP connection both
    ways and some 75 kB of libzmq, and opening 15 an agent was most of
    a large mesh's work in the minute after its start; metadata crosses
    two more hops in milliseconds.
*/
#include "overlay.h"

#include <stdlib.h>
#include <string.h>

static int
s_compare_id (const void *a, const void *b)
{
    return memcmp (a, b, 16);
}

size_t
meshq_overlay_pick (uint8_t (*ids)[16], size_t n, const uint8_t me[16],
                    uint8_t (*out)[16])
{
    qsort (ids, n, 16, s_compare_id);
    uint8_t (*found)[16] = bsearch (me, ids, n, 16, s_compare_id);
    if (!found || n < 2)
        return 0;
    size_t at = (size_t)(found - ids), count = 0;
    for (size_t step = 1; step < n && count + 2 <= MESHQ_OVERLAY_MAX;
         step *= 4) {
        memcpy (out[count++], ids[(at + step) % n], 16);
        memcpy (out[count++], ids[(at + n - step) % n], 16);
    }
    //  Sorted, each once (both ways may reach one member).
    qsort (out, count, 16, s_compare_id);
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        if (kept == 0 || memcmp (out[kept - 1], out[i], 16) != 0)
            memmove (out[kept++], out[i], 16);
    return kept;
}
