/*  sim_net.c - the membership simulator: N real modules, one clock, one
    heap of events, one lossy network. See sim_net.h.

    Node i has id i (4 bytes, big-endian) followed by 12 random bytes,
    and address ::ffff:10.a.b.c, where a.b.c is i: the transport finds
    the receiver from the address, as the agent will from an endpoint.
*/
#include "sim_net.h"
#include "meshq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum {
    S_EV_START,    //  A node starts (and joins).
    S_EV_TICK,     //  A node's timer.
    S_EV_DELIVER,  //  A message arrives at a node.
    S_EV_MONITOR,  //  The phase machine looks at the mesh.
} s_kind_t;

typedef struct {
    int64_t at;      //  Simulated time, ms.
    uint64_t order;  //  Tie-break: first pushed, first run.
    uint32_t node;   //  Which node.
    uint32_t kind;   //  An s_kind_t.
    uint32_t gen;    //  TICK: the node's timer generation it was for.
    uint32_t size;   //  DELIVER: bytes.
    uint8_t *data;   //  DELIVER: the message, owned.
} s_event_t;

typedef struct {
    meshq_swim_t *swim;  //  The module; NULL before start.
    bool crashed;        //  Stopped for good.
    int64_t paused_to;   //  Frozen until then.
    int64_t tick_at;     //  When its timer is due; 0: none pending.
    uint32_t tick_gen;   //  Generation of that timer.
    uint8_t id[16];      //  Its id.
} s_node_t;

typedef enum {
    S_PHASE_JOIN,
    S_PHASE_STEADY,
    S_PHASE_CRASH,
    S_PHASE_PAUSE,
    S_PHASE_PARTITION,
    S_PHASE_DONE,
} s_phase_t;

static const char *s_phase_names[] = {"join",  "steady",    "crash",
                                      "pause", "partition", "done"};

typedef struct {
    const meshq_sim_config_t *config;
    meshq_sim_result_t *result;
    s_node_t *nodes;
    uint32_t n;
    s_event_t *heap;
    size_t heap_len, heap_cap;
    uint64_t order;
    int64_t now;
    uint64_t rng;
    uint32_t started;       //  Nodes started so far.
    uint32_t *start_order;  //  Node indexes in start order.
    int64_t last_start;     //  When the last node starts.
    s_phase_t phase;
    int64_t phase_at;  //  When the phase began.
    bool count_false;  //  Suspicions of live nodes are false now.
    uint64_t steady_msgs, steady_bytes;  //  Totals at the steady start.
    uint32_t crashed;                    //  The crashed node, or UINT32_MAX.
    uint8_t *knows;          //  Per node: knows the crash / the pause.
    uint32_t known;          //  Nodes that know it.
    uint32_t must_know;      //  Nodes that had it as a member.
    uint32_t paused;         //  The paused node, or UINT32_MAX.
    uint8_t *pause_state;    //  Per node: its state of the paused one.
    uint32_t *suspected_at;  //  Per node: its version + 1 when last
                             //  counted suspect (one count a suspicion,
                             //  not one per node that hears of it).
    uint32_t *downed_at;     //  The same for false downs.
    int64_t *pinged_at;      //  Per node: its last PING (steady).
    int64_t partition_to;    //  The cut lasts until then.
    int64_t wall_start;      //  Wall clock, ms.
    int64_t wall_print;      //  Last progress line.
} s_sim_t;

