/*  queue.h - one queue on one agent: its messages and its consumers.

    A queue holds entries (one per message routed to it) in a FIFO per
    priority level, and the entries delivered but not yet settled in an
    unacked list ordered by lease. Dispatch hands the head of the highest
    non-empty level to the consumer with the most free credit (prefetch
    minus unacked), so a slow consumer gets less and an idle one more,
    and none gets more than its prefetch. A consumer is an endpoint: a
    local client's consumer, or (in a mesh) a remote agent with credit.

    The queue does not know sockets or the store: the host (the agent)
    sends deliveries, dead-letters and disposes of entries through the
    callbacks in meshq_queue_host_t.
*/
#ifndef MESHQ_QUEUE_H_INCLUDED
#define MESHQ_QUEUE_H_INCLUDED

#include "meshq.h"

#include <stdbool.h>
#include <stdint.h>

//  Bytes of an envelope, shared by every queue a publish was routed to.
typedef struct {
    uint32_t refs;      //  References; the last unref frees it.
    uint32_t size;      //  Bytes in data.
    uint64_t *account;  //  Counts the bytes of live blobs, or NULL.
    uint8_t data[];     //  The envelope as the publisher sent it.
} meshq_blob_t;

//  Copies size bytes into a new blob, adding them to *account (which
//  must outlive the blob) until it is freed.
meshq_blob_t *meshq_blob_new (const void *data, size_t size, uint64_t *account);
meshq_blob_t *meshq_blob_ref (meshq_blob_t *self);
void meshq_blob_unref (meshq_blob_t **self_p);

typedef struct _meshq_queue_t meshq_queue_t;
typedef struct _meshq_consumer_t meshq_consumer_t;
typedef struct _meshq_entry_t meshq_entry_t;

//  One message in one queue.
struct _meshq_entry_t {
    meshq_entry_t *prev;         //  In the ready level or unacked list.
    meshq_entry_t *next;         //  Same.
    meshq_entry_t *sprev;        //  In the holder's list (the host's).
    meshq_entry_t *snext;        //  Same.
    meshq_queue_t *queue;        //  The queue it is in.
    meshq_blob_t *blob;          //  Its envelope.
    uint64_t seq;                //  Message id sequence at its origin.
    uint64_t dtag;               //  Delivery tag while delivered.
    int64_t expires;             //  Wall-clock ms it expires at, or 0.
    int64_t lease;               //  Monotonic ms its delivery lapses at.
    uint32_t deliveries;         //  Times delivered.
    uint32_t body_size;          //  Body bytes, for max-length-bytes.
    uint8_t priority;            //  Its priority level in this queue.
    bool stored;                 //  Has an enqueue record in the store.
    bool remote;                 //  Sent here by its origin, another agent.
    uint8_t origin[16];          //  That agent (remote entries).
    uint64_t origin_dtag;        //  Its delivery tag there.
    bool redelivered;            //  Delivered (maybe) before.
    bool unacked;                //  In the unacked list.
    uint32_t origin_link;        //  The link to its origin it came over.
    meshq_consumer_t *consumer;  //  Holder while delivered (NULL: a get).
    void *session;               //  Holding session while delivered.
    int64_t born;                //  Monotonic ms it was first queued here.
};

//  A consumer of this queue.
struct _meshq_consumer_t {
    meshq_consumer_t *next;            //  Next consumer of the queue.
    meshq_queue_t *queue;              //  Its queue.
    void *session;                     //  Who consumes (the host's).
    char tag[MESHQ_MAX_SHORTSTR + 1];  //  Consumer tag.
    uint32_t prefetch;                 //  Most unacked deliveries.
    uint32_t unacked;                  //  Unacked deliveries now.
    bool exclusive;                    //  The queue's only consumer.
    bool remote;                       //  Another agent, with credit: each
                                       //  delivery it settles uses up one.
    bool no_ack;                       //  Settled as sent; unacked counts
                                       //  what its client has not yet
                                       //  given back (CREDIT).
};

