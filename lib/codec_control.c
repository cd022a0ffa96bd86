/*  codec_control.c - requests and replies between clients and agents.
    See codec_control.h and docs/PROTOCOL.md section 2.
*/
#include "codec_control.h"
#include "codec_fields.h"
#include "codec_writer.h"

#include <string.h>

//  Keys longest looked at.
#define S_MAX_KEY 64

typedef struct {
    uint64_t rid;  //  The request id.
} s_request_t;

static const meshq_codec_field_t s_request_fields[] = {
    MESHQ_CODEC_FIELD ("request", "rid", MESHQ_CODEC_UINT, true, 0, UINT64_MAX,
                       s_request_t, rid),
};
static const meshq_codec_map_t s_request =
    MESHQ_CODEC_MAP ("request", s_request_fields);

#define S_ERROR(key, kind, required, min, max, member)                         \
    MESHQ_CODEC_FIELD ("error", key, kind, required, min, max,                 \
                       meshq_error_reply_t, member)

static const meshq_codec_field_t s_error_fields[] = {
    S_ERROR ("rid", MESHQ_CODEC_UINT, true, 0, UINT64_MAX, rid),
    S_ERROR ("code", MESHQ_CODEC_INT, true, -1000, 0, code),
    S_ERROR ("why", MESHQ_CODEC_STR, true, 0, 4096, why),
};
static const meshq_codec_map_t s_error =
    MESHQ_CODEC_MAP ("error", s_error_fields);

#define S_STATUS(key, kind, min, max, member)                                  \
    MESHQ_CODEC_FIELD ("status", key, kind, true, min, max, meshq_status_t,    \
                       member)

static const meshq_codec_field_t s_status_fields[] = {
    S_STATUS ("rid", MESHQ_CODEC_UINT, 0, UINT64_MAX, rid),
    S_STATUS ("node", MESHQ_CODEC_STR, 0, 255, node),
    S_STATUS ("name", MESHQ_CODEC_STR, 0, 255, name),
    S_STATUS ("mesh", MESHQ_CODEC_STR, 0, 255, mesh),
    S_STATUS ("vhost", MESHQ_CODEC_STR, 0, 255, vhost),
    S_STATUS ("version", MESHQ_CODEC_STR, 0, 64, version),
    S_STATUS ("endpoint", MESHQ_CODEC_STR, 0, 255, endpoint),
    S_STATUS ("uptime_ms", MESHQ_CODEC_UINT, 0, UINT64_MAX, uptime_ms),
    S_STATUS ("peers", MESHQ_CODEC_UINT, 0, UINT64_MAX, peers),
};
static const meshq_codec_map_t s_status =
    MESHQ_CODEC_MAP ("status", s_status_fields);

typedef struct {
    uint64_t rid;        //  The request id.
    meshq_span_t peers;  //  The raw array.
} s_list_t;

static const meshq_codec_field_t s_list_fields[] = {
    MESHQ_CODEC_FIELD ("list_peers", "rid", MESHQ_CODEC_UINT, true, 0,
                       UINT64_MAX, s_list_t, rid),
    MESHQ_CODEC_FIELD ("list_peers", "peers", MESHQ_CODEC_ANY, true, 0,
                       MESHQ_MAX_HEADER_VALUE, s_list_t, peers),
};
static const meshq_codec_map_t s_list =
    MESHQ_CODEC_MAP ("list_peers", s_list_fields);
static const char *s_rows_why[MESHQ_RERR_COUNT] =
    MESHQ_CODEC_REASONS ("list_peers peers");

#define S_ROW(key, kind, max, member)                                          \
    MESHQ_CODEC_FIELD ("peer", key, kind, true, 0, max, meshq_peer_row_t,      \
                       member)

static const meshq_codec_field_t s_row_fields[] = {
    S_ROW ("id", MESHQ_CODEC_STR, 255, id),
    S_ROW ("name", MESHQ_CODEC_STR, 255, name),
    S_ROW ("endpoint", MESHQ_CODEC_STR, 255, endpoint),
    S_ROW ("state", MESHQ_CODEC_STR, 16, state),
    S_ROW ("incarnation", MESHQ_CODEC_UINT, UINT64_MAX, incarnation),
    S_ROW ("last_seen_ms", MESHQ_CODEC_UINT, UINT64_MAX, last_seen_ms),
};
static const meshq_codec_map_t s_row = MESHQ_CODEC_MAP ("peer", s_row_fields);

static const char *s_stats_why[MESHQ_RERR_COUNT] =
    MESHQ_CODEC_REASONS ("stats");

static void
s_span (meshq_writer_t *writer, const char *key, meshq_span_t value)
{
    meshq_writer_str (writer, key);
    meshq_writer_strn (writer, value.data ? value.data : "", value.size);
}

static void
s_uint (meshq_writer_t *writer, const char *key, uint64_t value)
{
    meshq_writer_str (writer, key);
    meshq_writer_uint (writer, value);
}

//  Ends an encoding: on failure, takes back what was written.
static int
s_finish (meshq_writer_t *writer, meshq_buf_t *out, size_t start)
{
    int rc = meshq_writer_error (writer);
    if (rc)
        out->size = start;
    return rc;
}

