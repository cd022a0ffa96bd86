/*  test_discovery.c - discovery between meshq-agent processes on
    loopback, seen through the meshq tool: agents find each other, a
    killed one is listed down, a stopped one says goodbye, a restarted
    one keeps its id with a new incarnation, an agent that cannot beacon
    says why and exits, 100k random datagrams at the beacon port are
    dropped and counted without harm, and a second vhost runs no
    membership of its own yet drops a hung agent with the default one.

    Agents log to a pipe the test reads with deadlines; each test has
    its own temporary directory, beacon port and mesh.
*/
#include "client_internal.h"
#include "codec_args.h"
#include "meshq.h"
#include "clientutil.h"
#include "testproc.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <czmq.h>
#include <sys/stat.h>

#define S_WAIT_MS 20000
#define S_AGENT   MESHQ_BINARY_DIR "/agents/meshq-agent"
#define S_TOOL    MESHQ_BINARY_DIR "/tools/meshq"

static testproc_place_t s_place;
static testproc_t s_agents[4];

static void
s_setup (void)
{
    cr_assert_eq (testproc_place_init (&s_place, "system"), 0);
}

static void
s_teardown (void)
{
    testproc_place_fini (&s_place, s_agents, 4);
}

//  Starts agent i, called NAME, with extra flags (NULL-terminated). Its
//  store is DIR/data-NAME unless a --data flag says otherwise.
static void
s_start (int i, const char *name, ...)
{
    char control[128], data[128];
    snprintf (control, sizeof control, "ipc://%s/%s.ipc", s_place.dir, name);
    snprintf (data, sizeof data, "%s/data-%s", s_place.dir, name);
    char *argv[40] = {
        S_AGENT,      "--name",         (char *)name, "--mesh",
        s_place.mesh, "--beacon-port",  s_place.port, "--control",
        control,      "--interface",    "lo",         "--heartbeat",
        "100",        "--peer-timeout", "1000",       "--beacon-interval",
        "100"};
    int argc = 17;
    bool has_data = false;
    va_list args;
    va_start (args, name);
    char *extra;
    while ((extra = va_arg (args, char *)) && argc < 37) {
        has_data |= streq (extra, "--data");
        argv[argc++] = extra;
    }
    va_end (args);
    if (!has_data) {
        argv[argc++] = "--data";
        argv[argc++] = data;
    }
    argv[argc] = NULL;
    cr_assert_eq (testproc_start (&s_agents[i], argv), 0);
    cr_assert_not_null (
        testproc_expect (&s_agents[i], S_WAIT_MS, "agent: started", NULL),
        "agent %s did not start:\n%s", name, s_agents[i].text);
}

//  Runs the tool against the agent called name.
static int
s_tool (char *out, size_t size, const char *name, const char *command)
{
    return testproc_shell (out, size,
                           "%s --agent ipc://%s/%s.ipc --timeout 20 %s 2>&1",
                           S_TOOL, s_place.dir, name, command);
}

static void
s_expect_state (const char *agent, const char *peer, const char *state)
{
    char out[8192], got[16] = "";
    cr_assert_eq (s_tool (out, sizeof out, agent, "list_peers --json"), 0, "%s",
                  out);
    cr_expect (testproc_peer_state (out, peer, got, sizeof got),
               "%s does not list %s: %s", agent, peer, out);
    cr_expect_str_eq (got, state, "%s lists %s as %s", agent, peer, got);
}

//  Waits until agent lists peer's membership state as member, asking
//  again until S_WAIT_MS pass; returns the last list.
static void
s_expect_member (const char *agent, const char *peer, const char *member,
                 char *out, size_t size)
{
    char got[16] = "";
    int64_t deadline = testproc_now () + S_WAIT_MS;
    do {
        cr_assert_eq (s_tool (out, size, agent, "list_peers --json"), 0, "%s",
                      out);
        if (testproc_peer_field (out, peer, "member", got, sizeof got) &&
            streq (got, member))
            return;
        usleep (50000);
    } while (testproc_now () < deadline);
    cr_expect_str_eq (got, member, "%s lists %s's membership as '%s': %s",
                      agent, peer, got, out);
}

//  Waits until each of the agents 0 to 2, called names, has logged the
//  other two up.
static void
s_expect_met (const char *const names[3])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            if (i == j)
                continue;
            char who[16];
            snprintf (who, sizeof who, "name=%s ", names[j]);
            cr_assert_not_null (
                testproc_expect (&s_agents[i], S_WAIT_MS, "peer up", who, NULL),
                "%s never saw %s:\n%s", names[i], names[j], s_agents[i].text);
            //  Matched lines are consumed; look at the whole log again.
            s_agents[i].seen = 0;
        }
}

