/*  discoutil.h - meshq_discovery nodes in one process, on loopback, for
    the integration suites that test discovery.

    A suite holds one discoutil_t (static: it is large) and gives it to
    discoutil_setup in its .init and discoutil_teardown in its .fini:
    each test has a mesh name, a beacon port and node ids of its own.
    discoutil_start runs node i with a config (discoutil_config gives
    the tests' usual one); the nodes' events (PEER_UP, PEER_DOWN,
    MESSAGE) are read with a poller into each node's table, by the
    index of the node they are about. discoutil_wait pumps them until
    a condition holds or DISCOUTIL_WAIT_MS pass; it never sleeps, and
    nothing here asserts a timing. Header-only, like testutil.h.
*/
#ifndef MESHQ_DISCOUTIL_H_INCLUDED
#define MESHQ_DISCOUTIL_H_INCLUDED

#include "discovery.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <inttypes.h>

//  Room for the nodes a suite runs and the strangers it plays (whose
//  ids a test puts in a slot of its own so that their events are read
//  like a node's).
#define DISCOUTIL_MAX_NODES 80
#define DISCOUTIL_WAIT_MS   20000  //  Generous: ASan on a busy 2-core machine.

typedef struct {
    zactor_t *actor;                 //  The node, or NULL.
    uint8_t id[16];                  //  Its node id.
    char endpoint[128];              //  Its ROUTER endpoint.
    uint64_t incarnation;            //  Its incarnation.
    zlist_t *queue;                  //  Events read while awaiting a reply.
    bool up[DISCOUTIL_MAX_NODES];    //  Which nodes it has up.
    int ups[DISCOUTIL_MAX_NODES];    //  PEER_UP events, by node.
    int downs[DISCOUTIL_MAX_NODES];  //  PEER_DOWN events, by node.
    uint64_t up_incarnation[DISCOUTIL_MAX_NODES];  //  Last incarnation up.
    char reason[DISCOUTIL_MAX_NODES][64];  //  Last down reason, by node.
    char trail[DISCOUTIL_MAX_NODES][256];  //  "U1 D1 U2": events in order.
    zlist_t *messages;                     //  MESSAGE events.
} discoutil_node_t;

typedef struct {
    discoutil_node_t nodes[DISCOUTIL_MAX_NODES];  //  The nodes, by index.
    int count;         //  One past the highest index started.
    char mesh[64];     //  The test's mesh name.
    uint16_t port;     //  The test's beacon port.
    uint8_t base[16];  //  The test's node ids, but for the last byte.
} discoutil_t;

//  A condition discoutil_wait waits for, with its argument.
typedef bool (discoutil_done_fn) (discoutil_t *self, void *arg);

//  Makes the test's mesh name, beacon port and node ids. Node ids
//  differ from run to run: two runs side by side must never take each
//  other's nodes for their own.
static inline void
discoutil_setup (discoutil_t *self)
{
    uint64_t seed = (uint64_t)getpid () << 20 ^ (uint64_t)zclock_usecs ();
    snprintf (self->mesh, sizeof self->mesh, "test-%016llx",
              (unsigned long long)testutil_random (&seed));
    for (int i = 0; i < 16; i++)
        self->base[i] = (uint8_t)testutil_random (&seed);
    self->port = testutil_udp_port ();
    cr_assert_neq (self->port, 0);
    self->count = 0;
}

//  Stops every node and empties the table.
static inline void
discoutil_teardown (discoutil_t *self)
{
    for (int i = 0; i < DISCOUTIL_MAX_NODES; i++) {
        discoutil_node_t *node = &self->nodes[i];
        zactor_destroy (&node->actor);
        zmsg_t *msg;
        while (node->queue && (msg = zlist_pop (node->queue)))
            zmsg_destroy (&msg);
        while (node->messages && (msg = zlist_pop (node->messages)))
            zmsg_destroy (&msg);
        zlist_destroy (&node->queue);
        zlist_destroy (&node->messages);
        memset (node, 0, sizeof *node);
    }
}

//  Node i's usual config: the test's mesh and beacon port on lo, quick
//  beacons, heartbeats and gossip. The config borrows the mesh name.
static inline meshq_peers_config_t
discoutil_config (discoutil_t *self, int i)
{
    meshq_peers_config_t config = {
        .mesh = self->mesh,
        .interface = "lo",
        .beacon_port = self->port,
        .beacon_interval_ms = 100,
        .heartbeat_ms = 100,
        .peer_timeout_ms = 1000,
        .gossip_interval_ms = 200,
    };
    memcpy (config.node, self->base, 16);
    config.node[15] = (uint8_t)i;
    return config;
}

