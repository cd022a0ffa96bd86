/*  cmd_health.c - health checks, as rabbitmq-diagnostics has them:
    ping, check_alarms, check_port_connectivity.

    Each prints what it found and exits 0 when the check passes, 1 when
    it fails (alarms raised, a listener not reachable), and 69 when no
    agent answers at all, so a script or a probe can tell "unhealthy"
    from "not there" (docs/OPERATIONS.md).
*/
#include "tool.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

//  Takes only --json (and -p, taken before), or --help: then returns
//  -1 after printing the usage.
static int
s_only_json (meshq_tool_t *tool, const char *verb, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        int matched =
            meshq_tool_flag (verb, argc, argv, &i, "--json", &tool->json);
        if (matched < 0)
            return MESHQ_EXIT_USAGE;
        if (!matched && strcmp (argv[i], "--help") == 0) {
            printf ("usage: meshq %s [--json]\n", verb);
            return -1;
        }
        if (!matched)
            return meshq_tool_usage (verb, "takes only --json");
    }
    return 0;
}

int
meshq_tool_ping (meshq_tool_t *tool, int argc, char **argv)
{
    int exit = s_only_json (tool, "ping", argc, argv);
    if (exit)
        return exit < 0 ? MESHQ_EXIT_OK : exit;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client)
        return exit;
    int rc = meshq_client_ping (client);
    if (rc)
        exit = meshq_tool_fail ("ping", client, rc);
    else if (tool->json)
        printf ("{\"result\":\"ok\"}\n");
    else
        printf ("Ping succeeded\n");
    meshq_client_destroy (&client);
    return exit;
}

int
meshq_tool_check_alarms (meshq_tool_t *tool, int argc, char **argv)
{
    int exit = s_only_json (tool, "check_alarms", argc, argv);
    if (exit)
        return exit < 0 ? MESHQ_EXIT_OK : exit;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client)
        return exit;
    meshq_table_t *status = NULL;
    int rc = meshq_client_status (client, &status);
    if (rc) {
        exit = meshq_tool_fail ("check_alarms", client, rc);
        meshq_client_destroy (&client);
        return exit;
    }
    int column = meshq_table_column_find (status, "alarms");
    const char *alarms = column < 0 ? "" : meshq_table_str (status, 0, column);
    //  The figures an alarm is about, to say why.
    const char *figures[] = {"memory",        "max_memory", "store_bytes",
                             "quota",         "disk_free",  "blocked",
                             "blocked_reason"};
    int count = (int)(sizeof figures / sizeof figures[0]);
    int columns[7];
    for (int i = 0; i < count; i++)
        columns[i] = meshq_table_column_find (status, figures[i]);
    if (tool->json) {
        printf ("{\"alarms\":[");
        char *list = strdup (alarms);
        int n = 0;
        for (char *alarm = strtok (list, ","); alarm;
             alarm = strtok (NULL, ","))
            printf ("%s\"%s\"", n++ ? "," : "", alarm);
        free (list);
        printf ("]");
        for (int i = 0; i < count; i++)
            if (columns[i] >= 0) {
                bool text = meshq_table_column_type (
                                status, (size_t)columns[i]) == MESHQ_COLUMN_STR;
                printf (",\"%s\":%s%s%s", figures[i], text ? "\"" : "",
                        meshq_table_str (status, 0, (size_t)columns[i]),
                        text ? "\"" : "");
            }
        printf ("}\n");
    } else if (*alarms) {
        printf ("alarms raised: %s\n", alarms);
        for (int i = 0; i < count; i++)
            if (columns[i] >= 0)
                printf ("  %-15s %s\n", figures[i],
                        meshq_table_str (status, 0, (size_t)columns[i]));
    } else
        printf ("no alarms\n");
    if (*alarms)
        exit = MESHQ_EXIT_REFUSED;
    meshq_table_destroy (&status);
    meshq_client_destroy (&client);
    return exit;
}

