/*  codec_store.c - segment headers, MANIFEST and records. See
    codec_store.h; docs/STORAGE.md is the specification.

    Headers and the MANIFEST are fixed little-endian layouts, so that a
    tool can find records without a msgpack library. Record payloads are
    msgpack arrays, encoded with msgpack-c's packer (always the shortest
    form) and decoded with codec_reader (which accepts nothing else).
*/
#include "codec_store.h"
#include "codec_reader.h"
#include "crc32c.h"
#include "meshq.h"

#include <msgpack.h>
#include <string.h>

static const char s_segment_magic[8] = {'M', 'E', 'S', 'H', 'Q', 'S', 'E', 'G'};
static const char s_manifest_magic[8] = {'M', 'E', 'S', 'H',
                                         'Q', 'M', 'A', 'N'};

static void
s_put32 (uint8_t *p, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(value >> (8 * i));
}

static void
s_put64 (uint8_t *p, uint64_t value)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(value >> (8 * i));
}

static uint32_t
s_get32 (const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t
s_get64 (const uint8_t *p)
{
    return (uint64_t)s_get32 (p) | (uint64_t)s_get32 (p + 4) << 32;
}

//  True if the size bytes at data could be the start of magic.
static bool
s_magic_prefix (const void *data, size_t size, const char magic[8])
{
    return memcmp (data, magic, size < 8 ? size : 8) == 0;
}

// --------------------------------------------------------------------
//  Segment headers

uint32_t
meshq_codec_segment_seed (const uint8_t store_id[16], uint64_t number)
{
    uint8_t bytes[24];
    memcpy (bytes, store_id, 16);
    s_put64 (bytes + 16, number);
    return meshq_crc32c (0, bytes, sizeof bytes);
}

void
meshq_codec_encode_segment (const meshq_segment_header_t *header,
                            uint8_t out[MESHQ_SEGMENT_HEADER])
{
    memset (out, 0, MESHQ_SEGMENT_HEADER);
    memcpy (out, s_segment_magic, 8);
    s_put32 (out + 8, MESHQ_STORE_FORMAT);
    s_put32 (out + 12, MESHQ_SEGMENT_HEADER);
    memcpy (out + 16, header->store_id, 16);
    s_put64 (out + 32, header->number);
    s_put64 (out + 40, header->created);
    s_put32 (out + 60, meshq_crc32c (0, out, 60));
}

int
meshq_codec_decode_segment (const void *data, size_t size,
                            meshq_segment_header_t *header, const char **why)
{
    const uint8_t *p = data;
    memset (header, 0, sizeof *header);
    if (!s_magic_prefix (data, size, s_segment_magic)) {
        *why = "segment header: not a meshq segment (bad magic)";
        return MESHQ_EMALFORMED;
    }
    if (size < 12) {
        *why = "segment header: file shorter than its header";
        return MESHQ_ETRUNCATED;
    }
    //  The version comes before anything whose layout it could change.
    header->format = s_get32 (p + 8);
    if (header->format > MESHQ_STORE_FORMAT) {
        *why = "segment header: format newer than this build reads";
        return MESHQ_EVERSION;
    }
    if (header->format == 0) {
        *why = "segment header: format 0 does not exist";
        return MESHQ_EMALFORMED;
    }
    if (size < MESHQ_SEGMENT_HEADER) {
        *why = "segment header: file shorter than its header";
        return MESHQ_ETRUNCATED;
    }
    if (s_get32 (p + 60) != meshq_crc32c (0, p, 60)) {
        *why = "segment header: CRC mismatch";
        return MESHQ_ECORRUPT;
    }
    if (s_get32 (p + 12) != MESHQ_SEGMENT_HEADER) {
        *why = "segment header: header size is not 64";
        return MESHQ_EMALFORMED;
    }
    memcpy (header->store_id, p + 16, 16);
    header->number = s_get64 (p + 32);
    header->created = s_get64 (p + 40);
    return 0;
}

// --------------------------------------------------------------------
//  MANIFEST

int
meshq_codec_encode_manifest (const uint8_t store_id[16],
                             const uint64_t *numbers, uint32_t count,
                             meshq_buf_t *out)
{
    if (count > MESHQ_MANIFEST_MAX)
        return MESHQ_ETOOBIG;
    size_t size = MESHQ_MANIFEST_HEAD + (size_t)count * 8 + MESHQ_MANIFEST_TAIL;
    if (meshq_buf_reserve (out, size))
        return MESHQ_ENOMEM;
    uint8_t *p = out->data + out->size;
    memcpy (p, s_manifest_magic, 8);
    s_put32 (p + 8, MESHQ_STORE_FORMAT);
    s_put32 (p + 12, count);
    memcpy (p + 16, store_id, 16);
    for (uint32_t i = 0; i < count; i++)
        s_put64 (p + MESHQ_MANIFEST_HEAD + 8 * (size_t)i, numbers[i]);
    size_t body = size - MESHQ_MANIFEST_TAIL;
    s_put32 (p + body, meshq_crc32c (0, p, body));
    out->size += size;
    return 0;
}

int
meshq_codec_decode_manifest (const void *data, size_t size,
                             meshq_manifest_t *manifest, const char **why)
{
    const uint8_t *p = data;
    memset (manifest, 0, sizeof *manifest);
    if (!s_magic_prefix (data, size, s_manifest_magic)) {
        *why = "MANIFEST: not a meshq manifest (bad magic)";
        return MESHQ_EMALFORMED;
    }
    if (size < 16) {
        *why = "MANIFEST: shorter than its header";
        return MESHQ_ETRUNCATED;
    }
    manifest->format = s_get32 (p + 8);
    if (manifest->format > MESHQ_STORE_FORMAT) {
        *why = "MANIFEST: format newer than this build reads";
        return MESHQ_EVERSION;
    }
    if (manifest->format == 0) {
        *why = "MANIFEST: format 0 does not exist";
        return MESHQ_EMALFORMED;
    }
    uint32_t count = s_get32 (p + 12);
    if (count > MESHQ_MANIFEST_MAX) {
        *why = "MANIFEST: lists more segments than allowed";
        return MESHQ_ETOOBIG;
    }
    size_t expect =
        MESHQ_MANIFEST_HEAD + (size_t)count * 8 + MESHQ_MANIFEST_TAIL;
    if (size < expect) {
        *why = "MANIFEST: shorter than its segment count says";
        return MESHQ_ETRUNCATED;
    }
    if (size > expect) {
        *why = "MANIFEST: bytes after its end";
        return MESHQ_EMALFORMED;
    }
    if (s_get32 (p + expect - 4) != meshq_crc32c (0, p, expect - 4)) {
        *why = "MANIFEST: CRC mismatch";
        return MESHQ_ECORRUPT;
    }
    uint64_t last = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t number = s_get64 (p + MESHQ_MANIFEST_HEAD + 8 * (size_t)i);
        if (number <= last) {
            *why = "MANIFEST: segment numbers not ascending";
            return MESHQ_EMALFORMED;
        }
        last = number;
    }
    memcpy (manifest->store_id, p + 16, 16);
    manifest->count = count;
    manifest->numbers = p + MESHQ_MANIFEST_HEAD;
    return 0;
}

