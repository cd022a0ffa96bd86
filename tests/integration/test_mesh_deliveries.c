/*  test_mesh_deliveries.c - what counts as a delivery across the mesh.

    Only a delivery to a consumer counts toward a queue's delivery limit
    (max_deliveries). A hand-off of a message to another agent does not,
    nor does taking it back because that agent went away: a message
    whose link flaps any number of times still reaches a consumer. A
    consumer on another agent that gets the message does count, even
    if it dies holding it, so a poison message still stops.
*/
#include "agentutil.h"
#include "client_internal.h"
#include "clientutil.h"
#include "codec_args.h"
#include "peerutil.h"
#include "testutil.h"

#include <criterion/criterion.h>

#define S_NODES 2

static char s_mesh[64];
static uint16_t s_port;
static agentutil_t s_nodes[S_NODES];
static peerutil_t s_peer;

static void
s_setup (void)
{
    s_port = peerutil_mesh (s_mesh, sizeof s_mesh, "deliveries");
    memset (s_nodes, 0, sizeof s_nodes);
    memset (&s_peer, 0, sizeof s_peer);
}

static void
s_teardown (void)
{
    peerutil_stop (&s_peer);
    for (int i = 0; i < S_NODES; i++)
        if (s_nodes[i].agent)
            agentutil_finish (&s_nodes[i]);
}

TestSuite (mesh_deliveries, .init = s_setup, .fini = s_teardown,
           .timeout = 120);

//  Starts agent i in this test's mesh (again, on its directory, if it
//  ran before); returns a client of it.
static meshq_client_t *
s_start (int i)
{
    char name[32];
    snprintf (name, sizeof name, "deliveries-%c", 'a' + i);
    peerutil_agent (&s_nodes[i], name, s_mesh, s_port);
    return agentutil_client (&s_nodes[i]);
}

//  The agent's STATUS.
static void
s_status (meshq_client_t *client, meshq_args_t *status)
{
    zmsg_t *reply;
    clientutil_status (client, status, &reply);
    zmsg_destroy (&reply);
}

//  Waits until the agent has count peers up.
static void
s_wait_peers (meshq_client_t *client, uint64_t count)
{
    int64_t deadline = zclock_mono () + 10000;
    meshq_args_t status;
    s_status (client, &status);
    while (status.peers != count && zclock_mono () < deadline) {
        meshq_client_dispatch (client, 10);
        s_status (client, &status);
    }
    cr_assert_eq (status.peers, count, "%llu peers up, not %llu",
                  (unsigned long long)status.peers, (unsigned long long)count);
}

//  Publishes one message with confirms.
static void
s_publish (meshq_client_t *client, const char *queue, const char *body)
{
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (
        meshq_client_publish_body (client, "", queue, body, strlen (body)), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0, "%s",
                  meshq_client_error (client));
}

Test (mesh_deliveries, a_message_whose_link_flaps_still_reaches_a_consumer)
{
    meshq_client_t *client = s_start (0);
    cr_assert_eq (meshq_client_declare_queue (client, "flappy", NULL), 0);
    s_publish (client, "flappy", "precious");
    //  An agent takes it on credit and goes away before any consumer of
    //  its own has it, more times than the delivery limit (20).
    for (int flap = 0; flap < 25; flap++) {
        peerutil_start (&s_peer, s_mesh, s_port, 0x50);
        meshq_args_t args;
        memset (&args, 0, sizeof args);
        MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("flappy"));
        MESHQ_ARGS_SET (&args, CREDIT, credit, 1);
        peerutil_send (&s_peer, "GRANT", &args, NULL, 0);
        zmsg_t *msg = peerutil_recv (&s_peer, "DELIVER", &args);
        cr_assert (MESHQ_ARGS_HAS (&args, BATCH), "deliveries to a peer "
                                                  "come batched");
        zframe_t *items = zmsg_next (msg);
        cr_assert_not_null (items);
        meshq_span_t cursor = {(const char *)zframe_data (items),
                               (uint32_t)zframe_size (items)};
        meshq_delivery_item_t item;
        cr_assert_eq (
            meshq_codec_decode_delivery (&cursor, UINT32_MAX, &item, NULL), 0);
        //  What a consumer there would see: its first delivery, each
        //  time, since no consumer had it yet.
        cr_expect_eq (item.count, 1, "hand-off %d came as delivery %llu",
                      flap + 1, (unsigned long long)item.count);
        cr_expect_eq (s_peer.foreign, 0);
        zmsg_destroy (&msg);
        peerutil_stop (&s_peer);
        s_wait_peers (client, 0);
    }
    //  Still there, and its first delivery to a consumer.
    cr_assert_eq (meshq_client_consume (client, "flappy", 1, NULL, 0), 0);
    meshq_delivery_t *delivery = NULL;
    cr_assert_eq (meshq_client_recv (client, 5000, &delivery), 0,
                  "the message was lost to the link's flaps");
    char body[32];
    cr_expect_str_eq (agentutil_body (delivery, body, sizeof body), "precious");
    cr_expect_eq (delivery->delivery_count, 1);
    cr_expect (delivery->redelivered, "it was handed off before");
    cr_expect_eq (meshq_client_ack (client, delivery->delivery_tag, false), 0);
    meshq_delivery_destroy (&delivery);
    meshq_args_t status;
    s_status (client, &status);
    cr_expect_eq (status.disposed_limit, 0);
    meshq_client_destroy (&client);
}

