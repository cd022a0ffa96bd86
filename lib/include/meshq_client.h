/*  meshq_client.h - the client: queues, exchanges, publish, consume.

    A client talks to one queue agent: the agent on this host, through
    its ipc:// endpoint, or one embedded in this process (meshq_agent.h),
    through inproc://. The words are RabbitMQ's: declare a queue, bind it
    to an exchange, publish with confirms, consume with a prefetch, ack.

        meshq_client_t *client = meshq_client_new ();
        meshq_client_connect (client, NULL);        //  the default endpoint
        meshq_client_declare_queue (client, "jobs", NULL);
        meshq_client_publish_body (client, "", "jobs", "hi", 2);
        meshq_client_consume (client, "jobs", 10, NULL, 0);
        meshq_delivery_t *delivery;
        if (meshq_client_recv (client, 1000, &delivery) == 0) {
            ...
            meshq_client_ack (client, delivery->delivery_tag, false);
            meshq_delivery_destroy (&delivery);
        }
        meshq_client_destroy (&client);

    meshq leaves SIGINT and SIGTERM to the application: creating a
    client or an agent turns CZMQ's own handler off. A signal the
    application handles ends a wait with MESHQ_EINTR, as EINTR ends a
    system call; the client is unharmed and the call can be made again.

    A client is used from one thread. Every call returns 0 or a negative
    MESHQ_E* code; meshq_client_error then gives the agent's reason, such
    as "queue 'jobs' exists with max_length=100; you asked for 1000".
    A background thread keeps the session alive with heartbeats, so a
    long job does not look like a dead consumer; a job longer than the
    queue's ack timeout calls meshq_client_in_progress.

    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
*/
#ifndef MESHQ_CLIENT_H_INCLUDED
#define MESHQ_CLIENT_H_INCLUDED

#include "meshq.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The agent endpoint used when connect is given NULL and MESHQ_AGENT is
//  not set (docs/OPERATIONS.md).
#define MESHQ_DEFAULT_ENDPOINT "ipc:///tmp/meshq-agent.ipc"

//  What a queue does when it is full.
typedef enum {
    MESHQ_OVERFLOW_DROP_HEAD,      //  Drop (dead-letter) the oldest.
    MESHQ_OVERFLOW_REJECT_PUBLISH  //  Refuse the new one (nack).
} meshq_overflow_t;

//  Queue arguments. meshq_queue_options_init sets the defaults; a field
//  left at its default is not sent and the agent takes the default, so
//  a redeclaration must give the arguments of the declaration (as in
//  RabbitMQ): one left out conflicts with a value other than its default.
typedef struct {
    bool durable;               //  Survives agent restarts (default true).
    bool exclusive;             //  Only this connection; deleted with it.
    bool auto_delete;           //  Deleted when its last consumer cancels.
    bool passive;               //  Only check that it exists.
    int64_t max_length;         //  Ready messages, or -1 for no limit.
    int64_t max_length_bytes;   //  Ready body bytes, or -1.
    meshq_overflow_t overflow;  //  At max_length: drop head or reject.
    int64_t message_ttl;        //  Milliseconds in the queue, or -1.
    const char *dead_letter_exchange;     //  Where dead letters go, or NULL.
    const char *dead_letter_routing_key;  //  Their key, or NULL to keep it.
    int max_priority;      //  Highest priority honoured (0..9); 0: none.
    int max_deliveries;    //  Deliveries before dead-lettering (20).
    int64_t ack_timeout;   //  Milliseconds before an unacked delivery is
                           //  redelivered (30 minutes).
    int64_t dedup_window;  //  Milliseconds during which a message already
                           //  acked is not delivered again, and what a
                           //  lost agent held waits for it (0: off; see
                           //  docs/SEMANTICS.md).
    bool local_first;      //  Dispatch to this agent's consumers before
                           //  other agents' (default: balanced by credit).
} meshq_queue_options_t;

//  Flags for consume and publish.
#define MESHQ_NO_ACK    1  //  consume: acked as the agent sends it.
#define MESHQ_EXCLUSIVE 2  //  consume: the only consumer of the queue.
#define MESHQ_MANDATORY 4  //  publish: return the message if unroutable.
#define MESHQ_MORE      8  //  publish: more publishes follow at once.

//  A message delivered to this client.
typedef struct {
    meshq_msg_t *msg;         //  The message; owned by the delivery.
    uint64_t delivery_tag;    //  Ack, nack or reject with this.
    char consumer_tag[256];   //  The consumer, "" for a get.
    char queue[256];          //  The queue it came from.
    bool redelivered;         //  Delivered before (maybe to another).
    uint32_t delivery_count;  //  Deliveries so far, this one included.
} meshq_delivery_t;

typedef struct _meshq_client_t meshq_client_t;

//  Called for each delivery to a consumer that has a callback. The
//  callback owns the delivery (destroy it when done).
typedef void (meshq_consume_fn) (meshq_client_t *client,
                                 meshq_delivery_t *delivery, void *arg);

//  Called for each message returned as unroutable (MESHQ_MANDATORY).
//  msg is borrowed for the call.
typedef void (meshq_return_fn) (meshq_client_t *client, const meshq_msg_t *msg,
                                void *arg);

