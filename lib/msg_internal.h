/*  msg_internal.h - what the client library needs of meshq_msg_t
    beyond the public API.
*/
#ifndef MESHQ_MSG_INTERNAL_H_INCLUDED
#define MESHQ_MSG_INTERNAL_H_INCLUDED

#include "buf.h"
#include "meshq.h"

//  Appends the message's encoding to out (a reused buffer: no
//  allocation once it has grown). Returns 0 or a negative code.
int meshq_msg_encode_into (const meshq_msg_t *self, meshq_buf_t *out);

#endif
