/*  sd_notify.h - tells a service manager how the daemon is doing.

    systemd starts a Type=notify service with NOTIFY_SOCKET in its
    environment: the path (or, after '@', the abstract name) of a
    datagram socket. The daemon sends "READY=1" there once it serves,
    and "STOPPING=1" when it begins to stop; systemd then orders the
    units that need it, and `systemctl start` returns only once clients
    can connect. Without NOTIFY_SOCKET, nothing is sent:

        meshq_sd_notify ("READY=1");

    The protocol is one datagram of "KEY=VALUE" lines (sd_notify(3));
    docs/decisions/0022-packaging-and-dns-seeds.md says why we write it
    ourselves rather than link libsystemd.
*/
#ifndef MESHQ_SD_NOTIFY_H_INCLUDED
#define MESHQ_SD_NOTIFY_H_INCLUDED

//  Sends state to $NOTIFY_SOCKET. Returns 0 when sent or when there is
//  no NOTIFY_SOCKET, or MESHQ_EINVAL (the variable names no usable
//  socket) or MESHQ_EIO (the send failed); the caller logs and goes on.
int meshq_sd_notify (const char *state);

#endif
