/*  agent_config.c - the engine's settings: defaults, and one setting by
    name from text. The embedded agent (meshq_agent_set), the daemon's
    flags and its configuration file all go through meshq_agent_config_set,
    so a setting means the same wherever it is given. docs/OPERATIONS.md
    lists them.
*/
#include "agent.h"
#include "http.h"
#include "meshq.h"
#include "size.h"

#include <errno.h>
#include <inttypes.h>

void
meshq_agent_config_init (meshq_agent_config_t *config)
{
    memset (config, 0, sizeof *config);
    snprintf (config->name, sizeof config->name, "meshq");
    config->max_message = MESHQ_MAX_BODY_DEFAULT;
    config->ack_timeout_ms = 30 * 60 * 1000;
    config->tick_ms = 100;
    config->read_ahead_percent = 100;
    config->client_hwm = MESHQ_CLIENT_HWM_DEFAULT;
    config->flow_memory = MESHQ_FLOW_MEMORY_DEFAULT;
    config->flow_time_ms = MESHQ_FLOW_TIME_DEFAULT;
}

//  A setting's number, at most max; 0 or a code with why filled in.
static int
s_number (const char *name, const char *value, uint64_t min, uint64_t max,
          uint64_t *out, char *why, size_t size)
{
    char *end = NULL;
    errno = 0;
    unsigned long long number = strtoull (value, &end, 10);
    if (errno || !end || *end || *value == '-' || !*value) {
        snprintf (why, size, "%s: '%s' is not a non-negative integer", name,
                  value);
        return MESHQ_EINVAL;
    }
    if (number < min || number > max) {
        snprintf (why, size, "%s: %s is out of range %llu..%llu", name, value,
                  (unsigned long long)min, (unsigned long long)max);
        return MESHQ_EINVAL;
    }
    *out = number;
    return 0;
}

//  A setting's size in bytes ("64M", "1GiB", see size.h), at most max;
//  0 or a code with why filled in.
static int
s_size (const char *name, const char *value, uint64_t min, uint64_t max,
        uint64_t *out, char *why, size_t size)
{
    uint64_t number = 0;
    int rc = meshq_size_parse (value, &number);
    if (rc == MESHQ_EINVAL) {
        snprintf (why, size, "%s '%s': " MESHQ_SIZE_HINT, name, value);
        return MESHQ_EINVAL;
    }
    if (rc || number < min || number > max) {
        snprintf (why, size, "%s '%s': out of range %llu..%llu bytes", name,
                  value, (unsigned long long)min, (unsigned long long)max);
        return MESHQ_EINVAL;
    }
    *out = number;
    return 0;
}

//  Copies value into a field of size bytes, or says it is too long.
static int
s_text (const char *name, const char *value, char *field, size_t field_size,
        char *why, size_t size)
{
    if (strlen (value) >= field_size) {
        snprintf (why, size, "%s: longer than %zu characters", name,
                  field_size - 1);
        return MESHQ_EINVAL;
    }
    snprintf (field, field_size, "%s", value);
    return 0;
}

