/*  metrics.c - how long a Prometheus scrape of an agent takes with many
    queues.

    Starts an embedded agent serving /metrics on a free port of
    127.0.0.1, declares the queues (10,000 by default) and publishes one
    message to each, then scrapes /metrics over HTTP as a Prometheus
    server would (GET, read to the end) and prints the median, fastest
    and slowest of the scrapes (10 by default) and the size of one.
    Target: a median of 100 ms or less with 10,000 queues.

    Usage: bench_metrics [queues [scrapes]]; the store goes in a
    temporary directory under /var/tmp, deleted at the end.
*/
#include "bench_util.h"
#include "meshq.h"
#include "meshq_agent.h"
#include "meshq_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_SCRAPES 100

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

//  A port of 127.0.0.1 free now.
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
    socklen_t length = sizeof address;
    if (fd < 0 || bind (fd, (struct sockaddr *)&address, sizeof address) ||
        getsockname (fd, (struct sockaddr *)&address, &length))
        return -1;
    close (fd);
    return ntohs (address.sin_port);
}

//  One scrape: GET /metrics, read to the end. Returns the bytes read,
//  or -1.
static long
s_scrape (int port, int *status)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons ((uint16_t)port)};
    inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
    if (fd < 0 || connect (fd, (struct sockaddr *)&address, sizeof address))
        return -1;
    const char *request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Connection: close\r\n\r\n";
    if (send (fd, request, strlen (request), 0) < 0) {
        close (fd);
        return -1;
    }
    static char buffer[1 << 20];
    long total = 0;
    ssize_t got;
    *status = 0;
    while ((got = recv (fd, buffer, sizeof buffer, 0)) > 0) {
        if (total == 0)
            sscanf (buffer, "HTTP/1.%*d %d", status);
        total += got;
    }
    close (fd);
    return total;
}

int
main (int argc, char *argv[])
{
    int queues = argc > 1 ? atoi (argv[1]) : 10000;
    int scrapes = argc > 2 ? atoi (argv[2]) : 10;
    if (queues < 1 || scrapes < 1 || scrapes > S_MAX_SCRAPES) {
        fprintf (stderr, "usage: bench_metrics [queues [scrapes <= %d]]\n",
                 S_MAX_SCRAPES);
        return 64;
    }
    char dir[] = "/var/tmp/meshq-bench-metrics-XXXXXX";
    if (!mkdtemp (dir)) {
        perror ("mkdtemp");
        return 1;
    }
    int port = s_free_port ();
    char spec[32];
    snprintf (spec, sizeof spec, "127.0.0.1:%d", port);
    meshq_agent_t *agent = meshq_agent_new ("bench-metrics");
    meshq_agent_set (agent, "data", dir);
    meshq_agent_set (agent, "metrics", spec);
    if (meshq_agent_start (agent)) {
        fprintf (stderr, "bench_metrics: %s\n", meshq_agent_error (agent));
        return 1;
    }
    meshq_client_t *client = meshq_client_new ();
    if (meshq_client_connect (client, meshq_agent_endpoint (agent))) {
        fprintf (stderr, "bench_metrics: cannot connect\n");
        return 1;
    }
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    for (int i = 0; i < queues; i++) {
        char name[32];
        snprintf (name, sizeof name, "queue-%05d", i);
        if (meshq_client_declare_queue (client, name, &options)) {
            fprintf (stderr, "bench_metrics: declare %s failed\n", name);
            return 1;
        }
        //  Held back and sent 64 to a frame.
        meshq_msg_t *msg = meshq_msg_new ();
        meshq_msg_set_routing_key (msg, name);
        meshq_msg_set_body (msg, "hello", 5);
        int rc = meshq_client_publish (client, msg, MESHQ_MORE);
        meshq_msg_destroy (&msg);
        if (rc) {
            fprintf (stderr, "bench_metrics: publish to %s failed\n", name);
            return 1;
        }
    }
    if (meshq_client_publish_flush (client)) {
        fprintf (stderr, "bench_metrics: publish failed\n");
        return 1;
    }
    double times[S_MAX_SCRAPES];
    long size = 0;
    for (int i = 0; i < scrapes; i++) {
        int status = 0;
        double start = s_now ();
        size = s_scrape (port, &status);
        times[i] = (s_now () - start) * 1000;
        if (size <= 0 || status != 200) {
            fprintf (stderr, "bench_metrics: scrape failed (status %d)\n",
                     status);
            return 1;
        }
    }
    meshq_bench_sort (times, scrapes);
    printf ("| queues | scrapes | median ms | fastest ms | slowest ms | "
            "bytes |\n");
    printf ("|--------|---------|-----------|------------|------------|"
            "-------|\n");
    printf ("| %6d | %7d | %9.1f | %10.1f | %10.1f | %ld |\n", queues, scrapes,
            meshq_bench_median (times, scrapes), times[0], times[scrapes - 1],
            size);
    meshq_client_destroy (&client);
    meshq_agent_destroy (&agent);
    char command[128];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    if (system (command) != 0)
        fprintf (stderr, "bench_metrics: could not remove %s\n", dir);
    return 0;
}
