/*  test_mesh_interest.c - a queue's backlog is told only to the agents
    that consume it: in a mesh of three, an agent with no consumer of a
    queue hears nothing of its backlog elsewhere (its /metrics counts
    the BACKLOG frames it gets), while the agent with the consumer gets
    every message; a consumer that starts later, on the agent that
    heard nothing, gets the backlog that waited, and the agent whose
    consumer went hears no more of it.
*/
#include "agentutil.h"
#include "args.h"
#include "client_internal.h"
#include "clientutil.h"
#include "codec_args.h"
#include "httputil.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <czmq.h>

#define S_NODES 3

static agentutil_t s_nodes[S_NODES];
static char s_mesh[64];

static void
s_setup (void)
{
    //  A mesh of this test's own: parallel suites never join it.
    snprintf (s_mesh, sizeof s_mesh, "interest-%d-%d", (int)getpid (),
              (int)(zclock_usecs () % 100000));
    memset (s_nodes, 0, sizeof s_nodes);
}

static void
s_teardown (void)
{
    for (int i = 0; i < S_NODES; i++)
        if (*s_nodes[i].dir)
            agentutil_finish (&s_nodes[i]);
}

TestSuite (mesh_interest, .init = s_setup, .fini = s_teardown, .timeout = 90);

//  Starts agent i in this test's mesh, with /metrics on a port of its
//  own, and returns a client of it.
static meshq_client_t *
s_start (int i)
{
    const char *options[] = {"mesh", s_mesh, "metrics", "127.0.0.1:0", NULL};
    char name[2] = {(char)('a' + i), 0};
    agentutil_start_with (&s_nodes[i], name, options);
    return agentutil_connect (s_nodes[i].agent);
}

//  The port of the agent's /metrics, from its STATUS.
static int
s_metrics_port (meshq_client_t *client)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    cr_assert (MESHQ_ARGS_HAS (&status, METRICS));
    char text[64];
    snprintf (text, sizeof text, "%.*s", (int)status.metrics.size,
              status.metrics.data);
    zmsg_destroy (&reply);
    const char *colon = strrchr (text, ':');
    cr_assert_not_null (colon);
    return atoi (colon + 1);
}

//  BACKLOG frames the agent of client got from other agents.
static uint64_t
s_backlogs_received (meshq_client_t *client)
{
    httputil_answer_t answer =
        httputil_get (s_metrics_port (client), "/metrics", NULL, NULL);
    cr_assert_eq (answer.status, 200, "%s", answer.text);
    const char *line = "meshq_mesh_commands_total{command=\"BACKLOG\","
                       "direction=\"received\"} ";
    const char *at = strstr (answer.body, line);
    cr_assert_not_null (at, "no count of BACKLOG received in /metrics");
    uint64_t count = strtoull (at + strlen (line), NULL, 10);
    httputil_free (&answer);
    return count;
}

static void
s_wait_queue (meshq_client_t *client, const char *queue)
{
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.passive = true;
    int64_t deadline = zclock_mono () + 10000;
    int rc;
    while ((rc = meshq_client_declare_queue (client, queue, &options)) &&
           zclock_mono () < deadline)
        meshq_client_dispatch (client, 20);
    cr_assert_eq (rc, 0, "queue '%s' never reached this agent", queue);
}

static void
s_publish (meshq_client_t *client, const char *queue, int count)
{
    meshq_client_set_confirms (client, 1000);
    for (int i = 0; i < count; i++)
        cr_assert_eq (meshq_client_publish_body (client, "", queue, "m", 1), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 10000), 0, "%s",
                  meshq_client_error (client));
}

