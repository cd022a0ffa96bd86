/*  test_discovery_cap.c - the cap on a node's links past full_links
    (max_links): a new link takes the place of the least recently used
    spare one, closed as by agreement (both ends see "unlinked"), and
    never an overlay link.

    Ten discovery nodes in one process, on loopback, with full_links 2:
    each node's overlay is 6 of the 9 others. Node 0, started last, has
    max_links 8: its overlay and two more. It wants links to the three
    others, one after another, and sends on each; the third takes the
    place of the first. Events are read with a poller and a deadline;
    no timing is asserted.
*/
#include "codec_peer.h"
#include "discovery.h"
#include "meshq.h"
#include "overlay.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <unistd.h>

//  Ten nodes, and room in the event tables for the strangers a test
//  plays.
#define S_NODES     10
#define S_STRANGERS 30
#define S_MAX_NODES (S_NODES + 2 * S_STRANGERS)
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

//  Pumps events for ms.
static void
s_pump_for (int ms)
{
    int64_t until = zclock_mono () + ms;
    while (zclock_mono () < until)
        s_pump (50);
}

//  Node 0's overlay among the ten, as a flag per node.
static void
s_overlay (bool *in)
{
    uint8_t ids[S_NODES][16], out[MESHQ_OVERLAY_MAX][16];
    for (int n = 0; n < S_NODES; n++)
        memcpy (ids[n], s_nodes[n].id, 16);
    size_t count = meshq_overlay_pick (ids, S_NODES, s_nodes[0].id, out);
    for (int n = 0; n < S_NODES; n++) {
        in[n] = false;
        for (size_t k = 0; k < count; k++)
            in[n] |= memcmp (out[k], s_nodes[n].id, 16) == 0;
    }
}

static bool s_in[S_MAX_NODES];

//  Node 0 has its whole overlay up and nothing else.
static bool
s_just_overlay (void *arg)
{
    (void)arg;
    for (int n = 1; n < S_NODES; n++)
        if (s_nodes[0].up[n] != s_in[n])
            return false;
    return true;
}

static bool
s_up (void *arg)
{
    int n = *(int *)arg;
    return s_nodes[0].up[n];
}

static bool
s_down_at_both (void *arg)
{
    int n = *(int *)arg;
    return !s_nodes[0].up[n] && !s_nodes[n].up[0];
}

static void
s_command (int i, const char *verb, const uint8_t *id)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, verb);
    zmsg_addmem (msg, id, 16);
    if (streq (verb, "SEND"))
        zmsg_addstr (msg, "WORK");
    zmsg_send (&msg, s_nodes[i].actor);
    zmsg_t *reply = s_reply (&s_nodes[i], verb);
    if (streq (verb, "SEND")) {
        char *rc = zmsg_popstr (reply);
        cr_assert_eq (atoi (rc), 0, "SEND: %s", rc);
        free (rc);
    }
    zmsg_destroy (&reply);
}

typedef struct {
    int node;
    uint64_t members;
} s_members_t;

static bool
s_members (void *arg)
{
    s_members_t *members = arg;
    return s_stat (members->node, "members_alive") == members->members;
}

//  Starts nodes 1 to 9, then node 0 with max_links 8 (its overlay of
//  6 and two more), waits until node 0 has just its overlay linked,
//  finds the three nodes outside it (others), and links node 0 to the
//  first two, using each in turn: the cap is reached, with two spare
//  links, others[0]'s used least recently.
static void
s_capped (int *others)
{
    for (int i = 1; i < S_NODES; i++) {
        meshq_peers_config_t config = s_config (i);
        config.full_links = 2;
        s_start (i, &config);
    }
    for (int i = 1; i < S_NODES; i++) {
        s_members_t members = {i, S_NODES - 2};
        cr_assert (s_wait (s_members, &members), "node %d not joined", i);
    }
    meshq_peers_config_t config = s_config (0);
    config.full_links = 2;
    config.max_links = 8;
    s_start (0, &config);
    s_members_t members = {0, S_NODES - 1};
    cr_assert (s_wait (s_members, &members), "node 0 not joined");
    s_overlay (s_in);
    int count = 0;
    for (int n = 1; n < S_NODES; n++)
        if (!s_in[n]) {
            cr_assert_lt (count, 3);
            others[count++] = n;
        }
    cr_assert_eq (count, 3);
    cr_assert (s_wait (s_just_overlay, NULL),
               "node 0 does not have just its overlay linked");
    for (int k = 0; k < 2; k++) {
        s_command (0, "WANT", s_nodes[others[k]].id);
        cr_assert (s_wait (s_up, &others[k]), "no link to node %d", others[k]);
        s_command (0, "SEND", s_nodes[others[k]].id);
        //  A second unused makes a link spare; its peer's answers to
        //  the pings that follow data end the wait for a sign of life.
        s_pump_for (1500);
    }
    cr_expect_eq (s_stat (0, "links_evicted"), 0);
}

