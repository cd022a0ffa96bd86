/*  peers_swim.c - the mesh's membership (swim.h) inside the peers
    module. See peers_internal.h.

    One meshq_swim_t per mesh node says who is in the mesh; its
    datagrams travel on a UDP socket at the ROUTER's port number
    (swim_udp.h), sealed under the mesh secret if there is one. What it
    learns drives the links: a member alive gets one (and a session:
    PEER_UP once HELLOs went both ways), a member dead or gone loses it
    (PEER_DOWN). Beacons, seeds' answers, HELLOs and the owner's
    introductions feed it; a link's lost connection makes it suspect
    its member at once, and a refused connection where an up peer
    listened is proof that the member is gone. An idle link sends
    nothing: the membership's probes, a few a second whatever the size
    of the mesh, are what notices a member die or hang.

    The membership runs on a thread of its own, with a plain poll () on
    its socket: its dozens of wakeups a second would each cost the
    owner's loop a check of every ZeroMQ socket it has, and an owner
    busy with its work must not miss probes and be taken for dead. One
    mutex guards the meshq_swim_t; its changes travel to the owner's
    loop as events, through a pipe the loop watches.
*/
#include "overlay.h"
#include "peers_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <unistd.h>

//  Datagrams read per wakeup.
#define S_BURST 256

//  Links to the overlay while a large membership still grows fast.
#define S_FLOOR 3

//  Past S_FLOOR, overlay links opened a second. When 256 agents started
//  together stopped growing, each linked its whole overlay at once:
//  3,350 links came up in 4 s, the two cores were starved, and the
//  membership took some live agents for dead. At one a second an
//  overlay of 15 fills in about 12 s; a link the owner wants (data to
//  move) is not held back, and the membership does not need links.
#define S_LINK_RATE_MS 1000

//  How often a node alone joins again through its seeds.
#define S_JOIN_MS 1000

//  Most changes waiting for the owner; past it they are dropped and the
//  owner reconciles its links with the whole table instead.
#define S_EVENTS_MAX 16384

//  The membership's growth is measured over S_SAMPLES samples taken
//  every S_SAMPLE_MS (see s_filling).
#define S_SAMPLES   4
#define S_SAMPLE_MS 250

typedef struct {
    uint8_t id[16];            //  The member.
    meshq_swim_state_t state;  //  Its new state.
    bool fresh;                //  Alive, and was not (see swim.h).
    uint64_t incarnation;      //  Of which start.
    meshq_swim_addr_t addr;    //  Where it listens.
} s_event_t;

struct _meshq_peers_swim_t {
    meshq_peers_t *owner;              //  The peers module.
    meshq_swim_t *swim;                //  Who is in the mesh.
    meshq_swim_udp_t *udp;             //  Its datagrams.
    uint8_t key[MESHQ_SWIM_KEY_SIZE];  //  Seals them, with a secret.
    pthread_mutex_t lock;              //  Guards all below but pipes.
    pthread_t thread;                  //  Runs the membership.
    bool running;                      //  The thread was started.
    bool stopping;                     //  The thread must end.
    int wake[2];                       //  Owner -> thread.
    int notify[2];                     //  Thread -> owner's loop.
    zmq_pollitem_t notify_item;        //  Its zloop poller.
    bool notified;                     //  A byte waits in notify.
    s_event_t *events;                 //  Changes for the owner.
    size_t events_len, events_cap;     //  In use, allocated.
    bool overflow;                     //  Some were dropped.
    int64_t joined;                    //  Last join through seeds.
    meshq_peers_ratelog_t log;         //  Dropped datagrams' lines.
    //  The owner's side only (no lock): which members get a link.
    uint32_t members;   //  Alive or suspect, at the last scan.
    uint32_t linked;    //  Links up or coming, at the last scan, plus
                        //  those opened since while it grows.
    int64_t link_next;  //  When the next overlay link past S_FLOOR may
                        //  open.
    //  Members past full_links linked to (overlay.h), sorted.
    uint8_t overlay[MESHQ_OVERLAY_MAX][16];
    size_t overlay_len;
    zhashx_t *wanted;            //  Hex id -> int64_t* until when the
                                 //  owner wants a link to it.
    uint32_t counts[S_SAMPLES];  //  Members at the last scans, one
    int64_t counted;             //  every S_SAMPLE_MS, the oldest at
    size_t count_at;             //  count_at; when the last was taken.
    int64_t scanned;             //  When the last scan was.
    bool changed;                //  A member changed since (under lock).
    bool filling;                //  The last scan found it filling.
};

