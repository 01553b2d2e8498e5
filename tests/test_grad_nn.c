/*
 * Backward passes of the neural-network ops (runtime/ops/{matmul,gemm,
 * softmax,batchnorm,dropout}.c), checked against central finite differences
 * (tests/support/gradcheck: it also runs backward twice, so every check here
 * also checks that backward adds instead of overwriting).
 *
 * Double inputs (h = 1e-6, tol = 1e-6) wherever the op computes in double;
 * a few float cases (h = 1e-2, tol = 2e-2) cover the float kernels the
 * trainer uses. Besides the finite differences: thread-count bit identity of
 * MatMul/Gemm backward, the running-statistics update of BatchNormalization
 * in training (against a direct computation of the ONNX formula), and the
 * Dropout mask against numpy's legacy RandomState (values in the comments).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "node_builder.h"

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define IN(...) ((const oc_tensor *const[]){__VA_ARGS__})

static const gc_options GC_D = {.h = 1e-6, .tol = 1e-6, .seed = 3};
static const gc_options GC_D_TRAIN = {.h = 1e-6, .tol = 1e-6, .training = true, .seed = 5};
static const gc_options GC_F = {.h = 1e-2, .tol = 2e-2, .seed = 7};

/* Deterministic values in [lo, hi) (an LCG), so failures reproduce. */
static void fill_d(double *x, int64_t n, uint32_t seed, double lo, double hi)
{
    uint32_t s = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = lo + (hi - lo) * (double)((s >> 8) & 0xffffff) / 16777216.0;
    }
}

static void fill_f(float *x, int64_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffffff) / 8388608.0f - 1.0f;
    }
}

static int64_t numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    return n;
}

/* A double tensor of random values in [-1, 1), owned by the caller (free .data). */
static oc_tensor rand_d(int rank, const int64_t *dims, uint32_t seed)
{
    int64_t n = numel(rank, dims);
    double *x = malloc((size_t)(n ? n : 1) * sizeof *x);
    cr_assert(x);
    fill_d(x, n, seed, -1.0, 1.0);
    return nb_tensor(ONNXC_DOUBLE, rank, dims, x);
}

static oc_tensor rand_f(int rank, const int64_t *dims, uint32_t seed)
{
    int64_t n = numel(rank, dims);
    float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
    cr_assert(x);
    fill_f(x, n, seed);
    return nb_tensor(ONNXC_FLOAT, rank, dims, x);
}

static void gc_expect(nb_node *b, const oc_tensor *const *in, uint32_t check, const gc_options *o)
{
    char msg[512];
    cr_assert(gc_check(b, in, check, o, msg, sizeof msg), "%s", msg);
}

/* ----------------------------------------------------------------------- */
/* A forward run and backward runs driven by hand (for the tests that look  */
/* at more than finite differences: threads, masks, running statistics).    */

typedef struct fwd {
    oc_tensor out[4];
    oc_tensor *outp[4];
    void *ws, *saved;
    uint64_t rng;
    oc_op_ctx ctx;
    onnxc_error err;
} fwd;

static void fwd_run(nb_node *b, const oc_tensor *const *in, bool training, int nthreads, fwd *f)
{
    memset(f, 0, sizeof *f);
    cr_assert_eq(nb_init(b, &f->err), ONNXC_OK, "%s", f->err.message);
    for (int k = 0; k < b->node.n_out; k++) f->outp[k] = b->node.out[k] >= 0 ? &f->out[k] : NULL;
    f->rng = 99;
    f->ctx = (oc_op_ctx){.node = &b->node, .n_in = b->node.n_in, .n_out = b->node.n_out,
                         .in = in, .out = f->outp, .nthreads = nthreads, .rng = &f->rng,
                         .err = &f->err, .training = training};
    size_t ws = 0;
    cr_assert_eq(b->node.op->infer(&f->ctx, &ws), ONNXC_OK, "%s", f->err.message);
    size_t bw = b->node.op->backward_workspace ? b->node.op->backward_workspace(&f->ctx) : 0;
    if (bw > ws) ws = bw;
    f->ws = aligned_alloc(64, (ws + 64) & ~(size_t)63);
    f->saved = f->ctx.saved_bytes ? aligned_alloc(64, (f->ctx.saved_bytes + 64) & ~(size_t)63) : NULL;
    for (int k = 0; k < b->node.n_out; k++) {
        if (!f->outp[k]) continue;
        size_t bytes;
        oc_shape_bytes(&f->out[k].shape, f->out[k].dtype, &bytes);
        f->out[k].data = aligned_alloc(64, (bytes + 64) & ~(size_t)63);
    }
    f->ctx.workspace = f->ws;
    f->ctx.workspace_bytes = ws;
    f->ctx.saved = f->saved;
    cr_assert_eq(b->node.op->run(&f->ctx), ONNXC_OK, "%s", f->err.message);
}

