/*  discovery.c - the discovery actor. See discovery.h. */
#include "discovery.h"
#include "meshq.h"

#include <inttypes.h>

typedef struct {
    zsock_t *pipe;         //  To the owner.
    zloop_t *loop;         //  Runs until $TERM.
    meshq_peers_t *peers;  //  The module; NULL after KILL.
} s_self_t;

static void
s_on_peer (void *arg, meshq_peer_event_t event, const meshq_peer_info_t *peer,
           zmsg_t **msg_p)
{
    s_self_t *self = arg;
    if (event == MESHQ_PEER_UP)
        zsock_send (self->pipe, "sbss8", "PEER_UP", peer->id, (size_t)16,
                    peer->name, peer->endpoint, peer->incarnation);
    else if (event == MESHQ_PEER_DOWN)
        zsock_send (self->pipe, "sbss8s", "PEER_DOWN", peer->id, (size_t)16,
                    peer->name, peer->endpoint, peer->incarnation,
                    peer->reason);
    else {
        zmsg_t *msg = *msg_p;
        *msg_p = NULL;
        zmsg_pushmem (msg, peer->id, 16);
        zmsg_pushstr (msg, "MESSAGE");
        if (zmsg_send (&msg, self->pipe))
            zmsg_destroy (&msg);
    }
}

static void
s_stats (s_self_t *self)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "STATS");
    if (self->peers) {
        const meshq_peers_stats_t *stats = meshq_peers_stats (self->peers);
        zmsg_addstrf (reply, "beacons_sent=%" PRIu64, stats->beacons_sent);
        zmsg_addstrf (reply, "beacons_received=%" PRIu64,
                      stats->beacons_received);
        for (int i = 0; i < MESHQ_BEACON_DROP_COUNT; i++)
            zmsg_addstrf (reply, "beacons_dropped.%s=%" PRIu64,
                          meshq_beacon_drop_name (i),
                          stats->beacons_dropped[i]);
        zmsg_addstrf (reply, "frames_received=%" PRIu64,
                      stats->frames_received);
        for (int i = 0; i < MESHQ_FRAME_DROP_COUNT; i++)
            zmsg_addstrf (reply, "frames_dropped.%s=%" PRIu64,
                          meshq_peers_frame_drop_name (i),
                          stats->frames_dropped[i]);
        zmsg_addstrf (reply, "peer_up_events=%" PRIu64, stats->peer_up_events);
        zmsg_addstrf (reply, "peer_down_events=%" PRIu64,
                      stats->peer_down_events);
        zmsg_addstrf (reply, "link_errors=%" PRIu64, stats->link_errors);
        zmsg_addstrf (reply, "links_unlinked=%" PRIu64, stats->links_unlinked);
        zmsg_addstrf (reply, "links_open=%" PRIu64, stats->links_open);
        zmsg_addstrf (reply, "links_peak=%" PRIu64, stats->links_peak);
        zmsg_addstrf (reply, "links_max=%" PRIu64, stats->links_max);
        zmsg_addstrf (reply, "links_refused=%" PRIu64, stats->links_refused);
        zmsg_addstrf (reply, "links_evicted=%" PRIu64, stats->links_evicted);
        zmsg_addstrf (reply, "duplicate_names=%" PRIu64,
                      stats->duplicate_names);
        zmsg_addstrf (reply, "members_alive=%" PRIu64, stats->members_alive);
        //  Members alive listed with no link (list_peers' rows of them).
        meshq_peers_member_t *members;
        zmsg_addstrf (reply, "members_unlinked=%zu",
                      meshq_peers_unlinked (self->peers, &members));
        free (members);
        zmsg_addstrf (reply, "membership_dropped=%" PRIu64,
                      stats->membership_dropped);
        zmsg_addstrf (reply, "members_full=%" PRIu64, stats->members_full);
        zmsg_addstrf (reply, "gossip_dropped=%" PRIu64, stats->gossip_dropped);
        zmsg_addstrf (reply, "answers_held=%" PRIu64, stats->answers_held);
    }
    if (zmsg_send (&reply, self->pipe))
        zmsg_destroy (&reply);
}

//  Hangs the actor, as SIGSTOP hangs a process, until THAW or $TERM.
//  Returns -1 if $TERM came.
static int
s_freeze (s_self_t *self)
{
    zstr_send (self->pipe, "FREEZE");
    if (self->peers)
        meshq_peers_freeze (self->peers, true);
    while (true) {
        char *command = zstr_recv (self->pipe);
        bool thaw = command && streq (command, "THAW");
        bool term = !command || streq (command, "$TERM");
        free (command);
        if ((thaw || term) && self->peers)
            meshq_peers_freeze (self->peers, false);
        if (thaw) {
            zstr_send (self->pipe, "THAW");
            return 0;
        }
        if (term)
            return -1;
    }
}

static int
s_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    zmsg_t *msg = zmsg_recv (pipe);
    if (!msg)
        return -1;
    char *command = zmsg_popstr (msg);
    int rc = 0;
    assert (command);
    if (streq (command, "$TERM"))
        rc = -1;
    else if (streq (command, "START")) {
        const char *why = "";
        int code = self->peers
                       ? meshq_peers_start (self->peers, self->loop, &why)
                       : MESHQ_ESTATE;
        zsock_send (pipe, "sis", "START", code, code ? why : "");
    } else if (streq (command, "INFO")) {
        const char *endpoint =
            self->peers ? meshq_peers_endpoint (self->peers) : "";
        uint8_t none[16] = {0};
        zsock_send (pipe, "sbs8", "INFO",
                    self->peers ? meshq_peers_node (self->peers) : none,
                    (size_t)16, endpoint,
                    self->peers ? meshq_peers_incarnation (self->peers) : 0);
    } else if (streq (command, "SEND")) {
        zframe_t *id = zmsg_pop (msg);
        int code = MESHQ_EINVAL;
        if (id && zframe_size (id) == 16 && self->peers)
            code = meshq_peers_send (self->peers, zframe_data (id), &msg);
        zframe_destroy (&id);
        zsock_send (pipe, "si", "SEND", code);
    } else if (streq (command, "WANT")) {
        zframe_t *id = zmsg_pop (msg);
        if (id && zframe_size (id) == 16 && self->peers)
            meshq_peers_want (self->peers, zframe_data (id));
        zframe_destroy (&id);
        zstr_send (pipe, "WANT");
    } else if (streq (command, "STATS"))
        s_stats (self);
    else if (streq (command, "KILL")) {
        if (self->peers)
            meshq_peers_stop (self->peers, false);
        meshq_peers_destroy (&self->peers);
        zstr_send (pipe, "KILL");
    } else if (streq (command, "FREEZE"))
        rc = s_freeze (self);
    else
        assert (false);  //  An unknown command is our own bug.
    free (command);
    zmsg_destroy (&msg);
    return rc;
}

void
meshq_discovery (zsock_t *pipe, void *args)
{
    s_self_t self = {.pipe = pipe, .loop = zloop_new ()};
    assert (self.loop);
    self.peers = meshq_peers_new ((const meshq_peers_config_t *)args);
    meshq_peers_set_handler (self.peers, s_on_peer, &self);
    zloop_set_nonstop (self.loop, true);
    zloop_reader (self.loop, pipe, s_pipe, &self);
    zsock_signal (pipe, 0);   //  zactor_new returns now: config copied.
    zloop_start (self.loop);  //  Until $TERM.
    meshq_peers_destroy (&self.peers);
    zloop_destroy (&self.loop);
}
