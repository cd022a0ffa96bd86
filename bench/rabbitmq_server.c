/*  rabbitmq_server.c - a private RabbitMQ node for the benches. See
    amqp_load.h.

    Debian's rabbitmq-server, run directly (not through the service
    wrapper, which would switch to the rabbitmq user and lose our
    environment), with everything of its own: node name, AMQP port on
    127.0.0.1, Erlang distribution port, an epmd started here on its own
    port and address (so that we know its pid and stop it after), and
    the state, logs, config, plugin list and Erlang cookie ($HOME) in a
    scratch directory. Nothing of a system RabbitMQ is read or touched.
*/
#include "amqp_load.h"
#include "peers.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_BIN  "/usr/lib/rabbitmq/bin/"
#define S_EPMD "/usr/bin/epmd"

bool
meshq_rabbitmq_available (void)
{
    return access (S_BIN "rabbitmq-server", X_OK) == 0 &&
           access (S_BIN "rabbitmqctl", X_OK) == 0 &&
           access (S_EPMD, X_OK) == 0;
}

//  The environment every RabbitMQ program of this node runs with.
static void
s_environment (const meshq_rabbitmq_t *self)
{
    char value[512];
    setenv ("HOME", self->dir, 1);
    setenv ("RABBITMQ_NODENAME", self->node, 1);
    snprintf (value, sizeof value, "%d", self->port);
    setenv ("RABBITMQ_NODE_PORT", value, 1);
    setenv ("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1", 1);
    snprintf (value, sizeof value, "%d", self->dist_port);
    setenv ("RABBITMQ_DIST_PORT", value, 1);
    snprintf (value, sizeof value, "%d", self->epmd_port);
    setenv ("ERL_EPMD_PORT", value, 1);
    setenv ("ERL_EPMD_ADDRESS", "127.0.0.1", 1);
    snprintf (value, sizeof value, "%s/mnesia", self->dir);
    setenv ("RABBITMQ_MNESIA_BASE", value, 1);
    snprintf (value, sizeof value, "%s/log", self->dir);
    setenv ("RABBITMQ_LOG_BASE", value, 1);
    snprintf (value, sizeof value, "%s/rabbitmq.conf", self->dir);
    setenv ("RABBITMQ_CONFIG_FILE", value, 1);
    snprintf (value, sizeof value, "%s/enabled_plugins", self->dir);
    setenv ("RABBITMQ_ENABLED_PLUGINS_FILE", value, 1);
    snprintf (value, sizeof value, "%s/rabbitmq.pid", self->dir);
    setenv ("RABBITMQ_PID_FILE", value, 1);
    //  The distribution listener on loopback only.
    setenv ("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
            "-kernel inet_dist_use_interface {127,0,0,1}", 1);
}

//  The child's side of s_spawn.
static void
s_prepare (const void *arg)
{
    s_environment (arg);
}

//  Starts argv in the node's environment with its output appended to
//  log, in its own process group, so that a Ctrl-C to the bench does not
//  kill the node before the bench stops it; and $TERM if the bench dies
//  without stopping it (the server script stops the node on $TERM).
//  Returns the pid, or -1.
static pid_t
s_spawn (const meshq_rabbitmq_t *self, char *const argv[], const char *log)
{
    return meshq_bench_spawn (argv, log, true, s_prepare, self);
}

//  Waits up to timeout_ms for pid to exit; true if it did.
static bool
s_reap (pid_t pid, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        if (waitpid (pid, NULL, WNOHANG) == pid)
            return true;
        usleep (50000);
    }
    return false;
}

static void
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    if (file) {
        fputs (text, file);
        fclose (file);
    }
}

static void
s_version (meshq_rabbitmq_t *self)
{
    FILE *pipe = popen (
        "dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null", "r");
    if (!pipe)
        return;
    if (!fgets (self->version, sizeof self->version, pipe))
        *self->version = 0;
    pclose (pipe);
    //  "3.10.8-1.1+deb12u1": the upstream part.
    self->version[strcspn (self->version, "-")] = 0;
}

