/*  test_codec.c - the envelope on the wire: vectors, round trips and every
    class of malformed input.
*/
#include "codec.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <math.h>

static const uint8_t s_origin[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                     8, 9, 10, 11, 12, 13, 14, 15};

//  Encodes msg and returns the bytes (free them) and their size.
static uint8_t *
s_encode (const meshq_msg_t *msg, size_t *size)
{
    uint8_t *data = NULL;
    cr_assert_eq (meshq_msg_encode (msg, &data, size), 0);
    return data;
}

//  Encodes msg, decodes the bytes and returns the copy.
static meshq_msg_t *
s_round_trip (const meshq_msg_t *msg)
{
    size_t size;
    uint8_t *data = s_encode (msg, &size);
    meshq_msg_t *copy = NULL;
    const char *why = NULL;
    int rc = meshq_msg_decode (data, size, 0, &copy, &why);
    cr_assert_eq (rc, 0, "decode failed: %s (%s)", meshq_strerror (rc),
                  why ? why : "-");
    //  And the copy encodes to the same bytes.
    size_t again_size;
    uint8_t *again = s_encode (copy, &again_size);
    cr_assert_eq (again_size, size);
    cr_assert_arr_eq (again, data, size);
    free (again);
    free (data);
    return copy;
}

//  Decodes hex; returns the code and sets *why.
static int
s_decode_hex (const char *hex, size_t max_body, const char **why)
{
    uint8_t data[4096];
    size_t size = testutil_unhex (hex, data, sizeof data);
    cr_assert_leq (size, sizeof data);
    meshq_envelope_t envelope;
    *why = NULL;
    int rc = meshq_codec_decode_envelope (data, size, max_body, &envelope, why);
    if (rc)
        cr_assert_not_null (*why, "a refusal must give a reason");
    return rc;
}

static void
s_expect (const char *hex, int code, const char *reason_part)
{
    const char *why;
    int rc = s_decode_hex (hex, 1024, &why);
    cr_expect_eq (rc, code, "%s: got %s (%s), expected %s", hex,
                  meshq_strerror (rc), why ? why : "-", meshq_strerror (code));
    if (rc && reason_part)
        cr_expect (strstr (why, reason_part), "reason '%s' lacks '%s'", why,
                   reason_part);
}

// --------------------------------------------------------------------
//  Test vectors made by an independent encoder (tests/vectors/).

static meshq_msg_t *
s_vector_msg (const char *name)
{
    meshq_msg_t *msg = meshq_msg_new ();
    if (strcmp (name, "hello") == 0) {
        meshq_msg_set_routing_key (msg, "my_queue");
        meshq_msg_set_body (msg, "Hello World!", 12);
    } else if (strcmp (name, "full") == 0) {
        meshq_msg_set_id (msg, s_origin, 4294967296ULL);
        meshq_msg_set_exchange (msg, "logs");
        meshq_msg_set_routing_key (msg, "kern.critical");
        meshq_msg_set_content_type (msg, "application/json");
        meshq_msg_set_content_encoding (msg, "gzip");
        meshq_msg_set_header_str (msg, "x-str", "value");
        meshq_msg_set_header_int (msg, "x-int", -129);
        meshq_msg_set_header_int (msg, "x-big", 300);
        meshq_value_t value = {.type = MESHQ_VALUE_BOOL};
        value.u.boolean = true;
        meshq_msg_set_header (msg, "x-true", &value);
        value.type = MESHQ_VALUE_NIL;
        meshq_msg_set_header (msg, "x-nil", &value);
        value.type = MESHQ_VALUE_DOUBLE;
        value.u.number = 1.5;
        meshq_msg_set_header (msg, "x-double", &value);
        value.type = MESHQ_VALUE_BIN;
        value.u.bytes.data = "\x00\xff";
        value.u.bytes.size = 2;
        meshq_msg_set_header (msg, "x-bin", &value);
        meshq_msg_set_priority (msg, 9);
        meshq_msg_set_timestamp (msg, 1700000000000ULL);
        meshq_msg_set_expiration (msg, 60000);
        meshq_msg_set_correlation_id (msg, "rpc-42");
        meshq_msg_set_reply_to (msg, "amq.reply");
        meshq_msg_set_user_id (msg, "alice");
        meshq_msg_set_app_id (msg, "billing");
        meshq_msg_set_delivery_mode (msg, MESHQ_TRANSIENT);
        meshq_msg_set_redelivery_count (msg, 3);
        meshq_msg_set_body (msg, "{}", 2);
    } else if (strcmp (name, "unicode") == 0) {
        meshq_msg_set_routing_key (msg, "caf\xc3\xa9.\xe6\x97\xa5\xe6\x9c\xac");
        meshq_msg_set_header_str (msg, "\xce\xbb", "\xf0\x9f\x98\x80");
        meshq_msg_set_body (msg, "", 0);
    }
    return msg;
}

