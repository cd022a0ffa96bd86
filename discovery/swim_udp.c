/*  swim_udp.c - the membership's datagrams. See swim_udp.h.

    The socket is plain UDP on the interface's address: members are
    addressed one by one (no group), at the port number of their mesh
    ROUTER, which is how an endpoint learnt from a beacon or a seed
    names both. Reads never block, and a datagram is taken whole or
    dropped: the membership protocol tolerates loss, never garbage.
*/
#include "swim_udp.h"
#include "beacon.h"
#include "meshq.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#define S_HEADER 16
#define S_TAG    crypto_auth_BYTES

struct _meshq_swim_udp_t {
    int fd;                                 //  The socket.
    int family;                             //  AF_INET or AF_INET6.
    unsigned scope;                         //  Interface index, for link-local.
    meshq_swim_addr_t addr;                 //  Our own address.
    uint8_t mesh_id[16];                    //  The header of every datagram.
    bool sealed;                            //  A key seals datagrams.
    uint8_t key[MESHQ_SWIM_KEY_SIZE];       //  That key.
    uint8_t in[MESHQ_SWIM_UDP_MAX + 256];   //  Receive buffer.
    uint8_t out[MESHQ_SWIM_UDP_MAX + 256];  //  Send buffer.
    meshq_swim_udp_stats_t stats;           //  Counters.
};

void
meshq_swim_udp_key (const char *curve_secret_z85,
                    uint8_t key[MESHQ_SWIM_KEY_SIZE])
{
    meshq_mesh_key (curve_secret_z85, "meshq swim key v1", key);
}

static const uint8_t s_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

