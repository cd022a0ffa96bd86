/*  clientutil.h - asking an agent for its lists and status, for the
    test suites.

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
    zmsg_first (*reply);
    zframe_t *frame = zmsg_next (*reply);
    uint64_t rid;
    meshq_span_t cursor;
    uint32_t count;
    cr_assert_eq (meshq_codec_decode_list (zframe_data (frame),
                                           zframe_size (frame), kind, &rid,
                                           &cursor, &count, NULL),
                  0);
    return cursor;
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

#endif
