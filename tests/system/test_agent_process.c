/*  test_agent_process.c - agent processes under SIGKILL: no confirmed
    message is lost, a killed consumer's messages go to another, and bad
    client frames leave the agent serving; a stopped and continued agent
    still stops on SIGTERM.
*/
#include "args.h"
#include "client_internal.h"
#include "codec_args.h"
#include "procutil.h"
#include "testutil.h"

static char s_dir[256];
static char s_endpoint[300];

static void
s_setup (void)
{
    procutil_dir ("system", s_dir, sizeof s_dir, s_endpoint, sizeof s_endpoint);
}

static void
s_teardown (void)
{
    procutil_rmdir (s_dir);
}

TestSuite (process, .init = s_setup, .fini = s_teardown, .timeout = 240);

static meshq_client_t *
s_client (void)
{
    return procutil_client (s_endpoint, 3000);
}

//  Kills the agent a random few milliseconds from now.
typedef struct {
    pid_t pid;     //  Whom.
    int delay_ms;  //  When.
} s_killer_t;

static void *
s_kill_later (void *arg)
{
    s_killer_t *killer = arg;
    usleep ((useconds_t)killer->delay_ms * 1000);
    kill (killer->pid, SIGKILL);
    return NULL;
}

Test (process, sigkill_never_loses_a_confirmed_message)
{
    enum { ROUNDS = 6, BATCH = 50, MAX = 200000 };
    uint64_t rng = testutil_seed ("sigkill");
    uint8_t *seen = calloc (MAX, 1);
    uint8_t *confirmed = calloc (MAX, 1);
    int next = 0, confirmed_count = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pid_t pid = procutil_agent ("crash", s_dir, s_endpoint);
        meshq_client_t *client = s_client ();
        cr_assert_eq (meshq_client_declare_queue (client, "durable", NULL), 0);
        meshq_client_set_confirms (client, 1000);
        s_killer_t killer = {pid, 20 + (int)(testutil_random (&rng) % 300)};
        pthread_t thread;
        pthread_create (&thread, NULL, s_kill_later, &killer);
        //  Publish in batches; a batch counts once wait_for_confirms says
        //  every message of it is confirmed.
        while (next + BATCH < MAX) {
            char body[32];
            int first = next;
            int rc = 0;
            for (int i = 0; i < BATCH && rc == 0; i++) {
                snprintf (body, sizeof body, "%d", next++);
                rc = meshq_client_publish_body (client, "", "durable", body,
                                                strlen (body));
            }
            if (rc == 0)
                rc = meshq_client_wait_for_confirms (client, 1500);
            if (rc)
                break;
            for (int i = first; i < next; i++)
                confirmed[i] = 1;
            confirmed_count += next - first;
        }
        pthread_join (thread, NULL);
        meshq_client_destroy (&client);
        int status;
        waitpid (pid, &status, 0);
        cr_assert (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
                   "round %d: the agent ended other than by SIGKILL", round);
    }
    //  Restart once more and take everything back.
    pid_t pid = procutil_agent ("crash", s_dir, s_endpoint);
    meshq_client_t *client = s_client ();
    cr_assert_eq (meshq_client_consume (client, "durable", 1000, NULL, 0), 0);
    int received = 0, duplicates = 0;
    meshq_delivery_t *delivery;
    while (meshq_client_recv (client, 1000, &delivery) == 0) {
        size_t size;
        const char *body = meshq_msg_body (delivery->msg, &size);
        char text[32];
        snprintf (text, sizeof text, "%.*s", (int)size, body);
        int n = atoi (text);
        cr_assert (n >= 0 && n < MAX);
        if (seen[n])
            duplicates++;
        seen[n] = 1;
        received++;
        meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    int lost = 0;
    for (int i = 0; i < MAX; i++)
        if (confirmed[i] && !seen[i])
            lost++;
    fprintf (stderr,
             "sigkill: %d rounds, published %d, confirmed %d, received %d, "
             "duplicates %d, confirmed lost %d\n",
             ROUNDS, next, confirmed_count, received, duplicates, lost);
    cr_expect_eq (lost, 0, "%d confirmed messages lost", lost);
    cr_expect_gt (confirmed_count, 0);
    meshq_client_destroy (&client);
    procutil_kill (pid, SIGTERM);
    free (seen);
    free (confirmed);
}

