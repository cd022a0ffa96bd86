/*  size.c - sizes in bytes as people write them. See size.h. */
#include "size.h"

#include "meshq.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

//  The unit's multiplier for suffix ("", "K", "KiB", "kB", ...), or 0.
static uint64_t
s_unit (const char *suffix)
{
    static const char letters[] = "KMGT";
    if (!*suffix)
        return 1;
    const char *letter = strchr (letters, toupper ((unsigned char)*suffix));
    if (!letter || !*letter)
        return 0;
    int power = (int)(letter - letters) + 1;
    const char *rest = suffix + 1;
    uint64_t base;
    if (!*rest || strcasecmp (rest, "iB") == 0)
        base = 1024;
    else if (strcasecmp (rest, "B") == 0)
        base = 1000;
    else
        return 0;
    uint64_t unit = 1;
    while (power--)
        unit *= base;
    return unit;
}

int
meshq_size_parse (const char *text, uint64_t *out)
{
    if (!text || !isdigit ((unsigned char)*text))
        return MESHQ_EINVAL;
    uint64_t number = 0;
    const char *c = text;
    bool overflow = false;
    for (; isdigit ((unsigned char)*c); c++) {
        unsigned digit = (unsigned)(*c - '0');
        if (number > (UINT64_MAX - digit) / 10)
            overflow = true;
        else
            number = number * 10 + digit;
    }
    uint64_t unit = s_unit (c);
    if (!unit)
        return MESHQ_EINVAL;
    if (overflow || (number && unit > UINT64_MAX / number))
        return MESHQ_ERANGE;
    *out = number * unit;
    return 0;
}
