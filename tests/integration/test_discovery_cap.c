/*  test_discovery_cap.c - the cap on a node's links past full_links
    (max_links): a new link takes the place of the least recently used
    spare one, closed as by agreement (both ends see "unlinked"), and
    never an overlay link.

    Ten discovery nodes in one process, on loopback, with full_links 2:
    each node's overlay is 4 of the 9 others. Node 0, started last, has
    max_links 6: its overlay and two more. It wants links to three of
    the five others, one after another, and sends on each; the third
    takes the place of the first. Events are read with a poller and a deadline;
    no timing is asserted.
*/
#include "codec_peer.h"
#include "discoutil.h"
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
//  Node 0's overlay among ten (1 and 4 places both ways), the nodes
//  outside it, and its cap: the overlay and two more.
#define S_OVERLAY 4
#define S_OTHERS  (S_NODES - 1 - S_OVERLAY)
#define S_CAP     (S_OVERLAY + 2)
_Static_assert(S_NODES + 2 * S_STRANGERS <= DISCOUTIL_MAX_NODES,
               "no room for the strangers");

static discoutil_t s_disc;

static void
s_setup (void)
{
    discoutil_setup (&s_disc);
}

static void
s_teardown (void)
{
    discoutil_teardown (&s_disc);
}

//  Node 0's overlay among the ten, as a flag per node.
static void
s_overlay (bool *in)
{
    uint8_t ids[S_NODES][16], out[MESHQ_OVERLAY_MAX][16];
    for (int n = 0; n < S_NODES; n++)
        memcpy (ids[n], s_disc.nodes[n].id, 16);
    size_t count = meshq_overlay_pick (ids, S_NODES, s_disc.nodes[0].id, out);
    for (int n = 0; n < S_NODES; n++) {
        in[n] = false;
        for (size_t k = 0; k < count; k++)
            in[n] |= memcmp (out[k], s_disc.nodes[n].id, 16) == 0;
    }
}

static bool s_in[S_NODES];

//  Node 0 has its whole overlay up and nothing else.
static bool
s_just_overlay (discoutil_t *self, void *arg)
{
    (void)arg;
    for (int n = 1; n < S_NODES; n++)
        if (self->nodes[0].up[n] != s_in[n])
            return false;
    return true;
}

static bool
s_up (discoutil_t *self, void *arg)
{
    int n = *(int *)arg;
    return self->nodes[0].up[n];
}

static bool
s_down_at_both (discoutil_t *self, void *arg)
{
    int n = *(int *)arg;
    return !self->nodes[0].up[n] && !self->nodes[n].up[0];
}

static void
s_command (int i, const char *verb, const uint8_t *id)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, verb);
    zmsg_addmem (msg, id, 16);
    if (streq (verb, "SEND"))
        zmsg_addstr (msg, "WORK");
    zmsg_send (&msg, s_disc.nodes[i].actor);
    zmsg_t *reply = discoutil_reply (&s_disc.nodes[i], verb);
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
s_members (discoutil_t *self, void *arg)
{
    s_members_t *members = arg;
    return discoutil_stat (self, members->node, "members_alive") ==
           members->members;
}

//  Starts nodes 1 to 9, then node 0 with max_links 6 (its overlay of
//  4 and two more), waits until node 0 has just its overlay linked,
//  finds the five nodes outside it (others), and links node 0 to the
//  first two, using each in turn: the cap is reached, with two spare
//  links, others[0]'s used least recently.
static void
s_capped (int *others)
{
    for (int i = 1; i < S_NODES; i++) {
        meshq_peers_config_t config = discoutil_config (&s_disc, i);
        config.full_links = 2;
        discoutil_start (&s_disc, i, &config);
    }
    for (int i = 1; i < S_NODES; i++) {
        s_members_t members = {i, S_NODES - 2};
        cr_assert (discoutil_wait (&s_disc, s_members, &members),
                   "node %d not joined", i);
    }
    meshq_peers_config_t config = discoutil_config (&s_disc, 0);
    config.full_links = 2;
    config.max_links = S_CAP;
    discoutil_start (&s_disc, 0, &config);
    s_members_t members = {0, S_NODES - 1};
    cr_assert (discoutil_wait (&s_disc, s_members, &members),
               "node 0 not joined");
    s_overlay (s_in);
    int count = 0;
    for (int n = 1; n < S_NODES; n++)
        if (!s_in[n]) {
            cr_assert_lt (count, S_OTHERS);
            others[count++] = n;
        }
    cr_assert_eq (count, S_OTHERS);
    cr_assert (discoutil_wait (&s_disc, s_just_overlay, NULL),
               "node 0 does not have just its overlay linked");
    for (int k = 0; k < 2; k++) {
        s_command (0, "WANT", s_disc.nodes[others[k]].id);
        cr_assert (discoutil_wait (&s_disc, s_up, &others[k]),
                   "no link to node %d", others[k]);
        s_command (0, "SEND", s_disc.nodes[others[k]].id);
        //  A second unused makes a link spare; its peer's answers to
        //  the pings that follow data end the wait for a sign of life.
        discoutil_pump_for (&s_disc, 1500);
    }
    cr_expect_eq (discoutil_stat (&s_disc, 0, "links_evicted"), 0);
}

