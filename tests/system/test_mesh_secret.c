/*  test_mesh_secret.c - a mesh secret between meshq-agent processes on
    loopback: two started with the same --mesh-secret-file join, two
    with other secrets log refused handshakes and never join, and a
    secret file that others may read stops the agent with exit status 78
    and the way out.

    Agents log to a pipe the test reads with deadlines; each test has
    its own temporary directory, beacon port and mesh.
*/
#include "meshq.h"
#include "testproc.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <sys/stat.h>

#define S_WAIT_MS 20000
#define S_AGENT   MESHQ_BINARY_DIR "/agents/meshq-agent"

static testproc_place_t s_place;
static testproc_t s_agents[2];

static void
s_setup (void)
{
    cr_assert_eq (testproc_place_init (&s_place, "secret"), 0);
}

static void
s_teardown (void)
{
    testproc_place_fini (&s_place, s_agents, 2);
}

TestSuite (mesh_secret_process, .init = s_setup, .fini = s_teardown,
           .timeout = 60);

//  Writes a secret file called name in the test's directory, with mode;
//  its path goes to path.
static void
s_secret_file (const char *name, const char *secret, mode_t mode, char *path,
               size_t size)
{
    snprintf (path, size, "%s/%s", s_place.dir, name);
    FILE *out = fopen (path, "w");
    cr_assert_not_null (out);
    cr_assert (fputs (secret, out) >= 0);
    cr_assert_eq (fclose (out), 0);
    cr_assert_eq (chmod (path, mode), 0);
}

//  Starts agent i, called name, with the mesh secret file at secret.
static void
s_start (int i, const char *name, const char *secret)
{
    char control[128], data[128];
    snprintf (control, sizeof control, "ipc://%s/%s.ipc", s_place.dir, name);
    snprintf (data, sizeof data, "%s/data-%s", s_place.dir, name);
    char *argv[] = {S_AGENT,        "--name",
                    (char *)name,   "--mesh",
                    s_place.mesh,   "--beacon-port",
                    s_place.port,   "--control",
                    control,        "--data",
                    data,           "--interface",
                    "lo",           "--beacon-interval",
                    "100",          "--mesh-secret-file",
                    (char *)secret, NULL};
    cr_assert_eq (testproc_start (&s_agents[i], argv), 0);
    cr_assert_not_null (
        testproc_expect (&s_agents[i], S_WAIT_MS, "agent: started", NULL),
        "agent %s did not start:\n%s", name, s_agents[i].text);
}

Test (mesh_secret_process, agents_with_the_same_secret_join)
{
    char path[128];
    s_secret_file ("mesh.secret", "dGhlIHNhbWUgc2VjcmV0IG9uIGJvdGg=\n", 0600,
                   path, sizeof path);
    s_start (0, "a", path);
    s_start (1, "b", path);
    cr_assert_not_null (
        testproc_expect (&s_agents[0], S_WAIT_MS, "peer up", "name=b", NULL),
        "a never saw b:\n%s", s_agents[0].text);
}

Test (mesh_secret_process, agents_with_other_secrets_refuse_each_other)
{
    char path_a[128], path_b[128];
    s_secret_file ("a.secret", "the secret of agent a, 32 bytes", 0600, path_a,
                   sizeof path_a);
    s_secret_file ("b.secret", "the secret of agent b, 32 bytes", 0600, path_b,
                   sizeof path_b);
    s_start (0, "a", path_a);
    s_start (1, "b", path_b);
    //  b's beacons are not sealed with a's key: a never even tries.
    cr_assert_not_null (testproc_expect (&s_agents[0], S_WAIT_MS,
                                         "beacon dropped", "reason=auth", NULL),
                        "a logged no refused beacon:\n%s", s_agents[0].text);
    cr_expect_null (strstr (s_agents[0].text, "peer up"), "%s",
                    s_agents[0].text);
}

Test (mesh_secret_process, a_secret_file_others_may_read_is_refused)
{
    char path[128], out[4096];
    s_secret_file ("mesh.secret", "a secret everyone may read", 0644, path,
                   sizeof path);
    int code = testproc_shell (out, sizeof out,
                               "%s --mesh %s --beacon-port %s --data %s/x "
                               "--control ipc://%s/x.ipc "
                               "--mesh-secret-file %s 2>&1",
                               S_AGENT, s_place.mesh, s_place.port, s_place.dir,
                               s_place.dir, path);
    cr_expect_eq (code, 78, "exited %d: %s", code, out);
    cr_expect_not_null (strstr (out, "chmod 600"), "%s", out);
}