Test (discovery, three_agents_on_one_machine_list_each_other, .init = s_setup,
      .fini = s_teardown)
{
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        s_start (i, names[i], NULL);
    s_expect_met (names);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j)
                s_expect_state (names[i], names[j], "up");
    //  The membership has each alive, in the start that came up.
    char out[8192], incarnation[32] = "", member_incarnation[32] = "";
    s_expect_member ("a", "b", "alive", out, sizeof out);
    cr_expect (testproc_peer_field (out, "b", "incarnation", incarnation,
                                    sizeof incarnation));
    cr_expect (testproc_peer_field (out, "b", "member_incarnation",
                                    member_incarnation,
                                    sizeof member_incarnation));
    cr_expect_str_eq (member_incarnation, incarnation, "%s", out);
    cr_expect_neq (strtoull (member_incarnation, NULL, 10), 0, "%s", out);
    s_expect_member ("a", "c", "alive", out, sizeof out);
    cr_assert_eq (s_tool (out, sizeof out, "a", "--json status"), 0);
    cr_expect (strstr (out, "\"name\":\"a\""), "%s", out);
    cr_expect (strstr (out, "\"peers\":2"), "%s", out);
    cr_expect (strstr (out, "\"members\":2,"), "%s", out);
    cr_expect (strstr (out, "\"members_full\":0,"), "%s", out);
    cr_expect (strstr (out, "\"gossip_dropped\":0,"), "%s", out);
    cr_expect (strstr (out, "\"endpoint\":\"tcp://127.0.0.1:"), "%s", out);
    //  And the table.
    cr_assert_eq (s_tool (out, sizeof out, "a", "list_peers"), 0);
    cr_expect (strstr (out, "name") && strstr (out, "state"), "%s", out);
}

Test (discovery, agents_given_no_mesh_flags_find_each_other, .init = s_setup,
      .fini = s_teardown)
{
    //  Only what three agents on one machine cannot share: a name, a
    //  store and a client endpoint. They join the mesh "default".
    const char *names[] = {"x", "y", "z"};
    int64_t start = testproc_now ();
    for (int i = 0; i < 3; i++) {
        char control[128], data[128];
        snprintf (control, sizeof control, "ipc://%s/%s.ipc", s_place.dir,
                  names[i]);
        snprintf (data, sizeof data, "%s/data-%s", s_place.dir, names[i]);
        char *argv[] = {S_AGENT,     "--name", (char *)names[i],
                        "--control", control,  "--data",
                        data,        NULL};
        cr_assert_eq (testproc_start (&s_agents[i], argv), 0);
    }
    s_expect_met (names);
    fprintf (stderr, "discovery: 3 agents with no mesh flags met in %lld ms\n",
             (long long)(testproc_now () - start));
    s_expect_state ("x", "y", "up");
    s_expect_state ("x", "z", "up");
}

Test (discovery, a_killed_agent_is_listed_down, .init = s_setup,
      .fini = s_teardown)
{
    s_start (0, "a", NULL);
    s_start (1, "b", NULL);
    cr_assert_not_null (
        testproc_expect (&s_agents[0], S_WAIT_MS, "peer up", "name=b", NULL));
    char out[8192];
    s_expect_member ("a", "b", "alive", out, sizeof out);
    kill (s_agents[1].pid, SIGKILL);
    cr_assert_not_null (
        testproc_expect (&s_agents[0], S_WAIT_MS, "peer down", "name=b", NULL));
    s_expect_state ("a", "b", "down");
    //  And the membership holds it dead (for 30 s, then forgets it).
    s_expect_member ("a", "b", "dead", out, sizeof out);
}

Test (discovery, a_stopped_agent_exits_cleanly_and_says_goodbye,
      .init = s_setup, .fini = s_teardown)
{
    s_start (0, "a", NULL);
    s_start (1, "b", NULL);
    cr_assert_not_null (
        testproc_expect (&s_agents[0], S_WAIT_MS, "peer up", "name=b", NULL));
    kill (s_agents[1].pid, SIGTERM);
    int status = testproc_wait (&s_agents[1], S_WAIT_MS);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0,
               "status %d:\n%s", status, s_agents[1].text);
    cr_expect_not_null (testproc_expect (&s_agents[0], S_WAIT_MS, "peer down",
                                         "name=b", "reason=\"left\"", NULL));
}

