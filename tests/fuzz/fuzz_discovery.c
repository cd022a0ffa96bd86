/*  fuzz_discovery.c - libFuzzer target for what discovery takes from the
    network, and the state machine of a peer it drives.

    The input is a script, one step after another: a byte names the
    step, the bytes after it are its operands. Steps feed raw bytes to
    the beacon decoders (plain and sealed) and to the HELLO and PEERS
    decoders, and what they accept to the state machine (peer.c) as a
    beacon, a PEERS entry or a HELLO would be; others make up HELLOs of
    chosen incarnations, sessions and acks, frames, connection events,
    BYE, UNLINK and the passing of time. After every step the rules of peer.h
    must hold: UP and DOWN are reported alternately, starting with UP;
    a link is opened and closed alternately; nothing is sent without a
    link; up means UP or SUSPECT. A broken rule aborts, which libFuzzer
    (and the corpus replay in ctest) reports.
*/
#include "beacon.h"
#include "codec_peer.h"
#include "fuzz.h"
#include "peer.h"

#include <string.h>

typedef struct {
    meshq_peer_t peer;
    bool up;    //  UP reported, DOWN not yet.
    bool link;  //  Link open.
} s_model_t;

static void
s_check (s_model_t *model, unsigned actions)
{
    if (actions & MESHQ_PEER_REPORT_DOWN) {
        fuzz_check (model->up);
        model->up = false;
    }
    if (actions & MESHQ_PEER_CLOSE_LINK) {
        fuzz_check (model->link);
        model->link = false;
    }
    if (actions & MESHQ_PEER_OPEN_LINK) {
        fuzz_check (!model->link);
        model->link = true;
    }
    if (actions & (MESHQ_PEER_SEND_HELLO | MESHQ_PEER_SEND_PING))
        fuzz_check (model->link);
    if (actions & MESHQ_PEER_REPORT_UP) {
        fuzz_check (!model->up);
        fuzz_check (model->link);
        model->up = true;
    }
    if (actions & MESHQ_PEER_FORGET) {
        fuzz_check (!model->up && !model->link);
        meshq_peer_init (&model->peer, 250, 2000, 60000, model->peer.since);
    }
    meshq_peer_state_t state = model->peer.state;
    fuzz_check (model->up ==
                (state == MESHQ_PEER_IS_UP || state == MESHQ_PEER_IS_SUSPECT));
    fuzz_check (model->link == (state != MESHQ_PEER_IS_DOWN));
    //  A try or a session always has our number, which HELLOs carry.
    fuzz_check (!model->link || model->peer.session != 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_script_t script = {data, size};
    s_model_t model = {0};
    int64_t now = 0;
    meshq_peer_init (&model.peer, 250, 2000, 60000, now);
    uint8_t key[MESHQ_BEACON_KEY_SIZE];
    memset (key, 0x42, sizeof key);
    const uint64_t base = 1000;
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_gossip_t entries[16];
    for (int steps = 0; script.size > 0 && steps < 4096; steps++) {
        uint8_t op = fuzz_byte (&script);
        const uint8_t *bytes;
        size_t got;
        unsigned actions = 0;
        meshq_beacon_t beacon;
        switch (op % 12) {
            case 0:  //  A datagram, taken as a plain beacon.
                got = fuzz_take (&script, fuzz_byte (&script) % 96, &bytes);
                if (meshq_beacon_decode (bytes, got, &beacon, NULL, NULL) == 0)
                    actions = meshq_peer_discovered (
                        &model.peer, beacon.incarnation, false, now);
                break;
            case 1:  //  A datagram, with a mesh secret.
                got = fuzz_take (&script, fuzz_byte (&script) % 96, &bytes);
                if (meshq_beacon_open (bytes, got, key, &beacon, NULL, NULL) ==
                    0)
                    actions = meshq_peer_discovered (
                        &model.peer, beacon.incarnation, false, now);
                break;
            case 2: {  //  A sealed beacon of ours: it must open again.
                meshq_beacon_t ours = {.incarnation =
                                           base + fuzz_byte (&script) % 4,
                                       .port = 5681};
                memset (ours.node, 7, sizeof ours.node);
                meshq_beacon_mesh_id ("default", "/", ours.mesh);
                uint8_t sealed[MESHQ_BEACON_SEALED_SIZE];
                meshq_beacon_seal (&ours, key, sealed);
                fuzz_check (meshq_beacon_open (sealed, sizeof sealed, key,
                                               &beacon, NULL, NULL) == 0);
                fuzz_check (beacon.incarnation == ours.incarnation);
                actions =
                    meshq_peer_discovered (&model.peer, beacon.incarnation,
                                           fuzz_byte (&script) & 1, now);
                break;
            }
            case 3: {  //  A HELLO's bytes.
                got = fuzz_take (&script, fuzz_byte (&script), &bytes);
                meshq_hello_t hello;
                if (meshq_codec_decode_hello (bytes, got, &hello, NULL) == 0) {
                    meshq_peer_hello_t said = {.incarnation = hello.incarnation,
                                               .timeout_ms =
                                                   (uint32_t)hello.timeout_ms,
                                               .session = hello.session,
                                               .ack = hello.ack};
                    actions = meshq_peer_hello (&model.peer, &said, now);
                }
                break;
            }
            case 4: {  //  A HELLO made up: nearby incarnations, sessions.
                uint8_t a = fuzz_byte (&script), b = fuzz_byte (&script);
                meshq_hello_t hello = {
                    .protocol = MESHQ_PEER_PROTOCOL,
                    .incarnation = base + a % 3,
                    .mesh = {"default", 7},
                    .vhost = {"/", 1},
                    .endpoint = {"tcp://127.0.0.1:5681", 20},
                    .heartbeat_ms = 250,
                    .timeout_ms = 2000 + 100 * (b % 4),
                    .session = (a >> 2) % 6,
                    .ack = b & 0x80 ? model.peer.session : (b >> 3) % 4,
                };
                memset (hello.node, 7, sizeof hello.node);
                meshq_buf_reset (&buf);
                fuzz_check (meshq_codec_encode_hello (&hello, &buf, NULL) == 0);
                meshq_hello_t back;
                fuzz_check (meshq_codec_decode_hello (buf.data, buf.size, &back,
                                                      NULL) == 0);
                fuzz_check (back.session == hello.session &&
                            (hello.session == 0 || back.ack == hello.ack));
                meshq_peer_hello_t said = {.incarnation = back.incarnation,
                                           .timeout_ms =
                                               (uint32_t)back.timeout_ms,
                                           .session = back.session,
                                           .ack = back.ack,
                                           .probe = (b & 0x40) != 0};
                actions = meshq_peer_hello (&model.peer, &said, now);
                break;
            }
            case 5: {  //  A PEERS frame's bytes: each entry as gossip.
                got = fuzz_take (&script, fuzz_byte (&script) * 4u, &bytes);
                uint32_t count = 0;
                if (meshq_codec_decode_peers (bytes, got, entries, 16, &count,
                                              NULL) == 0)
                    for (uint32_t i = 0; i < count; i++) {
                        fuzz_check (entries[i].incarnation > 0);
                        s_check (&model,
                                 meshq_peer_discovered (&model.peer,
                                                        entries[i].incarnation,
                                                        true, now));
                    }
                break;
            }
            case 6:
                actions = meshq_peer_frame (&model.peer, now);
                break;
            case 7:
                now += 10 * (int64_t)fuzz_byte (&script);
                actions = meshq_peer_tick (&model.peer, now);
                if (actions & MESHQ_PEER_SEND_PING)
                    meshq_peer_sent (&model.peer, now);
                break;
            case 8:
                actions = meshq_peer_connected (&model.peer, now);
                break;
            case 9:
                actions = fuzz_byte (&script) & 1
                              ? meshq_peer_disconnected (&model.peer, now)
                              : meshq_peer_refused (&model.peer, now);
                break;
            case 10:
                actions = meshq_peer_bye (&model.peer, now);
                break;
            default:  //  UNLINK: we ask, or the link closes by agreement.
                if (fuzz_byte (&script) & 1)
                    meshq_peer_unlink_asked (&model.peer, now);
                else
                    actions = meshq_peer_unlinked (&model.peer, now);
                break;
        }
        s_check (&model, actions);
    }
    meshq_buf_fini (&buf);
    return 0;
}
