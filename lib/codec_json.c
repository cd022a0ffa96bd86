/*  codec_json.c - msgpack to JSON. See codec_json.h. */
#include "codec_json.h"
#include "codec_reader.h"
#include "meshq.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int
s_text (meshq_buf_t *out, const char *text)
{
    return meshq_buf_append (out, text, strlen (text));
}

static int
s_string (meshq_buf_t *out, const char *data, size_t size)
{
    int rc = meshq_buf_append (out, "\"", 1);
    for (size_t i = 0; i < size && rc == 0; i++) {
        unsigned char c = (unsigned char)data[i];
        char escape[8];
        if (c == '"' || c == '\\') {
            escape[0] = '\\';
            escape[1] = (char)c;
            rc = meshq_buf_append (out, escape, 2);
        } else if (c < 0x20) {
            snprintf (escape, sizeof escape, "\\u%04x", c);
            rc = s_text (out, escape);
        } else
            rc = meshq_buf_append (out, &data[i], 1);
    }
    return rc ? rc : meshq_buf_append (out, "\"", 1);
}

static int s_value (meshq_reader_t *reader, meshq_buf_t *out, int depth);

static int
s_container (meshq_reader_t *reader, meshq_buf_t *out, int depth, bool map)
{
    uint32_t count;
    int rc = map ? meshq_reader_map (reader, UINT32_MAX, &count)
                 : meshq_reader_array (reader, UINT32_MAX, &count);
    if (rc)
        return rc;
    rc = meshq_buf_append (out, map ? "{" : "[", 1);
    for (uint32_t i = 0; i < count && rc == 0; i++) {
        if (i)
            rc = meshq_buf_append (out, ",", 1);
        if (rc == 0 && map) {
            meshq_mptype_t type;
            rc = meshq_reader_peek (reader, &type);
            if (rc == 0 && type == MESHQ_MP_STR)
                rc = s_value (reader, out, depth + 1);
            else if (rc == 0) {
                //  JSON keys are strings: quote what the value prints.
                meshq_buf_t key;
                meshq_buf_init (&key);
                rc = s_value (reader, &key, depth + 1);
                if (rc == 0)
                    rc = s_string (out, (const char *)key.data, key.size);
                meshq_buf_fini (&key);
            }
            if (rc == 0)
                rc = meshq_buf_append (out, ":", 1);
        }
        if (rc == 0)
            rc = s_value (reader, out, depth + 1);
    }
    return rc ? rc : meshq_buf_append (out, map ? "}" : "]", 1);
}

static int
s_value (meshq_reader_t *reader, meshq_buf_t *out, int depth)
{
    if (depth > MESHQ_CODEC_MAX_DEPTH)
        return MESHQ_EDEPTH;
    meshq_mptype_t type;
    int rc = meshq_reader_peek (reader, &type);
    if (rc)
        return rc;
    char number[64];
    switch (type) {
        case MESHQ_MP_NIL:
            rc = meshq_reader_nil (reader);
            return rc ? rc : s_text (out, "null");
        case MESHQ_MP_BOOL: {
            bool value;
            rc = meshq_reader_bool (reader, &value);
            return rc ? rc : s_text (out, value ? "true" : "false");
        }
        case MESHQ_MP_UINT: {
            uint64_t value;
            rc = meshq_reader_uint (reader, UINT64_MAX, &value);
            snprintf (number, sizeof number, "%" PRIu64, value);
            return rc ? rc : s_text (out, number);
        }
        case MESHQ_MP_INT: {
            int64_t value;
            rc = meshq_reader_int (reader, &value);
            snprintf (number, sizeof number, "%" PRId64, value);
            return rc ? rc : s_text (out, number);
        }
        case MESHQ_MP_FLOAT64: {
            double value;
            rc = meshq_reader_double (reader, &value);
            if (rc)
                return rc;
            if (!isfinite (value))
                return s_text (out, "null");
            snprintf (number, sizeof number, "%.17g", value);
            return s_text (out, number);
        }
        case MESHQ_MP_STR: {
            const char *data;
            uint32_t size;
            rc = meshq_reader_str (reader, UINT32_MAX, &data, &size);
            return rc ? rc : s_string (out, data, size);
        }
        case MESHQ_MP_BIN: {
            const void *data;
            uint32_t size;
            rc = meshq_reader_bin (reader, UINT32_MAX, &data, &size);
            if (rc)
                return rc;
            rc = meshq_buf_append (out, "\"", 1);
            for (uint32_t i = 0; i < size && rc == 0; i++) {
                snprintf (number, sizeof number, "%02x",
                          ((const uint8_t *)data)[i]);
                rc = s_text (out, number);
            }
            return rc ? rc : meshq_buf_append (out, "\"", 1);
        }
        case MESHQ_MP_ARRAY:
        case MESHQ_MP_MAP:
            return s_container (reader, out, depth, type == MESHQ_MP_MAP);
        default:
            //  float32 and ext never come from meshq's writers.
            return MESHQ_ETYPE;
    }
}

int
meshq_codec_json (const void *data, size_t size, meshq_buf_t *out)
{
    meshq_reader_t reader;
    meshq_reader_init (&reader, data, size);
    size_t start = out->size;
    int rc = s_value (&reader, out, 1);
    if (rc == 0 && meshq_reader_left (&reader))
        rc = MESHQ_EMALFORMED;
    if (rc == 0)
        rc = meshq_buf_reserve (out, 1);
    if (rc) {
        out->size = start;
        return rc;
    }
    out->data[out->size] = 0;
    return 0;
}
