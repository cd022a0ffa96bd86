/*  fuzz_codec.c - libFuzzer target for the envelope decoder.

    Feeds arbitrary bytes to the decoder. Whatever it accepts must
    re-encode to the very same bytes, through the codec view and through
    meshq_msg_t, and every header must iterate. A failure aborts, which
    libFuzzer (and the corpus replay in ctest) reports.
*/
#include "codec.h"
#include "fuzz.h"

#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    meshq_envelope_t envelope;
    const char *why = NULL;
    int rc =
        meshq_codec_decode_envelope (data, size, 1u << 20, &envelope, &why);
    fuzz_check (why != NULL || rc == 0);
    meshq_msg_t *msg = NULL;
    int msg_rc = meshq_msg_decode (data, size, 1u << 20, &msg, NULL);
    fuzz_check (msg_rc == rc);
    if (rc)
        return 0;

    //  Headers iterate to exactly the decoded count.
    meshq_header_t headers[MESHQ_MAX_HEADERS];
    meshq_span_t cursor = envelope.headers_raw;
    uint32_t count = 0;
    while (meshq_codec_header_next (&cursor, &headers[count]))
        count++;
    fuzz_check (count == envelope.header_count);

    //  Re-encoding gives the same bytes, from the view...
    envelope.headers = headers;
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    fuzz_check (meshq_codec_encode_envelope (&envelope, &buf, &why) == 0);
    fuzz_check (buf.size == size && memcmp (buf.data, data, size) == 0);
    meshq_buf_fini (&buf);

    //  ...and from a message.
    uint8_t *again;
    size_t again_size;
    fuzz_check (meshq_msg_encode (msg, &again, &again_size) == 0);
    fuzz_check (again_size == size && memcmp (again, data, size) == 0);
    free (again);
    meshq_msg_destroy (&msg);
    return 0;
}
