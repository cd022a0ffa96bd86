/*  bench_util.c - statistics shared by the benchmark programs.

    See bench_util.h.
*/
#include "bench_util.h"

#include <stdlib.h>

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void
meshq_bench_sort (double *values, int count)
{
    qsort (values, (size_t)count, sizeof *values, s_compare);
}

double
meshq_bench_median (double *values, int count)
{
    meshq_bench_sort (values, count);
    return values[count / 2];
}
