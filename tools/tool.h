/*  tool.h - what the meshq command's verbs share.

    Each verb is a function taking the arguments after its name, with
    the global options already read into meshq_tool_t. Exit codes follow
    sysexits(3), as rabbitmqctl's do (docs/OPERATIONS.md).
*/
#ifndef MESHQ_TOOL_H_INCLUDED
#define MESHQ_TOOL_H_INCLUDED

#include "meshq.h"

#include <stdbool.h>
#include <stdint.h>

#define MESHQ_EXIT_OK          0   //  Done.
#define MESHQ_EXIT_REFUSED     1   //  The agent refused the request.
#define MESHQ_EXIT_USAGE       64  //  Bad command line (EX_USAGE).
#define MESHQ_EXIT_DATAERR     65  //  Bad input data (EX_DATAERR).
#define MESHQ_EXIT_UNAVAILABLE 69  //  No agent answers (EX_UNAVAILABLE).
#define MESHQ_EXIT_SOFTWARE    70  //  Internal failure (EX_SOFTWARE).
#define MESHQ_EXIT_TEMPFAIL    75  //  Timed out (EX_TEMPFAIL).

typedef struct {
    const char *agent;     //  --agent, or $MESHQ_AGENT, or NULL (default).
    const char *user;      //  --user.
    const char *password;  //  --password.
    bool json;             //  --json.
    int timeout_ms;        //  --timeout (seconds on the command line).
    const char *vhost;     //  -p / --vhost, as rabbitmqctl's -p.
} meshq_tool_t;

//  Connects a client to tool->vhost; on failure prints why and returns
//  NULL with *exit set.
meshq_client_t *meshq_tool_connect (const meshq_tool_t *tool, int *exit);

//  Connects to the default vhost "/", where users, permissions and
//  vhosts are administered, whatever -p names.
meshq_client_t *meshq_tool_connect_admin (const meshq_tool_t *tool, int *exit);

//  Prints a failed call ("meshq: VERB: reason") and returns its exit
//  code.
int meshq_tool_fail (const char *verb, meshq_client_t *client, int rc);

//  Prints a usage error and returns MESHQ_EXIT_USAGE.
int meshq_tool_usage (const char *verb, const char *usage);

//  Reads a size option ("64K", "1G": size.h) of at most max bytes into
//  *out; else prints a refusal naming the option and the value and
//  returns MESHQ_EXIT_USAGE.
int meshq_tool_size (const char *verb, const char *option, const char *value,
                     uint64_t max, uint64_t *out);

//  Reads a whole-number option in min..max into *out; else prints a
//  refusal naming the option and the value and returns
//  MESHQ_EXIT_USAGE.
int meshq_tool_number (const char *verb, const char *option, const char *value,
                       int64_t min, int64_t max, int64_t *out);

//  A boolean option: bare (true), as --NAME=VALUE (value, else NULL),
//  or followed by true or false (next, the argument after it, or NULL).
//  Sets *out and returns how many following arguments it took (0 or 1);
//  a bad value is refused, naming the option: then -1.
int meshq_tool_bool (const char *verb, const char *option, const char *value,
                     const char *next, bool *out);

//  Whether argv[*i] is the boolean option (as "--NAME" or
//  "--NAME=VALUE"); if so reads it into *out with meshq_tool_bool, moving
//  *i past a value it took. Returns 1 if it was, 0 if not, -1 after a
//  refusal.
int meshq_tool_flag (const char *verb, int argc, char **argv, int *i,
                     const char *option, bool *out);

//  The columns of table to print, by name (names, count of them), or
//  if count is 0 those it shows by default (all of them if all): their
//  indexes into columns (room for count, or for all the table's).
//  Returns how many, or -1 after printing a refusal naming the column
//  unknown.
int meshq_tool_columns (const char *verb, const meshq_table_t *table,
                        char **names, int count, bool all, int *columns);

//  Prints the columns of table: tab-separated with a header line, or
//  with json one array of objects.
void meshq_tool_print_table (const meshq_table_t *table, const int *columns,
                             int count, bool json);

//  Verbs. Each returns an exit code.
int meshq_tool_status (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_declare_queue (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_delete_queue (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_purge_queue (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_declare_exchange (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_delete_exchange (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_bind_queue (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_unbind_queue (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_list (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_publish (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_consume (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_bench (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_users (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_ping (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_check_alarms (meshq_tool_t *tool, int argc, char **argv);
int meshq_tool_check_port_connectivity (meshq_tool_t *tool, int argc,
                                        char **argv);

#endif
