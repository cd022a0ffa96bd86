/*  codec_fields.h - table-driven decoding of protocol maps.

    Protocol frames (docs/PROTOCOL.md section 2 on) are msgpack maps of
    named arguments in any order. A codec describes each frame as a table
    of fields (key, kind, range, where the value goes in its struct) and
    lets meshq_codec_fields_decode read the map: known keys are checked
    and stored, unknown keys are skipped (bounded), a known key twice or
    a required key missing is refused, and every failure comes back as a
    static reason naming the frame and the field.
*/
#ifndef MESHQ_CODEC_FIELDS_H_INCLUDED
#define MESHQ_CODEC_FIELDS_H_INCLUDED

#include "codec_reader.h"
#include "envelope.h"

#include <stddef.h>
#include <stdint.h>

//  Unknown keys a newer writer may add to one map.
#define MESHQ_CODEC_MAX_UNKNOWN 32

//  What a field holds and where decoding puts it.
typedef enum {
    MESHQ_CODEC_UINT,  //  uint64_t, within [min, max].
    MESHQ_CODEC_INT,   //  int64_t, within [min, max] as signed values.
    MESHQ_CODEC_STR,   //  meshq_span_t, UTF-8, at most max bytes.
    MESHQ_CODEC_ID,    //  uint8_t[16]: a bin of exactly 16 bytes.
    MESHQ_CODEC_ANY,   //  meshq_span_t: the raw bytes of one value.
} meshq_codec_kind_t;

//  One reason per reader failure, as static strings: "NAME: truncated",
//  "NAME: wrong type", and so on, indexed by meshq_rerr_t.
#define MESHQ_CODEC_REASONS(name)                                              \
    {                                                                          \
        name ": no failure", name ": truncated", name ": too long",            \
            name ": wrong type", name ": out of range",                        \
            name ": not in shortest form", name ": not valid UTF-8",           \
            name ": nested too deep", name ": invalid byte 0xc1"               \
    }

typedef struct {
    const char *key;                    //  Key on the wire.
    meshq_codec_kind_t kind;            //  What the value is.
    bool required;                      //  Refuse the map without it.
    int64_t min;                        //  Smallest value (UINT, INT).
    uint64_t max;                       //  Largest value, or longest str.
    size_t offset;                      //  Where it goes in the struct.
    const char *missing;                //  Reason when required and absent.
    const char *why[MESHQ_RERR_COUNT];  //  Reasons, by meshq_rerr_t.
} meshq_codec_field_t;

//  A table row: FRAME and KEY name the reasons, TYPE.MEMBER the target.
#define MESHQ_CODEC_FIELD(frame, key, kind, required, min, max, type, member)  \
    {                                                                          \
        key, kind, required, min, max, offsetof (type, member),                \
            frame " " key ": missing", MESHQ_CODEC_REASONS (frame " " key)     \
    }

//  A map's fields and the reasons that concern the map as a whole.
typedef struct {
    const meshq_codec_field_t *fields;      //  The known keys.
    size_t count;                           //  Entries in fields (at most 32).
    const char *map_why[MESHQ_RERR_COUNT];  //  The map header.
    const char *key_why[MESHQ_RERR_COUNT];  //  A key.
    const char *unknown_why[MESHQ_RERR_COUNT];  //  An unknown key's value.
    const char *duplicate;                      //  A known key twice.
    const char *trailing;                       //  Bytes after the map.
} meshq_codec_map_t;

#define MESHQ_CODEC_MAP_OF(name, fields, count)                                \
    {                                                                          \
        fields, count, MESHQ_CODEC_REASONS (name),                             \
            MESHQ_CODEC_REASONS (name " key"),                                 \
            MESHQ_CODEC_REASONS (name " unknown key"), name ": duplicate key", \
            name ": bytes after the end of the map"                            \
    }
#define MESHQ_CODEC_MAP(name, fields)                                          \
    MESHQ_CODEC_MAP_OF (name, fields, sizeof (fields) / sizeof (fields)[0])

//  Reads one map at the reader's position into out (a struct of the
//  table's type; fields absent from the map are left as they were).
//  Returns 0 or a negative code with *why set.
int meshq_codec_fields_read (meshq_reader_t *reader,
                             const meshq_codec_map_t *map, void *out,
                             const char **why);

//  Decodes a frame that holds exactly one such map.
int meshq_codec_fields_decode (const void *data, size_t size,
                               const meshq_codec_map_t *map, void *out,
                               const char **why);

#endif
