/*  store.c - the durable store: life cycle, appends, stats. See store.h.

    An append checks its arguments and the quota, decides where its
    record will go (the active segment, or the next one if it does not
    fit), encodes the record into the pending buffer with that segment's
    CRC seed, and remembers an op for commit. Nothing touches the index
    until commit has written the record: then recovery and the running
    store see the same history, even when a write fails.
*/
#include "store_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static ssize_t
s_pwritev (void *arg, int fd, const struct iovec *iov, int count, off_t offset)
{
    (void)arg;
    return pwritev (fd, iov, count, offset);
}

static int
s_fdatasync (void *arg, int fd)
{
    (void)arg;
    return fdatasync (fd);
}

meshq_store_t *
meshq_store_new (const char *directory, const meshq_store_config_t *config)
{
    assert (directory);
    meshq_store_t *self = calloc (1, sizeof *self);
    assert (self);
    self->directory = strdup (directory);
    assert (self->directory);
    if (config)
        self->config = *config;
    if (self->config.segment_size == 0)
        self->config.segment_size = MESHQ_STORE_SEGMENT_SIZE;
    if (self->config.segment_size < MESHQ_STORE_SEGMENT_MIN)
        self->config.segment_size = MESHQ_STORE_SEGMENT_MIN;
    if (self->config.segment_size > MESHQ_STORE_SEGMENT_MAX)
        self->config.segment_size = MESHQ_STORE_SEGMENT_MAX;
    //  Under a quota, segments are small enough that the ones emptied
    //  by acks can be deleted while the last still takes appends: one
    //  segment as large as the quota could never shrink, and would block
    //  enqueues for good.
    if (self->config.quota &&
        self->config.segment_size >
            self->config.quota / MESHQ_STORE_QUOTA_SEGMENTS) {
        self->config.segment_size =
            self->config.quota / MESHQ_STORE_QUOTA_SEGMENTS;
        if (self->config.segment_size < MESHQ_STORE_SEGMENT_MIN)
            self->config.segment_size = MESHQ_STORE_SEGMENT_MIN;
    }
    if (self->config.interval_ms == 0)
        self->config.interval_ms = MESHQ_STORE_INTERVAL_MS;
    if (self->config.min_free == 0)
        self->config.min_free = self->config.segment_size;
    self->dir_fd = -1;
    self->lock_fd = -1;
    self->active_fd = -1;
    self->compaction.fd = -1;
    self->window.fd = -1;
    self->next_ticket = 1;
    self->next_ordinal = 1;
    self->io.pwritev = s_pwritev;
    self->io.fdatasync = s_fdatasync;
    meshq_buf_init (&self->pending);
    return self;
}

//  Frees what the ops still own (metadata copies not applied).
static void
s_ops_clear (meshq_store_t *self)
{
    for (size_t i = 0; i < self->op_count; i++) {
        free (self->ops[i].key);
        free (self->ops[i].value);
    }
    self->op_count = 0;
    meshq_buf_reset (&self->pending);
}

void
meshq_store_destroy (meshq_store_t **self_p)
{
    assert (self_p);
    meshq_store_t *self = *self_p;
    if (!self)
        return;
    if (self->opened && !self->failed) {
        //  Nobody is listening any more: write and sync, no callbacks.
        meshq_store_flush (self, true);
        self->done_count = 0;
        //  A store closed cleanly leaves no zeros behind its records.
        meshq_store_segment_trim (self);
    }
    s_ops_clear (self);
    meshq_store_compaction_stop (self);
    meshq_store_index_fini (self);
    if (self->active_fd >= 0)
        close (self->active_fd);
    if (self->lock_fd >= 0)
        close (self->lock_fd);  //  Releases the flock.
    if (self->dir_fd >= 0)
        close (self->dir_fd);
    meshq_buf_fini (&self->pending);
    free (self->window.data);
    free (self->segments);
    free (self->leftovers);
    free (self->ops);
    free (self->waiting);
    free (self->done_tickets);
    free (self->done_status);
    free (self->directory);
    free (self);
    *self_p = NULL;
}

//  Makes a new store in an empty directory: MANIFEST first, listing
//  nothing, then segment 1, then the MANIFEST listing it, so that a
//  crash at any point leaves something open recognises.
static int
s_create (meshq_store_t *self, uint64_t number)
{
    int rc = meshq_store_manifest_write (self, 0, 0);
    if (rc == 0)
        rc = meshq_store_segment_create (self, number);
    return rc;
}

