/*  test_amqp_hostile.c - what a hostile AMQP client may send: wrong
    protocol headers, oversize frames, broken frame ends, field tables
    nested to overflow rabbitmq-c's recursion, malformed tables. Each is
    refused with the reply code the spec gives, and none crashes.
*/
#include "amqp_wire.h"
#include "amqputil.h"
#include "meshq.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define S_CAP (1u << 18)

//  Parses the protocol header, then frame (size bytes), and returns the
//  first event after the protocol header.
static meshq_amqp_event_t
s_one (const uint8_t *frame, size_t size, int *rc)
{
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    meshq_amqp_event_t event;
    size_t used;
    cr_assert_eq (meshq_amqp_parser_parse (
                      parser, (const uint8_t *)MESHQ_AMQP_PROTOCOL_HEADER, 8,
                      &used, &event),
                  0);
    cr_assert_eq (event.type, MESHQ_AMQP_PROTOCOL_OK);
    *rc = meshq_amqp_parser_parse (parser, frame, size, &used, &event);
    //  Static reply texts and nothing borrowed from the parser survive it.
    meshq_amqp_parser_destroy (&parser);
    event.method.decoded = NULL;
    event.properties = NULL;
    event.body = NULL;
    return event;
}

static void
s_assert_refused (const uint8_t *frame, size_t size, uint16_t code)
{
    int rc;
    meshq_amqp_event_t event = s_one (frame, size, &rc);
    cr_assert_eq (event.type, MESHQ_AMQP_ERROR, "type %d", event.type);
    cr_assert_eq (event.reply_code, code, "code %d: %s", event.reply_code,
                  event.reply_text);
    cr_assert (rc < 0);
    cr_assert (event.reply_text && *event.reply_text);
}

Test (amqp_hostile, a_wrong_protocol_header_is_answered_at_its_first_byte)
{
    const char *headers[] = {"GET / HTTP/1.1\r\n", "AMQP\x03\x01\x00\x00",
                             "AMQP\x00\x00\x09\x00", "AMQP\x01\x01\x00\x09"};
    size_t differs[] = {1, 5, 8, 5};
    for (int i = 0; i < 4; i++) {
        meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
        meshq_amqp_event_t event;
        size_t used;
        int rc = meshq_amqp_parser_parse (parser, (const uint8_t *)headers[i],
                                          8, &used, &event);
        cr_assert_eq (event.type, MESHQ_AMQP_PROTOCOL_BAD, "header %d", i);
        cr_assert_eq (rc, MESHQ_EVERSION);
        cr_assert_eq (used, differs[i], "header %d", i);
        //  Dead: takes nothing more, says the same.
        rc = meshq_amqp_parser_parse (parser, (const uint8_t *)"AMQP", 4, &used,
                                      &event);
        cr_assert_eq (event.type, MESHQ_AMQP_PROTOCOL_BAD);
        cr_assert_eq (used, 0);
        meshq_amqp_parser_destroy (&parser);
    }
    cr_assert_eq (memcmp (MESHQ_AMQP_PROTOCOL_HEADER, "AMQP\0\0\x09\x01", 8),
                  0);
}

