/*  client_heartbeat.c - the client's heartbeat actor. See
    client_heartbeat.h.
*/
#include "client_heartbeat.h"
#include "args.h"
#include "buf.h"
#include "codec_args.h"

#include <errno.h>

typedef struct {
    zsock_t *pipe;      //  To the client.
    zsock_t *dealer;    //  To the agent.
    meshq_buf_t ping;   //  The encoded PING arguments.
    int interval_ms;    //  Heartbeat interval.
    int64_t last_pong;  //  When the agent last answered.
    bool lost;          //  LOST was reported and not FOUND since.
} s_self_t;

static int
s_send_ping (s_self_t *self)
{
    zmq_send (zsock_resolve (self->dealer), "PING", 4,
              ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (zsock_resolve (self->dealer), self->ping.data, self->ping.size,
              ZMQ_DONTWAIT);
    int64_t silence = zclock_mono () - self->last_pong;
    if (!self->lost && silence > 3 * self->interval_ms) {
        self->lost = true;
        zsock_send (self->pipe, "s", "LOST");
    }
    return 0;
}

void
meshq_client_heartbeat (zsock_t *pipe, void *arg)
{
    const meshq_heartbeat_args_t *args = arg;
    pthread_setname_np (pthread_self (), "meshq-beat");
    s_self_t self = {.pipe = pipe, .interval_ms = args->interval_ms};
    self.dealer = zsock_new (ZMQ_DEALER);
    assert (self.dealer);
    zsock_set_linger (self.dealer, 0);
    zsock_set_sndhwm (self.dealer, 4);
    zsock_set_maxmsgsize (self.dealer, 4096);
    zsock_set_plain_username (self.dealer, args->user);
    zsock_set_plain_password (self.dealer, args->password);
    int rc = zsock_connect (self.dealer, "%s", args->endpoint);
    meshq_buf_init (&self.ping);
    meshq_args_t ping;
    memset (&ping, 0, sizeof ping);
    memcpy (ping.session, args->session, 16);
    MESHQ_ARGS_MARK (&ping, SESSION);
    meshq_codec_encode_args (&ping, &self.ping, NULL);
    self.last_pong = zclock_mono ();
    zsock_signal (pipe, rc == 0 ? 0 : 1);

    zpoller_t *poller = zpoller_new (pipe, self.dealer, NULL);
    int64_t next = zclock_mono ();
    while (true) {
        int64_t now = zclock_mono ();
        if (now >= next) {
            s_send_ping (&self);
            next = now + self.interval_ms;
        }
        zsock_t *which = zpoller_wait (poller, (int)(next - now));
        //  A signal interrupts the wait (EINTR): heartbeats go on; only
        //  $TERM on the pipe, or a dead context, ends them.
        if (!which && zpoller_terminated (poller) && errno == ETERM)
            break;
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        } else if (which == self.dealer) {
            zmsg_t *msg = zmsg_recv (self.dealer);
            if (msg && zframe_streq (zmsg_first (msg), "PONG")) {
                self.last_pong = zclock_mono ();
                if (self.lost) {
                    self.lost = false;
                    zsock_send (self.pipe, "s", "FOUND");
                }
            }
            zmsg_destroy (&msg);
        }
    }
    zpoller_destroy (&poller);
    zsock_destroy (&self.dealer);
    meshq_buf_fini (&self.ping);
}
