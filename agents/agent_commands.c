/*  agent_commands.c - the agent's requests: declare, delete, purge,
    bind, consume, cancel, status and the lists; and the metadata that
    makes durable declarations survive a restart.

    Errors name the thing and the way out, in RabbitMQ's terms, so a
    user moving from it recognises them.
*/
#include "agent_internal.h"
#include "codec_args.h"

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

//  Copies a span into a NUL-terminated buffer of MESHQ_MAX_SHORTSTR + 1.
static void
s_name (char *out, meshq_span_t span)
{
    memcpy (out, span.data ? span.data : "", span.size);
    out[span.size] = 0;
}

// --------------------------------------------------------------------
//  Metadata: durable declarations as store records

static void
s_meta_write (meshq_engine_t *self, const char *key, const meshq_args_t *args)
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
    meshq_buf_fini (&value);
    meshq_engine_arm_turn (self);
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
static int
s_args_to_queue (meshq_engine_t *self, const meshq_args_t *args,
                 meshq_queue_args_t *q, char *why, size_t size)
{
    meshq_queue_args_init (q);
    q->ack_timeout = self->config.ack_timeout_ms;
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
        s_name (overflow, args->overflow);
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
        s_name (q->dlx, args->dlx);
        q->has_dlx = true;
    }
    if (MESHQ_ARGS_HAS (args, DLRK)) {
        s_name (q->dlrk, args->dlrk);
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

//  Compares a redeclaration; names the first difference in why.
static bool
s_same_queue (const meshq_queue_args_t *a, const meshq_queue_args_t *b,
              const char *name, char *why, size_t size)
{
#define S_DIFF(cond, what, fmt, x, y)                                          \
    if (cond) {                                                                \
        snprintf (why, size,                                                   \
                  "queue '%s' exists with " what "=" fmt                       \
                  "; you asked for " fmt,                                      \
                  name, x, y);                                                 \
        return false;                                                          \
    }
    S_DIFF (a->durable != b->durable, "durable", "%s",
            a->durable ? "true" : "false", b->durable ? "true" : "false");
    S_DIFF (a->exclusive != b->exclusive, "exclusive", "%s",
            a->exclusive ? "true" : "false", b->exclusive ? "true" : "false");
    S_DIFF (a->auto_delete != b->auto_delete, "auto_delete", "%s",
            a->auto_delete ? "true" : "false",
            b->auto_delete ? "true" : "false");
    S_DIFF (a->max_length != b->max_length, "max_length", "%" PRId64,
            a->max_length, b->max_length);
    S_DIFF (a->max_bytes != b->max_bytes, "max_length_bytes", "%" PRId64,
            a->max_bytes, b->max_bytes);
    S_DIFF (a->reject_publish != b->reject_publish, "overflow", "%s",
            a->reject_publish ? "reject-publish" : "drop-head",
            b->reject_publish ? "reject-publish" : "drop-head");
    S_DIFF (a->message_ttl != b->message_ttl, "message_ttl", "%" PRId64,
            a->message_ttl, b->message_ttl);
    S_DIFF (a->has_dlx != b->has_dlx || strcmp (a->dlx, b->dlx),
            "dead_letter_exchange", "'%s'", a->dlx, b->dlx);
    S_DIFF (a->has_dlrk != b->has_dlrk || strcmp (a->dlrk, b->dlrk),
            "dead_letter_routing_key", "'%s'", a->dlrk, b->dlrk);
    S_DIFF (a->max_priority != b->max_priority, "max_priority", "%d",
            a->max_priority, b->max_priority);
    S_DIFF (a->max_deliveries != b->max_deliveries, "max_deliveries", "%u",
            a->max_deliveries, b->max_deliveries);
    S_DIFF (a->ack_timeout != b->ack_timeout, "ack_timeout", "%" PRId64,
            a->ack_timeout, b->ack_timeout);
#undef S_DIFF
    return true;
}

meshq_queue_t *
meshq_engine_queue_create (meshq_engine_t *self, const char *name,
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
        s_meta_write (self, key, &record);
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

static void
s_binding_persist (meshq_engine_t *self, const meshq_exchange_t *exchange,
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
        s_meta_write (self, key, NULL);
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
    s_meta_write (self, key, &record);
}

void
meshq_engine_queue_delete (meshq_engine_t *self, meshq_queue_t *queue)
{
    const meshq_queue_args_t *args = meshq_queue_args (queue);
    char name[MESHQ_MAX_SHORTSTR + 1];
    snprintf (name, sizeof name, "%s", meshq_queue_name (queue));
    //  Consumers go first (their sessions stop tracking them).
    meshq_session_t *session = zhashx_first (self->sessions);
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
        session = zhashx_next (self->sessions);
    }
    meshq_exchange_t *exchange = zhashx_first (self->exchanges);
    while (exchange) {
        for (const meshq_binding_t *b = meshq_exchange_bindings (exchange); b;
             b = b->next)
            if (b->queue == queue) {
                meshq_span_t match = {(const char *)b->match, b->match_size};
                s_binding_persist (self, exchange, queue, b->key, match, 0,
                                   false);
            }
        meshq_exchange_unbind_queue (exchange, queue);
        exchange = zhashx_next (self->exchanges);
    }
    if (args->durable && !args->exclusive) {
        char key[MESHQ_MAX_SHORTSTR + 8];
        snprintf (key, sizeof key, "q/%s", name);
        s_meta_write (self, key, NULL);
    }
    if (meshq_map64_lookup (self->dirty_set, (uintptr_t)queue)) {
        zlistx_delete (self->dirty, zlistx_find (self->dirty, queue));
        meshq_map64_delete (self->dirty_set, (uintptr_t)queue);
    }
    zhashx_delete (self->queues, name);
    meshq_queue_destroy (&queue);
    meshq_info ("agent: queue deleted name=%s", name);
}

//  Finds a queue the session may use, or answers the error and returns
//  NULL.
static meshq_queue_t *
s_queue_for (meshq_engine_t *self, meshq_session_t *session,
             const meshq_args_t *args)
{
    char name[MESHQ_MAX_SHORTSTR + 1];
    s_name (name, args->queue);
    meshq_queue_t *queue = zhashx_lookup (self->queues, name);
    if (!queue) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_ENOTFOUND,
                                  "no queue '%s' in vhost '/'", name);
        return NULL;
    }
    void *owner = meshq_queue_owner (queue);
    if (owner && owner != session) {
        meshq_engine_reply_error (
            self, session, args->rid, MESHQ_EACCESS,
            "queue '%s' is exclusive to another connection", name);
        return NULL;
    }
    return queue;
}

