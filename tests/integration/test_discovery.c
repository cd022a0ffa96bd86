/*  test_discovery.c - discovery nodes in one process, on loopback: they
    find each other, notice one die, hang, leave or restart, converge
    through seeds without beacons, and keep to their own mesh.

    Every node is a meshq_discovery actor, run by discoutil.h. The test
    reads their events with a poller and a deadline; it never sleeps,
    and asserts no timings. Each test uses its own beacon port and mesh
    name.
*/
#include "beacon.h"
#include "codec_peer.h"
#include "codec_swim.h"
#include "discoutil.h"
#include "discovery.h"
#include "meshq.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <criterion/criterion.h>
#include <unistd.h>

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

static void
s_start_default (int i)
{
    meshq_peers_config_t config = discoutil_config (&s_disc, i);
    char name[16];
    snprintf (name, sizeof name, "n%d", i);
    config.name = name;
    discoutil_start (&s_disc, i, &config);
}

//  True when the counter is down to its value, or lower.
static bool
s_counter_down_to (discoutil_t *self, void *arg)
{
    discoutil_counter_t *counter = arg;
    return discoutil_stat (self, counter->node, counter->name) <=
           counter->value;
}

Test (discovery, five_nodes_reach_full_membership, .init = s_setup,
      .fini = s_teardown)
{
    for (int i = 0; i < 5; i++)
        s_start_default (i);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL),
               "no full membership");
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            if (i != j) {
                cr_expect_eq (s_disc.nodes[i].ups[j], 1);
                cr_expect_eq (s_disc.nodes[i].up_incarnation[j],
                              s_disc.nodes[j].incarnation);
            }
}

Test (discovery, a_full_membership_table_counts_the_members_it_drops,
      .init = s_setup, .fini = s_teardown)
{
    //  Node 0 has room for two others: its membership drops the third
    //  it hears of, and counts it, again each time it hears of it.
    meshq_peers_config_t config = discoutil_config (&s_disc, 0);
    config.name = "n0";
    config.max_peers = 2;
    discoutil_start (&s_disc, 0, &config);
    for (int i = 1; i < 4; i++)
        s_start_default (i);
    discoutil_counter_t full = {0, "members_full", 1};
    cr_assert (discoutil_wait (&s_disc, discoutil_counter_reached, &full),
               "no member dropped");
    discoutil_counter_t members = {0, "members_alive", 2};
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &members));
    cr_expect_eq (discoutil_stat (&s_disc, 0, "members_alive"), 2);
    //  The others have room: none dropped, nothing pushed out of a
    //  gossip queue of 1,024 by a mesh of four.
    for (int i = 1; i < 4; i++) {
        cr_expect_eq (discoutil_stat (&s_disc, i, "members_full"), 0);
        cr_expect_eq (discoutil_stat (&s_disc, i, "gossip_dropped"), 0);
    }
}

Test (discovery, a_killed_node_is_reported_down_by_the_others, .init = s_setup,
      .fini = s_teardown)
{
    for (int i = 0; i < 5; i++)
        s_start_default (i);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    //  The membership has the four others (its count is refreshed each
    //  tick).
    discoutil_counter_t members = {0, "members_alive", 4};
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &members));
    int dead = 4;
    discoutil_kill (&s_disc, dead);
    cr_assert (discoutil_wait (&s_disc, discoutil_gone, &dead),
               "not reported down everywhere");
    //  The membership comes to the same count. (A datagram the dead node
    //  sent with a newer refutation than a survivor had heard, read after
    //  that survivor declared it dead, brings it back there until it is
    //  suspected again: the count may take a suspicion timeout.)
    discoutil_counter_t members_left = {0, "members_alive", 3};
    cr_expect (discoutil_wait (&s_disc, s_counter_down_to, &members_left),
               "%" PRIu64 " members alive",
               discoutil_stat (&s_disc, 0, "members_alive"));
    for (int i = 0; i < 4; i++) {
        cr_expect_eq (s_disc.nodes[i].downs[dead], 1);
        //  Its connection went, and nothing listens there any more: the
        //  first survivor to see that tells the others through the
        //  membership, which may reach them before their own probe does.
        //  On a loaded machine the membership's suspicion, confirmed by
        //  every survivor, may end before any probe is read, or the link
        //  that waits for a sign of life since its connection went
        //  decides (docs/DISCOVERY.md, "Failure detection, in layers").
        const char *reason = s_disc.nodes[i].reason[dead];
        cr_expect (streq (reason, "connection refused") ||
                       streq (reason, "declared dead by the membership") ||
                       streq (reason, "heartbeat timeout"),
                   "node %d: down for '%s'", i, reason);
        for (int j = 0; j < 4; j++)
            cr_expect_eq (s_disc.nodes[i].downs[j], 0, "false down");
    }
}

