/*  test_agent.c - one agent and its clients: declare, publish with
    confirms, consume with prefetch, ack, and what a RabbitMQ user
    relies on around them.
*/
#include "agentutil.h"

AGENTUTIL_SUITE (agent, "agent", 60);

Test (agent, publishes_confirms_and_delivers_in_order)
{
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_declare_queue (client, "jobs", NULL), 0, "%s",
                  meshq_client_error (client));
    cr_assert_eq (meshq_client_set_confirms (client, 100), 0);
    char body[32];
    for (int i = 0; i < 50; i++) {
        snprintf (body, sizeof body, "job %d", i);
        cr_assert_eq (
            meshq_client_publish_body (client, "", "jobs", body, strlen (body)),
            0);
    }
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0, "%s",
                  meshq_client_error (client));
    cr_assert_eq (meshq_client_consume (client, "jobs", 10, NULL, 0), 0, "%s",
                  meshq_client_error (client));
    for (int i = 0; i < 50; i++) {
        meshq_delivery_t *delivery = agentutil_recv (client);
        char expected[32], got[64];
        snprintf (expected, sizeof expected, "job %d", i);
        cr_assert_str_eq (agentutil_body (delivery, got, sizeof got), expected);
        cr_expect_str_eq (delivery->queue, "jobs");
        cr_expect_eq (delivery->delivery_count, 1);
        cr_expect_not (delivery->redelivered);
        cr_assert_eq (meshq_client_ack (client, delivery->delivery_tag, false),
                      0);
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&client);
}

Test (agent, redeclare_with_other_arguments_names_both_values)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.max_length = 100;
    cr_assert_eq (meshq_client_declare_queue (client, "jobs", &options), 0);
    cr_expect_eq (meshq_client_declare_queue (client, "jobs", &options), 0,
                  "the same declaration twice is fine");
    options.max_length = 1000;
    cr_expect_eq (meshq_client_declare_queue (client, "jobs", &options),
                  MESHQ_EPRECONDITION);
    cr_expect_str_eq (meshq_client_error (client),
                      "queue 'jobs' exists with max_length=100; you asked "
                      "for 1000");
    options.passive = true;
    cr_expect_eq (meshq_client_declare_queue (client, "nothing", &options),
                  MESHQ_ENOTFOUND);
    cr_expect (strstr (meshq_client_error (client), "no queue 'nothing'"));
    cr_expect_eq (meshq_client_declare_queue (client, "amq.mine", NULL),
                  MESHQ_EACCESS);
    //  An empty name gets one of the agent's choosing.
    cr_assert_eq (meshq_client_declare_queue (client, "", NULL), 0);
    cr_expect (strncmp (meshq_client_queue_name (client), "amq.gen-", 8) == 0);
    meshq_client_destroy (&client);
}

//  Publishes body with routing key to exchange, confirmed.
static void
s_publish (meshq_client_t *client, const char *exchange, const char *key,
           const char *body)
{
    cr_assert_eq (
        meshq_client_publish_body (client, exchange, key, body, strlen (body)),
        0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0, "%s",
                  meshq_client_error (client));
}

//  Gets one message from queue; returns its body or "" if empty.
static char *
s_get (meshq_client_t *client, const char *queue, char *out, size_t size)
{
    meshq_delivery_t *delivery = NULL;
    cr_assert_eq (meshq_client_get (client, queue, true, &delivery), 0, "%s",
                  meshq_client_error (client));
    *out = 0;
    if (delivery)
        agentutil_body (delivery, out, size);
    meshq_delivery_destroy (&delivery);
    return out;
}

