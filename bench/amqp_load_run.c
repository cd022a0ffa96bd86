/*  amqp_load_run.c - producers and consumers over AMQP 0-9-1 with
    rabbitmq-c, each on its own thread with its own connection. See
    amqp_load.h.
*/
#include "amqp_load.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

//  Latency samples kept per consumer.
#define S_SAMPLES 1000000

//  Seconds to wait for the server at most: to connect, for an RPC's
//  answer, for the next confirm.
#define S_TIMEOUT_S 30

//  What the threads of one run share.
typedef struct {
    const meshq_amqp_server_t *server;
    const meshq_amqp_load_t *load;
    const char *queue;
    atomic_uint_fast64_t published;  //  Publishes sent, all producers.
    atomic_uint_fast64_t consumed;   //  Deliveries, all consumers.
    atomic_int ready;                //  Consumers subscribed (or failed).
    atomic_bool stop;                //  Consumers should stop.
    atomic_bool failed;              //  Some thread failed.
    atomic_int_fast64_t last_ns;     //  Time of the last delivery.
    int64_t start_ns;                //  When publishing began.
    pthread_mutex_t lock;            //  Guards error.
    char error[256];                 //  The first failure.
} s_run_t;

typedef struct {
    s_run_t *run;
    uint64_t count;   //  Messages to publish (producers).
    double *samples;  //  Latencies in us (consumers).
    size_t kept;      //  Samples kept.
} s_worker_t;

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
s_fail (s_run_t *run, const char *what, const char *why)
{
    pthread_mutex_lock (&run->lock);
    if (!*run->error)
        snprintf (run->error, sizeof run->error, "%s: %s", what, why);
    pthread_mutex_unlock (&run->lock);
    atomic_store (&run->failed, true);
    atomic_store (&run->stop, true);
}

//  Why an RPC failed, in words: the library's error, or the server's
//  close code and text.
static void
s_reply_text (amqp_rpc_reply_t reply, char *text, size_t size)
{
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        snprintf (text, size, "%s", amqp_error_string2 (reply.library_error));
    else if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
             reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *close = reply.reply.decoded;
        snprintf (text, size, "connection closed by the server: %u %.*s",
                  close->reply_code, (int)close->reply_text.len,
                  (char *)close->reply_text.bytes);
    } else if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
               reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *close = reply.reply.decoded;
        snprintf (text, size, "channel closed by the server: %u %.*s",
                  close->reply_code, (int)close->reply_text.len,
                  (char *)close->reply_text.bytes);
    } else
        snprintf (text, size, "unexpected reply (type %d)",
                  (int)reply.reply_type);
}

//  Checks the last RPC; on failure records it as what and returns -1.
static int
s_check (s_run_t *run, amqp_connection_state_t conn, const char *what)
{
    amqp_rpc_reply_t reply = amqp_get_rpc_reply (conn);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    char text[200];
    s_reply_text (reply, text, sizeof text);
    s_fail (run, what, text);
    return -1;
}

//  A connection with channel 1 open, logged in; NULL after s_fail.
static amqp_connection_state_t
s_connect (s_run_t *run)
{
    const meshq_amqp_server_t *server = run->server;
    amqp_connection_state_t conn = amqp_new_connection ();
    amqp_socket_t *socket = amqp_tcp_socket_new (conn);
    //  A server that accepts and then says nothing fails the run.
    struct timeval handshake = {S_TIMEOUT_S, 0}, rpc = {S_TIMEOUT_S, 0};
    amqp_set_handshake_timeout (conn, &handshake);
    amqp_set_rpc_timeout (conn, &rpc);
    char text[200];
    struct timeval connect = {S_TIMEOUT_S, 0};
    int rc = socket ? amqp_socket_open_noblock (socket, server->host,
                                                server->port, &connect)
                    : AMQP_STATUS_NO_MEMORY;
    if (rc != AMQP_STATUS_OK) {
        snprintf (text, sizeof text, "%s:%d: %s", server->host, server->port,
                  amqp_error_string2 (rc));
        s_fail (run, "connect", text);
        amqp_destroy_connection (conn);
        return NULL;
    }
    amqp_rpc_reply_t reply =
        amqp_login (conn, server->vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                    server->user, server->password);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        char why[160];
        s_reply_text (reply, why, sizeof why);
        snprintf (text, sizeof text, "login as '%s' at %s:%d: %s", server->user,
                  server->host, server->port, why);
        s_fail (run, "connect", text);
        amqp_destroy_connection (conn);
        return NULL;
    }
    amqp_channel_open (conn, 1);
    if (s_check (run, conn, "channel.open")) {
        amqp_destroy_connection (conn);
        return NULL;
    }
    return conn;
}