int
meshq_agent_config_set (meshq_agent_config_t *config, const char *name,
                        const char *value, char *why, size_t size)
{
    uint64_t number = 0;
    int rc = 0;
    if (streq (name, "name"))
        rc = s_text (name, value, config->name, sizeof config->name, why, size);
    else if (streq (name, "data"))
        rc = s_text (name, value, config->data, sizeof config->data, why, size);
    else if (streq (name, "endpoint")) {
        size_t used = strlen (config->endpoints);
        if (used + strlen (value) + 2 > sizeof config->endpoints) {
            snprintf (why, size, "endpoint: too many endpoints");
            return MESHQ_EINVAL;
        }
        snprintf (config->endpoints + used, sizeof config->endpoints - used,
                  "%s%s", used ? "," : "", value);
    } else if (streq (name, "max_message")) {
        if (!(rc = s_size (name, value, 1, UINT32_MAX, &number, why, size)))
            config->max_message = (size_t)number;
    } else if (streq (name, "ack_timeout")) {
        if (!(rc = s_number (name, value, 1, INT32_MAX, &number, why, size)))
            config->ack_timeout_ms = (int)number;
    } else if (streq (name, "max_memory")) {
        if (!(rc = s_size (name, value, 0, UINT64_MAX, &number, why, size)))
            config->max_memory = number;
    } else if (streq (name, "flow_memory")) {
        if (!(rc = s_size (name, value, 0, UINT64_MAX, &number, why, size)))
            config->flow_memory = number;
    } else if (streq (name, "flow_time")) {
        if (!(rc = s_number (name, value, 0, 60000, &number, why, size)))
            config->flow_time_ms = (uint32_t)number;
    } else if (streq (name, "segment_size")) {
        if (!(rc = s_size (name, value, 0, UINT64_MAX, &number, why, size)))
            config->store.segment_size = number;
    } else if (streq (name, "quota")) {
        if (!(rc = s_size (name, value, 0, UINT64_MAX, &number, why, size))) {
            if (number && number < MESHQ_STORE_QUOTA_MIN) {
                //  Smaller, the store could not delete a segment and
                //  still have one to write acks in: it would never drain.
                snprintf (why, size,
                          "quota: %s is below %" PRIu64 " bytes (%d "
                          "segments of %d bytes), the least a store can "
                          "drain in; 0 means no quota",
                          value, MESHQ_STORE_QUOTA_MIN,
                          MESHQ_STORE_QUOTA_SEGMENTS, MESHQ_STORE_SEGMENT_MIN);
                rc = MESHQ_EINVAL;
            } else
                config->store.quota = number;
        }
    } else if (streq (name, "mesh")) {
        rc = s_text (name, value, config->mesh_name, sizeof config->mesh_name,
                     why, size);
        config->mesh = rc == 0;
    } else if (streq (name, "interface"))
        rc = s_text (name, value, config->interface, sizeof config->interface,
                     why, size);
    else if (streq (name, "seeds")) {
        rc = s_text (name, value, config->seeds, sizeof config->seeds, why,
                     size);
        config->mesh |= rc == 0;
    } else if (streq (name, "seeds_refresh")) {
        if (!(rc = s_number (name, value, 100, 3600000, &number, why, size)))
            config->seeds_refresh_ms = (uint32_t)number;
    } else if (streq (name, "no_beacon")) {
        if (!streq (value, "true") && !streq (value, "false") &&
            !streq (value, "1") && !streq (value, "0")) {
            snprintf (why, size, "no_beacon: true or false, not '%s'", value);
            return MESHQ_EINVAL;
        }
        config->no_beacon = streq (value, "true") || streq (value, "1");
    } else if (streq (name, "port") || streq (name, "beacon_port")) {
        if (!(rc = s_number (name, value, 0, 65535, &number, why, size))) {
            if (streq (name, "port"))
                config->port = (uint16_t)number;
            else
                config->beacon_port = (uint16_t)number;
        }
    } else if (streq (name, "beacon_interval")) {
        if (!(rc = s_number (name, value, 10, 60000, &number, why, size)))
            config->beacon_ms = (uint32_t)number;
    } else if (streq (name, "transport")) {
        if (!streq (value, "auto") && !streq (value, "multicast") &&
            !streq (value, "broadcast") && !streq (value, "ipv6")) {
            snprintf (why, size,
                      "transport: auto, multicast, broadcast or ipv6, not "
                      "'%s'",
                      value);
            return MESHQ_EINVAL;
        }
        rc = s_text (name, value, config->transport, sizeof config->transport,
                     why, size);
    } else if (streq (name, "heartbeat")) {
        if (!(rc = s_number (name, value, 0, 600000, &number, why, size)))
            config->heartbeat_ms = (uint32_t)number;
    } else if (streq (name, "peer_timeout")) {
        if (!(rc = s_number (name, value, 0, 600000, &number, why, size)))
            config->peer_timeout_ms = (uint32_t)number;
    } else if (streq (name, "full_links")) {
        if (!(rc = s_number (name, value, 0, 1000000, &number, why, size)))
            config->full_links = (uint32_t)number;
    } else if (streq (name, "max_links")) {
        if (!(rc = s_number (name, value, 0, 1000000, &number, why, size)))
            config->max_links = (uint32_t)number;
    } else if (streq (name, "read_ahead")) {
        if (!(rc = s_number (name, value, 0, 1000, &number, why, size)))
            config->read_ahead_percent = (uint32_t)number;
    } else if (streq (name, "client_hwm")) {
        //  Fewer than a turn's replies would end sessions that read.
        if (!(rc = s_number (name, value, 100, 10000000, &number, why, size)))
            config->client_hwm = (uint32_t)number;
    } else if (streq (name, "max_vhosts")) {
        if (!(rc = s_number (name, value, 0, 1000000, &number, why, size)))
            config->max_vhosts = (uint32_t)number;
    } else if (streq (name, "http") || streq (name, "metrics")) {
        //  "": no listener; else [HOST:]PORT, port 0 for a free one.
        char host[64];
        uint16_t port;
        bool http = streq (name, "http");
        if (*value &&
            meshq_http_parse (value, host, sizeof host, &port, why, size)) {
            char reason[256];
            snprintf (reason, sizeof reason, "%s", why);
            snprintf (why, size, "%s: %s", name, reason);
            return MESHQ_EINVAL;
        }
        rc = s_text (name, value, http ? config->http : config->metrics,
                     sizeof config->http, why, size);
        if (http)
            config->http_fallback = false;
        else
            config->metrics_fallback = false;
    } else if (streq (name, "metrics_login")) {
        if (!streq (value, "true") && !streq (value, "false") &&
            !streq (value, "1") && !streq (value, "0")) {
            snprintf (why, size, "metrics_login: true or false, not '%s'",
                      value);
            return MESHQ_EINVAL;
        }
        config->metrics_login = streq (value, "true") || streq (value, "1");
    } else if (streq (name, "amqp")) {
        //  host:port, or "" for none; checked when the agent starts.
        rc = s_text (name, value, config->amqp, sizeof config->amqp, why, size);
        if (rc == 0 && *value && !strrchr (value, ':')) {
            snprintf (why, size, "amqp: '%s' is not host:port", value);
            rc = MESHQ_EINVAL;
        }
        config->amqp_default = false;
    } else if (streq (name, "mesh_secret_file"))
        rc = s_text (name, value, config->mesh_secret_file,
                     sizeof config->mesh_secret_file, why, size);
    else {
        snprintf (why, size, "unknown setting '%s'", name);
        rc = MESHQ_EINVAL;
    }
    return rc;
}
