/*  cmd_admin.c - administrative verbs: status, declarations, bindings
    and the lists, with rabbitmqctl's names. Lists print a table, or with
    --json one array of objects.
*/
#include "args.h"
#include "client_internal.h"
#include "codec_args.h"
#include "tool.h"

#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A column of a list: its JSON name, table header, and the argument.
typedef struct {
    const char *name;    //  JSON key.
    const char *header;  //  Table header.
    int arg;             //  meshq_arg_t.
    size_t offset;       //  Member in meshq_args_t.
    char kind;           //  's' span, 'u' uint64, 'b' bool.
} s_column_t;

#define S_COL(name, header, ID, member, kind)                                  \
    {                                                                          \
        name, header, MESHQ_A_##ID, offsetof (meshq_args_t, member), kind      \
    }

static const s_column_t s_queue_cols[] = {
    S_COL ("name", "name", QUEUE, queue, 's'),
    S_COL ("node", "node", NAME, name, 's'),
    S_COL ("messages_ready", "ready", MESSAGES, messages, 'u'),
    S_COL ("mesh_ready", "mesh ready", MESH_READY, mesh_ready, 'u'),
    S_COL ("messages_unacknowledged", "unacked", UNACKED, unacked, 'u'),
    S_COL ("consumers", "consumers", CONSUMERS, consumers, 'u'),
    S_COL ("publish_rate", "publish/s", PUBLISH_RATE, publish_rate, 'u'),
    S_COL ("deliver_rate", "deliver/s", DELIVER_RATE, deliver_rate, 'u'),
    S_COL ("durable", "durable", DURABLE, durable, 'b'),
    S_COL ("quarantined", "quarantined", QUARANTINED, quarantined, 'u'),
    //  Messages that left the queue by a rule, not an ack, per reason.
    S_COL ("disposed_expired", "expired", DISPOSED_EXPIRED, disposed_expired,
           'u'),
    S_COL ("disposed_maxlen", "maxlen", DISPOSED_MAXLEN, disposed_maxlen, 'u'),
    S_COL ("disposed_rejected", "rejected", DISPOSED_REJECTED,
           disposed_rejected, 'u'),
    S_COL ("disposed_delivery_limit", "delivery limit", DISPOSED_LIMIT,
           disposed_limit, 'u'),
    S_COL ("disposed_dedup", "dedup", DISPOSED_DEDUP, disposed_dedup, 'u'),
    {NULL, NULL, 0, 0, 0}};

static const s_column_t s_exchange_cols[] = {
    S_COL ("name", "name", EXCHANGE, exchange, 's'),
    S_COL ("type", "type", TYPE, type, 's'),
    S_COL ("durable", "durable", DURABLE, durable, 'b'),
    {NULL, NULL, 0, 0, 0}};

static const s_column_t s_binding_cols[] = {
    S_COL ("source", "exchange", EXCHANGE, exchange, 's'),
    S_COL ("destination", "queue", QUEUE, queue, 's'),
    S_COL ("routing_key", "key", KEY, key, 's'),
    {NULL, NULL, 0, 0, 0}};

static const s_column_t s_consumer_cols[] = {
    S_COL ("queue", "queue", QUEUE, queue, 's'),
    S_COL ("consumer_tag", "tag", TAG, tag, 's'),
    S_COL ("prefetch_count", "prefetch", PREFETCH, prefetch, 'u'),
    S_COL ("unacknowledged", "unacked", UNACKED, unacked, 'u'),
    S_COL ("user", "user", USER, user, 's'),
    S_COL ("vhost", "vhost", VHOST, vhost, 's'),
    {NULL, NULL, 0, 0, 0}};

