/*  peerutil.h - a peer agent played by a test suite.

    A meshq_discovery node of this process meets an embedded agent as
    any agent would (beacons, HELLO), then sends it the mesh's commands
    (docs/PROTOCOL.md, section 4) as the test likes, and reads what the
    agent sends back. Every frame the agent sends is checked on the way:
    one whose command agents do not speak (an OK or ERROR meant for a
    client, say) is counted in 'foreign'. Header-only, like testutil.h.
*/
#ifndef MESHQ_PEERUTIL_H_INCLUDED
#define MESHQ_PEERUTIL_H_INCLUDED

#include "agentutil.h"
#include "clientutil.h"
#include "codec_args.h"
#include "discovery.h"
#include "meshq.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <czmq.h>

typedef struct {
    zactor_t *node;         //  The discovery node, or NULL.
    uint8_t id[16];         //  Its own node id.
    uint8_t agent[16];      //  The agent's node id, once it is up.
    int foreign;            //  Frames from the agent that no agent speaks.
    char last_foreign[33];  //  The command of the last of them.
    int acks;               //  ACK frames from the agent.
} peerutil_t;

//  True if command is one agents send each other.
static inline bool
peerutil_is_mesh_command (const char *command)
{
    static const char *commands[] = {
        "META",   "BACKLOG",     "GRANT",      "DELIVER", "ACK",
        "NACK",   "IN_PROGRESS", "VHOST",      "ACKED",   "QUERY",
        "ANSWER", "DIGEST",      "DIGEST_BACK"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (streq (command, commands[i]))
            return true;
    return false;
}

//  Reads the node's pipe until an event or reply starting with verb and
//  returns the rest of it; asserts one comes within 10 s. Each MESSAGE
//  on the way is checked; with command set, a MESSAGE carrying that
//  command is returned (its frames after the command: args, body).
static inline zmsg_t *
peerutil_next (peerutil_t *self, const char *verb, const char *command)
{
    zpoller_t *poller = zpoller_new (self->node, NULL);
    int64_t deadline = zclock_mono () + 10000;
    zmsg_t *found = NULL;
    while (!found) {
        int64_t left = deadline - zclock_mono ();
        cr_assert_gt (left, 0, "no %s %s from the agent in 10 s", verb,
                      command ? command : "");
        if (!zpoller_wait (poller, (int)left))
            continue;
        zmsg_t *msg = zmsg_recv (self->node);
        cr_assert_not_null (msg);
        char *first = zmsg_popstr (msg);
        bool match = streq (first, verb);
        if (streq (first, "MESSAGE")) {
            zframe_t *id = zmsg_pop (msg);
            zframe_destroy (&id);
            char *sent = zmsg_popstr (msg);
            if (sent && streq (sent, "ACK"))
                self->acks++;
            if (!sent || !peerutil_is_mesh_command (sent)) {
                self->foreign++;
                snprintf (self->last_foreign, sizeof self->last_foreign, "%s",
                          sent ? sent : "");
            }
            match = match && (!command || (sent && streq (sent, command)));
            free (sent);
        }
        free (first);
        if (match)
            found = msg;
        else
            zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    return found;
}

//  Starts the node in mesh, beacons on beacon_port, and waits until the
//  agent is up at it. Its node id is the bytes first, first + 1, ...
//  (the same first: the same node, back). Its HELLO announces commands
//  (NULL: none, as an older agent's).
static inline void
peerutil_start_with (peerutil_t *self, const char *mesh, uint16_t beacon_port,
                     uint8_t first, const char *commands)
{
    memset (self, 0, sizeof *self);
    meshq_peers_config_t config = {
        .mesh = mesh,
        .vhost = "/",
        .name = "played",
        .interface = "lo",
        .beacon_port = beacon_port,
        .beacon_interval_ms = 50,
        .commands = commands,
    };
    for (int i = 0; i < 16; i++)
        self->id[i] = (uint8_t)(first + i);
    memcpy (config.node, self->id, 16);
    self->node = zactor_new (meshq_discovery, &config);
    zstr_send (self->node, "START");
    zmsg_t *reply = peerutil_next (self, "START", NULL);
    char *rc = zmsg_popstr (reply);
    cr_assert_eq (atoi (rc), 0, "the played peer did not start");
    free (rc);
    zmsg_destroy (&reply);
    reply = peerutil_next (self, "PEER_UP", NULL);
    zframe_t *id = zmsg_pop (reply);
    cr_assert (id && zframe_size (id) == 16);
    memcpy (self->agent, zframe_data (id), 16);
    zframe_destroy (&id);
    zmsg_destroy (&reply);
}

static inline void
peerutil_start (peerutil_t *self, const char *mesh, uint16_t beacon_port,
                uint8_t first)
{
    peerutil_start_with (self, mesh, beacon_port, first, NULL);
}

//  Sends command with args (and body, if not NULL) to the agent.
static inline void
peerutil_send (peerutil_t *self, const char *command, const meshq_args_t *args,
               const void *body, size_t size)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_args (args, &buf, NULL), 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "SEND");
    zmsg_addmem (msg, self->agent, 16);
    zmsg_addstr (msg, command);
    zmsg_addmem (msg, buf.data, buf.size);
    if (body)
        zmsg_addmem (msg, body, size);
    zmsg_send (&msg, self->node);
    meshq_buf_fini (&buf);
    msg = peerutil_next (self, "SEND", NULL);
    char *rc = zmsg_popstr (msg);
    cr_assert_eq (atoi (rc), 0, "%s was not sent", command);
    free (rc);
    zmsg_destroy (&msg);
}