int
meshq_store_open (meshq_store_t *self, const char **why)
{
    assert (self);
    const char *ignored;
    if (!why)
        why = &ignored;
    self->why[0] = 0;
    *why = self->why;
    if (self->opened || self->dir_fd >= 0)
        return meshq_store_fail (self, MESHQ_ESTATE,
                                 "store '%s': already opened; destroy it "
                                 "and make a new one to open again",
                                 self->directory);
    uint64_t start = meshq_store_now_ns ();
    if (mkdir (self->directory, 0750) && errno != EEXIST)
        return meshq_store_fail (self, MESHQ_EIO,
                                 "store '%s': cannot create the directory: %s",
                                 self->directory, strerror (errno));
    bool fresh = false;
    uint64_t *numbers = NULL;
    uint32_t count = 0;
    int rc = meshq_store_dir_open (self, &fresh, &numbers, &count);
    if (rc == 0 && fresh) {
        if (getrandom (self->store_id, sizeof self->store_id, 0) !=
            (ssize_t)sizeof self->store_id)
            rc = meshq_store_fail (self, MESHQ_EIO,
                                   "store '%s': no random bytes for its id: %s",
                                   self->directory, strerror (errno));
        else
            rc = s_create (self, 1);
    } else if (rc == 0) {
        rc = meshq_store_recover (self, numbers, count);
        if (rc == 0)
            meshq_store_dir_tidy (self);
        if (rc == 0 && self->segment_count == 0)
            //  A crash between the first MANIFEST and the first segment.
            rc = meshq_store_segment_create (self, self->max_number + 1);
    }
    free (numbers);
    if (rc == 0)
        meshq_store_segment_reserve (self);
    if (rc == 0 && self->active_fd >= 0 &&
        self->io.fdatasync (self->io.arg, self->active_fd))
        //  What recovery found must be durable before anything relies
        //  on it, such as deleting a segment its acks emptied.
        rc = meshq_store_fail (self, MESHQ_EIO,
                               "store '%s': fdatasync of the last segment: %s",
                               self->directory, strerror (errno));
    if (rc) {
        //  Leave no half-open state: a new store object starts over.
        meshq_store_index_fini (self);
        self->segment_count = 0;
        self->bytes = 0;
        if (self->active_fd >= 0)
            close (self->active_fd);
        if (self->lock_fd >= 0)
            close (self->lock_fd);
        self->active_fd = self->lock_fd = -1;
        return rc;
    }
    meshq_store_segment_t *active = &self->segments[self->segment_count - 1];
    self->tail_segment = active->number;
    self->tail_offset = active->size;
    self->opened = true;
    self->stats.recovery_us = (meshq_store_now_ns () - start) / 1000;
    return 0;
}

void
meshq_store_set_done (meshq_store_t *self, meshq_store_done_fn *fn, void *arg)
{
    assert (self);
    self->done = fn;
    self->done_arg = arg;
}

void
meshq_store_set_log (meshq_store_t *self, meshq_store_log_fn *fn, void *arg)
{
    assert (self);
    self->log = fn;
    self->log_arg = arg;
}

void
meshq_store_set_io (meshq_store_t *self, const meshq_store_io_t *io)
{
    assert (self);
    self->io.pwritev = io && io->pwritev ? io->pwritev : s_pwritev;
    self->io.fdatasync = io && io->fdatasync ? io->fdatasync : s_fdatasync;
    self->io.arg = io ? io->arg : NULL;
}

//  Checks that appends are possible now.
static int
s_check_state (meshq_store_t *self)
{
    if (!self->opened)
        return meshq_store_fail (self, MESHQ_ESTATE, "store '%s': not open",
                                 self->directory);
    if (self->failed)
        return meshq_store_fail (self, MESHQ_EIO,
                                 "store '%s': failed earlier (%s); destroy "
                                 "it and open the directory again",
                                 self->directory, self->failure);
    return 0;
}

