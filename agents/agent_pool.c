/*  agent_pool.c - free lists for the agent's per-message structures.

    Every publish made a meshq_entry_t per queue (and a meshq_pending_t
    with confirms) and every ack freed them: two calls into malloc per
    message each way, on a thread whose heap libzmq's frames also churn.
    These lists keep freed ones for reuse, up to a bound so that a burst
    does not stay resident for good. Everything here lives on the agent's
    thread, like the engine.
*/
#include "agent_internal.h"

//  Structures of each kind kept for reuse, at most.
#define S_KEEP 16384

meshq_entry_t *
meshq_engine_entry_new (meshq_engine_t *self)
{
    meshq_entry_t *entry = self->free_entries;
    if (entry) {
        self->free_entries = entry->next;
        self->free_entry_count--;
        memset (entry, 0, sizeof *entry);
        return entry;
    }
    entry = calloc (1, sizeof *entry);
    assert (entry);
    return entry;
}

void
meshq_engine_entry_free (meshq_engine_t *self, meshq_entry_t *entry)
{
    if (self->free_entry_count == S_KEEP) {
        free (entry);
        return;
    }
    entry->next = self->free_entries;
    self->free_entries = entry;
    self->free_entry_count++;
}

meshq_pending_t *
meshq_engine_pending_new (meshq_engine_t *self)
{
    meshq_pending_t *pending = self->free_pendings;
    if (pending) {
        self->free_pendings = pending->next;
        self->free_pending_count--;
        memset (pending, 0, sizeof *pending);
        return pending;
    }
    pending = calloc (1, sizeof *pending);
    assert (pending);
    return pending;
}

void
meshq_engine_pending_free (meshq_engine_t *self, meshq_pending_t *pending)
{
    if (self->free_pending_count == S_KEEP) {
        free (pending);
        return;
    }
    pending->next = self->free_pendings;
    self->free_pendings = pending;
    self->free_pending_count++;
}

void
meshq_engine_pool_fini (meshq_engine_t *self)
{
    while (self->free_entries) {
        meshq_entry_t *entry = self->free_entries;
        self->free_entries = entry->next;
        free (entry);
    }
    while (self->free_pendings) {
        meshq_pending_t *pending = self->free_pendings;
        self->free_pendings = pending->next;
        free (pending);
    }
    self->free_entry_count = self->free_pending_count = 0;
}
