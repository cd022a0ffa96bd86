/*  bench.c - load generator against an agent. See bench.h. */
#include "bench.h"
#include "meshq.h"
#include "meshq_admin.h"

#include <czmq.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

//  Latency samples kept per consumer.
#define S_SAMPLES 2000000

typedef struct {
    const meshq_bench_config_t *config;  //  The run's settings.
    atomic_uint_fast64_t published;      //  Published so far, all producers.
    atomic_uint_fast64_t consumed;       //  Consumed so far, all consumers.
    atomic_bool publishing_done;         //  Every producer finished.
    atomic_bool stop;                    //  Consumers should stop.
    atomic_int errors;                   //  Failed calls.
    atomic_int consuming;                //  Consumers ready.
    int64_t start_ns;                    //  When publishing began.
    atomic_int_fast64_t last_ns;         //  Last consume time.
    pthread_mutex_t lock;                //  Guards error.
    char error[256];                     //  First failure.
} s_run_t;

typedef struct {
    s_run_t *run;         //  Shared state.
    int index;            //  Which producer or consumer.
    uint64_t count;       //  Messages to publish (producers).
    uint64_t got;         //  Messages consumed (consumers).
    double *samples;      //  Latencies in us (consumers).
    size_t sample_count;  //  Samples kept.
    int64_t debt_ns;      //  Work owed but not yet slept (consumers).
} s_worker_t;

//  Publish-to-confirm samples kept (producers, with a window of 1).
#define S_CONFIRM_SAMPLES 1000000

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
s_fail (s_run_t *run, meshq_client_t *client, const char *what, int rc)
{
    atomic_fetch_add (&run->errors, 1);
    pthread_mutex_lock (&run->lock);
    if (!*run->error)
        snprintf (run->error, sizeof run->error, "%s: %s (%s)", what,
                  meshq_strerror (rc),
                  client ? meshq_client_error (client) : "");
    pthread_mutex_unlock (&run->lock);
}

//  The agent endpoint of producer or consumer index.
static const char *
s_endpoint (const meshq_bench_config_t *config, bool producer, int index)
{
    const char *const *list =
        producer ? config->publish_at : config->consume_at;
    int count = producer ? config->publish_at_count : config->consume_at_count;
    return list && count > 0 ? list[index % count] : config->endpoint;
}

//  A consumer's work of us microseconds per message, as time it does
//  not spend receiving: owed, and slept once a millisecond is due, so the
//  rate holds without a spinning thread or usleep's per-call overhead.
static void
s_work (s_worker_t *worker, int us)
{
    worker->debt_ns += (int64_t)us * 1000;
    if (worker->debt_ns < 1000000)
        return;
    int64_t start = s_now_ns ();
    struct timespec ts = {0, (long)worker->debt_ns};
    nanosleep (&ts, NULL);
    worker->debt_ns -= s_now_ns () - start;
}

//  A client that logs in as the run says (user, password, vhost).
static meshq_client_t *
s_client_new (const meshq_bench_config_t *config, int timeout_ms)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, timeout_ms);
    if (config->user || config->password)
        meshq_client_set_credentials (client, config->user ? config->user : "",
                                      config->password ? config->password : "");
    if (config->vhost)
        meshq_client_set_vhost (client, config->vhost);
    return client;
}

static meshq_client_t *
s_connect (s_run_t *run, bool producer, int index)
{
    meshq_client_t *client = s_client_new (run->config, 30000);
    int rc = meshq_client_connect (client,
                                   s_endpoint (run->config, producer, index));
    if (rc) {
        s_fail (run, client, "connect", rc);
        meshq_client_destroy (&client);
    }
    return client;
}

