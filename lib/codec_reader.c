/*  codec_reader.c - a bounded msgpack pull reader. See codec_reader.h.

    The reader is written for meshq rather than taken from msgpack-c:
    msgpack-c's unpacker reserves memory for a container as soon as it
    reads its count and builds an object tree we would copy out of again.
    This one checks each count against the bytes left before going on,
    allocates nothing, and knows which encodings are the shortest.
*/
#include "codec_reader.h"
#include "meshq.h"

#include <string.h>

//  What the first byte of a value says about it.
typedef struct {
    meshq_mptype_t type;  //  Family.
    uint32_t hsize;       //  Bytes of the header, first byte included.
    uint64_t n;           //  Length, count, or the integer's raw bits.
} s_head_t;

static int
s_fail (meshq_reader_t *self, meshq_rerr_t why)
{
    self->error = why;
    switch (why) {
        case MESHQ_RERR_TRUNCATED:
            return MESHQ_ETRUNCATED;
        case MESHQ_RERR_TOOBIG:
            return MESHQ_ETOOBIG;
        case MESHQ_RERR_TYPE:
            return MESHQ_ETYPE;
        case MESHQ_RERR_RANGE:
            return MESHQ_ERANGE;
        case MESHQ_RERR_DEPTH:
            return MESHQ_EDEPTH;
        default:
            return MESHQ_EMALFORMED;
    }
}

static uint64_t
s_be (const uint8_t *p, uint32_t bytes)
{
    uint64_t value = 0;
    for (uint32_t i = 0; i < bytes; i++)
        value = (value << 8) | p[i];
    return value;
}

//  Size of the header that follows a one-byte tag, by tag for 0xc0..0xdf.
//  Ext headers include their type byte.
static const uint8_t s_extra[32] = {
    0, 0, 0, 0, 1, 2, 4,  //  c0 nil, c1, c2, c3, c4..c6 bin
    2, 3, 5,              //  c7..c9 ext 8/16/32 (length + type)
    4, 8,                 //  ca, cb floats
    1, 2, 4, 8,           //  cc..cf uint
    1, 2, 4, 8,           //  d0..d3 int
    1, 1, 1, 1, 1,        //  d4..d8 fixext (type)
    1, 2, 4,              //  d9..db str
    2, 4,                 //  dc, dd array
    2, 4                  //  de, df map
};

