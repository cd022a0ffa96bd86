/*  test_tick.c - ticks of a loop armed at different moments fall on the
    same instants (tick.h), so an idle agent wakes once a period.
*/
#include "tick.h"

#include <criterion/criterion.h>

Test (tick, ticks_armed_apart_fall_on_one_instant)
{
    int64_t start = 1000000;
    int64_t first = start + (int64_t)meshq_tick_delay (1000, start);
    //  Armed anywhere before that instant, a tick of the same period
    //  fires with the first one.
    for (int64_t now = start; now < first; now += 37)
        cr_assert_eq (now + (int64_t)meshq_tick_delay (1000, now), first,
                      "armed at %lld", (long long)now);
    //  Once it has passed, the next one is a whole period later.
    cr_assert_eq (first + (int64_t)meshq_tick_delay (1000, first),
                  first + 1000);
}

Test (tick, a_shorter_period_that_divides_it_falls_on_it_too)
{
    //  The engine ticks every 100 ms when busy and the peer table every
    //  250 ms: each second tick of theirs is also a tick of 1000 ms.
    int64_t now = 5000321;
    int64_t second = now + (int64_t)meshq_tick_delay (1000, now);
    const size_t periods[] = {100, 200, 250, 500};
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++) {
        size_t period = periods[i];
        int64_t at = now;
        bool met = false;
        while (at <= second) {
            at += (int64_t)meshq_tick_delay (period, at);
            met = met || at == second;
        }
        cr_assert (met, "%zu ms ticks miss the second's tick", period);
    }
}

Test (tick, the_delay_is_never_zero_nor_past_a_period)
{
    for (int64_t now = -3000; now < 3000; now += 7)
        for (size_t period = 1; period <= 1000; period *= 10) {
            size_t delay = meshq_tick_delay (period, now);
            cr_assert (delay >= 1 && delay <= period, "%zu in %zu at %lld",
                       delay, period, (long long)now);
        }
    cr_assert_eq (meshq_tick_delay (0, 42), 1);
}
