/*  test_amqp_wire.c - AMQP 0-9-1 frames through the module's parser and
    encoders: the methods pika uses round-trip, and any split of a stream,
    or any prefix of it, reads the same.
*/
#include "amqp_wire.h"
#include "amqputil.h"
#include "meshq.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define S_CAP (1u << 20)

//  What a parse produced, each event encoded back into frames.
typedef struct {
    uint8_t *bytes;
    size_t size;
    int events;
    bool protocol_ok;
    meshq_amqp_event_type_t last;
} s_result_t;

static void
s_reencode (s_result_t *result, const meshq_amqp_event_t *event)
{
    uint8_t *at = result->bytes + result->size;
    size_t cap = S_CAP - result->size;
    ssize_t rc = 0;
    switch (event->type) {
        case MESHQ_AMQP_PROTOCOL_OK:
            result->protocol_ok = true;
            return;
        case MESHQ_AMQP_METHOD:
            rc = meshq_amqp_encode_method (at, cap, MESHQ_AMQP_FRAME_MAX,
                                           event->channel, event->method.id,
                                           event->method.decoded);
            break;
        case MESHQ_AMQP_HEADER:
            rc = meshq_amqp_encode_header (at, cap, MESHQ_AMQP_FRAME_MAX,
                                           event->channel, event->body_size,
                                           event->properties);
            break;
        case MESHQ_AMQP_BODY:
            rc = meshq_amqp_encode_body (at, cap, MESHQ_AMQP_FRAME_MAX,
                                         event->channel, event->body,
                                         event->body_chunk);
            break;
        case MESHQ_AMQP_HEARTBEAT:
            rc = meshq_amqp_encode_heartbeat (at, cap);
            break;
        default:
            cr_assert (false, "unexpected event %d (%s)", event->type,
                       event->reply_text ? event->reply_text : "");
    }
    cr_assert_geq (rc, 0);
    result->size += (size_t)rc;
}

//  Parses data in pieces of at most chunk bytes (cut first at cut).
static s_result_t
s_parse (const uint8_t *data, size_t size, size_t cut, size_t chunk)
{
    s_result_t result = {malloc (S_CAP), 0, 0, false, MESHQ_AMQP_MORE};
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    size_t off = 0;
    while (off < size) {
        size_t end = off < cut && cut < size ? cut : size;
        if (end - off > chunk)
            end = off + chunk;
        //  Copied, so that no event may point into bytes already gone.
        size_t piece = end - off;
        uint8_t *copy = malloc (piece);
        memcpy (copy, data + off, piece);
        size_t taken = 0;
        while (true) {
            size_t used;
            meshq_amqp_event_t event;
            meshq_amqp_parser_parse (parser, copy + taken, piece - taken, &used,
                                     &event);
            taken += used;
            result.last = event.type;
            if (event.type == MESHQ_AMQP_MORE)
                break;
            if (event.type == MESHQ_AMQP_ERROR ||
                event.type == MESHQ_AMQP_PROTOCOL_BAD) {
                free (copy);
                meshq_amqp_parser_destroy (&parser);
                return result;
            }
            result.events++;
            s_reencode (&result, &event);
        }
        cr_assert_eq (taken, piece);
        free (copy);
        off = end;
    }
    meshq_amqp_parser_destroy (&parser);
    return result;
}

static size_t
s_client (uint8_t *buf)
{
    return amqputil_client_stream (buf, S_CAP, "Hello World!",
                                   MESHQ_AMQP_FRAME_MAX);
}

Test (amqp_wire, pika_client_methods_round_trip)
{
    uint8_t *stream = malloc (S_CAP);
    size_t size = s_client (stream);
    s_result_t result = s_parse (stream, size, 0, SIZE_MAX);
    cr_assert (result.protocol_ok);
    cr_assert_eq (result.last, MESHQ_AMQP_MORE);
    cr_assert_eq (result.events, 16);
    cr_assert_eq (result.size, size - 8);
    cr_assert (memcmp (result.bytes, stream + 8, result.size) == 0);
    free (result.bytes);
    free (stream);
}

Test (amqp_wire, server_methods_round_trip)
{
    uint8_t *stream = malloc (S_CAP);
    size_t size = amqputil_server_stream (stream, S_CAP, "Hello World!",
                                          MESHQ_AMQP_FRAME_MAX);
    s_result_t result = s_parse (stream, size, 0, SIZE_MAX);
    cr_assert (result.protocol_ok);
    cr_assert_eq (result.last, MESHQ_AMQP_MORE);
    cr_assert_eq (result.events, 13);
    cr_assert_eq (result.size, size - 8);
    cr_assert (memcmp (result.bytes, stream + 8, result.size) == 0);
    free (result.bytes);
    free (stream);
}