//  Declared arguments of a queue.
typedef struct {
    bool durable;                       //  Survives restarts.
    bool exclusive;                     //  Owned by one session.
    bool auto_delete;                   //  Deleted when its last consumer goes.
    int64_t max_length;                 //  Ready messages, or -1.
    int64_t max_bytes;                  //  Ready body bytes, or -1.
    bool reject_publish;                //  Overflow refuses (else drops head).
    int64_t message_ttl;                //  ms, or -1.
    char dlx[MESHQ_MAX_SHORTSTR + 1];   //  Dead-letter exchange.
    bool has_dlx;                       //  dlx is set.
    char dlrk[MESHQ_MAX_SHORTSTR + 1];  //  Dead-letter routing key.
    bool has_dlrk;                      //  dlrk is set.
    int max_priority;                   //  0..9.
    uint32_t max_deliveries;            //  Deliveries before dead-lettering.
    int64_t ack_timeout;   //  ms before an unacked delivery lapses.
    int64_t dedup_window;  //  ms an acked message is not delivered again.
    bool local_first;      //  Dispatch: local consumers first.
} meshq_queue_args_t;

//  Why an entry left its queue by a rule rather than by an ack: each
//  queue counts its disposals per reason (agent STATUS and LIST_QUEUES
//  show them).
typedef enum {
    MESHQ_DISPOSED_EXPIRED,         //  "expired": its TTL passed.
    MESHQ_DISPOSED_MAXLEN,          //  "maxlen": a full drop-head queue.
    MESHQ_DISPOSED_REJECTED,        //  "rejected": nacked without requeue.
    MESHQ_DISPOSED_DELIVERY_LIMIT,  //  "delivery_limit": max_deliveries.
    MESHQ_DISPOSED_DEDUP,           //  "dedup": acked already elsewhere.
    MESHQ_DISPOSED_COUNT
} meshq_disposal_t;

//  The reason's name, as in x-death-reason.
const char *meshq_disposal_name (meshq_disposal_t disposal);

//  The disposal a reason names, or MESHQ_DISPOSED_COUNT if none.
meshq_disposal_t meshq_disposal_find (const char *reason);

//  What the queue asks of its host.
typedef struct {
    //  Send entry (now in the unacked list) to consumer.
    void (*deliver) (void *host, meshq_consumer_t *consumer,
                     meshq_entry_t *entry);
    //  The entry left the queue for good (reason: "expired", "maxlen",
    //  "rejected", "delivery_limit" or NULL for acked/purged/deleted):
    //  dead-letter it if the reason says so and the queue has a
    //  dead-letter exchange, then free it.
    void (*dispose) (void *host, meshq_entry_t *entry, const char *reason);
} meshq_queue_host_t;

//  The delivery count a consumer sees in entry's delivery, this one
//  included. A hand-off to another agent is not a delivery: what an
//  agent sends on to another counts the one its consumer will make.
uint32_t meshq_entry_count (const meshq_entry_t *entry);

//  Milliseconds of the monotonic clock (leases are monotonic; TTLs are
//  wall-clock, as they survive restarts).
int64_t meshq_mono_ms (void);

//  Milliseconds since the Unix epoch.
int64_t meshq_wall_ms (void);

//  Sets the defaults of queue arguments.
void meshq_queue_args_init (meshq_queue_args_t *args);

meshq_queue_t *meshq_queue_new (const char *name,
                                const meshq_queue_args_t *args,
                                const meshq_queue_host_t *host, void *arg);

//  Destroys the queue, disposing of every entry (reason NULL). Consumers
//  must have been removed.
void meshq_queue_destroy (meshq_queue_t **self_p);

const char *meshq_queue_name (const meshq_queue_t *self);

