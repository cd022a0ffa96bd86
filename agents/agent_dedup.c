/*  agent_dedup.c - fewer duplicates after failures.

    Delivery is at least once: when an agent dies or is cut off, what it
    had in flight is delivered again, and some of that had been
    processed. Three things keep those duplicates few (docs/SEMANTICS.md):

      * Late acks. A consumer's agent that cannot pass an ack on to the
        message's origin (the origin is down, or cut off) keeps the
        message id and its queue, and when the origin is back sends it
        ACKED {q, dtags: the sequences} per queue, then one ACKED {}.
        The origin drops each such message of that queue that is still
        waiting to be delivered again: it was processed. (A sequence
        names a publish, and one publish may have a copy in several
        queues: only the queue's copy was acked.) Kept for ten minutes,
        at most 2^20 per origin and queue.
      * A queue's dedup window (dedup-window, ms). An agent remembers the
        ids of the messages acked through it for that long, and settles
        a delivery of one of them again as acked, not delivering it.
      * On such a queue, an origin holds what was in flight to a peer
        that went down until the peer is back and has said (ACKED) what
        it acked, or until the window passes, instead of delivering it
        again at once.

    What no agent can know stays a duplicate: a consumer that dies after
    its work and before its ack, or a consumer's agent killed with acks
    not yet passed on.
*/
#include "agent_mesh.h"
#include "codec_args.h"
#include "map64.h"

#include <inttypes.h>

//  How long a late ack is kept, and how many per origin.
#define S_LATE_MS  (10 * 60 * 1000)
#define S_LATE_MAX (1 << 20)

//  A message acked here lately (a queue's dedup window).
typedef struct {
    char key[56];   //  Origin hex and sequence.
    int64_t until;  //  Monotonic ms it is forgotten at.
} s_seen_t;

//  Acks for an origin that was away, of one queue.
typedef struct {
    uint8_t origin[16];                  //  The origin.
    char queue[MESHQ_MAX_SHORTSTR + 1];  //  The queue of the copies acked.
    uint64_t *seqs;                      //  Its message sequences.
    size_t count;                        //  Held.
    size_t capacity;                     //  Room.
    int64_t first_at;  //  When the first was kept, monotonic ms.
} s_late_t;

//  An entry held for a peer that went down with it.
typedef struct {
    meshq_entry_t *entry;  //  Out of the queue's lists.
    uint8_t peer[16];      //  Who had it.
    int64_t until;         //  Monotonic ms it goes back to the queue at.
} s_parked_t;

static void
s_late_destroy (void **item)
{
    s_late_t *late = *item;
    if (late) {
        free (late->seqs);
        free (late);
    }
    *item = NULL;
}

// --------------------------------------------------------------------
//  The dedup window

static void
s_seen_key (const uint8_t *origin, uint64_t seq, char *key)
{
    meshq_hex16 (origin, key);
    snprintf (key + 32, 24, ":%" PRIx64, seq);
}

bool
meshq_engine_dedup_seen (meshq_queue_t *queue, const uint8_t *origin,
                         uint64_t seq)
{
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
    if (!qmesh || !qmesh->seen)
        return false;
    char key[56];
    s_seen_key (origin, seq, key);
    return zhashx_lookup (qmesh->seen, key) != NULL;
}

void
meshq_engine_dedup_note (meshq_queue_t *queue, const uint8_t *origin,
                         uint64_t seq)
{
    int64_t window = meshq_queue_args (queue)->dedup_window;
    if (window <= 0)
        return;
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, true);
    if (!qmesh->seen) {
        qmesh->seen = zhashx_new ();
        qmesh->seen_order = zlistx_new ();
        zlistx_set_destructor (qmesh->seen_order, meshq_free_item);
    }
    s_seen_t *seen = calloc (1, sizeof *seen);
    assert (seen);
    s_seen_key (origin, seq, seen->key);
    seen->until = zclock_mono () + window;
    if (zhashx_insert (qmesh->seen, seen->key, seen) == 0)
        zlistx_add_end (qmesh->seen_order, seen);
    else
        free (seen);
}

// --------------------------------------------------------------------
//  Holding what a peer had

