/*  test_auth.c - tags and permission patterns, as rabbitmqctl has them. */
#include "auth.h"
#include "meshq.h"
#include "verifier.h"

#include <criterion/criterion.h>
#include <sodium.h>

Test (auth, tags_parse_and_print)
{
    unsigned tags = 99;
    char why[128];
    cr_assert_eq (meshq_auth_parse_tags ("administrator, monitoring", &tags,
                                         why, sizeof why),
                  0);
    cr_expect_eq (tags, MESHQ_TAG_ADMINISTRATOR | MESHQ_TAG_MONITORING);
    char text[64];
    meshq_auth_format_tags (tags, text, sizeof text);
    cr_expect_str_eq (text, "administrator,monitoring");
    cr_assert_eq (meshq_auth_parse_tags ("none", &tags, why, sizeof why), 0);
    cr_expect_eq (tags, 0);
    cr_expect_eq (meshq_auth_parse_tags ("root", &tags, why, sizeof why),
                  MESHQ_EINVAL);
    cr_expect (strstr (why, "unknown tag 'root'"));
}

static bool
s_allows (const char *pattern, const char *resource)
{
    meshq_perm_t *perm = NULL;
    char why[256];
    cr_assert_eq (
        meshq_perm_new (&perm, pattern, pattern, pattern, why, sizeof why), 0,
        "%s", why);
    bool allows = meshq_perm_allows (perm, MESHQ_PERM_READ, resource);
    meshq_perm_destroy (&perm);
    return allows;
}

Test (auth, permission_patterns_match_anywhere_as_rabbitmq)
{
    struct {
        const char *pattern, *resource;
        bool allows;
    } cases[] = {
        {".*", "anything", true},
        {".*", "", true},
        {"^$", "my_queue", false},
        {"", "my_queue", false},
        {"^my_", "my_queue", true},
        {"^my_", "your_queue", false},
        {"queue", "my_queue", true},
        {"^queue$", "my_queue", false},
        {"^(jobs|logs)$", "logs", true},
        {"^(jobs|logs)$", "logs2", false},
        {"^amq\\.gen-", "amq.gen-1234", true},
        {"^amq\\.gen-", "amqXgen-1234", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq (s_allows (cases[i].pattern, cases[i].resource),
                      cases[i].allows, "'%s' on '%s'", cases[i].pattern,
                      cases[i].resource);
}

Test (auth, a_bad_pattern_is_refused_with_its_kind)
{
    meshq_perm_t *perm = NULL;
    char why[256];
    cr_expect_eq (meshq_perm_new (&perm, ".*", "(", ".*", why, sizeof why),
                  MESHQ_EINVAL);
    cr_expect_null (perm);
    cr_expect (strstr (why, "write pattern '('"), "%s", why);
}

Test (auth, passwords_are_kept_as_argon2_hashes)
{
    char hash[128];
    cr_assert_eq (meshq_auth_hash ("s3cret", 6, hash, sizeof hash), 0);
    cr_expect (strncmp (hash, "$argon2id$", 10) == 0, "%s", hash);
    cr_expect_null (strstr (hash, "s3cret"));
    cr_expect_eq (crypto_pwhash_str_verify (hash, "s3cret", 6), 0);
    cr_expect_neq (crypto_pwhash_str_verify (hash, "s3cre", 5), 0);
}

//  The verifier's shortcut for the public default must give the answer
//  Argon2 would give, for the right password and for wrong ones.
static int
s_verify (zactor_t *verifier, const char *hash, const char *password)
{
    uint64_t token = 7;
    zsock_send (verifier, "sbsb", "VERIFY", &token, sizeof token, hash,
                password, strlen (password));
    char *command = NULL;
    zframe_t *back = NULL;
    int ok = -1;
    zsock_recv (verifier, "sfi", &command, &back, &ok);
    cr_expect_str_eq (command, "RESULT");
    zstr_free (&command);
    zframe_destroy (&back);
    return ok;
}

Test (auth, the_default_guest_hash_checks_as_argon2_would)
{
    char hash[crypto_pwhash_STRBYTES] = MESHQ_AUTH_GUEST_HASH;
    cr_assert_eq (crypto_pwhash_str_verify (hash, "guest", 5), 0);
    zactor_t *verifier = zactor_new (meshq_verifier_actor, NULL);
    cr_expect_eq (s_verify (verifier, MESHQ_AUTH_GUEST_HASH, "guest"), 1);
    const char *wrong[] = {"", "gues", "Guest", "guest ", "guestguest"};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++)
        cr_expect_eq (s_verify (verifier, MESHQ_AUTH_GUEST_HASH, wrong[i]), 0,
                      "'%s'", wrong[i]);
    zactor_destroy (&verifier);
}
