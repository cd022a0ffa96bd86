/*  procutil.h - agent and tool processes for the system suites.

    Starts meshq-agent (or any program of the build) as a child process
    with its output in a log file, kills it, and waits for an agent to
    answer on its endpoint, so that tests never sleep to synchronise.
    A procutil_prog_t is a program whose output comes back on a pipe:
    the test waits for what it prints, and for its exit, with deadlines.
*/
#ifndef MESHQ_PROCUTIL_H_INCLUDED
#define MESHQ_PROCUTIL_H_INCLUDED

#include "clientutil.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <pthread.h>
#include <unistd.h>

//  Starts argv[0] (a path, or a name on $PATH) with argv, stdout and stderr on the file
//  descriptor out (or where they are, if out is -1). The child dies with
//  the test, even when the test is killed. Returns the pid.
static inline pid_t
procutil_spawn_fd (char *const argv[], int out)
{
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (out >= 0) {
            dup2 (out, 1);
            dup2 (out, 2);
            close (out);
        }
        execvp (argv[0], argv);
        _exit (127);
    }
    return pid;
}

//  Starts argv[0] (a path) with argv; stdout and stderr go to log (or
//  /dev/null). Returns the pid.
static inline pid_t
procutil_spawn (char *const argv[], const char *log)
{
    int fd = open (log ? log : "/dev/null",
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_t pid = procutil_spawn_fd (argv, fd);
    if (fd >= 0)
        close (fd);
    return pid;
}

//  Sends sig and reaps the child; returns its wait status.
static inline int
procutil_kill (pid_t pid, int sig)
{
    kill (pid, sig);
    int status = 0;
    waitpid (pid, &status, 0);
    return status;
}

//  Stops the process with SIGSTOP and waits until every one of its
//  threads has stopped: kill returns once the signal is queued, and on
//  a busy machine the process's threads may run on for a while (the
//  stop is begun by whichever thread is scheduled first). True if all
//  stopped within 5 s.
static inline bool
procutil_stop (pid_t pid)
{
    if (kill (pid, SIGSTOP))
        return false;
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/task", (int)pid);
    for (int64_t deadline = zclock_mono () + 5000; zclock_mono () < deadline;
         zclock_sleep (1)) {
        DIR *tasks = opendir (path);
        if (!tasks)
            return false;
        bool all = true;
        struct dirent *task;
        while (all && (task = readdir (tasks))) {
            if (*task->d_name == '.')
                continue;
            char stat[400], line[512] = "";
            snprintf (stat, sizeof stat, "%s/%s/stat", path, task->d_name);
            FILE *file = fopen (stat, "r");
            if (file) {
                if (!fgets (line, sizeof line, file))
                    *line = 0;
                fclose (file);
            }
            //  "tid (comm) S ...": the state follows the last ')'.
            const char *end = strrchr (line, ')');
            all = !end || end[1] != ' ' || end[2] == 'T' || end[2] == 't';
        }
        closedir (tasks);
        if (all)
            return true;
    }
    return false;
}

//  Waits up to ms for the child to exit and reaps it; true if it did
//  (its wait status in *status, if status is not NULL).
static inline bool
procutil_wait_exit (pid_t pid, int ms, int *status)
{
    for (int64_t deadline = zclock_mono () + ms;; zclock_sleep (10)) {
        int code = 0;
        if (waitpid (pid, &code, WNOHANG) == pid) {
            if (status)
                *status = code;
            return true;
        }
        if (zclock_mono () >= deadline)
            return false;
    }
}

//  A TCP port that nobody holds, below the kernel's ephemeral range
//  (32768 and up), so that an agent restarted on it does not find it
//  taken by some other process's outgoing connection meanwhile. As
//  testutil_free_port's, the port stays held by this process until it
//  exits, so that neither another suite picking at random nor this one
//  picking again gets it, while the agent can bind it.
static inline int
procutil_free_port (void)
{
    static unsigned state;
    if (!state)
        state = (unsigned)getpid () * 2654435761u ^ (unsigned)zclock_usecs ();
    for (int tries = 0; tries < 1000; tries++) {
        state = state * 1103515245u + 12345u;
        int port = 20000 + (int)((state >> 8) % 12000);
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port = htons ((uint16_t)port)};
        address.sin_addr.s_addr = htonl (INADDR_ANY);
        int on = 1;
        if (fd >= 0 &&
            bind (fd, (struct sockaddr *)&address, sizeof address) == 0 &&
            setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0)
            return port;
        if (fd >= 0)
            close (fd);
    }
    cr_assert_fail ("no free TCP port in 20000..31999");
    return -1;
}