bool
meshq_engine_dedup_park (meshq_engine_t *self, meshq_session_t *session,
                         meshq_entry_t *entry)
{
    (void)self;
    int64_t window = meshq_queue_args (entry->queue)->dedup_window;
    //  Only what this agent owns, lent to a peer, on a queue with a
    //  window.
    if (!session->peer || entry->remote || window <= 0)
        return false;
    meshq_qmesh_t *qmesh = meshq_qmesh (entry->queue, true);
    if (!qmesh->parked) {
        qmesh->parked = zlistx_new ();
        zlistx_set_destructor (qmesh->parked, meshq_free_item);
    }
    s_parked_t *parked = calloc (1, sizeof *parked);
    assert (parked);
    parked->entry = entry;
    memcpy (parked->peer, session->id, 16);
    parked->until = zclock_mono () + window;
    zlistx_add_end (qmesh->parked, parked);
    return true;
}

//  Puts held entries back in their queue: those of peer (or any, if
//  NULL) whose time is up (or all, if now is 0); those in acked, if
//  given, are settled as acked instead, and with only_acked the others
//  stay held. Returns how many were acked.
static uint64_t
s_unpark (meshq_engine_t *self, meshq_queue_t *queue, const uint8_t *peer,
          int64_t now, meshq_map64_t *acked, bool only_acked)
{
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
    if (!qmesh || !qmesh->parked)
        return 0;
    uint64_t settled = 0;
    s_parked_t *parked = zlistx_first (qmesh->parked);
    while (parked) {
        bool mine = !peer || memcmp (parked->peer, peer, 16) == 0;
        if (mine && (now == 0 || parked->until <= now)) {
            meshq_entry_t *entry = parked->entry;
            if (acked && meshq_map64_lookup (acked, entry->seq)) {
                meshq_engine_entry_done (self, entry);
                settled++;
            } else if (only_acked) {
                parked = zlistx_next (qmesh->parked);
                continue;
            } else {
                meshq_queue_requeue (queue, entry);
                meshq_engine_mark_dirty (self, queue);
            }
            //  The cursor moves back one, so the walk goes on.
            free (zlistx_detach_cur (qmesh->parked));
            parked = zlistx_next (qmesh->parked);
        } else
            parked = zlistx_next (qmesh->parked);
    }
    return settled;
}

void
meshq_dedup_forget_queue (meshq_queue_t *queue)
{
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
    if (!qmesh)
        return;
    meshq_engine_t *engine =
        ((meshq_vhost_t *)meshq_queue_host (queue))->engine;
    s_parked_t *parked = qmesh->parked ? zlistx_first (qmesh->parked) : NULL;
    for (; parked; parked = zlistx_next (qmesh->parked)) {
        //  The queue and its records are going: no ack to store.
        meshq_blob_unref (&parked->entry->blob);
        meshq_engine_entry_free (engine, parked->entry);
    }
    zlistx_destroy (&qmesh->parked);
    zhashx_destroy (&qmesh->seen);
    zlistx_destroy (&qmesh->seen_order);
}

// --------------------------------------------------------------------
//  Late acks

void
meshq_dedup_late_ack (meshq_vhost_t *vhost, const uint8_t *origin,
                      const char *queue, uint64_t seq)
{
    if (!vhost->late_acks) {
        vhost->late_acks = zhashx_new ();
        zhashx_set_destructor (vhost->late_acks, s_late_destroy);
    }
    //  Origin hex, then the queue name.
    char key[33 + MESHQ_MAX_SHORTSTR + 1];
    meshq_hex16 (origin, key);
    snprintf (key + 32, sizeof key - 32, "/%s", queue);
    s_late_t *late = zhashx_lookup (vhost->late_acks, key);
    if (!late) {
        late = calloc (1, sizeof *late);
        assert (late);
        memcpy (late->origin, origin, 16);
        snprintf (late->queue, sizeof late->queue, "%s", queue);
        late->first_at = zclock_mono ();
        zhashx_insert (vhost->late_acks, key, late);
    }
    if (late->count == S_LATE_MAX)
        return;  //  Beyond this, duplicates it is.
    if (late->count == late->capacity) {
        late->capacity = late->capacity ? late->capacity * 2 : 256;
        late->seqs = realloc (late->seqs, late->capacity * sizeof (uint64_t));
        assert (late->seqs);
    }
    late->seqs[late->count++] = seq;
}

void
meshq_dedup_send_late (meshq_engine_t *self, meshq_session_t *session)
{
    meshq_vhost_t *vhost = session->vhost;
    if (!vhost->late_acks || zhashx_size (vhost->late_acks) == 0)
        return;
    size_t count = 0;
    s_late_t *late = zhashx_first (vhost->late_acks);
    while (late) {
        if (memcmp (late->origin, session->id, 16)) {
            late = zhashx_next (vhost->late_acks);
            continue;
        }
        meshq_args_t args;
        memset (&args, 0, sizeof args);
        MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span (late->queue));
        meshq_mesh_send_tags_of (self, session, "ACKED", &args, late->seqs,
                                 late->count);
        count += late->count;
        zhashx_delete (vhost->late_acks, zhashx_cursor (vhost->late_acks));
        late = zhashx_first (vhost->late_acks);
    }
    if (count)
        meshq_notice ("mesh: late acks sent vhost=%s peer=%s count=%zu",
                      vhost->name, session->user, count);
}

