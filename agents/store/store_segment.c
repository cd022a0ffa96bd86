/*  store_segment.c - the store's directory: MANIFEST, segments, lock.

    The MANIFEST names the segments that make up the log, so that a
    missing one is noticed instead of silently skipped. It changes only
    by writing MANIFEST.tmp, syncing it, renaming it over MANIFEST and
    syncing the directory, so it is always the old list or the new one.
    A segment is created (header written and synced) before the MANIFEST
    lists it, and dropped from the MANIFEST before it is deleted; a crash
    in between leaves a file the MANIFEST does not list, which open
    recognises and deletes: above the highest listed number it is a
    creation that did not finish and holds no records; below, a deletion
    that did not finish.

    Nothing is written or deleted before the directory has been checked
    to be ours: anything else in it, a MANIFEST of another format, or a
    segment of another store, is refused with a reason.
*/
#include "store_internal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

//  What a directory listing found.
typedef struct {
    bool manifest;      //  MANIFEST is there.
    bool tmp;           //  MANIFEST.tmp is there.
    char foreign[256];  //  First name that is not ours, or "".
    uint64_t *numbers;  //  Segment files, ascending.
    uint32_t count;     //  In numbers.
    uint32_t capacity;  //  Allocated.
} s_listing_t;

void
meshq_store_segment_name (uint64_t number, char *name)
{
    snprintf (name, MESHQ_STORE_SEGNAME + 1, "%016" PRIx64 ".seg", number);
}

//  Parses a segment file name; returns its number or 0.
static uint64_t
s_parse_name (const char *name)
{
    if (strlen (name) != MESHQ_STORE_SEGNAME || strcmp (name + 16, ".seg"))
        return 0;
    uint64_t number = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                           : -1;
        if (digit < 0)
            return 0;
        number = number << 4 | (uint64_t)digit;
    }
    return number;
}

static int
s_compare (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int
s_list (meshq_store_t *self, s_listing_t *list)
{
    free (list->numbers);
    memset (list, 0, sizeof *list);
    int fd = dup (self->dir_fd);
    DIR *dir = fd >= 0 ? fdopendir (fd) : NULL;
    if (!dir) {
        if (fd >= 0)
            close (fd);
        return meshq_store_fail (self, MESHQ_EIO, "store '%s': cannot list: %s",
                                 self->directory, strerror (errno));
    }
    rewinddir (dir);
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        const char *name = entry->d_name;
        uint64_t number = s_parse_name (name);
        if (name[0] == '.' || strcmp (name, "lost+found") == 0 ||
            strcmp (name, MESHQ_STORE_LOCK) == 0)
            continue;
        if (strcmp (name, MESHQ_STORE_MANIFEST) == 0)
            list->manifest = true;
        else if (strcmp (name, MESHQ_STORE_MANIFEST_TMP) == 0)
            list->tmp = true;
        else if (number) {
            if (list->count == list->capacity) {
                uint32_t capacity = list->capacity ? list->capacity * 2 : 16;
                uint64_t *numbers =
                    realloc (list->numbers, capacity * sizeof *numbers);
                if (!numbers) {
                    closedir (dir);
                    return meshq_store_fail (self, MESHQ_ENOMEM,
                                             "store: out of memory listing");
                }
                list->numbers = numbers;
                list->capacity = capacity;
            }
            list->numbers[list->count++] = number;
        } else if (!list->foreign[0])
            snprintf (list->foreign, sizeof list->foreign, "%s", name);
    }
    closedir (dir);
    if (list->count)
        qsort (list->numbers, list->count, sizeof *list->numbers, s_compare);
    return 0;
}

//  Refuses a directory without a MANIFEST that is not empty.
static int
s_check_bare (meshq_store_t *self, const s_listing_t *list)
{
    if (list->manifest)
        return 0;
    if (list->count) {
        char name[MESHQ_STORE_SEGNAME + 1];
        meshq_store_segment_name (list->numbers[0], name);
        return meshq_store_fail (
            self, MESHQ_ECORRUPT,
            "store '%s': %u segment files (first %s) but no MANIFEST; "
            "restore the MANIFEST or move the segments away, nothing "
            "was changed",
            self->directory, list->count, name);
    }
    if (list->foreign[0])
        return meshq_store_fail (
            self, MESHQ_EMALFORMED,
            "store '%s': the directory holds '%s', which is not part of "
            "a meshq store; use an empty directory, nothing was changed",
            self->directory, list->foreign);
    return 0;
}

