/*  test_store_enospc.c - a full disk and I/O errors: every failure is a
    clean refusal, the store stays consistent, and reopening recovers
    exactly what was reported durable.

    The full disk is a small tmpfs, mounted in a private mount namespace
    so it goes away with the test process whatever happens; that needs
    root, and the test is skipped without it. The other failures are
    injected through meshq_store_set_io.
*/
#include "storeutil.h"

#include <errno.h>
#include <sched.h>
#include <sys/mount.h>

static char *s_dir;
static storeutil_log_t s_log;
static storeutil_done_t *s_done;

static void
s_setup (void)
{
    s_dir = storeutil_tmpdir ();
    memset (&s_log, 0, sizeof s_log);
    s_done = calloc (1, sizeof *s_done);
}

static void
s_teardown (void)
{
    umount2 (s_dir, MNT_DETACH);
    storeutil_rmdir (s_dir);
    free (s_done);
}

TestSuite (store, .init = s_setup, .fini = s_teardown);

//  Checks the store holds every message whose append was reported
//  durable, intact, none of those reported failed unless allowed, and
//  returns how many it holds.
static uint64_t
s_verify (const uint64_t *tickets, uint64_t count, bool failed_may_exist)
{
    meshq_store_t *store = storeutil_open (s_dir, NULL, &s_log);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->damaged, 0);
    for (uint64_t seq = 1; seq <= count; seq++) {
        uint64_t t = tickets[seq];
        if (!t || !s_done->calls[t])
            continue;
        if (s_done->status[t] == 0)
            cr_assert_eq (model->seen[seq], 1, "durable %llu lost",
                          (unsigned long long)seq);
        else if (!failed_may_exist)
            cr_assert_eq (model->seen[seq], 0, "failed %llu present",
                          (unsigned long long)seq);
    }
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_eq (stats.corrupt_records, 0);
    uint64_t held = model->count;
    free (model);
    meshq_store_destroy (&store);
    return held;
}

//  Appends groups of 8 until an enqueue or a commit fails; returns the
//  code. *seq is the last sequence used.
static int
s_fill (meshq_store_t *store, uint64_t *tickets, uint64_t *seq)
{
    for (;;) {
        for (int i = 0; i < 8; i++) {
            uint8_t envelope[512];
            size_t size = storeutil_size (*seq + 1);
            storeutil_envelope (*seq + 1, envelope, size);
            int rc = meshq_store_enqueue (
                store, "jobs", storeutil_origin, *seq + 1, envelope, size,
                MESHQ_SYNC_ALWAYS, &tickets[*seq + 1]);
            if (rc) {
                meshq_store_commit (store);
                return rc;
            }
            ++*seq;
        }
        int rc = meshq_store_commit (store);
        if (rc)
            return rc;
    }
}

