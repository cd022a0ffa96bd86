/*  test_peer.c - the state machine of one peer, on a made-up clock:
    when a peer is up, suspect and down, and that each is said once.
*/
#include "peer.h"
#include "testutil.h"

#include <criterion/criterion.h>

#define S_HB      250
#define S_TIMEOUT 2000
#define S_KEEP    60000

static meshq_peer_t s_peer;

static void
s_new (void)
{
    meshq_peer_init (&s_peer, S_HB, S_TIMEOUT, S_KEEP, 0);
}

//  Its HELLO, from an agent that does not number sessions.
static unsigned
s_said (uint64_t incarnation, bool probe, uint32_t timeout_ms, int64_t now)
{
    meshq_peer_hello_t hello = {
        .incarnation = incarnation, .timeout_ms = timeout_ms, .probe = probe};
    return meshq_peer_hello (&s_peer, &hello, now);
}

//  Its HELLO of session, acking ours of ack.
static unsigned
s_session (uint64_t incarnation, uint64_t session, uint64_t ack, int64_t now)
{
    meshq_peer_hello_t hello = {.incarnation = incarnation,
                                .timeout_ms = S_TIMEOUT,
                                .session = session,
                                .ack = ack};
    return meshq_peer_hello (&s_peer, &hello, now);
}

//  A peer that came up at time 0 with incarnation 5.
static void
s_up (void)
{
    s_new ();
    cr_assert_eq (meshq_peer_discovered (&s_peer, 5, false, 0),
                  MESHQ_PEER_OPEN_LINK);
    meshq_peer_connected (&s_peer, 0);
    cr_assert_eq (s_said (5, false, S_TIMEOUT, 0), MESHQ_PEER_REPORT_UP);
    cr_assert_eq (s_peer.state, MESHQ_PEER_IS_UP);
}

Test (peer, starts_down_and_a_beacon_opens_a_link, .init = s_new)
{
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_DOWN);
    cr_expect_str_eq (meshq_peer_state_name (s_peer.state), "down");
    cr_expect_eq (meshq_peer_discovered (&s_peer, 5, false, 10),
                  MESHQ_PEER_OPEN_LINK);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_CONNECTING);
    //  More beacons of the same incarnation change nothing.
    cr_expect_eq (meshq_peer_discovered (&s_peer, 5, false, 260), 0);
    cr_expect_str_eq (meshq_peer_state_name (s_peer.state), "down");
}

Test (peer, is_up_after_hello_both_ways_and_says_so_once, .init = s_up)
{
    cr_expect_str_eq (meshq_peer_state_name (s_peer.state), "up");
    cr_expect_eq (meshq_peer_discovered (&s_peer, 5, false, 250), 0);
    cr_expect_eq (meshq_peer_frame (&s_peer, 300), 0);
    cr_expect_eq (s_peer.up_incarnation, 5);
}

Test (peer, a_hello_from_an_unknown_peer_opens_a_link_and_is_up, .init = s_new)
{
    cr_expect_eq (s_said (9, false, S_TIMEOUT, 5),
                  MESHQ_PEER_OPEN_LINK | MESHQ_PEER_REPORT_UP);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP);
}

Test (peer, a_quiet_peer_is_suspect_at_half_the_timeout_and_down_at_it,
      .init = s_up)
{
    meshq_peer_sent (&s_peer, 900);
    cr_expect_eq (meshq_peer_tick (&s_peer, 1000), 0);
    cr_expect_eq (meshq_peer_tick (&s_peer, 1001), MESHQ_PEER_LOG_SUSPECT);
    cr_expect_str_eq (meshq_peer_state_name (s_peer.state), "suspect");
    cr_expect_str_eq (s_peer.reason, "missed heartbeats");
    //  Said once.
    meshq_peer_sent (&s_peer, 1050);
    cr_expect_eq (meshq_peer_tick (&s_peer, 1100), 0);
    cr_expect_eq (meshq_peer_tick (&s_peer, 2000), MESHQ_PEER_SEND_PING);
    cr_expect_eq (meshq_peer_tick (&s_peer, 2001),
                  MESHQ_PEER_REPORT_DOWN | MESHQ_PEER_CLOSE_LINK);
    cr_expect_str_eq (s_peer.reason, "heartbeat timeout");
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_DOWN);
    //  And down is said once.
    for (int64_t t = 2100; t < 10000; t += 100)
        cr_expect_eq (meshq_peer_tick (&s_peer, t), 0);
}

