/*  iface.c - the network interface, and endpoints. See iface.h. */
#include "iface.h"
#include "meshq.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static bool
s_link_local (const struct in6_addr *address)
{
    return address->s6_addr[0] == 0xfe && (address->s6_addr[1] & 0xc0) == 0x80;
}

//  Lists the names of the interfaces that are up, for error messages.
static void
s_names (const struct ifaddrs *list, char *out, size_t size)
{
    size_t used = 0;
    out[0] = 0;
    for (const struct ifaddrs *a = list; a; a = a->ifa_next) {
        if (!(a->ifa_flags & IFF_UP) || !a->ifa_addr ||
            (a->ifa_addr->sa_family != AF_INET &&
             a->ifa_addr->sa_family != AF_INET6))
            continue;
        //  Each name once: interfaces appear once per address.
        bool seen = false;
        for (const struct ifaddrs *b = list; b != a && !seen; b = b->ifa_next)
            seen = b->ifa_addr && (b->ifa_flags & IFF_UP) &&
                   (b->ifa_addr->sa_family == AF_INET ||
                    b->ifa_addr->sa_family == AF_INET6) &&
                   strcmp (b->ifa_name, a->ifa_name) == 0;
        if (seen)
            continue;
        int wrote = snprintf (out + used, size - used, "%s%s", used ? ", " : "",
                              a->ifa_name);
        if (wrote < 0 || (size_t)wrote >= size - used)
            break;
        used += (size_t)wrote;
    }
}

//  Fills iface from one address entry.
static void
s_fill (const struct ifaddrs *entry, meshq_iface_t *iface)
{
    memset (iface, 0, sizeof *iface);
    snprintf (iface->name, sizeof iface->name, "%s", entry->ifa_name);
    iface->index = if_nametoindex (entry->ifa_name);
    iface->family = entry->ifa_addr->sa_family;
    iface->loopback = (entry->ifa_flags & IFF_LOOPBACK) != 0;
    if (iface->family == AF_INET) {
        iface->ipv4 = ((const struct sockaddr_in *)entry->ifa_addr)->sin_addr;
        //  The subnet's broadcast address, from the netmask: loopback
        //  has none of its own, and an address added without "brd" is
        //  reported with its own address as broadcast address.
        struct in_addr mask = {0};
        if (entry->ifa_netmask)
            mask = ((const struct sockaddr_in *)entry->ifa_netmask)->sin_addr;
        iface->broadcast.s_addr = iface->ipv4.s_addr | ~mask.s_addr;
        inet_ntop (AF_INET, &iface->ipv4, iface->address,
                   sizeof iface->address);
    } else {
        iface->ipv6 = ((const struct sockaddr_in6 *)entry->ifa_addr)->sin6_addr;
        iface->link_local = s_link_local (&iface->ipv6);
        char text[INET6_ADDRSTRLEN];
        inet_ntop (AF_INET6, &iface->ipv6, text, sizeof text);
        if (iface->link_local)
            snprintf (iface->address, sizeof iface->address, "%s%%%s", text,
                      iface->name);
        else
            snprintf (iface->address, sizeof iface->address, "%s", text);
    }
}

