/*  fuzz.h - what the libFuzzer targets of tests/fuzz share.

    The entry point that libFuzzer calls, and replay.c too when ctest
    replays a target's corpus, and the check that aborts when a decoder
    breaks its promise, which both of them report.
*/
#ifndef MESHQ_FUZZ_H_INCLUDED
#define MESHQ_FUZZ_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Aborts unless condition holds.
static inline void
fuzz_check (bool condition)
{
    if (!condition)
        abort ();
}

#endif
