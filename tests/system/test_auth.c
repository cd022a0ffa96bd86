/*  test_auth.c - logins, permissions and vhosts against a meshq-agent
    process: every refusal is clear and counted, every verb is checked,
    and vhosts do not see each other.
*/
#include "args.h"
#include "client_internal.h"
#include "clientutil.h"
#include "codec_args.h"
#include "procutil.h"

static char s_dir[256];
static char s_ipc[300];
static char s_tcp[64];
static pid_t s_agent;

static void
s_setup (void)
{
    procutil_dir ("auth", s_dir, sizeof s_dir, s_ipc, sizeof s_ipc);
    snprintf (s_tcp, sizeof s_tcp, "tcp://127.0.0.1:%d", procutil_free_port ());
    char endpoints[400];
    snprintf (endpoints, sizeof endpoints, "%s,%s", s_ipc, s_tcp);
    s_agent = procutil_agent ("auth", s_dir, endpoints);
}

static void
s_teardown (void)
{
    procutil_kill (s_agent, SIGTERM);
    procutil_rmdir (s_dir);
}

TestSuite (auth, .init = s_setup, .fini = s_teardown, .timeout = 120);

//  Connects as user/password to vhost over endpoint; returns the code.
static int
s_login (const char *endpoint, const char *user, const char *password,
         const char *vhost, meshq_client_t **client_p, char *why, size_t size)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 5000);
    meshq_client_set_credentials (client, user, password);
    meshq_client_set_vhost (client, vhost);
    int rc = meshq_client_connect (client, endpoint);
    if (why)
        snprintf (why, size, "%s", meshq_client_error (client));
    if (rc == 0 && client_p)
        *client_p = client;
    else
        meshq_client_destroy (&client);
    return rc;
}

static meshq_client_t *
s_admin (void)
{
    meshq_client_t *client = NULL;
    char why[512];
    cr_assert_eq (
        s_login (s_ipc, "guest", "guest", "/", &client, why, sizeof why), 0,
        "%s", why);
    return client;
}

static uint64_t
s_refused (meshq_client_t *client)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    zmsg_destroy (&reply);
    return status.refused;
}

Test (auth, bad_logins_are_refused_clearly_and_counted)
{
    meshq_client_t *admin = s_admin ();
    cr_assert_eq (clientutil_admin (admin, "ADD_USER", "alice", NULL,
                                    "wonderland", NULL, NULL, NULL),
                  0);
    cr_assert_eq (clientutil_admin (admin, "ADD_VHOST", NULL, "shop", NULL,
                                    NULL, NULL, NULL),
                  0);
    uint64_t before = s_refused (admin);
    char why[512];
    cr_expect_eq (s_login (s_ipc, "alice", "wrong", "/", NULL, why, sizeof why),
                  MESHQ_EACCESS);
    cr_expect (strstr (why, "login refused"), "%s", why);
    cr_expect (strstr (why, "wrong user or password") && !strstr (why, "guest"),
               "%s", why);
    cr_expect_eq (s_login (s_ipc, "mallory", "x", "/", NULL, why, sizeof why),
                  MESHQ_EACCESS);
    cr_expect_eq (s_login (s_tcp, "guest", "guest", "/", NULL, why, sizeof why),
                  MESHQ_EACCESS, "guest over tcp://");
    cr_expect (strstr (why, "guest may connect only over ipc://"), "%s", why);
    //  Right password, no rights on the vhost.
    cr_expect_eq (
        s_login (s_ipc, "alice", "wonderland", "shop", NULL, why, sizeof why),
        MESHQ_EACCESS);
    cr_expect (strstr (why, "user 'alice' has no access to vhost 'shop'"), "%s",
               why);
    cr_expect_eq (s_login (s_ipc, "alice", "wonderland", "nowhere", NULL, why,
                           sizeof why),
                  MESHQ_ENOTFOUND);
    cr_expect_eq (s_refused (admin) - before, 4,
                  "each refused login is counted");
    //  With rights, over tcp too.
    cr_assert_eq (clientutil_admin (admin, "SET_PERMISSIONS", "alice", "shop",
                                    NULL, ".*", ".*", ".*"),
                  0);
    cr_expect_eq (
        s_login (s_tcp, "alice", "wonderland", "shop", NULL, why, sizeof why),
        0, "%s", why);
    cr_assert_eq (clientutil_admin (admin, "CHANGE_PASSWORD", "alice", NULL,
                                    "rabbit", NULL, NULL, NULL),
                  0);
    cr_expect_eq (
        s_login (s_ipc, "alice", "wonderland", "shop", NULL, why, sizeof why),
        MESHQ_EACCESS, "the old password is refused");
    cr_expect_eq (
        s_login (s_ipc, "alice", "rabbit", "shop", NULL, why, sizeof why), 0,
        "%s", why);
    cr_assert_eq (clientutil_admin (admin, "DELETE_USER", "alice", NULL, NULL,
                                    NULL, NULL, NULL),
                  0);
    cr_expect_eq (
        s_login (s_ipc, "alice", "rabbit", "shop", NULL, why, sizeof why),
        MESHQ_EACCESS, "a deleted user");
    meshq_client_destroy (&admin);
}

