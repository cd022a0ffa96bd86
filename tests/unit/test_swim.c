/*  test_swim.c - the membership state machine (discovery/swim.h) on a
    made-up clock, with a transport that keeps what is sent: probes and
    their answers, indirect probes, suspicion and death, refutation,
    restarts, local health, hostile messages and the member cap.
*/
#include "swim.h"
#include "meshq.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define S_SENT_MAX 4096

typedef struct {
    uint8_t to[16];        //  Destination id.
    meshq_swim_msg_t msg;  //  Decoded.
    uint32_t count;        //  Updates in it.
    meshq_swim_update_t updates[MESHQ_SWIM_UPDATES_MAX];
} s_sent_t;

static int64_t s_now;
static s_sent_t *s_sent;
static size_t s_sent_len;
static struct {
    uint8_t id[16];
    meshq_swim_state_t state;
    bool fresh;
    uint64_t incarnation;
} s_changes[256];
static size_t s_changes_len;

static int64_t
s_clock (void *arg)
{
    (void)arg;
    return s_now;
}

static void
s_send (void *arg, const uint8_t *id, const meshq_swim_addr_t *addr,
        const void *data, size_t size)
{
    (void)arg;
    (void)addr;
    if (s_sent_len == S_SENT_MAX)
        return;
    s_sent_t *s = &s_sent[s_sent_len++];
    memcpy (s->to, id, 16);
    const char *why;
    int rc = meshq_codec_swim_decode (data, size, &s->msg, s->updates,
                                      MESHQ_SWIM_UPDATES_MAX, &why);
    cr_assert_eq (rc, 0, "the module sent a message it cannot read: %s", why);
    s->count = s->msg.count;
}

static void
s_change (void *arg, const uint8_t *id, meshq_swim_state_t state, bool fresh,
          uint64_t incarnation)
{
    (void)arg;
    if (s_changes_len == 256)
        return;
    memcpy (s_changes[s_changes_len].id, id, 16);
    s_changes[s_changes_len].state = state;
    s_changes[s_changes_len].fresh = fresh;
    s_changes[s_changes_len].incarnation = incarnation;
    s_changes_len++;
}

static void
s_id (uint8_t *id, int n)
{
    memset (id, 0, 16);
    id[0] = 0xaa;
    id[15] = (uint8_t)n;
}

static void
s_record (meshq_swim_update_t *u, int n, meshq_swim_state_t state,
          uint64_t incarnation, uint32_t version)
{
    memset (u, 0, sizeof *u);
    s_id (u->id, n);
    u->ip[10] = u->ip[11] = 0xff;
    u->ip[12] = 10;
    u->ip[15] = (uint8_t)n;
    u->port = 5681;
    u->state = (uint8_t)state;
    u->incarnation = incarnation;
    u->version = version;
}

static meshq_swim_config_t s_config;

static meshq_swim_t *
s_new (void)
{
    s_now = 1000;
    s_sent_len = 0;
    s_changes_len = 0;
    if (!s_sent)
        s_sent = calloc (S_SENT_MAX, sizeof *s_sent);
    cr_assert (s_sent);
    meshq_swim_io_t io = {
        .now_ms = s_clock, .send = s_send, .change = s_change};
    meshq_swim_update_t me;
    s_record (&me, 0, MESHQ_SWIM_ALIVE, 7, 0);
    meshq_swim_addr_t addr;
    memcpy (addr.ip, me.ip, 16);
    addr.port = me.port;
    return meshq_swim_new (&s_config, &io, me.id, 7, &addr, 42);
}

static void
s_init (void)
{
    meshq_swim_config_defaults (&s_config);
    s_config.sync_interval_ms = 0;  //  No table exchanges in the way.
}

//  Delivers a message of type from member n (incarnation 1 unless
//  given in its record) carrying updates.
static int
s_deliver (meshq_swim_t *swim, uint32_t type, const meshq_swim_update_t *from,
           uint64_t seq, const uint8_t *target,
           const meshq_swim_update_t *updates, uint32_t count)
{
    meshq_swim_msg_t msg = {.type = type, .from = *from, .seq = seq};
    if (target) {
        msg.has_target = true;
        memcpy (msg.target.id, target, 16);
    }
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_swim_encode (&buf, &msg, updates, count), 0);
    int rc = meshq_swim_recv (swim, buf.data, buf.size);
    meshq_buf_fini (&buf);
    return rc;
}

//  Brings members 1..n in, alive, by a GOSSIP from member 1.
static void
s_members (meshq_swim_t *swim, int n)
{
    meshq_swim_update_t from, updates[MESHQ_SWIM_UPDATES_MAX];
    s_record (&from, 1, MESHQ_SWIM_ALIVE, 1, 0);
    for (int i = 2; i <= n; i++)
        s_record (&updates[i - 2], i, MESHQ_SWIM_ALIVE, 1, 0);
    cr_assert_eq (s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL,
                             updates, (uint32_t)(n - 1)),
                  0);
}

//  Runs timers until the clock reaches until.
static void
s_run (meshq_swim_t *swim, int64_t until)
{
    for (int guard = 0; guard < 1000000; guard++) {
        int64_t next = meshq_swim_next (swim);
        if (next > until)
            break;
        if (next > s_now)
            s_now = next;
        meshq_swim_tick (swim);
    }
    s_now = until;
}

//  The next message of type sent since *from, or NULL.
static s_sent_t *
s_find (uint32_t type, size_t *from)
{
    for (size_t i = *from; i < s_sent_len; i++)
        if (s_sent[i].msg.type == type) {
            *from = i + 1;
            return &s_sent[i];
        }
    *from = s_sent_len;
    return NULL;
}

static int
s_member_of (const uint8_t *id)
{
    return id[15];
}

static meshq_swim_state_t
s_state (meshq_swim_t *swim, int n)
{
    uint8_t id[16];
    s_id (id, n);
    meshq_swim_state_t state = 99;
    meshq_swim_member (swim, id, &state, NULL, NULL);
    return state;
}

//  Answers every PING sent from *at on with its target's ACK, the
//  target's record at version.
static void
s_answer_pings (meshq_swim_t *swim, size_t *at, uint32_t version)
{
    s_sent_t *ping;
    while ((ping = s_find (MESHQ_SWIM_MSG_PING, at))) {
        meshq_swim_update_t to;
        s_record (&to, s_member_of (ping->to), MESHQ_SWIM_ALIVE, 1, version);
        s_deliver (swim, MESHQ_SWIM_MSG_ACK, &to, ping->msg.seq, NULL, NULL, 0);
    }
}

