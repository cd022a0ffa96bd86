/*  discovery.c - how fast meshq-agent processes find each other and
    notice one die or hang, on loopback, with the default timings.

    For N agents (2, 8, 32; up to 256), each run starts N meshq-agent
    processes and measures, from the agents' own log lines ("peer up",
    "peer down", "peer suspect"), read as they are written:
      * join: from the first spawn until every agent has all others up;
        in a mesh larger than the agents' full_links (64, or
        --full-links), where an agent links to a few members only, until
        every agent has all others as members alive ("member alive"
        lines), and the same for the deaths, returns and false downs
        below ("member dead" instead of "peer down");
      * idle CPU: utime + stime of all agents over the --settle window
        once joined, divided by the window (1.0 is one core), and the
        false downs during it;
      * RSS and PSS: each agent's memory once the mesh has been idle for
        --settle seconds (3), and their growth: the median of this size
        less the median of the smallest size of the same invocation
        (sizes are measured smallest first);
      * list_peers: then every agent is asked for its own view (meshq
        --json list_peers on its control socket, a few at a time, within
        a time bound): "yes" if every agent lists every other up, in
        every run (sizes up to 64, or all with --check-lists);
      * newcomer: one more agent started into the idle mesh, from its
        "started" line until it and every other have each other up;
      * SIGKILL: from kill () until every survivor has the victim down;
      * SIGSTOP: the same for a frozen agent, and after SIGCONT the time
        until it is up everywhere again.
    With --threads, a table after it gives each size's idle windows
    by thread name (the agent's loop, its membership, libzmq's I/O):
    CPU time, turns on a CPU a second an agent (wakeups and
    preemptions) and CPU time a turn, from each thread's schedstat.
    Then the busy mesh: --busy agents (2) join and run idle for --idle
    seconds (60) while --spinners processes (two per core) spin; every
    peer down among them is a false down, and the "peer suspect" lines
    are counted too (zero from agents that log none). A down counts
    once per agent and peer, as the peer goes from up to down in that
    agent's log. Prints the median and max of --runs runs (5;
    bench/README.md has the targets). Every size asked for gets a line:
    a size out of range, or one whose run failed, says why. The open
    files limit is raised to the hard limit, for the agents too. When a
    false down was seen, the agents' logs (bN.log, each agent's lines
    as read, all runs) are kept and their directory named.

    Usage: bench_discovery [--runs N] [--idle SECONDS] [--sizes 2,8,32]
                           [--settle SECONDS] [--busy N] [--spinners M]
                           [--check-lists] [--full-links N]
                           [--warmup SECONDS] [--threads]
*/
#include "bench_util.h"
#include "discovery_probe.h"
#include "proc_threads.h"
#include "testproc.h"
#include "testutil.h"

#include <ctype.h>
#include <getopt.h>
#include <sys/resource.h>
#include <time.h>

#define S_AGENT   MESHQ_BINARY_DIR "/agents/meshq-agent"
#define S_TOOL    MESHQ_BINARY_DIR "/tools/meshq"
#define S_SIZES   256            //  The largest size measured.
#define S_MAX     (S_SIZES + 1)  //  Agents: a size and its newcomer.
#define S_WAIT_MS 30000
//  And for a join, also this much per agent: 256 agents take more than
//  30 s just to start on two cores.
#define S_WAIT_PER_AGENT_MS 200
//  How long a thawed agent is watched for flapping.
#define S_FLAP_MS 3000
//  The agents' default full_links.
#define S_FULL_LINKS 64
//  Sizes whose agents are asked for their list without --check-lists.
#define S_LISTS_DEFAULT 64

static char s_dir[64];
//  Each agent's log, as read, in s_dir/bN.log; the directory is kept
//  when a false down was seen, so that its cause can be looked up.
static FILE *s_logs[S_MAX];
static bool s_keep;
static char s_mesh[48];
static char s_port[8];
static testproc_t s_agents[S_MAX];
static bool s_seen[S_MAX][S_MAX];  //  [i][j]: agent i has j up.
//  [i][j]: agent i has j as a member alive ("member alive" lines).
static bool s_member[S_MAX][S_MAX];
static char s_node[S_MAX][33];  //  Each agent's node id, from "started".
//  "member" lines about an agent whose "started" line was not read yet
//  (its log is read after the line's): the latest state of each id.
typedef struct {
    char id[33];
    bool alive;
} s_pending_t;
static s_pending_t s_pending[S_MAX][S_MAX];
static int s_pending_len[S_MAX];
//  The agents' full_links (--full-links; 0: their default). In a mesh
//  larger, links go to a few members only, and the membership is
//  measured instead: join, deaths and returns by the "member" lines.
static int s_full_links;
static bool s_partial;          //  This run's mesh is larger than full_links.
static bool s_dead[S_MAX];      //  Killed or stopped: not a survivor.
static int64_t s_last_started;  //  When the last agent said "started".
static int s_started;           //  Agents that said "started".
static int s_suspects;          //  "peer suspect" lines read.
static char s_why[256];         //  Why the last run failed.
static int s_cores = 1;         //  Processors online.
static long long s_files;       //  Open files limit, once raised.

