/*  demo.c - what meshq has so far: a message, its bytes, and back.

    Builds the RabbitMQ tutorial's message ("Hello World!" for my_queue)
    with a few properties, encodes it as docs/PROTOCOL.md specifies,
    prints the bytes, decodes them and prints what came back. Then shows
    the decoder refusing a damaged copy with a reason.
*/
#include <meshq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_hexdump (const uint8_t *data, size_t size)
{
    for (size_t line = 0; line < size; line += 16) {
        printf ("  %04zx  ", line);
        for (size_t i = line; i < line + 16; i++) {
            if (i < size)
                printf ("%02x ", data[i]);
            else
                printf ("   ");
        }
        printf (" ");
        for (size_t i = line; i < line + 16 && i < size; i++)
            putchar (data[i] >= 32 && data[i] < 127 ? data[i] : '.');
        printf ("\n");
    }
}

int
main (void)
{
    printf ("meshq %d.%d.%d demo: the message envelope\n\n",
            MESHQ_VERSION_MAJOR, MESHQ_VERSION_MINOR, MESHQ_VERSION_PATCH);

    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, "my_queue");
    meshq_msg_set_content_type (msg, "text/plain");
    meshq_msg_set_priority (msg, 5);
    meshq_msg_set_header_str (msg, "x-sender", "demo");
    meshq_msg_set_body (msg, "Hello World!", 12);

    uint8_t *data;
    size_t size;
    int rc = meshq_msg_encode (msg, &data, &size);
    if (rc) {
        fprintf (stderr, "demo: encode failed: %s\n", meshq_strerror (rc));
        return 1;
    }
    printf ("1. A publisher builds a message and encodes it (msgpack, "
            "%zu bytes):\n",
            size);
    s_hexdump (data, size);

    meshq_msg_t *copy = NULL;
    const char *why = NULL;
    rc = meshq_msg_decode (data, size, 0, &copy, &why);
    if (rc) {
        fprintf (stderr, "demo: decode failed: %s (%s)\n", meshq_strerror (rc),
                 why);
        return 1;
    }
    printf ("\n2. A consumer decodes the bytes back into a message:\n");
    meshq_msg_print (copy);

    //  Cut the frame short, as a broken peer might send it.
    printf ("\n3. A damaged copy (last 5 bytes missing) is refused:\n");
    meshq_msg_t *broken = NULL;
    rc = meshq_msg_decode (data, size - 5, 0, &broken, &why);
    printf ("  %s: %s\n", meshq_strerror (rc), why);

    free (data);
    meshq_msg_destroy (&copy);
    meshq_msg_destroy (&msg);
    return rc == MESHQ_ETRUNCATED ? 0 : 1;
}