int
meshq_codec_encode_request (uint64_t rid, meshq_buf_t *out)
{
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_map (&writer, 1);
    s_uint (&writer, "rid", rid);
    return s_finish (&writer, out, start);
}

int
meshq_codec_decode_request (const void *data, size_t size, uint64_t *rid,
                            const char **why)
{
    s_request_t request = {0};
    int rc = meshq_codec_fields_decode (data, size, &s_request, &request, why);
    *rid = request.rid;
    return rc;
}

int
meshq_codec_encode_error (const meshq_error_reply_t *error, meshq_buf_t *out)
{
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_map (&writer, 3);
    s_uint (&writer, "rid", error->rid);
    meshq_writer_str (&writer, "code");
    meshq_writer_int (&writer, error->code);
    s_span (&writer, "why", error->why);
    return s_finish (&writer, out, start);
}

int
meshq_codec_decode_error (const void *data, size_t size,
                          meshq_error_reply_t *error, const char **why)
{
    memset (error, 0, sizeof *error);
    return meshq_codec_fields_decode (data, size, &s_error, error, why);
}

int
meshq_codec_encode_status (const meshq_status_t *status, meshq_buf_t *out)
{
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_map (&writer, 9);
    s_uint (&writer, "rid", status->rid);
    s_span (&writer, "node", status->node);
    s_span (&writer, "name", status->name);
    s_span (&writer, "mesh", status->mesh);
    s_span (&writer, "vhost", status->vhost);
    s_span (&writer, "version", status->version);
    s_span (&writer, "endpoint", status->endpoint);
    s_uint (&writer, "uptime_ms", status->uptime_ms);
    s_uint (&writer, "peers", status->peers);
    return s_finish (&writer, out, start);
}

int
meshq_codec_decode_status (const void *data, size_t size,
                           meshq_status_t *status, const char **why)
{
    memset (status, 0, sizeof *status);
    return meshq_codec_fields_decode (data, size, &s_status, status, why);
}

int
meshq_codec_encode_peer_list (uint64_t rid, const meshq_peer_row_t *rows,
                              uint32_t count, meshq_buf_t *out)
{
    if (count > MESHQ_CONTROL_ROWS_MAX)
        return MESHQ_ETOOBIG;
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_map (&writer, 2);
    s_uint (&writer, "rid", rid);
    meshq_writer_str (&writer, "peers");
    meshq_writer_array (&writer, count);
    for (uint32_t i = 0; i < count; i++) {
        const meshq_peer_row_t *row = &rows[i];
        meshq_writer_map (&writer, 6);
        s_span (&writer, "id", row->id);
        s_span (&writer, "name", row->name);
        s_span (&writer, "endpoint", row->endpoint);
        s_span (&writer, "state", row->state);
        s_uint (&writer, "incarnation", row->incarnation);
        s_uint (&writer, "last_seen_ms", row->last_seen_ms);
    }
    return s_finish (&writer, out, start);
}

int
meshq_codec_decode_peer_list (const void *data, size_t size, uint64_t *rid,
                              meshq_peer_row_t *rows, uint32_t cap,
                              uint32_t *count, const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    *count = 0;
    s_list_t list = {0};
    int rc = meshq_codec_fields_decode (data, size, &s_list, &list, why);
    if (rc)
        return rc;
    *rid = list.rid;
    meshq_reader_t reader;
    meshq_reader_init (&reader, list.peers.data, list.peers.size);
    uint32_t rows_count;
    rc = meshq_reader_array (&reader, cap, &rows_count);
    if (rc) {
        *why = s_rows_why[reader.error];
        return rc;
    }
    for (uint32_t i = 0; i < rows_count; i++) {
        memset (&rows[i], 0, sizeof rows[i]);
        rc = meshq_codec_fields_read (&reader, &s_row, &rows[i], why);
        if (rc)
            return rc;
    }
    *count = rows_count;
    return 0;
}

int
meshq_codec_encode_counters (uint64_t rid, const meshq_counter_t *counters,
                             uint32_t count, meshq_buf_t *out)
{
    if (count >= MESHQ_CONTROL_COUNTERS_MAX)
        return MESHQ_ETOOBIG;
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_map (&writer, count + 1);
    s_uint (&writer, "rid", rid);
    for (uint32_t i = 0; i < count; i++) {
        meshq_writer_strn (&writer, counters[i].name.data,
                           counters[i].name.size);
        meshq_writer_uint (&writer, counters[i].value);
    }
    return s_finish (&writer, out, start);
}

