/*  link.h - our DEALER to one peer's ROUTER, and what happens to it.

    A link is the DEALER a node opens to a peer's ROUTER, plus a socket
    monitor on it, read in the owner's zloop: the monitor tells the owner
    at once when the connection is lost (the peer's process died or
    closed it) and when a reconnection is refused (nothing listens there
    any more), which heartbeats alone would take a timeout to notice.
    The DEALER's routing id is the prefix byte and our node id, so the
    peer's ROUTER knows who speaks (docs/PROTOCOL.md section 3.2).
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

typedef enum {
    MESHQ_LINK_CONNECTED,     //  The connection is established.
    MESHQ_LINK_DISCONNECTED,  //  The connection was lost.
    MESHQ_LINK_REFUSED,       //  A connection attempt failed.
} meshq_link_event_t;

typedef struct _meshq_link_t meshq_link_t;

//  Called from the owner's zloop for each connection event.
typedef void (meshq_link_fn) (void *arg, meshq_link_event_t event);

//  Options of a link's DEALER.
typedef struct {
    uint8_t prefix;            //  MESHQ_LINK_PREFIX or MESHQ_PROBE_PREFIX.
    const uint8_t *node;       //  Our node id, 16 bytes.
    bool ipv6;                 //  The endpoint is IPv6.
    bool immediate;            //  Queue nothing until connected (probes).
    bool monitor;              //  Watch the connection (links, not probes).
    const char *monitor_name;  //  Unique inproc name for the monitor.
    int timeout_ms;            //  Connect timeout.
} meshq_link_options_t;

//  Creates a link, not yet open.
meshq_link_t *meshq_link_new (void);

//  Closes the link (without lingering) and destroys it. NULL-safe.
void meshq_link_destroy (meshq_link_t **self_p);

//  Opens the DEALER, connects it to endpoint and, with options->monitor,
//  reads its events in loop, calling fn (fn, arg). Returns 0, or
//  MESHQ_EIO if libzmq refuses (too many sockets, a bad endpoint).
int meshq_link_open (meshq_link_t *self, const char *endpoint,
                     const meshq_link_options_t *options, zloop_t *loop,
                     meshq_link_fn *fn, void *arg);

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
