/*  agent_meta_sync.c - metadata anti-entropy: two agents compare
    digests of their records and send each other only the part that
    differs.

    A vhost keeps a digest of the records it would send a peer (every
    key but "node"): 64 buckets, a key's bucket taken from a hash of the
    key alone, each bucket the XOR of a 64-bit hash of key and version
    over its records. A record written, heard or replaced updates it in
    place (meshq_vhost_meta_digest), so it costs nothing to read.

    DIGEST {body: the 64 buckets, 8 bytes each, big-endian} says "here
    is mine, send me what differs". The receiver sends META for every
    record of each bucket that differs from its own, then DIGEST_BACK
    with its own digest, unless the two were equal; the first agent
    does the same on DIGEST_BACK, without answering. Each keeps the
    newer of two records (meshq_vhost_meta_receive), so both end with
    the union of what either had, newest first, in one round trip.

    When: at link up, to a peer whose HELLO announced DIGEST (an older
    peer gets every record, as before), so two agents in step send each
    other one frame each instead of every record; and every S_SYNC_MS
    (jittered) to one peer taken at random, which repairs a record lost
    on the way (a link that went down mid-flood, a frame dropped)
    without waiting for a link to come up again. New records still go
    to every linked peer at once (agent_mesh.c, agent_interest.c): the
    digests are the repair, not the first delivery.
*/
#include "agent_mesh.h"
#include "codec_args.h"
#include "peers.h"

#include <sodium.h>

//  Bytes of a digest on the wire.
#define S_DIGEST_SIZE (MESHQ_META_BUCKETS * 8)

//  Interval of the periodic exchange, before jitter.
#define S_SYNC_MS 10000

//  Keys of the two hashes: fixed, as every agent must agree on them
//  (this is no defence against a peer that lies, which needs none: a
//  peer of the mesh may write records anyway).
static const uint8_t s_bucket_key[crypto_shorthash_KEYBYTES] = {'b'};
static const uint8_t s_record_key[crypto_shorthash_KEYBYTES] = {'r'};

static uint32_t
s_bucket (const char *key)
{
    uint8_t hash[crypto_shorthash_BYTES];
    crypto_shorthash (hash, (const uint8_t *)key, strlen (key), s_bucket_key);
    return hash[0] % MESHQ_META_BUCKETS;
}

void
meshq_vhost_meta_digest (meshq_vhost_t *self, const char *key, uint64_t version)
{
    if (streq (key, "node"))
        return;
    uint8_t input[MESHQ_MAX_HEADER_VALUE + 9];
    size_t length = strlen (key);
    if (length > MESHQ_MAX_HEADER_VALUE)
        length = MESHQ_MAX_HEADER_VALUE;
    memcpy (input, key, length);
    for (int i = 0; i < 8; i++)
        input[length + 1 + i] = (uint8_t)(version >> (56 - 8 * i));
    input[length] = 0;
    uint8_t hash[crypto_shorthash_BYTES];
    crypto_shorthash (hash, input, length + 9, s_record_key);
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = value << 8 | hash[i];
    self->meta_digest[s_bucket (key)] ^= value;
}

//  Sends verb with our digest to session.
static void
s_send_digest (meshq_engine_t *self, meshq_session_t *session, const char *verb)
{
    uint8_t body[S_DIGEST_SIZE];
    for (int b = 0; b < MESHQ_META_BUCKETS; b++)
        for (int i = 0; i < 8; i++)
            body[b * 8 + i] =
                (uint8_t)(session->vhost->meta_digest[b] >> (56 - 8 * i));
    meshq_args_t args;
    memset (&args, 0, sizeof args);
    meshq_engine_send (self, session, verb, &args, body, sizeof body);
    self->meta_digests_sent++;
}

//  Sends session every record of ours (but "node"), or only those of
//  the buckets marked in differs; returns how many.
static uint64_t
s_send_records (meshq_engine_t *self, meshq_session_t *session,
                const bool *differs)
{
    meshq_vhost_t *vhost = session->vhost;
    uint64_t sent = 0;
    meshq_meta_entry_t *entry = zhashx_first (vhost->meta);
    for (; entry; entry = zhashx_next (vhost->meta)) {
        const char *key = zhashx_cursor (vhost->meta);
        if (streq (key, "node") || (differs && !differs[s_bucket (key)]))
            continue;
        meshq_args_t args;
        memset (&args, 0, sizeof args);
        MESHQ_ARGS_SET (&args, META_KEY, meta_key, meshq_span (key));
        MESHQ_ARGS_SET (&args, META_VERSION, meta_version, entry->version);
        meshq_engine_send (self, session, "META", &args,
                           entry->present ? entry->data : NULL, entry->size);
        sent++;
    }
    return sent;
}

