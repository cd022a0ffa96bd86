/*  test_overlay.c - the members an agent links to past full_links: both
    ends of a pair pick each other, every agent picks a few, and the
    picks join every member.
*/
#include "overlay.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX 300

static uint8_t s_ids[S_MAX][16];

//  n made-up ids, in no order.
static void
s_make (size_t n, unsigned seed)
{
    srand (seed);
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 16; b++)
            s_ids[i][b] = (uint8_t)rand ();
}

//  Whether member b is in member a's overlay among the n ids.
static bool
s_picks (size_t n, size_t a, size_t b)
{
    static uint8_t view[S_MAX][16], out[MESHQ_OVERLAY_MAX][16];
    memcpy (view, s_ids, n * 16);
    size_t count = meshq_overlay_pick (view, n, s_ids[a], out);
    for (size_t i = 0; i < count; i++)
        if (memcmp (out[i], s_ids[b], 16) == 0)
            return true;
    return false;
}

Test (overlay, both_ends_of_a_pair_pick_each_other)
{
    size_t sizes[] = {2, 3, 5, 10, 17, 64, 100, 256};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        s_make (n, (unsigned)n);
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b < n; b++)
                if (a != b)
                    cr_assert_eq (s_picks (n, a, b), s_picks (n, b, a),
                                  "n=%zu: %zu picks %zu but not back", n, a, b);
    }
}

Test (overlay, each_agent_picks_about_log2_n_members_not_itself)
{
    size_t n = 256;
    s_make (n, 7);
    static uint8_t view[S_MAX][16], out[MESHQ_OVERLAY_MAX][16];
    for (size_t a = 0; a < n; a++) {
        memcpy (view, s_ids, n * 16);
        size_t count = meshq_overlay_pick (view, n, s_ids[a], out);
        //  1, 4, 16 and 64 places after and before.
        cr_assert_eq (count, 8);
        for (size_t i = 0; i < count; i++) {
            cr_assert_neq (memcmp (out[i], s_ids[a], 16), 0);
            if (i)
                cr_assert_lt (memcmp (out[i - 1], out[i], 16), 0);
        }
    }
}

//  From member 0, every member, within hops of it.
static void
s_reach (size_t n, unsigned seed, size_t hops)
{
    s_make (n, seed);
    bool reached[S_MAX] = {true};
    size_t queue[S_MAX] = {0}, depth[S_MAX] = {0}, head = 0, tail = 1;
    while (head < tail) {
        size_t a = queue[head++];
        for (size_t b = 0; b < n; b++)
            if (!reached[b] && b != a && s_picks (n, a, b)) {
                reached[b] = true;
                depth[tail] = depth[head - 1] + 1;
                queue[tail++] = b;
            }
    }
    cr_assert_eq (tail, n, "%zu of %zu members reached", tail, n);
    cr_assert_leq (depth[tail - 1], hops, "n=%zu: a member %zu hops away", n,
                   depth[tail - 1]);
}

Test (overlay, the_picks_join_every_member_within_a_few_hops)
{
    s_reach (100, 3, 4);
    s_reach (256, 5, 6);
}

Test (overlay, a_member_not_among_the_ids_picks_nothing)
{
    s_make (10, 1);
    static uint8_t out[MESHQ_OVERLAY_MAX][16];
    uint8_t stranger[16];
    memset (stranger, 0xee, 16);
    cr_assert_eq (meshq_overlay_pick (s_ids, 10, stranger, out), 0);
    cr_assert_eq (meshq_overlay_pick (s_ids, 1, s_ids[0], out), 0);
}
