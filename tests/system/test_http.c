/*  test_http.c - meshq-agent's HTTP listeners as an operator and a
    Prometheus server use them: the port rules of the http and metrics
    settings, /metrics after traffic, the JSON API behind HTTP Basic
    authentication with RabbitMQ's tags, and bounds on what a hostile
    client can make a listener spend.
*/
#include "httputil.h"
#include "mhd_load.h"
#include "procutil.h"
#include "testutil.h"

#include <dlfcn.h>
#include <regex.h>

static char s_dir[256];
static char s_endpoint[300];
static char s_tool[1024];
static char s_agent[1024];
static pid_t s_pid;

static void
s_setup (void)
{
    procutil_dir ("http", s_dir, sizeof s_dir, s_endpoint, sizeof s_endpoint);
    snprintf (s_tool, sizeof s_tool, "%s/tools/meshq", MESHQ_BINARY_DIR);
    snprintf (s_agent, sizeof s_agent, "%s/agents/meshq-agent",
              MESHQ_BINARY_DIR);
}

static void
s_teardown (void)
{
    if (s_pid > 0)
        procutil_kill (s_pid, SIGTERM);
    procutil_rmdir (s_dir);
}

TestSuite (http, .init = s_setup, .fini = s_teardown, .timeout = 120);

//  Runs the meshq tool against the agent (arguments NULL-terminated);
//  checks it exits 0 and returns it.
static procutil_prog_t *
s_meshq (const char *input, const char *first, ...)
{
    const char *argv[32] = {s_tool, "--agent", s_endpoint};
    int argc = 3;
    va_list args;
    va_start (args, first);
    for (const char *arg = first; arg; arg = va_arg (args, const char *)) {
        cr_assert_lt (argc, 31);
        argv[argc++] = arg;
    }
    va_end (args);
    argv[argc] = NULL;
    procutil_prog_t *prog = procutil_prog_new (argv, input, 10000);
    procutil_prog_expect_exit (prog, 0);
    return prog;
}

//  Starts the agent with the extra options (NULL-terminated) and finds
//  the ports it serves HTTP and metrics on, from status.
static void
s_start (int *http, int *metrics, const char *const *extra)
{
    s_pid = procutil_agent_with ("web", s_dir, s_endpoint, extra);
    procutil_prog_t *prog = s_meshq (NULL, "--json", "status", NULL);
    *http = httputil_port_after (prog->output, "\"http\"");
    *metrics = httputil_port_after (prog->output, "\"metrics\"");
    procutil_prog_destroy (&prog);
}

//  True if process pid maps a file whose path holds name.
static bool
s_maps (pid_t pid, const char *name)
{
    char path[64], line[4096];
    snprintf (path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "%s: %s", path, strerror (errno));
    bool found = false;
    while (!found && fgets (line, sizeof line, file))
        found = strstr (line, name) != NULL;
    fclose (file);
    return found;
}

//  The agent's log so far, in text.
static void
s_read_log (char *text, size_t size)
{
    char log[400];
    snprintf (log, sizeof log, "%s/agent.log", s_dir);
    FILE *file = fopen (log, "r");
    cr_assert_not_null (file);
    size_t got = fread (text, 1, size - 1, file);
    text[got] = 0;
    fclose (file);
}

//  A port of 127.0.0.1 held by a listening socket of the test; the
//  socket is returned in *fd.
static int
s_hold_port (int *fd)
{
    *fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
    cr_assert_eq (bind (*fd, (struct sockaddr *)&address, sizeof address), 0);
    cr_assert_eq (listen (*fd, 4), 0);
    socklen_t length = sizeof address;
    getsockname (*fd, (struct sockaddr *)&address, &length);
    return ntohs (address.sin_port);
}

