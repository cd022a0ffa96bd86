/*  test_partial_mesh.c - a mesh larger than full_links: each agent
    links to an overlay of the others, not to all, and still every agent
    knows every member (and lists it, linked or not), every declaration
    reaches every agent, and a
    queue's confirmed messages reach its consumer on an agent that had
    no link to the publisher's. Links opened while the mesh was small
    (to the seed, say) close once idle, by agreement: what stays up is
    each agent's overlay, the members closed are still alive for all,
    and nothing links again.

    Ten agents with --full-links 2 stand for a mesh of hundreds (the
    default is 32), seeded with the first agent's port, without beacons.
    A second vhost, which runs no membership of its own and follows the
    default vhost's, carries messages between agents it had no link
    between as well.
*/
#include "clientutil.h"
#include "meshutil.h"
#include "procutil.h"
#include "testutil.h"

#define S_NODES    10
#define S_MESSAGES 200

//  Longer than an idle link lasts (15 s) and an ask's timeout.
#define S_IDLE_WAIT_MS 45000

static char s_dir[64], s_mesh[64];
static procutil_node_t s_nodes[S_NODES];

static void
s_teardown (void)
{
    meshutil_kill (s_nodes, S_NODES, SIGKILL);
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

//  Links of agent i up outside its overlay (with too, if not NULL, the
//  overlay members with no link up), from its list_peers rows.
static int
s_outside (meshq_client_t *client, char hex[][33], int i, int *missing)
{
    bool in[S_NODES];
    meshutil_overlay (hex, S_NODES, i, in);
    int outside = 0;
    for (int n = 0; n < S_NODES; n++) {
        if (n == i)
            continue;
        zmsg_t *reply;
        meshq_span_t cursor =
            clientutil_list (client, "LIST_PEERS", "peers", &reply);
        meshq_args_t row;
        bool up = false;
        while (meshq_codec_list_next (&cursor, &row))
            up |= clientutil_span_is (row.id, hex[n]) &&
                  clientutil_span_is (row.state, "up");
        zmsg_destroy (&reply);
        outside += up && !in[n];
        if (missing)
            *missing += !up && in[n];
    }
    return outside;
}

//  Rows of the agent's list_peers whose member is not alive.
static int
s_not_alive (meshq_client_t *client)
{
    zmsg_t *reply;
    meshq_span_t cursor =
        clientutil_list (client, "LIST_PEERS", "peers", &reply);
    meshq_args_t row;
    int count = 0;
    while (meshq_codec_list_next (&cursor, &row))
        count += !clientutil_span_is (row.member, "alive");
    zmsg_destroy (&reply);
    return count;
}

//  Lines of the file at path that hold text.
static int
s_lines_with (const char *path, const char *text)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line[4096];
    int count = 0;
    while (fgets (line, sizeof line, file))
        count += strstr (line, text) != NULL;
    fclose (file);
    return count;
}

static int
s_all_lines_with (const char *text)
{
    int count = 0;
    for (int i = 0; i < S_NODES; i++)
        count += s_lines_with (s_nodes[i].log, text);
    return count;
}

//  Starts the agents, a client to each in clients, and waits until
//  every agent counts every other as a member.
static void
s_start_all (meshq_client_t **clients)
{
    procutil_mesh_dir ("partial", s_dir, sizeof s_dir, s_mesh, sizeof s_mesh);
    for (int i = 0; i < S_NODES; i++)
        procutil_node_init (&s_nodes[i], s_dir, i, testutil_free_port ());
    for (int i = 0; i < S_NODES; i++) {
        meshutil_start_partial (&s_nodes[i], &s_nodes[i ? 0 : 1], s_dir, s_mesh,
                                NULL);
        clients[i] = procutil_client (s_nodes[i].control, 5000);
    }
    //  Every agent counts every other as a member.
    meshutil_wait_members (s_nodes, clients, S_NODES, S_NODES - 1);
}