void
meshq_dedup_peer_up (meshq_engine_t *self, meshq_session_t *session)
{
    meshq_dedup_send_late (self, session);
    //  Then one ACKED with no queue, always: the peer may give back
    //  what it held for us.
    meshq_mesh_send_tags (self, session, "ACKED", NULL, 0);
}

typedef struct {
    meshq_map64_t *acked;  //  Sequences acked elsewhere.
} s_match_t;

static bool
s_acked (const meshq_entry_t *entry, void *arg)
{
    s_match_t *match = arg;
    return !entry->remote && meshq_map64_lookup (match->acked, entry->seq);
}

void
meshq_dedup_on_acked (meshq_engine_t *self, meshq_session_t *session,
                      const meshq_args_t *args)
{
    meshq_vhost_t *vhost = session->vhost;
    if (args->dtags.size % 8) {
        meshq_engine_bad_input (self,
                                "mesh: ACKED dropped peer=%s reason=tags not "
                                "a multiple of 8 bytes",
                                session->user);
        return;
    }
    if (!MESHQ_ARGS_HAS (args, QUEUE)) {
        //  The last of the peer's ACKED: what it did not say was acked
        //  goes back to its queues. Sequences with no queue (from an
        //  older agent) could name copies in other queues that no one
        //  acked: they are delivered again instead.
        if (args->dtags.size)
            meshq_engine_warn (self,
                               "mesh: late acks ignored vhost=%s peer=%s "
                               "count=%u reason=no queue named",
                               vhost->name, session->user,
                               args->dtags.size / 8);
        meshq_queue_t *queue = zhashx_first (vhost->queues);
        for (; queue; queue = zhashx_next (vhost->queues))
            s_unpark (self, queue, session->id, 0, NULL, false);
        return;
    }
    char name[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (name, args->queue);
    meshq_queue_t *queue = zhashx_lookup (vhost->queues, name);
    if (!queue || !args->dtags.size)
        return;
    s_match_t match = {meshq_map64_new ()};
    const uint8_t *bytes = (const uint8_t *)args->dtags.data;
    for (uint32_t i = 0; i + 8 <= args->dtags.size; i += 8) {
        uint64_t seq = 0;
        for (int b = 0; b < 8; b++)
            seq |= (uint64_t)bytes[i + (uint32_t)b] << (8 * b);
        meshq_map64_insert (match.acked, seq, (void *)1);
    }
    uint64_t dropped = meshq_queue_dispose_if (queue, s_acked, &match);
    uint64_t settled =
        s_unpark (self, queue, session->id, 0, match.acked, true);
    meshq_engine_note_disposed (self, queue, MESHQ_DISPOSED_DEDUP,
                                dropped + settled);
    meshq_notice ("mesh: late acks received vhost=%s peer=%s queue=%s "
                  "count=%u not redelivered=%" PRIu64,
                  vhost->name, session->user, name, args->dtags.size / 8,
                  dropped + settled);
    meshq_map64_destroy (&match.acked);
}

void
meshq_dedup_tick (meshq_engine_t *self, int64_t now)
{
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        meshq_queue_t *queue = zhashx_first (vhost->queues);
        for (; queue; queue = zhashx_next (vhost->queues)) {
            meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
            s_seen_t *seen;
            while (qmesh && qmesh->seen_order &&
                   (seen = zlistx_first (qmesh->seen_order)) &&
                   seen->until <= now) {
                zhashx_delete (qmesh->seen, seen->key);
                zlistx_delete (qmesh->seen_order,
                               zlistx_cursor (qmesh->seen_order));
            }
            s_unpark (self, queue, NULL, now, NULL, false);
        }
        s_late_t *late =
            vhost->late_acks ? zhashx_first (vhost->late_acks) : NULL;
        while (late) {
            if (now - late->first_at > S_LATE_MS) {
                zhashx_delete (vhost->late_acks,
                               zhashx_cursor (vhost->late_acks));
                late = zhashx_first (vhost->late_acks);
            } else
                late = zhashx_next (vhost->late_acks);
        }
    }
}
