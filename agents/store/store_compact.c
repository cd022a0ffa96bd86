/*  store_compact.c - tick: interval syncs, deleting and compacting
    segments.

    A sealed segment may go once nothing in it changes what a replay of
    the log gives. Its enqueues and winning metadata must be dead (live
    is 0). Its acks matter while an older segment exists, since one of
    those may hold the enqueue an ack cancels; in the oldest segment
    they cancel nothing that is left. So a segment is deleted when it
    has no live bytes and is the oldest, has no acks, or has been
    compacted; and only once the records that made its contents dead are
    durable, or a crash could bring back an enqueue whose ack was lost.
    A segment in which recovery skipped damage is never deleted nor
    compacted: what this reader could not read is kept as found.

    Compaction empties a sparse segment (live bytes plus needed acks
    under 25% of it) by appending copies at the head of the log, a
    bounded step per tick: an enqueue or winning metadata record if the
    index says this very record is the live one, an ack if its message
    is not live (if it was stored again since, the ack must not follow
    the new copy). A copy does not change the replay: an enqueue copy
    holds the same message with the same ordinal, an ack copy cancels
    what was cancelled. The copies are synced before the segment is
    marked compacted, so a crash at any point leaves either the original
    or both, and both replay the same. If the segment reads differently
    than at recovery (new damage), it is kept and logged instead.
*/
#include "store_internal.h"

#include <stdlib.h>

#include <inttypes.h>
#include <unistd.h>

void
meshq_store_compaction_stop (meshq_store_t *self)
{
    if (self->compaction.fd >= 0)
        close (self->compaction.fd);
    self->compaction.fd = -1;
    self->compaction.number = 0;
}

//  Deletes the sealed segments nothing needs any more.
static void
s_delete_dead (meshq_store_t *self)
{
    size_t i = 0;
    while (i + 1 < self->segment_count && !self->failed) {
        meshq_store_segment_t *segment = &self->segments[i];
        //  Damage is kept as found: what this reader skipped (a record
        //  of a newer writer, or one a repair tool can still salvage)
        //  is never deleted by it.
        bool needless = segment->live == 0 && segment->corrupt == 0 &&
                        (i == 0 || segment->acks == 0 || segment->compacted) &&
                        segment->number != self->compaction.number;
        if (!needless) {
            i++;
            continue;
        }
        if (segment->kill_lsn > self->synced && meshq_store_sync (self))
            return;
        bool compacted = segment->compacted;
        if (meshq_store_segment_delete (self, segment->number)) {
            meshq_store_log (self, MESHQ_STORE_WARNING,
                             "store: segment not deleted dir=%s reason=%s",
                             self->directory, self->why);
            return;
        }
        if (compacted)
            self->stats.compacted_segments++;
    }
}

//  Returns the oldest sealed segment worth compacting, or NULL.
static meshq_store_segment_t *
s_pick (meshq_store_t *self)
{
    for (size_t i = 0; i + 1 < self->segment_count; i++) {
        meshq_store_segment_t *segment = &self->segments[i];
        uint64_t data = segment->size - MESHQ_SEGMENT_HEADER;
        uint64_t needed = segment->live + (i == 0 ? 0 : segment->acks);
        if (segment->pinned || segment->corrupt || segment->compacted ||
            needed == 0 || data == 0)
            continue;
        if (needed * 100 < data * MESHQ_STORE_COMPACT_PERCENT)
            return segment;
    }
    return NULL;
}

//  Copies one record forward if the log still needs it.
static int
s_copy (meshq_store_t *self, meshq_store_segment_t *segment, uint64_t offset,
        const meshq_record_t *record, size_t frame_size, void *arg)
{
    (void)arg;
    bool needed = false;
    if (record->type == MESHQ_RECORD_META) {
        meshq_store_meta_t *meta =
            meshq_store_meta_find (self, record->name, record->name_size);
        needed =
            meta && meta->segment == segment->number && meta->offset == offset;
    } else {
        uint32_t queue =
            meshq_store_queue_id (self, record->name, record->name_size);
        uint32_t origin = meshq_store_origin_id (self, record->origin);
        if (!queue || !origin)
            return MESHQ_ENOMEM;
        uint32_t i = meshq_store_find (self, queue, origin, record->seq);
        if (record->type == MESHQ_RECORD_ENQUEUE) {
            meshq_store_entry_t *entry = i ? meshq_store_entry (self, i) : NULL;
            needed = entry && entry->segment == segment->number &&
                     entry->offset == offset;
        } else
            needed = !i && segment != &self->segments[0];
    }
    if (!needed)
        return 0;
    int rc = meshq_store_append_copy (self, record);
    if (rc == 0) {
        self->stats.copied_records++;
        self->stats.copied_bytes += frame_size;
    }
    return rc;
}

