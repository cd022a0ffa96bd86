/*  client_call.c - the client's one DEALER: sending, receiving, and
    requests that wait for their answer. See client_internal.h.

    A request waits for its OK or ERROR, matched by rid. Frames that
    arrive meanwhile (deliveries, confirms, returns, flow control) are
    handled as they come, so a wait is also how they are received.
    Acks held back go out before every wait: the agent may be waiting
    for them to send more. Publishes held back go out before every wait
    and before any other command, so that none waits in the client
    while it does something else.
*/
#include "client_internal.h"
#include "codec_args.h"
#include "parts.h"

#include <errno.h>

//  Sends a command with its arguments and, optionally, an envelope.
int
meshq_client_send (meshq_client_t *self, const char *verb,
                   const meshq_args_t *args, const void *envelope, size_t size)
{
    if (self->publish_count && strcmp (verb, "PUBLISH") != 0) {
        int rc = meshq_client_flush_publishes (self);
        if (rc)
            return rc;
    }
    meshq_buf_reset (&self->args_buf);
    const char *why = NULL;
    int rc = meshq_codec_encode_args (args, &self->args_buf, &why);
    if (rc) {
        meshq_client_set_error (self, "%s", why);
        return rc;
    }
    void *handle = zsock_resolve (self->dealer);
    bool more = envelope != NULL;
    if (more && self->one_frame && size <= MESHQ_CLIENT_ONE_FRAME_MAX) {
        //  One frame, not three: one send, one queue entry for libzmq's
        //  I/O threads and one frame for the agent to read. Larger
        //  envelopes go as their own frame rather than be copied twice.
        size_t verb_size = strlen (verb);
        meshq_buf_reset (&self->frame_buf);
        if (meshq_buf_reserve (&self->frame_buf,
                               verb_size + self->args_buf.size + size))
            return MESHQ_ENOMEM;
        meshq_buf_append (&self->frame_buf, verb, verb_size);
        meshq_buf_append (&self->frame_buf, self->args_buf.data,
                          self->args_buf.size);
        meshq_buf_append (&self->frame_buf, envelope, size);
        int rc =
            zmq_send (handle, self->frame_buf.data, self->frame_buf.size, 0);
        if (rc < 0) {
            meshq_client_set_error (self, "cannot send to the agent: %s",
                                    zmq_strerror (zmq_errno ()));
            return MESHQ_ECONNLOST;
        }
        return 0;
    }
    if (zmq_send (handle, verb, strlen (verb), ZMQ_SNDMORE) < 0 ||
        zmq_send (handle, self->args_buf.data, self->args_buf.size,
                  more ? ZMQ_SNDMORE : 0) < 0 ||
        (more && zmq_send (handle, envelope, size, 0) < 0)) {
        meshq_client_set_error (self, "cannot send to the agent: %s",
                                zmq_strerror (zmq_errno ()));
        return MESHQ_ECONNLOST;
    }
    return 0;
}

//  Handles one frame that is not the answer to a pending request; body
//  is frame 3 (NULL if the frame has none).
static void
s_handle (meshq_client_t *self, const char *verb, const meshq_args_t *args,
          const void *body, size_t size)
{
    if (streq (verb, "DELIVER") && body)
        meshq_client_deliver (self, args, body, size);
    else if (streq (verb, "CONFIRM")) {
        if (args->upto > self->confirmed)
            self->confirmed = args->upto;
    } else if (streq (verb, "NACK")) {
        if (!self->nack_code) {
            self->nack_code = args->code ? (int)args->code : MESHQ_EIO;
            meshq_client_copy_span (self->error, sizeof self->error, args->why);
        }
    } else if (streq (verb, "RETURN") && body) {
        meshq_msg_t *msg = NULL;
        if (meshq_msg_decode (body, size, SIZE_MAX, &msg, NULL) == 0 &&
            self->return_fn)
            self->return_fn (self, msg, self->return_arg);
        meshq_msg_destroy (&msg);
    } else if (streq (verb, "BLOCKED")) {
        self->blocked = true;
        meshq_client_copy_span (self->error, sizeof self->error, args->why);
    } else if (streq (verb, "UNBLOCKED"))
        self->blocked = false;
    else if (streq (verb, "PAUSE"))
        self->paused = true;
    else if (streq (verb, "RESUME"))
        self->paused = false;
    else if (streq (verb, "ERROR")) {
        //  An answer to no request: an ack of an unknown delivery, say.
        meshq_client_copy_span (self->error, sizeof self->error, args->why);
    }
}

