/*  chaos_faults.c - the faults of a chaos run (see chaos_run.h): what
    each does and undoes, and when they come.
*/
#include "chaos_run_internal.h"

#include <czmq.h>
#include <signal.h>

static const char *s_kind_names[CHAOS_KINDS] = {"agent SIGKILL",
                                                "consumer SIGKILL",
                                                "agent SIGSTOP",
                                                "consumer SIGSTOP",
                                                "link down",
                                                "one-way drop (nft)",
                                                "partial drop (nft numgen)",
                                                "two-way partition (nft)",
                                                "slow link (tbf 1 Mbit/s)"};

const char *
chaos_kind_name (chaos_kind_t kind)
{
    return kind < CHAOS_KINDS ? s_kind_names[kind] : "?";
}

// --------------------------------------------------------------------
//  Faults

static void
s_ns (int i, char *out, size_t size)
{
    snprintf (out, size, "%s-n%d", chaos_state.config.tag, i + 1);
}

//  The addresses of the nodes in group, as an nft set: "{ a, b }".
static void
s_addresses (unsigned group, char *out, size_t size)
{
    snprintf (out, size, "{ ");
    bool first = true;
    for (int j = 0; j < chaos_state.config.nodes; j++)
        if (group & (1u << j)) {
            size_t used = strlen (out);
            snprintf (out + used, size - used, "%s%s.%d", first ? "" : ", ",
                      chaos_state.config.net, j + 1);
            first = false;
        }
    size_t used = strlen (out);
    snprintf (out + used, size - used, " }");
}

//  Makes table in node i's namespace with a rule in the input and/or
//  output hook.
static void
s_nft (int i, const char *table, const char *input, const char *output)
{
    char ns[64], command[1024];
    s_ns (i, ns, sizeof ns);
    snprintf (command, sizeof command, "add table inet %s; ", table);
    const char *hooks[2] = {"input", "output"};
    const char *rules[2] = {input, output};
    for (int h = 0; h < 2; h++)
        if (rules[h]) {
            size_t used = strlen (command);
            snprintf (command + used, sizeof command - used,
                      "add chain inet %s %s { type filter hook %s priority 0; "
                      "policy accept; }; add rule inet %s %s %s; ",
                      table, hooks[h], hooks[h], table, hooks[h], rules[h]);
        }
    chaos_shell ("ip netns exec %s nft '%s'", ns, command);
}

static void
s_apply (chaos_fault_t *f, int ms)
{
    const chaos_config_t *c = &chaos_state.config;
    char ns[64] = "", rule[256], set[128];
    if (c->tag)
        s_ns (f->node, ns, sizeof ns);
    f->start = zclock_mono ();
    f->end = f->start + ms;
    chaos_state.result->faults[f->kind]++;
    switch (f->kind) {
        case CHAOS_AGENT_KILL:
            chaos_state.agent_busy[f->node] = true;
            chaos_reap (&chaos_state.agents[f->node], SIGKILL);
            break;
        case CHAOS_CONSUMER_KILL:
            chaos_state.consumer_busy[f->node] = true;
            chaos_reap (&chaos_state.consumers[f->node], SIGKILL);
            break;
        case CHAOS_AGENT_STOP:
            chaos_state.agent_busy[f->node] = true;
            chaos_signal (chaos_state.agents[f->node], SIGSTOP);
            break;
        case CHAOS_CONSUMER_STOP:
            chaos_state.consumer_busy[f->node] = true;
            chaos_signal (chaos_state.consumers[f->node], SIGSTOP);
            break;
        case CHAOS_LINK_DOWN:
            chaos_state.net_busy[f->node] = true;
            chaos_shell ("ip -n %s link set mq0 down", ns);
            break;
        case CHAOS_ONE_WAY_DROP:
        case CHAOS_PARTIAL_DROP: {
            chaos_state.net_busy[f->node] = true;
            bool out = chaos_random (2) == 0;
            char match[96] = "";
            if (f->peer >= 0)
                snprintf (match, sizeof match, "ip %s %s.%d ",
                          out ? "daddr" : "saddr", c->net, f->peer + 1);
            if (f->kind == CHAOS_PARTIAL_DROP)
                snprintf (rule, sizeof rule,
                          "%snumgen random mod 100 < %d drop", match,
                          f->percent ? f->percent : 20 + chaos_random (50));
            else
                snprintf (rule, sizeof rule, "%sdrop", match);
            snprintf (f->table, sizeof f->table, "meshq_chaos_%d_%d",
                      (int)getpid (), ++chaos_state.tables);
            s_nft (f->node, f->table, out ? NULL : rule, out ? rule : NULL);
            if (f->kind == CHAOS_ONE_WAY_DROP && ms >= 8000)
                chaos_state.result->long_one_way_drop = true;
            break;
        }
        case CHAOS_PARTITION: {
            //  Each node of the group drops what comes from, and goes to,
            //  the others.
            unsigned all = (1u << c->nodes) - 1;
            s_addresses (all & ~f->group, set, sizeof set);
            char input[160], output[160];
            snprintf (input, sizeof input, "ip saddr %s drop", set);
            snprintf (output, sizeof output, "ip daddr %s drop", set);
            snprintf (f->table, sizeof f->table, "meshq_chaos_%d_%d",
                      (int)getpid (), ++chaos_state.tables);
            chaos_state.partitioned = true;
            for (int j = 0; j < c->nodes; j++)
                if (f->group & (1u << j))
                    s_nft (j, f->table, input, output);
            break;
        }
        case CHAOS_SLOW_LINK:
            chaos_state.net_busy[f->node] = true;
            chaos_shell (
                "ip netns exec %s tc qdisc add dev mq0 root tbf rate "
                "1mbit burst 32kbit latency 400ms && "
                "ip netns exec %s-br tc qdisc add dev p%d root tbf rate "
                "1mbit burst 32kbit latency 400ms",
                ns, c->tag, f->node + 1);
            break;
        default:
            break;
    }
}