Test (process, a_killed_consumers_messages_go_to_another)
{
    pid_t agent = procutil_agent ("consumers", s_dir, s_endpoint);
    meshq_client_t *client = s_client ();
    cr_assert_eq (meshq_client_declare_queue (client, "tasks", NULL), 0);
    meshq_client_set_confirms (client, 100);
    for (int i = 0; i < 10; i++)
        meshq_client_publish_body (client, "", "tasks", "task", 4);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);

    char tool[1024];
    snprintf (tool, sizeof tool, "%s/tools/meshq", MESHQ_BINARY_DIR);
    char *argv[] = {tool,         "--agent", s_endpoint, "consume",  "tasks",
                    "--prefetch", "5",       "--exec",   "sleep 60", NULL};
    pid_t consumer = procutil_spawn (argv, NULL);
    uint64_t ready = 0, unacked = 0;
    int64_t deadline = zclock_mono () + 10000;
    while (unacked < 5 && zclock_mono () < deadline)
        procutil_depth (client, "tasks", &ready, &unacked);
    cr_assert_eq (unacked, 5, "the consumer process holds its prefetch");
    procutil_kill (consumer, SIGKILL);

    //  Its five come back (after its heartbeats stop) to this consumer.
    cr_assert_eq (meshq_client_consume (client, "tasks", 20, NULL, 0), 0);
    int redelivered = 0;
    for (int i = 0; i < 10; i++) {
        meshq_delivery_t *delivery = NULL;
        cr_assert_eq (meshq_client_recv (client, 10000, &delivery), 0,
                      "message %d of 10 did not come", i + 1);
        redelivered += delivery->redelivered;
        meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    cr_expect_eq (redelivered, 5);
    meshq_client_destroy (&client);
    procutil_kill (agent, SIGTERM);
}

//  Sends frames and returns the first reply's command, or "" on none.
static void
s_expect_error (zsock_t *raw, const char *label)
{
    zmsg_t *reply = zmsg_recv (raw);
    cr_assert_not_null (reply, "%s: no answer", label);
    cr_expect (zframe_streq (zmsg_first (reply), "ERROR"), "%s: not ERROR",
               label);
    zmsg_destroy (&reply);
}

Test (process, bad_client_frames_get_an_error_and_the_agent_serves_on)
{
    pid_t agent = procutil_agent ("frames", s_dir, s_endpoint);
    zsock_t *raw = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (raw, 3000);
    uint8_t id[16] = "raw-test-client";
    zmq_setsockopt (zsock_resolve (raw), ZMQ_ROUTING_ID, id, 16);
    zsock_set_plain_username (raw, "guest");
    zsock_set_plain_password (raw, "guest");
    cr_assert_eq (zsock_connect (raw, "%s", s_endpoint), 0);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 1);
    meshq_codec_encode_args (&args, &buf, NULL);
    //  Before HELLO: refused.
    zsock_send (raw, "sb", "STATUS", buf.data, buf.size);
    s_expect_error (raw, "no session");
    zsock_send (raw, "sb", "HELLO", buf.data, buf.size);
    zmsg_t *reply = zmsg_recv (raw);
    cr_assert (reply && zframe_streq (zmsg_first (reply), "OK"));
    zmsg_destroy (&reply);
    //  Arguments that are not msgpack.
    zsock_send (raw, "sb", "DECLARE_QUEUE", "\xc1\xc1", 2);
    s_expect_error (raw, "bad arguments");
    //  An unknown command.
    zsock_send (raw, "sb", "EXPLODE", buf.data, buf.size);
    s_expect_error (raw, "unknown command");
    //  A publish whose message is not an envelope.
    zsock_send (raw, "sbb", "PUBLISH", "\x80", 1, "\x91\x01", 2);
    s_expect_error (raw, "bad envelope");
    //  A body above the agent's maximum: libzmq drops the connection (its
    //  ZMQ_MAXMSGSIZE), the agent goes on.
    size_t huge = MESHQ_MAX_BODY_DEFAULT + 70000;
    uint8_t *big = calloc (1, huge);
    zsock_send (raw, "sbb", "PUBLISH", "\x80", 1, big, huge);
    free (big);
    meshq_buf_fini (&buf);
    zsock_destroy (&raw);

    meshq_client_t *client = s_client ();
    cr_assert_eq (meshq_client_declare_queue (client, "still", NULL), 0);
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_publish_body (client, "", "still", "ok", 2), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    meshq_client_destroy (&client);
    procutil_kill (agent, SIGTERM);
}