//  The row of queue in the agent's LIST_QUEUES: its ready and unacked
//  counts, and the entries disposed of at the delivery limit.
static void
s_queue_row (meshq_client_t *client, const char *queue, uint64_t *ready,
             uint64_t *unacked, uint64_t *limit)
{
    meshq_args_t row;
    *ready = *unacked = *limit = UINT64_MAX;
    if (clientutil_queue (client, queue, &row) &&
        MESHQ_ARGS_HAS (&row, DISPOSED_LIMIT)) {
        *ready = row.messages;
        *unacked = row.unacked;
        *limit = row.disposed_limit;
    }
}

Test (mesh_deliveries, consumers_on_another_agent_count_even_when_they_die)
{
    meshq_client_t *a = s_start (0);
    meshq_client_t *b = s_start (1);
    s_wait_peers (a, 1);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.max_deliveries = 2;
    cr_assert_eq (meshq_client_declare_queue (a, "poison", &options), 0);
    //  The queue reaches B by gossip.
    options.passive = true;
    int64_t deadline = zclock_mono () + 10000;
    while (meshq_client_declare_queue (b, "poison", &options) &&
           zclock_mono () < deadline)
        meshq_client_dispatch (b, 20);
    s_publish (a, "poison", "crash");
    //  Twice a consumer on B gets it and dies holding it.
    for (uint32_t i = 1; i <= 2; i++) {
        meshq_client_t *worker = agentutil_client (&s_nodes[1]);
        cr_assert_eq (meshq_client_consume (worker, "poison", 1, NULL, 0), 0);
        meshq_delivery_t *delivery = agentutil_recv (worker);
        cr_expect_eq (delivery->delivery_count, i);
        meshq_delivery_destroy (&delivery);
        meshq_client_destroy (&worker);
    }
    //  The limit is reached: the next consumer does not get it, and the
    //  origin says why.
    cr_assert_eq (meshq_client_consume (a, "poison", 1, NULL, 0), 0);
    uint64_t ready, unacked, limit = 0;
    deadline = zclock_mono () + 10000;
    do {
        meshq_client_dispatch (a, 20);
        s_queue_row (a, "poison", &ready, &unacked, &limit);
    } while (limit != 1 && zclock_mono () < deadline);
    cr_expect_eq (limit, 1, "disposed of at the limit");
    cr_expect_eq (ready, 0);
    cr_expect_eq (unacked, 0);
    meshq_delivery_t *delivery = NULL;
    cr_expect_eq (meshq_client_recv (a, 300, &delivery), MESHQ_ETIMEOUT);
    meshq_delivery_destroy (&delivery);
    meshq_args_t status;
    s_status (a, &status);
    cr_expect_eq (status.disposed_limit, 1);
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}

//  Takes one delivery from the agent on credit, as the played peer;
//  returns its delivery tag and copies its body.
static uint64_t
s_take (const char *queue, char *body, size_t size)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span (queue));
    MESHQ_ARGS_SET (&args, CREDIT, credit, 1);
    peerutil_send (&s_peer, "GRANT", &args, NULL, 0);
    zmsg_t *msg = peerutil_recv (&s_peer, "DELIVER", &args);
    zframe_t *items = zmsg_next (msg);
    cr_assert_not_null (items);
    meshq_span_t cursor = {(const char *)zframe_data (items),
                           (uint32_t)zframe_size (items)};
    meshq_delivery_item_t item;
    cr_assert_eq (
        meshq_codec_decode_delivery (&cursor, UINT32_MAX, &item, NULL), 0);
    meshq_msg_t *decoded = NULL;
    cr_assert_eq (meshq_msg_decode (item.envelope.data, item.envelope.size,
                                    SIZE_MAX, &decoded, NULL),
                  0);
    size_t body_size;
    const char *data = meshq_msg_body (decoded, &body_size);
    snprintf (body, size, "%.*s", (int)body_size, data);
    meshq_msg_destroy (&decoded);
    zmsg_destroy (&msg);
    return item.dtag;
}

