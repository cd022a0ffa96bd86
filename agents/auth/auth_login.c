/*  auth_login.c - logins: the ZAP handler, inproc:// logins and the
    verifier's answers. See auth.h.

    Clients on ipc:// and tcp:// authenticate with ZeroMQ PLAIN: libzmq
    asks the ZAP handler here (inproc://zeromq.zap.01) before the
    connection is up, and the frames of an accepted connection carry its
    User-Id. inproc:// has no handshake, so the engine hands those
    clients' user and password to meshq_auth_login. Either way the
    password is checked against its crypto_pwhash string on the
    verifier's thread (verifier.c), so the agent's loop never stalls for
    it; a check that passed is remembered (a hash of user, password and
    stored hash) so that reconnections are cheap. guest may connect only
    over ipc:// and inproc://, as RabbitMQ keeps guest to localhost.

    What a stranger can make the verifier spend is bounded. Its queue
    holds MESHQ_AUTH_PENDING_MAX checks: a login beyond them is refused
    at once (busy), so a real login waits behind at most that many. Each
    source (a client's address; ipc:// peers show their process) has
    MESHQ_AUTH_FAILURE_BURST tokens, one more per MESHQ_AUTH_REFILL_MS:
    a check takes one, a pass gives it back, and a source with none is
    refused at once (throttled). An unknown user, or a login without a
    password, is checked against a dummy hash that fails: it costs what
    a known user's wrong password costs, so the time of the answer does
    not tell which users exist.

    The same handler answers for the mesh ROUTERs of agents with a mesh
    secret (their ZAP domain starts with MESHQ_PEERS_ZAP_PREFIX): a peer
    gets in only with the mesh's own CURVE key.
*/
#include "auth_internal.h"
#include "meshq.h"
#include "peers.h"
#include "verifier.h"

#include <inttypes.h>
#include <sodium.h>

//  Remembered password checks, before the cache is cleared.
#define S_CACHE_MAX 10000

//  Refusals logged per second, at most.
#define S_WARNINGS 10

//  Sources whose failures are counted, before the table is trimmed.
#define S_SOURCES_MAX 4096

//  What an unknown user's password is checked against: the hash of 32
//  random bytes nobody kept, with the limits of every other hash.
#define S_DUMMY_HASH                                                           \
    "$argon2id$v=19$m=65536,t=2,p=1$8nPiZtbV/zkRxeeDAYdlIA$"                   \
    "Y5rXpqxwvkq57TIPhdtXKtk/1nEhsEtrNfJO9x2kHFc"

//  A source's failure budget.
typedef struct {
    uint32_t tokens;   //  Checks it may still start.
    int64_t refilled;  //  Monotonic ms the tokens were last counted.
} s_source_t;

//  A login on its way.
typedef struct {
    bool zap;                           //  A ZAP request (else a login).
    zmsg_t *reply;                      //  ZAP: routing id, empty, version, id.
    void *ticket;                       //  Login: the caller's.
    char user[MESHQ_MAX_SHORTSTR + 1];  //  The user.
    char source[128];                   //  Where it came from.
    char key[65];                       //  Cache key, hex.
    bool dummy;                         //  Checked only to take the time.
} s_check_t;

static void
s_check_destroy (s_check_t **self_p)
{
    zmsg_destroy (&(*self_p)->reply);
    free (*self_p);
    *self_p = NULL;
}

//  The cache key of a check: BLAKE2b of user, password and stored hash.
static void
s_cache_key (const char *user, const void *password, size_t size,
             const char *hash, char *out)
{
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, 32);
    crypto_generichash_update (&state, (const uint8_t *)user,
                               strlen (user) + 1);
    crypto_generichash_update (&state, (const uint8_t *)password, size);
    crypto_generichash_update (&state, (const uint8_t *)"", 1);
    crypto_generichash_update (&state, (const uint8_t *)hash, strlen (hash));
    uint8_t digest[32];
    crypto_generichash_final (&state, digest, sizeof digest);
    sodium_bin2hex (out, 65, digest, sizeof digest);
}

