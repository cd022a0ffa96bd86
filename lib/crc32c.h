/*  crc32c.h - CRC-32C (Castagnoli), the checksum of store records.

    meshq_crc32c extends a running checksum: start with 0, feed the bytes
    in as many pieces as you like, and the result is the CRC-32C of their
    concatenation (the iSCSI/ext4 CRC: reflected polynomial 0x82f63b78,
    initial value and final xor 0xffffffff, so "123456789" gives
    0xe3069283). It uses the SSE4.2 crc32 instruction when the CPU has
    it, checked at run time, and slice-by-8 tables otherwise. Pure: no
    state but the tables, which are built once, thread-safely.
*/
#ifndef MESHQ_CRC32C_H_INCLUDED
#define MESHQ_CRC32C_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Returns the CRC-32C of what crc covered followed by size bytes at data.
uint32_t meshq_crc32c (uint32_t crc, const void *data, size_t size);

//  The same with the portable tables only, so tests can compare the two
//  paths on a machine that has the instruction.
uint32_t meshq_crc32c_sw (uint32_t crc, const void *data, size_t size);

#endif
