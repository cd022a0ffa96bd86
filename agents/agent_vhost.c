/*  agent_vhost.c - a virtual host: its queues, exchanges and bindings,
    its store, and the metadata records that make durable declarations
    survive a restart.

    Each vhost is an isolated namespace with a store of its own; the
    engine (agent.c) holds one per vhost it serves. The default vhost
    "/" also keeps the node's id, and (agent_auth.c) the users, their
    permissions and the list of vhosts.
*/
#include "agent_internal.h"
#include "codec_args.h"
#include "meta_key.h"

#include <errno.h>
#include <inttypes.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>

// --------------------------------------------------------------------
//  Life cycle

//  Store directory of a vhost: DATA for "/", else DATA/vhosts/ and the
//  name as meshq_meta_key_dirname writes it (escaped, or hashed when too
//  long for a file name).
static void
s_directory (const char *data, const char *name, char *out, size_t size)
{
    if (streq (name, "/")) {
        snprintf (out, size, "%s", data);
        return;
    }
    char dirname[MESHQ_META_DIRNAME_MAX + 1];
    meshq_meta_key_dirname (dirname, name);
    if (snprintf (out, size, "%s/vhosts/%s", data, dirname) >= (int)size)
        out[0] = 0;  //  No such path: the open fails, naming the vhost.
}

static void
s_free_meta (void **item)
{
    free (*item);
    *item = NULL;
}

meshq_vhost_t *
meshq_vhost_new (meshq_engine_t *engine, const char *name)
{
    meshq_vhost_t *self = calloc (1, sizeof *self);
    assert (self);
    self->engine = engine;
    snprintf (self->name, sizeof self->name, "%s", name);
    s_directory (engine->config.data, name, self->dir, sizeof self->dir);
    self->queues = zhashx_new ();
    self->exchanges = zhashx_new ();
    self->tickets = meshq_map64_new ();
    self->meta = zhashx_new ();
    zhashx_set_destructor (self->meta, s_free_meta);
    self->peer_sessions = zhashx_new ();
    return self;
}

void
meshq_vhost_close (meshq_vhost_t *self)
{
    //  Peers first, told goodbye; then what is freed below stays in the
    //  log for the next start, untouched: the store closes first.
    meshq_engine_mesh_stop (self);
    if (self->store)
        meshq_store_commit (self->store);
    meshq_store_destroy (&self->store);
}

void
meshq_vhost_destroy (meshq_vhost_t **self_p)
{
    meshq_vhost_t *self = *self_p;
    if (!self)
        return;
    meshq_vhost_close (self);
    meshq_queue_t *queue;
    while ((queue = zhashx_first (self->queues))) {
        meshq_engine_mesh_forget_queue (queue);
        zhashx_delete (self->queues, meshq_queue_name (queue));
        meshq_queue_destroy (&queue);
    }
    meshq_exchange_t *exchange;
    while ((exchange = zhashx_first (self->exchanges))) {
        zhashx_delete (self->exchanges, meshq_exchange_name (exchange));
        meshq_exchange_destroy (&exchange);
    }
    zhashx_destroy (&self->queues);
    zhashx_destroy (&self->exchanges);
    zlistx_destroy (&self->restoring);
    zhashx_destroy (&self->meta);
    zhashx_destroy (&self->peer_sessions);
    zhashx_destroy (&self->late_acks);
    zhashx_destroy (&self->quarantine);
    zlistx_destroy (&self->rebased);
    meshq_map64_destroy (&self->tickets);
    free (self);
    *self_p = NULL;
}

static void
s_store_log (void *arg, int level, const char *line)
{
    (void)arg;
    if (level == MESHQ_STORE_ERROR)
        zsys_error ("%s", line);
    else if (level == MESHQ_STORE_WARNING)
        zsys_warning ("%s", line);
    else if (level == MESHQ_STORE_NOTICE)
        meshq_notice ("%s", line);
    else
        meshq_info ("%s", line);
}

