/*  client_table.c - the tables of meshq_admin.h: the agent's rows of
    arguments turned into named columns, and the columns of each list.

    A list's rows arrive as argument maps (docs/PROTOCOL.md, 3.3); each
    list names which arguments are its columns, under the names
    rabbitmqctl gives them. A table owns copies of its values, so it
    outlives the reply it was made from.
*/
#include "client_table.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _meshq_table_t {
    const meshq_table_column_t *columns;  //  Column definitions.
    size_t column_count;                  //  How many.
    size_t row_count;                     //  Rows.
    char **text;                          //  row * columns + column.
    uint64_t *numbers;                    //  The same, as numbers.
    char *unanswered;                     //  Agents missing, or "".
};

#define S_COL(name, ID, member, kind, shown)                                   \
    {                                                                          \
        name, MESHQ_A_##ID, offsetof (meshq_args_t, member), kind, shown       \
    }
#define S_END                                                                  \
    {                                                                          \
        NULL, 0, 0, 0, false                                                   \
    }

//  Counted, by rule not by ack, per reason.
#define S_DISPOSED(shown)                                                      \
    S_COL ("disposed_expired", DISPOSED_EXPIRED, disposed_expired, 'u',        \
           shown),                                                             \
        S_COL ("disposed_maxlen", DISPOSED_MAXLEN, disposed_maxlen, 'u',       \
               shown),                                                         \
        S_COL ("disposed_rejected", DISPOSED_REJECTED, disposed_rejected, 'u', \
               shown),                                                         \
        S_COL ("disposed_delivery_limit", DISPOSED_LIMIT, disposed_limit, 'u', \
               shown),                                                         \
        S_COL ("disposed_dedup", DISPOSED_DEDUP, disposed_dedup, 'u', shown)

//  Mesh-wide: one row per queue, the totals of every agent's part.
//  'messages' is ready plus unacknowledged, as in rabbitmqctl.
static const meshq_table_column_t s_queues[] = {
    S_COL ("name", QUEUE, queue, 's', true),
    S_COL ("messages", MESSAGES, messages, 't', true),
    S_COL ("messages_ready", MESSAGES, messages, 'u', true),
    S_COL ("messages_unacknowledged", UNACKED, unacked, 'u', true),
    S_COL ("message_bytes", BYTES, bytes, 'B', true),
    S_COL ("message_bytes_ready", BYTES, bytes, 'u', false),
    S_COL ("message_bytes_unacknowledged", UNACKED_BYTES, unacked_bytes, 'u',
           false),
    S_COL ("consumers", CONSUMERS, consumers, 'u', true),
    S_COL ("durable", DURABLE, durable, 'b', true),
    S_COL ("publish_rate", PUBLISH_RATE, publish_rate, 'u', true),
    S_COL ("deliver_rate", DELIVER_RATE, deliver_rate, 'u', true),
    S_COL ("agents", AGENTS, agents, 'u', true),
    S_COL ("mean_wait_ms", DELIVER_RATE, deliver_rate, 'W', false),
    S_COL ("quarantined", QUARANTINED, quarantined, 'u', false),
    S_DISPOSED (false),
    S_END};

//  This agent's part: 'mesh_ready' is the ready messages of the mesh
//  as the backlogs other agents announced say.
static const meshq_table_column_t s_local_queues[] = {
    S_COL ("name", QUEUE, queue, 's', true),
    S_COL ("node", NAME, name, 's', true),
    S_COL ("messages_ready", MESSAGES, messages, 'u', true),
    S_COL ("mesh_ready", MESH_READY, mesh_ready, 'u', true),
    S_COL ("messages_unacknowledged", UNACKED, unacked, 'u', true),
    S_COL ("consumers", CONSUMERS, consumers, 'u', true),
    S_COL ("publish_rate", PUBLISH_RATE, publish_rate, 'u', true),
    S_COL ("deliver_rate", DELIVER_RATE, deliver_rate, 'u', true),
    S_COL ("durable", DURABLE, durable, 'b', true),
    S_COL ("quarantined", QUARANTINED, quarantined, 'u', true),
    S_DISPOSED (true),
    S_COL ("messages", MESSAGES, messages, 't', false),
    S_COL ("message_bytes_ready", BYTES, bytes, 'u', false),
    S_END};

static const meshq_table_column_t s_exchanges[] = {
    S_COL ("name", EXCHANGE, exchange, 's', true),
    S_COL ("type", TYPE, type, 's', true),
    S_COL ("durable", DURABLE, durable, 'b', true), S_END};

