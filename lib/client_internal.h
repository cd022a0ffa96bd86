/*  client_internal.h - requests the public client API does not name,
    for the meshq tool: status, lists, administration.
*/
#ifndef MESHQ_CLIENT_INTERNAL_H_INCLUDED
#define MESHQ_CLIENT_INTERNAL_H_INCLUDED

#include "args.h"
#include "meshq_client.h"

#include <czmq.h>

//  Sends a request (verb and arguments; rid is set here) and waits for
//  the answer. On OK returns 0 and *reply_p is the reply (caller
//  destroys it): frame 1 "OK", frame 2 the results. On ERROR returns the
//  agent's code and meshq_client_error gives its reason.
int meshq_client_call (meshq_client_t *self, const char *verb,
                       meshq_args_t *args, zmsg_t **reply_p);

#endif
