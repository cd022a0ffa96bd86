/*  meshq_agent.c - meshq-agent, the queue agent daemon.

    A thin main over the engine actor (agent.c): reads the configuration
    file and the flags (flags win), starts the engine on its client
    endpoint, and runs until SIGINT or SIGTERM. Every setting is the
    embedded agent's (agent_config.c), under the same name: in the file
    as agent/NAME, as a flag --NAME with '_' written '-'.
    docs/OPERATIONS.md lists them.

    meshq-agent [--config FILE] [--name NAME] [--data DIR]
                [--control ENDPOINT,...] [--log LEVEL] [--SETTING VALUE]...
*/
#include "agent.h"
#include "http.h"
#include "amqp_door.h"
#include "iface.h"
#include "mesh_secret.h"
#include "meshq.h"
#include "sd_notify.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_USAGE                                                                \
    "usage: meshq-agent [--version] [--config FILE] [--name NAME]\n"           \
    "                   [--data DIR]\n"                                        \
    "                   [--control ENDPOINT,...] [--log LEVEL]\n"              \
    "                   [--max-memory SIZE] [--quota SIZE]\n"                  \
    "                   [--max-message SIZE] [--ack-timeout MS]\n"             \
    "                   [--segment-size SIZE]  (SIZE: bytes, or 64K, 512M, "   \
    "1G)\n"                                                                    \
    "                   [--mesh NAME] [--seeds tcp://HOST:PORT,...]\n"         \
    "                   [--seeds-refresh MS]\n"                                \
    "                   [--interface IFACE] [--port PORT] [--beacon-port "     \
    "PORT]\n"                                                                  \
    "                   [--no-beacon] [--beacon-interval MS]\n"                \
    "                   [--transport auto|multicast|broadcast|ipv6]\n"         \
    "                   [--heartbeat MS] [--peer-timeout MS] [--standalone]\n" \
    "                   [--full-links COUNT] [--max-links COUNT]\n"            \
    "                   [--read-ahead PERCENT] [--mesh-secret-file FILE]\n"    \
    "                   [--client-hwm FRAMES] [--max-vhosts COUNT]\n"          \
    "                   [--http [HOST:]PORT] [--metrics [HOST:]PORT]\n"        \
    "                   [--metrics-login] [--insecure] [--amqp HOST:PORT]\n"

//  Settings as name and value, from the file then the flags: the last
//  one given of a name wins.
typedef struct {
    char *names[64];   //  Setting names, as agent_config.c knows them.
    char *values[64];  //  Their values.
    int count;         //  Pairs held.
} s_settings_t;

static int
s_usage (const char *why)
{
    fprintf (stderr, "meshq-agent: %s\n%s", why, S_USAGE);
    return 64;  //  EX_USAGE
}

static int
s_add (s_settings_t *settings, const char *name, const char *value)
{
    if (settings->count == 64)
        return -1;
    settings->names[settings->count] = strdup (name);
    settings->values[settings->count] = strdup (value);
    settings->count++;
    return 0;
}

//  The last value given for name, or NULL.
static const char *
s_get (const s_settings_t *settings, const char *name)
{
    for (int i = settings->count - 1; i >= 0; i--)
        if (streq (settings->names[i], name))
            return settings->values[i];
    return NULL;
}

//  Reads the ZPL file: every key under 'agent/'.
static int
s_read_config (const char *path, s_settings_t *settings)
{
    zconfig_t *root = zconfig_load (path);
    if (!root) {
        fprintf (stderr, "meshq-agent: cannot read config file %s: %s\n", path,
                 errno ? strerror (errno) : "not valid ZPL");
        return 78;  //  EX_CONFIG
    }
    zconfig_t *agent = zconfig_locate (root, "agent");
    int rc = 0;
    for (zconfig_t *item = agent ? zconfig_child (agent) : NULL; item && !rc;
         item = zconfig_next (item))
        if (s_add (settings, zconfig_name (item),
                   zconfig_value (item) ? zconfig_value (item) : "")) {
            fprintf (stderr, "meshq-agent: %s: too many settings\n", path);
            rc = 78;
        }
    zconfig_destroy (&root);
    return rc;
}

