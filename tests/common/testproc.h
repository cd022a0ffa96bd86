/*  testproc.h - agent processes and the meshq tool, for system tests.

    A test starts meshq-agent with its log on a pipe, waits for lines in
    that log with a deadline (poll, never sleep), signals it, and waits
    for its exit through a pidfd. testproc_tool runs the meshq tool and
    returns its exit code and output. A testproc_place_t is where a
    test's agents live. Header-only, like testutil.h.
*/
#ifndef MESHQ_TESTPROC_H_INCLUDED
#define MESHQ_TESTPROC_H_INCLUDED

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define TESTPROC_LOG_MAX (1 << 20)

typedef struct {
    pid_t pid;    //  The process, or 0.
    int log;      //  Read end of its stdout and stderr, or -1.
    int pidfd;    //  Readable when it exits, or -1.
    char *text;   //  Everything it wrote, NUL-terminated.
    size_t size;  //  Bytes in text.
    size_t seen;  //  Bytes already matched by testproc_expect.
    int status;   //  Its wait status, once reaped.
    bool reaped;  //  waitpid done.
} testproc_t;

static inline int64_t
testproc_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Starts argv[0] (searched in PATH) with argv; NULL ends argv. With a
//  gate (a pipe, or NULL), the child waits until the gate's write end is
//  closed before it runs argv: several processes then start at once.
//  Returns 0 or -1.
static inline int
testproc_start_gated (testproc_t *self, char *const argv[], const int *gate)
{
    memset (self, 0, sizeof *self);
    self->log = self->pidfd = -1;
    self->text = calloc (1, TESTPROC_LOG_MAX + 1);
    int pipefd[2];
    if (!self->text || pipe2 (pipefd, O_CLOEXEC))
        return -1;
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2 (pipefd[1], 1);
        dup2 (pipefd[1], 2);
        if (gate) {
            char byte;
            close (gate[1]);
            while (read (gate[0], &byte, 1) > 0)
                ;
        }
        execvp (argv[0], argv);
        _exit (127);
    }
    close (pipefd[1]);
    self->pid = pid;
    self->log = pipefd[0];
    self->pidfd = (int)syscall (SYS_pidfd_open, pid, 0);
    return self->pidfd < 0 ? -1 : 0;
}

static inline int
testproc_start (testproc_t *self, char *const argv[])
{
    return testproc_start_gated (self, argv, NULL);
}

//  Reads what the process wrote, waiting up to timeout_ms for some.
//  Returns false at end of file or on timeout.
static inline bool
testproc_read (testproc_t *self, int timeout_ms)
{
    if (self->log < 0)
        return false;
    struct pollfd item = {.fd = self->log, .events = POLLIN};
    if (poll (&item, 1, timeout_ms) != 1)
        return false;
    char chunk[4096];
    ssize_t got = read (self->log, chunk, sizeof chunk);
    if (got <= 0) {
        close (self->log);
        self->log = -1;
        return false;
    }
    size_t room = TESTPROC_LOG_MAX - self->size;
    size_t keep = (size_t)got < room ? (size_t)got : room;
    memcpy (self->text + self->size, chunk, keep);
    self->size += keep;
    self->text[self->size] = 0;
    return true;
}

//  Waits up to timeout_ms for a line, written since the last match,
//  that holds every one of the NULL-terminated strings. Returns the
//  line (in self->text) or NULL.
static inline const char *
testproc_expect (testproc_t *self, int timeout_ms, ...)
{
    int64_t deadline = testproc_now () + timeout_ms;
    while (true) {
        //  Complete lines not matched yet.
        char *line = self->text + self->seen;
        char *end;
        while ((end = strchr (line, '\n'))) {
            *end = 0;
            bool all = true;
            va_list args;
            va_start (args, timeout_ms);
            const char *needle;
            while (all && (needle = va_arg (args, const char *)))
                all = strstr (line, needle) != NULL;
            va_end (args);
            *end = '\n';
            if (all) {
                self->seen = (size_t)(end + 1 - self->text);
                return line;
            }
            line = end + 1;
        }
        int64_t left = deadline - testproc_now ();
        if (left <= 0 || !testproc_read (self, (int)left))
            return NULL;
    }
}

