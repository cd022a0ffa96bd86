/*  cmd_users.c - users, permissions and vhosts, in rabbitmqctl's words:
    add_user, delete_user, change_password, set_user_tags, list_users,
    set_permissions, clear_permissions, list_permissions,
    list_user_permissions, add_vhost, delete_vhost, list_vhosts.

    A password not given on the command line is read from standard
    input (one line), so that it stays out of the shell's history; on a
    terminal after a "Password: " prompt, with echo off.
*/
#include "args.h"
#include "client_internal.h"
#include "codec_args.h"
#include "tool.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

//  One verb: its request, how many positional arguments, their names.
typedef struct {
    const char *verb;     //  Command-line verb.
    const char *request;  //  Request sent to the agent.
    int min, max;         //  Positional arguments.
    const char *usage;    //  After the verb.
    const char *list;     //  For lists: the list's name.
} s_verb_t;

static const s_verb_t s_verbs[] = {
    {"add_user", "ADD_USER", 1, 2, "USER [PASSWORD] (else read from stdin)",
     NULL},
    {"delete_user", "DELETE_USER", 1, 1, "USER", NULL},
    {"change_password", "CHANGE_PASSWORD", 1, 2,
     "USER [PASSWORD] (else read from stdin)", NULL},
    {"set_user_tags", "SET_USER_TAGS", 1, 9,
     "USER [TAG ...] (administrator, management, monitoring)", NULL},
    {"list_users", "LIST_USERS", 0, 0, "", "users"},
    {"set_permissions", "SET_PERMISSIONS", 4, 4,
     "[-p VHOST] USER CONFIGURE WRITE READ", NULL},
    {"clear_permissions", "CLEAR_PERMISSIONS", 1, 1, "[-p VHOST] USER", NULL},
    {"list_permissions", "LIST_PERMISSIONS", 0, 0, "[-p VHOST]", "permissions"},
    {"list_user_permissions", "LIST_USER_PERMISSIONS", 1, 1, "USER",
     "permissions"},
    {"add_vhost", "ADD_VHOST", 1, 1, "VHOST", NULL},
    {"delete_vhost", "DELETE_VHOST", 1, 1, "VHOST", NULL},
    {"list_vhosts", "LIST_VHOSTS", 0, 0, "", "vhosts"},
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

static void
s_print_span (meshq_span_t span, bool json)
{
    if (!json) {
        printf ("%.*s", (int)span.size, span.data ? span.data : "");
        return;
    }
    putchar ('"');
    for (uint32_t i = 0; i < span.size; i++) {
        unsigned char c = (unsigned char)span.data[i];
        if (c == '"' || c == '\\')
            printf ("\\%c", c);
        else if (c < 0x20)
            printf ("\\u%04x", c);
        else
            putchar (c);
    }
    putchar ('"');
}

static void
s_print_list (const char *verb, meshq_span_t cursor, bool json)
{
    //  Columns by verb: JSON key, header, argument.
    const char *names[4] = {NULL}, *headers[4] = {NULL};
    int fields[4] = {0};
    int count = 0;
    if (strcmp (verb, "list_users") == 0) {
        names[0] = "user", headers[0] = "user", fields[0] = MESHQ_A_USER;
        names[1] = "tags", headers[1] = "tags", fields[1] = MESHQ_A_TAGS;
        count = 2;
    } else if (strcmp (verb, "list_vhosts") == 0) {
        names[0] = "name", headers[0] = "name", fields[0] = MESHQ_A_VHOST;
        count = 1;
    } else {
        bool by_user = strcmp (verb, "list_user_permissions") == 0;
        names[0] = by_user ? "vhost" : "user";
        headers[0] = names[0];
        fields[0] = by_user ? MESHQ_A_VHOST : MESHQ_A_USER;
        names[1] = "configure", headers[1] = "configure";
        fields[1] = MESHQ_A_CONFIGURE;
        names[2] = "write", headers[2] = "write", fields[2] = MESHQ_A_WRITE;
        names[3] = "read", headers[3] = "read", fields[3] = MESHQ_A_READ;
        count = 4;
    }
    if (json)
        printf ("[");
    else {
        for (int c = 0; c < count; c++)
            printf ("%s%s", c ? "\t" : "", headers[c]);
        printf ("\n");
    }
    meshq_args_t row;
    bool first = true;
    while (meshq_codec_list_next (&cursor, &row)) {
        if (json)
            printf ("%s{", first ? "" : ",");
        first = false;
        for (int c = 0; c < count; c++) {
            meshq_span_t span = {0};
            switch (fields[c]) {
                case MESHQ_A_USER:
                    span = row.user;
                    break;
                case MESHQ_A_TAGS:
                    span = row.tags;
                    break;
                case MESHQ_A_VHOST:
                    span = row.vhost;
                    break;
                case MESHQ_A_CONFIGURE:
                    span = row.configure;
                    break;
                case MESHQ_A_WRITE:
                    span = row.write;
                    break;
                default:
                    span = row.read;
                    break;
            }
            if (json)
                printf ("%s\"%s\":", c ? "," : "", names[c]);
            else if (c)
                printf ("\t");
            s_print_span (span, json);
        }
        printf (json ? "}" : "\n");
    }
    if (json)
        printf ("]\n");
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

    meshq_args_t args;
    memset (&args, 0, sizeof args);
    char *password = NULL;
    char tags[256] = "";
    const char *vhost = tool->vhost ? tool->vhost : "/";
    if (strstr (verb->verb, "vhost") && count)
        MESHQ_ARGS_SET (&args, VHOST, vhost, meshq_span (positional[0]));
    else {
        if (strstr (verb->verb, "permissions"))
            MESHQ_ARGS_SET (&args, VHOST, vhost, meshq_span (vhost));
        if (count)
            MESHQ_ARGS_SET (&args, USER, user, meshq_span (positional[0]));
    }
    if (strcmp (verb->verb, "add_user") == 0 ||
        strcmp (verb->verb, "change_password") == 0) {
        password = count > 1 ? strdup (positional[1]) : s_read_password ();
        if (!password)
            return meshq_tool_usage (verb->verb,
                                     "no password on the command line or "
                                     "standard input");
        MESHQ_ARGS_SET (&args, PASSWORD, password, meshq_span (password));
    } else if (strcmp (verb->verb, "set_user_tags") == 0) {
        for (int i = 1; i < count; i++)
            snprintf (tags + strlen (tags), sizeof tags - strlen (tags), "%s%s",
                      i > 1 ? "," : "", positional[i]);
        MESHQ_ARGS_SET (&args, TAGS, tags, meshq_span (tags));
    } else if (strcmp (verb->verb, "set_permissions") == 0) {
        MESHQ_ARGS_SET (&args, CONFIGURE, configure,
                        meshq_span (positional[1]));
        MESHQ_ARGS_SET (&args, WRITE, write, meshq_span (positional[2]));
        MESHQ_ARGS_SET (&args, READ, read, meshq_span (positional[3]));
    }

    int exit = 0;
    meshq_client_t *client = meshq_tool_connect_admin (tool, &exit);
    if (!client) {
        free (password);
        return exit;
    }
    zmsg_t *reply = NULL;
    int rc = meshq_client_call (client, verb->request, &args, &reply);
    if (password) {
        memset (password, 0, strlen (password));
        free (password);
    }
    if (rc)
        exit = meshq_tool_fail (verb->verb, client, rc);
    else if (verb->list) {
        zmsg_first (reply);
        zframe_t *frame = zmsg_next (reply);
        uint64_t rid;
        meshq_span_t cursor;
        uint32_t rows;
        const char *why = NULL;
        if (meshq_codec_decode_list (zframe_data (frame), zframe_size (frame),
                                     verb->list, &rid, &cursor, &rows, &why)) {
            fprintf (stderr, "meshq: %s: malformed answer: %s\n", verb->verb,
                     why);
            exit = MESHQ_EXIT_SOFTWARE;
        } else
            s_print_list (verb->verb, cursor, tool->json);
    } else
        printf ("%s: done\n", verb->verb);
    zmsg_destroy (&reply);
    meshq_client_destroy (&client);
    return exit;
}
