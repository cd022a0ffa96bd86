/*  amqp_internal.h - the AMQP door's connections and channels, shared by
    its files: amqp_listen.c (the listener, sockets, heartbeats),
    amqp_connection.c (the connection class, logins), amqp_channel.c
    (channels, and what the engine sends them), amqp_basic.c (publish,
    deliver, get, acks, confirms), amqp_content.c (AMQP properties to and
    from meshq envelopes), amqp_queue.c (exchange and queue methods).

    Every channel is one engine session (agent_internal.h): its delivery
    tags, consumers, unacked deliveries and confirms are the engine's.
    The connection has one more session, with no requests of its own,
    that owns the connection's exclusive queues.
*/
#ifndef MESHQ_AMQP_INTERNAL_H_INCLUDED
#define MESHQ_AMQP_INTERNAL_H_INCLUDED

#include "agent_internal.h"
#include "amqp_wire.h"

//  Connections at once, at most; more are closed as they come.
#define MESHQ_AMQP_CONNECTIONS 1000
//  The channel_max Connection.Tune offers.
#define MESHQ_AMQP_CHANNEL_MAX 2047
//  The heartbeat (seconds) Connection.Tune offers, as RabbitMQ's.
#define MESHQ_AMQP_HEARTBEAT_S 60
//  Milliseconds a connection has to log in and open.
#define MESHQ_AMQP_HANDSHAKE_MS 10000
//  Bytes waiting for a client that does not read, at most (beyond one
//  message): past it the connection is closed.
#define MESHQ_AMQP_OUT_MAX (32u * 1024 * 1024)
//  The prefetch of a consumer of a channel with no Basic.Qos (AMQP's
//  0, no limit): the engine's credit window.
#define MESHQ_AMQP_PREFETCH_DEFAULT 1000
//  Engine requests of a channel waiting for their answer, at most.
#define MESHQ_AMQP_WAITS 16

typedef struct _meshq_amqp_listener_t meshq_amqp_listener_t;
typedef struct _meshq_amqp_conn_t meshq_amqp_conn_t;
typedef struct _meshq_amqp_channel_t meshq_amqp_channel_t;

//  A request to the engine waiting for its OK or ERROR.
typedef struct {
    uint64_t rid;                 //  Its request id.
    amqp_method_number_t method;  //  The AMQP method it answers.
    bool no_ack;                  //  Basic.Get's.
} meshq_amqp_wait_t;

//  A consumer of the channel, as the client knows it.
typedef struct {
    char tag[MESHQ_MAX_SHORTSTR + 1];  //  Consumer tag.
    bool no_ack;                       //  Auto-ack.
    uint32_t owed;  //  No-ack deliveries written, credit not yet given.
} meshq_amqp_consumer_t;

typedef enum {
    MESHQ_AMQP_CH_OPEN,     //  Working.
    MESHQ_AMQP_CH_CLOSING,  //  We sent Channel.Close: waiting for Close-Ok.
} meshq_amqp_ch_state_t;

struct _meshq_amqp_channel_t {
    meshq_amqp_conn_t *conn;      //  Its connection.
    uint16_t number;              //  Channel number.
    meshq_amqp_ch_state_t state;  //  Open or closing.
    meshq_session_t *session;     //  Its engine session, or NULL.
    bool release;                 //  Its session is to be closed.
    bool confirm;                 //  Confirm.Select done.
    bool paused;                  //  The engine said PAUSE, not RESUME.
    uint64_t publish_seq;         //  Last publish number (confirms).
    uint64_t confirmed;           //  Highest number answered.
    uint32_t prefetch;            //  Basic.Qos for new consumers, 0: none.
    zhashx_t *consumers;          //  Tag -> meshq_amqp_consumer_t.
    uint32_t acking;              //  Of those, not no_ack.
    char last_queue[MESHQ_MAX_SHORTSTR + 1];    //  Last declared here.
    uint64_t next_rid;                          //  Last request id given.
    meshq_amqp_wait_t waits[MESHQ_AMQP_WAITS];  //  Ring of requests.
    int wait_head;                              //  First waiting.
    int wait_count;                             //  How many.
    //  The publish being received: method, header, then body frames.
    int content;  //  0: none; 1: header expected; 2: body expected.
    char exchange[MESHQ_MAX_SHORTSTR + 1];     //  Its exchange.
    char routing_key[MESHQ_MAX_SHORTSTR + 1];  //  Its routing key.
    bool mandatory;                            //  Return if unroutable.
    amqp_basic_properties_t properties;        //  Copied into pool.
    amqp_pool_t pool;                          //  Its properties' bytes.
    uint64_t body_size;                        //  As the header says.
    uint64_t reserved;  //  Of conn's and the listener's receiving.
    meshq_buf_t body;   //  Received so far.
};

