/*  test_mesh_secret.c - a mesh secret: agents that hold the same one
    join and carry messages over CURVE; agents with another secret, or
    with none where the other has one, never join and count the
    refused handshakes; a secret file that others may read, one too
    short, and a missing one are each refused at start, saying why.
*/
#include "agentutil.h"
#include "args.h"
#include "client_internal.h"
#include "codec_args.h"
#include "clientutil.h"
#include "mesh_secret.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <sys/stat.h>

#define S_NODES 2

typedef struct {
    char dir[256];         //  Store directory, also holds secret files.
    char name[64];         //  Agent name.
    meshq_agent_t *agent;  //  The agent.
} s_node_t;

static s_node_t s_nodes[S_NODES];
static char s_mesh[64];

static void
s_setup (void)
{
    //  A mesh of this test's own: parallel suites never join it.
    snprintf (s_mesh, sizeof s_mesh, "secret-%d-%d", (int)getpid (),
              (int)(zclock_usecs () % 100000));
    memset (s_nodes, 0, sizeof s_nodes);
    for (int i = 0; i < S_NODES; i++) {
        s_node_t *node = &s_nodes[i];
        snprintf (node->dir, sizeof node->dir, "/tmp/meshq-secret-XXXXXX");
        cr_assert_not_null (mkdtemp (node->dir));
        snprintf (node->name, sizeof node->name, "s%c%d", 'a' + i,
                  (int)getpid ());
    }
}

static void
s_teardown (void)
{
    for (int i = 0; i < S_NODES; i++) {
        meshq_agent_destroy (&s_nodes[i].agent);
        char command[300];
        snprintf (command, sizeof command, "rm -rf '%.256s'", s_nodes[i].dir);
        cr_expect_eq (system (command), 0);
    }
}

TestSuite (mesh_secret, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  Writes a secret file named file in node i's directory, with mode;
//  returns its path in path.
static void
s_secret_file (int i, const char *file, const char *secret, mode_t mode,
               char *path, size_t size)
{
    snprintf (path, size, "%s/%s", s_nodes[i].dir, file);
    FILE *out = fopen (path, "w");
    cr_assert_not_null (out);
    cr_assert_eq (fputs (secret, out) >= 0, true);
    cr_assert_eq (fclose (out), 0);
    cr_assert_eq (chmod (path, mode), 0);
}

//  Makes agent i in this test's mesh, its store in a subdirectory, with
//  a mesh secret file unless secret_file is NULL; does not start it.
static meshq_agent_t *
s_agent (int i, const char *secret_file)
{
    s_node_t *node = &s_nodes[i];
    char data[300];
    snprintf (data, sizeof data, "%s/store", node->dir);
    node->agent = meshq_agent_new (node->name);
    cr_assert_eq (meshq_agent_set (node->agent, "data", data), 0);
    cr_assert_eq (meshq_agent_set (node->agent, "mesh", s_mesh), 0);
    if (secret_file)
        cr_assert_eq (
            meshq_agent_set (node->agent, "mesh_secret_file", secret_file), 0);
    return node->agent;
}

static void
s_start (int i, const char *secret_file)
{
    meshq_agent_t *agent = s_agent (i, secret_file);
    int rc = meshq_agent_start (agent);
    cr_assert_eq (rc, 0, "%s", meshq_agent_error (agent));
}

static meshq_client_t *
s_client (int i)
{
    return agentutil_connect (s_nodes[i].agent);
}

//  The agent's STATUS: peers up, and what it refused of other meshes'
//  agents: handshakes, and beacons that are not sealed with its key.
static void
s_status (meshq_client_t *client, uint64_t *peers, uint64_t *refused)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    *peers = status.peers;
    *refused = status.bad_handshakes + status.bad_beacons;
    zmsg_destroy (&reply);
}

