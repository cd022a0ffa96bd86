/*  envelope.h - the message envelope as the codec sees it.

    A meshq_envelope_t is a view: its strings, body and headers point into
    memory someone else owns (the frame it was decoded from, or the
    meshq_msg_t it was built from). The agent decodes into one on the hot
    path without copying or allocating; meshq_msg_t copies out of one.
    docs/PROTOCOL.md specifies the encoding.
*/
#ifndef MESHQ_ENVELOPE_H_INCLUDED
#define MESHQ_ENVELOPE_H_INCLUDED

#include "meshq.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

//  Envelope format version this code writes and reads.
#define MESHQ_ENVELOPE_VERSION 1

//  Unknown keys a newer writer may add that we keep and re-emit.
#define MESHQ_ENVELOPE_MAX_UNKNOWN 32

//  A borrowed byte range.
typedef struct {
    const char *data;  //  First byte; NULL when absent.
    uint32_t size;     //  Number of bytes.
} meshq_span_t;

//  A span over a NUL-terminated string (NULL gives an absent span).
static inline meshq_span_t
meshq_span (const char *string)
{
    meshq_span_t span = {string, string ? (uint32_t)strlen (string) : 0};
    return span;
}

//  True if two spans hold the same bytes.
static inline bool
meshq_span_equal (meshq_span_t a, meshq_span_t b)
{
    return a.size == b.size &&
           (a.size == 0 || memcmp (a.data, b.data, a.size) == 0);
}

//  A header entry: key and value, both borrowed.
typedef struct {
    meshq_span_t key;     //  UTF-8 key.
    meshq_value_t value;  //  Value; str/bin bytes are borrowed.
} meshq_header_t;

//  Fields, in canonical key order. A bit per field in 'present'.
typedef enum {
    MESHQ_F_VERSION,
    MESHQ_F_ORIGIN,
    MESHQ_F_SEQ,
    MESHQ_F_EXCHANGE,
    MESHQ_F_ROUTING_KEY,
    MESHQ_F_CONTENT_TYPE,
    MESHQ_F_CONTENT_ENCODING,
    MESHQ_F_HEADERS,
    MESHQ_F_PRIORITY,
    MESHQ_F_TIMESTAMP,
    MESHQ_F_EXPIRATION,
    MESHQ_F_CORRELATION_ID,
    MESHQ_F_REPLY_TO,
    MESHQ_F_USER_ID,
    MESHQ_F_APP_ID,
    MESHQ_F_DELIVERY_MODE,
    MESHQ_F_REDELIVERY_COUNT,
    MESHQ_F_BODY,
    MESHQ_F_COUNT
} meshq_field_t;

//  The string-valued fields in field order, for loops over them.
#define MESHQ_F_IS_STRING(f)                                                   \
    ((f) == MESHQ_F_EXCHANGE || (f) == MESHQ_F_ROUTING_KEY ||                  \
     (f) == MESHQ_F_CONTENT_TYPE || (f) == MESHQ_F_CONTENT_ENCODING ||         \
     (f) == MESHQ_F_CORRELATION_ID || (f) == MESHQ_F_REPLY_TO ||               \
     (f) == MESHQ_F_USER_ID || (f) == MESHQ_F_APP_ID)

typedef struct {
    uint32_t present;    //  Bit (1 << meshq_field_t) per field present.
    uint8_t origin[16];  //  Origin node id (MESHQ_F_ORIGIN).
    uint64_t seq;        //  Origin's sequence number (MESHQ_F_SEQ).
    meshq_span_t strings[MESHQ_F_COUNT];  //  String fields, by field.
    uint8_t priority;                     //  0..9.
    uint64_t timestamp;                   //  Milliseconds since the epoch.
    uint32_t expiration;                  //  TTL in milliseconds.
    uint8_t delivery_mode;      //  MESHQ_TRANSIENT or MESHQ_PERSISTENT.
    uint32_t redelivery_count;  //  Earlier deliveries.
    meshq_span_t body;          //  The body.
    //  Headers to encode: an array the caller owns.
    const meshq_header_t *headers;
    uint32_t header_count;  //  Entries, to encode or as decoded.
    //  Headers as decoded: the map's entries, validated, to be read with
    //  meshq_codec_header_next.
    meshq_span_t headers_raw;
    //  Key/value pairs of unknown keys, verbatim, after all known ones.
    meshq_span_t unknown;
    uint32_t unknown_count;  //  Pairs in 'unknown'.
} meshq_envelope_t;

#endif
