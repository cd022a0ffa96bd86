/*  agent.h - the agent: discovery and the client endpoint in one loop.

    This is the skeleton the queue engine grows from: one zloop that
    hosts the peers module (discovery) and the ROUTER clients talk to,
    which answers STATUS, LIST_PEERS and STATS through control.c.

        zactor_t *agent = zactor_new (meshq_agent, &config);
        zstr_send (agent, "START");
        char *verb, *why;
        int rc;
        zsock_recv (agent, "sis", &verb, &rc, &why);  //  0, or why not
        ...
        zactor_destroy (&agent);  //  says BYE to the peers that are up

    START creates the data directory and keeps the node id there, binds
    the client endpoint (refusing one another agent serves), and starts
    discovery; it replies START, a code and a sentence.
*/
#ifndef MESHQ_AGENT_H_INCLUDED
#define MESHQ_AGENT_H_INCLUDED

#include "config.h"

#include <czmq.h>

//  The actor. args is a meshq_agent_config_t *, copied at once.
void meshq_agent (zsock_t *pipe, void *args);

#endif