//  Waits until agent i sees count peers up, asking it every 20 ms.
static void
s_wait_peers (meshq_client_t *client, uint64_t count)
{
    int64_t deadline = zclock_mono () + 10000;
    uint64_t peers = 0, refused = 0;
    while (s_status (client, &peers, &refused),
           peers != count && zclock_mono () < deadline)
        meshq_client_dispatch (client, 20);
    cr_assert_eq (peers, count, "%" PRIu64 " peers up, not %" PRIu64, peers,
                  count);
}

//  Checks that the two agents count refused handshakes and that neither
//  sees the other up, for three seconds.
static void
s_expect_apart (meshq_client_t *a, meshq_client_t *b)
{
    int64_t deadline = zclock_mono () + 3000;
    uint64_t a_peers = 0, a_refused = 0, b_peers = 0, b_refused = 0;
    while (zclock_mono () < deadline) {
        s_status (a, &a_peers, &a_refused);
        s_status (b, &b_peers, &b_refused);
        cr_assert_eq (a_peers, 0, "A sees a peer up");
        cr_assert_eq (b_peers, 0, "B sees a peer up");
        meshq_client_dispatch (a, 50);
    }
    cr_expect_gt (a_refused + b_refused, 0,
                  "no refused handshake counted (A %" PRIu64 ", B %" PRIu64 ")",
                  a_refused, b_refused);
}

