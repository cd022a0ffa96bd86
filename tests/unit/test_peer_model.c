/*  test_peer_model.c - two peer state machines (peer.c) talking through
    a simulated network, on a made-up clock.

    Each side is the pure state machine of its view of the other. The
    network carries HELLO, PING and PONG, and, while faults are on, loses,
    duplicates, delays and reorders them, cuts one direction for a while
    and stalls one side past the timeout (a SIGSTOP). Beacons go every
    250 ms. The properties, over many seeds:
      * once the faults stop, both sides are up within a bounded time and
        no session is restarted after that;
      * while faults last, a side restarts no more sessions than there
        were faults: one duplicated or late HELLO never echoes;
      * whatever an adversary does with the messages in flight and the
        two clocks, a clean network then settles both sides with no
        storm (more than S_STORM - 1 restarts in one second).
*/
#include "peer.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <string.h>

#define S_HB       250
#define S_TIMEOUT  2000
#define S_KEEP     60000
#define S_STEP     5  //  Simulated milliseconds per step.
#define S_BEACON   250
#define S_INFLIGHT 4096
#define S_STORM    6  //  Downs within one second that make a storm.

typedef enum { S_HELLO, S_PING, S_PONG } s_kind_t;

typedef struct {
    s_kind_t kind;
    int to;            //  Side it goes to.
    uint64_t inc;      //  HELLO: sender's incarnation.
    uint64_t session;  //  HELLO: sender's session number.
    uint64_t ack;      //  HELLO: last session of the receiver it saw.
    int64_t at;        //  When it arrives.
} s_msg_t;

typedef struct {
    meshq_peer_t peer;         //  Its view of the other side.
    uint64_t inc;              //  Its own incarnation.
    bool link;                 //  Its link to the other is open.
    int64_t stalled_until;     //  Stopped (SIGSTOP) until then.
    unsigned ups, downs;       //  Reported to the owner.
    int64_t last_event;        //  When it last reported up or down.
    int64_t down_at[S_STORM];  //  When it reported its last downs.
    unsigned storms;           //  Times it reported S_STORM downs within
                               //  one second.
} s_side_t;

typedef struct {
    s_side_t side[2];
    s_msg_t net[S_INFLIGHT];
    size_t count;
    int64_t now;
    uint64_t rng;
    bool faults;            //  Faults are on.
    int64_t cut_until[2];   //  Messages to side i are dropped until then.
    unsigned faults_seen;   //  Faults injected.
    s_msg_t last_hello[2];  //  The last HELLO each side sent.
} s_world_t;

static uint32_t
s_random (s_world_t *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return (uint32_t)(w->rng >> 11);
}

static bool
s_chance (s_world_t *w, unsigned per_mille)
{
    return s_random (w) % 1000 < per_mille;
}

static void
s_put (s_world_t *w, s_msg_t msg, int64_t delay)
{
    cr_assert_lt (w->count, S_INFLIGHT, "network overflows: a storm");
    msg.at = w->now + delay;
    w->net[w->count++] = msg;
}

//  Sends msg from side 1 - msg.to, through the faults if on.
static void
s_send (s_world_t *w, s_msg_t msg)
{
    s_side_t *from = &w->side[1 - msg.to];
    meshq_peer_sent (&from->peer, w->now);
    if (msg.kind == S_HELLO)
        w->last_hello[1 - msg.to] = msg;
    if (!w->faults) {
        s_put (w, msg, 1 + s_random (w) % 5);
        return;
    }
    if (w->now < w->cut_until[msg.to] || s_chance (w, 50)) {
        w->faults_seen++;  //  Lost.
        return;
    }
    s_put (w, msg, 1 + s_random (w) % 300);
    if (s_chance (w, 30)) {
        w->faults_seen++;  //  Duplicated, later.
        s_put (w, msg, 1 + s_random (w) % 1000);
    }
}

static void
s_send_hello (s_world_t *w, int from)
{
    s_side_t *side = &w->side[from];
    s_send (w, (s_msg_t){.kind = S_HELLO,
                         .to = 1 - from,
                         .inc = side->inc,
                         .session = side->peer.session,
                         .ack = side->peer.peer_session});
}

