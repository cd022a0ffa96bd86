/*  test_store_codec.c - the store's bytes on disk: CRC-32C, segment
    headers, the MANIFEST and records, each with its malformed forms.
*/
#include "codec_store.h"
#include "crc32c.h"
#include "meshq.h"
#include "testutil.h"

#include <criterion/criterion.h>

static const uint8_t s_id[16] = {9, 8, 7, 6, 5, 4, 3, 2,
                                 1, 0, 1, 2, 3, 4, 5, 6};
static const uint8_t s_origin[16] = {0xaa, 1, 2,  3,  4,  5,  6,  7,
                                     8,    9, 10, 11, 12, 13, 14, 0xbb};

static void
s_put32 (uint8_t *p, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(value >> (8 * i));
}

//  Recomputes the CRC of a record after a test changed its bytes.
static void
s_reseal (uint8_t *p, size_t frame, uint32_t seed)
{
    uint32_t crc = meshq_crc32c (seed, p, 4);
    s_put32 (p + 4, meshq_crc32c (crc, p + 8, frame - 8));
}

Test (store_codec, crc32c_matches_the_standard_check_value)
{
    cr_assert_eq (meshq_crc32c (0, "123456789", 9), 0xe3069283u);
    cr_assert_eq (meshq_crc32c_sw (0, "123456789", 9), 0xe3069283u);
    cr_assert_eq (meshq_crc32c (0, "", 0), 0);
    //  RFC 3720 B.4: 32 bytes of zeros, and of 0xff.
    uint8_t block[32];
    memset (block, 0, sizeof block);
    cr_assert_eq (meshq_crc32c (0, block, 32), 0x8a9136aau);
    memset (block, 0xff, sizeof block);
    cr_assert_eq (meshq_crc32c (0, block, 32), 0x62a8ab43u);
}

Test (store_codec, crc32c_paths_agree_at_every_length_and_alignment)
{
    uint64_t state = 42;
    uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)testutil_random (&state);
    for (size_t start = 0; start < 9; start++)
        for (size_t size = 0; size + start <= sizeof data; size++) {
            uint32_t hw = meshq_crc32c (0, data + start, size);
            cr_assert_eq (hw, meshq_crc32c_sw (0, data + start, size));
            //  Split anywhere: a running CRC is the CRC of the whole.
            size_t cut = size / 3;
            uint32_t parts = meshq_crc32c (meshq_crc32c (0, data + start, cut),
                                           data + start + cut, size - cut);
            cr_assert_eq (hw, parts);
        }
}

Test (store_codec, segment_header_round_trips)
{
    meshq_segment_header_t header = {.number = 0x123456789aULL,
                                     .created = 1700000000000ULL};
    memcpy (header.store_id, s_id, 16);
    uint8_t bytes[MESHQ_SEGMENT_HEADER];
    meshq_codec_encode_segment (&header, bytes);
    cr_assert_arr_eq (bytes, "MESHQSEG", 8);
    meshq_segment_header_t back;
    const char *why = NULL;
    cr_assert_eq (meshq_codec_decode_segment (bytes, sizeof bytes, &back, &why),
                  0);
    cr_assert_eq (back.number, header.number);
    cr_assert_eq (back.created, header.created);
    cr_assert_eq (back.format, MESHQ_STORE_FORMAT);
    cr_assert_arr_eq (back.store_id, s_id, 16);
}

Test (store_codec, segment_header_refuses_foreign_future_and_damaged)
{
    meshq_segment_header_t header = {.number = 1};
    uint8_t bytes[MESHQ_SEGMENT_HEADER];
    meshq_codec_encode_segment (&header, bytes);
    meshq_segment_header_t back;
    const char *why;
    for (size_t size = 0; size < sizeof bytes; size++)
        cr_assert_eq (meshq_codec_decode_segment (bytes, size, &back, &why),
                      MESHQ_ETRUNCATED, "size %zu", size);
    uint8_t copy[MESHQ_SEGMENT_HEADER];
    memcpy (copy, bytes, sizeof copy);
    copy[0] = 'X';
    cr_assert_eq (meshq_codec_decode_segment (copy, sizeof copy, &back, &why),
                  MESHQ_EMALFORMED);
    cr_assert (strstr (why, "not a meshq segment"));
    memcpy (copy, bytes, sizeof copy);
    copy[8] = 2;  //  Format 2, the CRC no longer matters.
    cr_assert_eq (meshq_codec_decode_segment (copy, sizeof copy, &back, &why),
                  MESHQ_EVERSION);
    cr_assert_eq (back.format, 2);
    for (size_t i = 12; i < sizeof copy; i++) {
        memcpy (copy, bytes, sizeof copy);
        copy[i] ^= 0x10;
        cr_assert_eq (
            meshq_codec_decode_segment (copy, sizeof copy, &back, &why),
            MESHQ_ECORRUPT, "byte %zu", i);
    }
}

