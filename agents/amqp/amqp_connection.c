/*  amqp_connection.c - AMQP's connection class: the handshake (start,
    login through the engine's auth module, tune, open), close in both
    directions, and Connection.Blocked. Logins are the native
    protocol's: the same users, passwords and permissions; `guest` only
    from loopback, as RabbitMQ.
*/
#include "amqp_internal.h"

#include <inttypes.h>
#include <sodium.h>

//  A login waiting for the auth module.
typedef struct {
    uint64_t conn;  //  Its connection's number.
} s_ticket_t;

static void s_front_noop_closed (void *arg, meshq_session_t *session);

// --------------------------------------------------------------------
//  The connection's own session: owns its exclusive queues, and hears
//  BLOCKED and UNBLOCKED.

static int
s_owner_send (void *arg, meshq_session_t *session, const char *verb,
              const meshq_args_t *args, const void *body, size_t size)
{
    (void)session;
    (void)body;
    (void)size;
    meshq_amqp_conn_t *conn = arg;
    if (streq (verb, "BLOCKED"))
        meshq_amqp_connection_blocked (
            conn, true, MESHQ_ARGS_HAS (args, WHY) ? args->why.data : "");
    else if (streq (verb, "UNBLOCKED"))
        meshq_amqp_connection_blocked (conn, false, NULL);
    return 0;
}

static const meshq_front_t s_owner_front = {s_owner_send, NULL,
                                            s_front_noop_closed};

static void
s_front_noop_closed (void *arg, meshq_session_t *session)
{
    meshq_amqp_conn_t *conn = arg;
    if (conn->owner == session)
        conn->owner = NULL;
}

void
meshq_amqp_connection_blocked (meshq_amqp_conn_t *conn, bool blocked,
                               const char *why)
{
    if (!conn->can_block || conn->blocked == blocked ||
        conn->state != MESHQ_AMQP_RUNNING)
        return;
    conn->blocked = blocked;
    if (blocked) {
        char reason[256];
        snprintf (reason, sizeof reason, "%s", why ? why : "");
        amqp_connection_blocked_t method = {amqp_cstring_bytes (reason)};
        meshq_amqp_send_method (conn, 0, AMQP_CONNECTION_BLOCKED_METHOD,
                                &method);
    } else {
        amqp_connection_unblocked_t method = {0};
        meshq_amqp_send_method (conn, 0, AMQP_CONNECTION_UNBLOCKED_METHOD,
                                &method);
    }
}

void
meshq_amqp_connection_end (meshq_amqp_conn_t *conn)
{
    conn->ending = false;
    for (uint32_t i = 1; conn->channels && i <= conn->channel_max; i++)
        if (conn->channels[i])
            meshq_amqp_channel_destroy (&conn->channels[i]);
    if (conn->owner) {
        meshq_session_t *owner = conn->owner;
        conn->owner = NULL;
        //  Its exclusive queues go with it.
        meshq_engine_front_close (conn->engine, owner);
    }
    //  A login still out: its answer finds no connection.
}

// --------------------------------------------------------------------
//  The handshake