//  A scan with no member changed since the last is due this often: it
//  only retries links that failed (it walked and sorted the whole
//  table every tick: 15% of an idle 256-agent mesh's CPU).
#define S_SCAN_MS 1000

//  How long a want of the owner's lasts unless renewed.
#define S_WANT_MS 60000

//  Wants held at most: one per member of a table.
#define S_WANTS_MAX 1024

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
        s_event_t *grown = realloc (self->events, cap * sizeof *grown);
        if (!grown) {
            self->overflow = true;
            return;
        }
        self->events = grown;
        self->events_cap = cap;
    }
    s_event_t *event = &self->events[self->events_len++];
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

static void
s_endpoint (meshq_peers_t *peers, const meshq_swim_addr_t *addr, char *out,
            size_t size)
{
    *out = 0;
    if (meshq_swim_udp_endpoint (addr, peers->iface.index, out, size))
        *out = 0;
}

static const char *
s_state_name (meshq_swim_state_t state)
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
s_compare_id (const void *a, const void *b)
{
    return memcmp (a, b, 16);
}

//  Whether the membership grows so fast that it will be past full_links
//  in about a second: it counts members, plus as many more as it gained
//  in the last second. Agents started together learn of each other
//  over a few seconds, and one that linked to every member it knew
//  until the count passed full_links would have opened dozens of links
//  that only the idle close (peers_unlink.c) ends. While it fills, the
//  overlay alone is linked, and the rest once the count holds still.
static bool
s_filling (meshq_peers_swim_t *self, uint32_t full_links)
{
    uint32_t oldest = self->counts[self->count_at];
    uint32_t gained = self->members > oldest ? self->members - oldest : 0;
    return (uint64_t)self->members + gained > full_links;
}

//  Whether the membership gained more than one member in the last
//  second. The overlay is picked by rank among the sorted ids, so each
//  join moves many agents' picks: 256 agents started together opened
//  and later closed about 100 links each, 25,000 in all, and that work
//  starved the agents of CPU into false deaths. While it grows so, the
//  overlay is linked only up to S_FLOOR links (enough to be reached),
//  and the rest once the count holds still.
static bool
s_growing (const meshq_peers_swim_t *self)
{
    return self->members > self->counts[self->count_at] + 1;
}

//  Whether links go only to the overlay and to the members wanted:
//  past full_links members, or filling towards it.
static bool
s_partial (meshq_peers_swim_t *self, uint32_t full_links)
{
    return self->members > full_links || s_filling (self, full_links);
}

//  Whether the link to a member is needed: in a mesh of at most
//  full_links that does not grow past it, every one; else those of our
//  overlay and those the owner wants. (Idle links not needed close.)
bool
meshq_peers_swim_needed (meshq_peers_t *peers, const uint8_t id[16],
                         int64_t now)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self && peers->leader)
        //  A vhost's links are those of the node it follows: idle ones
        //  past them close by UNLINK as there (peers_unlink.c).
        return meshq_peers_swim_needed (peers->leader, id, now);
    if (!self || !s_partial (self, peers->config.full_links))
        return true;
    if (self->overlay_len &&
        bsearch (id, self->overlay, self->overlay_len, 16, s_compare_id))
        return true;
    char hex[33];
    meshq_peers_hex (id, hex);
    int64_t *until = self->wanted ? zhashx_lookup (self->wanted, hex) : NULL;
    return until && *until > now;
}

bool
meshq_peers_swim_partial (meshq_peers_t *peers)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self && peers->leader)
        return meshq_peers_swim_partial (peers->leader);
    return self && s_partial (self, peers->config.full_links);
}

bool
meshq_peers_swim_overlay (meshq_peers_t *peers, const uint8_t id[16])
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self && peers->leader)
        return meshq_peers_swim_overlay (peers->leader, id);
    return self && self->overlay_len &&
           bsearch (id, self->overlay, self->overlay_len, 16, s_compare_id);
}

