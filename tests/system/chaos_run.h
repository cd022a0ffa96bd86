/*  chaos_run.h - one run of a mesh under faults, shared by the chaos
    system test (test_chaos.c) and the longer seeded run in bench/.

    Agents as processes, on loopback or in the network namespaces of
    tests/system/netns.sh; two producers with confirms and consumers
    with manual acks (chaos_client); for a bounded time, faults at
    random from a seed: SIGKILL and restart, SIGSTOP and SIGCONT of
    agents and consumers, and in namespaces link down, one-way and
    partial packet drop and two-way partitions (nft), a slow link (tc
    tbf at 1 Mbit/s). Each run has an 8 s one-way drop and an 8 s drop
    of half the packets one way (namespaces), and a SIGSTOP of an agent
    longer than the peer timeout. Then
    everything is healed and drained, every message is checked by its
    id, and each agent's log is read for session restarts per second.

    No Criterion in here: the caller asserts on the result. Whatever a
    run creates (processes, nft tables, qdiscs, links it took down) is
    undone by chaos_run_cleanup, which is safe to call at any time and
    more than once.
*/
#ifndef MESHQ_CHAOS_RUN_H_INCLUDED
#define MESHQ_CHAOS_RUN_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CHAOS_MAX_NODES     4
#define CHAOS_MAX_PRODUCERS 2

//  Kinds of faults.
typedef enum {
    CHAOS_AGENT_KILL,     //  SIGKILL, restart after a while.
    CHAOS_CONSUMER_KILL,  //  SIGKILL, restart after a while.
    CHAOS_AGENT_STOP,     //  SIGSTOP, SIGCONT after a while.
    CHAOS_CONSUMER_STOP,  //  SIGSTOP, SIGCONT after a while.
    CHAOS_LINK_DOWN,      //  ip link set down, then up.
    CHAOS_ONE_WAY_DROP,   //  nft: every packet one way (one peer or all).
    CHAOS_PARTIAL_DROP,   //  nft: numgen random mod 100 < N, one way.
    CHAOS_PARTITION,      //  nft: two groups that cannot talk.
    CHAOS_SLOW_LINK,      //  tc tbf at 1 Mbit/s both ways.
    CHAOS_KINDS
} chaos_kind_t;

typedef struct {
    int nodes;           //  Agents, 2..CHAOS_MAX_NODES.
    int consumers;       //  On the last nodes, one each.
    int producers;       //  On the first nodes, one each.
    int rate;            //  Messages a second per producer.
    int seconds;         //  Of faults (and of publishing).
    int progress;        //  Seconds between progress lines, 0: none.
    uint64_t seed;       //  The faults' random generator.
    const char *tag;     //  Namespace prefix (TAG-n1...), NULL: loopback.
    const char *net;     //  The namespaces' /24, three octets.
    const char *agent;   //  Path of meshq-agent.
    const char *client;  //  Path of chaos_client.
    const char *name;    //  For messages ("chaos/namespaces").
    volatile int *stop;  //  If set and nonzero, end the faults early.
} chaos_config_t;

typedef struct {
    //  Faults applied, by kind; the two that every run must have.
    int faults[CHAOS_KINDS];
    bool long_one_way_drop;  //  8 s, one way (namespaces only).
    bool long_agent_stop;    //  Longer than the peer timeout.
    //  Messages, by id, from the clients' logs.
    uint64_t published;     //  Publish calls made.
    uint64_t confirmed;     //  Confirmed.
    uint64_t delivered;     //  Deliveries logged.
    uint64_t distinct;      //  Distinct messages delivered.
    uint64_t lost;          //  Confirmed, never delivered.
    uint64_t duplicates;    //  Deliveries beyond the first.
    uint64_t out_of_order;  //  First deliveries behind an earlier one.
    //  From each agent's log.
    int max_restarts[CHAOS_MAX_NODES];     //  Session restarts in one second.
    char max_second[CHAOS_MAX_NODES][20];  //  Which second (log time).
    uint64_t restarts[CHAOS_MAX_NODES];    //  All of them.
    uint64_t peer_downs[CHAOS_MAX_NODES];  //  "peer down" lines.
    uint64_t unknown[CHAOS_MAX_NODES];     //  "unknown command" lines.
    uint64_t unstamped[CHAOS_MAX_NODES];   //  Restarts logged without a
                                           //  timestamp to place them.
    //  The end.
    bool settled;      //  Every agent saw every peer up after healing.
    bool drained;      //  Every agent's queue empty for 2 s.
    int64_t drain_ms;  //  How long draining took.
    int stuck;         //  Clients that did not end when told to.
    char error[256];   //  Why the run could not be made, or "".
} chaos_result_t;

//  The name of a kind, for tables.
const char *chaos_kind_name (chaos_kind_t kind);

//  Makes the run in a temporary directory of its own; fills result.
//  Returns 0, or -1 if the run could not be made (result->error says
//  why); either way call chaos_run_cleanup after.
int chaos_run (const chaos_config_t *config, chaos_result_t *result);

//  Prints the result as a table.
void chaos_run_print (FILE *out, const chaos_config_t *config,
                      const chaos_result_t *result);

//  Kills every process of the run, undoes every fault still applied,
//  and removes the run's directory (unless MESHQ_TEST_LOGS is set: then
//  it prints the tail of each log and keeps it).
void chaos_run_cleanup (void);

#endif
