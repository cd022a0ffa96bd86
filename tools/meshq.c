/*  meshq.c - the meshq command-line tool.

    In the manner of rabbitmqctl and the nats CLI: `meshq [options]
    COMMAND [--json]`. The agent is the one of this host by default
    (see lib/endpoint.h), or --agent ENDPOINT|NAME, or $MESHQ_AGENT.
    Exit codes follow sysexits, as rabbitmqctl's do: 0 done, 64 bad
    usage, 69 agent unreachable, 70 the agent refused the request, 75 no
    reply in time, 76 a reply that cannot be read.
*/
#include "codec_control.h"
#include "codec_json.h"
#include "endpoint.h"
#include "meshq.h"
#include "request.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#define S_EX_USAGE       64
#define S_EX_UNAVAILABLE 69
#define S_EX_SOFTWARE    70
#define S_EX_TEMPFAIL    75
#define S_EX_PROTOCOL    76

static const char *s_usage =
    "usage: meshq [--agent ENDPOINT|NAME] [--timeout MS] COMMAND [--json]\n"
    "\n"
    "commands:\n"
    "  status       the agent: node, mesh, endpoint, uptime, peers up\n"
    "  list_peers   the peers the agent has seen: up, suspect or down\n"
    "  stats        discovery counters (beacons, frames, drops)\n"
    "\n"
    "options:\n"
    "  --agent A    the agent's endpoint (ipc://..., tcp://...) or name;\n"
    "               default $MESHQ_AGENT, else this host's agent\n"
    "  --timeout MS how long to wait for a reply (default 5000)\n"
    "  --json       print JSON instead of a table\n"
    "  --help, --version\n";

static int
s_usage_error (const char *format, const char *detail)
{
    fprintf (stderr, "meshq: ");
    fprintf (stderr, format, detail);
    fprintf (stderr, "\nTry 'meshq --help'.\n");
    return S_EX_USAGE;
}

//  Prints a span as a C string would be.
#define S_SPAN(span) (int)(span).size, (span).data

static int
s_print_json (const void *data, size_t size)
{
    meshq_buf_t json;
    meshq_buf_init (&json);
    int rc = meshq_codec_json (data, size, &json);
    if (rc == 0)
        printf ("%s\n", (char *)json.data);
    meshq_buf_fini (&json);
    return rc;
}

static int
s_status (const zframe_t *args, bool json)
{
    const void *data = zframe_data ((zframe_t *)args);
    size_t size = zframe_size ((zframe_t *)args);
    if (json) {
        meshq_buf_t map;
        meshq_buf_init (&map);
        int rc = meshq_codec_map_without (data, size, "rid", &map);
        if (rc == 0)
            rc = s_print_json (map.data, map.size);
        meshq_buf_fini (&map);
        return rc;
    }
    meshq_status_t status;
    int rc = meshq_codec_decode_status (data, size, &status, NULL);
    if (rc)
        return rc;
    printf ("Node      %.*s (%.*s)\n", S_SPAN (status.name),
            S_SPAN (status.node));
    printf ("Mesh      %.*s, vhost %.*s\n", S_SPAN (status.mesh),
            S_SPAN (status.vhost));
    printf ("Version   %.*s\n", S_SPAN (status.version));
    printf ("Endpoint  %.*s\n", S_SPAN (status.endpoint));
    printf ("Uptime    %.1f s\n", (double)status.uptime_ms / 1000.0);
    printf ("Peers up  %" PRIu64 "\n", status.peers);
    return 0;
}

static int
s_width (int width, meshq_span_t span)
{
    return (int)span.size > width ? (int)span.size : width;
}

static int
s_list_peers (const zframe_t *args, bool json)
{
    const void *data = zframe_data ((zframe_t *)args);
    size_t size = zframe_size ((zframe_t *)args);
    if (json) {
        meshq_span_t peers;
        int rc = meshq_codec_map_get (data, size, "peers", &peers);
        return rc ? rc : s_print_json (peers.data, peers.size);
    }
    meshq_peer_row_t *rows = calloc (MESHQ_CONTROL_ROWS_MAX, sizeof *rows);
    assert (rows);
    uint64_t rid;
    uint32_t count;
    int rc = meshq_codec_decode_peer_list (
        data, size, &rid, rows, MESHQ_CONTROL_ROWS_MAX, &count, NULL);
    if (rc == 0) {
        int name = 4, id = 2, endpoint = 8, state = 5;
        for (uint32_t i = 0; i < count; i++) {
            name = s_width (name, rows[i].name);
            id = s_width (id, rows[i].id);
            endpoint = s_width (endpoint, rows[i].endpoint);
        }
        printf ("%-*s  %-*s  %-*s  %-*s  %-20s  %s\n", name, "name", id, "id",
                endpoint, "endpoint", state, "state", "incarnation",
                "last_seen_ms");
        for (uint32_t i = 0; i < count; i++)
            printf (
                "%-*.*s  %-*.*s  %-*.*s  %-*.*s  %-20" PRIu64 "  %" PRIu64 "\n",
                name, S_SPAN (rows[i].name), id, S_SPAN (rows[i].id), endpoint,
                S_SPAN (rows[i].endpoint), state, S_SPAN (rows[i].state),
                rows[i].incarnation, rows[i].last_seen_ms);
    }
    free (rows);
    return rc;
}

