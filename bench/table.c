/*  table.c - bench_table: issue 15's table, meshq beside RabbitMQ and
    NATS, in one command.

    Rows (100-byte messages, one connection per producer and consumer):
    durable (persistent, confirms window 1000, manual ack, prefetch 100)
    1P/1C and 1P/4C, in msgs/s end to end; transient (no confirms,
    auto-ack) 1P/1C; one message in flight, persistent: publish to
    delivered and publish to confirmed, p50 / p99; the end-to-end latency
    p50 of the durable 1P/1C run; each server's peak resident set over a
    round and its resident set 10 s after the round.

    Columns: meshq (`meshq bench --json` of this build against a
    meshq-agent it starts, over ipc://), RabbitMQ (a private node of
    Debian's rabbitmq-server, rabbitmq-c), NATS (a private nats-server
    with JetStream on a file store in a scratch directory, libnats: core
    for the transient row, JetStream for the durable and latency rows),
    then meshq's ratio against each, and on the latency rows the raw
    ceilings measured by the same `meshq bench` run (ipc round trip,
    write + fdatasync) and meshq's ratio against them.

    Each round runs every row against every server, the servers' order
    turning round by round; the table gives the medians of the rounds.
    Progress goes to stderr, the table (Markdown) to stdout. A missing
    rabbitmq-server or nats-server is said and its columns left out. What
    it started is stopped at exit, on failure and on Ctrl-C. Exits 1 if
    a run failed. Usage: bench_table --help
*/
#include "amqp_load.h"
#include "bench_util.h"
#include "nats_load.h"
#include "peers.h"

#include <nats/nats.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_RUNS 9  //  Rounds at most.

enum { S_MESHQ, S_RABBITMQ, S_NATS, S_SERVERS };
enum { S_DURABLE, S_DURABLE_4C, S_TRANSIENT, S_LATENCY, S_ROWS };

//  One run of one row against one server. Rates in msgs/s, times in us;
//  0: not measured.
typedef struct {
    double rate;    //  End to end.
    double p50;     //  Publish to delivery.
    double p99;     //  Same.
    double c50;     //  Publish to confirm (ack), one in flight.
    double c99;     //  Same.
    double rtt;     //  Raw ipc round trip (meshq's latency run).
    double sync50;  //  Raw write + fdatasync p50, in place (same).
    double sync99;  //  Same, p99.
    double grow50;  //  Raw write + fdatasync p50, growing file (same).
    double grow99;  //  Same, p99.
} s_figures_t;

//  A server's memory over one round, kB.
typedef struct {
    double peak;   //  VmHWM over the round.
    double after;  //  VmRSS 10 s after it.
} s_memory_t;

typedef struct {
    int runs;
    uint64_t count;            //  Durable messages a run.
    uint64_t transient_count;  //  Transient messages a run.
    uint64_t latency_count;    //  One-in-flight messages a run.
    const char *parent;        //  Scratch directories.
    bool rabbitmq;             //  Start and measure RabbitMQ.
    bool nats;                 //  Start and measure NATS.
} s_options_t;

static meshq_bench_agent_t s_agent = {.build = MESHQ_BINARY_DIR,
                                      .name = "bench-table"};
static meshq_rabbitmq_t s_rabbit;
static meshq_nats_server_t s_nats;

static void
s_cleanup (void)
{
    meshq_bench_agent_stop (&s_agent);
    meshq_rabbitmq_stop (&s_rabbit);
    meshq_nats_stop (&s_nats);
}

static const char *s_row_names[S_ROWS] = {
    "durable, confirms 1000, manual ack, prefetch 100, 1P/1C",
    "same, 4 consumers", "transient, auto-ack, 1P/1C",
    "one in flight, persistent"};

//  The server process whose memory is measured (RabbitMQ's Erlang VM,
//  under its start script); 0 if none.
static pid_t
s_pid (int server)
{
    if (server == S_MESHQ)
        return s_agent.pid;
    if (server == S_NATS)
        return s_nats.pid;
    return s_rabbit.server > 0
               ? meshq_bench_largest_descendant (s_rabbit.server)
               : 0;
}

