/*  cmd_users.c - users, permissions and vhosts, in rabbitmqctl's words:
    add_user, delete_user, change_password, set_user_tags, list_users,
    set_permissions, clear_permissions, list_permissions,
    list_user_permissions, add_vhost, delete_vhost, list_vhosts.

    A password not given on the command line is read from standard
    input (one line), so that it stays out of the shell's history; on a
    terminal after a "Password: " prompt, with echo off.
*/
#include "tool.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

//  One verb: its request, how many positional arguments, their names.
typedef struct {
    const char *verb;   //  Command-line verb.
    int min, max;       //  Positional arguments.
    const char *usage;  //  After the verb.
    const char *list;   //  For lists: the list's name.
} s_verb_t;

static const s_verb_t s_verbs[] = {
    {"add_user", 1, 2, "USER [PASSWORD] (else read from stdin)", NULL},
    {"delete_user", 1, 1, "USER", NULL},
    {"change_password", 1, 2, "USER [PASSWORD] (else read from stdin)", NULL},
    {"set_user_tags", 1, 9,
     "USER [TAG ...] (administrator, management, monitoring)", NULL},
    {"list_users", 0, 0, "", "users"},
    {"set_permissions", 4, 4, "[-p VHOST] USER CONFIGURE WRITE READ", NULL},
    {"clear_permissions", 1, 1, "[-p VHOST] USER", NULL},
    {"list_permissions", 0, 0, "[-p VHOST]", "permissions"},
    {"list_user_permissions", 1, 1, "USER", "user_permissions"},
    {"add_vhost", 1, 1, "VHOST", NULL},
    {"delete_vhost", 1, 1, "VHOST", NULL},
    {"list_vhosts", 0, 0, "", "vhosts"},
};

//  The terminal's settings while a prompt has echo off, to put back.
static struct termios s_saved;
static volatile sig_atomic_t s_echo_off;

//  Puts the terminal's echo back if a signal ends us at the prompt.
static void
s_restore_echo (int sig)
{
    if (s_echo_off)
        tcsetattr (STDIN_FILENO, TCSAFLUSH, &s_saved);
    signal (sig, SIG_DFL);
    raise (sig);
}

//  Reads a password line from standard input; returns NULL on none. On
//  a terminal, prompts "Password: " on standard error and does not
//  echo what is typed.
static char *
s_read_password (void)
{
    bool terminal =
        isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &s_saved) == 0;
    if (terminal) {
        struct termios quiet = s_saved;
        quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHOE | ECHOK | ECHONL);
        signal (SIGINT, s_restore_echo);
        signal (SIGTERM, s_restore_echo);
        signal (SIGHUP, s_restore_echo);
        signal (SIGTSTP, s_restore_echo);
        //  Echo off first: what is typed after the prompt never shows.
        s_echo_off = tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        fputs ("Password: ", stderr);
        fflush (stderr);
    }
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length = getline (&line, &capacity, stdin);
    if (terminal) {
        if (s_echo_off)
            tcsetattr (STDIN_FILENO, TCSAFLUSH, &s_saved);
        s_echo_off = 0;
        fputs ("\n", stderr);  //  The Enter typed was not echoed.
    }
    if (length <= 0) {
        free (line);
        return NULL;
    }
    while (length && (line[length - 1] == '\n' || line[length - 1] == '\r'))
        line[--length] = 0;
    return line;
}

int
meshq_tool_users (meshq_tool_t *tool, int argc, char **argv)
{
    const s_verb_t *verb = NULL;
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++)
        if (strcmp (argv[0], s_verbs[i].verb) == 0)
            verb = &s_verbs[i];
    if (!verb)
        return meshq_tool_usage (argv[0], "unknown verb");
    char *positional[10];
    int count = 0;
    for (int i = 1; i < argc; i++) {
        int matched =
            meshq_tool_flag (verb->verb, argc, argv, &i, "--json", &tool->json);
        if (matched < 0)
            return MESHQ_EXIT_USAGE;
        if (matched)
            continue;
        if (strcmp (argv[i], "--help") == 0) {
            printf ("usage: meshq %s %s\n", verb->verb, verb->usage);
            return MESHQ_EXIT_OK;
        } else if (count == verb->max)
            return meshq_tool_usage (verb->verb, verb->usage);
        else
            positional[count++] = argv[i];
    }
    if (count < verb->min)
        return meshq_tool_usage (verb->verb, verb->usage);

    char *password = NULL;
    char tags[256] = "";
    const char *vhost = tool->vhost ? tool->vhost : "/";
    const char *name = verb->verb;
    if (strcmp (name, "add_user") == 0 ||
        strcmp (name, "change_password") == 0) {
        password = count > 1 ? strdup (positional[1]) : s_read_password ();
        if (!password)
            return meshq_tool_usage (name, "no password on the command line "
                                           "or standard input");
    } else if (strcmp (name, "set_user_tags") == 0)
        for (int i = 1; i < count; i++)
            snprintf (tags + strlen (tags), sizeof tags - strlen (tags), "%s%s",
                      i > 1 ? "," : "", positional[i]);

    int exit = 0;
    meshq_client_t *client = meshq_tool_connect_admin (tool, &exit);
    if (!client) {
        free (password);
        return exit;
    }
    int rc = 0;
    meshq_table_t *table = NULL;
    if (verb->list)
        rc = meshq_client_list (client, verb->list,
                                strcmp (name, "list_permissions") == 0 ? vhost
                                : count ? positional[0]
                                        : NULL,
                                0, &table);
    else if (strcmp (name, "add_user") == 0)
        rc = meshq_client_add_user (client, positional[0], password);
    else if (strcmp (name, "change_password") == 0)
        rc = meshq_client_change_password (client, positional[0], password);
    else if (strcmp (name, "delete_user") == 0)
        rc = meshq_client_delete_user (client, positional[0]);
    else if (strcmp (name, "set_user_tags") == 0)
        rc = meshq_client_set_user_tags (client, positional[0], tags);
    else if (strcmp (name, "set_permissions") == 0)
        rc = meshq_client_set_permissions (client, vhost, positional[0],
                                           positional[1], positional[2],
                                           positional[3]);
    else if (strcmp (name, "clear_permissions") == 0)
        rc = meshq_client_clear_permissions (client, vhost, positional[0]);
    else if (strcmp (name, "add_vhost") == 0)
        rc = meshq_client_add_vhost (client, positional[0]);
    else
        rc = meshq_client_delete_vhost (client, positional[0]);
    if (password) {
        memset (password, 0, strlen (password));
        free (password);
    }
    if (rc)
        exit = meshq_tool_fail (name, client, rc);
    else if (table) {
        int columns[8];
        int shown = meshq_tool_columns (name, table, NULL, 0, true, columns);
        meshq_tool_print_table (table, columns, shown, tool->json);
    } else
        printf ("%s: done\n", name);
    meshq_table_destroy (&table);
    meshq_client_destroy (&client);
    return exit;
}
