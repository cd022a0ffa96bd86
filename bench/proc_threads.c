/*  proc_threads.c - CPU time and turns of processes' threads, by name.
    See proc_threads.h.
*/
#include "proc_threads.h"

#include <dirent.h>
#include <stdbool.h>
#include <string.h>

static meshq_bench_thread_name_t *
s_name (meshq_bench_threads_t *self, const char *name)
{
    for (int i = 0; i < self->count; i++)
        if (strcmp (self->names[i].name, name) == 0)
            return &self->names[i];
    if (self->count == MESHQ_BENCH_THREAD_NAMES)
        return NULL;
    meshq_bench_thread_name_t *entry = &self->names[self->count++];
    snprintf (entry->name, sizeof entry->name, "%s", name);
    entry->run_ns = entry->turns = 0;
    return entry;
}

//  One thread's name, time on a CPU and turns; false if it is gone.
static bool
s_read (const char *task, char *name, size_t size, double *run_ns,
        double *turns)
{
    char path[360];
    snprintf (path, sizeof path, "%s/comm", task);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    bool ok = fgets (name, (int)size, file) != NULL;
    fclose (file);
    name[strcspn (name, "\n")] = 0;
    snprintf (path, sizeof path, "%s/schedstat", task);
    file = fopen (path, "r");
    if (!file)
        return false;
    unsigned long long run = 0, wait = 0, count = 0;
    ok = ok && fscanf (file, "%llu %llu %llu", &run, &wait, &count) == 3;
    fclose (file);
    *run_ns = (double)run;
    *turns = (double)count;
    return ok;
}

void
meshq_bench_threads_add (meshq_bench_threads_t *self, const pid_t *pids,
                         int count, int sign)
{
    for (int i = 0; i < count; i++) {
        char dir[64];
        snprintf (dir, sizeof dir, "/proc/%d/task", (int)pids[i]);
        DIR *tasks = opendir (dir);
        if (!tasks)
            continue;
        struct dirent *item;
        while ((item = readdir (tasks))) {
            if (item->d_name[0] == '.')
                continue;
            char task[330], name[16];
            snprintf (task, sizeof task, "%s/%s", dir, item->d_name);
            double run_ns, turns;
            if (!s_read (task, name, sizeof name, &run_ns, &turns))
                continue;
            meshq_bench_thread_name_t *entry = s_name (self, name);
            if (entry) {
                entry->run_ns += sign * run_ns;
                entry->turns += sign * turns;
            }
        }
        closedir (tasks);
    }
}

void
meshq_bench_threads_window (meshq_bench_threads_t *self, double seconds,
                            int count)
{
    self->seconds += seconds;
    self->agents += seconds * count;
}

void
meshq_bench_threads_print (const meshq_bench_threads_t *self, const char *label,
                           FILE *out)
{
    if (self->seconds <= 0 || self->agents <= 0)
        return;
    for (int i = 0; i < self->count; i++) {
        const meshq_bench_thread_name_t *entry = &self->names[i];
        fprintf (out, "| %6s | %-15s | %6.3f | %8.1f | %7.0f |\n", label,
                 entry->name, entry->run_ns / 1e9 / self->seconds,
                 entry->turns / self->agents,
                 entry->turns > 0 ? entry->run_ns / 1e3 / entry->turns : 0);
    }
}