//  meshq: `meshq bench` of this build against the agent.
static s_figures_t
s_run_meshq (int row, const s_options_t *options)
{
    s_figures_t f = {0};
    char args[512], output[8192];
    if (row == S_TRANSIENT)
        snprintf (args, sizeof args,
                  "--queue bench-table --count %llu --transient "
                  "--confirm-window 0 --auto-ack --prefetch 1000 --settle 0",
                  (unsigned long long)options->transient_count);
    else if (row == S_LATENCY)
        snprintf (args, sizeof args,
                  "--queue bench-table --count %llu --persistent "
                  "--confirm-window 1 --prefetch 100 --settle 0 "
                  "--raw-dir '%s'",
                  (unsigned long long)options->latency_count, options->parent);
    else
        snprintf (args, sizeof args,
                  "--queue bench-table --count %llu --consumers %d "
                  "--persistent --confirm-window 1000 --prefetch 100 "
                  "--settle 0",
                  (unsigned long long)options->count,
                  row == S_DURABLE_4C ? 4 : 1);
    if (meshq_bench_agent_bench (&s_agent, args, output, sizeof output))
        return f;
    f.rate = meshq_bench_json_number (output, "consume_rate");
    const char *latency = strstr (output, "\"latency_us\":");
    const char *confirm = strstr (output, "\"confirm_us\":");
    const char *raw = strstr (output, "\"raw_us\":");
    if (latency) {
        f.p50 = meshq_bench_json_number (latency, "p50");
        f.p99 = meshq_bench_json_number (latency, "p99");
    }
    if (confirm && row == S_LATENCY) {
        f.c50 = meshq_bench_json_number (confirm, "p50");
        f.c99 = meshq_bench_json_number (confirm, "p99");
    }
    if (raw && row == S_LATENCY) {
        f.rtt = meshq_bench_json_number (raw, "round_trip");
        f.sync50 = meshq_bench_json_number (raw, "in_place_p50");
        f.sync99 = meshq_bench_json_number (raw, "in_place_p99");
        f.grow50 = meshq_bench_json_number (raw, "fsync_p50");
        f.grow99 = meshq_bench_json_number (raw, "fsync_p99");
    }
    return f;
}

static s_figures_t
s_run_rabbitmq (int row, const s_options_t *options)
{
    s_figures_t f = {0};
    const meshq_amqp_load_t loads[S_ROWS] = {
        {"durable 1P/1C", 1, 1, options->count, 100, true, 1000, 100, false},
        {"durable 1P/4C", 1, 4, options->count, 100, true, 1000, 100, false},
        {"transient", 1, 1, options->transient_count, 100, false, 0, 1000,
         true},
        {"one in flight", 1, 1, options->latency_count, 100, true, 1, 100,
         false}};
    const meshq_amqp_server_t server = {"127.0.0.1", s_rabbit.port, "guest",
                                        "guest", "/"};
    meshq_amqp_load_result_t result;
    if (meshq_amqp_load_run (&server, "bench-table", &loads[row], &result)) {
        fprintf (stderr, "bench_table: RabbitMQ: %s\n", result.error);
        return f;
    }
    f.rate = result.consume_rate;
    f.p50 = result.p50_us;
    f.p99 = result.p99_us;
    f.c50 = result.confirm_p50_us;
    f.c99 = result.confirm_p99_us;
    return f;
}

static s_figures_t
s_run_nats (int row, const s_options_t *options)
{
    s_figures_t f = {0};
    meshq_nats_load_result_t result;
    int rc;
    if (row == S_TRANSIENT)
        rc = meshq_nats_load_run ("127.0.0.1", s_nats.port,
                                  options->transient_count, 100, &result);
    else if (row == S_LATENCY)
        rc =
            meshq_nats_latency_run ("127.0.0.1", s_nats.port,
                                    options->latency_count, 100, true, &result);
    else {
        const meshq_nats_js_load_t load = {row == S_DURABLE_4C ? 4 : 1,
                                           options->count, 100, 1000, 100};
        rc = meshq_nats_js_load_run ("127.0.0.1", s_nats.port, &load, &result);
    }
    if (rc) {
        fprintf (stderr, "bench_table: NATS: %s\n", result.error);
        return f;
    }
    f.rate = result.consume_rate;
    f.p50 = result.p50_us;
    f.p99 = result.p99_us;
    f.c50 = result.ack_p50_us;
    f.c99 = result.ack_p99_us;
    return f;
}

