/*  test_amqp.c - RabbitMQ's own clients against meshq-agent processes'
    AMQP 0-9-1 port: pika programs (amqp_clients.py) making the calls of
    RabbitMQ's six tutorials, its publisher-confirms tutorial and
    docs/FROM-RABBITMQ.md's tutorial, with the producer on one agent and
    the consumer on another of one mesh; RabbitMQ's error codes; a
    SIGKILL of the agent under a publisher with confirms; the `amqp`
    setting's listener rules. test_amqp_raw.c has rabbitmq-c and raw
    frames.
*/
#include "amqp_suite.h"

// --------------------------------------------------------------------
//  The tutorials, producer on one agent, consumer on another

Test (amqp, from_rabbitmq_tutorial_as_guest)
{
    S_NEED_PIKA ();
    s_two_agents ();
    procutil_prog_t *send = s_pika_ok (0, "tutorial_send", NULL);
    cr_expect (strstr (send->output, " [x] Sent 'Hello World!'"));
    procutil_prog_t *receive = s_pika_ok (1, "tutorial_receive", NULL);
    cr_expect (strstr (receive->output, "Received ['Hello World!']"), "%s",
               receive->output);
}

Test (amqp, from_rabbitmq_tutorial_as_my_user)
{
    S_NEED_PIKA ();
    s_two_agents ();
    s_meshq (NULL, S_ARGS ("add_vhost", "my_vhost"));
    s_meshq ("my_password\n", S_ARGS ("add_user", "my_user"));
    s_meshq (NULL, S_ARGS ("set_permissions", "-p", "my_vhost", "my_user", ".*",
                           ".*", ".*"));
    const char *const *as_me = S_ARGS ("my_user", "my_password", "my_vhost");
    s_pika_ok (0, "tutorial_send", as_me);
    //  The user and vhost reach node 2 by gossip: try until they have.
    int64_t deadline = zclock_mono () + S_DEADLINE;
    procutil_prog_t *receive;
    while (true) {
        receive = s_pika (1, "tutorial_receive", as_me);
        if (procutil_prog_exit_code (receive) == 0)
            break;
        cr_assert_lt (zclock_mono (), deadline, "%s", receive->output);
        zclock_sleep (200);
    }
    cr_expect (strstr (receive->output, "Received ['Hello World!']"), "%s",
               receive->output);
}

Test (amqp, hello_world)
{
    S_NEED_PIKA ();
    s_two_agents ();
    s_pair ("hello_receive", NULL, "hello_send", NULL,
            "received ['Hello World!']");
}

Test (amqp, work_queues_prefetch_one_manual_ack)
{
    S_NEED_PIKA ();
    s_two_agents ();
    procutil_prog_t *worker = s_pika (1, "work_receive", S_ARGS ("20"));
    s_pika_ok (0, "work_send", S_ARGS ("20"));
    cr_assert_eq (procutil_prog_exit_code (worker), 0, "%s", worker->output);
    cr_expect (strstr (worker->output, "received 20"), "%s", worker->output);
}

Test (amqp, publish_subscribe_fanout)
{
    S_NEED_PIKA ();
    s_two_agents ();
    s_pair ("logs_receive", S_ARGS ("fanout"), "logs_send",
            S_ARGS ("fanout", "", "info: hello"), "received ['info: hello']");
}

Test (amqp, routing_direct)
{
    S_NEED_PIKA ();
    s_two_agents ();
    s_pair ("logs_receive", S_ARGS ("direct", "error", "warning"), "logs_send",
            S_ARGS ("direct", "error", "disk full"), "received ['disk full']");
}

Test (amqp, topics)
{
    S_NEED_PIKA ();
    s_two_agents ();
    s_pair ("logs_receive", S_ARGS ("topic", "kern.*", "*.critical"),
            "logs_send", S_ARGS ("topic", "kern.critical", "kernel panic"),
            "received ['kernel panic']");
}

Test (amqp, rpc_reply_to_correlation_id)
{
    S_NEED_PIKA ();
    s_two_agents ();
    procutil_prog_t *server = s_pika (1, "rpc_server", S_ARGS ("3"));
    procutil_prog_expect (server, "ready");
    procutil_prog_t *client = s_pika_ok (0, "rpc_client", S_ARGS ("3"));
    cr_expect (strstr (client->output, "fib(7) = 13"), "%s", client->output);
    cr_assert_eq (procutil_prog_exit_code (server), 0, "%s", server->output);
}

