/*  test_chaos.c - three agent processes of one mesh under failures:
    producers on two nodes, consumers on all three; for a bounded time,
    at random, agents and consumers are SIGKILLed and restarted (and, in
    network namespaces, links are cut and restored); then everything is
    healed and drained, and every message is checked by its id: no
    confirmed message lost, duplicates counted, first deliveries in
    order per producer within each consumer's subscription.

    chaos/loopback runs anywhere: agents on 127.0.0.1 with ports and
    seeds of their own. chaos/namespaces needs root and the fixture of
    tests/system/netns.sh (three namespaces on a bridge); without them
    it skips and says why. MESHQ_SEED picks the faults; MESHQ_CHAOS_SECONDS
    the time they run (default 20).
*/
#include "procutil.h"
#include "testutil.h"

#define S_NODES     3
#define S_PRODUCERS 2
#define S_RATE      1000  //  Messages a second per producer.
#define S_PREFETCH  20
#define S_MAX_SEQ   (1 << 20)
#define S_QUEUE     "chaos"
#define S_CLIENT    MESHQ_BINARY_DIR "/tests/chaos_client"

static char s_dir[256];
static char s_mesh[64];
static const char *s_tag;  //  Namespace prefix, or NULL on loopback.
static const char *s_net;  //  Namespaces' subnet, three octets.
static procutil_node_t s_nodes[S_NODES];
static pid_t s_consumers[S_NODES];  //  Each node's consumer, or 0.
static bool s_cut[S_NODES];         //  Its link is down (namespaces only).
static pid_t s_producers[S_PRODUCERS];

static void
s_setup (void)
{
    procutil_mesh_dir ("chaos", s_dir, sizeof s_dir, s_mesh, sizeof s_mesh);
    memset (s_nodes, 0, sizeof s_nodes);
    memset (s_consumers, 0, sizeof s_consumers);
    memset (s_cut, 0, sizeof s_cut);
    memset (s_producers, 0, sizeof s_producers);
    s_tag = NULL;
}

static void
s_run (const char *format, ...)
{
    char command[512];
    va_list args;
    va_start (args, format);
    vsnprintf (command, sizeof command, format, args);
    va_end (args);
    if (system (command) != 0)
        fprintf (stderr, "chaos: failed: %s\n", command);
}

static void
s_teardown (void)
{
    for (int i = 0; i < S_PRODUCERS; i++)
        if (s_producers[i])
            procutil_kill (s_producers[i], SIGKILL);
    for (int i = 0; i < S_NODES; i++) {
        if (s_consumers[i])
            procutil_kill (s_consumers[i], SIGKILL);
        if (s_nodes[i].pid)
            procutil_kill (s_nodes[i].pid, SIGKILL);
        if (s_tag && s_cut[i])
            s_run ("ip -n %s-n%d link set mq0 up", s_tag, i + 1);
    }
    if (getenv ("MESHQ_TEST_LOGS"))
        s_run ("tail -n 40 %s/n*.log >&2", s_dir);
    s_run ("rm -rf '%s'", s_dir);
}

TestSuite (chaos, .init = s_setup, .fini = s_teardown, .timeout = 400);

static void
s_start_agent (int i)
{
    char seeds[256] = "";
    for (int j = 0; j < S_NODES; j++) {
        if (j == i)
            continue;
        size_t used = strlen (seeds);
        if (s_tag)
            snprintf (seeds + used, sizeof seeds - used, "%stcp://%s.%d:%d",
                      used ? "," : "", s_net, j + 1, s_nodes[j].port);
        else
            snprintf (seeds + used, sizeof seeds - used, "%stcp://127.0.0.1:%d",
                      used ? "," : "", s_nodes[j].port);
    }
    char ns[64];
    snprintf (ns, sizeof ns, "%s-n%d", s_tag ? s_tag : "", i + 1);
    const char *in_ns[] = {"/sbin/ip", "netns", "exec", ns, NULL};
    const char *beacon[] = {"--interface", "mq0", "--insecure", NULL};
    const char *no_beacon[] = {"--no-beacon", NULL};
    procutil_node_start (&s_nodes[i], s_dir, s_mesh, seeds,
                         s_tag ? in_ns : NULL, s_tag ? beacon : no_beacon);
}

