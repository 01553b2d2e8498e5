/*
 * Does the seed model's first layer get faster when two threads split its
 * columns? The alternative to data-parallel shards (runtime/train/shards.h)
 * for two-thread training is model parallelism: each thread computes 32 of
 * the first layer's 64 columns, forward and backward, so that its half of
 * W1 (and of dW1, Adam's m and v) never leaves its core, and only
 * activations cross. This measures the two products that carry ~75% of a
 * batch-128 step, with onnxc's kernels, on Fashion-MNIST batches:
 *
 *     forward   H[:, cols] = relu(X · W1[:, cols] + b1[cols])     (oc_sgemm_fast_dense_sparse_a)
 *     backward  dW1[:, cols] = X^T · dZ1[:, cols], cut at row 64  (oc_sgemm_fast_cut_sparse_at)
 *
 * (the entry points the trainer uses, which skip the zero pixels:
 * kernels/sgemm_sparse.h; bench/sparse_layer compares them with the dense
 * GEMM), once on one thread with all 64 columns, once on two threads with 32 each
 * (a barrier between the two products), and with X either written by thread
 * 0 (as fit() gathers a batch) or copied by each thread for itself (untimed).
 * Results are the same bits either way (each column is computed alike);
 * checked.
 *
 *     split_layer [--steps S] [--batch B]
 *
 * Prints the median time of each product per thread, and the speed-up of
 * the two products together.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <zlib.h>

#include "kernels/sgemm.h"
#include "kernels/sgemm_sparse.h"
#include "two_threads.h"

#ifndef _OPENMP

int main(void)
{
    fprintf(stderr, "split_layer: built without OpenMP, nothing to measure\n");
    return 1;
}

#else

enum { IN = 784, OUT = 64, BATCHES = 16 };

static float *alloc_floats(size_t n) { return bench_floats("split_layer", n); }

/* BATCHES batches of Fashion-MNIST training images scaled to [0, 1] as fit()
 * scales them; where the file is missing, a synthetic image (a block of
 * pixels in a zero border) with zeros where real images have them. */
static void fill_pixels(float *x, int batch)
{
    const size_t n = (size_t)batch * BATCHES * IN;
    size_t got = 0;
    gzFile f = gzopen("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", "rb");
    unsigned char *u = malloc(n);
    if (f && u) {
        unsigned char head[16];
        if (gzread(f, head, 16) == 16) {
            const int r = gzread(f, u, (unsigned)n);
            got = r > 0 ? (size_t)r : 0;
        }
        for (size_t i = 0; i < got; i++) x[i] = (float)u[i] / 255.0f;
    }
    if (f) gzclose(f);
    free(u);
    if (got < n) fprintf(stderr, "split_layer: no Fashion-MNIST; synthetic images\n");
    for (size_t i = got; i < n; i++) {
        const int p = (int)(i % IN), r = p / 28, c = p % 28;
        x[i] = (r > 3 && r < 24 && c > 5 && c < 22) ? (float)((i * 2654435761u) % 255) / 255.0f : 0.0f;
    }
}

