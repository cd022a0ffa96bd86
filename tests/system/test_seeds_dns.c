/*  test_seeds_dns.c - seeds given by DNS name. In a mount and network
    namespace of its own (tests/system/hosts.sh), with a private
    /etc/hosts: a name that resolves to two agents' addresses seeds
    both; a name that does not resolve yet does not stop the agent, and
    the addresses it gets later are seeded as they come, and those it
    loses are dropped, since names are resolved again. A seed that is neither an address nor a name is
    refused at start, naming it.

    Needs root: without it, or without the fixture, the namespace tests
    skip and say why.
*/
#include "testproc.h"
#include "testutil.h"

#include <criterion/criterion.h>

#define S_WAIT_MS 20000
#define S_AGENT   MESHQ_BINARY_DIR "/agents/meshq-agent"
#define S_NAME    "agents.meshq.test"

static char s_dir[64];
static char s_mesh[48];
static char s_port[8];
static testproc_t s_agents[4];  //  a, b, c (the seeded), and spare.

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/meshq-seeds-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    uint64_t seed = (uint64_t)getpid () ^ (uint64_t)testproc_now () << 16;
    snprintf (s_mesh, sizeof s_mesh, "seeds-%016llx",
              (unsigned long long)testutil_random (&seed));
    //  One port for all: the agents differ by address.
    snprintf (s_port, sizeof s_port, "%d", 20000 + (int)(getpid () % 10000));
}

static void
s_need_namespace (void)
{
    if (getuid () != 0)
        cr_skip_test ("mount and network namespaces need root: run the "
                      "suite as root (sudo make test) to include this test");
    if (!getenv ("MESHQ_HOSTS"))
        cr_skip_test ("no private /etc/hosts: run through ctest, where "
                      "tests/system/hosts.sh makes one");
}

static void
s_teardown (void)
{
    for (int i = 0; i < 4; i++)
        if (s_agents[i].pid) {
            if (getenv ("MESHQ_TEST_LOGS"))
                fprintf (stderr, "--- agent %d log:\n%s\n", i,
                         s_agents[i].text);
            testproc_fini (&s_agents[i]);
        }
    char out[256];
    testproc_shell (out, sizeof out, "rm -rf '%s'", s_dir);
}

TestSuite (seeds_dns, .init = s_setup, .fini = s_teardown, .timeout = 120);

//  Writes the private /etc/hosts (the same file, rewritten in place:
//  the bind mount follows the inode).
static void
s_hosts (const char *lines)
{
    FILE *file = fopen (getenv ("MESHQ_HOSTS"), "w");
    cr_assert_not_null (file);
    fprintf (file, "127.0.0.1 localhost\n%s", lines);
    cr_assert_eq (fclose (file), 0);
}

//  Starts agent n ("a", "b", "c"...) on 127.0.0.(n + 2), the suite's
//  port, no beacons; seeds, if any.
static void
s_start (int n, const char *seeds)
{
    char name[8], address[32], control[300], data[300];
    snprintf (name, sizeof name, "%c", 'a' + n);
    snprintf (address, sizeof address, "127.0.0.%d", n + 2);
    snprintf (control, sizeof control, "ipc://%s/%s.ipc", s_dir, name);
    snprintf (data, sizeof data, "%s/data-%s", s_dir, name);
    char *argv[32] = {S_AGENT,
                      "--name",
                      name,
                      "--mesh",
                      s_mesh,
                      "--data",
                      data,
                      "--control",
                      control,
                      "--interface",
                      address,
                      "--port",
                      s_port,
                      "--no-beacon",
                      "--heartbeat",
                      "100",
                      "--peer-timeout",
                      "1000",
                      "--seeds-refresh",
                      "200"};
    int argc = 20;
    if (seeds) {
        argv[argc++] = "--seeds";
        argv[argc++] = (char *)seeds;
    }
    argv[argc] = NULL;
    cr_assert_eq (testproc_start (&s_agents[n], argv), 0);
    cr_assert_not_null (
        testproc_expect (&s_agents[n], S_WAIT_MS, "agent: started", NULL),
        "%s did not start:\n%s", name, s_agents[n].text);
}

//  Waits until agent n logs that peer p is up.
static void
s_expect_up (int n, int p)
{
    char who[16];
    snprintf (who, sizeof who, "name=%c ", 'a' + p);
    s_agents[n].seen = 0;
    cr_assert_not_null (
        testproc_expect (&s_agents[n], S_WAIT_MS, "peer up", who, NULL),
        "%c: %c never up; log:\n%s", 'a' + n, 'a' + p, s_agents[n].text);
}

Test (seeds_dns, a_name_seeds_every_address_it_resolves_to)
{
    s_need_namespace ();
    s_hosts ("127.0.0.2 " S_NAME "\n127.0.0.3 " S_NAME "\n");
    s_start (0, NULL);
    s_start (1, NULL);
    char seeds[128];
    snprintf (seeds, sizeof seeds, "tcp://%s:%s", S_NAME, s_port);
    s_start (2, seeds);
    //  a and b know nobody, and no beacons fly: c found both by the name.
    s_expect_up (2, 0);
    s_expect_up (2, 1);
    s_expect_up (0, 2);
    s_expect_up (1, 2);
}

Test (seeds_dns, a_name_is_resolved_again_as_it_changes)
{
    s_need_namespace ();
    s_hosts ("");
    s_start (0, NULL);
    s_start (1, NULL);
    char seeds[128];
    snprintf (seeds, sizeof seeds, "tcp://%s:%s", S_NAME, s_port);
    //  Not in DNS yet: c serves, and says so.
    s_start (2, seeds);
    cr_assert_not_null (testproc_expect (&s_agents[2], S_WAIT_MS,
                                         "seed name not resolved",
                                         "name=" S_NAME, NULL),
                        "%s", s_agents[2].text);
    s_hosts ("127.0.0.2 " S_NAME "\n");
    s_expect_up (2, 0);
    s_hosts ("127.0.0.2 " S_NAME "\n127.0.0.3 " S_NAME "\n");
    s_expect_up (2, 1);
    //  An address the name no longer gives is no longer a seed.
    s_hosts ("127.0.0.3 " S_NAME "\n");
    cr_assert_not_null (testproc_expect (&s_agents[2], S_WAIT_MS,
                                         "seed name resolved", "removed=1",
                                         "addresses=1", NULL),
                        "%s", s_agents[2].text);
}

Test (seeds_dns, a_seed_neither_address_nor_name_is_refused)
{
    const char *bad[] = {"tcp://agents_meshq:5670", "tcp://agents.meshq.test",
                         "tcp://-agents.test:5670", "tcp://agents..test:1",
                         "tcp://agents.test:70000", "udp://agents.test:5670"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[2048];
        int rc = testproc_shell (out, sizeof out,
                                 "%s --name x --data %s/bad --control "
                                 "ipc://%s/bad.ipc --seeds '%s' 2>&1",
                                 S_AGENT, s_dir, s_dir, bad[i]);
        cr_expect_eq (rc, 69, "%s: rc %d: %s", bad[i], rc, out);
        cr_expect_not_null (strstr (out, bad[i]), "%s: %s", bad[i], out);
        cr_expect_not_null (strstr (out, "not tcp://HOST:PORT"), "%s", out);
    }
}
