/*  nats_load.c - NATS loads with libnats. See nats_load.h. */
#include "nats_load.h"

#include <nats/nats.h>

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_SAMPLES 2000000  //  Latency samples kept.

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

//  The subscriber's side, written by libnats' delivery thread of the
//  subscription only.
typedef struct {
    atomic_uint_fast64_t got;     //  Deliveries so far.
    atomic_int_fast64_t last_ns;  //  When the last one came.
    double *samples;              //  Publish to delivery, us.
    size_t sample_count;          //  Samples kept.
    bool ack;                     //  Ack each delivery (JetStream).
    bool wake;                    //  Signal each delivery on changed.
    pthread_mutex_t lock;         //  With changed, if wake.
    pthread_cond_t changed;       //  A delivery came, if wake.
} s_subscriber_t;

static void
s_on_msg (natsConnection *connection, natsSubscription *subscription,
          natsMsg *msg, void *closure)
{
    (void)connection;
    (void)subscription;
    s_subscriber_t *self = closure;
    int64_t now = s_now_ns ();
    if (natsMsg_GetDataLength (msg) >= (int)sizeof (int64_t) &&
        self->sample_count < S_SAMPLES) {
        int64_t sent;
        memcpy (&sent, natsMsg_GetData (msg), sizeof sent);
        self->samples[self->sample_count++] = (double)(now - sent) / 1000.0;
    }
    if (self->ack)
        natsMsg_Ack (msg, NULL);
    natsMsg_Destroy (msg);
    atomic_store (&self->last_ns, now);
    if (self->wake)
        pthread_mutex_lock (&self->lock);
    atomic_fetch_add (&self->got, 1);
    if (self->wake) {
        pthread_cond_signal (&self->changed);
        pthread_mutex_unlock (&self->lock);
    }
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  Waits until count subscribers have had every message published, or
//  none for 10 s (then fails the run). Returns rc, or -1 if it failed.
static int
s_await (s_subscriber_t *subscribers, int count,
         meshq_nats_load_result_t *result, int rc)
{
    uint64_t seen = 0;
    int64_t stall = s_now_ns ();
    for (;;) {
        uint64_t got = 0;
        for (int i = 0; i < count; i++)
            got += atomic_load (&subscribers[i].got);
        if (!result->published || got >= result->published)
            return rc;
        usleep (1000);
        if (got != seen) {
            seen = got;
            stall = s_now_ns ();
        } else if (s_now_ns () - stall > 10000000000LL) {
            if (rc == 0)
                snprintf (result->error, sizeof result->error,
                          "subscribers stalled at %llu of %llu",
                          (unsigned long long)got,
                          (unsigned long long)result->published);
            return -1;
        }
    }
}

static int
s_connect (natsConnection **connection, const char *url,
           meshq_nats_load_result_t *result, const char *who)
{
    natsOptions *options = NULL;
    natsStatus s = natsOptions_Create (&options);
    if (s == NATS_OK)
        s = natsOptions_SetURL (options, url);
    if (s == NATS_OK)
        s = natsConnection_Connect (connection, options);
    natsOptions_Destroy (options);
    if (s != NATS_OK)
        snprintf (result->error, sizeof result->error, "%s connect to %s: %s",
                  who, url, natsStatus_GetText (s));
    return s == NATS_OK ? 0 : -1;
}

int
meshq_nats_load_run (const char *host, int port, uint64_t count, int size,
                     meshq_nats_load_result_t *result)
{
    memset (result, 0, sizeof *result);
    if (size < (int)sizeof (int64_t) || count == 0) {
        snprintf (result->error, sizeof result->error,
                  "size >= 8 and count >= 1");
        return -1;
    }
    char url[128], subject[64];
    snprintf (url, sizeof url, "nats://%s:%d", host, port);
    snprintf (subject, sizeof subject, "meshq.bench.%d.%d", (int)getpid (),
              rand ());
    s_subscriber_t subscriber = {.samples =
                                     malloc (S_SAMPLES * sizeof (double))};
    uint8_t *body = calloc (1, (size_t)size);
    natsConnection *consumer = NULL, *producer = NULL;
    natsSubscription *subscription = NULL;
    int rc = subscriber.samples && body ? 0 : -1;
    if (rc)
        snprintf (result->error, sizeof result->error, "out of memory");
    if (rc == 0)
        rc = s_connect (&consumer, url, result, "subscriber");
    if (rc == 0)
        rc = s_connect (&producer, url, result, "publisher");
    natsStatus s = NATS_OK;
    if (rc == 0) {
        s = natsConnection_Subscribe (&subscription, consumer, subject,
                                      s_on_msg, &subscriber);
        //  No drops in the client: it may hold the whole run, as
        //  meshq's client may hold its prefetch.
        if (s == NATS_OK)
            s = natsSubscription_SetPendingLimits (
                subscription, count < INT_MAX / 2 ? (int)count * 2 : INT_MAX,
                INT_MAX);
        //  The server has the subscription before the first publish.
        if (s == NATS_OK)
            s = natsConnection_FlushTimeout (consumer, 10000);
        if (s != NATS_OK) {
            snprintf (result->error, sizeof result->error, "subscribe: %s",
                      natsStatus_GetText (s));
            rc = -1;
        }
    }
    int64_t start = s_now_ns ();
    for (uint64_t i = 0; rc == 0 && i < count; i++) {
        int64_t now = s_now_ns ();
        memcpy (body, &now, sizeof now);
        s = natsConnection_Publish (producer, subject, body, size);
        if (s != NATS_OK) {
            snprintf (result->error, sizeof result->error, "publish: %s",
                      natsStatus_GetText (s));
            rc = -1;
        } else
            result->published++;
    }
    if (rc == 0 &&
        (s = natsConnection_FlushTimeout (producer, 60000)) != NATS_OK) {
        snprintf (result->error, sizeof result->error, "flush: %s",
                  natsStatus_GetText (s));
        rc = -1;
    }
    int64_t published_ns = s_now_ns ();
    rc = s_await (&subscriber, 1, result, rc);
    result->consumed = atomic_load (&subscriber.got);
    if (subscription)
        natsSubscription_GetDropped (subscription, &result->dropped);
    natsSubscription_Unsubscribe (subscription);
    natsSubscription_Destroy (subscription);
    natsConnection_Destroy (producer);
    natsConnection_Destroy (consumer);
    int64_t last = atomic_load (&subscriber.last_ns);
    if (published_ns > start)
        result->publish_rate =
            (double)result->published / ((double)(published_ns - start) / 1e9);
    if (result->consumed && last > start)
        result->consume_rate =
            (double)result->consumed / ((double)(last - start) / 1e9);
    //  Samples were written before got counted them.
    size_t samples = subscriber.sample_count < result->consumed
                         ? subscriber.sample_count
                         : (size_t)result->consumed;
    if (samples) {
        qsort (subscriber.samples, samples, sizeof (double), s_compare);
        result->p50_us = subscriber.samples[samples / 2];
        result->p99_us = subscriber.samples[samples * 99 / 100];
    }
    free (subscriber.samples);
    free (body);
    if (rc == 0 && result->dropped)
        snprintf (result->error, sizeof result->error,
                  "the client dropped %lld messages",
                  (long long)result->dropped);
    return rc == 0 && result->dropped == 0 ? 0 : -1;
}

//  Sorts count samples and sets *p50 and *p99.
static void
s_percentiles (double *samples, size_t count, double *p50, double *p99)
{
    if (count == 0)
        return;
    qsort (samples, count, sizeof (double), s_compare);
    *p50 = samples[count / 2];
    *p99 = samples[count * 99 / 100];
}

//  A file stream named after this run on subject, with no limits.
static int
s_add_stream (jsCtx *js, const char *name, const char *subject,
              meshq_nats_load_result_t *result)
{
    jsStreamConfig config;
    jsStreamConfig_Init (&config);
    config.Name = name;
    const char *subjects[] = {subject};
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    jsStreamInfo *info = NULL;
    jsErrCode code = 0;
    natsStatus s = js_AddStream (&info, js, &config, NULL, &code);
    jsStreamInfo_Destroy (info);
    if (s != NATS_OK)
        snprintf (result->error, sizeof result->error,
                  "add stream: %s (JetStream error %d; is JetStream on?)",
                  natsStatus_GetText (s), (int)code);
    return s == NATS_OK ? 0 : -1;
}

//  A subscriber of the run: a JetStream push consumer with explicit acks
//  (one durable shared by a queue group), or a core subscription.
static int
s_subscribe (natsSubscription **subscription, natsConnection *connection,
             bool jetstream, const char *subject, const char *durable,
             int64_t max_ack_pending, s_subscriber_t *subscriber,
             meshq_nats_load_result_t *result)
{
    natsStatus s;
    jsCtx *js = NULL;
    if (jetstream) {
        s = natsConnection_JetStream (&js, connection, NULL);
        jsSubOptions options;
        jsSubOptions_Init (&options);
        options.Config.AckPolicy = js_AckExplicit;
        options.Config.MaxAckPending = max_ack_pending;
        options.Config.Durable = durable;
        options.Queue = durable;
        options.ManualAck = true;
        subscriber->ack = true;
        jsErrCode code = 0;
        if (s == NATS_OK)
            s = js_Subscribe (subscription, js, subject, s_on_msg, subscriber,
                              NULL, &options, &code);
    } else
        s = natsConnection_Subscribe (subscription, connection, subject,
                                      s_on_msg, subscriber);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits (*subscription, INT_MAX, INT_MAX);
    if (s == NATS_OK)
        s = natsConnection_FlushTimeout (connection, 10000);
    jsCtx_Destroy (js);
    if (s != NATS_OK)
        snprintf (result->error, sizeof result->error, "subscribe: %s",
                  natsStatus_GetText (s));
    return s == NATS_OK ? 0 : -1;
}

//  The URL of host:port, and a subject and a stream name of kind new
//  to this run.
static void
s_names (const char *host, int port, const char *kind, char url[128],
         char subject[64], char stream[64])
{
    int run = rand ();
    snprintf (url, 128, "nats://%s:%d", host, port);
    snprintf (subject, 64, "meshq.%s.%d.%d", kind, (int)getpid (), run);
    snprintf (stream, 64, "MESHQ_%s_%d_%d", kind, (int)getpid (), run);
}

int
meshq_nats_latency_run (const char *host, int port, uint64_t count, int size,
                        bool jetstream, meshq_nats_load_result_t *result)
{
    memset (result, 0, sizeof *result);
    if (size < (int)sizeof (int64_t) || count == 0 || count > S_SAMPLES) {
        snprintf (result->error, sizeof result->error,
                  "size >= 8 and count 1..%d", S_SAMPLES);
        return -1;
    }
    char url[128], subject[64], stream[64];
    s_names (host, port, "latency", url, subject, stream);
    s_subscriber_t subscriber = {
        .samples = malloc (S_SAMPLES * sizeof (double)), .wake = true};
    pthread_mutex_init (&subscriber.lock, NULL);
    pthread_cond_init (&subscriber.changed, NULL);
    double *acks = malloc (count * sizeof (double));
    uint8_t *body = calloc (1, (size_t)size);
    natsConnection *consumer = NULL, *producer = NULL;
    natsSubscription *subscription = NULL;
    jsCtx *js = NULL;
    size_t acked = 0;
    int rc = subscriber.samples && acks && body ? 0 : -1;
    if (rc)
        snprintf (result->error, sizeof result->error, "out of memory");
    if (rc == 0)
        rc = s_connect (&consumer, url, result, "subscriber");
    if (rc == 0)
        rc = s_connect (&producer, url, result, "publisher");
    if (rc == 0 && jetstream) {
        natsStatus s = natsConnection_JetStream (&js, producer, NULL);
        if (s != NATS_OK) {
            snprintf (result->error, sizeof result->error, "JetStream: %s",
                      natsStatus_GetText (s));
            rc = -1;
        } else
            rc = s_add_stream (js, stream, subject, result);
    }
    if (rc == 0)
        rc = s_subscribe (&subscription, consumer, jetstream, subject,
                          "meshq-latency", 100, &subscriber, result);
    int64_t start = s_now_ns ();
    for (uint64_t i = 0; rc == 0 && i < count; i++) {
        int64_t now = s_now_ns ();
        memcpy (body, &now, sizeof now);
        natsStatus s;
        if (jetstream) {
            jsPubAck *ack = NULL;
            jsErrCode code = 0;
            s = js_Publish (&ack, js, subject, body, size, NULL, &code);
            jsPubAck_Destroy (ack);
            if (s == NATS_OK)
                acks[acked++] = (double)(s_now_ns () - now) / 1000.0;
        } else
            s = natsConnection_Publish (producer, subject, body, size);
        if (s != NATS_OK) {
            snprintf (result->error, sizeof result->error, "publish: %s",
                      natsStatus_GetText (s));
            rc = -1;
            break;
        }
        result->published++;
        //  Its delivery before the next publish, or fail after 10 s.
        struct timespec deadline;
        clock_gettime (CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        pthread_mutex_lock (&subscriber.lock);
        while (atomic_load (&subscriber.got) < result->published && rc == 0)
            if (pthread_cond_timedwait (&subscriber.changed, &subscriber.lock,
                                        &deadline)) {
                snprintf (result->error, sizeof result->error,
                          "no delivery of message %llu within 10 s",
                          (unsigned long long)i);
                rc = -1;
            }
        pthread_mutex_unlock (&subscriber.lock);
    }
    result->consumed = atomic_load (&subscriber.got);
    int64_t last = atomic_load (&subscriber.last_ns);
    if (result->consumed && last > start)
        result->consume_rate =
            (double)result->consumed / ((double)(last - start) / 1e9);
    natsSubscription_Unsubscribe (subscription);
    natsSubscription_Destroy (subscription);
    if (js) {
        jsErrCode code = 0;
        js_DeleteStream (js, stream, NULL, &code);
        jsCtx_Destroy (js);
    }
    natsConnection_Destroy (producer);
    natsConnection_Destroy (consumer);
    size_t samples = subscriber.sample_count < result->consumed
                         ? subscriber.sample_count
                         : (size_t)result->consumed;
    s_percentiles (subscriber.samples, samples, &result->p50_us,
                   &result->p99_us);
    s_percentiles (acks, acked, &result->ack_p50_us, &result->ack_p99_us);
    pthread_cond_destroy (&subscriber.changed);
    pthread_mutex_destroy (&subscriber.lock);
    free (subscriber.samples);
    free (acks);
    free (body);
    return rc;
}

//  Publish errors of the JetStream run (libnats' thread).
static void
s_on_publish_error (jsCtx *js, jsPubAckErr *error, void *closure)
{
    (void)js;
    (void)error;
    atomic_fetch_add ((atomic_uint_fast64_t *)closure, 1);
}

#define S_JS_CONSUMERS 16

int
meshq_nats_js_load_run (const char *host, int port,
                        const meshq_nats_js_load_t *load,
                        meshq_nats_load_result_t *result)
{
    memset (result, 0, sizeof *result);
    if (load->size < (int)sizeof (int64_t) || load->count == 0 ||
        load->consumers < 1 || load->consumers > S_JS_CONSUMERS ||
        load->window < 1 || load->max_ack_pending < 1) {
        snprintf (result->error, sizeof result->error,
                  "size >= 8, count >= 1, consumers 1..%d, window and "
                  "max_ack_pending >= 1",
                  S_JS_CONSUMERS);
        return -1;
    }
    char url[128], subject[64], stream[64];
    s_names (host, port, "durable", url, subject, stream);
    s_subscriber_t subscribers[S_JS_CONSUMERS];
    natsConnection *consumers[S_JS_CONSUMERS] = {NULL};
    natsSubscription *subscriptions[S_JS_CONSUMERS] = {NULL};
    memset (subscribers, 0, sizeof subscribers);
    atomic_uint_fast64_t failed = 0;
    uint8_t *body = calloc (1, (size_t)load->size);
    natsConnection *producer = NULL;
    jsCtx *js = NULL;
    int rc = body ? 0 : -1;
    for (int i = 0; i < load->consumers; i++) {
        subscribers[i].samples = malloc (S_SAMPLES * sizeof (double));
        if (!subscribers[i].samples)
            rc = -1;
    }
    if (rc)
        snprintf (result->error, sizeof result->error, "out of memory");
    if (rc == 0)
        rc = s_connect (&producer, url, result, "publisher");
    if (rc == 0) {
        jsOptions options;
        jsOptions_Init (&options);
        options.PublishAsync.MaxPending = load->window;
        //  A full window waits for acks as long as a confirm may take
        //  elsewhere (libnats gives up after 200 ms by default, which a
        //  loaded machine exceeds).
        options.PublishAsync.StallWait = 30000;
        options.PublishAsync.ErrHandler = s_on_publish_error;
        options.PublishAsync.ErrHandlerClosure = &failed;
        natsStatus s = natsConnection_JetStream (&js, producer, &options);
        if (s != NATS_OK) {
            snprintf (result->error, sizeof result->error, "JetStream: %s",
                      natsStatus_GetText (s));
            rc = -1;
        }
    }
    if (rc == 0)
        rc = s_add_stream (js, stream, subject, result);
    for (int i = 0; rc == 0 && i < load->consumers; i++) {
        rc = s_connect (&consumers[i], url, result, "subscriber");
        if (rc == 0)
            rc = s_subscribe (&subscriptions[i], consumers[i], true, subject,
                              "meshq-durable", load->max_ack_pending,
                              &subscribers[i], result);
    }
    int64_t start = s_now_ns ();
    for (uint64_t i = 0; rc == 0 && i < load->count; i++) {
        int64_t now = s_now_ns ();
        memcpy (body, &now, sizeof now);
        natsStatus s = js_PublishAsync (js, subject, body, load->size, NULL);
        if (s != NATS_OK) {
            snprintf (result->error, sizeof result->error, "publish: %s",
                      natsStatus_GetText (s));
            rc = -1;
        } else
            result->published++;
    }
    if (rc == 0) {
        jsPubOptions options;
        jsPubOptions_Init (&options);
        options.MaxWait = 60000;
        natsStatus s = js_PublishAsyncComplete (js, &options);
        if (s != NATS_OK) {
            snprintf (result->error, sizeof result->error,
                      "waiting for the acks: %s", natsStatus_GetText (s));
            rc = -1;
        }
    }
    if (rc == 0 && atomic_load (&failed)) {
        snprintf (result->error, sizeof result->error, "%llu publishes failed",
                  (unsigned long long)atomic_load (&failed));
        rc = -1;
    }
    int64_t published_ns = s_now_ns ();
    rc = s_await (subscribers, load->consumers, result, rc);
    int64_t last = 0;
    size_t samples = 0;
    for (int i = 0; i < load->consumers; i++) {
        natsSubscription_Unsubscribe (subscriptions[i]);
        natsSubscription_Destroy (subscriptions[i]);
        natsConnection_Destroy (consumers[i]);
        result->consumed += atomic_load (&subscribers[i].got);
        if (atomic_load (&subscribers[i].last_ns) > last)
            last = atomic_load (&subscribers[i].last_ns);
        samples += subscribers[i].sample_count;
    }
    if (js) {
        jsErrCode code = 0;
        js_DeleteStream (js, stream, NULL, &code);
        jsCtx_Destroy (js);
    }
    natsConnection_Destroy (producer);
    if (published_ns > start)
        result->publish_rate =
            (double)result->published / ((double)(published_ns - start) / 1e9);
    if (result->consumed && last > start)
        result->consume_rate =
            (double)result->consumed / ((double)(last - start) / 1e9);
    double *all = malloc ((samples + 1) * sizeof (double));
    size_t n = 0;
    for (int i = 0; i < load->consumers; i++) {
        if (all && subscribers[i].sample_count)
            memcpy (all + n, subscribers[i].samples,
                    subscribers[i].sample_count * sizeof (double));
        n += subscribers[i].sample_count;
        free (subscribers[i].samples);
    }
    if (all)
        s_percentiles (all, n, &result->p50_us, &result->p99_us);
    free (all);
    free (body);
    return rc;
}
