/*  peers_unlink.c - closing idle links in a mesh past full_links, with
    a goodbye that is not a death, and capping how many are open. See
    peers_internal.h.

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

    Past full_links, links open at once are capped too (max_links): a
    new one takes the place of the least recently used spare link,
    closed by an UNLINK done 1 that needs no answer, or is refused
    (meshq_peers_cap_room; docs/decisions/0039-a-cap-on-open-links.md).
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
    //  Cheapest first: this runs for every idle link, every tick.
    return meshq_peers_partial (self) && !entry->peer.waiting &&
           now - entry->peer.used >= idle_ms &&
           !meshq_peers_swim_needed (self, entry->node, now) &&
           s_speaks_unlink (entry);
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
    //  It closed its side: an answer to our ask, or a close to make
    //  room at a peer at its cap (its max_links). Our owner's want of
    //  the link, if any, is forgotten as well: held, it would open the
    //  link again at once and close another there, for as long as it
    //  lasts; work that still needs the link wants it again.
    if (done)
        meshq_peers_swim_unwant (self, entry->node);
    unsigned actions = meshq_peer_unlinked (&entry->peer, now);
    if (actions)
        self->stats.links_unlinked++;
    meshq_peers_apply (self, entry, actions, NULL, NULL, now);
}

// --------------------------------------------------------------------
//  The cap on links open at once (max_links), past full_links

//  A link used (a frame of the owner's either way, or its session's
//  start) this recently is not closed to make room: it carries work,
//  or is about to (a want opens a link and its frame follows once the
//  link is up, within a round trip). A second is tens of round trips
//  on a network, and short against the idle close's 15 s.
#define S_ROOM_FLOOR_MS 1000

size_t
meshq_peers_links (const meshq_peers_t *self)
{
    size_t links = 0;
    for (size_t i = 0; i < self->count; i++)
        if (self->entries[i]->link)
            links++;
    return links;
}

void
meshq_peers_cap_opened (meshq_peers_t *self)
{
    size_t links = meshq_peers_links (self);
    self->stats.links_open = links;
    if (links > self->stats.links_peak)
        self->stats.links_peak = links;
}

//  Whether the entry's link may be closed to make room: up (or
//  suspect), not our overlay, nothing in flight on it (no wait for a
//  sign of life), no UNLINK under way, and unused for S_ROOM_FLOOR_MS.
static bool
s_evictable (meshq_peers_t *self, meshq_peers_entry_t *entry, int64_t now)
{
    const meshq_peer_t *peer = &entry->peer;
    return entry->link &&
           (peer->state == MESHQ_PEER_IS_UP ||
            peer->state == MESHQ_PEER_IS_SUSPECT) &&
           !peer->waiting && !peer->unlinking &&
           now - peer->used >= S_ROOM_FLOOR_MS &&
           !meshq_peers_swim_overlay (self, entry->node);
}

//  The link to close to make room: of those evictable, the least
//  recently used. NULL if none. (Whether the owner still wants it does
//  not count: a want lasts a minute past the work that made it.)
static meshq_peers_entry_t *
s_victim (meshq_peers_t *self, int64_t now)
{
    meshq_peers_entry_t *best = NULL;
    for (size_t i = 0; i < self->count; i++) {
        meshq_peers_entry_t *entry = self->entries[i];
        if (s_evictable (self, entry, now) &&
            (!best || entry->peer.used < best->peer.used))
            best = entry;
    }
    return best;
}

//  Closes the victim's link as an UNLINK the peer need not answer: we
//  say we close (done 1), as the answer to an ask does, so that it
//  closes its side as a link closed by agreement (no suspicion, no
//  probe); an older peer, which has no UNLINK, sees the link lost.
static void
s_evict (meshq_peers_t *self, meshq_peers_entry_t *victim, int64_t now)
{
    if (s_speaks_unlink (victim)) {
        s_send (self, victim, true);
        meshq_link_set_linger (victim->link, S_LINGER_MS);
    }
    self->stats.links_evicted++;
    zsys_info ("discovery: link closed to make room id=%s name=%s "
               "idle_ms=%" PRId64 " max_links=%u evicted=%" PRIu64,
               victim->hex, victim->name, now - victim->peer.used,
               self->config.max_links, self->stats.links_evicted);
    //  The owner wants it no more than the others it left open: a want
    //  still held would open it again at the next scan, and close
    //  another, for as long as the want lasts.
    meshq_peers_swim_unwant (self, victim->node);
    unsigned actions = meshq_peer_unlinked (&victim->peer, now);
    meshq_peers_apply (self, victim, actions, NULL, NULL, now);
}

bool
meshq_peers_cap_room (meshq_peers_t *self, meshq_peers_entry_t *entry,
                      const uint8_t node[16], bool theirs, int64_t now)
{
    if ((entry && entry->link) || !meshq_peers_swim_partial (self))
        return true;
    size_t links = meshq_peers_links (self);
    if (links < self->config.max_links)
        return true;
    //  A link we need ourselves is ours to open, whoever asks. One only
    //  a peer wants makes room at most once a S_ROOM_FLOOR_MS: a peer
    //  that opens links to us in a loop (a bug, or an attack) closes
    //  at most one of our spare links a second, never one we need now.
    bool overlay = meshq_peers_swim_overlay (self, node);
    if (theirs && (overlay || meshq_peers_swim_needed (self, node, now)))
        theirs = false;
    bool paced = theirs && now - self->cap_theirs < S_ROOM_FLOOR_MS;
    while (links >= self->config.max_links && !paced) {
        meshq_peers_entry_t *victim = s_victim (self, now);
        if (!victim)
            break;
        s_evict (self, victim, now);
        //  Counted again: the owner, told of the close, may have
        //  opened another meanwhile.
        links = meshq_peers_links (self);
        if (theirs) {
            self->cap_theirs = now;
            paced = true;
        }
    }
    //  The overlay never waits for room: without it the mesh may split.
    //  It holds about log2 of the members, 10 at most in a table of
    //  1,024, and may go past the cap by that much.
    if (links < self->config.max_links || overlay)
        return true;
    self->stats.links_refused++;
    if (meshq_peers_ratelog (&self->cap_log, now)) {
        char hex[33];
        meshq_peers_hex (node, hex);
        zsys_warning ("discovery: link refused id=%s reason=\"max_links\" "
                      "links=%zu max_links=%u asked_by=%s refused=%" PRIu64,
                      hex, links, self->config.max_links,
                      theirs ? "peer" : "us", self->stats.links_refused);
    }
    return false;
}
