/*  amqp_listen.c - the AMQP door's listener: a plain TCP socket polled
    in the engine's loop, its connections' non-blocking sockets, their
    bounded buffers, heartbeats and handshake deadlines, and the reaper
    that frees connections outside the engine's own calls.

    What a connection may make us hold is bounded: one frame in its
    parser (frame_max), one message being published per channel
    (max_message), MESHQ_AMQP_OUT_MAX bytes of output plus a message,
    MESHQ_AMQP_CHANNEL_MAX channels; and MESHQ_AMQP_CONNECTIONS
    connections at once.
*/
#include "amqp_door.h"
#include "amqp_internal.h"
#include "tick.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

//  Bytes read from a socket at a time.
#define S_READ 65536

static int s_conn_io (zloop_t *loop, zmq_pollitem_t *item, void *arg);

// --------------------------------------------------------------------
//  Output

static void
s_poll (meshq_amqp_conn_t *conn, bool out)
{
    zloop_t *loop = conn->engine->loop;
    zmq_pollitem_t item = {NULL, conn->fd, ZMQ_POLLIN, 0};
    zloop_poller_end (loop, &item);
    //  Not reading, it is still polled: for errors, and its hang-up.
    item.events = (conn->reading ? ZMQ_POLLIN : 0) | (out ? ZMQ_POLLOUT : 0);
    zloop_poller (loop, &item, s_conn_io, conn);
    conn->polling_out = out;
}

//  Writes what the socket takes now. Returns false if it failed.
static bool
s_flush (meshq_amqp_conn_t *conn)
{
    while (conn->out_sent < conn->out.size) {
        ssize_t rc = send (conn->fd, conn->out.data + conn->out_sent,
                           conn->out.size - conn->out_sent, MSG_NOSIGNAL);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (rc <= 0)
            return false;
        conn->out_sent += (size_t)rc;
        conn->last_send = zclock_mono ();
    }
    if (conn->out_sent == conn->out.size) {
        //  A burst's buffer is not kept by an idle connection.
        if (conn->out.capacity > 1024 * 1024)
            meshq_buf_fini (&conn->out);
        else
            meshq_buf_reset (&conn->out);
        conn->out_sent = 0;
        //  Every no-ack delivery is out: the engine may send more.
        for (uint32_t i = 1; conn->credit_due && i <= conn->channel_max; i++)
            if (conn->channels[i])
                meshq_amqp_basic_credit (conn->channels[i]);
        conn->credit_due = false;
    }
    return true;
}

void
meshq_amqp_write (meshq_amqp_conn_t *conn, const void *data, size_t size)
{
    if (conn->dead)
        return;
    int rc = meshq_buf_append (&conn->out, data, size);
    assert (rc == 0);
    if (!conn->polling_out)
        s_poll (conn, true);
}

void
meshq_amqp_send_method (meshq_amqp_conn_t *conn, uint16_t channel,
                        amqp_method_number_t id, void *decoded)
{
    if (conn->dead)
        return;
    //  Methods are small: a close's text, a consume's tag.
    if (meshq_buf_reserve (&conn->out, 4096))
        return;
    ssize_t rc = meshq_amqp_encode_method (
        conn->out.data + conn->out.size, conn->out.capacity - conn->out.size,
        conn->frame_max, channel, id, decoded);
    if (rc < 0) {
        zsys_error ("amqp: cannot encode method=%s rc=%zd",
                    amqp_method_name (id), rc);
        return;
    }
    conn->out.size += (size_t)rc;
    if (!conn->polling_out)
        s_poll (conn, true);
}

// --------------------------------------------------------------------
//  Pausing

//  Whether a channel of the connection consumes with acks: a consumer
//  that is not no-ack, or deliveries not yet acked. Its acks must be
//  read, or the queue that paused it might never drain.
static bool
s_acks (meshq_amqp_conn_t *conn)
{
    for (uint32_t i = 1; conn->channels && i <= conn->channel_max; i++) {
        meshq_amqp_channel_t *channel = conn->channels[i];
        if (channel &&
            (channel->acking || (channel->session && channel->session->head)))
            return true;
    }
    return false;
}

void
meshq_amqp_listen_update (meshq_amqp_conn_t *conn)
{
    if (conn->dead)
        return;
    bool reading =
        !conn->paused || conn->state != MESHQ_AMQP_RUNNING || s_acks (conn);
    if (reading == conn->reading)
        return;
    conn->reading = reading;
    if (reading) {
        //  Its silence while we did not read was ours, not the client's.
        conn->last_recv = zclock_mono ();
        meshq_debug ("amqp: connection resumed peer=%s user=%s", conn->peer,
                     conn->user);
    } else
        meshq_debug ("amqp: connection paused peer=%s user=%s", conn->peer,
                     conn->user);
    s_poll (conn, conn->polling_out);
}