static int64_t
s_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
s_random (s_sim_t *sim)
{
    uint64_t x = sim->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    sim->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double
s_uniform (s_sim_t *sim)
{
    return (double)(s_random (sim) >> 11) / (double)(1ULL << 53);
}

static bool
s_before (const s_event_t *a, const s_event_t *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static int
s_push (s_sim_t *sim, int64_t at, uint32_t node, s_kind_t kind, uint32_t gen,
        uint8_t *data, uint32_t size)
{
    if (sim->heap_len == sim->heap_cap) {
        size_t cap = sim->heap_cap ? sim->heap_cap * 2 : 1024;
        s_event_t *heap = realloc (sim->heap, cap * sizeof *heap);
        if (!heap) {
            free (data);
            return MESHQ_ENOMEM;
        }
        sim->heap = heap;
        sim->heap_cap = cap;
    }
    s_event_t ev = {.at = at,
                    .order = sim->order++,
                    .node = node,
                    .kind = kind,
                    .gen = gen,
                    .size = size,
                    .data = data};
    size_t i = sim->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before (&ev, &sim->heap[parent]))
            break;
        sim->heap[i] = sim->heap[parent];
        i = parent;
    }
    sim->heap[i] = ev;
    return 0;
}

static s_event_t
s_pop (s_sim_t *sim)
{
    s_event_t top = sim->heap[0];
    s_event_t last = sim->heap[--sim->heap_len];
    size_t i = 0;
    while (true) {
        size_t child = 2 * i + 1;
        if (child >= sim->heap_len)
            break;
        if (child + 1 < sim->heap_len &&
            s_before (&sim->heap[child + 1], &sim->heap[child]))
            child++;
        if (!s_before (&sim->heap[child], &last))
            break;
        sim->heap[i] = sim->heap[child];
        i = child;
    }
    if (sim->heap_len)
        sim->heap[i] = last;
    return top;
}

