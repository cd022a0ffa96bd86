/*  test_examples.c - the tutorial programs of examples/, run as
    processes against a meshq-agent process, each pair doing what the
    RabbitMQ tutorial says it does.

    Every program's stdout and stderr come back through a pipe; the tests
    wait on that output (and on exits) with deadlines, never with sleep.
    Whatever a test started is killed and its directory removed in the
    suite's fini, so a failing test leaves nothing behind.
*/
#include "procutil.h"

#include <poll.h>
#include <stdarg.h>

#define S_MAX_PROCS  16
#define S_MAX_OUTPUT 65536
#define S_DEADLINE   10000  //  ms for any one thing to happen

//  A program of examples/ and what it printed so far.
typedef struct {
    char name[64];              //  Program and first argument, for messages.
    pid_t pid;                  //  Its process.
    int fd;                     //  Read end of its stdout and stderr.
    char output[S_MAX_OUTPUT];  //  What it printed, NUL-terminated.
    size_t size;                //  Bytes in output.
    bool eof;                   //  It closed its output (it exited).
    bool reaped;                //  waitpid took it; status is valid.
    int status;                 //  Its wait status.
} s_proc_t;

static char s_dir[256];                 //  Temporary directory.
static char s_endpoint[300];            //  The agent's ipc endpoint.
static pid_t s_agent;                   //  The agent process.
static s_proc_t *s_procs[S_MAX_PROCS];  //  The programs started.
static int s_nprocs;                    //  How many.

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/meshq-examples-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_endpoint, sizeof s_endpoint, "ipc://%s/agent.ipc", s_dir);
    s_agent = procutil_agent ("examples", s_dir, s_endpoint);
}

static void
s_teardown (void)
{
    for (int i = 0; i < s_nprocs; i++) {
        s_proc_t *proc = s_procs[i];
        if (!proc->reaped)
            procutil_kill (proc->pid, SIGKILL);
        close (proc->fd);
        free (proc);
    }
    s_nprocs = 0;
    if (s_agent > 0)
        procutil_kill (s_agent, SIGTERM);
    char command[512];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    cr_expect_eq (system (command), 0);
}

TestSuite (examples, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  Starts examples/ARGS[0] with the rest of the NULL-terminated ARGS,
//  after --agent ENDPOINT when agent is true.
static s_proc_t *
s_spawn (const char *const *args, bool agent)
{
    cr_assert_lt (s_nprocs, S_MAX_PROCS);
    s_proc_t *proc = calloc (1, sizeof *proc);
    cr_assert_not_null (proc);
    snprintf (proc->name, sizeof proc->name, "%s%s%s", args[0],
              args[1] ? " " : "", args[1] ? args[1] : "");
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
    int fds[2];
    cr_assert_eq (pipe2 (fds, O_CLOEXEC), 0);
    proc->pid = procutil_spawn_fd (argv, fds[1]);
    close (fds[1]);
    proc->fd = fds[0];
    s_procs[s_nprocs++] = proc;
    return proc;
}

//  Starts examples/PROGRAM --agent ENDPOINT ARGS...
#define S_START(...) s_spawn ((const char *[]){__VA_ARGS__, NULL}, true)

//  Reads what the program printed within timeout_ms, or until it
//  closes its output. Returns false on timeout.
static bool
s_read (s_proc_t *proc, int64_t deadline)
{
    while (!proc->eof) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return false;
        struct pollfd item = {.fd = proc->fd, .events = POLLIN};
        int rc = poll (&item, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        cr_assert_geq (rc, 0);
        if (rc == 0)
            return false;
        ssize_t got = read (proc->fd, proc->output + proc->size,
                            S_MAX_OUTPUT - 1 - proc->size);
        if (got <= 0)
            proc->eof = true;
        else {
            proc->size += (size_t)got;
            proc->output[proc->size] = 0;
            return true;
        }
    }
    return true;
}

//  Waits until the program has printed text.
static void
s_expect (s_proc_t *proc, const char *text)
{
    int64_t deadline = zclock_mono () + S_DEADLINE;
    while (!strstr (proc->output, text))
        cr_assert (s_read (proc, deadline) &&
                       !(proc->eof && !strstr (proc->output, text)),
                   "%s did not print \"%s\"; it printed:\n%s", proc->name, text,
                   proc->output);
}

//  How many times the program printed text.
static int
s_count (const s_proc_t *proc, const char *text)
{
    int count = 0;
    for (const char *at = proc->output; (at = strstr (at, text)); at++)
        count++;
    return count;
}

//  Waits up to ms until the program exits, and checks it exited with
//  code.
static void
s_expect_exit_within (s_proc_t *proc, int code, int ms)
{
    int64_t deadline = zclock_mono () + ms;
    while (!proc->eof)
        cr_assert (s_read (proc, deadline), "%s did not exit; it printed:\n%s",
                   proc->name, proc->output);
    cr_assert_eq (waitpid (proc->pid, &proc->status, 0), proc->pid);
    proc->reaped = true;
    cr_assert (WIFEXITED (proc->status) && WEXITSTATUS (proc->status) == code,
               "%s ended with status 0x%x, not exit %d; it printed:\n%s",
               proc->name, proc->status, code, proc->output);
}

//  Waits until the program exits, and checks it exited with code.
static void
s_expect_exit (s_proc_t *proc, int code)
{
    s_expect_exit_within (proc, code, S_DEADLINE);
}

//  Runs a program to completion and checks that it succeeded.
static s_proc_t *
s_run (s_proc_t *proc)
{
    s_expect_exit (proc, 0);
    return proc;
}

//  What the program printed after the line holding marker.
static const char *
s_after (const s_proc_t *proc, const char *marker)
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
    s_proc_t *send = s_run (S_START ("send"));
    cr_expect (strstr (send->output, " [x] Sent 'Hello World!'"));

    s_proc_t *receive = S_START ("receive", "--count", "2");
    s_expect (receive, " [x] Received 'Hello World!'");
    //  One sent while it listens comes at once. This send finds the agent
    //  through MESHQ_AGENT, with the default user spelt out.
    setenv ("MESHQ_AGENT", s_endpoint, 1);
    s_run (s_spawn ((const char *[]){"send", "--user", "guest", "--password",
                                     "guest", NULL},
                    false));
    s_expect_exit (receive, 0);
    cr_expect_eq (s_count (receive, " [x] Received 'Hello World!'"), 2, "%s",
                  receive->output);
    s_expect_drained ("my_queue");
}

