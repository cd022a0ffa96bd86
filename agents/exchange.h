/*  exchange.h - exchanges, their bindings, and routing.

    An exchange routes a message to the queues bound to it, by type:
    direct (binding key equals routing key), fanout (every queue), topic
    (dot-separated words; '*' matches one word, '#' zero or more, as in
    AMQP) and headers (the binding's arguments against the message's
    headers; x-match = all, the default, or any). Queues are opaque
    pointers here: the exchange only hands them back to a callback.
*/
#ifndef MESHQ_EXCHANGE_H_INCLUDED
#define MESHQ_EXCHANGE_H_INCLUDED

#include "envelope.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    MESHQ_EXCHANGE_DIRECT,
    MESHQ_EXCHANGE_FANOUT,
    MESHQ_EXCHANGE_TOPIC,
    MESHQ_EXCHANGE_HEADERS,
} meshq_exchange_type_t;

typedef struct _meshq_binding_t meshq_binding_t;

//  One binding of a queue to an exchange.
struct _meshq_binding_t {
    meshq_binding_t *next;  //  Next binding of the exchange.
    void *queue;            //  The bound queue.
    char *key;              //  Binding key.
    uint8_t *match;         //  Headers arguments: map entries, or NULL.
    uint32_t match_size;    //  Bytes in match.
    uint32_t match_count;   //  Entries in match.
    bool match_any;         //  x-match = any (else all).
};

typedef struct _meshq_exchange_t meshq_exchange_t;

//  Called once per queue a message is routed to (a queue bound twice
//  may be called twice; the caller removes duplicates).
typedef void (meshq_route_fn) (void *arg, void *queue);

//  Parses an exchange type name. Returns 0 or MESHQ_EINVAL.
int meshq_exchange_type_parse (meshq_span_t name, meshq_exchange_type_t *type);

//  Name of a type.
const char *meshq_exchange_type_name (meshq_exchange_type_t type);

meshq_exchange_t *meshq_exchange_new (const char *name,
                                      meshq_exchange_type_t type, bool durable);
void meshq_exchange_destroy (meshq_exchange_t **self_p);

//  Accessors.
const char *meshq_exchange_name (const meshq_exchange_t *self);
meshq_exchange_type_t meshq_exchange_type (const meshq_exchange_t *self);
bool meshq_exchange_durable (const meshq_exchange_t *self);
size_t meshq_exchange_binding_count (const meshq_exchange_t *self);
const meshq_binding_t *meshq_exchange_bindings (const meshq_exchange_t *self);

//  Adds a binding (match: header entries as the codec encodes them, or
//  NULL). Binding twice is not an error. Returns 0, or MESHQ_EINVAL for
//  an x-match that is neither all nor any.
int meshq_exchange_bind (meshq_exchange_t *self, void *queue, const char *key,
                         meshq_span_t match, uint32_t match_count);

//  Removes a binding. Returns 0 or MESHQ_ENOTFOUND.
int meshq_exchange_unbind (meshq_exchange_t *self, void *queue, const char *key,
                           meshq_span_t match);

//  Removes every binding of a queue (the queue is being deleted).
void meshq_exchange_unbind_queue (meshq_exchange_t *self, void *queue);

//  Routes a message with this routing key and these headers (the
//  envelope's validated header entries).
void meshq_exchange_route (const meshq_exchange_t *self, meshq_span_t key,
                           meshq_span_t headers, meshq_route_fn *fn, void *arg);

//  True if an AMQP topic pattern matches a routing key.
bool meshq_topic_match (const char *pattern, meshq_span_t key);

#endif
