/*
 * What moving training data between two cores costs on this machine: the
 * memory traffic of a two-thread training step of the seed model, without
 * its arithmetic. Each "step" is a few phases separated by barriers; every
 * phase is timed on each thread, and the median over the steps printed.
 *
 *     cross_core [--kb KB] [--steps S]
 *
 * KB (default 215: the seed model's 55,050 parameters) is the size of the
 * parameters W and of a gradient G; a core's half is KB/2.
 *
 * shared: the data-parallel step onnxc's two-thread training runs
 * (runtime/train/shards.h). Both threads read all of W (their forward
 * passes), then each writes its half of W (the optimizer's update), so the
 * lines it writes were just read by the other core.
 *     read W        every line of W, half of them last written by the other core
 *     write half    the update's stores to lines the other core holds
 *     write local   the same stores to lines only this core has touched
 *                   (scale: what the update costs without the other core)
 *
 * replicated: each thread keeps its own copy of W and writes its own G;
 * after a barrier each reads the other's G to add it to its own (the sum
 * every data-parallel step needs) and updates its whole copy of W.
 *     write G       this step's gradient, over lines the other core read
 *                   in the previous step's sum
 *     read other G  the other core's gradient, added into this core's
 *     write own W   the update of this core's copy
 *
 * The loops are plain C over floats (vectorized by the compiler); what they
 * measure is cache-line movement, not arithmetic.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifndef _OPENMP

int main(void)
{
    fprintf(stderr, "cross_core: built without OpenMP, nothing to measure\n");
    return 1;
}

#else
#include <omp.h>

#include "two_threads.h"

static float *alloc_floats(size_t n)
{
    float *p = bench_floats("cross_core", n);
    for (size_t i = 0; i < n; i++) p[i] = (float)(i % 97) * 1e-3f;
    return p;
}

/* The sum of x [n] in 8 chains, so the loop is bound by loads, not by add latency. */
static float read_all(const float *x, size_t n)
{
    float s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int u = 0; u < 8; u++) s[u] += x[i + u];
    for (; i < n; i++) s[0] += x[i];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

static void update(float *w, const float *g, size_t n)
{
    for (size_t i = 0; i < n; i++) w[i] -= 1e-3f * g[i];
}

static void add(float *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

enum { PHASES = 3 };

/* t[phase][thread][step] in microseconds. */
typedef struct timing {
    double *t[PHASES][2];
} timing;

static void report(const char *scenario, const char *const names[PHASES], timing *tm, int steps, size_t bytes[PHASES])
{
    for (int p = 0; p < PHASES; p++)
        for (int th = 0; th < 2; th++) {
            const double us = bench_median(tm->t[p][th], steps);
            const double lines = (double)bytes[p] / 64.0;
            printf("%-10s %-13s thread %d: %8.1f us  %6.1f ns per 64-byte line (%zu KB)\n", scenario, names[p], th,
                   us, 1e3 * us / lines, bytes[p] / 1024);
        }
}

int main(int argc, char **argv)
{
    size_t kb = 215;
    int steps = 400;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--kb") && i + 1 < argc) kb = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--kb KB] [--steps S]\n", argv[0]);
            return 2;
        }
    }
    if (kb < 1 || steps < 1) {
        fprintf(stderr, "cross_core: --kb and --steps must be positive\n");
        return 2;
    }
    const size_t n = kb * 1024 / sizeof(float), half = n / 2;
    float *w = alloc_floats(n), *g = alloc_floats(n), *local[2] = {alloc_floats(n), alloc_floats(n)};
    float *rep_w[2] = {alloc_floats(n), alloc_floats(n)}, *rep_g[2] = {alloc_floats(n), alloc_floats(n)};
    float *sum[2] = {alloc_floats(n), alloc_floats(n)};
    timing shared, rep;
    for (int p = 0; p < PHASES; p++)
        for (int th = 0; th < 2; th++) {
            shared.t[p][th] = calloc((size_t)steps, sizeof(double));
            rep.t[p][th] = calloc((size_t)steps, sizeof(double));
            if (!shared.t[p][th] || !rep.t[p][th]) return 1;
        }
    volatile float sink = 0;
    int threads = 0;
#pragma omp parallel num_threads(2)
    {
        const int me = omp_get_thread_num();
#pragma omp single
        threads = omp_get_num_threads();
        if (threads == 2) {
            for (int s = 0; s < steps; s++) {
                /* shared W */
#pragma omp barrier
                double t0 = bench_now_us();
                float x = read_all(w, n);
                double t1 = bench_now_us();
#pragma omp barrier
                double t2 = bench_now_us();
                update(w + me * half, g + me * half, me ? n - half : half);
                double t3 = bench_now_us();
                update(local[me], g + me * half, me ? n - half : half);
                double t4 = bench_now_us();
                shared.t[0][me][s] = t1 - t0;
                shared.t[1][me][s] = t3 - t2;
                shared.t[2][me][s] = t4 - t3;
                /* replicated W, gradients exchanged */
#pragma omp barrier
                t0 = bench_now_us();
                update(rep_g[me], local[me], n); /* this step's gradient, written */
                t1 = bench_now_us();
#pragma omp barrier
                t2 = bench_now_us();
                memcpy(sum[me], rep_g[me], n * sizeof(float));
                add(sum[me], rep_g[1 - me], n);
                t3 = bench_now_us();
                update(rep_w[me], sum[me], n);
                t4 = bench_now_us();
                rep.t[0][me][s] = t1 - t0;
                rep.t[1][me][s] = t3 - t2;
                rep.t[2][me][s] = t4 - t3;
                x += rep_w[me][s % n];
#pragma omp atomic
                sink += x;
            }
        }
    }
    if (threads != 2) {
        fprintf(stderr, "cross_core: OpenMP gave %d threads, 2 needed\n", threads);
        return 1;
    }
    const size_t bytes_half = half * sizeof(float), bytes_all = n * sizeof(float);
    printf("cross_core: %zu KB of parameters, %d steps, medians per phase\n", kb, steps);
    const char *const shared_names[PHASES] = {"read W", "write half", "write local"};
    size_t shared_bytes[PHASES] = {bytes_all, bytes_half, bytes_half};
    report("shared", shared_names, &shared, steps, shared_bytes);
    const char *const rep_names[PHASES] = {"write G", "read other G", "write own W"};
    size_t rep_bytes[PHASES] = {bytes_all, bytes_all, bytes_all};
    report("replicated", rep_names, &rep, steps, rep_bytes);
    return 0;
}

#endif
