/*  sim_net.h - runs the membership module (discovery/swim.h) of N nodes
    in one process, against a simulated clock and network.

    Events (node starts, timers, message deliveries) sit on one binary
    heap ordered by simulated time, so a run costs the messages the
    nodes send, never a scan of all nodes per tick. The network delays
    each message by a latency drawn in a range, loses a share of them,
    and can cut the mesh in two; nodes can crash (stop for good) or
    pause (stop, then resume with what arrived meanwhile).

    A run goes through phases: the nodes start over a window, each
    joining through one node started before it, until every node has
    every other alive (full membership); then a steady window where
    traffic and false suspicions are counted; then one node crashes,
    until every other knows it dead; then, if asked, one node pauses,
    and the mesh is cut in two and healed. bench/sim_membership.c
    prints the results; tests/unit/test_swim_sim.c asserts them on a
    small mesh.
*/
#ifndef MESHQ_SIM_NET_H_INCLUDED
#define MESHQ_SIM_NET_H_INCLUDED

#include "swim.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t nodes;            //  Mesh size.
    double loss;               //  Share of messages lost, 0..1.
    uint32_t latency_min_ms;   //  One-way delay, uniform in [min, max].
    uint32_t latency_max_ms;   //  Largest one-way delay.
    uint32_t start_spread_ms;  //  Nodes start over this window.
    uint32_t settle_ms;        //  The steady window starts no sooner than
                               //  this after the last start: past every
                               //  node's first table exchange, which
                               //  belongs to joining.
    uint32_t steady_ms;        //  Measured window after full membership.
    uint32_t join_limit_ms;    //  Gives up on full membership after this
                               //  (from the last start).
    uint32_t crash_limit_ms;   //  Gives up on the crash being known.
    uint32_t pause_ms;         //  Pauses one node this long; 0: no pause.
    uint32_t partition_ms;     //  Cuts the mesh in two this long; 0: no.
    bool warm;                 //  Starts every node at once, already
                               //  knowing every other (skips joining,
                               //  whose whole-table exchanges cost
                               //  N² records at 10,000 nodes).
    uint64_t seed;             //  Drives every random choice.
    bool progress;             //  Prints progress to stderr.
    meshq_swim_config_t swim;  //  The module's settings.
} meshq_sim_config_t;

typedef struct {
    bool converged;             //  Full membership was reached.
    double full_s;              //  When, from the last start.
    double full_share;          //  Share of nodes with full membership
                                //  when the join phase ended (1 if it
                                //  converged).
    bool crash_known;           //  Every node that had the crashed one as
                                //  a member knew it dead.
    double crash_first_s;       //  First node to know it, from the crash.
    double crash_all_s;         //  Last node to know it, from the crash.
    double probe_gap_max_s;     //  Longest a live node went without a
                                //  PING to it (steady).
    double msgs_per_node_s;     //  Sent, per node and second (steady).
    double bytes_per_node_s;    //  Sent, per node and second (steady).
    uint64_t false_suspicions;  //  A live node suspected, by anyone, in
                                //  the join, steady and crash phases.
    uint64_t false_downs;       //  A live node declared dead, same.
    uint64_t bad_msgs;          //  Messages the nodes refused.
    uint64_t gossip_dropped;    //  Updates pushed out of full queues.
    bool pause_run;             //  The pause phase ran.
    uint32_t pause_downs;       //  Nodes that declared the paused one dead.
    bool pause_back;            //  Every node had it alive again.
    double pause_back_s;        //  When, from its resumption.
    bool partition_run;         //  The partition phase ran.
    bool partition_healed;      //  Full membership again after the cut.
    double partition_heal_s;    //  When, from the healing.
    double sim_s;               //  Simulated seconds in all.
    uint64_t messages;          //  Messages sent in all.
} meshq_sim_result_t;

//  Fills config with the defaults for nodes nodes at loss.
void meshq_sim_config_defaults (meshq_sim_config_t *config, uint32_t nodes,
                                double loss);

//  Runs one simulation. Returns 0, or MESHQ_ENOMEM.
int meshq_sim_run (const meshq_sim_config_t *config,
                   meshq_sim_result_t *result);

#endif
