/*  nats_load.h - the pieces of bench_nats: a private NATS server
    (Debian's nats-server) and a core NATS load with its C client
    (libnats), the twin of `meshq bench --transient --auto-ack`.

    The load is one publisher connection and one subscriber connection
    on one subject, bodies that carry their publish time, so the rate
    is end to end (first publish to last delivery) and comparable with
    meshq bench's.
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
} meshq_nats_server_t;

typedef struct {
    uint64_t published;   //  Publishes.
    uint64_t consumed;    //  Deliveries.
    int64_t dropped;      //  Dropped by the client library (slow consumer).
    double consume_rate;  //  Deliveries per second, first publish to last.
    double publish_rate;  //  Publishes per second.
    double p50_us;        //  Publish to delivery, median.
    char error[256];      //  Why the run failed, if it did.
} meshq_nats_load_result_t;

//  Whether Debian's nats-server is installed.
bool meshq_nats_available (void);

//  Starts nats-server on 127.0.0.1 on a free port, its scratch directory
//  under parent. Returns 0, or -1 after printing why.
int meshq_nats_start (meshq_nats_server_t *server, const char *parent);

//  Stops the server if it runs and removes its directory. Safe to call
//  from a signal handler's cleanup, and twice.
void meshq_nats_stop (meshq_nats_server_t *server);

//  Publishes count messages of size bytes (at least 16) on a fresh
//  subject at nats://host:port, one publisher and one subscriber
//  connection. Returns 0, or -1 with result->error.
int meshq_nats_load_run (const char *host, int port, uint64_t count, int size,
                         meshq_nats_load_result_t *result);

//  A field of /proc/PID/status in kB ("VmRSS", "VmHWM"); 0 if unknown.
long meshq_nats_proc_kb (pid_t pid, const char *field);

//  CPU seconds (user + system) process pid has used so far; 0 if unknown.
double meshq_nats_proc_cpu_s (pid_t pid);

//  Resets the peak resident set (VmHWM) of process pid to its current
//  resident set, so that the next run's peak is its own.
void meshq_nats_reset_peak (pid_t pid);

#endif
