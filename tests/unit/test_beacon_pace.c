/*  test_beacon_pace.c - when an agent beacons, on a made-up clock: fast
    while it has no peer up, backing off once joined, fast again when
    its view changes.
*/
#include "beacon_pace.h"

#include <criterion/criterion.h>

#define S_FAST 250
#define S_SLOW 8000

static meshq_beacon_pace_t s_pace;

//  Runs the fast timer from now to until, as the agent does; returns
//  how many beacons went, and the times of the first 64 in sent.
static int
s_run (int64_t now, int64_t until, bool joined, int64_t *sent)
{
    int count = 0;
    for (; now < until; now += S_FAST)
        if (meshq_beacon_pace_due (&s_pace, now)) {
            if (sent && count < 64)
                sent[count] = now;
            count++;
            meshq_beacon_pace_sent (&s_pace, joined, now);
        }
    return count;
}

Test (beacon_pace, an_agent_alone_beacons_every_fast_interval)
{
    meshq_beacon_pace_init (&s_pace, S_FAST, S_SLOW, 0);
    cr_assert (meshq_beacon_pace_due (&s_pace, 0));
    cr_assert_eq (s_run (0, 60000, false, NULL), 60000 / S_FAST);
}

Test (beacon_pace, a_joined_agent_doubles_its_interval_up_to_the_slow_one)
{
    meshq_beacon_pace_init (&s_pace, S_FAST, S_SLOW, 0);
    int64_t sent[64];
    int count = s_run (0, 40000, true, sent);
    //  0, then 500, 1000, 2000, 4000, 8000 apart, then 8000 each.
    int64_t expect[] = {0, 500, 1500, 3500, 7500, 15500, 23500, 31500, 39500};
    cr_assert_eq (count, 9);
    for (int i = 0; i < count; i++)
        cr_expect_eq (sent[i], expect[i], "beacon %d at %lld", i,
                      (long long)sent[i]);
    //  A minute joined costs a few beacons, not 240.
    cr_assert_lt (s_run (40000, 100000, true, NULL), 10);
}

Test (beacon_pace, an_agent_whose_last_peer_went_beacons_fast_again)
{
    meshq_beacon_pace_init (&s_pace, S_FAST, S_SLOW, 0);
    s_run (0, 40000, true, NULL);
    //  Without a reset (its peers went, no beacon heard), the next
    //  beacon after the slow one is fast again.
    int64_t sent[64];
    int count = s_run (40000, 60000, false, sent);
    cr_assert_gt (count, 40);
    cr_expect_eq (sent[1] - sent[0], S_FAST);
}

Test (beacon_pace, a_timer_a_little_early_skips_no_interval)
{
    meshq_beacon_pace_init (&s_pace, S_FAST, S_SLOW, 0);
    meshq_beacon_pace_sent (&s_pace, true, 0);
    //  Due at 500: a tick at 490 sends it.
    cr_assert_not (meshq_beacon_pace_due (&s_pace, 240));
    cr_assert (meshq_beacon_pace_due (&s_pace, 490));
}

Test (beacon_pace, a_slow_interval_below_the_fast_one_means_no_back_off)
{
    meshq_beacon_pace_init (&s_pace, S_FAST, 100, 0);
    cr_assert_eq (s_run (0, 10000, true, NULL), 10000 / S_FAST);
}

Test (beacon_pace, a_large_mesh_sends_about_as_many_beacons_as_a_small_one)
{
    //  One agent of 4 beacons every slow interval once settled; one of
    //  256 every 64 of them, so that the 256 together send about what
    //  4 do (every agent hears every beacon).
    int sent[2];
    uint32_t sizes[2] = {3, 255};
    for (int i = 0; i < 2; i++) {
        meshq_beacon_pace_init (&s_pace, S_FAST, S_SLOW, 0);
        meshq_beacon_pace_members (&s_pace, sizes[i]);
        s_run (0, 1200000, true, NULL);
        sent[i] = s_run (1200000, 4800000, true, NULL);
    }
    cr_assert_eq (sent[0], 3600000 / S_SLOW);
    cr_assert_lt (sent[1] * 256, sent[0] * 4 * 2,
                  "the mesh of 256 sends %d x 256 beacons, of 4 %d x 4",
                  sent[1], sent[0]);
    cr_assert_gt (sent[1], 0);
    //  Joined to a large mesh, an agent waits the longest interval at
    //  once: one beacon within it, not the doubling's five.
    meshq_beacon_pace_init (&s_pace, S_FAST, S_SLOW, 0);
    meshq_beacon_pace_members (&s_pace, 255);
    int first =
        s_run (0, meshq_beacon_pace_longest (&s_pace) - S_FAST, true, NULL);
    cr_assert_eq (first, 1, "%d beacons", first);
    //  And a mesh of thousands no less often than every 64 slow
    //  intervals per agent.
    meshq_beacon_pace_init (&s_pace, S_FAST, S_SLOW, 0);
    meshq_beacon_pace_members (&s_pace, 10000);
    cr_assert_eq (meshq_beacon_pace_longest (&s_pace), 64 * S_SLOW);
}

Test (beacon_pace, a_mesh_of_a_few_doubles_up_to_its_longest_interval)
{
    //  Ten members: the longest interval is two slow ones, reached by
    //  doubling (not at once, as in a mesh past 16).
    meshq_beacon_pace_init (&s_pace, S_FAST, S_SLOW, 0);
    meshq_beacon_pace_members (&s_pace, 10);
    cr_assert_eq (meshq_beacon_pace_longest (&s_pace), 2 * S_SLOW);
    int first = s_run (0, 2 * S_SLOW - S_FAST, true, NULL);
    cr_assert_gt (first, 1, "%d beacons", first);
}
