/*  test_discovery.c - discovery nodes in one process, on loopback: they
    find each other, notice one die, hang, leave or restart, converge
    through seeds without beacons, and keep to their own mesh.

    Every node is a meshq_discovery actor. The test reads their events
    with a poller and a deadline; it never sleeps, and asserts no
    timings. Each test uses its own beacon port and mesh name.
*/
#include "beacon.h"
#include "codec_peer.h"
#include "codec_swim.h"
#include "discovery.h"
#include "meshq.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <criterion/criterion.h>
#include <unistd.h>

#define S_MAX_NODES 8
#define S_WAIT_MS   20000  //  Generous: ASan on a busy 2-core machine.

typedef struct {
    zactor_t *actor;         //  The node, or NULL.
    uint8_t id[16];          //  Its node id.
    char endpoint[128];      //  Its ROUTER endpoint.
    uint64_t incarnation;    //  Its incarnation.
    zlist_t *queue;          //  Events read while awaiting a reply.
    bool up[S_MAX_NODES];    //  Which nodes it has up.
    int ups[S_MAX_NODES];    //  PEER_UP events, by node.
    int downs[S_MAX_NODES];  //  PEER_DOWN events, by node.
    uint64_t up_incarnation[S_MAX_NODES];  //  Last incarnation reported up.
    char reason[S_MAX_NODES][64];          //  Last down reason, by node.
    char trail[S_MAX_NODES][256];          //  "U1 D1 U2": events in order.
    zlist_t *messages;                     //  MESSAGE events.
} s_node_t;

static s_node_t s_nodes[S_MAX_NODES];
static int s_count;
static char s_mesh[64];
static uint16_t s_port;
//  Node ids differ from run to run: two runs side by side must never
//  take each other's nodes for their own.
static uint8_t s_base[16];

static void
s_setup (void)
{
    uint64_t seed = (uint64_t)getpid () << 20 ^ (uint64_t)zclock_usecs ();
    snprintf (s_mesh, sizeof s_mesh, "test-%016llx",
              (unsigned long long)testutil_random (&seed));
    for (int i = 0; i < 16; i++)
        s_base[i] = (uint8_t)testutil_random (&seed);
    s_port = testutil_udp_port ();
    cr_assert_neq (s_port, 0);
    s_count = 0;
}

static meshq_peers_config_t
s_config (int i)
{
    meshq_peers_config_t config = {
        .mesh = s_mesh,
        .interface = "lo",
        .beacon_port = s_port,
        .beacon_interval_ms = 100,
        .heartbeat_ms = 100,
        .peer_timeout_ms = 1000,
        .gossip_interval_ms = 200,
    };
    memcpy (config.node, s_base, 16);
    config.node[15] = (uint8_t)i;
    return config;
}

//  Reads messages from node until one starts with verb; queues events.
static zmsg_t *
s_reply (s_node_t *node, const char *verb)
{
    while (true) {
        zmsg_t *msg = zmsg_recv (node->actor);
        cr_assert_not_null (msg);
        char *first = zmsg_popstr (msg);
        if (streq (first, verb)) {
            free (first);
            return msg;
        }
        zmsg_pushstr (msg, first);
        free (first);
        zlist_append (node->queue, msg);
    }
}

static int
s_index (const uint8_t *id)
{
    for (int i = 0; i < S_MAX_NODES; i++)
        if (memcmp (s_nodes[i].id, id, 16) == 0)
            return i;
    return -1;
}

static void
s_event (s_node_t *node, zmsg_t *msg)
{
    char *verb = zmsg_popstr (msg);
    zframe_t *id = zmsg_pop (msg);
    cr_assert (id && zframe_size (id) == 16);
    int peer = s_index (zframe_data (id));
    cr_assert_geq (peer, 0, "event about an unknown node");
    if (streq (verb, "MESSAGE")) {
        zmsg_pushmem (msg, zframe_data (id), 16);
        zlist_append (node->messages, msg);
        msg = NULL;
    } else {
        char *name = zmsg_popstr (msg);
        char *endpoint = zmsg_popstr (msg);
        //  zsock_send sends numbers as decimal text.
        char *incarnation_text = zmsg_popstr (msg);
        uint64_t incarnation = strtoull (incarnation_text, NULL, 10);
        char mark[32];
        if (streq (verb, "PEER_UP")) {
            cr_assert_not (node->up[peer], "UP twice without DOWN");
            node->up[peer] = true;
            node->ups[peer]++;
            node->up_incarnation[peer] = incarnation;
            snprintf (mark, sizeof mark, "U%" PRIu64 " ", incarnation);
        } else {
            cr_assert (node->up[peer], "DOWN while not up");
            node->up[peer] = false;
            node->downs[peer]++;
            char *reason = zmsg_popstr (msg);
            snprintf (node->reason[peer], sizeof node->reason[peer], "%s",
                      reason);
            free (reason);
            snprintf (mark, sizeof mark, "D%" PRIu64 " ", incarnation);
        }
        strncat (node->trail[peer], mark,
                 sizeof node->trail[peer] - strlen (node->trail[peer]) - 1);
        free (name);
        free (endpoint);
        free (incarnation_text);
    }
    zframe_destroy (&id);
    free (verb);
    zmsg_destroy (&msg);
}

//  Handles queued events, then waits up to timeout_ms for more.
static void
s_pump (int timeout_ms)
{
    zpoller_t *poller = zpoller_new (NULL);
    for (int i = 0; i < s_count; i++) {
        s_node_t *node = &s_nodes[i];
        if (!node->actor)
            continue;
        zmsg_t *msg;
        while ((msg = zlist_pop (node->queue)))
            s_event (node, msg);
        zpoller_add (poller, node->actor);
    }
    void *which = zpoller_wait (poller, timeout_ms);
    for (int i = 0; which && i < s_count; i++)
        if (s_nodes[i].actor && which == (void *)s_nodes[i].actor) {
            zmsg_t *msg = zmsg_recv (s_nodes[i].actor);
            if (msg)
                s_event (&s_nodes[i], msg);
        }
    zpoller_destroy (&poller);
}