Test (discovery, a_restarted_agent_keeps_its_id_with_a_new_incarnation,
      .init = s_setup, .fini = s_teardown)
{
    char data[128];
    snprintf (data, sizeof data, "%s/data-a", s_place.dir);
    s_start (0, "a", "--data", data, NULL);
    s_start (1, "b", NULL);
    const char *line =
        testproc_expect (&s_agents[1], S_WAIT_MS, "peer up", "name=a", NULL);
    cr_assert_not_null (line);
    char id[40] = "", incarnation[32] = "";
    sscanf (strstr (line, "id="), "id=%32s", id);
    sscanf (strstr (line, "incarnation="), "incarnation=%31s", incarnation);
    kill (s_agents[0].pid, SIGKILL);
    testproc_wait (&s_agents[0], S_WAIT_MS);
    testproc_fini (&s_agents[0]);
    s_start (0, "a", "--data", data, NULL);
    cr_assert_not_null (testproc_expect (&s_agents[1], S_WAIT_MS, "peer down",
                                         id, incarnation, NULL));
    line = testproc_expect (&s_agents[1], S_WAIT_MS, "peer up", id, NULL);
    cr_assert_not_null (line);
    char again[32] = "";
    sscanf (strstr (line, "incarnation="), "incarnation=%31s", again);
    cr_expect_gt (strtoull (again, NULL, 10), strtoull (incarnation, NULL, 10));
}

Test (discovery, an_agent_that_cannot_beacon_says_why_and_exits,
      .init = s_setup, .fini = s_teardown)
{
    char out[4096];
    //  No such interface, and IPv6 on loopback (which carries no
    //  multicast): no deaf or mute agent.
    const struct {
        const char *flags;  //  What is asked for.
        const char *why;    //  Expected in the message.
    } cases[] = {
        {"--interface nosuch0", "no interface named 'nosuch0'"},
        {"--interface lo --transport ipv6", "cannot send beacons by ipv6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = testproc_shell (out, sizeof out,
                                   "%s --mesh %s --beacon-port %s %s --data "
                                   "%s/data-x --control ipc://%s/x.ipc 2>&1",
                                   S_AGENT, s_place.mesh, s_place.port,
                                   cases[i].flags, s_place.dir, s_place.dir);
        cr_expect (code != 0 && code != -1, "case %zu exited %d", i, code);
        cr_expect (strstr (out, cases[i].why), "case %zu: %s", i, out);
    }
}

Test (discovery, a_bad_flag_is_refused_with_its_reason_and_exit_64,
      .init = s_setup, .fini = s_teardown)
{
    char out[4096];
    const struct {
        const char *flags;  //  What is asked for.
        const char *why;    //  Expected in the message.
    } cases[] = {
        {"--read-ahead 5000", "--read-ahead: 5000 is out of range 0..1000"},
        {"--peer-timeout soon", "--peer-timeout: 'soon' is not a"},
        {"--frobnicate", "unknown option"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = testproc_shell (out, sizeof out,
                                   "%s --mesh %s %s --data %s/data-x "
                                   "--control ipc://%s/x.ipc 2>&1",
                                   S_AGENT, s_place.mesh, cases[i].flags,
                                   s_place.dir, s_place.dir);
        cr_expect_eq (code, 64, "case %zu exited %d: %s", i, code, out);
        cr_expect (strstr (out, cases[i].why), "case %zu: %s", i, out);
    }
}

//  The agent's count of datagrams on the beacon port that are not
//  beacons, from its STATUS.
static uint64_t
s_bad_beacons (meshq_client_t *client)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    cr_assert (MESHQ_ARGS_HAS (&status, BAD_BEACONS));
    zmsg_destroy (&reply);
    return status.bad_beacons;
}

