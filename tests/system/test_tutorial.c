/*  test_tutorial.c - the RabbitMQ tutorial, step by step, as a user
    runs it: the meshq tool and the programs of examples/ as processes,
    against meshq-agent processes of one mesh on loopback, with no
    server anywhere.

    Administration happens on node 1 and must hold on every node: users,
    permissions, vhosts and declarations are mesh-wide records that
    travel by gossip, so the tests wait for them by asking again (the
    tool, or a login) until a deadline, never by sleeping a fixed time
    (the one sleep holds a fault for its length). Agents are seeded
    with each other's ports and send no beacons.

    Whatever a test starts is killed, and its directory removed, in the
    suite's fini, so a failing test leaves nothing behind.
*/
#include "procutil.h"
#include "testutil.h"

#define S_NODES     3
#define S_MAX_PROCS 256
#define S_DEADLINE  15000  //  ms for any one thing to happen
#define S_TOOL      MESHQ_BINARY_DIR "/tools/meshq"

//  The tutorial's names.
#define S_USER  "--user", "my_user", "--password", "my_password"
#define S_VHOST "-p", "my_vhost"
#define S_AS_MY_USER                                                           \
    "--vhost", "my_vhost", "--user", "my_user", "--password", "my_password"

static char s_dir[256];                   //  Temporary directory.
static char s_mesh[64];                   //  The mesh's name, this run's own.
static procutil_node_t s_nodes[S_NODES];  //  The agents.
static procutil_prog_t *s_procs[S_MAX_PROCS];  //  Programs started, not freed.
static int s_nprocs;                           //  How many.

static void
s_setup (void)
{
    procutil_mesh_dir ("tutorial", s_dir, sizeof s_dir, s_mesh, sizeof s_mesh);
    for (int i = 0; i < S_NODES; i++) {
        procutil_node_init (&s_nodes[i], s_dir, i, testutil_free_port ());
        cr_assert_gt (s_nodes[i].port, 0);
    }
}

static void
s_teardown (void)
{
    for (int i = 0; i < s_nprocs; i++)
        procutil_prog_destroy (&s_procs[i]);
    s_nprocs = 0;
    for (int i = 0; i < S_NODES; i++)
        if (s_nodes[i].pid)
            procutil_kill (s_nodes[i].pid, SIGTERM);
    if (getenv ("MESHQ_TEST_LOGS")) {
        char command[512];
        snprintf (command, sizeof command, "tail -n 40 %s/n*.log >&2", s_dir);
        cr_expect_eq (system (command), 0);
    }
    char command[512];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    cr_expect_eq (system (command), 0);
}

TestSuite (tutorial, .init = s_setup, .fini = s_teardown, .timeout = 60);

// --------------------------------------------------------------------
//  Agents

//  Starts agent i in mesh (this run's own if NULL), seeded with the
//  ports of the agents in [first, last], and waits until it answers.
static void
s_start_agent (int i, const char *mesh, int first, int last)
{
    char seeds[512] = "";
    for (int j = first; j <= last; j++)
        if (j != i)
            snprintf (seeds + strlen (seeds), sizeof seeds - strlen (seeds),
                      "%stcp://127.0.0.1:%d", *seeds ? "," : "",
                      s_nodes[j].port);
    procutil_node_start (&s_nodes[i], s_dir, mesh ? mesh : s_mesh, seeds, NULL,
                         (const char *[]){"--no-beacon", NULL});
}

// --------------------------------------------------------------------
//  Programs

//  Starts the program args[0] (a path) with the rest of the NULL-
//  terminated args; input, if any, is its standard input.
static procutil_prog_t *
s_spawn (const char *const *args, const char *input)
{
    cr_assert_lt (s_nprocs, S_MAX_PROCS);
    procutil_prog_t *proc = procutil_prog_new (args, input, S_DEADLINE);
    s_procs[s_nprocs++] = proc;
    return proc;
}

//  Frees a program that was reaped (so that polling does not fill the
//  table).
static void
s_forget (procutil_prog_t *proc)
{
    for (int i = 0; i < s_nprocs; i++)
        if (s_procs[i] == proc) {
            procutil_prog_destroy (&s_procs[i]);
            s_procs[i] = s_procs[--s_nprocs];
            return;
        }
}

