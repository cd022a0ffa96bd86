/*  beacon.c - the UDP beacon record. See beacon.h and docs/PROTOCOL.md
    section 5.1.

    Layout, big-endian:
        0   4  signature "MSHQ"
        4   1  version
        5   1  flags
        6   2  port
        8  16  node id
       24   8  incarnation
       32  16  mesh id
    and, sealed (with a mesh secret; flags bit 0 set):
       48  32  HMAC-SHA-512-256 of bytes 0..47
*/
#include "beacon.h"
#include "meshq.h"

#include <assert.h>
#include <czmq.h>
#include <sodium.h>
#include <string.h>

static const uint8_t s_signature[4] = {'M', 'S', 'H', 'Q'};

static const char *s_drop_names[MESHQ_BEACON_DROP_COUNT] = {
    "size",      "signature", "version", "malformed", "mesh",    "self",
    "interface", "stale",     "full",    "future",    "pending", "auth",
};

static bool
s_zero (const uint8_t *data, size_t size)
{
    uint8_t any = 0;
    for (size_t i = 0; i < size; i++)
        any |= data[i];
    return any == 0;
}

void
meshq_beacon_mesh_id (const char *mesh, const char *vhost,
                      uint8_t id[MESHQ_ID_SIZE])
{
    assert (mesh && vhost);
    //  BLAKE2b needs no sodium_init (), which only picks a faster
    //  implementation; 16 bytes is libsodium's shortest output and all
    //  the beacon has room for. Python: hashlib.blake2b (mesh + b"\0" +
    //  vhost, digest_size=16).
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, MESHQ_ID_SIZE);
    crypto_generichash_update (&state, (const uint8_t *)mesh, strlen (mesh));
    crypto_generichash_update (&state, (const uint8_t *)"", 1);
    crypto_generichash_update (&state, (const uint8_t *)vhost, strlen (vhost));
    crypto_generichash_final (&state, id, MESHQ_ID_SIZE);
}

void
meshq_beacon_encode (const meshq_beacon_t *beacon,
                     uint8_t out[MESHQ_BEACON_SIZE])
{
    memcpy (out, s_signature, 4);
    out[4] = MESHQ_BEACON_VERSION;
    out[5] = 0;
    out[6] = (uint8_t)(beacon->port >> 8);
    out[7] = (uint8_t)beacon->port;
    memcpy (out + 8, beacon->node, MESHQ_ID_SIZE);
    for (int i = 0; i < 8; i++)
        out[24 + i] = (uint8_t)(beacon->incarnation >> (56 - 8 * i));
    memcpy (out + 32, beacon->mesh, MESHQ_ID_SIZE);
}

void
meshq_mesh_key (const char *curve_secret_z85, const char *context,
                uint8_t key[MESHQ_BEACON_KEY_SIZE])
{
    uint8_t raw[32];
    zmq_z85_decode (raw, curve_secret_z85);
    crypto_generichash (key, MESHQ_BEACON_KEY_SIZE, (const uint8_t *)context,
                        strlen (context), raw, sizeof raw);
    sodium_memzero (raw, sizeof raw);
}

void
meshq_beacon_key (const char *curve_secret_z85,
                  uint8_t key[MESHQ_BEACON_KEY_SIZE])
{
    meshq_mesh_key (curve_secret_z85, "meshq beacon key v1", key);
}

void
meshq_beacon_seal (const meshq_beacon_t *beacon,
                   const uint8_t key[MESHQ_BEACON_KEY_SIZE],
                   uint8_t out[MESHQ_BEACON_SEALED_SIZE])
{
    meshq_beacon_encode (beacon, out);
    out[5] |= MESHQ_BEACON_SEALED;
    crypto_auth (out + MESHQ_BEACON_SIZE, out, MESHQ_BEACON_SIZE, key);
}