//  Runs until the first probe's PING (of *target, numbered *seq), then
//  past its timeout with no ACK; *at is then past the PING. Returns
//  when the PING went.
static int64_t
s_unanswered_probe (meshq_swim_t *swim, size_t *at, int *target, uint64_t *seq)
{
    s_sent_t *ping = NULL;
    while (!ping) {
        s_run (swim, s_now + 10);
        ping = s_find (MESHQ_SWIM_MSG_PING, at);
    }
    *target = s_member_of (ping->to);
    *seq = ping->msg.seq;
    int64_t sent = s_now;
    s_run (swim, s_now + s_config.probe_timeout_ms + 1);
    return sent;
}

//  The members the REQs sent from *at on went to, in order (at most
//  16); returns how many.
static int
s_relays (size_t at, int *relays)
{
    int reqs = 0;
    s_sent_t *req;
    while (reqs < 16 && (req = s_find (MESHQ_SWIM_MSG_REQ, &at)))
        relays[reqs++] = s_member_of (req->to);
    return reqs;
}

TestSuite (swim, .init = s_init);

Test (swim, a_probe_answered_keeps_the_member_alive)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 1);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_ALIVE);
    meshq_swim_update_t b;
    s_record (&b, 1, MESHQ_SWIM_ALIVE, 1, 0);
    size_t at = 0;
    for (int round = 0; round < 50; round++) {
        s_run (swim, s_now + s_config.probe_interval_ms);
        s_sent_t *ping;
        while ((ping = s_find (MESHQ_SWIM_MSG_PING, &at)))
            s_deliver (swim, MESHQ_SWIM_MSG_ACK, &b, ping->msg.seq, NULL, NULL,
                       0);
    }
    size_t from = 0;
    cr_assert_null (s_find (MESHQ_SWIM_MSG_REQ, &from),
                    "an answered probe asked others to probe");
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_ALIVE);
    meshq_swim_stats_t st;
    meshq_swim_stats (swim, &st);
    cr_assert_eq (st.suspicions, 0);
    cr_assert_eq (st.awareness, 1);
    meshq_swim_destroy (&swim);
}

Test (swim, no_ack_asks_others_and_the_target_again_and_an_ack_saves_it)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 5);
    //  No ACK: after the probe timeout, REQs to k others, never to the
    //  target, naming it; and the same PING to the target once more
    //  (a lost PING or ACK is the likeliest reason), to no one else.
    size_t at = 0;
    int target;
    uint64_t seq;
    s_unanswered_probe (swim, &at, &target, &seq);
    size_t from = at;
    int pings = 0;
    s_sent_t *ping;
    while ((ping = s_find (MESHQ_SWIM_MSG_PING, &from))) {
        cr_assert_eq (s_member_of (ping->to), target);
        cr_assert_eq (s_member_of (ping->msg.target.id), target);
        cr_assert_eq (ping->msg.seq, seq);
        pings++;
    }
    cr_assert_eq (pings, 1, "%d PINGs of the target after its timeout", pings);
    from = at;
    int reqs = 0;
    s_sent_t *req;
    int relay = 0;
    while ((req = s_find (MESHQ_SWIM_MSG_REQ, &from))) {
        cr_assert_neq (s_member_of (req->to), target);
        cr_assert_eq (s_member_of (req->msg.target.id), target);
        cr_assert_eq (req->msg.seq, seq);
        relay = s_member_of (req->to);
        reqs++;
    }
    cr_assert_eq (reqs, (int)s_config.indirect_checks);
    //  A relay's ACK under our number: the target stays alive.
    meshq_swim_update_t r;
    s_record (&r, relay, MESHQ_SWIM_ALIVE, 1, 0);
    s_deliver (swim, MESHQ_SWIM_MSG_ACK, &r, seq, NULL, NULL, 0);
    s_run (swim, s_now + s_config.probe_interval_ms);
    cr_assert_eq (s_state (swim, target), MESHQ_SWIM_ALIVE);
    meshq_swim_stats_t st;
    meshq_swim_stats (swim, &st);
    cr_assert_eq (st.suspicions, 0);
    meshq_swim_destroy (&swim);
}

Test (swim, every_relay_nack_ends_the_probe_at_once)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 5);
    size_t at = 0;
    int target;
    uint64_t seq;
    int64_t started = s_unanswered_probe (swim, &at, &target, &seq);
    int relays[16], reqs = s_relays (at, relays);
    cr_assert_eq (reqs, (int)s_config.indirect_checks);
    //  All but one NACK: the probe waits on.
    meshq_swim_update_t r;
    for (int i = 0; i + 1 < reqs; i++) {
        s_record (&r, relays[i], MESHQ_SWIM_ALIVE, 1, 0);
        s_deliver (swim, MESHQ_SWIM_MSG_NACK, &r, seq, NULL, NULL, 0);
    }
    cr_assert_eq (s_state (swim, target), MESHQ_SWIM_ALIVE);
    //  The last: suspect now, well before the interval ends, and our
    //  health unchanged (every relay answered).
    s_record (&r, relays[reqs - 1], MESHQ_SWIM_ALIVE, 1, 0);
    s_deliver (swim, MESHQ_SWIM_MSG_NACK, &r, seq, NULL, NULL, 0);
    cr_assert_eq (s_state (swim, target), MESHQ_SWIM_SUSPECT);
    cr_assert_lt (s_now, started + s_config.probe_interval_ms);
    meshq_swim_stats_t st;
    meshq_swim_stats (swim, &st);
    cr_assert_eq (st.awareness, 1);
    meshq_swim_destroy (&swim);
}

Test (swim, only_a_nack_from_each_relay_asked_counts)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 6);
    size_t at = 0;
    int target;
    uint64_t seq;
    s_unanswered_probe (swim, &at, &target, &seq);
    int relays[16], reqs = s_relays (at, relays);
    cr_assert_eq (reqs, (int)s_config.indirect_checks);
    bool asked[8] = {false};
    for (int i = 0; i < reqs; i++)
        asked[relays[i]] = true;
    int stranger = 1;
    while (stranger == target || asked[stranger])
        stranger++;
    cr_assert_leq (stranger, 6);
    //  The first relay's NACK three times over (a datagram duplicated on
    //  the way, or sent again), then one from a member never asked: none
    //  but the first counts, and the probe goes on.
    meshq_swim_update_t r;
    s_record (&r, relays[0], MESHQ_SWIM_ALIVE, 1, 0);
    for (int i = 0; i < 3; i++)
        s_deliver (swim, MESHQ_SWIM_MSG_NACK, &r, seq, NULL, NULL, 0);
    s_record (&r, stranger, MESHQ_SWIM_ALIVE, 1, 0);
    s_deliver (swim, MESHQ_SWIM_MSG_NACK, &r, seq, NULL, NULL, 0);
    cr_assert_eq (s_state (swim, target), MESHQ_SWIM_ALIVE,
                  "NACKs that were not each relay's own ended the probe");
    //  A relay's ACK still saves it.
    s_record (&r, relays[1], MESHQ_SWIM_ALIVE, 1, 0);
    s_deliver (swim, MESHQ_SWIM_MSG_ACK, &r, seq, NULL, NULL, 0);
    s_run (swim, s_now + s_config.probe_interval_ms);
    cr_assert_eq (s_state (swim, target), MESHQ_SWIM_ALIVE);
    meshq_swim_stats_t st;
    meshq_swim_stats (swim, &st);
    cr_assert_eq (st.suspicions, 0);
    meshq_swim_destroy (&swim);
}