//  Pumps events until done () or S_WAIT_MS pass; returns done ().
static bool
s_wait (bool (*done) (void *), void *arg)
{
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    while (!done (arg) && zclock_mono () < deadline)
        s_pump (50);
    return done (arg);
}

static void
s_start (int i, meshq_peers_config_t *config)
{
    s_node_t *node = &s_nodes[i];
    if (!node->queue) {
        node->queue = zlist_new ();
        node->messages = zlist_new ();
    }
    //  A new start knows nobody yet.
    memset (node->up, 0, sizeof node->up);
    node->actor = zactor_new (meshq_discovery, config);
    cr_assert_not_null (node->actor);
    zstr_send (node->actor, "START");
    zmsg_t *reply = s_reply (node, "START");
    char *rc = zmsg_popstr (reply);
    char *why = zmsg_popstr (reply);
    cr_assert_eq (atoi (rc), 0, "node %d did not start: %s", i, why);
    free (rc);
    free (why);
    zmsg_destroy (&reply);
    zstr_send (node->actor, "INFO");
    reply = s_reply (node, "INFO");
    zframe_t *id = zmsg_pop (reply);
    memcpy (node->id, zframe_data (id), 16);
    char *endpoint = zmsg_popstr (reply);
    snprintf (node->endpoint, sizeof node->endpoint, "%s", endpoint);
    char *incarnation = zmsg_popstr (reply);
    node->incarnation = strtoull (incarnation, NULL, 10);
    free (endpoint);
    free (incarnation);
    zframe_destroy (&id);
    zmsg_destroy (&reply);
    if (i >= s_count)
        s_count = i + 1;
}

static void
s_start_default (int i)
{
    meshq_peers_config_t config = s_config (i);
    char name[16];
    snprintf (name, sizeof name, "n%d", i);
    config.name = name;
    s_start (i, &config);
}

static void
s_teardown (void)
{
    for (int i = 0; i < S_MAX_NODES; i++) {
        s_node_t *node = &s_nodes[i];
        zactor_destroy (&node->actor);
        zmsg_t *msg;
        while (node->queue && (msg = zlist_pop (node->queue)))
            zmsg_destroy (&msg);
        while (node->messages && (msg = zlist_pop (node->messages)))
            zmsg_destroy (&msg);
        zlist_destroy (&node->queue);
        zlist_destroy (&node->messages);
        memset (node, 0, sizeof *node);
    }
}

//  True when every running node has every other running node up.
static bool
s_full (void *arg)
{
    (void)arg;
    for (int i = 0; i < s_count; i++)
        for (int j = 0; j < s_count; j++)
            if (i != j && s_nodes[i].actor && s_nodes[j].actor &&
                !s_nodes[i].up[j])
                return false;
    return true;
}

//  True when no running node has node *arg up.
static bool
s_gone (void *arg)
{
    int dead = *(int *)arg;
    for (int i = 0; i < s_count; i++)
        if (i != dead && s_nodes[i].actor && s_nodes[i].up[dead])
            return false;
    return true;
}

static void
s_kill (int i)
{
    zstr_send (s_nodes[i].actor, "KILL");
    zmsg_t *reply = s_reply (&s_nodes[i], "KILL");
    zmsg_destroy (&reply);
    zactor_destroy (&s_nodes[i].actor);
}

//  A counter from STATS.
static uint64_t
s_stat (int i, const char *name)
{
    zstr_send (s_nodes[i].actor, "STATS");
    zmsg_t *reply = s_reply (&s_nodes[i], "STATS");
    uint64_t value = UINT64_MAX;
    char *line;
    size_t length = strlen (name);
    while ((line = zmsg_popstr (reply))) {
        if (strncmp (line, name, length) == 0 && line[length] == '=')
            value = strtoull (line + length + 1, NULL, 10);
        free (line);
    }
    zmsg_destroy (&reply);
    cr_assert_neq (value, UINT64_MAX, "no counter %s", name);
    return value;
}

typedef struct {
    int node;          //  Whose counter.
    const char *name;  //  Which counter.
    uint64_t value;    //  The value awaited.
} s_counter_t;

static bool
s_counter_reached (void *arg)
{
    s_counter_t *counter = arg;
    return s_stat (counter->node, counter->name) >= counter->value;
}

//  True when the counter is down to its value, or lower.
static bool
s_counter_down_to (void *arg)
{
    s_counter_t *counter = arg;
    return s_stat (counter->node, counter->name) <= counter->value;
}

Test (discovery, five_nodes_reach_full_membership, .init = s_setup,
      .fini = s_teardown)
{
    for (int i = 0; i < 5; i++)
        s_start_default (i);
    cr_assert (s_wait (s_full, NULL), "no full membership");
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            if (i != j) {
                cr_expect_eq (s_nodes[i].ups[j], 1);
                cr_expect_eq (s_nodes[i].up_incarnation[j],
                              s_nodes[j].incarnation);
            }
}