int
meshq_vhost_open (meshq_vhost_t *self, char *why, size_t size)
{
    //  The parent of a vhost's directory may not exist yet.
    char parent[sizeof self->dir];
    snprintf (parent, sizeof parent, "%s", self->dir);
    char *slash = strrchr (parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        if (mkdir (parent, 0755) && errno != EEXIST) {
            snprintf (why, size, "cannot create %.900s: %s", parent,
                      strerror (errno));
            return MESHQ_EIO;
        }
    }
    self->store = meshq_store_new (self->dir, &self->engine->config.store);
    meshq_store_set_log (self->store, s_store_log, self);
    const char *store_why = NULL;
    int rc = meshq_store_open (self->store, &store_why);
    if (rc) {
        snprintf (why, size,
                  "cannot open the store of vhost '%.255s' in "
                  "%.500s: %.400s",
                  self->name, self->dir, store_why);
        meshq_store_destroy (&self->store);
        return rc;
    }
    meshq_store_set_done (self->store, meshq_engine_store_done, self);
    rc = meshq_vhost_recover (self, why, size);
    if (rc) {
        //  Refused (the node id): nothing more is read or written.
        meshq_store_destroy (&self->store);
        return rc;
    }
    meshq_vhost_meta_finish (self);
    return meshq_engine_mesh_start (self, why, size);
}

// --------------------------------------------------------------------
//  How many vhosts fit

//  What one vhost costs at most, beyond the agent's own: its store's
//  files (directory, the segment written, one read or compacted); in a
//  mesh its ROUTER and the two sockets of its monitor, their
//  descriptors, its beacon socket, and a link and a connection each way
//  per peer, for a few peers.
#define S_STORE_FDS    4
#define S_MESH_SOCKETS 3
#define S_MESH_FDS     6
#define S_PEERS        4

//  Descriptors kept free for clients and peers of the vhosts there are
//  when another vhost is added.
#define S_SPARE_FDS 64

//  The process's limit of open files, or 0 if it has none.
static uint64_t
s_open_files (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) || limit.rlim_cur == RLIM_INFINITY)
        return 0;
    return (uint64_t)limit.rlim_cur;
}

//  Open files now, or 0 if it cannot tell.
static uint64_t
s_open_now (void)
{
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir)
        return 0;
    uint64_t count = 0;
    while (readdir (dir))
        count++;
    closedir (dir);
    return count > 3 ? count - 3 : 0;  //  ".", ".." and the dir's own.
}

//  The most vhosts this engine serves: max_vhosts if set, else what
//  half the process's open files and half its ZeroMQ sockets allow (the
//  other halves are for clients, peers and the agent itself).
static uint64_t
s_max_vhosts (meshq_engine_t *engine, uint64_t *files, uint64_t *sockets)
{
    *files = s_open_files ();
    int max_sockets = zmq_ctx_get (zsys_init (), ZMQ_MAX_SOCKETS);
    *sockets = max_sockets > 0 ? (uint64_t)max_sockets : 0;
    if (engine->config.max_vhosts)
        return engine->config.max_vhosts;
    bool mesh = engine->config.mesh;
    uint64_t by_files =
        *files / 2 / (S_STORE_FDS + (mesh ? S_MESH_FDS + 2 * S_PEERS : 0));
    uint64_t by_sockets =
        mesh ? *sockets / 2 / (S_MESH_SOCKETS + S_PEERS) : UINT64_MAX;
    uint64_t most = by_files && by_files < by_sockets ? by_files : by_sockets;
    return most ? most : 1;
}

int
meshq_vhost_room (meshq_engine_t *engine, const char *name, char *why,
                  size_t size)
{
    uint64_t files, sockets;
    uint64_t most = s_max_vhosts (engine, &files, &sockets);
    uint64_t count = zhashx_size (engine->vhosts);
    if (count >= most) {
        snprintf (why, size,
                  "vhost '%.255s' refused: this agent serves %" PRIu64
                  " vhosts, its limit (max_vhosts=%" PRIu64 "%s; open files "
                  "%" PRIu64 ", ZeroMQ sockets %" PRIu64 ")",
                  name, count, most,
                  engine->config.max_vhosts ? ""
                                            : ", from the process's limits",
                  files, sockets);
        return MESHQ_ELIMIT;
    }
    //  The descriptors its store and mesh need, and some to spare.
    uint64_t open = s_open_now ();
    uint64_t need = S_STORE_FDS +
                    (engine->config.mesh ? S_MESH_FDS + 2 * S_PEERS : 0) +
                    S_SPARE_FDS;
    if (files && open && open + need > files) {
        snprintf (why, size,
                  "vhost '%.255s' refused: %" PRIu64 " of %" PRIu64
                  " open files are in use, and a vhost needs about %" PRIu64
                  " with some to spare (raise the limit, ulimit -n)",
                  name, open, files, need);
        return MESHQ_ELIMIT;
    }
    return 0;
}