Test (http, port_zero_picks_a_free_port_that_status_shows)
{
    const char *extra[] = {"--http", "0", "--metrics", "0", NULL};
    int http, metrics;
    s_start (&http, &metrics, extra);
    cr_assert_gt (http, 0);
    cr_assert_gt (metrics, 0);
    cr_expect_neq (http, metrics);
    //  Both answer there: /metrics with no login, the API asking one.
    httputil_answer_t answer = httputil_get (metrics, "/metrics", NULL, NULL);
    cr_expect_eq (answer.status, 200, "%s", answer.text);
    httputil_free (&answer);
    answer = httputil_get (http, "/api/overview", NULL, NULL);
    cr_expect_eq (answer.status, 401, "%s", answer.text);
    cr_expect (strstr (answer.text, "WWW-Authenticate: Basic"), "%s",
               answer.text);
    httputil_free (&answer);
    //  What serving loaded (and what the next test looks for).
    cr_expect (s_maps (s_pid, "libmicrohttpd"));
}

Test (http, an_agent_that_serves_no_http_never_maps_libmicrohttpd)
{
    //  libmicrohttpd and GnuTLS, which it pulls in, cost every process
    //  start about 160 page faults: only a listener loads them
    //  (docs/decisions/0045).
    const char *extra[] = {"--http", "", "--metrics", "", NULL};
    int http, metrics;
    s_start (&http, &metrics, extra);
    cr_expect_eq (http, 0);
    cr_expect_eq (metrics, 0);
    cr_expect_not (s_maps (s_pid, "libmicrohttpd"));
    cr_expect_not (s_maps (s_pid, "libgnutls"));
}

Test (http, an_agent_that_cannot_load_libmicrohttpd_runs_without_http)
{
    //  The library is hidden from the agent alone: /dev/null is bound
    //  over its file in a mount namespace of the agent's own.
    if (geteuid () != 0 || access ("/usr/bin/unshare", X_OK) ||
        system ("/usr/bin/unshare -m true"))
        cr_skip_test ("needs root and unshare to hide libmicrohttpd");
    char why[512];
    const meshq_mhd_t *mhd = meshq_mhd_load (why, sizeof why);
    cr_assert_not_null (mhd, "%s", why);
    Dl_info library;
    cr_assert (dladdr ((void *)mhd->start_daemon, &library) &&
               library.dli_fname);
    const char *hide = "mount --bind /dev/null \"$0\" && exec \"$@\"";
    char data[300], log[300];
    snprintf (data, sizeof data, "%s/store", s_dir);
    snprintf (log, sizeof log, "%s/agent.log", s_dir);
    //  On the default ports, a warning for each, as for a port in use.
    const char *argv[20] = {"/usr/bin/unshare",
                            "-m",
                            "/bin/sh",
                            "-c",
                            hide,
                            library.dli_fname,
                            s_agent,
                            "--name",
                            "web",
                            "--data",
                            data,
                            "--control",
                            s_endpoint,
                            "--standalone"};
    s_pid = procutil_agent_argv ((char *const *)argv, log, s_endpoint);
    procutil_prog_t *prog = s_meshq (NULL, "--json", "status", NULL);
    cr_expect_eq (httputil_port_after (prog->output, "\"http\""), 0);
    cr_expect_eq (httputil_port_after (prog->output, "\"metrics\""), 0);
    procutil_prog_destroy (&prog);
    char text[8192];
    s_read_log (text, sizeof text);
    for (int i = 0; i < 2; i++) {
        char line[128];
        snprintf (line, sizeof line,
                  "http: not serving what=%s reason=libmicrohttpd",
                  i ? "metrics" : "http");
        cr_expect (strstr (text, line), "%s", text);
    }
    cr_expect (strstr (text, "cannot be loaded: "), "%s", text);
    cr_expect_not (s_maps (s_pid, "libmicrohttpd"));
    procutil_kill (s_pid, SIGTERM);
    s_pid = 0;
    //  A port asked for: the agent does not start, and says why.
    const char *asked[] = {"--metrics", "0", "--http", "", NULL};
    memcpy (argv + 14, asked, sizeof asked);
    prog = procutil_prog_new (argv, NULL, 10000);
    cr_expect_eq (procutil_prog_exit_code (prog), 69, "%s", prog->output);
    cr_expect (strstr (prog->output, "cannot be loaded: "), "%s", prog->output);
    procutil_prog_destroy (&prog);
}