//  The last whole lines of the file at path that fit in out (size bytes,
//  NUL-terminated), or a note saying why there are none: what a failure
//  message quotes of a process's log, since the directory holding the
//  log is gone once the suite ends.
static inline void
procutil_log_tail (const char *path, char *out, size_t size)
{
    snprintf (out, size, "(%s is empty)", path ? path : "the log");
    FILE *file = path ? fopen (path, "r") : NULL;
    if (!file) {
        snprintf (out, size, "(cannot read %s: %s)", path ? path : "no log",
                  path ? strerror (errno) : "output went to /dev/null");
        return;
    }
    long length = fseek (file, 0, SEEK_END) == 0 ? ftell (file) : -1;
    long from = length > (long)size - 1 ? length - (long)size + 1 : 0;
    size_t got = 0;
    if (length > 0 && fseek (file, from, SEEK_SET) == 0)
        got = fread (out, 1, size - 1, file);
    fclose (file);
    if (got == 0)
        return;
    out[got] = 0;
    //  From the first whole line, if the start was cut.
    char *start = from > 0 ? strchr (out, '\n') : NULL;
    if (start)
        memmove (out, start + 1, strlen (start + 1) + 1);
}

//  Starts an agent with argv (its log in log) and waits until it answers
//  a client on endpoint (the first, if a list). Returns the pid, or -1
//  with why it did not start in why (size bytes): how it exited, and the
//  end of its log.
static inline pid_t
procutil_agent_try (char *const argv[], const char *log, const char *endpoint,
                    char *why, size_t size)
{
    pid_t pid = procutil_spawn (argv, log);
    char first[1024];
    snprintf (first, sizeof first, "%s", endpoint);
    char *comma = strchr (first, ',');
    if (comma)
        *comma = 0;
    char how[64] = "did not answer within 10 s";
    pid_t exited = 0;
    int64_t deadline = zclock_mono () + 10000;
    while (zclock_mono () < deadline) {
        meshq_client_t *client = meshq_client_new ();
        meshq_client_set_timeout (client, 200);
        int rc = meshq_client_connect (client, first);
        meshq_client_destroy (&client);
        if (rc == 0)
            return pid;
        int status = 0;
        exited = waitpid (pid, &status, WNOHANG);
        if (exited < 0)
            snprintf (how, sizeof how, "cannot be waited for (%s)",
                      strerror (errno));
        else if (exited && WIFSIGNALED (status))
            snprintf (how, sizeof how, "was killed by signal %d at start",
                      WTERMSIG (status));
        else if (exited)
            snprintf (how, sizeof how, "exited with code %d at start",
                      WEXITSTATUS (status));
        if (exited)
            break;
    }
    if (!exited)
        procutil_kill (pid, SIGKILL);
    int used = snprintf (why, size, "meshq-agent %s; the end of %s:\n", how,
                         log ? log : "its log");
    if (used >= 0 && (size_t)used < size)
        procutil_log_tail (log, why + used, size - (size_t)used);
    return -1;
}

//  Starts an agent with argv (its log in log) and waits until it answers
//  a client on endpoint (the first, if a list). Returns the pid; if the
//  agent exits or does not answer, the test fails quoting its log.
static inline pid_t
procutil_agent_argv (char *const argv[], const char *log, const char *endpoint)
{
    char why[4096];
    pid_t pid = procutil_agent_try (argv, log, endpoint, why, sizeof why);
    cr_assert_gt (pid, 0, "%s", why);
    return pid;
}

//  Starts meshq-agent NAME on DIR with client endpoint ENDPOINT, and
//  extra (NULL-terminated, or NULL) as more options, and waits until it
//  answers a client. Returns the pid.
static inline pid_t
procutil_agent_with (const char *name, const char *dir, const char *endpoint,
                     const char *const *extra)
{
    char agent[1024], data[1024], log[1100];
    snprintf (agent, sizeof agent, "%s/agents/meshq-agent", MESHQ_BINARY_DIR);
    snprintf (data, sizeof data, "%s/store", dir);
    snprintf (log, sizeof log, "%s/agent.log", dir);
    char *argv[24] = {agent, "--name",    (char *)name,     "--data",
                      data,  "--control", (char *)endpoint, "--standalone"};
    int argc = 8;
    for (int i = 0; extra && extra[i]; i++) {
        cr_assert_lt (argc, 23);
        argv[argc++] = (char *)extra[i];
    }
    argv[argc] = NULL;
    return procutil_agent_argv (argv, log, endpoint);
}

//  Starts meshq-agent NAME on DIR with client endpoint ENDPOINT and waits
//  until it answers a client. Returns the pid.
static inline pid_t
procutil_agent (const char *name, const char *dir, const char *endpoint)
{
    return procutil_agent_with (name, dir, endpoint, NULL);
}

