/*  log.c - the process's log level. See meshq_log.h.

    The level is process-wide, like CZMQ's own zsys settings: the owner
    of the process (the daemon's main, an application) chooses it once.
    It is read from MESHQ_LOG on first use; an atomic keeps threads
    (agent, clients) from racing on that first read.
*/
#include "meshq_log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

//  -1 until read from the environment or set.
static atomic_int s_level = -1;

void
meshq_log_set_level (meshq_log_level_t level)
{
    atomic_store (&s_level, (int)level);
}

meshq_log_level_t
meshq_log_level (void)
{
    int level = atomic_load (&s_level);
    if (level >= 0)
        return (meshq_log_level_t)level;
    static const char *names[] = {"error", "warning", "notice", "info",
                                  "debug"};
    const char *env = getenv ("MESHQ_LOG");
    level = MESHQ_LOG_NOTICE;
    for (int i = 0; env && i < 5; i++)
        if (strcmp (env, names[i]) == 0)
            level = i;
    atomic_store (&s_level, level);
    return (meshq_log_level_t)level;
}