Test (auth, every_verb_is_checked_against_the_permissions)
{
    meshq_client_t *admin = s_admin ();
    clientutil_admin (admin, "ADD_USER", "bob", NULL, "builder", NULL, NULL,
                      NULL);
    //  Bob may configure and read queues named bob.*, write to
    //  exchanges named bob.* (and the default exchange), read from
    //  bob.in.
    cr_assert_eq (clientutil_admin (admin, "SET_PERMISSIONS", "bob", "/", NULL,
                                    "^bob\\.", "^(bob\\.|amq\\.default$)",
                                    "^bob\\."),
                  0);
    cr_assert_eq (meshq_client_declare_queue (admin, "admin.q", NULL), 0);
    cr_assert_eq (
        meshq_client_declare_exchange (admin, "bob.in", "fanout", true), 0);
    meshq_client_t *bob = NULL;
    char why[512];
    cr_assert_eq (s_login (s_ipc, "bob", "builder", "/", &bob, why, sizeof why),
                  0, "%s", why);
    //  configure
    cr_expect_eq (meshq_client_declare_queue (bob, "bob.q", NULL), 0);
    cr_expect_eq (meshq_client_declare_queue (bob, "other.q", NULL),
                  MESHQ_EACCESS);
    cr_expect_str_eq (meshq_client_error (bob),
                      "access to queue 'other.q' in vhost '/' refused for "
                      "user 'bob' (needs configure permission)");
    cr_expect_eq (meshq_client_declare_exchange (bob, "bob.x", "direct", true),
                  0);
    cr_expect_eq (meshq_client_declare_exchange (bob, "x", "direct", true),
                  MESHQ_EACCESS);
    //  bind: write on the queue, read on the exchange
    cr_expect_eq (meshq_client_bind_queue (bob, "bob.q", "bob.in", "", NULL),
                  0);
    cr_expect_eq (
        meshq_client_bind_queue (bob, "bob.q", "amq.fanout", "", NULL),
        MESHQ_EACCESS);
    //  write: publish
    meshq_client_set_confirms (bob, 10);
    cr_expect_eq (meshq_client_publish_body (bob, "bob.in", "", "ok", 2), 0);
    cr_expect_eq (meshq_client_wait_for_confirms (bob, 5000), 0);
    cr_expect_eq (meshq_client_publish_body (bob, "", "bob.q", "ok", 2), 0);
    cr_expect_eq (meshq_client_wait_for_confirms (bob, 5000), 0);
    meshq_client_publish_body (bob, "amq.direct", "bob.q", "no", 2);
    cr_expect_eq (meshq_client_wait_for_confirms (bob, 5000), MESHQ_EACCESS);
    //  read: consume, get, purge
    cr_expect_eq (meshq_client_consume (bob, "admin.q", 1, NULL, 0),
                  MESHQ_EACCESS);
    meshq_delivery_t *delivery = NULL;
    cr_expect_eq (meshq_client_get (bob, "admin.q", true, &delivery),
                  MESHQ_EACCESS);
    cr_expect_eq (meshq_client_purge_queue (bob, "admin.q", NULL),
                  MESHQ_EACCESS);
    cr_expect_eq (meshq_client_get (bob, "bob.q", true, &delivery), 0);
    cr_expect_not_null (delivery);
    meshq_delivery_destroy (&delivery);
    //  configure: delete
    cr_expect_eq (
        meshq_client_delete_queue (bob, "admin.q", false, false, NULL),
        MESHQ_EACCESS);
    cr_expect_eq (meshq_client_delete_queue (bob, "bob.q", false, false, NULL),
                  0);
    //  Administrative verbs need the administrator tag.
    cr_expect_eq (
        clientutil_admin (bob, "ADD_USER", "eve", NULL, "x", NULL, NULL, NULL),
        MESHQ_EACCESS);
    cr_expect (strstr (meshq_client_error (bob), "administrator"));
    cr_expect_eq (clientutil_admin (bob, "LIST_USERS", NULL, NULL, NULL, NULL,
                                    NULL, NULL),
                  MESHQ_EACCESS);
    cr_assert_eq (clientutil_admin (admin, "CLEAR_PERMISSIONS", "bob", "/",
                                    NULL, NULL, NULL, NULL),
                  0);
    cr_expect_eq (meshq_client_declare_queue (bob, "bob.q2", NULL),
                  MESHQ_EACCESS, "permissions cleared while connected");
    meshq_client_destroy (&bob);
    meshq_client_destroy (&admin);
}