// --------------------------------------------------------------------
//  Work queues

Test (examples, workers_share_the_tasks_and_ack_each)
{
    s_proc_t *one = S_START ("worker");
    s_proc_t *two = S_START ("worker");
    s_expect (one, "Waiting for messages");
    s_expect (two, "Waiting for messages");
    const char *tasks[] = {"First task.", "Second task.", "Third task.",
                           "Fourth task."};
    for (int i = 0; i < 4; i++)
        s_run (S_START ("new_task", tasks[i]));

    //  Each worker holds one task at a time (prefetch 1), so with both
    //  waiting the first two tasks go one to each.
    int64_t deadline = zclock_mono () + S_DEADLINE;
    while (s_count (one, "[x] Done") + s_count (two, "[x] Done") < 4) {
        s_read (one, zclock_mono () + 100);
        s_read (two, zclock_mono () + 100);
        cr_assert (zclock_mono () < deadline,
                   "4 tasks not done; the workers printed:\n%s\n%s",
                   one->output, two->output);
    }
    for (int i = 0; i < 4; i++) {
        char received[64];
        snprintf (received, sizeof received, "Received '%s'", tasks[i]);
        cr_expect_eq (s_count (one, received) + s_count (two, received), 1,
                      "task %d: %s\n%s", i, one->output, two->output);
    }
    cr_expect_geq (s_count (one, "[x] Done"), 1, "%s", one->output);
    cr_expect_geq (s_count (two, "[x] Done"), 1, "%s", two->output);
    s_expect_drained ("task_queue");

    kill (one->pid, SIGTERM);
    kill (two->pid, SIGTERM);
    s_expect_exit (one, 0);
    s_expect_exit (two, 0);
}

Test (examples, a_stopped_workers_task_goes_to_another)
{
    s_proc_t *one = S_START ("worker");
    s_expect (one, "Waiting for messages");
    s_run (S_START ("new_task", "A long task....."));
    s_expect (one, "Received 'A long task.....'");

    //  Ctrl-C in the middle of the work: no ack, so the task goes back
    //  to the queue, and to the worker that is left.
    s_proc_t *two = S_START ("worker");
    s_expect (two, "Waiting for messages");
    kill (one->pid, SIGINT);
    s_expect_exit (one, 0);
    cr_expect_eq (s_count (one, "[x] Done"), 0, "%s", one->output);
    s_expect (two, "Received 'A long task.....'");
    kill (two->pid, SIGINT);
    s_expect_exit (two, 0);
}

// --------------------------------------------------------------------
//  Publish/subscribe