static void
s_start_consumer (int i)
{
    procutil_node_t *node = &s_nodes[i];
    char log[300], prefetch[16];
    snprintf (log, sizeof log, "%s/c%d.out", s_dir, i + 1);
    snprintf (prefetch, sizeof prefetch, "%d", S_PREFETCH);
    char *argv[] = {S_CLIENT, "consume", node->control, S_QUEUE,
                    prefetch, log,       NULL};
    s_consumers[i] = procutil_spawn (argv, NULL);
}

//  Asks node i's agent verb; the reply's argument frame, or NULL if it
//  does not answer. Free the reply with zmsg_destroy.
static zframe_t *
s_ask (int i, const char *verb, zmsg_t **reply)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 1000);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    *reply = NULL;
    zframe_t *frame = NULL;
    if (meshq_client_connect (client, s_nodes[i].control) == 0 &&
        meshq_client_call (client, verb, &args, reply) == 0) {
        zmsg_first (*reply);
        frame = zmsg_next (*reply);
    }
    meshq_client_destroy (&client);
    return frame;
}

//  Peers the agent of node i says are up, or -1.
static int
s_peers_up (int i)
{
    zmsg_t *reply;
    zframe_t *frame = s_ask (i, "STATUS", &reply);
    meshq_args_t status;
    int up = -1;
    if (frame &&
        meshq_codec_decode_args (zframe_data (frame), zframe_size (frame),
                                 &status, NULL) == 0)
        up = (int)status.peers;
    zmsg_destroy (&reply);
    return up;
}

static void
s_wait_mesh (int seconds)
{
    int64_t deadline = zclock_mono () + seconds * 1000;
    for (int i = 0; i < S_NODES; i++)
        while (s_peers_up (i) < S_NODES - 1) {
            cr_assert_lt (zclock_mono (), deadline, "%s never saw its %d peers",
                          s_nodes[i].name, S_NODES - 1);
            zclock_sleep (50);
        }
}

//  Ready plus unacked of the queue on node i's own agent; -1 if it does
//  not answer.
static int64_t
s_held (int i)
{
    zmsg_t *reply;
    zframe_t *frame = s_ask (i, "LIST_QUEUES", &reply);
    uint64_t rid;
    meshq_span_t cursor;
    uint32_t count;
    int64_t held = -1;
    if (frame &&
        meshq_codec_decode_list (zframe_data (frame), zframe_size (frame),
                                 "queues", &rid, &cursor, &count, NULL) == 0) {
        meshq_args_t row;
        held = 0;
        //  Rows of other nodes (their backlog as announced) are theirs
        //  to report.
        while (meshq_codec_list_next (&cursor, &row))
            if (row.name.size == strlen (s_nodes[i].name) &&
                memcmp (row.name.data, s_nodes[i].name, row.name.size) == 0)
                held += (int64_t)(row.messages + row.unacked);
    }
    zmsg_destroy (&reply);
    return held;
}

//  What the logs say.
typedef struct {
    uint64_t published;     //  Publish calls made.
    uint64_t confirmed;     //  Confirmed.
    uint64_t delivered;     //  Deliveries logged.
    uint64_t distinct;      //  Distinct messages delivered.
    uint64_t lost;          //  Confirmed, never delivered.
    uint64_t duplicates;    //  Deliveries beyond the first.
    uint64_t out_of_order;  //  First deliveries behind an earlier one.
} s_tally_t;

