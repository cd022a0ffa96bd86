/*  test_swim_udp.c - the membership's datagrams: only this mesh's, only
    sealed by its secret, only whole, reach the membership.
*/
#include "iface.h"
#include "meshq.h"
#include "swim_udp.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static meshq_iface_t s_iface;
static const uint8_t s_mesh[16] = {1, 2,  3,  4,  5,  6,  7,  8,
                                   9, 10, 11, 12, 13, 14, 15, 16};

static void
s_init (void)
{
    char error[256];
    cr_assert_eq (
        meshq_iface_resolve (NULL, AF_INET, &s_iface, error, sizeof error), 0,
        "%s", error);
}

//  Opens a socket on a free port of loopback.
static meshq_swim_udp_t *
s_open (const uint8_t *mesh, const uint8_t *key)
{
    for (int tries = 0; tries < 32; tries++) {
        int probe = socket (AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in any = {.sin_family = AF_INET};
        inet_pton (AF_INET, "127.0.0.1", &any.sin_addr);
        socklen_t size = sizeof any;
        cr_assert_eq (bind (probe, (struct sockaddr *)&any, size), 0);
        getsockname (probe, (struct sockaddr *)&any, &size);
        close (probe);
        meshq_swim_udp_t *udp;
        char error[256];
        if (meshq_swim_udp_open (&udp, &s_iface, ntohs (any.sin_port), mesh,
                                 key, error, sizeof error) == 0)
            return udp;
    }
    cr_assert_fail ("no free port");
    return NULL;
}

//  Waits for one datagram; returns recv's code.
static int
s_recv (meshq_swim_udp_t *udp, const uint8_t **data, size_t *size,
        meshq_swim_drop_t *reason)
{
    for (int i = 0; i < 200; i++) {
        int rc = meshq_swim_udp_recv (udp, data, size, reason);
        if (rc != MESHQ_EAGAIN)
            return rc;
        usleep (5000);
    }
    return MESHQ_EAGAIN;
}

TestSuite (swim_udp, .init = s_init);

Test (swim_udp, a_message_of_the_mesh_arrives_whole)
{
    uint8_t key[MESHQ_SWIM_KEY_SIZE];
    meshq_swim_udp_key ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", key);
    meshq_swim_udp_t *a = s_open (s_mesh, key), *b = s_open (s_mesh, key);
    meshq_swim_addr_t to;
    meshq_swim_udp_addr (b, &to);
    cr_assert_eq (meshq_swim_udp_send (a, &to, "hello", 5), 0);
    const uint8_t *data;
    size_t size;
    cr_assert_eq (s_recv (b, &data, &size, NULL), 0);
    cr_assert_eq (size, 5);
    cr_assert_eq (memcmp (data, "hello", 5), 0);
    cr_assert_eq (meshq_swim_udp_stats (b)->received, 1);
    meshq_swim_udp_destroy (&a);
    meshq_swim_udp_destroy (&b);
}

Test (swim_udp, another_mesh_another_secret_or_none_is_dropped)
{
    uint8_t key[MESHQ_SWIM_KEY_SIZE], other[MESHQ_SWIM_KEY_SIZE];
    meshq_swim_udp_key ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", key);
    meshq_swim_udp_key ("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6", other);
    uint8_t mesh2[16];
    memcpy (mesh2, s_mesh, 16);
    mesh2[0] ^= 1;
    meshq_swim_udp_t *sealed = s_open (s_mesh, key);
    meshq_swim_udp_t *wrong_key = s_open (s_mesh, other);
    meshq_swim_udp_t *no_key = s_open (s_mesh, NULL);
    meshq_swim_udp_t *wrong_mesh = s_open (mesh2, key);
    meshq_swim_addr_t to;
    meshq_swim_udp_addr (sealed, &to);
    cr_assert_eq (meshq_swim_udp_send (wrong_key, &to, "forged", 6), 0);
    cr_assert_eq (meshq_swim_udp_send (no_key, &to,
                                       "forged, longer than a tag "
                                       "of thirty-two bytes",
                                       45),
                  0);
    cr_assert_eq (meshq_swim_udp_send (wrong_mesh, &to, "other", 5), 0);
    const uint8_t *data;
    size_t size;
    meshq_swim_drop_t reason;
    int auth = 0, mesh = 0;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq (s_recv (sealed, &data, &size, &reason), MESHQ_EACCESS);
        auth += reason == MESHQ_SWIM_DROP_AUTH;
        mesh += reason == MESHQ_SWIM_DROP_MESH;
    }
    //  The sealed one of another mesh passes its tag (same key) and is
    //  refused for its mesh; the others fail their tag.
    cr_assert_eq (auth, 2);
    cr_assert_eq (mesh, 1);
    const meshq_swim_udp_stats_t *stats = meshq_swim_udp_stats (sealed);
    cr_assert_eq (stats->received, 0);
    cr_assert_eq (stats->dropped[MESHQ_SWIM_DROP_AUTH], 2);
    cr_assert_eq (stats->dropped[MESHQ_SWIM_DROP_MESH], 1);
    meshq_swim_udp_destroy (&sealed);
    meshq_swim_udp_destroy (&wrong_key);
    meshq_swim_udp_destroy (&no_key);
    meshq_swim_udp_destroy (&wrong_mesh);
}

