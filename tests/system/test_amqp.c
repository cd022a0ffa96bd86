/*  test_amqp.c - RabbitMQ's own clients against meshq-agent processes'
    AMQP 0-9-1 port: pika programs (amqp_clients.py) making the calls of
    RabbitMQ's six tutorials, its publisher-confirms tutorial and
    docs/FROM-RABBITMQ.md's tutorial, with the producer on one agent and
    the consumer on another of one mesh; a rabbitmq-c client in C; a
    SIGKILL of the agent under a publisher with confirms; and the `amqp`
    setting's listener rules.

    Whatever a test starts is killed, and its directory removed, in the
    suite's fini.
*/
#include "amqputil.h"
#include "procutil.h"
#include "testutil.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <dirent.h>

#define S_NODES     3
#define S_MAX_PROCS 64
#define S_DEADLINE  30000  //  ms for any one program
#define S_TOOL      MESHQ_BINARY_DIR "/tools/meshq"
#define S_PYTHON    "/usr/bin/python3"

static char s_dir[256];                        //  Temporary directory.
static char s_mesh[64];                        //  This run's own mesh name.
static procutil_node_t s_nodes[S_NODES];       //  The agents.
static int s_amqp[S_NODES];                    //  Their AMQP ports.
static procutil_prog_t *s_procs[S_MAX_PROCS];  //  Programs started.
static int s_nprocs;

static void
s_setup (void)
{
    procutil_mesh_dir ("amqp", s_dir, sizeof s_dir, s_mesh, sizeof s_mesh);
    for (int i = 0; i < S_NODES; i++) {
        procutil_node_init (&s_nodes[i], s_dir, i, testutil_free_port ());
        s_amqp[i] = testutil_free_port ();
        cr_assert_gt (s_nodes[i].port, 0);
        cr_assert_gt (s_amqp[i], 0);
    }
}

static void
s_teardown (void)
{
    for (int i = 0; i < s_nprocs; i++)
        procutil_prog_destroy (&s_procs[i]);
    s_nprocs = 0;
    for (int i = 0; i < S_NODES; i++)
        if (s_nodes[i].pid)
            procutil_kill (s_nodes[i].pid, SIGTERM);
    if (getenv ("MESHQ_TEST_LOGS")) {
        char command[512];
        snprintf (command, sizeof command, "tail -n 40 %s/n*.log >&2", s_dir);
        cr_expect_eq (system (command), 0);
    }
    char command[512];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    cr_expect_eq (system (command), 0);
}

TestSuite (amqp, .init = s_setup, .fini = s_teardown, .timeout = 120);

//  True if pika can be imported (the Makefile installs python3-pika).
static bool
s_have_pika (void)
{
    return system (S_PYTHON " -c 'import pika' 2>/dev/null") == 0;
}

#define S_NEED_PIKA()                                                          \
    do {                                                                       \
        if (!s_have_pika ())                                                   \
            cr_skip_test ("python3-pika is not installed (make deps)");        \
    } while (0)

// --------------------------------------------------------------------
//  Agents and programs

//  Starts agent i in this run's mesh, seeded with the others in
//  [first, last], its AMQP port its own.
static void
s_start_agent (int i, int first, int last)
{
    char seeds[512] = "";
    for (int j = first; j <= last; j++)
        if (j != i)
            snprintf (seeds + strlen (seeds), sizeof seeds - strlen (seeds),
                      "%stcp://127.0.0.1:%d", *seeds ? "," : "",
                      s_nodes[j].port);
    char amqp[64];
    snprintf (amqp, sizeof amqp, "127.0.0.1:%d", s_amqp[i]);
    procutil_node_start (&s_nodes[i], s_dir, s_mesh, seeds, NULL,
                         (const char *[]){"--no-beacon", "--amqp", amqp, NULL});
}

static procutil_prog_t *
s_spawn (const char *const *argv, const char *input)
{
    cr_assert_lt (s_nprocs, S_MAX_PROCS);
    procutil_prog_t *proc = procutil_prog_new (argv, input, S_DEADLINE);
    s_procs[s_nprocs++] = proc;
    return proc;
}