Test (discovery, a_full_membership_table_counts_the_members_it_drops,
      .init = s_setup, .fini = s_teardown)
{
    //  Node 0 has room for two others: its membership drops the third
    //  it hears of, and counts it, again each time it hears of it.
    meshq_peers_config_t config = s_config (0);
    config.name = "n0";
    config.max_peers = 2;
    s_start (0, &config);
    for (int i = 1; i < 4; i++)
        s_start_default (i);
    s_counter_t full = {0, "members_full", 1};
    cr_assert (s_wait (s_counter_reached, &full), "no member dropped");
    s_counter_t members = {0, "members_alive", 2};
    cr_expect (s_wait (s_counter_reached, &members));
    cr_expect_eq (s_stat (0, "members_alive"), 2);
    //  The others have room: none dropped, nothing pushed out of a
    //  gossip queue of 1,024 by a mesh of four.
    for (int i = 1; i < 4; i++) {
        cr_expect_eq (s_stat (i, "members_full"), 0);
        cr_expect_eq (s_stat (i, "gossip_dropped"), 0);
    }
}

Test (discovery, a_killed_node_is_reported_down_by_the_others, .init = s_setup,
      .fini = s_teardown)
{
    for (int i = 0; i < 5; i++)
        s_start_default (i);
    cr_assert (s_wait (s_full, NULL));
    //  The membership has the four others (its count is refreshed each
    //  tick).
    s_counter_t members = {0, "members_alive", 4};
    cr_expect (s_wait (s_counter_reached, &members));
    int dead = 4;
    s_kill (dead);
    cr_assert (s_wait (s_gone, &dead), "not reported down everywhere");
    //  The membership comes to the same count. (A datagram the dead node
    //  sent with a newer refutation than a survivor had heard, read after
    //  that survivor declared it dead, brings it back there until it is
    //  suspected again: the count may take a suspicion timeout.)
    s_counter_t members_left = {0, "members_alive", 3};
    cr_expect (s_wait (s_counter_down_to, &members_left),
               "%" PRIu64 " members alive", s_stat (0, "members_alive"));
    for (int i = 0; i < 4; i++) {
        cr_expect_eq (s_nodes[i].downs[dead], 1);
        //  Its connection went, and nothing listens there any more: the
        //  first survivor to see that tells the others through the
        //  membership, which may reach them before their own probe does.
        //  On a loaded machine the membership's suspicion, confirmed by
        //  every survivor, may end before any probe is read, or the link
        //  that waits for a sign of life since its connection went
        //  decides (docs/DISCOVERY.md, "Failure detection, in layers").
        const char *reason = s_nodes[i].reason[dead];
        cr_expect (streq (reason, "connection refused") ||
                       streq (reason, "declared dead by the membership") ||
                       streq (reason, "heartbeat timeout"),
                   "node %d: down for '%s'", i, reason);
        for (int j = 0; j < 4; j++)
            cr_expect_eq (s_nodes[i].downs[j], 0, "false down");
    }
}

//  Alone with a dead peer, no suspicion is confirmed by others and the
//  membership waits its longest: the refused connection is what takes
//  the peer down, at once.
Test (discovery, nothing_listening_where_a_peer_was_takes_it_down_at_once,
      .init = s_setup, .fini = s_teardown)
{
    for (int i = 0; i < 2; i++) {
        meshq_peers_config_t config = s_config (i);
        //  Suspicions of 3.2 s, heartbeat timeouts of 10 s.
        config.peer_timeout_ms = 10000;
        char name[16];
        snprintf (name, sizeof name, "n%d", i);
        config.name = name;
        s_start (i, &config);
    }
    cr_assert (s_wait (s_full, NULL));
    int dead = 1;
    int64_t killed = zclock_mono ();
    s_kill (dead);
    cr_assert (s_wait (s_gone, &dead), "not reported down");
    cr_expect_str_eq (s_nodes[0].reason[dead], "connection refused",
                      "down after %" PRId64 " ms", zclock_mono () - killed);
    cr_expect_eq (s_nodes[0].downs[dead], 1);
}

//  Each survivor saw the restarted node up, down, and up again with a
//  higher incarnation.
static void
s_expect_restart_seen (int restarted, uint64_t old_incarnation)
{
    for (int i = 0; i < s_count; i++) {
        if (i == restarted)
            continue;
        char expected[256];
        snprintf (expected, sizeof expected,
                  "U%" PRIu64 " D%" PRIu64 " U%" PRIu64 " ", old_incarnation,
                  old_incarnation, s_nodes[restarted].incarnation);
        cr_expect_str_eq (s_nodes[i].trail[restarted], expected,
                          "node %d saw '%s'", i, s_nodes[i].trail[restarted]);
    }
    cr_expect_gt (s_nodes[restarted].incarnation, old_incarnation,
                  "%" PRIu64 " after %" PRIu64, s_nodes[restarted].incarnation,
                  old_incarnation);
}

Test (discovery, a_restarted_node_is_seen_as_a_new_incarnation, .init = s_setup,
      .fini = s_teardown)
{
    for (int i = 0; i < 5; i++)
        s_start_default (i);
    cr_assert (s_wait (s_full, NULL));
    uint64_t old = s_nodes[4].incarnation;
    //  Restarted at once, before the others noticed it die: they learn
    //  of the restart from its beacon or HELLO.
    s_kill (4);
    s_start_default (4);
    cr_assert (s_wait (s_full, NULL));
    s_expect_restart_seen (4, old);
}

Test (discovery, a_node_restarted_after_it_was_noticed_comes_back,
      .init = s_setup, .fini = s_teardown)
{
    for (int i = 0; i < 3; i++)
        s_start_default (i);
    cr_assert (s_wait (s_full, NULL));
    uint64_t old = s_nodes[2].incarnation;
    int dead = 2;
    s_kill (dead);
    cr_assert (s_wait (s_gone, &dead));
    s_start_default (2);
    cr_assert (s_wait (s_full, NULL));
    s_expect_restart_seen (2, old);
}

