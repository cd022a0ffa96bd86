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

#include <errno.h>
#include <inttypes.h>
#include <ctype.h>
#include <sys/stat.h>

//  The predeclared exchanges every AMQP user expects.
static const struct {
    const char *name;
    meshq_exchange_type_t type;
} s_builtin[] = {{"amq.direct", MESHQ_EXCHANGE_DIRECT},
                 {"amq.fanout", MESHQ_EXCHANGE_FANOUT},
                 {"amq.topic", MESHQ_EXCHANGE_TOPIC},
                 {"amq.headers", MESHQ_EXCHANGE_HEADERS},
                 {"amq.match", MESHQ_EXCHANGE_HEADERS}};

// --------------------------------------------------------------------
//  Life cycle

//  Store directory of a vhost: DATA for "/", else DATA/vhosts/NAME with
//  every byte that is not a letter, digit, '-' or '_' as %XX.
static void
s_directory (const char *data, const char *name, char *out, size_t size)
{
    if (streq (name, "/")) {
        snprintf (out, size, "%s", data);
        return;
    }
    int used = snprintf (out, size, "%s/vhosts/", data);
    for (const char *c = name; *c && used + 4 < (int)size; c++) {
        if (isalnum ((unsigned char)*c) || *c == '-' || *c == '_')
            out[used++] = *c;
        else
            used += snprintf (out + used, size - (size_t)used, "%%%02X",
                              (unsigned char)*c);
    }
    out[used] = 0;
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
    return self;
}

void
meshq_vhost_close (meshq_vhost_t *self)
{
    //  What is freed below stays in the log for the next start,
    //  untouched: the store closes first.
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
    //  Metadata first (foreach visits it first), then the messages.
    rc = meshq_store_foreach (self->store, meshq_engine_recover_entry,
                              meshq_vhost_meta_restore, self);
    meshq_vhost_meta_finish (self);
    if (rc < 0)
        zsys_warning ("agent: some records of vhost '%s' could not be read "
                      "back: %s",
                      self->name, meshq_store_why (self->store));
    return 0;
}

// --------------------------------------------------------------------
//  Metadata: durable declarations as store records

void
meshq_vhost_meta_write (meshq_vhost_t *self, const char *key,
                        const meshq_args_t *args)
{
    if (!self->store)
        return;  //  Shutting down: the log keeps what it has.
    meshq_buf_t value;
    meshq_buf_init (&value);
    if (args)
        meshq_codec_encode_args (args, &value, NULL);
    uint64_t ticket;
    int rc = meshq_store_meta (self->store, key, ++self->meta_version,
                               args ? value.data : NULL, value.size,
                               MESHQ_SYNC_ALWAYS, &ticket);
    if (rc)
        zsys_error ("agent: cannot store metadata key=%s: %s", key,
                    meshq_store_why (self->store));
    else if (!self->engine->restoring_root)
        //  Durable now, before the command that wrote it answers OK:
        //  committed at the end of the turn, a change answered OK was
        //  lost when the agent died in between (tests/system/test_auth's
        //  restart test failed about one run in two under load).
        meshq_store_commit (self->store);
    meshq_buf_fini (&value);
    meshq_engine_arm_turn (self->engine);
}

//  The queue arguments as a declaration carries them.
static void
s_queue_to_args (const char *name, const meshq_queue_args_t *q,
                 meshq_args_t *args)
{
    memset (args, 0, sizeof *args);
    MESHQ_ARGS_SET (args, QUEUE, queue, meshq_span (name));
    MESHQ_ARGS_SET (args, DURABLE, durable, q->durable);
    if (q->auto_delete)
        MESHQ_ARGS_SET (args, AUTO_DELETE, auto_delete, true);
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
    if (persist && args->durable && !args->exclusive) {
        meshq_args_t record;
        s_queue_to_args (name, args, &record);
        char key[MESHQ_MAX_SHORTSTR + 8];
        snprintf (key, sizeof key, "q/%s", name);
        meshq_vhost_meta_write (self, key, &record);
    }
    return queue;
}

