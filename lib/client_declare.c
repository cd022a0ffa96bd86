/*  client_declare.c - the client's declarations: queues, exchanges and
    bindings. See meshq_client.h.

    Each is one request that waits for the agent's answer. The agent
    checks a declaration against what exists; its refusal, with its
    reason, is the call's result. A header binding's match arguments
    travel as a header map, checked here as the envelope's headers are.
*/
#include "client_internal.h"
#include "codec.h"

void
meshq_queue_options_init (meshq_queue_options_t *options)
{
    memset (options, 0, sizeof *options);
    options->durable = true;
    options->max_length = -1;
    options->max_length_bytes = -1;
    options->message_ttl = -1;
    options->overflow = MESHQ_OVERFLOW_DROP_HEAD;
}

int
meshq_client_declare_queue (meshq_client_t *self, const char *name,
                            const meshq_queue_options_t *options)
{
    assert (self);
    meshq_queue_options_t defaults;
    if (!options) {
        meshq_queue_options_init (&defaults);
        options = &defaults;
    }
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span (name ? name : ""));
    MESHQ_ARGS_SET (&args, DURABLE, durable, options->durable);
    if (options->exclusive)
        MESHQ_ARGS_SET (&args, EXCLUSIVE, exclusive, true);
    if (options->auto_delete)
        MESHQ_ARGS_SET (&args, AUTO_DELETE, auto_delete, true);
    if (options->passive)
        MESHQ_ARGS_SET (&args, PASSIVE, passive, true);
    if (options->max_length >= 0)
        MESHQ_ARGS_SET (&args, MAX_LENGTH, max_length,
                        (uint64_t)options->max_length);
    if (options->max_length_bytes >= 0)
        MESHQ_ARGS_SET (&args, MAX_BYTES, max_bytes,
                        (uint64_t)options->max_length_bytes);
    if (options->overflow == MESHQ_OVERFLOW_REJECT_PUBLISH)
        MESHQ_ARGS_SET (&args, OVERFLOW, overflow,
                        meshq_span ("reject-publish"));
    if (options->message_ttl >= 0)
        MESHQ_ARGS_SET (&args, MESSAGE_TTL, message_ttl,
                        (uint64_t)options->message_ttl);
    MESHQ_CLIENT_SET_STR (&args, DLX, dlx, options->dead_letter_exchange);
    MESHQ_CLIENT_SET_STR (&args, DLRK, dlrk, options->dead_letter_routing_key);
    if (options->max_priority > 0)
        MESHQ_ARGS_SET (&args, MAX_PRIORITY, max_priority,
                        (uint64_t)options->max_priority);
    if (options->max_deliveries > 0)
        MESHQ_ARGS_SET (&args, MAX_DELIVERIES, max_deliveries,
                        (uint64_t)options->max_deliveries);
    if (options->ack_timeout > 0)
        MESHQ_ARGS_SET (&args, ACK_TIMEOUT, ack_timeout,
                        (uint64_t)options->ack_timeout);
    if (options->dedup_window > 0)
        MESHQ_ARGS_SET (&args, DEDUP_WINDOW, dedup_window,
                        (uint64_t)options->dedup_window);
    if (options->local_first)
        MESHQ_ARGS_SET (&args, DISPATCH, dispatch, meshq_span ("local-first"));
    meshq_args_t results;
    int rc = meshq_client_request (self, "DECLARE_QUEUE", &args, &results);
    if (rc == 0)
        meshq_client_copy_span (self->queue_name, sizeof self->queue_name,
                                results.queue);
    return rc;
}

const char *
meshq_client_queue_name (const meshq_client_t *self)
{
    assert (self);
    return self->queue_name;
}

int
meshq_client_delete_queue (meshq_client_t *self, const char *name,
                           bool if_unused, bool if_empty, uint64_t *messages)
{
    assert (self);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_CLIENT_SET_STR (&args, QUEUE, queue, name);
    if (if_unused)
        MESHQ_ARGS_SET (&args, IF_UNUSED, if_unused, true);
    if (if_empty)
        MESHQ_ARGS_SET (&args, IF_EMPTY, if_empty, true);
    meshq_args_t results;
    int rc = meshq_client_request (self, "DELETE_QUEUE", &args, &results);
    if (rc == 0 && messages)
        *messages = results.messages;
    return rc;
}

int
meshq_client_purge_queue (meshq_client_t *self, const char *name,
                          uint64_t *messages)
{
    assert (self);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_CLIENT_SET_STR (&args, QUEUE, queue, name);
    meshq_args_t results;
    int rc = meshq_client_request (self, "PURGE_QUEUE", &args, &results);
    if (rc == 0 && messages)
        *messages = results.messages;
    return rc;
}

int
meshq_client_declare_exchange (meshq_client_t *self, const char *name,
                               const char *type, bool durable)
{
    assert (self);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_CLIENT_SET_STR (&args, EXCHANGE, exchange, name);
    MESHQ_CLIENT_SET_STR (&args, TYPE, type, type);
    MESHQ_ARGS_SET (&args, DURABLE, durable, durable);
    return meshq_client_request (self, "DECLARE_EXCHANGE", &args, NULL);
}

int
meshq_client_delete_exchange (meshq_client_t *self, const char *name,
                              bool if_unused)
{
    assert (self);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_CLIENT_SET_STR (&args, EXCHANGE, exchange, name);
    if (if_unused)
        MESHQ_ARGS_SET (&args, IF_UNUSED, if_unused, true);
    return meshq_client_request (self, "DELETE_EXCHANGE", &args, NULL);
}

static int
s_binding (meshq_client_t *self, const char *verb, const char *queue,
           const char *exchange, const char *key, const meshq_msg_t *match)
{
    assert (self);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_CLIENT_SET_STR (&args, QUEUE, queue, queue);
    MESHQ_CLIENT_SET_STR (&args, EXCHANGE, exchange, exchange);
    MESHQ_ARGS_SET (&args, KEY, key, meshq_span (key ? key : ""));
    meshq_buf_t entries;
    meshq_buf_init (&entries);
    if (match && meshq_msg_header_count (match)) {
        uint32_t count = (uint32_t)meshq_msg_header_count (match);
        meshq_header_t headers[MESHQ_MAX_HEADERS];
        for (uint32_t i = 0; i < count; i++) {
            const char *name;
            headers[i].value = *meshq_msg_header_at (match, i, &name);
            headers[i].key = meshq_span (name);
        }
        const char *why = NULL;
        int rc = meshq_codec_encode_headers (headers, count, &entries, &why);
        if (rc) {
            meshq_client_set_error (self, "%s", why);
            meshq_buf_fini (&entries);
            return rc;
        }
        meshq_span_t span = {(const char *)entries.data,
                             (uint32_t)entries.size};
        MESHQ_ARGS_SET (&args, MATCH, match, span);
        args.match_count = count;
    }
    int rc = meshq_client_request (self, verb, &args, NULL);
    meshq_buf_fini (&entries);
    return rc;
}

int
meshq_client_bind_queue (meshq_client_t *self, const char *queue,
                         const char *exchange, const char *key,
                         const meshq_msg_t *match)
{
    return s_binding (self, "BIND", queue, exchange, key, match);
}

int
meshq_client_unbind_queue (meshq_client_t *self, const char *queue,
                           const char *exchange, const char *key,
                           const meshq_msg_t *match)
{
    return s_binding (self, "UNBIND", queue, exchange, key, match);
}
