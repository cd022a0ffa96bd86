/*  agent_recover.c - a vhost's messages read back from its store at
    start, and the queues that hold those whose record is lost.

    Recovery never destroys a confirmed message (docs/STORAGE.md section
    9). A message is acked here only if its queue was deleted (a
    tombstone says so: the user's deletion). One whose queue record is
    missing or cannot be applied (damaged, or written by a newer agent)
    is restored into a queue of its name with default arguments, marked
    quarantined in list_queues and status, its record left as it is. One
    whose envelope cannot be read is kept in the store, counted, and not
    loaded. One stored under another node id (the store came from
    elsewhere) is stored again under this node's, then its old record
    acked, so that its id is one this node can settle. The node id
    itself is settled first, from its two copies (node_id.h).
*/
#include "agent_internal.h"
#include "codec.h"
#include "meta_key.h"
#include "node_id.h"

#include <inttypes.h>

//  Unreadable messages logged one by one at each start; then a summary.
#define S_LOG_UNREAD 10

//  The id of a message stored again under this node's id.
typedef struct {
    char queue[MESHQ_MAX_SHORTSTR + 1];  //  Its queue.
    uint8_t origin[16];                  //  Its old origin.
    uint64_t seq;                        //  Its old sequence.
} s_rebased_t;

static void
s_free_item (void **item)
{
    free (*item);
    *item = NULL;
}

//  True if the record of queue name is a tombstone: it was deleted.
static bool
s_deleted (meshq_vhost_t *self, const char *name)
{
    char key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_queue (key, name);
    meshq_meta_entry_t *entry = zhashx_lookup (self->meta, key);
    return entry && !entry->present;
}

//  Makes the queue that holds the messages of name, whose record is
//  missing or could not be applied.
static meshq_queue_t *
s_quarantine (meshq_vhost_t *self, const char *name)
{
    char key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_queue (key, name);
    zsys_warning ("agent: queue quarantined vhost=%s name=%.64s reason=%s; "
                  "its messages are kept and served (see docs/STORAGE.md)",
                  self->name, name,
                  zhashx_lookup (self->meta, key)
                      ? "its record could not be applied"
                      : "its record is missing");
    meshq_queue_args_t args;
    meshq_queue_args_init (&args);
    args.durable = true;
    args.ack_timeout = self->engine->config.ack_timeout_ms;
    meshq_queue_t *queue = meshq_vhost_queue_create (self, name, &args, false);
    if (!self->quarantine) {
        self->quarantine = zhashx_new ();
        zhashx_set_destructor (self->quarantine, s_free_item);
    }
    meshq_quarantine_t *quarantine = calloc (1, sizeof *quarantine);
    assert (quarantine);
    zhashx_update (self->quarantine, name, quarantine);
    return queue;
}

