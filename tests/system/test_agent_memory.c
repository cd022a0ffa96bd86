/*  test_agent_memory.c - an agent process gives back the memory a
    backlog took once its queues drained: its resident set returns to
    within twice what it was idle. Its STATUS tells its memory, and
    where a message's time goes inside it.
*/
#include "procutil.h"
#include "clientutil.h"
#include "testutil.h"

#include <inttypes.h>

static char s_dir[256];
static char s_endpoint[300];

static void
s_setup (void)
{
    procutil_dir ("memory", s_dir, sizeof s_dir, s_endpoint, sizeof s_endpoint);
}

static void
s_teardown (void)
{
    procutil_rmdir (s_dir);
}

TestSuite (memory, .init = s_setup, .fini = s_teardown, .timeout = 240);

//  VmRSS of process pid in kB.
static long
s_rss_kb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    long kb = -1;
    while (fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kb = atol (line + 6);
    fclose (file);
    cr_assert_gt (kb, 0);
    return kb;
}

Test (memory, a_drained_backlog_gives_its_memory_back)
{
#if defined(__SANITIZE_ADDRESS__)
    //  AddressSanitizer's allocator keeps freed memory in quarantine and
    //  never gives it back: the agent's RSS says nothing of ours there.
    cr_skip_test ("resident memory is not ours to measure under ASan");
#endif
    enum { COUNT = 200000 };
    pid_t pid = procutil_agent ("memory", s_dir, s_endpoint);
    //  Idle: as an operator would see it once the agent has settled.
    zclock_sleep (3000);
    long idle = s_rss_kb (pid);
    meshq_client_t *client = procutil_client (s_endpoint, 30000);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.durable = true;
    cr_assert_eq (meshq_client_declare_queue (client, "backlog", &options), 0);
    meshq_client_set_confirms (client, 1000);
    char body[100];
    memset (body, 'm', sizeof body);
    meshq_msg_t *msg = meshq_msg_new ();
    meshq_msg_set_routing_key (msg, "backlog");
    meshq_msg_set_delivery_mode (msg, MESHQ_PERSISTENT);
    meshq_msg_set_body (msg, body, sizeof body);
    for (int i = 0; i < COUNT; i++)
        cr_assert_eq (meshq_client_publish (client, msg, 0), 0, "%s",
                      meshq_client_error (client));
    cr_assert_eq (meshq_client_wait_for_confirms (client, 60000), 0);
    meshq_msg_destroy (&msg);
    long full = s_rss_kb (pid);
    //  The backlog is drained: every message consumed and acked.
    cr_assert_eq (
        meshq_client_consume (client, "backlog", 1000, "drain", MESHQ_NO_ACK),
        0);
    for (int i = 0; i < COUNT; i++) {
        meshq_delivery_t *delivery = NULL;
        cr_assert_eq (meshq_client_recv (client, 10000, &delivery), 0,
                      "after %d: %s", i, meshq_client_error (client));
        meshq_delivery_destroy (&delivery);
    }
    meshq_client_destroy (&client);
    //  Its memory comes back, not at once: up to 30 s.
    long rss = s_rss_kb (pid);
    for (int64_t deadline = zclock_mono () + 30000;
         rss > 2 * idle && zclock_mono () < deadline; rss = s_rss_kb (pid))
        zclock_sleep (200);
    cr_expect_leq (rss, 2 * idle,
                   "idle %ld kB, with the backlog %ld kB, drained %ld kB", idle,
                   full, rss);
    procutil_kill (pid, SIGTERM);
}

Test (memory, status_tells_memory_and_where_a_message_spends_its_time)
{
    pid_t pid = procutil_agent ("status", s_dir, s_endpoint);
    meshq_client_t *client = procutil_client (s_endpoint, 10000);
    meshq_queue_options_t options;
    meshq_queue_options_init (&options);
    options.durable = true;
    cr_assert_eq (meshq_client_declare_queue (client, "traced", &options), 0);
    cr_assert_eq (
        meshq_client_consume (client, "traced", 10, NULL, MESHQ_NO_ACK), 0);
    meshq_client_set_confirms (client, 1);
    //  One in flight: each followed from its publish to its confirm and
    //  its delivery.
    for (int i = 0; i < 20; i++) {
        cr_assert_eq (meshq_client_publish_body (client, "", "traced", "m", 1),
                      0);
        cr_assert_eq (meshq_client_wait_for_confirms (client, 10000), 0);
        meshq_delivery_t *delivery = NULL;
        cr_assert_eq (meshq_client_recv (client, 10000, &delivery), 0);
        meshq_delivery_destroy (&delivery);
    }
    meshq_args_t status;
    zmsg_t *reply;
    //  The stages of 20 messages; the memory of the process.
    clientutil_status (client, &status, &reply);
    char stages[512];
    snprintf (stages, sizeof stages, "%.*s", (int)status.stages.size,
              status.stages.data);
    cr_expect (strstr (stages, "n=20 "), "%s", stages);
    cr_expect (strstr (stages, " fsync="), "%s", stages);
    cr_expect (strstr (stages, " to_send="), "%s", stages);
    cr_expect (MESHQ_ARGS_HAS (&status, RSS));
    cr_expect_geq (status.rss_peak, status.rss);
    long rss = s_rss_kb (pid);
    cr_expect (status.rss > (uint64_t)rss / 2 && status.rss < (uint64_t)rss * 2,
               "status %" PRIu64 " kB, /proc %ld kB", status.rss, rss);
    zmsg_destroy (&reply);
    //  Idle memory, once 3 s have passed.
    int64_t deadline = zclock_mono () + 10000;
    do {
        zclock_sleep (200);
        clientutil_status (client, &status, &reply);
        zmsg_destroy (&reply);
    } while (!MESHQ_ARGS_HAS (&status, RSS_IDLE) && zclock_mono () < deadline);
    cr_expect_gt (status.rss_idle, 0);
    meshq_client_destroy (&client);
    procutil_kill (pid, SIGTERM);
}