//  The median of the runs' values that are not 0; 0 if none is.
static double
s_median (const double *values, int count)
{
    double kept[S_RUNS];
    int n = 0;
    for (int i = 0; i < count; i++)
        if (values[i] > 0)
            kept[n++] = values[i];
    return n ? meshq_bench_median (kept, n) : 0;
}

//  The median of one field of a row's runs against a server.
#define S_MEDIAN(runs, count, field)                                           \
    __extension__({                                                            \
        double values_[S_RUNS];                                                \
        for (int i_ = 0; i_ < (count); i_++)                                   \
            values_[i_] = (runs)[i_].field;                                    \
        s_median (values_, (count));                                           \
    })

static const char *
s_ratio (char *text, size_t size, double a, double b)
{
    if (a <= 0 || b <= 0)
        return "-";
    snprintf (text, size, "%.2fx", a / b);
    return text;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: bench_table [--runs N] [--count N] [--transient-count N]\n"
             "                   [--latency-count N] [--dir DIR] "
             "[--no-rabbitmq] [--no-nats]\n"
             "Starts a meshq-agent of this build, a private RabbitMQ "
             "(Debian's\nrabbitmq-server) and a private nats-server with "
             "JetStream, runs issue 15's\nrows against each in alternating "
             "rounds and prints the medians as a\nMarkdown table.\n");
}

