/*
 * Kernel-level benchmark: runtime/kernels sgemm against OpenBLAS cblas_sgemm
 * on the dense-layer shapes of the benchmark models, in one process, the
 * two alternating (ours, OpenBLAS, ours, ...) so machine noise hits both.
 *
 *     sgemm_vs_openblas [--threads T] [--rounds R] [--min-ms MS] [--shapes LIST]
 *                       [--chains]
 *
 * LIST: comma-separated MxNxK (default: every layer of seed/wide/deep at
 * batch 1, 32, 256, 4096, plus 1024^3). For each shape, prints one JSON line:
 *   {"M":..,"N":..,"K":..,"threads":..,"isa":"avx512","openblas_core":"Haswell",
 *    "run_us":..,"fast_us":..,"blas_us":..}
 * median microseconds per call over R rounds (and *_min_us: the fastest
 * round, the least disturbed by other processes): run = oc_sgemm_run on B packed
 * beforehand (what a dense layer with constant weights pays), fast =
 * oc_sgemm_fast (packs B on every call), blas = cblas_sgemm row-major NN.
 * OpenBLAS picks its kernel from OPENBLAS_CORETYPE at load time; run.py runs
 * this program with the environment as given and with it unset.
 *
 * --chains instead times whole dense stacks (the benchmark models without
 * softmax) at batch 1, 32, 256, 4096: ours = one oc_sgemm_run per layer
 * with bias and ReLU fused; OpenBLAS = cblas_sgemm per layer plus a pass
 * adding the bias and applying ReLU. One JSON line each:
 *   {"chain":"seed","batch":..,"threads":..,"ours_us":..,"blas_us":..}
 * This is the floor for an executor that calls the kernels directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "kernels/cpu_features.h"
#include "kernels/sgemm.h"

/* OpenBLAS's cblas_sgemm and helpers, declared here so that the header of
 * whichever CBLAS the system prefers is not needed (the ABI is the same). */
enum { CblasRowMajor = 101, CblasNoTrans = 111 };
void cblas_sgemm(int order, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc);
void openblas_set_num_threads(int n);
char *openblas_get_corename(void);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double minimum(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct bench {
    int M, N, K, threads;
    const float *A, *B;
    float *C;
    const oc_sgemm_pb *pb;
} bench;

static void call(const bench *b, int which)
{
    if (which == 0)
        oc_sgemm_run(b->M, b->N, b->K, b->A, b->K, b->pb, b->C, b->N, NULL, OC_ACT_NONE, 0,
                     b->threads);
    else if (which == 1)
        oc_sgemm_fast(0, 0, b->M, b->N, b->K, 1.0f, b->A, b->K, b->B, b->N, 0.0f, b->C, b->N,
                      b->threads);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b->M, b->N, b->K, 1.0f, b->A, b->K,
                    b->B, b->N, 0.0f, b->C, b->N);
}

/* Seconds per call over `reps` back-to-back calls. */
static double block(const bench *b, int which, long reps)
{
    double t0 = now_s();
    for (long r = 0; r < reps; r++) call(b, which);
    return (now_s() - t0) / (double)reps;
}

