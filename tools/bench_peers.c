/*  bench_peers.c - a bench scenario against RabbitMQ or NATS. See
    bench_peers.h.
*/
#include "bench_peers.h"
#include "amqp_load.h"
#include "meshq.h"
#ifdef MESHQ_TOOL_NATS
#include "nats_load.h"
#endif

#include <amqp.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  Whether something accepts TCP connections at host:port; if not, why
//  in error.
static bool
s_listening (const char *host, int port, char *error, size_t size)
{
    char service[16];
    snprintf (service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *found = NULL;
    int rc = getaddrinfo (host, service, &hints, &found);
    if (rc) {
        snprintf (error, size, "%s: %s", host, gai_strerror (rc));
        return false;
    }
    bool up = false;
    int why = 0;
    for (struct addrinfo *at = found; at && !up; at = at->ai_next) {
        int fd = socket (at->ai_family, at->ai_socktype | SOCK_CLOEXEC,
                         at->ai_protocol);
        if (fd < 0)
            continue;
        up = connect (fd, at->ai_addr, at->ai_addrlen) == 0;
        why = errno;
        close (fd);
    }
    freeaddrinfo (found);
    if (!up)
        snprintf (error, size, "nothing accepts connections at %s:%d (%s)",
                  host, port, strerror (why));
    return up;
}

//  Refuses what the peers' loads do not do.
static int
s_check_scenario (const meshq_bench_config_t *config,
                  meshq_bench_peer_result_t *result)
{
    if (config->count == 0) {
        snprintf (result->error, sizeof result->error,
                  "takes --count, not --duration");
        return MESHQ_EINVAL;
    }
    return 0;
}

//  Parses an amqp:// URL (a copy of it in text) into info; defaults
//  guest, 5672, vhost "/". Returns 0 or MESHQ_EINVAL with error.
static int
s_parse_amqp (const char *url, char *text, size_t text_size,
              struct amqp_connection_info *info, char *error, size_t size)
{
    snprintf (text, text_size, "%s", url);
    amqp_default_connection_info (info);
    if (strncmp (url, "amqp://", 7) != 0 || amqp_parse_url (text, info) ||
        info->ssl) {
        snprintf (error, size,
                  "'%s': takes amqp://[USER[:PASSWORD]@]HOST[:PORT][/VHOST]",
                  url);
        return MESHQ_EINVAL;
    }
    //  "amqp://host/" names the vhost "", which no one means.
    if (!*info->vhost)
        info->vhost = "/";
    return 0;
}

//  Parses a nats:// URL into host and *port (4222 by default). Returns 0
//  or MESHQ_EINVAL with error.
static int
s_parse_nats (const char *url, char *host, size_t host_size, int *port,
              char *error, size_t size)
{
    *port = 4222;
    const char *at = strncmp (url, "nats://", 7) == 0 ? url + 7 : NULL;
    const char *colon = at ? strrchr (at, ':') : NULL;
    size_t length = at ? (colon ? (size_t)(colon - at) : strlen (at)) : 0;
    char *end = NULL;
    if (colon)
        *port = (int)strtol (colon + 1, &end, 10);
    if (!at || length == 0 || length >= host_size ||
        (colon && (*end || *port < 1 || *port > 65535))) {
        snprintf (error, size, "'%s': takes nats://HOST[:PORT]", url);
        return MESHQ_EINVAL;
    }
    snprintf (host, host_size, "%.*s", (int)length, at);
    return 0;
}

int
meshq_bench_peer_reach (const char *url, bool nats, char *error, size_t size)
{
    char text[512], host[256];
    int port, rc;
    struct amqp_connection_info info;
    if (nats)
        rc = s_parse_nats (url, host, sizeof host, &port, error, size);
    else {
        rc = s_parse_amqp (url, text, sizeof text, &info, error, size);
        if (rc == 0) {
            snprintf (host, sizeof host, "%s", info.host);
            port = info.port;
        }
    }
    if (rc)
        return rc;
    return s_listening (host, port, error, size) ? 0 : MESHQ_ECONNLOST;
}

bool
meshq_bench_peer_has_nats (void)
{
#ifdef MESHQ_TOOL_NATS
    return true;
#else
    return false;
#endif
}

int
meshq_bench_peer_rabbitmq (const meshq_bench_config_t *config, const char *url,
                           meshq_bench_peer_result_t *result)
{
    memset (result, 0, sizeof *result);
    snprintf (result->what, sizeof result->what, "RabbitMQ");
    int rc = s_check_scenario (config, result);
    if (rc)
        return rc;
    char text[512];
    struct amqp_connection_info info;
    rc = s_parse_amqp (url, text, sizeof text, &info, result->error,
                       sizeof result->error);
    if (rc)
        return rc;
    if (!s_listening (info.host, info.port, result->error,
                      sizeof result->error))
        return MESHQ_ECONNLOST;
    const meshq_amqp_server_t server = {info.host, info.port, info.user,
                                        info.password, info.vhost};
    const meshq_amqp_load_t load = {"bench",
                                    config->producers,
                                    config->consumers,
                                    config->count,
                                    config->size,
                                    config->persistent,
                                    config->confirm_window,
                                    config->prefetch,
                                    config->auto_ack};
    meshq_amqp_load_result_t run;
    rc = meshq_amqp_load_run (&server, config->queue, &load, &run);
    result->publish_rate = run.publish_rate;
    result->consume_rate = run.consume_rate;
    result->p50_us = run.p50_us;
    result->p99_us = run.p99_us;
    result->confirm_p50_us = run.confirm_p50_us;
    result->confirm_p99_us = run.confirm_p99_us;
    if (rc) {
        snprintf (result->error, sizeof result->error, "%s", run.error);
        return MESHQ_EIO;
    }
    return 0;
}

int
meshq_bench_peer_nats (const meshq_bench_config_t *config, const char *url,
                       meshq_bench_peer_result_t *result)
{
    memset (result, 0, sizeof *result);
    snprintf (result->what, sizeof result->what, "NATS %s",
              config->persistent ? "JetStream" : "core");
    int rc = s_check_scenario (config, result);
    if (rc)
        return rc;
    char host[256];
    int port;
    rc = s_parse_nats (url, host, sizeof host, &port, result->error,
                       sizeof result->error);
    if (rc)
        return rc;
#ifdef MESHQ_TOOL_NATS
    if (!config->persistent && config->confirm_window != 1 &&
        (config->producers != 1 || config->consumers != 1)) {
        snprintf (result->error, sizeof result->error,
                  "NATS core runs 1 producer and 1 consumer");
        return MESHQ_EINVAL;
    }
    if (config->persistent && config->producers != 1) {
        snprintf (result->error, sizeof result->error,
                  "NATS JetStream runs 1 producer");
        return MESHQ_EINVAL;
    }
    if (!s_listening (host, port, result->error, sizeof result->error))
        return MESHQ_ECONNLOST;
    meshq_nats_load_result_t run;
    if (config->confirm_window == 1)
        //  One in flight: each publish waits for its delivery (and on
        //  JetStream its ack) before the next.
        rc = meshq_nats_latency_run (host, port, config->count, config->size,
                                     config->persistent, &run);
    else if (config->persistent) {
        const meshq_nats_js_load_t load = {
            config->consumers, config->count, config->size,
            config->confirm_window > 0 ? config->confirm_window : 1000,
            config->prefetch};
        rc = meshq_nats_js_load_run (host, port, &load, &run);
    } else
        rc =
            meshq_nats_load_run (host, port, config->count, config->size, &run);
    result->publish_rate = run.publish_rate;
    result->consume_rate = run.consume_rate;
    result->p50_us = run.p50_us;
    result->p99_us = run.p99_us;
    result->confirm_p50_us = run.ack_p50_us;
    result->confirm_p99_us = run.ack_p99_us;
    if (rc) {
        snprintf (result->error, sizeof result->error, "%s", run.error);
        return MESHQ_EIO;
    }
    return 0;
#else
    snprintf (result->error, sizeof result->error,
              "this meshq was built without libnats (libnats-dev): it "
              "cannot run against NATS");
    return MESHQ_ENOTSUP;
#endif
}
