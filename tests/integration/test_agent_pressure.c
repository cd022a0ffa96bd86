/*  test_agent_pressure.c - backpressure: at its memory high-water mark or
    disk quota an agent refuses publishes (or makes them wait), keeps
    serving consumers, and takes publishes again once they drained it.
    Before that, a publisher that outruns the consumers of its queue is
    made to wait (flow_time, bounded by flow_memory), and loses nothing.
*/
#include "agentutil.h"
#include "clientutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>

static agentutil_t s_node;

static void
s_teardown (void)
{
    agentutil_finish (&s_node);
}

//  Publishes 1 KiB messages until one is refused; returns how many went.
static int
s_fill (meshq_client_t *client, const char *queue, int refusal)
{
    char body[1024];
    memset (body, 'x', sizeof body);
    for (int i = 0; i < 10000; i++) {
        cr_assert_eq (
            meshq_client_publish_body (client, "", queue, body, sizeof body),
            0);
        int rc = meshq_client_wait_for_confirms (client, 5000);
        if (rc) {
            cr_expect_eq (rc, refusal, "%s", meshq_client_error (client));
            return i;
        }
    }
    cr_assert_fail ("10 MiB published past a 64 KiB limit");
    return -1;
}

static void
s_drain (meshq_client_t *client, const char *queue, int count)
{
    cr_assert_eq (meshq_client_consume (client, queue, 100, "drain", 0), 0);
    for (int i = 0; i < count; i++) {
        meshq_delivery_t *delivery = agentutil_recv (client);
        meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    cr_assert_eq (meshq_client_cancel (client, "drain"), 0);
}

Test (pressure, memory_mark_refuses_then_recovers, .fini = s_teardown,
      .timeout = 60)
{
    const char *options[] = {"max_memory", "65536", NULL};
    agentutil_start_with (&s_node, "memory", options);
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_declare_queue (client, "big", NULL), 0);
    int accepted = s_fill (client, "big", MESHQ_EFULL);
    cr_expect_gt (accepted, 10);
    cr_expect (strstr (meshq_client_error (client), "high-water"));
    //  Consumers are still served; draining unblocks publishers.
    s_drain (client, "big", accepted);
    int64_t deadline = zclock_mono () + 5000;
    while (meshq_client_blocked (client) && zclock_mono () < deadline)
        meshq_client_dispatch (client, 50);
    cr_expect_not (meshq_client_blocked (client));
    cr_expect_eq (meshq_client_publish_body (client, "", "big", "ok", 2), 0);
    cr_expect_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    meshq_client_destroy (&client);
}

Test (pressure, a_blocking_publisher_waits_instead, .fini = s_teardown,
      .timeout = 60)
{
    const char *options[] = {"max_memory", "65536", NULL};
    agentutil_start_with (&s_node, "blocking", options);
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_declare_queue (client, "big", NULL), 0);
    int accepted = s_fill (client, "big", MESHQ_EFULL);
    meshq_client_set_block_on_pressure (client, true);
    meshq_client_set_timeout (client, 300);
    cr_expect_eq (meshq_client_publish_body (client, "", "big", "x", 1),
                  MESHQ_ETIMEOUT, "publish waits while the agent is full");
    meshq_client_set_timeout (client, 5000);
    s_drain (client, "big", accepted);
    cr_expect_eq (meshq_client_publish_body (client, "", "big", "x", 1), 0);
    cr_expect_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    meshq_client_destroy (&client);
}

Test (pressure, a_quota_below_the_least_a_store_drains_in_is_refused,
      .timeout = 30)
{
    meshq_agent_t *agent = meshq_agent_new ("tiny-quota");
    cr_expect_neq (meshq_agent_set (agent, "quota", "16384"), 0);
    cr_expect (strstr (meshq_agent_error (agent), "32768"),
               "the refusal names the limit: '%s'", meshq_agent_error (agent));
    meshq_agent_destroy (&agent);
}

Test (pressure, a_quota_smaller_than_a_segment_drains_without_a_restart,
      .fini = s_teardown, .timeout = 60)
{
    //  The default segment (64 MiB) is far larger than this quota.
    const char *options[] = {"quota", "65536", NULL};
    agentutil_start_with (&s_node, "small-quota", options);
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_declare_queue (client, "disk", NULL), 0);
    int accepted = s_fill (client, "disk", MESHQ_EFULL);
    cr_expect_gt (accepted, 10);
    //  Purged, the space is free again: publishes are taken once the
    //  store has deleted what the purge emptied, without a restart.
    cr_assert_eq (meshq_client_purge_queue (client, "disk", NULL), 0);
    char body[1024];
    memset (body, 'y', sizeof body);
    int rc = MESHQ_EFULL;
    for (int tries = 0; tries < 200 && rc == MESHQ_EFULL; tries++) {
        cr_assert_eq (
            meshq_client_publish_body (client, "", "disk", body, sizeof body),
            0);
        rc = meshq_client_wait_for_confirms (client, 5000);
        if (rc == MESHQ_EFULL)
            zclock_sleep (50);
    }
    cr_expect_eq (rc, 0, "publishes stay refused after a purge: %s",
                  meshq_client_error (client));
    meshq_client_destroy (&client);
}

