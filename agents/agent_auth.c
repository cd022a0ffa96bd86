/*  agent_auth.c - the engine's side of authentication: opening a
    session for an authenticated user, and checking each request against
    the user's permissions. Users, permissions, logins and the ZAP
    handler are the auth module's (auth/auth.h); the administrative
    requests that change them are agent_users.c.

    Clients on ipc:// and tcp:// were authenticated by ZAP before their
    first frame, which carries their User-Id. inproc:// has no
    handshake, so those clients (in this process) send user and
    password in HELLO, and the session opens when the auth module
    answers.
*/
#include "agent_internal.h"
#include "codec_args.h"

#include <inttypes.h>
#include <sodium.h>

//  An inproc:// HELLO waiting for its password check.
typedef struct {
    uint8_t session[16];                 //  The session id.
    meshq_args_t args;                   //  Its arguments (strings below).
    char user[MESHQ_MAX_SHORTSTR + 1];   //  The user.
    char vhost[MESHQ_MAX_SHORTSTR + 1];  //  The vhost.
} s_hello_t;

// --------------------------------------------------------------------
//  Sessions: HELLO

//  Opens the session of an authenticated user, if it may use the vhost.
static void
s_welcome (meshq_engine_t *self, const uint8_t *id, const meshq_args_t *args,
           const char *user, bool plain, const char *vhost_name)
{
    meshq_vhost_t *vhost = zhashx_lookup (self->vhosts, vhost_name);
    meshq_session_t stranger = {0};
    memcpy (stranger.id, id, 16);
    meshq_session_t *known = meshq_engine_session_find (self, id);
    if (known && (!streq (known->user, user) || known->plain != plain)) {
        //  Another login presenting a live session's id: it must not
        //  become that session.
        self->auth_failures++;
        meshq_engine_warn (self, "auth: refused user=%s reason=%s", user,
                           "session id of another user");
        meshq_engine_reply_error (self, &stranger, args->rid, MESHQ_EACCESS,
                                  "session id in use by another user; "
                                  "connect with a new one");
        return;
    }
    if (!vhost) {
        meshq_engine_reply_error (self, &stranger, args->rid, MESHQ_ENOTFOUND,
                                  "no vhost '%s' on this agent (meshq "
                                  "list_vhosts lists them)",
                                  vhost_name);
        return;
    }
    if (!meshq_auth_may_enter (self->auth, user, vhost_name)) {
        self->auth_failures++;
        meshq_engine_warn (self, "auth: refused user=%s reason=%s", user,
                           "no access to the vhost");
        meshq_engine_reply_error (self, &stranger, args->rid, MESHQ_EACCESS,
                                  "user '%s' has no access to vhost '%s' "
                                  "(meshq set_permissions -p '%s' '%s' ...)",
                                  user, vhost_name, vhost_name, user);
        return;
    }
    meshq_session_t *session =
        meshq_engine_session_open (self, id, args, user, vhost);
    session->plain = plain;
    meshq_info ("agent: session opened user=%s vhost=%s", user, vhost_name);
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    MESHQ_ARGS_SET (&results, MAX_MESSAGE, max_message,
                    self->config.max_message);
    MESHQ_ARGS_SET (&results, NAME, name, meshq_span (self->config.name));
    MESHQ_ARGS_SET (&results, NODE, node, meshq_span (self->node_hex));
    //  Publishes may come several to a frame.
    MESHQ_ARGS_SET (&results, BATCH, batch, MESHQ_ENGINE_PUBLISH_BATCH);
    //  And a command as one frame.
    MESHQ_ARGS_SET (&results, ONE_FRAME, one_frame, true);
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
        s_welcome (self, id, args, user_id, true, vhost);
        return;
    }
    s_hello_t *hello = calloc (1, sizeof *hello);
    assert (hello);
    memcpy (hello->session, id, 16);
    hello->args = *args;
    meshq_span_copy (hello->user, args->user);
    snprintf (hello->vhost, sizeof hello->vhost, "%s", vhost);
    //  The strings of args live in the frame; keep only what is needed.
    hello->args.user = meshq_span (hello->user);
    hello->args.vhost = meshq_span (hello->vhost);
    hello->args.password = (meshq_span_t){0};
    char source[48] = "inproc:";
    meshq_hex16 (id, source + 7);
    bool has = MESHQ_ARGS_HAS (args, PASSWORD);
    meshq_auth_login (self->auth, hello->user, has ? args->password.data : NULL,
                      has ? args->password.size : 0, source, hello);
}

//  The auth module's answer to an inproc:// HELLO.
static void
s_login_answer (void *arg, void *ticket, int rc, const char *why)
{
    meshq_engine_t *self = arg;
    if (meshq_engine_http_login (self, ticket, rc, why))
        return;  //  An HTTP request's login, not a HELLO.
    if (meshq_engine_door_login (self, ticket, rc, why))
        return;  //  An AMQP connection's.
    s_hello_t *hello = ticket;
    if (rc == 0)
        s_welcome (self, hello->session, &hello->args, hello->user, false,
                   hello->vhost);
    else {
        meshq_session_t stranger = {0};
        memcpy (stranger.id, hello->session, 16);
        meshq_engine_reply_error (self, &stranger, hello->args.rid, rc,
                                  "login refused for user '%s': %s",
                                  hello->user, why);
    }
    free (hello);
}

int
meshq_engine_auth_start (meshq_engine_t *self, char *why, size_t size)
{
    (void)why;
    (void)size;
    return meshq_auth_start (self->auth, self->loop, s_login_answer, self);
}

// --------------------------------------------------------------------
//  Checks

bool
meshq_engine_auth_owns (meshq_session_t *session, const char *user_id)
{
    //  A session is its routing id, which any client may choose: each
    //  frame must come from the user that opened it, and the same way
    //  (a frame over ipc:// or tcp:// for a session of inproc://, which
    //  has no User-Id, is not its owner either).
    if (user_id)
        return session->plain && streq (session->user, user_id);
    return !session->plain;
}

bool
meshq_engine_allowed (meshq_engine_t *self, meshq_session_t *session,
                      meshq_perm_kind_t kind, const char *type,
                      const char *resource, uint64_t rid)
{
    if (meshq_auth_allowed (self->auth, session->user, session->vhost->name,
                            kind, resource))
        return true;
    self->auth_failures++;
    meshq_engine_reply_error (self, session, rid, MESHQ_EACCESS,
                              "access to %s '%s' in vhost '%s' refused for "
                              "user '%s' (needs %s permission)",
                              type, *resource ? resource : "amq.default",
                              session->vhost->name, session->user,
                              meshq_perm_kind_name (kind));
    return false;
}

bool
meshq_engine_may_publish (meshq_engine_t *self, meshq_session_t *session,
                          meshq_span_t exchange)
{
    //  One check per exchange and permission change, not per message.
    uint64_t generation = meshq_auth_generation (self->auth);
    if (session->publish_generation == generation &&
        exchange.size == strlen (session->publish_exchange) &&
        (exchange.size == 0 ||
         memcmp (exchange.data, session->publish_exchange, exchange.size) == 0))
        return session->publish_allowed;
    meshq_span_copy (session->publish_exchange, exchange);
    session->publish_generation = generation;
    session->publish_allowed =
        meshq_auth_allowed (self->auth, session->user, session->vhost->name,
                            MESHQ_PERM_WRITE, session->publish_exchange);
    return session->publish_allowed;
}
