/*  msg.c - a message: properties, headers and a body. See meshq_msg.h.

    A message keeps its fields in the form the codec's envelope view
    uses (see msg_internal.h); msg_frame.c encodes and decodes it. A
    decoded message holds everything it copied out of the frame in one
    allocation, the arena; values set later are allocated one by one
    and freed when replaced.
*/
#include "meshq.h"
#include "buf.h"
#include "cache.h"
#include "codec_reader.h"
#include "msg_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  True when p was allocated on its own (not NULL, not in the arena).
static bool
s_owned (const meshq_msg_t *self, const void *p)
{
    const char *c = p;
    return c && !(self->arena && c >= self->arena &&
                  c < self->arena + self->arena_size);
}

static void
s_release (meshq_msg_t *self, const void *p)
{
    if (s_owned (self, p))
        free ((void *)p);
}

//  Copies size bytes and a NUL into a new allocation.
static char *
s_copy (const void *data, size_t size)
{
    char *copy = malloc (size + 1);
    assert (copy);
    if (size)
        memcpy (copy, data, size);
    copy[size] = 0;
    return copy;
}

meshq_msg_t *
meshq_msg_new (void)
{
    meshq_msg_t *self = calloc (1, sizeof *self);
    assert (self);
    self->delivery_mode = MESHQ_PERSISTENT;
    return self;
}

static void
s_free_header (meshq_msg_t *self, meshq_header_t *header)
{
    s_release (self, header->key.data);
    if (header->value.type == MESHQ_VALUE_STR ||
        header->value.type == MESHQ_VALUE_BIN)
        s_release (self, header->value.u.bytes.data);
}

void
meshq_msg_destroy (meshq_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    meshq_msg_t *self = *self_p;
    for (int f = 0; f < MESHQ_F_COUNT; f++)
        s_release (self, self->strings[f].data);
    s_release (self, self->body.data);
    for (uint32_t i = 0; i < self->header_count; i++)
        s_free_header (self, &self->headers[i]);
    s_release (self, self->headers);
    s_release (self, self->unknown.data);
    //  A decoded message's arena is part of it.
    if (self->capacity)
        meshq_cache_free (self, self->capacity);
    else
        free (self);
    *self_p = NULL;
}

meshq_msg_t *
meshq_msg_dup (const meshq_msg_t *self)
{
    assert (self);
    uint8_t *data;
    size_t size;
    meshq_msg_t *copy = NULL;
    //  Setters keep every field within the format's caps, so a message
    //  always encodes; only memory can fail, and that aborts as in new.
    int rc = meshq_msg_encode (self, &data, &size);
    assert (rc == 0);
    rc = meshq_msg_decode (data, size, SIZE_MAX, &copy, NULL);
    assert (rc == 0);
    (void)rc;
    free (data);
    return copy;
}

int
meshq_msg_set_body (meshq_msg_t *self, const void *data, size_t size)
{
    assert (self);
    if (size > UINT32_MAX)
        return MESHQ_EMSGSIZE;
    if (size && !data)
        return MESHQ_EINVAL;
    //  A body of its own of the same size is overwritten: a publisher
    //  that sets a body per message allocates nothing after the first.
    if (size && size == self->body.size && s_owned (self, self->body.data)) {
        memmove ((char *)self->body.data, data, size);
        return 0;
    }
    char *copy = malloc (size ? size : 1);
    assert (copy);
    if (size)
        memcpy (copy, data, size);
    s_release (self, self->body.data);
    self->body.data = copy;
    self->body.size = (uint32_t)size;
    self->present |= 1u << MESHQ_F_BODY;
    return 0;
}

const void *
meshq_msg_body (const meshq_msg_t *self, size_t *size)
{
    assert (self);
    if (size)
        *size = self->body.size;
    return self->body.data ? self->body.data : "";
}

static int
s_set_string (meshq_msg_t *self, meshq_field_t field, const char *value)
{
    assert (self);
    if (value) {
        size_t size = strlen (value);
        if (size > MESHQ_MAX_SHORTSTR)
            return MESHQ_ETOOBIG;
        if (!meshq_utf8_valid (value, size))
            return MESHQ_EINVAL;
        char *copy = s_copy (value, size);
        s_release (self, self->strings[field].data);
        self->strings[field].data = copy;
        self->strings[field].size = (uint32_t)size;
        self->present |= 1u << field;
    } else {
        s_release (self, self->strings[field].data);
        self->strings[field].data = NULL;
        self->strings[field].size = 0;
        self->present &= ~(1u << field);
    }
    return 0;
}