Test (agent, exchanges_route_by_type)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    const char *queues[] = {"q-info", "q-error", "q-kern", "q-all"};
    for (int i = 0; i < 4; i++)
        cr_assert_eq (meshq_client_declare_queue (client, queues[i], NULL), 0);
    cr_assert_eq (
        meshq_client_declare_exchange (client, "direct_logs", "direct", true),
        0);
    cr_assert_eq (
        meshq_client_declare_exchange (client, "topic_logs", "topic", true), 0);
    cr_assert_eq (
        meshq_client_declare_exchange (client, "logs", "fanout", true), 0);
    cr_expect_eq (meshq_client_declare_exchange (client, "logs", "topic", true),
                  MESHQ_EPRECONDITION);
    cr_expect_eq (meshq_client_declare_exchange (client, "x", "sideways", true),
                  MESHQ_EINVAL);
    cr_assert_eq (
        meshq_client_bind_queue (client, "q-info", "direct_logs", "info", NULL),
        0);
    cr_assert_eq (meshq_client_bind_queue (client, "q-error", "direct_logs",
                                           "error", NULL),
                  0);
    cr_assert_eq (meshq_client_bind_queue (client, "q-kern", "topic_logs",
                                           "kern.*", NULL),
                  0);
    cr_assert_eq (
        meshq_client_bind_queue (client, "q-all", "topic_logs", "#", NULL), 0);
    cr_assert_eq (meshq_client_bind_queue (client, "q-all", "logs", "", NULL),
                  0);
    cr_expect_eq (meshq_client_bind_queue (client, "q-all", "nope", "", NULL),
                  MESHQ_ENOTFOUND);

    char body[64];
    s_publish (client, "direct_logs", "error", "disk full");
    cr_expect_str_eq (s_get (client, "q-error", body, sizeof body),
                      "disk full");
    cr_expect_str_eq (s_get (client, "q-info", body, sizeof body), "");
    s_publish (client, "topic_logs", "kern.critical", "oops");
    cr_expect_str_eq (s_get (client, "q-kern", body, sizeof body), "oops");
    cr_expect_str_eq (s_get (client, "q-all", body, sizeof body), "oops");
    s_publish (client, "topic_logs", "user.info", "hi");
    cr_expect_str_eq (s_get (client, "q-kern", body, sizeof body), "");
    cr_expect_str_eq (s_get (client, "q-all", body, sizeof body), "hi");
    s_publish (client, "logs", "ignored", "to everyone");
    cr_expect_str_eq (s_get (client, "q-all", body, sizeof body),
                      "to everyone");
    cr_assert_eq (meshq_client_unbind_queue (client, "q-all", "logs", "", NULL),
                  0);
    s_publish (client, "logs", "", "to nobody");
    cr_expect_str_eq (s_get (client, "q-all", body, sizeof body), "");

    //  Publishing to a missing exchange is refused, with a reason.
    meshq_client_publish_body (client, "missing", "k", "x", 1);
    cr_expect_eq (meshq_client_wait_for_confirms (client, 5000),
                  MESHQ_ENOTFOUND);
    meshq_client_destroy (&client);
}

//  A fanout exchange reaches every queue bound to it, however many,
//  and a queue two bindings match gets the message once.
Test (agent, a_fanout_reaches_every_bound_queue)
{
    enum { QUEUES = 1100 };
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 1000);
    cr_assert_eq (
        meshq_client_declare_exchange (client, "wide", "fanout", true), 0);
    cr_assert_eq (
        meshq_client_declare_exchange (client, "twice", "topic", true), 0);
    char name[32];
    for (int i = 0; i < QUEUES; i++) {
        snprintf (name, sizeof name, "wide-%d", i);
        cr_assert_eq (meshq_client_declare_queue (client, name, NULL), 0);
        cr_assert_eq (meshq_client_bind_queue (client, name, "wide", "", NULL),
                      0);
    }
    cr_assert_eq (
        meshq_client_bind_queue (client, "wide-0", "twice", "a.*", NULL), 0);
    cr_assert_eq (
        meshq_client_bind_queue (client, "wide-0", "twice", "*.b", NULL), 0);
    s_publish (client, "wide", "", "to all");
    s_publish (client, "twice", "a.b", "once");
    cr_assert_eq (meshq_client_wait_for_confirms (client, 10000), 0);
    char body[64];
    const int probes[] = {0, 1023, 1024, 1025, QUEUES - 1};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        snprintf (name, sizeof name, "wide-%d", probes[i]);
        cr_expect_str_eq (s_get (client, name, body, sizeof body), "to all",
                          "%s", name);
        if (probes[i])
            cr_expect_str_eq (s_get (client, name, body, sizeof body), "", "%s",
                              name);
    }
    cr_expect_str_eq (s_get (client, "wide-0", body, sizeof body), "once");
    cr_expect_str_eq (s_get (client, "wide-0", body, sizeof body), "");
    meshq_client_destroy (&client);
}

static int s_returned;

static void
s_on_return (meshq_client_t *client, const meshq_msg_t *msg, void *arg)
{
    (void)client;
    (void)arg;
    cr_expect_str_eq (meshq_msg_routing_key (msg), "nowhere");
    s_returned++;
}

Test (agent, mandatory_unroutable_messages_come_back)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    meshq_client_set_return_handler (client, s_on_return, NULL);
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, "nowhere");
    meshq_msg_set_body (msg, "lost?", 5);
    s_returned = 0;
    cr_assert_eq (meshq_client_publish (client, msg, MESHQ_MANDATORY), 0);
    //  Not mandatory: silently dropped, as in AMQP.
    cr_assert_eq (meshq_client_publish (client, msg, 0), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    cr_expect_eq (s_returned, 1);
    meshq_msg_destroy (&msg);
    meshq_client_destroy (&client);
}

