/*  agent_meta.c - a vhost's metadata: declarations as versioned records.

    Every durable fact of a vhost is a record: "q/NAME" a queue and its
    arguments, "x/NAME" an exchange, "b/EXCHANGE\x1fQUEUE\x1fKEY\x1fMATCH"
    a binding, and in the default vhost "u/", "p/", "v/" users,
    permissions and vhosts (agent_auth.c) and "node" this node's id. A
    record is an argument map (codec_args.h); a delete is a tombstone.

    Records are mesh-wide: each has a version, a Lamport clock in the
    high bits and 20 bits of the writing node's id below, so that two
    nodes never write the same version and every node picks the same
    winner. A node keeps the winning record of each key in memory (to
    send to a peer that comes up), in its store when the fact is durable,
    and applies it: the same function applies a record read back at
    start, written here, or heard from a peer.
*/
#include "agent_internal.h"
#include "codec_args.h"
#include "codec_store.h"
#include "meta_key.h"

#include <inttypes.h>

//  The predeclared exchanges every AMQP user expects.
static const struct {
    const char *name;
    meshq_exchange_type_t type;
} s_builtin[] = {{"amq.direct", MESHQ_EXCHANGE_DIRECT},
                 {"amq.fanout", MESHQ_EXCHANGE_FANOUT},
                 {"amq.topic", MESHQ_EXCHANGE_TOPIC},
                 {"amq.headers", MESHQ_EXCHANGE_HEADERS},
                 {"amq.match", MESHQ_EXCHANGE_HEADERS}};

//  Bits of the version that name the writer.
#define S_NODE_BITS 20
_Static_assert(MESHQ_META_GENESIS == (uint64_t)1 << S_NODE_BITS,
               "a genesis record is the clock's first tick, by no writer");

//  Versions whose clock (the bits above the writer's) reaches this are
//  refused: the clock would wrap (2^44 - 1 is the most it can hold),
//  and a trillion writes is more than any mesh makes.
#define S_CLOCK_MAX ((uint64_t)1 << 43)

static uint64_t
s_next_version (meshq_vhost_t *self)
{
    const uint8_t *id = self->engine->node_id;
    uint64_t node =
        ((uint64_t)id[0] << 12 | (uint64_t)id[1] << 4 | (uint64_t)id[2] >> 4) &
        ((1u << S_NODE_BITS) - 1);
    return (++self->meta_version << S_NODE_BITS) | node;
}

//  Keeps the record as the vhost's current one for key.
static void
s_remember (meshq_vhost_t *self, const char *key, uint64_t version,
            const void *value, size_t size)
{
    meshq_meta_entry_t *entry = malloc (sizeof *entry + size);
    assert (entry);
    entry->version = version;
    entry->present = value != NULL;
    entry->size = value ? (uint32_t)size : 0;
    if (value && size)
        memcpy (entry->data, value, size);
    meshq_meta_entry_t *old = zhashx_lookup (self->meta, key);
    if (old)
        meshq_vhost_meta_digest (self, key, old->version);
    meshq_vhost_meta_digest (self, key, version);
    zhashx_update (self->meta, key, entry);
    //  The clock runs ahead of every version seen (but never so far that
    //  it would wrap: such a version is refused from peers, and one read
    //  from an older store is kept but does not move the clock).
    if (version >> S_NODE_BITS > self->meta_version &&
        version >> S_NODE_BITS < S_CLOCK_MAX)
        self->meta_version = version >> S_NODE_BITS;
}

static void
s_persist (meshq_vhost_t *self, const char *key, uint64_t version,
           const void *value, size_t size)
{
    uint64_t ticket;
    int rc = meshq_store_meta (self->store, key, version, value, size,
                               MESHQ_SYNC_ALWAYS, &ticket);
    if (rc)
        zsys_error ("agent: cannot store metadata key=%s: %s", key,
                    meshq_store_why (self->store));
    //  Replies wait for the commit that makes this durable.
    self->engine->hold_replies = true;
    meshq_engine_arm_turn (self->engine);
}