//  Credit: what the peer granted us and we have not used; in flight:
//  our deliveries to it not yet settled.
static const s_column_t s_peer_cols[] = {
    S_COL ("name", "name", NAME, name, 's'),
    S_COL ("state", "state", STATE, state, 's'),
    S_COL ("endpoint", "endpoint", ENDPOINT, endpoint, 's'),
    S_COL ("credit", "credit", CREDIT, credit, 'u'),
    S_COL ("in_flight", "in flight", INFLIGHT, inflight, 'u'),
    S_COL ("last_seen_ms", "last seen ms", LAST_SEEN, last_seen, 'u'),
    S_COL ("incarnation", "incarnation", INCARNATION, incarnation, 'u'),
    S_COL ("id", "id", ID, id, 's'),
    {NULL, NULL, 0, 0, 0}};

static const s_column_t s_status_cols[] = {
    S_COL ("name", "name", NAME, name, 's'),
    S_COL ("node", "node", NODE, node, 's'),
    S_COL ("version", "version", VERSION, version, 's'),
    S_COL ("vhost", "vhost", VHOST, vhost, 's'),
    S_COL ("mesh", "mesh", MESH, mesh, 's'),
    S_COL ("endpoint", "endpoint", ENDPOINT, endpoint, 's'),
    S_COL ("peers", "peers", PEERS, peers, 'u'),
    S_COL ("uptime_ms", "uptime_ms", UPTIME, uptime, 'u'),
    S_COL ("messages", "messages", MESSAGES, messages, 'u'),
    S_COL ("connections", "connections", CONSUMERS, consumers, 'u'),
    S_COL ("refused", "refused", REFUSED, refused, 'u'),
    S_COL ("refused_password", "refused: password", REFUSED_PASSWORD,
           refused_password, 'u'),
    S_COL ("refused_busy", "refused: busy", REFUSED_BUSY, refused_busy, 'u'),
    S_COL ("refused_throttled", "refused: throttled", REFUSED_THROTTLED,
           refused_throttled, 'u'),
    S_COL ("dropped", "dropped", DROPPED, dropped, 'u'),
    S_COL ("quarantined", "quarantined", QUARANTINED, quarantined, 'u'),
    S_COL ("bad_beacons", "bad beacons", BAD_BEACONS, bad_beacons, 'u'),
    S_COL ("bad_handshakes", "bad handshakes", BAD_HANDSHAKES, bad_handshakes,
           'u'),
    S_COL ("slow_clients", "slow clients", SLOW_CLIENTS, slow_clients, 'u'),
    S_COL ("unsent", "unsent", UNSENT, unsent, 'u'),
    S_COL ("rss_kb", "rss kB", RSS, rss, 'u'),
    S_COL ("rss_peak_kb", "rss peak kB", RSS_PEAK, rss_peak, 'u'),
    S_COL ("rss_idle_kb", "rss idle kB", RSS_IDLE, rss_idle, 'u'),
    S_COL ("disposed_expired", "disposed expired", DISPOSED_EXPIRED,
           disposed_expired, 'u'),
    S_COL ("disposed_maxlen", "disposed maxlen", DISPOSED_MAXLEN,
           disposed_maxlen, 'u'),
    S_COL ("disposed_rejected", "disposed rejected", DISPOSED_REJECTED,
           disposed_rejected, 'u'),
    S_COL ("disposed_delivery_limit", "disposed limit", DISPOSED_LIMIT,
           disposed_limit, 'u'),
    S_COL ("disposed_dedup", "disposed dedup", DISPOSED_DEDUP, disposed_dedup,
           'u'),
    S_COL ("insecure", "insecure", INSECURE, insecure, 'b'),
    S_COL ("duplicate_names", "duplicate names", DUP_NAMES, dup_names, 'u'),
    {NULL, NULL, 0, 0, 0}};

//  Writes a value as JSON or as table text.
static void
s_value (const meshq_args_t *row, const s_column_t *col, bool json, FILE *out)
{
    const void *member = (const char *)row + col->offset;
    bool present = (row->present >> col->arg) & 1;
    if (col->kind == 's') {
        const meshq_span_t *span = member;
        if (!json) {
            fprintf (out, "%.*s", (int)span->size, present ? span->data : "");
            return;
        }
        fputc ('"', out);
        for (uint32_t i = 0; present && i < span->size; i++) {
            unsigned char c = (unsigned char)span->data[i];
            if (c == '"' || c == '\\')
                fprintf (out, "\\%c", c);
            else if (c < 0x20)
                fprintf (out, "\\u%04x", c);
            else
                fputc (c, out);
        }
        fputc ('"', out);
    } else if (col->kind == 'u')
        fprintf (out, "%" PRIu64, present ? *(const uint64_t *)member : 0);
    else
        fprintf (out, "%s",
                 present && *(const bool *)member ? "true" : "false");
}

