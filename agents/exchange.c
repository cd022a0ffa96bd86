/*  exchange.c - exchanges, bindings and routing. See exchange.h. */
#include "exchange.h"
#include "codec.h"
#include "meshq.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _meshq_exchange_t {
    char name[MESHQ_MAX_SHORTSTR + 1];  //  Exchange name.
    meshq_exchange_type_t type;         //  How it routes.
    bool durable;                       //  Declared durable.
    meshq_binding_t *bindings;          //  Its bindings, newest first.
    size_t binding_count;               //  Number of bindings.
};

static const char *s_type_names[] = {"direct", "fanout", "topic", "headers"};

int
meshq_exchange_type_parse (meshq_span_t name, meshq_exchange_type_t *type)
{
    for (int i = 0; i < 4; i++)
        if (name.size == strlen (s_type_names[i]) &&
            memcmp (name.data, s_type_names[i], name.size) == 0) {
            *type = (meshq_exchange_type_t)i;
            return 0;
        }
    return MESHQ_EINVAL;
}

const char *
meshq_exchange_type_name (meshq_exchange_type_t type)
{
    return s_type_names[type];
}

meshq_exchange_t *
meshq_exchange_new (const char *name, meshq_exchange_type_t type, bool durable)
{
    meshq_exchange_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->name, sizeof self->name, "%s", name);
    self->type = type;
    self->durable = durable;
    return self;
}

static void
s_binding_free (meshq_binding_t *binding)
{
    free (binding->key);
    free (binding->match);
    free (binding);
}

void
meshq_exchange_destroy (meshq_exchange_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    meshq_exchange_t *self = *self_p;
    while (self->bindings) {
        meshq_binding_t *next = self->bindings->next;
        s_binding_free (self->bindings);
        self->bindings = next;
    }
    free (self);
    *self_p = NULL;
}

const char *
meshq_exchange_name (const meshq_exchange_t *self)
{
    return self->name;
}

meshq_exchange_type_t
meshq_exchange_type (const meshq_exchange_t *self)
{
    return self->type;
}

bool
meshq_exchange_durable (const meshq_exchange_t *self)
{
    return self->durable;
}

size_t
meshq_exchange_binding_count (const meshq_exchange_t *self)
{
    return self->binding_count;
}

const meshq_binding_t *
meshq_exchange_bindings (const meshq_exchange_t *self)
{
    return self->bindings;
}

static bool
s_span_is (meshq_span_t span, const char *text)
{
    return span.size == strlen (text) &&
           memcmp (span.data, text, span.size) == 0;
}

static bool
s_same (const meshq_binding_t *binding, void *queue, const char *key,
        meshq_span_t match)
{
    return binding->queue == queue && strcmp (binding->key, key) == 0 &&
           binding->match_size == match.size &&
           (match.size == 0 ||
            memcmp (binding->match, match.data, match.size) == 0);
}

int
meshq_exchange_bind (meshq_exchange_t *self, void *queue, const char *key,
                     meshq_span_t match, uint32_t match_count)
{
    for (meshq_binding_t *b = self->bindings; b; b = b->next)
        if (s_same (b, queue, key, match))
            return 0;
    bool any = false;
    meshq_span_t cursor = match;
    meshq_header_t header;
    while (meshq_codec_header_next (&cursor, &header))
        if (s_span_is (header.key, "x-match")) {
            meshq_span_t value = {header.value.u.bytes.data,
                                  (uint32_t)header.value.u.bytes.size};
            if (header.value.type != MESHQ_VALUE_STR ||
                !(s_span_is (value, "all") || s_span_is (value, "any")))
                return MESHQ_EINVAL;
            any = s_span_is (value, "any");
        }
    meshq_binding_t *binding = calloc (1, sizeof *binding);
    assert (binding);
    binding->queue = queue;
    binding->key = strdup (key);
    assert (binding->key);
    if (match.size) {
        binding->match = malloc (match.size);
        assert (binding->match);
        memcpy (binding->match, match.data, match.size);
    }
    binding->match_size = match.size;
    binding->match_count = match_count;
    binding->match_any = any;
    binding->next = self->bindings;
    self->bindings = binding;
    self->binding_count++;
    return 0;
}

int
meshq_exchange_unbind (meshq_exchange_t *self, void *queue, const char *key,
                       meshq_span_t match)
{
    for (meshq_binding_t **link = &self->bindings; *link; link = &(*link)->next)
        if (s_same (*link, queue, key, match)) {
            meshq_binding_t *binding = *link;
            *link = binding->next;
            s_binding_free (binding);
            self->binding_count--;
            return 0;
        }
    return MESHQ_ENOTFOUND;
}

