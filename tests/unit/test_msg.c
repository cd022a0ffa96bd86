/*  test_msg.c - the message API: defaults, setters' checks, headers,
    copies and error names.
*/
#include "meshq.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test (msg, new_message_has_amqp_defaults_and_meshq_persistence)
{
    meshq_msg_t *msg = meshq_msg_new ();
    cr_expect_eq (meshq_msg_priority (msg), 0);
    cr_expect_eq (meshq_msg_delivery_mode (msg), MESHQ_PERSISTENT);
    cr_expect_eq (meshq_msg_expiration (msg), -1);
    cr_expect_eq (meshq_msg_timestamp (msg), 0);
    cr_expect_eq (meshq_msg_redelivery_count (msg), 0);
    cr_expect_null (meshq_msg_exchange (msg));
    cr_expect_null (meshq_msg_routing_key (msg));
    cr_expect_eq (meshq_msg_header_count (msg), 0);
    size_t size = 1;
    cr_expect_not_null (meshq_msg_body (msg, &size));
    cr_expect_eq (size, 0);
    cr_expect_not (meshq_msg_id (msg, NULL, NULL));
    meshq_msg_destroy (&msg);
    cr_expect_null (msg);
    meshq_msg_destroy (&msg);
    meshq_msg_destroy (NULL);
}

Test (msg, setters_refuse_what_the_format_cannot_carry)
{
    meshq_msg_t *msg = meshq_msg_new ();
    char long_key[300];
    memset (long_key, 'k', sizeof long_key);
    long_key[256] = 0;
    cr_expect_eq (meshq_msg_set_routing_key (msg, long_key), MESHQ_ETOOBIG);
    long_key[255] = 0;
    cr_expect_eq (meshq_msg_set_routing_key (msg, long_key), 0);
    cr_expect_eq (meshq_msg_set_exchange (msg, "caf\xe9"), MESHQ_EINVAL);
    cr_expect_null (meshq_msg_exchange (msg), "a refused value is not kept");
    cr_expect_eq (meshq_msg_set_priority (msg, 10), MESHQ_ERANGE);
    cr_expect_eq (meshq_msg_set_priority (msg, -1), MESHQ_ERANGE);
    cr_expect_eq (meshq_msg_priority (msg), 0);
    cr_expect_eq (meshq_msg_set_expiration (msg, -2), MESHQ_ERANGE);
    cr_expect_eq (meshq_msg_set_expiration (msg, 1LL << 32), MESHQ_ERANGE);
    cr_expect_eq (meshq_msg_set_delivery_mode (msg, 3), MESHQ_ERANGE);
    cr_expect_eq (meshq_msg_set_header_str (msg, "k", "\xc3"), MESHQ_EINVAL);
    cr_expect_eq (meshq_msg_set_header_str (msg, long_key, "v"), 0);
    long_key[255] = 'k';
    cr_expect_eq (meshq_msg_set_header_str (msg, long_key, "v"), MESHQ_ETOOBIG);
    char *big = calloc (1, 70000);
    memset (big, 'b', 65536);
    cr_expect_eq (meshq_msg_set_header_str (msg, "big", big), MESHQ_ETOOBIG);
    big[65535] = 0;
    cr_expect_eq (meshq_msg_set_header_str (msg, "big", big), 0);
    free (big);
    meshq_msg_destroy (&msg);
}

Test (msg, clearing_a_property_removes_it)
{
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_reply_to (msg, "replies");
    meshq_msg_set_expiration (msg, 5000);
    meshq_msg_set_reply_to (msg, NULL);
    meshq_msg_set_expiration (msg, -1);
    cr_expect_null (meshq_msg_reply_to (msg));
    cr_expect_eq (meshq_msg_expiration (msg), -1);
    uint8_t *data;
    size_t size;
    cr_assert_eq (meshq_msg_encode (msg, &data, &size), 0);
    cr_expect_eq (size, 4, "only the version is left");
    free (data);
    meshq_msg_destroy (&msg);
}

