/*  mesh.c - the mesh under load: producers and consumers on different
    agents of one mesh, on loopback, in one run.

    Starts three agents A, B and C embedded in this process (stores in
    temporary directories under /var/tmp), joined as one mesh of their
    own, and runs the scenarios of bench/README.md with the bench engine
    of `meshq bench`, all with 100-byte persistent messages on a durable
    queue, confirm window 1000, manual ack, prefetch 100: (a) producer on
    A, consumer on B; (b) producers on A and B, 4 consumers on A, B, C, A;
    (c) as (b) with every consumer doing 50 us of work per message and
    consumer 0 doing twice that, so its share should be about half the
    others'. The ceiling measured in the same run is raw libzmq
    DEALER->ROUTER over tcp on loopback, the transport between agents.
    Each figure is the median of the runs. Usage: bench_mesh [runs
    [scenarios]], scenarios as letters, e.g. `bench_mesh 1 a`; the
    environment variables PF and RA, if set, replace the prefetch and the
    agents' read_ahead setting, to see what each is worth; if
    MESHQ_BENCH_SECRET_FILE names a mesh secret file (mode 600), every
    agent uses it, so that mesh links are CURVE: the cost of a secure
    mesh.
*/
#include "bench_util.h"
#include "args.h"
#include "bench.h"
#include "client_internal.h"
#include "codec_args.h"
#include "meshq.h"

#include <czmq.h>

#define S_AGENTS 3

//  Peers up as the agent at endpoint reports them in STATUS, or -1.
static int
s_peers_up (const char *endpoint)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_args_t args, status;
    memset (&args, 0, sizeof args);
    zmsg_t *reply = NULL;
    int up = -1;
    if (meshq_client_connect (client, endpoint) == 0 &&
        meshq_client_call (client, "STATUS", &args, &reply) == 0) {
        zmsg_first (reply);
        zframe_t *frame = zmsg_next (reply);
        if (frame &&
            meshq_codec_decode_args (zframe_data (frame), zframe_size (frame),
                                     &status, NULL) == 0)
            up = (int)status.peers;
    }
    zmsg_destroy (&reply);
    meshq_client_destroy (&client);
    return up;
}