//  Our loop did not run from 800 to 3800 (a starved or paused agent):
//  the peer's heartbeats of that time wait unread, and the first tick
//  after must not take it down for them. The stall forgives the time
//  away, not the silence after it.
Test (peer, a_stall_of_ours_is_no_peers_silence, .init = s_up)
{
    meshq_peer_frame (&s_peer, 800);
    meshq_peer_sent (&s_peer, 800);
    meshq_peer_stalled (&s_peer, 3000, 3800);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP);
    cr_expect_eq (meshq_peer_tick (&s_peer, 3800), MESHQ_PEER_SEND_PING);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP,
                  "a stall of ours was taken for the peer's silence");
    //  Nothing from it after the stall either: suspect at half the
    //  timeout past what it was last heard plus the stall, down at it.
    meshq_peer_sent (&s_peer, 4700);
    cr_expect_eq (meshq_peer_tick (&s_peer, 4800), 0);
    cr_expect_eq (meshq_peer_tick (&s_peer, 4801), MESHQ_PEER_LOG_SUSPECT);
    meshq_peer_sent (&s_peer, 5700);
    cr_expect_eq (meshq_peer_tick (&s_peer, 5801),
                  MESHQ_PEER_REPORT_DOWN | MESHQ_PEER_CLOSE_LINK);
}

Test (peer, frames_keep_it_up, .init = s_up)
{
    for (int64_t t = 1; t < 20000; t++) {
        if (t % S_HB == 0)
            cr_assert_eq (meshq_peer_frame (&s_peer, t), 0);
        if (t % 50 == 0) {
            unsigned actions = meshq_peer_tick (&s_peer, t);
            cr_assert_eq (actions & ~(unsigned)MESHQ_PEER_SEND_PING, 0, "t=%ld",
                          (long)t);
            if (actions)
                meshq_peer_sent (&s_peer, t);
        }
    }
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP);
}

Test (peer, beacons_never_keep_a_silent_peer_alive, .init = s_up)
{
    unsigned seen = 0;
    for (int64_t t = S_HB; t <= S_TIMEOUT + 100; t += 50) {
        if (t % S_HB == 0)
            seen |= meshq_peer_discovered (&s_peer, 5, false, t);
        seen |= meshq_peer_tick (&s_peer, t);
    }
    cr_expect (seen & MESHQ_PEER_REPORT_DOWN);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_DOWN);
}

Test (peer, pings_each_heartbeat_it_sent_nothing, .init = s_up)
{
    meshq_peer_sent (&s_peer, 100);
    cr_expect_eq (meshq_peer_tick (&s_peer, 200), 0);
    cr_expect_eq (meshq_peer_tick (&s_peer, 350), MESHQ_PEER_SEND_PING);
    meshq_peer_sent (&s_peer, 350);
    meshq_peer_frame (&s_peer, 360);
    cr_expect_eq (meshq_peer_tick (&s_peer, 500), 0);
}

Test (peer, a_lost_connection_is_suspect_and_a_refused_one_down, .init = s_up)
{
    cr_expect_eq (meshq_peer_disconnected (&s_peer, 100),
                  MESHQ_PEER_LOG_SUSPECT);
    cr_expect_str_eq (s_peer.reason, "connection lost");
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_SUSPECT);
    cr_expect_eq (meshq_peer_disconnected (&s_peer, 110), 0);
    cr_expect_eq (meshq_peer_refused (&s_peer, 200),
                  MESHQ_PEER_REPORT_DOWN | MESHQ_PEER_CLOSE_LINK);
    cr_expect_str_eq (s_peer.reason, "connection refused");
    cr_expect_eq (meshq_peer_refused (&s_peer, 300), 0);
}

