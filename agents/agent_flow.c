/*  agent_flow.c - publishers slowed before a backlog grows.

    A publisher that outruns the consumers of its queue would fill the
    agent's heap until max_memory, where publishes are refused, and make
    every message wait behind the backlog. Before that, once a queue that
    has consumers holds more than its consumers take in flow_time (10 ms
    by default, at the pace they drained it lately; never fewer than
    S_FLOOR messages), or more than flow_memory (its ready bodies, plus
    S_OVERHEAD bytes a message for what the agent keeps with each),
    each session that publishes to it is told PAUSE (once, at its next
    publish to it). A client then waits before its next publish until
    RESUME, which every paused session gets once each such queue is back
    under half of both marks (or lost its consumers, or is gone). What
    was already on its way is taken: nothing is refused, and a queue
    without consumers still fills as before. A client that ignores PAUSE
    still meets max_memory. docs/PROTOCOL.md, section 3.4 ("Flow
    control"); docs/decisions/0030-backlog-bounded-by-time.md.
*/
#include "agent_internal.h"

#include <inttypes.h>

//  Bytes the agent keeps with each message held, besides its body: its
//  entry, its envelope's other fields, the allocator's headers.
#define S_OVERHEAD 256

//  Messages a queue may always hold, whatever its consumers' pace: half
//  of it must keep them busy while a paused publisher resumes.
#define S_FLOOR 1000

//  Queues behind their consumers, tracked at once; more pause their
//  publishers too, and do again at the next publish after a resume.
#define S_TRACKED 8

//  Milliseconds between two lines about publishers paused.
#define S_LOG_MS 10000

static uint64_t
s_footprint (const meshq_queue_t *queue)
{
    return meshq_queue_ready_bytes (queue) +
           meshq_queue_ready (queue) * S_OVERHEAD;
}

//  Returns true if queue, which has consumers, holds more than its
//  marks divided by divisor: 1 to pause its publishers, 2 to resume.
static bool
s_behind (meshq_engine_t *self, meshq_queue_t *queue, uint64_t divisor)
{
    uint64_t memory = self->config.flow_memory;
    if (memory && s_footprint (queue) > memory / divisor)
        return true;
    uint32_t time_ms = self->config.flow_time_ms;
    uint64_t ready = meshq_queue_ready (queue);
    if (!time_ms || ready <= S_FLOOR / divisor)
        return false;
    double rate = meshq_queue_drain_rate (queue, meshq_mono_ms ());
    double mark = rate * time_ms;
    if (mark < S_FLOOR)
        mark = S_FLOOR;
    return (double)ready > mark / (double)divisor;
}

//  Remembers, by name, a queue that paused its publishers.
static void
s_track (meshq_engine_t *self, meshq_queue_t *queue)
{
    const char *vhost = ((meshq_vhost_t *)meshq_queue_host (queue))->name;
    const char *name = meshq_queue_name (queue);
    int free_slot = -1;
    for (int i = 0; i < S_TRACKED; i++) {
        char (*slot)[MESHQ_MAX_SHORTSTR + 1] = self->flow_queues[i];
        if (!*slot[1])
            free_slot = free_slot < 0 ? i : free_slot;
        else if (streq (slot[0], vhost) && streq (slot[1], name))
            return;
    }
    if (free_slot >= 0) {
        snprintf (self->flow_queues[free_slot][0], MESHQ_MAX_SHORTSTR + 1, "%s",
                  vhost);
        snprintf (self->flow_queues[free_slot][1], MESHQ_MAX_SHORTSTR + 1, "%s",
                  name);
    }
}

void
meshq_engine_flow_publish (meshq_engine_t *self, meshq_session_t *session,
                           const meshq_routes_t *routes)
{
    if ((!self->config.flow_memory && !self->config.flow_time_ms) ||
        session->peer)
        return;
    for (int i = 0; i < routes->count; i++) {
        meshq_queue_t *queue = routes->queues[i];
        if (!meshq_queue_consumer_count (queue) || !s_behind (self, queue, 1))
            continue;
        if (!self->paused) {
            //  A pause comes and goes every few milliseconds under
            //  load: one line in S_LOG_MS says how often.
            self->flow_pauses++;
            int64_t now = meshq_mono_ms ();
            if (now - self->flow_logged >= S_LOG_MS) {
                zsys_debug ("agent: publishers paused queue=%s ready=%" PRIu64
                            " pauses=%" PRIu64,
                            meshq_queue_name (queue), meshq_queue_ready (queue),
                            self->flow_pauses);
                self->flow_logged = now;
            }
        }
        self->paused = true;
        s_track (self, queue);
        if (!session->paused) {
            meshq_args_t args;
            memset (&args, 0, sizeof args);
            MESHQ_ARGS_SET (&args, QUEUE, queue,
                            meshq_span (meshq_queue_name (queue)));
            if (meshq_engine_send (self, session, "PAUSE", &args, NULL, 0) == 0)
                session->paused = true;
        }
    }
}

void
meshq_engine_flow_check (meshq_engine_t *self)
{
    if (!self->paused)
        return;
    for (int i = 0; i < S_TRACKED; i++) {
        char (*slot)[MESHQ_MAX_SHORTSTR + 1] = self->flow_queues[i];
        if (!*slot[1])
            continue;
        meshq_vhost_t *vhost = zhashx_lookup (self->vhosts, slot[0]);
        meshq_queue_t *queue =
            vhost ? zhashx_lookup (vhost->queues, slot[1]) : NULL;
        if (queue && meshq_queue_consumer_count (queue) &&
            s_behind (self, queue, 2))
            return;  //  Still behind.
        *slot[1] = 0;
    }
    self->paused = false;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    meshq_session_t *session = zhashx_first (self->sessions);
    for (; session; session = zhashx_next (self->sessions))
        if (session->paused) {
            session->paused = false;
            meshq_engine_send (self, session, "RESUME", &args, NULL, 0);
        }
}
