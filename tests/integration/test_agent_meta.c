/*  test_agent_meta.c - metadata records a peer sends that this agent
    cannot keep: an empty vhost name, a version beyond the metadata
    clock's range, a key longer than the store takes. Each is refused,
    counted and logged, the peer stays up, and the agent serves on (it
    used to crash, wrap its clock, or confirm what a restart lost).
*/
#include "client_internal.h"
#include "clientutil.h"
#include "codec_args.h"
#include "discovery.h"
#include "meta_key.h"
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
    snprintf (s_mesh, sizeof s_mesh, "meta-%016llx",
              (unsigned long long)testutil_random (&seed));
    s_port = testutil_udp_port ();
    cr_assert_neq (s_port, 0);
    snprintf (s_dir, sizeof s_dir, "/tmp/meshq-meta-XXXXXX");
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

TestSuite (meta, .init = s_setup, .fini = s_teardown, .timeout = 60);

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

//  Starts the agent and the hostile peer; returns the agent's node id in
//  agent.
static void
s_start (uint8_t *agent)
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
        config.node[i] = (uint8_t)(0xb0 + i);
    s_peer = zactor_new (meshq_discovery, &config);
    zstr_send (s_peer, "START");
    zmsg_t *reply = s_reply ("START");
    char *rc = zmsg_popstr (reply);
    cr_assert_eq (atoi (rc), 0, "the peer did not start");
    free (rc);
    zmsg_destroy (&reply);
    reply = s_reply ("PEER_UP");
    zframe_t *id = zmsg_pop (reply);
    cr_assert (id && zframe_size (id) == 16);
    memcpy (agent, zframe_data (id), 16);
    zframe_destroy (&id);
    zmsg_destroy (&reply);
}

//  Sends a META of key and version with a record naming queue (NULL: an
//  empty record).
static void
s_meta (const uint8_t *agent, const char *key, uint64_t version,
        const char *queue)
{
    meshq_args_t record;
    memset (&record, 0, sizeof record);
    if (queue) {
        MESHQ_ARGS_SET (&record, QUEUE, queue, meshq_span (queue));
        MESHQ_ARGS_SET (&record, DURABLE, durable, true);
    }
    meshq_buf_t value;
    meshq_buf_init (&value);
    cr_assert_eq (meshq_codec_encode_args (&record, &value, NULL), 0);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, META_KEY, meta_key, meshq_span (key));
    MESHQ_ARGS_SET (&args, META_VERSION, meta_version, version);
    s_send (agent, "META", &args, value.data ? value.data : (void *)"\x80",
            value.size ? value.size : 1);
    meshq_buf_fini (&value);
}

//  True if the agent lists queue.
static bool
s_has_queue (meshq_client_t *client, const char *queue)
{
    zmsg_t *reply;
    meshq_span_t cursor =
        clientutil_list (client, "LIST_QUEUES", "queues", &reply);
    meshq_args_t row;
    bool found = false;
    while (meshq_codec_list_next (&cursor, &row))
        if (row.queue.size == strlen (queue) &&
            memcmp (row.queue.data, queue, row.queue.size) == 0)
            found = true;
    zmsg_destroy (&reply);
    return found;
}

Test (meta, records_no_agent_can_keep_are_refused_and_counted)
{
    uint8_t agent[16];
    s_start (agent);
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 5000);
    cr_assert_eq (meshq_client_connect (client, meshq_agent_endpoint (s_agent)),
                  0);
    //  A vhost of its own in DATA/vhosts, so that a store there for a
    //  vhost with an empty name could not even open.
    meshq_args_t admin;
    memset (&admin, 0, sizeof admin);
    MESHQ_ARGS_SET (&admin, VHOST, vhost, meshq_span ("blue"));
    zmsg_t *answer = NULL;
    cr_assert_eq (meshq_client_call (client, "ADD_VHOST", &admin, &answer), 0,
                  "%s", meshq_client_error (client));
    zmsg_destroy (&answer);
    uint64_t before = s_dropped (client, NULL);

    //  A vhost with an empty name (its store would be the vhosts folder).
    s_meta (agent, "v/", (uint64_t)5 << 20 | 1, NULL);
    //  A version the metadata clock cannot pass without wrapping.
    s_meta (agent, "q/wrap", UINT64_MAX, "wrap");
    //  A key longer than the store's 255 bytes.
    char key[301] = "q/";
    memset (key + 2, 'k', 298);
    key[300] = 0;
    char name[256];
    memset (name, 'k', 255);
    name[255] = 0;
    s_meta (agent, key, (uint64_t)5 << 20 | 1, name);
    //  And one that is fine, to know when the others were handled.
    s_meta (agent, "q/fine", (uint64_t)5 << 20 | 1, "fine");

    int64_t deadline = zclock_mono () + 10000;
    while (!s_has_queue (client, "fine") && zclock_mono () < deadline)
        zclock_sleep (20);
    cr_assert (s_has_queue (client, "fine"), "the good record was applied");
    uint64_t peers = 0;
    uint64_t dropped = s_dropped (client, &peers);
    cr_expect_geq (dropped, before + 3, "dropped %llu, was %llu",
                   (unsigned long long)dropped, (unsigned long long)before);
    cr_expect_eq (peers, 1, "the peer is still up");
    cr_expect (!s_has_queue (client, "wrap"), "a version past the clock "
                                              "was applied");
    cr_expect (!s_has_queue (client, name), "a key too long to keep was "
                                            "applied");
    //  The agent serves on, and declares durably after all that.
    cr_assert_eq (meshq_client_declare_queue (client, "after", NULL), 0);
    meshq_client_destroy (&client);

    //  And it starts again, with what it confirmed.
    zactor_destroy (&s_peer);
    meshq_agent_destroy (&s_agent);
    s_agent = meshq_agent_new ("target");
    cr_assert_eq (meshq_agent_set (s_agent, "data", s_dir), 0);
    cr_assert_eq (meshq_agent_start (s_agent), 0, "%s",
                  meshq_agent_error (s_agent));
    client = meshq_client_new ();
    meshq_client_set_timeout (client, 5000);
    cr_assert_eq (meshq_client_connect (client, meshq_agent_endpoint (s_agent)),
                  0);
    cr_expect (s_has_queue (client, "after"));
    cr_expect (s_has_queue (client, "fine"));
    meshq_client_destroy (&client);
}