Test (store, a_full_disk_is_a_clean_refusal_and_a_clean_reopen)
{
    if (geteuid () != 0 || unshare (CLONE_NEWNS) ||
        mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
        mount ("meshq-test", s_dir, "tmpfs", 0, "size=256k,mode=0700"))
        cr_skip_test ("needs root to mount a small tmpfs (%s)",
                      strerror (errno));
    static uint64_t tickets[STOREUTIL_SEQS];
    uint64_t seq = 0;
    //  With a free-space floor, enqueues stop before the disk is full.
    meshq_store_config_t config = {.segment_size = 32768, .min_free = 65536};
    meshq_store_t *store = storeutil_open (s_dir, &config, &s_log);
    meshq_store_set_done (store, storeutil_done_fn, s_done);
    cr_assert_eq (s_fill (store, tickets, &seq), MESHQ_EFULL);
    cr_assert (strstr (meshq_store_why (store), "min_free"), "%s",
               meshq_store_why (store));
    cr_assert_eq (s_done->failures, 0, "refused before writing");
    //  So acks still fit: they drain it and make room again.
    for (uint64_t s = 1; s <= seq; s++)
        if (s % 4)
            storeutil_ack (store, "jobs", s, MESHQ_SYNC_ALWAYS);
    cr_assert_eq (meshq_store_commit (store), 0, "%s", meshq_store_why (store));
    for (int i = 0; i < 1000 && meshq_store_tick (store) < 1000; i++)
        ;
    seq++;
    tickets[seq] = storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    cr_assert_eq (meshq_store_commit (store), 0, "%s", meshq_store_why (store));
    uint64_t acked = seq - 1;
    meshq_store_destroy (&store);

    //  Without the floor, the OS says no: a clean refusal all the same.
    config.min_free = 1;
    store = storeutil_open (s_dir, &config, &s_log);
    memset (s_done, 0, sizeof *s_done);
    meshq_store_set_done (store, storeutil_done_fn, s_done);
    uint64_t first = seq + 1;
    cr_assert_eq (s_fill (store, tickets, &seq), MESHQ_EFULL);
    cr_assert (strstr (meshq_store_why (store), "No space"), "%s",
               meshq_store_why (store));
    cr_assert_gt (s_done->failures, 0);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_gt (stats.refused_full, 0);
    //  Still consistent and usable, not a failed store: a small record
    //  may fit where the refused group was cut back.
    seq++;
    tickets[seq] = storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    int rc = meshq_store_commit (store);
    cr_assert (rc == 0 || rc == MESHQ_EFULL, "%s", meshq_strerror (rc));
    meshq_store_destroy (&store);
    //  Reopen on the full disk: open needs no space. Everything reported
    //  durable is there, nothing that failed, nothing acked.
    for (uint64_t s = 1; s < first; s++)
        tickets[s] = 0;
    s_verify (tickets, seq, false);
    store = storeutil_open (s_dir, NULL, &s_log);
    storeutil_model_t *model = storeutil_model (store, NULL);
    for (uint64_t s = 1; s <= acked; s++)
        cr_assert_eq (model->seen[s], s % 4 ? 0 : 1, "seq %llu",
                      (unsigned long long)s);
    free (model);
    meshq_store_destroy (&store);
}

//  Injected failures.
typedef struct {
    int64_t write_budget;   //  Bytes that may still be written; <0: any.
    int write_errno;        //  errno once the budget is spent.
    int fsync_errno;        //  Fail fdatasync with this, 0: never.
    const char *path_part;  //  Only files whose path contains this.
    bool exact;             //  Only the file whose path is path_part.
    int writes_failed;      //  Failures injected.
    int fsyncs_failed;      //  Failures injected.
} s_faults_t;

static bool
s_matches (const s_faults_t *faults, int fd)
{
    if (!faults->path_part)
        return true;
    char link[64], path[1024];
    snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t size = readlink (link, path, sizeof path - 1);
    if (size < 0)
        return false;
    path[size] = 0;
    if (faults->exact)
        return strcmp (path, faults->path_part) == 0;
    return strstr (path, faults->path_part) != NULL;
}

static ssize_t
s_pwritev (void *arg, int fd, const struct iovec *iov, int count, off_t offset)
{
    s_faults_t *faults = arg;
    if (faults->write_budget < 0 || !s_matches (faults, fd))
        return pwritev (fd, iov, count, offset);
    if (faults->write_budget == 0) {
        faults->writes_failed++;
        errno = faults->write_errno;
        return -1;
    }
    //  A short write: part of what was asked, as a full disk does.
    struct iovec part = iov[0];
    if ((int64_t)part.iov_len > faults->write_budget)
        part.iov_len = (size_t)faults->write_budget;
    ssize_t done = pwritev (fd, &part, 1, offset);
    if (done > 0)
        faults->write_budget -= done;
    return done;
}

static int
s_fdatasync (void *arg, int fd)
{
    s_faults_t *faults = arg;
    if (faults->fsync_errno && s_matches (faults, fd)) {
        faults->fsyncs_failed++;
        errno = faults->fsync_errno;
        return -1;
    }
    return fdatasync (fd);
}

