/*  endpoint.h - where a client finds its agent by default.

    An agent serves its clients on one endpoint (the meshq tool's STATUS
    today, every queue command later). Unless told otherwise it binds
    ipc://RUNDIR/NAME.ipc, where RUNDIR is $XDG_RUNTIME_DIR/meshq when
    that variable is set, else /tmp/meshq-UID, and NAME is the agent's
    name (the host name by default). A client computes the same path
    from the same name, so that `meshq status` finds the agent of this
    host with no flags, and `meshq --agent NAME` an agent named NAME.
*/
#ifndef MESHQ_ENDPOINT_H_INCLUDED
#define MESHQ_ENDPOINT_H_INCLUDED

#include <stddef.h>

//  Writes the directory that holds agents' ipc endpoints. Returns 0 or
//  MESHQ_ETOOBIG if it does not fit in size bytes.
int meshq_endpoint_rundir (char *out, size_t size);

//  Writes the default endpoint of the agent called name (NULL: this
//  host's name). Returns 0, or MESHQ_ETOOBIG if the path would not fit
//  an ipc socket's 107 bytes, or MESHQ_EINVAL for a name with '/'.
int meshq_endpoint_default (const char *name, char *out, size_t size);

//  Writes this host's name, as agents use it by default.
void meshq_endpoint_hostname (char *out, size_t size);

#endif
