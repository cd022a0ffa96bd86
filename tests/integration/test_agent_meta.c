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
#include "peerutil.h"
#include "testutil.h"

#include <criterion/criterion.h>

PEERUTIL_SUITE (meta, "meta", 60);

//  Starts the agent and the hostile peer; returns a client of the agent.
static meshq_client_t *
s_start (void)
{
    peerutil_agent (&s_node, "target", s_mesh, s_port);
    peerutil_start (&s_peer, s_mesh, s_port, 0xb0);
    return agentutil_client (&s_node);
}

//  Sends a META of key and version with args as its record, or a
//  tombstone if args is NULL.
static void
s_meta_args (const char *key, uint64_t version, const meshq_args_t *record)
{
    meshq_buf_t value;
    meshq_buf_init (&value);
    if (record)
        cr_assert_eq (meshq_codec_encode_args (record, &value, NULL), 0);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, META_KEY, meta_key, meshq_span (key));
    MESHQ_ARGS_SET (&args, META_VERSION, meta_version, version);
    peerutil_send (&s_peer, "META", &args, record ? value.data : NULL,
                   value.size);
    meshq_buf_fini (&value);
}

//  Sends a META of key and version with a record naming queue (NULL: an
//  empty record).
static void
s_meta (const char *key, uint64_t version, const char *queue)
{
    meshq_args_t record;
    memset (&record, 0, sizeof record);
    if (queue) {
        MESHQ_ARGS_SET (&record, QUEUE, queue, meshq_span (queue));
        MESHQ_ARGS_SET (&record, DURABLE, durable, true);
    }
    s_meta_args (key, version, &record);
}

//  True if the agent lists queue.
static bool
s_has_queue (meshq_client_t *client, const char *queue)
{
    meshq_args_t row;
    return clientutil_queue (client, queue, &row);
}

Test (meta, records_no_agent_can_keep_are_refused_and_counted)
{
    meshq_client_t *client = s_start ();
    //  A vhost of its own in DATA/vhosts, so that a store there for a
    //  vhost with an empty name could not even open.
    cr_assert_eq (clientutil_admin (client, "ADD_VHOST", NULL, "blue", NULL,
                                    NULL, NULL, NULL),
                  0, "%s", meshq_client_error (client));
    uint64_t before = peerutil_dropped (client, NULL);

    //  A vhost with an empty name (its store would be the vhosts folder).
    s_meta ("v/", (uint64_t)5 << 20 | 1, NULL);
    //  A version the metadata clock cannot pass without wrapping.
    s_meta ("q/wrap", UINT64_MAX, "wrap");
    //  A key longer than the store's 255 bytes.
    char key[301] = "q/";
    memset (key + 2, 'k', 298);
    key[300] = 0;
    char name[256];
    memset (name, 'k', 255);
    name[255] = 0;
    s_meta (key, (uint64_t)5 << 20 | 1, name);
    //  And one that is fine, to know when the others were handled.
    s_meta ("q/fine", (uint64_t)5 << 20 | 1, "fine");

    int64_t deadline = zclock_mono () + 10000;
    while (!s_has_queue (client, "fine") && zclock_mono () < deadline)
        zclock_sleep (20);
    cr_assert (s_has_queue (client, "fine"), "the good record was applied");
    uint64_t peers = 0;
    uint64_t dropped = peerutil_dropped (client, &peers);
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
    peerutil_stop (&s_peer);
    agentutil_restart (&s_node);
    client = agentutil_client (&s_node);
    cr_expect (s_has_queue (client, "after"));
    cr_expect (s_has_queue (client, "fine"));
    meshq_client_destroy (&client);
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
    meshq_client_t *client = s_start ();
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
    s_meta_args (queue_key, (uint64_t)5 << 20 | 1, &record);
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, EXCHANGE, exchange, meshq_span (name));
    MESHQ_ARGS_SET (&record, TYPE, type, meshq_span ("direct"));
    MESHQ_ARGS_SET (&record, DURABLE, durable, true);
    s_meta_args (exchange_key, (uint64_t)5 << 20 | 1, &record);
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, EXCHANGE, exchange, meshq_span (name));
    MESHQ_ARGS_SET (&record, QUEUE, queue, meshq_span (name));
    MESHQ_ARGS_SET (&record, KEY, key, meshq_span (binding_key));
    s_meta_args (bind_key, (uint64_t)5 << 20 | 1, &record);
    int64_t deadline = zclock_mono () + 10000;
    while (s_bindings (client, name) == 0 && zclock_mono () < deadline)
        zclock_sleep (20);
    cr_assert (s_has_queue (client, name));
    cr_assert_eq (s_bindings (client, name), 1);
    //  Deleted: the binding, then the queue, by their hashed keys.
    s_meta_args (bind_key, (uint64_t)6 << 20 | 1, NULL);
    deadline = zclock_mono () + 10000;
    while (s_bindings (client, name) && zclock_mono () < deadline)
        zclock_sleep (20);
    cr_expect_eq (s_bindings (client, name), 0,
                  "the binding's tombstone was lost");
    cr_expect (s_has_queue (client, name));
    s_meta_args (queue_key, (uint64_t)6 << 20 | 1, NULL);
    deadline = zclock_mono () + 10000;
    while (s_has_queue (client, name) && zclock_mono () < deadline)
        zclock_sleep (20);
    cr_expect (!s_has_queue (client, name), "the queue's tombstone was lost");
    meshq_client_destroy (&client);
}

