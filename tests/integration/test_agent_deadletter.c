/*  test_agent_deadletter.c - messages that leave a queue without an ack
    (expired, rejected, overflowed, delivered too often) go to its
    dead-letter exchange, saying why, and are counted per reason; a full
    reject-publish queue refuses publishes.
*/
#include "agentutil.h"
#include "clientutil.h"

AGENTUTIL_SUITE (deadletter, "deadletter", 60);

//  A queue "work" dead-lettering into exchange "dlx", bound to "dead".
static meshq_client_t *
s_prepare (meshq_queue_options_t *options)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 100);
    cr_assert_eq (meshq_client_declare_exchange (client, "dlx", "fanout", true),
                  0);
    cr_assert_eq (meshq_client_declare_queue (client, "dead", NULL), 0);
    cr_assert_eq (meshq_client_bind_queue (client, "dead", "dlx", "", NULL), 0);
    options->dead_letter_exchange = "dlx";
    cr_assert_eq (meshq_client_declare_queue (client, "work", options), 0, "%s",
                  meshq_client_error (client));
    return client;
}

//  Publishes body to queue through the default exchange, with a TTL
//  (ms) unless ttl is negative.
static void
s_publish_to (meshq_client_t *client, const char *queue, const char *body,
              int64_t ttl)
{
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, queue);
    meshq_msg_set_body (msg, body, strlen (body));
    if (ttl >= 0)
        meshq_msg_set_expiration (msg, ttl);
    cr_assert_eq (meshq_client_publish (client, msg, 0), 0);
    meshq_msg_destroy (&msg);
}

//  Receives from "dead" and checks the body and the reason.
static void
s_expect_dead (meshq_client_t *client, const char *body, const char *reason)
{
    meshq_delivery_t *delivery = agentutil_recv (client);
    char got[64];
    cr_expect_str_eq (agentutil_body (delivery, got, sizeof got), body);
    const meshq_value_t *why =
        meshq_msg_header (delivery->msg, "x-death-reason");
    cr_assert_not_null (why, "no x-death-reason header");
    cr_expect_eq (why->type, MESHQ_VALUE_STR);
    cr_expect_str_eq ((const char *)why->u.bytes.data, reason);
    const meshq_value_t *queue =
        meshq_msg_header (delivery->msg, "x-death-queue");
    cr_assert_not_null (queue);
    cr_expect_str_eq ((const char *)queue->u.bytes.data, "work");
    meshq_client_ack (client, delivery->delivery_tag, false);
    meshq_delivery_destroy (&delivery);
}

Test (deadletter, expired_messages_go_to_the_dead_letter_exchange)
{
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.message_ttl = 100;
    meshq_client_t *client = s_prepare (&options);
    s_publish_to (client, "work", "queue ttl", -1);
    s_publish_to (client, "work", "message ttl", 20);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    cr_assert_eq (meshq_client_consume (client, "dead", 10, NULL, 0), 0);
    //  The shorter per-message TTL is behind the head; it expires when it
    //  reaches the head, right after the first.
    s_expect_dead (client, "queue ttl", "expired");
    s_expect_dead (client, "message ttl", "expired");
    meshq_client_destroy (&client);
}

Test (deadletter, rejected_without_requeue)
{
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    meshq_client_t *client = s_prepare (&options);
    s_publish_to (client, "work", "bad input", -1);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    cr_assert_eq (meshq_client_consume (client, "work", 1, "w", 0), 0);
    meshq_delivery_t *delivery = agentutil_recv (client);
    cr_assert_eq (meshq_client_reject (client, delivery->delivery_tag, false),
                  0);
    meshq_delivery_destroy (&delivery);
    cr_assert_eq (meshq_client_consume (client, "dead", 1, NULL, 0), 0);
    s_expect_dead (client, "bad input", "rejected");
    meshq_client_destroy (&client);
}