//  Decodes the header of the next value without consuming it.
static inline int
s_head (meshq_reader_t *self, s_head_t *head)
{
    if (self->pos >= self->end)
        return s_fail (self, MESHQ_RERR_TRUNCATED);
    const uint8_t *p = self->pos;
    uint8_t tag = p[0];
    head->hsize = 1;
    head->n = 0;
    if (tag <= 0x7f) {
        head->type = MESHQ_MP_UINT;
        head->n = tag;
        return 0;
    }
    if (tag >= 0xe0) {
        head->type = MESHQ_MP_INT;
        head->n = (uint64_t)(int64_t)(int8_t)tag;
        return 0;
    }
    if (tag <= 0x8f || (tag >= 0x90 && tag <= 0x9f)) {
        head->type = tag <= 0x8f ? MESHQ_MP_MAP : MESHQ_MP_ARRAY;
        head->n = tag & 0x0f;
        return 0;
    }
    if (tag <= 0xbf) {
        head->type = MESHQ_MP_STR;
        head->n = tag & 0x1f;
        return 0;
    }
    uint32_t extra = s_extra[tag - 0xc0];
    if ((size_t)(self->end - p) < 1 + (size_t)extra)
        return s_fail (self, MESHQ_RERR_TRUNCATED);
    head->hsize = 1 + extra;
    switch (tag) {
        case 0xc0:
            head->type = MESHQ_MP_NIL;
            break;
        case 0xc1:
            head->type = MESHQ_MP_INVALID;
            break;
        case 0xc2:
        case 0xc3:
            head->type = MESHQ_MP_BOOL;
            head->n = tag & 1;
            break;
        case 0xc4:
        case 0xc5:
        case 0xc6:
            head->type = MESHQ_MP_BIN;
            head->n = s_be (p + 1, extra);
            break;
        case 0xc7:
        case 0xc8:
        case 0xc9:
            head->type = MESHQ_MP_EXT;
            head->n = s_be (p + 1, extra - 1);
            break;
        case 0xca:
            head->type = MESHQ_MP_FLOAT32;
            head->n = s_be (p + 1, 4);
            break;
        case 0xcb:
            head->type = MESHQ_MP_FLOAT64;
            head->n = s_be (p + 1, 8);
            break;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
            head->type = MESHQ_MP_UINT;
            head->n = s_be (p + 1, extra);
            break;
        case 0xd0:
            head->type = MESHQ_MP_INT;
            head->n = (uint64_t)(int64_t)(int8_t)p[1];
            break;
        case 0xd1:
            head->type = MESHQ_MP_INT;
            head->n = (uint64_t)(int64_t)(int16_t)s_be (p + 1, 2);
            break;
        case 0xd2:
            head->type = MESHQ_MP_INT;
            head->n = (uint64_t)(int64_t)(int32_t)s_be (p + 1, 4);
            break;
        case 0xd3:
            head->type = MESHQ_MP_INT;
            head->n = s_be (p + 1, 8);
            break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            head->type = MESHQ_MP_EXT;
            head->n = 1u << (tag - 0xd4);
            break;
        case 0xd9:
        case 0xda:
        case 0xdb:
            head->type = MESHQ_MP_STR;
            head->n = s_be (p + 1, extra);
            break;
        case 0xdc:
        case 0xdd:
            head->type = MESHQ_MP_ARRAY;
            head->n = s_be (p + 1, extra);
            break;
        default:  //  0xde, 0xdf
            head->type = MESHQ_MP_MAP;
            head->n = s_be (p + 1, extra);
            break;
    }
    return 0;
}

//  Shortest header for a length or count, by family.
static uint32_t
s_min_hsize (meshq_mptype_t type, uint64_t n)
{
    switch (type) {
        case MESHQ_MP_STR:
            return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
        case MESHQ_MP_BIN:
            return n < 256 ? 2 : n < 65536 ? 3 : 5;
        case MESHQ_MP_UINT:
            return n < 128        ? 1
                   : n < 256      ? 2
                   : n < 65536    ? 3
                   : n >> 32 == 0 ? 5
                                  : 9;
        case MESHQ_MP_INT: {
            int64_t v = (int64_t)n;
            return v >= -32         ? 1
                   : v >= INT8_MIN  ? 2
                   : v >= INT16_MIN ? 3
                   : v >= INT32_MIN ? 5
                                    : 9;
        }
        default:  //  Arrays and maps.
            return n < 16 ? 1 : n < 65536 ? 3 : 5;
    }
}

void
meshq_reader_init (meshq_reader_t *self, const void *data, size_t size)
{
    self->pos = data;
    self->end = self->pos + size;
    self->error = MESHQ_RERR_NONE;
}

size_t
meshq_reader_left (const meshq_reader_t *self)
{
    return (size_t)(self->end - self->pos);
}

int
meshq_reader_peek (meshq_reader_t *self, meshq_mptype_t *type)
{
    s_head_t head;
    int rc = s_head (self, &head);
    if (rc == 0)
        *type = head.type;
    return rc;
}

//  Reads a container header of the given family.
static int
s_container (meshq_reader_t *self, meshq_mptype_t type, uint32_t cap,
             uint32_t *count)
{
    s_head_t head;
    int rc = s_head (self, &head);
    if (rc)
        return rc;
    if (head.type != type)
        return s_fail (self, MESHQ_RERR_TYPE);
    if (head.n > cap)
        return s_fail (self, MESHQ_RERR_TOOBIG);
    //  Every element takes at least one byte.
    uint64_t least = type == MESHQ_MP_MAP ? head.n * 2 : head.n;
    if (least > meshq_reader_left (self) - head.hsize)
        return s_fail (self, MESHQ_RERR_TRUNCATED);
    if (head.hsize != s_min_hsize (type, head.n))
        return s_fail (self, MESHQ_RERR_NONCANON);
    self->pos += head.hsize;
    *count = (uint32_t)head.n;
    return 0;
}

