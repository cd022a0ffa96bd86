/*  agent_send.c - what the engine sends: frames to a client (on its
    ROUTER) or to a peer (through the mesh), and the replies to requests.
    A reply to a request that changed metadata waits for the commit that
    makes the change durable (meshq_engine_release_replies), so that an
    OK is never lost to a crash.
*/
#include "agent_internal.h"
#include "codec_args.h"

// --------------------------------------------------------------------
//  Sending

//  A frame for a client could not go out: the client is gone
//  (EHOSTUNREACH) or does not read (EAGAIN: client_hwm frames wait for
//  it). Either way its session ends at the end of the turn, and what it
//  held (unacked deliveries, unsent ones) goes back to its queues. A
//  client that keeps sending gets no answer and costs nothing more: its
//  replies are counted and dropped, and logged at most a few a tick.
static void
s_lost (meshq_engine_t *self, meshq_session_t *session, int error)
{
    self->unsent++;
    //  A throwaway session (an answer to a frame without one) is not in
    //  the table, and ends nothing.
    bool real = meshq_engine_session_find (self, session->id) == session;
    if (real && error == EAGAIN) {
        self->slow_clients++;
        meshq_engine_warn (self,
                           "agent: session closed user=%s reason=not reading "
                           "client_hwm=%u",
                           session->user, self->config.client_hwm);
    } else if (real)
        meshq_notice ("agent: session lost user=%s reason=%s", session->user,
                      zmq_strerror (error));
    else
        meshq_engine_warn (self,
                           "agent: reply dropped user=%s reason=%s "
                           "(no session)",
                           session->user, zmq_strerror (error));
    session->dead = true;
    meshq_engine_arm_turn (self);
}

int
meshq_engine_send_raw (meshq_engine_t *self, meshq_session_t *session,
                       const char *verb, const void *args, size_t args_size,
                       const void *body, size_t size)
{
    if (session->dead && !session->peer)
        self->unsent++;
    if (session->dead)
        return MESHQ_ECONNLOST;
    if (session->peer)
        return meshq_engine_mesh_send (self, session, verb, args, args_size,
                                       body, size);
    if (session->front) {
        //  Held replies come here encoded: the door takes them decoded.
        meshq_args_t decoded;
        if (meshq_codec_decode_args (args, args_size, &decoded, NULL))
            return MESHQ_EMALFORMED;
        int rc = session->front->send (session->front_arg, session, verb,
                                       &decoded, body, size);
        if (rc == 0)
            return 0;
        s_lost (self, session, rc == MESHQ_EAGAIN ? EAGAIN : EHOSTUNREACH);
        return MESHQ_ECONNLOST;
    }
    void *handle = zsock_resolve (self->router);
    int flags = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    //  Only the first part can fail: libzmq checks the peer and its
    //  high-water mark there, and takes the rest of the frame whole.
    if (zmq_send (handle, session->id, 16, flags) < 0 ||
        zmq_send (handle, verb, strlen (verb), flags) < 0 ||
        zmq_send (handle, args, args_size, body ? flags : ZMQ_DONTWAIT) < 0 ||
        (body && zmq_send (handle, body, size, ZMQ_DONTWAIT) < 0)) {
        s_lost (self, session, zmq_errno ());
        return MESHQ_ECONNLOST;
    }
    return 0;
}

int
meshq_engine_send (meshq_engine_t *self, meshq_session_t *session,
                   const char *verb, const meshq_args_t *args, const void *body,
                   size_t size)
{
    if (session->front && !session->dead) {
        int rc = session->front->send (session->front_arg, session, verb, args,
                                       body, size);
        if (rc == 0)
            return 0;
        //  Not read (EAGAIN), or its door is going.
        s_lost (self, session, rc == MESHQ_EAGAIN ? EAGAIN : EHOSTUNREACH);
        return MESHQ_ECONNLOST;
    }
    meshq_buf_reset (&self->buf);
    const char *why;
    int rc = meshq_codec_encode_args (args, &self->buf, &why);
    if (rc) {
        zsys_error ("agent: cannot encode %s: %s", verb, why);
        return rc;
    }
    return meshq_engine_send_raw (self, session, verb, self->buf.data,
                                  self->buf.size, body, size);
}

//  A reply that waits for the turn's commit.
typedef struct {
    uint8_t id[16];  //  The session's.
    bool ok;         //  OK, else ERROR.
    size_t size;     //  Bytes of args.
    uint8_t args[];  //  Encoded arguments.
} s_held_t;

//  Sends a reply, or holds it until the commit when this turn changed
//  metadata: a client told OK must find its declaration, user or
//  permission there after a SIGKILL.
static void
s_reply (meshq_engine_t *self, meshq_session_t *session, const char *verb,
         const meshq_args_t *args)
{
    //  A throwaway session (an answer to a frame without one: a refused
    //  HELLO, say) is not in the table, where the held reply would be
    //  looked for: it goes now. It confirms no change anyway.
    if (!self->hold_replies || session->peer ||
        meshq_engine_session_find (self, session->id) != session) {
        meshq_engine_send (self, session, verb, args, NULL, 0);
        return;
    }
    meshq_buf_reset (&self->buf);
    if (meshq_codec_encode_args (args, &self->buf, NULL))
        return;
    s_held_t *held = malloc (sizeof *held + self->buf.size);
    assert (held);
    memcpy (held->id, session->id, 16);
    held->ok = streq (verb, "OK");
    held->size = self->buf.size;
    memcpy (held->args, self->buf.data, self->buf.size);
    zlistx_add_end (self->held_replies, held);
}

//  Sends the replies held for the commit just made.
void
meshq_engine_release_replies (meshq_engine_t *self)
{
    self->hold_replies = false;
    s_held_t *held;
    while ((held = zlistx_detach (self->held_replies, NULL))) {
        meshq_session_t *session = meshq_engine_session_find (self, held->id);
        if (session)
            meshq_engine_send_raw (self, session, held->ok ? "OK" : "ERROR",
                                   held->args, held->size, NULL, 0);
        free (held);
    }
}

void
meshq_engine_reply_ok (meshq_engine_t *self, meshq_session_t *session,
                       meshq_args_t *results, uint64_t rid)
{
    meshq_args_t empty;
    if (!results) {
        memset (&empty, 0, sizeof empty);
        results = &empty;
    }
    MESHQ_ARGS_SET (results, RID, rid, rid);
    s_reply (self, session, "OK", results);
}

void
meshq_engine_reply_error (meshq_engine_t *self, meshq_session_t *session,
                          uint64_t rid, int code, const char *format, ...)
{
    char why[1024];
    va_list list;
    va_start (list, format);
    vsnprintf (why, sizeof why, format, list);
    va_end (list);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, rid);
    MESHQ_ARGS_SET (&args, CODE, code, code);
    MESHQ_ARGS_SET (&args, WHY, why, meshq_span (why));
    s_reply (self, session, "ERROR", &args);
}
