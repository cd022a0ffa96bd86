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

    Users, permissions and the list of vhosts are metadata records of
    the default vhost ("u/USER", "p/VHOST\x1fUSER", "v/VHOST"); every
    change goes through meshq_engine_auth_meta, whether it was made
    here, read back at start, or learnt from a peer.
*/
#include "agent_internal.h"
#include "codec_args.h"
#include "verifier.h"

#include <dirent.h>
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
    char *user = zmsg_popstr (request);
    zframe_t *password = zmsg_pop (request);
    zmsg_addstr (reply, "1.0");
    zmsg_append (reply, &request_id);
    meshq_user_t *record = user ? zhashx_lookup (self->users, user) : NULL;
    const char *why = NULL;
    if (!version || !streq (version, "1.0"))
        why = "ZAP version";
    else if (!streq (domain, self->zap_domain))
        why = "another agent's domain";
    else if (!streq (mechanism, "PLAIN") || !password)
        why = "not PLAIN (set a user and password)";
    else if (!record)
        why = "no such user";
    else if (streq (user, "guest") && strncmp (address, "localhost:", 10))
        //  ipc peers show as "localhost:...", tcp peers by address.
        why = "guest may connect only over ipc:// or inproc://";
    if (why) {
        s_refused (self, user ? user : "", why);
        s_zap_reply (self, &reply, "400", why, "");
    } else {
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
//  Metadata: users, permissions, vhosts

//  Removes a directory and the files in it (a vhost's store).
static void
s_remove_tree (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir)
        return;
    struct dirent *entry;
    char file[2048];
    while ((entry = readdir (dir)))
        if (!streq (entry->d_name, ".") && !streq (entry->d_name, "..")) {
            snprintf (file, sizeof file, "%s/%s", path, entry->d_name);
            if (unlink (file))
                s_remove_tree (file);
        }
    closedir (dir);
    rmdir (path);
}

//  Closes every session of a vhost and forgets the vhost.
static void
s_drop_vhost (meshq_engine_t *self, meshq_vhost_t *vhost, bool erase)
{
    zlistx_t *doomed = zlistx_new ();
    meshq_session_t *session = zhashx_first (self->sessions);
    for (; session; session = zhashx_next (self->sessions))
        if (session->vhost == vhost)
            zlistx_add_end (doomed, session);
    while ((session = zlistx_detach (doomed, NULL)))
        meshq_engine_close_session (self, session);
    zlistx_destroy (&doomed);
    meshq_queue_t *queue;
    while ((queue = zhashx_first (vhost->queues)))
        meshq_vhost_queue_delete (vhost, queue);
    char dir[sizeof vhost->dir];
    snprintf (dir, sizeof dir, "%s", vhost->dir);
    zhashx_delete (self->vhosts, vhost->name);
    meshq_vhost_destroy (&vhost);
    if (erase)
        s_remove_tree (dir);
}

void
meshq_engine_auth_meta (meshq_engine_t *self, const char *key,
                        const meshq_args_t *args)
{
    char name[MESHQ_MAX_SHORTSTR + 1];
    if (strncmp (key, "u/", 2) == 0) {
        meshq_user_t *user = zhashx_lookup (self->users, key + 2);
        if (!args) {
            zhashx_delete (self->users, key + 2);  //  Its destructor frees.
            return;
        }
        if (!user) {
            user = calloc (1, sizeof *user);
            assert (user);
            zhashx_insert (self->users, key + 2, user);
        }
        meshq_span_copy (name, args->tags);
        char why[128];
        if (meshq_auth_parse_tags (name, &user->tags, why, sizeof why))
            user->tags = 0;
        snprintf (user->hash, sizeof user->hash, "%.*s", (int)args->pwhash.size,
                  args->pwhash.data ? args->pwhash.data : "");
    } else if (strncmp (key, "p/", 2) == 0) {
        zhashx_delete (self->perms, key + 2);  //  Its destructor frees.
        self->perm_generation++;
        meshq_perm_t *perm = NULL;
        if (!args)
            return;
        char patterns[3][MESHQ_MAX_HEADER_VALUE + 1];
        const meshq_span_t *spans[3] = {&args->configure, &args->write,
                                        &args->read};
        for (int i = 0; i < 3; i++)
            snprintf (patterns[i], sizeof patterns[i], "%.*s",
                      (int)spans[i]->size,
                      spans[i]->data ? spans[i]->data : "");
        char why[512];
        if (meshq_perm_new (&perm, patterns[0], patterns[1], patterns[2], why,
                            sizeof why) == 0)
            zhashx_insert (self->perms, key + 2, perm);
        else
            zsys_warning ("auth: permission skipped key=%s reason=%s", key + 2,
                          why);
    } else if (strncmp (key, "v/", 2) == 0) {
        meshq_vhost_t *vhost = zhashx_lookup (self->vhosts, key + 2);
        if (!args && vhost && vhost != self->root)
            s_drop_vhost (self, vhost, true);
        else if (args && !vhost) {
            vhost = meshq_vhost_new (self, key + 2);
            zhashx_insert (self->vhosts, vhost->name, vhost);
            //  At start the root is still being read: the others open
            //  when it is done (meshq_engine_auth_open).
            char why[1024];
            if (self->root->store && !self->restoring_root &&
                meshq_vhost_open (vhost, why, sizeof why))
                zsys_error ("agent: %s", why);
        }
    }
}