Test (codec, encoder_reproduces_vectors)
{
    const char *names[] = {"minimal", "hello", "full", "unicode"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        uint8_t expected[1024];
        size_t expected_size =
            testutil_vector (names[i], expected, sizeof expected);
        cr_assert_gt (expected_size, 0, "vector %s missing", names[i]);
        meshq_msg_t *msg = s_vector_msg (names[i]);
        size_t size;
        uint8_t *data = s_encode (msg, &size);
        cr_expect_eq (size, expected_size, "%s: %zu bytes, expected %zu",
                      names[i], size, expected_size);
        cr_expect_arr_eq (data, expected,
                          size < expected_size ? size : expected_size,
                          "%s: bytes differ", names[i]);
        free (data);
        meshq_msg_destroy (&msg);
    }
}

Test (codec, decoder_accepts_vectors)
{
    uint8_t data[1024];
    size_t size = testutil_vector ("full", data, sizeof data);
    meshq_msg_t *msg = NULL;
    cr_assert_eq (meshq_msg_decode (data, size, 0, &msg, NULL), 0);
    uint8_t origin[16];
    uint64_t seq;
    cr_assert (meshq_msg_id (msg, origin, &seq));
    cr_expect_arr_eq (origin, s_origin, 16);
    cr_expect_eq (seq, 4294967296ULL);
    cr_expect_str_eq (meshq_msg_exchange (msg), "logs");
    cr_expect_str_eq (meshq_msg_routing_key (msg), "kern.critical");
    cr_expect_str_eq (meshq_msg_content_type (msg), "application/json");
    cr_expect_str_eq (meshq_msg_content_encoding (msg), "gzip");
    cr_expect_str_eq (meshq_msg_correlation_id (msg), "rpc-42");
    cr_expect_str_eq (meshq_msg_reply_to (msg), "amq.reply");
    cr_expect_str_eq (meshq_msg_user_id (msg), "alice");
    cr_expect_str_eq (meshq_msg_app_id (msg), "billing");
    cr_expect_eq (meshq_msg_priority (msg), 9);
    cr_expect_eq (meshq_msg_timestamp (msg), 1700000000000ULL);
    cr_expect_eq (meshq_msg_expiration (msg), 60000);
    cr_expect_eq (meshq_msg_delivery_mode (msg), MESHQ_TRANSIENT);
    cr_expect_eq (meshq_msg_redelivery_count (msg), 3);
    cr_expect_eq (meshq_msg_header_count (msg), 7);
    cr_expect_eq (meshq_msg_header (msg, "x-int")->u.integer, -129);
    cr_expect_eq (meshq_msg_header (msg, "x-big")->u.integer, 300);
    cr_expect_eq (meshq_msg_header (msg, "x-true")->u.boolean, true);
    cr_expect_eq (meshq_msg_header (msg, "x-nil")->type, MESHQ_VALUE_NIL);
    cr_expect_eq (meshq_msg_header (msg, "x-double")->u.number, 1.5);
    const meshq_value_t *bin = meshq_msg_header (msg, "x-bin");
    cr_expect_eq (bin->type, MESHQ_VALUE_BIN);
    cr_expect_eq (bin->u.bytes.size, 2);
    cr_expect_eq (((const uint8_t *)bin->u.bytes.data)[1], 0xff);
    size_t body_size;
    const char *body = meshq_msg_body (msg, &body_size);
    cr_expect_eq (body_size, 2);
    cr_expect_eq (memcmp (body, "{}", 2), 0);
    meshq_msg_destroy (&msg);

    size = testutil_vector ("minimal", data, sizeof data);
    cr_assert_eq (meshq_msg_decode (data, size, 0, &msg, NULL), 0);
    cr_expect_null (meshq_msg_routing_key (msg));
    cr_expect_eq (meshq_msg_delivery_mode (msg), MESHQ_PERSISTENT);
    cr_expect_eq (meshq_msg_expiration (msg), -1);
    cr_expect_not (meshq_msg_id (msg, NULL, NULL));
    meshq_msg_destroy (&msg);
}

