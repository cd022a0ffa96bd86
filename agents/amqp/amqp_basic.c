/*  amqp_basic.c - AMQP's basic and confirm classes over the engine:
    publish (method, header and body frames, then one PUBLISH), deliver,
    get, return, ack/nack/reject, qos, consume/cancel, recover, and
    publisher confirms with per-channel sequence numbers. Routing,
    storage, confirms and credit are the engine's (agent_messages.c,
    agent_settle.c); this file translates.
*/
#include "amqp_internal.h"

#include <inttypes.h>

//  Bytes of messages being received one connection may have, at least
//  (max_message if that is more).
#define S_RECEIVING (64u * 1024 * 1024)

// --------------------------------------------------------------------
//  Publishing

//  The message received whole: to the engine.
static void
s_publish (meshq_amqp_channel_t *self)
{
    meshq_amqp_conn_t *conn = self->conn;
    self->content = 0;
    meshq_amqp_basic_release (self);
    //  The listener's buffer, reused: no allocation per message.
    meshq_buf_t *envelope = &conn->listener->envelope;
    meshq_buf_reset (envelope);
    const char *why = NULL;
    int rc = meshq_amqp_content_encode (self->exchange, self->routing_key,
                                        &self->properties, self->body.data,
                                        self->body.size, envelope, &why);
    if (self->body.capacity > 1024 * 1024)
        meshq_buf_fini (&self->body);
    else
        meshq_buf_reset (&self->body);
    if (rc == 0) {
        meshq_args_t args;
        memset (&args, 0, sizeof args);
        if (self->confirm)
            MESHQ_ARGS_SET (&args, SEQ, seq, ++self->publish_seq);
        if (self->mandatory)
            MESHQ_ARGS_SET (&args, MANDATORY, mandatory, true);
        meshq_amqp_channel_request (self, "PUBLISH", &args, 0, false,
                                    envelope->data, envelope->size);
    }
    //  A large message's buffer is not kept.
    if (envelope->capacity > 1024 * 1024)
        meshq_buf_fini (envelope);
    if (rc) {
        meshq_engine_bad_input (conn->engine,
                                "amqp: publish refused peer=%s reason=%s",
                                conn->peer, why);
        meshq_amqp_channel_error (self, AMQP_PRECONDITION_FAILED,
                                  AMQP_BASIC_PUBLISH_METHOD, "%s", why);
    }
}

static void
s_basic_publish (meshq_amqp_channel_t *self, amqp_basic_publish_t *publish)
{
    if (publish->immediate) {
        meshq_amqp_close (self->conn, AMQP_NOT_IMPLEMENTED,
                          AMQP_BASIC_PUBLISH_METHOD,
                          "immediate=true is not implemented");
        return;
    }
    //  Short strings: at most 255 bytes, as the buffers.
    memcpy (self->exchange, publish->exchange.bytes, publish->exchange.len);
    self->exchange[publish->exchange.len] = 0;
    memcpy (self->routing_key, publish->routing_key.bytes,
            publish->routing_key.len);
    self->routing_key[publish->routing_key.len] = 0;
    self->mandatory = publish->mandatory;
    self->content = 1;
}

//  Copies bytes into the channel's pool.
static void
s_copy (meshq_amqp_channel_t *self, amqp_bytes_t *bytes)
{
    amqp_bytes_t copy;
    amqp_pool_alloc_bytes (&self->pool, bytes->len, &copy);
    if (copy.bytes && bytes->len)
        memcpy (copy.bytes, bytes->bytes, bytes->len);
    else
        copy.len = 0;
    *bytes = copy;
}

