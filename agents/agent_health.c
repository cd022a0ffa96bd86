/*  agent_health.c - what STATUS says of the agent's health: memory and
    store use against their limits, free disk, whether publishers are
    blocked, and the alarms these raise (docs/OPERATIONS.md, "Health").

    An alarm is raised before the limit refuses anything, so that a
    probe (meshq check_alarms) warns while there is time to act:
      memory   messages held reach 90% of max_memory, where publishers
               are let go again after a block;
      quota    a vhost's store reaches 90% of the quota, the same line;
      disk     the store's filesystem has less than twice min_free left
               (enqueues are refused below min_free);
      blocked  publishers are refused now, whatever the cause.
*/
#include "agent_internal.h"

#include <sys/statvfs.h>

//  Adds name to a comma-separated list.
static void
s_raise (char *alarms, size_t size, const char *name)
{
    size_t used = strlen (alarms);
    snprintf (alarms + used, size - used, "%s%s", used ? "," : "", name);
}

void
meshq_engine_health (meshq_engine_t *self, meshq_args_t *results, char *alarms,
                     size_t size)
{
    *alarms = 0;
    uint64_t max_memory = self->config.max_memory;
    MESHQ_ARGS_SET (results, MEMORY, memory, self->memory);
    MESHQ_ARGS_SET (results, MAX_MEMORY, max_memory, max_memory);
    if (max_memory && self->memory >= max_memory / 10 * 9)
        s_raise (alarms, size, "memory");

    //  Every vhost's store, each against the quota.
    uint64_t quota = self->config.store.quota, stored = 0, fullest = 0;
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        if (!vhost->store)
            continue;
        meshq_store_stats_t stats;
        meshq_store_stats (vhost->store, &stats);
        stored += stats.bytes;
        if (stats.bytes > fullest)
            fullest = stats.bytes;
    }
    MESHQ_ARGS_SET (results, STORE_BYTES, store_bytes, stored);
    MESHQ_ARGS_SET (results, QUOTA, quota, quota);
    if (quota && fullest >= quota / 10 * 9)
        s_raise (alarms, size, "quota");

    struct statvfs fs;
    if (statvfs (self->root->dir, &fs) == 0) {
        uint64_t free_bytes = (uint64_t)fs.f_bavail * fs.f_frsize;
        uint64_t min_free = self->config.store.min_free;
        if (min_free == 0)
            min_free = self->config.store.segment_size
                           ? self->config.store.segment_size
                           : MESHQ_STORE_SEGMENT_SIZE;
        MESHQ_ARGS_SET (results, DISK_FREE, disk_free, free_bytes);
        if (min_free > 1 && free_bytes < 2 * min_free)
            s_raise (alarms, size, "disk");
    }

    MESHQ_ARGS_SET (results, BLOCKED, blocked, self->blocked);
    if (self->blocked) {
        MESHQ_ARGS_SET (results, WHY, why, meshq_span (self->blocked_why));
        s_raise (alarms, size, "blocked");
    }
    MESHQ_ARGS_SET (results, ALARMS, alarms, meshq_span (alarms));
}
