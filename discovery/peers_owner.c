/*  peers_owner.c - discovery: what the owner of the peer table calls
    once it runs. See peers.h.

    Sends a frame to a peer that is up, walks the peers listed, and
    reads this node's facts and the table's counters.
*/
#include "peers_internal.h"

static const char *s_frame_drop_names[MESHQ_FRAME_DROP_COUNT] = {
    "routing_id", "command", "malformed", "mesh",     "mismatch",
    "self",       "not_up",  "stale",     "endpoint", "full",
    "duplicate",  "future",  "pending",
};

//  Sends, and with await has the link wait for a sign of life.
static int
s_send (meshq_peers_t *self, const uint8_t peer[16], zmsg_t **msg_p, bool await)
{
    assert (self && msg_p && *msg_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    zframe_t *command = zmsg_first (msg);
    if (!command || meshq_codec_peer_command (zframe_data (command),
                                              zframe_size (command)) !=
                        MESHQ_PEER_CMD_OTHER) {
        zmsg_destroy (&msg);
        return MESHQ_EINVAL;
    }
    meshq_peers_entry_t *entry =
        self->started ? meshq_peers_find (self, peer) : NULL;
    if (!entry || !entry->peer.reported || !entry->link) {
        zmsg_destroy (&msg);
        return MESHQ_ENOTFOUND;
    }
    int rc = meshq_peers_link_send (self, entry, &msg);
    if (rc == 0 && await) {
        meshq_peer_sent_data (&entry->peer, zclock_mono ());
        meshq_peers_hurry (self);
    }
    return rc;
}

int
meshq_peers_send (meshq_peers_t *self, const uint8_t peer[16], zmsg_t **msg_p)
{
    return s_send (self, peer, msg_p, true);
}

int
meshq_peers_send_unawaited (meshq_peers_t *self, const uint8_t peer[16],
                            zmsg_t **msg_p)
{
    return s_send (self, peer, msg_p, false);
}

static const meshq_peer_info_t *
s_iterate (meshq_peers_t *self)
{
    while (self->cursor < self->count) {
        meshq_peers_entry_t *entry = self->entries[self->cursor++];
        if (entry->listed)
            return meshq_peers_info (entry, zclock_mono ());
    }
    return NULL;
}

const meshq_peer_info_t *
meshq_peers_first (meshq_peers_t *self)
{
    assert (self);
    self->cursor = 0;
    return s_iterate (self);
}

const meshq_peer_info_t *
meshq_peers_next (meshq_peers_t *self)
{
    assert (self);
    return s_iterate (self);
}

const meshq_peer_info_t *
meshq_peers_lookup (meshq_peers_t *self, const uint8_t peer[16])
{
    assert (self);
    meshq_peers_entry_t *entry = meshq_peers_find (self, peer);
    return entry && entry->listed ? meshq_peers_info (entry, zclock_mono ())
                                  : NULL;
}

size_t
meshq_peers_up_count (const meshq_peers_t *self)
{
    return self->up_count;
}

const uint8_t *
meshq_peers_node (const meshq_peers_t *self)
{
    return self->node;
}

const char *
meshq_peers_node_hex (const meshq_peers_t *self)
{
    return self->node_hex;
}

uint64_t
meshq_peers_incarnation (const meshq_peers_t *self)
{
    return self->incarnation;
}

const char *
meshq_peers_name (const meshq_peers_t *self)
{
    return self->name;
}

const char *
meshq_peers_mesh (const meshq_peers_t *self)
{
    return self->mesh;
}

const char *
meshq_peers_vhost (const meshq_peers_t *self)
{
    return self->vhost;
}

const char *
meshq_peers_endpoint (const meshq_peers_t *self)
{
    return self->endpoint;
}

const char *
meshq_peers_interface (const meshq_peers_t *self)
{
    return self->iface.name;
}

const char *
meshq_peers_transport (const meshq_peers_t *self)
{
    return self->udp
               ? meshq_udp_transport_name (meshq_udp_transport (self->udp))
               : "none";
}

const meshq_peers_stats_t *
meshq_peers_stats (const meshq_peers_t *self)
{
    return &self->stats;
}

const char *
meshq_peers_frame_drop_name (meshq_frame_drop_t reason)
{
    assert ((unsigned)reason < MESHQ_FRAME_DROP_COUNT);
    return s_frame_drop_names[reason];
}

bool
meshq_peers_insecure (const meshq_peers_t *self)
{
    assert (self);
    return self->started && !self->curve && !self->iface.loopback;
}

void
meshq_peers_freeze (meshq_peers_t *self, bool frozen)
{
    assert (self);
    meshq_peers_swim_freeze (self, frozen);
}

bool
meshq_peers_has_membership (const meshq_peers_t *self)
{
    assert (self);
    return !self->config.no_membership;
}

void
meshq_peers_member_gone (meshq_peers_t *self, const uint8_t node[16], bool left)
{
    assert (self && node);
    if (!self->started || !self->config.no_membership)
        return;
    meshq_peers_entry_t *entry = meshq_peers_find (self, node);
    if (!entry)
        return;
    //  As a module with a membership of its own takes its DEAD or LEFT
    //  (meshq_peers_swim_apply): down now, link closed. Nothing marks
    //  the start as gone, so a member that refutes its death and is
    //  introduced again links again.
    int64_t now = zclock_mono ();
    unsigned actions = meshq_peer_dead (
        &entry->peer, left ? "left" : "declared dead by the membership", now);
    meshq_peers_apply (self, entry, actions, NULL, NULL, now);
}
