/* Zero-skipping products of a first Dense layer (sgemm_sparse.h): when to
 * use them, and the split between threads. */
#include "sgemm_sparse.h"

#include "../parallel.h"
#include "cpu_features.h"
#include "sgemm_internal.h"
#include "sgemm_sparse_internal.h"

/* Above this fraction of nonzeros the dense kernels win. The forward kernel
 * loads a row of W per nonzero where the dense tile loads one per 12 rows;
 * measured on the seed model's first layer (bench/sparse_layer.c). */
#define MAX_DENSITY 0.70
/* Narrower outputs run dense: per nonzero the sparse kernels load a whole
 * row of W (or dZ), which for a 64x10 layer costs more than the skipped
 * multiply-adds save (`bench/sparse_layer --in 64 --out 10`, with this
 * limit lowered: the sparse forward took ~1.8x the dense one). */
#define MIN_N 32
/* Rows sampled to estimate the density. */
#define SAMPLE_ROWS 8
/* The forward kernel keeps 64 mask words per 4096 columns on its stack. */
#define MAX_K 65536
/* Multiply-adds (dense count) worth a thread team, as in sgemm.c. */
#define PAR_MIN (1 << 20)

double oc_sparse_sample_density(int64_t M, int64_t K, const float *A, int64_t lda)
{
    if (M <= 0 || K <= 0) return 1.0;
    const int64_t rows = M < SAMPLE_ROWS ? M : SAMPLE_ROWS;
    if (oc_sparse_density_avx512 && K <= MAX_K && oc_cpu_isa() == OC_ISA_AVX512)
        return oc_sparse_density_avx512(M, K, A, lda, rows);
    int64_t nonzero = 0;
    for (int64_t i = 0; i < rows; i++) {
        const float *a = A + (i * M / rows) * lda;
        for (int64_t k = 0; k < K; k++) nonzero += a[k] != 0.0f; /* NaN != 0 */
    }
    return (double)nonzero / (double)(rows * K);
}

size_t oc_sparse_masks_bytes(int64_t rows, int64_t K)
{
    if (!oc_sparse_fwd_rows_avx512 || rows <= OC_SGEMM_SMALL_MAX || K <= 0 || K > MAX_K) return 0;
    return (size_t)rows * (size_t)oc_sparse_mask_words(K) * sizeof(uint64_t);
}

/* Can the sparse kernels reproduce the dense family in effect for a batch
 * of `rows` rows and `features` columns? With masks (from a forward call
 * that ran the sparse kernels on the same batch) the density was sampled
 * there already. */
static int sparse_applies(int64_t rows, int64_t features, const float *A, int64_t lda, const uint64_t *masks)
{
    return oc_sparse_fwd_rows_avx512 && oc_cpu_isa() == OC_ISA_AVX512 && rows > OC_SGEMM_SMALL_MAX &&
           features > 0 && features <= MAX_K &&
           (masks || oc_sparse_sample_density(rows, features, A, lda) <= MAX_DENSITY);
}

static int parts_for(int64_t M, int64_t N, int64_t K, int64_t units, int nthreads)
{
    if (nthreads < 2 || (double)M * (double)N * (double)K < (double)PAR_MIN) return 1;
    return units < nthreads ? (int)units : nthreads;
}

/* The forward walk over rows split between threads. */
static int run_fwd(const oc_sparse_fwd *j, int nthreads)
{
    const int parts = parts_for(j->M, j->N, j->K, j->M, nthreads);
    OC_PAR_FOR(parts, i, {
        int64_t r0, r1;
        oc_split_range(j->M, parts, i, &r0, &r1);
        oc_sparse_fwd_rows_avx512(j, r0, r1);
    });
    return 1;
}

/* The weight-gradient walk, threads owning groups of 16 of the batch's
 * features (rows of C, or its columns with trans_c). */
