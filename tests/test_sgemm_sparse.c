/*
 * The zero-skipping products of a first Dense layer (kernels/sgemm_sparse.h)
 * against two independent references: results written out by hand for
 * one-hot batches, and the dense GEMM, which they must match bit for bit
 * (that is their contract: the trainer picks between them by the data, and
 * results may not depend on the pick). Every comparison also checks which
 * kernels ran, so that a test cannot pass by falling back to the dense GEMM.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_features.h"
#include "kernels/sgemm.h"
#include "kernels/sgemm_sparse.h"

/* Does this CPU (and build) run the sparse kernels? */
static int have_sparse(void)
{
    return oc_cpu_isa() == OC_ISA_AVX512;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float next_unit(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(rng_state >> 40) / (float)(1u << 24);
}

/* rows x cols with a row stride ld, each entry nonzero with probability
 * `density` (in [-1, 1) then), zero otherwise; the padding past cols holds
 * a value that must never be read into the results. */
static float *sparse_matrix(int64_t rows, int64_t cols, int64_t ld, double density)
{
    float *m = malloc((size_t)(rows * ld) * sizeof *m);
    cr_assert_not_null(m);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < ld; c++)
            m[r * ld + c] = c >= cols ? 1e30f : next_unit() < density ? 2.0f * next_unit() - 1.0f : 0.0f;
    return m;
}

static float *filled(int64_t n, float v)
{
    float *m = malloc((size_t)n * sizeof *m);
    cr_assert_not_null(m);
    for (int64_t i = 0; i < n; i++) m[i] = v;
    return m;
}

/* First differing float of two buffers, or -1. */
static int64_t first_difference(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(float)) != 0) return i;
    return -1;
}

typedef struct fwd_case {
    int64_t M, K, N, ldw;
    double density;
    int bias, relu, threads;
    int transB;                 /* W [N, K] (row stride ldw >= K) instead of [K, N] */
} fwd_case;

/* Y = act(X W + b) both ways; returns whether the sparse kernels ran. */
static int forward_case(const fwd_case *c)
{
    float *x = sparse_matrix(c->M, c->K, c->K + 3, c->density);
    float *w = c->transB ? sparse_matrix(c->N, c->K, c->ldw, 1.0) : sparse_matrix(c->K, c->N, c->ldw, 1.0);
    float *b = c->bias ? sparse_matrix(1, c->N, c->N, 1.0) : NULL;
    const int64_t ldy = c->N + 5;
    float *ys = filled(c->M * ldy, -7.0f), *yd = filled(c->M * ldy, -7.0f);
    const oc_act act = c->relu ? OC_ACT_RELU : OC_ACT_NONE;
    const int ran = oc_sgemm_fast_dense_sparse_a(c->transB, c->M, c->N, c->K, x, c->K + 3, w, c->ldw, b, act, ys,
                                                 ldy, c->threads, NULL);
    oc_sgemm_fast_dense(c->transB, c->M, c->N, c->K, x, c->K + 3, w, c->ldw, b, act, yd, ldy, 1);
    const int64_t d = first_difference(ys, yd, c->M * ldy);
    cr_assert_eq(d, -1,
                 "forward M=%lld K=%lld N=%lld transB %d density %.2f bias %d relu %d threads %d: element %lld "
                 "is %a, dense %a (sparse kernels ran: %d)",
                 (long long)c->M, (long long)c->K, (long long)c->N, c->transB, c->density, c->bias, c->relu,
                 c->threads,
                 (long long)d, d >= 0 ? (double)ys[d] : 0.0, d >= 0 ? (double)yd[d] : 0.0, ran);
    free(x), free(w), free(b), free(ys), free(yd);
    return ran;
}

