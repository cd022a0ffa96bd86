/*  codec_args.h - encode and decode the argument map of a frame.

    Frames between clients and agents, and between agents, carry their
    arguments as one msgpack map (docs/PROTOCOL.md, section 2). This
    codec turns a meshq_args_t into that map and back: known keys are
    checked for type and cap, unknown keys skipped, so newer peers may
    add arguments. Lists (LIST_QUEUES and the like) are a map holding
    'rid' and one array of argument maps. Pure: no I/O, no logging.
*/
#ifndef MESHQ_CODEC_ARGS_H_INCLUDED
#define MESHQ_CODEC_ARGS_H_INCLUDED

#include "args.h"
#include "buf.h"

//  Appends the map of the present arguments to out. Returns 0,
//  MESHQ_ENOMEM, or MESHQ_ETOOBIG / MESHQ_EINVAL for a string the format
//  cannot carry, with *why naming it.
int meshq_codec_encode_args (const meshq_args_t *args, meshq_buf_t *out,
                             const char **why);

//  Decodes an argument map that fills exactly size bytes into *args
//  (cleared first). Returns 0 or a negative code with *why set to a
//  static reason naming the argument. Strings borrow from data.
int meshq_codec_decode_args (const void *data, size_t size, meshq_args_t *args,
                             const char **why);

//  Decodes the argument map that starts data (size bytes) into *args,
//  and sets *used to its length: what follows is the caller's (the
//  one-frame form of a command, docs/PROTOCOL.md section 2). Returns 0
//  or a negative code with *why set.
int meshq_codec_decode_args_head (const void *data, size_t size,
                                  meshq_args_t *args, size_t *used,
                                  const char **why);

//  Appends a list: {"rid": rid, name: [row, ...]}.
int meshq_codec_encode_list (uint64_t rid, const char *name,
                             const meshq_args_t *rows, size_t count,
                             meshq_buf_t *out, const char **why);

//  The same with a second list, name2 (none if NULL): {"rid": rid,
//  name: [row, ...], name2: [row, ...]}. Readers of the first skip it.
int meshq_codec_encode_lists (uint64_t rid, const char *name,
                              const meshq_args_t *rows, size_t count,
                              const char *name2, const meshq_args_t *rows2,
                              size_t count2, meshq_buf_t *out,
                              const char **why);

//  Decodes a list written by meshq_codec_encode_list: *rid, and the rows'
//  bytes in *rows (validated) with their number in *count.
int meshq_codec_decode_list (const void *data, size_t size, const char *name,
                             uint64_t *rid, meshq_span_t *rows, uint32_t *count,
                             const char **why);

//  Decodes the next row of a decoded list into *args and advances
//  *cursor. Returns false when no rows are left.
bool meshq_codec_list_next (meshq_span_t *cursor, meshq_args_t *args);

//  One delivery of a batched DELIVER frame (docs/PROTOCOL.md, 3.4).
typedef struct {
    uint64_t dtag;          //  Delivery tag.
    uint64_t seq;           //  Message sequence at its origin.
    uint64_t count;         //  Deliveries, this one included.
    bool redelivered;       //  Delivered (maybe) before.
    meshq_span_t envelope;  //  The envelope, byte for byte; borrowed.
} meshq_delivery_item_t;

//  Appends one delivery to the items of a batched DELIVER frame.
//  Returns 0 or MESHQ_ENOMEM.
int meshq_codec_encode_delivery (const meshq_delivery_item_t *item,
                                 meshq_buf_t *out);

//  Decodes the delivery at the start of *cursor into *item (the
//  envelope borrows from the cursor's bytes, at most max_envelope of
//  them) and advances *cursor past it. Returns 0, or a negative code
//  with *why set to a static reason.
int meshq_codec_decode_delivery (meshq_span_t *cursor, uint32_t max_envelope,
                                 meshq_delivery_item_t *item, const char **why);

//  One message of a batched PUBLISH frame (docs/PROTOCOL.md, 3.4).
typedef struct {
    bool mandatory;         //  Return it if no queue takes it.
    meshq_span_t envelope;  //  The envelope, byte for byte; borrowed.
} meshq_publish_item_t;

//  Appends one message to the items of a batched PUBLISH frame.
//  Returns 0 or MESHQ_ENOMEM.
int meshq_codec_encode_publish (const meshq_publish_item_t *item,
                                meshq_buf_t *out);

//  Decodes the message at the start of *cursor into *item (the envelope
//  borrows from the cursor's bytes, at most max_envelope of them) and
//  advances *cursor past it. Returns 0, or a negative code with *why set
//  to a static reason.
int meshq_codec_decode_publish (meshq_span_t *cursor, uint32_t max_envelope,
                                meshq_publish_item_t *item, const char **why);

#endif
