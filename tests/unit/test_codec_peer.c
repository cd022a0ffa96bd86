/*  test_codec_peer.c - the frames agents exchange about themselves:
    HELLO, PING/PONG, PEERS and BYE, round trips and refusals.
*/
#include "codec_peer.h"
#include "codec_writer.h"
#include "meshq.h"
#include "testutil.h"

#include <criterion/criterion.h>

static meshq_span_t
s_span (const char *text)
{
    return (meshq_span_t){text, (uint32_t)strlen (text)};
}

static meshq_hello_t
s_hello (void)
{
    meshq_hello_t hello = {
        .protocol = MESHQ_PEER_PROTOCOL,
        .incarnation = 1732420000123456,
        .name = s_span ("node-a"),
        .version = s_span ("0.1.0"),
        .mesh = s_span ("default"),
        .vhost = s_span ("/"),
        .endpoint = s_span ("tcp://10.0.0.1:41234"),
        .heartbeat_ms = 250,
        .timeout_ms = 2000,
    };
    for (int i = 0; i < 16; i++)
        hello.node[i] = (uint8_t)(i + 1);
    return hello;
}

static bool
s_span_is (meshq_span_t span, const char *text)
{
    return span.size == strlen (text) &&
           memcmp (span.data, text, span.size) == 0;
}

Test (codec_peer, hello_round_trips)
{
    meshq_hello_t hello = s_hello (), back;
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
    const char *why = NULL;
    int rc = meshq_codec_decode_hello (buf.data, buf.size, &back, &why);
    cr_assert_eq (rc, 0, "%s", why);
    cr_expect_arr_eq (back.node, hello.node, 16);
    cr_expect_eq (back.incarnation, hello.incarnation);
    cr_expect (s_span_is (back.name, "node-a"));
    cr_expect (s_span_is (back.version, "0.1.0"));
    cr_expect (s_span_is (back.mesh, "default"));
    cr_expect (s_span_is (back.vhost, "/"));
    cr_expect (s_span_is (back.endpoint, "tcp://10.0.0.1:41234"));
    cr_expect_eq (back.heartbeat_ms, 250);
    cr_expect_eq (back.timeout_ms, 2000);
    meshq_buf_fini (&buf);
}

//  Writes a HELLO by hand: keys in reverse order, an unknown key with a
//  nested value, and without the optional name and version.
Test (codec_peer, hello_carries_session_numbers_only_with_a_session)
{
    meshq_hello_t hello = s_hello (), back;
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
    size_t plain = buf.size;
    cr_assert_eq (meshq_codec_decode_hello (buf.data, buf.size, &back, NULL),
                  0);
    cr_expect_eq (back.session, 0);
    cr_expect_eq (back.ack, 0);
    hello.session = 1733000000123;
    hello.ack = 7;
    meshq_buf_reset (&buf);
    cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
    cr_expect_gt (buf.size, plain);
    cr_assert_eq (meshq_codec_decode_hello (buf.data, buf.size, &back, NULL),
                  0);
    cr_expect_eq (back.session, 1733000000123);
    cr_expect_eq (back.ack, 7);
    meshq_buf_fini (&buf);
}

//  The commands an agent answers beyond the first set: absent (as from
//  an older agent) unless there are some, and checked as strings are.
Test (codec_peer, hello_carries_the_commands_only_when_it_has_some)
{
    meshq_hello_t hello = s_hello (), back;
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
    size_t plain = buf.size;
    cr_assert_eq (meshq_codec_decode_hello (buf.data, buf.size, &back, NULL),
                  0);
    cr_expect_eq (back.commands.size, 0);
    hello.commands = s_span ("QUERY");
    meshq_buf_reset (&buf);
    cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
    cr_expect_eq (buf.size, plain + strlen ("commands") + 1 + 5 + 1);
    cr_assert_eq (meshq_codec_decode_hello (buf.data, buf.size, &back, NULL),
                  0);
    cr_expect (s_span_is (back.commands, "QUERY"));
    //  Longer than 255 bytes: refused, as the decoder would.
    char along[300];
    memset (along, 'Q', sizeof along - 1);
    along[sizeof along - 1] = 0;
    hello.commands = s_span (along);
    meshq_buf_reset (&buf);
    const char *why = NULL;
    cr_expect_eq (meshq_codec_encode_hello (&hello, &buf, &why), MESHQ_ETOOBIG);
    cr_expect_str_eq (why, "hello commands: too long");
    meshq_buf_fini (&buf);
}