//  Visits a stored message (meshq_store_enqueue_fn). The first pass
//  takes this node's messages; the second, if the first saw any others,
//  takes those.
static int
s_recover_entry (void *arg, const char *queue_name, const uint8_t origin[16],
                 uint64_t seq, const void *data, size_t size)
{
    meshq_vhost_t *vhost = arg;
    meshq_engine_t *self = vhost->engine;
    bool foreign = memcmp (origin, self->node_id, 16) != 0;
    if (foreign != vhost->rebasing) {
        if (foreign)
            vhost->foreign++;
        return 0;
    }
    meshq_envelope_t envelope;
    const char *why = NULL;
    if (meshq_codec_decode_envelope (data, size, SIZE_MAX, &envelope, &why)) {
        //  Kept as it is, for an agent that can read it.
        //  The first few are logged, the rest counted (status).
        if (vhost->unreadable++ < S_LOG_UNREAD)
            zsys_warning ("agent: stored message kept unread vhost=%s "
                          "queue=%.64s seq=%" PRIu64 " reason=%s",
                          vhost->name, queue_name, seq, why);
        return 0;
    }
    meshq_queue_t *queue = zhashx_lookup (vhost->queues, queue_name);
    uint64_t ticket;
    if (!queue && s_deleted (vhost, queue_name)) {
        //  Its queue was deleted, with it: what is left of it is done.
        meshq_store_ack (vhost->store, queue_name, origin, seq, MESHQ_SYNC_NONE,
                         &ticket);
        return 0;
    }
    if (!queue)
        queue = s_quarantine (vhost, queue_name);
    meshq_quarantine_t *quarantine =
        vhost->quarantine ? zhashx_lookup (vhost->quarantine, queue_name)
                          : NULL;
    if (quarantine)
        quarantine->messages++;
    if (foreign) {
        //  Stored again under this node's id (acked under the old one
        //  once that is durable, by meshq_vhost_recover).
        uint64_t old_seq = seq;
        seq = ++self->next_seq;
        if (meshq_store_enqueue (vhost->store, queue_name, self->node_id, seq,
                                 data, size, MESHQ_SYNC_ALWAYS, &ticket)) {
            zsys_warning ("agent: stored message of another node kept "
                          "unread queue=%.64s reason=%s",
                          queue_name, meshq_store_why (vhost->store));
            vhost->unreadable++;
            return 0;
        }
        s_rebased_t *rebased = calloc (1, sizeof *rebased);
        assert (rebased);
        snprintf (rebased->queue, sizeof rebased->queue, "%s", queue_name);
        memcpy (rebased->origin, origin, 16);
        rebased->seq = old_seq;
        zlistx_add_end (vhost->rebased, rebased);
    } else if (seq > self->next_seq)
        self->next_seq = seq;
    meshq_entry_t *entry = calloc (1, sizeof *entry);
    assert (entry);
    entry->blob = meshq_blob_new (data, size, &self->memory);
    entry->seq = seq;
    entry->priority = envelope.priority;
    entry->body_size = envelope.body.size;
    entry->expires =
        meshq_queue_expiry (queue, zclock_time (),
                            envelope.present & (1u << MESHQ_F_EXPIRATION)
                                ? (int64_t)envelope.expiration
                                : -1);
    entry->stored = true;
    //  It may have been delivered before the restart; we cannot know.
    entry->redelivered = true;
    int rc = meshq_queue_push (queue, entry);
    if (rc == MESHQ_ELIMIT) {
        //  Its queue's max-length, with reject-publish: a rule the user
        //  set.
        entry->queue = queue;
        meshq_engine_entry_done (self, entry);
    }
    return 0;
}

//  Settles this node's id at start, before any message is read, from its
//  two copies, the "node"
//  record of the default vhost's store and the node id file next to it
//  (node_id.h): one damaged copy is rewritten from the other; two that
//  disagree, or a store holding data with neither, refuse the start
//  rather than make this agent another node. Returns 0 or a code with
//  a reason in why.
static int
s_settle_node (meshq_vhost_t *self, char *why, size_t size)
{
    meshq_engine_t *engine = self->engine;
    uint8_t file_id[16] = {0};
    char file_why[512] = "";
    int rc = meshq_node_id_load (engine->config.data, file_id, file_why,
                                 sizeof file_why);
    bool have_file = rc == 0;
    if (rc && rc != MESHQ_ENOTFOUND)
        zsys_warning ("agent: node id file unreadable: %s", file_why);
    char record_hex[33], file_hex[33];
    meshq_hex16 (engine->node_id, record_hex);
    meshq_hex16 (file_id, file_hex);
    if (engine->node_restored && have_file &&
        memcmp (engine->node_id, file_id, 16) != 0) {
        snprintf (why, size,
                  "the store's node record says this is node %s, but %s/%s "
                  "says %s: refusing to start as either; remove the copy "
                  "that is wrong",
                  record_hex, engine->config.data, MESHQ_NODE_ID_FILE,
                  file_hex);
        return MESHQ_ECORRUPT;
    }
    if (!engine->node_restored && have_file) {
        zsys_warning ("agent: node record missing or unreadable; node id "
                      "%s taken from %s",
                      file_hex, MESHQ_NODE_ID_FILE);
        memcpy (engine->node_id, file_id, 16);
    } else if (!engine->node_restored) {
        meshq_store_stats_t stats;
        meshq_store_stats (self->store, &stats);
        if (stats.live_records || stats.meta_keys) {
            snprintf (why, size,
                      "the store in %s holds data, but its node record is "
                      "missing or unreadable and so is %s: starting would "
                      "make this agent a new node; put back %s (or the "
                      "node record) first",
                      engine->config.data, MESHQ_NODE_ID_FILE,
                      MESHQ_NODE_ID_FILE);
            return MESHQ_ECORRUPT;
        }
    }
    if (!engine->node_restored) {
        //  A new store, or a record rewritten from the file: this node's
        //  id is chosen once and kept, so that the ids of its messages
        //  stay its own across restarts.
        meshq_args_t record;
        memset (&record, 0, sizeof record);
        memcpy (record.origin, engine->node_id, 16);
        MESHQ_ARGS_MARK (&record, ORIGIN);
        engine->node_restored = true;
        meshq_vhost_meta_write (self, "node", &record);
    }
    if (!have_file) {
        rc = meshq_node_id_save (engine->config.data, engine->node_id, why,
                                 size);
        if (rc)
            return rc;
    }
    return 0;
}