Test (swim_udp, a_datagram_too_short_is_dropped_for_its_size)
{
    meshq_swim_udp_t *udp = s_open (s_mesh, NULL);
    meshq_swim_addr_t to;
    meshq_swim_udp_addr (udp, &to);
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in dest = {.sin_family = AF_INET,
                               .sin_port = htons (to.port)};
    inet_pton (AF_INET, "127.0.0.1", &dest.sin_addr);
    sendto (fd, "short", 5, 0, (struct sockaddr *)&dest, sizeof dest);
    close (fd);
    const uint8_t *data;
    size_t size;
    meshq_swim_drop_t reason;
    cr_assert_eq (s_recv (udp, &data, &size, &reason), MESHQ_EACCESS);
    cr_assert_eq (reason, MESHQ_SWIM_DROP_SIZE);
    meshq_swim_udp_destroy (&udp);
}

Test (swim_udp, a_taken_port_is_reported_as_taken)
{
    meshq_swim_udp_t *a = s_open (s_mesh, NULL);
    meshq_swim_addr_t at;
    meshq_swim_udp_addr (a, &at);
    meshq_swim_udp_t *b;
    char error[256];
    cr_assert_eq (meshq_swim_udp_open (&b, &s_iface, at.port, s_mesh, NULL,
                                       error, sizeof error),
                  MESHQ_EEXIST);
    cr_assert (strstr (error, "choose another --port"), "%s", error);
    meshq_swim_udp_destroy (&a);
}

Test (swim_udp, endpoints_and_addresses_convert_both_ways)
{
    meshq_swim_addr_t addr;
    cr_assert_eq (meshq_swim_udp_parse ("tcp://10.1.2.3:5681", &addr), 0);
    cr_assert_eq (addr.port, 5681);
    char endpoint[MESHQ_ENDPOINT_MAX];
    cr_assert_eq (meshq_swim_udp_endpoint (&addr, 0, endpoint, sizeof endpoint),
                  0);
    cr_assert_str_eq (endpoint, "tcp://10.1.2.3:5681");
    cr_assert_eq (meshq_swim_udp_parse ("tcp://[2001:db8::1]:7", &addr), 0);
    cr_assert_eq (meshq_swim_udp_endpoint (&addr, 0, endpoint, sizeof endpoint),
                  0);
    cr_assert_str_eq (endpoint, "tcp://[2001:db8::1]:7");
    cr_assert_eq (meshq_swim_udp_parse ("tcp://example.com:1", &addr),
                  MESHQ_EINVAL);
    cr_assert_eq (meshq_swim_udp_parse ("udp://1.2.3.4:1", &addr),
                  MESHQ_EINVAL);
}

//  The kernel's cap on a socket's receive buffer, in bytes.
static long
s_rmem_max (void)
{
    long value = 0;
    FILE *file = fopen ("/proc/sys/net/core/rmem_max", "r");
    if (file) {
        if (fscanf (file, "%ld", &value) != 1)
            value = 0;
        fclose (file);
    }
    return value;
}

//  A membership thread starved of CPU finds what was sent meanwhile
//  when it runs again: with the system's default buffer, the kernel
//  kept about 200 small datagrams and dropped the rest, among them the
//  suspicion the member had to refute.
Test (swim_udp, a_burst_waits_whole_for_a_starved_reader)
{
    if (s_rmem_max () < MESHQ_SWIM_UDP_RCVBUF)
        cr_skip_test ("net.core.rmem_max is %ld", s_rmem_max ());
    meshq_swim_udp_t *a = s_open (s_mesh, NULL), *b = s_open (s_mesh, NULL);
    meshq_swim_addr_t to;
    meshq_swim_udp_addr (b, &to);
    char body[120];
    memset (body, 'x', sizeof body);
    int burst = 1000;
    for (int i = 0; i < burst; i++)
        cr_assert_eq (meshq_swim_udp_send (a, &to, body, sizeof body), 0);
    const uint8_t *data;
    size_t size;
    int got = 0;
    while (s_recv (b, &data, &size, NULL) == 0)
        got++;
    cr_expect_eq (got, burst, "%d of %d datagrams kept", got, burst);
    meshq_swim_udp_destroy (&a);
    meshq_swim_udp_destroy (&b);
}
