/*  chaos_run.c - one run of a mesh under faults (see chaos_run.h).
*/
#include "chaos_run.h"

#include "client_internal.h"
#include "codec_args.h"
#include "meshq.h"
#include "testutil.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define S_QUEUE      "chaos"
#define S_PREFETCH   20
#define S_MAX_SEQ    (1 << 21)
#define S_MAX_FAULTS 5     //  Applied at once: 3 at random, 2 that must be.
#define S_MESH_PORT  5690  //  In namespaces, each agent has its own address.

//  One fault being applied.
typedef struct {
    chaos_kind_t kind;
    int node;        //  Target, or the first of a partition's group.
    int peer;        //  One-way drops: to (or from) this node, -1 all.
    int percent;     //  Partial drops: of the packets, 0 at random.
    unsigned group;  //  Partitions: a bit per node on one side.
    int64_t end;     //  When it is undone (zclock_mono), 0 if free.
    char table[32];  //  nft table in each namespace it touched.
} s_fault_t;

//  A log followed as it grows.
typedef struct {
    off_t offset;
    char second[20];  //  Timestamp of the last session restart.
    int in_second;    //  Session restarts logged in that second.
} s_follow_t;

static struct {
    bool live;  //  Something to clean up.
    chaos_config_t config;
    chaos_result_t *result;
    char dir[256];
    char mesh[64];
    int ports[CHAOS_MAX_NODES];
    pid_t agents[CHAOS_MAX_NODES];
    pid_t consumers[CHAOS_MAX_NODES];  //  On node i, or 0.
    pid_t producers[CHAOS_MAX_PRODUCERS];
    //  A fault holds its target: one at a time per agent, consumer and
    //  network interface.
    bool agent_busy[CHAOS_MAX_NODES];
    bool consumer_busy[CHAOS_MAX_NODES];
    bool net_busy[CHAOS_MAX_NODES];
    bool partitioned;  //  A partition (its own nft tables) is applied.
    s_fault_t faults[S_MAX_FAULTS];
    int tables;  //  nft tables made, for unique names.
    s_follow_t logs[CHAOS_MAX_NODES];
    s_follow_t outs[CHAOS_MAX_NODES + CHAOS_MAX_PRODUCERS];
    uint64_t confirmed_so_far, delivered_so_far;
    uint64_t rng;
} s;

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

static int
s_random (int below)
{
    return (int)(testutil_random (&s.rng) % (uint64_t)below);
}

static int
s_shell (const char *format, ...)
{
    char command[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (command, sizeof command, format, args);
    va_end (args);
    int rc = system (command);
    if (rc != 0)
        fprintf (stderr, "chaos: failed (%d): %s\n", rc, command);
    return rc;
}

//  Starts argv with stdout and stderr appended to log; the child dies
//  with us.
static pid_t
s_spawn (char *const argv[], const char *log)
{
    int fd = open (log ? log : "/dev/null",
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
        }
        execvp (argv[0], argv);
        _exit (127);
    }
    if (fd >= 0)
        close (fd);
    return pid;
}

//  Signals pid, never a process group.
static void
s_signal (pid_t pid, int sig)
{
    if (pid > 0)
        kill (pid, sig);
}

static void
s_reap (pid_t *pid, int sig)
{
    if (*pid <= 0)
        return;
    kill (*pid, sig);
    if (sig != SIGKILL)
        kill (*pid, SIGCONT);
    waitpid (*pid, NULL, 0);
    *pid = 0;
}

//  A TCP port of 127.0.0.1 nobody listens on, below the ephemeral range.
static int
s_free_port (void)
{
    for (int tries = 0; tries < 1000; tries++) {
        int port = 20000 + s_random (12000);
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port = htons ((uint16_t)port)};
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        int rc = bind (fd, (struct sockaddr *)&address, sizeof address);
        close (fd);
        if (rc == 0)
            return port;
    }
    return 0;
}

// --------------------------------------------------------------------
//  Processes

static void
s_control (int i, char *out, size_t size)
{
    snprintf (out, size, "ipc://%s/n%d.ipc", s.dir, i + 1);
}