Test (codec_peer, hello_takes_keys_in_any_order_and_skips_unknown_ones)
{
    meshq_hello_t hello = s_hello (), back;
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_writer_t w;
    meshq_writer_init (&w, &buf);
    meshq_writer_map (&w, 9);
    meshq_writer_str (&w, "timeout_ms");
    meshq_writer_uint (&w, 1000);
    meshq_writer_str (&w, "heartbeat_ms");
    meshq_writer_uint (&w, 100);
    meshq_writer_str (&w, "zz-future");
    meshq_writer_map (&w, 1);
    meshq_writer_str (&w, "nested");
    meshq_writer_array (&w, 2);
    meshq_writer_nil (&w);
    meshq_writer_double (&w, 1.5);
    meshq_writer_str (&w, "endpoint");
    meshq_writer_str (&w, "tcp://127.0.0.1:5000");
    meshq_writer_str (&w, "vhost");
    meshq_writer_str (&w, "/");
    meshq_writer_str (&w, "mesh");
    meshq_writer_str (&w, "m");
    meshq_writer_str (&w, "incarnation");
    meshq_writer_uint (&w, 7);
    meshq_writer_str (&w, "node");
    meshq_writer_bin (&w, hello.node, 16);
    meshq_writer_str (&w, "protocol");
    meshq_writer_uint (&w, 1);
    cr_assert_eq (meshq_writer_error (&w), 0);
    const char *why = NULL;
    int rc = meshq_codec_decode_hello (buf.data, buf.size, &back, &why);
    cr_assert_eq (rc, 0, "%s", why);
    cr_expect_eq (back.name.size, 0);
    cr_expect_eq (back.incarnation, 7);
    cr_expect_eq (back.timeout_ms, 1000);
    meshq_buf_fini (&buf);
}

//  Encodes s_hello () with one key left out.
static void
s_hello_without (const char *skip, meshq_buf_t *buf)
{
    meshq_hello_t hello = s_hello ();
    meshq_buf_reset (buf);
    meshq_writer_t w;
    meshq_writer_init (&w, buf);
    const char *keys[] = {
        "protocol", "node",  "incarnation", "name",         "version",
        "mesh",     "vhost", "endpoint",    "heartbeat_ms", "timeout_ms"};
    meshq_writer_map (&w, 9);
    for (size_t i = 0; i < 10; i++) {
        if (strcmp (keys[i], skip) == 0)
            continue;
        meshq_writer_str (&w, keys[i]);
        if (i == 1)
            meshq_writer_bin (&w, hello.node, 16);
        else if (i == 0)
            meshq_writer_uint (&w, 1);
        else if (i == 2)
            meshq_writer_uint (&w, 9);
        else if (i == 8)
            meshq_writer_uint (&w, 250);
        else if (i == 9)
            meshq_writer_uint (&w, 2000);
        else
            meshq_writer_str (&w, "x");
    }
    cr_assert_eq (meshq_writer_error (&w), 0);
}

Test (codec_peer, hello_refuses_a_missing_required_key)
{
    const char *required[] = {"protocol",     "node",      "incarnation",
                              "mesh",         "vhost",     "endpoint",
                              "heartbeat_ms", "timeout_ms"};
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_hello_t back;
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        s_hello_without (required[i], &buf);
        const char *why = NULL;
        cr_expect_eq (
            meshq_codec_decode_hello (buf.data, buf.size, &back, &why),
            MESHQ_EMALFORMED, "%s", required[i]);
        char expected[64];
        snprintf (expected, sizeof expected, "hello %s: missing", required[i]);
        cr_expect_str_eq (why, expected);
    }
    //  name and version are optional.
    s_hello_without ("name", &buf);
    cr_expect_eq (meshq_codec_decode_hello (buf.data, buf.size, &back, NULL),
                  0);
    s_hello_without ("version", &buf);
    cr_expect_eq (meshq_codec_decode_hello (buf.data, buf.size, &back, NULL),
                  0);
    meshq_buf_fini (&buf);
}