static void *
s_producer (void *arg)
{
    s_worker_t *worker = arg;
    s_run_t *run = worker->run;
    const meshq_bench_config_t *config = run->config;
    meshq_client_t *client = s_connect (run, true, worker->index);
    if (!client)
        return NULL;
    if (config->confirm_window > 0)
        meshq_client_set_confirms (client, (uint32_t)config->confirm_window);
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, config->queue);
    meshq_msg_set_delivery_mode (msg, config->persistent ? MESHQ_PERSISTENT
                                                         : MESHQ_TRANSIENT);
    uint8_t *body = calloc (1, (size_t)config->size);
    assert (body);
    int64_t deadline = config->count
                           ? INT64_MAX
                           : run->start_ns + (int64_t)(config->duration * 1e9);
    uint64_t batch =
        config->publish_batch > 1 ? (uint64_t)config->publish_batch : 1;
    for (uint64_t i = 0; config->count ? i < worker->count : true; i++) {
        int64_t now = s_now_ns ();
        if (now >= deadline)
            break;
        memcpy (body, &now, sizeof now);
        meshq_msg_set_body (msg, body, (size_t)config->size);
        //  A batch of publish_batch, the last one without MESHQ_MORE.
        int flags = batch > 1 && (i + 1) % batch != 0 ? MESHQ_MORE : 0;
        int rc = meshq_client_publish (client, msg, flags);
        if (rc) {
            s_fail (run, client, "publish", rc);
            break;
        }
        //  One in flight: the time to its confirm is the figure.
        if (config->confirm_window == 1 && batch == 1) {
            rc = meshq_client_wait_for_confirms (client, 60000);
            if (rc) {
                s_fail (run, client, "wait_for_confirms", rc);
                break;
            }
            if (worker->samples && worker->sample_count < S_CONFIRM_SAMPLES)
                worker->samples[worker->sample_count++] =
                    (double)(s_now_ns () - now) / 1000.0;
        }
        atomic_fetch_add (&run->published, 1);
    }
    //  The last batch may be short.
    int rc = meshq_client_publish_flush (client);
    if (rc)
        s_fail (run, client, "publish", rc);
    if (config->confirm_window > 0) {
        rc = meshq_client_wait_for_confirms (client, 60000);
        if (rc)
            s_fail (run, client, "wait_for_confirms", rc);
    }
    free (body);
    meshq_msg_destroy (&msg);
    meshq_client_destroy (&client);
    return NULL;
}

static void *
s_consumer (void *arg)
{
    s_worker_t *worker = arg;
    s_run_t *run = worker->run;
    const meshq_bench_config_t *config = run->config;
    meshq_client_t *client = s_connect (run, false, worker->index);
    if (!client) {
        atomic_fetch_add (&run->consuming, 1);
        return NULL;
    }
    int rc =
        meshq_client_consume (client, config->queue, (uint32_t)config->prefetch,
                              NULL, config->auto_ack ? MESHQ_NO_ACK : 0);
    atomic_fetch_add (&run->consuming, 1);
    if (rc) {
        s_fail (run, client, "consume", rc);
        meshq_client_destroy (&client);
        return NULL;
    }
    int multi = config->multi_ack > 0 ? config->multi_ack : 1;
    uint64_t unacked = 0;
    while (!atomic_load (&run->stop)) {
        meshq_delivery_t *delivery = NULL;
        rc = meshq_client_recv (client, 50, &delivery);
        if (rc == MESHQ_ETIMEOUT)
            continue;
        if (rc) {
            s_fail (run, client, "recv", rc);
            break;
        }
        int64_t now = s_now_ns ();
        size_t size;
        const uint8_t *body = meshq_msg_body (delivery->msg, &size);
        if (size >= sizeof (int64_t) && worker->sample_count < S_SAMPLES) {
            int64_t sent;
            memcpy (&sent, body, sizeof sent);
            worker->samples[worker->sample_count++] =
                (double)(now - sent) / 1000.0;
        }
        if (config->work_us > 0)
            s_work (worker, config->work_us);
        if (config->slow_consumer == worker->index && config->slow_us > 0)
            s_work (worker, config->slow_us);
        if (!config->auto_ack && ++unacked >= (uint64_t)multi) {
            rc = meshq_client_ack (client, delivery->delivery_tag, multi > 1);
            unacked = 0;
            if (rc)
                s_fail (run, client, "ack", rc);
        }
        meshq_delivery_destroy (&delivery);
        worker->got++;
        atomic_fetch_add (&run->consumed, 1);
        atomic_store (&run->last_ns, now);
    }
    meshq_client_destroy (&client);
    return NULL;
}

