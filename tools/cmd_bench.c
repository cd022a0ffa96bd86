/*  cmd_bench.c - `meshq bench`: the load generator (bench.c) from the
    command line, against an agent or one embedded in the process.
*/
#include "bench.h"
#include "bench_peers.h"
#include "tool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Endpoints a producer or consumer list may name.
#define S_MAX_AT 16

//  Splits a comma-separated list in place into at most S_MAX_AT entries;
//  returns how many, or -1 when there are too many or one is empty.
static int
s_split (char *list, const char *entries[S_MAX_AT])
{
    int count = 0;
    for (char *save = NULL, *entry = strtok_r (list, ",", &save); entry;
         entry = strtok_r (NULL, ",", &save)) {
        if (count == S_MAX_AT)
            return -1;
        entries[count++] = entry;
    }
    return count;
}

//  Prints text as a JSON string.
static void
s_json_string (const char *text)
{
    putchar ('"');
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        if (*c == '"' || *c == '\\')
            printf ("\\%c", *c);
        else if (*c < 0x20)
            printf ("\\u%04x", *c);
        else
            putchar (*c);
    putchar ('"');
}

//  The peers' runs as "peers":[...], after a comma.
static void
s_json_peers (const char *const urls[2],
              const meshq_bench_peer_result_t peers[2], const int rcs[2])
{
    if (!urls[0] && !urls[1])
        return;
    printf (",\"peers\":[");
    for (int i = 0, first = 1; i < 2; i++) {
        if (!urls[i])
            continue;
        const meshq_bench_peer_result_t *p = &peers[i];
        printf ("%s{\"server\":", first ? "" : ",");
        s_json_string (p->what);
        printf (",\"url\":");
        s_json_string (urls[i]);
        printf (",\"publish_rate\":%.0f,\"consume_rate\":%.0f,"
                "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f},"
                "\"confirm_us\":{\"p50\":%.1f,\"p99\":%.1f}",
                p->publish_rate, p->consume_rate, p->p50_us, p->p99_us,
                p->confirm_p50_us, p->confirm_p99_us);
        if (rcs[i]) {
            printf (",\"error\":");
            s_json_string (p->error);
        }
        printf ("}");
        first = 0;
    }
    printf ("]");
}

//  meshq's figures and the peers', side by side, with meshq / peer.
static void
s_print_peers (const meshq_bench_result_t *result, const char *const urls[2],
               const meshq_bench_peer_result_t peers[2], const int rcs[2],
               bool one_in_flight)
{
    if (!urls[0] && !urls[1])
        return;
    printf ("side by side     %-22s", "meshq");
    for (int i = 0; i < 2; i++)
        if (urls[i])
            printf (" %-22s %-10s", peers[i].what, "meshq/it");
    printf ("\n");
    const char *labels[] = {"msgs/s", "latency p50 us", "latency p99 us",
                            "confirm p50 us", "confirm p99 us"};
    const double mine[] = {result->consume_rate, result->p50_us, result->p99_us,
                           result->confirm_p50_us, result->confirm_p99_us};
    for (int row = 0; row < (one_in_flight ? 5 : 3); row++) {
        printf ("%-16s %-22.0f", labels[row], mine[row]);
        for (int i = 0; i < 2; i++) {
            if (!urls[i])
                continue;
            const double theirs[] = {peers[i].consume_rate, peers[i].p50_us,
                                     peers[i].p99_us, peers[i].confirm_p50_us,
                                     peers[i].confirm_p99_us};
            if (rcs[i] || theirs[row] <= 0 || mine[row] <= 0)
                printf (" %-22s %-10s", rcs[i] ? "failed" : "-", "-");
            else
                printf (" %-22.0f %-10.2f", theirs[row],
                        mine[row] / theirs[row]);
        }
        printf ("\n");
    }
}

//  Refuses an option's value, naming both; returns the exit code.
static int
s_refuse (const char *option, const char *value, const char *takes)
{
    fprintf (stderr, "meshq: bench: %s '%s': takes %s\n", option, value, takes);
    return MESHQ_EXIT_USAGE;
}