Test (auth, vhosts_are_separate_namespaces)
{
    meshq_client_t *admin = s_admin ();
    cr_assert_eq (clientutil_admin (admin, "ADD_VHOST", NULL, "blue", NULL,
                                    NULL, NULL, NULL),
                  0);
    cr_expect_eq (clientutil_admin (admin, "ADD_VHOST", NULL, "blue", NULL,
                                    NULL, NULL, NULL),
                  MESHQ_EEXIST);
    cr_assert_eq (clientutil_admin (admin, "SET_PERMISSIONS", "guest", "blue",
                                    NULL, ".*", ".*", ".*"),
                  0);
    meshq_client_t *blue = NULL;
    char why[512];
    cr_assert_eq (
        s_login (s_ipc, "guest", "guest", "blue", &blue, why, sizeof why), 0,
        "%s", why);
    meshq_client_set_confirms (admin, 10);
    meshq_client_set_confirms (blue, 10);
    cr_assert_eq (meshq_client_declare_queue (admin, "same", NULL), 0);
    cr_assert_eq (meshq_client_declare_queue (blue, "same", NULL), 0);
    meshq_client_publish_body (admin, "", "same", "in /", 4);
    meshq_client_publish_body (blue, "", "same", "in blue", 7);
    cr_assert_eq (meshq_client_wait_for_confirms (admin, 5000), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (blue, 5000), 0);
    meshq_delivery_t *delivery = NULL;
    cr_assert_eq (meshq_client_get (blue, "same", true, &delivery), 0);
    size_t size;
    const char *body = meshq_msg_body (delivery->msg, &size);
    cr_expect_eq (size, 7);
    cr_expect_eq (memcmp (body, "in blue", 7), 0);
    meshq_delivery_destroy (&delivery);
    cr_assert_eq (meshq_client_get (blue, "same", true, &delivery), 0);
    cr_expect_null (delivery, "blue holds only its own message");
    meshq_client_destroy (&blue);
    //  Deleting a vhost deletes what is in it; '/' cannot go.
    cr_assert_eq (clientutil_admin (admin, "DELETE_VHOST", NULL, "blue", NULL,
                                    NULL, NULL, NULL),
                  0);
    cr_expect_eq (
        s_login (s_ipc, "guest", "guest", "blue", NULL, why, sizeof why),
        MESHQ_ENOTFOUND);
    cr_expect_eq (clientutil_admin (admin, "DELETE_VHOST", NULL, "/", NULL,
                                    NULL, NULL, NULL),
                  MESHQ_EACCESS);
    cr_assert_eq (meshq_client_get (admin, "same", true, &delivery), 0);
    cr_expect_not_null (delivery, "'/' kept its message");
    meshq_delivery_destroy (&delivery);
    meshq_client_destroy (&admin);
}

