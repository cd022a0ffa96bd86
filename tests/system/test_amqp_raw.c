/*  test_amqp_raw.c - the AMQP port from below: a rabbitmq-c client in
    C, and raw frames: the AMQP fuzz corpus over a live agent, heartbeats,
    the protocol header, frame_max, a consumer that never reads.
*/
#include "amqp_suite.h"

// --------------------------------------------------------------------
//  A rabbitmq-c client

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

//  Connections that end together are freed once each: the agent's
//  reaper once freed the second of two dead connections twice.
Test (amqp, connections_that_end_together)
{
    s_start_agent (0, 0, 0);
    for (int round = 0; round < 5; round++) {
        int fds[8];
        for (int i = 0; i < 8; i++) {
            fds[i] = socket (AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in address = {
                .sin_family = AF_INET, .sin_port = htons ((uint16_t)s_amqp[0])};
            address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
            cr_assert_eq (
                connect (fds[i], (struct sockaddr *)&address, sizeof address),
                0);
            s_send_all (fds[i], MESHQ_AMQP_PROTOCOL_HEADER,
                        MESHQ_AMQP_PROTOCOL_HEADER_SIZE);
            meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
            size_t used;
            meshq_amqp_event_t event;
            meshq_amqp_parser_parse (
                parser, (const uint8_t *)MESHQ_AMQP_PROTOCOL_HEADER,
                MESHQ_AMQP_PROTOCOL_HEADER_SIZE, &used, &event);
            cr_assert (
                s_await_method (fds[i], parser, AMQP_CONNECTION_START_METHOD));
            meshq_amqp_parser_destroy (&parser);
        }
        //  All go at once: the agent sees them end in one turn.
        for (int i = 0; i < 8; i++)
            close (fds[i]);
        zclock_sleep (200);
    }
    //  Still up, and serving.
    cr_assert_eq (waitpid (s_nodes[0].pid, NULL, WNOHANG), 0);
    close (s_handshake (s_amqp[0], 0));
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

//  Sends Start-Ok with mechanism and response; returns the socket and
//  leaves parser after the protocol header.
static int
s_start_ok (int port, const char *mechanism, const void *response, size_t size,
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
                                           amqp_cstring_bytes (mechanism),
                                           {size, (void *)response},
                                           amqp_cstring_bytes ("en_US")};
    amqputil_method (&stream, 0, AMQP_CONNECTION_START_OK_METHOD, &start_ok);
    s_send_all (fd, out, stream.size);
    size_t used;
    meshq_amqp_event_t event;
    meshq_amqp_parser_parse (parser,
                             (const uint8_t *)MESHQ_AMQP_PROTOCOL_HEADER,
                             MESHQ_AMQP_PROTOCOL_HEADER_SIZE, &used, &event);
    return fd;
}

Test (amqp, amqplain_login_and_refusals)
{
    s_start_agent (0, 0, 0);
    //  AMQPLAIN: a field table, without its size, of LOGIN and PASSWORD.
    static const uint8_t good[] = "\x05LOGINS\x00\x00\x00\x05guest"
                                  "\x08PASSWORDS\x00\x00\x00\x05guest";
    static const uint8_t bad[] = "\x05LOGINS\x00\x00\x00\x05guest"
                                 "\x08PASSWORDS\x00\x00\x00\x05wrong";
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    int fd = s_start_ok (s_amqp[0], "AMQPLAIN", good, sizeof good - 1, parser);
    cr_expect (s_await_method (fd, parser, AMQP_CONNECTION_TUNE_METHOD));
    close (fd);
    meshq_amqp_parser_destroy (&parser);
    //  A wrong password: Connection.Close 403.
    parser = meshq_amqp_parser_new ();
    fd = s_start_ok (s_amqp[0], "AMQPLAIN", bad, sizeof bad - 1, parser);
    cr_expect (s_await_method (fd, parser, AMQP_CONNECTION_CLOSE_METHOD));
    close (fd);
    meshq_amqp_parser_destroy (&parser);
    //  An unknown mechanism: refused too.
    parser = meshq_amqp_parser_new ();
    fd = s_start_ok (s_amqp[0], "EXTERNAL", "", 0, parser);
    cr_expect (s_await_method (fd, parser, AMQP_CONNECTION_CLOSE_METHOD));
    close (fd);
    meshq_amqp_parser_destroy (&parser);
}

//  Large messages begun on many channels: what they may take is
//  bounded, and the connection is closed with 506 past it.
Test (amqp, messages_being_received_are_bounded)
{
    s_start_agent (0, 0, 0);
    int fd = s_handshake (s_amqp[0], 0);
    static uint8_t out[65536];
    amqputil_out_t stream = {out, 0, sizeof out};
    amqp_basic_properties_t props;
    memset (&props, 0, sizeof props);
    for (uint16_t channel = 1; channel <= 20; channel++) {
        amqp_channel_open_t open = {amqp_empty_bytes};
        amqputil_method (&stream, channel, AMQP_CHANNEL_OPEN_METHOD, &open);
        amqp_basic_publish_t publish = {0, amqp_empty_bytes,
                                        amqp_cstring_bytes ("q"), 0, 0};
        amqputil_method (&stream, channel, AMQP_BASIC_PUBLISH_METHOD, &publish);
        //  A header for 10 MB, and no body yet.
        ssize_t rc = meshq_amqp_encode_header (
            stream.data + stream.size, stream.cap - stream.size,
            MESHQ_AMQP_FRAME_MAX, channel, 10000000, &props);
        cr_assert_gt (rc, 0);
        stream.size += (size_t)rc;
    }
    s_send_all (fd, out, stream.size);
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    size_t used;
    meshq_amqp_event_t event;
    meshq_amqp_parser_parse (parser,
                             (const uint8_t *)MESHQ_AMQP_PROTOCOL_HEADER,
                             MESHQ_AMQP_PROTOCOL_HEADER_SIZE, &used, &event);
    cr_expect (s_await_method (fd, parser, AMQP_CONNECTION_CLOSE_METHOD));
    meshq_amqp_parser_destroy (&parser);
    close (fd);
}
