/*  discovery.c - how fast meshq-agent processes find each other and
    notice one die or hang, on loopback, with the default timings.

    For N agents (2, 8, 32; up to 256), each run starts N meshq-agent
    processes and measures, from the agents' own log lines ("peer up",
    "peer down"), read as they are written:
      * join: from the first spawn until every agent has all others up;
      * idle CPU: utime + stime of all agents over the --settle window
        once joined, divided by the window (1.0 is one core), and the
        false downs during it;
      * newcomer: one more agent started into the idle mesh, from its
        "started" line until it and every other have each other up;
      * SIGKILL: from kill () until every survivor has the victim down;
      * SIGSTOP: the same for a frozen agent, and after SIGCONT the time
        until it is up everywhere again;
      * RSS and PSS: each agent's memory once the mesh has been idle for
        --settle seconds (3).
    Then two agents run idle while two processes keep both cores busy,
    and every "peer down" between them is a false down. Prints the
    median and max of 5 runs (bench/README.md has the targets). Every
    size asked for gets a line: a size out of range, or one whose run
    failed, says why.

    Usage: bench_discovery [--runs N] [--idle SECONDS] [--sizes 2,8,32]
                           [--settle SECONDS]
*/
#include "bench_util.h"
#include "testproc.h"
#include "testutil.h"

#include <getopt.h>
#include <sys/resource.h>

#define S_AGENT   MESHQ_BINARY_DIR "/agents/meshq-agent"
#define S_MAX     256
#define S_WAIT_MS 30000

static char s_dir[64];
static char s_mesh[48];
static char s_port[8];
static testproc_t s_agents[S_MAX];
static bool s_seen[S_MAX][S_MAX];  //  [i][j]: agent i has j up.
static bool s_dead[S_MAX];         //  Killed or stopped: not a survivor.
static int64_t s_last_started;     //  When the last agent said "started".
static int s_started;              //  Agents that said "started".
static char s_why[256];            //  Why the last run failed.

static int
s_start (int i, const int *gate)
{
    char name[16], control[128], data[128];
    snprintf (name, sizeof name, "b%d", i);
    snprintf (control, sizeof control, "ipc://%s/%s.ipc", s_dir, name);
    //  The agent's store too lives in the run's own directory.
    snprintf (data, sizeof data, "%s/data-%s", s_dir, name);
    char *argv[] = {
        S_AGENT, "--name",    name,    "--mesh",      s_mesh, "--beacon-port",
        s_port,  "--control", control, "--interface", "lo",   "--data",
        data,    NULL};
    if (testproc_start_gated (&s_agents[i], argv, gate)) {
        snprintf (s_why, sizeof s_why, "cannot start agent %d: %s", i,
                  strerror (errno));
        return -1;
    }
    return 0;
}

//  Which agent a log line is about: "name=bK ".
static int
s_about (const char *line)
{
    const char *name = strstr (line, " name=b");
    return name ? atoi (name + 7) : -1;
}

//  Reads every agent's log for up to timeout_ms; counts up/down lines
//  about peers; returns when done () or the time is out.
typedef bool (s_done_fn) (int count, void *arg);

static int64_t s_deadline;  //  If set, s_watch's deadline instead.

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
                int peer = s_about (line);
                if (strstr (line, "agent: started") && ++s_started > 0)
                    s_last_started = testproc_now ();
                if (peer >= 0 && peer < S_MAX && strstr (line, "peer up"))
                    s_seen[map[k]][peer] = true;
                if (peer >= 0 && peer < S_MAX && strstr (line, "peer down")) {
                    s_seen[map[k]][peer] = false;
                    if (downs)
                        (*downs)++;
                }
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
    s_watch (count, s_never, NULL, downs);
    s_deadline = saved;
}

static bool
s_full (int count, void *arg)
{
    int skip = arg ? *(int *)arg : -1;
    for (int i = 0; i < count; i++)
        for (int j = 0; j < count; j++)
            if (i != j && i != skip && j != skip && !s_seen[i][j])
                return false;
    return true;
}