Test (mesh_deliveries, a_late_ack_over_a_new_link_settles_no_other_message)
{
    meshq_client_t *client = s_start (0);
    cr_assert_eq (meshq_client_declare_queue (client, "twice", NULL), 0);
    s_publish (client, "twice", "first");
    s_publish (client, "twice", "second");
    //  The peer takes the first message; its link goes down, and the
    //  message goes back to the queue, to a consumer here.
    peerutil_start (&s_peer, s_mesh, s_port, 0x60);
    char body[32];
    uint64_t old_tag = s_take ("twice", body, sizeof body);
    cr_assert_str_eq (body, "first");
    peerutil_stop (&s_peer);
    s_wait_peers (client, 0);
    meshq_delivery_t *first = NULL;
    cr_assert_eq (meshq_client_get (client, "twice", false, &first), 0);
    cr_assert_not_null (first);
    //  Back, the peer takes the second; then its consumer's ack of the
    //  first arrives, under the tag of the link that went down.
    peerutil_start (&s_peer, s_mesh, s_port, 0x60);
    uint64_t new_tag = s_take ("twice", body, sizeof body);
    cr_assert_str_eq (body, "second");
    cr_expect_neq (new_tag, old_tag, "a delivery tag used again");
    uint8_t tags[8];
    for (int b = 0; b < 8; b++)
        tags[b] = (uint8_t)(old_tag >> (8 * b));
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, DTAGS, dtags,
                    ((meshq_span_t){(const char *)tags, sizeof tags}));
    peerutil_send (&s_peer, "ACK", &args, NULL, 0);
    //  Once the agent has answered a later command, it has read the ack.
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("sentinel"));
    MESHQ_ARGS_SET (&args, CREDIT, credit, 1);
    peerutil_send (&s_peer, "GRANT", &args, NULL, 0);
    zmsg_t *msg = peerutil_recv (&s_peer, "BACKLOG", &args);
    zmsg_destroy (&msg);
    //  The peer goes: the second message is still the queue's, not
    //  settled by an ack that was not for it.
    peerutil_stop (&s_peer);
    s_wait_peers (client, 0);
    meshq_delivery_t *second = NULL;
    cr_assert_eq (meshq_client_get (client, "twice", false, &second), 0);
    cr_assert_not_null (second, "the second message was lost to a stale ack");
    cr_expect_str_eq (agentutil_body (second, body, sizeof body), "second");
    meshq_client_ack (client, second->delivery_tag, false);
    meshq_client_ack (client, first->delivery_tag, false);
    meshq_delivery_destroy (&second);
    meshq_delivery_destroy (&first);
    meshq_client_destroy (&client);
}

Test (mesh_deliveries, an_ack_made_while_the_origin_was_down_settles_one_queue)
{
    meshq_client_t *a = s_start (0);
    meshq_client_t *b = s_start (1);
    s_wait_peers (a, 1);
    //  One publish, two copies: one in each queue the exchange feeds.
    cr_assert_eq (meshq_client_declare_exchange (a, "fan", "fanout", true), 0);
    cr_assert_eq (meshq_client_declare_queue (a, "left", NULL), 0);
    cr_assert_eq (meshq_client_declare_queue (a, "right", NULL), 0);
    cr_assert_eq (meshq_client_bind_queue (a, "left", "fan", "", NULL), 0);
    cr_assert_eq (meshq_client_bind_queue (a, "right", "fan", "", NULL), 0);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.passive = true;
    int64_t deadline = zclock_mono () + 10000;
    while (meshq_client_declare_queue (b, "left", &options) &&
           zclock_mono () < deadline)
        meshq_client_dispatch (b, 20);
    meshq_client_set_confirms (a, 10);
    cr_assert_eq (meshq_client_publish_body (a, "fan", "", "both", 4), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (a, 5000), 0);
    //  A consumer on B takes the left copy; its origin goes down before
    //  the ack, which B keeps for when it is back.
    meshq_client_t *worker = agentutil_client (&s_nodes[1]);
    cr_assert_eq (meshq_client_consume (worker, "left", 1, NULL, 0), 0);
    meshq_delivery_t *delivery = agentutil_recv (worker);
    meshq_client_destroy (&a);
    agentutil_stop (&s_nodes[0]);
    s_wait_peers (b, 0);
    cr_assert_eq (meshq_client_ack (worker, delivery->delivery_tag, false), 0);
    meshq_delivery_destroy (&delivery);
    meshq_client_destroy (&worker);
    //  (A request answered after the ack: B has read the ack.)
    s_wait_peers (b, 0);
    a = s_start (0);
    s_wait_peers (a, 1);
    //  The left copy is settled by the late ack; the right one, which
    //  no consumer has had, stays.
    uint64_t ready = 1, unacked = 1, limit;
    deadline = zclock_mono () + 10000;
    while ((ready || unacked) && zclock_mono () < deadline) {
        meshq_client_dispatch (a, 20);
        s_queue_row (a, "left", &ready, &unacked, &limit);
    }
    cr_expect (ready == 0 && unacked == 0, "the left copy was not settled");
    s_queue_row (a, "right", &ready, &unacked, &limit);
    cr_expect_eq (ready, 1, "the right copy went with the left one's ack");
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}

