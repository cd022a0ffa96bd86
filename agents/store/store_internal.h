/*  store_internal.h - the store's state, shared by its source files.

    The store is one class split by idea: store.c (life cycle, appends,
    stats), store_commit.c (group commit, syncs, callbacks),
    store_segment.c (the directory: MANIFEST, segment files, lock),
    store_recover.c (scanning segments, recovery, foreach),
    store_index.c (the in-memory index and how records change it),
    store_meta.c (metadata keys) and store_compact.c (tick: deleting
    and compacting segments). Nothing
    outside agents/store/ includes this header.

    Invariant, the one everything else serves: replaying the segments
    the MANIFEST lists, in order, through meshq_store_apply gives the
    index the store holds in memory, once what is pending is written.
    Recovery is that replay; commit applies each record after writing
    it; compaction only appends records that do not change the replay
    (copies of what is live, acks of what is dead) and deletes a segment
    only once nothing in it changes the replay any more, and what made
    that so is durable.
*/
#ifndef MESHQ_STORE_INTERNAL_H_INCLUDED
#define MESHQ_STORE_INTERNAL_H_INCLUDED

#include "buf.h"
#include "codec_store.h"
#include "store.h"

#include <stdarg.h>

//  Name of the MANIFEST, its temporary, and the lock file.
#define MESHQ_STORE_MANIFEST     "MANIFEST"
#define MESHQ_STORE_MANIFEST_TMP "MANIFEST.tmp"
#define MESHQ_STORE_LOCK         "LOCK"

//  Bytes of a segment file name: 16 hex digits and ".seg".
#define MESHQ_STORE_SEGNAME 20

//  Largest pending buffer kept from one commit to the next.
#define MESHQ_STORE_KEEP (16u << 20)

//  Bytes read at a time when scanning a segment.
#define MESHQ_STORE_WINDOW (4u << 20)

//  Stores from this size on report recovery progress, if asked to.
#define MESHQ_STORE_PROGRESS_MIN (64u << 20)

//  Individual corrupt-region log lines per open; then a summary.
#define MESHQ_STORE_LOG_CORRUPT 10

//  Bytes of appends between two looks at the filesystem's free space.
#define MESHQ_STORE_FREE_CHECK (256u << 10)

//  A segment below this fraction of needed bytes is compacted.
#define MESHQ_STORE_COMPACT_PERCENT 25

//  Bytes of a segment compaction reads per tick.
#define MESHQ_STORE_COMPACT_STEP (4u << 20)

//  Ops decoded ahead of the one applied, for prefetching.
#define MESHQ_STORE_AHEAD 16

//  Entries per chunk of the entry slab.
#define MESHQ_STORE_CHUNK 65536

//  A segment file as the store tracks it.
typedef struct {
    uint64_t number;    //  Segment number (its file name).
    uint64_t size;      //  Bytes in the file, header included.
    uint64_t live;      //  Bytes of live enqueues and winning metadata.
    uint64_t acks;      //  Bytes of ack records.
    uint64_t kill_lsn;  //  Session log position after the last record
                        //  that made one of its records dead.
    uint64_t corrupt;   //  Bytes of damage recovery skipped in it.
    uint32_t seed;      //  CRC seed of its records.
    bool compacted;     //  Compaction copied forward all it needs.
    bool pinned;        //  Compaction found damage recovery did not.
} meshq_store_segment_t;

//  One append waiting for commit, or one record being replayed.
typedef struct {
    uint8_t type;         //  meshq_record_type_t.
    uint8_t sync;         //  meshq_sync_t.
    bool internal;        //  A compaction copy: no ticket, no callback.
    uint32_t queue;       //  Interned queue (enqueue, ack).
    uint32_t origin;      //  Interned origin (enqueue, ack).
    uint64_t seq;         //  Origin's sequence (enqueue, ack).
    uint64_t ordinal;     //  First-append order (enqueue).
    uint64_t version;     //  Metadata version (meta).
    char *key;            //  Metadata key, owned until applied.
    void *value;          //  Metadata value, owned; NULL: tombstone.
    uint32_t key_size;    //  Bytes of key.
    uint32_t value_size;  //  Bytes of value.
    uint64_t segment;     //  Segment the record goes to.
    uint32_t offset;      //  Its offset there.
    uint32_t size;        //  Its framed size.
    uint64_t ticket;      //  Ticket the caller got (0 for internal).
    uint64_t lsn;         //  Session log position after it, once written.
    uint32_t hash;        //  Hash of its message id, 0 until computed.
} meshq_store_op_t;

