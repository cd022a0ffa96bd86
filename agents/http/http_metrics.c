/*  http_metrics.c - the agent's metrics in Prometheus's text format.

    Names follow Prometheus's conventions: meshq_ first, counters end in
    _total, times are _seconds, sizes _bytes. Per queue (labels vhost and
    queue): messages ready and unacked, their bytes, consumers, and the
    publish, delivery and ack counters, and the wait from queued to
    first delivery and to ack as summaries (sum and count: the mean wait
    T of Little's law); the same waits as histograms per agent, with
    publish to confirm and the store's fsyncs. Per agent: memory, the
    stores, peers, links, bad input and refused logins by reason, and
    whether publishers are blocked.

    Ten thousand queues make about 110,000 lines: each queue's labels
    are written once, and every line after that is copies and integer
    formatting, no printf (bench/metrics.c measures a scrape).
*/
#include "agent_mesh.h"
#include "http_render.h"
#include "http_text.h"
#include "peers.h"

#include <unistd.h>

//  A queue and where its labels are in the scratch buffer.
typedef struct {
    meshq_queue_t *queue;  //  The queue.
    size_t labels;         //  Offset of '{vhost="...",queue="..."}'.
    size_t size;           //  Its bytes.
} s_row_t;

static void
s_family (meshq_buf_t *out, const char *name, const char *type,
          const char *help)
{
    meshq_text_str (out, "# HELP ");
    meshq_text_str (out, name);
    meshq_text_str (out, " ");
    meshq_text_str (out, help);
    meshq_text_str (out, "\n# TYPE ");
    meshq_text_str (out, name);
    meshq_text_str (out, " ");
    meshq_text_str (out, type);
    meshq_text_str (out, "\n");
}

//  One sample: name, labels (with braces, or ""), value.
static void
s_sample (meshq_buf_t *out, const char *name, const char *labels,
          uint64_t value)
{
    meshq_text_str (out, name);
    meshq_text_str (out, labels);
    meshq_text_str (out, " ");
    meshq_text_u64 (out, value);
    meshq_text_str (out, "\n");
}

//  A family of one unlabelled sample.
static void
s_single (meshq_buf_t *out, const char *name, const char *type,
          const char *help, uint64_t value)
{
    s_family (out, name, type, help);
    s_sample (out, name, "", value);
}

//  A histogram of ours (hist.h); labels without braces, or "".
static void
s_histogram (meshq_buf_t *out, const char *name, const char *labels,
             const meshq_hist_t *hist)
{
    uint64_t cumulative = 0;
    for (int i = 0; i < MESHQ_HIST_BUCKETS; i++) {
        cumulative += hist->counts[i];
        meshq_text_str (out, name);
        meshq_text_str (out, "_bucket{");
        if (*labels) {
            meshq_text_str (out, labels);
            meshq_text_str (out, ",");
        }
        meshq_text_str (out, "le=\"");
        if (i < MESHQ_HIST_BOUNDS)
            meshq_text_seconds (out, meshq_hist_bounds_us[i]);
        else
            meshq_text_str (out, "+Inf");
        meshq_text_str (out, "\"} ");
        meshq_text_u64 (out, cumulative);
        meshq_text_str (out, "\n");
    }
    meshq_text_printf (out, "%s_sum%s%s%s ", name, *labels ? "{" : "", labels,
                       *labels ? "}" : "");
    meshq_text_seconds (out, hist->sum_us);
    meshq_text_printf (out, "\n%s_count%s%s%s ", name, *labels ? "{" : "",
                       labels, *labels ? "}" : "");
    meshq_text_u64 (out, hist->count);
    meshq_text_str (out, "\n");
}