Test (msg, headers_replace_remove_and_cap)
{
    meshq_msg_t *msg = meshq_msg_new ();
    cr_assert_eq (meshq_msg_set_header_str (msg, "a", "1"), 0);
    cr_assert_eq (meshq_msg_set_header_int (msg, "b", 2), 0);
    cr_assert_eq (meshq_msg_set_header_str (msg, "a", "one"), 0);
    cr_expect_eq (meshq_msg_header_count (msg), 2);
    const char *key;
    const meshq_value_t *value = meshq_msg_header_at (msg, 0, &key);
    cr_expect_str_eq (key, "a");
    cr_expect_str_eq (value->u.bytes.data, "one");
    cr_expect_null (meshq_msg_header_at (msg, 2, &key));
    cr_expect_eq (meshq_msg_remove_header (msg, "a"), 0);
    cr_expect_eq (meshq_msg_remove_header (msg, "a"), MESHQ_ENOTFOUND);
    cr_expect_null (meshq_msg_header (msg, "a"));
    cr_expect_eq (meshq_msg_header (msg, "b")->u.integer, 2);

    char name[16];
    for (int i = 1; i < MESHQ_MAX_HEADERS; i++) {
        snprintf (name, sizeof name, "h%d", i);
        cr_assert_eq (meshq_msg_set_header_int (msg, name, i), 0);
    }
    cr_expect_eq (meshq_msg_header_count (msg), MESHQ_MAX_HEADERS);
    cr_expect_eq (meshq_msg_set_header_int (msg, "one-too-many", 0),
                  MESHQ_ETOOBIG);
    cr_expect_eq (meshq_msg_set_header_int (msg, "h5", 55), 0,
                  "replacing is allowed at the cap");
    meshq_msg_destroy (&msg);
}

Test (msg, decoded_message_can_be_changed)
{
    //  A decoded message keeps its fields in one arena; changing them
    //  must not free or overwrite arena memory.
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, "a.b");
    meshq_msg_set_header_str (msg, "x", "1");
    meshq_msg_set_header_str (msg, "y", "2");
    meshq_msg_set_body (msg, "body", 4);
    meshq_msg_t *copy = meshq_msg_dup (msg);
    cr_assert_eq (meshq_msg_set_routing_key (copy, "c.d"), 0);
    cr_assert_eq (meshq_msg_set_header_str (copy, "x", "changed"), 0);
    cr_assert_eq (meshq_msg_set_header_str (copy, "z", "3"), 0);
    cr_assert_eq (meshq_msg_remove_header (copy, "y"), 0);
    cr_assert_eq (meshq_msg_set_body (copy, "new", 3), 0);
    cr_expect_str_eq (meshq_msg_routing_key (copy), "c.d");
    cr_expect_str_eq (meshq_msg_header (copy, "x")->u.bytes.data, "changed");
    cr_expect_str_eq (meshq_msg_header (copy, "z")->u.bytes.data, "3");
    cr_expect_str_eq (meshq_msg_routing_key (msg), "a.b");
    meshq_msg_destroy (&copy);
    meshq_msg_destroy (&msg);
}

//  A message of body size bytes, each byte its index plus seed.
static meshq_msg_t *
s_decoded (size_t size, int seed)
{
    meshq_msg_t *msg = meshq_msg_new ();
    char *body = malloc (size);
    cr_assert (body);
    for (size_t i = 0; i < size; i++)
        body[i] = (char)(i + (size_t)seed);
    meshq_msg_set_body (msg, body, size);
    meshq_msg_set_routing_key (msg, "k");
    free (body);
    meshq_msg_t *copy = meshq_msg_dup (msg);
    meshq_msg_destroy (&msg);
    return copy;
}

static bool
s_intact (const meshq_msg_t *msg, size_t size, int seed)
{
    size_t got;
    const char *body = meshq_msg_body (msg, &got);
    if (got != size || strcmp (meshq_msg_routing_key (msg), "k") != 0)
        return false;
    for (size_t i = 0; i < size; i++)
        if (body[i] != (char)(i + (size_t)seed))
            return false;
    return true;
}