static void
s_close (amqp_connection_state_t conn)
{
    amqp_channel_close (conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close (conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection (conn);
}

//  Publisher confirms: which delivery tags the server has settled, so
//  that acks with and without 'multiple' in any order count once each.
typedef struct {
    uint8_t *done;   //  Ring of window + 1 flags, by tag.
    uint64_t size;   //  Entries in the ring.
    uint64_t low;    //  Every tag up to low is settled.
    uint64_t next;   //  Next tag to publish.
    uint64_t nacks;  //  Nacked tags.
} s_confirms_t;

static void
s_settle (s_confirms_t *self, uint64_t tag, bool multiple, bool nack)
{
    if (tag <= self->low || tag >= self->next)
        return;
    if (multiple) {
        for (uint64_t t = self->low + 1; t <= tag; t++) {
            if (!self->done[t % self->size] && nack)
                self->nacks++;
            self->done[t % self->size] = 0;
        }
        self->low = tag;
    } else {
        self->done[tag % self->size] = 1;
        self->nacks += nack;
    }
    while (self->low + 1 < self->next &&
           self->done[(self->low + 1) % self->size]) {
        self->done[(self->low + 1) % self->size] = 0;
        self->low++;
    }
}

//  Reads one frame (blocking if block) and settles what it confirms.
//  Returns 0, 1 if nothing was there without blocking, or -1 after
//  s_fail.
static int
s_read_confirm (s_run_t *run, amqp_connection_state_t conn,
                s_confirms_t *confirms, bool block)
{
    amqp_frame_t frame;
    struct timeval wait = {block ? S_TIMEOUT_S : 0, 0};
    int rc = amqp_simple_wait_frame_noblock (conn, &frame, &wait);
    if (rc == AMQP_STATUS_TIMEOUT && block) {
        s_fail (run, "confirms", "no confirm within 30 s");
        return -1;
    }
    if (rc == AMQP_STATUS_TIMEOUT)
        return 1;
    if (rc != AMQP_STATUS_OK) {
        s_fail (run, "confirms", amqp_error_string2 (rc));
        return -1;
    }
    if (frame.frame_type != AMQP_FRAME_METHOD)
        return 0;
    amqp_method_t *method = &frame.payload.method;
    if (method->id == AMQP_BASIC_ACK_METHOD) {
        amqp_basic_ack_t *ack = method->decoded;
        s_settle (confirms, ack->delivery_tag, ack->multiple, false);
    } else if (method->id == AMQP_BASIC_NACK_METHOD) {
        amqp_basic_nack_t *nack = method->decoded;
        s_settle (confirms, nack->delivery_tag, nack->multiple, true);
    } else if (method->id == AMQP_CHANNEL_CLOSE_METHOD ||
               method->id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_rpc_reply_t reply = {.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION,
                                  .reply = *method};
        char text[200];
        s_reply_text (reply, text, sizeof text);
        s_fail (run, "publish", text);
        return -1;
    }
    amqp_maybe_release_buffers (conn);
    return 0;
}

static void *
s_producer (void *arg)
{
    s_worker_t *worker = arg;
    s_run_t *run = worker->run;
    const meshq_amqp_load_t *load = run->load;
    amqp_connection_state_t conn = s_connect (run);
    if (!conn)
        return NULL;
    int window = load->confirm_window;
    s_confirms_t confirms = {.size = (uint64_t)window + 1, .next = 1};
    if (window > 0) {
        confirms.done = calloc (confirms.size, 1);
        amqp_confirm_select (conn, 1);
        if (s_check (run, conn, "confirm.select")) {
            free (confirms.done);
            amqp_destroy_connection (conn);
            return NULL;
        }
    }
    amqp_basic_properties_t props = {._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
                                     .delivery_mode = load->persistent ? 2 : 1};
    uint8_t *body = calloc (1, (size_t)load->size);
    amqp_bytes_t bytes = {(size_t)load->size, body};
    amqp_bytes_t queue = amqp_cstring_bytes (run->queue);
    for (uint64_t i = 0; i < worker->count && !atomic_load (&run->stop); i++) {
        int64_t now = s_now_ns ();
        memcpy (body, &now, sizeof now);
        int rc = amqp_basic_publish (conn, 1, amqp_empty_bytes, queue, 0, 0,
                                     &props, bytes);
        if (rc != AMQP_STATUS_OK) {
            s_fail (run, "basic.publish", amqp_error_string2 (rc));
            break;
        }
        atomic_fetch_add (&run->published, 1);
        if (window <= 0)
            continue;
        confirms.next++;
        //  Block while the window is full, then take what has come.
        while (confirms.next - 1 - confirms.low >= (uint64_t)window)
            if (s_read_confirm (run, conn, &confirms, true) < 0)
                goto done;
        //  One in flight: the time to its confirm is the figure.
        if (window == 1 && worker->kept < S_SAMPLES)
            worker->samples[worker->kept++] =
                (double)(s_now_ns () - now) / 1000.0;
        while (amqp_frames_enqueued (conn) || amqp_data_in_buffer (conn))
            if (s_read_confirm (run, conn, &confirms, false))
                break;
    }
    //  Every publish confirmed before the producer is done.
    while (window > 0 && !atomic_load (&run->failed) &&
           confirms.low + 1 < confirms.next)
        if (s_read_confirm (run, conn, &confirms, true) < 0)
            break;
    if (confirms.nacks) {
        char text[64];
        snprintf (text, sizeof text, "%" PRIu64 " publishes nacked",
                  confirms.nacks);
        s_fail (run, "confirms", text);
    }
done:
    free (body);
    free (confirms.done);
    s_close (conn);
    return NULL;
}

static void *
s_consumer (void *arg)
{
    s_worker_t *worker = arg;
    s_run_t *run = worker->run;
    const meshq_amqp_load_t *load = run->load;
    amqp_connection_state_t conn = s_connect (run);
    if (!conn) {
        atomic_fetch_add (&run->ready, 1);
        return NULL;
    }
    amqp_basic_qos (conn, 1, 0, (uint16_t)load->prefetch, 0);
    int rc = s_check (run, conn, "basic.qos");
    if (rc == 0) {
        amqp_basic_consume (conn, 1, amqp_cstring_bytes (run->queue),
                            amqp_empty_bytes, 0, load->auto_ack, 0,
                            amqp_empty_table);
        rc = s_check (run, conn, "basic.consume");
    }
    atomic_fetch_add (&run->ready, 1);
    while (rc == 0 && !atomic_load (&run->stop)) {
        amqp_envelope_t envelope;
        struct timeval timeout = {0, 50000};
        amqp_maybe_release_buffers (conn);
        amqp_rpc_reply_t reply =
            amqp_consume_message (conn, &envelope, &timeout, 0);
        if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            reply.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
            char text[200];
            s_reply_text (reply, text, sizeof text);
            s_fail (run, "consume", text);
            break;
        }
        int64_t now = s_now_ns ();
        amqp_bytes_t body = envelope.message.body;
        if (body.len >= sizeof (int64_t) && worker->kept < S_SAMPLES) {
            int64_t sent;
            memcpy (&sent, body.bytes, sizeof sent);
            worker->samples[worker->kept++] = (double)(now - sent) / 1000.0;
        }
        if (!load->auto_ack && amqp_basic_ack (conn, 1, envelope.delivery_tag,
                                               0) != AMQP_STATUS_OK) {
            s_fail (run, "basic.ack", "the connection failed");
            rc = -1;
        }
        amqp_destroy_envelope (&envelope);
        atomic_fetch_add (&run->consumed, 1);
        atomic_store (&run->last_ns, now);
    }
    s_close (conn);
    return NULL;
}

//  Deletes the queue and declares it again, durable if the run is
//  persistent. RabbitMQ answers delete-ok for a queue that does not
//  exist; a server that closes the channel with 404 instead is taken at
//  its word, on a connection of its own.
static int
s_prepare (s_run_t *run)
{
    amqp_connection_state_t conn = s_connect (run);
    if (!conn)
        return -1;
    amqp_bytes_t queue = amqp_cstring_bytes (run->queue);
    amqp_queue_delete (conn, 1, queue, 0, 0);
    amqp_rpc_reply_t reply = amqp_get_rpc_reply (conn);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL)
        s_close (conn);
    else {
        bool missing =
            reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
            reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
            ((amqp_channel_close_t *)reply.reply.decoded)->reply_code ==
                AMQP_NOT_FOUND;
        amqp_connection_close (conn, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection (conn);
        if (!missing) {
            char text[200];
            s_reply_text (reply, text, sizeof text);
            s_fail (run, "queue.delete", text);
            return -1;
        }
    }
    conn = s_connect (run);
    if (!conn)
        return -1;
    amqp_queue_declare (conn, 1, queue, 0, run->load->persistent, 0, 0,
                        amqp_empty_table);
    int rc = s_check (run, conn, "queue.declare");
    if (rc)
        amqp_destroy_connection (conn);
    else
        s_close (conn);
    return rc;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
meshq_amqp_load_run (const meshq_amqp_server_t *server, const char *queue,
                     const meshq_amqp_load_t *load,
                     meshq_amqp_load_result_t *result)
{
    memset (result, 0, sizeof *result);
    s_run_t run = {.server = server, .load = load, .queue = queue};
    pthread_mutex_init (&run.lock, NULL);
    if (s_prepare (&run)) {
        snprintf (result->error, sizeof result->error, "%s", run.error);
        pthread_mutex_destroy (&run.lock);
        return -1;
    }
    int total = load->producers + load->consumers;
    s_worker_t *workers = calloc ((size_t)total, sizeof *workers);
    pthread_t *threads = calloc ((size_t)total, sizeof *threads);
    for (int i = 0; i < load->consumers; i++) {
        s_worker_t *worker = &workers[load->producers + i];
        worker->run = &run;
        worker->samples = malloc (S_SAMPLES * sizeof (double));
        pthread_create (&threads[load->producers + i], NULL, s_consumer,
                        worker);
    }
    while (atomic_load (&run.ready) < load->consumers)
        usleep (1000);
    run.start_ns = s_now_ns ();
    for (int i = 0; i < load->producers; i++) {
        workers[i].run = &run;
        workers[i].count =
            load->count / (uint64_t)load->producers +
            ((uint64_t)i < load->count % (uint64_t)load->producers);
        if (load->confirm_window == 1)
            workers[i].samples = malloc (S_SAMPLES * sizeof (double));
        pthread_create (&threads[i], NULL, s_producer, &workers[i]);
    }
    for (int i = 0; i < load->producers; i++)
        pthread_join (threads[i], NULL);
    int64_t published_ns = s_now_ns ();
    uint64_t published = atomic_load (&run.published);
    //  Until every message is delivered, or nothing moves for 10 s.
    uint64_t seen = 0;
    int64_t moved = s_now_ns ();
    while (!atomic_load (&run.failed) &&
           atomic_load (&run.consumed) < published) {
        usleep (5000);
        uint64_t now_seen = atomic_load (&run.consumed);
        if (now_seen != seen) {
            seen = now_seen;
            moved = s_now_ns ();
        } else if (s_now_ns () - moved > 10000000000LL) {
            char text[96];
            snprintf (text, sizeof text, "%" PRIu64 " of %" PRIu64 " delivered",
                      seen, published);
            s_fail (&run, "consumers stalled", text);
        }
    }
    atomic_store (&run.stop, true);
    size_t samples = 0;
    for (int i = 0; i < load->consumers; i++) {
        pthread_join (threads[load->producers + i], NULL);
        samples += workers[load->producers + i].kept;
    }
    result->published = published;
    result->consumed = atomic_load (&run.consumed);
    double seconds = (double)(published_ns - run.start_ns) / 1e9;
    result->publish_rate = seconds > 0 ? (double)published / seconds : 0;
    int64_t last = atomic_load (&run.last_ns);
    if (result->consumed && last > run.start_ns)
        result->consume_rate =
            (double)result->consumed / ((double)(last - run.start_ns) / 1e9);
    double *all = malloc ((samples + 1) * sizeof *all);
    size_t n = 0;
    for (int i = 0; i < load->consumers; i++) {
        s_worker_t *worker = &workers[load->producers + i];
        memcpy (all + n, worker->samples, worker->kept * sizeof *all);
        n += worker->kept;
        free (worker->samples);
    }
    if (n) {
        qsort (all, n, sizeof *all, s_compare);
        result->p50_us = all[n / 2];
        result->p99_us = all[n * 99 / 100];
    }
    free (all);
    //  Publish to confirm, all producers (a window of 1 only).
    samples = 0;
    for (int i = 0; i < load->producers; i++)
        samples += workers[i].kept;
    all = malloc ((samples + 1) * sizeof *all);
    n = 0;
    for (int i = 0; i < load->producers; i++) {
        if (workers[i].kept)
            memcpy (all + n, workers[i].samples, workers[i].kept * sizeof *all);
        n += workers[i].kept;
        free (workers[i].samples);
    }
    if (n) {
        qsort (all, n, sizeof *all, s_compare);
        result->confirm_p50_us = all[n / 2];
        result->confirm_p99_us = all[n * 99 / 100];
    }
    free (all);
    free (workers);
    free (threads);
    if (!*run.error && result->consumed == 0)
        snprintf (run.error, sizeof run.error, "no message was delivered");
    snprintf (result->error, sizeof result->error, "%s", run.error);
    pthread_mutex_destroy (&run.lock);
    return *result->error ? -1 : 0;
}
