/*  test_mesh_hostile.c - a peer that speaks the mesh's commands badly.

    An agent of the mesh is a meshq_discovery node of this process: it
    meets an embedded agent as any agent would, then sends it commands
    that are malformed, oversized, about things that do not exist, or
    unknown. Each is counted and dropped; the agent keeps serving its
    clients and keeps the peer up.
*/
#include "client_internal.h"
#include "clientutil.h"
#include "codec_args.h"
#include "discovery.h"
#include "meshq.h"
#include "peerutil.h"
#include "testutil.h"

#include <criterion/criterion.h>

PEERUTIL_SUITE (mesh_hostile, "hostile", 60);

//  Starts the agent, and the peer the test plays; returns a client of
//  the agent with queue "work" declared.
static meshq_client_t *
s_start (void)
{
    peerutil_agent (&s_node, "target", s_mesh, s_port);
    peerutil_start (&s_peer, s_mesh, s_port, 0xa0);
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_declare_queue (client, "work", NULL), 0);
    return client;
}

Test (mesh_hostile, bad_commands_from_a_peer_are_counted_and_dropped)
{
    meshq_client_t *client = s_start ();
    uint64_t before = peerutil_dropped (client, NULL);

    meshq_args_t args;
    //  A batch whose items are cut short, and one claiming a million.
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("work"));
    MESHQ_ARGS_SET (&args, BATCH, batch, 3);
    peerutil_send (&s_peer, "DELIVER", &args, "\x95\x01\x02", 3);
    MESHQ_ARGS_SET (&args, BATCH, batch, 1000000);
    peerutil_send (&s_peer, "DELIVER", &args, "\xc1", 1);
    //  Metadata with no key, and a command no agent knows.
    memset (&args, 0, sizeof args);
    peerutil_send (&s_peer, "META", &args, "\x80", 1);
    peerutil_send (&s_peer, "FROB", &args, NULL, 0);
    //  Credit, backlog, acks and deliveries about what does not exist:
    //  harmless, and dropped or given back.
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("nosuch"));
    MESHQ_ARGS_SET (&args, CREDIT, credit, 1000000);
    peerutil_send (&s_peer, "GRANT", &args, NULL, 0);
    MESHQ_ARGS_SET (&args, MESSAGES, messages, UINT64_MAX);
    peerutil_send (&s_peer, "BACKLOG", &args, NULL, 0);
    memset (&args, 0, sizeof args);
    uint8_t tags[16];
    memset (tags, 0xff, sizeof tags);
    MESHQ_ARGS_SET (&args, DTAGS, dtags,
                    ((meshq_span_t){(const char *)tags, sizeof tags}));
    peerutil_send (&s_peer, "ACK", &args, NULL, 0);

    //  Counted...
    int64_t deadline = zclock_mono () + 10000;
    uint64_t dropped = before, peers = 0;
    while (dropped < before + 4 && zclock_mono () < deadline) {
        zclock_sleep (20);
        dropped = peerutil_dropped (client, &peers);
    }
    cr_expect_geq (dropped, before + 4, "dropped %llu, was %llu",
                   (unsigned long long)dropped, (unsigned long long)before);
    cr_expect_eq (peers, 1, "the peer is still up");
    //  ... and the agent serves on: its queue took nothing from the
    //  peer, and a publish and a get still work.
    meshq_client_set_confirms (client, 10);
    cr_assert_eq (meshq_client_publish_body (client, "", "work", "ok", 2), 0);
    cr_assert_eq (meshq_client_wait_for_confirms (client, 5000), 0);
    meshq_delivery_t *delivery = NULL;
    cr_assert_eq (meshq_client_get (client, "work", true, &delivery), 0);
    cr_assert_not_null (delivery);
    size_t size;
    const char *body = meshq_msg_body (delivery->msg, &size);
    cr_expect (size == 2 && memcmp (body, "ok", 2) == 0);
    meshq_delivery_destroy (&delivery);
    delivery = NULL;
    cr_expect_eq (meshq_client_get (client, "work", true, &delivery), 0);
    cr_expect_null (delivery, "nothing of the peer's in the queue");
    meshq_delivery_destroy (&delivery);
    meshq_client_destroy (&client);
}

//  Settlements of deliveries the agent does not have (as after a link
//  that went down and came back) and credit for a queue it does not
//  know: each fails at the agent, and the agent answers none of them
//  with a frame the peer cannot read (an ERROR was one).
Test (mesh_hostile, failed_commands_send_no_error_over_the_mesh)
{
    meshq_client_t *client = s_start ();
    uint64_t before = peerutil_dropped (client, NULL);
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    uint8_t tags[16];
    memset (tags, 0x7f, sizeof tags);
    MESHQ_ARGS_SET (&args, DTAGS, dtags,
                    ((meshq_span_t){(const char *)tags, sizeof tags}));
    peerutil_send (&s_peer, "ACK", &args, NULL, 0);
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, DTAG, dtag, 4242);
    peerutil_send (&s_peer, "ACK", &args, NULL, 0);
    peerutil_send (&s_peer, "IN_PROGRESS", &args, NULL, 0);
    MESHQ_ARGS_SET (&args, REQUEUE, requeue, true);
    peerutil_send (&s_peer, "NACK", &args, NULL, 0);
    MESHQ_ARGS_SET (&args, REQUEUE, requeue, false);
    peerutil_send (&s_peer, "NACK", &args, NULL, 0);
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("nosuch"));
    MESHQ_ARGS_SET (&args, CREDIT, credit, 5);
    peerutil_send (&s_peer, "GRANT", &args, NULL, 0);
    //  Then credit the agent gives back at once: what it sent before
    //  that answer has all come (one link, in order).
    MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("sentinel"));
    MESHQ_ARGS_SET (&args, CREDIT, credit, 7);
    peerutil_send (&s_peer, "GRANT", &args, NULL, 0);
    while (true) {
        meshq_args_t back;
        zmsg_t *msg = peerutil_recv (&s_peer, "BACKLOG", &back);
        bool sentinel = back.queue.size == 8 &&
                        memcmp (back.queue.data, "sentinel", 8) == 0;
        if (sentinel)
            cr_expect_eq (back.credit, 7, "the credit given back");
        zmsg_destroy (&msg);
        if (sentinel)
            break;
    }
    cr_expect_eq (s_peer.foreign, 0,
                  "the agent sent %d frames no agent reads (the last: %s)",
                  s_peer.foreign, s_peer.last_foreign);
    //  Each failed settlement is counted where it failed.
    uint64_t peers = 0;
    uint64_t dropped = peerutil_dropped (client, &peers);
    cr_expect_geq (dropped, before + 6, "dropped %llu, was %llu",
                   (unsigned long long)dropped, (unsigned long long)before);
    cr_expect_eq (peers, 1, "the peer is still up");
    meshq_client_destroy (&client);
}