static void fwd_free(fwd *f)
{
    for (int k = 0; k < 4; k++) free(f->out[k].data);
    free(f->ws);
    free(f->saved);
}

/* Backward with `nthreads` threads into dx (which it adds to). */
static void bwd_run(nb_node *b, fwd *f, int nthreads, const oc_tensor *const *dy,
                    oc_tensor *const *dx)
{
    oc_op_ctx ctx = f->ctx;
    ctx.nthreads = nthreads;
    cr_assert_eq(b->node.op->backward(&ctx, dy, dx), ONNXC_OK, "%s", f->err.message);
}

/* A tensor like t, zero-filled (or filled with `v`), caller frees .data. */
static oc_tensor like(const oc_tensor *t, double v)
{
    oc_tensor g = *t;
    int64_t n = oc_tensor_numel(t);
    size_t es = oc_dtype_size(t->dtype);
    g.data = calloc((size_t)(n ? n : 1), es);
    cr_assert(g.data);
    for (int64_t i = 0; i < n; i++) {
        if (t->dtype == ONNXC_FLOAT) ((float *)g.data)[i] = (float)v;
        else ((double *)g.data)[i] = v;
    }
    return g;
}

/* ----------------------------------------------------------------------- */
/* MatMul                                                                   */

static void matmul_case(int ra, const int64_t *da, int rb, const int64_t *db, bool f32)
{
    nb_node *b = nb_new("MatMul", "", 13, 2, 1);
    oc_tensor A = f32 ? rand_f(ra, da, 1) : rand_d(ra, da, 1);
    oc_tensor B = f32 ? rand_f(rb, db, 2) : rand_d(rb, db, 2);
    gc_expect(b, IN(&A, &B), 0x3, f32 ? &GC_F : &GC_D);
    free(A.data);
    free(B.data);
    nb_free(b);
}

Test(matmul_grad, two_d)
{
    matmul_case(2, D(3, 4), 2, D(4, 5), false);
}

Test(matmul_grad, two_d_float)
{
    matmul_case(2, D(3, 4), 2, D(4, 5), true);
}

Test(matmul_grad, batched_a_with_single_b)
{
    /* B has no batch dims: one product of [2*3, 4] rows; dB sums the batches. */
    matmul_case(3, D(2, 3, 4), 2, D(4, 5), false);
}

Test(matmul_grad, single_a_with_batched_b)
{
    /* dA sums over B's batches. */
    matmul_case(2, D(3, 4), 3, D(2, 4, 5), false);
}

Test(matmul_grad, batch_broadcast_both_ways)
{
    /* A batch [2,1], B batch [3] -> [2,3]: dA sums over 3, dB over 2. */
    matmul_case(4, D(2, 1, 3, 4), 3, D(3, 4, 2), false);
}

Test(matmul_grad, same_batches)
{
    matmul_case(3, D(2, 3, 4), 3, D(2, 4, 2), false);
}

Test(matmul_grad, one_d_a)
{
    matmul_case(1, D(4), 3, D(2, 4, 5), false);
    matmul_case(1, D(4), 2, D(4, 3), false);
}

Test(matmul_grad, one_d_b)
{
    matmul_case(3, D(2, 3, 4), 1, D(4), false);
    matmul_case(2, D(3, 4), 1, D(4), false);
}

Test(matmul_grad, both_one_d)
{
    matmul_case(1, D(4), 1, D(4), false);
}