static const meshq_table_column_t s_bindings[] = {
    S_COL ("source", EXCHANGE, exchange, 's', true),
    S_COL ("destination", QUEUE, queue, 's', true),
    S_COL ("routing_key", KEY, key, 's', true), S_END};

static const meshq_table_column_t s_consumers[] = {
    S_COL ("queue", QUEUE, queue, 's', true),
    S_COL ("consumer_tag", TAG, tag, 's', true),
    S_COL ("prefetch_count", PREFETCH, prefetch, 'u', true),
    S_COL ("unacknowledged", UNACKED, unacked, 'u', true),
    S_COL ("user", USER, user, 's', true),
    S_COL ("vhost", VHOST, vhost, 's', true),
    S_END};

//  Credit: what the peer granted us and we have not used; in flight:
//  our deliveries to it not yet settled.
static const meshq_table_column_t s_peers[] = {
    S_COL ("name", NAME, name, 's', true),
    S_COL ("state", STATE, state, 's', true),
    S_COL ("endpoint", ENDPOINT, endpoint, 's', true),
    S_COL ("credit", CREDIT, credit, 'u', true),
    S_COL ("in_flight", INFLIGHT, inflight, 'u', true),
    S_COL ("last_seen_ms", LAST_SEEN, last_seen, 'u', true),
    S_COL ("incarnation", INCARNATION, incarnation, 'u', true),
    S_COL ("member", MEMBER, member, 's', true),
    S_COL ("member_incarnation", MEMBER_INCARNATION, member_incarnation, 'u',
           true),
    S_COL ("member_version", MEMBER_VERSION, member_version, 'u', true),
    S_COL ("id", ID, id, 's', true),
    S_END};

//  A client session is a connection with one channel.
static const meshq_table_column_t s_connections[] = {
    S_COL ("name", ID, id, 's', true),
    S_COL ("user", USER, user, 's', true),
    S_COL ("vhost", VHOST, vhost, 's', true),
    S_COL ("protocol", PROTOCOL, protocol, 's', true),
    S_COL ("heartbeat_ms", HEARTBEAT, heartbeat, 'u', true),
    S_COL ("last_seen_ms", LAST_SEEN, last_seen, 'u', true),
    S_END};

static const meshq_table_column_t s_channels[] = {
    S_COL ("connection", ID, id, 's', true),
    S_COL ("user", USER, user, 's', true),
    S_COL ("vhost", VHOST, vhost, 's', true),
    S_COL ("consumer_count", CONSUMERS, consumers, 'u', true),
    S_COL ("messages_unacknowledged", UNACKED, unacked, 'u', true),
    S_COL ("prefetch_count", PREFETCH, prefetch, 'u', true),
    S_COL ("messages_unconfirmed", INFLIGHT, inflight, 'u', true),
    S_END};

static const meshq_table_column_t s_listeners[] = {
    S_COL ("protocol", PROTOCOL, protocol, 's', true),
    S_COL ("endpoint", ENDPOINT, endpoint, 's', true),
    S_COL ("vhost", VHOST, vhost, 's', true), S_END};

static const meshq_table_column_t s_users[] = {
    S_COL ("user", USER, user, 's', true),
    S_COL ("tags", TAGS, tags, 's', true), S_END};

static const meshq_table_column_t s_vhosts[] = {
    S_COL ("name", VHOST, vhost, 's', true), S_END};

static const meshq_table_column_t s_permissions[] = {
    S_COL ("user", USER, user, 's', true),
    S_COL ("configure", CONFIGURE, configure, 's', true),
    S_COL ("write", WRITE, write, 's', true),
    S_COL ("read", READ, read, 's', true), S_END};

static const meshq_table_column_t s_user_permissions[] = {
    S_COL ("vhost", VHOST, vhost, 's', true),
    S_COL ("configure", CONFIGURE, configure, 's', true),
    S_COL ("write", WRITE, write, 's', true),
    S_COL ("read", READ, read, 's', true), S_END};

