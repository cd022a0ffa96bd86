/*  amqp_session_seeds.c - writes the seed corpus of fuzz_amqp_session:
    what a client sends after the protocol header in realistic sessions
    (logins, declarations, publishes with confirms, consumers, acks) and
    in the errors a client can make. Usage: amqp_session_seeds DIR. The
    files in corpus/amqp_session come from it (with the regressions
    fuzzing found); run it again when the sessions change.

    A heartbeat frame is where the client waits for the agent's answers
    (fuzz_amqp_session.c): acks come after one.
*/
#include "amqp_wire.h"
#include "amqputil.h"

#include <stdio.h>
#include <stdlib.h>

#define S_CAP (1u << 18)

static const char *s_dir;
static int s_failed;

static void
s_write (const char *name, const amqputil_out_t *out)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "wb");
    if (!file || fwrite (out->data, 1, out->size, file) != out->size) {
        fprintf (stderr, "amqp_session_seeds: cannot write %s\n", path);
        s_failed = 1;
    }
    if (file && fclose (file))
        s_failed = 1;
}

static void
s_bytes (amqputil_out_t *out, const void *data, size_t size)
{
    assert (out->size + size <= out->cap);
    memcpy (out->data + out->size, data, size);
    out->size += size;
}

static void
s_heartbeat (amqputil_out_t *out)
{
    s_bytes (out, "\x08\x00\x00\x00\x00\x00\x00\xce", 8);
}

//  Start-Ok with PLAIN or AMQPLAIN.
static void
s_start_ok (amqputil_out_t *out, const char *mechanism, const char *user,
            const char *password)
{
    amqp_table_entry_t entries[2], caps[2];
    char response[256];
    size_t size;
    if (strcmp (mechanism, "AMQPLAIN") == 0) {
        //  A field table without its size: LOGIN and PASSWORD.
        size = 0;
        const char *keys[] = {"LOGIN", "PASSWORD"};
        const char *values[] = {user, password};
        for (int i = 0; i < 2; i++) {
            response[size++] = (char)strlen (keys[i]);
            memcpy (response + size, keys[i], strlen (keys[i]));
            size += strlen (keys[i]);
            response[size++] = 'S';
            uint32_t length = (uint32_t)strlen (values[i]);
            response[size++] = 0;
            response[size++] = 0;
            response[size++] = 0;
            response[size++] = (char)length;
            memcpy (response + size, values[i], length);
            size += length;
        }
    } else
        size = (size_t)snprintf (response, sizeof response, "%c%s%c%s", 0, user,
                                 0, password);
    amqp_connection_start_ok_t start_ok = {amqputil_properties (entries, caps),
                                           amqp_cstring_bytes (mechanism),
                                           {size, response},
                                           amqp_cstring_bytes ("en_US")};
    amqputil_method (out, 0, AMQP_CONNECTION_START_OK_METHOD, &start_ok);
}

//  A guest login on vhost "/", tuned as pika tunes, and channel 1 open.
static void
s_login (amqputil_out_t *out, uint32_t frame_max)
{
    s_start_ok (out, "PLAIN", "guest", "guest");
    amqp_connection_tune_ok_t tune_ok = {2047, frame_max, 60};
    amqputil_method (out, 0, AMQP_CONNECTION_TUNE_OK_METHOD, &tune_ok);
    amqp_connection_open_t open = {amqp_cstring_bytes ("/"),
                                   amqp_cstring_bytes (""), 0};
    amqputil_method (out, 0, AMQP_CONNECTION_OPEN_METHOD, &open);
    amqp_channel_open_t channel_open = {amqp_cstring_bytes ("")};
    amqputil_method (out, 1, AMQP_CHANNEL_OPEN_METHOD, &channel_open);
}

