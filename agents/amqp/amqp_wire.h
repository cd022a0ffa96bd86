/*  amqp_wire.h - AMQP 0-9-1 on the wire: a bounded frame parser and the
    frame encoders, over rabbitmq-c's codec.

    Every byte a client sends is untrusted. The parser reads the protocol
    header, then frames; it enforces frame_max, checks the frame-end
    octet, and walks every field table (method arguments and the headers
    property) before rabbitmq-c decodes it, refusing tables nested deeper
    than MESHQ_AMQP_TABLE_DEPTH: rabbitmq-c's decoder recurses without a
    limit. Decoding itself (methods, properties, tables) is rabbitmq-c's.

    The parser keeps no per-channel state: it does not check that a
    content header follows a content-bearing method, nor that the body
    frames add up to the header's body_size, nor that body_size is below
    the caller's maximum message size. The channel does that, with its
    own limits. The module needs neither CZMQ nor the engine.

    Reading a socket:

        size_t off = 0;
        while (off < got) {
            size_t used;
            meshq_amqp_event_t event;
            meshq_amqp_parser_parse (parser, data + off, got - off,
                                     &used, &event);
            off += used;
            if (event.type == MESHQ_AMQP_MORE)
                break;          //  every byte is taken; read again
            ...handle event; on MESHQ_AMQP_ERROR close the connection
               with event.reply_code and event.reply_text...
        }
*/
#ifndef MESHQ_AMQP_WIRE_H_INCLUDED
#define MESHQ_AMQP_WIRE_H_INCLUDED

#include <amqp.h>
#include <amqp_framing.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

//  The frame_max that Connection.Tune offers, and the largest frame the
//  parser ever accepts, header and frame-end included.
#define MESHQ_AMQP_FRAME_MAX 131072u
//  The smallest frame_max a peer may negotiate (the spec's frame-min-size).
#define MESHQ_AMQP_FRAME_MIN 4096u
//  A frame's header (type, channel, size) and its frame-end octet.
#define MESHQ_AMQP_FRAME_OVERHEAD 8u
//  The deepest field table accepted; the argument table itself is 1.
#define MESHQ_AMQP_TABLE_DEPTH 16
//  The most values (entries and array items, at any depth) in one field
//  table: rabbitmq-c spends some 40 bytes decoding each.
#define MESHQ_AMQP_TABLE_VALUES 4096
//  "AMQP" 0 0 9 1: what a client sends first, and what we answer to a
//  client that sends another header.
#define MESHQ_AMQP_PROTOCOL_HEADER      "AMQP\x00\x00\x09\x01"
#define MESHQ_AMQP_PROTOCOL_HEADER_SIZE 8u

typedef enum {
    MESHQ_AMQP_MORE = 0,      //  Every byte given is taken; feed more.
    MESHQ_AMQP_PROTOCOL_OK,   //  The client sent AMQP 0-9-1's header.
    MESHQ_AMQP_PROTOCOL_BAD,  //  Another header: answer with ours, close.
    MESHQ_AMQP_METHOD,        //  channel, method.
    MESHQ_AMQP_HEADER,        //  channel, class_id, body_size, properties.
    MESHQ_AMQP_BODY,          //  channel, body, body_chunk (may be 0).
    MESHQ_AMQP_HEARTBEAT,     //  On channel 0.
    MESHQ_AMQP_ERROR          //  reply_code, reply_text; close.
} meshq_amqp_event_type_t;

//  One event. Pointers in it (the decoded method, properties, body and
//  every amqp_bytes_t inside them) are borrowed: they point into the
//  parser or into the bytes last passed to it, and stay valid until the
//  next call to meshq_amqp_parser_parse or the parser's destruction, as
//  long as the caller keeps those bytes.
typedef struct {
    meshq_amqp_event_type_t type;
    uint16_t channel;
    amqp_method_t method;                 //  METHOD.
    uint16_t class_id;                    //  HEADER.
    uint64_t body_size;                   //  HEADER: as the client says.
    amqp_basic_properties_t *properties;  //  HEADER.
    const uint8_t *body;                  //  BODY.
    size_t body_chunk;                    //  BODY.
    //  ERROR: what Connection.Close carries (a hard error, always), and
    //  the method at fault when there is one (else 0, 0).
    uint16_t reply_code;
    const char *reply_text;
    uint16_t fault_class_id;
    uint16_t fault_method_id;
} meshq_amqp_event_t;

