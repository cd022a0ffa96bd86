/*  test_meta_key.c - the keys of metadata records and the directory
    names of vhosts fit the store and the file system for every name
    AMQP allows, and never collide.
*/
#include "meta_key.h"

#include <criterion/criterion.h>
#include <string.h>

//  A name of size bytes of c.
static void
s_name (char *name, char c, size_t size)
{
    memset (name, c, size);
    name[size] = 0;
}

Test (meta_key, short_keys_keep_their_readable_form)
{
    char key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_queue (key, "jobs");
    cr_expect_str_eq (key, "q/jobs");
    meshq_meta_key_exchange (key, "ex");
    cr_expect_str_eq (key, "x/ex");
    const uint8_t match[] = {0x81, 0xa1};
    meshq_meta_key_binding (key, "ex", "jobs", "k", match, sizeof match);
    cr_expect_str_eq (key, "b/ex\x1fjobs\x1fk\x1f"
                           "81a1");
    bool hashed = true;
    cr_expect_eq (meshq_meta_key_kind ("q/jobs", &hashed), 'q');
    cr_expect_not (hashed);
    cr_expect_eq (meshq_meta_key_kind ("u/guest", &hashed), 'u');
    cr_expect_eq (meshq_meta_key_kind ("node", &hashed), 0);
}

Test (meta_key, user_permission_and_vhost_keys_fit_every_name)
{
    //  Short: the form stores already hold.
    char key[MESHQ_META_KEY_SIZE], other_key[MESHQ_META_KEY_SIZE];
    meshq_meta_key_user (key, "guest");
    cr_expect_str_eq (key, "u/guest");
    meshq_meta_key_permission (key, "/", "guest");
    cr_expect_str_eq (key, "p//\x1fguest");
    meshq_meta_key_vhost (key, "dev");
    cr_expect_str_eq (key, "v/dev");
    //  Long: hashed, of its own kind, and distinct.
    char name[256], other[256];
    for (size_t size = 250; size <= 255; size++) {
        s_name (name, 'n', size);
        strcpy (other, name);
        other[size - 1] = 'm';
        bool hashed;
        meshq_meta_key_user (key, name);
        cr_expect_leq (strlen (key), MESHQ_META_KEY_MAX);
        cr_expect_eq (meshq_meta_key_kind (key, &hashed), 'u');
        cr_expect_eq (hashed, size + 2 > MESHQ_META_KEY_MAX, "size %zu", size);
        meshq_meta_key_user (other_key, other);
        cr_expect_str_neq (key, other_key);
        meshq_meta_key_vhost (key, name);
        cr_expect_leq (strlen (key), MESHQ_META_KEY_MAX);
        cr_expect_eq (meshq_meta_key_kind (key, &hashed), 'v');
        cr_expect_eq (hashed, size + 2 > MESHQ_META_KEY_MAX, "size %zu", size);
        meshq_meta_key_vhost (other_key, other);
        cr_expect_str_neq (key, other_key);
        meshq_meta_key_permission (key, name, name);
        cr_expect_leq (strlen (key), MESHQ_META_KEY_MAX);
        cr_expect_eq (meshq_meta_key_kind (key, &hashed), 'p');
        cr_expect (hashed);
        meshq_meta_key_permission (other_key, name, other);
        cr_expect_str_neq (key, other_key);
    }
    //  A user, a vhost and a queue of the same name have distinct keys.
    s_name (name, 'n', 255);
    meshq_meta_key_user (key, name);
    meshq_meta_key_vhost (other_key, name);
    cr_expect_str_neq (key, other_key);
    meshq_meta_key_queue (other_key, name);
    cr_expect_str_neq (key, other_key);
    //  The plain form is kept up to the limit: vhost and user of 252
    //  bytes together.
    s_name (name, 'n', 126);
    bool hashed;
    meshq_meta_key_permission (key, name, name);
    cr_expect_eq (strlen (key), MESHQ_META_KEY_MAX);
    cr_expect_eq (meshq_meta_key_kind (key, &hashed), 'p');
    cr_expect_not (hashed);
}

Test (meta_key, long_keys_are_hashed_to_fit_and_stay_distinct)
{
    char name[256], other[256];
    char key[MESHQ_META_KEY_SIZE], other_key[MESHQ_META_KEY_SIZE];
    for (size_t size = 250; size <= 255; size++) {
        s_name (name, 'q', size);
        meshq_meta_key_queue (key, name);
        cr_expect_leq (strlen (key), MESHQ_META_KEY_MAX);
        bool hashed;
        cr_expect_eq (meshq_meta_key_kind (key, &hashed), 'q');
        cr_expect_eq (hashed, size + 2 > MESHQ_META_KEY_MAX, "size %zu", size);
        //  One byte apart, the keys differ.
        strcpy (other, name);
        other[size - 1] = 'r';
        meshq_meta_key_queue (other_key, other);
        cr_expect_str_neq (key, other_key);
    }
    char binding_key[256];
    s_name (name, 'q', 255);
    s_name (binding_key, 'k', 255);
    uint8_t match[1000];
    memset (match, 7, sizeof match);
    meshq_meta_key_binding (key, name, name, binding_key, match, sizeof match);
    cr_expect_leq (strlen (key), MESHQ_META_KEY_MAX);
    cr_expect_eq (strncmp (key, "b#", 2), 0);
    match[999] = 8;
    meshq_meta_key_binding (other_key, name, name, binding_key, match,
                            sizeof match);
    cr_expect_str_neq (key, other_key);
}

Test (meta_key, vhost_directory_names_fit_a_file_name)
{
    char dir[MESHQ_META_DIRNAME_MAX + 1];
    meshq_meta_key_dirname (dir, "shop-1_a");
    cr_expect_str_eq (dir, "shop-1_a");
    meshq_meta_key_dirname (dir, "a/b");
    cr_expect_str_eq (dir, "a%2Fb");
    //  Empty, or escaped past 255 bytes: '#' and a hash, no '/'.
    meshq_meta_key_dirname (dir, "");
    cr_expect_eq (dir[0], '#');
    char name[256] = "";
    for (int i = 0; i < 120; i++)
        strcat (name, "\xc3\xa9");
    meshq_meta_key_dirname (dir, name);
    cr_expect_eq (dir[0], '#');
    cr_expect_leq (strlen (dir), 255);
    cr_expect_null (strchr (dir, '/'));
    //  An escaped name of exactly 255 bytes keeps its readable form.
    s_name (name, 'v', 255);
    meshq_meta_key_dirname (dir, name);
    cr_expect_str_eq (dir, name);
}
