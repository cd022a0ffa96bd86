/*  fuzz_control.c - libFuzzer target for the request and reply decoders
    (codec_control.h): agents decode requests from any client, tools
    decode replies. Nothing may crash, read out of bounds, or accept
    more rows than it has room for; a failure aborts.
*/
#include "codec_control.h"
#include "codec_json.h"
#include "meshq.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_check (bool condition)
{
    if (!condition)
        abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint64_t rid;
    const char *why = NULL;
    int rc = meshq_codec_decode_request (data, size, &rid, &why);
    s_check (rc == 0 || why != NULL);

    meshq_error_reply_t error;
    meshq_codec_decode_error (data, size, &error, &why);
    meshq_status_t status;
    meshq_codec_decode_status (data, size, &status, &why);

    meshq_peer_row_t rows[8];
    uint32_t count = 99;
    if (meshq_codec_decode_peer_list (data, size, &rid, rows, 8, &count,
                                      &why) == 0)
        s_check (count <= 8);
    meshq_counter_t counters[8];
    if (meshq_codec_decode_counters (data, size, counters, 8, &count, &why) ==
        0)
        s_check (count <= 8);

    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_span_t value;
    if (meshq_codec_map_get (data, size, "peers", &value) == 0)
        meshq_codec_json (value.data, value.size, &buf);
    meshq_buf_reset (&buf);
    if (meshq_codec_map_without (data, size, "rid", &buf) == 0) {
        //  What remains is one map, which the key-by-key copy keeps
        //  readable: every pair was read whole.
        meshq_span_t again;
        int found = meshq_codec_map_get (buf.data, buf.size, "rid", &again);
        s_check (found == MESHQ_ENOTFOUND);
    }
    meshq_buf_fini (&buf);
    return 0;
}
