/*  test_agent_recovery.c - recovery never destroys a confirmed message.

    An agent's store is damaged record by record (node, queue, binding,
    message, ack, manifest), or written by a "newer" agent (fields and
    values this one does not know), or holds names as long as AMQP
    allows; at the restart, every confirmed message that is not acked
    is still there (docs/STORAGE.md section 9).
*/
#include "agentutil.h"
#include "clientutil.h"
#include "codec_args.h"
#include "node_id.h"
#include "storeutil.h"

#include <glob.h>

AGENTUTIL_SUITE (recovery, "recovery", 90);

//  Messages published, and how many of them are acked before the
//  restart (the first ones).
#define S_MESSAGES 10
#define S_ACKED    2

//  Declares queue "jobs" bound to exchange "ex" by "k", publishes
//  S_MESSAGES confirmed messages "m0", "m1"... through it, and gets and
//  acks the first S_ACKED of them.
static void
s_fill (void)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 100);
    cr_assert_eq (meshq_client_declare_queue (client, "jobs", NULL), 0);
    cr_assert_eq (meshq_client_declare_exchange (client, "ex", "direct", true),
                  0);
    cr_assert_eq (meshq_client_bind_queue (client, "jobs", "ex", "k", NULL), 0);
    for (int i = 0; i < S_MESSAGES; i++) {
        char body[16];
        snprintf (body, sizeof body, "m%d", i);
        agentutil_publish (client, "ex", "k", body, MESHQ_PERSISTENT);
    }
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    for (int i = 0; i < S_ACKED; i++) {
        meshq_delivery_t *delivery = NULL;
        cr_assert_eq (meshq_client_get (client, "jobs", false, &delivery), 0);
        cr_assert_not_null (delivery);
        cr_assert_eq (meshq_client_ack (client, delivery->delivery_tag, false),
                      0);
        meshq_delivery_destroy (&delivery);
    }
    //  A request round trip: the acks were handled.
    cr_assert_eq (meshq_client_declare_queue (client, "jobs", NULL), 0);
    meshq_client_destroy (&client);
}

//  Takes every message of queue, marking body "mN" in seen[N].
static void
s_drain (const char *queue, bool seen[S_MESSAGES])
{
    memset (seen, 0, S_MESSAGES * sizeof (bool));
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_consume (client, queue, 100, NULL, 0), 0);
    meshq_delivery_t *delivery = NULL;
    while (meshq_client_recv (client, 500, &delivery) == 0) {
        char body[32];
        agentutil_body (delivery, body, sizeof body);
        int n = atoi (body + 1);
        if (body[0] == 'm' && n >= 0 && n < S_MESSAGES)
            seen[n] = true;
        meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&client);
}

//  Asserts that every message from S_ACKED on came back, except lost
//  (-1: none).
static void
s_expect_kept (int lost, const char *kind)
{
    bool seen[S_MESSAGES];
    s_drain ("jobs", seen);
    for (int i = S_ACKED; i < S_MESSAGES; i++)
        if (i != lost)
            cr_expect (seen[i], "m%d lost after damage to a %s record", i,
                       kind);
}

//  Where a record is: its segment file and the offset of its payload's
//  last byte.
typedef struct {
    char path[PATH_MAX];  //  Segment file.
    long offset;          //  Last byte of its payload.
} s_spot_t;

