/*  codec_headers.c - header maps in msgpack. See codec_headers.h.

    The envelope's 'h' and a header binding's match arguments share this
    code, so that both check, write and read headers the same way.
    Encoding uses msgpack-c's packer, which always writes the shortest
    form; decoding uses codec_reader, which accepts nothing else.
*/
#include "codec_headers.h"
#include "codec_fields.h"

#include <msgpack.h>
#include <string.h>

static const char *s_hkey_why[MESHQ_RERR_COUNT] =
    MESHQ_CODEC_REASONS ("header key");
static const char *s_hvalue_why[MESHQ_RERR_COUNT] =
    MESHQ_CODEC_REASONS ("header value");

static int
s_fail (meshq_reader_t *reader, int rc, const char *const *reasons,
        const char **why)
{
    *why = reasons[reader->error];
    return rc;
}

static int
s_check_header (const meshq_header_t *header, const char **why)
{
    const meshq_value_t *value = &header->value;
    if (header->key.size > MESHQ_MAX_SHORTSTR) {
        *why = "header key: longer than 255 bytes";
        return MESHQ_ETOOBIG;
    }
    if (!meshq_utf8_valid (header->key.data, header->key.size)) {
        *why = "header key: not valid UTF-8";
        return MESHQ_EINVAL;
    }
    if (value->type > MESHQ_VALUE_BIN) {
        *why = "header value: unknown type";
        return MESHQ_EINVAL;
    }
    if (value->type < MESHQ_VALUE_STR)
        return 0;
    if (value->u.bytes.size > MESHQ_MAX_HEADER_VALUE) {
        *why = "header value: longer than 65535 bytes";
        return MESHQ_ETOOBIG;
    }
    if (value->type == MESHQ_VALUE_STR &&
        !meshq_utf8_valid (value->u.bytes.data, value->u.bytes.size)) {
        *why = "header value: not valid UTF-8";
        return MESHQ_EINVAL;
    }
    return 0;
}

int
meshq_codec_check_headers (const meshq_header_t *headers, uint32_t count,
                           const char *too_many, const char *duplicate,
                           const char **why)
{
    if (count > MESHQ_MAX_HEADERS) {
        *why = too_many;
        return MESHQ_ETOOBIG;
    }
    for (uint32_t i = 0; i < count; i++) {
        int rc = s_check_header (&headers[i], why);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (meshq_span_equal (headers[i].key, headers[j].key)) {
                *why = duplicate;
                return MESHQ_EDUPKEY;
            }
    }
    return 0;
}

static int
s_write (void *data, const char *buf, size_t len)
{
    return meshq_buf_append ((meshq_buf_t *)data, buf, len) ? -1 : 0;
}

static int
s_pack_value (msgpack_packer *pk, const meshq_value_t *value)
{
    switch (value->type) {
        case MESHQ_VALUE_NIL:
            return msgpack_pack_nil (pk);
        case MESHQ_VALUE_BOOL:
            return value->u.boolean ? msgpack_pack_true (pk)
                                    : msgpack_pack_false (pk);
        case MESHQ_VALUE_INT:
            return msgpack_pack_int64 (pk, value->u.integer);
        case MESHQ_VALUE_DOUBLE:
            return msgpack_pack_double (pk, value->u.number);
        case MESHQ_VALUE_STR:
            return msgpack_pack_str_with_body (pk, value->u.bytes.data,
                                               value->u.bytes.size);
        case MESHQ_VALUE_BIN:
            return msgpack_pack_bin_with_body (pk, value->u.bytes.data,
                                               value->u.bytes.size);
    }
    return -1;
}

int
meshq_codec_write_headers (meshq_buf_t *out, const meshq_header_t *headers,
                           uint32_t count)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, s_write);
    int failed = 0;
    for (uint32_t i = 0; i < count; i++) {
        failed |= msgpack_pack_str_with_body (&pk, headers[i].key.data,
                                              headers[i].key.size);
        failed |= s_pack_value (&pk, &headers[i].value);
    }
    return failed ? MESHQ_ENOMEM : 0;
}

