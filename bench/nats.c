/*  nats.c - bench_nats: the transient path against NATS core, in one
    invocation.

    Transient, auto-ack, 1 publisher and 1 subscriber connection,
    100-byte bodies, 1,000,000 messages: NATS core through a private
    nats-server (Debian's, on 127.0.0.1 and a free port, stopped after)
    with its C client (libnats), alternating with `meshq --agent ipc://…
    bench --transient --confirm-window 0 --auto-ack --prefetch 1000`
    against a meshq-agent of this build started here. Each round runs
    both (the order swapped every round); the table gives the medians of
    the rounds: msgs/s end to end (first publish to last delivery),
    publish to delivery p50, the ratio meshq / NATS (target >= 1.0), and
    each server's peak resident set during the run (reset before each
    run) and meshq-agent's after the queue drained.

    With --compare BUILD, the meshq-agent and meshq of another build
    tree run as a third column, in the same rounds: before and after a
    change, measured together. Progress goes to stderr, the table to
    stdout. Exits 1 if a run failed. Usage: bench_nats --help
*/
#include "nats_load.h"
#include "peers.h"

#include <nats/nats.h>

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define S_RUNS 15  //  Rounds at most.

enum { S_NATS, S_MESHQ, S_OTHER, S_SERVERS };

//  One run's figures.
typedef struct {
    double rate;       //  msgs/s end to end; 0: failed.
    double p50;        //  Publish to delivery, us.
    double peak;       //  Peak resident set during the run, kB.
    double after;      //  Resident set once drained (meshq), kB.
    double idle;       //  Idle resident set (meshq), kB.
    double client_us;  //  Client CPU per message (both connections), us.
    double server_us;  //  Server CPU per message, us.
} s_figures_t;

//  CPU seconds of this process (who = RUSAGE_SELF) or of its waited-for
//  children (RUSAGE_CHILDREN).
static double
s_rusage_s (int who)
{
    struct rusage usage;
    getrusage (who, &usage);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_stime.tv_sec +
           ((double)usage.ru_utime.tv_usec + (double)usage.ru_stime.tv_usec) /
               1e6;
}

//  What this process started, for the cleanup on exit or a signal.
static meshq_nats_server_t s_nats;
static meshq_bench_agent_t s_meshq[2] = {{.name = "bench-nats"},
                                         {.name = "bench-nats"}};

static void
s_cleanup (void)
{
    for (int i = 0; i < 2; i++)
        meshq_bench_agent_stop (&s_meshq[i]);
    meshq_nats_stop (&s_nats);
}

//  Runs `meshq bench` of meshq's build against its agent.
static s_figures_t
s_run_meshq (meshq_bench_agent_t *meshq, unsigned long long count,
             double settle)
{
    s_figures_t figures = {0};
    meshq_bench_reset_peak (meshq->pid);
    char args[512], output[4096];
    snprintf (args, sizeof args,
              "--queue meshq-bench-nats --producers 1 --consumers 1 --count "
              "%llu --size 100 --transient --confirm-window 0 --auto-ack "
              "--prefetch 1000 --settle %g",
              count, settle);
    double client = s_rusage_s (RUSAGE_CHILDREN);
    double server = meshq_bench_proc_cpu_s (meshq->pid);
    int rc = meshq_bench_agent_bench (meshq, args, output, sizeof output);
    //  Both include the time the memory takes to come back after the
    //  run (settle): the client's polls, the agent's trims.
    client = s_rusage_s (RUSAGE_CHILDREN) - client;
    server = meshq_bench_proc_cpu_s (meshq->pid) - server;
    figures.client_us = client * 1e6 / (double)count;
    figures.server_us = server * 1e6 / (double)count;
    if (rc)
        return figures;
    figures.rate = meshq_bench_json_number (output, "consume_rate");
    figures.p50 = meshq_bench_json_number (output, "p50");
    const char *memory = strstr (output, "\"agent_kb\":");
    if (memory) {
        figures.idle = meshq_bench_json_number (memory, "idle");
        figures.peak = meshq_bench_json_number (memory, "peak");
        figures.after = meshq_bench_json_number (memory, "after");
    }
    return figures;
}

