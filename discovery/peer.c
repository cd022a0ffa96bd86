/*  peer.c - the state machine of one peer. See peer.h. */
#include "peer.h"

#include <assert.h>
#include <stddef.h>

void
meshq_peer_init (meshq_peer_t *self, uint32_t heartbeat_ms, uint32_t timeout_ms,
                 uint32_t retention_ms, int64_t now)
{
    assert (self);
    *self = (meshq_peer_t){.state = MESHQ_PEER_IS_DOWN,
                           .since = now,
                           .heard = now,
                           .sent = now,
                           .heartbeat_ms = heartbeat_ms,
                           .own_timeout_ms = timeout_ms,
                           .timeout_ms = timeout_ms,
                           .retention_ms = retention_ms,
                           .reason = "never seen"};
}

static void
s_enter (meshq_peer_t *self, meshq_peer_state_t state, const char *reason,
         int64_t now)
{
    self->state = state;
    self->since = now;
    self->reason = reason;
}

//  Ends the current session or try. Returns the actions that takes.
static unsigned
s_down (meshq_peer_t *self, const char *reason, int64_t now)
{
    unsigned actions = MESHQ_PEER_CLOSE_LINK;
    if (self->reported) {
        actions |= MESHQ_PEER_REPORT_DOWN;
        self->down_incarnation = self->up_incarnation;
    }
    self->reported = false;
    self->connected = false;
    self->reset = false;
    self->refused = false;
    self->timeout_ms = self->own_timeout_ms;
    self->down_reason = reason;
    s_enter (self, MESHQ_PEER_IS_DOWN, reason, now);
    return actions;
}

//  Opens a new try at incarnation.
static unsigned
s_connect (meshq_peer_t *self, uint64_t incarnation, int64_t now)
{
    self->incarnation = incarnation;
    self->left = false;
    self->connected = false;
    self->heard = now;
    s_enter (self, MESHQ_PEER_IS_CONNECTING, "waiting for HELLO", now);
    return MESHQ_PEER_OPEN_LINK;
}

static unsigned
s_up (meshq_peer_t *self, int64_t now)
{
    self->reported = true;
    self->up_incarnation = self->incarnation;
    self->reset = false;
    self->heard = now;
    s_enter (self, MESHQ_PEER_IS_UP, "up", now);
    return MESHQ_PEER_REPORT_UP;
}

unsigned
meshq_peer_discovered (meshq_peer_t *self, uint64_t incarnation, bool gossip,
                       int64_t now)
{
    if (incarnation < self->incarnation ||
        (incarnation == self->incarnation && self->left))
        return MESHQ_PEER_STALE;
    switch (self->state) {
        case MESHQ_PEER_IS_DOWN:
            //  The same incarnation again, just after it went down: gossip
            //  may be stale, and where nothing listened a moment ago a
            //  new try would only flap. A timeout later it may.
            if ((gossip || self->refused) && incarnation == self->incarnation &&
                now - self->since < self->timeout_ms)
                return 0;
            return s_connect (self, incarnation, now);
        case MESHQ_PEER_IS_CONNECTING:
            if (incarnation == self->incarnation)
                return 0;
            return MESHQ_PEER_CLOSE_LINK | s_connect (self, incarnation, now);
        case MESHQ_PEER_IS_UP:
        case MESHQ_PEER_IS_SUSPECT:
            if (incarnation == self->incarnation)
                return 0;
            //  A restart the peer's own links have not told us about.
            return s_down (self, "restarted", now) |
                   s_connect (self, incarnation, now);
    }
    return 0;
}

unsigned
meshq_peer_hello (meshq_peer_t *self, uint64_t incarnation, bool probe,
                  uint32_t timeout_ms, int64_t now)
{
    if (incarnation < self->incarnation ||
        (incarnation == self->incarnation && self->left))
        return MESHQ_PEER_STALE;
    //  A seed probe only says where the peer is: the session starts on
    //  the links, each of which carries its own HELLO.
    if (probe)
        return meshq_peer_discovered (self, incarnation, false, now);
    unsigned actions = 0;
    bool same = incarnation == self->incarnation;
    switch (self->state) {
        case MESHQ_PEER_IS_DOWN:
            actions = s_connect (self, incarnation, now);
            break;
        case MESHQ_PEER_IS_CONNECTING:
            if (!same)
                actions =
                    MESHQ_PEER_CLOSE_LINK | s_connect (self, incarnation, now);
            break;
        case MESHQ_PEER_IS_UP:
        case MESHQ_PEER_IS_SUSPECT:
            if (same) {
                //  It lost the session (it declared us down) and starts
                //  again on a new link: so do we, on our link, which is
                //  still fine.
                bool connected = self->connected;
                actions = s_down (self, "session restarted by the peer", now);
                actions &= ~(unsigned)MESHQ_PEER_CLOSE_LINK;
                actions |= MESHQ_PEER_SEND_HELLO;
                self->connected = connected;
            } else
                actions = s_down (self, "restarted", now) |
                          s_connect (self, incarnation, now);
            break;
    }
    //  Both ends use the larger timeout, so neither declares the other
    //  down while the other still counts it alive.
    self->timeout_ms =
        timeout_ms > self->own_timeout_ms ? timeout_ms : self->own_timeout_ms;
    return actions | s_up (self, now);
}

