/*  agent.c - one agent under load, against raw ceilings, in one run.

    Starts an agent embedded in this process (store in a temporary
    directory under /var/tmp, on the same disk as a daemon's would be)
    and runs the scenarios of bench/README.md with the bench engine of
    `meshq bench`: (a) persistent, confirms, manual ack, 1 producer and
    1 consumer; (b) the same with 4 consumers; (c) transient, auto-ack;
    (d) one message in flight, publish to confirm. Ceilings measured in
    the same run: raw libzmq DEALER->ROUTER over inproc with the same
    body size; a raw DEALER round trip; a raw 128-byte write+fdatasync.
    Each figure is the median of the runs. Usage: bench_agent [runs]
*/
#include "bench.h"
#include "meshq.h"

#include <czmq.h>

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
s_median (double *values, int count)
{
    qsort (values, (size_t)count, sizeof *values, s_compare);
    return values[count / 2];
}

//  Publish-to-confirm latency with one message in flight, in us.
static void
s_one_in_flight (const char *endpoint, int count, double *p50, double *p99)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_connect (client, endpoint);
    meshq_client_declare_queue (client, "latency", NULL);
    meshq_client_set_confirms (client, 1);
    meshq_client_consume (client, "latency", 100, NULL, MESHQ_NO_ACK);
    double *samples = malloc ((size_t)count * sizeof *samples);
    char body[100] = {0};
    for (int i = 0; i < count; i++) {
        int64_t start = zclock_usecs ();
        meshq_client_publish_body (client, "", "latency", body, sizeof body);
        meshq_client_wait_for_confirms (client, 10000);
        samples[i] = (double)(zclock_usecs () - start);
        meshq_delivery_t *delivery = NULL;
        meshq_client_recv (client, 1000, &delivery);
        meshq_delivery_destroy (&delivery);
    }
    qsort (samples, (size_t)count, sizeof *samples, s_compare);
    *p50 = samples[count / 2];
    *p99 = samples[count * 99 / 100];
    free (samples);
    meshq_client_destroy (&client);
}

int
main (int argc, char *argv[])
{
    int runs = argc > 1 ? atoi (argv[1]) : 3;
    if (runs < 1 || runs > 99) {
        fprintf (stderr, "usage: bench_agent [runs 1..99]\n");
        return 64;
    }
    char dir[] = "/var/tmp/meshq-bench-XXXXXX";
    if (!mkdtemp (dir)) {
        perror ("bench_agent: mkdtemp");
        return 1;
    }
    zsys_set_logstream (NULL);
    int64_t start = zclock_usecs ();
    meshq_agent_t *agent = meshq_agent_new ("bench");
    meshq_agent_set (agent, "data", dir);
    if (meshq_agent_start (agent)) {
        fprintf (stderr, "bench_agent: %s\n", meshq_agent_error (agent));
        return 1;
    }
    double startup_ms = (double)(zclock_usecs () - start) / 1000.0;
    const char *endpoint = meshq_agent_endpoint (agent);

    enum { A, B, C, N };
    const char *names[N] = {"(a) persistent, confirm 1000, ack, pf 100, 1p/1c",
                            "(b) same, 4 consumers",
                            "(c) transient, auto-ack, 1p/1c"};
    double rate[N][99], p50[N][99], p99[N][99];
    double share_min[99], share_max[99];
    double raw[99], rtt[99], fsync_us[99], d50[99], d99[99];
    for (int run = 0; run < runs; run++) {
        fprintf (stderr, "bench_agent: run %d/%d\n", run + 1, runs);
        for (int which = 0; which < N; which++) {
            meshq_bench_config_t config;
            meshq_bench_config_init (&config);
            config.endpoint = endpoint;
            config.count = which == C ? 1000000 : 300000;
            config.consumers = which == B ? 4 : 1;
            if (which == C) {
                config.persistent = false;
                config.confirm_window = 0;
                config.auto_ack = true;
            }
            meshq_bench_result_t result;
            if (meshq_bench_run (&config, &result))
                fprintf (stderr, "bench_agent: %s: %s\n", names[which],
                         result.error);
            rate[which][run] = result.consume_rate;
            p50[which][run] = result.p50_us;
            p99[which][run] = result.p99_us;
            if (which == B) {
                double low = 1, high = 0;
                for (int i = 0; i < 4; i++) {
                    double share =
                        (double)result.per_consumer[i] /
                        (double)(result.consumed ? result.consumed : 1);
                    low = share < low ? share : low;
                    high = share > high ? share : high;
                }
                share_min[run] = low;
                share_max[run] = high;
            }
        }
        raw[run] =
            meshq_bench_raw_throughput ("inproc://bench-raw", 100, 2000000);
        rtt[run] = meshq_bench_raw_round_trip ("inproc://bench-rtt", 100, 2000);
        fsync_us[run] = meshq_bench_raw_fsync (dir, 1000);
        s_one_in_flight (endpoint, 2000, &d50[run], &d99[run]);
    }
    double ceiling = s_median (raw, runs);
    printf ("| scenario | msgs/s (median of %d) | vs raw libzmq | "
            "p50 us | p99 us |\n",
            runs);
    printf ("|---|---|---|---|---|\n");
    printf ("| raw libzmq DEALER->ROUTER inproc, 100 B (ceiling) | %.0f | "
            "100%% | | |\n",
            ceiling);
    for (int which = 0; which < N; which++) {
        double r = s_median (rate[which], runs);
        printf ("| %s | %.0f | %.0f%% | %.0f | %.0f |\n", names[which], r,
                100.0 * r / ceiling, s_median (p50[which], runs),
                s_median (p99[which], runs));
    }
    printf ("\n(b) share per consumer: min %.1f%%, max %.1f%% (medians)\n",
            100 * s_median (share_min, runs), 100 * s_median (share_max, runs));
    double round_trip = s_median (rtt, runs), fsync = s_median (fsync_us, runs);
    double bound = 1.3 * (round_trip + fsync);
    printf ("\n(d) one in flight, persistent, publish to confirm: p50 %.0f us, "
            "p99 %.0f us\n",
            s_median (d50, runs), s_median (d99, runs));
    printf ("    raw round trip %.0f us + raw 128 B write+fdatasync %.0f us; "
            "target p50 <= 1.3 x %.0f = %.0f us, p99 <= 1000 us\n",
            round_trip, fsync, round_trip + fsync, bound);
    printf ("\nstart to ready (empty store): %.1f ms\n", startup_ms);
    meshq_agent_destroy (&agent);
    char command[256];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    return system (command) == 0 ? 0 : 1;
}