//  Writes a record of the default vhost and applies it.
static void
s_meta (meshq_engine_t *self, const char *key, const meshq_args_t *args)
{
    meshq_vhost_meta_write (self->root, key, args);
    meshq_engine_auth_meta (self, key, args);
}

//  crypto_pwhash_str ("guest") with the interactive limits. The default
//  user's password is public, so its hash may be too; keeping it here
//  spares a fresh agent 65 ms of hashing before it is ready.
#define S_GUEST_HASH                                                           \
    "$argon2id$v=19$m=65536,t=2,p=1$pxkFU1tO0NDGVyeFGAC4lw$"                   \
    "hmcuEbWh8cMlCdNQVZ4lasdV2ecqyaMGUpPRHNK6Z/I"

static int
s_add_user (meshq_engine_t *self, const char *user, const char *password,
            size_t size, unsigned tags)
{
    meshq_args_t record;
    memset (&record, 0, sizeof record);
    char hash[128];
    int rc = 0;
    if (streq (user, "guest") && size == 5 &&
        memcmp (password, "guest", 5) == 0)
        snprintf (hash, sizeof hash, "%s", S_GUEST_HASH);
    else
        rc = meshq_auth_hash (password, size, hash, sizeof hash);
    if (rc)
        return rc;
    char tag_text[128];
    meshq_auth_format_tags (tags, tag_text, sizeof tag_text);
    MESHQ_ARGS_SET (&record, USER, user, meshq_span (user));
    MESHQ_ARGS_SET (&record, PWHASH, pwhash, meshq_span (hash));
    MESHQ_ARGS_SET (&record, TAGS, tags, meshq_span (tag_text));
    char key[MESHQ_MAX_SHORTSTR + 4];
    snprintf (key, sizeof key, "u/%s", user);
    s_meta (self, key, &record);
    return 0;
}

static void
s_set_permissions (meshq_engine_t *self, const char *vhost, const char *user,
                   const char *configure, const char *write, const char *read)
{
    meshq_args_t record;
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, VHOST, vhost, meshq_span (vhost));
    MESHQ_ARGS_SET (&record, USER, user, meshq_span (user));
    MESHQ_ARGS_SET (&record, CONFIGURE, configure, meshq_span (configure));
    MESHQ_ARGS_SET (&record, WRITE, write, meshq_span (write));
    MESHQ_ARGS_SET (&record, READ, read, meshq_span (read));
    char key[2 * MESHQ_MAX_SHORTSTR + 4];
    snprintf (key, sizeof key, "p/%s\x1f%s", vhost, user);
    s_meta (self, key, &record);
}

void
meshq_engine_auth_open (meshq_engine_t *self)
{
    //  A fresh mesh has guest/guest, an administrator with every right
    //  on "/", as a fresh RabbitMQ has.
    if (zhashx_size (self->users) == 0) {
        s_add_user (self, "guest", "guest", 5, MESHQ_TAG_ADMINISTRATOR);
        s_set_permissions (self, "/", "guest", ".*", ".*", ".*");
    }
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        char why[1024];
        if (!vhost->store && meshq_vhost_open (vhost, why, sizeof why))
            zsys_error ("agent: %s", why);
    }
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

