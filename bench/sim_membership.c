/*  sim_membership.c - the membership protocol (discovery/swim.h) of
    100, 1,000 and 10,000 nodes, simulated in one process.

    For each size and loss rate asked for, runs bench/sim_net.c's
    phases with the real module and prints one row: time to full
    membership (from the last start), time until every node knows of a
    crash (first and last), the longest a live node went without a
    PING to it in the steady window, messages and bytes sent per node per second
    in the steady window, false suspicions and false downs (of live
    nodes, by anyone, in the join, steady and crash phases), messages
    refused, and the run's peak RSS and wall time. Each run is a child
    process, so that each peak RSS is its own. Progress goes to stderr
    every two seconds.

    Usage: bench_sim_membership [--sizes 100,1000,10000] [--loss 1,5]
               [--latency MIN-MAX] [--spread MS] [--settle MS] [--steady MS]
               [--join-limit MS] [--gossip-max N] [--warm]
               [--pause MS] [--partition MS] [--seed N]
*/
#include "sim_net.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_LIST 16

static int
s_parse_list (const char *text, double *values, int max)
{
    int count = 0;
    const char *p = text;
    while (*p && count < max) {
        char *end;
        errno = 0;
        double v = strtod (p, &end);
        if (end == p || errno || v < 0)
            return -1;
        values[count++] = v;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        p = end;
    }
    return count;
}

static double
s_wall (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
s_print_secs (bool ok, double secs)
{
    if (ok)
        printf (" %7.2f |", secs);
    else
        printf ("   never |");
}

//  Runs one size in a child; prints its row.
static int
s_run (const meshq_sim_config_t *config)
{
    int fds[2];
    if (pipe (fds))
        return -1;
    double start = s_wall ();
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close (fds[0]);
        meshq_sim_result_t result;
        int rc = meshq_sim_run (config, &result);
        ssize_t n = write (fds[1], &result, sizeof result);
        _exit (rc == 0 && n == (ssize_t)sizeof result ? 0 : 1);
    }
    close (fds[1]);
    meshq_sim_result_t r;
    ssize_t got = read (fds[0], &r, sizeof r);
    close (fds[0]);
    int status;
    struct rusage usage;
    if (wait4 (pid, &status, 0, &usage) < 0 || got != (ssize_t)sizeof r ||
        !WIFEXITED (status) || WEXITSTATUS (status)) {
        printf ("| %6u | %4.1f%% | the run failed (out of memory?) |\n",
                config->nodes, config->loss * 100);
        return -1;
    }
    printf ("| %6u | %4.1f%% |", config->nodes, config->loss * 100);
    if (config->warm)
        printf ("    warm |");
    else if (r.converged)
        printf (" %7.2f |", r.full_s);
    else
        printf (" %.1f%% at %u s |", r.full_share * 100,
                config->join_limit_ms / 1000);
    s_print_secs (r.crash_known, r.crash_first_s);
    s_print_secs (r.crash_known, r.crash_all_s);
    printf (" %7.2f |", r.probe_gap_max_s);
    printf (" %6.1f | %8.0f | %6llu | %5llu | %6llu | %7.0f | %5.0f |",
            r.msgs_per_node_s, r.bytes_per_node_s,
            (unsigned long long)r.false_suspicions,
            (unsigned long long)r.false_downs, (unsigned long long)r.bad_msgs,
            usage.ru_maxrss / 1024.0, s_wall () - start);
    if (r.pause_run)
        printf (" pause: %u downs, %s %.2f s |", r.pause_downs,
                r.pause_back ? "back in" : "not back after", r.pause_back_s);
    if (r.partition_run)
        printf (" partition: %s %.2f s |",
                r.partition_healed ? "healed in" : "not healed after",
                r.partition_heal_s);
    printf ("\n");
    fflush (stdout);
    return 0;
}

