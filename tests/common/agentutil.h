/*  agentutil.h - an embedded agent in a temporary directory, and
    clients connected to it, for the integration suites.
*/
#ifndef MESHQ_AGENTUTIL_H_INCLUDED
#define MESHQ_AGENTUTIL_H_INCLUDED

#include "meshq.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    char dir[256];         //  Temporary store directory.
    char name[64];         //  Agent name.
    meshq_agent_t *agent;  //  The agent.
} agentutil_t;

//  Starts an agent called name on a temporary directory, with options
//  given as name, value, ..., NULL. The directory and the name are made
//  on first use: started again, the agent has the same ones.
static inline void
agentutil_start_with (agentutil_t *self, const char *name,
                      const char *const *options)
{
    if (!*self->dir) {
        snprintf (self->dir, sizeof self->dir, "/tmp/meshq-test-XXXXXX");
        cr_assert_not_null (mkdtemp (self->dir));
        snprintf (self->name, sizeof self->name, "%s-%d", name, (int)getpid ());
    }
    self->agent = meshq_agent_new (self->name);
    cr_assert_eq (meshq_agent_set (self->agent, "data", self->dir), 0);
    for (int i = 0; options && options[i]; i += 2)
        cr_assert_eq (meshq_agent_set (self->agent, options[i], options[i + 1]),
                      0, "%s", meshq_agent_error (self->agent));
    int rc = meshq_agent_start (self->agent);
    cr_assert_eq (rc, 0, "agent start: %s", meshq_agent_error (self->agent));
}

//  Makes a temporary directory and starts an agent on it.
static inline void
agentutil_start (agentutil_t *self, const char *name)
{
    agentutil_start_with (self, name, NULL);
}

//  Stops the agent, keeping its directory.
static inline void
agentutil_stop (agentutil_t *self)
{
    meshq_agent_destroy (&self->agent);
}

//  Starts the agent again on the same directory.
static inline void
agentutil_restart (agentutil_t *self)
{
    agentutil_stop (self);
    agentutil_start_with (self, self->name, NULL);
}

//  Stops the agent and removes its directory.
static inline void
agentutil_finish (agentutil_t *self)
{
    agentutil_stop (self);
    char command[512];
    snprintf (command, sizeof command, "rm -rf '%s'", self->dir);
    cr_expect_eq (system (command), 0);
    self->dir[0] = 0;
}

//  Declares Criterion suite suite with the given timeout (seconds),
//  each of whose tests has an agent of its own called name in s_node,
//  started before the test and removed after it.
#define AGENTUTIL_SUITE(suite, name, seconds)                                  \
    static agentutil_t s_node;                                                 \
    static void s_setup (void)                                                 \
    {                                                                          \
        agentutil_start (&s_node, name);                                       \
    }                                                                          \
    static void s_teardown (void)                                              \
    {                                                                          \
        agentutil_finish (&s_node);                                            \
    }                                                                          \
    TestSuite (suite, .init = s_setup, .fini = s_teardown, .timeout = seconds)

//  A client connected to an embedded agent, with a 5 s timeout.
static inline meshq_client_t *
agentutil_connect (meshq_agent_t *agent)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 5000);
    int rc = meshq_client_connect (client, meshq_agent_endpoint (agent));
    cr_assert_eq (rc, 0, "connect: %s", meshq_client_error (client));
    return client;
}

//  A client connected to the agent.
static inline meshq_client_t *
agentutil_client (agentutil_t *self)
{
    return agentutil_connect (self->agent);
}

//  Receives one delivery or fails the test.
static inline meshq_delivery_t *
agentutil_recv (meshq_client_t *client)
{
    meshq_delivery_t *delivery = NULL;
    int rc = meshq_client_recv (client, 5000, &delivery);
    cr_assert_eq (rc, 0, "recv: %s (%s)", meshq_strerror (rc),
                  meshq_client_error (client));
    return delivery;
}

//  Publishes body (a string) to exchange with routing key key and
//  delivery mode mode (MESHQ_PERSISTENT, MESHQ_TRANSIENT).
static inline void
agentutil_publish (meshq_client_t *client, const char *exchange,
                   const char *key, const char *body, int mode)
{
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_exchange (msg, exchange);
    meshq_msg_set_routing_key (msg, key);
    meshq_msg_set_body (msg, body, strlen (body));
    meshq_msg_set_delivery_mode (msg, mode);
    cr_assert_eq (meshq_client_publish (client, msg, 0), 0);
    meshq_msg_destroy (&msg);
}

//  The body of a delivery as a string (bodies in tests are text).
static inline char *
agentutil_body (const meshq_delivery_t *delivery, char *out, size_t size)
{
    size_t body_size;
    const char *body = meshq_msg_body (delivery->msg, &body_size);
    snprintf (out, size, "%.*s", (int)body_size, body);
    return out;
}

#endif
