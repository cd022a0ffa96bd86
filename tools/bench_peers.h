/*  bench_peers.h - `meshq bench --rabbitmq URL` and `--nats URL`: the
    scenario of a bench run, run again against another broker, beside
    meshq's figures.

    The same load as bench/bench_table's, with each broker's own C client
    (rabbitmq-c for RabbitMQ, libnats for NATS; bench/amqp_load_run.c and
    bench/nats_load.c): one connection per producer and consumer, bodies
    that carry their publish time, rates end to end. Against NATS a
    transient scenario runs on NATS core (one publisher, one subscriber)
    and a persistent one on JetStream (a file stream made for the run,
    its publishes acked within the confirm window, a durable consumer
    with explicit acks and the prefetch as its MaxAckPending).
*/
#ifndef MESHQ_TOOL_BENCH_PEERS_H_INCLUDED
#define MESHQ_TOOL_BENCH_PEERS_H_INCLUDED

#include "bench.h"

#include <stddef.h>

//  One run against a peer.
typedef struct {
    char what[32];          //  "RabbitMQ", "NATS core", "NATS JetStream".
    double publish_rate;    //  Published per second.
    double consume_rate;    //  Consumed per second, first publish to last.
    double p50_us;          //  Publish to delivery.
    double p99_us;          //  Same.
    double confirm_p50_us;  //  Publish to confirm (ack), with a window of 1.
    double confirm_p99_us;  //  Same.
    char error[256];        //  Why it failed, if it did.
} meshq_bench_peer_result_t;

//  Whether this build can run against NATS (it found libnats).
bool meshq_bench_peer_has_nats (void);

//  Checks, before a run, that url is a peer's URL (amqp://... unless
//  nats, then nats://...) and that something accepts connections there.
//  Returns 0, MESHQ_EINVAL or MESHQ_ECONNLOST with the reason in error.
int meshq_bench_peer_reach (const char *url, bool nats, char *error,
                            size_t size);

//  Runs config's scenario against the AMQP 0-9-1 server at url
//  (amqp://[USER[:PASSWORD]@]HOST[:PORT][/VHOST], guest and 5672 by
//  default) on config's queue name. Returns 0; MESHQ_EINVAL for a URL
//  or a scenario it cannot run (--duration); MESHQ_ECONNLOST when
//  nothing accepts connections there; MESHQ_EIO when the run fails.
//  result->error says why.
int meshq_bench_peer_rabbitmq (const meshq_bench_config_t *config,
                               const char *url,
                               meshq_bench_peer_result_t *result);

//  The same against the NATS server at url (nats://HOST[:PORT], 4222 by
//  default). NATS core takes 1 producer and 1 consumer.
int meshq_bench_peer_nats (const meshq_bench_config_t *config, const char *url,
                           meshq_bench_peer_result_t *result);

#endif