static meshq_store_t *
s_open_faulty (s_faults_t *faults, uint64_t segment_size)
{
    meshq_store_config_t config = {.segment_size = segment_size};
    meshq_store_t *store = storeutil_open (s_dir, &config, &s_log);
    meshq_store_set_done (store, storeutil_done_fn, s_done);
    meshq_store_io_t io = {s_pwritev, s_fdatasync, faults};
    meshq_store_set_io (store, &io);
    return store;
}

Test (store, space_allocated_ahead_counts_as_free)
{
    if (geteuid () != 0 || unshare (CLONE_NEWNS) ||
        mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
        mount ("meshq-test", s_dir, "tmpfs", 0, "size=256k,mode=0700"))
        cr_skip_test ("needs root to mount a small tmpfs (%s)",
                      strerror (errno));
    static uint64_t tickets[STOREUTIL_SEQS];
    uint64_t seq = 0;
    //  The active segment takes 192 of the 256 KiB at once, leaving the
    //  filesystem less than min_free; the store still fills that space
    //  before it refuses, as it would have without allocating ahead.
    meshq_store_config_t config = {.segment_size = 196608, .min_free = 65536};
    meshq_store_t *store = storeutil_open (s_dir, &config, &s_log);
    meshq_store_set_done (store, storeutil_done_fn, s_done);
    cr_assert_eq (s_fill (store, tickets, &seq), MESHQ_EFULL);
    cr_assert (strstr (meshq_store_why (store), "min_free"), "%s",
               meshq_store_why (store));
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_gt (stats.bytes, 98304, "refused with %llu bytes stored",
                  (unsigned long long)stats.bytes);
    meshq_store_destroy (&store);
    cr_assert_eq (s_verify (tickets, seq, false), seq);
}

Test (store, a_failed_write_fails_its_group_and_leaves_no_half_record)
{
    static uint64_t tickets[128];
    int codes[] = {EIO, ENOSPC};
    s_faults_t faults = {.write_budget = -1};
    meshq_store_t *store = s_open_faulty (&faults, 0);
    for (int round = 0; round < 2; round++) {
        uint64_t base = (uint64_t)round * 60;
        for (uint64_t seq = base + 1; seq <= base + 20; seq++)
            tickets[seq] =
                storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
        cr_assert_eq (meshq_store_commit (store), 0);
        //  Part of the next group reaches the file, then the OS refuses.
        faults.write_budget = 1000;
        faults.write_errno = codes[round];
        for (uint64_t seq = base + 21; seq <= base + 40; seq++)
            tickets[seq] =
                storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
        int expect = codes[round] == EIO ? MESHQ_EIO : MESHQ_EFULL;
        cr_assert_eq (meshq_store_commit (store), expect);
        for (uint64_t seq = base + 21; seq <= base + 40; seq++)
            cr_assert_eq (s_done->status[tickets[seq]], expect);
        //  The file was cut back, so the store goes on.
        faults.write_budget = -1;
        for (uint64_t seq = base + 41; seq <= base + 60; seq++)
            tickets[seq] =
                storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
        cr_assert_eq (meshq_store_commit (store), 0, "%s",
                      meshq_store_why (store));
    }
    meshq_store_destroy (&store);
    cr_assert_eq (s_verify (tickets, 120, false), 80);
}

