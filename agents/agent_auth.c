/*  agent_auth.c - who may connect and what they may do.

    Clients on ipc:// and tcp:// authenticate with ZeroMQ PLAIN: libzmq
    asks the ZAP handler here (inproc://zeromq.zap.01) before the
    connection is up, and the frames of an accepted connection carry its
    User-Id. inproc:// has no handshake, so those clients (in this
    process) send user and password in HELLO. Either way the password is
    checked against its crypto_pwhash string on the verifier's thread
    (verifier.c), so the agent's loop never stalls for it; a check that
    passed is remembered (a hash of user, password and stored hash) so
    that reconnections are cheap. The default user guest/guest exists
    on a fresh store and may connect only over ipc:// and inproc://, as
    RabbitMQ keeps guest to localhost.

    The same handler answers for the mesh ROUTERs of agents with a mesh
    secret (their ZAP domain starts with MESHQ_PEERS_ZAP_PREFIX): a peer
    gets in only with the mesh's own CURVE key.

    Users, permissions and vhosts themselves are agent_users.c.
*/
#include "agent_internal.h"
#include "codec_args.h"
#include "peers.h"
#include "verifier.h"

#include <inttypes.h>
#include <sodium.h>

//  Remembered password checks, before the cache is cleared.
#define S_CACHE_MAX 10000

