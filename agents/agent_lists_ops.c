/*  agent_lists_ops.c - LIST_CONNECTIONS and LIST_LISTENERS: the
    agent's client sessions, and the endpoints it listens on with their
    protocols (docs/PROTOCOL.md, 3.3).

    A session is a connection with one channel, so `meshq
    list_connections` and `meshq list_channels` both read
    LIST_CONNECTIONS and show different columns of it. As with
    consumers, a user sees the sessions of its own vhost; an
    administrator sees every vhost's, each row naming its own.
*/
#include "agent_internal.h"

//  Most rows of one list: a row is some 150 bytes, and a list travels
//  in one frame.
#define S_MAX_ROWS 100000

//  A row more, or NULL when the list is full.
static meshq_args_t *
s_row (meshq_args_t **rows, size_t *count, size_t *capacity)
{
    if (*count == S_MAX_ROWS)
        return NULL;
    if (*count == *capacity) {
        *capacity = *capacity ? *capacity * 2 : 16;
        *rows = realloc (*rows, *capacity * sizeof **rows);
        assert (*rows);
    }
    meshq_args_t *row = &(*rows)[(*count)++];
    memset (row, 0, sizeof *row);
    return row;
}

//  One row per client session of the caller's vhost (every vhost's for
//  an administrator). hex is room for their ids.
static void
s_connections (meshq_engine_t *self, meshq_session_t *caller,
               meshq_args_t **rows, size_t *count, size_t *capacity,
               char (*hex)[33])
{
    bool every =
        meshq_auth_tagged (self->auth, caller->user, MESHQ_TAG_ADMINISTRATOR);
    int64_t now = zclock_mono ();
    meshq_session_t *session = zhashx_first (self->sessions);
    for (; session; session = zhashx_next (self->sessions)) {
        if (!every && session->vhost != caller->vhost)
            continue;
        meshq_args_t *row = s_row (rows, count, capacity);
        if (!row)
            return;
        meshq_hex16 (session->id, hex[*count - 1]);
        MESHQ_ARGS_SET (row, ID, id, meshq_span (hex[*count - 1]));
        MESHQ_ARGS_SET (row, USER, user, meshq_span (session->user));
        MESHQ_ARGS_SET (row, VHOST, vhost, meshq_span (session->vhost->name));
        MESHQ_ARGS_SET (
            row, PROTOCOL, protocol,
            meshq_span (session->door == MESHQ_DOOR_AMQP ? "amqp" : "meshq"));
        MESHQ_ARGS_SET (row, HEARTBEAT, heartbeat,
                        (uint64_t)session->heartbeat_ms);
        MESHQ_ARGS_SET (row, LAST_SEEN, last_seen,
                        (uint64_t)(now - session->last_seen));
        uint64_t unacked = 0, prefetch = 0, unconfirmed = 0;
        meshq_consumer_t *consumer = zlistx_first (session->consumers);
        for (; consumer; consumer = zlistx_next (session->consumers)) {
            unacked += consumer->unacked;
            prefetch += consumer->prefetch;
        }
        for (meshq_pending_t *p = session->pending; p; p = p->next)
            unconfirmed++;
        MESHQ_ARGS_SET (row, CONSUMERS, consumers,
                        zlistx_size (session->consumers));
        MESHQ_ARGS_SET (row, UNACKED, unacked, unacked);
        MESHQ_ARGS_SET (row, PREFETCH, prefetch, prefetch);
        MESHQ_ARGS_SET (row, INFLIGHT, inflight, unconfirmed);
    }
}

//  The client endpoints, then each vhost's mesh endpoint.
static void
s_listeners (meshq_engine_t *self, meshq_args_t **rows, size_t *count,
             size_t *capacity, char *endpoints)
{
    char *saveptr = NULL;
    for (char *endpoint = strtok_r (endpoints, ",", &saveptr); endpoint;
         endpoint = strtok_r (NULL, ",", &saveptr)) {
        meshq_args_t *row = s_row (rows, count, capacity);
        if (!row)
            return;
        MESHQ_ARGS_SET (row, PROTOCOL, protocol, meshq_span ("meshq"));
        MESHQ_ARGS_SET (row, ENDPOINT, endpoint, meshq_span (endpoint));
    }
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        const char *endpoint = meshq_engine_mesh_endpoint (vhost);
        meshq_args_t *row = endpoint ? s_row (rows, count, capacity) : NULL;
        if (!row)
            continue;
        MESHQ_ARGS_SET (row, PROTOCOL, protocol, meshq_span ("mesh"));
        MESHQ_ARGS_SET (row, ENDPOINT, endpoint, meshq_span (endpoint));
        MESHQ_ARGS_SET (row, VHOST, vhost, meshq_span (vhost->name));
    }
}

void
meshq_engine_list_ops (meshq_engine_t *self, meshq_session_t *session,
                       const meshq_args_t *args, const char *verb)
{
    meshq_args_t *rows = NULL;
    size_t count = 0, capacity = 0;
    if (streq (verb, "LIST_CONNECTIONS")) {
        size_t most = zhashx_size (self->sessions);
        if (most > S_MAX_ROWS)
            most = S_MAX_ROWS;
        char (*hex)[33] = calloc (most + 1, sizeof *hex);
        assert (hex);
        s_connections (self, session, &rows, &count, &capacity, hex);
        meshq_engine_reply_list (self, session, args->rid, "connections", rows,
                                 count);
        free (hex);
    } else {
        //  inproc:// first, as the agent binds it, then the others.
        size_t size = strlen (self->config.endpoints) + 128;
        char *endpoints = malloc (size);
        assert (endpoints);
        snprintf (endpoints, size, "inproc://meshq-%s%s%s", self->config.name,
                  *self->config.endpoints ? "," : "", self->config.endpoints);
        s_listeners (self, &rows, &count, &capacity, endpoints);
        meshq_engine_reply_list (self, session, args->rid, "listeners", rows,
                                 count);
        free (endpoints);
    }
    free (rows);
}
