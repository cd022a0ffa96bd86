/*  fuzz_amqp_session.c - libFuzzer target for the whole AMQP input path:
    what a client sends after the protocol header (Start-Ok, Tune-Ok,
    Open, channel methods, content) goes over a TCP socket to a real
    agent engine started in this process (standalone, a temporary data
    directory, no mesh, no HTTP), through the parser, the connection and
    channel state machines and the engine behind them, as a client's
    bytes would.

    Each input is one connection: the protocol header, the input, then
    the end of what the client sends. The agent must answer the header
    with Connection.Start, write nothing but well-formed frames, and
    close the connection once the client is done, within S_DEADLINE_MS:
    a failure aborts (a crash, a leak or undefined behaviour is the
    sanitizers' to report), and so does an agent that stops answering.

    The engine lives across inputs, as a long-running agent does, and is
    started afresh every S_RESTART inputs so that what the inputs leave
    in it (queues, messages) stays bounded. A guest login is made once
    at each start: the auth module remembers a check that passed, so the
    guest logins of the inputs are answered at once and the rest of an
    input is read after it, as a pipelining client's would be. Other
    credentials wait for the password check, and the frames behind them
    meet a connection that is not open yet.

    A heartbeat frame in an input is where its client waits for the
    agent's answers (as a client sends heartbeats while it waits) before
    it sends on: an ack behind one finds the deliveries it acks.

    MESHQ_FUZZ_LOG=1 shows the agent's log.
*/
#include "agent.h"
#include "amqp_door.h"
#include "amqp_wire.h"
#include "fuzz.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  Milliseconds the agent has for one connection.
#define S_DEADLINE_MS 10000
//  Inputs an engine serves before it is started afresh.
#define S_RESTART 5000
//  Largest input sent; libFuzzer's -max_len keeps inputs smaller.
#define S_INPUT_MAX (1u << 20)
//  Bytes of the agent's output kept and checked per connection.
#define S_OUTPUT_MAX (4u << 20)
//  Turns (heartbeats the client waits after) an input has, at most.
#define S_TURNS 8
//  Milliseconds of the agent's silence that end the client's wait.
#define S_QUIET_MS 10
//  Milliseconds the client waits after a heartbeat, at most.
#define S_TURN_MS 500

static zactor_t *s_agent;
static char s_dir[256];
static int s_port;
static unsigned s_inputs;

//  A free loopback port, as the kernel picks one.
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    fuzz_check (fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    fuzz_check (bind (fd, (struct sockaddr *)&address, sizeof address) == 0);
    fuzz_check (getsockname (fd, (struct sockaddr *)&address, &length) == 0);
    close (fd);
    return ntohs (address.sin_port);
}

