/*  test_store_recovery.c - opening what is on disk: damage in the middle
    is skipped and counted, a torn tail is cut, and directories that are
    not ours, of a future format or missing a segment are refused with
    nothing changed.
*/
#include "codec_store.h"
#include "crc32c.h"
#include "storeutil.h"
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

static char *s_dir;
static storeutil_log_t s_log;

static void
s_setup (void)
{
    s_dir = storeutil_tmpdir ();
    memset (&s_log, 0, sizeof s_log);
}

static void
s_teardown (void)
{
    storeutil_rmdir (s_dir);
}

TestSuite (store, .init = s_setup, .fini = s_teardown);

//  Makes a store of messages 1..count on "jobs", one commit per group.
static void
s_fill (uint64_t count, uint64_t segment_size)
{
    meshq_store_config_t config = {.segment_size = segment_size};
    meshq_store_t *store = storeutil_open (s_dir, &config, &s_log);
    for (uint64_t seq = 1; seq <= count; seq++) {
        storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
        if (seq % 16 == 0)
            cr_assert_eq (meshq_store_commit (store), 0);
    }
    cr_assert_eq (meshq_store_commit (store), 0);
    meshq_store_destroy (&store);
}

static uint32_t
s_get32 (const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

//  Walks the records of a healthy segment file: offsets[i] is where
//  record i starts, offsets[count] where the file ends.
static size_t
s_offsets (const uint8_t *data, size_t size, size_t *offsets, size_t most)
{
    size_t count = 0;
    size_t pos = MESHQ_SEGMENT_HEADER;
    while (pos + MESHQ_RECORD_HEADER <= size && count < most) {
        offsets[count++] = pos;
        pos += MESHQ_RECORD_HEADER + s_get32 (data + pos);
    }
    cr_assert_eq (pos, size, "not a healthy segment");
    offsets[count] = pos;
    return count;
}

//  Opens the store, checks it holds exactly the messages in expect
//  (1..n where expect[seq]), intact, and returns its stats.
static meshq_store_stats_t
s_check (const bool *expect, uint64_t n)
{
    meshq_store_t *store = storeutil_open (s_dir, NULL, &s_log);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->damaged, 0);
    for (uint64_t seq = 1; seq <= n; seq++)
        cr_assert_eq (model->seen[seq], expect[seq] ? 1 : 0, "seq %llu",
                      (unsigned long long)seq);
    free (model);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    meshq_store_destroy (&store);
    return stats;
}

//  A listing of the directory with each file's size and CRC, to prove
//  a refusal changed nothing.
static char *
s_snapshot (void)
{
    char *text = calloc (1, 65536);
    DIR *dir = opendir (s_dir);
    struct dirent *entry;
    char names[64][64];
    int count = 0;
    while ((entry = readdir (dir)) && count < 64)
        if (entry->d_name[0] != '.')
            snprintf (names[count++], 64, "%.63s", entry->d_name);
    closedir (dir);
    qsort (names, (size_t)count, 64,
           (int (*) (const void *, const void *))strcmp);
    for (int i = 0; i < count; i++) {
        char path[700];
        snprintf (path, sizeof path, "%.500s/%.63s", s_dir, names[i]);
        size_t size;
        uint8_t *data = storeutil_read (path, &size);
        size_t used = strlen (text);
        snprintf (text + used, 65536 - used, "%s:%zu:%08x\n", names[i], size,
                  meshq_crc32c (0, data, size));
        free (data);
    }
    return text;
}

//  Opens, expecting code and a reason containing part; checks nothing in
//  the directory changed.
static void
s_refused (int code, const char *part)
{
    char *before = s_snapshot ();
    meshq_store_t *store = meshq_store_new (s_dir, NULL);
    meshq_store_set_log (store, storeutil_log_fn, &s_log);
    const char *why = NULL;
    int rc = meshq_store_open (store, &why);
    cr_assert_eq (rc, code, "got %s (%s), expected %s", meshq_strerror (rc),
                  why, meshq_strerror (code));
    cr_assert (strstr (why, part), "reason '%s' lacks '%s'", why, part);
    cr_assert (strstr (why, "nothing was changed"), "%s", why);
    meshq_store_destroy (&store);
    char *after = s_snapshot ();
    cr_assert_str_eq (before, after);
    free (before);
    free (after);
}