//  A HELLO with one key's value replaced: key, then a writer callback.
typedef struct {
    const char *key;                   //  Key whose value is replaced.
    void (*write) (meshq_writer_t *);  //  Writes the bad value.
    int code;                          //  Expected code.
    const char *why;                   //  Expected reason.
} s_bad_t;

static void
s_w_two (meshq_writer_t *w)
{
    meshq_writer_uint (w, 2);
}
static void
s_w_zero (meshq_writer_t *w)
{
    meshq_writer_uint (w, 0);
}
static void
s_w_str (meshq_writer_t *w)
{
    meshq_writer_str (w, "abc");
}
static void
s_w_bin15 (meshq_writer_t *w)
{
    meshq_writer_bin (w, "0123456789abcde", 15);
}
static void
s_w_five (meshq_writer_t *w)
{
    meshq_writer_uint (w, 5);
}
static void
s_w_big (meshq_writer_t *w)
{
    meshq_writer_uint (w, 700000);
}
static void
s_w_empty (meshq_writer_t *w)
{
    meshq_writer_str (w, "");
}
static void
s_w_long (meshq_writer_t *w)
{
    char text[300];
    memset (text, 'n', sizeof text);
    meshq_writer_strn (w, text, 256);
}
static void
s_w_bad_utf8 (meshq_writer_t *w)
{
    meshq_writer_strn (w, "\xc3\x28", 2);
}
static void
s_w_negative (meshq_writer_t *w)
{
    meshq_writer_int (w, -1);
}

Test (codec_peer, hello_refuses_bad_values)
{
    static const s_bad_t rows[] = {
        {"protocol", s_w_two, MESHQ_EVERSION,
         "hello protocol: not a version this agent speaks (1)"},
        {"protocol", s_w_str, MESHQ_ETYPE, "hello protocol: wrong type"},
        {"node", s_w_bin15, MESHQ_ERANGE, "hello node: out of range"},
        {"node", s_w_str, MESHQ_ETYPE, "hello node: wrong type"},
        {"incarnation", s_w_zero, MESHQ_ERANGE,
         "hello incarnation: out of range"},
        {"incarnation", s_w_negative, MESHQ_ERANGE,
         "hello incarnation: out of range"},
        {"name", s_w_long, MESHQ_ETOOBIG, "hello name: too long"},
        {"name", s_w_bad_utf8, MESHQ_EMALFORMED, "hello name: not valid UTF-8"},
        {"mesh", s_w_empty, MESHQ_EINVAL,
         "hello mesh: empty or not valid UTF-8"},
        {"endpoint", s_w_empty, MESHQ_EINVAL,
         "hello endpoint: empty or not valid UTF-8"},
        {"heartbeat_ms", s_w_five, MESHQ_ERANGE,
         "hello heartbeat_ms: out of range"},
        {"timeout_ms", s_w_big, MESHQ_ERANGE, "hello timeout_ms: out of range"},
        //  Less than three heartbeats (250 ms).
        {"timeout_ms", s_w_two, MESHQ_ERANGE, "hello timeout_ms: out of range"},
    };
    meshq_hello_t hello = s_hello (), back;
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        meshq_buf_reset (&buf);
        meshq_writer_t w;
        meshq_writer_init (&w, &buf);
        const char *keys[] = {"protocol",     "node",      "incarnation",
                              "mesh",         "vhost",     "endpoint",
                              "heartbeat_ms", "timeout_ms"};
        //  name is optional: written after the required keys when it is
        //  the key under test.
        bool name_row = strcmp (rows[r].key, "name") == 0;
        meshq_writer_map (&w, name_row ? 9 : 8);
        for (size_t i = 0; i < 8; i++) {
            meshq_writer_str (&w, keys[i]);
            if (strcmp (keys[i], rows[r].key) == 0)
                rows[r].write (&w);
            else if (i == 0)
                meshq_writer_uint (&w, 1);
            else if (i == 1)
                meshq_writer_bin (&w, hello.node, 16);
            else if (i == 2)
                meshq_writer_uint (&w, 3);
            else if (i == 6)
                meshq_writer_uint (&w, 250);
            else if (i == 7)
                meshq_writer_uint (&w, 2000);
            else
                meshq_writer_str (&w, "x");
        }
        if (name_row) {
            meshq_writer_str (&w, "name");
            rows[r].write (&w);
        }
        cr_assert_eq (meshq_writer_error (&w), 0);
        const char *why = NULL;
        cr_expect_eq (
            meshq_codec_decode_hello (buf.data, buf.size, &back, &why),
            rows[r].code, "row %zu (%s): %s", r, rows[r].key,
            why ? why : "accepted");
        cr_expect_str_eq (why ? why : "", rows[r].why, "row %zu", r);
    }
    meshq_buf_fini (&buf);
}

