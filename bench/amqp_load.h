/*  amqp_load.h - the pieces of bench_amqp: a load generator over AMQP
    0-9-1 with rabbitmq-c, and a private RabbitMQ server to run it
    against.

    The load generator is the AMQP twin of `meshq bench` (tools/bench.c):
    one connection per producer and per consumer, one queue, 100-byte
    bodies that carry their publish time, so the rate is end to end
    (first publish to last delivery) and comparable with meshq bench's.
*/
#ifndef MESHQ_AMQP_LOAD_H_INCLUDED
#define MESHQ_AMQP_LOAD_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

//  A scenario, the same for every server it runs against.
typedef struct {
    const char *name;    //  Its row in the table.
    int producers;       //  Producer connections.
    int consumers;       //  Consumer connections.
    uint64_t count;      //  Messages in all.
    int size;            //  Body bytes (at least 16).
    bool persistent;     //  delivery_mode 2 on a durable queue.
    int confirm_window;  //  Unconfirmed publishes at most; 0: no confirms.
    int prefetch;        //  basic.qos per consumer.
    bool auto_ack;       //  no_ack consumers; else basic.ack each.
} meshq_amqp_load_t;

typedef struct {
    uint64_t published;     //  Publishes (confirmed, with confirms).
    uint64_t consumed;      //  Deliveries.
    double consume_rate;    //  Deliveries per second, first publish to last.
    double publish_rate;    //  Publishes per second.
    double p50_us;          //  Publish to delivery, median.
    double p99_us;          //  Its 99th percentile.
    double confirm_p50_us;  //  Publish to confirm, with a window of 1.
    double confirm_p99_us;  //  Its 99th percentile.
    char error[256];        //  Why the run failed, if it did.
} meshq_amqp_load_result_t;

//  Where an AMQP server is, and as whom to log in.
typedef struct {
    const char *host;      //  Address.
    int port;              //  Port.
    const char *user;      //  Login (PLAIN).
    const char *password;  //  Its password.
    const char *vhost;     //  Virtual host.
} meshq_amqp_server_t;

//  Runs the scenario against server on queue (deleted and declared
//  afresh). With a confirm window of 1, each producer waits for each
//  confirm before the next publish, and the times to the confirms are
//  kept: one message in flight. Returns 0, or -1 with result->error.
int meshq_amqp_load_run (const meshq_amqp_server_t *server, const char *queue,
                         const meshq_amqp_load_t *load,
                         meshq_amqp_load_result_t *result);

//  A private RabbitMQ node on loopback: its own node name, AMQP port,
//  distribution port, epmd (started here, on its own port) and state
//  directory, so that it meets no other Erlang node on the machine.
typedef struct {
    char dir[256];     //  State, logs and config; removed by stop.
    char node[64];     //  NAME@localhost.
    int port;          //  AMQP port on 127.0.0.1.
    int dist_port;     //  Erlang distribution port.
    int epmd_port;     //  Port of the epmd started here.
    pid_t server;      //  The rabbitmq-server process, or 0.
    pid_t epmd;        //  The epmd process, or 0.
    char version[32];  //  From the Debian package, or "".
} meshq_rabbitmq_t;

//  Whether Debian's rabbitmq-server is installed here.
bool meshq_rabbitmq_available (void);

//  Starts a node with its state in a new directory under parent and
//  waits (up to timeout_s) until it accepts AMQP connections. Returns
//  0, or -1 after printing why (what it started is stopped again).
int meshq_rabbitmq_start (meshq_rabbitmq_t *self, const char *parent,
                          int timeout_s);

//  Stops the node (rabbitmqctl stop, then SIGKILL if it lingers), its
//  epmd, and removes its directory. Safe to call twice.
void meshq_rabbitmq_stop (meshq_rabbitmq_t *self);

#endif