Test (swim, silence_makes_a_member_suspect_then_dead)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 1);
    s_run (swim, s_now + 2 * s_config.probe_interval_ms + 1);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_SUSPECT);
    //  The member was told of the suspicion at once, so that it could
    //  refute it.
    size_t from = 0;
    s_sent_t *told = NULL, *m;
    while ((m = s_find (MESHQ_SWIM_MSG_GOSSIP, &from)))
        if (m->count && m->updates[0].state == MESHQ_SWIM_SUSPECT)
            told = m;
    cr_assert_not_null (told);
    cr_assert_eq (s_member_of (told->to), 1);
    //  Dead within the longest suspicion, not before the shortest.
    s_run (swim, s_now + s_config.suspicion_mult * s_config.probe_interval_ms -
                     2 * s_config.probe_interval_ms);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_SUSPECT);
    //  (A dead member is forgotten after dead_keep_ms: look before.)
    s_run (swim, s_now + 10000);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_DEAD);
    //  Reported ALIVE, SUSPECT, DEAD, each once.
    cr_assert_eq (s_changes_len, 3);
    cr_assert_eq (s_changes[0].state, MESHQ_SWIM_ALIVE);
    cr_assert (s_changes[0].fresh, "a member new to us is fresh");
    cr_assert_eq (s_changes[1].state, MESHQ_SWIM_SUSPECT);
    cr_assert_eq (s_changes[2].state, MESHQ_SWIM_DEAD);
    meshq_swim_destroy (&swim);
}

Test (swim, in_a_mesh_of_two_a_suspicion_lasts_the_shortest_timeout)
{
    //  No third member can confirm it: waiting for confirmations would
    //  hold a dead member for the longest suspicion.
    meshq_swim_t *swim = s_new ();
    s_members (swim, 1);
    s_run (swim, s_now + 2 * s_config.probe_interval_ms + 1);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_SUSPECT);
    int64_t shortest = s_config.suspicion_mult * s_config.probe_interval_ms;
    s_run (swim, s_now + shortest + s_config.probe_interval_ms);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_DEAD);
    meshq_swim_destroy (&swim);
}

//  Member teller tells swim that member about (incarnation, version)
//  is suspected by member by.
static void
s_tell_suspect_at (meshq_swim_t *swim, int teller, int about,
                   uint64_t incarnation, uint32_t version, int by)
{
    meshq_swim_update_t from, sus;
    s_record (&from, teller, MESHQ_SWIM_ALIVE, 1, 0);
    s_record (&sus, about, MESHQ_SWIM_SUSPECT, incarnation, version);
    sus.has_by = true;
    s_id (sus.by, by);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &sus, 1);
}

static void
s_tell_suspect (meshq_swim_t *swim, int teller, int about, uint64_t incarnation,
                int by)
{
    s_tell_suspect_at (swim, teller, about, incarnation, 0, by);
}

Test (swim, confirmations_shorten_the_suspicion)
{
    //  Two tables, one suspect member each; one hears two others
    //  confirm: it declares it dead first.
    meshq_swim_t *lone = s_new ();
    s_members (lone, 10);
    s_tell_suspect (lone, 2, 1, 1, 2);
    cr_assert_eq (s_state (lone, 1), MESHQ_SWIM_SUSPECT);
    int64_t start = s_now;
    meshq_swim_t *confirmed = s_new ();
    s_now = start;
    s_members (confirmed, 10);
    for (int by = 2; by <= 6; by++)
        s_tell_suspect (confirmed, by, 1, 1, by);
    //  Step both clocks together; only timers, no answers to anything.
    int64_t dead_lone = 0, dead_confirmed = 0;
    for (int64_t t = start; t < start + 120000 && !dead_lone; t += 50) {
        s_now = t;
        s_run (confirmed, t);
        s_now = t;
        s_run (lone, t);
        if (!dead_confirmed && s_state (confirmed, 1) == MESHQ_SWIM_DEAD)
            dead_confirmed = t;
        if (s_state (lone, 1) == MESHQ_SWIM_DEAD)
            dead_lone = t;
    }
    cr_assert (dead_confirmed && dead_lone, "confirmed=%ld lone=%ld",
               (long)dead_confirmed, (long)dead_lone);
    cr_assert_lt (dead_confirmed, dead_lone, "confirmed=%ld lone=%ld",
                  (long)dead_confirmed, (long)dead_lone);
    meshq_swim_destroy (&lone);
    meshq_swim_destroy (&confirmed);
}

//  Steps the clocks of tables a and b together from start until a's
//  member 1 is dead; returns when each had it dead (0: not yet).
static void
s_race_to_dead (meshq_swim_t *a, meshq_swim_t *b, int64_t start,
                int64_t *dead_a, int64_t *dead_b)
{
    *dead_a = *dead_b = 0;
    for (int64_t t = start; t < start + 120000 && !*dead_a; t += 50) {
        s_now = t;
        s_run (b, t);
        s_now = t;
        s_run (a, t);
        if (!*dead_b && s_state (b, 1) == MESHQ_SWIM_DEAD)
            *dead_b = t;
        if (s_state (a, 1) == MESHQ_SWIM_DEAD)
            *dead_a = t;
    }
}

