/*  test_examples.c - the tutorial programs of examples/, run as
    processes against a meshq-agent process, each pair doing what the
    RabbitMQ tutorial says it does.

    Every program's stdout and stderr come back through a pipe; the tests
    wait on that output (and on exits) with deadlines, never with sleep.
    Whatever a test started is killed and its directory removed in the
    suite's fini, so a failing test leaves nothing behind.
*/
#include "procutil.h"

#define S_MAX_PROCS 16
#define S_DEADLINE  10000  //  ms for any one thing to happen

static char s_dir[256];                        //  Temporary directory.
static char s_endpoint[300];                   //  The agent's ipc endpoint.
static pid_t s_agent;                          //  The agent process.
static procutil_prog_t *s_procs[S_MAX_PROCS];  //  The programs started.
static int s_nprocs;                           //  How many.

static void
s_setup (void)
{
    procutil_dir ("examples", s_dir, sizeof s_dir, s_endpoint,
                  sizeof s_endpoint);
    s_agent = procutil_agent ("examples", s_dir, s_endpoint);
}

static void
s_teardown (void)
{
    for (int i = 0; i < s_nprocs; i++)
        procutil_prog_destroy (&s_procs[i]);
    s_nprocs = 0;
    if (s_agent > 0)
        procutil_kill (s_agent, SIGTERM);
    procutil_rmdir (s_dir);
}