//  Alone with a dead peer, no suspicion is confirmed by others and the
//  membership waits its longest: the refused connection is what takes
//  the peer down, at once.
Test (discovery, nothing_listening_where_a_peer_was_takes_it_down_at_once,
      .init = s_setup, .fini = s_teardown)
{
    for (int i = 0; i < 2; i++) {
        meshq_peers_config_t config = discoutil_config (&s_disc, i);
        //  Suspicions of 3.2 s, heartbeat timeouts of 10 s.
        config.peer_timeout_ms = 10000;
        char name[16];
        snprintf (name, sizeof name, "n%d", i);
        config.name = name;
        discoutil_start (&s_disc, i, &config);
    }
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    int dead = 1;
    int64_t killed = zclock_mono ();
    discoutil_kill (&s_disc, dead);
    cr_assert (discoutil_wait (&s_disc, discoutil_gone, &dead),
               "not reported down");
    cr_expect_str_eq (s_disc.nodes[0].reason[dead], "connection refused",
                      "down after %" PRId64 " ms", zclock_mono () - killed);
    cr_expect_eq (s_disc.nodes[0].downs[dead], 1);
}

//  Each survivor saw the restarted node up, down, and up again with a
//  higher incarnation.
static void
s_expect_restart_seen (int restarted, uint64_t old_incarnation)
{
    for (int i = 0; i < s_disc.count; i++) {
        if (i == restarted)
            continue;
        char expected[256];
        snprintf (expected, sizeof expected,
                  "U%" PRIu64 " D%" PRIu64 " U%" PRIu64 " ", old_incarnation,
                  old_incarnation, s_disc.nodes[restarted].incarnation);
        cr_expect_str_eq (s_disc.nodes[i].trail[restarted], expected,
                          "node %d saw '%s'", i,
                          s_disc.nodes[i].trail[restarted]);
    }
    cr_expect_gt (s_disc.nodes[restarted].incarnation, old_incarnation,
                  "%" PRIu64 " after %" PRIu64,
                  s_disc.nodes[restarted].incarnation, old_incarnation);
}

Test (discovery, a_restarted_node_is_seen_as_a_new_incarnation, .init = s_setup,
      .fini = s_teardown)
{
    for (int i = 0; i < 5; i++)
        s_start_default (i);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    uint64_t old = s_disc.nodes[4].incarnation;
    //  Restarted at once, before the others noticed it die: they learn
    //  of the restart from its beacon or HELLO.
    discoutil_kill (&s_disc, 4);
    s_start_default (4);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    s_expect_restart_seen (4, old);
}

Test (discovery, a_node_restarted_after_it_was_noticed_comes_back,
      .init = s_setup, .fini = s_teardown)
{
    for (int i = 0; i < 3; i++)
        s_start_default (i);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    uint64_t old = s_disc.nodes[2].incarnation;
    int dead = 2;
    discoutil_kill (&s_disc, dead);
    cr_assert (discoutil_wait (&s_disc, discoutil_gone, &dead));
    s_start_default (2);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    s_expect_restart_seen (2, old);
}

Test (discovery, a_hung_node_is_caught_by_the_membership_and_comes_back,
      .init = s_setup, .fini = s_teardown)
{
    for (int i = 0; i < 3; i++)
        s_start_default (i);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    int hung = 2;
    zstr_send (s_disc.nodes[hung].actor, "FREEZE");
    zmsg_t *reply = discoutil_reply (&s_disc.nodes[hung], "FREEZE");
    zmsg_destroy (&reply);
    //  Its connections stay open and idle: only its silence to the
    //  membership's probes gives it away. Its events are not read while
    //  it hangs (discoutil_gone skips nothing: it only looks at the others).
    zactor_t *actor = s_disc.nodes[hung].actor;
    s_disc.nodes[hung].actor = NULL;
    cr_assert (discoutil_wait (&s_disc, discoutil_gone, &hung),
               "a hung node was not declared down");
    for (int i = 0; i < 2; i++)
        cr_expect_str_eq (s_disc.nodes[i].reason[hung],
                          "declared dead by the membership");
    s_disc.nodes[hung].actor = actor;
    zstr_send (actor, "THAW");
    reply = discoutil_reply (&s_disc.nodes[hung], "THAW");
    zmsg_destroy (&reply);
    //  Back: down, then up again, on both sides.
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL),
               "the thawed node did not come back");
    for (int i = 0; i < 2; i++) {
        cr_expect_eq (s_disc.nodes[i].ups[hung], 2);
        cr_expect_eq (s_disc.nodes[i].downs[hung], 1);
        cr_expect_eq (s_disc.nodes[hung].ups[i],
                      s_disc.nodes[hung].downs[i] + 1);
    }
}

