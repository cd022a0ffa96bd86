/*  amqp_channel.c - AMQP channels: open and close in both directions,
    the dispatch of their methods, and the front door the engine answers
    them through (meshq_front_t): OK and ERROR become the methods' -Ok
    replies or a channel or connection error, DELIVER a Basic.Deliver,
    RETURN a Basic.Return, CONFIRM and NACK Basic.Ack and Basic.Nack.

    Each channel is one engine session; its requests are the native
    protocol's verbs (agent_verbs.c), answered in order.
*/
#include "amqp_internal.h"

#include <inttypes.h>
#include <stdarg.h>

//  Request ids of requests whose OK is not answered (no-wait, publish).
#define S_QUIET_RID (UINT64_C (1) << 62)

uint16_t
meshq_amqp_reply_code (int code, const char *why)
{
    switch (code) {
        case MESHQ_ENOTFOUND:
            return AMQP_NOT_FOUND;
        case MESHQ_EACCESS:
            //  As RabbitMQ: another connection's exclusive queue is
            //  locked, not refused.
            return why && strstr (why, "exclusive to another")
                       ? AMQP_RESOURCE_LOCKED
                       : AMQP_ACCESS_REFUSED;
        case MESHQ_EPRECONDITION:
        case MESHQ_ERANGE:
        case MESHQ_EINVAL:
        case MESHQ_EMSGSIZE:
            return AMQP_PRECONDITION_FAILED;
        case MESHQ_EEXIST:
            return AMQP_NOT_ALLOWED;
        case MESHQ_EFULL:
        case MESHQ_ELIMIT:
            return AMQP_RESOURCE_ERROR;
        case MESHQ_ENOTSUP:
            return AMQP_NOT_IMPLEMENTED;
        default:
            return AMQP_INTERNAL_ERROR;
    }
}

//  Whether an AMQP reply code is a connection (hard) error.
static bool
s_hard (uint16_t code)
{
    return code == AMQP_NOT_ALLOWED || code == AMQP_NOT_IMPLEMENTED ||
           code == AMQP_INTERNAL_ERROR || code == AMQP_COMMAND_INVALID ||
           code == AMQP_CHANNEL_ERROR || code == AMQP_UNEXPECTED_FRAME ||
           code == AMQP_FRAME_ERROR || code == AMQP_SYNTAX_ERROR ||
           code == AMQP_RESOURCE_ERROR;
}

void
meshq_amqp_channel_error (meshq_amqp_channel_t *self, uint16_t code,
                          amqp_method_number_t method, const char *format, ...)
{
    char text[256];
    va_list list;
    va_start (list, format);
    vsnprintf (text, sizeof text, format, list);
    va_end (list);
    if (s_hard (code)) {
        meshq_amqp_close (self->conn, code, method, "%s", text);
        return;
    }
    if (self->state == MESHQ_AMQP_CH_CLOSING)
        return;
    meshq_info ("amqp: channel error peer=%s channel=%u code=%u text=%s",
                self->conn->peer, self->number, code, text);
    char reply[320];
    snprintf (reply, sizeof reply, "%s - %s",
              amqp_constant_name (code) ? amqp_constant_name (code) : "ERROR",
              text);
    amqp_channel_close_t close = {.reply_code = code,
                                  .reply_text = amqp_cstring_bytes (reply),
                                  .class_id = (uint16_t)(method >> 16),
                                  .method_id = (uint16_t)(method & 0xFFFF)};
    meshq_amqp_send_method (self->conn, self->number, AMQP_CHANNEL_CLOSE_METHOD,
                            &close);
    self->state = MESHQ_AMQP_CH_CLOSING;
    //  Its session goes (outside the engine's calls): its deliveries go
    //  back to their queues, its consumers stop.
    self->release = true;
    meshq_amqp_defer (self->conn->listener);
}

