/*  test_store_crash.c - kill -9 at random moments, reopen, and check that
    nothing reported durable was lost and nothing acked came back.

    A child process appends to the store with MESHQ_SYNC_ALWAYS:
    enqueues, acks of what is live (its own messages and those earlier
    children left), metadata and tombstones, in groups of random size,
    ticking so that segments roll, empty segments are deleted and sparse
    ones compacted (see s_child for the shape of the workload). Each time a done callback reports an append durable,
    the child writes it to a pipe. The parent reads the pipe and SIGKILLs
    the child after a random number of reports (sometimes at once, while
    it is still recovering), drains what the child managed to report,
    reopens the store and checks: recovery succeeds and finds no damage
    (a killed process leaves at most a torn tail); every enqueue reported
    durable and not acked is there, byte for byte; no ack reported
    durable was undone; every metadata key is at least at the version
    last reported. Then the next child continues on the same directory.

    A second test simulates power loss the same way: in the child, every
    write waits in memory until an fdatasync of its file (a few go out
    early and out of order, as writeback may), so a kill drops exactly
    what was never synced. That catches what SIGKILL alone cannot: a
    segment deleted before the copies or acks that replace it are
    durable.

    MESHQ_CRASH_KILLS sets the number of kill points of each test
    (default 100); MESHQ_SEED replays a run.
*/
#include "storeutil.h"
#include "testutil.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

//  Sequence numbers each child may use: [round * S_RANGE + 1, ...).
#define S_RANGE 8000
#define S_KEYS  8

typedef enum {
    S_ENQUEUED = 1,  //  value: sequence.
    S_ACKED,         //  value: sequence.
    S_ACKING,        //  value: sequence, about to be acked.
    S_META,          //  key, value: version.
    S_TOMBSTONE,     //  key, value: version.
    S_COMPACTED,     //  value: segments compacted since open.
    S_OPENED,        //  The child recovered the store.
    S_BROKEN,        //  The child could not go on; value: error code.
    S_DYING,         //  The child kills itself after a deletion.
    S_WRITTEN,       //  value: sequence, written without a sync.
} s_report_type_t;

//  One report on the pipe: small enough to be written atomically.
typedef struct {
    uint8_t type;     //  s_report_type_t.
    uint8_t key;      //  Metadata key, 0..S_KEYS-1.
    int16_t code;     //  Error code of S_BROKEN.
    uint32_t unused;  //  Padding.
    uint64_t value;   //  Sequence or version.
} s_report_t;

// --------------------------------------------------------------------
//  The child

//  What the child appended, by ticket, and what it may ack.
typedef struct {
    int pipe;             //  Write end.
    s_report_t *pending;  //  By ticket.
    size_t capacity;      //  Tickets that fit.
    uint64_t *sticky;     //  Live sequences of the sticky queue q0.
    size_t sticky_count;  //  In sticky.
    uint64_t *churn;      //  Live sequences of q1 and q2, oldest first.
    size_t churn_head;    //  First live one in churn.
    size_t churn_count;   //  One past the last.
} s_child_t;

static void
s_send (s_child_t *child, const s_report_t *report)
{
    if (write (child->pipe, report, sizeof *report) != sizeof *report)
        _exit (4);
}

static void
s_child_done (void *arg, uint64_t ticket, int status)
{
    s_child_t *child = arg;
    if (status) {
        s_report_t report = {.type = S_BROKEN, .code = (int16_t)status};
        s_send (child, &report);
        _exit (5);
    }
    if (ticket < child->capacity)
        s_send (child, &child->pending[ticket]);
}

static int
s_child_visit (void *arg, const char *queue, const uint8_t origin[16],
               uint64_t seq, const void *envelope, size_t size)
{
    (void)queue;
    (void)origin;
    (void)envelope;
    (void)size;
    s_child_t *child = arg;
    if (seq % 3 == 0)
        child->sticky[child->sticky_count++] = seq;
    else
        child->churn[child->churn_count++] = seq;
    return 0;
}

//  The queue of a message: q0 holds multiples of 3 (sticky ones).
static void
s_queue (uint64_t seq, char *queue)
{
    snprintf (queue, 8, "q%d", (int)(seq % 3));
}

//  Appends the ack of seq, saying so first: it may be on disk before
//  it is reported durable.
static int
s_child_ack (s_child_t *child, meshq_store_t *store, uint64_t seq,
             uint64_t *ticket, s_report_t *op)
{
    s_report_t report = {.type = S_ACKING, .value = seq};
    s_send (child, &report);
    char queue[8];
    s_queue (seq, queue);
    *op = (s_report_t){.type = S_ACKED, .value = seq};
    return meshq_store_ack (store, queue, storeutil_origin, seq,
                            MESHQ_SYNC_ALWAYS, ticket);
}