Test (agent, purge_and_conditional_delete)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_declare_queue (client, "work", NULL), 0);
    for (int i = 0; i < 3; i++)
        s_publish (client, "", "work", "w");
    uint64_t count = 0;
    cr_expect_eq (
        meshq_client_delete_queue (client, "work", false, true, &count),
        MESHQ_EPRECONDITION);
    cr_expect (strstr (meshq_client_error (client), "has 3 messages"));
    cr_assert_eq (meshq_client_purge_queue (client, "work", &count), 0);
    cr_expect_eq (count, 3);
    cr_assert_eq (meshq_client_consume (client, "work", 1, "c1", 0), 0);
    cr_expect_eq (
        meshq_client_delete_queue (client, "work", true, false, &count),
        MESHQ_EPRECONDITION);
    cr_assert_eq (meshq_client_cancel (client, "c1"), 0);
    cr_expect_eq (meshq_client_cancel (client, "c1"), MESHQ_ENOTFOUND);
    cr_assert_eq (
        meshq_client_delete_queue (client, "work", true, true, &count), 0);
    meshq_delivery_t *delivery = NULL;
    cr_expect_eq (meshq_client_get (client, "work", true, &delivery),
                  MESHQ_ENOTFOUND);
    meshq_client_destroy (&client);
}

Test (agent, exclusive_and_auto_delete_queues_go_with_their_users)
{
    meshq_client_t *owner = agentutil_client (&s_node);
    meshq_client_t *other = agentutil_client (&s_node);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.exclusive = true;
    options.durable = false;
    cr_assert_eq (meshq_client_declare_queue (owner, "mine", &options), 0);
    cr_expect_eq (meshq_client_consume (other, "mine", 1, NULL, 0),
                  MESHQ_EACCESS);
    cr_expect (strstr (meshq_client_error (other), "exclusive"));
    meshq_queue_options_init (&options);
    options.auto_delete = true;
    cr_assert_eq (meshq_client_declare_queue (other, "temp", &options), 0);
    cr_assert_eq (meshq_client_consume (other, "temp", 1, "t", 0), 0);
    cr_assert_eq (meshq_client_cancel (other, "t"), 0);
    options.passive = true;
    cr_expect_eq (meshq_client_declare_queue (other, "temp", &options),
                  MESHQ_ENOTFOUND, "auto-delete: gone with its last consumer");
    meshq_client_destroy (&owner);
    //  The owner's goodbye and the other's requests travel on different
    //  connections: ask until the agent has handled the goodbye.
    int rc = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline &&
           (rc = meshq_client_declare_queue (other, "mine", &options)) !=
               MESHQ_ENOTFOUND)
        ;
    cr_expect_eq (rc, MESHQ_ENOTFOUND, "exclusive: gone with its connection");
    meshq_client_destroy (&other);
}

//  GET of another connection's exclusive queue is refused as CONSUME is:
//  an exclusive reply queue's answers are its owner's alone.
Test (agent, exclusive_queues_refuse_get_of_others)
{
    meshq_client_t *owner = agentutil_client (&s_node);
    meshq_client_t *other = agentutil_client (&s_node);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.exclusive = true;
    options.durable = false;
    cr_assert_eq (meshq_client_declare_queue (owner, "replies", &options), 0);
    cr_assert_eq (meshq_client_set_confirms (owner, 10), 0);
    cr_assert_eq (meshq_client_publish_body (owner, "", "replies", "x", 1), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (owner, 5000), 0);
    meshq_delivery_t *delivery = NULL;
    cr_expect_eq (meshq_client_get (other, "replies", true, &delivery),
                  MESHQ_EACCESS);
    cr_expect_null (delivery, "another connection took the owner's message");
    cr_expect (strstr (meshq_client_error (other), "exclusive"));
    meshq_delivery_destroy (&delivery);
    cr_assert_eq (meshq_client_get (owner, "replies", true, &delivery), 0);
    cr_expect_not_null (delivery, "the owner's message is still there");
    meshq_delivery_destroy (&delivery);
    meshq_client_destroy (&other);
    meshq_client_destroy (&owner);
}

Test (agent, bad_settings_are_refused_naming_themselves)
{
    meshq_agent_t *agent = meshq_agent_new ("settings");
    const struct {
        const char *name;   //  Setting.
        const char *value;  //  Its bad value.
        const char *why;    //  Expected in the error.
    } cases[] = {
        {"read_ahead", "1001", "read_ahead: 1001 is out of range 0..1000"},
        {"read_ahead", "-1", "read_ahead: '-1' is not a non-negative"},
        {"peer_timeout", "soon", "peer_timeout: 'soon' is not a"},
        {"transport", "pigeon", "transport: auto, multicast, broadcast"},
        {"frobnicate", "1", "unknown setting 'frobnicate'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq (meshq_agent_set (agent, cases[i].name, cases[i].value),
                      MESHQ_EINVAL, "case %zu", i);
        cr_expect (strstr (meshq_agent_error (agent), cases[i].why),
                   "case %zu: %s", i, meshq_agent_error (agent));
    }
    cr_expect_eq (meshq_agent_set (agent, "read_ahead", "0"), 0);
    meshq_agent_destroy (&agent);
}