static void
s_declare_queue (meshq_engine_t *self, meshq_session_t *session,
                 const meshq_args_t *args)
{
    char name[MESHQ_MAX_SHORTSTR + 1];
    s_name (name, args->queue);
    char why[1024] = "";
    meshq_queue_args_t wanted;
    int rc = s_args_to_queue (self, args, &wanted, why, sizeof why);
    if (rc) {
        meshq_engine_reply_error (self, session, args->rid, rc, "%s", why);
        return;
    }
    bool passive = MESHQ_ARGS_HAS (args, PASSIVE) && args->passive;
    if (!*name && !passive) {
        //  A name of the agent's choosing, as amq.gen-... in RabbitMQ.
        zuuid_t *uuid = zuuid_new ();
        snprintf (name, sizeof name, "amq.gen-%s", zuuid_str_canonical (uuid));
        zuuid_destroy (&uuid);
    } else if (strncmp (name, "amq.", 4) == 0 && !passive &&
               !zhashx_lookup (self->queues, name)) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_EACCESS,
                                  "queue name '%s' is reserved: names "
                                  "starting with 'amq.' belong to the agent",
                                  name);
        return;
    }
    meshq_queue_t *queue = zhashx_lookup (self->queues, name);
    if (queue) {
        void *owner = meshq_queue_owner (queue);
        if (owner && owner != session) {
            meshq_engine_reply_error (
                self, session, args->rid, MESHQ_EACCESS,
                "queue '%s' is exclusive to another connection", name);
            return;
        }
        if (!passive && !s_same_queue (meshq_queue_args (queue), &wanted, name,
                                       why, sizeof why)) {
            meshq_engine_reply_error (self, session, args->rid,
                                      MESHQ_EPRECONDITION, "%s", why);
            return;
        }
    } else if (passive) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_ENOTFOUND,
                                  "no queue '%s' in vhost '/'", name);
        return;
    } else {
        queue = meshq_engine_queue_create (self, name, &wanted, true);
        if (wanted.exclusive)
            meshq_queue_set_owner (queue, session);
        meshq_info ("agent: queue declared name=%s durable=%d", name,
                    wanted.durable);
    }
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    MESHQ_ARGS_SET (&results, QUEUE, queue, meshq_span (name));
    MESHQ_ARGS_SET (&results, MESSAGES, messages, meshq_queue_ready (queue));
    MESHQ_ARGS_SET (&results, CONSUMERS, consumers,
                    meshq_queue_consumer_count (queue));
    meshq_engine_reply_ok (self, session, &results, args->rid);
}