Test (discovery, a_hung_node_is_caught_by_the_membership_and_comes_back,
      .init = s_setup, .fini = s_teardown)
{
    for (int i = 0; i < 3; i++)
        s_start_default (i);
    cr_assert (s_wait (s_full, NULL));
    int hung = 2;
    zstr_send (s_nodes[hung].actor, "FREEZE");
    zmsg_t *reply = s_reply (&s_nodes[hung], "FREEZE");
    zmsg_destroy (&reply);
    //  Its connections stay open and idle: only its silence to the
    //  membership's probes gives it away. Its events are not read while
    //  it hangs (s_gone skips nothing: it only looks at the others).
    zactor_t *actor = s_nodes[hung].actor;
    s_nodes[hung].actor = NULL;
    cr_assert (s_wait (s_gone, &hung), "a hung node was not declared down");
    for (int i = 0; i < 2; i++)
        cr_expect_str_eq (s_nodes[i].reason[hung],
                          "declared dead by the membership");
    s_nodes[hung].actor = actor;
    zstr_send (actor, "THAW");
    reply = s_reply (&s_nodes[hung], "THAW");
    zmsg_destroy (&reply);
    //  Back: down, then up again, on both sides.
    cr_assert (s_wait (s_full, NULL), "the thawed node did not come back");
    for (int i = 0; i < 2; i++) {
        cr_expect_eq (s_nodes[i].ups[hung], 2);
        cr_expect_eq (s_nodes[i].downs[hung], 1);
        cr_expect_eq (s_nodes[hung].ups[i], s_nodes[hung].downs[i] + 1);
    }
}

Test (discovery, a_node_that_leaves_says_bye, .init = s_setup,
      .fini = s_teardown)
{
    for (int i = 0; i < 3; i++)
        s_start_default (i);
    cr_assert (s_wait (s_full, NULL));
    int gone = 2;
    zactor_destroy (&s_nodes[gone].actor);
    cr_assert (s_wait (s_gone, &gone));
    for (int i = 0; i < 2; i++)
        cr_expect_str_eq (s_nodes[i].reason[gone], "left");
}

Test (discovery, seeds_converge_to_a_full_mesh_without_beacons, .init = s_setup,
      .fini = s_teardown)
{
    meshq_peers_config_t config = s_config (0);
    config.no_beacon = true;
    config.name = "seed";
    s_start (0, &config);
    for (int i = 1; i < 5; i++) {
        config = s_config (i);
        config.no_beacon = true;
        config.seeds = s_nodes[0].endpoint;
        s_start (i, &config);
    }
    cr_assert (s_wait (s_full, NULL), "seeds did not converge");
    //  Each session started once: no HELLO went back and forth.
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            if (i != j) {
                cr_expect_eq (s_nodes[i].ups[j], 1, "%d saw %d", i, j);
                cr_expect_eq (s_nodes[i].downs[j], 0, "%d saw %d", i, j);
            }
    //  Nodes 1..4 found each other through gossip alone.
    cr_expect_eq (s_stat (1, "beacons_received"), 0);
    cr_expect_eq (s_stat (1, "beacons_sent"), 0);
}

//  A seed may name its host: "localhost" resolves (in the interface's
//  family, IPv4 on lo) to where node 0 listens.
Test (discovery, a_seed_by_host_name_finds_its_node, .init = s_setup,
      .fini = s_teardown)
{
    meshq_peers_config_t config = s_config (0);
    config.no_beacon = true;
    s_start (0, &config);
    const char *port = strrchr (s_nodes[0].endpoint, ':');
    cr_assert_not_null (port);
    char seeds[64];
    snprintf (seeds, sizeof seeds, "tcp://localhost%s", port);
    config = s_config (1);
    config.no_beacon = true;
    config.seeds = seeds;
    s_start (1, &config);
    cr_assert (s_wait (s_full, NULL), "the seed by name was not reached");
    cr_expect_eq (s_stat (1, "beacons_received"), 0);
}

Test (discovery, other_meshes_and_vhosts_never_join, .init = s_setup,
      .fini = s_teardown)
{
    s_start_default (0);
    s_start_default (1);
    meshq_peers_config_t config = s_config (2);
    char other[80];
    snprintf (other, sizeof other, "%s-other", s_mesh);
    config.mesh = other;
    s_start (2, &config);
    config = s_config (3);
    config.vhost = "/other";
    s_start (3, &config);
    //  0 and 1 meet; 2 and 3 hear their beacons and drop them.
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    while (!(s_nodes[0].up[1] && s_nodes[1].up[0]) && zclock_mono () < deadline)
        s_pump (50);
    cr_assert (s_nodes[0].up[1] && s_nodes[1].up[0]);
    s_counter_t heard2 = {2, "beacons_dropped.mesh", 2};
    s_counter_t heard3 = {3, "beacons_dropped.mesh", 2};
    cr_assert (s_wait (s_counter_reached, &heard2));
    cr_assert (s_wait (s_counter_reached, &heard3));
    s_pump (0);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if ((i < 2) != (j < 2) || (i >= 2 && j >= 2 && i != j))
                cr_expect_eq (s_nodes[i].ups[j], 0, "%d saw %d", i, j);
}