//  Sends session every record of ours in a bucket where its digest
//  (body) differs from ours; returns true if any bucket differed.
static bool
s_send_differing (meshq_engine_t *self, meshq_session_t *session,
                  const uint8_t *body)
{
    meshq_vhost_t *vhost = session->vhost;
    bool differs[MESHQ_META_BUCKETS];
    bool any = false;
    for (int b = 0; b < MESHQ_META_BUCKETS; b++) {
        uint64_t theirs = 0;
        for (int i = 0; i < 8; i++)
            theirs = theirs << 8 | body[b * 8 + i];
        differs[b] = theirs != vhost->meta_digest[b];
        any |= differs[b];
    }
    if (!any)
        return false;
    self->meta_repaired += s_send_records (self, session, differs);
    return true;
}

//  The digest in a frame, or NULL (counted and logged) if it is none.
static const uint8_t *
s_digest_of (meshq_engine_t *self, meshq_session_t *session, const char *verb,
             zframe_t *body)
{
    if (body && zframe_size (body) == S_DIGEST_SIZE)
        return zframe_data (body);
    meshq_engine_bad_input (self,
                            "mesh: %s dropped peer=%s reason=a digest is %d "
                            "bytes, not %zu",
                            verb, session->user, S_DIGEST_SIZE,
                            body ? zframe_size (body) : 0);
    return NULL;
}

void
meshq_mesh_on_digest (meshq_engine_t *self, meshq_session_t *session,
                      meshq_args_t *args, zframe_t *body)
{
    (void)args;
    const uint8_t *digest = s_digest_of (self, session, "DIGEST", body);
    if (digest && s_send_differing (self, session, digest))
        s_send_digest (self, session, "DIGEST_BACK");
}

void
meshq_mesh_on_digest_back (meshq_engine_t *self, meshq_session_t *session,
                           meshq_args_t *args, zframe_t *body)
{
    (void)args;
    const uint8_t *digest = s_digest_of (self, session, "DIGEST_BACK", body);
    if (digest)
        s_send_differing (self, session, digest);
}

//  Whether the peer of session announced DIGEST in its HELLO.
static bool
s_answers (meshq_vhost_t *vhost, meshq_session_t *session)
{
    const meshq_peer_info_t *info =
        vhost->peers ? meshq_peers_lookup (vhost->peers, session->id) : NULL;
    return info && meshq_mesh_answers (info, "DIGEST");
}

void
meshq_mesh_digest_link_up (meshq_engine_t *self, meshq_session_t *session)
{
    if (s_answers (session->vhost, session))
        s_send_digest (self, session, "DIGEST");
    else
        s_send_records (self, session, NULL);
}

void
meshq_mesh_digest_tick (meshq_engine_t *self, meshq_vhost_t *vhost, int64_t now)
{
    size_t count = zhashx_size (vhost->peer_sessions);
    if (!vhost->peers || count == 0)
        return;
    if (vhost->meta_sync_at == 0)
        vhost->meta_sync_at =
            now + S_SYNC_MS / 2 + randombytes_uniform (S_SYNC_MS);
    if (now < vhost->meta_sync_at)
        return;
    vhost->meta_sync_at = now + S_SYNC_MS / 2 + randombytes_uniform (S_SYNC_MS);
    //  Among the links the node needs: a digest on another would keep
    //  it from closing once idle.
    meshq_session_t *picked = NULL;
    uint32_t seen = 0;
    meshq_session_t *session = zhashx_first (vhost->peer_sessions);
    for (; session; session = zhashx_next (vhost->peer_sessions))
        if (meshq_peers_needed (vhost->peers, session->id) &&
            s_answers (vhost, session) && randombytes_uniform (++seen) == 0)
            picked = session;
    if (picked)
        s_send_digest (self, picked, "DIGEST");
}