int main(int argc, char **argv)
{
    int steps = 300, batch = 128;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--steps S] [--batch B]\n", argv[0]);
            return 2;
        }
    }
    if (steps < 1 || batch < 2) {
        fprintf(stderr, "split_layer: --steps must be >= 1 and --batch >= 2\n");
        return 2;
    }
    const size_t xsize = (size_t)batch * IN;
    float *pixels = alloc_floats(xsize * BATCHES);
    fill_pixels(pixels, batch);
    float *w = alloc_floats(IN * OUT), *b = alloc_floats(OUT), *dz = alloc_floats((size_t)batch * OUT);
    for (size_t i = 0; i < IN * OUT; i++) w[i] = (float)((int)(i * 2654435761u % 2001) - 1000) * 1e-4f;
    for (size_t i = 0; i < (size_t)batch * OUT; i++)
        dz[i] = (i % 3) ? (float)((int)(i * 40503u % 201) - 100) * 1e-4f : 0.0f;
    float *x[2] = {alloc_floats(xsize), alloc_floats(xsize)};
    float *h[2] = {alloc_floats((size_t)batch * OUT), alloc_floats((size_t)batch * OUT)};
    float *dw[2] = {alloc_floats(IN * OUT), alloc_floats(IN * OUT)};
    double *t[3][2][2]; /* [setup: one thread, shared X, own X][thread][product] */
    for (int s = 0; s < 3; s++)
        for (int th = 0; th < 2; th++)
            for (int p = 0; p < 2; p++) t[s][th][p] = calloc((size_t)steps, sizeof(double));
    double *pair[3];
    for (int s = 0; s < 3; s++) pair[s] = calloc((size_t)steps, sizeof(double));
    const int64_t cut = batch / 2;
    int threads = 0;
    for (int setup = 0; setup < 3; setup++) {
        const int split = setup > 0, own_x = setup == 2;
        float *hs = h[split], *dws = dw[split];
#pragma omp parallel num_threads(2)
        {
            const int me = omp_get_thread_num();
#pragma omp single
            threads = omp_get_num_threads();
            const int c0 = split ? 32 * me : 0, nc = split ? 32 : OUT;
            const int active = split || me == 0;
            for (int s = 0; s < steps && threads == 2; s++) {
                const float *batch_x = pixels + (size_t)(s % BATCHES) * xsize;
                if (me == 0) memcpy(x[0], batch_x, xsize * sizeof(float));
                if (me == 1 && own_x) memcpy(x[1], batch_x, xsize * sizeof(float));
                const float *xs = own_x ? x[me] : x[0];
#pragma omp barrier
                double t0 = bench_now_us();
                if (active)
                    oc_sgemm_fast_dense_sparse_a(0, batch, nc, IN, xs, IN, w + c0, OUT, b + c0, OC_ACT_RELU, hs + c0, OUT, 1, NULL);
                double t1 = bench_now_us();
#pragma omp barrier
                double t2 = bench_now_us();
                if (active)
                    oc_sgemm_fast_cut_sparse_at(IN, nc, batch, cut, xs, IN, dz + c0, OUT, 0.0f, dws + c0, OUT, 1, NULL);
                double t3 = bench_now_us();
#pragma omp barrier
                if (active) {
                    t[setup][me][0][s] = t1 - t0;
                    t[setup][me][1][s] = t3 - t2;
                }
                if (me == 0) pair[setup][s] = bench_now_us() - t0;
            }
        }
        if (threads != 2) {
            fprintf(stderr, "split_layer: OpenMP gave %d threads, 2 needed\n", threads);
            return 1;
        }
    }
    const int same = !memcmp(h[0], h[1], (size_t)batch * OUT * sizeof(float)) &&
                     !memcmp(dw[0], dw[1], IN * OUT * sizeof(float));
    printf("split_layer: batch %d, %dx%d layer, %d steps, medians; split results %s the one-thread ones\n", batch,
           IN, OUT, steps, same ? "bit-identical to" : "DIFFERENT FROM");
    static const char *const names[3] = {"one thread, 64 columns", "two threads, 32 columns each, X shared",
                                         "two threads, 32 columns each, own X"};
    const double one = bench_median(pair[0], steps);
    for (int s = 0; s < 3; s++) {
        for (int th = 0; th < (s ? 2 : 1); th++)
            printf("%-40s thread %d: forward %6.1f us  dW %6.1f us\n", names[s], th, bench_median(t[s][th][0], steps),
                   bench_median(t[s][th][1], steps));
        const double both = bench_median(pair[s], steps);
        printf("%-40s both products, barriers included: %6.1f us (%.2fx)\n", names[s], both, one / both);
    }
    return same ? 0 : 1;
}

#endif