Test (discovery, application_frames_flow_between_up_peers, .init = s_setup,
      .fini = s_teardown)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (s_wait (s_full, NULL));
    zmsg_t *send = zmsg_new ();
    zmsg_addstr (send, "SEND");
    zmsg_addmem (send, s_nodes[1].id, 16);
    zmsg_addstr (send, "CREDIT");
    zmsg_addmem (send, "\x81\xa1q\xa4jobs", 7);
    zmsg_send (&send, s_nodes[0].actor);
    zmsg_t *reply = s_reply (&s_nodes[0], "SEND");
    char *rc = zmsg_popstr (reply);
    cr_expect_eq (atoi (rc), 0);
    free (rc);
    zmsg_destroy (&reply);
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    while (zlist_size (s_nodes[1].messages) == 0 && zclock_mono () < deadline)
        s_pump (50);
    zmsg_t *got = zlist_pop (s_nodes[1].messages);
    cr_assert_not_null (got);
    zframe_t *from = zmsg_pop (got);
    cr_expect_eq (memcmp (zframe_data (from), s_nodes[0].id, 16), 0);
    char *command = zmsg_popstr (got);
    cr_expect_str_eq (command, "CREDIT");
    zframe_t *args = zmsg_pop (got);
    cr_expect_eq (zframe_size (args), 7);
    free (command);
    zframe_destroy (&from);
    zframe_destroy (&args);
    zmsg_destroy (&got);

    //  To a node that is not up, and a command of discovery's own.
    uint8_t nobody[16] = {0xee};
    const struct {
        const uint8_t *to;  //  Peer.
        const char *verb;   //  Command.
        int code;           //  Expected.
    } cases[] = {{nobody, "CREDIT", MESHQ_ENOTFOUND},
                 {s_nodes[1].id, "HELLO", MESHQ_EINVAL},
                 {s_nodes[1].id, "lower", MESHQ_EINVAL}};
    for (size_t i = 0; i < 3; i++) {
        send = zmsg_new ();
        zmsg_addstr (send, "SEND");
        zmsg_addmem (send, cases[i].to, 16);
        zmsg_addstr (send, cases[i].verb);
        zmsg_send (&send, s_nodes[0].actor);
        reply = s_reply (&s_nodes[0], "SEND");
        rc = zmsg_popstr (reply);
        cr_expect_eq (atoi (rc), cases[i].code, "case %zu", i);
        free (rc);
        zmsg_destroy (&reply);
    }
}

//  A DEALER that speaks to node 0's ROUTER as a stranger would.
static zsock_t *
s_stranger (uint8_t prefix, size_t id_size)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    uint8_t id[32];
    memset (id, 0x77, sizeof id);
    id[0] = prefix;
    zmq_setsockopt (zsock_resolve (dealer), ZMQ_ROUTING_ID, id, id_size);
    cr_assert_eq (zsock_connect (dealer, "%s", s_nodes[0].endpoint), 0);
    return dealer;
}

Test (discovery, frames_from_strangers_are_counted_and_dropped, .init = s_setup,
      .fini = s_teardown)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (s_wait (s_full, NULL));
    zsock_t *known = s_stranger (0x01, 17);
    zsock_t *odd = s_stranger (0x09, 17);
    zsock_t *short_id = s_stranger (0x01, 5);
    //  Not helloed: a PING and an owner's command.
    zsock_send (known, "ss", "PING", "\x81\xa3seq\x01");
    zsock_send (known, "ss", "CREDIT", "\x80");
    //  Not a command, and not a map.
    zsock_send (known, "ss", "ping", "\x80");
    //  A HELLO of another mesh, and a malformed one.
    zsock_send (known, "ss", "HELLO", "\x80");
    //  Routing ids of another prefix or size.
    zsock_send (odd, "ss", "PING", "\x80");
    zsock_send (short_id, "ss", "PING", "\x80");
    s_counter_t not_up = {0, "frames_dropped.not_up", 2};
    s_counter_t command = {0, "frames_dropped.command", 1};
    s_counter_t malformed = {0, "frames_dropped.malformed", 1};
    s_counter_t routing = {0, "frames_dropped.routing_id", 2};
    cr_expect (s_wait (s_counter_reached, &not_up));
    cr_expect (s_wait (s_counter_reached, &command));
    cr_expect (s_wait (s_counter_reached, &malformed));
    cr_expect (s_wait (s_counter_reached, &routing));
    zsock_destroy (&known);
    zsock_destroy (&odd);
    zsock_destroy (&short_id);
    //  And the node is still at work: node 1 stays up, no false down.
    s_pump (0);
    cr_expect (s_nodes[0].up[1] && s_nodes[1].up[0]);
    cr_expect_eq (s_nodes[0].downs[1], 0);
}

Test (discovery, a_stray_hello_between_up_nodes_never_echoes, .init = s_setup,
      .fini = s_teardown)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (s_wait (s_full, NULL));
    //  One more HELLO of node 1's (as a link queues it while packets are
    //  dropped), in the form agents sent before sessions were numbered.
    meshq_hello_t hello = {
        .protocol = MESHQ_PEER_PROTOCOL,
        .incarnation = s_nodes[1].incarnation,
        .name = {"n1", 2},
        .mesh = {s_mesh, (uint32_t)strlen (s_mesh)},
        .vhost = {"/", 1},
        .endpoint = {s_nodes[1].endpoint,
                     (uint32_t)strlen (s_nodes[1].endpoint)},
        .heartbeat_ms = 100,
        .timeout_ms = 10000,
    };
    memcpy (hello.node, s_nodes[1].id, 16);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
    //  Past the heartbeat after the session started: a restart by node 1
    //  as far as node 0 can tell.
    int64_t until = zclock_mono () + 300;
    while (zclock_mono () < until)
        s_pump (50);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    uint8_t id[17] = {0x01};
    memcpy (id + 1, s_nodes[1].id, 16);
    zmq_setsockopt (zsock_resolve (dealer), ZMQ_ROUTING_ID, id, sizeof id);
    zsock_set_linger (dealer, 1000);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "HELLO");
    zmsg_addmem (msg, buf.data, buf.size);
    cr_assert_eq (zsock_connect (dealer, "%s", s_nodes[0].endpoint), 0);
    cr_assert_eq (zmsg_send (&msg, dealer), 0);
    //  Node 0 restarts the session once; its answer is a HELLO of a
    //  session node 1 is in already, which changes nothing there.
    s_counter_t restarted = {0, "peer_down_events", 1};
    cr_expect (s_wait (s_counter_reached, &restarted));
    //  Gone at once: with node 1's routing id, it takes the ROUTER's
    //  route over from node 1's own link, which then takes it back.
    zsock_destroy (&dealer);
    until = zclock_mono () + 2000;
    while (zclock_mono () < until)
        s_pump (50);
    cr_expect_leq (s_stat (0, "peer_down_events"), 1);
    cr_expect_eq (s_stat (1, "peer_down_events"), 0);
    cr_expect_geq (s_stat (1, "frames_dropped.duplicate"), 1);
    cr_expect (s_nodes[0].up[1] && s_nodes[1].up[0]);
    meshq_buf_fini (&buf);
}

