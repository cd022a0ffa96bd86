/*  codec_peer.c - HELLO, PING, PONG, PEERS, BYE and UNLINK. See codec_peer.h and
    docs/PROTOCOL.md section 5.2.

    Decoding is table-driven (codec_fields.h); keys come in any order and
    unknown ones are skipped. Encoding writes the keys in table order.
*/
#include "codec_peer.h"
#include "codec_fields.h"
#include "codec_writer.h"

#include <string.h>

#define S_HELLO(key, kind, required, min, max, member)                         \
    MESHQ_CODEC_FIELD ("hello", key, kind, required, min, max, meshq_hello_t,  \
                       member)

static const meshq_codec_field_t s_hello_fields[] = {
    S_HELLO ("protocol", MESHQ_CODEC_UINT, true, 1, UINT64_MAX, protocol),
    S_HELLO ("node", MESHQ_CODEC_ID, true, 0, 16, node),
    S_HELLO ("incarnation", MESHQ_CODEC_UINT, true, 1, UINT64_MAX, incarnation),
    S_HELLO ("name", MESHQ_CODEC_STR, false, 0, 255, name),
    S_HELLO ("version", MESHQ_CODEC_STR, false, 0, 64, version),
    S_HELLO ("mesh", MESHQ_CODEC_STR, true, 0, 255, mesh),
    S_HELLO ("vhost", MESHQ_CODEC_STR, true, 0, 255, vhost),
    S_HELLO ("endpoint", MESHQ_CODEC_STR, true, 0, 255, endpoint),
    S_HELLO ("heartbeat_ms", MESHQ_CODEC_UINT, true, MESHQ_HEARTBEAT_MIN,
             MESHQ_HEARTBEAT_MAX, heartbeat_ms),
    S_HELLO ("timeout_ms", MESHQ_CODEC_UINT, true, 3 * MESHQ_HEARTBEAT_MIN,
             MESHQ_TIMEOUT_MAX, timeout_ms),
    S_HELLO ("session", MESHQ_CODEC_UINT, false, 0, UINT64_MAX, session),
    S_HELLO ("ack", MESHQ_CODEC_UINT, false, 0, UINT64_MAX, ack),
    S_HELLO ("commands", MESHQ_CODEC_STR, false, 0, 255, commands),
};
static const meshq_codec_map_t s_hello =
    MESHQ_CODEC_MAP ("hello", s_hello_fields);

typedef struct {
    uint64_t seq;  //  The sequence number.
} s_ping_t;

static const meshq_codec_field_t s_ping_fields[] = {
    MESHQ_CODEC_FIELD ("ping", "seq", MESHQ_CODEC_UINT, true, 0, UINT64_MAX,
                       s_ping_t, seq),
};
static const meshq_codec_map_t s_ping = MESHQ_CODEC_MAP ("ping", s_ping_fields);

typedef struct {
    meshq_span_t peers;  //  The raw array.
} s_peers_t;

static const meshq_codec_field_t s_peers_fields[] = {
    MESHQ_CODEC_FIELD ("peers", "peers", MESHQ_CODEC_ANY, true, 0,
                       MESHQ_MAX_HEADER_VALUE, s_peers_t, peers),
};
static const meshq_codec_map_t s_peers =
    MESHQ_CODEC_MAP ("peers", s_peers_fields);

#define S_ENTRY(key, kind, min, max, member)                                   \
    MESHQ_CODEC_FIELD ("peers entry", key, kind, true, min, max,               \
                       meshq_gossip_t, member)

static const meshq_codec_field_t s_entry_fields[] = {
    S_ENTRY ("node", MESHQ_CODEC_ID, 0, 16, node),
    S_ENTRY ("incarnation", MESHQ_CODEC_UINT, 1, UINT64_MAX, incarnation),
    S_ENTRY ("endpoint", MESHQ_CODEC_STR, 0, 255, endpoint),
};
static const meshq_codec_map_t s_entry =
    MESHQ_CODEC_MAP ("peers entry", s_entry_fields);
static const char *s_list_why[MESHQ_RERR_COUNT] =
    MESHQ_CODEC_REASONS ("peers peers");

//  BYE has no arguments yet; a newer sender's are skipped.
static const meshq_codec_map_t s_bye = MESHQ_CODEC_MAP_OF ("bye", NULL, 0);

typedef struct {
    uint64_t done;  //  0: asked; 1: closed.
} s_unlink_t;

static const meshq_codec_field_t s_unlink_fields[] = {
    MESHQ_CODEC_FIELD ("unlink", "done", MESHQ_CODEC_UINT, true, 0, 1,
                       s_unlink_t, done),
};
static const meshq_codec_map_t s_unlink =
    MESHQ_CODEC_MAP ("unlink", s_unlink_fields);