//  The size field alone is enough to refuse: nothing more is read.
Test (amqp_hostile, a_frame_above_frame_max_is_a_frame_error)
{
    uint8_t head[7] = {1, 0, 1, 0, 0x02, 0, 0x01};  //  131073 bytes.
    s_assert_refused (head, sizeof head, AMQP_FRAME_ERROR);
    //  The largest payload frame_max allows: 131064 bytes.
    uint8_t *frame = calloc (1, MESHQ_AMQP_FRAME_MAX);
    frame[0] = AMQP_FRAME_BODY;
    frame[2] = 1;
    frame[4] = 0x01;
    frame[5] = 0xff;
    frame[6] = 0xf8;
    frame[MESHQ_AMQP_FRAME_MAX - 1] = 0xCE;
    int rc;
    meshq_amqp_event_t event = s_one (frame, MESHQ_AMQP_FRAME_MAX, &rc);
    cr_assert_eq (event.type, MESHQ_AMQP_BODY);
    cr_assert_eq (event.body_chunk, MESHQ_AMQP_FRAME_MAX - 8);
    frame[6] = 0xf9;
    s_assert_refused (frame, MESHQ_AMQP_FRAME_MAX, AMQP_FRAME_ERROR);
    //  After Tune-Ok agreed on 4096, a frame of 4097 bytes is refused.
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    size_t used;
    meshq_amqp_parser_parse (
        parser, (const uint8_t *)MESHQ_AMQP_PROTOCOL_HEADER, 8, &used, &event);
    cr_assert_eq (meshq_amqp_parser_set_frame_max (parser, 4096), 0);
    frame[4] = 0;
    frame[5] = 0x0f;
    frame[6] = 0xf8;  //  4088 + 8 = 4096.
    frame[4095] = 0xCE;
    cr_assert_eq (meshq_amqp_parser_parse (parser, frame, 4096, &used, &event),
                  0);
    cr_assert_eq (event.type, MESHQ_AMQP_BODY);
    frame[6] = 0xf9;
    rc = meshq_amqp_parser_parse (parser, frame, 7, &used, &event);
    cr_assert_eq (rc, MESHQ_ETOOBIG);
    cr_assert_eq (event.reply_code, AMQP_FRAME_ERROR);
    meshq_amqp_parser_destroy (&parser);
    free (frame);
}

Test (amqp_hostile, a_bad_frame_end_is_a_frame_error)
{
    uint8_t heartbeat[8] = {8, 0, 0, 0, 0, 0, 0, 0xCE};
    int rc;
    cr_assert_eq (s_one (heartbeat, 8, &rc).type, MESHQ_AMQP_HEARTBEAT);
    heartbeat[7] = 0xCD;
    s_assert_refused (heartbeat, 8, AMQP_FRAME_ERROR);
    uint8_t body[10] = {3, 0, 1, 0, 0, 0, 2, 'h', 'i', 0};
    s_assert_refused (body, sizeof body, AMQP_FRAME_ERROR);
}

Test (amqp_hostile, frames_out_of_place_are_refused_with_their_codes)
{
    //  Unknown frame type.
    uint8_t unknown[8] = {4, 0, 0, 0, 0, 0, 0, 0xCE};
    s_assert_refused (unknown, 8, AMQP_FRAME_ERROR);
    //  Heartbeat on a channel, or with a payload.
    uint8_t heartbeat[9] = {8, 0, 1, 0, 0, 0, 0, 0xCE};
    s_assert_refused (heartbeat, 8, AMQP_FRAME_ERROR);
    uint8_t fat[9] = {8, 0, 0, 0, 0, 0, 1, 0, 0xCE};
    s_assert_refused (fat, 9, AMQP_FRAME_ERROR);
    //  Content on channel 0.
    uint8_t body[8] = {3, 0, 0, 0, 0, 0, 0, 0xCE};
    s_assert_refused (body, 8, AMQP_COMMAND_INVALID);
    //  A method frame too short for its id, an unknown method, arguments
    //  cut short (Basic.Ack needs 9 bytes).
    uint8_t stub[10] = {1, 0, 1, 0, 0, 0, 2, 0, 60, 0xCE};
    s_assert_refused (stub, 10, AMQP_FRAME_ERROR);
    uint8_t tx[12] = {1, 0, 1, 0, 0, 0, 4, 0, 99, 0, 10, 0xCE};
    s_assert_refused (tx, 12, AMQP_NOT_IMPLEMENTED);
    uint8_t ack[14] = {1, 0, 1, 0, 0, 0, 6, 0, 60, 0, 80, 0, 0, 0xCE};
    s_assert_refused (ack, 14, AMQP_SYNTAX_ERROR);
    //  A content header of a class without content, with a weight, with
    //  a second flag word, cut short.
    uint8_t header[22] = {2, 0, 1, 0, 0, 0, 14, 0, 60, 0, 0,
                          0, 0, 0, 0, 0, 0, 0,  0, 0,  0, 0xCE};
    int rc;
    cr_assert_eq (s_one (header, 22, &rc).type, MESHQ_AMQP_HEADER);
    header[8] = 10;
    s_assert_refused (header, 22, AMQP_UNEXPECTED_FRAME);
    header[8] = 60;
    header[10] = 1;
    s_assert_refused (header, 22, AMQP_FRAME_ERROR);
    header[10] = 0;
    header[20] = 1;
    s_assert_refused (header, 22, AMQP_SYNTAX_ERROR);
    header[20] = 0;
    header[19] = 0x80;  //  content-type, absent.
    s_assert_refused (header, 22, AMQP_SYNTAX_ERROR);
    uint8_t short_header[12] = {2, 0, 1, 0, 0, 0, 4, 0, 60, 0, 0, 0xCE};
    s_assert_refused (short_header, 12, AMQP_FRAME_ERROR);
}