static const meshq_table_column_t s_status[] = {
    S_COL ("name", NAME, name, 's', true),
    S_COL ("node", NODE, node, 's', true),
    S_COL ("version", VERSION, version, 's', true),
    S_COL ("vhost", VHOST, vhost, 's', true),
    S_COL ("mesh", MESH, mesh, 's', true),
    S_COL ("endpoint", ENDPOINT, endpoint, 's', true),
    S_COL ("http", HTTP, http, 's', true),
    S_COL ("metrics", METRICS, metrics, 's', true),
    S_COL ("amqp", AMQP, amqp, 's', true),
    S_COL ("peers", PEERS, peers, 'u', true),
    S_COL ("uptime_ms", UPTIME, uptime, 'u', true),
    S_COL ("messages", MESSAGES, messages, 'u', true),
    S_COL ("connections", CONSUMERS, consumers, 'u', true),
    S_COL ("memory", MEMORY, memory, 'u', true),
    S_COL ("max_memory", MAX_MEMORY, max_memory, 'u', true),
    S_COL ("store_bytes", STORE_BYTES, store_bytes, 'u', true),
    S_COL ("quota", QUOTA, quota, 'u', true),
    S_COL ("disk_free", DISK_FREE, disk_free, 'u', true),
    S_COL ("blocked", BLOCKED, blocked, 'b', true),
    S_COL ("blocked_reason", WHY, why, 's', true),
    S_COL ("alarms", ALARMS, alarms, 's', true),
    S_COL ("refused", REFUSED, refused, 'u', true),
    S_COL ("refused_password", REFUSED_PASSWORD, refused_password, 'u', true),
    S_COL ("refused_busy", REFUSED_BUSY, refused_busy, 'u', true),
    S_COL ("refused_throttled", REFUSED_THROTTLED, refused_throttled, 'u',
           true),
    S_COL ("dropped", DROPPED, dropped, 'u', true),
    S_COL ("quarantined", QUARANTINED, quarantined, 'u', true),
    S_COL ("bad_beacons", BAD_BEACONS, bad_beacons, 'u', true),
    S_COL ("bad_handshakes", BAD_HANDSHAKES, bad_handshakes, 'u', true),
    S_COL ("members", MEMBERS, members, 'u', true),
    S_COL ("suspects", SUSPECTS, suspects, 'u', true),
    S_COL ("health", HEALTH, health, 'u', true),
    S_COL ("members_full", MEMBERS_FULL, members_full, 'u', true),
    S_COL ("gossip_dropped", GOSSIP_DROPPED, gossip_dropped, 'u', true),
    S_COL ("answers_held", ANSWERS_HELD, answers_held, 'u', true),
    S_COL ("links", LINKS, links, 'u', true),
    S_COL ("links_peak", LINKS_PEAK, links_peak, 'u', true),
    S_COL ("max_links", MAX_LINKS, max_links, 'u', true),
    S_COL ("links_refused", LINKS_REFUSED, links_refused, 'u', true),
    S_COL ("links_evicted", LINKS_EVICTED, links_evicted, 'u', true),
    S_COL ("slow_clients", SLOW_CLIENTS, slow_clients, 'u', true),
    S_COL ("unsent", UNSENT, unsent, 'u', true),
    S_COL ("rss_kb", RSS, rss, 'u', true),
    S_COL ("rss_peak_kb", RSS_PEAK, rss_peak, 'u', true),
    S_COL ("rss_idle_kb", RSS_IDLE, rss_idle, 'u', true),
    S_COL ("stages", STAGES, stages, 's', false),
    S_DISPOSED (true),
    S_COL ("insecure", INSECURE, insecure, 'b', true),
    S_COL ("duplicate_names", DUP_NAMES, dup_names, 'u', true),
    S_END};

static const meshq_table_list_t s_lists[] = {
    {"queues", "LIST_QUEUES", "queues", s_queues},
    {"local_queues", "LIST_QUEUES", "queues", s_local_queues},
    {"exchanges", "LIST_EXCHANGES", "exchanges", s_exchanges},
    {"bindings", "LIST_BINDINGS", "bindings", s_bindings},
    {"consumers", "LIST_CONSUMERS", "consumers", s_consumers},
    {"peers", "LIST_PEERS", "peers", s_peers},
    {"connections", "LIST_CONNECTIONS", "connections", s_connections},
    {"channels", "LIST_CONNECTIONS", "connections", s_channels},
    {"listeners", "LIST_LISTENERS", "listeners", s_listeners},
    {"users", "LIST_USERS", "users", s_users},
    {"vhosts", "LIST_VHOSTS", "vhosts", s_vhosts},
    {"permissions", "LIST_PERMISSIONS", "permissions", s_permissions},
    {"user_permissions", "LIST_USER_PERMISSIONS", "permissions",
     s_user_permissions},
    {"status", "STATUS", NULL, s_status},
    {NULL, NULL, NULL, NULL}};

const meshq_table_list_t *
meshq_table_list (const char *what)
{
    for (int i = 0; what && s_lists[i].what; i++)
        if (strcmp (s_lists[i].what, what) == 0)
            return &s_lists[i];
    return NULL;
}

