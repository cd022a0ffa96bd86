/*  chaos_run.c - one run of a mesh under faults (see chaos_run.h): the
    processes, their logs, the messages by id, the table.
*/
#include "chaos_run_internal.h"

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

#define S_QUEUE     "chaos"
#define S_PREFETCH  20
#define S_MAX_SEQ   (1 << 21)
#define S_MESH_PORT 5690   //  In namespaces, each agent has its own address.
#define S_REAP_MS   15000  //  A client told to end has this long.

chaos_state_t chaos_state;

int
chaos_random (int below)
{
    return (int)(testutil_random (&chaos_state.rng) % (uint64_t)below);
}

int
chaos_shell (const char *format, ...)
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
        //  A group of its own: a Ctrl-C meant for the run (which then
        //  heals and drains) does not stop the agents too.
        setpgid (0, 0);
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
void
chaos_signal (pid_t pid, int sig)
{
    if (pid > 0)
        kill (pid, sig);
}

//  What a process that does not end is doing: its threads' states and,
//  where gdb is installed, their stacks.
static void
s_tell_stuck (pid_t pid)
{
    chaos_shell ("for t in /proc/%d/task/*; do echo \"$t: "
                 "$(cut -d' ' -f3 $t/stat 2>/dev/null) "
                 "$(cat $t/wchan 2>/dev/null)\"; done >&2",
                 (int)pid);
    if (system ("command -v gdb >/dev/null 2>&1") == 0)
        chaos_shell ("gdb -p %d -batch -ex 'thread apply all bt' 2>&1 | "
                     "grep '^#' | head -n 80 >&2",
                     (int)pid);
}

void
chaos_reap (pid_t *pid, int sig)
{
    if (*pid <= 0)
        return;
    kill (*pid, sig);
    if (sig != SIGKILL) {
        kill (*pid, SIGCONT);
        int64_t deadline = zclock_mono () + S_REAP_MS;
        while (waitpid (*pid, NULL, WNOHANG) == 0) {
            if (zclock_mono () > deadline) {
                fprintf (stderr,
                         "%s: pid %d did not end %d s after signal %d; "
                         "killed\n",
                         chaos_state.config.name, (int)*pid, S_REAP_MS / 1000,
                         sig);
                s_tell_stuck (*pid);
                if (chaos_state.result)
                    chaos_state.result->stuck++;
                kill (*pid, SIGKILL);
                break;
            }
            zclock_sleep (20);
        }
    }
    waitpid (*pid, NULL, 0);
    *pid = 0;
}

//  A TCP port of 127.0.0.1 nobody listens on, below the ephemeral range.
//  Drawn apart from the run's seed: two runs of one seed side by side
//  must not pick the same ports.
static int
s_free_port (void)
{
    static uint64_t rng;
    if (!rng)
        rng = ((uint64_t)getpid () << 32 ^ (uint64_t)zclock_usecs ()) | 1;
    for (int tries = 0; tries < 1000; tries++) {
        int port = 20000 + (int)(testutil_random (&rng) % 12000);
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
    snprintf (out, size, "ipc://%s/n%d.ipc", chaos_state.dir, i + 1);
}

void
chaos_start_agent (int i)
{
    const chaos_config_t *c = &chaos_state.config;
    char seeds[512] = "", name[16], data[300], control[300], port[16], log[300],
         ns[64];
    for (int j = 0; j < c->nodes; j++) {
        if (j == i)
            continue;
        size_t used = strlen (seeds);
        if (c->tag)
            snprintf (seeds + used, sizeof seeds - used, "%stcp://%s.%d:%d",
                      used ? "," : "", c->net, j + 1, chaos_state.ports[j]);
        else
            snprintf (seeds + used, sizeof seeds - used, "%stcp://127.0.0.1:%d",
                      used ? "," : "", chaos_state.ports[j]);
    }
    snprintf (name, sizeof name, "n%d", i + 1);
    snprintf (data, sizeof data, "%s/n%d", chaos_state.dir, i + 1);
    s_control (i, control, sizeof control);
    snprintf (port, sizeof port, "%d", chaos_state.ports[i]);
    snprintf (log, sizeof log, "%s/n%d.log", chaos_state.dir, i + 1);
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
                       chaos_state.mesh,
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
        //  Off loopback without a mesh secret, an agent that knows
        //  --insecure wants it said.
        if (chaos_state.insecure)
            argv[argc++] = "--insecure";
    } else
        argv[argc++] = "--no-beacon";
    argv[argc] = NULL;
    chaos_state.agents[i] = s_spawn (argv, log);
}