static const char *
s_path (const char *name)
{
    static char path[600];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    return path;
}

Test (store, skips_a_corrupt_record_and_keeps_every_one_after_it)
{
    s_fill (100, 0);
    const char *segment = storeutil_segment (s_dir, 1);
    size_t size;
    uint8_t *data = storeutil_read (segment, &size);
    size_t offsets[128];
    cr_assert_eq (s_offsets (data, size, offsets, 127), 100);
    data[offsets[49] + 20] ^= 0x40;  //  Inside message 50's payload.
    storeutil_write (segment, data, size);
    bool expect[101];
    for (int i = 1; i <= 100; i++)
        expect[i] = i != 50;
    meshq_store_stats_t stats = s_check (expect, 100);
    cr_assert_eq (stats.corrupt_records, 1);
    cr_assert_eq (stats.corrupt_bytes, offsets[50] - offsets[49]);
    cr_assert_eq (stats.torn_bytes, 0);
    cr_assert_geq (s_log.warnings, 1);
    cr_assert (strstr (s_log.last, "recovered"), "%s", s_log.last);
    free (data);
}

Test (store, a_segment_with_damage_is_kept_as_found)
{
    //  What the store skipped may be a record of a newer writer, or one
    //  a repair tool can salvage: once its messages are acked, the
    //  damaged segment stays, byte for byte; the others go.
    s_fill (100, 4096);
    char first[PATH_MAX], second[PATH_MAX];
    snprintf (first, sizeof first, "%s", storeutil_segment (s_dir, 1));
    snprintf (second, sizeof second, "%s", storeutil_segment (s_dir, 2));
    cr_assert (storeutil_exists (second), "the messages fill two segments");
    size_t size;
    uint8_t *data = storeutil_read (first, &size);
    size_t offsets[64];
    s_offsets (data, size, offsets, 63);
    data[offsets[1] + 20] ^= 0x40;  //  Inside message 2's payload.
    storeutil_write (first, data, size);
    meshq_store_config_t config = {.segment_size = 4096};
    meshq_store_t *store = storeutil_open (s_dir, &config, &s_log);
    for (uint64_t seq = 1; seq <= 100; seq++)
        if (seq != 2)
            storeutil_ack (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    cr_assert_eq (meshq_store_commit (store), 0);
    for (int i = 0; i < 100; i++)
        meshq_store_tick (store);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_expect_eq (stats.live_records, 0);
    cr_expect_gt (stats.deleted_segments, 0, "the healthy dead segments go");
    meshq_store_destroy (&store);
    cr_expect_not (storeutil_exists (second));
    cr_assert (storeutil_exists (first), "the damaged segment was deleted");
    size_t kept_size;
    uint8_t *kept = storeutil_read (first, &kept_size);
    cr_expect (kept_size == size && memcmp (kept, data, size) == 0,
               "the damaged segment was changed");
    free (kept);
    free (data);
}

Test (store, damage_anywhere_in_a_record_loses_only_that_record)
{
    s_fill (60, 0);
    const char *segment = storeutil_segment (s_dir, 1);
    size_t size;
    uint8_t *data = storeutil_read (segment, &size);
    size_t offsets[64];
    s_offsets (data, size, offsets, 63);
    bool expect[61];
    for (int i = 1; i <= 60; i++)
        expect[i] = i != 30;
    //  Every byte of message 30: header, CRC, type and payload.
    for (size_t at = offsets[29]; at < offsets[30]; at++) {
        data[at] ^= 0xff;
        storeutil_write (segment, data, size);
        meshq_store_stats_t stats = s_check (expect, 60);
        cr_assert_eq (stats.corrupt_records, 1, "byte %zu", at - offsets[29]);
        data[at] ^= 0xff;
    }
    free (data);
}

Test (store, cuts_a_torn_tail_at_every_offset_of_the_last_record)
{
    s_fill (40, 0);
    const char *segment = storeutil_segment (s_dir, 1);
    size_t size;
    uint8_t *data = storeutil_read (segment, &size);
    size_t offsets[64];
    s_offsets (data, size, offsets, 63);
    bool expect[42];
    for (int i = 1; i <= 41; i++)
        expect[i] = i < 40;
    for (size_t cut = offsets[39]; cut < size; cut++) {
        storeutil_write (segment, data, cut);
        meshq_store_stats_t stats = s_check (expect, 41);
        cr_assert_eq (stats.torn_bytes, cut - offsets[39]);
        cr_assert_eq (stats.corrupt_records, 0);
        struct stat st;
        stat (segment, &st);
        cr_assert_eq ((size_t)st.st_size, offsets[39], "tail cut off");
        if (cut % 7)
            continue;
        //  And the store goes on from there.
        meshq_store_t *store = storeutil_open (s_dir, NULL, &s_log);
        storeutil_enqueue (store, "jobs", 41, MESHQ_SYNC_ALWAYS);
        cr_assert_eq (meshq_store_commit (store), 0);
        meshq_store_destroy (&store);
        expect[41] = true;
        s_check (expect, 41);
        expect[41] = false;
    }
    free (data);
}

Test (store, cuts_garbage_appended_to_the_last_segment)
{
    s_fill (30, 0);
    const char *segment = storeutil_segment (s_dir, 1);
    size_t size;
    uint8_t *data = storeutil_read (segment, &size);
    bool expect[31];
    for (int i = 1; i <= 30; i++)
        expect[i] = true;
    uint64_t state = testutil_seed ("store.garbage");
    uint8_t *junk = malloc (size + 5000);
    for (int round = 0; round < 3; round++) {
        memcpy (junk, data, size);
        for (size_t i = 0; i < 5000; i++)
            junk[size + i] = round == 0   ? 0
                             : round == 1 ? (uint8_t)testutil_random (&state)
                                          : (uint8_t)(i % 3 + 1);
        storeutil_write (segment, junk, size + 5000);
        meshq_store_stats_t stats = s_check (expect, 30);
        //  Zeros are space allocated ahead of the records, not a tear.
        cr_assert_eq (stats.torn_bytes, round == 0 ? 0 : 5000, "round %d",
                      round);
    }
    free (junk);
    free (data);
}

//  In a child: opens the store with segments of size, appends and
//  commits sequences first..last one by one, each synced, then dies by
//  SIGKILL, as a crashed agent does.
static void
s_killed (uint64_t size, uint64_t first, uint64_t last)
{
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        meshq_store_config_t config = {.segment_size = size};
        meshq_store_t *store = meshq_store_new (s_dir, &config);
        if (meshq_store_open (store, NULL))
            _exit (1);
        for (uint64_t seq = first; seq <= last; seq++) {
            storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
            if (meshq_store_commit (store))
                _exit (2);
        }
        raise (SIGKILL);
        _exit (3);
    }
    int status = 0;
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    cr_assert (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
               "child ended with status %d", status);
}

