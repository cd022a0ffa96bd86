/*  test_agent_delivery.c - how an agent hands messages out: priority,
    credit and prefetch, redelivery when a consumer goes away or stops
    heartbeating, leases and in-progress, nacks and delivery counts.
*/
#include "agentutil.h"
#include "args.h"
#include "codec_args.h"
#include "procutil.h"

#include <inttypes.h>

AGENTUTIL_SUITE (delivery, "delivery", 60);

static void
s_publish (meshq_client_t *client, const char *queue, const char *body,
           int priority)
{
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, queue);
    meshq_msg_set_body (msg, body, strlen (body));
    if (priority >= 0)
        meshq_msg_set_priority (msg, priority);
    cr_assert_eq (meshq_client_publish (client, msg, 0), 0);
    meshq_msg_destroy (&msg);
}

static void
s_confirm (meshq_client_t *client)
{
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0, "%s",
                  meshq_client_error (client));
}

//  A client of the agent that has declared queue and asks for confirms.
static meshq_client_t *
s_producer (const char *queue)
{
    meshq_client_t *producer = agentutil_client (&s_node);
    meshq_client_set_confirms (producer, 10);
    cr_assert_eq (meshq_client_declare_queue (producer, queue, NULL), 0);
    return producer;
}

Test (delivery, higher_priority_first_fifo_within_a_level)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 100);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.max_priority = 9;
    cr_assert_eq (meshq_client_declare_queue (client, "pq", &options), 0);
    const char *order[] = {"low-1", "high-1", "mid-1",
                           "low-2", "high-2", "mid-2"};
    const int priority[] = {1, 9, 5, 1, 9, 5};
    for (int i = 0; i < 6; i++)
        s_publish (client, "pq", order[i], priority[i]);
    //  Above max-priority counts as max-priority.
    s_publish (client, "pq", "plain", -1);
    s_confirm (client);
    const char *expected[] = {"high-1", "high-2", "mid-1", "mid-2",
                              "low-1",  "low-2",  "plain"};
    cr_assert_eq (meshq_client_consume (client, "pq", 1, NULL, 0), 0);
    for (int i = 0; i < 7; i++) {
        meshq_delivery_t *delivery = agentutil_recv (client);
        char body[32];
        cr_expect_str_eq (agentutil_body (delivery, body, sizeof body),
                          expected[i]);
        meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&client);
}

Test (delivery, a_consumer_never_holds_more_than_its_prefetch)
{
    meshq_client_t *producer = agentutil_client (&s_node);
    meshq_client_t *slow = agentutil_client (&s_node);
    meshq_client_t *fast = agentutil_client (&s_node);
    meshq_client_set_confirms (producer, 100);
    cr_assert_eq (meshq_client_declare_queue (producer, "credit", NULL), 0);
    for (int i = 0; i < 30; i++)
        s_publish (producer, "credit", "m", -1);
    s_confirm (producer);
    cr_assert_eq (meshq_client_consume (slow, "credit", 2, "slow", 0), 0);
    cr_assert_eq (meshq_client_consume (fast, "credit", 10, "fast", 0), 0);
    //  Without acks each holds exactly its prefetch; the rest wait.
    meshq_delivery_t *held[2];
    for (int i = 0; i < 2; i++)
        held[i] = agentutil_recv (slow);
    meshq_delivery_t *extra = NULL;
    cr_expect_eq (meshq_client_recv (slow, 200, &extra), MESHQ_ETIMEOUT,
                  "a third delivery to a consumer with prefetch 2");
    for (int i = 0; i < 2; i++)
        meshq_delivery_destroy (&held[i]);
    meshq_delivery_t *fast_held[10];
    for (int i = 0; i < 10; i++)
        fast_held[i] = agentutil_recv (fast);
    cr_expect_eq (meshq_client_recv (fast, 200, &extra), MESHQ_ETIMEOUT,
                  "an eleventh delivery to a consumer with prefetch 10");
    //  Acking frees credit: the next ones come.
    cr_assert_eq (meshq_client_ack (fast, fast_held[9]->delivery_tag, true), 0);
    for (int i = 0; i < 10; i++) {
        meshq_delivery_destroy (&fast_held[i]);
        fast_held[i] = agentutil_recv (fast);
    }
    for (int i = 0; i < 10; i++)
        meshq_delivery_destroy (&fast_held[i]);
    meshq_client_destroy (&slow);
    meshq_client_destroy (&fast);
    meshq_client_destroy (&producer);
}

