/*  agent_lists_mesh.c - LIST_QUEUES of the whole mesh: one row per
    queue, with the totals of every agent that holds part of it.

    A queue is a mesh-wide name and each agent holds its own part: the
    messages published there, the consumers connected there. So the
    answer is gathered on demand (docs/PROTOCOL.md, 3.3 and 4):
      * the client's agent adds up its own parts, and sends QUERY {rid}
        to each peer of the vhost that is up and says in its HELLO that
        it answers QUERY;
      * each peer answers ANSWER {rid} with the list of its own parts,
        or {rid, why} if that list is too large for one frame;
      * once every peer asked has answered, or the timeout the client
        gave has passed, the agent answers the client: the totals, and
        a second list, "unanswered", naming each agent whose part is
        missing and why (no answer in time, too old to ask, or up
        once and not connected now).
    Nothing is ever sent to a peer that did not announce QUERY: an
    older agent would count it as bad input.

    The JSON API's /api/queues asks the same way (meshq_engine_gather_
    http), for every vhost its user sees, and keeps each agent's part of
    each queue too; its answer goes to the HTTP request that asked
    (http/http_engine.c) instead of a client's session.
*/
#include "agent_gather.h"
#include "agent_mesh.h"
#include "codec_args.h"

#include <inttypes.h>

//  Timeout of a gather when the client gives none, and its bounds.
#define S_TIMEOUT_MS     2000
#define S_TIMEOUT_MIN_MS 50
#define S_TIMEOUT_MAX_MS 60000

//  Gathers open at once, at most, and the queues one adds up: a row is
//  1 KB, and a peer's ANSWER could name a queue in every 10 bytes of its
//  frame. So a gather holds 20 MB at most, and all of them 160 MB.
#define S_GATHERS_MAX 8
#define S_ROWS_MAX    20000

//  A mesh-wide list being gathered.
typedef struct {
    meshq_engine_t *engine;    //  Its engine.
    void *handle;              //  Its place in the engine's gathers.
    uint64_t id;               //  The rid of its QUERYs.
    uint8_t client[16];        //  The session that asked, or
    void *ticket;              //  the HTTP request that did (then parts).
    uint64_t rid;              //  Its request's id.
    meshq_gather_view_t view;  //  Rows, and the peers asked.
    size_t asked_capacity;     //  Room in view.asked.
    size_t parts;              //  Parts kept, of all rows.
    size_t waiting;            //  Peers asked and not yet answered.
    int timer;                 //  The timeout's zloop timer.
} s_gather_t;

//  Parts an HTTP gather keeps, at most: 40 bytes each.
#define S_PARTS_MAX 200000

static void
s_row_free (void **item)
{
    meshq_gather_row_t *row = *item;
    if (row) {
        free (row->parts);
        free (row);
        *item = NULL;
    }
}