void
meshq_bench_config_init (meshq_bench_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->queue = "meshq-bench";
    config->producers = 1;
    config->consumers = 1;
    config->count = 100000;
    config->size = 100;
    config->persistent = true;
    config->confirm_window = 1000;
    config->publish_batch = 1;
    config->prefetch = 100;
    config->multi_ack = 1;
    config->slow_consumer = -1;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  Waits up to 10 s until the queue is known at endpoint: across a mesh
//  a declaration reaches other agents by gossip.
static int
s_await_queue (const meshq_bench_config_t *config, const char *endpoint,
               meshq_bench_result_t *result)
{
    meshq_client_t *client = s_client_new (config, 10000);
    int rc = meshq_client_connect (client, endpoint);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.passive = true;
    int64_t deadline = s_now_ns () + 10000000000LL;
    while (rc == 0 &&
           meshq_client_declare_queue (client, config->queue, &options) &&
           s_now_ns () < deadline)
        zclock_sleep (10);
    if (rc == 0)
        rc = meshq_client_declare_queue (client, config->queue, &options);
    if (rc)
        snprintf (result->error, sizeof result->error, "%s: %s", endpoint,
                  meshq_client_error (client));
    meshq_client_destroy (&client);
    return rc;
}

//  Declares the queue afresh: durable per the run, empty, and known to
//  every agent the run uses.
static int
s_prepare (const meshq_bench_config_t *config, meshq_bench_result_t *result)
{
    meshq_client_t *client = s_client_new (config, 10000);
    int rc = meshq_client_connect (client, config->endpoint);
    if (rc == 0) {
        meshq_client_delete_queue (client, config->queue, false, false, NULL);
        meshq_queue_options_t options;
        meshq_queue_options_init (&options);
        options.durable = config->persistent;
        rc = meshq_client_declare_queue (client, config->queue, &options);
    }
    if (rc)
        snprintf (result->error, sizeof result->error, "%s",
                  *meshq_client_error (client) ? meshq_client_error (client)
                                               : meshq_strerror (rc));
    meshq_client_destroy (&client);
    for (int i = 0; rc == 0 && i < config->publish_at_count; i++)
        rc = s_await_queue (config, config->publish_at[i], result);
    for (int i = 0; rc == 0 && i < config->consume_at_count; i++)
        rc = s_await_queue (config, config->consume_at[i], result);
    return rc;
}

//  Asks the agent at endpoint for its memory and time per stage.
//  Returns 0, or -1 if it cannot.
static int
s_status (const char *endpoint, meshq_bench_result_t *result, long *rss)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_table_t *table = NULL;
    int rc = meshq_client_connect (client, endpoint);
    if (rc == 0)
        rc = meshq_client_status (client, &table);
    if (rc == 0 && meshq_table_rows (table) == 1) {
        int column = meshq_table_column_find (table, "rss_kb");
        *rss = column < 0 ? 0 : (long)meshq_table_uint (table, 0, column);
        if ((column = meshq_table_column_find (table, "rss_peak_kb")) >= 0)
            result->rss_peak_kb = (long)meshq_table_uint (table, 0, column);
        if ((column = meshq_table_column_find (table, "rss_idle_kb")) >= 0)
            result->rss_idle_kb = (long)meshq_table_uint (table, 0, column);
        if ((column = meshq_table_column_find (table, "stages")) >= 0)
            snprintf (result->stages, sizeof result->stages, "%s",
                      meshq_table_str (table, 0, column));
    } else if (rc == 0)
        rc = -1;
    meshq_table_destroy (&table);
    meshq_client_destroy (&client);
    return rc ? -1 : 0;
}

//  The agent's memory at the end of the run, and as it comes back.
static void
s_memory (const meshq_bench_config_t *config, meshq_bench_result_t *result)
{
    result->back_s = -1;
    long rss = 0;
    if (s_status (config->endpoint, result, &rss) || !rss)
        return;
    result->rss_end_kb = result->rss_after_kb = rss;
    int64_t start = s_now_ns ();
    int64_t until = start + (int64_t)(config->settle * 1e9);
    while (true) {
        if (result->rss_idle_kb && rss <= 2 * result->rss_idle_kb) {
            result->back_s = (double)(s_now_ns () - start) / 1e9;
            break;
        }
        if (s_now_ns () >= until)
            break;
        zclock_sleep (250);
        if (s_status (config->endpoint, result, &rss) || !rss)
            break;
        result->rss_after_kb = rss;
    }
}