//  Makes the suite's temporary directory, /tmp/meshq-SUITE-XXXXXX, in
//  dir, and in endpoint the ipc:// endpoint of an agent there.
static inline void
procutil_dir (const char *suite, char *dir, size_t dir_size, char *endpoint,
              size_t endpoint_size)
{
    snprintf (dir, dir_size, "/tmp/meshq-%s-XXXXXX", suite);
    cr_assert_not_null (mkdtemp (dir));
    snprintf (endpoint, endpoint_size, "ipc://%s/agent.ipc", dir);
}

//  Removes dir and all in it.
static inline void
procutil_rmdir (const char *dir)
{
    char command[512];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    cr_expect_eq (system (command), 0);
}

//  A client connected to endpoint, with a timeout of timeout_ms.
static inline meshq_client_t *
procutil_client (const char *endpoint, int timeout_ms)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_timeout (client, timeout_ms);
    int rc = meshq_client_connect (client, endpoint);
    cr_assert_eq (rc, 0, "%s", meshq_client_error (client));
    return client;
}

//  Makes the suite's temporary directory, /tmp/meshq-SUITE-XXXXXX, in
//  dir, and in mesh a mesh name of this run's own, so that suites run
//  side by side never meet.
static inline void
procutil_mesh_dir (const char *suite, char *dir, size_t dir_size, char *mesh,
                   size_t mesh_size)
{
    snprintf (dir, dir_size, "/tmp/meshq-%s-XXXXXX", suite);
    cr_assert_not_null (mkdtemp (dir));
    snprintf (mesh, mesh_size, "%s-%d-%d", suite, (int)getpid (),
              (int)(zclock_usecs () % 1000000));
}

//  An agent process of a mesh on this machine.
typedef struct {
    char name[16];      //  n1, n2, ...
    char control[300];  //  Its ipc:// endpoint for clients.
    char log[300];      //  Its log file.
    int port;           //  Its mesh port (the default vhost's).
    pid_t pid;          //  Its process, or 0.
} procutil_node_t;

//  Names node index (from 0) n<index+1>, with its endpoint and log in
//  dir and its mesh port port.
static inline void
procutil_node_init (procutil_node_t *self, const char *dir, int index, int port)
{
    memset (self, 0, sizeof *self);
    snprintf (self->name, sizeof self->name, "n%d", index + 1);
    snprintf (self->control, sizeof self->control, "ipc://%s/n%d.ipc", dir,
              index + 1);
    snprintf (self->log, sizeof self->log, "%s/n%d.log", dir, index + 1);
    self->port = port;
}

//  Starts the node's agent in mesh with its store in dir, seeded with
//  seeds (a comma-separated list), a heartbeat of 100 ms and a peer
//  timeout of 1 s, and waits until it answers. prefix (NULL-terminated,
//  or NULL) runs the agent, as in `ip netns exec NS`; extra (NULL-
//  terminated) are more options for the agent.
static inline void
procutil_node_start (procutil_node_t *self, const char *dir, const char *mesh,
                     const char *seeds, const char *const *prefix,
                     const char *const *extra)
{
    char agent[1024], data[300], port[16];
    snprintf (agent, sizeof agent, "%s/agents/meshq-agent", MESHQ_BINARY_DIR);
    int length = snprintf (data, sizeof data, "%s/%s", dir, self->name);
    cr_assert_lt (length, (int)sizeof data, "directory name too long: %s", dir);
    snprintf (port, sizeof port, "%d", self->port);
    const char *options[] = {
        agent,  "--name",      self->name,    "--data",
        data,   "--control",   self->control, "--mesh",
        mesh,   "--port",      port,          "--seeds",
        seeds,  "--heartbeat", "100",         "--peer-timeout",
        "1000", NULL};
    char *argv[40];
    int argc = 0;
    for (int i = 0; prefix && prefix[i]; i++)
        argv[argc++] = (char *)prefix[i];
    for (int i = 0; options[i]; i++)
        argv[argc++] = (char *)options[i];
    for (int i = 0; extra && extra[i]; i++) {
        cr_assert_lt (argc, 39);
        argv[argc++] = (char *)extra[i];
    }
    argv[argc] = NULL;
    self->pid = procutil_agent_argv (argv, self->log, self->control);
}

//  Ready and unacked counts of a queue, from LIST_QUEUES (both 0 when
//  there is no such queue).
static inline void
procutil_depth (meshq_client_t *client, const char *queue, uint64_t *ready,
                uint64_t *unacked)
{
    meshq_args_t row;
    clientutil_queue (client, queue, &row);
    *ready = row.messages;
    *unacked = row.unacked;
}

// --------------------------------------------------------------------
//  Programs whose output a test reads

#define PROCUTIL_MAX_OUTPUT 65536

