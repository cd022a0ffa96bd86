/*  codec_args.c - frame argument maps in msgpack. See codec_args.h. */
#include "codec_args.h"
#include "codec.h"
#include "codec_reader.h"
#include "codec_writer.h"

#include <string.h>

typedef enum {
    S_UINT,
    S_INT,
    S_BOOL,
    S_STR,
    S_TEXT,
    S_ID,
    S_MAP,
    S_BIN
} s_kind_t;

#define S_REASONS_LIST(name)                                                   \
    name ": no failure", name ": truncated", name ": too long",                \
        name ": wrong type", name ": out of range",                            \
        name ": not in shortest form", name ": not valid UTF-8",               \
        name ": nested too deep", name ": invalid byte 0xc1"

typedef struct {
    const char *key;                        //  Key on the wire.
    uint8_t key_size;                       //  strlen (key).
    s_kind_t kind;                          //  Value kind.
    size_t offset;                          //  Member in meshq_args_t.
    const char *why[MESHQ_RERR_COUNT + 1];  //  Reasons; last: duplicate.
} s_arg_t;

static const s_arg_t s_args[MESHQ_A_COUNT] = {
#define S_ROW(ID, member, key, kind)                                           \
    {key,                                                                      \
     sizeof (key) - 1,                                                         \
     S_##kind,                                                                 \
     offsetof (meshq_args_t, member),                                          \
     {S_REASONS_LIST (key), key ": duplicate key"}},
    MESHQ_ARGS (S_ROW)
#undef S_ROW
};

static const char *s_frame_why[MESHQ_RERR_COUNT] = {
    S_REASONS_LIST ("arguments")};
static const char *s_key_why[MESHQ_RERR_COUNT] = {
    S_REASONS_LIST ("argument key")};
static const char *s_unknown_why[MESHQ_RERR_COUNT] = {
    S_REASONS_LIST ("unknown argument")};

//  Most arguments a map may hold, known and unknown.
#define S_MAX_ENTRIES 128
//  Longest key we look at.
#define S_MAX_KEY 64
//  Rows a list may hold.
#define S_MAX_ROWS 1000000

static void *
s_member (meshq_args_t *args, int arg)
{
    return (char *)args + s_args[arg].offset;
}

static const void *
s_cmember (const meshq_args_t *args, int arg)
{
    return (const char *)args + s_args[arg].offset;
}

static int
s_encode (meshq_writer_t *writer, const meshq_args_t *args, const char **why)
{
    uint32_t count =
        (uint32_t)(__builtin_popcountll ((uint64_t)args->present) +
                   __builtin_popcountll ((uint64_t)(args->present >> 64)));
    meshq_writer_map (writer, count);
    //  Visit only the bits set, in table order: a frame has a few of
    //  some 70 arguments, and testing every bit cost more than the
    //  encoding itself (callgrind).
    meshq_argbits_t left = args->present;
    while (left) {
        uint64_t low = (uint64_t)left;
        int arg = low ? __builtin_ctzll (low)
                      : 64 + __builtin_ctzll ((uint64_t)(left >> 64));
        left &= left - 1;
        const s_arg_t *row = &s_args[arg];
        const void *member = s_cmember (args, arg);
        meshq_writer_strn (writer, row->key, row->key_size);
        switch (row->kind) {
            case S_UINT:
                meshq_writer_uint (writer, *(const uint64_t *)member);
                break;
            case S_INT:
                meshq_writer_int (writer, *(const int64_t *)member);
                break;
            case S_BOOL:
                meshq_writer_bool (writer, *(const bool *)member);
                break;
            case S_STR:
            case S_TEXT: {
                const meshq_span_t *span = member;
                uint32_t cap = row->kind == S_STR ? MESHQ_MAX_SHORTSTR
                                                  : MESHQ_MAX_HEADER_VALUE;
                if (span->size > cap) {
                    *why = row->why[MESHQ_RERR_TOOBIG];
                    return MESHQ_ETOOBIG;
                }
                if (!meshq_utf8_valid (span->data, span->size)) {
                    *why = row->why[MESHQ_RERR_UTF8];
                    return MESHQ_EINVAL;
                }
                meshq_writer_strn (writer, span->data, span->size);
                break;
            }
            case S_ID:
                meshq_writer_bin (writer, member, 16);
                break;
            case S_BIN: {
                const meshq_span_t *span = member;
                if (span->size > MESHQ_MAX_HEADER_VALUE) {
                    *why = row->why[MESHQ_RERR_TOOBIG];
                    return MESHQ_ETOOBIG;
                }
                meshq_writer_bin (writer, span->data, span->size);
                break;
            }
            case S_MAP: {
                //  Entries were checked when they were encoded.
                const meshq_span_t *span = member;
                meshq_writer_map (writer, args->match_count);
                meshq_writer_raw (writer, span->data, span->size);
                break;
            }
        }
    }
    return meshq_writer_error (writer);
}

