/*  peers_seeds.c - discovery: seeds, numeric or by DNS name. See
    peers.h and resolver.h.

    A numeric seed (tcp://10.0.0.5:5670) is probed as it is. A seed that
    names its host (tcp://agents.example:5670) stands for every address
    the name resolves to: the resolver actor resolves each name at
    start and every seed_refresh_ms, off the loop, and each answer
    replaces that name's addresses in the seed list. A name that does
    not resolve (not yet in DNS, or DNS down) keeps the addresses it
    had, is counted and logged, and is tried again next round. Probing
    is the same for both (peers_table.c): a HELLO while no up peer
    answers for the address.
*/
#include "peers_internal.h"
#include "resolver.h"

#include <stdarg.h>

static int
s_error (meshq_peers_t *self, int code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    return code;
}

//  Splits tcp://HOST:PORT with HOST a DNS name; 0 or -1.
static int
s_split_name (const char *endpoint, char *host, size_t host_size,
              uint16_t *port)
{
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return -1;
    const char *start = endpoint + 6;
    const char *colon = strrchr (start, ':');
    if (!colon || colon == start || (size_t)(colon - start) >= host_size)
        return -1;
    memcpy (host, start, (size_t)(colon - start));
    host[colon - start] = 0;
    const char *digits = colon + 1;
    size_t count = strlen (digits);
    if (count == 0 || count > 5 || digits[0] == '0' ||
        strspn (digits, "0123456789") != count || atoi (digits) > 65535)
        return -1;
    *port = (uint16_t)atoi (digits);
    return meshq_resolver_host_valid (host) ? 0 : -1;
}

int
meshq_peers_seeds_parse (meshq_peers_t *self)
{
    for (size_t i = 0; i < self->seed_names; i++)
        free (self->seed_hosts[i]);
    self->seed_names = 0;
    const char *seed = self->seeds;
    while (seed && *seed) {
        size_t size = strcspn (seed, ",");
        char endpoint[MESHQ_RESOLVER_HOST_MAX + 16];
        if (size >= sizeof endpoint)
            return s_error (self, MESHQ_EINVAL, "seed '%.*s...' is too long",
                            32, seed);
        memcpy (endpoint, seed, size);
        endpoint[size] = 0;
        char host[MESHQ_RESOLVER_HOST_MAX];
        uint16_t port = 0;
        if (meshq_iface_endpoint_valid (endpoint)) {
            if (self->seed_count == MESHQ_PEERS_SEEDS_MAX)
                return s_error (self, MESHQ_EINVAL, "more than %d seeds",
                                MESHQ_PEERS_SEEDS_MAX);
            meshq_peers_seed_t *entry = &self->seed_list[self->seed_count++];
            *entry =
                (meshq_peers_seed_t){.endpoint = strdup (endpoint), .name = -1};
            assert (entry->endpoint);
        } else if (s_split_name (endpoint, host, sizeof host, &port) == 0) {
            if (self->seed_names == MESHQ_PEERS_SEED_NAMES_MAX)
                return s_error (self, MESHQ_EINVAL, "more than %d seed names",
                                MESHQ_PEERS_SEED_NAMES_MAX);
            self->seed_hosts[self->seed_names] = strdup (host);
            assert (self->seed_hosts[self->seed_names]);
            self->seed_ports[self->seed_names++] = port;
        } else
            return s_error (self, MESHQ_EINVAL,
                            "seed '%s' is not tcp://HOST:PORT (HOST a "
                            "numeric address or a DNS name, PORT 1..65535)",
                            endpoint);
        seed += size;
        if (*seed == ',')
            seed++;
    }
    return 0;
}

//  Opens the probe of seed s; 0 or MESHQ_EIO.
static int
s_open (meshq_peers_t *self, meshq_peers_seed_t *seed)
{
    //  Our own endpoint, as one config file on every node lists it, or
    //  as a name of every node resolves.
    if (strcmp (seed->endpoint, self->endpoint) == 0)
        return 0;
    meshq_link_options_t options = {
        .prefix = MESHQ_PROBE_PREFIX,
        .node = self->node,
        .ipv6 = strchr (seed->endpoint, '[') != NULL,
        .immediate = true,
        .timeout_ms = (int)self->config.peer_timeout_ms,
        .curve_public = self->curve ? self->curve_public : NULL,
        .curve_secret = self->curve ? self->curve_secret : NULL,
    };
    seed->probe = meshq_link_new ();
    if (meshq_link_open (seed->probe, seed->endpoint, &options)) {
        meshq_link_destroy (&seed->probe);
        return s_error (self, MESHQ_EIO, "cannot connect to seed %s: %s",
                        seed->endpoint, zmq_strerror (zmq_errno ()));
    }
    //  Connecting takes a moment; the first probe follows shortly.
    seed->next = zclock_mono () + 20;
    return 0;
}