static void
s_close (amqputil_out_t *out, uint16_t channel)
{
    if (channel) {
        amqp_channel_close_t close = {200, amqp_cstring_bytes ("Normal"), 0, 0};
        amqputil_method (out, channel, AMQP_CHANNEL_CLOSE_METHOD, &close);
    }
    amqp_connection_close_t close = {200, amqp_cstring_bytes ("Normal"), 0, 0};
    amqputil_method (out, 0, AMQP_CONNECTION_CLOSE_METHOD, &close);
}

static void
s_declare (amqputil_out_t *out, uint16_t channel, const char *queue,
           bool durable, bool exclusive, bool auto_delete, amqp_table_t args)
{
    amqp_queue_declare_t declare = {
        0,   amqp_cstring_bytes (queue), 0, durable, exclusive, auto_delete, 0,
        args};
    amqputil_method (out, channel, AMQP_QUEUE_DECLARE_METHOD, &declare);
}

static void
s_publish (amqputil_out_t *out, uint16_t channel, const char *exchange,
           const char *key, bool mandatory, const char *body)
{
    amqp_basic_publish_t publish = {0, amqp_cstring_bytes (exchange),
                                    amqp_cstring_bytes (key), mandatory, 0};
    amqputil_method (out, channel, AMQP_BASIC_PUBLISH_METHOD, &publish);
    amqputil_content (out, channel, body, strlen (body), MESHQ_AMQP_FRAME_MAX);
}

static void
s_consume (amqputil_out_t *out, uint16_t channel, const char *queue,
           const char *tag, bool no_ack)
{
    amqp_basic_consume_t consume = {0,
                                    amqp_cstring_bytes (queue),
                                    amqp_cstring_bytes (tag),
                                    0,
                                    no_ack,
                                    0,
                                    0,
                                    {0, NULL}};
    amqputil_method (out, channel, AMQP_BASIC_CONSUME_METHOD, &consume);
}

static void
s_ack (amqputil_out_t *out, uint16_t channel, uint64_t tag, bool multiple)
{
    amqp_basic_ack_t ack = {tag, multiple};
    amqputil_method (out, channel, AMQP_BASIC_ACK_METHOD, &ack);
}

static const amqp_table_t s_none = {0, NULL};

// --------------------------------------------------------------------
//  Sessions

static void
s_publish_confirm_consume_ack (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    amqp_confirm_select_t select = {0};
    amqputil_method (out, 1, AMQP_CONFIRM_SELECT_METHOD, &select);
    s_declare (out, 1, "jobs", true, false, false, s_none);
    for (int i = 0; i < 3; i++)
        s_publish (out, 1, "", "jobs", true, "job");
    s_heartbeat (out);
    s_consume (out, 1, "jobs", "ctag-1", false);
    s_heartbeat (out);
    s_ack (out, 1, 3, true);
    amqp_basic_cancel_t cancel = {amqp_cstring_bytes ("ctag-1"), 0};
    amqputil_method (out, 1, AMQP_BASIC_CANCEL_METHOD, &cancel);
    s_close (out, 1);
}

static void
s_work_queue_prefetch_one (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    s_declare (out, 1, "work", true, false, false, s_none);
    amqp_basic_qos_t qos = {0, 1, 0};
    amqputil_method (out, 1, AMQP_BASIC_QOS_METHOD, &qos);
    s_publish (out, 1, "", "work", false, "one");
    s_publish (out, 1, "", "work", false, "two");
    s_consume (out, 1, "work", "", false);
    s_heartbeat (out);
    s_ack (out, 1, 1, false);
    s_heartbeat (out);
    s_ack (out, 1, 2, false);
    s_close (out, 1);
}