//  Starts `meshq --agent NODE ARGS...` with input on its standard input.
static procutil_prog_t *
s_meshq (int node, const char *input, const char *const *args)
{
    const char *argv[40] = {S_TOOL, "--agent", s_nodes[node].control};
    int argc = 3;
    for (int i = 0; args[i]; i++) {
        cr_assert_lt (argc, 39);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    return s_spawn (argv, input);
}

//  Starts examples/PROGRAM --agent NODE ARGS...
static procutil_prog_t *
s_example (int node, const char *program, const char *const *args)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/examples/%s", MESHQ_BINARY_DIR, program);
    const char *argv[40] = {path, "--agent", s_nodes[node].control};
    int argc = 3;
    for (int i = 0; args[i]; i++) {
        cr_assert_lt (argc, 39);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    return s_spawn (argv, NULL);
}

#define S_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

//  Runs meshq on a node and checks its exit code; returns it (with
//  its output) for more checks.
#define S_MESHQ(node, code, ...)                                               \
    procutil_prog_expect_exit (s_meshq (node, NULL, S_ARGS (__VA_ARGS__)), code)

//  Starts an example on a node.
#define S_EXAMPLE(node, program, ...)                                          \
    s_example (node, program, S_ARGS (__VA_ARGS__))

//  Runs meshq on a node again and again until it succeeds and prints
//  text: what node 1 did has reached this node.
static void
s_until (int node, const char *text, const char *const *args)
{
    int64_t deadline = zclock_mono () + S_DEADLINE;
    while (true) {
        procutil_prog_t *proc = s_meshq (node, NULL, args);
        int code = procutil_prog_exit_code (proc);
        if (code == 0 && strstr (proc->output, text)) {
            s_forget (proc);
            return;
        }
        cr_assert_lt (zclock_mono (), deadline,
                      "%s never printed \"%s\"; it last printed:\n%s",
                      proc->name, text, proc->output);
        s_forget (proc);
        zclock_sleep (50);
    }
}

#define S_UNTIL(node, text, ...) s_until (node, text, S_ARGS (__VA_ARGS__))

//  Starts agents first to last, seeded with each other, and waits
//  until each sees the others in the default vhost.
static void
s_start_mesh (int first, int last)
{
    for (int i = first; i <= last; i++)
        s_start_agent (i, NULL, first, last);
    char peers[32];
    snprintf (peers, sizeof peers, "\"peers\":%d", last - first);
    for (int i = first; i <= last; i++)
        S_UNTIL (i, peers, "status", "--json");
}

//  Steps 2 to 4 on node 1: the vhost, the user (password on standard
//  input), the user's rights.
static void
s_vhost_and_user (void)
{
    procutil_prog_t *proc = S_MESHQ (0, 0, "add_vhost", "my_vhost");
    cr_expect (strstr (proc->output, "add_vhost: done"), "%s", proc->output);
    proc = procutil_prog_expect_exit (
        s_meshq (0, "my_password\n", S_ARGS ("add_user", "my_user")), 0);
    cr_expect (strstr (proc->output, "add_user: done"), "%s", proc->output);
    proc = S_MESHQ (0, 0, "set_permissions", "-p", "my_vhost", "my_user", ".*",
                    ".*", ".*");
    cr_expect (strstr (proc->output, "set_permissions: done"), "%s",
               proc->output);
}

// --------------------------------------------------------------------
//  The suite's agents

//  The ports the suite gave its agents are theirs from the start: no
//  other socket may take one before its agent binds it (when another
//  suite's agent, asking the kernel for any port, got one first, the
//  agent here could not start), and the agents still bind them.
Test (tutorial, each_agent_keeps_its_port_until_it_binds_it)
{
    for (int i = 0; i < S_NODES; i++) {
        for (int j = 0; j < i; j++)
            cr_expect_neq (s_nodes[i].port, s_nodes[j].port);
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq (fd, 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port =
                                          htons ((uint16_t)s_nodes[i].port)};
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        int rc = bind (fd, (struct sockaddr *)&address, sizeof address);
        int error = errno;
        close (fd);
        cr_expect (rc == -1 && error == EADDRINUSE,
                   "%s's port %d was free for anyone before it started",
                   s_nodes[i].name, s_nodes[i].port);
    }
    s_start_mesh (0, 2);
}

//  An agent that cannot start (here n2, on n1's port) is reported with
//  how it exited and the end of its log, its own words: the log goes
//  with the suite's directory.
Test (tutorial, an_agent_that_cannot_start_is_reported_with_its_log)
{
    s_start_agent (0, NULL, 0, 0);
    char agent[1024], data[300], port[16], why[4096];
    snprintf (agent, sizeof agent, "%s/agents/meshq-agent", MESHQ_BINARY_DIR);
    snprintf (data, sizeof data, "%s/n2", s_dir);
    snprintf (port, sizeof port, "%d", s_nodes[0].port);
    char *argv[] = {
        agent,    "--name",      "n2",        "--data",           data,
        "--mesh", s_mesh,        "--control", s_nodes[1].control, "--port",
        port,     "--no-beacon", NULL};
    pid_t pid = procutil_agent_try (argv, s_nodes[1].log, s_nodes[1].control,
                                    why, sizeof why);
    cr_assert_eq (pid, -1, "n2 started on n1's port");
    cr_expect (strstr (why, "meshq-agent exited with code 69 at start"), "%s",
               why);
    cr_expect (strstr (why, "cannot bind the mesh endpoint"), "%s", why);
}

// --------------------------------------------------------------------
//  "Hello World!", every step

Test (tutorial, every_step_holds_across_the_mesh)
{
    s_start_mesh (0, 1);
    s_vhost_and_user ();
    //  The records reach node 2: my_user logs in there, in my_vhost.
    S_UNTIL (1, "\"vhost\":\"my_vhost\"", S_VHOST, S_USER, "status", "--json");
    S_UNTIL (1, "my_vhost", "list_vhosts");
    S_UNTIL (1, "my_user\t.*\t.*\t.*", "list_permissions", "-p", "my_vhost");

    //  5 and 6: a durable queue, an exchange, a binding, on node 1.
    procutil_prog_t *proc = S_MESHQ (0, 0, S_VHOST, S_USER, "declare_queue",
                                     "my_queue", "--durable", "true");
    cr_expect (strstr (proc->output, "queue declared: my_queue"), "%s",
               proc->output);
    proc = S_MESHQ (0, 0, S_VHOST, S_USER, "declare_exchange", "my_exchange",
                    "direct");
    cr_expect (strstr (proc->output, "exchange declared: my_exchange (direct)"),
               "%s", proc->output);
    proc = S_MESHQ (0, 0, S_VHOST, S_USER, "bind_queue", "my_queue",
                    "my_exchange", "my_routing_key");
    cr_expect (strstr (proc->output,
                       "bound: my_exchange -> my_queue (my_routing_key)"),
               "%s", proc->output);
    //  Node 2 knows them, and its agent of my_vhost has met node 1's.
    S_UNTIL (1, "\"name\":\"my_queue\"", S_VHOST, S_USER, "list_queues",
             "--json");
    S_UNTIL (1, "my_exchange\tmy_queue\tmy_routing_key", S_VHOST, S_USER,
             "list_bindings");
    S_UNTIL (1, "\"name\":\"n1\",\"state\":\"up\"", S_VHOST, S_USER,
             "list_peers", "--json");

    //  7 and 8: send on node 1, receive on node 2. The second message
    //  goes through my_exchange and the binding made on node 1.
    proc = procutil_prog_expect_exit (S_EXAMPLE (0, "send", S_AS_MY_USER), 0);
    cr_expect (strstr (proc->output, " [x] Sent 'Hello World!'"), "%s",
               proc->output);
    proc = S_MESHQ (0, 0, S_VHOST, S_USER, "publish", "--exchange",
                    "my_exchange", "--routing-key", "my_routing_key",
                    "Hello through my_exchange!");
    procutil_prog_t *receive =
        S_EXAMPLE (1, "receive", S_AS_MY_USER, "--count", "2");
    procutil_prog_expect_exit (receive, 0);
    cr_expect_eq (
        procutil_prog_count (receive, " [x] Received 'Hello World!'\n"), 1,
        "%s", receive->output);
    cr_expect_eq (procutil_prog_count (
                      receive, " [x] Received 'Hello through my_exchange!'\n"),
                  1, "%s", receive->output);
    //  The tool's own producer and consumer, the same way.
    S_MESHQ (0, 0, S_VHOST, S_USER, "publish", "--exchange", "my_exchange",
             "--routing-key", "my_routing_key", "Hello World!");
    proc =
        S_MESHQ (1, 0, S_VHOST, S_USER, "consume", "my_queue", "--count", "1");
    cr_expect_str_eq (proc->output, "Hello World!\n");
    //  Delivered once: node 1 holds none of them any more.
    S_UNTIL (0,
             "\"name\":\"my_queue\",\"node\":\"n1\",\"messages_ready\":0,"
             "\"mesh_ready\":0,\"messages_unacknowledged\":0",
             S_VHOST, S_USER, "list_queues", "--local", "--json");
    //  Nothing of it leaked into '/'.
    proc = S_MESHQ (1, 0, "list_queues", "--json");
    cr_expect (!strstr (proc->output, "my_queue"), "%s", proc->output);
}

Test (tutorial, a_password_on_the_command_line_works_too)
{
    s_start_mesh (0, 1);
    S_MESHQ (0, 0, "add_vhost", "my_vhost");
    procutil_prog_t *proc =
        S_MESHQ (0, 0, "add_user", "my_user", "my_password");
    cr_expect (strstr (proc->output, "add_user: done"), "%s", proc->output);
    S_MESHQ (0, 0, "set_permissions", "-p", "my_vhost", "my_user", ".*", ".*",
             ".*");
    S_UNTIL (1, "\"vhost\":\"my_vhost\"", S_VHOST, S_USER, "status", "--json");
    //  And change_password reaches node 2 as well.
    procutil_prog_expect_exit (
        s_meshq (0, "new_password\n", S_ARGS ("change_password", "my_user")),
        0);
    S_UNTIL (1, "\"vhost\":\"my_vhost\"", S_VHOST, "--user", "my_user",
             "--password", "new_password", "status", "--json");
    proc = S_MESHQ (1, 1, S_VHOST, S_USER, "status");
    cr_expect (strstr (proc->output, "wrong user or password"), "%s",
               proc->output);
}

// --------------------------------------------------------------------
//  Work queues, workers on every node

Test (tutorial, workers_on_every_node_share_the_tasks)
{
    s_start_mesh (0, 2);
    s_vhost_and_user ();
    for (int i = 1; i < 3; i++)
        S_UNTIL (i, "\"peers\":2", S_VHOST, S_USER, "status", "--json");
    procutil_prog_t *workers[3];
    for (int i = 0; i < 3; i++) {
        workers[i] = S_EXAMPLE (i, "worker", S_AS_MY_USER);
        procutil_prog_expect (workers[i], "Waiting for messages");
    }
    //  Each task is a second of work (one dot); a worker takes one at a
    //  time, so with three waiting the tasks spread over the nodes.
    enum { TASKS = 6 };
    char tasks[TASKS][32];
    for (int t = 0; t < TASKS; t++) {
        snprintf (tasks[t], sizeof tasks[t], "Task %d.", t + 1);
        procutil_prog_t *proc = procutil_prog_expect_exit (
            S_EXAMPLE (0, "new_task", S_AS_MY_USER, tasks[t]), 0);
        char sent[256];
        snprintf (sent, sizeof sent, " [x] Sent '%s'", tasks[t]);
        cr_expect (strstr (proc->output, sent), "%s", proc->output);
    }
    int64_t deadline = zclock_mono () + S_DEADLINE;
    int done = 0;
    while ((done = procutil_prog_count (workers[0], "[x] Done") +
                   procutil_prog_count (workers[1], "[x] Done") +
                   procutil_prog_count (workers[2], "[x] Done")) < TASKS) {
        for (int i = 0; i < 3; i++)
            procutil_prog_read (workers[i], zclock_mono () + 50);
        cr_assert_lt (zclock_mono (), deadline,
                      "%d tasks of %d done; the workers printed:\n%s\n%s\n%s",
                      done, TASKS, workers[0]->output, workers[1]->output,
                      workers[2]->output);
    }
    for (int t = 0; t < TASKS; t++) {
        char received[256];
        snprintf (received, sizeof received, "Received '%s'", tasks[t]);
        int times = 0;
        for (int i = 0; i < 3; i++)
            times += procutil_prog_count (workers[i], received);
        cr_expect_eq (times, 1, "%s done %d times:\n%s\n%s\n%s", tasks[t],
                      times, workers[0]->output, workers[1]->output,
                      workers[2]->output);
    }
    //  The workers on nodes 2 and 3 took from node 1, the origin.
    for (int i = 0; i < 3; i++)
        cr_expect_geq (procutil_prog_count (workers[i], "[x] Done"), 1,
                       "the worker on n%d did nothing:\n%s", i + 1,
                       workers[i]->output);
    S_UNTIL (0,
             "\"name\":\"task_queue\",\"node\":\"n1\",\"messages_ready\":0,"
             "\"mesh_ready\":0,\"messages_unacknowledged\":0",
             S_VHOST, S_USER, "list_queues", "--local", "--json");
    for (int i = 0; i < 3; i++) {
        kill (workers[i]->pid, SIGTERM);
        procutil_prog_expect_exit (workers[i], 0);
    }
}

// --------------------------------------------------------------------
//  Vhosts and meshes

//  The value of "key":"..." in a JSON line the tool printed.
static void
s_json_string (const procutil_prog_t *proc, const char *key, char *out,
               size_t size)
{
    char pattern[64];
    snprintf (pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = strstr (proc->output, pattern);
    cr_assert_not_null (at, "no %s in:\n%s", key, proc->output);
    at += strlen (pattern);
    size_t length = strcspn (at, "\"");
    cr_assert_lt (length, size);
    memcpy (out, at, length);
    out[length] = 0;
}

//  Waits until node's log says it refused a HELLO of another mesh or
//  vhost from the node whose id is hex.
static void
s_wait_refused (int node, const char *hex)
{
    char line[128];
    snprintf (line, sizeof line, "frame dropped from=%s reason=mesh", hex);
    int64_t deadline = zclock_mono () + S_DEADLINE;
    while (true) {
        FILE *file = fopen (s_nodes[node].log, "r");
        cr_assert_not_null (file);
        char text[512];
        bool found = false;
        while (!found && fgets (text, sizeof text, file))
            found = strstr (text, line) != NULL;
        fclose (file);
        if (found)
            return;
        cr_assert_lt (zclock_mono (), deadline,
                      "%s never refused a HELLO from %s", s_nodes[node].name,
                      hex);
        zclock_sleep (50);
    }
}

Test (tutorial, each_vhost_and_each_mesh_keeps_to_itself)
{
    //  Nodes 1 and 2 form the mesh; node 3 belongs to another mesh and
    //  knocks at both (they are its seeds). It has a my_vhost and a
    //  my_user of its own.
    s_start_mesh (0, 1);
    s_start_agent (2, "another-mesh", 0, 1);
    s_vhost_and_user ();
    S_MESHQ (2, 0, "add_vhost", "my_vhost");
    S_MESHQ (2, 0, "add_user", "my_user", "my_password");
    S_MESHQ (2, 0, "set_permissions", "-p", "my_vhost", "my_user", ".*", ".*",
             ".*");
    S_UNTIL (0, "\"peers\":1", S_VHOST, S_USER, "status", "--json");
    S_UNTIL (1, "\"peers\":1", S_VHOST, S_USER, "status", "--json");

    //  Each vhost of a node listens on an endpoint of its own, and its
    //  peers are the other nodes' agents of that vhost.
    char root[128], vhost[128], seen[128], hex[64];
    s_json_string (S_MESHQ (1, 0, "status", "--json"), "endpoint", root,
                   sizeof root);
    s_json_string (S_MESHQ (1, 0, S_VHOST, S_USER, "status", "--json"),
                   "endpoint", vhost, sizeof vhost);
    cr_expect_str_neq (root, vhost);
    procutil_prog_t *proc =
        S_MESHQ (0, 0, S_VHOST, S_USER, "list_peers", "--json");
    s_json_string (proc, "endpoint", seen, sizeof seen);
    cr_expect_str_eq (seen, vhost,
                      "n1 meets n2's my_vhost at its own "
                      "endpoint");

    //  Node 3's HELLOs reach node 1 and are refused: it shows in no
    //  list, and sees nobody.
    s_json_string (S_MESHQ (2, 0, "status", "--json"), "node", hex, sizeof hex);
    s_wait_refused (0, hex);
    for (int i = 0; i < 2; i++) {
        proc = S_MESHQ (i, 0, "list_peers", "--json");
        cr_expect (!strstr (proc->output, hex) &&
                       !strstr (proc->output, "\"n3\""),
                   "%s", proc->output);
        proc = S_MESHQ (i, 0, S_VHOST, S_USER, "list_peers", "--json");
        cr_expect (!strstr (proc->output, hex), "%s", proc->output);
    }
    proc = S_MESHQ (2, 0, "list_peers", "--json");
    cr_expect_str_eq (proc->output, "[]\n");
    proc = S_MESHQ (2, 0, S_VHOST, S_USER, "list_peers", "--json");
    cr_expect_str_eq (proc->output, "[]\n");
}

// --------------------------------------------------------------------
//  Refusals

Test (tutorial, refusals_say_why_and_exit_non_zero)
{
    s_start_mesh (0, 1);
    S_MESHQ (0, 0, "add_vhost", "my_vhost");
    S_MESHQ (0, 0, "add_user", "my_user", "my_password");
    //  Node 2 knows my_user once list_users there says so.
    S_UNTIL (1, "my_user", "list_users");
    S_UNTIL (1, "my_vhost", "list_vhosts");

    //  A wrong password, and a user nobody added.
    procutil_prog_t *proc = S_MESHQ (1, 1, S_VHOST, "--user", "my_user",
                                     "--password", "wrong", "status");
    cr_expect (strstr (proc->output, "meshq: connect: login refused by the "
                                     "agent at ") &&
                   strstr (proc->output, "for user 'my_user': wrong user or "
                                         "password"),
               "%s", proc->output);
    proc = S_MESHQ (1, 1, S_VHOST, "--user", "nobody", "--password", "x",
                    "declare_queue", "my_queue");
    cr_expect (strstr (proc->output, "for user 'nobody': wrong user or "
                                     "password"),
               "%s", proc->output);
    //  The right password, no rights on the vhost yet.
    proc = S_MESHQ (1, 1, S_VHOST, S_USER, "declare_queue", "my_queue");
    cr_expect (strstr (proc->output,
                       "meshq: connect: user 'my_user' has no access to vhost "
                       "'my_vhost' (meshq set_permissions -p 'my_vhost' "
                       "'my_user' ...)"),
               "%s", proc->output);
    //  A vhost that does not exist.
    proc = S_MESHQ (1, 1, "-p", "nowhere", "status");
    cr_expect (strstr (proc->output, "no vhost 'nowhere' on this agent"), "%s",
               proc->output);
    //  Rights on queues named only.*: another name is refused.
    S_MESHQ (0, 0, "set_permissions", "-p", "my_vhost", "my_user", "^only\\.",
             ".*", ".*");
    S_UNTIL (1, "\"vhost\":\"my_vhost\"", S_VHOST, S_USER, "status", "--json");
    proc = S_MESHQ (1, 1, S_VHOST, S_USER, "declare_queue", "my_queue");
    cr_expect (strstr (proc->output,
                       "meshq: declare_queue: access to queue 'my_queue' in "
                       "vhost 'my_vhost' refused for user 'my_user' (needs "
                       "configure permission)"),
               "%s", proc->output);
    S_MESHQ (1, 0, S_VHOST, S_USER, "declare_queue", "only.mine");
    //  Administration needs the administrator tag.
    S_MESHQ (0, 0, "set_permissions", "my_user", ".*", ".*", ".*");
    S_UNTIL (1, "\"vhost\":\"/\"", S_USER, "status", "--json");
    proc = S_MESHQ (1, 1, S_USER, "add_vhost", "mine");
    cr_expect (strstr (proc->output, "meshq: add_vhost: user 'my_user' may "
                                     "not do this: it needs the administrator "
                                     "tag (meshq set_user_tags)"),
               "%s", proc->output);
    //  With the tag it may, on the node that gave it as on the other.
    S_MESHQ (0, 0, "set_user_tags", "my_user", "administrator");
    S_UNTIL (1, "my_user\tadministrator", "list_users");
    S_MESHQ (0, 0, S_USER, "add_vhost", "mine");
    S_UNTIL (1, "mine", "list_vhosts");
    S_MESHQ (1, 0, S_USER, "delete_vhost", "mine");
    //  The examples refuse the same way.
    proc = procutil_prog_expect_exit (
        S_EXAMPLE (1, "receive", "--vhost", "my_vhost", "--user", "my_user",
                   "--password", "wrong", "--count", "1"),
        1);
    cr_expect (strstr (proc->output, "connect: login refused"), "%s",
               proc->output);
    //  A bad command line is 64, as rabbitmqctl's.
    S_MESHQ (0, 64, "add_user");
    S_MESHQ (0, 64, "no_such_verb");
}

Test (tutorial, a_vhost_mesh_heals_after_its_agents_lost_each_other)
{
    s_start_mesh (0, 1);
    s_vhost_and_user ();
    S_UNTIL (0, "\"peers\":1", S_VHOST, S_USER, "status", "--json");
    S_UNTIL (1, "\"peers\":1", S_VHOST, S_USER, "status", "--json");
    //  Both agents stop for longer than the peer timeout (1 s): when
    //  they go on, each counts the other down, in both meshes, before
    //  it hears from it. The default vhost's mesh meets again through
    //  the seeds; my_vhost's must follow it.
    cr_assert (procutil_stop (s_nodes[0].pid));
    cr_assert (procutil_stop (s_nodes[1].pid));
    zclock_sleep (1500);  //  The fault's length, not a wait for an event.
    kill (s_nodes[0].pid, SIGCONT);
    kill (s_nodes[1].pid, SIGCONT);
    for (int i = 0; i < 2; i++) {
        S_UNTIL (i, "\"state\":\"up\"", "list_peers", "--json");
        S_UNTIL (i, "\"state\":\"up\"", S_VHOST, S_USER, "list_peers",
                 "--json");
    }
    //  And a message crosses again.
    procutil_prog_expect_exit (S_EXAMPLE (0, "send", S_AS_MY_USER), 0);
    procutil_prog_t *receive =
        S_EXAMPLE (1, "receive", S_AS_MY_USER, "--count", "1");
    procutil_prog_expect_exit (receive, 0);
    cr_expect (strstr (receive->output, " [x] Received 'Hello World!'"), "%s",
               receive->output);
}

Test (tutorial, logs_and_rpc_answers_cross_agents)
{
    s_start_mesh (0, 1);
    s_vhost_and_user ();
    S_UNTIL (1, "\"peers\":1", S_VHOST, S_USER, "status", "--json");
    //  A subscriber on n2 with a queue of its own (exclusive, named by the
    //  agent); a publisher on n1 reaches it once n1 knows its binding.
    procutil_prog_t *logs = S_EXAMPLE (1, "receive_logs", S_AS_MY_USER);
    procutil_prog_expect (logs, "Waiting for logs");
    S_UNTIL (0, "\"source\":\"logs\"", S_VHOST, S_USER, "list_bindings",
             "--json");
    procutil_prog_expect_exit (
        S_EXAMPLE (0, "emit_log", S_AS_MY_USER, "info: across"), 0);
    procutil_prog_expect (logs, " [x] info: across");
    //  RPC: the server on n1, the client on n2 with its reply queue there.
    procutil_prog_t *server = S_EXAMPLE (0, "rpc_server", S_AS_MY_USER);
    procutil_prog_expect (server, "Awaiting RPC requests");
    procutil_prog_t *client = procutil_prog_expect_exit (
        S_EXAMPLE (1, "rpc_client", S_AS_MY_USER, "10"), 0);
    cr_expect (strstr (client->output, " [.] Got 55"), "%s", client->output);
    kill (logs->pid, SIGTERM);
    procutil_prog_expect_exit (logs, 0);
    kill (server->pid, SIGTERM);
    procutil_prog_expect_exit (server, 0);
}