static void *
s_destroy_there (void *arg)
{
    meshq_msg_t *msg = arg;
    meshq_msg_destroy (&msg);
    return NULL;
}

Test (msg, decoded_messages_reuse_memory_and_stay_intact)
{
    //  Decoded messages come from a per-thread cache of blocks: freed
    //  ones are handed out again, of every size, in any order, and may
    //  be freed on another thread.
    enum { N = 200 };
    meshq_msg_t *msgs[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++)
            msgs[i] = s_decoded ((size_t)(i * 37 % 5000), round + i);
        for (int i = 0; i < N; i++)
            cr_assert (s_intact (msgs[i], (size_t)(i * 37 % 5000), round + i),
                       "message %d of round %d", i, round);
        for (int i = N - 1; i >= 0; i -= 2)
            meshq_msg_destroy (&msgs[i]);
        pthread_t thread;
        for (int i = 0; i < N; i += 2) {
            pthread_create (&thread, NULL, s_destroy_there, msgs[i]);
            pthread_join (thread, NULL);
        }
    }
}

Test (msg, body_set_again_replaces_the_body)
{
    //  A publisher sets a new body on the same message for each publish;
    //  one of the same size is written over the old one in place.
    meshq_msg_t *msg = meshq_msg_new ();
    cr_assert_eq (meshq_msg_set_body (msg, "abcd", 4), 0);
    cr_assert_eq (meshq_msg_set_body (msg, "wxyz", 4), 0);
    size_t size = 0;
    const char *body = meshq_msg_body (msg, &size);
    cr_assert_eq (size, 4);
    cr_expect_eq (memcmp (body, "wxyz", 4), 0);
    //  From itself: unchanged.
    cr_assert_eq (meshq_msg_set_body (msg, body, 4), 0);
    body = meshq_msg_body (msg, &size);
    cr_expect_eq (memcmp (body, "wxyz", 4), 0);
    //  A copy's body (in its arena) set to one of the same size: the
    //  copy has the new one, the original keeps its own.
    meshq_msg_t *copy = meshq_msg_dup (msg);
    cr_assert_eq (meshq_msg_set_body (copy, "1234", 4), 0);
    cr_assert_eq (meshq_msg_set_body (copy, "5678", 4), 0);
    body = meshq_msg_body (copy, &size);
    cr_assert_eq (size, 4);
    cr_expect_eq (memcmp (body, "5678", 4), 0);
    body = meshq_msg_body (msg, &size);
    cr_expect_eq (memcmp (body, "wxyz", 4), 0);
    //  Shorter, longer and empty bodies after it.
    cr_assert_eq (meshq_msg_set_body (msg, "ab", 2), 0);
    body = meshq_msg_body (msg, &size);
    cr_assert_eq (size, 2);
    cr_expect_eq (memcmp (body, "ab", 2), 0);
    cr_assert_eq (meshq_msg_set_body (msg, "abcdefgh", 8), 0);
    body = meshq_msg_body (msg, &size);
    cr_assert_eq (size, 8);
    cr_expect_eq (memcmp (body, "abcdefgh", 8), 0);
    cr_assert_eq (meshq_msg_set_body (msg, "", 0), 0);
    meshq_msg_body (msg, &size);
    cr_expect_eq (size, 0);
    meshq_msg_destroy (&copy);
    meshq_msg_destroy (&msg);
}

Test (msg, every_error_code_has_its_own_name)
{
    for (int a = MESHQ_OK; a >= MESHQ_EINTR; a--) {
        cr_expect_str_neq (meshq_strerror (a), "unknown error", "%d", a);
        for (int b = a - 1; b >= MESHQ_EINTR; b--)
            cr_expect_str_neq (meshq_strerror (a), meshq_strerror (b));
    }
    cr_expect_str_eq (meshq_strerror (-999), "unknown error");
}