int
meshq_iface_resolve (const char *spec, int family, meshq_iface_t *iface,
                     char *error, size_t error_size)
{
    assert (family == AF_INET || family == AF_INET6);
    struct ifaddrs *list;
    if (getifaddrs (&list)) {
        snprintf (error, error_size, "cannot list network interfaces: %s",
                  strerror (errno));
        return MESHQ_EIO;
    }
    //  A numeric address names the interface that has it.
    struct in_addr want4;
    struct in6_addr want6;
    int by_address = 0;
    if (spec && inet_pton (AF_INET, spec, &want4) == 1)
        by_address = AF_INET;
    else if (spec && inet_pton (AF_INET6, spec, &want6) == 1)
        by_address = AF_INET6;

    const struct ifaddrs *found = NULL;
    bool name_seen = false;
    for (const struct ifaddrs *a = list; a; a = a->ifa_next) {
        if (!a->ifa_addr)
            continue;
        int af = a->ifa_addr->sa_family;
        if (af != AF_INET && af != AF_INET6)
            continue;
        if (by_address) {
            if (af != by_address)
                continue;
            if (af == AF_INET &&
                ((const struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr ==
                    want4.s_addr)
                found = a;
            if (af == AF_INET6 &&
                memcmp (&((const struct sockaddr_in6 *)a->ifa_addr)->sin6_addr,
                        &want6, sizeof want6) == 0)
                found = a;
            if (found)
                break;
            continue;
        }
        bool match = spec && *spec ? strcmp (a->ifa_name, spec) == 0
                                   : (a->ifa_flags & IFF_LOOPBACK) != 0;
        if (!match)
            continue;
        name_seen = true;
        if (af != family)
            continue;
        //  IPv6: a global address beats a link-local one, which needs a
        //  scope and reaches only the local link.
        if (!found ||
            (af == AF_INET6 &&
             s_link_local (
                 &((const struct sockaddr_in6 *)found->ifa_addr)->sin6_addr) &&
             !s_link_local (
                 &((const struct sockaddr_in6 *)a->ifa_addr)->sin6_addr)))
            found = a;
    }
    int rc = 0;
    if (found && !(found->ifa_flags & IFF_UP)) {
        snprintf (error, error_size,
                  "interface '%s' is down; bring it up or choose another "
                  "with --interface",
                  found->ifa_name);
        rc = MESHQ_ENOTFOUND;
    } else if (found)
        s_fill (found, iface);
    else {
        char names[256];
        s_names (list, names, sizeof names);
        const char *what = family == AF_INET ? "IPv4" : "IPv6";
        if (by_address)
            snprintf (error, error_size,
                      "no interface has the address %s (interfaces up: %s)",
                      spec, names);
        else if (name_seen)
            snprintf (error, error_size,
                      "interface '%s' has no %s address (interfaces up: %s)",
                      spec && *spec ? spec : "loopback", what, names);
        else if (spec && *spec)
            snprintf (error, error_size,
                      "no interface named '%s' (interfaces up: %s)", spec,
                      names);
        else
            snprintf (error, error_size,
                      "no loopback interface; choose one with --interface "
                      "(interfaces up: %s)",
                      names);
        rc = MESHQ_ENOTFOUND;
    }
    freeifaddrs (list);
    return rc;
}

int
meshq_iface_endpoint (int family, const void *address, unsigned scope,
                      uint16_t port, char *out, size_t out_size)
{
    char text[INET6_ADDRSTRLEN];
    if (family == AF_INET) {
        inet_ntop (AF_INET, address, text, sizeof text);
        snprintf (out, out_size, "tcp://%s:%u", text, port);
        return 0;
    }
    assert (family == AF_INET6);
    inet_ntop (AF_INET6, address, text, sizeof text);
    if (s_link_local (address)) {
        char name[IF_NAMESIZE];
        if (!if_indextoname (scope, name))
            return MESHQ_EINVAL;
        snprintf (out, out_size, "tcp://[%s%%%s]:%u", text, name, port);
    } else
        snprintf (out, out_size, "tcp://[%s]:%u", text, port);
    return 0;
}

//  Splits a valid endpoint; returns a pointer to the port text or NULL.
static const char *
s_split (const char *endpoint)
{
    if (!endpoint || strncmp (endpoint, "tcp://", 6) != 0)
        return NULL;
    const char *host = endpoint + 6;
    const char *colon;
    char address[MESHQ_ADDRESS_MAX];
    if (*host == '[') {
        const char *close = strchr (host, ']');
        if (!close || close[1] != ':')
            return NULL;
        size_t size = (size_t)(close - host - 1);
        if (size == 0 || size >= sizeof address)
            return NULL;
        memcpy (address, host + 1, size);
        address[size] = 0;
        //  An optional scope: an interface name or index.
        char *percent = strchr (address, '%');
        if (percent) {
            *percent = 0;
            const char *scope = percent + 1;
            if (!*scope || strlen (scope) >= IF_NAMESIZE)
                return NULL;
            for (const char *c = scope; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' ||
                      *c == '.'))
                    return NULL;
        }
        struct in6_addr ignored;
        if (inet_pton (AF_INET6, address, &ignored) != 1)
            return NULL;
        colon = close + 1;
    } else {
        colon = strrchr (host, ':');
        size_t size = colon ? (size_t)(colon - host) : 0;
        if (size == 0 || size >= sizeof address)
            return NULL;
        memcpy (address, host, size);
        address[size] = 0;
        struct in_addr ignored;
        //  inet_pton takes only dotted quads: no names, no short forms.
        if (inet_pton (AF_INET, address, &ignored) != 1)
            return NULL;
    }
    const char *port = colon + 1;
    size_t digits = strlen (port);
    if (digits == 0 || digits > 5 || port[0] == '0')
        return NULL;
    for (size_t i = 0; i < digits; i++)
        if (port[i] < '0' || port[i] > '9')
            return NULL;
    if (atoi (port) > 65535)
        return NULL;
    return port;
}

bool
meshq_iface_endpoint_valid (const char *endpoint)
{
    return s_split (endpoint) != NULL;
}

int
meshq_iface_endpoint_port (const char *endpoint, uint16_t *port)
{
    const char *text = s_split (endpoint);
    if (!text)
        return MESHQ_EINVAL;
    *port = (uint16_t)atoi (text);
    return 0;
}
