/*  store.c - the durable store against the raw rates of the same disk.

    Appends of 128-byte envelopes with MESHQ_SYNC_ALWAYS, committed in
    groups of 1, 8, 64 and 512 appends (the appends of one loop turn),
    and with MESHQ_SYNC_NONE. Each is compared with the ceiling of the
    same disk measured by this program in the same run: for a group of
    N, N write() calls of 128 bytes and one fdatasync. Also the classic
    ceilings (fdatasync per record, 1000 records per fdatasync, buffered
    write MB/s) and the recovery of a 1 GiB store, with the page cache
    warm and with the store's pages dropped (posix_fadvise) so that open
    reads the disk. Every figure is the median of the runs.

    Usage: bench_store [directory [runs]]; the directory (default
    /var/tmp) gets temporary files and stores, deleted at the end.
*/
#include "bench_util.h"
#include "store.h"

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_RECORD         128
#define S_MAX_RUNS       15
#define S_RECOVERY_BYTES (1ull << 30)

static int s_runs = 3;
static const char *s_base = "/var/tmp";

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
s_median (double *values)
{
    return meshq_bench_median (values, s_runs);
}

static int
s_rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove (path);
}

static void
s_rmdir (const char *path)
{
    nftw (path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
s_tmpdir (void)
{
    char *path = malloc (strlen (s_base) + 32);
    sprintf (path, "%s/meshq-bench-XXXXXX", s_base);
    if (!mkdtemp (path)) {
        perror ("bench_store: mkdtemp");
        exit (1);
    }
    return path;
}

static void
s_die (const char *what)
{
    perror (what);
    exit (1);
}

// --------------------------------------------------------------------
//  Raw ceilings

//  Records per second writing count records of 128 bytes, group per
//  fdatasync; one write() per record, or one per group if batched.
static double
s_raw (uint64_t count, uint64_t group, bool batched)
{
    char *dir = s_tmpdir ();
    char path[600];
    snprintf (path, sizeof path, "%s/raw", dir);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0)
        s_die ("bench_store: open");
    uint8_t *buffer = malloc (group * S_RECORD);
    memset (buffer, 'r', group * S_RECORD);
    count -= count % group;
    double start = s_now ();
    for (uint64_t done = 0; done < count; done += group) {
        if (batched) {
            if (write (fd, buffer, group * S_RECORD) !=
                (ssize_t)(group * S_RECORD))
                s_die ("bench_store: write");
        } else
            for (uint64_t i = 0; i < group; i++)
                if (write (fd, buffer, S_RECORD) != S_RECORD)
                    s_die ("bench_store: write");
        if (fdatasync (fd))
            s_die ("bench_store: fdatasync");
    }
    double rate = (double)count / (s_now () - start);
    close (fd);
    free (buffer);
    s_rmdir (dir);
    free (dir);
    return rate;
}

//  Records per second of write() per record with no fsync, and MB/s of
//  1 MiB writes with no fsync.
static void
s_buffered (double *records, double *mbps)
{
    char *dir = s_tmpdir ();
    char path[600];
    snprintf (path, sizeof path, "%s/raw", dir);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0)
        s_die ("bench_store: open");
    static uint8_t chunk[1 << 20];
    memset (chunk, 'b', sizeof chunk);
    uint64_t count = 1000000;
    double start = s_now ();
    for (uint64_t i = 0; i < count; i++)
        if (write (fd, chunk, S_RECORD) != S_RECORD)
            s_die ("bench_store: write");
    *records = (double)count / (s_now () - start);
    if (ftruncate (fd, 0))
        s_die ("bench_store: ftruncate");
    start = s_now ();
    for (int i = 0; i < 256; i++)
        if (write (fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
            s_die ("bench_store: write");
    *mbps = 256.0 / (s_now () - start);
    close (fd);
    s_rmdir (dir);
    free (dir);
}

// --------------------------------------------------------------------
//  The store

static uint64_t s_completed;
static uint64_t s_failed;

static void
s_done (void *arg, uint64_t ticket, int status)
{
    (void)arg;
    (void)ticket;
    s_completed++;
    if (status)
        s_failed++;
}

static void
s_quiet (void *arg, int level, const char *line)
{
    (void)arg;
    if (level <= MESHQ_STORE_WARNING)
        fprintf (stderr, "%s\n", line);
}

static meshq_store_t *
s_open (const char *dir)
{
    meshq_store_t *store = meshq_store_new (dir, NULL);
    meshq_store_set_log (store, s_quiet, NULL);
    meshq_store_set_done (store, s_done, NULL);
    const char *why;
    if (meshq_store_open (store, &why)) {
        fprintf (stderr, "bench_store: %s\n", why);
        exit (1);
    }
    return store;
}

static const uint8_t s_origin[16] = {1, 2,  3,  4,  5,  6,  7,  8,
                                     9, 10, 11, 12, 13, 14, 15, 16};

//  Appends per second: count appends of 128-byte envelopes, group per
//  commit, in a new store.
static double
s_store (uint64_t count, uint64_t group, meshq_sync_t sync)
{
    char *dir = s_tmpdir ();
    meshq_store_t *store = s_open (dir);
    uint8_t envelope[S_RECORD];
    memset (envelope, 'e', sizeof envelope);
    s_completed = s_failed = 0;
    count -= count % group;
    double start = s_now ();
    for (uint64_t seq = 0; seq < count;) {
        for (uint64_t i = 0; i < group; i++, seq++)
            if (meshq_store_enqueue (store, "bench", s_origin, seq, envelope,
                                     sizeof envelope, sync, NULL)) {
                fprintf (stderr, "bench_store: %s\n", meshq_store_why (store));
                exit (1);
            }
        if (meshq_store_commit (store)) {
            fprintf (stderr, "bench_store: %s\n", meshq_store_why (store));
            exit (1);
        }
    }
    double rate = (double)count / (s_now () - start);
    if (s_completed != count || s_failed) {
        fprintf (stderr, "bench_store: %" PRIu64 " of %" PRIu64 " done\n",
                 s_completed - s_failed, count);
        exit (1);
    }
    meshq_store_destroy (&store);
    s_rmdir (dir);
    free (dir);
    return rate;
}

// --------------------------------------------------------------------
//  Recovery

static uint64_t s_visited;

static int
s_visit (void *arg, const char *queue, const uint8_t origin[16], uint64_t seq,
         const void *envelope, size_t size)
{
    (void)arg;
    (void)queue;
    (void)origin;
    (void)seq;
    (void)envelope;
    s_visited += size;
    return 0;
}

//  Drops the store's pages from the page cache, so open reads the disk.
static void
s_drop_cache (const char *dir)
{
    for (uint64_t number = 1; number < 1000; number++) {
        char path[600];
        snprintf (path, sizeof path, "%s/%016" PRIx64 ".seg", dir, number);
        int fd = open (path, O_RDONLY);
        if (fd < 0)
            continue;
        fdatasync (fd);
        posix_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED);
        close (fd);
    }
}

typedef struct {
    double bytes;      //  Bytes of segments.
    uint64_t records;  //  Live records.
    double open_warm;  //  Seconds, median.
    double foreach;    //  Seconds, median.
    double open_cold;  //  Seconds, median.
    double build;      //  Seconds to write it.
} s_recovery_t;

static s_recovery_t
s_recovery (void)
{
    s_recovery_t result = {0};
    char *dir = s_tmpdir ();
    meshq_store_t *store = s_open (dir);
    uint8_t envelope[S_RECORD];
    memset (envelope, 'e', sizeof envelope);
    meshq_store_stats_t stats;
    double start = s_now ();
    uint64_t seq = 0;
    do {
        for (int i = 0; i < 4096; i++, seq++)
            meshq_store_enqueue (store, "bench", s_origin, seq, envelope,
                                 sizeof envelope, MESHQ_SYNC_NONE, NULL);
        if (meshq_store_commit (store)) {
            fprintf (stderr, "bench_store: %s\n", meshq_store_why (store));
            exit (1);
        }
        meshq_store_stats (store, &stats);
    } while (stats.bytes < S_RECOVERY_BYTES);
    meshq_store_destroy (&store);
    result.build = s_now () - start;
    result.bytes = (double)stats.bytes;
    result.records = seq;
    double warm[S_MAX_RUNS], each[S_MAX_RUNS], cold[S_MAX_RUNS];
    for (int run = 0; run < s_runs; run++) {
        fprintf (stderr, "  recovery run %d/%d\n", run + 1, s_runs);
        start = s_now ();
        store = s_open (dir);
        warm[run] = s_now () - start;
        s_visited = 0;
        start = s_now ();
        meshq_store_foreach (store, s_visit, NULL, NULL);
        each[run] = s_now () - start;
        meshq_store_stats (store, &stats);
        if (stats.live_records != seq || s_visited != seq * S_RECORD) {
            fprintf (stderr,
                     "bench_store: recovered %" PRIu64 " of %" PRIu64 "\n",
                     stats.live_records, seq);
            exit (1);
        }
        meshq_store_destroy (&store);
        s_drop_cache (dir);
        start = s_now ();
        store = s_open (dir);
        cold[run] = s_now () - start;
        meshq_store_destroy (&store);
    }
    result.open_warm = s_median (warm);
    result.foreach = s_median (each);
    result.open_cold = s_median (cold);
    s_rmdir (dir);
    free (dir);
    return result;
}

int
main (int argc, char *argv[])
{
    if (argc > 1)
        s_base = argv[1];
    if (argc > 2)
        s_runs = atoi (argv[2]);
    if (s_runs < 1 || s_runs > S_MAX_RUNS) {
        fprintf (stderr, "usage: bench_store [directory [runs (1..%d)]]\n",
                 S_MAX_RUNS);
        return 64;
    }
    static const uint64_t groups[] = {1, 8, 64, 512};
    static const uint64_t counts[] = {2000, 12000, 60000, 300000};
    enum { S_GROUPS = 4 };
    double always[S_GROUPS][S_MAX_RUNS], none[S_GROUPS][S_MAX_RUNS];
    double raw[S_GROUPS][S_MAX_RUNS];
    double per_record[S_MAX_RUNS], per_1000[S_MAX_RUNS],
        per_1000_one[S_MAX_RUNS];
    double buffered[S_MAX_RUNS], mbps[S_MAX_RUNS];
    fprintf (stderr, "bench_store: %d runs in %s\n", s_runs, s_base);
    for (int run = 0; run < s_runs; run++) {
        fprintf (stderr, "  run %d/%d\n", run + 1, s_runs);
        //  Store and raw alternate, so that both see the same disk.
        for (int g = 0; g < S_GROUPS; g++) {
            raw[g][run] = s_raw (counts[g], groups[g], false);
            always[g][run] = s_store (counts[g], groups[g], MESHQ_SYNC_ALWAYS);
            //  The same million for every group: ~175 MB, two segment
            //  rolls, each of which syncs what 'none' left unsynced.
            none[g][run] = s_store (1000000, groups[g], MESHQ_SYNC_NONE);
        }
        per_record[run] = s_raw (2000, 1, false);
        per_1000[run] = s_raw (300000, 1000, false);
        per_1000_one[run] = s_raw (300000, 1000, true);
        s_buffered (&buffered[run], &mbps[run]);
    }
    double raw_buffered = s_median (buffered);
    printf ("| %-8s | %5s | %12s | %14s | %7s |\n", "sync", "group",
            "appends/s", "raw records/s", "vs raw");
    printf ("|----------|-------|--------------|----------------|---------|\n");
    for (int g = 0; g < S_GROUPS; g++) {
        double ceiling = s_median (raw[g]);
        double rate = s_median (always[g]);
        printf ("| %-8s | %5" PRIu64 " | %12.0f | %14.0f | %6.0f%% |\n",
                "always", groups[g], rate, ceiling, 100 * rate / ceiling);
    }
    for (int g = 0; g < S_GROUPS; g++) {
        double rate = s_median (none[g]);
        printf ("| %-8s | %5" PRIu64 " | %12.0f | %14.0f | %6.0f%% |\n", "none",
                groups[g], rate, raw_buffered, 100 * rate / raw_buffered);
    }
    printf ("\n| %-46s | %14s |\n", "raw ceiling of the disk", "rate");
    printf ("|------------------------------------------------|"
            "----------------|\n");
    printf ("| %-46s | %10.0f r/s |\n",
            "write() + fdatasync per 128-byte record", s_median (per_record));
    printf ("| %-46s | %10.0f r/s |\n", "1000 write()s per fdatasync",
            s_median (per_1000));
    printf ("| %-46s | %10.0f r/s |\n",
            "1000 records as one write() per fdatasync",
            s_median (per_1000_one));
    printf ("| %-46s | %10.0f r/s |\n", "write() per record, no fsync",
            raw_buffered);
    printf ("| %-46s | %9.0f MB/s |\n", "1 MiB write()s, no fsync",
            s_median (mbps));
    fflush (stdout);

    s_recovery_t recovery = s_recovery ();
    double mib = recovery.bytes / (1 << 20);
    printf ("\n| %-34s | %9s | %10s |\n", "recovery of a 1 GiB store",
            "seconds", "MB/s");
    printf (
        "|------------------------------------|-----------|------------|\n");
    printf ("| %-34s | %9.2f | %10.0f |\n", "open, page cache warm",
            recovery.open_warm, recovery.bytes / 1e6 / recovery.open_warm);
    printf ("| %-34s | %9.2f | %10.0f |\n", "foreach (reads every envelope)",
            recovery.foreach, recovery.bytes / 1e6 / recovery.foreach);
    printf ("| %-34s | %9.2f | %10.0f |\n", "open, store's pages dropped",
            recovery.open_cold, recovery.bytes / 1e6 / recovery.open_cold);
    printf ("\n%.0f MiB, %" PRIu64 " live records of 128 bytes; written with "
            "'none' in %.1f s\n",
            mib, recovery.records, recovery.build);
    return 0;
}