Test (delivery, a_no_ack_consumer_is_acked_as_sent_and_bounded_by_prefetch)
{
    meshq_client_t *producer = s_producer ("auto");
    for (int i = 0; i < 50; i++)
        s_publish (producer, "auto", "m", -1);
    s_confirm (producer);
    meshq_client_t *consumer = agentutil_client (&s_node);
    cr_assert_eq (
        meshq_client_consume (consumer, "auto", 5, "auto", MESHQ_NO_ACK), 0);
    //  While its client reads nothing, only the prefetch is on its way,
    //  and that counts as acked already: nothing is unacked.
    uint64_t ready = 0, unacked = 1;
    int64_t deadline = zclock_mono () + 5000;
    while ((ready != 45 || unacked) && zclock_mono () < deadline) {
        zclock_sleep (20);
        procutil_depth (producer, "auto", &ready, &unacked);
    }
    cr_expect_eq (ready, 45, "the agent sent more than the prefetch");
    cr_expect_eq (unacked, 0);
    //  Reading gives the credit back: the rest come.
    for (int i = 0; i < 30; i++) {
        meshq_delivery_t *delivery = agentutil_recv (consumer);
        meshq_delivery_destroy (&delivery);
    }
    //  What was sent and not yet read is gone with the connection, as
    //  with RabbitMQ's automatic acks: nothing comes back to the queue.
    uint64_t before;
    procutil_depth (producer, "auto", &before, &unacked);
    cr_expect_leq (before, 20);
    meshq_client_destroy (&consumer);
    zclock_sleep (200);
    procutil_depth (producer, "auto", &ready, &unacked);
    //  (Fewer, if a credit was still on its way when it left.)
    cr_expect_leq (ready, before, "%" PRIu64 " came back", ready - before);
    cr_expect_eq (unacked, 0);
    meshq_client_destroy (&producer);
}

Test (delivery, a_no_ack_consumer_s_credit_goes_back_as_the_application_reads)
{
    meshq_client_t *producer = s_producer ("taken");
    for (int i = 0; i < 100; i++)
        s_publish (producer, "taken", "m", -1);
    s_confirm (producer);
    meshq_client_t *consumer = agentutil_client (&s_node);
    cr_assert_eq (
        meshq_client_consume (consumer, "taken", 10, "taken", MESHQ_NO_ACK), 0);
    meshq_delivery_t *delivery = agentutil_recv (consumer);
    meshq_delivery_destroy (&delivery);
    //  The client talks to the agent (each request reads what arrived),
    //  but the application reads no more: what it has not taken keeps
    //  the prefetch full, and no more than it comes.
    uint64_t ready = 0, unacked = 0;
    for (int i = 0; i < 5; i++) {
        zclock_sleep (50);
        procutil_depth (consumer, "taken", &ready, &unacked);
    }
    cr_expect_geq (ready, 89, "%" PRIu64 " sent for a prefetch of 10, 1 read",
                   100 - ready);
    //  Reading them all brings the rest.
    for (int i = 1; i < 100; i++) {
        delivery = agentutil_recv (consumer);
        meshq_delivery_destroy (&delivery);
    }
    procutil_depth (consumer, "taken", &ready, &unacked);
    cr_expect_eq (ready, 0);
    meshq_client_destroy (&consumer);
    meshq_client_destroy (&producer);
}

//  Sends CREDIT for the consumer tag, as a client would (or should not).
static void
s_credit (meshq_client_t *client, const char *tag, uint64_t credit)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, TAG, tag, meshq_span (tag));
    MESHQ_ARGS_SET (&args, CREDIT, credit, credit);
    cr_assert_eq (meshq_client_send (client, "CREDIT", &args, NULL, 0), 0);
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