//  Counts and logs a refusal, the log at most S_WARNINGS a second.
static void
s_refused (meshq_auth_t *self, meshq_auth_reason_t reason, const char *user,
           const char *why)
{
    self->stats.refused[reason]++;
    int64_t now = zclock_mono () / 1000;
    if (now != self->warn_second) {
        self->warn_second = now;
        self->warned = 0;
    }
    if (self->warned++ < S_WARNINGS)
        zsys_warning ("auth: refused user=%s reason=%s", user, why);
}

static void
s_zap_reply (meshq_auth_t *self, zmsg_t **reply_p, const char *status,
             const char *text, const char *user)
{
    zmsg_t *reply = *reply_p;
    zmsg_addstr (reply, status);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, user);
    zmsg_addmem (reply, NULL, 0);
    if (!self->zap || zmsg_send (&reply, self->zap))
        zmsg_destroy (&reply);
    *reply_p = NULL;
}

//  Gives a check its answer (rc 0 or a code, why for the client) and
//  destroys it.
static void
s_answer (meshq_auth_t *self, s_check_t **check_p, int rc, const char *why)
{
    s_check_t *check = *check_p;
    //  ZAP's 300 is a temporary failure: the client may try again.
    if (check->zap)
        s_zap_reply (self, &check->reply,
                     rc == 0              ? "200"
                     : rc == MESHQ_EAGAIN ? "300"
                                          : "400",
                     rc == 0 ? "OK" : why, rc == 0 ? check->user : "");
    else if (self->fn)
        self->fn (self->arg, check->ticket, rc, why);
    s_check_destroy (check_p);
}

//  The budget of a source, its tokens counted up to now.
static s_source_t *
s_source (meshq_auth_t *self, const char *name)
{
    int64_t now = zclock_mono ();
    s_source_t *source = zhashx_lookup (self->sources, name);
    if (!source) {
        if (zhashx_size (self->sources) >= S_SOURCES_MAX) {
            //  Forget the sources that are owed nothing; if all are,
            //  forget all (the verifier's bound still holds).
            zlistx_t *full = zlistx_new ();
            s_source_t *old = zhashx_first (self->sources);
            for (; old; old = zhashx_next (self->sources))
                if (now - old->refilled >=
                    (int64_t)self->failure_burst * self->refill_ms)
                    zlistx_add_end (full,
                                    (void *)zhashx_cursor (self->sources));
            for (const char *key = zlistx_first (full); key;
                 key = zlistx_next (full))
                zhashx_delete (self->sources, key);
            zlistx_destroy (&full);
            if (zhashx_size (self->sources) >= S_SOURCES_MAX)
                zhashx_purge (self->sources);
        }
        source = calloc (1, sizeof *source);
        assert (source);
        source->tokens = self->failure_burst;
        source->refilled = now;
        zhashx_insert (self->sources, name, source);
    }
    int64_t earned = (now - source->refilled) / self->refill_ms;
    if (source->tokens + earned >= self->failure_burst) {
        source->tokens = self->failure_burst;
        source->refilled = now;
    } else if (earned > 0) {
        source->tokens += (uint32_t)earned;
        source->refilled += earned * self->refill_ms;
    }
    return source;
}

//  Checks user and password for a check: at once when it can, else on
//  the verifier's thread.
static void
s_check (meshq_auth_t *self, s_check_t *check, const void *password,
         size_t size)
{
    const meshq_user_t *record = zhashx_lookup (self->users, check->user);
    if (record && password) {
        s_cache_key (check->user, password, size, record->hash, check->key);
        if (zhashx_lookup (self->cache, check->key)) {
            s_answer (self, &check, 0, NULL);
            return;
        }
    }
    //  What follows costs the verifier's time: bounded, and budgeted
    //  per source.
    if (zhashx_size (self->pending) >= self->pending_max) {
        s_refused (self, MESHQ_AUTH_BUSY, check->user,
                   "busy: too many logins being checked");
        s_answer (self, &check, MESHQ_EAGAIN,
                  "the agent is busy checking other logins; try again");
        return;
    }
    s_source_t *source = s_source (self, check->source);
    if (source->tokens == 0) {
        s_refused (self, MESHQ_AUTH_THROTTLED, check->user,
                   "throttled: too many failed logins from its source");
        s_answer (self, &check, MESHQ_EAGAIN,
                  "too many failed logins from here; try again later");
        return;
    }
    source->tokens--;
    //  Unknown users cost what known ones do.
    const char *hash = record ? record->hash : S_DUMMY_HASH;
    check->dummy = !record || !password;
    if (!password) {
        password = "";
        size = 0;
    }
    uint64_t token = ++self->token;
    char key[17];
    snprintf (key, sizeof key, "%016" PRIx64, token);
    zhashx_insert (self->pending, key, check);
    zsock_send (self->verifier, "sbsb", "VERIFY", &token, sizeof token, hash,
                password, size);
}

