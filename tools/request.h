/*  request.h - one request to an agent and its reply, for the tool.

    A DEALER connects to the agent's client endpoint, sends
    [VERB][{rid}], and waits for [OK|ERROR][map] with that rid. Small on
    purpose: the client library will replace it.
*/
#ifndef MESHQ_TOOL_REQUEST_H_INCLUDED
#define MESHQ_TOOL_REQUEST_H_INCLUDED

#include <czmq.h>

//  Sends verb to the agent at endpoint and waits up to timeout_ms.
//  On success *reply holds [OK|ERROR][map] (the caller destroys it).
//  Returns 0, MESHQ_ECONNLOST (no agent there), MESHQ_ETIMEOUT (no
//  reply in time) or MESHQ_EINVAL (a bad endpoint), with a sentence in
//  error.
int meshq_tool_request (const char *endpoint, const char *verb, int timeout_ms,
                        zmsg_t **reply, char *error, size_t error_size);

#endif
