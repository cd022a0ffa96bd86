/*  test_discovery_vhosts.c - two nodes in one process, each with a
    default vhost's peers module (beacons and the membership) and a
    second vhost's that runs none and follows the first: the second
    beacons nothing, links when introduced, shows the membership's view
    of its peers, goes down at once when told that a member is gone,
    links again when introduced again, and takes the membership's word
    over a link that still works.

    Both nodes run on one zloop, stopped by a check every 10 ms or by a
    deadline; no timings are asserted.
*/
#include "peers.h"
#include "testutil.h"

#include <criterion/criterion.h>

#define S_WAIT_MS 20000

typedef struct {
    meshq_peers_t *root;  //  The default vhost's: the membership.
    meshq_peers_t *blue;  //  Another vhost's: none of its own.
    int ups, downs;       //  blue's events about the other node.
    char reason[64];      //  Its last down's reason.
    int gone;             //  Members root said were gone.
    bool forward;         //  Pass them on to blue, as the agent does.
} s_node_t;

static s_node_t s_nodes[2];
static zloop_t *s_loop;

static void
s_on_blue (void *arg, meshq_peer_event_t event, const meshq_peer_info_t *peer,
           zmsg_t **msg_p)
{
    (void)peer;
    (void)msg_p;
    s_node_t *node = arg;
    if (event == MESHQ_PEER_UP)
        node->ups++;
    else if (event == MESHQ_PEER_DOWN) {
        node->downs++;
        snprintf (node->reason, sizeof node->reason, "%s", peer->reason);
    }
}

static void
s_on_gone (void *arg, const uint8_t node_id[16], uint64_t incarnation,
           bool left)
{
    (void)incarnation;
    s_node_t *node = arg;
    node->gone++;
    if (node->forward)
        meshq_peers_member_gone (node->blue, node_id, left);
}

static void
s_start (int i, const char *mesh, uint16_t beacon_port)
{
    meshq_peers_config_t config = {
        .name = i ? "y" : "x",
        .mesh = mesh,
        .interface = "lo",
        .beacon_port = beacon_port,
        .beacon_interval_ms = 100,
        .heartbeat_ms = 100,
        .peer_timeout_ms = 1000,
    };
    config.node[0] = 0xb1;
    config.node[15] = (uint8_t)(i + 1);
    s_node_t *node = &s_nodes[i];
    memset (node, 0, sizeof *node);
    node->root = meshq_peers_new (&config);
    meshq_peers_set_gone (node->root, s_on_gone, node);
    config.vhost = "blue";
    config.no_membership = true;
    node->blue = meshq_peers_new (&config);
    meshq_peers_set_handler (node->blue, s_on_blue, node);
    meshq_peers_follow (node->blue, node->root);
    const char *why;
    cr_assert_eq (meshq_peers_start (node->root, s_loop, &why), 0, "%s", why);
    cr_assert_eq (meshq_peers_start (node->blue, s_loop, &why), 0, "%s", why);
}

//  Introduces node i's blue to the other's.
static void
s_introduce (int i)
{
    meshq_peers_t *other = s_nodes[1 - i].blue;
    cr_assert_eq (meshq_peers_introduce (s_nodes[i].blue,
                                         meshq_peers_node (other),
                                         meshq_peers_incarnation (other),
                                         meshq_peers_endpoint (other)),
                  0);
}

typedef bool (s_cond_fn) (void);
static s_cond_fn *s_cond;

static int
s_check (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    return s_cond () ? -1 : 0;
}

static int
s_deadline (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    return -1;
}

//  Runs the loop until cond holds, at most S_WAIT_MS; returns cond.
static bool
s_run_until (s_cond_fn *cond)
{
    s_cond = cond;
    if (cond ())
        return true;
    int check = zloop_timer (s_loop, 10, 0, s_check, NULL);
    int deadline = zloop_timer (s_loop, S_WAIT_MS, 1, s_deadline, NULL);
    zloop_start (s_loop);
    zloop_timer_end (s_loop, check);
    zloop_timer_end (s_loop, deadline);
    return cond ();
}

static const char *
s_blue_state (int i, const char **member)
{
    const meshq_peer_info_t *peer = meshq_peers_lookup (
        s_nodes[i].blue, meshq_peers_node (s_nodes[1 - i].blue));
    if (member)
        *member = peer ? peer->member : "none";
    return peer ? peer->state : "none";
}

static bool
s_blue_up (void)
{
    return streq (s_blue_state (0, NULL), "up") &&
           streq (s_blue_state (1, NULL), "up");
}

static bool
s_blue_alive (void)
{
    const char *member;
    return streq (s_blue_state (0, &member), "up") && streq (member, "alive");
}

static bool
s_blue_down (void)
{
    return streq (s_blue_state (0, NULL), "down");
}

static void
s_setup (void)
{
    s_loop = zloop_new ();
}

static void
s_teardown (void)
{
    for (int i = 0; i < 2; i++) {
        meshq_peers_destroy (&s_nodes[i].blue);
        meshq_peers_destroy (&s_nodes[i].root);
    }
    zloop_destroy (&s_loop);
}

Test (discovery_vhosts, a_vhost_follows_the_default_vhosts_membership,
      .init = s_setup, .fini = s_teardown, .timeout = 120)
{
    char mesh[64];
    snprintf (mesh, sizeof mesh, "vhosts-%d-%lld", (int)getpid (),
              (long long)zclock_usecs ());
    uint16_t port = testutil_udp_port ();
    cr_assert_neq (port, 0);
    s_start (0, mesh, port);
    s_start (1, mesh, port);
    cr_expect_not (meshq_peers_has_membership (s_nodes[0].blue));
    cr_expect_str_eq (meshq_peers_transport (s_nodes[0].blue), "none");
    //  Introduced (as VHOST does), the blue modules link.
    s_introduce (0);
    s_introduce (1);
    cr_assert (s_run_until (s_blue_up), "blue never linked");
    //  Their lists carry the default vhost's membership's view.
    cr_assert (s_run_until (s_blue_alive), "blue does not show it alive");
    for (int i = 0; i < 2; i++) {
        cr_expect_eq (meshq_peers_stats (s_nodes[i].blue)->beacons_sent, 0);
        cr_expect_gt (meshq_peers_stats (s_nodes[i].root)->beacons_sent, 0);
    }
    //  Told that the member is gone: down at once, and the same start
    //  links again when introduced again.
    meshq_peers_member_gone (s_nodes[0].blue,
                             meshq_peers_node (s_nodes[1].blue), false);
    cr_expect_str_eq (s_blue_state (0, NULL), "down");
    cr_expect_eq (s_nodes[0].downs, 1);
    cr_expect_str_eq (s_nodes[0].reason, "declared dead by the membership");
    s_introduce (0);
    cr_assert (s_run_until (s_blue_up), "blue never linked again");
    cr_expect_eq (s_nodes[0].ups, 2);
    //  Node 1's membership goes (no goodbye) while its blue link still
    //  works: node 0's membership declares it dead, and node 0's blue
    //  follows.
    s_nodes[0].forward = true;
    meshq_peers_stop (s_nodes[1].root, false);
    cr_assert (s_run_until (s_blue_down), "blue kept a member gone");
    cr_expect_geq (s_nodes[0].gone, 1);
    cr_expect_eq (s_nodes[0].downs, 2);
    cr_expect_str_eq (s_nodes[0].reason, "declared dead by the membership");
}