int
meshq_bench_run (const meshq_bench_config_t *config,
                 meshq_bench_result_t *result)
{
    memset (result, 0, sizeof *result);
    if (config->producers < 0 || config->consumers < 0 ||
        config->consumers > 64 || config->size < 16) {
        snprintf (result->error, sizeof result->error,
                  "producers >= 0, consumers 0..64, size >= 16");
        return MESHQ_EINVAL;
    }
    int rc = s_prepare (config, result);
    if (rc) {
        result->errors = 1;
        return rc;
    }
    s_run_t run;
    memset (&run, 0, sizeof run);
    run.config = config;
    pthread_mutex_init (&run.lock, NULL);
    int total = config->producers + config->consumers;
    s_worker_t *workers = calloc ((size_t)total + 1, sizeof *workers);
    pthread_t *threads = calloc ((size_t)total + 1, sizeof *threads);
    assert (workers && threads);
    for (int i = 0; i < config->consumers; i++) {
        s_worker_t *worker = &workers[config->producers + i];
        worker->run = &run;
        worker->index = i;
        worker->samples = malloc (S_SAMPLES * sizeof (double));
        assert (worker->samples);
        pthread_create (&threads[config->producers + i], NULL, s_consumer,
                        worker);
    }
    while (atomic_load (&run.consuming) < config->consumers)
        zclock_sleep (1);
    run.start_ns = s_now_ns ();
    for (int i = 0; i < config->producers; i++) {
        workers[i].run = &run;
        workers[i].index = i;
        workers[i].count =
            config->count / (uint64_t)config->producers +
            ((uint64_t)i < config->count % (uint64_t)config->producers ? 1 : 0);
        if (config->confirm_window == 1) {
            workers[i].samples = malloc (S_CONFIRM_SAMPLES * sizeof (double));
            assert (workers[i].samples);
        }
        pthread_create (&threads[i], NULL, s_producer, &workers[i]);
    }
    //  Producers run; show progress once a second.
    int64_t last_report = run.start_ns;
    uint64_t last_published = 0, last_consumed = 0;
    for (int i = 0; i < config->producers; i++) {
        while (pthread_tryjoin_np (threads[i], NULL) != 0) {
            zclock_sleep (10);
            int64_t now = s_now_ns ();
            if (config->progress && now - last_report >= 1000000000) {
                uint64_t p = atomic_load (&run.published);
                uint64_t c = atomic_load (&run.consumed);
                double dt = (double)(now - last_report) / 1e9;
                fprintf (stderr,
                         "\rmeshq bench: %.0fs published %" PRIu64
                         " (%.0f/s) consumed %" PRIu64 " (%.0f/s)   ",
                         (double)(now - run.start_ns) / 1e9, p,
                         (double)(p - last_published) / dt, c,
                         (double)(c - last_consumed) / dt);
                last_report = now;
                last_published = p;
                last_consumed = c;
            }
        }
    }
    int64_t published_ns = s_now_ns ();
    uint64_t published = atomic_load (&run.published);
    //  Wait for the consumers to get everything (or stall for 10 s).
    uint64_t seen = 0;
    int64_t stall = s_now_ns ();
    while (config->consumers && atomic_load (&run.consumed) < published) {
        zclock_sleep (5);
        uint64_t now_seen = atomic_load (&run.consumed);
        if (now_seen != seen) {
            seen = now_seen;
            stall = s_now_ns ();
        } else if (s_now_ns () - stall > 10000000000LL) {
            snprintf (result->error, sizeof result->error,
                      "consumers stalled at %" PRIu64 " of %" PRIu64, seen,
                      published);
            break;
        }
    }
    atomic_store (&run.stop, true);
    for (int i = 0; i < config->consumers; i++)
        pthread_join (threads[config->producers + i], NULL);
    if (config->progress)
        fprintf (stderr, "\n");

    result->published = published;
    result->consumed = atomic_load (&run.consumed);
    result->seconds = (double)(published_ns - run.start_ns) / 1e9;
    result->publish_rate = (double)published / result->seconds;
    int64_t last = atomic_load (&run.last_ns);
    if (result->consumed && last > run.start_ns)
        result->consume_rate =
            (double)result->consumed / ((double)(last - run.start_ns) / 1e9);
    size_t samples = 0;
    for (int i = 0; i < config->consumers; i++)
        samples += workers[config->producers + i].sample_count;
    double *all = malloc ((samples + 1) * sizeof *all);
    assert (all);
    size_t n = 0;
    for (int i = 0; i < config->consumers; i++) {
        s_worker_t *worker = &workers[config->producers + i];
        memcpy (all + n, worker->samples, worker->sample_count * sizeof *all);
        n += worker->sample_count;
        result->per_consumer[i] = worker->got;
        free (worker->samples);
    }
    if (n) {
        qsort (all, n, sizeof *all, s_compare);
        result->p50_us = all[n / 2];
        result->p99_us = all[(size_t)((double)n * 0.99)];
        result->p999_us = all[(size_t)((double)n * 0.999)];
    }
    free (all);
    //  Publish to confirm, all producers.
    samples = 0;
    for (int i = 0; i < config->producers; i++)
        samples += workers[i].sample_count;
    all = malloc ((samples + 1) * sizeof *all);
    assert (all);
    n = 0;
    for (int i = 0; i < config->producers; i++) {
        if (workers[i].sample_count)
            memcpy (all + n, workers[i].samples,
                    workers[i].sample_count * sizeof *all);
        n += workers[i].sample_count;
        free (workers[i].samples);
    }
    if (n) {
        qsort (all, n, sizeof *all, s_compare);
        result->confirm_p50_us = all[n / 2];
        result->confirm_p99_us = all[(size_t)((double)n * 0.99)];
    }
    free (all);
    s_memory (config, result);
    result->errors = atomic_load (&run.errors);
    if (*run.error)
        snprintf (result->error, sizeof result->error, "%s", run.error);
    //  A run that moved nothing measured nothing: a failure, even when
    //  no call failed.
    if (!*result->error &&
        ((config->producers > 0 && published == 0) ||
         (config->consumers > 0 && published > 0 && result->consumed == 0)))
        snprintf (result->error, sizeof result->error,
                  "no message moved: published %" PRIu64 ", consumed %" PRIu64,
                  published, result->consumed);
    if (*result->error && result->errors == 0)
        result->errors = 1;
    free (workers);
    free (threads);
    pthread_mutex_destroy (&run.lock);
    return result->errors || *result->error ? MESHQ_EIO : 0;
}