Test (swim, a_member_just_come_alive_gets_longer_to_answer)
{
    //  Five members suspect member 1 at once, as members probing an
    //  agent that is still starting do. A table that heard of it moments
    //  ago counts one of their confirmations, and declares it dead later
    //  than one that counts all five; both before one with no
    //  confirmation at all.
    cr_assert_gt (s_config.fresh_ms, 0, "on by default");
    meshq_swim_t *fresh = s_new ();
    s_members (fresh, 10);
    int64_t start = s_now;
    for (int by = 2; by <= 6; by++)
        s_tell_suspect (fresh, by, 1, 1, by);
    uint32_t fresh_ms = s_config.fresh_ms;
    s_config.fresh_ms = 0;
    meshq_swim_t *counted = s_new ();
    s_config.fresh_ms = fresh_ms;
    s_now = start;
    s_members (counted, 10);
    for (int by = 2; by <= 6; by++)
        s_tell_suspect (counted, by, 1, 1, by);
    meshq_swim_t *lone = s_new ();
    s_now = start;
    s_members (lone, 10);
    s_tell_suspect (lone, 2, 1, 1, 2);
    int64_t dead_fresh, dead_counted, dead_lone, unused;
    s_race_to_dead (fresh, counted, start, &dead_fresh, &dead_counted);
    meshq_swim_destroy (&counted);
    counted = s_new ();  //  Only its clock is stepped below.
    s_now = start;
    s_race_to_dead (lone, counted, start, &dead_lone, &unused);
    cr_assert (dead_fresh && dead_counted && dead_lone,
               "fresh=%ld counted=%ld lone=%ld", (long)dead_fresh,
               (long)dead_counted, (long)dead_lone);
    cr_assert_lt (dead_counted, dead_fresh, "counted=%ld fresh=%ld",
                  (long)dead_counted, (long)dead_fresh);
    int64_t within = 2 * s_config.suspicion_mult * s_config.probe_interval_ms;
    cr_assert_gt (dead_fresh - start, within, "fresh=%ld",
                  (long)(dead_fresh - start));
    cr_assert_lt (dead_fresh, dead_lone, "fresh=%ld lone=%ld", (long)dead_fresh,
                  (long)dead_lone);
    meshq_swim_destroy (&fresh);
    meshq_swim_destroy (&counted);
    meshq_swim_destroy (&lone);
}

//  A table of ten members that has heard each answer its probes for
//  longer than fresh_ms.
static meshq_swim_t *
s_settled_members (void)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 10);
    size_t at = 0;
    int64_t until = s_now + s_config.fresh_ms + s_config.probe_interval_ms;
    while (s_now < until) {
        s_run (swim, s_now + s_config.probe_interval_ms / 4);
        s_answer_pings (swim, &at, 0);
    }
    return swim;
}

Test (swim, a_suspicion_while_members_join_gets_longer_to_answer)
{
    //  Member 1 has answered every probe for longer than fresh_ms. Two
    //  members join within a second, as in a start of many agents whose
    //  starts starve the older ones too, and five members suspect member
    //  1: its suspicion counts one confirmation, not five. One join
    //  alone is no growth: the shortest timeout, as with none.
    int64_t within = 2 * s_config.suspicion_mult * s_config.probe_interval_ms;
    for (int joins = 1; joins <= 2; joins++) {
        meshq_swim_t *swim = s_settled_members ();
        for (int j = 0; j < joins; j++) {
            meshq_swim_update_t from, joiner;
            s_record (&from, 2, MESHQ_SWIM_ALIVE, 1, 0);
            s_record (&joiner, 11 + j, MESHQ_SWIM_ALIVE, 1, 0);
            s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &joiner, 1);
            cr_assert_eq (s_state (swim, 11 + j), MESHQ_SWIM_ALIVE);
        }
        int64_t start = s_now;
        for (int by = 2; by <= 6; by++)
            s_tell_suspect (swim, by, 1, 1, by);
        cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_SUSPECT);
        s_run (swim, start + within);
        cr_assert_eq (s_state (swim, 1),
                      joins == 2 ? MESHQ_SWIM_SUSPECT : MESHQ_SWIM_DEAD,
                      "%d joins", joins);
        //  Not forever: one confirmation's timeout.
        s_run (swim, start + 4 * within);
        cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_DEAD, "%d joins", joins);
        meshq_swim_destroy (&swim);
    }
}

Test (swim, a_member_alive_for_a_while_counts_every_confirmation)
{
    //  The same five suspicions of a member that has answered every
    //  probe for longer than fresh_ms: the shortest timeout.
    meshq_swim_t *swim = s_settled_members ();
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_ALIVE);
    int64_t start = s_now;
    for (int by = 2; by <= 6; by++)
        s_tell_suspect (swim, by, 1, 1, by);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_SUSPECT);
    //  The shortest timeout is suspicion_mult intervals, a little more
    //  past ten members; one confirmation would leave it near three times
    //  that.
    int64_t within = 2 * s_config.suspicion_mult * s_config.probe_interval_ms;
    s_run (swim, start + within);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_DEAD);
    meshq_swim_destroy (&swim);
}

Test (swim, a_higher_version_refutes_a_suspicion)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 3);
    meshq_swim_update_t from, u;
    s_record (&from, 2, MESHQ_SWIM_ALIVE, 1, 0);
    s_record (&u, 1, MESHQ_SWIM_SUSPECT, 1, 0);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &u, 1);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_SUSPECT);
    //  The same version alive again is no refutation.
    s_record (&u, 1, MESHQ_SWIM_ALIVE, 1, 0);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &u, 1);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_SUSPECT);
    //  A higher one is; the end of a suspicion is not news of a member
    //  (not fresh).
    s_changes_len = 0;
    s_record (&u, 1, MESHQ_SWIM_ALIVE, 1, 1);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &u, 1);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_ALIVE);
    cr_assert_eq (s_changes_len, 1);
    cr_assert_not (s_changes[0].fresh);
    //  Even from the dead: only the member raises its version. Back from
    //  the dead, it is fresh.
    s_record (&u, 1, MESHQ_SWIM_DEAD, 1, 1);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &u, 1);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_DEAD);
    s_changes_len = 0;
    s_record (&u, 1, MESHQ_SWIM_ALIVE, 1, 2);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &u, 1);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_ALIVE);
    cr_assert_eq (s_changes_len, 1);
    cr_assert (s_changes[0].fresh);
    meshq_swim_destroy (&swim);
}

//  Messages sent to member n since *at, each with our record in from
//  and nothing else (an answer carries no gossip of others).
static int
s_answered (size_t at, int n, uint32_t *version)
{
    int told = 0;
    for (size_t i = at; i < s_sent_len; i++)
        if (s_member_of (s_sent[i].to) == n) {
            told++;
            cr_assert_eq (s_sent[i].msg.type, MESHQ_SWIM_MSG_GOSSIP);
            cr_assert_eq (s_sent[i].msg.from.state, MESHQ_SWIM_ALIVE);
            cr_assert_eq (s_sent[i].count, 0);
            *version = s_sent[i].msg.from.version;
        }
    return told;
}