Test (mesh_secret, agents_with_the_same_secret_join_and_deliver)
{
    //  The same secret, once with a trailing newline: it is trimmed.
    const char *secret = "correct horse battery staple";
    char path_a[300], path_b[300], with_newline[64];
    snprintf (with_newline, sizeof with_newline, "%s\n", secret);
    s_secret_file (0, "mesh.secret", with_newline, 0600, path_a, sizeof path_a);
    s_secret_file (1, "mesh.secret", secret, 0400, path_b, sizeof path_b);
    s_start (0, path_a);
    s_start (1, path_b);
    meshq_client_t *a = s_client (0), *b = s_client (1);
    s_wait_peers (a, 1);
    s_wait_peers (b, 1);
    cr_assert_eq (meshq_client_declare_queue (a, "jobs", NULL), 0);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.passive = true;
    int64_t deadline = zclock_mono () + 10000;
    while (meshq_client_declare_queue (b, "jobs", &options) &&
           zclock_mono () < deadline)
        meshq_client_dispatch (b, 20);
    cr_assert_eq (meshq_client_consume (b, "jobs", 10, NULL, 0), 0);
    meshq_client_set_confirms (a, 100);
    for (int i = 0; i < 20; i++)
        cr_assert_eq (meshq_client_publish_body (a, "", "jobs", "hello", 5), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (a, 10000), 0, "%s",
                  meshq_client_error (a));
    for (int i = 0; i < 20; i++) {
        meshq_delivery_t *delivery = NULL;
        cr_assert_eq (meshq_client_recv (b, 5000, &delivery), 0,
                      "message %d did not cross the mesh", i);
        size_t size;
        const char *body = meshq_msg_body (delivery->msg, &size);
        cr_assert (size == 5 && memcmp (body, "hello", 5) == 0);
        meshq_client_ack (b, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}

Test (mesh_secret, agents_with_other_secrets_never_join)
{
    char path_a[300], path_b[300];
    s_secret_file (0, "mesh.secret", "the secret of agent a, 32 bytes", 0600,
                   path_a, sizeof path_a);
    s_secret_file (1, "mesh.secret", "the secret of agent b, 32 bytes", 0600,
                   path_b, sizeof path_b);
    s_start (0, path_a);
    s_start (1, path_b);
    meshq_client_t *a = s_client (0), *b = s_client (1);
    s_expect_apart (a, b);
    //  Each one's beacons are refused by the other, so both count.
    uint64_t peers, refused;
    s_status (a, &peers, &refused);
    cr_expect_gt (refused, 0, "A counted no refused handshake");
    s_status (b, &peers, &refused);
    cr_expect_gt (refused, 0, "B counted no refused handshake");
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}

Test (mesh_secret, an_agent_with_a_secret_and_one_without_never_join)
{
    char path[300];
    s_secret_file (0, "mesh.secret", "a secret only agent a holds", 0600, path,
                   sizeof path);
    s_start (0, path);
    s_start (1, NULL);
    meshq_client_t *a = s_client (0), *b = s_client (1);
    s_expect_apart (a, b);
    uint64_t peers, refused;
    s_status (a, &peers, &refused);
    cr_expect_gt (refused, 0, "the agent with the secret counted nothing");
    meshq_client_destroy (&a);
    meshq_client_destroy (&b);
}

Test (mesh_secret, a_client_that_knows_only_the_public_key_is_refused)
{
    char path[300];
    s_secret_file (0, "mesh.secret", "a secret only agent a holds", 0600, path,
                   sizeof path);
    s_start (0, path);
    meshq_client_t *a = s_client (0);
    //  The mesh's public key, as one who saw it would have it, and a
    //  keypair of one's own: the handshake itself succeeds, and the ZAP
    //  check of the key is what refuses.
    uint8_t key[MESHQ_MESH_KEY_SIZE];
    char why[512], public_key[41], secret_key[41];
    cr_assert_eq (meshq_mesh_secret_load (path, key, why, sizeof why), 0);
    meshq_mesh_secret_keypair (key, "/", public_key, secret_key);
    zcert_t *stranger = zcert_new ();
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (a, &status, &reply);
    char endpoint[128];
    snprintf (endpoint, sizeof endpoint, "%.*s", (int)status.endpoint.size,
              status.endpoint.data);
    zmsg_destroy (&reply);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (dealer, 0);
    zcert_apply (stranger, dealer);
    zsock_set_curve_serverkey (dealer, public_key);
    cr_assert_eq (zsock_connect (dealer, "%s", endpoint), 0);
    zstr_send (dealer, "HELLO");
    int64_t deadline = zclock_mono () + 5000;
    uint64_t peers = 0, refused = 0;
    while (s_status (a, &peers, &refused),
           !refused && zclock_mono () < deadline)
        meshq_client_dispatch (a, 20);
    cr_expect_gt (refused, 0, "the stranger's handshake was not refused");
    cr_expect_eq (peers, 0);
    zsock_destroy (&dealer);
    zcert_destroy (&stranger);
    meshq_client_destroy (&a);
}

//  Starts agent 0 with the secret file at path, expecting a refusal
//  whose reason contains reason.
static void
s_expect_refused (const char *path, const char *reason)
{
    meshq_agent_t *agent = s_agent (0, path);
    cr_assert_neq (meshq_agent_start (agent), 0, "started with %s", path);
    cr_expect_not_null (strstr (meshq_agent_error (agent), reason),
                        "the reason '%s' does not say '%s'",
                        meshq_agent_error (agent), reason);
    cr_expect_not_null (strstr (meshq_agent_error (agent), path),
                        "the reason does not name the file");
}

Test (mesh_secret, refuses_a_file_that_others_may_read)
{
    char path[300];
    s_secret_file (0, "mesh.secret", "a secret everyone may read", 0644, path,
                   sizeof path);
    s_expect_refused (path, "chmod 600");
    cr_expect_not_null (strstr (meshq_agent_error (s_nodes[0].agent), "0644"),
                        "the reason does not give the mode");
}

Test (mesh_secret, refuses_a_secret_that_is_too_short)
{
    char path[300];
    //  Fifteen bytes once the newline is trimmed.
    s_secret_file (0, "mesh.secret", "fifteen bytes!!\n\n", 0600, path,
                   sizeof path);
    s_expect_refused (path, "fewer than 16");
}

Test (mesh_secret, refuses_a_missing_file)
{
    char path[300];
    snprintf (path, sizeof path, "%s/no-such.secret", s_nodes[0].dir);
    s_expect_refused (path, "No such file");
}
