/*  store_commit.c - group commit: write, sync, apply, call back.

    A commit writes the pending records of each segment they go to with
    one pwritev (one per segment: crossing into a new segment first
    syncs the old one and creates the new one), then one fdatasync if
    any append asked for MESHQ_SYNC_ALWAYS, then applies the records to
    the index and fires the callbacks. A write the OS refuses is undone
    with ftruncate, so the file ends where the last good record ends and
    the appends fail cleanly; if even that fails, or an fdatasync fails
    (after which Linux may have dropped the dirty pages and a retry would
    lie), the store stops accepting appends until it is reopened.
*/
#include "store_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Counts one fsync of ns nanoseconds in the histogram.
static void
s_count_fsync (meshq_store_t *self, uint64_t ns)
{
    meshq_store_stats_t *stats = &self->stats;
    stats->fsyncs++;
    stats->fsync_ns += ns;
    if (ns > stats->fsync_max_ns)
        stats->fsync_max_ns = ns;
    uint64_t us = ns / 1000;
    int bucket = 0;
    while (bucket < MESHQ_STORE_FSYNC_BUCKETS - 1 && us >= (16u << bucket))
        bucket++;
    stats->fsync_hist[bucket]++;
}

int
meshq_store_fsync (meshq_store_t *self, int fd)
{
    uint64_t start = meshq_store_now_ns ();
    int rc = self->io.fdatasync (self->io.arg, fd);
    int error = errno;
    s_count_fsync (self, meshq_store_now_ns () - start);
    if (rc)
        self->stats.io_errors++;
    errno = error;
    return rc ? -1 : 0;
}

int
meshq_store_sync (meshq_store_t *self)
{
    if (self->active_fd < 0 || self->failed)
        return self->failed ? MESHQ_EIO : 0;
    if (meshq_store_fsync (self, self->active_fd)) {
        char reason[256];
        snprintf (reason, sizeof reason, "fdatasync of segment %" PRIu64 ": %s",
                  self->segments[self->segment_count - 1].number,
                  strerror (errno));
        return meshq_store_set_failed (self, reason);
    }
    self->synced = self->written;
    return 0;
}

//  Adds a callback to fire.
static void
s_done_add (meshq_store_t *self, uint64_t ticket, int status)
{
    if (self->done_count == self->done_capacity) {
        size_t capacity = self->done_capacity ? self->done_capacity * 2 : 64;
        uint64_t *tickets =
            realloc (self->done_tickets, capacity * sizeof *tickets);
        if (tickets)
            self->done_tickets = tickets;
        int *status_array =
            realloc (self->done_status, capacity * sizeof *status_array);
        if (status_array)
            self->done_status = status_array;
        //  A lost callback would hang a publisher forever.
        assert (tickets && status_array);
        self->done_capacity = capacity;
    }
    self->done_tickets[self->done_count] = ticket;
    self->done_status[self->done_count] = status;
    self->done_count++;
}

void
meshq_store_release_waiting (meshq_store_t *self, int status)
{
    for (size_t i = 0; i < self->waiting_count; i++)
        s_done_add (self, self->waiting[i], status);
    self->waiting_count = 0;
}

static void
s_wait (meshq_store_t *self, uint64_t ticket)
{
    if (self->waiting_count == self->waiting_capacity) {
        size_t capacity =
            self->waiting_capacity ? self->waiting_capacity * 2 : 64;
        uint64_t *waiting = realloc (self->waiting, capacity * sizeof *waiting);
        assert (waiting);
        self->waiting = waiting;
        self->waiting_capacity = capacity;
    }
    if (self->waiting_count == 0)
        self->waiting_since = meshq_store_now_ns () / 1000000;
    self->waiting[self->waiting_count++] = ticket;
}

void
meshq_store_fire (meshq_store_t *self)
{
    if (!self->done) {
        self->done_count = 0;
        return;
    }
    self->firing = true;
    //  Callbacks may append, which never adds to this list.
    for (size_t i = 0; i < self->done_count; i++)
        self->done (self->done_arg, self->done_tickets[i],
                    self->done_status[i]);
    self->done_count = 0;
    self->firing = false;
}

//  Writes size bytes at the end of the active segment; on failure
//  truncates the file back. Returns 0 or a negative code.
static int
s_write (meshq_store_t *self, const uint8_t *data, size_t size)
{
    meshq_store_segment_t *active = &self->segments[self->segment_count - 1];
    size_t done = 0;
    while (done < size) {
        struct iovec iov = {(void *)(data + done), size - done};
        ssize_t rc = self->io.pwritev (self->io.arg, self->active_fd, &iov, 1,
                                       (off_t)(active->size + done));
        if (rc > 0) {
            done += (size_t)rc;
            continue;
        }
        if (rc < 0 && errno == EINTR)
            continue;
        int error = rc < 0 ? errno : ENOSPC;
        self->stats.io_errors++;
        //  Cut the partial records off, so that nothing after them can
        //  ever make them look like damage in the middle of the log.
        if (ftruncate (self->active_fd, (off_t)active->size)) {
            char reason[256];
            snprintf (reason, sizeof reason,
                      "write to segment %" PRIu64 " failed (%s) and so did "
                      "cutting it back (%s)",
                      active->number, strerror (error), strerror (errno));
            return meshq_store_set_failed (self, reason);
        }
        int code = meshq_store_errno_code (error);
        if (code == MESHQ_EFULL)
            self->stats.refused_full++;
        return meshq_store_fail (
            self, code, "store '%s': write to segment %" PRIu64 " failed: %s",
            self->directory, active->number, strerror (error));
    }
    active->size += size;
    self->bytes += size;
    self->written += size;
    return 0;
}