//  Reads the client stream event by event and checks what a channel
//  will rely on.
Test (amqp_wire, decoded_fields_are_what_pika_sent)
{
    uint8_t *stream = malloc (S_CAP);
    size_t size = s_client (stream);
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    meshq_amqp_event_t event;
    size_t off = 0, used;
    int seen = 0;
    while (meshq_amqp_parser_parse (parser, stream + off, size - off, &used,
                                    &event) == 0 &&
           event.type != MESHQ_AMQP_MORE) {
        off += used;
        if (event.type == MESHQ_AMQP_METHOD) {
            if (event.method.id == AMQP_CONNECTION_START_OK_METHOD) {
                amqp_connection_start_ok_t *m = event.method.decoded;
                cr_assert_eq (m->mechanism.len, 5);
                cr_assert (memcmp (m->mechanism.bytes, "PLAIN", 5) == 0);
                cr_assert_eq (m->response.len, 12);
                cr_assert_eq (m->client_properties.num_entries, 2);
                cr_assert_eq (m->client_properties.entries[1].value.kind,
                              AMQP_FIELD_KIND_TABLE);
                seen++;
            }
            if (event.method.id == AMQP_QUEUE_DECLARE_METHOD) {
                amqp_queue_declare_t *m = event.method.decoded;
                cr_assert_eq (event.channel, 1);
                cr_assert_eq (m->queue.len, 8);
                cr_assert (memcmp (m->queue.bytes, "my_queue", 8) == 0);
                cr_assert (m->durable);
                cr_assert_eq (m->arguments.entries[0].value.value.i64, 1000);
                seen++;
            }
            if (event.method.id == AMQP_BASIC_PUBLISH_METHOD) {
                amqp_basic_publish_t *m = event.method.decoded;
                cr_assert_eq (m->exchange.len, 0);
                cr_assert (m->mandatory);
                seen++;
            }
        }
        if (event.type == MESHQ_AMQP_HEADER) {
            cr_assert_eq (event.class_id, AMQP_BASIC_CLASS);
            cr_assert_eq (event.body_size, 12);
            cr_assert_eq (event.properties->delivery_mode, 2);
            cr_assert_eq (event.properties->headers.num_entries, 2);
            seen++;
        }
        if (event.type == MESHQ_AMQP_BODY) {
            cr_assert_eq (event.body_chunk, 12);
            cr_assert (memcmp (event.body, "Hello World!", 12) == 0);
            seen++;
        }
        if (event.type == MESHQ_AMQP_HEARTBEAT) {
            cr_assert_eq (event.channel, 0);
            seen++;
        }
    }
    cr_assert_eq (event.type, MESHQ_AMQP_MORE);
    cr_assert_eq (seen, 6);
    meshq_amqp_parser_destroy (&parser);
    free (stream);
}

Test (amqp_wire, a_stream_split_at_every_byte_reads_the_same)
{
    uint8_t *stream = malloc (S_CAP);
    size_t size = s_client (stream);
    s_result_t whole = s_parse (stream, size, 0, SIZE_MAX);
    for (size_t cut = 1; cut < size; cut++) {
        s_result_t split = s_parse (stream, size, cut, SIZE_MAX);
        cr_assert_eq (split.last, MESHQ_AMQP_MORE, "cut at %zu", cut);
        cr_assert_eq (split.events, whole.events, "cut at %zu", cut);
        cr_assert_eq (split.size, whole.size);
        cr_assert (memcmp (split.bytes, whole.bytes, whole.size) == 0);
        free (split.bytes);
    }
    s_result_t bytewise = s_parse (stream, size, 0, 1);
    cr_assert_eq (bytewise.events, whole.events);
    cr_assert (memcmp (bytewise.bytes, whole.bytes, whole.size) == 0);
    free (bytewise.bytes);
    free (whole.bytes);
    free (stream);
}

//  Every prefix of a valid stream is a valid start: no error, and what
//  it yields is the start of what the whole stream yields.
Test (amqp_wire, every_prefix_of_a_stream_waits_for_more)
{
    uint8_t *stream = malloc (S_CAP);
    size_t size = s_client (stream);
    s_result_t whole = s_parse (stream, size, 0, SIZE_MAX);
    for (size_t prefix = 0; prefix <= size; prefix++) {
        s_result_t part = s_parse (stream, prefix, 0, SIZE_MAX);
        cr_assert_eq (part.last, MESHQ_AMQP_MORE, "prefix %zu", prefix);
        cr_assert_leq (part.events, whole.events);
        cr_assert_leq (part.size, whole.size);
        cr_assert (memcmp (part.bytes, whole.bytes, part.size) == 0);
        cr_assert_eq (part.protocol_ok, prefix >= 8);
        free (part.bytes);
    }
    free (whole.bytes);
    free (stream);
}