static void
s_print_rows (const meshq_args_t *rows, size_t count, const s_column_t *cols,
              bool json)
{
    if (json) {
        printf ("[");
        for (size_t r = 0; r < count; r++) {
            printf ("%s{", r ? "," : "");
            for (int c = 0; cols[c].name; c++) {
                printf ("%s\"%s\":", c ? "," : "", cols[c].name);
                s_value (&rows[r], &cols[c], true, stdout);
            }
            printf ("}");
        }
        printf ("]\n");
        return;
    }
    for (int c = 0; cols[c].name; c++)
        printf ("%s%s", c ? "\t" : "", cols[c].header);
    printf ("\n");
    for (size_t r = 0; r < count; r++) {
        for (int c = 0; cols[c].name; c++) {
            if (c)
                printf ("\t");
            s_value (&rows[r], &cols[c], false, stdout);
        }
        printf ("\n");
    }
}

int
meshq_tool_list (meshq_tool_t *tool, int argc, char **argv)
{
    const char *verb = argv[0];
    const s_column_t *cols = NULL;
    const char *command = NULL, *field = NULL;
    if (strcmp (verb, "list_queues") == 0)
        cols = s_queue_cols, command = "LIST_QUEUES", field = "queues";
    else if (strcmp (verb, "list_exchanges") == 0)
        cols = s_exchange_cols, command = "LIST_EXCHANGES", field = "exchanges";
    else if (strcmp (verb, "list_peers") == 0)
        cols = s_peer_cols, command = "LIST_PEERS", field = "peers";
    else if (strcmp (verb, "list_bindings") == 0)
        cols = s_binding_cols, command = "LIST_BINDINGS", field = "bindings";
    else
        cols = s_consumer_cols, command = "LIST_CONSUMERS", field = "consumers";
    for (int i = 1; i < argc; i++) {
        int matched =
            meshq_tool_flag (verb, argc, argv, &i, "--json", &tool->json);
        if (matched < 0)
            return MESHQ_EXIT_USAGE;
        if (!matched)
            return meshq_tool_usage (verb, "takes only --json");
    }
    int exit = 0;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client)
        return exit;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    zmsg_t *reply = NULL;
    int rc = meshq_client_call (client, command, &args, &reply);
    if (rc) {
        exit = meshq_tool_fail (verb, client, rc);
        meshq_client_destroy (&client);
        return exit;
    }
    zmsg_first (reply);
    zframe_t *frame = zmsg_next (reply);
    uint64_t rid;
    meshq_span_t cursor;
    uint32_t count;
    const char *why = NULL;
    rc = meshq_codec_decode_list (zframe_data (frame), zframe_size (frame),
                                  field, &rid, &cursor, &count, &why);
    if (rc) {
        fprintf (stderr, "meshq: %s: malformed answer: %s\n", verb, why);
        exit = MESHQ_EXIT_SOFTWARE;
    } else {
        meshq_args_t *rows = calloc (count + 1, sizeof *rows);
        size_t n = 0;
        while (n < count && meshq_codec_list_next (&cursor, &rows[n]))
            n++;
        s_print_rows (rows, n, cols, tool->json);
        free (rows);
    }
    zmsg_destroy (&reply);
    meshq_client_destroy (&client);
    return exit;
}

