/*  test_codec_control.c - requests to an agent and its replies: STATUS,
    LIST_PEERS, STATS, ERROR, and the map helpers behind --json.
*/
#include "codec_control.h"
#include "codec_json.h"
#include "codec_writer.h"
#include "meshq.h"

#include <criterion/criterion.h>

static meshq_span_t
s_span (const char *text)
{
    return (meshq_span_t){text, (uint32_t)strlen (text)};
}

static bool
s_is (meshq_span_t span, const char *text)
{
    return span.size == strlen (text) &&
           memcmp (span.data, text, span.size) == 0;
}

Test (codec_control, request_round_trips_and_skips_other_keys)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_request (42, &buf), 0);
    uint64_t rid = 0;
    cr_expect_eq (meshq_codec_decode_request (buf.data, buf.size, &rid, NULL),
                  0);
    cr_expect_eq (rid, 42);
    meshq_buf_reset (&buf);
    meshq_writer_t w;
    meshq_writer_init (&w, &buf);
    meshq_writer_map (&w, 2);
    meshq_writer_str (&w, "vhost");
    meshq_writer_str (&w, "/");
    meshq_writer_str (&w, "rid");
    meshq_writer_uint (&w, 7);
    cr_expect_eq (meshq_codec_decode_request (buf.data, buf.size, &rid, NULL),
                  0);
    cr_expect_eq (rid, 7);
    //  No rid.
    meshq_buf_reset (&buf);
    meshq_writer_map (&w, 0);
    const char *why;
    cr_expect_eq (meshq_codec_decode_request (buf.data, buf.size, &rid, &why),
                  MESHQ_EMALFORMED);
    cr_expect_str_eq (why, "request rid: missing");
    meshq_buf_fini (&buf);
}

Test (codec_control, error_round_trips)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_error_reply_t error = {9, MESHQ_ENOTSUP,
                                 s_span ("unknown command 'FOO'")},
                        back;
    cr_assert_eq (meshq_codec_encode_error (&error, &buf), 0);
    cr_assert_eq (meshq_codec_decode_error (buf.data, buf.size, &back, NULL),
                  0);
    cr_expect_eq (back.rid, 9);
    cr_expect_eq (back.code, MESHQ_ENOTSUP);
    cr_expect (s_is (back.why, "unknown command 'FOO'"));
    meshq_buf_fini (&buf);
}

static meshq_status_t
s_status (void)
{
    return (meshq_status_t){
        .rid = 1,
        .node = s_span ("00112233445566778899aabbccddeeff"),
        .name = s_span ("a"),
        .mesh = s_span ("default"),
        .vhost = s_span ("/"),
        .version = s_span ("0.1.0"),
        .endpoint = s_span ("tcp://127.0.0.1:49152"),
        .uptime_ms = 1234,
        .peers = 2,
    };
}

Test (codec_control, status_round_trips)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_status_t status = s_status (), back;
    cr_assert_eq (meshq_codec_encode_status (&status, &buf), 0);
    const char *why = NULL;
    cr_assert_eq (meshq_codec_decode_status (buf.data, buf.size, &back, &why),
                  0, "%s", why);
    cr_expect (s_is (back.node, "00112233445566778899aabbccddeeff"));
    cr_expect (s_is (back.endpoint, "tcp://127.0.0.1:49152"));
    cr_expect_eq (back.uptime_ms, 1234);
    cr_expect_eq (back.peers, 2);
    //  Every prefix fails.
    for (size_t size = 0; size < buf.size; size++)
        cr_expect_lt (meshq_codec_decode_status (buf.data, size, &back, NULL),
                      0);
    meshq_buf_fini (&buf);
}

static void
s_rows (meshq_peer_row_t rows[2])
{
    rows[0] = (meshq_peer_row_t){s_span ("aa"),
                                 s_span ("b"),
                                 s_span ("tcp://127.0.0.1:2"),
                                 s_span ("up"),
                                 5,
                                 100};
    rows[1] = (meshq_peer_row_t){s_span ("bb"),
                                 s_span ("c\"q"),
                                 s_span ("tcp://127.0.0.1:3"),
                                 s_span ("down"),
                                 6,
                                 3000};
}

