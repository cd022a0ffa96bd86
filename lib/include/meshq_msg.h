/*  meshq_msg.h - a message: AMQP-like properties, headers and a body.

    A meshq_msg_t is what a publisher hands to its agent and what a
    consumer receives. Build one with meshq_msg_new and the setters,
    encode it with meshq_msg_encode (docs/PROTOCOL.md specifies the
    bytes), decode bytes with meshq_msg_decode. Strings are UTF-8 and
    at most 255 bytes; setters copy what they are given and getters
    return borrowed pointers that live as long as the message.

    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
*/
#ifndef MESHQ_MSG_H_INCLUDED
#define MESHQ_MSG_H_INCLUDED

#include "meshq.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Limits of the envelope format (docs/PROTOCOL.md).
#define MESHQ_MAX_SHORTSTR     255          //  Property strings.
#define MESHQ_MAX_HEADERS      128          //  Entries in the headers map.
#define MESHQ_MAX_HEADER_VALUE 65535        //  A header's str or bin value.
#define MESHQ_MAX_PRIORITY     9            //  Priorities are 0..9.
#define MESHQ_MAX_BODY_DEFAULT (16u << 20)  //  16 MiB, as RabbitMQ 4.

//  Delivery modes, numbered as AMQP's.
#define MESHQ_TRANSIENT  1
#define MESHQ_PERSISTENT 2

//  Types of header values.
typedef enum {
    MESHQ_VALUE_NIL,     //  No value.
    MESHQ_VALUE_BOOL,    //  u.boolean
    MESHQ_VALUE_INT,     //  u.integer, any int64_t
    MESHQ_VALUE_DOUBLE,  //  u.number, IEEE 754 binary64
    MESHQ_VALUE_STR,     //  u.bytes, UTF-8 (NUL-terminated in a meshq_msg_t)
    MESHQ_VALUE_BIN,     //  u.bytes, any bytes
} meshq_value_type_t;

//  A header value. In a message, bytes are borrowed from the message.
typedef struct {
    meshq_value_type_t type;  //  Which member of u holds the value.
    union {
        bool boolean;     //  MESHQ_VALUE_BOOL
        int64_t integer;  //  MESHQ_VALUE_INT
        double number;    //  MESHQ_VALUE_DOUBLE
        struct {
            const void *data;  //  First byte.
            size_t size;       //  Number of bytes, without any NUL.
        } bytes;               //  MESHQ_VALUE_STR and MESHQ_VALUE_BIN
    } u;
} meshq_value_t;

typedef struct _meshq_msg_t meshq_msg_t;

//  Creates an empty message: persistent, priority 0, no body. Never
//  returns NULL (allocation failure aborts, as in CZMQ).
MESHQ_EXPORT meshq_msg_t *meshq_msg_new (void);

//  Destroys a message and nulls *self_p. NULL-safe.
MESHQ_EXPORT void meshq_msg_destroy (meshq_msg_t **self_p);

//  Returns a deep copy; the caller owns it.
MESHQ_EXPORT meshq_msg_t *meshq_msg_dup (const meshq_msg_t *self);

//  Sets the body (copied). Returns MESHQ_EMSGSIZE above 4 GiB - 1.
MESHQ_EXPORT int meshq_msg_set_body (meshq_msg_t *self, const void *data,
                                     size_t size);

//  Returns the body (borrowed) and stores its size in *size.
MESHQ_EXPORT const void *meshq_msg_body (const meshq_msg_t *self, size_t *size);

//  String properties. A setter copies the value, or clears it when value
//  is NULL; it returns MESHQ_ETOOBIG above 255 bytes and MESHQ_EINVAL if
//  the value is not UTF-8. A getter returns the value (borrowed) or NULL
//  when it is not set.
MESHQ_EXPORT int meshq_msg_set_exchange (meshq_msg_t *self, const char *value);
MESHQ_EXPORT const char *meshq_msg_exchange (const meshq_msg_t *self);
MESHQ_EXPORT int meshq_msg_set_routing_key (meshq_msg_t *self,
                                            const char *value);
MESHQ_EXPORT const char *meshq_msg_routing_key (const meshq_msg_t *self);
MESHQ_EXPORT int meshq_msg_set_content_type (meshq_msg_t *self,
                                             const char *value);
MESHQ_EXPORT const char *meshq_msg_content_type (const meshq_msg_t *self);
MESHQ_EXPORT int meshq_msg_set_content_encoding (meshq_msg_t *self,
                                                 const char *value);
MESHQ_EXPORT const char *meshq_msg_content_encoding (const meshq_msg_t *self);
MESHQ_EXPORT int meshq_msg_set_correlation_id (meshq_msg_t *self,
                                               const char *value);
