/*  sd_notify.c - the service manager's readiness datagram. See
    sd_notify.h.
*/
#include "sd_notify.h"
#include "meshq.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
meshq_sd_notify (const char *state)
{
    const char *path = getenv ("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    size_t length = strlen (path);
    //  A path, or '@' then an abstract name (sun_path starts with NUL).
    if ((path[0] != '/' && path[0] != '@') || length < 2 ||
        length >= sizeof address.sun_path)
        return MESHQ_EINVAL;
    memcpy (address.sun_path, path, length);
    if (path[0] == '@')
        address.sun_path[0] = 0;
    socklen_t size = (socklen_t)(offsetof (struct sockaddr_un, sun_path) +
                                 length + (path[0] == '/'));
    int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return MESHQ_EIO;
    ssize_t sent = sendto (fd, state, strlen (state), MSG_NOSIGNAL,
                           (const struct sockaddr *)&address, size);
    close (fd);
    return sent == (ssize_t)strlen (state) ? 0 : MESHQ_EIO;
}
