/*  peers_swim.c - the mesh's membership (swim.h) inside the peers
    module. See peers_internal.h.

    One meshq_swim_t per mesh node says who is in the mesh; its
    datagrams travel on a UDP socket at the ROUTER's port number
    (swim_udp.h), sealed under the mesh secret if there is one. What it
    learns drives the links, and peers_links.c decides which: a member
    alive may get one (and a session: PEER_UP once HELLOs went both
    ways), a member dead or gone loses it (PEER_DOWN). Beacons, seeds'
    answers, HELLOs and the owner's introductions feed it; a link's lost
    connection makes it suspect its member at once, and a refused
    connection where an up peer listened is proof that the member is
    gone. An idle link sends nothing: the membership's probes, a few a
    second whatever the size of the mesh, are what notices a member die
    or hang.

    The membership runs on a thread of its own, with a plain poll () on
    its socket: its dozens of wakeups a second would each cost the
    owner's loop a check of every ZeroMQ socket it has, and an owner
    busy with its work must not miss probes and be taken for dead. One
    mutex guards the meshq_swim_t; its changes travel to the owner's
    loop as events, through a pipe the loop watches.
*/
#include "peers_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <unistd.h>

//  Datagrams read per wakeup.
#define S_BURST 256

//  How often a node alone joins again through its seeds.
#define S_JOIN_MS 1000

//  Most changes waiting for the owner; past it they are dropped and the
//  owner reconciles its links with the whole table instead.
#define S_EVENTS_MAX 16384

static int64_t
s_now (void *arg)
{
    (void)arg;
    return zclock_mono ();
}

static void
s_send (void *arg, const uint8_t *id, const meshq_swim_addr_t *addr,
        const void *data, size_t size)
{
    (void)id;
    meshq_peers_swim_t *self = arg;
    meshq_swim_udp_send (self->udp, addr, data, size);
}

//  With the lock held, in either thread.
static void
s_change (void *arg, const uint8_t *id, meshq_swim_state_t state, bool fresh,
          uint64_t incarnation)
{
    meshq_peers_swim_t *self = arg;
    self->changed = true;
    if (self->events_len == S_EVENTS_MAX) {
        self->overflow = true;
        return;
    }
    if (self->events_len == self->events_cap) {
        size_t cap = self->events_cap ? 2 * self->events_cap : 64;
        meshq_peers_swim_event_t *grown =
            realloc (self->events, cap * sizeof *grown);
        if (!grown) {
            self->overflow = true;
            return;
        }
        self->events = grown;
        self->events_cap = cap;
    }
    meshq_peers_swim_event_t *event = &self->events[self->events_len++];
    memcpy (event->id, id, 16);
    event->state = state;
    event->fresh = fresh;
    event->incarnation = incarnation;
    memset (&event->addr, 0, sizeof event->addr);
    meshq_swim_member_addr (self->swim, id, &event->addr);
}

static void
s_poke (int fd)
{
    char byte = 0;
    if (write (fd, &byte, 1) < 0 && errno != EAGAIN)
        zsys_debug ("discovery: membership pipe: %s", strerror (errno));
}

static void
s_drain (int fd)
{
    char bytes[64];
    while (read (fd, bytes, sizeof bytes) > 0)
        ;
}

// --------------------------------------------------------------------
//  The membership's thread

static void
s_read (meshq_peers_swim_t *self)
{
    for (int i = 0; i < S_BURST; i++) {
        const uint8_t *data;
        size_t size;
        meshq_swim_drop_t reason;
        int rc = meshq_swim_udp_recv (self->udp, &data, &size, &reason);
        if (rc == MESHQ_EAGAIN)
            break;
        if (rc == 0)
            rc = meshq_swim_recv (self->swim, data, size);
        else if (reason == MESHQ_SWIM_DROP_MESH)
            continue;  //  Another mesh's on a shared port: normal.
        if (rc && meshq_peers_ratelog (&self->log, zclock_mono ())) {
            const meshq_swim_udp_stats_t *udp =
                meshq_swim_udp_stats (self->udp);
            meshq_swim_stats_t stats;
            meshq_swim_stats (self->swim, &stats);
            zsys_warning ("discovery: membership datagram dropped reason=%s "
                          "size=%" PRIu64 " auth=%" PRIu64 " bad=%" PRIu64,
                          rc == MESHQ_EACCESS
                              ? meshq_swim_udp_drop_name (reason)
                              : "malformed",
                          udp->dropped[MESHQ_SWIM_DROP_SIZE],
                          udp->dropped[MESHQ_SWIM_DROP_AUTH], stats.bad_msgs);
        }
    }
}

