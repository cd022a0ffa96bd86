/*  agent_verbs.c - what a client session may ask of the engine: one
    table of verbs (name, handler, permission, doors that may send it),
    for the native protocol's ROUTER and the AMQP door alike
    (docs/decisions/0017). Each handler checks the permission its row
    names on the resource the request names (agent_auth.c), and answers
    through the session's door. What peers send each other is the mesh's
    own table (agent_mesh_peers.c).
*/
#include "agent_internal.h"

//  A handler: body is a PUBLISH's envelope (size bytes), else NULL.
typedef void (s_handler_fn) (meshq_engine_t *self, meshq_session_t *session,
                             const char *verb, const meshq_args_t *args,
                             const void *body, size_t size);

//  The permission a row's handler checks.
typedef enum {
    S_NONE,       //  None: the session's own state (acks, BYE).
    S_CONFIGURE,  //  configure on the queue or exchange named.
    S_WRITE,      //  write on the exchange (publish) or queue (bind).
    S_READ,       //  read on the queue (consume, get, purge).
    S_TAGGED      //  A user tag (administrator, monitoring).
} s_perm_t;

#define S_BOTH (MESHQ_DOOR_NATIVE | MESHQ_DOOR_AMQP)

static void
s_publish (meshq_engine_t *self, meshq_session_t *session, const char *verb,
           const meshq_args_t *args, const void *body, size_t size)
{
    (void)verb;
    if (body && MESHQ_ARGS_HAS (args, BATCH))
        meshq_engine_publish_batch (self, session, args, body, size);
    else if (body)
        meshq_engine_publish (self, session, args, body, size);
    else
        meshq_engine_reply_error (self, session, 0, MESHQ_EMALFORMED,
                                  "PUBLISH without a message");
}

static void
s_settle (meshq_engine_t *self, meshq_session_t *session, const char *verb,
          const meshq_args_t *args, const void *body, size_t size)
{
    (void)body;
    (void)size;
    meshq_engine_settle (self, session, verb, args);
}

static void
s_get (meshq_engine_t *self, meshq_session_t *session, const char *verb,
       const meshq_args_t *args, const void *body, size_t size)
{
    (void)verb;
    (void)body;
    (void)size;
    meshq_engine_get (self, session, args);
}

static void
s_bye (meshq_engine_t *self, meshq_session_t *session, const char *verb,
       const meshq_args_t *args, const void *body, size_t size)
{
    (void)verb;
    (void)args;
    (void)body;
    (void)size;
    session->dead = true;
    meshq_engine_arm_turn (self);
}

static void
s_sync (meshq_engine_t *self, meshq_session_t *session, const char *verb,
        const meshq_args_t *args, const void *body, size_t size)
{
    (void)verb;
    (void)body;
    (void)size;
    //  Frames are handled in order: all the session sent before is read.
    meshq_args_t results;
    memset (&results, 0, sizeof results);
    meshq_engine_reply_ok (self, session, &results, args->rid);
}

//  Handlers that take (self, session, args).
#define S_PLAIN(name, call)                                                    \
    static void name (meshq_engine_t *self, meshq_session_t *session,          \
                      const char *verb, const meshq_args_t *args,              \
                      const void *body, size_t size)                           \
    {                                                                          \
        (void)verb;                                                            \
        (void)body;                                                            \
        (void)size;                                                            \
        call;                                                                  \
    }
S_PLAIN (s_declare_queue, meshq_engine_declare_queue (self, session, args))
S_PLAIN (s_delete_queue, meshq_engine_delete_queue (self, session, args))
S_PLAIN (s_purge_queue, meshq_engine_purge_queue (self, session, args))
S_PLAIN (s_declare_exchange,
         meshq_engine_declare_exchange (self, session, args))
S_PLAIN (s_delete_exchange, meshq_engine_delete_exchange (self, session, args))
S_PLAIN (s_bind, meshq_engine_bind (self, session, args, true))
S_PLAIN (s_unbind, meshq_engine_bind (self, session, args, false))
S_PLAIN (s_consume, meshq_engine_consume (self, session, args))
S_PLAIN (s_cancel, meshq_engine_cancel (self, session, args))
S_PLAIN (s_credit, meshq_engine_credit (self, session, args))
S_PLAIN (s_status, meshq_engine_status (self, session, args))
S_PLAIN (s_list_queues, meshq_engine_list (self, session, args, "queues"))
S_PLAIN (s_list_exchanges, meshq_engine_list (self, session, args, "exchanges"))
S_PLAIN (s_list_bindings, meshq_engine_list (self, session, args, "bindings"))
S_PLAIN (s_list_consumers, meshq_engine_list (self, session, args, "consumers"))
S_PLAIN (s_list_peers, meshq_engine_mesh_list (self, session, args))
S_PLAIN (s_list_ops, meshq_engine_list_ops (self, session, args, verb))

//  The administrative requests, one handler each.
#define S_ADMIN(name, action)                                                  \
    S_PLAIN (name, meshq_engine_admin (self, session, action, args))