Test (peer, a_peer_gone_where_nothing_listens_is_not_retried_at_once,
      .init = s_up)
{
    meshq_peer_disconnected (&s_peer, 10);
    cr_assert_eq (meshq_peer_refused (&s_peer, 20),
                  MESHQ_PEER_REPORT_DOWN | MESHQ_PEER_CLOSE_LINK);
    //  Its last beacons, and its frames, do not bring it back at once:
    //  that would only flap.
    cr_expect_eq (meshq_peer_discovered (&s_peer, 5, false, 100), 0);
    cr_expect_eq (meshq_peer_frame (&s_peer, 110), MESHQ_PEER_REFUSED);
    //  A timeout later a beacon may try again. A beacon of a restart
    //  changes nothing while the try is on; the restart's own HELLO
    //  moves the try to where it is.
    cr_expect_eq (meshq_peer_discovered (&s_peer, 5, false, 20 + S_TIMEOUT),
                  MESHQ_PEER_OPEN_LINK);
    cr_expect_eq (meshq_peer_discovered (&s_peer, 6, false, 20 + S_TIMEOUT), 0);
    cr_expect_eq (s_said (6, false, S_TIMEOUT, 30 + S_TIMEOUT),
                  MESHQ_PEER_CLOSE_LINK | MESHQ_PEER_OPEN_LINK |
                      MESHQ_PEER_REPORT_UP);
}

Test (peer, refused_while_connected_changes_nothing, .init = s_up)
{
    //  A probe is only made after a loss; a stale answer is ignored.
    cr_expect_eq (meshq_peer_refused (&s_peer, 20), 0);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP);
}

Test (peer, a_connection_that_comes_back_is_up_without_a_report, .init = s_up)
{
    meshq_peer_disconnected (&s_peer, 100);
    //  Frames on its own link to us do not clear it while ours is down.
    cr_expect_eq (meshq_peer_frame (&s_peer, 150), 0);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_SUSPECT);
    cr_expect_eq (meshq_peer_connected (&s_peer, 200), MESHQ_PEER_SEND_PING);
    cr_expect_eq (meshq_peer_frame (&s_peer, 210), MESHQ_PEER_LOG_BACK);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP);
}

Test (peer, a_quiet_suspect_heard_again_is_up_without_a_report, .init = s_up)
{
    meshq_peer_sent (&s_peer, 1100);
    cr_expect_eq (meshq_peer_tick (&s_peer, 1200), MESHQ_PEER_LOG_SUSPECT);
    cr_expect_eq (meshq_peer_frame (&s_peer, 1300), MESHQ_PEER_LOG_BACK);
    meshq_peer_sent (&s_peer, 1300);
    cr_expect_eq (meshq_peer_tick (&s_peer, 1400), 0);
}

Test (peer, a_higher_incarnation_is_down_then_up, .init = s_up)
{
    //  A beacon or gossip saying so is only worth a probe, once a
    //  heartbeat: it may lie.
    cr_expect_eq (meshq_peer_discovered (&s_peer, 6, false, 100),
                  MESHQ_PEER_SEND_PING);
    cr_expect_eq (meshq_peer_discovered (&s_peer, 6, true, 150), 0);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP);
    cr_expect_eq (s_peer.incarnation, 5);
    cr_expect_eq (s_said (6, false, S_TIMEOUT, 110),
                  MESHQ_PEER_REPORT_DOWN | MESHQ_PEER_CLOSE_LINK |
                      MESHQ_PEER_OPEN_LINK | MESHQ_PEER_REPORT_UP);
    cr_expect_eq (s_peer.up_incarnation, 6);
    //  Seen first in a HELLO: all four.
    cr_expect_eq (s_said (7, false, S_TIMEOUT, 200),
                  MESHQ_PEER_REPORT_DOWN | MESHQ_PEER_CLOSE_LINK |
                      MESHQ_PEER_OPEN_LINK | MESHQ_PEER_REPORT_UP);
    cr_expect_eq (s_peer.up_incarnation, 7);
    //  The down report is about the session that ended.
    cr_expect_eq (s_peer.down_incarnation, 6);
    cr_expect_str_eq (s_peer.down_reason, "restarted");
}

Test (peer, an_older_incarnation_is_stale, .init = s_up)
{
    cr_expect_eq (meshq_peer_discovered (&s_peer, 4, false, 100),
                  MESHQ_PEER_STALE);
    cr_expect_eq (s_said (4, false, S_TIMEOUT, 100), MESHQ_PEER_STALE);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP);
}

