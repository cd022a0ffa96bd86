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
                           .probed = INT64_MIN / 2,
                           .answered = INT64_MIN / 2,
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

//  Numbers a new session of ours: above every earlier one, and above
//  the clock, so that a peer that forgot us and met us again, or a
//  restart of ours on the same clock, never reuses a number.
static void
s_new_session (meshq_peer_t *self, int64_t now)
{
    uint64_t next = self->session + 1;
    self->session = now > 0 && (uint64_t)now > next ? (uint64_t)now : next;
}

//  Opens a new try: a new session of ours, unless the peer cannot hold
//  any state of the current one (it never went up, and we dropped
//  nothing it sent in it). A new number tells the peer that we dropped
//  what we had of it; a try that was never answered dropped nothing, so
//  its number stays, and HELLOs of several such tries that reach a peer
//  together (it was stopped, or its link was cut) restart it once.
static unsigned
s_connect (meshq_peer_t *self, int64_t now)
{
    self->left = false;
    self->unlinked = false;
    self->connected = false;
    self->heard = now;
    if (!self->session || self->spent)
        s_new_session (self, now);
    self->spent = false;
    s_enter (self, MESHQ_PEER_IS_CONNECTING, "waiting for HELLO", now);
    return MESHQ_PEER_OPEN_LINK;
}

static unsigned
s_up (meshq_peer_t *self, int64_t now)
{
    self->reported = true;
    self->spent = true;
    self->up_incarnation = self->incarnation;
    self->reset = false;
    self->heard = now;
    self->waiting = false;
    self->used = now;
    self->unlinking = 0;
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
            if ((gossip || self->refused) &&
                (incarnation == self->hint ||
                 incarnation == self->incarnation) &&
                now - self->since < self->timeout_ms)
                return 0;
            self->hint = incarnation;
            return s_connect (self, now);
        case MESHQ_PEER_IS_CONNECTING:
            //  A try is on: its HELLO decides.
            return 0;
        case MESHQ_PEER_IS_UP:
        case MESHQ_PEER_IS_SUSPECT:
            //  Another incarnation, says someone: maybe it restarted, maybe
            //  the report lies. Only its own HELLO can tell; meanwhile ask
            //  it for a sign of life, at most once a heartbeat.
            if (incarnation == self->incarnation ||
                now - self->probed < self->heartbeat_ms)
                return 0;
            self->probed = now;
            return MESHQ_PEER_SEND_PING;
    }
    return 0;
}

//  The peer's side of the session restarted while ours is up: in-flight
//  work is lost there, so the owner hears down and up again here. The
//  link stays.
static unsigned
s_reset (meshq_peer_t *self, const char *reason, int64_t now)
{
    bool connected = self->connected;
    unsigned actions = s_down (self, reason, now);
    actions &= ~(unsigned)MESHQ_PEER_CLOSE_LINK;
    self->connected = connected;
    return actions;
}

//  A HELLO of incarnation during a try that a beacon or PEERS entry of
//  another incarnation started: the try went where that one was, so go
//  where this one is.
static unsigned
s_moved (meshq_peer_t *self, uint64_t incarnation, int64_t now)
{
    if (incarnation != self->incarnation && self->hint &&
        self->hint != incarnation)
        return MESHQ_PEER_CLOSE_LINK | s_connect (self, now);
    return 0;
}

//  A HELLO without session numbers, from an older agent: the rules
//  before sessions were numbered, except that a HELLO of the same
//  incarnation within a heartbeat of the session's start is taken as
//  that start's echo, which ends the ping-pong two such HELLOs began.
static unsigned
s_hello_unnumbered (meshq_peer_t *self, uint64_t incarnation, int64_t now)
{
    bool same = incarnation == self->incarnation;
    switch (self->state) {
        case MESHQ_PEER_IS_DOWN:
            return s_connect (self, now);
        case MESHQ_PEER_IS_CONNECTING:
            return s_moved (self, incarnation, now);
        case MESHQ_PEER_IS_UP:
        case MESHQ_PEER_IS_SUSPECT:
            if (!same)
                return s_down (self, "restarted", now) | s_connect (self, now);
            if (now - self->since < self->heartbeat_ms &&
                self->state == MESHQ_PEER_IS_UP)
                return MESHQ_PEER_DUPLICATE;
            return s_reset (self, "session restarted by the peer", now) |
                   MESHQ_PEER_SEND_HELLO;
    }
    return 0;
}

