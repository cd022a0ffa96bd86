/*  mesh_secret.c - the mesh secret, and the CURVE keys made from it.
    See mesh_secret.h.

    key  = BLAKE2b-256 (the secret, keyed with "meshq mesh key v1")
    seed = BLAKE2b-256 (the vhost name, keyed with key)
    the vhost's mesh keypair = crypto_box_seed_keypair (seed)

    The context string versions the derivation: another one later makes
    other keys, never the same keys by another route.
*/
#include "mesh_secret.h"
#include "meshq.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_CONTEXT "meshq mesh key v1"

//  Checks what fd (open on path) is before anything is read from it.
static int
s_check_file (int fd, const char *path, char *why, size_t size)
{
    struct stat st;
    if (fstat (fd, &st)) {
        snprintf (why, size, "mesh_secret_file %s: %s", path, strerror (errno));
        return MESHQ_EIO;
    }
    if (!S_ISREG (st.st_mode)) {
        snprintf (why, size, "mesh_secret_file %s: not a regular file", path);
        return MESHQ_EINVAL;
    }
    if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
        snprintf (why, size,
                  "mesh_secret_file %s: group or others may read or write "
                  "it (mode %04o); make it private: chmod 600 %s",
                  path, (unsigned)(st.st_mode & 07777), path);
        return MESHQ_EINVAL;
    }
    return 0;
}

int
meshq_mesh_secret_load (const char *path, uint8_t *key, char *why, size_t size)
{
    assert (path && key && why);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf (why, size, "mesh_secret_file %s: %s", path, strerror (errno));
        return errno == ENOENT ? MESHQ_ENOTFOUND : MESHQ_EIO;
    }
    int rc = s_check_file (fd, path, why, size);
    //  One byte more than the most a secret may have, to tell a file
    //  that is too long.
    uint8_t secret[MESHQ_MESH_SECRET_MAX + 1];
    size_t length = 0;
    while (rc == 0 && length < sizeof secret) {
        ssize_t got = read (fd, secret + length, sizeof secret - length);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf (why, size, "mesh_secret_file %s: %s", path,
                      strerror (errno));
            rc = MESHQ_EIO;
        } else if (got == 0)
            break;
        else
            length += (size_t)got;
    }
    close (fd);
    while (length > 0 && strchr (" \t\r\n\v\f", secret[length - 1]) &&
           secret[length - 1])
        length--;
    if (rc == 0 && length > MESHQ_MESH_SECRET_MAX) {
        snprintf (why, size,
                  "mesh_secret_file %s: longer than %d bytes; a secret of "
                  "32 random bytes is enough",
                  path, MESHQ_MESH_SECRET_MAX);
        rc = MESHQ_EINVAL;
    } else if (rc == 0 && length < MESHQ_MESH_SECRET_MIN) {
        snprintf (why, size,
                  "mesh_secret_file %s: the secret has %zu bytes, fewer "
                  "than %d; make one with: head -c 32 /dev/urandom | "
                  "base64 > %s",
                  path, length, MESHQ_MESH_SECRET_MIN, path);
        rc = MESHQ_EINVAL;
    }
    if (rc == 0)
        crypto_generichash (key, MESHQ_MESH_KEY_SIZE, secret, length,
                            (const uint8_t *)S_CONTEXT, strlen (S_CONTEXT));
    sodium_memzero (secret, sizeof secret);
    return rc;
}

void
meshq_mesh_secret_keypair (const uint8_t *key, const char *vhost,
                           char *public_z85, char *secret_z85)
{
    assert (key && vhost && public_z85 && secret_z85);
    uint8_t seed[crypto_box_SEEDBYTES];
    uint8_t public_key[crypto_box_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_box_SECRETKEYBYTES];
    crypto_generichash (seed, sizeof seed, (const uint8_t *)vhost,
                        strlen (vhost), key, MESHQ_MESH_KEY_SIZE);
    crypto_box_seed_keypair (public_key, secret_key, seed);
    zmq_z85_encode (public_z85, public_key, sizeof public_key);
    zmq_z85_encode (secret_z85, secret_key, sizeof secret_key);
    sodium_memzero (seed, sizeof seed);
    sodium_memzero (secret_key, sizeof secret_key);
}