Test (peer, an_unnumbered_hello_on_an_up_link_restarts_the_session,
      .init = s_up)
{
    //  Within a heartbeat of the session's start, it is its echo.
    cr_expect_eq (s_said (5, false, S_TIMEOUT, 100), MESHQ_PEER_DUPLICATE);
    cr_expect_eq (s_said (5, false, S_TIMEOUT, 300), MESHQ_PEER_REPORT_DOWN |
                                                         MESHQ_PEER_SEND_HELLO |
                                                         MESHQ_PEER_REPORT_UP);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP);
    cr_expect (s_peer.connected);
    //  Its echo.
    cr_expect_eq (s_said (5, false, S_TIMEOUT, 310), MESHQ_PEER_DUPLICATE);
}

//  Up in a numbered session: its 10, ours s_peer.session.
static void
s_up_numbered (void)
{
    s_new ();
    cr_assert_eq (meshq_peer_discovered (&s_peer, 5, false, 0),
                  MESHQ_PEER_OPEN_LINK);
    cr_assert_neq (s_peer.session, 0);
    cr_assert_eq (s_session (5, 10, s_peer.session, 0), MESHQ_PEER_REPORT_UP);
    cr_assert_eq (s_peer.peer_session, 10);
}

Test (peer, a_hello_of_a_known_session_is_a_duplicate, .init = s_up_numbered)
{
    uint64_t ours = s_peer.session;
    cr_expect_eq (s_session (5, 10, ours, 100), MESHQ_PEER_DUPLICATE);
    //  One that has not seen our session is answered, at most once a
    //  heartbeat: our answer to its try may have been lost.
    cr_expect_eq (s_session (5, 9, 0, 100),
                  MESHQ_PEER_DUPLICATE | MESHQ_PEER_SEND_HELLO);
    cr_expect_eq (s_session (5, 10, 0, 100 + S_HB - 1), MESHQ_PEER_DUPLICATE);
    cr_expect_eq (s_session (5, 10, 0, 100 + S_HB),
                  MESHQ_PEER_DUPLICATE | MESHQ_PEER_SEND_HELLO);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP);
    cr_expect_eq (s_peer.session, ours);
}

Test (peer, an_unanswered_try_keeps_its_session_number, .init = s_up_numbered)
{
    //  Timed out: the first try after a session that was up is a new
    //  session, since we dropped what we had of the peer.
    uint64_t up = s_peer.session;
    meshq_peer_tick (&s_peer, 2001);
    cr_assert_eq (s_peer.state, MESHQ_PEER_IS_DOWN);
    cr_assert_eq (meshq_peer_discovered (&s_peer, 5, true, 4100),
                  MESHQ_PEER_OPEN_LINK);
    uint64_t try = s_peer.session;
    cr_expect_gt (try, up);
    //  Unanswered, and nothing of the peer was dropped: the next tries
    //  keep the number, so their HELLOs, read together by a peer that
    //  was stopped, restart it once.
    meshq_peer_tick (&s_peer, 4100 + S_TIMEOUT + 1);
    cr_assert_eq (s_peer.state, MESHQ_PEER_IS_DOWN);
    cr_expect_eq (meshq_peer_heartbeat (&s_peer, 6200),
                  MESHQ_PEER_REFUSED | MESHQ_PEER_OPEN_LINK);
    cr_expect_eq (s_peer.session, try);
    meshq_peer_tick (&s_peer, 6200 + S_TIMEOUT + 1);
    cr_assert_eq (meshq_peer_discovered (&s_peer, 5, true, 10300),
                  MESHQ_PEER_OPEN_LINK);
    cr_expect_eq (s_peer.session, try);
    //  A frame that carries state, dropped while we try, may be of a
    //  session the peer counts up with this number: the next try is new.
    cr_expect_eq (meshq_peer_frame (&s_peer, 10400), MESHQ_PEER_REFUSED);
    meshq_peer_tick (&s_peer, 10300 + S_TIMEOUT + 1);
    cr_assert_eq (meshq_peer_discovered (&s_peer, 5, true, 14400),
                  MESHQ_PEER_OPEN_LINK);
    cr_expect_gt (s_peer.session, try);
}