//  Finds the nth (from 0) record of type (1 enqueue, 2 ack, 3 metadata)
//  in the root store of the agent; a metadata record's key must start
//  with prefix. Returns false if there is none.
static bool
s_find_record (int type, const char *prefix, int nth, s_spot_t *spot)
{
    char pattern[PATH_MAX];
    snprintf (pattern, sizeof pattern, "%s/*.seg", s_node.dir);
    glob_t found;
    if (glob (pattern, 0, NULL, &found))
        return false;
    bool hit = false;
    for (size_t f = 0; f < found.gl_pathc && !hit; f++) {
        size_t size;
        uint8_t *data = storeutil_read (found.gl_pathv[f], &size);
        size_t offset = 64;
        while (offset + 9 <= size && !hit) {
            uint32_t length = data[offset] | data[offset + 1] << 8 |
                              data[offset + 2] << 16 |
                              (uint32_t)data[offset + 3] << 24;
            const uint8_t *payload = data + offset + 9;
            if (length == 0 || offset + 9 + length > size)
                break;
            bool match = data[offset + 8] == type;
            if (match && type == 3) {
                //  [key (fixstr or str8), ...]
                const uint8_t *key = payload + 2;
                size_t key_size = payload[1] & 0x1f;
                if (payload[1] == 0xd9) {
                    key = payload + 3;
                    key_size = payload[2];
                }
                match = key_size >= strlen (prefix) &&
                        memcmp (key, prefix, strlen (prefix)) == 0;
            }
            if (match && nth-- == 0) {
                snprintf (spot->path, sizeof spot->path, "%s",
                          found.gl_pathv[f]);
                spot->offset = (long)(offset + 9 + length - 1);
                hit = true;
            }
            offset += 9 + length;
        }
        free (data);
    }
    globfree (&found);
    return hit;
}

//  Flips the bits of one byte of a file.
static void
s_flip (const char *path, long offset)
{
    FILE *file = fopen (path, "r+b");
    cr_assert_not_null (file);
    cr_assert_eq (fseek (file, offset, SEEK_SET), 0);
    int byte = fgetc (file);
    cr_assert_neq (byte, EOF);
    cr_assert_eq (fseek (file, offset, SEEK_SET), 0);
    fputc (byte ^ 0xff, file);
    cr_assert_eq (fclose (file), 0);
}

//  Damages the nth record of type (and key prefix) in the stopped agent's
//  store.
static void
s_damage (int type, const char *prefix, int nth)
{
    s_spot_t spot;
    cr_assert (s_find_record (type, prefix, nth, &spot),
               "no record of type %d key %s", type, prefix ? prefix : "");
    s_flip (spot.path, spot.offset);
}

//  The agent's status, and the row of queue in LIST_QUEUES.
static uint64_t
s_quarantined (const char *queue, uint64_t *in_queue)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    uint64_t total = status.quarantined;
    zmsg_destroy (&reply);
    meshq_args_t row;
    clientutil_queue (client, queue, &row);
    *in_queue = row.quarantined;
    meshq_client_destroy (&client);
    return total;
}

//  The node id the agent reports.
static void
s_node_hex (char *out, size_t size)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    snprintf (out, size, "%.*s", (int)status.node.size, status.node.data);
    zmsg_destroy (&reply);
    meshq_client_destroy (&client);
}

// --------------------------------------------------------------------
//  Damage, one kind of record at a time

Test (recovery, a_damaged_node_record_keeps_the_node_and_its_messages)
{
    s_fill ();
    char before[40], after[40];
    s_node_hex (before, sizeof before);
    agentutil_stop (&s_node);
    s_damage (3, "node", 0);
    agentutil_restart (&s_node);
    s_node_hex (after, sizeof after);
    cr_expect_str_eq (after, before, "the agent became another node");
    s_expect_kept (-1, "node");
}

Test (recovery, a_damaged_queue_record_quarantines_its_messages)
{
    s_fill ();
    agentutil_stop (&s_node);
    s_damage (3, "q/jobs", 0);
    agentutil_restart (&s_node);
    uint64_t in_queue;
    uint64_t total = s_quarantined ("jobs", &in_queue);
    cr_expect_eq (in_queue, S_MESSAGES - S_ACKED,
                  "list_queues shows the queue quarantined");
    cr_expect_geq (total, S_MESSAGES - S_ACKED, "status counts them");
    s_expect_kept (-1, "queue");
}

Test (recovery, a_damaged_binding_record_loses_no_message)
{
    s_fill ();
    agentutil_stop (&s_node);
    s_damage (3, "b/", 0);
    agentutil_restart (&s_node);
    s_expect_kept (-1, "binding");
}

