/*  bench_util.c - statistics and formats shared by the benchmark
    programs.

    See bench_util.h.
*/
#include "bench_util.h"

#include <stdio.h>
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

//  "123,456" or "-".
const char *
meshq_bench_format_count (char *text, size_t size, double value)
{
    if (value <= 0)
        return "-";
    long long n = (long long)(value + 0.5);
    if (n >= 1000000)
        snprintf (text, size, "%lld,%03lld,%03lld", n / 1000000,
                  n / 1000 % 1000, n % 1000);
    else if (n >= 1000)
        snprintf (text, size, "%lld,%03lld", n / 1000, n % 1000);
    else
        snprintf (text, size, "%lld", n);
    return text;
}

//  A time in us as "412 us", "1.71 ms" or "1.23 s".
const char *
meshq_bench_format_time (char *text, size_t size, double us)
{
    if (us <= 0)
        return "-";
    if (us >= 1000000)
        snprintf (text, size, "%.2f s", us / 1000000);
    else if (us >= 1000)
        snprintf (text, size, "%.2f ms", us / 1000);
    else
        snprintf (text, size, "%.0f us", us);
    return text;
}

void
meshq_bench_load_average (char *text, size_t size)
{
    FILE *file = fopen ("/proc/loadavg", "r");
    double one = 0, five = 0, fifteen = 0;
    if (file) {
        if (fscanf (file, "%lf %lf %lf", &one, &five, &fifteen) != 3)
            one = five = fifteen = 0;
        fclose (file);
    }
    snprintf (text, size, "%.2f %.2f %.2f", one, five, fifteen);
}
