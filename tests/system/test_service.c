/*  test_service.c - meshq-agent as a system service. Under a
    Type=notify service manager, with NOTIFY_SOCKET set (a path, or an
    abstract name after '@'), it sends READY=1 once clients can connect,
    and STOPPING=1 on SIGTERM; a NOTIFY_SOCKET that names no socket
    leaves it serving all the same. The sample configuration that is
    installed as /etc/meshq/meshq.conf starts an agent, and so does
    every setting it shows commented out.
*/
#include "procutil.h"

#include <sys/un.h>

static char s_dir[256];
static char s_endpoint[300];

static void
s_setup (void)
{
    procutil_dir ("notify", s_dir, sizeof s_dir, s_endpoint, sizeof s_endpoint);
}

static void
s_teardown (void)
{
    unsetenv ("NOTIFY_SOCKET");
    procutil_rmdir (s_dir);
}

TestSuite (service, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  A datagram socket bound where name says (a path, or '@' and an
//  abstract name), as systemd binds its own.
static int
s_bind (const char *name)
{
    int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    size_t length = strlen (name);
    cr_assert_lt (length, sizeof address.sun_path);
    memcpy (address.sun_path, name, length);
    if (name[0] == '@')
        address.sun_path[0] = 0;
    socklen_t size = (socklen_t)(offsetof (struct sockaddr_un, sun_path) +
                                 length + (name[0] == '/'));
    cr_assert_eq (bind (fd, (struct sockaddr *)&address, size), 0, "%s",
                  strerror (errno));
    return fd;
}

//  The next datagram on fd, waiting up to timeout_ms; "" if none.
static void
s_recv (int fd, int timeout_ms, char *out, size_t size)
{
    *out = 0;
    struct pollfd item = {.fd = fd, .events = POLLIN};
    if (poll (&item, 1, timeout_ms) == 1) {
        ssize_t got = recv (fd, out, size - 1, 0);
        out[got > 0 ? got : 0] = 0;
    }
}

//  Starts the agent under notify (NOTIFY_SOCKET=notify), waits for its
//  first datagram and checks it is READY=1 and that a client connects
//  at once; then stops it with SIGTERM and checks STOPPING=1 follows.
static void
s_ready_then_stopping (const char *notify)
{
    int fd = s_bind (notify);
    setenv ("NOTIFY_SOCKET", notify, 1);
    char agent[512], data[512], log[512];
    snprintf (agent, sizeof agent, "%s/agents/meshq-agent", MESHQ_BINARY_DIR);
    snprintf (data, sizeof data, "%s/store", s_dir);
    snprintf (log, sizeof log, "%s/agent.log", s_dir);
    char *argv[] = {agent,       "--name",   "notify",       "--data", data,
                    "--control", s_endpoint, "--standalone", NULL};
    pid_t pid = procutil_spawn (argv, log);
    char state[256];
    s_recv (fd, 20000, state, sizeof state);
    cr_assert_str_eq (state, "READY=1", "no READY=1 (got '%s'); see %s", state,
                      log);
    //  Ready means serving: the first try connects.
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 5000);
    cr_assert_eq (meshq_client_connect (client, s_endpoint), 0, "%s",
                  meshq_client_error (client));
    cr_assert_eq (meshq_client_declare_queue (client, "ready", NULL), 0, "%s",
                  meshq_client_error (client));
    meshq_client_destroy (&client);
    kill (pid, SIGTERM);
    s_recv (fd, 20000, state, sizeof state);
    cr_expect_str_eq (state, "STOPPING=1", "see %s", log);
    int status = 0;
    waitpid (pid, &status, 0);
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    close (fd);
}

Test (service, ready_once_serving_on_a_path)
{
    char path[300];
    snprintf (path, sizeof path, "%s/notify", s_dir);
    s_ready_then_stopping (path);
}

Test (service, ready_once_serving_on_an_abstract_socket)
{
    char name[64];
    snprintf (name, sizeof name, "@meshq-notify-%d", (int)getpid ());
    s_ready_then_stopping (name);
}

Test (service, a_bad_notify_socket_is_no_reason_to_stop)
{
    setenv ("NOTIFY_SOCKET", "not-a-socket", 1);
    pid_t pid = procutil_agent ("notify", s_dir, s_endpoint);
    char log[512], out[4096] = "";
    snprintf (log, sizeof log, "%s/agent.log", s_dir);
    cr_expect_eq (procutil_kill (pid, SIGTERM), 0);
    FILE *file = fopen (log, "r");
    cr_assert_not_null (file);
    size_t got = fread (out, 1, sizeof out - 1, file);
    out[got] = 0;
    fclose (file);
    cr_expect_not_null (strstr (out, "service manager not told ready"), "%s",
                        out);
}

//  The sample configuration, with its commented settings taken in too
//  when all is true (but the mesh secret file, which is not here, and
//  with port 0 for the AMQP, HTTP and metrics listeners, whose set ports
//  other agents of the suite may hold); the store and the endpoint are
//  the test's.
static void
s_sample (bool all)
{
    char source[512], config[512], command[1400];
    snprintf (source, sizeof source, "%s/../contrib/meshq.conf",
              MESHQ_TEST_SOURCE_DIR);
    snprintf (config, sizeof config, "%s/meshq.conf", s_dir);
    snprintf (
        command, sizeof command, "sed %s '%s' > '%s'",
        all ? "-e '/mesh_secret_file/!s/^    # \\([a-z_]* = \\)/    \\1/' "
              "-e 's/^\\(    [a-z]* = 127\\.0\\.0\\.1:\\)[0-9]*$/\\10/'"
            : "-e ''",
        source, config);
    cr_assert_eq (system (command), 0, "%s", command);
    const char *extra[] = {"--config", config, NULL};
    pid_t pid = procutil_agent_with ("sample", s_dir, s_endpoint, extra);
    cr_expect_eq (procutil_kill (pid, SIGTERM), 0);
}

Test (service, the_sample_configuration_starts_an_agent)
{
    s_sample (false);
}

Test (service, every_setting_the_sample_shows_is_valid)
{
    s_sample (true);
}