//  True if the agent's list of what (LIST_USERS: "users", LIST_VHOSTS:
//  "vhosts", LIST_PERMISSIONS of vhost: "permissions") has name (of
//  its user or vhost column).
static bool
s_listed (meshq_client_t *client, const char *verb, const char *what,
          const char *name, bool by_user)
{
    zmsg_t *reply;
    meshq_span_t cursor = clientutil_list (client, verb, what, &reply);
    meshq_args_t row;
    bool found = false;
    while (meshq_codec_list_next (&cursor, &row)) {
        meshq_span_t column = by_user ? row.user : row.vhost;
        found |= column.size == strlen (name) &&
                 memcmp (column.data, name, column.size) == 0;
    }
    zmsg_destroy (&reply);
    return found;
}

//  Waits until name is listed (or not, as wanted); returns whether it is.
static bool
s_wait_listed (meshq_client_t *client, const char *verb, const char *what,
               const char *name, bool by_user, bool wanted)
{
    int64_t deadline = zclock_mono () + 10000;
    while (s_listed (client, verb, what, name, by_user) != wanted &&
           zclock_mono () < deadline)
        zclock_sleep (20);
    return s_listed (client, verb, what, name, by_user);
}

//  True if guest may enter vhost and declare a queue there.
static bool
s_enters (const char *vhost)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 5000);
    meshq_client_set_vhost (client, vhost);
    bool entered = meshq_client_connect (
                       client, meshq_agent_endpoint (s_node.agent)) == 0 &&
                   meshq_client_declare_queue (client, "jobs", NULL) == 0;
    meshq_client_destroy (&client);
    return entered;
}

//  Waits until guest may enter vhost (or not, as wanted); returns
//  whether it may.
static bool
s_wait_enter (const char *vhost, bool wanted)
{
    int64_t deadline = zclock_mono () + 10000;
    while (s_enters (vhost) != wanted && zclock_mono () < deadline)
        zclock_sleep (50);
    return s_enters (vhost);
}

Test (meta, hashed_user_and_vhost_keys_from_a_peer_are_applied_and_deleted)
{
    //  A user and a vhost of 255 bytes, and a permission in that vhost,
    //  have keys too long for the store: they come under hashed keys.
    meshq_client_t *client = s_start ();
    char name[256];
    memset (name, 'n', 255);
    name[255] = 0;
    char user_key[MESHQ_META_KEY_SIZE], vhost_key[MESHQ_META_KEY_SIZE];
    char perm_key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_user (user_key, name);
    meshq_meta_key_vhost (vhost_key, name);
    meshq_meta_key_permission (perm_key, name, "guest");
    cr_assert_eq (vhost_key[1], '#');
    cr_assert_eq (perm_key[1], '#');
    meshq_args_t record;
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, VHOST, vhost, meshq_span (name));
    s_meta_args (vhost_key, (uint64_t)5 << 20 | 1, &record);
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, USER, user, meshq_span (name));
    MESHQ_ARGS_SET (&record, TAGS, tags, meshq_span (""));
    s_meta_args (user_key, (uint64_t)5 << 20 | 1, &record);
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, VHOST, vhost, meshq_span (name));
    MESHQ_ARGS_SET (&record, USER, user, meshq_span ("guest"));
    MESHQ_ARGS_SET (&record, CONFIGURE, configure, meshq_span (".*"));
    MESHQ_ARGS_SET (&record, WRITE, write, meshq_span (".*"));
    MESHQ_ARGS_SET (&record, READ, read, meshq_span (".*"));
    s_meta_args (perm_key, (uint64_t)5 << 20 | 1, &record);
    cr_assert (
        s_wait_listed (client, "LIST_VHOSTS", "vhosts", name, false, true));
    cr_assert (s_wait_listed (client, "LIST_USERS", "users", name, true, true));
    //  The permission lets guest into the vhost.
    cr_expect (s_wait_enter (name, true), "the permission was not applied");
    //  Deleted by their hashed keys.
    s_meta_args (perm_key, (uint64_t)6 << 20 | 1, NULL);
    cr_expect (!s_wait_enter (name, false), "the permission's tombstone was "
                                            "lost");
    s_meta_args (user_key, (uint64_t)6 << 20 | 1, NULL);
    s_meta_args (vhost_key, (uint64_t)6 << 20 | 1, NULL);
    cr_expect (
        !s_wait_listed (client, "LIST_USERS", "users", name, true, false),
        "the user's tombstone was lost");
    cr_expect (
        !s_wait_listed (client, "LIST_VHOSTS", "vhosts", name, false, false),
        "the vhost's tombstone was lost");
    meshq_client_destroy (&client);
}