Test (swim, a_suspicion_of_us_is_answered_to_its_teller_and_suspecter)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 5);
    //  Member 2 tells us that member 3 suspects us.
    size_t at = s_sent_len;
    s_tell_suspect (swim, 2, 0, 7, 3);
    //  Both hear our refutation at once, not when gossip gets there.
    uint32_t version = 0;
    cr_assert_eq (s_answered (at, 3, &version), 1,
                  "the suspecter was not told");
    cr_assert_eq (version, 1);
    cr_assert_eq (s_answered (at, 2, &version), 1, "the teller was not told");
    cr_assert_eq (version, 1);
    //  The suspecter reminds us (its suspicion at the old version): it
    //  hears us again. Another member passing the old news on does not.
    at = s_sent_len;
    s_tell_suspect (swim, 3, 0, 7, 3);
    cr_assert_eq (s_answered (at, 3, &version), 1);
    at = s_sent_len;
    s_tell_suspect (swim, 4, 0, 7, 3);
    cr_assert_eq (s_answered (at, 4, &version), 0);
    meshq_swim_destroy (&swim);
}

Test (swim, a_flood_of_suspicions_gets_a_bounded_number_of_answers)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 5);
    //  Member 3 says, again and again, that it suspects us: each time
    //  at the version we last refuted, so each is a new refutation.
    size_t at = s_sent_len;
    for (uint32_t i = 0; i < 100; i++)
        s_tell_suspect_at (swim, 3, 0, 7, i, 3);
    uint32_t version = 0;
    int answers = s_answered (at, 3, &version);
    cr_assert_gt (answers, 0);
    cr_assert_leq (answers, 4, "%d answers to 100 suspicions at once", answers);
    meshq_swim_stats_t st;
    meshq_swim_stats (swim, &st);
    cr_assert_eq (st.answers, (uint64_t)answers);
    cr_assert_eq (st.answers_held, 100 - (uint64_t)answers);
    //  A probe interval later, it is answered again.
    s_now += s_config.probe_interval_ms;
    at = s_sent_len;
    s_tell_suspect_at (swim, 3, 0, 7, 100, 3);
    cr_assert_eq (s_answered (at, 3, &version), 1);
    cr_assert_eq (version, 101);
    meshq_swim_destroy (&swim);
}

Test (swim, suspected_itself_it_raises_its_version_not_its_incarnation)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 2);
    meshq_swim_update_t from, me;
    s_record (&from, 1, MESHQ_SWIM_ALIVE, 1, 0);
    s_record (&me, 0, MESHQ_SWIM_SUSPECT, 7, 0);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &me, 1);
    cr_assert_eq (meshq_swim_version (swim), 1);
    //  A death of an older version, or of another incarnation, changes
    //  nothing; one of its current version is refuted again.
    s_record (&me, 0, MESHQ_SWIM_DEAD, 7, 0);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &me, 1);
    s_record (&me, 0, MESHQ_SWIM_DEAD, 6, 5);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &me, 1);
    cr_assert_eq (meshq_swim_version (swim), 1);
    s_record (&me, 0, MESHQ_SWIM_DEAD, 7, 1);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &me, 1);
    cr_assert_eq (meshq_swim_version (swim), 2);
    //  What it sends next says so, with its incarnation unchanged.
    size_t at = s_sent_len;
    s_run (swim, s_now + 2 * s_config.probe_interval_ms);
    s_sent_t *m = s_find (MESHQ_SWIM_MSG_PING, &at);
    cr_assert_not_null (m);
    cr_assert_eq (m->msg.from.version, 2);
    cr_assert_eq (m->msg.from.incarnation, 7);
    //  And it gossips its refutation.
    bool refutes = false;
    for (size_t j = 0; j < s_sent_len; j++)
        for (uint32_t i = 0; i < s_sent[j].count; i++)
            refutes |= s_member_of (s_sent[j].updates[i].id) == 0 &&
                       s_sent[j].updates[i].state == MESHQ_SWIM_ALIVE &&
                       s_sent[j].updates[i].version == 2;
    cr_assert (refutes);
    meshq_swim_stats_t st;
    meshq_swim_stats (swim, &st);
    cr_assert_eq (st.refutations, 2);
    meshq_swim_destroy (&swim);
}

Test (swim, a_new_incarnation_is_a_restart_dead_then_alive)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 1);
    meshq_swim_update_t from;
    s_record (&from, 1, MESHQ_SWIM_ALIVE, 2, 0);
    s_changes_len = 0;
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, NULL, 0);
    cr_assert_eq (s_changes_len, 2);
    cr_assert_eq (s_changes[0].state, MESHQ_SWIM_DEAD);
    cr_assert_eq (s_changes[0].incarnation, 1);
    cr_assert_eq (s_changes[1].state, MESHQ_SWIM_ALIVE);
    cr_assert_eq (s_changes[1].incarnation, 2);
    cr_assert (s_changes[1].fresh);
    //  The old incarnation is stale: it changes nothing.
    s_record (&from, 1, MESHQ_SWIM_ALIVE, 1, 9);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, NULL, 0);
    uint64_t incarnation;
    meshq_swim_member (swim, from.id, NULL, &incarnation, NULL);
    cr_assert_eq (incarnation, 2);
    cr_assert_eq (s_changes_len, 2);
    meshq_swim_destroy (&swim);
}

Test (swim, health_multiplier_rises_with_missed_acks_and_falls_back)
{
    //  Suspicions long enough that no member dies during the test.
    s_config.suspicion_mult = 100;
    meshq_swim_t *swim = s_new ();
    s_members (swim, 5);
    meshq_swim_stats_t st;
    //  Nothing answers: neither targets nor relays (no NACK either).
    s_run (swim, s_now + 10 * s_config.probe_interval_ms);
    meshq_swim_stats (swim, &st);
    cr_assert_gt (st.awareness, 1);
    cr_assert_leq (st.awareness, s_config.awareness_max);
    uint32_t high = st.awareness;
    //  Probes stretch with it: fewer PINGs per second than healthy.
    size_t at = s_sent_len;
    int64_t start = s_now;
    s_run (swim, s_now + 10 * s_config.probe_interval_ms);
    int pings = 0;
    while (s_find (MESHQ_SWIM_MSG_PING, &at))
        pings++;
    cr_assert_lt (pings, 10);
    //  Now every probe is answered: back to 1.
    at = s_sent_len;
    for (int64_t t = s_now; t < start + 600000; t += 5) {
        s_run (swim, t);
        s_answer_pings (swim, &at, 9);
    }
    meshq_swim_stats (swim, &st);
    cr_assert_lt (st.awareness, high);
    cr_assert_eq (st.awareness, 1);
    meshq_swim_destroy (&swim);
}

