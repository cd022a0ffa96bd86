/*  overlay.h - which members an agent links to in a mesh past
    full_links: a pick every agent makes alike from the same membership.

    Pure: ids in, ids out, no clock, no socket (tests/unit/test_overlay.c).
*/
#ifndef MESHQ_OVERLAY_H_INCLUDED
#define MESHQ_OVERLAY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Most members an overlay of a ring of up to 2^32 holds: 1, 4, 16, ...
//  places after us and before us.
#define MESHQ_OVERLAY_MAX 32

//  Sorts ids (n of them, me among them) and writes to out (room for
//  MESHQ_OVERLAY_MAX), sorted, the members 1, 4, 16, 64, ... places
//  after me and as many before me, around the ring, each once. Symmetric: b
//  is in a's overlay exactly when a is in b's, given the same ids.
//  Returns how many; 0 if me is not among ids.
size_t meshq_overlay_pick (uint8_t (*ids)[16], size_t n, const uint8_t me[16],
                           uint8_t (*out)[16]);

#endif