Test (http, explicit_port_in_use_exits_69_and_default_warns)
{
    int fd;
    int port = s_hold_port (&fd);
    char spec[32];
    snprintf (spec, sizeof spec, "127.0.0.1:%d", port);
    char data[300];
    snprintf (data, sizeof data, "%s/store", s_dir);
    const char *argv[] = {s_agent,     "--name",    "web",      "--data",
                          data,        "--control", s_endpoint, "--standalone",
                          "--metrics", spec,        "--http",   "",
                          NULL};
    procutil_prog_t *prog = procutil_prog_new (argv, NULL, 10000);
    cr_expect_eq (procutil_prog_exit_code (prog), 69, "%s", prog->output);
    cr_expect (strstr (prog->output, "is in use"), "%s", prog->output);
    cr_expect (strstr (prog->output, spec), "%s", prog->output);
    procutil_prog_destroy (&prog);
    //  The same for http.
    argv[9] = "";
    argv[11] = spec;
    prog = procutil_prog_new (argv, NULL, 10000);
    cr_expect_eq (procutil_prog_exit_code (prog), 69, "%s", prog->output);
    procutil_prog_destroy (&prog);
    close (fd);
}

Test (http, default_port_taken_gives_a_warning_and_no_http)
{
    //  Hold RabbitMQ's ports. One may be held by an agent of a test
    //  running beside this one, which may end any time and let ours
    //  have it: try until we hold it, and only after 20 s take that
    //  holder as the same case.
    int fds[2] = {-1, -1};
    const int ports[2] = {15672, 15692};
    int64_t deadline = zclock_mono () + 20000;
    for (int i = 0; i < 2; i++)
        while (fds[i] < 0) {
            fds[i] = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_in address = {.sin_family = AF_INET,
                                          .sin_port = htons (ports[i])};
            inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
            if (bind (fds[i], (struct sockaddr *)&address, sizeof address) ||
                listen (fds[i], 4)) {
                close (fds[i]);
                fds[i] = -1;
                if (zclock_mono () >= deadline)
                    break;
                zclock_sleep (100);
            }
        }
    int http, metrics;
    s_start (&http, &metrics, NULL);
    cr_expect_eq (http, 0, "no http address in status");
    cr_expect_eq (metrics, 0, "no metrics address in status");
    char log[400], text[8192] = "";
    snprintf (log, sizeof log, "%s/agent.log", s_dir);
    FILE *file = fopen (log, "r");
    cr_assert_not_null (file);
    size_t got = fread (text, 1, sizeof text - 1, file);
    text[got] = 0;
    fclose (file);
    cr_expect (strstr (text, "http: not serving what=http reason=port in use"),
               "%s", text);
    cr_expect (strstr (text, "not serving what=metrics"), "%s", text);
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close (fds[i]);
}

//  Checks every line of a Prometheus text exposition: comments, or
//  NAME{LABELS} VALUE; and every family has its TYPE before its samples.
static void
s_expect_exposition (const char *text)
{
    regex_t sample;
    cr_assert_eq (regcomp (&sample,
                           "^[a-zA-Z_:][a-zA-Z0-9_:]*"
                           "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
                           "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*"
                           "\\})? (\\+Inf|-?[0-9]+(\\.[0-9]+)?)$",
                           REG_EXTENDED | REG_NOSUB),
                  0);
    char *copy = strdup (text), *saveptr = NULL;
    int lines = 0;
    for (char *line = strtok_r (copy, "\n", &saveptr); line;
         line = strtok_r (NULL, "\n", &saveptr), lines++) {
        if (strncmp (line, "# HELP ", 7) == 0 ||
            strncmp (line, "# TYPE ", 7) == 0)
            continue;
        cr_expect_eq (regexec (&sample, line, 0, NULL, 0), 0,
                      "not a sample: '%s'", line);
    }
    cr_expect_gt (lines, 50);
    free (copy);
    regfree (&sample);
}