//  A table nested 18,000 deep in one frame: rabbitmq-c alone would
//  recurse 18,000 times. It is refused at level 17, in either place a
//  table may be, built of tables or of arrays.
Test (amqp_hostile, a_depth_bomb_is_refused)
{
    uint8_t *frame = malloc (S_CAP);
    for (int arrays = 0; arrays <= 1; arrays++) {
        size_t size = amqputil_deep_declare (frame, MESHQ_AMQP_FRAME_MAX,
                                             arrays ? 26000 : 18000, arrays);
        cr_assert_gt (size, 100000);
        s_assert_refused (frame, size, AMQP_SYNTAX_ERROR);
        size = amqputil_deep_header (frame, MESHQ_AMQP_FRAME_MAX,
                                     arrays ? 26000 : 18000, arrays);
        cr_assert_gt (size, 100000);
        s_assert_refused (frame, size, AMQP_SYNTAX_ERROR);
    }
    //  And in the first argument of Start-Ok.
    size_t table = amqputil_nested_table (frame + 11, S_CAP, 18000, false);
    const uint8_t head[] = {1, 0, 0, 0, 0, 0, 0, 0, 10, 0, 11};
    memcpy (frame, head, sizeof head);
    const uint8_t tail[] = {5, 'P', 'L', 'A', 'I', 'N', 0, 0, 0, 0, 0, 0xCE};
    memcpy (frame + 11 + table, tail, sizeof tail);
    size_t payload = 4 + table + sizeof tail - 1;
    frame[4] = (uint8_t)(payload >> 16);
    frame[5] = (uint8_t)(payload >> 8);
    frame[6] = (uint8_t)payload;
    int rc;
    meshq_amqp_event_t event = s_one (frame, payload + 8, &rc);
    cr_assert_eq (event.type, MESHQ_AMQP_ERROR);
    cr_assert_eq (event.reply_code, AMQP_SYNTAX_ERROR);
    cr_assert_eq (event.fault_class_id, 10);
    cr_assert_eq (event.fault_method_id, 11);
    cr_assert (strstr (event.reply_text, "deeper than 16"));
    free (frame);
}

static int
s_depth (const amqp_field_value_t *value)
{
    if (value->kind == AMQP_FIELD_KIND_TABLE)
        return value->value.table.num_entries
                   ? 1 + s_depth (&value->value.table.entries[0].value)
                   : 1;
    if (value->kind == AMQP_FIELD_KIND_ARRAY)
        return value->value.array.num_entries
                   ? 1 + s_depth (&value->value.array.entries[0])
                   : 1;
    return 0;
}

Test (amqp_hostile, a_table_nested_16_deep_is_read_and_17_refused)
{
    uint8_t frame[512];
    for (int arrays = 0; arrays <= 1; arrays++) {
        size_t size = amqputil_deep_declare (frame, sizeof frame, 16, arrays);
        int rc;
        meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
        meshq_amqp_event_t event;
        size_t used;
        meshq_amqp_parser_parse (parser,
                                 (const uint8_t *)MESHQ_AMQP_PROTOCOL_HEADER, 8,
                                 &used, &event);
        rc = meshq_amqp_parser_parse (parser, frame, size, &used, &event);
        cr_assert_eq (rc, 0);
        cr_assert_eq (event.type, MESHQ_AMQP_METHOD);
        amqp_queue_declare_t *declare = event.method.decoded;
        amqp_field_value_t top = {AMQP_FIELD_KIND_TABLE, {0}};
        top.value.table = declare->arguments;
        cr_assert_eq (s_depth (&top), 16);
        size = amqputil_deep_header (frame, sizeof frame, 16, arrays);
        rc = meshq_amqp_parser_parse (parser, frame, size, &used, &event);
        cr_assert_eq (rc, 0);
        cr_assert_eq (event.type, MESHQ_AMQP_HEADER);
        top.value.table = event.properties->headers;
        cr_assert_eq (s_depth (&top), 16);
        meshq_amqp_parser_destroy (&parser);

        size = amqputil_deep_declare (frame, sizeof frame, 17, arrays);
        s_assert_refused (frame, size, AMQP_SYNTAX_ERROR);
        size = amqputil_deep_header (frame, sizeof frame, 17, arrays);
        s_assert_refused (frame, size, AMQP_SYNTAX_ERROR);
    }
}

