/*  bench_util.h - statistics shared by the benchmark programs.

    Each bench program repeats a measurement and reports the median of
    the runs; these sort the samples and pick it, the same way in every
    program.
*/
#ifndef MESHQ_BENCH_UTIL_H_INCLUDED
#define MESHQ_BENCH_UTIL_H_INCLUDED

#include <stddef.h>

//  Sorts count values in place, smallest first.
void meshq_bench_sort (double *values, int count);

//  The median of count values (the upper one of an even count). Sorts
//  values in place.
double meshq_bench_median (double *values, int count);

//  value rounded, with thousands separated ("123,456"), in text; "-" if
//  value is 0 or less. Returns the text.
const char *meshq_bench_format_count (char *text, size_t size, double value);

//  A time in us as "412 us", "1.71 ms" or "1.23 s" in text; "-" if it
//  is 0 or less. Returns the text.
const char *meshq_bench_format_time (char *text, size_t size, double us);

//  The load averages over 1, 5 and 15 minutes, "2.75 5.31 6.11".
void meshq_bench_load_average (char *text, size_t size);

#endif
