/*  peers.c - discovery: the peer table's life cycle, start and stop.
    See peers.h.

    The table holds one entry per peer heard of, with its state machine
    (peer.c) and, while one is open, its link (link.c). Input handlers
    (beacons, frames on the ROUTER, link events) live in peers_input.c;
    both feed the state machine and carry out what it returns through
    s_apply, in one order: report down, close the link, open a link and
    say HELLO, report up. What the owner calls once it runs (send, walk
    the peers, facts and stats) is in peers_owner.c.
*/
#include "peers_internal.h"
#include "tick.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

//  ZMQ_ZAP_ENFORCE_DOMAIN, which zmq.h declares only in its draft API.
#define S_ZAP_ENFORCE_DOMAIN 93

//  Copies a string option, or its default.
static char *
s_dup (const char *value, const char *fallback)
{
    char *copy = strdup (value && *value ? value : fallback);
    assert (copy);
    return copy;
}

static bool
s_zero (const uint8_t *data, size_t size)
{
    uint8_t any = 0;
    for (size_t i = 0; i < size; i++)
        any |= data[i];
    return any == 0;
}

meshq_peers_t *
meshq_peers_new (const meshq_peers_config_t *config)
{
    assert (config);
    meshq_peers_t *self = zmalloc (sizeof *self);
    assert (self);
    self->config = *config;
    meshq_peers_config_t *c = &self->config;
    char host[256] = "meshq";
    if (!config->name || !*config->name)
        gethostname (host, sizeof host - 1);
    self->name = s_dup (config->name, host);
    self->mesh = s_dup (config->mesh, "default");
    self->vhost = s_dup (config->vhost, "/");
    const char *interface = config->interface;
    if (!interface || !*interface)
        interface = zsys_interface ();  //  "" when not set.
    self->interface = interface && *interface ? strdup (interface) : NULL;
    self->seeds = config->seeds ? strdup (config->seeds) : NULL;
    //  Ours after the owner's: idle links close by agreement
    //  (peers_unlink.c), and only with a peer that says it can.
    const char *owner = config->commands ? config->commands : "";
    self->commands = strlen (owner) + strlen (" UNLINK") <= 255
                         ? zsys_sprintf ("%s%sUNLINK", owner, *owner ? " " : "")
                         : NULL;
    //  Checked at start: both keys, each 40 characters of Z85.
    self->curve = config->curve_public || config->curve_secret;
    snprintf (self->curve_public, sizeof self->curve_public, "%s",
              config->curve_public ? config->curve_public : "");
    snprintf (self->curve_secret, sizeof self->curve_secret, "%s",
              config->curve_secret ? config->curve_secret : "");
    c->name = c->mesh = c->vhost = c->interface = c->seeds = NULL;
    c->curve_public = c->curve_secret = NULL;
    if (!c->beacon_port)
        c->beacon_port = MESHQ_BEACON_PORT;
    if (!c->beacon_interval_ms)
        c->beacon_interval_ms = MESHQ_PEERS_BEACON_MS;
    if (!c->beacon_slow_ms)
        c->beacon_slow_ms = MESHQ_PEERS_BACKOFF_MS;
    if (!c->heartbeat_ms)
        c->heartbeat_ms = MESHQ_PEERS_HEARTBEAT_MS;
    if (!c->peer_timeout_ms)
        c->peer_timeout_ms = MESHQ_PEERS_TIMEOUT_MS;
    if (!c->gossip_interval_ms)
        c->gossip_interval_ms = MESHQ_PEERS_GOSSIP_MS;
    if (!c->max_msg_size)
        c->max_msg_size = MESHQ_PEERS_MAX_MSG;
    if (!c->max_peers)
        c->max_peers = MESHQ_PEERS_MAX;
    if (!c->full_links)
        c->full_links = MESHQ_PEERS_FULL_LINKS;
    if (!c->max_links)
        c->max_links = c->full_links + 64 > MESHQ_PEERS_MAX_LINKS
                           ? c->full_links + 64
                           : MESHQ_PEERS_MAX_LINKS;
    self->stats.links_max = c->max_links;
    if (!c->seed_refresh_ms)
        c->seed_refresh_ms = MESHQ_PEERS_RESOLVE_MS;
    if (s_zero (config->node, sizeof config->node)) {
        zuuid_t *uuid = zuuid_new ();
        assert (uuid);
        memcpy (self->node, zuuid_data (uuid), 16);
        zuuid_destroy (&uuid);
    } else
        memcpy (self->node, config->node, 16);
    meshq_peers_hex (self->node, self->node_hex);
    self->incarnation = config->incarnation;
    if (!self->incarnation) {
        //  Wall-clock microseconds: rises across restarts of the node,
        //  which is what tells peers a restart from a stale beacon.
        struct timespec now;
        clock_gettime (CLOCK_REALTIME, &now);
        self->incarnation =
            (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
    }
    meshq_beacon_mesh_id (self->mesh, self->vhost, self->mesh_id);
    self->index = zhashx_new ();
    assert (self->index);
    self->entries = calloc (c->max_peers, sizeof *self->entries);
    self->gossip = calloc (MESHQ_GOSSIP_MAX, sizeof *self->gossip);
    assert (self->entries && self->gossip);
    meshq_buf_init (&self->buf);
    meshq_buf_init (&self->hello);
    self->beacon_timer = self->tick_timer = -1;
    return self;
}

void
meshq_peers_destroy (meshq_peers_t **self_p)
{
    assert (self_p);
    meshq_peers_t *self = *self_p;
    if (!self)
        return;
    meshq_peers_stop (self, true);
    zhashx_destroy (&self->index);
    free (self->entries);
    free (self->gossip);
    meshq_buf_fini (&self->buf);
    meshq_buf_fini (&self->hello);
    free (self->name);
    free (self->mesh);
    free (self->vhost);
    free (self->interface);
    free (self->seeds);
    for (size_t i = 0; i < self->seed_names; i++)
        free (self->seed_hosts[i]);
    free (self->commands);
    sodium_memzero (self->curve_secret, sizeof self->curve_secret);
    sodium_memzero (self->beacon_key, sizeof self->beacon_key);
    free (self);
    *self_p = NULL;
}

void
meshq_peers_set_handler (meshq_peers_t *self, meshq_peers_fn *fn, void *arg)
{
    assert (self);
    self->handler = fn;
    self->handler_arg = arg;
}

void
meshq_peers_set_gone (meshq_peers_t *self, meshq_peers_gone_fn *fn, void *arg)
{
    assert (self);
    self->gone_fn = fn;
    self->gone_arg = arg;
}

void
meshq_peers_follow (meshq_peers_t *self, meshq_peers_t *membership)
{
    assert (self && self != membership);
    self->leader = membership;
}

// --------------------------------------------------------------------
//  Start and stop

//  Writes a sentence to self->error; returns code.
static int
s_error (meshq_peers_t *self, int code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    return code;
}

static int
s_check_name (meshq_peers_t *self, const char *what, const char *value)
{
    size_t size = strlen (value);
    if (size > 255 || !meshq_utf8_valid (value, size))
        return s_error (self, MESHQ_EINVAL,
                        "%s must be UTF-8 of at most 255 bytes", what);
    return 0;
}

static int
s_check_config (meshq_peers_t *self)
{
    const meshq_peers_config_t *c = &self->config;
    int rc = s_check_name (self, "the node name", self->name);
    if (rc == 0)
        rc = s_check_name (self, "the mesh name", self->mesh);
    if (rc == 0)
        rc = s_check_name (self, "the vhost name", self->vhost);
    if (rc)
        return rc;
    if (c->heartbeat_ms < MESHQ_HEARTBEAT_MIN ||
        c->heartbeat_ms > MESHQ_HEARTBEAT_MAX)
        return s_error (self, MESHQ_EINVAL,
                        "heartbeat %u ms is outside %d..%d ms", c->heartbeat_ms,
                        MESHQ_HEARTBEAT_MIN, MESHQ_HEARTBEAT_MAX);
    if (c->peer_timeout_ms < 3 * c->heartbeat_ms ||
        c->peer_timeout_ms > MESHQ_TIMEOUT_MAX)
        return s_error (self, MESHQ_EINVAL,
                        "peer timeout %u ms must be at least three "
                        "heartbeats (%u ms) and at most %d ms",
                        c->peer_timeout_ms, 3 * c->heartbeat_ms,
                        MESHQ_TIMEOUT_MAX);
    if (c->beacon_interval_ms < 10 || c->beacon_interval_ms > 60000)
        return s_error (self, MESHQ_EINVAL,
                        "beacon interval %u ms is outside 10..60000 ms",
                        c->beacon_interval_ms);
    if (c->gossip_interval_ms < 10 || c->gossip_interval_ms > 600000)
        return s_error (self, MESHQ_EINVAL,
                        "gossip interval %u ms is outside 10..600000 ms",
                        c->gossip_interval_ms);
    if (c->max_links < c->full_links)
        return s_error (self, MESHQ_EINVAL,
                        "max_links %u is below full_links %u: a mesh of up "
                        "to full_links members links every pair, so "
                        "max_links must be at least full_links",
                        c->max_links, c->full_links);
    if (c->max_peers > MESHQ_GOSSIP_MAX)
        return s_error (self, MESHQ_EINVAL, "at most %d peers; %zu asked for",
                        MESHQ_GOSSIP_MAX, c->max_peers);
    if (self->curve) {
        uint8_t key[32];
        if (strlen (self->curve_public) != 40 ||
            strlen (self->curve_secret) != 40 ||
            !zmq_z85_decode (key, self->curve_public) ||
            !zmq_z85_decode (key, self->curve_secret))
            return s_error (self, MESHQ_EINVAL,
                            "the mesh's CURVE keys must both be 40 "
                            "characters of Z85");
        sodium_memzero (key, sizeof key);
        if (!zmq_has ("curve"))
            return s_error (self, MESHQ_EINVAL,
                            "this libzmq has no CURVE security (it was "
                            "built without libsodium); a mesh secret "
                            "needs it");
    }
    return meshq_peers_seeds_parse (self);
}

//  The ROUTER and its monitor are plain libzmq sockets, not zsock: CZMQ
//  asserts when libzmq refuses a socket (its socket limit, or the
//  process's open files), which must be an error here: start fails and
//  says why. (A probe socket closed just before zsock_new is no help:
//  libzmq frees its slot later, on its reaper thread.) CZMQ's option
//  setters and zmsg_recv take them as they are.
static void *
s_socket_new (int type)
{
    void *socket = zmq_socket (zsys_init (), type);
    if (socket) {
        int linger = 0;
        zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
    }
    return socket;
}

static void
s_socket_destroy (void **socket_p)
{
    if (*socket_p)
        zmq_close (*socket_p);
    *socket_p = NULL;
}

static int
s_bind_router (meshq_peers_t *self)
{
    const meshq_iface_t *iface = &self->iface;
    bool ipv6 = iface->family == AF_INET6;
    self->router = s_socket_new (ZMQ_ROUTER);
    if (!self->router)
        return s_error (self, MESHQ_EIO, "cannot create the ROUTER: %s",
                        zmq_strerror (zmq_errno ()));
    zsock_set_ipv6 (self->router, ipv6);
    zsock_set_linger (self->router, 0);
    zsock_set_maxmsgsize (self->router, (int64_t)self->config.max_msg_size);
    //  A restarted peer keeping its node id reconnects with the same
    //  routing id before its old connection is gone.
    zsock_set_router_handover (self->router, 1);
    if (self->curve) {
        //  One keypair for the whole mesh; the ZAP handler accepts only
        //  clients that hold it (see MESHQ_PEERS_ZAP_PREFIX).
        char domain[sizeof MESHQ_PEERS_ZAP_PREFIX + sizeof self->curve_public];
        snprintf (domain, sizeof domain, "%s%s", MESHQ_PEERS_ZAP_PREFIX,
                  self->curve_public);
        zsock_set_curve_server (self->router, 1);
        zsock_set_curve_secretkey (self->router, self->curve_secret);
        zsock_set_zap_domain (self->router, domain);
        //  Without a ZAP handler in the process (its agent stopped),
        //  libzmq would accept any client that knows our public key;
        //  enforcing the domain makes it refuse them instead. A draft
        //  option in libzmq 4.3: where it is missing, the handler that
        //  every agent binds still does the check.
        int enforce = 1;
        if (zmq_setsockopt (self->router, S_ZAP_ENFORCE_DOMAIN, &enforce,
                            sizeof enforce))
            zsys_debug ("discovery: libzmq cannot enforce the ZAP domain");
    }
    char port[8] = "*";
    if (self->config.port)
        snprintf (port, sizeof port, "%u", self->config.port);
    //  libzmq itself, not zsock_bind: for "*" CZMQ tries the ports from
    //  49152 up one by one, which when 32 agents start at once is up to
    //  32 failed binds each; libzmq asks the kernel for a free port.
    char endpoint[MESHQ_ENDPOINT_MAX];
    uint16_t bound = 0;
    //  The membership's UDP socket takes the same port number: where an
    //  ephemeral one is taken for UDP, the ROUTER tries another.
    for (int tries = 0;; tries++) {
        size_t size = sizeof endpoint;
        snprintf (endpoint, sizeof endpoint,
                  ipv6 ? "tcp://[%s]:%s" : "tcp://%s:%s", iface->address, port);
        if (zmq_bind (self->router, endpoint) ||
            zmq_getsockopt (self->router, ZMQ_LAST_ENDPOINT, endpoint, &size) ||
            meshq_iface_endpoint_port (endpoint, &bound))
            return s_error (self, MESHQ_EIO,
                            "cannot bind the mesh endpoint on %s port %s: %s; "
                            "choose another --port",
                            iface->address, port, zmq_strerror (zmq_errno ()));
        //  With no membership of its own, no UDP socket either.
        int rc = self->config.no_membership
                     ? 0
                     : meshq_peers_swim_open (self, bound);
        if (rc == 0)
            break;
        if (rc != MESHQ_EEXIST || self->config.port || tries == 16)
            return rc;
        zmq_unbind (self->router, endpoint);
    }
    //  One monitor for every peer's connection to us: when one is lost
    //  (its process died, or closed it), the peer is suspect at once.
    char monitor[128];
    snprintf (monitor, sizeof monitor, "inproc://meshq-router-%s-%" PRIu64,
              self->node_hex, self->incarnation);
    if (zmq_socket_monitor (self->router, monitor,
                            ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                                MESHQ_PEERS_HANDSHAKE_EVENTS))
        return s_error (self, MESHQ_EIO, "cannot monitor the ROUTER: %s",
                        zmq_strerror (zmq_errno ()));
    self->monitor = s_socket_new (ZMQ_PAIR);
    if (!self->monitor || zmq_connect (self->monitor, monitor))
        return s_error (self, MESHQ_EIO, "cannot read the ROUTER's monitor");
    const void *address =
        ipv6 ? (const void *)&iface->ipv6 : (const void *)&iface->ipv4;
    meshq_iface_endpoint (iface->family, address, iface->index, (uint16_t)bound,
                          self->endpoint, sizeof self->endpoint);
    return 0;
}

static int
s_open_beacon (meshq_peers_t *self)
{
    self->udp = meshq_udp_new ();
    char error[384];
    int rc = meshq_udp_open (self->udp, &self->iface, self->config.transport,
                             self->config.beacon_port, error, sizeof error);
    if (rc)
        return s_error (self, rc, "%s", error);
    meshq_beacon_t beacon = {.incarnation = self->incarnation};
    memcpy (beacon.node, self->node, 16);
    memcpy (beacon.mesh, self->mesh_id, 16);
    meshq_iface_endpoint_port (self->endpoint, &beacon.port);
    //  With a mesh secret, beacons are sealed with a key derived from
    //  it: a forged one is dropped before it can open anything.
    if (self->curve) {
        meshq_beacon_key (self->curve_secret, self->beacon_key);
        meshq_beacon_seal (&beacon, self->beacon_key, self->beacon);
        self->beacon_size = MESHQ_BEACON_SEALED_SIZE;
    } else {
        meshq_beacon_encode (&beacon, self->beacon);
        self->beacon_size = MESHQ_BEACON_SIZE;
    }
    //  The first beacon goes now: a socket that cannot send (IPv6 on
    //  loopback, a network that is not there) fails here, rather than
    //  leaving a node running mute.
    if (meshq_udp_send (self->udp, self->beacon, self->beacon_size))
        return s_error (
            self, MESHQ_EIO,
            "cannot send beacons by %s on %s: %s; choose another "
            "--interface or --transport",
            meshq_udp_transport_name (meshq_udp_transport (self->udp)),
            self->iface.name, strerror (errno));
    self->stats.beacons_sent++;
    return 0;
}

static int
s_encode_hello (meshq_peers_t *self)
{
    meshq_hello_t hello = {
        .protocol = MESHQ_PEER_PROTOCOL,
        .incarnation = self->incarnation,
        .name = {self->name, (uint32_t)strlen (self->name)},
        .version = {MESHQ_PEERS_VERSION, sizeof MESHQ_PEERS_VERSION - 1},
        .mesh = {self->mesh, (uint32_t)strlen (self->mesh)},
        .vhost = {self->vhost, (uint32_t)strlen (self->vhost)},
        .endpoint = {self->endpoint, (uint32_t)strlen (self->endpoint)},
        .heartbeat_ms = self->config.heartbeat_ms,
        .timeout_ms = self->config.peer_timeout_ms,
    };
    if (self->commands)
        hello.commands =
            (meshq_span_t){self->commands, (uint32_t)strlen (self->commands)};
    memcpy (hello.node, self->node, 16);
    const char *why;
    self->hello_fields = hello;
    int rc = meshq_codec_encode_hello (&hello, &self->hello, &why);
    if (rc)
        return s_error (self, rc, "cannot encode our HELLO: %s", why);
    return 0;
}

static int s_beacon_timer (zloop_t *loop, int timer_id, void *arg);

//  One shot at the next beacon the pace asks for: a joined agent that
//  beacons every 8 s wakes for it every 8 s, not every 250 ms.
static void
s_beacon_arm (meshq_peers_t *self, int64_t now)
{
    int64_t next = self->beacon_pace.next;
    if (self->beacon_timer >= 0) {
        if (self->beacon_at <= next)
            return;
        zloop_timer_end (self->loop, self->beacon_timer);
    }
    size_t delay = next > now ? (size_t)(next - now) : 1;
    self->beacon_timer =
        zloop_timer (self->loop, delay, 1, s_beacon_timer, self);
    self->beacon_at = now + (int64_t)delay;
}

static int
s_beacon_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    meshq_peers_t *self = arg;
    self->beacon_timer = -1;  //  One shot: zloop forgets it.
    int64_t now = zclock_mono ();
    if (!meshq_beacon_pace_due (&self->beacon_pace, now)) {
        s_beacon_arm (self, now);
        return 0;
    }
    meshq_beacon_pace_members (&self->beacon_pace,
                               (uint32_t)self->stats.members_alive);
    meshq_beacon_pace_sent (&self->beacon_pace, self->up_count > 0, now);
    //  Past the slow interval, a random part of the wait less: agents
    //  that joined together do not beacon together ever after.
    uint32_t wait = self->beacon_pace.interval_ms;
    if (wait > self->config.beacon_slow_ms)
        self->beacon_pace.next -= (int64_t)randombytes_uniform (wait / 2);
    if (meshq_udp_send (self->udp, self->beacon, self->beacon_size) == 0)
        self->stats.beacons_sent++;
    else {
        self->stats.beacon_errors++;
        if (meshq_peers_ratelog (&self->error_log, now))
            zsys_warning ("discovery: beacon not sent interface=%s error=%s "
                          "failures=%" PRIu64,
                          self->iface.name, strerror (errno),
                          self->stats.beacon_errors);
    }
    s_beacon_arm (self, now);
    return 0;
}

