/*  test_mesh_digest.c - metadata by digests: an agent that meets a peer
    already in step sends it no record, one that differs gets what it
    lacks, an older peer still gets every record, the exchange comes
    again now and then, and a digest that is not one is dropped.

    The peer is played by this process (peerutil.h), so that the test
    sees every frame the agent sends it.
*/
#include "client_internal.h"
#include "clientutil.h"
#include "codec_args.h"
#include "discovery.h"
#include "meshq.h"
#include "peerutil.h"
#include "testutil.h"

#include <criterion/criterion.h>

PEERUTIL_SUITE (mesh_digest, "digest", 90);

#define S_DIGEST_SIZE 512

//  What the agent sent the played peer, from a point on.
typedef struct {
    int frames;                   //  Frames of the agent's commands.
    int digests;                  //  DIGEST frames.
    int metas;                    //  META frames.
    bool queue_record;            //  One of them was the record "q/work".
    bool digest;                  //  A DIGEST came.
    bool digest_back;             //  A DIGEST_BACK came.
    bool backlog;                 //  A BACKLOG came.
    int records;                  //  META frames of a consumer record.
    char record[80];              //  The last one's key,
    uint64_t record_version;      //  and version.
    uint8_t body[S_DIGEST_SIZE];  //  The last digest's body.
    size_t size;                  //  Its size.
    uint64_t guest_version;       //  Of the record "u/guest", if sent;
    uint64_t rights_version;      //  of guest's rights on "/".
} s_seen_t;

//  The key of guest's rights on "/": "p/VHOST\x1fUSER".
static const char s_rights_key[] = "p//\x1fguest";

//  Takes one event of the played node into seen.
static void
s_take (zmsg_t *msg, s_seen_t *seen)
{
    char *event = zmsg_popstr (msg);
    if (streq (event, "MESSAGE")) {
        seen->frames++;
        zframe_t *id = zmsg_pop (msg);
        zframe_destroy (&id);
        char *command = zmsg_popstr (msg);
        cr_assert (peerutil_is_mesh_command (command),
                   "the agent sent %s, which no agent reads", command);
        zframe_t *args_frame = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        meshq_args_t args;
        if (streq (command, "META")) {
            seen->metas++;
            if (meshq_codec_decode_args (zframe_data (args_frame),
                                         zframe_size (args_frame), &args,
                                         NULL) == 0 &&
                args.meta_key.size == 6 &&
                memcmp (args.meta_key.data, "q/work", 6) == 0)
                seen->queue_record = true;
            if (meshq_span_equal (args.meta_key, meshq_span ("u/guest")))
                seen->guest_version = args.meta_version;
            if (meshq_span_equal (args.meta_key, meshq_span (s_rights_key)))
                seen->rights_version = args.meta_version;
            if (args.meta_key.size > 2 && args.meta_key.size < 80 &&
                memcmp (args.meta_key.data, "c/", 2) == 0) {
                seen->records++;
                snprintf (seen->record, sizeof seen->record, "%.*s",
                          (int)args.meta_key.size, args.meta_key.data);
                seen->record_version = args.meta_version;
            }
        } else if (streq (command, "BACKLOG"))
            seen->backlog = true;
        else if (streq (command, "DIGEST") || streq (command, "DIGEST_BACK")) {
            if (streq (command, "DIGEST")) {
                seen->digest = true;
                seen->digests++;
            } else
                seen->digest_back = true;
            seen->size = body ? zframe_size (body) : 0;
            if (body && seen->size <= sizeof seen->body)
                memcpy (seen->body, zframe_data (body), seen->size);
        }
        zframe_destroy (&args_frame);
        zframe_destroy (&body);
        free (command);
    }
    free (event);
}