//  What Connection.Start offers: exactly what is implemented.
static void
s_start (meshq_amqp_conn_t *conn)
{
    amqp_table_entry_t caps[6];
    const char *names[] = {
        "publisher_confirms",     "basic.nack",
        "consumer_cancel_notify", "connection.blocked",
        "per_consumer_qos",       "authentication_failure_close"};
    for (int i = 0; i < 6; i++) {
        caps[i].key = amqp_cstring_bytes (names[i]);
        caps[i].value.kind = AMQP_FIELD_KIND_BOOLEAN;
        caps[i].value.value.boolean = 1;
    }
    char version[32];
    snprintf (version, sizeof version, "%d.%d.%d", MESHQ_VERSION_MAJOR,
              MESHQ_VERSION_MINOR, MESHQ_VERSION_PATCH);
    amqp_table_entry_t props[5];
    props[0].key = amqp_cstring_bytes ("product");
    props[0].value.kind = AMQP_FIELD_KIND_UTF8;
    props[0].value.value.bytes = amqp_cstring_bytes ("meshq");
    props[1].key = amqp_cstring_bytes ("version");
    props[1].value.kind = AMQP_FIELD_KIND_UTF8;
    props[1].value.value.bytes = amqp_cstring_bytes (version);
    props[2].key = amqp_cstring_bytes ("platform");
    props[2].value.kind = AMQP_FIELD_KIND_UTF8;
    props[2].value.value.bytes = amqp_cstring_bytes ("C");
    props[3].key = amqp_cstring_bytes ("cluster_name");
    props[3].value.kind = AMQP_FIELD_KIND_UTF8;
    props[3].value.value.bytes = amqp_cstring_bytes (conn->engine->config.name);
    props[4].key = amqp_cstring_bytes ("capabilities");
    props[4].value.kind = AMQP_FIELD_KIND_TABLE;
    props[4].value.value.table.num_entries = 6;
    props[4].value.value.table.entries = caps;
    amqp_connection_start_t start = {.version_major = 0,
                                     .version_minor = 9,
                                     .server_properties = {5, props},
                                     .mechanisms =
                                         amqp_cstring_bytes ("PLAIN AMQPLAIN"),
                                     .locales = amqp_cstring_bytes ("en_US")};
    meshq_amqp_send_method (conn, 0, AMQP_CONNECTION_START_METHOD, &start);
    conn->state = MESHQ_AMQP_START_OK;
}

//  The string value of key in table, or an empty span.
static amqp_bytes_t
s_table_string (const amqp_table_t *table, const char *key)
{
    for (int i = 0; i < table->num_entries; i++) {
        const amqp_table_entry_t *entry = &table->entries[i];
        if (entry->key.len == strlen (key) &&
            memcmp (entry->key.bytes, key, entry->key.len) == 0 &&
            (entry->value.kind == AMQP_FIELD_KIND_UTF8 ||
             entry->value.kind == AMQP_FIELD_KIND_BYTES))
            return entry->value.value.bytes;
    }
    return amqp_empty_bytes;
}

//  True if the client's capabilities say it takes Connection.Blocked.
static bool
s_can_block (const amqp_table_t *properties)
{
    for (int i = 0; i < properties->num_entries; i++) {
        const amqp_table_entry_t *entry = &properties->entries[i];
        if (entry->value.kind != AMQP_FIELD_KIND_TABLE ||
            entry->key.len != 12 ||
            memcmp (entry->key.bytes, "capabilities", 12))
            continue;
        const amqp_table_t *caps = &entry->value.value.table;
        for (int j = 0; j < caps->num_entries; j++)
            if (caps->entries[j].key.len == 18 &&
                memcmp (caps->entries[j].key.bytes, "connection.blocked", 18) ==
                    0 &&
                caps->entries[j].value.kind == AMQP_FIELD_KIND_BOOLEAN)
                return caps->entries[j].value.value.boolean;
    }
    return false;
}

//  The user and password of a PLAIN response (authzid NUL user NUL
//  password); false if it is not one.
static bool
s_plain (amqp_bytes_t response, amqp_bytes_t *user, amqp_bytes_t *password)
{
    const uint8_t *r = response.bytes;
    size_t n = response.len;
    const uint8_t *first = n ? memchr (r, 0, n) : NULL;
    const uint8_t *second =
        first ? memchr (first + 1, 0, n - (size_t)(first + 1 - r)) : NULL;
    if (!second)
        return false;
    user->bytes = (void *)(first + 1);
    user->len = (size_t)(second - first - 1);
    password->bytes = (void *)(second + 1);
    password->len = n - (size_t)(second + 1 - r);
    return true;
}

