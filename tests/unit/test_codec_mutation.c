/*  test_codec_mutation.c - 200,000 randomly mutated envelopes.

    Each case takes a valid encoding and damages it: flipped bits, bytes
    set to msgpack's boundary values, bytes inserted, deleted or
    duplicated, a truncation. The decoder must never crash (the ASan
    build also proves it never leaks or reads out of bounds), must give a
    reason whenever it refuses, and must never accept a frame whose
    re-encoding differs from it. Set MESHQ_SEED to replay a run.
*/
#include "codec.h"
#include "testutil.h"

#include <criterion/criterion.h>

#define S_CASES 200000
#define S_MAX   4096

//  Valid envelopes to start from.
static size_t
s_seeds (uint8_t seeds[][S_MAX], size_t *sizes)
{
    const char *vectors[] = {"minimal", "hello", "full", "unicode",
                             "unknown_key"};
    size_t count = 0;
    for (size_t i = 0; i < 5; i++) {
        sizes[count] = testutil_vector (vectors[i], seeds[count], S_MAX);
        cr_assert_gt (sizes[count], 0);
        count++;
    }
    //  One with many headers and a longer body.
    meshq_msg_t *msg = meshq_msg_new ();
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf (key, sizeof key, "h%d", i);
        meshq_msg_set_header_int (msg, key, (int64_t)i * 1000 - 5000);
    }
    meshq_msg_set_body (msg, "0123456789abcdef0123456789abcdef", 32);
    meshq_msg_set_priority (msg, 5);
    meshq_msg_set_expiration (msg, 70000);
    uint8_t *data;
    meshq_msg_encode (msg, &data, &sizes[count]);
    memcpy (seeds[count], data, sizes[count]);
    count++;
    free (data);
    meshq_msg_destroy (&msg);
    return count;
}

static const uint8_t s_interesting[] = {
    0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc4,
    0xc6, 0xcc, 0xcf, 0xd0, 0xd3, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff};

//  Applies one random mutation to data in place.
static size_t
s_mutate (uint8_t *data, size_t size, uint64_t *rng)
{
    uint64_t r = testutil_random (rng);
    size_t at = size ? (size_t)(r >> 8) % size : 0;
    switch (r % 7) {
        case 0:  //  Flip one bit.
            if (size)
                data[at] ^= (uint8_t)(1u << ((r >> 40) % 8));
            return size;
        case 1:  //  Boundary byte.
            if (size)
                data[at] = s_interesting[(r >> 40) % sizeof s_interesting];
            return size;
        case 2:  //  Random byte.
            if (size)
                data[at] = (uint8_t)(r >> 48);
            return size;
        case 3:  //  Insert a byte.
            if (size >= S_MAX)
                return size;
            memmove (data + at + 1, data + at, size - at);
            data[at] = (uint8_t)(r >> 48);
            return size + 1;
        case 4:  //  Delete a byte.
            if (!size)
                return size;
            memmove (data + at, data + at + 1, size - at - 1);
            return size - 1;
        case 5: {  //  Duplicate a short run.
            size_t run = 1 + (r >> 40) % 8;
            if (at + run > size || size + run > S_MAX)
                return size;
            memmove (data + at + run, data + at, size - at);
            return size + run;
        }
        default:  //  Truncate.
            return at;
    }
}

Test (codec_mutation, never_accepts_a_frame_that_reencodes_differently)
{
    static uint8_t seeds[8][S_MAX];
    size_t sizes[8];
    size_t n_seeds = s_seeds (seeds, sizes);
    uint64_t rng = testutil_seed ("codec_mutation");
    static uint8_t frame[S_MAX];
    size_t accepted = 0, refused = 0;
    for (int i = 0; i < S_CASES; i++) {
        size_t which = testutil_random (&rng) % n_seeds;
        size_t size = sizes[which];
        memcpy (frame, seeds[which], size);
        int mutations = 1 + (int)(testutil_random (&rng) % 4);
        for (int m = 0; m < mutations; m++)
            size = s_mutate (frame, size, &rng);

        meshq_envelope_t envelope;
        const char *why = NULL;
        int rc =
            meshq_codec_decode_envelope (frame, size, 1 << 20, &envelope, &why);
        if (rc) {
            cr_assert_lt (rc, 0);
            cr_assert_not_null (why, "case %d: refused without a reason", i);
            refused++;
            continue;
        }
        accepted++;
        meshq_msg_t *msg = NULL;
        cr_assert_eq (meshq_msg_decode (frame, size, 1 << 20, &msg, NULL), 0);
        uint8_t *again;
        size_t again_size;
        cr_assert_eq (meshq_msg_encode (msg, &again, &again_size), 0);
        cr_assert_eq (again_size, size,
                      "case %d: accepted frame of %zu "
                      "bytes re-encodes to %zu",
                      i, size, again_size);
        cr_assert_eq (memcmp (again, frame, size), 0,
                      "case %d: accepted frame re-encodes differently", i);
        free (again);
        meshq_msg_destroy (&msg);
    }
    fprintf (stderr, "codec_mutation: %d cases, %zu accepted, %zu refused\n",
             S_CASES, accepted, refused);
    //  Both outcomes must occur, or the mutations test nothing.
    cr_expect_gt (accepted, 1000);
    cr_expect_gt (refused, 100000);
}