static void
s_delete_queue (meshq_engine_t *self, meshq_session_t *session,
                const meshq_args_t *args)
{
    meshq_queue_t *queue = s_queue_for (self, session, args);
    if (!queue)
        return;
    if (MESHQ_ARGS_HAS (args, IF_UNUSED) && args->if_unused &&
        meshq_queue_consumer_count (queue)) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_EPRECONDITION,
                                  "queue '%s' has %u consumers; not deleted",
                                  meshq_queue_name (queue),
                                  meshq_queue_consumer_count (queue));
        return;
    }
    if (MESHQ_ARGS_HAS (args, IF_EMPTY) && args->if_empty &&
        meshq_queue_ready (queue) + meshq_queue_unacked (queue)) {
        meshq_engine_reply_error (
            self, session, args->rid, MESHQ_EPRECONDITION,
            "queue '%s' has %" PRIu64 " messages; not deleted",
            meshq_queue_name (queue),
            meshq_queue_ready (queue) + meshq_queue_unacked (queue));
        return;
    }
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    MESHQ_ARGS_SET (&results, MESSAGES, messages, meshq_queue_ready (queue));
    meshq_engine_queue_delete (self, queue);
    meshq_engine_reply_ok (self, session, &results, args->rid);
}

static void
s_purge_queue (meshq_engine_t *self, meshq_session_t *session,
               const meshq_args_t *args)
{
    meshq_queue_t *queue = s_queue_for (self, session, args);
    if (!queue)
        return;
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    MESHQ_ARGS_SET (&results, MESSAGES, messages, meshq_queue_purge (queue));
    meshq_engine_arm_turn (self);
    meshq_engine_reply_ok (self, session, &results, args->rid);
}

static meshq_exchange_t *
s_exchange_create (meshq_engine_t *self, const char *name,
                   meshq_exchange_type_t type, bool durable, bool persist)
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
        s_meta_write (self, key, &record);
    }
    return exchange;
}

static void
s_declare_exchange (meshq_engine_t *self, meshq_session_t *session,
                    const meshq_args_t *args)
{
    char name[MESHQ_MAX_SHORTSTR + 1];
    s_name (name, args->exchange);
    meshq_exchange_type_t type;
    if (!MESHQ_ARGS_HAS (args, TYPE) ||
        meshq_exchange_type_parse (args->type, &type)) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_EINVAL,
                                  "exchange type '%.*s' is not one of direct, "
                                  "fanout, topic, headers",
                                  (int)args->type.size,
                                  args->type.data ? args->type.data : "");
        return;
    }
    bool durable = !MESHQ_ARGS_HAS (args, DURABLE) || args->durable;
    if (!*name || strncmp (name, "amq.", 4) == 0) {
        meshq_exchange_t *existing = zhashx_lookup (self->exchanges, name);
        if (!*name || !existing || meshq_exchange_type (existing) != type) {
            meshq_engine_reply_error (
                self, session, args->rid, MESHQ_EACCESS,
                "exchange name '%s' is reserved: the default exchange and "
                "names starting with 'amq.' belong to the agent",
                name);
            return;
        }
    }
    meshq_exchange_t *exchange = zhashx_lookup (self->exchanges, name);
    if (exchange) {
        if (meshq_exchange_type (exchange) != type ||
            meshq_exchange_durable (exchange) != durable) {
            meshq_engine_reply_error (
                self, session, args->rid, MESHQ_EPRECONDITION,
                "exchange '%s' exists with type=%s durable=%s; you asked for "
                "type=%s durable=%s",
                name, meshq_exchange_type_name (meshq_exchange_type (exchange)),
                meshq_exchange_durable (exchange) ? "true" : "false",
                meshq_exchange_type_name (type), durable ? "true" : "false");
            return;
        }
    } else if (MESHQ_ARGS_HAS (args, PASSIVE) && args->passive) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_ENOTFOUND,
                                  "no exchange '%s' in vhost '/'", name);
        return;
    } else
        s_exchange_create (self, name, type, durable, true);
    meshq_engine_reply_ok (self, session, NULL, args->rid);
}

