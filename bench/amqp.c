/*  amqp.c - bench_amqp: the same AMQP load, with the same client
    (rabbitmq-c), against RabbitMQ and against a meshq agent's AMQP
    port, and `meshq bench` against the same agent over ipc://, in one
    invocation.

    Scenarios (100-byte bodies, one connection per producer and per
    consumer): durable (persistent, confirms window 1000, manual ack,
    prefetch 100) with 1 producer and 1 consumer, the same with 4
    consumers, and transient with auto-ack, 1 producer and 1 consumer.
    Each round runs every scenario against each server in turn
    (alternating), and the table gives the median of the rounds in
    messages per second, end to end (first publish to last delivery),
    with meshq AMQP / RabbitMQ (target >= 5x on the durable rows) and
    meshq AMQP / meshq native (target >= 0.7: within 30%).

    By default it starts its own RabbitMQ (Debian's rabbitmq-server, on
    private ports and a scratch directory, stopped after) and its own
    meshq-agent of this build (store on the same disk, --amqp on a free
    loopback port). Progress goes to stderr, the table to stdout. Exits
    1 if a run failed. Usage: bench_amqp --help
*/
#include "amqp_load.h"
#include "peers.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_RUNS 9  //  Rounds at most.

enum { S_RABBITMQ, S_MESHQ_AMQP, S_NATIVE, S_SERVERS };
static const char *s_server_names[S_SERVERS] = {"RabbitMQ", "meshq AMQP",
                                                "meshq native"};

//  What runs, and against what.
typedef struct {
    int runs;
    const char *parent;  //  Where scratch directories go.
    //  RabbitMQ: started here, or at rabbit_host:rabbit_port, or none.
    bool rabbitmq;
    char rabbit_host[64];
    int rabbit_port;
    //  meshq: its native endpoint and AMQP host:port; started here if
    //  native is NULL.
    const char *native;
    char amqp_host[64];
    int amqp_port;
    const char *user;
    const char *password;
    const char *vhost;
} s_options_t;

//  What this process started, for the cleanup on exit or a signal.
static meshq_rabbitmq_t s_rabbit;
static meshq_bench_agent_t s_agent = {.build = MESHQ_BINARY_DIR,
                                      .name = "bench-amqp"};

//  Stops what we started (the RabbitMQ node and epmd run in their own
//  process groups and would outlive us).
static void
s_cleanup (void)
{
    meshq_bench_agent_stop (&s_agent);
    meshq_rabbitmq_stop (&s_rabbit);
}

//  Reads HOST:PORT into host and *port; false if it is not one.
static bool
s_host_port (const char *text, char *host, size_t size, int *port)
{
    const char *colon = strrchr (text, ':');
    char *end;
    if (!colon || colon == text || (size_t)(colon - text) >= size)
        return false;
    long number = strtol (colon + 1, &end, 10);
    if (*end || number < 1 || number > 65535)
        return false;
    snprintf (host, size, "%.*s", (int)(colon - text), text);
    *port = (int)number;
    return true;
}

//  Runs `meshq bench` of this build against the agent for the scenario;
//  returns its end-to-end rate, or 0 after printing why.
static double
s_native (const meshq_amqp_load_t *load)
{
    char args[512], output[4096];
    snprintf (args, sizeof args,
              "--queue meshq-bench-native --producers %d --consumers %d "
              "--count %llu --size %d --%s --confirm-window %d --prefetch %d%s",
              load->producers, load->consumers, (unsigned long long)load->count,
              load->size, load->persistent ? "persistent" : "transient",
              load->confirm_window, load->prefetch,
              load->auto_ack ? " --auto-ack" : "");
    if (meshq_bench_agent_bench (&s_agent, args, output, sizeof output))
        return 0;
    return meshq_bench_json_number (output, "consume_rate");
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  The median of the runs that gave a figure; 0 if none did.
static double
s_median (const double *values, int count)
{
    double sorted[S_RUNS];
    int n = 0;
    for (int i = 0; i < count; i++)
        if (values[i] > 0)
            sorted[n++] = values[i];
    if (n == 0)
        return 0;
    qsort (sorted, (size_t)n, sizeof *sorted, s_compare);
    return sorted[n / 2];
}

static void
s_rate (char *text, size_t size, double rate, const char *missing)
{
    if (rate > 0)
        snprintf (text, size, "%.0f", rate);
    else
        snprintf (text, size, "%s", missing);
}

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: bench_amqp [--runs N] [--count N] [--transient-count N]\n"
             "                  [--meshq ENDPOINT --meshq-amqp HOST:PORT]\n"
             "                  [--rabbitmq HOST:PORT | --no-rabbitmq]\n"
             "                  [--user U] [--password P] [--vhost V] "
             "[--dir DIR]\n"
             "Without --meshq, starts a meshq-agent of this build (with "
             "--amqp);\nwithout --rabbitmq, starts a private RabbitMQ "
             "(Debian's rabbitmq-server).\n");
}