#define S_STRING_PROPERTY(name, field)                                         \
    int meshq_msg_set_##name (meshq_msg_t *self, const char *value)            \
    {                                                                          \
        return s_set_string (self, field, value);                              \
    }                                                                          \
    const char *meshq_msg_##name (const meshq_msg_t *self)                     \
    {                                                                          \
        assert (self);                                                         \
        return self->strings[field].data;                                      \
    }

S_STRING_PROPERTY (exchange, MESHQ_F_EXCHANGE)
S_STRING_PROPERTY (routing_key, MESHQ_F_ROUTING_KEY)
S_STRING_PROPERTY (content_type, MESHQ_F_CONTENT_TYPE)
S_STRING_PROPERTY (content_encoding, MESHQ_F_CONTENT_ENCODING)
S_STRING_PROPERTY (correlation_id, MESHQ_F_CORRELATION_ID)
S_STRING_PROPERTY (reply_to, MESHQ_F_REPLY_TO)
S_STRING_PROPERTY (user_id, MESHQ_F_USER_ID)
S_STRING_PROPERTY (app_id, MESHQ_F_APP_ID)

int
meshq_msg_set_priority (meshq_msg_t *self, int priority)
{
    assert (self);
    if (priority < 0 || priority > MESHQ_MAX_PRIORITY)
        return MESHQ_ERANGE;
    self->priority = (uint8_t)priority;
    self->present |= 1u << MESHQ_F_PRIORITY;
    return 0;
}

int
meshq_msg_priority (const meshq_msg_t *self)
{
    assert (self);
    return self->priority;
}

void
meshq_msg_set_timestamp (meshq_msg_t *self, uint64_t timestamp_ms)
{
    assert (self);
    self->timestamp = timestamp_ms;
    self->present |= 1u << MESHQ_F_TIMESTAMP;
}

uint64_t
meshq_msg_timestamp (const meshq_msg_t *self)
{
    assert (self);
    return self->timestamp;
}

int
meshq_msg_set_expiration (meshq_msg_t *self, int64_t ttl_ms)
{
    assert (self);
    if (ttl_ms < -1 || ttl_ms > (int64_t)UINT32_MAX)
        return MESHQ_ERANGE;
    if (ttl_ms == -1) {
        self->expiration = 0;
        self->present &= ~(1u << MESHQ_F_EXPIRATION);
    } else {
        self->expiration = (uint32_t)ttl_ms;
        self->present |= 1u << MESHQ_F_EXPIRATION;
    }
    return 0;
}

int64_t
meshq_msg_expiration (const meshq_msg_t *self)
{
    assert (self);
    if (!(self->present & (1u << MESHQ_F_EXPIRATION)))
        return -1;
    return self->expiration;
}

int
meshq_msg_set_delivery_mode (meshq_msg_t *self, int mode)
{
    assert (self);
    if (mode != MESHQ_TRANSIENT && mode != MESHQ_PERSISTENT)
        return MESHQ_ERANGE;
    self->delivery_mode = (uint8_t)mode;
    self->present |= 1u << MESHQ_F_DELIVERY_MODE;
    return 0;
}

int
meshq_msg_delivery_mode (const meshq_msg_t *self)
{
    assert (self);
    return self->delivery_mode;
}

void
meshq_msg_set_redelivery_count (meshq_msg_t *self, uint32_t count)
{
    assert (self);
    self->redelivery_count = count;
    self->present |= 1u << MESHQ_F_REDELIVERY_COUNT;
}

uint32_t
meshq_msg_redelivery_count (const meshq_msg_t *self)
{
    assert (self);
    return self->redelivery_count;
}

void
meshq_msg_set_id (meshq_msg_t *self, const uint8_t origin[16], uint64_t seq)
{
    assert (self);
    memcpy (self->origin, origin, 16);
    self->seq = seq;
    self->present |= 1u << MESHQ_F_ORIGIN | 1u << MESHQ_F_SEQ;
}

