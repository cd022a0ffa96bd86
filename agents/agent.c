/*  agent.c - the agent skeleton. See agent.h. */
#include "agent.h"
#include "control.h"
#include "endpoint.h"
#include "meshq.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct {
    zsock_t *pipe;                //  To main.
    zloop_t *loop;                //  Runs until $TERM.
    meshq_agent_config_t config;  //  A copy of the configuration.
    meshq_peers_t *peers;         //  Discovery, once started.
    zsock_t *control;             //  The client ROUTER, once bound.
    char endpoint[256];           //  Where it is bound.
    meshq_control_info_t info;    //  For STATUS.
    uint64_t requests;            //  Client requests answered.
    uint64_t bad_requests;        //  Client requests refused.
    int64_t next_log;             //  Rate limit of refusal logs (ms).
    char error[512];              //  Why START failed.
} s_self_t;

static char *
s_copy (const char *text)
{
    return text ? strdup (text) : NULL;
}

static int
s_fail (s_self_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    return -1;
}

//  Reads the node id kept in DATA/node-id, or makes one and keeps it,
//  so that a restarted agent is the same node with a new incarnation.
static int
s_node_id (s_self_t *self, uint8_t node[16])
{
    const char *data = self->config.data;
    if (zsys_dir_create ("%s", data))
        return s_fail (self, "cannot create data directory '%s': %s", data,
                       strerror (errno));
    char path[4096];
    snprintf (path, sizeof path, "%s/node-id", data);
    FILE *file = fopen (path, "r");
    if (file) {
        char hex[40] = "";
        bool read = fgets (hex, sizeof hex, file) != NULL;
        fclose (file);
        hex[strcspn (hex, "\r\n")] = 0;
        zuuid_t *uuid = zuuid_new ();
        int rc = read && strlen (hex) == 32 ? zuuid_set_str (uuid, hex) : -1;
        if (rc == 0)
            memcpy (node, zuuid_data (uuid), 16);
        zuuid_destroy (&uuid);
        if (rc)
            return s_fail (self,
                           "%s does not hold a node id (32 hex digits); "
                           "remove it to make a new one",
                           path);
        return 0;
    }
    zuuid_t *uuid = zuuid_new ();
    memcpy (node, zuuid_data (uuid), 16);
    file = fopen (path, "w");
    bool written =
        file && fprintf (file, "%s\n", zuuid_str_canonical (uuid)) > 0;
    if (file && fclose (file))
        written = false;
    zuuid_destroy (&uuid);
    if (!written)
        return s_fail (self, "cannot write %s: %s", path, strerror (errno));
    //  zuuid's canonical form has dashes; keep the plain one.
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf (hex + 2 * i, 3, "%02x", node[i]);
    file = fopen (path, "w");
    if (!file || fprintf (file, "%s\n", hex) < 0 || fclose (file))
        return s_fail (self, "cannot write %s: %s", path, strerror (errno));
    return 0;
}

//  True if another process accepts connections on the ipc path: then
//  binding would silently take the endpoint from a running agent.
static bool
s_ipc_in_use (const char *path)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen (path) >= sizeof address.sun_path)
        return false;
    strcpy (address.sun_path, path);
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    bool used = connect (fd, (struct sockaddr *)&address, sizeof address) == 0;
    close (fd);
    return used;
}

static int s_client (zloop_t *loop, zsock_t *control, void *arg);

static int
s_bind_control (s_self_t *self)
{
    if (self->config.control)
        snprintf (self->endpoint, sizeof self->endpoint, "%s",
                  self->config.control);
    else {
        const char *name = meshq_peers_name (self->peers);
        int rc = meshq_endpoint_default (name, self->endpoint,
                                         sizeof self->endpoint);
        if (rc)
            return s_fail (self,
                           "no default client endpoint for name '%s' (too "
                           "long, or has '/'); set --control",
                           name);
        char rundir[256];
        meshq_endpoint_rundir (rundir, sizeof rundir);
        if (mkdir (rundir, 0700) && errno != EEXIST)
            return s_fail (self, "cannot create %s: %s; set --control", rundir,
                           strerror (errno));
    }
    if (strncmp (self->endpoint, "ipc://", 6) == 0 &&
        s_ipc_in_use (self->endpoint + 6))
        return s_fail (self,
                       "another agent serves %s; give this one another "
                       "--name or --control",
                       self->endpoint);
    self->control = zsock_new (ZMQ_ROUTER);
    assert (self->control);
    zsock_set_linger (self->control, 0);
    //  Clients are outside: cap what one frame may make us hold.
    zsock_set_maxmsgsize (self->control, MESHQ_PEERS_MAX_MSG);
    if (zsock_bind (self->control, "%s", self->endpoint) < 0)
        return s_fail (self, "cannot bind the client endpoint %s: %s",
                       self->endpoint, zmq_strerror (zmq_errno ()));
    zloop_reader (self->loop, self->control, s_client, self);
    return 0;
}

