/*  store_reserve.c - the active segment's space, allocated ahead.

    A commit that appends to the end of a file makes its fdatasync write
    the file's new size too: on ext4 a journal commit besides the data,
    which measured 90-150 us more per commit than a write into space the
    file already holds (bench/README.md). So the active segment's file is
    allocated to segment_size once, when it becomes active, and records
    are written into it: its size no longer changes on a commit.

    What follows the records is zeros. A segment ends where its records
    end: recovery reads a run of zeros to the end of a file as space
    allocated ahead, not as damage or a torn tail (no record starts with
    a zero byte where its type is). A full segment and a store closed
    cleanly are cut back to their records, so only a crash leaves zeros
    behind, and only in the active segment.
*/
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Bytes read at a time looking for the zeros at the end of a file.
#define S_CHUNK 65536

void
meshq_store_segment_reserve (meshq_store_t *self)
{
    if (self->active_fd < 0 || !self->segment_count)
        return;
    uint64_t want = self->config.segment_size;
    const meshq_store_segment_t *active =
        &self->segments[self->segment_count - 1];
    if (self->reserved >= want || active->size >= want)
        return;
    //  fallocate, not posix_fallocate: where the filesystem cannot, the
    //  C library would write the zeros itself, a whole segment at once.
    if (fallocate (self->active_fd, 0, 0, (off_t)want)) {
        meshq_store_log (self, MESHQ_STORE_INFO,
                         "store: segment not allocated ahead dir=%s "
                         "reason=%s",
                         self->directory, strerror (errno));
        return;
    }
    self->reserved = want;
}

int
meshq_store_segment_trim (meshq_store_t *self)
{
    if (self->active_fd < 0 || !self->segment_count)
        return 0;
    const meshq_store_segment_t *active =
        &self->segments[self->segment_count - 1];
    if (self->reserved <= active->size)
        return 0;
    if (ftruncate (self->active_fd, (off_t)active->size))
        return -1;
    self->reserved = active->size;
    return 0;
}

int64_t
meshq_store_zeros_from (int fd, uint64_t from, uint64_t size)
{
    static const uint8_t zeros[S_CHUNK];
    uint8_t chunk[S_CHUNK];
    uint64_t end = size;
    while (end > from) {
        size_t want = end - from < S_CHUNK ? (size_t)(end - from) : S_CHUNK;
        uint64_t start = end - want;
        size_t got = 0;
        while (got < want) {
            ssize_t rc =
                pread (fd, chunk + got, want - got, (off_t)(start + got));
            if (rc < 0 && errno == EINTR)
                continue;
            if (rc <= 0)
                return -1;
            got += (size_t)rc;
        }
        if (memcmp (chunk, zeros, want)) {
            size_t last = want;
            while (last > 0 && chunk[last - 1] == 0)
                last--;
            return (int64_t)(start + last);
        }
        end = start;
    }
    return (int64_t)from;
}