int
main (int argc, char **argv)
{
    s_options_t options = {.runs = 3,
                           .count = 100000,
                           .transient_count = 1000000,
                           .latency_count = 10000,
                           .parent = "/var/tmp",
                           .rabbitmq = true,
                           .nats = true};
    static const struct option longs[] = {
        {"runs", required_argument, NULL, 'r'},
        {"count", required_argument, NULL, 'n'},
        {"transient-count", required_argument, NULL, 't'},
        {"latency-count", required_argument, NULL, 'l'},
        {"dir", required_argument, NULL, 'd'},
        {"no-rabbitmq", no_argument, NULL, 'R'},
        {"no-nats", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long (argc, argv, "", longs, NULL)) != -1) {
        switch (opt) {
            case 'r':
                options.runs = atoi (optarg);
                break;
            case 'n':
                options.count = strtoull (optarg, NULL, 10);
                break;
            case 't':
                options.transient_count = strtoull (optarg, NULL, 10);
                break;
            case 'l':
                options.latency_count = strtoull (optarg, NULL, 10);
                break;
            case 'd':
                options.parent = optarg;
                break;
            case 'R':
                options.rabbitmq = false;
                break;
            case 'N':
                options.nats = false;
                break;
            case 'h':
                s_usage (stdout);
                return 0;
            default:
                s_usage (stderr);
                return 64;
        }
    }
    if (optind != argc || options.runs < 1 || options.runs > S_RUNS ||
        options.count < 1 || options.transient_count < 1 ||
        options.latency_count < 1 || options.latency_count > 1000000) {
        s_usage (stderr);
        return 64;
    }
    srand ((unsigned)getpid () ^ (unsigned)time (NULL));
    meshq_bench_cleanup_on_exit (s_cleanup);
    char load_start[64], started[64];
    meshq_bench_load_average (load_start, sizeof load_start);
    time_t now = time (NULL);
    strftime (started, sizeof started, "%Y-%m-%d %H:%M UTC", gmtime (&now));

    bool active[S_SERVERS] = {true, options.rabbitmq, options.nats};
    fprintf (stderr, "bench_table: starting meshq-agent of this build\n");
    if (meshq_bench_agent_start (&s_agent, options.parent))
        return 70;
    if (active[S_RABBITMQ] && !meshq_rabbitmq_available ()) {
        fprintf (stderr, "bench_table: rabbitmq-server is not installed "
                         "(apt-get install rabbitmq-server): its columns "
                         "are left out\n");
        active[S_RABBITMQ] = false;
    }
    if (active[S_RABBITMQ] &&
        meshq_rabbitmq_start (&s_rabbit, options.parent, 180)) {
        fprintf (stderr, "bench_table: RabbitMQ did not start: its columns "
                         "are left out\n");
        active[S_RABBITMQ] = false;
    }
    if (active[S_NATS] && !meshq_nats_available ()) {
        fprintf (stderr, "bench_table: nats-server is not installed "
                         "(apt-get install nats-server): its columns are "
                         "left out\n");
        active[S_NATS] = false;
    }
    if (active[S_NATS]) {
        fprintf (stderr, "bench_table: starting nats-server with JetStream\n");
        if (meshq_nats_start (&s_nats, options.parent, true)) {
            fprintf (stderr, "bench_table: nats-server did not start: its "
                             "columns are left out\n");
            active[S_NATS] = false;
        } else if (nats_Open (-1) != NATS_OK) {
            fprintf (stderr, "bench_table: libnats does not start: NATS's "
                             "columns are left out\n");
            active[S_NATS] = false;
        }
    }
    //  The agent's idle resident set: 3 s after its start.
    sleep (3);
    double idle_kb = (double)meshq_bench_proc_kb (s_agent.pid, "VmRSS");

    const char *server_names[S_SERVERS] = {"meshq", "RabbitMQ", "NATS"};
    static s_figures_t figures[S_ROWS][S_SERVERS][S_RUNS];
    s_memory_t memory[S_SERVERS][S_RUNS];
    memset (memory, 0, sizeof memory);
    int failures = 0;
    for (int run = 0; run < options.runs; run++) {
        for (int server = 0; server < S_SERVERS; server++)
            if (active[server])
                meshq_bench_reset_peak (s_pid (server));
        for (int row = 0; row < S_ROWS; row++)
            for (int turn = 0; turn < S_SERVERS; turn++) {
                //  Each round starts with the next server: none is
                //  always first, or always after a given other.
                int server = (turn + run) % S_SERVERS;
                if (!active[server])
                    continue;
                fprintf (stderr, "bench_table: round %d/%d, %s: %s ...\n",
                         run + 1, options.runs, server_names[server],
                         s_row_names[row]);
                s_figures_t f = server == S_MESHQ ? s_run_meshq (row, &options)
                                : server == S_RABBITMQ
                                    ? s_run_rabbitmq (row, &options)
                                    : s_run_nats (row, &options);
                figures[row][server][run] = f;
                failures += f.rate <= 0;
                if (row == S_LATENCY)
                    fprintf (stderr,
                             "bench_table:   to delivery p50 %.0f us p99 "
                             "%.0f us, to confirm p50 %.0f us p99 %.0f us\n",
                             f.p50, f.p99, f.c50, f.c99);
                if (row == S_LATENCY && server == S_MESHQ)
                    fprintf (stderr,
                             "bench_table:   raw: ipc round trip %.0f us, "
                             "write+fdatasync p50 / p99 %.0f / %.0f us in "
                             "place, %.0f / %.0f us growing\n",
                             f.rtt, f.sync50, f.sync99, f.grow50, f.grow99);
                else
                    fprintf (stderr,
                             "bench_table:   %.0f msgs/s, to delivery p50 "
                             "%.0f us p99 %.0f us\n",
                             f.rate, f.p50, f.p99);
            }
        for (int server = 0; server < S_SERVERS; server++)
            if (active[server])
                memory[server][run].peak =
                    (double)meshq_bench_proc_kb (s_pid (server), "VmHWM");
        fprintf (stderr,
                 "bench_table: round %d/%d: 10 s idle for the "
                 "memory after it\n",
                 run + 1, options.runs);
        sleep (10);
        for (int server = 0; server < S_SERVERS; server++)
            if (active[server]) {
                memory[server][run].after =
                    (double)meshq_bench_proc_kb (s_pid (server), "VmRSS");
                fprintf (stderr,
                         "bench_table:   %s: peak %.1f MB, after %.1f MB\n",
                         server_names[server], memory[server][run].peak / 1024,
                         memory[server][run].after / 1024);
            }
    }
    if (active[S_NATS])
        nats_Close ();
    char load_end[64];
    meshq_bench_load_average (load_end, sizeof load_end);

    //  Medians.
    s_figures_t m[S_ROWS][S_SERVERS];
    double peak[S_SERVERS], after[S_SERVERS];
    for (int row = 0; row < S_ROWS; row++)
        for (int server = 0; server < S_SERVERS; server++) {
            const s_figures_t *runs = figures[row][server];
            int n = options.runs;
            m[row][server] = (s_figures_t){
                S_MEDIAN (runs, n, rate),   S_MEDIAN (runs, n, p50),
                S_MEDIAN (runs, n, p99),    S_MEDIAN (runs, n, c50),
                S_MEDIAN (runs, n, c99),    S_MEDIAN (runs, n, rtt),
                S_MEDIAN (runs, n, sync50), S_MEDIAN (runs, n, sync99),
                S_MEDIAN (runs, n, grow50), S_MEDIAN (runs, n, grow99)};
        }
    for (int server = 0; server < S_SERVERS; server++) {
        peak[server] = S_MEDIAN (memory[server], options.runs, peak);
        after[server] = S_MEDIAN (memory[server], options.runs, after);
    }

    char rabbit_name[64], nats_name[64];
    snprintf (rabbit_name, sizeof rabbit_name, "RabbitMQ %s", s_rabbit.version);
    snprintf (nats_name, sizeof nats_name, "NATS %s", s_nats.version);
    printf ("\n%s, load average %s at the start, %s at the end; 100-byte "
            "messages; median of %d alternating rounds (%llu durable, %llu "
            "transient, %llu one-in-flight messages a run)\n\n",
            started, load_start, load_end, options.runs,
            (unsigned long long)options.count,
            (unsigned long long)options.transient_count,
            (unsigned long long)options.latency_count);
    printf ("| scenario | meshq");
    if (active[S_RABBITMQ])
        printf (" | %s", rabbit_name);
    if (active[S_NATS])
        printf (" | %s", nats_name);
    if (active[S_RABBITMQ])
        printf (" | meshq / RabbitMQ");
    if (active[S_NATS])
        printf (" | meshq / NATS");
    printf (" | raw ceiling | meshq / raw |\n|---|---");
    for (int i = 0; i < 2 * (active[S_RABBITMQ] + active[S_NATS]) + 2; i++)
        printf ("|---");
    printf ("|\n");

    char a[S_SERVERS][64], r[2][64], t[4][32];
    //  Throughput rows: msgs/s; ratio above 1: meshq is faster.
    for (int row = S_DURABLE; row <= S_TRANSIENT; row++) {
        const char *nats_what = row == S_TRANSIENT ? " (core)" : " (JetStream)";
        printf (
            "| %s (msgs/s) | %s", s_row_names[row],
            meshq_bench_format_count (a[0], sizeof a[0], m[row][S_MESHQ].rate));
        if (active[S_RABBITMQ])
            printf (" | %s", meshq_bench_format_count (
                                 a[1], sizeof a[1], m[row][S_RABBITMQ].rate));
        if (active[S_NATS])
            printf (" | %s%s",
                    meshq_bench_format_count (a[2], sizeof a[2],
                                              m[row][S_NATS].rate),
                    m[row][S_NATS].rate > 0 ? nats_what : "");
        if (active[S_RABBITMQ])
            printf (" | %s", s_ratio (r[0], sizeof r[0], m[row][S_MESHQ].rate,
                                      m[row][S_RABBITMQ].rate));
        if (active[S_NATS])
            printf (" | %s", s_ratio (r[1], sizeof r[1], m[row][S_MESHQ].rate,
                                      m[row][S_NATS].rate));
        printf (" | | |\n");
    }
    //  Latency rows: p50 / p99; ratio below 1: meshq is quicker.
    const s_figures_t *l = m[S_LATENCY];
    double ceiling50 = l[S_MESHQ].rtt + l[S_MESHQ].sync50;
    double ceiling99 = l[S_MESHQ].sync99;
    for (int confirm = 0; confirm < 2; confirm++) {
        printf ("| one in flight, persistent: publish -> %s p50 / p99",
                confirm ? "confirmed" : "delivered");
        for (int server = 0; server < S_SERVERS; server++) {
            if (!active[server])
                continue;
            double p50 = confirm ? l[server].c50 : l[server].p50;
            double p99 = confirm ? l[server].c99 : l[server].p99;
            printf (
                " | %s / %s%s",
                meshq_bench_format_time (t[0], sizeof t[0], p50),
                meshq_bench_format_time (t[1], sizeof t[1], p99),
                server == S_NATS && p50 > 0
                    ? (confirm ? " (JetStream ack, no fsync)" : " (JetStream)")
                    : "");
        }
        double p50 = confirm ? l[S_MESHQ].c50 : l[S_MESHQ].p50;
        double p99 = confirm ? l[S_MESHQ].c99 : l[S_MESHQ].p99;
        for (int server = S_RABBITMQ; server < S_SERVERS; server++) {
            if (!active[server])
                continue;
            double o50 = confirm ? l[server].c50 : l[server].p50;
            double o99 = confirm ? l[server].c99 : l[server].p99;
            printf (" | %s / %s", s_ratio (r[0], sizeof r[0], p50, o50),
                    s_ratio (r[1], sizeof r[1], p99, o99));
        }
        printf (" | rtt + fdatasync p50 %s; fdatasync p99 %s | %s / %s |\n",
                meshq_bench_format_time (t[2], sizeof t[2], ceiling50),
                meshq_bench_format_time (t[3], sizeof t[3], ceiling99),
                s_ratio (r[0], sizeof r[0], p50, ceiling50),
                s_ratio (r[1], sizeof r[1], p99, ceiling99));
    }
    printf ("| end-to-end latency p50 in the durable 1P/1C run");
    for (int server = 0; server < S_SERVERS; server++)
        if (active[server])
            printf (" | %s",
                    meshq_bench_format_time (a[server], sizeof a[server],
                                             m[S_DURABLE][server].p50));
    for (int server = S_RABBITMQ; server < S_SERVERS; server++)
        if (active[server])
            printf (" | %s",
                    s_ratio (r[0], sizeof r[0], m[S_DURABLE][S_MESHQ].p50,
                             m[S_DURABLE][server].p50));
    printf (" | | |\n");
    for (int after_row = 0; after_row < 2; after_row++) {
        printf ("| server memory %s (MB)", after_row
                                               ? "10 s after each round, idle"
                                               : "peak in a round (VmHWM)");
        const double *values = after_row ? after : peak;
        for (int server = 0; server < S_SERVERS; server++)
            if (active[server])
                printf (" | %.1f", values[server] / 1024);
        for (int server = S_RABBITMQ; server < S_SERVERS; server++)
            if (active[server])
                printf (" | %s", s_ratio (r[0], sizeof r[0], values[S_MESHQ],
                                          values[server]));
        printf (" | | |\n");
    }
    char g[2][32];
    printf ("\nmeshq-agent idle at start: %.1f MB (VmRSS 3 s after it "
            "started). Ratios: throughput meshq / peer (above 1: meshq "
            "faster); times and memory meshq / peer (below 1: meshq "
            "quicker or smaller). Raw ceilings from the same `meshq bench` "
            "run: ipc round trip %s; 128-byte write+fdatasync into a file "
            "allocated beforehand (as the store's segments are) p50 %s, "
            "p99 %s; appending to a growing file p50 %s, p99 %s.\n",
            idle_kb / 1024,
            meshq_bench_format_time (t[0], sizeof t[0], l[S_MESHQ].rtt),
            meshq_bench_format_time (t[1], sizeof t[1], l[S_MESHQ].sync50),
            meshq_bench_format_time (t[2], sizeof t[2], l[S_MESHQ].sync99),
            meshq_bench_format_time (g[0], sizeof g[0], l[S_MESHQ].grow50),
            meshq_bench_format_time (g[1], sizeof g[1], l[S_MESHQ].grow99));
    fflush (stdout);
    if (failures)
        fprintf (stderr, "bench_table: %d runs failed (see above)\n", failures);
    return failures ? 1 : 0;
}