int
meshq_tool_status (meshq_tool_t *tool, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        int matched =
            meshq_tool_flag ("status", argc, argv, &i, "--json", &tool->json);
        if (matched < 0)
            return MESHQ_EXIT_USAGE;
        if (!matched)
            return meshq_tool_usage ("status", "takes only --json");
    }
    int exit = 0;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client)
        return exit;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    zmsg_t *reply = NULL;
    int rc = meshq_client_call (client, "STATUS", &args, &reply);
    if (rc)
        exit = meshq_tool_fail ("status", client, rc);
    else {
        zmsg_first (reply);
        zframe_t *frame = zmsg_next (reply);
        meshq_args_t status;
        meshq_codec_decode_args (zframe_data (frame), zframe_size (frame),
                                 &status, NULL);
        if (tool->json) {
            printf ("{");
            for (int c = 0; s_status_cols[c].name; c++) {
                printf ("%s\"%s\":", c ? "," : "", s_status_cols[c].name);
                s_value (&status, &s_status_cols[c], true, stdout);
            }
            printf ("}\n");
        } else
            for (int c = 0; s_status_cols[c].name; c++) {
                printf ("%-17s ", s_status_cols[c].header);
                s_value (&status, &s_status_cols[c], false, stdout);
                printf ("\n");
            }
    }
    zmsg_destroy (&reply);
    meshq_client_destroy (&client);
    return exit;
}

//  Parses a non-negative integer option value, or returns -1.
//  "--NAME" of the long option at index, for messages.
static const char *
s_long_name (const struct option *options, int index)
{
    static char name[64];
    snprintf (name, sizeof name, "--%s", options[index].name);
    return name;
}

