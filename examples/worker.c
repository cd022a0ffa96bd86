/*  worker.c - work queues: takes tasks from task_queue, one at a time.

    A prefetch of 1 means the agent hands this worker a new task only
    once it has acknowledged the last one, so a busy worker is skipped
    and an idle one served: start several and they share the load. The
    ack comes after the work: if the worker dies first, its agent gives
    the task to another worker (marked redelivered).

        worker [--agent ENDPOINT] [--user U] [--password P] [--vhost V]
               [--count N]
*/
#include "common.h"

#include <unistd.h>

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client =
        example_connect (&example, argc, argv, "[--count N]", 0);
    example_check (client,
                   meshq_client_declare_queue (client, "task_queue", NULL),
                   "declare task_queue");
    example_check (client,
                   meshq_client_consume (client, "task_queue", 1, NULL, 0),
                   "consume task_queue");
    printf (" [*] Waiting for messages. To exit press CTRL+C\n");

    meshq_delivery_t *delivery;
    while ((delivery = example_next (&example, client))) {
        char task[1024];
        printf (" [x] Received '%s'\n",
                example_body (delivery->msg, task, sizeof task));
        //  A second of work per dot; Ctrl-C stops it, unacknowledged.
        for (const char *c = task; *c && !example_stopped (); c++)
            if (*c == '.')
                sleep (1);
        if (example_stopped ()) {
            meshq_delivery_destroy (&delivery);
            break;
        }
        printf (" [x] Done\n");
        meshq_client_ack (client, delivery->delivery_tag, false);
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&client);
    return 0;
}