Test (codec_peer, hello_refuses_duplicates_trailing_bytes_and_non_maps)
{
    meshq_hello_t hello = s_hello (), back;
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
    const char *why;

    //  Trailing byte.
    meshq_buf_append (&buf, "\xc0", 1);
    cr_expect_eq (meshq_codec_decode_hello (buf.data, buf.size, &back, &why),
                  MESHQ_EMALFORMED);
    cr_expect_str_eq (why, "hello: bytes after the end of the map");

    //  A key twice.
    meshq_buf_reset (&buf);
    meshq_writer_t w;
    meshq_writer_init (&w, &buf);
    meshq_writer_map (&w, 2);
    meshq_writer_str (&w, "protocol");
    meshq_writer_uint (&w, 1);
    meshq_writer_str (&w, "protocol");
    meshq_writer_uint (&w, 1);
    cr_expect_eq (meshq_codec_decode_hello (buf.data, buf.size, &back, &why),
                  MESHQ_EDUPKEY);
    cr_expect_str_eq (why, "hello: duplicate key");

    //  An array.
    meshq_buf_reset (&buf);
    meshq_writer_array (&w, 0);
    cr_expect_eq (meshq_codec_decode_hello (buf.data, buf.size, &back, &why),
                  MESHQ_ETYPE);
    cr_expect_str_eq (why, "hello: wrong type");

    //  A map announcing more entries than it could hold.
    meshq_buf_reset (&buf);
    meshq_buf_append (&buf, "\xdf\x7f\xff\xff\xff", 5);
    cr_expect_lt (meshq_codec_decode_hello (buf.data, buf.size, &back, &why),
                  0);
    meshq_buf_fini (&buf);
}

Test (codec_peer, encoder_refuses_what_the_decoder_would)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    const char *why;
    meshq_hello_t hello = s_hello ();
    hello.heartbeat_ms = 5;
    cr_expect_eq (meshq_codec_encode_hello (&hello, &buf, &why), MESHQ_ERANGE);
    cr_expect_str_eq (why, "hello heartbeat_ms: out of range");
    hello = s_hello ();
    hello.timeout_ms = 500;  //  Fewer than three heartbeats.
    cr_expect_eq (meshq_codec_encode_hello (&hello, &buf, &why), MESHQ_ERANGE);
    hello = s_hello ();
    char name[300];
    memset (name, 'n', sizeof name);
    hello.name = (meshq_span_t){name, 256};
    cr_expect_eq (meshq_codec_encode_hello (&hello, &buf, &why), MESHQ_ETOOBIG);
    hello = s_hello ();
    hello.mesh = s_span ("");
    cr_expect_eq (meshq_codec_encode_hello (&hello, &buf, &why), MESHQ_EINVAL);
    cr_expect_eq (buf.size, 0);
    meshq_buf_fini (&buf);
}

//  Every proper prefix of a valid frame is refused, never read past.
static void
s_every_prefix_fails (const meshq_buf_t *buf,
                      int (*decode) (const void *, size_t))
{
    for (size_t size = 0; size < buf->size; size++) {
        //  A copy of exactly size bytes, so ASan sees any overread.
        uint8_t *copy = malloc (size ? size : 1);
        memcpy (copy, buf->data, size);
        cr_expect_lt (decode (copy, size), 0, "prefix of %zu bytes", size);
        free (copy);
    }
    cr_expect_eq (decode (buf->data, buf->size), 0);
}

static int
s_decode_hello (const void *data, size_t size)
{
    meshq_hello_t hello;
    return meshq_codec_decode_hello (data, size, &hello, NULL);
}

static int
s_decode_ping (const void *data, size_t size)
{
    uint64_t seq;
    return meshq_codec_decode_ping (data, size, &seq, NULL);
}

