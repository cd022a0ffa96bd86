/*  fuzz_amqp.c - libFuzzer target for the AMQP 0-9-1 input path: the
    parser over whatever a client may send, with rabbitmq-c decoding what
    the parser lets through.

    The input is read as a stream twice: as it is, and after the protocol
    header (so that mutations reach the frames even when they break the
    header). Each read is done whole and again in pieces of 7 bytes; both
    must yield the same events. Every method and content header decoded
    must encode back within frame_max, and that encoding must read back
    to itself. A failure aborts, which libFuzzer (and the corpus replay
    in ctest) reports.
*/
#include "amqp_wire.h"
#include "fuzz.h"

#include <string.h>

//  The events of one read, each encoded back, in out (cap bytes).
typedef struct {
    uint8_t *out;
    size_t size;
    size_t cap;
    int events;
    int last_rc;
} s_trace_t;

static ssize_t
s_encode (const meshq_amqp_event_t *event, uint8_t *buf, size_t cap)
{
    switch (event->type) {
        case MESHQ_AMQP_METHOD:
            return meshq_amqp_encode_method (buf, cap, MESHQ_AMQP_FRAME_MAX,
                                             event->channel, event->method.id,
                                             event->method.decoded);
        case MESHQ_AMQP_HEADER:
            return meshq_amqp_encode_header (buf, cap, MESHQ_AMQP_FRAME_MAX,
                                             event->channel, event->body_size,
                                             event->properties);
        case MESHQ_AMQP_BODY:
            return meshq_amqp_encode_body (buf, cap, MESHQ_AMQP_FRAME_MAX,
                                           event->channel, event->body,
                                           event->body_chunk);
        case MESHQ_AMQP_HEARTBEAT:
            return meshq_amqp_encode_heartbeat (buf, cap);
        default:
            return 0;
    }
}

//  A re-encoded method or header reads back to the same bytes.
static void
s_check_again (const uint8_t *frame, size_t size)
{
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    size_t used;
    meshq_amqp_event_t event;
    meshq_amqp_parser_parse (parser,
                             (const uint8_t *)MESHQ_AMQP_PROTOCOL_HEADER,
                             MESHQ_AMQP_PROTOCOL_HEADER_SIZE, &used, &event);
    fuzz_check (event.type == MESHQ_AMQP_PROTOCOL_OK);
    fuzz_check (meshq_amqp_parser_parse (parser, frame, size, &used, &event) ==
                0);
    fuzz_check (used == size);
    uint8_t *again = malloc (size);
    ssize_t rc = s_encode (&event, again, size);
    fuzz_check (rc == (ssize_t)size && memcmp (again, frame, size) == 0);
    free (again);
    meshq_amqp_parser_destroy (&parser);
}

static void
s_read (const uint8_t *data, size_t size, size_t piece, s_trace_t *trace)
{
    meshq_amqp_parser_t *parser = meshq_amqp_parser_new ();
    size_t off = 0;
    trace->last_rc = 0;
    while (off < size) {
        size_t end = size - off > piece ? off + piece : size;
        size_t taken = 0;
        while (true) {
            size_t used;
            meshq_amqp_event_t event;
            int rc = meshq_amqp_parser_parse (parser, data + off + taken,
                                              end - off - taken, &used, &event);
            fuzz_check (used <= end - off - taken);
            taken += used;
            trace->last_rc = rc;
            if (event.type == MESHQ_AMQP_MORE)
                break;
            trace->events++;
            if (rc) {
                fuzz_check (event.type == MESHQ_AMQP_ERROR ||
                            event.type == MESHQ_AMQP_PROTOCOL_BAD);
                meshq_amqp_parser_destroy (&parser);
                return;
            }
            uint8_t *at = trace->out + trace->size;
            ssize_t written = s_encode (&event, at, trace->cap - trace->size);
            fuzz_check (written >= 0);
            if (event.type == MESHQ_AMQP_METHOD ||
                event.type == MESHQ_AMQP_HEADER)
                s_check_again (at, (size_t)written);
            trace->size += (size_t)written;
        }
        fuzz_check (taken == end - off);
        off = end;
    }
    meshq_amqp_parser_destroy (&parser);
}

static void
s_stream (const uint8_t *data, size_t size)
{
    //  Re-encodings are no larger than what was read, plus the
    //  normalised booleans' nothing: the input's size bounds them.
    size_t cap = size + MESHQ_AMQP_FRAME_MAX;
    s_trace_t whole = {malloc (cap), 0, cap, 0, 0};
    s_trace_t pieces = {malloc (cap), 0, cap, 0, 0};
    s_read (data, size, SIZE_MAX, &whole);
    s_read (data, size, 7, &pieces);
    fuzz_check (whole.events == pieces.events);
    fuzz_check (whole.last_rc == pieces.last_rc);
    fuzz_check (whole.size == pieces.size);
    fuzz_check (memcmp (whole.out, pieces.out, whole.size) == 0);
    free (whole.out);
    free (pieces.out);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    s_stream (data, size);
    uint8_t *framed = malloc (size + MESHQ_AMQP_PROTOCOL_HEADER_SIZE);
    memcpy (framed, MESHQ_AMQP_PROTOCOL_HEADER,
            MESHQ_AMQP_PROTOCOL_HEADER_SIZE);
    if (size)
        memcpy (framed + MESHQ_AMQP_PROTOCOL_HEADER_SIZE, data, size);
    s_stream (framed, size + MESHQ_AMQP_PROTOCOL_HEADER_SIZE);
    free (framed);
    return 0;
}