int
meshq_tool_declare_queue (meshq_tool_t *tool, int argc, char **argv)
{
    static const char *usage =
        "NAME [--durable [true|false]] [--exclusive [true|false]] "
        "[--auto-delete [true|false]] "
        "[--max-length N] [--max-length-bytes SIZE] "
        "[--overflow drop-head|reject-publish] [--message-ttl MS] "
        "[--dead-letter-exchange X] [--dead-letter-routing-key K] "
        "[--max-priority N] [--max-deliveries N] [--ack-timeout MS]";
    static const struct option options[] = {
        {"durable", optional_argument, NULL, 'd'},
        {"exclusive", optional_argument, NULL, 'e'},
        {"auto-delete", optional_argument, NULL, 'a'},
        {"max-length", required_argument, NULL, 'l'},
        {"max-length-bytes", required_argument, NULL, 'b'},
        {"overflow", required_argument, NULL, 'o'},
        {"message-ttl", required_argument, NULL, 't'},
        {"dead-letter-exchange", required_argument, NULL, 'x'},
        {"dead-letter-routing-key", required_argument, NULL, 'k'},
        {"max-priority", required_argument, NULL, 'p'},
        {"max-deliveries", required_argument, NULL, 'm'},
        {"ack-timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    meshq_queue_options_t q;
    meshq_queue_options_init (&q);
    int opt;
    int64_t n;
    uint64_t size;
    int index = 0;
    while ((opt = getopt_long (argc, argv, "", options, &index)) != -1) {
        switch (opt) {
            case 'd':
            case 'e':
            case 'a': {
                const char *option = opt == 'd'   ? "--durable"
                                     : opt == 'e' ? "--exclusive"
                                                  : "--auto-delete";
                bool *flag = opt == 'd'   ? &q.durable
                             : opt == 'e' ? &q.exclusive
                                          : &q.auto_delete;
                int took =
                    meshq_tool_bool ("declare_queue", option, optarg,
                                     optind < argc ? argv[optind] : NULL, flag);
                if (took < 0)
                    return MESHQ_EXIT_USAGE;
                optind += took;
                break;
            }
            case 'o':
                if (strcmp (optarg, "reject-publish") == 0)
                    q.overflow = MESHQ_OVERFLOW_REJECT_PUBLISH;
                else if (strcmp (optarg, "drop-head") != 0)
                    return meshq_tool_usage (
                        "declare_queue",
                        "--overflow takes drop-head or reject-publish");
                break;
            case 'x':
                q.dead_letter_exchange = optarg;
                break;
            case 'k':
                q.dead_letter_routing_key = optarg;
                break;
            case 'b':
                if (meshq_tool_size ("declare_queue", "--max-length-bytes",
                                     optarg, INT64_MAX, &size))
                    return MESHQ_EXIT_USAGE;
                q.max_length_bytes = (int64_t)size;
                break;
            case 'l':
            case 't':
            case 'p':
            case 'm':
            case 'T':
                if (meshq_tool_number ("declare_queue",
                                       s_long_name (options, index), optarg, 0,
                                       opt == 'p'   ? 255
                                       : opt == 'm' ? INT32_MAX
                                                    : INT64_MAX,
                                       &n))
                    return MESHQ_EXIT_USAGE;
                if (opt == 'l')
                    q.max_length = n;
                else if (opt == 't')
                    q.message_ttl = n;
                else if (opt == 'p')
                    q.max_priority = (int)n;
                else if (opt == 'm')
                    q.max_deliveries = (int)n;
                else
                    q.ack_timeout = n;
                break;
            case 'h':
                printf ("usage: meshq declare_queue %s\n", usage);
                return MESHQ_EXIT_OK;
            default:
                return meshq_tool_usage ("declare_queue", usage);
        }
    }
    if (optind != argc - 1)
        return meshq_tool_usage ("declare_queue", usage);
    int exit = 0;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client)
        return exit;
    int rc = meshq_client_declare_queue (client, argv[optind], &q);
    if (rc)
        exit = meshq_tool_fail ("declare_queue", client, rc);
    else
        printf ("queue declared: %s\n", meshq_client_queue_name (client));
    meshq_client_destroy (&client);
    return exit;
}

//  Verbs of the form "VERB NAME [--flag...]" with boolean flags only.
static int
s_simple (meshq_tool_t *tool, int argc, char **argv, const char *usage,
          const char *flag1, bool *value1, const char *flag2, bool *value2,
          int min_positional, int max_positional, char **positional)
{
    int count = 0;
    for (int i = 1; i < argc; i++) {
        int matched = 0;
        if (flag1)
            matched = meshq_tool_flag (argv[0], argc, argv, &i, flag1, value1);
        if (!matched && flag2)
            matched = meshq_tool_flag (argv[0], argc, argv, &i, flag2, value2);
        if (!matched)
            matched = meshq_tool_flag (argv[0], argc, argv, &i, "--json",
                                       &tool->json);
        if (matched < 0)
            return MESHQ_EXIT_USAGE;
        if (matched)
            continue;
        if (argv[i][0] == '-' || count == max_positional)
            return meshq_tool_usage (argv[0], usage);
        else
            positional[count++] = argv[i];
    }
    if (count < min_positional)
        return meshq_tool_usage (argv[0], usage);
    return 0;
}

int
meshq_tool_delete_queue (meshq_tool_t *tool, int argc, char **argv)
{
    bool if_unused = false, if_empty = false;
    char *name[1];
    int exit = s_simple (tool, argc, argv, "NAME [--if-unused] [--if-empty]",
                         "--if-unused", &if_unused, "--if-empty", &if_empty, 1,
                         1, name);
    if (exit)
        return exit;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client)
        return exit;
    uint64_t messages = 0;
    int rc = meshq_client_delete_queue (client, name[0], if_unused, if_empty,
                                        &messages);
    if (rc)
        exit = meshq_tool_fail ("delete_queue", client, rc);
    else
        printf ("queue deleted: %s (%" PRIu64 " messages)\n", name[0],
                messages);
    meshq_client_destroy (&client);
    return exit;
}

int
meshq_tool_purge_queue (meshq_tool_t *tool, int argc, char **argv)
{
    char *name[1];
    int exit =
        s_simple (tool, argc, argv, "NAME", NULL, NULL, NULL, NULL, 1, 1, name);
    if (exit)
        return exit;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client)
        return exit;
    uint64_t messages = 0;
    int rc = meshq_client_purge_queue (client, name[0], &messages);
    if (rc)
        exit = meshq_tool_fail ("purge_queue", client, rc);
    else
        printf ("queue purged: %s (%" PRIu64 " messages)\n", name[0], messages);
    meshq_client_destroy (&client);
    return exit;
}

