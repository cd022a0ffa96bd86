/*  agent_users.c - users, permissions and vhosts: their records and
    the administrative requests that change and list them, with
    rabbitmqctl's names.

    Users, permissions and the list of vhosts are metadata records of
    the default vhost ("u/USER", "p/VHOST\x1fUSER", "v/VHOST", hashed
    when too long: meta_key.h); every
    change goes through meshq_engine_auth_meta, whether it was made
    here, read back at start, or learnt from a peer: users and
    permissions go on to the auth module (auth/auth.h), vhosts are the
    engine's. Administrative requests need the administrator tag
    (lists: monitoring will do).
*/
#include "agent_internal.h"
#include "codec_args.h"
#include "meta_key.h"

#include <dirent.h>
#include <inttypes.h>
#include <sodium.h>

// --------------------------------------------------------------------
//  Metadata: users, permissions, vhosts

//  The configure, write and read patterns of a permission, as strings.
static void
s_patterns (const meshq_args_t *args,
            char patterns[3][MESHQ_MAX_HEADER_VALUE + 1])
{
    const meshq_span_t *spans[3] = {&args->configure, &args->write,
                                    &args->read};
    for (int i = 0; i < 3; i++)
        snprintf (patterns[i], MESHQ_MAX_HEADER_VALUE + 1, "%.*s",
                  (int)spans[i]->size, spans[i]->data ? spans[i]->data : "");
}

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

//  The vhost a "v/" or "v#" record names, as the auth's users are found
//  (meshq_auth_apply): by the name in its record, else by the key. Writes
//  the name into name, "" when no vhost has a hashed tombstone's key.
//  Returns false if the record's key is not its name's.
static bool
s_vhost_of (meshq_engine_t *self, const char *key, const meshq_args_t *args,
            char *name)
{
    char candidate[MESHQ_META_KEY_SIZE];
    *name = 0;
    if (args && args->vhost.size) {
        meshq_span_copy (name, args->vhost);
        meshq_meta_key_vhost (candidate, name);
        return streq (candidate, key);
    }
    if (key[1] == '/') {
        snprintf (name, MESHQ_MAX_SHORTSTR + 1, "%s", key + 2);
        return true;
    }
    if (args)
        return false;  //  A hashed key needs the name in its record.
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        meshq_meta_key_vhost (candidate, vhost->name);
        if (streq (candidate, key)) {
            snprintf (name, MESHQ_MAX_SHORTSTR + 1, "%s", vhost->name);
            break;
        }
    }
    return true;
}