//  Whether the client of a connection not read has gone: closed its
//  side, or reset the connection.
static bool
s_hung_up (meshq_amqp_conn_t *conn)
{
    struct pollfd item = {conn->fd, POLLRDHUP, 0};
    return poll (&item, 1, 0) > 0 &&
           (item.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

// --------------------------------------------------------------------
//  Closing

//  Frees a connection whose poller is gone.
static void
s_conn_free (void **item)
{
    meshq_amqp_conn_t *conn = *item;
    free (conn->channels);
    free (conn);
    *item = NULL;
}

//  Frees dead connections, and closes the sessions of ending ones and
//  of released channels, outside the engine's calls. The connections to
//  see are taken from the list first: a deletion moves the list's
//  cursor, and what follows calls the engine. zloop runs its timers
//  before its pollers, from the poll set it made before: the poller of
//  a connection ended here may still be called in this iteration (its
//  socket, at EOF, stays readable), so the connection is freed at the
//  next reap, once zloop has made its poll set again.
static int
s_reap (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    meshq_amqp_listener_t *self = arg;
    self->reap_timer = 0;
    zlistx_purge (self->graves);
    zlistx_t *work = zlistx_new ();
    meshq_amqp_conn_t *conn = zlistx_first (self->conns);
    for (; conn; conn = zlistx_next (self->conns))
        if (conn->dead || conn->ending || conn->channels)
            zlistx_add_end (work, conn);
    while ((conn = zlistx_detach (work, NULL))) {
        if (conn->dead) {
            zlistx_delete (self->conns, zlistx_find (self->conns, conn));
            zmq_pollitem_t item = {NULL, conn->fd, ZMQ_POLLIN, 0};
            zloop_poller_end (self->engine->loop, &item);
            meshq_amqp_connection_end (conn);
            close (conn->fd);
            meshq_amqp_parser_destroy (&conn->parser);
            meshq_buf_fini (&conn->out);
            //  Its poller may still be called: it finds it dead.
            zlistx_add_end (self->graves, conn);
            meshq_amqp_defer (self);
        } else if (conn->ending)
            meshq_amqp_connection_end (conn);
        else {
            //  Channels whose session is to go (closed by an error the
            //  engine's answer made, from inside the engine's calls).
            for (uint32_t i = 1; i <= conn->channel_max; i++) {
                meshq_amqp_channel_t *channel = conn->channels[i];
                if (channel && channel->release && channel->session) {
                    meshq_engine_front_close (conn->engine, channel->session);
                    channel->session = NULL;
                }
            }
        }
    }
    zlistx_destroy (&work);
    return 0;
}

void
meshq_amqp_defer (meshq_amqp_listener_t *self)
{
    if (!self->reap_timer)
        self->reap_timer = zloop_timer (self->engine->loop, 0, 1, s_reap, self);
}

//  Ends a connection: what is written is written, the rest dropped.
static void
s_kill (meshq_amqp_conn_t *conn, const char *why)
{
    if (conn->dead)
        return;
    meshq_info ("amqp: connection closed peer=%s user=%s reason=%s", conn->peer,
                conn->user, why);
    conn->dead = true;
    meshq_amqp_defer (conn->listener);
}

void
meshq_amqp_close (meshq_amqp_conn_t *conn, uint16_t code,
                  amqp_method_number_t method, const char *format, ...)
{
    if (conn->state == MESHQ_AMQP_CLOSING || conn->state == MESHQ_AMQP_DONE)
        return;
    char text[256];
    va_list list;
    va_start (list, format);
    vsnprintf (text, sizeof text, format, list);
    va_end (list);
    meshq_engine_warn (conn->engine,
                       "amqp: connection error peer=%s user=%s code=%u "
                       "text=%s",
                       conn->peer, conn->user, code, text);
    char reply[320];
    snprintf (reply, sizeof reply, "%s - %s",
              amqp_constant_name (code) ? amqp_constant_name (code) : "ERROR",
              text);
    amqp_connection_close_t close = {.reply_code = code,
                                     .reply_text = amqp_cstring_bytes (reply),
                                     .class_id = (uint16_t)(method >> 16),
                                     .method_id = (uint16_t)(method & 0xFFFF)};
    meshq_amqp_send_method (conn, 0, AMQP_CONNECTION_CLOSE_METHOD, &close);
    //  Before the handshake's end there is no Close-Ok to wait for.
    conn->state = conn->state == MESHQ_AMQP_RUNNING ? MESHQ_AMQP_CLOSING
                                                    : MESHQ_AMQP_DONE;
    //  Its Close-Ok is to be read, paused or not.
    meshq_amqp_listen_update (conn);
    //  Its channels' sessions go at once, outside the engine's calls:
    //  what they held goes back.
    conn->ending = true;
    meshq_amqp_defer (conn->listener);
}

// --------------------------------------------------------------------
//  Input

static void
s_event (meshq_amqp_conn_t *conn, const meshq_amqp_event_t *event)
{
    switch (event->type) {
        case MESHQ_AMQP_PROTOCOL_BAD:
            meshq_amqp_write (conn, MESHQ_AMQP_PROTOCOL_HEADER,
                              MESHQ_AMQP_PROTOCOL_HEADER_SIZE);
            conn->state = MESHQ_AMQP_DONE;
            break;
        case MESHQ_AMQP_ERROR:
            meshq_engine_bad_input (conn->engine,
                                    "amqp: frame refused peer=%s code=%u "
                                    "reason=%s",
                                    conn->peer, event->reply_code,
                                    event->reply_text);
            meshq_amqp_close (conn, event->reply_code,
                              (amqp_method_number_t)event->fault_class_id
                                      << 16 |
                                  event->fault_method_id,
                              "%s", event->reply_text);
            conn->state = MESHQ_AMQP_DONE;
            break;
        case MESHQ_AMQP_HEARTBEAT:
            break;
        default:
            if (event->channel == 0 || conn->state != MESHQ_AMQP_RUNNING)
                meshq_amqp_connection_event (conn, event);
            else
                meshq_amqp_channel_event (conn, event);
    }
}

static void
s_read (meshq_amqp_conn_t *conn)
{
    uint8_t data[S_READ];
    ssize_t got = recv (conn->fd, data, sizeof data, 0);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (got <= 0) {
        s_kill (conn, got == 0 ? "closed by the client" : strerror (errno));
        return;
    }
    conn->last_recv = zclock_mono ();
    meshq_engine_t *engine = conn->engine;
    //  As the ROUTER's handler: one clock read for the frames, and the
    //  turn (commit, confirms, dispatch) ended once they are handled.
    engine->frame_mono = conn->last_recv;
    engine->frame_wall = zclock_time ();
    size_t off = 0;
    while (off < (size_t)got && !conn->dead && conn->state != MESHQ_AMQP_DONE) {
        size_t used = 0;
        meshq_amqp_event_t event;
        meshq_amqp_parser_parse (conn->parser, data + off, (size_t)got - off,
                                 &used, &event);
        off += used;
        if (event.type == MESHQ_AMQP_MORE)
            break;
        s_event (conn, &event);
    }
    //  What the events' decoding took, given back.
    if (!conn->dead && conn->parser) {
        size_t used;
        meshq_amqp_event_t event;
        meshq_amqp_parser_parse (conn->parser, NULL, 0, &used, &event);
    }
    engine->frame_mono = engine->frame_wall = 0;
    meshq_engine_end_turn (engine);
}

static int
s_conn_io (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    meshq_amqp_conn_t *conn = arg;
    if (conn->dead)
        return 0;
    if (item->revents & ZMQ_POLLIN && conn->state != MESHQ_AMQP_DONE)
        s_read (conn);
    if (conn->dead)
        return 0;
    if (!conn->reading && item->revents & ZMQ_POLLERR) {
        //  Hung up while paused: there is nothing more to read.
        s_kill (conn, "closed by the client");
        return 0;
    }
    if (!s_flush (conn)) {
        s_kill (conn, "the client's socket failed");
        return 0;
    }
    if (conn->out.size == 0) {
        if (conn->state == MESHQ_AMQP_DONE)
            s_kill (conn, "closed");
        else if (conn->polling_out)
            s_poll (conn, false);
    } else if (item->revents & ZMQ_POLLERR)
        s_kill (conn, "the client's socket failed");
    return 0;
}

// --------------------------------------------------------------------
//  Accepting

static int
s_accept (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    meshq_amqp_listener_t *self = arg;
    for (int n = 0; n < 64; n++) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int fd = accept4 (self->fd, (struct sockaddr *)&addr, &len,
                          SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break;
        if (zlistx_size (self->conns) >= MESHQ_AMQP_CONNECTIONS) {
            self->refused++;
            meshq_engine_warn (self->engine,
                               "amqp: connection refused reason=more than "
                               "%d connections",
                               MESHQ_AMQP_CONNECTIONS);
            close (fd);
            continue;
        }
        int one = 1;
        setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        meshq_amqp_conn_t *conn = calloc (1, sizeof *conn);
        assert (conn);
        conn->listener = self;
        conn->engine = self->engine;
        conn->fd = fd;
        conn->id = ++self->next_id;
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (addr.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&addr;
            inet_ntop (AF_INET, &in->sin_addr, host, sizeof host);
            port = ntohs (in->sin_port);
            conn->loopback = (ntohl (in->sin_addr.s_addr) >> 24) == 127;
        } else if (addr.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
            inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof host);
            port = ntohs (in6->sin6_port);
            conn->loopback = IN6_IS_ADDR_LOOPBACK (&in6->sin6_addr) ||
                             (IN6_IS_ADDR_V4MAPPED (&in6->sin6_addr) &&
                              in6->sin6_addr.s6_addr[12] == 127);
        }
        snprintf (conn->peer, sizeof conn->peer, "%s:%d", host, port);
        conn->parser = meshq_amqp_parser_new ();
        meshq_buf_init (&conn->out);
        conn->frame_max = MESHQ_AMQP_FRAME_MAX;
        conn->started = conn->last_recv = conn->last_send = zclock_mono ();
        conn->reading = true;
        zlistx_add_end (self->conns, conn);
        zmq_pollitem_t poll = {NULL, fd, ZMQ_POLLIN, 0};
        zloop_poller (self->engine->loop, &poll, s_conn_io, conn);
        meshq_info ("amqp: connection accepted peer=%s", conn->peer);
    }
    return 0;
}

//  Heartbeats out, silent clients and slow handshakes closed.
static int
s_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)timer_id;
    meshq_amqp_listener_t *self = arg;
    int64_t now = zclock_mono ();
    meshq_amqp_conn_t *conn = zlistx_first (self->conns);
    for (; conn; conn = zlistx_next (self->conns)) {
        if (conn->dead)
            continue;
        if (conn->state < MESHQ_AMQP_RUNNING &&
            now - conn->started > MESHQ_AMQP_HANDSHAKE_MS) {
            s_kill (conn, "handshake not done in time");
            continue;
        }
        if ((conn->state == MESHQ_AMQP_DONE &&
             now - conn->last_send > MESHQ_AMQP_HANDSHAKE_MS) ||
            (conn->state == MESHQ_AMQP_CLOSING &&
             now - conn->last_recv > MESHQ_AMQP_HANDSHAKE_MS)) {
            s_kill (conn, "close not finished in time");
            continue;
        }
        if (!conn->reading) {
            //  Paused: a client that goes is not read, so not seen going.
            if (s_hung_up (conn)) {
                s_kill (conn, "closed by the client while paused");
                continue;
            }
            //  Its channels may consume with acks now.
            meshq_amqp_listen_update (conn);
        }
        if (conn->state != MESHQ_AMQP_RUNNING || !conn->heartbeat)
            continue;
        int64_t period = (int64_t)conn->heartbeat * 1000;
        //  While we do not read, the client's silence is not counted:
        //  its heartbeats wait in the socket.
        if (conn->reading && now - conn->last_recv > 2 * period) {
            meshq_notice ("amqp: heartbeat missed peer=%s user=%s "
                          "silent_ms=%" PRId64,
                          conn->peer, conn->user, now - conn->last_recv);
            s_kill (conn, "missed heartbeats");
            continue;
        }
        if (now - conn->last_send >= period / 2 && conn->out.size == 0) {
            uint8_t frame[8];
            meshq_amqp_encode_heartbeat (frame, sizeof frame);
            meshq_amqp_write (conn, frame, sizeof frame);
            conn->last_send = now;
        }
    }
    //  The next, with the engine's own tick (tick.h).
    self->timer = meshq_tick_arm (loop, 1000, s_tick, self);
    return 0;
}

