/*  agent_pool.c - free lists for the agent's per-message structures.

    Every publish made a meshq_entry_t per queue (and a meshq_pending_t
    with confirms) and every ack freed them: two calls into malloc per
    message each way, on a thread whose heap libzmq's frames also churn.
    These lists keep freed ones for reuse, up to a bound so that a burst
    does not stay resident for good; once the agent is drained they are
    cut down further and the heap is trimmed (docs/OPERATIONS.md,
    "Memory"). Everything here lives on the agent's thread, like the
    engine.
*/
#include "agent_internal.h"
#include "cache.h"

#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

//  Structures of each kind kept for reuse, at most.
#define S_KEEP 16384

//  Kept once the agent is drained.
#define S_KEEP_DRAINED 256

//  Bytes of messages held, at most, for the agent to count as drained.
#define S_DRAINED (1024 * 1024)

//  Growth of the resident set since the last trim, in kB, that makes a
//  drained agent trim again; or, once traffic stopped, this much.
#define S_REGROWN_KB       4096
#define S_REGROWN_QUIET_KB 512

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

//  The process's resident set in kB (VmRSS), or 0 if it cannot tell.
static long
s_resident_kb (void)
{
    FILE *file = fopen ("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (file && fscanf (file, "%ld %ld", &size, &resident) != 2)
        resident = 0;
    if (file)
        fclose (file);
    return resident * (sysconf (_SC_PAGESIZE) / 1024);
}

void
meshq_engine_memory (long *rss_kb, long *peak_kb)
{
    *rss_kb = *peak_kb = 0;
    FILE *file = fopen ("/proc/self/status", "r");
    char line[256];
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            *rss_kb = atol (line + 6);
        else if (strncmp (line, "VmHWM:", 6) == 0)
            *peak_kb = atol (line + 6);
    if (file)
        fclose (file);
}

void
meshq_engine_pool_trim (meshq_engine_t *self)
{
    //  What an agent takes when idle, for comparison: 3 s after start.
    if (!self->idle_kb && zclock_mono () - self->started >= 3000)
        self->idle_kb = s_resident_kb ();
    //  A backlog leaves its memory in the allocator's free lists, and
    //  glibc gives little of it back on its own (freed chunks sit between
    //  live ones, in several arenas). Once the messages are gone, the
    //  free lists are cut down and malloc_trim returns the free pages.
    //  Quiet: no publish, delivery or ack since the last tick. Traffic
    //  with a queue kept short may never leave the agent drained and
    //  4 MiB bigger at once; its end does. Its first quiet tick, and
    //  the 10th and 50th (what the store gives back when idle frees
    //  memory, without the resident set growing), trim again if it is
    //  above its last trim or a quarter above idle.
    uint64_t activity = self->published + self->delivered + self->acked;
    if (activity != self->trim_activity)
        self->quiet_ticks = 0;
    else if (self->quiet_ticks < UINT32_MAX)
        self->quiet_ticks++;
    self->trim_activity = activity;
    if (self->memory > S_DRAINED)
        return;
    bool settling = self->quiet_ticks == 1 || self->quiet_ticks == 10 ||
                    self->quiet_ticks == 50;
    //  Quiet and settled: nothing grew it since the last look.
    if (self->quiet_ticks > 0 && !settling)
        return;
    long resident = s_resident_kb ();
    bool due =
        resident >= self->trimmed_kb + S_REGROWN_KB ||
        (settling && (resident >= self->trimmed_kb + S_REGROWN_QUIET_KB ||
                      (self->idle_kb && resident > self->idle_kb / 4 * 5)));
    if (!due)
        return;
    while (self->free_entry_count > S_KEEP_DRAINED) {
        meshq_entry_t *entry = self->free_entries;
        self->free_entries = entry->next;
        self->free_entry_count--;
        free (entry);
    }
    while (self->free_pending_count > S_KEEP_DRAINED) {
        meshq_pending_t *pending = self->free_pendings;
        self->free_pendings = pending->next;
        self->free_pending_count--;
        free (pending);
    }
    meshq_cache_trim ();
    //  One engine at a time: the engines of a process tick together
    //  (tick.h), and where glibc's allocator is not the one in use (a
    //  sanitizer's), its first malloc_trim sets it up, which two threads
    //  must not do at once (it crashed in mtrim).
    static pthread_mutex_t trimming = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock (&trimming);
    malloc_trim (0);
    pthread_mutex_unlock (&trimming);
    self->trimmed_kb = s_resident_kb ();
    zsys_debug ("agent: memory trimmed rss_kb=%ld now_kb=%ld", resident,
                self->trimmed_kb);
}