static void *
s_run (void *arg)
{
    meshq_peers_swim_t *self = arg;
    pthread_setname_np (pthread_self (), "meshq-swim");
    pthread_mutex_lock (&self->lock);
    while (!self->stopping) {
        int64_t now = zclock_mono ();
        int64_t next = meshq_swim_next (self->swim);
        int timeout = next <= now         ? 0
                      : next - now > 1000 ? 1000
                                          : (int)(next - now);
        pthread_mutex_unlock (&self->lock);
        //  Beacons come here too: in a joined mesh of N they are N
        //  datagrams every slow interval for every agent.
        meshq_udp_t *beacons = self->owner->udp;
        struct pollfd fds[3] = {
            {meshq_swim_udp_fd (self->udp), POLLIN, 0},
            {self->wake[0], POLLIN, 0},
            {beacons ? meshq_udp_fd (beacons) : -1, POLLIN, 0}};
        poll (fds, 3, timeout);
        pthread_mutex_lock (&self->lock);
        if (fds[1].revents)
            s_drain (self->wake[0]);
        bool due = zclock_mono () >= meshq_swim_next (self->swim);
        //  Before timers, what came meanwhile: a thread that waited for
        //  the lock (or for a CPU) past poll () has ACKs in its socket
        //  that poll () did not report, and would fail their probes.
        if (fds[0].revents || due)
            s_read (self);
        if (fds[2].revents)
            meshq_peers_beacons_read (self->owner);
        if (zclock_mono () >= meshq_swim_next (self->swim))
            meshq_swim_tick (self->swim);
        if ((self->events_len || self->overflow) && !self->notified) {
            self->notified = true;
            s_poke (self->notify[1]);
        }
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

// --------------------------------------------------------------------
//  The owner's side

const char *
meshq_peers_swim_state_name (meshq_swim_state_t state)
{
    switch (state) {
        case MESHQ_SWIM_ALIVE:
            return "alive";
        case MESHQ_SWIM_SUSPECT:
            return "suspect";
        case MESHQ_SWIM_DEAD:
            return "dead";
        case MESHQ_SWIM_LEFT:
            return "left";
    }
    return "unknown";
}

static int
s_notified (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    meshq_peers_t *peers = arg;
    meshq_peers_swim_t *self = peers->membership;
    s_drain (self->notify[0]);
    pthread_mutex_lock (&self->lock);
    meshq_peers_swim_event_t *events = self->events;
    size_t count = self->events_len;
    bool overflow = self->overflow;
    self->events = NULL;
    self->events_len = self->events_cap = 0;
    self->overflow = false;
    self->notified = false;
    meshq_swim_stats_t stats;
    meshq_swim_stats (self->swim, &stats);
    self->members = stats.alive + stats.suspect;
    pthread_mutex_unlock (&self->lock);
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < count; i++)
        meshq_peers_swim_apply (peers, &events[i], now);
    free (events);
    if (overflow)
        meshq_peers_swim_scan (peers, now);
    return 0;
}

int
meshq_peers_swim_open (meshq_peers_t *peers, uint16_t port)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self) {
        self = calloc (1, sizeof *self);
        assert (self);
        self->owner = peers;
        self->wake[0] = self->wake[1] = -1;
        self->notify[0] = self->notify[1] = -1;
        pthread_mutex_init (&self->lock, NULL);
        peers->membership = self;
    }
    if (peers->curve)
        meshq_swim_udp_key (peers->curve_secret, self->key);
    return meshq_swim_udp_open (&self->udp, &peers->iface, port, peers->mesh_id,
                                peers->curve ? self->key : NULL, peers->error,
                                sizeof peers->error);
}

