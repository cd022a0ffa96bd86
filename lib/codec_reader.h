/*  codec_reader.h - a bounded msgpack pull reader for the codecs.

    Every codec (envelope, protocol frames, store records) decodes with
    this reader. It reads one value at a time from a byte range and never
    trusts it: every length and count is checked against the bytes left
    and a caller's cap before anything is read, nesting is bounded, and
    typed reads accept only the shortest encoding of a value, which is
    what every msgpack encoder writes, so that one message has exactly
    one encoding. It allocates nothing; strings and bins come back as
    pointers into the input.

    Each read returns 0 or a negative MESHQ_E* code and, on failure,
    leaves a meshq_rerr_t in reader->error that codecs turn into a
    field-specific reason.
*/
#ifndef MESHQ_CODEC_READER_H_INCLUDED
#define MESHQ_CODEC_READER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Deepest nesting any codec accepts; the top-level map is depth 1.
#define MESHQ_CODEC_MAX_DEPTH 8

//  Why a read failed.
typedef enum {
    MESHQ_RERR_NONE,       //  No failure.
    MESHQ_RERR_TRUNCATED,  //  The input ends inside the value.
    MESHQ_RERR_TOOBIG,     //  A length or count is above its cap.
    MESHQ_RERR_TYPE,       //  The value has another type.
    MESHQ_RERR_RANGE,      //  The value is outside the allowed range.
    MESHQ_RERR_NONCANON,   //  Not the shortest encoding of the value.
    MESHQ_RERR_UTF8,       //  A str is not valid UTF-8.
    MESHQ_RERR_DEPTH,      //  Nested deeper than allowed.
    MESHQ_RERR_BADBYTE,    //  0xc1, which msgpack never uses.
    MESHQ_RERR_COUNT       //  Number of reasons.
} meshq_rerr_t;

//  msgpack families, as meshq_reader_peek reports them.
typedef enum {
    MESHQ_MP_NIL,
    MESHQ_MP_BOOL,
    MESHQ_MP_UINT,
    MESHQ_MP_INT,  //  Negative integers.
    MESHQ_MP_FLOAT32,
    MESHQ_MP_FLOAT64,
    MESHQ_MP_STR,
    MESHQ_MP_BIN,
    MESHQ_MP_ARRAY,
    MESHQ_MP_MAP,
    MESHQ_MP_EXT,
    MESHQ_MP_INVALID,  //  0xc1.
} meshq_mptype_t;

typedef struct {
    const uint8_t *pos;  //  Next byte to read.
    const uint8_t *end;  //  One past the last byte.
    meshq_rerr_t error;  //  Reason of the last failure.
} meshq_reader_t;

//  Starts reading size bytes at data.
void meshq_reader_init (meshq_reader_t *self, const void *data, size_t size);

//  Bytes not yet read.
size_t meshq_reader_left (const meshq_reader_t *self);

//  Family of the next value, or MESHQ_ETRUNCATED at the end of input.
int meshq_reader_peek (meshq_reader_t *self, meshq_mptype_t *type);

//  Map and array headers: *count entries (pairs for a map) follow. Counts
//  above cap are MESHQ_ETOOBIG; counts the bytes left cannot hold are
//  MESHQ_ETRUNCATED.
int meshq_reader_map (meshq_reader_t *self, uint32_t cap, uint32_t *count);
int meshq_reader_array (meshq_reader_t *self, uint32_t cap, uint32_t *count);

//  A str (checked as UTF-8) or bin of at most cap bytes, borrowed.
int meshq_reader_str (meshq_reader_t *self, uint32_t cap, const char **data,
                      uint32_t *size);
int meshq_reader_bin (meshq_reader_t *self, uint32_t cap, const void **data,
                      uint32_t *size);

//  A non-negative integer not above max.
int meshq_reader_uint (meshq_reader_t *self, uint64_t max, uint64_t *value);

//  Any integer that fits an int64_t.
int meshq_reader_int (meshq_reader_t *self, int64_t *value);

//  nil, a bool, a float64.
int meshq_reader_nil (meshq_reader_t *self);
int meshq_reader_bool (meshq_reader_t *self, bool *value);
int meshq_reader_double (meshq_reader_t *self, double *value);

//  Skips one value of any type, nested at most max_depth levels (1 = a
//  scalar or an empty container), with containers of at most cap entries
//  and str, bin and ext of at most cap bytes. Any valid msgpack is
//  accepted in any encoding; used for fields a newer version added.
int meshq_reader_skip (meshq_reader_t *self, int max_depth, uint32_t cap);

//  Returns true if the size bytes at data are valid UTF-8 (no overlongs,
//  no surrogates, nothing above U+10FFFF). data may be NULL when size
//  is 0.
bool meshq_utf8_valid (const void *data, size_t size);

#endif