TestSuite (discovery_cap, .timeout = 120);

Test (discovery_cap, a_new_link_takes_the_least_recently_used_spare_one,
      .init = s_setup, .fini = s_teardown)
{
    int others[S_OTHERS];
    s_capped (others);
    //  The third takes the place of the first, used least recently.
    s_command (0, "WANT", s_disc.nodes[others[2]].id);
    cr_assert (discoutil_wait (&s_disc, s_up, &others[2]), "no link to node %d",
               others[2]);
    cr_assert (discoutil_wait (&s_disc, s_down_at_both, &others[0]),
               "the least recently used link is still up");
    cr_expect_str_eq (s_disc.nodes[0].reason[others[0]], "unlinked");
    cr_expect_str_eq (s_disc.nodes[others[0]].reason[0], "unlinked",
                      "its peer saw %s", s_disc.nodes[others[0]].reason[0]);
    cr_expect (s_disc.nodes[0].up[others[1]],
               "the link used more recently was closed");
    cr_expect_eq (discoutil_stat (&s_disc, 0, "links_evicted"), 1);
    cr_expect_leq (discoutil_stat (&s_disc, 0, "links_peak"), S_CAP);
    cr_expect_eq (discoutil_stat (&s_disc, 0, "links_max"), S_CAP);
    //  No overlay link went down.
    for (int n = 1; n < S_NODES; n++)
        if (s_in[n])
            cr_expect_eq (s_disc.nodes[0].downs[n], 0, "overlay node %d down",
                          n);
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
        uint8_t *stranger = s_disc.nodes[first + k].id;
        memset (stranger, 0x66, 16);
        stranger[15] = (uint8_t)(first + k);
        meshq_hello_t hello = {
            .protocol = MESHQ_PEER_PROTOCOL,
            .incarnation = s_wall_us (),
            .mesh = {s_disc.mesh, (uint32_t)strlen (s_disc.mesh)},
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
        cr_assert_eq (
            zsock_connect (dealers[k], "%s", s_disc.nodes[0].endpoint), 0);
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
    int others[S_OTHERS];
    s_capped (others);
    zsock_t *dealers[2 * S_STRANGERS];
    s_strangers (S_NODES, dealers);
    discoutil_pump_for (&s_disc, 500);
    uint64_t evicted = discoutil_stat (&s_disc, 0, "links_evicted");
    cr_expect_leq (evicted, 1, "%llu links closed by one burst",
                   (unsigned long long)evicted);
    cr_expect_geq (discoutil_stat (&s_disc, 0, "links_refused"),
                   S_STRANGERS - 1);
    discoutil_pump_for (&s_disc, 1500);
    s_strangers (S_NODES + S_STRANGERS, dealers + S_STRANGERS);
    discoutil_pump_for (&s_disc, 500);
    evicted = discoutil_stat (&s_disc, 0, "links_evicted");
    cr_expect_leq (evicted, 2, "%llu links closed by two bursts",
                   (unsigned long long)evicted);
    cr_expect_geq (discoutil_stat (&s_disc, 0, "links_refused"),
                   2 * (S_STRANGERS - 1));
    //  A link we want opens all the same, in place of a spare one.
    s_command (0, "WANT", s_disc.nodes[others[2]].id);
    cr_expect (discoutil_wait (&s_disc, s_up, &others[2]), "no link to node %d",
               others[2]);
    cr_expect_leq (discoutil_stat (&s_disc, 0, "links_peak"), S_CAP);
    for (int n = 1; n < S_NODES; n++)
        if (s_in[n])
            cr_expect_eq (s_disc.nodes[0].downs[n], 0, "overlay node %d down",
                          n);
    for (int k = 0; k < 2 * S_STRANGERS; k++)
        zsock_destroy (&dealers[k]);
}
