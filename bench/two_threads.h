/*
 * Helpers shared by the two-thread memory benchmarks (cross_core.c,
 * split_layer.c): a microsecond clock, medians, and float buffers on pages
 * of their own (so that two threads writing different buffers never share
 * a cache line, nor a pair of lines the adjacent-line prefetcher fetches
 * together).
 */
#ifndef BENCH_TWO_THREADS_H
#define BENCH_TWO_THREADS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + 1e-3 * (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v [n]. */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return v[n / 2];
}

/* n zeroed floats on pages of their own; exits with a message when out of memory. */
static inline float *bench_floats(const char *prog, size_t n)
{
    float *p = aligned_alloc(4096, (n * sizeof(float) + 4095) / 4096 * 4096);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(1);
    }
    memset(p, 0, n * sizeof(float));
    return p;
}

#endif
