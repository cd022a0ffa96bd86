/*  test_codec_args.c - the argument maps of client and peer frames. */
#include "codec.h"
#include "codec_args.h"
#include "codec_writer.h"
#include "testutil.h"

#include <criterion/criterion.h>

Test (codec_args, round_trips_every_kind)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 77);
    MESHQ_ARGS_SET (&args, CODE, code, MESHQ_ENOTFOUND);
    MESHQ_ARGS_SET (&args, WHY, why, meshq_span ("no queue 'jobs'"));
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("jobs"));
    MESHQ_ARGS_SET (&args, DURABLE, durable, true);
    MESHQ_ARGS_SET (&args, DTAG, dtag, UINT64_MAX);
    uint8_t id[16] = {1, 2, 3};
    memcpy (args.origin, id, 16);
    MESHQ_ARGS_MARK (&args, ORIGIN);
    meshq_header_t match[2] = {{{"x-match", 7}, {.type = MESHQ_VALUE_STR}},
                               {{"format", 6}, {.type = MESHQ_VALUE_STR}}};
    match[0].value.u.bytes.data = "all";
    match[0].value.u.bytes.size = 3;
    match[1].value.u.bytes.data = "pdf";
    match[1].value.u.bytes.size = 3;
    meshq_buf_t entries;
    meshq_buf_init (&entries);
    const char *why = NULL;
    cr_assert_eq (meshq_codec_encode_headers (match, 2, &entries, &why), 0);
    meshq_span_t span = {(const char *)entries.data, (uint32_t)entries.size};
    MESHQ_ARGS_SET (&args, MATCH, match, span);
    args.match_count = 2;

    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_args (&args, &buf, &why), 0);
    meshq_args_t copy;
    int rc = meshq_codec_decode_args (buf.data, buf.size, &copy, &why);
    cr_assert_eq (rc, 0, "%s", why);
    cr_expect_eq (copy.present, args.present);
    cr_expect_eq (copy.rid, 77);
    cr_expect_eq (copy.code, MESHQ_ENOTFOUND);
    cr_expect_eq (copy.why.size, 15);
    cr_expect_eq (memcmp (copy.queue.data, "jobs", 4), 0);
    cr_expect (copy.durable);
    cr_expect_eq (copy.dtag, UINT64_MAX);
    cr_expect_arr_eq (copy.origin, id, 16);
    cr_expect_eq (copy.match_count, 2);
    cr_expect_eq (copy.match.size, entries.size);
    meshq_buf_fini (&buf);
    meshq_buf_fini (&entries);
}

Test (codec_args, skips_unknown_keys_in_any_order)
{
    //  {"zz": [1, {"a": 2}], "q": "jobs", "rid": 5}
    uint8_t data[64];
    size_t size = testutil_unhex (
        "83a27a7a920181a16102a171a46a6f6273a372696405", data, sizeof data);
    meshq_args_t args;
    const char *why = NULL;
    cr_assert_eq (meshq_codec_decode_args (data, size, &args, &why), 0, "%s",
                  why);
    cr_expect (MESHQ_ARGS_HAS (&args, QUEUE));
    cr_expect (MESHQ_ARGS_HAS (&args, RID));
    cr_expect_eq (args.rid, 5);
}