uint64_t
meshq_codec_manifest_number (const meshq_manifest_t *manifest, uint32_t i)
{
    return s_get64 (manifest->numbers + 8 * (size_t)i);
}

// --------------------------------------------------------------------
//  Records

//  Shortest msgpack sizes, as the packer writes them.
static size_t
s_str_size (size_t n)
{
    return (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5) + n;
}

static size_t
s_bin_size (size_t n)
{
    return (n < 256 ? 2 : n < 65536 ? 3 : 5) + n;
}

static size_t
s_uint_size (uint64_t v)
{
    return v < 128 ? 1 : v < 256 ? 2 : v < 65536 ? 3 : v >> 32 == 0 ? 5 : 9;
}

size_t
meshq_codec_record_size (const meshq_record_t *record)
{
    size_t size = MESHQ_RECORD_HEADER + 1 + s_str_size (record->name_size);
    switch (record->type) {
        case MESHQ_RECORD_ENQUEUE:
            size += s_bin_size (16) + s_uint_size (record->seq) +
                    s_uint_size (record->ordinal) + s_bin_size (record->size);
            break;
        case MESHQ_RECORD_ACK:
            size += s_bin_size (16) + s_uint_size (record->seq);
            break;
        default:
            size += s_uint_size (record->version) +
                    (record->data ? s_bin_size (record->size) : 1);
            break;
    }
    return size;
}

static int
s_write (void *data, const char *buf, size_t len)
{
    return meshq_buf_append ((meshq_buf_t *)data, buf, len) ? -1 : 0;
}