//  A password check waiting for the verifier.
typedef struct {
    bool zap;             //  A ZAP request (else an inproc HELLO).
    zmsg_t *reply;        //  ZAP: routing id, empty, version, id.
    uint8_t session[16];  //  HELLO: the session id.
    meshq_args_t args;    //  HELLO: its arguments (strings below).
    char user[MESHQ_MAX_SHORTSTR + 1];   //  The user.
    char vhost[MESHQ_MAX_SHORTSTR + 1];  //  HELLO: the vhost.
    char key[65];                        //  Cache key, hex.
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
s_cache_key (const char *user, const char *password, size_t size,
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

static void
s_refused (meshq_engine_t *self, const char *user, const char *why)
{
    self->auth_failures++;
    meshq_engine_warn (self, "auth: refused user=%s reason=%s", user, why);
}

// --------------------------------------------------------------------
//  Sessions: HELLO

//  Opens the session of an authenticated user, if it may use the vhost.
static void
s_welcome (meshq_engine_t *self, const uint8_t *id, const meshq_args_t *args,
           const char *user, const char *vhost_name)
{
    meshq_vhost_t *vhost = zhashx_lookup (self->vhosts, vhost_name);
    char key[2 * MESHQ_MAX_SHORTSTR + 4];
    snprintf (key, sizeof key, "%s\x1f%s", vhost_name, user);
    meshq_session_t stranger = {0};
    memcpy (stranger.id, id, 16);
    if (!vhost) {
        meshq_engine_reply_error (self, &stranger, args->rid, MESHQ_ENOTFOUND,
                                  "no vhost '%s' on this agent (meshq "
                                  "list_vhosts lists them)",
                                  vhost_name);
        return;
    }
    if (!zhashx_lookup (self->perms, key)) {
        s_refused (self, user, "no access to the vhost");
        meshq_engine_reply_error (self, &stranger, args->rid, MESHQ_EACCESS,
                                  "user '%s' has no access to vhost '%s' "
                                  "(meshq set_permissions -p '%s' '%s' ...)",
                                  user, vhost_name, vhost_name, user);
        return;
    }
    meshq_session_t *session =
        meshq_engine_session_open (self, id, args, user, vhost);
    meshq_info ("agent: session opened user=%s vhost=%s", user, vhost_name);
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    MESHQ_ARGS_SET (&results, MAX_MESSAGE, max_message,
                    self->config.max_message);
    MESHQ_ARGS_SET (&results, NAME, name, meshq_span (self->config.name));
    MESHQ_ARGS_SET (&results, NODE, node, meshq_span (self->node_hex));
    //  Publishes may come several to a frame.
    MESHQ_ARGS_SET (&results, BATCH, batch, MESHQ_ENGINE_PUBLISH_BATCH);
    meshq_engine_reply_ok (self, session, &results, args->rid);
}

void
meshq_engine_auth_hello (meshq_engine_t *self, const uint8_t *id,
                         const meshq_args_t *args, const char *user_id)
{
    char vhost[MESHQ_MAX_SHORTSTR + 1] = "/";
    if (MESHQ_ARGS_HAS (args, VHOST))
        meshq_span_copy (vhost, args->vhost);
    if (user_id) {
        //  PLAIN through ZAP already checked the password.
        s_welcome (self, id, args, user_id, vhost);
        return;
    }
    meshq_session_t stranger = {0};
    memcpy (stranger.id, id, 16);
    char user[MESHQ_MAX_SHORTSTR + 1] = "";
    meshq_span_copy (user, args->user);
    meshq_user_t *record = zhashx_lookup (self->users, user);
    if (!record || !MESHQ_ARGS_HAS (args, PASSWORD)) {
        s_refused (self, user, record ? "no password" : "no such user");
        meshq_engine_reply_error (self, &stranger, args->rid, MESHQ_EACCESS,
                                  "login refused for user '%s': wrong user "
                                  "or password",
                                  user);
        return;
    }
    s_check_t *check = calloc (1, sizeof *check);
    assert (check);
    memcpy (check->session, id, 16);
    check->args = *args;
    snprintf (check->user, sizeof check->user, "%s", user);
    snprintf (check->vhost, sizeof check->vhost, "%s", vhost);
    //  The strings of args live in the frame; keep only what is needed.
    check->args.user = meshq_span (check->user);
    check->args.vhost = meshq_span (check->vhost);
    check->args.password = (meshq_span_t){0};
    char password[MESHQ_MAX_HEADER_VALUE + 1];
    memcpy (password, args->password.data, args->password.size);
    s_cache_key (user, password, args->password.size, record->hash, check->key);
    if (zhashx_lookup (self->auth_cache, check->key)) {
        s_welcome (self, id, &check->args, user, vhost);
        s_check_destroy (&check);
    } else {
        uint64_t token = ++self->auth_token;
        meshq_map64_insert (self->auth_pending, token, check);
        zsock_send (self->verifier, "sbsb", "VERIFY", &token, sizeof token,
                    record->hash, password, (size_t)args->password.size);
    }
    sodium_memzero (password, sizeof password);
}

// --------------------------------------------------------------------
//  ZAP

static void
s_zap_reply (meshq_engine_t *self, zmsg_t **reply_p, const char *status,
             const char *text, const char *user)
{
    zmsg_t *reply = *reply_p;
    zmsg_addstr (reply, status);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, user);
    zmsg_addmem (reply, NULL, 0);
    if (zmsg_send (&reply, self->zap))
        zmsg_destroy (&reply);
    *reply_p = NULL;
}

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
    meshq_engine_t *self = arg;
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
    meshq_user_t *record = user ? zhashx_lookup (self->users, user) : NULL;
    const char *why = NULL;
    bool answered = false;
    if (!version || !streq (version, "1.0"))
        why = "ZAP version";
    else if (mesh) {
        //  The peers module counts and logs what fails, on its ROUTER.
        why = s_zap_mesh (domain, mechanism, key);
        s_zap_reply (self, &reply, why ? "400" : "200", why ? why : "OK", "");
        answered = true;
    } else if (!streq (domain, self->zap_domain))
        why = "another agent's domain";
    else if (!streq (mechanism, "PLAIN") || !password)
        why = "not PLAIN (set a user and password)";
    else if (!record)
        why = "no such user";
    else if (streq (user, "guest") && strncmp (address, "localhost:", 10))
        //  ipc peers show as "localhost:...", tcp peers by address.
        why = "guest may connect only over ipc:// or inproc://";
    if (why && !answered) {
        s_refused (self, user ? user : "", why);
        s_zap_reply (self, &reply, "400", why, "");
    } else if (!answered) {
        s_check_t *check = calloc (1, sizeof *check);
        assert (check);
        check->zap = true;
        snprintf (check->user, sizeof check->user, "%s", user);
        s_cache_key (user, (const char *)zframe_data (password),
                     zframe_size (password), record->hash, check->key);
        if (zhashx_lookup (self->auth_cache, check->key))
            s_zap_reply (self, &reply, "200", "OK", user);
        else {
            check->reply = reply;
            reply = NULL;
            uint64_t token = ++self->auth_token;
            meshq_map64_insert (self->auth_pending, token, check);
            zsock_send (self->verifier, "sbsf", "VERIFY", &token, sizeof token,
                        record->hash, password);
            check = NULL;
        }
        if (check)
            s_check_destroy (&check);
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

static int
s_handle_verifier (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    meshq_engine_t *self = arg;
    char *command = NULL;
    zframe_t *token_frame = NULL;
    int ok = 0;
    if (zsock_recv (reader, "sfi", &command, &token_frame, &ok) == 0 &&
        zframe_size (token_frame) == sizeof (uint64_t)) {
        uint64_t token;
        memcpy (&token, zframe_data (token_frame), sizeof token);
        s_check_t *check = meshq_map64_delete (self->auth_pending, token);
        if (check) {
            if (ok) {
                if (zhashx_size (self->auth_cache) >= S_CACHE_MAX)
                    zhashx_purge (self->auth_cache);
                zhashx_insert (self->auth_cache, check->key, (void *)1);
            } else
                s_refused (self, check->user, "wrong password");
            if (check->zap)
                s_zap_reply (self, &check->reply, ok ? "200" : "400",
                             ok ? "OK" : "wrong user or password",
                             ok ? check->user : "");
            else if (ok)
                s_welcome (self, check->session, &check->args, check->user,
                           check->vhost);
            else {
                meshq_session_t stranger = {0};
                memcpy (stranger.id, check->session, 16);
                meshq_engine_reply_error (self, &stranger, check->args.rid,
                                          MESHQ_EACCESS,
                                          "login refused for user '%s': "
                                          "wrong user or password",
                                          check->user);
            }
            s_check_destroy (&check);
        }
    }
    zstr_free (&command);
    zframe_destroy (&token_frame);
    return 0;
}

// --------------------------------------------------------------------
//  Start and stop

int
meshq_engine_auth_start (meshq_engine_t *self, char *why, size_t size)
{
    snprintf (self->zap_domain, sizeof self->zap_domain, "meshq-%s",
              self->config.name);
    self->verifier = zactor_new (meshq_verifier_actor, NULL);
    zloop_reader (self->loop, (zsock_t *)self->verifier, s_handle_verifier,
                  self);
    //  One ZAP handler serves a whole process (it is per ZeroMQ
    //  context); a second agent in the same process finds the address
    //  taken and leaves the checks to the first, which refuses requests
    //  of other domains: such agents serve inproc:// clients only.
    self->zap = zsock_new (ZMQ_ROUTER);
    if (zsock_bind (self->zap, "inproc://zeromq.zap.01") < 0) {
        zsys_warning ("auth: another agent in this process handles "
                      "authentication; %s accepts inproc:// clients only",
                      self->config.name);
        zsock_destroy (&self->zap);
    } else
        zloop_reader (self->loop, self->zap, s_handle_zap, self);
    (void)why;
    (void)size;
    return 0;
}

void
meshq_engine_auth_stop (meshq_engine_t *self)
{
    if (self->verifier)
        zloop_reader_end (self->loop, (zsock_t *)self->verifier);
    zactor_destroy (&self->verifier);
    if (self->zap)
        zloop_reader_end (self->loop, self->zap);
    zsock_destroy (&self->zap);
}

// --------------------------------------------------------------------
//  Checks

bool
meshq_engine_allowed (meshq_engine_t *self, meshq_session_t *session,
                      meshq_perm_kind_t kind, const char *type,
                      const char *resource, uint64_t rid)
{
    char key[2 * MESHQ_MAX_SHORTSTR + 4];
    snprintf (key, sizeof key, "%s\x1f%s", session->vhost->name, session->user);
    meshq_perm_t *perm = zhashx_lookup (self->perms, key);
    const char *name = *resource ? resource : "amq.default";
    if (perm && meshq_perm_allows (perm, kind, name))
        return true;
    self->auth_failures++;
    meshq_engine_reply_error (self, session, rid, MESHQ_EACCESS,
                              "access to %s '%s' in vhost '%s' refused for "
                              "user '%s' (needs %s permission)",
                              type, name, session->vhost->name, session->user,
                              meshq_perm_kind_name (kind));
    return false;
}

bool
meshq_engine_may_publish (meshq_engine_t *self, meshq_session_t *session,
                          meshq_span_t exchange)
{
    //  One check per exchange and permission change, not per message.
    if (session->publish_generation == self->perm_generation &&
        exchange.size == strlen (session->publish_exchange) &&
        (exchange.size == 0 ||
         memcmp (exchange.data, session->publish_exchange, exchange.size) == 0))
        return session->publish_allowed;
    char key[2 * MESHQ_MAX_SHORTSTR + 4];
    snprintf (key, sizeof key, "%s\x1f%s", session->vhost->name, session->user);
    meshq_perm_t *perm = zhashx_lookup (self->perms, key);
    meshq_span_copy (session->publish_exchange, exchange);
    session->publish_generation = self->perm_generation;
    session->publish_allowed =
        perm && meshq_perm_allows (perm, MESHQ_PERM_WRITE,
                                   *session->publish_exchange
                                       ? session->publish_exchange
                                       : "amq.default");
    return session->publish_allowed;
}