static int
s_child_enqueue (s_child_t *child, meshq_store_t *store, uint64_t *seq,
                 bool sticky, meshq_sync_t sync, uint64_t *ticket,
                 s_report_t *op)
{
    do
        ++*seq;
    while ((*seq % 3 == 0) != sticky);
    uint8_t envelope[4096];
    size_t size = storeutil_size (*seq);
    storeutil_envelope (*seq, envelope, size);
    char queue[8];
    s_queue (*seq, queue);
    if (sticky)
        child->sticky[child->sticky_count++] = *seq;
    else
        child->churn[child->churn_count++] = *seq;
    *op =
        (s_report_t){.type = sync == MESHQ_SYNC_ALWAYS ? S_ENQUEUED : S_WRITTEN,
                     .value = *seq};
    return meshq_store_enqueue (store, queue, storeutil_origin, *seq, envelope,
                                size, sync, ticket);
}

static int
s_child_meta (meshq_store_t *store, uint64_t version, uint64_t *state,
              uint64_t *ticket, s_report_t *op)
{
    uint8_t key = (uint8_t)(testutil_random (state) % S_KEYS);
    char name[8];
    snprintf (name, sizeof name, "k%d", key);
    bool tombstone = testutil_random (state) % 5 == 0;
    char value[32];
    int size =
        snprintf (value, sizeof value, "v%llu", (unsigned long long)version);
    *op = (s_report_t){
        .type = tombstone ? S_TOMBSTONE : S_META, .key = key, .value = version};
    return meshq_store_meta (store, name, version, tombstone ? NULL : value,
                             (size_t)size, MESHQ_SYNC_ALWAYS, ticket);
}

//  Power-loss simulation: writes wait in memory until an fdatasync of
//  their file (or, at random, go out early, as the kernel's writeback
//  may), so a kill loses exactly what was never synced, including holes
//  where a later write went out before an earlier one.
typedef struct {
    int fd;         //  File.
    off_t offset;   //  Where.
    size_t size;    //  Bytes.
    uint8_t *data;  //  Copy.
} s_held_t;

typedef struct {
    s_held_t *held;    //  Writes not yet on the file, in order.
    size_t count;      //  In held.
    size_t capacity;   //  Allocated.
    uint64_t state;    //  Random state.
    bool hold;         //  Simulate power loss; else write through.
    uint64_t ops;      //  Writes and syncs so far.
    uint64_t kill_at;  //  Die before this one, 0: never.
} s_power_t;

//  Dies at the chosen I/O operation: a kill point between any two
//  writes or syncs, which the parent's timing alone rarely hits.
static void
s_power_op (s_power_t *power)
{
    if (++power->ops == power->kill_at)
        raise (SIGKILL);
}

static ssize_t
s_power_pwritev (void *arg, int fd, const struct iovec *iov, int count,
                 off_t offset)
{
    s_power_t *power = arg;
    s_power_op (power);
    size_t total = 0;
    for (int i = 0; i < count; i++)
        total += iov[i].iov_len;
    if (!power->hold || testutil_random (&power->state) % 10 < 3)
        return pwritev (fd, iov, count, offset);
    if (power->count == power->capacity) {
        power->capacity = power->capacity ? power->capacity * 2 : 64;
        power->held =
            realloc (power->held, power->capacity * sizeof *power->held);
    }
    s_held_t *held = &power->held[power->count++];
    *held = (s_held_t){fd, offset, total, malloc (total ? total : 1)};
    size_t done = 0;
    for (int i = 0; i < count; i++) {
        memcpy (held->data + done, iov[i].iov_base, iov[i].iov_len);
        done += iov[i].iov_len;
    }
    return (ssize_t)total;
}

static int
s_power_fdatasync (void *arg, int fd)
{
    s_power_t *power = arg;
    s_power_op (power);
    size_t kept = 0;
    for (size_t i = 0; i < power->count; i++) {
        s_held_t *held = &power->held[i];
        if (held->fd == fd) {
            if (pwrite (fd, held->data, held->size, held->offset) !=
                (ssize_t)held->size)
                _exit (7);
            free (held->data);
        } else
            power->held[kept++] = *held;
    }
    power->count = kept;
    return fdatasync (fd);
}