static void run_shape(int M, int N, int K, int threads, int rounds, double min_s)
{
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    float *A = oc_aligned_alloc(na * sizeof(float)), *B = oc_aligned_alloc(nb * sizeof(float));
    float *C = oc_aligned_alloc(nc * sizeof(float));
    if (!A || !B || !C) {
        fprintf(stderr, "out of memory for %dx%dx%d\n", M, N, K);
        exit(1);
    }
    unsigned s = 12345u;
    for (size_t i = 0; i < na; i++) A[i] = (float)((s = s * 1103515245u + 12345u) >> 9) * 0x1p-23f - 1.0f;
    for (size_t i = 0; i < nb; i++) B[i] = (float)((s = s * 1103515245u + 12345u) >> 9) * 0x1p-23f - 1.0f;
    oc_sgemm_pb *pb = oc_sgemm_packed_b(0, K, N, B, N);
    bench b = {M, N, K, threads, A, B, C, pb};
    /* Warm up every variant, then size blocks to at least min_s each. */
    long reps[3];
    for (int w = 0; w < 3; w++) {
        reps[w] = 1;
        while (block(&b, w, reps[w]) * (double)reps[w] < min_s && reps[w] < (1L << 24)) reps[w] *= 2;
    }
    double *t[3];
    for (int w = 0; w < 3; w++) t[w] = malloc((size_t)rounds * sizeof(double));
    for (int r = 0; r < rounds; r++)
        for (int w = 0; w < 3; w++) t[w][r] = block(&b, w, reps[w]);
    double best[3];
    for (int w = 0; w < 3; w++) best[w] = minimum(t[w], rounds);
    printf("{\"M\":%d,\"N\":%d,\"K\":%d,\"threads\":%d,\"isa\":\"%s\",\"openblas_core\":\"%s\","
           "\"run_us\":%.4f,\"fast_us\":%.4f,\"blas_us\":%.4f,"
           "\"run_min_us\":%.4f,\"fast_min_us\":%.4f,\"blas_min_us\":%.4f}\n",
           M, N, K, threads, oc_isa_name(oc_cpu_isa()), openblas_get_corename(),
           1e6 * median(t[0], rounds), 1e6 * median(t[1], rounds), 1e6 * median(t[2], rounds),
           1e6 * best[0], 1e6 * best[1], 1e6 * best[2]);
    fflush(stdout);
    for (int w = 0; w < 3; w++) free(t[w]);
    oc_aligned_free(pb);
    oc_aligned_free(A);
    oc_aligned_free(B);
    oc_aligned_free(C);
}

/* ---- whole dense stacks ---------------------------------------------------- */

#define MAX_LAYERS 8

typedef struct chain {
    int layers, batch, threads;
    const int *widths;                 /* [layers + 1] */
    float *w[MAX_LAYERS], *b[MAX_LAYERS];
    oc_sgemm_pb *pb[MAX_LAYERS];
    float *x, *h0, *h1;                /* [batch, max width] each */
} chain;

static void chain_call(const chain *c, int blas)
{
    const float *in = c->x;
    for (int l = 0; l < c->layers; l++) {
        const int K = c->widths[l], N = c->widths[l + 1], relu = l + 1 < c->layers;
        float *out = l % 2 ? c->h1 : c->h0;
        if (!blas) {
            oc_sgemm_run(c->batch, N, K, in, K, c->pb[l], out, N, c->b[l],
                         relu ? OC_ACT_RELU : OC_ACT_NONE, 0, c->threads);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->batch, N, K, 1.0f, in, K,
                        c->w[l], N, 0.0f, out, N);
            for (int i = 0; i < c->batch; i++)
                for (int j = 0; j < N; j++) {
                    float v = out[(size_t)i * N + j] + c->b[l][j];
                    out[(size_t)i * N + j] = relu && v < 0 ? 0 : v;
                }
        }
        in = out;
    }
}

static double chain_block(const chain *c, int blas, long reps)
{
    double t0 = now_s();
    for (long r = 0; r < reps; r++) chain_call(c, blas);
    return (now_s() - t0) / (double)reps;
}

static float *rand_floats(size_t n, unsigned *s)
{
    float *p = oc_aligned_alloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = ((float)((*s = *s * 1103515245u + 12345u) >> 9) * 0x1p-23f - 1.0f) * 0.05f;
    return p;
}