Test (peer, an_answer_to_an_ended_try_brings_it_up, .init = s_up_numbered)
{
    meshq_peer_tick (&s_peer, 2001);
    meshq_peer_discovered (&s_peer, 5, true, 4100);
    uint64_t try = s_peer.session;
    meshq_peer_tick (&s_peer, 4100 + S_TIMEOUT + 1);
    cr_assert_eq (s_peer.state, MESHQ_PEER_IS_DOWN);
    //  Its answer, in its old session, acks the try that just ended:
    //  a link again, in the same session, and up.
    cr_expect_eq (s_session (5, 10, try, 6200),
                  MESHQ_PEER_OPEN_LINK | MESHQ_PEER_REPORT_UP);
    cr_expect_eq (s_peer.session, try);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP);
}

Test (peer, a_new_session_that_knows_ours_joins_it, .init = s_up_numbered)
{
    //  It declared us down and tries again, acking our session: reset
    //  here, and answer so that its try completes; no new session.
    uint64_t ours = s_peer.session;
    cr_expect_eq (s_session (5, 11, ours, 3000), MESHQ_PEER_REPORT_DOWN |
                                                     MESHQ_PEER_SEND_HELLO |
                                                     MESHQ_PEER_REPORT_UP);
    cr_expect_eq (s_peer.session, ours);
    cr_expect_eq (s_peer.peer_session, 11);
    cr_expect_str_eq (s_peer.down_reason, "session restarted by the peer");
    //  The answer's copies change nothing.
    cr_expect_eq (s_session (5, 11, ours, 3010), MESHQ_PEER_DUPLICATE);
}

Test (peer, a_new_session_that_does_not_know_ours_joins_ours_too,
      .init = s_up_numbered)
{
    //  It lost the session and has not seen our current one: reset here,
    //  and answer in our session, which it joins. Starting one of ours
    //  instead echoed forever when two such HELLOs were in flight.
    uint64_t ours = s_peer.session;
    cr_expect_eq (s_session (5, 11, ours - 1, 3000), MESHQ_PEER_REPORT_DOWN |
                                                         MESHQ_PEER_SEND_HELLO |
                                                         MESHQ_PEER_REPORT_UP);
    cr_expect_eq (s_peer.session, ours);
    //  The next one, a moment later, also does not know ours: one more
    //  restart, still in our session.
    cr_expect_eq (s_session (5, 12, ours - 1, 3005), MESHQ_PEER_REPORT_DOWN |
                                                         MESHQ_PEER_SEND_HELLO |
                                                         MESHQ_PEER_REPORT_UP);
    cr_expect_eq (s_peer.session, ours);
    //  Its answers ack ours: nothing more.
    cr_expect_eq (s_session (5, 12, ours, 3010), MESHQ_PEER_DUPLICATE);
    cr_expect_eq (s_session (5, 11, ours, 3010), MESHQ_PEER_DUPLICATE);
}

Test (peer, a_try_is_up_on_a_hello_that_acks_it, .init = s_up_numbered)
{
    meshq_peer_tick (&s_peer, 2001);
    cr_assert_eq (s_peer.state, MESHQ_PEER_IS_DOWN);
    //  A copy of the old session's HELLO does not start one.
    cr_expect_eq (s_session (5, 10, 0, 2050), MESHQ_PEER_DUPLICATE);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_DOWN);
    cr_assert_eq (meshq_peer_frame (&s_peer, 2100),
                  MESHQ_PEER_REFUSED | MESHQ_PEER_OPEN_LINK);
    //  It was up all along and joins our try, in its old session.
    cr_expect_eq (s_session (5, 10, s_peer.session, 2110),
                  MESHQ_PEER_REPORT_UP);
}

Test (peer, a_seed_probe_hello_only_says_where_the_peer_is, .init = s_new)
{
    //  The session starts on the links: a probe opens ours, and the
    //  peer is up when the HELLO on its link arrives.
    cr_expect_eq (s_said (5, true, S_TIMEOUT, 0), MESHQ_PEER_OPEN_LINK);
    cr_expect_eq (s_said (5, true, S_TIMEOUT, 50), 0);
    cr_expect_eq (s_said (5, false, S_TIMEOUT, 100), MESHQ_PEER_REPORT_UP);
    //  Later probes change nothing: no new session.
    cr_expect_eq (s_said (5, true, S_TIMEOUT, 200), 0);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_UP);
}

