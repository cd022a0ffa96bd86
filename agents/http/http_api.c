/*  http_api.c - the JSON API, in the spirit of RabbitMQ's management
    API: /api/overview, /api/nodes, /api/queues, /api/queues/VHOST/NAME,
    /api/exchanges, /api/bindings, /api/consumers, /api/connections,
    /api/channels (who may do what: http_api_auth.c).
    Names in paths are percent-encoded ("/" is %2F), as there.

    /api/queues and /api/queues/VHOST/NAME are mesh-wide ("view":
    "mesh"): gathered on demand from the agents that hold part of the
    queues, as LIST_QUEUES is (agent_lists_mesh.c), then written here by
    meshq_http_api_gathered, with the agents that did not answer. With
    ?local=true, a queue is shown as this agent knows it: its own part,
    and the parts other agents told it of, with the totals; "view":
    "agent" says so (docs/OPERATIONS.md, decision 0026).
*/
#include "agent_gather.h"
#include "http_render.h"
#include "http_text.h"
#include "peers.h"

#include <ctype.h>

//  Decodes %XX escapes of text into out (at most size - 1 bytes).
//  Returns false if an escape is malformed or it does not fit.
static bool
s_unescape (const char *text, size_t length, char *out, size_t size)
{
    size_t used = 0;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (c == '%') {
            if (i + 2 >= length || !isxdigit ((unsigned char)text[i + 1]) ||
                !isxdigit ((unsigned char)text[i + 2]))
                return false;
            char hex[3] = {text[i + 1], text[i + 2], 0};
            c = (char)strtol (hex, NULL, 16);
            i += 2;
        }
        if (used + 1 >= size)
            return false;
        out[used++] = c;
    }
    out[used] = 0;
    return true;
}

//  Whether a vhost is shown to the user only (NULL: to anyone).
static bool
s_shown (meshq_engine_t *self, const meshq_vhost_t *vhost, const char *only)
{
    return !only || meshq_auth_may_enter (self->auth, only, vhost->name);
}

static void
s_queue (meshq_engine_t *self, meshq_vhost_t *vhost, meshq_queue_t *queue,
         meshq_buf_t *out)
{
    const meshq_queue_args_t *args = meshq_queue_args (queue);
    meshq_queue_totals_t totals;
    meshq_queue_totals (queue, &totals);
    //  Its parts on other agents, as this one knows them.
    size_t capacity = 4, count = 0;
    meshq_args_t *rows = calloc (capacity, sizeof *rows);
    assert (rows);
    meshq_engine_mesh_rows (self, queue, &rows, &count, &capacity);
    uint64_t ready = meshq_queue_ready (queue);
    uint64_t unacked = meshq_queue_unacked (queue);
    uint64_t consumers = meshq_queue_local_consumers (queue);
    uint64_t all_ready = ready, all_unacked = unacked,
             all_consumers = consumers;
    for (size_t i = 0; i < count; i++) {
        all_ready += rows[i].messages;
        all_unacked += rows[i].unacked;
        all_consumers += rows[i].consumers;
    }
    meshq_text_str (out, "{");
    meshq_text_key (out, "name", true);
    meshq_text_json_str (out, meshq_queue_name (queue));
    meshq_text_key_str (out, "vhost", vhost->name);
    meshq_text_key_str (out, "node", self->config.name);
    meshq_text_key_str (out, "view", "agent");
    meshq_text_key_bool (out, "durable", args->durable);
    meshq_text_key_bool (out, "exclusive", args->exclusive);
    meshq_text_key_bool (out, "auto_delete", args->auto_delete);
    meshq_text_key_u64 (out, "messages", all_ready + all_unacked);
    meshq_text_key_u64 (out, "messages_ready", all_ready);
    meshq_text_key_u64 (out, "messages_unacknowledged", all_unacked);
    meshq_text_key_u64 (out, "consumers", all_consumers);
    meshq_text_key_u64 (out, "message_bytes", meshq_queue_ready_bytes (queue));
    meshq_text_key (out, "message_stats", false);
    meshq_text_str (out, "{");
    meshq_text_key (out, "publish", true);
    meshq_text_u64 (out, totals.published);
    meshq_text_key_u64 (out, "deliver", totals.delivered);
    meshq_text_key_u64 (out, "ack", totals.acked);
    meshq_text_key_u64 (out, "publish_rate",
                        (uint64_t)meshq_queue_publish_rate (queue));
    meshq_text_key_u64 (out, "deliver_rate",
                        (uint64_t)meshq_queue_deliver_rate (queue));
    meshq_text_str (out, "}");
    meshq_text_key (out, "parts", false);
    meshq_text_str (out, "[{");
    meshq_text_key (out, "node", true);
    meshq_text_json_str (out, self->config.name);
    meshq_text_key_u64 (out, "messages_ready", ready);
    meshq_text_key_u64 (out, "messages_unacknowledged", unacked);
    meshq_text_key_u64 (out, "consumers", consumers);
    meshq_text_str (out, "}");
    for (size_t i = 0; i < count; i++) {
        meshq_text_str (out, ",{");
        meshq_text_key (out, "node", true);
        meshq_text_json (out, rows[i].name.data, rows[i].name.size);
        meshq_text_key_u64 (out, "messages_ready", rows[i].messages);
        meshq_text_key_u64 (out, "messages_unacknowledged", rows[i].unacked);
        meshq_text_key_u64 (out, "consumers", rows[i].consumers);
        meshq_text_str (out, "}");
    }
    meshq_text_str (out, "]}");
    free (rows);
}