static uint32_t
s_index_of_id (const uint8_t *id)
{
    return (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 |
           (uint32_t)id[2] << 8 | id[3];
}

static void
s_addr_of (uint32_t i, meshq_swim_addr_t *addr)
{
    memset (addr, 0, sizeof *addr);
    addr->ip[10] = addr->ip[11] = 0xff;
    addr->ip[12] = 10;
    addr->ip[13] = (uint8_t)(i >> 16);
    addr->ip[14] = (uint8_t)(i >> 8);
    addr->ip[15] = (uint8_t)i;
    addr->port = 5681;
}

//  The callbacks get the node; the simulator is one per process run.
static s_sim_t *s_current;

static int64_t
s_now_cb (void *arg)
{
    (void)arg;
    return s_current->now;
}

static bool
s_cut (s_sim_t *sim, uint32_t a, uint32_t b)
{
    return sim->now < sim->partition_to && (a < sim->n / 2) != (b < sim->n / 2);
}

//  Whether data is a PING: the codec's map starts with its version
//  ("v", a small integer) and its type ("t").
static bool
s_is_ping (const uint8_t *data, size_t size)
{
    return size > 6 && data[1] == 0xa1 && data[2] == 'v' && data[3] < 0x80 &&
           data[4] == 0xa1 && data[5] == 't' && data[6] == MESHQ_SWIM_MSG_PING;
}

//  The gap since node i was last pinged ends now.
static void
s_gap_end (s_sim_t *sim, uint32_t i)
{
    double gap = (sim->now - sim->pinged_at[i]) / 1000.0;
    if (gap > sim->result->probe_gap_max_s)
        sim->result->probe_gap_max_s = gap;
    sim->pinged_at[i] = sim->now;
}

static void
s_send_cb (void *arg, const uint8_t *id, const meshq_swim_addr_t *addr,
           const void *data, size_t size)
{
    (void)id;
    s_sim_t *sim = s_current;
    uint32_t from = (uint32_t)(uintptr_t)arg;
    uint32_t to = (uint32_t)addr->ip[13] << 16 | (uint32_t)addr->ip[14] << 8 |
                  addr->ip[15];
    if (to >= sim->n || addr->ip[12] != 10)
        return;
    if (sim->phase == S_PHASE_STEADY && s_is_ping (data, size))
        s_gap_end (sim, to);
    if (s_uniform (sim) < sim->config->loss || s_cut (sim, from, to))
        return;
    uint8_t *copy = malloc (size);
    if (!copy)
        return;
    memcpy (copy, data, size);
    uint32_t span = sim->config->latency_max_ms - sim->config->latency_min_ms;
    int64_t delay = sim->config->latency_min_ms +
                    (span ? (int64_t)(s_random (sim) % (span + 1)) : 0);
    s_push (sim, sim->now + delay, to, S_EV_DELIVER, 0, copy, (uint32_t)size);
}

static bool
s_live (s_sim_t *sim, uint32_t i)
{
    return !sim->nodes[i].crashed;
}

static void
s_change_cb (void *arg, const uint8_t *id, meshq_swim_state_t state, bool fresh,
             uint64_t incarnation)
{
    (void)fresh;
    (void)incarnation;
    s_sim_t *sim = s_current;
    uint32_t observer = (uint32_t)(uintptr_t)arg;
    uint32_t about = s_index_of_id (id);
    if (about >= sim->n)
        return;
    if (about == sim->paused && sim->pause_state) {
        sim->pause_state[observer] = (uint8_t)state;
        if (state == MESHQ_SWIM_DEAD)
            sim->result->pause_downs++;
    }
    if (about == sim->crashed && state == MESHQ_SWIM_DEAD &&
        !sim->knows[observer]) {
        sim->knows[observer] = 1;
        sim->known++;
        if (sim->known == 1)
            sim->result->crash_first_s = (sim->now - sim->phase_at) / 1000.0;
    }
    if (!sim->count_false || !s_live (sim, about) ||
        (state != MESHQ_SWIM_SUSPECT && state != MESHQ_SWIM_DEAD))
        return;
    //  One count per suspicion (or death) of a version of the member,
    //  however many nodes hear of it.
    uint32_t version = 0;
    meshq_swim_member (sim->nodes[observer].swim, id, NULL, NULL, &version);
    uint32_t *seen =
        state == MESHQ_SWIM_SUSPECT ? sim->suspected_at : sim->downed_at;
    if (seen[about] == version + 1)
        return;
    seen[about] = version + 1;
    if (state == MESHQ_SWIM_SUSPECT)
        sim->result->false_suspicions++;
    else
        sim->result->false_downs++;
}

static void
s_schedule (s_sim_t *sim, uint32_t i)
{
    s_node_t *node = &sim->nodes[i];
    int64_t next = meshq_swim_next (node->swim);
    if (next <= sim->now)
        next = sim->now + 1;
    if (node->tick_at && node->tick_at <= next)
        return;
    node->tick_at = next;
    s_push (sim, next, i, S_EV_TICK, ++node->tick_gen, NULL, 0);
}

//  Joins node i through a node started before it, as through a seed or
//  a beacon's sender.
static void
s_join (s_sim_t *sim, uint32_t i)
{
    uint32_t seed = sim->start_order[s_random (sim) % sim->started];
    if (seed == i)
        return;
    meshq_swim_addr_t seed_addr;
    s_addr_of (seed, &seed_addr);
    meshq_swim_join (sim->nodes[i].swim, &seed_addr);
    s_schedule (sim, i);
}

static void
s_start (s_sim_t *sim, uint32_t i, bool join)
{
    s_node_t *node = &sim->nodes[i];
    meshq_swim_io_t io = {.now_ms = s_now_cb,
                          .send = s_send_cb,
                          .change = s_change_cb,
                          .arg = (void *)(uintptr_t)i};
    meshq_swim_addr_t addr;
    s_addr_of (i, &addr);
    node->swim =
        meshq_swim_new (&sim->config->swim, &io, node->id,
                        1000000000000000ULL + i, &addr, s_random (sim) | 1);
    if (join && sim->started > 0)
        s_join (sim, i);
    sim->start_order[sim->started++] = i;
    s_schedule (sim, i);
}

static void
s_totals (s_sim_t *sim, uint64_t *msgs, uint64_t *bytes, uint64_t *bad,
          uint64_t *dropped)
{
    *msgs = *bytes = 0;
    if (bad)
        *bad = *dropped = 0;
    for (uint32_t i = 0; i < sim->n; i++) {
        if (!sim->nodes[i].swim)
            continue;
        meshq_swim_stats_t st;
        meshq_swim_stats (sim->nodes[i].swim, &st);
        *msgs += st.msgs_out;
        *bytes += st.bytes_out;
        if (bad) {
            *bad += st.bad_msgs;
            *dropped += st.gossip_dropped;
        }
    }
}

//  Nodes (not crashed) that have every other live node as a member
//  (alive or suspect: not dead).
static uint32_t
s_full (s_sim_t *sim)
{
    uint32_t want = sim->n - 1 - (sim->crashed != UINT32_MAX);
    uint32_t full = 0;
    for (uint32_t i = 0; i < sim->n; i++) {
        if (!sim->nodes[i].swim || sim->nodes[i].crashed)
            continue;
        meshq_swim_stats_t st;
        meshq_swim_stats (sim->nodes[i].swim, &st);
        full += st.alive + st.suspect == want;
    }
    return full;
}

static uint32_t
s_pick_live (s_sim_t *sim)
{
    while (true) {
        uint32_t i = (uint32_t)(s_random (sim) % sim->n);
        if (s_live (sim, i) && i != sim->paused)
            return i;
    }
}

static void
s_enter (s_sim_t *sim, s_phase_t phase)
{
    sim->phase = phase;
    sim->phase_at = sim->now;
    if (phase == S_PHASE_STEADY) {
        s_totals (sim, &sim->steady_msgs, &sim->steady_bytes, NULL, NULL);
        for (uint32_t i = 0; i < sim->n; i++)
            sim->pinged_at[i] = sim->now;
    } else if (phase == S_PHASE_CRASH) {
        sim->crashed = s_pick_live (sim);
        sim->nodes[sim->crashed].crashed = true;
        //  Who must come to know: every node that has it as a member.
        sim->must_know = 0;
        for (uint32_t i = 0; i < sim->n; i++) {
            meshq_swim_state_t state;
            if (i != sim->crashed &&
                meshq_swim_member (sim->nodes[i].swim,
                                   sim->nodes[sim->crashed].id, &state, NULL,
                                   NULL) == 0 &&
                state != MESHQ_SWIM_DEAD && state != MESHQ_SWIM_LEFT)
                sim->must_know++;
        }
    } else if (phase == S_PHASE_PAUSE) {
        sim->count_false = false;
        sim->paused = s_pick_live (sim);
        sim->nodes[sim->paused].paused_to = sim->now + sim->config->pause_ms;
        sim->result->pause_run = true;
        for (uint32_t i = 0; i < sim->n; i++)
            sim->pause_state[i] = MESHQ_SWIM_ALIVE;
    } else if (phase == S_PHASE_PARTITION) {
        sim->count_false = false;
        sim->partition_to = sim->now + sim->config->partition_ms;
        sim->result->partition_run = true;
    }
}

static s_phase_t
s_after_crash (const meshq_sim_config_t *c)
{
    return c->pause_ms       ? S_PHASE_PAUSE
           : c->partition_ms ? S_PHASE_PARTITION
                             : S_PHASE_DONE;
}

static void
s_monitor (s_sim_t *sim)
{
    const meshq_sim_config_t *c = sim->config;
    meshq_sim_result_t *r = sim->result;
    uint32_t full = 0;
    bool all_started = sim->started == sim->n;
    //  Beacons, as the agent's once joined: each second every node hears
    //  one from a node at random and, if it does not know it (a join
    //  lost, two groups that formed apart), joins through it if it knows
    //  no one yet, else says hello.
    if (sim->now % 1000 == 0 && sim->started > 1)
        for (uint32_t i = 0; i < sim->n; i++) {
            s_node_t *node = &sim->nodes[i];
            if (!node->swim || node->crashed || sim->now < node->paused_to)
                continue;
            uint32_t j = sim->start_order[s_random (sim) % sim->started];
            meshq_swim_state_t state;
            if (j == i || sim->nodes[j].crashed ||
                (meshq_swim_member (node->swim, sim->nodes[j].id, &state, NULL,
                                    NULL) == 0 &&
                 state != MESHQ_SWIM_DEAD && state != MESHQ_SWIM_LEFT))
                continue;
            meshq_swim_addr_t addr;
            s_addr_of (j, &addr);
            meshq_swim_stats_t st;
            meshq_swim_stats (node->swim, &st);
            if (st.alive + st.suspect == 0)
                meshq_swim_join (node->swim, &addr);
            else
                meshq_swim_hello (node->swim, sim->nodes[j].id, 0, &addr);
            s_schedule (sim, i);
        }
    if (sim->phase == S_PHASE_JOIN && all_started) {
        if (!r->converged && (full = s_full (sim)) == sim->n) {
            r->converged = true;
            r->full_s = (sim->now - sim->last_start) / 1000.0;
            r->full_share = 1;
        }
        if (r->converged && sim->now - sim->last_start >= c->settle_ms)
            s_enter (sim, S_PHASE_STEADY);
        else if (!r->converged &&
                 sim->now - sim->last_start > c->join_limit_ms) {
            r->full_share = (double)full / sim->n;
            s_enter (sim, S_PHASE_STEADY);
        }
    } else if (sim->phase == S_PHASE_STEADY &&
               sim->now - sim->phase_at >= c->steady_ms) {
        uint64_t msgs, bytes;
        s_totals (sim, &msgs, &bytes, NULL, NULL);
        double secs = (sim->now - sim->phase_at) / 1000.0;
        r->msgs_per_node_s = (msgs - sim->steady_msgs) / secs / sim->n;
        r->bytes_per_node_s = (bytes - sim->steady_bytes) / secs / sim->n;
        for (uint32_t i = 0; i < sim->n; i++)
            if (s_live (sim, i))
                s_gap_end (sim, i);
        s_enter (sim, S_PHASE_CRASH);
    } else if (sim->phase == S_PHASE_CRASH) {
        if (sim->known >= sim->must_know) {
            r->crash_known = true;
            r->crash_all_s = (sim->now - sim->phase_at) / 1000.0;
            s_enter (sim, s_after_crash (c));
        } else if (sim->now - sim->phase_at > c->crash_limit_ms)
            s_enter (sim, s_after_crash (c));
    } else if (sim->phase == S_PHASE_PAUSE) {
        int64_t resumed = sim->phase_at + c->pause_ms;
        bool back = sim->now > resumed;
        for (uint32_t i = 0; i < sim->n && back; i++)
            if (s_live (sim, i) && i != sim->paused)
                back = sim->pause_state[i] == MESHQ_SWIM_ALIVE;
        if (back) {
            r->pause_back = true;
            r->pause_back_s = (sim->now - resumed) / 1000.0;
        }
        if (back || sim->now - resumed > 120000)
            s_enter (sim, c->partition_ms ? S_PHASE_PARTITION : S_PHASE_DONE);
    } else if (sim->phase == S_PHASE_PARTITION &&
               sim->now > sim->partition_to) {
        full = s_full (sim);
        if (full == sim->n - 1) {
            r->partition_healed = true;
            r->partition_heal_s = (sim->now - sim->partition_to) / 1000.0;
            s_enter (sim, S_PHASE_DONE);
        } else if (sim->now - sim->partition_to > 300000)
            s_enter (sim, S_PHASE_DONE);
    }
    int64_t wall = s_wall_ms ();
    if (c->progress && wall - sim->wall_print >= 2000) {
        sim->wall_print = wall;
        if (!full && sim->phase != S_PHASE_DONE)
            full = s_full (sim);
        fprintf (stderr,
                 "sim: nodes=%u loss=%g%% phase=%s t=%.1fs started=%u "
                 "full=%u crash_known=%u events=%zu wall=%.0fs\n",
                 sim->n, c->loss * 100, s_phase_names[sim->phase],
                 sim->now / 1000.0, sim->started, full, sim->known,
                 sim->heap_len, (wall - sim->wall_start) / 1000.0);
    }
    if (sim->phase != S_PHASE_DONE)
        s_push (sim, sim->now + 100, 0, S_EV_MONITOR, 0, NULL, 0);
}

void
meshq_sim_config_defaults (meshq_sim_config_t *config, uint32_t nodes,
                           double loss)
{
    memset (config, 0, sizeof *config);
    config->nodes = nodes;
    config->loss = loss;
    config->latency_min_ms = 1;
    config->latency_max_ms = 5;
    //  Agents of a large mesh start over a while (a rolling start, a
    //  data centre powering on): 50 a second, and at least over 1 s.
    config->start_spread_ms = nodes * 20 > 1000 ? nodes * 20 : 1000;
    config->settle_ms = 46000;
    config->steady_ms = 30000;
    config->join_limit_ms = 600000;
    config->crash_limit_ms = 120000;
    config->seed = 1;
    meshq_swim_config_defaults (&config->swim);
    config->swim.max_members = nodes + 16;
    config->swim.initial_members = nodes;
}

static void
s_run_event (s_sim_t *sim, s_event_t *ev)
{
    s_node_t *node = &sim->nodes[ev->node];
    if (ev->kind == S_EV_MONITOR) {
        s_monitor (sim);
        return;
    }
    if (ev->kind == S_EV_START) {
        s_start (sim, ev->node, true);
        return;
    }
    if (node->crashed || !node->swim) {
        free (ev->data);
        return;
    }
    if (ev->kind == S_EV_TICK && ev->gen != node->tick_gen)
        return;
    if (sim->now < node->paused_to) {
        //  Frozen: what comes waits in its socket buffers until it wakes.
        s_push (sim, node->paused_to, ev->node, ev->kind, ev->gen, ev->data,
                ev->size);
        return;
    }
    if (ev->kind == S_EV_TICK) {
        node->tick_at = 0;
        meshq_swim_tick (node->swim);
    } else {
        meshq_swim_recv (node->swim, ev->data, ev->size);
        free (ev->data);
    }
    s_schedule (sim, ev->node);
}

//  Starts every node at once, each already holding every other: the
//  whole table, in SYNC chunks encoded once, fed to each node.
static int
s_warm (s_sim_t *sim)
{
    uint32_t chunks =
        (sim->n + MESHQ_SWIM_UPDATES_MAX - 1) / MESHQ_SWIM_UPDATES_MAX;
    meshq_buf_t *bufs = calloc (2 * chunks, sizeof *bufs);
    meshq_swim_update_t *updates =
        calloc (MESHQ_SWIM_UPDATES_MAX, sizeof *updates);
    if (!bufs || !updates) {
        free (bufs);
        free (updates);
        return MESHQ_ENOMEM;
    }
    for (uint32_t i = 0; i < sim->n; i++)
        s_start (sim, i, false);
    //  Two copies: from node 0, and from node 1 for node 0 itself.
    for (uint32_t copy = 0; copy < 2; copy++)
        for (uint32_t c = 0; c < chunks; c++) {
            uint32_t count = 0;
            for (uint32_t i = c * MESHQ_SWIM_UPDATES_MAX;
                 i < sim->n && count < MESHQ_SWIM_UPDATES_MAX; i++) {
                meshq_swim_update_t *u = &updates[count++];
                memset (u, 0, sizeof *u);
                memcpy (u->id, sim->nodes[i].id, 16);
                meshq_swim_addr_t addr;
                s_addr_of (i, &addr);
                memcpy (u->ip, addr.ip, 16);
                u->port = addr.port;
                u->incarnation = 1000000000000000ULL + i;
            }
            meshq_swim_msg_t msg = {.type = MESHQ_SWIM_MSG_SYNC};
            msg.from = (meshq_swim_update_t){0};
            memcpy (msg.from.id, sim->nodes[copy].id, 16);
            meshq_swim_addr_t addr;
            s_addr_of (copy, &addr);
            memcpy (msg.from.ip, addr.ip, 16);
            msg.from.port = addr.port;
            msg.from.incarnation = 1000000000000000ULL + copy;
            meshq_buf_init (&bufs[copy * chunks + c]);
            meshq_codec_swim_encode (&bufs[copy * chunks + c], &msg, updates,
                                     count);
        }
    for (uint32_t i = 0; i < sim->n; i++) {
        uint32_t copy = i == 0 ? 1 : 0;
        for (uint32_t c = 0; c < chunks; c++)
            meshq_swim_recv (sim->nodes[i].swim, bufs[copy * chunks + c].data,
                             bufs[copy * chunks + c].size);
        s_schedule (sim, i);
        if (sim->config->progress && i % 1000 == 999)
            fprintf (stderr, "sim: warm start, %u nodes filled\n", i + 1);
    }
    for (uint32_t c = 0; c < 2 * chunks; c++)
        meshq_buf_fini (&bufs[c]);
    free (bufs);
    free (updates);
    return 0;
}

int
meshq_sim_run (const meshq_sim_config_t *config, meshq_sim_result_t *result)
{
    s_sim_t sim_ = {0};
    s_sim_t *sim = &sim_;
    memset (result, 0, sizeof *result);
    sim->config = config;
    sim->result = result;
    sim->n = config->nodes < 2 ? 2 : config->nodes;
    sim->rng = config->seed ? config->seed : 1;
    sim->crashed = UINT32_MAX;
    sim->paused = UINT32_MAX;
    sim->count_false = true;
    sim->nodes = calloc (sim->n, sizeof *sim->nodes);
    sim->start_order = calloc (sim->n, sizeof *sim->start_order);
    sim->knows = calloc (sim->n, 1);
    sim->pause_state = calloc (sim->n, 1);
    sim->suspected_at = calloc (sim->n, sizeof *sim->suspected_at);
    sim->downed_at = calloc (sim->n, sizeof *sim->downed_at);
    sim->pinged_at = calloc (sim->n, sizeof *sim->pinged_at);
    if (!sim->nodes || !sim->start_order || !sim->knows || !sim->pause_state ||
        !sim->suspected_at || !sim->downed_at || !sim->pinged_at)
        return MESHQ_ENOMEM;
    s_current = sim;
    sim->wall_start = sim->wall_print = s_wall_ms ();
    int rc = 0;
    for (uint32_t i = 0; i < sim->n; i++) {
        uint8_t *id = sim->nodes[i].id;
        id[0] = (uint8_t)(i >> 24);
        id[1] = (uint8_t)(i >> 16);
        id[2] = (uint8_t)(i >> 8);
        id[3] = (uint8_t)i;
        uint64_t a = s_random (sim), b = s_random (sim);
        memcpy (id + 4, &a, 8);
        memcpy (id + 12, &b, 4);
        int64_t at =
            i == 0 || !config->start_spread_ms
                ? 0
                : 1 + (int64_t)(s_random (sim) % config->start_spread_ms);
        if (config->warm)
            continue;
        if (at > sim->last_start)
            sim->last_start = at;
        s_push (sim, at, i, S_EV_START, 0, NULL, 0);
    }
    if (config->warm)
        rc = s_warm (sim);
    s_push (sim, 100, 0, S_EV_MONITOR, 0, NULL, 0);
    while (rc == 0 && sim->heap_len && sim->phase != S_PHASE_DONE) {
        s_event_t ev = s_pop (sim);
        sim->now = ev.at;
        s_run_event (sim, &ev);
    }
    uint64_t msgs, bytes;
    s_totals (sim, &msgs, &bytes, &result->bad_msgs, &result->gossip_dropped);
    result->messages = msgs;
    result->sim_s = sim->now / 1000.0;
    while (sim->heap_len) {
        s_event_t ev = s_pop (sim);
        free (ev.data);
    }
    for (uint32_t i = 0; i < sim->n; i++)
        meshq_swim_destroy (&sim->nodes[i].swim);
    free (sim->heap);
    free (sim->nodes);
    free (sim->start_order);
    free (sim->knows);
    free (sim->pinged_at);
    free (sim->pause_state);
    free (sim->suspected_at);
    free (sim->downed_at);
    s_current = NULL;
    return rc;
}
