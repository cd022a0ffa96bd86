/*  test_store.c - the store's API: appends, group commit, sync classes,
    foreach, metadata, segments, deletion, compaction, quota and stats.
    Recovery from damage, crashes and a full disk have their own suites.
*/
#include "codec_store.h"
#include "store_internal.h"
#include "storeutil.h"

#include <dirent.h>
#include <time.h>

static uint64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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
    storeutil_rmdir (s_dir);
    free (s_done);
}

TestSuite (store, .init = s_setup, .fini = s_teardown);

static meshq_store_t *
s_open (const meshq_store_config_t *config)
{
    meshq_store_t *store = storeutil_open (s_dir, config, &s_log);
    meshq_store_set_done (store, storeutil_done_fn, s_done);
    return store;
}

//  Counts segment files in the store directory.
static int
s_segment_files (void)
{
    DIR *dir = opendir (s_dir);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (strstr (entry->d_name, ".seg"))
            count++;
    closedir (dir);
    return count;
}

Test (store, creates_a_directory_and_reopens_it_empty)
{
    char path[600];
    snprintf (path, sizeof path, "%s/new", s_dir);
    meshq_store_t *store = storeutil_open (path, NULL, &s_log);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_eq (stats.segments, 1);
    cr_assert_eq (stats.live_records, 0);
    meshq_store_destroy (&store);
    cr_assert_null (store);
    meshq_store_destroy (&store);  //  NULL-safe.
    store = storeutil_open (path, NULL, &s_log);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->count, 0);
    free (model);
    meshq_store_destroy (&store);
}

Test (store, keeps_enqueues_across_reopen_in_append_order)
{
    meshq_store_t *store = s_open (NULL);
    for (uint64_t seq = 1; seq <= 500; seq++)
        storeutil_enqueue (store, seq % 2 ? "odd" : "even", seq,
                           MESHQ_SYNC_ALWAYS);
    cr_assert_eq (meshq_store_commit (store), 0);
    meshq_store_destroy (&store);
    store = s_open (NULL);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->count, 500);
    cr_assert_eq (model->damaged, 0);
    for (uint64_t i = 0; i < 500; i++)
        cr_assert_eq (model->order[i], i + 1);
    free (model);
    model = storeutil_model (store, "odd");
    cr_assert_eq (model->count, 250);
    free (model);
    meshq_store_destroy (&store);
}

Test (store, ack_removes_a_message_for_good)
{
    meshq_store_t *store = s_open (NULL);
    for (uint64_t seq = 1; seq <= 10; seq++)
        storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    storeutil_ack (store, "jobs", 3, MESHQ_SYNC_ALWAYS);
    storeutil_ack (store, "jobs", 7, MESHQ_SYNC_ALWAYS);
    //  The same sequence on another queue is another message.
    storeutil_ack (store, "other", 5, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_eq (stats.live_records, 8);
    cr_assert_eq (stats.unmatched_acks, 1);
    meshq_store_destroy (&store);
    store = s_open (NULL);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->count, 8);
    cr_assert_eq (model->seen[3] + model->seen[7], 0);
    cr_assert_eq (model->seen[5], 1);
    free (model);
    meshq_store_destroy (&store);
}

