/*  codec_envelope.c - the message envelope in msgpack. See codec.h.

    docs/PROTOCOL.md is the specification; this file is its reference
    implementation. Encoding uses msgpack-c's packer, which always writes
    the shortest form; decoding uses codec_reader, which accepts nothing
    else. Keys come in the order of s_fields, unknown keys (from a newer
    writer) after the known ones, kept verbatim. The headers, 'h', are a
    header map, which codec_headers.c checks, writes and reads.
*/
#include "codec.h"
#include "codec_reader.h"

#include <msgpack.h>
#include <string.h>

//  Value kinds of the envelope's fields.
typedef enum {
    S_UINT,     //  Unsigned integer up to 'max'.
    S_STR,      //  UTF-8 string up to MESHQ_MAX_SHORTSTR bytes.
    S_ORIGIN,   //  bin of exactly 16 bytes.
    S_HEADERS,  //  Map of header entries.
    S_BODY,     //  bin up to max_body bytes.
} s_kind_t;

//  One reason per failure kind, for one field, as static strings.
#define S_REASONS_LIST(name)                                                   \
    name ": no failure", name ": truncated", name ": too long",                \
        name ": wrong type", name ": out of range",                            \
        name ": not in shortest form", name ": not valid UTF-8",               \
        name ": nested too deep", name ": invalid byte 0xc1"
#define S_REASONS(name)                                                        \
    {                                                                          \
        S_REASONS_LIST (name)                                                  \
    }

typedef struct {
    const char *key;                    //  Key on the wire.
    uint8_t key_size;                   //  strlen (key).
    s_kind_t kind;                      //  Value kind.
    uint64_t max;                       //  Largest value, for S_UINT.
    const char *why[MESHQ_RERR_COUNT];  //  Reasons, by meshq_rerr_t.
} s_field_t;

//  The fields in canonical order; indexed by meshq_field_t.
static const s_field_t s_fields[MESHQ_F_COUNT] = {
    {"v", 1, S_UINT, UINT64_MAX, S_REASONS ("v (version)")},
    {"o", 1, S_ORIGIN, 0, S_REASONS ("o (origin)")},
    {"s", 1, S_UINT, UINT64_MAX, S_REASONS ("s (sequence)")},
    {"x", 1, S_STR, 0, S_REASONS ("x (exchange)")},
    {"k", 1, S_STR, 0, S_REASONS ("k (routing key)")},
    {"ct", 2, S_STR, 0, S_REASONS ("ct (content type)")},
    {"ce", 2, S_STR, 0, S_REASONS ("ce (content encoding)")},
    {"h", 1, S_HEADERS, 0, S_REASONS ("h (headers)")},
    {"p", 1, S_UINT, MESHQ_MAX_PRIORITY, S_REASONS ("p (priority)")},
    {"t", 1, S_UINT, UINT64_MAX, S_REASONS ("t (timestamp)")},
    {"e", 1, S_UINT, UINT32_MAX, S_REASONS ("e (expiration)")},
    {"c", 1, S_STR, 0, S_REASONS ("c (correlation id)")},
    {"r", 1, S_STR, 0, S_REASONS ("r (reply-to)")},
    {"u", 1, S_STR, 0, S_REASONS ("u (user id)")},
    {"a", 1, S_STR, 0, S_REASONS ("a (app id)")},
    {"d", 1, S_UINT, MESHQ_PERSISTENT, S_REASONS ("d (delivery mode)")},
    {"n", 1, S_UINT, UINT32_MAX, S_REASONS ("n (redelivery count)")},
    {"b", 1, S_BODY, 0, S_REASONS ("b (body)")},
};

static const char *s_envelope_why[MESHQ_RERR_COUNT] = S_REASONS ("envelope");
//  Header map reasons, with the duplicate-key reason after the others.
static const char *s_headers_why[MESHQ_RERR_COUNT + 1] = {
    S_REASONS_LIST ("h (headers)"), "h (headers): duplicate key"};
