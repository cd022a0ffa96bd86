/*  link.c - a DEALER to a peer. See link.h. */
#include "link.h"
#include "meshq.h"

#include <string.h>

struct _meshq_link_t {
    zsock_t *dealer;  //  To the peer's ROUTER; NULL until open.
    char *endpoint;   //  Where the DEALER connects.
};

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
    zsock_destroy (&self->dealer);
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
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer)
        return MESHQ_EIO;
    uint8_t routing_id[MESHQ_ROUTING_ID_SIZE];
    routing_id[0] = options->prefix;
    memcpy (routing_id + 1, options->node, 16);
    zmq_setsockopt (zsock_resolve (self->dealer), ZMQ_ROUTING_ID, routing_id,
                    sizeof routing_id);
    zsock_set_linger (self->dealer, 0);
    zsock_set_ipv6 (self->dealer, options->ipv6);
    zsock_set_immediate (self->dealer, options->immediate);
    //  Peers never send on our DEALER; anything that comes is unread, so
    //  keep it small and few.
    zsock_set_maxmsgsize (self->dealer, 1024);
    zsock_set_rcvhwm (self->dealer, 16);
    //  Reconnect quickly after a loss, and back off for peers long gone.
    zsock_set_reconnect_ivl (self->dealer, 50);
    zsock_set_reconnect_ivl_max (self->dealer, 1000);
    zsock_set_connect_timeout (self->dealer, options->timeout_ms);
    if (options->curve_public) {
        //  Every node of the mesh has the one keypair: the server's key
        //  is ours, and the server's ZAP handler accepts only that key.
        zsock_set_curve_serverkey (self->dealer, options->curve_public);
        zsock_set_curve_publickey (self->dealer, options->curve_public);
        zsock_set_curve_secretkey (self->dealer, options->curve_secret);
    }
    if (zsock_connect (self->dealer, "%s", endpoint))
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
        zsock_set_linger (self->dealer, linger_ms);
}

const char *
meshq_link_endpoint (const meshq_link_t *self)
{
    return self->endpoint;
}
