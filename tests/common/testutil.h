/*  testutil.h - small helpers shared by the test suites.

    Header-only so that each suite stays one executable: hex conversion,
    reading a test vector, a seeded random generator whose seed a
    failing run prints, so that a failure can be replayed, and a TCP
    port held for an agent.
*/
#ifndef MESHQ_TESTUTIL_H_INCLUDED
#define MESHQ_TESTUTIL_H_INCLUDED

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  Converts hex text (whitespace ignored) to bytes; returns the count.
static inline size_t
testutil_unhex (const char *hex, uint8_t *out, size_t capacity)
{
    size_t size = 0;
    int high = -1;
    for (; *hex; hex++) {
        int c = *hex, v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            continue;
        if (high < 0)
            high = v;
        else {
            if (size < capacity)
                out[size] = (uint8_t)(high << 4 | v);
            size++;
            high = -1;
        }
    }
    return size;
}

//  Reads tests/vectors/NAME.hex into out; returns the byte count, or 0.
static inline size_t
testutil_vector (const char *name, uint8_t *out, size_t capacity)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/vectors/%s.hex", MESHQ_TEST_SOURCE_DIR,
              name);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char text[8192];
    size_t got = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text[got] = 0;
    return testutil_unhex (text, out, capacity);
}

//  xorshift64*: fast, good enough for mutation tests, reproducible.
static inline uint64_t
testutil_random (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

//  Seed from MESHQ_SEED, or a fixed default; printed so runs replay.
static inline uint64_t
testutil_seed (const char *suite)
{
    const char *env = getenv ("MESHQ_SEED");
    uint64_t seed = env ? strtoull (env, NULL, 0) : 0x6d65736871ULL;
    if (seed == 0)
        seed = 1;
    fprintf (stderr, "%s: MESHQ_SEED=%llu\n", suite, (unsigned long long)seed);
    return seed;
}

//  Returns a UDP port that no socket holds now, so that a test's beacons
//  do not meet another test's, or 0. The kernel picks it from the
//  ephemeral range, which it does not hand out twice while in use.
static inline uint16_t
testutil_udp_port (void)
{
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in address = {.sin_family = AF_INET};
    socklen_t size = sizeof address;
    uint16_t port = 0;
    if (bind (fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        getsockname (fd, (struct sockaddr *)&address, &size) == 0)
        port = ntohs (address.sin_port);
    close (fd);
    return port;
}

//  A TCP port that nobody holds, chosen by the kernel, for an agent whose
//  port its peers must know before it starts (seeds); 0 if the kernel
//  would not give one. The port stays held by a socket of this process
//  until it exits: picked and closed, it would be free for anyone until
//  the agent binds it, and under load another suite's agent, asking the
//  kernel for any port, sometimes got it first, so that ours could not
//  start. Held, the kernel hands it to no one else (not to a bind to
//  port 0, nor as the source port of a connection, nor to this process
//  again), while the agent, whose listeners set SO_REUSEADDR as this
//  socket does, can still bind it, and bind it again after a restart.
static inline int
testutil_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl (INADDR_ANY);
    socklen_t size = sizeof address;
    int port = 0;
    //  Bound first without SO_REUSEADDR, so that no port another socket
    //  holds, even with it, comes out; the option set afterwards lets
    //  the agent's listener in.
    int on = 1;
    if (fd >= 0 && bind (fd, (struct sockaddr *)&address, size) == 0 &&
        getsockname (fd, (struct sockaddr *)&address, &size) == 0 &&
        setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0)
        port = ntohs (address.sin_port);
    if (fd >= 0 && !port)
        close (fd);
    return port;
}

#endif