int
meshq_peers_start (meshq_peers_t *self, zloop_t *loop, const char **why)
{
    assert (self && loop && why);
    assert (!self->started);
    self->loop = loop;
    *why = self->error;
    int rc = s_check_config (self);
    int family =
        self->config.transport == MESHQ_TRANSPORT_IPV6 ? AF_INET6 : AF_INET;
    if (rc == 0)
        rc = meshq_iface_resolve (self->interface, family, &self->iface,
                                  self->error, sizeof self->error);
    if (rc == 0)
        rc = s_bind_router (self);
    //  Beacons find the mesh for the membership: none without one.
    if (rc == 0 && !self->config.no_beacon && !self->config.no_membership)
        rc = s_open_beacon (self);
    if (rc == 0)
        rc = s_encode_hello (self);
    self->router_item = (zmq_pollitem_t){self->router, 0, ZMQ_POLLIN, 0};
    self->monitor_item = (zmq_pollitem_t){self->monitor, 0, ZMQ_POLLIN, 0};
    if (rc == 0 && (zloop_poller (loop, &self->router_item,
                                  meshq_peers_router_input, self) ||
                    zloop_poller (loop, &self->monitor_item,
                                  meshq_peers_monitor_input, self)))
        rc = s_error (self, MESHQ_EIO, "cannot watch the ROUTER");
    self->started = true;  //  From here, stop undoes what was done.
    if (rc == 0 && self->udp) {
        //  Beacons are read on the membership's thread (peers_swim.c);
        //  they are sent from here. The first went in s_open_beacon.
        meshq_beacon_pace_init (&self->beacon_pace,
                                self->config.beacon_interval_ms,
                                self->config.beacon_slow_ms, zclock_mono ());
        meshq_beacon_pace_sent (&self->beacon_pace, false, zclock_mono ());
        s_beacon_arm (self, zclock_mono ());
    }
    if (rc == 0) {
        //  A heartbeat: idle links send nothing, so this only times
        //  tries, waits and expiry (once a second when all is calm).
        size_t tick = self->config.heartbeat_ms;
        self->tick_calm = false;
        self->tick_timer =
            meshq_tick_arm (loop, tick < 5 ? 5 : tick, meshq_peers_tick, self);
        if (self->tick_timer < 0 ||
            (!self->config.no_membership && meshq_peers_swim_start (self)))
            rc = s_error (self, MESHQ_EIO, "cannot start the timers");
    }
    if (rc == 0)
        rc = meshq_peers_seeds_open (self);
    if (rc) {
        meshq_peers_stop (self, false);
        return rc;
    }
    self->started_ms = zclock_mono ();
    self->stranger_tokens = MESHQ_PEERS_STRANGERS_BURST;
    self->stranger_refill = self->started_ms;
    self->cap_theirs = INT64_MIN / 2;
    zsys_notice ("discovery: started node=%s name=%s mesh=%s vhost=%s "
                 "endpoint=%s interface=%s transport=%s incarnation=%" PRIu64
                 " membership=%s",
                 self->node_hex, self->name, self->mesh, self->vhost,
                 self->endpoint, self->iface.name, meshq_peers_transport (self),
                 self->incarnation,
                 self->config.no_membership ? "shared" : "own");
    if (meshq_peers_insecure (self))
        zsys_warning ("discovery: insecure mesh=%s vhost=%s interface=%s: "
                      "reachable from the network with no mesh secret; "
                      "anyone there can join it and read its messages",
                      self->mesh, self->vhost, self->iface.name);
    return 0;
}

