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

//  A script: what is left of an input that a target reads a step at a
//  time, each step a byte naming it and the bytes of its operands.
typedef struct {
    const uint8_t *data;  //  What is left.
    size_t size;
} fuzz_script_t;

//  The next byte of the script, or 0 past its end.
static inline uint8_t
fuzz_byte (fuzz_script_t *script)
{
    if (script->size == 0)
        return 0;
    script->size--;
    return *script->data++;
}

//  Takes up to want bytes of the script into *bytes; returns how many.
static inline size_t
fuzz_take (fuzz_script_t *script, size_t want, const uint8_t **bytes)
{
    size_t got = want < script->size ? want : script->size;
    *bytes = script->data;
    script->data += got;
    script->size -= got;
    return got;
}

#endif