// --------------------------------------------------------------------
//  The door

//  Binds host:port; 0 or a code with why.
static int
s_bind (meshq_amqp_listener_t *self, const char *endpoint, bool fallback,
        char *why, size_t size)
{
    char host[256];
    snprintf (host, sizeof host, "%s", endpoint);
    char *colon = strrchr (host, ':');
    if (!colon) {
        snprintf (why, size, "amqp: '%s' is not host:port", endpoint);
        return MESHQ_EINVAL;
    }
    *colon = 0;
    const char *port = colon + 1;
    char *name = host;
    if (*name == '[') {  //  [::1]:5672
        name++;
        char *end = strchr (name, ']');
        if (end)
            *end = 0;
    }
    struct addrinfo hints = {0}, *info = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo (*name && !streq (name, "*") ? name : NULL, port,
                          &hints, &info);
    if (rc) {
        snprintf (why, size, "amqp: cannot resolve '%s': %s", endpoint,
                  gai_strerror (rc));
        return MESHQ_EINVAL;
    }
    int fd = socket (info->ai_family,
                     info->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind (fd, info->ai_addr, info->ai_addrlen) ||
        listen (fd, 128)) {
        int error = errno;
        if (fd >= 0)
            close (fd);
        freeaddrinfo (info);
        if (error == EADDRINUSE && fallback) {
            zsys_warning ("amqp: port in use endpoint=%s: the agent runs "
                          "without AMQP (give it --amqp HOST:PORT)",
                          endpoint);
            return 1;
        }
        char who[320] = "another process";
        if (error == EADDRINUSE) {
            char tcp[300];
            snprintf (tcp, sizeof tcp, "tcp://%s", endpoint);
            meshq_engine_endpoint_owner (tcp, who, sizeof who);
        }
        snprintf (why, size, "amqp: cannot listen on %s: %s%s%s", endpoint,
                  strerror (error), error == EADDRINUSE ? ", used by " : "",
                  error == EADDRINUSE ? who : "");
        return error == EADDRINUSE ? MESHQ_EEXIST : MESHQ_EIO;
    }
    freeaddrinfo (info);
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    getsockname (fd, (struct sockaddr *)&addr, &len);
    self->port = ntohs (addr.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&addr)->sin6_port
                            : ((struct sockaddr_in *)&addr)->sin_port);
    self->fd = fd;
    return 0;
}