static void
s_get_nack_reject_recover (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    s_declare (out, 1, "g", false, false, false, s_none);
    for (int i = 0; i < 4; i++)
        s_publish (out, 1, "", "g", false, "m");
    amqp_basic_get_t get = {0, amqp_cstring_bytes ("g"), 0};
    amqputil_method (out, 1, AMQP_BASIC_GET_METHOD, &get);
    amqputil_method (out, 1, AMQP_BASIC_GET_METHOD, &get);
    amqputil_method (out, 1, AMQP_BASIC_GET_METHOD, &get);
    s_heartbeat (out);
    amqp_basic_nack_t nack = {1, 0, 1};
    amqputil_method (out, 1, AMQP_BASIC_NACK_METHOD, &nack);
    amqp_basic_reject_t reject = {2, 0};
    amqputil_method (out, 1, AMQP_BASIC_REJECT_METHOD, &reject);
    amqp_basic_recover_t recover = {1};
    amqputil_method (out, 1, AMQP_BASIC_RECOVER_METHOD, &recover);
    amqp_basic_get_t get_no_ack = {0, amqp_cstring_bytes ("g"), 1};
    amqputil_method (out, 1, AMQP_BASIC_GET_METHOD, &get_no_ack);
    s_heartbeat (out);
    amqp_queue_purge_t purge = {0, amqp_cstring_bytes ("g"), 0};
    amqputil_method (out, 1, AMQP_QUEUE_PURGE_METHOD, &purge);
    amqputil_method (out, 1, AMQP_BASIC_GET_METHOD, &get);
    s_close (out, 1);
}

static void
s_exchanges (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    const char *types[] = {"topic", "fanout", "direct", "headers"};
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf (name, sizeof name, "x-%s", types[i]);
        amqp_exchange_declare_t declare = {0,
                                           amqp_cstring_bytes (name),
                                           amqp_cstring_bytes (types[i]),
                                           0,
                                           i == 0,
                                           0,
                                           0,
                                           0,
                                           s_none};
        amqputil_method (out, 1, AMQP_EXCHANGE_DECLARE_METHOD, &declare);
    }
    //  A server-named exclusive queue: "" is the last one declared.
    s_declare (out, 1, "", false, true, false, s_none);
    amqp_queue_bind_t bind = {0,
                              amqp_cstring_bytes (""),
                              amqp_cstring_bytes ("x-topic"),
                              amqp_cstring_bytes ("a.*.#"),
                              0,
                              s_none};
    amqputil_method (out, 1, AMQP_QUEUE_BIND_METHOD, &bind);
    amqp_exchange_bind_t xbind = {0,
                                  amqp_cstring_bytes ("x-topic"),
                                  amqp_cstring_bytes ("x-fanout"),
                                  amqp_cstring_bytes (""),
                                  0,
                                  s_none};
    amqputil_method (out, 1, AMQP_EXCHANGE_BIND_METHOD, &xbind);
    s_publish (out, 1, "x-fanout", "", false, "to all");
    s_publish (out, 1, "x-topic", "a.b.c", false, "topic");
    //  Unroutable and mandatory: Basic.Return.
    s_publish (out, 1, "x-direct", "nobody", true, "back");
    s_consume (out, 1, "", "t", true);
    s_heartbeat (out);
    amqp_exchange_unbind_t xunbind = {0,
                                      amqp_cstring_bytes ("x-topic"),
                                      amqp_cstring_bytes ("x-fanout"),
                                      amqp_cstring_bytes (""),
                                      0,
                                      s_none};
    amqputil_method (out, 1, AMQP_EXCHANGE_UNBIND_METHOD, &xunbind);
    amqp_queue_unbind_t unbind = {0, amqp_cstring_bytes (""),
                                  amqp_cstring_bytes ("x-topic"),
                                  amqp_cstring_bytes ("a.*.#"), s_none};
    amqputil_method (out, 1, AMQP_QUEUE_UNBIND_METHOD, &unbind);
    amqp_queue_delete_t qdelete = {0, amqp_cstring_bytes (""), 0, 0, 0};
    amqputil_method (out, 1, AMQP_QUEUE_DELETE_METHOD, &qdelete);
    amqp_exchange_delete_t xdelete = {0, amqp_cstring_bytes ("x-topic"), 0, 0};
    amqputil_method (out, 1, AMQP_EXCHANGE_DELETE_METHOD, &xdelete);
    s_close (out, 1);
}