void
meshq_amqp_basic_content (meshq_amqp_channel_t *self,
                          const meshq_amqp_event_t *event)
{
    meshq_amqp_conn_t *conn = self->conn;
    if (event->type == MESHQ_AMQP_HEADER) {
        if (self->content != 1 || event->class_id != AMQP_BASIC_CLASS) {
            meshq_amqp_close (conn, AMQP_UNEXPECTED_FRAME, 0,
                              "content header on channel %u without a "
                              "Basic.Publish",
                              self->number);
            return;
        }
        if (event->body_size > conn->engine->config.max_message) {
            self->content = 0;
            meshq_amqp_channel_error (
                self, AMQP_PRECONDITION_FAILED, AMQP_BASIC_PUBLISH_METHOD,
                "message size %" PRIu64 " is larger than max size %zu",
                event->body_size, conn->engine->config.max_message);
            return;
        }
        //  What messages being received may take, bounded per
        //  connection and for all: a client opening many channels, each
        //  with a large message begun, is refused.
        uint64_t max_message = conn->engine->config.max_message;
        uint64_t per_conn =
            max_message > S_RECEIVING ? max_message : S_RECEIVING;
        uint64_t all = conn->engine->config.max_memory / 2;
        meshq_amqp_listener_t *listener = conn->listener;
        if (conn->receiving + event->body_size > per_conn ||
            listener->receiving + event->body_size > all) {
            self->content = 0;
            meshq_amqp_close (conn, AMQP_RESOURCE_ERROR,
                              AMQP_BASIC_PUBLISH_METHOD,
                              "too many bytes of messages being received "
                              "(%" PRIu64 " on this connection)",
                              conn->receiving);
            return;
        }
        self->reserved = event->body_size;
        conn->receiving += self->reserved;
        listener->receiving += self->reserved;
        //  The properties live in the parser until the next frame.
        recycle_amqp_pool (&self->pool);
        self->properties = *event->properties;
        amqp_basic_properties_t *p = &self->properties;
        //  Only the fields present are set; the rest are not.
#define S_COPY(member, flag)                                                   \
    if (p->_flags & (flag))                                                    \
        s_copy (self, &p->member);
        S_COPY (content_type, AMQP_BASIC_CONTENT_TYPE_FLAG)
        S_COPY (content_encoding, AMQP_BASIC_CONTENT_ENCODING_FLAG)
        S_COPY (correlation_id, AMQP_BASIC_CORRELATION_ID_FLAG)
        S_COPY (reply_to, AMQP_BASIC_REPLY_TO_FLAG)
        S_COPY (expiration, AMQP_BASIC_EXPIRATION_FLAG)
        S_COPY (message_id, AMQP_BASIC_MESSAGE_ID_FLAG)
        S_COPY (type, AMQP_BASIC_TYPE_FLAG)
        S_COPY (user_id, AMQP_BASIC_USER_ID_FLAG)
        S_COPY (app_id, AMQP_BASIC_APP_ID_FLAG)
        S_COPY (cluster_id, AMQP_BASIC_CLUSTER_ID_FLAG)
#undef S_COPY
        amqp_table_t headers = {0, NULL};
        if (p->_flags & AMQP_BASIC_HEADERS_FLAG)
            amqp_table_clone (&event->properties->headers, &headers,
                              &self->pool);
        p->headers = headers;
        self->body_size = event->body_size;
        self->content = 2;
        if (self->body_size == 0)
            s_publish (self);
        return;
    }
    //  A body frame.
    if (self->content != 2) {
        meshq_amqp_close (conn, AMQP_UNEXPECTED_FRAME, 0,
                          "content body on channel %u without a header",
                          self->number);
        return;
    }
    if (self->body.size + event->body_chunk > self->body_size) {
        meshq_amqp_close (conn, AMQP_FRAME_ERROR, 0,
                          "content body longer than its header's %" PRIu64
                          " bytes",
                          self->body_size);
        return;
    }
    int rc = meshq_buf_append (&self->body, event->body, event->body_chunk);
    assert (rc == 0);
    if (self->body.size == self->body_size)
        s_publish (self);
}

// --------------------------------------------------------------------
//  What the engine sends