//  Sends a beacon to the nodes' beacon port, as anyone on the network
//  can.
static void
s_forge_beacon (const uint8_t node[16], uint64_t incarnation, uint16_t port)
{
    meshq_beacon_t beacon = {.incarnation = incarnation, .port = port};
    memcpy (beacon.node, node, 16);
    meshq_beacon_mesh_id (s_mesh, "/", beacon.mesh);
    uint8_t record[MESHQ_BEACON_SIZE];
    meshq_beacon_encode (&beacon, record);
    //  To the group on loopback, as beacons go, so that every node hears
    //  it (a unicast datagram reaches one of the sockets on the port).
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    cr_assert_geq (fd, 0);
    struct in_addr loopback = {.s_addr = htonl (INADDR_LOOPBACK)};
    cr_assert_eq (setsockopt (fd, IPPROTO_IP, IP_MULTICAST_IF, &loopback,
                              sizeof loopback),
                  0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons (s_port)};
    inet_pton (AF_INET, "239.255.56.80", &to.sin_addr);
    cr_assert_eq (sendto (fd, record, sizeof record, 0, (struct sockaddr *)&to,
                          sizeof to),
                  (ssize_t)sizeof record);
    close (fd);
}

//  File descriptors this process has open.
static size_t
s_open_fds (void)
{
    size_t count = 0;
    DIR *dir = opendir ("/proc/self/fd");
    cr_assert_not_null (dir);
    while (readdir (dir))
        count++;
    closedir (dir);
    return count;
}

//  The current time as an incarnation: microseconds since 1970.
static uint64_t
s_wall_us (void)
{
    return (uint64_t)zclock_time () * 1000;
}

Test (discovery, forged_beacons_with_new_ids_open_few_sockets_and_crash_nothing,
      .init = s_setup, .fini = s_teardown, .timeout = 120)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (s_wait (s_full, NULL));
    //  2,000 nodes nobody runs, pointing where nothing listens: each
    //  would be a link, and about 1,000 sockets is the limit. A beacon
    //  only makes the membership ask (one datagram); nothing answers,
    //  so no link opens at all.
    size_t fds = s_open_fds ();
    uint8_t node[16];
    memset (node, 0x5a, sizeof node);
    for (uint32_t i = 0; i < 2000; i++) {
        memcpy (node, &i, sizeof i);
        s_forge_beacon (node, s_wall_us (), 9);
        if (i % 100 == 99)
            s_pump (20);
    }
    s_counter_t received = {0, "beacons_received", 2000};
    cr_expect (s_wait (s_counter_reached, &received));
    //  Still at work, with node 1 up all along, and no socket more.
    s_pump (500);
    cr_expect_leq (s_open_fds (), fds + 8, "%zu descriptors open, %zu before",
                   s_open_fds (), fds);
    cr_expect (s_nodes[0].up[1] && s_nodes[1].up[0]);
    cr_expect_eq (s_nodes[0].downs[1], 0);
}

Test (discovery, a_beacon_cannot_take_a_live_peer_down, .init = s_setup,
      .fini = s_teardown)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (s_wait (s_full, NULL));
    //  Node 1's id with a later incarnation, and with the largest one.
    s_forge_beacon (s_nodes[1].id, s_nodes[1].incarnation + 1000000, 9);
    s_forge_beacon (s_nodes[1].id, UINT64_MAX, 9);
    int64_t until = zclock_mono () + 1500;
    while (zclock_mono () < until)
        s_pump (50);
    cr_expect (s_nodes[0].up[1], "node 1 is not up on node 0");
    cr_expect_eq (s_nodes[0].downs[1], 0);
    cr_expect_eq (s_stat (0, "beacons_dropped.future"), 1);
    //  And its own restart is still seen as one.
    uint64_t old = s_nodes[1].incarnation;
    s_kill (1);
    s_start_default (1);
    cr_expect (s_wait (s_full, NULL));
    cr_expect_eq (s_nodes[0].up_incarnation[1], s_nodes[1].incarnation);
    cr_expect_neq (s_nodes[1].incarnation, old);
}