static void
s_delete_exchange (meshq_engine_t *self, meshq_session_t *session,
                   const meshq_args_t *args)
{
    char name[MESHQ_MAX_SHORTSTR + 1];
    s_name (name, args->exchange);
    meshq_exchange_t *exchange = zhashx_lookup (self->exchanges, name);
    if (!exchange || strncmp (name, "amq.", 4) == 0) {
        meshq_engine_reply_error (self, session, args->rid,
                                  exchange ? MESHQ_EACCESS : MESHQ_ENOTFOUND,
                                  exchange ? "exchange '%s' belongs to the "
                                             "agent and cannot be deleted"
                                           : "no exchange '%s' in vhost '/'",
                                  name);
        return;
    }
    if (MESHQ_ARGS_HAS (args, IF_UNUSED) && args->if_unused &&
        meshq_exchange_binding_count (exchange)) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_EPRECONDITION,
                                  "exchange '%s' has %zu bindings; not "
                                  "deleted",
                                  name,
                                  meshq_exchange_binding_count (exchange));
        return;
    }
    for (const meshq_binding_t *b = meshq_exchange_bindings (exchange); b;
         b = b->next) {
        meshq_span_t match = {(const char *)b->match, b->match_size};
        s_binding_persist (self, exchange, b->queue, b->key, match, 0, false);
    }
    if (meshq_exchange_durable (exchange)) {
        char key[MESHQ_MAX_SHORTSTR + 8];
        snprintf (key, sizeof key, "x/%s", name);
        s_meta_write (self, key, NULL);
    }
    zhashx_delete (self->exchanges, name);
    meshq_exchange_destroy (&exchange);
    meshq_engine_reply_ok (self, session, NULL, args->rid);
}

static void
s_bind (meshq_engine_t *self, meshq_session_t *session,
        const meshq_args_t *args, bool add)
{
    char exchange_name[MESHQ_MAX_SHORTSTR + 1], key[MESHQ_MAX_SHORTSTR + 1];
    s_name (exchange_name, args->exchange);
    s_name (key, args->key);
    meshq_queue_t *queue = s_queue_for (self, session, args);
    if (!queue)
        return;
    meshq_exchange_t *exchange = zhashx_lookup (self->exchanges, exchange_name);
    if (!exchange) {
        meshq_engine_reply_error (
            self, session, args->rid,
            *exchange_name ? MESHQ_ENOTFOUND : MESHQ_EACCESS,
            *exchange_name ? "no exchange '%s' in vhost '/'"
                           : "the default exchange%s binds every "
                             "queue by its name; it takes no "
                             "bindings",
            exchange_name);
        return;
    }
    meshq_span_t match =
        MESHQ_ARGS_HAS (args, MATCH) ? args->match : (meshq_span_t){0};
    int rc = add ? meshq_exchange_bind (exchange, queue, key, match,
                                        args->match_count)
                 : meshq_exchange_unbind (exchange, queue, key, match);
    if (rc) {
        meshq_engine_reply_error (
            self, session, args->rid, rc,
            add ? "x-match must be 'all' or 'any'"
                : "no binding of queue '%s' to exchange '%s' with key '%s'",
            meshq_queue_name (queue), exchange_name, key);
        return;
    }
    s_binding_persist (self, exchange, queue, key, match, args->match_count,
                       add);
    meshq_engine_reply_ok (self, session, NULL, args->rid);
}