Test (discovery, random_datagrams_at_the_beacon_port_are_counted_and_dropped,
      .init = s_setup, .fini = s_teardown, .timeout = 240)
{
    s_start (0, "a", NULL);
    char endpoint[128];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/a.ipc", s_place.dir);
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, S_WAIT_MS);
    cr_assert_eq (meshq_client_connect (client, endpoint), 0, "%s",
                  meshq_client_error (client));
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons ((uint16_t)atoi (s_place.port)),
                             .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    uint64_t state = testutil_seed ("agent.random_datagrams");
    uint8_t datagram[1500];
    uint64_t sent = 0;
    const uint64_t total = 100000;
    while (sent < total) {
        //  In batches the agent reads before the next, so the kernel's
        //  receive buffer never overflows and every datagram is counted.
        for (int i = 0; i < 50 && sent < total; i++, sent++) {
            size_t size = testutil_random (&state) % 4 == 0
                              ? 48  //  A beacon's size, random content.
                              : testutil_random (&state) % sizeof datagram;
            for (size_t b = 0; b < size; b++)
                datagram[b] = (uint8_t)testutil_random (&state);
            //  Now and then, a beacon's signature with another version.
            //  (With version 1 too, the random mesh id would make it a
            //  beacon of another mesh: normal traffic, counted apart.)
            if (size >= 5 && testutil_random (&state) % 8 == 0)
                memcpy (datagram, "MSHQ\x02", 5);
            cr_assert_eq (sendto (fd, datagram, size, 0, (struct sockaddr *)&to,
                                  sizeof to),
                          (ssize_t)size);
        }
        int64_t deadline = testproc_now () + S_WAIT_MS;
        uint64_t dropped;
        while ((dropped = s_bad_beacons (client)) < sent &&
               testproc_now () < deadline)
            ;
        cr_assert_eq (dropped, sent, "after %llu datagrams",
                      (unsigned long long)sent);
    }
    close (fd);
    //  Still alive, still answering.
    cr_expect_eq (testproc_wait (&s_agents[0], 0), -1, "the agent exited");
    char out[4096];
    cr_expect_eq (s_tool (out, sizeof out, "a", "status"), 0, "%s", out);
    meshq_client_destroy (&client);
}

Test (discovery, two_agents_with_one_name_both_report_it, .init = s_setup,
      .fini = s_teardown)
{
    s_start (0, "a", NULL);
    char control[160], data[160];
    snprintf (control, sizeof control, "ipc://%s/a2.ipc", s_place.dir);
    snprintf (data, sizeof data, "%s/data-a2", s_place.dir);
    s_start (1, "a", "--control", control, "--data", data, NULL);
    for (int i = 0; i < 2; i++)
        cr_expect_not_null (
            testproc_expect (&s_agents[i], S_WAIT_MS, "duplicate name=a", NULL),
            "agent %d:\n%s", i, s_agents[i].text);
    char out[4096];
    cr_assert_eq (s_tool (out, sizeof out, "a", "--json status"), 0, "%s", out);
    cr_expect (strstr (out, "\"duplicate_names\":1"), "%s", out);
    cr_assert_eq (testproc_shell (out, sizeof out,
                                  "%s --agent %s --timeout 20 --json status "
                                  "2>&1",
                                  S_TOOL, control),
                  0, "%s", out);
    cr_expect (strstr (out, "\"duplicate_names\":1"), "%s", out);
}

//  Waits until agent lists peer in vhost blue as state (the vhost
//  reaches the other agents by gossip, and its peers by VHOST).
static void
s_expect_blue_state (const char *agent, const char *peer, const char *state)
{
    char out[8192], got[16] = "";
    int64_t deadline = testproc_now () + S_WAIT_MS;
    do {
        if (s_tool (out, sizeof out, agent, "--vhost blue list_peers --json") ==
                0 &&
            testproc_peer_state (out, peer, got, sizeof got) &&
            streq (got, state))
            return;
        usleep (50000);
    } while (testproc_now () < deadline);
    cr_assert_fail ("%s lists %s in vhost blue as '%s': %s", agent, peer, got,
                    out);
}

//  Runs the tool against agent name until it succeeds (a vhost not
//  there yet), up to S_WAIT_MS.
static void
s_tool_until (char *out, size_t size, const char *name, const char *command)
{
    int64_t deadline = testproc_now () + S_WAIT_MS;
    int rc;
    while ((rc = s_tool (out, size, name, command)) &&
           testproc_now () < deadline)
        usleep (50000);
    cr_assert_eq (rc, 0, "%s: %s: %s", name, command, out);
}

//  The port of the mesh endpoint that agent name's status shows in
//  vhost.
static uint16_t
s_mesh_port (const char *name, const char *vhost)
{
    char out[8192], command[128];
    snprintf (command, sizeof command, "--vhost %s --json status", vhost);
    s_tool_until (out, sizeof out, name, command);
    const char *prefix = "\"endpoint\":\"tcp://127.0.0.1:";
    const char *at = strstr (out, prefix);
    cr_assert_not_null (at, "%s", out);
    return (uint16_t)atoi (at + strlen (prefix));
}