static void
s_undo (chaos_fault_t *f)
{
    const chaos_config_t *c = &chaos_state.config;
    char ns[64] = "";
    if (c->tag)
        s_ns (f->node, ns, sizeof ns);
    switch (f->kind) {
        case CHAOS_AGENT_KILL:
            chaos_start_agent (f->node);
            chaos_state.agent_busy[f->node] = false;
            break;
        case CHAOS_CONSUMER_KILL:
            chaos_start_consumer (f->node);
            chaos_state.consumer_busy[f->node] = false;
            break;
        case CHAOS_AGENT_STOP:
            chaos_signal (chaos_state.agents[f->node], SIGCONT);
            chaos_state.agent_busy[f->node] = false;
            //  Stopped longer than the peer timeout (1 s)?
            if (zclock_mono () - f->start > 1000)
                chaos_state.result->long_agent_stop = true;
            break;
        case CHAOS_CONSUMER_STOP:
            chaos_signal (chaos_state.consumers[f->node], SIGCONT);
            chaos_state.consumer_busy[f->node] = false;
            break;
        case CHAOS_LINK_DOWN:
            chaos_shell ("ip -n %s link set mq0 up", ns);
            chaos_state.net_busy[f->node] = false;
            break;
        case CHAOS_ONE_WAY_DROP:
        case CHAOS_PARTIAL_DROP:
            chaos_shell ("ip netns exec %s nft delete table inet %s", ns,
                         f->table);
            chaos_state.net_busy[f->node] = false;
            break;
        case CHAOS_PARTITION:
            for (int j = 0; j < c->nodes; j++)
                if (f->group & (1u << j)) {
                    s_ns (j, ns, sizeof ns);
                    chaos_shell ("ip netns exec %s nft delete table inet %s",
                                 ns, f->table);
                }
            chaos_state.partitioned = false;
            break;
        case CHAOS_SLOW_LINK:
            chaos_shell ("ip netns exec %s tc qdisc del dev mq0 root; "
                         "ip netns exec %s-br tc qdisc del dev p%d root",
                         ns, c->tag, f->node + 1);
            chaos_state.net_busy[f->node] = false;
            break;
        default:
            break;
    }
    f->end = 0;
}

static chaos_fault_t *
s_free_slot (void)
{
    for (int k = 0; k < CHAOS_MAX_FAULTS; k++)
        if (!chaos_state.faults[k].end)
            return &chaos_state.faults[k];
    return NULL;
}

//  A node, from a random one on, whose resource is free and (consumer
//  faults) that has a consumer; -1 if none.
static int
s_pick (const bool *busy, bool consumer)
{
    int first = chaos_random (chaos_state.config.nodes);
    for (int k = 0; k < chaos_state.config.nodes; k++) {
        int i = (first + k) % chaos_state.config.nodes;
        if (!busy[i] && (!consumer || chaos_has_consumer (i)))
            return i;
    }
    return -1;
}