//  Waits for the agent to send command; returns its arguments decoded
//  into *args (strings borrow from the message, which the caller
//  destroys).
static inline zmsg_t *
peerutil_recv (peerutil_t *self, const char *command, meshq_args_t *args)
{
    zmsg_t *msg = peerutil_next (self, "MESSAGE", command);
    zframe_t *frame = zmsg_first (msg);
    cr_assert_not_null (frame);
    cr_assert_eq (meshq_codec_decode_args (zframe_data (frame),
                                           zframe_size (frame), args, NULL),
                  0);
    return msg;
}

//  Names a mesh of this run's own, prefix-RANDOM, into mesh; returns a
//  free UDP port for its beacons.
static inline uint16_t
peerutil_mesh (char *mesh, size_t size, const char *prefix)
{
    uint64_t seed = (uint64_t)getpid () << 20 ^ (uint64_t)zclock_usecs ();
    snprintf (mesh, size, "%s-%016llx", prefix,
              (unsigned long long)testutil_random (&seed));
    uint16_t port = testutil_udp_port ();
    cr_assert_neq (port, 0);
    return port;
}

//  Starts an embedded agent called name in mesh, beaconing every 50 ms
//  on beacon_port.
static inline void
peerutil_agent (agentutil_t *agent, const char *name, const char *mesh,
                uint16_t beacon_port)
{
    char port[16];
    snprintf (port, sizeof port, "%u", beacon_port);
    const char *options[] = {
        "mesh", mesh, "beacon_port", port, "beacon_interval", "50", NULL};
    agentutil_start_with (agent, name, options);
}

//  Declares Criterion suite suite with the given timeout (seconds),
//  each of whose tests has a mesh of its own, prefix-RANDOM, in s_mesh
//  with beacons on s_port, for an agent (s_node, started by the test)
//  and a played peer (s_peer); after the test both stop and the agent's
//  directory goes.
#define PEERUTIL_SUITE(suite, prefix, seconds)                                 \
    static char s_mesh[64];                                                    \
    static uint16_t s_port;                                                    \
    static agentutil_t s_node;                                                 \
    static peerutil_t s_peer;                                                  \
    static void s_setup (void)                                                 \
    {                                                                          \
        s_port = peerutil_mesh (s_mesh, sizeof s_mesh, prefix);                \
    }                                                                          \
    static void s_teardown (void)                                              \
    {                                                                          \
        peerutil_stop (&s_peer);                                               \
        if (s_node.agent)                                                      \
            agentutil_finish (&s_node);                                        \
    }                                                                          \
    TestSuite (suite, .init = s_setup, .fini = s_teardown, .timeout = seconds)

//  Frames client's agent dropped as malformed, and (if peers is not
//  NULL) its peers up, from its STATUS.
static inline uint64_t
peerutil_dropped (meshq_client_t *client, uint64_t *peers)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    zmsg_destroy (&reply);
    if (peers)
        *peers = status.peers;
    return status.dropped;
}

//  Stops the node; it says BYE to the agent.
static inline void
peerutil_stop (peerutil_t *self)
{
    zactor_destroy (&self->node);
}

#endif
