/*  amqp_content.c - AMQP content (Basic properties and a body) to and
    from a meshq envelope, the form the engine routes, stores and
    delivers (docs/PROTOCOL.md). What the envelope has no field for,
    message_id and type, travels in the headers under the keys below;
    header values the envelope cannot hold (nested tables, arrays,
    decimals) are left out (docs/FROM-RABBITMQ.md).
*/
#include "amqp_internal.h"
#include "codec.h"

#include <errno.h>

#define S_MESSAGE_ID "x-amqp-message-id"
#define S_TYPE       "x-amqp-type"

static void
s_string (meshq_envelope_t *envelope, meshq_field_t field, amqp_bytes_t value)
{
    envelope->strings[field] = (meshq_span_t){value.bytes, (uint32_t)value.len};
    envelope->present |= 1u << field;
}

bool
meshq_amqp_content_value (const amqp_field_value_t *in, meshq_value_t *out)
{
    switch (in->kind) {
        case AMQP_FIELD_KIND_BOOLEAN:
            out->type = MESHQ_VALUE_BOOL;
            out->u.boolean = in->value.boolean;
            return true;
        case AMQP_FIELD_KIND_I8:
            out->type = MESHQ_VALUE_INT, out->u.integer = in->value.i8;
            return true;
        case AMQP_FIELD_KIND_U8:
            out->type = MESHQ_VALUE_INT, out->u.integer = in->value.u8;
            return true;
        case AMQP_FIELD_KIND_I16:
            out->type = MESHQ_VALUE_INT, out->u.integer = in->value.i16;
            return true;
        case AMQP_FIELD_KIND_U16:
            out->type = MESHQ_VALUE_INT, out->u.integer = in->value.u16;
            return true;
        case AMQP_FIELD_KIND_I32:
            out->type = MESHQ_VALUE_INT, out->u.integer = in->value.i32;
            return true;
        case AMQP_FIELD_KIND_U32:
            out->type = MESHQ_VALUE_INT, out->u.integer = in->value.u32;
            return true;
        case AMQP_FIELD_KIND_I64:
            out->type = MESHQ_VALUE_INT, out->u.integer = in->value.i64;
            return true;
        case AMQP_FIELD_KIND_U64:
        case AMQP_FIELD_KIND_TIMESTAMP:
            out->type = MESHQ_VALUE_INT;
            out->u.integer = (int64_t)in->value.u64;
            return true;
        case AMQP_FIELD_KIND_F32:
            out->type = MESHQ_VALUE_DOUBLE, out->u.number = in->value.f32;
            return true;
        case AMQP_FIELD_KIND_F64:
            out->type = MESHQ_VALUE_DOUBLE, out->u.number = in->value.f64;
            return true;
        case AMQP_FIELD_KIND_UTF8:
        case AMQP_FIELD_KIND_BYTES:
            out->type = in->kind == AMQP_FIELD_KIND_UTF8 ? MESHQ_VALUE_STR
                                                         : MESHQ_VALUE_BIN;
            out->u.bytes.data = in->value.bytes.bytes;
            out->u.bytes.size = in->value.bytes.len;
            return true;
        case AMQP_FIELD_KIND_VOID:
            out->type = MESHQ_VALUE_NIL;
            return true;
        default:
            return false;
    }
}