/* dA, dB of A x B with 1, 2 and 3 threads: bit-identical. */
static void matmul_threads(int ra, const int64_t *da, int rb, const int64_t *db)
{
    nb_node *b = nb_new("MatMul", "", 13, 2, 1);
    oc_tensor A = rand_f(ra, da, 11), B = rand_f(rb, db, 12);
    fwd f;
    fwd_run(b, IN(&A, &B), false, 1, &f);
    oc_tensor dY = rand_f(f.out[0].shape.rank, f.out[0].shape.dims, 13);
    oc_tensor dA1 = like(&A, 0.0), dB1 = like(&B, 0.0);
    bwd_run(b, &f, 1, IN(&dY), (oc_tensor *const[]){&dA1, &dB1});
    for (int nt = 2; nt <= 3; nt++) {
        oc_tensor dA = like(&A, 0.0), dB = like(&B, 0.0);
        bwd_run(b, &f, nt, IN(&dY), (oc_tensor *const[]){&dA, &dB});
        cr_assert(memcmp(dA.data, dA1.data, (size_t)oc_tensor_numel(&A) * sizeof(float)) == 0,
                  "dA differs between 1 and %d threads", nt);
        cr_assert(memcmp(dB.data, dB1.data, (size_t)oc_tensor_numel(&B) * sizeof(float)) == 0,
                  "dB differs between 1 and %d threads", nt);
        free(dA.data);
        free(dB.data);
    }
    /* Against a plain double loop for the 2-D case: the kernel is right, not just stable. */
    if (ra == 2 && rb == 2) {
        const int64_t M = da[0], K = da[1], N = db[1];
        const float *a = A.data, *bb = B.data, *dy = dY.data, *ga = dA1.data, *gb = dB1.data;
        for (int64_t i = 0; i < M; i += 7)
            for (int64_t k = 0; k < K; k += 5) {
                double s = 0;
                for (int64_t j = 0; j < N; j++) s += (double)dy[i * N + j] * bb[k * N + j];
                cr_assert(fabs(s - ga[i * K + k]) <= 1e-4 * (1 + fabs(s)), "dA[%lld,%lld]: %g vs %g",
                          (long long)i, (long long)k, ga[i * K + k], s);
            }
        for (int64_t k = 0; k < K; k += 5)
            for (int64_t j = 0; j < N; j += 7) {
                double s = 0;
                for (int64_t i = 0; i < M; i++) s += (double)a[i * K + k] * dy[i * N + j];
                cr_assert(fabs(s - gb[k * N + j]) <= 1e-4 * (1 + fabs(s)), "dB[%lld,%lld]: %g vs %g",
                          (long long)k, (long long)j, gb[k * N + j], s);
            }
    }
    free(dA1.data);
    free(dB1.data);
    free(dY.data);
    free(A.data);
    free(B.data);
    fwd_free(&f);
    nb_free(b);
}

Test(matmul_grad, threads_bit_identical_2d)
{
    matmul_threads(2, D(64, 300), 2, D(300, 200));
}

Test(matmul_grad, threads_bit_identical_batched)
{
    /* Per-matrix threading, with B broadcast over A's 8 batches. */
    matmul_threads(3, D(8, 40, 50), 3, D(1, 50, 36));
    matmul_threads(3, D(8, 40, 50), 3, D(8, 50, 36));
}

/* ----------------------------------------------------------------------- */
/* Gemm                                                                     */

/* Gemm of A [M,K] (or [K,M]) and B, C of shape c_rank/c_dims (c_rank < 0: no C). */
static void gemm_case(int ta, int tb, float alpha, float beta, int c_rank, const int64_t *c_dims,
                      bool f32)
{
    const int64_t M = 3, K = 4, N = 5;
    nb_node *b = nb_new("Gemm", "", 13, c_rank >= 0 ? 3 : 2, 1);
    if (ta) nb_attr_int(b, "transA", 1);
    if (tb) nb_attr_int(b, "transB", 1);
    if (alpha != 1.0f) nb_attr_float(b, "alpha", alpha);
    if (beta != 1.0f) nb_attr_float(b, "beta", beta);
    const int64_t *da = ta ? D(K, M) : D(M, K), *db = tb ? D(N, K) : D(K, N);
    oc_tensor A = f32 ? rand_f(2, da, 21) : rand_d(2, da, 21);
    oc_tensor B = f32 ? rand_f(2, db, 22) : rand_d(2, db, 22);
    oc_tensor C = {0};
    if (c_rank >= 0) C = f32 ? rand_f(c_rank, c_dims, 23) : rand_d(c_rank, c_dims, 23);
    gc_expect(b, IN(&A, &B, c_rank >= 0 ? &C : NULL), c_rank >= 0 ? 0x7 : 0x3, f32 ? &GC_F : &GC_D);
    free(A.data);
    free(B.data);
    free(C.data);
    nb_free(b);
}

Test(gemm_grad, plain_vector_bias)
{
    gemm_case(0, 0, 1.0f, 1.0f, 1, D(5), false);
}

Test(gemm_grad, trans_a_matrix_bias)
{
    gemm_case(1, 0, 1.0f, 1.0f, 2, D(3, 5), false);
}