Test (swim, a_lost_connection_suspects_at_once_and_probes)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 3);
    uint8_t id[16];
    s_id (id, 2);
    size_t at = s_sent_len;
    cr_assert_eq (meshq_swim_lost (swim, id), 0);
    cr_assert_eq (s_state (swim, 2), MESHQ_SWIM_SUSPECT);
    s_sent_t *ping = s_find (MESHQ_SWIM_MSG_PING, &at);
    cr_assert_not_null (ping);
    cr_assert_eq (s_member_of (ping->to), 2);
    s_id (id, 77);
    cr_assert_eq (meshq_swim_lost (swim, id), MESHQ_ENOTFOUND);
    s_id (id, 3);
    cr_assert_eq (meshq_swim_gone (swim, id), 0);
    cr_assert_eq (s_state (swim, 3), MESHQ_SWIM_DEAD);
    meshq_swim_destroy (&swim);
}

//  How many GOSSIPs to member n since *from told it that it is suspect.
static int
s_told_suspect (int n, size_t from)
{
    int told = 0;
    s_sent_t *m;
    while ((m = s_find (MESHQ_SWIM_MSG_GOSSIP, &from)))
        if (s_member_of (m->to) == n && m->count &&
            s_member_of (m->updates[0].id) == n &&
            m->updates[0].state == MESHQ_SWIM_SUSPECT)
            told++;
    return told;
}

Test (swim, a_member_we_suspect_is_told_again_each_probe_interval)
{
    //  The first word of a suspicion to its member is one datagram: if
    //  it is lost, the member cannot refute before the others' timeouts
    //  unless gossip happens to reach it. No gossip rounds here, so
    //  only our own words reach it.
    s_config.gossip_nodes = 0;
    meshq_swim_t *swim = s_new ();
    s_members (swim, 3);
    uint8_t id[16];
    s_id (id, 2);
    size_t at = s_sent_len;
    cr_assert_eq (meshq_swim_lost (swim, id), 0);
    cr_assert_eq (s_state (swim, 2), MESHQ_SWIM_SUSPECT);
    cr_assert_eq (s_told_suspect (2, at), 1);
    s_run (swim, s_now + 3 * s_config.probe_interval_ms + 1);
    cr_assert_eq (s_state (swim, 2), MESHQ_SWIM_SUSPECT);
    cr_assert_geq (s_told_suspect (2, at), 3);
    //  Refuted: no more words of it.
    meshq_swim_update_t from;
    s_record (&from, 2, MESHQ_SWIM_ALIVE, 1, 1);
    cr_assert_eq (
        s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, NULL, 0), 0);
    cr_assert_eq (s_state (swim, 2), MESHQ_SWIM_ALIVE);
    at = s_sent_len;
    s_run (swim, s_now + 3 * s_config.probe_interval_ms + 1);
    cr_assert_eq (s_told_suspect (2, at), 0);
    meshq_swim_destroy (&swim);
}

//  How many GOSSIPs since from told that member n is dead.
static int
s_told_dead (int n, size_t from)
{
    int told = 0;
    s_sent_t *m;
    while ((m = s_find (MESHQ_SWIM_MSG_GOSSIP, &from)))
        for (uint32_t i = 0; i < m->count; i++)
            if (s_member_of (m->updates[i].id) == n &&
                m->updates[i].state == MESHQ_SWIM_DEAD)
                told++;
    return told;
}

Test (swim, a_death_heard_is_gossiped_on_at_once)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 10);
    int64_t interval = s_config.gossip_interval_ms;
    //  Just past a gossip round: the next is a whole interval away.
    s_run (swim, s_now + interval + 1);
    size_t at = s_sent_len;
    meshq_swim_update_t from, dead;
    s_record (&from, 1, MESHQ_SWIM_ALIVE, 1, 0);
    s_record (&dead, 5, MESHQ_SWIM_DEAD, 1, 0);
    cr_assert_eq (
        s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &dead, 1), 0);
    cr_assert_eq (s_state (swim, 5), MESHQ_SWIM_DEAD);
    //  A round goes within a quarter of an interval (rounds stay that
    //  far apart at least), to gossip_nodes members.
    s_run (swim, s_now + interval / 4);
    cr_assert_geq (s_told_dead (5, at), (int)s_config.gossip_nodes);
    //  A second death a moment later waits for the quarter too: deaths
    //  do not make rounds back to back.
    at = s_sent_len;
    s_record (&dead, 6, MESHQ_SWIM_DEAD, 1, 0);
    cr_assert_eq (
        s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &dead, 1), 0);
    s_run (swim, s_now + 1);
    cr_assert_eq (s_told_dead (6, at), 0);
    s_run (swim, s_now + interval / 4);
    cr_assert_geq (s_told_dead (6, at), (int)s_config.gossip_nodes);
    meshq_swim_destroy (&swim);
}

Test (swim, forged_and_truncated_messages_are_counted_and_dropped)
{
    meshq_swim_t *swim = s_new ();
    meshq_swim_update_t from, updates[4];
    s_record (&from, 1, MESHQ_SWIM_ALIVE, 1, 0);
    for (int i = 0; i < 4; i++)
        s_record (&updates[i], 10 + i, MESHQ_SWIM_ALIVE, 1, 0);
    meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_GOSSIP, .from = from};
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_swim_encode (&buf, &msg, updates, 4), 0);
    //  Every proper prefix fails and changes nothing.
    for (size_t size = 0; size < buf.size; size++)
        cr_assert_neq (meshq_swim_recv (swim, buf.data, size), 0,
                       "a prefix of %zu bytes was accepted", size);
    meshq_swim_stats_t st;
    meshq_swim_stats (swim, &st);
    cr_assert_eq (st.bad_msgs, buf.size);
    cr_assert_eq (st.alive, 0, "a truncated message brought members in");
    //  Every single-byte change either decodes or is counted.
    uint64_t bad = st.bad_msgs;
    uint64_t refused = 0;
    for (size_t i = 0; i < buf.size; i++) {
        uint8_t copy[1024];
        memcpy (copy, buf.data, buf.size);
        copy[i] ^= 0x5a;
        refused += meshq_swim_recv (swim, copy, buf.size) != 0;
    }
    meshq_swim_stats (swim, &st);
    cr_assert_eq (st.bad_msgs - bad, refused);
    //  Too large, too many updates, the wrong version, garbage.
    static uint8_t big[MESHQ_SWIM_MSG_MAX + 1];
    cr_assert_eq (meshq_swim_recv (swim, big, sizeof big), MESHQ_EMSGSIZE);
    meshq_swim_update_t many[MESHQ_SWIM_UPDATES_MAX + 1];
    for (int i = 0; i <= MESHQ_SWIM_UPDATES_MAX; i++)
        s_record (&many[i], i + 1, MESHQ_SWIM_ALIVE, 1, 0);
    meshq_buf_reset (&buf);
    cr_assert_eq (
        meshq_codec_swim_encode (&buf, &msg, many, MESHQ_SWIM_UPDATES_MAX + 1),
        MESHQ_EINVAL);
    const uint8_t v2[] = {0x83, 0xa1, 'v',  0x02, 0xa1,
                          't',  0x05, 0xa1, 'f',  0xc0};
    cr_assert_eq (meshq_swim_recv (swim, v2, sizeof v2), MESHQ_EVERSION);
    srand (7);
    for (int i = 0; i < 10000; i++) {
        uint8_t junk[64];
        for (size_t j = 0; j < sizeof junk; j++)
            junk[j] = (uint8_t)rand ();
        meshq_swim_recv (swim, junk, (size_t)(rand () % 64));
    }
    //  A message claiming to be from ourselves is refused too.
    s_record (&from, 0, MESHQ_SWIM_ALIVE, 7, 0);
    cr_assert_neq (
        s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, NULL, 0), 0);
    //  And the module still works.
    s_members (swim, 2);
    cr_assert_eq (s_state (swim, 2), MESHQ_SWIM_ALIVE);
    meshq_buf_fini (&buf);
    meshq_swim_destroy (&swim);
}

