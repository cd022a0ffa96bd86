/*  amqp_parser.c - the bounded AMQP 0-9-1 frame splitter.

    Reads the protocol header, then frames: type (1 octet), channel (2),
    payload size (4), payload, frame-end 0xCE. A frame above frame_max is
    refused before its payload is read, so the parser never holds more
    than one frame of frame_max bytes. Field tables are walked (see
    amqp_walk.c) before rabbitmq-c decodes methods and properties. Every
    refusal is a connection error with its reply code: 501 FRAME_ERROR
    for broken framing, 502 SYNTAX_ERROR for arguments that do not
    decode, 503 COMMAND_INVALID for content frames on channel 0, 505
    UNEXPECTED_FRAME for content of a class without content, 540
    NOT_IMPLEMENTED for a method we do not know.
*/
#include "amqp_wire.h"
#include "meshq.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_FRAME_END 0xCE
#define S_HEADER    7

typedef enum { S_EXPECT_PROTOCOL, S_FRAMES, S_DEAD } s_state_t;

struct _meshq_amqp_parser_t {
    s_state_t state;
    uint32_t frame_max;
    uint8_t *buf;  //  A partial frame, grown as frames need it.
    size_t cap;    //  Bytes allocated, at most MESHQ_AMQP_FRAME_MAX.
    size_t have;   //  Bytes of it held.
    amqp_pool_t pool;
    meshq_amqp_event_t error;  //  Repeated once dead.
    int error_rc;
};

//  Where the field tables are in the arguments of the methods that have
//  any: o octet, s short, S short string, X long string, b an octet of
//  packed bits, T a table. The other methods have no table.
static const struct {
    amqp_method_number_t id;
    const char *layout;
} s_layouts[] = {
    {AMQP_CONNECTION_START_METHOD, "ooTXX"},
    {AMQP_CONNECTION_START_OK_METHOD, "TSXS"},
    {AMQP_EXCHANGE_DECLARE_METHOD, "sSSbT"},
    {AMQP_EXCHANGE_BIND_METHOD, "sSSSbT"},
    {AMQP_EXCHANGE_UNBIND_METHOD, "sSSSbT"},
    {AMQP_QUEUE_DECLARE_METHOD, "sSbT"},
    {AMQP_QUEUE_BIND_METHOD, "sSSSbT"},
    {AMQP_QUEUE_UNBIND_METHOD, "sSSST"},
    {AMQP_BASIC_CONSUME_METHOD, "sSSbT"},
};

