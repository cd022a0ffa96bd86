/*  test_agent_publish.c - publishes held back with MESHQ_MORE and sent
    several to a frame: order, confirms, refusals and returns one by one,
    and the calls that send them.
*/
#include "agentutil.h"
#include "client_internal.h"
#include "procutil.h"

AGENTUTIL_SUITE (publish, "publish", 60);

static int
s_publish (meshq_client_t *client, const char *queue, const char *body,
           int flags)
{
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, queue);
    meshq_msg_set_body (msg, body, strlen (body));
    int rc = meshq_client_publish (client, msg, flags);
    meshq_msg_destroy (&msg);
    return rc;
}

//  Gets one message from queue with another client, waiting up to 5 s
//  for it to arrive; returns its body in out ("" if none came).
static char *
s_get (const char *queue, char *out, size_t size)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_delivery_t *delivery = NULL;
    int64_t deadline = zclock_mono () + 5000;
    while (!delivery && zclock_mono () < deadline)
        cr_assert_eq (meshq_client_get (client, queue, true, &delivery), 0);
    *out = 0;
    if (delivery)
        agentutil_body (delivery, out, size);
    meshq_delivery_destroy (&delivery);
    meshq_client_destroy (&client);
    return out;
}

Test (publish, batches_keep_order_and_are_confirmed)
{
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_declare_queue (client, "order", NULL), 0);
    meshq_client_set_confirms (client, 1000);
    //  More than one batch's bound, and a short last one.
    for (int i = 0; i < 200; i++) {
        char body[16];
        snprintf (body, sizeof body, "m-%d", i);
        cr_assert_eq (s_publish (client, "order", body, MESHQ_MORE), 0);
    }
    //  Waiting for confirms sends what is held back.
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0, "%s",
                  meshq_client_error (client));
    cr_assert_eq (
        meshq_client_consume (client, "order", 1000, NULL, MESHQ_NO_ACK), 0);
    for (int i = 0; i < 200; i++) {
        meshq_delivery_t *delivery = agentutil_recv (client);
        char body[16], expected[16];
        snprintf (expected, sizeof expected, "m-%d", i);
        cr_expect_str_eq (agentutil_body (delivery, body, sizeof body),
                          expected);
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&client);
}

Test (publish, a_refusal_in_a_batch_is_that_message_s_alone)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.max_length = 1;
    options.overflow = MESHQ_OVERFLOW_REJECT_PUBLISH;
    cr_assert_eq (meshq_client_declare_queue (client, "small", &options), 0);
    cr_assert_eq (meshq_client_declare_queue (client, "ok", NULL), 0);
    meshq_client_set_confirms (client, 100);
    cr_assert_eq (s_publish (client, "small", "fills it", 0), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    //  One frame: the second is refused (the queue is full), the fourth
    //  returned (no queue takes it), the others go through.
    cr_assert_eq (s_publish (client, "ok", "one", MESHQ_MORE), 0);
    cr_assert_eq (s_publish (client, "small", "refused", MESHQ_MORE), 0);
    cr_assert_eq (s_publish (client, "ok", "three", MESHQ_MORE), 0);
    cr_assert_eq (
        s_publish (client, "nowhere", "returned", MESHQ_MORE | MESHQ_MANDATORY),
        0);
    cr_assert_eq (s_publish (client, "ok", "five", 0), 0);
    cr_expect_eq (meshq_client_wait_for_confirms (client, 5000), MESHQ_ELIMIT);
    //  Every publish was answered: the next wait has nothing to report.
    cr_expect_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    char body[32];
    cr_expect_str_eq (s_get ("ok", body, sizeof body), "one");
    cr_expect_str_eq (s_get ("ok", body, sizeof body), "three");
    cr_expect_str_eq (s_get ("ok", body, sizeof body), "five");
    cr_expect_str_eq (s_get ("small", body, sizeof body), "fills it");
    meshq_client_destroy (&client);
}

static void
s_on_return (meshq_client_t *client, const meshq_msg_t *msg, void *arg)
{
    (void)client;
    size_t size;
    const char *body = meshq_msg_body (msg, &size);
    snprintf (arg, 32, "%.*s", (int)size, body);
}

