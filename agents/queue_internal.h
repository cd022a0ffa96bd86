/*  queue_internal.h - what queue.c and queue_consumers.c share of a
    queue: its fields, its lists of entries, and picking and delivering.
*/
#ifndef MESHQ_QUEUE_INTERNAL_H_INCLUDED
#define MESHQ_QUEUE_INTERNAL_H_INCLUDED

#include "queue.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESHQ_QUEUE_LEVELS (MESHQ_MAX_PRIORITY + 1)

//  A doubly linked list of entries.
typedef struct {
    meshq_entry_t *head;  //  First entry.
    meshq_entry_t *tail;  //  Last entry.
} meshq_entry_list_t;

struct _meshq_queue_t {
    char name[MESHQ_MAX_SHORTSTR + 1];  //  Queue name.
    meshq_queue_args_t args;            //  Declared arguments.
    const meshq_queue_host_t *host;     //  Callbacks to the agent.
    void *host_arg;                     //  Their argument.
    meshq_entry_list_t
        ready[MESHQ_QUEUE_LEVELS];  //  Ready entries by priority level.
    uint64_t ready_count;           //  Entries in ready.
    uint64_t ready_bytes;           //  Body bytes in ready.
    meshq_entry_list_t unacked;     //  Delivered, in lease order.
    uint64_t unacked_count;         //  Entries in unacked.
    meshq_consumer_t *consumers;    //  Consumers, in arrival order.
    uint32_t consumer_count;        //  Number of consumers.
    uint32_t rotor;                 //  Where the next credit scan starts.
    void *owner;                    //  Owning session if exclusive.
    uint64_t route_mark;            //  Mark of the last route it joined.
    uint64_t pushed;                //  Entries ever pushed.
    uint64_t delivered;             //  Deliveries ever made.
    uint64_t pushed_then;           //  pushed at the last sample.
    uint64_t delivered_then;        //  delivered at the last sample.
    int64_t sampled;                //  When the last sample was (ms).
    double publish_rate;            //  Pushed per second.
    double deliver_rate;            //  Delivered per second.
    int64_t drain_at;               //  Start of the drain window (ms).
    uint64_t drain_then;            //  delivered at its start.
    double drain_rate;              //  Delivered per ms, smoothed.
    uint32_t reserved;              //  Local slots promised to agents.
    int64_t ahead;                  //  Of those, how many need none.
    void *mesh;                     //  The host's mesh state.
    uint64_t disposed[MESHQ_DISPOSED_COUNT];  //  Disposals per reason.
    uint64_t reported[MESHQ_DISPOSED_COUNT];  //  Of those, logged.
    uint64_t first_deliveries;                //  Entries delivered once.
    uint64_t delivery_wait_ms;  //  Their wait from queued to delivered.
    uint64_t acked;             //  Entries acked.
    uint64_t ack_wait_ms;       //  Their wait from queued to acked.
};

static inline void
meshq_entry_list_append (meshq_entry_list_t *list, meshq_entry_t *entry)
{
    entry->next = NULL;
    entry->prev = list->tail;
    if (list->tail)
        list->tail->next = entry;
    else
        list->head = entry;
    list->tail = entry;
}

static inline void
meshq_entry_list_prepend (meshq_entry_list_t *list, meshq_entry_t *entry)
{
    entry->prev = NULL;
    entry->next = list->head;
    if (list->head)
        list->head->prev = entry;
    else
        list->tail = entry;
    list->head = entry;
}

static inline void
meshq_entry_list_unlink (meshq_entry_list_t *list, meshq_entry_t *entry)
{
    if (entry->prev)
        entry->prev->next = entry->next;
    else
        list->head = entry->next;
    if (entry->next)
        entry->next->prev = entry->prev;
    else
        list->tail = entry->prev;
    entry->prev = entry->next = NULL;
}

//  The consumer with the most free credit (queue_consumers.c); with
//  local_only, local consumers only, reservations ignored.
meshq_consumer_t *meshq_queue_pick_among (meshq_queue_t *self, bool local_only);

//  Records a delivery of entry to consumer (NULL: a get), leased until
//  lease (monotonic ms). A hand-off to another agent (a remote
//  consumer) leaves the entry's count alone: that agent says, when it
//  settles the entry, whether a consumer of its own got it.
void meshq_queue_deliver_entry (meshq_queue_t *self, meshq_entry_t *entry,
                                meshq_consumer_t *consumer, int64_t lease);

#endif