void
meshq_peers_stop (meshq_peers_t *self, bool goodbye)
{
    assert (self);
    if (!self->started)
        return;
    if (goodbye) {
        meshq_buf_reset (&self->buf);
        meshq_codec_encode_bye (&self->buf);
        for (size_t i = 0; i < self->count; i++) {
            meshq_peers_entry_t *entry = self->entries[i];
            if (!entry->link || !entry->peer.reported)
                continue;
            meshq_link_set_linger (entry->link, 200);
            meshq_peers_send_frame (self, entry, "BYE", &self->buf);
        }
    }
    meshq_peers_clear (self);
    meshq_peers_close_seeds (self);
    if (self->beacon_timer >= 0)
        zloop_timer_end (self->loop, self->beacon_timer);
    if (self->tick_timer >= 0)
        zloop_timer_end (self->loop, self->tick_timer);
    self->beacon_timer = self->tick_timer = -1;
    meshq_peers_swim_stop (self, goodbye);
    meshq_udp_destroy (&self->udp);
    if (self->monitor) {
        zloop_poller_end (self->loop, &self->monitor_item);
        zmq_socket_monitor (self->router, NULL, 0);
        s_socket_destroy (&self->monitor);
    }
    if (self->router)
        zloop_poller_end (self->loop, &self->router_item);
    s_socket_destroy (&self->router);
    self->started = false;
    self->loop = NULL;
}