Test (peer, bye_is_down_at_once_and_that_incarnation_stays_gone, .init = s_up)
{
    cr_expect_eq (meshq_peer_bye (&s_peer, 100),
                  MESHQ_PEER_REPORT_DOWN | MESHQ_PEER_CLOSE_LINK);
    cr_expect_str_eq (s_peer.reason, "left");
    //  Beacons still in flight do not bring it back.
    cr_expect_eq (meshq_peer_discovered (&s_peer, 5, false, 150),
                  MESHQ_PEER_STALE);
    cr_expect_eq (meshq_peer_frame (&s_peer, 160), MESHQ_PEER_REFUSED);
    //  Its next start does.
    cr_expect_eq (meshq_peer_discovered (&s_peer, 6, false, 500),
                  MESHQ_PEER_OPEN_LINK);
}

Test (peer, a_frame_from_a_peer_declared_down_starts_a_new_session,
      .init = s_up)
{
    meshq_peer_tick (&s_peer, 2001);
    cr_assert_eq (s_peer.state, MESHQ_PEER_IS_DOWN);
    //  It still counts us up and pings: dropped, and we say HELLO again.
    cr_expect_eq (meshq_peer_frame (&s_peer, 2100),
                  MESHQ_PEER_REFUSED | MESHQ_PEER_OPEN_LINK);
    cr_expect_eq (meshq_peer_frame (&s_peer, 2150), MESHQ_PEER_REFUSED);
    cr_expect_eq (s_said (5, false, S_TIMEOUT, 2200), MESHQ_PEER_REPORT_UP);
}

//  A try to a member the membership has alive, unanswered under load:
//  given up after one timeout, its closed connection made the peer
//  suspect us of a crash.
Test (peer, a_try_to_a_member_alive_waits_three_timeouts, .init = s_new)
{
    meshq_peer_discovered (&s_peer, 5, false, 0);
    s_peer.vouched = true;
    cr_expect_eq (meshq_peer_tick (&s_peer, S_TIMEOUT + 1), 0);
    cr_expect_eq (meshq_peer_tick (&s_peer, 3 * S_TIMEOUT), 0);
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_CONNECTING);
    //  Its answer, late, still brings it up.
    cr_expect_eq (s_said (5, false, S_TIMEOUT, 3 * S_TIMEOUT),
                  MESHQ_PEER_REPORT_UP);
    //  Unanswered, the try ends after three.
    s_new ();
    meshq_peer_discovered (&s_peer, 5, false, 0);
    s_peer.vouched = true;
    cr_expect_eq (meshq_peer_tick (&s_peer, 3 * S_TIMEOUT + 1),
                  MESHQ_PEER_CLOSE_LINK);
    cr_expect_str_eq (s_peer.reason, "no HELLO");
    //  A host of poor health stretches it further, as for a link.
    s_new ();
    meshq_peer_discovered (&s_peer, 5, false, 0);
    s_peer.patience = 2;
    cr_expect_eq (meshq_peer_tick (&s_peer, S_TIMEOUT + 1), 0);
    cr_expect_eq (meshq_peer_tick (&s_peer, 2 * S_TIMEOUT + 1),
                  MESHQ_PEER_CLOSE_LINK);
}

Test (peer, a_try_without_hello_ends_quietly, .init = s_new)
{
    meshq_peer_discovered (&s_peer, 5, false, 0);
    cr_expect_eq (meshq_peer_tick (&s_peer, S_TIMEOUT), 0);
    cr_expect_eq (meshq_peer_tick (&s_peer, S_TIMEOUT + 1),
                  MESHQ_PEER_CLOSE_LINK);
    cr_expect_str_eq (s_peer.reason, "no HELLO");
    //  A refused try ends too, without a report.
    meshq_peer_discovered (&s_peer, 5, false, 3000);
    cr_expect_eq (meshq_peer_refused (&s_peer, 3010), MESHQ_PEER_CLOSE_LINK);
    //  And the next try waits a timeout.
    cr_expect_eq (meshq_peer_discovered (&s_peer, 5, false, 3100), 0);
    cr_expect_eq (meshq_peer_discovered (&s_peer, 5, false, 3010 + S_TIMEOUT),
                  MESHQ_PEER_OPEN_LINK);
}

