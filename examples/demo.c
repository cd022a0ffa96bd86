/*  demo.c - the mesh at work, in under a minute.

    Starts three agents on this machine (a, b and c: meshq-agent
    processes of one mesh, on loopback), publishes from a, and consumes
    on b and c, where b's worker is three times as fast as c's. Credit
    decides who gets what, so b's worker ends with about three quarters.
    Halfway, agent b is killed with SIGKILL; what b held goes back to a
    and on to c, b is restarted, its worker comes back, and at the end
    every confirmed message has arrived. Everything it made (processes,
    a temporary directory) is gone when it exits.

    demo [PATH-TO-meshq-agent]   (default: meshq-agent on $PATH)
*/
#include <meshq.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_MESSAGES 12000  //  Published in all.
#define S_RATE     2000   //  Published a second: more than both workers do.
#define S_QUEUE    "tasks"

typedef struct {
    const char *name;   //  a, b or c.
    int port;           //  Mesh port.
    char control[256];  //  Client endpoint.
    pid_t pid;          //  The agent process, or 0.
} s_agent_t;

typedef struct {
    const char *name;         //  Who.
    s_agent_t *agent;         //  Where it consumes.
    int work_us;              //  Time it spends on a message.
    atomic_uint received;     //  Deliveries.
    atomic_uint redelivered;  //  Of those, redelivered ones.
    pthread_t thread;         //  Its thread.
} s_worker_t;

static char s_dir[64];
static const char *s_agent_path = "meshq-agent";
static s_agent_t s_agents[3] = {{.name = "a"}, {.name = "b"}, {.name = "c"}};
static atomic_bool s_done;
static atomic_uchar s_seen[S_MESSAGES + 1];  //  Deliveries of each message.

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  A TCP port nobody holds, below the ephemeral range (32768 and up),
//  so that an agent restarted on it finds it still free. The socket
//  that found it stays open until the demo exits: closed, the port
//  would be anyone's until the agent binds it (another program asking
//  for any port could get it first, and the agent would not start).
//  Bound without SO_REUSEADDR, so that no port another socket holds
//  comes out; then given it, so that the agent's listener, which sets
//  it too, can bind the port while nothing else can.
static int
s_free_port (void)
{
    static unsigned state;
    if (!state)
        state = (unsigned)getpid () * 2654435761u ^ (unsigned)s_now_ms ();
    for (int tries = 0; tries < 1000; tries++) {
        state = state * 1103515245u + 12345u;
        int port = 20000 + (int)((state >> 8) % 12000);
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port = htons ((uint16_t)port)};
        address.sin_addr.s_addr = htonl (INADDR_ANY);
        int on = 1;
        if (fd >= 0 &&
            bind (fd, (struct sockaddr *)&address, sizeof address) == 0 &&
            setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0)
            return port;
        if (fd >= 0)
            close (fd);
    }
    return 0;
}

//  Starts agent i: its own port, the others' as seeds.
static void
s_start (int i)
{
    s_agent_t *agent = &s_agents[i];
    char data[128], log[128], port[16], seeds[128];
    snprintf (data, sizeof data, "%s/%s", s_dir, agent->name);
    snprintf (log, sizeof log, "%s/%s.log", s_dir, agent->name);
    snprintf (port, sizeof port, "%d", agent->port);
    snprintf (seeds, sizeof seeds, "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d",
              s_agents[(i + 1) % 3].port, s_agents[(i + 2) % 3].port);
    agent->pid = fork ();
    if (agent->pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (!freopen (log, "a", stderr))
            _exit (1);
        execlp (s_agent_path, s_agent_path, "--name", agent->name, "--data",
                data, "--control", agent->control, "--mesh", s_dir + 5,
                "--port", port, "--seeds", seeds, "--no-beacon", "--heartbeat",
                "100", "--peer-timeout", "1000", (char *)NULL);
        fprintf (stderr, "cannot run %s\n", s_agent_path);
        _exit (127);
    }
}