meshq_peer_cmd_t
meshq_codec_peer_command (const void *data, size_t size)
{
    const char *command = data;
    if (size == 0 || size > MESHQ_COMMAND_MAX)
        return MESHQ_PEER_CMD_INVALID;
    for (size_t i = 0; i < size; i++) {
        char c = command[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9' && i > 0) ||
              (c == '_' && i > 0)))
            return MESHQ_PEER_CMD_INVALID;
    }
    static const struct {
        const char *name;       //  The command.
        meshq_peer_cmd_t code;  //  Its code.
    } s_commands[] = {
        {"HELLO", MESHQ_PEER_CMD_HELLO}, {"PING", MESHQ_PEER_CMD_PING},
        {"PONG", MESHQ_PEER_CMD_PONG},   {"PEERS", MESHQ_PEER_CMD_PEERS},
        {"BYE", MESHQ_PEER_CMD_BYE},     {"UNLINK", MESHQ_PEER_CMD_UNLINK},
    };
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strlen (s_commands[i].name) == size &&
            memcmp (s_commands[i].name, command, size) == 0)
            return s_commands[i].code;
    return MESHQ_PEER_CMD_OTHER;
}

//  Checks a string the encoder is asked to write.
static int
s_check_str (meshq_span_t value, uint32_t max, bool required,
             const char *too_long, const char *bad, const char **why)
{
    if (value.size > max) {
        *why = too_long;
        return MESHQ_ETOOBIG;
    }
    //  An absent optional string is {NULL, 0}: nothing to check.
    if (value.size == 0 ? required
                        : !meshq_utf8_valid (value.data, value.size)) {
        *why = bad;
        return MESHQ_EINVAL;
    }
    return 0;
}

static void
s_write_span (meshq_writer_t *writer, const char *key, meshq_span_t value)
{
    meshq_writer_str (writer, key);
    meshq_writer_strn (writer, value.data ? value.data : "", value.size);
}

static int
s_check_hello (const meshq_hello_t *hello, const char **why)
{
    int rc = s_check_str (hello->name, 255, false, "hello name: too long",
                          "hello name: not valid UTF-8", why);
    if (rc == 0)
        rc = s_check_str (hello->version, 64, false, "hello version: too long",
                          "hello version: not valid UTF-8", why);
    if (rc == 0)
        rc = s_check_str (hello->commands, 255, false,
                          "hello commands: too long",
                          "hello commands: not valid UTF-8", why);
    if (rc == 0)
        rc = s_check_str (hello->mesh, 255, true, "hello mesh: too long",
                          "hello mesh: empty or not valid UTF-8", why);
    if (rc == 0)
        rc = s_check_str (hello->vhost, 255, true, "hello vhost: too long",
                          "hello vhost: empty or not valid UTF-8", why);
    if (rc == 0)
        rc =
            s_check_str (hello->endpoint, 255, true, "hello endpoint: too long",
                         "hello endpoint: empty or not valid UTF-8", why);
    if (rc)
        return rc;
    if (hello->incarnation == 0) {
        *why = "hello incarnation: out of range";
        return MESHQ_ERANGE;
    }
    if (hello->heartbeat_ms < MESHQ_HEARTBEAT_MIN ||
        hello->heartbeat_ms > MESHQ_HEARTBEAT_MAX) {
        *why = "hello heartbeat_ms: out of range";
        return MESHQ_ERANGE;
    }
    if (hello->timeout_ms < 3 * hello->heartbeat_ms ||
        hello->timeout_ms > MESHQ_TIMEOUT_MAX) {
        *why = "hello timeout_ms: out of range";
        return MESHQ_ERANGE;
    }
    return 0;
}

int
meshq_codec_encode_hello (const meshq_hello_t *hello, meshq_buf_t *out,
                          const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    int rc = s_check_hello (hello, why);
    if (rc)
        return rc;
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    //  Session numbers only once there is a session: a seed probe has
    //  none, and an older agent skips the keys.
    //  Commands only when there are some: an older agent skips the key.
    meshq_writer_map (&writer, (hello->session ? 12u : 10u) +
                                   (hello->commands.size ? 1u : 0u));
    meshq_writer_str (&writer, "protocol");
    meshq_writer_uint (&writer, MESHQ_PEER_PROTOCOL);
    meshq_writer_str (&writer, "node");
    meshq_writer_bin (&writer, hello->node, 16);
    meshq_writer_str (&writer, "incarnation");
    meshq_writer_uint (&writer, hello->incarnation);
    s_write_span (&writer, "name", hello->name);
    s_write_span (&writer, "version", hello->version);
    s_write_span (&writer, "mesh", hello->mesh);
    s_write_span (&writer, "vhost", hello->vhost);
    s_write_span (&writer, "endpoint", hello->endpoint);
    meshq_writer_str (&writer, "heartbeat_ms");
    meshq_writer_uint (&writer, hello->heartbeat_ms);
    meshq_writer_str (&writer, "timeout_ms");
    meshq_writer_uint (&writer, hello->timeout_ms);
    if (hello->session) {
        meshq_writer_str (&writer, "session");
        meshq_writer_uint (&writer, hello->session);
        meshq_writer_str (&writer, "ack");
        meshq_writer_uint (&writer, hello->ack);
    }
    if (hello->commands.size)
        s_write_span (&writer, "commands", hello->commands);
    rc = meshq_writer_error (&writer);
    if (rc) {
        out->size = start;
        *why = "hello: out of memory";
    }
    return rc;
}