Test (store, an_emptied_index_and_buffers_are_given_back_when_idle)
{
    //  A burst of 20000 messages and their acks, in one commit each: the
    //  index grows a chunk and its table, the append buffers their size.
    meshq_store_t *store = s_open (NULL);
    for (uint64_t seq = 1; seq <= 20000; seq++)
        storeutil_enqueue (store, "burst", seq, MESHQ_SYNC_NONE);
    cr_assert_eq (meshq_store_commit (store), 0);
    for (uint64_t seq = 1; seq <= 20000; seq++)
        storeutil_ack (store, "burst", seq, MESHQ_SYNC_NONE);
    cr_assert_eq (meshq_store_commit (store), 0);
    cr_assert_gt (store->chunk_count, 0);
    cr_assert_gt (store->op_capacity, 4096);
    //  Idle and empty: the next tick gives it all back.
    for (int i = 0; i < 100 && (store->chunk_count || store->op_capacity); i++)
        meshq_store_tick (store);
    cr_expect_eq (store->chunk_count, 0);
    cr_expect_null (store->table);
    cr_expect_eq (store->op_capacity, 0);
    cr_expect_leq (store->pending.capacity, 1u << 20);
    cr_expect_null (store->window.data);
    //  And the store works on as before, across a reopen.
    for (uint64_t seq = 20001; seq <= 20100; seq++)
        storeutil_enqueue (store, "burst", seq, MESHQ_SYNC_ALWAYS);
    storeutil_ack (store, "burst", 20050, MESHQ_SYNC_ALWAYS);
    cr_assert_eq (meshq_store_commit (store), 0);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_expect_eq (stats.live_records, 99);
    meshq_store_destroy (&store);
    store = s_open (NULL);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_expect_eq (model->count, 99);
    cr_expect_eq (model->damaged, 0);
    cr_expect_eq (model->seen[20050], 0);
    cr_expect_eq (model->seen[100], 0);
    free (model);
    meshq_store_destroy (&store);
}

Test (store, group_commit_is_one_write_and_one_fsync)
{
    meshq_store_t *store = s_open (NULL);
    meshq_store_stats_t before, after;
    meshq_store_stats (store, &before);
    uint64_t first = 0, last = 0;
    for (uint64_t seq = 1; seq <= 512; seq++) {
        last = storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
        if (!first)
            first = last;
    }
    //  Nothing is durable, nothing called back, before the commit.
    cr_assert_eq (s_done->count, 0);
    cr_assert_eq (meshq_store_commit (store), 0);
    meshq_store_stats (store, &after);
    cr_assert_eq (after.fsyncs - before.fsyncs, 1);
    cr_assert_eq (after.commits - before.commits, 1);
    cr_assert_eq (s_done->count, 512);
    for (uint64_t t = first; t <= last; t++) {
        cr_assert_eq (s_done->calls[t], 1);
        cr_assert_eq (s_done->status[t], 0);
    }
    //  An empty commit does nothing.
    cr_assert_eq (meshq_store_commit (store), 0);
    meshq_store_stats (store, &before);
    cr_assert_eq (before.fsyncs, after.fsyncs);
    meshq_store_destroy (&store);
}

Test (store, sync_none_writes_without_fsync)
{
    meshq_store_t *store = s_open (NULL);
    meshq_store_stats_t before, after;
    meshq_store_stats (store, &before);
    uint64_t ticket = storeutil_enqueue (store, "jobs", 1, MESHQ_SYNC_NONE);
    meshq_store_commit (store);
    meshq_store_stats (store, &after);
    cr_assert_eq (after.fsyncs, before.fsyncs);
    cr_assert_eq (s_done->calls[ticket], 1);
    meshq_store_destroy (&store);
    store = s_open (NULL);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->count, 1);
    free (model);
    meshq_store_destroy (&store);
}

