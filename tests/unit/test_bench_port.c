/*  test_bench_port.c - a port a bench picks for a server stays its
    own until the server binds it.

    meshq_bench_free_port (bench/peers.c) gives the port for an agent's
    or a peer server's listener before the server starts. The port
    must stay held by the bench meanwhile, or another process can take
    it first and the server cannot start; yet the server's listener,
    which sets SO_REUSEADDR, must bind it, and bind it again after a
    restart.
*/
#include "peers.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

//  Binds a TCP socket to 127.0.0.1:port, with SO_REUSEADDR if reuse,
//  and listens if it bound. Returns the socket, or -errno.
static int
s_bind (int port, bool reuse)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (fd, 0);
    int on = 1;
    if (reuse)
        cr_assert_eq (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on),
                      0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons ((uint16_t)port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (bind (fd, (struct sockaddr *)&address, sizeof address) ||
        listen (fd, 8)) {
        int error = errno;
        close (fd);
        return -error;
    }
    return fd;
}

Test (bench_port, a_picked_port_is_held_until_its_server_binds_it)
{
    int port = meshq_bench_free_port ();
    cr_assert_gt (port, 0);
    //  Another program, binding as most do, is refused.
    int fd = s_bind (port, false);
    if (fd >= 0)
        close (fd);
    cr_expect_eq (fd, -EADDRINUSE, "port %d was free for anyone", port);
    //  The server's listener binds it, and again after a restart.
    for (int start = 0; start < 2; start++) {
        fd = s_bind (port, true);
        cr_assert_geq (fd, 0, "the server cannot bind port %d: %s", port,
                       strerror (-fd));
        close (fd);
    }
    //  Asked again, the bench gets another port.
    int other = meshq_bench_free_port ();
    cr_expect (other > 0 && other != port, "%d, then %d", port, other);
}
