/*  client_internal.h - the client's state, shared by its files, and
    raw requests, for its files and the tests.

    The client is one object split by subject: client.c (life cycle,
    settings, connecting), client_call.c (sending, receiving, requests),
    client_declare.c (queues, exchanges, bindings), client_publish.c
    (publish, confirms, pressure), client_consume.c (consumers and
    deliveries), client_ack.c (acks, held back and batched) and
    client_admin.c with client_table.c (status, lists and administration,
    meshq_admin.h).
    Everything here is used from the application's one thread.
*/
#ifndef MESHQ_CLIENT_INTERNAL_H_INCLUDED
#define MESHQ_CLIENT_INTERNAL_H_INCLUDED

#include "args.h"
#include "buf.h"
#include "codec_args.h"
#include "meshq_client.h"

#include <czmq.h>

//  Most unacked deliveries a client may buffer before recv takes them is
//  bounded by the consumers' prefetch; this caps a frame from the agent.
#define MESHQ_CLIENT_MAX_FRAME (MESHQ_MAX_BODY_DEFAULT + 65536)

//  Acks a client sends in one frame, at most: a consumer acking each
//  message would otherwise cost the agent a frame per message.
#define MESHQ_CLIENT_ACK_BATCH 64

//  Most deliveries we take in one DELIVER frame (HELLO's 'nb').
#define MESHQ_CLIENT_MAX_BATCH 1024

//  Publishes held back (MESHQ_MORE) that make the client send them
//  itself: so many messages, or so many bytes of items.
#define MESHQ_CLIENT_PUBLISH_BATCH 64

//  Bytes of publishes a client sends between two SYNC requests; it
//  waits for the answer to one before it sends this much more, so no
//  more than twice this waits for the agent to read it.
#define MESHQ_CLIENT_SYNC_BYTES (1024 * 1024)

//  Largest envelope sent in the one-frame form (docs/PROTOCOL.md 2).
#define MESHQ_CLIENT_ONE_FRAME_MAX 8192

//  Publishes between two looks at what the agent sent (for PAUSE).
#define MESHQ_CLIENT_FLOW_CHECK    64
#define MESHQ_CLIENT_PUBLISH_BYTES 65536

struct _meshq_client_t {
    zsock_t *dealer;             //  To the agent.
    zactor_t *heartbeat;         //  Keeps the session alive.
    zactor_t *monitor;           //  Watches the login, during connect.
    zpoller_t *poller;           //  dealer and the heartbeat's pipe.
    char *endpoint;              //  Where we connected.
    char *user;                  //  User name.
    char *password;              //  Password.
    char *vhost;                 //  Virtual host.
    uint8_t session[16];         //  Our session id (the DEALER's identity).
    int timeout_ms;              //  Request timeout.
    int heartbeat_ms;            //  Heartbeat interval.
    bool connected;              //  HELLO answered.
    bool lost;                   //  The agent stopped answering.
    uint64_t next_rid;           //  Next request id.
    char error[512];             //  Reason of the last failure.
    char queue_name[256];        //  Last queue declared.
    char consumer_tag[256];      //  Last consumer started.
    size_t max_message;          //  Largest body the agent takes.
    bool confirms;               //  Publisher confirms on.
    uint32_t window;             //  Most unconfirmed publishes.
    uint64_t published;          //  Sequence of the last publish.
    uint64_t confirmed;          //  All up to this are answered.
    int nack_code;               //  First refusal since the last wait.
    zlistx_t *consumers;         //  Consumers (client_consume.c).
    zlistx_t *ready;             //  Deliveries for recv.
    zlistx_t *callbacks;         //  Deliveries for callbacks.
    meshq_return_fn *return_fn;  //  Returned-message handler.
    void *return_arg;            //  Its argument.
    meshq_buf_t args_buf;        //  Reused for argument maps.
    meshq_buf_t body_buf;        //  Reused for envelopes.
    zmsg_t *last_reply;          //  Results of the last request.
    uint64_t acks[MESHQ_CLIENT_ACK_BATCH];  //  Acks not yet sent.
    size_t ack_count;                       //  How many.
    bool blocked;                           //  The agent refuses publishes now.
    bool block_on_pressure;                 //  Publish waits while blocked.
    bool paused;                   //  The agent asked publishers to wait.
    uint32_t since_drained;        //  Publishes since frames were last read.
    meshq_delivery_item_t *items;  //  MESHQ_CLIENT_MAX_BATCH items, or NULL.
    meshq_buf_t publish_buf;       //  Publishes held back: their items.
    uint32_t publish_count;        //  How many.
    uint64_t publish_seq;          //  Sequence of the first (confirms).
    uint32_t publish_max;   //  Most publishes the agent takes in one frame.
    void *last_consumer;    //  Consumer last looked up (client_consume.c).
    uint64_t sync_rid;      //  The SYNC sent and not yet answered, or 0.
    size_t unsynced;        //  Bytes of publishes sent since the last SYNC.
    bool one_frame;         //  The agent takes a command as one frame.
    meshq_buf_t frame_buf;  //  Reused for one-frame commands.
};