Test (mesh_deliveries, an_ack_of_a_message_from_a_past_link_is_told_by_id)
{
    //  The peer played by the test is the origin here: it hands the
    //  agent's consumer a message, its link goes down and comes back,
    //  and then the consumer acks.
    meshq_client_t *client = s_start (0);
    cr_assert_eq (meshq_client_declare_queue (client, "jobs", NULL), 0);
    cr_assert_eq (meshq_client_consume (client, "jobs", 10, NULL, 0), 0);
    peerutil_start (&s_peer, s_mesh, s_port, 0x70);
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, "jobs");
    meshq_msg_set_body (msg, "job", 3);
    uint8_t *envelope;
    size_t size;
    cr_assert_eq (meshq_msg_encode (msg, &envelope, &size), 0);
    meshq_msg_destroy (&msg);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("jobs"));
    MESHQ_ARGS_SET (&args, DTAG, dtag, 77);
    MESHQ_ARGS_SET (&args, SEQ, seq, 5);
    MESHQ_ARGS_SET (&args, DELIVERIES, count, 1);
    memcpy (args.origin, s_peer.id, 16);
    MESHQ_ARGS_MARK (&args, ORIGIN);
    peerutil_send (&s_peer, "DELIVER", &args, envelope, size);
    free (envelope);
    meshq_delivery_t *delivery = agentutil_recv (client);
    peerutil_stop (&s_peer);
    s_wait_peers (client, 0);
    peerutil_start (&s_peer, s_mesh, s_port, 0x70);
    s_wait_peers (client, 1);
    cr_assert_eq (meshq_client_ack (client, delivery->delivery_tag, false), 0);
    meshq_delivery_destroy (&delivery);
    meshq_args_t status;
    s_status (client, &status);  //  The ack goes before the request.
    //  Tag 77 was the old link's: the ack comes as the message's id, in
    //  its queue, which the origin can match whatever it did since.
    meshq_args_t acked;
    while (true) {
        zmsg_t *reply = peerutil_recv (&s_peer, "ACKED", &acked);
        bool named = MESHQ_ARGS_HAS (&acked, QUEUE);
        if (named) {
            cr_expect (acked.queue.size == 4 &&
                       memcmp (acked.queue.data, "jobs", 4) == 0);
            cr_expect_eq (acked.dtags.size, 8);
            cr_expect_eq (acked.dtags.size ? (uint8_t)acked.dtags.data[0] : 0,
                          5, "the message's sequence");
        }
        zmsg_destroy (&reply);
        if (named)
            break;
    }
    cr_expect_eq (s_peer.acks, 0, "an ACK under the old link's tag");
    meshq_client_destroy (&client);
}

Test (mesh_deliveries, a_hand_off_whose_lease_lapses_at_a_live_peer_counts)
{
    //  An agent that stays up and says nothing of a message for the ack
    //  timeout: a consumer there most likely hangs on it, so it counts,
    //  and a message that hangs every consumer still stops.
    meshq_client_t *client = s_start (0);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.max_deliveries = 1;
    options.ack_timeout = 100;
    cr_assert_eq (meshq_client_declare_queue (client, "stuck", &options), 0);
    s_publish (client, "stuck", "hang");
    peerutil_start (&s_peer, s_mesh, s_port, 0x80);
    char body[32];
    s_take ("stuck", body, sizeof body);
    //  The lease lapses and the agent has it ready again; the peer asks
    //  for it again, and it is past the limit.
    while (true) {
        meshq_args_t backlog;
        zmsg_t *msg = peerutil_recv (&s_peer, "BACKLOG", &backlog);
        bool again = backlog.messages == 1;
        zmsg_destroy (&msg);
        if (again)
            break;
    }
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("stuck"));
    MESHQ_ARGS_SET (&args, CREDIT, credit, 1);
    peerutil_send (&s_peer, "GRANT", &args, NULL, 0);
    uint64_t ready, unacked, limit = 0;
    int64_t deadline = zclock_mono () + 10000;
    do {
        meshq_client_dispatch (client, 20);
        s_queue_row (client, "stuck", &ready, &unacked, &limit);
    } while (limit != 1 && zclock_mono () < deadline);
    cr_expect_eq (limit, 1, "disposed of at the limit");
    cr_expect_eq (ready + unacked, 0);
    meshq_client_destroy (&client);
}