Test (auth, users_and_vhosts_survive_a_restart)
{
    meshq_client_t *admin = s_admin ();
    clientutil_admin (admin, "ADD_USER", "carol", NULL, "secret", NULL, NULL,
                      NULL);
    clientutil_admin (admin, "ADD_VHOST", NULL, "kept", NULL, NULL, NULL, NULL);
    clientutil_admin (admin, "SET_PERMISSIONS", "carol", "kept", NULL, ".*",
                      ".*", ".*");
    meshq_client_destroy (&admin);
    procutil_kill (s_agent, SIGKILL);
    char endpoints[400];
    snprintf (endpoints, sizeof endpoints, "%s,%s", s_ipc, s_tcp);
    s_agent = procutil_agent ("auth", s_dir, endpoints);
    char why[512];
    cr_expect_eq (
        s_login (s_tcp, "carol", "secret", "kept", NULL, why, sizeof why), 0,
        "%s", why);
}

Test (auth, an_agent_named_mesh_dash_lets_clients_log_in)
{
    //  Its clients' ZAP domain once began as the mesh links' does, and
    //  every login was refused: procutil_agent waits for a login as
    //  guest over ipc:// and fails the test if none succeeds.
    char dir[300];
    snprintf (dir, sizeof dir, "%s/mesh-a", s_dir);
    cr_assert_eq (mkdir (dir, 0700), 0);
    char ipc[400];
    snprintf (ipc, sizeof ipc, "ipc://%s/agent.ipc", dir);
    pid_t agent = procutil_agent ("mesh-a", dir, ipc);
    meshq_client_t *client = NULL;
    char why[512];
    cr_expect_eq (
        s_login (ipc, "guest", "guest", "/", &client, why, sizeof why), 0, "%s",
        why);
    meshq_client_destroy (&client);
    cr_expect_neq (s_login (ipc, "guest", "wrong", "/", NULL, why, sizeof why),
                   0);
    procutil_kill (agent, SIGTERM);
}

//  Sends verb with args over a bare DEALER with routing id id, logged
//  in as user, and returns the answer's verb (and its code); the
//  connection then goes away without BYE. Each try is a new connection:
//  while the agent still holds the id's last one, libzmq leaves a new
//  one with the same id unread, and may misread it after.
static char *
s_raw_call (const uint8_t *id, const char *user, const char *password,
            const char *verb, meshq_args_t *args, int *code)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_args (args, &buf, NULL), 0);
    char *answer = NULL;
    for (int tries = 0; tries < 20 && !answer; tries++) {
        zsock_t *dealer = zsock_new (ZMQ_DEALER);
        zsock_set_linger (dealer, 0);
        zmq_setsockopt (zsock_resolve (dealer), ZMQ_ROUTING_ID, id, 16);
        zsock_set_plain_username (dealer, user);
        zsock_set_plain_password (dealer, password);
        cr_assert_eq (zsock_connect (dealer, "%s", s_ipc), 0);
        zmq_send (zsock_resolve (dealer), verb, strlen (verb), ZMQ_SNDMORE);
        zmq_send (zsock_resolve (dealer), buf.data, buf.size, 0);
        zpoller_t *poller = zpoller_new (dealer, NULL);
        if (zpoller_wait (poller, 500)) {
            zmsg_t *reply = zmsg_recv (dealer);
            answer = zmsg_popstr (reply);
            zframe_t *frame = zmsg_pop (reply);
            meshq_args_t results;
            *code = 0;
            if (frame &&
                meshq_codec_decode_args (zframe_data (frame),
                                         zframe_size (frame), &results,
                                         NULL) == 0 &&
                MESHQ_ARGS_HAS (&results, CODE))
                *code = (int)results.code;
            zframe_destroy (&frame);
            zmsg_destroy (&reply);
        }
        zpoller_destroy (&poller);
        zsock_destroy (&dealer);
    }
    meshq_buf_fini (&buf);
    cr_assert_not_null (answer, "%s: no answer", verb);
    return answer;
}

