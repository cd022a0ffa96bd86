/*  codec_swim.c - encodes and decodes membership messages.

    A message is a map: "v" protocol, "t" type, "f" the sender's record,
    and by type "s" probe number, "x" target (an id for PING, a record
    for REQ), "r" reply wanted (SYNC), "u" updates. A record is an array
    [state, id, incarnation, version, ip, port] with a seventh entry,
    the suspecter's id, on suspicions. An IPv4 address travels as 4
    bytes, any other as 16. Unknown keys are skipped.
*/
#include "codec_swim.h"
#include "codec_reader.h"
#include "codec_writer.h"
#include "meshq.h"

#include <string.h>

static const uint8_t s_v4_prefix[12] = {0, 0, 0, 0, 0,    0,
                                        0, 0, 0, 0, 0xff, 0xff};

static void
s_write_record (meshq_writer_t *w, const meshq_swim_update_t *u)
{
    //  Only a suspicion names its suspecter: the decoder refuses it
    //  on any other record.
    bool by = u->has_by && u->state == MESHQ_SWIM_SUSPECT;
    meshq_writer_array (w, by ? 7 : 6);
    meshq_writer_uint (w, u->state);
    meshq_writer_bin (w, u->id, 16);
    meshq_writer_uint (w, u->incarnation);
    meshq_writer_uint (w, u->version);
    if (memcmp (u->ip, s_v4_prefix, 12) == 0)
        meshq_writer_bin (w, u->ip + 12, 4);
    else
        meshq_writer_bin (w, u->ip, 16);
    meshq_writer_uint (w, u->port);
    if (by)
        meshq_writer_bin (w, u->by, 16);
}

int
meshq_codec_swim_encode (meshq_buf_t *out, const meshq_swim_msg_t *msg,
                         const meshq_swim_update_t *updates, uint32_t count)
{
    if (count > MESHQ_SWIM_UPDATES_MAX)
        return MESHQ_EINVAL;
    uint32_t type = msg->type;
    bool has_seq = type == MESHQ_SWIM_MSG_PING || type == MESHQ_SWIM_MSG_ACK ||
                   type == MESHQ_SWIM_MSG_NACK || type == MESHQ_SWIM_MSG_REQ;
    bool has_target = msg->has_target && (type == MESHQ_SWIM_MSG_PING ||
                                          type == MESHQ_SWIM_MSG_REQ);
    bool has_reply = type == MESHQ_SWIM_MSG_SYNC;
    meshq_writer_t w;
    meshq_writer_init (&w, out);
    meshq_writer_map (&w, 3 + has_seq + has_target + has_reply + (count > 0));
    meshq_writer_str (&w, "v");
    meshq_writer_uint (&w, MESHQ_SWIM_PROTOCOL);
    meshq_writer_str (&w, "t");
    meshq_writer_uint (&w, type);
    meshq_writer_str (&w, "f");
    s_write_record (&w, &msg->from);
    if (has_seq) {
        meshq_writer_str (&w, "s");
        meshq_writer_uint (&w, msg->seq);
    }
    if (has_target) {
        meshq_writer_str (&w, "x");
        if (type == MESHQ_SWIM_MSG_PING)
            meshq_writer_bin (&w, msg->target.id, 16);
        else
            s_write_record (&w, &msg->target);
    }
    if (has_reply) {
        meshq_writer_str (&w, "r");
        meshq_writer_bool (&w, msg->reply);
    }
    if (count > 0) {
        meshq_writer_str (&w, "u");
        meshq_writer_array (&w, count);
        for (uint32_t i = 0; i < count; i++)
            s_write_record (&w, &updates[i]);
    }
    return meshq_writer_error (&w);
}

static int
s_read_id (meshq_reader_t *r, uint8_t *id)
{
    const void *data;
    uint32_t size;
    if (meshq_reader_bin (r, 16, &data, &size) || size != 16)
        return MESHQ_EMALFORMED;
    memcpy (id, data, 16);
    return 0;
}