//  Sets the defaults in options.
MESHQ_EXPORT void meshq_queue_options_init (meshq_queue_options_t *options);

//  Creates a client, not yet connected.
MESHQ_EXPORT meshq_client_t *meshq_client_new (void);

//  Closes the session (unacked deliveries go back to their queues) and
//  destroys the client. Publishes still on their way are not dropped:
//  it first waits, up to the request timeout, until the agent has read
//  them (one round trip). NULL-safe; nulls *self_p.
MESHQ_EXPORT void meshq_client_destroy (meshq_client_t **self_p);

//  User and password for the agent (before connect). The default is
//  guest/guest, which agents accept over ipc:// and inproc:// only.
MESHQ_EXPORT void meshq_client_set_credentials (meshq_client_t *self,
                                                const char *user,
                                                const char *password);

//  The virtual host to work in (before connect); "/" by default.
MESHQ_EXPORT void meshq_client_set_vhost (meshq_client_t *self,
                                          const char *vhost);

//  How long a request waits for the agent's answer (default 10000 ms),
//  and the heartbeat interval (default 1000 ms; the agent drops the
//  session after three missed ones).
MESHQ_EXPORT void meshq_client_set_timeout (meshq_client_t *self,
                                            int timeout_ms);
MESHQ_EXPORT void meshq_client_set_heartbeat (meshq_client_t *self,
                                              int heartbeat_ms);

//  Connects to an agent: endpoint, or $MESHQ_AGENT, or
//  MESHQ_DEFAULT_ENDPOINT. Returns 0, MESHQ_ECONNLOST if no agent
//  answers, or MESHQ_EACCESS if it refuses the credentials.
MESHQ_EXPORT int meshq_client_connect (meshq_client_t *self,
                                       const char *endpoint);

//  The agent's reason for the last failure, or "" (borrowed).
MESHQ_EXPORT const char *meshq_client_error (const meshq_client_t *self);

//  Declares a queue (options NULL: the defaults). An empty name asks the
//  agent for a unique one; meshq_client_queue_name returns it. Returns
//  MESHQ_EPRECONDITION if it exists with other arguments, MESHQ_ENOTFOUND
//  for a passive declare of a missing queue.
MESHQ_EXPORT int
meshq_client_declare_queue (meshq_client_t *self, const char *name,
                            const meshq_queue_options_t *options);

//  The name of the queue last declared (borrowed).
MESHQ_EXPORT const char *meshq_client_queue_name (const meshq_client_t *self);

//  Deletes a queue and its messages; with if_unused / if_empty, refuses
//  (MESHQ_EPRECONDITION) a queue with consumers / messages. *messages
//  (if not NULL) gets the number of messages deleted.
MESHQ_EXPORT int meshq_client_delete_queue (meshq_client_t *self,
                                            const char *name, bool if_unused,
                                            bool if_empty, uint64_t *messages);

//  Removes a queue's ready messages; *messages gets how many.
MESHQ_EXPORT int meshq_client_purge_queue (meshq_client_t *self,
                                           const char *name,
                                           uint64_t *messages);

//  Declares an exchange of type "direct", "fanout", "topic" or
//  "headers".
MESHQ_EXPORT int meshq_client_declare_exchange (meshq_client_t *self,
                                                const char *name,
                                                const char *type, bool durable);

//  Deletes an exchange and its bindings.
MESHQ_EXPORT int meshq_client_delete_exchange (meshq_client_t *self,
                                               const char *name,
                                               bool if_unused);

//  Binds a queue to an exchange with a binding key. For a headers
//  exchange, match holds the arguments as a message's headers (x-match
//  = "all" or "any", and the values to match); otherwise pass NULL.
MESHQ_EXPORT int meshq_client_bind_queue (meshq_client_t *self,
                                          const char *queue,
                                          const char *exchange, const char *key,
                                          const meshq_msg_t *match);
MESHQ_EXPORT int meshq_client_unbind_queue (meshq_client_t *self,
                                            const char *queue,
                                            const char *exchange,
                                            const char *key,
                                            const meshq_msg_t *match);

//  Turns publisher confirms on: every publish is then confirmed by the
//  agent once it is stored (durably, for persistent messages on durable
//  queues). Publish blocks while window publishes are unconfirmed.
MESHQ_EXPORT int meshq_client_set_confirms (meshq_client_t *self,
                                            uint32_t window);

//  Publishes msg (not consumed) to its exchange with its routing key.
//  Returns 0 once sent; with confirms on, a refusal comes later from
//  wait_for_confirms. flags: MESHQ_MANDATORY, MESHQ_MORE. Publish waits,
//  up to the request timeout, while 2 MiB of this client's publishes
//  wait for the agent to read them (MESHQ_ETIMEOUT: this one not sent).
//
//  MESHQ_MORE says that more publishes follow at once (as MSG_MORE does
//  for send): the message may then be held back in the client, to go
//  with the next ones in one frame, which costs the client and the
//  agent much less than a frame each. Held-back messages are sent by
//  the next publish without MESHQ_MORE, by meshq_client_publish_flush,
//  before any other call that talks to the agent (wait_for_confirms,
//  recv, dispatch, get, ack, declare..., destroy), and once 64 of them
//  or 64 KiB are held. Each is still one publish: confirmed, refused or
//  returned on its own, in order. An error in sending them is returned
//  by the call that sent them. Without MESHQ_MORE, nothing is held.
MESHQ_EXPORT int meshq_client_publish (meshq_client_t *self,
                                       const meshq_msg_t *msg, int flags);