//  The LOGIN and PASSWORD of an AMQPLAIN response (a field table without
//  its size), copied out; false if it is not one. The table is walked
//  (bounded) before rabbitmq-c decodes it.
static bool
s_amqplain (amqp_bytes_t response, char *user, size_t user_size, char *password,
            size_t password_size, size_t *password_len)
{
    size_t n = response.len;
    uint8_t *framed = malloc (n + 4);
    assert (framed);
    framed[0] = (uint8_t)(n >> 24);
    framed[1] = (uint8_t)(n >> 16);
    framed[2] = (uint8_t)(n >> 8);
    framed[3] = (uint8_t)n;
    if (n)
        memcpy (framed + 4, response.bytes, n);
    amqp_pool_t pool;
    init_amqp_pool (&pool, 1024);
    amqp_table_t table = {0, NULL};
    size_t offset = 0;
    amqp_bytes_t encoded = {n + 4, framed};
    bool good = meshq_amqp_table_walk (framed, n + 4, MESHQ_AMQP_TABLE_DEPTH) ==
                    (ssize_t)(n + 4) &&
                amqp_decode_table (encoded, &pool, &table, &offset) == 0;
    if (good) {
        amqp_bytes_t tu = s_table_string (&table, "LOGIN");
        amqp_bytes_t tp = s_table_string (&table, "PASSWORD");
        good = tu.len < user_size && tp.len < password_size;
        if (good) {
            //  A missing or empty one has no bytes at all: memcpy from
            //  NULL is undefined even for 0 bytes.
            if (tu.len)
                memcpy (user, tu.bytes, tu.len);
            user[tu.len] = 0;
            if (tp.len)
                memcpy (password, tp.bytes, tp.len);
            *password_len = tp.len;
        }
    }
    empty_amqp_pool (&pool);
    free (framed);
    return good;
}

static void
s_start_ok (meshq_amqp_conn_t *conn, amqp_connection_start_ok_t *ok)
{
    conn->can_block = s_can_block (&ok->client_properties);
    char password[1024];
    size_t password_len = 0;
    amqp_bytes_t mechanism = ok->mechanism;
    if (mechanism.len == 5 && memcmp (mechanism.bytes, "PLAIN", 5) == 0) {
        amqp_bytes_t user, pw;
        if (!s_plain (ok->response, &user, &pw) ||
            user.len > MESHQ_MAX_SHORTSTR || pw.len >= sizeof password) {
            meshq_amqp_close (conn, AMQP_ACCESS_REFUSED,
                              AMQP_CONNECTION_START_OK_METHOD,
                              "PLAIN response is not authzid NUL user NUL "
                              "password");
            return;
        }
        memcpy (conn->user, user.bytes, user.len);
        conn->user[user.len] = 0;
        memcpy (password, pw.bytes, pw.len);
        password_len = pw.len;
    } else if (mechanism.len == 8 &&
               memcmp (mechanism.bytes, "AMQPLAIN", 8) == 0) {
        if (!s_amqplain (ok->response, conn->user, sizeof conn->user, password,
                         sizeof password, &password_len)) {
            meshq_amqp_close (conn, AMQP_ACCESS_REFUSED,
                              AMQP_CONNECTION_START_OK_METHOD,
                              "AMQPLAIN response is not a table with LOGIN "
                              "and PASSWORD");
            return;
        }
    } else {
        meshq_amqp_close (conn, AMQP_ACCESS_REFUSED,
                          AMQP_CONNECTION_START_OK_METHOD,
                          "unknown mechanism '%.*s' (PLAIN or AMQPLAIN)",
                          (int)(mechanism.len < 32 ? mechanism.len : 32),
                          (const char *)mechanism.bytes);
        return;
    }
    if (streq (conn->user, "guest") && !conn->loopback) {
        //  As RabbitMQ: the well-known password only works on loopback.
        conn->engine->auth_failures++;
        meshq_amqp_close (conn, AMQP_ACCESS_REFUSED,
                          AMQP_CONNECTION_START_OK_METHOD,
                          "user 'guest' can only connect via localhost");
        return;
    }
    s_ticket_t *ticket = malloc (sizeof *ticket);
    assert (ticket);
    ticket->conn = conn->id;
    zlistx_add_end (conn->listener->logins, ticket);
    conn->state = MESHQ_AMQP_LOGIN;
    //  Failures are counted against the client's host.
    char source[80];
    snprintf (source, sizeof source, "amqp:%s", conn->peer);
    *strrchr (source, ':') = 0;
    meshq_auth_login (conn->engine->auth, conn->user, password, password_len,
                      source, ticket);
    sodium_memzero (password, sizeof password);
}

