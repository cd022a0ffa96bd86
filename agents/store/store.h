/*  store.h - the durable store: an append-only log of segment files.

    The queue agent keeps every message it has confirmed here, with the
    acks that end them and the mesh metadata it must remember. A store
    is a directory: a MANIFEST naming the live segment files, and the
    segments, each a header and a run of records (docs/STORAGE.md).

    Use it from one thread. new, then open (which creates the directory
    or recovers what is in it), then foreach to rebuild the agent's
    queues from the live records. Appends (enqueue, ack, meta) encode a
    record into memory and return a ticket; commit writes everything
    appended since the last commit with one writev and, if any of it
    asked for MESHQ_SYNC_ALWAYS, one fdatasync, then calls the done
    callback for each append it made durable. The agent calls commit
    once per loop turn, so all the appends of a turn share one fsync,
    and calls tick when it asks to (interval syncs, deleting acked
    segments, compaction).

    The store is plain C and POSIX: no CZMQ, no threads. Log lines go to
    a hook (meshq_store_set_log), stderr by default.

    Errors: every method returns 0 or a negative MESHQ_E* code, and
    meshq_store_why names the failure in words. A quota refusal is
    MESHQ_EFULL, and so is a full disk; any other refusal of the OS is
    MESHQ_EIO. Enqueues are refused (MESHQ_EFULL) before the segments
    exceed the quota, or the filesystem's free space falls below
    min_free, so that acks, which are never refused, can still be written
    and the store can drain. After a failed fsync, or a failed write the store could
    not undo, the store refuses everything with MESHQ_EIO: destroy it and
    open the directory again, which recovers what is really on disk.
*/
#ifndef MESHQ_STORE_H_INCLUDED
#define MESHQ_STORE_H_INCLUDED

#include "meshq.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct _meshq_store_t meshq_store_t;

//  When an append is durable enough for its done callback.
typedef enum {
    MESHQ_SYNC_ALWAYS,    //  After the fdatasync of its commit.
    MESHQ_SYNC_INTERVAL,  //  After the next fdatasync, at most interval_ms.
    MESHQ_SYNC_NONE,      //  After its commit has written it.
} meshq_sync_t;

typedef struct {
    uint64_t segment_size;  //  Bytes per segment; 0 = 64 MiB; at most
                            //  quota / MESHQ_STORE_QUOTA_SEGMENTS.
    uint64_t quota;         //  Most bytes of segments, 0 = unlimited.
    uint32_t interval_ms;   //  Period for MESHQ_SYNC_INTERVAL; 0 = 100.
    bool progress;          //  Log recovery progress of large stores.
    uint64_t min_free;      //  Refuse enqueues when the filesystem has
                            //  less free; 0 = segment_size, 1 = off.
} meshq_store_config_t;

//  Default segment size and sync interval.
#define MESHQ_STORE_SEGMENT_SIZE (64u << 20)
#define MESHQ_STORE_INTERVAL_MS  100

//  Smallest and largest segment size accepted; others are clamped.
#define MESHQ_STORE_SEGMENT_MIN 4096
#define MESHQ_STORE_SEGMENT_MAX (1u << 30)

//  Under a quota, segments are at most quota / MESHQ_STORE_QUOTA_SEGMENTS,
//  so that a smallest quota is that many smallest segments: a quota below
//  MESHQ_STORE_QUOTA_MIN could not drain (the agent refuses one).
#define MESHQ_STORE_QUOTA_SEGMENTS 8
#define MESHQ_STORE_QUOTA_MIN                                                  \
    ((uint64_t)MESHQ_STORE_QUOTA_SEGMENTS * MESHQ_STORE_SEGMENT_MIN)

//  Buckets of the fsync latency histogram: bucket 0 counts fsyncs under
//  16 us, bucket i (1..last-1) those from 2^(i+3) to 2^(i+4) us, the
//  last one everything from 2^(MESHQ_STORE_FSYNC_BUCKETS+2) us (4 s) on.
#define MESHQ_STORE_FSYNC_BUCKETS 20