//  Writes a method, a content header and the body frames.
static int
s_content (meshq_amqp_channel_t *self, amqp_method_number_t id, void *method,
           const void *envelope_data, size_t envelope_size)
{
    meshq_amqp_conn_t *conn = self->conn;
    amqp_pool_t *pool = &conn->listener->pool;
    recycle_amqp_pool (pool);
    meshq_envelope_t envelope;
    amqp_basic_properties_t properties;
    if (meshq_amqp_content_decode (envelope_data, envelope_size, &envelope,
                                   &properties, pool)) {
        zsys_error ("amqp: cannot read a stored envelope");
        return 0;
    }
    //  The method's exchange and routing key are the message's.
    amqp_bytes_t exchange = {envelope.strings[MESHQ_F_EXCHANGE].size,
                             (void *)envelope.strings[MESHQ_F_EXCHANGE].data};
    amqp_bytes_t key = {envelope.strings[MESHQ_F_ROUTING_KEY].size,
                        (void *)envelope.strings[MESHQ_F_ROUTING_KEY].data};
    if (id == AMQP_BASIC_DELIVER_METHOD) {
        ((amqp_basic_deliver_t *)method)->exchange = exchange;
        ((amqp_basic_deliver_t *)method)->routing_key = key;
    } else if (id == AMQP_BASIC_GET_OK_METHOD) {
        ((amqp_basic_get_ok_t *)method)->exchange = exchange;
        ((amqp_basic_get_ok_t *)method)->routing_key = key;
    } else {
        ((amqp_basic_return_t *)method)->exchange = exchange;
        ((amqp_basic_return_t *)method)->routing_key = key;
    }
    meshq_amqp_send_method (conn, self->number, id, method);
    size_t body = envelope.body.size;
    size_t need = envelope_size + 4096 +
                  meshq_amqp_body_frames_size (body, conn->frame_max);
    int rc = meshq_buf_reserve (&conn->out, need);
    assert (rc == 0);
    ssize_t n = meshq_amqp_encode_header (
        conn->out.data + conn->out.size, conn->out.capacity - conn->out.size,
        conn->frame_max, self->number, body, &properties);
    if (n < 0) {
        //  Headers too big for one frame: the message goes without them.
        properties._flags &= ~AMQP_BASIC_HEADERS_FLAG;
        n = meshq_amqp_encode_header (conn->out.data + conn->out.size,
                                      conn->out.capacity - conn->out.size,
                                      conn->frame_max, self->number, body,
                                      &properties);
    }
    assert (n > 0);
    conn->out.size += (size_t)n;
    n = meshq_amqp_encode_body (
        conn->out.data + conn->out.size, conn->out.capacity - conn->out.size,
        conn->frame_max, self->number, envelope.body.data, body);
    assert (n >= 0);
    conn->out.size += (size_t)n;
    return 0;
}

int
meshq_amqp_basic_deliver (meshq_amqp_channel_t *self, const meshq_args_t *args,
                          const void *body, size_t size, bool get,
                          uint64_t message_count)
{
    bool redelivered = MESHQ_ARGS_HAS (args, REDELIVERED) && args->redelivered;
    if (get) {
        amqp_basic_get_ok_t ok = {.delivery_tag = args->dtag,
                                  .redelivered = redelivered,
                                  .message_count = (uint32_t)message_count};
        return s_content (self, AMQP_BASIC_GET_OK_METHOD, &ok, body, size);
    }
    char tag[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (tag, args->tag);
    meshq_amqp_consumer_t *consumer = zhashx_lookup (self->consumers, tag);
    if (consumer && consumer->no_ack) {
        consumer->owed++;
        self->conn->credit_due = true;
    }
    amqp_basic_deliver_t deliver = {.consumer_tag = amqp_cstring_bytes (tag),
                                    .delivery_tag = args->dtag,
                                    .redelivered = redelivered};
    return s_content (self, AMQP_BASIC_DELIVER_METHOD, &deliver, body, size);
}

int
meshq_amqp_basic_return (meshq_amqp_channel_t *self, const meshq_args_t *args,
                         const void *body, size_t size)
{
    (void)args;
    amqp_basic_return_t back = {.reply_code = AMQP_NO_ROUTE,
                                .reply_text = amqp_cstring_bytes ("NO_ROUTE")};
    return s_content (self, AMQP_BASIC_RETURN_METHOD, &back, body, size);
}

void
meshq_amqp_basic_confirm (meshq_amqp_channel_t *self, uint64_t upto, bool nack)
{
    if (upto <= self->confirmed)
        return;
    if (nack) {
        //  What came before it is confirmed; it alone is refused.
        if (upto - 1 > self->confirmed) {
            amqp_basic_ack_t ack = {upto - 1, 1};
            meshq_amqp_send_method (self->conn, self->number,
                                    AMQP_BASIC_ACK_METHOD, &ack);
        }
        amqp_basic_nack_t refused = {upto, 0, 0};
        meshq_amqp_send_method (self->conn, self->number,
                                AMQP_BASIC_NACK_METHOD, &refused);
    } else {
        amqp_basic_ack_t ack = {upto, upto - self->confirmed > 1};
        meshq_amqp_send_method (self->conn, self->number, AMQP_BASIC_ACK_METHOD,
                                &ack);
    }
    self->confirmed = upto;
}

void
meshq_amqp_basic_release (meshq_amqp_channel_t *self)
{
    self->conn->receiving -= self->reserved;
    self->conn->listener->receiving -= self->reserved;
    self->reserved = 0;
}

void
meshq_amqp_basic_credit (meshq_amqp_channel_t *self)
{
    if (!self->session || self->state == MESHQ_AMQP_CH_CLOSING)
        return;
    meshq_amqp_consumer_t *consumer = zhashx_first (self->consumers);
    for (; consumer; consumer = zhashx_next (self->consumers)) {
        if (!consumer->owed)
            continue;
        meshq_args_t args;
        memset (&args, 0, sizeof args);
        MESHQ_ARGS_SET (&args, TAG, tag, meshq_span (consumer->tag));
        MESHQ_ARGS_SET (&args, CREDIT, credit, consumer->owed);
        consumer->owed = 0;
        meshq_amqp_channel_request (self, "CREDIT", &args, 0, false, NULL, 0);
    }
}

// --------------------------------------------------------------------
//  The other methods

static meshq_span_t
s_span (amqp_bytes_t bytes)
{
    return (meshq_span_t){bytes.bytes, (uint32_t)bytes.len};
}

static void
s_settle (meshq_amqp_channel_t *self, const char *verb, uint64_t tag,
          bool multiple, bool requeue)
{
    if (!self->session)
        return;
    if (tag == 0 && multiple) {
        //  0 with multiple: every delivery so far.
        if (!self->session->tail)
            return;
        tag = self->session->tail->dtag;
    }
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, DTAG, dtag, tag);
    if (multiple)
        MESHQ_ARGS_SET (&args, MULTIPLE, multiple, true);
    if (streq (verb, "NACK"))
        MESHQ_ARGS_SET (&args, REQUEUE, requeue, requeue);
    meshq_amqp_channel_request (self, verb, &args, 0, false, NULL, 0);
}