static int
s_stats (const zframe_t *args, bool json)
{
    const void *data = zframe_data ((zframe_t *)args);
    size_t size = zframe_size ((zframe_t *)args);
    if (json) {
        meshq_buf_t map;
        meshq_buf_init (&map);
        int rc = meshq_codec_map_without (data, size, "rid", &map);
        if (rc == 0)
            rc = s_print_json (map.data, map.size);
        meshq_buf_fini (&map);
        return rc;
    }
    meshq_counter_t counters[MESHQ_CONTROL_COUNTERS_MAX];
    uint32_t count;
    int rc = meshq_codec_decode_counters (
        data, size, counters, MESHQ_CONTROL_COUNTERS_MAX, &count, NULL);
    for (uint32_t i = 0; rc == 0 && i < count; i++)
        printf ("%-32.*s %" PRIu64 "\n", S_SPAN (counters[i].name),
                counters[i].value);
    return rc;
}

int
main (int argc, char *argv[])
{
    static const struct option options[] = {
        {"agent", required_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    const char *agent = getenv ("MESHQ_AGENT");
    int timeout = 5000;
    bool json = false;
    int code;
    opterr = 0;
    while ((code = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        switch (code) {
            case 'a':
                agent = optarg;
                break;
            case 't': {
                char *end;
                long value = strtol (optarg, &end, 10);
                if (*end || value <= 0 || value > 3600000)
                    return s_usage_error (
                        "--timeout '%s': not a number of milliseconds "
                        "1..3600000",
                        optarg);
                timeout = (int)value;
                break;
            }
            case 'j':
                json = true;
                break;
            case 'h':
                fputs (s_usage, stdout);
                return 0;
            case 'v':
                printf ("meshq %d.%d.%d\n", MESHQ_VERSION_MAJOR,
                        MESHQ_VERSION_MINOR, MESHQ_VERSION_PATCH);
                return 0;
            case ':':
                return s_usage_error ("option '%s' needs a value",
                                      argv[optind - 1]);
            default:
                return s_usage_error ("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return s_usage_error ("%s", "no command given");
    if (optind + 1 < argc)
        return s_usage_error ("unexpected argument '%s'", argv[optind + 1]);
    const char *command = argv[optind];
    const char *verb = streq (command, "status")       ? "STATUS"
                       : streq (command, "list_peers") ? "LIST_PEERS"
                       : streq (command, "stats")      ? "STATS"
                                                       : NULL;
    if (!verb)
        return s_usage_error ("unknown command '%s' (try status, list_peers "
                              "or stats)",
                              command);
    //  An endpoint, or an agent's name on this host.
    char endpoint[512];
    if (agent && strstr (agent, "://"))
        snprintf (endpoint, sizeof endpoint, "%s", agent);
    else if (meshq_endpoint_default (agent, endpoint, sizeof endpoint))
        return s_usage_error ("'%s' is not an agent name; give an endpoint "
                              "such as ipc:///path or tcp://host:port",
                              agent);

    //  No CZMQ signal handler or log noise in a short-lived tool.
    zsys_handler_set (NULL);
    zmsg_t *reply;
    char error[768];
    int rc = meshq_tool_request (endpoint, verb, timeout, &reply, error,
                                 sizeof error);
    if (rc) {
        fprintf (stderr, "meshq: %s\n", error);
        return rc == MESHQ_ETIMEOUT ? S_EX_TEMPFAIL
               : rc == MESHQ_EINVAL ? S_EX_USAGE
                                    : S_EX_UNAVAILABLE;
    }
    zframe_t *kind = zmsg_first (reply);
    zframe_t *args = zmsg_next (reply);
    int exit_code = 0;
    if (zframe_streq (kind, "ERROR")) {
        meshq_error_reply_t error_reply;
        if (meshq_codec_decode_error (zframe_data (args), zframe_size (args),
                                      &error_reply, NULL) == 0)
            fprintf (stderr, "meshq: %s refused: %.*s (%s)\n", command,
                     S_SPAN (error_reply.why),
                     meshq_strerror ((int)error_reply.code));
        else
            fprintf (stderr, "meshq: %s refused, with an unreadable reason\n",
                     command);
        exit_code = S_EX_SOFTWARE;
    } else {
        rc = streq (verb, "STATUS")       ? s_status (args, json)
             : streq (verb, "LIST_PEERS") ? s_list_peers (args, json)
                                          : s_stats (args, json);
        if (rc) {
            fprintf (stderr, "meshq: cannot read the agent's reply: %s\n",
                     meshq_strerror (rc));
            exit_code = S_EX_PROTOCOL;
        }
    }
    zmsg_destroy (&reply);
    return exit_code;
}