//  Replaces the queue's arguments (a redeclaration that won elsewhere in
//  the mesh). Returns false, changing nothing, if max_priority would
//  change while the queue holds messages.
bool meshq_queue_set_args (meshq_queue_t *self, const meshq_queue_args_t *args);

//  The host argument the queue was made with.
void *meshq_queue_host (const meshq_queue_t *self);

//  The session an exclusive queue belongs to (the host's), or NULL.
//  Marks the queue with a route's mark; false if it had it already.
bool meshq_queue_route_mark (meshq_queue_t *self, uint64_t mark);
void *meshq_queue_owner (const meshq_queue_t *self);
void meshq_queue_set_owner (meshq_queue_t *self, void *owner);
const meshq_queue_args_t *meshq_queue_args (const meshq_queue_t *self);
uint64_t meshq_queue_ready (const meshq_queue_t *self);
uint64_t meshq_queue_ready_bytes (const meshq_queue_t *self);
uint64_t meshq_queue_unacked (const meshq_queue_t *self);
//  Of the unacked entries, those another agent (their origin) sent
//  here, and the body bytes of the others: a walk of the unacked list,
//  for lists, not for the hot path.
void meshq_queue_unacked_split (const meshq_queue_t *self, uint64_t *remote,
                                uint64_t *own_bytes);
uint32_t meshq_queue_consumer_count (const meshq_queue_t *self);
meshq_consumer_t *meshq_queue_consumers (const meshq_queue_t *self);

//  Updates the queue's publish and delivery rates from its counters;
//  the agent calls it about once a second.
void meshq_queue_sample_rates (meshq_queue_t *self, int64_t now);

//  Messages per second published to and delivered from the queue, as of
//  the last sample.
double meshq_queue_publish_rate (const meshq_queue_t *self);
double meshq_queue_deliver_rate (const meshq_queue_t *self);

//  Messages per millisecond delivered from the queue lately, as of now
//  (monotonic ms): measured over windows of at least 20 ms, each
//  averaged with the one before; 0 until a window has passed. Flow
//  control (agent_flow.c) reads it to bound a backlog by its wait.
double meshq_queue_drain_rate (meshq_queue_t *self, int64_t now);

//  Counts count entries disposed of for a reason; the host calls it.
void meshq_queue_note_disposed (meshq_queue_t *self, meshq_disposal_t disposal,
                                uint64_t count);

//  Entries ever disposed of for a reason.
uint64_t meshq_queue_disposed (const meshq_queue_t *self,
                               meshq_disposal_t disposal);

//  Entries disposed of for a reason since they were last logged; and
//  marks them logged.
uint64_t meshq_queue_disposed_since (const meshq_queue_t *self,
                                     meshq_disposal_t disposal);
void meshq_queue_disposed_logged (meshq_queue_t *self,
                                  meshq_disposal_t disposal);

//  What a queue counted since it was made (for /metrics).
typedef struct {
    uint64_t published;         //  Entries pushed.
    uint64_t delivered;         //  Deliveries made.
    uint64_t first_deliveries;  //  Entries delivered a first time.
    uint64_t delivery_wait_ms;  //  Their time from queued to delivered.
    uint64_t acked;             //  Entries acked.
    uint64_t ack_wait_ms;       //  Their time from queued to acked.
} meshq_queue_totals_t;
void meshq_queue_totals (const meshq_queue_t *self,
                         meshq_queue_totals_t *totals);
//  Notes an entry of the queue delivered a first time (acked false) or
//  acked, wait_ms after it was queued here.
void meshq_queue_note_wait (meshq_queue_t *self, bool acked, int64_t wait_ms);
//  Per-message TTL and arrival give the expiry (wall-clock ms, 0 none).
int64_t meshq_queue_expiry (const meshq_queue_t *self, int64_t now,
                            int64_t message_ttl);