void
meshq_exchange_unbind_queue (meshq_exchange_t *self, void *queue)
{
    meshq_binding_t **link = &self->bindings;
    while (*link) {
        if ((*link)->queue == queue) {
            meshq_binding_t *binding = *link;
            *link = binding->next;
            s_binding_free (binding);
            self->binding_count--;
        } else
            link = &(*link)->next;
    }
}

//  Most words a pattern or key of 255 bytes can have.
#define S_MAX_WORDS 128

//  Splits text at dots into words; "" is one empty word, as in AMQP.
static int
s_split (const char *text, size_t size, meshq_span_t *words)
{
    int count = 0;
    const char *start = text, *end = text + size;
    while (count < S_MAX_WORDS) {
        const char *dot = memchr (start, '.', (size_t)(end - start));
        const char *word_end = dot ? dot : end;
        words[count].data = start;
        words[count].size = (uint32_t)(word_end - start);
        count++;
        if (!dot)
            break;
        start = dot + 1;
    }
    return count;
}

static bool
s_is (meshq_span_t word, char c)
{
    return word.size == 1 && word.data[0] == c;
}

bool
meshq_topic_match (const char *pattern, meshq_span_t key)
{
    meshq_span_t p[S_MAX_WORDS], k[S_MAX_WORDS];
    int np = s_split (pattern, strlen (pattern), p);
    int nk = s_split (key.data ? key.data : "", key.size, k);
    //  Dynamic programming over suffixes, so patterns full of '#' stay
    //  linear: next[j] says whether p[i+1..] matches k[j..].
    bool next[S_MAX_WORDS + 1], here[S_MAX_WORDS + 1];
    for (int j = 0; j <= nk; j++)
        next[j] = j == nk;
    for (int i = np - 1; i >= 0; i--) {
        here[nk] = s_is (p[i], '#') && next[nk];
        for (int j = nk - 1; j >= 0; j--) {
            if (s_is (p[i], '#'))
                here[j] = next[j] || here[j + 1];
            else
                here[j] = (s_is (p[i], '*') ||
                           (p[i].size == k[j].size &&
                            memcmp (p[i].data, k[j].data, k[j].size) == 0)) &&
                          next[j + 1];
        }
        memcpy (next, here, sizeof (bool) * (size_t)(nk + 1));
    }
    return next[0];
}

static bool
s_value_equal (const meshq_value_t *a, const meshq_value_t *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
        case MESHQ_VALUE_NIL:
            return true;
        case MESHQ_VALUE_BOOL:
            return a->u.boolean == b->u.boolean;
        case MESHQ_VALUE_INT:
            return a->u.integer == b->u.integer;
        case MESHQ_VALUE_DOUBLE:
            return a->u.number == b->u.number;
        default:
            return a->u.bytes.size == b->u.bytes.size &&
                   memcmp (a->u.bytes.data, b->u.bytes.data, a->u.bytes.size) ==
                       0;
    }
}

//  The headers exchange: binding arguments against message headers.
static bool
s_headers_match (const meshq_binding_t *binding, meshq_span_t headers)
{
    meshq_span_t args = {(const char *)binding->match, binding->match_size};
    meshq_header_t arg;
    int considered = 0, matched = 0;
    while (meshq_codec_header_next (&args, &arg)) {
        if (arg.key.size >= 2 && memcmp (arg.key.data, "x-", 2) == 0)
            continue;
        considered++;
        meshq_span_t cursor = headers;
        meshq_header_t header;
        bool found = false;
        while (!found && meshq_codec_header_next (&cursor, &header))
            found = header.key.size == arg.key.size &&
                    memcmp (header.key.data, arg.key.data, arg.key.size) == 0 &&
                    (arg.value.type == MESHQ_VALUE_NIL ||
                     s_value_equal (&arg.value, &header.value));
        if (found)
            matched++;
        if (binding->match_any && found)
            return true;
        if (!binding->match_any && !found)
            return false;
    }
    return binding->match_any ? considered == 0 : matched == considered;
}

void
meshq_exchange_route (const meshq_exchange_t *self, meshq_span_t key,
                      meshq_span_t headers, meshq_route_fn *fn, void *arg)
{
    for (const meshq_binding_t *b = self->bindings; b; b = b->next) {
        bool match;
        switch (self->type) {
            case MESHQ_EXCHANGE_DIRECT:
                match = key.size == strlen (b->key) &&
                        memcmp (key.data, b->key, key.size) == 0;
                break;
            case MESHQ_EXCHANGE_FANOUT:
                match = true;
                break;
            case MESHQ_EXCHANGE_TOPIC:
                match = meshq_topic_match (b->key, key);
                break;
            default:
                match = s_headers_match (b, headers);
                break;
        }
        if (match)
            fn (arg, b->queue);
    }
}
