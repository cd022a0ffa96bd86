/*  size.h - sizes in bytes as people write them: "1G", "512MiB", "64kB".

    The one parser for every size setting and option (the daemon's
    flags and file, the embedded agent's settings, the meshq command),
    so that a size means the same wherever it is given. K, M, G and T,
    alone or followed by "iB", are powers of 1024; followed by "B" they
    are powers of 1000 (kB, MB, GB, TB), as RabbitMQ reads them. The
    letter's case does not matter. docs/OPERATIONS.md has the table.
*/
#ifndef MESHQ_SIZE_H_INCLUDED
#define MESHQ_SIZE_H_INCLUDED

#include <stdint.h>

//  What a refusal says a size is, after the option and the value.
#define MESHQ_SIZE_HINT "not a size (use a number with K, M or G)"

//  Reads text as a size into *out. Returns 0, MESHQ_EINVAL if text is
//  not a size, or MESHQ_ERANGE if it exceeds 64 bits.
int meshq_size_parse (const char *text, uint64_t *out);

#endif