S_ADMIN (s_list_users, MESHQ_ADMIN_LIST_USERS)
S_ADMIN (s_list_vhosts, MESHQ_ADMIN_LIST_VHOSTS)
S_ADMIN (s_list_permissions, MESHQ_ADMIN_LIST_PERMISSIONS)
S_ADMIN (s_list_user_permissions, MESHQ_ADMIN_LIST_USER_PERMISSIONS)
S_ADMIN (s_add_user, MESHQ_ADMIN_ADD_USER)
S_ADMIN (s_delete_user, MESHQ_ADMIN_DELETE_USER)
S_ADMIN (s_change_password, MESHQ_ADMIN_CHANGE_PASSWORD)
S_ADMIN (s_set_user_tags, MESHQ_ADMIN_SET_USER_TAGS)
S_ADMIN (s_set_permissions, MESHQ_ADMIN_SET_PERMISSIONS)
S_ADMIN (s_clear_permissions, MESHQ_ADMIN_CLEAR_PERMISSIONS)
S_ADMIN (s_add_vhost, MESHQ_ADMIN_ADD_VHOST)
S_ADMIN (s_delete_vhost, MESHQ_ADMIN_DELETE_VHOST)

//  Every verb a client session may send, the hot ones first.
static const struct {
    const char *verb;       //  The command.
    s_handler_fn *handler;  //  What handles it.
    s_perm_t perm;          //  What the handler checks.
    unsigned doors;         //  MESHQ_DOOR_* that may send it.
} s_verbs[] = {
    {"PUBLISH", s_publish, S_WRITE, S_BOTH},
    {"ACK", s_settle, S_NONE, S_BOTH},
    {"NACK", s_settle, S_NONE, S_BOTH},
    {"IN_PROGRESS", s_settle, S_NONE, MESHQ_DOOR_NATIVE},
    {"CREDIT", s_credit, S_NONE, S_BOTH},
    {"GET", s_get, S_READ, S_BOTH},
    {"DECLARE_QUEUE", s_declare_queue, S_CONFIGURE, S_BOTH},
    {"DELETE_QUEUE", s_delete_queue, S_CONFIGURE, S_BOTH},
    {"PURGE_QUEUE", s_purge_queue, S_READ, S_BOTH},
    {"DECLARE_EXCHANGE", s_declare_exchange, S_CONFIGURE, S_BOTH},
    {"DELETE_EXCHANGE", s_delete_exchange, S_CONFIGURE, S_BOTH},
    {"BIND", s_bind, S_WRITE, S_BOTH},
    {"UNBIND", s_unbind, S_WRITE, S_BOTH},
    {"CONSUME", s_consume, S_READ, S_BOTH},
    {"CANCEL", s_cancel, S_NONE, S_BOTH},
    {"SYNC", s_sync, S_NONE, MESHQ_DOOR_NATIVE},
    {"BYE", s_bye, S_NONE, MESHQ_DOOR_NATIVE},
    {"STATUS", s_status, S_NONE, MESHQ_DOOR_NATIVE},
    {"LIST_QUEUES", s_list_queues, S_NONE, MESHQ_DOOR_NATIVE},
    {"LIST_EXCHANGES", s_list_exchanges, S_NONE, MESHQ_DOOR_NATIVE},
    {"LIST_BINDINGS", s_list_bindings, S_NONE, MESHQ_DOOR_NATIVE},
    {"LIST_PEERS", s_list_peers, S_NONE, MESHQ_DOOR_NATIVE},
    {"LIST_CONSUMERS", s_list_consumers, S_NONE, MESHQ_DOOR_NATIVE},
    {"LIST_CONNECTIONS", s_list_ops, S_NONE, MESHQ_DOOR_NATIVE},
    {"LIST_LISTENERS", s_list_ops, S_NONE, MESHQ_DOOR_NATIVE},
    {"LIST_USERS", s_list_users, S_TAGGED, MESHQ_DOOR_NATIVE},
    {"LIST_VHOSTS", s_list_vhosts, S_TAGGED, MESHQ_DOOR_NATIVE},
    {"LIST_PERMISSIONS", s_list_permissions, S_TAGGED, MESHQ_DOOR_NATIVE},
    {"LIST_USER_PERMISSIONS", s_list_user_permissions, S_TAGGED,
     MESHQ_DOOR_NATIVE},
    {"ADD_USER", s_add_user, S_TAGGED, MESHQ_DOOR_NATIVE},
    {"DELETE_USER", s_delete_user, S_TAGGED, MESHQ_DOOR_NATIVE},
    {"CHANGE_PASSWORD", s_change_password, S_TAGGED, MESHQ_DOOR_NATIVE},
    {"SET_USER_TAGS", s_set_user_tags, S_TAGGED, MESHQ_DOOR_NATIVE},
    {"SET_PERMISSIONS", s_set_permissions, S_TAGGED, MESHQ_DOOR_NATIVE},
    {"CLEAR_PERMISSIONS", s_clear_permissions, S_TAGGED, MESHQ_DOOR_NATIVE},
    {"ADD_VHOST", s_add_vhost, S_TAGGED, MESHQ_DOOR_NATIVE},
    {"DELETE_VHOST", s_delete_vhost, S_TAGGED, MESHQ_DOOR_NATIVE},
};

void
meshq_engine_request (meshq_engine_t *self, meshq_session_t *session,
                      const char *verb, const meshq_args_t *args,
                      const void *body, size_t size)
{
    unsigned door = session->door ? session->door : MESHQ_DOOR_NATIVE;
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++) {
        if (!streq (verb, s_verbs[i].verb))
            continue;
        if (!(s_verbs[i].doors & door))
            break;
        s_verbs[i].handler (self, session, verb, args, body, size);
        return;
    }
    meshq_engine_bad_input (self, "agent: unknown command verb=%s user=%s",
                            verb, session->user);
    meshq_engine_reply_error (self, session, args->rid, MESHQ_ENOTSUP,
                              "unknown command '%s'", verb);
}