Test (discovery, a_node_that_leaves_says_bye, .init = s_setup,
      .fini = s_teardown)
{
    for (int i = 0; i < 3; i++)
        s_start_default (i);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    int gone = 2;
    zactor_destroy (&s_disc.nodes[gone].actor);
    cr_assert (discoutil_wait (&s_disc, discoutil_gone, &gone));
    for (int i = 0; i < 2; i++)
        cr_expect_str_eq (s_disc.nodes[i].reason[gone], "left");
}

Test (discovery, seeds_converge_to_a_full_mesh_without_beacons, .init = s_setup,
      .fini = s_teardown)
{
    meshq_peers_config_t config = discoutil_config (&s_disc, 0);
    config.no_beacon = true;
    config.name = "seed";
    discoutil_start (&s_disc, 0, &config);
    for (int i = 1; i < 5; i++) {
        config = discoutil_config (&s_disc, i);
        config.no_beacon = true;
        config.seeds = s_disc.nodes[0].endpoint;
        discoutil_start (&s_disc, i, &config);
    }
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL),
               "seeds did not converge");
    //  Each session started once: no HELLO went back and forth.
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            if (i != j) {
                cr_expect_eq (s_disc.nodes[i].ups[j], 1, "%d saw %d", i, j);
                cr_expect_eq (s_disc.nodes[i].downs[j], 0, "%d saw %d", i, j);
            }
    //  Nodes 1..4 found each other through gossip alone.
    cr_expect_eq (discoutil_stat (&s_disc, 1, "beacons_received"), 0);
    cr_expect_eq (discoutil_stat (&s_disc, 1, "beacons_sent"), 0);
}

//  A seed may name its host: "localhost" resolves (in the interface's
//  family, IPv4 on lo) to where node 0 listens.
Test (discovery, a_seed_by_host_name_finds_its_node, .init = s_setup,
      .fini = s_teardown)
{
    meshq_peers_config_t config = discoutil_config (&s_disc, 0);
    config.no_beacon = true;
    discoutil_start (&s_disc, 0, &config);
    const char *port = strrchr (s_disc.nodes[0].endpoint, ':');
    cr_assert_not_null (port);
    char seeds[64];
    snprintf (seeds, sizeof seeds, "tcp://localhost%s", port);
    config = discoutil_config (&s_disc, 1);
    config.no_beacon = true;
    config.seeds = seeds;
    discoutil_start (&s_disc, 1, &config);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL),
               "the seed by name was not reached");
    cr_expect_eq (discoutil_stat (&s_disc, 1, "beacons_received"), 0);
}

Test (discovery, other_meshes_and_vhosts_never_join, .init = s_setup,
      .fini = s_teardown)
{
    s_start_default (0);
    s_start_default (1);
    meshq_peers_config_t config = discoutil_config (&s_disc, 2);
    char other[80];
    snprintf (other, sizeof other, "%s-other", s_disc.mesh);
    config.mesh = other;
    discoutil_start (&s_disc, 2, &config);
    config = discoutil_config (&s_disc, 3);
    config.vhost = "/other";
    discoutil_start (&s_disc, 3, &config);
    //  0 and 1 meet; 2 and 3 hear their beacons and drop them.
    int64_t deadline = zclock_mono () + DISCOUTIL_WAIT_MS;
    while (!(s_disc.nodes[0].up[1] && s_disc.nodes[1].up[0]) &&
           zclock_mono () < deadline)
        discoutil_pump (&s_disc, 50);
    cr_assert (s_disc.nodes[0].up[1] && s_disc.nodes[1].up[0]);
    discoutil_counter_t heard2 = {2, "beacons_dropped.mesh", 2};
    discoutil_counter_t heard3 = {3, "beacons_dropped.mesh", 2};
    cr_assert (discoutil_wait (&s_disc, discoutil_counter_reached, &heard2));
    cr_assert (discoutil_wait (&s_disc, discoutil_counter_reached, &heard3));
    discoutil_pump (&s_disc, 0);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if ((i < 2) != (j < 2) || (i >= 2 && j >= 2 && i != j))
                cr_expect_eq (s_disc.nodes[i].ups[j], 0, "%d saw %d", i, j);
}