Test (recovery, a_damaged_message_record_loses_that_message_only)
{
    s_fill ();
    agentutil_stop (&s_node);
    //  Its own record is all a message has: m5 goes, no other.
    s_damage (1, NULL, 5);
    agentutil_restart (&s_node);
    s_expect_kept (5, "message");
}

Test (recovery, a_damaged_ack_record_loses_no_message)
{
    s_fill ();
    agentutil_stop (&s_node);
    s_damage (2, NULL, 0);
    agentutil_restart (&s_node);
    //  The acked message may come back (at least once); none is lost.
    s_expect_kept (-1, "ack");
}

Test (recovery, a_damaged_manifest_refuses_the_start_and_writes_nothing)
{
    s_fill ();
    agentutil_stop (&s_node);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/MANIFEST", s_node.dir);
    size_t size;
    uint8_t *original = storeutil_read (path, &size);
    s_flip (path, 20);
    s_node.agent = meshq_agent_new (s_node.name);
    cr_assert_eq (meshq_agent_set (s_node.agent, "data", s_node.dir), 0);
    cr_expect_neq (meshq_agent_start (s_node.agent), 0);
    cr_expect (strstr (meshq_agent_error (s_node.agent), "MANIFEST"),
               "the error names the MANIFEST: %s",
               meshq_agent_error (s_node.agent));
    meshq_agent_destroy (&s_node.agent);
    //  Put back, the store is whole: nothing was written or deleted.
    storeutil_write (path, original, size);
    free (original);
    agentutil_restart (&s_node);
    s_expect_kept (-1, "manifest");
}

Test (recovery, a_lost_node_record_and_id_file_refuse_the_start)
{
    s_fill ();
    agentutil_stop (&s_node);
    s_damage (3, "node", 0);
    char path[PATH_MAX], saved[PATH_MAX + 8];
    snprintf (path, sizeof path, "%s/%s", s_node.dir, MESHQ_NODE_ID_FILE);
    snprintf (saved, sizeof saved, "%s.saved", path);
    cr_assert_eq (rename (path, saved), 0);
    s_node.agent = meshq_agent_new (s_node.name);
    cr_assert_eq (meshq_agent_set (s_node.agent, "data", s_node.dir), 0);
    cr_expect_neq (meshq_agent_start (s_node.agent), 0,
                   "the agent started as a new node");
    cr_expect (strstr (meshq_agent_error (s_node.agent), MESHQ_NODE_ID_FILE),
               "the error names the node id file: %s",
               meshq_agent_error (s_node.agent));
    meshq_agent_destroy (&s_node.agent);
    cr_assert_eq (rename (saved, path), 0);
    agentutil_restart (&s_node);
    s_expect_kept (-1, "node");
}

typedef struct {
    const uint8_t *origin;  //  The node id expected.
    size_t ours;            //  Live messages with it.
    size_t others;          //  Live messages with another.
} s_origins_t;

static int
s_count_origins (void *arg, const char *queue, const uint8_t origin[16],
                 uint64_t seq, const void *envelope, size_t size)
{
    (void)queue, (void)seq, (void)envelope, (void)size;
    s_origins_t *origins = arg;
    if (memcmp (origin, origins->origin, 16) == 0)
        origins->ours++;
    else
        origins->others++;
    return 0;
}

Test (recovery, messages_stored_under_another_node_id_are_kept)
{
    //  The store moved to another node id (its record damaged and the
    //  id file replaced): the messages are stored again under the new
    //  id, not dropped as foreign.
    s_fill ();
    agentutil_stop (&s_node);
    s_damage (3, "node", 0);
    uint8_t other[16];
    for (int i = 0; i < 16; i++)
        other[i] = (uint8_t)(0x50 + i);
    char why[256];
    cr_assert_eq (meshq_node_id_save (s_node.dir, other, why, sizeof why), 0);
    agentutil_restart (&s_node);
    char hex[40];
    s_node_hex (hex, sizeof hex);
    cr_expect_str_eq (hex, "505152535455565758595a5b5c5d5e5f");
    //  Every message live in the store is now under the new id.
    agentutil_stop (&s_node);
    meshq_store_t *store = meshq_store_new (s_node.dir, NULL);
    const char *store_why = NULL;
    cr_assert_eq (meshq_store_open (store, &store_why), 0, "%s", store_why);
    s_origins_t origins = {.origin = other};
    cr_assert_geq (meshq_store_foreach (store, s_count_origins, NULL, &origins),
                   0);
    meshq_store_destroy (&store);
    cr_expect_eq (origins.ours, S_MESSAGES - S_ACKED);
    cr_expect_eq (origins.others, 0);
    agentutil_restart (&s_node);
    s_expect_kept (-1, "node");
}

