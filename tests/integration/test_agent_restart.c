/*  test_agent_restart.c - what survives an agent restart: durable
    declarations and bindings, and every persistent message that was not
    acked; transient messages and non-durable queues do not.
*/
#include "agentutil.h"

AGENTUTIL_SUITE (restart, "restart", 60);

Test (restart, unacked_persistent_messages_and_declarations_survive)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 100);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.max_length = 50;
    cr_assert_eq (meshq_client_declare_queue (client, "kept", &options), 0);
    meshq_queue_options_init (&options);
    options.durable = false;
    cr_assert_eq (meshq_client_declare_queue (client, "fleeting", &options), 0);
    cr_assert_eq (meshq_client_declare_exchange (client, "ex", "direct", true),
                  0);
    cr_assert_eq (meshq_client_bind_queue (client, "kept", "ex", "k", NULL), 0);
    agentutil_publish (client, "ex", "k", "persistent-1", MESHQ_PERSISTENT);
    agentutil_publish (client, "ex", "k", "transient", MESHQ_TRANSIENT);
    agentutil_publish (client, "ex", "k", "persistent-2", MESHQ_PERSISTENT);
    agentutil_publish (client, "ex", "k", "acked", MESHQ_PERSISTENT);
    agentutil_publish (client, NULL, "fleeting", "gone", MESHQ_PERSISTENT);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    //  Take the first three, ack only the last ("acked" is 4th: get it
    //  after the others are put back).
    cr_assert_eq (meshq_client_consume (client, "kept", 10, "c", 0), 0);
    meshq_delivery_t *got[4];
    for (int i = 0; i < 4; i++)
        got[i] = agentutil_recv (client);
    cr_assert_eq (meshq_client_ack (client, got[3]->delivery_tag, false), 0);
    for (int i = 0; i < 4; i++)
        meshq_delivery_destroy (&got[i]);
    //  The ack is sent; a request round trip makes sure it was handled.
    cr_assert_eq (meshq_client_declare_exchange (client, "ex", "direct", true),
                  0);
    meshq_client_destroy (&client);

    agentutil_restart (&s_node);
    client = agentutil_client (&s_node);
    meshq_queue_options_init (&options);
    options.max_length = 100;
    cr_expect_eq (meshq_client_declare_queue (client, "kept", &options),
                  MESHQ_EPRECONDITION, "the queue's arguments survived");
    options.passive = true;
    cr_expect_eq (meshq_client_declare_queue (client, "fleeting", &options),
                  MESHQ_ENOTFOUND, "a non-durable queue did not");
    cr_assert_eq (meshq_client_consume (client, "kept", 10, NULL, 0), 0);
    const char *expected[] = {"persistent-1", "persistent-2"};
    for (int i = 0; i < 2; i++) {
        meshq_delivery_t *delivery = agentutil_recv (client);
        char body[64];
        cr_expect_str_eq (agentutil_body (delivery, body, sizeof body),
                          expected[i]);
        cr_expect (delivery->redelivered);
        meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    meshq_delivery_t *none = NULL;
    cr_expect_eq (meshq_client_recv (client, 200, &none), MESHQ_ETIMEOUT,
                  "transient or acked messages came back");
    //  The binding survived too.
    meshq_client_set_confirms (client, 10);
    agentutil_publish (client, "ex", "k", "after", MESHQ_PERSISTENT);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    meshq_delivery_t *after = agentutil_recv (client);
    char body[64];
    cr_expect_str_eq (agentutil_body (after, body, sizeof body), "after");
    meshq_client_ack (client, after->delivery_tag, false);
    meshq_delivery_destroy (&after);
    meshq_client_destroy (&client);
}

Test (restart, deleted_queues_stay_deleted)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_declare_queue (client, "doomed", NULL), 0);
    agentutil_publish (client, NULL, "doomed", "x", MESHQ_PERSISTENT);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    cr_assert_eq (
        meshq_client_delete_queue (client, "doomed", false, false, NULL), 0);
    meshq_client_destroy (&client);
    agentutil_restart (&s_node);
    client = agentutil_client (&s_node);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.passive = true;
    cr_expect_eq (meshq_client_declare_queue (client, "doomed", &options),
                  MESHQ_ENOTFOUND);
    meshq_client_destroy (&client);
}
