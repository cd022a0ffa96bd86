/*  receive_logs.c - publish/subscribe: prints every log line.

    Each listener gets a queue of its own (named by the agent, exclusive
    to this connection, deleted with it) bound to the fanout exchange
    logs. Start two and both print every line.

        receive_logs [--agent ENDPOINT] [--user U] [--password P] [--vhost V]
                     [--count N]
*/
#include "common.h"

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client =
        example_connect (&example, argc, argv, "[--count N]", 0);
    example_check (
        client, meshq_client_declare_exchange (client, "logs", "fanout", false),
        "declare exchange logs");
    char queue[256];
    example_temporary_queue (client, queue, sizeof queue);
    //  A fanout exchange ignores the binding key.
    example_check (client,
                   meshq_client_bind_queue (client, queue, "logs", "", NULL),
                   "bind");
    example_check (client,
                   meshq_client_consume (client, queue, 10, NULL, MESHQ_NO_ACK),
                   "consume");
    printf (" [*] Waiting for logs. To exit press CTRL+C\n");
    example_print_deliveries (&example, client, false);
    meshq_client_destroy (&client);
    return 0;
}