void
meshq_peers_swim_unwant (meshq_peers_t *peers, const uint8_t id[16])
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self && peers->leader) {
        meshq_peers_swim_unwant (peers->leader, id);
        return;
    }
    if (!self || !self->wanted)
        return;
    char hex[33];
    meshq_peers_hex (id, hex);
    zhashx_delete (self->wanted, hex);
}

//  Whether a member alive gets a link from us now: one needed, but
//  past full_links an overlay link only up to S_FLOOR links while the
//  membership grows fast, and one every S_LINK_RATE_MS past them.
bool
meshq_peers_swim_linkable (meshq_peers_t *peers, const uint8_t id[16],
                           int64_t now)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!meshq_peers_swim_needed (peers, id, now))
        return false;
    if (!self || self->members <= peers->config.full_links)
        return true;
    char hex[33];
    meshq_peers_hex (id, hex);
    int64_t *until = self->wanted ? zhashx_lookup (self->wanted, hex) : NULL;
    if (until && *until > now)
        return true;
    if (self->linked >= S_FLOOR) {
        if (s_growing (self) || now < self->link_next)
            return false;
        self->link_next = now + S_LINK_RATE_MS;
    }
    self->linked++;
    return true;
}

//  A member changed: links follow.
static void
s_apply (meshq_peers_t *peers, const s_event_t *event, int64_t now)
{
    char hex[33];
    meshq_peers_hex (event->id, hex);
    //  Suspicions come and go by the thousand in a large mesh under
    //  load (the membership counts them): only joins, returns, deaths
    //  and leaves are worth a line each: one as a member comes, one as
    //  it goes.
    if (event->state == MESHQ_SWIM_DEAD || event->state == MESHQ_SWIM_LEFT ||
        event->fresh)
        zsys_info ("discovery: member %s id=%s incarnation=%" PRIu64,
                   s_state_name (event->state), hex, event->incarnation);
    if (event->state == MESHQ_SWIM_ALIVE) {
        if (!meshq_peers_swim_linkable (peers, event->id, now))
            return;
        char endpoint[MESHQ_ENDPOINT_MAX];
        s_endpoint (peers, &event->addr, endpoint, sizeof endpoint);
        if (*endpoint)
            meshq_peers_discovered (peers, event->id, event->incarnation,
                                    endpoint, false, true, now);
        return;
    }
    if (event->state != MESHQ_SWIM_DEAD && event->state != MESHQ_SWIM_LEFT)
        return;
    meshq_peers_entry_t *entry = meshq_peers_find (peers, event->id);
    //  The death of an older incarnation ends nothing of a newer one
    //  whose HELLO came first.
    if (entry && entry->peer.incarnation > event->incarnation)
        return;
    //  The owner's other tables, which have no membership, follow.
    if (peers->gone_fn)
        peers->gone_fn (peers->gone_arg, event->id, event->incarnation,
                        event->state == MESHQ_SWIM_LEFT);
    if (!entry)
        return;
    unsigned actions = meshq_peer_dead (&entry->peer,
                                        event->state == MESHQ_SWIM_LEFT
                                            ? "left"
                                            : "declared dead by the membership",
                                        now);
    meshq_peers_apply (peers, entry, actions, NULL, NULL, now);
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
    s_event_t *events = self->events;
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
        s_apply (peers, &events[i], now);
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
    *state = rc ? "none" : s_state_name (known);
    return rc;
}

