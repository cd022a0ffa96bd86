/*  agent_interest.c - which agents consume a queue, so that its backlog
    is told to them and to no other.

    An agent with consumers of a queue says so in a metadata record of
    its own, "c/" and hashes of the queue's name and of its node id,
    holding the queue's name and its node id (not durable: it is never
    stored, and a tombstone replaces it when the last consumer goes, or
    when its queue is gone). It writes it at the turn its first consumer
    comes, at every mesh size, and announces INTEREST in its HELLO to
    say so. Then:
      * an agent with ready messages in the queue tells BACKLOG to the
        agents whose records say they consume it, and to older agents
        (no INTEREST) as before, never to the others; a record that
        comes while it has a backlog has it told at once, and one that
        ends has that agent told the backlog ended (agent_mesh.c);
      * records spread as all metadata does: to linked peers, and in a
        mesh past the peers module's full_links (64) on from each agent
        a record is new to (meshq_mesh_interest_forward), so over the
        overlay to all;
      * past full_links, where links go only to an overlay of about
        log2(N) members (discovery/peers_links.c) and to those an agent
        wants, the agent with the backlog wants a link to each agent
        whose record names the queue; once up, BACKLOG and GRANT flow
        over it as in a small mesh.
    An agent that restarts without consumers finds its old records as
    they come back from its peers, and ends them; one whose record a
    newer tombstone ended while it still has consumers writes it again.
*/
#include "agent_mesh.h"
#include "codec_args.h"
#include "peers.h"

#include <sodium.h>

void
meshq_mesh_interest_prefix (const char *queue, char *prefix)
{
    uint8_t hash[16];
    crypto_generichash (hash, sizeof hash, (const uint8_t *)queue,
                        strlen (queue), NULL, 0);
    prefix[0] = 'c';
    prefix[1] = '/';
    meshq_hex16 (hash, prefix + 2);
    prefix[34] = '\x1f';
    prefix[35] = 0;
}

//  Writes the key of node's record about queue into key (67 bytes).
static void
s_key (char *key, const char *queue, const uint8_t *node)
{
    meshq_mesh_interest_prefix (queue, key);
    meshq_hex16 (node, key + 35);
}

bool
meshq_mesh_interested (meshq_vhost_t *vhost, const char *prefix,
                       const meshq_session_t *session)
{
    if (!session->link.records)
        return true;
    char key[68];
    memcpy (key, prefix, 35);
    meshq_hex16 (session->id, key + 35);
    meshq_meta_entry_t *entry = zhashx_lookup (vhost->meta, key);
    return entry && entry->present;
}

//  Whether the queue has a consumer of this agent's own clients.
static bool
s_consumed_here (meshq_queue_t *queue)
{
    return meshq_queue_local_consumers (queue) > 0;
}

//  Writes (consumed) or ends our record about queue.
static void
s_write (meshq_vhost_t *vhost, const char *key, const char *queue,
         bool consumed)
{
    meshq_queue_t *known = zhashx_lookup (vhost->queues, queue);
    if (known && (consumed || meshq_qmesh (known, false)))
        meshq_qmesh (known, true)->recorded = consumed;
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
meshq_mesh_interest_note (meshq_vhost_t *vhost, meshq_queue_t *queue)
{
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
    bool consumed = s_consumed_here (queue);
    if (consumed == (qmesh && qmesh->recorded))
        return;
    char key[68];
    const char *name = meshq_queue_name (queue);
    s_key (key, name, vhost->engine->node_id);
    s_write (vhost, key, name, consumed);
}

void
meshq_mesh_interest_tick (meshq_engine_t *self, meshq_vhost_t *vhost)
{
    if (!vhost->peers)
        return;
    bool partial = meshq_peers_partial (vhost->peers);
    const uint8_t *me = self->node_id;
    //  Our records as they should be (written at the turn, unless the
    //  vhost had no peer up then). The queues are listed first: writing
    //  a record walks the queues too (the cursor is the table's).
    size_t count = zhashx_size (vhost->queues), n = 0;
    meshq_queue_t **queues = malloc ((count + 1) * sizeof *queues);
    assert (queues);
    meshq_queue_t *queue = zhashx_first (vhost->queues);
    for (; queue && n < count; queue = zhashx_next (vhost->queues))
        queues[n++] = queue;
    for (size_t i = 0; i < n; i++)
        meshq_mesh_interest_note (vhost, queues[i]);
    free (queues);
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
        } else if (partial && queue && meshq_queue_ready (queue))
            meshq_peers_want (vhost->peers, args.origin);
    }
    if (stale) {
        for (char *at = zlistx_first (stale); at; at = zlistx_next (stale))
            meshq_vhost_meta_note (vhost, at, NULL, false);
        zlistx_destroy (&stale);
    }
    if (partial)
        s_want_busy (vhost);
}

//  A consumer record new here. Ours (from before a restart, or ended by
//  an older start of ours) is made to say what our consumers say;
//  another's has its queue's backlog told again (the queue is only a
//  hash in a tombstone's key: then each queue with peers told), and
//  past full links wants a link to its agent if we have a backlog.
static void
s_heard (meshq_engine_t *self, meshq_vhost_t *vhost,
         const meshq_meta_entry_t *entry, const char *key)
{
    bool mine =
        strlen (key) == 67 && memcmp (key + 35, self->node_hex, 32) == 0;
    meshq_queue_t *queue;
    if (!entry->present) {
        //  Ours ended: written again after the walk, not during it
        //  (writing a record walks the queues too, and the walk would
        //  start over, writing it again and again).
        meshq_queue_t *again = NULL;
        for (queue = zhashx_first (vhost->queues); queue;
             queue = zhashx_next (vhost->queues)) {
            meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
            if (!mine && qmesh && qmesh->told && zhashx_size (qmesh->told))
                qmesh->retell = true;
            if (mine && !again && qmesh && qmesh->recorded) {
                char prefix[36];
                meshq_mesh_interest_prefix (meshq_queue_name (queue), prefix);
                if (memcmp (prefix, key, 35) == 0)
                    again = queue;
            }
        }
        if (again) {
            meshq_qmesh (again, true)->recorded = false;
            meshq_mesh_interest_note (vhost, again);
        }
        return;
    }
    meshq_args_t args;
    if (meshq_codec_decode_args (entry->data, entry->size, &args, NULL) ||
        !MESHQ_ARGS_HAS (&args, QUEUE) || !MESHQ_ARGS_HAS (&args, ORIGIN))
        return;
    char name[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (name, args.queue);
    queue = zhashx_lookup (vhost->queues, name);
    if (mine) {
        if (!queue || !s_consumed_here (queue))
            s_write (vhost, key, name, false);
        else
            meshq_qmesh (queue, true)->recorded = true;
        return;
    }
    if (!queue)
        return;
    meshq_qmesh (queue, true)->retell = true;
    if (meshq_peers_partial (vhost->peers) && meshq_queue_ready (queue))
        meshq_peers_want (vhost->peers, args.origin);
}

void
meshq_mesh_interest_forward (meshq_engine_t *self, meshq_session_t *from,
                             const char *key)
{
    meshq_vhost_t *vhost = from->vhost;
    if (!vhost->peers)
        return;
    meshq_meta_entry_t *entry = zhashx_lookup (vhost->meta, key);
    if (!entry)
        return;
    if (key[0] == 'c' && key[1] == '/') {
        s_heard (self, vhost, entry, key);
        //  Ours written again replaced the entry (and went to all).
        entry = zhashx_lookup (vhost->meta, key);
    }
    if (!entry || !meshq_peers_partial (vhost->peers))
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
