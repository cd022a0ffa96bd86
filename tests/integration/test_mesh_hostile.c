/*  test_mesh_hostile.c - a peer that speaks the mesh's commands badly.

    An agent of the mesh is a meshq_discovery node of this process: it
    meets an embedded agent as any agent would, then sends it commands
    that are malformed, oversized, about things that do not exist, or
    unknown. Each is counted and dropped; the agent keeps serving its
    clients and keeps the peer up.
*/
#include "client_internal.h"
#include "clientutil.h"
#include "codec_args.h"
#include "discovery.h"
#include "meshq.h"
#include "testutil.h"

#include <criterion/criterion.h>

static char s_mesh[64];
static char s_dir[256];
static uint16_t s_port;
static meshq_agent_t *s_agent;
static zactor_t *s_peer;

static void
s_setup (void)
{
    uint64_t seed = (uint64_t)getpid () << 20 ^ (uint64_t)zclock_usecs ();
    snprintf (s_mesh, sizeof s_mesh, "hostile-%016llx",
              (unsigned long long)testutil_random (&seed));
    s_port = testutil_udp_port ();
    cr_assert_neq (s_port, 0);
    snprintf (s_dir, sizeof s_dir, "/tmp/meshq-hostile-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_teardown (void)
{
    zactor_destroy (&s_peer);
    meshq_agent_destroy (&s_agent);
    char command[300];
    snprintf (command, sizeof command, "rm -rf '%.256s'", s_dir);
    cr_expect_eq (system (command), 0);
}

TestSuite (mesh_hostile, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  Reads the peer node's pipe until a message starting with verb.
static zmsg_t *
s_reply (const char *verb)
{
    while (true) {
        zmsg_t *msg = zmsg_recv (s_peer);
        cr_assert_not_null (msg);
        char *first = zmsg_popstr (msg);
        bool match = streq (first, verb);
        free (first);
        if (match)
            return msg;
        zmsg_destroy (&msg);
    }
}

//  Sends verb with args (and body, if not NULL) to the agent, as a peer.
static void
s_send (const uint8_t *agent, const char *verb, const meshq_args_t *args,
        const void *body, size_t size)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_args (args, &buf, NULL), 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "SEND");
    zmsg_addmem (msg, agent, 16);
    zmsg_addstr (msg, verb);
    zmsg_addmem (msg, buf.data, buf.size);
    if (body)
        zmsg_addmem (msg, body, size);
    zmsg_send (&msg, s_peer);
    meshq_buf_fini (&buf);
    msg = s_reply ("SEND");
    char *rc = zmsg_popstr (msg);
    cr_assert_eq (atoi (rc), 0, "%s was not sent", verb);
    free (rc);
    zmsg_destroy (&msg);
}

//  Frames the agent dropped as malformed, and its peers up, from its
//  status.
static uint64_t
s_dropped (meshq_client_t *client, uint64_t *peers)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    zmsg_destroy (&reply);
    if (peers)
        *peers = status.peers;
    return status.dropped;
}

Test (mesh_hostile, bad_commands_from_a_peer_are_counted_and_dropped)
{
    char port[16];
    snprintf (port, sizeof port, "%u", s_port);
    s_agent = meshq_agent_new ("target");
    cr_assert_eq (meshq_agent_set (s_agent, "data", s_dir), 0);
    cr_assert_eq (meshq_agent_set (s_agent, "mesh", s_mesh), 0);
    cr_assert_eq (meshq_agent_set (s_agent, "beacon_port", port), 0);
    cr_assert_eq (meshq_agent_start (s_agent), 0, "%s",
                  meshq_agent_error (s_agent));
    meshq_peers_config_t config = {
        .mesh = s_mesh,
        .vhost = "/",
        .name = "hostile",
        .interface = "lo",
        .beacon_port = s_port,
    };
    for (int i = 0; i < 16; i++)
        config.node[i] = (uint8_t)(0xa0 + i);
    s_peer = zactor_new (meshq_discovery, &config);
    zstr_send (s_peer, "START");
    zmsg_t *reply = s_reply ("START");
    char *rc = zmsg_popstr (reply);
    cr_assert_eq (atoi (rc), 0, "the peer did not start");
    free (rc);
    zmsg_destroy (&reply);
    //  The agent comes up at the peer.
    reply = s_reply ("PEER_UP");
    zframe_t *id = zmsg_pop (reply);
    cr_assert (id && zframe_size (id) == 16);
    uint8_t agent[16];
    memcpy (agent, zframe_data (id), 16);
    zframe_destroy (&id);
    zmsg_destroy (&reply);

    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 5000);
    cr_assert_eq (meshq_client_connect (client, meshq_agent_endpoint (s_agent)),
                  0);
    cr_assert_eq (meshq_client_declare_queue (client, "work", NULL), 0);
    uint64_t before = s_dropped (client, NULL);

    meshq_args_t args;
    //  A batch whose items are cut short, and one claiming a million.
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("work"));
    MESHQ_ARGS_SET (&args, BATCH, batch, 3);
    s_send (agent, "DELIVER", &args, "\x95\x01\x02", 3);
    MESHQ_ARGS_SET (&args, BATCH, batch, 1000000);
    s_send (agent, "DELIVER", &args, "\xc1", 1);
    //  Metadata with no key, and a command no agent knows.
    memset (&args, 0, sizeof args);
    s_send (agent, "META", &args, "\x80", 1);
    s_send (agent, "FROB", &args, NULL, 0);
    //  Credit, backlog, acks and deliveries about what does not exist:
    //  harmless, and dropped or given back.
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("nosuch"));
    MESHQ_ARGS_SET (&args, CREDIT, credit, 1000000);
    s_send (agent, "GRANT", &args, NULL, 0);
    MESHQ_ARGS_SET (&args, MESSAGES, messages, UINT64_MAX);
    s_send (agent, "BACKLOG", &args, NULL, 0);
    memset (&args, 0, sizeof args);
    uint8_t tags[16];
    memset (tags, 0xff, sizeof tags);
    MESHQ_ARGS_SET (&args, DTAGS, dtags,
                    ((meshq_span_t){(const char *)tags, sizeof tags}));
    s_send (agent, "ACK", &args, NULL, 0);

    //  Counted...
    int64_t deadline = zclock_mono () + 10000;
    uint64_t dropped = before, peers = 0;
    while (dropped < before + 4 && zclock_mono () < deadline) {
        zclock_sleep (20);
        dropped = s_dropped (client, &peers);
    }
    cr_expect_geq (dropped, before + 4, "dropped %llu, was %llu",
                   (unsigned long long)dropped, (unsigned long long)before);
    cr_expect_eq (peers, 1, "the peer is still up");
    //  ... and the agent serves on: its queue took nothing from the
    //  peer, and a publish and a get still work.
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_publish_body (client, "", "work", "ok", 2), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    meshq_delivery_t *delivery = NULL;
    cr_assert_eq (meshq_client_get (client, "work", true, &delivery), 0);
    cr_assert_not_null (delivery);
    size_t size;
    const char *body = meshq_msg_body (delivery->msg, &size);
    cr_expect (size == 2 && memcmp (body, "ok", 2) == 0);
    meshq_delivery_destroy (&delivery);
    delivery = NULL;
    cr_expect_eq (meshq_client_get (client, "work", true, &delivery), 0);
    cr_expect_null (delivery, "nothing of the peer's in the queue");
    meshq_delivery_destroy (&delivery);
    meshq_client_destroy (&client);
}