Test(sgemm_sparse, forward_is_the_dense_result_bit_for_bit)
{
    /* K: one word, words and a partial one, several 256 chunks; N: one
     * block, a partial vector, two blocks; W read with a wider stride (a
     * column range of a bigger W, as the column split passes it). */
    const fwd_case cases[] = {
        {128, 784, 64, 64, 0.5, 1, 1, 1, 0},   {64, 784, 32, 64, 0.5, 1, 1, 1, 0},  {5, 7, 32, 32, 0.5, 0, 0, 1, 0},
        {37, 300, 100, 100, 0.3, 1, 0, 1, 0},  {130, 65, 40, 47, 0.6, 0, 1, 1, 0}, {200, 513, 64, 64, 0.05, 1, 1, 1, 0},
        {33, 1030, 96, 128, 0.5, 1, 1, 1, 0},  {128, 784, 64, 64, 0.0, 1, 1, 1, 0}, {300, 784, 64, 64, 0.5, 1, 1, 2, 0},
        {129, 256, 33, 33, 0.4, 1, 1, 2, 0},
        /* transposed weights: 16x16 blocks cut by K (784 = 12 words + 16)
         * and by N (33, 100: partial blocks), a wider row stride */
        {128, 784, 64, 784, 0.5, 1, 1, 1, 1}, {37, 300, 100, 301, 0.3, 1, 0, 1, 1},
        {130, 65, 33, 70, 0.6, 0, 1, 1, 1},   {300, 784, 64, 784, 0.5, 1, 1, 2, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int ran = forward_case(&cases[i]);
        cr_assert_eq(ran, have_sparse(), "case %zu: sparse kernels ran %d, expected %d", i, ran, have_sparse());
    }
}

typedef struct at_case {
    int64_t rows, features, N, cut;
    float beta;
    double density;
    int threads;
} at_case;

/* X's masks as a forward product over it leaves them (with `threads`
 * threads), or NULL when that ran the dense GEMM. Free with free(). */
static uint64_t *forward_masks(const float *x, int64_t rows, int64_t features, int64_t ldx, int threads)
{
    enum { N = 32 };
    const size_t bytes = oc_sparse_masks_bytes(rows, features);
    if (!bytes) return NULL;
    uint64_t *masks = malloc(bytes);
    float *w = sparse_matrix(features, N, N, 1.0), *y = malloc((size_t)(rows * N) * sizeof(float));
    cr_assert(masks && y);
    memset(masks, 0xA5, bytes); /* garbage the forward must overwrite */
    const int ran = oc_sgemm_fast_dense_sparse_a(0, rows, N, features, x, ldx, w, N, NULL, OC_ACT_NONE, y, N,
                                                 threads, masks);
    free(w), free(y);
    if (!ran) free(masks), masks = NULL;
    return masks;
}

/* A layer's weight gradient both ways: dW [features, N] = X^T dZ (+ beta
 * dW), or with `transposed` (a transB layer's) dW [N, features] = dZ^T X;
 * the sparse way twice, finding X's zeros itself and taking them from a
 * forward pass's masks. Returns whether the sparse kernels ran. */
static int weight_grad_both(const at_case *c, int transposed)
{
    const int64_t ldx = c->features + 1;
    const int64_t rows_c = transposed ? c->N : c->features, ldc = (transposed ? c->features : c->N) + 2;
    float *x = sparse_matrix(c->rows, c->features, ldx, c->density);
    float *dz = sparse_matrix(c->rows, c->N, c->N, 0.8);
    float *start = sparse_matrix(rows_c, ldc, ldc, 1.0);
    uint64_t *masks = forward_masks(x, c->rows, c->features, ldx, c->threads);
    const size_t bytes = (size_t)(rows_c * ldc) * sizeof(float);
    float *cd = malloc(bytes), *cs = malloc(bytes);
    memcpy(cd, start, bytes);
    if (transposed)
        oc_sgemm_fast_cut(1, 0, c->N, c->features, c->rows, c->cut, dz, c->N, x, ldx, c->beta, cd, ldc, 1);
    else
        oc_sgemm_fast_cut(1, 0, c->features, c->N, c->rows, c->cut, x, ldx, dz, c->N, c->beta, cd, ldc, 1);
    int ran = -1;
    for (int with_masks = 0; with_masks < 2; with_masks++) {
        const uint64_t *m = with_masks ? masks : NULL;
        if (with_masks && !masks) break;
        memcpy(cs, start, bytes);
        const int r = transposed ? oc_sgemm_fast_cut_sparse_b(c->N, c->features, c->rows, c->cut, dz, c->N, x,
                                                              ldx, c->beta, cs, ldc, c->threads, m)
                                 : oc_sgemm_fast_cut_sparse_at(c->features, c->N, c->rows, c->cut, x, ldx, dz,
                                                               c->N, c->beta, cs, ldc, c->threads, m);
        cr_assert(ran < 0 || r == ran, "the sparse kernels ran %d with masks, %d without", r, ran);
        ran = r;
        const int64_t d = first_difference(cs, cd, rows_c * ldc);
        cr_assert_eq(d, -1,
                     "%s rows=%lld features=%lld N=%lld cut %lld beta %g density %.2f threads %d masks %d: element "
                     "%lld is %a, dense %a (sparse kernels ran: %d)",
                     transposed ? "dW^T" : "dW", (long long)c->rows, (long long)c->features, (long long)c->N,
                     (long long)c->cut, (double)c->beta, c->density, c->threads, with_masks, (long long)d,
                     d >= 0 ? (double)cs[d] : 0.0, d >= 0 ? (double)cd[d] : 0.0, ran);
    }
    /* The forward pass decides on the same sample of X. */
    cr_assert(!ran || masks, "the sparse kernels ran but the forward pass left no masks");
    free(x), free(dz), free(start), free(cs), free(cd), free(masks);
    return ran;
}

static int weight_grad_case(const at_case *c) { return weight_grad_both(c, 0); }
static int weight_grad_b_case(const at_case *c) { return weight_grad_both(c, 1); }

Test(sgemm_sparse, transposed_weight_gradient_is_the_dense_result_bit_for_bit)
{
    /* features: groups of 4 and a last group of 1..3 (transposed stores of
     * both kinds); N: partial vectors of 16. */
    const at_case cases[] = {
        {128, 784, 64, 64, 0.0f, 0.5, 1}, {128, 781, 64, 0, 1.0f, 0.5, 1},   {300, 99, 40, 100, 1.0f, 0.4, 1},
        {600, 33, 33, 300, 0.0f, 0.6, 1}, {130, 1030, 100, 65, 1.0f, 0.3, 2}, {64, 784, 32, 0, 0.0f, 0.5, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int ran = weight_grad_b_case(&cases[i]);
        cr_assert_eq(ran, have_sparse(), "case %zu: sparse kernels ran %d, expected %d", i, ran, have_sparse());
    }
}

Test(sgemm_sparse, weight_gradient_is_the_dense_result_bit_for_bit)
{
    /* rows: under and over one 256-row chunk, with and without a cut (also
     * one past a chunk end); features: odd (a group of 1..3 columns at the
     * end), over one 512-column slab; beta 0 (overwrite) and 1 (add). */
    const at_case cases[] = {
        {128, 784, 64, 64, 0.0f, 0.5, 1},  {128, 784, 64, 0, 1.0f, 0.5, 1},   {64, 784, 32, 0, 0.0f, 0.5, 1},
        {8, 17, 32, 3, 0.0f, 0.5, 1},      {300, 99, 64, 100, 1.0f, 0.4, 1},  {600, 33, 40, 300, 0.0f, 0.6, 1},
        {255, 1030, 100, 0, 1.0f, 0.3, 1}, {256, 781, 64, 128, 0.0f, 0.05, 1}, {128, 784, 64, 64, 0.0f, 0.0, 1},
        {128, 784, 64, 64, 0.0f, 0.5, 2},  {130, 1000, 48, 65, 1.0f, 0.5, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int ran = weight_grad_case(&cases[i]);
        cr_assert_eq(ran, have_sparse(), "case %zu: sparse kernels ran %d, expected %d", i, ran, have_sparse());
    }
}

/* The masks the forward pass leaves are the documented bits: bit k % 64 of
 * word k / 64 of row r set exactly when x[r, k] is neither +0 nor -0
 * (NaN and subnormals count as nonzero), with every thread count. */
Test(sgemm_sparse, forward_masks_mark_exactly_the_nonzeros)
{
    if (!have_sparse()) return; /* nothing to check: no masks are made */
    enum { M = 300, K = 150, LDX = 153 }; /* M N K over a thread team's minimum */
    float *x = sparse_matrix(M, K, LDX, 0.4);
    x[3 * LDX + 5] = -0.0f, x[4 * LDX + 64] = NAN, x[5 * LDX + 149] = 1e-40f, x[6 * LDX + 63] = -INFINITY;
    const int64_t words = oc_sparse_mask_words(K);
    cr_assert_eq(words, 3);
    cr_assert_eq(oc_sparse_masks_bytes(M, K), (size_t)(M * words) * sizeof(uint64_t));
    for (int threads = 1; threads <= 2; threads++) {
        uint64_t *masks = forward_masks(x, M, K, LDX, threads);
        cr_assert_not_null(masks);
        for (int64_t r = 0; r < M; r++)
            for (int64_t k = 0; k < words * 64; k++) {
                uint32_t u = 0;
                if (k < K) memcpy(&u, x + r * LDX + k, sizeof u);
                const int want = (u & 0x7fffffffu) != 0, got = (int)(masks[r * words + k / 64] >> (k % 64) & 1);
                cr_assert_eq(got, want, "threads %d: row %lld column %lld: bit %d, x = %a", threads, (long long)r,
                             (long long)k, got, k < K ? (double)x[r * LDX + k] : 0.0);
            }
        free(masks);
    }
    free(x);
}

/* The weight gradient takes the zeros from the masks it is given, not from
 * X: masks with no bits set leave dW = beta dW whatever X holds, and masks
 * marking one row give that row's outer product alone. */
Test(sgemm_sparse, weight_gradient_reads_the_masks_it_is_given)
{
    if (!have_sparse()) return;
    enum { ROWS = 16, F = 100, N = 32 };
    float *x = sparse_matrix(ROWS, F, F, 1.0), *dz = sparse_matrix(ROWS, N, N, 1.0);
    const int64_t words = oc_sparse_mask_words(F);
    uint64_t masks[ROWS * 2];
    cr_assert_eq(words, 2);
    memset(masks, 0, sizeof masks);
    float *dw = filled(F * N, 3.0f);
    cr_assert_eq(oc_sgemm_fast_cut_sparse_at(F, N, ROWS, 0, x, F, dz, N, 1.0f, dw, N, 1, masks), 1);
    for (int64_t i = 0; i < F * N; i++) cr_assert_eq(dw[i], 3.0f, "element %lld: %a", (long long)i, (double)dw[i]);
    masks[7 * 2] = ~0ull, masks[7 * 2 + 1] = (1ull << (F - 64)) - 1; /* row 7 */
    cr_assert_eq(oc_sgemm_fast_cut_sparse_at(F, N, ROWS, 0, x, F, dz, N, 0.0f, dw, N, 2, masks), 1);
    for (int64_t k = 0; k < F; k++)
        for (int64_t n = 0; n < N; n++)
            cr_assert_eq(dw[k * N + n], x[7 * F + k] * dz[7 * N + n], "dW[%lld, %lld]", (long long)k, (long long)n);
    free(x), free(dz), free(dw);
}

/* One-hot rows: row r has a single nonzero, s[r] at column k[r]. Then
 * Y[r, :] = relu(s[r] W[k[r], :] + b) and dW[k, :] = sum over the rows r with
 * k[r] = k of s[r] dZ[r, :], exact with small integers. */
Test(sgemm_sparse, one_hot_batches_give_the_hand_computed_products)
{
    enum { M = 40, K = 700, N = 48 };
    float *x = filled(M * K, 0.0f), *w = malloc(K * N * sizeof(float)), *b = malloc(N * sizeof(float));
    float *y = filled(M * N, 0.0f), *dz = malloc(M * N * sizeof(float)), *dw = filled(K * N, 5.0f);
    int64_t hot[M];
    for (int64_t r = 0; r < M; r++) {
        hot[r] = (r * 97) % 23 + 300; /* 23 distinct columns: several rows share one */
        x[r * K + hot[r]] = (float)(r % 3 + 1);
    }
    for (int64_t i = 0; i < K * N; i++) w[i] = (float)(i % 11) - 5.0f;
    for (int64_t j = 0; j < N; j++) b[j] = (float)(j % 4) - 1.0f;
    for (int64_t i = 0; i < M * N; i++) dz[i] = (float)(i % 7) - 3.0f;

    const int ran_f = oc_sgemm_fast_dense_sparse_a(0, M, N, K, x, K, w, N, b, OC_ACT_RELU, y, N, 1, NULL);
    const int ran_b = oc_sgemm_fast_cut_sparse_at(K, N, M, M / 2, x, K, dz, N, 0.0f, dw, N, 1, NULL);
    cr_assert_eq(ran_f, have_sparse());
    cr_assert_eq(ran_b, have_sparse());
    for (int64_t r = 0; r < M; r++)
        for (int64_t j = 0; j < N; j++) {
            const float want = fmaxf(0.0f, x[r * K + hot[r]] * w[hot[r] * N + j] + b[j]);
            cr_assert_eq(y[r * N + j], want, "Y[%lld, %lld] = %g, want %g", (long long)r, (long long)j,
                         (double)y[r * N + j], (double)want);
        }
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++) {
            float want = 0.0f;
            for (int64_t r = 0; r < M; r++)
                if (hot[r] == k) want += x[r * K + k] * dz[r * N + j];
            cr_assert_eq(dw[k * N + j], want, "dW[%lld, %lld] = %g, want %g", (long long)k, (long long)j,
                         (double)dw[k * N + j], (double)want);
        }
    free(x), free(w), free(b), free(y), free(dz), free(dw);
}

/* A NaN in the batch is not a zero: it reaches the outputs it touches, as
 * in the dense product. */
Test(sgemm_sparse, nan_in_the_batch_is_multiplied)
{
    const fwd_case c = {64, 784, 64, 64, 0.3, 1, 0, 1, 0};
    float *x = sparse_matrix(c.M, c.K, c.K, c.density);
    x[5 * c.K + 17] = NAN;
    float *w = sparse_matrix(c.K, c.N, c.N, 1.0), *y = filled(c.M * c.N, 0.0f), *dw = filled(c.K * c.N, 0.0f);
    float *dz = sparse_matrix(c.M, c.N, c.N, 1.0);
    cr_assert_eq(oc_sgemm_fast_dense_sparse_a(0, c.M, c.N, c.K, x, c.K, w, c.N, NULL, OC_ACT_NONE, y, c.N, 1, NULL),
                 have_sparse());
    cr_assert_eq(oc_sgemm_fast_cut_sparse_at(c.K, c.N, c.M, 0, x, c.K, dz, c.N, 0.0f, dw, c.N, 1, NULL),
                 have_sparse());
    for (int64_t j = 0; j < c.N; j++) {
        cr_assert(isnan(y[5 * c.N + j]), "Y[5, %lld] = %g, want NaN", (long long)j, (double)y[5 * c.N + j]);
        cr_assert(isnan(dw[17 * c.N + j]), "dW[17, %lld] = %g, want NaN", (long long)j, (double)dw[17 * c.N + j]);
        cr_assert(!isnan(y[4 * c.N + j]) && !isnan(dw[16 * c.N + j]));
    }
    free(x), free(w), free(y), free(dw), free(dz);
}

/* Which values count as zero: +0 and -0 are skipped (x * w adds +-0 to a
 * sum, as in the dense product), a subnormal is not (x * w need not be 0
 * when the caller keeps denormals). Products with both in the batch, at the
 * start, the middle and the 16-lane tail of a row, equal the dense ones.
 * (The test process keeps denormals: no DAZ here.) */
Test(sgemm_sparse, negative_zeros_are_skipped_and_subnormals_are_not)
{
    const fwd_case c = {64, 784, 64, 64, 0.5, 1, 1, 1, 0};
    float *x = sparse_matrix(c.M, c.K, c.K, c.density);
    const int64_t spots[] = {0, 1, 63, 64, 500, 767, 768, 783};
    for (int64_t r = 0; r < c.M; r++)
        for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++)
            x[r * c.K + spots[i]] = (r + (int64_t)i) % 3 == 0 ? -0.0f : (r + (int64_t)i) % 3 == 1 ? 0x1p-149f : x[r * c.K + spots[i]];
    float *w = sparse_matrix(c.K, c.N, c.N, 1.0), *dz = sparse_matrix(c.M, c.N, c.N, 1.0);
    /* Rows of W under those spots scaled by 2^100, so that a subnormal x
     * (2^-149) makes a product of 2^-49 or so: skipping it would show. */
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++)
        for (int64_t j = 0; j < c.N; j++) w[spots[i] * c.N + j] *= 0x1p100f;
    float *ys = filled(c.M * c.N, 0.0f), *yd = filled(c.M * c.N, 0.0f);
    float *gs = filled(c.K * c.N, 0.0f), *gd = filled(c.K * c.N, 0.0f);
    cr_assert_eq(
        oc_sgemm_fast_dense_sparse_a(0, c.M, c.N, c.K, x, c.K, w, c.N, NULL, OC_ACT_NONE, ys, c.N, 1, NULL),
        have_sparse());
    oc_sgemm_fast_dense(0, c.M, c.N, c.K, x, c.K, w, c.N, NULL, OC_ACT_NONE, yd, c.N, 1);
    cr_assert_eq(oc_sgemm_fast_cut_sparse_at(c.K, c.N, c.M, 0, x, c.K, dz, c.N, 0.0f, gs, c.N, 1, NULL),
                 have_sparse());
    oc_sgemm_fast_cut(1, 0, c.K, c.N, c.M, 0, x, c.K, dz, c.N, 0.0f, gd, c.N, 1);
    cr_assert_eq(first_difference(ys, yd, c.M * c.N), -1, "forward differs from the dense product");
    cr_assert_eq(first_difference(gs, gd, c.K * c.N), -1, "dW differs from the dense product");

    /* The density sample: one row of 4 +0, 4 -0, 4 subnormals, 4 ones,
     * repeated over 80 columns (five 16-lane blocks, a partial word). */
    float d[8 * 80];
    for (int i = 0; i < 8 * 80; i++) d[i] = i % 16 < 4 ? 0.0f : i % 16 < 8 ? -0.0f : i % 16 < 12 ? 0x1p-149f : 1.0f;
    cr_assert_float_eq(oc_sparse_sample_density(8, 80, d, 80), 0.5, 1e-12);
    free(x), free(w), free(dz), free(ys), free(yd), free(gs), free(gd);
}