Test (discovery, application_frames_flow_between_up_peers, .init = s_setup,
      .fini = s_teardown)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    zmsg_t *send = zmsg_new ();
    zmsg_addstr (send, "SEND");
    zmsg_addmem (send, s_disc.nodes[1].id, 16);
    zmsg_addstr (send, "CREDIT");
    zmsg_addmem (send, "\x81\xa1q\xa4jobs", 7);
    zmsg_send (&send, s_disc.nodes[0].actor);
    zmsg_t *reply = discoutil_reply (&s_disc.nodes[0], "SEND");
    char *rc = zmsg_popstr (reply);
    cr_expect_eq (atoi (rc), 0);
    free (rc);
    zmsg_destroy (&reply);
    int64_t deadline = zclock_mono () + DISCOUTIL_WAIT_MS;
    while (zlist_size (s_disc.nodes[1].messages) == 0 &&
           zclock_mono () < deadline)
        discoutil_pump (&s_disc, 50);
    zmsg_t *got = zlist_pop (s_disc.nodes[1].messages);
    cr_assert_not_null (got);
    zframe_t *from = zmsg_pop (got);
    cr_expect_eq (memcmp (zframe_data (from), s_disc.nodes[0].id, 16), 0);
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
                 {s_disc.nodes[1].id, "HELLO", MESHQ_EINVAL},
                 {s_disc.nodes[1].id, "lower", MESHQ_EINVAL}};
    for (size_t i = 0; i < 3; i++) {
        send = zmsg_new ();
        zmsg_addstr (send, "SEND");
        zmsg_addmem (send, cases[i].to, 16);
        zmsg_addstr (send, cases[i].verb);
        zmsg_send (&send, s_disc.nodes[0].actor);
        reply = discoutil_reply (&s_disc.nodes[0], "SEND");
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
    cr_assert_eq (zsock_connect (dealer, "%s", s_disc.nodes[0].endpoint), 0);
    return dealer;
}

Test (discovery, frames_from_strangers_are_counted_and_dropped, .init = s_setup,
      .fini = s_teardown)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
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
    discoutil_counter_t not_up = {0, "frames_dropped.not_up", 2};
    discoutil_counter_t command = {0, "frames_dropped.command", 1};
    discoutil_counter_t malformed = {0, "frames_dropped.malformed", 1};
    discoutil_counter_t routing = {0, "frames_dropped.routing_id", 2};
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &not_up));
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &command));
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &malformed));
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &routing));
    zsock_destroy (&known);
    zsock_destroy (&odd);
    zsock_destroy (&short_id);
    //  And the node is still at work: node 1 stays up, no false down.
    discoutil_pump (&s_disc, 0);
    cr_expect (s_disc.nodes[0].up[1] && s_disc.nodes[1].up[0]);
    cr_expect_eq (s_disc.nodes[0].downs[1], 0);
}

