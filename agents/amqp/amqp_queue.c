/*  amqp_queue.c - AMQP's exchange and queue classes over the engine's
    requests (agent_commands.c): declare, delete, bind, unbind, purge.
    A queue's x- arguments map onto meshq's queue arguments; x-queue-type
    is accepted and means nothing here (every queue is a meshq queue).
*/
#include "amqp_internal.h"
#include "codec_headers.h"

#include <inttypes.h>

static meshq_span_t
s_span (amqp_bytes_t bytes)
{
    return (meshq_span_t){bytes.bytes, (uint32_t)bytes.len};
}

static bool
s_key_is (const amqp_table_entry_t *entry, const char *name)
{
    return entry->key.len == strlen (name) &&
           memcmp (entry->key.bytes, name, entry->key.len) == 0;
}

//  An integer argument's value; false if it is not one (or negative).
static bool
s_integer (const amqp_field_value_t *value, uint64_t *out)
{
    int64_t v;
    switch (value->kind) {
        case AMQP_FIELD_KIND_I8:
            v = value->value.i8;
            break;
        case AMQP_FIELD_KIND_U8:
            v = value->value.u8;
            break;
        case AMQP_FIELD_KIND_I16:
            v = value->value.i16;
            break;
        case AMQP_FIELD_KIND_U16:
            v = value->value.u16;
            break;
        case AMQP_FIELD_KIND_I32:
            v = value->value.i32;
            break;
        case AMQP_FIELD_KIND_U32:
            v = value->value.u32;
            break;
        case AMQP_FIELD_KIND_I64:
            v = value->value.i64;
            break;
        case AMQP_FIELD_KIND_U64:
            *out = value->value.u64;
            return true;
        default:
            return false;
    }
    if (v < 0)
        return false;
    *out = (uint64_t)v;
    return true;
}

static bool
s_string (const amqp_field_value_t *value, meshq_span_t *out)
{
    if (value->kind != AMQP_FIELD_KIND_UTF8 &&
        value->kind != AMQP_FIELD_KIND_BYTES)
        return false;
    if (value->value.bytes.len > MESHQ_MAX_SHORTSTR)
        return false;
    *out = s_span (value->value.bytes);
    return true;
}

uint16_t
meshq_amqp_queue_arguments (const amqp_table_t *table, meshq_args_t *args,
                            char *why, size_t size)
{
    for (int i = 0; i < table->num_entries; i++) {
        const amqp_table_entry_t *entry = &table->entries[i];
        const amqp_field_value_t *value = &entry->value;
        uint64_t number = 0;
        meshq_span_t text = {0};
        bool good = true;
        if (s_key_is (entry, "x-max-length")) {
            if ((good = s_integer (value, &number)))
                MESHQ_ARGS_SET (args, MAX_LENGTH, max_length, number);
        } else if (s_key_is (entry, "x-max-length-bytes")) {
            if ((good = s_integer (value, &number)))
                MESHQ_ARGS_SET (args, MAX_BYTES, max_bytes, number);
        } else if (s_key_is (entry, "x-overflow")) {
            if ((good = s_string (value, &text)))
                MESHQ_ARGS_SET (args, OVERFLOW, overflow, text);
        } else if (s_key_is (entry, "x-message-ttl")) {
            if ((good = s_integer (value, &number)))
                MESHQ_ARGS_SET (args, MESSAGE_TTL, message_ttl, number);
        } else if (s_key_is (entry, "x-dead-letter-exchange")) {
            if ((good = s_string (value, &text)))
                MESHQ_ARGS_SET (args, DLX, dlx, text);
        } else if (s_key_is (entry, "x-dead-letter-routing-key")) {
            if ((good = s_string (value, &text)))
                MESHQ_ARGS_SET (args, DLRK, dlrk, text);
        } else if (s_key_is (entry, "x-max-priority")) {
            if ((good = s_integer (value, &number)))
                MESHQ_ARGS_SET (args, MAX_PRIORITY, max_priority,
                                number > MESHQ_MAX_PRIORITY ? MESHQ_MAX_PRIORITY
                                                            : number);
        } else if (s_key_is (entry, "x-delivery-limit")) {
            //  RabbitMQ's limit counts redeliveries; meshq's deliveries.
            if ((good = s_integer (value, &number)))
                MESHQ_ARGS_SET (args, MAX_DELIVERIES, max_deliveries,
                                number + 1);
        } else if (s_key_is (entry, "x-queue-type"))
            good = s_string (value, &text);
        //  Other arguments are ignored, as RabbitMQ ignores unknown ones.
        if (!good) {
            snprintf (why, size, "invalid arg '%.*s': wrong type or range",
                      (int)entry->key.len, (const char *)entry->key.bytes);
            return AMQP_PRECONDITION_FAILED;
        }
    }
    return 0;
}

