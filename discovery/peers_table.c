/*  peers_table.c - the peer table, the actions its state machine asks
    for, and the timers that drive it. See peers_internal.h.

    Actions are carried out in one order (meshq_peer_action_t): report
    down with the old facts, close the old link, take the new facts
    (name, endpoint), open a link and say HELLO, report up and gossip.
*/
#include "peers_internal.h"
#include "tick.h"

#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <unistd.h>

//  Longest wait for a probe's answer.
#define S_PROBE_MAX_MS 10000

// --------------------------------------------------------------------
//  The table

void
meshq_peers_hex (const uint8_t node[16], char hex[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[node[i] >> 4];
        hex[2 * i + 1] = digits[node[i] & 15];
    }
    hex[32] = 0;
}

meshq_peers_entry_t *
meshq_peers_find (meshq_peers_t *self, const uint8_t node[16])
{
    char hex[33];
    meshq_peers_hex (node, hex);
    return zhashx_lookup (self->index, hex);
}

void
meshq_peers_clear (meshq_peers_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        meshq_peers_probe_stop (self, self->entries[i]);
        meshq_link_destroy (&self->entries[i]->link);
        free (self->entries[i]);
    }
    self->count = 0;
    self->up_count = 0;
    zhashx_purge (self->index);
}

static void
s_remove (meshq_peers_t *self, size_t i)
{
    meshq_peers_entry_t *entry = self->entries[i];
    assert (!entry->peer.reported);
    meshq_peers_probe_stop (self, entry);
    meshq_link_destroy (&entry->link);
    zhashx_delete (self->index, entry->hex);
    free (entry);
    self->entries[i] = self->entries[--self->count];
}

meshq_peers_entry_t *
meshq_peers_add (meshq_peers_t *self, const uint8_t node[16], int64_t now)
{
    if (self->count == self->config.max_peers) {
        //  Full: make room by the peer that has been down longest, one
        //  that never came up first. Up peers are never evicted.
        size_t victim = self->count;
        for (size_t i = 0; i < self->count; i++) {
            const meshq_peers_entry_t *entry = self->entries[i];
            if (entry->peer.state != MESHQ_PEER_IS_DOWN)
                continue;
            if (victim == self->count) {
                victim = i;
                continue;
            }
            const meshq_peers_entry_t *best = self->entries[victim];
            if ((!entry->listed && best->listed) ||
                (entry->listed == best->listed &&
                 entry->peer.since < best->peer.since))
                victim = i;
        }
        if (victim == self->count)
            return NULL;
        s_remove (self, victim);
    }
    meshq_peers_entry_t *entry = zmalloc (sizeof *entry);
    assert (entry);
    entry->owner = self;
    entry->fd = entry->probe = -1;
    memcpy (entry->node, node, 16);
    meshq_peers_hex (node, entry->hex);
    uint32_t timeout = self->config.peer_timeout_ms;
    uint32_t retention = 10 * timeout > 60000 ? 10 * timeout : 60000;
    meshq_peer_init (&entry->peer, self->config.heartbeat_ms, timeout,
                     retention, now);
    //  Idle links are the membership's to watch.
    entry->peer.lazy = true;
    self->entries[self->count++] = entry;
    zhashx_insert (self->index, entry->hex, entry);
    return entry;
}

const meshq_peer_info_t *
meshq_peers_info (meshq_peers_entry_t *entry, int64_t now)
{
    meshq_peer_info_t *info = &entry->info;
    memcpy (info->id, entry->node, 16);
    info->id_hex = entry->hex;
    info->name = entry->name;
    info->endpoint = entry->endpoint;
    info->state = meshq_peer_state_name (entry->peer.state);
    meshq_peers_swim_member (entry->owner, entry->node, &info->member,
                             &info->member_inc, &info->member_ver);
    //  Up on its link, but the mesh cannot reach it: suspect.
    if (entry->peer.state == MESHQ_PEER_IS_UP &&
        streq (info->member, "suspect"))
        info->state = "suspect";
    info->incarnation =
        entry->listed ? entry->peer.up_incarnation : entry->peer.incarnation;
    info->last_seen_ms =
        now > entry->peer.heard ? (uint64_t)(now - entry->peer.heard) : 0;
    info->reason = entry->peer.reason;
    info->commands = entry->commands;
    return info;
}

