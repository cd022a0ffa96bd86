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
                  "option name or value missing");
        return MESHQ_EINVAL;
    }
    //  The name is meshq_agent_new's: it names the inproc endpoint.
    if (streq (name, "name")) {
        snprintf (self->error, sizeof self->error,
                  "option name: given to meshq_agent_new");
        return MESHQ_EINVAL;
    }
    char why[256];
    int rc =
        meshq_agent_config_set (&self->config, name, value, why, sizeof why);
    if (rc)
        snprintf (self->error, sizeof self->error, "%s", why);
    return rc;
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
