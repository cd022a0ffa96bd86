/*  amqp_walk.c - the field-table walker that runs before rabbitmq-c.

    rabbitmq-c 0.11 decodes nested tables and arrays by recursion, with no
    limit: a frame of 128 KiB nested some 18,000 levels deep overflows a
    thread's stack. So every table a client sends is walked here first,
    with an explicit stack of MESHQ_AMQP_TABLE_DEPTH entries and no
    recursion, and refused if it nests deeper or is not well formed.

    The grammar is AMQP 0-9-1's field table as RabbitMQ and rabbitmq-c
    read it (the spec's errata): a table is a 4-byte size and entries of a
    short-string key and a typed value; an array is a 4-byte size and
    typed values. Value types and their sizes: t b B 1, s u 2, I i f 4,
    D 5 (scale and value), l L d T 8, V 0, S x 4-byte size and bytes,
    F a table, A an array. Any other type is refused, as rabbitmq-c does.
    The walker is stricter than rabbitmq-c in one way: every value must
    end within the table or array that holds it.

    It also counts values: rabbitmq-c spends some 40 bytes of memory on
    each, and a frame of 128 KiB holds 65,000 table entries or 130,000
    array values of one or two bytes, some 3 MB kept until the next
    frame. More than MESHQ_AMQP_TABLE_VALUES in one table, at any depth,
    is refused.
*/
#include "amqp_wire.h"
#include "meshq.h"

#include <assert.h>
#include <stdbool.h>

//  The most levels the walker can track, whatever max_depth asks.
#define S_STACK 64

static uint32_t
s_get32 (const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

//  The size of a fixed-size value of type, or -1 if type is not one.
static int
s_fixed_size (uint8_t type)
{
    switch (type) {
        case 'V':
            return 0;
        case 't':
        case 'b':
        case 'B':
            return 1;
        case 's':
        case 'u':
            return 2;
        case 'I':
        case 'i':
        case 'f':
            return 4;
        case 'D':
            return 5;
        case 'l':
        case 'L':
        case 'd':
        case 'T':
            return 8;
        default:
            return -1;
    }
}

ssize_t
meshq_amqp_table_walk (const uint8_t *data, size_t size, int max_depth)
{
    assert (data || size == 0);
    if (max_depth < 1)
        return MESHQ_EDEPTH;
    if (max_depth > S_STACK)
        max_depth = S_STACK;
    size_t end[S_STACK];
    bool is_table[S_STACK];
    if (size < 4 || s_get32 (data) > size - 4)
        return MESHQ_EMALFORMED;
    end[0] = 4 + (size_t)s_get32 (data);
    is_table[0] = true;
    int depth = 1;
    size_t pos = 4;
    size_t values = 0;
    while (depth > 0) {
        size_t limit = end[depth - 1];
        assert (pos <= limit);
        if (pos == limit) {
            depth--;
            continue;
        }
        if (is_table[depth - 1]) {
            size_t key = data[pos];
            if (key + 1 > limit - pos)
                return MESHQ_EMALFORMED;
            pos += 1 + key;
        }
        if (pos == limit)
            return MESHQ_EMALFORMED;  //  A key without a value.
        if (++values > MESHQ_AMQP_TABLE_VALUES)
            return MESHQ_ETOOBIG;
        uint8_t type = data[pos++];
        int fixed = s_fixed_size (type);
        if (fixed >= 0) {
            if ((size_t)fixed > limit - pos)
                return MESHQ_EMALFORMED;
            pos += (size_t)fixed;
            continue;
        }
        if (type != 'S' && type != 'x' && type != 'F' && type != 'A')
            return MESHQ_EMALFORMED;
        if (limit - pos < 4 || s_get32 (data + pos) > limit - pos - 4)
            return MESHQ_EMALFORMED;
        size_t length = s_get32 (data + pos);
        pos += 4;
        if (type == 'S' || type == 'x') {
            pos += length;
            continue;
        }
        if (depth == max_depth)
            return MESHQ_EDEPTH;
        end[depth] = pos + length;
        is_table[depth] = type == 'F';
        depth++;
    }
    return (ssize_t)pos;
}