static int
s_start (int i, const int *gate)
{
    char name[16], control[128], data[128];
    snprintf (name, sizeof name, "b%d", i);
    snprintf (control, sizeof control, "ipc://%s/%s.ipc", s_dir, name);
    //  The agent's store too lives in the run's own directory.
    snprintf (data, sizeof data, "%s/data-%s", s_dir, name);
    char links[16];
    snprintf (links, sizeof links, "%d",
              s_full_links ? s_full_links : S_FULL_LINKS);
    char *argv[] = {S_AGENT, "--name",        name,   "--mesh",
                    s_mesh,  "--beacon-port", s_port, "--control",
                    control, "--interface",   "lo",   "--data",
                    data,    "--full-links",  links,  NULL};
    if (testproc_start_gated (&s_agents[i], argv, gate)) {
        snprintf (s_why, sizeof s_why, "cannot start agent %d: %s", i,
                  strerror (errno));
        return -1;
    }
    return 0;
}

//  Which agent a log line is about: "name=bK ", or -1 (also for a
//  line of some other form).
static int
s_about (const char *line)
{
    const char *name = strstr (line, " name=b");
    if (!name || !isdigit ((unsigned char)name[7]))
        return -1;
    int peer = atoi (name + 7);
    return peer < S_MAX ? peer : -1;
}

//  Reads every agent's log for up to timeout_ms; counts up/down lines
//  about peers; returns when done () or the time is out.
typedef bool (s_done_fn) (int count, void *arg);

static int64_t s_deadline;  //  If set, s_watch's deadline instead.

//  Agent i's "member" line about id: alive or not.
static void
s_member_line (int i, const char *id, bool alive, int *downs)
{
    int member = -1;
    for (int j = 0; j < S_MAX && member < 0; j++)
        if (strncmp (id, s_node[j], 32) == 0)
            member = j;
    if (member < 0) {
        int k = 0;
        while (k < s_pending_len[i] && strncmp (s_pending[i][k].id, id, 32))
            k++;
        if (k == S_MAX)
            return;
        if (k == s_pending_len[i])
            snprintf (s_pending[i][s_pending_len[i]++].id, 33, "%.32s", id);
        s_pending[i][k].alive = alive;
        return;
    }
    if (s_partial && downs && !alive && s_member[i][member])
        (*downs)++;
    s_member[i][member] = alive;
}

//  Agent j said its node id: what others said of it before is theirs.
static void
s_node_known (int j)
{
    for (int i = 0; i < S_MAX; i++)
        for (int k = 0; k < s_pending_len[i]; k++)
            if (strcmp (s_pending[i][k].id, s_node[j]) == 0) {
                s_member[i][j] = s_pending[i][k].alive;
                s_pending[i][k] = s_pending[i][--s_pending_len[i]];
                break;
            }
}

//  Whether agent i has agent j: up, or alive in a large mesh.
static bool
s_has (int i, int j)
{
    return s_partial ? s_member[i][j] : s_seen[i][j];
}

//  One complete line of agent i's log.
static void
s_line (int i, const char *line, int *downs)
{
    int peer = s_about (line);
    if (strstr (line, "agent: started") && ++s_started > 0)
        s_last_started = testproc_now ();
    const char *node = strstr (line, "discovery: started node=");
    if (node) {
        snprintf (s_node[i], sizeof s_node[i], "%.32s", node + 24);
        s_node_known (i);
    }
    const char *id = strstr (line, "discovery: member ");
    if (id && (id = strstr (id, " id=")) && strlen (id) >= 36) {
        int before = downs ? *downs : 0;
        s_member_line (i, id + 4, strstr (line, "member alive") != NULL, downs);
        //  A false down: when it was logged says whether it belongs to
        //  the start (read late) or to the idle mesh.
        if (downs && *downs > before) {
            fprintf (stderr,
                     "bench: false down read %lld ms after the last start, "
                     "logged by b%d: %s\n",
                     (long long)(testproc_now () - s_last_started), i, line);
            s_keep = true;
        }
    }
    if (peer >= 0 && strstr (line, "peer up"))
        s_seen[i][peer] = true;
    //  An agent logs a peer's down twice, for discovery and for the
    //  mesh: a down counts once, as the peer goes from up to down in
    //  the agent's view (in a large mesh, a member's death instead).
    if (peer >= 0 && strstr (line, "peer down")) {
        if (!s_partial && downs && s_seen[i][peer]) {
            (*downs)++;
            s_keep = true;
        }
        s_seen[i][peer] = false;
    }
    //  Agents that do not log suspicions leave this at zero.
    if (strstr (line, "peer suspect"))
        s_suspects++;
}