Test (amqp, publisher_confirms)
{
    S_NEED_PIKA ();
    s_two_agents ();
    procutil_prog_t *send = s_pika_ok (0, "confirms_send", S_ARGS ("200"));
    cr_expect (strstr (send->output, "confirmed in batches 100 nacked 0"), "%s",
               send->output);
    //  The queue's messages stay on node 1; node 2's consumer gets them.
    procutil_prog_t *receive =
        s_pika_ok (1, "confirms_receive", S_ARGS ("200"));
    cr_expect (strstr (receive->output, "received 200"), "%s", receive->output);
}

// --------------------------------------------------------------------
//  Errors as RabbitMQ gives them

Test (amqp, errors_close_the_channel_or_the_connection)
{
    S_NEED_PIKA ();
    s_start_agent (0, 0, 0);
    procutil_prog_t *proc = s_pika_ok (0, "errors", NULL);
    cr_expect (strstr (proc->output, "passive 404"), "%s", proc->output);
    cr_expect (strstr (proc->output, "redeclare 406"), "%s", proc->output);
    cr_expect (strstr (proc->output, "unknown tag 406"), "%s", proc->output);
    cr_expect (strstr (proc->output, "tx 540"), "%s", proc->output);
    cr_expect (strstr (proc->output, "exclusive own get b'own' None"), "%s",
               proc->output);
    cr_expect (strstr (proc->output, "exclusive locked 405"), "%s",
               proc->output);
    cr_expect (strstr (proc->output, "exclusive gone"), "%s", proc->output);
    cr_expect (strstr (proc->output, "cancel notified"), "%s", proc->output);
    cr_expect (strstr (proc->output, "returned NO_ROUTE"), "%s", proc->output);
}

Test (amqp, ack_nack_reject_recover)
{
    S_NEED_PIKA ();
    s_start_agent (0, 0, 0);
    procutil_prog_t *proc = s_pika_ok (0, "settle", NULL);
    cr_expect (strstr (proc->output, "again m2 redelivered True"), "%s",
               proc->output);
}

Test (amqp, queue_arguments_and_properties)
{
    S_NEED_PIKA ();
    s_start_agent (0, 0, 0);
    procutil_prog_t *proc = s_pika_ok (0, "arguments", NULL);
    cr_expect (strstr (proc->output, "properties same"), "%s", proc->output);
}

Test (amqp, connection_blocked_at_the_memory_mark)
{
    S_NEED_PIKA ();
    char amqp[64];
    snprintf (amqp, sizeof amqp, "127.0.0.1:%d", s_amqp[0]);
    procutil_node_start (&s_nodes[0], s_dir, s_mesh, "", NULL,
                         (const char *[]){"--no-beacon", "--amqp", amqp,
                                          "--max-memory", "2M", NULL});
    procutil_prog_t *proc = s_pika_ok (0, "blocked", NULL);
    cr_expect (strstr (proc->output, "events ['blocked', 'unblocked']"), "%s",
               proc->output);
}

// --------------------------------------------------------------------
//  A publisher that outruns its consumer is slowed by not being read

//  The agent's VmRSS in kB.
static long
s_rss_kb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    long kb = 0;
    while (fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kb = atol (line + 6);
    fclose (file);
    return kb;
}

//  The messages queue holds on node (ready and unacked), once that
//  stops changing.
static uint64_t
s_settled_depth (int node, const char *queue)
{
    meshq_client_t *client = procutil_client (s_nodes[node].control, 10000);
    uint64_t last = UINT64_MAX, ready = 0, unacked = 0;
    for (int i = 0; i < 100; i++) {
        zclock_sleep (500);
        procutil_depth (client, queue, &ready, &unacked);
        if (ready + unacked == last)
            break;
        last = ready + unacked;
    }
    meshq_client_destroy (&client);
    return last;
}