//  Reads messages from node until one starts with verb and returns the
//  rest of it (the caller destroys it); queues the events on the way.
static inline zmsg_t *
discoutil_reply (discoutil_node_t *node, const char *verb)
{
    while (true) {
        zmsg_t *msg = zmsg_recv (node->actor);
        cr_assert_not_null (msg);
        char *first = zmsg_popstr (msg);
        if (streq (first, verb)) {
            free (first);
            return msg;
        }
        zmsg_pushstr (msg, first);
        free (first);
        zlist_append (node->queue, msg);
    }
}

//  The index of the node with id, or -1.
static inline int
discoutil_index (discoutil_t *self, const uint8_t *id)
{
    for (int i = 0; i < DISCOUTIL_MAX_NODES; i++)
        if (memcmp (self->nodes[i].id, id, 16) == 0)
            return i;
    return -1;
}

//  Notes one event of node's in its table; takes msg.
static inline void
discoutil_event (discoutil_t *self, discoutil_node_t *node, zmsg_t *msg)
{
    char *verb = zmsg_popstr (msg);
    zframe_t *id = zmsg_pop (msg);
    cr_assert (id && zframe_size (id) == 16);
    int peer = discoutil_index (self, zframe_data (id));
    cr_assert_geq (peer, 0, "event about an unknown node");
    if (streq (verb, "MESSAGE")) {
        zmsg_pushmem (msg, zframe_data (id), 16);
        zlist_append (node->messages, msg);
        msg = NULL;
    } else {
        char *name = zmsg_popstr (msg);
        char *endpoint = zmsg_popstr (msg);
        //  zsock_send sends numbers as decimal text.
        char *incarnation_text = zmsg_popstr (msg);
        uint64_t incarnation = strtoull (incarnation_text, NULL, 10);
        char mark[32];
        if (streq (verb, "PEER_UP")) {
            cr_assert_not (node->up[peer], "UP twice without DOWN");
            node->up[peer] = true;
            node->ups[peer]++;
            node->up_incarnation[peer] = incarnation;
            snprintf (mark, sizeof mark, "U%" PRIu64 " ", incarnation);
        } else {
            cr_assert (node->up[peer], "DOWN while not up");
            node->up[peer] = false;
            node->downs[peer]++;
            char *reason = zmsg_popstr (msg);
            snprintf (node->reason[peer], sizeof node->reason[peer], "%s",
                      reason);
            free (reason);
            snprintf (mark, sizeof mark, "D%" PRIu64 " ", incarnation);
        }
        strncat (node->trail[peer], mark,
                 sizeof node->trail[peer] - strlen (node->trail[peer]) - 1);
        free (name);
        free (endpoint);
        free (incarnation_text);
    }
    zframe_destroy (&id);
    free (verb);
    zmsg_destroy (&msg);
}

//  Handles queued events, then waits up to timeout_ms for more.
static inline void
discoutil_pump (discoutil_t *self, int timeout_ms)
{
    zpoller_t *poller = zpoller_new (NULL);
    for (int i = 0; i < self->count; i++) {
        discoutil_node_t *node = &self->nodes[i];
        if (!node->actor)
            continue;
        zmsg_t *msg;
        while ((msg = zlist_pop (node->queue)))
            discoutil_event (self, node, msg);
        zpoller_add (poller, node->actor);
    }
    void *which = zpoller_wait (poller, timeout_ms);
    for (int i = 0; which && i < self->count; i++)
        if (self->nodes[i].actor && which == (void *)self->nodes[i].actor) {
            zmsg_t *msg = zmsg_recv (self->nodes[i].actor);
            if (msg)
                discoutil_event (self, &self->nodes[i], msg);
        }
    zpoller_destroy (&poller);
}

//  Pumps events for ms.
static inline void
discoutil_pump_for (discoutil_t *self, int ms)
{
    int64_t until = zclock_mono () + ms;
    while (zclock_mono () < until)
        discoutil_pump (self, 50);
}

