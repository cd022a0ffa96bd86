/*  test_mesh_lists.c - list_queues of the whole mesh: one row per
    queue with the totals of every agent's part, gathered on demand over
    the mesh (QUERY, ANSWER), the agents that did not answer named, and
    nothing sent to an agent whose HELLO does not announce QUERY.
*/
#include "agentutil.h"
#include "peerutil.h"

#include <criterion/criterion.h>

PEERUTIL_SUITE (mesh_lists, "lists", 60);

//  The row of queue in a table, or -1.
static int
s_row (const meshq_table_t *table, const char *queue)
{
    for (size_t r = 0; r < meshq_table_rows (table); r++)
        if (streq (meshq_table_str (table, r, 0), queue))
            return (int)r;
    return -1;
}

//  The value of column in queue's row.
static uint64_t
s_value (const meshq_table_t *table, const char *queue, const char *column)
{
    int row = s_row (table, queue);
    int at = meshq_table_column_find (table, column);
    cr_assert (row >= 0 && at >= 0, "no %s of %s", column, queue);
    return meshq_table_uint (table, (size_t)row, (size_t)at);
}

Test (mesh_lists, a_consumer_on_another_agent_counts_on_the_queues_row)
{
    agentutil_t other;
    memset (&other, 0, sizeof other);
    peerutil_agent (&s_node, "a", s_mesh, s_port);
    peerutil_agent (&other, "b", s_mesh, s_port);
    meshq_client_t *a = agentutil_connect (s_node.agent);
    meshq_client_t *b = agentutil_connect (other.agent);
    cr_assert_eq (meshq_client_declare_queue (a, "jobs", NULL), 0);
    cr_assert_eq (meshq_client_set_confirms (a, 10), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq (meshq_client_publish_body (a, "", "jobs", "job", 3), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (a, 5000), 0);
    //  The queue is known at b once its record came: then b consumes,
    //  one at a time, and holds its first message unacked.
    int64_t deadline = zclock_mono () + 10000;
    while (meshq_client_consume (b, "jobs", 1, NULL, 0) != 0)
        cr_assert_lt (zclock_mono (), deadline, "b never knew jobs");
    meshq_delivery_t *delivery = NULL;
    cr_assert_eq (meshq_client_recv (b, 10000, &delivery), 0);

    //  Asked at either agent: one row, its consumer counted, each
    //  message once (the one in b's hands is unacked at its origin, the
    //  one b read ahead is ready), durable as declared, both agents'
    //  parts. Credit and read-ahead settle in a few turns: asked until
    //  then.
    meshq_client_t *clients[] = {a, b};
    for (int c = 0; c < 2; c++) {
        meshq_table_t *table = NULL;
        deadline = zclock_mono () + 10000;
        while (true) {
            cr_assert_eq (
                meshq_client_list (clients[c], "queues", NULL, 0, &table), 0,
                "%s", meshq_client_error (clients[c]));
            if ((s_value (table, "jobs", "consumers") == 1 &&
                 s_value (table, "jobs", "messages_unacknowledged") == 1) ||
                zclock_mono () > deadline)
                break;
            meshq_table_destroy (&table);
            meshq_client_dispatch (clients[c], 20);
        }
        cr_expect_eq (meshq_table_rows (table), 1);
        cr_expect_eq (s_value (table, "jobs", "consumers"), 1);
        cr_expect_eq (s_value (table, "jobs", "messages"), 3);
        cr_expect_eq (s_value (table, "jobs", "messages_unacknowledged"), 1);
        cr_expect_eq (s_value (table, "jobs", "message_bytes"), 9);
        cr_expect_eq (s_value (table, "jobs", "durable"), 1);
        cr_expect_eq (s_value (table, "jobs", "agents"), 2);
        cr_expect_str_eq (meshq_table_unanswered (table), "");
        meshq_table_destroy (&table);
    }
    //  --local: a's own part, where the consumer is not.
    meshq_table_t *table = NULL;
    cr_assert_eq (
        meshq_client_list (a, "queues", NULL, MESHQ_LIST_LOCAL, &table), 0);
    cr_expect_eq (meshq_table_rows (table), 1);
    cr_expect_eq (s_value (table, "jobs", "consumers"), 0);
    cr_expect_eq (s_value (table, "jobs", "messages_ready"), 2);
    meshq_table_destroy (&table);

    meshq_delivery_destroy (&delivery);
    meshq_client_destroy (&b);
    meshq_client_destroy (&a);
    agentutil_finish (&other);
}

Test (mesh_lists, an_agent_that_does_not_announce_query_is_not_asked)
{
    peerutil_agent (&s_node, "a", s_mesh, s_port);
    //  As an older agent: its HELLO names no commands.
    peerutil_start (&s_peer, s_mesh, s_port, 0x40);
    meshq_client_t *client = agentutil_connect (s_node.agent);
    clientutil_wait_peers (client, 1);
    cr_assert_eq (meshq_client_declare_queue (client, "q", NULL), 0);
    meshq_table_t *table = NULL;
    cr_assert_eq (meshq_client_list (client, "queues", NULL, 0, &table), 0);
    cr_expect_eq (meshq_table_rows (table), 1);
    cr_expect (strstr (meshq_table_unanswered (table),
                       "played (an older agent: it does not answer QUERY)"),
               "%s", meshq_table_unanswered (table));
    meshq_table_destroy (&table);
    //  What the agent sends it up to the record of a queue declared
    //  after the list holds no QUERY: the agent sends in order.
    cr_assert_eq (meshq_client_declare_queue (client, "zmarker", NULL), 0);
    zpoller_t *poller = zpoller_new (s_peer.node, NULL);
    int64_t deadline = zclock_mono () + 10000;
    int queries = 0;
    bool marker = false;
    while (!marker && zclock_mono () < deadline) {
        if (!zpoller_wait (poller, 100))
            continue;
        zmsg_t *msg = zmsg_recv (s_peer.node);
        char *event = zmsg_popstr (msg);
        if (event && streq (event, "MESSAGE")) {
            zframe_t *id = zmsg_pop (msg);
            char *command = zmsg_popstr (msg);
            zframe_t *frame = zmsg_first (msg);
            meshq_args_t args;
            queries += command && streq (command, "QUERY");
            if (command && streq (command, "META") && frame &&
                meshq_codec_decode_args (zframe_data (frame),
                                         zframe_size (frame), &args,
                                         NULL) == 0 &&
                memmem (args.meta_key.data, args.meta_key.size, "zmarker", 7))
                marker = true;
            free (command);
            zframe_destroy (&id);
        }
        free (event);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    cr_expect (marker, "the record of zmarker never came");
    cr_expect_eq (queries, 0);
    meshq_client_destroy (&client);
}

Test (mesh_lists, an_agent_that_does_not_answer_in_time_is_named)
{
    peerutil_agent (&s_node, "a", s_mesh, s_port);
    peerutil_start_with (&s_peer, s_mesh, s_port, 0x50, "QUERY");
    meshq_client_t *client = agentutil_connect (s_node.agent);
    clientutil_wait_peers (client, 1);
    cr_assert_eq (meshq_client_declare_queue (client, "q", NULL), 0);
    //  The agent waits half the request's timeout for the others.
    meshq_client_set_timeout (client, 1000);
    meshq_table_t *table = NULL;
    cr_assert_eq (meshq_client_list (client, "queues", NULL, 0, &table), 0,
                  "%s", meshq_client_error (client));
    cr_expect_eq (meshq_table_rows (table), 1);
    cr_expect (
        strstr (meshq_table_unanswered (table), "played (no answer in time)"),
        "%s", meshq_table_unanswered (table));
    meshq_table_destroy (&table);
    //  It was asked.
    meshq_args_t args;
    zmsg_t *query = peerutil_recv (&s_peer, "QUERY", &args);
    cr_expect (MESHQ_ARGS_HAS (&args, RID));
    zmsg_destroy (&query);
    meshq_client_destroy (&client);
}

Test (mesh_lists, an_answer_adds_the_other_agents_part)
{
    peerutil_agent (&s_node, "a", s_mesh, s_port);
    peerutil_start_with (&s_peer, s_mesh, s_port, 0x60, "QUERY");
    meshq_client_t *client = agentutil_connect (s_node.agent);
    clientutil_wait_peers (client, 1);
    cr_assert_eq (meshq_client_declare_queue (client, "jobs", NULL), 0);
    cr_assert_eq (meshq_client_publish_body (client, "", "jobs", "x", 1), 0);

    //  The request goes out; the played agent answers with its part of
    //  jobs and of a queue only it holds, then the answer comes.
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 999);
    MESHQ_ARGS_SET (&args, MESHWIDE, meshwide, true);
    cr_assert_eq (meshq_client_send (client, "LIST_QUEUES", &args, NULL, 0), 0);
    meshq_args_t query;
    zmsg_t *asked = peerutil_recv (&s_peer, "QUERY", &query);
    meshq_args_t rows[2];
    memset (rows, 0, sizeof rows);
    MESHQ_ARGS_SET (&rows[0], QUEUE, queue, meshq_span ("jobs"));
    MESHQ_ARGS_SET (&rows[0], MESSAGES, messages, 5);
    MESHQ_ARGS_SET (&rows[0], CONSUMERS, consumers, 2);
    MESHQ_ARGS_SET (&rows[0], DURABLE, durable, true);
    MESHQ_ARGS_SET (&rows[1], QUEUE, queue, meshq_span ("theirs"));
    MESHQ_ARGS_SET (&rows[1], MESSAGES, messages, 7);
    meshq_buf_t body;
    meshq_buf_init (&body);
    cr_assert_eq (
        meshq_codec_encode_list (query.rid, "queues", rows, 2, &body, NULL), 0);
    meshq_args_t answer;
    memset (&answer, 0, sizeof answer);
    MESHQ_ARGS_SET (&answer, RID, rid, query.rid);
    peerutil_send (&s_peer, "ANSWER", &answer, body.data, body.size);
    meshq_buf_fini (&body);
    zmsg_destroy (&asked);

    zmsg_t *reply = NULL;
    cr_assert_eq (meshq_client_poll (client, 10000, 999, &reply), 1);
    zmsg_first (reply);
    zframe_t *frame = zmsg_next (reply);
    uint64_t rid;
    meshq_span_t cursor;
    uint32_t count;
    cr_assert_eq (meshq_codec_decode_list (zframe_data (frame),
                                           zframe_size (frame), "queues", &rid,
                                           &cursor, &count, NULL),
                  0);
    cr_expect_eq (count, 2);
    meshq_args_t row;
    int seen = 0;
    while (meshq_codec_list_next (&cursor, &row)) {
        if (row.queue.size == 4) {
            cr_expect_eq (row.messages, 6);
            cr_expect_eq (row.consumers, 2);
            cr_expect_eq (row.agents, 2);
            seen++;
        } else {
            cr_expect_eq (row.messages, 7);
            cr_expect_eq (row.agents, 1);
            seen++;
        }
    }
    cr_expect_eq (seen, 2);
    cr_expect_eq (meshq_codec_decode_list (zframe_data (frame),
                                           zframe_size (frame), "unanswered",
                                           &rid, &cursor, &count, NULL),
                  0);
    cr_expect_eq (count, 0);
    zmsg_destroy (&reply);
    meshq_client_destroy (&client);
}

Test (mesh_lists, an_answer_nobody_asked_for_is_ignored)
{
    peerutil_agent (&s_node, "a", s_mesh, s_port);
    peerutil_start_with (&s_peer, s_mesh, s_port, 0x70, "QUERY");
    meshq_args_t answer;
    memset (&answer, 0, sizeof answer);
    MESHQ_ARGS_SET (&answer, RID, rid, 12345);
    peerutil_send (&s_peer, "ANSWER", &answer, "\x80", 1);
    //  The agent lives on and answers its own lists.
    meshq_client_t *client = agentutil_connect (s_node.agent);
    clientutil_wait_peers (client, 1);
    meshq_table_t *table = NULL;
    cr_expect_eq (meshq_client_list (client, "queues", NULL, 0, &table), 0);
    meshq_table_destroy (&table);
    meshq_client_destroy (&client);
}

Test (mesh_lists, a_gather_holds_at_most_20000_queues)
{
    peerutil_agent (&s_node, "a", s_mesh, s_port);
    peerutil_start_with (&s_peer, s_mesh, s_port, 0x80, "QUERY");
    meshq_client_t *client = agentutil_connect (s_node.agent);
    clientutil_wait_peers (client, 1);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 7);
    MESHQ_ARGS_SET (&args, MESHWIDE, meshwide, true);
    cr_assert_eq (meshq_client_send (client, "LIST_QUEUES", &args, NULL, 0), 0);
    meshq_args_t query;
    zmsg_t *asked = peerutil_recv (&s_peer, "QUERY", &query);
    //  A peer names more queues than a gather holds.
    size_t count = 20001;
    meshq_args_t *rows = calloc (count, sizeof *rows);
    char (*names)[8] = calloc (count, sizeof *names);
    cr_assert (rows && names);
    for (size_t i = 0; i < count; i++) {
        snprintf (names[i], sizeof names[i], "q%zu", i);
        MESHQ_ARGS_SET (&rows[i], QUEUE, queue, meshq_span (names[i]));
        MESHQ_ARGS_SET (&rows[i], MESSAGES, messages, 1);
    }
    meshq_buf_t body;
    meshq_buf_init (&body);
    cr_assert_eq (
        meshq_codec_encode_list (query.rid, "queues", rows, count, &body, NULL),
        0);
    meshq_args_t answer;
    memset (&answer, 0, sizeof answer);
    MESHQ_ARGS_SET (&answer, RID, rid, query.rid);
    peerutil_send (&s_peer, "ANSWER", &answer, body.data, body.size);
    meshq_buf_fini (&body);
    free (rows);
    free (names);
    zmsg_destroy (&asked);

    zmsg_t *reply = NULL;
    cr_assert_eq (meshq_client_poll (client, 10000, 7, &reply), 1);
    zmsg_first (reply);
    zframe_t *frame = zmsg_next (reply);
    uint64_t rid;
    meshq_span_t cursor;
    uint32_t listed;
    cr_assert_eq (meshq_codec_decode_list (zframe_data (frame),
                                           zframe_size (frame), "queues", &rid,
                                           &cursor, &listed, NULL),
                  0);
    cr_expect_eq (listed, 20000);
    cr_assert_eq (meshq_codec_decode_list (zframe_data (frame),
                                           zframe_size (frame), "unanswered",
                                           &rid, &cursor, &listed, NULL),
                  0);
    cr_expect_eq (listed, 1);
    meshq_args_t row;
    cr_assert (meshq_codec_list_next (&cursor, &row));
    cr_expect (memmem (row.why.data, row.why.size, "too many queues", 15));
    zmsg_destroy (&reply);
    meshq_client_destroy (&client);
}

