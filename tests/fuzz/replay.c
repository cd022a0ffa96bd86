/*  replay.c - runs a fuzz target over the files of its corpus.

    Usage: replay_NAME DIR... Every regular file in each DIR is passed to
    LLVMFuzzerTestOneInput; files ending in .hex hold hex text and are
    decoded first. Exits non-zero if a directory cannot be read or holds
    no input, so a lost corpus does not pass silently.
*/
#include "fuzz.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *
s_read (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    size_t capacity = 4096, used = 0;
    uint8_t *data = malloc (capacity);
    size_t got;
    while (data && (got = fread (data + used, 1, capacity - used, file)) > 0) {
        used += got;
        if (used == capacity)
            data = realloc (data, capacity *= 2);
    }
    fclose (file);
    *size = used;
    return data;
}

static int
s_nibble (int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

//  Decodes hex text in place; stops at the first non-hex character.
static size_t
s_unhex (uint8_t *data, size_t size)
{
    size_t out = 0;
    for (size_t i = 0; i + 1 < size; i += 2) {
        int high = s_nibble (data[i]), low = s_nibble (data[i + 1]);
        if (high < 0 || low < 0)
            break;
        data[out++] = (uint8_t)(high << 4 | low);
    }
    return out;
}

int
main (int argc, char *argv[])
{
    size_t inputs = 0;
    for (int arg = 1; arg < argc; arg++) {
        DIR *dir = opendir (argv[arg]);
        if (!dir) {
            fprintf (stderr, "replay: cannot open %s\n", argv[arg]);
            return 1;
        }
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (entry->d_name[0] == '.')
                continue;
            const char *name = entry->d_name;
            size_t length = strlen (name);
            bool hex = length > 4 && strcmp (name + length - 4, ".hex") == 0;
            if (!hex && length > 3 && strcmp (name + length - 3, ".py") == 0)
                continue;
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[arg], name);
            size_t size;
            uint8_t *data = s_read (path, &size);
            if (!data) {
                fprintf (stderr, "replay: cannot read %s\n", path);
                return 1;
            }
            if (hex)
                size = s_unhex (data, size);
            LLVMFuzzerTestOneInput (data, size);
            free (data);
            inputs++;
        }
        closedir (dir);
    }
    printf ("replay: %zu inputs, no failure\n", inputs);
    return inputs ? 0 : 1;
}