int
meshq_codec_decode_hello (const void *data, size_t size, meshq_hello_t *hello,
                          const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    memset (hello, 0, sizeof *hello);
    int rc = meshq_codec_fields_decode (data, size, &s_hello, hello, why);
    if (rc)
        return rc;
    if (hello->protocol != MESHQ_PEER_PROTOCOL) {
        *why = "hello protocol: not a version this agent speaks (1)";
        return MESHQ_EVERSION;
    }
    //  The same checks as the encoder: what we accept, we could send.
    return s_check_hello (hello, why);
}

int
meshq_codec_encode_ping (uint64_t seq, meshq_buf_t *out)
{
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_map (&writer, 1);
    meshq_writer_str (&writer, "seq");
    meshq_writer_uint (&writer, seq);
    return meshq_writer_error (&writer);
}

int
meshq_codec_decode_ping (const void *data, size_t size, uint64_t *seq,
                         const char **why)
{
    s_ping_t ping = {0};
    int rc = meshq_codec_fields_decode (data, size, &s_ping, &ping, why);
    *seq = ping.seq;
    return rc;
}

int
meshq_codec_encode_peers (const meshq_gossip_t *entries, uint32_t count,
                          meshq_buf_t *out, const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    if (count > MESHQ_GOSSIP_MAX) {
        *why = "peers peers: more than 1024 entries";
        return MESHQ_ETOOBIG;
    }
    for (uint32_t i = 0; i < count; i++) {
        int rc = s_check_str (
            entries[i].endpoint, 255, true, "peers entry endpoint: too long",
            "peers entry endpoint: empty or not valid UTF-8", why);
        if (rc)
            return rc;
        if (entries[i].incarnation == 0) {
            *why = "peers entry incarnation: out of range";
            return MESHQ_ERANGE;
        }
    }
    size_t start = out->size;
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_map (&writer, 1);
    meshq_writer_str (&writer, "peers");
    meshq_writer_array (&writer, count);
    for (uint32_t i = 0; i < count; i++) {
        meshq_writer_map (&writer, 3);
        meshq_writer_str (&writer, "node");
        meshq_writer_bin (&writer, entries[i].node, 16);
        meshq_writer_str (&writer, "incarnation");
        meshq_writer_uint (&writer, entries[i].incarnation);
        s_write_span (&writer, "endpoint", entries[i].endpoint);
    }
    int rc = meshq_writer_error (&writer);
    if (rc) {
        out->size = start;
        *why = "peers: out of memory";
    }
    return rc;
}

int
meshq_codec_decode_peers (const void *data, size_t size,
                          meshq_gossip_t *entries, uint32_t cap,
                          uint32_t *count, const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    *count = 0;
    s_peers_t peers = {{0}};
    int rc = meshq_codec_fields_decode (data, size, &s_peers, &peers, why);
    if (rc)
        return rc;
    meshq_reader_t reader;
    meshq_reader_init (&reader, peers.peers.data, peers.peers.size);
    uint32_t entry_count;
    rc = meshq_reader_array (
        &reader, cap < MESHQ_GOSSIP_MAX ? cap : MESHQ_GOSSIP_MAX, &entry_count);
    if (rc) {
        *why = s_list_why[reader.error];
        return rc;
    }
    for (uint32_t i = 0; i < entry_count; i++) {
        meshq_gossip_t *entry = &entries[i];
        memset (entry, 0, sizeof *entry);
        rc = meshq_codec_fields_read (&reader, &s_entry, entry, why);
        if (rc)
            return rc;
        rc = s_check_str (
            entry->endpoint, 255, true, "peers entry endpoint: too long",
            "peers entry endpoint: empty or not valid UTF-8", why);
        if (rc)
            return rc;
    }
    *count = entry_count;
    return 0;
}

int
meshq_codec_encode_bye (meshq_buf_t *out)
{
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_map (&writer, 0);
    return meshq_writer_error (&writer);
}

int
meshq_codec_decode_bye (const void *data, size_t size, const char **why)
{
    return meshq_codec_fields_decode (data, size, &s_bye, NULL, why);
}

int
meshq_codec_encode_unlink (bool done, meshq_buf_t *out)
{
    meshq_writer_t writer;
    meshq_writer_init (&writer, out);
    meshq_writer_map (&writer, 1);
    meshq_writer_str (&writer, "done");
    meshq_writer_uint (&writer, done ? 1 : 0);
    return meshq_writer_error (&writer);
}

int
meshq_codec_decode_unlink (const void *data, size_t size, bool *done,
                           const char **why)
{
    s_unlink_t frame = {0};
    int rc = meshq_codec_fields_decode (data, size, &s_unlink, &frame, why);
    *done = rc == 0 && frame.done == 1;
    return rc;
}