Test (http, metrics_show_queues_and_the_agent_after_traffic)
{
    const char *extra[] = {"--http", "", "--metrics", "0", NULL};
    int http, metrics;
    s_start (&http, &metrics, extra);
    cr_expect_eq (http, 0);
    procutil_prog_t *prog = s_meshq (NULL, "declare_queue", "jobs", NULL);
    procutil_prog_destroy (&prog);
    prog =
        s_meshq ("one\ntwo\nthree\n", "publish", "--routing-key", "jobs", NULL);
    procutil_prog_destroy (&prog);
    //  One taken and acked (the others, delivered with it by the
    //  prefetch, go back).
    prog = s_meshq (NULL, "consume", "jobs", "--count", "1", NULL);
    procutil_prog_destroy (&prog);
    httputil_answer_t answer = httputil_get (metrics, "/metrics", NULL, NULL);
    cr_assert_eq (answer.status, 200, "%s", answer.text);
    cr_expect (strstr (answer.text, "Content-Type: text/plain; version=0.0.4"),
               "%s", answer.text);
    s_expect_exposition (answer.body);
    const char *expected[] = {
        "meshq_queue_messages_ready{vhost=\"/\",queue=\"jobs\"} 2\n",
        "meshq_queue_messages_published_total{vhost=\"/\",queue=\"jobs\"} 3\n",
        "meshq_queue_messages_acked_total{vhost=\"/\",queue=\"jobs\"} 1\n",
        "meshq_queue_messages_ready_bytes{vhost=\"/\",queue=\"jobs\"} 8\n",
        "meshq_queue_ack_wait_seconds_count{vhost=\"/\",queue=\"jobs\"} 1\n",
        "meshq_queue_consumers{vhost=\"/\",queue=\"jobs\"} 0\n",
        "meshq_messages_published_total 3\n",
        "# TYPE meshq_publish_confirm_seconds histogram\n",
        "meshq_publish_confirm_seconds_bucket{le=\"+Inf\"} ",
        "meshq_ack_wait_seconds_count 1\n",
        "meshq_messages_acked_total 1\n",
        "# TYPE meshq_store_fsync_seconds histogram\n",
        "meshq_store_bytes{vhost=\"/\"} ",
        "meshq_blocked{reason=\"memory\"} 0\n",
        "meshq_logins_refused_total{reason=\"password\"} 0\n",
        "meshq_process_resident_memory_bytes ",
        "meshq_bad_input_total{source=\"client\"} 0\n",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        cr_expect (strstr (answer.body, expected[i]), "missing: %s",
                   expected[i]);
    httputil_free (&answer);
    //  The metrics listener serves /metrics alone.
    answer = httputil_get (metrics, "/api/overview", NULL, NULL);
    cr_expect_eq (answer.status, 404);
    httputil_free (&answer);
}

Test (http, the_api_needs_a_login_and_a_tag)
{
    const char *extra[] = {"--http",          "0", "--metrics", "0",
                           "--metrics-login", NULL};
    int http, metrics;
    s_start (&http, &metrics, extra);
    procutil_prog_t *prog =
        s_meshq (NULL, "add_user", "watcher", "seeit", NULL);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "add_user", "plain", "plainpw", NULL);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "set_user_tags", "watcher", "monitoring", NULL);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "declare_queue", "jobs", NULL);
    procutil_prog_destroy (&prog);

    //  No credentials, a wrong password, an unknown user: 401.
    httputil_answer_t answer = httputil_get (http, "/api/queues", NULL, NULL);
    cr_expect_eq (answer.status, 401, "%s", answer.text);
    httputil_free (&answer);
    answer = httputil_get (http, "/api/queues", "watcher", "wrong");
    cr_expect_eq (answer.status, 401, "%s", answer.text);
    cr_expect (strstr (answer.text, "WWW-Authenticate: Basic"));
    httputil_free (&answer);
    answer = httputil_get (http, "/api/queues", "nobody", "x");
    cr_expect_eq (answer.status, 401, "%s", answer.text);
    httputil_free (&answer);
    //  A user with no tag: 403.
    answer = httputil_get (http, "/api/overview", "plain", "plainpw");
    cr_expect_eq (answer.status, 403, "%s", answer.text);
    httputil_free (&answer);
    //  monitoring: every endpoint.
    const char *paths[] = {"/api/overview",  "/api/nodes",
                           "/api/queues",    "/api/queues/%2F/jobs",
                           "/api/exchanges", "/api/bindings",
                           "/api/consumers", "/api/connections"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        answer = httputil_get (http, paths[i], "watcher", "seeit");
        cr_expect_eq (answer.status, 200, "%s: %s", paths[i], answer.text);
        cr_expect (strstr (answer.text, "Content-Type: application/json"), "%s",
                   paths[i]);
        httputil_free (&answer);
    }
    answer = httputil_get (http, "/api/queues/%2F/jobs", "watcher", "seeit");
    cr_expect (strstr (answer.body, "\"name\":\"jobs\",\"vhost\":\"/\""), "%s",
               answer.body);
    httputil_free (&answer);
    answer = httputil_get (http, "/api/queues/%2F/nope", "watcher", "seeit");
    cr_expect_eq (answer.status, 404, "%s", answer.text);
    httputil_free (&answer);
    //  guest is an administrator, from localhost.
    answer = httputil_get (http, "/api/overview", "guest", "guest");
    cr_expect_eq (answer.status, 200, "%s", answer.text);
    httputil_free (&answer);
    //  management: the vhosts it has permissions in, and only those.
    prog = s_meshq (NULL, "add_user", "manager", "mgrpw", NULL);
    procutil_prog_destroy (&prog);
    prog = s_meshq (NULL, "set_user_tags", "manager", "management", NULL);
    procutil_prog_destroy (&prog);
    answer = httputil_get (http, "/api/queues", "manager", "mgrpw");
    cr_expect_eq (answer.status, 200, "%s", answer.text);
    cr_expect_str_eq (answer.body, "[]");
    httputil_free (&answer);
    prog = s_meshq (NULL, "set_permissions", "manager", ".*", ".*", ".*", NULL);
    procutil_prog_destroy (&prog);
    answer = httputil_get (http, "/api/queues", "manager", "mgrpw");
    cr_expect (strstr (answer.body, "\"name\":\"jobs\""), "%s", answer.body);
    httputil_free (&answer);
    //  The web page: a login, then the page that reads the API.
    answer = httputil_get (http, "/", NULL, NULL);
    cr_expect_eq (answer.status, 401, "%s", answer.text);
    httputil_free (&answer);
    answer = httputil_get (http, "/", "watcher", "seeit");
    cr_expect_eq (answer.status, 200, "%s", answer.text);
    cr_expect (strstr (answer.text, "Content-Type: text/html"));
    cr_expect (strstr (answer.body, "<svg id=\"mesh\""));
    cr_expect (strstr (answer.body, "get('/api/queues')"));
    httputil_free (&answer);
    //  With metrics_login, /metrics asks for a login too.
    answer = httputil_get (metrics, "/metrics", NULL, NULL);
    cr_expect_eq (answer.status, 401, "%s", answer.text);
    httputil_free (&answer);
    answer = httputil_get (metrics, "/metrics", "watcher", "seeit");
    cr_expect_eq (answer.status, 200, "%s", answer.text);
    //  The refusals are counted, by reason.
    cr_expect (strstr (answer.body,
                       "meshq_logins_refused_total{reason=\"password\"} 2\n"),
               "%s", answer.body);
    httputil_free (&answer);
}

