/*  hist.h - a latency histogram with fixed buckets, as the engine keeps
    them for /metrics: publish to confirm, publish to delivery, publish
    to ack. Noting a value is a few comparisons and two additions, cheap
    enough for the message path.
*/
#ifndef MESHQ_HIST_H_INCLUDED
#define MESHQ_HIST_H_INCLUDED

#include <stdint.h>

//  Upper bounds of the buckets in microseconds; one more bucket holds
//  what is above the last (Prometheus's le="+Inf").
#define MESHQ_HIST_BOUNDS  13
#define MESHQ_HIST_BUCKETS (MESHQ_HIST_BOUNDS + 1)
static const uint64_t meshq_hist_bounds_us[MESHQ_HIST_BOUNDS] = {
    100,    500,     1000,    5000,     10000,    50000,    100000,
    500000, 1000000, 5000000, 10000000, 60000000, 300000000};

typedef struct {
    uint64_t counts[MESHQ_HIST_BUCKETS];  //  Values per bucket (not
                                          //  cumulative).
    uint64_t count;                       //  Values noted.
    uint64_t sum_us;                      //  Their sum.
} meshq_hist_t;

//  Notes one value, in microseconds.
static inline void
meshq_hist_note (meshq_hist_t *self, uint64_t us)
{
    int bucket = 0;
    while (bucket < MESHQ_HIST_BOUNDS && us > meshq_hist_bounds_us[bucket])
        bucket++;
    self->counts[bucket]++;
    self->count++;
    self->sum_us += us;
}

#endif