Test (codec, skips_and_keeps_unknown_keys)
{
    uint8_t data[1024];
    size_t size = testutil_vector ("unknown_key", data, sizeof data);
    cr_assert_gt (size, 0);
    meshq_msg_t *msg = NULL;
    const char *why = NULL;
    int rc = meshq_msg_decode (data, size, 0, &msg, &why);
    cr_assert_eq (rc, 0, "%s", why);
    cr_expect_str_eq (meshq_msg_routing_key (msg), "jobs");
    //  A relay re-encodes a newer writer's message without losing a key.
    size_t again_size;
    uint8_t *again = s_encode (msg, &again_size);
    cr_expect_eq (again_size, size);
    cr_expect_arr_eq (again, data, size);
    free (again);
    meshq_msg_destroy (&msg);
}

// --------------------------------------------------------------------
//  Round trips of every field and edge value.

Test (codec, round_trips_empty_body)
{
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_body (msg, "", 0);
    meshq_msg_t *copy = s_round_trip (msg);
    size_t size = 99;
    meshq_msg_body (copy, &size);
    cr_expect_eq (size, 0);
    meshq_msg_destroy (&copy);
    meshq_msg_destroy (&msg);
}

Test (codec, round_trips_16_mib_body)
{
    size_t size = MESHQ_MAX_BODY_DEFAULT;
    uint8_t *body = malloc (size);
    for (size_t i = 0; i < size; i++)
        body[i] = (uint8_t)(i * 31 + 7);
    meshq_msg_t *msg = meshq_msg_new ();
    cr_assert_eq (meshq_msg_set_body (msg, body, size), 0);
    meshq_msg_t *copy = s_round_trip (msg);
    size_t copy_size;
    const uint8_t *copy_body = meshq_msg_body (copy, &copy_size);
    cr_assert_eq (copy_size, size);
    cr_assert_eq (memcmp (copy_body, body, size), 0);
    meshq_msg_destroy (&copy);
    meshq_msg_destroy (&msg);
    free (body);
}

Test (codec, refuses_body_above_the_maximum)
{
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_body (msg, "0123456789", 10);
    size_t size;
    uint8_t *data = s_encode (msg, &size);
    meshq_msg_t *copy = NULL;
    const char *why = NULL;
    cr_expect_eq (meshq_msg_decode (data, size, 10, &copy, &why), 0);
    meshq_msg_destroy (&copy);
    cr_expect_eq (meshq_msg_decode (data, size, 9, &copy, &why),
                  MESHQ_EMSGSIZE);
    cr_expect_null (copy);
    cr_expect (strstr (why, "maximum message size"));
    free (data);
    meshq_msg_destroy (&msg);
}

Test (codec, round_trips_every_priority)
{
    for (int priority = 0; priority <= MESHQ_MAX_PRIORITY; priority++) {
        meshq_msg_t *msg = meshq_msg_new ();
        cr_assert_eq (meshq_msg_set_priority (msg, priority), 0);
        meshq_msg_t *copy = s_round_trip (msg);
        cr_expect_eq (meshq_msg_priority (copy), priority);
        meshq_msg_destroy (&copy);
        meshq_msg_destroy (&msg);
    }
}