static void
s_queue_arguments (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    amqp_table_entry_t args[8];
    const char *names[] = {"x-max-length",
                           "x-overflow",
                           "x-message-ttl",
                           "x-dead-letter-exchange",
                           "x-dead-letter-routing-key",
                           "x-max-priority",
                           "x-delivery-limit",
                           "x-queue-type"};
    for (int i = 0; i < 8; i++) {
        args[i].key = amqp_cstring_bytes (names[i]);
        args[i].value.kind = AMQP_FIELD_KIND_I32;
        args[i].value.value.i32 = i == 2 ? 50 : 3;
    }
    //  Overflow, dead-letter exchange and routing key, queue type.
    const char *texts[] = {"reject-publish", "", "dead", "classic"};
    int at[] = {1, 3, 4, 7};
    for (int i = 0; i < 4; i++) {
        args[at[i]].value.kind = AMQP_FIELD_KIND_UTF8;
        args[at[i]].value.value.bytes = amqp_cstring_bytes (texts[i]);
    }
    s_declare (out, 1, "dead", false, false, false, s_none);
    s_declare (out, 1, "limited", false, false, false, (amqp_table_t){8, args});
    for (int i = 0; i < 5; i++)
        s_publish (out, 1, "", "limited", false, "x");
    //  The same again, passive, and in conflict.
    amqp_queue_declare_t passive = {
        0, amqp_cstring_bytes ("limited"), 1, 0, 0, 0, 0, s_none};
    amqputil_method (out, 1, AMQP_QUEUE_DECLARE_METHOD, &passive);
    s_declare (out, 1, "limited", true, false, false, s_none);
    s_close (out, 1);
}

static void
s_amqplain (amqputil_out_t *out)
{
    s_start_ok (out, "AMQPLAIN", "guest", "guest");
    amqp_connection_tune_ok_t tune_ok = {0, 0, 0};
    amqputil_method (out, 0, AMQP_CONNECTION_TUNE_OK_METHOD, &tune_ok);
    amqp_connection_open_t open = {amqp_cstring_bytes (""),
                                   amqp_cstring_bytes (""), 0};
    amqputil_method (out, 0, AMQP_CONNECTION_OPEN_METHOD, &open);
    s_close (out, 0);
}

static void
s_split_body (amqputil_out_t *out)
{
    s_login (out, 4096);
    s_declare (out, 1, "big", false, false, true, s_none);
    amqp_basic_publish_t publish = {0, amqp_cstring_bytes (""),
                                    amqp_cstring_bytes ("big"), 0, 0};
    amqputil_method (out, 1, AMQP_BASIC_PUBLISH_METHOD, &publish);
    static char body[10001];
    for (int i = 0; i < 10000; i++)
        body[i] = (char)('a' + i % 26);
    amqputil_content (out, 1, body, 10000, 4096);
    s_consume (out, 1, "big", "b", true);
    s_heartbeat (out);
    s_close (out, 1);
}

static void
s_two_channels (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    s_declare (out, 1, "pair", false, false, false, s_none);
    s_consume (out, 1, "pair", "c", true);
    amqp_channel_open_t channel_open = {amqp_cstring_bytes ("")};
    amqputil_method (out, 2047, AMQP_CHANNEL_OPEN_METHOD, &channel_open);
    amqp_confirm_select_t select = {0};
    amqputil_method (out, 2047, AMQP_CONFIRM_SELECT_METHOD, &select);
    for (int i = 0; i < 3; i++)
        s_publish (out, 2047, "", "pair", false, "hop");
    s_heartbeat (out);
    amqp_channel_close_t close = {200, amqp_cstring_bytes ("Normal"), 0, 0};
    amqputil_method (out, 2047, AMQP_CHANNEL_CLOSE_METHOD, &close);
    s_close (out, 1);
}

