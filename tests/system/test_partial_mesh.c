/*  test_partial_mesh.c - a mesh larger than full_links: each agent
    links to an overlay of the others, not to all, and still every agent
    knows every member (and lists it, linked or not), every declaration
    reaches every agent, and a
    queue's confirmed messages reach its consumer on an agent that had
    no link to the publisher's.

    Ten agents with --full-links 2 stand for a mesh of hundreds (the
    default is 32), seeded with the first agent's port, without beacons.
*/
#include "clientutil.h"
#include "procutil.h"
#include "testutil.h"

#define S_NODES    10
#define S_MESSAGES 200

static char s_dir[64], s_mesh[64];
static procutil_node_t s_nodes[S_NODES];

static void
s_teardown (void)
{
    for (int i = 0; i < S_NODES; i++)
        if (s_nodes[i].pid > 0)
            procutil_kill (s_nodes[i].pid, SIGKILL);
    procutil_rmdir (s_dir);
}

TestSuite (partial_mesh, .fini = s_teardown, .timeout = 180);

//  Whether the agent of client has a link up to the agent named name.
static bool
s_linked (meshq_client_t *client, const char *name)
{
    return clientutil_peers_in (client, name, "up", NULL) > 0;
}

//  Rows of the agent's list_peers for other agents alive: up as a link,
//  or alive in the membership with no link.
static int
s_listed_alive (meshq_client_t *client)
{
    return clientutil_peers_in (client, NULL, "up", "alive");
}

//  Members alive that the agent of client counts.
static uint64_t
s_members (meshq_client_t *client)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    uint64_t members = status.members;
    zmsg_destroy (&reply);
    return members;
}

Test (partial_mesh, messages_reach_a_consumer_with_no_link_to_the_publisher)
{
    procutil_mesh_dir ("partial", s_dir, sizeof s_dir, s_mesh, sizeof s_mesh);
    for (int i = 0; i < S_NODES; i++)
        procutil_node_init (&s_nodes[i], s_dir, i, testutil_free_port ());
    const char *extra[] = {"--no-beacon",
                           "--full-links",
                           "2",
                           "--http",
                           "",
                           "--metrics",
                           "",
                           "--amqp",
                           "",
                           NULL};
    meshq_client_t *clients[S_NODES];
    for (int i = 0; i < S_NODES; i++) {
        char seeds[64];
        snprintf (seeds, sizeof seeds, "tcp://127.0.0.1:%d",
                  s_nodes[i ? 0 : 1].port);
        procutil_node_start (&s_nodes[i], s_dir, s_mesh, seeds, NULL, extra);
        clients[i] = procutil_client (s_nodes[i].control, 5000);
    }
    //  Every agent counts every other as a member.
    int64_t deadline = zclock_mono () + 30000;
    for (int i = 0; i < S_NODES; i++) {
        while (s_members (clients[i]) != S_NODES - 1 &&
               zclock_mono () < deadline)
            zclock_sleep (100);
        cr_assert_eq (s_members (clients[i]), S_NODES - 1,
                      "%s counts %llu members", s_nodes[i].name,
                      (unsigned long long)s_members (clients[i]));
    }
    //  Links settle (each agent's overlay comes with its first scans);
    //  then a publisher and a consumer with no link between them.
    zclock_sleep (2000);
    int publisher = -1, consumer = -1, links = 0;
    for (int i = 0; i < S_NODES; i++)
        for (int j = 0; j < S_NODES; j++) {
            if (i == j)
                continue;
            if (s_linked (clients[i], s_nodes[j].name))
                links++;
            else if (publisher < 0 && i != 0 && j != 0) {
                consumer = i;
                publisher = j;
            }
        }
    fprintf (stderr,
             "partial mesh: %d of %d links up; publisher %s, "
             "consumer %s\n",
             links, S_NODES * (S_NODES - 1),
             publisher >= 0 ? s_nodes[publisher].name : "-",
             consumer >= 0 ? s_nodes[consumer].name : "-");
    cr_assert_lt (links, S_NODES * (S_NODES - 1),
                  "every agent linked to every other");
    cr_assert_geq (publisher, 0, "no pair without a link but the seed's");
    //  Every agent lists every other, linked or not.
    for (int i = 0; i < S_NODES; i++)
        cr_expect_eq (s_listed_alive (clients[i]), S_NODES - 1,
                      "%s lists %d agents alive", s_nodes[i].name,
                      s_listed_alive (clients[i]));
    //  A declaration on the publisher's agent reaches every agent.
    meshq_client_t *producer = clients[publisher];
    cr_assert_eq (meshq_client_declare_queue (producer, "work", NULL), 0);
    meshq_args_t row;
    deadline = zclock_mono () + 20000;
    for (int i = 0; i < S_NODES; i++) {
        while (!clientutil_queue (clients[i], "work", &row) &&
               zclock_mono () < deadline)
            zclock_sleep (100);
        cr_assert (clientutil_queue (clients[i], "work", &row),
                   "the queue never reached %s", s_nodes[i].name);
    }
    //  Confirmed messages published there all reach the consumer.
    meshq_client_t *taker = clients[consumer];
    cr_assert_eq (meshq_client_consume (taker, "work", 50, NULL, 0), 0);
    cr_assert_eq (meshq_client_set_confirms (producer, S_MESSAGES), 0);
    for (int i = 0; i < S_MESSAGES; i++) {
        char body[16];
        int size = snprintf (body, sizeof body, "%d", i);
        cr_assert_eq (meshq_client_publish_body (producer, "", "work", body,
                                                 (size_t)size),
                      0);
    }
    cr_assert_eq (meshq_client_wait_for_confirms (producer, 10000), 0);
    char seen[S_MESSAGES] = {0};
    int received = 0, duplicates = 0;
    deadline = zclock_mono () + 30000;
    while (received < S_MESSAGES && zclock_mono () < deadline) {
        meshq_delivery_t *delivery;
        if (meshq_client_recv (taker, 500, &delivery))
            continue;
        size_t size;
        const char *body = meshq_msg_body (delivery->msg, &size);
        char text[16];
        snprintf (text, sizeof text, "%.*s", (int)size, body);
        int n = atoi (text);
        cr_assert (n >= 0 && n < S_MESSAGES, "body %s", text);
        if (seen[n])
            duplicates++;
        else
            received++;
        seen[n] = 1;
        meshq_client_ack (taker, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    cr_expect_eq (received, S_MESSAGES, "%d of %d confirmed messages arrived",
                  received, S_MESSAGES);
    cr_expect_eq (duplicates, 0);
    //  The consumer's agent now has a link to the publisher's.
    cr_expect (s_linked (taker, s_nodes[publisher].name));
    for (int i = 0; i < S_NODES; i++)
        meshq_client_destroy (&clients[i]);
}