//  The default store directory: /var/lib/meshq/NAME for root, else
//  $XDG_DATA_HOME/meshq/NAME or ~/.local/share/meshq/NAME.
static void
s_default_data (const char *name, char *out, size_t size)
{
    const char *xdg = getenv ("XDG_DATA_HOME");
    const char *home = getenv ("HOME");
    if (geteuid () == 0)
        snprintf (out, size, "/var/lib/meshq/%s", name);
    else if (xdg && *xdg)
        snprintf (out, size, "%s/meshq/%s", xdg, name);
    else
        snprintf (out, size, "%s/.local/share/meshq/%s", home ? home : ".",
                  name);
}

//  Makes the parents of the store directory (the store makes its own).
static int
s_make_parents (const char *path)
{
    char copy[PATH_MAX];
    snprintf (copy, sizeof copy, "%s", path);
    for (char *slash = strchr (copy + 1, '/'); slash;
         slash = strchr (slash + 1, '/')) {
        *slash = 0;
        if (mkdir (copy, 0755) && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    return 0;
}

//  The daemon, given its settings to fill; returns its exit status.
//  Whether the mesh of config would listen on an interface other than
//  loopback (the one asked for, or ZSYS_INTERFACE's): reachable from
//  the network. An interface that does not resolve is the engine's to
//  refuse, with its own reason.
static bool
s_exposed (const meshq_agent_config_t *config, s_settings_t *settings)
{
    const char *standalone = s_get (settings, "standalone");
    if (standalone && !streq (standalone, "false") && !streq (standalone, "0"))
        return false;
    const char *spec =
        *config->interface ? config->interface : getenv ("ZSYS_INTERFACE");
    if (!spec || !*spec)
        return false;
    meshq_iface_t iface;
    char error[256];
    if (meshq_iface_resolve (spec, AF_INET, &iface, error, sizeof error) &&
        meshq_iface_resolve (spec, AF_INET6, &iface, error, sizeof error))
        return false;
    return !iface.loopback;
}

//  Blocks or unblocks SIGINT and SIGTERM for the calling thread.
static void
s_signals (int how)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGTERM);
    pthread_sigmask (how, &set, NULL);
}

//  Takes as many open files as the process may (its soft limit up to its
//  hard one), and lets ZeroMQ have half of them as sockets: an agent
//  holds a socket and a connection or two per peer, and a shell's soft
//  limit of 1,024 and libzmq's default of 1,023 sockets would stop a
//  mesh of a few hundred agents. Before ZeroMQ opens any socket. A
//  ZSYS_MAX_SOCKETS in the environment is the operator's word: kept.
static void
s_open_files (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit))
        return;
    if (limit.rlim_cur < limit.rlim_max) {
        rlim_t soft = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &limit)) {
            zsys_warning ("agent: open files limit stays at %lu: %s",
                          (unsigned long)soft, strerror (errno));
            limit.rlim_cur = soft;
        }
    }
    size_t sockets = limit.rlim_cur == RLIM_INFINITY
                         ? SIZE_MAX
                         : (size_t)(limit.rlim_cur / 2);
    size_t most = zsys_socket_limit ();
    if (sockets > most)
        sockets = most;
    if (sockets > 1024 && !getenv ("ZSYS_MAX_SOCKETS"))
        zsys_set_max_sockets (sockets);
}

