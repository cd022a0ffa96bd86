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

//  Applies a permission record for alice in "/" with one pattern for
//  all three kinds.
static int
s_permit (meshq_auth_t *auth, const char *configure, const char *write,
          const char *read)
{
    meshq_args_t record;
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, CONFIGURE, configure, meshq_span (configure));
    MESHQ_ARGS_SET (&record, WRITE, write, meshq_span (write));
    MESHQ_ARGS_SET (&record, READ, read, meshq_span (read));
    return meshq_auth_apply (auth,
                             "p//\x1f"
                             "alice",
                             &record);
}

static bool
s_allows (const char *pattern, const char *resource)
{
    meshq_auth_t *auth = meshq_auth_new ("test");
    cr_assert_eq (s_permit (auth, pattern, pattern, pattern), 0);
    bool allows =
        meshq_auth_allowed (auth, "alice", "/", MESHQ_PERM_READ, resource);
    meshq_auth_destroy (&auth);
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
    char why[256];
    cr_expect_eq (meshq_auth_check_patterns (".*", "(", ".*", why, sizeof why),
                  MESHQ_EINVAL);
    cr_expect (strstr (why, "write pattern '('"), "%s", why);
    //  As a record, it is skipped: the user has no permission at all.
    meshq_auth_t *auth = meshq_auth_new ("test");
    cr_expect_eq (s_permit (auth, ".*", "(", ".*"), MESHQ_EINVAL);
    cr_expect_not (meshq_auth_may_enter (auth, "alice", "/"));
    meshq_auth_destroy (&auth);
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

// --------------------------------------------------------------------
//  Logins through the module alone, on a loop of the test's own.

typedef struct {
    int answers;  //  Answers so far.
    int rc[16];   //  By ticket.
} s_answers_t;

static void
s_on_login (void *arg, void *ticket, int rc, const char *why)
{
    (void)why;
    s_answers_t *answers = arg;
    answers->rc[(intptr_t)ticket] = rc;
    answers->answers++;
}

typedef struct {
    s_answers_t *answers;  //  What came.
    int expected;          //  How many to wait for.
} s_wait_t;

static int
s_enough (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_wait_t *wait = arg;
    return wait->answers->answers >= wait->expected ? -1 : 0;
}

static int
s_give_up (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    return -1;
}

//  Runs the loop until expected answers came (or 20 s passed).
static void
s_run (zloop_t *loop, s_answers_t *answers, int expected)
{
    s_wait_t wait = {answers, expected};
    int poll = zloop_timer (loop, 2, 0, s_enough, &wait);
    int limit = zloop_timer (loop, 20000, 1, s_give_up, NULL);
    zloop_start (loop);
    zloop_timer_end (loop, poll);
    zloop_timer_end (loop, limit);
    cr_assert_geq (answers->answers, expected, "answers came");
}

//  A user record as the agent writes it.
static void
s_add_user (meshq_auth_t *auth, const char *name, const char *password,
            const char *tags)
{
    char hash[128];
    cr_assert_eq (
        meshq_auth_hash (password, strlen (password), hash, sizeof hash), 0);
    meshq_args_t record;
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, PWHASH, pwhash, meshq_span (hash));
    MESHQ_ARGS_SET (&record, TAGS, tags, meshq_span (tags));
    char key[64];
    snprintf (key, sizeof key, "u/%s", name);
    cr_assert_eq (meshq_auth_apply (auth, key, &record), 0);
}

Test (auth, users_log_in_and_leave_as_their_records_say)
{
    zloop_t *loop = zloop_new ();
    meshq_auth_t *auth = meshq_auth_new ("unit");
    s_answers_t answers = {0};
    cr_assert_eq (meshq_auth_start (auth, loop, s_on_login, &answers), 0);
    s_add_user (auth, "alice", "wonderland", "monitoring");
    cr_expect (meshq_auth_tagged (auth, "alice", MESHQ_TAG_MONITORING));
    cr_expect_not (meshq_auth_tagged (auth, "alice", MESHQ_TAG_ADMINISTRATOR));
    meshq_auth_login (auth, "alice", "wonderland", 10, "test", (void *)1);
    meshq_auth_login (auth, "alice", "rabbit", 6, "test", (void *)2);
    s_run (loop, &answers, 2);
    cr_expect_eq (answers.rc[1], 0, "the right password");
    cr_expect_eq (answers.rc[2], MESHQ_EACCESS, "a wrong one");
    //  Deleted, the user cannot log in, even with a remembered pass.
    cr_assert_eq (meshq_auth_apply (auth, "u/alice", NULL), 0);
    meshq_auth_login (auth, "alice", "wonderland", 10, "test", (void *)3);
    s_run (loop, &answers, 3);
    cr_expect_eq (answers.rc[3], MESHQ_EACCESS);
    cr_expect_null (meshq_auth_user (auth, "alice"));
    cr_expect_eq (meshq_auth_apply (auth, "q/jobs", NULL), MESHQ_EINVAL,
                  "not an auth record");
    meshq_auth_destroy (&auth);
    zloop_destroy (&loop);
}