//  Handles up to 1000 frames that are there, straight from the socket,
//  with no zmsg or string per frame. If rid is not 0 and its answer
//  comes, returns 1 with *reply_p set; else 0.
static int
s_drain (meshq_client_t *self, uint64_t rid, zmsg_t **reply_p)
{
    void *handle = zsock_resolve (self->dealer);
    for (int n = 0; n < 1000; n++) {
        zmq_msg_t parts[3];
        int total;
        int count = meshq_parts_recv (handle, parts, 3, &total);
        if (total == 0)
            break;
        char verb[32];
        size_t verb_size = count ? zmq_msg_size (&parts[0]) : 0;
        meshq_args_t args;
        bool valid = count >= 2 && total <= 3 && verb_size > 0 &&
                     verb_size < sizeof verb &&
                     meshq_codec_decode_args (zmq_msg_data (&parts[1]),
                                              zmq_msg_size (&parts[1]), &args,
                                              NULL) == 0;
        if (valid) {
            memcpy (verb, zmq_msg_data (&parts[0]), verb_size);
            verb[verb_size] = 0;
        }
        bool answer = valid && (streq (verb, "OK") || streq (verb, "ERROR"));
        if (answer && self->sync_rid && args.rid == self->sync_rid) {
            //  The agent has read what was sent before the SYNC. An agent
            //  that does not know SYNC says so, as late: as good.
            self->sync_rid = 0;
            for (int i = 0; i < count; i++)
                zmq_msg_close (&parts[i]);
            continue;
        }
        if (answer && rid && args.rid == rid) {
            zmsg_t *reply = zmsg_new ();
            for (int i = 0; i < count; i++)
                zmsg_addmem (reply, zmq_msg_data (&parts[i]),
                             zmq_msg_size (&parts[i]));
            for (int i = 0; i < count; i++)
                zmq_msg_close (&parts[i]);
            *reply_p = reply;
            return 1;
        }
        if (valid)
            s_handle (self, verb, &args,
                      count == 3 ? zmq_msg_data (&parts[2]) : NULL,
                      count == 3 ? zmq_msg_size (&parts[2]) : 0);
        for (int i = 0; i < count; i++)
            zmq_msg_close (&parts[i]);
    }
    return 0;
}

void
meshq_client_drain (meshq_client_t *self)
{
    s_drain (self, 0, NULL);
    meshq_client_flush_acks (self);
}

