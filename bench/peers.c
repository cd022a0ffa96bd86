/*  peers.c - the processes a bench starts and stops. See peers.h. */
#include "peers.h"
#include "meshq.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_AGENT "/agents/meshq-agent"
#define S_TOOL  "/tools/meshq"

//  Whether the agent at endpoint answers a client now.
static bool
s_answers (const char *endpoint)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, 200);
    int rc = meshq_client_connect (client, endpoint);
    meshq_client_destroy (&client);
    return rc == 0;
}

int
meshq_bench_agent_start (meshq_bench_agent_t *self, const char *parent)
{
    snprintf (self->dir, sizeof self->dir, "%s/meshq-%s-XXXXXX", parent,
              self->name);
    if (!mkdtemp (self->dir)) {
        fprintf (stderr, "%s: mkdtemp in %s: %m\n", self->name, parent);
        *self->dir = 0;
        return -1;
    }
    char binary[512], data[300], log[300], amqp[32];
    snprintf (binary, sizeof binary, "%s" S_AGENT, self->build);
    snprintf (self->endpoint, sizeof self->endpoint, "ipc://%s/agent.ipc",
              self->dir);
    snprintf (data, sizeof data, "%s/store", self->dir);
    snprintf (log, sizeof log, "%s/agent.log", self->dir);
    for (int attempt = 0; attempt < 2; attempt++) {
        snprintf (amqp, sizeof amqp, "127.0.0.1:%d", self->amqp_port);
        char *argv[] = {binary,
                        "--name",
                        (char *)self->name,
                        "--data",
                        data,
                        "--control",
                        self->endpoint,
                        "--standalone",
                        self->amqp_port ? "--amqp" : NULL,
                        amqp,
                        NULL};
        self->pid = meshq_bench_spawn (argv, log, false, NULL, NULL);
        if (self->pid < 0) {
            self->pid = 0;
            fprintf (stderr, "%s: fork: %m\n", self->name);
            return -1;
        }
        bool refused_amqp = false;
        for (int waited = 0; waited < 200; waited++) {
            int status;
            if (waitpid (self->pid, &status, WNOHANG) == self->pid) {
                self->pid = 0;
                //  Exit 64: a usage error, here an agent without --amqp.
                refused_amqp = self->amqp_port && WIFEXITED (status) &&
                               WEXITSTATUS (status) == 64;
                if (!refused_amqp) {
                    fprintf (stderr, "%s: %s exited; see %s\n", self->name,
                             binary, log);
                    return -1;
                }
                break;
            }
            if (s_answers (self->endpoint))
                return 0;
            usleep (50000);
        }
        if (!refused_amqp) {
            fprintf (stderr, "%s: %s not up in 10 s; see %s\n", self->name,
                     binary, log);
            return -1;
        }
        fprintf (stderr,
                 "%s: this meshq-agent has no --amqp option (no AMQP front "
                 "door): meshq AMQP is skipped\n",
                 self->name);
        self->amqp_port = 0;
    }
    return -1;
}

void
meshq_bench_agent_stop (meshq_bench_agent_t *self)
{
    if (self->pid > 0) {
        kill (self->pid, SIGTERM);
        waitpid (self->pid, NULL, 0);
        self->pid = 0;
    }
    meshq_bench_remove_dir (self->dir);
}

int
meshq_bench_agent_bench (const meshq_bench_agent_t *self, const char *args,
                         char *output, size_t size)
{
    char command[1536];
    snprintf (command, sizeof command,
              "'%s" S_TOOL "' --agent '%s' bench --json %s", self->build,
              self->endpoint, args);
    FILE *pipe = popen (command, "r");
    size_t got = pipe ? fread (output, 1, size - 1, pipe) : 0;
    output[got] = 0;
    int status = pipe ? pclose (pipe) : -1;
    if (status != 0 || !strstr (output, "\"consume_rate\":")) {
        fprintf (stderr, "%s: meshq bench failed (status %d): %s\n", self->name,
                 status, output);
        return -1;
    }
    return 0;
}

