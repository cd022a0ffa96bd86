/*  agent_trace.c - where a message's time goes inside the agent. See
    agent_trace.h. The hooks cost a comparison when the message is not
    the one followed, and a clock read when it is.
*/
#include "agent_internal.h"

#include <time.h>

//  A message followed for longer than this is given up (it reached no
//  consumer, say), in ns.
#define S_GIVE_UP 1000000000LL

static int64_t
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint32_t
s_us (int64_t from, int64_t to)
{
    return from && to > from ? (uint32_t)((to - from) / 1000) : 0;
}

//  Keeps the stages of the message followed once it is complete.
static void
s_finish_if_done (meshq_trace_t *self)
{
    int64_t *at = self->at;
    if (self->confirms && !at[MESHQ_TRACE_CONFIRM])
        return;
    if (!at[MESHQ_TRACE_SEND])
        return;
    if (!self->kept) {
        self->kept = calloc (MESHQ_TRACE_SAMPLES, sizeof *self->kept);
        assert (self->kept);
    }
    uint32_t *row = self->kept[self->count++ % MESHQ_TRACE_SAMPLES];
    int64_t commit = self->persistent ? at[MESHQ_TRACE_FSYNC] : 0;
    row[MESHQ_TRACE_RECEIVE] = s_us (self->started, at[MESHQ_TRACE_RECEIVE]);
    row[MESHQ_TRACE_ROUTE] =
        s_us (at[MESHQ_TRACE_RECEIVE], at[MESHQ_TRACE_ROUTE]);
    row[MESHQ_TRACE_APPEND] =
        s_us (at[MESHQ_TRACE_ROUTE], at[MESHQ_TRACE_APPEND]);
    row[MESHQ_TRACE_WAIT] = s_us (at[MESHQ_TRACE_APPEND], at[MESHQ_TRACE_WAIT]);
    row[MESHQ_TRACE_FSYNC] = s_us (at[MESHQ_TRACE_WAIT], commit);
    row[MESHQ_TRACE_CONFIRM] = s_us (commit ? commit : at[MESHQ_TRACE_APPEND],
                                     at[MESHQ_TRACE_CONFIRM]);
    row[MESHQ_TRACE_DISPATCH] =
        s_us (at[MESHQ_TRACE_APPEND], at[MESHQ_TRACE_DISPATCH]);
    row[MESHQ_TRACE_SEND] =
        s_us (at[MESHQ_TRACE_DISPATCH], at[MESHQ_TRACE_SEND]);
    row[MESHQ_TRACE_TO_CONFIRM] = s_us (self->started, at[MESHQ_TRACE_CONFIRM]);
    row[MESHQ_TRACE_TO_SEND] = s_us (self->started, at[MESHQ_TRACE_SEND]);
    self->active = false;
}

void
meshq_engine_trace_wake (meshq_engine_t *self)
{
    self->trace.wake = s_now ();
}

void
meshq_engine_trace_publish (meshq_engine_t *self, meshq_session_t *session,
                            const meshq_args_t *args, int stage,
                            bool persistent)
{
    meshq_trace_t *trace = &self->trace;
    if (stage == MESHQ_TRACE_RECEIVE) {
        //  While one is followed, the clock read for the frames being
        //  handled (ms) tells when to give it up: a clock read per
        //  publish was 2% of the agent's time.
        if (trace->active && self->frame_mono &&
            self->frame_mono * 1000000 - trace->started < S_GIVE_UP)
            return;
        int64_t now = s_now ();
        if (trace->active && now - trace->started < S_GIVE_UP)
            return;
        memset (trace->at, 0, sizeof trace->at);
        trace->active = true;
        trace->session = session;
        trace->confirms = MESHQ_ARGS_HAS (args, SEQ);
        trace->seq = trace->confirms ? args->seq : 0;
        trace->persistent = false;
        trace->msg_seq = 0;
        trace->started = trace->wake ? trace->wake : now;
        trace->at[MESHQ_TRACE_RECEIVE] = now;
        return;
    }
    if (!trace->active || trace->session != session || trace->at[stage] ||
        !trace->at[MESHQ_TRACE_RECEIVE] ||
        (trace->confirms && args && MESHQ_ARGS_HAS (args, SEQ) &&
         args->seq != trace->seq))
        return;
    trace->at[stage] = s_now ();
    if (stage == MESHQ_TRACE_APPEND) {
        trace->msg_seq = self->next_seq;
        trace->persistent = persistent;
        if (!trace->at[MESHQ_TRACE_ROUTE])
            trace->active = false;
    }
}

