/*  nats_load.h - the pieces of bench_nats and bench_table: a private
    NATS server (Debian's nats-server, nats_server.c) and NATS loads
    with its C client (libnats, nats_load.c), the
    twins of `meshq bench`'s scenarios.

    Each load has one publisher connection and one connection per
    subscriber, bodies that carry their publish time, so the rate is end
    to end (first publish to last delivery) and comparable with meshq
    bench's: NATS core for the transient scenario, JetStream (a file
    stream, explicit acks) for the durable ones, and one message in
    flight for the latency.
*/
#ifndef MESHQ_NATS_LOAD_H_INCLUDED
#define MESHQ_NATS_LOAD_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

//  A nats-server process on loopback, on a private port, with its log in
//  a scratch directory.
typedef struct {
    pid_t pid;         //  0: not running.
    int port;          //  Its client port on 127.0.0.1.
    char dir[256];     //  Scratch directory (log); removed by stop.
    char version[32];  //  As nats-server --version says, e.g. "2.9.10".
    bool jetstream;    //  Started with JetStream (file store in dir).
} meshq_nats_server_t;

typedef struct {
    uint64_t published;   //  Publishes.
    uint64_t consumed;    //  Deliveries.
    int64_t dropped;      //  Dropped by the client library (slow consumer).
    double consume_rate;  //  Deliveries per second, first publish to last.
    double publish_rate;  //  Publishes per second.
    double p50_us;        //  Publish to delivery, median.
    double p99_us;        //  Its 99th percentile.
    double ack_p50_us;    //  Publish to JetStream's ack, one in flight.
    double ack_p99_us;    //  Its 99th percentile.
    char error[256];      //  Why the run failed, if it did.
} meshq_nats_load_result_t;

//  A JetStream scenario: one publisher, consumers sharing one durable
//  push consumer (a queue group) on a file stream.
typedef struct {
    int consumers;        //  Subscriber connections.
    uint64_t count;       //  Messages.
    int size;             //  Body bytes (at least 8).
    int window;           //  Unacked asynchronous publishes at most.
    int max_ack_pending;  //  Unacked deliveries at most (the prefetch).
} meshq_nats_js_load_t;

//  Whether Debian's nats-server is installed.
bool meshq_nats_available (void);

//  Starts nats-server on 127.0.0.1 on a free port, its scratch directory
//  under parent, with JetStream (its file store in that directory) if
//  jetstream. Returns 0, or -1 after printing why.
int meshq_nats_start (meshq_nats_server_t *server, const char *parent,
                      bool jetstream);

//  Stops the server if it runs and removes its directory. Safe to call
//  from a signal handler's cleanup, and twice.
void meshq_nats_stop (meshq_nats_server_t *server);

//  Publishes count messages of size bytes (at least 16) on a fresh
//  subject at nats://host:port, one publisher and one subscriber
//  connection. Returns 0, or -1 with result->error.
int meshq_nats_load_run (const char *host, int port, uint64_t count, int size,
                         meshq_nats_load_result_t *result);

//  One message in flight, count times: publish, then wait for its
//  delivery (and with jetstream, for the server's ack of the publish, on
//  a file stream created for the run) before the next. Fills p50/p99 and
//  ack_p50/ack_p99. Returns 0, or -1 with result->error.
int meshq_nats_latency_run (const char *host, int port, uint64_t count,
                            int size, bool jetstream,
                            meshq_nats_load_result_t *result);

//  The JetStream scenario on a file stream created for the run (and
//  deleted after). Returns 0, or -1 with result->error.
int meshq_nats_js_load_run (const char *host, int port,
                            const meshq_nats_js_load_t *load,
                            meshq_nats_load_result_t *result);

#endif
