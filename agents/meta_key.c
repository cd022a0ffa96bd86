/*  meta_key.c - the keys of metadata records and vhost directory names
    (meta_key.h).
*/
#include "meta_key.h"

#include <assert.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Bytes of the hash in a long key's short form.
#define S_HASH 16

//  Writes prefix, '#' and the hash of the size bytes of long_form.
static void
s_hashed (char *out, const char *prefix, const void *long_form, size_t size)
{
    uint8_t hash[S_HASH];
    crypto_generichash (hash, sizeof hash, long_form, size, NULL, 0);
    size_t used = (size_t)snprintf (out, MESHQ_META_KEY_SIZE, "%s#", prefix);
    for (size_t i = 0; i < sizeof hash; i++)
        used += (size_t)snprintf (out + used, MESHQ_META_KEY_SIZE - used,
                                  "%02x", hash[i]);
}

//  Writes long_form (size bytes, no NUL needed) as a key: itself if it
//  fits, else its hashed form with prefix ("q", "x", "b").
static void
s_key (char *out, const char *prefix, const char *long_form, size_t size)
{
    if (size <= MESHQ_META_KEY_MAX) {
        memcpy (out, long_form, size);
        out[size] = 0;
    } else
        s_hashed (out, prefix, long_form, size);
}

static void
s_named (char *out, char kind, const char *name)
{
    size_t size = strlen (name);
    char *long_form = malloc (size + 3);
    assert (long_form);
    long_form[0] = kind;
    long_form[1] = '/';
    memcpy (long_form + 2, name, size + 1);
    char prefix[2] = {kind, 0};
    s_key (out, prefix, long_form, size + 2);
    free (long_form);
}

void
meshq_meta_key_queue (char *out, const char *name)
{
    s_named (out, 'q', name);
}

void
meshq_meta_key_exchange (char *out, const char *name)
{
    s_named (out, 'x', name);
}

void
meshq_meta_key_binding (char *out, const char *exchange, const char *queue,
                        const char *key, const uint8_t *match,
                        size_t match_size)
{
    size_t size =
        strlen (exchange) + strlen (queue) + strlen (key) + 2 * match_size + 6;
    char *long_form = malloc (size);
    assert (long_form);
    int used = snprintf (long_form, size, "b/%s\x1f%s\x1f%s\x1f", exchange,
                         queue, key);
    assert (used > 0);
    for (size_t i = 0; i < match_size; i++)
        used +=
            snprintf (long_form + used, size - (size_t)used, "%02x", match[i]);
    s_key (out, "b", long_form, (size_t)used);
    free (long_form);
}

void
meshq_meta_key_user (char *out, const char *user)
{
    s_named (out, 'u', user);
}

void
meshq_meta_key_permission (char *out, const char *vhost, const char *user)
{
    size_t size = strlen (vhost) + strlen (user) + 2;
    char *both = malloc (size);
    assert (both);
    snprintf (both, size, "%s\x1f%s", vhost, user);
    s_named (out, 'p', both);
    free (both);
}

void
meshq_meta_key_vhost (char *out, const char *vhost)
{
    s_named (out, 'v', vhost);
}

char
meshq_meta_key_kind (const char *key, bool *hashed)
{
    *hashed = false;
    if (!key[0] || !strchr ("qxbupv", key[0]) ||
        (key[1] != '/' && key[1] != '#'))
        return 0;
    *hashed = key[1] == '#';
    return key[0];
}

void
meshq_meta_key_dirname (char *out, const char *name)
{
    //  Letters, digits, '-' and '_' as they are, every other byte as %XX:
    //  never a '#', so that the hashed form cannot collide with it.
    size_t used = 0;
    for (const char *c = name; *c; c++) {
        bool plain = isalnum ((unsigned char)*c) || *c == '-' || *c == '_';
        if (used + (plain ? 1 : 3) > MESHQ_META_DIRNAME_MAX) {
            used = 0;
            break;
        }
        if (plain)
            out[used++] = *c;
        else
            used +=
                (size_t)snprintf (out + used, 4, "%%%02X", (unsigned char)*c);
    }
    out[used] = 0;
    if (used == 0) {
        //  Empty, or too long for a file name: '#' and the name's hash.
        char key[MESHQ_META_KEY_SIZE];
        s_hashed (key, "", name, strlen (name));
        snprintf (out, MESHQ_META_DIRNAME_MAX + 1, "%s", key);
    }
}