static void s_stop (meshq_engine_t *engine);

static int
s_start (meshq_engine_t *engine, char *why, size_t size)
{
    meshq_amqp_listener_t *self = calloc (1, sizeof *self);
    assert (self);
    self->engine = engine;
    self->fd = -1;
    int rc = s_bind (self, engine->config.amqp, engine->config.amqp_default,
                     why, size);
    if (rc) {
        free (self);
        return rc > 0 ? 0 : rc;
    }
    self->conns = zlistx_new ();
    self->graves = zlistx_new ();
    zlistx_set_destructor (self->graves, s_conn_free);
    self->logins = zlistx_new ();
    meshq_buf_init (&self->envelope);
    init_amqp_pool (&self->pool, 16384);
    engine->amqp = self;
    char host[256];
    snprintf (host, sizeof host, "%s", engine->config.amqp);
    *strrchr (host, ':') = 0;
    snprintf (engine->amqp_endpoint, sizeof engine->amqp_endpoint, "%s:%u",
              host, self->port);
    zmq_pollitem_t item = {NULL, self->fd, ZMQ_POLLIN, 0};
    zloop_poller (engine->loop, &item, s_accept, self);
    self->timer = meshq_tick_arm (engine->loop, 1000, s_tick, self);
    meshq_notice ("amqp: listening endpoint=%s", engine->amqp_endpoint);
    return 0;
}