MESHQ_EXPORT const char *meshq_msg_correlation_id (const meshq_msg_t *self);
MESHQ_EXPORT int meshq_msg_set_reply_to (meshq_msg_t *self, const char *value);
MESHQ_EXPORT const char *meshq_msg_reply_to (const meshq_msg_t *self);
MESHQ_EXPORT int meshq_msg_set_user_id (meshq_msg_t *self, const char *value);
MESHQ_EXPORT const char *meshq_msg_user_id (const meshq_msg_t *self);
MESHQ_EXPORT int meshq_msg_set_app_id (meshq_msg_t *self, const char *value);
MESHQ_EXPORT const char *meshq_msg_app_id (const meshq_msg_t *self);

//  Priority 0..9 (MESHQ_ERANGE otherwise); higher is delivered first.
MESHQ_EXPORT int meshq_msg_set_priority (meshq_msg_t *self, int priority);
MESHQ_EXPORT int meshq_msg_priority (const meshq_msg_t *self);

//  Timestamp in milliseconds since the Unix epoch; 0 means not set.
MESHQ_EXPORT void meshq_msg_set_timestamp (meshq_msg_t *self,
                                           uint64_t timestamp_ms);
MESHQ_EXPORT uint64_t meshq_msg_timestamp (const meshq_msg_t *self);

//  Per-message TTL in milliseconds, or -1 to clear it. MESHQ_ERANGE
//  outside -1..2^32-1. The getter returns -1 when no TTL is set.
MESHQ_EXPORT int meshq_msg_set_expiration (meshq_msg_t *self, int64_t ttl_ms);
MESHQ_EXPORT int64_t meshq_msg_expiration (const meshq_msg_t *self);

//  MESHQ_TRANSIENT or MESHQ_PERSISTENT (the default); MESHQ_ERANGE
//  otherwise.
MESHQ_EXPORT int meshq_msg_set_delivery_mode (meshq_msg_t *self, int mode);
MESHQ_EXPORT int meshq_msg_delivery_mode (const meshq_msg_t *self);

//  How many times the message was delivered before this delivery.
MESHQ_EXPORT void meshq_msg_set_redelivery_count (meshq_msg_t *self,
                                                  uint32_t count);
MESHQ_EXPORT uint32_t meshq_msg_redelivery_count (const meshq_msg_t *self);

//  Message id: the origin agent's 16-byte node id and its 64-bit sequence
//  number. The origin agent sets it; meshq_msg_id returns false when the
//  message has none yet.
MESHQ_EXPORT void meshq_msg_set_id (meshq_msg_t *self, const uint8_t origin[16],
                                    uint64_t seq);
MESHQ_EXPORT bool meshq_msg_id (const meshq_msg_t *self, uint8_t origin[16],
                                uint64_t *seq);

//  Headers: at most 128, keys are UTF-8 strings up to 255 bytes, values
//  as meshq_value_t (str and bin up to 65535 bytes). Setting a key that
//  exists replaces its value. Returns MESHQ_ETOOBIG past a cap, or
//  MESHQ_EINVAL for a bad key or value.
MESHQ_EXPORT int meshq_msg_set_header (meshq_msg_t *self, const char *key,
                                       const meshq_value_t *value);
MESHQ_EXPORT int meshq_msg_set_header_str (meshq_msg_t *self, const char *key,
                                           const char *value);
MESHQ_EXPORT int meshq_msg_set_header_int (meshq_msg_t *self, const char *key,
                                           int64_t value);

//  Returns the value of a header (borrowed), or NULL.
MESHQ_EXPORT const meshq_value_t *meshq_msg_header (const meshq_msg_t *self,
                                                    const char *key);

//  Number of headers, and the header at index (key and value borrowed) in
//  the order they were set or decoded. NULL past the end.
MESHQ_EXPORT size_t meshq_msg_header_count (const meshq_msg_t *self);
MESHQ_EXPORT const meshq_value_t *
meshq_msg_header_at (const meshq_msg_t *self, size_t index, const char **key);

//  Removes a header. Returns MESHQ_ENOTFOUND if it was not there.
MESHQ_EXPORT int meshq_msg_remove_header (meshq_msg_t *self, const char *key);

//  Encodes the message (docs/PROTOCOL.md). On success *data_p is a new
//  buffer the caller frees with free (), and *size_p its size.
MESHQ_EXPORT int meshq_msg_encode (const meshq_msg_t *self, uint8_t **data_p,
                                   size_t *size_p);

//  Decodes an encoded message. Bodies above max_body bytes are refused
//  with MESHQ_EMSGSIZE (0 means MESHQ_MAX_BODY_DEFAULT). On success
//  *msg_p is a new message the caller owns. On failure returns the code
//  and, if why is not NULL, sets *why to a static reason naming the field,
//  such as "priority: above 9".
MESHQ_EXPORT int meshq_msg_decode (const void *data, size_t size,
                                   size_t max_body, meshq_msg_t **msg_p,
                                   const char **why);

//  Prints the message's properties and headers to stdout, for debugging
//  and the tools; the body is shown as its size and a short preview.
MESHQ_EXPORT void meshq_msg_print (const meshq_msg_t *self);

#ifdef __cplusplus
}
#endif

#endif