//  Appends a line of agent i's log to its file.
static void
s_keep_line (int i, const char *line)
{
    if (!s_logs[i]) {
        char path[96];
        snprintf (path, sizeof path, "%s/b%d.log", s_dir, i);
        s_logs[i] = fopen (path, "a");
    }
    if (s_logs[i])
        fprintf (s_logs[i], "%s\n", line);
}

static int64_t
s_watch (int count, s_done_fn *done, void *arg, int *downs)
{
    int64_t deadline = s_deadline ? s_deadline : testproc_now () + S_WAIT_MS;
    while (!done (count, arg)) {
        struct pollfd items[S_MAX];
        int map[S_MAX], polled = 0;
        for (int i = 0; i < count; i++)
            if (s_agents[i].log >= 0) {
                items[polled] = (struct pollfd){s_agents[i].log, POLLIN, 0};
                map[polled++] = i;
            }
        int64_t left = deadline - testproc_now ();
        if (left <= 0 || poll (items, (nfds_t)polled, (int)left) <= 0)
            return -1;
        for (int k = 0; k < polled; k++) {
            if (!(items[k].revents & (POLLIN | POLLHUP)))
                continue;
            testproc_t *agent = &s_agents[map[k]];
            testproc_read (agent, 0);
            char *line = agent->text + agent->seen, *end;
            while ((end = strchr (line, '\n'))) {
                *end = 0;
                s_keep_line (map[k], line);
                s_line (map[k], line, downs);
                *end = '\n';
                line = end + 1;
            }
            agent->seen = (size_t)(line - agent->text);
            //  Keep the buffer small: a long run logs little, but
            //  never let it fill.
            if (agent->seen > TESTPROC_LOG_MAX / 2) {
                memmove (agent->text, agent->text + agent->seen,
                         agent->size - agent->seen + 1);
                agent->size -= agent->seen;
                agent->seen = 0;
            }
        }
    }
    return testproc_now ();
}

static bool
s_never (int count, void *arg)
{
    (void)count;
    (void)arg;
    return false;
}

//  Reads the logs until the time given.
static void
s_watch_until (int count, int64_t until, int *downs)
{
    int64_t saved = s_deadline;
    s_deadline = until;
    while (testproc_now () < until)
        s_watch (count, s_never, NULL, downs);
    s_deadline = saved;
}

static bool
s_full (int count, void *arg)
{
    int skip = arg ? *(int *)arg : -1;
    for (int i = 0; i < count; i++)
        for (int j = 0; j < count; j++)
            if (i != j && i != skip && j != skip && !s_has (i, j))
                return false;
    return true;
}

static bool
s_gone (int count, void *arg)
{
    int victim = *(int *)arg;
    for (int i = 0; i < count; i++)
        if (i != victim && !s_dead[i] && s_has (i, victim))
            return false;
    return true;
}

static long long
s_mesh_ticks (int count)
{
    long long ticks = 0;
    for (int i = 0; i < count; i++)
        ticks += meshq_bench_cpu_ticks (s_agents[i].pid);
    return ticks;
}

//  Links up (members alive in a large mesh), of count * (count - 1).
static int
s_links_up (int count)
{
    int up = 0;
    for (int i = 0; i < count; i++)
        for (int j = 0; j < count; j++)
            up += i != j && s_has (i, j);
    return up;
}

// --------------------------------------------------------------------
//  Runs

static int s_settle = 3;  //  Seconds of idle mesh before memory is read.
//  Seconds the joined mesh runs before that window (downs counted too):
//  a large mesh closes the links of its start after 15 s idle.
static int s_warmup = 0;
//  With --threads, each size's idle windows by thread name, in the
//  order the sizes are measured (s_threads_at is the current one).
static bool s_show_threads;
static meshq_bench_threads_t s_threads[64];
static int s_threads_count[64];
static int s_threads_at = -1;