bool
meshq_msg_id (const meshq_msg_t *self, uint8_t origin[16], uint64_t *seq)
{
    assert (self);
    if (!(self->present & (1u << MESHQ_F_ORIGIN)))
        return false;
    if (origin)
        memcpy (origin, self->origin, 16);
    if (seq)
        *seq = self->seq;
    return true;
}

//  Returns the index of a header, or -1.
static int
s_find_header (const meshq_msg_t *self, const char *key)
{
    size_t size = strlen (key);
    for (uint32_t i = 0; i < self->header_count; i++)
        if (self->headers[i].key.size == size &&
            memcmp (self->headers[i].key.data, key, size) == 0)
            return (int)i;
    return -1;
}

//  Makes the header array our own allocation with room for one more.
static void
s_grow_headers (meshq_msg_t *self)
{
    if (self->header_count < self->header_capacity)
        return;
    uint32_t capacity = self->header_capacity ? self->header_capacity : 8;
    while (capacity <= self->header_count)
        capacity *= 2;
    meshq_header_t *headers = malloc (capacity * sizeof *headers);
    assert (headers);
    if (self->header_count)
        memcpy (headers, self->headers, self->header_count * sizeof *headers);
    s_release (self, self->headers);
    self->headers = headers;
    self->header_capacity = capacity;
}

int
meshq_msg_set_header (meshq_msg_t *self, const char *key,
                      const meshq_value_t *value)
{
    assert (self);
    if (!key || !value)
        return MESHQ_EINVAL;
    meshq_header_t header = {{key, (uint32_t)strlen (key)}, *value};
    if (strlen (key) > MESHQ_MAX_SHORTSTR)
        return MESHQ_ETOOBIG;
    if (!meshq_utf8_valid (key, header.key.size))
        return MESHQ_EINVAL;
    if (value->type > MESHQ_VALUE_BIN)
        return MESHQ_EINVAL;
    if (value->type >= MESHQ_VALUE_STR) {
        if (value->u.bytes.size > MESHQ_MAX_HEADER_VALUE)
            return MESHQ_ETOOBIG;
        if (value->u.bytes.size && !value->u.bytes.data)
            return MESHQ_EINVAL;
        if (value->type == MESHQ_VALUE_STR &&
            !meshq_utf8_valid (value->u.bytes.data, value->u.bytes.size))
            return MESHQ_EINVAL;
        header.value.u.bytes.data =
            s_copy (value->u.bytes.data, value->u.bytes.size);
    }
    int index = s_find_header (self, key);
    if (index < 0 && self->header_count == MESHQ_MAX_HEADERS) {
        if (header.value.type == MESHQ_VALUE_STR ||
            header.value.type == MESHQ_VALUE_BIN)
            free ((void *)header.value.u.bytes.data);
        return MESHQ_ETOOBIG;
    }
    if (index < 0) {
        s_grow_headers (self);
        index = (int)self->header_count++;
        header.key.data = s_copy (key, header.key.size);
    } else {
        s_grow_headers (self);
        meshq_header_t *old = &self->headers[index];
        header.key = old->key;
        if (old->value.type == MESHQ_VALUE_STR ||
            old->value.type == MESHQ_VALUE_BIN)
            s_release (self, old->value.u.bytes.data);
    }
    self->headers[index] = header;
    self->present |= 1u << MESHQ_F_HEADERS;
    return 0;
}

int
meshq_msg_set_header_str (meshq_msg_t *self, const char *key, const char *value)
{
    if (!value)
        return MESHQ_EINVAL;
    meshq_value_t v = {.type = MESHQ_VALUE_STR};
    v.u.bytes.data = value;
    v.u.bytes.size = strlen (value);
    return meshq_msg_set_header (self, key, &v);
}

int
meshq_msg_set_header_int (meshq_msg_t *self, const char *key, int64_t value)
{
    meshq_value_t v = {.type = MESHQ_VALUE_INT};
    v.u.integer = value;
    return meshq_msg_set_header (self, key, &v);
}

const meshq_value_t *
meshq_msg_header (const meshq_msg_t *self, const char *key)
{
    assert (self);
    int index = key ? s_find_header (self, key) : -1;
    return index < 0 ? NULL : &self->headers[index].value;
}