//  Reads the agent's frames into seen until *flag is set, within ms;
//  returns *flag.
static bool
s_read_until (s_seen_t *seen, bool *flag, int ms)
{
    zpoller_t *poller = zpoller_new (s_peer.node, NULL);
    int64_t deadline = zclock_mono () + ms;
    while (!*flag && zclock_mono () < deadline) {
        if (!zpoller_wait (poller, (int)(deadline - zclock_mono ())))
            continue;
        zmsg_t *msg = zmsg_recv (s_peer.node);
        cr_assert_not_null (msg);
        s_take (msg, seen);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    return *flag;
}

//  Starts the agent with queue "work" declared, then the played peer,
//  whose HELLO announces commands, as peerutil_start_with does, but
//  keeping in seen what the agent sent before the node reported it up
//  (the agent's link-up frames can come first).
static meshq_client_t *
s_start (const char *commands, s_seen_t *seen)
{
    peerutil_agent (&s_node, "target", s_mesh, s_port);
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_declare_queue (client, "work", NULL), 0);
    memset (&s_peer, 0, sizeof s_peer);
    memset (seen, 0, sizeof *seen);
    meshq_peers_config_t config = {
        .mesh = s_mesh,
        .vhost = "/",
        .name = "played",
        .interface = "lo",
        .beacon_port = s_port,
        .beacon_interval_ms = 50,
        .commands = commands,
    };
    for (int i = 0; i < 16; i++)
        s_peer.id[i] = (uint8_t)(0xa0 + i);
    memcpy (config.node, s_peer.id, 16);
    s_peer.node = zactor_new (meshq_discovery, &config);
    zstr_send (s_peer.node, "START");
    zpoller_t *poller = zpoller_new (s_peer.node, NULL);
    int64_t deadline = zclock_mono () + 10000;
    bool up = false;
    while (!up) {
        cr_assert_lt (zclock_mono (), deadline, "the agent never came up");
        if (!zpoller_wait (poller, 100))
            continue;
        zmsg_t *msg = zmsg_recv (s_peer.node);
        cr_assert_not_null (msg);
        if (zframe_streq (zmsg_first (msg), "START")) {
            zframe_t *rc = zmsg_next (msg);
            cr_assert (rc && zframe_streq (rc, "0"),
                       "the played peer did not start");
        } else if (zframe_streq (zmsg_first (msg), "PEER_UP")) {
            zframe_t *id = zmsg_next (msg);
            cr_assert (id && zframe_size (id) == 16);
            memcpy (s_peer.agent, zframe_data (id), 16);
            up = true;
        } else
            s_take (msg, seen);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    return client;
}

//  Sends command (with body) to the agent, as peerutil_send does, but
//  takes the agent's frames that come meanwhile into seen.
static void
s_send (const char *command, const void *body, size_t size, s_seen_t *seen)
{
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    if (streq (command, "GRANT")) {
        //  Credit for a queue the agent does not have, which it gives
        //  back at once: every frame it sent before comes first (one
        //  link, in order).
        MESHQ_ARGS_SET (&args, QUEUE, queue, meshq_span ("sentinel"));
        MESHQ_ARGS_SET (&args, CREDIT, credit, 7);
    }
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_args (&args, &buf, NULL), 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "SEND");
    zmsg_addmem (msg, s_peer.agent, 16);
    zmsg_addstr (msg, command);
    zmsg_addmem (msg, buf.data, buf.size);
    if (body)
        zmsg_addmem (msg, body, size);
    zmsg_send (&msg, s_peer.node);
    meshq_buf_fini (&buf);
    while (true) {
        msg = zmsg_recv (s_peer.node);
        cr_assert_not_null (msg);
        if (zframe_streq (zmsg_first (msg), "SEND")) {
            zframe_t *rc = zmsg_next (msg);
            cr_assert (rc && zframe_streq (rc, "0"), "%s was not sent",
                       command);
            zmsg_destroy (&msg);
            return;
        }
        s_take (msg, seen);
        zmsg_destroy (&msg);
    }
}

//  Sends the sentinel and reads everything up to its answer into seen.
static void
s_sentinel (s_seen_t *seen)
{
    seen->backlog = false;
    s_send ("GRANT", NULL, 0, seen);
    cr_assert (s_read_until (seen, &seen->backlog, 10000),
               "no answer to the sentinel");
}

Test (mesh_digest, a_peer_in_step_gets_no_record_at_link_up)
{
    s_seen_t seen;
    meshq_client_t *client = s_start ("QUERY DIGEST", &seen);
    cr_assert (s_read_until (&seen, &seen.digest, 10000),
               "no DIGEST from the agent at link up");
    cr_assert_eq (seen.size, S_DIGEST_SIZE);
    //  The peer holds what the agent holds: the same digest back.
    uint8_t same[S_DIGEST_SIZE];
    memcpy (same, seen.body, sizeof same);
    s_send ("DIGEST", same, sizeof same, &seen);
    s_sentinel (&seen);
    cr_expect_eq (seen.metas, 0, "%d records sent to a peer in step",
                  seen.metas);
    cr_expect_not (seen.digest_back, "a DIGEST_BACK to a digest in step");
    meshq_client_destroy (&client);
}