static const char *s_key_why[MESHQ_RERR_COUNT] = S_REASONS ("envelope key");
static const char *s_unknown_why[MESHQ_RERR_COUNT] =
    S_REASONS ("unknown field");

//  Longest key we look at; longer ones are unknown by definition but
//  still bounded.
#define S_MAX_KEY 64

// --------------------------------------------------------------------
//  Encoding

static int
s_write (void *data, const char *buf, size_t len)
{
    return meshq_buf_append ((meshq_buf_t *)data, buf, len) ? -1 : 0;
}

static int
s_pack_str (msgpack_packer *pk, const char *data, size_t size)
{
    if (msgpack_pack_str (pk, size))
        return -1;
    return msgpack_pack_str_body (pk, data, size);
}

//  Checks everything the format cannot carry before writing a byte.
static int
s_check (const meshq_envelope_t *envelope, const char **why)
{
    uint32_t present = envelope->present;
    if (!!(present & (1u << MESHQ_F_ORIGIN)) !=
        !!(present & (1u << MESHQ_F_SEQ))) {
        *why = "o/s (message id): origin and sequence go together";
        return MESHQ_EINVAL;
    }
    for (int f = 0; f < MESHQ_F_COUNT; f++) {
        if (!(present & (1u << f)) || s_fields[f].kind != S_STR)
            continue;
        meshq_span_t value = envelope->strings[f];
        if (value.size > MESHQ_MAX_SHORTSTR) {
            *why = s_fields[f].why[MESHQ_RERR_TOOBIG];
            return MESHQ_ETOOBIG;
        }
        if (!meshq_utf8_valid (value.data, value.size)) {
            *why = s_fields[f].why[MESHQ_RERR_UTF8];
            return MESHQ_EINVAL;
        }
    }
    if ((present & (1u << MESHQ_F_PRIORITY)) &&
        envelope->priority > MESHQ_MAX_PRIORITY) {
        *why = s_fields[MESHQ_F_PRIORITY].why[MESHQ_RERR_RANGE];
        return MESHQ_ERANGE;
    }
    if ((present & (1u << MESHQ_F_DELIVERY_MODE)) &&
        envelope->delivery_mode != MESHQ_TRANSIENT &&
        envelope->delivery_mode != MESHQ_PERSISTENT) {
        *why = s_fields[MESHQ_F_DELIVERY_MODE].why[MESHQ_RERR_RANGE];
        return MESHQ_ERANGE;
    }
    if (present & (1u << MESHQ_F_HEADERS)) {
        int rc = meshq_codec_check_headers (
            envelope->headers, envelope->header_count,
            "h (headers): more than 128 entries", "h (headers): duplicate key",
            why);
        if (rc)
            return rc;
    }
    if (envelope->unknown_count > MESHQ_ENVELOPE_MAX_UNKNOWN) {
        *why = "envelope: too many unknown fields";
        return MESHQ_ETOOBIG;
    }
    return 0;
}