//  Connects a socket to fd within timeout_ms; returns 0 or an errno.
static int
s_connect (int fd, const struct sockaddr *address, socklen_t size,
           int timeout_ms)
{
    if (connect (fd, address, size) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return errno;
    struct pollfd item = {.fd = fd, .events = POLLOUT};
    int ready = poll (&item, 1, timeout_ms);
    if (ready == 0)
        return ETIMEDOUT;
    if (ready < 0)
        return errno;
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt (fd, SOL_SOCKET, SO_ERROR, &error, &length);
    return error;
}

//  Tries a TCP or IPC connection to a listener's endpoint. Returns 0,
//  or -1 with why set; 1 for an endpoint that cannot be tried from
//  another process (inproc://).
static int
s_reach (const char *endpoint, int timeout_ms, char *why, size_t size)
{
    if (strncmp (endpoint, "inproc://", 9) == 0)
        return 1;
    int error = 0;
    if (strncmp (endpoint, "ipc://", 6) == 0) {
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        const char *path = endpoint + 6;
        if (strlen (path) >= sizeof address.sun_path) {
            snprintf (why, size, "path too long");
            return -1;
        }
        strcpy (address.sun_path, path);
        if (*path == '@')  //  An abstract socket, as libzmq writes it.
            address.sun_path[0] = 0;
        int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        error = fd < 0 ? errno
                       : s_connect (fd, (struct sockaddr *)&address,
                                    sizeof address, timeout_ms);
        if (fd >= 0)
            close (fd);
    } else if (strncmp (endpoint, "tcp://", 6) == 0) {
        char host[256];
        snprintf (host, sizeof host, "%s", endpoint + 6);
        char *colon = strrchr (host, ':');
        if (!colon) {
            snprintf (why, size, "no port");
            return -1;
        }
        *colon = 0;
        const char *port = colon + 1;
        char *name = host;
        if (*name == '[') {  //  [IPv6]
            name++;
            name[strcspn (name, "]")] = 0;
        }
        //  A listener on every address is reached on this host's.
        if (strcmp (name, "*") == 0 || strcmp (name, "0.0.0.0") == 0)
            name = "127.0.0.1";
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
        struct addrinfo *found = NULL;
        int rc = getaddrinfo (name, port, &hints, &found);
        if (rc) {
            snprintf (why, size, "%s", gai_strerror (rc));
            return -1;
        }
        int fd = socket (found->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
        error = fd < 0 ? errno
                       : s_connect (fd, found->ai_addr, found->ai_addrlen,
                                    timeout_ms);
        if (fd >= 0)
            close (fd);
        freeaddrinfo (found);
    } else {
        snprintf (why, size, "a transport this check does not try");
        return -1;
    }
    if (error) {
        snprintf (why, size, "%s", strerror (error));
        return -1;
    }
    return 0;
}

int
meshq_tool_check_port_connectivity (meshq_tool_t *tool, int argc, char **argv)
{
    const char *verb = "check_port_connectivity";
    int exit = s_only_json (tool, verb, argc, argv);
    if (exit)
        return exit < 0 ? MESHQ_EXIT_OK : exit;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client)
        return exit;
    meshq_table_t *listeners = NULL;
    int rc = meshq_client_list (client, "listeners", NULL, 0, &listeners);
    if (rc) {
        exit = meshq_tool_fail (verb, client, rc);
        meshq_client_destroy (&client);
        return exit;
    }
    int protocol = meshq_table_column_find (listeners, "protocol");
    int endpoint = meshq_table_column_find (listeners, "endpoint");
    size_t failed = 0, tried = 0;
    if (tool->json)
        printf ("[");
    for (size_t r = 0; r < meshq_table_rows (listeners); r++) {
        const char *where = meshq_table_str (listeners, r, (size_t)endpoint);
        const char *what = meshq_table_str (listeners, r, (size_t)protocol);
        char why[256] = "";
        int reached = s_reach (where, tool->timeout_ms, why, sizeof why);
        const char *result = reached == 0   ? "ok"
                             : reached == 1 ? "skipped (in-process only)"
                                            : "failed";
        failed += reached < 0;
        tried += reached == 0;
        if (tool->json)
            printf ("%s{\"protocol\":\"%s\",\"endpoint\":\"%s\","
                    "\"result\":\"%s\",\"why\":\"%s\"}",
                    r ? "," : "", what, where,
                    reached < 0 ? "failed"
                    : reached   ? "skipped"
                                : "ok",
                    why);
        else
            printf ("%-8s %-40s %s%s%s\n", what, where, result,
                    *why ? ": " : "", why);
    }
    if (tool->json)
        printf ("]\n");
    else if (failed)
        printf ("%zu of %zu listeners not reachable\n", failed, failed + tried);
    else
        printf ("every listener is reachable (%zu)\n", tried);
    if (failed)
        exit = MESHQ_EXIT_REFUSED;
    meshq_table_destroy (&listeners);
    meshq_client_destroy (&client);
    return exit;
}
