/*  udp.c - the beacon socket. See udp.h.

    Receiving: the socket is bound to the wildcard address and the port,
    with SO_REUSEADDR and SO_REUSEPORT so that every node on the machine
    can bind it (multicast and broadcast datagrams go to every socket on
    the port). IP_PKTINFO tells which interface a datagram came in on, so
    that the owner can drop beacons from other interfaces, and
    IP_MULTICAST_ALL is off so that the socket sees only the group it
    joined on its own interface.

    Sending: multicast leaves through IP_MULTICAST_IF (127.0.0.1 on
    loopback reaches every process on the machine, without root) and
    loops back to local listeners; broadcast goes to the interface's
    broadcast address, which routes out of that interface.
*/
#include "udp.h"
#include "meshq.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct _meshq_udp_t {
    int fd;                       //  The socket, or -1 while closed.
    meshq_transport_t transport;  //  How beacons travel.
    struct sockaddr_storage to;   //  Where beacons go.
    socklen_t to_size;            //  Size of 'to'.
};

meshq_udp_t *
meshq_udp_new (void)
{
    meshq_udp_t *self = calloc (1, sizeof *self);
    assert (self);
    self->fd = -1;
    return self;
}

void
meshq_udp_destroy (meshq_udp_t **self_p)
{
    assert (self_p);
    meshq_udp_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0)
        close (self->fd);
    free (self);
    *self_p = NULL;
}

//  Sets an int option; on failure writes a sentence to error.
static int
s_option (int fd, int level, int name, int value, const char *what, char *error,
          size_t error_size)
{
    if (setsockopt (fd, level, name, &value, sizeof value) == 0)
        return 0;
    snprintf (error, error_size, "beacon socket: cannot set %s: %s", what,
              strerror (errno));
    return MESHQ_EIO;
}

static meshq_transport_t
s_choose (const meshq_iface_t *iface, meshq_transport_t transport)
{
    if (transport != MESHQ_TRANSPORT_AUTO)
        return transport;
    if (iface->family == AF_INET6)
        return MESHQ_TRANSPORT_IPV6;
    return iface->loopback ? MESHQ_TRANSPORT_MULTICAST
                           : MESHQ_TRANSPORT_BROADCAST;
}

static int
s_open4 (meshq_udp_t *self, const meshq_iface_t *iface, uint16_t port,
         char *error, size_t error_size)
{
    int fd = self->fd;
    int rc = s_option (fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO", error,
                       error_size);
    if (rc == 0)
        rc = s_option (fd, IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL",
                       error, error_size);
    if (rc)
        return rc;
    struct sockaddr_in any = {.sin_family = AF_INET,
                              .sin_port = htons (port),
                              .sin_addr.s_addr = htonl (INADDR_ANY)};
    if (bind (fd, (struct sockaddr *)&any, sizeof any)) {
        snprintf (error, error_size,
                  "beacon socket: cannot bind UDP port %u: %s; another "
                  "program may hold it without SO_REUSEADDR, choose "
                  "another with --beacon-port",
                  port, strerror (errno));
        return MESHQ_EIO;
    }
    struct sockaddr_in *to = (struct sockaddr_in *)&self->to;
    to->sin_family = AF_INET;
    to->sin_port = htons (port);
    self->to_size = sizeof *to;
    if (self->transport == MESHQ_TRANSPORT_BROADCAST) {
        to->sin_addr = iface->broadcast;
        return s_option (fd, SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST", error,
                         error_size);
    }
    inet_pton (AF_INET, MESHQ_BEACON_GROUP4, &to->sin_addr);
    struct ip_mreqn request = {.imr_multiaddr = to->sin_addr,
                               .imr_address = iface->ipv4,
                               .imr_ifindex = (int)iface->index};
    if (setsockopt (fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &request,
                    sizeof request)) {
        snprintf (error, error_size,
                  "beacon socket: cannot join multicast group %s on %s: "
                  "%s; try --transport broadcast",
                  MESHQ_BEACON_GROUP4, iface->name, strerror (errno));
        return MESHQ_EIO;
    }
    if (setsockopt (fd, IPPROTO_IP, IP_MULTICAST_IF, &request,
                    sizeof request)) {
        snprintf (error, error_size,
                  "beacon socket: %s refuses IPv4 multicast "
                  "(IP_MULTICAST_IF: %s); try --transport broadcast",
                  iface->name, strerror (errno));
        return MESHQ_EIO;
    }
    rc = s_option (fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1, "IP_MULTICAST_LOOP",
                   error, error_size);
    if (rc == 0)
        rc = s_option (fd, IPPROTO_IP, IP_MULTICAST_TTL, 1, "IP_MULTICAST_TTL",
                       error, error_size);
    return rc;
}