void
meshq_engine_auth_meta (meshq_engine_t *self, const char *key,
                        const meshq_args_t *args)
{
    bool hashed;
    char kind = meshq_meta_key_kind (key, &hashed);
    if (kind == 'u' || kind == 'p') {
        meshq_auth_apply (self->auth, key, args);
    } else if (kind == 'v') {
        char name[MESHQ_MAX_SHORTSTR + 1];
        if (!s_vhost_of (self, key, args, name)) {
            zsys_warning ("agent: vhost record skipped key=%.64s reason=its "
                          "key is not its name's",
                          key);
            return;
        }
        if (!*name)
            return;
        meshq_vhost_t *vhost = zhashx_lookup (self->vhosts, name);
        if (!args && vhost && vhost != self->root)
            s_drop_vhost (self, vhost, true);
        else if (args && !vhost) {
            //  At start the root is still being read: the others open
            //  when it is done (meshq_engine_auth_open), each that was
            //  served before. A vhost a peer made is served if one more
            //  fits here, as ADD_VHOST checks it; its record is kept,
            //  and served after a restart with a higher limit.
            bool live = self->root->store && !self->restoring_root;
            char why[1024];
            if (live && meshq_vhost_room (self, name, why, sizeof why)) {
                meshq_engine_bad_input (self,
                                        "mesh: vhost not served name=%s "
                                        "reason=%s",
                                        name, why);
                return;
            }
            vhost = meshq_vhost_new (self, name);
            zhashx_insert (self->vhosts, vhost->name, vhost);
            if (live && meshq_vhost_open (vhost, why, sizeof why))
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

//  The same for a fresh mesh's default (genesis): at the version every
//  agent gives it, and only if the key has no record yet.
static void
s_write (meshq_engine_t *self, const char *key, const meshq_args_t *args,
         bool genesis)
{
    if (!genesis)
        s_meta (self, key, args);
    else if (meshq_vhost_meta_genesis (self->root, key, args))
        meshq_engine_auth_meta (self, key, args);
}

//  Deletes one permission's record (for meshq_auth_each_permission).
static void
s_forget_permission (void *arg, const char *vhost, const char *user,
                     const char *patterns[3])
{
    (void)patterns;
    char key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_permission (key, vhost, user);
    s_meta (arg, key, NULL);
}

//  Deletes the permissions of a vhost (user NULL) or of a user (vhost
//  NULL): records keyed "p/VHOST\x1fUSER".
static void
s_delete_permissions (meshq_engine_t *self, const char *vhost, const char *user)
{
    meshq_auth_each_permission (self->auth, vhost, user, s_forget_permission,
                                self);
}

static int
s_add_user (meshq_engine_t *self, const char *user, const char *password,
            size_t size, unsigned tags, bool genesis)
{
    meshq_args_t record;
    memset (&record, 0, sizeof record);
    char hash[128];
    int rc = 0;
    if (streq (user, "guest") && size == 5 &&
        memcmp (password, "guest", 5) == 0)
        snprintf (hash, sizeof hash, "%s", MESHQ_AUTH_GUEST_HASH);
    else
        rc = meshq_auth_hash (password, size, hash, sizeof hash);
    if (rc)
        return rc;
    char tag_text[128];
    meshq_auth_format_tags (tags, tag_text, sizeof tag_text);
    MESHQ_ARGS_SET (&record, USER, user, meshq_span (user));
    MESHQ_ARGS_SET (&record, PWHASH, pwhash, meshq_span (hash));
    MESHQ_ARGS_SET (&record, TAGS, tags, meshq_span (tag_text));
    char key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_user (key, user);
    s_write (self, key, &record, genesis);
    return 0;
}

static void
s_set_permissions (meshq_engine_t *self, const char *vhost, const char *user,
                   const char *configure, const char *write, const char *read,
                   bool genesis)
{
    meshq_args_t record;
    memset (&record, 0, sizeof record);
    MESHQ_ARGS_SET (&record, VHOST, vhost, meshq_span (vhost));
    MESHQ_ARGS_SET (&record, USER, user, meshq_span (user));
    MESHQ_ARGS_SET (&record, CONFIGURE, configure, meshq_span (configure));
    MESHQ_ARGS_SET (&record, WRITE, write, meshq_span (write));
    MESHQ_ARGS_SET (&record, READ, read, meshq_span (read));
    char key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_permission (key, vhost, user);
    s_write (self, key, &record, genesis);
}

static void
s_count_user (void *arg, const char *name, const meshq_user_t *user)
{
    (void)name;
    (void)user;
    (*(size_t *)arg)++;
}

void
meshq_engine_auth_open (meshq_engine_t *self)
{
    //  A fresh mesh has guest/guest, an administrator with every right
    //  on "/", as a fresh RabbitMQ has: the same records in every agent
    //  (MESHQ_META_GENESIS), none where a record of its key is known (a
    //  guest deleted stays deleted).
    size_t users = 0;
    meshq_auth_each_user (self->auth, s_count_user, &users);
    if (users == 0) {
        s_add_user (self, "guest", "guest", 5, MESHQ_TAG_ADMINISTRATOR, true);
        s_set_permissions (self, "/", "guest", ".*", ".*", ".*", true);
    }
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        char why[1024];
        if (!vhost->store && meshq_vhost_open (vhost, why, sizeof why))
            zsys_error ("agent: %s", why);
    }
}

static bool
s_tagged (meshq_engine_t *self, meshq_session_t *session, unsigned tags,
          uint64_t rid)
{
    if (meshq_auth_tagged (self->auth, session->user, tags))
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

//  The rows of a list being made; they borrow strings kept in strings
//  until they are encoded.
typedef struct {
    meshq_args_t *rows;  //  The rows.
    size_t count;        //  Rows made.
    size_t capacity;     //  Room.
    zlistx_t *strings;   //  Copies the rows point into.
} s_rows_t;

static meshq_args_t *
s_row (s_rows_t *self)
{
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? 2 * self->capacity : 16;
        self->rows = realloc (self->rows, self->capacity * sizeof *self->rows);
        assert (self->rows);
    }
    meshq_args_t *row = &self->rows[self->count++];
    memset (row, 0, sizeof *row);
    return row;
}

static meshq_span_t
s_keep (s_rows_t *self, const char *text)
{
    char *copy = strdup (text);
    assert (copy);
    zlistx_add_end (self->strings, copy);
    return meshq_span (copy);
}

static void
s_user_row (void *arg, const char *name, const meshq_user_t *user)
{
    s_rows_t *rows = arg;
    char tags[64];
    meshq_auth_format_tags (user->tags, tags, sizeof tags);
    meshq_args_t *row = s_row (rows);
    MESHQ_ARGS_SET (row, USER, user, s_keep (rows, name));
    MESHQ_ARGS_SET (row, TAGS, tags, s_keep (rows, tags));
}

static void
s_permission_row (void *arg, const char *vhost, const char *user,
                  const char *patterns[3])
{
    s_rows_t *rows = arg;
    meshq_args_t *row = s_row (rows);
    MESHQ_ARGS_SET (row, VHOST, vhost, s_keep (rows, vhost));
    MESHQ_ARGS_SET (row, USER, user, s_keep (rows, user));
    MESHQ_ARGS_SET (row, CONFIGURE, configure, s_keep (rows, patterns[0]));
    MESHQ_ARGS_SET (row, WRITE, write, s_keep (rows, patterns[1]));
    MESHQ_ARGS_SET (row, READ, read, s_keep (rows, patterns[2]));
}

static void
s_list (meshq_engine_t *self, meshq_session_t *session,
        const meshq_args_t *args, meshq_admin_t action)
{
    s_rows_t rows = {NULL, 0, 0, zlistx_new ()};
    zlistx_set_destructor (rows.strings, (zlistx_destructor_fn *)zstr_free);
    const char *what;
    if (action == MESHQ_ADMIN_LIST_USERS) {
        what = "users";
        meshq_auth_each_user (self->auth, s_user_row, &rows);
    } else if (action == MESHQ_ADMIN_LIST_VHOSTS) {
        what = "vhosts";
        meshq_vhost_t *vhost = zhashx_first (self->vhosts);
        for (; vhost; vhost = zhashx_next (self->vhosts)) {
            meshq_args_t *row = s_row (&rows);
            MESHQ_ARGS_SET (row, VHOST, vhost, meshq_span (vhost->name));
        }
    } else {
        bool by_user = action == MESHQ_ADMIN_LIST_USER_PERMISSIONS;
        what = "permissions";
        char filter[MESHQ_MAX_SHORTSTR + 1] = "";
        meshq_span_copy (filter, by_user ? args->user : args->vhost);
        if (!*filter && !by_user)
            snprintf (filter, sizeof filter, "/");
        meshq_auth_each_permission (self->auth, by_user ? NULL : filter,
                                    by_user ? filter : NULL, s_permission_row,
                                    &rows);
    }
    meshq_engine_reply_list (self, session, args->rid, what, rows.rows,
                             rows.count);
    zlistx_destroy (&rows.strings);
    free (rows.rows);
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

//  What each administrative request needs: whether it only lists, and
//  which names it takes. Indexed by meshq_admin_t.
static const struct {
    bool list;         //  A listing (administrator or monitoring).
    bool needs_user;   //  Takes the user name.
    bool needs_vhost;  //  Takes the vhost name.
} s_actions[MESHQ_ADMIN_COUNT] = {
    [MESHQ_ADMIN_LIST_USERS] = {true, false, false},
    [MESHQ_ADMIN_LIST_VHOSTS] = {true, false, false},
    [MESHQ_ADMIN_LIST_PERMISSIONS] = {true, false, false},
    [MESHQ_ADMIN_LIST_USER_PERMISSIONS] = {true, false, false},
    [MESHQ_ADMIN_ADD_USER] = {false, true, false},
    [MESHQ_ADMIN_DELETE_USER] = {false, true, false},
    [MESHQ_ADMIN_CHANGE_PASSWORD] = {false, true, false},
    [MESHQ_ADMIN_SET_USER_TAGS] = {false, true, false},
    [MESHQ_ADMIN_SET_PERMISSIONS] = {false, true, true},
    [MESHQ_ADMIN_CLEAR_PERMISSIONS] = {false, true, true},
    [MESHQ_ADMIN_ADD_VHOST] = {false, false, true},
    [MESHQ_ADMIN_DELETE_VHOST] = {false, false, true},
};

void
meshq_engine_admin (meshq_engine_t *self, meshq_session_t *session,
                    meshq_admin_t action, const meshq_args_t *args)
{
    bool list = s_actions[action].list;
    if (!s_tagged (self, session,
                   list ? MESHQ_TAG_ADMINISTRATOR | MESHQ_TAG_MONITORING
                        : MESHQ_TAG_ADMINISTRATOR,
                   args->rid))
        return;
    if (list) {
        s_list (self, session, args, action);
        return;
    }
    char user[MESHQ_MAX_SHORTSTR + 1] = "", vhost[MESHQ_MAX_SHORTSTR + 1] = "";
    char key[MESHQ_META_KEY_SIZE];
    uint64_t rid = args->rid;
    bool needs_vhost = s_actions[action].needs_vhost;
    bool needs_user = s_actions[action].needs_user;
    if (needs_user &&
        !s_required (self, session, args, args->user,
                     MESHQ_ARGS_HAS (args, USER), "the user name", user))
        return;
    if (needs_vhost &&
        !s_required (self, session, args, args->vhost,
                     MESHQ_ARGS_HAS (args, VHOST), "the vhost name", vhost))
        return;
    const meshq_user_t *record =
        needs_user ? meshq_auth_user (self->auth, user) : NULL;
    if (needs_user && action != MESHQ_ADMIN_ADD_USER && !record) {
        meshq_engine_reply_error (self, session, rid, MESHQ_ENOTFOUND,
                                  "no user '%s'", user);
        return;
    }
    bool vhost_known = needs_vhost && zhashx_lookup (self->vhosts, vhost);
    if (needs_vhost && action != MESHQ_ADMIN_ADD_VHOST && !vhost_known) {
        meshq_engine_reply_error (self, session, rid, MESHQ_ENOTFOUND,
                                  "no vhost '%s'", vhost);
        return;
    }
    char why[1024] = "";
    int rc = 0;
    if (action == MESHQ_ADMIN_ADD_USER ||
        action == MESHQ_ADMIN_CHANGE_PASSWORD ||
        action == MESHQ_ADMIN_SET_USER_TAGS) {
        bool add = action == MESHQ_ADMIN_ADD_USER;
        unsigned tags = record ? record->tags : 0;
        char text[MESHQ_MAX_SHORTSTR + 1] = "";
        meshq_span_copy (text, args->tags);
        if (add && record)
            rc = MESHQ_EEXIST,
            snprintf (why, sizeof why, "user '%s' already exists", user);
        else if ((add || action == MESHQ_ADMIN_SET_USER_TAGS) &&
                 MESHQ_ARGS_HAS (args, TAGS))
            rc = meshq_auth_parse_tags (text, &tags, why, sizeof why);
        if (rc == 0 && action == MESHQ_ADMIN_SET_USER_TAGS) {
            meshq_args_t record_args;
            memset (&record_args, 0, sizeof record_args);
            char tag_text[128];
            meshq_auth_format_tags (tags, tag_text, sizeof tag_text);
            //  A copy: applying the record writes record->hash from it,
            //  and a copy onto itself left the hash garbled.
            char hash[sizeof record->hash];
            snprintf (hash, sizeof hash, "%s", record->hash);
            MESHQ_ARGS_SET (&record_args, USER, user, meshq_span (user));
            MESHQ_ARGS_SET (&record_args, PWHASH, pwhash, meshq_span (hash));
            MESHQ_ARGS_SET (&record_args, TAGS, tags, meshq_span (tag_text));
            meshq_meta_key_user (key, user);
            s_meta (self, key, &record_args);
        } else if (rc == 0 && !MESHQ_ARGS_HAS (args, PASSWORD))
            rc = MESHQ_EINVAL,
            snprintf (why, sizeof why, "the password is missing");
        else if (rc == 0)
            rc = s_add_user (self, user, args->password.data,
                             args->password.size, tags, false);
    } else if (action == MESHQ_ADMIN_DELETE_USER) {
        meshq_meta_key_user (key, user);
        s_meta (self, key, NULL);
        //  Its permissions go with it.
        s_delete_permissions (self, NULL, user);
    } else if (action == MESHQ_ADMIN_SET_PERMISSIONS) {
        char patterns[3][MESHQ_MAX_HEADER_VALUE + 1];
        s_patterns (args, patterns);
        rc = meshq_auth_check_patterns (patterns[0], patterns[1], patterns[2],
                                        why, sizeof why);
        if (rc == 0)
            s_set_permissions (self, vhost, user, patterns[0], patterns[1],
                               patterns[2], false);
    } else if (action == MESHQ_ADMIN_CLEAR_PERMISSIONS) {
        meshq_meta_key_permission (key, vhost, user);
        if (meshq_auth_may_enter (self->auth, user, vhost))
            s_meta (self, key, NULL);
        else
            rc = MESHQ_ENOTFOUND,
            snprintf (why, sizeof why,
                      "user '%s' has no permissions in vhost "
                      "'%s'",
                      user, vhost);
    } else if (action == MESHQ_ADMIN_ADD_VHOST) {
        if (vhost_known)
            rc = MESHQ_EEXIST,
            snprintf (why, sizeof why, "vhost '%s' already exists", vhost);
        //  Made before its record: what it cannot have is refused here.
        else if ((rc = meshq_vhost_add (self, vhost, why, sizeof why)) == 0) {
            meshq_args_t record_args;
            memset (&record_args, 0, sizeof record_args);
            MESHQ_ARGS_SET (&record_args, VHOST, vhost, meshq_span (vhost));
            meshq_meta_key_vhost (key, vhost);
            s_meta (self, key, &record_args);
        }
    } else if (action == MESHQ_ADMIN_DELETE_VHOST) {
        if (streq (vhost, "/"))
            rc = MESHQ_EACCESS, snprintf (why, sizeof why,
                                          "the default vhost '/' cannot be "
                                          "deleted");
        else if (session->vhost == zhashx_lookup (self->vhosts, vhost))
            rc = MESHQ_ESTATE, snprintf (why, sizeof why,
                                         "cannot delete the vhost this "
                                         "connection uses; connect to another");
        else {
            meshq_meta_key_vhost (key, vhost);
            s_meta (self, key, NULL);
            s_delete_permissions (self, vhost, NULL);
        }
    }
    if (rc)
        meshq_engine_reply_error (self, session, rid, rc, "%s",
                                  *why ? why : meshq_strerror (rc));
    else
        meshq_engine_reply_ok (self, session, NULL, rid);
}
