/*  test_chaos.c - agent processes of one mesh under faults, then
    healed and drained, every message checked by its id (the run itself
    is tests/system/chaos_run.c, shared with bench/chaos.c).

    chaos/namespaces (root, in the fixture of tests/system/netns.sh with
    four namespaces on a bridge): four agents, two producers with
    confirms, three consumers with manual acks; 60 s of faults at random
    from MESHQ_SEED: SIGKILL and restart, SIGSTOP and SIGCONT of agents
    and consumers, link down, one-way and partial packet drop and
    two-way partitions (nft), a slow link (tc tbf, 1 Mbit/s); among them
    an 8 s one-way drop, an 8 s drop of half the packets one way and a
    SIGSTOP of an agent longer than the peer timeout. Without root or
    the fixture it skips and says why.
    chaos/loopback runs anywhere: three agents on 127.0.0.1, the process
    faults only, 20 s. MESHQ_CHAOS_SECONDS changes the time of either.

    Each checks: no confirmed message lost, first deliveries in order per
    producer within each consumer's subscription, every agent drained,
    and no agent logged more than 5 session restarts in one second (a
    HELLO storm: two agents restarting their session on each other's
    answer, forever).
*/
#include "chaos_run.h"
#include "procutil.h"
#include "testutil.h"

#define S_NODES  3
#define S_CLIENT MESHQ_BINARY_DIR "/tests/chaos_client"
#define S_AGENT  MESHQ_BINARY_DIR "/agents/meshq-agent"
#define S_STORM  5  //  Session restarts in one second that make a storm.

static char s_dir[256];
static char s_mesh[64];
static procutil_node_t s_nodes[S_NODES];

static void
s_setup (void)
{
    *s_dir = 0;
    memset (s_nodes, 0, sizeof s_nodes);
}

static void
s_teardown (void)
{
    chaos_run_cleanup ();
    for (int i = 0; i < S_NODES; i++)
        if (s_nodes[i].pid)
            procutil_kill (s_nodes[i].pid, SIGKILL);
    if (!*s_dir)
        return;
    char command[300];
    if (getenv ("MESHQ_TEST_LOGS")) {
        snprintf (command, sizeof command, "tail -n 40 %s/n*.log >&2", s_dir);
        if (system (command) != 0)
            fprintf (stderr, "chaos: no logs in %s\n", s_dir);
    }
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    if (system (command) != 0)
        fprintf (stderr, "chaos: cannot remove %s\n", s_dir);
}

TestSuite (chaos, .init = s_setup, .fini = s_teardown, .timeout = 400);

static void
s_chaos (const char *variant, const char *tag, const char *net)
{
    const char *seconds = getenv ("MESHQ_CHAOS_SECONDS");
    chaos_config_t config = {
        .nodes = tag ? 4 : 3,
        .consumers = 3,
        .producers = 2,
        .rate = 500,
        .seconds = seconds ? atoi (seconds)
                   : tag   ? 60
                           : 20,
        .progress = 15,
        .seed = testutil_seed (variant),
        .tag = tag,
        .net = net,
        .agent = S_AGENT,
        .client = S_CLIENT,
        .name = variant,
    };
    chaos_result_t result;
    int rc = chaos_run (&config, &result);
    cr_assert_eq (rc, 0, "%s: %s", variant, result.error);
    chaos_run_print (stderr, &config, &result);
    int faults = 0;
    for (int k = 0; k < CHAOS_KINDS; k++)
        faults += result.faults[k];
    cr_expect_gt (faults, 0);
    cr_expect (result.long_agent_stop,
               "no SIGSTOP of an agent longer than the peer timeout");
    if (tag)
        cr_expect (result.long_one_way_drop, "no 8 s one-way drop");
    cr_expect (result.settled, "the mesh did not form again after healing");
    cr_expect (result.drained,
               "the agents still held messages after 120 s of draining");
    cr_expect_eq (result.stuck, 0,
                  "%d clients did not end on SIGTERM (their stacks above)",
                  result.stuck);
    cr_expect_gt (result.confirmed, 0);
    cr_expect_eq (result.lost, 0, "%llu confirmed messages lost",
                  (unsigned long long)result.lost);
    cr_expect_eq (result.out_of_order, 0, "%llu first deliveries out of order",
                  (unsigned long long)result.out_of_order);
    for (int i = 0; i < config.nodes; i++) {
        cr_expect_eq (result.unstamped[i], 0,
                      "n%d logged restarts without a timestamp", i + 1);
        cr_expect_leq (result.max_restarts[i], S_STORM,
                       "n%d logged %d session restarts in one second (%llu "
                       "in all): a HELLO storm",
                       i + 1, result.max_restarts[i],
                       (unsigned long long)result.restarts[i]);
    }
}

Test (chaos, loopback)
{
    s_chaos ("chaos/loopback", NULL, NULL);
}

Test (chaos, namespaces)
{
    const char *tag = getenv ("MESHQ_NETNS");
    const char *net = getenv ("MESHQ_NETNS_NET");
    const char *count = getenv ("MESHQ_NETNS_NODES");
    if (getuid () != 0)
        cr_skip_test ("network namespaces need root: run the suite as root "
                      "to include this test");
    if (!tag || !net || !count || atoi (count) < 4)
        cr_skip_test ("no four namespaces: run it through ctest, where "
                      "tests/system/netns.sh makes them");
    s_chaos ("chaos/namespaces", tag, net);
}

// --------------------------------------------------------------------
//  A queue's dedup window: what a killed peer held waits for it

