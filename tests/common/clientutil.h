/*  clientutil.h - asking an agent for its lists and status, and taking
    its deliveries, for the test suites.

    The LIST_ commands (queues, bindings, peers) answer with one frame
    that holds a list of rows; clientutil_list makes the call and opens
    that list, so that a test only walks its rows; clientutil_status
    reads the agent's STATUS. Header-only, like testutil.h.
*/
#ifndef MESHQ_CLIENTUTIL_H_INCLUDED
#define MESHQ_CLIENTUTIL_H_INCLUDED

#include "client_internal.h"
#include "codec_args.h"
#include "meshq.h"

#include <criterion/criterion.h>
#include <czmq.h>

//  Opens the list of kind ("queues") in reply, the answer to a LIST_
//  command. Returns the cursor for meshq_codec_list_next; the rows
//  borrow from reply.
static inline meshq_span_t
clientutil_list_open (zmsg_t *reply, const char *kind)
{
    zmsg_first (reply);
    zframe_t *frame = zmsg_next (reply);
    uint64_t rid;
    meshq_span_t cursor;
    uint32_t count;
    cr_assert_eq (meshq_codec_decode_list (zframe_data (frame),
                                           zframe_size (frame), kind, &rid,
                                           &cursor, &count, NULL),
                  0);
    return cursor;
}

//  Calls verb (such as "LIST_QUEUES") on client's agent and opens the
//  list of kind ("queues") it answers with. Returns the cursor for
//  meshq_codec_list_next; the rows borrow from *reply, which the
//  caller destroys with zmsg_destroy when done.
static inline meshq_span_t
clientutil_list (meshq_client_t *client, const char *verb, const char *kind,
                 zmsg_t **reply)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    *reply = NULL;
    cr_assert_eq (meshq_client_call (client, verb, &args, reply), 0);
    return clientutil_list_open (*reply, kind);
}

//  Whether span holds exactly text.
static inline bool
clientutil_span_is (meshq_span_t span, const char *text)
{
    return span.size == strlen (text) &&
           (span.size == 0 || memcmp (span.data, text, span.size) == 0);
}

//  Rows of client's agent's LIST_PEERS in state (or in alive, if it is
//  not NULL) and, if name is not NULL, of the peer of that name.
static inline int
clientutil_peers_in (meshq_client_t *client, const char *name,
                     const char *state, const char *alive)
{
    zmsg_t *reply;
    meshq_span_t cursor =
        clientutil_list (client, "LIST_PEERS", "peers", &reply);
    int count = 0;
    meshq_args_t row;
    while (meshq_codec_list_next (&cursor, &row))
        count += (!name || clientutil_span_is (row.name, name)) &&
                 (clientutil_span_is (row.state, state) ||
                  (alive && clientutil_span_is (row.state, alive)));
    zmsg_destroy (&reply);
    return count;
}

//  Peers client's agent reports up.
static inline int
clientutil_peers_up (meshq_client_t *client)
{
    return clientutil_peers_in (client, NULL, "up", NULL);
}

//  Waits (asking the agent, not sleeping) until it sees count peers up:
//  a peer's side may be up a moment before the agent's.
static inline void
clientutil_wait_peers (meshq_client_t *client, int count)
{
    int64_t deadline = zclock_mono () + 10000;
    int up = 0;
    while ((up = clientutil_peers_up (client)) != count &&
           zclock_mono () < deadline)
        meshq_client_dispatch (client, 20);
    cr_assert_eq (up, count, "%d peers up, not %d", up, count);
}

//  Asks client's agent for its STATUS into *status, whose strings borrow
//  from *reply, which the caller destroys with zmsg_destroy when done.
static inline void
clientutil_status (meshq_client_t *client, meshq_args_t *status, zmsg_t **reply)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    *reply = NULL;
    cr_assert_eq (meshq_client_call (client, "STATUS", &args, reply), 0);
    zmsg_first (*reply);
    zframe_t *frame = zmsg_next (*reply);
    cr_assert_not_null (frame);
    cr_assert_eq (meshq_codec_decode_args (zframe_data (frame),
                                           zframe_size (frame), status, NULL),
                  0);
}

//  Members alive that client's agent counts, from its STATUS.
static inline uint64_t
clientutil_members (meshq_client_t *client)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    uint64_t members = status.members;
    zmsg_destroy (&reply);
    return members;
}

//  Client's agent's node id, in hex, from its STATUS, into hex (33
//  bytes).
static inline void
clientutil_node (meshq_client_t *client, char *hex)
{
    meshq_args_t status;
    zmsg_t *reply;
    clientutil_status (client, &status, &reply);
    snprintf (hex, 33, "%.*s", (int)status.node.size, status.node.data);
    zmsg_destroy (&reply);
}