Test (codec_control, peer_list_round_trips)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_peer_row_t rows[2], back[4];
    s_rows (rows);
    cr_assert_eq (meshq_codec_encode_peer_list (3, rows, 2, &buf), 0);
    uint64_t rid;
    uint32_t count;
    const char *why = NULL;
    cr_assert_eq (meshq_codec_decode_peer_list (buf.data, buf.size, &rid, back,
                                                4, &count, &why),
                  0, "%s", why);
    cr_expect_eq (rid, 3);
    cr_assert_eq (count, 2);
    cr_expect (s_is (back[1].name, "c\"q"));
    cr_expect (s_is (back[1].state, "down"));
    cr_expect_eq (back[1].last_seen_ms, 3000);
    //  Less room than rows.
    cr_expect_eq (meshq_codec_decode_peer_list (buf.data, buf.size, &rid, back,
                                                1, &count, &why),
                  MESHQ_ETOOBIG);
    for (size_t size = 0; size < buf.size; size++)
        cr_expect_lt (meshq_codec_decode_peer_list (buf.data, size, &rid, back,
                                                    4, &count, NULL),
                      0);
    meshq_buf_fini (&buf);
}

Test (codec_control, peer_list_becomes_json_objects)
{
    meshq_buf_t buf, json;
    meshq_buf_init (&buf);
    meshq_buf_init (&json);
    meshq_peer_row_t rows[2];
    s_rows (rows);
    cr_assert_eq (meshq_codec_encode_peer_list (3, rows, 2, &buf), 0);
    meshq_span_t peers;
    cr_assert_eq (meshq_codec_map_get (buf.data, buf.size, "peers", &peers), 0);
    cr_assert_eq (meshq_codec_json (peers.data, peers.size, &json), 0);
    cr_expect_str_eq (
        (char *)json.data,
        "[{\"id\":\"aa\",\"name\":\"b\",\"endpoint\":\"tcp://127.0.0.1:2\","
        "\"state\":\"up\",\"incarnation\":5,\"last_seen_ms\":100},"
        "{\"id\":\"bb\",\"name\":\"c\\\"q\",\"endpoint\":\"tcp://127.0.0.1:3\","
        "\"state\":\"down\",\"incarnation\":6,\"last_seen_ms\":3000}]");
    meshq_span_t none;
    cr_expect_eq (meshq_codec_map_get (buf.data, buf.size, "nope", &none),
                  MESHQ_ENOTFOUND);
    meshq_buf_fini (&buf);
    meshq_buf_fini (&json);
}

Test (codec_control, map_without_drops_one_key)
{
    meshq_buf_t buf, out, json;
    meshq_buf_init (&buf);
    meshq_buf_init (&out);
    meshq_buf_init (&json);
    meshq_status_t status = s_status ();
    cr_assert_eq (meshq_codec_encode_status (&status, &buf), 0);
    cr_assert_eq (meshq_codec_map_without (buf.data, buf.size, "rid", &out), 0);
    cr_assert_eq (meshq_codec_json (out.data, out.size, &json), 0);
    cr_expect_str_eq ((char *)json.data,
                      "{\"node\":\"00112233445566778899aabbccddeeff\","
                      "\"name\":\"a\",\"mesh\":\"default\",\"vhost\":\"/\","
                      "\"version\":\"0.1.0\",\"endpoint\":"
                      "\"tcp://127.0.0.1:49152\",\"uptime_ms\":1234,"
                      "\"peers\":2}");
    meshq_buf_reset (&out);
    cr_expect_lt (meshq_codec_map_without (buf.data, buf.size - 1, "rid", &out),
                  0);
    cr_expect_eq (out.size, 0);
    meshq_buf_fini (&buf);
    meshq_buf_fini (&out);
    meshq_buf_fini (&json);
}

Test (codec_control, counters_round_trip)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_counter_t counters[3] = {{s_span ("beacons_sent"), 10},
                                   {s_span ("beacons_dropped_size"), 100000},
                                   {s_span ("x"), UINT64_MAX}},
                    back[4];
    cr_assert_eq (meshq_codec_encode_counters (5, counters, 3, &buf), 0);
    uint32_t count;
    cr_assert_eq (
        meshq_codec_decode_counters (buf.data, buf.size, back, 4, &count, NULL),
        0);
    cr_assert_eq (count, 3);  //  rid is not a counter.
    cr_expect (s_is (back[1].name, "beacons_dropped_size"));
    cr_expect_eq (back[1].value, 100000);
    cr_expect_eq (back[2].value, UINT64_MAX);
    cr_expect_eq (
        meshq_codec_decode_counters (buf.data, buf.size, back, 2, &count, NULL),
        MESHQ_ETOOBIG);
    meshq_buf_fini (&buf);
}
