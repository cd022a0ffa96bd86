/*  control.c - STATUS, LIST_PEERS and STATS. See control.h. */
#include "control.h"
#include "codec_peer.h"
#include "meshq.h"

#include <inttypes.h>

static meshq_span_t
s_span (const char *text)
{
    return (meshq_span_t){text, text ? (uint32_t)strlen (text) : 0};
}

//  Builds [command][map] from buf, or an ERROR if encoding failed.
static zmsg_t *
s_reply (const char *command, meshq_buf_t *buf, int rc, uint64_t rid)
{
    if (rc) {
        meshq_buf_fini (buf);
        return meshq_control_error (rid, rc, "cannot encode the reply");
    }
    zmsg_t *reply = zmsg_new ();
    assert (reply);
    zmsg_addstr (reply, command);
    zmsg_addmem (reply, buf->data, buf->size);
    meshq_buf_fini (buf);
    return reply;
}

zmsg_t *
meshq_control_error (uint64_t rid, int code, const char *why)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_error_reply_t error = {rid, code, s_span (why)};
    int rc = meshq_codec_encode_error (&error, &buf);
    assert (rc == 0);  //  Only fails out of memory, which asserts anyway.
    return s_reply ("ERROR", &buf, 0, rid);
}

zmsg_t *
meshq_control_status (meshq_peers_t *peers, const meshq_control_info_t *info,
                      uint64_t rid)
{
    int64_t uptime = zclock_mono () - info->started_ms;
    meshq_status_t status = {
        .rid = rid,
        .node = s_span (meshq_peers_node_hex (peers)),
        .name = s_span (meshq_peers_name (peers)),
        .mesh = s_span (meshq_peers_mesh (peers)),
        .vhost = s_span (meshq_peers_vhost (peers)),
        .version = s_span (info->version),
        .endpoint = s_span (meshq_peers_endpoint (peers)),
        .uptime_ms = uptime > 0 ? (uint64_t)uptime : 0,
        .peers = meshq_peers_up_count (peers),
    };
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    int rc = meshq_codec_encode_status (&status, &buf);
    return s_reply ("OK", &buf, rc, rid);
}

static int
s_compare_rows (const void *a, const void *b)
{
    const meshq_peer_row_t *x = a, *y = b;
    uint32_t size = x->name.size < y->name.size ? x->name.size : y->name.size;
    int order = memcmp (x->name.data, y->name.data, size);
    if (order == 0 && x->name.size != y->name.size)
        order = x->name.size < y->name.size ? -1 : 1;
    if (order == 0)
        order = memcmp (x->id.data, y->id.data, 32);
    return order;
}

zmsg_t *
meshq_control_list_peers (meshq_peers_t *peers, uint64_t rid)
{
    size_t capacity = MESHQ_PEERS_MAX;
    meshq_peer_row_t *rows = calloc (capacity, sizeof *rows);
    assert (rows);
    uint32_t count = 0;
    //  The strings stay valid until the module is called again: rows
    //  point into each peer's own info, which the iteration refills.
    for (const meshq_peer_info_t *peer = meshq_peers_first (peers);
         peer && count < capacity; peer = meshq_peers_next (peers)) {
        rows[count++] = (meshq_peer_row_t){
            .id = s_span (peer->id_hex),
            .name = s_span (peer->name),
            .endpoint = s_span (peer->endpoint),
            .state = s_span (peer->state),
            .incarnation = peer->incarnation,
            .last_seen_ms = peer->last_seen_ms,
        };
    }
    qsort (rows, count, sizeof *rows, s_compare_rows);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    int rc = meshq_codec_encode_peer_list (rid, rows, count, &buf);
    free (rows);
    return s_reply ("OK", &buf, rc, rid);
}

zmsg_t *
meshq_control_stats (meshq_peers_t *peers, uint64_t rid,
                     const meshq_counter_t *more, uint32_t more_count)
{
    const meshq_peers_stats_t *stats = meshq_peers_stats (peers);
    meshq_counter_t counters[64];
    char names[MESHQ_BEACON_DROP_COUNT + MESHQ_FRAME_DROP_COUNT][48];
    uint32_t count = 0, named = 0;
#define S_COUNTER(key, value)                                                  \
    counters[count++] = (meshq_counter_t){s_span (key), value}
    S_COUNTER ("beacons_sent", stats->beacons_sent);
    S_COUNTER ("beacon_errors", stats->beacon_errors);
    S_COUNTER ("beacons_received", stats->beacons_received);
    for (int i = 0; i < MESHQ_BEACON_DROP_COUNT; i++) {
        snprintf (names[named], sizeof names[named], "beacons_dropped_%s",
                  meshq_beacon_drop_name (i));
        S_COUNTER (names[named++], stats->beacons_dropped[i]);
    }
    S_COUNTER ("frames_received", stats->frames_received);
    S_COUNTER ("frames_sent", stats->frames_sent);
    S_COUNTER ("send_errors", stats->send_errors);
    for (int i = 0; i < MESHQ_FRAME_DROP_COUNT; i++) {
        snprintf (names[named], sizeof names[named], "frames_dropped_%s",
                  meshq_peers_frame_drop_name (i));
        S_COUNTER (names[named++], stats->frames_dropped[i]);
    }
    S_COUNTER ("peer_up_events", stats->peer_up_events);
    S_COUNTER ("peer_down_events", stats->peer_down_events);
#undef S_COUNTER
    for (uint32_t i = 0; i < more_count && count < 64; i++)
        counters[count++] = more[i];
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    int rc = meshq_codec_encode_counters (rid, counters, count, &buf);
    return s_reply ("OK", &buf, rc, rid);
}

zmsg_t *
meshq_control_handle (meshq_peers_t *peers, const meshq_control_info_t *info,
                      zmsg_t *request)
{
    zframe_t *verb = zmsg_first (request);
    zframe_t *args = zmsg_next (request);
    if (!verb ||
        meshq_codec_peer_command (zframe_data (verb), zframe_size (verb)) ==
            MESHQ_PEER_CMD_INVALID)
        return meshq_control_error (
            0, MESHQ_EMALFORMED,
            "frame 1 must be an upper-case command such as STATUS");
    uint64_t rid = 0;
    const char *why = "frame 2 must be a map of arguments with rid";
    int rc = args ? meshq_codec_decode_request (zframe_data (args),
                                                zframe_size (args), &rid, &why)
                  : MESHQ_EMALFORMED;
    if (rc)
        return meshq_control_error (rid, rc, why);
    if (zframe_streq (verb, "STATUS"))
        return meshq_control_status (peers, info, rid);
    if (zframe_streq (verb, "LIST_PEERS"))
        return meshq_control_list_peers (peers, rid);
    if (zframe_streq (verb, "STATS"))
        return meshq_control_stats (peers, rid, NULL, 0);
    return NULL;
}