//  Refuses a record of size bytes if the quota or the free space of the
//  filesystem would not leave room for the acks that drain the store.
static int
s_check_space (meshq_store_t *self, size_t size, uint64_t segment)
{
    //  Headers of segments the pending records open count too.
    meshq_store_segment_t *active = &self->segments[self->segment_count - 1];
    uint64_t used = self->bytes + self->pending.size +
                    (segment - active->number) * MESHQ_SEGMENT_HEADER;
    uint64_t limit = self->config.quota;
    bool over_quota = limit && used + size > limit;
    //  statvfs every 256 KiB of appends, or every time when close.
    if (self->free_since >= MESHQ_STORE_FREE_CHECK ||
        self->free_bytes < self->config.min_free + 2 * MESHQ_STORE_FREE_CHECK) {
        struct statvfs st;
        //  The active segment's space allocated ahead is taken from the
        //  filesystem already, and is ours to fill.
        uint64_t ahead =
            self->reserved > active->size ? self->reserved - active->size : 0;
        //  A filesystem that cannot say is not taken to be full.
        self->free_bytes = fstatvfs (self->dir_fd, &st)
                               ? UINT64_MAX
                               : (uint64_t)st.f_bavail * st.f_frsize + ahead;
        self->free_since = 0;
    }
    uint64_t coming = self->free_since + size;
    uint64_t free_bytes =
        self->free_bytes > coming ? self->free_bytes - coming : 0;
    bool low = self->config.min_free > 1 && free_bytes < self->config.min_free;
    if (!over_quota && !low) {
        self->full = false;
        self->free_since += size;
        return 0;
    }
    self->stats.refused_full++;
    if (!self->full)
        meshq_store_log (
            self, MESHQ_STORE_WARNING,
            "store: refusing enqueues dir=%s used=%" PRIu64 " quota=%" PRIu64
            " free=%" PRIu64 " min_free=%" PRIu64,
            self->directory, used, limit, free_bytes, self->config.min_free);
    self->full = true;
    if (over_quota)
        return meshq_store_fail (
            self, MESHQ_EFULL,
            "store '%s': quota reached: %" PRIu64 " bytes used of %" PRIu64
            " allowed, a record of %zu bytes does not fit; ack messages or "
            "raise the quota",
            self->directory, used, limit, size);
    return meshq_store_fail (self, MESHQ_EFULL,
                             "store '%s': disk nearly full: %" PRIu64
                             " bytes free, below min_free=%" PRIu64
                             "; ack messages or free disk space",
                             self->directory, free_bytes,
                             self->config.min_free);
}

//  Places, checks the space for, encodes and queues one record.
static int
s_append (meshq_store_t *self, const meshq_record_t *record,
          meshq_store_op_t *op, bool quota, uint64_t *ticket)
{
    size_t size = meshq_codec_record_size (record);
    uint64_t segment = self->tail_segment;
    uint64_t offset = self->tail_offset;
    if (offset + size > self->config.segment_size &&
        offset > MESHQ_SEGMENT_HEADER) {
        segment++;
        offset = MESHQ_SEGMENT_HEADER;
    }
    if (segment > UINT32_MAX)
        return meshq_store_fail (self, MESHQ_EFULL,
                                 "store '%s': segment numbers exhausted",
                                 self->directory);
    if (quota) {
        int rc = s_check_space (self, size, segment);
        if (rc)
            return rc;
    }
    if (self->op_count == self->op_capacity) {
        size_t capacity = self->op_capacity ? self->op_capacity * 2 : 64;
        meshq_store_op_t *ops = realloc (self->ops, capacity * sizeof *ops);
        if (!ops)
            return meshq_store_fail (self, MESHQ_ENOMEM,
                                     "store: out of memory for an append");
        self->ops = ops;
        self->op_capacity = capacity;
    }
    const char *why = NULL;
    uint32_t seed = meshq_codec_segment_seed (self->store_id, segment);
    int rc = meshq_codec_encode_record (record, seed, &self->pending, &why);
    if (rc)
        return meshq_store_fail (self, rc, "store: %s", why);
    op->segment = segment;
    op->offset = (uint32_t)offset;
    op->size = (uint32_t)size;
    op->ticket = op->internal ? 0 : self->next_ticket++;
    self->ops[self->op_count++] = *op;
    self->tail_segment = segment;
    self->tail_offset = offset + size;
    if (ticket)
        *ticket = op->ticket;
    if (!op->internal)
        self->stats.appends++;
    return 0;
}