static void
s_exclusive_consumer_goes (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    s_declare (out, 1, "mine", false, true, false, s_none);
    s_publish (out, 1, "", "mine", false, "kept");
    s_consume (out, 1, "mine", "m", false);
    s_heartbeat (out);
    //  Deleted under its consumer: Basic.Cancel comes; the unacked
    //  delivery goes with it. No close: the client just goes.
    amqp_queue_delete_t qdelete = {0, amqp_cstring_bytes ("mine"), 0, 0, 0};
    amqputil_method (out, 1, AMQP_QUEUE_DELETE_METHOD, &qdelete);
}

//  Publishes that outrun a no-ack consumer within one read: the queue
//  holds more than the fuzzer's flow_memory (16 KiB), the connection
//  is paused (not read), then resumed as the deliveries go out.
static void
s_flow_paused_then_resumed (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    s_declare (out, 1, "fl", false, false, true, s_none);
    amqp_basic_qos_t qos = {0, 1, 0};
    amqputil_method (out, 1, AMQP_BASIC_QOS_METHOD, &qos);
    s_consume (out, 1, "fl", "f", true);
    static char body[1001];
    memset (body, 'f', 1000);
    for (int i = 0; i < 40; i++)
        s_publish (out, 1, "", "fl", false, body);
    s_heartbeat (out);
    s_publish (out, 1, "", "fl", false, "after");
    s_close (out, 1);
}

// --------------------------------------------------------------------
//  Errors

static void
s_error_wrong_password (amqputil_out_t *out)
{
    s_start_ok (out, "PLAIN", "guest", "wrong");
    amqp_connection_tune_ok_t tune_ok = {2047, MESHQ_AMQP_FRAME_MAX, 60};
    amqputil_method (out, 0, AMQP_CONNECTION_TUNE_OK_METHOD, &tune_ok);
}

static void
s_error_unknown_vhost (amqputil_out_t *out)
{
    s_start_ok (out, "PLAIN", "guest", "guest");
    amqp_connection_tune_ok_t tune_ok = {2047, MESHQ_AMQP_FRAME_MAX, 60};
    amqputil_method (out, 0, AMQP_CONNECTION_TUNE_OK_METHOD, &tune_ok);
    amqp_connection_open_t open = {amqp_cstring_bytes ("nowhere"),
                                   amqp_cstring_bytes (""), 0};
    amqputil_method (out, 0, AMQP_CONNECTION_OPEN_METHOD, &open);
}

static void
s_error_mechanism (amqputil_out_t *out)
{
    s_start_ok (out, "EXTERNAL", "guest", "guest");
}

static void
s_error_frame_max (amqputil_out_t *out)
{
    s_start_ok (out, "PLAIN", "guest", "guest");
    amqp_connection_tune_ok_t tune_ok = {2047, 512, 60};
    amqputil_method (out, 0, AMQP_CONNECTION_TUNE_OK_METHOD, &tune_ok);
}

static void
s_error_channel_not_open (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    s_declare (out, 7, "q", false, false, false, s_none);
}

static void
s_error_content_alone (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    amqputil_content (out, 1, "orphan", 6, MESHQ_AMQP_FRAME_MAX);
}

static void
s_error_method_in_content (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    amqp_basic_publish_t publish = {0, amqp_cstring_bytes (""),
                                    amqp_cstring_bytes ("q"), 0, 0};
    amqputil_method (out, 1, AMQP_BASIC_PUBLISH_METHOD, &publish);
    s_declare (out, 1, "q", false, false, false, s_none);
}

static void
s_error_not_implemented (amqputil_out_t *out, amqp_method_number_t id)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    amqp_channel_flow_t flow = {0};
    amqp_tx_select_t select = {0};
    amqputil_method (out, 1, id,
                     id == AMQP_CHANNEL_FLOW_METHOD ? (void *)&flow
                                                    : (void *)&select);
}

