/*  test_mesh.c - agents of one mesh, in one process on loopback: a
    queue's messages reach consumers on other agents by credit, no
    consumer holds more than its prefetch, declarations made anywhere
    hold everywhere, and a peer that leaves gives back what it held.
*/
#include "agentutil.h"
#include "args.h"
#include "client_internal.h"
#include "codec_args.h"
#include "clientutil.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <czmq.h>

#define S_NODES 3

static agentutil_t s_nodes[S_NODES];
static char s_mesh[64];

//  Starts agent i (its directory and name made on first use) in this
//  test's mesh, with options, NULL-terminated pairs of key and value
//  (or NULL).
static void
s_start_with (int i, const char *const *options)
{
    const char *all[16] = {"mesh", s_mesh};
    int count = 2;
    for (int k = 0; options && options[k]; k++) {
        cr_assert_lt (count, 15);
        all[count++] = options[k];
    }
    all[count] = NULL;
    char name[2] = {(char)('a' + i), 0};
    agentutil_start_with (&s_nodes[i], name, all);
}

static void
s_start (int i)
{
    s_start_with (i, NULL);
}

//  Starts agent i with no beacons: it finds the others through seeds,
//  the ports in ports.
static void
s_start_seeded (int i, const int *ports, int count)
{
    char port[16], seeds[512] = "";
    snprintf (port, sizeof port, "%d", ports[i]);
    for (int j = 0; j < count; j++)
        if (j != i)
            snprintf (seeds + strlen (seeds), sizeof seeds - strlen (seeds),
                      "%stcp://127.0.0.1:%d", *seeds ? "," : "", ports[j]);
    const char *options[] = {"no_beacon", "true", "port", port,
                             "seeds",     seeds,  NULL};
    s_start_with (i, options);
}

static void
s_setup (void)
{
    //  A mesh of this test's own: parallel suites never join it.
    snprintf (s_mesh, sizeof s_mesh, "test-%d-%d", (int)getpid (),
              (int)(zclock_usecs () % 100000));
    memset (s_nodes, 0, sizeof s_nodes);
}

static void
s_teardown (void)
{
    for (int i = 0; i < S_NODES; i++)
        if (*s_nodes[i].dir)
            agentutil_finish (&s_nodes[i]);
}

TestSuite (mesh, .init = s_setup, .fini = s_teardown, .timeout = 60);

static meshq_client_t *
s_client (int i)
{
    return agentutil_connect (s_nodes[i].agent);
}

//  Receives count messages at client, waiting up to ms for each, and
//  acks them; what names them in a failure.
static void
s_recv_ack (meshq_client_t *client, int count, int ms, const char *what)
{
    for (int i = 0; i < count; i++) {
        meshq_delivery_t *delivery = NULL;
        cr_assert_eq (meshq_client_recv (client, ms, &delivery), 0,
                      "%s: message %d of %d did not come", what, i + 1, count);
        meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
}

//  Starts agents A and B, connects a client to each, and waits until
//  they see each other.
static void
s_start_pair (meshq_client_t **a_p, meshq_client_t **b_p)
{
    s_start (0);
    s_start (1);
    *a_p = s_client (0);
    *b_p = s_client (1);
    clientutil_wait_peers (*a_p, 1);
}

//  Waits until a passive declare of queue succeeds on client's agent.
static void
s_wait_queue (meshq_client_t *client, const char *queue)
{
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.passive = true;
    int64_t deadline = zclock_mono () + 10000;
    int rc;
    while ((rc = meshq_client_declare_queue (client, queue, &options)) &&
           zclock_mono () < deadline)
        meshq_client_dispatch (client, 20);
    cr_assert_eq (rc, 0, "queue '%s' never reached this agent", queue);
}

//  The ready and unacked counts of queue on client's agent.
static void
s_depth (meshq_client_t *client, const char *queue, uint64_t *ready,
         uint64_t *unacked)
{
    meshq_args_t row;
    bool found = clientutil_queue (client, queue, &row);
    *ready = found ? row.messages : UINT64_MAX;
    *unacked = found ? row.unacked : UINT64_MAX;
}

static void
s_publish (meshq_client_t *client, const char *queue, int count)
{
    meshq_client_set_confirms (client, 1000);
    char body[32];
    for (int i = 0; i < count; i++) {
        snprintf (body, sizeof body, "%d", i);
        cr_assert_eq (
            meshq_client_publish_body (client, "", queue, body, strlen (body)),
            0);
    }
    cr_assert_eq (meshq_client_wait_for_confirms (client, 10000), 0, "%s",
                  meshq_client_error (client));
}

//  The node id of client's agent, from STATUS.
static void
s_node_id (meshq_client_t *client, uint8_t id[16])
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    cr_assert_eq (status.node.size, 32);
    for (int i = 0; i < 16; i++) {
        unsigned byte;
        cr_assert_eq (sscanf (status.node.data + 2 * i, "%2x", &byte), 1);
        id[i] = (uint8_t)byte;
    }
    zmsg_destroy (&reply);
}

