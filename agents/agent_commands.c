/*  agent_commands.c - the agent's requests: declare, delete, purge,
    bind, consume, cancel; each in the session's vhost. Status and the
    lists are in agent_lists.c, the vhost's metadata in agent_vhost.c.

    Errors name the thing and the way out, in RabbitMQ's terms, so a
    user moving from it recognises them.
*/
#include "agent_internal.h"
#include "meta_key.h"
#include "codec_args.h"

#include <inttypes.h>

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
    S_DIFF (a->dedup_window != b->dedup_window, "dedup_window", "%" PRId64,
            a->dedup_window, b->dedup_window);
    S_DIFF (a->local_first != b->local_first, "dispatch", "%s",
            a->local_first ? "local-first" : "balanced",
            b->local_first ? "local-first" : "balanced");
#undef S_DIFF
    return true;
}

//  Finds a queue the session may use, or answers the error and returns
//  NULL.
static meshq_queue_t *
s_queue_for (meshq_engine_t *self, meshq_session_t *session,
             const meshq_args_t *args, meshq_perm_kind_t kind)
{
    meshq_vhost_t *vhost = session->vhost;
    char name[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (name, args->queue);
    meshq_queue_t *queue = zhashx_lookup (vhost->queues, name);
    if (!queue) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_ENOTFOUND,
                                  "no queue '%s' in vhost '%s'", name,
                                  vhost->name);
        return NULL;
    }
    void *owner = meshq_queue_owner (queue);
    if (owner && owner != meshq_session_owner (session)) {
        meshq_engine_reply_error (
            self, session, args->rid, MESHQ_EACCESS,
            "queue '%s' is exclusive to another connection", name);
        return NULL;
    }
    if (!meshq_engine_allowed (self, session, kind, "queue", name, args->rid))
        return NULL;
    return queue;
}

//  Bytes a declaration's record takes at most, names and arguments (a
//  binding's match comes on top): the store is asked for that much room
//  before a durable declaration is answered OK.
#define S_RECORD_ROOM 2048

void
meshq_engine_declare_queue (meshq_engine_t *self, meshq_session_t *session,
                            const meshq_args_t *args)
{
    meshq_vhost_t *vhost = session->vhost;
    char name[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (name, args->queue);
    char why[1024] = "";
    meshq_queue_args_t wanted;
    int rc = meshq_vhost_queue_args (vhost, args, &wanted, why, sizeof why);
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
               !zhashx_lookup (vhost->queues, name)) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_EACCESS,
                                  "queue name '%s' is reserved: names "
                                  "starting with 'amq.' belong to the agent",
                                  name);
        return;
    }
    if (!passive && !meshq_engine_allowed (self, session, MESHQ_PERM_CONFIGURE,
                                           "queue", name, args->rid))
        return;
    //  A dead-letter exchange gets the queue's messages as if published
    //  there, and the queue's messages leave it: as RabbitMQ, write on
    //  the exchange and read on the queue.
    if (!passive && wanted.has_dlx &&
        (!meshq_engine_allowed (self, session, MESHQ_PERM_READ, "queue", name,
                                args->rid) ||
         !meshq_engine_allowed (self, session, MESHQ_PERM_WRITE, "exchange",
                                wanted.dlx, args->rid)))
        return;
    meshq_queue_t *queue = zhashx_lookup (vhost->queues, name);
    if (queue) {
        void *owner = meshq_queue_owner (queue);
        if (owner && owner != meshq_session_owner (session)) {
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
                                  "no queue '%s' in vhost '%s'", name,
                                  vhost->name);
        return;
    } else {
        if (wanted.durable && !wanted.exclusive &&
            meshq_vhost_meta_room (vhost, S_RECORD_ROOM, why, sizeof why)) {
            meshq_engine_reply_error (self, session, args->rid, MESHQ_EFULL,
                                      "queue '%s' not declared: %s", name, why);
            return;
        }
        queue = meshq_vhost_queue_create (vhost, name, &wanted, true);
        if (wanted.exclusive)
            meshq_queue_set_owner (queue, meshq_session_owner (session));
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

void
meshq_engine_delete_queue (meshq_engine_t *self, meshq_session_t *session,
                           const meshq_args_t *args)
{
    meshq_vhost_t *vhost = session->vhost;
    meshq_queue_t *queue =
        s_queue_for (self, session, args, MESHQ_PERM_CONFIGURE);
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
    meshq_vhost_queue_delete (vhost, queue);
    meshq_engine_reply_ok (self, session, &results, args->rid);
}

void
meshq_engine_purge_queue (meshq_engine_t *self, meshq_session_t *session,
                          const meshq_args_t *args)
{
    meshq_queue_t *queue = s_queue_for (self, session, args, MESHQ_PERM_READ);
    if (!queue)
        return;
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    MESHQ_ARGS_SET (&results, MESSAGES, messages, meshq_queue_purge (queue));
    meshq_engine_arm_turn (self);
    meshq_engine_reply_ok (self, session, &results, args->rid);
}

void
meshq_engine_declare_exchange (meshq_engine_t *self, meshq_session_t *session,
                               const meshq_args_t *args)
{
    meshq_vhost_t *vhost = session->vhost;
    char name[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (name, args->exchange);
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
    bool passive = MESHQ_ARGS_HAS (args, PASSIVE) && args->passive;
    if (!passive && !meshq_engine_allowed (self, session, MESHQ_PERM_CONFIGURE,
                                           "exchange", name, args->rid))
        return;
    if (!*name || strncmp (name, "amq.", 4) == 0) {
        meshq_exchange_t *existing = zhashx_lookup (vhost->exchanges, name);
        if (!*name || !existing || meshq_exchange_type (existing) != type) {
            meshq_engine_reply_error (
                self, session, args->rid, MESHQ_EACCESS,
                "exchange name '%s' is reserved: the default exchange and "
                "names starting with 'amq.' belong to the agent",
                name);
            return;
        }
    }
    meshq_exchange_t *exchange = zhashx_lookup (vhost->exchanges, name);
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
                                  "no exchange '%s' in vhost '%s'", name,
                                  vhost->name);
        return;
    } else {
        char why[1024];
        if (durable &&
            meshq_vhost_meta_room (vhost, S_RECORD_ROOM, why, sizeof why)) {
            meshq_engine_reply_error (self, session, args->rid, MESHQ_EFULL,
                                      "exchange '%s' not declared: %s", name,
                                      why);
            return;
        }
        meshq_vhost_exchange_create (vhost, name, type, durable, true);
    }
    meshq_engine_reply_ok (self, session, NULL, args->rid);
}