//  Sends the publishes held back by MESHQ_MORE now. Returns 0, or
//  MESHQ_ECONNLOST (they are then lost).
MESHQ_EXPORT int meshq_client_publish_flush (meshq_client_t *self);

//  Publishes a body as a persistent message.
MESHQ_EXPORT int meshq_client_publish_body (meshq_client_t *self,
                                            const char *exchange,
                                            const char *routing_key,
                                            const void *body, size_t size);

//  Waits until every publish so far is confirmed or refused. Returns 0
//  if all were confirmed, the code of the first refusal (MESHQ_ELIMIT
//  for a full queue with reject-publish, MESHQ_EFULL for a full disk),
//  or MESHQ_ETIMEOUT.
MESHQ_EXPORT int meshq_client_wait_for_confirms (meshq_client_t *self,
                                                 int timeout_ms);

//  When the agent reaches its memory high-water mark or disk quota it
//  refuses publishes (wait_for_confirms returns MESHQ_EFULL) and says it
//  is blocked. With block set, publish instead waits until the agent has
//  room again (or the request timeout passes: MESHQ_ETIMEOUT).
MESHQ_EXPORT void meshq_client_set_block_on_pressure (meshq_client_t *self,
                                                      bool block);

//  True while the agent says it refuses publishes.
MESHQ_EXPORT bool meshq_client_blocked (const meshq_client_t *self);

//  Called for messages returned as unroutable.
MESHQ_EXPORT void meshq_client_set_return_handler (meshq_client_t *self,
                                                   meshq_return_fn *fn,
                                                   void *arg);

//  Starts a consumer with at most prefetch unacked deliveries. tag NULL
//  lets the agent choose (meshq_client_consumer_tag returns it). With a
//  callback, deliveries go to it from meshq_client_dispatch; without,
//  meshq_client_recv returns them. flags: MESHQ_NO_ACK, MESHQ_EXCLUSIVE.
//  A MESHQ_NO_ACK consumer needs no acks, but its prefetch still bounds
//  the deliveries the application has not taken yet (recv, callback).
MESHQ_EXPORT int meshq_client_consume (meshq_client_t *self, const char *queue,
                                       uint32_t prefetch, const char *tag,
                                       int flags);
MESHQ_EXPORT int meshq_client_consume_with (meshq_client_t *self,
                                            const char *queue,
                                            uint32_t prefetch, const char *tag,
                                            int flags, meshq_consume_fn *fn,
                                            void *arg);

//  The tag of the consumer last started (borrowed).
MESHQ_EXPORT const char *meshq_client_consumer_tag (const meshq_client_t *self);

//  Stops a consumer; its unacked deliveries go back to the queue when
//  the client nacks them or closes.
MESHQ_EXPORT int meshq_client_cancel (meshq_client_t *self, const char *tag);

//  Waits up to timeout_ms (-1: forever) for a delivery to a consumer
//  without callback. Returns 0 with *delivery_p set (the caller owns
//  it), MESHQ_ETIMEOUT, or MESHQ_ECONNLOST.
MESHQ_EXPORT int meshq_client_recv (meshq_client_t *self, int timeout_ms,
                                    meshq_delivery_t **delivery_p);

//  Handles what arrives within timeout_ms, calling consumer callbacks.
//  Returns the number of deliveries handled, or a negative code.
MESHQ_EXPORT int meshq_client_dispatch (meshq_client_t *self, int timeout_ms);

//  Fetches one message from a queue. *delivery_p is NULL when the queue
//  is empty. With no_ack the message is acked at once.
MESHQ_EXPORT int meshq_client_get (meshq_client_t *self, const char *queue,
                                   bool no_ack, meshq_delivery_t **delivery_p);

//  Acknowledges a delivery, or with multiple all up to it.
MESHQ_EXPORT int meshq_client_ack (meshq_client_t *self, uint64_t tag,
                                   bool multiple);

//  Refuses deliveries: requeued (redelivered later) or dead-lettered.
MESHQ_EXPORT int meshq_client_nack (meshq_client_t *self, uint64_t tag,
                                    bool multiple, bool requeue);
MESHQ_EXPORT int meshq_client_reject (meshq_client_t *self, uint64_t tag,
                                      bool requeue);

//  Extends a delivery's lease by the queue's ack timeout: the job is
//  still being worked on.
MESHQ_EXPORT int meshq_client_in_progress (meshq_client_t *self, uint64_t tag);

//  Destroys a delivery and its message. NULL-safe; nulls *self_p.
MESHQ_EXPORT void meshq_delivery_destroy (meshq_delivery_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
