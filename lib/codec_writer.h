/*  codec_writer.h - writes msgpack values into a buffer.

    The protocol and store codecs (lib/codec_*.c) build their frames with
    this writer, so that msgpack-c stays inside the codec files. It
    always writes the shortest form of each value. Errors are sticky:
    write everything, then check meshq_writer_error once.
*/
#ifndef MESHQ_CODEC_WRITER_H_INCLUDED
#define MESHQ_CODEC_WRITER_H_INCLUDED

#include "buf.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    meshq_buf_t *out;  //  Where bytes go; borrowed.
    int error;         //  0, or the first failure (MESHQ_ENOMEM).
} meshq_writer_t;

//  Starts writing at the end of out.
void meshq_writer_init (meshq_writer_t *self, meshq_buf_t *out);

//  Container headers: count entries (pairs for a map) must follow.
void meshq_writer_map (meshq_writer_t *self, uint32_t count);
void meshq_writer_array (meshq_writer_t *self, uint32_t count);

//  Scalars and byte strings.
void meshq_writer_str (meshq_writer_t *self, const char *string);
void meshq_writer_strn (meshq_writer_t *self, const char *data, size_t size);
void meshq_writer_bin (meshq_writer_t *self, const void *data, size_t size);
void meshq_writer_uint (meshq_writer_t *self, uint64_t value);
void meshq_writer_int (meshq_writer_t *self, int64_t value);
void meshq_writer_bool (meshq_writer_t *self, bool value);
void meshq_writer_double (meshq_writer_t *self, double value);
void meshq_writer_nil (meshq_writer_t *self);

//  Appends bytes that already hold one msgpack value (or several).
void meshq_writer_raw (meshq_writer_t *self, const void *data, size_t size);

//  Returns 0, or the first error any write met.
int meshq_writer_error (const meshq_writer_t *self);

#endif