//  Checks an enqueue of envelope (size bytes; none for an ack) or an ack
//  of a message of queue from origin, and gives op the sync class and
//  the ids of queue and origin; *queue_size is the queue name's.
static int
s_message_op (meshq_store_t *self, const char *queue, const uint8_t *origin,
              meshq_sync_t sync, const void *envelope, size_t size,
              meshq_store_op_t *op, size_t *queue_size)
{
    int rc = s_check_state (self);
    if (rc)
        return rc;
    if (!queue || !origin || sync > MESHQ_SYNC_NONE)
        return meshq_store_fail (self, MESHQ_EINVAL,
                                 "store: enqueue and ack need a queue, an "
                                 "origin and a sync class");
    *queue_size = strlen (queue);
    if (*queue_size > MESHQ_STORE_MAX_NAME)
        return meshq_store_fail (self, MESHQ_ETOOBIG,
                                 "store: queue name of %zu bytes; the most "
                                 "is 255",
                                 *queue_size);
    if (size > MESHQ_STORE_MAX_ENVELOPE || (!envelope && size))
        return meshq_store_fail (self, MESHQ_ETOOBIG,
                                 "store: envelope of %zu bytes; the most is "
                                 "%u",
                                 size, MESHQ_STORE_MAX_ENVELOPE);
    op->sync = (uint8_t)sync;
    op->queue = meshq_store_queue_id (self, queue, (uint32_t)*queue_size);
    op->origin = meshq_store_origin_id (self, origin);
    if (!op->queue || !op->origin)
        return meshq_store_fail (self, MESHQ_ENOMEM,
                                 "store: out of memory for a queue name");
    return 0;
}

int
meshq_store_enqueue (meshq_store_t *self, const char *queue,
                     const uint8_t origin[16], uint64_t seq,
                     const void *envelope, size_t size, meshq_sync_t sync,
                     uint64_t *ticket)
{
    assert (self);
    meshq_store_op_t op = {.type = MESHQ_RECORD_ENQUEUE,
                           .seq = seq,
                           .ordinal = self->next_ordinal};
    size_t queue_size;
    int rc = s_message_op (self, queue, origin, sync, envelope, size, &op,
                           &queue_size);
    if (rc)
        return rc;
    meshq_record_t record = {.type = MESHQ_RECORD_ENQUEUE,
                             .name = queue,
                             .name_size = (uint32_t)queue_size,
                             .origin = origin,
                             .seq = seq,
                             .ordinal = op.ordinal,
                             .data = envelope ? envelope : "",
                             .size = (uint32_t)size};
    rc = s_append (self, &record, &op, true, ticket);
    if (rc == 0)
        self->next_ordinal++;
    return rc;
}

int
meshq_store_ack (meshq_store_t *self, const char *queue,
                 const uint8_t origin[16], uint64_t seq, meshq_sync_t sync,
                 uint64_t *ticket)
{
    assert (self);
    meshq_store_op_t op = {.type = MESHQ_RECORD_ACK, .seq = seq};
    size_t queue_size;
    int rc =
        s_message_op (self, queue, origin, sync, NULL, 0, &op, &queue_size);
    if (rc)
        return rc;
    meshq_record_t record = {.type = MESHQ_RECORD_ACK,
                             .name = queue,
                             .name_size = (uint32_t)queue_size,
                             .origin = origin,
                             .seq = seq};
    return s_append (self, &record, &op, false, ticket);
}

//  Queues a metadata record; op owns copies of key and value.
static int
s_append_meta (meshq_store_t *self, const char *key, size_t key_size,
               uint64_t version, const void *value, size_t size,
               meshq_store_op_t *op, uint64_t *ticket)
{
    op->type = MESHQ_RECORD_META;
    op->version = version;
    op->key = malloc (key_size + 1);
    op->value = value ? malloc (size ? size : 1) : NULL;
    if (!op->key || (value && !op->value)) {
        free (op->key);
        free (op->value);
        return meshq_store_fail (self, MESHQ_ENOMEM,
                                 "store: out of memory for metadata");
    }
    memcpy (op->key, key, key_size);
    op->key[key_size] = 0;
    op->key_size = (uint32_t)key_size;
    if (value)
        memcpy (op->value, value, size);
    op->value_size = (uint32_t)size;
    meshq_record_t record = {.type = MESHQ_RECORD_META,
                             .name = key,
                             .name_size = (uint32_t)key_size,
                             .version = version,
                             .data = value,
                             .size = (uint32_t)size};
    int rc = s_append (self, &record, op, value && !op->internal, ticket);
    if (rc) {
        free (op->key);
        free (op->value);
    }
    return rc;
}