Test (swim, a_ping_for_another_id_is_not_answered)
{
    meshq_swim_t *swim = s_new ();
    meshq_swim_update_t from;
    s_record (&from, 1, MESHQ_SWIM_ALIVE, 1, 0);
    uint8_t other[16];
    s_id (other, 99);
    size_t at = s_sent_len;
    s_deliver (swim, MESHQ_SWIM_MSG_PING, &from, 5, other, NULL, 0);
    cr_assert_null (s_find (MESHQ_SWIM_MSG_ACK, &at));
    uint8_t me[16];
    s_id (me, 0);
    at = s_sent_len;
    s_deliver (swim, MESHQ_SWIM_MSG_PING, &from, 6, me, NULL, 0);
    s_sent_t *ack = s_find (MESHQ_SWIM_MSG_ACK, &at);
    cr_assert_not_null (ack);
    cr_assert_eq (ack->msg.seq, 6);
    meshq_swim_stats_t st;
    meshq_swim_stats (swim, &st);
    cr_assert_eq (st.misdirected, 1);
    meshq_swim_destroy (&swim);
}

Test (swim, the_table_is_capped)
{
    s_config.max_members = 8;
    s_config.gossip_queue_max = 4;
    meshq_swim_t *swim = s_new ();
    for (int batch = 0; batch < 10; batch++) {
        meshq_swim_update_t from, updates[MESHQ_SWIM_UPDATES_MAX];
        s_record (&from, 200 + batch, MESHQ_SWIM_ALIVE, 1, 0);
        for (int i = 0; i < MESHQ_SWIM_UPDATES_MAX; i++)
            s_record (&updates[i], i + 1, MESHQ_SWIM_ALIVE, 1, 0);
        for (int i = 0; i < MESHQ_SWIM_UPDATES_MAX; i++)
            updates[i].id[14] = (uint8_t)batch;
        s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, updates,
                   MESHQ_SWIM_UPDATES_MAX);
    }
    meshq_swim_stats_t st;
    meshq_swim_stats (swim, &st);
    cr_assert_eq (st.alive + st.suspect + st.dead, 8);
    cr_assert_eq (st.members_full, 10 * (MESHQ_SWIM_UPDATES_MAX + 1) - 8);
    cr_assert_leq (st.queued, 4);
    cr_assert_gt (st.gossip_dropped, 0);
    //  Probing and gossip go on within the cap.
    s_run (swim, s_now + 10000);
    meshq_swim_stats (swim, &st);
    cr_assert_eq (st.alive + st.suspect + st.dead, 8);
    meshq_swim_destroy (&swim);
}

Test (swim, a_member_entry_is_small)
{
    //  The budget: about 100 bytes a member, index included.
    cr_assert_leq (meshq_swim_member_bytes (), 100);
}

Test (swim, hello_to_a_member_held_dead_tells_it_so)
{
    //  After a partition each side holds the other dead; a hello (a
    //  beacon heard) carries the death, so that the member refutes it
    //  and its ACK brings it back.
    //  A queue of one, which a later change empties of the death.
    s_config.gossip_queue_max = 1;
    meshq_swim_t *swim = s_new ();
    s_members (swim, 2);
    uint8_t id[16];
    s_id (id, 2);
    cr_assert_eq (meshq_swim_gone (swim, id), 0);
    s_members (swim, 3);
    meshq_swim_addr_t addr = {.port = 5681};
    size_t at = s_sent_len;
    meshq_swim_hello (swim, id, 0, &addr);
    s_sent_t *ping = s_find (MESHQ_SWIM_MSG_PING, &at);
    cr_assert_not_null (ping);
    cr_assert_eq (ping->msg.seq, 0);
    cr_assert_geq (ping->count, 1);
    cr_assert_eq (s_member_of (ping->updates[0].id), 2);
    cr_assert_eq (ping->updates[0].state, MESHQ_SWIM_DEAD);
    //  Its ACK, with the refuted version, brings it back.
    meshq_swim_update_t b;
    s_record (&b, 2, MESHQ_SWIM_ALIVE, 1, 1);
    s_deliver (swim, MESHQ_SWIM_MSG_ACK, &b, 0, NULL, NULL, 0);
    cr_assert_eq (s_state (swim, 2), MESHQ_SWIM_ALIVE);
    //  A hello to a member alive sends nothing.
    at = s_sent_len;
    meshq_swim_hello (swim, id, 0, &addr);
    cr_assert_null (s_find (MESHQ_SWIM_MSG_PING, &at));
    meshq_swim_destroy (&swim);
}

Test (swim, hello_of_a_newer_start_pings_and_learns_the_restart)
{
    //  A member restarted, and its beacon names the new start: the
    //  others ask it at once rather than wait to see the old one die.
    meshq_swim_t *swim = s_new ();
    s_members (swim, 2);
    uint8_t id[16];
    s_id (id, 2);
    meshq_swim_addr_t addr = {.port = 5681};
    size_t at = s_sent_len;
    meshq_swim_hello (swim, id, 1, &addr);
    cr_assert_null (s_find (MESHQ_SWIM_MSG_PING, &at), "same start: no ping");
    at = s_sent_len;
    meshq_swim_hello (swim, id, 2, &addr);
    cr_assert_not_null (s_find (MESHQ_SWIM_MSG_PING, &at));
    size_t changes = s_changes_len;
    meshq_swim_update_t b;
    s_record (&b, 2, MESHQ_SWIM_ALIVE, 2, 0);
    s_deliver (swim, MESHQ_SWIM_MSG_ACK, &b, 0, NULL, NULL, 0);
    cr_assert_eq (s_state (swim, 2), MESHQ_SWIM_ALIVE);
    uint64_t incarnation = 0;
    meshq_swim_member (swim, id, NULL, &incarnation, NULL);
    cr_assert_eq (incarnation, 2);
    cr_assert_eq (s_changes_len, changes + 2, "dead then alive");
    cr_assert_eq (s_changes[changes].state, MESHQ_SWIM_DEAD);
    cr_assert_eq (s_changes[changes + 1].state, MESHQ_SWIM_ALIVE);
    meshq_swim_destroy (&swim);
}