//  Removes seed s (the last one takes its place).
static void
s_remove (meshq_peers_t *self, size_t s)
{
    meshq_link_destroy (&self->seed_list[s].probe);
    free (self->seed_list[s].endpoint);
    self->seed_list[s] = self->seed_list[--self->seed_count];
}

//  An answer of the resolver: name's addresses now.
static int
s_resolved (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    meshq_peers_t *self = arg;
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return 0;
    char *command = zmsg_popstr (msg), *index = zmsg_popstr (msg),
         *error = zmsg_popstr (msg);
    assert (command && streq (command, "RESOLVED") && index && error);
    size_t name = (size_t)atoi (index);
    assert (name < self->seed_names);
    const char *host = self->seed_hosts[name];
    int64_t now = zclock_mono ();
    if (*error) {
        //  Keep what it resolved to last: DNS being away for a moment
        //  is no reason to stop probing agents that are there.
        self->stats.seeds_unresolved++;
        if (meshq_peers_ratelog (&self->resolve_log, now))
            zsys_warning ("discovery: seed name not resolved name=%s "
                          "error=%s failures=%" PRIu64,
                          host, error, self->stats.seeds_unresolved);
    } else {
        size_t added = 0, removed = 0, dropped = 0, kept = 0;
        //  Out: this name's addresses that it no longer resolves to.
        size_t s = 0;
        while (s < self->seed_count) {
            meshq_peers_seed_t *seed = &self->seed_list[s];
            bool listed = false;
            for (zframe_t *f = zmsg_first (msg); f && !listed;
                 f = zmsg_next (msg))
                listed = zframe_streq (f, seed->endpoint);
            if (seed->name == (int)name && !listed) {
                s_remove (self, s);
                removed++;
            } else
                s++;
        }
        //  In: addresses not yet seeds, while there is room.
        for (char *endpoint = zmsg_popstr (msg); endpoint;
             endpoint = zmsg_popstr (msg)) {
            bool known = false;
            for (s = 0; s < self->seed_count && !known; s++)
                known = strcmp (self->seed_list[s].endpoint, endpoint) == 0;
            if (known)
                kept++;
            else if (self->seed_count == MESHQ_PEERS_SEEDS_MAX)
                dropped++;
            else {
                meshq_peers_seed_t *seed = &self->seed_list[self->seed_count];
                *seed = (meshq_peers_seed_t){.endpoint = strdup (endpoint),
                                             .name = (int)name};
                assert (seed->endpoint);
                self->seed_count++;
                if (s_open (self, seed)) {
                    zsys_warning ("discovery: %s", self->error);
                    s_remove (self, self->seed_count - 1);
                } else
                    added++;
            }
            zstr_free (&endpoint);
        }
        if (added || removed)
            zsys_notice ("discovery: seed name resolved name=%s added=%zu "
                         "removed=%zu addresses=%zu",
                         host, added, removed, added + kept);
        if (dropped && meshq_peers_ratelog (&self->resolve_log, now))
            zsys_warning ("discovery: seed addresses ignored name=%s "
                          "count=%zu reason=more than %d seeds",
                          host, dropped, MESHQ_PEERS_SEEDS_MAX);
    }
    zstr_free (&command);
    zstr_free (&index);
    zstr_free (&error);
    zmsg_destroy (&msg);
    return 0;
}

int
meshq_peers_seeds_open (meshq_peers_t *self)
{
    for (size_t s = 0; s < self->seed_count; s++)
        if (s_open (self, &self->seed_list[s]))
            return MESHQ_EIO;
    if (self->seed_names == 0)
        return 0;
    meshq_resolver_args_t args = {
        .hosts = (const char *const *)self->seed_hosts,
        .ports = self->seed_ports,
        .count = self->seed_names,
        .family = self->iface.family,
        .interval_ms = self->config.seed_refresh_ms,
    };
    self->resolver = zactor_new (meshq_resolver_actor, &args);
    assert (self->resolver);
    if (zloop_reader (self->loop, zactor_sock (self->resolver), s_resolved,
                      self)) {
        zactor_destroy (&self->resolver);
        return s_error (self, MESHQ_EIO, "cannot watch the seed resolver");
    }
    return 0;
}

void
meshq_peers_close_seeds (meshq_peers_t *self)
{
    if (self->resolver) {
        zloop_reader_end (self->loop, zactor_sock (self->resolver));
        zactor_destroy (&self->resolver);
    }
    while (self->seed_count)
        s_remove (self, self->seed_count - 1);
}