size_t
meshq_msg_header_count (const meshq_msg_t *self)
{
    assert (self);
    return self->header_count;
}

const meshq_value_t *
meshq_msg_header_at (const meshq_msg_t *self, size_t index, const char **key)
{
    assert (self);
    if (index >= self->header_count)
        return NULL;
    if (key)
        *key = self->headers[index].key.data;
    return &self->headers[index].value;
}

int
meshq_msg_remove_header (meshq_msg_t *self, const char *key)
{
    assert (self);
    int index = key ? s_find_header (self, key) : -1;
    if (index < 0)
        return MESHQ_ENOTFOUND;
    s_grow_headers (self);
    s_free_header (self, &self->headers[index]);
    memmove (&self->headers[index], &self->headers[index + 1],
             (self->header_count - (uint32_t)index - 1) *
                 sizeof *self->headers);
    if (--self->header_count == 0)
        self->present &= ~(1u << MESHQ_F_HEADERS);
    return 0;
}

static void
s_print_value (const meshq_value_t *value)
{
    switch (value->type) {
        case MESHQ_VALUE_NIL:
            printf ("nil");
            break;
        case MESHQ_VALUE_BOOL:
            printf ("%s", value->u.boolean ? "true" : "false");
            break;
        case MESHQ_VALUE_INT:
            printf ("%" PRId64, value->u.integer);
            break;
        case MESHQ_VALUE_DOUBLE:
            printf ("%g", value->u.number);
            break;
        case MESHQ_VALUE_STR:
            printf ("\"%.*s\"", (int)value->u.bytes.size,
                    (const char *)value->u.bytes.data);
            break;
        case MESHQ_VALUE_BIN:
            printf ("<%zu bytes>", value->u.bytes.size);
            break;
    }
}

void
meshq_msg_print (const meshq_msg_t *self)
{
    assert (self);
    static const char *names[MESHQ_F_COUNT] = {
        [MESHQ_F_EXCHANGE] = "exchange",
        [MESHQ_F_ROUTING_KEY] = "routing_key",
        [MESHQ_F_CONTENT_TYPE] = "content_type",
        [MESHQ_F_CONTENT_ENCODING] = "content_encoding",
        [MESHQ_F_CORRELATION_ID] = "correlation_id",
        [MESHQ_F_REPLY_TO] = "reply_to",
        [MESHQ_F_USER_ID] = "user_id",
        [MESHQ_F_APP_ID] = "app_id",
    };
    uint8_t origin[16];
    uint64_t seq;
    if (meshq_msg_id (self, origin, &seq)) {
        printf ("  %-17s ", "id");
        for (int i = 0; i < 16; i++)
            printf ("%02x", origin[i]);
        printf (":%" PRIu64 "\n", seq);
    }
    for (int f = 0; f < MESHQ_F_COUNT; f++)
        if (names[f] && self->strings[f].data)
            printf ("  %-17s %s\n", names[f], self->strings[f].data);
    printf ("  %-17s %d\n", "priority", self->priority);
    printf ("  %-17s %s\n", "delivery_mode",
            self->delivery_mode == MESHQ_PERSISTENT ? "persistent"
                                                    : "transient");
    if (self->present & (1u << MESHQ_F_TIMESTAMP))
        printf ("  %-17s %" PRIu64 " ms\n", "timestamp", self->timestamp);
    if (self->present & (1u << MESHQ_F_EXPIRATION))
        printf ("  %-17s %" PRIu32 " ms\n", "expiration", self->expiration);
    if (self->redelivery_count)
        printf ("  %-17s %" PRIu32 "\n", "redelivery_count",
                self->redelivery_count);
    for (uint32_t i = 0; i < self->header_count; i++) {
        printf ("  header %-10s ", self->headers[i].key.data);
        s_print_value (&self->headers[i].value);
        printf ("\n");
    }
    size_t preview = self->body.size < 60 ? self->body.size : 60;
    printf ("  %-17s %" PRIu32 " bytes: \"", "body", self->body.size);
    for (size_t i = 0; i < preview; i++) {
        unsigned char c = (unsigned char)self->body.data[i];
        putchar (c >= 32 && c < 127 ? c : '.');
    }
    printf ("%s\"\n", preview < self->body.size ? "..." : "");
}