static void
s_queues (meshq_engine_t *self, const char *only, meshq_buf_t *out)
{
    meshq_text_str (out, "[");
    bool first = true;
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        if (!s_shown (self, vhost, only))
            continue;
        meshq_queue_t *queue = zhashx_first (vhost->queues);
        for (; queue; queue = zhashx_next (vhost->queues)) {
            if (!first)
                meshq_text_str (out, ",");
            first = false;
            s_queue (self, vhost, queue, out);
        }
    }
    meshq_text_str (out, "]");
}

static void
s_exchanges (meshq_engine_t *self, const char *only, bool bindings,
             meshq_buf_t *out)
{
    meshq_text_str (out, "[");
    bool first = true;
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        if (!s_shown (self, vhost, only))
            continue;
        meshq_exchange_t *exchange = zhashx_first (vhost->exchanges);
        for (; exchange; exchange = zhashx_next (vhost->exchanges)) {
            const char *name = meshq_exchange_name (exchange);
            if (!bindings) {
                meshq_text_str (out, first ? "{" : ",{");
                first = false;
                meshq_text_key (out, "name", true);
                meshq_text_json_str (out, name);
                meshq_text_key_str (out, "vhost", vhost->name);
                meshq_text_key_str (
                    out, "type",
                    meshq_exchange_type_name (meshq_exchange_type (exchange)));
                meshq_text_key_bool (out, "durable",
                                     meshq_exchange_durable (exchange));
                meshq_text_str (out, "}");
                continue;
            }
            const meshq_binding_t *binding = meshq_exchange_bindings (exchange);
            for (; binding; binding = binding->next) {
                meshq_text_str (out, first ? "{" : ",{");
                first = false;
                meshq_text_key (out, "source", true);
                meshq_text_json_str (out, name);
                meshq_text_key_str (out, "vhost", vhost->name);
                meshq_text_key_str (out, "destination",
                                    meshq_queue_name (binding->queue));
                meshq_text_key_str (out, "destination_type", "queue");
                meshq_text_key_str (out, "routing_key", binding->key);
                meshq_text_str (out, "}");
            }
        }
    }
    meshq_text_str (out, "]");
}