static bool
s_tagged (meshq_engine_t *self, meshq_session_t *session, unsigned tags,
          uint64_t rid)
{
    meshq_user_t *user = zhashx_lookup (self->users, session->user);
    if (user && (user->tags & tags))
        return true;
    self->auth_failures++;
    meshq_engine_reply_error (self, session, rid, MESHQ_EACCESS,
                              "user '%s' may not do this: it needs the %s "
                              "tag (meshq set_user_tags)",
                              session->user,
                              tags & MESHQ_TAG_MONITORING
                                  ? "administrator or monitoring"
                                  : "administrator");
    return false;
}

// --------------------------------------------------------------------
//  Administrative requests

static void
s_list_rows (meshq_engine_t *self, meshq_session_t *session, uint64_t rid,
             const char *name, meshq_args_t *rows, size_t count)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    const char *why = NULL;
    int rc = meshq_codec_encode_list (rid, name, rows, count, &buf, &why);
    if (rc)
        meshq_engine_reply_error (self, session, rid, rc, "%s", why);
    else
        meshq_engine_send_raw (self, session, "OK", buf.data, buf.size, NULL,
                               0);
    meshq_buf_fini (&buf);
}

static void
s_list (meshq_engine_t *self, meshq_session_t *session,
        const meshq_args_t *args, const char *verb)
{
    size_t capacity = zhashx_size (self->perms) + zhashx_size (self->users) +
                      zhashx_size (self->vhosts) + 1;
    meshq_args_t *rows = calloc (capacity, sizeof *rows);
    assert (rows);
    size_t count = 0;
    char filter[MESHQ_MAX_SHORTSTR + 1] = "";
    const char *what;
    //  Rows borrow their strings until they are encoded below.
    char (*tags)[64] = calloc (capacity, 64);
    assert (tags);
    if (streq (verb, "LIST_USERS")) {
        what = "users";
        meshq_user_t *user = zhashx_first (self->users);
        for (; user; user = zhashx_next (self->users)) {
            meshq_auth_format_tags (user->tags, tags[count], 64);
            meshq_args_t *row = &rows[count++];
            MESHQ_ARGS_SET (row, USER, user,
                            meshq_span (zhashx_cursor (self->users)));
            MESHQ_ARGS_SET (row, TAGS, tags, meshq_span (tags[count - 1]));
        }
    } else if (streq (verb, "LIST_VHOSTS")) {
        what = "vhosts";
        meshq_vhost_t *vhost = zhashx_first (self->vhosts);
        for (; vhost; vhost = zhashx_next (self->vhosts)) {
            meshq_args_t *row = &rows[count++];
            MESHQ_ARGS_SET (row, VHOST, vhost, meshq_span (vhost->name));
        }
    } else {
        bool by_user = streq (verb, "LIST_USER_PERMISSIONS");
        what = "permissions";
        meshq_span_copy (filter, by_user ? args->user : args->vhost);
        if (!*filter && !by_user)
            snprintf (filter, sizeof filter, "/");
        meshq_perm_t *perm = zhashx_first (self->perms);
        for (; perm; perm = zhashx_next (self->perms)) {
            const char *key = zhashx_cursor (self->perms);
            const char *separator = strchr (key, '\x1f');
            size_t vhost_size = (size_t)(separator - key);
            bool match = by_user ? streq (separator + 1, filter)
                                 : strlen (filter) == vhost_size &&
                                       memcmp (key, filter, vhost_size) == 0;
            if (!match)
                continue;
            meshq_args_t *row = &rows[count++];
            meshq_span_t vhost = {key, (uint32_t)vhost_size};
            MESHQ_ARGS_SET (row, VHOST, vhost, vhost);
            MESHQ_ARGS_SET (row, USER, user, meshq_span (separator + 1));
            MESHQ_ARGS_SET (row, CONFIGURE, configure,
                            meshq_span (perm->pattern[0]));
            MESHQ_ARGS_SET (row, WRITE, write, meshq_span (perm->pattern[1]));
            MESHQ_ARGS_SET (row, READ, read, meshq_span (perm->pattern[2]));
        }
    }
    s_list_rows (self, session, args->rid, what, rows, count);
    free (tags);
    free (rows);
}

//  Copies a string argument, or answers that it is missing.
static bool
s_required (meshq_engine_t *self, meshq_session_t *session,
            const meshq_args_t *args, meshq_span_t span, bool present,
            const char *what, char *out)
{
    if (present && span.size) {
        meshq_span_copy (out, span);
        return true;
    }
    meshq_engine_reply_error (self, session, args->rid, MESHQ_EINVAL,
                              "%s is missing", what);
    return false;
}

