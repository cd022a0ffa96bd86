/*  auth.h - who may log in to an agent and what each user may do.

    The agent's authentication and authorisation in one object, with no
    engine around it. It holds users (a libsodium crypto_pwhash string
    and tags: administrator, management, monitoring) and permissions
    (three regular expressions over resource names per user and vhost:
    configure, write, read, as RabbitMQ has them). Both arrive as
    metadata records, "u/USER" and "p/VHOST\x1fUSER", through
    meshq_auth_apply, whether written here, read back at start or learnt
    from a peer.

        meshq_auth_t *auth = meshq_auth_new ("a");
        meshq_auth_start (auth, loop, on_login, engine);  //  ZAP, verifier
        meshq_auth_apply (auth, "u/alice", &record);
        meshq_auth_login (auth, "alice", pw, size, "inproc", ticket);
        //  later, on the loop: on_login (engine, ticket, 0, NULL)
        if (meshq_auth_allowed (auth, "alice", "/", MESHQ_PERM_WRITE, "x"))

    Logins: clients on ipc:// and tcp:// log in with ZeroMQ PLAIN, which
    libzmq checks through this object's ZAP handler; inproc:// clients
    through meshq_auth_login. Either way the password is checked on a
    thread of its own (verifier.c). That thread's queue is bounded
    (MESHQ_AUTH_PENDING_MAX: more is refused at once, "busy"), each
    source may fail only so often (MESHQ_AUTH_FAILURE_BURST, then one
    per MESHQ_AUTH_REFILL_MS: more is refused at once, "throttled"), and
    an unknown user is checked against a dummy hash so that it costs
    what a known one does. Passes are remembered, so reconnections are
    cheap. The same ZAP handler admits a mesh link only with the mesh's
    own CURVE key (domain MESHQ_PEERS_ZAP_PREFIX and that key).
*/
#ifndef MESHQ_AUTH_H_INCLUDED
#define MESHQ_AUTH_H_INCLUDED

#include "args.h"

#include <czmq.h>
#include <stdbool.h>

//  crypto_pwhash_str ("guest") with the interactive limits. The default
//  user's password is public, so its hash may be too: a fresh agent
//  spares 65 ms of hashing before it is ready, and the verifier 65 ms
//  of checking at the first login as guest (a password checks against
//  it if and only if it is "guest").
#define MESHQ_AUTH_GUEST_HASH                                                  \
    "$argon2id$v=19$m=65536,t=2,p=1$pxkFU1tO0NDGVyeFGAC4lw$"                   \
    "hmcuEbWh8cMlCdNQVZ4lasdV2ecqyaMGUpPRHNK6Z/I"

//  User tags, as bits.
#define MESHQ_TAG_ADMINISTRATOR 1
#define MESHQ_TAG_MANAGEMENT    2
#define MESHQ_TAG_MONITORING    4

//  Most password checks waiting for the verifier at once: a real login
//  waits behind at most this many (about 65 ms each).
#define MESHQ_AUTH_PENDING_MAX 8

//  Failed logins a source may have before it is throttled, and the
//  milliseconds after which it may fail once more.
#define MESHQ_AUTH_FAILURE_BURST 5
#define MESHQ_AUTH_REFILL_MS     1000

//  The three kinds of permission.
typedef enum {
    MESHQ_PERM_CONFIGURE,
    MESHQ_PERM_WRITE,
    MESHQ_PERM_READ,
} meshq_perm_kind_t;

//  Why a login was refused.
typedef enum {
    MESHQ_AUTH_PASSWORD,   //  Wrong user or password.
    MESHQ_AUTH_BUSY,       //  The verifier's queue was full.
    MESHQ_AUTH_THROTTLED,  //  Too many failures from its source.
    MESHQ_AUTH_OTHER,      //  Mechanism, domain, guest from afar.
    MESHQ_AUTH_REASONS
} meshq_auth_reason_t;

typedef struct {
    char hash[128];  //  crypto_pwhash_str of the password.
    unsigned tags;   //  MESHQ_TAG_* bits.
} meshq_user_t;

typedef struct {
    uint64_t refused[MESHQ_AUTH_REASONS];  //  Logins refused, by reason.
    uint64_t verified;                     //  Checks the verifier made.
    size_t pending;                        //  Checks waiting now.
} meshq_auth_stats_t;

typedef struct _meshq_auth_t meshq_auth_t;

//  The answer to meshq_auth_login, on the loop given to start (or at
//  once, from inside meshq_auth_login): rc 0, or MESHQ_EACCESS or
//  MESHQ_EAGAIN with why (static text for the client).
typedef void (meshq_auth_login_fn) (void *arg, void *ticket, int rc,
                                    const char *why);

