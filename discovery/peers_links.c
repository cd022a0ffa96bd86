/*  peers_links.c - which members of the mesh get a link from us, and
    when. See peers_internal.h, overlay.h and peers_unlink.c.

    The membership (peers_swim.c) says who is alive; this file decides
    which of them we link to. Up to full_links members, every member
    alive gets a link. Past it, links go only to our overlay (overlay.h:
    about log2(N) members, picked alike by every agent from the same
    membership, so that b is in a's exactly when a is in b's) and to the
    members the owner wants (meshq_peers_want: it has data for them; a
    want lasts a minute unless renewed). Any other link closes once
    idle (peers_unlink.c).

    The way there is where agents started together hurt. Each learns
    of the others over a few seconds, and each join moves the overlay's
    picks: linking to whatever looked right at the moment opened and
    closed thousands of links and starved the agents of CPU into false
    deaths. So while the membership fills towards full_links at a rate
    that will take it past in about a second, the overlay alone is
    linked, and the rest once the count holds still. Past full_links,
    overlay links open at once up to S_FLOOR (enough to be reached),
    then one every S_LINK_RATE_MS, and none while the membership gains
    more than one member a second. A link the owner wants is never held
    back.

    Links follow the membership in two ways: each change it reports
    (meshq_peers_swim_apply), and a scan of its whole table
    (meshq_peers_swim_scan) after a change, every second to retry links
    that failed or were held back (every S_SCAN_SETTLED_MS once one
    found nothing to do), and every S_SAMPLE_MS while it fills. The scan finds
    what to do with the membership's lock held and does it without. All
    of this runs on the owner's thread.
*/
#include "peers_internal.h"

//  Links to the overlay while a large membership still grows fast.
#define S_FLOOR 3

//  Past S_FLOOR, overlay links opened a second. When 256 agents started
//  together stopped growing, each linked its whole overlay at once:
//  3,350 links came up in 4 s, the two cores were starved, and the
//  membership took some live agents for dead. At one a second an
//  overlay of 8 (256 members) fills in about 5 s; a link the owner
//  wants (data to move) is not held back, and the membership does not
//  need links.
#define S_LINK_RATE_MS 1000

//  The membership's growth is measured over MESHQ_PEERS_SAMPLES samples
//  taken every S_SAMPLE_MS (see s_filling).
#define S_SAMPLE_MS 250

//  A scan with no member changed since the last is due this often: it
//  only retries links that failed (it walked and sorted the whole
//  table every tick: 15% of an idle 256-agent mesh's CPU).
#define S_SCAN_MS 1000

//  And this often once the last found nothing to do (no link to open or
//  close, none held back): a change brings the next at once. A scan a
//  second was still a fifth of an idle agent's engine time at 256.
#define S_SCAN_SETTLED_MS 10000

//  How long a want of the owner's lasts unless renewed.
#define S_WANT_MS 60000

//  Wants held at most: one per member of a table.
#define S_WANTS_MAX 1024

static void
s_endpoint (meshq_peers_t *peers, const meshq_swim_addr_t *addr, char *out,
            size_t size)
{
    *out = 0;
    if (meshq_swim_udp_endpoint (addr, peers->iface.index, out, size))
        *out = 0;
}

static int
s_compare_id (const void *a, const void *b)
{
    return memcmp (a, b, 16);
}

//  Whether the membership grows so fast that it will be past full_links
//  in about a second: it counts members, plus as many more as it gained
//  in the last second. Agents started together learn of each other
//  over a few seconds, and one that linked to every member it knew
//  until the count passed full_links would have opened dozens of links
//  that only the idle close (peers_unlink.c) ends. While it fills, the
//  overlay alone is linked, and the rest once the count holds still.
static bool
s_filling (meshq_peers_swim_t *self, uint32_t full_links)
{
    uint32_t oldest = self->counts[self->count_at];
    uint32_t gained = self->members > oldest ? self->members - oldest : 0;
    return (uint64_t)self->members + gained > full_links;
}

//  Whether the membership gained more than one member in the last
//  second. The overlay is picked by rank among the sorted ids, so each
//  join moves many agents' picks: 256 agents started together opened
//  and later closed about 100 links each, 25,000 in all, and that work
//  starved the agents of CPU into false deaths. While it grows so, the
//  overlay is linked only up to S_FLOOR links (enough to be reached),
//  and the rest once the count holds still.
static bool
s_growing (const meshq_peers_swim_t *self)
{
    return self->members > self->counts[self->count_at] + 1;
}

