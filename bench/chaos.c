/*  chaos.c - a long run of the mesh under faults, with a seed: the run
    of the chaos system test (tests/system/chaos_run.c) for minutes
    rather than one, with a progress line every --progress seconds and
    the table at the end: faults applied by kind, messages published,
    confirmed, delivered, duplicated and lost, and each agent's most
    session restarts in one second.

    As root it runs in network namespaces (it starts itself again
    through tests/system/netns.sh, which makes them and removes them
    however it ends), with every kind of fault; otherwise, or with
    --loopback, on 127.0.0.1 with the process faults only. SIGINT or
    SIGTERM ends the faults early; the run still heals, drains and
    prints its table. Exits 0 if nothing confirmed was lost, no agent
    logged more than 5 session restarts in one second and the queues
    drained; else 1, and the run's logs are kept (it says where).

    Usage: bench_chaos [--seed N] [--seconds S] [--rate R] [--nodes N]
                       [--progress S] [--loopback]
*/
#include "chaos_run.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_AGENT  MESHQ_BINARY_DIR "/agents/meshq-agent"
#define S_CLIENT MESHQ_BINARY_DIR "/tests/chaos_client"
#define S_NETNS  MESHQ_TEST_SOURCE_DIR "/system/netns.sh"

static volatile int s_stop;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_stop = 1;
}

static void
s_usage (void)
{
    fprintf (stderr, "usage: bench_chaos [--seed N] [--seconds S] [--rate R] "
                     "[--nodes N] [--progress S] [--loopback]\n");
    exit (64);
}

int
main (int argc, char *argv[])
{
    chaos_config_t config = {
        .nodes = 4,
        .consumers = 3,
        .producers = 2,
        .rate = 500,
        .seconds = 600,
        .progress = 10,
        .seed = 1,
        .agent = S_AGENT,
        .client = S_CLIENT,
        .stop = &s_stop,
    };
    bool loopback = false;
    static struct option options[] = {
        {"seed", required_argument, NULL, 's'},
        {"seconds", required_argument, NULL, 't'},
        {"rate", required_argument, NULL, 'r'},
        {"nodes", required_argument, NULL, 'n'},
        {"progress", required_argument, NULL, 'p'},
        {"loopback", no_argument, NULL, 'l'},
        {NULL, 0, NULL, 0}};
    int option;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (option) {
            case 's':
                config.seed = strtoull (optarg, NULL, 0);
                break;
            case 't':
                config.seconds = atoi (optarg);
                break;
            case 'r':
                config.rate = atoi (optarg);
                break;
            case 'n':
                config.nodes = atoi (optarg);
                break;
            case 'p':
                config.progress = atoi (optarg);
                break;
            case 'l':
                loopback = true;
                break;
            default:
                s_usage ();
        }
    }
    if (optind != argc || config.seconds < 20 || config.rate < 1 ||
        config.nodes < 3 || config.nodes > CHAOS_MAX_NODES ||
        config.progress < 0)
        s_usage ();
    config.consumers = config.nodes - 1;
    if (!loopback && getuid () == 0 && !getenv ("MESHQ_NETNS")) {
        //  Again, inside the namespaces.
        char nodes[8];
        snprintf (nodes, sizeof nodes, "%d", config.nodes);
        setenv ("MESHQ_NETNS_NODES", nodes, 1);
        char self[4096];
        ssize_t size = readlink ("/proc/self/exe", self, sizeof self - 1);
        if (size <= 0) {
            perror ("/proc/self/exe");
            return 69;
        }
        self[size] = 0;
        char **again = calloc ((size_t)argc + 2, sizeof *again);
        again[0] = S_NETNS;
        again[1] = self;
        for (int i = 1; i < argc; i++)
            again[i + 1] = argv[i];
        execv (S_NETNS, again);
        perror (S_NETNS);
        return 69;
    }
    if (!loopback && getenv ("MESHQ_NETNS")) {
        config.tag = getenv ("MESHQ_NETNS");
        config.net = getenv ("MESHQ_NETNS_NET");
        const char *count = getenv ("MESHQ_NETNS_NODES");
        if (!config.net || !count || atoi (count) < config.nodes) {
            fprintf (stderr, "bench_chaos: the namespaces are not there\n");
            return 69;
        }
    } else if (!loopback)
        fprintf (stderr, "bench_chaos: not root: on loopback, process "
                         "faults only\n");
    config.name = config.tag ? "chaos/namespaces" : "chaos/loopback";
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    atexit (chaos_run_cleanup);
    fprintf (stderr, "%s: MESHQ_SEED=%llu, %d s of faults\n", config.name,
             (unsigned long long)config.seed, config.seconds);
    chaos_result_t result;
    if (chaos_run (&config, &result)) {
        fprintf (stderr, "bench_chaos: %s\n", result.error);
        return 1;
    }
    chaos_run_print (stdout, &config, &result);
    int storm = 0;
    for (int i = 0; i < config.nodes; i++)
        if (result.max_restarts[i] > 5 || result.unstamped[i])
            storm++;
    bool failed = result.lost || storm || !result.drained;
    if (failed) {
        printf ("FAILED:%s%s%s\n",
                result.lost ? " confirmed messages lost;" : "",
                storm ? " a storm of session restarts;" : "",
                result.drained ? "" : " the queues did not drain;");
        //  The logs tell what happened: kept, and their tails shown.
        setenv ("MESHQ_TEST_LOGS", "1", 1);
    } else
        printf ("passed: nothing confirmed lost, no storm, drained\n");
    return failed ? 1 : 0;
}