Test (mesh, status_shows_the_membership)
{
    //  A pair: each has the other in its membership, unsuspected, and
    //  is healthy itself (the counts are refreshed every heartbeat). A
    //  machine busy with other tests may starve the pair for a moment
    //  as it starts (a probe missed: a suspicion refuted, the health
    //  raised and lowered again), so the pair is given time to settle,
    //  and must.
    meshq_client_t *a, *b;
    s_start_pair (&a, &b);
    meshq_args_t status;
    zmsg_t *reply = NULL;
    int64_t deadline = zclock_mono () + 10000;
    do {
        zmsg_destroy (&reply);
        meshq_client_dispatch (a, 20);
        clientutil_status (a, &status, &reply);
    } while ((status.members != 1 || status.suspects || status.health != 1) &&
             zclock_mono () < deadline);
    cr_expect_eq (status.members, 1);
    cr_expect_eq (status.suspects, 0);
    cr_expect_eq (status.health, 1);
    //  What the membership could not hold: nothing, in a pair, but
    //  said.
    cr_expect (MESHQ_ARGS_HAS (&status, MEMBERS_FULL));
    cr_expect (MESHQ_ARGS_HAS (&status, GOSSIP_DROPPED));
    cr_expect_eq (status.members_full, 0);
    cr_expect_eq (status.gossip_dropped, 0);
    zmsg_destroy (&reply);
}

//  The one peer client's agent lists: its state, its membership state
//  (both as text) and their incarnations. False if none is listed.
typedef struct {
    char state[16];               //  Of its link.
    char member[16];              //  In the membership.
    uint64_t incarnation;         //  Of its link.
    uint64_t member_incarnation;  //  In the membership.
    bool has_version;             //  Its refutations are listed.
} s_peer_row_t;

static bool
s_peer_row (meshq_client_t *client, s_peer_row_t *peer)
{
    zmsg_t *reply;
    meshq_span_t cursor =
        clientutil_list (client, "LIST_PEERS", "peers", &reply);
    meshq_args_t row;
    bool found = meshq_codec_list_next (&cursor, &row);
    if (found) {
        snprintf (peer->state, sizeof peer->state, "%.*s", (int)row.state.size,
                  row.state.data);
        snprintf (peer->member, sizeof peer->member, "%.*s",
                  (int)row.member.size, row.member.data);
        peer->incarnation = row.incarnation;
        peer->member_incarnation = row.member_incarnation;
        peer->has_version = MESHQ_ARGS_HAS (&row, MEMBER_VERSION);
    }
    zmsg_destroy (&reply);
    return found;
}

//  Waits until client's agent lists its peer with that link state and
//  membership state.
static void
s_wait_member (meshq_client_t *client, const char *state, const char *member,
               s_peer_row_t *peer)
{
    int64_t deadline = zclock_mono () + 10000;
    memset (peer, 0, sizeof *peer);
    while (!(s_peer_row (client, peer) && streq (peer->state, state) &&
             streq (peer->member, member)) &&
           zclock_mono () < deadline)
        meshq_client_dispatch (client, 20);
    cr_assert_str_eq (peer->state, state);
    cr_assert_str_eq (peer->member, member);
}

