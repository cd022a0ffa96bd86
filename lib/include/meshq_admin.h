/*  meshq_admin.h - what an agent says of itself and of its mesh, and
    its administration: status, health, lists, users, permissions and
    virtual hosts. The meshq command is built on these calls alone.

    Every answer that has rows is a table of named columns, with the
    names rabbitmqctl uses where it has one ("messages_ready",
    "consumers"), so a program picks its columns by name:

        meshq_table_t *table;
        if (meshq_client_list (client, "queues", NULL, 0, &table) == 0) {
            int ready = meshq_table_column_find (table, "messages_ready");
            for (size_t row = 0; row < meshq_table_rows (table); row++)
                printf ("%s %llu\n", meshq_table_str (table, row, 0),
                        (unsigned long long) meshq_table_uint (table, row,
                                                               ready));
            meshq_table_destroy (&table);
        }

    "queues" is mesh-wide: one row per queue with the totals of every
    agent that holds part of it, gathered on demand over the mesh.
    Agents that did not answer in time are named by
    meshq_table_unanswered; their parts are missing from the totals.

    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
*/
#ifndef MESHQ_ADMIN_H_INCLUDED
#define MESHQ_ADMIN_H_INCLUDED

#include "meshq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _meshq_table_t meshq_table_t;

//  The type of a column's values.
typedef enum {
    MESHQ_COLUMN_STR,   //  Text.
    MESHQ_COLUMN_UINT,  //  A whole number.
    MESHQ_COLUMN_BOOL,  //  true or false.
} meshq_column_type_t;

//  Flags for meshq_client_list. MESHQ_LIST_LOCAL: queues of this agent
//  only (its part of each, one row per queue), not the mesh's totals.
#define MESHQ_LIST_LOCAL 1

//  Asks the agent whether it is up and answering. Returns 0,
//  MESHQ_ETIMEOUT or MESHQ_ECONNLOST.
MESHQ_EXPORT int meshq_client_ping (meshq_client_t *self);

//  The agent's status as a table of one row: its name, node id,
//  version, uptime, peers, memory and store use, quota, whether
//  publishers are blocked, the alarms raised ("alarms": a
//  comma-separated list of memory, disk, quota and blocked, or ""),
//  counters of refused and dropped input. The caller destroys
//  *table_p. Returns 0 or a negative code.
MESHQ_EXPORT int meshq_client_status (meshq_client_t *self,
                                      meshq_table_t **table_p);

//  A list, by name: queues, exchanges, bindings, consumers, peers,
//  connections, channels, listeners (the agent's endpoints, each with
//  its protocol), users, vhosts, permissions (subject: the vhost, NULL
//  for "/") and user_permissions (subject: the user). flags:
//  MESHQ_LIST_LOCAL. The caller destroys *table_p. Returns 0,
//  MESHQ_EINVAL for a name that is not a list, or the agent's refusal.
MESHQ_EXPORT int meshq_client_list (meshq_client_t *self, const char *what,
                                    const char *subject, int flags,
                                    meshq_table_t **table_p);

//  Destroys a table. NULL-safe; nulls *self_p.
MESHQ_EXPORT void meshq_table_destroy (meshq_table_t **self_p);

//  Rows and columns.
MESHQ_EXPORT size_t meshq_table_rows (const meshq_table_t *self);
MESHQ_EXPORT size_t meshq_table_columns (const meshq_table_t *self);

//  A column's name (borrowed), type, and whether a table shows it when
//  no columns are asked for.
MESHQ_EXPORT const char *meshq_table_column_name (const meshq_table_t *self,
                                                  size_t column);
MESHQ_EXPORT meshq_column_type_t
meshq_table_column_type (const meshq_table_t *self, size_t column);
MESHQ_EXPORT bool meshq_table_column_shown (const meshq_table_t *self,
                                            size_t column);

//  The index of the column of this name, or -1.
MESHQ_EXPORT int meshq_table_column_find (const meshq_table_t *self,
                                          const char *name);

//  A value: as text whatever its type (borrowed, valid until the table
//  is destroyed; "" when the agent did not give it), as a number (0 for
//  text), as a boolean (true for a number other than 0).
MESHQ_EXPORT const char *meshq_table_str (const meshq_table_t *self, size_t row,
                                          size_t column);
MESHQ_EXPORT uint64_t meshq_table_uint (const meshq_table_t *self, size_t row,
                                        size_t column);
MESHQ_EXPORT bool meshq_table_bool (const meshq_table_t *self, size_t row,
                                    size_t column);

//  The agents whose part a mesh-wide list lacks, as "NAME (why)"
//  separated by ", ", or "" when every agent answered (borrowed).
MESHQ_EXPORT const char *meshq_table_unanswered (const meshq_table_t *self);

//  Users, as rabbitmqctl's add_user, delete_user, change_password and
//  set_user_tags (tags: comma-separated, such as "administrator"; NULL
//  or "" for none). Administrator only. Returns 0 or the agent's
//  refusal (MESHQ_EEXIST, MESHQ_ENOTFOUND, MESHQ_EACCESS, ...).
MESHQ_EXPORT int meshq_client_add_user (meshq_client_t *self, const char *user,
                                        const char *password);
MESHQ_EXPORT int meshq_client_delete_user (meshq_client_t *self,
                                           const char *user);
MESHQ_EXPORT int meshq_client_change_password (meshq_client_t *self,
                                               const char *user,
                                               const char *password);
MESHQ_EXPORT int meshq_client_set_user_tags (meshq_client_t *self,
                                             const char *user,
                                             const char *tags);

//  Permissions of user in vhost (NULL: "/"): three regular
//  expressions, as rabbitmqctl's set_permissions.
MESHQ_EXPORT int
meshq_client_set_permissions (meshq_client_t *self, const char *vhost,
                              const char *user, const char *configure,
                              const char *write, const char *read);
MESHQ_EXPORT int meshq_client_clear_permissions (meshq_client_t *self,
                                                 const char *vhost,
                                                 const char *user);

//  Virtual hosts.
MESHQ_EXPORT int meshq_client_add_vhost (meshq_client_t *self,
                                         const char *vhost);
MESHQ_EXPORT int meshq_client_delete_vhost (meshq_client_t *self,
                                            const char *vhost);

//  Reads text as a size in bytes: a number, alone or followed by K, M,
//  G or T (powers of 1024, also written KiB...), or kB, MB, GB, TB
//  (powers of 1000), in any case. Returns 0, MESHQ_EINVAL if text is not
//  a size, or MESHQ_ERANGE if it exceeds 64 bits.
MESHQ_EXPORT int meshq_size_parse (const char *text, uint64_t *out);

//  What a refusal says a text that is not a size is, after the option
//  and the value.
#define MESHQ_SIZE_HINT "not a size (use a number with K, M or G)"

#ifdef __cplusplus
}
#endif

#endif