Test (discovery, a_stray_hello_between_up_nodes_never_echoes, .init = s_setup,
      .fini = s_teardown)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    //  One more HELLO of node 1's (as a link queues it while packets are
    //  dropped), in the form agents sent before sessions were numbered.
    meshq_hello_t hello = {
        .protocol = MESHQ_PEER_PROTOCOL,
        .incarnation = s_disc.nodes[1].incarnation,
        .name = {"n1", 2},
        .mesh = {s_disc.mesh, (uint32_t)strlen (s_disc.mesh)},
        .vhost = {"/", 1},
        .endpoint = {s_disc.nodes[1].endpoint,
                     (uint32_t)strlen (s_disc.nodes[1].endpoint)},
        .heartbeat_ms = 100,
        .timeout_ms = 10000,
    };
    memcpy (hello.node, s_disc.nodes[1].id, 16);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
    //  Past the heartbeat after the session started: a restart by node 1
    //  as far as node 0 can tell.
    discoutil_pump_for (&s_disc, 300);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    uint8_t id[17] = {0x01};
    memcpy (id + 1, s_disc.nodes[1].id, 16);
    zmq_setsockopt (zsock_resolve (dealer), ZMQ_ROUTING_ID, id, sizeof id);
    zsock_set_linger (dealer, 1000);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "HELLO");
    zmsg_addmem (msg, buf.data, buf.size);
    cr_assert_eq (zsock_connect (dealer, "%s", s_disc.nodes[0].endpoint), 0);
    cr_assert_eq (zmsg_send (&msg, dealer), 0);
    //  Node 0 restarts the session once; its answer is a HELLO of a
    //  session node 1 is in already, which changes nothing there.
    discoutil_counter_t restarted = {0, "peer_down_events", 1};
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &restarted));
    //  Gone at once: with node 1's routing id, it takes the ROUTER's
    //  route over from node 1's own link, which then takes it back.
    zsock_destroy (&dealer);
    discoutil_pump_for (&s_disc, 2000);
    cr_expect_leq (discoutil_stat (&s_disc, 0, "peer_down_events"), 1);
    cr_expect_eq (discoutil_stat (&s_disc, 1, "peer_down_events"), 0);
    cr_expect_geq (discoutil_stat (&s_disc, 1, "frames_dropped.duplicate"), 1);
    cr_expect (s_disc.nodes[0].up[1] && s_disc.nodes[1].up[0]);
    meshq_buf_fini (&buf);
}

//  Sends a beacon to the nodes' beacon port, as anyone on the network
//  can.
static void
s_forge_beacon (const uint8_t node[16], uint64_t incarnation, uint16_t port)
{
    meshq_beacon_t beacon = {.incarnation = incarnation, .port = port};
    memcpy (beacon.node, node, 16);
    meshq_beacon_mesh_id (s_disc.mesh, "/", beacon.mesh);
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
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons (s_disc.port)};
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
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
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
            discoutil_pump (&s_disc, 20);
    }
    discoutil_counter_t received = {0, "beacons_received", 2000};
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &received));
    //  Still at work, with node 1 up all along, and no socket more.
    discoutil_pump (&s_disc, 500);
    cr_expect_leq (s_open_fds (), fds + 8, "%zu descriptors open, %zu before",
                   s_open_fds (), fds);
    cr_expect (s_disc.nodes[0].up[1] && s_disc.nodes[1].up[0]);
    cr_expect_eq (s_disc.nodes[0].downs[1], 0);
}

Test (discovery, a_beacon_cannot_take_a_live_peer_down, .init = s_setup,
      .fini = s_teardown)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    //  Node 1's id with a later incarnation, and with the largest one.
    s_forge_beacon (s_disc.nodes[1].id, s_disc.nodes[1].incarnation + 1000000,
                    9);
    s_forge_beacon (s_disc.nodes[1].id, UINT64_MAX, 9);
    discoutil_pump_for (&s_disc, 1500);
    cr_expect (s_disc.nodes[0].up[1], "node 1 is not up on node 0");
    cr_expect_eq (s_disc.nodes[0].downs[1], 0);
    cr_expect_eq (discoutil_stat (&s_disc, 0, "beacons_dropped.future"), 1);
    //  And its own restart is still seen as one.
    uint64_t old = s_disc.nodes[1].incarnation;
    discoutil_kill (&s_disc, 1);
    s_start_default (1);
    cr_expect (discoutil_wait (&s_disc, discoutil_full, NULL));
    cr_expect_eq (s_disc.nodes[0].up_incarnation[1],
                  s_disc.nodes[1].incarnation);
    cr_expect_neq (s_disc.nodes[1].incarnation, old);
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
        meshq_peers_config_t config = discoutil_config (&s_disc, i);
        config.name = i ? "n1" : "n0";
        config.curve_public = zcert_public_txt (cert);
        config.curve_secret = zcert_secret_txt (cert);
        discoutil_start (&s_disc, i, &config);
    }
    //  Sealed beacons: they find each other.
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    //  Plain beacons of a new node, and sealed ones under another key.
    uint8_t node[16];
    memset (node, 0x3c, sizeof node);
    s_forge_beacon (node, s_wall_us (), 9);
    meshq_beacon_t beacon = {.incarnation = s_wall_us (), .port = 9};
    memcpy (beacon.node, node, 16);
    meshq_beacon_mesh_id (s_disc.mesh, "/", beacon.mesh);
    uint8_t key[MESHQ_BEACON_KEY_SIZE] = {1, 2, 3};
    uint8_t sealed[MESHQ_BEACON_SEALED_SIZE];
    meshq_beacon_seal (&beacon, key, sealed);
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    struct in_addr loopback = {.s_addr = htonl (INADDR_LOOPBACK)};
    setsockopt (fd, IPPROTO_IP, IP_MULTICAST_IF, &loopback, sizeof loopback);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons (s_disc.port)};
    inet_pton (AF_INET, "239.255.56.80", &to.sin_addr);
    cr_assert_eq (sendto (fd, sealed, sizeof sealed, 0, (struct sockaddr *)&to,
                          sizeof to),
                  (ssize_t)sizeof sealed);
    close (fd);
    discoutil_counter_t refused = {0, "beacons_dropped.auth", 2};
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &refused));
    //  Neither opened a try: the node was never taken as a beacon's.
    cr_expect_eq (discoutil_stat (&s_disc, 0, "beacons_dropped.pending"), 0);
    discoutil_pump (&s_disc, 200);
    cr_expect (s_disc.nodes[0].up[1] && s_disc.nodes[1].up[0]);
    zcert_destroy (&cert);
    s_teardown ();
    zactor_destroy (&auth);
}