static void
s_tally (s_tally_t *tally)
{
    memset (tally, 0, sizeof *tally);
    uint8_t *confirmed = calloc (S_PRODUCERS * (size_t)S_MAX_SEQ, 1);
    uint16_t *seen = calloc (S_PRODUCERS * (size_t)S_MAX_SEQ, sizeof *seen);
    char path[300], line[128];
    for (int p = 0; p < S_PRODUCERS; p++) {
        snprintf (path, sizeof path, "%s/p%d.out", s_dir, p + 1);
        FILE *file = fopen (path, "r");
        cr_assert_not_null (file, "no producer log %s", path);
        unsigned long long n;
        while (fgets (line, sizeof line, file)) {
            if (sscanf (line, "C %llu", &n) == 1 && n < S_MAX_SEQ) {
                confirmed[p * (size_t)S_MAX_SEQ + n] = 1;
                tally->confirmed++;
            } else if (sscanf (line, "P %llu", &n) == 1)
                tally->published += n;
        }
        fclose (file);
    }
    for (int c = 0; c < S_NODES; c++) {
        snprintf (path, sizeof path, "%s/c%d.out", s_dir, c + 1);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        uint64_t last[S_PRODUCERS] = {0};
        int p, redelivered;
        unsigned long long n;
        while (fgets (line, sizeof line, file)) {
            if (line[0] == 'S') {
                memset (last, 0, sizeof last);  //  A new subscription.
                continue;
            }
            if (sscanf (line, "D P%d %llu %d", &p, &n, &redelivered) != 3 ||
                p < 1 || p > S_PRODUCERS || n >= S_MAX_SEQ)
                continue;
            p--;
            tally->delivered++;
            uint16_t *count = &seen[p * (size_t)S_MAX_SEQ + n];
            if (*count)
                tally->duplicates++;
            else
                tally->distinct++;
            if (*count < UINT16_MAX)
                (*count)++;
            if (!redelivered) {
                if (n < last[p])
                    tally->out_of_order++;
                last[p] = n;
            }
        }
        fclose (file);
    }
    for (size_t i = 0; i < S_PRODUCERS * (size_t)S_MAX_SEQ; i++)
        if (confirmed[i] && !seen[i]) {
            if (tally->lost < 10)
                fprintf (stderr, "chaos: lost P%zu:%zu\n", i / S_MAX_SEQ + 1,
                         i % S_MAX_SEQ);
            tally->lost++;
        }
    free (confirmed);
    free (seen);
}

