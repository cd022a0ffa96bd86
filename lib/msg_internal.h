/*  msg_internal.h - what the client library needs of meshq_msg_t
    beyond the public API, and the message's fields, which only
    lib/msg*.c touch: msg.c (life cycle, properties, headers, print)
    and msg_frame.c (encode and decode).
*/
#ifndef MESHQ_MSG_INTERNAL_H_INCLUDED
#define MESHQ_MSG_INTERNAL_H_INCLUDED

#include "buf.h"
#include "envelope.h"
#include "meshq.h"

struct _meshq_msg_t {
    uint32_t present;    //  Bit (1 << meshq_field_t) per field set.
    uint8_t origin[16];  //  Origin node of the message id.
    uint64_t seq;        //  Sequence number of the message id.
    meshq_span_t strings[MESHQ_F_COUNT];  //  NUL-terminated string fields.
    uint8_t priority;                     //  0..9.
    uint64_t timestamp;                   //  Milliseconds since the epoch.
    uint32_t expiration;                  //  TTL in milliseconds.
    uint8_t delivery_mode;      //  MESHQ_TRANSIENT or MESHQ_PERSISTENT.
    uint32_t redelivery_count;  //  Earlier deliveries.
    meshq_span_t body;          //  The body.
    meshq_header_t *headers;    //  Header entries, keys NUL-terminated.
    uint32_t header_count;      //  Entries in use.
    uint32_t header_capacity;   //  Entries allocated (0 while in the arena).
    meshq_span_t unknown;       //  Pairs of keys a newer writer added.
    uint32_t unknown_count;     //  Pairs in 'unknown'.
    char *arena;                //  What decoding copied (after the struct).
    size_t arena_size;          //  Bytes in the arena.
    size_t capacity;            //  Decoded: the block's size (cache.h).
};

//  Appends the message's encoding to out (a reused buffer: no
//  allocation once it has grown). Returns 0 or a negative code.
int meshq_msg_encode_into (const meshq_msg_t *self, meshq_buf_t *out);

#endif
