/*  resolver.h - discovery: seeds given by DNS name, resolved off the
    loop.

    A seed may name its host (tcp://agents.example:5670): it stands for
    every address the name resolves to, so that a DNS round-robin name
    or a Kubernetes headless Service seeds a mesh. getaddrinfo blocks
    for as long as the resolver takes (resolv.conf's timeout and
    attempts), far longer than a heartbeat, so it runs on an actor of
    its own, never on the owner's loop:

        meshq_resolver_args_t args = {.hosts = hosts, .ports = ports,
                                      .count = 2, .family = AF_INET,
                                      .interval_ms = 30000};
        zactor_t *resolver = zactor_new (meshq_resolver_actor, &args);
        //  then, from its pipe, at once and every interval_ms:
        //  "RESOLVED" INDEX ERROR ENDPOINT...

    Each message is about one name: its index in hosts (as text), ""
    or why it did not resolve (EAI's sentence), then every distinct
    address as tcp://ADDRESS:PORT (at most MESHQ_RESOLVER_MAX), none
    when it failed. zactor_destroy waits for a resolution under way,
    at most the resolver's own timeout.
*/
#ifndef MESHQ_RESOLVER_H_INCLUDED
#define MESHQ_RESOLVER_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

//  Most addresses reported for one name.
#define MESHQ_RESOLVER_MAX 64

//  Most characters of a host name (RFC 1035's 253, then the NUL).
#define MESHQ_RESOLVER_HOST_MAX 254

typedef struct {
    const char *const *hosts;  //  Host names; copied before the actor runs.
    const uint16_t *ports;     //  Each name's port.
    size_t count;              //  Names.
    int family;                //  AF_INET or AF_INET6.
    uint32_t interval_ms;      //  Between two resolutions of each name.
} meshq_resolver_args_t;

//  The actor; args is a meshq_resolver_args_t, copied at start.
void meshq_resolver_actor (zsock_t *pipe, void *args);

//  Whether host is a DNS name a seed may give: 1..253 characters of
//  letters, digits, '-' and '.', labels of 1..63 that neither start nor
//  end with '-'.
bool meshq_resolver_host_valid (const char *host);

#endif