//  A live enqueue in the index.
typedef struct {
    uint64_t seq;      //  Origin's sequence.
    uint64_t ordinal;  //  First-append order; the list is sorted by it.
    uint32_t queue;    //  Interned queue.
    uint32_t origin;   //  Interned origin.
    uint32_t segment;  //  Segment number of its record.
    uint32_t offset;   //  Offset of its record.
    uint32_t size;     //  Framed size of its record.
    uint32_t prev;     //  Previous entry in ordinal order, 0 for none.
    uint32_t next;     //  Next entry in ordinal order (or free list).
} meshq_store_entry_t;

//  Interned byte strings (queue names, origins), by id from 1.
typedef struct {
    char **items;       //  NUL-terminated copies, by id - 1.
    uint32_t *sizes;    //  Their sizes.
    uint32_t count;     //  Items.
    uint32_t capacity;  //  Items allocated.
    uint32_t *table;    //  Open addressing: id or 0.
    uint32_t mask;      //  Table size - 1.
    uint32_t last;      //  Last id found, tried first.
} meshq_store_names_t;

//  A metadata key's winning record.
typedef struct {
    char *key;          //  NUL-terminated.
    uint32_t key_size;  //  Bytes of key.
    uint64_t version;   //  Winning version.
    void *value;        //  Value; NULL: tombstone.
    uint32_t size;      //  Bytes of value.
    uint32_t segment;   //  Segment number of the winning record.
    uint32_t offset;    //  Its offset.
    uint32_t rsize;     //  Its framed size.
} meshq_store_meta_t;

//  A read window over one file.
typedef struct {
    int fd;              //  File read, or -1.
    uint64_t file_size;  //  Bytes in it.
    uint8_t *data;       //  Buffer.
    size_t capacity;     //  Bytes of buffer.
    uint64_t start;      //  File offset of data[0].
    size_t size;         //  Valid bytes at data.
} meshq_store_window_t;

//  What a scan found besides records.
typedef struct {
    uint64_t bad_regions;  //  Corrupt regions before the last record.
    uint64_t bad_bytes;    //  Bytes in them.
    uint64_t tail;         //  Offset of a bad region no record follows,
                           //  or the file size if none.
    uint64_t zeros;        //  In: only zeros from here to the end of the
                           //  file (space allocated ahead); 0: unknown.
} meshq_store_scan_t;

//  Called by meshq_store_scan for each intact record.
typedef int (meshq_store_visit_fn) (meshq_store_t *self,
                                    meshq_store_segment_t *segment,
                                    uint64_t offset,
                                    const meshq_record_t *record,
                                    size_t frame_size, void *arg);

//  Called by meshq_store_scan for each corrupt region it skips.
typedef void (meshq_store_bad_fn) (meshq_store_t *self,
                                   meshq_store_segment_t *segment,
                                   uint64_t offset, uint64_t size,
                                   const char *reason, void *arg);

//  Compaction in progress.
typedef struct {
    uint64_t number;  //  Segment being compacted, 0 for none.
    uint64_t offset;  //  Next offset to read.
    uint64_t bad;     //  Bytes of damage found so far.
    int fd;           //  Its file.
} meshq_store_compaction_t;

