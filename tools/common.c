/*  common.c - what the meshq command's verbs share. See tool.h. */
#include "tool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static meshq_client_t *
s_connect (const meshq_tool_t *tool, const char *vhost, int *exit)
{
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_vhost (client, vhost);
    meshq_client_set_timeout (client, tool->timeout_ms);
    if (tool->user || tool->password)
        meshq_client_set_credentials (client, tool->user ? tool->user : "",
                                      tool->password ? tool->password : "");
    int rc = meshq_client_connect (client, tool->agent);
    if (rc) {
        *exit = meshq_tool_fail ("connect", client, rc);
        meshq_client_destroy (&client);
    }
    return client;
}

meshq_client_t *
meshq_tool_connect (const meshq_tool_t *tool, int *exit)
{
    return s_connect (tool, tool->vhost ? tool->vhost : "/", exit);
}

meshq_client_t *
meshq_tool_connect_admin (const meshq_tool_t *tool, int *exit)
{
    return s_connect (tool, "/", exit);
}

int
meshq_tool_fail (const char *verb, meshq_client_t *client, int rc)
{
    const char *why = client ? meshq_client_error (client) : "";
    fprintf (stderr, "meshq: %s: %s\n", verb, *why ? why : meshq_strerror (rc));
    switch (rc) {
        case MESHQ_ECONNLOST:
            return MESHQ_EXIT_UNAVAILABLE;
        case MESHQ_ETIMEOUT:
            return MESHQ_EXIT_TEMPFAIL;
        case MESHQ_EINVAL:
        case MESHQ_ERANGE:
            return MESHQ_EXIT_USAGE;
        default:
            return MESHQ_EXIT_REFUSED;
    }
}

int
meshq_tool_usage (const char *verb, const char *usage)
{
    fprintf (stderr, "meshq: %s: %s\n", verb, usage);
    return MESHQ_EXIT_USAGE;
}

int
meshq_tool_size (const char *verb, const char *option, const char *value,
                 uint64_t max, uint64_t *out)
{
    uint64_t size = 0;
    int rc = meshq_size_parse (value, &size);
    if (rc == 0 && size <= max) {
        *out = size;
        return 0;
    }
    if (rc == MESHQ_EINVAL)
        fprintf (stderr, "meshq: %s: %s '%s': " MESHQ_SIZE_HINT "\n", verb,
                 option, value);
    else
        fprintf (stderr, "meshq: %s: %s '%s': more than %" PRIu64 " bytes\n",
                 verb, option, value, max);
    return MESHQ_EXIT_USAGE;
}

//  1 for true, 0 for false, -1 for anything else.
static int
s_truth (const char *text)
{
    if (text && strcmp (text, "true") == 0)
        return 1;
    if (text && strcmp (text, "false") == 0)
        return 0;
    return -1;
}

int
meshq_tool_bool (const char *verb, const char *option, const char *value,
                 const char *next, bool *out)
{
    if (value) {
        if (s_truth (value) < 0) {
            fprintf (stderr, "meshq: %s: %s takes true or false, not '%s'\n",
                     verb, option, value);
            return -1;
        }
        *out = s_truth (value) == 1;
        return 0;
    }
    if (s_truth (next) >= 0) {
        *out = s_truth (next) == 1;
        return 1;
    }
    *out = true;
    return 0;
}

int
meshq_tool_flag (const char *verb, int argc, char **argv, int *i,
                 const char *option, bool *out)
{
    size_t length = strlen (option);
    const char *arg = argv[*i];
    if (strncmp (arg, option, length) != 0 ||
        (arg[length] != 0 && arg[length] != '='))
        return 0;
    const char *value = arg[length] == '=' ? arg + length + 1 : NULL;
    int took = meshq_tool_bool (verb, option, value,
                                *i + 1 < argc ? argv[*i + 1] : NULL, out);
    if (took < 0)
        return -1;
    *i += took;
    return 1;
}

int
meshq_tool_number (const char *verb, const char *option, const char *value,
                   int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long number = strtoll (value, &end, 10);
    if (!*value || *end || errno || number < min || number > max) {
        fprintf (stderr,
                 "meshq: %s: %s '%s': not a whole number in %" PRId64
                 "..%" PRId64 "\n",
                 verb, option, value, min, max);
        return MESHQ_EXIT_USAGE;
    }
    *out = number;
    return 0;
}
