/*  test_discovery_netns.c - meshq-agent in three network namespaces joined by a
    bridge (tests/system/netns.sh makes them): agents find each other by
    broadcast and advertise the address of the chosen interface, a
    killed one is down everywhere, a cut link is down and then up again,
    seeds work with beacons off, and so does IPv6. An agent on such an
    interface with no mesh secret refuses to start unless --insecure,
    and then says so in status.

    Needs root: without it, or without the fixture, every test skips and
    says why.
*/
#include "meshq.h"
#include "testproc.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#define S_WAIT_MS 20000
#define S_AGENT   MESHQ_BINARY_DIR "/agents/meshq-agent"
#define S_TOOL    MESHQ_BINARY_DIR "/tools/meshq"

static const char *s_tag;  //  Namespace prefix.
static const char *s_net;  //  The first three octets of the subnet.
static char s_dir[64];
static char s_mesh[48];
static testproc_t s_agents[4];

static void
s_setup (void)
{
    s_tag = getenv ("MESHQ_NETNS");
    s_net = getenv ("MESHQ_NETNS_NET");
    if (getuid () != 0)
        cr_skip_test ("network namespaces need root: run the suite as root "
                      "(sudo make test) to include this test");
    if (!s_tag || !s_net)
        cr_skip_test ("no namespaces: run through ctest, where "
                      "tests/system/netns.sh makes them");
    snprintf (s_dir, sizeof s_dir, "/tmp/meshq-netns-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    uint64_t seed = (uint64_t)getpid () ^ (uint64_t)testproc_now () << 16;
    snprintf (s_mesh, sizeof s_mesh, "netns-%016llx",
              (unsigned long long)testutil_random (&seed));
}

static void
s_teardown (void)
{
    for (int i = 0; i < 4; i++)
        if (s_agents[i].pid) {
            if (getenv ("MESHQ_TEST_LOGS"))
                fprintf (stderr, "--- n%d log:\n%s\n", i, s_agents[i].text);
            testproc_fini (&s_agents[i]);
        }
    if (*s_dir) {
        char out[256];
        testproc_shell (out, sizeof out, "rm -rf '%s'", s_dir);
    }
    //  A cut link is restored for the next test.
    for (int i = 1; i <= 3 && s_tag; i++) {
        char out[256];
        testproc_shell (out, sizeof out, "ip -n %s-n%d link set mq0 up", s_tag,
                        i);
    }
}

//  Starts the agent of namespace n (1..3) with extra flags.
static void
s_start (int n, ...)
{
    char ns[64], name[8], control[128], data[128];
    snprintf (ns, sizeof ns, "%s-n%d", s_tag, n);
    snprintf (name, sizeof name, "n%d", n);
    snprintf (control, sizeof control, "ipc://%s/%s.ipc", s_dir, name);
    snprintf (data, sizeof data, "%s/data-%s", s_dir, name);
    char *argv[40] = {"ip",    "netns",
                      "exec",  ns,
                      S_AGENT, "--name",
                      name,    "--mesh",
                      s_mesh,  "--data",
                      data,    "--control",
                      control, "--heartbeat",
                      "100",   "--peer-timeout",
                      "1000",  "--beacon-interval",
                      "100",   "--insecure"};
    //  --insecure: these meshes on a bridge have no secret on purpose.
    int argc = 20;
    va_list args;
    va_start (args, n);
    char *extra;
    while ((extra = va_arg (args, char *)) && argc < 39)
        argv[argc++] = extra;
    va_end (args);
    argv[argc] = NULL;
    cr_assert_eq (testproc_start (&s_agents[n], argv), 0);
    cr_assert_not_null (
        testproc_expect (&s_agents[n], S_WAIT_MS, "agent: started", NULL),
        "n%d did not start:\n%s", n, s_agents[n].text);
}

//  Waits until agent n logs event ("peer up", "peer down") about peer p.
static const char *
s_expect (int n, const char *event, int p, const char *more)
{
    char who[16];
    snprintf (who, sizeof who, "name=n%d ", p);
    const char *line =
        testproc_expect (&s_agents[n], S_WAIT_MS, event, who, more, NULL);
    cr_assert_not_null (line, "n%d: no '%s' about n%d; log:\n%s", n, event, p,
                        s_agents[n].text);
    return line;
}

static void
s_full_mesh (int first, int last)
{
    for (int n = first; n <= last; n++)
        for (int p = first; p <= last; p++)
            if (n != p) {
                s_expect (n, "peer up", p, NULL);
                s_agents[n].seen = 0;
            }
    for (int n = first; n <= last; n++)
        s_agents[n].seen = s_agents[n].size;
}

//  list_peers --json of agent n.
static void
s_list (int n, char *out, size_t size)
{
    cr_assert_eq (testproc_shell (out, size,
                                  "%s --agent ipc://%s/n%d.ipc --timeout 20 "
                                  "--json list_peers 2>&1",
                                  S_TOOL, s_dir, n),
                  0, "%s", out);
}

static void
s_expect_state (int n, int p, const char *state)
{
    char out[8192], got[16] = "", name[8];
    snprintf (name, sizeof name, "n%d", p);
    s_list (n, out, sizeof out);
    cr_expect (testproc_peer_state (out, name, got, sizeof got), "%s", out);
    cr_expect_str_eq (got, state, "n%d lists n%d as %s: %s", n, p, got, out);
}

//  The same, for a state the peer comes to: a link back after a cut may
//  be suspect a moment (a probe sent into the cut, a connection reset
//  when the cable came back) before it settles.
static void
s_expect_state_soon (int n, int p, const char *state)
{
    char out[8192], got[16] = "", name[8];
    snprintf (name, sizeof name, "n%d", p);
    int64_t deadline = testproc_now () + S_WAIT_MS;
    do {
        s_list (n, out, sizeof out);
        if (testproc_peer_state (out, name, got, sizeof got) &&
            strcmp (got, state) == 0)
            return;
        usleep (200 * 1000);
    } while (testproc_now () < deadline);
    cr_expect_str_eq (got, state, "n%d lists n%d as %s: %s", n, p, got, out);
}

Test (netns, agents_in_three_namespaces_reach_full_membership, .init = s_setup,
      .fini = s_teardown)
{
    char address[32];
    snprintf (address, sizeof address, "%s.2", s_net);
    s_start (1, "--interface", "mq0", NULL);
    s_start (2, "--interface", address, NULL);  //  Chosen by address.
    s_start (3, "--interface", "mq0", NULL);
    s_full_mesh (1, 3);
    //  Each advertises the address of its chosen interface: n1 has two.
    char out[8192], expected[64];
    s_list (2, out, sizeof out);
    snprintf (expected, sizeof expected, "\"endpoint\":\"tcp://%s.1:", s_net);
    cr_expect (strstr (out, expected), "%s", out);
    snprintf (expected, sizeof expected, "\"endpoint\":\"tcp://%s.3:", s_net);
    cr_expect (strstr (out, expected), "%s", out);
    cr_expect (strstr (s_agents[1].text, "transport=broadcast"), "%s",
               s_agents[1].text);
    for (int n = 1; n <= 3; n++)
        for (int p = 1; p <= 3; p++)
            if (n != p)
                s_expect_state (n, p, "up");
}

Test (netns, a_killed_agent_is_reported_down_by_the_others, .init = s_setup,
      .fini = s_teardown)
{
    for (int n = 1; n <= 3; n++)
        s_start (n, "--interface", "mq0", NULL);
    s_full_mesh (1, 3);
    kill (s_agents[3].pid, SIGKILL);
    for (int n = 1; n <= 2; n++) {
        s_expect (n, "peer down", 3, NULL);
        s_expect_state (n, 3, "down");
        s_expect_state (n, 3 - n, "up");
    }
}

Test (netns, a_cut_link_is_down_then_up_again, .init = s_setup,
      .fini = s_teardown)
{
    for (int n = 1; n <= 3; n++)
        s_start (n, "--interface", "mq0", NULL);
    s_full_mesh (1, 3);
    char out[256];
    cr_assert_eq (testproc_shell (out, sizeof out,
                                  "ip -n %s-n3 link set mq0 down 2>&1", s_tag),
                  0, "%s", out);
    //  Nothing resets the connections: the membership's probes find the
    //  silence. n3 may notice its two peers in either order.
    for (int n = 1; n <= 2; n++)
        s_expect (n, "peer down", 3,
                  "reason=\"declared dead by the membership\"");
    size_t mark = s_agents[3].seen;
    s_expect (3, "peer down", 1, NULL);
    s_agents[3].seen = mark;
    s_expect (3, "peer down", 2, NULL);
    s_expect_state (1, 3, "down");
    cr_assert_eq (testproc_shell (out, sizeof out,
                                  "ip -n %s-n3 link set mq0 up 2>&1", s_tag),
                  0, "%s", out);
    //  Up again, the same incarnation: the same processes came back.
    for (int n = 1; n <= 2; n++)
        s_expect (n, "peer up", 3, NULL);
    mark = s_agents[3].seen;
    s_expect (3, "peer up", 1, NULL);
    s_agents[3].seen = mark;
    s_expect (3, "peer up", 2, NULL);
    s_expect_state_soon (1, 3, "up");
    s_expect_state_soon (3, 1, "up");
}

Test (netns, seeds_converge_with_beacons_off, .init = s_setup,
      .fini = s_teardown)
{
    char seed[64];
    snprintf (seed, sizeof seed, "tcp://%s.1:5681", s_net);
    s_start (1, "--interface", "mq0", "--no-beacon", "--port", "5681", NULL);
    s_start (2, "--interface", "mq0", "--no-beacon", "--seeds", seed, NULL);
    s_start (3, "--interface", "mq0", "--no-beacon", "--seeds", seed, NULL);
    s_full_mesh (1, 3);
}

Test (netns, ipv6_link_local_multicast_finds_peers, .init = s_setup,
      .fini = s_teardown)
{
    for (int n = 1; n <= 3; n++)
        s_start (n, "--interface", "mq0", "--transport", "ipv6", NULL);
    s_full_mesh (1, 3);
    char out[8192];
    s_list (1, out, sizeof out);
    cr_expect (strstr (out, "\"endpoint\":\"tcp://[fe80::"), "%s", out);
}

Test (netns, an_open_mesh_needs_a_secret_or_insecure, .init = s_setup,
      .fini = s_teardown)
{
    char out[4096];
    int code = testproc_shell (out, sizeof out,
                               "ip netns exec %s-n1 %s --name x --mesh %s "
                               "--interface mq0 --data %s/data-x "
                               "--control ipc://%s/x.ipc 2>&1",
                               s_tag, S_AGENT, s_mesh, s_dir, s_dir);
    cr_expect_eq (code, 78, "exited %d: %s", code, out);
    cr_expect (strstr (out, "no mesh secret") && strstr (out, "--insecure"),
               "%s", out);
    //  Told so, it runs, and says so.
    s_start (1, "--interface", "mq0", NULL);
    cr_expect_not_null (strstr (s_agents[1].text, "discovery: insecure"), "%s",
                        s_agents[1].text);
    cr_assert_eq (testproc_shell (out, sizeof out,
                                  "%s --agent ipc://%s/n1.ipc --timeout 20 "
                                  "--json status 2>&1",
                                  S_TOOL, s_dir),
                  0, "%s", out);
    cr_expect (strstr (out, "\"insecure\":true"), "%s", out);
}