typedef enum {
    MESHQ_AMQP_GREETING,  //  Waiting for the protocol header.
    MESHQ_AMQP_START_OK,  //  Connection.Start sent.
    MESHQ_AMQP_LOGIN,     //  The password is being checked.
    MESHQ_AMQP_TUNE_OK,   //  Connection.Tune sent.
    MESHQ_AMQP_OPEN,      //  Waiting for Connection.Open.
    MESHQ_AMQP_RUNNING,   //  Open.
    MESHQ_AMQP_CLOSING,   //  We sent Connection.Close: waiting for Close-Ok.
    MESHQ_AMQP_DONE       //  Close once the output is written.
} meshq_amqp_state_t;

struct _meshq_amqp_conn_t {
    meshq_amqp_listener_t *listener;  //  Its listener.
    meshq_engine_t *engine;           //  The engine.
    int fd;                           //  Its socket.
    uint64_t id;                      //  Its number (login tickets).
    char peer[64];                    //  Client address, for logs.
    bool loopback;                    //  The client is on loopback.
    meshq_amqp_state_t state;         //  Where it is.
    meshq_amqp_parser_t *parser;      //  Its frames.
    meshq_buf_t out;                  //  Bytes to write.
    size_t out_sent;                  //  Of those, written.
    bool polling_out;                 //  Waiting for the socket to take more.
    bool reading;                     //  Its socket is read (not paused).
    uint32_t paused;                  //  Its channels told PAUSE.
    bool dead;                        //  To be freed by the reaper.
    bool ending;  //  Its sessions to be closed by the reaper.
    char user[MESHQ_MAX_SHORTSTR + 1];   //  Logged-in user.
    char vhost[MESHQ_MAX_SHORTSTR + 1];  //  Its vhost.
    meshq_session_t *owner;  //  Owns its exclusive queues, once open.
    uint16_t channel_max;    //  Agreed.
    uint32_t frame_max;      //  Agreed.
    uint16_t heartbeat;      //  Agreed, seconds; 0: none.
    int64_t started;         //  Monotonic ms it was accepted.
    int64_t last_recv;       //  Monotonic ms of the last byte read.
    int64_t last_send;       //  Monotonic ms of the last byte written.
    bool blocked;            //  Connection.Blocked sent.
    bool can_block;          //  The client takes Connection.Blocked.
    bool credit_due;         //  No-ack deliveries wait for their credit.
    uint64_t receiving;      //  Bytes of messages its channels receive.
    meshq_amqp_channel_t **channels;  //  By number, channel_max + 1.
};

struct _meshq_amqp_listener_t {
    meshq_engine_t *engine;  //  The engine.
    int fd;                  //  Listening socket.
    uint16_t port;           //  Its port.
    zlistx_t *conns;         //  meshq_amqp_conn_t.
    uint64_t next_id;        //  Last connection number given.
    int timer;               //  Heartbeats and handshakes.
    int reap_timer;          //  Armed: dead connections to free.
    zlistx_t *graves;        //  Dead ones, freed at the next reap.
    uint64_t refused;        //  Connections refused (too many).
    zlistx_t *logins;        //  Login tickets the auth module holds.
    uint64_t receiving;      //  Bytes of messages being received, all.
    meshq_buf_t envelope;    //  Reused: the envelope of a publish.
    amqp_pool_t pool;        //  Reused: the properties of a delivery.
};

//  amqp_listen.c
//  Appends bytes to the connection's output and has them written.
void meshq_amqp_write (meshq_amqp_conn_t *conn, const void *data, size_t size);
//  Encodes a method frame onto the output.
void meshq_amqp_send_method (meshq_amqp_conn_t *conn, uint16_t channel,
                             amqp_method_number_t id, void *decoded);
