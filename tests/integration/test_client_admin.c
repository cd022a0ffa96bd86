/*  test_client_admin.c - the public API of meshq_admin.h, as a program
    built on the installed headers uses it: ping, status, lists as
    tables of named columns, users, permissions and vhosts.
*/
#include "agentutil.h"
#include "meshq.h"

#include <criterion/criterion.h>

AGENTUTIL_SUITE (client_admin, "admin", 60);

//  The text of column in the row of table whose first column is key,
//  or NULL if there is no such row.
static const char *
s_cell (const meshq_table_t *table, const char *key, const char *column)
{
    int at = meshq_table_column_find (table, column);
    cr_assert_geq (at, 0, "no column %s", column);
    for (size_t r = 0; r < meshq_table_rows (table); r++)
        if (streq (meshq_table_str (table, r, 0), key))
            return meshq_table_str (table, r, (size_t)at);
    return NULL;
}

Test (client_admin, status_is_a_table_of_one_row_with_its_health)
{
    meshq_client_t *client = agentutil_client (&s_node);
    cr_expect_eq (meshq_client_ping (client), 0);
    meshq_table_t *status = NULL;
    cr_assert_eq (meshq_client_status (client, &status), 0);
    cr_expect_eq (meshq_table_rows (status), 1);
    int name = meshq_table_column_find (status, "name");
    cr_assert_geq (name, 0);
    cr_expect_str_eq (meshq_table_str (status, 0, (size_t)name), s_node.name);
    int blocked = meshq_table_column_find (status, "blocked");
    cr_expect_eq (meshq_table_column_type (status, (size_t)blocked),
                  MESHQ_COLUMN_BOOL);
    cr_expect_not (meshq_table_bool (status, 0, (size_t)blocked));
    cr_expect_str_eq (meshq_table_str (status, 0, (size_t)blocked), "false");
    int memory = meshq_table_column_find (status, "max_memory");
    cr_expect_eq (meshq_table_column_type (status, (size_t)memory),
                  MESHQ_COLUMN_UINT);
    cr_expect_gt (meshq_table_uint (status, 0, (size_t)memory), 0);
    int alarms = meshq_table_column_find (status, "alarms");
    cr_expect_str_eq (meshq_table_str (status, 0, (size_t)alarms), "");
    //  Out of range: empty, never a crash.
    cr_expect_eq (meshq_table_column_find (status, "no such column"), -1);
    cr_expect_str_eq (meshq_table_str (status, 5, 0), "");
    cr_expect_eq (meshq_table_uint (status, 0, 999), 0);
    meshq_table_destroy (&status);
    cr_expect_null (status);
    meshq_table_destroy (&status);
    meshq_client_destroy (&client);
}

Test (client_admin, users_permissions_and_vhosts_round_trip)
{
    meshq_client_t *client = agentutil_client (&s_node);
    cr_assert_eq (meshq_client_add_vhost (client, "v1"), 0, "%s",
                  meshq_client_error (client));
    cr_assert_eq (meshq_client_add_user (client, "carol", "Secret-Rope-9"), 0,
                  "%s", meshq_client_error (client));
    cr_expect_eq (meshq_client_add_user (client, "carol", "again"),
                  MESHQ_EEXIST);
    cr_assert_eq (meshq_client_set_user_tags (client, "carol", "monitoring"),
                  0);
    cr_assert_eq (
        meshq_client_set_permissions (client, "v1", "carol", "^c", "^w", "^r"),
        0, "%s", meshq_client_error (client));

    meshq_table_t *table = NULL;
    cr_assert_eq (meshq_client_list (client, "users", NULL, 0, &table), 0);
    cr_expect_str_eq (s_cell (table, "carol", "tags"), "monitoring");
    meshq_table_destroy (&table);
    cr_assert_eq (meshq_client_list (client, "vhosts", NULL, 0, &table), 0);
    cr_expect_not_null (s_cell (table, "v1", "name"));
    meshq_table_destroy (&table);
    cr_assert_eq (meshq_client_list (client, "permissions", "v1", 0, &table),
                  0);
    cr_expect_str_eq (s_cell (table, "carol", "write"), "^w");
    meshq_table_destroy (&table);
    cr_assert_eq (
        meshq_client_list (client, "user_permissions", "carol", 0, &table), 0);
    cr_expect_str_eq (s_cell (table, "v1", "read"), "^r");
    meshq_table_destroy (&table);

    //  The password set is the one that logs in.
    cr_assert_eq (meshq_client_change_password (client, "carol", "New-Pass-1"),
                  0);
    meshq_client_t *carol = meshq_client_new ();
    meshq_client_set_credentials (carol, "carol", "New-Pass-1");
    meshq_client_set_vhost (carol, "v1");
    cr_expect_eq (
        meshq_client_connect (carol, meshq_agent_endpoint (s_node.agent)), 0,
        "%s", meshq_client_error (carol));
    meshq_client_destroy (&carol);

    cr_expect_eq (meshq_client_clear_permissions (client, "v1", "carol"), 0);
    cr_assert_eq (meshq_client_list (client, "permissions", "v1", 0, &table),
                  0);
    cr_expect_null (s_cell (table, "carol", "write"));
    meshq_table_destroy (&table);
    cr_expect_eq (meshq_client_delete_user (client, "carol"), 0);
    cr_expect_eq (meshq_client_delete_user (client, "carol"), MESHQ_ENOTFOUND);
    cr_expect_eq (meshq_client_delete_vhost (client, "v1"), 0);
    meshq_client_destroy (&client);
}

Test (client_admin, a_name_that_is_not_a_list_is_refused)
{
    meshq_client_t *client = agentutil_client (&s_node);
    meshq_table_t *table = NULL;
    cr_expect_eq (meshq_client_list (client, "nope", NULL, 0, &table),
                  MESHQ_EINVAL);
    cr_expect_null (table);
    cr_expect (strstr (meshq_client_error (client), "'nope' is not a list"));
    cr_expect_eq (
        meshq_client_list (client, "user_permissions", NULL, 0, &table),
        MESHQ_EINVAL);
    //  Every list the header names is one.
    const char *lists[] = {"queues", "exchanges",   "bindings",   "consumers",
                           "peers",  "connections", "channels",   "listeners",
                           "users",  "vhosts",      "permissions"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        cr_expect_eq (meshq_client_list (client, lists[i], NULL, 0, &table), 0,
                      "%s: %s", lists[i], meshq_client_error (client));
        meshq_table_destroy (&table);
    }
    meshq_client_destroy (&client);
}

Test (client_admin, sizes_parse_as_documented)
{
    uint64_t size = 0;
    cr_expect_eq (meshq_size_parse ("1G", &size), 0);
    cr_expect_eq (size, 1ull << 30);
    cr_expect_eq (meshq_size_parse ("2kB", &size), 0);
    cr_expect_eq (size, 2000);
    cr_expect_eq (meshq_size_parse ("lots", &size), MESHQ_EINVAL);
}