Test (pressure, a_declaration_the_store_cannot_keep_is_refused,
      .fini = s_teardown, .timeout = 60)
{
    const char *options[] = {"quota", "65536", NULL};
    agentutil_start_with (&s_node, "full-declare", options);
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_declare_queue (client, "disk", NULL), 0);
    s_fill (client, "disk", MESHQ_EFULL);
    //  A durable declaration needs a record the full store cannot take:
    //  refused, naming the quota, rather than answered OK and lost at
    //  the next restart.
    cr_expect_eq (meshq_client_declare_queue (client, "later", NULL),
                  MESHQ_EFULL);
    cr_expect (strstr (meshq_client_error (client), "quota"), "got '%s'",
               meshq_client_error (client));
    cr_expect_eq (meshq_client_declare_exchange (client, "ex", "direct", true),
                  MESHQ_EFULL);
    //  What needs no record is still done.
    meshq_queue_options_t options_t;
    meshq_queue_options_init (&options_t);
    options_t.durable = false;
    cr_expect_eq (meshq_client_declare_queue (client, "fleeting", &options_t),
                  0);
    meshq_client_destroy (&client);
    //  And nothing was answered OK that a restart lost.
    agentutil_restart (&s_node);
    client = agentutil_client (&s_node);
    meshq_queue_options_init (&options_t);
    options_t.passive = true;
    cr_expect_eq (meshq_client_declare_queue (client, "disk", &options_t), 0);
    meshq_client_destroy (&client);
}

Test (pressure, disk_quota_refuses_publishes, .fini = s_teardown, .timeout = 60)
{
    const char *options[] = {"quota", "262144", "segment_size", "65536", NULL};
    agentutil_start_with (&s_node, "quota", options);
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_declare_queue (client, "disk", NULL), 0);
    int accepted = s_fill (client, "disk", MESHQ_EFULL);
    cr_expect_gt (accepted, 10);
    cr_expect (strstr (meshq_client_error (client), "quota"), "got '%s'",
               meshq_client_error (client));
    //  Every message confirmed before the refusal is there.
    s_drain (client, "disk", accepted);
    meshq_client_destroy (&client);
}

//  A publisher of count 100-byte messages to queue, without confirms, on
//  its own thread.
typedef struct {
    meshq_client_t *client;  //  Its own.
    const char *queue;       //  Where.
    int count;               //  How many.
    atomic_int published;    //  So far.
    atomic_bool done;        //  All sent.
    int rc;                  //  First failure, or 0.
} s_publisher_t;

static void *
s_publish (void *arg)
{
    s_publisher_t *self = arg;
    char body[100];
    memset (body, 'p', sizeof body);
    for (int i = 0; i < self->count && self->rc == 0; i++) {
        self->rc = meshq_client_publish_body (self->client, "", self->queue,
                                              body, sizeof body);
        atomic_fetch_add (&self->published, 1);
    }
    if (self->rc == 0)
        self->rc = meshq_client_publish_flush (self->client);
    atomic_store (&self->done, true);
    return NULL;
}

//  Ready messages of queue once they stop growing (two looks 300 ms
//  apart agree), or after 10 s.
static uint64_t
s_settled_depth (meshq_client_t *client, const char *queue)
{
    meshq_args_t row;
    clientutil_queue (client, queue, &row);
    uint64_t last = row.messages;
    for (int64_t deadline = zclock_mono () + 10000;
         zclock_mono () < deadline;) {
        zclock_sleep (300);
        clientutil_queue (client, queue, &row);
        if (row.messages == last)
            break;
        last = row.messages;
    }
    return last;
}

