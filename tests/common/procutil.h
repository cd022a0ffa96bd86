/*  procutil.h - agent and tool processes for the system suites.

    Starts meshq-agent (or any program of the build) as a child process
    with its output in a log file, kills it, and waits for an agent to
    answer on its endpoint, so that tests never sleep to synchronise.
*/
#ifndef MESHQ_PROCUTIL_H_INCLUDED
#define MESHQ_PROCUTIL_H_INCLUDED

#include "client_internal.h"
#include "codec_args.h"
#include "meshq.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <fcntl.h>
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

//  A TCP port on 127.0.0.1 that nobody listens on now, below the
//  kernel's ephemeral range (32768 and up), so that an agent restarted on
//  it does not find it taken by some other process's outgoing
//  connection meanwhile.
static inline int
procutil_free_port (void)
{
    static unsigned state;
    if (!state)
        state = (unsigned)getpid () * 2654435761u ^ (unsigned)zclock_usecs ();
    for (int tries = 0; tries < 1000; tries++) {
        state = state * 1103515245u + 12345u;
        int port = 20000 + (int)((state >> 8) % 12000);
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port = htons ((uint16_t)port)};
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        int rc = bind (fd, (struct sockaddr *)&address, sizeof address);
        close (fd);
        if (rc == 0)
            return port;
    }
    cr_assert_fail ("no free TCP port in 20000..31999");
    return -1;
}

//  Starts an agent with argv (its log in log) and waits until it answers
//  a client on endpoint (the first, if a list). Returns the pid.
static inline pid_t
procutil_agent_argv (char *const argv[], const char *log, const char *endpoint)
{
    pid_t pid = procutil_spawn (argv, log);
    char first[1024];
    snprintf (first, sizeof first, "%s", endpoint);
    char *comma = strchr (first, ',');
    if (comma)
        *comma = 0;
    int64_t deadline = zclock_mono () + 10000;
    while (zclock_mono () < deadline) {
        meshq_client_t *client = meshq_client_new ();
        meshq_client_set_timeout (client, 200);
        int rc = meshq_client_connect (client, first);
        meshq_client_destroy (&client);
        if (rc == 0)
            return pid;
        cr_assert_eq (waitpid (pid, NULL, WNOHANG), 0,
                      "meshq-agent exited at start; see %s", log);
    }
    cr_assert_fail ("meshq-agent did not answer within 10 s; see %s", log);
    return -1;
}

//  Starts meshq-agent NAME on DIR with client endpoint ENDPOINT and waits
//  until it answers a client. Returns the pid.
static inline pid_t
procutil_agent (const char *name, const char *dir, const char *endpoint)
{
    char agent[1024], data[1024], log[1100];
    snprintf (agent, sizeof agent, "%s/agents/meshq-agent", MESHQ_BINARY_DIR);
    snprintf (data, sizeof data, "%s/store", dir);
    snprintf (log, sizeof log, "%s/agent.log", dir);
    char *argv[] = {agent, "--name",    (char *)name,     "--data",
                    data,  "--control", (char *)endpoint, "--standalone",
                    NULL};
    return procutil_agent_argv (argv, log, endpoint);
}

//  Ready and unacked counts of a queue, from LIST_QUEUES (both 0 when
//  there is no such queue).
static inline void
procutil_depth (meshq_client_t *client, const char *queue, uint64_t *ready,
                uint64_t *unacked)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    zmsg_t *reply = NULL;
    cr_assert_eq (meshq_client_call (client, "LIST_QUEUES", &args, &reply), 0);
    zmsg_first (reply);
    zframe_t *frame = zmsg_next (reply);
    uint64_t rid;
    meshq_span_t cursor;
    uint32_t count;
    cr_assert_eq (meshq_codec_decode_list (zframe_data (frame),
                                           zframe_size (frame), "queues", &rid,
                                           &cursor, &count, NULL),
                  0);
    meshq_args_t row;
    *ready = *unacked = 0;
    while (meshq_codec_list_next (&cursor, &row))
        if (row.queue.size == strlen (queue) &&
            memcmp (row.queue.data, queue, row.queue.size) == 0) {
            *ready = row.messages;
            *unacked = row.unacked;
        }
    zmsg_destroy (&reply);
}

#endif