void
meshq_peers_swim_scan (meshq_peers_t *peers, int64_t now)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self || !self->swim)
        return;
    //  What to do is found with the lock held, and done without it.
    size_t cap = 64, count = 0;
    s_event_t *todo = malloc (cap * sizeof *todo);
    assert (todo);
    pthread_mutex_lock (&self->lock);
    self->changed = false;
    self->scanned = now;
    meshq_swim_stats_t stats;
    meshq_swim_stats (self->swim, &stats);
    //  A node alone joins again through its seeds.
    if (stats.alive + stats.suspect == 0 && peers->seed_count &&
        now - self->joined >= S_JOIN_MS) {
        self->joined = now;
        for (size_t i = 0; i < peers->seed_count; i++) {
            meshq_swim_addr_t addr;
            if (meshq_swim_udp_parse (peers->seed_list[i].endpoint, &addr) == 0)
                meshq_swim_join (self->swim, &addr);
        }
    }
    //  The overlay, from the members alive and ourselves.
    self->members = stats.alive + stats.suspect;
    //  Past full_links, where the membership is the failure detector of
    //  most pairs, a probe every two heartbeats: each member is still
    //  probed by someone every 500 ms or so, and an idle mesh of 256
    //  used half the CPU (0.39 cores instead of 0.68, measured with
    //  --heartbeat 500 --peer-timeout 4000).
    meshq_swim_set_probe_interval (self->swim,
                                   self->members > peers->config.full_links
                                       ? 2 * peers->config.heartbeat_ms
                                       : peers->config.heartbeat_ms);
    if (now - self->counted >= S_SAMPLE_MS) {
        self->counts[self->count_at] = self->members;
        self->count_at = (self->count_at + 1) % S_SAMPLES;
        self->counted = now;
    }
    self->filling = self->members <= peers->config.full_links &&
                    s_filling (self, peers->config.full_links);
    if (s_partial (self, peers->config.full_links)) {
        size_t n = 0;
        uint8_t (*ids)[16] = malloc ((self->members + 1) * 16);
        assert (ids);
        memcpy (ids[n++], peers->node, 16);
        uint32_t at = 0;
        uint8_t id[16];
        meshq_swim_state_t state;
        uint64_t incarnation;
        while (meshq_swim_walk (self->swim, &at, id, &state, &incarnation))
            if ((state == MESHQ_SWIM_ALIVE || state == MESHQ_SWIM_SUSPECT) &&
                n < self->members + 1)
                memcpy (ids[n++], id, 16);
        self->overlay_len =
            meshq_overlay_pick (ids, n, peers->node, self->overlay);
        free (ids);
    } else
        self->overlay_len = 0;
    self->linked = 0;
    for (size_t i = 0; i < peers->count; i++)
        if (peers->entries[i]->peer.state != MESHQ_PEER_IS_DOWN)
            self->linked++;
    uint32_t cursor = 0;
    s_event_t event = {.fresh = false};
    while (meshq_swim_walk (self->swim, &cursor, event.id, &event.state,
                            &event.incarnation)) {
        meshq_peers_entry_t *entry = meshq_peers_find (peers, event.id);
        bool linked = entry && entry->peer.state != MESHQ_PEER_IS_DOWN;
        //  Alive with no link, or gone with one.
        bool gone =
            event.state == MESHQ_SWIM_DEAD || event.state == MESHQ_SWIM_LEFT;
        if (event.state == MESHQ_SWIM_ALIVE ? linked : !(gone && linked))
            continue;
        if (event.state == MESHQ_SWIM_ALIVE &&
            !meshq_peers_swim_linkable (peers, event.id, now))
            continue;
        if (gone && entry->peer.incarnation > event.incarnation)
            continue;
        meshq_swim_member_addr (self->swim, event.id, &event.addr);
        if (count == cap) {
            cap *= 2;
            todo = realloc (todo, cap * sizeof *todo);
            assert (todo);
        }
        todo[count++] = event;
    }
    pthread_mutex_unlock (&self->lock);
    for (size_t i = 0; i < count; i++) {
        const s_event_t *item = &todo[i];
        if (item->state != MESHQ_SWIM_ALIVE) {
            s_apply (peers, item, now);
            continue;
        }
        //  As second-hand news: not retried within a timeout of its
        //  last try's end.
        char endpoint[MESHQ_ENDPOINT_MAX];
        s_endpoint (peers, &item->addr, endpoint, sizeof endpoint);
        if (*endpoint)
            meshq_peers_discovered (peers, item->id, item->incarnation,
                                    endpoint, true, true, now);
    }
    free (todo);
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
    return stats.awareness ? stats.awareness : 1;
}

static void
s_free_want (void **item)
{
    free (*item);
    *item = NULL;
}