//  The store's fsync histogram: bucket 0 under 16 us, bucket i up to
//  2^(i+4) us, the last one unbounded (store.h).
static void
s_fsyncs (meshq_buf_t *out, const char *vhost_labels,
          const meshq_store_stats_t *stats)
{
    uint64_t cumulative = 0;
    for (int i = 0; i < MESHQ_STORE_FSYNC_BUCKETS; i++) {
        cumulative += stats->fsync_hist[i];
        meshq_text_str (out, "meshq_store_fsync_seconds_bucket{");
        meshq_text_str (out, vhost_labels);
        meshq_text_str (out, ",le=\"");
        if (i < MESHQ_STORE_FSYNC_BUCKETS - 1)
            meshq_text_seconds (out, (uint64_t)1 << (i + 4));
        else
            meshq_text_str (out, "+Inf");
        meshq_text_str (out, "\"} ");
        meshq_text_u64 (out, cumulative);
        meshq_text_str (out, "\n");
    }
    meshq_text_str (out, "meshq_store_fsync_seconds_sum{");
    meshq_text_str (out, vhost_labels);
    meshq_text_str (out, "} ");
    meshq_text_seconds (out, stats->fsync_ns / 1000);
    meshq_text_str (out, "\nmeshq_store_fsync_seconds_count{");
    meshq_text_str (out, vhost_labels);
    meshq_text_str (out, "} ");
    meshq_text_u64 (out, stats->fsyncs);
    meshq_text_str (out, "\n");
}

//  Resident memory of the process, from /proc.
static uint64_t
s_resident (void)
{
    FILE *file = fopen ("/proc/self/statm", "re");
    unsigned long pages = 0, resident = 0;
    if (file) {
        if (fscanf (file, "%lu %lu", &pages, &resident) != 2)
            resident = 0;
        fclose (file);
    }
    return (uint64_t)resident * (uint64_t)sysconf (_SC_PAGESIZE);
}

//  What a per-queue family shows of a queue.
typedef enum {
    S_READY,
    S_UNACKED,
    S_BYTES,
    S_CONSUMERS,
    S_PUBLISHED,
    S_DELIVERED,
    S_ACKED,
} s_what_t;

static uint64_t
s_queue_value (meshq_queue_t *queue, s_what_t what,
               const meshq_queue_totals_t *totals)
{
    switch (what) {
        case S_READY:
            return meshq_queue_ready (queue);
        case S_UNACKED:
            return meshq_queue_unacked (queue);
        case S_BYTES:
            return meshq_queue_ready_bytes (queue);
        case S_CONSUMERS:
            return meshq_queue_consumer_count (queue);
        case S_PUBLISHED:
            return totals->published;
        case S_DELIVERED:
            return totals->delivered;
        case S_ACKED:
            return totals->acked;
    }
    return 0;
}