static s_figures_t
s_run_nats (const char *host, int port, unsigned long long count)
{
    s_figures_t figures = {0};
    if (s_nats.pid > 0)
        meshq_bench_reset_peak (s_nats.pid);
    meshq_nats_load_result_t result;
    double client = s_rusage_s (RUSAGE_SELF);
    double server = s_nats.pid > 0 ? meshq_bench_proc_cpu_s (s_nats.pid) : 0;
    int rc = meshq_nats_load_run (host, port, count, 100, &result);
    figures.client_us =
        (s_rusage_s (RUSAGE_SELF) - client) * 1e6 / (double)count;
    if (s_nats.pid > 0)
        figures.server_us = (meshq_bench_proc_cpu_s (s_nats.pid) - server) *
                            1e6 / (double)count;
    if (rc)
        fprintf (stderr, "bench_nats: NATS: %s\n", result.error);
    else {
        figures.rate = result.consume_rate;
        figures.p50 = result.p50_us;
    }
    if (s_nats.pid > 0) {
        figures.peak = (double)meshq_bench_proc_kb (s_nats.pid, "VmHWM");
        figures.after = (double)meshq_bench_proc_kb (s_nats.pid, "VmRSS");
    }
    return figures;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  The median of field over the runs that gave a rate; 0 if none did.
static double
s_median (const s_figures_t *runs, int count, size_t offset)
{
    double sorted[S_RUNS];
    int n = 0;
    for (int i = 0; i < count; i++)
        if (runs[i].rate > 0)
            memcpy (&sorted[n++], (const char *)&runs[i] + offset,
                    sizeof (double));
    if (n == 0)
        return 0;
    qsort (sorted, (size_t)n, sizeof *sorted, s_compare);
    return sorted[n / 2];
}

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: bench_nats [--runs N] [--count N] [--settle S] "
             "[--dir DIR]\n"
             "                  [--nats HOST:PORT | --no-nats] "
             "[--compare BUILD]\n"
             "Starts a meshq-agent of this build and, without --nats, a "
             "private\nnats-server (Debian's) on 127.0.0.1; --compare BUILD "
             "adds the meshq-agent\nand meshq of another build tree as a "
             "column.\n");
}

