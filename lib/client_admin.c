/*  client_admin.c - status, health, lists and administration: the
    calls of meshq_admin.h. See client_table.c for the columns.

    Each is one request that waits for the agent's answer. A mesh-wide
    list asks the agent to gather its peers' parts; it waits for them at
    most half the request timeout, so that its answer, with the names of
    those that did not answer, comes before the request times out.
*/
#include "client_internal.h"
#include "client_table.h"

//  Most rows a list of ours holds; the codec caps a frame's rows too.
#define S_MAX_ROWS 1000000

int
meshq_client_ping (meshq_client_t *self)
{
    assert (self);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    return meshq_client_request (self, "STATUS", &args, NULL);
}

//  Decodes the rows of a list reply into a table.
static int
s_table (meshq_client_t *self, const meshq_table_list_t *list, zmsg_t *reply,
         meshq_table_t **table_p)
{
    zmsg_first (reply);
    zframe_t *frame = zmsg_next (reply);
    if (!list->field) {
        meshq_args_t row;
        const char *why = NULL;
        if (meshq_codec_decode_args (zframe_data (frame), zframe_size (frame),
                                     &row, &why)) {
            meshq_client_set_error (self, "malformed answer: %s", why);
            return MESHQ_EMALFORMED;
        }
        *table_p = meshq_table_new (list->columns, &row, 1);
        return 0;
    }
    uint64_t rid;
    meshq_span_t cursor;
    uint32_t count;
    const char *why = NULL;
    int rc = meshq_codec_decode_list (zframe_data (frame), zframe_size (frame),
                                      list->field, &rid, &cursor, &count, &why);
    if (rc == 0 && count > S_MAX_ROWS) {
        why = "too many rows";
        rc = MESHQ_ETOOBIG;
    }
    if (rc) {
        meshq_client_set_error (self, "malformed answer: %s", why);
        return rc;
    }
    meshq_args_t *rows = calloc ((size_t)count + 1, sizeof *rows);
    assert (rows);
    size_t n = 0;
    while (n < count && meshq_codec_list_next (&cursor, &rows[n]))
        n++;
    *table_p = meshq_table_new (list->columns, rows, n);
    free (rows);
    //  A mesh-wide list names the agents that did not answer, as rows
    //  of a second list: {name, why}.
    if (meshq_codec_decode_list (zframe_data (frame), zframe_size (frame),
                                 "unanswered", &rid, &cursor, &count,
                                 &why) == 0) {
        char text[1024] = "";
        meshq_args_t row;
        while (meshq_codec_list_next (&cursor, &row)) {
            size_t used = strlen (text);
            snprintf (text + used, sizeof text - used, "%s%.*s (%.*s)",
                      used ? ", " : "", (int)row.name.size,
                      row.name.data ? row.name.data : "", (int)row.why.size,
                      row.why.data ? row.why.data : "");
        }
        meshq_table_set_unanswered (*table_p, text);
    }
    return 0;
}

int
meshq_client_status (meshq_client_t *self, meshq_table_t **table_p)
{
    return meshq_client_list (self, "status", NULL, 0, table_p);
}

int
meshq_client_list (meshq_client_t *self, const char *what, const char *subject,
                   int flags, meshq_table_t **table_p)
{
    assert (self);
    assert (table_p);
    *table_p = NULL;
    bool local = (flags & MESHQ_LIST_LOCAL) != 0;
    const meshq_table_list_t *list = meshq_table_list (
        what && strcmp (what, "queues") == 0 && local ? "local_queues" : what);
    if (!list || strcmp (what, "local_queues") == 0) {
        meshq_client_set_error (self, "'%s' is not a list",
                                what ? what : "(null)");
        return MESHQ_EINVAL;
    }
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    if (strcmp (what, "queues") == 0) {
        if (local)
            MESHQ_ARGS_SET (&args, LOCAL, local, true);
        else {
            MESHQ_ARGS_SET (&args, MESHWIDE, meshwide, true);
            MESHQ_ARGS_SET (&args, TIMEOUT, timeout,
                            (uint64_t)(self->timeout_ms / 2));
        }
    } else if (strcmp (what, "permissions") == 0)
        MESHQ_ARGS_SET (&args, VHOST, vhost,
                        meshq_span (subject ? subject : "/"));
    else if (strcmp (what, "user_permissions") == 0) {
        if (!subject) {
            meshq_client_set_error (self, "user_permissions: name the user");
            return MESHQ_EINVAL;
        }
        MESHQ_ARGS_SET (&args, USER, user, meshq_span (subject));
    }
    zmsg_t *reply = NULL;
    int rc = meshq_client_call (self, list->request, &args, &reply);
    if (rc == 0)
        rc = s_table (self, list, reply, table_p);
    zmsg_destroy (&reply);
    return rc;
}

// --------------------------------------------------------------------
//  Users, permissions, vhosts

//  Sends an administrative request whose strings are those not NULL.
static int
s_admin (meshq_client_t *self, const char *verb, const char *vhost,
         const char *user, const char *password, const char *tags,
         const char *configure, const char *write, const char *read)
{
    assert (self);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_CLIENT_SET_STR (&args, VHOST, vhost, vhost);
    MESHQ_CLIENT_SET_STR (&args, USER, user, user);
    MESHQ_CLIENT_SET_STR (&args, PASSWORD, password, password);
    MESHQ_CLIENT_SET_STR (&args, TAGS, tags, tags);
    MESHQ_CLIENT_SET_STR (&args, CONFIGURE, configure, configure);
    MESHQ_CLIENT_SET_STR (&args, WRITE, write, write);
    MESHQ_CLIENT_SET_STR (&args, READ, read, read);
    return meshq_client_request (self, verb, &args, NULL);
}

int
meshq_client_add_user (meshq_client_t *self, const char *user,
                       const char *password)
{
    return s_admin (self, "ADD_USER", NULL, user, password, NULL, NULL, NULL,
                    NULL);
}

int
meshq_client_delete_user (meshq_client_t *self, const char *user)
{
    return s_admin (self, "DELETE_USER", NULL, user, NULL, NULL, NULL, NULL,
                    NULL);
}

int
meshq_client_change_password (meshq_client_t *self, const char *user,
                              const char *password)
{
    return s_admin (self, "CHANGE_PASSWORD", NULL, user, password, NULL, NULL,
                    NULL, NULL);
}

int
meshq_client_set_user_tags (meshq_client_t *self, const char *user,
                            const char *tags)
{
    return s_admin (self, "SET_USER_TAGS", NULL, user, NULL, tags ? tags : "",
                    NULL, NULL, NULL);
}

int
meshq_client_set_permissions (meshq_client_t *self, const char *vhost,
                              const char *user, const char *configure,
                              const char *write, const char *read)
{
    return s_admin (self, "SET_PERMISSIONS", vhost ? vhost : "/", user, NULL,
                    NULL, configure, write, read);
}

int
meshq_client_clear_permissions (meshq_client_t *self, const char *vhost,
                                const char *user)
{
    return s_admin (self, "CLEAR_PERMISSIONS", vhost ? vhost : "/", user, NULL,
                    NULL, NULL, NULL, NULL);
}

int
meshq_client_add_vhost (meshq_client_t *self, const char *vhost)
{
    return s_admin (self, "ADD_VHOST", vhost, NULL, NULL, NULL, NULL, NULL,
                    NULL);
}

int
meshq_client_delete_vhost (meshq_client_t *self, const char *vhost)
{
    return s_admin (self, "DELETE_VHOST", vhost, NULL, NULL, NULL, NULL, NULL,
                    NULL);
}