Test (store, a_failed_fsync_fails_the_store_until_reopened)
{
    static uint64_t tickets[128];
    s_faults_t faults = {.write_budget = -1};
    meshq_store_t *store = s_open_faulty (&faults, 0);
    for (uint64_t seq = 1; seq <= 20; seq++)
        tickets[seq] =
            storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    cr_assert_eq (meshq_store_commit (store), 0);
    faults.fsync_errno = EIO;
    for (uint64_t seq = 21; seq <= 40; seq++)
        tickets[seq] =
            storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    cr_assert_eq (meshq_store_commit (store), MESHQ_EIO);
    for (uint64_t seq = 21; seq <= 40; seq++)
        cr_assert_eq (s_done->status[tickets[seq]], MESHQ_EIO);
    cr_assert_geq (s_log.errors, 1);
    //  Linux may have dropped the pages: no more appends until reopen.
    faults.fsync_errno = 0;
    uint64_t ticket;
    cr_assert_eq (meshq_store_enqueue (store, "jobs", storeutil_origin, 41, "x",
                                       1, MESHQ_SYNC_ALWAYS, &ticket),
                  MESHQ_EIO);
    cr_assert (strstr (meshq_store_why (store), "open"), "%s",
               meshq_store_why (store));
    cr_assert_eq (meshq_store_commit (store), MESHQ_EIO);
    meshq_store_destroy (&store);
    //  The failed group may or may not have reached the disk.
    uint64_t held = s_verify (tickets, 40, true);
    cr_assert_geq (held, 20);
}

Test (store, a_failed_segment_creation_is_undone)
{
    static uint64_t tickets[STOREUTIL_SEQS];
    s_faults_t faults = {.write_budget = -1};
    meshq_store_t *store = s_open_faulty (&faults, 4096);
    uint64_t seq = 0;
    //  Fill segment 1 without crossing into segment 2.
    meshq_store_stats_t stats;
    do {
        seq++;
        tickets[seq] =
            storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
        cr_assert_eq (meshq_store_commit (store), 0);
        meshq_store_stats (store, &stats);
    } while (stats.bytes < 3800);
    //  The next segment's header cannot be written.
    faults.write_budget = 0;
    faults.write_errno = ENOSPC;
    faults.path_part = "0000000000000002.seg";
    uint64_t first_failed = seq + 1;
    for (int i = 0; i < 10; i++) {
        seq++;
        tickets[seq] =
            storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    }
    cr_assert_eq (meshq_store_commit (store), MESHQ_EFULL);
    cr_assert_gt (faults.writes_failed, 0);
    cr_assert_not (storeutil_exists (storeutil_segment (s_dir, 2)));
    uint64_t failed = 0;
    for (uint64_t s = first_failed; s <= seq; s++)
        failed += s_done->status[tickets[s]] != 0;
    cr_assert_gt (failed, 0);
    //  A new MANIFEST cannot be written either: still a clean refusal.
    faults.path_part = "MANIFEST.tmp";
    for (int i = 0; i < 30; i++) {
        seq++;
        tickets[seq] =
            storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    }
    cr_assert_eq (meshq_store_commit (store), MESHQ_EFULL);
    cr_assert_not (storeutil_exists (storeutil_segment (s_dir, 2)));
    faults.write_budget = -1;
    for (int i = 0; i < 30; i++) {
        seq++;
        tickets[seq] =
            storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    }
    cr_assert_eq (meshq_store_commit (store), 0, "%s", meshq_store_why (store));
    meshq_store_destroy (&store);
    s_verify (tickets, seq, false);
}

Test (store, a_failed_directory_sync_fails_the_store_until_reopened)
{
    static uint64_t tickets[STOREUTIL_SEQS];
    s_faults_t faults = {.write_budget = -1};
    meshq_store_t *store = s_open_faulty (&faults, 4096);
    //  Only the directory's fsync fails: the MANIFEST rename may or may
    //  not be on disk.
    faults.fsync_errno = EIO;
    faults.path_part = s_dir;
    faults.exact = true;
    uint64_t seq = 0;
    int rc = 0;
    while (rc == 0 && seq < 1000) {
        seq++;
        tickets[seq] =
            storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
        rc = meshq_store_commit (store);
    }
    cr_assert_eq (rc, MESHQ_EIO);
    cr_assert_gt (faults.fsyncs_failed, 0);
    meshq_store_destroy (&store);
    s_verify (tickets, seq, true);
}