//  Adds one agent's (who's) row of a queue of vhost to the queue's
//  totals, and to its parts if the gather keeps them. False if the queue
//  is new and the gather holds S_ROWS_MAX already, or its parts are full.
static bool
s_add (s_gather_t *self, const char *vhost, size_t who,
       const meshq_args_t *part)
{
    zhashx_t *rows = self->view.rows;
    //  The key: the vhost's name, a NUL, the queue's (names hold no NUL,
    //  so the pair is one key) as a length-prefixed text.
    char name[MESHQ_MAX_SHORTSTR + 1];
    meshq_span_copy (name, part->queue);
    char key[2 * MESHQ_MAX_SHORTSTR + 16];
    snprintf (key, sizeof key, "%zu:%s/%s", strlen (vhost), vhost, name);
    meshq_gather_row_t *total = zhashx_lookup (rows, key);
    meshq_args_t *row = total ? &total->args : NULL;
    if (!row && zhashx_size (rows) >= S_ROWS_MAX)
        return false;
    if (self->ticket && self->parts >= S_PARTS_MAX)
        return false;
    if (!row) {
        total = calloc (1, sizeof *total);
        assert (total);
        memcpy (total->name, name, sizeof name);
        snprintf (total->vhost, sizeof total->vhost, "%s", vhost);
        zhashx_insert (rows, key, total);
        row = &total->args;
        MESHQ_ARGS_SET (row, QUEUE, queue, meshq_span (total->name));
        MESHQ_ARGS_SET (row, MESSAGES, messages, 0);
        MESHQ_ARGS_SET (row, UNACKED, unacked, 0);
        MESHQ_ARGS_SET (row, CONSUMERS, consumers, 0);
        MESHQ_ARGS_SET (row, BYTES, bytes, 0);
        MESHQ_ARGS_SET (row, UNACKED_BYTES, unacked_bytes, 0);
        MESHQ_ARGS_SET (row, DURABLE, durable, false);
        MESHQ_ARGS_SET (row, PUBLISH_RATE, publish_rate, 0);
        MESHQ_ARGS_SET (row, DELIVER_RATE, deliver_rate, 0);
        MESHQ_ARGS_SET (row, AGENTS, agents, 0);
    }
    row->messages += part->messages;
    row->unacked += part->unacked;
    row->consumers += part->consumers;
    row->bytes += part->bytes;
    row->unacked_bytes += part->unacked_bytes;
    row->held += part->held;
    row->publish_rate += part->publish_rate;
    row->deliver_rate += part->deliver_rate;
    //  Every agent keeps the queue's record: any says whether it is.
    row->durable |= part->durable;
    row->agents++;
#define S_SUM(ID, member)                                                      \
    if (MESHQ_ARGS_HAS (part, ID))                                             \
        MESHQ_ARGS_SET (row, ID, member, row->member + part->member);
    S_SUM (QUARANTINED, quarantined)
    S_SUM (DISPOSED_EXPIRED, disposed_expired)
    S_SUM (DISPOSED_MAXLEN, disposed_maxlen)
    S_SUM (DISPOSED_REJECTED, disposed_rejected)
    S_SUM (DISPOSED_LIMIT, disposed_limit)
    S_SUM (DISPOSED_DEDUP, disposed_dedup)
#undef S_SUM
    if (self->ticket) {
        //  Grown by powers of two: a queue has a part on few agents.
        size_t n = total->part_count;
        if ((n & (n - 1)) == 0) {
            total->parts =
                realloc (total->parts, (n ? 2 * n : 1) * sizeof *total->parts);
            assert (total->parts);
        }
        total->parts[n] = (meshq_gather_part_t){.who = who,
                                                .ready = part->messages,
                                                .unacked = part->unacked,
                                                .consumers = part->consumers,
                                                .bytes = part->bytes};
        total->part_count++;
        self->parts++;
    }
    return true;
}

bool
meshq_mesh_answers (const meshq_peer_info_t *peer, const char *verb)
{
    //  A word of the space-separated list its HELLO announced.
    size_t length = strlen (verb);
    for (const char *at = peer->commands ? peer->commands : ""; *at;) {
        size_t word = strcspn (at, " ");
        if (word == length && memcmp (at, verb, length) == 0)
            return true;
        at += word;
        at += strspn (at, " ");
    }
    return false;
}

//  This agent's part of queue, as the mesh's totals count it: a message
//  another agent sent here for a consumer is still unacked at its
//  origin, which counts it (and its bytes) once for the mesh.
static void
s_part (meshq_engine_t *self, meshq_queue_t *queue, meshq_args_t *row)
{
    memset (row, 0, sizeof *row);
    meshq_engine_queue_row (self, queue, row);
    uint64_t remote, own_bytes;
    meshq_queue_unacked_split (queue, &remote, &own_bytes);
    row->unacked -= remote <= row->unacked ? remote : row->unacked;
    MESHQ_ARGS_SET (row, UNACKED_BYTES, unacked_bytes, own_bytes);
    //  Read ahead from their origins, waiting here for a consumer: ready
    //  for the mesh, though in flight (unacked) at their origins.
    meshq_qmesh_t *qmesh = meshq_qmesh (queue, false);
    if (qmesh && qmesh->held)
        MESHQ_ARGS_SET (row, HELD, held, zlistx_size (qmesh->held));
}