int
meshq_codec_encode_envelope (const meshq_envelope_t *envelope, meshq_buf_t *out,
                             const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    int rc = s_check (envelope, why);
    if (rc)
        return rc;
    //  The version is always written, whatever 'present' says.
    uint32_t present = envelope->present | 1u << MESHQ_F_VERSION;
    size_t fields = (size_t)__builtin_popcount (present);
    size_t room = 64 + envelope->body.size + envelope->unknown.size;
    for (int f = 0; f < MESHQ_F_COUNT; f++)
        room += envelope->strings[f].size + 8;
    for (uint32_t i = 0; i < envelope->header_count; i++)
        room += envelope->headers[i].key.size + 16 +
                (envelope->headers[i].value.type >= MESHQ_VALUE_STR
                     ? envelope->headers[i].value.u.bytes.size
                     : 0);
    if (meshq_buf_reserve (out, room))
        return MESHQ_ENOMEM;

    size_t start = out->size;
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, s_write);
    int failed = msgpack_pack_map (&pk, fields + envelope->unknown_count);
    for (int f = 0; f < MESHQ_F_COUNT && !failed; f++) {
        if (!(present & (1u << f)))
            continue;
        const s_field_t *field = &s_fields[f];
        failed |= s_pack_str (&pk, field->key, field->key_size);
        switch ((meshq_field_t)f) {
            case MESHQ_F_VERSION:
                failed |= msgpack_pack_uint64 (&pk, MESHQ_ENVELOPE_VERSION);
                break;
            case MESHQ_F_ORIGIN:
                failed |= msgpack_pack_bin (&pk, 16);
                failed |= msgpack_pack_bin_body (&pk, envelope->origin, 16);
                break;
            case MESHQ_F_SEQ:
                failed |= msgpack_pack_uint64 (&pk, envelope->seq);
                break;
            case MESHQ_F_HEADERS:
                failed |= msgpack_pack_map (&pk, envelope->header_count);
                failed |= meshq_codec_write_headers (out, envelope->headers,
                                                     envelope->header_count);
                break;
            case MESHQ_F_PRIORITY:
                failed |= msgpack_pack_uint64 (&pk, envelope->priority);
                break;
            case MESHQ_F_TIMESTAMP:
                failed |= msgpack_pack_uint64 (&pk, envelope->timestamp);
                break;
            case MESHQ_F_EXPIRATION:
                failed |= msgpack_pack_uint64 (&pk, envelope->expiration);
                break;
            case MESHQ_F_DELIVERY_MODE:
                failed |= msgpack_pack_uint64 (&pk, envelope->delivery_mode);
                break;
            case MESHQ_F_REDELIVERY_COUNT:
                failed |= msgpack_pack_uint64 (&pk, envelope->redelivery_count);
                break;
            case MESHQ_F_BODY:
                failed |= msgpack_pack_bin (&pk, envelope->body.size);
                failed |= msgpack_pack_bin_body (&pk, envelope->body.data,
                                                 envelope->body.size);
                break;
            default:  //  String fields.
                failed |= s_pack_str (&pk, envelope->strings[f].data,
                                      envelope->strings[f].size);
                break;
        }
    }
    if (!failed && envelope->unknown_count)
        failed = meshq_buf_append (out, envelope->unknown.data,
                                   envelope->unknown.size);
    if (failed) {
        out->size = start;
        *why = "envelope: out of memory";
        return MESHQ_ENOMEM;
    }
    return 0;
}

// --------------------------------------------------------------------
//  Decoding

//  Returns the field a key names, or MESHQ_F_COUNT if it is unknown.
//  Keys are one or two bytes, so a switch on their bytes replaces string
//  comparisons, which were a third of decoding time.
#define S_KEY2(a, b) ((uint16_t)((uint8_t)(a) | (uint8_t)(b) << 8))
static int
s_lookup (const char *key, uint32_t size)
{
    if (size == 0 || size > 2)
        return MESHQ_F_COUNT;
    uint16_t code = S_KEY2 (key[0], size == 2 ? key[1] : 0);
    switch (code) {
        case 'v':
            return MESHQ_F_VERSION;
        case 'o':
            return MESHQ_F_ORIGIN;
        case 's':
            return MESHQ_F_SEQ;
        case 'x':
            return MESHQ_F_EXCHANGE;
        case 'k':
            return MESHQ_F_ROUTING_KEY;
        case S_KEY2 ('c', 't'):
            return MESHQ_F_CONTENT_TYPE;
        case S_KEY2 ('c', 'e'):
            return MESHQ_F_CONTENT_ENCODING;
        case 'h':
            return MESHQ_F_HEADERS;
        case 'p':
            return MESHQ_F_PRIORITY;
        case 't':
            return MESHQ_F_TIMESTAMP;
        case 'e':
            return MESHQ_F_EXPIRATION;
        case 'c':
            return MESHQ_F_CORRELATION_ID;
        case 'r':
            return MESHQ_F_REPLY_TO;
        case 'u':
            return MESHQ_F_USER_ID;
        case 'a':
            return MESHQ_F_APP_ID;
        case 'd':
            return MESHQ_F_DELIVERY_MODE;
        case 'n':
            return MESHQ_F_REDELIVERY_COUNT;
        case 'b':
            return MESHQ_F_BODY;
        default:
            return MESHQ_F_COUNT;
    }
}

