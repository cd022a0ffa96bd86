/*  auth.c - users, permissions and tags. See auth.h. */
#include "auth.h"
#include "meshq.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_tag_names[] = {"administrator", "management",
                                    "monitoring"};

int
meshq_auth_parse_tags (const char *text, unsigned *tags, char *why, size_t size)
{
    *tags = 0;
    char copy[MESHQ_MAX_SHORTSTR + 1];
    snprintf (copy, sizeof copy, "%s", text ? text : "");
    char *saveptr = NULL;
    for (char *tag = strtok_r (copy, ", ", &saveptr); tag;
         tag = strtok_r (NULL, ", ", &saveptr)) {
        if (strcmp (tag, "none") == 0)
            continue;
        bool known = false;
        for (unsigned i = 0; i < 3; i++)
            if (strcmp (tag, s_tag_names[i]) == 0) {
                *tags |= 1u << i;
                known = true;
            }
        if (!known) {
            snprintf (why, size,
                      "unknown tag '%s': use administrator, management, "
                      "monitoring or none",
                      tag);
            return MESHQ_EINVAL;
        }
    }
    return 0;
}

void
meshq_auth_format_tags (unsigned tags, char *out, size_t size)
{
    size_t used = 0;
    out[0] = 0;
    for (unsigned i = 0; i < 3; i++)
        if (tags & (1u << i))
            used += (size_t)snprintf (out + used, size - used, "%s%s",
                                      used ? "," : "", s_tag_names[i]);
}

int
meshq_perm_new (meshq_perm_t **perm_p, const char *configure, const char *write,
                const char *read, char *why, size_t size)
{
    meshq_perm_t *self = calloc (1, sizeof *self);
    assert (self);
    const char *patterns[3] = {configure, write, read};
    for (int i = 0; i < 3; i++) {
        int rc =
            regcomp (&self->regex[i], patterns[i], REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char error[128];
            regerror (rc, &self->regex[i], error, sizeof error);
            snprintf (why, size,
                      "%s pattern '%s' is not a regular "
                      "expression: %s",
                      meshq_perm_kind_name ((meshq_perm_kind_t)i), patterns[i],
                      error);
            for (int j = 0; j < i; j++) {
                regfree (&self->regex[j]);
                free (self->pattern[j]);
            }
            free (self);
            *perm_p = NULL;
            return MESHQ_EINVAL;
        }
        self->pattern[i] = strdup (patterns[i]);
        assert (self->pattern[i]);
    }
    *perm_p = self;
    return 0;
}

void
meshq_perm_destroy (meshq_perm_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int i = 0; i < 3; i++) {
        regfree (&(*self_p)->regex[i]);
        free ((*self_p)->pattern[i]);
    }
    free (*self_p);
    *self_p = NULL;
}

bool
meshq_perm_allows (const meshq_perm_t *self, meshq_perm_kind_t kind,
                   const char *resource)
{
    //  An empty pattern allows nothing, as "^$" does for most names.
    if (!*self->pattern[kind])
        return false;
    return regexec (&self->regex[kind], resource, 0, NULL, 0) == 0;
}

const char *
meshq_perm_kind_name (meshq_perm_kind_t kind)
{
    static const char *names[] = {"configure", "write", "read"};
    return names[kind];
}

int
meshq_auth_hash (const char *password, size_t size, char *hash,
                 size_t hash_size)
{
    assert (hash_size >= crypto_pwhash_STRBYTES);
    if (sodium_init () < 0)
        return MESHQ_ENOMEM;
    if (crypto_pwhash_str (hash, password, size,
                           crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE))
        return MESHQ_ENOMEM;
    return 0;
}