Test (codec_args, refuses_bad_arguments_with_a_reason)
{
    struct {
        const char *hex;
        int code;
        const char *reason;
    } cases[] = {
        {"82a372696401a372696402", MESHQ_EDUPKEY, "rid: duplicate"},
        {"81a3726964a131", MESHQ_ETYPE, "rid: wrong type"},
        {"81a171da012c", MESHQ_ETOOBIG, "q: too long"},
        {"81a16fc40401020304", MESHQ_ERANGE, "o: out of range"},
        {"81a37269", MESHQ_ETRUNCATED, "argument key: truncated"},
        {"9101", MESHQ_ETYPE, "arguments: wrong type"},
        {"80c0", MESHQ_EMALFORMED, "after the end"},
        {"81a27a7ac1", MESHQ_EMALFORMED, "unknown argument"},
        {"df00010000", MESHQ_ETOOBIG, "arguments: too long"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t data[64];
        size_t size = testutil_unhex (cases[i].hex, data, sizeof data);
        meshq_args_t args;
        const char *why = NULL;
        int rc = meshq_codec_decode_args (data, size, &args, &why);
        cr_expect_eq (rc, cases[i].code, "%s: %s (%s)", cases[i].hex,
                      meshq_strerror (rc), why ? why : "-");
        if (rc)
            cr_expect (why && strstr (why, cases[i].reason), "%s: '%s'",
                       cases[i].hex, why ? why : "-");
    }
}

Test (codec_args, lists_round_trip)
{
    meshq_args_t rows[3];
    memset (rows, 0, sizeof rows);
    const char *names[3] = {"a", "bb", "ccc"};
    for (int i = 0; i < 3; i++) {
        MESHQ_ARGS_SET (&rows[i], QUEUE, queue, meshq_span (names[i]));
        MESHQ_ARGS_SET (&rows[i], MESSAGES, messages, (uint64_t)i * 10);
    }
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_list (9, "queues", rows, 3, &buf, NULL),
                  0);
    uint64_t rid;
    meshq_span_t cursor;
    uint32_t count;
    const char *why = NULL;
    cr_assert_eq (meshq_codec_decode_list (buf.data, buf.size, "queues", &rid,
                                           &cursor, &count, &why),
                  0, "%s", why);
    cr_expect_eq (rid, 9);
    cr_expect_eq (count, 3);
    meshq_args_t row;
    int seen = 0;
    while (meshq_codec_list_next (&cursor, &row)) {
        cr_expect_eq (row.queue.size, strlen (names[seen]));
        cr_expect_eq (row.messages, (uint64_t)seen * 10);
        seen++;
    }
    cr_expect_eq (seen, 3);
    cr_expect_eq (meshq_codec_decode_list (buf.data, buf.size, "peers", &rid,
                                           &cursor, &count, &why),
                  MESHQ_EMALFORMED);
    meshq_buf_fini (&buf);
}

Test (codec_args, round_trips_batched_deliveries)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    const char *envelopes[3] = {"\x81\xa1v\x01", "", "\x82\xa1v\x01\xa1k\xa1q"};
    for (int i = 0; i < 3; i++) {
        meshq_delivery_item_t item = {.dtag = (uint64_t)i + 1,
                                      .seq = UINT64_MAX - (uint64_t)i,
                                      .count = (uint64_t)i + 1,
                                      .redelivered = i == 2,
                                      .envelope = meshq_span (envelopes[i])};
        cr_assert_eq (meshq_codec_encode_delivery (&item, &buf), 0);
    }
    meshq_span_t cursor = {(const char *)buf.data, (uint32_t)buf.size};
    for (int i = 0; i < 3; i++) {
        meshq_delivery_item_t item;
        const char *why = NULL;
        int rc = meshq_codec_decode_delivery (&cursor, 1000, &item, &why);
        cr_assert_eq (rc, 0, "%s", why);
        cr_expect_eq (item.dtag, (uint64_t)i + 1);
        cr_expect_eq (item.seq, UINT64_MAX - (uint64_t)i);
        cr_expect_eq (item.count, (uint64_t)i + 1);
        cr_expect_eq (item.redelivered, i == 2);
        cr_expect_eq (item.envelope.size, strlen (envelopes[i]));
        cr_expect_eq (
            memcmp (item.envelope.data, envelopes[i], item.envelope.size), 0);
    }
    cr_expect_eq (cursor.size, 0);
    meshq_buf_fini (&buf);
}

Test (codec_args, refuses_truncated_and_malformed_deliveries)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_delivery_item_t item = {.dtag = 1000,
                                  .seq = 1ULL << 40,
                                  .count = 3,
                                  .envelope = meshq_span ("\x81\xa1v\x01")};
    cr_assert_eq (meshq_codec_encode_delivery (&item, &buf), 0);
    for (size_t size = 0; size < buf.size; size++) {
        meshq_span_t cursor = {(const char *)buf.data, (uint32_t)size};
        const char *why = NULL;
        cr_expect_lt (meshq_codec_decode_delivery (&cursor, 1000, &item, &why),
                      0, "prefix of %zu bytes", size);
        cr_expect_not_null (why);
    }
    //  An envelope above the cap, and an array of another length.
    meshq_span_t cursor = {(const char *)buf.data, (uint32_t)buf.size};
    cr_expect_eq (meshq_codec_decode_delivery (&cursor, 3, &item, NULL),
                  MESHQ_ETOOBIG);
    buf.data[0] = 0x94;
    cr_expect_eq (meshq_codec_decode_delivery (&cursor, 1000, &item, NULL),
                  MESHQ_EMALFORMED);
    meshq_buf_fini (&buf);
}