Test (mesh_digest, a_peer_that_differs_gets_what_it_lacks)
{
    s_seen_t seen;
    meshq_client_t *client = s_start ("QUERY DIGEST", &seen);
    cr_assert (s_read_until (&seen, &seen.digest, 10000));
    uint8_t agent[S_DIGEST_SIZE];
    memcpy (agent, seen.body, sizeof agent);
    //  A peer with no record at all: every bucket differs.
    uint8_t empty[S_DIGEST_SIZE] = {0};
    s_seen_t back;
    memset (&back, 0, sizeof back);
    s_send ("DIGEST", empty, sizeof empty, &back);
    cr_assert (s_read_until (&back, &back.digest_back, 10000),
               "no DIGEST_BACK to a digest that differs");
    cr_expect (back.queue_record, "the queue's record was not sent");
    cr_expect_gt (back.metas, 1);
    //  Its answer is the agent's digest, as at link up.
    cr_expect_eq (back.size, S_DIGEST_SIZE);
    cr_expect_eq (memcmp (back.body, agent, S_DIGEST_SIZE), 0);
    //  DIGEST_BACK is answered with records only, never another digest.
    s_seen_t last;
    memset (&last, 0, sizeof last);
    s_send ("DIGEST_BACK", empty, sizeof empty, &last);
    s_sentinel (&last);
    cr_expect (last.queue_record);
    cr_expect_not (last.digest_back);
    meshq_client_destroy (&client);
}

Test (mesh_digest, a_fresh_agent_has_the_defaults_every_fresh_agent_has)
{
    //  guest and its rights on "/" are written by every fresh agent at
    //  one version, the metadata clock's first tick by no writer (1 <<
    //  20): two new agents hold the same records and their digests agree
    //  at link up. Each agent writing them at a version of its own had
    //  every pair of a new mesh trade the records, and store them.
    s_seen_t seen;
    meshq_client_t *client = s_start ("QUERY DIGEST", &seen);
    cr_assert (s_read_until (&seen, &seen.digest, 10000));
    uint8_t empty[S_DIGEST_SIZE] = {0};
    s_seen_t back;
    memset (&back, 0, sizeof back);
    s_send ("DIGEST", empty, sizeof empty, &back);
    cr_assert (s_read_until (&back, &back.digest_back, 10000));
    cr_expect_eq (back.guest_version, (uint64_t)1 << 20, "u/guest at %#llx",
                  (unsigned long long)back.guest_version);
    cr_expect_eq (back.rights_version, (uint64_t)1 << 20,
                  "guest's rights at %#llx",
                  (unsigned long long)back.rights_version);
    meshq_client_destroy (&client);
}

Test (mesh_digest, an_older_peer_gets_every_record_at_link_up)
{
    s_seen_t seen;
    meshq_client_t *client = s_start (NULL, &seen);
    s_sentinel (&seen);
    cr_expect (seen.queue_record, "the queue's record was not sent (%d)",
               seen.metas);
    cr_expect_not (seen.digest, "a DIGEST to a peer that takes none");
    meshq_client_destroy (&client);
}

Test (mesh_digest, digests_come_again_now_and_then)
{
    s_seen_t seen;
    meshq_client_t *client = s_start ("QUERY DIGEST", &seen);
    cr_assert (s_read_until (&seen, &seen.digest, 10000));
    seen.digest = false;
    cr_expect (s_read_until (&seen, &seen.digest, 20000),
               "no second DIGEST in 20 s");
    meshq_client_destroy (&client);
}

//  Frames the played peer has taken from the agent, of every kind (its
//  link's PINGs too); takes the agent's frames that come meanwhile
//  into seen.
static uint64_t
s_frames_received (s_seen_t *seen)
{
    zstr_send (s_peer.node, "STATS");
    while (true) {
        zmsg_t *msg = zmsg_recv (s_peer.node);
        cr_assert_not_null (msg);
        if (!zframe_streq (zmsg_first (msg), "STATS")) {
            s_take (msg, seen);
            zmsg_destroy (&msg);
            continue;
        }
        uint64_t value = UINT64_MAX;
        char *line;
        while ((line = zmsg_popstr (msg))) {
            if (strncmp (line, "frames_received=", 16) == 0)
                value = strtoull (line + 16, NULL, 10);
            free (line);
        }
        zmsg_destroy (&msg);
        cr_assert_neq (value, UINT64_MAX, "no frames_received counter");
        return value;
    }
}

