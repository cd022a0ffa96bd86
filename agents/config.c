/*  config.c - flags and the ZPL file of meshq-agent. See config.h. */
#include "config.h"
#include "meshq.h"

#include <czmq.h>
#include <getopt.h>
#include <stdarg.h>

const char *meshq_agent_usage =
    "usage: meshq-agent [options]\n"
    "\n"
    "  --name NAME            node name (default: the host name)\n"
    "  --mesh NAME            mesh to join (default: default)\n"
    "  --vhost NAME           virtual host (default: /)\n"
    "  --interface IF         interface name or address to discover on\n"
    "                         (default: $ZSYS_INTERFACE, else loopback)\n"
    "  --transport T          auto, multicast, broadcast or ipv6\n"
    "  --port N               mesh tcp port, 0 for any (default: 0)\n"
    "  --beacon-port N        UDP beacon port (default: 5680)\n"
    "  --no-beacon            no beacons: find peers through --seeds only\n"
    "  --seeds LIST           comma-separated tcp://ADDRESS:PORT of peers\n"
    "  --beacon-interval MS   (default: 250)\n"
    "  --heartbeat MS         (default: 250)\n"
    "  --peer-timeout MS      silence until a peer is down (default: 2000)\n"
    "  --control ENDPOINT     endpoint for clients and the meshq tool\n"
    "                         (default: ipc://RUNDIR/NAME.ipc)\n"
    "  --data DIR             data directory (keeps the node id)\n"
    "  --config FILE          ZPL file with the same keys (flags win)\n"
    "  --version, --help\n";

//  Flags that take values, by getopt code.
enum {
    S_NAME = 1000,
    S_MESH,
    S_VHOST,
    S_INTERFACE,
    S_TRANSPORT,
    S_PORT,
    S_BEACON_PORT,
    S_NO_BEACON,
    S_SEEDS,
    S_BEACON_INTERVAL,
    S_HEARTBEAT,
    S_PEER_TIMEOUT,
    S_CONTROL,
    S_DATA,
    S_CONFIG,
    S_HELP,
    S_VERSION,
};

static const struct option s_options[] = {
    {"name", required_argument, NULL, S_NAME},
    {"mesh", required_argument, NULL, S_MESH},
    {"vhost", required_argument, NULL, S_VHOST},
    {"interface", required_argument, NULL, S_INTERFACE},
    {"transport", required_argument, NULL, S_TRANSPORT},
    {"port", required_argument, NULL, S_PORT},
    {"beacon-port", required_argument, NULL, S_BEACON_PORT},
    {"no-beacon", no_argument, NULL, S_NO_BEACON},
    {"seeds", required_argument, NULL, S_SEEDS},
    {"beacon-interval", required_argument, NULL, S_BEACON_INTERVAL},
    {"heartbeat", required_argument, NULL, S_HEARTBEAT},
    {"peer-timeout", required_argument, NULL, S_PEER_TIMEOUT},
    {"control", required_argument, NULL, S_CONTROL},
    {"data", required_argument, NULL, S_DATA},
    {"config", required_argument, NULL, S_CONFIG},
    {"help", no_argument, NULL, S_HELP},
    {"version", no_argument, NULL, S_VERSION},
    {NULL, 0, NULL, 0},
};

static void
s_say (char *error, size_t size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, size, format, args);
    va_end (args);
}

//  Parses an unsigned decimal within [min, max]: digits only.
static bool
s_number (const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
    if (!text || !*text || strlen (text) > 10)
        return false;
    uint64_t result = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        result = result * 10 + (uint64_t)(*c - '0');
    }
    if (result < min || result > max)
        return false;
    *value = result;
    return true;
}

static bool
s_transport (const char *text, meshq_transport_t *transport)
{
    static const char *names[] = {"auto", "multicast", "broadcast", "ipv6"};
    for (int i = 0; i < 4; i++)
        if (streq (text, names[i])) {
            *transport = (meshq_transport_t)i;
            return true;
        }
    return false;
}

static bool
s_boolean (const char *text, bool *value)
{
    if (streq (text, "1") || streq (text, "true") || streq (text, "yes")) {
        *value = true;
        return true;
    }
    if (streq (text, "0") || streq (text, "false") || streq (text, "no")) {
        *value = false;
        return true;
    }
    return false;
}

static void
s_set (char **field, const char *value)
{
    free (*field);
    *field = strdup (value);
    assert (*field);
}