typedef enum { S_CONNECTIONS, S_CHANNELS, S_CONSUMERS } s_sessions_t;

static void
s_sessions (meshq_engine_t *self, const char *only, s_sessions_t what,
            meshq_buf_t *out)
{
    meshq_text_str (out, "[");
    bool first = true;
    meshq_session_t *session = zhashx_first (self->sessions);
    for (; session; session = zhashx_next (self->sessions)) {
        if (session->peer || !s_shown (self, session->vhost, only))
            continue;
        char id[33];
        meshq_hex16 (session->id, id);
        uint64_t unconfirmed =
            session->pending ? session->pending_tail->seq - session->confirmed
                             : 0;
        if (what == S_CHANNELS) {
            //  A session is one channel of its own connection.
            meshq_text_str (out, first ? "{" : ",{");
            first = false;
            meshq_text_key (out, "name", true);
            meshq_text_json_str (out, id);
            meshq_text_key (out, "connection_details", false);
            meshq_text_str (out, "{");
            meshq_text_key (out, "name", true);
            meshq_text_json_str (out, id);
            meshq_text_str (out, "}");
            meshq_text_key_u64 (out, "number", 1);
            meshq_text_key_str (out, "user", session->user);
            meshq_text_key_str (out, "vhost", session->vhost->name);
            meshq_text_key_str (out, "node", self->config.name);
            meshq_text_key_u64 (out, "consumer_count",
                                zlistx_size (session->consumers));
            meshq_text_key_u64 (out, "messages_unconfirmed", unconfirmed);
            meshq_text_str (out, "}");
            continue;
        }
        if (what == S_CONNECTIONS) {
            meshq_text_str (out, first ? "{" : ",{");
            first = false;
            meshq_text_key (out, "name", true);
            meshq_text_json_str (out, id);
            meshq_text_key_str (out, "user", session->user);
            meshq_text_key_str (out, "vhost", session->vhost->name);
            meshq_text_key_str (out, "node", self->config.name);
            meshq_text_key_u64 (out, "consumers",
                                zlistx_size (session->consumers));
            meshq_text_key_u64 (out, "heartbeat_ms",
                                (uint64_t)session->heartbeat_ms);
            meshq_text_key_u64 (out, "unconfirmed", unconfirmed);
            meshq_text_str (out, "}");
            continue;
        }
        meshq_consumer_t *consumer = zlistx_first (session->consumers);
        for (; consumer; consumer = zlistx_next (session->consumers)) {
            meshq_text_str (out, first ? "{" : ",{");
            first = false;
            meshq_text_key (out, "consumer_tag", true);
            meshq_text_json_str (out, consumer->tag);
            meshq_text_key_str (out, "queue",
                                meshq_queue_name (consumer->queue));
            meshq_text_key_str (out, "vhost", session->vhost->name);
            meshq_text_key_str (out, "connection", id);
            meshq_text_key_str (out, "user", session->user);
            meshq_text_key_u64 (out, "prefetch_count", consumer->prefetch);
            meshq_text_key_u64 (out, "unacked", consumer->unacked);
            meshq_text_key_bool (out, "exclusive", consumer->exclusive);
            meshq_text_key_bool (out, "ack_required", !consumer->no_ack);
            meshq_text_str (out, "}");
        }
    }
    meshq_text_str (out, "]");
}