Test (auth, another_user_presenting_a_session_id_is_not_its_user)
{
    meshq_client_t *admin = s_admin ();
    clientutil_admin (admin, "ADD_USER", "eve", NULL, "x", NULL, NULL, NULL);
    cr_assert_eq (clientutil_admin (admin, "SET_PERMISSIONS", "eve", "/", NULL,
                                    "^eve\\.", "^eve\\.", "^eve\\."),
                  0);
    meshq_client_set_confirms (admin, 10);
    cr_assert_eq (meshq_client_declare_queue (admin, "secret", NULL), 0);
    meshq_client_publish_body (admin, "", "secret", "s3cret", 6);
    cr_assert_eq (meshq_client_wait_for_confirms (admin, 5000), 0);
    //  guest's session, over a connection that then goes away without
    //  BYE: the session lives on until its heartbeats are missed.
    uint8_t id[16];
    zuuid_t *uuid = zuuid_new ();
    memcpy (id, zuuid_data (uuid), sizeof id);
    zuuid_destroy (&uuid);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 1);
    MESHQ_ARGS_SET (&args, HEARTBEAT, heartbeat, 60000);
    int code = 0;
    char *verb = s_raw_call (id, "guest", "guest", "HELLO", &args, &code);
    cr_assert_str_eq (verb, "OK", "code %d", code);
    zstr_free (&verb);
    //  eve presents guest's session id: neither a request nor a HELLO
    //  makes her guest.
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 2);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("secret"));
    MESHQ_ARGS_SET (&args, NO_ACK, no_ack, true);
    verb = s_raw_call (id, "eve", "x", "GET", &args, &code);
    cr_expect_str_eq (verb, "ERROR", "eve must not get guest's message");
    cr_expect_eq (code, MESHQ_EACCESS);
    zstr_free (&verb);
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 3);
    verb = s_raw_call (id, "eve", "x", "HELLO", &args, &code);
    cr_expect_str_eq (verb, "ERROR", "nor take the session over");
    cr_expect_eq (code, MESHQ_EACCESS);
    zstr_free (&verb);
    //  guest, coming back on the same id, is still guest.
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, 4);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("secret"));
    MESHQ_ARGS_SET (&args, NO_ACK, no_ack, true);
    verb = s_raw_call (id, "guest", "guest", "GET", &args, &code);
    cr_expect_str_neq (verb, "ERROR", "code %d", code);
    zstr_free (&verb);
    meshq_client_destroy (&admin);
}

Test (auth, a_dead_letter_exchange_needs_write_permission)
{
    meshq_client_t *admin = s_admin ();
    clientutil_admin (admin, "ADD_USER", "dave", NULL, "x", NULL, NULL, NULL);
    //  dave configures, writes and reads dave.* only.
    cr_assert_eq (clientutil_admin (admin, "SET_PERMISSIONS", "dave", "/", NULL,
                                    "^dave\\.", "^dave\\.", "^dave\\."),
                  0);
    cr_assert_eq (
        meshq_client_declare_exchange (admin, "payroll", "fanout", true), 0);
    meshq_client_t *dave = NULL;
    char why[512];
    cr_assert_eq (s_login (s_ipc, "dave", "x", "/", &dave, why, sizeof why), 0,
                  "%s", why);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    //  Dead-lettering into an exchange he may not write would let him
    //  publish there all the same (expire or reject his own messages).
    options.dead_letter_exchange = "payroll";
    cr_expect_eq (meshq_client_declare_queue (dave, "dave.q", &options),
                  MESHQ_EACCESS);
    cr_expect_str_eq (meshq_client_error (dave),
                      "access to exchange 'payroll' in vhost '/' refused for "
                      "user 'dave' (needs write permission)");
    options.dead_letter_exchange = "";
    cr_expect_eq (meshq_client_declare_queue (dave, "dave.q", &options),
                  MESHQ_EACCESS, "nor the default exchange");
    options.dead_letter_exchange = "dave.dlx";
    cr_expect_eq (meshq_client_declare_queue (dave, "dave.q", &options), 0,
                  "%s", meshq_client_error (dave));
    meshq_client_destroy (&dave);
    meshq_client_destroy (&admin);
}

