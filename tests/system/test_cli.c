/*  test_cli.c - the meshq command and the daemon's command line as an
    operator uses them: --version, sizes with suffixes, boolean flags,
    password prompts, Ctrl-C on consume, and --mandatory.
*/
#include "procutil.h"
#include "testutil.h"

static char s_dir[256];
static char s_endpoint[300];
static char s_tool[1024];
static char s_agent[1024];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/meshq-cli-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_endpoint, sizeof s_endpoint, "ipc://%s/agent.ipc", s_dir);
    snprintf (s_tool, sizeof s_tool, "%s/tools/meshq", MESHQ_BINARY_DIR);
    snprintf (s_agent, sizeof s_agent, "%s/agents/meshq-agent",
              MESHQ_BINARY_DIR);
}

static void
s_teardown (void)
{
    char command[512];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    cr_expect_eq (system (command), 0);
}

TestSuite (cli, .init = s_setup, .fini = s_teardown, .timeout = 120);

Test (cli, every_binary_prints_its_version)
{
    const char *binaries[] = {s_tool, s_agent};
    const char *names[] = {"meshq ", "meshq-agent "};
    for (int i = 0; i < 2; i++) {
        const char *argv[] = {binaries[i], "--version", NULL};
        procutil_prog_t *prog = procutil_prog_new (argv, NULL, 10000);
        procutil_prog_expect_exit (prog, 0);
        char expected[64];
        snprintf (expected, sizeof expected, "%s%s\n", names[i],
                  MESHQ_PROJECT_VERSION);
        cr_expect_str_eq (prog->output, expected);
        procutil_prog_destroy (&prog);
    }
}
