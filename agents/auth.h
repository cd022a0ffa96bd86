/*  auth.h - users, permissions and tags, as RabbitMQ has them.

    A user has a password (kept only as a libsodium crypto_pwhash string)
    and tags (administrator, management, monitoring). A permission gives
    a user three regular expressions over resource names in one vhost:
    configure (declare, delete), write (publish to an exchange, bind a
    queue), read (consume, get, purge a queue; bind from an exchange). A
    pattern matches if it matches anywhere in the name, as in RabbitMQ:
    "^$" allows nothing, ".*" everything. The default exchange is checked
    as "amq.default".

    Pure bookkeeping: no sockets, no store. The agent (agent_auth.c)
    keeps these tables in step with its metadata records.
*/
#ifndef MESHQ_AUTH_H_INCLUDED
#define MESHQ_AUTH_H_INCLUDED

#include "envelope.h"

#include <regex.h>
#include <stdbool.h>

//  User tags, as bits.
//  crypto_pwhash_str ("guest") with the interactive limits. The default
//  user's password is public, so its hash may be too: a fresh agent
//  spares 65 ms of hashing before it is ready, and the verifier 65 ms
//  of checking at the first login as guest (a password checks against
//  it if and only if it is "guest").
#define MESHQ_AUTH_GUEST_HASH                                                  \
    "$argon2id$v=19$m=65536,t=2,p=1$pxkFU1tO0NDGVyeFGAC4lw$"                   \
    "hmcuEbWh8cMlCdNQVZ4lasdV2ecqyaMGUpPRHNK6Z/I"

#define MESHQ_TAG_ADMINISTRATOR 1
#define MESHQ_TAG_MANAGEMENT    2
#define MESHQ_TAG_MONITORING    4

//  The three kinds of permission.
typedef enum {
    MESHQ_PERM_CONFIGURE,
    MESHQ_PERM_WRITE,
    MESHQ_PERM_READ,
} meshq_perm_kind_t;

typedef struct {
    char hash[128];  //  crypto_pwhash_str of the password.
    unsigned tags;   //  MESHQ_TAG_* bits.
} meshq_user_t;

typedef struct {
    char *pattern[3];  //  Sources, by meshq_perm_kind_t.
    regex_t regex[3];  //  Compiled.
} meshq_perm_t;

//  Parses a comma- or space-separated tag list ("administrator,
//  monitoring", "none" or ""). Returns 0 or MESHQ_EINVAL, with the
//  unknown tag named in why.
int meshq_auth_parse_tags (const char *text, unsigned *tags, char *why,
                           size_t size);

//  Writes the tags as a comma-separated list ("" for none).
void meshq_auth_format_tags (unsigned tags, char *out, size_t size);

//  Compiles the three patterns of a permission. Returns 0, or
//  MESHQ_EINVAL with the bad pattern named in why.
int meshq_perm_new (meshq_perm_t **perm_p, const char *configure,
                    const char *write, const char *read, char *why,
                    size_t size);
void meshq_perm_destroy (meshq_perm_t **self_p);

//  True if the permission allows kind on resource.
bool meshq_perm_allows (const meshq_perm_t *self, meshq_perm_kind_t kind,
                        const char *resource);

//  Name of a kind: "configure", "write", "read".
const char *meshq_perm_kind_name (meshq_perm_kind_t kind);

//  Hashes a password for keeping (tens of milliseconds, on purpose).
//  Returns 0 or MESHQ_ENOMEM.
int meshq_auth_hash (const char *password, size_t size, char *hash,
                     size_t hash_size);

#endif