//  Rounds alternate: one in three fills segments with sticky messages
//  that stay (old dense segments); the others churn, acking most of
//  what they enqueue at once and now and then an old sticky message, so
//  that sparse segments hold acks of records in older segments: what
//  deletion and compaction must not lose.
static void
s_child (const char *directory, int pipe, uint64_t round, uint64_t seed,
         bool power_loss)
{
    s_child_t child = {.pipe = pipe, .capacity = 4 * S_RANGE};
    child.pending = calloc (child.capacity, sizeof *child.pending);
    child.sticky = calloc ((round + 1) * S_RANGE, sizeof *child.sticky);
    child.churn = calloc ((round + 1) * S_RANGE, sizeof *child.churn);
    meshq_store_config_t config = {.segment_size = 16384};
    meshq_store_t *store = meshq_store_new (directory, &config);
    storeutil_log_t log = {0};
    meshq_store_set_log (store, storeutil_log_fn, &log);
    meshq_store_set_done (store, s_child_done, &child);
    s_power_t power = {.state = seed ^ 0x5bd1e995, .hold = power_loss};
    //  Half the children die at a chosen write or sync.
    if (testutil_random (&power.state) % 2)
        power.kill_at = 1 + testutil_random (&power.state) % 300;
    meshq_store_io_t io = {s_power_pwritev, s_power_fdatasync, &power};
    meshq_store_set_io (store, &io);
    const char *why;
    int rc = meshq_store_open (store, &why);
    s_report_t report = {.type = rc ? S_BROKEN : S_OPENED, .code = (int16_t)rc};
    s_send (&child, &report);
    if (rc)
        _exit (2);
    meshq_store_foreach (store, s_child_visit, NULL, &child);
    uint64_t state = seed;
    uint64_t seq = round * S_RANGE;
    uint64_t last_seq = seq + S_RANGE - 100;
    bool sticky_round = round % 3 == 1;
    uint64_t compacted = 0;
    uint64_t deleted = 0;
    uint64_t versions = 0;
    while (seq < last_seq) {
        int group = 1 + (int)(testutil_random (&state) % 32);
        //  Some groups are not synced, so a power loss can leave holes.
        meshq_sync_t sync = power_loss && testutil_random (&state) % 4 == 0
                                ? MESHQ_SYNC_NONE
                                : MESHQ_SYNC_ALWAYS;
        for (int i = 0; i < group && seq < last_seq; i++) {
            uint64_t dice = testutil_random (&state) % 100;
            uint64_t ticket = 0;
            s_report_t op = {0};
            bool churned = child.churn_head < child.churn_count;
            if (dice >= 97)
                //  Versions grow across children: round, then counter.
                rc = s_child_meta (store, round << 32 | ++versions, &state,
                                   &ticket, &op);
            else if (sticky_round ? dice < 50 : false)
                rc = s_child_enqueue (&child, store, &seq, true, sync, &ticket,
                                      &op);
            else if (dice < (sticky_round ? 75 : 48) || !churned)
                rc = s_child_enqueue (&child, store, &seq, false, sync, &ticket,
                                      &op);
            else if (!sticky_round && dice >= 93 && child.sticky_count) {
                size_t pick = testutil_random (&state) % child.sticky_count;
                uint64_t victim = child.sticky[pick];
                child.sticky[pick] = child.sticky[--child.sticky_count];
                rc = s_child_ack (&child, store, victim, &ticket, &op);
            } else
                rc =
                    s_child_ack (&child, store, child.churn[child.churn_head++],
                                 &ticket, &op);
            if (rc) {
                report = (s_report_t){.type = S_BROKEN, .code = (int16_t)rc};
                s_send (&child, &report);
                _exit (3);
            }
            if (ticket < child.capacity)
                child.pending[ticket] = op;
        }
        if (meshq_store_commit (store))
            _exit (6);
        meshq_store_tick (store);
        meshq_store_stats_t stats;
        meshq_store_stats (store, &stats);
        if (stats.compacted_segments != compacted) {
            compacted = stats.compacted_segments;
            report = (s_report_t){.type = S_COMPACTED, .value = compacted};
            s_send (&child, &report);
        }
        //  Right after a segment went is where ordering bugs show.
        if (stats.deleted_segments != deleted) {
            deleted = stats.deleted_segments;
            if (testutil_random (&state) % 4 == 0) {
                report = (s_report_t){.type = S_DYING};
                s_send (&child, &report);
                raise (SIGKILL);
            }
        }
    }
    //  Out of sequence numbers: wait for the kill.
    for (;;)
        pause ();
}

// --------------------------------------------------------------------
//  The parent

