/*  meshq_agent.c - meshq-agent, the queue agent daemon.

    A thin main over the engine actor (agent.c): reads the configuration
    file and the flags (flags win), starts the engine on its client
    endpoint, and runs until SIGINT or SIGTERM. docs/OPERATIONS.md lists
    every setting.

    meshq-agent [--name NAME] [--data DIR] [--control ENDPOINT]
                [--config FILE] [--max-memory BYTES] [--quota BYTES]
                [--log LEVEL]
*/
#include "agent.h"
#include "meshq.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_USAGE                                                                \
    "usage: meshq-agent [--name NAME] [--data DIR] [--control ENDPOINT]\n"     \
    "                   [--config FILE] [--max-memory BYTES] [--quota "        \
    "BYTES]\n"                                                                 \
    "                   [--log error|warning|notice|info|debug]\n"

//  Settings as strings, from the file then the flags.
typedef struct {
    char *name;        //  Node name.
    char *data;        //  Store directory.
    char *control;     //  Client endpoints, comma-separated.
    char *max_memory;  //  Bytes.
    char *quota;       //  Bytes.
    char *log;         //  Level.
} s_settings_t;

static int
s_usage (const char *why)
{
    fprintf (stderr, "meshq-agent: %s\n%s", why, S_USAGE);
    return 64;  //  EX_USAGE
}

static void
s_set (char **field, const char *value)
{
    free (*field);
    *field = value ? strdup (value) : NULL;
}

//  Reads the ZPL file: keys under 'agent/' (name, data, control, ...).
static int
s_read_config (const char *path, s_settings_t *settings)
{
    zconfig_t *root = zconfig_load (path);
    if (!root) {
        fprintf (stderr, "meshq-agent: cannot read config file %s: %s\n", path,
                 errno ? strerror (errno) : "not valid ZPL");
        return 78;  //  EX_CONFIG
    }
    static const char *keys[] = {"name",       "data",  "control",
                                 "max_memory", "quota", "log"};
    char **fields[] = {&settings->name,    &settings->data,
                       &settings->control, &settings->max_memory,
                       &settings->quota,   &settings->log};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char path_key[64];
        snprintf (path_key, sizeof path_key, "agent/%s", keys[i]);
        const char *value = zconfig_get (root, path_key, NULL);
        if (value)
            s_set (fields[i], value);
    }
    //  Unknown keys are a mistake the operator wants to hear about.
    zconfig_t *agent = zconfig_locate (root, "agent");
    for (zconfig_t *item = agent ? zconfig_child (agent) : NULL; item;
         item = zconfig_next (item)) {
        bool known = false;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            known |= streq (zconfig_name (item), keys[i]);
        if (!known) {
            fprintf (stderr, "meshq-agent: %s: unknown key 'agent/%s'\n", path,
                     zconfig_name (item));
            zconfig_destroy (&root);
            return 78;
        }
    }
    zconfig_destroy (&root);
    return 0;
}

static int
s_bytes (const char *what, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno || *end || !*text || *text == '-') {
        char why[128];
        snprintf (why, sizeof why, "%s takes a number of bytes, not '%s'", what,
                  text);
        return s_usage (why);
    }
    *out = value;
    return 0;
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

int
main (int argc, char *argv[])
{
    s_settings_t settings = {0};
    static const struct option options[] = {
        {"name", required_argument, NULL, 'n'},
        {"data", required_argument, NULL, 'd'},
        {"control", required_argument, NULL, 'c'},
        {"config", required_argument, NULL, 'f'},
        {"max-memory", required_argument, NULL, 'm'},
        {"quota", required_argument, NULL, 'q'},
        {"log", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    //  The file first, so that flags win whatever their order.
    for (int i = 1; i < argc - 1; i++)
        if (streq (argv[i], "--config")) {
            int rc = s_read_config (argv[i + 1], &settings);
            if (rc)
                return rc;
        }
    int opt;
    while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
            case 'n':
                s_set (&settings.name, optarg);
                break;
            case 'd':
                s_set (&settings.data, optarg);
                break;
            case 'c':
                s_set (&settings.control, optarg);
                break;
            case 'f':
                break;  //  Read above.
            case 'm':
                s_set (&settings.max_memory, optarg);
                break;
            case 'q':
                s_set (&settings.quota, optarg);
                break;
            case 'l':
                s_set (&settings.log, optarg);
                break;
            case 'h':
                printf ("%s", S_USAGE);
                return 0;
            default:
                return s_usage ("unknown option");
        }
    }
    if (optind < argc)
        return s_usage ("unexpected argument");

    meshq_agent_config_t config;
    meshq_agent_config_init (&config);
    char host[64] = "agent";
    gethostname (host, sizeof host - 1);
    const char *name = settings.name ? settings.name : host;
    for (const char *c = name; *c; c++)
        if (!isalnum ((unsigned char)*c) && !strchr ("-_.", *c))
            return s_usage ("--name takes letters, digits, '-', '_', '.'");
    if (!*name || strlen (name) >= sizeof config.name)
        return s_usage ("--name takes 1 to 63 characters");
    snprintf (config.name, sizeof config.name, "%s", name);
    if (settings.data)
        snprintf (config.data, sizeof config.data, "%s", settings.data);
    else
        s_default_data (config.name, config.data, sizeof config.data);
    snprintf (config.endpoints, sizeof config.endpoints, "%s",
              settings.control ? settings.control : MESHQ_DEFAULT_ENDPOINT);
    int rc = 0;
    if (settings.max_memory)
        rc = s_bytes ("--max-memory", settings.max_memory, &config.max_memory);
    if (!rc && settings.quota)
        rc = s_bytes ("--quota", settings.quota, &config.store.quota);
    if (rc)
        return rc;
    if (settings.log) {
        static const char *levels[] = {"error", "warning", "notice", "info",
                                       "debug"};
        int level = -1;
        for (int i = 0; i < 5; i++)
            if (streq (settings.log, levels[i]))
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
        //  Run until a signal; CZMQ's handler makes the wait return.
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
    }
    zstr_free (&status);
    zstr_free (&why);
    zactor_destroy (&agent);
    free (settings.name);
    free (settings.data);
    free (settings.control);
    free (settings.max_memory);
    free (settings.quota);
    free (settings.log);
    return exit;
}