//  Starts a fault of kind lasting ms (or a random time if 0); a drop
//  of percent of the packets (if 0: all for a one-way drop, at random
//  for a partial one) to or from one peer, or all if percent is set.
//  False if its target is busy or every slot is taken.
static bool
s_start (chaos_kind_t kind, int ms, int percent)
{
    chaos_fault_t *f = s_free_slot ();
    if (!f)
        return false;
    memset (f, 0, sizeof *f);
    f->kind = kind;
    f->peer = -1;
    int node = -1;
    switch (kind) {
        case CHAOS_AGENT_KILL:
            node = s_pick (chaos_state.agent_busy, false);
            ms = ms ? ms : 200 + chaos_random (1500);
            break;
        case CHAOS_CONSUMER_KILL:
            node = s_pick (chaos_state.consumer_busy, true);
            ms = ms ? ms : 50 + chaos_random (450);
            break;
        case CHAOS_AGENT_STOP:
            node = s_pick (chaos_state.agent_busy, false);
            ms = ms ? ms : 300 + chaos_random (3200);
            break;
        case CHAOS_CONSUMER_STOP:
            node = s_pick (chaos_state.consumer_busy, true);
            ms = ms ? ms : 300 + chaos_random (2700);
            break;
        case CHAOS_LINK_DOWN:
            node = s_pick (chaos_state.net_busy, false);
            ms = ms ? ms : 1200 + chaos_random (2000);
            break;
        case CHAOS_ONE_WAY_DROP:
        case CHAOS_PARTIAL_DROP:
            node = s_pick (chaos_state.net_busy, false);
            if (node >= 0 && !percent && chaos_random (3))
                f->peer =
                    (node + 1 + chaos_random (chaos_state.config.nodes - 1)) %
                    chaos_state.config.nodes;
            f->percent = percent;
            ms = ms ? ms : 1000 + chaos_random (7000);
            break;
        case CHAOS_PARTITION:
            node = chaos_state.partitioned ? -1 : 0;
            //  A proper, non-empty subset.
            f->group = 1 + (unsigned)chaos_random (
                               (1 << chaos_state.config.nodes) - 2);
            ms = ms ? ms : 2000 + chaos_random (4000);
            break;
        case CHAOS_SLOW_LINK:
            node = s_pick (chaos_state.net_busy, false);
            ms = ms ? ms : 3000 + chaos_random (7000);
            break;
        default:
            break;
    }
    if (node < 0)
        return false;
    f->node = node;
    s_apply (f, ms);
    return true;
}

static int
s_active (void)
{
    int active = 0;
    for (int k = 0; k < CHAOS_MAX_FAULTS; k++)
        active += chaos_state.faults[k].end != 0;
    return active;
}

static void
s_undo_due (bool all)
{
    int64_t now = zclock_mono ();
    for (int k = 0; k < CHAOS_MAX_FAULTS; k++)
        if (chaos_state.faults[k].end &&
            (all || chaos_state.faults[k].end <= now))
            s_undo (&chaos_state.faults[k]);
}

// --------------------------------------------------------------------
//  The run

static bool
s_stopped (void)
{
    return chaos_state.config.stop && *chaos_state.config.stop;
}

//  Faults until the time is up: one every 0.3 to 1.5 s, at most three
//  at once, and the ones every run must have: in the first third an 8 s
//  one-way drop, in the second an 8 s drop of half the packets one way
//  (TCP's retransmissions then bring HELLOs late), in the second half a
//  SIGSTOP of an agent longer than the peer timeout.
void
chaos_faults (int64_t start)
{
    const chaos_config_t *c = &chaos_state.config;
    int ms = c->seconds * 1000;
    int64_t end = start + ms;
    int kinds = c->tag ? CHAOS_KINDS : CHAOS_CONSUMER_STOP + 1;
    int64_t drop_at = start + 1000 + chaos_random (ms / 3);
    int64_t partial_at = start + ms / 3 + chaos_random (ms / 3);
    int64_t stop_at = start + ms / 2 + chaos_random (ms / 2 - 3000);
    bool drop_due = c->tag != NULL, partial_due = c->tag != NULL,
         stop_due = true;
    int64_t next = start + 500, next_log = start + 1000,
            next_progress = start + c->progress * 1000;
    while (zclock_mono () < end && !s_stopped ()) {
        s_undo_due (false);
        int64_t now = zclock_mono ();
        if (drop_due && now >= drop_at && s_start (CHAOS_ONE_WAY_DROP, 8000, 0))
            drop_due = false;
        if (partial_due && now >= partial_at &&
            s_start (CHAOS_PARTIAL_DROP, 8000, 50))
            partial_due = false;
        if (stop_due && now >= stop_at && s_start (CHAOS_AGENT_STOP, 3000, 0))
            stop_due = false;
        if (now >= next) {
            //  Partial drops twice as often as the others.
            int kind = chaos_random (kinds + (c->tag ? 1 : 0));
            if (s_active () < 3)
                s_start (kind < kinds ? (chaos_kind_t)kind : CHAOS_PARTIAL_DROP,
                         0, 0);
            next = now + 300 + chaos_random (1200);
        }
        if (now >= next_log) {
            chaos_follow_logs ();
            next_log = now + 1000;
        }
        if (c->progress && now >= next_progress) {
            chaos_progress (start);
            next_progress = now + c->progress * 1000;
        }
        zclock_sleep (20);
    }
}

void
chaos_faults_undo (bool cleanup)
{
    if (!cleanup) {
        s_undo_due (true);
        return;
    }
    //  Undoing a kill would start the process again, and a SIGSTOP's
    //  SIGCONT would not matter: the processes are gone.
    for (int k = 0; k < CHAOS_MAX_FAULTS; k++) {
        chaos_fault_t *f = &chaos_state.faults[k];
        if (f->end && f->kind != CHAOS_AGENT_KILL &&
            f->kind != CHAOS_CONSUMER_KILL && f->kind != CHAOS_AGENT_STOP &&
            f->kind != CHAOS_CONSUMER_STOP)
            s_undo (f);
        f->end = 0;
    }
}