//  What the parent knows, from reports and from each reopen.
typedef struct {
    uint8_t *enqueued;            //  By sequence: reported durable.
    uint8_t *acked;               //  By sequence: ack reported durable.
    uint8_t *acking;              //  By sequence: an ack may be on disk.
    uint8_t *seen;                //  By sequence: found by the last reopen.
    uint64_t range;               //  Sequences tracked.
    uint64_t meta[S_KEYS];        //  Last version reported durable, by key.
    bool tomb[S_KEYS];            //  And whether it was a tombstone.
    uint64_t reports;             //  Reports read.
    uint64_t compactions;         //  Compactions the children reported.
    uint64_t holes;               //  Corrupt regions recoveries found.
    uint64_t after_deletion;      //  Kills right after a segment deletion.
    uint64_t damaged;             //  Envelopes found with wrong bytes.
    uint64_t found_meta[S_KEYS];  //  Versions found by the last reopen.
    bool found_tomb[S_KEYS];      //  Tombstones found by the last reopen.
} s_parent_t;

static void
s_apply (s_parent_t *parent, const s_report_t *report)
{
    parent->reports++;
    switch (report->type) {
        case S_ENQUEUED:
            cr_assert_lt (report->value, parent->range);
            parent->enqueued[report->value] = 1;
            break;
        case S_ACKED:
            cr_assert_lt (report->value, parent->range);
            parent->acked[report->value] = 1;
            break;
        case S_ACKING:
            cr_assert_lt (report->value, parent->range);
            parent->acking[report->value] = 1;
            break;
        case S_META:
        case S_TOMBSTONE:
            cr_assert_lt (report->key, S_KEYS);
            if (report->value >= parent->meta[report->key]) {
                parent->meta[report->key] = report->value;
                parent->tomb[report->key] = report->type == S_TOMBSTONE;
            }
            break;
        case S_COMPACTED:
            parent->compactions++;
            break;
        case S_OPENED:
            break;
        case S_DYING:
            parent->after_deletion++;
            break;
        case S_WRITTEN:
            break;  //  Not durable: may or may not survive.
        default:
            cr_assert_fail ("child broke: %s", meshq_strerror (report->code));
    }
}

static int
s_parent_visit (void *arg, const char *queue, const uint8_t origin[16],
                uint64_t seq, const void *envelope, size_t size)
{
    s_parent_t *parent = arg;
    cr_assert_lt (seq, parent->range, "phantom message %llu",
                  (unsigned long long)seq);
    char expect[8];
    s_queue (seq, expect);
    cr_assert_str_eq (queue, expect);
    cr_assert_arr_eq (origin, storeutil_origin, 16);
    parent->seen[seq]++;
    if (!storeutil_intact (seq, envelope, size))
        parent->damaged++;
    return 0;
}

static int
s_parent_meta (void *arg, const char *key, uint64_t version, const void *value,
               size_t size)
{
    s_parent_t *parent = arg;
    int k = key[1] - '0';
    cr_assert (key[0] == 'k' && k >= 0 && k < S_KEYS && !key[2]);
    parent->found_meta[k] = version;
    parent->found_tomb[k] = value == NULL;
    if (value) {
        char expect[32];
        int length = snprintf (expect, sizeof expect, "v%llu",
                               (unsigned long long)version);
        cr_assert_eq (size, (size_t)length);
        cr_assert_arr_eq (value, expect, size);
    }
    return 0;
}

//  Reopens the store and checks it against what was reported.
static void
s_verify (const char *directory, s_parent_t *parent, uint64_t kill,
          bool power_loss)
{
    storeutil_log_t log = {0};
    meshq_store_t *store = meshq_store_new (directory, NULL);
    meshq_store_set_log (store, storeutil_log_fn, &log);
    const char *why = NULL;
    int rc = meshq_store_open (store, &why);
    cr_assert_eq (rc, 0, "kill %llu: recovery failed: %s",
                  (unsigned long long)kill, why);
    memset (parent->seen, 0, parent->range);
    memset (parent->found_meta, 0, sizeof parent->found_meta);
    cr_assert_eq (
        meshq_store_foreach (store, s_parent_visit, s_parent_meta, parent), 0);
    meshq_store_stats_t stats;
    meshq_store_stats (store, &stats);
    //  A killed process leaves at most a torn tail. A power loss may
    //  leave holes where unsynced writes went out of order: damage, but
    //  never in anything that was reported durable.
    if (!power_loss)
        cr_assert_eq (stats.corrupt_records, 0, "kill %llu: %s",
                      (unsigned long long)kill, log.last);
    parent->holes += stats.corrupt_records;
    cr_assert_eq (parent->damaged, 0);
    for (uint64_t seq = 0; seq < parent->range; seq++) {
        cr_assert_leq (parent->seen[seq], 1);
        if (parent->acked[seq])
            cr_assert_eq (parent->seen[seq], 0,
                          "kill %llu: acked %llu came back",
                          (unsigned long long)kill, (unsigned long long)seq);
        else if (parent->enqueued[seq] && !parent->acking[seq])
            cr_assert_eq (parent->seen[seq], 1, "kill %llu: durable %llu lost",
                          (unsigned long long)kill, (unsigned long long)seq);
    }
    for (int k = 0; k < S_KEYS; k++) {
        cr_assert_geq (parent->found_meta[k], parent->meta[k],
                       "kill %llu: key k%d went back", (unsigned long long)kill,
                       k);
        if (parent->found_meta[k] == parent->meta[k] && parent->meta[k])
            cr_assert_eq (parent->found_tomb[k], parent->tomb[k]);
    }
    meshq_store_destroy (&store);
}

