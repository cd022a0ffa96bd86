/*  mesh_secret.h - the mesh secret, and the CURVE keys made from it.

    A mesh secret works like RabbitMQ's Erlang cookie: one file, copied
    to every agent of a mesh, and only agents that hold the same secret
    join each other. The agent reads the file once, at start, and keeps
    only a key hashed from it; each vhost's mesh gets a CURVE keypair of
    its own from that key and the vhost's name, the same on every agent:

        uint8_t key[MESHQ_MESH_KEY_SIZE];
        char why[512];
        if (meshq_mesh_secret_load ("/etc/meshq/mesh.secret", key, why,
                                    sizeof why))
            ...  //  refuse to start, saying why
        char public[41], secret[41];
        meshq_mesh_secret_keypair (key, "/", public, secret);

    docs/DISCOVERY.md, "Securing a mesh", tells operators how to make one.
*/
#ifndef MESHQ_MESH_SECRET_H_INCLUDED
#define MESHQ_MESH_SECRET_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Bytes of a secret, after trailing white space is trimmed: at least
//  MIN (a guess must be hopeless), at most MAX (it is a secret, not a
//  data file).
#define MESHQ_MESH_SECRET_MIN 16
#define MESHQ_MESH_SECRET_MAX 4096

//  Bytes of the key hashed from a secret.
#define MESHQ_MESH_KEY_SIZE 32

//  Reads the secret in the file at path, trims trailing white space and
//  hashes it into key. Refuses a file that is not a regular file, that
//  its group or others may read or write (as ssh does its keys), or
//  whose secret is shorter or longer than the bounds above. Returns 0,
//  MESHQ_ENOTFOUND if there is no such file, MESHQ_EIO if it cannot be
//  read, or MESHQ_EINVAL; on failure why holds a sentence naming the
//  file, what is wrong and the way out.
int meshq_mesh_secret_load (const char *path, uint8_t *key, char *why,
                            size_t size);

//  Derives the CURVE keypair of a vhost's mesh from key: the same for
//  every agent with the same secret, another for each vhost. Writes
//  both keys in Z85 (40 characters and a NUL) to public_z85 and
//  secret_z85; the caller zeroes secret_z85 when done.
void meshq_mesh_secret_keypair (const uint8_t *key, const char *vhost,
                                char *public_z85, char *secret_z85);

#endif
