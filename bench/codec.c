/*  codec.c - envelope encode and decode rates against raw msgpack-c.

    The envelope: 100-byte body, 3 headers, routing key, exchange,
    content type, priority, timestamp, message id. Each rate is the
    median of 5 runs. The ceiling is msgpack-c packing the same map into
    a reused buffer, and unpacking it into a reused zone, measured in the
    same run. Usage: bench_codec [iterations per run]
*/
#include "bench_util.h"
#include "codec.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_RUNS 5

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t s_body[100];
static const uint8_t s_origin[16] = {1, 2,  3,  4,  5,  6,  7,  8,
                                     9, 10, 11, 12, 13, 14, 15, 16};

static meshq_msg_t *
s_message (void)
{
    meshq_msg_t *msg = meshq_msg_new ();
    memset (s_body, 'x', sizeof s_body);
    meshq_msg_set_id (msg, s_origin, 123456789);
    meshq_msg_set_exchange (msg, "orders");
    meshq_msg_set_routing_key (msg, "orders.eu.created");
    meshq_msg_set_content_type (msg, "application/json");
    meshq_msg_set_header_str (msg, "x-tenant", "acme");
    meshq_msg_set_header_int (msg, "x-attempt", 3);
    meshq_msg_set_header_str (msg, "x-trace", "4bf92f3577b34da6");
    meshq_msg_set_priority (msg, 4);
    meshq_msg_set_timestamp (msg, 1700000000000ULL);
    meshq_msg_set_body (msg, s_body, sizeof s_body);
    return msg;
}

static int
s_sbuffer_write (void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write (data, buf, len);
}

//  msgpack-c packing the same map by hand: the ceiling for encode.
static void
s_raw_pack (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 10);
    msgpack_pack_str_with_body (pk, "v", 1);
    msgpack_pack_uint64 (pk, 1);
    msgpack_pack_str_with_body (pk, "o", 1);
    msgpack_pack_bin_with_body (pk, s_origin, 16);
    msgpack_pack_str_with_body (pk, "s", 1);
    msgpack_pack_uint64 (pk, 123456789);
    msgpack_pack_str_with_body (pk, "x", 1);
    msgpack_pack_str_with_body (pk, "orders", 6);
    msgpack_pack_str_with_body (pk, "k", 1);
    msgpack_pack_str_with_body (pk, "orders.eu.created", 17);
    msgpack_pack_str_with_body (pk, "ct", 2);
    msgpack_pack_str_with_body (pk, "application/json", 16);
    msgpack_pack_str_with_body (pk, "h", 1);
    msgpack_pack_map (pk, 3);
    msgpack_pack_str_with_body (pk, "x-tenant", 8);
    msgpack_pack_str_with_body (pk, "acme", 4);
    msgpack_pack_str_with_body (pk, "x-attempt", 9);
    msgpack_pack_int64 (pk, 3);
    msgpack_pack_str_with_body (pk, "x-trace", 7);
    msgpack_pack_str_with_body (pk, "4bf92f3577b34da6", 16);
    msgpack_pack_str_with_body (pk, "p", 1);
    msgpack_pack_uint64 (pk, 4);
    msgpack_pack_str_with_body (pk, "t", 1);
    msgpack_pack_uint64 (pk, 1700000000000ULL);
    msgpack_pack_str_with_body (pk, "b", 1);
    msgpack_pack_bin_with_body (pk, s_body, sizeof s_body);
}

