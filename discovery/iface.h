/*  iface.h - the network interface discovery runs on, and endpoints.

    A node listens, beacons and binds its ROUTER on one interface, named
    by the user (--interface eth0, or an address of it, or the
    ZSYS_INTERFACE variable) or, by default, the loopback interface. This
    module resolves that choice to an interface with a numeric address,
    and formats and checks the tcp endpoints peers advertise: always a
    numeric address a peer can connect to, never a host name.
*/
#ifndef MESHQ_IFACE_H_INCLUDED
#define MESHQ_IFACE_H_INCLUDED

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A numeric address as text, with room for an IPv6 scope ("%eth0").
#define MESHQ_ADDRESS_MAX (INET6_ADDRSTRLEN + IF_NAMESIZE + 1)

//  Longest endpoint: "tcp://[" address "]:" port.
#define MESHQ_ENDPOINT_MAX (MESHQ_ADDRESS_MAX + 16)

typedef struct {
    char name[IF_NAMESIZE];           //  Interface name, such as "lo".
    unsigned index;                   //  Its index (if_nametoindex).
    int family;                       //  AF_INET or AF_INET6.
    struct in_addr ipv4;              //  Address, for AF_INET.
    struct in_addr broadcast;         //  Broadcast address, for AF_INET.
    struct in6_addr ipv6;             //  Address, for AF_INET6.
    char address[MESHQ_ADDRESS_MAX];  //  The address as text, scoped.
    bool loopback;                    //  IFF_LOOPBACK.
    bool link_local;                  //  An IPv6 fe80::/10 address.
} meshq_iface_t;

//  Resolves spec, an interface name or one of its numeric addresses,
//  to iface. NULL or "" means the loopback interface. family is AF_INET
//  or AF_INET6, and picks the address of a named interface (IPv6 prefers
//  a global address to a link-local one); an address names its own
//  family. Returns 0, or MESHQ_ENOTFOUND with a sentence in error
//  naming the interfaces there are.
int meshq_iface_resolve (const char *spec, int family, meshq_iface_t *iface,
                         char *error, size_t error_size);

//  Formats tcp://ADDRESS:PORT for an IPv4 (struct in_addr) or IPv6
//  (struct in6_addr) address; a link-local IPv6 address gets the scope
//  of the interface with index scope, by name. Returns 0, or MESHQ_EINVAL
//  if the scope names no interface.
int meshq_iface_endpoint (int family, const void *address, unsigned scope,
                          uint16_t port, char *out, size_t out_size);

//  Returns true if endpoint is tcp:// with a numeric IPv4 address or a
//  bracketed numeric IPv6 address (optionally scoped), and a port
//  1..65535: the only endpoints a node connects to. Host names, which
//  would make libzmq resolve names, are refused.
bool meshq_iface_endpoint_valid (const char *endpoint);

//  Writes the port of a valid endpoint to *port. Returns 0 or
//  MESHQ_EINVAL.
int meshq_iface_endpoint_port (const char *endpoint, uint16_t *port);

#endif
