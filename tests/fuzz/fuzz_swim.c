/*  fuzz_swim.c - libFuzzer target for the membership protocol (SWIM):
    its codec, and the state machine a peer's datagrams drive.

    The input is a script, one step after another: a byte names the
    step, the bytes after it are its operands. Steps feed raw bytes to
    the module as a datagram, or build a well-formed message of a
    chosen type, sender, target and updates (so that the state machine
    is reached past the decoder), or say a connection was lost, a
    member is gone or heard of, or let time pass. The rules that must
    hold: a message that decodes encodes and decodes to itself; the
    table never holds more than its cap; every message the module sends
    decodes; a member reported DEAD or LEFT was reported before. A
    broken rule aborts, which libFuzzer (and the corpus replay in
    ctest) reports.
*/
#include "fuzz.h"
#include "swim.h"

#include <string.h>

#define S_MEMBERS 8   //  The table's cap: small, to be reached.
#define S_IDS     12  //  Ids the script can name: some past the cap.

typedef struct {
    int64_t now;     //  The made-up clock.
    bool seen[256];  //  Ids (by last byte) reported ALIVE once.
} s_world_t;

static int64_t
s_now (void *arg)
{
    return ((s_world_t *)arg)->now;
}

//  Every message the module sends must decode.
static void
s_send (void *arg, const uint8_t *id, const meshq_swim_addr_t *addr,
        const void *data, size_t size)
{
    (void)arg;
    (void)id;
    (void)addr;
    static meshq_swim_update_t updates[MESHQ_SWIM_UPDATES_MAX];
    meshq_swim_msg_t msg;
    const char *why;
    fuzz_check (meshq_codec_swim_decode (data, size, &msg, updates,
                                         MESHQ_SWIM_UPDATES_MAX, &why) == 0);
}

static void
s_change (void *arg, const uint8_t *id, meshq_swim_state_t state, bool fresh,
          uint64_t incarnation)
{
    (void)fresh;
    (void)incarnation;
    s_world_t *world = arg;
    if (state == MESHQ_SWIM_ALIVE)
        world->seen[id[15]] = true;
    else if (state == MESHQ_SWIM_DEAD || state == MESHQ_SWIM_LEFT)
        fuzz_check (world->seen[id[15]]);
}

//  Id number n: fifteen zero bytes and n + 1 (never all zero).
static void
s_id (uint8_t n, uint8_t *id)
{
    memset (id, 0, 16);
    id[15] = (uint8_t)(n % S_IDS + 1);
}

//  A member's record from three script bytes: id, state, counters.
static void
s_record (fuzz_script_t *script, meshq_swim_update_t *record)
{
    memset (record, 0, sizeof *record);
    s_id (fuzz_byte (script), record->id);
    record->ip[10] = record->ip[11] = 0xff;
    record->ip[12] = 127;
    record->ip[15] = 1;
    record->port = 5681;
    uint8_t state = fuzz_byte (script);
    record->state = state % 4;
    uint8_t counters = fuzz_byte (script);
    record->incarnation = 1 + (counters >> 4);
    record->version = counters & 15;
    if (state & 4) {
        record->has_by = true;
        s_id (state >> 3, record->by);
    }
}

