/*  meshq_agent.h - a queue agent embedded in this process.

    One call gives an application a whole meshq node with no daemon to
    install: the agent runs on its own thread, and clients in the
    process reach it at meshq_agent_endpoint (inproc://meshq-NAME).

        meshq_agent_t *agent = meshq_agent_new ("app");
        meshq_agent_set (agent, "data", "/var/lib/app/meshq");
        if (meshq_agent_start (agent))
            fprintf (stderr, "%s\n", meshq_agent_error (agent));
        meshq_client_connect (client, meshq_agent_endpoint (agent));
        ...
        meshq_agent_destroy (&agent);

    meshq-agent, the daemon, runs the very same engine.

    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
*/
#ifndef MESHQ_AGENT_PUBLIC_H_INCLUDED
#define MESHQ_AGENT_PUBLIC_H_INCLUDED

#include "meshq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _meshq_agent_t meshq_agent_t;

//  Creates an agent named name (letters, digits, '-', '_', '.'), not
//  yet started.
MESHQ_EXPORT meshq_agent_t *meshq_agent_new (const char *name);

//  Stops the agent (clients see their connection lost) and destroys it.
//  NULL-safe; nulls *self_p.
MESHQ_EXPORT void meshq_agent_destroy (meshq_agent_t **self_p);

//  Sets an option before start, by the name the configuration file uses
//  (docs/OPERATIONS.md lists them all): "data" (store directory;
//  required), "endpoint" (another client endpoint to bind, such as
//  ipc:// or tcp://; may be repeated), "mesh", "seeds", "read_ahead",
//  "mesh_secret_file", ... Returns 0, MESHQ_EINVAL for an unknown name or
//  a bad value (meshq_agent_error says which), MESHQ_ESTATE once started.
MESHQ_EXPORT int meshq_agent_set (meshq_agent_t *self, const char *name,
                                  const char *value);

//  Starts the agent: binds its endpoints, opens and recovers its store.
//  Returns 0 or a negative code; meshq_agent_error says why.
MESHQ_EXPORT int meshq_agent_start (meshq_agent_t *self);

//  The endpoint clients in this process connect to (borrowed).
MESHQ_EXPORT const char *meshq_agent_endpoint (const meshq_agent_t *self);

//  The reason for the last failure, or "" (borrowed).
MESHQ_EXPORT const char *meshq_agent_error (const meshq_agent_t *self);

#ifdef __cplusplus
}
#endif

#endif
