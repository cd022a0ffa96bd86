/*  auth.c - users, permissions and tags: the tables that metadata
    records fill and that every command is checked against. Logins are
    auth_login.c. See auth.h.
*/
#include "auth_internal.h"
#include "meshq.h"
#include "meta_key.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_tag_names[] = {"administrator", "management",
                                    "monitoring"};

int
meshq_auth_parse_tags (const char *text, unsigned *tags, char *why, size_t size)
{
    *tags = 0;
    char copy[MESHQ_MAX_SHORTSTR + 1];
    snprintf (copy, sizeof copy, "%s", text ? text : "");
    char *saveptr = NULL;
    for (char *tag = strtok_r (copy, ", ", &saveptr); tag;
         tag = strtok_r (NULL, ", ", &saveptr)) {
        if (strcmp (tag, "none") == 0)
            continue;
        bool known = false;
        for (unsigned i = 0; i < 3; i++)
            if (strcmp (tag, s_tag_names[i]) == 0) {
                *tags |= 1u << i;
                known = true;
            }
        if (!known) {
            snprintf (why, size,
                      "unknown tag '%s': use administrator, management, "
                      "monitoring or none",
                      tag);
            return MESHQ_EINVAL;
        }
    }
    return 0;
}

void
meshq_auth_format_tags (unsigned tags, char *out, size_t size)
{
    size_t used = 0;
    out[0] = 0;
    for (unsigned i = 0; i < 3; i++)
        if (tags & (1u << i))
            used += (size_t)snprintf (out + used, size - used, "%s%s",
                                      used ? "," : "", s_tag_names[i]);
}

static int
s_perm_new (meshq_perm_t **perm_p, const char *configure, const char *write,
            const char *read, char *why, size_t size)
{
    meshq_perm_t *self = calloc (1, sizeof *self);
    assert (self);
    const char *patterns[3] = {configure, write, read};
    for (int i = 0; i < 3; i++) {
        int rc =
            regcomp (&self->regex[i], patterns[i], REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char error[128];
            regerror (rc, &self->regex[i], error, sizeof error);
            snprintf (why, size,
                      "%s pattern '%s' is not a regular "
                      "expression: %s",
                      meshq_perm_kind_name ((meshq_perm_kind_t)i), patterns[i],
                      error);
            for (int j = 0; j < i; j++) {
                regfree (&self->regex[j]);
                free (self->pattern[j]);
            }
            free (self);
            *perm_p = NULL;
            return MESHQ_EINVAL;
        }
        self->pattern[i] = strdup (patterns[i]);
        assert (self->pattern[i]);
    }
    *perm_p = self;
    return 0;
}

static void
s_perm_destroy (meshq_perm_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int i = 0; i < 3; i++) {
        regfree (&(*self_p)->regex[i]);
        free ((*self_p)->pattern[i]);
    }
    free (*self_p);
    *self_p = NULL;
}

static bool
s_perm_allows (const meshq_perm_t *self, meshq_perm_kind_t kind,
               const char *resource)
{
    //  An empty pattern allows nothing, as "^$" does for most names.
    if (!*self->pattern[kind])
        return false;
    return regexec (&self->regex[kind], resource, 0, NULL, 0) == 0;
}

const char *
meshq_perm_kind_name (meshq_perm_kind_t kind)
{
    static const char *names[] = {"configure", "write", "read"};
    return names[kind];
}

int
meshq_auth_hash (const char *password, size_t size, char *hash,
                 size_t hash_size)
{
    assert (hash_size >= crypto_pwhash_STRBYTES);
    if (sodium_init () < 0)
        return MESHQ_ENOMEM;
    if (crypto_pwhash_str (hash, password, size,
                           crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE))
        return MESHQ_ENOMEM;
    return 0;
}

int
meshq_auth_check_patterns (const char *configure, const char *write,
                           const char *read, char *why, size_t size)
{
    meshq_perm_t *perm = NULL;
    int rc = s_perm_new (&perm, configure, write, read, why, size);
    s_perm_destroy (&perm);
    return rc;
}

// --------------------------------------------------------------------
//  The object