Test(gemm_grad, trans_b_row_bias)
{
    gemm_case(0, 1, 1.0f, 1.0f, 2, D(1, 5), false);
}

Test(gemm_grad, trans_both_column_bias_alpha_beta)
{
    gemm_case(1, 1, 0.7f, -1.25f, 2, D(3, 1), false);
}

Test(gemm_grad, scalar_bias)
{
    gemm_case(0, 0, 1.5f, 0.5f, 0, NULL, false);
    gemm_case(1, 0, 1.0f, 2.0f, 1, D(1), false);
    gemm_case(0, 1, 1.0f, 1.0f, 2, D(1, 1), false);
}

Test(gemm_grad, alpha_beta_each_transpose)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_case(ta, tb, -0.5f, 0.25f, 1, D(5), false);
            gemm_case(ta, tb, 2.0f, 3.0f, 2, D(3, 5), false);
        }
}

Test(gemm_grad, no_bias)
{
    gemm_case(0, 0, 1.0f, 1.0f, -1, NULL, false);
    gemm_case(1, 1, 0.5f, 1.0f, -1, NULL, false);
}

Test(gemm_grad, float_kernels)
{
    gemm_case(0, 1, 1.0f, 1.0f, 1, D(5), true);
    gemm_case(1, 0, 0.5f, 2.0f, 2, D(3, 1), true);
}

Test(gemm_grad, threads_bit_identical)
{
    /* Bias [N] summed over 96 rows: the column sums must not depend on threads. */
    nb_node *b = nb_new("Gemm", "", 13, 3, 1);
    nb_attr_int(b, "transB", 1);
    oc_tensor A = rand_f(2, D(96, 300), 31), B = rand_f(2, D(200, 300), 32),
              C = rand_f(1, D(200), 33);
    fwd f;
    fwd_run(b, IN(&A, &B, &C), false, 1, &f);
    oc_tensor dY = rand_f(2, D(96, 200), 34);
    oc_tensor g1[3] = {like(&A, 0), like(&B, 0), like(&C, 0)};
    bwd_run(b, &f, 1, IN(&dY), (oc_tensor *const[]){&g1[0], &g1[1], &g1[2]});
    oc_tensor g2[3] = {like(&A, 0), like(&B, 0), like(&C, 0)};
    bwd_run(b, &f, 2, IN(&dY), (oc_tensor *const[]){&g2[0], &g2[1], &g2[2]});
    for (int i = 0; i < 3; i++) {
        cr_assert(memcmp(g1[i].data, g2[i].data, (size_t)oc_tensor_numel(&g1[i]) * sizeof(float)) == 0,
                  "gradient of input %d differs between 1 and 2 threads", i);
        free(g1[i].data);
        free(g2[i].data);
    }
    free(dY.data);
    free(A.data);
    free(B.data);
    free(C.data);
    fwd_free(&f);
    nb_free(b);
}

/* ----------------------------------------------------------------------- */
/* Softmax, LogSoftmax                                                      */

static void softmax_case(const char *op, int opset, int64_t axis, bool f32)
{
    nb_node *b = nb_new(op, "", opset, 1, 1);
    nb_attr_int(b, "axis", axis);
    oc_tensor X = f32 ? rand_f(3, D(2, 3, 4), 41) : rand_d(3, D(2, 3, 4), 41);
    /* Spread the logits so the softmax is far from uniform. */
    for (int64_t i = 0; i < 24; i++) {
        if (f32) ((float *)X.data)[i] *= 3.0f;
        else ((double *)X.data)[i] *= 3.0;
    }
    gc_expect(b, IN(&X), 0x1, f32 ? &GC_F : &GC_D);
    free(X.data);
    nb_free(b);
}

Test(softmax_grad, opset13_each_axis)
{
    for (int64_t axis = -1; axis <= 2; axis++) {
        softmax_case("Softmax", 13, axis, false);
        softmax_case("LogSoftmax", 13, axis, false);
    }
}

Test(softmax_grad, opset11_coerced_2d)
{
    /* axis 0: one softmax over all 24; 1: rows of 12; 2: rows of 4; -2 as 1. */
    for (int64_t axis = -2; axis <= 2; axis++) {
        if (axis == -1) continue;
        softmax_case("Softmax", 11, axis, false);
        softmax_case("LogSoftmax", 11, axis, false);
    }
}

Test(softmax_grad, float_kernels)
{
    softmax_case("Softmax", 13, 1, true);
    softmax_case("LogSoftmax", 11, 1, true);
}

/* ----------------------------------------------------------------------- */
/* BatchNormalization                                                       */