static void
s_binding_key (char *key, size_t size, const char *exchange, const char *queue,
               const char *binding_key, const uint8_t *match,
               uint32_t match_size)
{
    int used = snprintf (key, size, "b/%s\x1f%s\x1f%s\x1f", exchange, queue,
                         binding_key);
    for (uint32_t i = 0; i < match_size && used + 3 < (int)size; i++)
        used += snprintf (key + used, size - (size_t)used, "%02x", match[i]);
}

void
meshq_vhost_binding_persist (meshq_vhost_t *self,
                             const meshq_exchange_t *exchange,
                             meshq_queue_t *queue, const char *binding_key,
                             meshq_span_t match, uint32_t match_count, bool add)
{
    if (!meshq_exchange_durable (exchange) ||
        !meshq_queue_args (queue)->durable ||
        meshq_queue_args (queue)->exclusive)
        return;
    char key[2048];
    s_binding_key (key, sizeof key, meshq_exchange_name (exchange),
                   meshq_queue_name (queue), binding_key,
                   (const uint8_t *)match.data, match.size);
    if (!add) {
        meshq_vhost_meta_write (self, key, NULL);
        return;
    }
    meshq_args_t record;
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, EXCHANGE, exchange,
                    meshq_span (meshq_exchange_name (exchange)));
    MESHQ_ARGS_SET (&record, QUEUE, queue,
                    meshq_span (meshq_queue_name (queue)));
    MESHQ_ARGS_SET (&record, KEY, key, meshq_span (binding_key));
    if (match.size) {
        MESHQ_ARGS_SET (&record, MATCH, match, match);
        record.match_count = match_count;
    }
    meshq_vhost_meta_write (self, key, &record);
}

void
meshq_vhost_queue_delete (meshq_vhost_t *self, meshq_queue_t *queue)
{
    const meshq_queue_args_t *args = meshq_queue_args (queue);
    char name[MESHQ_MAX_SHORTSTR + 1];
    snprintf (name, sizeof name, "%s", meshq_queue_name (queue));
    //  Consumers go first (their sessions stop tracking them).
    meshq_session_t *session = zhashx_first (self->engine->sessions);
    while (session) {
        meshq_consumer_t *consumer = zlistx_first (session->consumers);
        while (consumer) {
            meshq_consumer_t *next = zlistx_next (session->consumers);
            if (consumer->queue == queue) {
                zlistx_delete (session->consumers,
                               zlistx_find (session->consumers, consumer));
                meshq_queue_remove_consumer (queue, consumer);
            }
            consumer = next;
        }
        session = zhashx_next (self->engine->sessions);
    }
    meshq_exchange_t *exchange = zhashx_first (self->exchanges);
    while (exchange) {
        for (const meshq_binding_t *b = meshq_exchange_bindings (exchange); b;
             b = b->next)
            if (b->queue == queue) {
                meshq_span_t match = {(const char *)b->match, b->match_size};
                meshq_vhost_binding_persist (self, exchange, queue, b->key,
                                             match, 0, false);
            }
        meshq_exchange_unbind_queue (exchange, queue);
        exchange = zhashx_next (self->exchanges);
    }
    if (args->durable && !args->exclusive) {
        char key[MESHQ_MAX_SHORTSTR + 8];
        snprintf (key, sizeof key, "q/%s", name);
        meshq_vhost_meta_write (self, key, NULL);
    }
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
    zhashx_delete (self->queues, name);
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
    if (persist && durable) {
        meshq_args_t record;
        memset (&record, 0, sizeof record);
        MESHQ_ARGS_SET (&record, EXCHANGE, exchange, meshq_span (name));
        MESHQ_ARGS_SET (&record, TYPE, type,
                        meshq_span (meshq_exchange_type_name (type)));
        MESHQ_ARGS_SET (&record, DURABLE, durable, true);
        char key[MESHQ_MAX_SHORTSTR + 8];
        snprintf (key, sizeof key, "x/%s", name);
        meshq_vhost_meta_write (self, key, &record);
    }
    return exchange;
}

// --------------------------------------------------------------------
//  Restoring metadata at start

//  Bindings wait for the end: their queue and exchange may come later.
typedef struct {
    uint8_t *value;  //  The record.
    size_t size;     //  Its size.
} s_saved_t;