struct _meshq_store_t {
    char *directory;              //  Path given to new.
    meshq_store_config_t config;  //  With defaults filled in.
    int dir_fd;                   //  The directory, for *at and fsync.
    int lock_fd;                  //  LOCK, flocked while open.
    bool opened;                  //  open succeeded.
    bool failed;                  //  A failure we could not undo.
    bool firing;                  //  Inside done callbacks.
    bool full;                    //  Refusing for quota (logs once).
    uint64_t free_bytes;          //  Filesystem free space last seen.
    uint64_t free_since;          //  Bytes appended since then.
    char why[512];                //  Last failure, in words.
    char failure[512];            //  What made the store fail.
    uint8_t store_id[16];         //  Random id, salts record CRCs.
    meshq_store_done_fn *done;    //  Done callback.
    void *done_arg;               //  Its argument.
    meshq_store_log_fn *log;      //  Log hook, NULL for stderr.
    void *log_arg;                //  Its argument.
    meshq_store_io_t io;          //  System calls for writes and syncs.

    //  Segments, ascending; the last is the active one.
    meshq_store_segment_t *segments;  //  Array.
    size_t segment_count;             //  In use.
    size_t segment_capacity;          //  Allocated.
    int active_fd;                    //  The active segment, or -1.
    uint64_t reserved;                //  Its file's size: records, then
                                      //  zeros allocated ahead of them.
    uint64_t max_number;              //  Highest segment number seen.
    uint64_t *leftovers;              //  Unlisted segments to delete.
    uint32_t leftover_count;          //  In leftovers.
    bool leftover_tmp;                //  A MANIFEST.tmp to delete.
    uint64_t bytes;                   //  Sum of segment sizes.

    //  Appends since the last commit.
    meshq_buf_t pending;    //  Their records, framed, in order.
    meshq_store_op_t *ops;  //  One per record.
    size_t op_count;        //  In use.
    size_t op_capacity;     //  Allocated.
    uint64_t tail_segment;  //  Where the next record goes.
    uint64_t tail_offset;   //  And at which offset.
    uint64_t next_ticket;   //  Ticket of the next append.
    uint64_t next_ordinal;  //  Ordinal of the next new enqueue.

    //  Durability, as session log positions (bytes written since open).
    uint64_t written;         //  Written to files.
    uint64_t synced;          //  Of which covered by an fdatasync.
    uint64_t *waiting;        //  Tickets of MESHQ_SYNC_INTERVAL written.
    size_t waiting_count;     //  In use.
    size_t waiting_capacity;  //  Allocated.
    uint64_t waiting_since;   //  Monotonic ms of the oldest waiting.
    uint64_t *done_tickets;   //  Callbacks to fire: tickets.
    int *done_status;         //  And their status.
    size_t done_count;        //  In use.
    size_t done_capacity;     //  Allocated.

    //  The index.
    meshq_store_names_t queues;    //  Queue names.
    meshq_store_names_t origins;   //  Origins.
    meshq_store_entry_t **chunks;  //  Entry slab, MESHQ_STORE_CHUNK each.
    uint32_t chunk_count;          //  Chunks allocated.
    uint32_t entry_count;          //  Entries ever handed out (+1).
    uint32_t free_entry;           //  Free list head, 0 for none.
    uint64_t *table;               //  Open addressing: entry << 32 | hash.
    uint64_t mask;                 //  Table size - 1.
    uint64_t live;                 //  Live entries.
    uint32_t first;                //  Oldest entry by ordinal.
    uint32_t last;                 //  Newest entry by ordinal.
    bool unsorted;                 //  Replay linked one out of order.
    meshq_store_meta_t *metas;     //  Metadata keys.
    uint32_t meta_count;           //  In use.
    uint32_t meta_capacity;        //  Allocated.
    uint32_t *meta_table;          //  Open addressing: index + 1 or 0.
    uint32_t meta_mask;            //  Table size - 1.

    //  Scanning and compaction.
    meshq_store_window_t window;          //  Reused read buffer.
    meshq_store_compaction_t compaction;  //  In progress.
    uint64_t logged_corrupt;              //  Corrupt regions logged this open.

    meshq_store_stats_t stats;  //  Counters.
};

//  store.c