Test (store, a_killed_store_keeps_every_record_and_the_space_ahead)
{
    //  The active segment is allocated to its full size ahead of its
    //  records, so that a commit's fdatasync does not change its size.
    const uint64_t size = 1 << 20;
    s_killed (size, 1, 100);
    const char *segment = storeutil_segment (s_dir, 1);
    struct stat st;
    cr_assert_eq (stat (segment, &st), 0);
    cr_assert_eq ((uint64_t)st.st_size, size, "allocated ahead");
    //  Recovered with the zeros still there: the next records go right
    //  after the last one, not after the zeros.
    s_killed (size, 101, 110);
    cr_assert_eq (stat (segment, &st), 0);
    cr_assert_eq ((uint64_t)st.st_size, size, "still allocated ahead");
    bool expect[112];
    for (int i = 1; i <= 111; i++)
        expect[i] = i <= 110;
    meshq_store_stats_t stats = s_check (expect, 111);
    cr_assert_eq (stats.torn_bytes, 0, "zeros are no torn tail");
    cr_assert_eq (stats.corrupt_records, 0, "zeros are no damage");
    //  Closed cleanly, a segment keeps only its records.
    size_t bytes;
    uint8_t *data = storeutil_read (segment, &bytes);
    size_t offsets[128];
    cr_assert_eq (s_offsets (data, bytes, offsets, 127), 110);
    free (data);
}