int
meshq_codec_encode_args (const meshq_args_t *args, meshq_buf_t *out,
                         const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    int rc = s_encode (&writer, args, why);
    if (rc) {
        out->size = start;
        if (rc == MESHQ_ENOMEM)
            *why = "arguments: out of memory";
    }
    return rc;
}

//  Finds a key's argument, looking first just after the previous match:
//  writers put arguments in table order. MESHQ_A_COUNT if unknown.
static int
s_lookup (const char *key, uint32_t size, int hint)
{
    for (int i = 0; i < MESHQ_A_COUNT; i++) {
        int arg = (hint + i) % MESHQ_A_COUNT;
        if (s_args[arg].key_size == size && s_args[arg].key[0] == key[0] &&
            memcmp (s_args[arg].key, key, size) == 0)
            return arg;
    }
    return MESHQ_A_COUNT;
}

static int
s_fail (meshq_reader_t *reader, int rc, const char *const *reasons,
        const char **why)
{
    *why = reasons[reader->error];
    return rc;
}

static int
s_decode_value (meshq_reader_t *reader, int arg, meshq_args_t *args,
                const char **why)
{
    const s_arg_t *row = &s_args[arg];
    void *member = s_member (args, arg);
    int rc = 0;
    switch (row->kind) {
        case S_UINT:
            rc = meshq_reader_uint (reader, UINT64_MAX, member);
            break;
        case S_INT:
            rc = meshq_reader_int (reader, member);
            break;
        case S_BOOL:
            rc = meshq_reader_bool (reader, member);
            break;
        case S_STR:
        case S_TEXT: {
            meshq_span_t *span = member;
            rc = meshq_reader_str (reader,
                                   row->kind == S_STR ? MESHQ_MAX_SHORTSTR
                                                      : MESHQ_MAX_HEADER_VALUE,
                                   &span->data, &span->size);
            break;
        }
        case S_ID: {
            const void *data;
            uint32_t size;
            rc = meshq_reader_bin (reader, 16, &data, &size);
            if (rc == 0 && size != 16) {
                *why = row->why[MESHQ_RERR_RANGE];
                return MESHQ_ERANGE;
            }
            if (rc == 0)
                memcpy (member, data, 16);
            break;
        }
        case S_MAP:
            return meshq_codec_read_headers (reader, member, &args->match_count,
                                             row->why, why);
        case S_BIN: {
            meshq_span_t *span = member;
            const void *data;
            rc = meshq_reader_bin (reader, MESHQ_MAX_HEADER_VALUE, &data,
                                   &span->size);
            span->data = data;
            break;
        }
    }
    if (rc)
        return s_fail (reader, rc, row->why, why);
    return 0;
}

//  Reads one argument map from reader.
static int
s_decode (meshq_reader_t *reader, meshq_args_t *args, const char **why)
{
    memset (args, 0, sizeof *args);
    uint32_t count;
    int rc = meshq_reader_map (reader, S_MAX_ENTRIES, &count);
    if (rc)
        return s_fail (reader, rc, s_frame_why, why);
    int hint = 0;
    for (uint32_t i = 0; i < count; i++) {
        const char *key;
        uint32_t size;
        rc = meshq_reader_str (reader, S_MAX_KEY, &key, &size);
        if (rc)
            return s_fail (reader, rc, s_key_why, why);
        int arg = size ? s_lookup (key, size, hint) : MESHQ_A_COUNT;
        if (arg == MESHQ_A_COUNT) {
            //  Newer peers may add arguments; any value, bounded.
            rc = meshq_reader_skip (reader, MESHQ_CODEC_MAX_DEPTH - 1,
                                    MESHQ_MAX_HEADER_VALUE);
            if (rc)
                return s_fail (reader, rc, s_unknown_why, why);
            continue;
        }
        if (args->present & MESHQ_ARG_BIT (arg)) {
            *why = s_args[arg].why[MESHQ_RERR_COUNT];
            return MESHQ_EDUPKEY;
        }
        rc = s_decode_value (reader, arg, args, why);
        if (rc)
            return rc;
        args->present |= MESHQ_ARG_BIT (arg);
        hint = arg + 1;
    }
    return 0;
}