typedef struct {
    uint64_t bytes;         //  Bytes of segment files.
    uint64_t segments;      //  Segment files.
    uint64_t live_records;  //  Enqueues not acked.
    uint64_t live_bytes;    //  Bytes of live records and metadata.
    uint64_t meta_keys;     //  Metadata keys (tombstones included).
    uint64_t appends;       //  Appends accepted since open.
    uint64_t commits;       //  Commits that wrote something.
    uint64_t fsyncs;        //  fdatasync calls.
    uint64_t fsync_ns;      //  Time spent in them.
    uint64_t fsync_max_ns;  //  Slowest one.
    uint64_t fsync_hist[MESHQ_STORE_FSYNC_BUCKETS];  //  By latency.
    uint64_t recovery_us;                            //  Time open took.
    uint64_t recovered_bytes;     //  Bytes of segments open scanned.
    uint64_t recovered_records;   //  Intact records open read.
    uint64_t corrupt_records;     //  Corrupt regions skipped by open.
    uint64_t corrupt_bytes;       //  Bytes in them.
    uint64_t torn_bytes;          //  Bytes of torn tails truncated by open.
    uint64_t unmatched_acks;      //  Acks of messages the store did not hold.
    uint64_t deleted_segments;    //  Segments deleted since open.
    uint64_t compacted_segments;  //  Of those, emptied by compaction.
    uint64_t copied_records;      //  Records compaction copied forward.
    uint64_t copied_bytes;        //  Bytes of them.
    uint64_t refused_full;  //  Appends refused by the quota or a full disk.
    uint64_t io_errors;     //  Writes and fsyncs the OS refused.
} meshq_store_stats_t;

//  Called once per append, with status 0 when it is durable per its sync
//  class, or a negative code when it failed (nothing of it will be
//  recovered then, or, after MESHQ_EIO from fsync, maybe all of it).
//  Called from commit and tick. It may append; it must not commit, tick
//  or destroy the store.
typedef void (meshq_store_done_fn) (void *arg, uint64_t ticket, int status);

//  Log levels, most severe first.
typedef enum {
    MESHQ_STORE_ERROR,    //  The store cannot do part of its job.
    MESHQ_STORE_WARNING,  //  Corrupt data skipped, degraded.
    MESHQ_STORE_NOTICE,   //  Recovery summary and progress.
    MESHQ_STORE_INFO,     //  Segments created, deleted, compacted.
} meshq_store_level_t;

//  Receives one line, without a newline, "store: ..." with key=value
//  facts. The agent routes it to zsys_*.
typedef void (meshq_store_log_fn) (void *arg, int level, const char *line);

//  Visits a live enqueue; return non-zero to stop. Arguments are
//  borrowed for the call.
typedef int (meshq_store_enqueue_fn) (void *arg, const char *queue,
                                      const uint8_t origin[16], uint64_t seq,
                                      const void *envelope, size_t size);

//  Visits a metadata key; value is NULL for a tombstone (a delete that
//  is remembered). Return non-zero to stop.
typedef int (meshq_store_meta_fn) (void *arg, const char *key, uint64_t version,
                                   const void *value, size_t size);

//  System calls the store writes through, so that tests can make the OS
//  fail. pwritev returns what pwritev(2) does, fdatasync 0 or -1, both
//  with errno set.
typedef struct {
    ssize_t (*pwritev) (void *arg, int fd, const struct iovec *iov, int count,
                        off_t offset);     //  Writes.
    int (*fdatasync) (void *arg, int fd);  //  Syncs.
    void *arg;                             //  Passed to both.
} meshq_store_io_t;

//  Creates a store for directory (copied), with config (copied; NULL for
//  the defaults). Does no I/O.
meshq_store_t *meshq_store_new (const char *directory,
                                const meshq_store_config_t *config);

//  Writes and syncs what is pending, without calling back, closes the
//  files and frees the store. NULL-safe; nulls *self_p.
void meshq_store_destroy (meshq_store_t **self_p);

//  Opens the directory: creates it (not its parents) and a new store if
//  it is missing or empty, or recovers the store in it. Refuses, with
//  nothing written, a directory holding other files, a foreign or
//  corrupt MANIFEST or segment, a future format, a segment that the
//  MANIFEST lists but is missing, or one another process has open.
//  Returns 0, MESHQ_EMALFORMED (not a store, or another store's segment),
//  MESHQ_EVERSION, MESHQ_ECORRUPT, MESHQ_ENOTFOUND (missing segment),
//  MESHQ_ESTATE (locked, or open was called before on this object),
//  MESHQ_EIO, MESHQ_EFULL or MESHQ_ENOMEM; *why (borrowed, until the
//  next call) says what and where. After a failure, destroy the object.
int meshq_store_open (meshq_store_t *self, const char **why);

