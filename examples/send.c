/*  send.c - "Hello World!": publishes one message to the queue my_queue.

    The first step of the tutorial: declare a durable queue, publish one
    message to it through the default exchange, and wait until the agent
    says the message is safely stored (a publisher confirm).

        send [--agent ENDPOINT] [--user U] [--password P] [--vhost V]
*/
#include "common.h"

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client = example_connect (&example, argc, argv, "", 0);

    //  Declaring is idempotent: whoever starts first creates the queue.
    //  Queues are durable unless the options say otherwise.
    example_check (client,
                   meshq_client_declare_queue (client, "my_queue", NULL),
                   "declare my_queue");

    //  The default exchange ("") routes by queue name. With confirms on,
    //  wait_for_confirms returns once the message is on disk.
    meshq_client_set_confirms (client, 1);
    const char *body = "Hello World!";
    example_check (
        client,
        meshq_client_publish_body (client, "", "my_queue", body, strlen (body)),
        "publish");
    example_check (client, meshq_client_wait_for_confirms (client, 5000),
                   "confirm");
    printf (" [x] Sent '%s'\n", body);

    meshq_client_destroy (&client);
    return 0;
}