int
meshq_vhost_add (meshq_engine_t *engine, const char *name, char *why,
                 size_t size)
{
    int rc = meshq_vhost_room (engine, name, why, size);
    if (rc)
        return rc;
    uint64_t files, sockets;
    s_max_vhosts (engine, &files, &sockets);
    uint64_t count = zhashx_size (engine->vhosts);
    //  Everything it needs is made now, before the answer: a socket or
    //  file that cannot be had is an error, and no vhost is left half
    //  made.
    meshq_vhost_t *self = meshq_vhost_new (engine, name);
    zhashx_insert (engine->vhosts, self->name, self);
    rc = meshq_vhost_open (self, why, size);
    if (rc && strstr (why, strerror (EMFILE))) {
        //  libzmq says the same of its own socket limit: say which.
        size_t used = strlen (why);
        snprintf (why + used, size - used,
                  " (open files %" PRIu64 " of %" PRIu64
                  ", ZeroMQ sockets at most %" PRIu64 "; %" PRIu64
                  " vhosts served)",
                  s_open_now (), files, sockets, count);
        rc = MESHQ_ELIMIT;
    }
    if (rc) {
        zsys_warning ("agent: vhost refused name=%s reason=%s", name, why);
        zhashx_delete (engine->vhosts, self->name);
        meshq_vhost_destroy (&self);
    }
    return rc;
}

// --------------------------------------------------------------------
//  Declarations

//  The queue arguments as a declaration carries them.
void
meshq_vhost_queue_record (const char *name, const meshq_queue_args_t *q,
                          meshq_args_t *args)
{
    memset (args, 0, sizeof *args);
    MESHQ_ARGS_SET (args, QUEUE, queue, meshq_span (name));
    MESHQ_ARGS_SET (args, DURABLE, durable, q->durable);
    if (q->auto_delete)
        MESHQ_ARGS_SET (args, AUTO_DELETE, auto_delete, true);
    if (q->exclusive)
        MESHQ_ARGS_SET (args, EXCLUSIVE, exclusive, true);
    if (q->max_length >= 0)
        MESHQ_ARGS_SET (args, MAX_LENGTH, max_length, (uint64_t)q->max_length);
    if (q->max_bytes >= 0)
        MESHQ_ARGS_SET (args, MAX_BYTES, max_bytes, (uint64_t)q->max_bytes);
    if (q->reject_publish)
        MESHQ_ARGS_SET (args, OVERFLOW, overflow,
                        meshq_span ("reject-publish"));
    if (q->message_ttl >= 0)
        MESHQ_ARGS_SET (args, MESSAGE_TTL, message_ttl,
                        (uint64_t)q->message_ttl);
    if (q->has_dlx)
        MESHQ_ARGS_SET (args, DLX, dlx, meshq_span (q->dlx));
    if (q->has_dlrk)
        MESHQ_ARGS_SET (args, DLRK, dlrk, meshq_span (q->dlrk));
    if (q->max_priority)
        MESHQ_ARGS_SET (args, MAX_PRIORITY, max_priority,
                        (uint64_t)q->max_priority);
    MESHQ_ARGS_SET (args, MAX_DELIVERIES, max_deliveries, q->max_deliveries);
    MESHQ_ARGS_SET (args, ACK_TIMEOUT, ack_timeout, (uint64_t)q->ack_timeout);
    if (q->dedup_window)
        MESHQ_ARGS_SET (args, DEDUP_WINDOW, dedup_window,
                        (uint64_t)q->dedup_window);
    if (q->local_first)
        MESHQ_ARGS_SET (args, DISPATCH, dispatch, meshq_span ("local-first"));
}