Test (swim, slower_probes_keep_the_suspicion_unit)
{
    //  Probes every two intervals send half the PINGs; a suspicion
    //  counted in the unit set lasts as long as before.
    s_config.suspicion_unit_ms = s_config.probe_interval_ms;
    s_config.awareness_max = 1;  //  Unanswered PINGs slow nothing.
    uint32_t interval = s_config.probe_interval_ms;
    int64_t lasted[2];
    size_t pings[2];
    for (int slow = 0; slow < 2; slow++) {
        meshq_swim_t *swim = s_new ();
        if (slow)
            meshq_swim_set_probe_interval (swim, 2 * interval);
        s_members (swim, 1);
        //  Nobody answers: the only member goes suspect, then dead.
        int64_t start = s_now, suspect = 0;
        for (int64_t t = start; t < start + 60000; t += 10) {
            s_run (swim, t);
            if (!suspect && s_state (swim, 1) == MESHQ_SWIM_SUSPECT)
                suspect = t;
            if (s_state (swim, 1) == MESHQ_SWIM_DEAD) {
                lasted[slow] = t - suspect;
                break;
            }
        }
        cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_DEAD);
        s_sent_len = 0;
        meshq_swim_destroy (&swim);
        swim = s_new ();
        if (slow)
            meshq_swim_set_probe_interval (swim, 2 * interval);
        s_members (swim, 3);
        s_sent_len = 0;
        //  Answered or not, count the PINGs of 20 intervals.
        s_run (swim, s_now + 20 * interval);
        pings[slow] = 0;
        size_t at = 0;
        while (s_find (MESHQ_SWIM_MSG_PING, &at))
            pings[slow]++;
        meshq_swim_destroy (&swim);
    }
    cr_assert_lt (pings[1], pings[0] * 3 / 4, "pings %zu then %zu", pings[0],
                  pings[1]);
    //  Within one slow interval of each other (the suspicion is timed
    //  on the probes' ticks).
    cr_assert_lt (lasted[1], lasted[0] + 2 * interval + 20,
                  "suspect for %lld ms, then %lld", (long long)lasted[0],
                  (long long)lasted[1]);
}

Test (swim, a_newcomer_pinged_first_asks_for_the_table)
{
    //  Found by the mesh before it joined through anyone: the first
    //  member heard is asked for its whole table, once.
    s_config.sync_interval_ms = 30000;
    meshq_swim_t *swim = s_new ();
    uint8_t me[16];
    s_id (me, 0);
    meshq_swim_update_t from;
    s_record (&from, 3, MESHQ_SWIM_ALIVE, 1, 0);
    cr_assert_eq (s_deliver (swim, MESHQ_SWIM_MSG_PING, &from, 9, me, NULL, 0),
                  0);
    size_t at = 0;
    s_sent_t *sync = s_find (MESHQ_SWIM_MSG_SYNC, &at);
    cr_assert_not_null (sync, "no table asked of the first member heard");
    cr_assert (sync->msg.reply);
    cr_assert_eq (s_member_of (sync->to), 3);
    //  A second member's PING asks nothing more.
    s_record (&from, 4, MESHQ_SWIM_ALIVE, 1, 0);
    s_deliver (swim, MESHQ_SWIM_MSG_PING, &from, 10, me, NULL, 0);
    cr_assert_null (s_find (MESHQ_SWIM_MSG_SYNC, &at));
    meshq_swim_destroy (&swim);
}

//  The node stops running (paused, starved of CPU) for ms, then its
//  timers run, late.
static void
s_stall (meshq_swim_t *swim, int64_t ms)
{
    int64_t due = meshq_swim_next (swim);
    s_now = (due > s_now ? due : s_now) + ms;
    meshq_swim_tick (swim);
}

//  Lifeguard: a node that was not running has no evidence against
//  anyone. Its probe's ACK may be waiting in its socket, and a member's
//  refutation may be on its way; the time away is not their silence.
Test (swim, a_node_that_stalled_accuses_no_one)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 3);
    //  A probe starts; then the node stalls for 3 s.
    size_t at = 0;
    while (!s_find (MESHQ_SWIM_MSG_PING, &at)) {
        at = 0;
        s_run (swim, s_now + 1);
    }
    s_stall (swim, 3000);
    for (int n = 1; n <= 3; n++)
        cr_expect_eq (s_state (swim, n), MESHQ_SWIM_ALIVE,
                      "member %d accused after our stall", n);
    meshq_swim_stats_t stats;
    meshq_swim_stats (swim, &stats);
    cr_expect_eq (stats.stalls, 1);
    cr_expect_eq (stats.suspicions, 0);
    cr_expect_gt (stats.awareness, 1, "a stall lowers our health");
    //  A member truly silent is still found out once we run again.
    s_run (swim, s_now + 20 * s_config.probe_interval_ms);
    meshq_swim_stats (swim, &stats);
    cr_expect_gt (stats.suspicions, 0);
    meshq_swim_destroy (&swim);
}

Test (swim, a_suspicion_does_not_run_out_while_the_node_stalls)
{
    meshq_swim_t *swim = s_new ();
    s_members (swim, 3);
    meshq_swim_update_t from, u;
    s_record (&from, 2, MESHQ_SWIM_ALIVE, 1, 0);
    s_record (&u, 1, MESHQ_SWIM_SUSPECT, 1, 0);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &u, 1);
    cr_assert_eq (s_state (swim, 1), MESHQ_SWIM_SUSPECT);
    //  Stalled for longer than the longest suspicion: its refutation
    //  came meanwhile and waits in our socket.
    s_stall (swim, 60000);
    cr_expect_eq (s_state (swim, 1), MESHQ_SWIM_SUSPECT,
                  "declared dead by a node that was not running");
    s_record (&u, 1, MESHQ_SWIM_ALIVE, 1, 1);
    s_deliver (swim, MESHQ_SWIM_MSG_GOSSIP, &from, 0, NULL, &u, 1);
    cr_expect_eq (s_state (swim, 1), MESHQ_SWIM_ALIVE);
    meshq_swim_destroy (&swim);
}