//  Reads the agent's frames into seen for ms.
static void
s_read_for (s_seen_t *seen, int ms)
{
    bool never = false;
    s_read_until (seen, &never, ms);
}

Test (mesh_digest, a_digest_asks_for_no_sign_of_life)
{
    //  The played peer is in step and answers no digest, as an agent in
    //  step does not. The agent's link to it is idle but for its
    //  digests: it sends nothing else, where it used to PING for a
    //  sign of life after each digest (and tick four times as often
    //  until the PONG).
    s_seen_t seen;
    meshq_client_t *client = s_start ("QUERY DIGEST", &seen);
    cr_assert (s_read_until (&seen, &seen.digest, 10000));
    s_read_for (&seen, 1500);
    int frames = seen.frames;
    int digests = seen.digests;
    uint64_t received = s_frames_received (&seen);
    //  The next digest comes within 5 to 15 s; then room for a PING.
    int64_t deadline = zclock_mono () + 20000;
    while (seen.digests == digests && zclock_mono () < deadline)
        s_read_for (&seen, 200);
    cr_assert_gt (seen.digests, digests, "no second DIGEST in 20 s");
    s_read_for (&seen, 1500);
    uint64_t more = s_frames_received (&seen) - received;
    cr_expect_eq (more, (uint64_t)(seen.frames - frames),
                  "the agent sent %d frames of its commands (%d DIGEST) and "
                  "%d frames more",
                  seen.frames - frames, seen.digests - digests,
                  (int)(more - (uint64_t)(seen.frames - frames)));
    meshq_client_destroy (&client);
}

Test (mesh_digest, a_digest_of_the_wrong_size_is_counted_and_dropped)
{
    s_seen_t seen;
    meshq_client_t *client = s_start ("QUERY DIGEST", &seen);
    cr_assert (s_read_until (&seen, &seen.digest, 10000));
    uint64_t before = peerutil_dropped (client, NULL);
    memset (&seen, 0, sizeof seen);
    s_send ("DIGEST", "\x01\x02\x03", 3, &seen);
    s_send ("DIGEST_BACK", NULL, 0, &seen);
    s_sentinel (&seen);
    cr_expect_eq (seen.metas, 0);
    uint64_t peers = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (peerutil_dropped (client, &peers) < before + 2 &&
           zclock_mono () < deadline)
        zclock_sleep (20);
    cr_expect_geq (peerutil_dropped (client, &peers), before + 2);
    cr_expect_eq (peers, 1, "the peer is still up");
    meshq_client_destroy (&client);
}

//  A consumer record of the agent's own, ended by a newer tombstone (as
//  its earlier start's can be) while it still has the consumer: it
//  writes the record again, once, and serves on. (It used to write it
//  again and again, flooding its peers, and answered nothing more.)
Test (mesh_digest, an_own_record_ended_by_a_peer_is_written_again_once)
{
    s_seen_t seen;
    meshq_client_t *client = s_start ("QUERY DIGEST INTEREST", &seen);
    cr_assert_eq (meshq_client_declare_queue (client, "other", NULL), 0);
    cr_assert_eq (meshq_client_consume (client, "work", 10, NULL, 0), 0);
    seen.backlog = false;
    int64_t deadline = zclock_mono () + 10000;
    while (!seen.records && zclock_mono () < deadline) {
        bool none = false;
        s_read_until (&seen, &none, 200);
    }
    cr_assert_gt (seen.records, 0, "no consumer record from the agent");
    char key[80];
    snprintf (key, sizeof key, "%s", seen.record);
    //  Its tombstone, newer, as from another agent that had it.
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    MESHQ_ARGS_SET (&args, META_KEY, meta_key, meshq_span (key));
    MESHQ_ARGS_SET (&args, META_VERSION, meta_version,
                    seen.record_version + ((uint64_t)1 << 24));
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_args (&args, &buf, NULL), 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "SEND");
    zmsg_addmem (msg, s_peer.agent, 16);
    zmsg_addstr (msg, "META");
    zmsg_addmem (msg, buf.data, buf.size);
    zmsg_send (&msg, s_peer.node);
    meshq_buf_fini (&buf);
    s_seen_t after;
    memset (&after, 0, sizeof after);
    bool none = false;
    s_read_until (&after, &none, 2000);
    s_sentinel (&after);
    cr_expect_geq (after.records, 1, "the record was not written again");
    cr_expect_leq (after.records, 3, "the record was written %d times",
                   after.records);
    meshq_client_destroy (&client);
}