int
main (int argc, char **argv)
{
    s_options_t options = {.runs = 3,
                           .parent = "/var/tmp",
                           .rabbitmq = true,
                           .user = "guest",
                           .password = "guest",
                           .vhost = "/"};
    uint64_t count = 100000, transient_count = 300000;
    static const struct option longs[] = {
        {"runs", required_argument, NULL, 'r'},
        {"count", required_argument, NULL, 'n'},
        {"transient-count", required_argument, NULL, 't'},
        {"meshq", required_argument, NULL, 'm'},
        {"meshq-amqp", required_argument, NULL, 'a'},
        {"rabbitmq", required_argument, NULL, 'R'},
        {"no-rabbitmq", no_argument, NULL, 'N'},
        {"user", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'p'},
        {"vhost", required_argument, NULL, 'v'},
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long (argc, argv, "", longs, NULL)) != -1) {
        switch (opt) {
            case 'r':
                options.runs = atoi (optarg);
                break;
            case 'n':
                count = strtoull (optarg, NULL, 10);
                break;
            case 't':
                transient_count = strtoull (optarg, NULL, 10);
                break;
            case 'm':
                options.native = optarg;
                break;
            case 'a':
                if (!s_host_port (optarg, options.amqp_host,
                                  sizeof options.amqp_host,
                                  &options.amqp_port)) {
                    fprintf (stderr,
                             "bench_amqp: --meshq-amqp '%s': takes "
                             "HOST:PORT\n",
                             optarg);
                    return 64;
                }
                break;
            case 'R':
                if (!s_host_port (optarg, options.rabbit_host,
                                  sizeof options.rabbit_host,
                                  &options.rabbit_port)) {
                    fprintf (stderr,
                             "bench_amqp: --rabbitmq '%s': takes "
                             "HOST:PORT\n",
                             optarg);
                    return 64;
                }
                break;
            case 'N':
                options.rabbitmq = false;
                break;
            case 'u':
                options.user = optarg;
                break;
            case 'p':
                options.password = optarg;
                break;
            case 'v':
                options.vhost = optarg;
                break;
            case 'd':
                options.parent = optarg;
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
        count < 1 || transient_count < 1 ||
        (options.amqp_port && !options.native)) {
        if (options.amqp_port && !options.native)
            fprintf (stderr, "bench_amqp: --meshq-amqp needs --meshq, the "
                             "same agent's native endpoint\n");
        s_usage (stderr);
        return 64;
    }
    srand ((unsigned)getpid () ^ (unsigned)time (NULL));
    meshq_bench_cleanup_on_exit (s_cleanup);

    const meshq_amqp_load_t loads[] = {
        {"durable, confirms 1000, manual ack, prefetch 100, 1P/1C", 1, 1, count,
         100, true, 1000, 100, false},
        {"durable, same, 1P/4C", 1, 4, count, 100, true, 1000, 100, false},
        {"transient, auto-ack, 1P/1C", 1, 1, transient_count, 100, false, 0,
         1000, true}};
    const int scenarios = (int)(sizeof loads / sizeof loads[0]);

    //  meshq: an agent of this build, or the one named.
    if (options.native)
        snprintf (s_agent.endpoint, sizeof s_agent.endpoint, "%s",
                  options.native);
    else {
        snprintf (options.amqp_host, sizeof options.amqp_host, "127.0.0.1");
        s_agent.amqp_port = meshq_bench_free_port ();
        if (meshq_bench_agent_start (&s_agent, options.parent))
            return 70;
        options.amqp_port = s_agent.amqp_port;
    }
    bool amqp = options.amqp_port > 0;
    if (amqp && !meshq_bench_listening (options.amqp_host, options.amqp_port)) {
        fprintf (stderr,
                 "bench_amqp: nothing listens on %s:%d, the meshq agent's "
                 "AMQP port: meshq AMQP is skipped\n",
                 options.amqp_host, options.amqp_port);
        amqp = false;
    }
    //  RabbitMQ: started here, or the one named.
    bool rabbitmq = options.rabbitmq;
    if (rabbitmq && !options.rabbit_port) {
        if (!meshq_rabbitmq_available ()) {
            fprintf (stderr, "bench_amqp: rabbitmq-server is not installed "
                             "(apt-get install rabbitmq-server): RabbitMQ is "
                             "skipped\n");
            rabbitmq = false;
        } else if (meshq_rabbitmq_start (&s_rabbit, options.parent, 180))
            rabbitmq = false;
        else {
            snprintf (options.rabbit_host, sizeof options.rabbit_host,
                      "127.0.0.1");
            options.rabbit_port = s_rabbit.port;
        }
    }
    const meshq_amqp_server_t servers[2] = {
        {options.rabbit_host, options.rabbit_port, "guest", "guest", "/"},
        {options.amqp_host, options.amqp_port, options.user, options.password,
         options.vhost}};
    const bool active[S_SERVERS] = {rabbitmq, amqp, true};

    //  rates[scenario][server][run]
    double rates[8][S_SERVERS][S_RUNS] = {{{0}}};
    int failures = 0;
    for (int run = 0; run < options.runs; run++)
        for (int s = 0; s < scenarios; s++)
            for (int server = 0; server < S_SERVERS; server++) {
                if (!active[server])
                    continue;
                fprintf (stderr, "bench_amqp: round %d/%d, %s: %s ...\n",
                         run + 1, options.runs, s_server_names[server],
                         loads[s].name);
                double rate = 0;
                if (server == S_NATIVE)
                    rate = s_native (&loads[s]);
                else {
                    meshq_amqp_load_result_t result;
                    if (meshq_amqp_load_run (&servers[server],
                                             "meshq-bench-amqp", &loads[s],
                                             &result))
                        fprintf (stderr, "bench_amqp: %s: %s\n",
                                 s_server_names[server], result.error);
                    else {
                        rate = result.consume_rate;
                        fprintf (stderr,
                                 "bench_amqp:   published at %.0f/s, "
                                 "publish to delivery p50 %.0f us\n",
                                 result.publish_rate, result.p50_us);
                    }
                }
                rates[s][server][run] = rate;
                failures += rate <= 0;
                fprintf (stderr, "bench_amqp:   %.0f msgs/s\n", rate);
            }

    char rabbit_name[64];
    snprintf (rabbit_name, sizeof rabbit_name, "RabbitMQ%s%s",
              *s_rabbit.version ? " " : "", s_rabbit.version);
    printf ("\nmsgs/s end to end, 100-byte bodies, median of %d "
            "alternating runs\n\n",
            options.runs);
    printf ("| scenario | %s | meshq AMQP | meshq native | meshq AMQP / "
            "RabbitMQ | meshq AMQP / native |\n",
            rabbit_name);
    printf ("|---|---|---|---|---|---|\n");
    for (int s = 0; s < scenarios; s++) {
        double median[S_SERVERS];
        char text[S_SERVERS][32], versus_rabbit[48] = "-",
                                  versus_native[48] = "-";
        for (int server = 0; server < S_SERVERS; server++) {
            median[server] = s_median (rates[s][server], options.runs);
            s_rate (text[server], sizeof text[server], median[server],
                    server == S_MESHQ_AMQP && !amqp ? "pending"
                    : active[server]                ? "failed"
                                                    : "skipped");
        }
        if (median[S_MESHQ_AMQP] > 0 && median[S_RABBITMQ] > 0)
            snprintf (versus_rabbit, sizeof versus_rabbit, "%.1fx%s",
                      median[S_MESHQ_AMQP] / median[S_RABBITMQ],
                      !loads[s].persistent ? ""
                      : median[S_MESHQ_AMQP] >= 5 * median[S_RABBITMQ]
                          ? " (>= 5x: met)"
                          : " (>= 5x: missed)");
        if (median[S_MESHQ_AMQP] > 0 && median[S_NATIVE] > 0)
            snprintf (versus_native, sizeof versus_native, "%.0f%%%s",
                      100 * median[S_MESHQ_AMQP] / median[S_NATIVE],
                      median[S_MESHQ_AMQP] >= 0.7 * median[S_NATIVE]
                          ? " (>= 70%: met)"
                          : " (>= 70%: missed)");
        printf ("| %s | %s | %s | %s | %s | %s |\n", loads[s].name,
                text[S_RABBITMQ], text[S_MESHQ_AMQP], text[S_NATIVE],
                versus_rabbit, versus_native);
    }
    fflush (stdout);
    if (failures)
        fprintf (stderr, "bench_amqp: %d runs failed (see above)\n", failures);
    return failures ? 1 : 0;
}