//  One value of every type, at the sizes RabbitMQ and rabbitmq-c give
//  them: the walker spans exactly what rabbitmq-c reads.
Test (amqp_hostile, the_walker_knows_every_field_type)
{
    uint8_t table[256];
    size_t pos = 4;
    const char types[] = "tbBsuIilLfdDSxTVFA";
    const int sizes[] = {1, 1, 1, 2,  2,  4, 4, 8,  8,
                         4, 8, 5, -1, -1, 8, 0, -1, -1};
    for (int i = 0; types[i]; i++) {
        table[pos++] = 1;
        table[pos++] = (uint8_t)('a' + i);
        table[pos++] = (uint8_t)types[i];
        if (sizes[i] >= 0) {
            memset (table + pos, 0x5a, (size_t)sizes[i]);
            pos += (size_t)sizes[i];
        } else {
            //  Two bytes of string, or an empty table or array.
            bool string = types[i] == 'S' || types[i] == 'x';
            memcpy (table + pos, string ? "\0\0\0\2hi" : "\0\0\0\0",
                    string ? 6 : 4);
            pos += string ? 6 : 4;
        }
    }
    uint32_t length = (uint32_t)(pos - 4);
    table[0] = 0;
    table[1] = 0;
    table[2] = (uint8_t)(length >> 8);
    table[3] = (uint8_t)length;
    cr_assert_eq (meshq_amqp_table_walk (table, pos, 16), (ssize_t)pos);
    amqp_pool_t pool;
    init_amqp_pool (&pool, 4096);
    amqp_table_t decoded;
    size_t offset = 0;
    amqp_bytes_t bytes = {pos, table};
    cr_assert_eq (amqp_decode_table (bytes, &pool, &decoded, &offset), 0);
    cr_assert_eq (offset, pos);
    cr_assert_eq (decoded.num_entries, 18);
    empty_amqp_pool (&pool);
    //  Each value cut by one byte is refused.
    for (size_t cut = 5; cut < pos; cut++) {
        table[2] = (uint8_t)((cut - 4) >> 8);
        table[3] = (uint8_t)(cut - 4);
        ssize_t rc = meshq_amqp_table_walk (table, pos, 16);
        cr_assert (rc == (ssize_t)cut || rc == MESHQ_EMALFORMED, "cut %zu",
                   cut);
    }
}

Test (amqp_hostile, malformed_tables_are_refused)
{
    //  Size beyond the bytes; too short for a size.
    cr_assert_eq (meshq_amqp_table_walk ((const uint8_t *)"\0\0\0\5ab", 6, 16),
                  MESHQ_EMALFORMED);
    cr_assert_eq (meshq_amqp_table_walk ((const uint8_t *)"\0\0\0", 3, 16),
                  MESHQ_EMALFORMED);
    //  A key longer than the table; a key without a value; unknown type.
    cr_assert_eq (meshq_amqp_table_walk ((const uint8_t *)"\0\0\0\2\5a", 6, 16),
                  MESHQ_EMALFORMED);
    cr_assert_eq (meshq_amqp_table_walk ((const uint8_t *)"\0\0\0\2\1a", 6, 16),
                  MESHQ_EMALFORMED);
    cr_assert_eq (
        meshq_amqp_table_walk ((const uint8_t *)"\0\0\0\3\1aZ", 7, 16),
        MESHQ_EMALFORMED);
    //  A string that runs past its table, though not past the bytes.
    cr_assert_eq (meshq_amqp_table_walk (
                      (const uint8_t *)"\0\0\0\7\1aS\0\0\0\2hi", 13, 16),
                  MESHQ_EMALFORMED);
    //  An inner table that runs past the outer one.
    cr_assert_eq (meshq_amqp_table_walk (
                      (const uint8_t *)"\0\0\0\7\1aF\0\0\0\2\1b", 13, 16),
                  MESHQ_EMALFORMED);
    //  The empty table, and trailing bytes left alone.
    cr_assert_eq (meshq_amqp_table_walk ((const uint8_t *)"\0\0\0\0xyz", 7, 16),
                  4);
    cr_assert_eq (meshq_amqp_table_walk ((const uint8_t *)"\0\0\0\0", 4, 0),
                  MESHQ_EDEPTH);
}