static void
s_report (meshq_peers_t *self, meshq_peers_entry_t *entry,
          meshq_peer_event_t event, int64_t now)
{
    const meshq_peer_info_t *info = meshq_peers_info (entry, now);
    if (event == MESHQ_PEER_UP) {
        entry->listed = true;
        self->up_count++;
        self->stats.peer_up_events++;
        zsys_notice ("discovery: peer up id=%s name=%s endpoint=%s "
                     "incarnation=%" PRIu64,
                     entry->hex, entry->name, entry->endpoint,
                     info->incarnation);
        //  Two agents started with one --name: both see it, each in the
        //  other's HELLO, and say so with both ids.
        if (*entry->name && strcmp (entry->name, self->name) == 0) {
            self->stats.duplicate_names++;
            zsys_warning ("discovery: duplicate name=%s id=%s peer=%s "
                          "endpoint=%s: two agents of one mesh have the "
                          "same name; give each its own --name",
                          self->name, self->node_hex, entry->hex,
                          entry->endpoint);
        }
    } else {
        //  The session that ended, which a restart may already have
        //  replaced in the state machine.
        meshq_peer_info_t *down = &entry->info;
        down->incarnation = entry->peer.down_incarnation;
        down->reason = entry->peer.down_reason;
        down->state = "down";
        assert (self->up_count > 0);
        self->up_count--;
        //  An idle link closed by agreement: the member stays alive
        //  and listed, so it is neither a peer down nor counted as one.
        if (entry->peer.unlinked)
            zsys_info ("discovery: link closed id=%s name=%s endpoint=%s "
                       "incarnation=%" PRIu64 " reason=\"%s\"",
                       entry->hex, entry->name, entry->endpoint,
                       info->incarnation, info->reason);
        else {
            self->stats.peer_down_events++;
            zsys_notice ("discovery: peer down id=%s name=%s endpoint=%s "
                         "incarnation=%" PRIu64 " reason=\"%s\"",
                         entry->hex, entry->name, entry->endpoint,
                         info->incarnation, info->reason);
        }
    }
    if (self->handler)
        self->handler (self->handler_arg, event, info, NULL);
}

//  Replaces the scope of a link-local IPv6 endpoint (the sender's
//  interface) with ours, which is what the address means here.
static void
s_localize (const meshq_peers_t *self, const char *endpoint, char *out,
            size_t size)
{
    const char *percent = strchr (endpoint, '%');
    const char *close = percent ? strchr (percent, ']') : NULL;
    if (!close) {
        snprintf (out, size, "%s", endpoint);
        return;
    }
    snprintf (out, size, "%.*s%%%s%s", (int)(percent - endpoint), endpoint,
              self->iface.name, close);
}

//  Says HELLO on the entry's link, with our session number and the
//  last of its we saw.
static void
s_send_hello (meshq_peers_t *self, meshq_peers_entry_t *entry)
{
    meshq_hello_t hello = self->hello_fields;
    hello.session = entry->peer.session;
    hello.ack = entry->peer.peer_session;
    meshq_buf_reset (&self->buf);
    if (meshq_codec_encode_hello (&hello, &self->buf, NULL) == 0)
        meshq_peers_send_frame (self, entry, "HELLO", &self->buf);
}

static void
s_open_link (meshq_peers_t *self, meshq_peers_entry_t *entry)
{
    assert (!entry->link);
    meshq_link_options_t options = {
        .prefix = MESHQ_LINK_PREFIX,
        .node = self->node,
        .ipv6 = strchr (entry->endpoint, '[') != NULL,
        .timeout_ms = (int)self->config.peer_timeout_ms,
        .curve_public = self->curve ? self->curve_public : NULL,
        .curve_secret = self->curve ? self->curve_secret : NULL,
    };
    entry->link = meshq_link_new ();
    if (meshq_link_open (entry->link, entry->endpoint, &options)) {
        //  libzmq refused a socket (too many sockets or open files): no
        //  link, so nothing is sent; the try ends at the HELLO timeout
        //  and a beacon starts another.
        self->stats.link_errors++;
        if (meshq_peers_ratelog (&self->error_log, zclock_mono ()))
            zsys_warning ("discovery: cannot open link id=%s endpoint=%s "
                          "error=\"%s\" errors=%" PRIu64,
                          entry->hex, entry->endpoint,
                          zmq_strerror (zmq_errno ()), self->stats.link_errors);
        meshq_link_destroy (&entry->link);
        return;
    }
    meshq_peers_cap_opened (self);
    s_send_hello (self, entry);
}