//  Whether links go only to the overlay and to the members wanted:
//  past full_links members, or filling towards it.
static bool
s_partial (meshq_peers_swim_t *self, uint32_t full_links)
{
    return self->members > full_links || s_filling (self, full_links);
}

//  Whether the link to a member is needed: in a mesh of at most
//  full_links that does not grow past it, every one; else those of our
//  overlay and those the owner wants. (Idle links not needed close.)
bool
meshq_peers_swim_needed (meshq_peers_t *peers, const uint8_t id[16],
                         int64_t now)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self && peers->leader)
        //  A vhost's links are those of the node it follows: idle ones
        //  past them close by UNLINK as there (peers_unlink.c).
        return meshq_peers_swim_needed (peers->leader, id, now);
    if (!self || !s_partial (self, peers->config.full_links))
        return true;
    if (self->overlay_len &&
        bsearch (id, self->overlay, self->overlay_len, 16, s_compare_id))
        return true;
    char hex[33];
    meshq_peers_hex (id, hex);
    int64_t *until = self->wanted ? zhashx_lookup (self->wanted, hex) : NULL;
    return until && *until > now;
}

bool
meshq_peers_swim_partial (meshq_peers_t *peers)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self && peers->leader)
        return meshq_peers_swim_partial (peers->leader);
    return self && s_partial (self, peers->config.full_links);
}

bool
meshq_peers_swim_overlay (meshq_peers_t *peers, const uint8_t id[16])
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self && peers->leader)
        return meshq_peers_swim_overlay (peers->leader, id);
    return self && self->overlay_len &&
           bsearch (id, self->overlay, self->overlay_len, 16, s_compare_id);
}

void
meshq_peers_swim_unwant (meshq_peers_t *peers, const uint8_t id[16])
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self && peers->leader) {
        meshq_peers_swim_unwant (peers->leader, id);
        return;
    }
    if (!self || !self->wanted)
        return;
    char hex[33];
    meshq_peers_hex (id, hex);
    zhashx_delete (self->wanted, hex);
}

//  Whether a member alive gets a link from us now: one needed, but
//  past full_links an overlay link only up to S_FLOOR links while the
//  membership grows fast, and one every S_LINK_RATE_MS past them.
bool
meshq_peers_swim_linkable (meshq_peers_t *peers, const uint8_t id[16],
                           int64_t now)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!meshq_peers_swim_needed (peers, id, now))
        return false;
    if (!self || self->members <= peers->config.full_links)
        return true;
    char hex[33];
    meshq_peers_hex (id, hex);
    int64_t *until = self->wanted ? zhashx_lookup (self->wanted, hex) : NULL;
    if (until && *until > now)
        return true;
    if (self->linked >= S_FLOOR) {
        if (s_growing (self) || now < self->link_next)
            return false;
        self->link_next = now + S_LINK_RATE_MS;
    }
    self->linked++;
    return true;
}

//  A member changed: links follow.
void
meshq_peers_swim_apply (meshq_peers_t *peers,
                        const meshq_peers_swim_event_t *event, int64_t now)
{
    char hex[33];
    meshq_peers_hex (event->id, hex);
    //  Suspicions come and go by the thousand in a large mesh under
    //  load (the membership counts them): only joins, returns, deaths
    //  and leaves are worth a line each: one as a member comes, one as
    //  it goes.
    if (event->state == MESHQ_SWIM_DEAD || event->state == MESHQ_SWIM_LEFT ||
        event->fresh)
        zsys_info ("discovery: member %s id=%s incarnation=%" PRIu64,
                   meshq_peers_swim_state_name (event->state), hex,
                   event->incarnation);
    if (event->state == MESHQ_SWIM_ALIVE) {
        if (!meshq_peers_swim_linkable (peers, event->id, now))
            return;
        char endpoint[MESHQ_ENDPOINT_MAX];
        s_endpoint (peers, &event->addr, endpoint, sizeof endpoint);
        if (*endpoint)
            meshq_peers_discovered (peers, event->id, event->incarnation,
                                    endpoint, false, true, now);
        return;
    }
    if (event->state != MESHQ_SWIM_DEAD && event->state != MESHQ_SWIM_LEFT)
        return;
    meshq_peers_entry_t *entry = meshq_peers_find (peers, event->id);
    //  The death of an older incarnation ends nothing of a newer one
    //  whose HELLO came first.
    if (entry && entry->peer.incarnation > event->incarnation)
        return;
    //  The owner's other tables, which have no membership, follow.
    if (peers->gone_fn)
        peers->gone_fn (peers->gone_arg, event->id, event->incarnation,
                        event->state == MESHQ_SWIM_LEFT);
    if (!entry)
        return;
    unsigned actions = meshq_peer_dead (&entry->peer,
                                        event->state == MESHQ_SWIM_LEFT
                                            ? "left"
                                            : "declared dead by the membership",
                                        now);
    meshq_peers_apply (peers, entry, actions, NULL, NULL, now);
}

