/*  emit_log_topic.c - topics: sends a log line with a dotted routing key.

    Publishes to the topic exchange topic_logs with a routing key of
    words separated by dots, such as "kern.critical" (facility.severity);
    queues bound with matching patterns get the line.

        emit_log_topic [--agent ENDPOINT] [--user U] [--password P] [--vhost V]
                       [ROUTING_KEY [MESSAGE...]]
*/
#include "common.h"

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client =
        example_connect (&example, argc, argv, "[ROUTING_KEY [MESSAGE...]]", 0);
    example_check (
        client,
        meshq_client_declare_exchange (client, "topic_logs", "topic", false),
        "declare exchange topic_logs");

    const char *key = example.argc > 0 ? example.argv[0] : "anonymous.info";
    char message[1024];
    example_join (&example, 1, "Hello World!", message, sizeof message);
    meshq_client_set_confirms (client, 1);
    example_check (client,
                   meshq_client_publish_body (client, "topic_logs", key,
                                              message, strlen (message)),
                   "publish");
    example_check (client, meshq_client_wait_for_confirms (client, 5000),
                   "confirm");
    printf (" [x] Sent %s:'%s'\n", key, message);
    meshq_client_destroy (&client);
    return 0;
}
