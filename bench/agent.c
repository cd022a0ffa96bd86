/*  agent.c - one agent under load, against raw ceilings, in one run.

    Starts an agent embedded in this process (store in a temporary
    directory under /var/tmp, on the same disk as a daemon's would be)
    and runs the scenarios of bench/README.md with the bench engine of
    `meshq bench`: (a) persistent, confirms, manual ack, 1 producer and
    1 consumer; (b) the same with 4 consumers; (c) transient, auto-ack;
    (d) one message in flight, publish to confirm. Ceilings measured in
    the same run: raw libzmq DEALER->ROUTER over inproc with the same
    body size; a raw DEALER round trip (the
    echoing ROUTER on its own thread, as the agent is, pinned to another
    CPU, and to the same CPU); a raw 128-byte write+fdatasync.
    Each figure is the median of the runs. Last, the meshq-agent program
    of the same build is started with an empty store: time to ready and
    idle memory from /proc/PID/status; then (e) the transient run of 1M
    messages against it, with the agent's idle, peak and after-drain
    memory (STATUS). Usage: bench_agent [runs]
*/
#include "bench_util.h"
#include "bench.h"
#include "meshq.h"

#include <czmq.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
    meshq_bench_sort (samples, count);
    *p50 = samples[count / 2];
    *p99 = samples[count * 99 / 100];
    free (samples);
    meshq_client_destroy (&client);
}

//  Reads a "Name:   N kB" line of /proc/PID/status, in kB (-1 if none).
static long
s_status_kb (pid_t pid, const char *name)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    long value = -1;
    size_t length = strlen (name);
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, name, length) == 0 && line[length] == ':')
            value = atol (line + length + 1);
    if (file)
        fclose (file);
    return value;
}