Test (delivery, credit_a_client_has_no_right_to_changes_nothing)
{
    meshq_client_t *producer = s_producer ("owed");
    for (int i = 0; i < 50; i++)
        s_publish (producer, "owed", "m", -1);
    s_confirm (producer);
    uint64_t dropped = s_dropped (producer);
    //  Credit for a consumer that acks: refused, counted, and its
    //  prefetch holds.
    meshq_client_t *acking = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_consume (acking, "owed", 3, "acking", 0), 0);
    s_credit (acking, "acking", 1000000);
    //  Credit for a tag that is no consumer: ignored (it may have been
    //  cancelled while the credit was on its way).
    s_credit (acking, "nobody", 1000000);
    meshq_delivery_t *held[3];
    for (int i = 0; i < 3; i++)
        held[i] = agentutil_recv (acking);
    meshq_delivery_t *extra = NULL;
    cr_expect_eq (meshq_client_recv (acking, 200, &extra), MESHQ_ETIMEOUT,
                  "a fourth delivery to a consumer with prefetch 3");
    meshq_delivery_destroy (&extra);
    cr_expect_eq (s_dropped (producer), dropped + 1);
    for (int i = 0; i < 3; i++)
        meshq_delivery_destroy (&held[i]);
    meshq_client_destroy (&acking);
    //  More credit than a no-ack consumer has on its way is capped at
    //  what it has: it cannot make the agent send beyond its prefetch.
    uint64_t ready, unacked;
    procutil_depth (producer, "owed", &ready, &unacked);
    uint64_t before = ready;
    meshq_client_t *auto_ack = agentutil_client (&s_node);
    cr_assert_eq (
        meshq_client_consume (auto_ack, "owed", 5, "auto", MESHQ_NO_ACK), 0);
    s_credit (auto_ack, "auto", 1000000);
    zclock_sleep (200);
    procutil_depth (producer, "owed", &ready, &unacked);
    cr_expect_geq (ready + 10, before,
                   "%" PRIu64 " sent for a prefetch of 5, nothing read",
                   before - ready);
    meshq_client_destroy (&auto_ack);
    meshq_client_destroy (&producer);
}

Test (delivery, a_consumer_that_leaves_gives_its_messages_back_redelivered)
{
    meshq_client_t *producer = s_producer ("jobs");
    s_publish (producer, "jobs", "first", -1);
    s_publish (producer, "jobs", "second", -1);
    s_confirm (producer);
    meshq_client_t *quitter = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_consume (quitter, "jobs", 5, NULL, 0), 0);
    meshq_delivery_t *a = agentutil_recv (quitter);
    meshq_delivery_t *b = agentutil_recv (quitter);
    meshq_delivery_destroy (&a);
    meshq_delivery_destroy (&b);
    meshq_client_destroy (&quitter);

    meshq_client_t *worker = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_consume (worker, "jobs", 5, NULL, 0), 0);
    const char *expected[] = {"first", "second"};
    for (int i = 0; i < 2; i++) {
        meshq_delivery_t *delivery = agentutil_recv (worker);
        char body[32];
        cr_expect_str_eq (agentutil_body (delivery, body, sizeof body),
                          expected[i], "requeued in front, in order");
        cr_expect (delivery->redelivered);
        cr_expect_eq (delivery->delivery_count, 2);
        cr_expect_eq (meshq_msg_redelivery_count (delivery->msg), 1);
        meshq_client_ack (worker, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&worker);
    meshq_client_destroy (&producer);
}

//  A client that says HELLO and CONSUME by hand, then falls silent
//  without a goodbye, as a frozen process would.
//  A raw client, a DEALER with routing id id, that said HELLO as guest
//  (with hb, its heartbeat in ms, and nb, the most deliveries it takes
//  in one frame, each unless 0) and got OK.
static zsock_t *
s_raw_hello (const char *id, uint64_t heartbeat, uint64_t batch)
{
    zsock_t *raw = zsock_new (ZMQ_DEALER);
    uint8_t routing_id[16];
    memset (routing_id, 0, sizeof routing_id);
    snprintf ((char *)routing_id, sizeof routing_id, "%s", id);
    zmq_setsockopt (zsock_resolve (raw), ZMQ_ROUTING_ID, routing_id, 16);
    cr_assert_eq (
        zsock_connect (raw, "%s", meshq_agent_endpoint (s_node.agent)), 0);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 1);
    if (heartbeat)
        MESHQ_ARGS_SET (&args, HEARTBEAT, heartbeat, heartbeat);
    //  inproc:// has no handshake: the login is in HELLO.
    MESHQ_ARGS_SET (&args, USER, user, meshq_span ("guest"));
    MESHQ_ARGS_SET (&args, PASSWORD, password, meshq_span ("guest"));
    if (batch)
        MESHQ_ARGS_SET (&args, BATCH, batch, batch);
    meshq_codec_encode_args (&args, &buf, NULL);
    zsock_send (raw, "sb", "HELLO", buf.data, buf.size);
    meshq_buf_fini (&buf);
    zmsg_t *reply = zmsg_recv (raw);
    cr_assert (reply && zframe_streq (zmsg_first (reply), "OK"));
    zmsg_destroy (&reply);
    return raw;
}

