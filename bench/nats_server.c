/*  nats_server.c - a private nats-server for the benches. See
    nats_load.h.

    Debian's nats-server on 127.0.0.1 and a free port, no configuration
    file and no monitoring port, its log (and with JetStream, its file
    store) in a scratch directory removed when it stops.
*/
#include "nats_load.h"
#include "peers.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_SERVER "/usr/sbin/nats-server"

bool
meshq_nats_available (void)
{
    return access (S_SERVER, X_OK) == 0;
}

//  "nats-server: v2.9.10" -> "2.9.10".
static void
s_version (char *version, size_t size)
{
    *version = 0;
    FILE *pipe = popen (S_SERVER " --version 2>&1", "r");
    char line[128] = "";
    if (!pipe)
        return;
    if (fgets (line, sizeof line, pipe)) {
        char *v = strstr (line, " v");
        if (v) {
            v[strcspn (v, "\r\n")] = 0;
            snprintf (version, size, "%s", v + 2);
        }
    }
    pclose (pipe);
}

int
meshq_nats_start (meshq_nats_server_t *server, const char *parent,
                  bool jetstream)
{
    memset (server, 0, sizeof *server);
    s_version (server->version, sizeof server->version);
    snprintf (server->dir, sizeof server->dir, "%s/meshq-bench-nats-XXXXXX",
              parent);
    if (!mkdtemp (server->dir)) {
        fprintf (stderr, "nats-server: mkdtemp in %s: %m\n", parent);
        *server->dir = 0;
        return -1;
    }
    char log[300], port[16], store[300];
    snprintf (log, sizeof log, "%s/nats-server.log", server->dir);
    snprintf (store, sizeof store, "%s/jetstream", server->dir);
    server->port = meshq_bench_free_port ();
    if (server->port < 0) {
        fprintf (stderr, "nats-server: no free port\n");
        return -1;
    }
    snprintf (port, sizeof port, "%d", server->port);
    char *argv[] = {S_SERVER, "-a",  "127.0.0.1", "-p",
                    port,     "-l",  log,         jetstream ? "-js" : NULL,
                    "-sd",    store, NULL};
    server->pid = meshq_bench_spawn (argv, log, false, NULL, NULL);
    if (server->pid < 0) {
        fprintf (stderr, "nats-server: fork: %m\n");
        server->pid = 0;
        return -1;
    }
    server->jetstream = jetstream;
    for (int waited = 0; waited < 200; waited++) {
        if (waitpid (server->pid, NULL, WNOHANG) == server->pid) {
            server->pid = 0;
            fprintf (stderr, "nats-server exited; see %s\n", log);
            return -1;
        }
        if (meshq_bench_listening ("127.0.0.1", server->port))
            return 0;
        usleep (50000);
    }
    fprintf (stderr, "nats-server not up in 10 s; see %s\n", log);
    return -1;
}

void
meshq_nats_stop (meshq_nats_server_t *server)
{
    if (server->pid > 0) {
        kill (server->pid, SIGTERM);
        waitpid (server->pid, NULL, 0);
        server->pid = 0;
    }
    meshq_bench_remove_dir (server->dir);
}