//  A program run by a test and what it printed so far.
typedef struct {
    char name[128];                    //  Its command line, for messages.
    pid_t pid;                         //  Its process.
    int fd;                            //  Read end of its stdout and stderr.
    int ms;                            //  How long any one thing may take.
    char output[PROCUTIL_MAX_OUTPUT];  //  What it printed, NUL-terminated.
    size_t size;                       //  Bytes in output.
    bool eof;                          //  It closed its output (it exited).
    bool reaped;                       //  waitpid took it; status is valid.
    int status;                        //  Its wait status.
} procutil_prog_t;

//  Starts argv[0] (a path) with the rest of the NULL-terminated argv;
//  input, if any, is its standard input (else an empty one, so that
//  nothing waits for a terminal). Each wait on it may take ms. The
//  program belongs to the caller: free it with procutil_prog_destroy.
static inline procutil_prog_t *
procutil_prog_new (const char *const *argv, const char *input, int ms)
{
    procutil_prog_t *self = calloc (1, sizeof *self);
    cr_assert_not_null (self);
    self->ms = ms;
    for (int i = 0; argv[i]; i++) {
        const char *slash = strrchr (argv[0], '/');
        const char *word = i ? argv[i] : slash ? slash + 1 : argv[0];
        size_t used = strlen (self->name);
        snprintf (self->name + used, sizeof self->name - used, "%s%s",
                  i ? " " : "", word);
    }
    int out[2], in[2];
    cr_assert_eq (pipe2 (out, O_CLOEXEC), 0);
    cr_assert_eq (pipe2 (in, O_CLOEXEC), 0);
    self->pid = fork ();
    cr_assert_geq (self->pid, 0);
    if (self->pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        dup2 (in[0], 0);
        dup2 (out[1], 1);
        dup2 (out[1], 2);
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    close (out[1]);
    close (in[0]);
    //  A password line fits the pipe's buffer: this never blocks.
    if (input)
        cr_assert_eq (write (in[1], input, strlen (input)),
                      (ssize_t)strlen (input));
    close (in[1]);
    self->fd = out[0];
    return self;
}

//  Kills the program if it was not reaped, and frees it. NULL-safe;
//  nulls *self_p.
static inline void
procutil_prog_destroy (procutil_prog_t **self_p)
{
    procutil_prog_t *self = *self_p;
    if (!self)
        return;
    if (!self->reaped)
        procutil_kill (self->pid, SIGKILL);
    close (self->fd);
    free (self);
    *self_p = NULL;
}

//  Reads what the program printed, until deadline or until it closes
//  its output. Returns false on timeout.
static inline bool
procutil_prog_read (procutil_prog_t *self, int64_t deadline)
{
    while (!self->eof) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return false;
        struct pollfd item = {.fd = self->fd, .events = POLLIN};
        int rc = poll (&item, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        cr_assert_geq (rc, 0);
        if (rc == 0)
            return false;
        ssize_t got = read (self->fd, self->output + self->size,
                            PROCUTIL_MAX_OUTPUT - 1 - self->size);
        if (got <= 0)
            self->eof = true;
        else {
            self->size += (size_t)got;
            self->output[self->size] = 0;
            return true;
        }
    }
    return true;
}

//  Waits until the program has printed text.
static inline void
procutil_prog_expect (procutil_prog_t *self, const char *text)
{
    int64_t deadline = zclock_mono () + self->ms;
    while (!strstr (self->output, text))
        cr_assert (procutil_prog_read (self, deadline) &&
                       !(self->eof && !strstr (self->output, text)),
                   "%s did not print \"%s\"; it printed:\n%s", self->name, text,
                   self->output);
}

//  How many times the program printed text.
static inline int
procutil_prog_count (const procutil_prog_t *self, const char *text)
{
    int count = 0;
    for (const char *at = self->output; (at = strstr (at, text)); at++)
        count++;
    return count;
}

//  Waits until the program exits; returns its exit code (-1 if a
//  signal ended it).
static inline int
procutil_prog_exit_code (procutil_prog_t *self)
{
    int64_t deadline = zclock_mono () + self->ms;
    while (!self->eof)
        cr_assert (procutil_prog_read (self, deadline),
                   "%s did not exit; it printed:\n%s", self->name,
                   self->output);
    cr_assert_eq (waitpid (self->pid, &self->status, 0), self->pid);
    self->reaped = true;
    return WIFEXITED (self->status) ? WEXITSTATUS (self->status) : -1;
}

//  Waits until the program exits and checks it exited with code.
//  Returns the program, for more checks of its output.
static inline procutil_prog_t *
procutil_prog_expect_exit (procutil_prog_t *self, int code)
{
    int got = procutil_prog_exit_code (self);
    cr_assert_eq (got, code, "%s exited %d, not %d; it printed:\n%s",
                  self->name, got, code, self->output);
    return self;
}

#endif