void
meshq_engine_trace_commit (meshq_engine_t *self)
{
    meshq_trace_t *trace = &self->trace;
    if (trace->active && trace->persistent && trace->at[MESHQ_TRACE_APPEND] &&
        !trace->at[MESHQ_TRACE_WAIT])
        trace->at[MESHQ_TRACE_WAIT] = s_now ();
}

void
meshq_engine_trace_synced (meshq_engine_t *self)
{
    meshq_trace_t *trace = &self->trace;
    if (trace->active && trace->persistent && trace->at[MESHQ_TRACE_WAIT] &&
        !trace->at[MESHQ_TRACE_FSYNC])
        trace->at[MESHQ_TRACE_FSYNC] = s_now ();
}

void
meshq_engine_trace_confirmed (meshq_engine_t *self, meshq_session_t *session,
                              uint64_t upto)
{
    meshq_trace_t *trace = &self->trace;
    if (trace->active && trace->confirms && trace->session == session &&
        upto >= trace->seq && trace->at[MESHQ_TRACE_APPEND] &&
        !trace->at[MESHQ_TRACE_CONFIRM]) {
        trace->at[MESHQ_TRACE_CONFIRM] = s_now ();
        s_finish_if_done (trace);
    }
}

void
meshq_engine_trace_dispatched (meshq_engine_t *self, const meshq_entry_t *entry)
{
    meshq_trace_t *trace = &self->trace;
    if (trace->active && entry->seq == trace->msg_seq && !entry->remote &&
        !trace->at[MESHQ_TRACE_DISPATCH])
        trace->at[MESHQ_TRACE_DISPATCH] = s_now ();
}

void
meshq_engine_trace_sent (meshq_engine_t *self)
{
    meshq_trace_t *trace = &self->trace;
    if (trace->active && trace->at[MESHQ_TRACE_DISPATCH] &&
        !trace->at[MESHQ_TRACE_SEND]) {
        trace->at[MESHQ_TRACE_SEND] = s_now ();
        s_finish_if_done (trace);
    }
}

static int
s_compare (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void
meshq_engine_trace_text (meshq_engine_t *self, char *text, size_t size)
{
    static const char *names[MESHQ_TRACE_STAGES] = {
        "receive", "route",    "append", "wait",       "fsync",
        "confirm", "dispatch", "send",   "to_confirm", "to_send"};
    meshq_trace_t *trace = &self->trace;
    size_t n =
        trace->count < MESHQ_TRACE_SAMPLES ? trace->count : MESHQ_TRACE_SAMPLES;
    int used = snprintf (text, size, "n=%zu", n);
    if (!n)
        return;
    uint32_t *column = malloc (n * sizeof *column);
    assert (column);
    for (int stage = 0; stage < MESHQ_TRACE_STAGES; stage++) {
        for (size_t i = 0; i < n; i++)
            column[i] = trace->kept[i][stage];
        qsort (column, n, sizeof *column, s_compare);
        if (used >= 0 && (size_t)used < size)
            used += snprintf (text + used, size - (size_t)used, " %s=%u/%u/%u",
                              names[stage], column[n / 2], column[n * 99 / 100],
                              column[n - 1]);
    }
    free (column);
}

void
meshq_engine_trace_fini (meshq_engine_t *self)
{
    free (self->trace.kept);
    self->trace.kept = NULL;
}
