/*  peers_input.c - what comes in: beacons, frames on the ROUTER, and the
    links' connection events. See peers_internal.h.

    Nothing from the network is trusted: every datagram and frame is
    checked, and anything refused is counted by reason, logged at most
    once a second, and dropped. The loop never stops for bad input.
*/
#include "peers_internal.h"

#include <arpa/inet.h>
#include <errno.h>

//  Datagrams and messages read per wakeup, so that a flood on one
//  socket cannot starve the others (zloop comes back for the rest).
#define S_BURST 256

// --------------------------------------------------------------------
//  Beacons

static void
s_drop_beacon (meshq_peers_t *self, meshq_beacon_drop_t reason,
               const meshq_datagram_t *datagram, int64_t now)
{
    self->stats.beacons_dropped[reason]++;
    //  Our own beacons and other meshes' are normal on a shared network.
    if (reason == MESHQ_BEACON_DROP_SELF || reason == MESHQ_BEACON_DROP_MESH)
        return;
    if (!meshq_peers_ratelog (&self->beacon_log, now))
        return;
    char from[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr *address = (const struct sockaddr *)&datagram->from;
    if (address->sa_family == AF_INET)
        inet_ntop (AF_INET, &((const struct sockaddr_in *)address)->sin_addr,
                   from, sizeof from);
    else if (address->sa_family == AF_INET6)
        inet_ntop (AF_INET6, &((const struct sockaddr_in6 *)address)->sin6_addr,
                   from, sizeof from);
    zsys_warning ("discovery: beacon dropped from=%s size=%zu reason=%s "
                  "dropped=%" PRIu64,
                  from, datagram->size, meshq_beacon_drop_name (reason),
                  self->stats.beacons_dropped[reason]);
}

//  Counts and logs (at most once a second) a beacon or a member
//  refused for reason.
static void
s_refuse_report (meshq_peers_t *self, const uint8_t node[16], bool gossip,
                 meshq_beacon_drop_t beacon_reason,
                 meshq_frame_drop_t frame_reason, int64_t now)
{
    uint64_t count = gossip ? ++self->stats.frames_dropped[frame_reason]
                            : ++self->stats.beacons_dropped[beacon_reason];
    if (!meshq_peers_ratelog (&self->beacon_log, now))
        return;
    char hex[33];
    meshq_peers_hex (node, hex);
    zsys_warning ("discovery: %s entry refused node=%s reason=%s "
                  "dropped=%" PRIu64,
                  gossip ? "peers" : "beacon", hex,
                  gossip ? meshq_peers_frame_drop_name (frame_reason)
                         : meshq_beacon_drop_name (beacon_reason),
                  count);
}

void
meshq_peers_discovered (meshq_peers_t *self, const uint8_t node[16],
                        uint64_t incarnation, const char *endpoint, bool gossip,
                        bool member, int64_t now)
{
    //  Refusals count as the membership's (frames), not as beacons.
    bool framed = gossip || member;
    if (meshq_peers_future (incarnation)) {
        s_refuse_report (self, node, framed, MESHQ_BEACON_DROP_FUTURE,
                         MESHQ_FRAME_DROP_FUTURE, now);
        return;
    }
    meshq_peers_entry_t *entry = meshq_peers_find (self, node);
    if (!meshq_peers_admit (self, entry, member, now)) {
        //  A member is tried again by the next walk of the members:
        //  counted, not logged.
        if (member) {
            self->stats.frames_dropped[MESHQ_FRAME_DROP_PENDING]++;
            return;
        }
        s_refuse_report (self, node, framed, MESHQ_BEACON_DROP_PENDING,
                         MESHQ_FRAME_DROP_PENDING, now);
        return;
    }
    //  A try that would open a link needs room for it first.
    if (!entry || !entry->link) {
        bool opens = true;
        if (entry) {
            meshq_peer_t trial = entry->peer;
            opens = meshq_peer_discovered (&trial, incarnation, gossip, now) &
                    MESHQ_PEER_OPEN_LINK;
        }
        if (opens && !meshq_peers_cap_room (self, entry, node, false, now))
            return;
    }
    if (!entry)
        entry = meshq_peers_add (self, node, now);
    if (!entry) {
        if (framed)
            self->stats.frames_dropped[MESHQ_FRAME_DROP_FULL]++;
        else
            self->stats.beacons_dropped[MESHQ_BEACON_DROP_FULL]++;
        return;
    }
    unsigned actions =
        meshq_peer_discovered (&entry->peer, incarnation, gossip, now);
    if (actions & MESHQ_PEER_STALE) {
        if (framed)
            self->stats.frames_dropped[MESHQ_FRAME_DROP_STALE]++;
        else
            self->stats.beacons_dropped[MESHQ_BEACON_DROP_STALE]++;
    }
    meshq_peers_apply (self, entry, actions, endpoint, NULL, now);
}

static void
s_beacon (meshq_peers_t *self, const uint8_t *data,
          const meshq_datagram_t *datagram, int64_t now)
{
    meshq_beacon_t beacon;
    meshq_beacon_drop_t reason;
    int rc;
    if (self->curve)
        rc = meshq_beacon_open (data, datagram->size, self->beacon_key, &beacon,
                                &reason, NULL);
    else if (datagram->size == MESHQ_BEACON_SEALED_SIZE) {
        //  Sealed: its mesh has a secret, and we have none.
        rc = MESHQ_EACCESS;
        reason = MESHQ_BEACON_DROP_AUTH;
    } else
        rc = meshq_beacon_decode (data, datagram->size, &beacon, &reason, NULL);
    if (rc) {
        s_drop_beacon (self, reason, datagram, now);
        return;
    }
    if (datagram->ifindex != self->iface.index)
        s_drop_beacon (self, MESHQ_BEACON_DROP_INTERFACE, datagram, now);
    else if (memcmp (beacon.mesh, self->mesh_id, 16) != 0)
        s_drop_beacon (self, MESHQ_BEACON_DROP_MESH, datagram, now);
    else if (memcmp (beacon.node, self->node, 16) == 0)
        s_drop_beacon (self, MESHQ_BEACON_DROP_SELF, datagram, now);
    else {
        const struct sockaddr *from = (const struct sockaddr *)&datagram->from;
        const void *address =
            from->sa_family == AF_INET6
                ? (const void *)&((const struct sockaddr_in6 *)from)->sin6_addr
                : (const void *)&((const struct sockaddr_in *)from)->sin_addr;
        char endpoint[MESHQ_ENDPOINT_MAX];
        if (meshq_iface_endpoint (from->sa_family, address, datagram->ifindex,
                                  beacon.port, endpoint, sizeof endpoint)) {
            s_drop_beacon (self, MESHQ_BEACON_DROP_INTERFACE, datagram, now);
            return;
        }
        self->stats.beacons_received++;
        if (meshq_peers_future (beacon.incarnation)) {
            s_refuse_report (self, beacon.node, false, MESHQ_BEACON_DROP_FUTURE,
                             MESHQ_FRAME_DROP_FUTURE, now);
            return;
        }
        //  The membership takes it from here: a member it has alive in
        //  that start costs nothing; a newcomer or a restart is asked at
        //  once, and its answer brings the link.
        meshq_peers_swim_heard_locked (self, beacon.node, beacon.incarnation,
                                       endpoint);
    }
}

void
meshq_peers_beacons_read (meshq_peers_t *self)
{
    int64_t now = zclock_mono ();
    //  One byte more than a sealed beacon: a longer datagram is cut there, and
    //  its real size (MSG_TRUNC) is what gets it dropped.
    uint8_t data[MESHQ_BEACON_SEALED_SIZE + 1];
    for (int i = 0; i < S_BURST; i++) {
        meshq_datagram_t datagram;
        int rc = meshq_udp_recv (self->udp, data, sizeof data, &datagram);
        if (rc == MESHQ_EAGAIN)
            break;
        if (rc) {
            if (meshq_peers_ratelog (&self->error_log, now))
                zsys_warning ("discovery: beacon socket error=%s",
                              strerror (errno));
            break;
        }
        s_beacon (self, data, &datagram, now);
    }
}

// --------------------------------------------------------------------
//  Frames from peers

static void
s_drop_frame (meshq_peers_t *self, meshq_frame_drop_t reason,
              const char *detail, const uint8_t *node, int64_t now)
{
    self->stats.frames_dropped[reason]++;
    if (!meshq_peers_ratelog (&self->frame_log, now))
        return;
    char hex[33] = "?";
    if (node)
        meshq_peers_hex (node, hex);
    zsys_warning ("discovery: frame dropped from=%s reason=%s detail=\"%s\" "
                  "dropped=%" PRIu64,
                  hex, meshq_peers_frame_drop_name (reason), detail,
                  self->stats.frames_dropped[reason]);
}

//  Whether the connection a frame came on (ZMQ_SRCFD) is known to be
//  lost already. The monitor's events are read first, in order, so that
//  a connection that is already gone (the peer died just after this
//  frame) shows as such.
static bool
s_closed (meshq_peers_t *self, int fd)
{
    if (fd < 0)
        return false;
    meshq_peers_monitor_input (self->loop, &self->monitor_item, self);
    return fd < MESHQ_PEERS_FDS && !(self->open[fd / 8] & (1 << (fd % 8)));
}

//  Notes the connection (ZMQ_SRCFD) a peer's frames come on. A new one
//  after a lost one is the peer back: ask it for a sign of life.

static void
s_track (meshq_peers_t *self, meshq_peers_entry_t *entry, int fd, int64_t now)
{
    if (fd < 0 || entry->fd == fd)
        return;
    if (s_closed (self, fd)) {
        //  Accepted and lost already: as if the loss came now.
        meshq_peers_lost (self, entry, now);
        return;
    }
    entry->fd = fd;
    meshq_peers_apply (self, entry, meshq_peer_connected (&entry->peer, now),
                       NULL, NULL, now);
}

static bool
s_span_is (meshq_span_t span, const char *text)
{
    return span.size == strlen (text) &&
           memcmp (span.data, text, span.size) == 0;
}

static void
s_hello (meshq_peers_t *self, const uint8_t *node, bool probe,
         const zframe_t *args, int fd, int64_t now)
{
    meshq_hello_t hello;
    const char *why = NULL;
    int rc =
        meshq_codec_decode_hello (zframe_data ((zframe_t *)args),
                                  zframe_size ((zframe_t *)args), &hello, &why);
    if (rc == MESHQ_EVERSION) {
        s_drop_frame (self, MESHQ_FRAME_DROP_MESH, why, node, now);
        return;
    }
    if (rc) {
        s_drop_frame (self, MESHQ_FRAME_DROP_MALFORMED, why, node, now);
        return;
    }
    if (!s_span_is (hello.mesh, self->mesh) ||
        !s_span_is (hello.vhost, self->vhost)) {
        s_drop_frame (self, MESHQ_FRAME_DROP_MESH,
                      "hello: another mesh or vhost", node, now);
        return;
    }
    if (memcmp (hello.node, node, 16) != 0) {
        s_drop_frame (self, MESHQ_FRAME_DROP_MISMATCH,
                      "hello: node is not the sender's", node, now);
        return;
    }
    if (memcmp (hello.node, self->node, 16) == 0) {
        //  A seed that is us under another address.
        self->stats.frames_dropped[MESHQ_FRAME_DROP_SELF]++;
        return;
    }
    char endpoint[MESHQ_ENDPOINT_MAX];
    snprintf (endpoint, sizeof endpoint, "%.*s", (int)hello.endpoint.size,
              hello.endpoint.data);
    if (!meshq_iface_endpoint_valid (endpoint)) {
        s_drop_frame (self, MESHQ_FRAME_DROP_ENDPOINT,
                      "hello: endpoint is not tcp://ADDRESS:PORT", node, now);
        return;
    }
    if (meshq_peers_future (hello.incarnation)) {
        s_drop_frame (self, MESHQ_FRAME_DROP_FUTURE,
                      "hello: incarnation more than 24 h ahead of our clock",
                      node, now);
        return;
    }
    meshq_peers_entry_t *entry = meshq_peers_find (self, node);
    //  A seed probe from a member we have alive and need no link to
    //  (past full_links, or closed by UNLINK): the membership knows it
    //  is there; a link would only be closed again an idle later.
    if (probe && (!entry || entry->peer.state == MESHQ_PEER_IS_DOWN) &&
        meshq_peers_swim_alive (self, node) &&
        !meshq_peers_swim_linkable (self, node, now)) {
        self->stats.frames_received++;
        meshq_peers_swim_heard (self, node, hello.incarnation, endpoint);
        return;
    }
    if (!meshq_peers_admit (self, entry, meshq_peers_swim_alive (self, node),
                            now)) {
        s_drop_frame (self, MESHQ_FRAME_DROP_PENDING,
                      "hello: too many new peers pending", node, now);
        return;
    }
    meshq_peer_hello_t said = {.incarnation = hello.incarnation,
                               .timeout_ms = (uint32_t)hello.timeout_ms,
                               .session = hello.session,
                               .ack = hello.ack,
                               .probe = probe};
    //  A HELLO that would open a link needs room for it first; refused,
    //  the peer's try times out, and the membership still hears of it.
    if (!entry || !entry->link) {
        bool opens = true;
        if (entry) {
            meshq_peer_t trial = entry->peer;
            opens =
                meshq_peer_hello (&trial, &said, now) & MESHQ_PEER_OPEN_LINK;
        }
        if (opens && !meshq_peers_cap_room (self, entry, node, true, now)) {
            meshq_peers_swim_heard (self, node, hello.incarnation, endpoint);
            return;
        }
    }
    if (!entry)
        entry = meshq_peers_add (self, node, now);
    if (!entry) {
        s_drop_frame (self, MESHQ_FRAME_DROP_FULL, "peer table full", node,
                      now);
        return;
    }
    //  The membership hears of it too (a seed's answer, or a link
    //  from a member it does not have yet).
    meshq_peers_swim_heard (self, node, hello.incarnation, endpoint);
    //  A HELLO on a connection the peer has closed already is one of its
    //  abandoned tries (kept in our kernel's buffer while we were
    //  stopped or cut off): its current try comes on another. Taken, it
    //  would restart a session that is up once per abandoned try.
    if (!probe && hello.incarnation == entry->peer.incarnation &&
        s_closed (self, fd) &&
        (entry->peer.state == MESHQ_PEER_IS_UP ||
         entry->peer.state == MESHQ_PEER_IS_SUSPECT)) {
        self->stats.frames_dropped[MESHQ_FRAME_DROP_DUPLICATE]++;
        return;
    }
    unsigned actions = meshq_peer_hello (&entry->peer, &said, now);
    if (actions & MESHQ_PEER_STALE) {
        s_drop_frame (self, MESHQ_FRAME_DROP_STALE, "hello: older incarnation",
                      node, now);
        return;
    }
    if (actions & MESHQ_PEER_DUPLICATE) {
        //  A HELLO of a session both sides are in already: normal after
        //  loss or a stall, so counted, not logged.
        self->stats.frames_dropped[MESHQ_FRAME_DROP_DUPLICATE]++;
        s_track (self, entry, fd, now);
        return;
    }
    self->stats.frames_received++;
    meshq_peers_apply (self, entry, actions, endpoint, &hello, now);
    s_track (self, entry, fd, now);
}

int
meshq_peers_introduce (meshq_peers_t *self, const uint8_t node[16],
                       uint64_t incarnation, const char *endpoint)
{
    assert (self && node && endpoint);
    if (!self->started)
        return MESHQ_ESTATE;
    if (!meshq_iface_endpoint_valid (endpoint) ||
        memcmp (node, self->node, 16) == 0 || meshq_peers_future (incarnation))
        return MESHQ_EINVAL;
    int64_t now = zclock_mono ();
    meshq_peers_entry_t *entry = meshq_peers_find (self, node);
    if (!entry)
        entry = meshq_peers_add (self, node, now);
    if (!entry) {
        self->stats.frames_dropped[MESHQ_FRAME_DROP_FULL]++;
        return MESHQ_EFULL;
    }
    //  First-hand, as a beacon is: the owner heard from that node just
    //  now. So unlike gossip it is taken even from a peer declared down
    //  a moment ago, or two agents that lost each other for a little
    //  over the timeout would stay apart.
    unsigned actions =
        meshq_peer_discovered (&entry->peer, incarnation, false, now);
    if (actions & MESHQ_PEER_STALE)
        self->stats.frames_dropped[MESHQ_FRAME_DROP_STALE]++;
    meshq_peers_apply (self, entry, actions, endpoint, NULL, now);
    meshq_peers_swim_heard (self, node, incarnation, endpoint);
    return 0;
}

//  Any frame but HELLO: only from a peer that is up.
static void
s_frame (meshq_peers_t *self, meshq_peer_cmd_t command, const uint8_t *node,
         zmsg_t **msg_p, int fd, int64_t now)
{
    meshq_peers_entry_t *entry = meshq_peers_find (self, node);
    if (!entry) {
        s_drop_frame (self, MESHQ_FRAME_DROP_NOT_UP, "unknown peer", node, now);
        return;
    }
    zframe_t *args = zmsg_next (*msg_p);
    const char *why = NULL;
    uint64_t seq = 0;
    bool done = false;
    int rc = 0;
    //  Decode first: a malformed frame is not a sign of life.
    if (command != MESHQ_PEER_CMD_OTHER && !args) {
        rc = MESHQ_EMALFORMED;
        why = "no arguments frame";
    } else if (command == MESHQ_PEER_CMD_PING || command == MESHQ_PEER_CMD_PONG)
        rc = meshq_codec_decode_ping (zframe_data (args), zframe_size (args),
                                      &seq, &why);
    else if (command == MESHQ_PEER_CMD_BYE)
        rc = meshq_codec_decode_bye (zframe_data (args), zframe_size (args),
                                     &why);
    else if (command == MESHQ_PEER_CMD_UNLINK)
        rc = meshq_codec_decode_unlink (zframe_data (args), zframe_size (args),
                                        &done, &why);
    if (rc) {
        s_drop_frame (self, MESHQ_FRAME_DROP_MALFORMED, why, node, now);
        return;
    }
    if (entry->peer.state != MESHQ_PEER_IS_DOWN)
        s_track (self, entry, fd, now);
    //  A link closing by agreement: no sign of life to take, and the
    //  answer to an ask that crossed ours comes when it is down already.
    if (command == MESHQ_PEER_CMD_UNLINK) {
        self->stats.frames_received++;
        meshq_peers_unlink_input (self, entry, done, now);
        return;
    }
    unsigned actions;
    if (command == MESHQ_PEER_CMD_BYE)
        actions = meshq_peer_bye (&entry->peer, now);
    else if (command == MESHQ_PEER_CMD_OTHER)
        actions = meshq_peer_frame (&entry->peer, now);
    else
        actions = meshq_peer_heartbeat (&entry->peer, now);
    if (actions & MESHQ_PEER_REFUSED)
        s_drop_frame (self, MESHQ_FRAME_DROP_NOT_UP, "peer is not up", node,
                      now);
    meshq_peers_apply (self, entry, actions, NULL, NULL, now);
    if (actions & MESHQ_PEER_REFUSED)
        return;
    self->stats.frames_received++;
    self->stats.bytes_received += zmsg_content_size (*msg_p);
    switch (command) {
        case MESHQ_PEER_CMD_PING:
            meshq_buf_reset (&self->buf);
            meshq_codec_encode_ping (seq, &self->buf);
            meshq_peers_send_frame (self, entry, "PONG", &self->buf);
            break;
        case MESHQ_PEER_CMD_OTHER:
            if (self->handler)
                self->handler (self->handler_arg, MESHQ_PEER_MESSAGE,
                               meshq_peers_info (entry, now), msg_p);
            break;
        default:
            break;
    }
}

static void
s_message (meshq_peers_t *self, zmsg_t **msg_p, int fd, int64_t now)
{
    zmsg_t *msg = *msg_p;
    zframe_t *id = zmsg_pop (msg);
    const uint8_t *routing = id ? zframe_data (id) : NULL;
    if (!id || zframe_size (id) != MESHQ_ROUTING_ID_SIZE ||
        (routing[0] != MESHQ_LINK_PREFIX && routing[0] != MESHQ_PROBE_PREFIX)) {
        s_drop_frame (self, MESHQ_FRAME_DROP_ROUTING_ID,
                      "routing id is not 17 bytes with prefix 01 or 02", NULL,
                      now);
        zframe_destroy (&id);
        return;
    }
    const uint8_t *node = routing + 1;
    bool probe = routing[0] == MESHQ_PROBE_PREFIX;
    zframe_t *command = zmsg_first (msg);
    meshq_peer_cmd_t code =
        command ? meshq_codec_peer_command (zframe_data (command),
                                            zframe_size (command))
                : MESHQ_PEER_CMD_INVALID;
    if (code == MESHQ_PEER_CMD_INVALID)
        s_drop_frame (self, MESHQ_FRAME_DROP_COMMAND,
                      "frame 1 is not an upper-case command", node, now);
    else if (probe && code != MESHQ_PEER_CMD_HELLO)
        s_drop_frame (self, MESHQ_FRAME_DROP_ROUTING_ID,
                      "a seed probe sends only HELLO", node, now);
    else if (code == MESHQ_PEER_CMD_HELLO) {
        zframe_t *args = zmsg_next (msg);
        if (args)
            s_hello (self, node, probe, args, probe ? -1 : fd, now);
        else
            s_drop_frame (self, MESHQ_FRAME_DROP_MALFORMED,
                          "no arguments frame", node, now);
    } else
        s_frame (self, code, node, msg_p, fd, now);
    zframe_destroy (&id);
}

int
meshq_peers_router_input (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    meshq_peers_t *self = arg;
    void *router = item->socket;
    void *handle = router;
    for (int i = 0; i < S_BURST && (zsock_events (router) & ZMQ_POLLIN); i++) {
        //  The routing id and the command by hand: the command carries
        //  the connection it came on (ZMQ_SRCFD; the routing id, made
        //  by the ROUTER, does not). The rest, as zframes, uncopied.
        zmsg_t *msg = zmsg_new ();
        int fd = -1;
        bool more = true;
        for (int part = 0; part < 2 && more; part++) {
            zmq_msg_t frame;
            zmq_msg_init (&frame);
            if (zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close (&frame);
                more = false;
                break;
            }
            if (part == 1)
                fd = zmq_msg_get (&frame, ZMQ_SRCFD);
            zmsg_addmem (msg, zmq_msg_data (&frame), zmq_msg_size (&frame));
            more = zmq_msg_more (&frame);
            zmq_msg_close (&frame);
        }
        while (more) {
            zframe_t *frame = zframe_recv (router);
            if (!frame)
                break;
            more = zframe_more (frame);
            zmsg_append (msg, &frame);
        }
        s_message (self, &msg, fd, zclock_mono ());
        zmsg_destroy (&msg);
        //  The handler may have stopped the module.
        if (!self->started)
            break;
    }
    return 0;
}

// --------------------------------------------------------------------
//  Lost connections

//  Counts and logs a connection to our ROUTER that failed its handshake;
//  value is libzmq's protocol error, ZAP status or errno.
static void
s_handshake_failed (meshq_peers_t *self, uint16_t event, uint32_t value)
{
    self->stats.handshakes_failed++;
    const char *why = "handshake failed";
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        why = "key refused: not the mesh's key";
    else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        why = self->curve ? "the peer has no mesh secret"
                          : "the peer has a mesh secret and we have none";
    else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        why = "the peer has another mesh secret";
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        why = "not the ZeroMQ protocol";
    if (meshq_peers_ratelog (&self->handshake_log, zclock_mono ()))
        zsys_warning ("discovery: handshake refused endpoint=%s reason=\"%s\" "
                      "detail=%08x failures=%" PRIu64,
                      self->endpoint, why, value,
                      self->stats.handshakes_failed);
}

int
meshq_peers_monitor_input (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    meshq_peers_t *self = arg;
    void *monitor = item->socket;
    while (zsock_events (monitor) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (monitor);
        if (!msg)
            break;
        zframe_t *frame = zmsg_first (msg);
        uint16_t event = 0;
        uint32_t fd = 0;
        if (frame && zframe_size (frame) == 6) {
            memcpy (&event, zframe_data (frame), 2);
            memcpy (&fd, zframe_data (frame) + 2, 4);
        }
        zmsg_destroy (&msg);
        if (event & MESHQ_PEERS_HANDSHAKE_EVENTS) {
            //  For these, the value is not a descriptor but a reason.
            s_handshake_failed (self, event, fd);
            continue;
        }
        bool tracked = fd < MESHQ_PEERS_FDS;
        if (event == ZMQ_EVENT_ACCEPTED && tracked)
            self->open[fd / 8] |= (uint8_t)(1 << (fd % 8));
        if (event != ZMQ_EVENT_DISCONNECTED)
            continue;
        if (tracked)
            self->open[fd / 8] &= (uint8_t) ~(1 << (fd % 8));
        int64_t now = zclock_mono ();
        for (size_t i = 0; i < self->count; i++) {
            meshq_peers_entry_t *entry = self->entries[i];
            if (entry->fd != (int)fd)
                continue;
            meshq_peers_lost (self, entry, now);
        }
    }
    return 0;
}

int
meshq_peers_probe_input (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    meshq_peers_entry_t *entry = arg;
    meshq_peers_t *self = entry->owner;
    bool gone = false;
    if (item->events & ZMQ_POLLOUT) {
        //  The connect is done: refused, or connected.
        int error = 0;
        socklen_t size = sizeof error;
        getsockopt (entry->probe, SOL_SOCKET, SO_ERROR, &error, &size);
        //  Linux lets a connect to a free port in the ephemeral range meet
        //  itself (the source port picked is the port asked for): a
        //  socket connected to itself means nobody listens there.
        struct sockaddr_storage local, remote;
        socklen_t local_size = sizeof local, remote_size = sizeof remote;
        if (error == 0 &&
            getsockname (entry->probe, (struct sockaddr *)&local,
                         &local_size) == 0 &&
            getpeername (entry->probe, (struct sockaddr *)&remote,
                         &remote_size) == 0 &&
            local_size == remote_size &&
            memcmp (&local, &remote, local_size) == 0)
            error = ECONNREFUSED;
        if (error == 0) {
            //  Connected, but a dying process may not have closed its
            //  listening socket yet. A live libzmq accepts at once and
            //  sends its ZMTP greeting; a closing one resets us. Wait to
            //  hear which.
            zloop_poller_end (loop, item);
            entry->probe_item.events = ZMQ_POLLIN;
            if (zloop_poller (loop, &entry->probe_item, meshq_peers_probe_input,
                              entry) == 0)
                return 0;
        }
        gone = error == ECONNREFUSED || error == ECONNRESET;
    } else {
        //  A greeting proves nothing yet: a libzmq that is closing its
        //  socket may send one before it closes ours. A live one waits
        //  for our greeting (seconds), a dying one closes at once: keep
        //  reading until the close, or the probe's deadline (the tick),
        //  after which its frames or the heartbeat timeout decide.
        uint8_t bytes[64];
        ssize_t got;
        while ((got = recv (entry->probe, bytes, sizeof bytes, MSG_DONTWAIT)) >
               0)
            ;
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        gone = true;
    }
    meshq_peers_probe_stop (self, entry);
    if (gone)
        meshq_peers_refused (self, entry, zclock_mono ());
    return 0;
}

void
meshq_peers_lost (meshq_peers_t *self, meshq_peers_entry_t *entry, int64_t now)
{
    entry->fd = -1;
    meshq_peers_apply (self, entry, meshq_peer_disconnected (&entry->peer, now),
                       NULL, NULL, now);
    if (entry->peer.state == MESHQ_PEER_IS_SUSPECT && entry->peer.reset) {
        //  Its process may be gone: if nothing listens where our link
        //  goes, it is. The membership probes it at once meanwhile,
        //  unless this agent stalled within a peer timeout: then the
        //  peer more likely gave up on us, and a starved agent's
        //  suspicions are the ones the membership must not hear.
        if (!self->stalled_at ||
            now - self->stalled_at > (int64_t)self->config.peer_timeout_ms)
            meshq_peers_swim_lost (self, entry->node);
        meshq_peers_probe_start (self, entry);
    }
}

void
meshq_peers_refused (meshq_peers_t *self, meshq_peers_entry_t *entry,
                     int64_t now)
{
    //  An up peer's connection went and nothing listens where it was:
    //  proof that its process is gone, which the whole mesh may hear.
    //  A try that found nothing proves nothing of a live member.
    bool was_up =
        entry->peer.state == MESHQ_PEER_IS_SUSPECT && entry->peer.reset;
    unsigned actions = meshq_peer_refused (&entry->peer, now);
    meshq_peers_apply (self, entry, actions, NULL, NULL, now);
    if (was_up && actions)
        meshq_peers_swim_gone (self, entry->node, entry->peer.incarnation);
}