static void
s_error_soft_then_more (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    //  404 on a passive declare closes the channel; the client goes on
    //  before its Close-Ok, then answers it and opens the channel again.
    amqp_queue_declare_t passive = {
        0, amqp_cstring_bytes ("absent"), 1, 0, 0, 0, 0, s_none};
    amqputil_method (out, 1, AMQP_QUEUE_DECLARE_METHOD, &passive);
    s_publish (out, 1, "no-such-exchange", "k", false, "lost");
    s_heartbeat (out);
    amqp_channel_close_ok_t close_ok = {0};
    amqputil_method (out, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
    amqp_channel_open_t channel_open = {amqp_cstring_bytes ("")};
    amqputil_method (out, 1, AMQP_CHANNEL_OPEN_METHOD, &channel_open);
    s_publish (out, 1, "no-such-exchange", "k", false, "lost");
    s_heartbeat (out);
    amqputil_method (out, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
    s_close (out, 0);
}

static void
s_error_ack_unknown (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    s_ack (out, 1, 99, false);
    amqp_channel_open_t channel_open = {amqp_cstring_bytes ("")};
    amqputil_method (out, 1, AMQP_CHANNEL_OPEN_METHOD, &channel_open);
}

static void
s_error_server_close_ignored (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    //  A hard error; the client keeps sending instead of Close-Ok.
    amqp_channel_open_t channel_open = {amqp_cstring_bytes ("")};
    amqputil_method (out, 1, AMQP_CHANNEL_OPEN_METHOD, &channel_open);
    s_publish (out, 1, "", "q", false, "ignored");
    s_heartbeat (out);
    amqp_connection_close_ok_t close_ok = {0};
    amqputil_method (out, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok);
}

static void
s_error_too_many_waits (amqputil_out_t *out)
{
    s_login (out, MESHQ_AMQP_FRAME_MAX);
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf (name, sizeof name, "w%d", i);
        s_declare (out, 1, name, false, false, true, s_none);
    }
    s_close (out, 1);
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: amqp_session_seeds DIR\n");
        return 64;
    }
    s_dir = argv[1];
    uint8_t *buf = malloc (S_CAP);
    assert (buf);
    struct {
        const char *name;
        void (*make) (amqputil_out_t *);
    } seeds[] = {
        {"publish_confirm_consume_ack", s_publish_confirm_consume_ack},
        {"work_queue_prefetch_one", s_work_queue_prefetch_one},
        {"get_nack_reject_recover", s_get_nack_reject_recover},
        {"exchanges_bind_return", s_exchanges},
        {"queue_arguments", s_queue_arguments},
        {"amqplain_login", s_amqplain},
        {"split_body_frame_max_4096", s_split_body},
        {"two_channels", s_two_channels},
        {"exclusive_consumer_goes", s_exclusive_consumer_goes},
        {"flow_paused_then_resumed", s_flow_paused_then_resumed},
        {"error_wrong_password", s_error_wrong_password},
        {"error_unknown_vhost", s_error_unknown_vhost},
        {"error_mechanism", s_error_mechanism},
        {"error_frame_max", s_error_frame_max},
        {"error_channel_not_open", s_error_channel_not_open},
        {"error_content_alone", s_error_content_alone},
        {"error_method_in_content", s_error_method_in_content},
        {"error_soft_then_more", s_error_soft_then_more},
        {"error_ack_unknown", s_error_ack_unknown},
        {"error_server_close_ignored", s_error_server_close_ignored},
        {"error_too_many_waits", s_error_too_many_waits},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        amqputil_out_t out = {buf, 0, S_CAP};
        seeds[i].make (&out);
        s_write (seeds[i].name, &out);
    }
    amqp_method_number_t not_implemented[] = {AMQP_CHANNEL_FLOW_METHOD,
                                              AMQP_TX_SELECT_METHOD};
    const char *names[] = {"error_channel_flow", "error_tx_select"};
    for (int i = 0; i < 2; i++) {
        amqputil_out_t out = {buf, 0, S_CAP};
        s_error_not_implemented (&out, not_implemented[i]);
        s_write (names[i], &out);
    }
    //  Nothing after the header; a heartbeat alone.
    amqputil_out_t out = {buf, 0, S_CAP};
    s_write ("empty", &out);
    s_heartbeat (&out);
    s_write ("heartbeat", &out);
    free (buf);
    return s_failed;
}
