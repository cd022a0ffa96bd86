/*  common.h - what every example shares: its options and its plumbing.

    Each example takes the same options, then the tutorial's own
    arguments:

        --agent ENDPOINT  the agent to talk to (default: $MESHQ_AGENT,
                          else ipc:///tmp/meshq-agent.ipc)
        --user U          user name (default guest)
        --password P      password (default guest)
        --vhost V         the virtual host to work in (default "/")
        --count N         receivers only: exit after N messages
                          (default: run until Ctrl-C)

    example_connect reads them and connects; example_next hands a
    receiver its next delivery until --count or Ctrl-C says stop. The
    rest of each example is the tutorial, in meshq's words.
*/
#ifndef MESHQ_EXAMPLES_COMMON_H_INCLUDED
#define MESHQ_EXAMPLES_COMMON_H_INCLUDED

#include <meshq.h>

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *agent;     //  --agent, or NULL for the default.
    const char *user;      //  --user.
    const char *password;  //  --password.
    const char *vhost;     //  --vhost.
    long count;            //  --count, or 0: no limit.
    long received;         //  Deliveries handed out by example_next.
    int argc;              //  The tutorial's own arguments...
    char **argv;           //  ...after the options.
} example_t;

static volatile sig_atomic_t s_example_stop;  //  Ctrl-C or SIGTERM seen.

static void
s_example_on_signal (int signum)
{
    (void)signum;
    s_example_stop = 1;
}

//  Prints the usage and exits with code.
static _Noreturn void
s_example_usage (const char *program, const char *usage, int code)
{
    fprintf (code ? stderr : stdout,
             "usage: %s [--agent ENDPOINT] [--user U] [--password P] "
             "[--vhost V] %s\n",
             program, usage);
    exit (code);
}

//  Stops the program with a message if rc is an error.
static inline void
example_check (meshq_client_t *client, int rc, const char *what)
{
    if (rc == 0)
        return;
    const char *why = client ? meshq_client_error (client) : "";
    fprintf (stderr, "%s: %s\n", what, *why ? why : meshq_strerror (rc));
    exit (1);
}

//  Reads the options and at least min_args of the tutorial's own
//  arguments (usage names them), connects to the agent and returns the
//  client. Exits with a message on failure.
static inline meshq_client_t *
example_connect (example_t *self, int argc, char **argv, const char *usage,
                 int min_args)
{
    static const struct option options[] = {
        {"agent", required_argument, NULL, 'a'},
        {"user", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'p'},
        {"vhost", required_argument, NULL, 'v'},
        {"count", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset (self, 0, sizeof *self);
    self->user = "guest";
    self->password = "guest";
    self->vhost = "/";
    int opt;
    while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
            case 'a':
                self->agent = optarg;
                break;
            case 'u':
                self->user = optarg;
                break;
            case 'p':
                self->password = optarg;
                break;
            case 'v':
                self->vhost = optarg;
                break;
            case 'c':
                self->count = strtol (optarg, &end, 10);
                if (self->count <= 0 || *end)
                    s_example_usage (argv[0], usage, 64);
                break;
            case 'h':
                s_example_usage (argv[0], usage, 0);
            default:
                s_example_usage (argv[0], usage, 64);
        }
    }
    self->argc = argc - optind;
    self->argv = argv + optind;
    if (self->argc < min_args)
        s_example_usage (argv[0], usage, 64);
    //  Lines reach a pipe as they are printed, not when the buffer fills.
    setvbuf (stdout, NULL, _IOLBF, 0);

    //  Ctrl-C and SIGTERM end a receiver cleanly: it says goodbye and
    //  its agent requeues what it had not acked. The signals are held
    //  off while the client starts its threads, so they inherit the
    //  block and only this thread is interrupted.
    sigset_t signals, previous;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, &previous);
    meshq_client_t *client = meshq_client_new ();
    meshq_client_set_credentials (client, self->user, self->password);
    meshq_client_set_vhost (client, self->vhost);
    int rc = meshq_client_connect (client, self->agent);
    struct sigaction action = {.sa_handler = s_example_on_signal};
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    pthread_sigmask (SIG_SETMASK, &previous, NULL);
    example_check (client, rc, "connect");
    return client;
}

//  Waits for the next delivery to this client's consumer. Returns it
//  (the caller destroys it), or NULL once --count deliveries were
//  handed out or Ctrl-C was pressed.
static inline meshq_delivery_t *
example_next (example_t *self, meshq_client_t *client)
{
    if (self->count && self->received == self->count)
        return NULL;
    meshq_delivery_t *delivery = NULL;
    int rc;
    //  A signal ends the wait (MESHQ_EINTR); go on unless it said stop.
    do
        rc = meshq_client_recv (client, -1, &delivery);
    while (rc == MESHQ_EINTR && !s_example_stop);
    if (s_example_stop) {
        meshq_delivery_destroy (&delivery);
        return NULL;
    }
    example_check (client, rc, "receive");
    self->received++;
    return delivery;
}

//  Declares a queue for this connection alone, as the tutorial's
//  queue_declare ('', exclusive) does: the agent names it (amq.gen-...),
//  nobody else may use it, and it goes when the client does. Copies its
//  name into out.
static inline const char *
example_temporary_queue (meshq_client_t *client, char *out, size_t size)
{
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.durable = false;
    options.exclusive = true;
    example_check (client, meshq_client_declare_queue (client, "", &options),
                   "declare a temporary queue");
    snprintf (out, size, "%s", meshq_client_queue_name (client));
    return out;
}

//  True once Ctrl-C or SIGTERM was received.
static inline bool
example_stopped (void)
{
    return s_example_stop != 0;
}

//  The body of a message as a string in out (bodies here are text).
static inline const char *
example_body (const meshq_msg_t *msg, char *out, size_t size)
{
    size_t body_size;
    const char *body = meshq_msg_body (msg, &body_size);
    snprintf (out, size, "%.*s", (int)body_size, body ? body : "");
    return out;
}

//  Prints each delivery's body, after its routing key when with_key,
//  until example_next says stop.
static inline void
example_print_deliveries (example_t *self, meshq_client_t *client,
                          bool with_key)
{
    meshq_delivery_t *delivery;
    while ((delivery = example_next (self, client))) {
        char body[1024];
        const char *key = meshq_msg_routing_key (delivery->msg);
        printf (" [x] %s%s%s\n", with_key && key ? key : "",
                with_key ? ":" : "",
                example_body (delivery->msg, body, sizeof body));
        meshq_delivery_destroy (&delivery);
    }
}

//  Joins the tutorial arguments from first on with spaces into out, or
//  copies fallback when there are none.
static inline const char *
example_join (const example_t *self, int first, const char *fallback, char *out,
              size_t size)
{
    snprintf (out, size, "%s", first < self->argc ? "" : fallback);
    for (int i = first; i < self->argc; i++) {
        size_t used = strlen (out);
        snprintf (out + used, size - used, "%s%s", i > first ? " " : "",
                  self->argv[i]);
    }
    return out;
}

#endif