//  Reads and checks the MANIFEST; fills *numbers and the store id.
static int
s_read_manifest (meshq_store_t *self, uint64_t **numbers, uint32_t *count)
{
    struct stat st;
    int fd = meshq_store_file_open (self, MESHQ_STORE_MANIFEST, O_RDONLY, &st);
    if (fd < 0)
        return fd;
    size_t most = MESHQ_MANIFEST_HEAD + (size_t)MESHQ_MANIFEST_MAX * 8 +
                  MESHQ_MANIFEST_TAIL;
    size_t size = (size_t)st.st_size;
    if (st.st_size < 0 || (uint64_t)st.st_size > most) {
        close (fd);
        return meshq_store_fail (self, MESHQ_EMALFORMED,
                                 "store '%s': MANIFEST of %lld bytes is not "
                                 "a meshq manifest; nothing was changed",
                                 self->directory, (long long)st.st_size);
    }
    uint8_t *data = malloc (size ? size : 1);
    ssize_t got = data ? pread (fd, data, size, 0) : -1;
    int error = errno;
    close (fd);
    if (!data || got != (ssize_t)size) {
        free (data);
        return meshq_store_fail (self, data ? MESHQ_EIO : MESHQ_ENOMEM,
                                 "store '%s': cannot read MANIFEST: %s",
                                 self->directory,
                                 got < 0 ? strerror (error) : "short read");
    }
    meshq_manifest_t manifest;
    const char *why;
    int rc = meshq_codec_decode_manifest (data, size, &manifest, &why);
    if (rc == MESHQ_EVERSION)
        rc = meshq_store_fail (self, rc,
                               "store '%s': MANIFEST has format %u; this "
                               "build reads %u; use a newer meshq, nothing "
                               "was changed",
                               self->directory, manifest.format,
                               MESHQ_STORE_FORMAT);
    else if (rc == MESHQ_EMALFORMED && memcmp (data, "MESHQMAN", 8))
        rc = meshq_store_fail (self, rc,
                               "store '%s': %s; this is not a meshq store, "
                               "nothing was changed",
                               self->directory, why);
    else if (rc)
        rc = meshq_store_fail (self, MESHQ_ECORRUPT,
                               "store '%s': %s; restore the MANIFEST from a "
                               "backup, nothing was changed",
                               self->directory, why);
    if (rc == 0) {
        memcpy (self->store_id, manifest.store_id, 16);
        *count = manifest.count;
        *numbers =
            malloc ((manifest.count ? manifest.count : 1) * sizeof **numbers);
        if (!*numbers)
            rc = meshq_store_fail (self, MESHQ_ENOMEM,
                                   "store: out of memory reading MANIFEST");
        for (uint32_t i = 0; *numbers && i < manifest.count; i++)
            (*numbers)[i] = meshq_codec_manifest_number (&manifest, i);
        //  The index keeps segment numbers in 32 bits.
        if (*numbers && manifest.count &&
            (*numbers)[manifest.count - 1] > UINT32_MAX)
            rc = meshq_store_fail (self, MESHQ_ENOTSUP,
                                   "store '%s': MANIFEST lists segment "
                                   "numbers above 2^32-1, which this build "
                                   "does not support; nothing was changed",
                                   self->directory);
    }
    free (data);
    return rc;
}

//  Returns true if the listing holds number.
static bool
s_listed (const uint64_t *numbers, uint32_t count, uint64_t number)
{
    return bsearch (&number, numbers, count, sizeof number, s_compare) != NULL;
}

