/*  cmd_messages.c - publish and consume from the command line.

    publish sends each BODY argument (or each line of standard input) as
    one message, with confirms, and exits non-zero if any is refused, or
    with --mandatory returned as unroutable.
    consume prints each message (or pipes it to a command) and acks it
    after; with --json one object per line. SIGINT or SIGTERM stops it
    cleanly: it cancels its consumer, returns to the queue what it
    received but did not handle, prints a summary and exits 0.
*/
#include "tool.h"

#include <czmq.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static int
s_send (meshq_client_t *client, meshq_msg_t *msg, const char *body, size_t size,
        int flags, uint64_t *sent)
{
    meshq_msg_set_body (msg, body, size);
    int rc = meshq_client_publish (client, msg, flags);
    if (rc == 0)
        (*sent)++;
    return rc;
}

//  Prints a message returned as unroutable (--mandatory) and counts it.
static void
s_on_return (meshq_client_t *client, const meshq_msg_t *msg, void *arg)
{
    (void)client;
    uint64_t *returned = arg;
    (*returned)++;
    size_t size;
    const unsigned char *body = meshq_msg_body (msg, &size);
    const char *exchange = meshq_msg_exchange (msg);
    //  The body too, so that the operator knows which message it was:
    //  its first 200 bytes, what is not printable as \xNN.
    char shown[200 * 4 + 1];
    size_t used = 0;
    for (size_t i = 0; i < size && i < 200; i++)
        used += (size_t)snprintf (shown + used, sizeof shown - used,
                                  body[i] >= 0x20 && body[i] < 0x7f &&
                                          body[i] != '\\' && body[i] != '\''
                                      ? "%c"
                                      : "\\x%02x",
                                  body[i]);
    shown[used] = 0;
    fprintf (stderr,
             "meshq: publish: returned NO_ROUTE: exchange='%s' "
             "routing_key='%s' (%zu bytes): no queue is bound for it: "
             "body '%s'%s\n",
             exchange ? exchange : "", meshq_msg_routing_key (msg), size, shown,
             size > 200 ? "..." : "");
}

