/*  test_exchange.c - routing by exchange type: AMQP topic patterns and
    headers matching.
*/
#include "codec.h"
#include "exchange.h"

#include <criterion/criterion.h>

static bool
s_topic (const char *pattern, const char *key)
{
    return meshq_topic_match (pattern, meshq_span (key));
}

Test (exchange, topic_patterns_match_as_amqp)
{
    struct {
        const char *pattern, *key;
        bool match;
    } cases[] = {
        {"kern.*", "kern.critical", true},
        {"kern.*", "kern", false},
        {"kern.*", "kern.a.b", false},
        {"*.critical", "kern.critical", true},
        {"#", "anything.at.all", true},
        {"#", "", true},
        {"kern.#", "kern", true},
        {"kern.#", "kern.a.b.c", true},
        {"kern.#", "kernel.a", false},
        {"#.critical", "critical", true},
        {"#.critical", "a.b.critical", true},
        {"#.critical", "a.critical.b", false},
        {"a.#.z", "a.z", true},
        {"a.#.z", "a.b.c.z", true},
        {"a.#.z", "a.b.c", false},
        {"*.*", "a.b", true},
        {"*.*", "a", false},
        {"*", "", true},
        {"", "", true},
        {"", "a", false},
        {"#.#", "a.b", true},
        {"a.*.#", "a", false},
        {"a.*.#", "a.b", true},
        {"lazy.#", "lazy.orange.male.rabbit", true},
        {"*.orange.*", "quick.orange.rabbit", true},
        {"*.orange.*", "quick.orange.male.rabbit", false},
        {"*.*.rabbit", "lazy.pink.rabbit", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq (s_topic (cases[i].pattern, cases[i].key), cases[i].match,
                      "'%s' vs '%s': expected %s", cases[i].pattern,
                      cases[i].key, cases[i].match ? "match" : "no match");
}

Test (exchange, topic_with_many_hashes_stays_fast)
{
    //  Backtracking would take 2^n steps here; the matcher is linear.
    char pattern[256] = "", key[256] = "";
    for (int i = 0; i < 60; i++)
        strcat (pattern, "#.");
    strcat (pattern, "z");
    for (int i = 0; i < 120; i++)
        strcat (key, "a.");
    strcat (key, "b");
    cr_expect_not (s_topic (pattern, key));
}

static void
s_collect (void *arg, void *queue)
{
    int *hits = arg;
    hits[(intptr_t)queue]++;
}

static meshq_span_t
s_headers (meshq_buf_t *buf, const meshq_header_t *headers, uint32_t count)
{
    meshq_buf_reset (buf);
    const char *why;
    cr_assert_eq (meshq_codec_encode_headers (headers, count, buf, &why), 0);
    meshq_span_t span = {(const char *)buf->data, (uint32_t)buf->size};
    return span;
}

static meshq_header_t
s_str (const char *key, const char *value)
{
    meshq_header_t header = {meshq_span (key), {.type = MESHQ_VALUE_STR}};
    header.value.u.bytes.data = value;
    header.value.u.bytes.size = strlen (value);
    return header;
}

Test (exchange, headers_match_all_and_any)
{
    meshq_exchange_t *exchange =
        meshq_exchange_new ("h", MESHQ_EXCHANGE_HEADERS, true);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_header_t all[3] = {s_str ("x-match", "all"), s_str ("format", "pdf"),
                             s_str ("type", "report")};
    meshq_header_t any[3] = {s_str ("x-match", "any"), s_str ("format", "pdf"),
                             s_str ("type", "report")};
    meshq_span_t span = s_headers (&buf, all, 3);
    cr_assert_eq (meshq_exchange_bind (exchange, (void *)1, "", span, 3), 0);
    span = s_headers (&buf, any, 3);
    cr_assert_eq (meshq_exchange_bind (exchange, (void *)2, "", span, 3), 0);
    meshq_header_t bad[1] = {s_str ("x-match", "most")};
    span = s_headers (&buf, bad, 1);
    cr_expect_eq (meshq_exchange_bind (exchange, (void *)3, "", span, 1),
                  MESHQ_EINVAL);

    meshq_header_t both[2] = {s_str ("type", "report"),
                              s_str ("format", "pdf")};
    int hits[4] = {0};
    meshq_exchange_route (exchange, meshq_span (""), s_headers (&buf, both, 2),
                          s_collect, hits);
    cr_expect_eq (hits[1], 1);
    cr_expect_eq (hits[2], 1);

    meshq_header_t one[1] = {s_str ("format", "pdf")};
    memset (hits, 0, sizeof hits);
    meshq_exchange_route (exchange, meshq_span (""), s_headers (&buf, one, 1),
                          s_collect, hits);
    cr_expect_eq (hits[1], 0, "all needs every header");
    cr_expect_eq (hits[2], 1, "any needs one");

    meshq_header_t wrong[1] = {s_str ("format", "zip")};
    memset (hits, 0, sizeof hits);
    meshq_exchange_route (exchange, meshq_span (""), s_headers (&buf, wrong, 1),
                          s_collect, hits);
    cr_expect_eq (hits[1] + hits[2], 0);
    meshq_buf_fini (&buf);
    meshq_exchange_destroy (&exchange);
}

Test (exchange, direct_and_fanout_route_and_unbind)
{
    meshq_exchange_t *direct =
        meshq_exchange_new ("d", MESHQ_EXCHANGE_DIRECT, true);
    meshq_span_t none = {0};
    meshq_exchange_bind (direct, (void *)1, "info", none, 0);
    meshq_exchange_bind (direct, (void *)2, "error", none, 0);
    meshq_exchange_bind (direct, (void *)2, "error", none, 0);
    cr_expect_eq (meshq_exchange_binding_count (direct), 2,
                  "binding twice is one binding");
    int hits[3] = {0};
    meshq_exchange_route (direct, meshq_span ("error"), none, s_collect, hits);
    cr_expect_eq (hits[2], 1);
    cr_expect_eq (hits[1], 0);
    cr_expect_eq (meshq_exchange_unbind (direct, (void *)2, "error", none), 0);
    cr_expect_eq (meshq_exchange_unbind (direct, (void *)2, "error", none),
                  MESHQ_ENOTFOUND);
    memset (hits, 0, sizeof hits);
    meshq_exchange_route (direct, meshq_span ("error"), none, s_collect, hits);
    cr_expect_eq (hits[2], 0);
    meshq_exchange_destroy (&direct);

    meshq_exchange_t *fanout =
        meshq_exchange_new ("f", MESHQ_EXCHANGE_FANOUT, false);
    meshq_exchange_bind (fanout, (void *)1, "", none, 0);
    meshq_exchange_bind (fanout, (void *)2, "whatever", none, 0);
    memset (hits, 0, sizeof hits);
    meshq_exchange_route (fanout, meshq_span ("x"), none, s_collect, hits);
    cr_expect_eq (hits[1] + hits[2], 2);
    meshq_exchange_unbind_queue (fanout, (void *)1);
    cr_expect_eq (meshq_exchange_binding_count (fanout), 1);
    meshq_exchange_destroy (&fanout);
}