static void
s_consume (meshq_amqp_channel_t *self, amqp_basic_consume_t *consume)
{
    char tag[MESHQ_MAX_SHORTSTR + 1];
    memcpy (tag, consume->consumer_tag.bytes, consume->consumer_tag.len);
    tag[consume->consumer_tag.len] = 0;
    if (!*tag) {
        zuuid_t *uuid = zuuid_new ();
        snprintf (tag, sizeof tag, "amq.ctag-%s", zuuid_str (uuid));
        zuuid_destroy (&uuid);
    }
    if (zhashx_lookup (self->consumers, tag)) {
        meshq_amqp_close (self->conn, AMQP_NOT_ALLOWED,
                          AMQP_BASIC_CONSUME_METHOD,
                          "attempt to reuse consumer tag '%s'", tag);
        return;
    }
    meshq_amqp_consumer_t *consumer = calloc (1, sizeof *consumer);
    assert (consumer);
    snprintf (consumer->tag, sizeof consumer->tag, "%s", tag);
    consumer->no_ack = consume->no_ack;
    zhashx_insert (self->consumers, consumer->tag, consumer);
    if (!consumer->no_ack)
        self->acking++;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue,
                    consume->queue.len ? s_span (consume->queue)
                                       : meshq_span (self->last_queue));
    MESHQ_ARGS_SET (&args, TAG, tag, meshq_span (consumer->tag));
    MESHQ_ARGS_SET (&args, PREFETCH, prefetch,
                    self->prefetch ? self->prefetch
                                   : MESHQ_AMQP_PREFETCH_DEFAULT);
    if (consume->no_ack)
        MESHQ_ARGS_SET (&args, NO_ACK, no_ack, true);
    if (consume->exclusive)
        MESHQ_ARGS_SET (&args, EXCLUSIVE, exclusive, true);
    meshq_amqp_channel_request (self, "CONSUME", &args,
                                consume->nowait ? 0
                                                : AMQP_BASIC_CONSUME_OK_METHOD,
                                consume->no_ack, NULL, 0);
}