static void
s_stop (meshq_engine_t *engine)
{
    meshq_amqp_listener_t *self = engine->amqp;
    if (!self)
        return;
    //  The engine is going: its sessions were closed already.
    meshq_amqp_conn_t *conn;
    while ((conn = zlistx_detach (self->conns, NULL))) {
        conn->dead = true;
        close (conn->fd);
        meshq_amqp_parser_destroy (&conn->parser);
        meshq_buf_fini (&conn->out);
        for (uint32_t i = 1; conn->channels && i <= conn->channel_max; i++)
            if (conn->channels[i]) {
                conn->channels[i]->session = NULL;
                meshq_amqp_channel_destroy (&conn->channels[i]);
            }
        free (conn->channels);
        free (conn);
    }
    zlistx_destroy (&self->conns);
    zlistx_destroy (&self->graves);
    void *ticket;
    while ((ticket = zlistx_detach (self->logins, NULL)))
        free (ticket);
    zlistx_destroy (&self->logins);
    meshq_buf_fini (&self->envelope);
    empty_amqp_pool (&self->pool);
    close (self->fd);
    free (self);
    engine->amqp = NULL;
}

static bool
s_login (meshq_engine_t *engine, void *ticket, int rc, const char *why)
{
    return meshq_amqp_login_answer (engine, ticket, rc, why);
}

static const meshq_door_t s_door = {s_start, s_stop, s_login};

void
meshq_amqp_door_register (void)
{
    meshq_engine_set_amqp_door (&s_door);
}