static int
s_fail (meshq_reader_t *reader, int rc, const char *const *reasons,
        const char **why)
{
    *why = reasons[reader->error];
    return rc;
}

//  Reads the value of known field f.
static int
s_read_field (meshq_reader_t *reader, int f, size_t max_body,
              meshq_envelope_t *envelope, const char **why)
{
    const s_field_t *field = &s_fields[f];
    uint64_t number = 0;
    uint32_t size;
    const void *data;
    int rc = 0;
    switch (field->kind) {
        case S_UINT:
            rc = meshq_reader_uint (reader, field->max, &number);
            break;
        case S_STR:
            rc = meshq_reader_str (reader, MESHQ_MAX_SHORTSTR,
                                   &envelope->strings[f].data,
                                   &envelope->strings[f].size);
            break;
        case S_ORIGIN:
            rc = meshq_reader_bin (reader, 16, &data, &size);
            if (rc == 0 && size != 16) {
                *why = "o (origin): not 16 bytes";
                return MESHQ_ERANGE;
            }
            if (rc == 0)
                memcpy (envelope->origin, data, 16);
            break;
        case S_HEADERS:
            envelope->headers = NULL;
            return meshq_codec_read_headers (reader, &envelope->headers_raw,
                                             &envelope->header_count,
                                             s_headers_why, why);
        case S_BODY: {
            uint32_t cap =
                max_body > UINT32_MAX ? UINT32_MAX : (uint32_t)max_body;
            rc = meshq_reader_bin (reader, cap, &data, &size);
            if (rc == MESHQ_ETOOBIG) {
                *why = "b (body): above the maximum message size";
                return MESHQ_EMSGSIZE;
            }
            envelope->body.data = data;
            envelope->body.size = size;
            break;
        }
    }
    if (rc)
        return s_fail (reader, rc, field->why, why);
    switch (f) {
        case MESHQ_F_VERSION:
            if (number != MESHQ_ENVELOPE_VERSION) {
                *why = "v (version): not a version this agent speaks (1)";
                return MESHQ_EVERSION;
            }
            break;
        case MESHQ_F_SEQ:
            envelope->seq = number;
            break;
        case MESHQ_F_PRIORITY:
            envelope->priority = (uint8_t)number;
            break;
        case MESHQ_F_TIMESTAMP:
            envelope->timestamp = number;
            break;
        case MESHQ_F_EXPIRATION:
            envelope->expiration = (uint32_t)number;
            break;
        case MESHQ_F_DELIVERY_MODE:
            if (number < MESHQ_TRANSIENT) {
                *why = field->why[MESHQ_RERR_RANGE];
                return MESHQ_ERANGE;
            }
            envelope->delivery_mode = (uint8_t)number;
            break;
        case MESHQ_F_REDELIVERY_COUNT:
            envelope->redelivery_count = (uint32_t)number;
            break;
        default:
            break;
    }
    return 0;
}