Test (codec, round_trips_64_headers_of_every_type)
{
    meshq_msg_t *msg = meshq_msg_new ();
    //  Integers at every msgpack size boundary, both signs.
    static const int64_t ints[] = {
        0,         1,      127,    128,          255,
        256,       65535,  65536,  4294967295LL, 4294967296LL,
        INT64_MAX, -1,     -32,    -33,          -128,
        -129,      -32768, -32769, INT32_MIN,    INT32_MIN - 1LL,
        INT64_MIN};
    size_t n_ints = sizeof ints / sizeof ints[0];
    char key[32];
    for (int i = 0; i < 64; i++) {
        snprintf (key, sizeof key, "x-header-%02d", i);
        meshq_value_t value = {.type = MESHQ_VALUE_NIL};
        switch (i % 6) {
            case 0:
                value.type = MESHQ_VALUE_INT;
                value.u.integer = ints[(size_t)i / 6 % n_ints];
                break;
            case 1:
                value.type = MESHQ_VALUE_STR;
                value.u.bytes.data = "\xe2\x82\xac uro";
                value.u.bytes.size = 7;
                break;
            case 2:
                value.type = MESHQ_VALUE_BIN;
                value.u.bytes.data = "\x00\x01\x02";
                value.u.bytes.size = (size_t)i % 4;
                break;
            case 3:
                value.type = MESHQ_VALUE_DOUBLE;
                value.u.number = i == 3 ? -0.0 : i * 0.25;
                break;
            case 4:
                value.type = MESHQ_VALUE_BOOL;
                value.u.boolean = i % 2;
                break;
            default:
                break;
        }
        cr_assert_eq (meshq_msg_set_header (msg, key, &value), 0);
    }
    for (size_t i = 0; i < n_ints; i++) {
        snprintf (key, sizeof key, "int-%zu", i);
        cr_assert_eq (meshq_msg_set_header_int (msg, key, ints[i]), 0);
    }
    meshq_msg_t *copy = s_round_trip (msg);
    cr_assert_eq (meshq_msg_header_count (copy), 64 + n_ints);
    for (size_t i = 0; i < meshq_msg_header_count (msg); i++) {
        const char *k1, *k2;
        const meshq_value_t *a = meshq_msg_header_at (msg, i, &k1);
        const meshq_value_t *b = meshq_msg_header_at (copy, i, &k2);
        cr_assert_str_eq (k1, k2);
        cr_assert_eq (a->type, b->type);
        if (a->type == MESHQ_VALUE_INT)
            cr_expect_eq (a->u.integer, b->u.integer, "%s", k1);
        else if (a->type == MESHQ_VALUE_DOUBLE)
            cr_expect_eq (memcmp (&a->u.number, &b->u.number, 8), 0);
        else if (a->type >= MESHQ_VALUE_STR) {
            cr_expect_eq (a->u.bytes.size, b->u.bytes.size);
            cr_expect_eq (
                memcmp (a->u.bytes.data, b->u.bytes.data, a->u.bytes.size), 0);
        }
    }
    meshq_msg_destroy (&copy);
    meshq_msg_destroy (&msg);
}

Test (codec, round_trips_numeric_extremes)
{
    uint8_t origin[16];
    memset (origin, 0xff, 16);
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_id (msg, origin, UINT64_MAX);
    meshq_msg_set_timestamp (msg, UINT64_MAX);
    cr_assert_eq (meshq_msg_set_expiration (msg, UINT32_MAX), 0);
    meshq_msg_set_redelivery_count (msg, UINT32_MAX);
    meshq_msg_t *copy = s_round_trip (msg);
    uint64_t seq;
    uint8_t copy_origin[16];
    cr_assert (meshq_msg_id (copy, copy_origin, &seq));
    cr_expect_eq (seq, UINT64_MAX);
    cr_expect_arr_eq (copy_origin, origin, 16);
    cr_expect_eq (meshq_msg_timestamp (copy), UINT64_MAX);
    cr_expect_eq (meshq_msg_expiration (copy), UINT32_MAX);
    cr_expect_eq (meshq_msg_redelivery_count (copy), UINT32_MAX);
    meshq_msg_destroy (&copy);

    //  A TTL of 0 is a TTL (expire unless delivered at once), not "none".
    meshq_msg_set_expiration (msg, 0);
    copy = s_round_trip (msg);
    cr_expect_eq (meshq_msg_expiration (copy), 0);
    meshq_msg_destroy (&copy);
    meshq_msg_destroy (&msg);
}

