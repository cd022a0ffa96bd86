/*  resolver.c - discovery: seeds given by DNS name. See resolver.h.
*/
#include "resolver.h"
#include "iface.h"
#include "meshq.h"

#include <netdb.h>
#include <sys/socket.h>

typedef struct {
    char **hosts;          //  Names, owned.
    uint16_t *ports;       //  Their ports.
    size_t count;          //  Names.
    int family;            //  AF_INET or AF_INET6.
    uint32_t interval_ms;  //  Between rounds.
} s_self_t;

bool
meshq_resolver_host_valid (const char *host)
{
    size_t size = strlen (host);
    if (size == 0 || size >= MESHQ_RESOLVER_HOST_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i <= size; i++) {
        char c = host[i];
        if (c == '.' || c == 0) {
            if (label == 0 || label > 63 || host[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || (c == '-' && label > 0);
        if (!ok)
            return false;
        label++;
    }
    return true;
}

//  Resolves name index into a RESOLVED message.
static zmsg_t *
s_resolve (s_self_t *self, size_t index)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "RESOLVED");
    zmsg_addstrf (msg, "%zu", index);
    struct addrinfo hints = {.ai_family = self->family,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo (self->hosts[index], NULL, &hints, &list);
    if (rc) {
        zmsg_addstr (msg, gai_strerror (rc));
        return msg;
    }
    zmsg_addstr (msg, "");
    zhashx_t *seen = zhashx_new ();
    assert (seen);
    for (struct addrinfo *a = list;
         a && zhashx_size (seen) < MESHQ_RESOLVER_MAX; a = a->ai_next) {
        char endpoint[MESHQ_ENDPOINT_MAX];
        int bad = MESHQ_EINVAL;
        if (a->ai_family == AF_INET && self->family == AF_INET)
            bad = meshq_iface_endpoint (
                AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, 0,
                self->ports[index], endpoint, sizeof endpoint);
        else if (a->ai_family == AF_INET6 && self->family == AF_INET6) {
            struct sockaddr_in6 *six = (struct sockaddr_in6 *)a->ai_addr;
            bad = meshq_iface_endpoint (AF_INET6, &six->sin6_addr,
                                        six->sin6_scope_id, self->ports[index],
                                        endpoint, sizeof endpoint);
        }
        if (bad || zhashx_lookup (seen, endpoint))
            continue;
        zhashx_insert (seen, endpoint, (void *)1);
        zmsg_addstr (msg, endpoint);
    }
    zhashx_destroy (&seen);
    freeaddrinfo (list);
    return msg;
}

//  Whether $TERM came (any other command is a bug of ours).
static bool
s_terminated (zsock_t *pipe, zpoller_t *poller, int timeout_ms)
{
    if (!zpoller_wait (poller, timeout_ms))
        return zpoller_terminated (poller);
    char *command = zstr_recv (pipe);
    bool term = !command || streq (command, "$TERM");
    assert (term);
    zstr_free (&command);
    return term;
}

void
meshq_resolver_actor (zsock_t *pipe, void *arg)
{
    const meshq_resolver_args_t *args = arg;
    s_self_t self = {.count = args->count,
                     .family = args->family,
                     .interval_ms = args->interval_ms};
    self.hosts = calloc (args->count, sizeof *self.hosts);
    self.ports = calloc (args->count, sizeof *self.ports);
    assert (self.hosts && self.ports);
    for (size_t i = 0; i < args->count; i++) {
        self.hosts[i] = strdup (args->hosts[i]);
        assert (self.hosts[i]);
        self.ports[i] = args->ports[i];
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, NULL);
    assert (poller);
    bool term = false;
    int64_t next = zclock_mono ();
    while (!term) {
        int64_t wait = next - zclock_mono ();
        if (wait > 0 && (term = s_terminated (pipe, poller, (int)wait)))
            break;
        if (zclock_mono () < next)
            continue;
        //  One name at a time, listening for $TERM in between: stopping
        //  waits for one resolution at most.
        for (size_t i = 0; i < self.count && !term; i++) {
            zmsg_t *msg = s_resolve (&self, i);
            if (zmsg_send (&msg, pipe))
                zmsg_destroy (&msg);
            term = s_terminated (pipe, poller, 0);
        }
        next = zclock_mono () + self.interval_ms;
    }
    zpoller_destroy (&poller);
    for (size_t i = 0; i < self.count; i++)
        free (self.hosts[i]);
    free (self.hosts);
    free (self.ports);
}