//  Reads a key of one or two ASCII bytes, as every known key is, in one
//  step: the general string reader costs a third of a decode. Returns
//  1 with *key set, or 0 (nothing read) for any other string.
static int
s_short_key (meshq_reader_t *reader, meshq_span_t *key)
{
    const uint8_t *pos = reader->pos;
    size_t left = (size_t)(reader->end - pos);
    if (left >= 2 && pos[0] == 0xa1 && pos[1] < 0x80) {
        key->data = (const char *)pos + 1;
        key->size = 1;
        reader->pos += 2;
        return 1;
    }
    if (left >= 3 && pos[0] == 0xa2 && pos[1] < 0x80 && pos[2] < 0x80) {
        key->data = (const char *)pos + 1;
        key->size = 2;
        reader->pos += 3;
        return 1;
    }
    return 0;
}

int
meshq_codec_decode_envelope (const void *data, size_t size, size_t max_body,
                             meshq_envelope_t *envelope, const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    memset (envelope, 0, sizeof *envelope);
    envelope->delivery_mode = MESHQ_PERSISTENT;

    meshq_reader_t reader;
    meshq_reader_init (&reader, data, size);
    uint32_t count;
    int rc = meshq_reader_map (
        &reader, MESHQ_F_COUNT + MESHQ_ENVELOPE_MAX_UNKNOWN, &count);
    if (rc)
        return s_fail (&reader, rc, s_envelope_why, why);

    meshq_span_t unknown_keys[MESHQ_ENVELOPE_MAX_UNKNOWN];
    int last = -1;  //  Last known field read, for the order check.
    for (uint32_t i = 0; i < count; i++) {
        const char *key_start = (const char *)reader.pos;
        meshq_span_t key;
        if (s_short_key (&reader, &key) == 0) {
            rc = meshq_reader_str (&reader, S_MAX_KEY, &key.data, &key.size);
            if (rc)
                return s_fail (&reader, rc, s_key_why, why);
        }
        int f = s_lookup (key.data, key.size);
        if (f < MESHQ_F_COUNT) {
            if (envelope->present & (1u << f)) {
                *why = "envelope: duplicate key";
                return MESHQ_EDUPKEY;
            }
            if (f < last || envelope->unknown_count) {
                *why = "envelope: keys not in canonical order";
                return MESHQ_EMALFORMED;
            }
            if (i == 0 && f != MESHQ_F_VERSION)
                break;  //  Reported below as a missing version.
            rc = s_read_field (&reader, f, max_body, envelope, why);
            if (rc)
                return rc;
            envelope->present |= 1u << f;
            last = f;
            continue;
        }
        if (i == 0)
            break;
        //  A key from a newer writer: keep the pair verbatim.
        for (uint32_t j = 0; j < envelope->unknown_count; j++)
            if (meshq_span_equal (unknown_keys[j], key)) {
                *why = "envelope: duplicate key";
                return MESHQ_EDUPKEY;
            }
        if (envelope->unknown_count == MESHQ_ENVELOPE_MAX_UNKNOWN) {
            *why = "envelope: too many unknown fields";
            return MESHQ_ETOOBIG;
        }
        rc = meshq_reader_skip (&reader, MESHQ_CODEC_MAX_DEPTH - 1,
                                MESHQ_MAX_HEADER_VALUE);
        if (rc)
            return s_fail (&reader, rc, s_unknown_why, why);
        if (envelope->unknown_count == 0)
            envelope->unknown.data = key_start;
        unknown_keys[envelope->unknown_count++] = key;
    }
    if (!(envelope->present & (1u << MESHQ_F_VERSION))) {
        *why = "v (version): missing or not the first key";
        return MESHQ_EMALFORMED;
    }
    if (envelope->unknown_count)
        envelope->unknown.size =
            (uint32_t)((const char *)reader.pos - envelope->unknown.data);
    if (meshq_reader_left (&reader)) {
        *why = "envelope: bytes after the end of the map";
        return MESHQ_EMALFORMED;
    }
    if (!!(envelope->present & (1u << MESHQ_F_ORIGIN)) !=
        !!(envelope->present & (1u << MESHQ_F_SEQ))) {
        *why = "o/s (message id): origin and sequence go together";
        return MESHQ_EMALFORMED;
    }
    return 0;
}