//  Pumps events until done () or DISCOUTIL_WAIT_MS pass; returns
//  done ().
static inline bool
discoutil_wait (discoutil_t *self, discoutil_done_fn *done, void *arg)
{
    int64_t deadline = zclock_mono () + DISCOUTIL_WAIT_MS;
    while (!done (self, arg) && zclock_mono () < deadline)
        discoutil_pump (self, 50);
    return done (self, arg);
}

//  Starts node i with config (borrowed) and reads its id, endpoint and
//  incarnation; a node started again keeps its counts and trails.
static inline void
discoutil_start (discoutil_t *self, int i, meshq_peers_config_t *config)
{
    cr_assert (i >= 0 && i < DISCOUTIL_MAX_NODES, "node %d: no room", i);
    discoutil_node_t *node = &self->nodes[i];
    if (!node->queue) {
        node->queue = zlist_new ();
        node->messages = zlist_new ();
    }
    //  A new start knows nobody yet.
    memset (node->up, 0, sizeof node->up);
    node->actor = zactor_new (meshq_discovery, config);
    cr_assert_not_null (node->actor);
    zstr_send (node->actor, "START");
    zmsg_t *reply = discoutil_reply (node, "START");
    char *rc = zmsg_popstr (reply);
    char *why = zmsg_popstr (reply);
    cr_assert_eq (atoi (rc), 0, "node %d did not start: %s", i, why);
    free (rc);
    free (why);
    zmsg_destroy (&reply);
    zstr_send (node->actor, "INFO");
    reply = discoutil_reply (node, "INFO");
    zframe_t *id = zmsg_pop (reply);
    memcpy (node->id, zframe_data (id), 16);
    char *endpoint = zmsg_popstr (reply);
    snprintf (node->endpoint, sizeof node->endpoint, "%s", endpoint);
    char *incarnation = zmsg_popstr (reply);
    node->incarnation = strtoull (incarnation, NULL, 10);
    free (endpoint);
    free (incarnation);
    zframe_destroy (&id);
    zmsg_destroy (&reply);
    if (i >= self->count)
        self->count = i + 1;
}

//  Kills node i as a crash would: its sockets close, it says no bye.
static inline void
discoutil_kill (discoutil_t *self, int i)
{
    zstr_send (self->nodes[i].actor, "KILL");
    zmsg_t *reply = discoutil_reply (&self->nodes[i], "KILL");
    zmsg_destroy (&reply);
    zactor_destroy (&self->nodes[i].actor);
}

//  True when every running node has every other running node up.
static inline bool
discoutil_full (discoutil_t *self, void *arg)
{
    (void)arg;
    for (int i = 0; i < self->count; i++)
        for (int j = 0; j < self->count; j++)
            if (i != j && self->nodes[i].actor && self->nodes[j].actor &&
                !self->nodes[i].up[j])
                return false;
    return true;
}

//  True when no running node has node *arg (an int) up.
static inline bool
discoutil_gone (discoutil_t *self, void *arg)
{
    int dead = *(int *)arg;
    for (int i = 0; i < self->count; i++)
        if (i != dead && self->nodes[i].actor && self->nodes[i].up[dead])
            return false;
    return true;
}

//  A counter from node i's STATS; asserts there is one called name.
static inline uint64_t
discoutil_stat (discoutil_t *self, int i, const char *name)
{
    zstr_send (self->nodes[i].actor, "STATS");
    zmsg_t *reply = discoutil_reply (&self->nodes[i], "STATS");
    uint64_t value = UINT64_MAX;
    char *line;
    size_t length = strlen (name);
    while ((line = zmsg_popstr (reply))) {
        if (strncmp (line, name, length) == 0 && line[length] == '=')
            value = strtoull (line + length + 1, NULL, 10);
        free (line);
    }
    zmsg_destroy (&reply);
    cr_assert_neq (value, UINT64_MAX, "no counter %s", name);
    return value;
}

//  A counter of a node's, and a value of it to wait for.
typedef struct {
    int node;          //  Whose counter.
    const char *name;  //  Which counter.
    uint64_t value;    //  The value awaited.
} discoutil_counter_t;

//  True when the counter *arg (a discoutil_counter_t) is up to its
//  value, or higher.
static inline bool
discoutil_counter_reached (discoutil_t *self, void *arg)
{
    discoutil_counter_t *counter = arg;
    return discoutil_stat (self, counter->node, counter->name) >=
           counter->value;
}

#endif
