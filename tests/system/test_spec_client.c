/*  test_spec_client.c - docs/PROTOCOL.md is enough to write a client.

    tests/python/meshq_client.py is a client of the native protocol in
    Python, written from the specification with pyzmq and msgpack only;
    tests/python/test_spec_client.py uses it. This suite starts the
    meshq-agent processes it runs against: two agents of one mesh on
    loopback, seeded with each other (a producer with confirms on one,
    a consumer with manual acks on the other), and one agent with an
    ipc:// and a tcp:// endpoint for logins. The script checks and
    says what failed; here we check that it exits 0.

    The Debian packages python3-zmq and python3-msgpack are in the
    Makefile's PACKAGES: without them the suite fails, saying so.
*/
#include "procutil.h"
#include "testutil.h"

#define S_PYTHON   "/usr/bin/python3"
#define S_SCRIPT   MESHQ_TEST_SOURCE_DIR "/python/test_spec_client.py"
#define S_DEADLINE 90000  //  ms the script may take

static char s_dir[256];             //  Temporary directory.
static char s_mesh[64];             //  The mesh's name, this run's own.
static procutil_node_t s_nodes[2];  //  The agents.
static procutil_prog_t *s_script;   //  The script, while it runs.

static void
s_setup (void)
{
    procutil_mesh_dir ("spec_client", s_dir, sizeof s_dir, s_mesh,
                       sizeof s_mesh);
    for (int i = 0; i < 2; i++) {
        procutil_node_init (&s_nodes[i], s_dir, i, testutil_free_port ());
        cr_assert_gt (s_nodes[i].port, 0);
    }
}

static void
s_teardown (void)
{
    procutil_prog_destroy (&s_script);
    for (int i = 0; i < 2; i++)
        if (s_nodes[i].pid)
            procutil_kill (s_nodes[i].pid, SIGTERM);
    if (getenv ("MESHQ_TEST_LOGS")) {
        char command[512];
        snprintf (command, sizeof command, "tail -n 40 %s/n*.log >&2", s_dir);
        cr_expect_eq (system (command), 0);
    }
    char command[512];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    cr_expect_eq (system (command), 0);
}

TestSuite (spec_client, .init = s_setup, .fini = s_teardown, .timeout = 150);

//  Runs the script with args (NULL-terminated) and checks it exits 0.
static void
s_run (const char *const *args)
{
    procutil_prog_t *check = procutil_prog_new (
        (const char *[]){S_PYTHON, "-B", "-c", "import zmq, msgpack", NULL},
        NULL, S_DEADLINE);
    int code = procutil_prog_exit_code (check);
    cr_assert_eq (code, 0,
                  "%s cannot import pyzmq and msgpack: install the Debian "
                  "packages python3-zmq and python3-msgpack (make deps)\n%s",
                  S_PYTHON, check->output);
    procutil_prog_destroy (&check);
    const char *argv[8] = {S_PYTHON, "-B", S_SCRIPT};
    int argc = 3;
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    s_script = procutil_prog_new (argv, NULL, S_DEADLINE);
    procutil_prog_expect_exit (s_script, 0);
}

//  Two agents of one mesh: the script publishes with confirms on the
//  first and consumes with manual acks on the second, and checks that
//  every confirmed message arrives once, exactly as sent.
Test (spec_client, publish_on_one_agent_consume_on_another)
{
    char seed[2][64];
    for (int i = 0; i < 2; i++)
        snprintf (seed[i], sizeof seed[i], "tcp://127.0.0.1:%d",
                  s_nodes[1 - i].port);
    for (int i = 0; i < 2; i++)
        procutil_node_start (&s_nodes[i], s_dir, s_mesh, seed[i], NULL,
                             (const char *[]){"--no-beacon", NULL});
    s_run ((const char *[]){"across", s_nodes[0].control, s_nodes[1].control,
                            NULL});
}

//  One agent on ipc:// and tcp://: a wrong password, an unknown user and
//  guest over tcp:// are refused by the PLAIN handshake; the right
//  password gets in, and the requests of the specification are answered
//  as it says.
Test (spec_client, wrong_password_refused_requests_answered)
{
    char tcp[64];
    snprintf (tcp, sizeof tcp, "tcp://127.0.0.1:%d", testutil_free_port ());
    size_t used = strlen (s_nodes[0].control);
    snprintf (s_nodes[0].control + used, sizeof s_nodes[0].control - used,
              ",%s", tcp);
    procutil_node_start (&s_nodes[0], s_dir, s_mesh, "", NULL,
                         (const char *[]){"--no-beacon", NULL});
    //  Only the ipc:// endpoint, for the script.
    s_nodes[0].control[used] = 0;
    s_run ((const char *[]){"login", s_nodes[0].control, tcp, NULL});
}
