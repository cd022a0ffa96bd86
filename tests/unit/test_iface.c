/*  test_iface.c - choosing the interface, and the endpoints peers may
    advertise.
*/
#include "iface.h"
#include "meshq.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>

Test (iface, resolves_loopback_by_default)
{
    meshq_iface_t iface;
    char error[256] = "";
    cr_assert_eq (
        meshq_iface_resolve (NULL, AF_INET, &iface, error, sizeof error), 0,
        "%s", error);
    cr_expect (iface.loopback);
    cr_expect_str_eq (iface.address, "127.0.0.1");
    cr_expect_eq (iface.index, if_nametoindex (iface.name));
    cr_expect_eq (iface.family, AF_INET);
    //  lo has no broadcast address; its subnet's broadcast is used.
    char text[INET_ADDRSTRLEN];
    inet_ntop (AF_INET, &iface.broadcast, text, sizeof text);
    cr_expect_str_eq (text, "127.255.255.255");
}

Test (iface, resolves_a_name_and_an_address_to_the_same_interface)
{
    meshq_iface_t by_name, by_address;
    char error[256] = "";
    cr_assert_eq (
        meshq_iface_resolve ("lo", AF_INET, &by_name, error, sizeof error), 0,
        "%s", error);
    cr_assert_eq (meshq_iface_resolve ("127.0.0.1", AF_INET, &by_address, error,
                                       sizeof error),
                  0, "%s", error);
    cr_expect_str_eq (by_name.name, by_address.name);
    cr_expect_str_eq (by_name.address, by_address.address);
}

Test (iface, names_the_interfaces_there_are_when_one_is_missing)
{
    meshq_iface_t iface;
    char error[256] = "";
    cr_expect_eq (
        meshq_iface_resolve ("nosuch0", AF_INET, &iface, error, sizeof error),
        MESHQ_ENOTFOUND);
    cr_expect (strstr (error, "no interface named 'nosuch0'"), "%s", error);
    cr_expect (strstr (error, "lo"), "%s", error);
    cr_expect_eq (meshq_iface_resolve ("10.255.254.253", AF_INET, &iface, error,
                                       sizeof error),
                  MESHQ_ENOTFOUND);
    cr_expect (strstr (error, "no interface has the address 10.255.254.253"),
               "%s", error);
}

Test (iface, formats_endpoints)
{
    char out[MESHQ_ENDPOINT_MAX];
    struct in_addr v4;
    inet_pton (AF_INET, "10.1.2.3", &v4);
    cr_assert_eq (meshq_iface_endpoint (AF_INET, &v4, 0, 5680, out, sizeof out),
                  0);
    cr_expect_str_eq (out, "tcp://10.1.2.3:5680");
    struct in6_addr v6;
    inet_pton (AF_INET6, "fd00::1", &v6);
    cr_assert_eq (meshq_iface_endpoint (AF_INET6, &v6, 0, 80, out, sizeof out),
                  0);
    cr_expect_str_eq (out, "tcp://[fd00::1]:80");
    //  Link-local addresses carry the scope of the receiving interface.
    inet_pton (AF_INET6, "fe80::1", &v6);
    unsigned lo = if_nametoindex ("lo");
    cr_assert_eq (meshq_iface_endpoint (AF_INET6, &v6, lo, 80, out, sizeof out),
                  0);
    cr_expect_str_eq (out, "tcp://[fe80::1%lo]:80");
}

Test (iface, accepts_only_numeric_tcp_endpoints)
{
    const char *good[] = {
        "tcp://127.0.0.1:1",      "tcp://10.0.0.1:65535",
        "tcp://[::1]:5000",       "tcp://[fe80::1%eth0]:5000",
        "tcp://[fe80::1%3]:5000", "tcp://[2001:db8::a:b]:443",
    };
    const char *bad[] = {
        NULL,
        "",
        "tcp://",
        "tcp://localhost:5000",
        "tcp://example.com:80",
        "udp://10.0.0.1:5000",
        "ipc:///tmp/x",
        "tcp://10.0.0.1",
        "tcp://10.0.0.1:",
        "tcp://10.0.0.1:0",
        "tcp://10.0.0.1:65536",
        "tcp://10.0.0.1:05000",
        "tcp://10.0.0.1:50a0",
        "tcp://10.0.0.1:*",
        "tcp://10.1:5000",
        "tcp://256.0.0.1:5000",
        "tcp://::1:5000",
        "tcp://[::1]5000",
        "tcp://[::1:5000",
        "tcp://[]:5000",
        "tcp://[fe80::1%]:5000",
        "tcp://[fe80::1%e th0]:5000",
        "tcp://[localhost]:5000",
        "tcp://10.0.0.1:5000 ",
        "tcp://*:5000",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect (meshq_iface_endpoint_valid (good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not (meshq_iface_endpoint_valid (bad[i]), "%s",
                       bad[i] ? bad[i] : "NULL");
    uint16_t port = 0;
    cr_expect_eq (meshq_iface_endpoint_port ("tcp://[::1]:5000", &port), 0);
    cr_expect_eq (port, 5000);
    cr_expect_eq (meshq_iface_endpoint_port ("tcp://x:1", &port), MESHQ_EINVAL);
}
