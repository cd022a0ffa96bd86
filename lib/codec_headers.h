/*  codec_headers.h - header maps in msgpack: the envelope's 'h' and a
    header binding's match arguments.

    A header map has at most MESHQ_MAX_HEADERS entries, with distinct
    UTF-8 keys of up to 255 bytes and values that are nil, bool,
    integer, double, or str (UTF-8) or bin of up to 65535 bytes.
    Decoding validates the whole map and keeps its entries' bytes, which
    meshq_codec_header_next then reads one by one. Pure, like the rest
    of the codec.
*/
#ifndef MESHQ_CODEC_HEADERS_H_INCLUDED
#define MESHQ_CODEC_HEADERS_H_INCLUDED

#include "buf.h"
#include "codec_reader.h"
#include "envelope.h"

//  Checks count entries against everything the format cannot carry.
//  Returns 0, or MESHQ_ETOOBIG / MESHQ_EINVAL / MESHQ_EDUPKEY with *why
//  set to a static reason; too_many and duplicate are the caller's
//  reasons for more than MESHQ_MAX_HEADERS entries and a key twice.
int meshq_codec_check_headers (const meshq_header_t *headers, uint32_t count,
                               const char *too_many, const char *duplicate,
                               const char **why);

//  Appends count entries (without the map's own header) to out. They
//  must have passed meshq_codec_check_headers. Returns 0 or
//  MESHQ_ENOMEM, when out may hold part of them.
int meshq_codec_write_headers (meshq_buf_t *out, const meshq_header_t *headers,
                               uint32_t count);

//  Appends the entries of a header map (without the map's own header)
//  to out, after checking them as the envelope encoder does.
int meshq_codec_encode_headers (const meshq_header_t *headers, uint32_t count,
                                meshq_buf_t *out, const char **why);

//  Reads a map of header entries (the envelope's 'h', a binding's match
//  arguments): validates it and returns its entries' bytes in *raw and
//  their number in *count. reasons holds MESHQ_RERR_COUNT + 1 static
//  strings, the last for a duplicate key.
int meshq_codec_read_headers (meshq_reader_t *reader, meshq_span_t *raw,
                              uint32_t *count, const char *const *reasons,
                              const char **why);

//  Iterates the headers of a decoded envelope. *cursor starts as
//  envelope->headers_raw; each call fills header and returns true, and
//  false when none are left.
bool meshq_codec_header_next (meshq_span_t *cursor, meshq_header_t *header);

#endif