Test (discovery, with_a_secret_only_sealed_beacons_are_heard, .init = s_setup,
      .fini = s_teardown)
{
    //  One CURVE keypair for the mesh, as a mesh secret derives it, and a
    //  ZAP handler that lets CURVE clients in (the agent's checks the
    //  key; that is not what this test is about).
    zactor_t *auth = zactor_new (zauth, NULL);
    zstr_sendx (auth, "CURVE", CURVE_ALLOW_ANY, NULL);
    zsock_wait (auth);
    zcert_t *cert = zcert_new ();
    for (int i = 0; i < 2; i++) {
        meshq_peers_config_t config = s_config (i);
        config.name = i ? "n1" : "n0";
        config.curve_public = zcert_public_txt (cert);
        config.curve_secret = zcert_secret_txt (cert);
        s_start (i, &config);
    }
    //  Sealed beacons: they find each other.
    cr_assert (s_wait (s_full, NULL));
    //  Plain beacons of a new node, and sealed ones under another key.
    uint8_t node[16];
    memset (node, 0x3c, sizeof node);
    s_forge_beacon (node, s_wall_us (), 9);
    meshq_beacon_t beacon = {.incarnation = s_wall_us (), .port = 9};
    memcpy (beacon.node, node, 16);
    meshq_beacon_mesh_id (s_mesh, "/", beacon.mesh);
    uint8_t key[MESHQ_BEACON_KEY_SIZE] = {1, 2, 3};
    uint8_t sealed[MESHQ_BEACON_SEALED_SIZE];
    meshq_beacon_seal (&beacon, key, sealed);
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    struct in_addr loopback = {.s_addr = htonl (INADDR_LOOPBACK)};
    setsockopt (fd, IPPROTO_IP, IP_MULTICAST_IF, &loopback, sizeof loopback);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons (s_port)};
    inet_pton (AF_INET, "239.255.56.80", &to.sin_addr);
    cr_assert_eq (sendto (fd, sealed, sizeof sealed, 0, (struct sockaddr *)&to,
                          sizeof to),
                  (ssize_t)sizeof sealed);
    close (fd);
    s_counter_t refused = {0, "beacons_dropped.auth", 2};
    cr_expect (s_wait (s_counter_reached, &refused));
    //  Neither opened a try: the node was never taken as a beacon's.
    cr_expect_eq (s_stat (0, "beacons_dropped.pending"), 0);
    s_pump (200);
    cr_expect (s_nodes[0].up[1] && s_nodes[1].up[0]);
    zcert_destroy (&cert);
    s_teardown ();
    zactor_destroy (&auth);
}

//  Sends node i's membership socket (UDP, at its ROUTER's port) SWIM
//  GOSSIP datagrams from a forged member naming count members at
//  nowhere (127.0.0.1 port 9), each with first_id + n in its id.
static void
s_forge_members (int i, uint32_t first_id, uint32_t count)
{
    uint16_t port = 0;
    const char *colon = strrchr (s_nodes[i].endpoint, ':');
    cr_assert_not_null (colon);
    port = (uint16_t)atoi (colon + 1);
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons (port)};
    inet_pton (AF_INET, "127.0.0.1", &to.sin_addr);
    static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    meshq_swim_update_t record = {.incarnation = 1, .port = 9};
    memcpy (record.ip, v4, 12);
    record.ip[12] = 127;
    record.ip[15] = 1;
    meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_GOSSIP, .from = record};
    memset (msg.from.id, 0x55, 16);
    static meshq_swim_update_t updates[MESHQ_SWIM_UPDATES_MAX];
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    for (uint32_t n = 0; n < count;) {
        uint32_t batch = 0;
        for (; batch < MESHQ_SWIM_UPDATES_MAX && n < count; batch++, n++) {
            updates[batch] = record;
            memset (updates[batch].id, 0x44, 16);
            uint32_t id = first_id + n;
            memcpy (updates[batch].id, &id, sizeof id);
        }
        meshq_buf_reset (&buf);
        uint8_t mesh_id[16];
        meshq_beacon_mesh_id (s_mesh, "/", mesh_id);
        meshq_buf_append (&buf, mesh_id, sizeof mesh_id);
        cr_assert_eq (meshq_codec_swim_encode (&buf, &msg, updates, batch), 0);
        sendto (fd, buf.data, buf.size, 0, (struct sockaddr *)&to, sizeof to);
    }
    meshq_buf_fini (&buf);
    close (fd);
}

Test (discovery, forged_peers_and_members_open_few_sockets_and_crash_nothing,
      .init = s_setup, .fini = s_teardown, .timeout = 120)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (s_wait (s_full, NULL));
    //  Without a mesh secret anyone can say HELLO and be up; then it
    //  sends lists of 1,000 nodes nobody runs.
    uint8_t stranger[16];
    memset (stranger, 0x66, sizeof stranger);
    //  Its events are read like a node's.
    memcpy (s_nodes[S_MAX_NODES - 1].id, stranger, 16);
    const char *nowhere = "tcp://127.0.0.1:9";
    meshq_hello_t hello = {
        .protocol = MESHQ_PEER_PROTOCOL,
        .incarnation = s_wall_us (),
        .mesh = {s_mesh, (uint32_t)strlen (s_mesh)},
        .vhost = {"/", 1},
        .endpoint = {nowhere, (uint32_t)strlen (nowhere)},
        .heartbeat_ms = 100,
        .timeout_ms = 1000,
        .session = 1,
    };
    memcpy (hello.node, stranger, 16);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    uint8_t id[17] = {0x01};
    memcpy (id + 1, stranger, 16);
    zmq_setsockopt (zsock_resolve (dealer), ZMQ_ROUTING_ID, id, sizeof id);
    cr_assert_eq (zsock_connect (dealer, "%s", s_nodes[0].endpoint), 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "HELLO");
    zmsg_addmem (msg, buf.data, buf.size);
    cr_assert_eq (zmsg_send (&msg, dealer), 0);
    static meshq_gossip_t list[1000];
    for (uint32_t round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < 1000; i++) {
            memset (list[i].node, 0x44, 16);
            uint32_t n = round * 1000 + i;
            memcpy (list[i].node, &n, sizeof n);
            list[i].incarnation = s_wall_us ();
            list[i].endpoint =
                (meshq_span_t){nowhere, (uint32_t)strlen (nowhere)};
        }
        meshq_buf_reset (&buf);
        cr_assert_eq (meshq_codec_encode_peers (list, 1000, &buf, NULL), 0);
        msg = zmsg_new ();
        zmsg_addstr (msg, "PEERS");
        zmsg_addmem (msg, buf.data, buf.size);
        cr_assert_eq (zmsg_send (&msg, dealer), 0);
    }
    //  Peer lists are no longer taken from anyone (the membership
    //  replaced them); forged members are: the membership's datagrams
    //  carry no proof without a mesh secret. 2,000 of them at an
    //  address where nothing listens: the table holds what it has room
    //  for, and past full_links members links go only to an overlay of
    //  about log2 of them (and at most a bounded number of tries at
    //  once): a few descriptors, never one per forged member.
    size_t fds = s_open_fds ();
    s_forge_members (0, 0, 1000);
    s_forge_members (0, 1000, 1000);
    s_counter_t members = {0, "members_alive", 500};
    cr_expect (s_wait (s_counter_reached, &members));
    s_pump (1000);
    cr_expect_leq (s_open_fds (), fds + 128, "%zu descriptors open, %zu before",
                   s_open_fds (), fds);
    cr_expect (s_nodes[0].up[1] && s_nodes[1].up[0]);
    cr_expect_eq (s_nodes[0].downs[1], 0);
    zsock_destroy (&dealer);
    meshq_buf_fini (&buf);
}