static int
s_open6 (meshq_udp_t *self, const meshq_iface_t *iface, uint16_t port,
         char *error, size_t error_size)
{
    int fd = self->fd;
    int rc = s_option (fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY", error,
                       error_size);
    if (rc == 0)
        rc = s_option (fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1,
                       "IPV6_RECVPKTINFO", error, error_size);
    if (rc)
        return rc;
    struct sockaddr_in6 any = {.sin6_family = AF_INET6,
                               .sin6_port = htons (port),
                               .sin6_addr = in6addr_any};
    if (bind (fd, (struct sockaddr *)&any, sizeof any)) {
        snprintf (error, error_size,
                  "beacon socket: cannot bind UDP port %u: %s; choose "
                  "another with --beacon-port",
                  port, strerror (errno));
        return MESHQ_EIO;
    }
    struct sockaddr_in6 *to = (struct sockaddr_in6 *)&self->to;
    to->sin6_family = AF_INET6;
    to->sin6_port = htons (port);
    to->sin6_scope_id = iface->index;
    inet_pton (AF_INET6, MESHQ_BEACON_GROUP6, &to->sin6_addr);
    self->to_size = sizeof *to;
    struct ipv6_mreq request = {.ipv6mr_multiaddr = to->sin6_addr,
                                .ipv6mr_interface = iface->index};
    if (setsockopt (fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &request,
                    sizeof request)) {
        snprintf (error, error_size,
                  "beacon socket: cannot join IPv6 group %s on %s: %s",
                  MESHQ_BEACON_GROUP6, iface->name, strerror (errno));
        return MESHQ_EIO;
    }
    rc = s_option (fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)iface->index,
                   "IPV6_MULTICAST_IF", error, error_size);
    if (rc == 0)
        rc = s_option (fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1,
                       "IPV6_MULTICAST_LOOP", error, error_size);
    if (rc == 0)
        rc = s_option (fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1,
                       "IPV6_MULTICAST_HOPS", error, error_size);
    return rc;
}

int
meshq_udp_open (meshq_udp_t *self, const meshq_iface_t *iface,
                meshq_transport_t transport, uint16_t port, char *error,
                size_t error_size)
{
    assert (self && self->fd < 0);
    self->transport = s_choose (iface, transport);
    bool ipv6 = self->transport == MESHQ_TRANSPORT_IPV6;
    if (ipv6 != (iface->family == AF_INET6)) {
        snprintf (error, error_size,
                  "beacon socket: transport %s needs an %s address, and "
                  "%s has %s",
                  meshq_udp_transport_name (self->transport),
                  ipv6 ? "IPv6" : "IPv4", iface->name, iface->address);
        return MESHQ_EINVAL;
    }
    self->fd = socket (ipv6 ? AF_INET6 : AF_INET,
                       SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (self->fd < 0) {
        snprintf (error, error_size, "beacon socket: cannot create: %s",
                  strerror (errno));
        return MESHQ_EIO;
    }
    int rc = s_option (self->fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR",
                       error, error_size);
    if (rc == 0)
        rc = s_option (self->fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT",
                       error, error_size);
    if (rc == 0)
        rc = ipv6 ? s_open6 (self, iface, port, error, error_size)
                  : s_open4 (self, iface, port, error, error_size);
    if (rc) {
        close (self->fd);
        self->fd = -1;
    }
    return rc;
}

meshq_transport_t
meshq_udp_transport (const meshq_udp_t *self)
{
    return self->transport;
}

int
meshq_udp_fd (const meshq_udp_t *self)
{
    return self->fd;
}

int
meshq_udp_send (meshq_udp_t *self, const void *data, size_t size)
{
    assert (self->fd >= 0);
    ssize_t sent = sendto (self->fd, data, size, 0,
                           (struct sockaddr *)&self->to, self->to_size);
    return sent == (ssize_t)size ? 0 : MESHQ_EIO;
}

int
meshq_udp_recv (meshq_udp_t *self, void *buffer, size_t capacity,
                meshq_datagram_t *info)
{
    assert (self->fd >= 0);
    struct iovec iov = {buffer, capacity};
    union {
        char data[CMSG_SPACE (sizeof (struct in6_pktinfo))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_name = &info->from,
                         .msg_namelen = sizeof info->from,
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.data,
                         .msg_controllen = sizeof control.data};
    //  MSG_TRUNC: the real length of a datagram longer than the buffer,
    //  so that it is dropped for its size instead of read cut short.
    ssize_t got = recvmsg (self->fd, &msg, MSG_TRUNC);
    if (got < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? MESHQ_EAGAIN
                                                       : MESHQ_EIO;
    info->size = (size_t)got;
    info->ifindex = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c;
         c = CMSG_NXTHDR (&msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pktinfo;
            memcpy (&pktinfo, CMSG_DATA (c), sizeof pktinfo);
            info->ifindex = (unsigned)pktinfo.ipi_ifindex;
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pktinfo;
            memcpy (&pktinfo, CMSG_DATA (c), sizeof pktinfo);
            info->ifindex = pktinfo.ipi6_ifindex;
        }
    }
    return 0;
}

const char *
meshq_udp_transport_name (meshq_transport_t transport)
{
    switch (transport) {
        case MESHQ_TRANSPORT_AUTO:
            return "auto";
        case MESHQ_TRANSPORT_MULTICAST:
            return "multicast";
        case MESHQ_TRANSPORT_BROADCAST:
            return "broadcast";
        case MESHQ_TRANSPORT_IPV6:
            return "ipv6";
    }
    return "unknown";
}
