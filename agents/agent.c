/*  agent.c - the queue agent engine: the actor, its sockets and loop.
    See agent.h. Sessions are agent_session.c, what it sends
    agent_send.c, the commands agent_commands.c, the message path
    agent_messages.c and agent_settle.c, the mesh agent_mesh*.c.

    One loop turn: the ROUTER handler drains what clients sent (up to a
    batch), each frame doing its work in memory and appending to the
    store, and dispatching every 128 frames; then (or, for work that
    came another way, on a 0 ms timer) the end of the turn dispatches
    the queues that changed (deliveries do not wait for the disk),
    commits the store once (one writev, one fdatasync), sends the
    confirms and replies that waited for it, does the mesh's part (acks,
    credit, backlog), and closes sessions that went away.
*/
#include "agent_internal.h"
#include "tick.h"
#include "codec_args.h"
#include "mesh_secret.h"
#include "parts.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <unistd.h>

//  Frames drained per ROUTER event: enough to batch, few enough that
//  timers and the pipe are not starved.
#define S_BATCH 1024

//  Frames handled between two dispatches within a turn.
#define S_DISPATCH_EVERY 128

//  Warnings about bad input logged per tick, at most.
#define S_WARNINGS 10

//  Lines a second that log messages disposed of by rule (one per queue
//  and reason), at most.
#define S_DISPOSAL_LINES 20

//  The AMQP door, if the program links it (the daemon does).
static const meshq_door_t *s_amqp_door;

void
meshq_engine_set_amqp_door (const meshq_door_t *door)
{
    s_amqp_door = door;
}

bool
meshq_engine_door_login (meshq_engine_t *self, void *ticket, int rc,
                         const char *why)
{
    return self->amqp && s_amqp_door &&
           s_amqp_door->login (self, ticket, rc, why);
}

static meshq_engine_t *
s_engine_new (zsock_t *pipe, const meshq_agent_config_t *config)
{
    meshq_engine_t *self = calloc (1, sizeof *self);
    assert (self);
    self->pipe = pipe;
    self->config = *config;
    self->loop = zloop_new ();
    zloop_set_nonstop (self->loop, true);
    self->vhosts = zhashx_new ();
    self->auth = meshq_auth_new (self->config.name);
    self->sessions = zhashx_new ();
    self->dirty_set = meshq_map64_new ();
    self->dirty = zlistx_new ();
    self->dead_letters = zlistx_new ();
    self->held_replies = zlistx_new ();
    zlistx_set_destructor (self->held_replies, meshq_free_item);
    meshq_buf_init (&self->buf);
    meshq_engine_batch_init (self);
    zuuid_t *uuid = zuuid_new ();
    memcpy (self->node_id, zuuid_data (uuid), 16);
    zuuid_destroy (&uuid);
    self->started = zclock_mono ();
    if (!self->config.max_memory) {
        //  As RabbitMQ's default: 40% of physical memory.
        uint64_t pages = (uint64_t)sysconf (_SC_PHYS_PAGES);
        uint64_t page = (uint64_t)sysconf (_SC_PAGESIZE);
        self->config.max_memory = pages * page / 10 * 4;
    }
    //  Sequence numbers stay unique across restarts: they start from the
    //  wall clock in microseconds (and from the log's highest, later).
    self->next_seq = (uint64_t)zclock_time () * 1000;
    return self;
}

static void
s_engine_destroy (meshq_engine_t **self_p)
{
    meshq_engine_t *self = *self_p;
    //  No request reaches the engine from here on.
    meshq_engine_http_stop (self);
    //  The stores close first: what is freed below stays in the log for
    //  the next start, untouched (no acks, no deletions).
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts))
        meshq_vhost_close (vhost);
    meshq_session_t *session;
    while ((session = zhashx_first (self->sessions)))
        meshq_engine_close_session (self, session);
    while ((vhost = zhashx_first (self->vhosts))) {
        zhashx_delete (self->vhosts, vhost->name);
        meshq_vhost_destroy (&vhost);
    }
    zhashx_destroy (&self->vhosts);
    //  Logins still pending are answered (refused) as the auth stops: the
    //  AMQP door frees its tickets then, and stops after.
    meshq_auth_destroy (&self->auth);
    if (self->amqp && s_amqp_door)
        s_amqp_door->stop (self);
    meshq_engine_http_destroy (self);
    zhashx_destroy (&self->sessions);
    meshq_map64_destroy (&self->dirty_set);
    zlistx_destroy (&self->dirty);
    zlistx_destroy (&self->dead_letters);
    zlistx_destroy (&self->held_replies);
    meshq_buf_fini (&self->buf);
    meshq_engine_batch_fini (self);
    meshq_engine_pool_fini (self);
    meshq_engine_gather_fini (self);
    meshq_engine_trace_fini (self);
    zloop_destroy (&self->loop);
    zsock_destroy (&self->router);
    sodium_memzero (self->mesh_key, sizeof self->mesh_key);
    free (self);
    *self_p = NULL;
}