//  The queues named in client's LIST_CONSUMERS, joined by spaces, each
//  as QUEUE@VHOST.
static void
s_consumers (meshq_client_t *client, char *out, size_t size)
{
    zmsg_t *reply = NULL;
    meshq_span_t cursor =
        clientutil_list (client, "LIST_CONSUMERS", "consumers", &reply);
    meshq_args_t row;
    size_t used = 0;
    out[0] = 0;
    while (meshq_codec_list_next (&cursor, &row))
        used += (size_t)snprintf (out + used, size - used, "%.*s@%.*s ",
                                  (int)row.queue.size, row.queue.data,
                                  (int)row.vhost.size, row.vhost.data);
    zmsg_destroy (&reply);
}

Test (auth, lists_show_only_the_callers_vhost_unless_administrator)
{
    meshq_client_t *admin = s_admin ();
    cr_assert_eq (clientutil_admin (admin, "ADD_VHOST", NULL, "green", NULL,
                                    NULL, NULL, NULL),
                  0);
    clientutil_admin (admin, "ADD_USER", "vic", NULL, "x", NULL, NULL, NULL);
    cr_assert_eq (clientutil_admin (admin, "SET_PERMISSIONS", "vic", "/", NULL,
                                    ".*", ".*", ".*"),
                  0);
    cr_assert_eq (clientutil_admin (admin, "SET_PERMISSIONS", "vic", "green",
                                    NULL, ".*", ".*", ".*"),
                  0);
    meshq_client_t *green = NULL, *root = NULL;
    char why[512];
    cr_assert_eq (s_login (s_ipc, "vic", "x", "green", &green, why, sizeof why),
                  0, "%s", why);
    cr_assert_eq (s_login (s_ipc, "vic", "x", "/", &root, why, sizeof why), 0,
                  "%s", why);
    cr_assert_eq (meshq_client_declare_queue (green, "g.jobs", NULL), 0);
    cr_assert_eq (meshq_client_consume (green, "g.jobs", 1, NULL, 0), 0);
    cr_assert_eq (meshq_client_declare_queue (root, "r.jobs", NULL), 0);
    cr_assert_eq (meshq_client_consume (root, "r.jobs", 1, NULL, 0), 0);
    char list[1024];
    s_consumers (root, list, sizeof list);
    cr_expect (strstr (list, "r.jobs@/ "), "%s", list);
    cr_expect_null (strstr (list, "g.jobs"), "another vhost's: %s", list);
    s_consumers (green, list, sizeof list);
    cr_expect (strstr (list, "g.jobs@green "), "%s", list);
    cr_expect_null (strstr (list, "r.jobs"), "another vhost's: %s", list);
    s_consumers (admin, list, sizeof list);
    cr_expect (strstr (list, "r.jobs@/ ") && strstr (list, "g.jobs@green "),
               "an administrator sees all: %s", list);
    meshq_client_destroy (&green);
    meshq_client_destroy (&root);
    meshq_client_destroy (&admin);
}

//  Publishes to queue with user_id (NULL: none) and waits for its
//  confirm; returns the code.
static int
s_publish_as (meshq_client_t *client, const char *queue, const char *user_id)
{
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, queue);
    meshq_msg_set_body (msg, "x", 1);
    if (user_id)
        meshq_msg_set_user_id (msg, user_id);
    int rc = meshq_client_publish (client, msg, 0);
    meshq_msg_destroy (&msg);
    return rc ? rc : meshq_client_wait_for_confirms (client, 5000);
}