int
main (int argc, char **argv)
{
    int runs = 3;
    unsigned long long count = 1000000;
    double settle = 10;
    const char *parent = "/var/tmp";
    bool nats = true;
    char nats_host[64] = "127.0.0.1";
    int nats_port = 0;
    s_meshq[0].build = MESHQ_BINARY_DIR;
    static const struct option longs[] = {
        {"runs", required_argument, NULL, 'r'},
        {"count", required_argument, NULL, 'n'},
        {"settle", required_argument, NULL, 's'},
        {"dir", required_argument, NULL, 'd'},
        {"nats", required_argument, NULL, 'N'},
        {"no-nats", no_argument, NULL, 'x'},
        {"compare", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long (argc, argv, "", longs, NULL)) != -1) {
        switch (opt) {
            case 'r':
                runs = atoi (optarg);
                break;
            case 'n':
                count = strtoull (optarg, NULL, 10);
                break;
            case 's':
                settle = atof (optarg);
                break;
            case 'd':
                parent = optarg;
                break;
            case 'N': {
                const char *colon = strrchr (optarg, ':');
                if (!colon || colon == optarg ||
                    (size_t)(colon - optarg) >= sizeof nats_host ||
                    (nats_port = atoi (colon + 1)) < 1 || nats_port > 65535) {
                    fprintf (stderr,
                             "bench_nats: --nats '%s': takes HOST:PORT\n",
                             optarg);
                    return 64;
                }
                snprintf (nats_host, sizeof nats_host, "%.*s",
                          (int)(colon - optarg), optarg);
                break;
            }
            case 'x':
                nats = false;
                break;
            case 'c':
                s_meshq[1].build = optarg;
                break;
            case 'h':
                s_usage (stdout);
                return 0;
            default:
                s_usage (stderr);
                return 64;
        }
    }
    if (optind != argc || runs < 1 || runs > S_RUNS || count < 1 ||
        settle < 0) {
        s_usage (stderr);
        return 64;
    }
    srand ((unsigned)getpid () ^ (unsigned)time (NULL));
    meshq_bench_cleanup_on_exit (s_cleanup);

    bool active[S_SERVERS] = {nats, true, s_meshq[1].build != NULL};
    for (int i = 0; i < 2; i++)
        if (active[S_MESHQ + i] &&
            meshq_bench_agent_start (&s_meshq[i], parent))
            return 70;
    if (nats && !nats_port) {
        if (!meshq_nats_available ()) {
            fprintf (stderr, "bench_nats: nats-server is not installed "
                             "(apt-get install nats-server): NATS is "
                             "skipped\n");
            active[S_NATS] = false;
        } else if (meshq_nats_start (&s_nats, parent, false))
            return 70;
        else
            nats_port = s_nats.port;
    }
    if (active[S_NATS] && nats_Open (-1) != NATS_OK) {
        fprintf (stderr, "bench_nats: libnats does not start\n");
        return 70;
    }
    //  The agents' idle resident set is taken 3 s after start.
    sleep (3);

    const char *names[S_SERVERS] = {"NATS core", "meshq", "meshq (compare)"};
    s_figures_t figures[S_SERVERS][S_RUNS];
    memset (figures, 0, sizeof figures);
    int failures = 0;
    for (int run = 0; run < runs; run++)
        for (int turn = 0; turn < S_SERVERS; turn++) {
            //  Each round starts with the next server: no one is always
            //  first after a pause, or always after a given other.
            int server = (turn + run) % S_SERVERS;
            if (!active[server])
                continue;
            fprintf (stderr, "bench_nats: round %d/%d, %s ...\n", run + 1, runs,
                     names[server]);
            s_figures_t *f = &figures[server][run];
            if (server == S_NATS)
                *f = s_run_nats (nats_host, nats_port, count);
            else
                *f = s_run_meshq (&s_meshq[server - S_MESHQ], count, settle);
            failures += f->rate <= 0;
            fprintf (stderr,
                     "bench_nats:   %.0f msgs/s, p50 %.0f us, peak %.1f MB, "
                     "CPU per message %.2f us client + %.2f us server\n",
                     f->rate, f->p50, f->peak / 1024, f->client_us,
                     f->server_us);
        }
    if (active[S_NATS])
        nats_Close ();

    s_figures_t median[S_SERVERS];
    for (int server = 0; server < S_SERVERS; server++) {
        median[server].rate =
            s_median (figures[server], runs, offsetof (s_figures_t, rate));
        median[server].p50 =
            s_median (figures[server], runs, offsetof (s_figures_t, p50));
        median[server].peak =
            s_median (figures[server], runs, offsetof (s_figures_t, peak));
        median[server].after =
            s_median (figures[server], runs, offsetof (s_figures_t, after));
        median[server].idle =
            s_median (figures[server], runs, offsetof (s_figures_t, idle));
        median[server].client_us =
            s_median (figures[server], runs, offsetof (s_figures_t, client_us));
        median[server].server_us =
            s_median (figures[server], runs, offsetof (s_figures_t, server_us));
    }
    char nats_name[64];
    snprintf (nats_name, sizeof nats_name, "NATS%s%s core",
              *s_nats.version ? " " : "", s_nats.version);
    printf ("\ntransient, auto-ack, 1P/1C, %llu x 100-byte messages, median "
            "of %d alternating runs\n\n",
            count, runs);
    printf ("| | meshq | %s | meshq / NATS%s |\n", nats_name,
            active[S_OTHER] ? " | meshq (compare) | meshq / compare" : "");
    printf ("|---|---|---|---|%s\n", active[S_OTHER] ? "---|---|" : "");
    double target = median[S_NATS].rate > 0
                        ? median[S_MESHQ].rate / median[S_NATS].rate
                        : 0;
    printf ("| msgs/s end to end | %.0f | %.0f | %.2fx (>= 1.0: %s) |",
            median[S_MESHQ].rate, median[S_NATS].rate, target,
            target >= 1.0 ? "met" : "missed");
    if (active[S_OTHER])
        printf (" %.0f | %.2fx |", median[S_OTHER].rate,
                median[S_OTHER].rate > 0
                    ? median[S_MESHQ].rate / median[S_OTHER].rate
                    : 0);
    printf ("\n| publish to delivery p50 (us) | %.0f | %.0f | |",
            median[S_MESHQ].p50, median[S_NATS].p50);
    if (active[S_OTHER])
        printf (" %.0f | |", median[S_OTHER].p50);
    printf ("\n| CPU per message, client + server (us) | %.2f + %.2f | %.2f + "
            "%.2f | %.2fx |",
            median[S_MESHQ].client_us, median[S_MESHQ].server_us,
            median[S_NATS].client_us, median[S_NATS].server_us,
            median[S_MESHQ].client_us + median[S_MESHQ].server_us > 0
                ? (median[S_NATS].client_us + median[S_NATS].server_us) /
                      (median[S_MESHQ].client_us + median[S_MESHQ].server_us)
                : 0);
    if (active[S_OTHER])
        printf (
            " %.2f + %.2f | %.2fx |", median[S_OTHER].client_us,
            median[S_OTHER].server_us,
            median[S_MESHQ].client_us + median[S_MESHQ].server_us > 0
                ? (median[S_OTHER].client_us + median[S_OTHER].server_us) /
                      (median[S_MESHQ].client_us + median[S_MESHQ].server_us)
                : 0);
    printf ("\n| server peak RSS in the run (MB) | %.1f | %.1f | |",
            median[S_MESHQ].peak / 1024, median[S_NATS].peak / 1024);
    if (active[S_OTHER])
        printf (" %.1f | |", median[S_OTHER].peak / 1024);
    printf ("\n| server RSS after the drain (MB; meshq idle) | %.1f (%.1f) | "
            "%.1f | |",
            median[S_MESHQ].after / 1024, median[S_MESHQ].idle / 1024,
            median[S_NATS].after / 1024);
    if (active[S_OTHER])
        printf (" %.1f (%.1f) | |", median[S_OTHER].after / 1024,
                median[S_OTHER].idle / 1024);
    printf ("\n");
    fflush (stdout);
    if (failures)
        fprintf (stderr, "bench_nats: %d runs failed (see above)\n", failures);
    return failures ? 1 : 0;
}
