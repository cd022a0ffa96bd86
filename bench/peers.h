/*  peers.h - the processes a bench starts and stops: a meshq-agent of a
    build tree, and the lifecycle pieces of a peer server (RabbitMQ,
    nats-server) run beside it.

    A bench that compares meshq with another broker starts a meshq-agent
    on a scratch store (meshq_bench_agent_start), runs `meshq bench
    --json` of the same build against it (meshq_bench_agent_bench), and
    starts the other server on a free loopback port with its log in a
    scratch directory (meshq_bench_spawn, meshq_bench_listening). What it
    started is stopped when it exits, fails or is interrupted: it names
    one cleanup function in meshq_bench_cleanup_on_exit.
*/
#ifndef MESHQ_BENCH_PEERS_H_INCLUDED
#define MESHQ_BENCH_PEERS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

//  A meshq-agent process of one build tree, on a scratch store.
typedef struct {
    const char *build;   //  Build tree: agents/meshq-agent, tools/meshq.
    const char *name;    //  Agent name, and the prefix of its directory.
    int amqp_port;       //  AMQP front door on 127.0.0.1, or 0: none.
    pid_t pid;           //  The agent, or 0.
    char dir[256];       //  Scratch directory (store, socket, log).
    char endpoint[300];  //  Its ipc:// endpoint.
} meshq_bench_agent_t;

//  Starts the agent of self->build (with --amqp on self->amqp_port if
//  that is not 0) in a new directory under parent, and waits up to 10 s
//  until it answers. If the agent refuses --amqp (a build without the
//  AMQP front door), starts it without and sets amqp_port to 0. Returns
//  0, or -1 after printing why.
int meshq_bench_agent_start (meshq_bench_agent_t *self, const char *parent);

//  Stops the agent ($TERM, waited for) and removes its directory. Safe
//  to call twice and from a cleanup on a signal.
void meshq_bench_agent_stop (meshq_bench_agent_t *self);

//  Runs `meshq --agent ENDPOINT bench --json ARGS` of the agent's build
//  and keeps its standard output in output. Returns 0, or -1 after
//  printing the output when it exited non-zero or gave no consume_rate.
int meshq_bench_agent_bench (const meshq_bench_agent_t *self, const char *args,
                             char *output, size_t size);

//  The number after "key": in JSON text, or 0.
double meshq_bench_json_number (const char *text, const char *key);

//  Calls cleanup at exit and on SIGINT or SIGTERM (then exits 128 +
//  the signal), so that what a bench started never outlives it.
void meshq_bench_cleanup_on_exit (void (*cleanup) (void));

//  A TCP port in 20000..31999 that nothing is bound to, kept so by a
//  socket this process holds until it exits, which a listener with
//  SO_REUSEADDR can still bind (again, after a restart); -1 if none.
int meshq_bench_free_port (void);

//  Whether something accepts TCP connections on host:port now.
bool meshq_bench_listening (const char *host, int port);

//  Starts argv[0] with argv, its standard output and error appended to
//  log, standard input from /dev/null, $TERM when this process dies; in
//  its own process group if own_group (so that a Ctrl-C to the bench
//  reaches the bench only, which then stops it in order). If prepare is
//  not NULL, the child calls it with arg before it execs (to set its
//  environment). Returns the pid, or -1.
pid_t meshq_bench_spawn (char *const argv[], const char *log, bool own_group,
                         void (*prepare) (const void *arg), const void *arg);

//  Removes directory dir and everything in it, then empties dir. Does
//  nothing if dir is "".
void meshq_bench_remove_dir (char *dir);

//  A field of /proc/PID/status in kB ("VmRSS", "VmHWM"); 0 if unknown.
long meshq_bench_proc_kb (pid_t pid, const char *field);

//  CPU seconds (user + system) process pid has used so far; 0 if unknown.
double meshq_bench_proc_cpu_s (pid_t pid);

//  Resets the peak resident set (VmHWM) of process pid to its current
//  resident set, so that the next run's peak is its own.
void meshq_bench_reset_peak (pid_t pid);

//  The process among pid's descendants (and pid itself) with the largest
//  resident set: the Erlang VM under RabbitMQ's start script. 0 if none.
pid_t meshq_bench_largest_descendant (pid_t pid);

#endif