uint64_t
meshq_amqp_channel_request (meshq_amqp_channel_t *self, const char *verb,
                            meshq_args_t *args, amqp_method_number_t method,
                            bool no_ack, const void *body, size_t size)
{
    if (!self->session)
        return 0;
    uint64_t rid;
    if (method) {
        if (self->wait_count == MESHQ_AMQP_WAITS) {
            meshq_amqp_close (self->conn, AMQP_COMMAND_INVALID, method,
                              "more than %d requests without their answer",
                              MESHQ_AMQP_WAITS);
            return 0;
        }
        rid = ++self->next_rid;
        meshq_amqp_wait_t *wait =
            &self->waits[(self->wait_head + self->wait_count++) %
                         MESHQ_AMQP_WAITS];
        wait->rid = rid;
        wait->method = method;
        wait->no_ack = no_ack;
    } else
        rid = S_QUIET_RID | ++self->next_rid;
    MESHQ_ARGS_SET (args, RID, rid, rid);
    meshq_engine_request (self->conn->engine, self->session, verb, args, body,
                          size);
    return rid;
}

// --------------------------------------------------------------------
//  What the engine sends

//  The -Ok of a request.
static void
s_ok (meshq_amqp_channel_t *self, const meshq_amqp_wait_t *wait,
      const meshq_args_t *args, const void *body, size_t size)
{
    meshq_amqp_conn_t *conn = self->conn;
    uint16_t number = self->number;
    switch (wait->method) {
        case AMQP_QUEUE_DECLARE_OK_METHOD: {
            amqp_queue_declare_ok_t ok = {
                .queue = {args->queue.size, (void *)args->queue.data},
                .message_count = (uint32_t)args->messages,
                .consumer_count = (uint32_t)args->consumers};
            meshq_span_copy (self->last_queue, args->queue);
            meshq_amqp_send_method (conn, number, wait->method, &ok);
            break;
        }
        case AMQP_QUEUE_PURGE_OK_METHOD:
        case AMQP_QUEUE_DELETE_OK_METHOD: {
            //  Both are one long, message_count.
            amqp_queue_purge_ok_t ok = {(uint32_t)args->messages};
            meshq_amqp_send_method (conn, number, wait->method, &ok);
            break;
        }
        case AMQP_BASIC_CONSUME_OK_METHOD: {
            amqp_basic_consume_ok_t ok = {
                {args->tag.size, (void *)args->tag.data}};
            meshq_amqp_send_method (conn, number, wait->method, &ok);
            break;
        }
        case AMQP_BASIC_GET_OK_METHOD: {
            if (MESHQ_ARGS_HAS (args, EMPTY) && args->empty) {
                amqp_basic_get_empty_t empty = {amqp_empty_bytes};
                meshq_amqp_send_method (conn, number,
                                        AMQP_BASIC_GET_EMPTY_METHOD, &empty);
                break;
            }
            char name[MESHQ_MAX_SHORTSTR + 1];
            meshq_span_copy (name, args->queue);
            meshq_queue_t *queue =
                zhashx_lookup (self->session->vhost->queues, name);
            meshq_amqp_basic_deliver (self, args, body, size, true,
                                      queue ? meshq_queue_ready (queue) : 0);
            break;
        }
        default: {
            //  The rest have no arguments.
            amqp_queue_bind_ok_t ok = {0};
            meshq_amqp_send_method (conn, number, wait->method, &ok);
        }
    }
}

//  Marks the channel paused or not, and has its connection read or not.
static void
s_pause (meshq_amqp_channel_t *self, bool paused)
{
    if (self->paused == paused)
        return;
    self->paused = paused;
    if (paused)
        self->conn->paused++;
    else
        self->conn->paused--;
    meshq_amqp_listen_update (self->conn);
}

