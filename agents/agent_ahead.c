/*  agent_ahead.c - read-ahead at a consumer's agent.

    Credit that B grants an origin comes out of its consumers' free
    prefetch, so with only that, a consumer's window spans the whole
    round: its ack goes to B, on to A, A's next delivery comes back
    through B. On loopback that round, not the work, bounds a consumer
    with prefetch 100 (docs/SEMANTICS.md, "Across the mesh").

    So B also asks for some messages ahead: up to read_ahead percent of
    its local consumers' prefetch. What arrives with no consumer slot
    free is held here, in arrival order, and goes to the next slot that
    frees, before anything else; B's own backlog, if it has one, may use
    the free slots that the messages still coming do not need. Every
    consumer then has the same window, whether its agent has a backlog
    of the queue or not, which keeps dispatch balanced. A consumer still never holds more than its prefetch;
    the messages held are in flight to B at their origin, which requeues
    them if B goes down. Consumers with prefetch 1 ask for fair dispatch
    of long jobs (a message waiting behind a busy worker while another
    worker is idle is what they must not get), so they count for none.
*/
#include "agent_mesh.h"
#include "codec_args.h"

//  Local consumers' free slots, and the read-ahead they ask for.
static void
s_local (meshq_engine_t *self, meshq_queue_t *queue, uint64_t *free_slots,
         uint64_t *ahead)
{
    *free_slots = 0;
    *ahead = 0;
    meshq_consumer_t *consumer = meshq_queue_consumers (queue);
    for (; consumer; consumer = consumer->next) {
        if (consumer->remote)
            continue;
        if (consumer->prefetch > consumer->unacked)
            *free_slots += consumer->prefetch - consumer->unacked;
        if (consumer->prefetch > 1)
            *ahead += (uint64_t)consumer->prefetch *
                      self->config.read_ahead_percent / 100;
    }
}

static size_t
s_held (meshq_qmesh_t *qmesh)
{
    return qmesh && qmesh->held ? zlistx_size (qmesh->held) : 0;
}

uint32_t
meshq_ahead_grantable (meshq_engine_t *self, meshq_queue_t *queue)
{
    uint64_t free_slots, ahead;
    s_local (self, queue, &free_slots, &ahead);
    uint64_t room = free_slots + ahead;
    uint64_t used =
        meshq_queue_reserved (queue) + s_held (meshq_qmesh (queue, false));
    if (room <= used)
        return 0;
    return room - used > UINT32_MAX ? UINT32_MAX : (uint32_t)(room - used);
}

//  Lets go of a held entry.
static void
s_free (meshq_engine_t *self, meshq_entry_t *entry)
{
    meshq_blob_unref (&entry->blob);
    meshq_engine_entry_free (self, entry);
}

void
meshq_ahead_give_back (meshq_engine_t *self, meshq_vhost_t *vhost,
                       meshq_entry_t *entry)
{
    meshq_session_t *origin = meshq_mesh_peer_session (vhost, entry->origin);
    if (origin) {
        meshq_args_t nack;
        memset (&nack, 0, sizeof nack);
        MESHQ_ARGS_SET (&nack, DTAG, dtag, entry->origin_dtag);
        MESHQ_ARGS_SET (&nack, REQUEUE, requeue, true);
        //  No consumer here had it: the hand-off does not count.
        MESHQ_ARGS_SET (&nack, UNDELIVERED, undelivered, true);
        meshq_engine_send (self, origin, "NACK", &nack, NULL, 0);
    }
    //  A gone origin requeued it when it saw us go.
    s_free (self, entry);
}

bool
meshq_ahead_hold (meshq_engine_t *self, meshq_queue_t *queue,
                  meshq_entry_t *entry, bool credited)
{
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, true);
    if (!s_held (qmesh)) {
        if (meshq_queue_deliver_remote (queue, entry))
            return true;
        //  Held only on credit granted, so that a peer cannot make us
        //  hold more than we asked for.
        if (!credited || !meshq_queue_local_consumers (queue))
            return false;
    }
    if (!qmesh->held)
        qmesh->held = zlistx_new ();
    zlistx_add_end (qmesh->held, entry);
    meshq_ahead_release (self, queue);
    return true;
}

void
meshq_ahead_release (meshq_engine_t *self, meshq_queue_t *queue)
{
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
    if (s_held (qmesh)) {
        meshq_vhost_t *vhost = meshq_queue_host (queue);
        bool consumers = meshq_queue_local_consumers (queue) > 0;
        meshq_entry_t *entry;
        while ((entry = zlistx_first (qmesh->held))) {
            if (consumers && !meshq_queue_deliver_remote (queue, entry))
                break;
            zlistx_detach_cur (qmesh->held);
            //  With no consumer left here, back to its origin.
            if (!consumers)
                meshq_ahead_give_back (self, vhost, entry);
        }
    }
    //  What local dispatch may take of the slots reserved.
    uint64_t free_slots, ahead;
    s_local (self, queue, &free_slots, &ahead);
    meshq_queue_set_ahead (queue, (int64_t)ahead - (int64_t)s_held (qmesh));
}

void
meshq_ahead_drop (meshq_engine_t *self, meshq_queue_t *queue,
                  const uint8_t *origin)
{
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
    if (!s_held (qmesh))
        return;
    zlistx_t *kept = zlistx_new ();
    meshq_entry_t *entry;
    while ((entry = zlistx_detach (qmesh->held, NULL))) {
        if (!origin || memcmp (entry->origin, origin, 16) == 0)
            s_free (self, entry);
        else
            zlistx_add_end (kept, entry);
    }
    zlistx_destroy (&qmesh->held);
    qmesh->held = kept;
}

void
meshq_ahead_forget (meshq_engine_t *self, meshq_queue_t *queue)
{
    meshq_ahead_drop (self, queue, NULL);
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
    if (qmesh)
        zlistx_destroy (&qmesh->held);
}
