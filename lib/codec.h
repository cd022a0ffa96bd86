/*  codec.h - encode and decode the message envelope.

    The codec is pure: bytes in, struct or code out. It keeps no state,
    touches no socket, clock or global and does not log, which is what
    lets it be fuzzed. Decoding never trusts its input (see
    codec_reader.h); a frame is accepted only in its canonical form, so
    a decoded envelope re-encodes to the very same bytes. Header maps,
    the envelope's 'h', are in codec_headers.h, which this includes.
*/
#ifndef MESHQ_CODEC_H_INCLUDED
#define MESHQ_CODEC_H_INCLUDED

#include "buf.h"
#include "codec_headers.h"
#include "codec_reader.h"
#include "envelope.h"

//  Appends the encoding of envelope to out. Returns 0, MESHQ_ENOMEM, or
//  MESHQ_EINVAL / MESHQ_ETOOBIG / MESHQ_ERANGE for a value the format
//  cannot carry, with *why naming it.
int meshq_codec_encode_envelope (const meshq_envelope_t *envelope,
                                 meshq_buf_t *out, const char **why);

//  Decodes one envelope that fills exactly size bytes. Returns 0, or a
//  negative code with *why set to a static reason such as
//  "priority: out of range". Bodies above max_body are MESHQ_EMSGSIZE.
//  The envelope borrows from data.
int meshq_codec_decode_envelope (const void *data, size_t size, size_t max_body,
                                 meshq_envelope_t *envelope, const char **why);

#endif