//  The queue a method names: the channel's last declared if empty.
static meshq_span_t
s_queue (meshq_amqp_channel_t *self, amqp_bytes_t name)
{
    if (name.len == 0)
        return meshq_span (self->last_queue);
    return s_span (name);
}

static void
s_exchange_declare (meshq_amqp_channel_t *self, amqp_exchange_declare_t *m)
{
    if (m->auto_delete || m->internal) {
        meshq_amqp_close (self->conn, AMQP_NOT_IMPLEMENTED,
                          AMQP_EXCHANGE_DECLARE_METHOD,
                          "auto-delete and internal exchanges are not "
                          "implemented");
        return;
    }
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, EXCHANGE, exchange, s_span (m->exchange));
    meshq_span_t type = s_span (m->type);
    if (m->passive && type.size == 0) {
        //  A passive declare may leave the type out: the one it has.
        char name[MESHQ_MAX_SHORTSTR + 1];
        meshq_span_copy (name, args.exchange);
        meshq_exchange_t *exchange =
            self->session
                ? zhashx_lookup (self->session->vhost->exchanges, name)
                : NULL;
        type = meshq_span (
            exchange ? meshq_exchange_type_name (meshq_exchange_type (exchange))
                     : "direct");
    }
    MESHQ_ARGS_SET (&args, TYPE, type, type);
    MESHQ_ARGS_SET (&args, DURABLE, durable, m->durable);
    if (m->passive)
        MESHQ_ARGS_SET (&args, PASSIVE, passive, true);
    meshq_amqp_channel_request (self, "DECLARE_EXCHANGE", &args,
                                m->nowait ? 0 : AMQP_EXCHANGE_DECLARE_OK_METHOD,
                                false, NULL, 0);
}

static void
s_queue_declare (meshq_amqp_channel_t *self, amqp_queue_declare_t *m)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    char why[256];
    uint16_t code =
        meshq_amqp_queue_arguments (&m->arguments, &args, why, sizeof why);
    if (code) {
        meshq_amqp_channel_error (self, code, AMQP_QUEUE_DECLARE_METHOD, "%s",
                                  why);
        return;
    }
    MESHQ_ARGS_SET (&args, QUEUE, queue, s_span (m->queue));
    MESHQ_ARGS_SET (&args, DURABLE, durable, m->durable);
    MESHQ_ARGS_SET (&args, EXCLUSIVE, exclusive, m->exclusive);
    MESHQ_ARGS_SET (&args, AUTO_DELETE, auto_delete, m->auto_delete);
    if (m->passive)
        MESHQ_ARGS_SET (&args, PASSIVE, passive, true);
    //  The name is known when the answer comes; a no-wait declaration
    //  of a named queue knows it now.
    if (m->queue.len)
        meshq_span_copy (self->last_queue, args.queue);
    meshq_amqp_channel_request (self, "DECLARE_QUEUE", &args,
                                m->nowait ? 0 : AMQP_QUEUE_DECLARE_OK_METHOD,
                                false, NULL, 0);
}