int
main (int argc, char *argv[])
{
    long iterations = argc > 1 ? atol (argv[1]) : 1000000;
    if (iterations <= 0) {
        fprintf (stderr, "usage: bench_codec [iterations per run]\n");
        return 64;
    }
    meshq_msg_t *msg = s_message ();
    uint8_t *frame;
    size_t frame_size;
    if (meshq_msg_encode (msg, &frame, &frame_size))
        return 1;

    //  The hand-packed map must be the same bytes, or the ceiling would
    //  measure something else.
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, s_sbuffer_write);
    s_raw_pack (&pk);
    if (sbuf.size != frame_size || memcmp (sbuf.data, frame, frame_size)) {
        fprintf (stderr, "bench_codec: raw map differs from envelope\n");
        return 1;
    }

    meshq_envelope_t view;
    meshq_codec_decode_envelope (frame, frame_size, 1 << 20, &view, NULL);
    meshq_header_t headers[3];
    meshq_span_t cursor = view.headers_raw;
    for (int i = 0; i < 3; i++)
        meshq_codec_header_next (&cursor, &headers[i]);
    view.headers = headers;
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 2048);

    enum { RAW_PACK, RAW_UNPACK, ENC_VIEW, DEC_VIEW, ENC_MSG, DEC_MSG, N };
    static const char *names[N] = {
        "msgpack-c pack (ceiling)",      "msgpack-c unpack (ceiling)",
        "meshq encode (view, reused)",   "meshq decode (view)",
        "meshq_msg_encode (new buffer)", "meshq_msg_decode (new message)"};
    double rates[N][S_RUNS];
    size_t sink = 0;

    fprintf (stderr,
             "bench_codec: %zu-byte envelope, %ld iterations x %d "
             "runs\n",
             frame_size, iterations, S_RUNS);
    for (int run = 0; run < S_RUNS; run++) {
        fprintf (stderr, "  run %d/%d\n", run + 1, S_RUNS);
        for (int which = 0; which < N; which++) {
            double start = s_now ();
            for (long i = 0; i < iterations; i++) {
                switch (which) {
                    case RAW_PACK:
                        msgpack_sbuffer_clear (&sbuf);
                        s_raw_pack (&pk);
                        sink += sbuf.size;
                        break;
                    case RAW_UNPACK: {
                        msgpack_object obj;
                        size_t off = 0;
                        msgpack_zone_clear (&zone);
                        msgpack_unpack ((const char *)frame, frame_size, &off,
                                        &zone, &obj);
                        sink += obj.via.map.size;
                        break;
                    }
                    case ENC_VIEW:
                        meshq_buf_reset (&buf);
                        meshq_codec_encode_envelope (&view, &buf, NULL);
                        sink += buf.size;
                        break;
                    case DEC_VIEW: {
                        meshq_envelope_t out;
                        meshq_codec_decode_envelope (frame, frame_size, 1 << 20,
                                                     &out, NULL);
                        sink += out.body.size;
                        break;
                    }
                    case ENC_MSG: {
                        uint8_t *data;
                        size_t size;
                        meshq_msg_encode (msg, &data, &size);
                        sink += size;
                        free (data);
                        break;
                    }
                    default: {
                        meshq_msg_t *copy;
                        meshq_msg_decode (frame, frame_size, 0, &copy, NULL);
                        sink += meshq_msg_priority (copy);
                        meshq_msg_destroy (&copy);
                        break;
                    }
                }
            }
            rates[which][run] = (double)iterations / (s_now () - start);
        }
    }
    double median[N];
    for (int which = 0; which < N; which++)
        median[which] = meshq_bench_median (rates[which], S_RUNS);
    printf ("| %-32s | %12s | %9s |\n", "operation", "ops/s (med)", "ceiling");
    printf ("|%s|%s|%s|\n", "----------------------------------",
            "--------------", "-----------");
    for (int which = 0; which < N; which++) {
        double ceiling = median[which % 2 == 0 ? RAW_PACK : RAW_UNPACK];
        printf ("| %-32s | %12.0f | %8.0f%% |\n", names[which], median[which],
                100.0 * median[which] / ceiling);
    }
    fprintf (stderr, "(checksum %zu)\n", sink);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&sbuf);
    meshq_buf_fini (&buf);
    free (frame);
    meshq_msg_destroy (&msg);
    return 0;
}