//  Logs a warning, at most S_WARNINGS a tick: a flood of bad input must
//  not flood the log. The rest are counted and reported at the tick.
static void
s_warn (meshq_engine_t *self, const char *format, va_list list)
{
    if (self->warnings >= S_WARNINGS) {
        self->suppressed++;
        return;
    }
    self->warnings++;
    char line[512];
    vsnprintf (line, sizeof line, format, list);
    zsys_warning ("%s", line);
}

void
meshq_engine_bad_input (meshq_engine_t *self, const char *format, ...)
{
    self->malformed++;
    va_list list;
    va_start (list, format);
    s_warn (self, format, list);
    va_end (list);
}

void
meshq_engine_warn (meshq_engine_t *self, const char *format, ...)
{
    va_list list;
    va_start (list, format);
    s_warn (self, format, list);
    va_end (list);
}

// --------------------------------------------------------------------
//  The end of a loop turn

//  Commits every vhost's store: one writev and fdatasync each, when it
//  has appends.
static void
s_commit (meshq_engine_t *self)
{
    meshq_engine_trace_commit (self);
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts))
        if (vhost->store)
            meshq_store_commit (vhost->store);
    meshq_engine_release_replies (self);
}

//  Dispatches the queues that changed, and sends the batches made.
static void
s_dispatch (meshq_engine_t *self)
{
    meshq_queue_t *queue;
    int64_t now = zclock_time ();
    //  One clock read for the waits of every delivery made here: a read
    //  per delivery was 4% of the agent's time in a profile.
    self->dispatch_mono = zclock_mono ();
    self->last_dirty = NULL;
    while ((queue = zlistx_detach (self->dirty, NULL))) {
        meshq_map64_delete (self->dirty_set, (uintptr_t)queue);
        //  Origins' share of the free credit first, then the rest here.
        meshq_engine_mesh_grant (self, queue);
        meshq_queue_dispatch (queue, now);
    }
    meshq_engine_batch_flush (self);
    self->dispatch_mono = 0;
}

static int
s_end_of_turn (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    meshq_engine_t *self = arg;
    self->turn_armed = false;
    //  Dead letters are enqueued where they go before their originals'
    //  acks are committed, in the same commit.
    meshq_engine_route_dead_letters (self);
    //  Deliveries leave before the commit: a consumer need not wait for
    //  the fdatasync, only a confirm does (docs/SEMANTICS.md, "Durable
    //  before delivered?").
    s_dispatch (self);
    meshq_engine_flow_check (self);
    //  One commit for everything appended this turn; its callbacks
    //  settle the publishes waiting on it.
    s_commit (self);
    meshq_session_t *session = zhashx_first (self->sessions);
    while (session) {
        if (session->confirm_due)
            meshq_engine_flush_confirms (self, session);
        session = zhashx_next (self->sessions);
    }
    //  Acks to origins, credit to grant, backlogs to announce.
    meshq_engine_mesh_turn (self);
    //  Dispatch may have disposed of entries (acks, dead letters):
    //  commit again, cheaply when nothing is pending.
    meshq_engine_route_dead_letters (self);
    s_commit (self);
    //  Sessions that went away this turn.
    zlistx_t *dead = zlistx_new ();
    session = zhashx_first (self->sessions);
    while (session) {
        if (session->dead)
            zlistx_add_end (dead, session);
        session = zhashx_next (self->sessions);
    }
    while ((session = zlistx_detach (dead, NULL)))
        meshq_engine_close_session (self, session);
    zlistx_destroy (&dead);
    return 0;
}

void
meshq_engine_end_turn (meshq_engine_t *self)
{
    if (self->turn_armed) {
        if (self->turn_timer)
            zloop_timer_end (self->loop, self->turn_timer);
        s_end_of_turn (self->loop, 0, self);
    }
}