static void
s_nodes (meshq_engine_t *self, meshq_buf_t *out)
{
    meshq_text_str (out, "[{");
    meshq_text_key (out, "name", true);
    meshq_text_json_str (out, self->config.name);
    meshq_text_key_str (out, "node", self->node_hex);
    meshq_text_key_str (out, "state", "up");
    meshq_text_key_bool (out, "self", true);
    meshq_text_key_u64 (out, "mem_used", self->memory);
    meshq_text_key_u64 (out, "mem_limit", self->config.max_memory);
    meshq_text_key_bool (out, "blocked", self->blocked);
    meshq_text_key_u64 (out, "uptime",
                        (uint64_t)(zclock_mono () - self->started));
    meshq_text_str (out, "}");
    //  The peers of the default vhost's mesh: the mesh as seen here.
    meshq_peers_t *peers = self->root ? self->root->peers : NULL;
    const meshq_peer_info_t *peer = peers ? meshq_peers_first (peers) : NULL;
    for (; peer; peer = meshq_peers_next (peers)) {
        meshq_text_str (out, ",{");
        meshq_text_key (out, "name", true);
        meshq_text_json_str (out, peer->name);
        meshq_text_key_str (out, "node", peer->id_hex);
        meshq_text_key_str (out, "state", peer->state);
        meshq_text_key_bool (out, "self", false);
        meshq_text_key_str (out, "endpoint",
                            peer->endpoint ? peer->endpoint : "");
        meshq_text_key_str (out, "reason", peer->reason ? peer->reason : "");
        meshq_text_key_u64 (out, "last_seen_ms", peer->last_seen_ms);
        meshq_text_str (out, "}");
    }
    meshq_text_str (out, "]");
}

static void
s_overview (meshq_engine_t *self, const char *only, meshq_buf_t *out)
{
    uint64_t ready = 0, unacked = 0, queues = 0, exchanges = 0;
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        if (!s_shown (self, vhost, only))
            continue;
        exchanges += zhashx_size (vhost->exchanges);
        meshq_queue_t *queue = zhashx_first (vhost->queues);
        for (; queue; queue = zhashx_next (vhost->queues)) {
            queues++;
            ready += meshq_queue_ready (queue);
            unacked += meshq_queue_unacked (queue);
        }
    }
    uint64_t connections = 0, consumers = 0;
    meshq_session_t *session = zhashx_first (self->sessions);
    for (; session; session = zhashx_next (self->sessions))
        if (!session->peer && s_shown (self, session->vhost, only)) {
            connections++;
            consumers += zlistx_size (session->consumers);
        }
    char version[32];
    snprintf (version, sizeof version, "%d.%d.%d", MESHQ_VERSION_MAJOR,
              MESHQ_VERSION_MINOR, MESHQ_VERSION_PATCH);
    meshq_text_str (out, "{");
    meshq_text_key (out, "node", true);
    meshq_text_json_str (out, self->config.name);
    meshq_text_key_str (out, "node_id", self->node_hex);
    meshq_text_key_str (out, "meshq_version", version);
    meshq_text_key_str (
        out, "mesh",
        self->config.mesh
            ? (*self->config.mesh_name ? self->config.mesh_name : "default")
            : "");
    meshq_text_key_u64 (out, "uptime",
                        (uint64_t)(zclock_mono () - self->started));
    meshq_text_key (out, "queue_totals", false);
    meshq_text_str (out, "{");
    meshq_text_key (out, "messages", true);
    meshq_text_u64 (out, ready + unacked);
    meshq_text_key_u64 (out, "messages_ready", ready);
    meshq_text_key_u64 (out, "messages_unacknowledged", unacked);
    meshq_text_str (out, "}");
    meshq_text_key (out, "object_totals", false);
    meshq_text_str (out, "{");
    meshq_text_key (out, "queues", true);
    meshq_text_u64 (out, queues);
    meshq_text_key_u64 (out, "exchanges", exchanges);
    meshq_text_key_u64 (out, "connections", connections);
    meshq_text_key_u64 (out, "consumers", consumers);
    meshq_text_str (out, "}");
    meshq_text_key (out, "message_stats", false);
    meshq_text_str (out, "{");
    meshq_text_key (out, "publish", true);
    meshq_text_u64 (out, self->published);
    meshq_text_key_u64 (out, "deliver", self->delivered);
    meshq_text_key_u64 (out, "ack", self->acked);
    meshq_text_str (out, "}");
    meshq_text_key_bool (out, "blocked", self->blocked);
    meshq_text_key_u64 (out, "mem_used", self->memory);
    meshq_text_key_u64 (out, "mem_limit", self->config.max_memory);
    meshq_text_str (out, "}");
}

