/*  msg_frame.c - a message to and from its frame. See meshq_msg.h.

    Encoding fills the codec's envelope view from the message's fields
    and lets the envelope codec write it. Decoding copies everything the
    message keeps out of the frame into one allocation with the
    message, the arena, so that a decoded message costs one malloc.
*/
#include "meshq.h"
#include "buf.h"
#include "cache.h"
#include "codec.h"
#include "msg_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  Fills a codec view of the message.
static void
s_view (const meshq_msg_t *self, meshq_envelope_t *envelope)
{
    memset (envelope, 0, sizeof *envelope);
    envelope->present = self->present;
    memcpy (envelope->origin, self->origin, 16);
    envelope->seq = self->seq;
    memcpy (envelope->strings, self->strings, sizeof self->strings);
    envelope->priority = self->priority;
    envelope->timestamp = self->timestamp;
    envelope->expiration = self->expiration;
    envelope->delivery_mode = self->delivery_mode;
    envelope->redelivery_count = self->redelivery_count;
    envelope->body = self->body;
    envelope->headers = self->headers;
    envelope->header_count = self->header_count;
    envelope->unknown = self->unknown;
    envelope->unknown_count = self->unknown_count;
}

int
meshq_msg_encode (const meshq_msg_t *self, uint8_t **data_p, size_t *size_p)
{
    assert (self);
    assert (data_p && size_p);
    meshq_envelope_t envelope;
    s_view (self, &envelope);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    int rc = meshq_codec_encode_envelope (&envelope, &buf, NULL);
    if (rc) {
        meshq_buf_fini (&buf);
        return rc;
    }
    *data_p = meshq_buf_detach (&buf, size_p);
    return 0;
}

int
meshq_msg_encode_into (const meshq_msg_t *self, meshq_buf_t *out)
{
    assert (self);
    meshq_envelope_t envelope;
    s_view (self, &envelope);
    return meshq_codec_encode_envelope (&envelope, out, NULL);
}

//  Takes n bytes of the arena, copying data and a NUL there.
static const char *
s_take (char **cursor, const void *data, size_t size)
{
    char *start = *cursor;
    if (size)
        memcpy (start, data, size);
    start[size] = 0;
    *cursor += size + 1;
    return start;
}

int
meshq_msg_decode (const void *data, size_t size, size_t max_body,
                  meshq_msg_t **msg_p, const char **why)
{
    assert (msg_p);
    *msg_p = NULL;
    meshq_envelope_t envelope;
    int rc = meshq_codec_decode_envelope (
        data, size, max_body ? max_body : MESHQ_MAX_BODY_DEFAULT, &envelope,
        why);
    if (rc)
        return rc;

    //  One arena holds every string, header, the body and unknown pairs;
    //  its size is bounded by the frame's.
    size_t arena_size = envelope.header_count * sizeof (meshq_header_t) +
                        MESHQ_F_COUNT + envelope.header_count * 2 + 2 +
                        envelope.body.size + envelope.headers_raw.size +
                        envelope.unknown.size;
    for (int f = 0; f < MESHQ_F_COUNT; f++)
        arena_size += envelope.strings[f].size;
    //  The message and its arena are one allocation, of a thread's
    //  cache when small (a consumer decodes one a message).
    size_t capacity;
    meshq_msg_t *self =
        meshq_cache_alloc (sizeof *self + arena_size, &capacity);
    if (!self)
        return MESHQ_ENOMEM;
    memset (self, 0, sizeof *self);
    self->capacity = capacity;
    char *arena = (char *)(self + 1);
    self->arena = arena;
    self->arena_size = arena_size;
    self->present = envelope.present & ~(1u << MESHQ_F_VERSION);
    memcpy (self->origin, envelope.origin, 16);
    self->seq = envelope.seq;
    self->priority = envelope.priority;
    self->timestamp = envelope.timestamp;
    self->expiration = envelope.expiration;
    self->delivery_mode = envelope.delivery_mode;
    self->redelivery_count = envelope.redelivery_count;

    //  Headers first: the array must be aligned, and the arena is.
    char *cursor = arena;
    self->headers = (meshq_header_t *)cursor;
    cursor += envelope.header_count * sizeof (meshq_header_t);
    meshq_span_t raw = envelope.headers_raw;
    meshq_header_t header;
    while (meshq_codec_header_next (&raw, &header)) {
        header.key.data = s_take (&cursor, header.key.data, header.key.size);
        if (header.value.type == MESHQ_VALUE_STR ||
            header.value.type == MESHQ_VALUE_BIN)
            header.value.u.bytes.data = s_take (
                &cursor, header.value.u.bytes.data, header.value.u.bytes.size);
        self->headers[self->header_count++] = header;
    }
    assert (self->header_count == envelope.header_count);
    for (int f = 0; f < MESHQ_F_COUNT; f++)
        if (envelope.present & (1u << f) && MESHQ_F_IS_STRING (f)) {
            self->strings[f].data = s_take (&cursor, envelope.strings[f].data,
                                            envelope.strings[f].size);
            self->strings[f].size = envelope.strings[f].size;
        }
    if (envelope.present & (1u << MESHQ_F_BODY)) {
        self->body.data =
            s_take (&cursor, envelope.body.data, envelope.body.size);
        self->body.size = envelope.body.size;
    }
    if (envelope.unknown_count) {
        self->unknown.data =
            s_take (&cursor, envelope.unknown.data, envelope.unknown.size);
        self->unknown.size = envelope.unknown.size;
        self->unknown_count = envelope.unknown_count;
    }
    assert ((size_t)(cursor - arena) <= arena_size);
    *msg_p = self;
    return 0;
}
