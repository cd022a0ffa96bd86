/*  codec_json.h - msgpack to JSON, for the tools' --json output.

    Converts one msgpack value (as the agent writes its replies) to
    compact JSON text. Maps become objects (non-string keys are written
    as strings), bin becomes a lowercase hex string, nil null.
*/
#ifndef MESHQ_CODEC_JSON_H_INCLUDED
#define MESHQ_CODEC_JSON_H_INCLUDED

#include "buf.h"

//  Appends the JSON form of the msgpack value in data to out, followed
//  by a NUL (not counted in out->size). Returns 0 or a negative code for
//  input that is not one well-formed value.
int meshq_codec_json (const void *data, size_t size, meshq_buf_t *out);

#endif