static int
s_decode_peers (const void *data, size_t size)
{
    meshq_gossip_t entries[4];
    uint32_t count;
    return meshq_codec_decode_peers (data, size, entries, 4, &count, NULL);
}

static int
s_decode_bye (const void *data, size_t size)
{
    return meshq_codec_decode_bye (data, size, NULL);
}

static int
s_decode_unlink (const void *data, size_t size)
{
    bool done;
    return meshq_codec_decode_unlink (data, size, &done, NULL);
}

static void
s_peers_frame (meshq_buf_t *buf, uint32_t count)
{
    meshq_gossip_t entries[8];
    char endpoints[8][32];
    for (uint32_t i = 0; i < count; i++) {
        memset (entries[i].node, (int)i + 1, 16);
        entries[i].incarnation = 100 + i;
        snprintf (endpoints[i], sizeof endpoints[i], "tcp://10.0.0.%u:%u",
                  i + 1, 5000 + i);
        entries[i].endpoint = s_span (endpoints[i]);
    }
    cr_assert_eq (meshq_codec_encode_peers (entries, count, buf, NULL), 0);
}

Test (codec_peer, every_prefix_of_every_frame_fails)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_hello_t hello = s_hello ();
    cr_assert_eq (meshq_codec_encode_hello (&hello, &buf, NULL), 0);
    s_every_prefix_fails (&buf, s_decode_hello);
    meshq_buf_reset (&buf);
    cr_assert_eq (meshq_codec_encode_ping (1234567, &buf), 0);
    s_every_prefix_fails (&buf, s_decode_ping);
    meshq_buf_reset (&buf);
    s_peers_frame (&buf, 3);
    s_every_prefix_fails (&buf, s_decode_peers);
    meshq_buf_reset (&buf);
    cr_assert_eq (meshq_codec_encode_bye (&buf), 0);
    s_every_prefix_fails (&buf, s_decode_bye);
    meshq_buf_reset (&buf);
    cr_assert_eq (meshq_codec_encode_unlink (true, &buf), 0);
    s_every_prefix_fails (&buf, s_decode_unlink);
    meshq_buf_fini (&buf);
}

Test (codec_peer, ping_round_trips)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    uint64_t values[] = {0, 1, 127, 128, 65535, 1ULL << 40, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        meshq_buf_reset (&buf);
        cr_assert_eq (meshq_codec_encode_ping (values[i], &buf), 0);
        uint64_t seq = 1;
        cr_assert_eq (meshq_codec_decode_ping (buf.data, buf.size, &seq, NULL),
                      0);
        cr_expect_eq (seq, values[i]);
    }
    meshq_buf_fini (&buf);
}

Test (codec_peer, peers_round_trips)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    s_peers_frame (&buf, 3);
    meshq_gossip_t back[4];
    uint32_t count = 0;
    const char *why = NULL;
    int rc =
        meshq_codec_decode_peers (buf.data, buf.size, back, 4, &count, &why);
    cr_assert_eq (rc, 0, "%s", why);
    cr_assert_eq (count, 3);
    cr_expect_eq (back[2].node[0], 3);
    cr_expect_eq (back[2].incarnation, 102);
    cr_expect (s_span_is (back[2].endpoint, "tcp://10.0.0.3:5002"));

    meshq_buf_reset (&buf);
    s_peers_frame (&buf, 0);
    cr_expect_eq (
        meshq_codec_decode_peers (buf.data, buf.size, back, 4, &count, NULL),
        0);
    cr_expect_eq (count, 0);
    meshq_buf_fini (&buf);
}

Test (codec_peer, peers_refuses_more_entries_than_the_room_given)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    s_peers_frame (&buf, 5);
    meshq_gossip_t back[4];
    uint32_t count = 99;
    const char *why;
    cr_expect_eq (
        meshq_codec_decode_peers (buf.data, buf.size, back, 4, &count, &why),
        MESHQ_ETOOBIG);
    cr_expect_str_eq (why, "peers peers: too long");
    cr_expect_eq (count, 0);

    //  And the encoder refuses more than a frame may carry.
    static meshq_gossip_t many[MESHQ_GOSSIP_MAX + 1];
    for (size_t i = 0; i <= MESHQ_GOSSIP_MAX; i++) {
        many[i].incarnation = 1;
        many[i].endpoint = s_span ("tcp://10.0.0.1:1");
    }
    meshq_buf_reset (&buf);
    cr_expect_eq (
        meshq_codec_encode_peers (many, MESHQ_GOSSIP_MAX + 1, &buf, &why),
        MESHQ_ETOOBIG);
    cr_expect_eq (meshq_codec_encode_peers (many, MESHQ_GOSSIP_MAX, &buf, &why),
                  0);
    meshq_buf_fini (&buf);
}