// --------------------------------------------------------------------
//  A store written by a newer agent

//  Arguments of a queue record as a newer agent might write: a value
//  this agent does not know (overflow) and a field it has never heard
//  of.
static void
s_newer_queue_record (meshq_buf_t *value)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("jobs"));
    MESHQ_ARGS_SET (&args, DURABLE, durable, true);
    MESHQ_ARGS_SET (&args, OVERFLOW, overflow,
                    meshq_span ("reject-publish-dlx"));
    cr_assert_eq (meshq_codec_encode_args (&args, value, NULL), 0);
    //  One more entry in the (fix)map: "x-future": 7.
    cr_assert_eq (value->data[0] & 0xf0, 0x80);
    cr_assert_lt (value->data[0] & 0x0f, 15);
    value->data[0]++;
    meshq_buf_append (value, "\xa8x-future\x07", 10);
}

typedef struct {
    const char *key;   //  Key looked for.
    uint64_t version;  //  Its version, when found.
    uint8_t *value;    //  Its value (owned), when found.
    size_t size;       //  Bytes in value.
} s_meta_probe_t;

static int
s_probe_meta (void *arg, const char *key, uint64_t version, const void *value,
              size_t size)
{
    s_meta_probe_t *probe = arg;
    if (strcmp (key, probe->key) == 0 && value) {
        probe->version = version;
        probe->value = malloc (size + 1);
        memcpy (probe->value, value, size);
        probe->size = size;
    }
    return 0;
}

//  Reads the winning record of key from the stopped agent's root store.
static void
s_read_meta (s_meta_probe_t *probe)
{
    meshq_store_t *store = meshq_store_new (s_node.dir, NULL);
    const char *why = NULL;
    cr_assert_eq (meshq_store_open (store, &why), 0, "%s", why);
    cr_assert_geq (meshq_store_foreach (store, NULL, s_probe_meta, probe), 0);
    meshq_store_destroy (&store);
}

Test (recovery, records_of_a_newer_agent_are_kept_as_they_are)
{
    s_fill ();
    agentutil_stop (&s_node);
    meshq_buf_t value;
    meshq_buf_init (&value);
    s_newer_queue_record (&value);
    //  A version above any this agent wrote, and a kind of key it does
    //  not know.
    uint64_t version = (uint64_t)1 << 50;
    meshq_store_t *store = meshq_store_new (s_node.dir, NULL);
    const char *why = NULL;
    cr_assert_eq (meshq_store_open (store, &why), 0, "%s", why);
    uint64_t ticket;
    cr_assert_eq (meshq_store_meta (store, "q/jobs", version, value.data,
                                    value.size, MESHQ_SYNC_ALWAYS, &ticket),
                  0);
    cr_assert_eq (meshq_store_meta (store, "z/future", version, "\x81\xa1z\x01",
                                    4, MESHQ_SYNC_ALWAYS, &ticket),
                  0);
    cr_assert_eq (meshq_store_commit (store), 0);
    meshq_store_destroy (&store);

    agentutil_restart (&s_node);
    uint64_t in_queue;
    s_quarantined ("jobs", &in_queue);
    cr_expect_eq (in_queue, S_MESSAGES - S_ACKED);
    bool seen[S_MESSAGES];
    //  Read, not taken: a consumer that does not ack.
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_consume (client, "jobs", 100, NULL, 0), 0);
    memset (seen, 0, sizeof seen);
    meshq_delivery_t *delivery = NULL;
    while (meshq_client_recv (client, 500, &delivery) == 0) {
        char body[32];
        agentutil_body (delivery, body, sizeof body);
        int n = atoi (body + 1);
        if (n >= 0 && n < S_MESSAGES)
            seen[n] = true;
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&client);
    for (int i = S_ACKED; i < S_MESSAGES; i++)
        cr_expect (seen[i], "m%d lost with a newer agent's record", i);

    //  Twice, and the records are still the newer agent's, byte for byte.
    agentutil_restart (&s_node);
    s_expect_kept (-1, "newer queue");
    agentutil_stop (&s_node);
    s_meta_probe_t probe = {.key = "q/jobs"};
    s_read_meta (&probe);
    cr_expect_eq (probe.version, version);
    cr_expect (probe.size == value.size &&
                   memcmp (probe.value, value.data, value.size) == 0,
               "the newer queue record was rewritten");
    free (probe.value);
    s_meta_probe_t future = {.key = "z/future"};
    s_read_meta (&future);
    cr_expect_eq (future.version, version, "an unknown key was dropped");
    free (future.value);
    meshq_buf_fini (&value);
    agentutil_restart (&s_node);
}