//  Reads queue arguments from a declaration. Returns 0, or a code with a
//  reason in why.
int
meshq_vhost_queue_args (meshq_vhost_t *self, const meshq_args_t *args,
                        meshq_queue_args_t *q, char *why, size_t size)
{
    meshq_queue_args_init (q);
    q->ack_timeout = self->engine->config.ack_timeout_ms;
    if (MESHQ_ARGS_HAS (args, DURABLE))
        q->durable = args->durable;
    q->exclusive = MESHQ_ARGS_HAS (args, EXCLUSIVE) && args->exclusive;
    q->auto_delete = MESHQ_ARGS_HAS (args, AUTO_DELETE) && args->auto_delete;
    if (MESHQ_ARGS_HAS (args, MAX_LENGTH))
        q->max_length = args->max_length > INT64_MAX
                            ? INT64_MAX
                            : (int64_t)args->max_length;
    if (MESHQ_ARGS_HAS (args, MAX_BYTES))
        q->max_bytes =
            args->max_bytes > INT64_MAX ? INT64_MAX : (int64_t)args->max_bytes;
    if (MESHQ_ARGS_HAS (args, OVERFLOW)) {
        char overflow[MESHQ_MAX_SHORTSTR + 1];
        meshq_span_copy (overflow, args->overflow);
        if (streq (overflow, "reject-publish"))
            q->reject_publish = true;
        else if (!streq (overflow, "drop-head")) {
            snprintf (why, size,
                      "overflow '%s' is not drop-head or reject-publish",
                      overflow);
            return MESHQ_EINVAL;
        }
    }
    if (MESHQ_ARGS_HAS (args, MESSAGE_TTL)) {
        if (args->message_ttl > UINT32_MAX) {
            snprintf (why, size, "message-ttl %" PRIu64 " is above %u ms",
                      args->message_ttl, UINT32_MAX);
            return MESHQ_ERANGE;
        }
        q->message_ttl = (int64_t)args->message_ttl;
    }
    if (MESHQ_ARGS_HAS (args, DLX)) {
        meshq_span_copy (q->dlx, args->dlx);
        q->has_dlx = true;
    }
    if (MESHQ_ARGS_HAS (args, DLRK)) {
        meshq_span_copy (q->dlrk, args->dlrk);
        q->has_dlrk = true;
    }
    if (MESHQ_ARGS_HAS (args, MAX_PRIORITY)) {
        if (args->max_priority > MESHQ_MAX_PRIORITY) {
            snprintf (why, size, "max-priority %" PRIu64 " is above %d",
                      args->max_priority, MESHQ_MAX_PRIORITY);
            return MESHQ_ERANGE;
        }
        q->max_priority = (int)args->max_priority;
    }
    if (MESHQ_ARGS_HAS (args, MAX_DELIVERIES)) {
        if (args->max_deliveries == 0 || args->max_deliveries > UINT32_MAX) {
            snprintf (why, size, "max-deliveries must be 1..%u", UINT32_MAX);
            return MESHQ_ERANGE;
        }
        q->max_deliveries = (uint32_t)args->max_deliveries;
    }
    if (MESHQ_ARGS_HAS (args, DEDUP_WINDOW)) {
        if (args->dedup_window > 24 * 3600 * 1000) {
            snprintf (why, size, "dedup-window must be at most a day");
            return MESHQ_ERANGE;
        }
        q->dedup_window = (int64_t)args->dedup_window;
    }
    if (MESHQ_ARGS_HAS (args, DISPATCH)) {
        char dispatch[MESHQ_MAX_SHORTSTR + 1];
        meshq_span_copy (dispatch, args->dispatch);
        if (streq (dispatch, "local-first"))
            q->local_first = true;
        else if (!streq (dispatch, "balanced")) {
            snprintf (why, size, "dispatch '%s' is not balanced or local-first",
                      dispatch);
            return MESHQ_EINVAL;
        }
    }
    if (MESHQ_ARGS_HAS (args, ACK_TIMEOUT)) {
        if (args->ack_timeout == 0 || args->ack_timeout > INT32_MAX) {
            snprintf (why, size, "ack-timeout must be 1..%d ms", INT32_MAX);
            return MESHQ_ERANGE;
        }
        q->ack_timeout = (int64_t)args->ack_timeout;
    }
    return 0;
}

meshq_queue_t *
meshq_vhost_queue_create (meshq_vhost_t *self, const char *name,
                          const meshq_queue_args_t *args, bool persist)
{
    meshq_queue_t *queue =
        meshq_queue_new (name, args, &meshq_engine_queue_host, self);
    zhashx_insert (self->queues, name, queue);
    //  An exclusive queue belongs to one connection here, but publishes
    //  anywhere reach it: every agent knows it, by a record naming this
    //  node as its owner, never stored (it dies with its connection).
    if (persist) {
        meshq_args_t record;
        meshq_vhost_queue_record (name, args, &record);
        if (args->exclusive) {
            memcpy (record.origin, self->engine->node_id, 16);
            MESHQ_ARGS_MARK (&record, ORIGIN);
        }
        char key[MESHQ_META_KEY_SIZE];
        meshq_meta_key_queue (key, name);
        meshq_vhost_meta_note (self, key, &record,
                               args->durable && !args->exclusive);
    }
    return queue;
}