static void
s_cancel (meshq_amqp_channel_t *self, amqp_basic_cancel_t *cancel)
{
    char tag[MESHQ_MAX_SHORTSTR + 1];
    memcpy (tag, cancel->consumer_tag.bytes, cancel->consumer_tag.len);
    tag[cancel->consumer_tag.len] = 0;
    meshq_amqp_consumer_t *consumer = zhashx_lookup (self->consumers, tag);
    if (consumer) {
        if (!consumer->no_ack)
            self->acking--;
        zhashx_delete (self->consumers, tag);
        meshq_args_t args;
        memset (&args, 0, sizeof args);
        MESHQ_ARGS_SET (&args, TAG, tag, meshq_span (tag));
        meshq_amqp_channel_request (self, "CANCEL", &args, 0, false, NULL, 0);
    }
    //  As RabbitMQ: an unknown tag is cancelled too.
    if (!cancel->nowait) {
        amqp_basic_cancel_ok_t ok = {amqp_cstring_bytes (tag)};
        meshq_amqp_send_method (self->conn, self->number,
                                AMQP_BASIC_CANCEL_OK_METHOD, &ok);
    }
}

void
meshq_amqp_basic_method (meshq_amqp_channel_t *self,
                         const meshq_amqp_event_t *event)
{
    meshq_amqp_conn_t *conn = self->conn;
    amqp_method_number_t id = event->method.id;
    void *decoded = event->method.decoded;
    switch (id) {
        case AMQP_BASIC_PUBLISH_METHOD:
            s_basic_publish (self, decoded);
            break;
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *ack = decoded;
            s_settle (self, "ACK", ack->delivery_tag, ack->multiple, false);
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            amqp_basic_nack_t *nack = decoded;
            s_settle (self, "NACK", nack->delivery_tag, nack->multiple,
                      nack->requeue);
            break;
        }
        case AMQP_BASIC_REJECT_METHOD: {
            amqp_basic_reject_t *reject = decoded;
            s_settle (self, "NACK", reject->delivery_tag, false,
                      reject->requeue);
            break;
        }
        case AMQP_BASIC_QOS_METHOD: {
            amqp_basic_qos_t *qos = decoded;
            if (qos->prefetch_size) {
                meshq_amqp_close (conn, AMQP_NOT_IMPLEMENTED, id,
                                  "prefetch_size!=0 (%u)", qos->prefetch_size);
                break;
            }
            //  Per consumer, for the consumers started after it (global
            //  or not: docs/FROM-RABBITMQ.md).
            self->prefetch = qos->prefetch_count;
            amqp_basic_qos_ok_t ok = {0};
            meshq_amqp_send_method (conn, self->number,
                                    AMQP_BASIC_QOS_OK_METHOD, &ok);
            break;
        }
        case AMQP_BASIC_CONSUME_METHOD:
            s_consume (self, decoded);
            break;
        case AMQP_BASIC_CANCEL_METHOD:
            s_cancel (self, decoded);
            break;
        case AMQP_BASIC_GET_METHOD: {
            amqp_basic_get_t *get = decoded;
            meshq_args_t args;
            memset (&args, 0, sizeof args);
            MESHQ_ARGS_SET (&args, QUEUE, queue,
                            get->queue.len ? s_span (get->queue)
                                           : meshq_span (self->last_queue));
            if (get->no_ack)
                MESHQ_ARGS_SET (&args, NO_ACK, no_ack, true);
            meshq_amqp_channel_request (self, "GET", &args,
                                        AMQP_BASIC_GET_OK_METHOD, get->no_ack,
                                        NULL, 0);
            break;
        }
        case AMQP_BASIC_RECOVER_METHOD: {
            //  Unacked deliveries go back to their queues, redelivered
            //  (requeue or not: docs/FROM-RABBITMQ.md).
            if (self->session)
                meshq_engine_requeue_session (conn->engine, self->session);
            amqp_basic_recover_ok_t ok = {0};
            meshq_amqp_send_method (conn, self->number,
                                    AMQP_BASIC_RECOVER_OK_METHOD, &ok);
            break;
        }
        case AMQP_CONFIRM_SELECT_METHOD: {
            amqp_confirm_select_t *select = decoded;
            self->confirm = true;
            if (!select->nowait) {
                amqp_confirm_select_ok_t ok = {0};
                meshq_amqp_send_method (conn, self->number,
                                        AMQP_CONFIRM_SELECT_OK_METHOD, &ok);
            }
            break;
        }
        default:
            meshq_amqp_close (conn, AMQP_NOT_IMPLEMENTED, id,
                              "%s is not implemented", amqp_method_name (id));
    }
}