//  The per-agent list as older tools ask for it: the rows of the other
//  agents' parts say durable as the queue is.
Test (mesh_lists, other_agents_rows_say_durable_as_the_queue_is)
{
    agentutil_t other;
    memset (&other, 0, sizeof other);
    peerutil_agent (&s_node, "a", s_mesh, s_port);
    peerutil_agent (&other, "b", s_mesh, s_port);
    meshq_client_t *a = agentutil_connect (s_node.agent);
    meshq_client_t *b = agentutil_connect (other.agent);
    cr_assert_eq (meshq_client_declare_queue (a, "kept", NULL), 0);
    //  A backlog is told only to agents that consume the queue: b's
    //  consumer holds one message (prefetch 1, never acked), the other
    //  waits on a.
    cr_assert_eq (meshq_client_declare_queue (b, "kept", NULL), 0);
    cr_assert_eq (meshq_client_consume (b, "kept", 1, NULL, 0), 0);
    cr_assert_eq (meshq_client_publish_body (a, "", "kept", "x", 1), 0);
    cr_assert_eq (meshq_client_publish_body (a, "", "kept", "y", 1), 0);
    //  b lists a row for a's backlog once a announced it.
    int64_t deadline = zclock_mono () + 10000;
    bool found = false;
    while (!found && zclock_mono () < deadline) {
        zmsg_t *reply;
        meshq_span_t cursor =
            clientutil_list (b, "LIST_QUEUES", "queues", &reply);
        meshq_args_t row;
        while (meshq_codec_list_next (&cursor, &row))
            if (row.name.size && row.messages == 1 &&
                memmem (row.name.data, row.name.size, "a-", 2) ==
                    row.name.data) {
                found = true;
                cr_expect (MESHQ_ARGS_HAS (&row, DURABLE) && row.durable);
            }
        zmsg_destroy (&reply);
        if (!found)
            meshq_client_dispatch (b, 20);
    }
    cr_expect (found, "b never listed a's part of kept");
    meshq_client_destroy (&b);
    meshq_client_destroy (&a);
    agentutil_finish (&other);
}