int
meshq_reader_map (meshq_reader_t *self, uint32_t cap, uint32_t *count)
{
    return s_container (self, MESHQ_MP_MAP, cap, count);
}

int
meshq_reader_array (meshq_reader_t *self, uint32_t cap, uint32_t *count)
{
    return s_container (self, MESHQ_MP_ARRAY, cap, count);
}

//  Reads a str or bin payload.
static int
s_bytes (meshq_reader_t *self, meshq_mptype_t type, uint32_t cap,
         const void **data, uint32_t *size)
{
    s_head_t head;
    int rc = s_head (self, &head);
    if (rc)
        return rc;
    if (head.type != type)
        return s_fail (self, MESHQ_RERR_TYPE);
    if (head.n > cap)
        return s_fail (self, MESHQ_RERR_TOOBIG);
    if (head.n > meshq_reader_left (self) - head.hsize)
        return s_fail (self, MESHQ_RERR_TRUNCATED);
    if (head.hsize != s_min_hsize (type, head.n))
        return s_fail (self, MESHQ_RERR_NONCANON);
    const uint8_t *start = self->pos + head.hsize;
    if (type == MESHQ_MP_STR && !meshq_utf8_valid (start, (size_t)head.n))
        return s_fail (self, MESHQ_RERR_UTF8);
    *data = start;
    *size = (uint32_t)head.n;
    self->pos = start + head.n;
    return 0;
}

int
meshq_reader_str (meshq_reader_t *self, uint32_t cap, const char **data,
                  uint32_t *size)
{
    const void *start;
    int rc = s_bytes (self, MESHQ_MP_STR, cap, &start, size);
    if (rc == 0)
        *data = start;
    return rc;
}

int
meshq_reader_bin (meshq_reader_t *self, uint32_t cap, const void **data,
                  uint32_t *size)
{
    return s_bytes (self, MESHQ_MP_BIN, cap, data, size);
}

int
meshq_reader_uint (meshq_reader_t *self, uint64_t max, uint64_t *value)
{
    s_head_t head;
    int rc = s_head (self, &head);
    if (rc)
        return rc;
    if (head.type == MESHQ_MP_INT)
        return s_fail (self, MESHQ_RERR_RANGE);
    if (head.type != MESHQ_MP_UINT)
        return s_fail (self, MESHQ_RERR_TYPE);
    if (head.hsize != s_min_hsize (MESHQ_MP_UINT, head.n))
        return s_fail (self, MESHQ_RERR_NONCANON);
    if (head.n > max)
        return s_fail (self, MESHQ_RERR_RANGE);
    self->pos += head.hsize;
    *value = head.n;
    return 0;
}

int
meshq_reader_int (meshq_reader_t *self, int64_t *value)
{
    s_head_t head;
    int rc = s_head (self, &head);
    if (rc)
        return rc;
    if (head.type == MESHQ_MP_UINT) {
        if (head.hsize != s_min_hsize (MESHQ_MP_UINT, head.n))
            return s_fail (self, MESHQ_RERR_NONCANON);
        if (head.n > INT64_MAX)
            return s_fail (self, MESHQ_RERR_RANGE);
    } else if (head.type == MESHQ_MP_INT) {
        //  Non-negative values belong in the uint family.
        if ((int64_t)head.n >= 0 ||
            head.hsize != s_min_hsize (MESHQ_MP_INT, head.n))
            return s_fail (self, MESHQ_RERR_NONCANON);
    } else
        return s_fail (self, MESHQ_RERR_TYPE);
    self->pos += head.hsize;
    *value = (int64_t)head.n;
    return 0;
}

int
meshq_reader_nil (meshq_reader_t *self)
{
    s_head_t head;
    int rc = s_head (self, &head);
    if (rc)
        return rc;
    if (head.type != MESHQ_MP_NIL)
        return s_fail (self, MESHQ_RERR_TYPE);
    self->pos += 1;
    return 0;
}