//  Runs a second meshq-agent NAME on endpoint and returns it, its store
//  in the suite's directory under NAME.
static procutil_prog_t *
s_second_agent (const char *name, const char *endpoint)
{
    char agent[1024], data[1024];
    snprintf (agent, sizeof agent, "%s/agents/meshq-agent", MESHQ_BINARY_DIR);
    snprintf (data, sizeof data, "%s/%s", s_dir, name);
    const char *argv[] = {agent,       "--name", name,           "--data", data,
                          "--control", endpoint, "--standalone", NULL};
    return procutil_prog_new (argv, NULL, 10000);
}

//  The name of the agent that answers on endpoint.
static void
s_expect_name (const char *endpoint, const char *name)
{
    meshq_client_t *client = procutil_client (endpoint, 3000);
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    cr_expect (status.name.size == strlen (name) &&
                   memcmp (status.name.data, name, status.name.size) == 0,
               "%s answers as '%.*s', not '%s'", endpoint,
               (int)status.name.size, status.name.data, name);
    zmsg_destroy (&reply);
    meshq_client_destroy (&client);
}

Test (process, a_control_endpoint_in_use_is_refused_naming_its_agent)
{
    pid_t first = procutil_agent ("first", s_dir, s_endpoint);
    //  A second agent on the same ipc:// path: refused, naming the first.
    procutil_prog_t *second = s_second_agent ("second", s_endpoint);
    procutil_prog_expect_exit (second, 69);
    char pid[32];
    snprintf (pid, sizeof pid, "pid %d", (int)first);
    cr_expect (
        strstr (second->output, pid) && strstr (second->output, "--name first"),
        "the refusal does not name the running agent:\n%s", second->output);
    procutil_prog_destroy (&second);
    //  The first keeps its socket and its clients.
    s_expect_name (s_endpoint, "first");

    //  A socket file left by an agent that died is taken over.
    procutil_kill (first, SIGKILL);
    pid_t third = procutil_agent ("third", s_dir, s_endpoint);
    s_expect_name (s_endpoint, "third");

    //  The same over tcp://: refused with the same exit code (guest
    //  logs in over ipc:// only: the agent is asked there).
    char tcp[64];
    snprintf (tcp, sizeof tcp, "tcp://127.0.0.1:%d", procutil_free_port ());
    char both[400];
    snprintf (both, sizeof both, "%s,%s", s_endpoint, tcp);
    procutil_kill (third, SIGTERM);
    third = procutil_agent ("third", s_dir, both);
    procutil_prog_t *fourth = s_second_agent ("fourth", tcp);
    procutil_prog_expect_exit (fourth, 69);
    snprintf (pid, sizeof pid, "pid %d", (int)third);
    cr_expect (
        strstr (fourth->output, "in use") && strstr (fourth->output, pid) &&
            strstr (fourth->output, "--name third"),
        "the refusal does not name the running agent:\n%s", fourth->output);
    procutil_prog_destroy (&fourth);
    s_expect_name (s_endpoint, "third");
    procutil_kill (third, SIGTERM);
}

//  A SIGTERM right after SIGCONT (a supervisor thawing and stopping an
//  agent): the kernel gives it to a thread that has no signal pending,
//  and the agent's main thread still has one then. It used to land on
//  another thread, which set the flag without waking the main thread's
//  wait: the agent ran on and never stopped (2 of 10 here).
Test (process, a_sigterm_right_after_sigcont_stops_the_agent)
{
    for (int round = 0; round < 10; round++) {
        pid_t pid = procutil_agent ("thawed", s_dir, s_endpoint);
        cr_assert (procutil_stop (pid), "round %d: not stopped", round);
        zclock_sleep (50);
        kill (pid, SIGCONT);
        kill (pid, SIGTERM);
        int status = 0;
        bool gone = procutil_wait_exit (pid, 10000, &status);
        if (!gone)
            procutil_kill (pid, SIGKILL);
        cr_assert (gone, "round %d: the agent ran on 10 s after SIGTERM",
                   round);
        cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0,
                   "round %d: wait status %d", round, status);
    }
}
