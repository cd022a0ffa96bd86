/*  fuzz_store.c - libFuzzer target for the store's on-disk codec.

    The input is read four ways: as a segment header, as a MANIFEST, as
    a whole record (CRC seed 0), and as the type byte and payload of a
    record whose frame and CRC are made right around it, so that the
    payload decoder sees every input and not only the rare ones with a
    matching CRC. Whatever a decoder accepts must encode back to the
    same bytes (the header to the same fields). A failure aborts, which
    libFuzzer (and the corpus replay in ctest) reports.
*/
#include "codec_store.h"
#include "crc32c.h"
#include "fuzz.h"

#include <string.h>

//  Decodes a checked frame; if it decodes, it must re-encode the same.
static void
s_record (const uint8_t *frame, size_t size, uint32_t seed)
{
    meshq_record_t record;
    const char *why = NULL;
    if (meshq_codec_decode_record (frame, size, &record, &why)) {
        fuzz_check (why != NULL);
        return;
    }
    fuzz_check (meshq_codec_record_size (&record) == size);
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    fuzz_check (meshq_codec_encode_record (&record, seed, &buf, &why) == 0);
    fuzz_check (buf.size == size && memcmp (buf.data, frame, size) == 0);
    meshq_buf_fini (&buf);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *why = NULL;
    meshq_segment_header_t header;
    if (meshq_codec_decode_segment (data, size, &header, &why) == 0) {
        uint8_t bytes[MESHQ_SEGMENT_HEADER];
        meshq_codec_encode_segment (&header, bytes);
        meshq_segment_header_t again;
        fuzz_check (meshq_codec_decode_segment (bytes, sizeof bytes, &again,
                                                &why) == 0);
        fuzz_check (memcmp (&again, &header, sizeof header) == 0);
    }
    meshq_manifest_t manifest;
    if (meshq_codec_decode_manifest (data, size, &manifest, &why) == 0) {
        uint64_t *numbers = malloc ((manifest.count + 1) * sizeof *numbers);
        for (uint32_t i = 0; i < manifest.count; i++)
            numbers[i] = meshq_codec_manifest_number (&manifest, i);
        meshq_buf_t buf;
        meshq_buf_init (&buf);
        fuzz_check (meshq_codec_encode_manifest (manifest.store_id, numbers,
                                                 manifest.count, &buf) == 0);
        fuzz_check (buf.size == size && memcmp (buf.data, data, size) == 0);
        meshq_buf_fini (&buf);
        free (numbers);
    }
    size_t frame_size;
    if (meshq_codec_check_record (data, size, 0, &frame_size) == 0)
        s_record (data, frame_size, 0);
    //  The same bytes as type and payload, framed and sealed.
    if (size == 0 || size > (1u << 20))
        return 0;
    uint8_t *frame = malloc (size + 8);
    uint32_t length = (uint32_t)(size - 1);
    for (int i = 0; i < 4; i++)
        frame[i] = (uint8_t)(length >> (8 * i));
    memcpy (frame + 8, data, size);
    uint32_t crc = meshq_crc32c (meshq_crc32c (0, frame, 4), frame + 8, size);
    for (int i = 0; i < 4; i++)
        frame[4 + i] = (uint8_t)(crc >> (8 * i));
    int rc = meshq_codec_check_record (frame, size + 8, 0, &frame_size);
    fuzz_check (rc == 0 || data[0] < MESHQ_RECORD_ENQUEUE ||
                data[0] > MESHQ_RECORD_META);
    if (rc == 0)
        s_record (frame, frame_size, 0);
    free (frame);
    return 0;
}
