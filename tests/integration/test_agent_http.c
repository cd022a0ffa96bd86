/*  test_agent_http.c - an embedded agent's HTTP listeners: none unless
    set, the port picked shown in STATUS, a port in use refused at
    start, and what /metrics counts of publishes, confirms and acks.
*/
#include "agentutil.h"
#include "clientutil.h"
#include "httputil.h"

static agentutil_t s_node;

static void
s_teardown (void)
{
    agentutil_finish (&s_node);
}

TestSuite (agent_http, .fini = s_teardown, .timeout = 60);

//  The port of a HOST:PORT argument of STATUS, or 0 if absent.
static int
s_status_port (meshq_client_t *client, bool metrics)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    int port = 0;
    meshq_span_t address = metrics ? status.metrics : status.http;
    bool present = metrics ? MESHQ_ARGS_HAS (&status, METRICS)
                           : MESHQ_ARGS_HAS (&status, HTTP);
    if (present) {
        char text[64];
        snprintf (text, sizeof text, "%.*s", (int)address.size, address.data);
        const char *colon = strrchr (text, ':');
        port = colon ? atoi (colon + 1) : 0;
    }
    zmsg_destroy (&reply);
    return port;
}

Test (agent_http, serves_http_only_when_set)
{
    agentutil_start (&s_node, "web");
    meshq_client_t *client = agentutil_client (&s_node);
    cr_expect_eq (s_status_port (client, false), 0);
    cr_expect_eq (s_status_port (client, true), 0);
    meshq_client_destroy (&client);
    agentutil_stop (&s_node);

    const char *options[] = {"http", "0", "metrics", "127.0.0.1:0", NULL};
    agentutil_start_with (&s_node, "web", options);
    client = agentutil_client (&s_node);
    int http = s_status_port (client, false);
    int metrics = s_status_port (client, true);
    cr_assert_gt (http, 0);
    cr_assert_gt (metrics, 0);
    httputil_answer_t answer =
        httputil_get (http, "/api/overview", "guest", "guest");
    cr_expect_eq (answer.status, 200, "%s", answer.text);
    char name[96];
    snprintf (name, sizeof name, "\"node\":\"%s\"", s_node.name);
    cr_expect (strstr (answer.body, name), "%s", answer.body);
    httputil_free (&answer);
    answer = httputil_get (metrics, "/metrics", NULL, NULL);
    cr_expect_eq (answer.status, 200, "%s", answer.text);
    httputil_free (&answer);
    meshq_client_destroy (&client);
}

Test (agent_http, bad_settings_and_a_port_in_use_are_refused)
{
    meshq_agent_t *agent = meshq_agent_new ("web-bad");
    cr_expect_eq (meshq_agent_set (agent, "http", "localhost:80"),
                  MESHQ_EINVAL);
    cr_expect (strstr (meshq_agent_error (agent), "http: 'localhost:80'"), "%s",
               meshq_agent_error (agent));
    cr_expect_eq (meshq_agent_set (agent, "metrics", "99999"), MESHQ_EINVAL);
    cr_expect_eq (meshq_agent_set (agent, "metrics_login", "maybe"),
                  MESHQ_EINVAL);
    meshq_agent_destroy (&agent);

    //  A port given and in use: the agent does not start.
    const char *first[] = {"metrics", "0", NULL};
    agentutil_start_with (&s_node, "web", first);
    meshq_client_t *client = agentutil_client (&s_node);
    int port = s_status_port (client, true);
    meshq_client_destroy (&client);
    char dir[] = "/tmp/meshq-test-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    agent = meshq_agent_new ("web-second");
    meshq_agent_set (agent, "data", dir);
    char spec[32];
    snprintf (spec, sizeof spec, "127.0.0.1:%d", port);
    meshq_agent_set (agent, "metrics", spec);
    cr_expect_neq (meshq_agent_start (agent), 0);
    cr_expect (strstr (meshq_agent_error (agent), "is in use"), "%s",
               meshq_agent_error (agent));
    meshq_agent_destroy (&agent);
    char command[128];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    cr_expect_eq (system (command), 0);
}

//  The value of a sample line "NAME VALUE" in text, or -1.
static long
s_sample (const char *text, const char *name)
{
    char key[256];
    snprintf (key, sizeof key, "\n%s ", name);
    const char *at = strstr (text, key);
    return at ? atol (at + strlen (key)) : -1;
}

Test (agent_http, metrics_count_confirms_deliveries_and_acks)
{
    const char *options[] = {"metrics", "0", NULL};
    agentutil_start_with (&s_node, "web", options);
    meshq_client_t *client = agentutil_client (&s_node);
    int port = s_status_port (client, true);
    cr_assert_eq (meshq_client_set_confirms (client, 100), 0);
    cr_assert_eq (meshq_client_declare_queue (client, "jobs", NULL), 0);
    for (int i = 0; i < 5; i++)
        agentutil_publish (client, "", "jobs", "job", MESHQ_PERSISTENT);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    cr_assert_eq (meshq_client_consume (client, "jobs", 10, NULL, 0), 0);
    for (int i = 0; i < 5; i++) {
        meshq_delivery_t *delivery = agentutil_recv (client);
        cr_assert_eq (meshq_client_ack (client, delivery->delivery_tag, false),
                      0);
        meshq_delivery_destroy (&delivery);
    }
    //  A request sends the acks the client holds before it.
    cr_assert_eq (meshq_client_declare_queue (client, "jobs", NULL), 0);
    //  Acks are not answered: the next scrapes see them.
    long acked = 0;
    httputil_answer_t answer = {0};
    for (int tries = 0; tries < 50 && acked < 5; tries++) {
        httputil_free (&answer);
        answer = httputil_get (port, "/metrics", NULL, NULL);
        acked = s_sample (answer.body, "meshq_ack_wait_seconds_count");
        if (acked < 5)
            zclock_sleep (20);
    }
    cr_expect_eq (acked, 5, "%s", answer.body);
    cr_expect_eq (s_sample (answer.body, "meshq_publish_confirm_seconds_count"),
                  5);
    cr_expect_eq (s_sample (answer.body, "meshq_delivery_wait_seconds_count"),
                  5);
    cr_expect_eq (
        s_sample (
            answer.body,
            "meshq_queue_messages_acked_total{vhost=\"/\",queue=\"jobs\"}"),
        5);
    cr_expect_eq (
        s_sample (
            answer.body,
            "meshq_queue_ack_wait_seconds_count{vhost=\"/\",queue=\"jobs\"}"),
        5);
    httputil_free (&answer);
    meshq_client_destroy (&client);
}

Test (agent_http, restarts_at_once_in_the_same_process)
{
    //  An agent of the same name, stopped and started again at once,
    //  serves again: nothing of the last one's is in its way.
    const char *options[] = {"http", "0", "metrics", "0", NULL};
    for (int round = 0; round < 5; round++) {
        agentutil_start_with (&s_node, "web", options);
        meshq_client_t *client = agentutil_client (&s_node);
        int port = s_status_port (client, true);
        httputil_answer_t answer = httputil_get (port, "/metrics", NULL, NULL);
        cr_expect_eq (answer.status, 200, "round %d: %s", round, answer.text);
        httputil_free (&answer);
        meshq_client_destroy (&client);
        agentutil_stop (&s_node);
    }
    agentutil_start (&s_node, "web");
}
