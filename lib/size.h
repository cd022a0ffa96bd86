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

#include "meshq.h"

#include <stdint.h>

//  meshq_size_parse (text, out), the parser itself, and MESHQ_SIZE_HINT
//  are public: meshq_admin.h declares them.

#endif