static uint16_t
s_get16 (const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
s_get32 (const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

meshq_amqp_parser_t *
meshq_amqp_parser_new (void)
{
    meshq_amqp_parser_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cap = 64;
    self->buf = malloc (self->cap);
    assert (self->buf);
    self->frame_max = MESHQ_AMQP_FRAME_MAX;
    self->state = S_EXPECT_PROTOCOL;
    init_amqp_pool (&self->pool, 4096);
    return self;
}

void
meshq_amqp_parser_destroy (meshq_amqp_parser_t **self_p)
{
    assert (self_p);
    meshq_amqp_parser_t *self = *self_p;
    if (!self)
        return;
    empty_amqp_pool (&self->pool);
    free (self->buf);
    free (self);
    *self_p = NULL;
}

int
meshq_amqp_parser_set_frame_max (meshq_amqp_parser_t *self, uint32_t frame_max)
{
    assert (self);
    if (frame_max == 0 || frame_max > MESHQ_AMQP_FRAME_MAX)
        frame_max = MESHQ_AMQP_FRAME_MAX;
    if (frame_max < MESHQ_AMQP_FRAME_MIN)
        return MESHQ_EINVAL;
    self->frame_max = frame_max;
    return 0;
}

uint32_t
meshq_amqp_parser_frame_max (meshq_amqp_parser_t *self)
{
    assert (self);
    return self->frame_max;
}

//  Makes room for a frame of size bytes, size at most frame_max: the
//  buffer grows only with frames a client has announced and begun.
static int
s_reserve (meshq_amqp_parser_t *self, size_t size)
{
    assert (size <= MESHQ_AMQP_FRAME_MAX);
    if (size <= self->cap)
        return 0;
    size_t cap = self->cap;
    while (cap < size)
        cap *= 2;
    if (cap > MESHQ_AMQP_FRAME_MAX)
        cap = MESHQ_AMQP_FRAME_MAX;
    uint8_t *buf = realloc (self->buf, cap);
    if (!buf)
        return MESHQ_ENOMEM;
    self->buf = buf;
    self->cap = cap;
    return 0;
}

//  Turns the event into a connection error; the parser is dead after.
static int
s_fail (meshq_amqp_parser_t *self, meshq_amqp_event_t *event, int rc,
        uint16_t code, const char *text)
{
    uint16_t channel = event->channel;
    uint16_t fault_class = event->fault_class_id;
    uint16_t fault_method = event->fault_method_id;
    memset (event, 0, sizeof *event);
    event->type = MESHQ_AMQP_ERROR;
    event->channel = channel;
    event->reply_code = code;
    event->reply_text = text;
    event->fault_class_id = fault_class;
    event->fault_method_id = fault_method;
    self->state = S_DEAD;
    self->error = *event;
    self->error_rc = rc;
    return rc;
}

//  Why the table walk refused a table.
static const char *
s_refusal (int rc)
{
    if (rc == MESHQ_EDEPTH)
        return "SYNTAX_ERROR - field table nested deeper than 16";
    if (rc == MESHQ_ETOOBIG)
        return "SYNTAX_ERROR - field table of more than 4096 values";
    return "SYNTAX_ERROR - malformed field table";
}

//  Checks the tables in a method's arguments before rabbitmq-c sees them.
static int
s_check_tables (amqp_method_number_t id, const uint8_t *args, size_t size)
{
    const char *layout = NULL;
    for (size_t i = 0; i < sizeof s_layouts / sizeof s_layouts[0]; i++)
        if (s_layouts[i].id == id)
            layout = s_layouts[i].layout;
    if (!layout)
        return 0;
    size_t pos = 0;
    for (const char *field = layout; *field; field++) {
        size_t need;
        switch (*field) {
            case 'o':
            case 'b':
                need = 1;
                break;
            case 's':
                need = 2;
                break;
            case 'S':
                need = pos < size ? 1 + (size_t)args[pos] : 1;
                break;
            case 'X':
                need = size - pos >= 4 ? 4 + (size_t)s_get32 (args + pos) : 4;
                break;
            default: {
                assert (*field == 'T');
                ssize_t rc = meshq_amqp_table_walk (args + pos, size - pos,
                                                    MESHQ_AMQP_TABLE_DEPTH);
                if (rc < 0)
                    return (int)rc;
                need = (size_t)rc;
            }
        }
        if (need > size - pos)
            return MESHQ_EMALFORMED;
        pos += need;
    }
    return 0;
}

static int
s_method (meshq_amqp_parser_t *self, const uint8_t *payload, size_t size,
          meshq_amqp_event_t *event)
{
    if (size < 4)
        return s_fail (self, event, MESHQ_EMALFORMED, AMQP_FRAME_ERROR,
                       "FRAME_ERROR - method frame shorter than a method id");
    amqp_method_number_t id = s_get32 (payload);
    event->fault_class_id = s_get16 (payload);
    event->fault_method_id = s_get16 (payload + 2);
    int rc = s_check_tables (id, payload + 4, size - 4);
    if (rc)
        return s_fail (self, event, rc, AMQP_SYNTAX_ERROR, s_refusal (rc));
    amqp_bytes_t args = {size - 4, (void *)(payload + 4)};
    void *decoded = NULL;
    rc = amqp_decode_method (id, &self->pool, args, &decoded);
    if (rc == AMQP_STATUS_UNKNOWN_METHOD)
        return s_fail (self, event, MESHQ_ENOTSUP, AMQP_NOT_IMPLEMENTED,
                       "NOT_IMPLEMENTED - unknown method");
    if (rc == AMQP_STATUS_NO_MEMORY)
        return s_fail (self, event, MESHQ_ENOMEM, AMQP_INTERNAL_ERROR,
                       "INTERNAL_ERROR - out of memory");
    if (rc < 0)
        return s_fail (self, event, MESHQ_EMALFORMED, AMQP_SYNTAX_ERROR,
                       "SYNTAX_ERROR - method arguments do not decode");
    event->type = MESHQ_AMQP_METHOD;
    event->method.id = id;
    event->method.decoded = decoded;
    return 0;
}

static int
s_header (meshq_amqp_parser_t *self, const uint8_t *payload, size_t size,
          meshq_amqp_event_t *event)
{
    //  class, weight, body size, property flags.
    if (size < 14)
        return s_fail (self, event, MESHQ_EMALFORMED, AMQP_FRAME_ERROR,
                       "FRAME_ERROR - content header too short");
    uint16_t class_id = s_get16 (payload);
    if (class_id != AMQP_BASIC_CLASS)
        return s_fail (self, event, MESHQ_EMALFORMED, AMQP_UNEXPECTED_FRAME,
                       "UNEXPECTED_FRAME - content header of a class "
                       "without content");
    if (s_get16 (payload + 2) != 0)
        return s_fail (self, event, MESHQ_EMALFORMED, AMQP_FRAME_ERROR,
                       "FRAME_ERROR - content header weight is not 0");
    uint64_t body_size =
        (uint64_t)s_get32 (payload + 4) << 32 | s_get32 (payload + 8);
    const uint8_t *props = payload + 12;
    size_t left = size - 12;
    uint16_t flags = s_get16 (props);
    //  Bit 0 asks for another flag word, bit 1 is unused: basic has 14
    //  properties. rabbitmq-c would shift further flag words past 32 bits.
    if (flags & 3)
        return s_fail (self, event, MESHQ_EMALFORMED, AMQP_SYNTAX_ERROR,
                       "SYNTAX_ERROR - unknown property flags");
    //  content-type and content-encoding come before headers.
    size_t pos = 2;
    for (int bit = 15; bit >= 14; bit--) {
        if (!(flags & (1u << bit)))
            continue;
        if (pos >= left || (size_t)props[pos] + 1 > left - pos)
            return s_fail (self, event, MESHQ_EMALFORMED, AMQP_SYNTAX_ERROR,
                           "SYNTAX_ERROR - properties do not decode");
        pos += 1 + (size_t)props[pos];
    }
    if (flags & AMQP_BASIC_HEADERS_FLAG) {
        ssize_t rc = meshq_amqp_table_walk (props + pos, left - pos,
                                            MESHQ_AMQP_TABLE_DEPTH);
        if (rc < 0)
            return s_fail (self, event, (int)rc, AMQP_SYNTAX_ERROR,
                           s_refusal ((int)rc));
    }
    amqp_bytes_t encoded = {left, (void *)props};
    void *decoded = NULL;
    int rc = amqp_decode_properties (class_id, &self->pool, encoded, &decoded);
    if (rc == AMQP_STATUS_NO_MEMORY)
        return s_fail (self, event, MESHQ_ENOMEM, AMQP_INTERNAL_ERROR,
                       "INTERNAL_ERROR - out of memory");
    if (rc < 0)
        return s_fail (self, event, MESHQ_EMALFORMED, AMQP_SYNTAX_ERROR,
                       "SYNTAX_ERROR - properties do not decode");
    event->type = MESHQ_AMQP_HEADER;
    event->class_id = class_id;
    event->body_size = body_size;
    event->properties = decoded;
    return 0;
}

//  One whole frame: header, payload and frame-end.
static int
s_frame (meshq_amqp_parser_t *self, const uint8_t *frame, size_t payload_size,
         meshq_amqp_event_t *event)
{
    uint8_t type = frame[0];
    event->channel = s_get16 (frame + 1);
    const uint8_t *payload = frame + S_HEADER;
    if (payload[payload_size] != S_FRAME_END)
        return s_fail (self, event, MESHQ_EMALFORMED, AMQP_FRAME_ERROR,
                       "FRAME_ERROR - frame-end octet is not 0xCE");
    switch (type) {
        case AMQP_FRAME_METHOD:
            return s_method (self, payload, payload_size, event);
        case AMQP_FRAME_HEADER:
            if (event->channel == 0)
                return s_fail (self, event, MESHQ_EMALFORMED,
                               AMQP_COMMAND_INVALID,
                               "COMMAND_INVALID - content header on channel 0");
            return s_header (self, payload, payload_size, event);
        case AMQP_FRAME_BODY:
            if (event->channel == 0)
                return s_fail (self, event, MESHQ_EMALFORMED,
                               AMQP_COMMAND_INVALID,
                               "COMMAND_INVALID - content body on channel 0");
            event->type = MESHQ_AMQP_BODY;
            event->body = payload;
            event->body_chunk = payload_size;
            return 0;
        case AMQP_FRAME_HEARTBEAT:
            if (event->channel != 0 || payload_size != 0)
                return s_fail (self, event, MESHQ_EMALFORMED, AMQP_FRAME_ERROR,
                               "FRAME_ERROR - heartbeat off channel 0 or "
                               "with a payload");
            event->type = MESHQ_AMQP_HEARTBEAT;
            return 0;
        default:
            return s_fail (self, event, MESHQ_EMALFORMED, AMQP_FRAME_ERROR,
                           "FRAME_ERROR - unknown frame type");
    }
}

//  Reads the protocol header, refusing at the first byte that differs.
static int
s_protocol (meshq_amqp_parser_t *self, const uint8_t *data, size_t size,
            size_t *used, meshq_amqp_event_t *event)
{
    const uint8_t *want = (const uint8_t *)MESHQ_AMQP_PROTOCOL_HEADER;
    while (*used < size && self->have < MESHQ_AMQP_PROTOCOL_HEADER_SIZE) {
        uint8_t byte = data[(*used)++];
        if (byte != want[self->have]) {
            self->state = S_DEAD;
            event->type = MESHQ_AMQP_PROTOCOL_BAD;
            self->error = *event;
            self->error_rc = MESHQ_EVERSION;
            self->have = 0;
            return MESHQ_EVERSION;
        }
        self->have++;
    }
    if (self->have == MESHQ_AMQP_PROTOCOL_HEADER_SIZE) {
        self->have = 0;
        self->state = S_FRAMES;
        event->type = MESHQ_AMQP_PROTOCOL_OK;
    }
    return 0;
}

int
meshq_amqp_parser_parse (meshq_amqp_parser_t *self, const uint8_t *data,
                         size_t size, size_t *used, meshq_amqp_event_t *event)
{
    assert (self);
    assert (data || size == 0);
    assert (used);
    assert (event);
    memset (event, 0, sizeof *event);
    *used = 0;
    recycle_amqp_pool (&self->pool);
    if (self->state == S_DEAD) {
        *event = self->error;
        return self->error_rc;
    }
    if (self->state == S_EXPECT_PROTOCOL)
        return s_protocol (self, data, size, used, event);

    //  A whole frame in the caller's bytes is read where it is.
    if (self->have == 0 && size >= S_HEADER) {
        uint32_t payload = s_get32 (data + 3);
        if (payload > self->frame_max - MESHQ_AMQP_FRAME_OVERHEAD) {
            event->channel = s_get16 (data + 1);
            return s_fail (self, event, MESHQ_ETOOBIG, AMQP_FRAME_ERROR,
                           "FRAME_ERROR - frame larger than frame_max");
        }
        size_t whole = S_HEADER + (size_t)payload + 1;
        if (size >= whole) {
            *used = whole;
            return s_frame (self, data, payload, event);
        }
    }
    //  Otherwise the frame is gathered, its header first.
    if (self->have < S_HEADER) {
        size_t take = S_HEADER - self->have;
        if (take > size)
            take = size;
        if (take)
            memcpy (self->buf + self->have, data, take);
        self->have += take;
        *used = take;
        if (self->have < S_HEADER)
            return 0;
    }
    uint32_t payload = s_get32 (self->buf + 3);
    if (payload > self->frame_max - MESHQ_AMQP_FRAME_OVERHEAD) {
        event->channel = s_get16 (self->buf + 1);
        return s_fail (self, event, MESHQ_ETOOBIG, AMQP_FRAME_ERROR,
                       "FRAME_ERROR - frame larger than frame_max");
    }
    size_t whole = S_HEADER + (size_t)payload + 1;
    if (s_reserve (self, whole))
        return s_fail (self, event, MESHQ_ENOMEM, AMQP_INTERNAL_ERROR,
                       "INTERNAL_ERROR - out of memory");
    size_t take = whole - self->have;
    if (take > size - *used)
        take = size - *used;
    if (take)
        memcpy (self->buf + self->have, data + *used, take);
    self->have += take;
    *used += take;
    if (self->have < whole)
        return 0;
    self->have = 0;
    return s_frame (self, self->buf, payload, event);
}