int
meshq_peers_swim_start (meshq_peers_t *peers)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self || !self->udp)
        return MESHQ_ESTATE;
    meshq_swim_config_t config;
    meshq_swim_config_defaults (&config);
    //  The node's timings: a probe a heartbeat, and a suspicion of a
    //  small mesh about half the peer timeout (it grows with log10 of
    //  the mesh's size, and shrinks with confirmations).
    const meshq_peers_config_t *c = &peers->config;
    config.probe_interval_ms = c->heartbeat_ms;
    //  Suspicions count in heartbeats, even when probes slow down in a
    //  large mesh (meshq_peers_swim_scan).
    config.suspicion_unit_ms = c->heartbeat_ms;
    config.probe_timeout_ms = c->heartbeat_ms / 2 ? c->heartbeat_ms / 2 : 1;
    uint32_t mult = c->peer_timeout_ms / (2 * c->heartbeat_ms);
    config.suspicion_mult = mult < 2 ? 2 : mult > 32 ? 32 : mult;
    config.gossip_interval_ms = c->gossip_interval_ms;
    config.max_members = (uint32_t)c->max_peers;
    //  A table exchange in datagrams of about a kilobyte, under any MTU.
    config.sync_chunk = 16;
    meshq_swim_io_t io = {
        .now_ms = s_now, .send = s_send, .change = s_change, .arg = self};
    meshq_swim_addr_t addr;
    meshq_swim_udp_addr (self->udp, &addr);
    uint64_t seed;
    randombytes_buf (&seed, sizeof seed);
    self->swim = meshq_swim_new (&config, &io, peers->node, peers->incarnation,
                                 &addr, seed);
    //  Probe rounds numbered on the wall clock: agents of hosts whose
    //  clocks agree take their turns alike (swim_probe.c).
    meshq_swim_set_round_offset (self->swim, zclock_time () - zclock_mono ());
    self->joined = INT64_MIN / 2;
    if (pipe2 (self->wake, O_NONBLOCK | O_CLOEXEC) ||
        pipe2 (self->notify, O_NONBLOCK | O_CLOEXEC))
        return MESHQ_EIO;
    self->notify_item = (zmq_pollitem_t){NULL, self->notify[0], ZMQ_POLLIN, 0};
    if (zloop_poller (peers->loop, &self->notify_item, s_notified, peers)) {
        self->notify_item.fd = -1;
        return MESHQ_EIO;
    }
    if (pthread_create (&self->thread, NULL, s_run, self))
        return MESHQ_EIO;
    self->running = true;
    return 0;
}

void
meshq_peers_swim_stop (meshq_peers_t *peers, bool goodbye)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    if (self->swim && goodbye)
        meshq_swim_leave (self->swim);
    self->stopping = true;
    pthread_mutex_unlock (&self->lock);
    if (self->running) {
        s_poke (self->wake[1]);
        pthread_join (self->thread, NULL);
    }
    if (self->notify_item.fd > 0)
        zloop_poller_end (peers->loop, &self->notify_item);
    for (int i = 0; i < 2; i++) {
        if (self->wake[i] >= 0)
            close (self->wake[i]);
        if (self->notify[i] >= 0)
            close (self->notify[i]);
    }
    meshq_swim_destroy (&self->swim);
    meshq_swim_udp_destroy (&self->udp);
    sodium_memzero (self->key, sizeof self->key);
    pthread_mutex_destroy (&self->lock);
    free (self->events);
    zhashx_destroy (&self->wanted);
    free (self);
    peers->membership = NULL;
}

//  Runs fn on the membership with the lock held, then wakes its thread.
#define S_LOCKED(peers, call)                                                  \
    do {                                                                       \
        meshq_peers_swim_t *m_ = (peers)->membership;                          \
        if (m_ && m_->swim) {                                                  \
            pthread_mutex_lock (&m_->lock);                                    \
            call;                                                              \
            pthread_mutex_unlock (&m_->lock);                                  \
            s_poke (m_->wake[1]);                                              \
        }                                                                      \
    } while (0)

void
meshq_peers_swim_heard_locked (meshq_peers_t *peers, const uint8_t node[16],
                               uint64_t incarnation, const char *endpoint)
{
    meshq_peers_swim_t *self = peers->membership;
    meshq_swim_addr_t addr;
    if (!self || !self->swim || meshq_swim_udp_parse (endpoint, &addr))
        return;
    //  Alone, join (our table for its); else a PING, if we do not have
    //  it alive in that start, is all it takes.
    meshq_swim_stats_t stats;
    meshq_swim_stats (self->swim, &stats);
    if (stats.alive + stats.suspect == 0)
        meshq_swim_join (self->swim, &addr);
    else
        meshq_swim_hello (self->swim, node, incarnation, &addr);
}

void
meshq_peers_swim_heard (meshq_peers_t *peers, const uint8_t node[16],
                        uint64_t incarnation, const char *endpoint)
{
    S_LOCKED (peers, meshq_peers_swim_heard_locked (peers, node, incarnation,
                                                    endpoint));
}

void
meshq_peers_swim_lost (meshq_peers_t *peers, const uint8_t node[16])
{
    S_LOCKED (peers, meshq_swim_lost (m_->swim, node));
}

void
meshq_peers_swim_gone (meshq_peers_t *peers, const uint8_t node[16],
                       uint64_t incarnation)
{
    S_LOCKED (peers, {
        uint64_t known;
        if (meshq_swim_member (m_->swim, node, NULL, &known, NULL) == 0 &&
            known == incarnation)
            meshq_swim_gone (m_->swim, node);
    });
}

static bool
s_state_is (meshq_peers_t *peers, const uint8_t node[16], bool suspect_only)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self || !self->swim)
        //  With none of its own, the one it follows.
        return peers->leader && s_state_is (peers->leader, node, suspect_only);
    meshq_swim_state_t state;
    pthread_mutex_lock (&self->lock);
    int rc = meshq_swim_member (self->swim, node, &state, NULL, NULL);
    pthread_mutex_unlock (&self->lock);
    return rc == 0 && (state == MESHQ_SWIM_SUSPECT ||
                       (!suspect_only && state == MESHQ_SWIM_ALIVE));
}

