/*  meshutil.h - a mesh of agent processes on this machine, for the
    system suites: agents past full_links, waits until every agent
    counts every member or knows a queue, and each agent's overlay.

    The nodes are procutil_node_t (procutil.h), one client to each in
    an array of the same order; failure messages name the node.
    Header-only, like testutil.h.
*/
#ifndef MESHQ_MESHUTIL_H_INCLUDED
#define MESHQ_MESHUTIL_H_INCLUDED

#include "clientutil.h"
#include "overlay.h"
#include "procutil.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <czmq.h>

//  Starts the node's agent as procutil_node_start does, as a member of
//  a mesh past full_links: no beacons, full_links 2 (so that ten agents
//  stand for a mesh of hundreds), seeded with seed's mesh port, no
//  HTTP, metrics or AMQP listener; more (NULL-terminated, or NULL) are
//  more options for the agent.
static inline void
meshutil_start_partial (procutil_node_t *self, const procutil_node_t *seed,
                        const char *dir, const char *mesh,
                        const char *const *more)
{
    const char *extra[24] = {"--no-beacon",
                             "--full-links",
                             "2",
                             "--http",
                             "",
                             "--metrics",
                             "",
                             "--amqp",
                             ""};
    int count = 9;
    for (int i = 0; more && more[i]; i++) {
        cr_assert_lt (count, 23);
        extra[count++] = more[i];
    }
    char seeds[64];
    snprintf (seeds, sizeof seeds, "tcp://127.0.0.1:%d", seed->port);
    procutil_node_start (self, dir, mesh, seeds, NULL, extra);
}

//  Sends sig to the agent of each of count nodes that has one.
static inline void
meshutil_kill (procutil_node_t *nodes, int count, int sig)
{
    for (int i = 0; i < count; i++)
        if (nodes[i].pid > 0)
            procutil_kill (nodes[i].pid, sig);
}

//  Waits up to 30 s, asking each agent (clients[i] is a client of
//  nodes[i]'s), until the first count agents each count members
//  members alive; asserts they do.
static inline void
meshutil_wait_members (const procutil_node_t *nodes, meshq_client_t **clients,
                       int count, uint64_t members)
{
    int64_t deadline = zclock_mono () + 30000;
    for (int i = 0; i < count; i++) {
        uint64_t counted = clientutil_members (clients[i]);
        while (counted != members && zclock_mono () < deadline) {
            zclock_sleep (100);
            counted = clientutil_members (clients[i]);
        }
        cr_assert_eq (counted, members, "%s counts %llu members", nodes[i].name,
                      (unsigned long long)counted);
    }
}

//  Waits up to 20 s, asking each agent (clients[i] is a client of
//  nodes[i]'s), until the first count agents all know queue; asserts
//  they do.
static inline void
meshutil_wait_queue (const procutil_node_t *nodes, meshq_client_t **clients,
                     int count, const char *queue)
{
    meshq_args_t row;
    int64_t deadline = zclock_mono () + 20000;
    for (int i = 0; i < count; i++) {
        while (!clientutil_queue (clients[i], queue, &row) &&
               zclock_mono () < deadline)
            zclock_sleep (100);
        cr_assert (clientutil_queue (clients[i], queue, &row),
                   "queue %s never reached %s", queue, nodes[i].name);
    }
}

//  Which of count agents are in agent i's overlay, given their node ids
//  in hex (clientutil_node): in[n] for agent n. In a mesh past
//  full_links, these are the links agent i keeps.
static inline void
meshutil_overlay (char hex[][33], int count, int i, bool *in)
{
    uint8_t (*ids)[16] = calloc ((size_t)count, sizeof *ids);
    cr_assert_not_null (ids);
    uint8_t me[16], out[MESHQ_OVERLAY_MAX][16];
    for (int n = 0; n < count; n++)
        testutil_unhex (hex[n], ids[n], 16);
    memcpy (me, ids[i], 16);
    size_t picked = meshq_overlay_pick (ids, (size_t)count, me, out);
    for (int n = 0; n < count; n++) {
        uint8_t id[16];
        testutil_unhex (hex[n], id, 16);
        in[n] = false;
        for (size_t k = 0; k < picked; k++)
            in[n] |= memcmp (out[k], id, 16) == 0;
    }
    free (ids);
}

#endif