Test (codec_peer, peers_refuses_an_incomplete_entry)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_writer_t w;
    meshq_writer_init (&w, &buf);
    meshq_writer_map (&w, 1);
    meshq_writer_str (&w, "peers");
    meshq_writer_array (&w, 1);
    meshq_writer_map (&w, 2);
    meshq_writer_str (&w, "node");
    meshq_writer_bin (&w, "0123456789abcdef", 16);
    meshq_writer_str (&w, "incarnation");
    meshq_writer_uint (&w, 5);
    meshq_gossip_t back[2];
    uint32_t count;
    const char *why;
    cr_expect_eq (
        meshq_codec_decode_peers (buf.data, buf.size, back, 2, &count, &why),
        MESHQ_EMALFORMED);
    cr_expect_str_eq (why, "peers entry endpoint: missing");
    meshq_buf_fini (&buf);
}

Test (codec_peer, bye_is_an_empty_map_and_skips_unknown_keys)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_bye (&buf), 0);
    cr_expect_eq (buf.size, 1);
    cr_expect_eq (buf.data[0], 0x80);
    cr_expect_eq (meshq_codec_decode_bye (buf.data, buf.size, NULL), 0);
    meshq_buf_reset (&buf);
    meshq_writer_t w;
    meshq_writer_init (&w, &buf);
    meshq_writer_map (&w, 1);
    meshq_writer_str (&w, "reason");
    meshq_writer_str (&w, "shutdown");
    cr_expect_eq (meshq_codec_decode_bye (buf.data, buf.size, NULL), 0);
    meshq_buf_fini (&buf);
}

Test (codec_peer, unlink_says_asked_or_done_and_refuses_anything_else)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    for (int done = 0; done < 2; done++) {
        meshq_buf_reset (&buf);
        cr_assert_eq (meshq_codec_encode_unlink (done, &buf), 0);
        bool back = !done;
        cr_assert_eq (
            meshq_codec_decode_unlink (buf.data, buf.size, &back, NULL), 0);
        cr_expect_eq (back, done);
    }
    //  A newer sender's keys are skipped.
    meshq_writer_t w;
    meshq_buf_reset (&buf);
    meshq_writer_init (&w, &buf);
    meshq_writer_map (&w, 2);
    meshq_writer_str (&w, "reason");
    meshq_writer_str (&w, "idle");
    meshq_writer_str (&w, "done");
    meshq_writer_uint (&w, 1);
    bool done = false;
    cr_expect_eq (meshq_codec_decode_unlink (buf.data, buf.size, &done, NULL),
                  0);
    cr_expect (done);
    //  No done, done out of range, not a map: refused, with a reason.
    const char *why = NULL;
    meshq_buf_reset (&buf);
    meshq_writer_init (&w, &buf);
    meshq_writer_map (&w, 0);
    cr_expect_neq (meshq_codec_decode_unlink (buf.data, buf.size, &done, &why),
                   0);
    cr_expect_str_eq (why, "unlink done: missing");
    cr_expect_not (done);
    meshq_buf_reset (&buf);
    meshq_writer_init (&w, &buf);
    meshq_writer_map (&w, 1);
    meshq_writer_str (&w, "done");
    meshq_writer_uint (&w, 2);
    cr_expect_neq (meshq_codec_decode_unlink (buf.data, buf.size, &done, &why),
                   0);
    cr_expect_str_eq (why, "unlink done: out of range");
    meshq_buf_reset (&buf);
    meshq_writer_init (&w, &buf);
    meshq_writer_str (&w, "done");
    cr_expect_neq (meshq_codec_decode_unlink (buf.data, buf.size, &done, &why),
                   0);
    meshq_buf_fini (&buf);
}