//  A client of agent, once it answers and knows the queue (or NULL if
//  it does not within timeout_ms).
static meshq_client_t *
s_connect (s_agent_t *agent, int timeout_ms)
{
    int64_t deadline = s_now_ms () + timeout_ms;
    while (s_now_ms () < deadline && !atomic_load (&s_done)) {
        meshq_client_t *client = meshq_client_new ();
        meshq_client_set_timeout (client, 1000);
        meshq_client_set_heartbeat (client, 200);
        meshq_queue_options_t options;
        meshq_queue_options_init (&options);
        options.passive = true;
        if (meshq_client_connect (client, agent->control) == 0 &&
            meshq_client_declare_queue (client, S_QUEUE, &options) == 0)
            return client;
        meshq_client_destroy (&client);
        usleep (50000);
    }
    return NULL;
}

//  A worker: takes tasks at its agent, one at a time (prefetch 10),
//  spending work_us on each; when its agent dies it waits for it to
//  come back and goes on.
static void *
s_work (void *arg)
{
    s_worker_t *worker = arg;
    while (!atomic_load (&s_done)) {
        meshq_client_t *client = s_connect (worker->agent, 60000);
        if (!client)
            break;
        meshq_client_consume (client, S_QUEUE, 10, NULL, 0);
        while (!atomic_load (&s_done)) {
            meshq_delivery_t *delivery = NULL;
            int rc = meshq_client_recv (client, 100, &delivery);
            if (rc == MESHQ_ETIMEOUT)
                continue;
            if (rc)
                break;  //  The agent is gone.
            usleep ((useconds_t)worker->work_us);
            size_t size;
            const char *body = meshq_msg_body (delivery->msg, &size);
            char text[16] = "";
            memcpy (text, body, size < 15 ? size : 15);
            int n = atoi (text);
            if (n > 0 && n <= S_MESSAGES)
                atomic_fetch_add (&s_seen[n], 1);
            atomic_fetch_add (&worker->received, 1);
            if (delivery->redelivered)
                atomic_fetch_add (&worker->redelivered, 1);
            meshq_client_ack (client, delivery->delivery_tag, false);
            meshq_delivery_destroy (&delivery);
        }
        meshq_client_destroy (&client);
    }
    return NULL;
}

static void
s_cleanup (void)
{
    for (int i = 0; i < 3; i++)
        if (s_agents[i].pid > 0) {
            kill (s_agents[i].pid, SIGTERM);
            waitpid (s_agents[i].pid, NULL, 0);
            s_agents[i].pid = 0;
        }
    char command[128];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    if (*s_dir && system (command) != 0)
        fprintf (stderr, "demo: could not remove %s\n", s_dir);
}