static void
s_apply (s_world_t *w, int i, unsigned actions)
{
    s_side_t *side = &w->side[i];
    if (actions & MESHQ_PEER_REPORT_DOWN) {
        side->downs++;
        side->last_event = w->now;
        int64_t *oldest = &side->down_at[side->downs % S_STORM];
        if (side->downs > S_STORM && w->now - *oldest < 1000)
            side->storms++;
        *oldest = w->now;
    }
    if (actions & MESHQ_PEER_CLOSE_LINK)
        side->link = false;
    if (actions & MESHQ_PEER_OPEN_LINK) {
        side->link = true;
        s_send_hello (w, i);
    }
    if ((actions & MESHQ_PEER_SEND_HELLO) && side->link)
        s_send_hello (w, i);
    if (actions & MESHQ_PEER_REPORT_UP) {
        side->ups++;
        side->last_event = w->now;
    }
    if ((actions & MESHQ_PEER_SEND_PING) && side->link)
        s_send (w, (s_msg_t){.kind = S_PING, .to = 1 - i});
}

static void
s_receive (s_world_t *w, const s_msg_t *msg)
{
    int i = msg->to;
    s_side_t *side = &w->side[i];
    unsigned actions;
    if (msg->kind == S_HELLO) {
        meshq_peer_hello_t hello = {.incarnation = msg->inc,
                                    .timeout_ms = S_TIMEOUT,
                                    .session = msg->session,
                                    .ack = msg->ack};
        actions = meshq_peer_hello (&side->peer, &hello, w->now);
    } else
        actions = meshq_peer_heartbeat (&side->peer, w->now);
    s_apply (w, i, actions);
    if (msg->kind == S_PING && !(actions & MESHQ_PEER_REFUSED) && side->link)
        s_send (w, (s_msg_t){.kind = S_PONG, .to = 1 - i});
}

static void
s_world_init (s_world_t *w, uint64_t seed)
{
    memset (w, 0, sizeof *w);
    w->rng = seed * 2654435761u + 1;
    for (int i = 0; i < 2; i++) {
        meshq_peer_init (&w->side[i].peer, S_HB, S_TIMEOUT, S_KEEP, 0);
        w->side[i].inc = 1000 + (uint64_t)i;
    }
}

//  Runs the world for ms simulated milliseconds.
static void
s_run (s_world_t *w, int64_t ms)
{
    int64_t end = w->now + ms;
    for (; w->now < end; w->now += S_STEP) {
        //  Deliver what has arrived.
        size_t n = 0;
        s_msg_t due[S_INFLIGHT];
        for (size_t k = 0; k < w->count;) {
            s_msg_t *msg = &w->net[k];
            if (msg->at <= w->now && w->now >= w->side[msg->to].stalled_until) {
                due[n++] = *msg;
                w->net[k] = w->net[--w->count];
            } else
                k++;
        }
        //  Delivered in the order they arrived (delays reorder them).
        for (size_t k = 1; k < n; k++)
            for (size_t j = k; j > 0 && due[j].at < due[j - 1].at; j--) {
                s_msg_t swap = due[j];
                due[j] = due[j - 1];
                due[j - 1] = swap;
            }
        for (size_t k = 0; k < n; k++)
            s_receive (w, &due[k]);
        for (int i = 0; i < 2; i++) {
            s_side_t *side = &w->side[i];
            if (w->now < side->stalled_until)
                continue;
            if (w->now % 50 == 0)
                s_apply (w, i, meshq_peer_tick (&side->peer, w->now));
            //  The other side's beacon, if it runs and it gets through.
            if (w->now % S_BEACON == i * 5 &&
                w->now >= w->side[1 - i].stalled_until &&
                !(w->faults && (w->now < w->cut_until[i] || s_chance (w, 50))))
                s_apply (w, i,
                         meshq_peer_discovered (&side->peer, w->side[1 - i].inc,
                                                false, w->now));
        }
        if (w->faults) {
            //  Now and then, a SIGSTOP past the timeout, or one direction
            //  cut for 8 seconds.
            if (s_chance (w, 2)) {
                int i = (int)(s_random (w) % 2);
                w->side[i].stalled_until =
                    w->now + S_TIMEOUT + 500 + s_random (w) % 2000;
                w->faults_seen++;
            }
            if (s_chance (w, 1)) {
                w->cut_until[s_random (w) % 2] = w->now + 8000;
                w->faults_seen++;
            }
        }
    }
}

static bool
s_both_up (const s_world_t *w)
{
    return w->side[0].peer.state == MESHQ_PEER_IS_UP &&
           w->side[1].peer.state == MESHQ_PEER_IS_UP;
}

//  Brings both sides up with no faults.
static void
s_world_up (s_world_t *w, uint64_t seed)
{
    s_world_init (w, seed);
    s_run (w, 1000);
    cr_assert (s_both_up (w));
}

