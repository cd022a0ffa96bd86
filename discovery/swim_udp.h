/*  swim_udp.h - the membership's datagrams: one unicast UDP socket per
    mesh node, bound to the address and port number of its ROUTER.

    Every datagram is the mesh's 16-byte id (the beacons' mesh id: mesh
    and vhost), then one SWIM message (codec_swim.h), then, in a mesh
    with a secret, a 32-byte tag: crypto_auth over the rest under a key
    derived from the mesh's secret. A datagram of another mesh, one
    whose tag does not verify, or one out of bounds is counted by reason
    and dropped before the membership sees it:

        meshq_swim_udp_t *udp;
        if (meshq_swim_udp_open (&udp, &iface, port, mesh_id, key, error,
                                 sizeof error))
            ...  //  error says what the operating system refused
        meshq_swim_udp_send (udp, &addr, data, size);
        const uint8_t *data;
        size_t size;
        while (meshq_swim_udp_recv (udp, &data, &size) == 0)
            meshq_swim_recv (swim, data, size);
*/
#ifndef MESHQ_SWIM_UDP_H_INCLUDED
#define MESHQ_SWIM_UDP_H_INCLUDED

#include "iface.h"
#include "swim.h"

#include <stdint.h>

typedef struct _meshq_swim_udp_t meshq_swim_udp_t;

//  Largest SWIM message a datagram carries.
#define MESHQ_SWIM_UDP_MAX (64 * 1024 - 128)

//  Receive buffer asked of the kernel (which doubles it for its own
//  accounting and caps it at net.core.rmem_max): room for a burst of
//  a few thousand small datagrams while the membership thread waits.
#define MESHQ_SWIM_UDP_RCVBUF (1024 * 1024)

//  Size of the key that seals datagrams.
#define MESHQ_SWIM_KEY_SIZE 32

//  Why a datagram was dropped.
typedef enum {
    MESHQ_SWIM_DROP_SIZE,  //  Shorter than its header and tag, or larger
                           //  than MESHQ_SWIM_UDP_MAX.
    MESHQ_SWIM_DROP_MESH,  //  Another mesh's.
    MESHQ_SWIM_DROP_AUTH,  //  Its tag does not verify.
    MESHQ_SWIM_DROP_COUNT
} meshq_swim_drop_t;

typedef struct {
    uint64_t received;                        //  Datagrams taken.
    uint64_t sent;                            //  Datagrams sent.
    uint64_t send_errors;                     //  Sends refused.
    uint64_t dropped[MESHQ_SWIM_DROP_COUNT];  //  By reason.
} meshq_swim_udp_stats_t;

//  Derives the key that seals datagrams from the mesh's CURVE secret key
//  (Z85, 40 characters).
void meshq_swim_udp_key (const char *curve_secret_z85,
                         uint8_t key[MESHQ_SWIM_KEY_SIZE]);

//  Opens a socket bound to iface's address and port. mesh_id is
//  copied; key, if not NULL, seals every datagram. Returns 0, or
//  MESHQ_EEXIST if the port is taken, MESHQ_EIO for another refusal,
//  with a sentence in error.
int meshq_swim_udp_open (meshq_swim_udp_t **self_p, const meshq_iface_t *iface,
                         uint16_t port, const uint8_t mesh_id[16],
                         const uint8_t *key, char *error, size_t error_size);

//  Closes and destroys; NULL-safe, nulls *self_p.
void meshq_swim_udp_destroy (meshq_swim_udp_t **self_p);

//  The file descriptor to poll for input.
int meshq_swim_udp_fd (const meshq_swim_udp_t *self);

//  This socket's own address, as members are addressed.
void meshq_swim_udp_addr (const meshq_swim_udp_t *self,
                          meshq_swim_addr_t *addr);

//  Sends one message to addr (sealed with a key). Returns 0, or
//  MESHQ_EIO (counted in send_errors): the protocol tolerates loss.
int meshq_swim_udp_send (meshq_swim_udp_t *self, const meshq_swim_addr_t *addr,
                         const void *data, size_t size);

//  Reads one datagram. Returns 0 with *data (valid until the next call)
//  and *size the message, MESHQ_EAGAIN if none waits, or MESHQ_EACCESS
//  for a datagram dropped (counted by reason; *reason says which).
int meshq_swim_udp_recv (meshq_swim_udp_t *self, const uint8_t **data,
                         size_t *size, meshq_swim_drop_t *reason);

//  Counters since open.
const meshq_swim_udp_stats_t *
meshq_swim_udp_stats (const meshq_swim_udp_t *self);

//  Names a drop reason ("size", "mesh", "auth").
const char *meshq_swim_udp_drop_name (meshq_swim_drop_t reason);

//  Writes tcp://ADDRESS:PORT for addr (IPv4-mapped addresses as IPv4;
//  link-local IPv6 with the scope of interface index scope). Returns 0
//  or MESHQ_EINVAL.
int meshq_swim_udp_endpoint (const meshq_swim_addr_t *addr, unsigned scope,
                             char *out, size_t out_size);

//  Reads tcp://ADDRESS:PORT (numeric) into addr. Returns 0 or
//  MESHQ_EINVAL.
int meshq_swim_udp_parse (const char *endpoint, meshq_swim_addr_t *addr);

#endif