Test (peer, uses_the_larger_timeout_of_the_two, .init = s_new)
{
    s_said (5, false, 5000, 0);
    cr_expect_eq (s_peer.timeout_ms, 5000);
    meshq_peer_sent (&s_peer, 3000);
    cr_expect_eq (meshq_peer_tick (&s_peer, 3000), MESHQ_PEER_LOG_SUSPECT);
    cr_expect_eq (meshq_peer_tick (&s_peer, 5000), MESHQ_PEER_SEND_PING);
    cr_expect_eq (meshq_peer_tick (&s_peer, 5001) & MESHQ_PEER_REPORT_DOWN,
                  MESHQ_PEER_REPORT_DOWN);
    //  A peer announcing less than ours gets ours.
    s_said (6, false, 300, 6000);
    cr_expect_eq (s_peer.timeout_ms, S_TIMEOUT);
}

Test (peer, gossip_does_not_revive_a_peer_just_declared_down, .init = s_up)
{
    meshq_peer_tick (&s_peer, 2001);
    cr_expect_eq (meshq_peer_discovered (&s_peer, 5, true, 2500), 0);
    cr_expect_eq (meshq_peer_discovered (&s_peer, 5, true, 4002),
                  MESHQ_PEER_OPEN_LINK);
}

Test (peer, a_down_peer_is_forgotten_after_the_retention, .init = s_up)
{
    meshq_peer_bye (&s_peer, 100);
    cr_expect_eq (meshq_peer_tick (&s_peer, 100 + S_KEEP - 1), 0);
    cr_expect_eq (meshq_peer_tick (&s_peer, 100 + S_KEEP), MESHQ_PEER_FORGET);
}

//  Any sequence of inputs reports UP and DOWN alternately, starting with
//  UP, and the link is opened and closed alternately.
Test (peer, reports_up_and_down_alternately_whatever_happens, .init = s_new)
{
    uint64_t state = testutil_seed ("peer");
    bool up = false, link = false;
    uint64_t incarnation = 1;
    int64_t now = 0;
    int ups = 0;
    for (int step = 0; step < 200000; step++) {
        now += (int64_t)(testutil_random (&state) % 300);
        unsigned actions = 0;
        uint64_t r = testutil_random (&state);
        if (r % 100 == 0)
            incarnation++;
        uint64_t inc = incarnation - (r % 7 == 0 && incarnation > 1);
        switch ((r >> 8) % 10) {
            case 0:
                actions =
                    meshq_peer_discovered (&s_peer, inc, r & 0x10000, now);
                break;
            case 1:
                if (r & 0x40000)
                    actions = s_said (inc, r & 0x20000, 2000, now);
                else
                    actions = s_session (inc, 1 + (r >> 20) % 8,
                                         s_peer.session - (r >> 24) % 2, now);
                break;
            case 2:
            case 3:
                actions = meshq_peer_frame (&s_peer, now);
                break;
            case 4:
                actions = meshq_peer_connected (&s_peer, now);
                break;
            case 5:
                actions = meshq_peer_disconnected (&s_peer, now);
                break;
            case 6:
                actions = meshq_peer_refused (&s_peer, now);
                break;
            case 7:
                if (r % 50 == 0)
                    actions = meshq_peer_bye (&s_peer, now);
                break;
            default:
                actions = meshq_peer_tick (&s_peer, now);
                break;
        }
        if (actions & MESHQ_PEER_REPORT_DOWN) {
            cr_assert (up, "step %d: down while not up", step);
            up = false;
        }
        if (actions & MESHQ_PEER_CLOSE_LINK) {
            cr_assert (link, "step %d: closed a link that is not open", step);
            link = false;
        }
        if (actions & MESHQ_PEER_OPEN_LINK) {
            cr_assert_not (link, "step %d: opened a second link", step);
            link = true;
        }
        if (actions & (MESHQ_PEER_SEND_HELLO | MESHQ_PEER_SEND_PING))
            cr_assert (link, "step %d: send without a link", step);
        if (actions & MESHQ_PEER_REPORT_UP) {
            cr_assert_not (up, "step %d: up twice", step);
            cr_assert (link, "step %d: up without a link", step);
            up = true;
            ups++;
        }
        if (actions & MESHQ_PEER_FORGET) {
            cr_assert_not (up);
            cr_assert_not (link);
            s_new ();
        }
        cr_assert_eq (up, s_peer.state == MESHQ_PEER_IS_UP ||
                              s_peer.state == MESHQ_PEER_IS_SUSPECT);
        cr_assert_eq (link, s_peer.state != MESHQ_PEER_IS_DOWN);
    }
    cr_expect_gt (ups, 100);
}