Test (auth, permissions_are_per_user_and_vhost)
{
    meshq_auth_t *auth = meshq_auth_new ("unit");
    uint64_t generation = meshq_auth_generation (auth);
    cr_assert_eq (s_permit (auth, "^a", "^b", "^c"), 0);
    cr_expect_gt (meshq_auth_generation (auth), generation);
    cr_expect (meshq_auth_may_enter (auth, "alice", "/"));
    cr_expect_not (meshq_auth_may_enter (auth, "alice", "other"));
    cr_expect_not (meshq_auth_may_enter (auth, "bob", "/"));
    cr_expect (
        meshq_auth_allowed (auth, "alice", "/", MESHQ_PERM_CONFIGURE, "a1"));
    cr_expect_not (
        meshq_auth_allowed (auth, "alice", "/", MESHQ_PERM_CONFIGURE, "b1"));
    cr_expect (meshq_auth_allowed (auth, "alice", "/", MESHQ_PERM_WRITE, "b1"));
    cr_expect (meshq_auth_allowed (auth, "alice", "/", MESHQ_PERM_READ, "c1"));
    cr_expect_not (
        meshq_auth_allowed (auth, "alice", "other", MESHQ_PERM_READ, "c1"));
    cr_expect_not (
        meshq_auth_allowed (auth, "bob", "/", MESHQ_PERM_READ, "c1"));
    cr_assert_eq (meshq_auth_apply (auth,
                                    "p//\x1f"
                                    "alice",
                                    NULL),
                  0);
    cr_expect_not (meshq_auth_may_enter (auth, "alice", "/"));
    meshq_auth_destroy (&auth);
}

//  Runs the loop until a frame reaches server (or 10 s passed); true if
//  one did.
static int
s_got_frame (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    zmsg_t *msg = zmsg_recv (reader);
    zmsg_destroy (&msg);
    *(bool *)arg = true;
    return -1;
}

//  Logs in over ipc:// to a PLAIN server of auth, whose loop is loop.
static bool
s_plain_login (zloop_t *loop, meshq_auth_t *auth, const char *user,
               const char *password)
{
    zsock_t *server = zsock_new (ZMQ_ROUTER);
    zsock_set_plain_server (server, 1);
    zsock_set_zap_domain (server, meshq_auth_zap_domain (auth));
    static int endpoints;
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "ipc:///tmp/meshq-unit-auth-%d-%d",
              (int)getpid (), ++endpoints);
    cr_assert_eq (zsock_bind (server, "%s", endpoint), 0);
    zsock_t *client = zsock_new (ZMQ_DEALER);
    zsock_set_plain_username (client, user);
    zsock_set_plain_password (client, password);
    cr_assert_eq (zsock_connect (client, "%s", endpoint), 0);
    zstr_send (client, "hello");
    bool got = false;
    zloop_reader (loop, server, s_got_frame, &got);
    int limit = zloop_timer (loop, 3000, 1, s_give_up, NULL);
    zloop_start (loop);
    zloop_timer_end (loop, limit);
    zloop_reader_end (loop, server);
    zsock_destroy (&client);
    zsock_destroy (&server);
    return got;
}

//  An auth of the agent named name, with alice/wonderland.
static meshq_auth_t *
s_started (const char *name, zloop_t *loop, s_answers_t *answers)
{
    meshq_auth_t *auth = meshq_auth_new (name);
    cr_assert_eq (meshq_auth_start (auth, loop, s_on_login, answers), 0);
    s_add_user (auth, "alice", "wonderland", "");
    return auth;
}

Test (auth, zap_admits_the_right_password_only)
{
    zloop_t *loop = zloop_new ();
    s_answers_t answers = {0};
    meshq_auth_t *auth = s_started ("a", loop, &answers);
    cr_expect (s_plain_login (loop, auth, "alice", "wonderland"));
    cr_expect_not (s_plain_login (loop, auth, "alice", "rabbit"));
    meshq_auth_destroy (&auth);
    zloop_destroy (&loop);
}

Test (auth, zap_admits_clients_of_an_agent_named_mesh_dash)
{
    //  The mesh links' ZAP domain is "meshq-mesh-KEY": the clients of
    //  an agent named mesh-... must not be taken for mesh links.
    zloop_t *loop = zloop_new ();
    s_answers_t answers = {0};
    meshq_auth_t *auth = s_started ("mesh-a", loop, &answers);
    cr_expect (s_plain_login (loop, auth, "alice", "wonderland"));
    meshq_auth_destroy (&auth);
    zloop_destroy (&loop);
}

// --------------------------------------------------------------------
//  What wrong passwords can cost

