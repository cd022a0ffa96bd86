/*  new_task.c - work queues: publishes one task to task_queue.

    The task is the command line's words, or "Hello World!". Each dot in
    it stands for a second of work for the worker that takes it. The
    queue is durable and the message persistent (meshq's default, unlike
    AMQP's), so a confirmed task survives a restart of the agent.

        new_task [--agent ENDPOINT] [--user U] [--password P] [--vhost V]
                 [TASK...]
*/
#include "common.h"

int
main (int argc, char **argv)
{
    example_t example;
    meshq_client_t *client =
        example_connect (&example, argc, argv, "[TASK...]", 0);
    example_check (client,
                   meshq_client_declare_queue (client, "task_queue", NULL),
                   "declare task_queue");

    char task[1024];
    example_join (&example, 0, "Hello World!", task, sizeof task);
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, "task_queue");
    meshq_msg_set_delivery_mode (msg, MESHQ_PERSISTENT);  //  The default.
    meshq_msg_set_body (msg, task, strlen (task));
    meshq_client_set_confirms (client, 1);
    example_check (client, meshq_client_publish (client, msg, 0), "publish");
    example_check (client, meshq_client_wait_for_confirms (client, 5000),
                   "confirm");
    printf (" [x] Sent '%s'\n", task);

    meshq_msg_destroy (&msg);
    meshq_client_destroy (&client);
    return 0;
}