void
meshq_peers_probe_start (meshq_peers_t *self, meshq_peers_entry_t *entry)
{
    if (entry->probe >= 0 || !entry->link)
        return;
    //  The endpoint is numeric (checked when it came in), so no name is
    //  looked up: tcp://A.B.C.D:PORT or tcp://[V6%SCOPE]:PORT.
    const char *host = entry->endpoint + strlen ("tcp://");
    const char *colon = strrchr (host, ':');
    char address[MESHQ_ADDRESS_MAX];
    bool bracket = *host == '[';
    size_t size = (size_t)(colon - host) - (bracket ? 2 : 0);
    if (!colon || size >= sizeof address)
        return;
    memcpy (address, host + bracket, size);
    address[size] = 0;
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *found;
    if (getaddrinfo (address, colon + 1, &hints, &found))
        return;
    int fd = socket (found->ai_family,
                     SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect (fd, found->ai_addr, found->ai_addrlen) &&
        errno != EINPROGRESS) {
        //  Refused at once (loopback does that): no need to poll.
        int error = errno;
        close (fd);
        freeaddrinfo (found);
        if (error == ECONNREFUSED)
            meshq_peers_refused (self, entry, zclock_mono ());
        return;
    }
    freeaddrinfo (found);
    if (fd < 0)
        return;
    entry->probe = fd;
    entry->probe_item = (zmq_pollitem_t){NULL, fd, ZMQ_POLLOUT, 0};
    //  Within libzmq's handshake interval (30 s): a live peer that
    //  greeted us would close at its end, and look dead.
    entry->probe_deadline =
        zclock_mono () + (entry->peer.timeout_ms < S_PROBE_MAX_MS
                              ? entry->peer.timeout_ms
                              : S_PROBE_MAX_MS);
    if (zloop_poller (self->loop, &entry->probe_item, meshq_peers_probe_input,
                      entry)) {
        close (fd);
        entry->probe = -1;
    }
}

void
meshq_peers_probe_stop (meshq_peers_t *self, meshq_peers_entry_t *entry)
{
    if (entry->probe < 0)
        return;
    zloop_poller_end (self->loop, &entry->probe_item);
    close (entry->probe);
    entry->probe = -1;
}

void
meshq_peers_apply (meshq_peers_t *self, meshq_peers_entry_t *entry,
                   unsigned actions, const char *endpoint,
                   const meshq_hello_t *hello, int64_t now)
{
    if (actions)
        meshq_peers_hurry (self);
    if (actions & MESHQ_PEER_REPORT_DOWN)
        s_report (self, entry, MESHQ_PEER_DOWN, now);
    if (actions & MESHQ_PEER_CLOSE_LINK) {
        meshq_peers_probe_stop (self, entry);
        meshq_link_destroy (&entry->link);
        entry->fd = -1;
    }
    if (hello) {
        snprintf (entry->name, sizeof entry->name, "%.*s",
                  (int)hello->name.size, hello->name.data);
        snprintf (entry->commands, sizeof entry->commands, "%.*s",
                  (int)hello->commands.size,
                  hello->commands.data ? hello->commands.data : "");
        snprintf (entry->advertised, sizeof entry->advertised, "%.*s",
                  (int)hello->endpoint.size, hello->endpoint.data);
    }
    if (actions & MESHQ_PEER_OPEN_LINK) {
        if (endpoint)
            s_localize (self, endpoint, entry->endpoint,
                        sizeof entry->endpoint);
        //  Room was made before the state machine was asked, where a
        //  peer's HELLO or a member opens it; anything else that would
        //  pass the cap waits: the try ends at the HELLO timeout.
        if (meshq_peers_cap_room (self, entry, entry->node, false, now))
            s_open_link (self, entry);
    }
    if ((actions & MESHQ_PEER_SEND_HELLO) && entry->link)
        s_send_hello (self, entry);
    if (actions & MESHQ_PEER_REPORT_UP)
        s_report (self, entry, MESHQ_PEER_UP, now);
    if ((actions & MESHQ_PEER_SEND_PING) && entry->link) {
        meshq_buf_reset (&self->buf);
        meshq_codec_encode_ping (++self->ping_seq, &self->buf);
        meshq_peers_send_frame (self, entry, "PING", &self->buf);
    }
    if (actions & MESHQ_PEER_LOG_SUSPECT)
        zsys_notice ("discovery: peer suspect id=%s name=%s reason=\"%s\"",
                     entry->hex, entry->name, entry->peer.reason);
    if (actions & MESHQ_PEER_LOG_BACK)
        zsys_info ("discovery: peer back id=%s name=%s", entry->hex,
                   entry->name);
}