//  Garbage after a good start ends in an error or a wait, never a crash;
//  every byte flip of a valid stream is read to an end.
Test (amqp_hostile, every_byte_flip_of_a_stream_is_survived)
{
    uint8_t *stream = malloc (S_CAP);
    size_t size = amqputil_client_stream (stream, S_CAP, "Hello World!",
                                          MESHQ_AMQP_FRAME_MAX);
    for (size_t i = 8; i < size; i++) {
        for (int flip = 0; flip < 8; flip++) {
            stream[i] ^= (uint8_t)(1u << flip);
            meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
            size_t off = 0, used;
            meshq_amqp_event_t event;
            do {
                meshq_amqp_parser_parse (parser, stream + off, size - off,
                                         &used, &event);
                off += used;
            } while (event.type != MESHQ_AMQP_MORE &&
                     event.type != MESHQ_AMQP_ERROR);
            cr_assert (off <= size);
            if (event.type == MESHQ_AMQP_ERROR)
                cr_assert (event.reply_code >= 500 && event.reply_code < 600);
            meshq_amqp_parser_destroy (&parser);
            stream[i] ^= (uint8_t)(1u << flip);
        }
    }
    free (stream);
}

//  A table of n values: an entry "a" holding an array of n-1 voids.
static size_t
s_wide_table (uint8_t *buf, size_t n)
{
    size_t total = 4 + 3 + 4 + (n - 1);
    uint32_t outer = (uint32_t)(total - 4), inner = (uint32_t)(n - 1);
    for (int i = 0; i < 4; i++) {
        buf[i] = (uint8_t)(outer >> (24 - 8 * i));
        buf[7 + i] = (uint8_t)(inner >> (24 - 8 * i));
    }
    buf[4] = 1;
    buf[5] = 'a';
    buf[6] = 'A';
    memset (buf + 11, 'V', n - 1);
    return total;
}

//  rabbitmq-c spends some 40 bytes on each value: a frame of one-byte
//  values would cost 3 MB. 4096 values are read, 4097 refused.
Test (amqp_hostile, a_table_of_too_many_values_is_refused)
{
    uint8_t *table = malloc (MESHQ_AMQP_FRAME_MAX);
    size_t size = s_wide_table (table, MESHQ_AMQP_TABLE_VALUES);
    cr_assert_eq (meshq_amqp_table_walk (table, size, 16), (ssize_t)size);
    size = s_wide_table (table, MESHQ_AMQP_TABLE_VALUES + 1);
    cr_assert_eq (meshq_amqp_table_walk (table, size, 16), MESHQ_ETOOBIG);
    //  In a frame: Queue.Declare with 120,000 values.
    uint8_t *frame = malloc (MESHQ_AMQP_FRAME_MAX);
    const uint8_t head[] = {1, 0, 1, 0, 0, 0, 0, 0, 50, 0, 10, 0, 0, 1, 'q', 0};
    memcpy (frame, head, sizeof head);
    size = s_wide_table (frame + sizeof head, 120000);
    size_t payload = sizeof head - 7 + size;
    for (int i = 0; i < 4; i++)
        frame[3 + i] = (uint8_t)(payload >> (24 - 8 * i));
    frame[7 + payload] = 0xCE;
    int rc;
    meshq_amqp_event_t event = s_one (frame, payload + 8, &rc);
    cr_assert_eq (event.type, MESHQ_AMQP_ERROR);
    cr_assert_eq (event.reply_code, AMQP_SYNTAX_ERROR);
    cr_assert (strstr (event.reply_text, "4096 values"));
    free (frame);
    free (table);
}