int
meshq_rabbitmq_start (meshq_rabbitmq_t *self, const char *parent, int timeout_s)
{
    memset (self, 0, sizeof *self);
    snprintf (self->dir, sizeof self->dir, "%s/meshq-rabbitmq-XXXXXX", parent);
    if (!mkdtemp (self->dir)) {
        perror ("rabbitmq: mkdtemp");
        *self->dir = 0;
        return -1;
    }
    snprintf (self->node, sizeof self->node, "meshqbench%d@localhost",
              (int)getpid ());
    self->port = meshq_bench_free_port ();
    do
        self->dist_port = meshq_bench_free_port ();
    while (self->dist_port == self->port);
    do
        self->epmd_port = meshq_bench_free_port ();
    while (self->epmd_port == self->port || self->epmd_port == self->dist_port);
    s_version (self);

    char path[400], config[200], log[400];
    snprintf (config, sizeof config,
              "listeners.tcp.default = 127.0.0.1:%d\n"
              "log.console = false\n",
              self->port);
    snprintf (path, sizeof path, "%s/rabbitmq.conf", self->dir);
    s_write (path, config);
    snprintf (path, sizeof path, "%s/enabled_plugins", self->dir);
    s_write (path, "[].\n");
    snprintf (log, sizeof log, "%s/server.log", self->dir);

    char port[16];
    snprintf (port, sizeof port, "%d", self->epmd_port);
    char *epmd[] = {S_EPMD, "-port", port, "-address", "127.0.0.1", NULL};
    self->epmd = s_spawn (self, epmd, log);
    char *server[] = {S_BIN "rabbitmq-server", NULL};
    self->server = s_spawn (self, server, log);
    if (self->epmd < 0 || self->server < 0) {
        perror ("rabbitmq: fork");
        meshq_rabbitmq_stop (self);
        return -1;
    }
    fprintf (stderr,
             "rabbitmq: starting RabbitMQ %s node %s on 127.0.0.1:%d "
             "(state in %s)\n",
             self->version, self->node, self->port, self->dir);
    for (int waited = 0; waited < timeout_s * 10; waited++) {
        if (meshq_bench_listening ("127.0.0.1", self->port))
            return 0;
        if (waitpid (self->server, NULL, WNOHANG) == self->server) {
            self->server = 0;
            fprintf (stderr, "rabbitmq: RabbitMQ exited at start; see %s\n",
                     log);
            meshq_rabbitmq_stop (self);
            return -1;
        }
        usleep (100000);
    }
    fprintf (stderr, "rabbitmq: RabbitMQ not up within %d s; see %s\n",
             timeout_s, log);
    meshq_rabbitmq_stop (self);
    return -1;
}

void
meshq_rabbitmq_stop (meshq_rabbitmq_t *self)
{
    if (self->server > 0) {
        char log[400];
        snprintf (log, sizeof log, "%s/server.log", self->dir);
        char *stop[] = {S_BIN "rabbitmqctl", "-n", self->node, "stop", NULL};
        pid_t ctl = s_spawn (self, stop, log);
        if (ctl > 0 && !s_reap (ctl, 60000)) {
            kill (ctl, SIGKILL);
            waitpid (ctl, NULL, 0);
        }
        if (!s_reap (self->server, 30000)) {
            fprintf (stderr, "rabbitmq: RabbitMQ did not stop; killing it\n");
            //  The script and the Erlang VM it started share its group.
            kill (-self->server, SIGKILL);
            waitpid (self->server, NULL, 0);
        }
        self->server = 0;
    }
    if (self->epmd > 0) {
        kill (self->epmd, SIGTERM);
        if (!s_reap (self->epmd, 5000)) {
            kill (self->epmd, SIGKILL);
            waitpid (self->epmd, NULL, 0);
        }
        self->epmd = 0;
    }
    meshq_bench_remove_dir (self->dir);
}