static void
s_gather_destroy (s_gather_t **self_p)
{
    s_gather_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->view.rows);
    free (self->view.asked);
    free (self);
    *self_p = NULL;
}

//  Answers the client (if its session is still there) with the totals.
static void
s_reply (s_gather_t *self)
{
    meshq_engine_t *engine = self->engine;
    meshq_session_t *session = meshq_engine_session_find (engine, self->client);
    if (!session)
        return;
    zhashx_t *table = self->view.rows;
    size_t count = zhashx_size (table), n = 0;
    meshq_args_t *rows = calloc (count + 1, sizeof *rows);
    meshq_args_t *missing =
        calloc (self->view.asked_count + 1, sizeof *missing);
    assert (rows && missing);
    for (meshq_gather_row_t *row = zhashx_first (table); row;
         row = zhashx_next (table))
        rows[n++] = row->args;
    size_t m = 0;
    for (size_t i = 0; i < self->view.asked_count; i++) {
        meshq_gather_asked_t *asked = &self->view.asked[i];
        if (!asked->why)
            continue;
        MESHQ_ARGS_SET (&missing[m], NAME, name, meshq_span (asked->name));
        MESHQ_ARGS_SET (&missing[m], WHY, why, meshq_span (asked->why));
        m++;
    }
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    const char *why = NULL;
    int rc = meshq_codec_encode_lists (self->rid, "queues", rows, n,
                                       "unanswered", missing, m, &buf, &why);
    if (rc)
        meshq_engine_reply_error (engine, session, self->rid, rc, "%s", why);
    else
        meshq_engine_send_raw (engine, session, "OK", buf.data, buf.size, NULL,
                               0);
    meshq_buf_fini (&buf);
    free (rows);
    free (missing);
}

//  Answers the asker and ends the gather.
static void
s_finish (s_gather_t *self)
{
    meshq_engine_t *engine = self->engine;
    zloop_timer_end (engine->loop, self->timer);
    for (meshq_gather_row_t *row = zhashx_first (self->view.rows); row;
         row = zhashx_next (self->view.rows)) {
        //  What other agents read ahead is ready, not unacked.
        meshq_args_t *total = &row->args;
        uint64_t held =
            total->held < total->unacked ? total->held : total->unacked;
        total->unacked -= held;
        total->messages += held;
        total->present &= ~MESHQ_ARG_BIT (MESHQ_A_HELD);
    }
    for (size_t i = 0; i < self->view.asked_count; i++)
        if (self->view.asked[i].waiting)
            self->view.asked[i].why = self->view.asked[i].linking
                                          ? "no link in time: not asked"
                                          : "no answer in time";
    if (self->ticket)
        meshq_engine_http_gathered (engine, self->ticket, &self->view);
    else
        s_reply (self);
    zlistx_delete (engine->gathers, self->handle);
}

static int
s_timeout (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_finish (arg);
    return 0;
}

static void
s_gather_free (void **item)
{
    s_gather_destroy ((s_gather_t **)item);
}

//  A new gather, or NULL if S_GATHERS_MAX are open already.
static s_gather_t *
s_gather_new (meshq_engine_t *self)
{
    if (!self->gathers) {
        self->gathers = zlistx_new ();
        zlistx_set_destructor (self->gathers, s_gather_free);
    }
    if (zlistx_size (self->gathers) >= S_GATHERS_MAX)
        return NULL;
    s_gather_t *gather = calloc (1, sizeof *gather);
    assert (gather);
    gather->engine = self;
    gather->id = ++self->gathered;
    gather->view.rows = zhashx_new ();
    zhashx_set_destructor (gather->view.rows, s_row_free);
    gather->handle = zlistx_add_end (self->gathers, gather);
    return gather;
}

static void s_room (s_gather_t *gather, size_t more);