static int
s_main (int argc, char *argv[], s_settings_t *settings)
{
    //  Every flag but --config, --help and --version is a setting.
    static const struct option options[] = {
        {"config", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {"name", required_argument, NULL, 's'},
        {"data", required_argument, NULL, 's'},
        {"control", required_argument, NULL, 's'},
        {"log", required_argument, NULL, 's'},
        {"max-memory", required_argument, NULL, 's'},
        {"quota", required_argument, NULL, 's'},
        {"max-message", required_argument, NULL, 's'},
        {"ack-timeout", required_argument, NULL, 's'},
        {"segment-size", required_argument, NULL, 's'},
        {"mesh", required_argument, NULL, 's'},
        {"seeds", required_argument, NULL, 's'},
        {"seeds-refresh", required_argument, NULL, 's'},
        {"interface", required_argument, NULL, 's'},
        {"port", required_argument, NULL, 's'},
        {"beacon-port", required_argument, NULL, 's'},
        {"no-beacon", no_argument, NULL, 's'},
        {"standalone", no_argument, NULL, 's'},
        {"beacon-interval", required_argument, NULL, 's'},
        {"transport", required_argument, NULL, 's'},
        {"heartbeat", required_argument, NULL, 's'},
        {"peer-timeout", required_argument, NULL, 's'},
        {"full-links", required_argument, NULL, 's'},
        {"max-links", required_argument, NULL, 's'},
        {"read-ahead", required_argument, NULL, 's'},
        {"mesh-secret-file", required_argument, NULL, 's'},
        {"client-hwm", required_argument, NULL, 's'},
        {"max-vhosts", required_argument, NULL, 's'},
        {"insecure", no_argument, NULL, 's'},
        {"http", required_argument, NULL, 's'},
        {"metrics", required_argument, NULL, 's'},
        {"metrics-login", no_argument, NULL, 's'},
        {"amqp", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0}};
    //  The file first, so that flags win whatever their order.
    for (int i = 1; i < argc - 1; i++)
        if (streq (argv[i], "--config")) {
            int rc = s_read_config (argv[i + 1], settings);
            if (rc)
                return rc;
        }
    int file_settings = settings->count;
    int opt, index;
    while ((opt = getopt_long (argc, argv, "", options, &index)) != -1) {
        if (opt == 'h') {
            printf ("%s", S_USAGE);
            return 0;
        }
        if (opt == 'v') {
            printf ("meshq-agent %s\n", MESHQ_PROJECT_VERSION);
            return 0;
        }
        if (opt == 'f')
            continue;  //  Read above.
        if (opt != 's')
            return s_usage ("unknown option");
        char name[32];
        snprintf (name, sizeof name, "%s", options[index].name);
        for (char *c = name; *c; c++)
            *c = *c == '-' ? '_' : *c;
        if (s_add (settings, name, optarg ? optarg : "true"))
            return s_usage ("too many options");
    }
    if (optind < argc)
        return s_usage ("unexpected argument");

    meshq_agent_config_t config;
    meshq_agent_config_init (&config);
    //  AMQP clients find the daemon where they find RabbitMQ, on
    //  loopback: unless told otherwise, and only if the port is free.
    snprintf (config.amqp, sizeof config.amqp, "127.0.0.1:5672");
    config.amqp_default = true;
    meshq_amqp_door_register ();
    char host[64] = "agent";
    gethostname (host, sizeof host - 1);
    const char *name = s_get (settings, "name");
    name = name ? name : host;
    for (const char *c = name; *c; c++)
        if (!isalnum ((unsigned char)*c) && !strchr ("-_.", *c))
            return s_usage ("--name takes letters, digits, '-', '_', '.'");
    if (!*name || strlen (name) >= sizeof config.name)
        return s_usage ("--name takes 1 to 63 characters");
    //  The rest in order, each through the engine's own parser.
    for (int i = 0; i < settings->count; i++) {
        const char *key = settings->names[i], *value = settings->values[i];
        if (streq (key, "log") || streq (key, "control") ||
            streq (key, "standalone") || streq (key, "insecure"))
            continue;
        char why[256];
        if (meshq_agent_config_set (&config, key, value, why, sizeof why)) {
            if (i >= file_settings) {
                //  Named as it was given: --max-memory, not max_memory.
                for (char *c = why; *c && *c != ' ' && *c != ':'; c++)
                    *c = *c == '_' ? '-' : *c;
                fprintf (stderr, "meshq-agent: --%s\n", why);
                return 64;  //  EX_USAGE
            }
            fprintf (stderr, "meshq-agent: config file: agent/%s\n", why);
            return 78;  //  EX_CONFIG
        }
    }
    snprintf (config.name, sizeof config.name, "%s", name);
    //  The daemon serves HTTP where RabbitMQ does, unless told otherwise
    //  (an embedded agent only when told). A default port already taken
    //  is a warning; a port asked for is not (agent.h).
    if (!s_get (settings, "http")) {
        snprintf (config.http, sizeof config.http, MESHQ_HTTP_DEFAULT);
        config.http_fallback = true;
    }
    if (!s_get (settings, "metrics")) {
        snprintf (config.metrics, sizeof config.metrics, MESHQ_METRICS_DEFAULT);
        config.metrics_fallback = true;
    }
    //  A secret the engine would refuse at start is a configuration
    //  error: say so now, with the configuration's exit code.
    if (*config.mesh_secret_file) {
        uint8_t key[MESHQ_MESH_KEY_SIZE];
        char why[1024];
        int rc = meshq_mesh_secret_load (config.mesh_secret_file, key, why,
                                         sizeof why);
        sodium_memzero (key, sizeof key);
        if (rc) {
            fprintf (stderr, "meshq-agent: %s\n", why);
            return 78;  //  EX_CONFIG
        }
    }
    //  A mesh reachable from the network needs a secret, or the operator
    //  saying it does not (docs/decisions/0007-no-open-mesh-by-accident.md).
    const char *insecure = s_get (settings, "insecure");
    if (!(insecure && !streq (insecure, "false") && !streq (insecure, "0")) &&
        !*config.mesh_secret_file && s_exposed (&config, settings)) {
        fprintf (
            stderr,
            "meshq-agent: the mesh would listen on a network interface "
            "(%s) with no mesh secret: anyone who reaches it could "
            "join the mesh and read its messages and users; give every "
            "agent the same --mesh-secret-file (docs/DISCOVERY.md, "
            "\"Securing a mesh\"), or --insecure to run without one\n",
            *config.interface ? config.interface : getenv ("ZSYS_INTERFACE"));
        return 78;  //  EX_CONFIG
    }
    //  With no configuration, agents find each other: the mesh
    //  "default" (as a Zyre node joins its default group), unless told
    //  to serve alone.
    const char *standalone = s_get (settings, "standalone");
    if (standalone && !streq (standalone, "false") && !streq (standalone, "0"))
        config.mesh = false;
    else if (!config.mesh) {
        snprintf (config.mesh_name, sizeof config.mesh_name, "default");
        config.mesh = true;
    }
    if (!s_get (settings, "data"))
        s_default_data (config.name, config.data, sizeof config.data);
    const char *control = s_get (settings, "control");
    snprintf (config.endpoints, sizeof config.endpoints, "%s",
              control ? control : MESHQ_DEFAULT_ENDPOINT);
    const char *log = s_get (settings, "log");
    if (log) {
        static const char *levels[] = {"error", "warning", "notice", "info",
                                       "debug"};
        int level = -1;
        for (int i = 0; i < 5; i++)
            if (streq (log, levels[i]))
                level = i;
        if (level < 0)
            return s_usage ("--log takes error, warning, notice, info or "
                            "debug");
        meshq_log_set_level ((meshq_log_level_t)level);
    }
    if (s_make_parents (config.data)) {
        fprintf (stderr, "meshq-agent: cannot create %s: %s\n", config.data,
                 strerror (errno));
        return 73;  //  EX_CANTCREAT
    }

    zsys_set_logident ("meshq-agent");
    meshq_log_to (stderr);  //  A daemon's log, not its output; ISO 8601.
    s_open_files ();
    zactor_t *agent = zactor_new (meshq_agent_actor, &config);
    zstr_send (agent, "START");
    char *status = NULL, *why = NULL;
    zsock_recv (agent, "ss", &status, &why);
    int exit = 0;
    if (!status || !streq (status, "OK")) {
        fprintf (stderr, "meshq-agent: cannot start: %s\n",
                 why ? why : "no answer");
        exit = 69;  //  EX_UNAVAILABLE
    } else {
        //  Serving: a Type=notify unit is started now (sd_notify.h).
        if (meshq_sd_notify ("READY=1"))
            zsys_warning ("agent: service manager not told ready "
                          "NOTIFY_SOCKET=%s",
                          getenv ("NOTIFY_SOCKET"));
        //  Run until a signal; CZMQ's handler makes the wait return. Only
        //  this thread takes SIGINT and SIGTERM (main blocked them before
        //  any thread was made, and threads inherit that): the kernel
        //  hands a process's signal to any thread that does not block
        //  it, and one handled on another thread would set the flag
        //  without waking this wait (right after SIGCONT, this thread
        //  still has a signal pending and the kernel passes it over).
        s_signals (SIG_UNBLOCK);
        zpoller_t *poller = zpoller_new (agent, NULL);
        while (!zsys_interrupted) {
            zsock_t *which = zpoller_wait (poller, -1);
            if (!which && zpoller_terminated (poller))
                break;
            if (which) {
                //  The engine never speaks unprompted; drain and go on.
                zmsg_t *msg = zmsg_recv (which);
                zmsg_destroy (&msg);
            }
        }
        zpoller_destroy (&poller);
        meshq_notice ("agent: stopping name=%s", config.name);
        meshq_sd_notify ("STOPPING=1");
    }
    zstr_free (&status);
    zstr_free (&why);
    zactor_destroy (&agent);
    return exit;
}

int
main (int argc, char *argv[])
{
    s_signals (SIG_BLOCK);
    s_settings_t settings;
    memset (&settings, 0, sizeof settings);
    int exit = s_main (argc, argv, &settings);
    //  Whatever path it left by.
    for (int i = 0; i < settings.count; i++) {
        free (settings.names[i]);
        free (settings.values[i]);
    }
    return exit;
}