static void
s_consume (meshq_engine_t *self, meshq_session_t *session,
           const meshq_args_t *args)
{
    meshq_queue_t *queue = s_queue_for (self, session, args);
    if (!queue)
        return;
    char tag[MESHQ_MAX_SHORTSTR + 1];
    s_name (tag, args->tag);
    if (!*tag) {
        zuuid_t *uuid = zuuid_new ();
        snprintf (tag, sizeof tag, "ctag-%s", zuuid_str_canonical (uuid));
        zuuid_destroy (&uuid);
    }
    meshq_consumer_t *consumer = zlistx_first (session->consumers);
    for (; consumer; consumer = zlistx_next (session->consumers))
        if (streq (consumer->tag, tag)) {
            meshq_engine_reply_error (self, session, args->rid, MESHQ_EEXIST,
                                      "consumer tag '%s' is in use on this "
                                      "connection",
                                      tag);
            return;
        }
    uint64_t prefetch = args->prefetch;
    if (prefetch == 0 || prefetch > 1000000) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_ERANGE,
                                  "prefetch must be 1..1000000, not %" PRIu64,
                                  prefetch);
        return;
    }
    bool exclusive = MESHQ_ARGS_HAS (args, EXCLUSIVE) && args->exclusive;
    consumer = meshq_queue_add_consumer (queue, session, tag,
                                         (uint32_t)prefetch, exclusive);
    if (!consumer) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_EACCESS,
                                  "queue '%s' has an exclusive consumer, or "
                                  "consumers already (exclusive asked)",
                                  meshq_queue_name (queue));
        return;
    }
    zlistx_add_end (session->consumers, consumer);
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    MESHQ_ARGS_SET (&results, TAG, tag, meshq_span (tag));
    meshq_engine_reply_ok (self, session, &results, args->rid);
    meshq_engine_mark_dirty (self, queue);
}

static void
s_cancel (meshq_engine_t *self, meshq_session_t *session,
          const meshq_args_t *args)
{
    char tag[MESHQ_MAX_SHORTSTR + 1];
    s_name (tag, args->tag);
    meshq_consumer_t *consumer = zlistx_first (session->consumers);
    while (consumer && !streq (consumer->tag, tag))
        consumer = zlistx_next (session->consumers);
    if (!consumer) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_ENOTFOUND,
                                  "no consumer '%s' on this connection", tag);
        return;
    }
    zlistx_delete (session->consumers, zlistx_cursor (session->consumers));
    meshq_queue_t *queue = consumer->queue;
    meshq_queue_remove_consumer (queue, consumer);
    if (meshq_queue_args (queue)->auto_delete &&
        meshq_queue_consumer_count (queue) == 0)
        meshq_engine_queue_delete (self, queue);
    meshq_engine_reply_ok (self, session, NULL, args->rid);
}

// --------------------------------------------------------------------
//  Status and lists

static void
s_status (meshq_engine_t *self, meshq_session_t *session,
          const meshq_args_t *args)
{
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    char node[33];
    for (int i = 0; i < 16; i++)
        snprintf (node + 2 * i, 3, "%02x", self->node_id[i]);
    MESHQ_ARGS_SET (&results, NODE, node, meshq_span (node));
    MESHQ_ARGS_SET (&results, NAME, name, meshq_span (self->config.name));
    char version[32];
    snprintf (version, sizeof version, "%d.%d.%d", MESHQ_VERSION_MAJOR,
              MESHQ_VERSION_MINOR, MESHQ_VERSION_PATCH);
    MESHQ_ARGS_SET (&results, VERSION, version, meshq_span (version));
    MESHQ_ARGS_SET (&results, UPTIME, uptime,
                    (uint64_t)(zclock_mono () - self->started));
    uint64_t messages = 0;
    meshq_queue_t *queue = zhashx_first (self->queues);
    for (; queue; queue = zhashx_next (self->queues))
        messages += meshq_queue_ready (queue) + meshq_queue_unacked (queue);
    MESHQ_ARGS_SET (&results, MESSAGES, messages, messages);
    MESHQ_ARGS_SET (&results, CONSUMERS, consumers,
                    zhashx_size (self->sessions));
    meshq_engine_reply_ok (self, session, &results, args->rid);
}