void
meshq_peers_swim_scan (meshq_peers_t *peers, int64_t now)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self || !self->swim)
        return;
    //  What to do is found with the lock held, and done without it.
    size_t cap = 64, count = 0;
    meshq_peers_swim_event_t *todo = malloc (cap * sizeof *todo);
    assert (todo);
    pthread_mutex_lock (&self->lock);
    self->changed = false;
    self->scanned = now;
    meshq_swim_stats_t stats;
    meshq_swim_stats (self->swim, &stats);
    meshq_peers_swim_scan_locked (peers, &stats, now);
    //  The overlay, from the members alive and ourselves.
    self->members = stats.alive + stats.suspect;
    if (now - self->counted >= S_SAMPLE_MS) {
        self->counts[self->count_at] = self->members;
        self->count_at = (self->count_at + 1) % MESHQ_PEERS_SAMPLES;
        self->counted = now;
    }
    self->filling = self->members <= peers->config.full_links &&
                    s_filling (self, peers->config.full_links);
    if (s_partial (self, peers->config.full_links)) {
        size_t n = 0;
        uint8_t (*ids)[16] = malloc ((self->members + 1) * 16);
        assert (ids);
        memcpy (ids[n++], peers->node, 16);
        uint32_t at = 0;
        uint8_t id[16];
        meshq_swim_state_t state;
        uint64_t incarnation;
        while (meshq_swim_walk (self->swim, &at, id, &state, &incarnation))
            if (meshq_swim_is_live (state) && n < self->members + 1)
                memcpy (ids[n++], id, 16);
        self->overlay_len =
            meshq_overlay_pick (ids, n, peers->node, self->overlay);
        free (ids);
    } else
        self->overlay_len = 0;
    self->linked = 0;
    for (size_t i = 0; i < peers->count; i++)
        if (peers->entries[i]->peer.state != MESHQ_PEER_IS_DOWN)
            self->linked++;
    uint32_t cursor = 0;
    bool held = false;
    meshq_peers_swim_event_t event = {.fresh = false};
    while (meshq_swim_walk (self->swim, &cursor, event.id, &event.state,
                            &event.incarnation)) {
        meshq_peers_entry_t *entry = meshq_peers_find (peers, event.id);
        bool linked = entry && entry->peer.state != MESHQ_PEER_IS_DOWN;
        //  Alive with no link, or gone with one.
        bool gone =
            event.state == MESHQ_SWIM_DEAD || event.state == MESHQ_SWIM_LEFT;
        if (event.state == MESHQ_SWIM_ALIVE ? linked : !(gone && linked))
            continue;
        if (event.state == MESHQ_SWIM_ALIVE) {
            if (!meshq_peers_swim_needed (peers, event.id, now))
                continue;
            if (!meshq_peers_swim_linkable (peers, event.id, now)) {
                held = true;  //  Needed, but later.
                continue;
            }
        }
        if (gone && entry->peer.incarnation > event.incarnation)
            continue;
        meshq_swim_member_addr (self->swim, event.id, &event.addr);
        if (count == cap) {
            cap *= 2;
            todo = realloc (todo, cap * sizeof *todo);
            assert (todo);
        }
        todo[count++] = event;
    }
    //  Alone, it joins through its seeds (scan_locked) every second.
    self->settled = count == 0 && !held && self->members > 0;
    pthread_mutex_unlock (&self->lock);
    for (size_t i = 0; i < count; i++) {
        const meshq_peers_swim_event_t *item = &todo[i];
        if (item->state != MESHQ_SWIM_ALIVE) {
            meshq_peers_swim_apply (peers, item, now);
            continue;
        }
        //  As second-hand news: not retried within a timeout of its
        //  last try's end.
        char endpoint[MESHQ_ENDPOINT_MAX];
        s_endpoint (peers, &item->addr, endpoint, sizeof endpoint);
        if (*endpoint)
            meshq_peers_discovered (peers, item->id, item->incarnation,
                                    endpoint, true, true, now);
    }
    free (todo);
}