Test (codec, round_trips_utf8_and_longest_strings)
{
    char longest[256];
    memset (longest, 'q', 255);
    longest[255] = 0;
    meshq_msg_t *msg = meshq_msg_new ();
    cr_assert_eq (meshq_msg_set_exchange (msg, longest), 0);
    cr_assert_eq (meshq_msg_set_routing_key (msg, "\xe6\x97\xa5\xe6\x9c\xac"
                                                  ".\xf0\x9f\x90\x87"),
                  0);
    cr_assert_eq (meshq_msg_set_app_id (msg, ""), 0);
    meshq_msg_t *copy = s_round_trip (msg);
    cr_expect_str_eq (meshq_msg_exchange (copy), longest);
    cr_expect_str_eq (meshq_msg_routing_key (copy),
                      "\xe6\x97\xa5\xe6\x9c\xac.\xf0\x9f\x90\x87");
    cr_expect_str_eq (meshq_msg_app_id (copy), "");
    cr_expect_null (meshq_msg_user_id (copy));
    meshq_msg_destroy (&copy);
    meshq_msg_destroy (&msg);
}

// --------------------------------------------------------------------
//  Malformed input, one class at a time. Frames are written by hand.

Test (codec, every_prefix_is_truncated)
{
    uint8_t data[1024];
    size_t size = testutil_vector ("full", data, sizeof data);
    cr_assert_gt (size, 0);
    for (size_t cut = 0; cut < size; cut++) {
        meshq_envelope_t envelope;
        const char *why = NULL;
        int rc = meshq_codec_decode_envelope (data, cut, 1024, &envelope, &why);
        cr_assert_eq (rc, MESHQ_ETRUNCATED, "prefix %zu: %s (%s)", cut,
                      meshq_strerror (rc), why ? why : "-");
        cr_assert (strstr (why, "truncated"));
    }
}

Test (codec, refuses_oversized_counts_before_reading)
{
    //  A 5-byte frame claiming a map of 16M entries.
    s_expect ("df01000000", MESHQ_ETOOBIG, "envelope: too long");
    //  An unknown field claiming a 16M-element array in a few bytes.
    s_expect ("82a17601a27a7add01000000", MESHQ_ETOOBIG, "unknown field");
    //  A routing key of 300 bytes (header only).
    s_expect ("82a17601a16bda012c", MESHQ_ETOOBIG, "routing key");
    //  A headers map of 200 entries.
    s_expect ("82a17601a168de00c8", MESHQ_ETOOBIG, "headers");
    //  A count the bytes cannot hold is truncated, not too big.
    s_expect ("8f", MESHQ_ETRUNCATED, "envelope: truncated");
}

Test (codec, refuses_wrong_types)
{
    s_expect ("9101", MESHQ_ETYPE, "envelope: wrong type");
    s_expect ("82a1760101c0", MESHQ_ETYPE, "envelope key");
    s_expect ("82a17601a170a131", MESHQ_ETYPE, "priority");
    s_expect ("82a17601a16bc40171", MESHQ_ETYPE, "routing key");
    s_expect ("82a17601a16881a17890", MESHQ_ETYPE, "header value");
    s_expect ("82a17601a162a178", MESHQ_ETYPE, "body");
    s_expect ("82a17601a16f01", MESHQ_ETYPE, "origin");
}

Test (codec, refuses_out_of_range_values)
{
    s_expect ("82a17601a1700a", MESHQ_ERANGE, "priority");
    s_expect ("82a17601a170ff", MESHQ_ERANGE, "priority");
    s_expect ("82a17601a16403", MESHQ_ERANGE, "delivery mode");
    s_expect ("82a17601a16400", MESHQ_ERANGE, "delivery mode");
    s_expect ("82a17601a165cf0000000100000000", MESHQ_ERANGE, "expiration");
    s_expect ("83a17601a16fc40f000102030405060708090a0b0c0d0ea17300",
              MESHQ_ERANGE, "origin");
    s_expect ("82a17601a16881a178cf8000000000000000", MESHQ_ERANGE,
              "header value");
}

Test (codec, refuses_duplicate_keys)
{
    s_expect ("83a17601a16ba161a16ba162", MESHQ_EDUPKEY, "duplicate key");
    s_expect ("82a17601a16882a17801a17802", MESHQ_EDUPKEY, "headers");
    s_expect ("83a17601a27a7a01a27a7a02", MESHQ_EDUPKEY, "duplicate key");
}