static void
s_queues (meshq_engine_t *self, meshq_buf_t *out)
{
    //  Every queue's labels, written once.
    size_t count = 0;
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts))
        count += zhashx_size (vhost->queues);
    s_row_t *rows = calloc (count ? count : 1, sizeof *rows);
    meshq_queue_totals_t *totals = calloc (count ? count : 1, sizeof *totals);
    assert (rows && totals);
    meshq_buf_t labels;
    meshq_buf_init (&labels);
    size_t n = 0;
    vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        meshq_queue_t *queue = zhashx_first (vhost->queues);
        for (; queue && n < count; queue = zhashx_next (vhost->queues)) {
            rows[n].queue = queue;
            rows[n].labels = labels.size;
            meshq_text_str (&labels, "{vhost=\"");
            meshq_text_label (&labels, vhost->name, strlen (vhost->name));
            meshq_text_str (&labels, "\",queue=\"");
            const char *name = meshq_queue_name (queue);
            meshq_text_label (&labels, name, strlen (name));
            meshq_text_str (&labels, "\"}");
            rows[n].size = labels.size - rows[n].labels;
            meshq_queue_totals (queue, &totals[n]);
            n++;
        }
    }
    static const struct {
        const char *name;
        const char *type;
        const char *help;
        s_what_t what;
    } families[] = {
        {"meshq_queue_messages_ready", "gauge",
         "Messages ready for delivery in the queue on this agent.", S_READY},
        {"meshq_queue_messages_unacked", "gauge",
         "Messages delivered and not yet acked.", S_UNACKED},
        {"meshq_queue_messages_ready_bytes", "gauge",
         "Body bytes of the messages ready.", S_BYTES},
        {"meshq_queue_consumers", "gauge",
         "Consumers of the queue (other agents with credit included).",
         S_CONSUMERS},
        {"meshq_queue_messages_published_total", "counter", "Messages queued.",
         S_PUBLISHED},
        {"meshq_queue_messages_delivered_total", "counter",
         "Deliveries made (redeliveries included).", S_DELIVERED},
        {"meshq_queue_messages_acked_total", "counter", "Messages acked.",
         S_ACKED},
    };
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        s_family (out, families[f].name, families[f].type, families[f].help);
        size_t name_size = strlen (families[f].name);
        for (size_t i = 0; i < n; i++) {
            meshq_buf_append (out, families[f].name, name_size);
            meshq_buf_append (out, labels.data + rows[i].labels, rows[i].size);
            meshq_buf_append (out, " ", 1);
            meshq_text_u64 (out, s_queue_value (rows[i].queue, families[f].what,
                                                &totals[i]));
            meshq_buf_append (out, "\n", 1);
        }
    }
    //  The waits as summaries: their sum and count, per queue.
    for (int acked = 0; acked < 2; acked++) {
        const char *name = acked ? "meshq_queue_ack_wait_seconds"
                                 : "meshq_queue_delivery_wait_seconds";
        s_family (out, name, "summary",
                  acked ? "Time from queued to acked, of the messages acked."
                        : "Time from queued to a first delivery.");
        for (size_t i = 0; i < n; i++) {
            const char *labels_of = (const char *)labels.data + rows[i].labels;
            meshq_text_str (out, name);
            meshq_text_str (out, "_sum");
            meshq_buf_append (out, labels_of, rows[i].size);
            meshq_buf_append (out, " ", 1);
            meshq_text_seconds (out,
                                1000 * (acked ? totals[i].ack_wait_ms
                                              : totals[i].delivery_wait_ms));
            meshq_text_str (out, "\n");
            meshq_text_str (out, name);
            meshq_text_str (out, "_count");
            meshq_buf_append (out, labels_of, rows[i].size);
            meshq_buf_append (out, " ", 1);
            meshq_text_u64 (out, acked ? totals[i].acked
                                       : totals[i].first_deliveries);
            meshq_buf_append (out, "\n", 1);
        }
    }
    meshq_buf_fini (&labels);
    free (rows);
    free (totals);
}

//  Stores, per vhost.
static void
s_stores (meshq_engine_t *self, meshq_buf_t *out)
{
    size_t count = zhashx_size (self->vhosts), n = 0;
    meshq_store_stats_t *stats = calloc (count ? count : 1, sizeof *stats);
    char (*labels)[300] = calloc (count ? count : 1, sizeof *labels);
    assert (stats && labels);
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost && n < count; vhost = zhashx_next (self->vhosts)) {
        if (!vhost->store)
            continue;
        meshq_store_stats (vhost->store, &stats[n]);
        meshq_buf_t label;
        meshq_buf_init (&label);
        meshq_text_str (&label, "vhost=\"");
        meshq_text_label (&label, vhost->name, strlen (vhost->name));
        meshq_text_str (&label, "\"");
        snprintf (labels[n], sizeof labels[n], "%.*s", (int)label.size,
                  (const char *)label.data);
        meshq_buf_fini (&label);
        n++;
    }
#define S_STORE_FAMILY(name, type, help, field)                                \
    s_family (out, name, type, help);                                          \
    for (size_t i = 0; i < n; i++) {                                           \
        meshq_text_printf (out, "%s{%s} ", name, labels[i]);                   \
        meshq_text_u64 (out, stats[i].field);                                  \
        meshq_text_str (out, "\n");                                            \
    }
    S_STORE_FAMILY ("meshq_store_bytes", "gauge",
                    "Bytes of the store's segment files.", bytes)
    S_STORE_FAMILY ("meshq_store_live_bytes", "gauge",
                    "Bytes of live records and metadata in the store.",
                    live_bytes)
    S_STORE_FAMILY ("meshq_store_segments", "gauge", "Segment files.", segments)
    S_STORE_FAMILY ("meshq_store_appends_total", "counter",
                    "Records appended since start.", appends)
    S_STORE_FAMILY ("meshq_store_refused_total", "counter",
                    "Appends refused by the quota or a full disk.",
                    refused_full)
    S_STORE_FAMILY ("meshq_store_io_errors_total", "counter",
                    "Writes and fsyncs the system refused.", io_errors)