static int run_at(const oc_sparse_at *j, int nthreads)
{
    const int64_t groups = (j->M + 15) / 16;
    const int parts = parts_for(j->M, j->N, j->K, groups, nthreads);
    OC_PAR_FOR(parts, i, {
        int64_t g0, g1;
        oc_split_range(groups, parts, i, &g0, &g1);
        oc_sparse_at_cols_avx512(j, 16 * g0, 16 * g1 < j->M ? 16 * g1 : j->M);
    });
    return 1;
}

int oc_sgemm_fast_dense_sparse_a(int transB, int64_t M, int64_t N, int64_t K, const float *A,
                                  int64_t lda, const float *B, int64_t ldb, const float *bias,
                                  oc_act act, float *C, int64_t ldc, int nthreads, uint64_t *masks)
{
    if (N < MIN_N || !sparse_applies(M, K, A, lda, NULL)) {
        oc_sgemm_fast_dense(transB, M, N, K, A, lda, B, ldb, bias, act, C, ldc, nthreads);
        return 0;
    }
    const oc_sparse_fwd j = {.M = M, .N = N, .K = K, .X = A, .ldx = lda, .W = B, .ldw = ldb, .transB = transB != 0,
                             .bias = bias, .relu = act == OC_ACT_RELU, .Y = C, .ldy = ldc, .masks = masks};
    return run_fwd(&j, nthreads);
}

int oc_sgemm_fast_cut_sparse_at(int64_t M, int64_t N, int64_t K, int64_t kcut, const float *A,
                                 int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                                 int64_t ldc, int nthreads, const uint64_t *masks)
{
    /* A is [K, M]: the batch has K rows of M features. */
    if (M <= OC_SGEMM_SMALL_MAX || N < MIN_N || K <= 0 || !sparse_applies(K, M, A, lda, masks)) {
        oc_sgemm_fast_cut(1, 0, M, N, K, kcut, A, lda, B, ldb, beta, C, ldc, nthreads);
        return 0;
    }
    const oc_sparse_at j = {.M = M, .N = N, .K = K, .kcut = kcut > 0 && kcut < K ? kcut : 0,
                            .X = A, .ldx = lda, .B = B, .ldb = ldb, .beta = beta, .C = C, .ldc = ldc,
                            .masks = masks};
    return run_at(&j, nthreads);
}

int oc_sgemm_fast_cut_sparse_b(int64_t M, int64_t N, int64_t K, int64_t kcut, const float *A, int64_t lda,
                               const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int nthreads,
                               const uint64_t *masks)
{
    /* B is [K, N]: the batch has K rows of N features; A is dZ [K, M]. */
    if (M < MIN_N || N <= OC_SGEMM_SMALL_MAX || K <= 0 || !sparse_applies(K, N, B, ldb, masks)) {
        oc_sgemm_fast_cut(1, 0, M, N, K, kcut, A, lda, B, ldb, beta, C, ldc, nthreads);
        return 0;
    }
    /* The same walk as oc_sgemm_fast_cut_sparse_at with the batch's
     * features as the rows of its C, which is stored transposed here. */
    const oc_sparse_at j = {.M = N, .N = M, .K = K, .kcut = kcut > 0 && kcut < K ? kcut : 0, .X = B,
                            .ldx = ldb, .B = A, .ldb = lda, .beta = beta, .C = C, .ldc = ldc, .trans_c = 1,
                            .masks = masks};
    return run_at(&j, nthreads);
}

int oc_sgemm_fast_sparse_a(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                           int64_t ldb, float beta, float *C, int64_t ldc, int nthreads)
{
    if (N < MIN_N || K <= 0 || !sparse_applies(M, K, A, lda, NULL)) {
        oc_sgemm_fast(0, transB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc, nthreads);
        return 0;
    }
    const oc_sparse_fwd j = {.M = M, .N = N, .K = K, .X = A, .ldx = lda, .W = B, .ldw = ldb, .transB = transB != 0,
                             .beta = beta, .Y = C, .ldy = ldc};
    return run_fwd(&j, nthreads);
}