Test (amqp_wire, a_body_is_split_at_frame_max)
{
    char *body = malloc (10001);
    for (int i = 0; i < 10000; i++)
        body[i] = (char)('a' + i % 26);
    body[10000] = 0;
    cr_assert_eq (meshq_amqp_body_frames_size (10000, 4096),
                  10000 + 3 * MESHQ_AMQP_FRAME_OVERHEAD);
    cr_assert_eq (meshq_amqp_body_frames_size (0, 4096), 0);
    uint8_t *stream = malloc (S_CAP);
    size_t size = amqputil_client_stream (stream, S_CAP, body, 4096);
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    cr_assert_eq (meshq_amqp_parser_set_frame_max (parser, 4096), 0);
    cr_assert_eq (meshq_amqp_parser_frame_max (parser), 4096);
    char *got = calloc (1, 10001);
    size_t have = 0, off = 0, used;
    int chunks = 0;
    meshq_amqp_event_t event;
    while (meshq_amqp_parser_parse (parser, stream + off, size - off, &used,
                                    &event) == 0 &&
           event.type != MESHQ_AMQP_MORE) {
        off += used;
        if (event.type == MESHQ_AMQP_HEADER)
            cr_assert_eq (event.body_size, 10000);
        if (event.type == MESHQ_AMQP_BODY) {
            cr_assert_leq (event.body_chunk, 4096 - 8);
            memcpy (got + have, event.body, event.body_chunk);
            have += event.body_chunk;
            chunks++;
        }
    }
    cr_assert_eq (event.type, MESHQ_AMQP_MORE);
    cr_assert_eq (chunks, 3);
    cr_assert_eq (have, 10000);
    cr_assert_str_eq (got, body);
    meshq_amqp_parser_destroy (&parser);
    free (got);
    free (stream);
    free (body);
}

Test (amqp_wire, frame_max_outside_the_spec_is_refused_or_capped)
{
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    cr_assert_eq (meshq_amqp_parser_set_frame_max (parser, 4095), MESHQ_EINVAL);
    cr_assert_eq (meshq_amqp_parser_frame_max (parser), MESHQ_AMQP_FRAME_MAX);
    cr_assert_eq (meshq_amqp_parser_set_frame_max (parser, 0), 0);
    cr_assert_eq (meshq_amqp_parser_frame_max (parser), MESHQ_AMQP_FRAME_MAX);
    cr_assert_eq (meshq_amqp_parser_set_frame_max (parser, 1u << 30), 0);
    cr_assert_eq (meshq_amqp_parser_frame_max (parser), MESHQ_AMQP_FRAME_MAX);
    meshq_amqp_parser_destroy (&parser);
    meshq_amqp_parser_destroy (&parser);
}

Test (amqp_wire, encoders_refuse_what_does_not_fit)
{
    uint8_t buf[64];
    amqp_basic_ack_t ack = {1, 0};
    cr_assert_eq (meshq_amqp_encode_method (buf, 10, MESHQ_AMQP_FRAME_MAX, 1,
                                            AMQP_BASIC_ACK_METHOD, &ack),
                  MESHQ_ETOOBIG);
    cr_assert_eq (meshq_amqp_encode_method (buf, sizeof buf,
                                            MESHQ_AMQP_FRAME_MAX, 1,
                                            AMQP_BASIC_ACK_METHOD, &ack),
                  8 + 4 + 9);
    cr_assert_eq (meshq_amqp_encode_method (buf, sizeof buf,
                                            MESHQ_AMQP_FRAME_MAX, 1, 0x00FF00FF,
                                            &ack),
                  MESHQ_EINVAL);
    cr_assert_eq (
        meshq_amqp_encode_body (buf, sizeof buf, 4096, 1, "0123456789", 10),
        18);
    cr_assert_eq (meshq_amqp_encode_body (buf, 17, 4096, 1, "0123456789", 10),
                  MESHQ_ETOOBIG);
    cr_assert_eq (meshq_amqp_encode_heartbeat (buf, 7), MESHQ_ETOOBIG);
    //  No frame_max is below the spec's floor: a body is never cut into
    //  frames smaller than 4096 bytes, however small the number given.
    cr_assert_eq (meshq_amqp_body_frames_size (10000, 1),
                  meshq_amqp_body_frames_size (10000, 4096));
    cr_assert_eq (meshq_amqp_body_frames_size (10000, 0), 10008);
    //  A method bigger than frame_max: a long reply text under 4096.
    static uint8_t big[8192];
    char text[256];
    memset (text, 'x', 255);
    text[255] = 0;
    amqp_table_entry_t entries[20];
    for (int i = 0; i < 20; i++) {
        entries[i].key = amqp_cstring_bytes ("k");
        entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
        entries[i].value.value.bytes = amqp_cstring_bytes (text);
    }
    amqp_queue_declare_t declare = {
        0, amqp_cstring_bytes ("q"), 0, 0, 0, 0, 0, {20, entries}};
    cr_assert_eq (meshq_amqp_encode_method (big, sizeof big, 4096, 1,
                                            AMQP_QUEUE_DECLARE_METHOD,
                                            &declare),
                  MESHQ_ETOOBIG);
    cr_assert_gt (meshq_amqp_encode_method (big, sizeof big, 8192, 1,
                                            AMQP_QUEUE_DECLARE_METHOD,
                                            &declare),
                  4096);
}
