/*  codec_store.h - the durable store's bytes on disk.

    The store (agents/store/) keeps a directory of segment files and a
    MANIFEST naming them; docs/STORAGE.md specifies all three formats.
    This codec turns them into structs and back. Like every codec it is
    pure: bytes in, struct or code out, no I/O, no clock, no logging, so
    it can be fuzzed, and it trusts nothing it reads: every length is
    checked against the bytes present and a cap first.

    A record on disk is a 9-byte header (payload length, CRC-32C, type)
    and a msgpack payload. The CRC covers the length, the type and the
    payload, and starts from a per-segment seed derived from the store's
    random id and the segment number, so a record copied from another
    store or segment, or one embedded in a message body, never passes.
*/
#ifndef MESHQ_CODEC_STORE_H_INCLUDED
#define MESHQ_CODEC_STORE_H_INCLUDED

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  On-disk format version this code writes and reads.
#define MESHQ_STORE_FORMAT 1

//  Bytes of a segment header; records start here.
#define MESHQ_SEGMENT_HEADER 64

//  Bytes of a record header: length (4), CRC-32C (4), type (1).
#define MESHQ_RECORD_HEADER 9

//  Longest queue name or metadata key.
#define MESHQ_STORE_MAX_NAME 255

//  Largest envelope in an enqueue record (the agent's default maximum
//  message is 16 MiB; this leaves room for a raised one).
#define MESHQ_STORE_MAX_ENVELOPE (64u << 20)

//  Largest metadata value. The store keeps every live value in memory.
#define MESHQ_STORE_MAX_META (1u << 20)

//  Largest payload of any record: an envelope and its fields.
#define MESHQ_STORE_MAX_PAYLOAD (MESHQ_STORE_MAX_ENVELOPE + 1024)

//  Most segments a MANIFEST may list.
#define MESHQ_MANIFEST_MAX (1u << 20)

//  Bytes of a MANIFEST before its list of segment numbers, and after.
#define MESHQ_MANIFEST_HEAD 32
#define MESHQ_MANIFEST_TAIL 4

typedef enum {
    MESHQ_RECORD_ENQUEUE = 1,  //  A message stored for a queue.
    MESHQ_RECORD_ACK = 2,      //  The message is done with.
    MESHQ_RECORD_META = 3,     //  A versioned metadata value or tombstone.
} meshq_record_type_t;

//  One record, as a view: pointers borrow from the caller's bytes.
typedef struct {
    uint8_t type;           //  meshq_record_type_t.
    const char *name;       //  Queue (enqueue, ack) or key (meta).
    uint32_t name_size;     //  Bytes of name, at most 255.
    const uint8_t *origin;  //  16-byte origin node (enqueue, ack).
    uint64_t seq;           //  Origin's sequence (enqueue, ack).
    uint64_t ordinal;       //  Store-wide append order (enqueue).
    uint64_t version;       //  Metadata version (meta).
    const void *data;       //  Envelope, or meta value; NULL: tombstone.
    uint32_t size;          //  Bytes of data.
} meshq_record_t;

//  A segment's header.
typedef struct {
    uint32_t format;       //  Format version it was written with.
    uint8_t store_id[16];  //  The store it belongs to.
    uint64_t number;       //  Its segment number.
    uint64_t created;      //  Creation time, ms since 1970 (informative).
} meshq_segment_header_t;

//  A MANIFEST, as a view of its bytes.
typedef struct {
    uint32_t format;         //  Format version it was written with.
    uint8_t store_id[16];    //  The store's id.
    uint32_t count;          //  Segments listed.
    const uint8_t *numbers;  //  count little-endian uint64, ascending.
} meshq_manifest_t;

//  Returns the CRC seed of a segment: CRC-32C of the store id followed
//  by the segment number as 8 little-endian bytes.
uint32_t meshq_codec_segment_seed (const uint8_t store_id[16], uint64_t number);

//  Writes the MESHQ_SEGMENT_HEADER bytes of header (format is set).
void meshq_codec_encode_segment (const meshq_segment_header_t *header,
                                 uint8_t out[MESHQ_SEGMENT_HEADER]);

//  Reads a segment header from the first size bytes of a file. Returns
//  0; MESHQ_EMALFORMED if it is not a meshq segment; MESHQ_EVERSION for
//  a format newer than ours (header->format says which);
//  MESHQ_ETRUNCATED if size is short; MESHQ_ECORRUPT if its CRC fails.
//  *why gets a static reason.
int meshq_codec_decode_segment (const void *data, size_t size,
                                meshq_segment_header_t *header,
                                const char **why);

//  Appends a MANIFEST listing count ascending segment numbers. Returns 0,
//  MESHQ_ETOOBIG above MESHQ_MANIFEST_MAX, or MESHQ_ENOMEM.
int meshq_codec_encode_manifest (const uint8_t store_id[16],
                                 const uint64_t *numbers, uint32_t count,
                                 meshq_buf_t *out);

//  Reads a whole MANIFEST file. Returns 0 or, with a static *why,
//  MESHQ_EMALFORMED (not ours, or numbers not ascending), MESHQ_EVERSION,
//  MESHQ_ETRUNCATED / MESHQ_ETOOBIG (size does not match its count), or
//  MESHQ_ECORRUPT. The manifest borrows from data.
int meshq_codec_decode_manifest (const void *data, size_t size,
                                 meshq_manifest_t *manifest, const char **why);

//  Returns the i-th segment number of a decoded manifest.
uint64_t meshq_codec_manifest_number (const meshq_manifest_t *manifest,
                                      uint32_t i);

//  Returns the bytes meshq_codec_encode_record will append for record,
//  header included. The record must pass the encoder's checks.
size_t meshq_codec_record_size (const meshq_record_t *record);

//  Appends record, framed and checksummed from seed. Returns 0,
//  MESHQ_ENOMEM, or MESHQ_EINVAL / MESHQ_ETOOBIG for a record the format
//  cannot carry, with a static *why.
int meshq_codec_encode_record (const meshq_record_t *record, uint32_t seed,
                               meshq_buf_t *out, const char **why);

//  Checks the frame of the record that starts at data, size bytes being
//  available. Returns 0 and sets *frame_size if a whole record with a
//  good CRC is there; MESHQ_ETRUNCATED if size is less than the header
//  or than the length it claims (*frame_size is then what it claims, or
//  the header size); MESHQ_ETOOBIG for a length above the cap;
//  MESHQ_ETYPE for an unknown type; MESHQ_ECORRUPT for a CRC mismatch.
int meshq_codec_check_record (const void *data, size_t size, uint32_t seed,
                              size_t *frame_size);

//  Decodes the payload of a record whose frame, frame_size bytes at
//  data, passed meshq_codec_check_record. Returns 0, or a negative code
//  with a static *why. The record borrows from data.
int meshq_codec_decode_record (const void *data, size_t frame_size,
                               meshq_record_t *record, const char **why);

#endif