typedef struct bn_data {
    oc_tensor X, scale, B, mean, var;
} bn_data;

/* X of shape x_dims, per-channel vectors [ch] (var in [0.5, 2)). */
static bn_data bn_make(int x_rank, const int64_t *x_dims, int64_t ch)
{
    bn_data d;
    d.X = rand_d(x_rank, x_dims, 51);
    d.scale = rand_d(1, D(ch), 52);
    d.B = rand_d(1, D(ch), 53);
    d.mean = rand_d(1, D(ch), 54);
    d.var = rand_d(1, D(ch), 55);
    fill_d(d.var.data, ch, 56, 0.5, 2.0);
    return d;
}

static void bn_free(bn_data *d)
{
    free(d->X.data);
    free(d->scale.data);
    free(d->B.data);
    free(d->mean.data);
    free(d->var.data);
}

Test(batchnorm_grad, inference_affine)
{
    nb_node *b = nb_new("BatchNormalization", "", 15, 5, 1);
    nb_attr_float(b, "epsilon", 1e-3f);
    bn_data d = bn_make(4, D(2, 3, 2, 2), 3);
    gc_expect(b, IN(&d.X, &d.scale, &d.B, &d.mean, &d.var), 0x7, &GC_D);
    bn_free(&d);
    nb_free(b);
}

Test(batchnorm_grad, training_batch_statistics)
{
    /* ctx->training on an inference-mode node (Keras fit): batch statistics. */
    nb_node *b = nb_new("BatchNormalization", "", 15, 5, 1);
    bn_data d = bn_make(4, D(2, 3, 2, 2), 3);
    gc_expect(b, IN(&d.X, &d.scale, &d.B, &d.mean, &d.var), 0x7, &GC_D_TRAIN);
    bn_free(&d);
    nb_free(b);
}

Test(batchnorm_grad, training_mode_attribute_with_running_outputs)
{
    /* training_mode = 1 with the running-statistics outputs: they depend on X
     * too, and gradcheck sends a gradient into each of the three outputs. No
     * ctx->training, so no saved buffer: backward recomputes the statistics. */
    nb_node *b = nb_new("BatchNormalization", "", 15, 5, 3);
    nb_attr_int(b, "training_mode", 1);
    nb_attr_float(b, "momentum", 0.8f);
    bn_data d = bn_make(3, D(4, 2, 3), 2);
    gc_expect(b, IN(&d.X, &d.scale, &d.B, &d.mean, &d.var), 0x7, &GC_D);
    bn_free(&d);
    nb_free(b);
}

Test(batchnorm_grad, per_activation_opset7)
{
    /* spatial = 0: statistics per (channel, position): [3, 2]. */
    for (int train = 0; train < 2; train++) {
        nb_node *b = nb_new("BatchNormalization", "", 7, 5, 1);
        nb_attr_int(b, "spatial", 0);
        bn_data d = bn_make(3, D(4, 3, 2), 6);
        for (int i = 1; i < 5; i++) {
            oc_tensor *t = i == 1 ? &d.scale : i == 2 ? &d.B : i == 3 ? &d.mean : &d.var;
            t->shape = (oc_shape){.rank = 2, .dims = {3, 2}};
        }
        gc_expect(b, IN(&d.X, &d.scale, &d.B, &d.mean, &d.var), 0x7, train ? &GC_D_TRAIN : &GC_D);
        bn_free(&d);
        nb_free(b);
    }
}

Test(batchnorm_grad, float_training)
{
    nb_node *b = nb_new("BatchNormalization", "", 9, 5, 1);
    oc_tensor X = rand_f(2, D(6, 3), 61), s = rand_f(1, D(3), 62), B = rand_f(1, D(3), 63),
              m = rand_f(1, D(3), 64), v = rand_f(1, D(3), 65);
    for (int i = 0; i < 3; i++) ((float *)v.data)[i] = 1.0f + 0.5f * (float)i;
    gc_options o = GC_F;
    o.training = true;
    o.h = 1e-3; /* BN's normalization amplifies float rounding in L(x +- h) */
    gc_expect(b, IN(&X, &s, &B, &m, &v), 0x7, &o);
    free(X.data);
    free(s.data);
    free(B.data);
    free(m.data);
    free(v.data);
    nb_free(b);
}