void
meshq_engine_arm_turn (meshq_engine_t *self)
{
    if (!self->turn_armed) {
        self->turn_armed = true;
        //  While frames are handled the ROUTER handler ends the turn
        //  itself, when it is done with them.
        self->turn_timer = self->frame_mono ? 0
                                            : zloop_timer (self->loop, 0, 1,
                                                           s_end_of_turn, self);
    }
}

void
meshq_engine_mark_dirty (meshq_engine_t *self, meshq_queue_t *queue)
{
    //  dirty_set doubles as the membership test of the dirty list; the
    //  last queue marked is remembered, as most marks in a row (one per
    //  publish or ack) are for the same queue.
    if (queue != self->last_dirty) {
        if (!meshq_map64_lookup (self->dirty_set, (uintptr_t)queue)) {
            meshq_map64_insert (self->dirty_set, (uintptr_t)queue, queue);
            zlistx_add_end (self->dirty, queue);
        }
        self->last_dirty = queue;
    }
    meshq_engine_arm_turn (self);
}

// --------------------------------------------------------------------
//  Frames from clients

//  A PING comes from a client's heartbeat socket, not its session
//  socket: answer the sender, and refresh the session it names.
static void
s_ping (meshq_engine_t *self, zmq_msg_t *routing, const meshq_args_t *args,
        const char *user_id)
{
    if (MESHQ_ARGS_HAS (args, SESSION)) {
        meshq_session_t *session =
            meshq_engine_session_find (self, args->session);
        //  Only its own user keeps a session alive.
        if (session && meshq_engine_auth_owns (session, user_id))
            session->last_seen = zclock_mono ();
        else
            return;  //  No such session: no PONG, so the client learns.
    }
    void *handle = zsock_resolve (self->router);
    zmq_send (handle, zmq_msg_data (routing), zmq_msg_size (routing),
              ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (handle, "PONG", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (handle, "\x80", 1, ZMQ_DONTWAIT);
}

//  The length of the verb that starts a one-frame command (upper-case
//  letters and '_'), or 0 if there is none.
static size_t
s_verb_size (const uint8_t *data, size_t size)
{
    size_t n = 0;
    while (n < size && n < 32 &&
           ((data[n] >= 'A' && data[n] <= 'Z') || data[n] == '_'))
        n++;
    return n;
}

static void
s_frame (meshq_engine_t *self, zmq_msg_t *parts, int count)
{
    const char *why = NULL;
    char verb[32];
    const uint8_t *frame = zmq_msg_data (&parts[1]);
    size_t frame_size = zmq_msg_size (&parts[1]);
    //  A command is 2 or 3 frames (verb, arguments, envelope), or one
    //  frame holding them back to back (docs/PROTOCOL.md, section 2).
    bool one = count == 2;
    size_t verb_size = one ? s_verb_size (frame, frame_size) : frame_size;
    meshq_args_t args;
    if (count < 2 || count > 4 || verb_size == 0 || verb_size >= sizeof verb ||
        (one && verb_size == frame_size)) {
        meshq_engine_bad_input (
            self, "agent: frame dropped reason=shape parts=%d", count);
        return;
    }
    memcpy (verb, frame, verb_size);
    verb[verb_size] = 0;
    int rc;
    const void *body = NULL;
    size_t body_size = 0;
    if (one) {
        size_t used = 0;
        rc = meshq_codec_decode_args_head (
            frame + verb_size, frame_size - verb_size, &args, &used, &why);
        body_size = frame_size - verb_size - used;
        body = body_size ? frame + verb_size + used : NULL;
    } else {
        rc = meshq_codec_decode_args (zmq_msg_data (&parts[2]),
                                      zmq_msg_size (&parts[2]), &args, &why);
        if (count == 4) {
            body = zmq_msg_data (&parts[3]);
            body_size = zmq_msg_size (&parts[3]);
        }
    }
    //  Heartbeat sockets have routing ids of libzmq's choosing.
    if (streq (verb, "PING")) {
        if (rc == 0)
            s_ping (self, &parts[0], &args,
                    zmq_msg_gets (&parts[1], "User-Id"));
        return;
    }
    if (zmq_msg_size (&parts[0]) != 16) {
        meshq_engine_bad_input (
            self, "agent: frame dropped reason=routing-id verb=%s", verb);
        return;
    }
    const uint8_t *id = zmq_msg_data (&parts[0]);
    meshq_session_t *session = meshq_engine_session_find (self, id);
    if (session && session->front) {
        //  Another door's session (an AMQP channel): not the ROUTER's.
        meshq_engine_bad_input (self, "agent: frame dropped reason=session "
                                      "of another door");
        return;
    }
    const char *user_id = zmq_msg_gets (&parts[1], "User-Id");
    if (session && !meshq_engine_auth_owns (session, user_id) &&
        !streq (verb, "HELLO")) {
        //  Another user's connection presenting the session's id.
        self->auth_failures++;
        meshq_engine_warn (self, "auth: refused user=%s reason=%s verb=%s",
                           user_id ? user_id : "", "session of another user",
                           verb);
        meshq_session_t stranger = {0};
        memcpy (stranger.id, id, 16);
        meshq_engine_reply_error (self, &stranger, rc ? 0 : args.rid,
                                  MESHQ_EACCESS,
                                  "session id in use by another user; "
                                  "connect with a new one");
        return;
    }
    if (rc) {
        meshq_engine_bad_input (self, "agent: frame dropped verb=%s reason=%s",
                                verb, why);
        if (session)
            meshq_engine_reply_error (self, session, 0, rc, "malformed %s: %s",
                                      verb, why);
        return;
    }
    if (streq (verb, "HELLO")) {
        //  Connections over ipc:// and tcp:// were authenticated by ZAP,
        //  and their frames say who; inproc:// ones prove it in HELLO.
        meshq_engine_auth_hello (self, id, &args, user_id);
        return;
    }
    if (!session) {
        //  No session: tell the sender, through a throwaway one.
        meshq_session_t stranger = {0};
        memcpy (stranger.id, id, 16);
        snprintf (stranger.user, sizeof stranger.user, "?");
        meshq_engine_reply_error (self, &stranger, args.rid, MESHQ_ESTATE,
                                  "no session: send HELLO first");
        return;
    }
    session->last_seen = self->frame_mono ? self->frame_mono : zclock_mono ();
    meshq_engine_request (self, session, verb, &args, body, body_size);
}

static int
s_handle_router (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    meshq_engine_t *self = arg;
    void *handle = zsock_resolve (reader);
    meshq_engine_trace_wake (self);
    self->frame_mono = zclock_mono ();
    self->frame_wall = zclock_time ();
    for (int n = 0; n < S_BATCH; n++) {
        zmq_msg_t parts[4];
        int total;
        int kept = meshq_parts_recv (handle, parts, 4, &total);
        if (total == 0)
            break;
        s_frame (self, parts, total);
        for (int i = 0; i < kept; i++)
            zmq_msg_close (&parts[i]);
        //  Consumers need not wait for the turn's commit (only confirms
        //  do): give them what the acks so far made room for, so that a
        //  long turn of publishes does not starve them.
        if ((n + 1) % S_DISPATCH_EVERY == 0) {
            if (zlistx_size (self->dirty))
                s_dispatch (self);
            self->frame_mono = zclock_mono ();
            self->frame_wall = zclock_time ();
        }
    }
    self->frame_mono = self->frame_wall = 0;
    //  The socket is drained (or the batch is done): end the turn here,
    //  not through one more pass of the loop, whose poll of every socket
    //  cost about five system calls a turn (strace of one message in
    //  flight). A timer armed before the frames came is not needed.
    meshq_engine_end_turn (self);
    return 0;
}

// --------------------------------------------------------------------
//  Timers

static int s_tick (zloop_t *loop, int timer_id, void *arg);

//  The next tick in tick_ms, or in a second when slow (tick.h: with the
//  other modules' ticks, in one wakeup). Each tick arms the next.
static void
s_tick_arm (meshq_engine_t *self, bool slow)
{
    if (self->tick_timer >= 0)
        zloop_timer_end (self->loop, self->tick_timer);
    size_t ms = (size_t)self->config.tick_ms;
    if (slow && ms < 1000)
        ms = 1000;
    self->tick_timer = meshq_tick_arm (self->loop, ms, s_tick, self);
    self->tick_slow = slow;
}

static int
s_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    meshq_engine_t *self = arg;
    int64_t now = zclock_mono ();
    if (self->suppressed)
        zsys_warning ("agent: %" PRIu64 " more bad inputs not logged",
                      self->suppressed);
    self->warnings = 0;
    self->suppressed = 0;
    meshq_session_t *session = zhashx_first (self->sessions);
    while (session) {
        //  A door of its own keeps its own heartbeat (AMQP's).
        if (!session->dead && !session->front &&
            now - session->last_seen > 3 * session->heartbeat_ms) {
            meshq_notice ("agent: session expired user=%s silent_ms=%" PRId64,
                          session->user, now - session->last_seen);
            session->dead = true;
            meshq_engine_arm_turn (self);
        }
        session = zhashx_next (self->sessions);
    }
    meshq_engine_check_leases (self, now);
    int64_t wall = zclock_time ();
    bool sample = now - self->sampled >= 1000;
    //  Lines on disposals a second, at most; the rest wait their turn.
    int disposals = S_DISPOSAL_LINES;
    if (sample)
        self->sampled = now;
    //  Idle: no session of a client, no message in any queue.
    bool idle = zhashx_size (self->sessions) == 0;
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        meshq_queue_t *queue = zhashx_first (vhost->queues);
        for (; queue; queue = zhashx_next (vhost->queues)) {
            idle = idle && !meshq_queue_ready (queue) &&
                   !meshq_queue_unacked (queue);
            if (sample) {
                meshq_queue_sample_rates (queue, now);
                meshq_engine_report_disposed (queue, &disposals);
            }
            meshq_queue_expire (queue, wall);
            if (meshq_queue_ready (queue) && meshq_queue_consumer_count (queue))
                meshq_engine_mark_dirty (self, queue);
        }
        //  A vhost whose store could not open has none (and says so).
        if (vhost->store)
            meshq_store_tick (vhost->store);
    }
    meshq_engine_check_pressure (self);
    meshq_engine_flow_check (self);
    meshq_engine_pool_trim (self);
    meshq_engine_mesh_tick (self);
    //  An idle agent wakes once a second (every wakeup polls each of
    //  its sockets: hundreds of idle agents on a host add up).
    self->tick_timer = -1;  //  This one fired, and is gone.
    s_tick_arm (self, idle);
    return 0;
}