static void
s_list (meshq_engine_t *self, meshq_session_t *session,
        const meshq_args_t *args, const char *what)
{
    size_t capacity = 16, count = 0;
    meshq_args_t *rows = malloc (capacity * sizeof *rows);
    assert (rows);
#define S_ROW()                                                                \
    (count == capacity                                                         \
         ? (rows = realloc (rows, (capacity *= 2) * sizeof *rows),             \
            assert (rows), memset (&rows[count], 0, sizeof *rows),             \
            &rows[count++])                                                    \
         : (memset (&rows[count], 0, sizeof *rows), &rows[count++]))
    if (streq (what, "queues")) {
        meshq_queue_t *queue = zhashx_first (self->queues);
        for (; queue; queue = zhashx_next (self->queues)) {
            meshq_args_t *row = S_ROW ();
            MESHQ_ARGS_SET (row, QUEUE, queue,
                            meshq_span (meshq_queue_name (queue)));
            MESHQ_ARGS_SET (row, MESSAGES, messages, meshq_queue_ready (queue));
            MESHQ_ARGS_SET (row, UNACKED, unacked, meshq_queue_unacked (queue));
            MESHQ_ARGS_SET (row, CONSUMERS, consumers,
                            meshq_queue_consumer_count (queue));
            MESHQ_ARGS_SET (row, BYTES, bytes, meshq_queue_ready_bytes (queue));
            MESHQ_ARGS_SET (row, PUBLISH_RATE, publish_rate,
                            (uint64_t)meshq_queue_publish_rate (queue));
            MESHQ_ARGS_SET (row, DELIVER_RATE, deliver_rate,
                            (uint64_t)meshq_queue_deliver_rate (queue));
            MESHQ_ARGS_SET (row, DURABLE, durable,
                            meshq_queue_args (queue)->durable);
        }
    } else if (streq (what, "exchanges")) {
        meshq_exchange_t *exchange = zhashx_first (self->exchanges);
        for (; exchange; exchange = zhashx_next (self->exchanges)) {
            meshq_args_t *row = S_ROW ();
            MESHQ_ARGS_SET (row, EXCHANGE, exchange,
                            meshq_span (meshq_exchange_name (exchange)));
            MESHQ_ARGS_SET (row, TYPE, type,
                            meshq_span (meshq_exchange_type_name (
                                meshq_exchange_type (exchange))));
            MESHQ_ARGS_SET (row, DURABLE, durable,
                            meshq_exchange_durable (exchange));
        }
    } else if (streq (what, "bindings")) {
        meshq_exchange_t *exchange = zhashx_first (self->exchanges);
        for (; exchange; exchange = zhashx_next (self->exchanges))
            for (const meshq_binding_t *b = meshq_exchange_bindings (exchange);
                 b; b = b->next) {
                meshq_args_t *row = S_ROW ();
                MESHQ_ARGS_SET (row, EXCHANGE, exchange,
                                meshq_span (meshq_exchange_name (exchange)));
                MESHQ_ARGS_SET (row, QUEUE, queue,
                                meshq_span (meshq_queue_name (b->queue)));
                MESHQ_ARGS_SET (row, KEY, key, meshq_span (b->key));
            }
    } else {
        meshq_session_t *owner = zhashx_first (self->sessions);
        for (; owner; owner = zhashx_next (self->sessions)) {
            meshq_consumer_t *consumer = zlistx_first (owner->consumers);
            for (; consumer; consumer = zlistx_next (owner->consumers)) {
                meshq_args_t *row = S_ROW ();
                MESHQ_ARGS_SET (
                    row, QUEUE, queue,
                    meshq_span (meshq_queue_name (consumer->queue)));
                MESHQ_ARGS_SET (row, TAG, tag, meshq_span (consumer->tag));
                MESHQ_ARGS_SET (row, PREFETCH, prefetch, consumer->prefetch);
                MESHQ_ARGS_SET (row, UNACKED, unacked, consumer->unacked);
                MESHQ_ARGS_SET (row, USER, user, meshq_span (owner->user));
            }
        }
    }
#undef S_ROW
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    const char *why = NULL;
    int rc = meshq_codec_encode_list (args->rid, what, rows, count, &buf, &why);
    if (rc)
        meshq_engine_reply_error (self, session, args->rid, rc, "%s", why);
    else
        meshq_engine_send_raw (self, session, "OK", buf.data, buf.size, NULL,
                               0);
    meshq_buf_fini (&buf);
    free (rows);
}

