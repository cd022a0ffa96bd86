/*  bench_util.h - statistics shared by the benchmark programs.

    Each bench program repeats a measurement and reports the median of
    the runs; these sort the samples and pick it, the same way in every
    program.
*/
#ifndef MESHQ_BENCH_UTIL_H_INCLUDED
#define MESHQ_BENCH_UTIL_H_INCLUDED

//  Sorts count values in place, smallest first.
void meshq_bench_sort (double *values, int count);

//  The median of count values (the upper one of an even count). Sorts
//  values in place.
double meshq_bench_median (double *values, int count);

#endif