void
meshq_amqp_queue_method (meshq_amqp_channel_t *self,
                         const meshq_amqp_event_t *event)
{
    amqp_method_number_t id = event->method.id;
    void *decoded = event->method.decoded;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    switch (id) {
        case AMQP_EXCHANGE_DECLARE_METHOD:
            s_exchange_declare (self, decoded);
            break;
        case AMQP_EXCHANGE_DELETE_METHOD: {
            amqp_exchange_delete_t *m = decoded;
            MESHQ_ARGS_SET (&args, EXCHANGE, exchange, s_span (m->exchange));
            if (m->if_unused)
                MESHQ_ARGS_SET (&args, IF_UNUSED, if_unused, true);
            meshq_amqp_channel_request (
                self, "DELETE_EXCHANGE", &args,
                m->nowait ? 0 : AMQP_EXCHANGE_DELETE_OK_METHOD, false, NULL, 0);
            break;
        }
        case AMQP_QUEUE_DECLARE_METHOD:
            s_queue_declare (self, decoded);
            break;
        case AMQP_QUEUE_BIND_METHOD:
        case AMQP_QUEUE_UNBIND_METHOD: {
            //  Queue.Bind and Queue.Unbind share their first fields.
            bool bind = id == AMQP_QUEUE_BIND_METHOD;
            amqp_queue_bind_t *b = decoded;
            amqp_queue_unbind_t *u = decoded;
            MESHQ_ARGS_SET (&args, QUEUE, queue,
                            s_queue (self, bind ? b->queue : u->queue));
            MESHQ_ARGS_SET (&args, EXCHANGE, exchange,
                            s_span (bind ? b->exchange : u->exchange));
            MESHQ_ARGS_SET (&args, KEY, key,
                            s_span (bind ? b->routing_key : u->routing_key));
            //  A headers exchange's arguments (x-match and the headers
            //  to match) as the engine takes them.
            meshq_buf_t match;
            meshq_buf_init (&match);
            const amqp_table_t *table = bind ? &b->arguments : &u->arguments;
            if (table->num_entries) {
                meshq_header_t headers[MESHQ_MAX_HEADERS];
                uint32_t count = 0;
                for (int i = 0;
                     i < table->num_entries && count < MESHQ_MAX_HEADERS; i++) {
                    const amqp_table_entry_t *entry = &table->entries[i];
                    headers[count].key = s_span (entry->key);
                    if (meshq_amqp_content_value (&entry->value,
                                                  &headers[count].value))
                        count++;
                }
                const char *why = NULL;
                if (meshq_codec_encode_headers (headers, count, &match, &why)) {
                    meshq_buf_fini (&match);
                    meshq_amqp_channel_error (self, AMQP_PRECONDITION_FAILED,
                                              id, "binding arguments: %s", why);
                    break;
                }
                MESHQ_ARGS_SET (&args, MATCH, match,
                                ((meshq_span_t){(const char *)match.data,
                                                (uint32_t)match.size}));
                args.match_count = count;
            }
            meshq_amqp_channel_request (
                self, bind ? "BIND" : "UNBIND", &args,
                bind ? (b->nowait ? 0 : AMQP_QUEUE_BIND_OK_METHOD)
                     : AMQP_QUEUE_UNBIND_OK_METHOD,
                false, NULL, 0);
            meshq_buf_fini (&match);
            break;
        }
        case AMQP_QUEUE_PURGE_METHOD: {
            amqp_queue_purge_t *m = decoded;
            MESHQ_ARGS_SET (&args, QUEUE, queue, s_queue (self, m->queue));
            meshq_amqp_channel_request (
                self, "PURGE_QUEUE", &args,
                m->nowait ? 0 : AMQP_QUEUE_PURGE_OK_METHOD, false, NULL, 0);
            break;
        }
        case AMQP_QUEUE_DELETE_METHOD: {
            amqp_queue_delete_t *m = decoded;
            MESHQ_ARGS_SET (&args, QUEUE, queue, s_queue (self, m->queue));
            if (m->if_unused)
                MESHQ_ARGS_SET (&args, IF_UNUSED, if_unused, true);
            if (m->if_empty)
                MESHQ_ARGS_SET (&args, IF_EMPTY, if_empty, true);
            meshq_amqp_channel_request (
                self, "DELETE_QUEUE", &args,
                m->nowait ? 0 : AMQP_QUEUE_DELETE_OK_METHOD, false, NULL, 0);
            break;
        }
        default:
            //  Exchange-to-exchange bindings.
            meshq_amqp_close (self->conn, AMQP_NOT_IMPLEMENTED, id,
                              "%s is not implemented", amqp_method_name (id));
    }
}