int
meshq_codec_encode_headers (const meshq_header_t *headers, uint32_t count,
                            meshq_buf_t *out, const char **why)
{
    int rc = meshq_codec_check_headers (headers, count,
                                        "headers: more than 128 entries",
                                        "headers: duplicate key", why);
    if (rc)
        return rc;
    size_t start = out->size;
    if (meshq_codec_write_headers (out, headers, count)) {
        out->size = start;
        *why = "headers: out of memory";
        return MESHQ_ENOMEM;
    }
    return 0;
}

//  Reads one header value into value.
static int
s_read_value (meshq_reader_t *reader, meshq_value_t *value)
{
    meshq_mptype_t type;
    int rc = meshq_reader_peek (reader, &type);
    if (rc)
        return rc;
    uint32_t size;
    switch (type) {
        case MESHQ_MP_NIL:
            value->type = MESHQ_VALUE_NIL;
            return meshq_reader_nil (reader);
        case MESHQ_MP_BOOL:
            value->type = MESHQ_VALUE_BOOL;
            return meshq_reader_bool (reader, &value->u.boolean);
        case MESHQ_MP_UINT:
        case MESHQ_MP_INT:
            value->type = MESHQ_VALUE_INT;
            return meshq_reader_int (reader, &value->u.integer);
        case MESHQ_MP_FLOAT32:
        case MESHQ_MP_FLOAT64:
            value->type = MESHQ_VALUE_DOUBLE;
            return meshq_reader_double (reader, &value->u.number);
        case MESHQ_MP_STR: {
            const char *data;
            value->type = MESHQ_VALUE_STR;
            rc =
                meshq_reader_str (reader, MESHQ_MAX_HEADER_VALUE, &data, &size);
            value->u.bytes.data = data;
            value->u.bytes.size = size;
            return rc;
        }
        case MESHQ_MP_BIN:
            value->type = MESHQ_VALUE_BIN;
            rc = meshq_reader_bin (reader, MESHQ_MAX_HEADER_VALUE,
                                   &value->u.bytes.data, &size);
            value->u.bytes.size = size;
            return rc;
        default:
            //  Let the reader name it: a type error.
            return meshq_reader_nil (reader);
    }
}

//  Reads one header entry.
static int
s_read_header (meshq_reader_t *reader, meshq_header_t *header, const char **why)
{
    int rc = meshq_reader_str (reader, MESHQ_MAX_SHORTSTR, &header->key.data,
                               &header->key.size);
    if (rc)
        return s_fail (reader, rc, s_hkey_why, why);
    rc = s_read_value (reader, &header->value);
    if (rc)
        return s_fail (reader, rc, s_hvalue_why, why);
    return 0;
}

int
meshq_codec_read_headers (meshq_reader_t *reader, meshq_span_t *raw,
                          uint32_t *count, const char *const *reasons,
                          const char **why)
{
    uint32_t entries;
    int rc = meshq_reader_map (reader, MESHQ_MAX_HEADERS, &entries);
    if (rc)
        return s_fail (reader, rc, reasons, why);
    raw->data = (const char *)reader->pos;
    //  Keys seen so far, to refuse duplicates.
    meshq_span_t keys[MESHQ_MAX_HEADERS];
    for (uint32_t i = 0; i < entries; i++) {
        meshq_header_t header;
        rc = s_read_header (reader, &header, why);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (meshq_span_equal (keys[j], header.key)) {
                *why = reasons[MESHQ_RERR_COUNT];
                return MESHQ_EDUPKEY;
            }
        keys[i] = header.key;
    }
    raw->size = (uint32_t)((const char *)reader->pos - raw->data);
    *count = entries;
    return 0;
}

bool
meshq_codec_header_next (meshq_span_t *cursor, meshq_header_t *header)
{
    if (cursor->size == 0)
        return false;
    meshq_reader_t reader;
    meshq_reader_init (&reader, cursor->data, cursor->size);
    const char *why;
    //  The bytes were validated when the envelope was decoded.
    if (s_read_header (&reader, header, &why))
        return false;
    uint32_t used = (uint32_t)((const char *)reader.pos - cursor->data);
    cursor->data += used;
    cursor->size -= used;
    return true;
}
