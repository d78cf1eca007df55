/*
 * bench_time.h — the timing loop the kernel benchmarks (bench_qgemm.c,
 * bench_sparse.c) share: a monotonic clock and the median of repeated
 * runs after a warm-up. Static functions, one copy per benchmark.
 */
#ifndef NETC_BENCH_TIME_H
#define NETC_BENCH_TIME_H

#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { MAX_RUNS = 1000 };

/* The median time of fn(ctx) over at least min_runs runs (more while 0.3 s
 * lasts), after two warm-up runs. */
static double median_s(void (*fn)(void *), void *ctx, int min_runs)
{
    static double t[MAX_RUNS];
    for (int i = 0; i < 2; i++)
        fn(ctx);
    int n = 0;
    double start = now_s();
    while (n < MAX_RUNS && (n < min_runs || now_s() - start < 0.3)) {
        double t0 = now_s();
        fn(ctx);
        t[n++] = now_s() - t0;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return t[n / 2];
}

#endif