unsigned
meshq_peer_hello (meshq_peer_t *self, const meshq_peer_hello_t *hello,
                  int64_t now)
{
    uint64_t incarnation = hello->incarnation;
    if (incarnation < self->incarnation ||
        (incarnation == self->incarnation && self->left))
        return MESHQ_PEER_STALE;
    //  A seed probe only says where the peer is: the session starts on
    //  the links, each of which carries its own HELLO.
    if (hello->probe)
        return meshq_peer_discovered (self, incarnation, false, now);
    bool same = incarnation == self->incarnation;
    //  A session of its we saw already (its number is not above the
    //  last), that does not ack our try either: a duplicate or a late
    //  HELLO. It restarts nothing and needs no answer.
    bool seen = same && hello->session && hello->session <= self->peer_session;
    bool acked = hello->session && self->session && hello->ack == self->session;
    bool trying = self->state == MESHQ_PEER_IS_CONNECTING ||
                  self->state == MESHQ_PEER_IS_DOWN;
    if (seen && !(trying && acked)) {
        if (trying)
            return MESHQ_PEER_DUPLICATE;
        self->heard = now;
        self->waiting = false;
        //  It has not seen our session: our answer to its try may have
        //  been lost, and its tries keep their number while unanswered.
        //  Say it again, at most once a heartbeat.
        if (hello->ack != self->session &&
            now - self->answered >= self->heartbeat_ms) {
            self->answered = now;
            return MESHQ_PEER_DUPLICATE | MESHQ_PEER_SEND_HELLO;
        }
        return MESHQ_PEER_DUPLICATE;
    }
    unsigned actions = 0;
    if (!hello->session) {
        actions = s_hello_unnumbered (self, incarnation, now);
        if (actions & MESHQ_PEER_DUPLICATE)
            return actions;
        self->peer_session = 0;
    } else {
        if (!same)
            self->peer_session = 0;
        if (hello->session > self->peer_session)
            self->peer_session = hello->session;
        switch (self->state) {
            case MESHQ_PEER_IS_DOWN:
                //  It starts a session, or answers a try of ours that
                //  ended: so do we, and our HELLO on the new link acks
                //  its.
                actions = s_connect (self, now);
                break;
            case MESHQ_PEER_IS_CONNECTING:
                //  Our HELLO went when the try opened; unless this one
                //  acks it, say it again (it may be lost, and a HELLO of
                //  the same session is harmless).
                actions = s_moved (self, incarnation, now);
                if (!actions && !acked)
                    actions = MESHQ_PEER_SEND_HELLO;
                break;
            case MESHQ_PEER_IS_UP:
            case MESHQ_PEER_IS_SUSPECT:
                if (!same)
                    actions =
                        s_down (self, "restarted", now) | s_connect (self, now);
                else
                    //  It lost the session and starts again: it joins ours,
                    //  and our HELLO acks its so that its try completes.
                    //  Never a new session of ours in answer to a HELLO:
                    //  if its HELLO crossed one of ours that it had not
                    //  seen (its ack is older than our session), two new
                    //  sessions answering each other would cross again
                    //  at every round trip, forever. Our session is new to
                    //  it at most once, so this restarts it at most once.
                    actions =
                        s_reset (self, "session restarted by the peer", now) |
                        MESHQ_PEER_SEND_HELLO;
                break;
        }
    }
    self->incarnation = incarnation;
    self->hint = 0;
    //  Both ends use the larger timeout, so neither declares the other
    //  down while the other still counts it alive.
    self->timeout_ms = hello->timeout_ms > self->own_timeout_ms
                           ? hello->timeout_ms
                           : self->own_timeout_ms;
    return actions | s_up (self, now);
}

static unsigned
s_frame (meshq_peer_t *self, bool stateful, int64_t now)
{
    if (stateful) {
        self->used = now;
        self->unlinking = 0;
    }
    switch (self->state) {
        case MESHQ_PEER_IS_UP:
            self->heard = now;
            self->waiting = false;
            return 0;
        case MESHQ_PEER_IS_SUSPECT:
            self->heard = now;
            self->waiting = false;
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
            //  Nor after the link closed by agreement: a frame that
            //  crossed the UNLINK reopens nothing.
            self->spent |= stateful;
            if (self->incarnation && !self->left && !self->refused &&
                !self->unlinked)
                return MESHQ_PEER_REFUSED | s_connect (self, now);
            return MESHQ_PEER_REFUSED;
        case MESHQ_PEER_IS_CONNECTING:
            //  It counts a session with us up that we do not: what it
            //  sent is dropped, so the next try is a new session.
            self->spent |= stateful;
            return MESHQ_PEER_REFUSED;
    }
    return 0;
}

unsigned
meshq_peer_frame (meshq_peer_t *self, int64_t now)
{
    return s_frame (self, true, now);
}

unsigned
meshq_peer_heartbeat (meshq_peer_t *self, int64_t now)
{
    return s_frame (self, false, now);
}

void
meshq_peer_sent (meshq_peer_t *self, int64_t now)
{
    self->sent = now;
}

//  A lazy peer starts waiting for a sign of life.
static void
s_wait (meshq_peer_t *self, int64_t now)
{
    if (self->lazy && !self->waiting) {
        self->waiting = true;
        self->waiting_since = now;
    }
}