Test (codec, refuses_deep_nesting)
{
    //  The envelope is level 1; an unknown field holding seven nested
    //  arrays puts its innermost value at level 9, one past the limit.
    s_expect ("82a17601a27a7a9191919191919101", MESHQ_EDEPTH,
              "nested too deep");
    //  Six arrays put it at level 8, which is accepted.
    s_expect ("82a17601a27a7a91919191919101", 0, NULL);
}

Test (codec, refuses_other_versions)
{
    s_expect ("81a17602", MESHQ_EVERSION, "version");
    s_expect ("81a17600", MESHQ_EVERSION, "version");
}

Test (codec, refuses_frames_that_are_not_canonical)
{
    //  No version, or not first.
    s_expect ("80", MESHQ_EMALFORMED, "missing");
    s_expect ("82a16ba161a17601", MESHQ_EMALFORMED, "missing");
    //  Keys out of order; a known key after an unknown one.
    s_expect ("83a17601a162c400a16ba161", MESHQ_EMALFORMED, "order");
    s_expect ("83a17601a27a7a01a16ba161", MESHQ_EMALFORMED, "order");
    //  Integers and lengths not in their shortest form.
    s_expect ("82a17601a170cc05", MESHQ_EMALFORMED, "shortest");
    s_expect ("82a17601a16bd90161", MESHQ_EMALFORMED, "shortest");
    s_expect ("de0001a17601", MESHQ_EMALFORMED, "shortest");
    s_expect ("82a17601a16881a178d001", MESHQ_EMALFORMED, "shortest");
    s_expect ("82a17601a16881a178ca3fc00000", MESHQ_EMALFORMED, "shortest");
    //  Bytes after the map; invalid UTF-8; the byte msgpack never uses.
    s_expect ("81a17601c0", MESHQ_EMALFORMED, "after the end");
    s_expect ("82a17601a16ba2c328", MESHQ_EMALFORMED, "UTF-8");
    s_expect ("82a17601a16ba3eda080", MESHQ_EMALFORMED, "UTF-8");
    s_expect ("82a17601a27a7ac1", MESHQ_EMALFORMED, "0xc1");
    //  Half a message id.
    s_expect ("82a17601a17301", MESHQ_EMALFORMED, "together");
}

Test (codec, encoder_refuses_what_the_format_cannot_carry)
{
    meshq_envelope_t envelope;
    memset (&envelope, 0, sizeof envelope);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    const char *why = NULL;

    envelope.present = 1u << MESHQ_F_PRIORITY;
    envelope.priority = 10;
    cr_expect_eq (meshq_codec_encode_envelope (&envelope, &buf, &why),
                  MESHQ_ERANGE);
    envelope.priority = 0;

    char longest[300];
    memset (longest, 'a', sizeof longest);
    envelope.present = 1u << MESHQ_F_ROUTING_KEY;
    envelope.strings[MESHQ_F_ROUTING_KEY].data = longest;
    envelope.strings[MESHQ_F_ROUTING_KEY].size = 256;
    cr_expect_eq (meshq_codec_encode_envelope (&envelope, &buf, &why),
                  MESHQ_ETOOBIG);
    envelope.strings[MESHQ_F_ROUTING_KEY].data = "\xff";
    envelope.strings[MESHQ_F_ROUTING_KEY].size = 1;
    cr_expect_eq (meshq_codec_encode_envelope (&envelope, &buf, &why),
                  MESHQ_EINVAL);

    meshq_header_t headers[2] = {
        {{"k", 1}, {.type = MESHQ_VALUE_NIL}},
        {{"k", 1}, {.type = MESHQ_VALUE_NIL}},
    };
    envelope.present = 1u << MESHQ_F_HEADERS;
    envelope.headers = headers;
    envelope.header_count = 2;
    cr_expect_eq (meshq_codec_encode_envelope (&envelope, &buf, &why),
                  MESHQ_EDUPKEY);
    cr_expect_eq (buf.size, 0, "nothing written on refusal");
    meshq_buf_fini (&buf);
}