int
meshq_tool_declare_exchange (meshq_tool_t *tool, int argc, char **argv)
{
    const char *usage = "NAME TYPE [--durable [true|false]]";
    bool durable = true;
    char *positional[2];
    int count = 0;
    for (int i = 1; i < argc; i++) {
        int matched = meshq_tool_flag ("declare_exchange", argc, argv, &i,
                                       "--durable", &durable);
        if (matched < 0)
            return MESHQ_EXIT_USAGE;
        if (matched)
            continue;
        if (argv[i][0] == '-' || count == 2)
            return meshq_tool_usage ("declare_exchange", usage);
        else
            positional[count++] = argv[i];
    }
    if (count != 2)
        return meshq_tool_usage ("declare_exchange", usage);
    int exit = 0;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client)
        return exit;
    int rc = meshq_client_declare_exchange (client, positional[0],
                                            positional[1], durable);
    if (rc)
        exit = meshq_tool_fail ("declare_exchange", client, rc);
    else
        printf ("exchange declared: %s (%s)\n", positional[0], positional[1]);
    meshq_client_destroy (&client);
    return exit;
}

int
meshq_tool_delete_exchange (meshq_tool_t *tool, int argc, char **argv)
{
    bool if_unused = false;
    char *name[1];
    int exit = s_simple (tool, argc, argv, "NAME [--if-unused]", "--if-unused",
                         &if_unused, NULL, NULL, 1, 1, name);
    if (exit)
        return exit;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client)
        return exit;
    int rc = meshq_client_delete_exchange (client, name[0], if_unused);
    if (rc)
        exit = meshq_tool_fail ("delete_exchange", client, rc);
    else
        printf ("exchange deleted: %s\n", name[0]);
    meshq_client_destroy (&client);
    return exit;
}

static int
s_binding (meshq_tool_t *tool, int argc, char **argv, bool bind)
{
    const char *usage =
        "QUEUE EXCHANGE [KEY] [--match NAME=VALUE ...] [--x-match all|any]";
    char *positional[3] = {NULL, NULL, ""};
    int count = 0;
    meshq_msg_t *match = meshq_msg_new ();
    int exit = 0;
    for (int i = 1; i < argc && !exit; i++) {
        if ((strcmp (argv[i], "--match") == 0 ||
             strcmp (argv[i], "--x-match") == 0) &&
            i + 1 < argc) {
            bool x = strcmp (argv[i], "--x-match") == 0;
            char *pair = argv[++i];
            char *equals = strchr (pair, '=');
            if (x)
                meshq_msg_set_header_str (match, "x-match", pair);
            else if (!equals)
                exit = meshq_tool_usage (argv[0], "--match takes NAME=VALUE");
            else {
                *equals = 0;
                meshq_msg_set_header_str (match, pair, equals + 1);
            }
        } else if (argv[i][0] == '-' || count == 3)
            exit = meshq_tool_usage (argv[0], usage);
        else
            positional[count++] = argv[i];
    }
    if (!exit && count < 2)
        exit = meshq_tool_usage (argv[0], usage);
    meshq_client_t *client = exit ? NULL : meshq_tool_connect (tool, &exit);
    if (client) {
        const meshq_msg_t *args = meshq_msg_header_count (match) ? match : NULL;
        int rc =
            bind ? meshq_client_bind_queue (client, positional[0],
                                            positional[1], positional[2], args)
                 : meshq_client_unbind_queue (client, positional[0],
                                              positional[1], positional[2],
                                              args);
        if (rc)
            exit = meshq_tool_fail (argv[0], client, rc);
        else
            printf ("%s: %s -> %s (%s)\n", bind ? "bound" : "unbound",
                    positional[1], positional[0], positional[2]);
        meshq_client_destroy (&client);
    }
    meshq_msg_destroy (&match);
    return exit;
}

int
meshq_tool_bind_queue (meshq_tool_t *tool, int argc, char **argv)
{
    return s_binding (tool, argc, argv, true);
}

int
meshq_tool_unbind_queue (meshq_tool_t *tool, int argc, char **argv)
{
    return s_binding (tool, argc, argv, false);
}