//  Has the reaper run at the next loop turn.
void meshq_amqp_defer (meshq_amqp_listener_t *self);
//  Reads the connection's socket, or stops: a connection stops reading
//  while one of its channels is paused and none of them consumes with
//  acks (docs/decisions/0025); at once when it closes.
void meshq_amqp_listen_update (meshq_amqp_conn_t *conn);
//  The connection closes (Connection.Close with code and text, method
//  the one at fault, or 0); nothing more is read from it.
void meshq_amqp_close (meshq_amqp_conn_t *conn, uint16_t code,
                       amqp_method_number_t method, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

//  amqp_connection.c
//  Handles a parser event on channel 0, or any before the connection is
//  open.
void meshq_amqp_connection_event (meshq_amqp_conn_t *conn,
                                  const meshq_amqp_event_t *event);
//  The auth module's answer to a login (ticket from
//  meshq_amqp_connection_event); true if it was the door's.
bool meshq_amqp_login_answer (meshq_engine_t *engine, void *ticket, int rc,
                              const char *why);
//  Frees what the connection holds in the engine and its channels.
void meshq_amqp_connection_end (meshq_amqp_conn_t *conn);
//  Tells the connection the engine blocks or unblocks publishers.
void meshq_amqp_connection_blocked (meshq_amqp_conn_t *conn, bool blocked,
                                    const char *why);

//  amqp_channel.c
extern const meshq_front_t meshq_amqp_front;
//  Handles a parser event on a channel other than 0.
void meshq_amqp_channel_event (meshq_amqp_conn_t *conn,
                               const meshq_amqp_event_t *event);
//  Frees a channel (its session closed first, if it has one).
void meshq_amqp_channel_destroy (meshq_amqp_channel_t **self_p);
//  Closes the channel with Channel.Close (a soft error).
void meshq_amqp_channel_error (meshq_amqp_channel_t *self, uint16_t code,
                               amqp_method_number_t method, const char *format,
                               ...) __attribute__ ((format (printf, 4, 5)));
//  A request to the engine, waiting for its answer as method (0: no
//  answer is sent, only an error closes the channel). Returns the rid
//  given, or 0 if too many wait.
uint64_t meshq_amqp_channel_request (meshq_amqp_channel_t *self,
                                     const char *verb, meshq_args_t *args,
                                     amqp_method_number_t method, bool no_ack,
                                     const void *body, size_t size);
//  The AMQP reply code of an engine error.
uint16_t meshq_amqp_reply_code (int code, const char *why);

//  amqp_basic.c
void meshq_amqp_basic_method (meshq_amqp_channel_t *self,
                              const meshq_amqp_event_t *event);
void meshq_amqp_basic_content (meshq_amqp_channel_t *self,
                               const meshq_amqp_event_t *event);
//  A DELIVER, RETURN, CONFIRM or NACK from the engine.
int meshq_amqp_basic_deliver (meshq_amqp_channel_t *self,
                              const meshq_args_t *args, const void *body,
                              size_t size, bool get, uint64_t message_count);
int meshq_amqp_basic_return (meshq_amqp_channel_t *self,
                             const meshq_args_t *args, const void *body,
                             size_t size);
void meshq_amqp_basic_confirm (meshq_amqp_channel_t *self, uint64_t upto,
                               bool nack);
//  Gives back what the message being received counted (it is done, or
//  its channel goes).
void meshq_amqp_basic_release (meshq_amqp_channel_t *self);
//  Gives the credit of no-ack deliveries written to the socket.
void meshq_amqp_basic_credit (meshq_amqp_channel_t *self);

//  amqp_content.c
//  Encodes properties and body as a meshq envelope into out. Returns 0,
//  or a code with why.
int meshq_amqp_content_encode (const char *exchange, const char *routing_key,
                               const amqp_basic_properties_t *properties,
                               const void *body, size_t size, meshq_buf_t *out,
                               const char **why);
//  One AMQP field value as a header value; false if it has no form
//  (tables, arrays, decimals).
bool meshq_amqp_content_value (const amqp_field_value_t *in,
                               meshq_value_t *out);
//  Decodes an envelope into properties (from pool) and a body view.
int meshq_amqp_content_decode (const void *data, size_t size,
                               meshq_envelope_t *envelope,
                               amqp_basic_properties_t *properties,
                               amqp_pool_t *pool);

//  amqp_queue.c
void meshq_amqp_queue_method (meshq_amqp_channel_t *self,
                              const meshq_amqp_event_t *event);
//  Maps an x- argument table onto the engine's arguments. Returns 0,
//  or an AMQP reply code with why.
uint16_t meshq_amqp_queue_arguments (const amqp_table_t *table,
                                     meshq_args_t *args, char *why,
                                     size_t size);

#endif