static int
s_connect (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    fuzz_check (fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons ((uint16_t)s_port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    fuzz_check (connect (fd, (struct sockaddr *)&address, sizeof address) == 0);
    return fd;
}

//  What the agent wrote on one connection.
typedef struct {
    uint8_t *data;
    size_t size;
    bool closed;  //  It closed the connection.
} s_output_t;

//  Where the client's next turn ends: after the next heartbeat frame
//  (at most S_TURNS of them an input), else at the end.
static size_t
s_turn_end (const uint8_t *data, size_t size, size_t from, int *turns)
{
    static const uint8_t heartbeat[] = {8, 0, 0, 0, 0, 0, 0, 0xCE};
    if (*turns >= S_TURNS || size < sizeof heartbeat)
        return size;
    for (size_t at = from; at + sizeof heartbeat <= size; at++)
        if (memcmp (data + at, heartbeat, sizeof heartbeat) == 0) {
            (*turns)++;
            return at + sizeof heartbeat;
        }
    return size;
}

//  Reads what the agent wrote, if anything; false once it closed.
static bool
s_recv (int fd, s_output_t *output)
{
    uint8_t buf[65536];
    ssize_t rc = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
    if (rc == 0 || (rc < 0 && errno != EAGAIN && errno != EINTR)) {
        output->closed = true;
        return false;
    }
    if (rc > 0) {
        size_t keep = S_OUTPUT_MAX - output->size;
        keep = (size_t)rc < keep ? (size_t)rc : keep;
        memcpy (output->data + output->size, buf, keep);
        output->size += keep;
    }
    return true;
}

//  Whether the output holds a Connection.Tune (class 10, method 30) on
//  channel 0 (looked for at every byte: enough for the one login).
static bool
s_has_tune (const s_output_t *output)
{
    const uint8_t *d = output->data;
    for (size_t at = 0; at + 11 <= output->size; at++)
        if (d[at] == 1 && d[at + 1] == 0 && d[at + 2] == 0 && d[at + 7] == 0 &&
            d[at + 8] == 10 && d[at + 9] == 0 && d[at + 10] == 30)
            return true;
    return false;
}

//  Sends data, reading what the agent writes meanwhile, then ends the
//  client's side and reads until the agent closes, or the deadline.
//  After each heartbeat frame in data the client waits, as a client
//  that sends heartbeats while it waits for an answer, until the agent
//  has been quiet for S_QUIET_MS (deliveries go out at the end of the
//  agent's turn: an ack behind a heartbeat finds them). With
//  until_tune, returns instead once a Connection.Tune has come.
static void
s_exchange (int fd, const uint8_t *data, size_t size, bool until_tune,
            s_output_t *output)
{
    int64_t deadline = zclock_mono () + S_DEADLINE_MS;
    size_t sent = 0;
    int turns = 0;
    size_t turn_end = s_turn_end (data, size, 0, &turns);
    int64_t quiet_until = 0;  //  Waiting for the agent to go quiet.
    int64_t turn_limit = 0;   //  That wait's end at the latest.
    bool ended = false;
    output->data = malloc (S_OUTPUT_MAX);
    output->size = 0;
    output->closed = false;
    fuzz_check (output->data != NULL);
    while (!output->closed) {
        if (until_tune && s_has_tune (output))
            return;
        int64_t now = zclock_mono ();
        if (sent == turn_end && turn_end < size) {
            if (!quiet_until) {
                quiet_until = now + S_QUIET_MS;
                turn_limit = now + S_TURN_MS;
            } else if (now >= quiet_until || now >= turn_limit) {
                quiet_until = 0;
                turn_end = s_turn_end (data, size, sent, &turns);
            }
        }
        if (sent == size && !ended && !until_tune) {
            shutdown (fd, SHUT_WR);
            ended = true;
        }
        if (now >= deadline)
            return;
        int64_t wait = quiet_until ? quiet_until - now : deadline - now;
        struct pollfd item = {fd, POLLIN | (sent < turn_end ? POLLOUT : 0), 0};
        if (poll (&item, 1, (int)(wait > 0 ? wait : 0)) <= 0)
            continue;
        if (item.revents & POLLOUT) {
            ssize_t rc = send (fd, data + sent, turn_end - sent,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
            if (rc > 0)
                sent += (size_t)rc;
            else if (rc < 0 && errno != EAGAIN && errno != EINTR)
                sent = turn_end = size;  //  The agent closed.
        }
        if (item.revents & (POLLIN | POLLHUP | POLLERR)) {
            size_t before = output->size;
            s_recv (fd, output);
            //  The agent answers: the quiet starts again.
            if (quiet_until && output->size > before)
                quiet_until = zclock_mono () + S_QUIET_MS;
            if (quiet_until > turn_limit)
                quiet_until = turn_limit;
        }
    }
}

//  The agent's output is AMQP frames, the first a Connection.Start on
//  channel 0; the last may be cut short (a connection ended with output
//  still to write drops it).
static void
s_check_output (const s_output_t *output)
{
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    size_t used;
    meshq_amqp_event_t event;
    meshq_amqp_parser_parse (parser,
                             (const uint8_t *)MESHQ_AMQP_PROTOCOL_HEADER,
                             MESHQ_AMQP_PROTOCOL_HEADER_SIZE, &used, &event);
    fuzz_check (event.type == MESHQ_AMQP_PROTOCOL_OK);
    size_t off = 0;
    int frames = 0;
    while (off < output->size) {
        int rc = meshq_amqp_parser_parse (parser, output->data + off,
                                          output->size - off, &used, &event);
        if (rc || event.type == MESHQ_AMQP_ERROR)
            fprintf (stderr,
                     "fuzz_amqp_session: the agent wrote a bad frame "
                     "at byte %zu: %s\n",
                     off + used, event.reply_text ? event.reply_text : "");
        fuzz_check (rc == 0 && event.type != MESHQ_AMQP_ERROR);
        off += used;
        if (event.type == MESHQ_AMQP_MORE)
            break;
        if (frames++ == 0)
            fuzz_check (event.type == MESHQ_AMQP_METHOD && event.channel == 0 &&
                        event.method.id == AMQP_CONNECTION_START_METHOD);
    }
    //  Every agent answers the protocol header with Connection.Start.
    fuzz_check (frames > 0);
    meshq_amqp_parser_destroy (&parser);
}

//  One guest login, to its Connection.Tune: the auth module then knows
//  guest's password.
static void
s_login (void)
{
    uint8_t stream[512];
    memcpy (stream, MESHQ_AMQP_PROTOCOL_HEADER,
            MESHQ_AMQP_PROTOCOL_HEADER_SIZE);
    amqp_connection_start_ok_t start_ok = {{0, NULL},
                                           amqp_cstring_bytes ("PLAIN"),
                                           {12, "\0guest\0guest"},
                                           amqp_cstring_bytes ("en_US")};
    ssize_t size = meshq_amqp_encode_method (
        stream + MESHQ_AMQP_PROTOCOL_HEADER_SIZE,
        sizeof stream - MESHQ_AMQP_PROTOCOL_HEADER_SIZE, MESHQ_AMQP_FRAME_MAX,
        0, AMQP_CONNECTION_START_OK_METHOD, &start_ok);
    fuzz_check (size > 0);
    int fd = s_connect ();
    s_output_t output;
    s_exchange (fd, stream, MESHQ_AMQP_PROTOCOL_HEADER_SIZE + (size_t)size,
                true, &output);
    close (fd);
    //  No Tune within the deadline: the login failed.
    fuzz_check (output.size > 0 && !output.closed);
    free (output.data);
}

static void
s_stop (void)
{
    if (!s_agent)
        return;
    zactor_destroy (&s_agent);
    char command[300];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    if (system (command) != 0)
        fprintf (stderr, "fuzz_amqp_session: cannot remove %s\n", s_dir);
}

static void
s_start (void)
{
    const char *tmp = getenv ("TMPDIR");
    snprintf (s_dir, sizeof s_dir, "%s/meshq-fuzz-amqp-XXXXXX",
              tmp && *tmp ? tmp : "/tmp");
    fuzz_check (mkdtemp (s_dir) != NULL);
    s_port = s_free_port ();
    meshq_agent_config_t config;
    meshq_agent_config_init (&config);
    snprintf (config.name, sizeof config.name, "fuzz%d", (int)getpid ());
    snprintf (config.data, sizeof config.data, "%s", s_dir);
    snprintf (config.amqp, sizeof config.amqp, "127.0.0.1:%d", s_port);
    //  What the inputs may leave behind, bounded: publishes are refused
    //  past 64 MiB of messages or 256 MiB of store.
    config.max_memory = 64u << 20;
    config.store.quota = 256u << 20;
    config.store.segment_size = 4u << 20;
    //  Publishers paused (their connections not read) past 16 KiB
    //  behind a queue's consumers: small inputs reach it too.
    config.flow_memory = 16u << 10;
    s_agent = zactor_new (meshq_agent_actor, &config);
    zstr_send (s_agent, "START");
    char *status = NULL, *why = NULL;
    zsock_recv (s_agent, "ss", &status, &why);
    if (!status || strcmp (status, "OK"))
        fprintf (stderr, "fuzz_amqp_session: the agent did not start: %s\n",
                 why ? why : "");
    fuzz_check (status && strcmp (status, "OK") == 0);
    zstr_free (&status);
    zstr_free (&why);
    s_login ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > S_INPUT_MAX)
        return 0;
    if (!s_agent) {
        if (!getenv ("MESHQ_FUZZ_LOG"))
            zsys_set_logstream (NULL);
        meshq_amqp_door_register ();
        s_start ();
        atexit (s_stop);
    } else if (s_inputs % S_RESTART == 0) {
        s_stop ();
        s_start ();
    }
    s_inputs++;
    uint8_t *stream = malloc (MESHQ_AMQP_PROTOCOL_HEADER_SIZE + size);
    fuzz_check (stream != NULL);
    memcpy (stream, MESHQ_AMQP_PROTOCOL_HEADER,
            MESHQ_AMQP_PROTOCOL_HEADER_SIZE);
    if (size)
        memcpy (stream + MESHQ_AMQP_PROTOCOL_HEADER_SIZE, data, size);
    int fd = s_connect ();
    s_output_t output;
    s_exchange (fd, stream, MESHQ_AMQP_PROTOCOL_HEADER_SIZE + size, false,
                &output);
    close (fd);
    free (stream);
    if (!output.closed)
        fprintf (stderr,
                 "fuzz_amqp_session: the agent kept the connection %d ms "
                 "after the client was done\n",
                 S_DEADLINE_MS);
    fuzz_check (output.closed);
    s_check_output (&output);
    free (output.data);
    return 0;
}