#undef S_STORE_FAMILY
    s_family (out, "meshq_store_fsync_seconds", "histogram",
              "Time of the store's fdatasync calls.");
    for (size_t i = 0; i < n; i++)
        s_fsyncs (out, labels[i], &stats[i]);
    free (stats);
    free (labels);
}

//  Peers and links of every vhost's mesh.
static void
s_mesh (meshq_engine_t *self, meshq_buf_t *out)
{
    s_family (out, "meshq_peers", "gauge",
              "Peers known to this agent, by state.");
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        if (!vhost->peers)
            continue;
        uint64_t up = 0, suspect = 0, down = 0;
        const meshq_peer_info_t *peer = meshq_peers_first (vhost->peers);
        for (; peer; peer = meshq_peers_next (vhost->peers)) {
            if (streq (peer->state, "up"))
                up++;
            else if (streq (peer->state, "suspect"))
                suspect++;
            else
                down++;
        }
        const char *states[] = {"up", "suspect", "down"};
        uint64_t counts[] = {up, suspect, down};
        for (int i = 0; i < 3; i++) {
            meshq_text_str (out, "meshq_peers{vhost=\"");
            meshq_text_label (out, vhost->name, strlen (vhost->name));
            meshq_text_printf (out, "\",state=\"%s\"} ", states[i]);
            meshq_text_u64 (out, counts[i]);
            meshq_text_str (out, "\n");
        }
    }
    //  The counters of the links, and what came that was not right.
    static const char *names[] = {
        "meshq_peer_events_total",    "meshq_link_messages_total",
        "meshq_link_bytes_total",     "meshq_link_send_errors_total",
        "meshq_bad_frames_total",     "meshq_bad_beacons_total",
        "meshq_bad_handshakes_total",
    };
    static const char *helps[] = {
        "Peers seen come up and go down.",
        "Frames exchanged with peers, by direction.",
        "Bytes of the frames exchanged with peers, by direction.",
        "Frames to peers that could not be queued.",
        "Frames from peers dropped, by reason.",
        "Datagrams on the beacon port dropped, by reason.",
        "Connections to the mesh endpoint that failed the handshake.",
    };
    for (int family = 0; family < 7; family++) {
        s_family (out, names[family], "counter", helps[family]);
        vhost = zhashx_first (self->vhosts);
        for (; vhost; vhost = zhashx_next (self->vhosts)) {
            if (!vhost->peers)
                continue;
            const meshq_peers_stats_t *stats = meshq_peers_stats (vhost->peers);
            meshq_buf_t label;
            meshq_buf_init (&label);
            meshq_text_str (&label, "{vhost=\"");
            meshq_text_label (&label, vhost->name, strlen (vhost->name));
            meshq_text_str (&label, "\"");
            meshq_text_str (&label, "");
            const char *base = (const char *)label.data;
            int base_size = (int)label.size;
            const char *name = names[family];
#define S_LINE(extra, value)                                                   \
    do {                                                                       \
        meshq_text_printf (out, "%s%.*s%s} ", name, base_size, base, extra);   \
        meshq_text_u64 (out, value);                                           \
        meshq_text_str (out, "\n");                                            \
    } while (0)
            switch (family) {
                case 0:
                    S_LINE (",event=\"up\"", stats->peer_up_events);
                    S_LINE (",event=\"down\"", stats->peer_down_events);
                    S_LINE (",event=\"unlinked\"", stats->links_unlinked);
                    break;
                case 1:
                    S_LINE (",direction=\"sent\"", stats->frames_sent);
                    S_LINE (",direction=\"received\"", stats->frames_received);
                    break;
                case 2:
                    S_LINE (",direction=\"sent\"", stats->bytes_sent);
                    S_LINE (",direction=\"received\"", stats->bytes_received);
                    break;
                case 3:
                    S_LINE ("", stats->send_errors);
                    break;
                case 4:
                    for (int r = 0; r < MESHQ_FRAME_DROP_COUNT; r++) {
                        char extra[96];
                        snprintf (extra, sizeof extra, ",reason=\"%s\"",
                                  meshq_peers_frame_drop_name (
                                      (meshq_frame_drop_t)r));
                        S_LINE (extra, stats->frames_dropped[r]);
                    }
                    break;
                case 5:
                    for (int r = 0; r < MESHQ_BEACON_DROP_COUNT; r++) {
                        char extra[96];
                        snprintf (
                            extra, sizeof extra, ",reason=\"%s\"",
                            meshq_beacon_drop_name ((meshq_beacon_drop_t)r));
                        S_LINE (extra, stats->beacons_dropped[r]);
                    }
                    break;
                default:
                    S_LINE ("", stats->handshakes_failed);
                    break;
            }
#undef S_LINE
            meshq_buf_fini (&label);
        }
    }
    //  The links: open now and their cap past full_links (gauges), new
    //  ones refused at the cap, and links closed to make room.
    static const char *link_names[] = {"meshq_links", "meshq_links_max",
                                       "meshq_links_refused_total",
                                       "meshq_links_evicted_total"};
    static const char *link_helps[] = {
        "Links to peers open now (up or trying).",
        "The most links open at once past full_links (max_links).",
        "New links refused: max_links open and none spare.",
        "Links closed to make room for a new one at max_links."};
    for (int family = 0; family < 4; family++) {
        s_family (out, link_names[family], family < 2 ? "gauge" : "counter",
                  link_helps[family]);
        vhost = zhashx_first (self->vhosts);
        for (; vhost; vhost = zhashx_next (self->vhosts)) {
            if (!vhost->peers)
                continue;
            const meshq_peers_stats_t *stats = meshq_peers_stats (vhost->peers);
            uint64_t values[] = {stats->links_open, stats->links_max,
                                 stats->links_refused, stats->links_evicted};
            meshq_text_printf (out, "%s{vhost=\"", link_names[family]);
            meshq_text_label (out, vhost->name, strlen (vhost->name));
            meshq_text_str (out, "\"} ");
            meshq_text_u64 (out, values[family]);
            meshq_text_str (out, "\n");
        }
    }
    //  The frames of the agents' commands (BACKLOG, GRANT, DELIVER, ...).
    s_family (out, "meshq_mesh_commands_total", "counter",
              "Commands exchanged with other agents, by command and "
              "direction.");
    const char *command;
    for (int i = 0; (command = meshq_mesh_command_name (i)); i++)
        for (int way = 0; way < 2; way++) {
            meshq_text_printf (out,
                               "meshq_mesh_commands_total{command=\"%s\","
                               "direction=\"%s\"} ",
                               command, way ? "received" : "sent");
            meshq_text_u64 (out, self->mesh_commands[way][i]);
            meshq_text_str (out, "\n");
        }
}