Test(batchnorm_grad, training_updates_running_statistics_in_place)
{
    /* ONNX: running = input * momentum + batch * (1 - momentum), population
     * variance; recomputed here with plain loops over X [N=3, C=2, 2]. */
    nb_node *b = nb_new("BatchNormalization", "", 15, 5, 1);
    nb_attr_float(b, "momentum", 0.75f);
    bn_data d = bn_make(3, D(3, 2, 2), 2);
    double m0[2], v0[2];
    memcpy(m0, d.mean.data, sizeof m0);
    memcpy(v0, d.var.data, sizeof v0);
    const double *x = d.X.data;
    fwd f;
    fwd_run(b, IN(&d.X, &d.scale, &d.B, &d.mean, &d.var), true, 1, &f);
    cr_assert_eq(f.ctx.saved_bytes, 2 * 2 * sizeof(double));
    for (int c = 0; c < 2; c++) {
        double mu = 0, q = 0;
        for (int n = 0; n < 3; n++)
            for (int i = 0; i < 2; i++) mu += x[n * 4 + c * 2 + i] / 6.0;
        for (int n = 0; n < 3; n++)
            for (int i = 0; i < 2; i++) q += pow(x[n * 4 + c * 2 + i] - mu, 2) / 6.0;
        const double want_m = m0[c] * 0.75 + mu * 0.25, want_v = v0[c] * 0.75 + q * 0.25;
        cr_assert(fabs(((double *)d.mean.data)[c] - want_m) < 1e-12, "running mean[%d]", c);
        cr_assert(fabs(((double *)d.var.data)[c] - want_v) < 1e-12, "running var[%d]", c);
        /* Y of channel c has mean beta and (population) std scale*sqrt(q/(q+eps)). */
        const double *y = f.out[0].data, sc = ((double *)d.scale.data)[c],
                     bb = ((double *)d.B.data)[c];
        double ym = 0, yq = 0;
        for (int n = 0; n < 3; n++)
            for (int i = 0; i < 2; i++) ym += y[n * 4 + c * 2 + i] / 6.0;
        for (int n = 0; n < 3; n++)
            for (int i = 0; i < 2; i++) yq += pow(y[n * 4 + c * 2 + i] - ym, 2) / 6.0;
        cr_assert(fabs(ym - bb) < 1e-12, "Y mean of channel %d: %g, expected %g", c, ym, bb);
        cr_assert(fabs(sqrt(yq) - fabs(sc) * sqrt(q / (q + 1e-5))) < 1e-9, "Y std of channel %d", c);
    }
    fwd_free(&f);
    /* Without ctx->training nothing is written back. */
    memcpy(m0, d.mean.data, sizeof m0);
    fwd_run(b, IN(&d.X, &d.scale, &d.B, &d.mean, &d.var), false, 1, &f);
    cr_assert(memcmp(m0, d.mean.data, sizeof m0) == 0);
    cr_assert_eq(f.ctx.saved_bytes, 0);
    fwd_free(&f);
    bn_free(&d);
    nb_free(b);
}

/* ----------------------------------------------------------------------- */
/* Dropout                                                                  */

Test(dropout_grad, training_with_seed_matches_mask_formula)
{
    /* No training_mode input, ctx->training: drops with the seeded mask.
     * numpy: np.random.seed(7); (np.random.uniform(0, 1, 12) >= 0.5)
     *        -> [0,1,0,1,1,1,1,0,0,0,1,1]  (default ratio 0.5) */
    static const uint8_t want[12] = {0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1};
    nb_node *b = nb_new("Dropout", "", 13, 1, 2);
    nb_attr_int(b, "seed", 7);
    oc_tensor X = rand_d(2, D(3, 4), 71);
    gc_expect(b, IN(&X), 0x1, &GC_D_TRAIN);
    fwd f;
    fwd_run(b, IN(&X), true, 1, &f);
    cr_assert_eq(f.ctx.saved_bytes, 12);
    const uint8_t *mask = f.out[1].data;
    const double *x = X.data, *y = f.out[0].data;
    for (int i = 0; i < 12; i++) {
        cr_assert_eq(mask[i], want[i], "mask[%d]", i);
        cr_assert_eq(y[i], want[i] ? x[i] * 2.0 : 0.0, "y[%d]", i);
    }
    /* dX = dY * mask / (1 - ratio), on top of what dX held. */
    oc_tensor dY = rand_d(2, D(3, 4), 72), dX = like(&X, 0.25);
    bwd_run(b, &f, 1, IN(&dY), (oc_tensor *const[]){&dX});
    for (int i = 0; i < 12; i++) {
        double w = 0.25 + ((double *)dY.data)[i] * want[i] / (1.0 - 0.5);
        cr_assert_eq(((double *)dX.data)[i], w, "dX[%d]: %g, expected %g", i,
                     ((double *)dX.data)[i], w);
    }
    free(dY.data);
    free(dX.data);
    fwd_free(&f);
    free(X.data);
    nb_free(b);
}