Test (peer_model, a_duplicated_hello_between_up_peers_restarts_nothing)
{
    //  The storm: one more HELLO (queued while packets were dropped, or
    //  around a SIGSTOP) reaches a peer that is up.
    s_world_t w;
    s_world_up (&w, 1);
    unsigned downs[2] = {w.side[0].downs, w.side[1].downs};
    s_put (&w, w.last_hello[0], 1);
    s_run (&w, 10000);
    cr_expect_eq (w.side[0].downs, downs[0], "side 0 restarted %u times",
                  w.side[0].downs - downs[0]);
    cr_expect_eq (w.side[1].downs, downs[1], "side 1 restarted %u times",
                  w.side[1].downs - downs[1]);
    cr_expect (s_both_up (&w));
}

Test (peer_model, a_late_hello_of_an_earlier_session_restarts_nothing)
{
    s_world_t w;
    s_world_up (&w, 2);
    s_msg_t old = w.last_hello[1];
    //  Side 1 is stopped past the timeout: both restart the session once.
    w.side[1].stalled_until = w.now + S_TIMEOUT + 1000;
    s_run (&w, 8000);
    cr_assert (s_both_up (&w));
    unsigned downs[2] = {w.side[0].downs, w.side[1].downs};
    cr_expect_leq (downs[0], 1);
    cr_expect_leq (downs[1], 1);
    //  Then the first session's HELLO arrives, very late.
    s_put (&w, old, 1);
    s_run (&w, 10000);
    cr_expect_eq (w.side[0].downs, downs[0]);
    cr_expect_eq (w.side[1].downs, downs[1]);
    cr_expect (s_both_up (&w));
}

Test (peer_model, converges_after_faults_and_never_echoes)
{
    //  Faults for 60 s, then a clean network: both up within a bound, and
    //  then quiet.
    const int64_t bound = 3 * S_TIMEOUT + 2 * S_BEACON;
    unsigned restarts = 0;
    for (uint64_t seed = 1; seed <= 150; seed++) {
        s_world_t w;
        s_world_up (&w, seed);
        w.faults = true;
        s_run (&w, 60000);
        restarts += w.side[0].downs + w.side[1].downs;
        w.faults = false;
        w.cut_until[0] = w.cut_until[1] = 0;
        for (int i = 0; i < 2; i++) {
            cr_assert_leq (w.side[i].downs, w.faults_seen,
                           "seed %lu: side %d restarted %u times for %u "
                           "faults",
                           (unsigned long)seed, i, w.side[i].downs,
                           w.faults_seen);
            if (w.side[i].stalled_until > w.now)
                w.side[i].stalled_until = w.now;
        }
        //  In-flight messages arrive within 1 s, the longest delay.
        s_run (&w, 1000 + bound);
        cr_assert (s_both_up (&w), "seed %lu: states %d %d after %ld ms",
                   (unsigned long)seed, w.side[0].peer.state,
                   w.side[1].peer.state, (long)(1000 + bound));
        unsigned events[2] = {w.side[0].ups + w.side[0].downs,
                              w.side[1].ups + w.side[1].downs};
        s_run (&w, 30000);
        cr_assert (s_both_up (&w), "seed %lu", (unsigned long)seed);
        cr_assert_eq (w.side[0].ups + w.side[0].downs, events[0],
                      "seed %lu: side 0 restarted after the faults",
                      (unsigned long)seed);
        cr_assert_eq (w.side[1].ups + w.side[1].downs, events[1],
                      "seed %lu: side 1 restarted after the faults",
                      (unsigned long)seed);
    }
    //  The faults did end sessions: the model is not too kind.
    cr_expect_gt (restarts, 150);
}

//  One step of an adversary that owns the network and both clocks: it
//  delivers any message in flight, in any order, sometimes keeping a
//  copy, or loses it; or lets one side's clock run (a stall ends, a
//  timeout fires); or a beacon arrives.
static void
s_adversary_step (s_world_t *w, int64_t clock[2])
{
    unsigned choice = s_random (w) % 100;
    int i = (int)(s_random (w) % 2);
    if (choice < 40 && w->count) {
        size_t k = s_random (w) % w->count;
        s_msg_t msg = w->net[k];
        if (!s_chance (w, 100))
            w->net[k] = w->net[--w->count];
        w->now = clock[msg.to];
        s_receive (w, &msg);
    } else if (choice < 50 && w->count) {
        size_t k = s_random (w) % w->count;
        w->net[k] = w->net[--w->count];
    } else if (choice < 75) {
        clock[i] += s_random (w) % (S_TIMEOUT + S_TIMEOUT / 2);
        w->now = clock[i];
        s_apply (w, i, meshq_peer_tick (&w->side[i].peer, w->now));
    } else {
        clock[i] += s_random (w) % 50;
        w->now = clock[i];
        s_apply (w, i,
                 meshq_peer_discovered (&w->side[i].peer, w->side[1 - i].inc,
                                        false, w->now));
    }
}

