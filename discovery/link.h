/*  link.h - our DEALER to one peer's ROUTER.

    A link is the DEALER a node opens to a peer's ROUTER and sends on;
    it never reads it (peers answer on their own links). Its routing id
    is a prefix byte and our node id, so the peer's ROUTER knows who
    speaks (docs/PROTOCOL.md section 5.2). Losing a peer's connection is
    seen on our ROUTER instead (see peers_input.c): one socket monitor
    for all peers, where one per link cost a socket pair and a poll item
    per peer.
*/
#ifndef MESHQ_LINK_H_INCLUDED
#define MESHQ_LINK_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

//  Routing id prefixes: a link to a known peer, and a seed probe.
#define MESHQ_LINK_PREFIX  0x01
#define MESHQ_PROBE_PREFIX 0x02

//  Routing ids are the prefix and a node id.
#define MESHQ_ROUTING_ID_SIZE 17

typedef struct _meshq_link_t meshq_link_t;

//  Options of a link's DEALER.
typedef struct {
    uint8_t prefix;            //  MESHQ_LINK_PREFIX or MESHQ_PROBE_PREFIX.
    const uint8_t *node;       //  Our node id, 16 bytes.
    bool ipv6;                 //  The endpoint is IPv6.
    bool immediate;            //  Queue nothing until connected (probes).
    int timeout_ms;            //  Connect timeout.
    const char *curve_public;  //  The mesh's CURVE keypair (Z85), ours
    const char *curve_secret;  //  and the server's alike; NULL: no CURVE.
} meshq_link_options_t;

//  Creates a link, not yet open.
meshq_link_t *meshq_link_new (void);

//  Closes the link (without lingering) and destroys it. NULL-safe.
void meshq_link_destroy (meshq_link_t **self_p);

//  Opens the DEALER and connects it to endpoint. Returns 0, or
//  MESHQ_EIO if libzmq refuses (too many sockets, a bad endpoint).
int meshq_link_open (meshq_link_t *self, const char *endpoint,
                     const meshq_link_options_t *options);

//  Sends a message without blocking. Takes ownership of *msg_p. Returns
//  0, or MESHQ_EAGAIN when the link's queue is full (or, for a probe,
//  not connected yet).
int meshq_link_send (meshq_link_t *self, zmsg_t **msg_p);

//  Lets pending messages out for up to linger_ms when the link closes;
//  used before saying BYE.
void meshq_link_set_linger (meshq_link_t *self, int linger_ms);

//  The endpoint the link connects to.
const char *meshq_link_endpoint (const meshq_link_t *self);

#endif