static void run_chain(const char *name, const int *widths, int layers, int batch, int threads,
                      int rounds, double min_s)
{
    chain c = {.layers = layers, .batch = batch, .threads = threads, .widths = widths};
    unsigned s = 99u;
    int maxw = 0;
    for (int l = 0; l <= layers; l++) maxw = widths[l] > maxw ? widths[l] : maxw;
    for (int l = 0; l < layers; l++) {
        c.w[l] = rand_floats((size_t)widths[l] * widths[l + 1], &s);
        c.b[l] = rand_floats((size_t)widths[l + 1], &s);
        c.pb[l] = oc_sgemm_packed_b(0, widths[l], widths[l + 1], c.w[l], widths[l + 1]);
    }
    c.x = rand_floats((size_t)batch * widths[0], &s);
    c.h0 = rand_floats((size_t)batch * maxw, &s);
    c.h1 = rand_floats((size_t)batch * maxw, &s);
    long reps[2];
    for (int w = 0; w < 2; w++) {
        reps[w] = 1;
        while (chain_block(&c, w, reps[w]) * (double)reps[w] < min_s && reps[w] < (1L << 24)) reps[w] *= 2;
    }
    double *t[2] = {malloc((size_t)rounds * sizeof(double)), malloc((size_t)rounds * sizeof(double))};
    for (int r = 0; r < rounds; r++)
        for (int w = 0; w < 2; w++) t[w][r] = chain_block(&c, w, reps[w]);
    double best0 = minimum(t[0], rounds), best1 = minimum(t[1], rounds);
    printf("{\"chain\":\"%s\",\"batch\":%d,\"threads\":%d,\"isa\":\"%s\",\"openblas_core\":\"%s\","
           "\"ours_us\":%.4f,\"blas_us\":%.4f,\"ours_min_us\":%.4f,\"blas_min_us\":%.4f}\n",
           name, batch, threads, oc_isa_name(oc_cpu_isa()), openblas_get_corename(),
           1e6 * median(t[0], rounds), 1e6 * median(t[1], rounds), 1e6 * best0, 1e6 * best1);
    fflush(stdout);
    free(t[0]);
    free(t[1]);
    for (int l = 0; l < layers; l++) {
        oc_aligned_free(c.w[l]);
        oc_aligned_free(c.b[l]);
        oc_aligned_free(c.pb[l]);
    }
    oc_aligned_free(c.x);
    oc_aligned_free(c.h0);
    oc_aligned_free(c.h1);
}

static const int DEFAULT_LAYERS[][2] = {/* {in K, out N} of seed, wide, deep */
                                        {784, 64}, {64, 64},    {64, 10},  {784, 1024},
                                        {1024, 1024}, {1024, 10}, {784, 512}, {512, 512},
                                        {512, 10}};
static const int DEFAULT_BATCHES[] = {1, 32, 256, 4096};

int main(int argc, char **argv)
{
    int threads = 1, rounds = 7;
    double min_ms = 2.0;
    const char *shapes = NULL;
    int chains = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--chains")) {
            chains = 1;
            continue;
        }
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-ms") && i + 1 < argc) min_ms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--threads T] [--rounds R] [--min-ms MS] [--shapes MxNxK,...] "
                            "[--chains]\n",
                    argv[0]);
            return 2;
        }
    }
    if (threads < 1 || rounds < 1) return 2;
    openblas_set_num_threads(threads);
    if (chains) {
        static const int seed[] = {784, 64, 64, 10}, wide[] = {784, 1024, 1024, 10},
                         deep[] = {784, 512, 512, 512, 512, 512, 512, 10};
        for (size_t bi = 0; bi < sizeof DEFAULT_BATCHES / sizeof *DEFAULT_BATCHES; bi++) {
            run_chain("seed", seed, 3, DEFAULT_BATCHES[bi], threads, rounds, min_ms * 1e-3);
            run_chain("wide", wide, 3, DEFAULT_BATCHES[bi], threads, rounds, min_ms * 1e-3);
            run_chain("deep", deep, 7, DEFAULT_BATCHES[bi], threads, rounds, min_ms * 1e-3);
        }
        return 0;
    }
    if (shapes) {
        const char *p = shapes;
        while (*p) {
            int M, N, K, used = 0;
            if (sscanf(p, "%dx%dx%d%n", &M, &N, &K, &used) != 3 || M < 1 || N < 1 || K < 1) {
                fprintf(stderr, "bad shape list at '%s' (want MxNxK,...)\n", p);
                return 2;
            }
            run_shape(M, N, K, threads, rounds, min_ms * 1e-3);
            p += used;
            if (*p == ',') p++;
        }
        return 0;
    }
    for (size_t bi = 0; bi < sizeof DEFAULT_BATCHES / sizeof *DEFAULT_BATCHES; bi++)
        for (size_t l = 0; l < sizeof DEFAULT_LAYERS / sizeof *DEFAULT_LAYERS; l++)
            run_shape(DEFAULT_BATCHES[bi], DEFAULT_LAYERS[l][1], DEFAULT_LAYERS[l][0], threads,
                      rounds, min_ms * 1e-3);
    run_shape(1024, 1024, 1024, threads, rounds, min_ms * 1e-3);
    return 0;
}