static int
s_check (const meshq_record_t *record, const char **why)
{
    if (record->type < MESHQ_RECORD_ENQUEUE ||
        record->type > MESHQ_RECORD_META) {
        *why = "record: unknown type";
        return MESHQ_EINVAL;
    }
    if (record->name_size > MESHQ_STORE_MAX_NAME) {
        *why = record->type == MESHQ_RECORD_META
                   ? "record: key longer than 255 bytes"
                   : "record: queue name longer than 255 bytes";
        return MESHQ_ETOOBIG;
    }
    if (!meshq_utf8_valid (record->name, record->name_size)) {
        *why = record->type == MESHQ_RECORD_META
                   ? "record: key not valid UTF-8"
                   : "record: queue name not valid UTF-8";
        return MESHQ_EINVAL;
    }
    if (record->type != MESHQ_RECORD_META && !record->origin) {
        *why = "record: no origin";
        return MESHQ_EINVAL;
    }
    if (record->type == MESHQ_RECORD_ENQUEUE &&
        record->size > MESHQ_STORE_MAX_ENVELOPE) {
        *why = "record: envelope above the store's 64 MiB maximum";
        return MESHQ_ETOOBIG;
    }
    if (record->type == MESHQ_RECORD_META && record->data &&
        record->size > MESHQ_STORE_MAX_META) {
        *why = "record: metadata value above the 1 MiB maximum";
        return MESHQ_ETOOBIG;
    }
    return 0;
}

int
meshq_codec_encode_record (const meshq_record_t *record, uint32_t seed,
                           meshq_buf_t *out, const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    int rc = s_check (record, why);
    if (rc)
        return rc;
    size_t size = meshq_codec_record_size (record);
    if (meshq_buf_reserve (out, size)) {
        *why = "record: out of memory";
        return MESHQ_ENOMEM;
    }
    size_t start = out->size;
    uint8_t header[MESHQ_RECORD_HEADER] = {0};
    header[8] = record->type;
    meshq_buf_append (out, header, sizeof header);

    msgpack_packer pk;
    msgpack_packer_init (&pk, out, s_write);
    int failed = 0;
    failed |=
        msgpack_pack_array (&pk, record->type == MESHQ_RECORD_ENQUEUE ? 5 : 3);
    failed |= msgpack_pack_str_with_body (&pk, record->name, record->name_size);
    switch (record->type) {
        case MESHQ_RECORD_ENQUEUE:
            failed |= msgpack_pack_bin_with_body (&pk, record->origin, 16);
            failed |= msgpack_pack_uint64 (&pk, record->seq);
            failed |= msgpack_pack_uint64 (&pk, record->ordinal);
            failed |=
                msgpack_pack_bin_with_body (&pk, record->data, record->size);
            break;
        case MESHQ_RECORD_ACK:
            failed |= msgpack_pack_bin_with_body (&pk, record->origin, 16);
            failed |= msgpack_pack_uint64 (&pk, record->seq);
            break;
        default:
            failed |= msgpack_pack_uint64 (&pk, record->version);
            if (record->data)
                failed |= msgpack_pack_bin_with_body (&pk, record->data,
                                                      record->size);
            else
                failed |= msgpack_pack_nil (&pk);
            break;
    }
    //  The room was reserved, so the packer cannot fail; a size that
    //  differs from the computed one would be our bug.
    if (failed || out->size - start != size) {
        out->size = start;
        *why = "record: encoder disagrees with its size";
        return MESHQ_ENOMEM;
    }
    uint8_t *p = out->data + start;
    uint32_t length = (uint32_t)(size - MESHQ_RECORD_HEADER);
    s_put32 (p, length);
    uint32_t crc = meshq_crc32c (seed, p, 4);
    s_put32 (p + 4, meshq_crc32c (crc, p + 8, 1 + (size_t)length));
    return 0;
}