//  Sends CONSUME of queue with prefetch on a raw client; the caller
//  reads the answer.
static void
s_raw_consume (zsock_t *raw, const char *queue, uint64_t prefetch)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 2);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span (queue));
    MESHQ_ARGS_SET (&args, PREFETCH, prefetch, prefetch);
    meshq_codec_encode_args (&args, &buf, NULL);
    zsock_send (raw, "sb", "CONSUME", buf.data, buf.size);
    meshq_buf_fini (&buf);
}

Test (delivery, a_silent_consumer_loses_its_messages_after_three_heartbeats)
{
    meshq_client_t *producer = s_producer ("silent");
    s_publish (producer, "silent", "job", -1);
    s_confirm (producer);

    zsock_t *raw = s_raw_hello ("silent-consumer", 50, 0);
    s_raw_consume (raw, "silent", 1);
    bool delivered = false;
    for (int i = 0; i < 2; i++) {
        zmsg_t *reply = zmsg_recv (raw);
        cr_assert_not_null (reply);
        delivered |= zframe_streq (zmsg_first (reply), "DELIVER");
        zmsg_destroy (&reply);
    }
    cr_assert (delivered, "the silent consumer got the job first");

    //  No PING follows: after 3 x 50 ms the agent gives the job back.
    meshq_client_t *worker = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_consume (worker, "silent", 1, NULL, 0), 0);
    meshq_delivery_t *delivery = agentutil_recv (worker);
    cr_expect (delivery->redelivered);
    cr_expect_eq (delivery->delivery_count, 2);
    meshq_delivery_destroy (&delivery);
    zsock_destroy (&raw);
    meshq_client_destroy (&worker);
    meshq_client_destroy (&producer);
}

//  A raw client: CONSUME of queue with prefetch 10, answered OK.
static zsock_t *
s_raw_consumer (const char *queue, uint64_t batch)
{
    char id[16];
    snprintf (id, sizeof id, "raw-%s", queue);
    zsock_t *raw = s_raw_hello (id, 0, batch);
    s_raw_consume (raw, queue, 10);
    zmsg_t *reply = zmsg_recv (raw);
    cr_assert (reply && zframe_streq (zmsg_first (reply), "OK"));
    zmsg_destroy (&reply);
    return raw;
}

//  Receives one DELIVER frame: its arguments into *args (borrowing from
//  the message, which the caller destroys).
static zmsg_t *
s_raw_deliver (zsock_t *raw, meshq_args_t *args)
{
    zsock_set_rcvtimeo (raw, 5000);
    zmsg_t *msg = zmsg_recv (raw);
    cr_assert_not_null (msg);
    cr_assert_eq (zmsg_size (msg), 3);
    cr_assert (zframe_streq (zmsg_first (msg), "DELIVER"));
    zframe_t *frame = zmsg_next (msg);
    cr_assert_eq (meshq_codec_decode_args (zframe_data (frame),
                                           zframe_size (frame), args, NULL),
                  0);
    return msg;
}

Test (delivery, a_client_that_takes_no_batches_gets_a_frame_per_message)
{
    meshq_client_t *producer = s_producer ("single");
    zsock_t *raw = s_raw_consumer ("single", 0);
    for (int i = 0; i < 3; i++)
        s_publish (producer, "single", "job", -1);
    s_confirm (producer);
    for (uint64_t tag = 1; tag <= 3; tag++) {
        meshq_args_t args;
        zmsg_t *msg = s_raw_deliver (raw, &args);
        cr_expect (!MESHQ_ARGS_HAS (&args, BATCH));
        cr_expect_eq (args.dtag, tag);
        cr_expect_eq (args.count, 1);
        meshq_msg_t *envelope = NULL;
        zframe_t *body = zmsg_last (msg);
        cr_expect_eq (meshq_msg_decode (zframe_data (body), zframe_size (body),
                                        SIZE_MAX, &envelope, NULL),
                      0);
        meshq_msg_destroy (&envelope);
        zmsg_destroy (&msg);
    }
    zsock_destroy (&raw);
    meshq_client_destroy (&producer);
}

