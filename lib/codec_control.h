/*  codec_control.h - requests to an agent and its replies.

    A client (the meshq tool, later the library) sends [VERB][{rid}] to
    its agent and gets [OK][{rid, results}] or [ERROR][{rid, code, why}]
    back (docs/PROTOCOL.md section 2). This codec covers the requests
    discovery answers: STATUS, LIST_PEERS and STATS. Pure: bytes in,
    struct or code out; decoded structs borrow from the input.
*/
#ifndef MESHQ_CODEC_CONTROL_H_INCLUDED
#define MESHQ_CODEC_CONTROL_H_INCLUDED

#include "buf.h"
#include "envelope.h"

#include <stdint.h>

//  Most rows of a LIST_PEERS reply, and counters of a STATS reply.
#define MESHQ_CONTROL_ROWS_MAX     4096
#define MESHQ_CONTROL_COUNTERS_MAX 256

//  The results of STATUS.
typedef struct {
    uint64_t rid;           //  Echoed request id.
    meshq_span_t node;      //  Node id in hex.
    meshq_span_t name;      //  Node name.
    meshq_span_t mesh;      //  Mesh name.
    meshq_span_t vhost;     //  Vhost name.
    meshq_span_t version;   //  Software version.
    meshq_span_t endpoint;  //  The agent's mesh endpoint.
    uint64_t uptime_ms;     //  Since the agent started.
    uint64_t peers;         //  Peers up.
} meshq_status_t;

//  One peer in LIST_PEERS.
typedef struct {
    meshq_span_t id;        //  Node id in hex.
    meshq_span_t name;      //  Its name.
    meshq_span_t endpoint;  //  Where the agent reaches it.
    meshq_span_t state;     //  "up", "suspect" or "down".
    uint64_t incarnation;   //  Its incarnation.
    uint64_t last_seen_ms;  //  Since the agent last heard from it.
} meshq_peer_row_t;

//  One counter of STATS.
typedef struct {
    meshq_span_t name;  //  Such as "beacons_dropped_size".
    uint64_t value;     //  Its value.
} meshq_counter_t;

//  ERROR's arguments.
typedef struct {
    uint64_t rid;      //  Echoed request id (0 if it could not be read).
    int64_t code;      //  A MESHQ_E* code.
    meshq_span_t why;  //  A sentence naming the thing and the way out.
} meshq_error_reply_t;

//  A request's map: {rid}. Requests without arguments share it.
int meshq_codec_encode_request (uint64_t rid, meshq_buf_t *out);
//  Reads rid from a request's map, skipping other keys. Returns 0 or a
//  negative code with *why set.
int meshq_codec_decode_request (const void *data, size_t size, uint64_t *rid,
                                const char **why);

int meshq_codec_encode_error (const meshq_error_reply_t *error,
                              meshq_buf_t *out);
int meshq_codec_decode_error (const void *data, size_t size,
                              meshq_error_reply_t *error, const char **why);

int meshq_codec_encode_status (const meshq_status_t *status, meshq_buf_t *out);
int meshq_codec_decode_status (const void *data, size_t size,
                               meshq_status_t *status, const char **why);

//  LIST_PEERS' OK: {rid, peers: [row, ...]}.
int meshq_codec_encode_peer_list (uint64_t rid, const meshq_peer_row_t *rows,
                                  uint32_t count, meshq_buf_t *out);
//  Decodes into rows (room for cap); more is MESHQ_ETOOBIG.
int meshq_codec_decode_peer_list (const void *data, size_t size, uint64_t *rid,
                                  meshq_peer_row_t *rows, uint32_t cap,
                                  uint32_t *count, const char **why);

//  STATS' OK: {rid, name: value, ...}, names as given.
int meshq_codec_encode_counters (uint64_t rid, const meshq_counter_t *counters,
                                 uint32_t count, meshq_buf_t *out);
//  Decodes every uint-valued key but rid into counters (room for cap).
int meshq_codec_decode_counters (const void *data, size_t size,
                                 meshq_counter_t *counters, uint32_t cap,
                                 uint32_t *count, const char **why);

//  Finds key in a map and sets *value to the raw bytes of its value.
//  Returns 0, MESHQ_ENOTFOUND, or a negative code for a bad map.
int meshq_codec_map_get (const void *data, size_t size, const char *key,
                         meshq_span_t *value);

//  Appends a copy of a map without key (if present) to out.
int meshq_codec_map_without (const void *data, size_t size, const char *key,
                             meshq_buf_t *out);

#endif
