/*  fuzz_peer.c - libFuzzer target for the peer frame decoders.

    Feeds the same bytes to every decoder of codec_peer.h. What a decoder
    accepts must be within the documented ranges and must encode again;
    a failure aborts, which libFuzzer (and the corpus replay in ctest)
    reports.
*/
#include "codec_peer.h"
#include "fuzz.h"

#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    meshq_codec_peer_command (data, size);
    meshq_buf_t buf;
    meshq_buf_init (&buf);

    meshq_hello_t hello;
    const char *why = NULL;
    int rc = meshq_codec_decode_hello (data, size, &hello, &why);
    fuzz_check (rc == 0 || why != NULL);
    if (rc == 0) {
        fuzz_check (hello.heartbeat_ms >= MESHQ_HEARTBEAT_MIN &&
                    hello.heartbeat_ms <= MESHQ_HEARTBEAT_MAX);
        fuzz_check (hello.timeout_ms >= 3 * hello.heartbeat_ms);
        fuzz_check (hello.incarnation > 0);
        fuzz_check (meshq_codec_encode_hello (&hello, &buf, &why) == 0);
        meshq_hello_t again;
        fuzz_check (
            meshq_codec_decode_hello (buf.data, buf.size, &again, &why) == 0);
        fuzz_check (memcmp (again.node, hello.node, 16) == 0);
    }

    meshq_gossip_t entries[16];
    uint32_t count = 0;
    why = NULL;
    rc = meshq_codec_decode_peers (data, size, entries, 16, &count, &why);
    fuzz_check (rc == 0 || why != NULL);
    if (rc == 0) {
        fuzz_check (count <= 16);
        meshq_buf_reset (&buf);
        fuzz_check (meshq_codec_encode_peers (entries, count, &buf, &why) == 0);
    }

    uint64_t seq;
    meshq_codec_decode_ping (data, size, &seq, &why);
    meshq_codec_decode_bye (data, size, &why);
    bool done = false;
    why = NULL;
    rc = meshq_codec_decode_unlink (data, size, &done, &why);
    fuzz_check (rc == 0 || (why != NULL && !done));
    if (rc == 0) {
        bool again = !done;
        meshq_buf_reset (&buf);
        fuzz_check (meshq_codec_encode_unlink (done, &buf) == 0);
        fuzz_check (
            meshq_codec_decode_unlink (buf.data, buf.size, &again, &why) == 0 &&
            again == done);
    }
    meshq_buf_fini (&buf);
    return 0;
}
