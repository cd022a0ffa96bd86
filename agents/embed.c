/*  embed.c - a queue agent embedded in an application. See
    meshq_agent.h. A thin owner of the engine actor (agent.c).
*/
#include "agent.h"
#include "meshq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct _meshq_agent_t {
    meshq_agent_config_t config;  //  What the engine starts with.
    zactor_t *actor;              //  The engine, once started.
    char endpoint[128];           //  inproc://meshq-NAME.
    char error[1024];             //  Last failure.
};

meshq_agent_t *
meshq_agent_new (const char *name)
{
    //  Signals belong to the application (see meshq_client_new).
    zsys_handler_set (NULL);
    meshq_agent_t *self = calloc (1, sizeof *self);
    assert (self);
    meshq_agent_config_init (&self->config);
    snprintf (self->config.name, sizeof self->config.name, "%s",
              name && *name ? name : "meshq");
    snprintf (self->endpoint, sizeof self->endpoint, "inproc://meshq-%s",
              self->config.name);
    return self;
}

void
meshq_agent_destroy (meshq_agent_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy (&(*self_p)->actor);
    free (*self_p);
    *self_p = NULL;
}

//  Parses a non-negative integer option.
static int
s_number (meshq_agent_t *self, const char *name, const char *value,
          uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long number = strtoull (value, &end, 10);
    if (errno || !end || *end || *value == '-' || !*value) {
        snprintf (self->error, sizeof self->error,
                  "option %s: '%s' is not a non-negative integer", name, value);
        return MESHQ_EINVAL;
    }
    *out = number;
    return 0;
}

int
meshq_agent_set (meshq_agent_t *self, const char *name, const char *value)
{
    assert (self);
    if (self->actor) {
        snprintf (self->error, sizeof self->error,
                  "option %s: the agent is already started", name);
        return MESHQ_ESTATE;
    }
    if (!name || !value) {
        snprintf (self->error, sizeof self->error,
                  "option name or value "
                  "missing");
        return MESHQ_EINVAL;
    }
    uint64_t number = 0;
    meshq_agent_config_t *config = &self->config;
    if (streq (name, "data"))
        snprintf (config->data, sizeof config->data, "%s", value);
    else if (streq (name, "endpoint")) {
        size_t used = strlen (config->endpoints);
        if (used + strlen (value) + 2 > sizeof config->endpoints) {
            snprintf (self->error, sizeof self->error, "too many endpoints");
            return MESHQ_EINVAL;
        }
        snprintf (config->endpoints + used, sizeof config->endpoints - used,
                  "%s%s", used ? "," : "", value);
    } else if (streq (name, "max_message") || streq (name, "ack_timeout") ||
               streq (name, "segment_size") || streq (name, "quota") ||
               streq (name, "max_memory")) {
        int rc = s_number (self, name, value, &number);
        if (rc)
            return rc;
        if (streq (name, "max_message"))
            config->max_message = (size_t)number;
        else if (streq (name, "ack_timeout")) {
            if (number == 0 || number > INT32_MAX) {
                snprintf (self->error, sizeof self->error,
                          "option ack_timeout: 1..%d ms", INT32_MAX);
                return MESHQ_EINVAL;
            }
            config->ack_timeout_ms = (int)number;
        } else if (streq (name, "max_memory"))
            config->max_memory = number;
        else if (streq (name, "segment_size"))
            config->store.segment_size = number;
        else
            config->store.quota = number;
    } else if (streq (name, "mesh")) {
        snprintf (config->mesh_name, sizeof config->mesh_name, "%s", value);
        config->mesh = true;
    } else if (streq (name, "interface"))
        snprintf (config->interface, sizeof config->interface, "%s", value);
    else if (streq (name, "seeds")) {
        snprintf (config->seeds, sizeof config->seeds, "%s", value);
        config->mesh = true;
    } else if (streq (name, "no_beacon"))
        config->no_beacon = streq (value, "true") || streq (value, "1");
    else if (streq (name, "port") || streq (name, "beacon_port") ||
             streq (name, "heartbeat") || streq (name, "peer_timeout")) {
        int rc = s_number (self, name, value, &number);
        if (rc)
            return rc;
        bool port = streq (name, "port") || streq (name, "beacon_port");
        if ((port && number > 65535) || (!port && number > 600000)) {
            snprintf (self->error, sizeof self->error,
                      "option %s: %s is out of range", name, value);
            return MESHQ_EINVAL;
        }
        if (streq (name, "port"))
            config->port = (uint16_t)number;
        else if (streq (name, "beacon_port"))
            config->beacon_port = (uint16_t)number;
        else if (streq (name, "heartbeat"))
            config->heartbeat_ms = (uint32_t)number;
        else
            config->peer_timeout_ms = (uint32_t)number;
    } else {
        snprintf (self->error, sizeof self->error, "unknown option '%s'", name);
        return MESHQ_EINVAL;
    }
    return 0;
}

int
meshq_agent_start (meshq_agent_t *self)
{
    assert (self);
    if (self->actor) {
        snprintf (self->error, sizeof self->error, "already started");
        return MESHQ_ESTATE;
    }
    self->actor = zactor_new (meshq_agent_actor, &self->config);
    zstr_send (self->actor, "START");
    char *status = NULL, *why = NULL;
    int rc = zsock_recv (self->actor, "ss", &status, &why);
    if (rc == 0 && status && streq (status, "OK"))
        rc = 0;
    else {
        snprintf (self->error, sizeof self->error, "%s",
                  why ? why : "the agent did not start");
        zactor_destroy (&self->actor);
        rc = MESHQ_EIO;
    }
    zstr_free (&status);
    zstr_free (&why);
    return rc;
}

const char *
meshq_agent_endpoint (const meshq_agent_t *self)
{
    assert (self);
    return self->endpoint;
}

const char *
meshq_agent_error (const meshq_agent_t *self)
{
    assert (self);
    return self->error;
}
