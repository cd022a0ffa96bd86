/*  store_recover.c - reading segments back: recovery and foreach.

    Recovery replays every listed segment in order through
    meshq_store_apply. Each record is checked before it is believed: its
    length against the cap and the bytes left in the file, its type, its
    CRC, then its payload through the codec. Where a check fails, the
    scan looks for the next offset that holds an intact record, byte by
    byte, so that no intact record after damage is ever skipped; the
    bytes in between are one corrupt region, counted and logged. A bad
    region with no intact record after it, at the end of the last
    segment, is a torn tail (a write the crash cut short) and is cut
    off; anywhere else it is counted as damage and left in place.

    A false resync needs a 32-bit CRC match at the wrong offset. The CRC
    seed is per store and segment, so even a record hidden on purpose in
    a message body cannot match.
*/
#include "store_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// --------------------------------------------------------------------
//  Read window

void
meshq_store_window_reset (meshq_store_window_t *window, int fd,
                          uint64_t file_size)
{
    window->fd = fd;
    window->file_size = file_size;
    window->start = 0;
    window->size = 0;
    //  Done with a file: a window grown for a huge record goes back.
    if (fd < 0 && window->capacity > MESHQ_STORE_WINDOW) {
        free (window->data);
        window->data = NULL;
        window->capacity = 0;
    }
}