//  Sends a META of key and version with args as its record, or a
//  tombstone if args is NULL.
static void
s_meta_args (const uint8_t *agent, const char *key, uint64_t version,
             const meshq_args_t *record)
{
    meshq_buf_t value;
    meshq_buf_init (&value);
    if (record)
        cr_assert_eq (meshq_codec_encode_args (record, &value, NULL), 0);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, META_KEY, meta_key, meshq_span (key));
    MESHQ_ARGS_SET (&args, META_VERSION, meta_version, version);
    s_send (agent, "META", &args, record ? value.data : NULL, value.size);
    meshq_buf_fini (&value);
}

//  Bindings the agent lists for queue.
static size_t
s_bindings (meshq_client_t *client, const char *queue)
{
    zmsg_t *reply;
    meshq_span_t cursor =
        clientutil_list (client, "LIST_BINDINGS", "bindings", &reply);
    meshq_args_t row;
    size_t count = 0;
    while (meshq_codec_list_next (&cursor, &row))
        if (row.queue.size == strlen (queue) &&
            memcmp (row.queue.data, queue, row.queue.size) == 0)
            count++;
    zmsg_destroy (&reply);
    return count;
}

Test (meta, hashed_keys_from_a_peer_are_applied_and_deleted)
{
    //  Names of 255 bytes make keys too long for the store: their
    //  records and tombstones come under the hashed keys.
    uint8_t agent[16];
    s_start (agent);
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 5000);
    cr_assert_eq (meshq_client_connect (client, meshq_agent_endpoint (s_agent)),
                  0);
    char name[256], binding_key[256];
    memset (name, 'n', 255);
    name[255] = 0;
    memset (binding_key, 'k', 255);
    binding_key[255] = 0;
    char queue_key[MESHQ_META_KEY_SIZE], exchange_key[MESHQ_META_KEY_SIZE];
    char bind_key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_queue (queue_key, name);
    meshq_meta_key_exchange (exchange_key, name);
    meshq_meta_key_binding (bind_key, name, name, binding_key, NULL, 0);
    cr_assert_eq (queue_key[1], '#');
    meshq_args_t record;
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, QUEUE, queue, meshq_span (name));
    MESHQ_ARGS_SET (&record, DURABLE, durable, true);
    s_meta_args (agent, queue_key, (uint64_t)5 << 20 | 1, &record);
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, EXCHANGE, exchange, meshq_span (name));
    MESHQ_ARGS_SET (&record, TYPE, type, meshq_span ("direct"));
    MESHQ_ARGS_SET (&record, DURABLE, durable, true);
    s_meta_args (agent, exchange_key, (uint64_t)5 << 20 | 1, &record);
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, EXCHANGE, exchange, meshq_span (name));
    MESHQ_ARGS_SET (&record, QUEUE, queue, meshq_span (name));
    MESHQ_ARGS_SET (&record, KEY, key, meshq_span (binding_key));
    s_meta_args (agent, bind_key, (uint64_t)5 << 20 | 1, &record);
    int64_t deadline = zclock_mono () + 10000;
    while (s_bindings (client, name) == 0 && zclock_mono () < deadline)
        zclock_sleep (20);
    cr_assert (s_has_queue (client, name));
    cr_assert_eq (s_bindings (client, name), 1);
    //  Deleted: the binding, then the queue, by their hashed keys.
    s_meta_args (agent, bind_key, (uint64_t)6 << 20 | 1, NULL);
    deadline = zclock_mono () + 10000;
    while (s_bindings (client, name) && zclock_mono () < deadline)
        zclock_sleep (20);
    cr_expect_eq (s_bindings (client, name), 0,
                  "the binding's tombstone was lost");
    cr_expect (s_has_queue (client, name));
    s_meta_args (agent, queue_key, (uint64_t)6 << 20 | 1, NULL);
    deadline = zclock_mono () + 10000;
    while (s_has_queue (client, name) && zclock_mono () < deadline)
        zclock_sleep (20);
    cr_expect (!s_has_queue (client, name), "the queue's tombstone was lost");
    meshq_client_destroy (&client);
}