//  Decides what to do with a segment the MANIFEST does not list.
static int
s_check_unlisted (meshq_store_t *self, uint64_t number, uint64_t highest)
{
    char name[MESHQ_STORE_SEGNAME + 1];
    meshq_store_segment_name (number, name);
    struct stat st;
    int fd = meshq_store_file_open (self, name, O_RDONLY, &st);
    if (fd < 0)
        return fd;
    uint8_t bytes[MESHQ_SEGMENT_HEADER];
    ssize_t got = pread (fd, bytes, sizeof bytes, 0);
    close (fd);
    meshq_segment_header_t header;
    const char *why;
    int rc = meshq_codec_decode_segment (bytes, got > 0 ? (size_t)got : 0,
                                         &header, &why);
    if (rc == 0 && memcmp (header.store_id, self->store_id, 16))
        return meshq_store_fail (self, MESHQ_EMALFORMED,
                                 "store '%s': %s belongs to another store; "
                                 "move it away, nothing was changed",
                                 self->directory, name);
    //  Above the highest listed number: a creation that did not finish,
    //  which never holds records. Anything longer is not explained.
    if (number > highest && st.st_size > MESHQ_SEGMENT_HEADER)
        return meshq_store_fail (self, MESHQ_ECORRUPT,
                                 "store '%s': %s holds %lld bytes but the "
                                 "MANIFEST does not list it; move it away, "
                                 "nothing was changed",
                                 self->directory, name, (long long)st.st_size);
    if (number < highest && rc)
        return meshq_store_fail (self, MESHQ_ECORRUPT,
                                 "store '%s': %s is not listed and not a "
                                 "segment of this store (%s); move it away, "
                                 "nothing was changed",
                                 self->directory, name, why);
    self->leftovers[self->leftover_count++] = number;
    return 0;
}

int
meshq_store_dir_open (meshq_store_t *self, bool *fresh, uint64_t **numbers,
                      uint32_t *count)
{
    *fresh = false;
    *numbers = NULL;
    *count = 0;
    self->dir_fd = open (self->directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dir_fd < 0)
        return meshq_store_fail (self, MESHQ_EIO, "store '%s': cannot open: %s",
                                 self->directory, strerror (errno));
    s_listing_t list = {0};
    int rc = s_list (self, &list);
    if (rc == 0)
        rc = s_check_bare (self, &list);
    if (rc == 0 && list.manifest) {
        //  Not even a LOCK file goes into a directory with a MANIFEST
        //  that is not ours.
        rc = s_read_manifest (self, numbers, count);
        free (*numbers);
        *numbers = NULL;
    }
    if (rc == 0) {
        //  The lock file is the first thing we write, and only once the
        //  directory is known to be empty or a store.
        self->lock_fd = openat (self->dir_fd, MESHQ_STORE_LOCK,
                                O_RDWR | O_CREAT | O_CLOEXEC, 0640);
        if (self->lock_fd < 0)
            rc = meshq_store_fail (self, MESHQ_EIO,
                                   "store '%s': cannot create LOCK: %s",
                                   self->directory, strerror (errno));
        else if (flock (self->lock_fd, LOCK_EX | LOCK_NB))
            rc = meshq_store_fail (self, MESHQ_ESTATE,
                                   "store '%s': in use by another store "
                                   "object or process (LOCK is held)",
                                   self->directory);
    }
    //  List again: the directory may have changed before we held it.
    if (rc == 0)
        rc = s_list (self, &list);
    if (rc == 0)
        rc = s_check_bare (self, &list);
    if (rc == 0 && list.foreign[0] && list.manifest)
        meshq_store_log (self, MESHQ_STORE_WARNING,
                         "store: ignoring a file that is not ours dir=%s "
                         "name=%s",
                         self->directory, list.foreign);
    self->leftover_tmp = list.tmp;
    if (list.count)
        self->max_number = list.numbers[list.count - 1];
    if (rc == 0 && !list.manifest)
        *fresh = true;
    else if (rc == 0)
        rc = s_read_manifest (self, numbers, count);
    if (rc == 0 && !*fresh) {
        uint64_t highest = *count ? (*numbers)[*count - 1] : 0;
        if (highest > self->max_number)
            self->max_number = highest;
        for (uint32_t i = 0; rc == 0 && i < *count; i++)
            if (!s_listed (list.numbers, list.count, (*numbers)[i])) {
                char name[MESHQ_STORE_SEGNAME + 1];
                meshq_store_segment_name ((*numbers)[i], name);
                rc = meshq_store_fail (
                    self, MESHQ_ENOTFOUND,
                    "store '%s': segment %s is listed in the MANIFEST but "
                    "missing; restore it from a backup, nothing was changed",
                    self->directory, name);
            }
        self->leftovers =
            malloc ((list.count ? list.count : 1) * sizeof *self->leftovers);
        if (!self->leftovers && rc == 0)
            rc = meshq_store_fail (self, MESHQ_ENOMEM, "store: out of memory");
        for (uint32_t i = 0; rc == 0 && i < list.count; i++)
            if (!s_listed (*numbers, *count, list.numbers[i]))
                rc = s_check_unlisted (self, list.numbers[i], highest);
    }
    free (list.numbers);
    return rc;
}

