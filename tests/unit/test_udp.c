/*  test_udp.c - the beacon socket on loopback: every node on the machine
    hears every beacon, sizes are never silently cut, and what cannot be
    opened says why.
*/
#include "iface.h"
#include "meshq.h"
#include "testutil.h"
#include "udp.h"

#include <criterion/criterion.h>
#include <poll.h>

static meshq_iface_t s_lo;
static uint16_t s_port;

static void
s_setup (void)
{
    char error[256];
    cr_assert_eq (
        meshq_iface_resolve ("lo", AF_INET, &s_lo, error, sizeof error), 0,
        "%s", error);
    s_port = testutil_udp_port ();
    cr_assert_neq (s_port, 0);
}

static meshq_udp_t *
s_open (meshq_transport_t transport)
{
    meshq_udp_t *udp = meshq_udp_new ();
    char error[256] = "";
    cr_assert_eq (
        meshq_udp_open (udp, &s_lo, transport, s_port, error, sizeof error), 0,
        "%s", error);
    return udp;
}

//  Waits up to 5 s for a datagram; returns its size or -1.
static long
s_receive (meshq_udp_t *udp, uint8_t *buffer, size_t capacity,
           meshq_datagram_t *info)
{
    struct pollfd item = {.fd = meshq_udp_fd (udp), .events = POLLIN};
    if (poll (&item, 1, 5000) != 1)
        return -1;
    if (meshq_udp_recv (udp, buffer, capacity, info))
        return -1;
    return (long)info->size;
}

static void
s_every_socket_hears (meshq_transport_t transport)
{
    meshq_udp_t *a = s_open (transport), *b = s_open (transport);
    cr_assert_eq (meshq_udp_send (a, "beacon", 6), 0);
    uint8_t buffer[64];
    meshq_datagram_t info;
    //  Both the other socket and the sender itself (loopback).
    cr_expect_eq (s_receive (b, buffer, sizeof buffer, &info), 6);
    cr_expect_eq (info.ifindex, s_lo.index);
    cr_expect_eq (memcmp (buffer, "beacon", 6), 0);
    const struct sockaddr_in *from = (const struct sockaddr_in *)&info.from;
    cr_expect_eq (from->sin_family, AF_INET);
    cr_expect_eq (ntohl (from->sin_addr.s_addr), INADDR_LOOPBACK);
    cr_expect_eq (s_receive (a, buffer, sizeof buffer, &info), 6);
    cr_expect_eq (meshq_udp_recv (a, buffer, sizeof buffer, &info),
                  MESHQ_EAGAIN);
    meshq_udp_destroy (&a);
    meshq_udp_destroy (&b);
    cr_expect_null (a);
}

Test (udp, multicast_on_loopback_reaches_every_socket, .init = s_setup)
{
    s_every_socket_hears (MESHQ_TRANSPORT_MULTICAST);
}

Test (udp, broadcast_on_loopback_reaches_every_socket, .init = s_setup)
{
    s_every_socket_hears (MESHQ_TRANSPORT_BROADCAST);
}

Test (udp, chooses_multicast_on_loopback, .init = s_setup)
{
    meshq_udp_t *udp = s_open (MESHQ_TRANSPORT_AUTO);
    cr_expect_eq (meshq_udp_transport (udp), MESHQ_TRANSPORT_MULTICAST);
    cr_expect_str_eq (meshq_udp_transport_name (meshq_udp_transport (udp)),
                      "multicast");
    meshq_udp_destroy (&udp);
}

Test (udp, reports_the_real_length_of_a_long_datagram, .init = s_setup)
{
    meshq_udp_t *udp = s_open (MESHQ_TRANSPORT_MULTICAST);
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons (s_port),
                             .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    uint8_t big[1400] = {0};
    cr_assert_eq (
        sendto (fd, big, sizeof big, 0, (struct sockaddr *)&to, sizeof to),
        (ssize_t)sizeof big);
    uint8_t buffer[49];
    meshq_datagram_t info;
    cr_expect_eq (s_receive (udp, buffer, sizeof buffer, &info), 1400);
    close (fd);
    meshq_udp_destroy (&udp);
}

Test (udp, says_why_it_cannot_open, .init = s_setup)
{
    meshq_udp_t *udp = meshq_udp_new ();
    char error[256] = "";
    cr_expect_eq (meshq_udp_open (udp, &s_lo, MESHQ_TRANSPORT_IPV6, s_port,
                                  error, sizeof error),
                  MESHQ_EINVAL);
    cr_expect (strstr (error, "transport ipv6 needs an IPv6 address"), "%s",
               error);
    cr_expect_eq (meshq_udp_fd (udp), -1);

    //  A port held without SO_REUSEADDR cannot be shared.
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in any = {.sin_family = AF_INET,
                              .sin_port = htons (s_port)};
    cr_assert_eq (bind (fd, (struct sockaddr *)&any, sizeof any), 0);
    cr_expect_eq (meshq_udp_open (udp, &s_lo, MESHQ_TRANSPORT_MULTICAST, s_port,
                                  error, sizeof error),
                  MESHQ_EIO);
    cr_expect (strstr (error, "cannot bind UDP port"), "%s", error);
    close (fd);
    meshq_udp_destroy (&udp);
}