//  Formats *why (self->why) and returns rc.
int meshq_store_fail (meshq_store_t *self, int rc, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Logs one line at level.
void meshq_store_log (meshq_store_t *self, int level, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Returns CLOCK_MONOTONIC in ns.
uint64_t meshq_store_now_ns (void);

//  Maps an errno from writing to MESHQ_EFULL (disk full) or MESHQ_EIO.
int meshq_store_errno_code (int error);

//  Puts the store into the failed state (see store.h) and returns
//  MESHQ_EIO. reason is kept for the refusals that follow.
int meshq_store_set_failed (meshq_store_t *self, const char *reason);

//  Appends a compaction copy of record (from segment source). Returns 0
//  or MESHQ_ENOMEM.
int meshq_store_append_copy (meshq_store_t *self, const meshq_record_t *record);

//  store_commit.c

//  Writes what is pending; syncs if force_sync or any append asks to.
int meshq_store_flush (meshq_store_t *self, bool force_sync);

//  fdatasync of fd, timed and counted. Returns 0 or -1 with errno.
int meshq_store_fsync (meshq_store_t *self, int fd);

//  fdatasync of the active segment, timed and counted. Marks everything
//  written as synced. On failure, fails the store.
int meshq_store_sync (meshq_store_t *self);

//  Fires the done callbacks collected, then forgets them.
void meshq_store_fire (meshq_store_t *self);

//  Moves every waiting MESHQ_SYNC_INTERVAL ticket to the done list with
//  status.
void meshq_store_release_waiting (meshq_store_t *self, int status);

//  store_segment.c

//  Writes path of segment number into name (MESHQ_STORE_SEGNAME + 1).
void meshq_store_segment_name (uint64_t number, char *name);

//  Opens file name of the store's directory with flags and reads its
//  status into *st. Returns the descriptor, or MESHQ_EIO (*why says
//  why).
struct stat;
int meshq_store_file_open (meshq_store_t *self, const char *name, int flags,
                           struct stat *st);

//  Lists the directory, takes the lock, reads the MANIFEST and checks
//  what it lists is there. Sets *fresh for a new store and fills
//  *numbers (malloc'd, caller frees) with the segments to recover.
int meshq_store_dir_open (meshq_store_t *self, bool *fresh, uint64_t **numbers,
                          uint32_t *count);

//  Deletes the leftovers dir_open found (after recovery succeeded).
void meshq_store_dir_tidy (meshq_store_t *self);

//  Writes the MANIFEST listing the current segments plus extra (0 for
//  none) and minus skip (0 for none), durably.
int meshq_store_manifest_write (meshq_store_t *self, uint64_t extra,
                                uint64_t skip);

//  Creates segment number, durably, lists it in the MANIFEST, and makes
//  it the active segment (the previous one must be synced already).
int meshq_store_segment_create (meshq_store_t *self, uint64_t number);

//  Allocates the active segment's file to segment_size ahead of its
//  records, so that a commit's fdatasync writes data only, not the
//  file's new size. Best effort: a filesystem without fallocate or
//  without room leaves the file growing as it is written.
void meshq_store_segment_reserve (meshq_store_t *self);

//  Cuts the active segment's file back to its records (what a full
//  segment or a closed store keeps). Returns 0 or -1 with errno.
int meshq_store_segment_trim (meshq_store_t *self);

//  Returns where the run of zeros that ends fd's file of size bytes
//  starts, at from or later; negative for a read error.
int64_t meshq_store_zeros_from (int fd, uint64_t from, uint64_t size);

//  Removes segment number from the MANIFEST, then deletes its file.
int meshq_store_segment_delete (meshq_store_t *self, uint64_t number);

//  Returns the segment with number, or NULL.
meshq_store_segment_t *meshq_store_segment (meshq_store_t *self,
                                            uint64_t number);

//  Adds a segment to the table (ascending order is the caller's job).
meshq_store_segment_t *meshq_store_segment_add (meshq_store_t *self,
                                                uint64_t number, uint64_t size);

//  Opens segment number for reading; returns the fd or -1.
int meshq_store_segment_open (meshq_store_t *self, uint64_t number);

//  store_recover.c

//  Recovers the listed segments into the index.
int meshq_store_recover (meshq_store_t *self, const uint64_t *numbers,
                         uint32_t count);

//  Scans segment from offset `from` for at most budget bytes of records
//  (the whole file if budget is 0), through the window, which must be
//  reading the segment's file. Returns the offset where it stopped (the
//  file size at the end, or scan->tail), or a negative code for an
//  error of the visitor or of reading.
int64_t meshq_store_scan (meshq_store_t *self, meshq_store_segment_t *segment,
                          uint64_t from, uint64_t budget,
                          meshq_store_visit_fn *visit, meshq_store_bad_fn *bad,
                          void *arg, meshq_store_scan_t *scan);

//  Points the window at fd, of file_size bytes; with fd -1, frees a
//  buffer that grew past MESHQ_STORE_WINDOW.
void meshq_store_window_reset (meshq_store_window_t *window, int fd,
                               uint64_t file_size);

//  Returns n bytes at offset through the window, or NULL with *rc set
//  (MESHQ_ETRUNCATED past the end, MESHQ_EIO, MESHQ_ENOMEM).
const uint8_t *meshq_store_window_get (meshq_store_window_t *window,
                                       uint64_t offset, size_t n, int *rc);

//  store_index.c

//  Frees the index.
void meshq_store_index_fini (meshq_store_t *self);
//  Gives back the memory of an index that is empty again.
void meshq_store_index_shrink (meshq_store_t *self);

//  Interns a queue name or an origin; returns its id, or 0 if out of
//  memory.
uint32_t meshq_store_queue_id (meshq_store_t *self, const char *name,
                               uint32_t size);
uint32_t meshq_store_origin_id (meshq_store_t *self, const uint8_t *origin);

//  Returns the interned bytes of an id.
const char *meshq_store_queue_name (meshq_store_t *self, uint32_t id);
const uint8_t *meshq_store_origin_bytes (meshq_store_t *self, uint32_t id);

//  Computes the hash of an enqueue or ack op and prefetches its slot of
//  the index, so that applying it a few ops later does not wait for
//  memory: one cache miss per record was half of recovery's time.
void meshq_store_prefetch (meshq_store_t *self, meshq_store_op_t *op);

//  Applies one written record to the index and the segments' counts;
//  takes the op's key and value. Returns 0 or MESHQ_ENOMEM.
int meshq_store_apply (meshq_store_t *self, meshq_store_op_t *op);

//  Finds the live entry of a message; returns its index or 0.
uint32_t meshq_store_find (meshq_store_t *self, uint32_t queue, uint32_t origin,
                           uint64_t seq);

//  Returns entry i.
meshq_store_entry_t *meshq_store_entry (meshq_store_t *self, uint32_t i);

//  Returns a 32-bit hash of size bytes.
uint32_t meshq_store_hash_bytes (const void *data, size_t size);

//  Takes away the live bytes of a record in segment number that just
//  stopped being live, and notes when (kill_lsn).
void meshq_store_kill (meshq_store_t *self, uint64_t number, uint32_t size);

//  Sorts the ordinal list after a replay linked entries out of order.
void meshq_store_index_sort (meshq_store_t *self);

//  store_meta.c

//  Finds a metadata key; returns it or NULL.
meshq_store_meta_t *meshq_store_meta_find (meshq_store_t *self, const char *key,
                                           uint32_t size);

//  Applies a metadata record written to segment; takes the op's key and
//  value. Returns 0 or MESHQ_ENOMEM.
int meshq_store_meta_apply (meshq_store_t *self, meshq_store_op_t *op,
                            meshq_store_segment_t *segment);

//  Frees the metadata.
void meshq_store_meta_fini (meshq_store_t *self);

//  store_compact.c

//  Stops a compaction in progress (closing its file).
void meshq_store_compaction_stop (meshq_store_t *self);

#endif
