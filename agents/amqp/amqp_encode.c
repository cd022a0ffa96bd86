/*  amqp_encode.c - whole AMQP 0-9-1 frames into a caller's buffer.

    The arguments and properties are rabbitmq-c's to encode; the frame
    around them (type, channel, size, frame-end) and the split of a body
    at frame_max are ours.
*/
#include "amqp_wire.h"
#include "meshq.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#define S_HEADER    7
#define S_FRAME_END 0xCE

static void
s_put16 (uint8_t *p, uint16_t value)
{
    p[0] = (uint8_t)(value >> 8);
    p[1] = (uint8_t)value;
}

static void
s_put32 (uint8_t *p, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(value >> (24 - 8 * i));
}

//  The largest payload a frame may carry in cap bytes under frame_max:
//  0 means MESHQ_AMQP_FRAME_MAX, and no frame_max is below the spec's
//  frame-min-size, which every peer accepts.
static size_t
s_room (size_t cap, uint32_t frame_max)
{
    if (frame_max == 0 || frame_max > MESHQ_AMQP_FRAME_MAX)
        frame_max = MESHQ_AMQP_FRAME_MAX;
    if (frame_max < MESHQ_AMQP_FRAME_MIN)
        frame_max = MESHQ_AMQP_FRAME_MIN;
    size_t limit = frame_max < cap ? frame_max : cap;
    return limit < MESHQ_AMQP_FRAME_OVERHEAD
               ? 0
               : limit - MESHQ_AMQP_FRAME_OVERHEAD;
}

//  Writes the frame header and end around a payload of size bytes.
static size_t
s_close_frame (uint8_t *buf, uint8_t type, uint16_t channel, size_t size)
{
    buf[0] = type;
    s_put16 (buf + 1, channel);
    s_put32 (buf + 3, (uint32_t)size);
    buf[S_HEADER + size] = S_FRAME_END;
    return S_HEADER + size + 1;
}

ssize_t
meshq_amqp_encode_method (uint8_t *buf, size_t cap, uint32_t frame_max,
                          uint16_t channel, amqp_method_number_t id,
                          void *decoded)
{
    assert (buf);
    size_t room = s_room (cap, frame_max);
    if (room < 4)
        return MESHQ_ETOOBIG;
    s_put32 (buf + S_HEADER, id);
    amqp_bytes_t args = {room - 4, buf + S_HEADER + 4};
    int rc = amqp_encode_method (id, decoded, args);
    if (rc == AMQP_STATUS_BAD_AMQP_DATA || rc == AMQP_STATUS_TABLE_TOO_BIG)
        return MESHQ_ETOOBIG;
    if (rc < 0)
        return MESHQ_EINVAL;
    return (ssize_t)s_close_frame (buf, AMQP_FRAME_METHOD, channel,
                                   4 + (size_t)rc);
}

ssize_t
meshq_amqp_encode_header (uint8_t *buf, size_t cap, uint32_t frame_max,
                          uint16_t channel, uint64_t body_size,
                          amqp_basic_properties_t *properties)
{
    assert (buf);
    assert (properties);
    size_t room = s_room (cap, frame_max);
    if (room < 12)
        return MESHQ_ETOOBIG;
    uint8_t *payload = buf + S_HEADER;
    s_put16 (payload, AMQP_BASIC_CLASS);
    s_put16 (payload + 2, 0);
    s_put32 (payload + 4, (uint32_t)(body_size >> 32));
    s_put32 (payload + 8, (uint32_t)body_size);
    amqp_bytes_t props = {room - 12, payload + 12};
    int rc = amqp_encode_properties (AMQP_BASIC_CLASS, properties, props);
    if (rc == AMQP_STATUS_BAD_AMQP_DATA || rc == AMQP_STATUS_TABLE_TOO_BIG)
        return MESHQ_ETOOBIG;
    if (rc < 0)
        return MESHQ_EINVAL;
    return (ssize_t)s_close_frame (buf, AMQP_FRAME_HEADER, channel,
                                   12 + (size_t)rc);
}

size_t
meshq_amqp_body_frames_size (size_t size, uint32_t frame_max)
{
    size_t chunk = s_room (SIZE_MAX, frame_max);
    if (size > SIZE_MAX / 2)
        return SIZE_MAX;
    size_t frames = size / chunk + (size % chunk != 0);
    return size + frames * MESHQ_AMQP_FRAME_OVERHEAD;
}

ssize_t
meshq_amqp_encode_body (uint8_t *buf, size_t cap, uint32_t frame_max,
                        uint16_t channel, const void *body, size_t size)
{
    assert (buf);
    assert (body || size == 0);
    size_t total = meshq_amqp_body_frames_size (size, frame_max);
    if (total > cap || total > SSIZE_MAX)
        return MESHQ_ETOOBIG;
    size_t chunk = s_room (SIZE_MAX, frame_max);
    size_t written = 0;
    const uint8_t *from = body;
    while (size > 0) {
        size_t take = size < chunk ? size : chunk;
        memcpy (buf + written + S_HEADER, from, take);
        written +=
            s_close_frame (buf + written, AMQP_FRAME_BODY, channel, take);
        from += take;
        size -= take;
    }
    assert (written == total);
    return (ssize_t)written;
}

ssize_t
meshq_amqp_encode_heartbeat (uint8_t *buf, size_t cap)
{
    assert (buf);
    if (cap < MESHQ_AMQP_FRAME_OVERHEAD)
        return MESHQ_ETOOBIG;
    return (ssize_t)s_close_frame (buf, AMQP_FRAME_HEARTBEAT, 0, 0);
}