Test (store, a_full_segment_keeps_only_its_records)
{
    s_fill (200, 4096);
    //  Segments 1..n-1 were cut back when the next one began, the last
    //  one when the store closed: each ends where its records do.
    for (uint64_t number = 1;; number++) {
        const char *segment = storeutil_segment (s_dir, number);
        struct stat st;
        if (stat (segment, &st))
            break;
        size_t bytes;
        uint8_t *data = storeutil_read (segment, &bytes);
        size_t offsets[64];
        s_offsets (data, bytes, offsets, 63);
        free (data);
    }
}

Test (store, damage_at_the_end_of_a_full_segment_is_counted_not_cut)
{
    s_fill (200, 4096);
    const char *segment = storeutil_segment (s_dir, 2);
    size_t size;
    uint8_t *data = storeutil_read (segment, &size);
    uint8_t *longer = malloc (size + 100);
    memcpy (longer, data, size);
    memset (longer + size, 0x5a, 100);
    storeutil_write (segment, longer, size + 100);
    bool expect[201];
    for (int i = 1; i <= 200; i++)
        expect[i] = true;
    meshq_store_stats_t stats = s_check (expect, 200);
    cr_assert_eq (stats.corrupt_records, 1);
    cr_assert_eq (stats.corrupt_bytes, 100);
    cr_assert_eq (stats.torn_bytes, 0);
    struct stat st;
    stat (segment, &st);
    cr_assert_eq ((size_t)st.st_size, size + 100, "left in place");
    free (longer);
    free (data);
}

