/*  chaos_run_internal.h - what the parts of a chaos run share: the
    run's state (one run per process), the processes it starts, and the
    faults it applies (chaos_faults.c).
*/
#ifndef MESHQ_CHAOS_RUN_INTERNAL_H_INCLUDED
#define MESHQ_CHAOS_RUN_INTERNAL_H_INCLUDED

#include "chaos_run.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CHAOS_MAX_FAULTS 5  //  Applied at once: 3 at random, 2 that must be.

//  One fault being applied.
typedef struct {
    chaos_kind_t kind;
    int node;        //  Target, or the first of a partition's group.
    int peer;        //  One-way drops: to (or from) this node, -1 all.
    int percent;     //  Partial drops: of the packets, 0 at random.
    unsigned group;  //  Partitions: a bit per node on one side.
    int64_t start;   //  When it was applied (zclock_mono).
    int64_t end;     //  When it is undone, 0 if free.
    char table[32];  //  nft table in each namespace it touched.
} chaos_fault_t;

//  A log followed as it grows.
typedef struct {
    off_t offset;
    char second[20];  //  Timestamp of the last session restart.
    int in_second;    //  Session restarts logged in that second.
} chaos_follow_t;

typedef struct {
    bool live;  //  Something to clean up.
    chaos_config_t config;
    chaos_result_t *result;
    char dir[256];
    char mesh[64];
    int ports[CHAOS_MAX_NODES];
    bool insecure;  //  The agents take --insecure (off loopback).
    pid_t agents[CHAOS_MAX_NODES];
    pid_t consumers[CHAOS_MAX_NODES];  //  On node i, or 0.
    pid_t producers[CHAOS_MAX_PRODUCERS];
    //  A fault holds its target: one at a time per agent, consumer and
    //  network interface.
    bool agent_busy[CHAOS_MAX_NODES];
    bool consumer_busy[CHAOS_MAX_NODES];
    bool net_busy[CHAOS_MAX_NODES];
    bool partitioned;  //  A partition (its own nft tables) is applied.
    chaos_fault_t faults[CHAOS_MAX_FAULTS];
    int tables;  //  nft tables made, for unique names.
    chaos_follow_t logs[CHAOS_MAX_NODES];
    chaos_follow_t outs[CHAOS_MAX_NODES + CHAOS_MAX_PRODUCERS];
    uint64_t confirmed_so_far, delivered_so_far;
    uint64_t rng;
} chaos_state_t;

//  The run's state.
extern chaos_state_t chaos_state;

//  A random number below below, from the run's seed.
int chaos_random (int below);

//  Runs a shell command; says so on stderr if it fails. Returns its
//  status.
int chaos_shell (const char *format, ...);

//  Signals pid, never a process group.
void chaos_signal (pid_t pid, int sig);

//  Signals *pid, reaps it and zeroes *pid (nothing if 0).
void chaos_reap (pid_t *pid, int sig);

//  Starts node i's agent, or its consumer.
void chaos_start_agent (int i);
void chaos_start_consumer (int i);

//  Whether node i has a consumer.
bool chaos_has_consumer (int i);

//  Reads what the agents logged since the last call.
void chaos_follow_logs (void);

//  Prints a progress line.
void chaos_progress (int64_t start);

//  Applies faults until the run's time is up or it is stopped.
void chaos_faults (int64_t start);

//  Undoes the faults applied; at cleanup, only those that leave
//  something behind (nft tables, qdiscs, links down), without starting
//  or resuming processes.
void chaos_faults_undo (bool cleanup);

#endif