//  Writes a record at version (remembered, stored if persist, told to
//  the linked peers).
static void
s_note (meshq_vhost_t *self, const char *key, const meshq_args_t *args,
        bool persist, uint64_t version)
{
    meshq_buf_t value;
    meshq_buf_init (&value);
    if (args)
        meshq_codec_encode_args (args, &value, NULL);
    const void *data = args ? (value.data ? value.data : (void *)"") : NULL;
    s_remember (self, key, version, data, value.size);
    if (persist)
        s_persist (self, key, version, data, value.size);
    meshq_engine_mesh_meta (self, key, version, data, value.size);
    meshq_buf_fini (&value);
}

void
meshq_vhost_meta_note (meshq_vhost_t *self, const char *key,
                       const meshq_args_t *args, bool persist)
{
    if (!self->store)
        return;  //  Shutting down: the log keeps what it has.
    s_note (self, key, args, persist, s_next_version (self));
}

bool
meshq_vhost_meta_genesis (meshq_vhost_t *self, const char *key,
                          const meshq_args_t *args)
{
    if (!self->store || zhashx_lookup (self->meta, key))
        return false;
    s_note (self, key, args, true, MESHQ_META_GENESIS);
    return true;
}

int
meshq_vhost_meta_room (meshq_vhost_t *self, size_t size, char *why,
                       size_t why_size)
{
    if (!self->store) {
        snprintf (why, why_size,
                  "vhost '%s' has no store (it could not be opened)",
                  self->name);
        return MESHQ_EIO;
    }
    int rc = meshq_store_room (self->store, size);
    if (rc)
        snprintf (why, why_size, "it cannot be made durable: %s",
                  meshq_store_why (self->store));
    return rc;
}

void
meshq_vhost_meta_write (meshq_vhost_t *self, const char *key,
                        const meshq_args_t *args)
{
    meshq_vhost_meta_note (self, key, args, true);
}

// --------------------------------------------------------------------
//  Bindings