void
meshq_peers_want (meshq_peers_t *peers, const uint8_t node[16])
{
    meshq_peers_swim_t *self = peers->membership;
    if ((!self || !self->swim) && peers->leader) {
        //  The one it follows links to it, and introduces us (VHOST).
        meshq_peers_want (peers->leader, node);
        return;
    }
    if (!self || !self->swim || memcmp (node, peers->node, 16) == 0)
        return;
    if (!self->wanted) {
        self->wanted = zhashx_new ();
        zhashx_set_destructor (self->wanted, s_free_want);
    }
    int64_t now = zclock_mono ();
    char hex[33];
    meshq_peers_hex (node, hex);
    int64_t *until = zhashx_lookup (self->wanted, hex);
    bool fresh = !until || *until <= now;
    if (!until) {
        if (zhashx_size (self->wanted) >= S_WANTS_MAX) {
            //  Past the bound, the ones that lapsed go first.
            zlistx_t *keys = zhashx_keys (self->wanted);
            for (char *key = zlistx_first (keys); key;
                 key = zlistx_next (keys)) {
                int64_t *when = zhashx_lookup (self->wanted, key);
                if (when && *when <= now)
                    zhashx_delete (self->wanted, key);
            }
            zlistx_destroy (&keys);
            if (zhashx_size (self->wanted) >= S_WANTS_MAX)
                return;
        }
        until = malloc (sizeof *until);
        assert (until);
        zhashx_insert (self->wanted, hex, until);
    }
    *until = now + S_WANT_MS;
    if (fresh && self->members > peers->config.full_links)
        meshq_peers_swim_scan (peers, now);
}

bool
meshq_peers_partial (meshq_peers_t *peers)
{
    meshq_peers_swim_t *self = peers->membership;
    if ((!self || !self->swim) && peers->leader)
        return meshq_peers_partial (peers->leader);
    return self && self->swim && self->members > peers->config.full_links;
}

bool
meshq_peers_needed (meshq_peers_t *peers, const uint8_t node[16])
{
    return meshq_peers_swim_needed (peers, node, zclock_mono ());
}

size_t
meshq_peers_unlinked (meshq_peers_t *peers, meshq_peers_member_t **members)
{
    *members = NULL;
    meshq_peers_swim_t *self = peers->membership;
    if (!self || !self->swim)
        return 0;
    size_t count = 0, capacity = 0;
    meshq_peers_member_t *out = NULL;
    pthread_mutex_lock (&self->lock);
    uint32_t cursor = 0;
    uint8_t id[16];
    meshq_swim_state_t state;
    uint64_t incarnation;
    while (meshq_swim_walk (self->swim, &cursor, id, &state, &incarnation)) {
        //  Entries never up (tries under way or failed) are not listed
        //  by meshq_peers_first: the member is listed here.
        meshq_peers_entry_t *entry = meshq_peers_find (peers, id);
        if ((state != MESHQ_SWIM_ALIVE && state != MESHQ_SWIM_SUSPECT) ||
            (entry && entry->listed))
            continue;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            out = realloc (out, capacity * sizeof *out);
            assert (out);
        }
        meshq_peers_member_t *member = &out[count++];
        memcpy (member->id, id, 16);
        meshq_peers_hex (id, member->id_hex);
        member->member = s_state_name (state);
        member->incarnation = incarnation;
        member->version = 0;
        meshq_swim_member (self->swim, id, NULL, NULL, &member->version);
        meshq_swim_addr_t addr;
        if (meshq_swim_member_addr (self->swim, id, &addr) == 0)
            s_endpoint (peers, &addr, member->endpoint,
                        sizeof member->endpoint);
        else
            *member->endpoint = 0;
    }
    pthread_mutex_unlock (&self->lock);
    *members = out;
    return count;
}

bool
meshq_peers_swim_due (meshq_peers_t *peers, int64_t now)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self || !self->swim)
        return false;
    pthread_mutex_lock (&self->lock);
    //  While it fills, the growth is sampled (and the links follow as
    //  it stops) every S_SAMPLE_MS.
    bool due = self->changed || now - self->scanned >= S_SCAN_MS ||
               (self->filling && now - self->scanned >= S_SAMPLE_MS);
    pthread_mutex_unlock (&self->lock);
    return due;
}