typedef struct _meshq_amqp_parser_t meshq_amqp_parser_t;

//  Creates a parser that expects the protocol header first. Its frame
//  limit starts at MESHQ_AMQP_FRAME_MAX.
meshq_amqp_parser_t *meshq_amqp_parser_new (void);

//  Destroys a parser; NULL-safe, nulls *self_p.
void meshq_amqp_parser_destroy (meshq_amqp_parser_t **self_p);

//  Sets the frame limit once Connection.Tune-Ok has agreed on it:
//  frame_max 0 (no limit, in the spec) or above MESHQ_AMQP_FRAME_MAX
//  stays MESHQ_AMQP_FRAME_MAX. Returns MESHQ_EINVAL, and changes
//  nothing, below MESHQ_AMQP_FRAME_MIN: the caller closes with 530.
int meshq_amqp_parser_set_frame_max (meshq_amqp_parser_t *self,
                                     uint32_t frame_max);

//  The frame limit in force.
uint32_t meshq_amqp_parser_frame_max (meshq_amqp_parser_t *self);

//  Takes bytes from data (size of them) until one event is complete, and
//  returns it in *event; *used says how many bytes were taken. The event
//  is MESHQ_AMQP_MORE when all of them were taken without completing
//  one. The parser holds at most one frame of frame_max bytes. After
//  MESHQ_AMQP_ERROR or MESHQ_AMQP_PROTOCOL_BAD it takes no more bytes and
//  returns the same event. Returns 0, or a negative MESHQ_E* code with
//  an ERROR event (MESHQ_EVERSION with PROTOCOL_BAD). The memory an
//  event's decoding took is kept until the next call: calling with no
//  bytes gives it back, for a connection that will be idle.
int meshq_amqp_parser_parse (meshq_amqp_parser_t *self, const uint8_t *data,
                             size_t size, size_t *used,
                             meshq_amqp_event_t *event);

//  Walks a field table (its 4-byte size first) at data, within size
//  bytes, without decoding it. Returns the bytes it spans, or MESHQ_EDEPTH
//  if it nests deeper than max_depth (the table itself is depth 1),
//  MESHQ_ETOOBIG if it holds more than MESHQ_AMQP_TABLE_VALUES values, or
//  MESHQ_EMALFORMED if it is not a well-formed table within size bytes.
//  Iterative and bounded: it never recurses.
ssize_t meshq_amqp_table_walk (const uint8_t *data, size_t size, int max_depth);

//  The encoders write whole frames into buf (capacity cap) and return
//  the bytes written, MESHQ_ETOOBIG if a frame would exceed frame_max or
//  cap, or MESHQ_EINVAL if rabbitmq-c cannot encode the arguments.
//  frame_max is the negotiated one: 0 means MESHQ_AMQP_FRAME_MAX, and a
//  value below MESHQ_AMQP_FRAME_MIN is taken as MESHQ_AMQP_FRAME_MIN.

//  A method frame: decoded is the method's rabbitmq-c struct.
ssize_t meshq_amqp_encode_method (uint8_t *buf, size_t cap, uint32_t frame_max,
                                  uint16_t channel, amqp_method_number_t id,
                                  void *decoded);

//  A content header frame of class basic.
ssize_t meshq_amqp_encode_header (uint8_t *buf, size_t cap, uint32_t frame_max,
                                  uint16_t channel, uint64_t body_size,
                                  amqp_basic_properties_t *properties);

//  The body frames of a body of size bytes, each at most frame_max. None
//  for an empty body.
ssize_t meshq_amqp_encode_body (uint8_t *buf, size_t cap, uint32_t frame_max,
                                uint16_t channel, const void *body,
                                size_t size);

//  The bytes meshq_amqp_encode_body needs for a body of size bytes.
size_t meshq_amqp_body_frames_size (size_t size, uint32_t frame_max);

//  A heartbeat frame (8 bytes).
ssize_t meshq_amqp_encode_heartbeat (uint8_t *buf, size_t cap);

#endif
