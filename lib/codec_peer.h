/*  codec_peer.h - the frames agents exchange about themselves.

    Between agents, each message is [command][msgpack map] (see
    docs/PROTOCOL.md section 2). Discovery speaks six commands of its
    own: HELLO (who I am), PING and PONG (heartbeats), PEERS (gossip of
    the peers one knows), BYE (leaving) and UNLINK (closing a link, not
    leaving; announced as a command in HELLO). Any other upper-case command
    belongs to the agent that owns the link. This codec is pure: bytes
    in, struct or code out. Decoded structs borrow from the input.
    docs/PROTOCOL.md section 5.2 is the specification.
*/
#ifndef MESHQ_CODEC_PEER_H_INCLUDED
#define MESHQ_CODEC_PEER_H_INCLUDED

#include "buf.h"
#include "envelope.h"

#include <stdbool.h>
#include <stdint.h>

//  The peer protocol version this code speaks.
#define MESHQ_PEER_PROTOCOL 1

//  Longest command: upper-case ASCII letters, digits and '_'.
#define MESHQ_COMMAND_MAX 32

//  Most entries one PEERS frame carries; also the size of a peer table.
#define MESHQ_GOSSIP_MAX 1024

//  Heartbeat and timeout ranges a HELLO may announce, in milliseconds.
#define MESHQ_HEARTBEAT_MIN 10
#define MESHQ_HEARTBEAT_MAX 60000
#define MESHQ_TIMEOUT_MAX   600000

//  What frame 1 of a message from a peer names.
typedef enum {
    MESHQ_PEER_CMD_INVALID,  //  Not a command (empty, long, lower case).
    MESHQ_PEER_CMD_HELLO,
    MESHQ_PEER_CMD_PING,
    MESHQ_PEER_CMD_PONG,
    MESHQ_PEER_CMD_PEERS,
    MESHQ_PEER_CMD_BYE,
    MESHQ_PEER_CMD_UNLINK,
    MESHQ_PEER_CMD_OTHER,  //  A well-formed command for the owner.
} meshq_peer_cmd_t;

//  HELLO: sent first on every link, in both directions.
typedef struct {
    uint64_t protocol;      //  MESHQ_PEER_PROTOCOL.
    uint8_t node[16];       //  Sender's node id.
    uint64_t incarnation;   //  Sender's incarnation (see the beacon).
    meshq_span_t name;      //  Sender's name, at most 255 bytes.
    meshq_span_t version;   //  Sender's software version, at most 64.
    meshq_span_t mesh;      //  Mesh name, at most 255 bytes.
    meshq_span_t vhost;     //  Vhost name, at most 255 bytes.
    meshq_span_t endpoint;  //  Sender's ROUTER, tcp://ADDRESS:PORT.
    uint64_t heartbeat_ms;  //  How often the sender sends when idle.
    uint64_t timeout_ms;    //  Silence after which it declares us down.
    uint64_t session;       //  Sender's number of its session with the
                            //  receiver; 0 (absent): a seed probe, or an
                            //  agent that does not number sessions.
    uint64_t ack;           //  The receiver's last session number the
                            //  sender saw; 0: none.
    meshq_span_t commands;  //  Optional: the agent commands beyond the
                            //  first set (PROTOCOL.md 4) the sender
                            //  answers, space-separated, at most 255;
                            //  absent from older agents.
} meshq_hello_t;

//  One entry of PEERS.
typedef struct {
    uint8_t node[16];       //  The peer's node id.
    uint64_t incarnation;   //  Its incarnation.
    meshq_span_t endpoint;  //  Where the sender reaches it.
} meshq_gossip_t;

//  Names frame 1 (size bytes at data).
meshq_peer_cmd_t meshq_codec_peer_command (const void *data, size_t size);

//  Appends a HELLO map to out. Returns 0, MESHQ_ENOMEM, or MESHQ_ETOOBIG
//  / MESHQ_ERANGE / MESHQ_EINVAL with *why naming the field.
int meshq_codec_encode_hello (const meshq_hello_t *hello, meshq_buf_t *out,
                              const char **why);

//  Decodes a HELLO map. Returns 0 or a negative code with *why set to a
//  static reason such as "hello heartbeat_ms: out of range".
int meshq_codec_decode_hello (const void *data, size_t size,
                              meshq_hello_t *hello, const char **why);

//  PING and PONG carry a sequence number; PONG echoes the PING's.
int meshq_codec_encode_ping (uint64_t seq, meshq_buf_t *out);
int meshq_codec_decode_ping (const void *data, size_t size, uint64_t *seq,
                             const char **why);

//  Appends a PEERS map of count entries (at most MESHQ_GOSSIP_MAX).
int meshq_codec_encode_peers (const meshq_gossip_t *entries, uint32_t count,
                              meshq_buf_t *out, const char **why);

//  Decodes a PEERS map into entries (room for cap), setting *count.
//  More than cap entries is MESHQ_ETOOBIG.
int meshq_codec_decode_peers (const void *data, size_t size,
                              meshq_gossip_t *entries, uint32_t cap,
                              uint32_t *count, const char **why);

//  BYE has no arguments yet: an empty map.
int meshq_codec_encode_bye (meshq_buf_t *out);
int meshq_codec_decode_bye (const void *data, size_t size, const char **why);

//  UNLINK: closing an idle link, not leaving. done 0: the sender asks
//  to close it; done 1: the sender has closed its side (it agreed, or
//  answers an ask of ours that crossed its own).
int meshq_codec_encode_unlink (bool done, meshq_buf_t *out);
int meshq_codec_decode_unlink (const void *data, size_t size, bool *done,
                               const char **why);

#endif