void
meshq_auth_login (meshq_auth_t *self, const char *user, const void *password,
                  size_t size, const char *source, void *ticket)
{
    s_check_t *check = calloc (1, sizeof *check);
    assert (check);
    check->ticket = ticket;
    snprintf (check->source, sizeof check->source, "%s", source);
    snprintf (check->user, sizeof check->user, "%s", user);
    s_check (self, check, password, size);
}

// --------------------------------------------------------------------
//  ZAP

//  Checks a client of a mesh ROUTER (domain MESHQ_PEERS_ZAP_PREFIX and
//  the mesh's public key): it must have proven in the CURVE handshake
//  that it holds the mesh's own keypair, so the secret it came from.
//  Needs nothing of this agent's: whichever agent of the process holds
//  the ZAP handler answers for the meshes of all. Returns NULL to
//  accept, else why not.
static const char *
s_zap_mesh (const char *domain, const char *mechanism, zframe_t *key)
{
    if (!streq (mechanism, "CURVE") || !key || zframe_size (key) != 32)
        return "not CURVE";
    const char *z85 = domain + strlen (MESHQ_PEERS_ZAP_PREFIX);
    uint8_t mesh_key[32];
    if (strlen (z85) != 40 || !zmq_z85_decode (mesh_key, z85))
        return "not a mesh key";
    if (sodium_memcmp (mesh_key, zframe_data (key), 32) != 0)
        return "another mesh's key";
    return NULL;
}