Test (codec_peer, names_commands)
{
    cr_expect_eq (meshq_codec_peer_command ("UNLINK", 6),
                  MESHQ_PEER_CMD_UNLINK);
    cr_expect_eq (meshq_codec_peer_command ("HELLO", 5), MESHQ_PEER_CMD_HELLO);
    cr_expect_eq (meshq_codec_peer_command ("PING", 4), MESHQ_PEER_CMD_PING);
    cr_expect_eq (meshq_codec_peer_command ("PONG", 4), MESHQ_PEER_CMD_PONG);
    cr_expect_eq (meshq_codec_peer_command ("PEERS", 5), MESHQ_PEER_CMD_PEERS);
    cr_expect_eq (meshq_codec_peer_command ("BYE", 3), MESHQ_PEER_CMD_BYE);
    cr_expect_eq (meshq_codec_peer_command ("CREDIT", 6), MESHQ_PEER_CMD_OTHER);
    cr_expect_eq (meshq_codec_peer_command ("DELIVER_2", 9),
                  MESHQ_PEER_CMD_OTHER);
    cr_expect_eq (meshq_codec_peer_command ("HELLOX", 5), MESHQ_PEER_CMD_HELLO);
    cr_expect_eq (meshq_codec_peer_command ("", 0), MESHQ_PEER_CMD_INVALID);
    cr_expect_eq (meshq_codec_peer_command ("hello", 5),
                  MESHQ_PEER_CMD_INVALID);
    cr_expect_eq (meshq_codec_peer_command ("_X", 2), MESHQ_PEER_CMD_INVALID);
    cr_expect_eq (meshq_codec_peer_command ("HEL\0LO", 6),
                  MESHQ_PEER_CMD_INVALID);
    char longest[40];
    memset (longest, 'A', sizeof longest);
    cr_expect_eq (meshq_codec_peer_command (longest, 32), MESHQ_PEER_CMD_OTHER);
    cr_expect_eq (meshq_codec_peer_command (longest, 33),
                  MESHQ_PEER_CMD_INVALID);
}

//  Random byte flips of valid frames never crash a decoder, and what a
//  decoder accepts is within the documented ranges.
Test (codec_peer, survives_random_mutations)
{
    uint64_t state = testutil_seed ("codec_peer");
    meshq_buf_t frames[3], work;
    for (int i = 0; i < 3; i++)
        meshq_buf_init (&frames[i]);
    meshq_buf_init (&work);
    meshq_hello_t hello = s_hello ();
    cr_assert_eq (meshq_codec_encode_hello (&hello, &frames[0], NULL), 0);
    s_peers_frame (&frames[1], 3);
    cr_assert_eq (meshq_codec_encode_ping (99, &frames[2]), 0);
    for (int round = 0; round < 100000; round++) {
        meshq_buf_t *frame = &frames[round % 3];
        meshq_buf_reset (&work);
        meshq_buf_append (&work, frame->data, frame->size);
        int flips = 1 + (int)(testutil_random (&state) % 4);
        for (int f = 0; f < flips; f++)
            work.data[testutil_random (&state) % work.size] =
                (uint8_t)testutil_random (&state);
        size_t size = work.size - testutil_random (&state) % 3;
        meshq_hello_t back;
        if (meshq_codec_decode_hello (work.data, size, &back, NULL) == 0) {
            cr_assert_geq (back.heartbeat_ms, MESHQ_HEARTBEAT_MIN);
            cr_assert_geq (back.timeout_ms, 3 * back.heartbeat_ms);
            cr_assert_gt (back.incarnation, 0);
            cr_assert_leq (back.name.size, 255);
        }
        meshq_gossip_t entries[4];
        uint32_t count;
        if (meshq_codec_decode_peers (work.data, size, entries, 4, &count,
                                      NULL) == 0)
            cr_assert_leq (count, 4);
        uint64_t seq;
        meshq_codec_decode_ping (work.data, size, &seq, NULL);
        meshq_codec_decode_bye (work.data, size, NULL);
        bool done;
        meshq_codec_decode_unlink (work.data, size, &done, NULL);
    }
    for (int i = 0; i < 3; i++)
        meshq_buf_fini (&frames[i]);
    meshq_buf_fini (&work);
}