//  Past full_links, the members this agent has no link to: a link to
//  each is wanted (it closes again once idle), and each is asked as its
//  link comes up (meshq_mesh_gather_linked), within the same timeout.
static void
s_gather_unlinked (s_gather_t *gather, meshq_vhost_t *vhost)
{
    if (!vhost->peers || !meshq_peers_partial (vhost->peers))
        return;
    meshq_peers_member_t *members = NULL;
    size_t count = meshq_peers_unlinked (vhost->peers, &members);
    s_room (gather, count);
    for (size_t i = 0; i < count; i++) {
        meshq_gather_asked_t *asked =
            &gather->view.asked[gather->view.asked_count++];
        memset (asked, 0, sizeof *asked);
        snprintf (asked->hex, sizeof asked->hex, "%s", members[i].id_hex);
        snprintf (asked->name, sizeof asked->name, "%s", members[i].id_hex);
        asked->vhost = vhost;
        asked->waiting = true;
        asked->linking = true;
        gather->waiting++;
        meshq_peers_want (vhost->peers, members[i].id);
    }
    free (members);
}

void
meshq_mesh_gather_linked (meshq_engine_t *self, meshq_session_t *session,
                          const meshq_peer_info_t *peer)
{
    if (!self->gathers || !meshq_mesh_answers (peer, "QUERY"))
        return;
    char hex[33];
    meshq_hex16 (session->id, hex);
    s_gather_t *gather = zlistx_first (self->gathers);
    for (; gather; gather = zlistx_next (self->gathers))
        for (size_t i = 0; i < gather->view.asked_count; i++) {
            meshq_gather_asked_t *asked = &gather->view.asked[i];
            if (!asked->linking || asked->vhost != session->vhost ||
                !streq (asked->hex, hex))
                continue;
            asked->linking = false;
            snprintf (asked->name, sizeof asked->name, "%s", session->user);
            meshq_args_t query;
            memset (&query, 0, sizeof query);
            MESHQ_ARGS_SET (&query, RID, rid, gather->id);
            if (meshq_engine_send (self, session, "QUERY", &query, NULL, 0)) {
                asked->waiting = false;
                asked->why = "could not be asked";
                gather->waiting--;
            }
        }
    //  One whose last ask failed is done (s_finish takes it off the
    //  list, so not while walking it).
    s_gather_t *done[S_GATHERS_MAX];
    size_t count = 0;
    gather = zlistx_first (self->gathers);
    for (; gather && count < S_GATHERS_MAX;
         gather = zlistx_next (self->gathers))
        if (gather->waiting == 0)
            done[count++] = gather;
    for (size_t i = 0; i < count; i++)
        s_finish (done[i]);
}

//  Room in gather's asked list for more entries.
static void
s_room (s_gather_t *gather, size_t more)
{
    size_t needed = gather->view.asked_count + more;
    if (needed <= gather->asked_capacity)
        return;
    if (needed < 2 * gather->asked_capacity)
        needed = 2 * gather->asked_capacity;
    gather->view.asked =
        realloc (gather->view.asked, needed * sizeof *gather->view.asked);
    assert (gather->view.asked);
    gather->asked_capacity = needed;
}

