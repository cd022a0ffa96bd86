/*  request.c - one request to an agent. See request.h. */
#include "request.h"
#include "codec_control.h"
#include "meshq.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>

//  An ipc endpoint can be checked at once: libzmq would wait for an
//  agent that is not there until the timeout.
static int
s_check_ipc (const char *path, char *error, size_t size)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen (path) >= sizeof address.sun_path) {
        snprintf (error, size, "ipc path too long: %s", path);
        return MESHQ_EINVAL;
    }
    strcpy (address.sun_path, path);
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;  //  Let libzmq try.
    int rc = connect (fd, (struct sockaddr *)&address, sizeof address);
    int error_number = errno;
    close (fd);
    if (rc == 0)
        return 0;
    snprintf (error, size,
              "no agent at ipc://%s (%s); is meshq-agent running? Point to "
              "it with --agent ENDPOINT|NAME or MESHQ_AGENT",
              path, strerror (error_number));
    return MESHQ_ECONNLOST;
}

int
meshq_tool_request (const char *endpoint, const char *verb, int timeout_ms,
                    zmsg_t **reply, char *error, size_t error_size)
{
    *reply = NULL;
    if (strncmp (endpoint, "ipc://", 6) == 0) {
        int rc = s_check_ipc (endpoint + 6, error, error_size);
        if (rc)
            return rc;
    }
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_linger (dealer, 0);
    //  The reply of a list can be large, but not without bound.
    zsock_set_maxmsgsize (dealer, 64 * 1024 * 1024);
    if (zsock_connect (dealer, "%s", endpoint)) {
        snprintf (error, error_size, "cannot use endpoint '%s': %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        zsock_destroy (&dealer);
        return MESHQ_EINVAL;
    }
    uint64_t rid = (uint64_t)zclock_usecs ();
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_codec_encode_request (rid, &buf);
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, verb);
    zmsg_addmem (request, buf.data, buf.size);
    meshq_buf_fini (&buf);
    if (zmsg_send (&request, dealer))
        zmsg_destroy (&request);
    int rc = MESHQ_ETIMEOUT;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int64_t deadline = zclock_mono () + timeout_ms;
    while (rc == MESHQ_ETIMEOUT && zclock_mono () < deadline) {
        if (!zpoller_wait (poller, (int)(deadline - zclock_mono ())))
            break;
        zmsg_t *msg = zmsg_recv (dealer);
        zframe_t *kind = msg ? zmsg_first (msg) : NULL;
        zframe_t *args = kind ? zmsg_next (msg) : NULL;
        uint64_t got = 0;
        if (args &&
            meshq_codec_decode_request (zframe_data (args), zframe_size (args),
                                        &got, NULL) == 0 &&
            got == rid) {
            *reply = msg;
            rc = 0;
        } else
            zmsg_destroy (&msg);  //  Not ours: an old request's.
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    if (rc)
        snprintf (error, error_size,
                  "no reply from the agent at %s within %d ms; is "
                  "meshq-agent running there?",
                  endpoint, timeout_ms);
    return rc;
}
