/*  emit_log_direct.c - routing: sends a log line with its severity.

    Publishes to the direct exchange direct_logs with the severity
    (info, warning, error...) as routing key: only queues bound with
    that very key get the line.

        emit_log_direct [--agent ENDPOINT] [--user U] [--password P] [--vhost V]
                        [SEVERITY [MESSAGE...]]
*/
#include "common.h"

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client =
        example_connect (&example, argc, argv, "[SEVERITY [MESSAGE...]]", 0);
    example_check (
        client,
        meshq_client_declare_exchange (client, "direct_logs", "direct", false),
        "declare exchange direct_logs");

    const char *severity = example.argc > 0 ? example.argv[0] : "info";
    char message[1024];
    example_join (&example, 1, "Hello World!", message, sizeof message);
    meshq_client_set_confirms (client, 1);
    example_check (client,
                   meshq_client_publish_body (client, "direct_logs", severity,
                                              message, strlen (message)),
                   "publish");
    example_check (client, meshq_client_wait_for_confirms (client, 5000),
                   "confirm");
    printf (" [x] Sent %s:'%s'\n", severity, message);
    meshq_client_destroy (&client);
    return 0;
}