static int
s_handle_zap (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    meshq_auth_t *self = arg;
    zmsg_t *request = zmsg_recv (reader);
    if (!request)
        return 0;
    //  Routing id, empty, version, request id, domain, address,
    //  identity, mechanism, then the mechanism's credentials.
    if (zmsg_size (request) < 8) {
        zmsg_destroy (&request);
        return 0;
    }
    zmsg_t *reply = zmsg_new ();
    for (int i = 0; i < 2; i++)
        zmsg_append (reply, &(zframe_t *){zmsg_pop (request)});
    char *version = zmsg_popstr (request);
    zframe_t *request_id = zmsg_pop (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    zframe_t *identity = zmsg_pop (request);
    char *mechanism = zmsg_popstr (request);
    bool mesh = strncmp (domain, MESHQ_PEERS_ZAP_PREFIX,
                         strlen (MESHQ_PEERS_ZAP_PREFIX)) == 0;
    zframe_t *key = mesh ? zmsg_pop (request) : NULL;
    char *user = mesh ? NULL : zmsg_popstr (request);
    zframe_t *password = mesh ? NULL : zmsg_pop (request);
    zmsg_addstr (reply, "1.0");
    zmsg_append (reply, &request_id);
    const char *why = NULL;
    if (!version || !streq (version, "1.0"))
        why = "ZAP version";
    else if (mesh) {
        //  The peers module counts and logs what fails, on its ROUTER.
        const char *bad = s_zap_mesh (domain, mechanism, key);
        s_zap_reply (self, &reply, bad ? "400" : "200", bad ? bad : "OK", "");
    } else if (!streq (domain, self->zap_domain))
        why = "another agent's domain";
    else if (!streq (mechanism, "PLAIN") || !user || !password)
        why = "not PLAIN (set a user and password)";
    else if (streq (user, "guest") && strncmp (address, "localhost:", 10))
        //  ipc peers show as "localhost:...", tcp peers by address.
        why = "guest may connect only over ipc:// or inproc://";
    if (why) {
        s_refused (self, MESHQ_AUTH_OTHER, user ? user : "", why);
        s_zap_reply (self, &reply, "400", why, "");
    } else if (reply) {
        s_check_t *check = calloc (1, sizeof *check);
        assert (check);
        check->zap = true;
        check->reply = reply;
        reply = NULL;
        snprintf (check->source, sizeof check->source, "%s", address);
        snprintf (check->user, sizeof check->user, "%s", user);
        s_check (self, check, zframe_data (password), zframe_size (password));
    }
    if (password)
        sodium_memzero (zframe_data (password), zframe_size (password));
    zmsg_destroy (&reply);
    zstr_free (&version);
    zstr_free (&domain);
    zstr_free (&address);
    zframe_destroy (&identity);
    zstr_free (&mechanism);
    zstr_free (&user);
    zframe_destroy (&password);
    zframe_destroy (&key);
    zmsg_destroy (&request);
    return 0;
}

// --------------------------------------------------------------------
//  The verifier's answers

static int
s_handle_verifier (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    meshq_auth_t *self = arg;
    char *command = NULL;
    zframe_t *token_frame = NULL;
    int ok = 0;
    if (zsock_recv (reader, "sfi", &command, &token_frame, &ok) == 0 &&
        zframe_size (token_frame) == sizeof (uint64_t)) {
        uint64_t token;
        memcpy (&token, zframe_data (token_frame), sizeof token);
        char key[17];
        snprintf (key, sizeof key, "%016" PRIx64, token);
        s_check_t *check = zhashx_lookup (self->pending, key);
        zhashx_delete (self->pending, key);
        self->stats.verified++;
        if (check && ok && !check->dummy) {
            //  A pass costs its source nothing.
            s_source_t *source = zhashx_lookup (self->sources, check->source);
            if (source && source->tokens < self->failure_burst)
                source->tokens++;
            if (zhashx_size (self->cache) >= S_CACHE_MAX)
                zhashx_purge (self->cache);
            zhashx_insert (self->cache, check->key, (void *)1);
            s_answer (self, &check, 0, NULL);
        } else if (check) {
            s_refused (self, MESHQ_AUTH_PASSWORD, check->user,
                       check->dummy ? "no such user, or no password"
                                    : "wrong password");
            s_answer (self, &check, MESHQ_EACCESS, "wrong user or password");
        }
    }
    zstr_free (&command);
    zframe_destroy (&token_frame);
    return 0;
}

// --------------------------------------------------------------------
//  Start and stop

int
meshq_auth_start (meshq_auth_t *self, zloop_t *loop, meshq_auth_login_fn *fn,
                  void *arg)
{
    self->loop = loop;
    self->fn = fn;
    self->arg = arg;
    self->verifier = zactor_new (meshq_verifier_actor, NULL);
    zloop_reader (loop, (zsock_t *)self->verifier, s_handle_verifier, self);
    //  One ZAP handler serves a whole process (it is per ZeroMQ
    //  context); a second agent in the same process finds the address
    //  taken and leaves the checks to the first, which refuses requests
    //  of other domains: such agents serve inproc:// clients only.
    self->zap = zsock_new (ZMQ_ROUTER);
    if (zsock_bind (self->zap, "inproc://zeromq.zap.01") < 0) {
        zsys_warning ("auth: another agent in this process handles "
                      "authentication; %s accepts inproc:// clients only",
                      self->zap_domain);
        zsock_destroy (&self->zap);
    } else
        zloop_reader (loop, self->zap, s_handle_zap, self);
    return 0;
}

void
meshq_auth_stop (meshq_auth_t *self)
{
    if (self->verifier && self->loop)
        zloop_reader_end (self->loop, (zsock_t *)self->verifier);
    zactor_destroy (&self->verifier);
    if (self->zap && self->loop)
        zloop_reader_end (self->loop, self->zap);
    zsock_destroy (&self->zap);
    self->loop = NULL;
}

void
meshq_auth_login_fini (meshq_auth_t *self)
{
    //  Checks the verifier never answered: their owners hear it.
    s_check_t *check;
    while ((check = zhashx_first (self->pending))) {
        char key[17];
        snprintf (key, sizeof key, "%s",
                  (const char *)zhashx_cursor (self->pending));
        zhashx_delete (self->pending, key);
        s_answer (self, &check, MESHQ_EAGAIN, "the agent is stopping");
    }
}