//  Logs that the store could not read some records back (rc < 0).
static void
s_check_read (meshq_vhost_t *self, int rc)
{
    if (rc < 0)
        zsys_warning ("agent: some records of vhost '%s' could not be read "
                      "back: %s",
                      self->name, meshq_store_why (self->store));
}

//  Stores again under this node's id the messages the first pass left
//  for being another node's, then acks their old records.
static void
s_rebase (meshq_vhost_t *self)
{
    zsys_warning ("agent: %" PRIu64 " stored messages of vhost '%s' have "
                  "another node's id; they are stored again under this "
                  "node's",
                  self->foreign, self->name);
    self->rebasing = true;
    self->rebased = zlistx_new ();
    zlistx_set_destructor (self->rebased, s_free_item);
    s_check_read (
        self, meshq_store_foreach (self->store, s_recover_entry, NULL, self));
    self->rebasing = false;
    //  The copies durable first; only then are the originals acked.
    if (meshq_store_commit (self->store) == 0) {
        s_rebased_t *rebased = zlistx_first (self->rebased);
        for (; rebased; rebased = zlistx_next (self->rebased)) {
            uint64_t ticket;
            meshq_store_ack (self->store, rebased->queue, rebased->origin,
                             rebased->seq, MESHQ_SYNC_ALWAYS, &ticket);
        }
        meshq_store_commit (self->store);
    }
    zlistx_destroy (&self->rebased);
}

int
meshq_vhost_recover (meshq_vhost_t *self, char *why, size_t size)
{
    //  Metadata first: the queues, and the node id, which must be settled
    //  before any message is told ours or another node's.
    s_check_read (self, meshq_store_foreach (self->store, NULL,
                                             meshq_vhost_meta_restore, self));
    if (self == self->engine->root) {
        int rc = s_settle_node (self, why, size);
        if (rc)
            return rc;
    }
    self->rebasing = false;
    self->foreign = 0;
    s_check_read (
        self, meshq_store_foreach (self->store, s_recover_entry, NULL, self));
    if (self->foreign)
        s_rebase (self);
    if (self->unreadable)
        zsys_warning ("agent: %" PRIu64 " stored messages of vhost '%s' "
                      "cannot be read by this agent; they are kept in the "
                      "store as they are",
                      self->unreadable, self->name);
    return 0;
}

void
meshq_vhost_unquarantine (meshq_vhost_t *self, const char *name)
{
    if (self->quarantine && zhashx_lookup (self->quarantine, name)) {
        zhashx_delete (self->quarantine, name);
        meshq_notice ("agent: queue out of quarantine vhost=%s name=%.64s",
                      self->name, name);
    }
}

uint64_t
meshq_vhost_quarantined (meshq_vhost_t *self, const char *name)
{
    if (name) {
        meshq_quarantine_t *quarantine =
            self->quarantine ? zhashx_lookup (self->quarantine, name) : NULL;
        return quarantine ? quarantine->messages : 0;
    }
    uint64_t total = self->unreadable;
    meshq_quarantine_t *quarantine =
        self->quarantine ? zhashx_first (self->quarantine) : NULL;
    for (; quarantine; quarantine = zhashx_next (self->quarantine))
        total += quarantine->messages;
    return total;
}