double
meshq_bench_raw_throughput (const char *endpoint, int size, uint64_t count)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_rcvhwm (router, 100000);
    zsock_set_sndhwm (dealer, 100000);
    //  The endpoint bound, which tells the port of a tcp://...:* one.
    if (zsock_bind (router, "%s", endpoint) < 0 ||
        zsock_connect (dealer, "%s", zsock_endpoint (router)) < 0) {
        zsock_destroy (&dealer);
        zsock_destroy (&router);
        return 0;
    }
    //  The receiver runs on this thread; a sender thread would only add
    //  its own context switches, so send from a zactor.
    char *body = calloc (1, (size_t)size);
    void *in = zsock_resolve (router);
    void *out = zsock_resolve (dealer);
    int64_t start = s_now_ns ();
    uint64_t sent = 0, received = 0;
    zmq_msg_t msg;
    while (received < count) {
        while (sent < count && sent - received < 50000 &&
               zmq_send (out, body, (size_t)size, ZMQ_DONTWAIT) >= 0)
            sent++;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, in, 0) >= 0 && !zmq_msg_more (&msg))
            received++;
        zmq_msg_close (&msg);
    }
    double rate = (double)count / ((double)(s_now_ns () - start) / 1e9);
    free (body);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    return rate;
}

//  The echo side of the raw round trip: a ROUTER on its own thread, as
//  the agent's is, on a given CPU, sending back every message it gets
//  until $TERM.
typedef struct {
    zsock_t *router;  //  Bound; used by the echo thread only.
    int cpu;          //  Where the echo thread runs.
} s_echo_t;