bool
meshq_peers_swim_alive (meshq_peers_t *peers, const uint8_t node[16])
{
    return s_state_is (peers, node, false);
}

bool
meshq_peers_swim_suspect (meshq_peers_t *peers, const uint8_t node[16])
{
    return s_state_is (peers, node, true);
}

int
meshq_peers_swim_member (meshq_peers_t *peers, const uint8_t node[16],
                         const char **state, uint64_t *incarnation,
                         uint32_t *version)
{
    meshq_peers_swim_t *self = peers->membership;
    meshq_swim_state_t known = MESHQ_SWIM_ALIVE;
    *incarnation = 0;
    *version = 0;
    if ((!self || !self->swim) && peers->leader)
        //  None of its own: the one it follows.
        return meshq_peers_swim_member (peers->leader, node, state, incarnation,
                                        version);
    int rc = MESHQ_ENOTFOUND;
    if (self && self->swim) {
        pthread_mutex_lock (&self->lock);
        rc = meshq_swim_member (self->swim, node, &known, incarnation, version);
        pthread_mutex_unlock (&self->lock);
    }
    *state = rc ? "none" : meshq_peers_swim_state_name (known);
    return rc;
}

void
meshq_peers_swim_scan_locked (meshq_peers_t *peers,
                              const meshq_swim_stats_t *stats, int64_t now)
{
    meshq_peers_swim_t *self = peers->membership;
    uint32_t members = stats->alive + stats->suspect;
    //  A node alone joins again through its seeds.
    if (members == 0 && peers->seed_count && now - self->joined >= S_JOIN_MS) {
        self->joined = now;
        for (size_t i = 0; i < peers->seed_count; i++) {
            meshq_swim_addr_t addr;
            if (meshq_swim_udp_parse (peers->seed_list[i].endpoint, &addr) == 0)
                meshq_swim_join (self->swim, &addr);
        }
    }
    //  Past full_links, where the membership is the failure detector of
    //  most pairs, a probe every two heartbeats: each member is still
    //  probed by someone every 500 ms or so, and an idle mesh of 256
    //  used half the CPU (0.39 cores instead of 0.68, measured with
    //  --heartbeat 500 --peer-timeout 4000).
    meshq_swim_set_probe_interval (self->swim,
                                   members > peers->config.full_links
                                       ? 2 * peers->config.heartbeat_ms
                                       : peers->config.heartbeat_ms);
}

void
meshq_peers_swim_freeze (meshq_peers_t *peers, bool frozen)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self)
        return;
    if (frozen)
        pthread_mutex_lock (&self->lock);
    else
        pthread_mutex_unlock (&self->lock);
}

uint32_t
meshq_peers_swim_awareness (meshq_peers_t *peers)
{
    meshq_peers_swim_t *self = peers->membership;
    if ((!self || !self->swim) && peers->leader)
        //  The node's health is the one it follows'.
        return meshq_peers_swim_awareness (peers->leader);
    if (!self || !self->swim)
        return 1;
    meshq_swim_stats_t stats;
    pthread_mutex_lock (&self->lock);
    meshq_swim_stats (self->swim, &stats);
    const meshq_swim_udp_stats_t *udp = meshq_swim_udp_stats (self->udp);
    peers->stats.membership_dropped = udp->dropped[MESHQ_SWIM_DROP_SIZE] +
                                      udp->dropped[MESHQ_SWIM_DROP_AUTH] +
                                      stats.bad_msgs;
    pthread_mutex_unlock (&self->lock);
    peers->stats.members_alive = stats.alive + stats.suspect;
    peers->stats.members_suspect = stats.suspect;
    peers->stats.membership_health = stats.awareness ? stats.awareness : 1;
    peers->stats.members_full = stats.members_full;
    peers->stats.gossip_dropped = stats.gossip_dropped;
    peers->stats.answers_held = stats.answers_held;
    //  Answers held since the last line: someone keeps telling us we
    //  are suspect, forging it or in a mesh in trouble.
    if (stats.answers_held > self->held_logged &&
        meshq_peers_ratelog (&self->held_log, zclock_mono ())) {
        zsys_warning ("discovery: suspicions of this agent come faster than "
                      "it answers them held=%" PRIu64 " answered=%" PRIu64
                      " (forged, or a mesh in trouble)",
                      stats.answers_held, stats.answers);
        self->held_logged = stats.answers_held;
    }
    return stats.awareness ? stats.awareness : 1;
}