int
meshq_tool_publish (meshq_tool_t *tool, int argc, char **argv)
{
    static const char *usage =
        "[--exchange X] --routing-key K [--transient] [--priority N] "
        "[--header NAME=VALUE ...] [--content-type T] [--correlation-id ID] "
        "[--reply-to Q] [--expiration MS] [--mandatory] [--count N] "
        "[BODY...]  (no BODY: one message per line of standard input)";
    static const struct option options[] = {
        {"exchange", required_argument, NULL, 'x'},
        {"routing-key", required_argument, NULL, 'k'},
        {"transient", optional_argument, NULL, 'T'},
        {"persistent", optional_argument, NULL, 'P'},
        {"priority", required_argument, NULL, 'p'},
        {"header", required_argument, NULL, 'H'},
        {"content-type", required_argument, NULL, 'c'},
        {"correlation-id", required_argument, NULL, 'i'},
        {"reply-to", required_argument, NULL, 'r'},
        {"expiration", required_argument, NULL, 'e'},
        {"mandatory", optional_argument, NULL, 'm'},
        {"count", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    meshq_msg_t *msg = meshq_msg_new ();
    const char *key = NULL;
    int flags = 0;
    int64_t count = 1;
    int opt, bad = 0, index = -1;
    int64_t n;
    while (!bad && (index = -1, opt = getopt_long (argc, argv, "x:k:", options,
                                                   &index)) != -1) {
        char *equals;
        bool flag = false;
        if (opt == 'T' || opt == 'P' || opt == 'm') {
            const char *option = opt == 'T'   ? "--transient"
                                 : opt == 'P' ? "--persistent"
                                              : "--mandatory";
            int took =
                meshq_tool_bool ("publish", option, optarg,
                                 optind < argc ? argv[optind] : NULL, &flag);
            if (took < 0) {
                meshq_msg_destroy (&msg);
                return MESHQ_EXIT_USAGE;
            }
            optind += took;
        }
        switch (opt) {
            case 'x':
                bad = meshq_msg_set_exchange (msg, *optarg ? optarg : NULL);
                break;
            case 'k':
                key = optarg;
                bad = meshq_msg_set_routing_key (msg, optarg);
                break;
            case 'T':
            case 'P':
                meshq_msg_set_delivery_mode (msg, flag == (opt == 'T')
                                                      ? MESHQ_TRANSIENT
                                                      : MESHQ_PERSISTENT);
                break;
            case 'p':
                bad = meshq_tool_number ("publish", "--priority", optarg, 0,
                                         255, &n);
                if (!bad)
                    bad = meshq_msg_set_priority (msg, (int)n);
                break;
            case 'H':
                equals = strchr (optarg, '=');
                if (!equals) {
                    fprintf (stderr,
                             "meshq: publish: --header '%s': takes "
                             "NAME=VALUE\n",
                             optarg);
                    bad = MESHQ_EXIT_USAGE;
                } else {
                    *equals = 0;
                    bad = meshq_msg_set_header_str (msg, optarg, equals + 1);
                }
                break;
            case 'c':
                bad = meshq_msg_set_content_type (msg, optarg);
                break;
            case 'i':
                bad = meshq_msg_set_correlation_id (msg, optarg);
                break;
            case 'r':
                bad = meshq_msg_set_reply_to (msg, optarg);
                break;
            case 'e':
                bad = meshq_tool_number ("publish", "--expiration", optarg, 0,
                                         INT64_MAX, &n);
                if (!bad)
                    bad = meshq_msg_set_expiration (msg, n);
                break;
            case 'm':
                flags =
                    flag ? flags | MESHQ_MANDATORY : flags & ~MESHQ_MANDATORY;
                break;
            case 'n':
                bad = meshq_tool_number ("publish", "--count", optarg, 1,
                                         INT64_MAX, &count);
                break;
            case 'h':
                printf ("usage: meshq publish %s\n", usage);
                meshq_msg_destroy (&msg);
                return MESHQ_EXIT_OK;
            default:
                bad = MESHQ_EXIT_USAGE;  //  getopt said why.
        }
        //  A value the message refused: name the option and the value.
        if (bad < 0 && index >= 0)
            fprintf (stderr, "meshq: publish: --%s '%s': %s\n",
                     options[index].name, optarg ? optarg : "",
                     meshq_strerror (bad));
        else if (bad < 0 && opt == 'x')
            fprintf (stderr, "meshq: publish: -x '%s': %s\n", optarg,
                     meshq_strerror (bad));
        else if (bad < 0 && opt == 'k')
            fprintf (stderr, "meshq: publish: -k '%s': %s\n", optarg,
                     meshq_strerror (bad));
    }
    if (!bad && !key)
        fprintf (stderr, "meshq: publish: --routing-key is required\n");
    if (bad || !key) {
        meshq_msg_destroy (&msg);
        return meshq_tool_usage ("publish", usage);
    }
    int exit = 0;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client) {
        meshq_msg_destroy (&msg);
        return exit;
    }
    meshq_client_set_confirms (client, 1000);
    uint64_t sent = 0, returned = 0;
    meshq_client_set_return_handler (client, s_on_return, &returned);
    int rc = 0;
    for (int64_t round = 0; round < count && rc == 0; round++) {
        if (optind < argc)
            for (int i = optind; i < argc && rc == 0; i++)
                rc = s_send (client, msg, argv[i], strlen (argv[i]), flags,
                             &sent);
        else {
            char *line = NULL;
            size_t capacity = 0;
            ssize_t length;
            while (rc == 0 &&
                   (length = getline (&line, &capacity, stdin)) > 0) {
                if (line[length - 1] == '\n')
                    line[--length] = 0;
                rc = s_send (client, msg, line, (size_t)length, flags, &sent);
            }
            free (line);
            break;  //  Standard input is read once.
        }
    }
    if (rc == 0)
        rc = meshq_client_wait_for_confirms (client, tool->timeout_ms);
    if (rc)
        exit = meshq_tool_fail ("publish", client, rc);
    else if (returned) {
        //  A returned message was not published: say so, and fail.
        fprintf (stderr,
                 "published %" PRIu64 " messages (confirmed), %" PRIu64
                 " returned as unroutable\n",
                 sent - returned, returned);
        exit = MESHQ_EXIT_REFUSED;
    } else
        fprintf (stderr, "published %" PRIu64 " messages (confirmed)\n", sent);
    meshq_client_destroy (&client);
    meshq_msg_destroy (&msg);
    return exit;
}

static void
s_json_string (const char *data, size_t size)
{
    putchar ('"');
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)data[i];
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
s_json_field (const char *name, const char *value, bool *first)
{
    if (!value)
        return;
    printf ("%s\"%s\":", *first ? "" : ",", name);
    s_json_string (value, strlen (value));
    *first = false;
}

//  Prints a delivery as one JSON object on one line.
static void
s_print_json (const meshq_delivery_t *delivery)
{
    const meshq_msg_t *msg = delivery->msg;
    bool first = true;
    printf ("{");
    s_json_field ("queue", delivery->queue, &first);
    s_json_field ("exchange",
                  meshq_msg_exchange (msg) ? meshq_msg_exchange (msg) : "",
                  &first);
    s_json_field ("routing_key", meshq_msg_routing_key (msg), &first);
    s_json_field ("content_type", meshq_msg_content_type (msg), &first);
    s_json_field ("correlation_id", meshq_msg_correlation_id (msg), &first);
    s_json_field ("reply_to", meshq_msg_reply_to (msg), &first);
    printf (",\"priority\":%d,\"redelivered\":%s,\"delivery_count\":%u",
            meshq_msg_priority (msg), delivery->redelivered ? "true" : "false",
            delivery->delivery_count);
    printf (",\"headers\":{");
    for (size_t i = 0; i < meshq_msg_header_count (msg); i++) {
        const char *key;
        const meshq_value_t *value = meshq_msg_header_at (msg, i, &key);
        printf ("%s", i ? "," : "");
        s_json_string (key, strlen (key));
        printf (":");
        if (value->type == MESHQ_VALUE_STR)
            s_json_string (value->u.bytes.data, value->u.bytes.size);
        else if (value->type == MESHQ_VALUE_INT)
            printf ("%" PRId64, value->u.integer);
        else if (value->type == MESHQ_VALUE_BOOL)
            printf ("%s", value->u.boolean ? "true" : "false");
        else if (value->type == MESHQ_VALUE_DOUBLE)
            printf ("%.17g", value->u.number);
        else
            printf ("null");
    }
    size_t size;
    const char *body = meshq_msg_body (msg, &size);
    printf ("},\"body\":");
    s_json_string (body, size);
    printf ("}\n");
}

//  The signal that asks consume to stop, or 0.
static volatile sig_atomic_t s_stop;

static void
s_on_stop_signal (int sig)
{
    s_stop = sig;
}

//  SIGINT and SIGTERM stop consume cleanly: they interrupt waits (no
//  SA_RESTART) and set s_stop.
static void
s_catch_stop_signals (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_stop_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

//  Pipes a body to a shell command; returns its exit status.
static int
s_pipe (const char *command, const char *body, size_t size)
{
    FILE *pipe = popen (command, "w");
    if (!pipe)
        return -1;
    fwrite (body, 1, size, pipe);
    int status = pclose (pipe);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

int
meshq_tool_consume (meshq_tool_t *tool, int argc, char **argv)
{
    static const char *usage =
        "QUEUE [--count N] [--prefetch N] [--idle SECONDS] [--exec CMD] "
        "[--json]  (acks each message after printing it, or after CMD "
        "exits 0; CMD failing requeues it)";
    static const struct option options[] = {
        {"count", required_argument, NULL, 'n'},
        {"prefetch", required_argument, NULL, 'p'},
        {"idle", required_argument, NULL, 'i'},
        {"exec", required_argument, NULL, 'e'},
        {"json", optional_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int64_t count = -1, prefetch = 10, idle = -1;
    const char *command = NULL;
    int opt;
    while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
            case 'n':
                if (meshq_tool_number ("consume", "--count", optarg, 1,
                                       INT64_MAX, &count))
                    return MESHQ_EXIT_USAGE;
                break;
            case 'p':
                if (meshq_tool_number ("consume", "--prefetch", optarg, 1,
                                       UINT16_MAX, &prefetch))
                    return MESHQ_EXIT_USAGE;
                break;
            case 'i':
                if (meshq_tool_number ("consume", "--idle", optarg, 0,
                                       INT32_MAX / 1000, &idle))
                    return MESHQ_EXIT_USAGE;
                break;
            case 'e':
                command = optarg;
                break;
            case 'j': {
                int took = meshq_tool_bool ("consume", "--json", optarg,
                                            optind < argc ? argv[optind] : NULL,
                                            &tool->json);
                if (took < 0)
                    return MESHQ_EXIT_USAGE;
                optind += took;
                break;
            }
            case 'h':
                printf ("usage: meshq consume %s\n", usage);
                return MESHQ_EXIT_OK;
            default:
                return meshq_tool_usage ("consume", usage);
        }
    }
    if (optind != argc - 1 || count == 0 || prefetch < 1)
        return meshq_tool_usage ("consume", usage);
    int exit = 0;
    meshq_client_t *client = meshq_tool_connect (tool, &exit);
    if (!client)
        return exit;
    //  After connecting, so that ours replace any handler set there.
    s_catch_stop_signals ();
    int rc = meshq_client_consume (client, argv[optind], (uint32_t)prefetch,
                                   NULL, 0);
    char tag[256] = "";
    if (rc == 0)
        snprintf (tag, sizeof tag, "%s", meshq_client_consumer_tag (client));
    uint64_t received = 0, acked = 0, returned = 0;
    int64_t idle_deadline = idle < 0 ? INT64_MAX : zclock_mono () + idle * 1000;
    while (rc == 0 && !s_stop && (count < 0 || (int64_t)received < count)) {
        meshq_delivery_t *delivery = NULL;
        //  In slices, so that a signal between two waits is seen.
        int64_t left = idle_deadline - zclock_mono ();
        rc = meshq_client_recv (client,
                                left < 0     ? 0
                                : left < 500 ? (int)left
                                             : 500,
                                &delivery);
        if (rc == MESHQ_EINTR || (rc == MESHQ_ETIMEOUT && left > 500)) {
            rc = 0;
            continue;
        }
        if (rc == MESHQ_ETIMEOUT) {
            rc = 0;
            break;
        }
        if (rc)
            break;
        received++;
        idle_deadline = idle < 0 ? INT64_MAX : zclock_mono () + idle * 1000;
        size_t size;
        const char *body = meshq_msg_body (delivery->msg, &size);
        bool done = true;
        if (command)
            done = s_pipe (command, body, size) == 0;
        else if (tool->json)
            s_print_json (delivery);
        else {
            fwrite (body, 1, size, stdout);
            putchar ('\n');
        }
        fflush (stdout);
        rc = done ? meshq_client_ack (client, delivery->delivery_tag, false)
                  : meshq_client_nack (client, delivery->delivery_tag, false,
                                       true);
        if (done)
            acked++;
        else
            returned++;
        meshq_delivery_destroy (&delivery);
    }
    if (s_stop && rc == 0) {
        //  Stopped by a signal: no more deliveries, and those that came
        //  but were not handled go back to the queue, for the next
        //  consumer, rather than wait for this session to time out.
        rc = meshq_client_cancel (client, tag);
        meshq_delivery_t *delivery = NULL;
        while (rc == 0 && meshq_client_recv (client, 0, &delivery) == 0) {
            rc =
                meshq_client_nack (client, delivery->delivery_tag, false, true);
            returned++;
            meshq_delivery_destroy (&delivery);
        }
        if (rc == 0)
            fprintf (stderr,
                     "consume: stopped by %s: received %" PRIu64
                     " messages, acked %" PRIu64 ", returned %" PRIu64
                     " to the queue\n",
                     s_stop == SIGINT ? "SIGINT" : "SIGTERM", received, acked,
                     returned);
    }
    if (rc)
        exit = meshq_tool_fail ("consume", client, rc);
    meshq_client_destroy (&client);
    return exit;
}
