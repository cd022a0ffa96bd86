/*  meta_key.h - the keys of a vhost's metadata records, and the names of
    vhost directories, built from names so that they always fit.

    A queue, exchange or binding is kept as a record whose key is built
    from its names: "q/NAME", "x/NAME", "b/EXCHANGE\x1fQUEUE\x1fKEY\x1fMATCH"
    (MATCH in hex); a user, permission or vhost likewise: "u/USER",
    "p/VHOST\x1fUSER", "v/VHOST". The store and the mesh carry keys of at most 255
    bytes, which names of up to 255 bytes, as AMQP allows, overflow; such
    a key is written instead as its kind, '#', and 32 hex digits of a
    BLAKE2b-128 hash of the whole long key ("q#..."). The record itself
    still holds every name in full, so that applying it needs no parse
    of the key; only a tombstone (no value) must be matched, by building
    the key of each candidate again. A vhost's directory name is built
    the same way: its name, escaped, or '#' and a hash when that is
    empty or longer than a file name may be (docs/STORAGE.md section 9).
*/
#ifndef MESHQ_META_KEY_H_INCLUDED
#define MESHQ_META_KEY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Longest key the store and the mesh carry, and the buffer for one.
#define MESHQ_META_KEY_MAX  255
#define MESHQ_META_KEY_SIZE (MESHQ_META_KEY_MAX + 1)

//  Longest vhost directory name written: a file name's limit, so that
//  every name that had a directory before keeps it.
#define MESHQ_META_DIRNAME_MAX 255

//  Writes the key of queue name into out.
void meshq_meta_key_queue (char *out, const char *name);

//  Writes the key of exchange name into out.
void meshq_meta_key_exchange (char *out, const char *name);

//  Writes the key of a binding into out.
void meshq_meta_key_binding (char *out, const char *exchange, const char *queue,
                             const char *key, const uint8_t *match,
                             size_t match_size);

//  Writes the key of user's record ("u/USER") into out.
void meshq_meta_key_user (char *out, const char *user);

//  Writes the key of user's permission in vhost ("p/VHOST\x1fUSER").
void meshq_meta_key_permission (char *out, const char *vhost, const char *user);

//  Writes the key of vhost's record ("v/VHOST") into out.
void meshq_meta_key_vhost (char *out, const char *vhost);

//  Returns the kind of a key, 'q', 'x', 'b', or in the default vhost
//  'u', 'p', 'v' (sets *hashed when it is the hashed form), or 0 for
//  any other key.
char meshq_meta_key_kind (const char *key, bool *hashed);

//  Writes the directory name of vhost name (not "/", which has none)
//  into out, of at least MESHQ_META_DIRNAME_MAX + 1 bytes.
void meshq_meta_key_dirname (char *out, const char *name);

#endif