int
meshq_peers_link_send (meshq_peers_t *self, meshq_peers_entry_t *entry,
                       zmsg_t **msg_p)
{
    size_t size = *msg_p ? zmsg_content_size (*msg_p) : 0;
    int rc = meshq_link_send (entry->link, msg_p);
    if (rc == 0) {
        self->stats.frames_sent++;
        self->stats.bytes_sent += size;
        meshq_peer_sent (&entry->peer, zclock_mono ());
    } else
        self->stats.send_errors++;
    return rc;
}

int
meshq_peers_send_frame (meshq_peers_t *self, meshq_peers_entry_t *entry,
                        const char *command, const meshq_buf_t *args)
{
    if (!entry->link)
        return MESHQ_ENOTFOUND;
    zmsg_t *msg = zmsg_new ();
    assert (msg);
    zmsg_addstr (msg, command);
    zmsg_addmem (msg, args->data, args->size);
    return meshq_peers_link_send (self, entry, &msg);
}

// --------------------------------------------------------------------
//  Timers

//  Probes every seed that no up peer answers for. A probe is a HELLO on
//  a DEALER that queues nothing until connected, so a seed that is not
//  there costs nothing.
static void
s_probe_seeds (meshq_peers_t *self, int64_t now)
{
    //  Past full_links the membership has the mesh: a seed may well be
    //  a member we have no link to.
    if (meshq_peers_partial (self))
        return;
    for (size_t s = 0; s < self->seed_count; s++) {
        meshq_peers_seed_t *seed = &self->seed_list[s];
        if (now < seed->next)
            continue;
        seed->next = now + self->config.beacon_interval_ms;
        bool answered = false;
        for (size_t i = 0; i < self->count && !answered; i++) {
            const meshq_peers_entry_t *entry = self->entries[i];
            answered = entry->peer.reported &&
                       (strcmp (entry->endpoint, seed->endpoint) == 0 ||
                        strcmp (entry->advertised, seed->endpoint) == 0);
        }
        if (answered || !seed->probe)
            continue;
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "HELLO");
        zmsg_addmem (msg, self->hello.data, self->hello.size);
        meshq_link_send (seed->probe, &msg);
    }
}

//  The tick once a second when every link is up and idle (or down,
//  waiting to be forgotten), else every heartbeat: an idle agent of a
//  large mesh woke four times a second for nothing, and each wake costs
//  tens of microseconds on a virtual machine.
#define S_CALM_TICK_MS 1000

static bool
s_calm (meshq_peers_t *self)
{
    if (self->seed_count && self->up_count == 0)
        return false;
    for (size_t i = 0; i < self->count; i++) {
        const meshq_peers_entry_t *entry = self->entries[i];
        const meshq_peer_t *peer = &entry->peer;
        if (entry->probe >= 0)
            return false;
        if (peer->state == MESHQ_PEER_IS_DOWN)
            continue;
        if (peer->state != MESHQ_PEER_IS_UP || !peer->lazy || peer->waiting)
            return false;
    }
    return true;
}