Test (auth, unknown_and_known_users_both_go_through_the_verifier)
{
    zloop_t *loop = zloop_new ();
    s_answers_t answers = {0};
    meshq_auth_t *auth = s_started ("a", loop, &answers);
    meshq_auth_login (auth, "alice", "rabbit", 6, "one", (void *)1);
    meshq_auth_login (auth, "mallory", "rabbit", 6, "two", (void *)2);
    meshq_auth_login (auth, "alice", NULL, 0, "three", (void *)3);
    cr_expect_eq (answers.answers, 0, "none is answered before its check");
    cr_expect_eq (meshq_auth_stats (auth)->pending, 3);
    s_run (loop, &answers, 3);
    for (int i = 1; i <= 3; i++)
        cr_expect_eq (answers.rc[i], MESHQ_EACCESS);
    const meshq_auth_stats_t *stats = meshq_auth_stats (auth);
    cr_expect_eq (stats->verified, 3, "each took the verifier's time");
    cr_expect_eq (stats->refused[MESHQ_AUTH_PASSWORD], 3);
    meshq_auth_destroy (&auth);
    zloop_destroy (&loop);
}

Test (auth, a_flood_of_logins_cannot_queue_past_the_bound)
{
    zloop_t *loop = zloop_new ();
    s_answers_t answers = {0};
    meshq_auth_t *auth = s_started ("a", loop, &answers);
    //  100 wrong passwords at once, each from a source of its own (so
    //  that no source's budget stops them): the verifier's queue takes
    //  MESHQ_AUTH_PENDING_MAX, the rest are refused at once.
    for (int i = 0; i < 100; i++) {
        char source[32];
        snprintf (source, sizeof source, "10.0.0.%d", i);
        meshq_auth_login (auth, "alice", "rabbit", 6, source, (void *)4);
    }
    const meshq_auth_stats_t *stats = meshq_auth_stats (auth);
    cr_expect_eq (stats->pending, MESHQ_AUTH_PENDING_MAX);
    cr_expect_eq (answers.answers, 100 - MESHQ_AUTH_PENDING_MAX,
                  "the excess is answered without waiting");
    cr_expect_eq (answers.rc[4], MESHQ_EAGAIN);
    cr_expect_eq (stats->refused[MESHQ_AUTH_BUSY],
                  100 - MESHQ_AUTH_PENDING_MAX);
    //  A real login now waits behind at most the bound, and gets in.
    s_run (loop, &answers, 100);
    meshq_auth_login (auth, "alice", "wonderland", 10, "10.0.1.1", (void *)5);
    cr_expect_leq (meshq_auth_stats (auth)->pending, MESHQ_AUTH_PENDING_MAX);
    s_run (loop, &answers, 101);
    cr_expect_eq (answers.rc[5], 0);
    meshq_auth_destroy (&auth);
    zloop_destroy (&loop);
}

Test (auth, a_source_that_fails_too_often_is_refused_at_once)
{
    zloop_t *loop = zloop_new ();
    s_answers_t answers = {0};
    meshq_auth_t *auth = s_started ("a", loop, &answers);
    //  No token comes back during the test, however slow the machine.
    meshq_auth_set_limits (auth, MESHQ_AUTH_PENDING_MAX,
                           MESHQ_AUTH_FAILURE_BURST, 3600 * 1000);
    int expected = 0;
    for (int i = 0; i < MESHQ_AUTH_FAILURE_BURST; i++) {
        meshq_auth_login (auth, "alice", "rabbit", 6, "10.0.0.9", (void *)1);
        s_run (loop, &answers, ++expected);
        cr_expect_eq (answers.rc[1], MESHQ_EACCESS);
    }
    //  Its budget is spent: refused before any check, even the right
    //  password (until a token comes back with time).
    uint64_t verified = meshq_auth_stats (auth)->verified;
    meshq_auth_login (auth, "mallory", "rabbit", 6, "10.0.0.9", (void *)2);
    meshq_auth_login (auth, "alice", "wonderland", 10, "10.0.0.9", (void *)3);
    expected += 2;
    cr_expect_eq (answers.answers, expected, "answered at once");
    cr_expect_eq (answers.rc[2], MESHQ_EAGAIN);
    cr_expect_eq (answers.rc[3], MESHQ_EAGAIN);
    const meshq_auth_stats_t *stats = meshq_auth_stats (auth);
    cr_expect_eq (stats->verified, verified);
    cr_expect_eq (stats->refused[MESHQ_AUTH_THROTTLED], 2);
    //  Another source is not held back.
    meshq_auth_login (auth, "alice", "wonderland", 10, "10.0.0.10", (void *)4);
    s_run (loop, &answers, ++expected);
    cr_expect_eq (answers.rc[4], 0);
    meshq_auth_destroy (&auth);
    zloop_destroy (&loop);
}