const uint8_t *
meshq_store_window_get (meshq_store_window_t *window, uint64_t offset, size_t n,
                        int *rc)
{
    if (offset > window->file_size || n > window->file_size - offset) {
        *rc = MESHQ_ETRUNCATED;
        return NULL;
    }
    if (offset >= window->start && offset + n <= window->start + window->size)
        return window->data + (offset - window->start);
    size_t want = n > MESHQ_STORE_WINDOW ? n : MESHQ_STORE_WINDOW;
    if (want > window->file_size - offset)
        want = (size_t)(window->file_size - offset);
    if (want > window->capacity) {
        uint8_t *data = realloc (window->data, want);
        if (!data) {
            *rc = MESHQ_ENOMEM;
            return NULL;
        }
        window->data = data;
        window->capacity = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread (window->fd, window->data + got, want - got,
                           (off_t)(offset + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    window->start = offset;
    window->size = got;
    if (got < n) {
        *rc = MESHQ_EIO;
        return NULL;
    }
    return window->data;
}

// --------------------------------------------------------------------
//  Scanning

static uint32_t
s_get32 (const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

//  Reads and checks the record at pos. Returns 0; MESHQ_EIO or
//  MESHQ_ENOMEM; or MESHQ_ECORRUPT with *reason, and *known set if the
//  frame is intact (only the payload is bad) and *frame is its size.
static int
s_record_at (meshq_store_t *self, meshq_store_segment_t *segment, uint64_t pos,
             meshq_record_t *record, size_t *frame, const char **reason,
             bool *known)
{
    meshq_store_window_t *window = &self->window;
    uint64_t left = window->file_size - pos;
    size_t head =
        left < MESHQ_RECORD_HEADER ? (size_t)left : MESHQ_RECORD_HEADER;
    int rc = 0;
    *known = false;
    const uint8_t *p = meshq_store_window_get (window, pos, head, &rc);
    if (!p)
        return rc;
    rc = meshq_codec_check_record (p, head, segment->seed, frame);
    if (rc == MESHQ_ETRUNCATED) {
        if (*frame > left) {
            *reason = left < MESHQ_RECORD_HEADER ? "header cut short"
                                                 : "length past the end";
            return MESHQ_ECORRUPT;
        }
        p = meshq_store_window_get (window, pos, *frame, &rc);
        if (!p)
            return rc;
        rc = meshq_codec_check_record (p, *frame, segment->seed, frame);
    }
    if (rc) {
        *reason = rc == MESHQ_ETYPE     ? "unknown record type"
                  : rc == MESHQ_ETOOBIG ? "length above the maximum"
                                        : "CRC mismatch";
        return MESHQ_ECORRUPT;
    }
    if (meshq_codec_decode_record (p, *frame, record, reason)) {
        *known = true;
        return MESHQ_ECORRUPT;
    }
    return 0;
}

//  Returns the first offset from `from` on that holds an intact frame,
//  or the file size; negative for a read error.
static int64_t
s_resync (meshq_store_t *self, meshq_store_segment_t *segment, uint64_t from,
          uint64_t limit)
{
    meshq_store_window_t *window = &self->window;
    uint64_t end = window->file_size;
    int rc = 0;
    //  No record starts where only zeros are left.
    for (uint64_t q = from; q < limit && q + MESHQ_RECORD_HEADER <= end; q++) {
        const uint8_t *p =
            meshq_store_window_get (window, q, MESHQ_RECORD_HEADER, &rc);
        if (!p)
            return rc;
        //  Cheap tests first: most offsets fail on type or length.
        if (p[8] < MESHQ_RECORD_ENQUEUE || p[8] > MESHQ_RECORD_META)
            continue;
        uint64_t length = s_get32 (p);
        if (length > MESHQ_STORE_MAX_PAYLOAD ||
            length > end - q - MESHQ_RECORD_HEADER)
            continue;
        size_t frame = MESHQ_RECORD_HEADER + (size_t)length;
        p = meshq_store_window_get (window, q, frame, &rc);
        if (!p)
            return rc;
        if (meshq_codec_check_record (p, frame, segment->seed, &frame) == 0)
            return (int64_t)q;
    }
    return (int64_t)end;
}

int64_t
meshq_store_scan (meshq_store_t *self, meshq_store_segment_t *segment,
                  uint64_t from, uint64_t budget, meshq_store_visit_fn *visit,
                  meshq_store_bad_fn *bad, void *arg, meshq_store_scan_t *scan)
{
    uint64_t end = self->window.file_size;
    uint64_t stop = budget && budget < end - from ? from + budget : end;
    uint64_t pos = from;
    //  Records start before the zeros allocated ahead of them, if any.
    uint64_t limit = scan->zeros && scan->zeros < end ? scan->zeros : end;
    scan->tail = end;
    while (pos < stop) {
        if (pos >= limit) {
            scan->tail = pos;
            return (int64_t)end;
        }
        meshq_record_t record;
        size_t frame = 0;
        const char *reason = NULL;
        bool known;
        int rc =
            s_record_at (self, segment, pos, &record, &frame, &reason, &known);
        if (rc == 0) {
            rc = visit (self, segment, pos, &record, frame, arg);
            if (rc)
                return rc;
            pos += frame;
            continue;
        }
        if (rc != MESHQ_ECORRUPT)
            return rc;
        int64_t next = known ? (int64_t)(pos + frame)
                             : s_resync (self, segment, pos + 1, limit);
        if (next < 0)
            return next;
        if ((uint64_t)next >= limit && !known) {
            scan->tail = pos;
            return (int64_t)end;
        }
        if (bad)
            bad (self, segment, pos, (uint64_t)next - pos, reason, arg);
        scan->bad_regions++;
        scan->bad_bytes += (uint64_t)next - pos;
        pos = (uint64_t)next;
    }
    return (int64_t)pos;
}

// --------------------------------------------------------------------
//  Recovery

//  Progress of one recovery, and the records decoded but not applied.
typedef struct {
    uint64_t total;                             //  Bytes of all segments.
    uint64_t before;                            //  Bytes of the segments done.
    uint64_t next_ns;                           //  When to report next.
    uint32_t index;                             //  Segment being read, from 0.
    uint32_t count;                             //  Segments.
    meshq_store_op_t ahead[MESHQ_STORE_AHEAD];  //  Ring, oldest at head.
    uint32_t head;                              //  Oldest in ahead.
    uint32_t waiting;                           //  Ops in ahead.
} s_progress_t;

//  Applies the oldest waiting ops until at most keep are left. Returns
//  0 or MESHQ_ENOMEM.
static int
s_drain (meshq_store_t *self, s_progress_t *progress, uint32_t keep)
{
    int rc = 0;
    while (progress->waiting > keep) {
        meshq_store_op_t *op = &progress->ahead[progress->head];
        if (rc == 0)
            rc = meshq_store_apply (self, op);
        free (op->key);
        free (op->value);
        progress->head = (progress->head + 1) % MESHQ_STORE_AHEAD;
        progress->waiting--;
    }
    return rc;
}

//  Replays one record.
static int
s_replay (meshq_store_t *self, meshq_store_segment_t *segment, uint64_t offset,
          const meshq_record_t *record, size_t frame_size, void *arg)
{
    s_progress_t *progress = arg;
    meshq_store_op_t op = {.type = record->type,
                           .segment = segment->number,
                           .offset = (uint32_t)offset,
                           .size = (uint32_t)frame_size,
                           .seq = record->seq,
                           .ordinal = record->ordinal,
                           .version = record->version};
    if (record->type == MESHQ_RECORD_META) {
        op.key = malloc (record->name_size + 1);
        op.value =
            record->data ? malloc (record->size ? record->size : 1) : NULL;
        if (!op.key || (record->data && !op.value)) {
            free (op.key);
            free (op.value);
            return MESHQ_ENOMEM;
        }
        memcpy (op.key, record->name, record->name_size);
        op.key[record->name_size] = 0;
        op.key_size = record->name_size;
        if (record->data)
            memcpy (op.value, record->data, record->size);
        op.value_size = record->size;
    } else {
        op.queue = meshq_store_queue_id (self, record->name, record->name_size);
        op.origin = meshq_store_origin_id (self, record->origin);
        if (!op.queue || !op.origin)
            return MESHQ_ENOMEM;
    }
    //  Applied in order, MESHQ_STORE_AHEAD records later: its slot of
    //  the index is in cache by then.
    meshq_store_prefetch (self, &op);
    if (progress->waiting == MESHQ_STORE_AHEAD) {
        int rc = s_drain (self, progress, MESHQ_STORE_AHEAD - 1);
        if (rc) {
            free (op.key);
            free (op.value);
            return rc;
        }
    }
    progress
        ->ahead[(progress->head + progress->waiting++) % MESHQ_STORE_AHEAD] =
        op;
    self->stats.recovered_records++;
    if (self->config.progress &&
        (self->stats.recovered_records & 0xffff) == 0) {
        uint64_t now = meshq_store_now_ns ();
        if (now >= progress->next_ns) {
            uint64_t done = progress->before + offset;
            meshq_store_log (self, MESHQ_STORE_NOTICE,
                             "store: recovering dir=%s percent=%" PRIu64
                             " mib=%" PRIu64 "/%" PRIu64 " segment=%u/%u",
                             self->directory, done * 100 / progress->total,
                             done >> 20, progress->total >> 20,
                             progress->index + 1, progress->count);
            progress->next_ns = now + 1000000000u;
        }
    }
    return 0;
}

//  Counts and logs one corrupt region.
static void
s_damage (meshq_store_t *self, meshq_store_segment_t *segment, uint64_t offset,
          uint64_t size, const char *reason, void *arg)
{
    (void)arg;
    self->stats.corrupt_records++;
    self->stats.corrupt_bytes += size;
    segment->corrupt += size;
    if (self->logged_corrupt++ < MESHQ_STORE_LOG_CORRUPT)
        meshq_store_log (self, MESHQ_STORE_WARNING,
                         "store: corrupt record skipped dir=%s segment=%" PRIu64
                         " offset=%" PRIu64 " bytes=%" PRIu64 " reason=%s",
                         self->directory, segment->number, offset, size,
                         reason);
}

//  Opens, checks and replays one listed segment.
static int
s_recover_segment (meshq_store_t *self, uint64_t number, bool last,
                   s_progress_t *progress)
{
    char name[MESHQ_STORE_SEGNAME + 1];
    meshq_store_segment_name (number, name);
    struct stat st;
    int fd = meshq_store_file_open (self, name, last ? O_RDWR : O_RDONLY, &st);
    if (fd < 0)
        return fd;
    uint64_t size = (uint64_t)st.st_size;
    meshq_store_window_reset (&self->window, fd, size);
    int rc = 0;
    meshq_segment_header_t header;
    const char *why = "segment larger than 4 GiB";
    const uint8_t *p = NULL;
    if (size <= UINT32_MAX)
        p = meshq_store_window_get (
            &self->window, 0,
            size < MESHQ_SEGMENT_HEADER ? (size_t)size : MESHQ_SEGMENT_HEADER,
            &rc);
    if (p)
        rc = meshq_codec_decode_segment (
            p,
            size < MESHQ_SEGMENT_HEADER ? (size_t)size : MESHQ_SEGMENT_HEADER,
            &header, &why);
    else if (size <= UINT32_MAX)
        why = "cannot read its header";
    if (!p || rc)
        rc = meshq_store_fail (self, rc == MESHQ_EVERSION ? rc : MESHQ_ECORRUPT,
                               "store '%s': %s: %s; nothing was changed",
                               self->directory, name, why);
    else if (memcmp (header.store_id, self->store_id, 16))
        rc = meshq_store_fail (self, MESHQ_EMALFORMED,
                               "store '%s': %s belongs to another store; "
                               "nothing was changed",
                               self->directory, name);
    else if (header.number != number)
        rc = meshq_store_fail (self, MESHQ_ECORRUPT,
                               "store '%s': %s says it is segment %" PRIu64
                               "; nothing was changed",
                               self->directory, name, header.number);
    if (rc) {
        close (fd);
        return rc;
    }
    meshq_store_segment_t *segment =
        meshq_store_segment_add (self, number, size);
    meshq_store_scan_t scan = {0};
    int64_t zeros = meshq_store_zeros_from (fd, MESHQ_SEGMENT_HEADER, size);
    if (zeros < 0) {
        int error = errno;
        close (fd);
        return meshq_store_fail (self, MESHQ_EIO,
                                 "store '%s': cannot read %s: %s",
                                 self->directory, name, strerror (error));
    }
    scan.zeros = (uint64_t)zeros;
    int64_t end = meshq_store_scan (self, segment, MESHQ_SEGMENT_HEADER, 0,
                                    s_replay, s_damage, progress, &scan);
    int drained = s_drain (self, progress, 0);
    if (end >= 0 && drained)
        end = drained;
    //  The segment table may have moved; find ours again.
    segment = meshq_store_segment (self, number);
    if (end < 0) {
        close (fd);
        return meshq_store_fail (
            self, (int)end, "store '%s': cannot recover %s: %s",
            self->directory, name, meshq_strerror ((int)end));
    }
    uint64_t kept = size;  //  The file's size from now on.
    if (scan.tail < size && scan.tail >= scan.zeros) {
        //  Only zeros after the records: space allocated ahead of them
        //  (store_reserve.c), kept for the next records if last.
        segment->size = scan.tail;
    } else if (scan.tail < size && last) {
        //  A write the crash cut short: no intact record follows it.
        if (ftruncate (fd, (off_t)scan.tail)) {
            int error = errno;
            close (fd);
            return meshq_store_fail (self, MESHQ_EIO,
                                     "store '%s': cannot cut the torn tail "
                                     "of %s: %s",
                                     self->directory, name, strerror (error));
        }
        self->stats.torn_bytes += size - scan.tail;
        meshq_store_log (self, MESHQ_STORE_NOTICE,
                         "store: torn tail cut dir=%s segment=%" PRIu64
                         " offset=%" PRIu64 " bytes=%" PRIu64,
                         self->directory, number, scan.tail, size - scan.tail);
        segment->size = scan.tail;
        kept = scan.tail;
    } else if (scan.tail < size)
        s_damage (self, segment, scan.tail, size - scan.tail,
                  "damage at the end of a full segment", NULL);
    self->bytes += segment->size;
    self->stats.recovered_bytes += size;
    progress->before += size;
    if (last) {
        self->active_fd = fd;
        self->reserved = kept;
    } else
        close (fd);
    return 0;
}

int
meshq_store_recover (meshq_store_t *self, const uint64_t *numbers,
                     uint32_t count)
{
    s_progress_t progress = {.count = count};
    for (uint32_t i = 0; i < count; i++) {
        char name[MESHQ_STORE_SEGNAME + 1];
        meshq_store_segment_name (numbers[i], name);
        struct stat st;
        if (fstatat (self->dir_fd, name, &st, 0) == 0)
            progress.total += (uint64_t)st.st_size;
    }
    if (progress.total < MESHQ_STORE_PROGRESS_MIN || !self->config.progress)
        progress.next_ns = UINT64_MAX;  //  Small stores say nothing.
    else {
        meshq_store_log (self, MESHQ_STORE_NOTICE,
                         "store: recovering dir=%s mib=%" PRIu64 " segments=%u",
                         self->directory, progress.total >> 20, count);
        progress.next_ns = meshq_store_now_ns () + 1000000000u;
    }
    if (progress.total == 0)
        progress.total = 1;
    uint64_t start = meshq_store_now_ns ();
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        progress.index = i;
        rc = s_recover_segment (self, numbers[i], i + 1 == count, &progress);
    }
    meshq_store_window_reset (&self->window, -1, 0);
    if (rc)
        return rc == MESHQ_ENOMEM
                   ? meshq_store_fail (self, rc,
                                       "store '%s': out of memory recovering",
                                       self->directory)
                   : rc;
    meshq_store_index_sort (self);
    if (self->logged_corrupt > MESHQ_STORE_LOG_CORRUPT)
        meshq_store_log (self, MESHQ_STORE_WARNING,
                         "store: corrupt records skipped dir=%s "
                         "regions=%" PRIu64 " bytes=%" PRIu64
                         " (only the first %u logged)",
                         self->directory, self->stats.corrupt_records,
                         self->stats.corrupt_bytes, MESHQ_STORE_LOG_CORRUPT);
    uint64_t ms = (meshq_store_now_ns () - start) / 1000000;
    meshq_store_log (self, MESHQ_STORE_NOTICE,
                     "store: recovered dir=%s segments=%u mib=%" PRIu64
                     " records=%" PRIu64 " live=%" PRIu64 " corrupt=%" PRIu64
                     " torn_bytes=%" PRIu64 " ms=%" PRIu64,
                     self->directory, count, self->stats.recovered_bytes >> 20,
                     self->stats.recovered_records, self->live,
                     self->stats.corrupt_records, self->stats.torn_bytes, ms);
    return 0;
}

// --------------------------------------------------------------------
//  foreach

//  Reads the record of entry i and calls the visitor. Returns the
//  visitor's code, or a negative code (logged) if the record is gone.
static int
s_visit_entry (meshq_store_t *self, uint32_t i, int *fd, uint64_t *open_number,
               meshq_store_enqueue_fn *on_enqueue, void *arg, int *damage)
{
    meshq_store_entry_t *entry = meshq_store_entry (self, i);
    meshq_store_segment_t *segment = meshq_store_segment (self, entry->segment);
    assert (segment);
    if (*open_number != segment->number) {
        if (*fd >= 0)
            close (*fd);
        *fd = meshq_store_segment_open (self, segment->number);
        *open_number = segment->number;
        meshq_store_window_reset (&self->window, *fd, segment->size);
    }
    int rc = MESHQ_EIO;
    const uint8_t *p =
        *fd >= 0 ? meshq_store_window_get (&self->window, entry->offset,
                                           entry->size, &rc)
                 : NULL;
    size_t frame;
    meshq_record_t record;
    const char *why = "cannot read it";
    if (p) {
        rc = meshq_codec_check_record (p, entry->size, segment->seed, &frame);
        why = "CRC mismatch";
    }
    if (p && rc == 0)
        rc = meshq_codec_decode_record (p, frame, &record, &why);
    if (rc == 0 && record.type != MESHQ_RECORD_ENQUEUE) {
        rc = MESHQ_ECORRUPT;
        why = "not an enqueue";
    }
    if (rc) {
        //  Read fine at open: the disk changed under us.
        meshq_store_log (self, MESHQ_STORE_ERROR,
                         "store: live record unreadable dir=%s segment=%" PRIu64
                         " offset=%u reason=%s",
                         self->directory, segment->number, entry->offset, why);
        *damage = rc == MESHQ_EIO ? MESHQ_EIO : MESHQ_ECORRUPT;
        return 0;
    }
    return on_enqueue (arg, meshq_store_queue_name (self, entry->queue),
                       meshq_store_origin_bytes (self, entry->origin),
                       entry->seq, record.data, record.size);
}

int
meshq_store_foreach (meshq_store_t *self, meshq_store_enqueue_fn *on_enqueue,
                     meshq_store_meta_fn *on_meta, void *arg)
{
    assert (self);
    if (!self->opened)
        return meshq_store_fail (self, MESHQ_ESTATE, "store '%s': not open",
                                 self->directory);
    for (uint32_t m = 0; on_meta && m < self->meta_count; m++) {
        meshq_store_meta_t *meta = &self->metas[m];
        int rc =
            on_meta (arg, meta->key, meta->version, meta->value, meta->size);
        if (rc)
            return rc;
    }
    if (!on_enqueue)
        return 0;
    meshq_store_index_sort (self);
    int fd = -1;
    uint64_t open_number = 0;
    int damage = 0;
    int rc = 0;
    for (uint32_t i = self->first; i && rc == 0;
         i = meshq_store_entry (self, i)->next)
        rc = s_visit_entry (self, i, &fd, &open_number, on_enqueue, arg,
                            &damage);
    if (fd >= 0)
        close (fd);
    meshq_store_window_reset (&self->window, -1, 0);
    //  A compaction step rereads its window.
    return rc ? rc : damage;
}