/* dX = dZ op(W)^T (+ beta dX) both ways, as a layer's input gradient calls
 * it: oc_sgemm_fast(0, transB, ...) with dZ's zeros skipped. */
static int input_grad_case(int64_t rows, int64_t out, int64_t inner, int transB, float beta, double density, int threads)
{
    const int64_t ldb = transB ? inner + 2 : out + 1, ldc = out + 3;
    float *dz = sparse_matrix(rows, inner, inner, density);
    float *w = transB ? sparse_matrix(out, inner, ldb, 1.0) : sparse_matrix(inner, out, ldb, 1.0);
    float *start = sparse_matrix(rows, ldc, ldc, 1.0);
    const size_t bytes = (size_t)(rows * ldc) * sizeof(float);
    float *cs = malloc(bytes), *cd = malloc(bytes);
    memcpy(cs, start, bytes);
    memcpy(cd, start, bytes);
    const int ran = oc_sgemm_fast_sparse_a(transB, rows, out, inner, dz, inner, w, ldb, beta, cs, ldc, threads);
    oc_sgemm_fast(0, transB, rows, out, inner, 1.0f, dz, inner, w, ldb, beta, cd, ldc, 1);
    const int64_t d = first_difference(cs, cd, rows * ldc);
    cr_assert_eq(d, -1,
                 "dX rows=%lld out=%lld inner=%lld transB %d beta %g density %.2f threads %d: element %lld is %a, "
                 "dense %a (sparse kernels ran: %d)",
                 (long long)rows, (long long)out, (long long)inner, transB, (double)beta, density, threads, (long long)d,
                 d >= 0 ? (double)cs[d] : 0.0, d >= 0 ? (double)cd[d] : 0.0, ran);
    free(dz), free(w), free(start), free(cs), free(cd);
    return ran;
}