//  Runs the meshq-agent program of this build (../agents/meshq-agent
//  beside this program) with its store under dir: *bound_ms from spawn
//  to its ipc:// socket file, *ready_ms to a client's HELLO answered
//  there (a first PLAIN login), then its VmRSS, RssAnon and
//  RssFile in kB after a second idle; then runs the transient 1M run
//  against it (*memory: its result). Returns 0, or -1 if it cannot.
static int
s_daemon (const char *dir, double *bound_ms, double *ready_ms, long *rss,
          long *anon, long *file, meshq_bench_result_t *memory)
{
    char self[1024], program[1100], data[1100], socket[1100], endpoint[1200];
    ssize_t size = readlink ("/proc/self/exe", self, sizeof self - 1);
    if (size <= 0)
        return -1;
    self[size] = 0;
    *strrchr (self, '/') = 0;
    snprintf (program, sizeof program, "%s/../agents/meshq-agent", self);
    snprintf (data, sizeof data, "%s/daemon", dir);
    snprintf (socket, sizeof socket, "%s/agent.ipc", dir);
    snprintf (endpoint, sizeof endpoint, "ipc://%s", socket);
    if (access (program, X_OK))
        return -1;
    unlink (socket);
    //  posix_spawn, not fork: copying this big process's page tables
    //  would be counted as the agent's start.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen (&actions, 2, "/dev/null", O_WRONLY, 0);
    char *args[] = {program,  "--data",       data, "--control",
                    endpoint, "--standalone", NULL};
    int64_t start = zclock_usecs ();
    pid_t pid;
    int spawned = posix_spawn (&pid, program, &actions, NULL, args, environ);
    posix_spawn_file_actions_destroy (&actions);
    if (spawned)
        return -1;
    struct stat info;
    while (stat (socket, &info) && zclock_usecs () - start < 5000000)
        usleep (100);
    *bound_ms = (double)(zclock_usecs () - start) / 1000.0;
    meshq_client_t *client = meshq_client_new ();
    int rc = meshq_client_connect (client, endpoint);
    *ready_ms = (double)(zclock_usecs () - start) / 1000.0;
    meshq_client_destroy (&client);
    zclock_sleep (1000);
    *rss = s_status_kb (pid, "VmRSS");
    *anon = s_status_kb (pid, "RssAnon");
    *file = s_status_kb (pid, "RssFile");
    //  Idle as the agent counts it (3 s after start), then the run.
    zclock_sleep (2500);
    meshq_bench_config_t config;
    meshq_bench_config_init (&config);
    config.endpoint = endpoint;
    config.count = 1000000;
    config.persistent = false;
    config.confirm_window = 0;
    config.auto_ack = true;
    config.prefetch = 1000;
    config.settle = 10;
    if (meshq_bench_run (&config, memory))
        fprintf (stderr, "bench_agent: (e): %s\n", memory->error);
    kill (pid, SIGTERM);
    waitpid (pid, NULL, 0);
    return rc ? -1 : 0;
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
    double raw[99], rtt[99], rtt_same[99], fsync_us[99], d50[99], d99[99];
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
        char endpoint_rtt[64];
        snprintf (endpoint_rtt, sizeof endpoint_rtt, "inproc://bench-rtt-%d",
                  run);
        rtt[run] = meshq_bench_raw_round_trip (endpoint_rtt, 100, 2000, false);
        snprintf (endpoint_rtt, sizeof endpoint_rtt,
                  "inproc://bench-rtt-same-%d", run);
        rtt_same[run] =
            meshq_bench_raw_round_trip (endpoint_rtt, 100, 2000, true);
        fsync_us[run] = meshq_bench_raw_fsync (dir, 1000);
        s_one_in_flight (endpoint, 2000, &d50[run], &d99[run]);
    }
    double ceiling = meshq_bench_median (raw, runs);
    printf ("| scenario | msgs/s (median of %d) | vs raw libzmq | "
            "p50 us | p99 us |\n",
            runs);
    printf ("|---|---|---|---|---|\n");
    printf ("| raw libzmq DEALER->ROUTER inproc, 100 B (ceiling) | %.0f | "
            "100%% | | |\n",
            ceiling);
    for (int which = 0; which < N; which++) {
        double r = meshq_bench_median (rate[which], runs);
        printf ("| %s | %.0f | %.0f%% | %.0f | %.0f |\n", names[which], r,
                100.0 * r / ceiling, meshq_bench_median (p50[which], runs),
                meshq_bench_median (p99[which], runs));
    }
    printf ("\n(b) share per consumer: min %.1f%%, max %.1f%% (medians)\n",
            100 * meshq_bench_median (share_min, runs),
            100 * meshq_bench_median (share_max, runs));
    double round_trip = meshq_bench_median (rtt, runs),
           fsync = meshq_bench_median (fsync_us, runs);
    double same = meshq_bench_median (rtt_same, runs);
    double bound = 1.3 * (round_trip + fsync);
    printf ("\n(d) one in flight, persistent, publish to confirm: p50 %.0f us, "
            "p99 %.0f us\n",
            meshq_bench_median (d50, runs), meshq_bench_median (d99, runs));
    printf ("    raw round trip %.0f us (echo on another CPU) + raw 128 B "
            "write+fdatasync %.0f us; target p50 <= 1.3 x %.0f = %.0f us, "
            "p99 <= 1000 us\n",
            round_trip, fsync, round_trip + fsync, bound);
    printf ("    (echo on the same CPU: round trip %.0f us, bound %.0f us)\n",
            same, 1.3 * (same + fsync));
    printf ("\nstart to ready (empty store): %.1f ms embedded", startup_ms);
    double bound_ms, ready_ms;
    long rss, anon, file;
    meshq_bench_result_t memory;
    memset (&memory, 0, sizeof memory);
    if (s_daemon (dir, &bound_ms, &ready_ms, &rss, &anon, &file, &memory) ==
        0) {
        printf ("; meshq-agent process: %.1f ms from spawn to listening on "
                "ipc://, %.1f ms to a first HELLO answered there\n"
                "idle meshq-agent: VmRSS %ld kB (RssAnon %ld kB, RssFile %ld "
                "kB)\n",
                bound_ms, ready_ms, rss, anon, file);
        printf ("\n(e) transient, auto-ack, pf 1000, 1p/1c, 1M messages, to "
                "the meshq-agent process: %.0f msgs/s\n"
                "    agent memory: idle %.1f MB, peak %.1f MB (target <= 64), "
                "at the end %.1f MB, %s %.1f s: %.1f MB (target <= 2 x "
                "idle)\n",
                memory.consume_rate, memory.rss_idle_kb / 1024.0,
                memory.rss_peak_kb / 1024.0, memory.rss_end_kb / 1024.0,
                memory.back_s >= 0 ? "within 2 x idle after" : "after",
                memory.back_s >= 0 ? memory.back_s : 10.0,
                memory.rss_after_kb / 1024.0);
    } else
        printf ("\n(meshq-agent not found beside this program: no idle "
                "figures)\n");
    meshq_agent_destroy (&agent);
    char command[256];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    return system (command) == 0 ? 0 : 1;
}