void
meshq_peer_sent_data (meshq_peer_t *self, int64_t now)
{
    self->used = now;
    self->unlinking = 0;
    if (self->state == MESHQ_PEER_IS_UP || self->state == MESHQ_PEER_IS_SUSPECT)
        s_wait (self, now);
}

unsigned
meshq_peer_dead (meshq_peer_t *self, const char *reason, int64_t now)
{
    if (self->state == MESHQ_PEER_IS_DOWN)
        return 0;
    return s_down (self, reason, now);
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

void
meshq_peer_stalled (meshq_peer_t *self, int64_t late, int64_t now)
{
    if (late <= 0)
        return;
    int64_t *clocks[] = {&self->heard, &self->waiting_since, &self->unlinking};
    for (size_t i = 0; i < sizeof clocks / sizeof *clocks; i++)
        if (*clocks[i])
            *clocks[i] = *clocks[i] + late < now ? *clocks[i] + late : now;
    //  A HELLO awaited since before the stall: its wait starts again.
    if (self->state == MESHQ_PEER_IS_CONNECTING)
        self->since = self->since + late < now ? self->since + late : now;
}

unsigned
meshq_peer_disconnected (meshq_peer_t *self, int64_t now)
{
    //  We asked to close the link, and it closed its own: its answer,
    //  maybe read after this.
    if (self->unlinking && (self->state == MESHQ_PEER_IS_UP ||
                            self->state == MESHQ_PEER_IS_SUSPECT))
        return meshq_peer_unlinked (self, now);
    self->connected = false;
    if (self->state == MESHQ_PEER_IS_UP) {
        self->reset = true;
        s_wait (self, now);
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

bool
meshq_peer_idle (const meshq_peer_t *self, uint32_t idle_ms, int64_t now)
{
    return self->state == MESHQ_PEER_IS_UP && !self->waiting &&
           !self->unlinking && now - self->used >= idle_ms;
}

void
meshq_peer_unlink_asked (meshq_peer_t *self, int64_t now)
{
    if (self->state == MESHQ_PEER_IS_UP || self->state == MESHQ_PEER_IS_SUSPECT)
        self->unlinking = now > 0 ? now : 1;
}

unsigned
meshq_peer_unlinked (meshq_peer_t *self, int64_t now)
{
    if (self->state != MESHQ_PEER_IS_UP && self->state != MESHQ_PEER_IS_SUSPECT)
        return 0;
    unsigned actions = s_down (self, "unlinked", now);
    self->unlinked = true;
    self->unlinking = 0;
    return actions;
}

//  The timeout of a wait the membership can vouch for (a lazy link's,
//  a try's): three while it has the member alive and unsuspected, and
//  stretched by our own poor health.
static int64_t
s_patient_limit (const meshq_peer_t *self)
{
    int64_t limit = self->timeout_ms;
    if (self->vouched)
        limit *= 3;
    if (self->patience > 1)
        limit *= self->patience;
    return limit;
}

unsigned
meshq_peer_tick (meshq_peer_t *self, int64_t now)
{
    unsigned actions = 0;
    int64_t silence = now - self->heard;
    switch (self->state) {
        case MESHQ_PEER_IS_DOWN:
            //  Closed by agreement: the member is the membership's to
            //  list, as one never linked.
            if (self->unlinked || now - self->since >= self->retention_ms)
                actions = MESHQ_PEER_FORGET;
            break;
        case MESHQ_PEER_IS_CONNECTING:
            //  A try to a member the membership has alive gets the
            //  patience of a waiting link: an abandoned try closes its
            //  connection, which the peer (that may have answered, its
            //  answer slow under load) takes for our crash. In a start
            //  of 256 agents, nine in ten "connection lost" suspicions
            //  were tries given up after one timeout.
            if (now - self->since > s_patient_limit (self))
                actions = s_down (self, "no HELLO", now);
            break;
        case MESHQ_PEER_IS_UP:
        case MESHQ_PEER_IS_SUSPECT:
            //  Asked to close, and no answer for a timeout: it wants the
            //  link. Asked again an idle later.
            if (self->unlinking && now - self->unlinking > self->timeout_ms) {
                self->unlinking = 0;
                self->used = now;
            }
            if (self->lazy) {
                //  Idle and up: nothing to ask, the membership watches
                //  it. Waiting: silence counts from the wait's start.
                if (!self->waiting && self->state == MESHQ_PEER_IS_UP)
                    break;
                if (self->waiting && self->waiting_since > self->heard)
                    silence = now - self->waiting_since;
            }
            int64_t limit =
                self->lazy ? s_patient_limit (self) : self->timeout_ms;
            if (silence > limit)
                return s_down (self, "heartbeat timeout", now);
            if (self->state == MESHQ_PEER_IS_UP && silence > limit / 2) {
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
