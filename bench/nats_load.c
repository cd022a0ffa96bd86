/*  nats_load.c - a private nats-server and a core NATS load with libnats.
    See nats_load.h.
*/
#include "nats_load.h"

#include <nats/nats.h>

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_SERVER  "/usr/sbin/nats-server"
#define S_SAMPLES 2000000  //  Latency samples kept.

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool
meshq_nats_available (void)
{
    return access (S_SERVER, X_OK) == 0;
}

//  Whether something accepts TCP connections on 127.0.0.1:port now.
static bool
s_listening (int port)
{
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons ((uint16_t)port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool up = connect (fd, (struct sockaddr *)&address, sizeof address) == 0;
    close (fd);
    return up;
}

//  A port on 127.0.0.1 that nothing is bound to now; -1 if none found.
static int
s_free_port (void)
{
    for (int tries = 0; tries < 1000; tries++) {
        int port = 20000 + (int)((unsigned)rand () % 12000);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port = htons ((uint16_t)port)};
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        int rc = bind (fd, (struct sockaddr *)&address, sizeof address);
        close (fd);
        if (rc == 0)
            return port;
    }
    return -1;
}

//  "nats-server: v2.9.10" -> "2.9.10".
static void
s_version (char *version, size_t size)
{
    *version = 0;
    FILE *pipe = popen (S_SERVER " --version 2>&1", "r");
    char line[128] = "";
    if (!pipe)
        return;
    if (fgets (line, sizeof line, pipe)) {
        char *v = strstr (line, " v");
        if (v) {
            v[strcspn (v, "\r\n")] = 0;
            snprintf (version, size, "%s", v + 2);
        }
    }
    pclose (pipe);
}

int
meshq_nats_start (meshq_nats_server_t *server, const char *parent)
{
    memset (server, 0, sizeof *server);
    s_version (server->version, sizeof server->version);
    snprintf (server->dir, sizeof server->dir, "%s/meshq-bench-nats-XXXXXX",
              parent);
    if (!mkdtemp (server->dir)) {
        perror ("bench_nats: mkdtemp");
        *server->dir = 0;
        return -1;
    }
    char log[300], port[16];
    snprintf (log, sizeof log, "%s/nats-server.log", server->dir);
    server->port = s_free_port ();
    if (server->port < 0) {
        fprintf (stderr, "bench_nats: no free port for nats-server\n");
        return -1;
    }
    snprintf (port, sizeof port, "%d", server->port);
    //  Loopback only, no monitoring port, no JetStream: NATS core.
    char *argv[] = {S_SERVER, "-a", "127.0.0.1", "-p", port, "-l", log, NULL};
    server->pid = fork ();
    if (server->pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        FILE *out = freopen (log, "a", stdout);
        if (out)
            dup2 (fileno (out), 2);
        execv (argv[0], argv);
        _exit (127);
    }
    if (server->pid < 0) {
        perror ("bench_nats: fork");
        server->pid = 0;
        return -1;
    }
    for (int waited = 0; waited < 200; waited++) {
        int status;
        if (waitpid (server->pid, &status, WNOHANG) == server->pid) {
            server->pid = 0;
            fprintf (stderr, "bench_nats: nats-server exited; see %s\n", log);
            return -1;
        }
        if (s_listening (server->port))
            return 0;
        usleep (50000);
    }
    fprintf (stderr, "bench_nats: nats-server not up in 10 s; see %s\n", log);
    return -1;
}

void
meshq_nats_stop (meshq_nats_server_t *server)
{
    if (server->pid > 0) {
        kill (server->pid, SIGTERM);
        waitpid (server->pid, NULL, 0);
        server->pid = 0;
    }
    if (*server->dir) {
        char command[300];
        snprintf (command, sizeof command, "rm -rf '%s'", server->dir);
        if (system (command) != 0)
            fprintf (stderr, "bench_nats: could not remove %s\n", server->dir);
        *server->dir = 0;
    }
}

//  The subscriber's side, written by libnats' delivery thread of the
//  subscription only.
typedef struct {
    atomic_uint_fast64_t got;     //  Deliveries so far.
    atomic_int_fast64_t last_ns;  //  When the last one came.
    double *samples;              //  Publish to delivery, us.
    size_t sample_count;          //  Samples kept.
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
    natsMsg_Destroy (msg);
    atomic_store (&self->last_ns, now);
    atomic_fetch_add (&self->got, 1);
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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
    //  Every delivery, or none for 10 s.
    uint64_t seen = 0;
    int64_t stall = s_now_ns ();
    while (result->published &&
           atomic_load (&subscriber.got) < result->published) {
        usleep (1000);
        uint64_t got = atomic_load (&subscriber.got);
        if (got != seen) {
            seen = got;
            stall = s_now_ns ();
        } else if (s_now_ns () - stall > 10000000000LL) {
            if (rc == 0)
                snprintf (result->error, sizeof result->error,
                          "subscriber stalled at %llu of %llu",
                          (unsigned long long)got,
                          (unsigned long long)result->published);
            rc = -1;
            break;
        }
    }
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
    }
    free (subscriber.samples);
    free (body);
    if (rc == 0 && result->dropped)
        snprintf (result->error, sizeof result->error,
                  "the client dropped %lld messages",
                  (long long)result->dropped);
    return rc == 0 && result->dropped == 0 ? 0 : -1;
}

long
meshq_nats_proc_kb (pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    size_t length = strlen (field);
    long kb = 0;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, field, length) == 0 && line[length] == ':')
            kb = atol (line + length + 1);
    if (file)
        fclose (file);
    return kb;
}

void
meshq_nats_reset_peak (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/clear_refs", (int)pid);
    FILE *file = fopen (path, "w");
    if (file) {
        fputs ("5", file);
        fclose (file);
    }
}

double
meshq_nats_proc_cpu_s (pid_t pid)
{
    char path[64], line[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    size_t got = fread (line, 1, sizeof line - 1, file);
    fclose (file);
    line[got] = 0;
    //  After "pid (comm) ", utime and stime are fields 14 and 15.
    char *field = strrchr (line, ')');
    unsigned long long utime = 0, stime = 0;
    if (!field ||
        sscanf (field + 2,
                "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf (_SC_CLK_TCK);
}