int
meshq_codec_decode_args (const void *data, size_t size, meshq_args_t *args,
                         const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    meshq_reader_t reader;
    meshq_reader_init (&reader, data, size);
    int rc = s_decode (&reader, args, why);
    if (rc == 0 && meshq_reader_left (&reader)) {
        *why = "arguments: bytes after the end of the map";
        rc = MESHQ_EMALFORMED;
    }
    return rc;
}

int
meshq_codec_decode_args_head (const void *data, size_t size, meshq_args_t *args,
                              size_t *used, const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    meshq_reader_t reader;
    meshq_reader_init (&reader, data, size);
    int rc = s_decode (&reader, args, why);
    *used = rc ? 0 : size - meshq_reader_left (&reader);
    return rc;
}

int
meshq_codec_encode_list (uint64_t rid, const char *name,
                         const meshq_args_t *rows, size_t count,
                         meshq_buf_t *out, const char **why)
{
    return meshq_codec_encode_lists (rid, name, rows, count, NULL, NULL, 0, out,
                                     why);
}

int
meshq_codec_encode_lists (uint64_t rid, const char *name,
                          const meshq_args_t *rows, size_t count,
                          const char *name2, const meshq_args_t *rows2,
                          size_t count2, meshq_buf_t *out, const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_map (&writer, name2 ? 3 : 2);
    meshq_writer_str (&writer, "rid");
    meshq_writer_uint (&writer, rid);
    meshq_writer_str (&writer, name);
    meshq_writer_array (&writer, (uint32_t)count);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = s_encode (&writer, &rows[i], why);
    if (name2) {
        meshq_writer_str (&writer, name2);
        meshq_writer_array (&writer, (uint32_t)count2);
        for (size_t i = 0; i < count2 && rc == 0; i++)
            rc = s_encode (&writer, &rows2[i], why);
    }
    if (rc == 0)
        rc = meshq_writer_error (&writer);
    if (rc) {
        out->size = start;
        if (rc == MESHQ_ENOMEM)
            *why = "list: out of memory";
    }
    return rc;
}

int
meshq_codec_decode_list (const void *data, size_t size, const char *name,
                         uint64_t *rid, meshq_span_t *rows, uint32_t *count,
                         const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    meshq_reader_t reader;
    meshq_reader_init (&reader, data, size);
    uint32_t entries;
    int rc = meshq_reader_map (&reader, S_MAX_ENTRIES, &entries);
    if (rc)
        return s_fail (&reader, rc, s_frame_why, why);
    bool found = false;
    *rid = 0;
    for (uint32_t i = 0; i < entries; i++) {
        const char *key;
        uint32_t key_size;
        rc = meshq_reader_str (&reader, S_MAX_KEY, &key, &key_size);
        if (rc)
            return s_fail (&reader, rc, s_key_why, why);
        if (key_size == 3 && memcmp (key, "rid", 3) == 0)
            rc = meshq_reader_uint (&reader, UINT64_MAX, rid);
        else if (key_size == strlen (name) &&
                 memcmp (key, name, key_size) == 0 && !found) {
            rc = meshq_reader_array (&reader, S_MAX_ROWS, count);
            rows->data = (const char *)reader.pos;
            for (uint32_t row = 0; row < *count && rc == 0; row++) {
                meshq_args_t args;
                rc = s_decode (&reader, &args, why);
                if (rc)
                    return rc;
            }
            rows->size = (uint32_t)((const char *)reader.pos - rows->data);
            found = true;
        } else
            rc = meshq_reader_skip (&reader, MESHQ_CODEC_MAX_DEPTH - 1,
                                    S_MAX_ROWS);
        if (rc)
            return s_fail (&reader, rc, s_frame_why, why);
    }
    if (!found) {
        *why = "list: the list is missing";
        return MESHQ_EMALFORMED;
    }
    return 0;
}