static int
s_read_record (meshq_reader_t *r, meshq_swim_update_t *u, const char **why)
{
    uint32_t count;
    uint64_t value;
    memset (u, 0, sizeof *u);
    *why = "record: not an array of 6 or 7";
    if (meshq_reader_array (r, 7, &count) || count < 6)
        return MESHQ_EMALFORMED;
    *why = "record: state not 0..3";
    if (meshq_reader_uint (r, MESHQ_SWIM_LEFT, &value))
        return MESHQ_EMALFORMED;
    u->state = (uint8_t)value;
    *why = "record: id not 16 bytes";
    if (s_read_id (r, u->id))
        return MESHQ_EMALFORMED;
    *why = "record: incarnation not an integer";
    if (meshq_reader_uint (r, UINT64_MAX, &u->incarnation))
        return MESHQ_EMALFORMED;
    *why = "record: version not a 32-bit integer";
    if (meshq_reader_uint (r, UINT32_MAX, &value))
        return MESHQ_EMALFORMED;
    u->version = (uint32_t)value;
    const void *ip;
    uint32_t size;
    *why = "record: address not 4 or 16 bytes";
    if (meshq_reader_bin (r, 16, &ip, &size) || (size != 4 && size != 16))
        return MESHQ_EMALFORMED;
    if (size == 4) {
        memcpy (u->ip, s_v4_prefix, 12);
        memcpy (u->ip + 12, ip, 4);
    } else
        memcpy (u->ip, ip, 16);
    *why = "record: port not 0..65535";
    if (meshq_reader_uint (r, UINT16_MAX, &value))
        return MESHQ_EMALFORMED;
    u->port = (uint16_t)value;
    if (count == 7) {
        *why = "record: suspecter not 16 bytes";
        if (u->state != MESHQ_SWIM_SUSPECT || s_read_id (r, u->by))
            return MESHQ_EMALFORMED;
        u->has_by = true;
    }
    return 0;
}

//  The keys, as bits, to refuse a key seen twice.
enum {
    S_KEY_V = 1,
    S_KEY_T = 2,
    S_KEY_F = 4,
    S_KEY_S = 8,
    S_KEY_X = 16,
    S_KEY_R = 32,
    S_KEY_U = 64,
};

static int
s_key_bit (const char *key, uint32_t size)
{
    if (size != 1)
        return 0;
    switch (key[0]) {
        case 'v':
            return S_KEY_V;
        case 't':
            return S_KEY_T;
        case 'f':
            return S_KEY_F;
        case 's':
            return S_KEY_S;
        case 'x':
            return S_KEY_X;
        case 'r':
            return S_KEY_R;
        case 'u':
            return S_KEY_U;
        default:
            return 0;
    }
}

