/*  meshq.c - the meshq command: administration, publish, consume, bench.

    meshq [--agent ENDPOINT] [--user U] [--password P] [--json]
          [--timeout SECONDS] VERB [ARGS...]

    Administrative verbs keep rabbitmqctl's names, so commands port word
    for word. `meshq help` lists them.
*/
#include "tool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;                                        //  Verb.
    int (*run) (meshq_tool_t *tool, int argc, char **argv);  //  Handler.
    const char *help;                                        //  One line.
} s_verb_t;

static const s_verb_t s_verbs[] = {
    {"status", meshq_tool_status,
     "the agent: version, uptime, memory, store, quota, alarms, peers"},
    {"ping", meshq_tool_ping, "whether the agent is up and answering"},
    {"check_alarms", meshq_tool_check_alarms,
     "fails (exit 1) if memory, disk, quota or blocked publishers alarm"},
    {"check_port_connectivity", meshq_tool_check_port_connectivity,
     "fails (exit 1) if a listener of the agent cannot be reached"},
    {"list_queues", meshq_tool_list,
     "[--local] [COLUMN ...] queues of the mesh, totals per queue"},
    {"list_connections", meshq_tool_list,
     "[COLUMN ...] client connections (sessions)"},
    {"list_channels", meshq_tool_list,
     "[COLUMN ...] sessions as channels: consumers, unacked, unconfirmed"},
    {"list_listeners", meshq_tool_list,
     "[COLUMN ...] the agent's endpoints and their protocols"},
    {"list_exchanges", meshq_tool_list, "exchanges and their types"},
    {"list_bindings", meshq_tool_list, "bindings of queues to exchanges"},
    {"list_consumers", meshq_tool_list, "consumers and their prefetch"},
    {"list_peers", meshq_tool_list,
     "agents of the mesh: state, credit, in flight"},
    {"declare_queue", meshq_tool_declare_queue,
     "NAME [--durable [true|false]] [--max-length N] ..."},
    {"delete_queue", meshq_tool_delete_queue,
     "NAME [--if-unused] [--if-empty]"},
    {"purge_queue", meshq_tool_purge_queue, "NAME"},
    {"declare_exchange", meshq_tool_declare_exchange,
     "NAME TYPE [--durable [true|false]]"},
    {"delete_exchange", meshq_tool_delete_exchange, "NAME [--if-unused]"},
    {"bind_queue", meshq_tool_bind_queue,
     "QUEUE EXCHANGE [KEY] [--match K=V ...] [--x-match all|any]"},
    {"unbind_queue", meshq_tool_unbind_queue, "QUEUE EXCHANGE [KEY]"},
    {"publish", meshq_tool_publish,
     "[--exchange X] --routing-key K [BODY...] (no BODY: stdin lines)"},
    {"consume", meshq_tool_consume,
     "QUEUE [--count N] [--prefetch N] [--exec CMD]"},
    {"bench", meshq_tool_bench,
     "[--producers N --consumers N --count N ...] load test"},
    {"add_vhost", meshq_tool_users, "VHOST"},
    {"delete_vhost", meshq_tool_users, "VHOST"},
    {"list_vhosts", meshq_tool_users, "virtual hosts"},
    {"add_user", meshq_tool_users, "USER [PASSWORD] (else from stdin)"},
    {"delete_user", meshq_tool_users, "USER"},
    {"change_password", meshq_tool_users, "USER [PASSWORD] (else stdin)"},
    {"set_user_tags", meshq_tool_users, "USER [TAG ...]"},
    {"list_users", meshq_tool_users, "users and their tags"},
    {"set_permissions", meshq_tool_users,
     "[-p VHOST] USER CONFIGURE WRITE READ"},
    {"clear_permissions", meshq_tool_users, "[-p VHOST] USER"},
    {"list_permissions", meshq_tool_users, "[-p VHOST]"},
    {"list_user_permissions", meshq_tool_users, "USER"},
};

static void
s_help (FILE *out)
{
    fprintf (
        out,
        "usage: meshq [--version] [--agent ENDPOINT] [--user U] [--password P] "
        "[-p VHOST] [--json] [--timeout S] VERB [ARGS]\n\n"
        "The agent endpoint comes from --agent, $MESHQ_AGENT, or %s.\n\n"
        "verbs:\n",
        MESHQ_DEFAULT_ENDPOINT);
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++)
        fprintf (out, "  %-23s %s\n", s_verbs[i].name, s_verbs[i].help);
    fprintf (out, "\n`meshq VERB --help` shows a verb's options.\n");
}

int
main (int argc, char **argv)
{
    meshq_tool_t tool = {.agent = getenv ("MESHQ_AGENT"), .timeout_ms = 10000};
    static const struct option options[] = {
        {"agent", required_argument, NULL, 'a'},
        {"user", required_argument, NULL, 'U'},
        {"password", required_argument, NULL, 'P'},
        {"json", optional_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"vhost", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    //  Global options come before the verb: stop at the first non-option.
    int opt;
    while ((opt = getopt_long (argc, argv, "+a:jt:hp:", options, NULL)) != -1) {
        switch (opt) {
            case 'a':
                tool.agent = optarg;
                break;
            case 'U':
                tool.user = optarg;
                break;
            case 'P':
                tool.password = optarg;
                break;
            case 'p':
                tool.vhost = optarg;
                break;
            case 'j': {
                int took = meshq_tool_bool ("meshq", "--json", optarg,
                                            optind < argc ? argv[optind] : NULL,
                                            &tool.json);
                if (took < 0)
                    return MESHQ_EXIT_USAGE;
                optind += took;
                break;
            }
            case 't': {
                char *end;
                double seconds = strtod (optarg, &end);
                if (*end || seconds <= 0 || seconds > 86400)
                    return meshq_tool_usage ("meshq",
                                             "--timeout takes seconds, "
                                             "0 < S <= 86400");
                tool.timeout_ms = (int)(seconds * 1000);
                break;
            }
            case 'h':
                s_help (stdout);
                return MESHQ_EXIT_OK;
            case 'V':
                printf ("meshq %s\n", MESHQ_PROJECT_VERSION);
                return MESHQ_EXIT_OK;
            default:
                s_help (stderr);
                return MESHQ_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        s_help (stderr);
        return MESHQ_EXIT_USAGE;
    }
    const char *verb = argv[optind];
    if (strcmp (verb, "help") == 0) {
        s_help (stdout);
        return MESHQ_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++)
        if (strcmp (verb, s_verbs[i].name) == 0) {
            //  The verb sees its name as argv[0], as getopt expects;
            //  optind 0 makes glibc's getopt start afresh. rabbitmqctl's
            //  "-p VHOST" may come anywhere after the verb.
            int verb_argc = 0;
            char **verb_argv = argv + optind;
            for (int a = optind; a < argc; a++) {
                if ((strcmp (argv[a], "-p") == 0 ||
                     strcmp (argv[a], "--vhost") == 0) &&
                    a + 1 < argc) {
                    tool.vhost = argv[++a];
                    continue;
                }
                verb_argv[verb_argc++] = argv[a];
            }
            optind = 0;
            return s_verbs[i].run (&tool, verb_argc, verb_argv);
        }
    fprintf (stderr, "meshq: unknown verb '%s' (try 'meshq help')\n", verb);
    return MESHQ_EXIT_USAGE;
}