Test (amqp, a_publisher_that_outruns_its_consumer_is_paused, .timeout = 240)
{
    S_NEED_PIKA ();
    enum { COUNT = 8000 };
    const char *count = "8000", *size = "4000";
    //  Node 0 pauses publishers past 128 KiB behind; node 1 never does.
    char config[2][512], amqp[2][64];
    for (int i = 0; i < 2; i++) {
        snprintf (config[i], sizeof config[i], "%s/flow%d.cfg", s_dir, i);
        FILE *file = fopen (config[i], "w");
        cr_assert_not_null (file);
        fprintf (file, "agent\n    flow_memory = %s\n    flow_time = %s\n",
                 i == 0 ? "131072" : "0", i == 0 ? "10" : "0");
        fclose (file);
        snprintf (amqp[i], sizeof amqp[i], "127.0.0.1:%d", s_amqp[i]);
        procutil_node_start (&s_nodes[i], s_dir, s_mesh, "", NULL,
                             (const char *[]){"--no-beacon", "--amqp", amqp[i],
                                              "--config", config[i], NULL});
    }
    long grown[2];
    uint64_t held[2];
    procutil_prog_t *consumers[2], *publishers[2];
    char go[2][300];
    for (int i = 0; i < 2; i++) {
        snprintf (go[i], sizeof go[i], "%s/go%d", s_dir, i);
        //  A consumer that takes ten and acks none until told.
        consumers[i] =
            s_pika (i, "flow_consume", S_ARGS ("flow", count, go[i]));
        procutil_prog_expect (consumers[i], "ready");
        long before = s_rss_kb (s_nodes[i].pid);
        publishers[i] =
            s_pika (i, "flow_publish", S_ARGS ("flow", count, size));
        held[i] = s_settled_depth (i, "flow");
        grown[i] = s_rss_kb (s_nodes[i].pid) - before;
    }
    cr_log_info ("held %" PRIu64 " messages, rss +%ld kB with flow control; "
                 "%" PRIu64 " messages, rss +%ld kB without",
                 held[0], grown[0], held[1], grown[1]);
    //  Without flow control the agent takes every message, and holds
    //  them; with it, the publisher waits with most of them unsent.
    cr_expect_eq (procutil_prog_exit_code (publishers[1]), 0, "%s",
                  publishers[1]->output);
    cr_expect_eq (held[1], COUNT);
    cr_expect_lt (held[0], COUNT / 4, "the agent took %" PRIu64, held[0]);
    cr_expect_lt (grown[0], grown[1] / 2);
    cr_expect_not (strstr (publishers[0]->output, "published"), "%s",
                   publishers[0]->output);
    //  Paused longer than two of its heartbeats (1 s): it is not closed
    //  for the silence we made.
    zclock_sleep (3000);
    //  Once the consumers ack, every message arrives, once.
    for (int i = 0; i < 2; i++) {
        FILE *flag = fopen (go[i], "w");
        cr_assert_not_null (flag);
        fclose (flag);
    }
    cr_expect_eq (procutil_prog_exit_code (publishers[0]), 0, "%s",
                  publishers[0]->output);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq (procutil_prog_exit_code (consumers[i]), 0, "%s",
                      consumers[i]->output);
        cr_expect (strstr (consumers[i]->output,
                           "received 8000 of 8000 twice 0 redelivered 0"),
                   "%s", consumers[i]->output);
    }
}

