/*  rpc_server.c - remote procedure call: answers fib(n) requests.

    Takes requests from rpc_queue one at a time (prefetch 1, so several
    servers share the load), computes the Fibonacci number, and
    publishes the answer through the default exchange to the queue the
    request names in reply-to, with the request's correlation id, so the
    client can match it. The request is acked once answered.

        rpc_server [--agent ENDPOINT] [--user U] [--password P] [--vhost V]
                   [--count N]
*/
#include "common.h"

//  Slow on purpose, as in the tutorial: a request is real work.
static long
s_fib (int n)
{
    return n < 2 ? n : s_fib (n - 1) + s_fib (n - 2);
}

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client =
        example_connect (&example, argc, argv, "[--count N]", 0);
    example_check (client,
                   meshq_client_declare_queue (client, "rpc_queue", NULL),
                   "declare rpc_queue");
    example_check (client,
                   meshq_client_consume (client, "rpc_queue", 1, NULL, 0),
                   "consume rpc_queue");
    printf (" [x] Awaiting RPC requests\n");

    meshq_delivery_t *request;
    while ((request = example_next (&example, client))) {
        char body[64], answer[64];
        int n = atoi (example_body (request->msg, body, sizeof body));
        printf (" [.] fib(%d)\n", n);
        if (n < 0 || n > 40)
            snprintf (answer, sizeof answer, "error: n must be 0..40");
        else
            snprintf (answer, sizeof answer, "%ld", s_fib (n));

        const char *reply_to = meshq_msg_reply_to (request->msg);
        if (reply_to) {
            meshq_msg_t *reply = meshq_msg_new ();
            meshq_msg_set_routing_key (reply, reply_to);
            meshq_msg_set_correlation_id (
                reply, meshq_msg_correlation_id (request->msg));
            meshq_msg_set_body (reply, answer, strlen (answer));
            example_check (client, meshq_client_publish (client, reply, 0),
                           "publish the answer");
            meshq_msg_destroy (&reply);
        }
        meshq_client_ack (client, request->delivery_tag, false);
        meshq_delivery_destroy (&request);
    }
    meshq_client_destroy (&client);
    return 0;
}
