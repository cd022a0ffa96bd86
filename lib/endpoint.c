/*  endpoint.c - the default agent endpoint. See endpoint.h. */
#include "endpoint.h"
#include "meshq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  The longest path an AF_UNIX socket address holds (sun_path less the
//  terminating zero).
#define S_IPC_PATH_MAX 107

int
meshq_endpoint_rundir (char *out, size_t size)
{
    const char *runtime = getenv ("XDG_RUNTIME_DIR");
    int wrote;
    if (runtime && *runtime == '/')
        wrote = snprintf (out, size, "%s/meshq", runtime);
    else
        wrote = snprintf (out, size, "/tmp/meshq-%u", (unsigned)getuid ());
    return wrote < 0 || (size_t)wrote >= size ? MESHQ_ETOOBIG : 0;
}

void
meshq_endpoint_hostname (char *out, size_t size)
{
    if (gethostname (out, size) || !*out)
        snprintf (out, size, "meshq");
    out[size - 1] = 0;
}

int
meshq_endpoint_default (const char *name, char *out, size_t size)
{
    char host[256];
    if (!name || !*name) {
        meshq_endpoint_hostname (host, sizeof host);
        name = host;
    }
    if (strchr (name, '/'))
        return MESHQ_EINVAL;
    char rundir[256];
    if (meshq_endpoint_rundir (rundir, sizeof rundir))
        return MESHQ_ETOOBIG;
    int wrote = snprintf (out, size, "ipc://%s/%s.ipc", rundir, name);
    if (wrote < 0 || (size_t)wrote >= size ||
        (size_t)wrote - strlen ("ipc://") > S_IPC_PATH_MAX)
        return MESHQ_ETOOBIG;
    return 0;
}