//  With MESHQ_BENCH_LOGS=DIR, keeps each agent's log of every run there,
//  to look into outliers.
static void
s_keep_logs (int count)
{
    static int run = 0;
    const char *dir = getenv ("MESHQ_BENCH_LOGS");
    if (!dir)
        return;
    run++;
    for (int i = 0; i < count; i++) {
        char path[512];
        snprintf (path, sizeof path, "%s/run%03d-b%02d.log", dir, run, i);
        FILE *file = fopen (path, "w");
        if (file) {
            fputs (s_agents[i].text, file);
            fclose (file);
        }
    }
}

static void
s_stop_all (int count)
{
    s_keep_logs (count);
    for (int i = 0; i < count; i++)
        if (s_agents[i].pid) {
            kill (s_agents[i].pid, SIGCONT);
            kill (s_agents[i].pid, SIGTERM);
        }
    for (int i = 0; i < count; i++)
        testproc_fini (&s_agents[i]);
    memset (s_seen, 0, sizeof s_seen);
    memset (s_member, 0, sizeof s_member);
    memset (s_node, 0, sizeof s_node);
    memset (s_pending_len, 0, sizeof s_pending_len);
    memset (s_dead, 0, sizeof s_dead);
    s_started = 0;
}

static double
s_max (const double *values, int count)
{
    double max = values[0];
    for (int i = 1; i < count; i++)
        if (values[i] > max)
            max = values[i];
    return max;
}

static void
s_fresh (void)
{
    uint64_t seed = (uint64_t)getpid () ^ (uint64_t)testproc_now () << 20;
    snprintf (s_mesh, sizeof s_mesh, "bench-%016llx",
              (unsigned long long)testutil_random (&seed));
    snprintf (s_port, sizeof s_port, "%u", testutil_udp_port ());
}

//  Starts count agents in a fresh mesh at once and waits until each has
//  all others up. Returns the time the gate opened, or -1 with the
//  reason in s_why (the agents stopped).
static int64_t
s_join (int count, int64_t *full)
{
    s_fresh ();
    s_partial = count - 1 > (s_full_links ? s_full_links : S_FULL_LINKS);
    //  Every process is made first, held at a gate; the clock starts as
    //  the gate opens and they all run meshq-agent at once. (Forking them
    //  one by one timed this launcher, starved by the agents it had
    //  started: 17 to 293 ms for 32.)
    int gate[2];
    if (pipe2 (gate, O_CLOEXEC)) {
        snprintf (s_why, sizeof s_why, "pipe: %s", strerror (errno));
        return -1;
    }
    for (int i = 0; i < count; i++)
        if (s_start (i, gate)) {
            close (gate[0]);
            close (gate[1]);
            s_stop_all (count);
            return -1;
        }
    close (gate[0]);
    int64_t start = testproc_now ();
    close (gate[1]);
    int downs = 0;
    int64_t wait = S_WAIT_MS + (int64_t)count * S_WAIT_PER_AGENT_MS;
    s_deadline = start + wait;
    *full = s_watch (count, s_full, NULL, &downs);
    s_deadline = 0;
    if (*full < 0) {
        int exited = 0;
        for (int i = 0; i < count; i++)
            exited += testproc_wait (&s_agents[i], 0) >= 0;
        snprintf (s_why, sizeof s_why,
                  "not joined in %d s: %d of %d %s, %d %s logged, %d of %d "
                  "agents started, %d exited",
                  (int)(wait / 1000), s_links_up (count), count * (count - 1),
                  s_partial ? "members known alive" : "links up", downs,
                  s_partial ? "member deaths" : "peer downs", s_started, count,
                  exited);
        s_stop_all (count);
        return -1;
    }
    return start;
}

//  Reads what the count agents have logged so far.
static void
s_drain (void *arg)
{
    s_watch_until (*(int *)arg, testproc_now () + 1, NULL);
}

//  With --threads, adds sign times the agents' threads to this size's
//  figures (proc_threads.h).
static void
s_threads_add (int count, int sign)
{
    if (!s_show_threads || s_threads_at < 0)
        return;
    pid_t pids[S_MAX];
    for (int i = 0; i < count; i++)
        pids[i] = s_agents[i].pid;
    meshq_bench_threads_add (&s_threads[s_threads_at], pids, count, sign);
}

//  The --threads table: where each size's idle windows went.
static void
s_threads_print (void)
{
    if (!s_show_threads || s_threads_at < 0)
        return;
    printf ("\nidle CPU by thread, over the same windows: cores in all; "
            "turns on a CPU (wakeups and preemptions) a second an agent; "
            "CPU time a turn (schedstat)\n\n"
            "| agents | thread          |  cores | turns/s | us/turn |\n"
            "|-------:|-----------------|-------:|--------:|--------:|\n");
    for (int i = 0; i <= s_threads_at; i++) {
        char label[16];
        snprintf (label, sizeof label, "%d", s_threads_count[i]);
        meshq_bench_threads_print (&s_threads[i], label, stdout);
    }
    fflush (stdout);
}