Test (http, hostile_requests_are_bounded)
{
    const char *extra[] = {"--http", "0", "--metrics", "0", NULL};
    int http, metrics;
    s_start (&http, &metrics, extra);
    //  Headers past the memory of a request: refused, not buffered.
    size_t size = 1024 * 1024;
    char *huge = malloc (size + 64);
    cr_assert_not_null (huge);
    int at = snprintf (huge, 64, "GET /metrics HTTP/1.1\r\nX-Big: ");
    memset (huge + at, 'a', size - (size_t)at - 4);
    memcpy (huge + size - 4, "\r\n\r\n", 4);
    httputil_answer_t answer = httputil_raw (metrics, huge, size, 5000);
    cr_expect (answer.status == 431 || answer.status == -1, "%d %s",
               answer.status, answer.text);
    httputil_free (&answer);
    free (huge);
    //  A body, and a method that would carry one: refused unread.
    const char *post = "POST /api/queues HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: 1000000000\r\n\r\nabc";
    answer = httputil_raw (http, post, strlen (post), 5000);
    cr_expect_eq (answer.status, 405, "%s", answer.text);
    httputil_free (&answer);
    const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: 1000000000\r\n\r\nabc";
    answer = httputil_raw (metrics, get, strlen (get), 5000);
    cr_expect_eq (answer.status, 413, "%s", answer.text);
    httputil_free (&answer);
    //  Many idle connections from one address: past the limit they are
    //  closed at once, and the listener still answers once they go.
    int fds[100];
    for (int i = 0; i < 100; i++)
        fds[i] = httputil_connect (metrics);
    int closed = 0;
    for (int i = 0; i < 100; i++) {
        struct pollfd item = {.fd = fds[i], .events = POLLIN};
        char byte;
        if (fds[i] < 0 ||
            (poll (&item, 1, 200) == 1 && recv (fds[i], &byte, 1, 0) <= 0))
            closed++;
    }
    cr_expect_geq (closed, 100 - 16 - 1, "only %d of 100 refused", closed);
    for (int i = 0; i < 100; i++)
        if (fds[i] >= 0)
            close (fds[i]);
    //  Once the listener has seen them go (at its next poll), it answers
    //  again.
    answer.status = -1;
    for (int tries = 0; tries < 100 && answer.status != 200; tries++) {
        if (tries)
            zclock_sleep (50);
        answer = httputil_get (metrics, "/metrics", NULL, NULL);
        if (answer.status != 200)
            httputil_free (&answer);
    }
    cr_expect_eq (answer.status, 200);
    httputil_free (&answer);
}

