/*  test_agent_limits.c - what one client can make an agent process
    spend is bounded: a client that sends and never reads is cut off at
    the agent's high-water mark (and nothing it held is lost), and vhosts
    stop at a limit that ADD_VHOST names instead of failing after OK.
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
    procutil_dir ("limits", s_dir, sizeof s_dir, s_endpoint, sizeof s_endpoint);
}

static void
s_teardown (void)
{
    procutil_rmdir (s_dir);
}

TestSuite (limits, .init = s_setup, .fini = s_teardown, .timeout = 240);

//  Starts an agent with the given extra flags (NULL-terminated).
static pid_t
s_agent (const char *flag, const char *value)
{
    const char *extra[] = {flag, value, NULL};
    return procutil_agent_with ("limits", s_dir, s_endpoint, extra);
}

static meshq_client_t *
s_client (void)
{
    return procutil_client (s_endpoint, 5000);
}

//  The agent's STATUS counters of slow clients and unsent frames.
static void
s_counters (meshq_client_t *client, uint64_t *slow, uint64_t *unsent)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    *slow = MESHQ_ARGS_HAS (&status, SLOW_CLIENTS) ? status.slow_clients : 0;
    *unsent = MESHQ_ARGS_HAS (&status, UNSENT) ? status.unsent : 0;
    zmsg_destroy (&reply);
}

//  Waits until the agent has cut off at least one slow client.
static void
s_wait_slow (meshq_client_t *client)
{
    uint64_t slow = 0, unsent = 0;
    int64_t deadline = zclock_mono () + 30000;
    while (slow == 0 && zclock_mono () < deadline) {
        s_counters (client, &slow, &unsent);
        if (slow == 0)
            zclock_sleep (50);
    }
    cr_assert_geq (slow, 1, "no client was counted as not reading");
    cr_assert_geq (unsent, 1, "no frame was counted as not sent");
}

//  Resident memory of a process, in KiB.
static long
s_rss_kb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    long kb = -1;
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose (file);
    cr_assert_gt (kb, 0);
    return kb;
}

//  A client of raw frames that takes one frame at a time from its
//  connection: what it does not read stays with the agent.
static zsock_t *
s_raw (uint32_t batch)
{
    zsock_t *raw = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (raw);
    zsock_set_rcvhwm (raw, 1);
    zsock_set_sndhwm (raw, 0);
    zsock_set_rcvtimeo (raw, 5000);
    zsock_set_plain_username (raw, "guest");
    zsock_set_plain_password (raw, "guest");
    zuuid_t *id = zuuid_new ();
    zmq_setsockopt (zsock_resolve (raw), ZMQ_ROUTING_ID, zuuid_data (id), 16);
    zuuid_destroy (&id);
    cr_assert_eq (zsock_connect (raw, "%s", s_endpoint), 0);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 1);
    if (batch > 1)
        MESHQ_ARGS_SET (&args, BATCH, batch, batch);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_codec_encode_args (&args, &buf, NULL);
    zsock_send (raw, "sb", "HELLO", buf.data, buf.size);
    meshq_buf_fini (&buf);
    zmsg_t *reply = zmsg_recv (raw);
    cr_assert (reply && zframe_streq (zmsg_first (reply), "OK"),
               "HELLO not answered");
    zmsg_destroy (&reply);
    return raw;
}

Test (limits, a_client_that_never_reads_cannot_grow_the_agent)
{
    //  An agent built with AddressSanitizer keeps freed memory a while
    //  (its quarantine): without it, its RSS counts what it holds.
    const char *options = getenv ("ASAN_OPTIONS");
    char asan[512];
    snprintf (asan, sizeof asan, "%s%squarantine_size_mb=0",
              options ? options : "", options && *options ? ":" : "");
    setenv ("ASAN_OPTIONS", asan, 1);
    pid_t agent = s_agent (NULL, NULL);
    meshq_client_t *client = s_client ();
    long before = s_rss_kb (agent);
    //  Many requests, no reads: each answer would wait for this client.
    //  Without a bound the agent kept them all (about 400 bytes each).
    enum { REQUESTS = 400000 };
    zsock_t *raw = s_raw (1);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 2);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_codec_encode_args (&args, &buf, NULL);
    for (int i = 0; i < REQUESTS; i++)
        cr_assert_eq (zsock_send (raw, "sb", "STATUS", buf.data, buf.size), 0);
    meshq_buf_fini (&buf);
    //  Frames from one client are handled in order: once a frame of the
    //  wrong shape that it sends last is counted as dropped, every
    //  request before it was handled.
    cr_assert_eq (zstr_send (raw, "marker"), 0);
    bool handled = false;
    for (int64_t deadline = zclock_mono () + 60000;
         !handled && zclock_mono () < deadline;) {
        meshq_args_t status;
        zmsg_t *reply;
        clientutil_status (client, &status, &reply);
        handled = status.dropped > 0;
        zmsg_destroy (&reply);
        if (!handled)
            zclock_sleep (50);
    }
    cr_assert (handled, "the agent did not handle the requests in time");
    long after = s_rss_kb (agent);
    uint64_t slow = 0, unsent = 0;
    s_counters (client, &slow, &unsent);
    fprintf (stderr,
             "never reads: %d requests, agent RSS %ld -> %ld KiB, "
             "slow clients %" PRIu64 ", unsent %" PRIu64 "\n",
             REQUESTS, before, after, slow, unsent);
    cr_expect_lt (after - before, 32 * 1024,
                  "the agent grew by %ld KiB for a client that does not read",
                  after - before);
    cr_expect_eq (slow, 1, "the client was not cut off as not reading");
    cr_expect_gt (unsent, 0);
    //  Everyone else is served as before.
    cr_assert_eq (meshq_client_declare_queue (client, "others", NULL), 0);
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_publish_body (client, "", "others", "ok", 2), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    zsock_destroy (&raw);
    meshq_client_destroy (&client);
    cr_expect_eq (procutil_kill (agent, SIGTERM), 0);
}

//  A no-ack consumer (taking batch deliveries a frame) that stops
//  reading: what could not be sent to it goes back to the queue. Every
//  message is either read by it or still in the queue.
static void
s_no_ack_reader_loses_nothing (uint32_t batch)
{
    enum { MESSAGES = 20000 };
    pid_t agent = s_agent ("--client-hwm", "100");
    meshq_client_t *client = s_client ();
    cr_assert_eq (meshq_client_declare_queue (client, "noack", NULL), 0);
    meshq_client_set_confirms (client, 1000);
    char body[200];
    memset (body, 'x', sizeof body);
    for (int i = 0; i < MESSAGES; i++)
        cr_assert_eq (
            meshq_client_publish_body (client, "", "noack", body, sizeof body),
            0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 30000), 0);

    zsock_t *raw = s_raw (batch);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 2);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("noack"));
    MESHQ_ARGS_SET (&args, PREFETCH, prefetch, 1000000);
    MESHQ_ARGS_SET (&args, NO_ACK, no_ack, true);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_codec_encode_args (&args, &buf, NULL);
    zsock_send (raw, "sb", "CONSUME", buf.data, buf.size);
    meshq_buf_fini (&buf);
    s_wait_slow (client);
    //  Its session is over: what it did not get is back in the queue.
    uint64_t ready = 0, unacked = 1;
    for (int64_t deadline = zclock_mono () + 10000;
         unacked && zclock_mono () < deadline;)
        procutil_depth (client, "noack", &ready, &unacked);
    cr_assert_eq (unacked, 0);
    //  What it was sent is still on its way to it: read it all.
    zsock_set_rcvtimeo (raw, 1000);
    uint64_t read = 0;
    zmsg_t *msg;
    while ((msg = zmsg_recv (raw))) {
        if (zframe_streq (zmsg_first (msg), "DELIVER")) {
            zframe_t *frame = zmsg_next (msg);
            meshq_args_t deliver;
            cr_assert_eq (meshq_codec_decode_args (zframe_data (frame),
                                                   zframe_size (frame),
                                                   &deliver, NULL),
                          0);
            read += MESHQ_ARGS_HAS (&deliver, BATCH) ? deliver.batch : 1;
        }
        zmsg_destroy (&msg);
    }
    procutil_depth (client, "noack", &ready, &unacked);
    fprintf (stderr,
             "no-ack reader (batch %u): %d messages, read %" PRIu64
             ", back in the queue %" PRIu64 "\n",
             batch, MESSAGES, read, ready);
    cr_expect_gt (ready, 0, "nothing came back to the queue");
    cr_expect_eq (read + ready, MESSAGES, "%d messages lost",
                  (int)(MESSAGES - (read + ready)));
    zsock_destroy (&raw);
    meshq_client_destroy (&client);
    cr_expect_eq (procutil_kill (agent, SIGTERM), 0);
}

Test (limits, a_no_ack_consumer_that_stops_reading_loses_nothing)
{
    s_no_ack_reader_loses_nothing (1);
}

Test (limits, a_no_ack_batch_consumer_that_stops_reading_loses_nothing)
{
    s_no_ack_reader_loses_nothing (64);
}

// --------------------------------------------------------------------
//  Vhosts

//  Asks for verb on vhost (with guest's permissions, for
//  SET_PERMISSIONS); returns the agent's code, its reason in why.
static int
s_vhost_call (meshq_client_t *client, const char *verb, const char *vhost,
              char *why, size_t size)
{
    const char *all = streq (verb, "SET_PERMISSIONS") ? ".*" : NULL;
    int rc = clientutil_admin (client, verb, all ? "guest" : NULL, vhost, NULL,
                               all, all, all);
    snprintf (why, size, "%s", rc ? meshq_client_error (client) : "");
    return rc;
}

//  A vhost that was added serves: guest may declare a queue in it.
static void
s_expect_served (const char *vhost)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 5000);
    meshq_client_set_vhost (client, vhost);
    cr_assert_eq (meshq_client_connect (client, s_endpoint), 0,
                  "vhost '%s': %s", vhost, meshq_client_error (client));
    cr_expect_eq (meshq_client_declare_queue (client, "q", NULL), 0,
                  "vhost '%s': %s", vhost, meshq_client_error (client));
    meshq_client_destroy (&client);
}

//  Adds vhosts v0, v1, ... until the agent refuses one (at most most);
//  each it took must serve. Returns how many it took; why says the
//  refusal.
static int
s_add_until_refused (meshq_client_t *client, int most, char *why, size_t size)
{
    char name[32];
    int added = 0;
    for (; added < most; added++) {
        snprintf (name, sizeof name, "v%d", added);
        int rc = s_vhost_call (client, "ADD_VHOST", name, why, size);
        if (rc)
            break;
        cr_assert_eq (s_vhost_call (client, "SET_PERMISSIONS", name, why, size),
                      0, "%s: %s", name, why);
    }
    for (int i = 0; i < added; i++) {
        snprintf (name, sizeof name, "v%d", i);
        s_expect_served (name);
    }
    return added;
}

Test (limits, add_vhost_stops_at_max_vhosts_and_names_it)
{
    pid_t agent = s_agent ("--max-vhosts", "3");
    meshq_client_t *client = s_client ();
    char why[512];
    //  "/" and two more.
    cr_assert_eq (s_add_until_refused (client, 10, why, sizeof why), 2);
    cr_expect (strstr (why, "max_vhosts=3"), "the refusal: %s", why);
    //  One goes, another comes.
    cr_assert_eq (s_vhost_call (client, "DELETE_VHOST", "v0", why, sizeof why),
                  0, "%s", why);
    cr_expect_eq (s_vhost_call (client, "ADD_VHOST", "v9", why, sizeof why), 0,
                  "%s", why);
    meshq_client_destroy (&client);
    cr_expect_eq (procutil_kill (agent, SIGTERM), 0);
}

static int s_runs;

//  An agent in a mesh, whose vhosts (a store and a mesh each) soon
//  exhaust the limits that shell sets. most: its --max-vhosts, or NULL
//  for the default.
static pid_t
s_agent_in_mesh (const char *shell, const char *most)
{
    char agent[1024], data[1024], log[1100], mesh[64];
    snprintf (agent, sizeof agent, "%s/agents/meshq-agent", MESHQ_BINARY_DIR);
    snprintf (data, sizeof data, "%s/store-%d", s_dir, s_runs++);
    snprintf (log, sizeof log, "%s/agent.log", s_dir);
    snprintf (mesh, sizeof mesh, "limits-%d", (int)getpid ());
    char *argv[] = {"/bin/sh",     "-c",
                    (char *)shell, agent,
                    "--name",      "vhosts",
                    "--data",      data,
                    "--control",   s_endpoint,
                    "--mesh",      mesh,
                    "--no-beacon", most ? "--max-vhosts" : NULL,
                    (char *)most,  NULL};
    return procutil_agent_argv (argv, log, s_endpoint);
}

#define S_FILES   "ulimit -n 160 && exec \"$0\" \"$@\""
#define S_SOCKETS "ZSYS_MAX_SOCKETS=40 exec \"$0\" \"$@\""

Test (limits, vhosts_past_the_process_limits_are_refused_never_fatal)
{
    //  Told it may serve a million, it still refuses the vhost it has
    //  no files for, and serves on.
    pid_t agent = s_agent_in_mesh (S_FILES, "1000000");
    meshq_client_t *client = s_client ();
    char why[512] = "";
    int added = s_add_until_refused (client, 400, why, sizeof why);
    fprintf (stderr, "vhosts: %d added with 160 open files; then: %s\n", added,
             why);
    cr_expect_lt (added, 400, "no vhost was refused");
    cr_expect (strstr (why, "open files"), "the refusal: %s", why);
    cr_expect_eq (waitpid (agent, NULL, WNOHANG), 0, "the agent died");
    meshq_client_destroy (&client);
    cr_expect_eq (procutil_kill (agent, SIGTERM), 0);

    //  Out of ZeroMQ sockets: the vhost that cannot have its sockets is
    //  refused, and the agent serves on.
    agent = s_agent_in_mesh (S_SOCKETS, "1000000");
    client = s_client ();
    added = s_add_until_refused (client, 400, why, sizeof why);
    fprintf (stderr, "vhosts: %d added with 40 ZeroMQ sockets; then: %s\n",
             added, why);
    cr_expect_lt (added, 400, "no vhost was refused");
    cr_expect (strstr (why, "Too many open files") &&
                   strstr (why, "ZeroMQ sockets at most 40"),
               "the refusal: %s", why);
    cr_expect_eq (waitpid (agent, NULL, WNOHANG), 0, "the agent died");
    meshq_client_destroy (&client);
    cr_expect_eq (procutil_kill (agent, SIGTERM), 0);

    //  By default the limit comes from those limits: refused by count,
    //  before anything runs short.
    const char *shells[] = {S_FILES, S_SOCKETS};
    for (int i = 0; i < 2; i++) {
        agent = s_agent_in_mesh (shells[i], NULL);
        client = s_client ();
        added = s_add_until_refused (client, 400, why, sizeof why);
        fprintf (stderr, "vhosts: %d added by default; then: %s\n", added, why);
        cr_expect (strstr (why, "max_vhosts="), "the refusal: %s", why);
        meshq_client_destroy (&client);
        cr_expect_eq (procutil_kill (agent, SIGTERM), 0);
    }
}

//  A shell's soft limit of open files below its hard one (1,024 is
//  common): the agent takes what it may, so it serves as many vhosts as
//  the hard limit allows. It used to keep the soft limit, and refused
//  the fifth vhost here.
#define S_SOFT "ulimit -Sn 160 && ulimit -Hn 4096 && exec \"$0\" \"$@\""

Test (limits, an_agent_takes_the_open_files_it_may)
{
    pid_t agent = s_agent_in_mesh (S_SOFT, NULL);
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/limits", (int)agent);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    unsigned long soft = 0, hard = 0;
    while (fgets (line, sizeof line, file))
        if (strncmp (line, "Max open files", 14) == 0)
            sscanf (line + 14, "%lu %lu", &soft, &hard);
    fclose (file);
    cr_expect_eq (soft, 4096, "soft limit %lu, hard %lu", soft, hard);
    meshq_client_t *client = s_client ();
    char why[512] = "";
    int added = s_add_until_refused (client, 20, why, sizeof why);
    cr_expect_eq (added, 20, "refused after %d: %s", added, why);
    meshq_client_destroy (&client);
    cr_expect_eq (procutil_kill (agent, SIGTERM), 0);
}

//  How many lines of the log at path hold text.
static int
s_log_count (const char *path, const char *text)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line[2048];
    int count = 0;
    while (fgets (line, sizeof line, file))
        if (strstr (line, text))
            count++;
    fclose (file);
    return count;
}

//  Whether a client may use vhost on the agent at endpoint.
static bool
s_served_at (const char *endpoint, const char *vhost)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 5000);
    meshq_client_set_vhost (client, vhost);
    bool served = meshq_client_connect (client, endpoint) == 0 &&
                  meshq_client_declare_queue (client, "q", NULL) == 0;
    meshq_client_destroy (&client);
    return served;
}

Test (limits, a_peer_cannot_make_an_agent_serve_past_max_vhosts)
{
    //  n1 may serve 10 vhosts, n2 only 2; the vhosts n1 adds reach n2
    //  as metadata, and n2 serves those that fit and says so of the
    //  rest, and serves on.
    char dir[64], mesh[64];
    procutil_mesh_dir ("vhostcap", dir, sizeof dir, mesh, sizeof mesh);
    procutil_node_t nodes[2];
    char seeds[2][64];
    for (int i = 0; i < 2; i++)
        procutil_node_init (&nodes[i], dir, i, testutil_free_port ());
    for (int i = 0; i < 2; i++)
        snprintf (seeds[i], sizeof seeds[i], "tcp://127.0.0.1:%d",
                  nodes[1 - i].port);
    const char *most[2][3] = {{"--max-vhosts", "10", NULL},
                              {"--max-vhosts", "2", NULL}};
    for (int i = 0; i < 2; i++)
        procutil_node_start (&nodes[i], dir, mesh, seeds[i], NULL, most[i]);
    meshq_client_t *client = procutil_client (nodes[0].control, 5000);
    const char *names[] = {"v0", "v1", "v2", "v3"};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq (clientutil_admin (client, "ADD_VHOST", NULL, names[i],
                                        NULL, NULL, NULL, NULL),
                      0, "%s", meshq_client_error (client));
        cr_assert_eq (clientutil_admin (client, "SET_PERMISSIONS", "guest",
                                        names[i], NULL, ".*", ".*", ".*"),
                      0, "%s", meshq_client_error (client));
    }
    meshq_client_destroy (&client);
    //  "/" and v0 at n2, once the metadata is there.
    int64_t deadline = zclock_mono () + 20000;
    while (!s_served_at (nodes[1].control, "v0") && zclock_mono () < deadline)
        zclock_sleep (100);
    cr_assert (s_served_at (nodes[1].control, "v0"), "v0 never reached n2");
    deadline = zclock_mono () + 20000;
    while (s_log_count (nodes[1].log, "vhost not served") < 3 &&
           zclock_mono () < deadline)
        zclock_sleep (100);
    cr_expect_geq (s_log_count (nodes[1].log, "vhost not served"), 3,
                   "n2 did not say which vhosts it does not serve");
    for (int i = 1; i < 4; i++)
        cr_expect (!s_served_at (nodes[1].control, names[i]),
                   "n2 serves %s past its max_vhosts", names[i]);
    for (int i = 0; i < 4; i++)
        cr_expect (s_served_at (nodes[0].control, names[i]), "n1: %s",
                   names[i]);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq (waitpid (nodes[i].pid, NULL, WNOHANG), 0, "%s died",
                      nodes[i].name);
        cr_expect_eq (procutil_kill (nodes[i].pid, SIGTERM), 0);
    }
    procutil_rmdir (dir);
}