int
main (int argc, char *argv[])
{
    int runs = argc > 1 ? atoi (argv[1]) : 3;
    const char *only = argc > 2 ? argv[2] : "abc";
    if (runs < 1 || runs > 99) {
        fprintf (stderr, "usage: bench_mesh [runs 1..99 [scenarios]]\n");
        return 64;
    }
    zsys_set_logstream (NULL);
    char mesh[64];
    snprintf (mesh, sizeof mesh, "bench-%d", (int)getpid ());
    char dirs[S_AGENTS][64];
    meshq_agent_t *agents[S_AGENTS];
    const char *endpoints[S_AGENTS];
    for (int i = 0; i < S_AGENTS; i++) {
        snprintf (dirs[i], sizeof dirs[i], "/var/tmp/meshq-bench-XXXXXX");
        char name[32];
        snprintf (name, sizeof name, "%c-%d", 'a' + i, (int)getpid ());
        agents[i] = meshq_agent_new (name);
        meshq_agent_set (agents[i], "data", mkdtemp (dirs[i]));
        meshq_agent_set (agents[i], "mesh", mesh);
        if (getenv ("RA"))
            meshq_agent_set (agents[i], "read_ahead", getenv ("RA"));
        if (getenv ("MESHQ_BENCH_SECRET_FILE"))
            meshq_agent_set (agents[i], "mesh_secret_file",
                             getenv ("MESHQ_BENCH_SECRET_FILE"));
        if (meshq_agent_start (agents[i])) {
            fprintf (stderr, "bench_mesh: %s\n", meshq_agent_error (agents[i]));
            return 1;
        }
        endpoints[i] = meshq_agent_endpoint (agents[i]);
    }
    //  Every agent sees the two others before the first run.
    int64_t deadline = zclock_mono () + 15000;
    for (int i = 0; i < S_AGENTS; i++)
        while (s_peers_up (endpoints[i]) < S_AGENTS - 1) {
            if (zclock_mono () > deadline) {
                fprintf (stderr, "bench_mesh: agents never met\n");
                return 1;
            }
            zclock_sleep (50);
        }

    enum { A, B, C, N };
    const char *names[N] = {"(a) producer on A, consumer on B",
                            "(b) producers on A, B; 4 consumers on A, B, C, A",
                            "(c) as (b), 50 us work each, consumer 0 100 us"};
    const char *const at_a[] = {endpoints[0]};
    const char *const at_b[] = {endpoints[1]};
    const char *const at_ab[] = {endpoints[0], endpoints[1]};
    const char *const at_abc[] = {endpoints[0], endpoints[1], endpoints[2]};
    double rate[N][99], p50[N][99], p99[N][99], share[N][4][99], raw[99];
    for (int run = 0; run < runs; run++) {
        fprintf (stderr, "bench_mesh: run %d/%d\n", run + 1, runs);
        for (int which = 0; which < N; which++) {
            if (!strchr (only, 'a' + which))
                continue;
            meshq_bench_config_t config;
            meshq_bench_config_init (&config);
            char queue[64];
            snprintf (queue, sizeof queue, "bench-%d-%d", which, run);
            config.queue = queue;
            config.count = which == C ? 150000 : 300000;
            config.progress = true;
            if (getenv ("PF"))
                config.prefetch = atoi (getenv ("PF"));
            if (which == A) {
                config.endpoint = endpoints[0];
                config.publish_at = at_a;
                config.publish_at_count = 1;
                config.consume_at = at_b;
                config.consume_at_count = 1;
            } else {
                config.endpoint = endpoints[0];
                config.producers = 2;
                config.consumers = 4;
                config.publish_at = at_ab;
                config.publish_at_count = 2;
                config.consume_at = at_abc;
                config.consume_at_count = 3;
            }
            if (which == C) {
                config.work_us = 50;
                config.slow_consumer = 0;
                config.slow_us = 50;
            }
            meshq_bench_result_t result;
            if (meshq_bench_run (&config, &result))
                fprintf (stderr, "bench_mesh: %s: %s\n", names[which],
                         result.error);
            rate[which][run] = result.consume_rate;
            p50[which][run] = result.p50_us;
            p99[which][run] = result.p99_us;
            for (int i = 0; i < 4; i++)
                share[which][i][run] =
                    100.0 * (double)result.per_consumer[i] /
                    (double)(result.consumed ? result.consumed : 1);
        }
        raw[run] =
            meshq_bench_raw_throughput ("tcp://127.0.0.1:*", 100, 2000000);
    }
    double ceiling = meshq_bench_median (raw, runs);
    printf ("| scenario | msgs/s (median of %d) | vs raw libzmq | p50 us | "
            "p99 us | share per consumer %% |\n",
            runs);
    printf ("|---|---|---|---|---|---|\n");
    printf ("| raw libzmq DEALER->ROUTER tcp loopback, 100 B (ceiling) | %.0f "
            "| 100%% | | | |\n",
            ceiling);
    for (int which = 0; which < N; which++) {
        if (!strchr (only, 'a' + which))
            continue;
        double r = meshq_bench_median (rate[which], runs);
        printf ("| %s | %.0f | %.0f%% | %.0f | %.0f |", names[which], r,
                100.0 * r / ceiling, meshq_bench_median (p50[which], runs),
                meshq_bench_median (p99[which], runs));
        for (int i = 0; which != A && i < 4; i++)
            printf ("%s%.1f", i ? " / " : " ",
                    meshq_bench_median (share[which][i], runs));
        printf (" |\n");
    }
    for (int i = 0; i < S_AGENTS; i++) {
        meshq_agent_destroy (&agents[i]);
        char command[256];
        snprintf (command, sizeof command, "rm -rf '%s'", dirs[i]);
        if (system (command) != 0)
            fprintf (stderr, "bench_mesh: could not remove %s\n", dirs[i]);
    }
    return 0;
}