int
meshq_reader_bool (meshq_reader_t *self, bool *value)
{
    s_head_t head;
    int rc = s_head (self, &head);
    if (rc)
        return rc;
    if (head.type != MESHQ_MP_BOOL)
        return s_fail (self, MESHQ_RERR_TYPE);
    self->pos += 1;
    *value = head.n != 0;
    return 0;
}

int
meshq_reader_double (meshq_reader_t *self, double *value)
{
    s_head_t head;
    int rc = s_head (self, &head);
    if (rc)
        return rc;
    if (head.type == MESHQ_MP_FLOAT32)
        return s_fail (self, MESHQ_RERR_NONCANON);
    if (head.type != MESHQ_MP_FLOAT64)
        return s_fail (self, MESHQ_RERR_TYPE);
    memcpy (value, &head.n, sizeof *value);
    self->pos += head.hsize;
    return 0;
}

int
meshq_reader_skip (meshq_reader_t *self, int max_depth, uint32_t cap)
{
    //  todo[d] counts the values still to skip at nesting level d.
    uint64_t todo[MESHQ_CODEC_MAX_DEPTH + 1];
    if (max_depth < 1)
        return s_fail (self, MESHQ_RERR_DEPTH);
    if (max_depth > MESHQ_CODEC_MAX_DEPTH)
        max_depth = MESHQ_CODEC_MAX_DEPTH;
    int depth = 0;
    todo[0] = 1;
    while (depth >= 0) {
        if (todo[depth] == 0) {
            depth--;
            continue;
        }
        todo[depth]--;
        s_head_t head;
        int rc = s_head (self, &head);
        if (rc)
            return rc;
        size_t left = meshq_reader_left (self) - head.hsize;
        switch (head.type) {
            case MESHQ_MP_INVALID:
                return s_fail (self, MESHQ_RERR_BADBYTE);
            case MESHQ_MP_STR:
            case MESHQ_MP_BIN:
            case MESHQ_MP_EXT:
                if (head.n > cap)
                    return s_fail (self, MESHQ_RERR_TOOBIG);
                if (head.n > left)
                    return s_fail (self, MESHQ_RERR_TRUNCATED);
                if (head.type == MESHQ_MP_STR &&
                    !meshq_utf8_valid (self->pos + head.hsize, (size_t)head.n))
                    return s_fail (self, MESHQ_RERR_UTF8);
                self->pos += head.hsize + head.n;
                break;
            case MESHQ_MP_ARRAY:
            case MESHQ_MP_MAP: {
                if (head.n > cap)
                    return s_fail (self, MESHQ_RERR_TOOBIG);
                uint64_t values =
                    head.type == MESHQ_MP_MAP ? head.n * 2 : head.n;
                if (values > left)
                    return s_fail (self, MESHQ_RERR_TRUNCATED);
                self->pos += head.hsize;
                if (values > 0) {
                    //  Children sit one level below this container.
                    if (depth + 2 > max_depth)
                        return s_fail (self, MESHQ_RERR_DEPTH);
                    todo[++depth] = values;
                }
                break;
            }
            default:
                self->pos += head.hsize;
                break;
        }
    }
    return 0;
}

bool
meshq_utf8_valid (const void *data, size_t size)
{
    //  An empty span may have no data at all (AMQP's empty strings):
    //  NULL + 0 is undefined behaviour.
    if (!size)
        return true;
    const uint8_t *p = data;
    const uint8_t *end = p + size;
    while (p < end) {
        //  ASCII runs eight bytes at a time.
        uint64_t word;
        if ((size_t)(end - p) >= 8) {
            memcpy (&word, p, 8);
            if ((word & 0x8080808080808080ULL) == 0) {
                p += 8;
                continue;
            }
        }
        uint8_t c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t extra;
        uint32_t code;
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            code = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            code = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            code = c & 0x07;
        } else
            return false;
        if ((size_t)(end - p) <= extra)
            return false;
        for (size_t i = 1; i <= extra; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            code = (code << 6) | (p[i] & 0x3f);
        }
        if ((extra == 2 &&
             (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) ||
            (extra == 3 && (code < 0x10000 || code > 0x10ffff)))
            return false;
        p += extra + 1;
    }
    return true;
}
