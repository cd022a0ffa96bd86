/*  agent_trace.h - where a message's time goes inside the agent.

    One message at a time is followed from the wake-up that read it to
    its confirm and its delivery: monotonic timestamps at each stage,
    kept for the last MESHQ_TRACE_SAMPLES messages followed. With one
    message in flight every message is followed; under load, one in
    many, at the cost of a comparison per message per stage. STATUS
    gives the stages' percentiles ('stages'). Everything here lives on
    the agent's thread.
*/
#ifndef MESHQ_AGENT_TRACE_H_INCLUDED
#define MESHQ_AGENT_TRACE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Messages followed whose stages are kept.
#define MESHQ_TRACE_SAMPLES 8192

//  The stages, each the time since the one before it (dispatch: since
//  append; send: since dispatch).
typedef enum {
    MESHQ_TRACE_RECEIVE,     //  Wake-up to the publish handled.
    MESHQ_TRACE_ROUTE,       //  Routed.
    MESHQ_TRACE_APPEND,      //  In its queues and the store's next write.
    MESHQ_TRACE_WAIT,        //  Until the turn's commit starts.
    MESHQ_TRACE_FSYNC,       //  Written and fdatasync'ed.
    MESHQ_TRACE_CONFIRM,     //  Confirm sent.
    MESHQ_TRACE_DISPATCH,    //  Given to a consumer (since append).
    MESHQ_TRACE_SEND,        //  Its delivery sent (since dispatch).
    MESHQ_TRACE_TO_CONFIRM,  //  Wake-up to confirm sent.
    MESHQ_TRACE_TO_SEND,     //  Wake-up to delivery sent.
    MESHQ_TRACE_STAGES
} meshq_trace_stage_t;

typedef struct {
    int64_t wake;                    //  The ROUTER handler's last wake-up, ns.
    bool active;                     //  A message is being followed.
    bool persistent;                 //  It waits for a commit.
    bool confirms;                   //  Its publisher wants a confirm.
    void *session;                   //  Its publisher.
    uint64_t seq;                    //  Its publisher's sequence number.
    uint64_t msg_seq;                //  Its sequence in its queue.
    int64_t at[MESHQ_TRACE_STAGES];  //  When each stage ended, 0: not yet.
    int64_t started;                 //  Its wake-up, ns.
    uint32_t (*kept)[MESHQ_TRACE_STAGES];  //  Ring of stage times, us.
    size_t count;                          //  Samples kept so far (all time).
} meshq_trace_t;

#endif
