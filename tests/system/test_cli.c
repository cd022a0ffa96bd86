/*  test_cli.c - the meshq command and the daemon's command line as an
    operator uses them: --version, sizes with suffixes, boolean flags,
    password prompts, Ctrl-C on consume, --mandatory, and bench over
    tcp:// as a user.
*/
#include "procutil.h"
#include "testutil.h"

#include <regex.h>

static char s_dir[256];
static char s_endpoint[300];
static char s_tool[1024];
static char s_agent[1024];

static void
s_setup (void)
{
    procutil_dir ("cli", s_dir, sizeof s_dir, s_endpoint, sizeof s_endpoint);
    snprintf (s_tool, sizeof s_tool, "%s/tools/meshq", MESHQ_BINARY_DIR);
    snprintf (s_agent, sizeof s_agent, "%s/agents/meshq-agent",
              MESHQ_BINARY_DIR);
}

static void
s_teardown (void)
{
    procutil_rmdir (s_dir);
}

TestSuite (cli, .init = s_setup, .fini = s_teardown, .timeout = 120);

//  Runs the meshq tool against the suite's agent with verb (or NULL) and
//  the arguments, input on its standard input, for up to ms; returns it
//  exited.
static procutil_prog_t *
s_run (const char *input, int ms, const char *verb, const char *first,
       va_list args)
{
    const char *argv[32] = {s_tool, "--agent", s_endpoint};
    int argc = 3;
    if (verb)
        argv[argc++] = verb;
    for (const char *arg = first; arg; arg = va_arg (args, const char *)) {
        cr_assert_lt (argc, 31);
        argv[argc++] = arg;
    }
    argv[argc] = NULL;
    procutil_prog_t *prog = procutil_prog_new (argv, input, ms);
    procutil_prog_exit_code (prog);
    return prog;
}

//  Runs the meshq tool against the suite's agent with the arguments
//  (NULL-terminated), input on its standard input; returns it exited.
static procutil_prog_t *
s_meshq (const char *input, const char *first, ...)
{
    va_list args;
    va_start (args, first);
    procutil_prog_t *prog = s_run (input, 10000, NULL, first, args);
    va_end (args);
    return prog;
}

static int
s_exit (const procutil_prog_t *prog)
{
    return WIFEXITED (prog->status) ? WEXITSTATUS (prog->status) : -1;
}

Test (cli, every_binary_prints_its_version)
{
    const char *binaries[] = {s_tool, s_agent};
    const char *names[] = {"meshq ", "meshq-agent "};
    for (int i = 0; i < 2; i++) {
        const char *argv[] = {binaries[i], "--version", NULL};
        procutil_prog_t *prog = procutil_prog_new (argv, NULL, 10000);
        procutil_prog_expect_exit (prog, 0);
        char expected[64];
        snprintf (expected, sizeof expected, "%s%s\n", names[i],
                  MESHQ_PROJECT_VERSION);
        cr_expect_str_eq (prog->output, expected);
        procutil_prog_destroy (&prog);
    }
}

//  Runs meshq-agent with the extra arguments (NULL-terminated) on the
//  suite's directory and waits for it to exit.
static procutil_prog_t *
s_agent_refused (const char *first, ...)
{
    char data[300];
    snprintf (data, sizeof data, "%s/store", s_dir);
    const char *argv[32] = {s_agent, "--name",    "cli",      "--data",
                            data,    "--control", s_endpoint, "--standalone"};
    int argc = 8;
    va_list args;
    va_start (args, first);
    for (const char *arg = first; arg; arg = va_arg (args, const char *))
        argv[argc++] = arg;
    va_end (args);
    argv[argc] = NULL;
    procutil_prog_t *prog = procutil_prog_new (argv, NULL, 10000);
    procutil_prog_exit_code (prog);
    return prog;
}

