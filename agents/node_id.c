/*  node_id.c - the node id file (node_id.h).
*/
#include "node_id.h"
#include "crc32c.h"
#include "meshq.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

//  Bytes of the line: "meshq-node " 32 hex, ' ', 8 hex, '\n'.
#define S_LINE (11 + 32 + 1 + 8 + 1)

static int
s_hex (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int
meshq_node_id_load (const char *directory, uint8_t id[16], char *why,
                    size_t size)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", directory, MESHQ_NODE_ID_FILE);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf (why, size, "cannot open %.3000s: %s", path, strerror (errno));
        return errno == ENOENT ? MESHQ_ENOTFOUND : MESHQ_EIO;
    }
    char line[S_LINE + 1];
    ssize_t got = read (fd, line, sizeof line);
    close (fd);
    if (got < 0) {
        snprintf (why, size, "cannot read %.3000s: %s", path, strerror (errno));
        return MESHQ_EIO;
    }
    bool shaped = got == S_LINE && memcmp (line, "meshq-node ", 11) == 0 &&
                  line[43] == ' ' && line[S_LINE - 1] == '\n';
    uint32_t crc = 0;
    for (int i = 0; shaped && i < 16; i++) {
        int high = s_hex (line[11 + 2 * i]), low = s_hex (line[12 + 2 * i]);
        shaped = high >= 0 && low >= 0;
        id[i] = (uint8_t)(high << 4 | low);
    }
    for (int i = 0; shaped && i < 8; i++) {
        int digit = s_hex (line[44 + i]);
        shaped = digit >= 0;
        crc = crc << 4 | (uint32_t)digit;
    }
    if (!shaped || crc != meshq_crc32c (0, id, 16)) {
        snprintf (why, size,
                  "%.3000s is damaged: not \"meshq-node ID CRC\" with a "
                  "matching CRC",
                  path);
        return MESHQ_ECORRUPT;
    }
    return 0;
}

int
meshq_node_id_save (const char *directory, const uint8_t id[16], char *why,
                    size_t size)
{
    char path[4096], temporary[4200];
    snprintf (path, sizeof path, "%s/%s", directory, MESHQ_NODE_ID_FILE);
    snprintf (temporary, sizeof temporary, "%s.tmp", path);
    char line[S_LINE + 1];
    int used = snprintf (line, sizeof line, "meshq-node ");
    for (int i = 0; i < 16; i++)
        used +=
            snprintf (line + used, sizeof line - (size_t)used, "%02x", id[i]);
    snprintf (line + used, sizeof line - (size_t)used, " %08" PRIx32 "\n",
              meshq_crc32c (0, id, 16));
    int fd = open (temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok =
        fd >= 0 && write (fd, line, S_LINE) == S_LINE && fdatasync (fd) == 0;
    int error = errno;
    if (fd >= 0)
        close (fd);
    if (ok && rename (temporary, path) != 0) {
        ok = false;
        error = errno;
    }
    if (ok) {
        int dir = open (directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ok = dir >= 0 && fsync (dir) == 0;
        error = errno;
        if (dir >= 0)
            close (dir);
    }
    if (!ok) {
        unlink (temporary);
        snprintf (why, size, "cannot write %.3000s: %s", path,
                  strerror (error));
        return MESHQ_EIO;
    }
    return 0;
}