Test (partial_mesh, messages_reach_a_consumer_with_no_link_to_the_publisher)
{
    meshq_client_t *clients[S_NODES];
    s_start_all (clients);
    //  Idle links outside the overlay close: the seed's, those of the
    //  first seconds. What stays is each agent's overlay, alike on both
    //  ends.
    int64_t deadline;
    char hex[S_NODES][33];
    for (int i = 0; i < S_NODES; i++)
        clientutil_node (clients[i], hex[i]);
    int outside = 0;
    deadline = zclock_mono () + S_IDLE_WAIT_MS;
    do {
        zclock_sleep (1000);
        outside = 0;
        for (int i = 0; i < S_NODES; i++)
            outside += s_outside (clients[i], hex, i, NULL);
    } while (outside && zclock_mono () < deadline);
    cr_assert_eq (outside, 0,
                  "%d links outside the overlays still up after %d s idle",
                  outside, S_IDLE_WAIT_MS / 1000);
    //  The overlay's links stay, the members closed are alive for all,
    //  and nothing links again: no peer up for a while, nobody left or
    //  declared dead.
    int ups = s_all_lines_with ("discovery: peer up");
    zclock_sleep (8000);
    int missing = 0;
    for (int i = 0; i < S_NODES; i++) {
        cr_expect_eq (s_outside (clients[i], hex, i, &missing), 0);
        cr_expect_eq (s_listed_alive (clients[i]), S_NODES - 1,
                      "%s lists %d agents alive", s_nodes[i].name,
                      s_listed_alive (clients[i]));
        cr_expect_eq (s_not_alive (clients[i]), 0,
                      "%s has %d members not alive", s_nodes[i].name,
                      s_not_alive (clients[i]));
    }
    cr_expect_eq (missing, 0, "%d overlay links not up", missing);
    cr_expect_eq (s_all_lines_with ("discovery: peer up"), ups,
                  "%d links came up again in an idle mesh",
                  s_all_lines_with ("discovery: peer up") - ups);
    //  An idle link closed is not a peer down: the member stays alive.
    cr_expect_gt (s_all_lines_with ("discovery: link closed"), 0);
    cr_expect_eq (s_all_lines_with ("peer down"), 0,
                  "%d peer down lines in an idle mesh",
                  s_all_lines_with ("peer down"));
    cr_expect_eq (s_all_lines_with ("reason=\"left\""), 0);
    cr_expect_eq (s_all_lines_with ("declared dead"), 0);
    cr_expect_eq (s_all_lines_with ("member dead"), 0);
    cr_expect_eq (s_all_lines_with ("member left"), 0);
    //  A publisher and a consumer with no link between them.
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
    meshutil_wait_queue (s_nodes, clients, S_NODES, "work");
    //  A mesh-wide list asked where the publisher's agent has no link
    //  counts its messages: the agents without a link are asked too.
    cr_assert_eq (meshq_client_declare_queue (producer, "listed", NULL), 0);
    cr_assert_eq (meshq_client_set_confirms (producer, 5), 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq (
            meshq_client_publish_body (producer, "", "listed", "x", 1), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (producer, 10000), 0);
    uint64_t listed = 0, agents = 0;
    cr_assert (clientutil_meshwide (clients[consumer], "listed", 15000, &listed,
                                    &agents),
               "no row for the queue");
    cr_expect_eq (listed, 5,
                  "%llu of 5 messages in the mesh-wide list of %s, which has "
                  "no link to %s",
                  (unsigned long long)listed, s_nodes[consumer].name,
                  s_nodes[publisher].name);
    cr_expect_eq (agents, S_NODES, "%llu agents answered",
                  (unsigned long long)agents);
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
    //  The publisher's agent wants that link for a minute after its
    //  backlog; past an idle, the consumer's may ask to close it and is
    //  refused. Nothing links again meanwhile: one side's want is no
    //  close and reopen loop.
    ups = s_all_lines_with ("discovery: peer up");
    zclock_sleep (20000);
    cr_expect_eq (s_all_lines_with ("discovery: peer up"), ups,
                  "%d links came up again after the messages",
                  s_all_lines_with ("discovery: peer up") - ups);
    cr_expect (s_linked (taker, s_nodes[publisher].name));
    for (int i = 0; i < S_NODES; i++)
        meshq_client_destroy (&clients[i]);
}

//  Connects to the agent at endpoint in vhost, trying until the agent
//  knows the vhost and guest's rights in it (they come as metadata).
static meshq_client_t *
s_client_in (const char *endpoint, const char *vhost)
{
    int64_t deadline = zclock_mono () + 20000;
    while (true) {
        meshq_client_t *client = meshq_client_new ();
        meshq_client_set_timeout (client, 5000);
        meshq_client_set_vhost (client, vhost);
        if (meshq_client_connect (client, endpoint) == 0)
            return client;
        cr_assert_lt (zclock_mono (), deadline, "vhost %s at %s: %s", vhost,
                      endpoint, meshq_client_error (client));
        meshq_client_destroy (&client);
        zclock_sleep (50);
    }
}

Test (partial_mesh, a_second_vhost_carries_messages_past_full_links)
{
    //  Only the default vhost runs the membership; blue follows it: it
    //  is partial when the default vhost is (consumer records, metadata
    //  passed on), its idle links past the overlay close, and a link it
    //  wants is wanted there, whose link then introduces the two agents'
    //  blue meshes to each other.
    meshq_client_t *clients[S_NODES], *blue[S_NODES];
    s_start_all (clients);
    clientutil_vhost_for (clients[0], "blue", "guest");
    for (int i = 0; i < S_NODES; i++)
        blue[i] = s_client_in (s_nodes[i].control, "blue");
    int64_t deadline = zclock_mono () + 20000;
    for (int i = 0; i < S_NODES; i++) {
        while (clientutil_peers_up (blue[i]) == 0 && zclock_mono () < deadline)
            zclock_sleep (100);
        cr_assert_gt (clientutil_peers_up (blue[i]), 0,
                      "%s has no peer up in blue", s_nodes[i].name);
    }
    //  Its idle links outside the overlay close too, by agreement.
    char hex[S_NODES][33];
    for (int i = 0; i < S_NODES; i++)
        clientutil_node (clients[i], hex[i]);
    int outside = 0;
    deadline = zclock_mono () + S_IDLE_WAIT_MS;
    do {
        zclock_sleep (1000);
        outside = 0;
        for (int i = 0; i < S_NODES; i++)
            outside += s_outside (blue[i], hex, i, NULL);
    } while (outside && zclock_mono () < deadline);
    cr_expect_eq (outside, 0,
                  "%d blue links outside the overlays still up after %d s "
                  "idle",
                  outside, S_IDLE_WAIT_MS / 1000);
    //  And nothing links again (VHOST introduces a vhost's peers only
    //  where the default vhost has a link).
    int ups = s_all_lines_with ("mesh: peer up vhost=blue");
    zclock_sleep (8000);
    cr_expect_eq (s_all_lines_with ("mesh: peer up vhost=blue"), ups,
                  "%d blue links came up again in an idle mesh",
                  s_all_lines_with ("mesh: peer up vhost=blue") - ups);
    int publisher = -1, consumer = -1, links = 0;
    for (int i = 1; i < S_NODES; i++)
        for (int j = 1; j < S_NODES; j++) {
            if (i == j)
                continue;
            if (s_linked (blue[i], s_nodes[j].name))
                links++;
            else if (publisher < 0 && !s_linked (blue[j], s_nodes[i].name)) {
                consumer = i;
                publisher = j;
            }
        }
    fprintf (stderr, "partial mesh: blue has %d links among agents 1-%d\n",
             links, S_NODES - 1);
    cr_assert_geq (publisher, 0, "blue linked every agent to every other");
    meshq_client_t *producer = blue[publisher];
    cr_assert_eq (meshq_client_declare_queue (producer, "work", NULL), 0);
    meshutil_wait_queue (s_nodes, blue, S_NODES, "work");
    meshq_client_t *taker = blue[consumer];
    cr_assert_eq (meshq_client_consume (taker, "work", 50, NULL, 0), 0);
    cr_assert_eq (meshq_client_set_confirms (producer, S_MESSAGES), 0);
    for (int i = 0; i < S_MESSAGES; i++)
        cr_assert_eq (meshq_client_publish_body (producer, "", "work", "m", 1),
                      0);
    cr_assert_eq (meshq_client_wait_for_confirms (producer, 10000), 0);
    int received = clientutil_receive (taker, S_MESSAGES, 30000);
    cr_expect_eq (received, S_MESSAGES, "%d of %d confirmed messages arrived",
                  received, S_MESSAGES);
    cr_expect (s_linked (taker, s_nodes[publisher].name),
               "no blue link from the consumer's agent to the publisher's");
    //  And no agent's blue runs a membership of its own.
    cr_expect_eq (s_all_lines_with ("membership=shared"), S_NODES);
    cr_expect_eq (s_all_lines_with ("membership=own"), S_NODES);
    for (int i = 0; i < S_NODES; i++) {
        meshq_client_destroy (&blue[i]);
        meshq_client_destroy (&clients[i]);
    }
}