double
meshq_bench_json_number (const char *text, const char *key)
{
    char pattern[64];
    snprintf (pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr (text, pattern);
    return at ? strtod (at + strlen (pattern), NULL) : 0;
}

static void (*s_cleanup) (void);

static void
s_on_signal (int sig)
{
    signal (sig, SIG_DFL);
    if (s_cleanup)
        s_cleanup ();
    _exit (128 + sig);
}

void
meshq_bench_cleanup_on_exit (void (*cleanup) (void))
{
    s_cleanup = cleanup;
    atexit (cleanup);
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
}

int
meshq_bench_free_port (void)
{
    for (int tries = 0; tries < 1000; tries++) {
        int port = 20000 + (int)((unsigned)rand () % 12000);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port = htons ((uint16_t)port)};
        address.sin_addr.s_addr = htonl (INADDR_ANY);
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        //  Bound on every address without SO_REUSEADDR, so that a port
        //  anyone holds, even with it, is refused; then kept open with
        //  it, so that the server's listener (meshq's, nats-server's and
        //  RabbitMQ's all set SO_REUSEADDR) binds it while nothing else
        //  can: not a bind to port 0, not a connection's source port,
        //  not this function again. Closed, it was free for anyone until
        //  the server bound it, and on a busy machine sometimes taken.
        //  The socket stays open until the bench exits (not inherited:
        //  close-on-exec).
        int on = 1;
        if (bind (fd, (struct sockaddr *)&address, sizeof address) == 0 &&
            setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0)
            return port;
        close (fd);
    }
    return -1;
}

bool
meshq_bench_listening (const char *host, int port)
{
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons ((uint16_t)port)};
    if (inet_pton (AF_INET, host, &address.sin_addr) != 1)
        return false;
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool up = connect (fd, (struct sockaddr *)&address, sizeof address) == 0;
    close (fd);
    return up;
}

pid_t
meshq_bench_spawn (char *const argv[], const char *log, bool own_group,
                   void (*prepare) (const void *arg), const void *arg)
{
    pid_t pid = fork ();
    if (pid != 0)
        return pid;
    int fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dup2 (fd, 1);
        dup2 (fd, 2);
    }
    int null = open ("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2 (null, 0);
    if (own_group)
        setpgid (0, 0);
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    if (prepare)
        prepare (arg);
    execv (argv[0], argv);
    _exit (127);
}

void
meshq_bench_remove_dir (char *dir)
{
    if (!*dir)
        return;
    char command[400];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    if (system (command) != 0)
        fprintf (stderr, "bench: could not remove %s\n", dir);
    *dir = 0;
}

long
meshq_bench_proc_kb (pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    size_t length = strlen (field);
    long kb = 0;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, field, length) == 0 && line[length] == ':')
            kb = atol (line + length + 1);
    if (file)
        fclose (file);
    return kb;
}

void
meshq_bench_reset_peak (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/clear_refs", (int)pid);
    FILE *file = fopen (path, "w");
    if (file) {
        fputs ("5", file);
        fclose (file);
    }
}

//  Fields 4 (ppid), 14 and 15 (utime, stime) of /proc/PID/stat; false if
//  the process is gone.
static bool
s_stat (pid_t pid, pid_t *parent, unsigned long long *ticks)
{
    char path[64], line[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    size_t got = fread (line, 1, sizeof line - 1, file);
    fclose (file);
    line[got] = 0;
    //  After "pid (comm) ": the command may hold spaces and parentheses.
    char *field = strrchr (line, ')');
    int ppid = 0;
    unsigned long long utime = 0, stime = 0;
    if (!field ||
        sscanf (field + 2,
                "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ppid,
                &utime, &stime) != 3)
        return false;
    *parent = (pid_t)ppid;
    *ticks = utime + stime;
    return true;
}

double
meshq_bench_proc_cpu_s (pid_t pid)
{
    pid_t parent;
    unsigned long long ticks;
    if (!s_stat (pid, &parent, &ticks))
        return 0;
    return (double)ticks / (double)sysconf (_SC_CLK_TCK);
}

//  Whether pid descends from ancestor (or is it).
static bool
s_descends (pid_t pid, pid_t ancestor)
{
    for (int depth = 0; pid > 1 && depth < 16; depth++) {
        if (pid == ancestor)
            return true;
        unsigned long long ticks;
        if (!s_stat (pid, &pid, &ticks))
            return false;
    }
    return false;
}

pid_t
meshq_bench_largest_descendant (pid_t pid)
{
    DIR *proc = opendir ("/proc");
    pid_t best = 0;
    long best_kb = -1;
    struct dirent *entry;
    while (proc && (entry = readdir (proc))) {
        pid_t candidate = (pid_t)atoi (entry->d_name);
        if (candidate <= 0 || !s_descends (candidate, pid))
            continue;
        long kb = meshq_bench_proc_kb (candidate, "VmRSS");
        if (kb > best_kb) {
            best_kb = kb;
            best = candidate;
        }
    }
    if (proc)
        closedir (proc);
    return best;
}