Test (mesh, list_peers_shows_the_membership)
{
    //  Up on its link, alive in the membership, in the same start, with
    //  its version (how often it refuted a suspicion, which a busy host
    //  may make it do).
    meshq_client_t *a, *b;
    s_start_pair (&a, &b);
    s_peer_row_t peer;
    s_wait_member (a, "up", "alive", &peer);
    cr_expect_neq (peer.member_incarnation, 0);
    cr_expect_eq (peer.member_incarnation, peer.incarnation);
    cr_expect (peer.has_version);
    //  B stops and says so: its link goes down, and the membership
    //  keeps it as left (for a while, then forgets it).
    meshq_client_destroy (&b);
    agentutil_stop (&s_nodes[1]);
    s_wait_member (a, "down", "left", &peer);
    cr_expect_eq (peer.member_incarnation, peer.incarnation);
}

Test (mesh, a_consumer_on_another_agent_gets_and_acks_everything)
{
    meshq_client_t *a, *b;
    s_start_pair (&a, &b);
    uint8_t a_id[16];
    s_node_id (a, a_id);
    cr_assert_eq (meshq_client_declare_queue (a, "jobs", NULL), 0);
    s_wait_queue (b, "jobs");
    cr_assert_eq (meshq_client_consume (b, "jobs", 20, NULL, 0), 0);
    s_publish (a, "jobs", 500);
    //  In order, as published (one origin, one consumer).
    for (int i = 0; i < 500; i++) {
        meshq_delivery_t *delivery = NULL;
        cr_assert_eq (meshq_client_recv (b, 5000, &delivery), 0,
                      "message %d did not arrive", i);
        size_t size;
        const char *body = meshq_msg_body (delivery->msg, &size);
        char expected[32];
        snprintf (expected, sizeof expected, "%d", i);
        cr_assert (size == strlen (expected) &&
                       memcmp (body, expected, size) == 0,
                   "message %d out of order", i);
        uint8_t origin[16];
        cr_assert (meshq_msg_id (delivery->msg, origin, NULL));
        cr_assert (memcmp (origin, a_id, 16) == 0,
                   "message %d does not name its origin", i);
        meshq_client_ack (b, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    //  The acks reach the origin: nothing is left there.
    uint64_t ready = 1, unacked = 1;
    int64_t deadline = zclock_mono () + 5000;
    while ((ready || unacked) && zclock_mono () < deadline) {
        meshq_client_dispatch (b, 10);
        s_depth (a, "jobs", &ready, &unacked);
    }
    cr_expect_eq (ready, 0);
    cr_expect_eq (unacked, 0, "acks from the other agent settled them");
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}

Test (mesh, prefetch_holds_across_agents)
{
    meshq_client_t *a, *b;
    s_start_pair (&a, &b);
    cr_assert_eq (meshq_client_declare_queue (a, "slow", NULL), 0);
    s_wait_queue (b, "slow");
    s_publish (a, "slow", 50);
    cr_assert_eq (meshq_client_consume (b, "slow", 5, NULL, 0), 0);
    meshq_delivery_t *held[5];
    for (int i = 0; i < 5; i++) {
        held[i] = NULL;
        cr_assert_eq (meshq_client_recv (b, 5000, &held[i]), 0);
    }
    meshq_delivery_t *extra = NULL;
    cr_expect_eq (meshq_client_recv (b, 300, &extra), MESHQ_ETIMEOUT,
                  "a sixth delivery to a consumer with prefetch 5");
    meshq_delivery_destroy (&extra);
    //  Five at the consumer, and as many read ahead by its agent.
    uint64_t ready, unacked;
    s_depth (a, "slow", &ready, &unacked);
    cr_expect_eq (unacked, 10, "the origin has ten in flight");
    cr_expect_eq (ready, 40);
    for (int i = 0; i < 5; i++) {
        meshq_client_ack (b, held[i]->delivery_tag, false);
        meshq_delivery_destroy (&held[i]);
    }
    //  Acks free credit: the rest come, five at a time at most.
    s_recv_ack (b, 45, 5000, "the rest, five at a time at most");
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}

Test (mesh, what_an_agent_read_ahead_goes_back_when_its_consumer_leaves)
{
    meshq_client_t *a, *b;
    s_start_pair (&a, &b);
    cr_assert_eq (meshq_client_declare_queue (a, "ahead", NULL), 0);
    s_wait_queue (b, "ahead");
    s_publish (a, "ahead", 50);
    cr_assert_eq (meshq_client_consume (b, "ahead", 5, NULL, 0), 0);
    meshq_delivery_t *first = NULL;
    cr_assert_eq (meshq_client_recv (b, 5000, &first), 0);
    uint64_t ready = 0, unacked = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (unacked < 10 && zclock_mono () < deadline)
        s_depth (a, "ahead", &ready, &unacked);
    cr_assert_eq (unacked, 10, "five at the consumer, five read ahead");
    meshq_delivery_destroy (&first);
    //  The consumer goes without acking: its five and the five its agent
    //  held all return to the origin, none lost, none left behind.
    meshq_client_destroy (&b);
    deadline = zclock_mono () + 5000;
    while ((ready != 50 || unacked) && zclock_mono () < deadline)
        s_depth (a, "ahead", &ready, &unacked);
    cr_expect_eq (ready, 50);
    cr_expect_eq (unacked, 0);
    meshq_client_destroy (&a);
}

Test (mesh, an_agent_reads_nothing_ahead_when_told_not_to)
{
    s_start (0);
    const char *options[] = {"read_ahead", "0", NULL};
    s_start_with (1, options);
    meshq_client_t *a = s_client (0), *b = s_client (1);
    clientutil_wait_peers (a, 1);
    cr_assert_eq (meshq_client_declare_queue (a, "strict", NULL), 0);
    s_wait_queue (b, "strict");
    s_publish (a, "strict", 20);
    cr_assert_eq (meshq_client_consume (b, "strict", 5, NULL, 0), 0);
    meshq_delivery_t *held[5];
    for (int i = 0; i < 5; i++)
        cr_assert_eq (meshq_client_recv (b, 5000, &held[i]), 0);
    meshq_delivery_t *extra = NULL;
    cr_expect_eq (meshq_client_recv (b, 300, &extra), MESHQ_ETIMEOUT);
    meshq_delivery_destroy (&extra);
    uint64_t ready, unacked;
    s_depth (a, "strict", &ready, &unacked);
    cr_expect_eq (unacked, 5, "only what the consumer holds is in flight");
    cr_expect_eq (ready, 15);
    for (int i = 0; i < 5; i++)
        meshq_delivery_destroy (&held[i]);
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}

Test (mesh, declarations_made_anywhere_hold_everywhere)
{
    meshq_client_t *a, *b;
    s_start_pair (&a, &b);
    //  Exchange, queue and binding declared on B; a publish on A routes
    //  through them.
    cr_assert_eq (meshq_client_declare_exchange (b, "logs", "topic", true), 0);
    cr_assert_eq (meshq_client_declare_queue (b, "kern", NULL), 0);
    cr_assert_eq (meshq_client_bind_queue (b, "kern", "logs", "kern.*", NULL),
                  0);
    s_wait_queue (a, "kern");
    //  The binding may trail the queue by a frame: publish until routed.
    meshq_client_set_confirms (a, 10);
    meshq_delivery_t *delivery = NULL;
    int64_t deadline = zclock_mono () + 5000;
    while (!delivery && zclock_mono () < deadline) {
        meshq_client_publish_body (a, "logs", "kern.critical", "disk", 4);
        cr_assert_eq (meshq_client_wait_for_confirms (a, 5000), 0);
        cr_assert_eq (meshq_client_get (a, "kern", true, &delivery), 0);
    }
    cr_assert_not_null (delivery, "routed on A by a binding made on B");
    meshq_delivery_destroy (&delivery);
    //  A redeclaration with other arguments is refused, naming both.
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.max_length = 7;
    cr_expect_eq (meshq_client_declare_queue (a, "kern", &options),
                  MESHQ_EPRECONDITION);
    cr_expect (strstr (meshq_client_error (a), "max_length=-1; you asked "
                                               "for 7"),
               "%s", meshq_client_error (a));
    //  A node that joins late learns it all.
    s_start (2);
    meshq_client_t *c = s_client (2);
    s_wait_queue (c, "kern");
    options.max_length = -1;
    options.passive = false;
    cr_expect_eq (meshq_client_declare_exchange (c, "logs", "topic", true), 0);
    cr_expect_eq (meshq_client_declare_exchange (c, "logs", "fanout", true),
                  MESHQ_EPRECONDITION);
    //  A deletion reaches everyone too.
    cr_assert_eq (meshq_client_delete_queue (b, "kern", false, false, NULL), 0);
    options.passive = true;
    deadline = zclock_mono () + 5000;
    int rc = 0;
    while ((rc = meshq_client_declare_queue (c, "kern", &options)) == 0 &&
           zclock_mono () < deadline)
        meshq_client_dispatch (c, 20);
    cr_expect_eq (rc, MESHQ_ENOTFOUND);
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
    meshq_client_destroy (&c);
}

Test (mesh, a_peer_that_leaves_gives_back_what_it_held)
{
    meshq_client_t *a, *b;
    s_start_pair (&a, &b);
    cr_assert_eq (meshq_client_declare_queue (a, "held", NULL), 0);
    s_wait_queue (b, "held");
    s_publish (a, "held", 4);
    cr_assert_eq (meshq_client_consume (b, "held", 10, NULL, 0), 0);
    for (int i = 0; i < 4; i++) {
        meshq_delivery_t *delivery = NULL;
        cr_assert_eq (meshq_client_recv (b, 5000, &delivery), 0);
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&b);
    meshq_agent_destroy (&s_nodes[1].agent);
    //  Back on A, redelivered to a consumer there.
    cr_assert_eq (meshq_client_consume (a, "held", 10, NULL, 0), 0);
    for (int i = 0; i < 4; i++) {
        meshq_delivery_t *delivery = NULL;
        cr_assert_eq (meshq_client_recv (a, 10000, &delivery), 0,
                      "message %d of 4 not given back", i + 1);
        cr_expect (delivery->redelivered);
        meshq_client_ack (a, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&a);
}

Test (mesh, an_origin_that_restarts_delivers_its_backlog)
{
    meshq_client_t *a, *b;
    s_start_pair (&a, &b);
    cr_assert_eq (meshq_client_declare_queue (a, "later", NULL), 0);
    s_wait_queue (b, "later");
    s_publish (a, "later", 10);
    meshq_client_destroy (&a);
    meshq_agent_destroy (&s_nodes[0].agent);
    cr_assert_eq (meshq_client_consume (b, "later", 5, NULL, 0), 0);
    meshq_delivery_t *delivery = NULL;
    cr_expect_eq (meshq_client_recv (b, 300, &delivery), MESHQ_ETIMEOUT,
                  "the origin is down: its messages wait for it");
    s_start (0);
    s_recv_ack (b, 10, 10000, "after the origin came back");
    meshq_client_destroy (&b);
}

Test (mesh, consumers_on_every_agent_share_the_load)
{
    for (int i = 0; i < 3; i++)
        s_start (i);
    meshq_client_t *clients[3];
    for (int i = 0; i < 3; i++)
        clients[i] = s_client (i);
    clientutil_wait_peers (clients[0], 2);
    clientutil_wait_peers (clients[2], 2);
    cr_assert_eq (meshq_client_declare_queue (clients[0], "work", NULL), 0);
    for (int i = 1; i < 3; i++)
        s_wait_queue (clients[i], "work");
    for (int i = 0; i < 3; i++)
        cr_assert_eq (meshq_client_consume (clients[i], "work", 10, NULL, 0),
                      0);
    meshq_client_t *producer = s_client (0);
    s_publish (producer, "work", 300);
    int got[3] = {0};
    int total = 0;
    int64_t deadline = zclock_mono () + 20000;
    while (total < 300 && zclock_mono () < deadline)
        for (int i = 0; i < 3; i++) {
            meshq_delivery_t *delivery = NULL;
            if (meshq_client_recv (clients[i], 5, &delivery) == 0) {
                got[i]++;
                total++;
                meshq_client_ack (clients[i], delivery->delivery_tag, false);
                meshq_delivery_destroy (&delivery);
            }
        }
    cr_assert_eq (total, 300, "all 300 consumed once");
    for (int i = 0; i < 3; i++)
        cr_expect_gt (got[i], 0, "consumer %d got nothing (%d/%d/%d)", i,
                      got[0], got[1], got[2]);
    fprintf (stderr, "mesh: shares %d / %d / %d\n", got[0], got[1], got[2]);
    meshq_client_destroy (&producer);
    for (int i = 0; i < 3; i++)
        meshq_client_destroy (&clients[i]);
}

Test (mesh, acks_made_while_the_origin_was_down_reach_it_later)
{
    meshq_client_t *a, *b;
    s_start_pair (&a, &b);
    cr_assert_eq (meshq_client_declare_queue (a, "late", NULL), 0);
    s_wait_queue (b, "late");
    cr_assert_eq (meshq_client_consume (b, "late", 10, NULL, 0), 0);
    s_publish (a, "late", 10);
    meshq_delivery_t *held[10];
    for (int i = 0; i < 10; i++)
        cr_assert_eq (meshq_client_recv (b, 5000, &held[i]), 0);
    //  The origin goes; the work is done and acked meanwhile.
    meshq_client_destroy (&a);
    meshq_agent_destroy (&s_nodes[0].agent);
    clientutil_wait_peers (b, 0);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq (meshq_client_ack (b, held[i]->delivery_tag, false), 0);
        meshq_delivery_destroy (&held[i]);
    }
    meshq_client_dispatch (b, 50);
    //  Back, it learns of the acks and does not deliver those again.
    s_start (0);
    a = s_client (0);
    clientutil_wait_peers (b, 1);
    meshq_delivery_t *delivery = NULL;
    cr_expect_eq (meshq_client_recv (b, 1500, &delivery), MESHQ_ETIMEOUT,
                  "a message acked while its origin was down came again");
    meshq_delivery_destroy (&delivery);
    uint64_t ready = 1, unacked = 1;
    int64_t deadline = zclock_mono () + 5000;
    while ((ready || unacked) && zclock_mono () < deadline) {
        meshq_client_dispatch (a, 20);
        s_depth (a, "late", &ready, &unacked);
    }
    cr_expect (ready == 0 && unacked == 0,
               "the origin still holds %" PRIu64 " ready, %" PRIu64 " unacked",
               ready, unacked);
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}

//  Connects to agent i in vhost, trying until the agent knows the vhost
//  and guest's rights in it (they come by gossip).
static meshq_client_t *
s_client_in (int i, const char *vhost)
{
    int64_t deadline = zclock_mono () + 10000;
    while (true) {
        meshq_client_t *client = meshq_client_new ();
        meshq_client_set_timeout (client, 5000);
        meshq_client_set_vhost (client, vhost);
        int rc = meshq_client_connect (client,
                                       meshq_agent_endpoint (s_nodes[i].agent));
        if (rc == 0)
            return client;
        cr_assert_lt (zclock_mono (), deadline, "vhost %s on agent %d: %s",
                      vhost, i, meshq_client_error (client));
        meshq_client_destroy (&client);
        zclock_sleep (20);
    }
}

Test (mesh, the_agents_of_a_vhost_meet_without_beacons)
{
    //  Seeds name the agents' default-vhost endpoints; the agents of
    //  another vhost, on ports of their own, learn of each other
    //  through the default vhost's mesh, whether the vhost is added
    //  while it is up or an agent restarts with it. Its name is as long
    //  as AMQP allows: its records go under hashed keys.
    char blue[256];
    memset (blue, 'b', 255);
    blue[255] = 0;
    int ports[2] = {testutil_free_port (), testutil_free_port ()};
    s_start_seeded (0, ports, 2);
    s_start_seeded (1, ports, 2);
    meshq_client_t *a = s_client (0);
    clientutil_wait_peers (a, 1);
    clientutil_vhost_for (a, blue, "guest");
    meshq_client_t *a_blue = s_client_in (0, blue);
    meshq_client_t *b_blue = s_client_in (1, blue);
    clientutil_wait_peers (a_blue, 1);
    clientutil_wait_peers (b_blue, 1);
    cr_assert_eq (meshq_client_declare_queue (a_blue, "jobs", NULL), 0);
    s_wait_queue (b_blue, "jobs");
    cr_assert_eq (meshq_client_consume (b_blue, "jobs", 10, NULL, 0), 0);
    s_publish (a_blue, "jobs", 10);
    s_recv_ack (b_blue, 10, 5000, "across a vhost of a long name");
    meshq_client_destroy (&b_blue);
    meshq_agent_destroy (&s_nodes[1].agent);
    clientutil_wait_peers (a_blue, 0);
    s_start_seeded (1, ports, 2);
    b_blue = s_client_in (1, blue);
    clientutil_wait_peers (a_blue, 1);
    clientutil_wait_peers (b_blue, 1);
    meshq_client_destroy (&a_blue);
    meshq_client_destroy (&b_blue);
    meshq_client_destroy (&a);
}

//  Binding rows of queue that client's agent knows.
static int
s_bindings_of (meshq_client_t *client, const char *queue)
{
    zmsg_t *reply;
    meshq_span_t cursor =
        clientutil_list (client, "LIST_BINDINGS", "bindings", &reply);
    int found = 0;
    meshq_args_t row;
    while (meshq_codec_list_next (&cursor, &row))
        found += row.queue.size == strlen (queue) &&
                 memcmp (row.queue.data, queue, row.queue.size) == 0;
    zmsg_destroy (&reply);
    return found;
}

//  What a passive declare of queue says on client's agent, once it
//  says something other than 'was'.
static int
s_wait_declare_not (meshq_client_t *client, const char *queue, int was)
{
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.passive = true;
    int64_t deadline = zclock_mono () + 10000;
    int rc;
    while ((rc = meshq_client_declare_queue (client, queue, &options)) == was &&
           zclock_mono () < deadline)
        meshq_client_dispatch (client, 20);
    return rc;
}

Test (mesh, an_exclusive_queue_hears_publishes_made_anywhere)
{
    meshq_client_t *a, *b;
    s_start_pair (&a, &b);
    cr_assert_eq (meshq_client_declare_exchange (a, "logs", "fanout", false),
                  0);
    //  A subscriber's private queue at B, as receive_logs makes it.
    int64_t deadline = zclock_mono () + 10000;
    int rc;
    while ((rc = meshq_client_declare_exchange (b, "logs", "fanout", false)) &&
           zclock_mono () < deadline)
        meshq_client_dispatch (b, 20);
    cr_assert_eq (rc, 0);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.durable = false;
    options.exclusive = true;
    cr_assert_eq (meshq_client_declare_queue (b, "mine", &options), 0);
    cr_assert_eq (meshq_client_bind_queue (b, "mine", "logs", "", NULL), 0);
    cr_assert_eq (meshq_client_consume (b, "mine", 10, NULL, 0), 0);
    //  A learns of it, and of its binding; its connections may not use it.
    cr_assert_eq (s_wait_declare_not (a, "mine", MESHQ_ENOTFOUND),
                  MESHQ_EACCESS);
    while (s_bindings_of (a, "mine") == 0 && zclock_mono () < deadline)
        meshq_client_dispatch (a, 20);
    cr_assert_eq (s_bindings_of (a, "mine"), 1);
    cr_expect_eq (meshq_client_consume (a, "mine", 10, NULL, 0), MESHQ_EACCESS);
    meshq_client_set_confirms (a, 10);
    for (int i = 0; i < 10; i++)
        meshq_client_publish_body (a, "logs", "", "line", 4);
    cr_assert_eq (meshq_client_wait_for_confirms (a, 5000), 0);
    s_recv_ack (b, 10, 5000, "lines published at A");
    //  Its connection goes: it goes everywhere.
    meshq_client_destroy (&b);
    cr_expect_eq (s_wait_declare_not (a, "mine", MESHQ_EACCESS),
                  MESHQ_ENOTFOUND);
    meshq_client_destroy (&a);
}

Test (mesh, an_exclusive_queue_goes_with_its_owners_agent)
{
    meshq_client_t *a, *b;
    s_start_pair (&a, &b);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.durable = false;
    options.exclusive = true;
    cr_assert_eq (meshq_client_declare_queue (b, "private", &options), 0);
    cr_assert_eq (s_wait_declare_not (a, "private", MESHQ_ENOTFOUND),
                  MESHQ_EACCESS);
    //  B stops (its client is left hanging): A forgets the queue once B is
    //  down.
    meshq_agent_destroy (&s_nodes[1].agent);
    cr_expect_eq (s_wait_declare_not (a, "private", MESHQ_EACCESS),
                  MESHQ_ENOTFOUND);
    meshq_client_destroy (&b);
    meshq_client_destroy (&a);
}