//  One run's figures: times in ms (-1: not within 30 s), CPU in cores.
typedef struct {
    double join, settle, killed, stopped, thawed, cpu, newcomer;
    int idle_downs;
    int flaps;        //  Downs in the S_FLAP_MS after the thawed was back.
    bool listed;      //  Every agent's list was asked for.
    bool lists_full;  //  And every one showed all others up.
    char lists_why[160];
} s_result_t;

//  One run with count agents; fills result, and the RSS and PSS of each
//  agent in kB. Returns 0, or -1 with the reason in s_why.
static int
s_run (int count, bool check_lists, s_result_t *result, double *rss,
       double *pss)
{
    int64_t full, start = s_join (count, &full);
    if (start < 0)
        return -1;
    result->join = (double)(full - start);
    result->settle = (double)(full - s_last_started);
    {
        //  The agents' log lines are stamped in UTC: so is this one.
        char stamp[32];
        time_t now = time (NULL);
        strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime (&now));
        fprintf (stderr, "bench: %d agents joined at %s\n", count, stamp);
    }
    //  Memory once the mesh has been idle a moment, reading logs meanwhile
    //  (a down now would be a false one, and is not expected).
    //  The CPU of all agents over that window is the idle mesh's cost.
    if (s_warmup > 0)
        s_watch_until (count, testproc_now () + s_warmup * 1000,
                       &result->idle_downs);
    int64_t from = testproc_now ();
    long long ticks = s_mesh_ticks (count);
    s_threads_add (count, -1);
    s_watch_until (count, from + s_settle * 1000, &result->idle_downs);
    ticks = s_mesh_ticks (count) - ticks;
    s_threads_add (count, 1);
    if (s_show_threads && s_threads_at >= 0)
        meshq_bench_threads_window (&s_threads[s_threads_at],
                                    (double)(testproc_now () - from) / 1000.0,
                                    count);
    result->cpu = (double)ticks / (double)sysconf (_SC_CLK_TCK) /
                  ((double)(testproc_now () - from) / 1000.0);
    for (int i = 0; i < count; i++)
        meshq_bench_memory (s_agents[i].pid, &rss[i], &pss[i]);
    //  Each agent's own view, after the window (the tool's work is not
    //  the idle mesh's).
    result->listed = check_lists;
    if (check_lists)
        result->lists_full = meshq_bench_lists_full (
            s_dir, S_TOOL, count, 2 * s_cores, result->lists_why,
            sizeof result->lists_why, s_drain, &count);

    //  A newcomer to the idle mesh: from its "started" line until it and
    //  every other agent have each other up.
    int all = count;
    result->newcomer = -1;
    if (count < S_MAX) {
        if (s_start (count, NULL)) {
            s_stop_all (count);
            return -1;
        }
        all = count + 1;
        int64_t in = s_watch (all, s_full, NULL, NULL);
        if (in >= 0)
            result->newcomer = (double)(in - s_last_started);
    }

    //  A frozen agent: down everywhere by heartbeat timeout. Thawed, it
    //  comes back (the others say HELLO again); then it is killed.
    int victim = count - 1;
    int64_t sent = testproc_now ();
    kill (s_agents[victim].pid, SIGSTOP);
    s_dead[victim] = true;
    int64_t gone = s_watch (all, s_gone, &victim, NULL);
    result->stopped = gone < 0 ? -1 : (double)(gone - sent);
    kill (s_agents[victim].pid, SIGCONT);
    s_dead[victim] = false;
    int64_t back = s_watch (all, s_full, NULL, NULL);
    result->thawed = back < 0 ? -1 : (double)(back - gone);
    //  Back without flapping: every down in the next seconds is one.
    if (back >= 0)
        s_watch_until (all, testproc_now () + S_FLAP_MS, &result->flaps);

    //  Another agent is killed: one whose links are all up (the thawed
    //  one's may still be coming back, in a large mesh).
    victim = count - 2;
    sent = testproc_now ();
    kill (s_agents[victim].pid, SIGKILL);
    s_dead[victim] = true;
    gone = s_watch (all, s_gone, &victim, NULL);
    result->killed = gone < 0 ? -1 : (double)(gone - sent);
    testproc_wait (&s_agents[victim], S_WAIT_MS);
    s_stop_all (all);
    return 0;
}