void
meshq_vhost_binding_note (meshq_vhost_t *self, const meshq_exchange_t *exchange,
                          meshq_queue_t *queue, const char *binding_key,
                          meshq_span_t match, uint32_t match_count, bool add)
{
    const meshq_queue_args_t *args = meshq_queue_args (queue);
    char key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_binding (key, meshq_exchange_name (exchange),
                            meshq_queue_name (queue), binding_key,
                            (const uint8_t *)match.data, match.size);
    if (!add) {
        meshq_vhost_meta_note (self, key, NULL, true);
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
    meshq_vhost_meta_note (self, key, &record,
                           meshq_exchange_durable (exchange) && args->durable &&
                               !args->exclusive);
}

//  Applies a binding record. Returns false if its queue or exchange is
//  not known yet (the caller keeps it for later).
static bool
s_bind (meshq_vhost_t *self, const meshq_args_t *args)
{
    char queue_name[MESHQ_MAX_SHORTSTR + 1];
    char exchange_name[MESHQ_MAX_SHORTSTR + 1];
    char key[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (queue_name, args->queue);
    meshq_span_copy (exchange_name, args->exchange);
    meshq_span_copy (key, args->key);
    meshq_queue_t *queue = zhashx_lookup (self->queues, queue_name);
    meshq_exchange_t *exchange = zhashx_lookup (self->exchanges, exchange_name);
    if (!queue || !exchange)
        return false;
    meshq_exchange_bind (exchange, queue, key,
                         MESHQ_ARGS_HAS (args, MATCH) ? args->match
                                                      : (meshq_span_t){0},
                         args->match_count);
    return true;
}

//  Removes the binding whose key, in its hashed form, is key: the key of
//  each binding is built again until one matches.
static void
s_unbind_hashed (meshq_vhost_t *self, const char *key)
{
    meshq_exchange_t *exchange = zhashx_first (self->exchanges);
    for (; exchange; exchange = zhashx_next (self->exchanges))
        for (const meshq_binding_t *b = meshq_exchange_bindings (exchange); b;
             b = b->next) {
            char candidate[MESHQ_META_KEY_SIZE];
            meshq_meta_key_binding (candidate, meshq_exchange_name (exchange),
                                    meshq_queue_name (b->queue), b->key,
                                    b->match, b->match_size);
            if (streq (candidate, key)) {
                //  Copies: the binding is freed by the unbind.
                char binding_key[MESHQ_MAX_SHORTSTR + 1];
                snprintf (binding_key, sizeof binding_key, "%s", b->key);
                uint8_t *match = b->match_size ? malloc (b->match_size) : NULL;
                if (match)
                    memcpy (match, b->match, b->match_size);
                meshq_span_t span = {(const char *)match, b->match_size};
                meshq_exchange_unbind (exchange, b->queue, binding_key, span);
                free (match);
                return;
            }
        }
}

//  Removes the binding a tombstone's key names.
static void
s_unbind (meshq_vhost_t *self, const char *key)
{
    if (key[1] == '#') {
        s_unbind_hashed (self, key);
        return;
    }
    char copy[2048];
    snprintf (copy, sizeof copy, "%s", key + 2);
    char *parts[4] = {copy, NULL, NULL, NULL};
    for (int i = 1; i < 4; i++) {
        parts[i] = parts[i - 1] ? strchr (parts[i - 1], '\x1f') : NULL;
        if (parts[i])
            *parts[i]++ = 0;
    }
    if (!parts[3])
        return;
    uint8_t match[2048];
    size_t size = 0;
    for (const char *hex = parts[3]; hex[0] && hex[1] && size < sizeof match;
         hex += 2) {
        unsigned byte;
        if (sscanf (hex, "%2x", &byte) != 1)
            return;
        match[size++] = (uint8_t)byte;
    }
    meshq_queue_t *queue = zhashx_lookup (self->queues, parts[1]);
    meshq_exchange_t *exchange = zhashx_lookup (self->exchanges, parts[0]);
    if (queue && exchange) {
        meshq_span_t span = {(const char *)match, (uint32_t)size};
        meshq_exchange_unbind (exchange, queue, parts[2], span);
    }
}

//  A binding record waiting for its queue or exchange.
typedef struct {
    uint32_t size;   //  Bytes of the record.
    uint8_t data[];  //  The record.
} s_pending_t;

static void
s_defer (meshq_vhost_t *self, const void *value, size_t size)
{
    if (!self->restoring)
        self->restoring = zlistx_new ();
    s_pending_t *pending = malloc (sizeof *pending + size);
    assert (pending);
    pending->size = (uint32_t)size;
    memcpy (pending->data, value, size);
    zlistx_add_end (self->restoring, pending);
}

//  Tries the bindings that waited for a queue or an exchange.
static void
s_retry_deferred (meshq_vhost_t *self)
{
    if (!self->restoring)
        return;
    s_pending_t *pending = zlistx_first (self->restoring);
    while (pending) {
        meshq_args_t args;
        bool done = meshq_codec_decode_args (pending->data, pending->size,
                                             &args, NULL) ||
                    s_bind (self, &args);
        if (done) {
            void *cursor = zlistx_cursor (self->restoring);
            free (pending);
            zlistx_delete (self->restoring, cursor);
            pending = zlistx_first (self->restoring);
        } else
            pending = zlistx_next (self->restoring);
    }
}

// --------------------------------------------------------------------
//  Applying records

//  The queue a record of key names: by the name in its record when it
//  has one (and the key must be that name's), else, for a tombstone, by
//  the key (built again for each queue when it is hashed). Sets name.
//  Returns false if the record's key is not its name's.
static bool
s_queue_of (meshq_vhost_t *self, const char *key, bool hashed,
            const meshq_args_t *args, char *name, meshq_queue_t **queue)
{
    *queue = NULL;
    if (args) {
        meshq_span_copy (name, args->queue);
        char expected[MESHQ_META_KEY_SIZE];
        meshq_meta_key_queue (expected, name);
        if (!streq (expected, key))
            return false;
        *queue = zhashx_lookup (self->queues, name);
    } else if (!hashed) {
        snprintf (name, MESHQ_MAX_SHORTSTR + 1, "%s", key + 2);
        *queue = zhashx_lookup (self->queues, name);
    } else {
        meshq_queue_t *queue_i = zhashx_first (self->queues);
        for (; queue_i; queue_i = zhashx_next (self->queues)) {
            char candidate[MESHQ_META_KEY_SIZE];
            meshq_meta_key_queue (candidate, meshq_queue_name (queue_i));
            if (streq (candidate, key)) {
                snprintf (name, MESHQ_MAX_SHORTSTR + 1, "%s",
                          meshq_queue_name (queue_i));
                *queue = queue_i;
                break;
            }
        }
    }
    return true;
}

//  The exchange a record of key names, as s_queue_of.
static bool
s_exchange_of (meshq_vhost_t *self, const char *key, bool hashed,
               const meshq_args_t *args, char *name,
               meshq_exchange_t **exchange)
{
    *exchange = NULL;
    if (args) {
        meshq_span_copy (name, args->exchange);
        char expected[MESHQ_META_KEY_SIZE];
        meshq_meta_key_exchange (expected, name);
        if (!streq (expected, key))
            return false;
        *exchange = zhashx_lookup (self->exchanges, name);
    } else if (!hashed)
        *exchange = zhashx_lookup (self->exchanges, key + 2);
    else {
        meshq_exchange_t *exchange_i = zhashx_first (self->exchanges);
        for (; exchange_i; exchange_i = zhashx_next (self->exchanges)) {
            char candidate[MESHQ_META_KEY_SIZE];
            meshq_meta_key_exchange (candidate,
                                     meshq_exchange_name (exchange_i));
            if (streq (candidate, key)) {
                *exchange = exchange_i;
                break;
            }
        }
    }
    return true;
}

//  Applies the record of key (args NULL: deleted). value/size are its
//  bytes, for a binding that must wait.
static void
s_apply (meshq_vhost_t *self, const char *key, const meshq_args_t *args,
         const void *value, size_t size)
{
    meshq_engine_t *engine = self->engine;
    char name[MESHQ_MAX_SHORTSTR + 1];
    bool hashed;
    char kind = meshq_meta_key_kind (key, &hashed);
    if (self == engine->root && (kind == 'u' || kind == 'p' || kind == 'v'))
        meshq_engine_auth_meta (engine, key, args);
    else if (streq (key, "node")) {
        if (args && MESHQ_ARGS_HAS (args, ORIGIN) && self == engine->root &&
            !engine->node_restored) {
            memcpy (engine->node_id, args->origin, 16);
            engine->node_restored = true;
        }
    } else if (kind == 'q') {
        meshq_queue_t *queue;
        if (!s_queue_of (self, key, hashed, args, name, &queue)) {
            zsys_warning ("agent: queue record skipped key=%.64s reason=its "
                          "key is not its name's",
                          key);
            return;
        }
        void *owner = queue ? meshq_queue_owner (queue) : NULL;
        bool ours = owner && owner != self;  //  A session of ours owns it.
        if (!args) {
            if (ours)
                //  Deleted elsewhere (its owner seemed gone): it is not.
                meshq_vhost_queue_reassert (self, queue);
            else if (queue)
                meshq_vhost_queue_drop (self, queue);
            return;
        }
        meshq_queue_args_t q;
        char why[512];
        if (meshq_vhost_queue_args (self, args, &q, why, sizeof why)) {
            zsys_warning ("agent: queue record skipped name=%s reason=%s", name,
                          why);
            return;
        }
        if (q.exclusive && !ours) {
            if (!MESHQ_ARGS_HAS (args, ORIGIN) ||
                memcmp (args->origin, engine->node_id, 16) == 0) {
                //  Ours once, but its connection is gone (we restarted):
                //  it is gone everywhere.
                meshq_vhost_meta_note (self, key, NULL, false);
                if (queue)
                    meshq_vhost_queue_drop (self, queue);
                return;
            }
            if (!queue)
                queue = meshq_vhost_queue_create (self, name, &q, false);
            //  Owned by a connection on another agent (the vhost stands
            //  for it): no connection here may use it but to publish.
            meshq_queue_set_owner (queue, self);
            meshq_engine_mesh_owner (queue, args->origin);
            s_retry_deferred (self);
            return;
        }
        if (!queue)
            meshq_vhost_queue_create (self, name, &q, false);
        else if (!meshq_queue_set_args (queue, &q))
            zsys_warning ("agent: queue record skipped name=%s reason=its "
                          "max-priority cannot change with messages in it",
                          name);
        else
            meshq_vhost_unquarantine (self, name);
        s_retry_deferred (self);
    } else if (kind == 'x') {
        meshq_exchange_t *exchange;
        if (!s_exchange_of (self, key, hashed, args, name, &exchange)) {
            zsys_warning ("agent: exchange record skipped key=%.64s "
                          "reason=its key is not its name's",
                          key);
            return;
        }
        if (!args) {
            if (exchange)
                meshq_vhost_exchange_drop (self, exchange);
            return;
        }
        meshq_exchange_type_t type;
        if (meshq_exchange_type_parse (args->type, &type))
            return;
        bool durable = !MESHQ_ARGS_HAS (args, DURABLE) || args->durable;
        if (exchange && (meshq_exchange_type (exchange) != type ||
                         meshq_exchange_durable (exchange) != durable)) {
            //  Redeclared elsewhere with other arguments, and that one
            //  won: replace it (its bindings are records of their own).
            meshq_vhost_exchange_drop (self, exchange);
            exchange = NULL;
        }
        if (!exchange)
            meshq_vhost_exchange_create (self, name, type, durable, false);
        s_retry_deferred (self);
    } else if (kind == 'b') {
        if (!args)
            s_unbind (self, key);
        else if (!s_bind (self, args))
            s_defer (self, value, size);
    }
}

int
meshq_vhost_meta_restore (void *arg, const char *key, uint64_t version,
                          const void *value, size_t size)
{
    meshq_vhost_t *self = arg;
    s_remember (self, key, version, value, size);
    if (!value)
        return 0;
    meshq_args_t args;
    const char *why = NULL;
    if (meshq_codec_decode_args (value, size, &args, &why)) {
        zsys_warning ("agent: metadata skipped key=%s reason=%s", key, why);
        return 0;
    }
    //  Bindings wait for the end: their queue and exchange may come
    //  later in the store.
    bool hashed;
    if (meshq_meta_key_kind (key, &hashed) == 'b')
        s_defer (self, value, size);
    else
        s_apply (self, key, &args, value, size);
    return 0;
}

void
meshq_vhost_meta_finish (meshq_vhost_t *self)
{
    for (size_t i = 0; i < sizeof s_builtin / sizeof s_builtin[0]; i++)
        if (!zhashx_lookup (self->exchanges, s_builtin[i].name))
            meshq_vhost_exchange_create (self, s_builtin[i].name,
                                         s_builtin[i].type, true, false);
    s_retry_deferred (self);
}

//  Checks a record a peer sent. Returns NULL, or why it is refused.
static const char *
s_check_received (meshq_vhost_t *self, const char *key, uint64_t version,
                  const void *value, size_t size)
{
    size_t length = strlen (key);
    if (length == 0 || length > MESHQ_META_KEY_MAX)
        return "key is empty or longer than 255 bytes";
    //  The node's own id is nobody else's.
    if (streq (key, "node"))
        return "the node record is this node's own";
    if (version >> S_NODE_BITS >= S_CLOCK_MAX)
        return "version beyond the metadata clock's range";
    if (value && size > MESHQ_STORE_MAX_META)
        return "value larger than 1 MiB";
    if (strncmp (key, "v/", 2) == 0 && key[2] == 0)
        return "vhost name is empty";
    (void)self;
    return NULL;
}

bool
meshq_vhost_meta_receive (meshq_vhost_t *self, const char *key,
                          uint64_t version, const void *value, size_t size)
{
    const char *refused = s_check_received (self, key, version, value, size);
    if (refused) {
        meshq_engine_bad_input (self->engine,
                                "mesh: metadata dropped key=%.64s reason=%s",
                                key, refused);
        return false;
    }
    meshq_meta_entry_t *known = zhashx_lookup (self->meta, key);
    if (known && known->version >= version)
        return false;
    meshq_args_t args;
    const char *why = NULL;
    if (value && meshq_codec_decode_args (value, size, &args, &why)) {
        meshq_engine_bad_input (
            self->engine, "mesh: metadata dropped key=%s reason=%s", key, why);
        return false;
    }
    s_remember (self, key, version, value, size);
    //  Kept on disk unless it declares something that is not durable.
    //  A consumer record is never kept, nor its end: its writer ends
    //  what comes back of it after a restart (agent_interest.c).
    bool durable = !value || !MESHQ_ARGS_HAS (&args, DURABLE) || args.durable;
    if (key[0] == 'c' && key[1] == '/')
        durable = false;
    if (self->store && durable)
        s_persist (self, key, version, value, size);
    s_apply (self, key, value ? &args : NULL, value, size);
    return true;
}
