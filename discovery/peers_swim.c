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
*/
#include "peers_internal.h"

#include <sodium.h>

//  Datagrams read per wakeup (zloop comes back for the rest).
#define S_BURST 256

//  How often the members are walked for ones without a link, and how
//  often a node alone joins again through its seeds.
#define S_SCAN_MS 250
#define S_JOIN_MS 1000

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
    meshq_peers_t *self = arg;
    meshq_swim_udp_send (self->swim_udp, addr, data, size);
}

//  The endpoint of a member's ROUTER: its address, at the same port.
static int
s_endpoint (meshq_peers_t *self, const uint8_t *id, char *out, size_t size)
{
    meshq_swim_addr_t addr;
    if (meshq_swim_member_addr (self->swim, id, &addr))
        return MESHQ_ENOTFOUND;
    return meshq_swim_udp_endpoint (&addr, self->iface.index, out, size);
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

static void
s_change (void *arg, const uint8_t *id, meshq_swim_state_t state,
          uint64_t incarnation)
{
    meshq_peers_t *self = arg;
    int64_t now = zclock_mono ();
    char hex[33];
    meshq_peers_hex (id, hex);
    zsys_info ("discovery: member %s id=%s incarnation=%" PRIu64,
               s_state_name (state), hex, incarnation);
    if (state == MESHQ_SWIM_ALIVE) {
        char endpoint[MESHQ_ENDPOINT_MAX];
        if (s_endpoint (self, id, endpoint, sizeof endpoint) == 0)
            meshq_peers_discovered (self, id, incarnation, endpoint, false,
                                    true, now);
        return;
    }
    if (state != MESHQ_SWIM_DEAD && state != MESHQ_SWIM_LEFT)
        return;
    meshq_peers_entry_t *entry = meshq_peers_find (self, id);
    //  The death of an older incarnation ends nothing of a newer one
    //  whose HELLO came first.
    if (!entry || entry->peer.incarnation > incarnation)
        return;
    unsigned actions = meshq_peer_dead (
        &entry->peer,
        state == MESHQ_SWIM_LEFT ? "left" : "declared dead by the membership",
        now);
    meshq_peers_apply (self, entry, actions, NULL, NULL, now);
}

//  Every member alive with no link gets one (a try refused while too
//  many were pending, a link that went down while its member stayed).
//  A node alone joins again through its seeds.
static void
s_scan (meshq_peers_t *self, int64_t now)
{
    if (now - self->swim_scanned < S_SCAN_MS)
        return;
    self->swim_scanned = now;
    meshq_swim_stats_t stats;
    meshq_swim_stats (self->swim, &stats);
    if (stats.alive + stats.suspect == 0 && self->seed_count &&
        now - self->swim_joined >= S_JOIN_MS) {
        self->swim_joined = now;
        for (size_t i = 0; i < self->seed_count; i++) {
            meshq_swim_addr_t addr;
            if (meshq_swim_udp_parse (self->seed_list[i].endpoint, &addr) == 0)
                meshq_swim_join (self->swim, &addr);
        }
    }
    uint32_t cursor = 0;
    uint8_t id[16];
    meshq_swim_state_t state;
    uint64_t incarnation;
    while (meshq_swim_walk (self->swim, &cursor, id, &state, &incarnation)) {
        if (state != MESHQ_SWIM_ALIVE)
            continue;
        meshq_peers_entry_t *entry = meshq_peers_find (self, id);
        if (entry && entry->peer.state != MESHQ_PEER_IS_DOWN)
            continue;
        char endpoint[MESHQ_ENDPOINT_MAX];
        if (s_endpoint (self, id, endpoint, sizeof endpoint) == 0)
            meshq_peers_discovered (self, id, incarnation, endpoint, true, true,
                                    now);
    }
}

static int s_timer (zloop_t *loop, int timer_id, void *arg);

//  Sets the one-shot timer to the membership's next deadline.
static void
s_arm (meshq_peers_t *self)
{
    int64_t now = zclock_mono ();
    int64_t next = meshq_swim_next (self->swim);
    if (next > self->swim_scanned + S_SCAN_MS)
        next = self->swim_scanned + S_SCAN_MS;
    if (self->swim_timer >= 0 && self->swim_at <= next)
        return;
    if (self->swim_timer >= 0)
        zloop_timer_end (self->loop, self->swim_timer);
    size_t delay = next > now ? (size_t)(next - now) : 1;
    self->swim_timer = zloop_timer (self->loop, delay, 1, s_timer, self);
    self->swim_at = now + (int64_t)delay;
}

static int
s_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    meshq_peers_t *self = arg;
    self->swim_timer = -1;  //  One shot: zloop forgets it.
    meshq_swim_tick (self->swim);
    s_scan (self, zclock_mono ());
    s_arm (self);
    return 0;
}