//  Sends node i's membership socket (UDP, at its ROUTER's port) the
//  SWIM message msg with count updates, as a member of no secret's
//  mesh can.
static void
s_send_swim (int i, meshq_swim_msg_t *msg, const meshq_swim_update_t *updates,
             uint32_t count)
{
    const char *colon = strrchr (s_disc.nodes[i].endpoint, ':');
    cr_assert_not_null (colon);
    uint16_t port = (uint16_t)atoi (colon + 1);
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons (port)};
    inet_pton (AF_INET, "127.0.0.1", &to.sin_addr);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    uint8_t mesh_id[16];
    meshq_beacon_mesh_id (s_disc.mesh, "/", mesh_id);
    meshq_buf_append (&buf, mesh_id, sizeof mesh_id);
    cr_assert_eq (meshq_codec_swim_encode (&buf, msg, updates, count), 0);
    sendto (fd, buf.data, buf.size, 0, (struct sockaddr *)&to, sizeof to);
    meshq_buf_fini (&buf);
    close (fd);
}

//  A forged member's record: id all byte, at nowhere (127.0.0.1 port 9).
static meshq_swim_update_t
s_nowhere (uint8_t byte)
{
    static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    meshq_swim_update_t record = {.incarnation = 1, .port = 9};
    memcpy (record.ip, v4, 12);
    record.ip[12] = 127;
    record.ip[15] = 1;
    memset (record.id, byte, 16);
    return record;
}

//  Sends node i GOSSIP datagrams from a forged member naming count
//  members at nowhere, each with first_id + n in its id.
static void
s_forge_members (int i, uint32_t first_id, uint32_t count)
{
    meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_GOSSIP,
                            .from = s_nowhere (0x55)};
    static meshq_swim_update_t updates[MESHQ_SWIM_UPDATES_MAX];
    for (uint32_t n = 0; n < count;) {
        uint32_t batch = 0;
        for (; batch < MESHQ_SWIM_UPDATES_MAX && n < count; batch++, n++) {
            updates[batch] = s_nowhere (0x44);
            uint32_t id = first_id + n;
            memcpy (updates[batch].id, &id, sizeof id);
        }
        s_send_swim (i, &msg, updates, batch);
    }
}

Test (discovery, a_flood_of_suspicions_is_answered_within_bounds,
      .init = s_setup, .fini = s_teardown)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    //  A stranger (no mesh secret here) says 200 times in a row that it
    //  suspects node 0, each time at the version node 0 last refuted:
    //  each is a new refutation, whose answer is due to the stranger.
    meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_GOSSIP,
                            .from = s_nowhere (0x77)};
    for (uint32_t v = 0; v < 200; v++) {
        meshq_swim_update_t us = s_nowhere (0);
        memcpy (us.id, s_disc.nodes[0].id, 16);
        us.incarnation = s_disc.nodes[0].incarnation;
        us.version = v;
        us.state = MESHQ_SWIM_SUSPECT;
        us.has_by = true;
        memset (us.by, 0x77, 16);
        s_send_swim (0, &msg, &us, 1);
    }
    //  Most answers are held (four a probe interval go), counted; node
    //  0 lives on, and node 1 still has it up.
    discoutil_counter_t held = {0, "answers_held", 100};
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &held),
               "answers held: %" PRIu64,
               discoutil_stat (&s_disc, 0, "answers_held"));
    discoutil_pump (&s_disc, 500);
    cr_expect (s_disc.nodes[0].up[1] && s_disc.nodes[1].up[0]);
    cr_expect_eq (s_disc.nodes[1].downs[0], 0);
}