int
meshq_codec_check_record (const void *data, size_t size, uint32_t seed,
                          size_t *frame_size)
{
    const uint8_t *p = data;
    *frame_size = MESHQ_RECORD_HEADER;
    if (size < MESHQ_RECORD_HEADER)
        return MESHQ_ETRUNCATED;
    uint8_t type = p[8];
    if (type < MESHQ_RECORD_ENQUEUE || type > MESHQ_RECORD_META)
        return MESHQ_ETYPE;
    uint32_t length = s_get32 (p);
    if (length > MESHQ_STORE_MAX_PAYLOAD)
        return MESHQ_ETOOBIG;
    *frame_size = MESHQ_RECORD_HEADER + (size_t)length;
    if (size < *frame_size)
        return MESHQ_ETRUNCATED;
    uint32_t crc = meshq_crc32c (seed, p, 4);
    crc = meshq_crc32c (crc, p + 8, 1 + (size_t)length);
    if (crc != s_get32 (p + 4))
        return MESHQ_ECORRUPT;
    return 0;
}

//  Reads the origin: a bin of exactly 16 bytes.
static int
s_read_origin (meshq_reader_t *reader, const uint8_t **origin)
{
    const void *data;
    uint32_t size;
    int rc = meshq_reader_bin (reader, 16, &data, &size);
    if (rc == 0 && size != 16)
        rc = MESHQ_ERANGE;
    *origin = data;
    return rc;
}

int
meshq_codec_decode_record (const void *data, size_t frame_size,
                           meshq_record_t *record, const char **why)
{
    const uint8_t *p = data;
    memset (record, 0, sizeof *record);
    if (frame_size < MESHQ_RECORD_HEADER ||
        frame_size - MESHQ_RECORD_HEADER != s_get32 (p)) {
        *why = "record: frame size does not match its length";
        return MESHQ_EMALFORMED;
    }
    record->type = p[8];
    meshq_reader_t reader;
    meshq_reader_init (&reader, p + MESHQ_RECORD_HEADER,
                       frame_size - MESHQ_RECORD_HEADER);
    uint32_t count;
    uint32_t expect = record->type == MESHQ_RECORD_ENQUEUE ? 5 : 3;
    int rc = meshq_reader_array (&reader, expect, &count);
    if (rc || count != expect) {
        *why = "record: payload is not an array of the type's fields";
        return rc ? rc : MESHQ_EMALFORMED;
    }
    rc = meshq_reader_str (&reader, MESHQ_STORE_MAX_NAME, &record->name,
                           &record->name_size);
    if (rc) {
        *why = "record: bad queue name or key";
        return rc;
    }
    const void *bytes = NULL;
    switch (record->type) {
        case MESHQ_RECORD_ENQUEUE:
            if ((rc = s_read_origin (&reader, &record->origin))) {
                *why = "enqueue record: bad origin";
                return rc;
            }
            if ((rc = meshq_reader_uint (&reader, UINT64_MAX, &record->seq))) {
                *why = "enqueue record: bad sequence";
                return rc;
            }
            if ((rc = meshq_reader_uint (&reader, UINT64_MAX,
                                         &record->ordinal))) {
                *why = "enqueue record: bad ordinal";
                return rc;
            }
            if ((rc = meshq_reader_bin (&reader, MESHQ_STORE_MAX_ENVELOPE,
                                        &bytes, &record->size))) {
                *why = "enqueue record: bad envelope";
                return rc;
            }
            record->data = bytes;
            break;
        case MESHQ_RECORD_ACK:
            if ((rc = s_read_origin (&reader, &record->origin))) {
                *why = "ack record: bad origin";
                return rc;
            }
            if ((rc = meshq_reader_uint (&reader, UINT64_MAX, &record->seq))) {
                *why = "ack record: bad sequence";
                return rc;
            }
            break;
        case MESHQ_RECORD_META: {
            if ((rc = meshq_reader_uint (&reader, UINT64_MAX,
                                         &record->version))) {
                *why = "meta record: bad version";
                return rc;
            }
            meshq_mptype_t type;
            if ((rc = meshq_reader_peek (&reader, &type))) {
                *why = "meta record: value missing";
                return rc;
            }
            if (type == MESHQ_MP_NIL)
                rc = meshq_reader_nil (&reader);
            else {
                rc = meshq_reader_bin (&reader, MESHQ_STORE_MAX_META, &bytes,
                                       &record->size);
                //  A present value is never NULL, even when empty.
                record->data = bytes;
            }
            if (rc) {
                *why = "meta record: bad value";
                return rc;
            }
            break;
        }
        default:
            *why = "record: unknown type";
            return MESHQ_ETYPE;
    }
    if (meshq_reader_left (&reader)) {
        *why = "record: bytes after the payload";
        return MESHQ_EMALFORMED;
    }
    return 0;
}