Test(dropout_grad, training_with_ratio_input)
{
    /* numpy: np.random.seed(7); (np.random.uniform(0, 1, 12) >= 0.4)
     *        -> [0,1,1,1,1,1,1,0,0,1,1,1] */
    static const uint8_t want[12] = {0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1};
    nb_node *b = nb_new("Dropout", "", 12, 2, 1);
    nb_attr_int(b, "seed", 7);
    oc_tensor X = rand_d(1, D(12), 73);
    float r = 0.4f;
    oc_tensor R = nb_tensor(ONNXC_FLOAT, 0, NULL, &r);
    gc_expect(b, IN(&X, &R), 0x1, &GC_D_TRAIN);
    fwd f;
    fwd_run(b, IN(&X, &R), true, 1, &f);
    const double scale = 1.0 / (1.0 - 0.4f);
    oc_tensor dY = rand_d(1, D(12), 74), dX = like(&X, 0.0);
    bwd_run(b, &f, 1, IN(&dY), (oc_tensor *const[]){&dX});
    for (int i = 0; i < 12; i++) {
        double w = want[i] * ((double *)dY.data)[i] * scale;
        cr_assert(fabs(((double *)dX.data)[i] - w) < 1e-15, "dX[%d]", i);
    }
    free(dY.data);
    free(dX.data);
    fwd_free(&f);
    free(X.data);
    nb_free(b);
}

Test(dropout_grad, unseeded_training_uses_rng)
{
    /* gradcheck restarts the RNG state for each forward: the same mask. */
    nb_node *b = nb_new("Dropout", "", 13, 1, 1);
    oc_tensor X = rand_d(2, D(5, 6), 75);
    gc_expect(b, IN(&X), 0x1, &GC_D_TRAIN);
    /* Roughly half the elements dropped (30 draws; 5..25 is far outside chance). */
    fwd f;
    fwd_run(b, IN(&X), true, 1, &f);
    int zeros = 0;
    for (int i = 0; i < 30; i++) zeros += ((double *)f.out[0].data)[i] == 0.0;
    cr_assert(zeros >= 5 && zeros <= 25, "%d of 30 dropped", zeros);
    fwd_free(&f);
    free(X.data);
    nb_free(b);
}

Test(dropout_grad, training_mode_input_decides)
{
    uint8_t off = 0, on = 1;
    oc_tensor X = rand_d(2, D(3, 4), 76);
    double r = 0.5;
    oc_tensor R = nb_tensor(ONNXC_DOUBLE, 0, NULL, &r);
    oc_tensor T_off = nb_tensor(ONNXC_BOOL, 0, NULL, &off), T_on = nb_tensor(ONNXC_BOOL, 0, NULL, &on);
    /* training_mode = false beats ctx->training: identity both ways. */
    nb_node *b = nb_new("Dropout", "", 13, 3, 1);
    nb_attr_int(b, "seed", 3);
    gc_expect(b, IN(&X, &R, &T_off), 0x1, &GC_D_TRAIN);
    fwd f;
    fwd_run(b, IN(&X, &R, &T_off), true, 1, &f);
    cr_assert(memcmp(f.out[0].data, X.data, 12 * sizeof(double)) == 0);
    fwd_free(&f);
    nb_free(b);
    /* training_mode = true outside a trainer (no saved buffer): the mask output
     * carries the mask to backward. */
    b = nb_new("Dropout", "", 13, 3, 2);
    nb_attr_int(b, "seed", 3);
    gc_expect(b, IN(&X, &R, &T_on), 0x1, &GC_D);
    nb_free(b);
    free(X.data);
}

Test(dropout_grad, inference_is_identity)
{
    nb_node *b = nb_new("Dropout", "", 13, 1, 2);
    oc_tensor X = rand_d(2, D(3, 4), 77);
    gc_expect(b, IN(&X), 0x1, &GC_D);
    nb_free(b);
    b = nb_new("Dropout", "", 7, 1, 1);
    gc_expect(b, IN(&X), 0x1, &GC_D);
    nb_free(b);
    free(X.data);
}