Test (store, sync_interval_completes_with_the_next_fsync)
{
    meshq_store_config_t config = {.interval_ms = 1};
    meshq_store_t *store = s_open (&config);
    uint64_t a = storeutil_enqueue (store, "jobs", 1, MESHQ_SYNC_INTERVAL);
    meshq_store_commit (store);
    cr_assert_eq (s_done->calls[a], 0, "not durable yet");
    //  An 'always' commit syncs, which makes the earlier one durable.
    uint64_t b = storeutil_enqueue (store, "jobs", 2, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    cr_assert_eq (s_done->calls[a], 1);
    cr_assert_eq (s_done->calls[b], 1);
    //  Alone, it waits for tick, which is due within the interval.
    cr_assert_eq (meshq_store_timeout (store), 1000);
    uint64_t c = storeutil_enqueue (store, "jobs", 3, MESHQ_SYNC_INTERVAL);
    meshq_store_commit (store);
    cr_assert_eq (s_done->calls[c], 0);
    cr_assert_leq (meshq_store_timeout (store), 1);
    int wait = meshq_store_tick (store);
    cr_assert_leq (wait, 1);
    //  Time has to pass for an interval; tick as the agent's timer would.
    uint64_t deadline = s_now_ns () + 10000000000ULL;
    while (s_done->calls[c] == 0 && s_now_ns () < deadline)
        meshq_store_tick (store);
    cr_assert_eq (s_done->calls[c], 1);
    cr_assert_eq (s_done->status[c], 0);
    meshq_store_destroy (&store);
}

//  Appends one message from inside the callback, once.
static meshq_store_t *s_reentrant_store;
static int s_reentrant_calls;
static int s_reentrant_commit_rc;

static void
s_reentrant_done (void *arg, uint64_t ticket, int status)
{
    storeutil_done_fn (arg, ticket, status);
    if (s_reentrant_calls++ == 0) {
        storeutil_enqueue (s_reentrant_store, "jobs", 99, MESHQ_SYNC_ALWAYS);
        s_reentrant_commit_rc = meshq_store_commit (s_reentrant_store);
    }
}

Test (store, callbacks_may_append_but_not_commit)
{
    meshq_store_t *store = s_open (NULL);
    s_reentrant_store = store;
    meshq_store_set_done (store, s_reentrant_done, s_done);
    storeutil_enqueue (store, "jobs", 1, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    cr_assert_eq (s_reentrant_commit_rc, MESHQ_ESTATE);
    cr_assert_eq (s_done->count, 1);
    cr_assert_eq (meshq_store_commit (store), 0);
    cr_assert_eq (s_done->count, 2);
    meshq_store_destroy (&store);
    store = s_open (NULL);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->seen[99], 1);
    free (model);
    meshq_store_destroy (&store);
}

Test (store, destroy_writes_what_is_pending)
{
    meshq_store_t *store = s_open (NULL);
    storeutil_enqueue (store, "jobs", 1, MESHQ_SYNC_ALWAYS);
    meshq_store_destroy (&store);
    cr_assert_eq (s_done->count, 0, "no callbacks from destroy");
    store = s_open (NULL);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->count, 1);
    free (model);
    meshq_store_destroy (&store);
}

Test (store, a_second_enqueue_of_an_id_replaces_the_first)
{
    meshq_store_t *store = s_open (NULL);
    storeutil_enqueue (store, "jobs", 1, MESHQ_SYNC_ALWAYS);
    storeutil_enqueue (store, "jobs", 2, MESHQ_SYNC_ALWAYS);
    storeutil_enqueue (store, "jobs", 1, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    meshq_store_destroy (&store);
    store = s_open (NULL);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->count, 2);
    //  Stored again, it is newer: it comes last.
    cr_assert_eq (model->order[0], 2);
    cr_assert_eq (model->order[1], 1);
    free (model);
    meshq_store_destroy (&store);
}

//  Metadata seen by foreach.
typedef struct {
    char keys[8][32];      //  Keys.
    uint64_t versions[8];  //  Their versions.
    char values[8][32];    //  Values, "<tombstone>" for none.
    int count;             //  Keys seen.
} s_metas_t;

static int
s_collect_meta (void *arg, const char *key, uint64_t version, const void *value,
                size_t size)
{
    s_metas_t *metas = arg;
    cr_assert_lt (metas->count, 8);
    int i = metas->count++;
    snprintf (metas->keys[i], 32, "%s", key);
    metas->versions[i] = version;
    if (value)
        snprintf (metas->values[i], 32, "%.*s", (int)size, (const char *)value);
    else
        snprintf (metas->values[i], 32, "<tombstone>");
    return 0;
}

static const char *
s_meta_value (s_metas_t *metas, const char *key, uint64_t *version)
{
    for (int i = 0; i < metas->count; i++)
        if (strcmp (metas->keys[i], key) == 0) {
            *version = metas->versions[i];
            return metas->values[i];
        }
    return NULL;
}

