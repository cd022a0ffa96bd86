/*  cmd_admin.c - administrative verbs: status, declarations, bindings
    and the lists, with rabbitmqctl's names. Lists print a table, or with
    --json one array of objects; columns may be chosen by name, as
    rabbitmqctl's (`meshq list_queues name messages consumers`).
*/
#include "tool.h"

#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Writes text as a JSON string.
static void
s_json_string (const char *text, FILE *out)
{
    fputc ('"', out);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf (out, "\\%c", *c);
        else if (*c < 0x20)
            fprintf (out, "\\u%04x", *c);
        else
            fputc (*c, out);
    }
    fputc ('"', out);
}

//  Writes a value as JSON: a number with no value (an estimate that
//  cannot be made) is null.
static void
s_json_value (const meshq_table_t *table, size_t row, size_t column, FILE *out)
{
    const char *text = meshq_table_str (table, row, column);
    if (meshq_table_column_type (table, column) == MESHQ_COLUMN_STR)
        s_json_string (text, out);
    else
        fputs (*text ? text : "null", out);
}

int
meshq_tool_columns (const char *verb, const meshq_table_t *table, char **names,
                    int count, bool all, int *columns)
{
    if (count == 0) {
        int n = 0;
        for (size_t c = 0; c < meshq_table_columns (table); c++)
            if (all || meshq_table_column_shown (table, c))
                columns[n++] = (int)c;
        return n;
    }
    for (int i = 0; i < count; i++) {
        columns[i] = meshq_table_column_find (table, names[i]);
        if (columns[i] < 0) {
            fprintf (stderr, "meshq: %s: no column '%s'; columns:", verb,
                     names[i]);
            for (size_t c = 0; c < meshq_table_columns (table); c++)
                fprintf (stderr, " %s", meshq_table_column_name (table, c));
            fprintf (stderr, "\n");
            return -1;
        }
    }
    return count;
}

void
meshq_tool_print_table (const meshq_table_t *table, const int *columns,
                        int count, bool json)
{
    size_t rows = meshq_table_rows (table);
    if (json) {
        printf ("[");
        for (size_t r = 0; r < rows; r++) {
            printf ("%s{", r ? "," : "");
            for (int c = 0; c < count; c++) {
                printf ("%s\"%s\":", c ? "," : "",
                        meshq_table_column_name (table, (size_t)columns[c]));
                s_json_value (table, r, (size_t)columns[c], stdout);
            }
            printf ("}");
        }
        printf ("]\n");
        return;
    }
    for (int c = 0; c < count; c++)
        printf ("%s%s", c ? "\t" : "",
                meshq_table_column_name (table, (size_t)columns[c]));
    printf ("\n");
    for (size_t r = 0; r < rows; r++) {
        for (int c = 0; c < count; c++)
            printf ("%s%s", c ? "\t" : "",
                    meshq_table_str (table, r, (size_t)columns[c]));
        printf ("\n");
    }
}

int
meshq_tool_list (meshq_tool_t *tool, int argc, char **argv)
{
    const char *verb = argv[0];
    const char *what = verb + strlen ("list_");
    bool queues = strcmp (what, "queues") == 0;
    bool local = false;
    char **names = calloc ((size_t)argc + 1, sizeof *names);
    int count = 0;
    for (int i = 1; i < argc; i++) {
        int matched =
            meshq_tool_flag (verb, argc, argv, &i, "--json", &tool->json);
        if (!matched && queues)
            matched = meshq_tool_flag (verb, argc, argv, &i, "--local", &local);
        if (matched < 0) {
            free (names);
            return MESHQ_EXIT_USAGE;
        }
        if (matched)
            continue;
        const char *usage = queues ? "[--local] [--json] [COLUMN ...]"
                                   : "[--json] [COLUMN ...]";
        if (strcmp (argv[i], "--help") == 0) {
            free (names);
            printf ("usage: meshq %s %s\n", verb, usage);
            return MESHQ_EXIT_OK;
        }
        if (argv[i][0] == '-') {
            free (names);
            fprintf (stderr, "meshq: %s: no option '%s'\n", verb, argv[i]);
            return meshq_tool_usage (verb, usage);
        }
        names[count++] = argv[i];
    }
    int exit = 0;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client) {
        free (names);
        return exit;
    }
    meshq_table_t *table = NULL;
    int rc = meshq_client_list (client, what, NULL,
                                local ? MESHQ_LIST_LOCAL : 0, &table);
    if (rc)
        exit = meshq_tool_fail (verb, client, rc);
    else {
        int *columns = calloc (meshq_table_columns (table) + (size_t)count + 1,
                               sizeof *columns);
        //  JSON is for programs: every column, unless some are named.
        int shown =
            meshq_tool_columns (verb, table, names, count, tool->json, columns);
        if (shown < 0)
            exit = MESHQ_EXIT_USAGE;
        else
            meshq_tool_print_table (table, columns, shown, tool->json);
        if (*meshq_table_unanswered (table))
            fprintf (stderr,
                     "meshq: %s: without the part of agents that did not "
                     "answer: %s\n",
                     verb, meshq_table_unanswered (table));
        free (columns);
    }
    meshq_table_destroy (&table);
    meshq_client_destroy (&client);
    free (names);
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
    meshq_table_t *status = NULL;
    int rc = meshq_client_status (client, &status);
    if (rc)
        exit = meshq_tool_fail ("status", client, rc);
    else if (tool->json) {
        printf ("{");
        for (size_t c = 0; c < meshq_table_columns (status); c++) {
            printf ("%s\"%s\":", c ? "," : "",
                    meshq_table_column_name (status, c));
            s_json_value (status, 0, c, stdout);
        }
        printf ("}\n");
    } else
        for (size_t c = 0; c < meshq_table_columns (status); c++)
            printf ("%-23s %s\n", meshq_table_column_name (status, c),
                    meshq_table_str (status, 0, c));
    meshq_table_destroy (&status);
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