Test(dropout_grad, opset7_training_float_mask)
{
    /* Before 12 the ratio is an attribute and the mask has data's dtype. */
    nb_node *b = nb_new("Dropout", "", 7, 1, 2);
    nb_attr_float(b, "ratio", 0.25f);
    oc_tensor X = rand_f(1, D(40), 78);
    gc_options o = GC_F;
    o.training = true;
    gc_expect(b, IN(&X), 0x1, &o);
    fwd f;
    fwd_run(b, IN(&X), true, 1, &f);
    cr_assert_eq(f.out[1].dtype, ONNXC_FLOAT);
    const float *x = X.data, *y = f.out[0].data, *m = f.out[1].data;
    const float scale = 1.0f / (1.0f - 0.25f);
    for (int i = 0; i < 40; i++) {
        cr_assert(m[i] == 0.0f || m[i] == 1.0f, "mask[%d] = %g", i, m[i]);
        cr_assert_eq(y[i], (m[i] * x[i]) * scale, "y[%d]", i);
    }
    fwd_free(&f);
    free(X.data);
    nb_free(b);
}

/* ----------------------------------------------------------------------- */
/* Accumulation, explicitly: dX prefilled with 1 gets exactly the gradient  */
/* added (compared with a zero-filled run).                                 */

static void expect_adds(nb_node *b, const oc_tensor *const *in, uint32_t check, bool training)
{
    fwd f;
    fwd_run(b, in, training, 1, &f);
    oc_tensor dyt[4];
    const oc_tensor *dy[4] = {0};
    for (int k = 0; k < b->node.n_out; k++) {
        if (!f.outp[k] || f.out[k].dtype != ONNXC_DOUBLE) continue;
        dyt[k] = rand_d(f.out[k].shape.rank, f.out[k].shape.dims, 80 + (uint32_t)k);
        dy[k] = &dyt[k];
    }
    oc_tensor zt[8], ot[8];
    oc_tensor *z[8] = {0}, *o[8] = {0};
    for (int i = 0; i < b->node.n_in; i++) {
        if (!((check >> i) & 1)) continue;
        zt[i] = like(in[i], 0.0);
        ot[i] = like(in[i], 1.0);
        z[i] = &zt[i];
        o[i] = &ot[i];
    }
    bwd_run(b, &f, 1, dy, z);
    bwd_run(b, &f, 1, dy, o);
    for (int i = 0; i < b->node.n_in; i++) {
        if (!z[i]) continue;
        for (int64_t e = 0; e < oc_tensor_numel(in[i]); e++) {
            double g0 = ((double *)zt[i].data)[e], g1 = ((double *)ot[i].data)[e];
            cr_assert(fabs(g1 - (1.0 + g0)) <= 1e-12 * (1 + fabs(g0)),
                      "%s input %d [%lld]: prefilled 1 gave %.17g, zero gave %.17g",
                      b->node.op_type, i, (long long)e, g1, g0);
        }
        free(zt[i].data);
        free(ot[i].data);
    }
    for (int k = 0; k < 4; k++)
        if (dy[k]) free(dyt[k].data);
    fwd_free(&f);
}

Test(grad_nn, backward_adds)
{
    oc_tensor A = rand_d(3, D(2, 3, 4), 91), B = rand_d(2, D(4, 5), 92), C = rand_d(1, D(5), 93);
    oc_tensor A2 = rand_d(2, D(3, 4), 94);
    nb_node *b = nb_new("MatMul", "", 13, 2, 1);
    expect_adds(b, IN(&A, &B), 0x3, false);
    nb_free(b);
    b = nb_new("Gemm", "", 13, 3, 1);
    expect_adds(b, IN(&A2, &B, &C), 0x7, false);
    nb_free(b);
    b = nb_new("Softmax", "", 13, 1, 1);
    expect_adds(b, IN(&A), 0x1, false);
    nb_free(b);
    b = nb_new("LogSoftmax", "", 11, 1, 1);
    expect_adds(b, IN(&A), 0x1, false);
    nb_free(b);
    bn_data d = bn_make(4, D(2, 3, 2, 2), 3);
    for (int train = 0; train < 2; train++) {
        b = nb_new("BatchNormalization", "", 15, 5, 1);
        expect_adds(b, IN(&d.X, &d.scale, &d.B, &d.mean, &d.var), 0x7, train);
        nb_free(b);
    }
    b = nb_new("Dropout", "", 13, 1, 1);
    nb_attr_int(b, "seed", 1);
    expect_adds(b, IN(&A), 0x1, true);
    nb_free(b);
    bn_free(&d);
    free(A.data);
    free(A2.data);
    free(B.data);
    free(C.data);
}