int
main (int argc, char *argv[])
{
    if (argc > 1)
        s_agent_path = argv[1];
    snprintf (s_dir, sizeof s_dir, "/tmp/meshq-demo-XXXXXX");
    if (!mkdtemp (s_dir)) {
        perror ("demo: mkdtemp");
        return 1;
    }
    printf ("meshq demo: three agents, one queue, two workers\n\n");
    for (int i = 0; i < 3; i++) {
        s_agents[i].port = s_free_port ();
        snprintf (s_agents[i].control, sizeof s_agents[i].control,
                  "ipc://%s/%s.ipc", s_dir, s_agents[i].name);
    }
    for (int i = 0; i < 3; i++)
        s_start (i);
    //  The queue, declared at a, reaches b and c through the mesh.
    meshq_client_t *producer = NULL;
    for (int64_t until = s_now_ms () + 10000; !producer && s_now_ms () < until;
         usleep (50000)) {
        meshq_client_t *client = meshq_client_new ();
        if (meshq_client_connect (client, s_agents[0].control) == 0 &&
            meshq_client_declare_queue (client, S_QUEUE, NULL) == 0)
            producer = client;
        else
            meshq_client_destroy (&client);
    }
    meshq_client_t *at_b = producer ? s_connect (&s_agents[1], 10000) : NULL;
    meshq_client_t *at_c = at_b ? s_connect (&s_agents[2], 10000) : NULL;
    if (!at_c) {
        fprintf (stderr, "demo: the agents did not come up; logs in %s\n",
                 s_dir);
        meshq_client_destroy (&producer);
        meshq_client_destroy (&at_b);
        s_dir[0] = 0;  //  Keep the logs.
        s_cleanup ();
        return 1;
    }
    meshq_client_destroy (&at_b);
    meshq_client_destroy (&at_c);
    for (int i = 0; i < 3; i++)
        printf ("  agent %s  pid %-7d mesh port %d\n", s_agents[i].name,
                (int)s_agents[i].pid, s_agents[i].port);
    printf ("  queue '%s' declared at a, known at b and c\n\n", S_QUEUE);

    s_worker_t workers[2] = {
        {.name = "fast worker at b", .agent = &s_agents[1], .work_us = 1000},
        {.name = "slow worker at c", .agent = &s_agents[2], .work_us = 3000}};
    for (int i = 0; i < 2; i++)
        pthread_create (&workers[i].thread, NULL, s_work, &workers[i]);

    printf ("publishing %d persistent tasks at a, %d a second, with "
            "confirms;\nthe worker at b takes 1 ms a task, the one at c 3 ms: "
            "b's should get about 3 in 4\n\n",
            S_MESSAGES, S_RATE);
    meshq_client_set_confirms (producer, 100);
    static uint8_t confirmed[S_MESSAGES + 1];
    int published = 0, confirmed_count = 0;
    int64_t start = s_now_ms (), last_report = start;
    bool killed = false, restarted = false;
    int64_t killed_at = 0;
    while (s_now_ms () - start < 60000) {
        int64_t now = s_now_ms ();
        //  Publish what is due, in batches of 100, each confirmed.
        if (published < S_MESSAGES &&
            published < (now - start) * S_RATE / 1000) {
            int first = published + 1;
            for (int i = 0; i < 100 && published < S_MESSAGES; i++) {
                char body[16];
                snprintf (body, sizeof body, "%d", ++published);
                meshq_client_publish_body (producer, "", S_QUEUE, body,
                                           strlen (body));
            }
            if (meshq_client_wait_for_confirms (producer, 5000) == 0)
                for (int n = first; n <= published; n++) {
                    confirmed[n] = 1;
                    confirmed_count++;
                }
        } else
            usleep (2000);
        if (!killed && published >= S_MESSAGES / 3) {
            printf ("  >>> SIGKILL agent b (pid %d), its worker's tasks "
                    "in hand with it\n",
                    (int)s_agents[1].pid);
            kill (s_agents[1].pid, SIGKILL);
            waitpid (s_agents[1].pid, NULL, 0);
            s_agents[1].pid = 0;
            killed = true;
            killed_at = now;
        }
        if (killed && !restarted && now - killed_at >= 2000) {
            s_start (1);
            printf ("  >>> agent b restarted (pid %d)\n", (int)s_agents[1].pid);
            restarted = true;
        }
        int got = 0;
        for (int n = 1; n <= S_MESSAGES; n++)
            got += confirmed[n] && atomic_load (&s_seen[n]) > 0;
        if (now - last_report >= 1000 || got == S_MESSAGES) {
            last_report = now;
            printf ("  %4.1fs  published %5d  confirmed %5d  | %s %5u  "
                    "| %s %5u\n",
                    (double)(now - start) / 1000, published, confirmed_count,
                    workers[0].name, atomic_load (&workers[0].received),
                    workers[1].name, atomic_load (&workers[1].received));
        }
        if (got == confirmed_count && published == S_MESSAGES)
            break;
    }
    atomic_store (&s_done, true);
    for (int i = 0; i < 2; i++)
        pthread_join (workers[i].thread, NULL);
    meshq_client_destroy (&producer);

    int arrived = 0, twice = 0;
    for (int n = 1; n <= S_MESSAGES; n++) {
        arrived += confirmed[n] && atomic_load (&s_seen[n]) > 0;
        twice += atomic_load (&s_seen[n]) > 1;
    }
    unsigned total =
        atomic_load (&workers[0].received) + atomic_load (&workers[1].received);
    printf ("\n");
    for (int i = 0; i < 2; i++)
        printf ("%s: %5u tasks (%2.0f%%), %u of them redelivered\n",
                workers[i].name, atomic_load (&workers[i].received),
                100.0 * atomic_load (&workers[i].received) /
                    (total ? total : 1),
                atomic_load (&workers[i].redelivered));
    printf ("confirmed %d, arrived %d, missing %d, delivered twice %d "
            "(in a worker's hands when b died)\n",
            confirmed_count, arrived, confirmed_count - arrived, twice);
    printf ("%s\n", arrived == confirmed_count
                        ? "every confirmed message arrived."
                        : "SOME CONFIRMED MESSAGES DID NOT ARRIVE.");
    s_cleanup ();
    return arrived == confirmed_count ? 0 : 1;
}