static int
s_start (s_self_t *self, const char **why)
{
    *why = self->error;
    meshq_peers_config_t config;
    meshq_agent_config_peers (&self->config, &config);
    if (self->config.data && s_node_id (self, config.node))
        return MESHQ_EIO;
    self->peers = meshq_peers_new (&config);
    //  Discovery first: if it cannot start, the client endpoint (which
    //  may be another agent's) is left alone.
    int rc = meshq_peers_start (self->peers, self->loop, why);
    if (rc)
        return rc;
    if (s_bind_control (self)) {
        meshq_peers_stop (self->peers, true);
        *why = self->error;
        return MESHQ_EIO;
    }
    self->info.started_ms = zclock_mono ();
    zsys_notice (
        "agent: started name=%s node=%s mesh=%s vhost=%s "
        "endpoint=%s control=%s",
        meshq_peers_name (self->peers), meshq_peers_node_hex (self->peers),
        meshq_peers_mesh (self->peers), meshq_peers_vhost (self->peers),
        meshq_peers_endpoint (self->peers), self->endpoint);
    return 0;
}

//  One client request: [routing id][VERB][map].
static int
s_client (zloop_t *loop, zsock_t *control, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    zmsg_t *request = zmsg_recv (control);
    if (!request)
        return 0;
    zframe_t *routing = zmsg_pop (request);
    zmsg_t *reply = meshq_control_handle (self->peers, &self->info, request);
    if (!reply) {
        meshq_counter_t more[] = {
            {{"control_requests", 16}, self->requests},
            {{"control_errors", 14}, self->bad_requests},
        };
        char *verb = zmsg_popstr (request);
        //  STATS is answered here to add the agent's own counters.
        if (verb && streq (verb, "STATS")) {
            uint64_t rid = 0;
            zframe_t *args = zmsg_first (request);
            meshq_codec_decode_request (zframe_data (args), zframe_size (args),
                                        &rid, NULL);
            reply = meshq_control_stats (self->peers, rid, more, 2);
        } else {
            char why[128];
            snprintf (why, sizeof why,
                      "unknown command '%.32s'; this agent answers STATUS, "
                      "LIST_PEERS and STATS",
                      verb ? verb : "");
            uint64_t rid = 0;
            zframe_t *args = zmsg_first (request);
            if (args)
                meshq_codec_decode_request (zframe_data (args),
                                            zframe_size (args), &rid, NULL);
            reply = meshq_control_error (rid, MESHQ_ENOTSUP, why);
        }
        free (verb);
    }
    self->requests++;
    if (zframe_streq (zmsg_first (reply), "ERROR")) {
        self->bad_requests++;
        int64_t now = zclock_mono ();
        if (now >= self->next_log) {
            self->next_log = now + 1000;
            zsys_warning ("agent: request refused refused=%" PRIu64,
                          self->bad_requests);
        }
    }
    zmsg_prepend (reply, &routing);
    if (zmsg_send (&reply, control))
        zmsg_destroy (&reply);
    zmsg_destroy (&request);
    return 0;
}

static int
s_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    char *command = zstr_recv (pipe);
    if (!command)
        return -1;
    int rc = 0;
    if (streq (command, "$TERM"))
        rc = -1;
    else if (streq (command, "START")) {
        const char *why = "";
        int code = self->peers ? MESHQ_ESTATE : s_start (self, &why);
        zsock_send (pipe, "sis", "START", code, code ? why : "");
    } else
        assert (false);  //  An unknown command is our own bug.
    free (command);
    return rc;
}

void
meshq_agent (zsock_t *pipe, void *args)
{
    const meshq_agent_config_t *config = args;
    s_self_t self = {.pipe = pipe, .loop = zloop_new ()};
    assert (self.loop);
    self.config = *config;
    self.config.name = s_copy (config->name);
    self.config.mesh = s_copy (config->mesh);
    self.config.vhost = s_copy (config->vhost);
    self.config.interface = s_copy (config->interface);
    self.config.seeds = s_copy (config->seeds);
    self.config.control = s_copy (config->control);
    self.config.data = s_copy (config->data);
    self.config.config_file = s_copy (config->config_file);
    self.info.version = MESHQ_AGENT_VERSION;
    zloop_set_nonstop (self.loop, true);
    zloop_reader (self.loop, pipe, s_pipe, &self);
    zsock_signal (pipe, 0);   //  zactor_new returns now: config copied.
    zloop_start (self.loop);  //  Until $TERM.
    meshq_peers_destroy (&self.peers);
    if (self.control) {
        zloop_reader_end (self.loop, self.control);
        zsock_destroy (&self.control);
        //  libzmq leaves the socket file behind; a stale one would only
        //  make clients wait for an agent that is gone.
        if (strncmp (self.endpoint, "ipc://", 6) == 0)
            unlink (self.endpoint + 6);
    }
    zloop_destroy (&self.loop);
    meshq_agent_config_fini (&self.config);
}
