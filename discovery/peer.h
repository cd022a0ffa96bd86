/*  peer.h - the life of one peer: up, suspect, down, in one place.

    This is the state machine of the peer table, kept pure so that it
    can be tested with a made-up clock: it holds no socket and reads no
    clock. The peer table (peers.c) feeds it what happens (a beacon, a
    HELLO, any frame, the link's connection lost or refused, a BYE, the
    passing of time) and carries out the actions it returns, in the
    order of meshq_peer_action_t.

    The rules (docs/DISCOVERY.md explains why):
      * a peer is up once HELLOs went both ways on its link;
      * a lost connection makes it suspect at once, and a refused
        reconnection (the process is gone) makes it down;
      * silence for half the timeout makes it suspect, for the whole
        timeout down; only frames on the link count, never beacons;
      * a peer's identity and incarnation change only through its own
        HELLO on a link: a beacon or a PEERS entry can open a try or
        make us probe it, never end a session;
      * each side numbers the sessions it starts with the peer, and a
        HELLO carries the sender's session number and the last one of
        the receiver's it saw (its ack). A HELLO of a session already
        seen is a duplicate: it restarts nothing, and is answered (at
        most once a heartbeat) only when its ack shows that the peer
        has not seen our current session; a new session of a peer that
        is up is a restart on its side, reported down and then up again
        here, and answered with a HELLO of our current session. A
        session starts only with a try, never in answer to a HELLO
        while up, so each session number restarts the other side at
        most once and no order of HELLOs echoes; and a try that ends
        unanswered, with nothing of the peer dropped, keeps its number
        for the next try, so a peer that was stopped through many tries
        restarts once on waking, not once a try (see meshq_peer_hello
        and docs/DISCOVERY.md, "Sessions");
      * UP and DOWN are each reported once per session: a suspect peer
        that is heard again is up again without any report.
*/
#ifndef MESHQ_PEER_H_INCLUDED
#define MESHQ_PEER_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    MESHQ_PEER_IS_DOWN,        //  Not up: never seen, gone, or between tries.
    MESHQ_PEER_IS_CONNECTING,  //  Link open, our HELLO sent, theirs awaited.
    MESHQ_PEER_IS_UP,          //  HELLOs went both ways; heard recently.
    MESHQ_PEER_IS_SUSPECT,     //  Up, but its connection broke or it is quiet.
} meshq_peer_state_t;

//  What the table must do, as bits, carried out in this order.
typedef enum {
    MESHQ_PEER_REPORT_DOWN = 1 << 0,  //  Tell the owner: down.
    MESHQ_PEER_CLOSE_LINK = 1 << 1,   //  Close the link.
    MESHQ_PEER_OPEN_LINK = 1 << 2,    //  Open a link and send HELLO on it.
    MESHQ_PEER_SEND_HELLO = 1 << 3,   //  Send HELLO on the open link.
    MESHQ_PEER_REPORT_UP = 1 << 4,    //  Tell the owner: up.
    MESHQ_PEER_SEND_PING = 1 << 5,    //  Send a PING.
    MESHQ_PEER_LOG_SUSPECT = 1 << 6,  //  It became suspect: log why.
    MESHQ_PEER_LOG_BACK = 1 << 7,     //  It is heard again after suspect.
    MESHQ_PEER_FORGET = 1 << 8,       //  Remove it from the table.
    MESHQ_PEER_STALE = 1 << 9,        //  Input from an old incarnation:
                                      //  ignored, count it.
    MESHQ_PEER_REFUSED = 1 << 10,     //  A frame it may not send now:
                                      //  dropped, count it.
    MESHQ_PEER_DUPLICATE = 1 << 11,   //  A HELLO of a session already
                                      //  seen: ignored, count it.
} meshq_peer_action_t;

//  What a HELLO says, as far as the state machine cares.
typedef struct {
    uint64_t incarnation;  //  The sender's incarnation.
    uint32_t timeout_ms;   //  The sender's timeout.
    uint64_t session;      //  The sender's session number; 0: a sender
                           //  that does not number sessions.
    uint64_t ack;          //  The last session number of ours it saw.
    bool probe;            //  It came on a seed probe, not a link.
} meshq_peer_hello_t;