Test (publish, a_mandatory_message_in_a_batch_comes_back_alone)
{
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_declare_queue (client, "kept", NULL), 0);
    char returned[32] = "";
    meshq_client_set_return_handler (client, s_on_return, returned);
    meshq_client_set_confirms (client, 100);
    cr_assert_eq (s_publish (client, "kept", "before", MESHQ_MORE), 0);
    cr_assert_eq (
        s_publish (client, "nowhere", "lost", MESHQ_MORE | MESHQ_MANDATORY), 0);
    cr_assert_eq (s_publish (client, "kept", "after", MESHQ_MORE), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    cr_expect_str_eq (returned, "lost");
    char body[32];
    cr_expect_str_eq (s_get ("kept", body, sizeof body), "before");
    cr_expect_str_eq (s_get ("kept", body, sizeof body), "after");
    meshq_client_destroy (&client);
}

Test (publish, other_calls_send_what_is_held_back)
{
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_declare_queue (client, "held", NULL), 0);
    char body[32];
    //  A request: it goes after the publish, which the agent then has.
    cr_assert_eq (s_publish (client, "held", "by-declare", MESHQ_MORE), 0);
    cr_assert_eq (meshq_client_declare_exchange (client, "x", "direct", false),
                  0);
    cr_expect_str_eq (s_get ("held", body, sizeof body), "by-declare");
    //  The explicit flush.
    cr_assert_eq (s_publish (client, "held", "by-flush", MESHQ_MORE), 0);
    cr_assert_eq (meshq_client_publish_flush (client), 0);
    cr_expect_str_eq (s_get ("held", body, sizeof body), "by-flush");
    //  recv, even with nothing to wait for: its own publish comes back.
    cr_assert_eq (meshq_client_consume (client, "held", 10, NULL, MESHQ_NO_ACK),
                  0);
    cr_assert_eq (s_publish (client, "held", "by-recv", MESHQ_MORE), 0);
    meshq_delivery_t *delivery = agentutil_recv (client);
    cr_expect_str_eq (agentutil_body (delivery, body, sizeof body), "by-recv");
    meshq_delivery_destroy (&delivery);
    cr_assert_eq (
        meshq_client_cancel (client, meshq_client_consumer_tag (client)), 0);
    //  destroy.
    cr_assert_eq (s_publish (client, "held", "by-destroy", MESHQ_MORE), 0);
    meshq_client_destroy (&client);
    cr_expect_str_eq (s_get ("held", body, sizeof body), "by-destroy");
}

Test (publish, sync_is_answered_after_what_came_before)
{
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_declare_queue (client, "synced", NULL), 0);
    for (int i = 0; i < 100; i++)
        cr_assert_eq (s_publish (client, "synced", "m", MESHQ_MORE), 0);
    //  SYNC sends what is held back first, and its OK says the agent
    //  handled it: the messages are in the queue.
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    zmsg_t *reply = NULL;
    cr_assert_eq (meshq_client_call (client, "SYNC", &args, &reply), 0, "%s",
                  meshq_client_error (client));
    zmsg_destroy (&reply);
    uint64_t ready, unacked;
    procutil_depth (client, "synced", &ready, &unacked);
    cr_expect_eq (ready, 100);
    meshq_client_destroy (&client);
}

Test (publish, one_frame_and_three_frame_publishes_both_arrive)
{
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_declare_queue (client, "forms", NULL), 0);
    //  The agent said it takes one-frame commands: the client sends them.
    cr_assert (client->one_frame);
    cr_assert_eq (s_publish (client, "forms", "one frame", 0), 0);
    //  An older client's three frames still work.
    client->one_frame = false;
    cr_assert_eq (s_publish (client, "forms", "three frames", 0), 0);
    char body[32];
    cr_expect_str_eq (s_get ("forms", body, sizeof body), "one frame");
    cr_expect_str_eq (s_get ("forms", body, sizeof body), "three frames");
    meshq_client_destroy (&client);
}

//  Frames the agent dropped as malformed or out of place.
static uint64_t
s_dropped (meshq_client_t *client)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    zmsg_destroy (&reply);
    return status.dropped;
}

Test (publish, a_broken_one_frame_command_is_dropped_and_counted)
{
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_declare_queue (client, "broken", NULL), 0);
    uint64_t dropped = s_dropped (client);
    void *dealer = zsock_resolve (client->dealer);
    //  A verb alone, a verb and a map cut short, no verb at all.
    const char *frames[] = {"PUBLISH", "PUBLISH\x82\xa3seq", "\x80\x81"};
    for (int i = 0; i < 3; i++)
        cr_assert_geq (zmq_send (dealer, frames[i], strlen (frames[i]), 0), 0);
    //  The agent still serves the session.
    cr_assert_eq (s_publish (client, "broken", "after", 0), 0);
    char body[32];
    cr_expect_str_eq (s_get ("broken", body, sizeof body), "after");
    cr_expect_geq (s_dropped (client), dropped + 3);
    meshq_client_destroy (&client);
}