//  Starts node i's agent on loopback, seeded with the others.
static void
s_start_agent (int i)
{
    char seeds[256] = "";
    for (int j = 0; j < S_NODES; j++) {
        if (j == i)
            continue;
        size_t used = strlen (seeds);
        snprintf (seeds + used, sizeof seeds - used, "%stcp://127.0.0.1:%d",
                  used ? "," : "", s_nodes[j].port);
    }
    const char *no_beacon[] = {"--no-beacon", NULL};
    procutil_node_start (&s_nodes[i], s_dir, s_mesh, seeds, NULL, no_beacon);
}

//  Peers node i's agent says are up, or -1.
static int
s_peers_up (int i)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 1000);
    meshq_args_t args, status;
    memset (&args, 0, sizeof args);
    zmsg_t *reply = NULL;
    int up = -1;
    if (meshq_client_connect (client, s_nodes[i].control) == 0 &&
        meshq_client_call (client, "STATUS", &args, &reply) == 0) {
        zmsg_first (reply);
        zframe_t *frame = zmsg_next (reply);
        if (frame &&
            meshq_codec_decode_args (zframe_data (frame), zframe_size (frame),
                                     &status, NULL) == 0)
            up = (int)status.peers;
    }
    zmsg_destroy (&reply);
    meshq_client_destroy (&client);
    return up;
}

//  Starts n1 and n2 of this suite's nodes on loopback, declares a queue
//  with a dedup window of window_ms at n1, and has a client of n2 take
//  five messages published at n1 without acking them. Returns n1's
//  client.
static meshq_client_t *
s_lend_five (int window_ms, meshq_client_t **b_p)
{
    procutil_mesh_dir ("chaos", s_dir, sizeof s_dir, s_mesh, sizeof s_mesh);
    for (int i = 0; i < S_NODES; i++) {
        procutil_node_init (&s_nodes[i], s_dir, i, procutil_free_port ());
    }
    s_start_agent (0);
    s_start_agent (1);
    int64_t deadline = zclock_mono () + 20000;
    while (s_peers_up (0) < 1 || s_peers_up (1) < 1) {
        cr_assert_lt (zclock_mono (), deadline, "n1 and n2 never met");
        zclock_sleep (50);
    }
    meshq_client_t *a = meshq_client_new ();
    cr_assert_eq (meshq_client_connect (a, s_nodes[0].control), 0);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.dedup_window = window_ms;
    cr_assert_eq (meshq_client_declare_queue (a, "once", &options), 0);
    meshq_client_t *b = meshq_client_new ();
    cr_assert_eq (meshq_client_connect (b, s_nodes[1].control), 0);
    options.passive = true;
    while (meshq_client_declare_queue (b, "once", &options)) {
        cr_assert_lt (zclock_mono (), deadline, "n2 never learnt the queue");
        zclock_sleep (20);
    }
    cr_assert_eq (meshq_client_consume (b, "once", 5, NULL, 0), 0);
    meshq_client_set_confirms (a, 5);
    for (int i = 0; i < 5; i++)
        meshq_client_publish_body (a, "", "once", "x", 1);
    cr_assert_eq (meshq_client_wait_for_confirms (a, 5000), 0);
    for (int i = 0; i < 5; i++) {
        meshq_delivery_t *delivery = NULL;
        cr_assert_eq (meshq_client_recv (b, 5000, &delivery), 0);
        meshq_delivery_destroy (&delivery);
    }
    *b_p = b;
    return a;
}

//  Receives count redelivered messages at client within ms; returns
//  the milliseconds it took.
static int64_t
s_take_back (meshq_client_t *client, int count, int ms)
{
    int64_t start = zclock_mono ();
    for (int i = 0; i < count; i++) {
        meshq_delivery_t *delivery = NULL;
        int64_t left = start + ms - zclock_mono ();
        cr_assert_eq (
            meshq_client_recv (client, left > 0 ? (int)left : 1, &delivery), 0,
            "message %d of %d did not come back", i + 1, count);
        cr_expect (delivery->redelivered);
        meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    return zclock_mono () - start;
}

Test (chaos, a_dedup_queue_holds_a_killed_peers_messages_for_the_window)
{
    meshq_client_t *b = NULL;
    meshq_client_t *a = s_lend_five (4000, &b);
    procutil_kill (s_nodes[1].pid, SIGKILL);
    s_nodes[1].pid = 0;
    int64_t killed = zclock_mono ();
    cr_assert_eq (meshq_client_consume (a, "once", 10, NULL, 0), 0);
    //  Down after the peer timeout (1 s), then held for the window (4 s).
    meshq_delivery_t *delivery = NULL;
    cr_expect_eq (meshq_client_recv (a, 3500, &delivery), MESHQ_ETIMEOUT,
                  "held messages went out before the window passed");
    meshq_delivery_destroy (&delivery);
    s_take_back (a, 5, 10000);
    cr_expect_geq (zclock_mono () - killed, 4000);
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}

Test (chaos, a_dedup_queue_gives_back_at_once_when_the_peer_returns)
{
    meshq_client_t *b = NULL;
    meshq_client_t *a = s_lend_five (30000, &b);
    procutil_kill (s_nodes[1].pid, SIGKILL);
    s_nodes[1].pid = 0;
    cr_assert_eq (meshq_client_consume (a, "once", 10, NULL, 0), 0);
    while (s_peers_up (0) > 0)
        zclock_sleep (20);
    //  Back, n2 says it acked none of them (it lost its client): n1
    //  gives them to others long before the 30 s window ends.
    s_start_agent (1);
    int64_t took = s_take_back (a, 5, 10000);
    cr_expect_lt (took, 10000);
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}