Test(sgemm_sparse, input_gradient_is_the_dense_result_bit_for_bit)
{
    /* beta 1 adds into dX (a value with two consumers) in the first K chunk
     * only; inner 300 and 600 have two and three chunks. */
    const struct { int64_t rows, out, inner; int transB; float beta; double density; int threads; } cases[] = {
        {128, 64, 64, 1, 0.0f, 0.5, 1},  {128, 64, 64, 1, 1.0f, 0.5, 1}, {64, 784, 64, 0, 0.0f, 0.4, 1},
        {37, 100, 300, 1, 1.0f, 0.3, 1}, {130, 33, 600, 0, 1.0f, 0.6, 1}, {300, 512, 512, 1, 0.0f, 0.5, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int ran = input_grad_case(cases[i].rows, cases[i].out, cases[i].inner, cases[i].transB, cases[i].beta,
                                        cases[i].density, cases[i].threads);
        cr_assert_eq(ran, have_sparse(), "case %zu: sparse kernels ran %d, expected %d", i, ran, have_sparse());
    }
    cr_assert_eq(input_grad_case(128, 64, 10, 1, 0.0f, 1.0, 1), 0, "a dense dZ (softmax's) takes the dense GEMM");
}

/* Where the sparse kernels would lose (dense batches, narrow outputs, tiny
 * batches) or do not exist (other kernel families), the
 * dense GEMM runs, with the same results. */
Test(sgemm_sparse, the_dense_gemm_runs_where_skipping_does_not_pay)
{
    const fwd_case dense_batch = {128, 784, 64, 64, 0.95, 1, 1, 1, 0}, narrow = {128, 784, 10, 10, 0.5, 1, 1, 1, 0},
                   tiny = {4, 784, 64, 64, 0.5, 1, 1, 1, 0};
    cr_assert_eq(forward_case(&dense_batch), 0);
    cr_assert_eq(forward_case(&narrow), 0);
    cr_assert_eq(forward_case(&tiny), 0);
    const at_case dense_at = {128, 784, 64, 64, 0.0f, 0.95, 1}, narrow_at = {128, 784, 16, 64, 0.0f, 0.5, 1};
    cr_assert_eq(weight_grad_case(&dense_at), 0);
    cr_assert_eq(weight_grad_case(&narrow_at), 0);
    cr_assert_eq(weight_grad_b_case(&dense_at), 0);
    cr_assert_eq(weight_grad_b_case(&narrow_at), 0);

    const fwd_case sparse_batch = {128, 784, 64, 64, 0.5, 1, 1, 1, 0};
    for (int isa = OC_ISA_AVX2; isa >= OC_ISA_PORTABLE; isa--) {
        if ((int)oc_cpu_set_isa(isa) != isa) continue;
        cr_assert_eq(forward_case(&sparse_batch), 0, "family %s has no sparse kernels", oc_isa_name((oc_isa)isa));
        oc_cpu_set_isa(-1);
    }
    oc_cpu_set_isa(-1);
}

Test(sgemm_sparse, density_sample_counts_nonzeros_and_nans)
{
    float x[16 * 100];
    for (int i = 0; i < 16 * 100; i++) x[i] = i % 4 == 0 ? 1.0f : i % 4 == 1 ? NAN : 0.0f;
    cr_assert_float_eq(oc_sparse_sample_density(16, 100, x, 100), 0.5, 1e-12);
    cr_assert_float_eq(oc_sparse_sample_density(16, 3, x, 100), 2.0 / 3.0, 1e-12);
}