Test (store_codec, manifest_round_trips_and_refuses_damage)
{
    uint64_t numbers[] = {3, 7, 0x100000000ULL};
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    cr_assert_eq (meshq_codec_encode_manifest (s_id, numbers, 3, &buf), 0);
    cr_assert_eq (buf.size, MESHQ_MANIFEST_HEAD + 24 + MESHQ_MANIFEST_TAIL);
    meshq_manifest_t manifest;
    const char *why;
    cr_assert_eq (
        meshq_codec_decode_manifest (buf.data, buf.size, &manifest, &why), 0);
    cr_assert_eq (manifest.count, 3);
    for (uint32_t i = 0; i < 3; i++)
        cr_assert_eq (meshq_codec_manifest_number (&manifest, i), numbers[i]);
    cr_assert_arr_eq (manifest.store_id, s_id, 16);
    for (size_t size = 8; size < buf.size; size++)
        cr_assert_lt (
            meshq_codec_decode_manifest (buf.data, size, &manifest, &why), 0);
    for (size_t i = 16; i < buf.size; i++) {
        buf.data[i] ^= 1;
        cr_assert_eq (
            meshq_codec_decode_manifest (buf.data, buf.size, &manifest, &why),
            MESHQ_ECORRUPT, "byte %zu", i);
        buf.data[i] ^= 1;
    }
    buf.data[8] = 9;
    cr_assert_eq (
        meshq_codec_decode_manifest (buf.data, buf.size, &manifest, &why),
        MESHQ_EVERSION);
    meshq_buf_reset (&buf);
    uint64_t unordered[] = {5, 5};
    meshq_codec_encode_manifest (s_id, unordered, 2, &buf);
    cr_assert_eq (
        meshq_codec_decode_manifest (buf.data, buf.size, &manifest, &why),
        MESHQ_EMALFORMED);
    cr_assert (strstr (why, "ascending"));
    cr_assert_eq (meshq_codec_decode_manifest ("hello world, not ours", 21,
                                               &manifest, &why),
                  MESHQ_EMALFORMED);
    meshq_buf_fini (&buf);
}

//  Encodes record, checks its size, frame and decoded fields.
static void
s_round_trip (const meshq_record_t *record)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    uint32_t seed = meshq_codec_segment_seed (s_id, 5);
    const char *why = NULL;
    cr_assert_eq (meshq_codec_encode_record (record, seed, &buf, &why), 0, "%s",
                  why);
    cr_assert_eq (buf.size, meshq_codec_record_size (record));
    size_t frame = 0;
    cr_assert_eq (meshq_codec_check_record (buf.data, buf.size, seed, &frame),
                  0);
    cr_assert_eq (frame, buf.size);
    meshq_record_t back;
    cr_assert_eq (meshq_codec_decode_record (buf.data, frame, &back, &why), 0,
                  "%s", why);
    cr_assert_eq (back.type, record->type);
    cr_assert_eq (back.name_size, record->name_size);
    cr_assert_arr_eq (back.name, record->name, record->name_size);
    cr_assert_eq (back.seq, record->seq);
    cr_assert_eq (back.ordinal, record->ordinal);
    cr_assert_eq (back.version, record->version);
    cr_assert_eq (back.size, record->size);
    cr_assert_eq (back.data == NULL, record->data == NULL);
    if (record->data && record->size)
        cr_assert_arr_eq (back.data, record->data, record->size);
    if (record->origin)
        cr_assert_arr_eq (back.origin, record->origin, 16);
    //  Another segment's seed never accepts it.
    cr_assert_eq (meshq_codec_check_record (buf.data, buf.size,
                                            meshq_codec_segment_seed (s_id, 6),
                                            &frame),
                  MESHQ_ECORRUPT);
    meshq_buf_fini (&buf);
}

Test (store_codec, records_round_trip)
{
    static uint8_t big[70000];
    memset (big, 'e', sizeof big);
    char name[256];
    memset (name, 'q', 255);
    name[255] = 0;
    uint64_t numbers[] = {0,         127,        128,
                          255,       256,        65535,
                          65536,     UINT32_MAX, (uint64_t)UINT32_MAX + 1,
                          UINT64_MAX};
    size_t sizes[] = {0, 1, 255, 256, 65535, 65536, sizeof big};
    for (size_t n = 0; n < sizeof numbers / sizeof *numbers; n++) {
        meshq_record_t enqueue = {.type = MESHQ_RECORD_ENQUEUE,
                                  .name = "jobs",
                                  .name_size = 4,
                                  .origin = s_origin,
                                  .seq = numbers[n],
                                  .ordinal = numbers[(n + 3) % 10],
                                  .data = big,
                                  .size = 100};
        s_round_trip (&enqueue);
        meshq_record_t ack = {.type = MESHQ_RECORD_ACK,
                              .name = name,
                              .name_size = (uint32_t)(n * 25),
                              .origin = s_origin,
                              .seq = numbers[n]};
        s_round_trip (&ack);
        meshq_record_t meta = {.type = MESHQ_RECORD_META,
                               .name = "queue/jobs",
                               .name_size = 10,
                               .version = numbers[n]};
        s_round_trip (&meta);  //  Tombstone.
    }
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        meshq_record_t enqueue = {.type = MESHQ_RECORD_ENQUEUE,
                                  .name = name,
                                  .name_size = 255,
                                  .origin = s_origin,
                                  .data = big,
                                  .size = (uint32_t)sizes[s]};
        s_round_trip (&enqueue);
        meshq_record_t meta = {.type = MESHQ_RECORD_META,
                               .name = "k",
                               .name_size = 1,
                               .version = 1,
                               .data = big,
                               .size = (uint32_t)sizes[s]};
        s_round_trip (&meta);  //  Empty values are not tombstones.
    }
}