void
meshq_http_metrics (meshq_engine_t *self, meshq_buf_t *out)
{
    char version[32];
    snprintf (version, sizeof version, "%d.%d.%d", MESHQ_VERSION_MAJOR,
              MESHQ_VERSION_MINOR, MESHQ_VERSION_PATCH);
    s_family (out, "meshq_agent_info", "gauge",
              "This agent: its name, node id and version.");
    meshq_text_str (out, "meshq_agent_info{name=\"");
    meshq_text_label (out, self->config.name, strlen (self->config.name));
    meshq_text_printf (out, "\",node=\"%s\",version=\"%s\"} 1\n",
                       self->node_hex, version);
    s_single (out, "meshq_uptime_seconds", "gauge", "Seconds since start.",
              (uint64_t)(zclock_mono () - self->started) / 1000);
    s_single (out, "meshq_process_resident_memory_bytes", "gauge",
              "Resident memory of the agent's process.", s_resident ());
    s_single (out, "meshq_messages_memory_bytes", "gauge",
              "Bytes of messages held in memory.", self->memory);
    s_single (out, "meshq_memory_limit_bytes", "gauge",
              "Bytes of messages held before publishers are blocked.",
              self->config.max_memory);
    s_family (out, "meshq_blocked", "gauge",
              "1 while publishes are refused, by reason (memory: the "
              "memory high-water mark; disk: the quota or a full disk).");
    bool memory = self->blocked && self->blocked_why &&
                  strstr (self->blocked_why, "memory");
    meshq_text_printf (out, "meshq_blocked{reason=\"memory\"} %d\n",
                       memory ? 1 : 0);
    meshq_text_printf (out, "meshq_blocked{reason=\"disk\"} %d\n",
                       self->blocked && !memory ? 1 : 0);
    uint64_t clients = 0, peers = 0;
    meshq_session_t *session = zhashx_first (self->sessions);
    for (; session; session = zhashx_next (self->sessions))
        if (session->peer)
            peers++;
        else
            clients++;
    s_single (out, "meshq_sessions", "gauge", "Client sessions open.", clients);
    s_single (out, "meshq_peer_sessions", "gauge",
              "Sessions of other agents (their links) open.", peers);
    s_single (out, "meshq_messages_published_total", "counter",
              "Publishes accepted.", self->published);
    s_single (out, "meshq_messages_delivered_total", "counter",
              "Deliveries sent.", self->delivered);
    s_single (out, "meshq_messages_acked_total", "counter", "Deliveries acked.",
              self->acked);
    s_single (out, "meshq_messages_dead_lettered_total", "counter",
              "Messages sent to a dead-letter exchange.", self->dead_lettered);
    s_family (out, "meshq_messages_disposed_total", "counter",
              "Messages that left their queue by a rule, by reason.");
    for (int i = 0; i < MESHQ_DISPOSED_COUNT; i++)
        meshq_text_printf (out,
                           "meshq_messages_disposed_total{reason=\"%s\"} "
                           "%llu\n",
                           meshq_disposal_name ((meshq_disposal_t)i),
                           (unsigned long long)self->disposed[i]);
    //  Bad input, by where it came from.
    s_family (out, "meshq_bad_input_total", "counter",
              "Input refused as malformed or out of bounds, by source.");
    meshq_text_printf (out, "meshq_bad_input_total{source=\"client\"} %llu\n",
                       (unsigned long long)self->malformed);
    s_single (out, "meshq_slow_clients_total", "counter",
              "Sessions ended because their client did not read.",
              self->slow_clients);
    const meshq_auth_stats_t *auth = meshq_auth_stats (self->auth);
    s_family (out, "meshq_logins_refused_total", "counter",
              "Logins refused, by reason.");
    static const char *reasons[MESHQ_AUTH_REASONS] = {"password", "busy",
                                                      "throttled", "other"};
    for (int i = 0; i < MESHQ_AUTH_REASONS; i++)
        meshq_text_printf (out,
                           "meshq_logins_refused_total{reason=\"%s\"} %llu\n",
                           reasons[i], (unsigned long long)auth->refused[i]);
    s_single (out, "meshq_access_refused_total", "counter",
              "Requests refused for want of a permission, vhost or tag.",
              self->auth_failures);
    s_single (out, "meshq_meta_digests_sent_total", "counter",
              "Metadata digests sent to peers (DIGEST, DIGEST_BACK).",
              self->meta_digests_sent);
    s_single (out, "meshq_meta_repaired_total", "counter",
              "Metadata records sent because a peer's digest differed.",
              self->meta_repaired);
    s_family (out, "meshq_publish_confirm_seconds", "histogram",
              "Time from a publish to its confirm.");
    s_histogram (out, "meshq_publish_confirm_seconds", "", &self->confirm_wait);
    s_family (out, "meshq_delivery_wait_seconds", "histogram",
              "Time from queued to a first delivery.");
    s_histogram (out, "meshq_delivery_wait_seconds", "", &self->delivery_wait);
    s_family (out, "meshq_ack_wait_seconds", "histogram",
              "Time from queued to acked.");
    s_histogram (out, "meshq_ack_wait_seconds", "", &self->ack_wait);
    s_stores (self, out);
    s_mesh (self, out);
    s_queues (self, out);
}