//  Adds a string argument if value is not NULL.
#define MESHQ_CLIENT_SET_STR(args, ID, member, value)                          \
    do {                                                                       \
        if (value)                                                             \
            MESHQ_ARGS_SET (args, ID, member, meshq_span (value));             \
    } while (0)

//  Copies a span into dest (size bytes), cut short if it must be, and
//  NUL-terminates it.
static inline void
meshq_client_copy_span (char *dest, size_t size, meshq_span_t span)
{
    size_t n = span.size < size - 1 ? span.size : size - 1;
    memcpy (dest, span.data ? span.data : "", n);
    dest[n] = 0;
}

//  Sets the reason meshq_client_error gives, printf style.
void meshq_client_set_error (meshq_client_t *self, const char *format, ...);

//  Sends a command with its arguments and, if envelope is not NULL, an
//  envelope of size bytes; any other command than PUBLISH sends the
//  publishes held back first. Returns 0, or a negative code with the
//  error set.
int meshq_client_send (meshq_client_t *self, const char *verb,
                       const meshq_args_t *args, const void *envelope,
                       size_t size);

//  Receives and handles what arrives within timeout_ms (-1: no limit).
//  If rid is not 0 and its answer arrives, returns 1 with *reply_p set.
//  Returns 0 on timeout, or a negative code.
int meshq_client_poll (meshq_client_t *self, int timeout_ms, uint64_t rid,
                       zmsg_t **reply_p);

//  Handles the frames that have arrived, without waiting for more.
void meshq_client_drain (meshq_client_t *self);

//  Sends a request (verb and arguments; rid is set here) and waits for
//  the answer. On OK returns 0 and *reply_p is the reply (caller
//  destroys it): frame 1 "OK", frame 2 the results. On ERROR returns the
//  agent's code and meshq_client_error gives its reason.
int meshq_client_call (meshq_client_t *self, const char *verb,
                       meshq_args_t *args, zmsg_t **reply_p);

//  A request whose answer carries only status: decodes the results into
//  *results when not NULL (strings stay valid until the next call).
int meshq_client_request (meshq_client_t *self, const char *verb,
                          meshq_args_t *args, meshq_args_t *results);

//  Takes a DELIVER frame: one message, or a batch of them; body is its
//  third frame.
void meshq_client_deliver (meshq_client_t *self, const meshq_args_t *args,
                           const void *body, size_t size);

//  Gives no-ack consumers the credit of the deliveries the application
//  took since their last CREDIT.
void meshq_client_flush_credit (meshq_client_t *self);

//  Sends the acks held back: one frame for all of them. Returns 0 or a
//  negative code.
int meshq_client_flush_acks (meshq_client_t *self);

//  Called before a PUBLISH frame is sent: past MESHQ_CLIENT_SYNC_BYTES
//  of publishes (unsynced) since the last SYNC, waits for that one's
//  answer and sends another. Returns 0, or a negative code (then send
//  nothing).
int meshq_client_sync_before (meshq_client_t *self);

//  Waits up to timeout_ms until the agent has read every frame sent so
//  far (a SYNC answered). Returns 0, or a negative code.
int meshq_client_sync (meshq_client_t *self, int timeout_ms);

//  Sends the publishes held back (MESHQ_MORE): one frame for all of
//  them. Returns 0 or a negative code (they are then lost, and with
//  confirms no longer counted as published).
int meshq_client_flush_publishes (meshq_client_t *self);

#endif