static void
s_start_agent (int i)
{
    const chaos_config_t *c = &s.config;
    char seeds[512] = "", name[16], data[300], control[300], port[16], log[300],
         ns[64];
    for (int j = 0; j < c->nodes; j++) {
        if (j == i)
            continue;
        size_t used = strlen (seeds);
        if (c->tag)
            snprintf (seeds + used, sizeof seeds - used, "%stcp://%s.%d:%d",
                      used ? "," : "", c->net, j + 1, s.ports[j]);
        else
            snprintf (seeds + used, sizeof seeds - used, "%stcp://127.0.0.1:%d",
                      used ? "," : "", s.ports[j]);
    }
    snprintf (name, sizeof name, "n%d", i + 1);
    snprintf (data, sizeof data, "%s/n%d", s.dir, i + 1);
    s_control (i, control, sizeof control);
    snprintf (port, sizeof port, "%d", s.ports[i]);
    snprintf (log, sizeof log, "%s/n%d.log", s.dir, i + 1);
    snprintf (ns, sizeof ns, "%s-n%d", c->tag ? c->tag : "", i + 1);
    char *argv[40];
    int argc = 0;
    if (c->tag) {
        argv[argc++] = "ip";
        argv[argc++] = "netns";
        argv[argc++] = "exec";
        argv[argc++] = ns;
    }
    char *options[] = {(char *)c->agent,
                       "--name",
                       name,
                       "--data",
                       data,
                       "--control",
                       control,
                       "--mesh",
                       s.mesh,
                       "--port",
                       port,
                       "--seeds",
                       seeds,
                       "--heartbeat",
                       "100",
                       "--peer-timeout",
                       "1000",
                       NULL};
    for (int k = 0; options[k]; k++)
        argv[argc++] = options[k];
    if (c->tag) {
        argv[argc++] = "--interface";
        argv[argc++] = "mq0";
    } else
        argv[argc++] = "--no-beacon";
    argv[argc] = NULL;
    s.agents[i] = s_spawn (argv, log);
}

static void
s_start_consumer (int i)
{
    char control[300], log[300], prefetch[16];
    s_control (i, control, sizeof control);
    snprintf (log, sizeof log, "%s/c%d.out", s.dir, i + 1);
    snprintf (prefetch, sizeof prefetch, "%d", S_PREFETCH);
    char *argv[] = {(char *)s.config.client,
                    "consume",
                    control,
                    S_QUEUE,
                    prefetch,
                    log,
                    NULL};
    s.consumers[i] = s_spawn (argv, NULL);
}

static bool
s_has_consumer (int i)
{
    return i >= s.config.nodes - s.config.consumers;
}

//  Asks node i's agent verb; the reply's argument frame, or NULL.
static zframe_t *
s_ask (int i, const char *verb, zmsg_t **reply)
{
    char control[300];
    s_control (i, control, sizeof control);
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 1000);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    *reply = NULL;
    zframe_t *frame = NULL;
    if (meshq_client_connect (client, control) == 0 &&
        meshq_client_call (client, verb, &args, reply) == 0) {
        zmsg_first (*reply);
        frame = zmsg_next (*reply);
    }
    meshq_client_destroy (&client);
    return frame;
}

//  Peers node i's agent says are up, or -1.
static int
s_peers_up (int i)
{
    zmsg_t *reply;
    zframe_t *frame = s_ask (i, "STATUS", &reply);
    meshq_args_t status;
    int up = -1;
    if (frame &&
        meshq_codec_decode_args (zframe_data (frame), zframe_size (frame),
                                 &status, NULL) == 0)
        up = (int)status.peers;
    zmsg_destroy (&reply);
    return up;
}