//  Receives and handles what arrives within timeout_ms. If rid is not 0
//  and its answer arrives, returns 1 with *reply_p set. Returns 0 on
//  timeout, or MESHQ_ECONNLOST.
int
meshq_client_poll (meshq_client_t *self, int timeout_ms, uint64_t rid,
                   zmsg_t **reply_p)
{
    //  About to wait for the agent: it must have our publishes and acks
    //  first, or it may be waiting for them to send more.
    int rc = meshq_client_flush_publishes (self);
    if (rc)
        return rc;
    meshq_client_flush_acks (self);
    meshq_client_flush_credit (self);
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : zclock_mono () + timeout_ms;
    while (true) {
        if (self->lost) {
            meshq_client_set_error (self, "the agent at %s stopped answering",
                                    self->endpoint);
            return MESHQ_ECONNLOST;
        }
        int64_t left = deadline - zclock_mono ();
        if (left < 0)
            return 0;
        zsock_t *which = zpoller_wait (
            self->poller, left > INT32_MAX ? INT32_MAX : (int)left);
        if (!which) {
            //  A signal the application handles interrupts the wait
            //  (EINTR); only a terminated context ends it.
            if (zpoller_terminated (self->poller)) {
                if (errno == EINTR) {
                    meshq_client_set_error (self, "interrupted by a signal");
                    return MESHQ_EINTR;
                }
                meshq_client_set_error (self,
                                        "the ZeroMQ context was terminated");
                return MESHQ_ECONNLOST;
            }
            continue;
        }
        if (which == (zsock_t *)self->monitor) {
            zmsg_t *event = zmsg_recv (which);
            char *name = event ? zmsg_popstr (event) : NULL;
            bool refused = name && streq (name, "HANDSHAKE_FAILED_AUTH");
            //  The ZAP status: 300 is a refusal for now (the agent's
            //  login checks are full, or this address failed too often).
            char *status = refused ? zmsg_popstr (event) : NULL;
            bool later = status && streq (status, "300");
            zstr_free (&status);
            zstr_free (&name);
            zmsg_destroy (&event);
            if (later) {
                meshq_client_set_error (
                    self,
                    "login refused for now by the agent at %s for user "
                    "'%s': it is busy checking other logins, or too many "
                    "failed from here; try again later",
                    self->endpoint, self->user);
                return MESHQ_EAGAIN;
            }
            if (refused) {
                //  The agent does not say why; guest over tcp:// is the
                //  one refusal a right password gets.
                bool guest = streq (self->user, "guest") &&
                             strncmp (self->endpoint, "tcp://", 6) == 0;
                meshq_client_set_error (
                    self,
                    "login refused by the agent at %s for user "
                    "'%s': %s",
                    self->endpoint, self->user,
                    guest ? "wrong password, or guest over tcp:// "
                            "(guest may connect only over ipc:// "
                            "and inproc://)"
                          : "wrong user or password");
                return MESHQ_EACCESS;
            }
            continue;
        }
        if (which != self->dealer) {
            char *event = zstr_recv (which);
            self->lost = event && streq (event, "LOST");
            zstr_free (&event);
            continue;
        }
        //  Drain what is there before waiting again.
        if (s_drain (self, rid, reply_p))
            return 1;
        //  Acks made while draining (a no-ack consumer's, on receipt) go
        //  now: the agent can send the next batch while the application
        //  works through this one.
        meshq_client_flush_acks (self);
        if (!rid)
            return 0;
    }
}

int
meshq_client_call (meshq_client_t *self, const char *verb, meshq_args_t *args,
                   zmsg_t **reply_p)
{
    assert (self);
    *reply_p = NULL;
    if (!self->dealer) {
        meshq_client_set_error (
            self, "not connected: call meshq_client_connect first");
        return MESHQ_ESTATE;
    }
    MESHQ_ARGS_SET (args, RID, rid, ++self->next_rid);
    //  Acks held back go first, so the agent sees them in order.
    int rc = meshq_client_flush_acks (self);
    if (rc == 0)
        rc = meshq_client_send (self, verb, args, NULL, 0);
    if (rc)
        return rc;
    zmsg_t *reply = NULL;
    rc = meshq_client_poll (self, self->timeout_ms, args->rid, &reply);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        meshq_client_set_error (self,
                                "no answer from the agent at %s within %d ms",
                                self->endpoint, self->timeout_ms);
        return MESHQ_ETIMEOUT;
    }
    zframe_t *status = zmsg_first (reply);
    zframe_t *results = zmsg_next (reply);
    if (zframe_streq (status, "OK")) {
        *reply_p = reply;
        return 0;
    }
    meshq_args_t error;
    meshq_codec_decode_args (zframe_data (results), zframe_size (results),
                             &error, NULL);
    meshq_client_copy_span (self->error, sizeof self->error, error.why);
    rc = error.code < 0 ? (int)error.code : MESHQ_EINVAL;
    zmsg_destroy (&reply);
    return rc;
}

//  A request whose answer carries only status: decodes the results into
//  *results when not NULL (strings stay valid until the next call).
int
meshq_client_request (meshq_client_t *self, const char *verb,
                      meshq_args_t *args, meshq_args_t *results)
{
    zmsg_destroy (&self->last_reply);
    int rc = meshq_client_call (self, verb, args, &self->last_reply);
    if (rc == 0 && results) {
        zmsg_first (self->last_reply);
        zframe_t *frame = zmsg_next (self->last_reply);
        meshq_codec_decode_args (zframe_data (frame), zframe_size (frame),
                                 results, NULL);
    }
    return rc;
}