int
meshq_http_api_split (const char *rest, char *vhost, size_t vhost_size,
                      char *name, size_t name_size)
{
    const char *slash = strchr (rest, '/');
    if (!slash ||
        !s_unescape (rest, (size_t)(slash - rest), vhost, vhost_size) ||
        !s_unescape (slash + 1, strlen (slash + 1), name, name_size))
        return -1;
    return 0;
}

//  /api/queues/VHOST/NAME
static unsigned
s_one_queue (meshq_engine_t *self, const char *rest, const char *only,
             meshq_buf_t *out)
{
    char vhost_name[MESHQ_MAX_SHORTSTR + 1], name[MESHQ_MAX_SHORTSTR + 1];
    if (meshq_http_api_split (rest, vhost_name, sizeof vhost_name, name,
                              sizeof name)) {
        meshq_text_str (out, "use /api/queues/VHOST/NAME, percent-encoded "
                             "(the vhost / is %2F)\n");
        return 404;
    }
    meshq_vhost_t *vhost = zhashx_lookup (self->vhosts, vhost_name);
    meshq_queue_t *queue = vhost && s_shown (self, vhost, only)
                               ? zhashx_lookup (vhost->queues, name)
                               : NULL;
    if (!queue) {
        meshq_text_printf (out, "no queue '%s' in vhost '%s' on this agent\n",
                           name, vhost_name);
        return 404;
    }
    s_queue (self, vhost, queue, out);
    return 200;
}

//  The agents whose parts are missing from view, and why.
static void
s_unanswered (const meshq_gather_view_t *view, meshq_buf_t *out)
{
    meshq_text_key (out, "unanswered", false);
    meshq_text_str (out, "[");
    bool first = true;
    for (size_t i = 0; i < view->asked_count; i++) {
        const meshq_gather_asked_t *asked = &view->asked[i];
        if (!asked->why)
            continue;
        meshq_text_str (out, first ? "{" : ",{");
        first = false;
        meshq_text_key (out, "name", true);
        meshq_text_json_str (out, asked->name);
        meshq_text_key_str (out, "node", asked->hex);
        meshq_text_key_str (out, "why", asked->why);
        meshq_text_str (out, "}");
    }
    meshq_text_str (out, "]");
}

//  One queue of a mesh-wide view: its totals, and its part on each agent.
static void
s_gathered_queue (meshq_engine_t *self, const meshq_gather_view_t *view,
                  const meshq_gather_row_t *row, meshq_buf_t *out)
{
    const meshq_args_t *total = &row->args;
    meshq_text_str (out, "{");
    meshq_text_key (out, "name", true);
    meshq_text_json_str (out, row->name);
    meshq_text_key_str (out, "vhost", row->vhost);
    meshq_text_key_str (out, "node", self->config.name);
    meshq_text_key_str (out, "view", "mesh");
    meshq_text_key_bool (out, "durable", total->durable);
    meshq_vhost_t *vhost = zhashx_lookup (self->vhosts, row->vhost);
    meshq_queue_t *queue =
        vhost ? zhashx_lookup (vhost->queues, row->name) : NULL;
    const meshq_queue_args_t *args = queue ? meshq_queue_args (queue) : NULL;
    meshq_text_key_bool (out, "exclusive", args && args->exclusive);
    meshq_text_key_bool (out, "auto_delete", args && args->auto_delete);
    meshq_text_key_u64 (out, "messages", total->messages + total->unacked);
    meshq_text_key_u64 (out, "messages_ready", total->messages);
    meshq_text_key_u64 (out, "messages_unacknowledged", total->unacked);
    meshq_text_key_u64 (out, "consumers", total->consumers);
    meshq_text_key_u64 (out, "message_bytes", total->bytes);
    meshq_text_key_u64 (out, "agents", total->agents);
    meshq_text_key (out, "message_stats", false);
    meshq_text_str (out, "{");
    meshq_text_key (out, "publish_rate", true);
    meshq_text_u64 (out, (uint64_t)total->publish_rate);
    meshq_text_key_u64 (out, "deliver_rate", (uint64_t)total->deliver_rate);
    meshq_text_str (out, "}");
    meshq_text_key (out, "parts", false);
    meshq_text_str (out, "[");
    for (size_t i = 0; i < row->part_count; i++) {
        const meshq_gather_part_t *part = &row->parts[i];
        meshq_text_str (out, i ? ",{" : "{");
        meshq_text_key (out, "node", true);
        meshq_text_json_str (out, part->who < view->asked_count
                                      ? view->asked[part->who].name
                                      : self->config.name);
        meshq_text_key_u64 (out, "messages_ready", part->ready);
        meshq_text_key_u64 (out, "messages_unacknowledged", part->unacked);
        meshq_text_key_u64 (out, "consumers", part->consumers);
        meshq_text_key_u64 (out, "message_bytes", part->bytes);
        meshq_text_str (out, "}");
    }
    meshq_text_str (out, "]");
    s_unanswered (view, out);
    meshq_text_str (out, "}");
}