//  Receives count messages at client, waiting up to 5 s for each, and
//  acks them; what names them in a failure.
static void
s_recv_ack (meshq_client_t *client, int count, const char *what)
{
    for (int i = 0; i < count; i++) {
        meshq_delivery_t *delivery = NULL;
        cr_assert_eq (meshq_client_recv (client, 5000, &delivery), 0,
                      "%s: message %d of %d did not come", what, i + 1, count);
        meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
}

//  The ready and unacked messages of queue on client's agent.
static uint64_t
s_left (meshq_client_t *client, const char *queue)
{
    meshq_args_t row;
    bool found = clientutil_queue (client, queue, &row);
    return found ? row.messages + row.unacked : UINT64_MAX;
}

Test (mesh_interest, backlog_is_told_only_to_the_agents_that_consume_it)
{
    meshq_client_t *a = s_start (0), *b = s_start (1), *c = s_start (2);
    clientutil_wait_peers (a, 2);
    clientutil_wait_peers (b, 2);
    clientutil_wait_peers (c, 2);
    cr_assert_eq (meshq_client_declare_queue (a, "jobs", NULL), 0);
    s_wait_queue (b, "jobs");
    s_wait_queue (c, "jobs");

    //  A consumer on B only: B gets every message published on A, and
    //  C, with none, hears nothing of A's backlog.
    cr_assert_eq (meshq_client_consume (b, "jobs", 20, "on-b", 0), 0);
    s_publish (a, "jobs", 300);
    s_recv_ack (b, 300, "consumer on B");
    cr_expect_gt (s_backlogs_received (b), 0);
    cr_expect_eq (s_backlogs_received (c), 0,
                  "an agent with no consumer was told of the backlog");

    //  B's consumer goes; a backlog waits on A; a consumer that starts
    //  on C then gets all of it.
    cr_assert_eq (meshq_client_cancel (b, "on-b"), 0);
    s_publish (a, "jobs", 50);
    cr_assert_eq (meshq_client_consume (c, "jobs", 20, "on-c", 0), 0);
    s_recv_ack (c, 50, "consumer on C, started after the backlog");

    //  B, with no consumer left, hears of no further backlog.
    uint64_t heard = s_backlogs_received (b);
    s_publish (a, "jobs", 100);
    s_recv_ack (c, 100, "consumer on C");
    int64_t deadline = zclock_mono () + 5000;
    while (s_left (a, "jobs") && zclock_mono () < deadline)
        meshq_client_dispatch (c, 10);
    cr_expect_eq (s_left (a, "jobs"), 0, "every message was acked");
    cr_expect_eq (s_backlogs_received (b), heard,
                  "an agent whose consumer went was still told the backlog");
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
    meshq_client_destroy (&c);
}

Test (mesh_interest, a_consumer_of_a_waiting_backlog_gets_it_at_once)
{
    //  The backlog is there before any consumer: the consumer's record
    //  reaching the origin is what tells it, wherever the consumer is.
    meshq_client_t *a = s_start (0), *b = s_start (1);
    clientutil_wait_peers (a, 1);
    clientutil_wait_peers (b, 1);
    cr_assert_eq (meshq_client_declare_queue (a, "waiting", NULL), 0);
    s_wait_queue (b, "waiting");
    s_publish (a, "waiting", 200);
    cr_expect_eq (s_backlogs_received (b), 0);
    cr_assert_eq (meshq_client_consume (b, "waiting", 10, NULL, 0), 0);
    s_recv_ack (b, 200, "consumer on B");
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}

Test (mesh_interest, a_consumer_on_an_agent_that_restarted_gets_the_backlog)
{
    //  B's consumer comes and goes (A keeps the end of B's record, at a
    //  version B's clock may not reach after a restart), B restarts, a
    //  backlog waits on A, and a consumer on B again gets all of it.
    meshq_client_t *a = s_start (0), *b = s_start (1);
    clientutil_wait_peers (a, 1);
    cr_assert_eq (meshq_client_declare_queue (a, "again", NULL), 0);
    s_wait_queue (b, "again");
    cr_assert_eq (meshq_client_consume (b, "again", 10, "first", 0), 0);
    s_publish (a, "again", 20);
    s_recv_ack (b, 20, "consumer on B before its restart");
    cr_assert_eq (meshq_client_cancel (b, "first"), 0);
    meshq_client_destroy (&b);
    agentutil_stop (&s_nodes[1]);
    s_publish (a, "again", 50);
    b = s_start (1);
    clientutil_wait_peers (b, 1);
    cr_assert_eq (meshq_client_consume (b, "again", 10, NULL, 0), 0);
    s_recv_ack (b, 50, "consumer on B after its restart");
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}
