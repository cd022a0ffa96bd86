/*  client_table.h - how the client makes the tables of meshq_admin.h:
    each list's request, the field of its reply, and its columns.
*/
#ifndef MESHQ_CLIENT_TABLE_H_INCLUDED
#define MESHQ_CLIENT_TABLE_H_INCLUDED

#include "args.h"
#include "meshq_admin.h"

//  A column: its name, the argument it shows, and how.
typedef struct {
    const char *name;  //  Column name (rabbitmqctl's where it has one).
    int arg;           //  meshq_arg_t.
    size_t offset;     //  Member in meshq_args_t.
    char kind;         //  's' span, 'u' uint64, 'b' bool, 't' ready +
                       //  unacked, 'B' their bytes, 'W' ready over
                       //  deliver rate, in ms.
    bool shown;        //  Shown when no columns are asked for.
} meshq_table_column_t;

//  A list: its name, the request, the reply's field and the columns.
typedef struct {
    const char *what;                     //  As meshq_client_list names it.
    const char *request;                  //  The request's verb.
    const char *field;                    //  The reply's list, NULL: one row.
    const meshq_table_column_t *columns;  //  Ends with a NULL name.
} meshq_table_list_t;

//  The list of this name, or NULL ("status" is one too; "local_queues"
//  is queues with MESHQ_LIST_LOCAL).
const meshq_table_list_t *meshq_table_list (const char *what);

//  A table of count rows in these columns; values are copied.
meshq_table_t *meshq_table_new (const meshq_table_column_t *columns,
                                const meshq_args_t *rows, size_t count);

//  Names the agents a mesh-wide list lacks (copied).
void meshq_table_set_unanswered (meshq_table_t *self, const char *unanswered);

#endif