void
meshq_store_dir_tidy (meshq_store_t *self)
{
    char name[MESHQ_STORE_SEGNAME + 1];
    for (uint32_t i = 0; i < self->leftover_count; i++) {
        meshq_store_segment_name (self->leftovers[i], name);
        if (unlinkat (self->dir_fd, name, 0) == 0)
            meshq_store_log (self, MESHQ_STORE_INFO,
                             "store: deleted an unlisted segment dir=%s "
                             "name=%s",
                             self->directory, name);
    }
    self->leftover_count = 0;
    if (self->leftover_tmp)
        unlinkat (self->dir_fd, MESHQ_STORE_MANIFEST_TMP, 0);
    self->leftover_tmp = false;
}

//  Writes size bytes at offset 0 through the io hook.
static int
s_write_all (meshq_store_t *self, int fd, const void *data, size_t size)
{
    size_t done = 0;
    while (done < size) {
        struct iovec iov = {(char *)data + done, size - done};
        ssize_t rc = self->io.pwritev (self->io.arg, fd, &iov, 1, (off_t)done);
        if (rc > 0)
            done += (size_t)rc;
        else if (rc == 0 || errno != EINTR) {
            if (rc == 0)
                errno = ENOSPC;
            self->stats.io_errors++;
            return -1;
        }
    }
    return 0;
}