static int
s_refuse (meshq_beacon_drop_t drop, int code, const char *reason,
          meshq_beacon_drop_t *drop_p, const char **why)
{
    if (drop_p)
        *drop_p = drop;
    if (why)
        *why = reason;
    return code;
}

int
meshq_beacon_decode (const void *data, size_t size, meshq_beacon_t *beacon,
                     meshq_beacon_drop_t *reason, const char **why)
{
    const uint8_t *in = data;
    //  recvfrom truncates long datagrams silently; the caller passes the
    //  real length (MSG_TRUNC), so one size check catches both.
    if (size != MESHQ_BEACON_SIZE)
        return s_refuse (MESHQ_BEACON_DROP_SIZE, MESHQ_EMALFORMED,
                         "beacon: not 48 bytes", reason, why);
    if (memcmp (in, s_signature, 4) != 0)
        return s_refuse (MESHQ_BEACON_DROP_SIGNATURE, MESHQ_EMALFORMED,
                         "beacon: signature is not MSHQ", reason, why);
    if (in[4] != MESHQ_BEACON_VERSION)
        return s_refuse (MESHQ_BEACON_DROP_VERSION, MESHQ_EVERSION,
                         "beacon: version is not 1", reason, why);
    beacon->flags = in[5];
    beacon->port = (uint16_t)(in[6] << 8 | in[7]);
    memcpy (beacon->node, in + 8, MESHQ_ID_SIZE);
    beacon->incarnation = 0;
    for (int i = 0; i < 8; i++)
        beacon->incarnation = beacon->incarnation << 8 | in[24 + i];
    memcpy (beacon->mesh, in + 32, MESHQ_ID_SIZE);
    if (beacon->port == 0)
        return s_refuse (MESHQ_BEACON_DROP_MALFORMED, MESHQ_ERANGE,
                         "beacon: port is 0", reason, why);
    if (s_zero (beacon->node, MESHQ_ID_SIZE))
        return s_refuse (MESHQ_BEACON_DROP_MALFORMED, MESHQ_ERANGE,
                         "beacon: node id is all zero", reason, why);
    if (beacon->incarnation == 0)
        return s_refuse (MESHQ_BEACON_DROP_MALFORMED, MESHQ_ERANGE,
                         "beacon: incarnation is 0", reason, why);
    return 0;
}

int
meshq_beacon_open (const void *data, size_t size,
                   const uint8_t key[MESHQ_BEACON_KEY_SIZE],
                   meshq_beacon_t *beacon, meshq_beacon_drop_t *reason,
                   const char **why)
{
    const uint8_t *in = data;
    if (size == MESHQ_BEACON_SIZE)
        return s_refuse (MESHQ_BEACON_DROP_AUTH, MESHQ_EACCESS,
                         "beacon: not sealed, and the mesh has a secret",
                         reason, why);
    if (size != MESHQ_BEACON_SEALED_SIZE)
        return s_refuse (MESHQ_BEACON_DROP_SIZE, MESHQ_EMALFORMED,
                         "beacon: not 80 bytes", reason, why);
    if (crypto_auth_verify (in + MESHQ_BEACON_SIZE, in, MESHQ_BEACON_SIZE,
                            key) != 0)
        return s_refuse (MESHQ_BEACON_DROP_AUTH, MESHQ_EACCESS,
                         "beacon: MAC does not verify under the mesh's key",
                         reason, why);
    int rc = meshq_beacon_decode (in, MESHQ_BEACON_SIZE, beacon, reason, why);
    if (rc == 0 && !(beacon->flags & MESHQ_BEACON_SEALED))
        return s_refuse (MESHQ_BEACON_DROP_AUTH, MESHQ_EACCESS,
                         "beacon: MAC without the sealed flag", reason, why);
    return rc;
}

const char *
meshq_beacon_drop_name (meshq_beacon_drop_t reason)
{
    assert ((unsigned)reason < MESHQ_BEACON_DROP_COUNT);
    return s_drop_names[reason];
}
