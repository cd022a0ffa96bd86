/*  storeutil.h - helpers shared by the store's test suites.

    Header-only, like testutil.h: temporary directories made and removed
    by each test, a log hook that keeps lines instead of printing them,
    a done callback that records every ticket's status, envelopes whose
    bytes follow from their sequence number (so a reader can tell an
    intact one from a damaged one), and a model of what a store should
    hold, filled by foreach.
*/
#ifndef MESHQ_STOREUTIL_H_INCLUDED
#define MESHQ_STOREUTIL_H_INCLUDED

#include "store.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Origin of every message the tests store.
static const uint8_t storeutil_origin[16] = {
    0x6d, 0x65, 0x73, 0x68, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static inline int
storeutil_rm_one (const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove (path);
}

//  Makes a new empty directory under /tmp; returns it (free it).
static inline char *
storeutil_tmpdir (void)
{
    char *path = strdup ("/tmp/meshq-store-XXXXXX");
    cr_assert_not_null (mkdtemp (path));
    return path;
}

//  Removes path and everything under it, then frees path.
static inline void
storeutil_rmdir (char *path)
{
    if (path)
        nftw (path, storeutil_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free (path);
}

//  Log lines, kept instead of printed; warnings and errors counted.
typedef struct {
    char last[1024];     //  Last line.
    int warnings;        //  Lines at warning level.
    int errors;          //  Lines at error level.
    int progress_lines;  //  Recovery progress lines.
    bool print;          //  Also print them.
} storeutil_log_t;

static inline void
storeutil_log_fn (void *arg, int level, const char *line)
{
    storeutil_log_t *log = arg;
    snprintf (log->last, sizeof log->last, "%s", line);
    if (level == MESHQ_STORE_WARNING)
        log->warnings++;
    if (level == MESHQ_STORE_ERROR)
        log->errors++;
    if (strstr (line, "store: recovering"))
        log->progress_lines++;
    if (log->print || getenv ("MESHQ_TEST_VERBOSE"))
        fprintf (stderr, "[%d] %s\n", level, line);
}

//  Status of every ticket, by ticket, and how often each was called.
#define STOREUTIL_TICKETS 200000
typedef struct {
    int status[STOREUTIL_TICKETS];     //  Status the callback gave.
    uint8_t calls[STOREUTIL_TICKETS];  //  Calls per ticket.
    uint64_t count;                    //  Calls in all.
    uint64_t failures;                 //  Calls with status < 0.
} storeutil_done_t;

static inline void
storeutil_done_fn (void *arg, uint64_t ticket, int status)
{
    storeutil_done_t *done = arg;
    cr_assert_lt (ticket, STOREUTIL_TICKETS);
    done->status[ticket] = status;
    done->calls[ticket]++;
    done->count++;
    if (status < 0)
        done->failures++;
}

//  Writes the envelope of message seq (size bytes) into out.
static inline void
storeutil_envelope (uint64_t seq, uint8_t *out, size_t size)
{
    uint64_t state = seq * 0x9e3779b97f4a7c15ULL + 1;
    for (size_t i = 0; i < size; i++) {
        if (i % 8 == 0) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
        }
        out[i] = (uint8_t)(state >> (8 * (i % 8)));
    }
}

//  Size of message seq's envelope: varied, mostly small.
static inline size_t
storeutil_size (uint64_t seq)
{
    return 16 + (seq * 37) % 200;
}

//  True if data is message seq's envelope.
static inline bool
storeutil_intact (uint64_t seq, const void *data, size_t size)
{
    uint8_t expect[4096];
    if (size != storeutil_size (seq) || size > sizeof expect)
        return false;
    storeutil_envelope (seq, expect, size);
    return memcmp (expect, data, size) == 0;
}

//  Opens a new store on directory or fails the test.
static inline meshq_store_t *
storeutil_open (const char *directory, const meshq_store_config_t *config,
                storeutil_log_t *log)
{
    meshq_store_t *store = meshq_store_new (directory, config);
    if (log)
        meshq_store_set_log (store, storeutil_log_fn, log);
    const char *why = NULL;
    int rc = meshq_store_open (store, &why);
    cr_assert_eq (rc, 0, "open %s: %s (%s)", directory, meshq_strerror (rc),
                  why);
    return store;
}

//  Enqueues message seq on queue with its envelope.
static inline uint64_t
storeutil_enqueue (meshq_store_t *store, const char *queue, uint64_t seq,
                   meshq_sync_t sync)
{
    uint8_t envelope[4096];
    size_t size = storeutil_size (seq);
    storeutil_envelope (seq, envelope, size);
    uint64_t ticket = 0;
    int rc = meshq_store_enqueue (store, queue, storeutil_origin, seq, envelope,
                                  size, sync, &ticket);
    cr_assert_eq (rc, 0, "enqueue %llu: %s", (unsigned long long)seq,
                  meshq_store_why (store));
    return ticket;
}

static inline uint64_t
storeutil_ack (meshq_store_t *store, const char *queue, uint64_t seq,
               meshq_sync_t sync)
{
    uint64_t ticket = 0;
    int rc =
        meshq_store_ack (store, queue, storeutil_origin, seq, sync, &ticket);
    cr_assert_eq (rc, 0, "ack: %s", meshq_store_why (store));
    return ticket;
}

//  What foreach saw: messages by sequence (all on one origin), in order.
#define STOREUTIL_SEQS 200000
typedef struct {
    uint8_t seen[STOREUTIL_SEQS];    //  Times each sequence was visited.
    uint64_t order[STOREUTIL_SEQS];  //  Sequences in visit order.
    uint64_t count;                  //  Visits.
    uint64_t damaged;                //  Visits whose bytes were wrong.
    char queue[64];                  //  Queue to count, "" for all.
    uint64_t metas;                  //  Metadata visits.
    uint64_t tombstones;             //  Of which tombstones.
} storeutil_model_t;

static inline int
storeutil_visit (void *arg, const char *queue, const uint8_t origin[16],
                 uint64_t seq, const void *envelope, size_t size)
{
    storeutil_model_t *model = arg;
    if (model->queue[0] && strcmp (queue, model->queue))
        return 0;
    cr_assert_arr_eq (origin, storeutil_origin, 16);
    cr_assert_lt (seq, STOREUTIL_SEQS);
    model->seen[seq]++;
    model->order[model->count++] = seq;
    if (!storeutil_intact (seq, envelope, size))
        model->damaged++;
    return 0;
}

static inline int
storeutil_visit_meta (void *arg, const char *key, uint64_t version,
                      const void *value, size_t size)
{
    (void)key;
    (void)version;
    (void)size;
    storeutil_model_t *model = arg;
    model->metas++;
    if (!value)
        model->tombstones++;
    return 0;
}

//  Fills model (allocated, free it) from store.
static inline storeutil_model_t *
storeutil_model (meshq_store_t *store, const char *queue)
{
    storeutil_model_t *model = calloc (1, sizeof *model);
    cr_assert_not_null (model);
    if (queue)
        snprintf (model->queue, sizeof model->queue, "%s", queue);
    int rc = meshq_store_foreach (store, storeutil_visit, storeutil_visit_meta,
                                  model);
    cr_assert_eq (rc, 0, "foreach: %s", meshq_strerror (rc));
    return model;
}

//  Reads a whole file; returns its bytes (free them) and size.
static inline uint8_t *
storeutil_read (const char *path, size_t *size)
{
    int fd = open (path, O_RDONLY);
    cr_assert_geq (fd, 0, "open %s", path);
    struct stat st;
    fstat (fd, &st);
    uint8_t *data = malloc ((size_t)st.st_size + 1);
    cr_assert_eq (pread (fd, data, (size_t)st.st_size, 0), st.st_size);
    close (fd);
    *size = (size_t)st.st_size;
    return data;
}

//  Replaces a whole file with size bytes.
static inline void
storeutil_write (const char *path, const void *data, size_t size)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    cr_assert_geq (fd, 0, "open %s", path);
    cr_assert_eq (write (fd, data, size), (ssize_t)size);
    close (fd);
}

//  Path of segment number in directory (static buffer).
static inline const char *
storeutil_segment (const char *directory, uint64_t number)
{
    static char path[512];
    snprintf (path, sizeof path, "%s/%016llx.seg", directory,
              (unsigned long long)number);
    return path;
}

//  True if path exists.
static inline bool
storeutil_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

#endif