TestSuite (examples, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  Starts examples/ARGS[0] with the rest of the NULL-terminated ARGS,
//  after --agent ENDPOINT when agent is true.
static procutil_prog_t *
s_spawn (const char *const *args, bool agent)
{
    cr_assert_lt (s_nprocs, S_MAX_PROCS);
    char path[1024];
    snprintf (path, sizeof path, "%s/examples/%s", MESHQ_BINARY_DIR, args[0]);
    char *argv[32] = {path};
    int argc = 1;
    if (agent) {
        argv[argc++] = "--agent";
        argv[argc++] = s_endpoint;
    }
    for (int i = 1; args[i]; i++) {
        cr_assert_lt (argc, 31);
        argv[argc++] = (char *)args[i];
    }
    argv[argc] = NULL;
    procutil_prog_t *proc =
        procutil_prog_new ((const char *const *)argv, NULL, S_DEADLINE);
    s_procs[s_nprocs++] = proc;
    return proc;
}

//  Starts examples/PROGRAM --agent ENDPOINT ARGS...
#define S_START(...) s_spawn ((const char *[]){__VA_ARGS__, NULL}, true)

//  Runs a program to completion and checks that it succeeded.
static procutil_prog_t *
s_run (procutil_prog_t *proc)
{
    return procutil_prog_expect_exit (proc, 0);
}

//  What the program printed after the line holding marker.
static const char *
s_after (const procutil_prog_t *proc, const char *marker)
{
    const char *at = strstr (proc->output, marker);
    cr_assert_not_null (at, "%s did not print \"%s\"", proc->name, marker);
    at = strchr (at, '\n');
    return at ? at + 1 : "";
}

//  Asks the agent whether a queue holds ready or unacked messages,
//  until both counts are 0.
static void
s_expect_drained (const char *queue)
{
    meshq_client_t *client = meshq_client_new ();
    cr_assert_eq (meshq_client_connect (client, s_endpoint), 0);
    uint64_t ready = 1, unacked = 1;
    int64_t deadline = zclock_mono () + S_DEADLINE;
    while ((ready || unacked) && zclock_mono () < deadline)
        procutil_depth (client, queue, &ready, &unacked);
    meshq_client_destroy (&client);
    cr_assert (ready == 0 && unacked == 0,
               "queue %s still holds %" PRIu64 " ready, %" PRIu64 " unacked",
               queue, ready, unacked);
}

// --------------------------------------------------------------------
//  "Hello World!"

Test (examples, receive_prints_what_send_sent)
{
    //  A message sent before anyone listens waits in the durable queue.
    procutil_prog_t *send = s_run (S_START ("send"));
    cr_expect (strstr (send->output, " [x] Sent 'Hello World!'"));

    procutil_prog_t *receive = S_START ("receive", "--count", "2");
    procutil_prog_expect (receive, " [x] Received 'Hello World!'");
    //  One sent while it listens comes at once. This send finds the agent
    //  through MESHQ_AGENT, with the default user spelt out.
    setenv ("MESHQ_AGENT", s_endpoint, 1);
    s_run (s_spawn ((const char *[]){"send", "--user", "guest", "--password",
                                     "guest", NULL},
                    false));
    procutil_prog_expect_exit (receive, 0);
    cr_expect_eq (procutil_prog_count (receive, " [x] Received 'Hello World!'"),
                  2, "%s", receive->output);
    s_expect_drained ("my_queue");
}

// --------------------------------------------------------------------
//  Work queues

Test (examples, workers_share_the_tasks_and_ack_each)
{
    procutil_prog_t *one = S_START ("worker");
    procutil_prog_t *two = S_START ("worker");
    procutil_prog_expect (one, "Waiting for messages");
    procutil_prog_expect (two, "Waiting for messages");
    const char *tasks[] = {"First task.", "Second task.", "Third task.",
                           "Fourth task."};
    for (int i = 0; i < 4; i++)
        s_run (S_START ("new_task", tasks[i]));

    //  Each worker holds one task at a time (prefetch 1), so with both
    //  waiting the first two tasks go one to each.
    int64_t deadline = zclock_mono () + S_DEADLINE;
    while (procutil_prog_count (one, "[x] Done") +
               procutil_prog_count (two, "[x] Done") <
           4) {
        procutil_prog_read (one, zclock_mono () + 100);
        procutil_prog_read (two, zclock_mono () + 100);
        cr_assert (zclock_mono () < deadline,
                   "4 tasks not done; the workers printed:\n%s\n%s",
                   one->output, two->output);
    }
    for (int i = 0; i < 4; i++) {
        char received[64];
        snprintf (received, sizeof received, "Received '%s'", tasks[i]);
        cr_expect_eq (procutil_prog_count (one, received) +
                          procutil_prog_count (two, received),
                      1, "task %d: %s\n%s", i, one->output, two->output);
    }
    cr_expect_geq (procutil_prog_count (one, "[x] Done"), 1, "%s", one->output);
    cr_expect_geq (procutil_prog_count (two, "[x] Done"), 1, "%s", two->output);
    s_expect_drained ("task_queue");

    kill (one->pid, SIGTERM);
    kill (two->pid, SIGTERM);
    procutil_prog_expect_exit (one, 0);
    procutil_prog_expect_exit (two, 0);
}

Test (examples, a_stopped_workers_task_goes_to_another)
{
    procutil_prog_t *one = S_START ("worker");
    procutil_prog_expect (one, "Waiting for messages");
    s_run (S_START ("new_task", "A long task....."));
    procutil_prog_expect (one, "Received 'A long task.....'");

    //  Ctrl-C in the middle of the work: no ack, so the task goes back
    //  to the queue, and to the worker that is left.
    procutil_prog_t *two = S_START ("worker");
    procutil_prog_expect (two, "Waiting for messages");
    kill (one->pid, SIGINT);
    procutil_prog_expect_exit (one, 0);
    cr_expect_eq (procutil_prog_count (one, "[x] Done"), 0, "%s", one->output);
    procutil_prog_expect (two, "Received 'A long task.....'");
    kill (two->pid, SIGINT);
    procutil_prog_expect_exit (two, 0);
}

// --------------------------------------------------------------------
//  Publish/subscribe

Test (examples, every_log_listener_gets_every_log)
{
    //  With nobody listening, the fanout exchange drops the line.
    s_run (S_START ("emit_log", "info: before anyone listens"));
    procutil_prog_t *one = S_START ("receive_logs", "--count", "3");
    procutil_prog_t *two = S_START ("receive_logs", "--count", "3");
    procutil_prog_expect (one, "Waiting for logs");
    procutil_prog_expect (two, "Waiting for logs");
    s_run (S_START ("emit_log"));
    s_run (S_START ("emit_log", "warning:", "disk", "almost", "full"));
    s_run (S_START ("emit_log", "error: disk full"));
    procutil_prog_expect_exit (one, 0);
    procutil_prog_expect_exit (two, 0);
    const char *expected = " [x] info: Hello World!\n"
                           " [x] warning: disk almost full\n"
                           " [x] error: disk full\n";
    cr_expect_str_eq (s_after (one, "Waiting for logs"), expected);
    cr_expect_str_eq (s_after (two, "Waiting for logs"), expected);
}

// --------------------------------------------------------------------
//  Routing

Test (examples, direct_routing_delivers_the_chosen_severities)
{
    procutil_prog_t *errors =
        S_START ("receive_logs_direct", "--count", "2", "warning", "error");
    procutil_prog_t *all = S_START ("receive_logs_direct", "--count", "3",
                                    "info", "warning", "error");
    procutil_prog_expect (errors, "Waiting for logs");
    procutil_prog_expect (all, "Waiting for logs");
    //  A line of a severity nobody asked for goes nowhere.
    s_run (S_START ("emit_log_direct", "debug", "Noise"));
    s_run (S_START ("emit_log_direct", "info", "Started"));
    s_run (S_START ("emit_log_direct", "warning", "Disk", "almost", "full"));
    s_run (S_START ("emit_log_direct", "error", "Run.", "Run.", "Or", "it",
                    "will", "explode."));
    procutil_prog_expect_exit (errors, 0);
    procutil_prog_expect_exit (all, 0);
    cr_expect_str_eq (s_after (errors, "Waiting for logs"),
                      " [x] warning:Disk almost full\n"
                      " [x] error:Run. Run. Or it will explode.\n");
    cr_expect_str_eq (s_after (all, "Waiting for logs"),
                      " [x] info:Started\n"
                      " [x] warning:Disk almost full\n"
                      " [x] error:Run. Run. Or it will explode.\n");
}

Test (examples, topic_routing_matches_binding_keys)
{
    procutil_prog_t *everything =
        S_START ("receive_logs_topic", "--count", "5", "#");
    procutil_prog_t *kern =
        S_START ("receive_logs_topic", "--count", "2", "kern.*");
    procutil_prog_t *critical =
        S_START ("receive_logs_topic", "--count", "2", "*.critical");
    procutil_prog_t *both =
        S_START ("receive_logs_topic", "--count", "3", "kern.*", "*.critical");
    procutil_prog_t *receivers[] = {everything, kern, critical, both};
    for (int i = 0; i < 4; i++)
        procutil_prog_expect (receivers[i], "Waiting for logs");
    //  '*' is exactly one word: kern.disk.full matches neither kern.*
    //  nor *.critical.
    const char *keys[] = {"cron.info", "kern.disk.full", "kern.critical",
                          "kern.info", "cron.critical"};
    for (int i = 0; i < 5; i++)
        s_run (S_START ("emit_log_topic", keys[i], "line"));
    for (int i = 0; i < 4; i++)
        procutil_prog_expect_exit (receivers[i], 0);
    cr_expect_str_eq (s_after (everything, "Waiting for logs"),
                      " [x] cron.info:line\n"
                      " [x] kern.disk.full:line\n"
                      " [x] kern.critical:line\n"
                      " [x] kern.info:line\n"
                      " [x] cron.critical:line\n");
    cr_expect_str_eq (s_after (kern, "Waiting for logs"),
                      " [x] kern.critical:line\n"
                      " [x] kern.info:line\n");
    cr_expect_str_eq (s_after (critical, "Waiting for logs"),
                      " [x] kern.critical:line\n"
                      " [x] cron.critical:line\n");
    //  Two matching bindings still deliver a line once.
    cr_expect_str_eq (s_after (both, "Waiting for logs"),
                      " [x] kern.critical:line\n"
                      " [x] kern.info:line\n"
                      " [x] cron.critical:line\n");
}

// --------------------------------------------------------------------
//  RPC

Test (examples, rpc_client_gets_fib_30)
{
    procutil_prog_t *server = S_START ("rpc_server", "--count", "1");
    procutil_prog_expect (server, "Awaiting RPC requests");
    procutil_prog_t *client = s_run (S_START ("rpc_client", "30"));
    cr_expect (strstr (client->output, " [x] Requesting fib(30)\n"
                                       " [.] Got 832040\n"),
               "%s", client->output);
    procutil_prog_expect_exit (server, 0);
    cr_expect (strstr (server->output, " [.] fib(30)"), "%s", server->output);
}

Test (examples, rpc_answers_go_to_their_own_client)
{
    procutil_prog_t *server = S_START ("rpc_server", "--count", "3");
    procutil_prog_expect (server, "Awaiting RPC requests");
    procutil_prog_t *clients[] = {S_START ("rpc_client", "25"),
                                  S_START ("rpc_client", "10"),
                                  S_START ("rpc_client", "1")};
    const char *answers[] = {" [.] Got 75025\n", " [.] Got 55\n",
                             " [.] Got 1\n"};
    for (int i = 0; i < 3; i++) {
        s_run (clients[i]);
        cr_expect (strstr (clients[i]->output, answers[i]), "%s",
                   clients[i]->output);
    }
    procutil_prog_expect_exit (server, 0);
}

// --------------------------------------------------------------------
//  The demo: three agents of its own, one killed, nothing lost

Test (examples, the_demo_loses_no_confirmed_message, .timeout = 120)
{
    char agent[1024];
    snprintf (agent, sizeof agent, "%s/agents/meshq-agent", MESHQ_BINARY_DIR);
    procutil_prog_t *demo =
        s_spawn ((const char *[]){"demo", agent, NULL}, false);
    demo->ms = 90000;
    procutil_prog_expect_exit (demo, 0);
    cr_assert (strstr (demo->output, "SIGKILL agent b"),
               "the demo killed no agent:\n%s", demo->output);
    cr_assert (strstr (demo->output, "missing 0,"),
               "the demo lost messages:\n%s", demo->output);
    cr_assert (strstr (demo->output, "every confirmed message arrived."));
}