bool
meshq_amqp_login_answer (meshq_engine_t *engine, void *ticket, int rc,
                         const char *why)
{
    meshq_amqp_listener_t *self = engine->amqp;
    void *handle = zlistx_find (self->logins, ticket);
    if (!handle)
        return false;
    zlistx_detach (self->logins, handle);
    uint64_t id = ((s_ticket_t *)ticket)->conn;
    free (ticket);
    meshq_amqp_conn_t *conn = zlistx_first (self->conns);
    while (conn && conn->id != id)
        conn = zlistx_next (self->conns);
    if (!conn || conn->dead || conn->state != MESHQ_AMQP_LOGIN)
        return true;  //  Gone meanwhile.
    if (rc) {
        meshq_amqp_close (conn, AMQP_ACCESS_REFUSED,
                          AMQP_CONNECTION_START_OK_METHOD,
                          "login refused for user '%s': %s", conn->user, why);
        return true;
    }
    amqp_connection_tune_t tune = {.channel_max = MESHQ_AMQP_CHANNEL_MAX,
                                   .frame_max = MESHQ_AMQP_FRAME_MAX,
                                   .heartbeat = MESHQ_AMQP_HEARTBEAT_S};
    meshq_amqp_send_method (conn, 0, AMQP_CONNECTION_TUNE_METHOD, &tune);
    conn->state = MESHQ_AMQP_TUNE_OK;
    return true;
}

static void
s_tune_ok (meshq_amqp_conn_t *conn, amqp_connection_tune_ok_t *ok)
{
    if (ok->frame_max > MESHQ_AMQP_FRAME_MAX ||
        meshq_amqp_parser_set_frame_max (conn->parser, ok->frame_max)) {
        meshq_amqp_close (conn, AMQP_NOT_ALLOWED,
                          AMQP_CONNECTION_TUNE_OK_METHOD,
                          "frame_max %u is outside %u..%u", ok->frame_max,
                          MESHQ_AMQP_FRAME_MIN, MESHQ_AMQP_FRAME_MAX);
        return;
    }
    if (ok->channel_max > MESHQ_AMQP_CHANNEL_MAX) {
        meshq_amqp_close (conn, AMQP_NOT_ALLOWED,
                          AMQP_CONNECTION_TUNE_OK_METHOD,
                          "channel_max %u is above %u", ok->channel_max,
                          MESHQ_AMQP_CHANNEL_MAX);
        return;
    }
    conn->frame_max = meshq_amqp_parser_frame_max (conn->parser);
    conn->channel_max =
        ok->channel_max ? ok->channel_max : MESHQ_AMQP_CHANNEL_MAX;
    conn->heartbeat = ok->heartbeat;
    conn->channels =
        calloc ((size_t)conn->channel_max + 1, sizeof *conn->channels);
    assert (conn->channels);
    conn->state = MESHQ_AMQP_OPEN;
}