int
meshq_codec_decode_counters (const void *data, size_t size,
                             meshq_counter_t *counters, uint32_t cap,
                             uint32_t *count, const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    *count = 0;
    meshq_reader_t reader;
    meshq_reader_init (&reader, data, size);
    uint32_t entries;
    int rc = meshq_reader_map (&reader, MESHQ_CONTROL_COUNTERS_MAX, &entries);
    for (uint32_t i = 0; rc == 0 && i < entries; i++) {
        meshq_span_t name;
        rc = meshq_reader_str (&reader, S_MAX_KEY, &name.data, &name.size);
        meshq_mptype_t type = MESHQ_MP_NIL;
        if (rc == 0)
            rc = meshq_reader_peek (&reader, &type);
        if (rc)
            break;
        bool rid = name.size == 3 && memcmp (name.data, "rid", 3) == 0;
        if (type != MESHQ_MP_UINT || rid) {
            //  Not a counter: a newer agent's other results.
            rc = meshq_reader_skip (&reader, MESHQ_CODEC_MAX_DEPTH - 1,
                                    MESHQ_MAX_HEADER_VALUE);
            continue;
        }
        if (*count == cap) {
            *why = "stats: more counters than room";
            return MESHQ_ETOOBIG;
        }
        counters[*count].name = name;
        rc = meshq_reader_uint (&reader, UINT64_MAX, &counters[*count].value);
        if (rc == 0)
            (*count)++;
    }
    if (rc) {
        *why = s_stats_why[reader.error];
        return rc;
    }
    if (meshq_reader_left (&reader)) {
        *why = "stats: bytes after the end of the map";
        return MESHQ_EMALFORMED;
    }
    return 0;
}

//  Walks a map's entries; for each calls fn with the raw key and value.
//  Stops when fn returns nonzero, and returns that.
typedef int (s_entry_fn) (void *arg, meshq_span_t key, meshq_span_t pair,
                          meshq_span_t value);

static int
s_walk (const void *data, size_t size, uint32_t *count, s_entry_fn *fn,
        void *arg)
{
    meshq_reader_t reader;
    meshq_reader_init (&reader, data, size);
    int rc = meshq_reader_map (&reader, UINT32_MAX, count);
    for (uint32_t i = 0; rc == 0 && i < *count; i++) {
        meshq_span_t pair = {(const char *)reader.pos, 0};
        meshq_span_t key = {NULL, 0};
        meshq_mptype_t type;
        rc = meshq_reader_peek (&reader, &type);
        if (rc == 0 && type == MESHQ_MP_STR)
            rc = meshq_reader_str (&reader, UINT32_MAX, &key.data, &key.size);
        else if (rc == 0)
            rc = meshq_reader_skip (&reader, MESHQ_CODEC_MAX_DEPTH - 1,
                                    UINT32_MAX);
        meshq_span_t value = {(const char *)reader.pos, 0};
        if (rc == 0)
            rc = meshq_reader_skip (&reader, MESHQ_CODEC_MAX_DEPTH - 1,
                                    UINT32_MAX);
        value.size = (uint32_t)((const char *)reader.pos - value.data);
        pair.size = (uint32_t)((const char *)reader.pos - pair.data);
        if (rc == 0)
            rc = fn (arg, key, pair, value);
    }
    if (rc == 0 && meshq_reader_left (&reader))
        rc = MESHQ_EMALFORMED;
    return rc;
}

typedef struct {
    const char *key;      //  Key looked for.
    meshq_span_t *value;  //  Where its value goes (map_get).
    meshq_buf_t *out;     //  Where other pairs go (map_without).
    uint32_t matches;     //  Pairs with the key (map_without).
} s_find_t;

static bool
s_key_is (meshq_span_t key, const char *text)
{
    return key.data && key.size == strlen (text) &&
           memcmp (key.data, text, key.size) == 0;
}

static int
s_find_fn (void *arg, meshq_span_t key, meshq_span_t pair, meshq_span_t value)
{
    (void)pair;
    s_find_t *find = arg;
    if (!s_key_is (key, find->key))
        return 0;
    *find->value = value;
    return 1;  //  Found: stop.
}

int
meshq_codec_map_get (const void *data, size_t size, const char *key,
                     meshq_span_t *value)
{
    s_find_t find = {key, value, NULL, 0};
    uint32_t count;
    int rc = s_walk (data, size, &count, s_find_fn, &find);
    return rc == 1 ? 0 : rc ? rc : MESHQ_ENOTFOUND;
}

static int
s_copy_fn (void *arg, meshq_span_t key, meshq_span_t pair, meshq_span_t value)
{
    (void)value;
    s_find_t *find = arg;
    if (s_key_is (key, find->key))
        return 0;
    return meshq_buf_append (find->out, pair.data, pair.size);
}

static int
s_count_fn (void *arg, meshq_span_t key, meshq_span_t pair, meshq_span_t value)
{
    (void)pair;
    (void)value;
    s_find_t *find = arg;
    if (s_key_is (key, find->key))
        find->matches++;
    return 0;
}

int
meshq_codec_map_without (const void *data, size_t size, const char *key,
                         meshq_buf_t *out)
{
    uint32_t count;
    s_find_t find = {key, NULL, out, 0};
    int rc = s_walk (data, size, &count, s_count_fn, &find);
    if (rc)
        return rc;
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_map (&writer, count - find.matches);
    rc = meshq_writer_error (&writer);
    if (rc == 0)
        rc = s_walk (data, size, &count, s_copy_fn, &find);
    if (rc)
        out->size = start;
    return rc;
}