Test (store, a_record_hidden_in_a_body_never_comes_to_life)
{
    //  A publisher could put bytes that look like an ack of message 7
    //  into a body. If the record around them is damaged, the resync
    //  reads them; without the store's seed their CRC cannot match.
    meshq_store_t *store = storeutil_open (s_dir, NULL, &s_log);
    for (uint64_t seq = 1; seq <= 10; seq++)
        storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    meshq_buf_t fake;
    meshq_buf_init (&fake);
    meshq_record_t ack = {.type = MESHQ_RECORD_ACK,
                          .name = "jobs",
                          .name_size = 4,
                          .origin = storeutil_origin,
                          .seq = 7};
    for (uint32_t seed = 0; seed < 64; seed++)
        meshq_codec_encode_record (&ack, seed, &fake, NULL);
    cr_assert_eq (meshq_store_enqueue (store, "evil", storeutil_origin, 11,
                                       fake.data, fake.size, MESHQ_SYNC_ALWAYS,
                                       NULL),
                  0);
    storeutil_enqueue (store, "jobs", 12, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    meshq_store_destroy (&store);
    const char *segment = storeutil_segment (s_dir, 1);
    size_t size;
    uint8_t *data = storeutil_read (segment, &size);
    size_t offsets[16];
    s_offsets (data, size, offsets, 15);
    data[offsets[10] + 4] ^= 1;  //  The evil record's CRC.
    storeutil_write (segment, data, size);
    store = storeutil_open (s_dir, NULL, &s_log);
    storeutil_model_t *model = storeutil_model (store, "jobs");
    cr_assert_eq (model->seen[7], 1);
    cr_assert_eq (model->seen[12], 1);
    free (model);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_eq (stats.corrupt_records, 1);
    cr_assert_eq (stats.unmatched_acks, 0);
    meshq_store_destroy (&store);
    meshq_buf_fini (&fake);
    free (data);
}

Test (store, refuses_a_directory_that_is_not_a_store)
{
    storeutil_write (s_path ("notes.txt"), "mine", 4);
    s_refused (MESHQ_EMALFORMED, "notes.txt");
    cr_assert_not (storeutil_exists (s_path ("LOCK")));
    cr_assert_not (storeutil_exists (s_path ("MANIFEST")));
}

Test (store, refuses_a_manifest_that_is_not_ours)
{
    storeutil_write (s_path ("MANIFEST"), "[core]\nname = x\n", 16);
    s_refused (MESHQ_EMALFORMED, "not a meshq");
}

Test (store, refuses_a_damaged_manifest)
{
    s_fill (5, 0);
    size_t size;
    uint8_t *data = storeutil_read (s_path ("MANIFEST"), &size);
    data[20] ^= 1;
    storeutil_write (s_path ("MANIFEST"), data, size);
    s_refused (MESHQ_ECORRUPT, "CRC");
    free (data);
}

Test (store, refuses_a_future_format)
{
    s_fill (5, 0);
    size_t size;
    uint8_t *data = storeutil_read (s_path ("MANIFEST"), &size);
    data[8] = 2;
    storeutil_write (s_path ("MANIFEST"), data, size);
    s_refused (MESHQ_EVERSION, "format 2");
    data[8] = 1;
    storeutil_write (s_path ("MANIFEST"), data, size);
    free (data);
    const char *segment = storeutil_segment (s_dir, 1);
    data = storeutil_read (segment, &size);
    data[8] = 7;
    storeutil_write (segment, data, size);
    s_refused (MESHQ_EVERSION, "newer");
    free (data);
}

Test (store, refuses_a_missing_segment)
{
    s_fill (300, 4096);
    char name[64];
    snprintf (name, sizeof name, "%016x.seg", 3);
    char moved[600];
    snprintf (moved, sizeof moved, "%s.moved", s_dir);
    cr_assert_eq (rename (storeutil_segment (s_dir, 3), moved), 0);
    s_refused (MESHQ_ENOTFOUND, name);
    cr_assert_eq (rename (moved, storeutil_segment (s_dir, 3)), 0);
    //  The last one too.
    meshq_store_t *store = storeutil_open (s_dir, NULL, &s_log);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    meshq_store_destroy (&store);
    const char *last = storeutil_segment (s_dir, stats.segments);
    size_t size;
    uint8_t *data = storeutil_read (last, &size);
    unlink (last);
    snprintf (name, sizeof name, "%016llx.seg",
              (unsigned long long)stats.segments);
    s_refused (MESHQ_ENOTFOUND, name);
    free (data);
}

Test (store, refuses_segment_numbers_it_cannot_index)
{
    s_fill (5, 0);
    uint8_t id[16];
    size_t size;
    uint8_t *data = storeutil_read (s_path ("MANIFEST"), &size);
    memcpy (id, data + 16, 16);
    free (data);
    uint64_t numbers[] = {1, 0x100000000ULL};
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_codec_encode_manifest (id, numbers, 2, &buf);
    storeutil_write (s_path ("MANIFEST"), buf.data, buf.size);
    meshq_buf_fini (&buf);
    s_refused (MESHQ_ENOTSUP, "2^32");
}

Test (store, refuses_segments_without_a_manifest)
{
    s_fill (5, 0);
    unlink (s_path ("MANIFEST"));
    s_refused (MESHQ_ECORRUPT, "no MANIFEST");
}

Test (store, refuses_a_segment_of_another_store)
{
    s_fill (5, 0);
    //  Inside our directory, so teardown removes it whatever happens.
    char *other = malloc (strlen (s_dir) + 8);
    sprintf (other, "%s/other", s_dir);
    meshq_store_t *store = storeutil_open (other, NULL, &s_log);
    storeutil_enqueue (store, "jobs", 1, MESHQ_SYNC_ALWAYS);
    meshq_store_destroy (&store);
    size_t size;
    uint8_t *data = storeutil_read (storeutil_segment (other, 1), &size);
    storeutil_rmdir (other);
    storeutil_write (storeutil_segment (s_dir, 1), data, size);
    s_refused (MESHQ_EMALFORMED, "another store");
    free (data);
}

Test (store, refuses_a_segment_that_is_not_a_segment)
{
    s_fill (5, 0);
    storeutil_write (storeutil_segment (s_dir, 1), "hello, world", 12);
    s_refused (MESHQ_ECORRUPT, "not a meshq segment");
}

//  Reads the store id from the MANIFEST.
static void
s_store_id (uint8_t id[16])
{
    size_t size;
    uint8_t *data = storeutil_read (s_path ("MANIFEST"), &size);
    memcpy (id, data + 16, 16);
    free (data);
}

Test (store, finishes_a_segment_creation_a_crash_interrupted)
{
    s_fill (20, 0);
    uint8_t id[16];
    s_store_id (id);
    meshq_segment_header_t header = {.number = 2};
    memcpy (header.store_id, id, 16);
    uint8_t bytes[MESHQ_SEGMENT_HEADER];
    meshq_codec_encode_segment (&header, bytes);
    //  Created, synced, but not yet in the MANIFEST.
    storeutil_write (storeutil_segment (s_dir, 2), bytes, sizeof bytes);
    storeutil_write (s_path ("MANIFEST.tmp"), "half", 4);
    bool expect[21];
    for (int i = 1; i <= 20; i++)
        expect[i] = true;
    s_check (expect, 20);
    cr_assert_not (storeutil_exists (storeutil_segment (s_dir, 2)));
    cr_assert_not (storeutil_exists (s_path ("MANIFEST.tmp")));
    //  A half-written header is a creation cut short too.
    storeutil_write (storeutil_segment (s_dir, 2), bytes, 30);
    s_check (expect, 20);
    cr_assert_not (storeutil_exists (storeutil_segment (s_dir, 2)));
    //  But an unlisted file holding records is not ours to delete.
    uint8_t longer[MESHQ_SEGMENT_HEADER + 10] = {0};
    memcpy (longer, bytes, sizeof bytes);
    storeutil_write (storeutil_segment (s_dir, 2), longer, sizeof longer);
    s_refused (MESHQ_ECORRUPT, "does not list");
}

Test (store, finishes_a_segment_deletion_a_crash_interrupted)
{
    s_fill (200, 4096);
    uint8_t id[16];
    s_store_id (id);
    meshq_store_t *store = storeutil_open (s_dir, NULL, &s_log);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    meshq_store_destroy (&store);
    cr_assert_gt (stats.segments, 2);
    //  Segment 1 dropped from the MANIFEST, but its file still there.
    uint64_t numbers[64];
    for (uint64_t i = 2; i <= stats.segments; i++)
        numbers[i - 2] = i;
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_codec_encode_manifest (id, numbers, (uint32_t)stats.segments - 1,
                                 &buf);
    storeutil_write (s_path ("MANIFEST"), buf.data, buf.size);
    meshq_buf_fini (&buf);
    store = storeutil_open (s_dir, NULL, &s_log);
    cr_assert_not (storeutil_exists (storeutil_segment (s_dir, 1)));
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->seen[1], 0);
    cr_assert_eq (model->seen[200], 1);
    free (model);
    meshq_store_destroy (&store);
}

Test (store, reports_progress_recovering_a_large_store)
{
    meshq_store_config_t config = {.progress = true};
    meshq_store_t *store = storeutil_open (s_dir, &config, &s_log);
    static uint8_t envelope[65536];
    for (uint64_t seq = 1; seq <= 1100; seq++)
        cr_assert_eq (meshq_store_enqueue (store, "big", storeutil_origin, seq,
                                           envelope, sizeof envelope,
                                           MESHQ_SYNC_NONE, NULL),
                      0);
    meshq_store_commit (store);
    meshq_store_destroy (&store);
    storeutil_log_t log = {0};
    store = storeutil_open (s_dir, &config, &log);
    cr_assert (strstr (log.last, "recovered"), "%s", log.last);
    cr_assert_gt (log.progress_lines, 0);
    meshq_store_destroy (&store);
    //  Without the option, only the summary.
    memset (&log, 0, sizeof log);
    store = storeutil_open (s_dir, NULL, &log);
    cr_assert_eq (log.progress_lines, 0);
    meshq_store_destroy (&store);
}