Test (peer_model, no_order_of_hellos_makes_a_storm)
{
    //  Whatever the network and the clocks did, once the network is
    //  clean again both sides settle within a bound, with no storm on
    //  the way. This found two HELLOs of new sessions in flight from one
    //  side (a try's, late past its timeout, and the next session's)
    //  that made each side answer with a new session of its own, whose
    //  HELLO was again new and unacked at the other side: a restart per
    //  round trip on both sides, forever.
    const int64_t bound = 3 * S_TIMEOUT + 2 * S_BEACON;
    for (uint64_t seed = 1; seed <= 5000; seed++) {
        s_world_t w;
        s_world_init (&w, seed);
        int64_t clock[2] = {0, 0};
        for (int step = 0; step < 200; step++)
            s_adversary_step (&w, clock);
        //  The clean network delivers what is in flight within 5 ms, in
        //  order, on one clock.
        w.now = clock[0] > clock[1] ? clock[0] : clock[1];
        w.now -= w.now % 50;
        for (size_t k = 0; k < w.count; k++)
            w.net[k].at = w.now + 1 + (int64_t)k;
        unsigned downs[2] = {w.side[0].downs, w.side[1].downs};
        s_run (&w, 1000 + bound);
        for (int i = 0; i < 2; i++)
            cr_assert (w.side[i].storms == 0 &&
                           w.side[i].downs - downs[i] < S_STORM,
                       "seed %lu: side %d restarted %u times on a clean "
                       "network",
                       (unsigned long)seed, i, w.side[i].downs - downs[i]);
        cr_assert (s_both_up (&w), "seed %lu: states %d %d",
                   (unsigned long)seed, w.side[0].peer.state,
                   w.side[1].peer.state);
        unsigned events[2] = {w.side[0].ups + w.side[0].downs,
                              w.side[1].ups + w.side[1].downs};
        s_run (&w, 10000);
        cr_assert_eq (w.side[0].ups + w.side[0].downs, events[0], "seed %lu",
                      (unsigned long)seed);
        cr_assert_eq (w.side[1].ups + w.side[1].downs, events[1], "seed %lu",
                      (unsigned long)seed);
    }
}

Test (peer_model, a_stalled_peer_restarts_once_however_many_tries_it_missed)
{
    //  Side 1 is stopped for two to eight timeouts. Meanwhile side 0
    //  times it out and, told by third parties' peer lists that it is
    //  there, tries again and again; each try's HELLO waits in side 1's
    //  buffers. On waking, side 1 reads them all at once: the session is
    //  restarted once, not once per try.
    for (uint64_t seed = 1; seed <= 50; seed++) {
        s_world_t w;
        s_world_up (&w, seed);
        unsigned downs[2] = {w.side[0].downs, w.side[1].downs};
        int64_t wake = w.now + 2 * S_TIMEOUT + s_random (&w) % (6 * S_TIMEOUT);
        w.side[1].stalled_until = wake;
        while (w.now < wake) {
            s_apply (&w, 0,
                     meshq_peer_discovered (&w.side[0].peer, w.side[1].inc,
                                            true, w.now));
            s_run (&w, S_BEACON);
        }
        cr_assert_gt (w.side[0].downs, downs[0],
                      "seed %lu: side 0 never timed side 1 out",
                      (unsigned long)seed);
        s_run (&w, 10000);
        cr_assert (s_both_up (&w), "seed %lu: states %d %d",
                   (unsigned long)seed, w.side[0].peer.state,
                   w.side[1].peer.state);
        cr_assert_leq (w.side[1].downs - downs[1], 1,
                       "seed %lu: side 1 restarted %u times on waking",
                       (unsigned long)seed, w.side[1].downs - downs[1]);
        cr_assert_leq (w.side[0].downs - downs[0], 1,
                       "seed %lu: side 0 went down %u times",
                       (unsigned long)seed, w.side[0].downs - downs[0]);
    }
}