//  A new, empty auth for the agent of this name.
meshq_auth_t *meshq_auth_new (const char *name);
//  Stops it if it runs; answers pending logins with MESHQ_EAGAIN.
void meshq_auth_destroy (meshq_auth_t **self_p);

//  Starts the verifier and, if no other agent of the process holds it,
//  the ZAP handler, both read by loop. fn gets the answers to
//  meshq_auth_login. Returns 0.
int meshq_auth_start (meshq_auth_t *self, zloop_t *loop,
                      meshq_auth_login_fn *fn, void *arg);
void meshq_auth_stop (meshq_auth_t *self);

//  Sets the bounds of logins (by default MESHQ_AUTH_PENDING_MAX,
//  MESHQ_AUTH_FAILURE_BURST and MESHQ_AUTH_REFILL_MS).
void meshq_auth_set_limits (meshq_auth_t *self, size_t pending_max,
                            uint32_t failure_burst, int64_t refill_ms);

//  The ZAP domain of the agent's client sockets.
const char *meshq_auth_zap_domain (meshq_auth_t *self);

//  Checks user and password (size bytes, not kept) for a client of
//  source (its address, or its connection: what failures are counted
//  against). ticket comes back to fn with the answer.
void meshq_auth_login (meshq_auth_t *self, const char *user,
                       const void *password, size_t size, const char *source,
                       void *ticket);

//  Applies a metadata record: "u/USER" (user, pwhash, tags) or
//  "p/VHOST\x1fUSER" (vhost, user, configure, write, read), or their
//  hashed forms "u#..." and "p#..." (meta_key.h); args NULL deletes it.
//  The names come from the record; a hashed tombstone is matched by
//  building each user's or permission's key again.
//  Returns 0, or MESHQ_EINVAL for another key, a key that is not its
//  names' or a bad pattern (the record is then skipped, and logged).
int meshq_auth_apply (meshq_auth_t *self, const char *key,
                      const meshq_args_t *args);

//  True if user may do kind on resource in vhost ("" is the default
//  exchange, checked as "amq.default").
bool meshq_auth_allowed (meshq_auth_t *self, const char *user,
                         const char *vhost, meshq_perm_kind_t kind,
                         const char *resource);

//  True if user has permissions in vhost (may open a session there).
bool meshq_auth_may_enter (meshq_auth_t *self, const char *user,
                           const char *vhost);

//  The user of this name, or NULL. Borrowed.
const meshq_user_t *meshq_auth_user (meshq_auth_t *self, const char *name);

//  True if the user has one of these tags.
bool meshq_auth_tagged (meshq_auth_t *self, const char *user, unsigned tags);

//  Bumped at every change of permissions, for callers that cache.
uint64_t meshq_auth_generation (meshq_auth_t *self);

//  Calls fn for each user; for each permission (of vhost, or of user,
//  or all, when NULL), with its three patterns.
void meshq_auth_each_user (meshq_auth_t *self,
                           void (*fn) (void *arg, const char *name,
                                       const meshq_user_t *user),
                           void *arg);
void meshq_auth_each_permission (meshq_auth_t *self, const char *vhost,
                                 const char *user,
                                 void (*fn) (void *arg, const char *vhost,
                                             const char *user,
                                             const char *patterns[3]),
                                 void *arg);

//  Counters. Borrowed.
const meshq_auth_stats_t *meshq_auth_stats (meshq_auth_t *self);

//  Parses a comma- or space-separated tag list ("administrator,
//  monitoring", "none" or ""). Returns 0 or MESHQ_EINVAL, with the
//  unknown tag named in why.
int meshq_auth_parse_tags (const char *text, unsigned *tags, char *why,
                           size_t size);

//  Writes the tags as a comma-separated list ("" for none).
void meshq_auth_format_tags (unsigned tags, char *out, size_t size);

//  Checks that three patterns compile. Returns 0, or MESHQ_EINVAL with
//  the bad pattern named in why.
int meshq_auth_check_patterns (const char *configure, const char *write,
                               const char *read, char *why, size_t size);

//  Name of a kind: "configure", "write", "read".
const char *meshq_perm_kind_name (meshq_perm_kind_t kind);

//  Hashes a password for keeping (tens of milliseconds, on purpose).
//  Returns 0 or MESHQ_ENOMEM.
int meshq_auth_hash (const char *password, size_t size, char *hash,
                     size_t hash_size);

#endif