typedef struct {
    meshq_peer_state_t state;   //  Where it is.
    uint64_t incarnation;       //  Its incarnation, as its HELLOs say; 0
                                //  before the first.
    uint64_t hint;              //  The incarnation a beacon or PEERS
                                //  entry named for the current try.
    uint64_t session;           //  Our number of the current session or
                                //  try; 0 before the first.
    uint64_t peer_session;      //  Its last session number we saw.
    bool spent;                 //  The peer may hold state of our current
                                //  session: it was up, or we dropped a
                                //  frame it sent in it. The next try
                                //  takes a new number.
    int64_t answered;           //  Last HELLO sent to answer a duplicate.
    uint64_t up_incarnation;    //  Incarnation last reported up.
    uint64_t down_incarnation;  //  Incarnation last reported down.
    bool reported;              //  UP reported and DOWN not yet.
    bool left;                  //  This incarnation said BYE.
    bool connected;             //  The link's connection is established.
    bool reset;                 //  The link lost its connection while up.
    bool refused;               //  It went down because nothing listened.
    int64_t since;              //  When it entered its state (ms).
    int64_t heard;              //  Last frame from it (ms).
    int64_t sent;               //  Last frame to it (ms).
    int64_t probed;             //  Last probe a report asked for (ms).
    uint32_t heartbeat_ms;      //  Our heartbeat interval.
    uint32_t own_timeout_ms;    //  Our timeout.
    uint32_t timeout_ms;        //  The link's: the larger of both HELLOs'.
    uint32_t retention_ms;      //  How long a down peer stays listed.
    bool lazy;                  //  Heartbeats only while waiting for a
                                //  sign of life: an idle link is the
                                //  membership's (swim.h) to watch.
    bool waiting;               //  Lazy: we sent data or lost the
                                //  connection, and heard nothing since.
    int64_t waiting_since;      //  When the wait began (ms).
    uint32_t patience;          //  Our own health multiplier (0 or 1:
                                //  healthy), which stretches a lazy
                                //  peer's and a try's timeout: a host too
                                //  busy to answer in time blames itself,
                                //  not its peers.
    int64_t used;               //  Last frame of the owner's either way,
                                //  or the session's start (ms).
    int64_t unlinking;          //  When we asked it to close the link
                                //  (UNLINK), or 0.
    bool unlinked;              //  It went down by UNLINK: the link closed
                                //  by agreement, the member lives on.
    bool vouched;               //  The membership has it alive and
                                //  unsuspected (the owner sets it before
                                //  each tick of a lazy peer waiting, or
                                //  of a try): a silent link, or a try
                                //  unanswered, then gets three timeouts,
                                //  not one, so that a busy host does not
                                //  lose its links.

    const char *reason;       //  Why it is in its state (static).
    const char *down_reason;  //  Why it last went down (static).
} meshq_peer_t;

//  Starts a peer in state DOWN, never seen, with our timings.
void meshq_peer_init (meshq_peer_t *self, uint32_t heartbeat_ms,
                      uint32_t timeout_ms, uint32_t retention_ms, int64_t now);

//  A beacon (gossip false) or a PEERS entry (gossip true) names it with
//  incarnation. Gossip does not revive a peer that went down less than
//  a timeout ago, so that a dead peer is not retried from stale lists.
//  Such a report is second-hand or forgeable: it opens a try to a peer
//  that is down, and makes one that is up be probed (a PING, at most one
//  a heartbeat) if it names another incarnation; nothing more.
unsigned meshq_peer_discovered (meshq_peer_t *self, uint64_t incarnation,
                                bool gossip, int64_t now);

//  Its HELLO arrived on a link; or on a seed probe (hello->probe), which
//  only says where it is, as a beacon does. Our HELLOs carry
//  self->session and, as their ack, self->peer_session.
unsigned meshq_peer_hello (meshq_peer_t *self, const meshq_peer_hello_t *hello,
                           int64_t now);

//  Any other frame arrived from it. Dropped while it is not up (the
//  REFUSED action), such a frame may carry state of a session it counts
//  up: the next try is then a new session.
unsigned meshq_peer_frame (meshq_peer_t *self, int64_t now);

//  A frame that carries no state (PING, PONG, a peer list) arrived from
//  it: as meshq_peer_frame, but dropping it spends no session.
unsigned meshq_peer_heartbeat (meshq_peer_t *self, int64_t now);

//  We sent it a frame.
void meshq_peer_sent (meshq_peer_t *self, int64_t now);

//  We sent it a frame of the owner's: a lazy peer waits for a sign of
//  life from now on, and is pinged and timed out as an eager one is
//  until it comes.
void meshq_peer_sent_data (meshq_peer_t *self, int64_t now);

//  The membership declared it dead, or it left (swim.h): down, if it
//  was not, for reason (static).
unsigned meshq_peer_dead (meshq_peer_t *self, const char *reason, int64_t now);

//  Its connection to us (its link to our ROUTER) is there, or was lost;
//  or nothing listens any more where our link to it goes (a TCP connect
//  to its ROUTER refused).
unsigned meshq_peer_connected (meshq_peer_t *self, int64_t now);
//  This agent did not run for late ms before now (its loop starved or
//  paused): what the peer sent meanwhile waits unread, so the time away
//  is not its silence. Its timers move on by late.
void meshq_peer_stalled (meshq_peer_t *self, int64_t late, int64_t now);
unsigned meshq_peer_disconnected (meshq_peer_t *self, int64_t now);
unsigned meshq_peer_refused (meshq_peer_t *self, int64_t now);

//  It said BYE.
unsigned meshq_peer_bye (meshq_peer_t *self, int64_t now);

//  Whether the link is up and idle: no frame of the owner's either way
//  for idle_ms, no wait for a sign of life, and no UNLINK asked.
bool meshq_peer_idle (const meshq_peer_t *self, uint32_t idle_ms, int64_t now);

//  We asked it to close the link (UNLINK). Its answer, or the loss of
//  its connection, ends the session with meshq_peer_unlinked; a frame
//  of the owner's either way calls the ask off; so does its silence
//  for a timeout (the peer wants the link: asked again an idle later).
void meshq_peer_unlink_asked (meshq_peer_t *self, int64_t now);

//  The link closes by agreement (UNLINK both ways): down, reason
//  "unlinked", but not left: the same start may link again, and the
//  table forgets the entry at the next tick. Nothing if not up.
unsigned meshq_peer_unlinked (meshq_peer_t *self, int64_t now);

//  Time passed: heartbeats due, suspicion, expiry.
unsigned meshq_peer_tick (meshq_peer_t *self, int64_t now);

//  Returns "up", "suspect" or "down", as LIST_PEERS shows a peer (a
//  connecting peer shows as down).
const char *meshq_peer_state_name (meshq_peer_state_t state);

#endif
