/*  bench.h - load generator: producers and consumers against an agent.

    Used by `meshq bench` and by bench/agent. In the manner of `nats
    bench` and RabbitMQ PerfTest: N producers and M consumers, each on
    its own thread with its own client, on one queue; publish and
    consume rates, and end-to-end latency from the timestamp each
    message carries.
*/
#ifndef MESHQ_BENCH_H_INCLUDED
#define MESHQ_BENCH_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *endpoint;  //  Agent endpoint.
    const char *user;      //  Login, or NULL: guest (ipc:// and inproc://).
    const char *password;  //  Its password, or NULL.
    const char *vhost;     //  Virtual host, or NULL: "/".
    const char *queue;     //  Queue name.
    int producers;         //  Producer threads.
    int consumers;         //  Consumer threads.
    uint64_t count;        //  Messages in all (0: use duration).
    double duration;       //  Seconds of publishing, if count is 0.
    int size;              //  Body bytes (at least 16).
    bool persistent;       //  Persistent messages on a durable queue.
    int confirm_window;    //  Outstanding confirms; 0: no confirms.
    int publish_batch;     //  Publishes per frame (MESHQ_MORE); 1: each.
    int prefetch;          //  Consumer prefetch.
    bool auto_ack;         //  Consumers ack on receipt (library).
    int multi_ack;         //  Ack with 'multiple' every N (1: each).
    bool progress;         //  Progress line on stderr each second.
    int slow_consumer;     //  Consumer index to slow down, or -1.
    int slow_us;           //  Microseconds it spends per message.
    int work_us;           //  Microseconds every consumer spends.
    //  Across a mesh: producer i publishes to publish_at[i % n] and
    //  consumer i consumes at consume_at[i % n]; NULL lists mean endpoint.
    const char *const *publish_at;  //  Producers' agents.
    int publish_at_count;           //  Entries in publish_at.
    const char *const *consume_at;  //  Consumers' agents.
    int consume_at_count;           //  Entries in consume_at.
    double settle;  //  Seconds to watch the agent's memory come back
                    //  after the run; 0: not at all.
} meshq_bench_config_t;

typedef struct {
    uint64_t published;         //  Messages published.
    uint64_t consumed;          //  Messages consumed.
    double publish_rate;        //  Published per second.
    double consume_rate;        //  Consumed per second (first to last).
    double seconds;             //  Wall time of the run.
    double p50_us;              //  End-to-end latency percentiles.
    double p99_us;              //  Same.
    double p999_us;             //  Same.
    uint64_t per_consumer[64];  //  Consumed by each consumer.
    double confirm_p50_us;      //  Publish to confirm, with a window of 1.
    double confirm_p99_us;      //  Same.
    //  The agent's memory (STATUS; 0: unknown), in kB: its VmRSS 3 s
    //  after it started, its peak VmRSS since then (VmHWM), at the end
    //  of the run, and settle seconds later (or once it was within 2x of
    //  idle, which took back_s seconds; -1: not within settle).
    long rss_idle_kb;
    long rss_peak_kb;
    long rss_end_kb;
    long rss_after_kb;
    double back_s;
    char stages[512];  //  The agent's time per stage (STATUS), or "".
    int errors;        //  Failed calls.
    char error[256];   //  The first failure.
} meshq_bench_result_t;

//  Fills the defaults: 1 producer, 1 consumer, 100,000 messages of 100
//  bytes, persistent, confirm window 1000, prefetch 100, no settling.
void meshq_bench_config_init (meshq_bench_config_t *config);

//  Runs a benchmark. Returns 0, or a negative code with result->error:
//  the client's code when a connection or login fails (MESHQ_EACCESS for
//  a refused login), MESHQ_EIO when a call fails or no message moved.
int meshq_bench_run (const meshq_bench_config_t *config,
                     meshq_bench_result_t *result);

//  Measures raw libzmq: a DEALER sending size-byte messages to a ROUTER
//  on endpoint (a fresh one: inproc://, ipc:// or tcp://), for count
//  messages. Returns messages per second.
double meshq_bench_raw_throughput (const char *endpoint, int size,
                                   uint64_t count);

//  Median of count raw DEALER->ROUTER->DEALER round trips, in us; the
//  ROUTER echoes from its own thread, as an agent does, on the caller's
//  CPU or on another (both threads are pinned while it runs).
double meshq_bench_raw_round_trip (const char *endpoint, int size, int count,
                                   bool same_cpu);

//  Median of count write+fdatasync of 128 bytes in directory, in us.
double meshq_bench_raw_fsync (const char *directory, int count);

//  The same, with its 99th percentile in *p99 (us); in_place: into a
//  file allocated and synced beforehand (as the store's segments are),
//  else appending to it (each fdatasync also writes the file's size).
double meshq_bench_raw_fsync_p99 (const char *directory, int count,
                                  bool in_place, double *p99);

#endif