//  Sets the done callback (NULL: none).
void meshq_store_set_done (meshq_store_t *self, meshq_store_done_fn *fn,
                           void *arg);

//  Sets the log hook (NULL: stderr, debug lines off).
void meshq_store_set_log (meshq_store_t *self, meshq_store_log_fn *fn,
                          void *arg);

//  Replaces the system calls for writes and syncs (NULL: the real ones).
//  For tests.
void meshq_store_set_io (meshq_store_t *self, const meshq_store_io_t *io);

//  Appends a message for queue, identified by (queue, origin, seq), with
//  its envelope bytes (copied). A second enqueue of a live id replaces
//  the first. Sets *ticket. Returns 0; MESHQ_EFULL if the quota would be
//  exceeded or free space is below min_free (nothing is written); MESHQ_ETOOBIG / MESHQ_EINVAL for an
//  argument the format cannot carry; MESHQ_EIO after a failure;
//  MESHQ_ESTATE if not open.
int meshq_store_enqueue (meshq_store_t *self, const char *queue,
                         const uint8_t origin[16], uint64_t seq,
                         const void *envelope, size_t size, meshq_sync_t sync,
                         uint64_t *ticket);

//  Appends the ack of a message. Acks are never refused by the quota:
//  they are how a full store drains. Returns as enqueue.
int meshq_store_ack (meshq_store_t *self, const char *queue,
                     const uint8_t origin[16], uint64_t seq, meshq_sync_t sync,
                     uint64_t *ticket);

//  Appends version of the metadata key, with value (copied), or a
//  tombstone if value is NULL. The highest version of a key wins; of
//  equal versions, the last appended. Tombstones are kept while they
//  win, and, like acks, are not refused by the quota. Returns as
//  enqueue.
int meshq_store_meta (meshq_store_t *self, const char *key, uint64_t version,
                      const void *value, size_t size, meshq_sync_t sync,
                      uint64_t *ticket);

//  Says whether an enqueue or a metadata value with a payload of size
//  bytes would be taken now, appending nothing: 0, or the code (and
//  meshq_store_why) the append would fail with. For callers that must
//  refuse a request before they act on it.
int meshq_store_room (meshq_store_t *self, size_t size);

//  Writes everything appended since the last commit with one writev (two
//  or more when it crosses into new segments), then one fdatasync if any
//  of it is MESHQ_SYNC_ALWAYS, then calls the done callbacks. Returns 0
//  or the code of the first failure; the callbacks carry each append's.
int meshq_store_commit (meshq_store_t *self);

//  Periodic work: the interval fsync, deleting segments with nothing
//  live, compacting sparse ones a step at a time. Commits what is
//  pending first. Returns the milliseconds until it wants to run again,
//  as meshq_store_timeout.
int meshq_store_tick (meshq_store_t *self);

//  Returns the milliseconds until tick wants to run: 1 while compacting,
//  at most interval_ms once a commit has left MESHQ_SYNC_INTERVAL
//  appends waiting for their fsync, else 1000. A commit can move it
//  earlier, so re-arm the tick timer with it after each commit.
int meshq_store_timeout (meshq_store_t *self);

//  Visits the metadata (every key, in no particular order), then every
//  live enqueue in the order first appended. Either function may be
//  NULL. Returns 0, what a visitor returned to stop, or MESHQ_EIO /
//  MESHQ_ECORRUPT if a record can no longer be read (the others are
//  still visited).
int meshq_store_foreach (meshq_store_t *self,
                         meshq_store_enqueue_fn *on_enqueue,
                         meshq_store_meta_fn *on_meta, void *arg);

//  Fills stats.
void meshq_store_stats (meshq_store_t *self, meshq_store_stats_t *stats);

//  Returns the words of the last failure (borrowed; "" if none).
const char *meshq_store_why (meshq_store_t *self);

#endif
