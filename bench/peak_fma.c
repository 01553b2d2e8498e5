/*
 * Peak single-precision FMA throughput of this machine, as ANCHORS.md
 * measures it: each thread runs a loop of independent FMAs on registers only
 * (no memory traffic), 12 accumulator chains per thread so the FMA latency
 * (4 cycles on Zen 4/5) never stalls the 2 FMA pipes.
 *
 *     peak_fma [--threads T] [--seconds S] [--isa avx512|avx2]
 *     peak_fma --read-kb KB
 *     peak_fma --divider
 *
 * Prints one line per ISA: "peak <isa> threads=T gflops=G", the best of many
 * ~2 ms blocks over S seconds (default 1) per ISA. The AVX-512 and
 * AVX2 loops are compiled with target attributes, so the program builds with
 * any gcc/clang and only runs the loops the CPU supports.
 *
 * --read-kb KB instead measures one thread's read bandwidth from a KB-sized
 * buffer that stays in cache between passes (256: L2 on this machine), the
 * best and the median pass of many: "read kb=KB gbps=G median_gbps=M". That
 * bounds a batch-1 dense layer, which reads every weight once per call.
 *
 * --divider instead measures one thread's throughput of what Adam needs per
 * parameter besides FMAs: a square root and a division, exact (vsqrtps and
 * vdivps, 16 floats each), on independent chains so that their latency
 * never stalls the unit: "divider avx512 ns_per_16=N", the best of many ~2
 * ms blocks. An exact Adam step over P parameters needs at least
 * P / 16 * N ns, whatever else it overlaps with.
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define CHAINS 12
#define STEPS 1024 /* FMAs per chain per round */

/* Returns a value that depends on every FMA so the compiler keeps them. */
__attribute__((target("avx512f,fma"))) static float fma_loop_avx512(long rounds)
{
    __m512 acc[CHAINS];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps((float)c);
    for (long r = 0; r < rounds; r++)
        for (int s = 0; s < STEPS; s++) {
#pragma GCC unroll 12
            for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
        }
    __m512 t = acc[0];
    for (int c = 1; c < CHAINS; c++) t = _mm512_add_ps(t, acc[c]);
    return _mm512_reduce_add_ps(t);
}

__attribute__((target("avx2,fma"))) static float fma_loop_avx2(long rounds)
{
    __m256 acc[CHAINS];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps((float)c);
    for (long r = 0; r < rounds; r++)
        for (int s = 0; s < STEPS; s++) {
#pragma GCC unroll 12
            for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
        }
    __m256 t = acc[0];
    for (int c = 1; c < CHAINS; c++) t = _mm256_add_ps(t, acc[c]);
    float v[8];
    _mm256_storeu_ps(v, t);
    return v[0] + v[7];
}

#define DIV_CHAINS 8 /* sqrt + div latency is ~40 cycles; each pair occupies the unit ~16 */

/* rounds * STEPS * DIV_CHAINS sqrt-div pairs: x = 0.5 / (sqrt(x) + eps) +
 * 1, which stays near 1.4 (no subnormals, no special values). */
__attribute__((target("avx512f"))) static float div_loop_avx512(long rounds)
{
    __m512 x[DIV_CHAINS];
    const __m512 half = _mm512_set1_ps(0.5f), eps = _mm512_set1_ps(1e-7f), one = _mm512_set1_ps(1.0f);
    for (int c = 0; c < DIV_CHAINS; c++) x[c] = _mm512_set1_ps(1.0f + 0.1f * (float)c);
    for (long r = 0; r < rounds; r++)
        for (int s = 0; s < STEPS; s++) {
#pragma GCC unroll 8
            for (int c = 0; c < DIV_CHAINS; c++)
                x[c] = _mm512_add_ps(_mm512_div_ps(half, _mm512_add_ps(_mm512_sqrt_ps(x[c]), eps)), one);
        }
    __m512 t = x[0];
    for (int c = 1; c < DIV_CHAINS; c++) t = _mm512_add_ps(t, x[c]);
    return _mm512_reduce_add_ps(t);
}