bool
meshq_peers_swim_due (meshq_peers_t *peers, int64_t now)
{
    meshq_peers_swim_t *self = peers->membership;
    if (!self || !self->swim)
        return false;
    pthread_mutex_lock (&self->lock);
    //  While it fills, the growth is sampled (and the links follow as
    //  it stops) every S_SAMPLE_MS.
    int64_t every = self->settled ? S_SCAN_SETTLED_MS : S_SCAN_MS;
    bool due = self->changed || now - self->scanned >= every ||
               (self->filling && now - self->scanned >= S_SAMPLE_MS);
    pthread_mutex_unlock (&self->lock);
    return due;
}

static void
s_free_want (void **item)
{
    free (*item);
    *item = NULL;
}

void
meshq_peers_want (meshq_peers_t *peers, const uint8_t node[16])
{
    meshq_peers_swim_t *self = peers->membership;
    if ((!self || !self->swim) && peers->leader) {
        //  The one it follows links to it, and introduces us (VHOST).
        meshq_peers_want (peers->leader, node);
        return;
    }
    if (!self || !self->swim || memcmp (node, peers->node, 16) == 0)
        return;
    if (!self->wanted) {
        self->wanted = zhashx_new ();
        zhashx_set_destructor (self->wanted, s_free_want);
    }
    int64_t now = zclock_mono ();
    char hex[33];
    meshq_peers_hex (node, hex);
    int64_t *until = zhashx_lookup (self->wanted, hex);
    bool fresh = !until || *until <= now;
    if (!until) {
        if (zhashx_size (self->wanted) >= S_WANTS_MAX) {
            //  Past the bound, the ones that lapsed go first.
            zlistx_t *keys = zhashx_keys (self->wanted);
            for (char *key = zlistx_first (keys); key;
                 key = zlistx_next (keys)) {
                int64_t *when = zhashx_lookup (self->wanted, key);
                if (when && *when <= now)
                    zhashx_delete (self->wanted, key);
            }
            zlistx_destroy (&keys);
            if (zhashx_size (self->wanted) >= S_WANTS_MAX)
                return;
        }
        until = malloc (sizeof *until);
        assert (until);
        zhashx_insert (self->wanted, hex, until);
    }
    *until = now + S_WANT_MS;
    if (fresh && self->members > peers->config.full_links)
        meshq_peers_swim_scan (peers, now);
}

bool
meshq_peers_partial (meshq_peers_t *peers)
{
    meshq_peers_swim_t *self = peers->membership;
    if ((!self || !self->swim) && peers->leader)
        return meshq_peers_partial (peers->leader);
    return self && self->swim && self->members > peers->config.full_links;
}

bool
meshq_peers_needed (meshq_peers_t *peers, const uint8_t node[16])
{
    return meshq_peers_swim_needed (peers, node, zclock_mono ());
}

size_t
meshq_peers_unlinked (meshq_peers_t *peers, meshq_peers_member_t **members)
{
    *members = NULL;
    meshq_peers_swim_t *self = peers->membership;
    if (!self || !self->swim)
        return 0;
    size_t count = 0, capacity = 0;
    meshq_peers_member_t *out = NULL;
    pthread_mutex_lock (&self->lock);
    uint32_t cursor = 0;
    uint8_t id[16];
    meshq_swim_state_t state;
    uint64_t incarnation;
    while (meshq_swim_walk (self->swim, &cursor, id, &state, &incarnation)) {
        //  Entries never up (tries under way or failed) are not listed
        //  by meshq_peers_first: the member is listed here.
        meshq_peers_entry_t *entry = meshq_peers_find (peers, id);
        if (!meshq_swim_is_live (state) || (entry && entry->listed))
            continue;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            out = realloc (out, capacity * sizeof *out);
            assert (out);
        }
        meshq_peers_member_t *member = &out[count++];
        memcpy (member->id, id, 16);
        meshq_peers_hex (id, member->id_hex);
        member->member = meshq_peers_swim_state_name (state);
        member->incarnation = incarnation;
        member->version = 0;
        meshq_swim_member (self->swim, id, NULL, NULL, &member->version);
        meshq_swim_addr_t addr;
        if (meshq_swim_member_addr (self->swim, id, &addr) == 0)
            s_endpoint (peers, &addr, member->endpoint,
                        sizeof member->endpoint);
        else
            *member->endpoint = 0;
    }
    pthread_mutex_unlock (&self->lock);
    *members = out;
    return count;
}