//  Decoding what encoding made gives it back.
static void
s_round_trip (const meshq_swim_msg_t *msg, const meshq_swim_update_t *updates)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    if (meshq_codec_swim_encode (&buf, msg, updates, msg->count) == 0) {
        static meshq_swim_update_t again[MESHQ_SWIM_UPDATES_MAX];
        meshq_swim_msg_t back;
        const char *why;
        fuzz_check (meshq_codec_swim_decode (buf.data, buf.size, &back, again,
                                             MESHQ_SWIM_UPDATES_MAX,
                                             &why) == 0);
        //  Probes carry their number; gossip and syncs none.
        bool probe = msg->type != MESHQ_SWIM_MSG_GOSSIP &&
                     msg->type != MESHQ_SWIM_MSG_SYNC;
        fuzz_check (back.type == msg->type && back.count == msg->count &&
                    (!probe || back.seq == msg->seq));
        fuzz_check (memcmp (&back.from.id, &msg->from.id, 16) == 0);
        for (uint32_t i = 0; i < back.count; i++)
            fuzz_check (memcmp (again[i].id, updates[i].id, 16) == 0 &&
                        again[i].state == updates[i].state &&
                        again[i].version == updates[i].version &&
                        again[i].incarnation == updates[i].incarnation);
    }
    meshq_buf_fini (&buf);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_world_t world;
    memset (&world, 0, sizeof world);
    world.now = 1000;
    meshq_swim_config_t config;
    meshq_swim_config_defaults (&config);
    config.max_members = S_MEMBERS;
    config.gossip_queue_max = 16;
    config.relay_max = 4;
    meshq_swim_io_t io = {s_now, s_send, s_change, &world};
    uint8_t me[16];
    memset (me, 0xee, sizeof me);
    meshq_swim_addr_t addr = {{0}, 5680};
    meshq_swim_t *swim = meshq_swim_new (&config, &io, me, 1, &addr, 7);
    fuzz_script_t script = {data, size};
    static meshq_swim_update_t updates[MESHQ_SWIM_UPDATES_MAX];
    while (script.size > 0) {
        uint8_t step = fuzz_byte (&script);
        uint8_t id[16];
        switch (step % 7) {
            case 0: {
                //  Raw bytes as a datagram: length, then the bytes.
                const uint8_t *bytes;
                size_t got =
                    fuzz_take (&script, fuzz_byte (&script) * 4u, &bytes);
                meshq_swim_msg_t msg;
                const char *why;
                if (meshq_codec_swim_decode (bytes, got, &msg, updates,
                                             MESHQ_SWIM_UPDATES_MAX, &why) == 0)
                    s_round_trip (&msg, updates);
                meshq_swim_recv (swim, bytes, got);
                break;
            }
            case 1: {
                //  A well-formed message: type, seq, sender, target, updates.
                meshq_swim_msg_t msg;
                memset (&msg, 0, sizeof msg);
                msg.type = 1 + fuzz_byte (&script) % 6;
                msg.seq = fuzz_byte (&script);
                s_record (&script, &msg.from);
                msg.from.state = MESHQ_SWIM_ALIVE;
                msg.from.has_by = false;
                if (msg.type == MESHQ_SWIM_MSG_PING ||
                    msg.type == MESHQ_SWIM_MSG_REQ) {
                    msg.has_target = true;
                    s_record (&script, &msg.target);
                    if (fuzz_byte (&script) & 1)
                        memcpy (msg.target.id, me, 16);
                }
                msg.reply = fuzz_byte (&script) & 1;
                msg.count = fuzz_byte (&script) % 9;
                for (uint32_t i = 0; i < msg.count; i++)
                    s_record (&script, &updates[i]);
                s_round_trip (&msg, updates);
                meshq_buf_t buf;
                meshq_buf_init (&buf);
                if (meshq_codec_swim_encode (&buf, &msg, updates, msg.count) ==
                    0)
                    meshq_swim_recv (swim, buf.data, buf.size);
                meshq_buf_fini (&buf);
                break;
            }
            case 2:
                //  Time passes, and what is due runs.
                world.now += fuzz_byte (&script) * 25;
                if (world.now >= meshq_swim_next (swim))
                    meshq_swim_tick (swim);
                break;
            case 3:
                s_id (fuzz_byte (&script), id);
                meshq_swim_lost (swim, id);
                break;
            case 4:
                s_id (fuzz_byte (&script), id);
                meshq_swim_gone (swim, id);
                break;
            case 5:
                s_id (fuzz_byte (&script), id);
                meshq_swim_hello (swim, id, 0, &addr);
                break;
            default:
                meshq_swim_join (swim, &addr);
                break;
        }
        meshq_swim_stats_t stats;
        meshq_swim_stats (swim, &stats);
        fuzz_check (stats.alive + stats.suspect + stats.dead <= S_MEMBERS);
        fuzz_check (stats.queued <= 16);
    }
    meshq_swim_destroy (&swim);
    return 0;
}