//  Spins until killed: keeps one core busy.
static pid_t
s_spinner (void)
{
    pid_t pid = fork ();
    if (pid == 0) {
        volatile uint64_t x = 0;
        while (true)
            x++;
    }
    return pid;
}

//  The busy mesh: count agents join, then run idle for seconds while
//  spinners processes spin; counts the peer downs (all false) and the
//  suspect lines logged meanwhile, and reads each agent's memory at the
//  end. Returns 0, or -1 with the reason in s_why.
static int
s_busy (int count, int spinners, int seconds, double *rss, double *pss,
        int *downs, int *suspects)
{
    int64_t full;
    if (s_join (count, &full) < 0)
        return -1;
    pid_t *spinning = calloc ((size_t)spinners, sizeof *spinning);
    for (int i = 0; spinning && i < spinners; i++)
        spinning[i] = s_spinner ();
    s_suspects = 0;
    s_watch_until (count, testproc_now () + seconds * 1000, downs);
    *suspects = s_suspects;
    for (int i = 0; spinning && i < spinners; i++)
        if (spinning[i] > 0) {
            kill (spinning[i], SIGKILL);
            waitpid (spinning[i], NULL, 0);
        }
    free (spinning);
    for (int i = 0; i < count; i++)
        meshq_bench_memory (s_agents[i].pid, &rss[i], &pss[i]);
    s_stop_all (count);
    return 0;
}

// --------------------------------------------------------------------
//  The table