int
meshq_vhost_meta_restore (void *arg, const char *key, uint64_t version,
                          const void *value, size_t size)
{
    meshq_vhost_t *self = arg;
    if (version > self->meta_version)
        self->meta_version = version;
    if (!value)
        return 0;
    meshq_args_t args;
    const char *why = NULL;
    if (meshq_codec_decode_args (value, size, &args, &why)) {
        zsys_warning ("agent: metadata skipped key=%s reason=%s", key, why);
        return 0;
    }
    char name[MESHQ_MAX_SHORTSTR + 1];
    if (self == self->engine->root &&
        (strncmp (key, "u/", 2) == 0 || strncmp (key, "p/", 2) == 0 ||
         strncmp (key, "v/", 2) == 0))
        meshq_engine_auth_meta (self->engine, key, &args);
    else if (streq (key, "node") && MESHQ_ARGS_HAS (&args, ORIGIN) &&
             streq (self->name, "/")) {
        memcpy (self->engine->node_id, args.origin, 16);
        self->engine->node_restored = true;
    } else if (strncmp (key, "q/", 2) == 0) {
        meshq_span_copy (name, args.queue);
        meshq_queue_args_t q;
        char reason[256];
        if (meshq_vhost_queue_args (self, &args, &q, reason, sizeof reason) ==
                0 &&
            !zhashx_lookup (self->queues, name))
            meshq_vhost_queue_create (self, name, &q, false);
    } else if (strncmp (key, "x/", 2) == 0) {
        meshq_span_copy (name, args.exchange);
        meshq_exchange_type_t type;
        if (meshq_exchange_type_parse (args.type, &type) == 0 &&
            !zhashx_lookup (self->exchanges, name))
            meshq_vhost_exchange_create (self, name, type, true, false);
    } else if (strncmp (key, "b/", 2) == 0) {
        if (!self->restoring)
            self->restoring = zlistx_new ();
        s_saved_t *saved = malloc (sizeof *saved + size);
        assert (saved);
        saved->value = (uint8_t *)(saved + 1);
        memcpy (saved->value, value, size);
        saved->size = size;
        zlistx_add_end (self->restoring, saved);
    }
    return 0;
}

void
meshq_vhost_meta_finish (meshq_vhost_t *self)
{
    if (streq (self->name, "/") && !self->engine->node_restored) {
        //  A new store: this node's id is chosen once and kept, so that
        //  the ids of its messages stay its own across restarts.
        meshq_args_t record;
        memset (&record, 0, sizeof record);
        memcpy (record.origin, self->engine->node_id, 16);
        MESHQ_ARGS_MARK (&record, ORIGIN);
        meshq_vhost_meta_write (self, "node", &record);
    }
    for (size_t i = 0; i < sizeof s_builtin / sizeof s_builtin[0]; i++)
        if (!zhashx_lookup (self->exchanges, s_builtin[i].name))
            meshq_vhost_exchange_create (self, s_builtin[i].name,
                                         s_builtin[i].type, true, false);
    s_saved_t *saved;
    while (self->restoring && (saved = zlistx_detach (self->restoring, NULL))) {
        meshq_args_t args;
        if (meshq_codec_decode_args (saved->value, saved->size, &args, NULL) ==
            0) {
            char queue_name[MESHQ_MAX_SHORTSTR + 1], exchange_name[256],
                key[MESHQ_MAX_SHORTSTR + 1];
            meshq_span_copy (queue_name, args.queue);
            meshq_span_copy (exchange_name, args.exchange);
            meshq_span_copy (key, args.key);
            meshq_queue_t *queue = zhashx_lookup (self->queues, queue_name);
            meshq_exchange_t *exchange =
                zhashx_lookup (self->exchanges, exchange_name);
            if (queue && exchange)
                meshq_exchange_bind (exchange, queue, key,
                                     MESHQ_ARGS_HAS (&args, MATCH)
                                         ? args.match
                                         : (meshq_span_t){0},
                                     args.match_count);
        }
        free (saved);
    }
    zlistx_destroy (&self->restoring);
}