//  Counts damage met while compacting.
static void
s_bad (meshq_store_t *self, meshq_store_segment_t *segment, uint64_t offset,
       uint64_t size, const char *reason, void *arg)
{
    (void)segment;
    (void)offset;
    (void)reason;
    (void)arg;
    self->compaction.bad += size;
}

//  Stops compacting the current segment and keeps it for good.
static void
s_pin (meshq_store_t *self, meshq_store_segment_t *segment, const char *reason)
{
    meshq_store_log (self, MESHQ_STORE_ERROR,
                     "store: not compacting dir=%s segment=%" PRIu64
                     " reason=%s",
                     self->directory, segment->number, reason);
    segment->pinned = true;
    meshq_store_compaction_stop (self);
}

//  Does one step of compaction. Returns true if it did some, false if
//  there was nothing to compact or it had to stop.
static bool
s_compact_step (meshq_store_t *self)
{
    meshq_store_compaction_t *compaction = &self->compaction;
    meshq_store_segment_t *segment;
    if (!compaction->number) {
        segment = s_pick (self);
        if (!segment)
            return false;
        compaction->fd = meshq_store_segment_open (self, segment->number);
        compaction->number = segment->number;
        compaction->offset = MESHQ_SEGMENT_HEADER;
        compaction->bad = 0;
        if (compaction->fd < 0) {
            s_pin (self, segment, "cannot open it");
            return false;
        }
        meshq_store_log (self, MESHQ_STORE_INFO,
                         "store: compacting dir=%s segment=%" PRIu64
                         " live=%" PRIu64 " acks=%" PRIu64 " size=%" PRIu64,
                         self->directory, segment->number, segment->live,
                         segment->acks, segment->size);
    }
    segment = meshq_store_segment (self, compaction->number);
    meshq_store_window_reset (&self->window, compaction->fd, segment->size);
    meshq_store_scan_t scan = {0};
    int64_t pos =
        meshq_store_scan (self, segment, compaction->offset,
                          MESHQ_STORE_COMPACT_STEP, s_copy, s_bad, NULL, &scan);
    meshq_store_window_reset (&self->window, -1, 0);
    if (pos < 0) {
        s_pin (self, segment, meshq_strerror ((int)pos));
        return false;
    }
    if (scan.tail < segment->size)
        compaction->bad += segment->size - scan.tail;
    compaction->offset = (uint64_t)pos;
    if (compaction->offset < segment->size)
        return true;
    //  Every copy durable before the original may go.
    if (meshq_store_flush (self, true)) {
        meshq_store_compaction_stop (self);
        return false;
    }
    segment = meshq_store_segment (self, compaction->number);
    if (compaction->bad != segment->corrupt)
        s_pin (self, segment, "it changed on disk since recovery");
    else if (segment->live)
        s_pin (self, segment, "a live record was not found in it");
    else {
        segment->compacted = true;
        meshq_store_compaction_stop (self);
        return true;  //  Another segment may be next.
    }
    return false;
}

//  What the append buffers keep between bursts: a turn that appended
//  more (a queue of millions deleted at once) must not pin them for good.
//  The read window goes too; all of them grow again on demand.
#define S_KEEP_OPS   4096
#define S_KEEP_BYTES (1u << 20)

static void
s_shrink_buffers (meshq_store_t *self)
{
    if (self->op_capacity > S_KEEP_OPS) {
        free (self->ops);
        self->ops = NULL;
        self->op_capacity = 0;
    }
    if (self->pending.capacity > S_KEEP_BYTES)
        meshq_buf_fini (&self->pending);
    //  Compaction's read window (4 MiB), when no file is being read.
    if (self->window.fd < 0 && self->window.data) {
        free (self->window.data);
        self->window.data = NULL;
        self->window.capacity = 0;
        self->window.size = 0;
    }
}

int
meshq_store_tick (meshq_store_t *self)
{
    if (!self->opened || self->failed || self->firing)
        return 1000;
    if (self->op_count)
        meshq_store_flush (self, false);
    uint64_t interval = self->config.interval_ms;
    uint64_t now = meshq_store_now_ns () / 1000000;
    if (self->waiting_count && now >= self->waiting_since + interval) {
        int rc = self->written > self->synced ? meshq_store_sync (self) : 0;
        meshq_store_release_waiting (self, rc);
    }
    s_delete_dead (self);
    bool busy = !self->failed && s_compact_step (self);
    s_delete_dead (self);
    meshq_store_fire (self);
    if (!busy && !self->op_count && !self->compaction.number) {
        meshq_store_index_shrink (self);
        s_shrink_buffers (self);
    }
    return busy ? 1 : meshq_store_timeout (self);
}

int
meshq_store_timeout (meshq_store_t *self)
{
    if (!self->opened || self->failed)
        return 1000;
    if (self->compaction.number)
        return 1;
    if (self->waiting_count) {
        uint64_t now = meshq_store_now_ns () / 1000000;
        uint64_t due = self->waiting_since + self->config.interval_ms;
        return due > now ? (int)(due - now) : 0;
    }
    return 1000;
}