Test (discovery, forged_peers_and_members_open_few_sockets_and_crash_nothing,
      .init = s_setup, .fini = s_teardown, .timeout = 120)
{
    s_start_default (0);
    s_start_default (1);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    //  Without a mesh secret anyone can say HELLO and be up; then it
    //  sends lists of 1,000 nodes nobody runs.
    uint8_t stranger[16];
    memset (stranger, 0x66, sizeof stranger);
    //  Its events are read like a node's.
    memcpy (s_disc.nodes[DISCOUTIL_MAX_NODES - 1].id, stranger, 16);
    const char *nowhere = "tcp://127.0.0.1:9";
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
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    uint8_t id[17] = {0x01};
    memcpy (id + 1, stranger, 16);
    zmq_setsockopt (zsock_resolve (dealer), ZMQ_ROUTING_ID, id, sizeof id);
    cr_assert_eq (zsock_connect (dealer, "%s", s_disc.nodes[0].endpoint), 0);
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
    discoutil_counter_t members = {0, "members_alive", 500};
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &members));
    discoutil_pump (&s_disc, 1000);
    cr_expect_leq (s_open_fds (), fds + 128, "%zu descriptors open, %zu before",
                   s_open_fds (), fds);
    cr_expect (s_disc.nodes[0].up[1] && s_disc.nodes[1].up[0]);
    cr_expect_eq (s_disc.nodes[0].downs[1], 0);
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
    discoutil_pump (&s_disc, 300);
    size_t fds = s_open_fds ();
    s_forge_members (0, 0, 40);
    discoutil_counter_t members = {0, "members_alive", 40};
    cr_assert (discoutil_wait (&s_disc, discoutil_counter_reached, &members));
    //  Every member is listed, tries to it under way or not (they are
    //  not links up): list_peers shows it alive.
    uint64_t alive = discoutil_stat (&s_disc, 0, "members_alive");
    cr_expect_eq (
        discoutil_stat (&s_disc, 0, "members_unlinked"), alive,
        "%llu listed, %llu alive",
        (unsigned long long)discoutil_stat (&s_disc, 0, "members_unlinked"),
        (unsigned long long)alive);
    discoutil_pump (&s_disc, 300);
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
        meshq_peers_config_t config = discoutil_config (&s_disc, i);
        config.name = i < 2 ? "twin" : "other";
        discoutil_start (&s_disc, i, &config);
    }
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL));
    discoutil_counter_t twin0 = {0, "duplicate_names", 1};
    discoutil_counter_t twin1 = {1, "duplicate_names", 1};
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &twin0));
    cr_expect (discoutil_wait (&s_disc, discoutil_counter_reached, &twin1));
    //  The third one's name is its own.
    cr_expect_eq (discoutil_stat (&s_disc, 2, "duplicate_names"), 0);
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
        meshq_peers_config_t config = discoutil_config (&s_disc, 0);
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
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL),
               "no full membership");
    //  Joined, node 0 beacons far less than every 100 ms: over 3 s of
    //  the test's clock (a busy machine only makes it fewer), at most
    //  half of the 30 beacons it sends alone.
    uint64_t before = discoutil_stat (&s_disc, 0, "beacons_sent");
    discoutil_pump_for (&s_disc, 3000);
    uint64_t sent = discoutil_stat (&s_disc, 0, "beacons_sent") - before;
    cr_expect_lt (sent, 15, "a joined node sent %" PRIu64 " beacons in 3 s",
                  sent);
    s_start_default (2);
    cr_assert (discoutil_wait (&s_disc, discoutil_full, NULL),
               "the newcomer did not join");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j)
                cr_expect_eq (s_disc.nodes[i].ups[j], 1,
                              "node %d saw %d up %d times", i, j,
                              s_disc.nodes[i].ups[j]);
}