//  Ready plus unacked of the queue on node i's own agent, or -1.
static int64_t
s_held (int i)
{
    zmsg_t *reply;
    zframe_t *frame = s_ask (i, "LIST_QUEUES", &reply);
    uint64_t rid;
    meshq_span_t cursor;
    uint32_t count;
    int64_t held = -1;
    char name[16];
    snprintf (name, sizeof name, "n%d", i + 1);
    if (frame &&
        meshq_codec_decode_list (zframe_data (frame), zframe_size (frame),
                                 "queues", &rid, &cursor, &count, NULL) == 0) {
        meshq_args_t row;
        held = 0;
        //  Rows of other nodes (their backlog as announced) are theirs.
        while (meshq_codec_list_next (&cursor, &row))
            if (row.name.size == strlen (name) &&
                memcmp (row.name.data, name, row.name.size) == 0)
                held += (int64_t)(row.messages + row.unacked);
    }
    zmsg_destroy (&reply);
    return held;
}

//  Waits until every agent has every peer up; false after ms.
static bool
s_wait_mesh (int ms)
{
    int64_t deadline = zclock_mono () + ms;
    for (int i = 0; i < s.config.nodes; i++)
        while (s_peers_up (i) < s.config.nodes - 1) {
            if (zclock_mono () > deadline)
                return false;
            zclock_sleep (50);
        }
    return true;
}

// --------------------------------------------------------------------
//  Logs

//  Calls line for each complete line added to path since the last call.
static void
s_follow (s_follow_t *self, const char *path,
          void (*line) (s_follow_t *, const char *, void *), void *arg)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    if (fseeko (file, self->offset, SEEK_SET) == 0) {
        char *text = NULL;
        size_t size = 0;
        ssize_t length;
        while ((length = getline (&text, &size, file)) > 0) {
            if (text[length - 1] != '\n')
                break;  //  Still being written.
            self->offset += length;
            line (self, text, arg);
        }
        free (text);
    }
    fclose (file);
}

//  An agent's log line: "N: (meshq-agent) 26-12-06 06:43:28 text".
static void
s_agent_line (s_follow_t *self, const char *line, void *arg)
{
    int i = (int)(intptr_t)arg;
    chaos_result_t *r = s.result;
    if (strstr (line, "unknown command"))
        r->unknown[i]++;
    if (!strstr (line, "discovery: peer down"))
        return;
    r->peer_downs[i]++;
    if (!strstr (line, "session restarted"))
        return;
    r->restarts[i]++;
    const char *stamp = strstr (line, ") ");
    char second[20] = "";
    if (stamp && strlen (stamp) > 19)
        snprintf (second, sizeof second, "%.17s", stamp + 2);
    if (strcmp (second, self->second) == 0)
        self->in_second++;
    else {
        snprintf (self->second, sizeof self->second, "%s", second);
        self->in_second = 1;
    }
    if (self->in_second > r->max_restarts[i])
        r->max_restarts[i] = self->in_second;
}

static void
s_client_line (s_follow_t *self, const char *line, void *arg)
{
    (void)self;
    (void)arg;
    if (line[0] == 'C')
        s.confirmed_so_far++;
    else if (line[0] == 'D')
        s.delivered_so_far++;
}

static void
s_follow_logs (void)
{
    char path[300];
    for (int i = 0; i < s.config.nodes; i++) {
        snprintf (path, sizeof path, "%s/n%d.log", s.dir, i + 1);
        s_follow (&s.logs[i], path, s_agent_line, (void *)(intptr_t)i);
    }
}

static void
s_progress (int64_t start)
{
    char path[300];
    for (int p = 0; p < s.config.producers; p++) {
        snprintf (path, sizeof path, "%s/p%d.out", s.dir, p + 1);
        s_follow (&s.outs[p], path, s_client_line, NULL);
    }
    for (int i = 0; i < s.config.nodes; i++) {
        snprintf (path, sizeof path, "%s/c%d.out", s.dir, i + 1);
        s_follow (&s.outs[CHAOS_MAX_PRODUCERS + i], path, s_client_line, NULL);
    }
    int faults = 0;
    for (int k = 0; k < CHAOS_KINDS; k++)
        faults += s.result->faults[k];
    char storm[128] = "";
    for (int i = 0; i < s.config.nodes; i++) {
        size_t used = strlen (storm);
        snprintf (storm + used, sizeof storm - used, " n%d=%d", i + 1,
                  s.result->max_restarts[i]);
    }
    fprintf (stderr,
             "%s: %3d s: %d faults, %llu confirmed, %llu delivered, "
             "session restarts/s max%s\n",
             s.config.name, (int)((zclock_mono () - start) / 1000), faults,
             (unsigned long long)s.confirmed_so_far,
             (unsigned long long)s.delivered_so_far, storm);
}