//  Adds a new entry at the tail of its level. Returns 0 when it is
//  queued; MESHQ_ELIMIT when the queue is full and refuses publishes
//  (the entry is not taken); 1 when the entry alone is too big for the
//  queue and was disposed of ("maxlen"). A full drop-head queue disposes
//  of its oldest entries ("maxlen") to make room.
int meshq_queue_push (meshq_queue_t *self, meshq_entry_t *entry);

//  Takes back a ready entry just pushed (its store append failed).
void meshq_queue_unpush (meshq_queue_t *self, meshq_entry_t *entry);

//  Puts a delivered entry back at the head of its level, redelivered.
//  The caller has settled it (it is no longer in the unacked list).
void meshq_queue_requeue (meshq_queue_t *self, meshq_entry_t *entry);

//  Removes a delivered entry from the unacked list (ack, nack, or its
//  holder went away) and frees its consumer's credit.
void meshq_queue_settle (meshq_queue_t *self, meshq_entry_t *entry);

//  Delivers to consumers with credit; returns deliveries made.
int meshq_queue_dispatch (meshq_queue_t *self, int64_t now);

//  Takes the next ready entry for a get: it comes back in the unacked
//  list (consumer NULL), or NULL if none is ready.
meshq_entry_t *meshq_queue_take (meshq_queue_t *self, int64_t now);

//  Disposes of expired entries at the heads of the levels.
void meshq_queue_expire (meshq_queue_t *self, int64_t now);

//  Returns an unacked entry whose lease lapsed before now (monotonic ms),
//  or NULL. The caller settles and requeues it.
meshq_entry_t *meshq_queue_lapsed (meshq_queue_t *self, int64_t now);

//  Extends a delivery's lease by the ack timeout from now.
void meshq_queue_touch (meshq_queue_t *self, meshq_entry_t *entry, int64_t now);

//  Disposes of every ready entry; returns how many.
uint64_t meshq_queue_purge (meshq_queue_t *self);

//  Disposes of the ready entries match says yes to, as acked (no
//  dead-lettering); returns how many.
uint64_t meshq_queue_dispose_if (meshq_queue_t *self,
                                 bool (*match) (const meshq_entry_t *entry,
                                                void *arg),
                                 void *arg);

//  Adds another agent as a consumer, with no credit yet (the host adds
//  what the agent grants to its prefetch).
meshq_consumer_t *meshq_queue_add_remote (meshq_queue_t *self, void *session,
                                          const char *tag);

//  Slots of local consumers promised to other agents (credit granted to
//  them), which local dispatch leaves free, less ahead: that many of the
//  messages coming can wait for a slot (read ahead) and need none now.
void meshq_queue_reserve (meshq_queue_t *self, int64_t slots);
uint32_t meshq_queue_reserved (const meshq_queue_t *self);
void meshq_queue_set_ahead (meshq_queue_t *self, int64_t ahead);

//  Local consumers (remote ones not counted).
uint32_t meshq_queue_local_consumers (const meshq_queue_t *self);

//  Hands an entry another agent sent (with a reserved slot) to the local
//  consumer with the most free credit. Returns false if none has any
//  (the caller gives it back to its origin).
bool meshq_queue_deliver_remote (meshq_queue_t *self, meshq_entry_t *entry);

//  State the host keeps about the queue (its mesh state), or NULL.
void *meshq_queue_mesh (const meshq_queue_t *self);
void meshq_queue_set_mesh (meshq_queue_t *self, void *mesh);

//  Adds a consumer. Returns NULL if the queue has an exclusive consumer,
//  or this one wants exclusivity and others exist.
meshq_consumer_t *meshq_queue_add_consumer (meshq_queue_t *self, void *session,
                                            const char *tag, uint32_t prefetch,
                                            bool exclusive);

//  Removes and frees a consumer; its unacked entries stay delivered
//  (consumer NULL) until their session settles them.
void meshq_queue_remove_consumer (meshq_queue_t *self,
                                  meshq_consumer_t *consumer);

#endif