Test (store_codec, encoder_refuses_what_the_format_cannot_carry)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    const char *why;
    char name[300];
    memset (name, 'q', sizeof name);
    meshq_record_t record = {.type = MESHQ_RECORD_ENQUEUE,
                             .name = name,
                             .name_size = 256,
                             .origin = s_origin};
    cr_assert_eq (meshq_codec_encode_record (&record, 0, &buf, &why),
                  MESHQ_ETOOBIG);
    record.name = "\xff";
    record.name_size = 1;
    cr_assert_eq (meshq_codec_encode_record (&record, 0, &buf, &why),
                  MESHQ_EINVAL);
    record.name = "q";
    record.origin = NULL;
    cr_assert_eq (meshq_codec_encode_record (&record, 0, &buf, &why),
                  MESHQ_EINVAL);
    record.type = 9;
    cr_assert_eq (meshq_codec_encode_record (&record, 0, &buf, &why),
                  MESHQ_EINVAL);
    record.type = MESHQ_RECORD_META;
    record.data = "x";
    record.size = MESHQ_STORE_MAX_META + 1;
    cr_assert_eq (meshq_codec_encode_record (&record, 0, &buf, &why),
                  MESHQ_ETOOBIG);
    cr_assert_eq (buf.size, 0);
    meshq_buf_fini (&buf);
}

Test (store_codec, frame_check_names_each_kind_of_damage)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    uint32_t seed = 77;
    meshq_record_t record = {.type = MESHQ_RECORD_ACK,
                             .name = "jobs",
                             .name_size = 4,
                             .origin = s_origin,
                             .seq = 99};
    cr_assert_eq (meshq_codec_encode_record (&record, seed, &buf, NULL), 0);
    size_t frame;
    for (size_t size = 0; size < buf.size; size++)
        cr_assert_eq (meshq_codec_check_record (buf.data, size, seed, &frame),
                      MESHQ_ETRUNCATED, "prefix %zu", size);
    for (size_t i = 0; i < buf.size; i++)
        for (int bit = 0; bit < 8; bit++) {
            buf.data[i] ^= (uint8_t)(1 << bit);
            int rc =
                meshq_codec_check_record (buf.data, buf.size, seed, &frame);
            cr_assert_neq (rc, 0, "byte %zu bit %d accepted", i, bit);
            buf.data[i] ^= (uint8_t)(1 << bit);
        }
    uint8_t copy[64];
    memcpy (copy, buf.data, buf.size);
    copy[8] = 0;
    cr_assert_eq (meshq_codec_check_record (copy, buf.size, seed, &frame),
                  MESHQ_ETYPE);
    memcpy (copy, buf.data, buf.size);
    s_put32 (copy, 0xfffffff0u);
    cr_assert_eq (meshq_codec_check_record (copy, buf.size, seed, &frame),
                  MESHQ_ETOOBIG);
    meshq_buf_fini (&buf);
}

Test (store_codec, decoder_refuses_bad_payloads_with_good_crcs)
{
    uint32_t seed = 5;
    //  Payloads that are not what their type says, each sealed with a
    //  correct CRC: only the decoder stands between them and the index.
    const char *payloads[] = {
        "c0",              //  nil, not an array
        "92 a1 71 c4 10",  //  ack of 2 fields, truncated
        "93 a1 71 c4 0f 000102030405060708090a0b0c0d0e 01",  //  15-byte origin
        "93 a1 71 c4 10 000102030405060708090a0b0c0d0e0f ff",     //  neg seq
        "93 a1 71 c4 10 000102030405060708090a0b0c0d0e0f cc 05",  //  long form
        "93 a1 71 c4 10 000102030405060708090a0b0c0d0e0f 01 01",  //  extra byte
        "93 a2 c3 28 c4 10 000102030405060708090a0b0c0d0e0f 01",  //  bad UTF-8
        "94 a1 71 c4 10 000102030405060708090a0b0c0d0e0f 01 01",  //  4 fields
    };
    for (size_t n = 0; n < sizeof payloads / sizeof *payloads; n++) {
        uint8_t frame[128] = {0};
        size_t size = testutil_unhex (payloads[n], frame + 9, sizeof frame - 9);
        s_put32 (frame, (uint32_t)size);
        frame[8] = MESHQ_RECORD_ACK;
        s_reseal (frame, 9 + size, seed);
        size_t checked;
        cr_assert_eq (
            meshq_codec_check_record (frame, 9 + size, seed, &checked), 0);
        meshq_record_t record;
        const char *why = NULL;
        cr_assert_neq (
            meshq_codec_decode_record (frame, checked, &record, &why), 0,
            "payload %zu accepted", n);
        cr_assert_not_null (why);
    }
}