//  A zhashx destructor for items made with malloc.
static void
s_free_user (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_free_perm (void **item)
{
    s_perm_destroy ((meshq_perm_t **)item);
}

meshq_auth_t *
meshq_auth_new (const char *name)
{
    meshq_auth_t *self = calloc (1, sizeof *self);
    assert (self);
    //  Never starts as the mesh links' domain does (MESHQ_PEERS_ZAP_PREFIX,
    //  "meshq-mesh-"), whatever the agent's name: as "meshq-NAME", an
    //  agent named mesh-a had every client taken for a mesh link.
    snprintf (self->zap_domain, sizeof self->zap_domain, "meshq-client-%s",
              name);
    self->users = zhashx_new ();
    zhashx_set_destructor (self->users, s_free_user);
    self->perms = zhashx_new ();
    zhashx_set_destructor (self->perms, s_free_perm);
    self->pending = zhashx_new ();
    self->cache = zhashx_new ();
    self->sources = zhashx_new ();
    zhashx_set_destructor (self->sources, s_free_user);
    meshq_auth_set_limits (self, MESHQ_AUTH_PENDING_MAX,
                           MESHQ_AUTH_FAILURE_BURST, MESHQ_AUTH_REFILL_MS);
    return self;
}

void
meshq_auth_destroy (meshq_auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    meshq_auth_t *self = *self_p;
    meshq_auth_stop (self);
    meshq_auth_login_fini (self);
    zhashx_destroy (&self->users);
    zhashx_destroy (&self->perms);
    zhashx_destroy (&self->pending);
    zhashx_destroy (&self->cache);
    zhashx_destroy (&self->sources);
    free (self);
    *self_p = NULL;
}

void
meshq_auth_set_limits (meshq_auth_t *self, size_t pending_max,
                       uint32_t failure_burst, int64_t refill_ms)
{
    assert (pending_max > 0 && failure_burst > 0 && refill_ms > 0);
    self->pending_max = pending_max;
    self->failure_burst = failure_burst;
    self->refill_ms = refill_ms;
}

const char *
meshq_auth_zap_domain (meshq_auth_t *self)
{
    return self->zap_domain;
}

//  A string argument of a record, "" when absent.
static void
s_text (meshq_span_t span, char *out, size_t size)
{
    snprintf (out, size, "%.*s", (int)span.size, span.data ? span.data : "");
}

//  The user a "u/" or "u#" record names: by the name in its record when
//  it has one (and the key must be that name's), else, for a tombstone,
//  by the key (built again for each user when it is hashed). Writes
//  the name into name (MESHQ_MAX_SHORTSTR + 1 bytes), "" when no user
//  has that key. Returns false if the record's key is not its name's.
static bool
s_user_of (meshq_auth_t *self, const char *key, const meshq_args_t *args,
           char *name)
{
    char candidate[MESHQ_META_KEY_SIZE];
    *name = 0;
    if (args && args->user.size) {
        s_text (args->user, name, MESHQ_MAX_SHORTSTR + 1);
        meshq_meta_key_user (candidate, name);
        return streq (candidate, key);
    }
    if (key[1] == '/') {
        snprintf (name, MESHQ_MAX_SHORTSTR + 1, "%s", key + 2);
        return true;
    }
    if (args)
        return false;  //  A hashed key needs the name in its record.
    for (void *user = zhashx_first (self->users); user;
         user = zhashx_next (self->users)) {
        const char *user_name = zhashx_cursor (self->users);
        meshq_meta_key_user (candidate, user_name);
        if (streq (candidate, key)) {
            snprintf (name, MESHQ_MAX_SHORTSTR + 1, "%s", user_name);
            break;
        }
    }
    return true;
}

//  The permission a "p/" or "p#" record names, as s_user_of: writes its
//  table key, "VHOST\x1fUSER", into name (2 * MESHQ_MAX_SHORTSTR + 2
//  bytes).
static bool
s_perm_of (meshq_auth_t *self, const char *key, const meshq_args_t *args,
           char *name)
{
    char candidate[MESHQ_META_KEY_SIZE];
    *name = 0;
    if (args && args->vhost.size && args->user.size) {
        char vhost[MESHQ_MAX_SHORTSTR + 1], user[MESHQ_MAX_SHORTSTR + 1];
        s_text (args->vhost, vhost, sizeof vhost);
        s_text (args->user, user, sizeof user);
        snprintf (name, 2 * MESHQ_MAX_SHORTSTR + 2, "%s\x1f%s", vhost, user);
        meshq_meta_key_permission (candidate, vhost, user);
        return streq (candidate, key);
    }
    if (key[1] == '/') {
        snprintf (name, 2 * MESHQ_MAX_SHORTSTR + 2, "%s", key + 2);
        return true;
    }
    if (args)
        return false;
    for (void *perm = zhashx_first (self->perms); perm;
         perm = zhashx_next (self->perms)) {
        //  "p/" and the table key are the key's long form, wherever the
        //  vhost ends.
        char both[2 * MESHQ_MAX_SHORTSTR + 2];
        snprintf (both, sizeof both, "%s",
                  (const char *)zhashx_cursor (self->perms));
        char *user = strchr (both, '\x1f');
        if (!user)
            continue;
        *user++ = 0;
        meshq_meta_key_permission (candidate, both, user);
        if (streq (candidate, key)) {
            snprintf (name, 2 * MESHQ_MAX_SHORTSTR + 2, "%s",
                      (const char *)zhashx_cursor (self->perms));
            break;
        }
    }
    return true;
}

int
meshq_auth_apply (meshq_auth_t *self, const char *key, const meshq_args_t *args)
{
    bool hashed;
    char kind = meshq_meta_key_kind (key, &hashed);
    if (kind == 'u') {
        char name[MESHQ_MAX_SHORTSTR + 1];
        if (!s_user_of (self, key, args, name)) {
            zsys_warning ("auth: user record skipped key=%.64s reason=its key "
                          "is not its name's",
                          key);
            return MESHQ_EINVAL;
        }
        if (!args) {
            if (*name)
                zhashx_delete (self->users, name);  //  Its destructor frees.
            return 0;
        }
        meshq_user_t *user = zhashx_lookup (self->users, name);
        if (!user) {
            user = calloc (1, sizeof *user);
            assert (user);
            zhashx_insert (self->users, name, user);
        }
        char text[MESHQ_MAX_SHORTSTR + 1];
        s_text (args->tags, text, sizeof text);
        char why[128];
        if (meshq_auth_parse_tags (text, &user->tags, why, sizeof why))
            user->tags = 0;
        //  Through a copy: args may come from this very record.
        char hash[sizeof user->hash];
        s_text (args->pwhash, hash, sizeof hash);
        memcpy (user->hash, hash, sizeof hash);
        return 0;
    }
    if (kind == 'p') {
        char name[2 * MESHQ_MAX_SHORTSTR + 2];
        if (!s_perm_of (self, key, args, name)) {
            zsys_warning ("auth: permission skipped key=%.64s reason=its key "
                          "is not its names'",
                          key);
            return MESHQ_EINVAL;
        }
        if (*name)
            zhashx_delete (self->perms, name);  //  Its destructor frees.
        self->generation++;
        if (!args)
            return 0;
        char patterns[3][MESHQ_MAX_HEADER_VALUE + 1];
        const meshq_span_t *spans[3] = {&args->configure, &args->write,
                                        &args->read};
        for (int i = 0; i < 3; i++)
            s_text (*spans[i], patterns[i], sizeof patterns[i]);
        meshq_perm_t *perm = NULL;
        char why[512];
        int rc = s_perm_new (&perm, patterns[0], patterns[1], patterns[2], why,
                             sizeof why);
        if (rc == 0)
            zhashx_insert (self->perms, name, perm);
        else
            zsys_warning ("auth: permission skipped key=%.64s reason=%s", key,
                          why);
        return rc;
    }
    return MESHQ_EINVAL;
}

//  The permission of user in vhost, or NULL.
static meshq_perm_t *
s_perm (meshq_auth_t *self, const char *user, const char *vhost)
{
    char key[2 * MESHQ_MAX_SHORTSTR + 4];
    snprintf (key, sizeof key, "%s\x1f%s", vhost, user);
    return zhashx_lookup (self->perms, key);
}

bool
meshq_auth_allowed (meshq_auth_t *self, const char *user, const char *vhost,
                    meshq_perm_kind_t kind, const char *resource)
{
    meshq_perm_t *perm = s_perm (self, user, vhost);
    return perm &&
           s_perm_allows (perm, kind, *resource ? resource : "amq.default");
}

bool
meshq_auth_may_enter (meshq_auth_t *self, const char *user, const char *vhost)
{
    return s_perm (self, user, vhost) != NULL;
}

const meshq_user_t *
meshq_auth_user (meshq_auth_t *self, const char *name)
{
    return zhashx_lookup (self->users, name);
}

bool
meshq_auth_tagged (meshq_auth_t *self, const char *user, unsigned tags)
{
    const meshq_user_t *record = zhashx_lookup (self->users, user);
    return record && (record->tags & tags);
}

uint64_t
meshq_auth_generation (meshq_auth_t *self)
{
    return self->generation;
}

void
meshq_auth_each_user (meshq_auth_t *self,
                      void (*fn) (void *arg, const char *name,
                                  const meshq_user_t *user),
                      void *arg)
{
    meshq_user_t *user = zhashx_first (self->users);
    for (; user; user = zhashx_next (self->users))
        fn (arg, zhashx_cursor (self->users), user);
}

void
meshq_auth_each_permission (meshq_auth_t *self, const char *vhost,
                            const char *user,
                            void (*fn) (void *arg, const char *vhost,
                                        const char *user,
                                        const char *patterns[3]),
                            void *arg)
{
    //  Keys first: fn may change the table (delete what it is given).
    zlistx_t *keys = zlistx_new ();
    zlistx_set_destructor (keys, (zlistx_destructor_fn *)zstr_free);
    for (void *p = zhashx_first (self->perms); p; p = zhashx_next (self->perms))
        zlistx_add_end (keys, strdup (zhashx_cursor (self->perms)));
    for (char *key = zlistx_first (keys); key; key = zlistx_next (keys)) {
        char *separator = strchr (key, '\x1f');
        meshq_perm_t *perm = zhashx_lookup (self->perms, key);
        if (!separator || !perm)
            continue;
        *separator = 0;
        if ((!vhost || streq (key, vhost)) &&
            (!user || streq (separator + 1, user))) {
            const char *patterns[3] = {perm->pattern[0], perm->pattern[1],
                                       perm->pattern[2]};
            fn (arg, key, separator + 1, patterns);
        }
    }
    zlistx_destroy (&keys);
}

const meshq_auth_stats_t *
meshq_auth_stats (meshq_auth_t *self)
{
    self->stats.pending = zhashx_size (self->pending);
    return &self->stats;
}