void
meshq_engine_command (meshq_engine_t *self, meshq_session_t *session,
                      const char *verb, const meshq_args_t *args)
{
    if (streq (verb, "DECLARE_QUEUE"))
        s_declare_queue (self, session, args);
    else if (streq (verb, "DELETE_QUEUE"))
        s_delete_queue (self, session, args);
    else if (streq (verb, "PURGE_QUEUE"))
        s_purge_queue (self, session, args);
    else if (streq (verb, "DECLARE_EXCHANGE"))
        s_declare_exchange (self, session, args);
    else if (streq (verb, "DELETE_EXCHANGE"))
        s_delete_exchange (self, session, args);
    else if (streq (verb, "BIND"))
        s_bind (self, session, args, true);
    else if (streq (verb, "UNBIND"))
        s_bind (self, session, args, false);
    else if (streq (verb, "CONSUME"))
        s_consume (self, session, args);
    else if (streq (verb, "CANCEL"))
        s_cancel (self, session, args);
    else if (streq (verb, "STATUS"))
        s_status (self, session, args);
    else if (streq (verb, "LIST_QUEUES"))
        s_list (self, session, args, "queues");
    else if (streq (verb, "LIST_EXCHANGES"))
        s_list (self, session, args, "exchanges");
    else if (streq (verb, "LIST_BINDINGS"))
        s_list (self, session, args, "bindings");
    else if (streq (verb, "LIST_CONSUMERS"))
        s_list (self, session, args, "consumers");
    else {
        meshq_engine_bad_input (self, "agent: unknown command verb=%s user=%s",
                                verb, session->user);
        meshq_engine_reply_error (self, session, args->rid, MESHQ_ENOTSUP,
                                  "unknown command '%s'", verb);
    }
}

// --------------------------------------------------------------------
//  Restoring metadata at start

//  Bindings wait for the end: their queue and exchange may come later.
typedef struct {
    uint8_t *value;  //  The record.
    size_t size;     //  Its size.
} s_saved_t;

int
meshq_engine_meta_restore (void *arg, const char *key, uint64_t version,
                           const void *value, size_t size)
{
    meshq_engine_t *self = arg;
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
    if (streq (key, "node") && MESHQ_ARGS_HAS (&args, ORIGIN)) {
        memcpy (self->node_id, args.origin, 16);
        self->node_restored = true;
    } else if (strncmp (key, "q/", 2) == 0) {
        s_name (name, args.queue);
        meshq_queue_args_t q;
        char reason[256];
        if (s_args_to_queue (self, &args, &q, reason, sizeof reason) == 0 &&
            !zhashx_lookup (self->queues, name))
            meshq_engine_queue_create (self, name, &q, false);
    } else if (strncmp (key, "x/", 2) == 0) {
        s_name (name, args.exchange);
        meshq_exchange_type_t type;
        if (meshq_exchange_type_parse (args.type, &type) == 0 &&
            !zhashx_lookup (self->exchanges, name))
            s_exchange_create (self, name, type, true, false);
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
meshq_engine_meta_finish (meshq_engine_t *self)
{
    if (!self->node_restored) {
        //  A new store: this node's id is chosen once and kept, so that
        //  the ids of its messages stay its own across restarts.
        meshq_args_t record;
        memset (&record, 0, sizeof record);
        memcpy (record.origin, self->node_id, 16);
        record.present |= 1ULL << MESHQ_A_ORIGIN;
        s_meta_write (self, "node", &record);
    }
    for (size_t i = 0; i < sizeof s_builtin / sizeof s_builtin[0]; i++)
        if (!zhashx_lookup (self->exchanges, s_builtin[i].name))
            s_exchange_create (self, s_builtin[i].name, s_builtin[i].type, true,
                               false);
    s_saved_t *saved;
    while (self->restoring && (saved = zlistx_detach (self->restoring, NULL))) {
        meshq_args_t args;
        if (meshq_codec_decode_args (saved->value, saved->size, &args, NULL) ==
            0) {
            char queue_name[MESHQ_MAX_SHORTSTR + 1], exchange_name[256],
                key[MESHQ_MAX_SHORTSTR + 1];
            s_name (queue_name, args.queue);
            s_name (exchange_name, args.exchange);
            s_name (key, args.key);
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