void
meshq_engine_delete_exchange (meshq_engine_t *self, meshq_session_t *session,
                              const meshq_args_t *args)
{
    meshq_vhost_t *vhost = session->vhost;
    char name[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (name, args->exchange);
    meshq_exchange_t *exchange = zhashx_lookup (vhost->exchanges, name);
    if (!exchange || strncmp (name, "amq.", 4) == 0) {
        meshq_engine_reply_error (self, session, args->rid,
                                  exchange ? MESHQ_EACCESS : MESHQ_ENOTFOUND,
                                  exchange ? "exchange '%s' belongs to the "
                                             "agent and cannot be deleted"
                                           : "no exchange '%s' in this vhost",
                                  name);
        return;
    }
    if (!meshq_engine_allowed (self, session, MESHQ_PERM_CONFIGURE, "exchange",
                               name, args->rid))
        return;
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
        meshq_vhost_binding_note (vhost, exchange, b->queue, b->key, match, 0,
                                  false);
    }
    char key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_exchange (key, name);
    meshq_vhost_meta_note (vhost, key, NULL, true);
    meshq_vhost_exchange_drop (vhost, exchange);
    meshq_engine_reply_ok (self, session, NULL, args->rid);
}

void
meshq_engine_bind (meshq_engine_t *self, meshq_session_t *session,
                   const meshq_args_t *args, bool add)
{
    meshq_vhost_t *vhost = session->vhost;
    char exchange_name[MESHQ_MAX_SHORTSTR + 1], key[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (exchange_name, args->exchange);
    meshq_span_copy (key, args->key);
    meshq_queue_t *queue = s_queue_for (self, session, args, MESHQ_PERM_WRITE);
    if (!queue)
        return;
    meshq_exchange_t *exchange =
        zhashx_lookup (vhost->exchanges, exchange_name);
    if (!exchange) {
        meshq_engine_reply_error (
            self, session, args->rid,
            *exchange_name ? MESHQ_ENOTFOUND : MESHQ_EACCESS,
            *exchange_name ? "no exchange '%s' in this vhost"
                           : "the default exchange%s binds every "
                             "queue by its name; it takes no "
                             "bindings",
            exchange_name);
        return;
    }
    if (!meshq_engine_allowed (self, session, MESHQ_PERM_READ, "exchange",
                               exchange_name, args->rid))
        return;
    meshq_span_t match =
        MESHQ_ARGS_HAS (args, MATCH) ? args->match : (meshq_span_t){0};
    const meshq_queue_args_t *queue_args = meshq_queue_args (queue);
    char why[1024];
    if (add && meshq_exchange_durable (exchange) && queue_args->durable &&
        !queue_args->exclusive &&
        meshq_vhost_meta_room (vhost, S_RECORD_ROOM + match.size, why,
                               sizeof why)) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_EFULL,
                                  "binding not made: %s", why);
        return;
    }
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
    meshq_vhost_binding_note (vhost, exchange, queue, key, match,
                              args->match_count, add);
    meshq_engine_reply_ok (self, session, NULL, args->rid);
}

void
meshq_engine_consume (meshq_engine_t *self, meshq_session_t *session,
                      const meshq_args_t *args)
{
    meshq_queue_t *queue = s_queue_for (self, session, args, MESHQ_PERM_READ);
    if (!queue)
        return;
    char tag[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (tag, args->tag);
    if (!*tag) {
        zuuid_t *uuid = zuuid_new ();
        snprintf (tag, sizeof tag, "ctag-%s", zuuid_str_canonical (uuid));
        zuuid_destroy (&uuid);
    }
    if (meshq_engine_session_consumer (session, tag)) {
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
    meshq_consumer_t *consumer = meshq_queue_add_consumer (
        queue, session, tag, (uint32_t)prefetch, exclusive);
    if (!consumer) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_EACCESS,
                                  "queue '%s' has an exclusive consumer, or "
                                  "consumers already (exclusive asked)",
                                  meshq_queue_name (queue));
        return;
    }
    consumer->no_ack = MESHQ_ARGS_HAS (args, NO_ACK) && args->no_ack;
    zlistx_add_end (session->consumers, consumer);
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    MESHQ_ARGS_SET (&results, TAG, tag, meshq_span (tag));
    meshq_engine_reply_ok (self, session, &results, args->rid);
    meshq_engine_mark_dirty (self, queue);
}

void
meshq_engine_cancel (meshq_engine_t *self, meshq_session_t *session,
                     const meshq_args_t *args)
{
    meshq_vhost_t *vhost = session->vhost;
    char tag[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (tag, args->tag);
    meshq_consumer_t *consumer = meshq_engine_session_consumer (session, tag);
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
        meshq_vhost_queue_delete (vhost, queue);
    meshq_engine_reply_ok (self, session, NULL, args->rid);
}
