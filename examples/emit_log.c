/*  emit_log.c - publish/subscribe: sends one log line to every listener.

    Publishes to the fanout exchange logs, which copies each message to
    every queue bound to it and ignores the routing key. With no
    receive_logs running, no queue is bound and the line goes nowhere,
    as in the tutorial.

        emit_log [--agent ENDPOINT] [--user U] [--password P] [--vhost V]
                 [MESSAGE...]
*/
#include "common.h"

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client =
        example_connect (&example, argc, argv, "[MESSAGE...]", 0);
    example_check (
        client, meshq_client_declare_exchange (client, "logs", "fanout", false),
        "declare exchange logs");

    char message[1024];
    example_join (&example, 0, "info: Hello World!", message, sizeof message);
    meshq_client_set_confirms (client, 1);
    example_check (client,
                   meshq_client_publish_body (client, "logs", "", message,
                                              strlen (message)),
                   "publish");
    example_check (client, meshq_client_wait_for_confirms (client, 5000),
                   "confirm");
    printf (" [x] Sent '%s'\n", message);
    meshq_client_destroy (&client);
    return 0;
}