static bool
s_gone (int count, void *arg)
{
    int victim = *(int *)arg;
    for (int i = 0; i < count; i++)
        if (i != victim && !s_dead[i] && s_seen[i][victim])
            return false;
    return true;
}

//  A "Key: N kB" line of a /proc file, in kB, or -1.
static long
s_proc_kb (pid_t pid, const char *file_name, const char *key)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/%s", (int)pid, file_name);
    FILE *file = fopen (path, "r");
    long kb = -1;
    size_t size = strlen (key);
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, key, size) == 0)
            kb = atol (line + size);
    if (file)
        fclose (file);
    return kb;
}

//  Resident memory, and its proportional share (shared library pages
//  divided among the processes that map them).
static void
s_memory (pid_t pid, double *rss, double *pss)
{
    *rss = (double)s_proc_kb (pid, "status", "VmRSS:");
    *pss = (double)s_proc_kb (pid, "smaps_rollup", "Pss:");
}

//  utime + stime of a process in clock ticks, or 0 if it is gone.
static long long
s_cpu_ticks (pid_t pid)
{
    char path[64], text[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    size_t size = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text[size] = 0;
    //  Fields after the command's ")" : state is field 3, utime 14,
    //  stime 15.
    const char *at = strrchr (text, ')');
    long long utime = 0, stime = 0;
    if (at && sscanf (at + 1,
                      " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld",
                      &utime, &stime) != 2)
        return 0;
    return utime + stime;
}

static long long
s_mesh_ticks (int count)
{
    long long ticks = 0;
    for (int i = 0; i < count; i++)
        ticks += s_cpu_ticks (s_agents[i].pid);
    return ticks;
}

//  Links up, of count * (count - 1).
static int
s_links_up (int count)
{
    int up = 0;
    for (int i = 0; i < count; i++)
        for (int j = 0; j < count; j++)
            up += i != j && s_seen[i][j];
    return up;
}

static int s_settle = 3;  //  Seconds of idle mesh before memory is read.

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

//  One run with count agents; fills join, kill and stop times in ms,
//  the RSS of each agent in kb, and the CPU of the idle mesh in cores.
//  Returns 0, or -1 with the reason in s_why.
static int
s_run (int count, double *join, double *settle, double *killed, double *stopped,
       double *thawed, double *rss, double *pss, double *cpu, double *newcomer,
       int *settle_downs)
{
    s_fresh ();
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
    int64_t full = s_watch (count, s_full, NULL, &downs);
    if (full < 0) {
        int exited = 0;
        for (int i = 0; i < count; i++)
            exited += testproc_wait (&s_agents[i], 0) >= 0;
        snprintf (s_why, sizeof s_why,
                  "no full membership in %d s: %d of %d links up, %d peer "
                  "downs logged, %d of %d agents started, %d exited",
                  S_WAIT_MS / 1000, s_links_up (count), count * (count - 1),
                  downs, s_started, count, exited);
        s_stop_all (count);
        return -1;
    }
    *join = (double)(full - start);
    *settle = (double)(full - s_last_started);
    //  Memory once the mesh has been idle a moment, reading logs meanwhile
    //  (a down now would be a false one, and is not expected).
    //  The CPU of all agents over that window is the idle mesh's cost.
    int idle_downs = 0;
    int64_t from = testproc_now ();
    long long ticks = s_mesh_ticks (count);
    int64_t until = from + s_settle * 1000;
    while (testproc_now () < until)
        s_watch_until (count, until, &idle_downs);
    ticks = s_mesh_ticks (count) - ticks;
    *cpu = (double)ticks / (double)sysconf (_SC_CLK_TCK) /
           ((double)(testproc_now () - from) / 1000.0);
    for (int i = 0; i < count; i++)
        s_memory (s_agents[i].pid, &rss[i], &pss[i]);

    *settle_downs += idle_downs;

    //  A frozen agent: down everywhere by heartbeat timeout. Thawed, it
    //  comes back (the others say HELLO again); then it is killed.
    //  A newcomer to the idle mesh: from its "started" line until it and
    //  every other agent have each other up.
    int all = count;
    *newcomer = -1;
    if (count < S_MAX) {
        if (s_start (count, NULL)) {
            s_stop_all (count);
            return -1;
        }
        all = count + 1;
        int64_t in = s_watch (all, s_full, NULL, NULL);
        if (in >= 0)
            *newcomer = (double)(in - s_last_started);
    }

    int victim = count - 1;
    int64_t sent = testproc_now ();
    kill (s_agents[victim].pid, SIGSTOP);
    s_dead[victim] = true;
    int64_t gone = s_watch (all, s_gone, &victim, NULL);
    *stopped = gone < 0 ? -1 : (double)(gone - sent);
    kill (s_agents[victim].pid, SIGCONT);
    s_dead[victim] = false;
    int64_t back = s_watch (all, s_full, NULL, NULL);
    *thawed = back < 0 ? -1 : (double)(back - gone);

    sent = testproc_now ();
    kill (s_agents[victim].pid, SIGKILL);
    s_dead[victim] = true;
    gone = s_watch (all, s_gone, &victim, NULL);
    *killed = gone < 0 ? -1 : (double)(gone - sent);
    testproc_wait (&s_agents[victim], S_WAIT_MS);
    s_stop_all (all);
    return 0;
}

//  Spins until killed: keeps one core busy.
static pid_t
s_burner (void)
{
    pid_t pid = fork ();
    if (pid == 0) {
        volatile uint64_t x = 0;
        while (true)
            x++;
    }
    return pid;
}

static int
s_idle (int seconds, double *rss, double *pss)
{
    s_fresh ();
    if (s_start (0, NULL) || s_start (1, NULL)) {
        fprintf (stderr, "bench: %s\n", s_why);
        exit (1);
    }
    if (s_watch (2, s_full, NULL, NULL) < 0) {
        fprintf (stderr, "bench: idle agents never met\n");
        exit (1);
    }
    pid_t burners[2] = {s_burner (), s_burner ()};
    int downs = 0;
    int64_t end = testproc_now () + seconds * 1000;
    //  Read their logs until the end, counting down lines.
    while (testproc_now () < end) {
        struct pollfd items[2] = {{s_agents[0].log, POLLIN, 0},
                                  {s_agents[1].log, POLLIN, 0}};
        poll (items, 2, (int)(end - testproc_now ()));
        for (int i = 0; i < 2; i++)
            if (items[i].revents) {
                testproc_read (&s_agents[i], 0);
                const char *line;
                while ((line = testproc_expect (&s_agents[i], 0, "peer down",
                                                NULL)))
                    downs++;
            }
    }
    for (int i = 0; i < 2; i++) {
        kill (burners[i], SIGKILL);
        waitpid (burners[i], NULL, 0);
        s_memory (s_agents[i].pid, &rss[i], &pss[i]);
    }
    s_stop_all (2);
    return downs;
}

int
main (int argc, char *argv[])
{
    int runs = 5, idle = 60;
    char sizes_text[64] = "2,8,32";
    static const struct option options[] = {
        {"runs", required_argument, NULL, 'r'},
        {"idle", required_argument, NULL, 'i'},
        {"sizes", required_argument, NULL, 's'},
        {"settle", required_argument, NULL, 'e'},
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
        else {
            fprintf (stderr,
                     "usage: bench_discovery [--runs N] [--idle SECONDS] "
                     "[--sizes 2,8,32] [--settle SECONDS]\n");
            return 64;
        }
    }
    if (runs < 1 || runs > 100 || idle < 0) {
        fprintf (stderr, "bench: --runs 1..100, --idle >= 0\n");
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

    printf ("discovery on loopback, default timings (beacon 250 ms, "
            "heartbeat 250 ms, timeout 2000 ms)\nmedian / max of %d runs\n\n",
            runs);
    printf ("idle CPU: utime + stime of all agents over the %d s after "
            "join, per second (1.00 = one core); idle downs: peer downs "
            "logged then (all false); newcomer: one more agent started "
            "then, from its 'started' line until all have each other "
            "up\n\n",
            s_settle);
    printf ("| agents |   join ms | after all started ms | SIGKILL down ms "
            "| SIGSTOP down ms | thawed, up ms |    RSS MB | PSS MB "
            "| idle CPU | idle downs | newcomer ms |\n");
    printf ("|-------:|----------:|---------------------:|----------------:"
            "|----------------:|--------------:|----------:|-------:"
            "|---------:|-----------:|------------:|\n");
    fflush (stdout);
    for (char *item = strtok (sizes_text, ","); item;
         item = strtok (NULL, ",")) {
        char *end;
        long count = strtol (item, &end, 10);
        if (*end || count < 2 || count > S_MAX) {
            printf ("| %6s | not measured: sizes are 2 to %d |\n", item, S_MAX);
            fflush (stdout);
            continue;
        }
        double join[100], settle[100], killed[100], stopped[100], thawed[100];
        double cpu[100], newcomer[100];
        int settle_downs = 0, done = 0;
        double *rss = calloc ((size_t)(runs * count), sizeof *rss);
        double *pss = calloc ((size_t)(runs * count), sizeof *pss);
        for (int r = 0; r < runs; r++) {
            if (s_run ((int)count, &join[done], &settle[done], &killed[done],
                       &stopped[done], &thawed[done], rss + done * count,
                       pss + done * count, &cpu[done], &newcomer[done],
                       &settle_downs) == 0)
                done++;
            else {
                printf ("| %6ld | run %d failed: %s |\n", count, r + 1, s_why);
                fflush (stdout);
            }
        }
        if (done > 0)
            printf ("| %6ld | %4.0f / %3.0f | %9.0f / %8.0f | %6.0f / %6.0f | "
                    "%6.0f / %6.0f | %5.0f / %5.0f | %4.1f / %3.1f | %6.1f "
                    "| %4.2f / %4.2f | %10d | %4.0f / %4.0f |\n",
                    count, meshq_bench_median (join, done), s_max (join, done),
                    meshq_bench_median (settle, done), s_max (settle, done),
                    meshq_bench_median (killed, done), s_max (killed, done),
                    meshq_bench_median (stopped, done), s_max (stopped, done),
                    meshq_bench_median (thawed, done), s_max (thawed, done),
                    meshq_bench_median (rss, done * (int)count) / 1024,
                    s_max (rss, done * (int)count) / 1024,
                    meshq_bench_median (pss, done * (int)count) / 1024,
                    meshq_bench_median (cpu, done), s_max (cpu, done),
                    settle_downs, meshq_bench_median (newcomer, done),
                    s_max (newcomer, done));
        if (done < runs)
            printf ("(%ld agents: %d of %d runs failed, above)\n", count,
                    runs - done, runs);
        fflush (stdout);
        free (rss);
        free (pss);
    }
    if (idle > 0) {
        printf ("\nidle: 2 agents, %d s each run, both cores kept busy by two "
                "spinning processes\nfalse downs per run:",
                idle);
        fflush (stdout);
        int total = 0;
        double rss[200], pss[200];
        for (int r = 0; r < runs; r++) {
            int downs = s_idle (idle, rss + 2 * r, pss + 2 * r);
            total += downs;
            printf (" %d", downs);
            fflush (stdout);
        }
        printf ("  (total %d)\n", total);
        printf ("memory of an idle agent after %d s: RSS %.1f / %.1f MB "
                "(median / max), PSS %.1f MB\n",
                idle, meshq_bench_median (rss, 2 * runs) / 1024,
                s_max (rss, 2 * runs) / 1024,
                meshq_bench_median (pss, 2 * runs) / 1024);
    }
    char out[256];
    testproc_shell (out, sizeof out, "rm -rf '%s'", s_dir);
    return 0;
}