static int divider(double seconds)
{
    if (!__builtin_cpu_supports("avx512f")) {
        printf("divider avx512 unsupported\n");
        return 0;
    }
    float sink = 0;
    /* Volatile: GCC finds div_loop_avx512 pure and would otherwise call it
     * once for a whole timing loop of equal arguments. */
    volatile long rounds = 1;
    while (1) { /* blocks of ~2 ms, as the FMA loops */
        double t0 = now_s();
        sink += div_loop_avx512(rounds);
        if (now_s() - t0 > 0.002) break;
        rounds *= 2;
    }
    double best = 1e30, t_end = now_s() + seconds;
    do {
        double t0 = now_s();
        sink += div_loop_avx512(rounds);
        const double ns = (now_s() - t0) * 1e9 / ((double)rounds * STEPS * DIV_CHAINS);
        if (ns < best) best = ns;
    } while (now_s() < t_end);
    printf("divider avx512 ns_per_16=%.2f\n", best);
    return sink == 12345.0f;
}

/* Runs `rounds` on each of `threads` threads at once; returns GFLOP/s. */
static double measure(int isa512, int threads, long rounds, float *sink)
{
    const int lanes = isa512 ? 16 : 8;
    double t0 = now_s();
    float s = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : s)
#endif
    s += isa512 ? fma_loop_avx512(rounds) : fma_loop_avx2(rounds);
    double dt = now_s() - t0;
    *sink += s;
    return 2.0 * lanes * CHAINS * (double)STEPS * (double)rounds * threads / dt * 1e-9;
}

/* Sum of n floats (n a multiple of 64), 4 independent accumulators. */
__attribute__((target("avx512f"), noinline)) static float read_avx512(const float *p, long n)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (long i = 0; i < n; i += 64) {
        a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
        a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int read_bandwidth(long kb)
{
    if (!__builtin_cpu_supports("avx512f")) {
        printf("read unsupported\n");
        return 0;
    }
    long n = kb * 256; /* floats */
    n -= n % 64;
    enum { MAX_PASSES = 1 << 20 };
    float *p = aligned_alloc(64, (size_t)(n > 0 ? n : 64) * sizeof(float));
    double *pass = malloc(MAX_PASSES * sizeof *pass);
    if (!p || !pass || n <= 0) {
        free(p);
        free(pass);
        return 1;
    }
    for (long i = 0; i < n; i++) p[i] = 1.0f;
    float sink = 0;
    long passes = 0;
    double t_end = now_s() + 1.0;
    do {
        double t0 = now_s();
        sink += read_avx512(p, n);
        pass[passes++] = now_s() - t0;
    } while (now_s() < t_end && passes < MAX_PASSES);
    qsort(pass, (size_t)passes, sizeof *pass, cmp_double);
    const double bytes = (double)n * sizeof(float);
    printf("read kb=%ld gbps=%.1f median_gbps=%.1f\n", kb, bytes / pass[0] * 1e-9, bytes / pass[passes / 2] * 1e-9);
    free(p);
    free(pass);
    return sink == 12345.0f;
}

int main(int argc, char **argv)
{
    int threads = 1;
    double seconds = 1.0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--read-kb") && i + 1 < argc) {
            __builtin_cpu_init();
            return read_bandwidth(atol(argv[++i]));
        }
        else if (!strcmp(argv[i], "--divider")) {
            __builtin_cpu_init();
            return divider(seconds);
        }
        else {
            fprintf(stderr, "usage: %s [--threads T] [--seconds S] [--isa avx512|avx2] | --read-kb KB | --divider\n",
                    argv[0]);
            return 2;
        }
    }
    if (threads < 1) threads = 1;
#ifndef _OPENMP
    if (threads > 1) {
        fprintf(stderr, "peak_fma: built without OpenMP, measuring 1 thread\n");
        threads = 1;
    }
#endif
    __builtin_cpu_init();
    float sink = 0;
    for (int isa512 = 1; isa512 >= 0; isa512--) {
        const char *name = isa512 ? "avx512" : "avx2";
        if (only && strcmp(only, name)) continue;
        if (isa512 ? !__builtin_cpu_supports("avx512f")
                   : !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
            printf("peak %s unsupported\n", name);
            continue;
        }
        /* Short blocks (~2 ms), as many as fit in `seconds`, and keep the
         * best: on a shared machine most blocks lose time slices to other
         * processes, the best one is the hardware's rate. */
        long rounds = 1;
        double t_block;
        while (1) {
            double t0 = now_s();
            measure(isa512, 1, rounds, &sink);
            t_block = now_s() - t0;
            if (t_block > 0.002) break;
            rounds *= 2;
        }
        double best = 0, t_end = now_s() + seconds;
        do {
            double g = measure(isa512, threads, rounds, &sink);
            if (g > best) best = g;
        } while (now_s() < t_end);
        printf("peak %s threads=%d gflops=%.1f\n", name, threads, best);
    }
    return sink == 12345.0f; /* never true; keeps the loops alive */
}