Test (auth, a_message_user_id_must_be_the_publishers)
{
    meshq_client_t *admin = s_admin ();
    clientutil_admin (admin, "ADD_USER", "una", NULL, "x", NULL, NULL, NULL);
    cr_assert_eq (clientutil_admin (admin, "SET_PERMISSIONS", "una", "/", NULL,
                                    ".*", ".*", ".*"),
                  0);
    meshq_client_t *una = NULL;
    char why[512];
    cr_assert_eq (s_login (s_tcp, "una", "x", "/", &una, why, sizeof why), 0,
                  "%s", why);
    meshq_client_set_confirms (una, 10);
    cr_assert_eq (meshq_client_declare_queue (una, "ids", NULL), 0);
    cr_expect_eq (s_publish_as (una, "ids", NULL), 0, "no user id");
    cr_expect_eq (s_publish_as (una, "ids", "una"), 0, "her own");
    cr_expect_eq (s_publish_as (una, "ids", "guest"), MESHQ_EPRECONDITION,
                  "another user's");
    cr_expect (strstr (meshq_client_error (una), "user_id"), "%s",
               meshq_client_error (una));
    //  Only the first two are in the queue.
    meshq_delivery_t *delivery = NULL;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq (meshq_client_get (una, "ids", true, &delivery), 0);
        cr_assert_not_null (delivery);
        const char *user_id = meshq_msg_user_id (delivery->msg);
        cr_expect (i == 0 ? !user_id || !*user_id : streq (user_id, "una"));
        meshq_delivery_destroy (&delivery);
    }
    cr_assert_eq (meshq_client_get (una, "ids", true, &delivery), 0);
    cr_expect_null (delivery, "the forged one was not enqueued");
    meshq_client_destroy (&una);
    meshq_client_destroy (&admin);
}

//  STATUS counters of logins refused for a wrong password, for a full
//  verifier and for a throttled source.
static uint64_t
s_refused_by (meshq_client_t *client, uint64_t *busy, uint64_t *throttled)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    zmsg_destroy (&reply);
    *busy = status.refused_busy;
    *throttled = status.refused_throttled;
    return status.refused_password;
}

Test (auth, a_flood_of_wrong_passwords_is_refused_at_once_past_its_bound)
{
    meshq_client_t *admin = s_admin ();
    clientutil_admin (admin, "ADD_USER", "fay", NULL, "right", NULL, NULL,
                      NULL);
    cr_assert_eq (clientutil_admin (admin, "SET_PERMISSIONS", "fay", "/", NULL,
                                    ".*", ".*", ".*"),
                  0);
    //  30 connections from one address with a wrong password, each
    //  retrying as libzmq reconnects.
    zsock_t *flood[30];
    for (int i = 0; i < 30; i++) {
        flood[i] = zsock_new (ZMQ_DEALER);
        zsock_set_linger (flood[i], 0);
        zsock_set_plain_username (flood[i], "fay");
        zsock_set_plain_password (flood[i], "wrong");
        cr_assert_eq (zsock_connect (flood[i], "%s", s_tcp), 0);
        zstr_send (flood[i], "x");
    }
    uint64_t busy = 0, throttled = 0, wrong = 0;
    int64_t deadline = zclock_mono () + 20000;
    while (busy + throttled + wrong < 30 && zclock_mono () < deadline)
        wrong = s_refused_by (admin, &busy, &throttled);
    cr_assert_geq (busy + throttled + wrong, 30, "every try was answered");
    //  Past 5 failures the address is refused without a check: the
    //  verifier never saw most of them.
    cr_expect_gt (throttled, 0);
    cr_expect_lt (wrong, busy + throttled);
    //  A real login from elsewhere gets in meanwhile.
    meshq_client_t *fay = NULL;
    char why[512];
    cr_expect_eq (s_login (s_ipc, "fay", "right", "/", &fay, why, sizeof why),
                  0, "%s", why);
    meshq_client_destroy (&fay);
    for (int i = 0; i < 30; i++)
        zsock_destroy (&flood[i]);
    meshq_client_destroy (&admin);
}