//  The HTTP port of the agent at endpoint, from its status.
static int
s_http_port_of (const char *endpoint)
{
    const char *argv[] = {s_tool,   "--agent", endpoint,
                          "--json", "status",  NULL};
    procutil_prog_t *prog = procutil_prog_new (argv, NULL, 10000);
    procutil_prog_expect_exit (prog, 0);
    int port = httputil_port_after (prog->output, "\"http\"");
    procutil_prog_destroy (&prog);
    return port;
}

//  Whether text matches the extended regular expression pattern.
static bool
s_matches (const char *text, const char *pattern)
{
    regex_t regex;
    cr_assert_eq (regcomp (&regex, pattern, REG_EXTENDED | REG_NOSUB), 0);
    bool matches = regexec (&regex, text, 0, NULL, 0) == 0;
    regfree (&regex);
    return matches;
}

//  A queue's row, as /api/queues shows it on every agent: once, with the
//  totals of the mesh and a part per agent.
static const char *s_mesh_row =
    "\"name\":\"jobs\",\"vhost\":\"/\",[^{]*\"view\":\"mesh\",.*"
    "\"messages\":3,.*\"consumers\":1,\"message_bytes\":[0-9]+,"
    "\"agents\":2,.*\"parts\":\\[.*\\{\"node\":\"n[12]\",.*"
    "\\{\"node\":\"n[12]\",";