static int
s_send (void *arg, meshq_session_t *session, const char *verb,
        const meshq_args_t *args, const void *body, size_t size)
{
    (void)session;
    meshq_amqp_channel_t *self = arg;
    meshq_amqp_conn_t *conn = self->conn;
    if (streq (verb, "PAUSE") || streq (verb, "RESUME")) {
        //  A queue it publishes to is behind its consumers: as RabbitMQ's
        //  credit flow, the connection stops reading its socket until
        //  RESUME (docs/decisions/0025).
        s_pause (self, streq (verb, "PAUSE"));
        return 0;
    }
    if (conn->state != MESHQ_AMQP_RUNNING ||
        self->state == MESHQ_AMQP_CH_CLOSING) {
        //  Deliveries to a channel that is going: back to their queues
        //  with its session.
        return streq (verb, "DELIVER") ? MESHQ_ECONNLOST : 0;
    }
    if (conn->out.size - conn->out_sent > MESHQ_AMQP_OUT_MAX) {
        //  The client does not read: the engine counts it and ends the
        //  session; the connection goes.
        conn->state = MESHQ_AMQP_DONE;
        conn->ending = true;
        meshq_amqp_defer (conn->listener);
        return MESHQ_EAGAIN;
    }
    if (streq (verb, "DELIVER"))
        return meshq_amqp_basic_deliver (self, args, body, size, false, 0);
    if (streq (verb, "CONFIRM")) {
        meshq_amqp_basic_confirm (self, args->upto, false);
        return 0;
    }
    if (streq (verb, "NACK")) {
        meshq_amqp_basic_confirm (self, args->seq, true);
        return 0;
    }
    if (streq (verb, "RETURN"))
        return meshq_amqp_basic_return (self, args, body, size);
    bool ok = streq (verb, "OK");
    if (!ok && !streq (verb, "ERROR"))
        return 0;  //  BLOCKED and UNBLOCKED: the connection's session's.
    uint64_t rid = MESHQ_ARGS_HAS (args, RID) ? args->rid : 0;
    //  Answers come in order, but for GET's, which is never held for
    //  the turn's commit: look for it.
    meshq_amqp_wait_t wait = {0};
    for (int i = 0; rid && i < self->wait_count; i++) {
        int at = (self->wait_head + i) % MESHQ_AMQP_WAITS;
        if (self->waits[at].rid != rid)
            continue;
        wait = self->waits[at];
        for (int j = i; j > 0; j--)
            self->waits[(self->wait_head + j) % MESHQ_AMQP_WAITS] =
                self->waits[(self->wait_head + j - 1) % MESHQ_AMQP_WAITS];
        self->wait_head = (self->wait_head + 1) % MESHQ_AMQP_WAITS;
        self->wait_count--;
        break;
    }
    if (ok) {
        if (wait.method)
            s_ok (self, &wait, args, body, size);
        return 0;
    }
    char why[512];
    snprintf (why, sizeof why, "%.*s", (int)args->why.size,
              args->why.data ? args->why.data : "");
    int code = MESHQ_ARGS_HAS (args, CODE) ? (int)args->code : MESHQ_EINVAL;
    //  The method at fault: the request's -Ok less one is the request.
    amqp_method_number_t fault = wait.method ? wait.method - 1 : 0;
    if (wait.method == AMQP_BASIC_GET_OK_METHOD)
        fault = AMQP_BASIC_GET_METHOD;
    else if (wait.method == AMQP_EXCHANGE_UNBIND_OK_METHOD)
        fault = AMQP_EXCHANGE_UNBIND_METHOD;
    meshq_amqp_channel_error (self, meshq_amqp_reply_code (code, why), fault,
                              "%s", why);
    return 0;
}

static void
s_cancelled (void *arg, meshq_session_t *session, const char *tag)
{
    (void)session;
    meshq_amqp_channel_t *self = arg;
    meshq_amqp_consumer_t *consumer = zhashx_lookup (self->consumers, tag);
    if (!consumer)
        return;
    if (!consumer->no_ack)
        self->acking--;
    zhashx_delete (self->consumers, tag);
    if (self->state == MESHQ_AMQP_CH_CLOSING ||
        self->conn->state != MESHQ_AMQP_RUNNING)
        return;
    //  consumer_cancel_notify: its queue is gone.
    amqp_basic_cancel_t cancel = {amqp_cstring_bytes (tag), 1};
    meshq_amqp_send_method (self->conn, self->number, AMQP_BASIC_CANCEL_METHOD,
                            &cancel);
}

static void
s_closed (void *arg, meshq_session_t *session)
{
    (void)session;
    meshq_amqp_channel_t *self = arg;
    self->session = NULL;
}

const meshq_front_t meshq_amqp_front = {s_send, s_cancelled, s_closed};

// --------------------------------------------------------------------
//  Channels

static meshq_amqp_channel_t *
s_channel_new (meshq_amqp_conn_t *conn, uint16_t number)
{
    meshq_amqp_channel_t *self = calloc (1, sizeof *self);
    assert (self);
    self->conn = conn;
    self->number = number;
    self->consumers = zhashx_new ();
    zhashx_set_destructor (self->consumers, meshq_free_item);
    init_amqp_pool (&self->pool, 4096);
    meshq_buf_init (&self->body);
    meshq_vhost_t *vhost = conn->owner->vhost;
    self->session = meshq_engine_front_open (
        conn->engine, &meshq_amqp_front, self, conn->user, vhost, conn->owner);
    return self;
}