//  Writes the ops [first, end) that go to one segment: opens that
//  segment first if it is new.
static int
s_write_run (meshq_store_t *self, size_t first, size_t end, const uint8_t *data,
             size_t size)
{
    uint64_t number = self->ops[first].segment;
    if (number != self->segments[self->segment_count - 1].number) {
        //  Seal the full segment: a later one never exists before the
        //  earlier ones are durable, which recovery relies on. It keeps
        //  only its records; if the cut fails, recovery reads the zeros
        //  left as space, not damage.
        if (meshq_store_segment_trim (self))
            meshq_store_log (self, MESHQ_STORE_WARNING,
                             "store: cannot cut a full segment to its "
                             "records dir=%s segment=%" PRIu64 " reason=%s",
                             self->directory,
                             self->segments[self->segment_count - 1].number,
                             strerror (errno));
        int rc = self->written > self->synced ? meshq_store_sync (self) : 0;
        if (rc == 0)
            rc = meshq_store_segment_create (self, number);
        if (rc)
            return rc;
    }
    int rc = s_write (self, data, size);
    if (rc)
        return rc;
    for (size_t i = first; i < end && i < first + MESHQ_STORE_AHEAD; i++)
        meshq_store_prefetch (self, &self->ops[i]);
    for (size_t i = first; i < end; i++) {
        if (i + MESHQ_STORE_AHEAD < end)
            meshq_store_prefetch (self, &self->ops[i + MESHQ_STORE_AHEAD]);
        self->ops[i].lsn = self->written;
        if (meshq_store_apply (self, &self->ops[i]))
            //  The index would no longer match the disk.
            return meshq_store_set_failed (self, "out of memory indexing");
    }
    return 0;
}

int
meshq_store_flush (meshq_store_t *self, bool force_sync)
{
    bool want_sync = force_sync;
    for (size_t i = 0; i < self->op_count; i++)
        if (self->ops[i].sync == MESHQ_SYNC_ALWAYS)
            want_sync = true;
    int result = 0;
    size_t first = 0;
    size_t offset = 0;
    if (self->failed && self->op_count)
        result = meshq_store_fail (self, MESHQ_EIO,
                                   "store '%s': failed earlier (%s)",
                                   self->directory, self->failure);
    while (result == 0 && first < self->op_count) {
        size_t end = first;
        size_t size = 0;
        while (end < self->op_count &&
               self->ops[end].segment == self->ops[first].segment)
            size += self->ops[end++].size;
        result =
            s_write_run (self, first, end, self->pending.data + offset, size);
        if (result == 0) {
            first = end;
            offset += size;
        }
    }
    //  Ops before 'first' are written and applied; the rest failed.
    size_t written_ops = first;
    int sync_rc = 0;
    if (want_sync && self->written > self->synced && !self->failed)
        sync_rc = meshq_store_sync (self);
    if (self->failed)
        sync_rc = MESHQ_EIO;
    if (self->waiting_count && self->synced == self->written && !sync_rc)
        meshq_store_release_waiting (self, 0);
    else if (self->waiting_count && sync_rc)
        meshq_store_release_waiting (self, MESHQ_EIO);
    for (size_t i = 0; i < self->op_count; i++) {
        meshq_store_op_t *op = &self->ops[i];
        if (op->internal)
            continue;
        if (i >= written_ops)
            s_done_add (self, op->ticket, result);
        else if (self->synced >= op->lsn || op->sync == MESHQ_SYNC_NONE)
            s_done_add (self, op->ticket, 0);
        else if (sync_rc)
            s_done_add (self, op->ticket, MESHQ_EIO);
        else
            s_wait (self, op->ticket);
    }
    if (self->op_count)
        self->stats.commits++;
    //  Metadata copies that were not applied are freed here.
    for (size_t i = 0; i < self->op_count; i++) {
        free (self->ops[i].key);
        free (self->ops[i].value);
    }
    self->op_count = 0;
    //  One huge envelope must not pin its buffer for good.
    if (self->pending.capacity > MESHQ_STORE_KEEP)
        meshq_buf_fini (&self->pending);
    meshq_buf_reset (&self->pending);
    if (self->segment_count) {
        meshq_store_segment_t *active =
            &self->segments[self->segment_count - 1];
        self->tail_segment = active->number;
        self->tail_offset = active->size;
    }
    return result ? result : sync_rc;
}

int
meshq_store_commit (meshq_store_t *self)
{
    assert (self);
    if (!self->opened)
        return meshq_store_fail (self, MESHQ_ESTATE, "store '%s': not open",
                                 self->directory);
    if (self->firing)
        return meshq_store_fail (self, MESHQ_ESTATE,
                                 "store: commit from a done callback");
    int rc = meshq_store_flush (self, false);
    meshq_store_fire (self);
    return rc;
}