Test (delivery, a_client_that_takes_batches_gets_them_in_one_frame)
{
    meshq_client_t *producer = s_producer ("batched");
    zsock_t *raw = s_raw_consumer ("batched", 16);
    for (int i = 0; i < 3; i++)
        s_publish (producer, "batched", "job", -1);
    s_confirm (producer);
    uint64_t tag = 0;
    while (tag < 3) {
        meshq_args_t args;
        zmsg_t *msg = s_raw_deliver (raw, &args);
        cr_assert (MESHQ_ARGS_HAS (&args, BATCH));
        cr_expect_eq (args.queue.size, strlen ("batched"));
        cr_expect (MESHQ_ARGS_HAS (&args, ORIGIN));
        zframe_t *items = zmsg_last (msg);
        meshq_span_t cursor = {(const char *)zframe_data (items),
                               (uint32_t)zframe_size (items)};
        for (uint64_t i = 0; i < args.batch; i++) {
            meshq_delivery_item_t item;
            cr_assert_eq (
                meshq_codec_decode_delivery (&cursor, 1 << 20, &item, NULL), 0);
            cr_expect_eq (item.dtag, ++tag);
            cr_expect_eq (item.count, 1);
            cr_expect (!item.redelivered);
            meshq_msg_t *envelope = NULL;
            cr_expect_eq (meshq_msg_decode (item.envelope.data,
                                            item.envelope.size, SIZE_MAX,
                                            &envelope, NULL),
                          0);
            size_t size;
            const void *body = meshq_msg_body (envelope, &size);
            cr_expect (size == 3 && memcmp (body, "job", 3) == 0);
            meshq_msg_destroy (&envelope);
        }
        cr_expect_eq (cursor.size, 0, "nothing after the last item");
        zmsg_destroy (&msg);
    }
    zsock_destroy (&raw);
    meshq_client_destroy (&producer);
}

Test (delivery, a_lapsed_lease_redelivers_and_in_progress_extends_it)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.ack_timeout = 300;
    cr_assert_eq (meshq_client_declare_queue (client, "leases", &options), 0);
    s_publish (client, "leases", "long job", -1);
    s_confirm (client);
    meshq_client_t *patient = agentutil_client (&s_node);
    meshq_client_t *idle = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_consume (patient, "leases", 1, NULL, 0), 0);
    meshq_delivery_t *job = agentutil_recv (patient);
    cr_assert_eq (meshq_client_consume (idle, "leases", 1, NULL, 0), 0);
    //  Working for three leases, saying so every 100 ms: not redelivered.
    meshq_delivery_t *stolen = NULL;
    for (int i = 0; i < 9; i++) {
        cr_assert_eq (meshq_client_in_progress (patient, job->delivery_tag), 0);
        cr_expect_eq (meshq_client_recv (idle, 100, &stolen), MESHQ_ETIMEOUT,
                      "redelivered while in progress");
        meshq_delivery_destroy (&stolen);
    }
    //  Silent past the lease: the job goes to the idle consumer.
    stolen = agentutil_recv (idle);
    cr_expect (stolen->redelivered);
    //  The late ack of the lapsed delivery is refused with a reason.
    meshq_client_ack (patient, job->delivery_tag, false);
    meshq_delivery_t *none = NULL;
    meshq_client_recv (patient, 200, &none);
    cr_expect (strstr (meshq_client_error (patient), "unknown delivery tag"),
               "got '%s'", meshq_client_error (patient));
    meshq_client_ack (idle, stolen->delivery_tag, false);
    meshq_delivery_destroy (&stolen);
    meshq_delivery_destroy (&job);
    meshq_client_destroy (&idle);
    meshq_client_destroy (&patient);
    meshq_client_destroy (&client);
}

Test (delivery, nack_requeues_and_counts_deliveries)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_declare_queue (client, "retry", NULL), 0);
    s_publish (client, "retry", "flaky", -1);
    s_confirm (client);
    cr_assert_eq (meshq_client_consume (client, "retry", 1, NULL, 0), 0);
    for (uint32_t count = 1; count <= 3; count++) {
        meshq_delivery_t *delivery = agentutil_recv (client);
        cr_expect_eq (delivery->delivery_count, count);
        cr_expect_eq (delivery->redelivered, count > 1);
        if (count < 3)
            meshq_client_nack (client, delivery->delivery_tag, false, true);
        else
            meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    meshq_delivery_t *none = NULL;
    cr_expect_eq (meshq_client_recv (client, 100, &none), MESHQ_ETIMEOUT);
    meshq_client_destroy (&client);
}