Test (recovery, a_message_this_agent_cannot_read_is_kept)
{
    //  An envelope a newer agent might write (this one cannot decode it),
    //  stored under this node's id.
    s_fill ();
    agentutil_stop (&s_node);
    uint8_t node[16];
    char why[256];
    cr_assert_eq (meshq_node_id_load (s_node.dir, node, why, sizeof why), 0,
                  "%s", why);
    meshq_store_t *store = meshq_store_new (s_node.dir, NULL);
    const char *store_why = NULL;
    cr_assert_eq (meshq_store_open (store, &store_why), 0, "%s", store_why);
    uint64_t ticket;
    cr_assert_eq (meshq_store_enqueue (store, "jobs", node, 1, "\xc1", 1,
                                       MESHQ_SYNC_ALWAYS, &ticket),
                  0);
    cr_assert_eq (meshq_store_commit (store), 0);
    meshq_store_destroy (&store);

    agentutil_restart (&s_node);
    uint64_t in_queue;
    cr_expect_geq (s_quarantined ("jobs", &in_queue), 1,
                   "status counts the message kept unread");
    s_expect_kept (-1, "unreadable message");
    agentutil_stop (&s_node);
    //  Still in the store, for an agent that can read it.
    store = meshq_store_new (s_node.dir, NULL);
    cr_assert_eq (meshq_store_open (store, &store_why), 0, "%s", store_why);
    s_origins_t origins = {.origin = node};
    cr_assert_geq (meshq_store_foreach (store, s_count_origins, NULL, &origins),
                   0);
    meshq_store_destroy (&store);
    cr_expect_eq (origins.ours, 1, "the unreadable message was dropped");
    agentutil_restart (&s_node);
}

// --------------------------------------------------------------------
//  Names as long as AMQP allows

//  A name of size bytes of c.
static char *
s_name (char c, size_t size)
{
    char *name = malloc (size + 1);
    memset (name, c, size);
    name[size] = 0;
    return name;
}

