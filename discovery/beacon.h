/*  beacon.h - the UDP beacon record that announces a node.

    A beacon is a fixed-size binary record (not msgpack: it must be
    cheap to reject, and one size lets the receiver drop anything else
    before looking at it). docs/PROTOCOL.md section 5.1 gives the layout
    byte by byte. This module is pure: it encodes and decodes records and
    computes the mesh id; the socket lives in udp.c, and what a beacon
    means for the peer table is decided in peers.c.
*/
#ifndef MESHQ_BEACON_H_INCLUDED
#define MESHQ_BEACON_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Every beacon has exactly this many bytes; with a mesh secret, the
//  record and its MAC exactly MESHQ_BEACON_SEALED_SIZE.
#define MESHQ_BEACON_SIZE        48
#define MESHQ_BEACON_MAC_SIZE    32
#define MESHQ_BEACON_SEALED_SIZE (MESHQ_BEACON_SIZE + MESHQ_BEACON_MAC_SIZE)
#define MESHQ_BEACON_KEY_SIZE    32

//  The flag of a sealed beacon.
#define MESHQ_BEACON_SEALED 0x01

//  The beacon format this code writes and reads.
#define MESHQ_BEACON_VERSION 1

//  Default UDP port; Zyre uses 5670, and the two must never meet.
#define MESHQ_BEACON_PORT 5680

//  Size of node ids and mesh ids.
#define MESHQ_ID_SIZE 16

typedef struct {
    uint8_t node[MESHQ_ID_SIZE];  //  Sender's node id; never all zero.
    uint64_t incarnation;         //  Sender's start; never 0.
    uint16_t port;                //  Sender's ROUTER tcp port; never 0.
    uint8_t mesh[MESHQ_ID_SIZE];  //  meshq_beacon_mesh_id of its mesh.
    uint8_t flags;                //  Reserved: written 0, ignored on read.
} meshq_beacon_t;

//  Why a datagram on the beacon port was not taken as a beacon. The
//  decoder reports the first four; the peer table the others. Each
//  reason has its own counter.
typedef enum {
    MESHQ_BEACON_DROP_SIZE,       //  Not MESHQ_BEACON_SIZE bytes.
    MESHQ_BEACON_DROP_SIGNATURE,  //  Does not start with "MSHQ".
    MESHQ_BEACON_DROP_VERSION,    //  A version we do not speak.
    MESHQ_BEACON_DROP_MALFORMED,  //  Zero port, node id or incarnation.
    MESHQ_BEACON_DROP_MESH,       //  Another mesh or vhost.
    MESHQ_BEACON_DROP_SELF,       //  Our own, looped back.
    MESHQ_BEACON_DROP_INTERFACE,  //  Arrived on another interface.
    MESHQ_BEACON_DROP_STALE,      //  An older incarnation than we know.
    MESHQ_BEACON_DROP_FULL,       //  A new node, but the peer table is full.
    MESHQ_BEACON_DROP_FUTURE,     //  An incarnation over 24 h ahead.
    MESHQ_BEACON_DROP_PENDING,    //  A new node, and too many are pending
                                  //  or were tried this second.
    MESHQ_BEACON_DROP_AUTH,       //  With a mesh secret: no valid MAC.
    MESHQ_BEACON_DROP_COUNT       //  Number of reasons.
} meshq_beacon_drop_t;

//  Computes the mesh id: the 16-byte BLAKE2b of the mesh name, one zero
//  byte, and the vhost name. Nodes join only beacons with their own id,
//  so meshes and vhosts sharing a network never see each other.
void meshq_beacon_mesh_id (const char *mesh, const char *vhost,
                           uint8_t id[MESHQ_ID_SIZE]);

//  Writes the record for beacon into out. The caller checks the values
//  (nonzero port, node id and incarnation): they are our own.
void meshq_beacon_encode (const meshq_beacon_t *beacon,
                          uint8_t out[MESHQ_BEACON_SIZE]);

//  Decodes the size bytes at data. Returns 0, or MESHQ_EMALFORMED,
//  MESHQ_EVERSION or MESHQ_ERANGE with *reason set and *why naming the
//  fault as a static string. reason and why may be NULL.
int meshq_beacon_decode (const void *data, size_t size, meshq_beacon_t *beacon,
                         meshq_beacon_drop_t *reason, const char **why);

//  Derives a key of the mesh's from its CURVE secret key (Z85, 40
//  characters): BLAKE2b-256 of context keyed with the raw secret key.
//  Each use has its context ("meshq beacon key v1", "meshq swim key
//  v1"), so that no two share a key.
void meshq_mesh_key (const char *curve_secret_z85, const char *context,
                     uint8_t key[MESHQ_BEACON_KEY_SIZE]);

//  Derives the key that seals a mesh's beacons from its CURVE secret
//  key (Z85, 40 characters), itself derived from the mesh secret and
//  the vhost: BLAKE2b-256 of "meshq beacon key v1" keyed with the raw
//  secret key.
void meshq_beacon_key (const char *curve_secret_z85,
                       uint8_t key[MESHQ_BEACON_KEY_SIZE]);

//  Writes the sealed record of beacon: the record with the sealed flag
//  set, then its HMAC-SHA-512-256 (crypto_auth) under key.
void meshq_beacon_seal (const meshq_beacon_t *beacon,
                        const uint8_t key[MESHQ_BEACON_KEY_SIZE],
                        uint8_t out[MESHQ_BEACON_SEALED_SIZE]);

//  Checks and decodes a sealed record, as meshq_beacon_decode does a
//  plain one. A record of another size, an unsealed one or one whose
//  MAC does not verify under key is refused: MESHQ_BEACON_DROP_SIZE, or
//  MESHQ_BEACON_DROP_AUTH for a plain beacon or a bad MAC.
int meshq_beacon_open (const void *data, size_t size,
                       const uint8_t key[MESHQ_BEACON_KEY_SIZE],
                       meshq_beacon_t *beacon, meshq_beacon_drop_t *reason,
                       const char **why);

//  Returns the short name of a drop reason ("size", "mesh", ...), as
//  counters and logs show it.
const char *meshq_beacon_drop_name (meshq_beacon_drop_t reason);

#endif
