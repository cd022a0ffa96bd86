/*  receive_logs_direct.c - routing: prints the log lines of some
    severities.

    Binds a queue of its own to the direct exchange direct_logs once
    per severity named on the command line: run it with "warning error"
    to keep only those, or with "info warning error" to see them all.

        receive_logs_direct [--agent ENDPOINT] [--user U] [--password P]
                            [--vhost V] [--count N] SEVERITY...
*/
#include "common.h"

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client =
        example_connect (&example, argc, argv, "[--count N] SEVERITY...", 1);
    example_check (
        client,
        meshq_client_declare_exchange (client, "direct_logs", "direct", false),
        "declare exchange direct_logs");
    char queue[256];
    example_temporary_queue (client, queue, sizeof queue);
    for (int i = 0; i < example.argc; i++)
        example_check (client,
                       meshq_client_bind_queue (client, queue, "direct_logs",
                                                example.argv[i], NULL),
                       "bind");
    example_check (client,
                   meshq_client_consume (client, queue, 10, NULL, MESHQ_NO_ACK),
                   "consume");
    printf (" [*] Waiting for logs. To exit press CTRL+C\n");
    example_print_deliveries (&example, client, true);
    meshq_client_destroy (&client);
    return 0;
}