Test (recovery, names_of_255_bytes_survive_a_restart)
{
    char *queue255 = s_name ('q', 255), *queue254 = s_name ('r', 254);
    char *exchange = s_name ('x', 255), *key = s_name ('k', 255);
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 100);
    cr_assert_eq (meshq_client_declare_queue (client, queue255, NULL), 0);
    cr_assert_eq (meshq_client_declare_queue (client, queue254, NULL), 0);
    cr_assert_eq (
        meshq_client_declare_exchange (client, exchange, "direct", true), 0);
    cr_assert_eq (
        meshq_client_bind_queue (client, queue255, exchange, key, NULL), 0);
    cr_assert_eq (
        meshq_client_bind_queue (client, queue254, exchange, key, NULL), 0);
    for (int i = 0; i < S_MESSAGES; i++) {
        char body[16];
        snprintf (body, sizeof body, "m%d", i);
        agentutil_publish (client, exchange, key, body, MESHQ_PERSISTENT);
    }
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    meshq_client_destroy (&client);
    agentutil_restart (&s_node);
    bool seen[S_MESSAGES];
    const char *queues[] = {queue255, queue254};
    for (int q = 0; q < 2; q++) {
        s_drain (queues[q], seen);
        for (int i = 0; i < S_MESSAGES; i++)
            cr_expect (seen[i], "m%d lost from a queue of %zu bytes", i,
                       strlen (queues[q]));
    }
    //  The exchange and its bindings came back too.
    client = agentutil_client (&s_node);
    meshq_client_set_confirms (client, 100);
    agentutil_publish (client, exchange, key, "m0", MESHQ_PERSISTENT);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    meshq_client_destroy (&client);
    s_drain (queue255, seen);
    cr_expect (seen[0], "the binding of a 255-byte key was lost");
    //  And a delete of them stays a delete.
    client = agentutil_client (&s_node);
    cr_assert_eq (
        meshq_client_delete_queue (client, queue254, false, false, NULL), 0);
    meshq_client_destroy (&client);
    agentutil_restart (&s_node);
    client = agentutil_client (&s_node);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.passive = true;
    cr_expect_eq (meshq_client_declare_queue (client, queue254, &options),
                  MESHQ_ENOTFOUND);
    cr_expect_eq (meshq_client_declare_queue (client, queue255, &options), 0);
    meshq_client_destroy (&client);
    free (queue255);
    free (queue254);
    free (exchange);
    free (key);
}

Test (recovery, a_vhost_whose_escaped_name_is_too_long_for_a_file_works)
{
    //  120 two-byte characters: 240 bytes, 720 once escaped as %XX.
    char vhost[256] = "";
    for (int i = 0; i < 120; i++)
        strcat (vhost, "\xc3\xa9");
    meshq_client_t *admin = agentutil_client (&s_node);
    clientutil_vhost_for (admin, vhost, "guest");
    meshq_client_destroy (&admin);
    for (int round = 0; round < 2; round++) {
        meshq_client_t *client = meshq_client_new ();
        meshq_client_set_timeout (client, 5000);
        meshq_client_set_vhost (client, vhost);
        cr_assert_eq (
            meshq_client_connect (client, meshq_agent_endpoint (s_node.agent)),
            0, "%s", meshq_client_error (client));
        meshq_client_set_confirms (client, 10);
        if (round == 0) {
            cr_assert_eq (meshq_client_declare_queue (client, "jobs", NULL), 0);
            agentutil_publish (client, NULL, "jobs", "m3", MESHQ_PERSISTENT);
            cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
        } else {
            meshq_delivery_t *delivery = NULL;
            cr_assert_eq (meshq_client_get (client, "jobs", true, &delivery),
                          0);
            cr_expect_not_null (delivery, "the vhost's message was lost");
            meshq_delivery_destroy (&delivery);
        }
        meshq_client_destroy (&client);
        agentutil_restart (&s_node);
    }
}

//  Connects as user with password to vhost; returns the client, or
//  NULL if refused.
static meshq_client_t *
s_connect_with (const char *user, const char *password, const char *vhost)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 5000);
    meshq_client_set_credentials (client, user, password);
    meshq_client_set_vhost (client, vhost);
    if (meshq_client_connect (client, meshq_agent_endpoint (s_node.agent))) {
        meshq_client_destroy (&client);
        return NULL;
    }
    return client;
}

//  The same with the password "secret".
static meshq_client_t *
s_connect_as (const char *user, const char *vhost)
{
    return s_connect_with (user, "secret", vhost);
}