//  Applies one setting by its code; set[code] says the flag gave it.
//  Returns false with a sentence in error for a bad value.
static bool
s_apply (meshq_agent_config_t *config, int code, const char *value, char *error,
         size_t size)
{
    uint64_t number = 0;
    switch (code) {
        case S_NAME:
            s_set (&config->name, value);
            break;
        case S_MESH:
            s_set (&config->mesh, value);
            break;
        case S_VHOST:
            s_set (&config->vhost, value);
            break;
        case S_INTERFACE:
            s_set (&config->interface, value);
            break;
        case S_SEEDS:
            s_set (&config->seeds, value);
            break;
        case S_CONTROL:
            s_set (&config->control, value);
            break;
        case S_DATA:
            s_set (&config->data, value);
            break;
        case S_CONFIG:
            s_set (&config->config_file, value);
            break;
        case S_TRANSPORT:
            if (!s_transport (value, &config->transport)) {
                s_say (error, size,
                       "transport '%s': use auto, multicast, broadcast or "
                       "ipv6",
                       value);
                return false;
            }
            break;
        case S_PORT:
        case S_BEACON_PORT:
            if (!s_number (value, code == S_PORT ? 0 : 1, 65535, &number)) {
                s_say (error, size, "%s '%s': not a port number %s..65535",
                       code == S_PORT ? "port" : "beacon-port", value,
                       code == S_PORT ? "0" : "1");
                return false;
            }
            if (code == S_PORT)
                config->port = (uint16_t)number;
            else
                config->beacon_port = (uint16_t)number;
            break;
        case S_NO_BEACON:
            if (!s_boolean (value, &config->no_beacon)) {
                s_say (error, size, "no-beacon '%s': use true or false", value);
                return false;
            }
            break;
        case S_BEACON_INTERVAL:
        case S_HEARTBEAT:
        case S_PEER_TIMEOUT: {
            const char *what = code == S_BEACON_INTERVAL ? "beacon-interval"
                               : code == S_HEARTBEAT     ? "heartbeat"
                                                         : "peer-timeout";
            if (!s_number (value, 10, 600000, &number)) {
                s_say (error, size,
                       "%s '%s': not a number of milliseconds 10..600000", what,
                       value);
                return false;
            }
            if (code == S_BEACON_INTERVAL)
                config->beacon_interval_ms = (uint32_t)number;
            else if (code == S_HEARTBEAT)
                config->heartbeat_ms = (uint32_t)number;
            else
                config->peer_timeout_ms = (uint32_t)number;
            break;
        }
        case S_HELP:
            config->help = true;
            break;
        case S_VERSION:
            config->version = true;
            break;
        default:
            assert (false);
    }
    return true;
}

//  Applies the file's keys that no flag set.
static meshq_config_status_t
s_load (meshq_agent_config_t *config, const bool *set, char *error, size_t size)
{
    zconfig_t *root = zconfig_load (config->config_file);
    if (!root) {
        s_say (error, size,
               "cannot read config file '%s': missing, unreadable or not "
               "ZPL",
               config->config_file);
        return MESHQ_CONFIG_FILE;
    }
    meshq_config_status_t status = MESHQ_CONFIG_OK;
    for (zconfig_t *item = zconfig_child (root); item && !status;
         item = zconfig_next (item)) {
        const char *key = zconfig_name (item);
        const char *value = zconfig_value (item);
        const struct option *option = s_options;
        while (option->name && !streq (option->name, key))
            option++;
        int code = option->val;
        if (!option->name || code == S_CONFIG || code == S_HELP ||
            code == S_VERSION) {
            s_say (error, size,
                   "%s: unknown key '%s' (keys are the flags' "
                   "names, such as name, interface, seeds)",
                   config->config_file, key);
            status = MESHQ_CONFIG_FILE;
        } else if (zconfig_child (item)) {
            s_say (error, size,
                   "%s: key '%s' has children; settings are "
                   "top-level keys",
                   config->config_file, key);
            status = MESHQ_CONFIG_FILE;
        } else if (!set[code - S_NAME]) {
            char detail[256];
            if (!s_apply (config, code, value ? value : "", detail,
                          sizeof detail)) {
                s_say (error, size, "%s: %s", config->config_file, detail);
                status = MESHQ_CONFIG_FILE;
            }
        }
    }
    zconfig_destroy (&root);
    return status;
}

meshq_config_status_t
meshq_agent_config_parse (meshq_agent_config_t *config, int argc, char *argv[],
                          char *error, size_t error_size)
{
    memset (config, 0, sizeof *config);
    bool set[S_VERSION - S_NAME + 1] = {false};
    opterr = 0;  //  We say what is wrong ourselves.
    optind = 1;
    int code;
    //  ":" first: a missing value is ':', an unknown flag '?'.
    while ((code = getopt_long (argc, argv, ":h", s_options, NULL)) != -1) {
        if (code == 'h')
            code = S_HELP;
        if (code == ':') {
            s_say (error, error_size, "option '%s' needs a value",
                   argv[optind - 1]);
            return MESHQ_CONFIG_USAGE;
        }
        if (code == '?') {
            s_say (error, error_size, "unknown option '%s'", argv[optind - 1]);
            return MESHQ_CONFIG_USAGE;
        }
        if (!s_apply (config, code, optarg ? optarg : "true", error,
                      error_size))
            return MESHQ_CONFIG_USAGE;
        set[code - S_NAME] = true;
    }
    if (optind < argc) {
        s_say (error, error_size,
               "unexpected argument '%s'; settings are --flags", argv[optind]);
        return MESHQ_CONFIG_USAGE;
    }
    if (config->config_file)
        return s_load (config, set, error, error_size);
    return MESHQ_CONFIG_OK;
}

void
meshq_agent_config_fini (meshq_agent_config_t *config)
{
    free (config->name);
    free (config->mesh);
    free (config->vhost);
    free (config->interface);
    free (config->seeds);
    free (config->control);
    free (config->data);
    free (config->config_file);
    memset (config, 0, sizeof *config);
}

void
meshq_agent_config_peers (const meshq_agent_config_t *config,
                          meshq_peers_config_t *peers)
{
    memset (peers, 0, sizeof *peers);
    peers->name = config->name;
    peers->mesh = config->mesh;
    peers->vhost = config->vhost;
    peers->interface = config->interface;
    peers->seeds = config->seeds;
    peers->transport = config->transport;
    peers->port = config->port;
    peers->beacon_port = config->beacon_port;
    peers->no_beacon = config->no_beacon;
    peers->beacon_interval_ms = config->beacon_interval_ms;
    peers->heartbeat_ms = config->heartbeat_ms;
    peers->peer_timeout_ms = config->peer_timeout_ms;
}