//  Whether a UDP socket is bound at 127.0.0.1:port: the membership's,
//  at its mesh endpoint's port.
static bool
s_udp_taken (uint16_t port)
{
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons (port),
                               .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    bool taken =
        bind (fd, (struct sockaddr *)&addr, sizeof addr) && errno == EADDRINUSE;
    close (fd);
    return taken;
}

Test (discovery, a_second_vhost_shares_the_agents_membership, .init = s_setup,
      .fini = s_teardown, .timeout = 120)
{
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        s_start (i, names[i], NULL);
    s_expect_met (names);
    char out[8192];
    s_tool_until (out, sizeof out, "a", "add_vhost blue");
    s_tool_until (out, sizeof out, "a",
                  "set_permissions -p blue guest '.*' '.*' '.*'");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j)
                s_expect_blue_state (names[i], names[j], "up");
    //  One membership per agent: the default vhost's mesh has its UDP
    //  socket and beacons; blue's has neither, and sends no probes.
    for (int i = 0; i < 3; i++) {
        cr_expect (s_udp_taken (s_mesh_port (names[i], "/")),
                   "%s: no membership socket in the default vhost", names[i]);
        cr_expect (!s_udp_taken (s_mesh_port (names[i], "blue")),
                   "%s: vhost blue runs a membership of its own", names[i]);
        s_agents[i].seen = 0;
        cr_expect_not_null (
            testproc_expect (&s_agents[i], S_WAIT_MS, "discovery: started",
                             "vhost=blue", "transport=none", NULL),
            "%s: vhost blue beacons:\n%s", names[i], s_agents[i].text);
    }
    //  Its status counts the agent's members all the same, and its
    //  list shows the agent's membership's view of each peer.
    s_tool_until (out, sizeof out, "b", "--vhost blue --json status");
    cr_expect (strstr (out, "\"members\":2,"), "%s", out);
    char member[16] = "";
    s_tool_until (out, sizeof out, "b", "--vhost blue list_peers --json");
    cr_expect (testproc_peer_field (out, "a", "member", member, sizeof member),
               "%s", out);
    cr_expect_str_eq (member, "alive", "%s", out);
    //  Messages flow in blue across agents.
    s_tool_until (out, sizeof out, "a", "--vhost blue declare_queue jobs");
    s_tool_until (out, sizeof out, "a",
                  "--vhost blue publish --routing-key jobs one two three");
    s_tool_until (out, sizeof out, "c", "--vhost blue declare_queue jobs");
    s_tool_until (out, sizeof out, "c",
                  "--vhost blue consume jobs --count 3 --idle 10");
    cr_expect (strstr (out, "one") && strstr (out, "two") &&
                   strstr (out, "three"),
               "%s", out);
    //  A hung agent: its blue links stay connected and idle, so only the
    //  agent's membership can tell; blue drops it when the default
    //  vhost does.
    for (int i = 0; i < 2; i++)
        s_agents[i].seen = 0;
    kill (s_agents[2].pid, SIGSTOP);
    int64_t stopped = testproc_now ();
    for (int i = 0; i < 2; i++) {
        cr_assert_not_null (testproc_expect (&s_agents[i], S_WAIT_MS,
                                             "mesh: peer down vhost=/ ",
                                             "name=c ", NULL),
                            "%s:\n%s", names[i], s_agents[i].text);
        int64_t root = testproc_now () - stopped;
        s_agents[i].seen = 0;
        cr_assert_not_null (
            testproc_expect (&s_agents[i], S_WAIT_MS,
                             "mesh: peer down vhost=blue ", "name=c ",
                             "reason=declared dead by the membership", NULL),
            "%s:\n%s", names[i], s_agents[i].text);
        fprintf (stderr,
                 "discovery: %s saw c hung after %lld ms in the default "
                 "vhost, %lld ms in blue\n",
                 names[i], (long long)root,
                 (long long)(testproc_now () - stopped));
        s_expect_blue_state (names[i], "c", "down");
        s_tool_until (out, sizeof out, names[i],
                      "--vhost blue list_peers --json");
        cr_expect (
            testproc_peer_field (out, "c", "member", member, sizeof member),
            "%s", out);
        cr_expect_str_eq (member, "dead", "%s", out);
    }
    kill (s_agents[2].pid, SIGKILL);
}
