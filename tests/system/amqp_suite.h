/*  amqp_suite.h - what the AMQP system suites share: agent processes
    with an AMQP port each, pika programs (amqp_clients.py) and the meshq
    tool run against them, and their cleanup.

    Whatever a test starts is killed, and its directory removed, in the
    suite's fini.
*/
#ifndef MESHQ_AMQP_SUITE_H_INCLUDED
#define MESHQ_AMQP_SUITE_H_INCLUDED

#include "amqputil.h"
#include "procutil.h"
#include "testutil.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <dirent.h>

#define S_NODES     3
#define S_MAX_PROCS 64
#define S_DEADLINE  30000  //  ms for any one program
#define S_TOOL      MESHQ_BINARY_DIR "/tools/meshq"
#define S_PYTHON    "/usr/bin/python3"

static char s_dir[256];                        //  Temporary directory.
static char s_mesh[64];                        //  This run's own mesh name.
static procutil_node_t s_nodes[S_NODES];       //  The agents.
static int s_amqp[S_NODES];                    //  Their AMQP ports.
static procutil_prog_t *s_procs[S_MAX_PROCS];  //  Programs started.
static int s_nprocs;

static inline void
s_setup (void)
{
    procutil_mesh_dir ("amqp", s_dir, sizeof s_dir, s_mesh, sizeof s_mesh);
    for (int i = 0; i < S_NODES; i++) {
        procutil_node_init (&s_nodes[i], s_dir, i, testutil_free_port ());
        s_amqp[i] = testutil_free_port ();
        cr_assert_gt (s_nodes[i].port, 0);
        cr_assert_gt (s_amqp[i], 0);
    }
}

static inline void
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

TestSuite (amqp, .init = s_setup, .fini = s_teardown, .timeout = 120);

//  True if pika can be imported (the Makefile installs python3-pika).
static inline bool
s_have_pika (void)
{
    return system (S_PYTHON " -c 'import pika' 2>/dev/null") == 0;
}

#define S_NEED_PIKA()                                                          \
    do {                                                                       \
        if (!s_have_pika ())                                                   \
            cr_skip_test ("python3-pika is not installed (make deps)");        \
    } while (0)

// --------------------------------------------------------------------
//  Agents and programs

//  Starts agent i in this run's mesh, seeded with the others in
//  [first, last], its AMQP port its own.
static inline void
s_start_agent (int i, int first, int last)
{
    char seeds[512] = "";
    for (int j = first; j <= last; j++)
        if (j != i)
            snprintf (seeds + strlen (seeds), sizeof seeds - strlen (seeds),
                      "%stcp://127.0.0.1:%d", *seeds ? "," : "",
                      s_nodes[j].port);
    char amqp[64];
    snprintf (amqp, sizeof amqp, "127.0.0.1:%d", s_amqp[i]);
    procutil_node_start (&s_nodes[i], s_dir, s_mesh, seeds, NULL,
                         (const char *[]){"--no-beacon", "--amqp", amqp, NULL});
}

static inline procutil_prog_t *
s_spawn (const char *const *argv, const char *input)
{
    cr_assert_lt (s_nprocs, S_MAX_PROCS);
    procutil_prog_t *proc = procutil_prog_new (argv, input, S_DEADLINE);
    s_procs[s_nprocs++] = proc;
    return proc;
}

//  Starts amqp_clients.py PROGRAM against node's AMQP port, with args.
static inline procutil_prog_t *
s_pika (int node, const char *program, const char *const *args)
{
    char script[1024], port[16];
    snprintf (script, sizeof script, "%s/system/amqp_clients.py",
              MESHQ_TEST_SOURCE_DIR);
    snprintf (port, sizeof port, "%d", s_amqp[node]);
    const char *argv[24] = {S_PYTHON, script, program, port};
    int argc = 4;
    for (int i = 0; args && args[i]; i++) {
        cr_assert_lt (argc, 23);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    return s_spawn (argv, NULL);
}

#define S_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

//  Runs a pika program to its end and expects it to succeed.
static inline procutil_prog_t *
s_pika_ok (int node, const char *program, const char *const *args)
{
    procutil_prog_t *proc = s_pika (node, program, args);
    int code = procutil_prog_exit_code (proc);
    cr_assert_eq (code, 0, "%s exited %d:\n%s", proc->name, code, proc->output);
    return proc;
}

//  Runs meshq on node 0 with args; expects exit code 0.
static inline void
s_meshq (const char *input, const char *const *args)
{
    const char *argv[32] = {S_TOOL, "--agent", s_nodes[0].control};
    int argc = 3;
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    procutil_prog_t *proc = s_spawn (argv, input);
    int code = procutil_prog_exit_code (proc);
    cr_assert_eq (code, 0, "%s exited %d:\n%s", proc->name, code, proc->output);
}

//  Starts nodes 0 and 1 seeded with each other.
static inline void
s_two_agents (void)
{
    s_start_agent (0, 0, 1);
    s_start_agent (1, 0, 1);
}

//  A consumer on node 1 that says "ready", then the producer on node 0.
static inline void
s_pair (const char *receiver, const char *const *receiver_args,
        const char *sender, const char *const *sender_args,
        const char *received)
{
    procutil_prog_t *consumer = s_pika (1, receiver, receiver_args);
    procutil_prog_expect (consumer, "ready");
    s_pika_ok (0, sender, sender_args);
    procutil_prog_expect (consumer, received);
    cr_assert_eq (procutil_prog_exit_code (consumer), 0, "%s",
                  consumer->output);
}

static inline void
s_check_reply (amqp_rpc_reply_t reply, const char *what)
{
    cr_assert_eq (reply.reply_type, AMQP_RESPONSE_NORMAL, "%s failed (%d)",
                  what, reply.reply_type);
}

#endif