static void
s_chaos (const char *variant)
{
    int seconds = getenv ("MESHQ_CHAOS_SECONDS")
                      ? atoi (getenv ("MESHQ_CHAOS_SECONDS"))
                      : 20;
    uint64_t rng = testutil_seed (variant);
    for (int i = 0; i < S_NODES; i++) {
        procutil_node_init (&s_nodes[i], s_dir, i,
                            s_tag ? 5690 : procutil_free_port ());
    }
    for (int i = 0; i < S_NODES; i++)
        s_start_agent (i);
    s_wait_mesh (20);
    //  The queue, declared on one node, known on all.
    meshq_client_t *client = meshq_client_new ();
    cr_assert_eq (meshq_client_connect (client, s_nodes[0].control), 0);
    cr_assert_eq (meshq_client_declare_queue (client, S_QUEUE, NULL), 0);
    meshq_client_destroy (&client);
    for (int i = 0; i < S_NODES; i++)
        s_start_consumer (i);
    for (int p = 0; p < S_PRODUCERS; p++) {
        char log[300], name[8], duration[16], rate[16];
        snprintf (log, sizeof log, "%s/p%d.out", s_dir, p + 1);
        snprintf (name, sizeof name, "P%d", p + 1);
        snprintf (duration, sizeof duration, "%d", seconds);
        snprintf (rate, sizeof rate, "%d", S_RATE);
        char *argv[] = {S_CLIENT, "produce", s_nodes[p].control,
                        S_QUEUE,  name,      duration,
                        rate,     log,       NULL};
        s_producers[p] = procutil_spawn (argv, NULL);
    }

    //  Faults, one at a time, until the producers' time is up.
    int agent_kills = 0, consumer_kills = 0, cuts = 0;
    int64_t end = zclock_mono () + (int64_t)seconds * 1000;
    while (zclock_mono () < end) {
        zclock_sleep (300 + (int)(testutil_random (&rng) % 1200));
        int i = (int)(testutil_random (&rng) % S_NODES);
        int kind = (int)(testutil_random (&rng) % (s_tag ? 3 : 2));
        int down_ms = 200 + (int)(testutil_random (&rng) % 1500);
        if (kind == 0) {
            procutil_kill (s_nodes[i].pid, SIGKILL);
            s_nodes[i].pid = 0;
            zclock_sleep (down_ms);
            s_start_agent (i);
            agent_kills++;
        } else if (kind == 1) {
            procutil_kill (s_consumers[i], SIGKILL);
            s_consumers[i] = 0;
            zclock_sleep (down_ms / 4);
            s_start_consumer (i);
            consumer_kills++;
        } else {
            s_run ("ip -n %s-n%d link set mq0 down", s_tag, i + 1);
            s_cut[i] = true;
            zclock_sleep (down_ms + 1000);  //  Long enough to be noticed.
            s_run ("ip -n %s-n%d link set mq0 up", s_tag, i + 1);
            s_cut[i] = false;
            cuts++;
        }
    }
    //  Healed: every agent and consumer runs, every link is up. The
    //  producers finish; the consumers drain every agent.
    for (int p = 0; p < S_PRODUCERS; p++) {
        int64_t deadline = zclock_mono () + 30000;
        while (waitpid (s_producers[p], NULL, WNOHANG) == 0 &&
               zclock_mono () < deadline)
            zclock_sleep (50);
        cr_assert_lt (zclock_mono (), deadline, "producer %d never ended",
                      p + 1);
        s_producers[p] = 0;
    }
    s_wait_mesh (30);
    int64_t deadline = zclock_mono () + 120000;
    int quiet = 0;
    while (quiet < 10 && zclock_mono () < deadline) {
        int64_t held = 0;
        for (int i = 0; i < S_NODES; i++) {
            int64_t h = s_held (i);
            held += h < 0 ? 1 : h;
        }
        quiet = held == 0 ? quiet + 1 : 0;
        zclock_sleep (200);
    }
    for (int i = 0; i < S_NODES; i++) {
        procutil_kill (s_consumers[i], SIGTERM);
        s_consumers[i] = 0;
    }
    s_tally_t tally;
    s_tally (&tally);
    fprintf (stderr,
             "\n%s: %d s of faults, 3 agents, 2 producers, 3 consumers\n"
             "| published | confirmed | delivered | distinct | lost | "
             "duplicates | out of order | agents killed | consumers killed "
             "| links cut |\n"
             "|---|---|---|---|---|---|---|---|---|---|\n"
             "| %llu | %llu | %llu | %llu | %llu | %llu | %llu | %d | %d | "
             "%d |\n\n",
             variant, seconds, (unsigned long long)tally.published,
             (unsigned long long)tally.confirmed,
             (unsigned long long)tally.delivered,
             (unsigned long long)tally.distinct, (unsigned long long)tally.lost,
             (unsigned long long)tally.duplicates,
             (unsigned long long)tally.out_of_order, agent_kills,
             consumer_kills, cuts);
    cr_expect_lt (zclock_mono (), deadline,
                  "the agents still held messages after 120 s of draining");
    cr_expect_gt (tally.confirmed, 0);
    cr_expect_eq (tally.lost, 0, "%llu confirmed messages lost",
                  (unsigned long long)tally.lost);
    cr_expect_eq (tally.out_of_order, 0, "%llu first deliveries out of order",
                  (unsigned long long)tally.out_of_order);
    cr_expect_gt (agent_kills + consumer_kills + cuts, 0);
}

Test (chaos, loopback)
{
    s_chaos ("chaos/loopback");
}

Test (chaos, namespaces)
{
    s_tag = getenv ("MESHQ_NETNS");
    s_net = getenv ("MESHQ_NETNS_NET");
    if (getuid () != 0)
        cr_skip_test ("network namespaces need root: run the suite as root "
                      "to include this test");
    if (!s_tag || !s_net)
        cr_skip_test ("no namespaces: run it through ctest, where "
                      "tests/system/netns.sh makes them");
    s_chaos ("chaos/namespaces");
}

// --------------------------------------------------------------------
//  A queue's dedup window: what a killed peer held waits for it

//  Starts n1 and n2 of this suite's nodes on loopback, declares a queue
//  with a dedup window of window_ms at n1, and has a client of n2 take
//  five messages published at n1 without acking them. Returns n1's
//  client.
static meshq_client_t *
s_lend_five (int window_ms, meshq_client_t **b_p)
{
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