Test (codec_args, round_trips_publish_items)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    const char *envelopes[] = {"\x81\xa1v\x01", "first", ""};
    for (int i = 0; i < 3; i++) {
        meshq_publish_item_t item = {.mandatory = i == 1,
                                     .envelope = meshq_span (envelopes[i])};
        cr_assert_eq (meshq_codec_encode_publish (&item, &buf), 0);
    }
    meshq_span_t cursor = {(const char *)buf.data, (uint32_t)buf.size};
    for (int i = 0; i < 3; i++) {
        meshq_publish_item_t item;
        const char *why = NULL;
        int rc = meshq_codec_decode_publish (&cursor, 1000, &item, &why);
        cr_assert_eq (rc, 0, "%s", why);
        cr_expect_eq (item.mandatory, i == 1);
        cr_expect_eq (item.envelope.size, strlen (envelopes[i]));
        cr_expect_eq (
            memcmp (item.envelope.data, envelopes[i], item.envelope.size), 0);
    }
    cr_expect_eq (cursor.size, 0);
    meshq_buf_fini (&buf);
}

Test (codec_args, refuses_truncated_and_malformed_publish_items)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_publish_item_t item = {.mandatory = true,
                                 .envelope = meshq_span ("envelope")};
    cr_assert_eq (meshq_codec_encode_publish (&item, &buf), 0);
    for (size_t size = 0; size < buf.size; size++) {
        meshq_span_t cursor = {(const char *)buf.data, (uint32_t)size};
        const char *why = NULL;
        cr_expect_lt (meshq_codec_decode_publish (&cursor, 1000, &item, &why),
                      0, "prefix of %zu bytes", size);
        cr_expect_not_null (why);
    }
    //  An envelope above the cap, a mandatory flag that is not a bool,
    //  and an array of another length.
    meshq_span_t cursor = {(const char *)buf.data, (uint32_t)buf.size};
    cr_expect_eq (meshq_codec_decode_publish (&cursor, 3, &item, NULL),
                  MESHQ_ETOOBIG);
    buf.data[1] = 0x01;
    cr_expect_eq (meshq_codec_decode_publish (&cursor, 1000, &item, NULL),
                  MESHQ_ETYPE);
    buf.data[1] = 0xc3;
    buf.data[0] = 0x93;
    cr_expect_eq (meshq_codec_decode_publish (&cursor, 1000, &item, NULL),
                  MESHQ_EMALFORMED);
    meshq_buf_fini (&buf);
}

Test (codec_args, a_map_at_the_head_of_a_frame_says_where_it_ends)
{
    //  The one-frame form of a command: verb, map, envelope.
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, SEQ, seq, 7);
    MESHQ_ARGS_SET (&args, MANDATORY, mandatory, true);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_args (&args, &buf, NULL), 0);
    size_t map_size = buf.size;
    cr_assert_eq (meshq_buf_append (&buf, "\x81\xa1v\x01", 4), 0);
    meshq_args_t decoded;
    size_t used = 0;
    const char *why = NULL;
    cr_assert_eq (meshq_codec_decode_args_head (buf.data, buf.size, &decoded,
                                                &used, &why),
                  0, "%s", why);
    cr_expect_eq (used, map_size);
    cr_expect_eq (decoded.seq, 7);
    cr_expect (decoded.mandatory);
    //  The whole frame is no map of arguments alone.
    cr_expect_neq (meshq_codec_decode_args (buf.data, buf.size, &decoded, NULL),
                   0);
    //  A map cut short is refused, and says so.
    cr_expect_neq (meshq_codec_decode_args_head (buf.data, map_size - 1,
                                                 &decoded, &used, &why),
                   0);
    cr_expect_eq (used, 0);
    meshq_buf_fini (&buf);
}