static int
s_ascending (const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

//  The size's line; base_rss and base_pss are the medians of the
//  smallest size measured, or set to this one's.
static void
s_print (int count, int runs, s_result_t *results, double *rss, double *pss,
         double *base_rss, double *base_pss)
{
    double join[100], settle[100], killed[100], stopped[100], thawed[100];
    double cpu[100], newcomer[100];
    int idle_downs = 0, flaps = 0, listed = 0, lists_full = 0;
    for (int r = 0; r < runs; r++) {
        s_result_t *result = &results[r];
        join[r] = result->join;
        settle[r] = result->settle;
        killed[r] = result->killed;
        stopped[r] = result->stopped;
        thawed[r] = result->thawed;
        cpu[r] = result->cpu;
        newcomer[r] = result->newcomer;
        idle_downs += result->idle_downs;
        flaps += result->flaps;
        listed += result->listed;
        lists_full += result->listed && result->lists_full;
    }
    double rss_median = meshq_bench_median (rss, runs * count);
    double pss_median = meshq_bench_median (pss, runs * count);
    if (*base_rss < 0) {
        *base_rss = rss_median;
        *base_pss = pss_median;
    }
    char lists[32];
    if (listed == 0)
        snprintf (lists, sizeof lists, "-");
    else if (lists_full == listed)
        snprintf (lists, sizeof lists, "yes");
    else
        snprintf (lists, sizeof lists, "no, %d of %d", listed - lists_full,
                  listed);
    printf ("| %6d | %4.0f / %3.0f | %9.0f / %8.0f | %6.0f / %6.0f | "
            "%6.0f / %6.0f | %5.0f / %5.0f | %5d | %4.1f / %3.1f | %6.1f "
            "| %4.2f / %4.2f | %10d | %4.0f / %4.0f | %15s | %+13.1f "
            "| %+13.1f |\n",
            count, meshq_bench_median (join, runs), s_max (join, runs),
            meshq_bench_median (settle, runs), s_max (settle, runs),
            meshq_bench_median (killed, runs), s_max (killed, runs),
            meshq_bench_median (stopped, runs), s_max (stopped, runs),
            meshq_bench_median (thawed, runs), s_max (thawed, runs), flaps,
            rss_median / 1024, s_max (rss, runs * count) / 1024,
            pss_median / 1024, meshq_bench_median (cpu, runs),
            s_max (cpu, runs), idle_downs, meshq_bench_median (newcomer, runs),
            s_max (newcomer, runs), lists, (rss_median - *base_rss) / 1024,
            (pss_median - *base_pss) / 1024);
    for (int r = 0; r < runs; r++)
        if (results[r].listed && !results[r].lists_full)
            printf ("(%d agents, list_peers not full: %s)\n", count,
                    results[r].lists_why);
}

//  Measures each size, smallest first.
static void
s_sizes (char *sizes_text, int runs, bool check_lists)
{
    int sizes[64], measured = 0;
    for (char *item = strtok (sizes_text, ","); item;
         item = strtok (NULL, ",")) {
        char *end;
        long count = strtol (item, &end, 10);
        if (*end || count < 2 || count > S_SIZES)
            printf ("| %6s | not measured: sizes are 2 to %d |\n", item,
                    S_SIZES);
        else if (measured < 64)
            sizes[measured++] = (int)count;
    }
    fflush (stdout);
    qsort (sizes, (size_t)measured, sizeof sizes[0], s_ascending);
    double base_rss = -1, base_pss = -1;
    for (int s = 0; s < measured; s++) {
        int count = sizes[s], done = 0;
        s_threads_at = s;
        s_threads_count[s] = count;
        s_result_t results[100];
        double *rss = calloc ((size_t)(runs * count), sizeof *rss);
        double *pss = calloc ((size_t)(runs * count), sizeof *pss);
        if (!rss || !pss)
            exit (1);
        //  Each agent holds about three descriptors per peer.
        if (s_files && s_files < 3LL * count + 64)
            printf ("(%d agents: the open files limit, %lld, is below the "
                    "about %d each agent needs; raise the hard limit)\n",
                    count, s_files, 3 * count + 64);
        for (int r = 0; r < runs; r++) {
            memset (&results[done], 0, sizeof results[done]);
            if (s_run (count, check_lists || count <= S_LISTS_DEFAULT,
                       &results[done], rss + done * count,
                       pss + done * count) == 0)
                done++;
            else {
                printf ("| %6d | run %d failed: %s |\n", count, r + 1, s_why);
                fflush (stdout);
            }
        }
        if (done > 0)
            s_print (count, done, results, rss, pss, &base_rss, &base_pss);
        if (done < runs)
            printf ("(%d agents: %d of %d runs failed, above)\n", count,
                    runs - done, runs);
        fflush (stdout);
        free (rss);
        free (pss);
    }
}

//  The busy mesh, runs times.
static void
s_busy_runs (int runs, int agents, int spinners, int idle)
{
    printf ("\nbusy: %d agents, %d spinning processes (%d cores), %d s each "
            "run\n",
            agents, spinners, s_cores, idle);
    fflush (stdout);
    int total_downs = 0, total_suspects = 0, done = 0;
    int *downs = calloc ((size_t)runs, sizeof *downs);
    int *suspects = calloc ((size_t)runs, sizeof *suspects);
    double *rss = calloc ((size_t)(runs * agents), sizeof *rss);
    double *pss = calloc ((size_t)(runs * agents), sizeof *pss);
    if (!downs || !suspects || !rss || !pss)
        exit (1);
    for (int r = 0; r < runs; r++) {
        if (s_busy (agents, spinners, idle, rss + done * agents,
                    pss + done * agents, &downs[done], &suspects[done])) {
            printf ("run %d failed: %s\n", r + 1, s_why);
            fflush (stdout);
            continue;
        }
        total_downs += downs[done];
        total_suspects += suspects[done];
        done++;
    }
    if (done > 0) {
        printf ("false downs per run:");
        for (int r = 0; r < done; r++)
            printf (" %d", downs[r]);
        printf ("  (total %d)\nsuspect lines per run:", total_downs);
        for (int r = 0; r < done; r++)
            printf (" %d", suspects[r]);
        printf ("  (total %d)\n", total_suspects);
        printf ("memory of an agent after %d s: RSS %.1f / %.1f MB "
                "(median / max), PSS %.1f MB\n",
                idle, meshq_bench_median (rss, done * agents) / 1024,
                s_max (rss, done * agents) / 1024,
                meshq_bench_median (pss, done * agents) / 1024);
    }
    free (downs);
    free (suspects);
    free (rss);
    free (pss);
}

int
main (int argc, char *argv[])
{
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    s_cores = cores > 0 ? (int)cores : 1;
    int runs = 5, idle = 60, busy = 2, spinners = 2 * s_cores;
    bool check_lists = false;
    char sizes_text[256] = "2,8,32";
    static const struct option options[] = {
        {"runs", required_argument, NULL, 'r'},
        {"idle", required_argument, NULL, 'i'},
        {"sizes", required_argument, NULL, 's'},
        {"settle", required_argument, NULL, 'e'},
        {"busy", required_argument, NULL, 'b'},
        {"spinners", required_argument, NULL, 'p'},
        {"check-lists", no_argument, NULL, 'l'},
        {"full-links", required_argument, NULL, 'f'},
        {"warmup", required_argument, NULL, 'w'},
        {"threads", no_argument, NULL, 't'},
        {NULL, 0, NULL, 0}};
    int code;
    while ((code = getopt_long (argc, argv, "", options, NULL)) != -1) {
        if (code == 'r')
            runs = atoi (optarg);
        else if (code == 'i')
            idle = atoi (optarg);
        else if (code == 's')
            snprintf (sizes_text, sizeof sizes_text, "%s", optarg);
        else if (code == 'e')
            s_settle = atoi (optarg);
        else if (code == 'b')
            busy = atoi (optarg);
        else if (code == 'p')
            spinners = atoi (optarg);
        else if (code == 'l')
            check_lists = true;
        else if (code == 'f')
            s_full_links = atoi (optarg);
        else if (code == 'w')
            s_warmup = atoi (optarg);
        else if (code == 't')
            s_show_threads = true;
        else {
            fprintf (stderr,
                     "usage: bench_discovery [--runs N] [--idle SECONDS] "
                     "[--sizes 2,8,32] [--settle SECONDS] [--busy N] "
                     "[--spinners M] [--check-lists] [--full-links N] "
                     "[--warmup SECONDS] [--threads]\n");
            return 64;
        }
    }
    if (runs < 1 || runs > 100 || idle < 0 || s_warmup < 0 || busy < 2 ||
        busy > S_SIZES || spinners < 0 || spinners > 1024 || s_full_links < 0 ||
        s_full_links > 100000) {
        fprintf (
            stderr,
            "bench: --runs 1..100, --idle >= 0, --warmup >= 0, --busy 2..%d, "
            "--spinners 0..1024, --full-links 1..100000\n",
            S_SIZES);
        return 64;
    }
    for (int i = 0; i < S_MAX; i++)
        s_agents[i].log = s_agents[i].pidfd = -1;
    snprintf (s_dir, sizeof s_dir, "/tmp/meshq-bench-XXXXXX");
    if (!mkdtemp (s_dir))
        return 1;
    signal (SIGPIPE, SIG_IGN);
    //  Two descriptors per agent here, and in each agent about three
    //  per peer (its link, the peer's connection to its ROUTER, the
    //  probes): raise the soft limit to the hard one, for the agents too.
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0 &&
        files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit (RLIMIT_NOFILE, &files);
    }
    if (getrlimit (RLIMIT_NOFILE, &files) == 0)
        s_files = (long long)files.rlim_cur;
    char load[64];
    meshq_bench_load_average (load, sizeof load);

    printf ("discovery on loopback, default timings (beacon 250 ms, "
            "heartbeat 250 ms, timeout 2000 ms)\nmedian / max of %d runs; "
            "load average %s; open files limit %lld\n\n",
            runs, load, s_files);
    printf ("idle CPU: utime + stime of all agents over the %d s after "
            "join (and %d s of warm-up), per second (1.00 = one core); idle "
            "downs: peer downs "
            "logged then (all false); list_peers full: every agent's own "
            "list shows all others up, in every run (- not asked: sizes "
            "over %d without --check-lists); newcomer: one more agent "
            "started then, from its 'started' line until all have each "
            "other up; RSS and PSS growth: median less the smallest "
            "size's; flaps: downs in the %d s after the thawed agent was "
            "back everywhere (all runs); SIGKILL: another agent than the "
            "stopped one. Past %d other agents (full_links), an agent links to "
            "a few members only: up is then a member alive, down a member "
            "dead\n\n",
            s_settle, s_warmup, S_LISTS_DEFAULT, S_FLAP_MS / 1000,
            s_full_links ? s_full_links : S_FULL_LINKS);
    printf ("| agents |   join ms | after all started ms | SIGKILL down ms "
            "| SIGSTOP down ms | thawed, up ms | flaps |    RSS MB | PSS MB "
            "| idle CPU | idle downs | newcomer ms | list_peers full "
            "| RSS growth MB | PSS growth MB |\n");
    printf ("|-------:|----------:|---------------------:|----------------:"
            "|----------------:|--------------:|------:|----------:|-------:"
            "|---------:|-----------:|------------:|----------------:"
            "|--------------:|--------------:|\n");
    fflush (stdout);
    s_sizes (sizes_text, runs, check_lists);
    s_threads_print ();
    if (idle > 0)
        s_busy_runs (runs, busy, spinners, idle);
    for (int i = 0; i < S_MAX; i++)
        if (s_logs[i])
            fclose (s_logs[i]);
    char out[256];
    if (s_keep) {
        testproc_shell (out, sizeof out, "rm -rf '%s'/data-*", s_dir);
        fprintf (stderr,
                 "bench: false downs were seen; the agents' logs, as read, "
                 "are kept in %s (bN.log)\n",
                 s_dir);
    } else
        testproc_shell (out, sizeof out, "rm -rf '%s'", s_dir);
    return 0;
}