int
meshq_store_manifest_write (meshq_store_t *self, uint64_t extra, uint64_t skip)
{
    size_t count = 0;
    uint64_t *numbers = malloc ((self->segment_count + 1) * sizeof *numbers);
    if (!numbers)
        return meshq_store_fail (self, MESHQ_ENOMEM, "store: out of memory");
    for (size_t i = 0; i < self->segment_count; i++)
        if (self->segments[i].number != skip)
            numbers[count++] = self->segments[i].number;
    if (extra)
        numbers[count++] = extra;
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    int rc = meshq_codec_encode_manifest (self->store_id, numbers,
                                          (uint32_t)count, &buf);
    free (numbers);
    if (rc) {
        meshq_buf_fini (&buf);
        return meshq_store_fail (self, rc, "store: cannot encode MANIFEST");
    }
    int fd = openat (self->dir_fd, MESHQ_STORE_MANIFEST_TMP,
                     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int failed = fd < 0 || s_write_all (self, fd, buf.data, buf.size) ||
                 meshq_store_fsync (self, fd);
    int error = errno;
    if (fd >= 0)
        close (fd);
    meshq_buf_fini (&buf);
    if (!failed && renameat (self->dir_fd, MESHQ_STORE_MANIFEST_TMP,
                             self->dir_fd, MESHQ_STORE_MANIFEST)) {
        failed = 1;
        error = errno;
    }
    if (failed) {
        unlinkat (self->dir_fd, MESHQ_STORE_MANIFEST_TMP, 0);
        return meshq_store_fail (self, meshq_store_errno_code (error),
                                 "store '%s': cannot write MANIFEST: %s",
                                 self->directory, strerror (error));
    }
    //  After the rename, a failed directory sync leaves us not knowing
    //  which MANIFEST a crash would show.
    if (meshq_store_fsync (self, self->dir_fd)) {
        char reason[256];
        snprintf (reason, sizeof reason, "fsync of the directory: %s",
                  strerror (errno));
        return meshq_store_set_failed (self, reason);
    }
    return 0;
}

int
meshq_store_segment_create (meshq_store_t *self, uint64_t number)
{
    char name[MESHQ_STORE_SEGNAME + 1];
    meshq_store_segment_name (number, name);
    int flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC;
    int fd = openat (self->dir_fd, name, flags, 0640);
    if (fd < 0 && errno == EEXIST) {
        //  Left by a creation that failed: above every listed segment,
        //  so nothing in it counts.
        unlinkat (self->dir_fd, name, 0);
        fd = openat (self->dir_fd, name, flags, 0640);
    }
    if (fd < 0)
        return meshq_store_fail (self, meshq_store_errno_code (errno),
                                 "store '%s': cannot create %s: %s",
                                 self->directory, name, strerror (errno));
    meshq_segment_header_t header = {.number = number};
    memcpy (header.store_id, self->store_id, 16);
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    header.created =
        (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    uint8_t bytes[MESHQ_SEGMENT_HEADER];
    meshq_codec_encode_segment (&header, bytes);
    int rc = 0;
    if (s_write_all (self, fd, bytes, sizeof bytes) ||
        meshq_store_fsync (self, fd))
        rc = meshq_store_fail (self, meshq_store_errno_code (errno),
                               "store '%s': cannot write %s: %s",
                               self->directory, name, strerror (errno));
    if (rc == 0)
        rc = meshq_store_manifest_write (self, number, 0);
    if (rc) {
        close (fd);
        //  Once the MANIFEST may list it, the file must stay.
        if (!self->failed)
            unlinkat (self->dir_fd, name, 0);
        return rc;
    }
    if (self->active_fd >= 0)
        close (self->active_fd);
    self->active_fd = fd;
    self->reserved = MESHQ_SEGMENT_HEADER;
    meshq_store_segment_add (self, number, MESHQ_SEGMENT_HEADER);
    //  Only once the MANIFEST lists it: an unlisted segment longer than
    //  its header is one open refuses to guess about.
    meshq_store_segment_reserve (self);
    self->bytes += MESHQ_SEGMENT_HEADER;
    if (number > self->max_number)
        self->max_number = number;
    meshq_store_log (self, MESHQ_STORE_INFO,
                     "store: segment created dir=%s name=%s", self->directory,
                     name);
    return 0;
}

int
meshq_store_segment_delete (meshq_store_t *self, uint64_t number)
{
    meshq_store_segment_t *segment = meshq_store_segment (self, number);
    assert (segment && segment != &self->segments[self->segment_count - 1]);
    int rc = meshq_store_manifest_write (self, 0, number);
    if (rc)
        return rc;
    char name[MESHQ_STORE_SEGNAME + 1];
    meshq_store_segment_name (number, name);
    if (unlinkat (self->dir_fd, name, 0))
        //  Unlisted now: the next open deletes it.
        meshq_store_log (self, MESHQ_STORE_WARNING,
                         "store: cannot delete dir=%s name=%s reason=%s",
                         self->directory, name, strerror (errno));
    self->bytes -= segment->size;
    size_t index = (size_t)(segment - self->segments);
    memmove (segment, segment + 1,
             (self->segment_count - index - 1) * sizeof *segment);
    self->segment_count--;
    self->stats.deleted_segments++;
    meshq_store_log (self, MESHQ_STORE_INFO,
                     "store: segment deleted dir=%s name=%s", self->directory,
                     name);
    return 0;
}

meshq_store_segment_t *
meshq_store_segment (meshq_store_t *self, uint64_t number)
{
    size_t low = 0, high = self->segment_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        uint64_t here = self->segments[middle].number;
        if (here == number)
            return &self->segments[middle];
        if (here < number)
            low = middle + 1;
        else
            high = middle;
    }
    return NULL;
}

meshq_store_segment_t *
meshq_store_segment_add (meshq_store_t *self, uint64_t number, uint64_t size)
{
    assert (self->segment_count == 0 ||
            self->segments[self->segment_count - 1].number < number);
    if (self->segment_count == self->segment_capacity) {
        size_t capacity =
            self->segment_capacity ? self->segment_capacity * 2 : 16;
        meshq_store_segment_t *segments =
            realloc (self->segments, capacity * sizeof *segments);
        assert (segments);
        self->segments = segments;
        self->segment_capacity = capacity;
    }
    meshq_store_segment_t *segment = &self->segments[self->segment_count++];
    memset (segment, 0, sizeof *segment);
    segment->number = number;
    segment->size = size;
    segment->seed = meshq_codec_segment_seed (self->store_id, number);
    return segment;
}

int
meshq_store_file_open (meshq_store_t *self, const char *name, int flags,
                       struct stat *st)
{
    int fd = openat (self->dir_fd, name, flags | O_CLOEXEC);
    if (fd < 0 || fstat (fd, st)) {
        int error = errno;
        if (fd >= 0)
            close (fd);
        return meshq_store_fail (self, MESHQ_EIO,
                                 "store '%s': cannot read %s: %s",
                                 self->directory, name, strerror (error));
    }
    return fd;
}

int
meshq_store_segment_open (meshq_store_t *self, uint64_t number)
{
    char name[MESHQ_STORE_SEGNAME + 1];
    meshq_store_segment_name (number, name);
    return openat (self->dir_fd, name, O_RDONLY | O_CLOEXEC);
}