static int s_seen;

static void
s_on_delivery (meshq_client_t *client, meshq_delivery_t *delivery, void *arg)
{
    (void)arg;
    s_seen++;
    meshq_client_ack (client, delivery->delivery_tag, false);
    meshq_delivery_destroy (&delivery);
}

Test (delivery, callbacks_and_gets)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_declare_queue (client, "cb", NULL), 0);
    meshq_delivery_t *delivery = NULL;
    cr_assert_eq (meshq_client_get (client, "cb", false, &delivery), 0);
    cr_expect_null (delivery, "get on an empty queue gives nothing");
    for (int i = 0; i < 5; i++)
        s_publish (client, "cb", "x", -1);
    s_confirm (client);
    cr_assert_eq (meshq_client_get (client, "cb", false, &delivery), 0);
    cr_assert_not_null (delivery);
    cr_expect_str_eq (delivery->consumer_tag, "");
    cr_assert_eq (meshq_client_ack (client, delivery->delivery_tag, false), 0);
    meshq_delivery_destroy (&delivery);
    s_seen = 0;
    cr_assert_eq (meshq_client_consume_with (client, "cb", 2, NULL, 0,
                                             s_on_delivery, NULL),
                  0);
    int64_t deadline = zclock_mono () + 5000;
    while (s_seen < 4 && zclock_mono () < deadline)
        cr_assert_geq (meshq_client_dispatch (client, 100), 0);
    cr_expect_eq (s_seen, 4);
    meshq_client_destroy (&client);
}

//  docs/SEMANTICS.md, "Durable before delivered? No: before confirmed":
//  on one connection that consumes a durable queue and publishes to it,
//  the agent sends the DELIVER of a persistent message before its
//  CONFIRM, which waits for the fdatasync.
Test (delivery, a_persistent_message_goes_out_before_its_confirm)
{
    meshq_client_t *admin = agentutil_client (&s_node);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.durable = true;
    cr_assert_eq (meshq_client_declare_queue (admin, "early", &options), 0);
    meshq_client_destroy (&admin);
    zsock_t *raw = s_raw_consumer ("early", 0);
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, "early");
    meshq_msg_set_delivery_mode (msg, MESHQ_PERSISTENT);
    meshq_msg_set_body (msg, "soon", 4);
    uint8_t *envelope;
    size_t size;
    cr_assert_eq (meshq_msg_encode (msg, &envelope, &size), 0);
    meshq_msg_destroy (&msg);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        meshq_buf_t buf;
        meshq_buf_init (&buf);
        meshq_args_t args;
        memset (&args, 0, sizeof args);
        MESHQ_ARGS_SET (&args, SEQ, seq, seq);
        meshq_codec_encode_args (&args, &buf, NULL);
        zmsg_t *publish = zmsg_new ();
        zmsg_addstr (publish, "PUBLISH");
        zmsg_addmem (publish, buf.data, buf.size);
        zmsg_addmem (publish, envelope, size);
        cr_assert_eq (zmsg_send (&publish, raw), 0);
        meshq_buf_fini (&buf);
        //  Its delivery, then its confirm.
        meshq_args_t deliver;
        zmsg_t *first = s_raw_deliver (raw, &deliver);
        zmsg_destroy (&first);
        zmsg_t *second = zmsg_recv (raw);
        cr_assert_not_null (second);
        cr_expect (zframe_streq (zmsg_first (second), "CONFIRM"),
                   "publish %" PRIu64 ": a CONFIRM after the DELIVER", seq);
        zmsg_destroy (&second);
        //  Acked, so that the next one is delivered too.
        memset (&args, 0, sizeof args);
        MESHQ_ARGS_SET (&args, DTAG, dtag, deliver.dtag);
        meshq_buf_init (&buf);
        meshq_codec_encode_args (&args, &buf, NULL);
        zsock_send (raw, "sb", "ACK", buf.data, buf.size);
        meshq_buf_fini (&buf);
    }
    free (envelope);
    zsock_destroy (&raw);
}