//  Under full_links (64), but 40 members learnt at once: a mesh that
//  grows past full_links within a second. Links go to the overlay (12
//  of 41) while it fills, not to every member known at the moment, so
//  agents started together do not open dozens of links each that only
//  the idle close would end. Members with a try under way are listed
//  as members alive (list_peers).
Test (discovery, a_membership_filling_fast_links_the_overlay_first,
      .init = s_setup, .fini = s_teardown)
{
    s_start_default (0);
    s_pump (300);
    size_t fds = s_open_fds ();
    s_forge_members (0, 0, 40);
    s_counter_t members = {0, "members_alive", 40};
    cr_assert (s_wait (s_counter_reached, &members));
    //  Every member is listed, tries to it under way or not (they are
    //  not links up): list_peers shows it alive.
    uint64_t alive = s_stat (0, "members_alive");
    cr_expect_eq (s_stat (0, "members_unlinked"), alive,
                  "%llu listed, %llu alive",
                  (unsigned long long)s_stat (0, "members_unlinked"),
                  (unsigned long long)alive);
    s_pump (300);
    //  A link is a socket (a descriptor) and its connection's: 40
    //  links are 40 to 80 more.
    cr_expect_leq (s_open_fds (), fds + 30,
                   "%zu descriptors open, %zu before 40 members came",
                   s_open_fds (), fds);
}

Test (discovery, two_nodes_with_one_name_both_say_so, .init = s_setup,
      .fini = s_teardown)
{
    for (int i = 0; i < 3; i++) {
        meshq_peers_config_t config = s_config (i);
        config.name = i < 2 ? "twin" : "other";
        s_start (i, &config);
    }
    cr_assert (s_wait (s_full, NULL));
    s_counter_t twin0 = {0, "duplicate_names", 1};
    s_counter_t twin1 = {1, "duplicate_names", 1};
    cr_expect (s_wait (s_counter_reached, &twin0));
    cr_expect (s_wait (s_counter_reached, &twin1));
    //  The third one's name is its own.
    cr_expect_eq (s_stat (2, "duplicate_names"), 0);
}

Test (discovery, says_why_it_cannot_start, .init = s_setup)
{
    const struct {
        const char *interface;  //  Interface asked for.
        uint32_t timeout_ms;    //  Peer timeout.
        const char *seeds;      //  Seeds.
        uint32_t max_links;     //  Links past full_links (64).
        int code;               //  Expected code.
        const char *why;        //  Expected in the reason.
    } cases[] = {
        {"nosuch0", 0, NULL, 0, MESHQ_ENOTFOUND,
         "no interface named 'nosuch0'"},
        {"lo", 150, NULL, 0, MESHQ_EINVAL, "at least three heartbeats"},
        {"lo", 0, "tcp://local_host:5000", 0, MESHQ_EINVAL,
         "seed 'tcp://local_host:5000' is not tcp://HOST:PORT"},
        {"lo", 0, NULL, 63, MESHQ_EINVAL,
         "max_links 63 is below full_links 64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        meshq_peers_config_t config = s_config (0);
        config.interface = cases[i].interface;
        config.peer_timeout_ms = cases[i].timeout_ms;
        config.seeds = cases[i].seeds;
        config.max_links = cases[i].max_links;
        zactor_t *actor = zactor_new (meshq_discovery, &config);
        zstr_send (actor, "START");
        char *verb, *why;
        int rc;
        cr_assert_eq (zsock_recv (actor, "sis", &verb, &rc, &why), 0);
        cr_expect_eq (rc, cases[i].code, "case %zu", i);
        cr_expect (strstr (why, cases[i].why), "case %zu: %s", i, why);
        free (verb);
        free (why);
        zactor_destroy (&actor);
    }
}

//  Two joined nodes back off their beacons; a third still joins them
//  both, once each, as a newcomer's beacon is answered at once.
Test (discovery, a_newcomer_joins_a_mesh_that_has_backed_off, .init = s_setup,
      .fini = s_teardown)
{
    for (int i = 0; i < 2; i++)
        s_start_default (i);
    cr_assert (s_wait (s_full, NULL), "no full membership");
    //  Joined, node 0 beacons far less than every 100 ms: over 3 s of
    //  the test's clock (a busy machine only makes it fewer), at most
    //  half of the 30 beacons it sends alone.
    uint64_t before = s_stat (0, "beacons_sent");
    int64_t until = zclock_mono () + 3000;
    while (zclock_mono () < until)
        s_pump (50);
    uint64_t sent = s_stat (0, "beacons_sent") - before;
    cr_expect_lt (sent, 15, "a joined node sent %" PRIu64 " beacons in 3 s",
                  sent);
    s_start_default (2);
    cr_assert (s_wait (s_full, NULL), "the newcomer did not join");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j)
                cr_expect_eq (s_nodes[i].ups[j], 1,
                              "node %d saw %d up %d times", i, j,
                              s_nodes[i].ups[j]);
}
