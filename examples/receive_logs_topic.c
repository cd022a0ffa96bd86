/*  receive_logs_topic.c - topics: prints the log lines whose routing key
    matches a pattern.

    Binds a queue of its own to the topic exchange topic_logs with each
    binding key on the command line. In a binding key, '*' stands for
    exactly one word and '#' for zero or more: "kern.*" gets every
    kernel line, "*.critical" every critical one, "#" everything.

        receive_logs_topic [--agent ENDPOINT] [--user U] [--password P]
                           [--vhost V] [--count N] BINDING_KEY...
*/
#include "common.h"

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client =
        example_connect (&example, argc, argv, "[--count N] BINDING_KEY...", 1);
    example_check (
        client,
        meshq_client_declare_exchange (client, "topic_logs", "topic", false),
        "declare exchange topic_logs");
    char queue[256];
    example_temporary_queue (client, queue, sizeof queue);
    for (int i = 0; i < example.argc; i++)
        example_check (client,
                       meshq_client_bind_queue (client, queue, "topic_logs",
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