static char *s_dir;

static void
s_setup (void)
{
    s_dir = storeutil_tmpdir ();
}

//  Runs even when an assertion stopped the test.
static void
s_teardown (void)
{
    storeutil_rmdir (s_dir);
}

TestSuite (store, .init = s_setup, .fini = s_teardown);

//  Runs the kill loop; returns the number of kill points.
static uint64_t
s_run (bool power_loss, const char *name)
{
    const char *directory = s_dir;
    uint64_t state = testutil_seed (name);
    const char *env = getenv ("MESHQ_CRASH_KILLS");
    uint64_t kills = env ? strtoull (env, NULL, 0) : 100;
    s_parent_t parent = {.range = (kills + 2) * S_RANGE};
    parent.enqueued = calloc (parent.range, 1);
    parent.acked = calloc (parent.range, 1);
    parent.acking = calloc (parent.range, 1);
    parent.seen = calloc (parent.range, 1);
    uint64_t during_open = 0;
    for (uint64_t round = 1; round <= kills; round++) {
        int fds[2];
        cr_assert_eq (pipe (fds), 0);
        uint64_t seed = testutil_random (&state);
        //  One kill in eight lands while the child is still opening.
        uint64_t after = testutil_random (&state) % 8 == 0
                             ? 0
                             : 1 + testutil_random (&state) % 400;
        pid_t pid = fork ();
        cr_assert_geq (pid, 0);
        if (pid == 0) {
            close (fds[0]);
            s_child (directory, fds[1], round, seed, power_loss);
            _exit (0);
        }
        close (fds[1]);
        s_report_t report;
        uint64_t read_reports = 0;
        bool opened = false;
        while (read_reports < after) {
            ssize_t got = read (fds[0], &report, sizeof report);
            if (got < 0 && errno == EINTR)
                continue;
            if (got == 0)
                break;  //  It killed itself.
            cr_assert_eq (got, (ssize_t)sizeof report);
            opened = opened || report.type == S_OPENED;
            s_apply (&parent, &report);
            read_reports++;
        }
        kill (pid, SIGKILL);  //  If it has not died on its own.
        int status;
        cr_assert_eq (waitpid (pid, &status, 0), pid);
        cr_assert (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
                   "round %llu: child exited by itself (%d)",
                   (unsigned long long)round, status);
        //  Everything the child wrote before it died counts.
        ssize_t got;
        while ((got = read (fds[0], &report, sizeof report)) ==
               (ssize_t)sizeof report) {
            opened = opened || report.type == S_OPENED;
            s_apply (&parent, &report);
        }
        close (fds[0]);
        during_open += !opened;
        s_verify (directory, &parent, round, power_loss);
    }
    fprintf (stderr,
             "%s: %llu kill points (%llu while opening, %llu right after "
             "a segment deletion), %llu durable reports checked, %llu "
             "compactions, %llu holes met by recoveries\n",
             name, (unsigned long long)kills, (unsigned long long)during_open,
             (unsigned long long)parent.after_deletion,
             (unsigned long long)parent.reports,
             (unsigned long long)parent.compactions,
             (unsigned long long)parent.holes);
    free (parent.enqueued);
    free (parent.acked);
    free (parent.acking);
    free (parent.seen);
    return kills;
}

Test (store, survives_kill_9_at_random_moments, .timeout = 300)
{
    cr_assert_geq (s_run (false, "store.crash"), 50);
}

Test (store, survives_power_loss_at_random_moments, .timeout = 300)
{
    cr_assert_geq (s_run (true, "store.power_loss"), 50);
}