static void
s_open (meshq_amqp_conn_t *conn, amqp_connection_open_t *open)
{
    meshq_engine_t *engine = conn->engine;
    if (open->virtual_host.len > MESHQ_MAX_SHORTSTR) {
        meshq_amqp_close (conn, AMQP_NOT_ALLOWED, AMQP_CONNECTION_OPEN_METHOD,
                          "vhost name too long");
        return;
    }
    memcpy (conn->vhost, open->virtual_host.bytes, open->virtual_host.len);
    conn->vhost[open->virtual_host.len] = 0;
    if (!*conn->vhost)
        snprintf (conn->vhost, sizeof conn->vhost, "/");
    meshq_vhost_t *vhost = zhashx_lookup (engine->vhosts, conn->vhost);
    if (!vhost) {
        meshq_amqp_close (conn, AMQP_NOT_ALLOWED, AMQP_CONNECTION_OPEN_METHOD,
                          "vhost '%s' not found", conn->vhost);
        return;
    }
    if (!meshq_auth_may_enter (engine->auth, conn->user, conn->vhost)) {
        engine->auth_failures++;
        meshq_amqp_close (conn, AMQP_NOT_ALLOWED, AMQP_CONNECTION_OPEN_METHOD,
                          "access to vhost '%s' refused for user '%s'",
                          conn->vhost, conn->user);
        return;
    }
    conn->owner = meshq_engine_front_open (engine, &s_owner_front, conn,
                                           conn->user, vhost, NULL);
    amqp_connection_open_ok_t ok = {amqp_empty_bytes};
    meshq_amqp_send_method (conn, 0, AMQP_CONNECTION_OPEN_OK_METHOD, &ok);
    conn->state = MESHQ_AMQP_RUNNING;
    meshq_info ("amqp: connection opened peer=%s user=%s vhost=%s", conn->peer,
                conn->user, conn->vhost);
    if (engine->blocked)
        meshq_amqp_connection_blocked (conn, true, engine->blocked_why);
}

void
meshq_amqp_connection_event (meshq_amqp_conn_t *conn,
                             const meshq_amqp_event_t *event)
{
    if (event->type == MESHQ_AMQP_PROTOCOL_OK) {
        s_start (conn);
        return;
    }
    if (conn->state == MESHQ_AMQP_DONE)
        return;
    amqp_method_number_t id =
        event->type == MESHQ_AMQP_METHOD ? event->method.id : 0;
    void *decoded = event->method.decoded;
    if (conn->state == MESHQ_AMQP_CLOSING) {
        //  Only the end of the close counts now.
        if (id == AMQP_CONNECTION_CLOSE_OK_METHOD)
            conn->state = MESHQ_AMQP_DONE;
        else if (id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_ok_t ok = {0};
            meshq_amqp_send_method (conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD,
                                    &ok);
            conn->state = MESHQ_AMQP_DONE;
        }
        return;
    }
    if (event->type != MESHQ_AMQP_METHOD) {
        meshq_amqp_close (conn, AMQP_UNEXPECTED_FRAME, 0,
                          "content frame on channel %u before it is open",
                          event->channel);
        return;
    }
    if (event->channel != 0 && (conn->state != MESHQ_AMQP_RUNNING ||
                                (id >> 16) == AMQP_CONNECTION_CLASS)) {
        meshq_amqp_close (conn, AMQP_CHANNEL_ERROR, id, "%s on channel %u",
                          amqp_method_name (id), event->channel);
        return;
    }
    if (id == AMQP_CONNECTION_START_OK_METHOD &&
        conn->state == MESHQ_AMQP_START_OK)
        s_start_ok (conn, decoded);
    else if (id == AMQP_CONNECTION_TUNE_OK_METHOD &&
             conn->state == MESHQ_AMQP_TUNE_OK)
        s_tune_ok (conn, decoded);
    else if (id == AMQP_CONNECTION_OPEN_METHOD &&
             conn->state == MESHQ_AMQP_OPEN)
        s_open (conn, decoded);
    else if (id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_ok_t ok = {0};
        meshq_amqp_send_method (conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        conn->state = MESHQ_AMQP_DONE;
        conn->ending = true;
        meshq_amqp_defer (conn->listener);
    } else if ((id == AMQP_CONNECTION_BLOCKED_METHOD ||
                id == AMQP_CONNECTION_UNBLOCKED_METHOD) &&
               conn->state == MESHQ_AMQP_RUNNING)
        ;  //  A client blocked tells the server nothing it must do.
    else if ((id >> 16) == AMQP_CONNECTION_CLASS ||
             conn->state != MESHQ_AMQP_RUNNING)
        meshq_amqp_close (conn, AMQP_COMMAND_INVALID, id,
                          "%s is not expected now", amqp_method_name (id));
    else
        meshq_amqp_close (conn, AMQP_COMMAND_INVALID, id, "%s on channel 0",
                          amqp_method_name (id));
}
