/*  client_heartbeat.h - keeps a client's session alive from its own
    thread.

    The client library is used from the application's thread, which may
    be busy in a long job for minutes. This actor, started by connect,
    sends PING {sid} to the agent every heartbeat interval over a socket
    of its own, so the session lives as long as the process does, and
    reports LOST on its pipe when the agent stops answering PONG for
    three intervals (FOUND when it answers again).
*/
#ifndef MESHQ_CLIENT_HEARTBEAT_H_INCLUDED
#define MESHQ_CLIENT_HEARTBEAT_H_INCLUDED

#include <czmq.h>

//  What the actor needs; copied before zactor_new returns.
typedef struct {
    const char *endpoint;  //  The agent's endpoint.
    uint8_t session[16];   //  The session to keep alive.
    int interval_ms;       //  Heartbeat interval.
    const char *user;      //  PLAIN user name.
    const char *password;  //  PLAIN password.
} meshq_heartbeat_args_t;

//  The actor: zactor_new (meshq_client_heartbeat, &args).
void meshq_client_heartbeat (zsock_t *pipe, void *args);

#endif