//  Waits up to timeout_ms for the process to exit; returns its wait
//  status, or -1 if it is still running.
static inline int
testproc_wait (testproc_t *self, int timeout_ms)
{
    if (!self->reaped) {
        struct pollfd item = {.fd = self->pidfd, .events = POLLIN};
        if (poll (&item, 1, timeout_ms) != 1)
            return -1;
        waitpid (self->pid, &self->status, 0);
        self->reaped = true;
        while (testproc_read (self, 0))
            ;
    }
    return self->status;
}

//  Kills the process if it runs, reaps it, frees everything.
static inline void
testproc_fini (testproc_t *self)
{
    if (self->pid && !self->reaped) {
        kill (self->pid, SIGKILL);
        testproc_wait (self, 10000);
    }
    if (self->log >= 0)
        close (self->log);
    if (self->pidfd >= 0)
        close (self->pidfd);
    free (self->text);
    memset (self, 0, sizeof *self);
    self->log = self->pidfd = -1;
}

//  Runs a shell command; puts its output in out; returns its exit code.
static inline int
testproc_shell (char *out, size_t size, const char *format, ...)
{
    char command[4096];
    va_list args;
    va_start (args, format);
    vsnprintf (command, sizeof command, format, args);
    va_end (args);
    FILE *pipe = popen (command, "r");
    if (!pipe)
        return -1;
    size_t used = fread (out, 1, size - 1, pipe);
    out[used] = 0;
    int status = pclose (pipe);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  In a JSON array of peers, finds the object with "name":"NAME" and
//  copies the value of its key (a string's text, or a number) into
//  value. Returns false if either is absent.
static inline bool
testproc_peer_field (const char *json, const char *name, const char *key,
                     char *value, size_t size)
{
    char needle[128];
    snprintf (needle, sizeof needle, "\"name\":\"%s\"", name);
    const char *at = strstr (json, needle);
    if (!at)
        return false;
    const char *open = at;
    while (open > json && *open != '{')
        open--;
    const char *close = strchr (at, '}');
    snprintf (needle, sizeof needle, "\"%s\":", key);
    const char *found = strstr (open, needle);
    if (!close || !found || found > close)
        return false;
    found += strlen (needle);
    if (*found == '"')
        found++;
    size_t length = strcspn (found, "\",}");
    snprintf (value, size, "%.*s", (int)length, found);
    return true;
}

//  The same for the peer's "state".
static inline bool
testproc_peer_state (const char *json, const char *name, char *state,
                     size_t size)
{
    return testproc_peer_field (json, name, "state", state, size);
}

//  Where a system test's agents live: a temporary directory, and a mesh
//  name and beacon port of their own, so that suites running side by
//  side never meet.
typedef struct {
    char dir[64];   //  Stores, sockets, files.
    char mesh[48];  //  PREFIX-<random>.
    char port[8];   //  UDP port of beacons.
} testproc_place_t;

//  Makes the place, its mesh named after prefix. Returns 0, or -1 if the
//  directory could not be made.
static inline int
testproc_place_init (testproc_place_t *self, const char *prefix)
{
    snprintf (self->dir, sizeof self->dir, "/tmp/meshq-system-XXXXXX");
    if (!mkdtemp (self->dir))
        return -1;
    uint64_t seed = (uint64_t)getpid () ^ (uint64_t)testproc_now () << 16;
    snprintf (self->mesh, sizeof self->mesh, "%.20s-%016llx", prefix,
              (unsigned long long)testutil_random (&seed));
    snprintf (self->port, sizeof self->port, "%u", testutil_udp_port ());
    return 0;
}

//  Stops the count agents started there (MESHQ_TEST_LOGS=1 shows what
//  each said) and removes the place.
static inline void
testproc_place_fini (testproc_place_t *self, testproc_t *agents, int count)
{
    for (int i = 0; i < count; i++)
        if (agents[i].pid) {
            if (getenv ("MESHQ_TEST_LOGS"))
                fprintf (stderr, "--- agent %d log:\n%s\n", i, agents[i].text);
            testproc_fini (&agents[i]);
        }
    char out[256];
    testproc_shell (out, sizeof out, "rm -rf '%s'", self->dir);
}

#endif