Test (store, metadata_keeps_the_highest_version_and_tombstones)
{
    meshq_store_t *store = s_open (NULL);
    meshq_sync_t sync = MESHQ_SYNC_ALWAYS;
    cr_assert_eq (meshq_store_meta (store, "queue/a", 1, "one", 3, sync, NULL),
                  0);
    cr_assert_eq (meshq_store_meta (store, "queue/a", 5, "five", 4, sync, NULL),
                  0);
    //  Late and stale: written, but loses.
    cr_assert_eq (
        meshq_store_meta (store, "queue/a", 3, "three", 5, sync, NULL), 0);
    cr_assert_eq (meshq_store_meta (store, "queue/b", 1, "bee", 3, sync, NULL),
                  0);
    cr_assert_eq (meshq_store_meta (store, "queue/b", 2, NULL, 0, sync, NULL),
                  0);
    cr_assert_eq (
        meshq_store_meta (store, "queue/b", 1, "zombie", 6, sync, NULL), 0);
    cr_assert_eq (meshq_store_meta (store, "empty", 1, "", 0, sync, NULL), 0);
    meshq_store_commit (store);
    for (int round = 0; round < 2; round++) {
        s_metas_t metas = {0};
        cr_assert_eq (meshq_store_foreach (store, NULL, s_collect_meta, &metas),
                      0);
        cr_assert_eq (metas.count, 3);
        uint64_t version;
        cr_assert_str_eq (s_meta_value (&metas, "queue/a", &version), "five");
        cr_assert_eq (version, 5);
        cr_assert_str_eq (s_meta_value (&metas, "queue/b", &version),
                          "<tombstone>");
        cr_assert_eq (version, 2);
        cr_assert_str_eq (s_meta_value (&metas, "empty", &version), "");
        meshq_store_destroy (&store);
        store = s_open (NULL);
    }
    meshq_store_destroy (&store);
}

Test (store, refuses_what_it_cannot_store_with_a_reason)
{
    meshq_store_t *store = meshq_store_new (s_dir, NULL);
    cr_assert_eq (meshq_store_enqueue (store, "q", storeutil_origin, 1, "x", 1,
                                       MESHQ_SYNC_ALWAYS, NULL),
                  MESHQ_ESTATE);
    cr_assert_eq (meshq_store_commit (store), MESHQ_ESTATE);
    meshq_store_destroy (&store);
    store = s_open (NULL);
    char name[300];
    memset (name, 'q', sizeof name - 1);
    name[sizeof name - 1] = 0;
    cr_assert_eq (meshq_store_enqueue (store, name, storeutil_origin, 1, "x", 1,
                                       MESHQ_SYNC_ALWAYS, NULL),
                  MESHQ_ETOOBIG);
    cr_assert (strstr (meshq_store_why (store), "queue name"));
    cr_assert_eq (meshq_store_enqueue (store, "\xc3", storeutil_origin, 1, "x",
                                       1, MESHQ_SYNC_ALWAYS, NULL),
                  MESHQ_EINVAL);
    cr_assert_eq (meshq_store_enqueue (store, "q", NULL, 1, "x", 1,
                                       MESHQ_SYNC_ALWAYS, NULL),
                  MESHQ_EINVAL);
    cr_assert_eq (meshq_store_enqueue (store, "q", storeutil_origin, 1, "x",
                                       (size_t)MESHQ_STORE_MAX_ENVELOPE + 1,
                                       MESHQ_SYNC_ALWAYS, NULL),
                  MESHQ_ETOOBIG);
    cr_assert_eq (meshq_store_meta (store, "k", 1, "x",
                                    MESHQ_STORE_MAX_META + 1, MESHQ_SYNC_ALWAYS,
                                    NULL),
                  MESHQ_ETOOBIG);
    cr_assert_eq (meshq_store_ack (store, "q", storeutil_origin, 1, 7, NULL),
                  MESHQ_EINVAL);
    //  Nothing refused reached the disk.
    meshq_store_commit (store);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_eq (stats.appends, 0);
    meshq_store_destroy (&store);
}

