/*  amqp_seeds.c - writes the seed corpus of fuzz_amqp: valid AMQP 0-9-1
    streams made by the module's own encoders, and the limits around
    them. Usage: amqp_seeds DIR. The files in corpus/amqp come from it;
    run it again when the encoders or the streams change.
*/
#include "amqp_wire.h"
#include "amqputil.h"

#include <stdio.h>
#include <stdlib.h>

#define S_CAP (1u << 18)

static int
s_write (const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "wb");
    if (!file || fwrite (data, 1, size, file) != size) {
        fprintf (stderr, "amqp_seeds: cannot write %s\n", path);
        if (file)
            fclose (file);
        return 1;
    }
    return fclose (file) != 0;
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: amqp_seeds DIR\n");
        return 64;
    }
    uint8_t *buf = malloc (S_CAP);
    int failed = 0;
    size_t size = amqputil_client_stream (buf, S_CAP, "Hello World!",
                                          MESHQ_AMQP_FRAME_MAX);
    failed |= s_write (argv[1], "client_session", buf, size);
    size = amqputil_server_stream (buf, S_CAP, "Hello World!",
                                   MESHQ_AMQP_FRAME_MAX);
    failed |= s_write (argv[1], "server_session", buf, size);
    //  A body over three frames of 4096 bytes.
    char *body = malloc (10001);
    for (int i = 0; i < 10000; i++)
        body[i] = (char)('a' + i % 26);
    body[10000] = 0;
    size = amqputil_client_stream (buf, S_CAP, body, 4096);
    failed |= s_write (argv[1], "client_split_body", buf, size);
    free (body);
    //  Tables nested 16 deep (read) and 17 (refused), of tables and of
    //  arrays, in arguments and in headers.
    for (int arrays = 0; arrays <= 1; arrays++) {
        for (int depth = 16; depth <= 17; depth++) {
            char name[64];
            memcpy (buf, MESHQ_AMQP_PROTOCOL_HEADER, 8);
            size = amqputil_deep_declare (buf + 8, S_CAP - 8, depth, arrays);
            snprintf (name, sizeof name, "declare_depth_%d%s", depth,
                      arrays ? "_arrays" : "");
            failed |= s_write (argv[1], name, buf, size + 8);
            size = amqputil_deep_header (buf + 8, S_CAP - 8, depth, arrays);
            snprintf (name, sizeof name, "header_depth_%d%s", depth,
                      arrays ? "_arrays" : "");
            failed |= s_write (argv[1], name, buf, size + 8);
        }
    }
    //  A wrong protocol header, and a heartbeat alone.
    failed |=
        s_write (argv[1], "protocol_1_0", (const uint8_t *)"AMQP\3\1\0\0", 8);
    memcpy (buf, MESHQ_AMQP_PROTOCOL_HEADER, 8);
    memcpy (buf + 8, "\x08\x00\x00\x00\x00\x00\x00\xce", 8);
    failed |= s_write (argv[1], "heartbeat", buf, 16);
    free (buf);
    return failed;
}
