/*  peers_unlink.c - closing idle links in a mesh past full_links, with
    a goodbye that is not a death. See peers_internal.h.

    In a mesh of more than full_links members an agent keeps links to
    its overlay (overlay.h) and to the members its owner wants
    (meshq_peers_want). Any other link (opened while the mesh was small,
    or by a peer that wanted it once) closes once idle: no frame of the
    owner's either way for MESHQ_PEERS_IDLE_MS. One side asks (UNLINK
    done 0); the other agrees if it does not need the link either and
    answers (UNLINK done 1) as it closes its side; the asker closes its
    own on the answer, or when the other's connection goes. Both report
    the peer down (reason "unlinked": sessions end, what was in flight
    is requeued), the membership keeps the member alive, and the entry
    is forgotten, so neither links again unless the overlay or a want
    says so (then as to any member). A peer that needs the link does
    not answer; the ask lapses after a timeout and comes again an idle
    later. Only peers whose HELLO announced UNLINK are asked.
*/
#include "peers_internal.h"

//  How long the answer may take to leave before its link closes.
#define S_LINGER_MS 500

//  Whether the entry's HELLO announced UNLINK.
static bool
s_speaks_unlink (const meshq_peers_entry_t *entry)
{
    const char *at = entry->commands;
    size_t size = strlen ("UNLINK");
    while ((at = strstr (at, "UNLINK"))) {
        bool start = at == entry->commands || at[-1] == ' ';
        bool end = at[size] == 0 || at[size] == ' ';
        if (start && end)
            return true;
        at += size;
    }
    return false;
}

static void
s_send (meshq_peers_t *self, meshq_peers_entry_t *entry, bool done)
{
    meshq_buf_reset (&self->buf);
    if (meshq_codec_encode_unlink (done, &self->buf) == 0)
        meshq_peers_send_frame (self, entry, "UNLINK", &self->buf);
}

//  Whether we can do without the link to entry now: past full_links,
//  neither overlay nor wanted, idle for idle_ms.
static bool
s_spare (meshq_peers_t *self, meshq_peers_entry_t *entry, uint32_t idle_ms,
         int64_t now)
{
    return meshq_peers_partial (self) && s_speaks_unlink (entry) &&
           !entry->peer.waiting && now - entry->peer.used >= idle_ms &&
           !meshq_peers_swim_needed (self, entry->node, now);
}

void
meshq_peers_unlink_tick (meshq_peers_t *self, int64_t now)
{
    if (!meshq_peers_partial (self))
        return;
    for (size_t i = 0; i < self->count; i++) {
        meshq_peers_entry_t *entry = self->entries[i];
        if (!entry->link ||
            !meshq_peer_idle (&entry->peer, MESHQ_PEERS_IDLE_MS, now) ||
            !s_spare (self, entry, MESHQ_PEERS_IDLE_MS, now))
            continue;
        s_send (self, entry, false);
        meshq_peer_unlink_asked (&entry->peer, now);
        self->stats.unlinks_asked++;
    }
}

void
meshq_peers_unlink_input (meshq_peers_t *self, meshq_peers_entry_t *entry,
                          bool done, int64_t now)
{
    meshq_peer_state_t state = entry->peer.state;
    //  Down already: the answer to an ask that crossed ours.
    if (state != MESHQ_PEER_IS_UP && state != MESHQ_PEER_IS_SUSPECT)
        return;
    if (!done) {
        //  Its ask crossed ours, or we can do without the link too (it
        //  may have counted idle from a little earlier than we did).
        if (!entry->peer.unlinking &&
            !s_spare (self, entry, MESHQ_PEERS_IDLE_MS / 2, now)) {
            self->stats.unlinks_refused++;
            return;
        }
        s_send (self, entry, true);
        if (entry->link)
            meshq_link_set_linger (entry->link, S_LINGER_MS);
    }
    unsigned actions = meshq_peer_unlinked (&entry->peer, now);
    if (actions)
        self->stats.links_unlinked++;
    meshq_peers_apply (self, entry, actions, NULL, NULL, now);
}