void
meshq_amqp_channel_destroy (meshq_amqp_channel_t **self_p)
{
    meshq_amqp_channel_t *self = *self_p;
    if (!self)
        return;
    s_pause (self, false);
    if (self->session)
        meshq_engine_front_close (self->conn->engine, self->session);
    meshq_amqp_basic_release (self);
    zhashx_destroy (&self->consumers);
    empty_amqp_pool (&self->pool);
    meshq_buf_fini (&self->body);
    free (self);
    *self_p = NULL;
}

void
meshq_amqp_channel_event (meshq_amqp_conn_t *conn,
                          const meshq_amqp_event_t *event)
{
    uint16_t number = event->channel;
    if (number > conn->channel_max) {
        meshq_amqp_close (conn, AMQP_CHANNEL_ERROR, 0,
                          "channel %u is above channel_max %u", number,
                          conn->channel_max);
        return;
    }
    meshq_amqp_channel_t *self = conn->channels[number];
    amqp_method_number_t id =
        event->type == MESHQ_AMQP_METHOD ? event->method.id : 0;
    if (!self) {
        if (id != AMQP_CHANNEL_OPEN_METHOD) {
            meshq_amqp_close (conn, AMQP_CHANNEL_ERROR, id,
                              "channel %u is not open", number);
            return;
        }
        conn->channels[number] = s_channel_new (conn, number);
        amqp_channel_open_ok_t ok = {amqp_empty_bytes};
        meshq_amqp_send_method (conn, number, AMQP_CHANNEL_OPEN_OK_METHOD, &ok);
        return;
    }
    if (self->state == MESHQ_AMQP_CH_CLOSING) {
        //  Only the end of the close counts now.
        if (id == AMQP_CHANNEL_CLOSE_OK_METHOD ||
            id == AMQP_CHANNEL_CLOSE_METHOD) {
            if (id == AMQP_CHANNEL_CLOSE_METHOD) {
                amqp_channel_close_ok_t ok = {0};
                meshq_amqp_send_method (conn, number,
                                        AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
            }
            meshq_amqp_channel_destroy (&conn->channels[number]);
        }
        return;
    }
    if (event->type != MESHQ_AMQP_METHOD) {
        meshq_amqp_basic_content (self, event);
        return;
    }
    if (self->content) {
        meshq_amqp_close (conn, AMQP_UNEXPECTED_FRAME, id,
                          "%s while a message's content is expected",
                          amqp_method_name (id));
        return;
    }
    switch (id >> 16) {
        case AMQP_CHANNEL_CLASS:
            if (id == AMQP_CHANNEL_CLOSE_METHOD) {
                amqp_channel_close_ok_t ok = {0};
                meshq_amqp_send_method (conn, number,
                                        AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
                meshq_amqp_channel_destroy (&conn->channels[number]);
            } else if (id == AMQP_CHANNEL_FLOW_METHOD) {
                //  Flow control by the client is not implemented.
                meshq_amqp_close (conn, AMQP_NOT_IMPLEMENTED, id,
                                  "channel.flow is not implemented");
            } else if (id == AMQP_CHANNEL_OPEN_METHOD)
                meshq_amqp_close (conn, AMQP_CHANNEL_ERROR, id,
                                  "channel %u is open already", number);
            else
                meshq_amqp_close (conn, AMQP_COMMAND_INVALID, id,
                                  "%s is not expected", amqp_method_name (id));
            break;
        case AMQP_EXCHANGE_CLASS:
        case AMQP_QUEUE_CLASS:
            meshq_amqp_queue_method (self, event);
            break;
        case AMQP_BASIC_CLASS:
        case AMQP_CONFIRM_CLASS:
            meshq_amqp_basic_method (self, event);
            break;
        default:
            //  tx, and what else the spec has that we do not.
            meshq_amqp_close (conn, AMQP_NOT_IMPLEMENTED, id,
                              "%s is not implemented", amqp_method_name (id));
    }
}
