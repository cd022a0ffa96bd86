/*  chaos_client.c - the producer and consumer processes of the chaos
    test (test_chaos.c). They keep going across agent failures, and log
    what they did to a file with write(2) before acting on it, so that a
    SIGKILL never hides a confirm or a delivery from the test:

    chaos_client produce ENDPOINT QUEUE PRODUCER SECONDS RATE LOG
        publishes persistent messages with body "PRODUCER:SEQ" at about
        RATE a second for SECONDS; logs "C SEQ" for each one confirmed,
        and "P COUNT" (how many it published) at the end.
    chaos_client consume ENDPOINT QUEUE PREFETCH LOG
        consumes until SIGTERM, spending 0.3 ms on each message; logs "S"
        when it (re)subscribes, then "D PRODUCER SEQ REDELIVERED" for each
        delivery, before acking it.
*/
#include "meshq.h"

#include <czmq.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <unistd.h>

static volatile sig_atomic_t s_stop;

static void
s_on_term (int sig)
{
    (void)sig;
    s_stop = 1;
}

static void
s_log (int fd, const char *format, ...)
{
    char line[128];
    va_list args;
    va_start (args, format);
    int size = vsnprintf (line, sizeof line, format, args);
    va_end (args);
    if (size > 0 && write (fd, line, (size_t)size) != size)
        _exit (70);
}

//  Connects, retrying until the agent answers and knows the queue (or
//  stop). NULL only when told to stop.
static meshq_client_t *
s_connect (const char *endpoint, const char *queue)
{
    while (!s_stop) {
        meshq_client_t *client = meshq_client_new ();
        meshq_client_set_timeout (client, 2000);
        meshq_client_set_heartbeat (client, 200);
        meshq_queue_options_t options;
        meshq_queue_options_init (&options);
        options.passive = true;
        if (meshq_client_connect (client, endpoint) == 0 &&
            meshq_client_declare_queue (client, queue, &options) == 0)
            return client;
        meshq_client_destroy (&client);
        zclock_sleep (100);
    }
    return NULL;
}

static int
s_produce (const char *endpoint, const char *queue, const char *producer,
           int seconds, int rate, int fd)
{
    enum { BATCH = 20 };
    meshq_client_t *client = s_connect (endpoint, queue);
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, queue);
    meshq_msg_set_delivery_mode (msg, MESHQ_PERSISTENT);
    uint64_t seq = 0;
    int64_t start = zclock_mono (), end = start + (int64_t)seconds * 1000;
    while (client && !s_stop && zclock_mono () < end) {
        meshq_client_set_confirms (client, BATCH);
        uint64_t first = seq + 1;
        int rc = 0;
        for (int i = 0; i < BATCH && rc == 0; i++) {
            char body[64];
            snprintf (body, sizeof body, "%s:%" PRIu64, producer, ++seq);
            meshq_msg_set_body (msg, body, strlen (body));
            rc = meshq_client_publish (client, msg, 0);
        }
        if (rc == 0)
            rc = meshq_client_wait_for_confirms (client, 3000);
        if (rc == 0)
            for (uint64_t s = first; s <= seq; s++)
                s_log (fd, "C %" PRIu64 "\n", s);
        else {
            //  Unconfirmed: they may arrive or not; the test does not
            //  count them. A new connection goes on from the next one.
            meshq_client_destroy (&client);
            client = s_connect (endpoint, queue);
        }
        //  About rate a second.
        int64_t due = start + (int64_t)(seq * 1000 / (uint64_t)rate);
        int64_t now = zclock_mono ();
        if (due > now)
            zclock_sleep ((int)(due - now));
    }
    s_log (fd, "P %" PRIu64 "\n", seq);
    meshq_msg_destroy (&msg);
    meshq_client_destroy (&client);
    return 0;
}

static int
s_consume (const char *endpoint, const char *queue, int prefetch, int fd)
{
    while (!s_stop) {
        meshq_client_t *client = s_connect (endpoint, queue);
        if (!client)
            break;
        if (meshq_client_consume (client, queue, (uint32_t)prefetch, NULL, 0)) {
            meshq_client_destroy (&client);
            continue;
        }
        s_log (fd, "S\n");
        while (!s_stop) {
            meshq_delivery_t *delivery = NULL;
            int rc = meshq_client_recv (client, 200, &delivery);
            if (rc == MESHQ_ETIMEOUT || rc == MESHQ_EINTR)
                continue;
            if (rc)
                break;
            usleep (300);  //  Its work: deliveries wait in its prefetch.
            size_t size;
            const char *body = meshq_msg_body (delivery->msg, &size);
            char text[64];
            snprintf (text, sizeof text, "%.*s", (int)size, body);
            char *colon = strchr (text, ':');
            if (colon) {
                *colon = ' ';
                s_log (fd, "D %s %d\n", text, delivery->redelivered ? 1 : 0);
            }
            rc = meshq_client_ack (client, delivery->delivery_tag, false);
            meshq_delivery_destroy (&delivery);
            if (rc)
                break;
        }
        meshq_client_destroy (&client);
    }
    return 0;
}

int
main (int argc, char *argv[])
{
    signal (SIGTERM, s_on_term);
    signal (SIGINT, s_on_term);
    zsys_set_logstream (NULL);
    bool produce = argc == 8 && streq (argv[1], "produce");
    bool consume = argc == 6 && streq (argv[1], "consume");
    if (!produce && !consume) {
        fprintf (stderr, "usage: chaos_client produce ENDPOINT QUEUE PRODUCER "
                         "SECONDS RATE LOG\n"
                         "       chaos_client consume ENDPOINT QUEUE PREFETCH "
                         "LOG\n");
        return 64;
    }
    const char *log = argv[argc - 1];
    int fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror (log);
        return 73;
    }
    int rc = produce ? s_produce (argv[2], argv[3], argv[4], atoi (argv[5]),
                                  atoi (argv[6]), fd)
                     : s_consume (argv[2], argv[3], atoi (argv[4]), fd);
    close (fd);
    return rc;
}
