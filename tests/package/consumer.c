/*  consumer.c - uses the installed meshq: encodes and decodes a message. */
#include <meshq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main (void)
{
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, "my_queue");
    meshq_msg_set_body (msg, "Hello World!", 12);
    uint8_t *data;
    size_t size;
    meshq_msg_t *copy = NULL;
    if (meshq_msg_encode (msg, &data, &size) ||
        meshq_msg_decode (data, size, 0, &copy, NULL) ||
        strcmp (meshq_msg_routing_key (copy), "my_queue") != 0) {
        fprintf (stderr, "consumer: round trip failed\n");
        return 1;
    }
    printf ("consumer: meshq %d works\n", meshq_version ());
    free (data);
    meshq_msg_destroy (&copy);
    meshq_msg_destroy (&msg);
    return 0;
}