//  Finds queue in client's LIST_QUEUES: true, with its row in *row, if
//  it is there; else false, with *row all zero. Only the row's counts
//  are kept: its names borrowed from the reply, which is gone.
static inline bool
clientutil_queue (meshq_client_t *client, const char *queue, meshq_args_t *row)
{
    zmsg_t *reply;
    meshq_span_t cursor =
        clientutil_list (client, "LIST_QUEUES", "queues", &reply);
    meshq_args_t next;
    bool found = false;
    memset (row, 0, sizeof *row);
    while (meshq_codec_list_next (&cursor, &next))
        if (next.queue.size == strlen (queue) &&
            memcmp (next.queue.data, queue, next.queue.size) == 0) {
            *row = next;
            found = true;
        }
    row->queue = row->name = (meshq_span_t){NULL, 0};
    zmsg_destroy (&reply);
    return found;
}

//  Finds queue in the mesh-wide LIST_QUEUES of client's agent, which
//  asks every agent, waiting timeout_ms for their answers: true, with
//  the row's messages ready in *messages and the count of agents that
//  answered with a part of it in *agents, if it is there; else false,
//  and neither is set.
static inline bool
clientutil_meshwide (meshq_client_t *client, const char *queue, int timeout_ms,
                     uint64_t *messages, uint64_t *agents)
{
    static uint64_t rid = 7000;
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, RID, rid, ++rid);
    MESHQ_ARGS_SET (&args, MESHWIDE, meshwide, true);
    MESHQ_ARGS_SET (&args, TIMEOUT, timeout, (uint64_t)timeout_ms);
    cr_assert_eq (meshq_client_send (client, "LIST_QUEUES", &args, NULL, 0), 0);
    zmsg_t *reply = NULL;
    cr_assert_eq (meshq_client_poll (client, 2 * timeout_ms, rid, &reply), 1);
    meshq_span_t cursor = clientutil_list_open (reply, "queues");
    bool found = false;
    meshq_args_t row;
    while (meshq_codec_list_next (&cursor, &row))
        if (clientutil_span_is (row.queue, queue)) {
            *messages = row.messages;
            *agents = row.agents;
            found = true;
        }
    zmsg_destroy (&reply);
    return found;
}

//  Receives up to count deliveries at client, acking each, for at most
//  timeout_ms; returns how many came.
static inline int
clientutil_receive (meshq_client_t *client, int count, int timeout_ms)
{
    int received = 0;
    int64_t deadline = zclock_mono () + timeout_ms;
    while (received < count && zclock_mono () < deadline) {
        meshq_delivery_t *delivery;
        if (meshq_client_recv (client, 500, &delivery))
            continue;
        received++;
        meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    return received;
}

//  Sends the administrative request verb (ADD_VHOST, ADD_USER,
//  SET_PERMISSIONS...) naming user and vhost, with password, and with
//  the rights configure, write and read if configure is not NULL (NULL:
//  left out); returns the agent's code, its reason in
//  meshq_client_error.
static inline int
clientutil_admin (meshq_client_t *client, const char *verb, const char *user,
                  const char *vhost, const char *password,
                  const char *configure, const char *write, const char *read)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    if (user)
        MESHQ_ARGS_SET (&args, USER, user, meshq_span (user));
    if (vhost)
        MESHQ_ARGS_SET (&args, VHOST, vhost, meshq_span (vhost));
    if (password)
        MESHQ_ARGS_SET (&args, PASSWORD, password, meshq_span (password));
    if (configure) {
        MESHQ_ARGS_SET (&args, CONFIGURE, configure, meshq_span (configure));
        MESHQ_ARGS_SET (&args, WRITE, write, meshq_span (write));
        MESHQ_ARGS_SET (&args, READ, read, meshq_span (read));
    }
    zmsg_t *reply = NULL;
    int rc = meshq_client_call (client, verb, &args, &reply);
    zmsg_destroy (&reply);
    return rc;
}

//  Adds vhost and gives user all rights in it; asserts both are done.
static inline void
clientutil_vhost_for (meshq_client_t *client, const char *vhost,
                      const char *user)
{
    cr_assert_eq (clientutil_admin (client, "ADD_VHOST", NULL, vhost, NULL,
                                    NULL, NULL, NULL),
                  0, "ADD_VHOST: %s", meshq_client_error (client));
    cr_assert_eq (clientutil_admin (client, "SET_PERMISSIONS", user, vhost,
                                    NULL, ".*", ".*", ".*"),
                  0, "SET_PERMISSIONS: %s", meshq_client_error (client));
}

#endif
