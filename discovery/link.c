/*  link.c - a DEALER to a peer. See link.h.

    The DEALER is a plain libzmq socket in CZMQ's context, not a zsock:
    zsock_new asserts when libzmq refuses a socket (the context's or the
    process's limit), and a stranger can make us open links, so running
    out must be an error we handle, never an abort.
*/
#include "link.h"
#include "meshq.h"

#include <string.h>

struct _meshq_link_t {
    void *dealer;    //  To the peer's ROUTER; NULL until open.
    char *endpoint;  //  Where the DEALER connects.
};

static void
s_set (void *socket, int option, int value)
{
    zmq_setsockopt (socket, option, &value, sizeof value);
}

meshq_link_t *
meshq_link_new (void)
{
    meshq_link_t *self = zmalloc (sizeof *self);
    assert (self);
    return self;
}

void
meshq_link_destroy (meshq_link_t **self_p)
{
    assert (self_p);
    meshq_link_t *self = *self_p;
    if (!self)
        return;
    if (self->dealer)
        zmq_close (self->dealer);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

int
meshq_link_open (meshq_link_t *self, const char *endpoint,
                 const meshq_link_options_t *options)
{
    assert (self && !self->dealer);
    self->endpoint = strdup (endpoint);
    assert (self->endpoint);
    self->dealer = zmq_socket (zsys_init (), ZMQ_DEALER);
    if (!self->dealer)
        return MESHQ_EIO;
    void *dealer = self->dealer;
    uint8_t routing_id[MESHQ_ROUTING_ID_SIZE];
    routing_id[0] = options->prefix;
    memcpy (routing_id + 1, options->node, 16);
    zmq_setsockopt (dealer, ZMQ_ROUTING_ID, routing_id, sizeof routing_id);
    s_set (dealer, ZMQ_LINGER, 0);
    s_set (dealer, ZMQ_IPV6, options->ipv6);
    s_set (dealer, ZMQ_IMMEDIATE, options->immediate);
    //  Peers never send on our DEALER; anything that comes is unread, so
    //  keep it small and few.
    int64_t max_size = 1024;
    zmq_setsockopt (dealer, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
    s_set (dealer, ZMQ_RCVHWM, 16);
    //  Reconnect quickly after a loss, and back off for peers long gone.
    s_set (dealer, ZMQ_RECONNECT_IVL, 50);
    s_set (dealer, ZMQ_RECONNECT_IVL_MAX, 1000);
    s_set (dealer, ZMQ_CONNECT_TIMEOUT, options->timeout_ms);
    if (options->curve_public) {
        //  Every node of the mesh has the one keypair: the server's key
        //  is ours, and the server's ZAP handler accepts only that key.
        const char *public = options->curve_public;
        const char *secret = options->curve_secret;
        if (zmq_setsockopt (dealer, ZMQ_CURVE_SERVERKEY, public,
                            strlen (public)) ||
            zmq_setsockopt (dealer, ZMQ_CURVE_PUBLICKEY, public,
                            strlen (public)) ||
            zmq_setsockopt (dealer, ZMQ_CURVE_SECRETKEY, secret,
                            strlen (secret)))
            return MESHQ_EIO;
    }
    if (zmq_connect (dealer, endpoint))
        return MESHQ_EIO;
    return 0;
}

int
meshq_link_send (meshq_link_t *self, zmsg_t **msg_p)
{
    assert (self->dealer);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    int rc = 0;
    zframe_t *frame;
    //  Frame by frame, so that nothing blocks and nothing is copied. A
    //  multipart message is queued whole or not at all: libzmq checks
    //  the high-water mark on the first part only.
    while (rc == 0 && (frame = zmsg_pop (msg))) {
        int flags = ZFRAME_DONTWAIT | (zmsg_size (msg) ? ZFRAME_MORE : 0);
        if (zframe_send (&frame, self->dealer, flags)) {
            zframe_destroy (&frame);
            rc = MESHQ_EAGAIN;
        }
    }
    zmsg_destroy (&msg);
    return rc;
}

void
meshq_link_set_linger (meshq_link_t *self, int linger_ms)
{
    if (self->dealer)
        s_set (self->dealer, ZMQ_LINGER, linger_ms);
}

const char *
meshq_link_endpoint (const meshq_link_t *self)
{
    return self->endpoint;
}