//  Adds this agent's parts of the queues of vhost, and asks its peers
//  of that vhost that are up for theirs.
static void
s_gather_vhost (s_gather_t *gather, meshq_vhost_t *vhost)
{
    meshq_engine_t *self = gather->engine;
    meshq_queue_t *queue = zhashx_first (vhost->queues);
    for (; queue; queue = zhashx_next (vhost->queues)) {
        meshq_args_t part;
        s_part (self, queue, &part);
        if (!s_add (gather, vhost->name, SIZE_MAX, &part))
            break;
    }
    size_t needed =
        gather->view.asked_count + zhashx_size (vhost->peer_sessions) + 1;
    if (needed > gather->asked_capacity) {
        gather->view.asked =
            realloc (gather->view.asked, needed * sizeof *gather->view.asked);
        assert (gather->view.asked);
        gather->asked_capacity = needed;
    }
    meshq_args_t query;
    memset (&query, 0, sizeof query);
    MESHQ_ARGS_SET (&query, RID, rid, gather->id);
    meshq_session_t *peer = zhashx_first (vhost->peer_sessions);
    for (; peer; peer = zhashx_next (vhost->peer_sessions)) {
        meshq_gather_asked_t *asked =
            &gather->view.asked[gather->view.asked_count++];
        memset (asked, 0, sizeof *asked);
        meshq_hex16 (peer->id, asked->hex);
        snprintf (asked->name, sizeof asked->name, "%s", peer->user);
        asked->vhost = vhost;
        const meshq_peer_info_t *info =
            vhost->peers ? meshq_peers_lookup (vhost->peers, peer->id) : NULL;
        if (!info || !meshq_mesh_answers (info, "QUERY"))
            asked->why = "an older agent: it does not answer QUERY";
        else if (meshq_engine_send (self, peer, "QUERY", &query, NULL, 0))
            asked->why = "could not be asked";
        else {
            asked->waiting = true;
            gather->waiting++;
        }
    }
    //  Agents of the mesh that were up and are not now: their parts are
    //  missing too, and the list says so.
    size_t first =
        gather->view.asked_count - zhashx_size (vhost->peer_sessions);
    const meshq_peer_info_t *info =
        vhost->peers ? meshq_peers_first (vhost->peers) : NULL;
    for (; info; info = meshq_peers_next (vhost->peers)) {
        bool asked = false;
        for (size_t i = first; i < gather->view.asked_count && !asked; i++)
            asked = streq (gather->view.asked[i].hex, info->id_hex);
        if (asked)
            continue;
        if (gather->view.asked_count == gather->asked_capacity) {
            gather->asked_capacity *= 2;
            gather->view.asked =
                realloc (gather->view.asked,
                         gather->asked_capacity * sizeof *gather->view.asked);
            assert (gather->view.asked);
        }
        meshq_gather_asked_t *missing =
            &gather->view.asked[gather->view.asked_count++];
        memset (missing, 0, sizeof *missing);
        snprintf (missing->hex, sizeof missing->hex, "%s", info->id_hex);
        snprintf (missing->name, sizeof missing->name, "%s", info->name);
        missing->vhost = vhost;
        missing->why = "not connected: not asked";
    }
    s_gather_unlinked (gather, vhost);
}

//  Waits at most timeout (bounded) for the peers asked, or finishes now
//  if none was.
static void
s_gather_wait (s_gather_t *gather, uint64_t timeout)
{
    if (timeout < S_TIMEOUT_MIN_MS)
        timeout = S_TIMEOUT_MIN_MS;
    if (timeout > S_TIMEOUT_MAX_MS)
        timeout = S_TIMEOUT_MAX_MS;
    gather->timer = zloop_timer (gather->engine->loop, (size_t)timeout, 1,
                                 s_timeout, gather);
    if (gather->waiting == 0)
        s_finish (gather);
}

void
meshq_engine_gather_queues (meshq_engine_t *self, meshq_session_t *session,
                            const meshq_args_t *args)
{
    s_gather_t *gather = s_gather_new (self);
    if (!gather) {
        meshq_engine_reply_error (self, session, args->rid, MESHQ_EAGAIN,
                                  "%d mesh-wide lists are being gathered "
                                  "already; try again, or list with --local",
                                  S_GATHERS_MAX);
        return;
    }
    memcpy (gather->client, session->id, 16);
    gather->rid = args->rid;
    s_gather_vhost (gather, session->vhost);
    s_gather_wait (gather, MESHQ_ARGS_HAS (args, TIMEOUT) ? args->timeout
                                                          : S_TIMEOUT_MS);
}