static int
s_read_value (meshq_reader_t *r, int bit, meshq_swim_msg_t *msg,
              meshq_swim_update_t *updates, uint32_t cap, const char **why)
{
    uint64_t value;
    meshq_mptype_t type;
    switch (bit) {
        case S_KEY_V:
            *why = "v: not an integer";
            if (meshq_reader_uint (r, UINT32_MAX, &value))
                return MESHQ_EMALFORMED;
            *why = "v: a protocol version we do not speak";
            return value == MESHQ_SWIM_PROTOCOL ? 0 : MESHQ_EVERSION;
        case S_KEY_T:
            *why = "t: not a message type 1..6";
            if (meshq_reader_uint (r, MESHQ_SWIM_MSG_SYNC, &value) ||
                value < MESHQ_SWIM_MSG_PING)
                return MESHQ_EMALFORMED;
            msg->type = (uint32_t)value;
            return 0;
        case S_KEY_F:
            if (s_read_record (r, &msg->from, why))
                return MESHQ_EMALFORMED;
            *why = "f: the sender's record is not alive";
            return msg->from.state == MESHQ_SWIM_ALIVE ? 0 : MESHQ_EMALFORMED;
        case S_KEY_S:
            *why = "s: not an integer";
            return meshq_reader_uint (r, UINT64_MAX, &msg->seq)
                       ? MESHQ_EMALFORMED
                       : 0;
        case S_KEY_X:
            msg->has_target = true;
            *why = "x: not an id or a record";
            if (meshq_reader_peek (r, &type))
                return MESHQ_EMALFORMED;
            if (type == MESHQ_MP_BIN) {
                memset (&msg->target, 0, sizeof msg->target);
                return s_read_id (r, msg->target.id);
            }
            return s_read_record (r, &msg->target, why) ? MESHQ_EMALFORMED : 0;
        case S_KEY_R:
            *why = "r: not a bool";
            return meshq_reader_bool (r, &msg->reply) ? MESHQ_EMALFORMED : 0;
        case S_KEY_U: {
            uint32_t count;
            int rc = meshq_reader_array (r, cap, &count);
            *why = "u: more updates than allowed";
            if (rc == MESHQ_ETOOBIG)
                return MESHQ_ETOOBIG;
            *why = "u: not an array";
            if (rc)
                return MESHQ_EMALFORMED;
            for (uint32_t i = 0; i < count; i++)
                if (s_read_record (r, &updates[i], why))
                    return MESHQ_EMALFORMED;
            msg->count = count;
            return 0;
        }
        default:
            *why = "unknown key: not well-formed msgpack";
            return meshq_reader_skip (r, 4, 4096) ? MESHQ_EMALFORMED : 0;
    }
}

int
meshq_codec_swim_decode (const void *data, size_t size, meshq_swim_msg_t *msg,
                         meshq_swim_update_t *updates, uint32_t cap,
                         const char **why)
{
    memset (msg, 0, sizeof *msg);
    if (cap > MESHQ_SWIM_UPDATES_MAX)
        cap = MESHQ_SWIM_UPDATES_MAX;
    *why = "message larger than allowed";
    if (size > MESHQ_SWIM_MSG_MAX)
        return MESHQ_EMSGSIZE;
    meshq_reader_t r;
    meshq_reader_init (&r, data, size);
    uint32_t pairs;
    *why = "not a map";
    if (meshq_reader_map (&r, 16, &pairs))
        return MESHQ_EMALFORMED;
    int seen = 0;
    for (uint32_t i = 0; i < pairs; i++) {
        const char *key;
        uint32_t key_size;
        *why = "key: not a string";
        if (meshq_reader_str (&r, 16, &key, &key_size))
            return MESHQ_EMALFORMED;
        int bit = s_key_bit (key, key_size);
        *why = "key: given twice";
        if (bit & seen)
            return MESHQ_EMALFORMED;
        seen |= bit;
        int rc = s_read_value (&r, bit, msg, updates, cap, why);
        if (rc)
            return rc;
    }
    *why = "bytes after the message";
    if (meshq_reader_left (&r))
        return MESHQ_EMALFORMED;
    *why = "v, t or f missing";
    if ((seen & (S_KEY_V | S_KEY_T | S_KEY_F)) != (S_KEY_V | S_KEY_T | S_KEY_F))
        return MESHQ_EMALFORMED;
    uint32_t t = msg->type;
    bool needs_seq = t == MESHQ_SWIM_MSG_PING || t == MESHQ_SWIM_MSG_ACK ||
                     t == MESHQ_SWIM_MSG_NACK || t == MESHQ_SWIM_MSG_REQ;
    *why = "s missing";
    if (needs_seq && !(seen & S_KEY_S))
        return MESHQ_EMALFORMED;
    *why = "x missing or of the wrong kind";
    if (t == MESHQ_SWIM_MSG_REQ && !(seen & S_KEY_X))
        return MESHQ_EMALFORMED;
    if (t == MESHQ_SWIM_MSG_PING && !(seen & S_KEY_X))
        return MESHQ_EMALFORMED;
    return 0;
}