int
meshq_store_meta (meshq_store_t *self, const char *key, uint64_t version,
                  const void *value, size_t size, meshq_sync_t sync,
                  uint64_t *ticket)
{
    assert (self);
    int rc = s_check_state (self);
    if (rc)
        return rc;
    if (!key || sync > MESHQ_SYNC_NONE)
        return meshq_store_fail (self, MESHQ_EINVAL,
                                 "store: metadata needs a key and a sync "
                                 "class");
    size_t key_size = strlen (key);
    if (key_size > MESHQ_STORE_MAX_NAME)
        return meshq_store_fail (self, MESHQ_ETOOBIG,
                                 "store: metadata key of %zu bytes; the "
                                 "most is 255",
                                 key_size);
    if (value && size > MESHQ_STORE_MAX_META)
        return meshq_store_fail (self, MESHQ_ETOOBIG,
                                 "store: metadata value of %zu bytes; the "
                                 "most is %u",
                                 size, MESHQ_STORE_MAX_META);
    meshq_store_op_t op = {.sync = (uint8_t)sync};
    return s_append_meta (self, key, key_size, version, value, value ? size : 0,
                          &op, ticket);
}

int
meshq_store_room (meshq_store_t *self, size_t size)
{
    assert (self);
    int rc = s_check_state (self);
    if (rc)
        return rc;
    meshq_store_segment_t *active = &self->segments[self->segment_count - 1];
    rc = s_check_space (self, MESHQ_RECORD_HEADER + size, active->number);
    if (rc == 0)
        self->free_since -= MESHQ_RECORD_HEADER + size;  //  Not appended.
    return rc;
}

int
meshq_store_append_copy (meshq_store_t *self, const meshq_record_t *record)
{
    meshq_store_op_t op = {.type = record->type,
                           .sync = MESHQ_SYNC_ALWAYS,
                           .internal = true,
                           .seq = record->seq,
                           .ordinal = record->ordinal};
    if (record->type == MESHQ_RECORD_META)
        return s_append_meta (self, record->name, record->name_size,
                              record->version, record->data, record->size, &op,
                              NULL);
    op.queue = meshq_store_queue_id (self, record->name, record->name_size);
    op.origin = meshq_store_origin_id (self, record->origin);
    if (!op.queue || !op.origin)
        return meshq_store_fail (self, MESHQ_ENOMEM,
                                 "store: out of memory for a queue name");
    return s_append (self, record, &op, false, NULL);
}

void
meshq_store_stats (meshq_store_t *self, meshq_store_stats_t *stats)
{
    assert (self);
    *stats = self->stats;
    stats->bytes = self->bytes;
    stats->segments = self->segment_count;
    stats->live_records = self->live;
    stats->meta_keys = self->meta_count;
    stats->live_bytes = 0;
    for (size_t i = 0; i < self->segment_count; i++)
        stats->live_bytes += self->segments[i].live;
}

const char *
meshq_store_why (meshq_store_t *self)
{
    assert (self);
    return self->why;
}

int
meshq_store_fail (meshq_store_t *self, int rc, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->why, sizeof self->why, format, args);
    va_end (args);
    return rc;
}

void
meshq_store_log (meshq_store_t *self, int level, const char *format, ...)
{
    if (!self->log && level > MESHQ_STORE_NOTICE)
        return;
    char line[768];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    if (self->log)
        self->log (self->log_arg, level, line);
    else
        fprintf (stderr, "%s\n", line);
}

uint64_t
meshq_store_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
meshq_store_errno_code (int error)
{
    return error == ENOSPC || error == EDQUOT ? MESHQ_EFULL : MESHQ_EIO;
}

int
meshq_store_set_failed (meshq_store_t *self, const char *reason)
{
    if (!self->failed) {
        snprintf (self->failure, sizeof self->failure, "%s", reason);
        meshq_store_log (self, MESHQ_STORE_ERROR,
                         "store: failed dir=%s reason=%s; refusing appends "
                         "until reopened",
                         self->directory, reason);
    }
    self->failed = true;
    return meshq_store_fail (self, MESHQ_EIO, "store '%s': %s", self->directory,
                             reason);
}