Test (recovery, a_deleted_guest_stays_deleted_after_a_restart)
{
    //  An operator deletes guest, as docs/SECURITY.md advises on a
    //  shared host. Restarted with no user left, the agent must not make
    //  a fresh mesh's guest again: written anew it was the newest record
    //  of u/guest, and every agent of the mesh would have taken it.
    meshq_client_t *guest = s_connect_with ("guest", "guest", "/");
    cr_assert_not_null (guest, "a fresh agent has guest");
    cr_assert_eq (clientutil_admin (guest, "DELETE_USER", "guest", NULL, NULL,
                                    NULL, NULL, NULL),
                  0, "%s", meshq_client_error (guest));
    meshq_client_destroy (&guest);
    for (int round = 0; round < 2; round++) {
        agentutil_restart (&s_node);
        guest = s_connect_with ("guest", "guest", "/");
        cr_expect_null (guest, "guest came back at restart %d", round + 1);
        meshq_client_destroy (&guest);
    }
}

Test (recovery, users_and_vhosts_of_the_longest_names_are_kept)
{
    //  Their records are keyed "u/USER", "v/VHOST", "p/VHOST\x1fUSER",
    //  and a key holds at most 255 bytes: longer ones are hashed, and
    //  every name AMQP allows is accepted, kept, usable and deletable.
    char vhost[256], user[256];
    memset (vhost, 'v', 255);
    vhost[255] = 0;
    memset (user, 'u', 255);
    user[255] = 0;
    meshq_client_t *admin = agentutil_client (&s_node);
    cr_assert_eq (clientutil_admin (admin, "ADD_VHOST", NULL, vhost, NULL, NULL,
                                    NULL, NULL),
                  0, "%s", meshq_client_error (admin));
    cr_assert_eq (clientutil_admin (admin, "ADD_USER", user, NULL, "secret",
                                    NULL, NULL, NULL),
                  0, "%s", meshq_client_error (admin));
    cr_assert_eq (clientutil_admin (admin, "SET_PERMISSIONS", user, vhost, NULL,
                                    ".*", ".*", ".*"),
                  0, "%s", meshq_client_error (admin));
    meshq_client_destroy (&admin);
    agentutil_restart (&s_node);
    //  All three came back: the user works in the vhost.
    meshq_client_t *client = s_connect_as (user, vhost);
    cr_assert_not_null (client, "the long user or vhost was lost");
    cr_expect_eq (meshq_client_declare_queue (client, "jobs", NULL), 0, "%s",
                  meshq_client_error (client));
    meshq_client_destroy (&client);
    admin = agentutil_client (&s_node);
    cr_expect_eq (clientutil_admin (admin, "ADD_VHOST", NULL, vhost, NULL, NULL,
                                    NULL, NULL),
                  MESHQ_EEXIST);
    cr_expect_eq (clientutil_admin (admin, "ADD_USER", user, NULL, "secret",
                                    NULL, NULL, NULL),
                  MESHQ_EEXIST);
    //  Deleted, they are gone, and stay gone after a restart.
    cr_assert_eq (clientutil_admin (admin, "DELETE_VHOST", NULL, vhost, NULL,
                                    NULL, NULL, NULL),
                  0, "%s", meshq_client_error (admin));
    cr_assert_eq (clientutil_admin (admin, "DELETE_USER", user, NULL, NULL,
                                    NULL, NULL, NULL),
                  0, "%s", meshq_client_error (admin));
    for (int round = 0; round < 2; round++) {
        cr_expect_eq (clientutil_admin (admin, "DELETE_VHOST", NULL, vhost,
                                        NULL, NULL, NULL, NULL),
                      MESHQ_ENOTFOUND, "round %d", round);
        cr_expect_eq (clientutil_admin (admin, "DELETE_USER", user, NULL, NULL,
                                        NULL, NULL, NULL),
                      MESHQ_ENOTFOUND, "round %d", round);
        client = s_connect_as (user, vhost);
        cr_expect_null (client, "round %d", round);
        meshq_client_destroy (&client);
        meshq_client_destroy (&admin);
        agentutil_restart (&s_node);
        admin = agentutil_client (&s_node);
    }
    meshq_client_destroy (&admin);
}