Test (http, api_queues_is_mesh_wide_and_names_agents_that_do_not_answer,
      .timeout = 180)
{
    char dir[64], mesh[64];
    procutil_mesh_dir ("httpmesh", dir, sizeof dir, mesh, sizeof mesh);
    procutil_node_t nodes[2];
    char seeds[2][64];
    for (int i = 0; i < 2; i++)
        procutil_node_init (&nodes[i], dir, i, testutil_free_port ());
    for (int i = 0; i < 2; i++)
        snprintf (seeds[i], sizeof seeds[i], "tcp://127.0.0.1:%d",
                  nodes[1 - i].port);
    //  A peer stays up for a while when stopped: asked, and silent.
    const char *extra[] = {"--http",         "0",     "--metrics", "",
                           "--peer-timeout", "60000", NULL};
    int ports[2];
    for (int i = 0; i < 2; i++) {
        procutil_node_start (&nodes[i], dir, mesh, seeds[i], NULL, extra);
        ports[i] = s_http_port_of (nodes[i].control);
        cr_assert_gt (ports[i], 0);
    }
    //  Three messages on n1, a consumer holding one of them on n2.
    meshq_client_t *producer = procutil_client (nodes[0].control, 5000);
    cr_assert_eq (meshq_client_declare_queue (producer, "jobs", NULL), 0);
    meshq_client_set_confirms (producer, 100);
    for (int i = 0; i < 3; i++)
        meshq_client_publish_body (producer, "", "jobs", "task", 4);
    cr_assert_eq (meshq_client_wait_for_confirms (producer, 5000), 0);
    meshq_client_t *consumer = procutil_client (nodes[1].control, 5000);
    int64_t deadline = zclock_mono () + 30000;
    while (meshq_client_consume (consumer, "jobs", 1, NULL, 0) &&
           zclock_mono () < deadline)
        zclock_sleep (200);
    //  Either agent shows the queue once, with the mesh's totals.
    for (int i = 0; i < 2; i++) {
        httputil_answer_t answer = {0};
        deadline = zclock_mono () + 30000;
        do {
            httputil_free (&answer);
            zclock_sleep (200);
            answer = httputil_get (ports[i], "/api/queues", "guest", "guest");
        } while (!(answer.body && s_matches (answer.body, s_mesh_row)) &&
                 zclock_mono () < deadline);
        cr_assert_eq (answer.status, 200, "%s", answer.text);
        cr_expect (s_matches (answer.body, s_mesh_row), "%s: %s", nodes[i].name,
                   answer.body);
        cr_expect_eq (strstr (strstr (answer.body, "\"name\":\"jobs\"") + 1,
                              "\"name\":\"jobs\""),
                      NULL, "the queue twice: %s", answer.body);
        cr_expect (strstr (answer.body, "\"unanswered\":[]"), "%s",
                   answer.body);
        httputil_free (&answer);
        //  One queue alone, the same way.
        answer =
            httputil_get (ports[i], "/api/queues/%2F/jobs", "guest", "guest");
        cr_expect_eq (answer.status, 200, "%s", answer.text);
        cr_expect (s_matches (answer.body, s_mesh_row), "%s", answer.body);
        httputil_free (&answer);
    }
    //  ?local=true: this agent's view, as before.
    httputil_answer_t answer =
        httputil_get (ports[0], "/api/queues?local=true", "guest", "guest");
    cr_expect_eq (answer.status, 200, "%s", answer.text);
    cr_expect (strstr (answer.body, "\"view\":\"agent\""), "%s", answer.body);
    httputil_free (&answer);
    //  n2 stopped: n1 still answers, within the listener's bound (else
    //  503), and names n2 as not answering.
    cr_assert (procutil_stop (nodes[1].pid));
    answer = httputil_get (ports[0], "/api/queues", "guest", "guest");
    cr_expect_eq (answer.status, 200, "%s", answer.text);
    cr_expect (strstr (answer.body, "\"unanswered\":[{\"name\":\"n2\""), "%s",
               answer.body);
    cr_expect (strstr (answer.body, "\"why\":\"no answer in time\""), "%s",
               answer.body);
    cr_expect (strstr (answer.body, "\"parts\":[{\"node\":\"n1\""), "%s",
               answer.body);
    httputil_free (&answer);
    kill (nodes[1].pid, SIGCONT);
    meshq_client_destroy (&consumer);
    //  n2 gone: not asked, and named all the same.
    cr_expect_eq (procutil_kill (nodes[1].pid, SIGTERM), 0);
    deadline = zclock_mono () + 30000;
    do {
        zclock_sleep (200);
        answer = httputil_get (ports[0], "/api/nodes", "guest", "guest");
        bool gone =
            answer.body && !s_matches (answer.body, "\"name\":\"n2\",[^}]*"
                                                    "\"state\":\"up\"");
        httputil_free (&answer);
        if (gone)
            break;
    } while (zclock_mono () < deadline);
    answer = httputil_get (ports[0], "/api/queues", "guest", "guest");
    cr_expect_eq (answer.status, 200, "%s", answer.text);
    cr_expect (strstr (answer.body, "\"unanswered\":[{\"name\":\"n2\""), "%s",
               answer.body);
    cr_expect (strstr (answer.body, "\"why\":\"not connected: not asked\""),
               "%s", answer.body);
    httputil_free (&answer);
    meshq_client_destroy (&producer);
    cr_expect_eq (procutil_kill (nodes[0].pid, SIGTERM), 0);
    procutil_rmdir (dir);
}