Test (examples, every_log_listener_gets_every_log)
{
    //  With nobody listening, the fanout exchange drops the line.
    s_run (S_START ("emit_log", "info: before anyone listens"));
    s_proc_t *one = S_START ("receive_logs", "--count", "3");
    s_proc_t *two = S_START ("receive_logs", "--count", "3");
    s_expect (one, "Waiting for logs");
    s_expect (two, "Waiting for logs");
    s_run (S_START ("emit_log"));
    s_run (S_START ("emit_log", "warning:", "disk", "almost", "full"));
    s_run (S_START ("emit_log", "error: disk full"));
    s_expect_exit (one, 0);
    s_expect_exit (two, 0);
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
    s_proc_t *errors =
        S_START ("receive_logs_direct", "--count", "2", "warning", "error");
    s_proc_t *all = S_START ("receive_logs_direct", "--count", "3", "info",
                             "warning", "error");
    s_expect (errors, "Waiting for logs");
    s_expect (all, "Waiting for logs");
    //  A line of a severity nobody asked for goes nowhere.
    s_run (S_START ("emit_log_direct", "debug", "Noise"));
    s_run (S_START ("emit_log_direct", "info", "Started"));
    s_run (S_START ("emit_log_direct", "warning", "Disk", "almost", "full"));
    s_run (S_START ("emit_log_direct", "error", "Run.", "Run.", "Or", "it",
                    "will", "explode."));
    s_expect_exit (errors, 0);
    s_expect_exit (all, 0);
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
    s_proc_t *everything = S_START ("receive_logs_topic", "--count", "5", "#");
    s_proc_t *kern = S_START ("receive_logs_topic", "--count", "2", "kern.*");
    s_proc_t *critical =
        S_START ("receive_logs_topic", "--count", "2", "*.critical");
    s_proc_t *both =
        S_START ("receive_logs_topic", "--count", "3", "kern.*", "*.critical");
    s_proc_t *receivers[] = {everything, kern, critical, both};
    for (int i = 0; i < 4; i++)
        s_expect (receivers[i], "Waiting for logs");
    //  '*' is exactly one word: kern.disk.full matches neither kern.*
    //  nor *.critical.
    const char *keys[] = {"cron.info", "kern.disk.full", "kern.critical",
                          "kern.info", "cron.critical"};
    for (int i = 0; i < 5; i++)
        s_run (S_START ("emit_log_topic", keys[i], "line"));
    for (int i = 0; i < 4; i++)
        s_expect_exit (receivers[i], 0);
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
    s_proc_t *server = S_START ("rpc_server", "--count", "1");
    s_expect (server, "Awaiting RPC requests");
    s_proc_t *client = s_run (S_START ("rpc_client", "30"));
    cr_expect (strstr (client->output, " [x] Requesting fib(30)\n"
                                       " [.] Got 832040\n"),
               "%s", client->output);
    s_expect_exit (server, 0);
    cr_expect (strstr (server->output, " [.] fib(30)"), "%s", server->output);
}

Test (examples, rpc_answers_go_to_their_own_client)
{
    s_proc_t *server = S_START ("rpc_server", "--count", "3");
    s_expect (server, "Awaiting RPC requests");
    s_proc_t *clients[] = {S_START ("rpc_client", "25"),
                           S_START ("rpc_client", "10"),
                           S_START ("rpc_client", "1")};
    const char *answers[] = {" [.] Got 75025\n", " [.] Got 55\n",
                             " [.] Got 1\n"};
    for (int i = 0; i < 3; i++) {
        s_run (clients[i]);
        cr_expect (strstr (clients[i]->output, answers[i]), "%s",
                   clients[i]->output);
    }
    s_expect_exit (server, 0);
}

// --------------------------------------------------------------------
//  The demo: three agents of its own, one killed, nothing lost

Test (examples, the_demo_loses_no_confirmed_message, .timeout = 120)
{
    char agent[1024];
    snprintf (agent, sizeof agent, "%s/agents/meshq-agent", MESHQ_BINARY_DIR);
    s_proc_t *demo = s_spawn ((const char *[]){"demo", agent, NULL}, false);
    s_expect_exit_within (demo, 0, 90000);
    cr_assert (strstr (demo->output, "SIGKILL agent b"),
               "the demo killed no agent:\n%s", demo->output);
    cr_assert (strstr (demo->output, "missing 0,"),
               "the demo lost messages:\n%s", demo->output);
    cr_assert (strstr (demo->output, "every confirmed message arrived."));
}