//  Starts amqp_clients.py PROGRAM against node's AMQP port, with args.
static procutil_prog_t *
s_pika (int node, const char *program, const char *const *args)
{
    char script[1024], port[16];
    snprintf (script, sizeof script, "%s/system/amqp_clients.py",
              MESHQ_TEST_SOURCE_DIR);
    snprintf (port, sizeof port, "%d", s_amqp[node]);
    const char *argv[24] = {S_PYTHON, script, program, port};
    int argc = 4;
    for (int i = 0; args && args[i]; i++) {
        cr_assert_lt (argc, 23);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    return s_spawn (argv, NULL);
}

#define S_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

//  Runs a pika program to its end and expects it to succeed.
static procutil_prog_t *
s_pika_ok (int node, const char *program, const char *const *args)
{
    procutil_prog_t *proc = s_pika (node, program, args);
    int code = procutil_prog_exit_code (proc);
    cr_assert_eq (code, 0, "%s exited %d:\n%s", proc->name, code, proc->output);
    return proc;
}

//  Runs meshq on node 0 with args; expects exit code 0.
static void
s_meshq (const char *input, const char *const *args)
{
    const char *argv[32] = {S_TOOL, "--agent", s_nodes[0].control};
    int argc = 3;
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    procutil_prog_t *proc = s_spawn (argv, input);
    int code = procutil_prog_exit_code (proc);
    cr_assert_eq (code, 0, "%s exited %d:\n%s", proc->name, code, proc->output);
}

//  Starts nodes 0 and 1 seeded with each other.
static void
s_two_agents (void)
{
    s_start_agent (0, 0, 1);
    s_start_agent (1, 0, 1);
}

//  A consumer on node 1 that says "ready", then the producer on node 0.
static void
s_pair (const char *receiver, const char *const *receiver_args,
        const char *sender, const char *const *sender_args,
        const char *received)
{
    procutil_prog_t *consumer = s_pika (1, receiver, receiver_args);
    procutil_prog_expect (consumer, "ready");
    s_pika_ok (0, sender, sender_args);
    procutil_prog_expect (consumer, received);
    cr_assert_eq (procutil_prog_exit_code (consumer), 0, "%s",
                  consumer->output);
}

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

// --------------------------------------------------------------------
//  A rabbitmq-c client

static void
s_check_reply (amqp_rpc_reply_t reply, const char *what)
{
    cr_assert_eq (reply.reply_type, AMQP_RESPONSE_NORMAL, "%s failed (%d)",
                  what, reply.reply_type);
}

Test (amqp, rabbitmq_c_client)
{
    s_start_agent (0, 0, 0);
    amqp_connection_state_t conn = amqp_new_connection ();
    amqp_socket_t *socket = amqp_tcp_socket_new (conn);
    cr_assert_not_null (socket);
    cr_assert_eq (amqp_socket_open (socket, "127.0.0.1", s_amqp[0]), 0);
    s_check_reply (amqp_login (conn, "/", 0, 131072, 10, AMQP_SASL_METHOD_PLAIN,
                               "guest", "guest"),
                   "login");
    amqp_channel_open (conn, 1);
    s_check_reply (amqp_get_rpc_reply (conn), "channel.open");
    amqp_confirm_select (conn, 1);
    s_check_reply (amqp_get_rpc_reply (conn), "confirm.select");
    amqp_queue_declare_ok_t *declared = amqp_queue_declare (
        conn, 1, amqp_cstring_bytes ("c_queue"), 0, 1, 0, 0, amqp_empty_table);
    s_check_reply (amqp_get_rpc_reply (conn), "queue.declare");
    cr_assert_not_null (declared);
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.delivery_mode = 2;
    props.content_type = amqp_cstring_bytes ("text/plain");
    for (int i = 0; i < 10; i++) {
        char body[32];
        snprintf (body, sizeof body, "c message %d", i);
        cr_assert_eq (amqp_basic_publish (conn, 1, amqp_empty_bytes,
                                          amqp_cstring_bytes ("c_queue"), 0, 0,
                                          &props, amqp_cstring_bytes (body)),
                      0);
    }
    //  The confirms: Basic.Ack up to 10, as one or several.
    uint64_t acked = 0;
    while (acked < 10) {
        amqp_frame_t frame;
        struct timeval timeout = {10, 0};
        cr_assert_eq (amqp_simple_wait_frame_noblock (conn, &frame, &timeout),
                      AMQP_STATUS_OK);
        cr_assert_eq (frame.payload.method.id, AMQP_BASIC_ACK_METHOD);
        amqp_basic_ack_t *ack = frame.payload.method.decoded;
        acked = ack->delivery_tag;
    }
    amqp_basic_qos (conn, 1, 0, 5, 0);
    s_check_reply (amqp_get_rpc_reply (conn), "basic.qos");
    amqp_basic_consume (conn, 1, amqp_cstring_bytes ("c_queue"),
                        amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    s_check_reply (amqp_get_rpc_reply (conn), "basic.consume");
    for (int i = 0; i < 10; i++) {
        amqp_envelope_t envelope;
        struct timeval timeout = {10, 0};
        amqp_maybe_release_buffers (conn);
        s_check_reply (amqp_consume_message (conn, &envelope, &timeout, 0),
                       "consume");
        char want[32];
        snprintf (want, sizeof want, "c message %d", i);
        cr_expect_eq (envelope.message.body.len, strlen (want));
        cr_expect (memcmp (envelope.message.body.bytes, want, strlen (want)) ==
                   0);
        cr_expect_eq (envelope.message.properties.delivery_mode, 2);
        cr_expect_eq (envelope.routing_key.len, strlen ("c_queue"));
        cr_expect_eq (amqp_basic_ack (conn, 1, envelope.delivery_tag, 0), 0);
        amqp_destroy_envelope (&envelope);
    }
    amqp_queue_delete_ok_t *deleted =
        amqp_queue_delete (conn, 1, amqp_cstring_bytes ("c_queue"), 0, 0);
    s_check_reply (amqp_get_rpc_reply (conn), "queue.delete");
    cr_expect_not_null (deleted);
    s_check_reply (amqp_channel_close (conn, 1, AMQP_REPLY_SUCCESS),
                   "channel.close");
    s_check_reply (amqp_connection_close (conn, AMQP_REPLY_SUCCESS),
                   "connection.close");
    amqp_destroy_connection (conn);
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

// --------------------------------------------------------------------
//  Hostile input over a live agent: the AMQP fuzz corpus, after a real
//  handshake, and the agent still serves

//  Reads from fd until the parser (server side) yields method id, or
//  the connection ends. Returns true if it came.
static bool
s_await_method (int fd, meshq_amqp_parser_t *parser, amqp_method_number_t id)
{
    int64_t deadline = zclock_mono () + 10000;
    uint8_t buf[65536];
    while (zclock_mono () < deadline) {
        struct pollfd item = {.fd = fd, .events = POLLIN};
        if (poll (&item, 1, 100) <= 0)
            continue;
        ssize_t got = recv (fd, buf, sizeof buf, 0);
        if (got <= 0)
            return false;
        size_t off = 0;
        while (off < (size_t)got) {
            size_t used;
            meshq_amqp_event_t event;
            meshq_amqp_parser_parse (parser, buf + off, (size_t)got - off,
                                     &used, &event);
            off += used;
            if (event.type == MESHQ_AMQP_MORE)
                break;
            if (event.type == MESHQ_AMQP_ERROR)
                return false;
            if (event.type == MESHQ_AMQP_METHOD && event.method.id == id)
                return true;
        }
    }
    return false;
}

static void
s_send_all (int fd, const void *data, size_t size)
{
    const uint8_t *at = data;
    while (size) {
        ssize_t rc = send (fd, at, size, MSG_NOSIGNAL);
        if (rc <= 0)
            return;  //  The agent closed it: what it was meant to do.
        at += rc;
        size -= (size_t)rc;
    }
}

//  Connects to port and logs in as guest with heartbeat (seconds);
//  returns the socket, open.
static int s_login (int port, uint32_t frame_max, uint16_t heartbeat,
                    meshq_amqp_parser_t *parser);

static int
s_handshake (int port, uint16_t heartbeat)
{
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    int fd = s_login (port, MESHQ_AMQP_FRAME_MAX, heartbeat, parser);
    cr_assert (s_await_method (fd, parser, AMQP_CONNECTION_OPEN_OK_METHOD));
    meshq_amqp_parser_destroy (&parser);
    return fd;
}

//  Connects, logs in as guest, and sends Tune-Ok (frame_max, heartbeat)
//  and Open; parser reads what the agent sends.
static int
s_login (int port, uint32_t frame_max, uint16_t heartbeat,
         meshq_amqp_parser_t *parser)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons ((uint16_t)port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    cr_assert_eq (connect (fd, (struct sockaddr *)&address, sizeof address), 0);
    uint8_t out[4096];
    amqputil_out_t stream = {out, 0, sizeof out};
    amqputil_protocol (&stream);
    amqp_table_entry_t entries[2], caps[2];
    amqp_connection_start_ok_t start_ok = {amqputil_properties (entries, caps),
                                           amqp_cstring_bytes ("PLAIN"),
                                           {12, "\0guest\0guest"},
                                           amqp_cstring_bytes ("en_US")};
    amqputil_method (&stream, 0, AMQP_CONNECTION_START_OK_METHOD, &start_ok);
    s_send_all (fd, out, stream.size);
    size_t used;
    meshq_amqp_event_t event;
    meshq_amqp_parser_parse (parser,
                             (const uint8_t *)MESHQ_AMQP_PROTOCOL_HEADER,
                             MESHQ_AMQP_PROTOCOL_HEADER_SIZE, &used, &event);
    cr_assert (s_await_method (fd, parser, AMQP_CONNECTION_TUNE_METHOD));
    stream.size = 0;
    amqp_connection_tune_ok_t tune_ok = {2047, frame_max, heartbeat};
    amqputil_method (&stream, 0, AMQP_CONNECTION_TUNE_OK_METHOD, &tune_ok);
    amqp_connection_open_t open = {amqp_cstring_bytes ("/"),
                                   amqp_cstring_bytes (""), 0};
    amqputil_method (&stream, 0, AMQP_CONNECTION_OPEN_METHOD, &open);
    s_send_all (fd, out, stream.size);
    return fd;
}

//  Logs in as guest, then sends the corpus stream from its first frame
//  after its own Connection.Open, and reads until the agent closes.
static void
s_replay (int port, const uint8_t *data, size_t size)
{
    int fd = s_handshake (port, 0);
    size_t used;
    meshq_amqp_event_t event;
    //  Where the stream's frames start after its own handshake.
    meshq_amqp_parser_t *reader = meshq_amqp_parser_new ();
    size_t off = 0, start = size < 8 ? 0 : 8;
    while (off < size) {
        meshq_amqp_parser_parse (reader, data + off, size - off, &used, &event);
        off += used;
        if (event.type == MESHQ_AMQP_MORE || event.type == MESHQ_AMQP_ERROR ||
            event.type == MESHQ_AMQP_PROTOCOL_BAD)
            break;
        if (event.type == MESHQ_AMQP_METHOD &&
            (event.method.id == AMQP_CONNECTION_START_OK_METHOD ||
             event.method.id == AMQP_CONNECTION_TUNE_OK_METHOD ||
             event.method.id == AMQP_CONNECTION_OPEN_METHOD))
            start = off;
    }
    meshq_amqp_parser_destroy (&reader);
    s_send_all (fd, data + start, size - start);
    shutdown (fd, SHUT_WR);
    //  The agent ends the connection: an error, the stream's close, or
    //  its end.
    int64_t deadline = zclock_mono () + 10000;
    uint8_t sink[65536];
    while (zclock_mono () < deadline) {
        struct pollfd item = {.fd = fd, .events = POLLIN};
        if (poll (&item, 1, 100) <= 0)
            continue;
        if (recv (fd, sink, sizeof sink, 0) <= 0)
            break;
    }
    cr_expect_lt (zclock_mono (), deadline, "the agent kept the connection");
    close (fd);
}

Test (amqp, fuzz_corpus_over_a_live_agent)
{
    s_start_agent (0, 0, 0);
    char path[1024];
    snprintf (path, sizeof path, "%s/fuzz/corpus/amqp", MESHQ_TEST_SOURCE_DIR);
    DIR *dir = opendir (path);
    cr_assert_not_null (dir);
    int files = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (entry->d_name[0] == '.')
            continue;
        char file[1400];
        snprintf (file, sizeof file, "%s/%s", path, entry->d_name);
        FILE *in = fopen (file, "rb");
        cr_assert_not_null (in);
        static uint8_t data[1 << 20];
        size_t size = fread (data, 1, sizeof data, in);
        fclose (in);
        s_replay (s_amqp[0], data, size);
        files++;
    }
    closedir (dir);
    cr_expect_gt (files, 50);
    //  Still up, and serving.
    cr_assert_eq (waitpid (s_nodes[0].pid, NULL, WNOHANG), 0);
    amqp_connection_state_t conn = amqp_new_connection ();
    amqp_socket_t *socket = amqp_tcp_socket_new (conn);
    cr_assert_eq (amqp_socket_open (socket, "127.0.0.1", s_amqp[0]), 0);
    s_check_reply (amqp_login (conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                               "guest", "guest"),
                   "login after the corpus");
    amqp_connection_close (conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection (conn);
}

Test (amqp, heartbeats_sent_when_idle_and_silence_closes)
{
    s_start_agent (0, 0, 0);
    int fd = s_handshake (s_amqp[0], 1);
    //  We say nothing: the agent sends heartbeats every half second,
    //  and closes after two silent seconds.
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    size_t used;
    meshq_amqp_event_t event;
    meshq_amqp_parser_parse (parser,
                             (const uint8_t *)MESHQ_AMQP_PROTOCOL_HEADER,
                             MESHQ_AMQP_PROTOCOL_HEADER_SIZE, &used, &event);
    int heartbeats = 0;
    bool closed = false;
    int64_t deadline = zclock_mono () + 10000;
    uint8_t buf[4096];
    while (!closed && zclock_mono () < deadline) {
        struct pollfd item = {.fd = fd, .events = POLLIN};
        if (poll (&item, 1, 100) <= 0)
            continue;
        ssize_t got = recv (fd, buf, sizeof buf, 0);
        closed = got <= 0;
        for (size_t off = 0; !closed && off < (size_t)got;) {
            meshq_amqp_parser_parse (parser, buf + off, (size_t)got - off,
                                     &used, &event);
            off += used;
            if (event.type == MESHQ_AMQP_MORE)
                break;
            heartbeats += event.type == MESHQ_AMQP_HEARTBEAT;
        }
    }
    meshq_amqp_parser_destroy (&parser);
    close (fd);
    cr_expect_geq (heartbeats, 1);
    cr_expect (closed, "the agent kept a silent connection");
}

//  A consumer that never reads: what waits for it is bounded (its
//  connection closes past it), and its deliveries go back to the queue.
Test (amqp, a_client_that_does_not_read_loses_nothing)
{
    S_NEED_PIKA ();
    s_start_agent (0, 0, 0);
    s_pika_ok (0, "bulk_send", S_ARGS ("big", "60", "1000000"));
    int fd = s_handshake (s_amqp[0], 0);
    uint8_t out[4096];
    amqputil_out_t stream = {out, 0, sizeof out};
    amqp_channel_open_t open = {amqp_empty_bytes};
    amqputil_method (&stream, 1, AMQP_CHANNEL_OPEN_METHOD, &open);
    amqp_basic_consume_t consume = {0,
                                    amqp_cstring_bytes ("big"),
                                    amqp_cstring_bytes ("sleeper"),
                                    0,
                                    0,
                                    0,
                                    0,
                                    amqp_empty_table};
    amqputil_method (&stream, 1, AMQP_BASIC_CONSUME_METHOD, &consume);
    int size = 4096;  //  A small socket buffer: the agent's fills soon.
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    s_send_all (fd, out, stream.size);
    //  It never reads. The agent gives up on it, and the 60 messages
    //  are there for another consumer.
    int64_t deadline = zclock_mono () + S_DEADLINE;
    while (true) {
        procutil_prog_t *drain = s_pika_ok (0, "drain", S_ARGS ("big"));
        if (strstr (drain->output, "drained 60\n"))
            break;
        cr_assert_lt (zclock_mono (), deadline, "%s", drain->output);
        zclock_sleep (500);
    }
    close (fd);
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

Test (amqp, protocol_header_and_frame_max_enforced)
{
    s_start_agent (0, 0, 0);
    //  Another protocol: the agent answers with its header and closes.
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons ((uint16_t)s_amqp[0])};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    cr_assert_eq (connect (fd, (struct sockaddr *)&address, sizeof address), 0);
    s_send_all (fd, "GET / HTTP/1.1\r\n\r\n", 18);
    char header[16] = "";
    size_t got = 0;
    int64_t deadline = zclock_mono () + 10000;
    while (zclock_mono () < deadline) {
        struct pollfd item = {.fd = fd, .events = POLLIN};
        if (poll (&item, 1, 100) <= 0)
            continue;
        ssize_t rc = recv (fd, header + got, sizeof header - got, 0);
        if (rc <= 0)
            break;
        got += (size_t)rc;
    }
    close (fd);
    cr_expect_eq (got, 8);
    cr_expect (memcmp (header, MESHQ_AMQP_PROTOCOL_HEADER, 8) == 0);
    //  A frame_max above what Tune offered: Connection.Close 530.
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    fd = s_login (s_amqp[0], 2 * MESHQ_AMQP_FRAME_MAX, 0, parser);
    cr_expect (s_await_method (fd, parser, AMQP_CONNECTION_CLOSE_METHOD));
    meshq_amqp_parser_destroy (&parser);
    close (fd);
}