static int
s_input (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    meshq_peers_t *self = arg;
    for (int i = 0; i < S_BURST; i++) {
        const uint8_t *data;
        size_t size;
        meshq_swim_drop_t reason;
        int rc = meshq_swim_udp_recv (self->swim_udp, &data, &size, &reason);
        if (rc == MESHQ_EAGAIN)
            break;
        if (rc == 0)
            rc = meshq_swim_recv (self->swim, data, size);
        else if (reason == MESHQ_SWIM_DROP_MESH)
            continue;  //  Another mesh's on a shared port: normal.
        if (rc && meshq_peers_ratelog (&self->swim_log, zclock_mono ())) {
            const meshq_swim_udp_stats_t *udp =
                meshq_swim_udp_stats (self->swim_udp);
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
    s_arm (self);
    return 0;
}

int
meshq_peers_swim_open (meshq_peers_t *self, uint16_t port)
{
    if (self->curve)
        meshq_swim_udp_key (self->curve_secret, self->swim_key);
    return meshq_swim_udp_open (
        &self->swim_udp, &self->iface, port, self->mesh_id,
        self->curve ? self->swim_key : NULL, self->error, sizeof self->error);
}

int
meshq_peers_swim_start (meshq_peers_t *self)
{
    meshq_swim_config_t config;
    meshq_swim_config_defaults (&config);
    //  The node's timings: a probe a heartbeat, and a suspicion of a
    //  small mesh about half the peer timeout (it grows with log10 of
    //  the mesh's size, and shrinks with confirmations).
    const meshq_peers_config_t *c = &self->config;
    config.probe_interval_ms = c->heartbeat_ms;
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
    meshq_swim_udp_addr (self->swim_udp, &addr);
    uint64_t seed;
    randombytes_buf (&seed, sizeof seed);
    self->swim = meshq_swim_new (&config, &io, self->node, self->incarnation,
                                 &addr, seed);
    self->swim_item = (zmq_pollitem_t){NULL, meshq_swim_udp_fd (self->swim_udp),
                                       ZMQ_POLLIN, 0};
    if (zloop_poller (self->loop, &self->swim_item, s_input, self)) {
        self->swim_item.fd = -1;
        return MESHQ_EIO;
    }
    self->swim_scanned = zclock_mono ();
    self->swim_joined = INT64_MIN / 2;
    s_arm (self);
    return self->swim_timer >= 0 ? 0 : MESHQ_EIO;
}

void
meshq_peers_swim_stop (meshq_peers_t *self, bool goodbye)
{
    if (self->swim && goodbye)
        meshq_swim_leave (self->swim);
    if (self->swim_timer >= 0)
        zloop_timer_end (self->loop, self->swim_timer);
    self->swim_timer = -1;
    if (self->swim_udp && self->swim_item.fd > 0)
        zloop_poller_end (self->loop, &self->swim_item);
    self->swim_item.fd = -1;
    meshq_swim_destroy (&self->swim);
    meshq_swim_udp_destroy (&self->swim_udp);
    sodium_memzero (self->swim_key, sizeof self->swim_key);
}

void
meshq_peers_swim_heard (meshq_peers_t *self, const uint8_t node[16],
                        const char *endpoint)
{
    meshq_swim_addr_t addr;
    if (!self->swim || meshq_swim_udp_parse (endpoint, &addr))
        return;
    meshq_swim_stats_t stats;
    meshq_swim_stats (self->swim, &stats);
    //  Alone, join (our table for its); else a PING, if we do not have
    //  it alive, is all it takes.
    if (stats.alive + stats.suspect == 0)
        meshq_swim_join (self->swim, &addr);
    else
        meshq_swim_hello (self->swim, node, &addr);
    s_arm (self);
}

static bool
s_state_is (meshq_peers_t *self, const uint8_t node[16], bool suspect_only)
{
    meshq_swim_state_t state;
    if (!self->swim || meshq_swim_member (self->swim, node, &state, NULL, NULL))
        return false;
    return state == MESHQ_SWIM_SUSPECT ||
           (!suspect_only && state == MESHQ_SWIM_ALIVE);
}

bool
meshq_peers_swim_alive (meshq_peers_t *self, const uint8_t node[16])
{
    return s_state_is (self, node, false);
}

bool
meshq_peers_swim_suspect (meshq_peers_t *self, const uint8_t node[16])
{
    return s_state_is (self, node, true);
}