Test (store, a_directory_is_open_in_one_store_at_a_time)
{
    meshq_store_t *store = s_open (NULL);
    meshq_store_t *second = meshq_store_new (s_dir, NULL);
    const char *why;
    cr_assert_eq (meshq_store_open (second, &why), MESHQ_ESTATE);
    cr_assert (strstr (why, "LOCK"), "%s", why);
    cr_assert_eq (meshq_store_open (store, &why), MESHQ_ESTATE);
    meshq_store_destroy (&second);
    meshq_store_destroy (&store);
    store = s_open (NULL);
    meshq_store_destroy (&store);
}

Test (store, rolls_into_new_segments_and_recovers_them_all)
{
    meshq_store_config_t config = {.segment_size = 4096};
    meshq_store_t *store = s_open (&config);
    //  Single commits cross many segments.
    for (uint64_t seq = 1; seq <= 2000; seq++) {
        storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
        if (seq % 300 == 0)
            cr_assert_eq (meshq_store_commit (store), 0);
    }
    cr_assert_eq (meshq_store_commit (store), 0);
    cr_assert_eq (s_done->count, 2000);
    cr_assert_eq (s_done->failures, 0);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_gt (stats.segments, 50);
    cr_assert_eq (s_segment_files (), (int)stats.segments);
    meshq_store_destroy (&store);
    store = s_open (&config);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->count, 2000);
    cr_assert_eq (model->damaged, 0);
    free (model);
    meshq_store_destroy (&store);
}