int
main (int argc, char *argv[])
{
    double sizes[S_MAX_LIST] = {100, 1000, 10000};
    int size_count = 3;
    double losses[S_MAX_LIST] = {1, 5};
    int loss_count = 2;
    bool spread_set = false;
    bool settle_set = false;
    meshq_sim_config_t base;
    meshq_sim_config_defaults (&base, 100, 0);
    static struct option options[] = {
        {"sizes", required_argument, NULL, 'n'},
        {"loss", required_argument, NULL, 'l'},
        {"latency", required_argument, NULL, 'd'},
        {"spread", required_argument, NULL, 's'},
        {"steady", required_argument, NULL, 't'},
        {"settle", required_argument, NULL, 'w'},
        {"join-limit", required_argument, NULL, 'j'},
        {"gossip-max", required_argument, NULL, 'g'},
        {"warm", no_argument, NULL, 'a'},
        {"pause", required_argument, NULL, 'p'},
        {"partition", required_argument, NULL, 'c'},
        {"seed", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int code;
    while ((code = getopt_long (argc, argv, "", options, NULL)) != -1) {
        unsigned a, b;
        switch (code) {
            case 'n':
                size_count = s_parse_list (optarg, sizes, S_MAX_LIST);
                break;
            case 'l':
                loss_count = s_parse_list (optarg, losses, S_MAX_LIST);
                break;
            case 'd':
                if (sscanf (optarg, "%u-%u", &a, &b) != 2 || a > b) {
                    fprintf (stderr, "--latency: MIN-MAX in ms, as 1-5\n");
                    return 64;
                }
                base.latency_min_ms = a;
                base.latency_max_ms = b;
                break;
            case 's':
                base.start_spread_ms = (uint32_t)atol (optarg);
                spread_set = true;
                break;
            case 't':
                base.steady_ms = (uint32_t)atol (optarg);
                break;
            case 'w':
                base.settle_ms = (uint32_t)atol (optarg);
                settle_set = true;
                break;
            case 'j':
                base.join_limit_ms = (uint32_t)atol (optarg);
                break;
            case 'a':
                base.warm = true;
                break;
            case 'g':
                base.swim.gossip_max = (uint32_t)atol (optarg);
                break;
            case 'p':
                base.pause_ms = (uint32_t)atol (optarg);
                break;
            case 'c':
                base.partition_ms = (uint32_t)atol (optarg);
                break;
            case 'r':
                base.seed = strtoull (optarg, NULL, 10);
                break;
            default:
                fprintf (stderr,
                         "usage: bench_sim_membership [--sizes 100,1000,10000]"
                         " [--loss 1,5] [--latency MIN-MAX] [--spread MS]"
                         " [--settle MS] [--steady MS] [--join-limit MS]"
                         " [--gossip-max N] [--warm]"
                         " [--pause MS] [--partition MS] [--seed N]\n");
                return code == 'h' ? 0 : 64;
        }
    }
    if (size_count <= 0 || loss_count <= 0) {
        fprintf (stderr, "--sizes and --loss take lists such as 100,1000 "
                         "and 1,5 (loss in percent)\n");
        return 64;
    }
    //  A warm start fills every gossip queue: let it drain first.
    if (base.warm && !settle_set)
        base.settle_ms = 120000;
    char spread[64];
    if (spread_set)
        snprintf (spread, sizeof spread, "%u", base.start_spread_ms);
    else
        snprintf (spread, sizeof spread, "20 a node (at least 1000)");
    printf ("membership (SWIM) simulated: probe %u ms, timeout %u ms, "
            "k=%u, suspicion %ux, gossip %u ms to %u (%u updates), "
            "latency %u-%u ms, "
            "starts over %s ms, steady window %u s\n\n",
            base.swim.probe_interval_ms, base.swim.probe_timeout_ms,
            base.swim.indirect_checks, base.swim.suspicion_mult,
            base.swim.gossip_interval_ms, base.swim.gossip_nodes,
            base.swim.gossip_max, base.latency_min_ms, base.latency_max_ms,
            spread, base.steady_ms / 1000);
    printf ("|  nodes |  loss | full s  | crash first s | crash all s | "
            "unprobed max s | msgs/node/s | bytes/node/s | false suspicions | "
            "false downs | "
            "bad msgs | peak RSS MB | wall s |\n");
    printf ("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            "---:|\n");
    fflush (stdout);
    int failed = 0;
    for (int i = 0; i < size_count; i++)
        for (int j = 0; j < loss_count; j++) {
            meshq_sim_config_t config = base;
            uint32_t n = (uint32_t)sizes[i];
            if (n < 3 || n > 100000) {
                printf ("| %6u | size out of range 3..100000 |\n", n);
                failed++;
                continue;
            }
            config.nodes = n;
            if (!spread_set)
                config.start_spread_ms = n * 20 > 1000 ? n * 20 : 1000;
            config.loss = losses[j] / 100;
            config.swim.max_members = n + 16;
            config.swim.initial_members = n;
            config.progress = true;
            failed += s_run (&config) != 0;
        }
    return failed ? 1 : 0;
}
