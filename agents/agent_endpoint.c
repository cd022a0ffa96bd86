/*  agent_endpoint.c - whether a client endpoint is free to bind.

    libzmq binds an ipc:// path by removing whatever file is there: a
    second agent given the path of a running one took its socket over,
    and the first agent's clients then reached nobody. Before binding an
    ipc:// endpoint the engine asks here whether a live process accepts
    connections on that path; if one does, the agent refuses to start
    and names it (its pid and command line, from SO_PEERCRED and /proc).
    A tcp:// address in use fails to bind anyway; what listens there is
    looked up in /proc for the message.
    A socket file that refuses connections is left by an agent that
    died: that one is taken over, as before.

    Two agents started at the same instant on one path can still both
    find it free; the check is for the usual mistake, a second agent
    started beside a running one.
*/
#include "agent_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

//  Describes the process pid: "pid N: its command line".
static void
s_describe (pid_t pid, char *out, size_t size)
{
    int used = snprintf (out, size, "pid %d", (int)pid);
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || used < 0 || (size_t)used + 3 >= size) {
        if (fd >= 0)
            close (fd);
        return;
    }
    char line[256];
    ssize_t got = read (fd, line, sizeof line - 1);
    close (fd);
    if (got <= 0)
        return;
    //  Arguments are separated by NULs; the last may be cut.
    for (ssize_t i = 0; i < got; i++)
        if (line[i] == 0 || (unsigned char)line[i] < 0x20)
            line[i] = ' ';
    while (got > 0 && line[got - 1] == ' ')
        got--;
    line[got] = 0;
    snprintf (out + used, size - (size_t)used, ": %s", line);
}

//  The inode of a socket that listens on TCP port, from the kernel's
//  tables, or 0.
static unsigned long
s_tcp_listener (unsigned long port)
{
    const char *tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    unsigned long found = 0;
    for (int i = 0; i < 2 && !found; i++) {
        FILE *file = fopen (tables[i], "re");
        if (!file)
            continue;
        //  sl local_address rem_address st ... uid timeout inode
        char line[512], local[64];
        unsigned state;
        unsigned long inode;
        while (!found && fgets (line, sizeof line, file)) {
            if (sscanf (line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local,
                        &state, &inode) != 3)
                continue;
            const char *colon = strrchr (local, ':');
            if (colon && state == 0x0A &&  //  LISTEN
                strtoul (colon + 1, NULL, 16) == port)
                found = inode;
        }
        fclose (file);
    }
    return found;
}

//  The process that holds socket inode, among those this user may look
//  into, or 0.
static pid_t
s_socket_owner (unsigned long inode)
{
    char target[64];
    snprintf (target, sizeof target, "socket:[%lu]", inode);
    DIR *proc = opendir ("/proc");
    if (!proc)
        return 0;
    pid_t owner = 0;
    struct dirent *process;
    while (!owner && (process = readdir (proc))) {
        if (!isdigit ((unsigned char)process->d_name[0]))
            continue;
        char path[300];
        snprintf (path, sizeof path, "/proc/%s/fd", process->d_name);
        DIR *fds = opendir (path);
        if (!fds)
            continue;
        struct dirent *fd;
        while (!owner && (fd = readdir (fds))) {
            char link[600], name[64];
            snprintf (link, sizeof link, "%s/%s", path, fd->d_name);
            ssize_t got = readlink (link, name, sizeof name - 1);
            if (got > 0) {
                name[got] = 0;
                if (streq (name, target))
                    owner = (pid_t)atoi (process->d_name);
            }
        }
        closedir (fds);
    }
    closedir (proc);
    return owner;
}

void
meshq_engine_endpoint_owner (const char *endpoint, char *who, size_t size)
{
    snprintf (who, size, "another process");
    const char *colon = strrchr (endpoint, ':');
    if (strncmp (endpoint, "tcp://", 6) != 0 || !colon ||
        !isdigit ((unsigned char)colon[1]))
        return;
    unsigned long inode = s_tcp_listener (strtoul (colon + 1, NULL, 10));
    pid_t pid = inode ? s_socket_owner (inode) : 0;
    if (pid > 0)
        s_describe (pid, who, size);
}

int
meshq_engine_endpoint_check (const char *endpoint, char *why, size_t size)
{
    if (strncmp (endpoint, "ipc://", 6) != 0)
        return 0;
    const char *path = endpoint + 6;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    //  An abstract name ('@') is never taken over (its bind fails), and a
    //  wildcard or too long a path is libzmq's to refuse.
    if (*path == '@' || streq (path, "*") ||
        strlen (path) >= sizeof address.sun_path)
        return 0;
    memcpy (address.sun_path, path, strlen (path) + 1);
    pid_t pid = 0;
    //  An agent that just stopped in this process may hold the path a
    //  moment longer (libzmq closes its listener from the I/O thread):
    //  give it up to a second, as s_bind does for inproc://.
    for (int tries = 0; tries < 100; tries++) {
        if (tries)
            zclock_sleep (10);
        int fd =
            socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return 0;  //  Out of descriptors: the bind will say so.
        int rc = connect (fd, (struct sockaddr *)&address, sizeof address);
        //  EAGAIN: the listener's backlog is full; it is alive all the
        //  same. ENOENT: no file; ECONNREFUSED: nobody listens any more.
        bool live = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
        struct ucred credentials = {0};
        socklen_t length = sizeof credentials;
        if (live && getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &credentials,
                                &length) == 0)
            pid = credentials.pid;
        close (fd);
        if (!live)
            return 0;
        if (pid != getpid ())
            break;
    }
    char who[320] = "another process";
    if (pid > 0)
        s_describe (pid, who, sizeof who);
    snprintf (why, size,
              "client endpoint %s is in use by a running agent (%s); stop "
              "it, or give this one another --control",
              endpoint, who);
    return MESHQ_EEXIST;
}
