/*  agent_interest.c - in a mesh too large for a link to every agent,
    which agents a queue's messages must reach.

    Up to the peers module's full_links members (64), every agent has a
    link to every other, and BACKLOG reaches them all. Beyond, links go
    to an overlay of about log2(N) members (discovery/peers_swim.c) and
    to those the agent wants. So that a queue's messages still reach its
    consumers anywhere:
      * an agent with consumers of a queue says so in a metadata record
        of its own, "c/" and hashes of the queue's name and of its node
        id, holding the queue's name and its node id (not durable: it is
        never stored, and a tombstone replaces it when the last
        consumer goes, or when its queue is gone);
      * records spread as all metadata does: to linked peers, and in
        a large mesh on from each agent a record is new to
        (meshq_mesh_interest_forward), so over the overlay to all;
      * an agent with ready messages in a queue wants a link to each
        agent whose record says it consumes it; once up, BACKLOG and
        GRANT flow over it as in a small mesh.
    An agent that restarts without consumers finds its old records as
    they come back from its peers, and ends them.
*/
#include "agent_mesh.h"
#include "codec_args.h"
#include "peers.h"

#include <sodium.h>

//  Writes the key of node's record about queue into key (67 bytes).
static void
s_key (char *key, const char *queue, const uint8_t *node)
{
    uint8_t hash[16];
    crypto_generichash (hash, sizeof hash, (const uint8_t *)queue,
                        strlen (queue), NULL, 0);
    key[0] = 'c';
    key[1] = '/';
    meshq_hex16 (hash, key + 2);
    key[34] = '\x1f';
    meshq_hex16 (node, key + 35);
}

//  Whether the queue has a consumer of this agent's own clients.
static bool
s_consumed_here (meshq_queue_t *queue)
{
    meshq_consumer_t *consumer = meshq_queue_consumers (queue);
    for (; consumer; consumer = consumer->next)
        if (!consumer->remote)
            return true;
    return false;
}

//  Writes (consumed) or ends our record about queue.
static void
s_write (meshq_vhost_t *vhost, const char *key, const char *queue,
         bool consumed)
{
    if (!consumed) {
        meshq_vhost_meta_note (vhost, key, NULL, false);
        return;
    }
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span (queue));
    memcpy (args.origin, vhost->engine->node_id, 16);
    MESHQ_ARGS_MARK (&args, ORIGIN);
    MESHQ_ARGS_SET (&args, DURABLE, durable, false);
    meshq_vhost_meta_note (vhost, key, &args, false);
}

//  Adds id to the ids (count of them, room for cap) if not there.
static void
s_add_id (uint8_t (**ids)[16], size_t *count, size_t *cap, const uint8_t *id)
{
    for (size_t i = 0; i < *count; i++)
        if (memcmp ((*ids)[i], id, 16) == 0)
            return;
    if (*count == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *ids = realloc (*ids, *cap * 16);
        assert (*ids);
    }
    memcpy ((*ids)[(*count)++], id, 16);
}

//  Wants the links that carry work in flight, so that neither side
//  closes them as idle (discovery/peers_unlink.c): deliveries a peer
//  has not settled, publishes it has not confirmed, and origins whose
//  backlog or credit our consumers count on. Collected first: a want
//  may bring a link up or down, which changes the sessions.
static void
s_want_busy (meshq_vhost_t *vhost)
{
    uint8_t (*ids)[16] = NULL;
    size_t count = 0, cap = 0;
    meshq_session_t *session = zhashx_first (vhost->peer_sessions);
    for (; session; session = zhashx_next (vhost->peer_sessions))
        if (session->head || session->pending)
            s_add_id (&ids, &count, &cap, session->id);
    meshq_queue_t *queue = zhashx_first (vhost->queues);
    for (; queue; queue = zhashx_next (vhost->queues)) {
        meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
        if (!qmesh || !qmesh->origins)
            continue;
        meshq_origin_t *origin = zhashx_first (qmesh->origins);
        for (; origin; origin = zhashx_next (qmesh->origins))
            if (origin->backlog || origin->outstanding)
                s_add_id (&ids, &count, &cap, origin->id);
    }
    for (size_t i = 0; i < count; i++)
        meshq_peers_want (vhost->peers, ids[i]);
    free (ids);
}

void
meshq_mesh_interest_tick (meshq_engine_t *self, meshq_vhost_t *vhost)
{
    if (!vhost->peers || !meshq_peers_partial (vhost->peers))
        return;
    const uint8_t *me = self->node_id;
    char key[68];
    //  Our records as they should be.
    meshq_queue_t *queue = zhashx_first (vhost->queues);
    for (; queue; queue = zhashx_next (vhost->queues)) {
        const char *name = meshq_queue_name (queue);
        s_key (key, name, me);
        meshq_meta_entry_t *entry = zhashx_lookup (vhost->meta, key);
        bool consumed = s_consumed_here (queue);
        if (consumed != (entry && entry->present))
            s_write (vhost, key, name, consumed);
    }
    //  Records of others that our backlog wants, and ours that name a
    //  queue we do not have. Collected first: writing changes the table.
    zlistx_t *stale = NULL;
    meshq_meta_entry_t *entry = zhashx_first (vhost->meta);
    for (; entry; entry = zhashx_next (vhost->meta)) {
        const char *at = zhashx_cursor (vhost->meta);
        if (at[0] != 'c' || at[1] != '/' || !entry->present)
            continue;
        meshq_args_t args;
        if (meshq_codec_decode_args (entry->data, entry->size, &args, NULL) ||
            !MESHQ_ARGS_HAS (&args, QUEUE) || !MESHQ_ARGS_HAS (&args, ORIGIN))
            continue;
        char name[MESHQ_MAX_SHORTSTR + 1];
        snprintf (name, sizeof name, "%.*s", (int)args.queue.size,
                  args.queue.data);
        queue = zhashx_lookup (vhost->queues, name);
        if (memcmp (args.origin, me, 16) == 0) {
            if (!queue || !s_consumed_here (queue)) {
                if (!stale) {
                    stale = zlistx_new ();
                    zlistx_set_destructor (stale,
                                           (zlistx_destructor_fn *)zstr_free);
                    zlistx_set_duplicator (stale,
                                           (zlistx_duplicator_fn *)strdup);
                }
                zlistx_add_end (stale, (void *)at);
            }
        } else if (queue && meshq_queue_ready (queue))
            meshq_peers_want (vhost->peers, args.origin);
    }
    if (stale) {
        for (char *at = zlistx_first (stale); at; at = zlistx_next (stale))
            meshq_vhost_meta_note (vhost, at, NULL, false);
        zlistx_destroy (&stale);
    }
    s_want_busy (vhost);
}

void
meshq_mesh_interest_forward (meshq_engine_t *self, meshq_session_t *from,
                             const char *key)
{
    meshq_vhost_t *vhost = from->vhost;
    if (!vhost->peers || !meshq_peers_partial (vhost->peers))
        return;
    meshq_meta_entry_t *entry = zhashx_lookup (vhost->meta, key);
    if (!entry)
        return;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, META_KEY, meta_key, meshq_span (key));
    MESHQ_ARGS_SET (&args, META_VERSION, meta_version, entry->version);
    meshq_session_t *session = zhashx_first (vhost->peer_sessions);
    for (; session; session = zhashx_next (vhost->peer_sessions))
        if (session != from)
            meshq_engine_send (self, session, "META", &args,
                               entry->present ? entry->data : NULL,
                               entry->size);
}