// --------------------------------------------------------------------
//  Start and the pipe

static int
s_bind (meshq_engine_t *self, const char *endpoint, char *why, size_t size)
{
    //  libzmq would take an ipc:// path over from the agent serving it.
    int rc = meshq_engine_endpoint_check (endpoint, why, size);
    if (rc)
        return rc;
    //  An agent of the same name that just stopped in this process may
    //  hold its inproc:// name a moment longer (libzmq releases it from
    //  its reaper thread): give it up to a second.
    rc = zsock_bind (self->router, "%s", endpoint);
    for (int tries = 0; rc < 0 && zmq_errno () == EADDRINUSE &&
                        strncmp (endpoint, "inproc://", 9) == 0 && tries < 100;
         tries++) {
        zclock_sleep (10);
        rc = zsock_bind (self->router, "%s", endpoint);
    }
    if (rc < 0 && zmq_errno () == EADDRINUSE &&
        strncmp (endpoint, "inproc://", 9) == 0) {
        snprintf (why, size,
                  "client endpoint %s is in use: an agent of the same name "
                  "runs in this process",
                  endpoint);
        return MESHQ_EEXIST;
    }
    if (rc < 0 && zmq_errno () == EADDRINUSE) {
        char who[320];
        meshq_engine_endpoint_owner (endpoint, who, sizeof who);
        snprintf (why, size,
                  "client endpoint %s is in use by %s: %s; stop it, or give "
                  "this one another --control",
                  endpoint, who, zmq_strerror (EADDRINUSE));
        return MESHQ_EEXIST;
    }
    if (rc < 0) {
        snprintf (why, size, "cannot bind client endpoint %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        return MESHQ_EIO;
    }
    meshq_notice ("agent: listening endpoint=%s", endpoint);
    return 0;
}

//  Reads the mesh secret, if one is set, before any mesh starts: every
//  vhost's mesh then uses CURVE with keys made from it.
static int
s_load_mesh_secret (meshq_engine_t *self, char *why, size_t size)
{
    const char *path = self->config.mesh_secret_file;
    if (!*path)
        return 0;
    if (!zmq_has ("curve")) {
        snprintf (why, size,
                  "mesh_secret_file: this libzmq has no CURVE security "
                  "(it was built without libsodium)");
        return MESHQ_EINVAL;
    }
    int rc = meshq_mesh_secret_load (path, self->mesh_key, why, size);
    self->mesh_secret = rc == 0;
    return rc;
}

static int
s_start (meshq_engine_t *self, char *why, size_t size)
{
    if (!*self->config.data) {
        snprintf (why, size, "no data directory set");
        return MESHQ_EINVAL;
    }
    int rc = s_load_mesh_secret (self, why, size);
    if (rc)
        return rc;
    //  The default vhost first: it holds the node id, the users and the
    //  list of the other vhosts, which open after it.
    self->root = meshq_vhost_new (self, "/");
    zhashx_insert (self->vhosts, "/", self->root);
    self->restoring_root = true;
    rc = meshq_vhost_open (self->root, why, size);
    self->restoring_root = false;
    if (rc)
        return rc;
    meshq_hex16 (self->node_id, self->node_hex);
    meshq_engine_auth_open (self);
    rc = meshq_engine_auth_start (self, why, size);
    if (rc)
        return rc;

    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_linger (self->router, 0);
    //  What waits for one client is bounded: at the high-water mark a
    //  send fails (EAGAIN, the router being mandatory) and the session
    //  ends (agent_send.c). Deliveries it held go back to their queues.
    //  What a client sends waits at most as much: past it, libzmq stops
    //  reading its connection, and the client waits instead.
    zsock_set_sndhwm (self->router, (int)self->config.client_hwm);
    zsock_set_rcvhwm (self->router, (int)self->config.client_hwm);
    zsock_set_maxmsgsize (self->router,
                          (int64_t)self->config.max_message + 65536);
    //  ipc:// and tcp:// clients must log in (PLAIN, checked by ZAP).
    zsock_set_plain_server (self->router, 1);
    zsock_set_zap_domain (self->router, meshq_auth_zap_domain (self->auth));
    char inproc[128];
    snprintf (inproc, sizeof inproc, "inproc://meshq-%s", self->config.name);
    rc = s_bind (self, inproc, why, size);
    char *endpoints = strdup (self->config.endpoints);
    char *saveptr = NULL;
    for (char *endpoint = strtok_r (endpoints, ",", &saveptr);
         endpoint && rc == 0; endpoint = strtok_r (NULL, ",", &saveptr))
        rc = s_bind (self, endpoint, why, size);
    free (endpoints);
    if (rc)
        return rc;
    if (*self->config.amqp && !s_amqp_door) {
        snprintf (why, size,
                  "amqp: this program has no AMQP listener (the meshq-agent "
                  "daemon has one); unset amqp");
        return MESHQ_ENOTSUP;
    }
    if (*self->config.amqp) {
        rc = s_amqp_door->start (self, why, size);
        if (rc)
            return rc;
    }
    zloop_reader (self->loop, self->router, s_handle_router, self);
    self->tick_timer = -1;
    s_tick_arm (self, false);
    rc = meshq_engine_http_start (self, why, size);
    if (rc)
        return rc;
    meshq_notice ("agent: started name=%s queues=%zu", self->config.name,
                  zhashx_size (self->root->queues));
    return 0;
}

static int
s_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    meshq_engine_t *self = arg;
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return -1;
    char *command = zmsg_popstr (msg);
    int rc = 0;
    if (!command || streq (command, "$TERM"))
        rc = -1;
    else if (streq (command, "START")) {
        char why[1024] = "";
        int status = s_start (self, why, sizeof why);
        zsock_send (self->pipe, "ss", status ? "ERROR" : "OK", why);
    } else {
        zsys_error ("agent: unknown pipe command %s", command);
        assert (false);
    }
    zstr_free (&command);
    zmsg_destroy (&msg);
    return rc;
}

void
meshq_agent_actor (zsock_t *pipe, void *args)
{
    //  Named, for top -H and perf, in meshq-agent and embedding
    //  programs alike.
    pthread_setname_np (pthread_self (), "meshq-engine");
    meshq_engine_t *self = s_engine_new (pipe, args);
    zloop_reader (self->loop, pipe, s_handle_pipe, self);
    zsock_signal (pipe, 0);
    zloop_start (self->loop);
    s_engine_destroy (&self);
}