//  Closing an idle link by agreement (UNLINK).
#define S_IDLE 15000

Test (peer, a_link_is_idle_only_after_no_frame_of_the_owner_for_a_while,
      .init = s_up)
{
    cr_expect_not (meshq_peer_idle (&s_peer, S_IDLE, S_IDLE - 1));
    //  Heartbeats are not use.
    meshq_peer_heartbeat (&s_peer, 10000);
    cr_expect (meshq_peer_idle (&s_peer, S_IDLE, S_IDLE));
    //  A frame of the owner's either way is.
    meshq_peer_frame (&s_peer, 16000);
    cr_expect_not (meshq_peer_idle (&s_peer, S_IDLE, 30000));
    cr_expect (meshq_peer_idle (&s_peer, S_IDLE, 31000));
    meshq_peer_sent_data (&s_peer, 31000);
    cr_expect_not (meshq_peer_idle (&s_peer, S_IDLE, 40000));
}

Test (peer, unlinked_is_down_but_not_gone_and_reopens_on_its_hello,
      .init = s_up)
{
    cr_expect_eq (meshq_peer_unlinked (&s_peer, 20000),
                  MESHQ_PEER_REPORT_DOWN | MESHQ_PEER_CLOSE_LINK);
    cr_expect_str_eq (s_peer.down_reason, "unlinked");
    cr_expect_not (s_peer.left);
    //  A frame that crossed the UNLINK reopens nothing.
    cr_expect_eq (meshq_peer_frame (&s_peer, 20010), MESHQ_PEER_REFUSED);
    //  Forgotten at the next tick: the member is the membership's.
    cr_expect_eq (meshq_peer_tick (&s_peer, 20250), MESHQ_PEER_FORGET);
    //  The same start may link again: a new link's HELLO is taken.
    s_new ();
    cr_expect_eq (s_said (5, false, S_TIMEOUT, 21000),
                  MESHQ_PEER_OPEN_LINK | MESHQ_PEER_REPORT_UP);
}

Test (peer, an_ask_is_answered_by_the_loss_of_its_connection, .init = s_up)
{
    meshq_peer_unlink_asked (&s_peer, 20000);
    cr_expect_not (meshq_peer_idle (&s_peer, S_IDLE, 20000));
    //  It closed its side: the session ends, quietly.
    cr_expect_eq (meshq_peer_disconnected (&s_peer, 20005),
                  MESHQ_PEER_REPORT_DOWN | MESHQ_PEER_CLOSE_LINK);
    cr_expect_str_eq (s_peer.down_reason, "unlinked");
    cr_expect_eq (s_peer.state, MESHQ_PEER_IS_DOWN);
}

Test (peer, an_ask_is_called_off_by_data_or_by_silence, .init = s_up)
{
    meshq_peer_unlink_asked (&s_peer, 20000);
    meshq_peer_sent_data (&s_peer, 20100);
    //  The connection lost now is a loss, not an answer.
    cr_expect_eq (meshq_peer_disconnected (&s_peer, 20200),
                  MESHQ_PEER_LOG_SUSPECT);
    s_up ();
    meshq_peer_unlink_asked (&s_peer, 20000);
    //  No answer for a timeout (its heartbeats still come): it wants
    //  the link; idle again later.
    meshq_peer_heartbeat (&s_peer, 20000 + S_TIMEOUT);
    meshq_peer_tick (&s_peer, 20000 + S_TIMEOUT + 1);
    cr_expect_eq (s_peer.unlinking, 0);
    cr_expect_not (meshq_peer_idle (&s_peer, S_IDLE, 30000));
    cr_expect (
        meshq_peer_idle (&s_peer, S_IDLE, 20000 + S_TIMEOUT + 1 + S_IDLE));
}
