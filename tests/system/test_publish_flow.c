/*  test_publish_flow.c - what a publisher without confirms sent reaches
    the agent: closing the client waits for the agent to have read it,
    and what the agent has not read yet is bounded (the SYNC round trips
    of docs/PROTOCOL.md, section 3.4). The agent is a process, stopped
    with SIGSTOP to stand for one starved of CPU.
*/
#include "procutil.h"
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

static char s_dir[256];
static char s_endpoint[300];
static pid_t s_pid;

static void
s_setup (void)
{
    procutil_dir ("publish_flow", s_dir, sizeof s_dir, s_endpoint,
                  sizeof s_endpoint);
    s_pid = procutil_agent ("flow", s_dir, s_endpoint);
}

static void
s_teardown (void)
{
    if (s_pid) {
        kill (s_pid, SIGCONT);
        procutil_kill (s_pid, SIGTERM);
    }
    procutil_rmdir (s_dir);
}

TestSuite (publish_flow, .init = s_setup, .fini = s_teardown, .timeout = 120);

//  Publishes count transient messages of size bytes to queue, without
//  confirms, with flags; counts them in *done as they go.
static void
s_publish (meshq_client_t *client, const char *queue, int count, size_t size,
           int flags, atomic_int *done)
{
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, queue);
    meshq_msg_set_delivery_mode (msg, MESHQ_TRANSIENT);
    char *body = calloc (1, size);
    cr_assert (body);
    for (int i = 0; i < count; i++) {
        snprintf (body, size, "m-%d", i);
        cr_assert_eq (meshq_msg_set_body (msg, body, size), 0);
        cr_assert_eq (meshq_client_publish (client, msg, flags), 0);
        atomic_fetch_add (done, 1);
    }
    free (body);
    meshq_msg_destroy (&msg);
}

//  Waits up to 10 s for queue to hold count ready messages; returns
//  what it holds.
static uint64_t
s_wait_depth (const char *queue, uint64_t count)
{
    meshq_client_t *client = procutil_client (s_endpoint, 5000);
    uint64_t ready = 0, unacked = 0;
    int64_t deadline = zclock_mono () + 10000;
    while (ready < count && zclock_mono () < deadline) {
        procutil_depth (client, queue, &ready, &unacked);
        if (ready < count)
            zclock_sleep (50);
    }
    meshq_client_destroy (&client);
    return ready;
}

static void
s_declare (const char *queue)
{
    meshq_client_t *client = procutil_client (s_endpoint, 5000);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.durable = false;
    cr_assert_eq (meshq_client_declare_queue (client, queue, &options), 0);
    meshq_client_destroy (&client);
}

//  Sends SIGCONT to the agent after ms.
static void *
s_resume_later (void *arg)
{
    zclock_sleep (*(int *)arg);
    kill (s_pid, SIGCONT);
    return NULL;
}

Test (publish_flow, closing_a_client_loses_none_of_its_publishes)
{
    //  More than the kernel's socket buffers hold, less than one window
    //  (no SYNC before the close); the agent does not read for longer
    //  than the client's linger (1 s).
    enum { COUNT = 4000, SIZE = 180 };
    s_declare ("closing");
    meshq_client_t *client = procutil_client (s_endpoint, 5000);
    cr_assert (procutil_stop (s_pid));
    atomic_int done = 0;
    s_publish (client, "closing", COUNT, SIZE, 0, &done);
    int delay = 1500;
    pthread_t thread;
    pthread_create (&thread, NULL, s_resume_later, &delay);
    meshq_client_destroy (&client);
    pthread_join (thread, NULL);
    cr_expect_eq (s_wait_depth ("closing", COUNT), COUNT,
                  "published without confirms, then closed: lost some");
}

typedef struct {
    meshq_client_t *client;
    atomic_int done;
} s_publisher_t;

static void *
s_publisher (void *arg)
{
    s_publisher_t *publisher = arg;
    s_publish (publisher->client, "bounded", 40000, 100, MESHQ_MORE,
               &publisher->done);
    meshq_client_destroy (&publisher->client);
    return NULL;
}

Test (publish_flow, what_the_agent_has_not_read_is_bounded)
{
    s_declare ("bounded");
    s_publisher_t publisher = {.client = procutil_client (s_endpoint, 10000)};
    cr_assert (procutil_stop (s_pid));
    pthread_t thread;
    pthread_create (&thread, NULL, s_publisher, &publisher);
    //  The agent reads nothing meanwhile: the publisher stops at two
    //  windows of 1 MiB (and a batch), about 16,000 of these; without
    //  the bound, all 40,000 (5 MB) would be queued for it at once.
    zclock_sleep (1500);
    int published = atomic_load (&publisher.done);
    kill (s_pid, SIGCONT);
    pthread_join (thread, NULL);
    cr_expect_lt (published, 20000, "%d published while the agent read nothing",
                  published);
    cr_expect_gt (published, 1000);
    //  Then everything arrives.
    cr_expect_eq (s_wait_depth ("bounded", 40000), 40000);
}

Test (publish_flow, a_publish_that_cannot_wait_is_not_sent)
{
    s_declare ("refused");
    meshq_client_t *client = procutil_client (s_endpoint, 500);
    cr_assert (procutil_stop (s_pid));
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, "refused");
    meshq_msg_set_delivery_mode (msg, MESHQ_TRANSIENT);
    meshq_msg_set_body (msg, "0123456789", 10);
    //  The agent reads nothing: after two windows the publish waits for
    //  it, up to the client's timeout, and fails.
    int published = 0, rc = 0;
    while (published < 1000000 &&
           (rc = meshq_client_publish (client, msg, 0)) == 0)
        published++;
    cr_expect_eq (rc, MESHQ_ETIMEOUT, "%s", meshq_client_error (client));
    meshq_msg_destroy (&msg);
    kill (s_pid, SIGCONT);
    meshq_client_destroy (&client);
    //  What returned 0 arrives; the publish that failed was not sent.
    cr_expect_eq (s_wait_depth ("refused", (uint64_t)published),
                  (uint64_t)published);
    zclock_sleep (300);
    cr_expect_eq (s_wait_depth ("refused", (uint64_t)published),
                  (uint64_t)published, "the publish that failed was sent");
}