Test (deadletter, overflow_drops_the_head_or_refuses_the_publish)
{
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.max_length = 2;
    meshq_client_t *client = s_prepare (&options);
    s_publish_to (client, "work", "one", -1);
    s_publish_to (client, "work", "two", -1);
    s_publish_to (client, "work", "three", -1);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    cr_assert_eq (meshq_client_consume (client, "dead", 1, NULL, 0), 0);
    s_expect_dead (client, "one", "maxlen");

    meshq_queue_options_init (&options);
    options.max_length = 1;
    options.overflow = MESHQ_OVERFLOW_REJECT_PUBLISH;
    cr_assert_eq (meshq_client_declare_queue (client, "bounded", &options), 0);
    cr_assert_eq (meshq_client_publish_body (client, "", "bounded", "a", 1), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    cr_assert_eq (meshq_client_publish_body (client, "", "bounded", "b", 1), 0);
    cr_expect_eq (meshq_client_wait_for_confirms (client, 5000), MESHQ_ELIMIT);
    cr_expect (strstr (meshq_client_error (client), "full"), "got '%s'",
               meshq_client_error (client));
    meshq_client_destroy (&client);
}

Test (deadletter, a_poison_message_stops_after_max_deliveries)
{
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.max_deliveries = 3;
    meshq_client_t *client = s_prepare (&options);
    s_publish_to (client, "work", "poison", -1);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    meshq_client_t *worker = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_consume (worker, "work", 1, NULL, 0), 0);
    for (uint32_t i = 1; i <= 3; i++) {
        meshq_delivery_t *delivery = agentutil_recv (worker);
        cr_expect_eq (delivery->delivery_count, i);
        meshq_client_nack (worker, delivery->delivery_tag, false, true);
        meshq_delivery_destroy (&delivery);
    }
    meshq_delivery_t *none = NULL;
    cr_expect_eq (meshq_client_recv (worker, 200, &none), MESHQ_ETIMEOUT,
                  "a fourth delivery past max-deliveries 3");
    cr_assert_eq (meshq_client_consume (client, "dead", 1, NULL, 0), 0);
    s_expect_dead (client, "poison", "delivery_limit");
    meshq_client_destroy (&worker);
    meshq_client_destroy (&client);
}

//  Gets one message from queue and nacks it.
static void
s_get_nack (meshq_client_t *client, const char *queue, bool requeue)
{
    meshq_delivery_t *delivery = NULL;
    cr_assert_eq (meshq_client_get (client, queue, false, &delivery), 0);
    cr_assert_not_null (delivery, "queue '%s' is empty", queue);
    cr_assert_eq (
        meshq_client_nack (client, delivery->delivery_tag, false, requeue), 0);
    meshq_delivery_destroy (&delivery);
}

//  The counts of queue's row in LIST_QUEUES, disposals by reason.
static meshq_args_t
s_row (meshq_client_t *client, const char *queue)
{
    meshq_args_t row;
    clientutil_queue (client, queue, &row);
    return row;
}

Test (deadletter, messages_disposed_of_are_counted_per_queue_and_reason)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 100);
    meshq_queue_options_t options;
    //  No dead-letter exchange anywhere: these are dropped, and only the
    //  counts and the log say so.
    meshq_queue_options_init (&options);
    options.max_length = 1;
    cr_assert_eq (meshq_client_declare_queue (client, "capped", &options), 0);
    meshq_queue_options_init (&options);
    options.max_deliveries = 1;
    cr_assert_eq (meshq_client_declare_queue (client, "poison", &options), 0);
    cr_assert_eq (meshq_client_declare_queue (client, "refused", NULL), 0);
    cr_assert_eq (meshq_client_declare_queue (client, "brief", NULL), 0);
    for (int i = 0; i < 3; i++)
        s_publish_to (client, "capped", "over", -1);
    s_publish_to (client, "poison", "again", -1);
    s_publish_to (client, "refused", "no", -1);
    s_publish_to (client, "brief", "gone", 1);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    s_get_nack (client, "refused", false);
    //  Delivered once and requeued: the next consumer finds it gone.
    s_get_nack (client, "poison", true);
    meshq_delivery_t *delivery = NULL;
    cr_assert_eq (meshq_client_get (client, "poison", false, &delivery), 0);
    cr_expect_null (delivery, "delivered past max-deliveries 1");
    meshq_delivery_destroy (&delivery);
    //  The expired one goes at the agent's next tick.
    meshq_args_t status;
    int64_t deadline = zclock_mono () + 5000;
    do {
        zmsg_t *reply;
        clientutil_status (client, &status, &reply);
        zmsg_destroy (&reply);
        meshq_client_dispatch (client, 10);
    } while (status.disposed_expired == 0 && zclock_mono () < deadline);
    cr_expect_eq (status.disposed_expired, 1);
    cr_expect_eq (status.disposed_maxlen, 2);
    cr_expect_eq (status.disposed_rejected, 1);
    cr_expect_eq (status.disposed_limit, 1);
    cr_expect_eq (status.disposed_dedup, 0);
    meshq_args_t row = s_row (client, "capped");
    cr_expect (MESHQ_ARGS_HAS (&row, DISPOSED_MAXLEN));
    cr_expect_eq (row.disposed_maxlen, 2);
    cr_expect_eq (row.messages, 1);
    row = s_row (client, "poison");
    cr_expect_eq (row.disposed_limit, 1);
    cr_expect_eq (row.disposed_maxlen, 0);
    row = s_row (client, "refused");
    cr_expect_eq (row.disposed_rejected, 1);
    row = s_row (client, "brief");
    cr_expect_eq (row.disposed_expired, 1);
    cr_expect_eq (row.messages, 0);
    meshq_client_destroy (&client);
}