int
meshq_amqp_content_encode (const char *exchange, const char *routing_key,
                           const amqp_basic_properties_t *p, const void *body,
                           size_t size, meshq_buf_t *out, const char **why)
{
    meshq_envelope_t envelope;
    memset (&envelope, 0, sizeof envelope);
    if (*exchange)
        s_string (&envelope, MESHQ_F_EXCHANGE, amqp_cstring_bytes (exchange));
    s_string (&envelope, MESHQ_F_ROUTING_KEY, amqp_cstring_bytes (routing_key));
    amqp_flags_t flags = p->_flags;
    if (flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
        s_string (&envelope, MESHQ_F_CONTENT_TYPE, p->content_type);
    if (flags & AMQP_BASIC_CONTENT_ENCODING_FLAG)
        s_string (&envelope, MESHQ_F_CONTENT_ENCODING, p->content_encoding);
    if (flags & AMQP_BASIC_CORRELATION_ID_FLAG)
        s_string (&envelope, MESHQ_F_CORRELATION_ID, p->correlation_id);
    if (flags & AMQP_BASIC_REPLY_TO_FLAG)
        s_string (&envelope, MESHQ_F_REPLY_TO, p->reply_to);
    if (flags & AMQP_BASIC_USER_ID_FLAG)
        s_string (&envelope, MESHQ_F_USER_ID, p->user_id);
    if (flags & AMQP_BASIC_APP_ID_FLAG)
        s_string (&envelope, MESHQ_F_APP_ID, p->app_id);
    if (flags & AMQP_BASIC_PRIORITY_FLAG) {
        //  AMQP's 0..255, meshq's 0..9 (as RabbitMQ caps a queue's).
        envelope.priority =
            p->priority > MESHQ_MAX_PRIORITY ? MESHQ_MAX_PRIORITY : p->priority;
        envelope.present |= 1u << MESHQ_F_PRIORITY;
    }
    if (flags & AMQP_BASIC_TIMESTAMP_FLAG) {
        envelope.timestamp = p->timestamp * 1000;
        envelope.present |= 1u << MESHQ_F_TIMESTAMP;
    }
    if (flags & AMQP_BASIC_EXPIRATION_FLAG) {
        char text[16];
        size_t n = p->expiration.len;
        bool good = n > 0 && n < sizeof text;
        if (good) {
            memcpy (text, p->expiration.bytes, n);
            text[n] = 0;
            for (size_t i = 0; i < n; i++)
                good &= text[i] >= '0' && text[i] <= '9';
        }
        unsigned long long ttl = good ? strtoull (text, NULL, 10) : 0;
        if (!good || ttl > UINT32_MAX) {
            *why = "invalid expiration: not a number of milliseconds";
            return MESHQ_EINVAL;
        }
        envelope.expiration = (uint32_t)ttl;
        envelope.present |= 1u << MESHQ_F_EXPIRATION;
    }
    envelope.delivery_mode = (flags & AMQP_BASIC_DELIVERY_MODE_FLAG) &&
                                     p->delivery_mode == MESHQ_PERSISTENT
                                 ? MESHQ_PERSISTENT
                                 : MESHQ_TRANSIENT;
    envelope.present |= 1u << MESHQ_F_DELIVERY_MODE;
    meshq_header_t headers[MESHQ_MAX_HEADERS];
    uint32_t count = 0;
    if (flags & AMQP_BASIC_HEADERS_FLAG)
        for (int i = 0; i < p->headers.num_entries; i++) {
            const amqp_table_entry_t *entry = &p->headers.entries[i];
            if (count == MESHQ_MAX_HEADERS - 2) {
                *why = "more headers than a message may have (126)";
                return MESHQ_ETOOBIG;
            }
            meshq_header_t *header = &headers[count];
            header->key =
                (meshq_span_t){entry->key.bytes, (uint32_t)entry->key.len};
            if (meshq_amqp_content_value (&entry->value, &header->value))
                count++;
        }
    if (flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
        headers[count].key = meshq_span (S_MESSAGE_ID);
        headers[count].value.type = MESHQ_VALUE_STR;
        headers[count].value.u.bytes.data = p->message_id.bytes;
        headers[count++].value.u.bytes.size = p->message_id.len;
    }
    if (flags & AMQP_BASIC_TYPE_FLAG) {
        headers[count].key = meshq_span (S_TYPE);
        headers[count].value.type = MESHQ_VALUE_STR;
        headers[count].value.u.bytes.data = p->type.bytes;
        headers[count++].value.u.bytes.size = p->type.len;
    }
    if (count) {
        envelope.headers = headers;
        envelope.header_count = count;
        envelope.present |= 1u << MESHQ_F_HEADERS;
    }
    envelope.body = (meshq_span_t){body, (uint32_t)size};
    envelope.present |= 1u << MESHQ_F_BODY;
    return meshq_codec_encode_envelope (&envelope, out, why);
}

static amqp_bytes_t
s_bytes (meshq_span_t span)
{
    amqp_bytes_t bytes = {span.size, (void *)span.data};
    return bytes;
}

static bool
s_is (meshq_span_t key, const char *name)
{
    return key.size == strlen (name) && memcmp (key.data, name, key.size) == 0;
}

int
meshq_amqp_content_decode (const void *data, size_t size,
                           meshq_envelope_t *envelope,
                           amqp_basic_properties_t *p, amqp_pool_t *pool)
{
    const char *why;
    int rc = meshq_codec_decode_envelope (data, size, SIZE_MAX, envelope, &why);
    if (rc)
        return rc;
    memset (p, 0, sizeof *p);
    uint32_t present = envelope->present;
    meshq_span_t *s = envelope->strings;
#define S_STRING(field, member, flag)                                          \
    if (present & (1u << (field))) {                                           \
        p->member = s_bytes (s[field]);                                        \
        p->_flags |= (flag);                                                   \
    }
    S_STRING (MESHQ_F_CONTENT_TYPE, content_type, AMQP_BASIC_CONTENT_TYPE_FLAG)
    S_STRING (MESHQ_F_CONTENT_ENCODING, content_encoding,
              AMQP_BASIC_CONTENT_ENCODING_FLAG)
    S_STRING (MESHQ_F_CORRELATION_ID, correlation_id,
              AMQP_BASIC_CORRELATION_ID_FLAG)
    S_STRING (MESHQ_F_REPLY_TO, reply_to, AMQP_BASIC_REPLY_TO_FLAG)
    S_STRING (MESHQ_F_USER_ID, user_id, AMQP_BASIC_USER_ID_FLAG)
    S_STRING (MESHQ_F_APP_ID, app_id, AMQP_BASIC_APP_ID_FLAG)
#undef S_STRING
    p->delivery_mode = envelope->delivery_mode == MESHQ_PERSISTENT
                           ? MESHQ_PERSISTENT
                           : MESHQ_TRANSIENT;
    p->_flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    if (present & (1u << MESHQ_F_PRIORITY)) {
        p->priority = envelope->priority;
        p->_flags |= AMQP_BASIC_PRIORITY_FLAG;
    }
    if (present & (1u << MESHQ_F_TIMESTAMP)) {
        p->timestamp = envelope->timestamp / 1000;
        p->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
    }
    if (present & (1u << MESHQ_F_EXPIRATION)) {
        char *text = amqp_pool_alloc (pool, 16);
        if (text) {
            int n = snprintf (text, 16, "%u", envelope->expiration);
            p->expiration = (amqp_bytes_t){(size_t)n, text};
            p->_flags |= AMQP_BASIC_EXPIRATION_FLAG;
        }
    }
    if (envelope->header_count) {
        amqp_table_entry_t *entries = amqp_pool_alloc (
            pool, envelope->header_count * sizeof (amqp_table_entry_t));
        int n = 0;
        meshq_span_t cursor = envelope->headers_raw;
        meshq_header_t header;
        while (entries && meshq_codec_header_next (&cursor, &header)) {
            meshq_value_t *v = &header.value;
            if (v->type == MESHQ_VALUE_STR && s_is (header.key, S_MESSAGE_ID)) {
                p->message_id =
                    (amqp_bytes_t){v->u.bytes.size, (void *)v->u.bytes.data};
                p->_flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
                continue;
            }
            if (v->type == MESHQ_VALUE_STR && s_is (header.key, S_TYPE)) {
                p->type =
                    (amqp_bytes_t){v->u.bytes.size, (void *)v->u.bytes.data};
                p->_flags |= AMQP_BASIC_TYPE_FLAG;
                continue;
            }
            amqp_table_entry_t *entry = &entries[n++];
            entry->key = s_bytes (header.key);
            amqp_field_value_t *value = &entry->value;
            switch (v->type) {
                case MESHQ_VALUE_BOOL:
                    value->kind = AMQP_FIELD_KIND_BOOLEAN;
                    value->value.boolean = v->u.boolean;
                    break;
                case MESHQ_VALUE_INT:
                    value->kind = AMQP_FIELD_KIND_I64;
                    value->value.i64 = v->u.integer;
                    break;
                case MESHQ_VALUE_DOUBLE:
                    value->kind = AMQP_FIELD_KIND_F64;
                    value->value.f64 = v->u.number;
                    break;
                case MESHQ_VALUE_STR:
                case MESHQ_VALUE_BIN:
                    value->kind = v->type == MESHQ_VALUE_STR
                                      ? AMQP_FIELD_KIND_UTF8
                                      : AMQP_FIELD_KIND_BYTES;
                    value->value.bytes = (amqp_bytes_t){
                        v->u.bytes.size, (void *)v->u.bytes.data};
                    break;
                default:
                    value->kind = AMQP_FIELD_KIND_VOID;
            }
        }
        if (n) {
            p->headers = (amqp_table_t){n, entries};
            p->_flags |= AMQP_BASIC_HEADERS_FLAG;
        }
    }
    return 0;
}