static void
s_pin (int cpu)
{
    cpu_set_t set;
    CPU_ZERO (&set);
    CPU_SET (cpu, &set);
    pthread_setaffinity_np (pthread_self (), sizeof set, &set);
}

static void
s_echo (zsock_t *pipe, void *args)
{
    s_echo_t *echo = args;
    s_pin (echo->cpu);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, echo->router, NULL);
    void *in = zsock_resolve (echo->router);
    while (zpoller_wait (poller, -1) == echo->router) {
        zmq_msg_t id, data;
        zmq_msg_init (&id);
        zmq_msg_init (&data);
        if (zmq_msg_recv (&id, in, 0) >= 0 &&
            zmq_msg_recv (&data, in, 0) >= 0) {
            zmq_msg_send (&id, in, ZMQ_SNDMORE);
            zmq_msg_send (&data, in, 0);
        }
        zmq_msg_close (&id);
        zmq_msg_close (&data);
    }
    zpoller_destroy (&poller);
}

double
meshq_bench_raw_round_trip (const char *endpoint, int size, int count,
                            bool same_cpu)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (zsock_bind (router, "%s", endpoint) < 0 ||
        zsock_connect (dealer, "%s", endpoint) < 0) {
        zsock_destroy (&dealer);
        zsock_destroy (&router);
        return 0;
    }
    //  The ROUTER echoes from its own thread: the same thread for both
    //  ends would measure no wake-up at all (0.2 us), which no agent can
    //  have. A wake-up costs much less when the two threads share a CPU
    //  (~8 us here) than when they do not (~35-45 us), and where the
    //  scheduler puts them is chance, so both are pinned: to CPU 0, or
    //  to CPUs 0 and 1.
    cpu_set_t saved;
    pthread_getaffinity_np (pthread_self (), sizeof saved, &saved);
    s_pin (0);
    s_echo_t args = {router, same_cpu ? 0 : 1};
    zactor_t *echo = zactor_new (s_echo, &args);
    char *body = calloc (1, (size_t)size);
    double *samples = malloc ((size_t)count * sizeof *samples);
    void *out = zsock_resolve (dealer);
    for (int i = 0; i < count; i++) {
        int64_t start = s_now_ns ();
        zmq_send (out, body, (size_t)size, 0);
        zmq_recv (out, body, (size_t)size, 0);
        samples[i] = (double)(s_now_ns () - start) / 1000.0;
    }
    zactor_destroy (&echo);
    pthread_setaffinity_np (pthread_self (), sizeof saved, &saved);
    qsort (samples, (size_t)count, sizeof *samples, s_compare);
    double median = samples[count / 2];
    free (samples);
    free (body);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    return median;
}

double
meshq_bench_raw_fsync (const char *directory, int count)
{
    double p99;
    return meshq_bench_raw_fsync_p99 (directory, count, false, &p99);
}

double
meshq_bench_raw_fsync_p99 (const char *directory, int count, bool in_place,
                           double *p99)
{
    *p99 = 0;
    char path[1024];
    snprintf (path, sizeof path, "%s/raw-fsync.tmp", directory);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 0;
    char record[128] = {0};
    //  In place: the file's blocks are there and synced first, so that a
    //  fdatasync has only the data to write, as in a store's segment.
    if (in_place && (posix_fallocate (fd, 0, (off_t)count * 128) != 0 ||
                     fdatasync (fd) != 0)) {
        close (fd);
        unlink (path);
        return 0;
    }
    double *samples = malloc ((size_t)count * sizeof *samples);
    for (int i = 0; i < count; i++) {
        int64_t start = s_now_ns ();
        if (pwrite (fd, record, sizeof record, (off_t)i * 128) !=
                sizeof record ||
            fdatasync (fd) != 0)
            samples[i] = 0;
        else
            samples[i] = (double)(s_now_ns () - start) / 1000.0;
    }
    close (fd);
    unlink (path);
    qsort (samples, (size_t)count, sizeof *samples, s_compare);
    double median = samples[count / 2];
    *p99 = samples[count * 99 / 100];
    free (samples);
    return median;
}