Test (cli, sizes_take_suffixes_and_refusals_name_option_and_value)
{
    //  A flag that is not a size: the option and the value, exit 64.
    procutil_prog_t *prog = s_agent_refused ("--quota", "1X", NULL);
    cr_expect_eq (WEXITSTATUS (prog->status), 64, "%s", prog->output);
    cr_expect (strstr (prog->output, "meshq-agent: --quota '1X': not a size "
                                     "(use a number with K, M or G)"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_agent_refused ("--max-memory", "lots", NULL);
    cr_expect_eq (WEXITSTATUS (prog->status), 64, "%s", prog->output);
    cr_expect (strstr (prog->output, "--max-memory 'lots': not a size"), "%s",
               prog->output);
    procutil_prog_destroy (&prog);

    //  The same in the file: named as the file's key, exit 78.
    char path[300];
    snprintf (path, sizeof path, "%s/bad.cfg", s_dir);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fprintf (file, "agent\n    segment_size = \"1Q\"\n");
    fclose (file);
    prog = s_agent_refused ("--config", path, NULL);
    cr_expect_eq (WEXITSTATUS (prog->status), 78, "%s", prog->output);
    cr_expect (strstr (prog->output, "agent/segment_size '1Q': not a size"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);

    //  With suffixes, in the file and as flags, the agent starts.
    snprintf (path, sizeof path, "%s/good.cfg", s_dir);
    file = fopen (path, "w");
    cr_assert_not_null (file);
    fprintf (file, "agent\n    segment_size = \"1M\"\n    max_message = "
                   "\"256KiB\"\n");
    fclose (file);
    char data[300];
    snprintf (data, sizeof data, "%s/store", s_dir);
    char *argv[] = {s_agent,     "--name",   "cli",          "--data",   data,
                    "--control", s_endpoint, "--standalone", "--config", path,
                    "--quota",   "1G",       "--max-memory", "512M",     NULL};
    char log[300];
    snprintf (log, sizeof log, "%s/agent.log", s_dir);
    pid_t agent = procutil_agent_argv (argv, log, s_endpoint);
    cr_expect_eq (WEXITSTATUS (procutil_kill (agent, SIGTERM)), 0);
}

Test (cli, the_tools_byte_options_take_suffixes)
{
    pid_t agent = procutil_agent ("cli", s_dir, s_endpoint);
    procutil_prog_t *prog =
        s_meshq (NULL, "declare_queue", "q", "--max-length-bytes", "1X", NULL);
    cr_expect_eq (s_exit (prog), 64, "%s", prog->output);
    cr_expect (strstr (prog->output, "--max-length-bytes '1X': not a size"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog =
        s_meshq (NULL, "declare_queue", "q", "--max-length-bytes", "1K", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    procutil_prog_destroy (&prog);
    //  One message of 600 bytes fits, a second one does not.
    char body[601];
    memset (body, 'x', 600);
    body[600] = 0;
    for (int i = 0; i < 2; i++) {
        prog = s_meshq (NULL, "publish", "--routing-key", "q", body, NULL);
        procutil_prog_destroy (&prog);
    }
    prog = s_meshq (NULL, "--json", "list_queues", NULL);
    cr_expect (strstr (prog->output, "\"messages_ready\":1,"), "%s",
               prog->output);
    procutil_prog_destroy (&prog);
    procutil_kill (agent, SIGTERM);
}

//  Whether the JSON list of verb has an object whose name is name and
//  that holds field (as "key":value).
static bool
s_listed (const char *verb, const char *name, const char *field)
{
    procutil_prog_t *prog = s_meshq (NULL, "--json", verb, NULL);
    cr_assert_eq (s_exit (prog), 0, "%s", prog->output);
    char key[128];
    snprintf (key, sizeof key, "{\"name\":\"%s\",", name);
    const char *row = strstr (prog->output, key);
    const char *end = row ? strchr (row, '}') : NULL;
    const char *at = row ? strstr (row, field) : NULL;
    bool found = at && at < end;
    procutil_prog_destroy (&prog);
    return found;
}

Test (cli, boolean_flags_work_bare_or_with_a_value)
{
    pid_t agent = procutil_agent ("cli", s_dir, s_endpoint);
    const char *const cases[][6] = {
        {"declare_queue", "bare", "--durable", NULL},
        {"declare_queue", "valued", "--durable", "true", NULL},
        {"declare_queue", "off", "--durable", "false", "--auto-delete", NULL},
        {"declare_queue", "equals", "--durable=false", NULL},
        {"declare_exchange", "xbare", "direct", "--durable", NULL},
        {"declare_exchange", "xoff", "direct", "--durable", "false", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        procutil_prog_t *prog =
            s_meshq (NULL, cases[i][0], cases[i][1], cases[i][2], cases[i][3],
                     cases[i][4], cases[i][5], NULL);
        cr_expect_eq (s_exit (prog), 0, "case %zu: %s", i, prog->output);
        procutil_prog_destroy (&prog);
    }
    cr_expect (s_listed ("list_queues", "bare", "\"durable\":true"));
    cr_expect (s_listed ("list_queues", "valued", "\"durable\":true"));
    cr_expect (s_listed ("list_queues", "off", "\"durable\":false"));
    cr_expect (s_listed ("list_queues", "equals", "\"durable\":false"));
    cr_expect (s_listed ("list_exchanges", "xbare", "\"durable\":true"));
    cr_expect (s_listed ("list_exchanges", "xoff", "\"durable\":false"));

    //  --json false prints the table; --json true, JSON.
    procutil_prog_t *prog =
        s_meshq (NULL, "list_queues", "--json", "false", NULL);
    cr_expect (strstr (prog->output, "name\t") && !strchr (prog->output, '{'),
               "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "--json", "true", "list_queues", NULL);
    cr_expect (strstr (prog->output, "[{\"name\""), "%s", prog->output);
    procutil_prog_destroy (&prog);
    //  Flags of the other verbs too.
    prog = s_meshq (NULL, "delete_queue", "bare", "--if-empty", "true",
                    "--if-unused", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "publish", "--routing-key", "valued", "--persistent",
                    "true", "--mandatory", "hello", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect (strstr (prog->output, "published 1 messages"), "%s",
               prog->output);
    procutil_prog_destroy (&prog);

    //  Anything but true or false after '=' is refused, naming the flag.
    prog = s_meshq (NULL, "declare_queue", "q", "--durable=maybe", NULL);
    cr_expect_eq (s_exit (prog), 64, "%s", prog->output);
    cr_expect (strstr (prog->output, "--durable takes true or false, not "
                                     "'maybe'"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);
    procutil_kill (agent, SIGTERM);
}

Test (cli, a_password_prompt_on_a_terminal_does_not_echo)
{
    pid_t agent = procutil_agent ("cli", s_dir, s_endpoint);
    char script[1024];
    snprintf (script, sizeof script, "%s/system/pty_password.py",
              MESHQ_TEST_SOURCE_DIR);
    const char *verbs[] = {"add_user", "change_password"};
    const char *passwords[] = {"Zebra-Parsley-41", "Otter-Quince-77"};
    for (int i = 0; i < 2; i++) {
        const char *argv[] = {"/usr/bin/python3", script,   s_tool,
                              s_endpoint,         verbs[i], "alice",
                              passwords[i],       NULL};
        procutil_prog_t *prog = procutil_prog_new (argv, NULL, 30000);
        procutil_prog_expect_exit (prog, 0);
        cr_expect (strstr (prog->output, "Password: "), "no prompt:\n%s",
                   prog->output);
        cr_expect (!strstr (prog->output, passwords[i]),
                   "%s echoed the password:\n%s", verbs[i], prog->output);
        cr_expect (strstr (prog->output, "EXIT 0"), "%s", prog->output);
        procutil_prog_destroy (&prog);
    }
    //  The password typed is the one set: alice logs in with it.
    procutil_prog_t *prog =
        s_meshq (NULL, "set_permissions", "alice", ".*", ".*", ".*", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "--user", "alice", "--password", "Otter-Quince-77",
                    "list_queues", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    procutil_prog_destroy (&prog);
    procutil_kill (agent, SIGTERM);
}

Test (cli, a_password_from_a_pipe_is_read_without_a_prompt)
{
    pid_t agent = procutil_agent ("cli", s_dir, s_endpoint);
    procutil_prog_t *prog =
        s_meshq ("Piped-Walnut-12\n", "add_user", "bob", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect (!strstr (prog->output, "Password"), "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "set_permissions", "bob", ".*", ".*", ".*", NULL);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "--user", "bob", "--password", "Piped-Walnut-12",
                    "list_queues", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    procutil_prog_destroy (&prog);
    procutil_kill (agent, SIGTERM);
}

Test (cli, consume_stops_cleanly_on_a_signal_and_returns_what_it_holds)
{
    pid_t agent = procutil_agent ("cli", s_dir, s_endpoint);
    procutil_prog_t *prog = s_meshq (NULL, "declare_queue", "jobs", NULL);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "publish", "--routing-key", "jobs", "one", "two",
                    "three", NULL);
    cr_assert_eq (s_exit (prog), 0, "%s", prog->output);
    procutil_prog_destroy (&prog);

    //  The command handling the first message sends consume SIGINT, as
    //  Ctrl-C would, while two more are prefetched and not handled.
    const char *argv[] = {s_tool,    "--agent", s_endpoint,
                          "consume", "jobs",    "--prefetch",
                          "10",      "--exec",  "cat; echo; kill -INT $PPID",
                          NULL};
    prog = procutil_prog_new (argv, NULL, 10000);
    procutil_prog_expect_exit (prog, 0);
    cr_expect (strstr (prog->output, "one"), "%s", prog->output);
    cr_expect (strstr (prog->output, "stopped by SIGINT: received 1 messages, "
                                     "acked 1"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);

    //  No consumer is left behind, and nothing is lost: the next
    //  consumer gets the two not handled and one published now.
    prog = s_meshq (NULL, "--json", "list_consumers", NULL);
    cr_expect_str_eq (prog->output, "[]\n");
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "publish", "--routing-key", "jobs", "four", NULL);
    procutil_prog_destroy (&prog);
    prog =
        s_meshq (NULL, "consume", "jobs", "--count", "3", "--idle", "10", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect (strstr (prog->output, "two\n") &&
                   strstr (prog->output, "three\n") &&
                   strstr (prog->output, "four\n"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);

    //  SIGTERM while waiting for messages: the same clean stop.
    const char *wait[] = {s_tool,    "--agent", s_endpoint,
                          "consume", "jobs",    NULL};
    prog = procutil_prog_new (wait, NULL, 10000);
    //  Once the consumer is there, the signal comes.
    for (int tries = 0; tries < 100; tries++) {
        procutil_prog_t *list =
            s_meshq (NULL, "--json", "list_consumers", NULL);
        bool there = strstr (list->output, "jobs") != NULL;
        procutil_prog_destroy (&list);
        if (there)
            break;
        usleep (50000);
    }
    kill (prog->pid, SIGTERM);
    procutil_prog_expect_exit (prog, 0);
    cr_expect (strstr (prog->output, "stopped by SIGTERM: received 0"), "%s",
               prog->output);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "--json", "list_consumers", NULL);
    cr_expect_str_eq (prog->output, "[]\n");
    procutil_prog_destroy (&prog);
    procutil_kill (agent, SIGTERM);
}

Test (cli, an_unroutable_mandatory_message_is_not_reported_published)
{
    pid_t agent = procutil_agent ("cli", s_dir, s_endpoint);
    procutil_prog_t *prog = s_meshq (NULL, "declare_queue", "here", NULL);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "publish", "--routing-key", "nowhere", "--mandatory",
                    "lost", NULL);
    cr_expect_eq (s_exit (prog), 1, "%s", prog->output);
    cr_expect (strstr (prog->output, "returned NO_ROUTE: exchange='' "
                                     "routing_key='nowhere' (4 bytes): no "
                                     "queue is bound for it: body 'lost'\n"),
               "%s", prog->output);
    cr_expect (strstr (prog->output, "published 0 messages (confirmed), 1 "
                                     "returned as unroutable"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);
    //  Routable, the same command succeeds; without --mandatory an
    //  unroutable message is dropped, as AMQP says, and that is no error.
    prog = s_meshq (NULL, "publish", "--routing-key", "here", "--mandatory",
                    "kept", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect (strstr (prog->output, "published 1 messages (confirmed)\n"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog =
        s_meshq (NULL, "publish", "--routing-key", "nowhere", "dropped", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    procutil_prog_destroy (&prog);
    procutil_kill (agent, SIGTERM);
}

Test (cli, the_agents_log_lines_carry_iso_8601_utc_timestamps)
{
    pid_t agent = procutil_agent ("cli", s_dir, s_endpoint);
    cr_expect_eq (WEXITSTATUS (procutil_kill (agent, SIGTERM)), 0);
    char path[300];
    snprintf (path, sizeof path, "%s/agent.log", s_dir);
    FILE *log = fopen (path, "r");
    cr_assert_not_null (log);
    regex_t stamped;
    cr_assert_eq (regcomp (&stamped,
                           "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
                           "[0-9]{2}\\.[0-9]{3}Z [EWNID]: \\(meshq-agent\\) "
                           "[a-z]+: ",
                           REG_EXTENDED | REG_NOSUB),
                  0);
    char line[4096];
    int lines = 0;
    bool started = false, stopping = false;
    while (fgets (line, sizeof line, log)) {
        cr_expect_eq (regexec (&stamped, line, 0, NULL, 0), 0,
                      "not an ISO 8601 stamped line: %s", line);
        started |= strstr (line, " agent: started name=cli") != NULL;
        stopping |= strstr (line, " agent: stopping name=cli") != NULL;
        lines++;
    }
    regfree (&stamped);
    fclose (log);
    cr_expect (lines >= 2 && started && stopping, "%d lines", lines);
}

Test (cli, every_refusal_names_the_option_and_the_value)
{
    //  Refused before any agent is asked: none runs.
    const struct {
        const char *args[6];  //  After --agent.
        const char *says;     //  Expected in the refusal.
    } cases[] = {
        {{"consume", "q", "--count", "abc"}, "--count 'abc': not a whole"},
        {{"consume", "q", "--prefetch", "0"}, "--prefetch '0': not a whole"},
        {{"consume", "q", "--idle", "soon"}, "--idle 'soon': not a whole"},
        {{"publish", "-k", "q", "--priority", "300"},
         "--priority '300': not a whole number in 0..255"},
        {{"publish", "-k", "q", "--expiration", "1h"}, "--expiration '1h'"},
        {{"publish", "-k", "q", "--header", "novalue"},
         "--header 'novalue': takes NAME=VALUE"},
        {{"publish", "hello"}, "--routing-key is required"},
        {{"declare_queue", "q", "--max-length", "-5"}, "--max-length '-5'"},
        {{"declare_queue", "q", "--max-priority", "1000"},
         "--max-priority '1000'"},
        {{"bench", "--producers", "many"}, "--producers 'many'"},
        {{"bench", "--duration", "-1"}, "--duration '-1': takes seconds"},
        {{"--timeout", "0", "status"}, "--timeout takes seconds"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const *a = cases[i].args;
        procutil_prog_t *prog =
            s_meshq (NULL, a[0], a[1], a[2], a[3], a[4], a[5], NULL);
        cr_expect_eq (s_exit (prog), 64, "case %zu: %s", i, prog->output);
        cr_expect (strstr (prog->output, cases[i].says), "case %zu: %s", i,
                   prog->output);
        procutil_prog_destroy (&prog);
    }
}

//  `meshq bench` logs in as the global --user/--password over tcp://
//  (where guest may not connect), and a run that cannot log in or moves
//  no message fails with a non-zero exit and says why.
Test (cli, bench_over_tcp_logs_in_as_the_user_and_fails_loudly)
{
    char tcp[64], endpoints[400];
    snprintf (tcp, sizeof tcp, "tcp://127.0.0.1:%d", procutil_free_port ());
    snprintf (endpoints, sizeof endpoints, "%s,%s", s_endpoint, tcp);
    pid_t agent = procutil_agent ("cli", s_dir, endpoints);
    procutil_prog_t *prog =
        s_meshq ("Bench-Otter-31\n", "add_user", "carol", NULL);
    cr_assert_eq (s_exit (prog), 0, "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "set_permissions", "carol", ".*", ".*", ".*", NULL);
    cr_assert_eq (s_exit (prog), 0, "%s", prog->output);
    procutil_prog_destroy (&prog);

    prog =
        s_meshq (NULL, "--agent", tcp, "--user", "carol", "--password",
                 "Bench-Otter-31", "bench", "--count", "300", "--json", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect (strstr (prog->output, "\"published\":300,\"consumed\":300,"),
               "%s", prog->output);
    cr_expect (strstr (prog->output, "\"errors\":0}"), "%s", prog->output);
    procutil_prog_destroy (&prog);

    //  A wrong password: refused, and the error names the login.
    prog = s_meshq (NULL, "--agent", tcp, "--user", "carol", "--password",
                    "wrong", "bench", "--count", "300", "--json", NULL);
    cr_expect_neq (s_exit (prog), 0, "%s", prog->output);
    cr_expect (strstr (prog->output, "meshq: bench: login refused") &&
                   strstr (prog->output, "for user 'carol'"),
               "%s", prog->output);
    cr_expect (strstr (prog->output, "\"errors\":1,\"error\":\"login refused"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);

    //  Logged in, but nothing moves: a failure, not a zero rate.
    prog = s_meshq (NULL, "--agent", tcp, "--user", "carol", "--password",
                    "Bench-Otter-31", "bench", "--count", "0", NULL);
    cr_expect_neq (s_exit (prog), 0, "%s", prog->output);
    cr_expect (strstr (prog->output, "meshq: bench: no message moved"), "%s",
               prog->output);
    procutil_prog_destroy (&prog);
    procutil_kill (agent, SIGTERM);
}

//  Runs `meshq --agent ENDPOINT bench ARGS` (NULL-terminated) with a
//  minute to finish; returns it exited.
static procutil_prog_t *
s_bench (const char *first, ...)
{
    va_list args;
    va_start (args, first);
    procutil_prog_t *prog = s_run (NULL, 60000, "bench", first, args);
    va_end (args);
    return prog;
}

//  `meshq bench --rabbitmq URL --nats URL` runs the same scenario against
//  an AMQP server (here the agent's own AMQP port) and a NATS server, and
//  prints their figures beside meshq's; pointed at nothing, or at a URL
//  of the wrong kind, it fails before the run and says why.
Test (cli, bench_runs_side_by_side_against_amqp_and_nats)
{
    char amqp[64], amqp_url[96], nats_url[64], nowhere[64], nats_nowhere[64];
    int amqp_port = procutil_free_port ();
    snprintf (amqp, sizeof amqp, "127.0.0.1:%d", amqp_port);
    snprintf (amqp_url, sizeof amqp_url, "amqp://guest:guest@127.0.0.1:%d/",
              amqp_port);
    pid_t agent = procutil_agent_with ("cli", s_dir, s_endpoint,
                                       (const char *[]){"--amqp", amqp, NULL});

    //  Nothing listens there: exit 69 before any run, naming the place.
    int free_port = procutil_free_port ();
    snprintf (nowhere, sizeof nowhere, "amqp://127.0.0.1:%d", free_port);
    snprintf (nats_nowhere, sizeof nats_nowhere, "nats://127.0.0.1:%d",
              free_port);
    char says[128];
    snprintf (says, sizeof says,
              "meshq: bench: --rabbitmq: nothing accepts connections at "
              "127.0.0.1:%d",
              free_port);
    procutil_prog_t *prog =
        s_bench ("--count", "300", "--rabbitmq", nowhere, NULL);
    cr_expect_eq (s_exit (prog), 69, "%s", prog->output);
    cr_expect (strstr (prog->output, says), "%s", prog->output);
    cr_expect (!strstr (prog->output, "published"), "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_bench ("--count", "300", "--rabbitmq", "nats://127.0.0.1:1", NULL);
    cr_expect_eq (s_exit (prog), 64, "%s", prog->output);
    cr_expect (strstr (prog->output, "takes amqp://"), "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_bench ("--duration", "1", "--rabbitmq", amqp_url, NULL);
    cr_expect_eq (s_exit (prog), 64, "%s", prog->output);
    cr_expect (strstr (prog->output, "takes --count, not --duration"), "%s",
               prog->output);
    procutil_prog_destroy (&prog);

    //  The same scenario against meshq and the AMQP server.
    prog = s_bench ("--count", "300", "--settle", "0", "--json", "--rabbitmq",
                    amqp_url, NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect (strstr (prog->output, "\"published\":300,\"consumed\":300,"),
               "%s", prog->output);
    const char *peers = strstr (prog->output, "\"peers\":[{\"server\":"
                                              "\"RabbitMQ\"");
    cr_expect (peers, "%s", prog->output);
    cr_expect (peers && !strstr (peers, "\"error\"") &&
                   !strstr (peers, "\"consume_rate\":0,"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);

#ifdef MESHQ_TEST_NATS
    prog = s_bench ("--count", "300", "--nats", nats_nowhere, NULL);
    cr_expect_eq (s_exit (prog), 69, "%s", prog->output);
    cr_expect (strstr (prog->output, "meshq: bench: --nats: nothing accepts"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);

    //  A nats-server with JetStream: persistent runs on JetStream,
    //  transient on NATS core.
    int nats_port = procutil_free_port ();
    char port[16], store[300], log[300];
    snprintf (port, sizeof port, "%d", nats_port);
    snprintf (store, sizeof store, "%s/jetstream", s_dir);
    snprintf (log, sizeof log, "%s/nats-server.log", s_dir);
    snprintf (nats_url, sizeof nats_url, "nats://127.0.0.1:%d", nats_port);
    pid_t nats =
        procutil_spawn ((char *[]){"/usr/sbin/nats-server", "-a", "127.0.0.1",
                                   "-p", port, "-js", "-sd", store, NULL},
                        log);
    int64_t deadline = zclock_mono () + 10000;
    bool up = false;
    while (!up && zclock_mono () < deadline) {
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port = htons ((uint16_t)nats_port)};
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        up = connect (fd, (struct sockaddr *)&address, sizeof address) == 0;
        close (fd);
        if (!up)
            zclock_sleep (50);
    }
    cr_assert (up, "nats-server not up in 10 s; see %s", log);
    prog = s_bench ("--count", "300", "--settle", "0", "--json", "--nats",
                    nats_url, NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    peers = strstr (prog->output, "\"peers\":[{\"server\":\"NATS JetStream\"");
    cr_expect (peers && !strstr (peers, "\"error\"") &&
                   !strstr (peers, "\"consume_rate\":0,"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_bench ("--count", "300", "--settle", "0", "--transient",
                    "--confirm-window", "0", "--auto-ack", "--nats", nats_url,
                    NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect (strstr (prog->output, "side by side") &&
                   strstr (prog->output, "NATS core"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);
    procutil_kill (nats, SIGTERM);
#else
    prog = s_bench ("--count", "300", "--nats", nats_nowhere, NULL);
    cr_expect_eq (s_exit (prog), 64, "%s", prog->output);
    cr_expect (strstr (prog->output, "built without libnats"), "%s",
               prog->output);
    procutil_prog_destroy (&prog);
    (void)nats_url;
#endif
    procutil_kill (agent, SIGTERM);
}

Test (cli, list_columns_are_chosen_by_name_and_every_list_takes_json)
{
    pid_t agent = procutil_agent ("cli", s_dir, s_endpoint);
    procutil_prog_t *prog = s_meshq (NULL, "declare_queue", "q", NULL);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "publish", "--routing-key", "q", "one", "two", NULL);
    procutil_prog_destroy (&prog);

    //  The columns named, in their order, as rabbitmqctl prints them.
    prog =
        s_meshq (NULL, "list_queues", "name", "messages", "messages_ready",
                 "messages_unacknowledged", "message_bytes", "consumers", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect_str_eq (prog->output,
                      "name\tmessages\tmessages_ready\tmessages_unacknowledged"
                      "\tmessage_bytes\tconsumers\nq\t2\t2\t0\t6\t0\n");
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "--json", "list_queues", "name", "durable", NULL);
    cr_expect_str_eq (prog->output, "[{\"name\":\"q\",\"durable\":true}]\n");
    procutil_prog_destroy (&prog);
    //  The mean wait is an estimate from the deliver rate: none yet.
    prog =
        s_meshq (NULL, "--json", "list_queues", "name", "mean_wait_ms", NULL);
    cr_expect_str_eq (prog->output,
                      "[{\"name\":\"q\",\"mean_wait_ms\":null}]\n");
    procutil_prog_destroy (&prog);
    //  --local: this agent's part, with its node.
    prog = s_meshq (NULL, "list_queues", "--local", "name", "node",
                    "messages_ready", NULL);
    cr_expect_str_eq (prog->output, "name\tnode\tmessages_ready\nq\tcli\t2\n");
    procutil_prog_destroy (&prog);
    //  A name that is not a column is refused, naming it and the others.
    prog = s_meshq (NULL, "list_queues", "name", "bogus", NULL);
    cr_expect_eq (s_exit (prog), 64, "%s", prog->output);
    cr_expect (strstr (prog->output, "list_queues: no column 'bogus'; "
                                     "columns: name messages"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);

    //  --help says how, and exits 0.
    prog = s_meshq (NULL, "list_queues", "--help", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect_str_eq (prog->output,
                      "usage: meshq list_queues [--local] [--json] "
                      "[COLUMN ...]\n");
    procutil_prog_destroy (&prog);

    //  Every list answers --json with one array.
    const char *lists[] = {
        "list_queues",    "list_exchanges",   "list_bindings",
        "list_consumers", "list_peers",       "list_connections",
        "list_channels",  "list_listeners",   "list_users",
        "list_vhosts",    "list_permissions", "list_user_permissions"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        prog = s_meshq (
            NULL, "--json", lists[i],
            strcmp (lists[i], "list_user_permissions") == 0 ? "guest" : NULL,
            NULL);
        cr_expect_eq (s_exit (prog), 0, "%s: %s", lists[i], prog->output);
        cr_expect (prog->output[0] == '[' && strstr (prog->output, "]\n"),
                   "%s: %s", lists[i], prog->output);
        procutil_prog_destroy (&prog);
    }
    //  A connection is listed: the tool's own, as guest.
    prog =
        s_meshq (NULL, "list_connections", "user", "vhost", "protocol", NULL);
    cr_expect (strstr (prog->output, "guest\t/\tmeshq\n"), "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "list_listeners", NULL);
    cr_expect (strstr (prog->output, s_endpoint), "%s", prog->output);
    procutil_prog_destroy (&prog);
    procutil_kill (agent, SIGTERM);
}

Test (cli, health_checks_pass_or_fail_with_their_exit_codes)
{
    const char *quota[] = {"--quota", "1M", NULL};
    pid_t agent = procutil_agent_with ("cli", s_dir, s_endpoint, quota);
    procutil_prog_t *prog = s_meshq (NULL, "ping", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect_str_eq (prog->output, "Ping succeeded\n");
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "check_alarms", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect_str_eq (prog->output, "no alarms\n");
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "check_port_connectivity", NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    cr_expect (strstr (prog->output, s_endpoint) &&
                   strstr (prog->output, "every listener is reachable (1)"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);

    //  The quota nearly full (above 90%, below 100%): an alarm, exit 1,
    //  though publishers are not refused yet.
    prog = s_meshq (NULL, "declare_queue", "q", NULL);
    procutil_prog_destroy (&prog);
    static char body[96 * 1024 + 1];
    memset (body, 'x', sizeof body - 1);
    const char *argv[17] = {s_tool,    "--agent",       s_endpoint,
                            "publish", "--routing-key", "q"};
    for (int i = 0; i < 10; i++)
        argv[6 + i] = body;
    argv[16] = NULL;
    prog = procutil_prog_new (argv, NULL, 10000);
    procutil_prog_expect_exit (prog, 0);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "check_alarms", NULL);
    cr_expect_eq (s_exit (prog), 1, "%s", prog->output);
    cr_expect (strstr (prog->output, "alarms raised: quota\n") &&
                   strstr (prog->output, "quota           1048576\n"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "--json", "status", NULL);
    cr_expect (strstr (prog->output, "\"quota\":1048576,") &&
                   strstr (prog->output, "\"blocked\":false,") &&
                   strstr (prog->output, "\"alarms\":\"quota\""),
               "%s", prog->output);
    procutil_prog_destroy (&prog);

    //  No agent: every check exits 69, not 1.
    procutil_kill (agent, SIGTERM);
    const char *checks[] = {"ping", "check_alarms", "check_port_connectivity"};
    for (int i = 0; i < 3; i++) {
        prog = s_meshq (NULL, "--timeout", "1", checks[i], NULL);
        cr_expect_eq (s_exit (prog), 69, "%s: %s", checks[i], prog->output);
        cr_expect (strstr (prog->output, "no agent answers"), "%s",
                   prog->output);
        procutil_prog_destroy (&prog);
    }
}

//  Runs the tool against the agent at endpoint until its output holds
//  text (10 s at most); returns whether it did.
static bool
s_until (const char *endpoint, const char *text, const char *const *args)
{
    const char *argv[16] = {s_tool, "--agent", endpoint};
    int argc = 3;
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    int64_t deadline = zclock_mono () + 10000;
    bool found = false;
    char last[4096] = "";
    while (!found && zclock_mono () < deadline) {
        procutil_prog_t *prog = procutil_prog_new (argv, NULL, 10000);
        procutil_prog_exit_code (prog);
        found = strstr (prog->output, text) != NULL;
        snprintf (last, sizeof last, "%.4000s", prog->output);
        procutil_prog_destroy (&prog);
        if (!found)
            usleep (100000);
    }
    cr_expect (found, "no '%s' in:\n%s", text, last);
    return found;
}

Test (cli, list_queues_adds_up_the_parts_of_every_agent)
{
    //  Agents a and b in a mesh of this test's own.
    char mesh[64], port[16];
    snprintf (mesh, sizeof mesh, "cli-%d", (int)getpid ());
    snprintf (port, sizeof port, "%u", testutil_udp_port ());
    char endpoints[2][300], data[2][300], logs[2][300];
    pid_t agents[2];
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "b" : "a";
        snprintf (endpoints[i], sizeof endpoints[i], "ipc://%s/%s.ipc", s_dir,
                  name);
        snprintf (data[i], sizeof data[i], "%s/%s", s_dir, name);
        snprintf (logs[i], sizeof logs[i], "%s/%s.log", s_dir, name);
        char *argv[] = {s_agent,      "--name",
                        (char *)name, "--data",
                        data[i],      "--control",
                        endpoints[i], "--mesh",
                        mesh,         "--beacon-port",
                        port,         "--beacon-interval",
                        "50",         NULL};
        agents[i] = procutil_agent_argv (argv, logs[i], endpoints[i]);
    }
    const char *peers[] = {"list_peers", "name", "state", NULL};
    cr_assert (s_until (endpoints[0], "b\tup\n", peers));

    //  The queue's origin is a; its consumer is on b, and holds a
    //  message while its command runs.
    const char *declare[] = {"declare_queue", "jobs", NULL};
    cr_assert (s_until (endpoints[0], "queue declared", declare));
    const char *publish[] = {"publish", "-k", "jobs", "1", "2", "3", NULL};
    cr_assert (s_until (endpoints[0], "published 3", publish));
    const char *consume[] = {s_tool,     "--agent",    endpoints[1], "consume",
                             "jobs",     "--prefetch", "1",          "--exec",
                             "sleep 20", NULL};
    procutil_prog_t *consumer = procutil_prog_new (consume, NULL, 10000);

    //  Each agent lists one row: every message once, the consumer
    //  counted, durable as declared, two agents' parts.
    const char *list[] = {"list_queues", "name",   "messages", "consumers",
                          "durable",     "agents", NULL};
    for (int i = 0; i < 2; i++)
        s_until (endpoints[i],
                 "name\tmessages\tconsumers\tdurable\tagents\n"
                 "jobs\t3\t1\ttrue\t2\n",
                 list);
    //  Both agents' listeners: the client endpoint and the mesh's.
    const char *ports[] = {"check_port_connectivity", NULL};
    s_until (endpoints[0], "every listener is reachable (2)", ports);
    //  --local at a: its own part, without b's consumer.
    const char *local[] = {"list_queues", "--local", "name", "consumers", NULL};
    s_until (endpoints[0], "jobs\t0\n", local);

    procutil_prog_destroy (&consumer);
    for (int i = 0; i < 2; i++)
        procutil_kill (agents[i], SIGTERM);
}

Test (cli, memory_near_its_mark_and_blocked_publishers_are_alarms)
{
    const char *memory[] = {"--max-memory", "100K", NULL};
    pid_t agent = procutil_agent_with ("cli", s_dir, s_endpoint, memory);
    procutil_prog_t *prog = s_meshq (NULL, "declare_queue", "q", NULL);
    procutil_prog_destroy (&prog);
    //  93% of the mark held: an alarm, publishers still taken.
    static char big[93 * 1000 + 1], small[10 * 1000 + 1];
    memset (big, 'x', sizeof big - 1);
    memset (small, 'y', sizeof small - 1);
    prog = s_meshq (NULL, "publish", "--routing-key", "q", big, NULL);
    cr_expect_eq (s_exit (prog), 0, "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "check_alarms", NULL);
    cr_expect_eq (s_exit (prog), 1, "%s", prog->output);
    cr_expect (strstr (prog->output, "alarms raised: memory\n") &&
                   strstr (prog->output, "blocked         false\n"),
               "%s", prog->output);
    procutil_prog_destroy (&prog);
    //  Past the mark: refused, and publishers are blocked, with why.
    prog = s_meshq (NULL, "publish", "--routing-key", "q", small, NULL);
    cr_expect_eq (s_exit (prog), 1, "%s", prog->output);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "--json", "check_alarms", NULL);
    cr_expect_eq (s_exit (prog), 1, "%s", prog->output);
    cr_expect (strstr (prog->output, "{\"alarms\":[\"memory\",\"blocked\"],") &&
                   strstr (prog->output, "\"blocked\":true,") &&
                   strstr (prog->output, "\"blocked_reason\":\"the agent's "
                                         "memory high-water mark is "
                                         "reached\""),
               "%s", prog->output);
    procutil_prog_destroy (&prog);
    procutil_kill (agent, SIGTERM);
}
