/*  tick.h - timers of a loop that fire together.

    An idle agent has several modules that tick (the engine, the peer
    table, the AMQP door), each once a second. Armed at different
    moments, they woke the loop three times a second, and each wakeup
    polls every socket of the loop: on a host of hundreds of agents
    that was most of the idle cost. A tick armed here fires at the next
    instant that is a whole number of periods past the process's phase,
    so ticks of the same period (or of periods that divide one another)
    fall in one wakeup. The phase differs from process to process, so
    the agents of one host do not all wake in the same millisecond.
*/
#ifndef MESHQ_TICK_H_INCLUDED
#define MESHQ_TICK_H_INCLUDED

#include <czmq.h>

//  Milliseconds from now until the next tick of period_ms (at least 1).
size_t meshq_tick_delay (size_t period_ms, int64_t now);

//  Arms a timer on loop that fires once, at the next tick of period_ms
//  (the handler arms the next one). Returns the timer id, or -1.
int meshq_tick_arm (zloop_t *loop, size_t period_ms, zloop_timer_fn handler,
                    void *arg);

#endif