bool
meshq_codec_list_next (meshq_span_t *cursor, meshq_args_t *args)
{
    if (cursor->size == 0)
        return false;
    meshq_reader_t reader;
    meshq_reader_init (&reader, cursor->data, cursor->size);
    const char *why;
    if (s_decode (&reader, args, &why))
        return false;
    uint32_t used = (uint32_t)((const char *)reader.pos - cursor->data);
    cursor->data += used;
    cursor->size -= used;
    return true;
}

static const char *s_item_why[MESHQ_RERR_COUNT] = {S_REASONS_LIST ("delivery")};

int
meshq_codec_encode_delivery (const meshq_delivery_item_t *item,
                             meshq_buf_t *out)
{
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_array (&writer, 5);
    meshq_writer_uint (&writer, item->dtag);
    meshq_writer_uint (&writer, item->seq);
    meshq_writer_uint (&writer, item->count);
    meshq_writer_bool (&writer, item->redelivered);
    meshq_writer_bin (&writer, item->envelope.data, item->envelope.size);
    int rc = meshq_writer_error (&writer);
    if (rc)
        out->size = start;
    return rc;
}

//  Opens an item of a batch at cursor, an array of fields values;
//  otherwise a code, with *why from reasons or not_array.
static int
s_item_open (meshq_reader_t *reader, const meshq_span_t *cursor,
             uint32_t fields, const char *not_array, const char *const *reasons,
             const char **why)
{
    meshq_reader_init (reader, cursor->data, cursor->size);
    uint32_t count;
    int rc = meshq_reader_array (reader, 16, &count);
    if (rc)
        return s_fail (reader, rc, reasons, why);
    if (count != fields) {
        *why = not_array;
        return MESHQ_EMALFORMED;
    }
    return 0;
}

//  Moves cursor past the item reader has read.
static void
s_item_close (meshq_span_t *cursor, const meshq_reader_t *reader)
{
    uint32_t used = (uint32_t)((const char *)reader->pos - cursor->data);
    cursor->data += used;
    cursor->size -= used;
}

int
meshq_codec_decode_delivery (meshq_span_t *cursor, uint32_t max_envelope,
                             meshq_delivery_item_t *item, const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    meshq_reader_t reader;
    const void *data = NULL;
    int rc = s_item_open (&reader, cursor, 5, "delivery: not an array of 5",
                          s_item_why, why);
    if (rc)
        return rc;
    rc = meshq_reader_uint (&reader, UINT64_MAX, &item->dtag);
    if (rc == 0)
        rc = meshq_reader_uint (&reader, UINT64_MAX, &item->seq);
    if (rc == 0)
        rc = meshq_reader_uint (&reader, UINT32_MAX, &item->count);
    if (rc == 0)
        rc = meshq_reader_bool (&reader, &item->redelivered);
    if (rc == 0)
        rc = meshq_reader_bin (&reader, max_envelope, &data,
                               &item->envelope.size);
    if (rc)
        return s_fail (&reader, rc, s_item_why, why);
    item->envelope.data = data;
    s_item_close (cursor, &reader);
    return 0;
}

static const char *s_publish_why[MESHQ_RERR_COUNT] = {
    S_REASONS_LIST ("publish")};

int
meshq_codec_encode_publish (const meshq_publish_item_t *item, meshq_buf_t *out)
{
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_array (&writer, 2);
    meshq_writer_bool (&writer, item->mandatory);
    meshq_writer_bin (&writer, item->envelope.data, item->envelope.size);
    int rc = meshq_writer_error (&writer);
    if (rc)
        out->size = start;
    return rc;
}

int
meshq_codec_decode_publish (meshq_span_t *cursor, uint32_t max_envelope,
                            meshq_publish_item_t *item, const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    meshq_reader_t reader;
    const void *data = NULL;
    int rc = s_item_open (&reader, cursor, 2, "publish: not an array of 2",
                          s_publish_why, why);
    if (rc)
        return rc;
    rc = meshq_reader_bool (&reader, &item->mandatory);
    if (rc == 0)
        rc = meshq_reader_bin (&reader, max_envelope, &data,
                               &item->envelope.size);
    if (rc)
        return s_fail (&reader, rc, s_publish_why, why);
    item->envelope.data = data;
    s_item_close (cursor, &reader);
    return 0;
}
