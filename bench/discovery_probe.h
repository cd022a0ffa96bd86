/*  discovery_probe.h - what bench_discovery reads of running agents:
    their memory and CPU in /proc, and their own view of the mesh.

    The agents of a run are called b0, b1, ... and each listens for the
    meshq tool on ipc://DIR/bK.ipc, DIR being the run's directory.
*/
#ifndef MESHQ_DISCOVERY_PROBE_H_INCLUDED
#define MESHQ_DISCOVERY_PROBE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

//  Resident memory of a process in kB, and its proportional share
//  (shared library pages divided among the processes that map them);
//  -1 each if unread.
void meshq_bench_memory (pid_t pid, double *rss, double *pss);

//  utime + stime of a process in clock ticks, or 0 if it is gone.
long long meshq_bench_cpu_ticks (pid_t pid);

//  In agent me's list (meshq --json list_peers: rows with "id" and
//  "state"), how many other agents (of count in all) are up, or alive
//  in the membership with no link. A list of some other form counts
//  none.
int meshq_bench_listed_up (const char *json, int me, int count);

//  Asks each of the agents b0 to b(count - 1) of dir for its list with
//  tool (the meshq program), parallel at a time, all within a time
//  bound; calls meanwhile (arg), if set, at least every 100 ms. Returns
//  true if every agent answered and lists every other up; else false.
//  Says what it saw in why either way.
bool meshq_bench_lists_full (const char *dir, const char *tool, int count,
                             int parallel, char *why, size_t size,
                             void (*meanwhile) (void *arg), void *arg);

#endif
