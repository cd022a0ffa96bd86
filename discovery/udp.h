/*  udp.h - the UDP socket that sends and receives beacons.

    One socket per node, on the chosen interface: IPv4 multicast (the
    default on loopback, where there is no broadcast address), IPv4
    broadcast (the default elsewhere), or IPv6 multicast. Several nodes
    on one machine share the port. Everything that can fail returns a
    code and a sentence; nothing here aborts on an environment error
    (CZMQ's zbeacon asserts on some), and the owner polls the file
    descriptor in its zloop.
*/
#ifndef MESHQ_UDP_H_INCLUDED
#define MESHQ_UDP_H_INCLUDED

#include "iface.h"

#include <stdint.h>
#include <sys/socket.h>

//  How beacons travel.
typedef enum {
    MESHQ_TRANSPORT_AUTO,       //  Multicast on loopback and IPv6, else
                                //  broadcast.
    MESHQ_TRANSPORT_MULTICAST,  //  IPv4 group 239.255.56.80.
    MESHQ_TRANSPORT_BROADCAST,  //  The interface's IPv4 broadcast address.
    MESHQ_TRANSPORT_IPV6,       //  IPv6 group ff02::5680.
} meshq_transport_t;

//  The groups beacons go to.
#define MESHQ_BEACON_GROUP4 "239.255.56.80"
#define MESHQ_BEACON_GROUP6 "ff02::5680"

typedef struct _meshq_udp_t meshq_udp_t;

//  A datagram's origin, as the receiver saw it.
typedef struct {
    struct sockaddr_storage from;  //  Source address and port.
    unsigned ifindex;              //  Interface it arrived on.
    size_t size;                   //  Its real length, even if cut.
} meshq_datagram_t;

//  Creates a closed socket.
meshq_udp_t *meshq_udp_new (void);

//  Closes and destroys the socket. NULL-safe; nulls *self_p.
void meshq_udp_destroy (meshq_udp_t **self_p);

//  Opens the socket on iface for transport and port. Returns 0, or
//  MESHQ_EIO / MESHQ_EINVAL with a sentence in error saying what the
//  operating system refused and what to do.
int meshq_udp_open (meshq_udp_t *self, const meshq_iface_t *iface,
                    meshq_transport_t transport, uint16_t port, char *error,
                    size_t error_size);

//  The transport in use after open (never AUTO).
meshq_transport_t meshq_udp_transport (const meshq_udp_t *self);

//  The file descriptor to poll for input.
int meshq_udp_fd (const meshq_udp_t *self);

//  Sends one datagram to the beacon address. Returns 0, or MESHQ_EIO
//  with errno set.
int meshq_udp_send (meshq_udp_t *self, const void *data, size_t size);

//  Receives one datagram into buffer (capacity bytes; longer datagrams
//  are cut, and info->size tells their real length). Returns 0,
//  MESHQ_EAGAIN when nothing is waiting, or MESHQ_EIO with errno set.
int meshq_udp_recv (meshq_udp_t *self, void *buffer, size_t capacity,
                    meshq_datagram_t *info);

//  Returns the name of a transport: "multicast", "broadcast", "ipv6".
const char *meshq_udp_transport_name (meshq_transport_t transport);

#endif
