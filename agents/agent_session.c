/*  agent_session.c - the engine's sessions: a client's (opened by its
    HELLO, closed by BYE, a lost heartbeat, or a dead socket) and a
    peer's. Closing one requeues what it held, drops its consumers, and
    deletes its exclusive and auto-delete queues.
*/
#include "agent_internal.h"

#include <sodium.h>

// --------------------------------------------------------------------
//  Sessions

meshq_consumer_t *
meshq_engine_session_consumer (meshq_session_t *session, const char *tag)
{
    meshq_consumer_t *consumer = zlistx_first (session->consumers);
    while (consumer && !streq (consumer->tag, tag))
        consumer = zlistx_next (session->consumers);
    return consumer;
}

meshq_session_t *
meshq_engine_session_find (meshq_engine_t *self, const uint8_t *id)
{
    if (self->last_session && memcmp (self->last_session->id, id, 16) == 0)
        return self->last_session;
    char key[33];
    meshq_hex16 (id, key);
    meshq_session_t *session = zhashx_lookup (self->sessions, key);
    if (session)
        self->last_session = session;
    return session;
}

meshq_session_t *
meshq_engine_session_open (meshq_engine_t *self, const uint8_t *id,
                           const meshq_args_t *args, const char *user,
                           meshq_vhost_t *vhost)
{
    meshq_session_t *session = meshq_engine_session_find (self, id);
    if (session) {
        //  A second HELLO on a live session: it stays as it is.
        session->last_seen = zclock_mono ();
        return session;
    }
    session = calloc (1, sizeof *session);
    assert (session);
    memcpy (session->id, id, 16);
    session->vhost = vhost;
    snprintf (session->user, sizeof session->user, "%s", user);
    session->heartbeat_ms = args->heartbeat >= 10 && args->heartbeat <= 600000
                                ? (int)args->heartbeat
                                : 1000;
    session->last_seen = zclock_mono ();
    //  Deliveries several to a frame, if it said it takes them.
    session->batch = MESHQ_ARGS_HAS (args, BATCH) && args->batch > 1
                         ? (uint32_t)(args->batch < 4096 ? args->batch : 4096)
                         : 1;
    session->deliveries = meshq_map64_new ();
    session->consumers = zlistx_new ();
    char key[33];
    meshq_hex16 (id, key);
    zhashx_insert (self->sessions, key, session);
    return session;
}

meshq_session_t *
meshq_engine_front_open (meshq_engine_t *self, const meshq_front_t *front,
                         void *arg, const char *user, meshq_vhost_t *vhost,
                         meshq_session_t *connection)
{
    uint8_t id[16];
    do
        randombytes_buf (id, sizeof id);
    while (meshq_engine_session_find (self, id));
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    meshq_session_t *session =
        meshq_engine_session_open (self, id, &args, user, vhost);
    session->front = front;
    session->front_arg = arg;
    session->door = MESHQ_DOOR_AMQP;
    session->connection = connection;
    return session;
}

void
meshq_engine_front_close (meshq_engine_t *self, meshq_session_t *session)
{
    session->front = NULL;
    session->dead = true;
    meshq_engine_close_session (self, session);
}

void
meshq_engine_close_session (meshq_engine_t *self, meshq_session_t *session)
{
    if (session->front && session->front->closed) {
        //  Its door learns first, and sends nothing more to it.
        const meshq_front_t *front = session->front;
        session->front = NULL;
        front->closed (session->front_arg, session);
    }
    //  Unacked deliveries go back to the front of their queues.
    meshq_engine_requeue_session (self, session);
    meshq_consumer_t *consumer;
    while ((consumer = zlistx_detach (session->consumers, NULL))) {
        meshq_queue_t *queue = consumer->queue;
        meshq_queue_remove_consumer (queue, consumer);
        if (meshq_queue_args (queue)->auto_delete && !session->peer &&
            meshq_queue_local_consumers (queue) == 0)
            meshq_vhost_queue_delete (meshq_queue_host (queue), queue);
        else
            meshq_engine_mark_dirty (self, queue);
    }
    //  Exclusive queues die with their owner.
    zlistx_t *owned = zlistx_new ();
    meshq_queue_t *queue = zhashx_first (session->vhost->queues);
    while (queue) {
        if (meshq_queue_owner (queue) == session)
            zlistx_add_end (owned, queue);
        queue = zhashx_next (session->vhost->queues);
    }
    while ((queue = zlistx_detach (owned, NULL)))
        meshq_vhost_queue_delete (session->vhost, queue);
    zlistx_destroy (&owned);
    meshq_engine_forget_pending (self, session);
    if (self->last_session == session)
        self->last_session = NULL;
    char key[33];
    meshq_hex16 (session->id, key);
    zhashx_delete (self->sessions, key);
    meshq_map64_destroy (&session->deliveries);
    zlistx_destroy (&session->consumers);
    free (session->link.acks);
    free (session);
}

//  Removes every consumer of queue (it is going), from the sessions of
//  clients and peers.
static void
s_forget_in (zlistx_t *consumers, meshq_queue_t *queue)
{
    meshq_consumer_t *consumer = zlistx_first (consumers);
    while (consumer) {
        meshq_consumer_t *next = zlistx_next (consumers);
        if (consumer->queue == queue) {
            meshq_session_t *session = consumer->session;
            if (session->front && session->front->cancelled)
                session->front->cancelled (session->front_arg, session,
                                           consumer->tag);
            zlistx_delete (consumers, zlistx_find (consumers, consumer));
            meshq_queue_remove_consumer (queue, consumer);
        }
        consumer = next;
    }
}

void
meshq_engine_forget_consumers (meshq_engine_t *self, meshq_queue_t *queue)
{
    meshq_session_t *session = zhashx_first (self->sessions);
    for (; session; session = zhashx_next (self->sessions))
        s_forget_in (session->consumers, queue);
    meshq_vhost_t *vhost = meshq_queue_host (queue);
    session = zhashx_first (vhost->peer_sessions);
    for (; session; session = zhashx_next (vhost->peer_sessions))
        s_forget_in (session->consumers, queue);
}
