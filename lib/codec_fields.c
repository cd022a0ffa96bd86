/*  codec_fields.c - table-driven decoding of protocol maps. See
    codec_fields.h.
*/
#include "codec_fields.h"
#include "meshq.h"

#include <assert.h>
#include <string.h>

//  Keys longer than this are unknown by definition, but still bounded.
#define S_MAX_KEY 64

static int
s_fail (const meshq_reader_t *reader, int rc, const char *const *reasons,
        const char **why)
{
    *why = reasons[reader->error];
    return rc;
}

static int
s_read_field (meshq_reader_t *reader, const meshq_codec_field_t *field,
              void *out, const char **why)
{
    uint8_t *target = (uint8_t *)out + field->offset;
    int rc = 0;
    switch (field->kind) {
        case MESHQ_CODEC_UINT: {
            uint64_t value;
            rc = meshq_reader_uint (reader, field->max, &value);
            if (rc == 0 && value < (uint64_t)field->min) {
                *why = field->why[MESHQ_RERR_RANGE];
                return MESHQ_ERANGE;
            }
            if (rc == 0)
                memcpy (target, &value, sizeof value);
            break;
        }
        case MESHQ_CODEC_INT: {
            int64_t value;
            rc = meshq_reader_int (reader, &value);
            if (rc == 0 &&
                (value < field->min || value > (int64_t)field->max)) {
                *why = field->why[MESHQ_RERR_RANGE];
                return MESHQ_ERANGE;
            }
            if (rc == 0)
                memcpy (target, &value, sizeof value);
            break;
        }
        case MESHQ_CODEC_STR: {
            meshq_span_t span;
            rc = meshq_reader_str (reader, (uint32_t)field->max, &span.data,
                                   &span.size);
            if (rc == 0)
                memcpy (target, &span, sizeof span);
            break;
        }
        case MESHQ_CODEC_ID: {
            const void *data;
            uint32_t size;
            rc = meshq_reader_bin (reader, 16, &data, &size);
            if (rc == 0 && size != 16) {
                *why = field->why[MESHQ_RERR_RANGE];
                return MESHQ_ERANGE;
            }
            if (rc == 0)
                memcpy (target, data, 16);
            break;
        }
        case MESHQ_CODEC_ANY: {
            meshq_span_t span = {(const char *)reader->pos, 0};
            rc = meshq_reader_skip (reader, MESHQ_CODEC_MAX_DEPTH - 1,
                                    (uint32_t)field->max);
            span.size = (uint32_t)((const char *)reader->pos - span.data);
            if (rc == 0)
                memcpy (target, &span, sizeof span);
            break;
        }
    }
    if (rc)
        return s_fail (reader, rc, field->why, why);
    return 0;
}

int
meshq_codec_fields_read (meshq_reader_t *reader, const meshq_codec_map_t *map,
                         void *out, const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    assert (map->count <= 32);
    uint32_t count;
    int rc = meshq_reader_map (
        reader, (uint32_t)map->count + MESHQ_CODEC_MAX_UNKNOWN, &count);
    if (rc)
        return s_fail (reader, rc, map->map_why, why);
    uint32_t seen = 0;  //  A bit per known field read.
    for (uint32_t i = 0; i < count; i++) {
        const char *key;
        uint32_t key_size;
        rc = meshq_reader_str (reader, S_MAX_KEY, &key, &key_size);
        if (rc)
            return s_fail (reader, rc, map->key_why, why);
        size_t f = 0;
        while (f < map->count &&
               !(strlen (map->fields[f].key) == key_size &&
                 memcmp (map->fields[f].key, key, key_size) == 0))
            f++;
        if (f == map->count) {
            //  A key from a newer writer.
            rc = meshq_reader_skip (reader, MESHQ_CODEC_MAX_DEPTH - 1,
                                    MESHQ_MAX_HEADER_VALUE);
            if (rc)
                return s_fail (reader, rc, map->unknown_why, why);
            continue;
        }
        if (seen & (1u << f)) {
            *why = map->duplicate;
            return MESHQ_EDUPKEY;
        }
        seen |= 1u << f;
        rc = s_read_field (reader, &map->fields[f], out, why);
        if (rc)
            return rc;
    }
    for (size_t f = 0; f < map->count; f++)
        if (map->fields[f].required && !(seen & (1u << f))) {
            *why = map->fields[f].missing;
            return MESHQ_EMALFORMED;
        }
    return 0;
}

int
meshq_codec_fields_decode (const void *data, size_t size,
                           const meshq_codec_map_t *map, void *out,
                           const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    meshq_reader_t reader;
    meshq_reader_init (&reader, data, size);
    int rc = meshq_codec_fields_read (&reader, map, out, why);
    if (rc == 0 && meshq_reader_left (&reader)) {
        *why = map->trailing;
        rc = MESHQ_EMALFORMED;
    }
    return rc;
}
