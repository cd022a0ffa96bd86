/*  test_agent_config.c - meshq-agent's flags and config file: what is
    accepted, what flags override, and the sentence for each refusal.
*/
#include "config.h"
#include "meshq.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

static meshq_agent_config_t s_config;
static char s_error[512];

static meshq_config_status_t
s_parse (int argc, const char **argv)
{
    s_error[0] = 0;
    meshq_agent_config_fini (&s_config);
    return meshq_agent_config_parse (&s_config, argc, (char **)argv, s_error,
                                     sizeof s_error);
}

static void
s_fini (void)
{
    meshq_agent_config_fini (&s_config);
}

//  Writes text to a new temporary file; returns its path (free it).
static char *
s_file (const char *text)
{
    char *path = strdup ("/tmp/meshq-config-XXXXXX");
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    cr_assert_eq (write (fd, text, strlen (text)), (ssize_t)strlen (text));
    close (fd);
    return path;
}

Test (agent_config, takes_every_flag, .fini = s_fini)
{
    const char *argv[] = {"meshq-agent",
                          "--name",
                          "a",
                          "--mesh=m",
                          "--vhost",
                          "/v",
                          "--port",
                          "5681",
                          "--beacon-port",
                          "5690",
                          "--interface",
                          "eth0",
                          "--transport",
                          "broadcast",
                          "--seeds",
                          "tcp://10.0.0.1:5681,tcp://10.0.0.2:5681",
                          "--no-beacon",
                          "--control",
                          "ipc:///tmp/x.ipc",
                          "--data",
                          "/var/lib/meshq",
                          "--beacon-interval",
                          "100",
                          "--heartbeat",
                          "50",
                          "--peer-timeout",
                          "500"};
    cr_assert_eq (s_parse (sizeof argv / sizeof argv[0], argv), MESHQ_CONFIG_OK,
                  "%s", s_error);
    cr_expect_str_eq (s_config.name, "a");
    cr_expect_str_eq (s_config.mesh, "m");
    cr_expect_str_eq (s_config.vhost, "/v");
    cr_expect_eq (s_config.port, 5681);
    cr_expect_eq (s_config.beacon_port, 5690);
    cr_expect_str_eq (s_config.interface, "eth0");
    cr_expect_eq (s_config.transport, MESHQ_TRANSPORT_BROADCAST);
    cr_expect_str_eq (s_config.seeds,
                      "tcp://10.0.0.1:5681,tcp://10.0.0.2:5681");
    cr_expect (s_config.no_beacon);
    cr_expect_str_eq (s_config.control, "ipc:///tmp/x.ipc");
    cr_expect_str_eq (s_config.data, "/var/lib/meshq");
    cr_expect_eq (s_config.beacon_interval_ms, 100);
    cr_expect_eq (s_config.heartbeat_ms, 50);
    cr_expect_eq (s_config.peer_timeout_ms, 500);
    meshq_peers_config_t peers;
    meshq_agent_config_peers (&s_config, &peers);
    cr_expect_str_eq (peers.name, "a");
    cr_expect_eq (peers.peer_timeout_ms, 500);
    cr_expect (peers.no_beacon);
}

Test (agent_config, refuses_bad_flags_with_a_reason, .fini = s_fini)
{
    const struct {
        const char *flag;   //  The flag.
        const char *value;  //  Its value, or NULL.
        const char *why;    //  Expected in the sentence.
    } cases[] = {
        {"--bogus", NULL, "unknown option '--bogus'"},
        {"--port", NULL, "option '--port' needs a value"},
        {"--port", "65536", "port '65536': not a port number 0..65535"},
        {"--port", "-1", "not a port number"},
        {"--port", "12a", "not a port number"},
        {"--beacon-port", "0", "not a port number 1..65535"},
        {"--transport", "carrier-pigeon", "use auto, multicast, broadcast"},
        {"--heartbeat", "5", "heartbeat '5': not a number of milliseconds"},
        {"--peer-timeout", "", "not a number of milliseconds"},
        {"stray", NULL, "unexpected argument 'stray'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[] = {"meshq-agent", cases[i].flag, cases[i].value};
        cr_expect_eq (s_parse (cases[i].value ? 3 : 2, argv),
                      MESHQ_CONFIG_USAGE, "case %zu", i);
        cr_expect (strstr (s_error, cases[i].why), "case %zu: %s", i, s_error);
    }
}

Test (agent_config, reads_a_file_and_flags_win, .fini = s_fini)
{
    char *path =
        s_file ("#   An agent\n"
                "name = from-file\n"
                "mesh = prod\n"
                "beacon-port = 5700\n"
                "no-beacon = true\n"
                "seeds = \"tcp://10.0.0.1:5681,tcp://10.0.0.2:5681\"\n");
    const char *argv[] = {"meshq-agent", "--config", path, "--name", "flag"};
    cr_assert_eq (s_parse (5, argv), MESHQ_CONFIG_OK, "%s", s_error);
    cr_expect_str_eq (s_config.name, "flag");
    cr_expect_str_eq (s_config.mesh, "prod");
    cr_expect_eq (s_config.beacon_port, 5700);
    cr_expect (s_config.no_beacon);
    cr_expect_str_eq (s_config.seeds,
                      "tcp://10.0.0.1:5681,tcp://10.0.0.2:5681");
    unlink (path);
    free (path);
}

Test (agent_config, refuses_a_bad_file_with_a_reason, .fini = s_fini)
{
    const struct {
        const char *text;  //  File content.
        const char *why;   //  Expected in the sentence.
    } cases[] = {
        {"nmae = a\n", "unknown key 'nmae'"},
        {"port = http\n", "port 'http': not a port number"},
        {"no-beacon = maybe\n", "no-beacon 'maybe': use true or false"},
        {"name\n    first = a\n", "key 'name' has children"},
        {"agent\n    name = a\n", "unknown key 'agent'"},
        {"help = 1\n", "unknown key 'help'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = s_file (cases[i].text);
        const char *argv[] = {"meshq-agent", "--config", path};
        cr_expect_eq (s_parse (3, argv), MESHQ_CONFIG_FILE, "case %zu", i);
        cr_expect (strstr (s_error, cases[i].why), "case %zu: %s", i, s_error);
        unlink (path);
        free (path);
    }
    const char *argv[] = {"meshq-agent", "--config", "/nonexistent/agent.cfg"};
    cr_expect_eq (s_parse (3, argv), MESHQ_CONFIG_FILE);
    cr_expect (strstr (s_error, "cannot read config file"), "%s", s_error);
}

Test (agent_config, help_and_version, .fini = s_fini)
{
    const char *help[] = {"meshq-agent", "-h"};
    cr_expect_eq (s_parse (2, help), MESHQ_CONFIG_OK);
    cr_expect (s_config.help);
    const char *version[] = {"meshq-agent", "--version"};
    cr_expect_eq (s_parse (2, version), MESHQ_CONFIG_OK);
    cr_expect (s_config.version);
}