bool
meshq_engine_admin (meshq_engine_t *self, meshq_session_t *session,
                    const char *verb, const meshq_args_t *args)
{
    static const char *listing[] = {"LIST_USERS", "LIST_VHOSTS",
                                    "LIST_PERMISSIONS",
                                    "LIST_USER_PERMISSIONS"};
    static const char *changing[] = {"ADD_USER",        "DELETE_USER",
                                     "CHANGE_PASSWORD", "SET_USER_TAGS",
                                     "SET_PERMISSIONS", "CLEAR_PERMISSIONS",
                                     "ADD_VHOST",       "DELETE_VHOST"};
    bool list = false, change = false;
    for (size_t i = 0; i < sizeof listing / sizeof listing[0]; i++)
        list |= streq (verb, listing[i]);
    for (size_t i = 0; i < sizeof changing / sizeof changing[0]; i++)
        change |= streq (verb, changing[i]);
    if (!list && !change)
        return false;
    if (!s_tagged (self, session,
                   list ? MESHQ_TAG_ADMINISTRATOR | MESHQ_TAG_MONITORING
                        : MESHQ_TAG_ADMINISTRATOR,
                   args->rid))
        return true;
    if (list) {
        s_list (self, session, args, verb);
        return true;
    }
    char user[MESHQ_MAX_SHORTSTR + 1] = "", vhost[MESHQ_MAX_SHORTSTR + 1] = "";
    char key[2 * MESHQ_MAX_SHORTSTR + 4];
    uint64_t rid = args->rid;
    bool needs_vhost = strstr (verb, "VHOST") || strstr (verb, "PERMISSIONS");
    bool needs_user = !strstr (verb, "VHOST");
    if (needs_user &&
        !s_required (self, session, args, args->user,
                     MESHQ_ARGS_HAS (args, USER), "the user name", user))
        return true;
    if (needs_vhost &&
        !s_required (self, session, args, args->vhost,
                     MESHQ_ARGS_HAS (args, VHOST), "the vhost name", vhost))
        return true;
    meshq_user_t *record =
        needs_user ? zhashx_lookup (self->users, user) : NULL;
    if (needs_user && !streq (verb, "ADD_USER") && !record) {
        meshq_engine_reply_error (self, session, rid, MESHQ_ENOTFOUND,
                                  "no user '%s'", user);
        return true;
    }
    bool vhost_known = needs_vhost && zhashx_lookup (self->vhosts, vhost);
    if (needs_vhost && !streq (verb, "ADD_VHOST") && !vhost_known) {
        meshq_engine_reply_error (self, session, rid, MESHQ_ENOTFOUND,
                                  "no vhost '%s'", vhost);
        return true;
    }
    char why[1024] = "";
    int rc = 0;
    if (streq (verb, "ADD_USER") || streq (verb, "CHANGE_PASSWORD") ||
        streq (verb, "SET_USER_TAGS")) {
        bool add = streq (verb, "ADD_USER");
        unsigned tags = record ? record->tags : 0;
        char text[MESHQ_MAX_SHORTSTR + 1] = "";
        meshq_span_copy (text, args->tags);
        if (add && record)
            rc = MESHQ_EEXIST,
            snprintf (why, sizeof why, "user '%s' already exists", user);
        else if ((add || streq (verb, "SET_USER_TAGS")) &&
                 MESHQ_ARGS_HAS (args, TAGS))
            rc = meshq_auth_parse_tags (text, &tags, why, sizeof why);
        if (rc == 0 && streq (verb, "SET_USER_TAGS")) {
            meshq_args_t record_args;
            memset (&record_args, 0, sizeof record_args);
            char tag_text[128];
            meshq_auth_format_tags (tags, tag_text, sizeof tag_text);
            MESHQ_ARGS_SET (&record_args, USER, user, meshq_span (user));
            MESHQ_ARGS_SET (&record_args, PWHASH, pwhash,
                            meshq_span (record->hash));
            MESHQ_ARGS_SET (&record_args, TAGS, tags, meshq_span (tag_text));
            snprintf (key, sizeof key, "u/%s", user);
            s_meta (self, key, &record_args);
        } else if (rc == 0 && !MESHQ_ARGS_HAS (args, PASSWORD))
            rc = MESHQ_EINVAL,
            snprintf (why, sizeof why, "the password is missing");
        else if (rc == 0)
            rc = s_add_user (self, user, args->password.data,
                             args->password.size, tags);
    } else if (streq (verb, "DELETE_USER")) {
        snprintf (key, sizeof key, "u/%s", user);
        s_meta (self, key, NULL);
        //  Its permissions go with it.
        zlistx_t *keys = zlistx_new ();
        zlistx_set_destructor (keys, (zlistx_destructor_fn *)zstr_free);
        for (void *p = zhashx_first (self->perms); p;
             p = zhashx_next (self->perms)) {
            const char *perm_key = zhashx_cursor (self->perms);
            const char *separator = strchr (perm_key, '\x1f');
            if (separator && streq (separator + 1, user))
                zlistx_add_end (keys, zsys_sprintf ("p/%s", perm_key));
        }
        for (char *k = zlistx_first (keys); k; k = zlistx_next (keys))
            s_meta (self, k, NULL);
        zlistx_destroy (&keys);
    } else if (streq (verb, "SET_PERMISSIONS")) {
        char patterns[3][MESHQ_MAX_HEADER_VALUE + 1];
        const meshq_span_t *spans[3] = {&args->configure, &args->write,
                                        &args->read};
        for (int i = 0; i < 3; i++)
            snprintf (patterns[i], sizeof patterns[i], "%.*s",
                      (int)spans[i]->size,
                      spans[i]->data ? spans[i]->data : "");
        meshq_perm_t *check = NULL;
        rc = meshq_perm_new (&check, patterns[0], patterns[1], patterns[2], why,
                             sizeof why);
        meshq_perm_destroy (&check);
        if (rc == 0)
            s_set_permissions (self, vhost, user, patterns[0], patterns[1],
                               patterns[2]);
    } else if (streq (verb, "CLEAR_PERMISSIONS")) {
        snprintf (key, sizeof key, "p/%s\x1f%s", vhost, user);
        if (zhashx_lookup (self->perms, key + 2))
            s_meta (self, key, NULL);
        else
            rc = MESHQ_ENOTFOUND,
            snprintf (why, sizeof why,
                      "user '%s' has no permissions in vhost "
                      "'%s'",
                      user, vhost);
    } else if (streq (verb, "ADD_VHOST")) {
        if (vhost_known)
            rc = MESHQ_EEXIST,
            snprintf (why, sizeof why, "vhost '%s' already exists", vhost);
        else {
            meshq_args_t record_args;
            memset (&record_args, 0, sizeof record_args);
            MESHQ_ARGS_SET (&record_args, VHOST, vhost, meshq_span (vhost));
            snprintf (key, sizeof key, "v/%s", vhost);
            s_meta (self, key, &record_args);
        }
    } else if (streq (verb, "DELETE_VHOST")) {
        if (streq (vhost, "/"))
            rc = MESHQ_EACCESS, snprintf (why, sizeof why,
                                          "the default vhost '/' cannot be "
                                          "deleted");
        else if (session->vhost == zhashx_lookup (self->vhosts, vhost))
            rc = MESHQ_ESTATE, snprintf (why, sizeof why,
                                         "cannot delete the vhost this "
                                         "connection uses; connect to another");
        else {
            snprintf (key, sizeof key, "v/%s", vhost);
            s_meta (self, key, NULL);
            zlistx_t *keys = zlistx_new ();
            zlistx_set_destructor (keys, (zlistx_destructor_fn *)zstr_free);
            for (void *p = zhashx_first (self->perms); p;
                 p = zhashx_next (self->perms)) {
                const char *perm_key = zhashx_cursor (self->perms);
                if (strncmp (perm_key, vhost, strlen (vhost)) == 0 &&
                    perm_key[strlen (vhost)] == '\x1f')
                    zlistx_add_end (keys, zsys_sprintf ("p/%s", perm_key));
            }
            for (char *k = zlistx_first (keys); k; k = zlistx_next (keys))
                s_meta (self, k, NULL);
            zlistx_destroy (&keys);
        }
    }
    if (rc)
        meshq_engine_reply_error (self, session, rid, rc, "%s",
                                  *why ? why : meshq_strerror (rc));
    else
        meshq_engine_reply_ok (self, session, NULL, rid);
    return true;
}