TestSuite (discovery_cap, .timeout = 120);

Test (discovery_cap, a_new_link_takes_the_least_recently_used_spare_one,
      .init = s_setup, .fini = s_teardown)
{
    int others[3];
    s_capped (others);
    //  The third takes the place of the first, used least recently.
    s_command (0, "WANT", s_nodes[others[2]].id);
    cr_assert (s_wait (s_up, &others[2]), "no link to node %d", others[2]);
    cr_assert (s_wait (s_down_at_both, &others[0]),
               "the least recently used link is still up");
    cr_expect_str_eq (s_nodes[0].reason[others[0]], "unlinked");
    cr_expect_str_eq (s_nodes[others[0]].reason[0], "unlinked",
                      "its peer saw %s", s_nodes[others[0]].reason[0]);
    cr_expect (s_nodes[0].up[others[1]],
               "the link used more recently was closed");
    cr_expect_eq (s_stat (0, "links_evicted"), 1);
    cr_expect_leq (s_stat (0, "links_peak"), 8);
    cr_expect_eq (s_stat (0, "links_max"), 8);
    //  No overlay link went down.
    for (int n = 1; n < S_NODES; n++)
        if (s_in[n])
            cr_expect_eq (s_nodes[0].downs[n], 0, "overlay node %d down", n);
}

static uint64_t
s_wall_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
}

//  Strangers in slots first to first + S_STRANGERS - 1 of s_nodes (for
//  their events) each say HELLO to node 0 on a connection of their
//  own, all at once, naming an endpoint where nothing listens. Their
//  sockets go to dealers.
static void
s_strangers (int first, zsock_t **dealers)
{
    const char *nowhere = "tcp://127.0.0.1:9";
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    for (int k = 0; k < S_STRANGERS; k++) {
        uint8_t *stranger = s_nodes[first + k].id;
        memset (stranger, 0x66, 16);
        stranger[15] = (uint8_t)(first + k);
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
        meshq_buf_reset (&buf);
        cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
        dealers[k] = zsock_new (ZMQ_DEALER);
        uint8_t id[17] = {0x01};
        memcpy (id + 1, stranger, 16);
        zmq_setsockopt (zsock_resolve (dealers[k]), ZMQ_ROUTING_ID, id,
                        sizeof id);
        cr_assert_eq (zsock_connect (dealers[k], "%s", s_nodes[0].endpoint), 0);
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "HELLO");
        zmsg_addmem (msg, buf.data, buf.size);
        cr_assert_eq (zmsg_send (&msg, dealers[k]), 0);
    }
    meshq_buf_fini (&buf);
}

//  A peer that opens links to us in a loop (a bug, or a stranger in a
//  mesh without a secret): thirty HELLOs of new nodes at once, twice,
//  a little over a second apart. Each burst closes at most one of our
//  spare links, never an overlay link; the rest are refused and
//  counted; we never hold more links than the cap; and a link we want
//  still opens.
Test (discovery_cap, a_peer_opening_links_in_a_loop_closes_few, .init = s_setup,
      .fini = s_teardown)
{
    int others[3];
    s_capped (others);
    zsock_t *dealers[2 * S_STRANGERS];
    s_strangers (S_NODES, dealers);
    s_pump_for (500);
    uint64_t evicted = s_stat (0, "links_evicted");
    cr_expect_leq (evicted, 1, "%llu links closed by one burst",
                   (unsigned long long)evicted);
    cr_expect_geq (s_stat (0, "links_refused"), S_STRANGERS - 1);
    s_pump_for (1500);
    s_strangers (S_NODES + S_STRANGERS, dealers + S_STRANGERS);
    s_pump_for (500);
    evicted = s_stat (0, "links_evicted");
    cr_expect_leq (evicted, 2, "%llu links closed by two bursts",
                   (unsigned long long)evicted);
    cr_expect_geq (s_stat (0, "links_refused"), 2 * (S_STRANGERS - 1));
    //  A link we want opens all the same, in place of a spare one.
    s_command (0, "WANT", s_nodes[others[2]].id);
    cr_expect (s_wait (s_up, &others[2]), "no link to node %d", others[2]);
    cr_expect_leq (s_stat (0, "links_peak"), 8);
    for (int n = 1; n < S_NODES; n++)
        if (s_in[n])
            cr_expect_eq (s_nodes[0].downs[n], 0, "overlay node %d down", n);
    for (int k = 0; k < 2 * S_STRANGERS; k++)
        zsock_destroy (&dealers[k]);
}