int
meshq_engine_gather_http (meshq_engine_t *self, const char *only,
                          meshq_vhost_t *vhost, void *ticket)
{
    s_gather_t *gather = s_gather_new (self);
    if (!gather)
        return MESHQ_EAGAIN;
    gather->ticket = ticket;
    if (vhost)
        s_gather_vhost (gather, vhost);
    else
        for (vhost = zhashx_first (self->vhosts); vhost;
             vhost = zhashx_next (self->vhosts))
            if (!only || meshq_auth_may_enter (self->auth, only, vhost->name))
                s_gather_vhost (gather, vhost);
    //  Well within the HTTP listener's wait (MESHQ_HTTP_WAIT_MS).
    s_gather_wait (gather, S_TIMEOUT_MS);
    return 0;
}

void
meshq_mesh_on_query (meshq_engine_t *self, meshq_session_t *session,
                     meshq_args_t *args, zframe_t *body)
{
    (void)body;
    meshq_vhost_t *vhost = session->vhost;
    size_t count = zhashx_size (vhost->queues), n = 0;
    meshq_args_t *rows = calloc (count + 1, sizeof *rows);
    assert (rows);
    meshq_queue_t *queue = zhashx_first (vhost->queues);
    for (; queue && n < count; queue = zhashx_next (vhost->queues))
        s_part (self, queue, &rows[n++]);
    meshq_args_t answer;
    memset (&answer, 0, sizeof answer);
    MESHQ_ARGS_SET (&answer, RID, rid, args->rid);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    const char *why = NULL;
    int rc = meshq_codec_encode_list (args->rid, "queues", rows, n, &buf, &why);
    //  The peer takes frames up to our largest message and 64 KiB: a list
    //  larger than that is refused with its reason, not sent.
    if (rc == 0 && buf.size > self->config.max_message + 32768) {
        rc = MESHQ_ETOOBIG;
        why = "too many queues for one frame";
    }
    if (rc) {
        MESHQ_ARGS_SET (&answer, WHY, why, meshq_span (why));
        meshq_engine_send (self, session, "ANSWER", &answer, NULL, 0);
    } else
        meshq_engine_send (self, session, "ANSWER", &answer, buf.data,
                           buf.size);
    meshq_buf_fini (&buf);
    free (rows);
}

void
meshq_mesh_on_answer (meshq_engine_t *self, meshq_session_t *session,
                      meshq_args_t *args, zframe_t *body)
{
    s_gather_t *gather = self->gathers ? zlistx_first (self->gathers) : NULL;
    while (gather && gather->id != args->rid)
        gather = zlistx_next (self->gathers);
    char hex[33];
    meshq_hex16 (session->id, hex);
    meshq_gather_asked_t *asked = NULL;
    size_t who = 0;
    for (size_t i = 0; gather && i < gather->view.asked_count; i++) {
        meshq_gather_asked_t *some = &gather->view.asked[i];
        if (streq (some->hex, hex) && some->vhost == session->vhost &&
            some->waiting) {
            asked = some;
            who = i;
        }
    }
    if (!asked)
        return;  //  Late, after the timeout: nobody waits for it.
    asked->waiting = false;
    gather->waiting--;
    uint64_t rid;
    meshq_span_t cursor;
    uint32_t count;
    const char *why = NULL;
    if (!body)
        asked->why = MESHQ_ARGS_HAS (args, WHY)
                         ? "its list is too large for one frame"
                         : "answered with no list";
    else if (meshq_codec_decode_list (zframe_data (body), zframe_size (body),
                                      "queues", &rid, &cursor, &count, &why)) {
        meshq_engine_bad_input (self, "mesh: ANSWER dropped peer=%s reason=%s",
                                session->user, why);
        asked->why = "answered with a malformed list";
    } else {
        meshq_args_t part;
        while (meshq_codec_list_next (&cursor, &part))
            if (MESHQ_ARGS_HAS (&part, QUEUE) &&
                !s_add (gather, session->vhost->name, who, &part))
                asked->why = "part of its list left out: too many queues";
    }
    if (gather->waiting == 0)
        s_finish (gather);
}

void
meshq_engine_gather_fini (meshq_engine_t *self)
{
    zlistx_destroy (&self->gathers);
}