//  addr as a socket address of family.
static socklen_t
s_to_sockaddr (const meshq_swim_udp_t *self, const meshq_swim_addr_t *addr,
               struct sockaddr_storage *out)
{
    memset (out, 0, sizeof *out);
    if (self->family == AF_INET) {
        if (memcmp (addr->ip, s_mapped, 12) != 0)
            return 0;
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_port = htons (addr->port);
        memcpy (&in->sin_addr, addr->ip + 12, 4);
        return sizeof *in;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons (addr->port);
    memcpy (&in6->sin6_addr, addr->ip, 16);
    if (IN6_IS_ADDR_LINKLOCAL (&in6->sin6_addr))
        in6->sin6_scope_id = self->scope;
    return sizeof *in6;
}

int
meshq_swim_udp_open (meshq_swim_udp_t **self_p, const meshq_iface_t *iface,
                     uint16_t port, const uint8_t mesh_id[16],
                     const uint8_t *key, char *error, size_t error_size)
{
    assert (self_p && iface && mesh_id && error);
    *self_p = NULL;
    meshq_swim_udp_t *self = calloc (1, sizeof *self);
    assert (self);
    self->family = iface->family;
    self->scope = iface->index;
    memcpy (self->mesh_id, mesh_id, 16);
    if (key) {
        self->sealed = true;
        memcpy (self->key, key, MESHQ_SWIM_KEY_SIZE);
    }
    self->addr.port = port;
    if (iface->family == AF_INET) {
        memcpy (self->addr.ip, s_mapped, 12);
        memcpy (self->addr.ip + 12, &iface->ipv4, 4);
    } else
        memcpy (self->addr.ip, &iface->ipv6, 16);
    self->fd =
        socket (iface->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    //  An agent starved of CPU (hundreds starting on a few cores) meets
    //  a burst of probes, tables and gossip when it runs again: with the
    //  system default (about 200 small datagrams) the kernel drops the
    //  suspicion it must refute, and it is declared dead. The kernel
    //  caps this at net.core.rmem_max; it is kernel memory, bounded.
    int rcvbuf = MESHQ_SWIM_UDP_RCVBUF;
    if (self->fd >= 0)
        setsockopt (self->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_storage bind_to;
    socklen_t size = s_to_sockaddr (self, &self->addr, &bind_to);
    int rc =
        self->fd < 0 ? -1 : bind (self->fd, (struct sockaddr *)&bind_to, size);
    if (rc) {
        int code = errno == EADDRINUSE ? MESHQ_EEXIST : MESHQ_EIO;
        snprintf (error, error_size,
                  "cannot bind the membership's UDP port %u on %s: %s; "
                  "choose another --port",
                  port, iface->address, strerror (errno));
        if (self->fd >= 0)
            close (self->fd);
        sodium_memzero (self->key, sizeof self->key);
        free (self);
        return code;
    }
    *self_p = self;
    return 0;
}

void
meshq_swim_udp_destroy (meshq_swim_udp_t **self_p)
{
    assert (self_p);
    meshq_swim_udp_t *self = *self_p;
    if (!self)
        return;
    close (self->fd);
    sodium_memzero (self->key, sizeof self->key);
    free (self);
    *self_p = NULL;
}

int
meshq_swim_udp_fd (const meshq_swim_udp_t *self)
{
    assert (self);
    return self->fd;
}

void
meshq_swim_udp_addr (const meshq_swim_udp_t *self, meshq_swim_addr_t *addr)
{
    assert (self && addr);
    *addr = self->addr;
}

int
meshq_swim_udp_send (meshq_swim_udp_t *self, const meshq_swim_addr_t *addr,
                     const void *data, size_t size)
{
    assert (self && addr && (data || !size));
    struct sockaddr_storage to;
    socklen_t to_size = s_to_sockaddr (self, addr, &to);
    if (size > MESHQ_SWIM_UDP_MAX || !to_size || !addr->port) {
        self->stats.send_errors++;
        return MESHQ_EIO;
    }
    memcpy (self->out, self->mesh_id, S_HEADER);
    memcpy (self->out + S_HEADER, data, size);
    size_t total = S_HEADER + size;
    if (self->sealed) {
        crypto_auth (self->out + total, self->out, total, self->key);
        total += S_TAG;
    }
    ssize_t sent = sendto (self->fd, self->out, total, MSG_DONTWAIT,
                           (struct sockaddr *)&to, to_size);
    if (sent != (ssize_t)total) {
        self->stats.send_errors++;
        return MESHQ_EIO;
    }
    self->stats.sent++;
    return 0;
}

static int
s_drop (meshq_swim_udp_t *self, meshq_swim_drop_t why,
        meshq_swim_drop_t *reason)
{
    self->stats.dropped[why]++;
    if (reason)
        *reason = why;
    return MESHQ_EACCESS;
}

int
meshq_swim_udp_recv (meshq_swim_udp_t *self, const uint8_t **data, size_t *size,
                     meshq_swim_drop_t *reason)
{
    assert (self && data && size);
    //  MSG_TRUNC: the real length even when it does not fit.
    ssize_t got =
        recv (self->fd, self->in, sizeof self->in, MSG_DONTWAIT | MSG_TRUNC);
    if (got < 0)
        return MESHQ_EAGAIN;
    size_t total = (size_t)got;
    size_t tag = self->sealed ? S_TAG : 0;
    if (total > sizeof self->in || total < S_HEADER + tag ||
        total - S_HEADER - tag > MESHQ_SWIM_UDP_MAX)
        return s_drop (self, MESHQ_SWIM_DROP_SIZE, reason);
    if (self->sealed && crypto_auth_verify (self->in + total - S_TAG, self->in,
                                            total - S_TAG, self->key))
        return s_drop (self, MESHQ_SWIM_DROP_AUTH, reason);
    if (memcmp (self->in, self->mesh_id, S_HEADER) != 0)
        return s_drop (self, MESHQ_SWIM_DROP_MESH, reason);
    self->stats.received++;
    *data = self->in + S_HEADER;
    *size = total - S_HEADER - tag;
    return 0;
}

const meshq_swim_udp_stats_t *
meshq_swim_udp_stats (const meshq_swim_udp_t *self)
{
    assert (self);
    return &self->stats;
}

const char *
meshq_swim_udp_drop_name (meshq_swim_drop_t reason)
{
    switch (reason) {
        case MESHQ_SWIM_DROP_SIZE:
            return "size";
        case MESHQ_SWIM_DROP_MESH:
            return "mesh";
        case MESHQ_SWIM_DROP_AUTH:
            return "auth";
        default:
            return "unknown";
    }
}

int
meshq_swim_udp_endpoint (const meshq_swim_addr_t *addr, unsigned scope,
                         char *out, size_t out_size)
{
    assert (addr && out);
    if (!addr->port)
        return MESHQ_EINVAL;
    if (memcmp (addr->ip, s_mapped, 12) == 0)
        return meshq_iface_endpoint (AF_INET, addr->ip + 12, scope, addr->port,
                                     out, out_size);
    return meshq_iface_endpoint (AF_INET6, addr->ip, scope, addr->port, out,
                                 out_size);
}

int
meshq_swim_udp_parse (const char *endpoint, meshq_swim_addr_t *addr)
{
    assert (addr);
    uint16_t port;
    if (!meshq_iface_endpoint_valid (endpoint) ||
        meshq_iface_endpoint_port (endpoint, &port))
        return MESHQ_EINVAL;
    memset (addr, 0, sizeof *addr);
    addr->port = port;
    const char *host = endpoint + 6;
    char text[MESHQ_ADDRESS_MAX];
    if (*host == '[') {
        size_t size = strcspn (host + 1, "]%");
        if (size >= sizeof text)
            return MESHQ_EINVAL;
        memcpy (text, host + 1, size);
        text[size] = 0;
        return inet_pton (AF_INET6, text, addr->ip) == 1 ? 0 : MESHQ_EINVAL;
    }
    size_t size = strcspn (host, ":");
    if (size >= sizeof text)
        return MESHQ_EINVAL;
    memcpy (text, host, size);
    text[size] = 0;
    memcpy (addr->ip, s_mapped, 12);
    return inet_pton (AF_INET, text, addr->ip + 12) == 1 ? 0 : MESHQ_EINVAL;
}