int
meshq_tool_bench (meshq_tool_t *tool, int argc, char **argv)
{
    static const char *usage =
        "[--producers N] [--consumers N] [--count N | --duration S] "
        "[--size SIZE] [--persistent|--transient] [--confirm-window N] "
        "[--publish-batch N] "
        "[--prefetch N] [--auto-ack] [--multi-ack N] [--queue NAME] "
        "[--publish-at EP,..] [--consume-at EP,..] [--work-us US] "
        "[--slow-consumer I:US] [--settle S] [--raw-dir DIR] [--embedded] "
        "[--rabbitmq URL] [--nats URL] [--json]";
    static const struct option options[] = {
        {"producers", required_argument, NULL, 'P'},
        {"consumers", required_argument, NULL, 'C'},
        {"count", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'},
        {"persistent", optional_argument, NULL, 'p'},
        {"transient", optional_argument, NULL, 't'},
        {"confirm-window", required_argument, NULL, 'w'},
        {"publish-batch", required_argument, NULL, 'b'},
        {"prefetch", required_argument, NULL, 'f'},
        {"auto-ack", optional_argument, NULL, 'a'},
        {"multi-ack", required_argument, NULL, 'm'},
        {"queue", required_argument, NULL, 'q'},
        {"publish-at", required_argument, NULL, 'A'},
        {"consume-at", required_argument, NULL, 'B'},
        {"work-us", required_argument, NULL, 'W'},
        {"slow-consumer", required_argument, NULL, 'S'},
        {"embedded", optional_argument, NULL, 'e'},
        {"json", optional_argument, NULL, 'j'},
        {"settle", required_argument, NULL, 'T'},
        {"raw-dir", required_argument, NULL, 'R'},
        {"rabbitmq", required_argument, NULL, 'Q'},
        {"nats", required_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    meshq_bench_config_t config;
    meshq_bench_config_init (&config);
    config.progress = true;
    config.settle = 10;
    bool embedded = false;
    bool batch_given = false;
    const char *raw_dir = "/var/tmp";
    const char *rabbitmq = NULL, *nats = NULL;
    const char *publish_at[S_MAX_AT], *consume_at[S_MAX_AT];
    int opt;
    char *end;
    uint64_t size;
    int index = 0;
    int64_t n = 0;
    while ((opt = getopt_long (argc, argv, "", options, &index)) != -1) {
        char option[64];
        snprintf (option, sizeof option, "--%s", options[index].name);
        switch (opt) {
            case 'P':
            case 'C':
            case 'n':
            case 'w':
            case 'b':
            case 'f':
            case 'm':
            case 'W':
                if (meshq_tool_number ("bench", option, optarg, 0,
                                       opt == 'n' ? INT64_MAX : INT32_MAX, &n))
                    return MESHQ_EXIT_USAGE;
                if (opt == 'P')
                    config.producers = (int)n;
                else if (opt == 'C')
                    config.consumers = (int)n;
                else if (opt == 'n')
                    config.count = (uint64_t)n;
                else if (opt == 'w')
                    config.confirm_window = (int)n;
                else if (opt == 'b') {
                    config.publish_batch = (int)n;
                    batch_given = true;
                } else if (opt == 'f')
                    config.prefetch = (int)n;
                else if (opt == 'W')
                    config.work_us = (int)n;
                else
                    config.multi_ack = (int)n;
                break;
            case 's':
                if (meshq_tool_size ("bench", "--size", optarg, INT32_MAX,
                                     &size))
                    return MESHQ_EXIT_USAGE;
                config.size = (int)size;
                break;
            case 'A':
                config.publish_at = publish_at;
                config.publish_at_count = s_split (optarg, publish_at);
                if (config.publish_at_count < 1)
                    return s_refuse (option, optarg,
                                     "a comma-separated list of endpoints");
                break;
            case 'B':
                config.consume_at = consume_at;
                config.consume_at_count = s_split (optarg, consume_at);
                if (config.consume_at_count < 1)
                    return s_refuse (option, optarg,
                                     "a comma-separated list of endpoints");
                break;
            case 'S':
                if (sscanf (optarg, "%d:%d", &config.slow_consumer,
                            &config.slow_us) != 2 ||
                    config.slow_consumer < 0 || config.slow_us < 0)
                    return s_refuse (option, optarg, "CONSUMER:MICROSECONDS");
                break;
            case 'T':
                config.settle = strtod (optarg, &end);
                if (*end || config.settle < 0)
                    return s_refuse (option, optarg, "seconds, 0 or more");
                break;
            case 'R':
                raw_dir = optarg;
                break;
            case 'Q':
                rabbitmq = optarg;
                break;
            case 'N':
                nats = optarg;
                if (!meshq_bench_peer_has_nats ()) {
                    fprintf (stderr,
                             "meshq: bench: --nats: this meshq was built "
                             "without libnats (libnats-dev)\n");
                    return MESHQ_EXIT_USAGE;
                }
                break;
            case 'd':
                config.duration = strtod (optarg, &end);
                if (*end || config.duration <= 0)
                    return s_refuse (option, optarg, "seconds, more than 0");
                config.count = 0;
                break;
            case 'p':
            case 't':
            case 'a':
            case 'e':
            case 'j': {
                static const char *names[] = {"--persistent", "--transient",
                                              "--auto-ack", "--embedded",
                                              "--json"};
                const int which = (int)(strchr ("ptaej", opt) - "ptaej");
                bool flag;
                int took = meshq_tool_bool ("bench", names[which], optarg,
                                            optind < argc ? argv[optind] : NULL,
                                            &flag);
                if (took < 0)
                    return MESHQ_EXIT_USAGE;
                optind += took;
                if (opt == 'p' || opt == 't')
                    config.persistent = flag == (opt == 'p');
                else if (opt == 'a')
                    config.auto_ack = flag;
                else if (opt == 'e')
                    embedded = flag;
                else
                    tool->json = flag;
                break;
            }
            case 'q':
                config.queue = optarg;
                break;
            case 'h':
                printf ("usage: meshq bench %s\n", usage);
                return MESHQ_EXIT_OK;
            default:
                return meshq_tool_usage ("bench", usage);
        }
    }
    //  A publisher with no confirms to wait for says MESHQ_MORE, as an
    //  application publishing in a loop would: 64 messages a frame.
    if (!batch_given && config.confirm_window == 0)
        config.publish_batch = 64;
    if (optind != argc || config.prefetch < 1 || config.publish_batch < 1 ||
        (embedded && (config.publish_at || config.consume_at)))
        return meshq_tool_usage ("bench", usage);

    meshq_agent_t *agent = NULL;
    char dir[] = "/var/tmp/meshq-bench-XXXXXX";
    config.endpoint = config.publish_at ? config.publish_at[0] : tool->agent;
    config.user = tool->user;
    config.password = tool->password;
    config.vhost = tool->vhost;
    if (embedded) {
        if (!mkdtemp (dir)) {
            perror ("meshq: bench: mkdtemp");
            return MESHQ_EXIT_SOFTWARE;
        }
        agent = meshq_agent_new ("bench");
        meshq_agent_set (agent, "data", dir);
        if (meshq_agent_start (agent)) {
            fprintf (stderr, "meshq: bench: %s\n", meshq_agent_error (agent));
            meshq_agent_destroy (&agent);
            return MESHQ_EXIT_SOFTWARE;
        }
        config.endpoint = meshq_agent_endpoint (agent);
    }
    //  A peer that cannot be reached fails the bench before it runs.
    const char *peer_urls[2] = {rabbitmq, nats};
    for (int i = 0; i < 2; i++) {
        char why[256];
        int peer_rc =
            peer_urls[i]
                ? meshq_bench_peer_reach (peer_urls[i], i == 1, why, sizeof why)
                : 0;
        if (peer_rc == 0 && peer_urls[i] && config.count == 0) {
            snprintf (why, sizeof why, "takes --count, not --duration");
            peer_rc = MESHQ_EINVAL;
        }
        if (peer_rc) {
            fprintf (stderr, "meshq: bench: %s: %s\n",
                     i ? "--nats" : "--rabbitmq", why);
            return peer_rc == MESHQ_EINVAL ? MESHQ_EXIT_USAGE
                                           : MESHQ_EXIT_UNAVAILABLE;
        }
    }
    meshq_bench_result_t result;
    int rc = meshq_bench_run (&config, &result);
    //  One in flight: the ceilings of its latency, in the same run.
    double fsync_p50 = 0, fsync_p99 = 0, round_trip = 0;
    double place_p50 = 0, place_p99 = 0;
    if (config.confirm_window == 1) {
        fsync_p50 =
            meshq_bench_raw_fsync_p99 (raw_dir, 1000, false, &fsync_p99);
        place_p50 = meshq_bench_raw_fsync_p99 (raw_dir, 1000, true, &place_p99);
        char ipc[64];
        snprintf (ipc, sizeof ipc, "ipc:///tmp/meshq-bench-rtt-%d",
                  (int)getpid ());
        round_trip = meshq_bench_raw_round_trip (ipc, config.size, 2000, false);
        unlink (ipc + 6);
    }
    //  Side by side: the same scenario against the peers named.
    meshq_bench_peer_result_t peers[2];
    int peer_rcs[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        if (!peer_urls[i])
            continue;
        if (config.progress)
            fprintf (stderr, "meshq bench: the same against %s\n",
                     peer_urls[i]);
        peer_rcs[i] =
            i ? meshq_bench_peer_nats (&config, nats, &peers[i])
              : meshq_bench_peer_rabbitmq (&config, rabbitmq, &peers[i]);
    }
    if (tool->json) {
        printf ("{\"published\":%llu,\"consumed\":%llu,\"seconds\":%.3f,"
                "\"publish_rate\":%.0f,\"consume_rate\":%.0f,"
                "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f},"
                "\"confirm_us\":{\"p50\":%.1f,\"p99\":%.1f},"
                "\"raw_us\":{\"fsync_p50\":%.1f,\"fsync_p99\":%.1f,"
                "\"in_place_p50\":%.1f,\"in_place_p99\":%.1f,"
                "\"round_trip\":%.1f},"
                "\"agent_kb\":{\"idle\":%ld,\"peak\":%ld,\"end\":%ld,"
                "\"after\":%ld,\"back_s\":%.2f},\"stages\":\"%s\","
                "\"per_consumer\":[",
                (unsigned long long)result.published,
                (unsigned long long)result.consumed, result.seconds,
                result.publish_rate, result.consume_rate, result.p50_us,
                result.p99_us, result.p999_us, result.confirm_p50_us,
                result.confirm_p99_us, fsync_p50, fsync_p99, place_p50,
                place_p99, round_trip, result.rss_idle_kb, result.rss_peak_kb,
                result.rss_end_kb, result.rss_after_kb, result.back_s,
                result.stages);
        for (int i = 0; i < config.consumers; i++)
            printf ("%s%llu", i ? "," : "",
                    (unsigned long long)result.per_consumer[i]);
        printf ("],\"errors\":%d", result.errors);
        if (rc) {
            printf (",\"error\":");
            s_json_string (result.error);
        }
        s_json_peers (peer_urls, peers, peer_rcs);
        printf ("}\n");
    } else {
        printf ("published  %llu msgs in %.2f s: %.0f msgs/s\n",
                (unsigned long long)result.published, result.seconds,
                result.publish_rate);
        printf ("consumed   %llu msgs: %.0f msgs/s end to end\n",
                (unsigned long long)result.consumed, result.consume_rate);
        printf ("latency    p50 %.0f us, p99 %.0f us, p99.9 %.0f us\n",
                result.p50_us, result.p99_us, result.p999_us);
        for (int i = 0; i < config.consumers && config.consumers > 1; i++)
            printf ("consumer %d %llu msgs (%.1f%%)\n", i,
                    (unsigned long long)result.per_consumer[i],
                    100.0 * (double)result.per_consumer[i] /
                        (double)(result.consumed ? result.consumed : 1));
        if (config.confirm_window == 1) {
            printf (
                "confirm    p50 %.0f us, p99 %.0f us (publish to confirm)\n",
                result.confirm_p50_us, result.confirm_p99_us);
            printf ("raw        write+fdatasync p50 %.0f us, p99 %.0f us "
                    "(appending), p50 %.0f us, p99 %.0f us (in place); ipc "
                    "round trip %.0f us\n",
                    fsync_p50, fsync_p99, place_p50, place_p99, round_trip);
            //  Issue 15's marks, against the ceilings of this run: the
            //  store writes in place, into space allocated ahead.
            double p50_mark = 1.3 * (round_trip + place_p50);
            double p99_mark = place_p99 + 150 > 500 ? place_p99 + 150 : 500;
            printf ("target     p50 <= 1.3 x (round trip + in place) = %.0f "
                    "us: deliver %s, confirm %s; p99 <= max (500, in place "
                    "p99 + 150) = %.0f us: deliver %s, confirm %s\n",
                    p50_mark, result.p50_us <= p50_mark ? "met" : "missed",
                    result.confirm_p50_us <= p50_mark ? "met" : "missed",
                    p99_mark, result.p99_us <= p99_mark ? "met" : "missed",
                    result.confirm_p99_us <= p99_mark ? "met" : "missed");
        }
        if (*result.stages) {
            //  "n=N name=p50/p99/max ...": one line per stage.
            printf ("agent      time per stage, us (p50 / p99 / max):\n");
            char stages[sizeof result.stages];
            snprintf (stages, sizeof stages, "%s", result.stages);
            char *save = NULL;
            for (char *item = strtok_r (stages, " ", &save); item;
                 item = strtok_r (NULL, " ", &save)) {
                char *equals = strchr (item, '=');
                if (!equals)
                    continue;
                *equals = 0;
                printf ("           %-11s %s\n",
                        strcmp (item, "n") == 0 ? "messages" : item,
                        equals + 1);
            }
        }
        if (result.rss_end_kb) {
            printf ("memory     agent idle %.1f MB, peak %.1f MB, at the end "
                    "%.1f MB, after %.1f s %.1f MB",
                    result.rss_idle_kb / 1024.0, result.rss_peak_kb / 1024.0,
                    result.rss_end_kb / 1024.0,
                    result.back_s >= 0 ? result.back_s : config.settle,
                    result.rss_after_kb / 1024.0);
            if (result.back_s >= 0)
                printf (" (within 2x idle)\n");
            else
                printf (" (not within 2x idle)\n");
        }
    }
    if (!tool->json)
        s_print_peers (&result, peer_urls, peers, peer_rcs,
                       config.confirm_window == 1);
    if (rc)
        fprintf (stderr, "meshq: bench: %s\n", result.error);
    int peer_failed = 0;
    for (int i = 0; i < 2; i++)
        if (peer_urls[i] && peer_rcs[i]) {
            fprintf (stderr, "meshq: bench: %s %s: %s\n", peers[i].what,
                     peer_urls[i], peers[i].error);
            peer_failed = peer_rcs[i];
        }
    if (agent) {
        meshq_agent_destroy (&agent);
        char command[256];
        snprintf (command, sizeof command, "rm -rf '%s'", dir);
        if (system (command) != 0)
            fprintf (stderr, "meshq: bench: could not remove %s\n", dir);
    }
    //  As the other verbs: a refused login or request exits 1, no agent
    //  69; a run that failed or moved nothing 70.
    if (rc == MESHQ_EACCESS)
        return MESHQ_EXIT_REFUSED;
    if (rc == MESHQ_ECONNLOST)
        return MESHQ_EXIT_UNAVAILABLE;
    if (rc == 0 && peer_failed)
        rc = peer_failed;
    if (rc == MESHQ_EINVAL)
        return MESHQ_EXIT_USAGE;
    return rc ? MESHQ_EXIT_SOFTWARE : MESHQ_EXIT_OK;
}