//  LIST_CONNECTIONS names each session's protocol: AMQP's are "amqp".
Test (amqp, list_connections_shows_amqp_sessions)
{
    s_start_agent (0, 0, 0);
    amqp_connection_state_t conn = amqp_new_connection ();
    amqp_socket_t *socket = amqp_tcp_socket_new (conn);
    cr_assert_eq (amqp_socket_open (socket, "127.0.0.1", s_amqp[0]), 0);
    s_check_reply (amqp_login (conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                               "guest", "guest"),
                   "login");
    amqp_channel_open (conn, 1);
    s_check_reply (amqp_get_rpc_reply (conn), "channel.open");
    procutil_prog_t *proc =
        s_spawn (S_ARGS (S_TOOL, "--agent", s_nodes[0].control,
                         "list_connections", "user", "vhost", "protocol"),
                 NULL);
    cr_assert_eq (procutil_prog_exit_code (proc), 0, "%s", proc->output);
    //  The channel's session and its connection's, and the tool's own
    //  (with, at times, the one that saw the agent start, still closing).
    cr_expect_eq (procutil_prog_count (proc, "guest\t/\tamqp\n"), 2, "%s",
                  proc->output);
    cr_expect_geq (procutil_prog_count (proc, "guest\t/\tmeshq\n"), 1, "%s",
                   proc->output);
    amqp_connection_close (conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection (conn);
}

// --------------------------------------------------------------------
//  A SIGKILL under a publisher with confirms: every confirmed message
//  is there after the restart

Test (amqp, confirmed_messages_survive_sigkill)
{
    S_NEED_PIKA ();
    s_start_agent (0, 0, 0);
    procutil_prog_t *publisher =
        s_pika (0, "confirmed_publisher", S_ARGS ("1000000"));
    procutil_prog_expect (publisher, "confirmed s300\n");
    procutil_kill (s_nodes[0].pid, SIGKILL);
    s_nodes[0].pid = 0;
    procutil_prog_exit_code (publisher);
    //  What it was told is confirmed: every "confirmed sN" line.
    char *confirmed = strdup (publisher->output);
    s_start_agent (0, 0, 0);
    procutil_prog_t *drain = s_pika_ok (0, "drain", S_ARGS ("survivors"));
    int count = 0;
    char *saveptr = NULL;
    for (char *line = strtok_r (confirmed, "\n", &saveptr); line;
         line = strtok_r (NULL, "\n", &saveptr)) {
        if (strncmp (line, "confirmed ", 10))
            continue;
        char want[64];
        snprintf (want, sizeof want, "got %s\n", line + 10);
        cr_expect (strstr (drain->output, want), "%s confirmed, not found",
                   line + 10);
        count++;
    }
    cr_expect_geq (count, 300);
    free (confirmed);
}

//  One engine: what an AMQP client publishes, a native client consumes,
//  and the other way round.
Test (amqp, amqp_and_native_clients_share_queues)
{
    S_NEED_PIKA ();
    s_start_agent (0, 0, 0);
    s_pika_ok (0, "tutorial_send", NULL);
    const char *argv[] = {S_TOOL,    "--agent",  s_nodes[0].control,
                          "consume", "my_queue", "--count",
                          "1",       NULL};
    procutil_prog_t *consume = s_spawn (argv, NULL);
    cr_assert_eq (procutil_prog_exit_code (consume), 0, "%s", consume->output);
    cr_expect (strstr (consume->output, "Hello World!"), "%s", consume->output);
    s_meshq (NULL,
             S_ARGS ("publish", "--routing-key", "my_queue", "Hello World!"));
    procutil_prog_t *receive = s_pika_ok (0, "tutorial_receive", NULL);
    cr_expect (strstr (receive->output, "Received ['Hello World!']"), "%s",
               receive->output);
}

// --------------------------------------------------------------------
//  The `amqp` setting

//  Takes a loopback port (or the one asked): a listening socket.
static int
s_hold_port (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons ((uint16_t)port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (bind (fd, (struct sockaddr *)&address, sizeof address) ||
        listen (fd, 1)) {
        close (fd);
        return -1;
    }
    return fd;
}

Test (amqp, explicit_port_in_use_exits_69)
{
    int fd = s_hold_port (s_amqp[0]);
    cr_assert_geq (fd, 0);
    char agent[1024], data[300], amqp[64];
    snprintf (agent, sizeof agent, "%s/agents/meshq-agent", MESHQ_BINARY_DIR);
    snprintf (data, sizeof data, "%s/x", s_dir);
    snprintf (amqp, sizeof amqp, "127.0.0.1:%d", s_amqp[0]);
    procutil_prog_t *proc =
        s_spawn (S_ARGS (agent, "--name", "x", "--data", data, "--standalone",
                         "--control", s_nodes[0].control, "--amqp", amqp),
                 NULL);
    cr_expect_eq (procutil_prog_exit_code (proc), 69, "%s", proc->output);
    cr_expect (strstr (proc->output, "amqp: cannot listen on"), "%s",
               proc->output);
    close (fd);
}

Test (amqp, default_port_taken_runs_without_amqp)
{
    //  Taken by us, or by another process: the agent runs either way.
    int fd = s_hold_port (5672);
    procutil_node_start (&s_nodes[0], s_dir, s_mesh, "", NULL,
                         (const char *[]){"--no-beacon", NULL});
    char log[4096] = "";
    FILE *file = fopen (s_nodes[0].log, "r");
    cr_assert_not_null (file);
    size_t got = fread (log, 1, sizeof log - 1, file);
    log[got] = 0;
    fclose (file);
    if (fd >= 0)
        cr_expect (strstr (log, "amqp: port in use endpoint=127.0.0.1:5672"),
                   "%s", log);
    if (fd >= 0)
        close (fd);
}

Test (amqp, port_zero_picks_a_free_one_shown_in_status)
{
    procutil_node_start (
        &s_nodes[0], s_dir, s_mesh, "", NULL,
        (const char *[]){"--no-beacon", "--amqp", "127.0.0.1:0", NULL});
    procutil_prog_t *proc = s_spawn (
        S_ARGS (S_TOOL, "--agent", s_nodes[0].control, "status", "--json"),
        NULL);
    cr_assert_eq (procutil_prog_exit_code (proc), 0, "%s", proc->output);
    const char *at = strstr (proc->output, "\"amqp\":\"127.0.0.1:");
    cr_assert_not_null (at, "%s", proc->output);
    int port = atoi (at + strlen ("\"amqp\":\"127.0.0.1:"));
    cr_expect_gt (port, 0);
    //  A client gets in there.
    amqp_connection_state_t conn = amqp_new_connection ();
    amqp_socket_t *socket = amqp_tcp_socket_new (conn);
    cr_assert_eq (amqp_socket_open (socket, "127.0.0.1", port), 0);
    s_check_reply (amqp_login (conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                               "guest", "guest"),
                   "login");
    amqp_connection_close (conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection (conn);
}
