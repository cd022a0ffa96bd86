/*  parts.h - one multipart message read from a ZeroMQ socket into
    zmq_msg_t parts, with no zmsg or frame per part: the hot path of the
    agent and of the client.
*/
#ifndef MESHQ_PARTS_H_INCLUDED
#define MESHQ_PARTS_H_INCLUDED

#include <zmq.h>

//  Receives one message from the socket without waiting for its first
//  part. Keeps its first max parts in parts (the caller closes them)
//  and drops the rest; *total is how many parts it had, 0 if no message
//  was there. Returns how many parts were kept.
int meshq_parts_recv (void *handle, zmq_msg_t *parts, int max, int *total);

#endif