Test (store, deletes_segments_once_everything_in_them_is_acked)
{
    meshq_store_config_t config = {.segment_size = 4096};
    meshq_store_t *store = s_open (&config);
    for (uint64_t seq = 1; seq <= 1000; seq++)
        storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    for (uint64_t seq = 1; seq <= 1000; seq++)
        storeutil_ack (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    meshq_store_stats_t before, after;
    meshq_store_stats (store, &before);
    meshq_store_tick (store);
    meshq_store_stats (store, &after);
    cr_assert_eq (after.live_records, 0);
    //  Only the segments holding acks stay (the last is the active one).
    cr_assert_lt (after.segments, before.segments / 2);
    cr_assert_gt (after.deleted_segments, 0);
    cr_assert_eq (s_segment_files (), (int)after.segments);
    meshq_store_destroy (&store);
    store = s_open (&config);
    storeutil_model_t *model = storeutil_model (store, NULL);
    cr_assert_eq (model->count, 0);
    free (model);
    meshq_store_destroy (&store);
}

//  Ticks until the store says it has nothing left to do.
static void
s_tick_idle (meshq_store_t *store)
{
    for (int i = 0; i < 100000 && meshq_store_tick (store) < 1000; i++)
        ;
}

Test (store, compacts_sparse_segments_and_keeps_the_order)
{
    meshq_store_config_t config = {.segment_size = 8192};
    meshq_store_t *store = s_open (&config);
    //  Every tenth message stays: each old segment is ~10% live.
    for (uint64_t seq = 1; seq <= 3000; seq++)
        storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    for (uint64_t seq = 1; seq <= 3000; seq++)
        if (seq % 10)
            storeutil_ack (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    //  And one more segment of new messages after the acks.
    for (uint64_t seq = 3001; seq <= 3050; seq++)
        storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    meshq_store_stats_t before, after;
    meshq_store_stats (store, &before);
    s_tick_idle (store);
    meshq_store_stats (store, &after);
    cr_assert_gt (after.compacted_segments, 0);
    cr_assert_gt (after.copied_records, 0);
    cr_assert_lt (after.bytes, before.bytes / 2, "%llu of %llu",
                  (unsigned long long)after.bytes,
                  (unsigned long long)before.bytes);
    cr_assert_eq (after.live_records, 350);
    for (int round = 0; round < 2; round++) {
        storeutil_model_t *model = storeutil_model (store, NULL);
        cr_assert_eq (model->count, 350);
        cr_assert_eq (model->damaged, 0);
        //  Copies keep their place: first-append order.
        for (uint64_t i = 1; i < model->count; i++)
            cr_assert_lt (model->order[i - 1], model->order[i]);
        free (model);
        meshq_store_destroy (&store);
        store = s_open (&config);
    }
    meshq_store_destroy (&store);
}

Test (store, compaction_never_resurrects_an_acked_message)
{
    //  An old dense segment pins the prefix; later segments of acks
    //  for messages in it must survive compaction of what lies between.
    meshq_store_config_t config = {.segment_size = 8192};
    meshq_store_t *store = s_open (&config);
    for (uint64_t seq = 1; seq <= 40; seq++)
        storeutil_enqueue (store, "dense", seq, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    bool acked[41] = {false};
    for (uint64_t seq = 1000; seq <= 2500; seq++) {
        storeutil_enqueue (store, "churn", seq, MESHQ_SYNC_ALWAYS);
        //  Ack half the dense queue among the churn.
        uint64_t dense = seq / 60;
        if (seq % 60 == 0 && dense <= 40 && dense % 2 == 0) {
            storeutil_ack (store, "dense", dense, MESHQ_SYNC_ALWAYS);
            acked[dense] = true;
        }
        if (seq > 1010)
            storeutil_ack (store, "churn", seq - 10, MESHQ_SYNC_ALWAYS);
    }
    meshq_store_commit (store);
    s_tick_idle (store);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_gt (stats.deleted_segments, 0);
    for (int round = 0; round < 2; round++) {
        storeutil_model_t *model = storeutil_model (store, "dense");
        for (uint64_t seq = 1; seq <= 40; seq++) {
            cr_assert_eq (model->seen[seq], acked[seq] ? 0 : 1,
                          "seq %llu round %d", (unsigned long long)seq, round);
        }
        free (model);
        model = storeutil_model (store, "churn");
        cr_assert_eq (model->count, 11);  //  1000 and 2491..2500.
        free (model);
        meshq_store_destroy (&store);
        store = s_open (&config);
        s_tick_idle (store);
    }
    meshq_store_destroy (&store);
}

Test (store, quota_refuses_enqueues_with_used_and_limit)
{
    meshq_store_config_t config = {.segment_size = 4096, .quota = 32768};
    meshq_store_t *store = s_open (&config);
    uint8_t envelope[200];
    memset (envelope, 'x', sizeof envelope);
    uint64_t seq = 0;
    int rc = 0;
    while (rc == 0) {
        rc = meshq_store_enqueue (store, "jobs", storeutil_origin, ++seq,
                                  envelope, sizeof envelope, MESHQ_SYNC_ALWAYS,
                                  NULL);
        if (rc == 0 && seq % 10 == 0)
            meshq_store_commit (store);
    }
    cr_assert_eq (rc, MESHQ_EFULL);
    const char *why = meshq_store_why (store);
    cr_assert (strstr (why, "quota") && strstr (why, "32768"), "%s", why);
    cr_assert (strstr (why, "used"), "%s", why);
    meshq_store_commit (store);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_leq (stats.bytes, 32768);
    cr_assert_eq (stats.refused_full, 1);
    //  Acks are how a full store drains: never refused.
    for (uint64_t s = 1; s < seq; s++)
        cr_assert_eq (meshq_store_ack (store, "jobs", storeutil_origin, s,
                                       MESHQ_SYNC_ALWAYS, NULL),
                      0);
    cr_assert_eq (
        meshq_store_meta (store, "k", 1, NULL, 0, MESHQ_SYNC_ALWAYS, NULL), 0);
    meshq_store_commit (store);
    s_tick_idle (store);
    cr_assert_eq (meshq_store_enqueue (store, "jobs", storeutil_origin, seq,
                                       envelope, sizeof envelope,
                                       MESHQ_SYNC_ALWAYS, NULL),
                  0, "%s", meshq_store_why (store));
    cr_assert_eq (meshq_store_commit (store), 0);
    meshq_store_destroy (&store);
}

//  Checks the envelope of a huge message.
static int
s_visit_huge (void *arg, const char *queue, const uint8_t origin[16],
              uint64_t seq, const void *envelope, size_t size)
{
    (void)queue;
    (void)origin;
    size_t *seen = arg;
    const uint8_t *bytes = envelope;
    cr_assert_eq (size, 20u << 20);
    cr_assert_eq (bytes[0], (uint8_t)seq);
    cr_assert_eq (bytes[size - 1], (uint8_t)seq);
    (*seen)++;
    return 0;
}

Test (store, stores_huge_envelopes_and_gives_their_buffers_back)
{
    //  Larger than a segment and than the read window.
    meshq_store_config_t config = {.segment_size = 1u << 20};
    meshq_store_t *store = s_open (&config);
    size_t size = 20u << 20;
    uint8_t *envelope = malloc (size);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        memset (envelope, (int)seq, size);
        cr_assert_eq (meshq_store_enqueue (store, "big", storeutil_origin, seq,
                                           envelope, size, MESHQ_SYNC_ALWAYS,
                                           NULL),
                      0);
        cr_assert_eq (meshq_store_commit (store), 0);
        cr_assert_leq (store->pending.capacity, MESHQ_STORE_KEEP);
    }
    free (envelope);
    storeutil_ack (store, "big", 2, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    meshq_store_destroy (&store);
    store = s_open (&config);
    cr_assert_leq (store->window.capacity, MESHQ_STORE_WINDOW);
    size_t seen = 0;
    cr_assert_eq (meshq_store_foreach (store, s_visit_huge, NULL, &seen), 0);
    cr_assert_eq (seen, 2);
    cr_assert_leq (store->window.capacity, MESHQ_STORE_WINDOW);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_eq (stats.live_records, 2);
    s_tick_idle (store);
    meshq_store_destroy (&store);
}

Test (store, stats_count_what_happened)
{
    meshq_store_t *store = s_open (NULL);
    for (uint64_t seq = 1; seq <= 5; seq++)
        storeutil_enqueue (store, "jobs", seq, MESHQ_SYNC_ALWAYS);
    meshq_store_meta (store, "k", 1, "v", 1, MESHQ_SYNC_ALWAYS, NULL);
    meshq_store_commit (store);
    storeutil_ack (store, "jobs", 1, MESHQ_SYNC_ALWAYS);
    meshq_store_commit (store);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    cr_assert_eq (stats.appends, 7);
    cr_assert_eq (stats.commits, 2);
    cr_assert_eq (stats.live_records, 4);
    cr_assert_eq (stats.meta_keys, 1);
    cr_assert_eq (stats.segments, 1);
    cr_assert_gt (stats.bytes, 64);
    cr_assert_gt (stats.live_bytes, 0);
    cr_assert_lt (stats.live_bytes, stats.bytes);
    uint64_t in_histogram = 0;
    for (int i = 0; i < MESHQ_STORE_FSYNC_BUCKETS; i++)
        in_histogram += stats.fsync_hist[i];
    cr_assert_eq (in_histogram, stats.fsyncs);
    cr_assert_geq (stats.fsyncs, 2);
    cr_assert_geq (stats.fsync_max_ns * stats.fsyncs, stats.fsync_ns);
    meshq_store_destroy (&store);
    store = s_open (NULL);
    meshq_store_stats (store, &stats);
    cr_assert_eq (stats.recovered_records, 7);
    cr_assert_eq (stats.corrupt_records, 0);
    cr_assert_gt (stats.recovered_bytes, 0);
    meshq_store_destroy (&store);
}
