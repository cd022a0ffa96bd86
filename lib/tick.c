/*  tick.c - timers of a loop that fire together. See tick.h.
*/
#include "tick.h"

#include <pthread.h>
#include <unistd.h>

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static int64_t s_phase;

//  The process's phase in ms: a hash of its id, so that it needs no
//  randomness and differs between the agents of a host.
static void
s_phase_init (void)
{
    s_phase = (int64_t)(((uint32_t)getpid () * 2654435761u) % 1000u);
}

size_t
meshq_tick_delay (size_t period_ms, int64_t now)
{
    pthread_once (&s_once, s_phase_init);
    if (period_ms == 0)
        return 1;
    int64_t period = (int64_t)period_ms;
    int64_t into = (now - s_phase) % period;
    if (into < 0)
        into += period;
    return (size_t)(period - into);
}

int
meshq_tick_arm (zloop_t *loop, size_t period_ms, zloop_timer_fn handler,
                void *arg)
{
    return zloop_timer (loop, meshq_tick_delay (period_ms, zclock_mono ()), 1,
                        handler, arg);
}