unsigned
meshq_peer_frame (meshq_peer_t *self, int64_t now)
{
    switch (self->state) {
        case MESHQ_PEER_IS_UP:
            self->heard = now;
            return 0;
        case MESHQ_PEER_IS_SUSPECT:
            self->heard = now;
            //  Heard, but until our own link is back it stays suspect.
            if (self->reset && !self->connected)
                return 0;
            self->reset = false;
            s_enter (self, MESHQ_PEER_IS_UP, "up", now);
            return MESHQ_PEER_LOG_BACK;
        case MESHQ_PEER_IS_DOWN:
            //  It still counts us up: we declared it down (it hung, or the
            //  link was cut), and it does not know. Say HELLO again at
            //  once, rather than let it time out; but not where nothing
            //  listened, which would only flap.
            if (self->incarnation && !self->left && !self->refused)
                return MESHQ_PEER_REFUSED |
                       s_connect (self, self->incarnation, now);
            return MESHQ_PEER_REFUSED;
        case MESHQ_PEER_IS_CONNECTING:
            return MESHQ_PEER_REFUSED;
    }
    return 0;
}

void
meshq_peer_sent (meshq_peer_t *self, int64_t now)
{
    self->sent = now;
}

unsigned
meshq_peer_connected (meshq_peer_t *self, int64_t now)
{
    (void)now;
    self->connected = true;
    //  Back after a reset: ask for a sign of life now.
    return self->state == MESHQ_PEER_IS_SUSPECT && self->reset
               ? MESHQ_PEER_SEND_PING
               : 0;
}

unsigned
meshq_peer_disconnected (meshq_peer_t *self, int64_t now)
{
    self->connected = false;
    if (self->state == MESHQ_PEER_IS_UP) {
        self->reset = true;
        s_enter (self, MESHQ_PEER_IS_SUSPECT, "connection lost", now);
        return MESHQ_PEER_LOG_SUSPECT;
    }
    if (self->state == MESHQ_PEER_IS_SUSPECT)
        self->reset = true;
    return 0;
}

unsigned
meshq_peer_refused (meshq_peer_t *self, int64_t now)
{
    //  Its connection went, and where its ROUTER was nothing listens any
    //  more: the process is gone. (Nothing listening where a beacon
    //  pointed ends a try as well; a beacon starts another, a timeout
    //  later.)
    if ((self->state == MESHQ_PEER_IS_SUSPECT && self->reset) ||
        self->state == MESHQ_PEER_IS_CONNECTING) {
        unsigned actions = s_down (self, "connection refused", now);
        self->refused = true;
        return actions;
    }
    return 0;
}

unsigned
meshq_peer_bye (meshq_peer_t *self, int64_t now)
{
    if (self->state == MESHQ_PEER_IS_DOWN)
        return MESHQ_PEER_REFUSED;
    self->left = true;
    return s_down (self, "left", now);
}

unsigned
meshq_peer_tick (meshq_peer_t *self, int64_t now)
{
    unsigned actions = 0;
    int64_t silence = now - self->heard;
    switch (self->state) {
        case MESHQ_PEER_IS_DOWN:
            if (now - self->since >= self->retention_ms)
                actions = MESHQ_PEER_FORGET;
            break;
        case MESHQ_PEER_IS_CONNECTING:
            if (now - self->since > self->timeout_ms)
                actions = s_down (self, "no HELLO", now);
            break;
        case MESHQ_PEER_IS_UP:
        case MESHQ_PEER_IS_SUSPECT:
            if (silence > self->timeout_ms)
                return s_down (self, "heartbeat timeout", now);
            if (self->state == MESHQ_PEER_IS_UP &&
                silence > self->timeout_ms / 2) {
                s_enter (self, MESHQ_PEER_IS_SUSPECT, "missed heartbeats", now);
                actions |= MESHQ_PEER_LOG_SUSPECT;
            }
            if (now - self->sent >= self->heartbeat_ms)
                actions |= MESHQ_PEER_SEND_PING;
            break;
    }
    return actions;
}

const char *
meshq_peer_state_name (meshq_peer_state_t state)
{
    switch (state) {
        case MESHQ_PEER_IS_UP:
            return "up";
        case MESHQ_PEER_IS_SUSPECT:
            return "suspect";
        case MESHQ_PEER_IS_DOWN:
        case MESHQ_PEER_IS_CONNECTING:
            return "down";
    }
    return "down";
}
