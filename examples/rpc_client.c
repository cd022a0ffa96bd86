/*  rpc_client.c - remote procedure call: asks an rpc_server for fib(n).

    Declares a queue of its own for the answers, publishes the request
    to rpc_queue with reply-to naming that queue and a correlation id
    unique to the request, then waits for the answer that carries the
    same correlation id (anything else is a stale answer: dropped).

        rpc_client [--agent ENDPOINT] [--user U] [--password P] [--vhost V] [N]
*/
#include "common.h"

#include <time.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client = example_connect (&example, argc, argv, "[N]", 0);
    int n = example.argc > 0 ? atoi (example.argv[0]) : 30;

    char callback[256];
    example_temporary_queue (client, callback, sizeof callback);
    example_check (
        client, meshq_client_consume (client, callback, 10, NULL, MESHQ_NO_ACK),
        "consume");

    //  Unique enough for one client: process id and the clock.
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    char correlation_id[64], request[32];
    snprintf (correlation_id, sizeof correlation_id, "%d-%lld-%ld",
              (int)getpid (), (long long)now.tv_sec, now.tv_nsec);
    snprintf (request, sizeof request, "%d", n);
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, "rpc_queue");
    meshq_msg_set_reply_to (msg, callback);
    meshq_msg_set_correlation_id (msg, correlation_id);
    meshq_msg_set_body (msg, request, strlen (request));
    printf (" [x] Requesting fib(%d)\n", n);
    example_check (client, meshq_client_publish (client, msg, 0), "publish");
    meshq_msg_destroy (&msg);

    int exit_code = 1;  //  Unless the answer comes.
    meshq_delivery_t *delivery;
    while (exit_code && (delivery = example_next (&example, client))) {
        const char *id = meshq_msg_correlation_id (delivery->msg);
        if (id && strcmp (id, correlation_id) == 0) {
            char answer[64];
            printf (" [.] Got %s\n",
                    example_body (delivery->msg, answer, sizeof answer));
            exit_code = 0;
        }
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&client);
    return exit_code;
}