// --------------------------------------------------------------------
//  Faults

static void
s_ns (int i, char *out, size_t size)
{
    snprintf (out, size, "%s-n%d", s.config.tag, i + 1);
}

//  The addresses of the nodes in group, as an nft set: "{ a, b }".
static void
s_addresses (unsigned group, char *out, size_t size)
{
    snprintf (out, size, "{ ");
    bool first = true;
    for (int j = 0; j < s.config.nodes; j++)
        if (group & (1u << j)) {
            size_t used = strlen (out);
            snprintf (out + used, size - used, "%s%s.%d", first ? "" : ", ",
                      s.config.net, j + 1);
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
    s_shell ("ip netns exec %s nft '%s'", ns, command);
}

static void
s_apply (s_fault_t *f, int ms)
{
    const chaos_config_t *c = &s.config;
    char ns[64] = "", rule[256], set[128];
    if (c->tag)
        s_ns (f->node, ns, sizeof ns);
    f->end = zclock_mono () + ms;
    s.result->faults[f->kind]++;
    switch (f->kind) {
        case CHAOS_AGENT_KILL:
            s.agent_busy[f->node] = true;
            s_reap (&s.agents[f->node], SIGKILL);
            break;
        case CHAOS_CONSUMER_KILL:
            s.consumer_busy[f->node] = true;
            s_reap (&s.consumers[f->node], SIGKILL);
            break;
        case CHAOS_AGENT_STOP:
            s.agent_busy[f->node] = true;
            s_signal (s.agents[f->node], SIGSTOP);
            if (ms > 1000)  //  The peer timeout.
                s.result->long_agent_stop = true;
            break;
        case CHAOS_CONSUMER_STOP:
            s.consumer_busy[f->node] = true;
            s_signal (s.consumers[f->node], SIGSTOP);
            break;
        case CHAOS_LINK_DOWN:
            s.net_busy[f->node] = true;
            s_shell ("ip -n %s link set mq0 down", ns);
            break;
        case CHAOS_ONE_WAY_DROP:
        case CHAOS_PARTIAL_DROP: {
            s.net_busy[f->node] = true;
            bool out = s_random (2) == 0;
            char match[96] = "";
            if (f->peer >= 0)
                snprintf (match, sizeof match, "ip %s %s.%d ",
                          out ? "daddr" : "saddr", c->net, f->peer + 1);
            if (f->kind == CHAOS_PARTIAL_DROP)
                snprintf (rule, sizeof rule,
                          "%snumgen random mod 100 < %d drop", match,
                          f->percent ? f->percent : 20 + s_random (50));
            else
                snprintf (rule, sizeof rule, "%sdrop", match);
            snprintf (f->table, sizeof f->table, "meshq_chaos_%d", ++s.tables);
            s_nft (f->node, f->table, out ? NULL : rule, out ? rule : NULL);
            if (ms >= 8000)
                s.result->long_one_way_drop = true;
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
            snprintf (f->table, sizeof f->table, "meshq_chaos_%d", ++s.tables);
            s.partitioned = true;
            for (int j = 0; j < c->nodes; j++)
                if (f->group & (1u << j))
                    s_nft (j, f->table, input, output);
            break;
        }
        case CHAOS_SLOW_LINK:
            s.net_busy[f->node] = true;
            s_shell ("ip netns exec %s tc qdisc add dev mq0 root tbf rate "
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
s_undo (s_fault_t *f)
{
    const chaos_config_t *c = &s.config;
    char ns[64] = "";
    if (c->tag)
        s_ns (f->node, ns, sizeof ns);
    switch (f->kind) {
        case CHAOS_AGENT_KILL:
            s_start_agent (f->node);
            s.agent_busy[f->node] = false;
            break;
        case CHAOS_CONSUMER_KILL:
            s_start_consumer (f->node);
            s.consumer_busy[f->node] = false;
            break;
        case CHAOS_AGENT_STOP:
            s_signal (s.agents[f->node], SIGCONT);
            s.agent_busy[f->node] = false;
            break;
        case CHAOS_CONSUMER_STOP:
            s_signal (s.consumers[f->node], SIGCONT);
            s.consumer_busy[f->node] = false;
            break;
        case CHAOS_LINK_DOWN:
            s_shell ("ip -n %s link set mq0 up", ns);
            s.net_busy[f->node] = false;
            break;
        case CHAOS_ONE_WAY_DROP:
        case CHAOS_PARTIAL_DROP:
            s_shell ("ip netns exec %s nft delete table inet %s", ns, f->table);
            s.net_busy[f->node] = false;
            break;
        case CHAOS_PARTITION:
            for (int j = 0; j < c->nodes; j++)
                if (f->group & (1u << j)) {
                    s_ns (j, ns, sizeof ns);
                    s_shell ("ip netns exec %s nft delete table inet %s", ns,
                             f->table);
                }
            s.partitioned = false;
            break;
        case CHAOS_SLOW_LINK:
            s_shell ("ip netns exec %s tc qdisc del dev mq0 root; "
                     "ip netns exec %s-br tc qdisc del dev p%d root",
                     ns, c->tag, f->node + 1);
            s.net_busy[f->node] = false;
            break;
        default:
            break;
    }
    f->end = 0;
}

static s_fault_t *
s_free_slot (void)
{
    for (int k = 0; k < S_MAX_FAULTS; k++)
        if (!s.faults[k].end)
            return &s.faults[k];
    return NULL;
}

//  A node, from a random one on, whose resource is free and (consumer
//  faults) that has a consumer; -1 if none.
static int
s_pick (const bool *busy, bool consumer)
{
    int first = s_random (s.config.nodes);
    for (int k = 0; k < s.config.nodes; k++) {
        int i = (first + k) % s.config.nodes;
        if (!busy[i] && (!consumer || s_has_consumer (i)))
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
    s_fault_t *f = s_free_slot ();
    if (!f)
        return false;
    memset (f, 0, sizeof *f);
    f->kind = kind;
    f->peer = -1;
    int node = -1;
    switch (kind) {
        case CHAOS_AGENT_KILL:
            node = s_pick (s.agent_busy, false);
            ms = ms ? ms : 200 + s_random (1500);
            break;
        case CHAOS_CONSUMER_KILL:
            node = s_pick (s.consumer_busy, true);
            ms = ms ? ms : 50 + s_random (450);
            break;
        case CHAOS_AGENT_STOP:
            node = s_pick (s.agent_busy, false);
            ms = ms ? ms : 300 + s_random (3200);
            break;
        case CHAOS_CONSUMER_STOP:
            node = s_pick (s.consumer_busy, true);
            ms = ms ? ms : 300 + s_random (2700);
            break;
        case CHAOS_LINK_DOWN:
            node = s_pick (s.net_busy, false);
            ms = ms ? ms : 1200 + s_random (2000);
            break;
        case CHAOS_ONE_WAY_DROP:
        case CHAOS_PARTIAL_DROP:
            node = s_pick (s.net_busy, false);
            if (node >= 0 && !percent && s_random (3))
                f->peer =
                    (node + 1 + s_random (s.config.nodes - 1)) % s.config.nodes;
            f->percent = percent;
            ms = ms ? ms : 1000 + s_random (7000);
            break;
        case CHAOS_PARTITION:
            node = s.partitioned ? -1 : 0;
            //  A proper, non-empty subset.
            f->group = 1 + (unsigned)s_random ((1 << s.config.nodes) - 2);
            ms = ms ? ms : 2000 + s_random (4000);
            break;
        case CHAOS_SLOW_LINK:
            node = s_pick (s.net_busy, false);
            ms = ms ? ms : 3000 + s_random (7000);
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
    for (int k = 0; k < S_MAX_FAULTS; k++)
        active += s.faults[k].end != 0;
    return active;
}

static void
s_undo_due (bool all)
{
    int64_t now = zclock_mono ();
    for (int k = 0; k < S_MAX_FAULTS; k++)
        if (s.faults[k].end && (all || s.faults[k].end <= now))
            s_undo (&s.faults[k]);
}

// --------------------------------------------------------------------
//  The messages, by id

static void
s_tally (chaos_result_t *r)
{
    int producers = s.config.producers;
    uint8_t *confirmed = calloc (producers * (size_t)S_MAX_SEQ, 1);
    uint16_t *seen = calloc (producers * (size_t)S_MAX_SEQ, sizeof *seen);
    char path[300], line[128];
    for (int p = 0; p < producers; p++) {
        snprintf (path, sizeof path, "%s/p%d.out", s.dir, p + 1);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        unsigned long long n;
        while (fgets (line, sizeof line, file)) {
            if (sscanf (line, "C %llu", &n) == 1 && n < S_MAX_SEQ) {
                confirmed[p * (size_t)S_MAX_SEQ + n] = 1;
                r->confirmed++;
            } else if (sscanf (line, "P %llu", &n) == 1)
                r->published += n;
        }
        fclose (file);
    }
    for (int c = 0; c < s.config.nodes; c++) {
        snprintf (path, sizeof path, "%s/c%d.out", s.dir, c + 1);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        uint64_t last[CHAOS_MAX_PRODUCERS] = {0};
        int p, redelivered;
        unsigned long long n;
        while (fgets (line, sizeof line, file)) {
            if (line[0] == 'S') {
                memset (last, 0, sizeof last);  //  A new subscription.
                continue;
            }
            if (sscanf (line, "D P%d %llu %d", &p, &n, &redelivered) != 3 ||
                p < 1 || p > producers || n >= S_MAX_SEQ)
                continue;
            p--;
            r->delivered++;
            uint16_t *count = &seen[p * (size_t)S_MAX_SEQ + n];
            if (*count)
                r->duplicates++;
            else
                r->distinct++;
            if (*count < UINT16_MAX)
                (*count)++;
            if (!redelivered) {
                if (n < last[p])
                    r->out_of_order++;
                last[p] = n;
            }
        }
        fclose (file);
    }
    for (size_t i = 0; i < producers * (size_t)S_MAX_SEQ; i++)
        if (confirmed[i] && !seen[i]) {
            if (r->lost < 10)
                fprintf (stderr, "%s: lost P%zu:%zu\n", s.config.name,
                         i / S_MAX_SEQ + 1, i % S_MAX_SEQ);
            r->lost++;
        }
    free (confirmed);
    free (seen);
}

// --------------------------------------------------------------------
//  The run

static bool
s_stopped (void)
{
    return s.config.stop && *s.config.stop;
}

//  Faults until the time is up: one every 0.3 to 1.5 s, at most three
//  at once, and the ones every run must have: in the first third an 8 s
//  one-way drop, in the second an 8 s drop of half the packets one way
//  (TCP's retransmissions then bring HELLOs late), in the second half a
//  SIGSTOP of an agent longer than the peer timeout.
static void
s_faults (int64_t start)
{
    const chaos_config_t *c = &s.config;
    int ms = c->seconds * 1000;
    int64_t end = start + ms;
    int kinds = c->tag ? CHAOS_KINDS : CHAOS_CONSUMER_STOP + 1;
    int64_t drop_at = start + 1000 + s_random (ms / 3);
    int64_t partial_at = start + ms / 3 + s_random (ms / 3);
    int64_t stop_at = start + ms / 2 + s_random (ms / 2 - 3000);
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
            int kind = s_random (kinds + (c->tag ? 1 : 0));
            if (s_active () < 3)
                s_start (kind < kinds ? (chaos_kind_t)kind : CHAOS_PARTIAL_DROP,
                         0, 0);
            next = now + 300 + s_random (1200);
        }
        if (now >= next_log) {
            s_follow_logs ();
            next_log = now + 1000;
        }
        if (c->progress && now >= next_progress) {
            s_progress (start);
            next_progress = now + c->progress * 1000;
        }
        zclock_sleep (20);
    }
}

int
chaos_run (const chaos_config_t *config, chaos_result_t *result)
{
    memset (&s, 0, sizeof s);
    memset (result, 0, sizeof *result);
    s.config = *config;
    s.result = result;
    s.rng = config->seed ? config->seed : 1;
    s.live = true;
    const chaos_config_t *c = &s.config;
    if (c->nodes < 2 || c->nodes > CHAOS_MAX_NODES ||
        c->producers > CHAOS_MAX_PRODUCERS || c->producers > c->nodes ||
        c->consumers > c->nodes || c->seconds < 12) {
        snprintf (result->error, sizeof result->error, "bad configuration");
        return -1;
    }
    snprintf (s.dir, sizeof s.dir, "/tmp/meshq-chaos-XXXXXX");
    if (!mkdtemp (s.dir)) {
        snprintf (result->error, sizeof result->error, "mkdtemp: %s",
                  strerror (errno));
        return -1;
    }
    snprintf (s.mesh, sizeof s.mesh, "chaos-%d-%d", (int)getpid (),
              (int)(zclock_usecs () % 1000000));
    for (int i = 0; i < c->nodes; i++)
        s.ports[i] = c->tag ? S_MESH_PORT : s_free_port ();
    for (int i = 0; i < c->nodes; i++)
        s_start_agent (i);
    if (!s_wait_mesh (30000)) {
        snprintf (result->error, sizeof result->error,
                  "the agents never formed a mesh (logs in %.200s)", s.dir);
        return -1;
    }
    //  The queue, declared on one node, known on all.
    char control[300];
    s_control (0, control, sizeof control);
    meshq_client_t *client = meshq_client_new ();
    int rc = meshq_client_connect (client, control);
    if (rc == 0)
        rc = meshq_client_declare_queue (client, S_QUEUE, NULL);
    meshq_client_destroy (&client);
    if (rc) {
        snprintf (result->error, sizeof result->error,
                  "cannot declare the queue: %s", meshq_strerror (rc));
        return -1;
    }
    for (int i = 0; i < c->nodes; i++)
        if (s_has_consumer (i))
            s_start_consumer (i);
    for (int p = 0; p < c->producers; p++) {
        char log[300], name[8], duration[16], rate[16];
        s_control (p, control, sizeof control);
        snprintf (log, sizeof log, "%s/p%d.out", s.dir, p + 1);
        snprintf (name, sizeof name, "P%d", p + 1);
        snprintf (duration, sizeof duration, "%d", c->seconds);
        snprintf (rate, sizeof rate, "%d", c->rate);
        char *argv[] = {(char *)c->client, "produce", control, S_QUEUE, name,
                        duration,          rate,      log,     NULL};
        s.producers[p] = s_spawn (argv, NULL);
    }
    int64_t start = zclock_mono ();
    s_faults (start);

    //  Healed: every agent and consumer runs, every link is up, no
    //  rule drops or slows anything. The producers finish; the
    //  consumers drain every agent.
    s_undo_due (true);
    for (int p = 0; p < c->producers; p++) {
        int64_t deadline = zclock_mono () + 30000;
        if (s_stopped ())
            s_signal (s.producers[p], SIGTERM);
        while (waitpid (s.producers[p], NULL, WNOHANG) == 0 &&
               zclock_mono () < deadline)
            zclock_sleep (50);
        if (zclock_mono () >= deadline) {
            fprintf (stderr, "%s: producer %d did not end; stopped\n", c->name,
                     p + 1);
            s_reap (&s.producers[p], SIGTERM);
        }
        s.producers[p] = 0;
    }
    result->settled = s_wait_mesh (30000);
    int64_t drain = zclock_mono (), deadline = drain + 120000;
    int quiet = 0;
    while (quiet < 10 && zclock_mono () < deadline) {
        int64_t held = 0;
        for (int i = 0; i < c->nodes; i++) {
            int64_t h = s_held (i);
            held += h < 0 ? 1 : h;
        }
        quiet = held == 0 ? quiet + 1 : 0;
        zclock_sleep (200);
    }
    result->drained = quiet >= 10;
    result->drain_ms = zclock_mono () - drain;
    for (int i = 0; i < c->nodes; i++)
        s_reap (&s.consumers[i], SIGTERM);
    s_follow_logs ();
    if (c->progress)
        s_progress (start);
    s_tally (result);
    return 0;
}

void
chaos_run_print (FILE *out, const chaos_config_t *c, const chaos_result_t *r)
{
    fprintf (out,
             "\n%s: MESHQ_SEED=%llu, %d s of faults, %d agents, %d producers "
             "(%d/s each, confirms), %d consumers (manual acks)\n\n"
             "| fault | applied |\n|---|---:|\n",
             c->name, (unsigned long long)c->seed, c->seconds, c->nodes,
             c->producers, c->rate, c->consumers);
    int kinds = c->tag ? CHAOS_KINDS : CHAOS_CONSUMER_STOP + 1;
    for (int k = 0; k < kinds; k++)
        fprintf (out, "| %s | %d |\n", s_kind_names[k], r->faults[k]);
    fprintf (out,
             "\nAmong them: an 8 s one-way drop: %s; a SIGSTOP of an "
             "agent longer than the peer timeout: %s.\n",
             c->tag ? r->long_one_way_drop ? "yes" : "NO" : "n/a (loopback)",
             r->long_agent_stop ? "yes" : "NO");
    fprintf (out,
             "\n| published | confirmed | delivered | distinct | duplicates "
             "| lost | out of order | drained |\n"
             "|---:|---:|---:|---:|---:|---:|---:|---|\n"
             "| %llu | %llu | %llu | %llu | %llu | %llu | %llu | %s in %.1f s |"
             "\n\n| agent | session restarts, max in 1 s | session restarts "
             "| peer downs | unknown commands |\n|---|---:|---:|---:|---:|\n",
             (unsigned long long)r->published, (unsigned long long)r->confirmed,
             (unsigned long long)r->delivered, (unsigned long long)r->distinct,
             (unsigned long long)r->duplicates, (unsigned long long)r->lost,
             (unsigned long long)r->out_of_order, r->drained ? "yes" : "NO",
             (double)r->drain_ms / 1000);
    for (int i = 0; i < c->nodes; i++)
        fprintf (out, "| n%d | %d | %llu | %llu | %llu |\n", i + 1,
                 r->max_restarts[i], (unsigned long long)r->restarts[i],
                 (unsigned long long)r->peer_downs[i],
                 (unsigned long long)r->unknown[i]);
    fprintf (out, "\n");
}

void
chaos_run_cleanup (void)
{
    if (!s.live)
        return;
    s.live = false;
    for (int p = 0; p < CHAOS_MAX_PRODUCERS; p++)
        s_reap (&s.producers[p], SIGKILL);
    for (int i = 0; i < CHAOS_MAX_NODES; i++) {
        s_reap (&s.consumers[i], SIGKILL);
        s_reap (&s.agents[i], SIGKILL);
    }
    //  Undoing a kill would restart the process: those are only marked.
    for (int k = 0; k < S_MAX_FAULTS; k++) {
        s_fault_t *f = &s.faults[k];
        if (f->end && f->kind != CHAOS_AGENT_KILL &&
            f->kind != CHAOS_CONSUMER_KILL && f->kind != CHAOS_AGENT_STOP &&
            f->kind != CHAOS_CONSUMER_STOP)
            s_undo (f);
        f->end = 0;
    }
    if (!*s.dir)
        return;
    if (getenv ("MESHQ_TEST_LOGS")) {
        s_shell ("tail -n 40 %s/n*.log >&2", s.dir);
        fprintf (stderr, "chaos: logs kept in %s\n", s.dir);
    } else
        s_shell ("rm -rf '%s'", s.dir);
}