void
chaos_start_consumer (int i)
{
    char control[300], log[300], prefetch[16];
    s_control (i, control, sizeof control);
    snprintf (log, sizeof log, "%s/c%d.out", chaos_state.dir, i + 1);
    snprintf (prefetch, sizeof prefetch, "%d", S_PREFETCH);
    char *argv[] = {(char *)chaos_state.config.client,
                    "consume",
                    control,
                    S_QUEUE,
                    prefetch,
                    log,
                    NULL};
    chaos_state.consumers[i] = s_spawn (argv, NULL);
}

bool
chaos_has_consumer (int i)
{
    return i >= chaos_state.config.nodes - chaos_state.config.consumers;
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
    for (int i = 0; i < chaos_state.config.nodes; i++)
        while (s_peers_up (i) < chaos_state.config.nodes - 1) {
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
s_follow (chaos_follow_t *self, const char *path,
          void (*line) (chaos_follow_t *, const char *, void *), void *arg)
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

//  An agent's log line: "2026-12-06T06:43:28.123Z N: (meshq-agent) text".
static void
s_agent_line (chaos_follow_t *self, const char *line, void *arg)
{
    int i = (int)(intptr_t)arg;
    chaos_result_t *r = chaos_state.result;
    if (strstr (line, "unknown command"))
        r->unknown[i]++;
    if (!strstr (line, "discovery: peer down"))
        return;
    r->peer_downs[i]++;
    if (!strstr (line, "session restarted"))
        return;
    r->restarts[i]++;
    //  The second it happened in: the stamp up to the seconds. A line
    //  without one cannot be placed, and is counted as such.
    char second[20] = "";
    if (strspn (line, "0123456789-T:") < 19) {
        r->unstamped[i]++;
        return;
    }
    snprintf (second, sizeof second, "%.19s", line);
    if (strcmp (second, self->second) == 0)
        self->in_second++;
    else {
        snprintf (self->second, sizeof self->second, "%s", second);
        self->in_second = 1;
    }
    if (self->in_second > r->max_restarts[i]) {
        r->max_restarts[i] = self->in_second;
        snprintf (r->max_second[i], sizeof r->max_second[i], "%s", second);
    }
}

static void
s_client_line (chaos_follow_t *self, const char *line, void *arg)
{
    (void)self;
    (void)arg;
    if (line[0] == 'C')
        chaos_state.confirmed_so_far++;
    else if (line[0] == 'D')
        chaos_state.delivered_so_far++;
}

void
chaos_follow_logs (void)
{
    char path[300];
    for (int i = 0; i < chaos_state.config.nodes; i++) {
        snprintf (path, sizeof path, "%s/n%d.log", chaos_state.dir, i + 1);
        s_follow (&chaos_state.logs[i], path, s_agent_line,
                  (void *)(intptr_t)i);
    }
}

void
chaos_progress (int64_t start)
{
    char path[300];
    for (int p = 0; p < chaos_state.config.producers; p++) {
        snprintf (path, sizeof path, "%s/p%d.out", chaos_state.dir, p + 1);
        s_follow (&chaos_state.outs[p], path, s_client_line, NULL);
    }
    for (int i = 0; i < chaos_state.config.nodes; i++) {
        snprintf (path, sizeof path, "%s/c%d.out", chaos_state.dir, i + 1);
        s_follow (&chaos_state.outs[CHAOS_MAX_PRODUCERS + i], path,
                  s_client_line, NULL);
    }
    int faults = 0;
    for (int k = 0; k < CHAOS_KINDS; k++)
        faults += chaos_state.result->faults[k];
    char storm[128] = "";
    for (int i = 0; i < chaos_state.config.nodes; i++) {
        size_t used = strlen (storm);
        snprintf (storm + used, sizeof storm - used, " n%d=%d", i + 1,
                  chaos_state.result->max_restarts[i]);
    }
    fprintf (stderr,
             "%s: %3d s: %d faults, %llu confirmed, %llu delivered, "
             "session restarts/s max%s\n",
             chaos_state.config.name, (int)((zclock_mono () - start) / 1000),
             faults, (unsigned long long)chaos_state.confirmed_so_far,
             (unsigned long long)chaos_state.delivered_so_far, storm);
}

// --------------------------------------------------------------------
//  The messages, by id

static void
s_tally (chaos_result_t *r)
{
    int producers = chaos_state.config.producers;
    uint8_t *confirmed = calloc (producers * (size_t)S_MAX_SEQ, 1);
    uint16_t *seen = calloc (producers * (size_t)S_MAX_SEQ, sizeof *seen);
    char path[300], line[128];
    for (int p = 0; p < producers; p++) {
        snprintf (path, sizeof path, "%s/p%d.out", chaos_state.dir, p + 1);
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
    for (int c = 0; c < chaos_state.config.nodes; c++) {
        snprintf (path, sizeof path, "%s/c%d.out", chaos_state.dir, c + 1);
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
                fprintf (stderr, "%s: lost P%zu:%zu\n", chaos_state.config.name,
                         i / S_MAX_SEQ + 1, i % S_MAX_SEQ);
            r->lost++;
        }
    free (confirmed);
    free (seen);
}

//  Whether the agent's usage names option.
//  Says which step of the end the run has reached, and when: a run that
//  ends by its timeout shows where it was.
static void
s_phase (int64_t start, const char *what)
{
    fprintf (stderr, "%s: %3d s: %s\n", chaos_state.config.name,
             (int)((zclock_mono () - start) / 1000), what);
}

static bool
s_agent_knows (const char *option)
{
    char command[1100], line[512];
    snprintf (command, sizeof command, "'%s' --help 2>&1",
              chaos_state.config.agent);
    FILE *help = popen (command, "r");
    bool known = false;
    while (help && fgets (line, sizeof line, help))
        if (strstr (line, option))
            known = true;
    if (help)
        pclose (help);
    return known;
}

int
chaos_run (const chaos_config_t *config, chaos_result_t *result)
{
    memset (&chaos_state, 0, sizeof chaos_state);
    memset (result, 0, sizeof *result);
    chaos_state.config = *config;
    chaos_state.result = result;
    chaos_state.rng = config->seed ? config->seed : 1;
    chaos_state.live = true;
    const chaos_config_t *c = &chaos_state.config;
    if (c->nodes < 2 || c->nodes > CHAOS_MAX_NODES ||
        c->producers > CHAOS_MAX_PRODUCERS || c->producers > c->nodes ||
        c->consumers > c->nodes || c->seconds < 12) {
        snprintf (result->error, sizeof result->error, "bad configuration");
        return -1;
    }
    snprintf (chaos_state.dir, sizeof chaos_state.dir,
              "/tmp/meshq-chaos-XXXXXX");
    if (!mkdtemp (chaos_state.dir)) {
        snprintf (result->error, sizeof result->error, "mkdtemp: %s",
                  strerror (errno));
        return -1;
    }
    snprintf (chaos_state.mesh, sizeof chaos_state.mesh, "chaos-%d-%d",
              (int)getpid (), (int)(zclock_usecs () % 1000000));
    for (int i = 0; i < c->nodes; i++)
        chaos_state.ports[i] = c->tag ? S_MESH_PORT : s_free_port ();
    chaos_state.insecure = c->tag && s_agent_knows ("--insecure");
    for (int i = 0; i < c->nodes; i++)
        chaos_start_agent (i);
    if (!s_wait_mesh (30000)) {
        snprintf (result->error, sizeof result->error,
                  "the agents never formed a mesh (logs in %.200s)",
                  chaos_state.dir);
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
        if (chaos_has_consumer (i))
            chaos_start_consumer (i);
    for (int p = 0; p < c->producers; p++) {
        char log[300], name[16], duration[16], rate[16];
        s_control (p, control, sizeof control);
        snprintf (log, sizeof log, "%s/p%d.out", chaos_state.dir, p + 1);
        snprintf (name, sizeof name, "P%d", p + 1);
        snprintf (duration, sizeof duration, "%d", c->seconds);
        snprintf (rate, sizeof rate, "%d", c->rate);
        char *argv[] = {(char *)c->client, "produce", control, S_QUEUE, name,
                        duration,          rate,      log,     NULL};
        chaos_state.producers[p] = s_spawn (argv, NULL);
    }
    int64_t start = zclock_mono ();
    chaos_faults (start);

    //  Healed: every agent and consumer runs, every link is up, no
    //  rule drops or slows anything. The producers finish; the
    //  consumers drain every agent.
    chaos_faults_undo (false);
    s_phase (start, "healed");
    for (int p = 0; p < c->producers; p++) {
        int64_t deadline = zclock_mono () + 30000;
        if (chaos_state.config.stop && *chaos_state.config.stop)
            chaos_signal (chaos_state.producers[p], SIGTERM);
        while (waitpid (chaos_state.producers[p], NULL, WNOHANG) == 0 &&
               zclock_mono () < deadline)
            zclock_sleep (50);
        if (zclock_mono () >= deadline) {
            fprintf (stderr, "%s: producer %d did not end; stopped\n", c->name,
                     p + 1);
            chaos_reap (&chaos_state.producers[p], SIGTERM);
        }
        chaos_state.producers[p] = 0;
    }
    s_phase (start, "the producers ended");
    result->settled = s_wait_mesh (30000);
    s_phase (start, result->settled ? "every agent has every peer up"
                                    : "the mesh did not form again");
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
    s_phase (start, result->drained ? "drained" : "not drained");
    for (int i = 0; i < c->nodes; i++)
        chaos_reap (&chaos_state.consumers[i], SIGTERM);
    chaos_follow_logs ();
    if (c->progress)
        chaos_progress (start);
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
        fprintf (out, "| %s | %d |\n", chaos_kind_name ((chaos_kind_t)k),
                 r->faults[k]);
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
             "\n\n| agent | session restarts, max in 1 s | at | session "
             "restarts | peer downs | unknown commands |\n"
             "|---|---:|---|---:|---:|---:|\n",
             (unsigned long long)r->published, (unsigned long long)r->confirmed,
             (unsigned long long)r->delivered, (unsigned long long)r->distinct,
             (unsigned long long)r->duplicates, (unsigned long long)r->lost,
             (unsigned long long)r->out_of_order, r->drained ? "yes" : "NO",
             (double)r->drain_ms / 1000);
    for (int i = 0; i < c->nodes; i++)
        fprintf (out, "| n%d | %d | %s | %llu | %llu | %llu |\n", i + 1,
                 r->max_restarts[i], *r->max_second[i] ? r->max_second[i] : "-",
                 (unsigned long long)r->restarts[i],
                 (unsigned long long)r->peer_downs[i],
                 (unsigned long long)r->unknown[i]);
    if (r->stuck)
        fprintf (out, "\n%d clients did not end when told to\n", r->stuck);
    fprintf (out, "\n");
}

void
chaos_run_cleanup (void)
{
    if (!chaos_state.live)
        return;
    chaos_state.live = false;
    for (int p = 0; p < CHAOS_MAX_PRODUCERS; p++)
        chaos_reap (&chaos_state.producers[p], SIGKILL);
    for (int i = 0; i < CHAOS_MAX_NODES; i++) {
        chaos_reap (&chaos_state.consumers[i], SIGKILL);
        chaos_reap (&chaos_state.agents[i], SIGKILL);
    }
    chaos_faults_undo (true);
    if (!*chaos_state.dir)
        return;
    if (getenv ("MESHQ_TEST_LOGS")) {
        chaos_shell ("tail -n 40 %s/n*.log >&2", chaos_state.dir);
        fprintf (stderr, "chaos: logs kept in %s\n", chaos_state.dir);
    } else
        chaos_shell ("rm -rf '%s'", chaos_state.dir);
}
