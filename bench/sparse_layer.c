/*
 * Do the zero-skipping kernels (runtime/kernels/sgemm_sparse.h) beat the
 * dense GEMM on a first layer? Times the seed model's two big products on
 * one thread, dense and sparse in alternating runs, on real Fashion-MNIST
 * batches (uint8 pixels scaled to [0, 1] as fit() does, each copied into
 * place before its step as fit() gathers it), and on the same
 * batches with every zero replaced by a small value (all dense: what the
 * sparse entry points cost when they decide against themselves):
 *
 *     forward   H = relu(X · W1 + b1)                  X [B, 784], W1 [784, 64]
 *     backward  dW1 = X^T · dZ1, cut at row B/2         dZ1 [B, 64]
 *
 * and checks that both give the same bits.
 *
 *     sparse_layer [--steps S] [--batch B] [--in K] [--out N] [--data DIR]
 *
 * Prints per product the median of each way and their ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_idx.h"
#include "kernels/cpu_features.h"
#include "kernels/sgemm.h"
#include "kernels/sgemm_sparse.h"
#include "two_threads.h"

enum { BATCHES = 32 };

/* The layer's shape: the seed model's first layer unless --in/--out say. */
static int IN = 784, OUT = 64;

typedef struct timing {
    double *dense, *sparse;
} timing;

/* One product both ways, alternating which goes first; returns 0 when the
 * bits differ. */
static int run_pair(int which, int s, int batch, const float *x, const float *w, const float *b,
                    const float *dz, float *out_dense, float *out_sparse, timing *t)
{
    const size_t n = which == 0 ? (size_t)batch * OUT : (size_t)IN * OUT;
    for (int order = 0; order < 2; order++) {
        const int sparse = (order + s) % 2;
        float *out = sparse ? out_sparse : out_dense;
        const double t0 = bench_now_us();
        if (which == 0 && sparse)
            oc_sgemm_fast_dense_sparse_a(0, batch, OUT, IN, x, IN, w, OUT, b, OC_ACT_RELU, out, OUT, 1, NULL);
        else if (which == 0)
            oc_sgemm_fast_dense(0, batch, OUT, IN, x, IN, w, OUT, b, OC_ACT_RELU, out, OUT, 1);
        else if (sparse)
            oc_sgemm_fast_cut_sparse_at(IN, OUT, batch, batch / 2, x, IN, dz, OUT, 0.0f, out, OUT, 1, NULL);
        else
            oc_sgemm_fast_cut(1, 0, IN, OUT, batch, batch / 2, x, IN, dz, OUT, 0.0f, out, OUT, 1);
        (sparse ? t->sparse : t->dense)[s] = bench_now_us() - t0;
    }
    return memcmp(out_dense, out_sparse, n * sizeof(float)) == 0;
}

int main(int argc, char **argv)
{
    int steps = 400, batch = 128;
    const char *dir = "/usr/share/datasets/fashion-mnist";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--in") && i + 1 < argc) IN = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) OUT = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--steps S] [--batch B] [--in K] [--out N] [--data DIR]\n", argv[0]);
            return 2;
        }
    }
    if (steps < 1 || batch < 8 || IN < 1 || IN > 784 || OUT < 1) {
        fprintf(stderr, "sparse_layer: --steps must be >= 1, --batch >= 8, --in 1..784, --out >= 1\n");
        return 2;
    }
    oc_idx images, labels;
    onnxc_error err;
    if (oc_idx_load_split(dir, "train", &images, &labels, &err) != ONNXC_OK) {
        fprintf(stderr, "sparse_layer: %s\n", err.message);
        return 1;
    }
    const size_t xsize = (size_t)batch * IN;
    float *pixels = bench_floats("sparse_layer", xsize * BATCHES);
    int64_t *rows = malloc((size_t)batch * BATCHES * sizeof *rows);
    for (int64_t i = 0; i < (int64_t)batch * BATCHES; i++) rows[i] = (i * 7919) % (int64_t)images.n_items;
    /* Whole images; a narrower layer (--in) takes IN pixels from the middle
     * of each, where about half are ink as in a ReLU layer's output. */
    float *images_f = bench_floats("sparse_layer", (size_t)batch * BATCHES * 784);
    oc_idx_batch_to_float(&images, rows, (size_t)batch * BATCHES, images_f);
    for (size_t r = 0; r < (size_t)batch * BATCHES; r++)
        memcpy(pixels + r * IN, images_f + r * 784 + (784 - IN) / 2, (size_t)IN * sizeof(float));
    free(images_f);
    float *filled = bench_floats("sparse_layer", xsize * BATCHES);
    for (size_t i = 0; i < xsize * BATCHES; i++) filled[i] = pixels[i] != 0.0f ? pixels[i] : 1.0f / 512;
    float *w = bench_floats("sparse_layer", (size_t)IN * OUT), *b = bench_floats("sparse_layer", OUT);
    float *dz = bench_floats("sparse_layer", (size_t)batch * OUT);
    for (size_t i = 0; i < (size_t)IN * OUT; i++) w[i] = (float)((int)(i * 2654435761u % 2001) - 1000) * 1e-4f;
    for (size_t i = 0; i < (size_t)OUT; i++) b[i] = (float)((int)(i % 7) - 3) * 1e-2f;
    for (size_t i = 0; i < (size_t)batch * OUT; i++)
        dz[i] = (i % 3) ? (float)((int)(i * 40503u % 201) - 100) * 1e-4f : 0.0f;
    float *xbuf = bench_floats("sparse_layer", xsize);
    float *o1 = bench_floats("sparse_layer", (size_t)IN * OUT > xsize ? (size_t)IN * OUT : xsize);
    float *o2 = bench_floats("sparse_layer", (size_t)IN * OUT > xsize ? (size_t)IN * OUT : xsize);

    printf("kernel family %s, batch %d, %d steps, one thread; density of the batch %.3f\n",
           oc_isa_name(oc_cpu_isa()), batch, steps, oc_sparse_sample_density(batch, IN, pixels, IN));
    printf("%-28s %10s %10s %8s %s\n", "product", "dense us", "sparse us", "ratio", "bits");
    int bad = 0;
    for (int data = 0; data < 2; data++) {
        const float *src = data ? filled : pixels;
        for (int which = 0; which < 2; which++) {
            timing t = {calloc((size_t)steps, sizeof(double)), calloc((size_t)steps, sizeof(double))};
            int same = 1;
            for (int s = 0; s < steps; s++) {
                /* Each step's batch is copied first (untimed), as fit() gathers
                 * one: the products find it in L2. */
                memcpy(xbuf, src + (size_t)(s % BATCHES) * xsize, xsize * sizeof(float));
                same &= run_pair(which, s, batch, xbuf, w, b, dz, o1, o2, &t);
            }
            const double d = bench_median(t.dense, steps), sp = bench_median(t.sparse, steps);
            char name[64];
            snprintf(name, sizeof name, "%s, %s", which ? "dW = X^T dZ" : "forward", data ? "no zeros" : "Fashion-MNIST");
            printf("%-28s %10.1f %10.1f %8.2f %s\n", name, d, sp, sp / d, same ? "same" : "DIFFER");
            bad |= !same;
            free(t.dense);
            free(t.sparse);
        }
    }
    free(rows);
    free(pixels);
    free(filled);
    free(w);
    free(b);
    free(dz);
    free(xbuf);
    free(o1);
    free(o2);
    oc_idx_free(&images);
    oc_idx_free(&labels);
    return bad;
}