static void
s_tick_every (meshq_peers_t *self, bool calm)
{
    if (!self->loop || !self->started)
        return;
    size_t ms = calm ? S_CALM_TICK_MS : (size_t)self->config.heartbeat_ms;
    if (ms < 5)
        ms = 5;
    //  One shot, at the next tick of that period (tick.h); each tick
    //  arms the next.
    int timer = meshq_tick_arm (self->loop, ms, meshq_peers_tick, self);
    if (timer < 0)
        return;  //  Keep the one there is.
    self->tick_due = zclock_mono () + (int64_t)ms;
    if (self->tick_timer >= 0)
        zloop_timer_end (self->loop, self->tick_timer);
    self->tick_timer = timer;
    self->tick_calm = calm;
}

int
meshq_peers_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    meshq_peers_t *self = arg;
    //  One shot: zloop forgets it (ending it here would free it under
    //  a zloop started again); the next is armed below.
    self->tick_timer = -1;
    int64_t now = zclock_mono ();
    //  Late by a heartbeat or more: this loop did not run (a starved
    //  or paused process), and czmq's loop runs timers before it reads
    //  what came meanwhile. The time away is no peer's silence: without
    //  this, a stalled agent took its peers down for heartbeats that sat
    //  unread in its socket, and closed their links, which they took
    //  for its crash.
    int64_t late = self->tick_due ? now - self->tick_due : 0;
    bool stalled = late >= (int64_t)self->config.heartbeat_ms;
    if (stalled)
        self->stalled_at = now;
    uint32_t patience = meshq_peers_swim_awareness (self);
    size_t i = 0;
    while (i < self->count) {
        meshq_peers_entry_t *entry = self->entries[i];
        if (entry->probe >= 0 && now >= entry->probe_deadline)
            meshq_peers_probe_stop (self, entry);  //  No answer: heartbeats
                                                   //  decide.
        entry->peer.patience = patience;
        if (stalled)
            meshq_peer_stalled (&entry->peer, late, now);
        if (entry->peer.waiting ||
            entry->peer.state == MESHQ_PEER_IS_CONNECTING)
            entry->peer.vouched = meshq_peers_swim_alive (self, entry->node) &&
                                  !meshq_peers_swim_suspect (self, entry->node);
        unsigned actions = meshq_peer_tick (&entry->peer, now);
        meshq_peers_apply (self, entry, actions, NULL, NULL, now);
        if (actions & MESHQ_PEER_FORGET)
            s_remove (self, i);  //  Moves the last entry to i.
        else
            i++;
    }
    s_probe_seeds (self, now);
    meshq_peers_unlink_tick (self, now);
    self->stats.links_open = meshq_peers_links (self);
    if (meshq_peers_swim_due (self, now))
        meshq_peers_swim_scan (self, now);
    s_tick_every (self, self->tick_calm || s_calm (self));
    return 0;
}

void
meshq_peers_hurry (meshq_peers_t *self)
{
    if (self->tick_calm)
        s_tick_every (self, false);
}

bool
meshq_peers_admit (meshq_peers_t *self, meshq_peers_entry_t *entry, bool member,
                   int64_t now)
{
    if (entry && (entry->listed || entry->peer.state != MESHQ_PEER_IS_DOWN))
        return true;
    size_t pending = 0;
    for (size_t i = 0; i < self->count; i++)
        if (self->entries[i]->peer.state == MESHQ_PEER_IS_CONNECTING &&
            !self->entries[i]->listed)
            pending++;
    if (pending >= MESHQ_PEERS_PENDING_MAX)
        return false;
    if (member)
        return true;
    if (now > self->stranger_refill) {
        self->stranger_tokens += (double)(now - self->stranger_refill) *
                                 MESHQ_PEERS_STRANGERS_PER_S / 1000.0;
        if (self->stranger_tokens > MESHQ_PEERS_STRANGERS_BURST)
            self->stranger_tokens = MESHQ_PEERS_STRANGERS_BURST;
        self->stranger_refill = now;
    }
    if (self->stranger_tokens < 1)
        return false;
    self->stranger_tokens -= 1;
    return true;
}

bool
meshq_peers_future (uint64_t incarnation)
{
    int64_t now_us = zclock_time () * 1000;
    return incarnation > (uint64_t)(now_us + MESHQ_PEERS_FUTURE_US);
}

bool
meshq_peers_ratelog (meshq_peers_ratelog_t *log, int64_t now)
{
    if (now >= log->next) {
        log->next = now + 1000;
        return true;
    }
    return false;
}
