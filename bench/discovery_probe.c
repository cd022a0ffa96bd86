/*  discovery_probe.c - what bench_discovery reads of running agents:
    memory and CPU from /proc, and each agent's own list of peers,
    asked of it with the meshq tool.
*/
#include "discovery_probe.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

//  Bytes read of one agent's list (a row is about 250 bytes).
#define S_LIST_MAX (1 << 20)

static int64_t
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

void
meshq_bench_memory (pid_t pid, double *rss, double *pss)
{
    *rss = (double)s_proc_kb (pid, "status", "VmRSS:");
    *pss = (double)s_proc_kb (pid, "smaps_rollup", "Pss:");
}

long long
meshq_bench_cpu_ticks (pid_t pid)
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

// --------------------------------------------------------------------
//  The agents' own view: meshq --json list_peers of each

int
meshq_bench_listed_up (const char *json, int me, int count)
{
    (void)me;  //  An agent never lists itself.
    //  Rows are told apart by id: past full_links, members with no link
    //  are rows with no name.
    char (*seen)[33] = calloc ((size_t)(count > 0 ? count : 1), 33);
    if (!seen)
        return 0;
    int listed = 0;
    const char *at = json;
    while ((at = strstr (at, "\"id\":\""))) {
        at += strlen ("\"id\":\"");
        if (strspn (at, "0123456789abcdef") != 32)
            continue;
        //  The row around the id: from its "{" to its "}".
        const char *open = at, *close = strchr (at, '}');
        while (open > json && *open != '{')
            open--;
        const char *state = strstr (open, "\"state\":\"");
        if (!close || !state || state > close)
            continue;
        state += strlen ("\"state\":\"");
        bool alive = strncmp (state, "up\"", 3) == 0 ||
                     strncmp (state, "alive\"", 6) == 0;
        bool known = false;
        for (int i = 0; i < listed && !known; i++)
            known = memcmp (seen[i], at, 32) == 0;
        if (alive && !known && listed < count - 1) {
            memcpy (seen[listed], at, 32);
            listed++;
        }
    }
    free (seen);
    return listed;
}

//  Starts the tool to ask agent i for its list, into a file of the
//  run's directory; returns its pid and a pidfd, or -1.
static int
s_list_start (const char *dir, const char *tool, int i, pid_t *pid)
{
    char control[128], path[128];
    snprintf (control, sizeof control, "ipc://%s/b%d.ipc", dir, i);
    snprintf (path, sizeof path, "%s/list-b%d.json", dir, i);
    *pid = fork ();
    if (*pid < 0)
        return -1;
    if (*pid == 0) {
        int out = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open ("/dev/null", O_WRONLY);
        if (out < 0 || null < 0)
            _exit (127);
        dup2 (out, 1);
        dup2 (null, 2);
        close (out);
        close (null);
        execl (tool, tool, "--agent", control, "--timeout", "10", "--json",
               "list_peers", (char *)NULL);
        _exit (127);
    }
    int pidfd = (int)syscall (SYS_pidfd_open, *pid, 0);
    if (pidfd < 0) {
        kill (*pid, SIGKILL);
        waitpid (*pid, NULL, 0);
    }
    return pidfd;
}

//  Agent i's list, as the tool wrote it: up agents, or -1 if unread.
static int
s_list_read (const char *dir, int i, int count)
{
    char path[128];
    snprintf (path, sizeof path, "%s/list-b%d.json", dir, i);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char *json = malloc (S_LIST_MAX + 1);
    size_t size = json ? fread (json, 1, S_LIST_MAX, file) : 0;
    fclose (file);
    unlink (path);
    if (!json)
        return -1;
    json[size] = 0;
    int up = meshq_bench_listed_up (json, i, count);
    free (json);
    return up;
}

bool
meshq_bench_lists_full (const char *dir, const char *tool, int count,
                        int parallel, char *why, size_t size,
                        void (*meanwhile) (void *arg), void *arg)
{
    enum { S_SLOTS = 64 };
    parallel = parallel < 1 ? 1 : parallel < S_SLOTS ? parallel : S_SLOTS;
    pid_t pids[S_SLOTS];
    int who[S_SLOTS];
    struct pollfd items[S_SLOTS];
    int running = 0, next = 0, answered = 0, full = 0, fewest = count;
    int64_t start = s_now ();
    int64_t deadline = start + 10000 + 200 * (int64_t)count;
    while (next < count || running > 0) {
        while (running < parallel && next < count) {
            int pidfd = s_list_start (dir, tool, next, &pids[running]);
            if (pidfd >= 0) {
                items[running] = (struct pollfd){pidfd, POLLIN, 0};
                who[running++] = next;
            }
            next++;
        }
        //  Every 100 ms at least, the caller reads its agents' logs (an
        //  agent blocked on a full pipe would not answer).
        int64_t left = deadline - s_now ();
        if (running == 0 || left <= 0)
            break;
        int ready = poll (items, (nfds_t)running, left < 100 ? (int)left : 100);
        if (meanwhile)
            meanwhile (arg);
        if (ready < 0)
            break;
        for (int k = running - 1; k >= 0; k--) {
            if (!items[k].revents)
                continue;
            int status = -1;
            waitpid (pids[k], &status, 0);
            close (items[k].fd);
            int up = WIFEXITED (status) && WEXITSTATUS (status) == 0
                         ? s_list_read (dir, who[k], count)
                         : -1;
            if (up >= 0) {
                answered++;
                full += up == count - 1;
                fewest = up < fewest ? up : fewest;
            }
            running--;
            pids[k] = pids[running];
            who[k] = who[running];
            items[k] = items[running];
        }
    }
    //  Out of time: the tools still running have not answered.
    for (int k = 0; k < running; k++) {
        kill (pids[k], SIGKILL);
        waitpid (pids[k], NULL, 0);
        close (items[k].fd);
    }
    snprintf (why, size,
              "%d of %d agents answered in %.1f s, %d of them list all %d "
              "others up, the fewest %d",
              answered, count, (double)(s_now () - start) / 1000.0, full,
              count - 1, answered ? fewest : 0);
    return full == count;
}