//  The text and number of a column in an argument row.
static void
s_cell (const meshq_table_column_t *column, const meshq_args_t *row,
        char **text, uint64_t *number)
{
    const void *member = (const char *)row + column->offset;
    bool present = (row->present >> column->arg) & 1;
    char buf[32];
    *number = 0;
    if (column->kind == 's') {
        const meshq_span_t *span = member;
        *text = present ? strndup (span->data ? span->data : "", span->size)
                        : strdup ("");
        assert (*text);
        return;
    }
    if (column->kind == 'u' && present)
        *number = *(const uint64_t *)member;
    else if (column->kind == 'b' && present)
        *number = *(const bool *)member;
    else if (column->kind == 't')
        *number = row->messages + row->unacked;
    else if (column->kind == 'B')
        *number = row->bytes + row->unacked_bytes;
    else if (column->kind == 'W') {
        //  Little's law: the mean time in the queue is its length over
        //  its throughput. Nothing delivered: no estimate, "".
        if (!row->deliver_rate) {
            *text = strdup ("");
            assert (*text);
            return;
        }
        *number = row->messages * 1000 / row->deliver_rate;
    }
    if (column->kind == 'b')
        snprintf (buf, sizeof buf, "%s", *number ? "true" : "false");
    else
        snprintf (buf, sizeof buf, "%" PRIu64, *number);
    *text = strdup (buf);
    assert (*text);
}

meshq_table_t *
meshq_table_new (const meshq_table_column_t *columns, const meshq_args_t *rows,
                 size_t count)
{
    meshq_table_t *self = calloc (1, sizeof *self);
    assert (self);
    self->columns = columns;
    while (columns[self->column_count].name)
        self->column_count++;
    self->row_count = count;
    size_t cells = count * self->column_count;
    self->text = calloc (cells + 1, sizeof *self->text);
    self->numbers = calloc (cells + 1, sizeof *self->numbers);
    assert (self->text && self->numbers);
    for (size_t r = 0; r < count; r++)
        for (size_t c = 0; c < self->column_count; c++) {
            size_t at = r * self->column_count + c;
            s_cell (&columns[c], &rows[r], &self->text[at], &self->numbers[at]);
        }
    self->unanswered = strdup ("");
    assert (self->unanswered);
    return self;
}

void
meshq_table_set_unanswered (meshq_table_t *self, const char *unanswered)
{
    free (self->unanswered);
    self->unanswered = strdup (unanswered);
    assert (self->unanswered);
}

void
meshq_table_destroy (meshq_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    meshq_table_t *self = *self_p;
    for (size_t i = 0; i < self->row_count * self->column_count; i++)
        free (self->text[i]);
    free (self->text);
    free (self->numbers);
    free (self->unanswered);
    free (self);
    *self_p = NULL;
}

size_t
meshq_table_rows (const meshq_table_t *self)
{
    assert (self);
    return self->row_count;
}

size_t
meshq_table_columns (const meshq_table_t *self)
{
    assert (self);
    return self->column_count;
}

const char *
meshq_table_column_name (const meshq_table_t *self, size_t column)
{
    assert (self);
    return column < self->column_count ? self->columns[column].name : "";
}

meshq_column_type_t
meshq_table_column_type (const meshq_table_t *self, size_t column)
{
    assert (self);
    if (column >= self->column_count)
        return MESHQ_COLUMN_STR;
    char kind = self->columns[column].kind;
    return kind == 's'   ? MESHQ_COLUMN_STR
           : kind == 'b' ? MESHQ_COLUMN_BOOL
                         : MESHQ_COLUMN_UINT;
}

bool
meshq_table_column_shown (const meshq_table_t *self, size_t column)
{
    assert (self);
    return column < self->column_count && self->columns[column].shown;
}

int
meshq_table_column_find (const meshq_table_t *self, const char *name)
{
    assert (self);
    for (size_t c = 0; name && c < self->column_count; c++)
        if (strcmp (self->columns[c].name, name) == 0)
            return (int)c;
    return -1;
}

const char *
meshq_table_str (const meshq_table_t *self, size_t row, size_t column)
{
    assert (self);
    if (row >= self->row_count || column >= self->column_count)
        return "";
    return self->text[row * self->column_count + column];
}

uint64_t
meshq_table_uint (const meshq_table_t *self, size_t row, size_t column)
{
    assert (self);
    if (row >= self->row_count || column >= self->column_count)
        return 0;
    return self->numbers[row * self->column_count + column];
}

bool
meshq_table_bool (const meshq_table_t *self, size_t row, size_t column)
{
    return meshq_table_uint (self, row, column) != 0;
}

const char *
meshq_table_unanswered (const meshq_table_t *self)
{
    assert (self);
    return self->unanswered;
}