void
meshq_vhost_queue_reassert (meshq_vhost_t *self, meshq_queue_t *queue)
{
    const char *name = meshq_queue_name (queue);
    meshq_args_t record;
    meshq_vhost_queue_record (name, meshq_queue_args (queue), &record);
    memcpy (record.origin, self->engine->node_id, 16);
    MESHQ_ARGS_MARK (&record, ORIGIN);
    char key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_queue (key, name);
    meshq_vhost_meta_note (self, key, &record, false);
    meshq_exchange_t *exchange = zhashx_first (self->exchanges);
    for (; exchange; exchange = zhashx_next (self->exchanges))
        for (const meshq_binding_t *b = meshq_exchange_bindings (exchange); b;
             b = b->next)
            if (b->queue == queue) {
                meshq_span_t match = {(const char *)b->match, b->match_size};
                meshq_vhost_binding_note (self, exchange, queue, b->key, match,
                                          b->match_count, true);
            }
}

void
meshq_vhost_queue_delete (meshq_vhost_t *self, meshq_queue_t *queue)
{
    {
        //  Its bindings go with it, mesh-wide.
        meshq_exchange_t *exchange = zhashx_first (self->exchanges);
        for (; exchange; exchange = zhashx_next (self->exchanges))
            for (const meshq_binding_t *b = meshq_exchange_bindings (exchange);
                 b; b = b->next)
                if (b->queue == queue) {
                    meshq_span_t match = {(const char *)b->match,
                                          b->match_size};
                    meshq_vhost_binding_note (self, exchange, queue, b->key,
                                              match, 0, false);
                }
        char key[MESHQ_META_KEY_SIZE];
        meshq_meta_key_queue (key, meshq_queue_name (queue));
        meshq_vhost_meta_note (self, key, NULL, true);
    }
    meshq_vhost_queue_drop (self, queue);
}

void
meshq_vhost_queue_drop (meshq_vhost_t *self, meshq_queue_t *queue)
{
    char name[MESHQ_MAX_SHORTSTR + 1];
    snprintf (name, sizeof name, "%s", meshq_queue_name (queue));
    //  Consumers go first (their sessions stop tracking them).
    meshq_engine_forget_consumers (self->engine, queue);
    meshq_exchange_t *exchange = zhashx_first (self->exchanges);
    for (; exchange; exchange = zhashx_next (self->exchanges))
        meshq_exchange_unbind_queue (exchange, queue);
    //  Caches of the hot path must not outlive it.
    if (self->last_route == queue)
        self->last_route = NULL;
    if (self->engine->last_dirty == queue)
        self->engine->last_dirty = NULL;
    if (meshq_map64_lookup (self->engine->dirty_set, (uintptr_t)queue)) {
        zlistx_delete (self->engine->dirty,
                       zlistx_find (self->engine->dirty, queue));
        meshq_map64_delete (self->engine->dirty_set, (uintptr_t)queue);
    }
    meshq_engine_mesh_forget_queue (queue);
    zhashx_delete (self->queues, name);
    if (self->quarantine)
        zhashx_delete (self->quarantine, name);
    meshq_queue_destroy (&queue);
    meshq_info ("agent: queue deleted name=%s", name);
}

meshq_exchange_t *
meshq_vhost_exchange_create (meshq_vhost_t *self, const char *name,
                             meshq_exchange_type_t type, bool durable,
                             bool persist)
{
    meshq_exchange_t *exchange = meshq_exchange_new (name, type, durable);
    zhashx_insert (self->exchanges, name, exchange);
    if (persist) {
        meshq_args_t record;
        memset (&record, 0, sizeof record);
        MESHQ_ARGS_SET (&record, EXCHANGE, exchange, meshq_span (name));
        MESHQ_ARGS_SET (&record, TYPE, type,
                        meshq_span (meshq_exchange_type_name (type)));
        MESHQ_ARGS_SET (&record, DURABLE, durable, durable);
        char key[MESHQ_META_KEY_SIZE];
        meshq_meta_key_exchange (key, name);
        meshq_vhost_meta_note (self, key, &record, durable);
    }
    return exchange;
}

void
meshq_vhost_exchange_drop (meshq_vhost_t *self, meshq_exchange_t *exchange)
{
    zhashx_delete (self->exchanges, meshq_exchange_name (exchange));
    meshq_exchange_destroy (&exchange);
}
