/*  amqputil.h - AMQP 0-9-1 streams for the tests and the fuzz seeds.

    Header-only. Builds, with the module's own encoders, the frames a pika
    client and the agent exchange (handshake, a channel, a queue, publish
    with its content, deliver, ack, close), and raw field tables nested to
    any depth, which no encoder would write.
*/
#ifndef MESHQ_AMQPUTIL_H_INCLUDED
#define MESHQ_AMQPUTIL_H_INCLUDED

#include "amqp_wire.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint8_t *data;
    size_t size;
    size_t cap;
} amqputil_out_t;

static inline void
amqputil_method (amqputil_out_t *out, uint16_t channel, amqp_method_number_t id,
                 void *decoded)
{
    ssize_t rc =
        meshq_amqp_encode_method (out->data + out->size, out->cap - out->size,
                                  MESHQ_AMQP_FRAME_MAX, channel, id, decoded);
    assert (rc > 0);
    out->size += (size_t)rc;
}

static inline void
amqputil_content (amqputil_out_t *out, uint16_t channel, const char *body,
                  size_t size, uint32_t frame_max)
{
    amqp_basic_properties_t props;
    memset (&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG |
                   AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG |
                   AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG |
                   AMQP_BASIC_TIMESTAMP_FLAG;
    props.content_type = amqp_cstring_bytes ("text/plain");
    props.delivery_mode = 2;
    props.correlation_id = amqp_cstring_bytes ("c-1");
    props.reply_to = amqp_cstring_bytes ("amq.gen-reply");
    props.timestamp = 1700000000;
    amqp_table_entry_t headers[2];
    headers[0].key = amqp_cstring_bytes ("x-count");
    headers[0].value.kind = AMQP_FIELD_KIND_I32;
    headers[0].value.value.i32 = 7;
    headers[1].key = amqp_cstring_bytes ("x-name");
    headers[1].value.kind = AMQP_FIELD_KIND_UTF8;
    headers[1].value.value.bytes = amqp_cstring_bytes ("n");
    props.headers.num_entries = 2;
    props.headers.entries = headers;
    ssize_t rc =
        meshq_amqp_encode_header (out->data + out->size, out->cap - out->size,
                                  frame_max, channel, size, &props);
    assert (rc > 0);
    out->size += (size_t)rc;
    rc = meshq_amqp_encode_body (out->data + out->size, out->cap - out->size,
                                 frame_max, channel, body, size);
    assert (rc >= 0);
    out->size += (size_t)rc;
}

static inline void
amqputil_protocol (amqputil_out_t *out)
{
    memcpy (out->data + out->size, MESHQ_AMQP_PROTOCOL_HEADER,
            MESHQ_AMQP_PROTOCOL_HEADER_SIZE);
    out->size += MESHQ_AMQP_PROTOCOL_HEADER_SIZE;
}

//  A table of capabilities, as both sides send them in their properties.
static inline amqp_table_t
amqputil_properties (amqp_table_entry_t *entries, amqp_table_entry_t *caps)
{
    caps[0].key = amqp_cstring_bytes ("publisher_confirms");
    caps[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    caps[0].value.value.boolean = 1;
    caps[1].key = amqp_cstring_bytes ("basic.nack");
    caps[1].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    caps[1].value.value.boolean = 1;
    entries[0].key = amqp_cstring_bytes ("product");
    entries[0].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[0].value.value.bytes = amqp_cstring_bytes ("meshq");
    entries[1].key = amqp_cstring_bytes ("capabilities");
    entries[1].value.kind = AMQP_FIELD_KIND_TABLE;
    entries[1].value.value.table.num_entries = 2;
    entries[1].value.value.table.entries = caps;
    amqp_table_t table = {2, entries};
    return table;
}

//  What pika sends from Start-Ok to a publish and a close: the protocol
//  header first. The body goes out in frames of frame_max.
static inline size_t
amqputil_client_stream (uint8_t *buf, size_t cap, const char *body,
                        uint32_t frame_max)
{
    amqputil_out_t out = {buf, 0, cap};
    amqputil_protocol (&out);
    amqp_table_entry_t entries[2], caps[2];
    amqp_connection_start_ok_t start_ok = {amqputil_properties (entries, caps),
                                           amqp_cstring_bytes ("PLAIN"),
                                           {12, "\0guest\0guest"},
                                           amqp_cstring_bytes ("en_US")};
    amqputil_method (&out, 0, AMQP_CONNECTION_START_OK_METHOD, &start_ok);
    amqp_connection_tune_ok_t tune_ok = {2047, frame_max, 60};
    amqputil_method (&out, 0, AMQP_CONNECTION_TUNE_OK_METHOD, &tune_ok);
    amqp_connection_open_t open = {amqp_cstring_bytes ("/"),
                                   amqp_cstring_bytes (""), 0};
    amqputil_method (&out, 0, AMQP_CONNECTION_OPEN_METHOD, &open);
    amqp_channel_open_t channel_open = {amqp_cstring_bytes ("")};
    amqputil_method (&out, 1, AMQP_CHANNEL_OPEN_METHOD, &channel_open);
    amqp_confirm_select_t select = {0};
    amqputil_method (&out, 1, AMQP_CONFIRM_SELECT_METHOD, &select);
    amqp_table_entry_t args[2];
    args[0].key = amqp_cstring_bytes ("x-max-length");
    args[0].value.kind = AMQP_FIELD_KIND_I64;
    args[0].value.value.i64 = 1000;
    args[1].key = amqp_cstring_bytes ("x-queue-type");
    args[1].value.kind = AMQP_FIELD_KIND_UTF8;
    args[1].value.value.bytes = amqp_cstring_bytes ("classic");
    amqp_queue_declare_t declare = {
        0, amqp_cstring_bytes ("my_queue"), 0, 1, 0, 0, 0, {2, args}};
    amqputil_method (&out, 1, AMQP_QUEUE_DECLARE_METHOD, &declare);
    amqp_basic_qos_t qos = {0, 1, 0};
    amqputil_method (&out, 1, AMQP_BASIC_QOS_METHOD, &qos);
    amqp_basic_consume_t consume = {0,
                                    amqp_cstring_bytes ("my_queue"),
                                    amqp_cstring_bytes ("ctag-1"),
                                    0,
                                    0,
                                    0,
                                    0,
                                    {0, NULL}};
    amqputil_method (&out, 1, AMQP_BASIC_CONSUME_METHOD, &consume);
    amqp_basic_publish_t publish = {0, amqp_cstring_bytes (""),
                                    amqp_cstring_bytes ("my_queue"), 1, 0};
    amqputil_method (&out, 1, AMQP_BASIC_PUBLISH_METHOD, &publish);
    amqputil_content (&out, 1, body, strlen (body), frame_max);
    memcpy (out.data + out.size, "\x08\x00\x00\x00\x00\x00\x00\xce", 8);
    out.size += 8;
    amqp_basic_ack_t ack = {1, 0};
    amqputil_method (&out, 1, AMQP_BASIC_ACK_METHOD, &ack);
    amqp_channel_close_t channel_close = {200, amqp_cstring_bytes ("Normal"), 0,
                                          0};
    amqputil_method (&out, 1, AMQP_CHANNEL_CLOSE_METHOD, &channel_close);
    amqp_connection_close_t close = {200, amqp_cstring_bytes ("Normal"), 0, 0};
    amqputil_method (&out, 0, AMQP_CONNECTION_CLOSE_METHOD, &close);
    return out.size;
}

//  What the agent answers: Start to Close-Ok, with a delivery. The
//  parser reads either side; the protocol header comes first here too.
static inline size_t
amqputil_server_stream (uint8_t *buf, size_t cap, const char *body,
                        uint32_t frame_max)
{
    amqputil_out_t out = {buf, 0, cap};
    amqputil_protocol (&out);
    amqp_table_entry_t entries[2], caps[2];
    amqp_connection_start_t start = {0, 9, amqputil_properties (entries, caps),
                                     amqp_cstring_bytes ("PLAIN AMQPLAIN"),
                                     amqp_cstring_bytes ("en_US")};
    amqputil_method (&out, 0, AMQP_CONNECTION_START_METHOD, &start);
    amqp_connection_tune_t tune = {2047, MESHQ_AMQP_FRAME_MAX, 60};
    amqputil_method (&out, 0, AMQP_CONNECTION_TUNE_METHOD, &tune);
    amqp_connection_open_ok_t open_ok = {amqp_cstring_bytes ("")};
    amqputil_method (&out, 0, AMQP_CONNECTION_OPEN_OK_METHOD, &open_ok);
    amqp_channel_open_ok_t channel_open_ok = {amqp_cstring_bytes ("")};
    amqputil_method (&out, 1, AMQP_CHANNEL_OPEN_OK_METHOD, &channel_open_ok);
    amqp_queue_declare_ok_t declare_ok = {amqp_cstring_bytes ("my_queue"), 0,
                                          0};
    amqputil_method (&out, 1, AMQP_QUEUE_DECLARE_OK_METHOD, &declare_ok);
    amqp_basic_consume_ok_t consume_ok = {amqp_cstring_bytes ("ctag-1")};
    amqputil_method (&out, 1, AMQP_BASIC_CONSUME_OK_METHOD, &consume_ok);
    amqp_basic_ack_t confirm = {1, 0};
    amqputil_method (&out, 1, AMQP_BASIC_ACK_METHOD, &confirm);
    amqp_basic_deliver_t deliver = {amqp_cstring_bytes ("ctag-1"), 1, 0,
                                    amqp_cstring_bytes (""),
                                    amqp_cstring_bytes ("my_queue")};
    amqputil_method (&out, 1, AMQP_BASIC_DELIVER_METHOD, &deliver);
    amqputil_content (&out, 1, body, strlen (body), frame_max);
    amqp_channel_close_ok_t channel_close_ok = {0};
    amqputil_method (&out, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &channel_close_ok);
    amqp_connection_close_ok_t close_ok = {0};
    amqputil_method (&out, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok);
    return out.size;
}

//  Raw bytes of a field table nested depth levels deep (the table itself
//  is level 1): each level holds one entry "a" with the next level, a
//  table, or with arrays an array from level 2 on. Returns its size, or
//  0 if cap is too small.
static inline size_t
amqputil_nested_table (uint8_t *buf, size_t cap, int depth, bool arrays)
{
    assert (depth >= 1);
    //  Level 1 spends 7 bytes (size, key, type), deeper arrays 5, deeper
    //  tables 7; the innermost level is an empty size.
    size_t step = arrays ? 5 : 7;
    size_t total = 4 + (depth > 1 ? 7 + (size_t)(depth - 2) * step : 0);
    if (total > cap)
        return 0;
    size_t pos = 0;
    for (int level = 1; level <= depth; level++) {
        uint32_t length = (uint32_t)(total - pos - 4);
        buf[pos++] = (uint8_t)(length >> 24);
        buf[pos++] = (uint8_t)(length >> 16);
        buf[pos++] = (uint8_t)(length >> 8);
        buf[pos++] = (uint8_t)length;
        if (level == depth)
            break;
        if (level == 1 || !arrays) {
            buf[pos++] = 1;
            buf[pos++] = 'a';
        }
        buf[pos++] = arrays ? 'A' : 'F';
    }
    assert (pos == total);
    return total;
}

//  A Queue.Declare frame on channel 1 whose arguments are a table nested
//  depth deep. Returns its size, or 0 if cap is too small.
static inline size_t
amqputil_deep_declare (uint8_t *buf, size_t cap, int depth, bool arrays)
{
    //  header, id, ticket, name "q", bits; the table; frame-end.
    const uint8_t head[] = {1, 0, 1, 0, 0, 0, 0, 0, 50, 0, 10, 0, 0, 1, 'q', 0};
    if (cap < sizeof head + 1)
        return 0;
    memcpy (buf, head, sizeof head);
    size_t table = amqputil_nested_table (buf + sizeof head,
                                          cap - sizeof head - 1, depth, arrays);
    if (!table)
        return 0;
    size_t payload = sizeof head - 7 + table;
    buf[3] = (uint8_t)(payload >> 24);
    buf[4] = (uint8_t)(payload >> 16);
    buf[5] = (uint8_t)(payload >> 8);
    buf[6] = (uint8_t)payload;
    buf[7 + payload] = 0xCE;
    return 8 + payload;
}

//  A content header frame on channel 1 whose headers property is a table
//  nested depth deep. Returns its size, or 0 if cap is too small.
static inline size_t
amqputil_deep_header (uint8_t *buf, size_t cap, int depth, bool arrays)
{
    //  header, class 60, weight 0, body size 0, flags: headers.
    const uint8_t head[] = {2, 0, 1, 0, 0, 0, 0, 0, 60,   0, 0,
                            0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0};
    if (cap < sizeof head + 1)
        return 0;
    memcpy (buf, head, sizeof head);
    size_t table = amqputil_nested_table (buf + sizeof head,
                                          cap - sizeof head - 1, depth, arrays);
    if (!table)
        return 0;
    size_t payload = sizeof head - 7 + table;
    buf[3] = (uint8_t)(payload >> 24);
    buf[4] = (uint8_t)(payload >> 16);
    buf[5] = (uint8_t)(payload >> 8);
    buf[6] = (uint8_t)payload;
    buf[7 + payload] = 0xCE;
    return 8 + payload;
}

#endif