unsigned
meshq_http_api_gathered (meshq_engine_t *self, const meshq_gather_view_t *view,
                         const char *vhost, const char *name, meshq_buf_t *out)
{
    if (vhost) {
        const meshq_gather_row_t *row = zhashx_first (view->rows);
        while (row && !(streq (row->vhost, vhost) && streq (row->name, name)))
            row = zhashx_next (view->rows);
        if (!row) {
            meshq_text_printf (out, "no queue '%s' in vhost '%s'\n", name,
                               vhost);
            return 404;
        }
        s_gathered_queue (self, view, row, out);
        return 200;
    }
    meshq_text_str (out, "[");
    bool first = true;
    for (const meshq_gather_row_t *row = zhashx_first (view->rows); row;
         row = zhashx_next (view->rows)) {
        if (!first)
            meshq_text_str (out, ",");
        first = false;
        s_gathered_queue (self, view, row, out);
    }
    meshq_text_str (out, "]");
    return 200;
}

unsigned
meshq_http_api (meshq_engine_t *self, const char *path, const char *user,
                const char *only, meshq_buf_t *out)
{
    unsigned status = meshq_http_api_auth (self, path, user, only, out);
    if (status)
        return status;
    if (streq (path, "/api/overview"))
        s_overview (self, only, out);
    else if (streq (path, "/api/nodes"))
        s_nodes (self, out);
    else if (streq (path, "/api/queues") || streq (path, "/api/queues/"))
        s_queues (self, only, out);
    else if (strncmp (path, "/api/queues/", 12) == 0)
        return s_one_queue (self, path + 12, only, out);
    else if (streq (path, "/api/exchanges"))
        s_exchanges (self, only, false, out);
    else if (streq (path, "/api/bindings"))
        s_exchanges (self, only, true, out);
    else if (streq (path, "/api/consumers"))
        s_sessions (self, only, S_CONSUMERS, out);
    else if (streq (path, "/api/connections"))
        s_sessions (self, only, S_CONNECTIONS, out);
    else if (streq (path, "/api/channels"))
        s_sessions (self, only, S_CHANNELS, out);
    else {
        meshq_text_str (out, "not found; this agent serves /metrics, "
                             "/api/overview, /api/nodes, /api/queues, "
                             "/api/queues/VHOST/NAME, /api/exchanges, "
                             "/api/bindings, /api/consumers, "
                             "/api/connections, /api/channels, "
                             "/api/vhosts, /api/whoami, /api/users and "
                             "/api/permissions\n");
        return 404;
    }
    return 200;
}
