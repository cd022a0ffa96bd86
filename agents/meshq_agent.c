/*  meshq_agent.c - the meshq-agent daemon: a thin main over the agent.

    Parses flags and the config file, starts the agent actor, and runs
    until SIGINT or SIGTERM, when it stops the agent (which says BYE to
    its peers) and exits 0. Exit codes follow sysexits: 64 for bad
    flags, 78 for a bad config file, 1 when the agent cannot start (the
    reason is printed: an interface that is not there, a port in use).
*/
#include "agent.h"
#include "meshq.h"

#include <stdio.h>

#define S_EX_USAGE  64
#define S_EX_CONFIG 78

int
main (int argc, char *argv[])
{
    meshq_agent_config_t config;
    char error[512];
    meshq_config_status_t status =
        meshq_agent_config_parse (&config, argc, argv, error, sizeof error);
    if (status != MESHQ_CONFIG_OK) {
        fprintf (stderr, "meshq-agent: %s\n", error);
        if (status == MESHQ_CONFIG_USAGE)
            fprintf (stderr, "Try 'meshq-agent --help'.\n");
        meshq_agent_config_fini (&config);
        return status == MESHQ_CONFIG_USAGE ? S_EX_USAGE : S_EX_CONFIG;
    }
    if (config.help || config.version) {
        if (config.help)
            fputs (meshq_agent_usage, stdout);
        else
            printf ("meshq-agent %s\n", MESHQ_AGENT_VERSION);
        meshq_agent_config_fini (&config);
        return 0;
    }
    zsys_init ();
    zsys_set_logident ("meshq-agent");
    zsys_set_logstream (stderr);
    zactor_t *agent = zactor_new (meshq_agent, &config);
    assert (agent);
    zstr_send (agent, "START");
    char *verb = NULL, *why = NULL;
    int rc = MESHQ_EIO;
    zsock_recv (agent, "sis", &verb, &rc, &why);
    if (rc) {
        fprintf (stderr, "meshq-agent: cannot start: %s\n", why ? why : "");
        free (verb);
        free (why);
        zactor_destroy (&agent);
        meshq_agent_config_fini (&config);
        return 1;
    }
    free (verb);
    free (why);
    //  SIGINT and SIGTERM interrupt this wait (CZMQ's handler sets
    //  zsys_interrupted); the agent sends nothing up its pipe.
    while (!zsys_interrupted) {
        char *message = zstr_recv (agent);
        if (!message)
            break;
        free (message);
    }
    zsys_notice ("agent: stopping");
    zactor_destroy (&agent);
    meshq_agent_config_fini (&config);
    return 0;
}
