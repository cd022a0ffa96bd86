/*  receive.c - "Hello World!": prints the messages of the queue my_queue.

    Declares the same durable queue as send (whichever runs first
    creates it), consumes it, and prints each message as it comes. The
    library acknowledges each delivery on receipt (MESHQ_NO_ACK, AMQP's
    auto-ack), as the tutorial does.

        receive [--agent ENDPOINT] [--user U] [--password P] [--vhost V]
                [--count N]
*/
#include "common.h"

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client =
        example_connect (&example, argc, argv, "[--count N]", 0);
    example_check (client,
                   meshq_client_declare_queue (client, "my_queue", NULL),
                   "declare my_queue");
    example_check (
        client,
        meshq_client_consume (client, "my_queue", 10, NULL, MESHQ_NO_ACK),
        "consume my_queue");
    printf (" [*] Waiting for messages. To exit press CTRL+C\n");

    meshq_delivery_t *delivery;
    while ((delivery = example_next (&example, client))) {
        char body[256];
        printf (" [x] Received '%s'\n",
                example_body (delivery->msg, body, sizeof body));
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&client);
    return 0;
}