Test (pressure, a_publisher_waits_for_its_consumers, .fini = s_teardown,
      .timeout = 120)
{
    enum { COUNT = 60000 };
    const char *options[] = {"flow_memory", "262144", NULL};
    agentutil_start_with (&s_node, "flow", options);
    meshq_client_t *consumer = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_declare_queue (consumer, "flow", NULL), 0);
    //  A consumer that takes 10 and acks none, for now: the queue falls
    //  behind it.
    cr_assert_eq (meshq_client_consume (consumer, "flow", 10, "slow", 0), 0);
    s_publisher_t publisher = {
        .client = agentutil_client (&s_node), .queue = "flow", .count = COUNT};
    meshq_client_set_timeout (publisher.client, 60000);
    pthread_t thread;
    pthread_create (&thread, NULL, s_publish, &publisher);
    //  The publisher waits with most of its messages unsent, rather than
    //  the agent holding them all (without flow control, all 60000
    //  would be in the queue within a second or two).
    uint64_t ready = s_settled_depth (consumer, "flow");
    cr_expect_lt (ready, COUNT / 2, "the agent took %" PRIu64 " messages",
                  ready);
    cr_expect_not (atomic_load (&publisher.done));
    //  Once the consumer keeps up, the publisher goes on; every message
    //  arrives once.
    int received = 0;
    while (received < COUNT) {
        meshq_delivery_t *delivery = NULL;
        int rc = meshq_client_recv (consumer, 10000, &delivery);
        cr_assert_eq (rc, 0, "after %d of %d: %s", received, COUNT,
                      meshq_client_error (consumer));
        cr_assert_not (delivery->redelivered);
        cr_assert_eq (
            meshq_client_ack (consumer, delivery->delivery_tag, false), 0);
        meshq_delivery_destroy (&delivery);
        received++;
    }
    pthread_join (thread, NULL);
    cr_expect_eq (publisher.rc, 0, "%s", meshq_client_error (publisher.client));
    cr_expect_eq (atomic_load (&publisher.published), COUNT);
    meshq_client_destroy (&publisher.client);
    meshq_client_destroy (&consumer);
}

Test (pressure, a_publisher_waits_for_a_slow_consumer_well_before_memory,
      .fini = s_teardown, .timeout = 120)
{
    //  64 MiB would hold all 80000 messages of 100 bytes (about 28 MiB
    //  with what the agent keeps with each); the queue's consumer takes
    //  a handful a second, so a backlog of its pace (flow_time, 10 ms)
    //  is tiny: the floor of 1000 messages bounds it, plus what was on
    //  its way when the publisher was told (up to 2 MiB unread, decision
    //  0029: about 14,000 messages).
    enum { COUNT = 80000 };
    const char *options[] = {"flow_memory", "67108864", NULL};
    agentutil_start_with (&s_node, "pace", options);
    meshq_client_t *consumer = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_declare_queue (consumer, "pace", NULL), 0);
    cr_assert_eq (meshq_client_consume (consumer, "pace", 10, "slow", 0), 0);
    s_publisher_t publisher = {
        .client = agentutil_client (&s_node), .queue = "pace", .count = COUNT};
    meshq_client_set_timeout (publisher.client, 60000);
    pthread_t thread;
    pthread_create (&thread, NULL, s_publish, &publisher);
    for (int i = 0; i < 5; i++) {
        meshq_delivery_t *delivery = agentutil_recv (consumer);
        cr_assert_eq (
            meshq_client_ack (consumer, delivery->delivery_tag, false), 0);
        meshq_delivery_destroy (&delivery);
        zclock_sleep (100);
    }
    uint64_t ready = s_settled_depth (consumer, "pace");
    cr_expect_lt (ready, COUNT / 2, "the agent took %" PRIu64 " messages",
                  ready);
    cr_expect_not (atomic_load (&publisher.done));
    //  Once the consumer keeps up, every message arrives once.
    for (int received = 5; received < COUNT; received++) {
        meshq_delivery_t *delivery = NULL;
        int rc = meshq_client_recv (consumer, 10000, &delivery);
        cr_assert_eq (rc, 0, "after %d of %d: %s", received, COUNT,
                      meshq_client_error (consumer));
        cr_assert_not (delivery->redelivered);
        cr_assert_eq (
            meshq_client_ack (consumer, delivery->delivery_tag, false), 0);
        meshq_delivery_destroy (&delivery);
    }
    pthread_join (thread, NULL);
    cr_expect_eq (publisher.rc, 0, "%s", meshq_client_error (publisher.client));
    cr_expect_eq (atomic_load (&publisher.published), COUNT);
    meshq_client_destroy (&publisher.client);
    meshq_client_destroy (&consumer);
}

Test (pressure, a_queue_without_consumers_still_takes_a_backlog,
      .fini = s_teardown, .timeout = 60)
{
    const char *options[] = {"flow_memory", "65536", NULL};
    agentutil_start_with (&s_node, "backlog", options);
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 1000);
    cr_assert_eq (meshq_client_declare_queue (client, "later", NULL), 0);
    char body[100];
    memset (body, 'b', sizeof body);
    for (int i = 0; i < 5000; i++)
        cr_assert_eq (
            meshq_client_publish_body (client, "", "later", body, sizeof body),
            0);
    //  Ten times flow_memory, confirmed with no consumer to wait for.
    cr_expect_eq (meshq_client_wait_for_confirms (client, 10000), 0, "%s",
                  meshq_client_error (client));
    meshq_args_t row;
    clientutil_queue (client, "later", &row);
    cr_expect_eq (row.messages, 5000);
    meshq_client_destroy (&client);
}
