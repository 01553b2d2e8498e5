/*
 * Between sgemm_sparse.c (density test, thread split, dense fallback) and
 * the AVX-512 kernels of sgemm_sparse_avx512.c. Contracts: sgemm_sparse.h.
 */
#ifndef OC_SGEMM_SPARSE_INTERNAL_H
#define OC_SGEMM_SPARSE_INTERNAL_H

#include <stdint.h>

#include "sgemm_internal.h"

/* K chunk of the dense oc_sgemm_fast: each chunk's products are summed from
 * zero and then added to C, so the sparse kernels cut their sums at the
 * same places. */
#define OC_SPARSE_KC OC_SGEMM_FAST_KC

/* Y [M, N] = act(X [M, K] · op(W) + beta Y + bias): rows [r0, r1), K
 * summed in chunks of OC_SPARSE_KC (beta for the first, then 1). */
typedef struct oc_sparse_fwd {
    int64_t M, N, K;
    const float *X;
    int64_t ldx;
    const float *W;         /* [K, N]; with transB [N, K] */
    int64_t ldw;
    int transB;
    const float *bias;      /* [N] or NULL */
    int relu;
    float beta;             /* 0: Y is not read */
    float *Y;
    int64_t ldy;
    uint64_t *masks;        /* NULL, or [M][ceil(K/64)]: X's masks are written there */
} oc_sparse_fwd;

/* C [M, N] = X^T · B + beta C, X [K, M], B [K, N], K summed in chunks of
 * OC_SPARSE_KC that also end at kcut (0: none): columns of X (rows of C)
 * [m0, m1), m0 a multiple of 16. trans_c: C is stored transposed, element
 * (m, n) at C[n * ldc + m] (B^T X, a transB layer's dW [N, K]). */
typedef struct oc_sparse_at {
    int64_t M, N, K, kcut;
    const float *X;
    int64_t ldx;
    const float *B;
    int64_t ldb;
    float beta;
    float *C;
    int64_t ldc;
    int trans_c;
    const uint64_t *masks;  /* NULL, or [K][ceil(M/64)]: X's masks, read instead of X's zeros */
} oc_sparse_at;

/* NULL when the build has no AVX-512 kernels. density: the fraction of
 * nonzeros in `rows` rows of A [M, K] spread over the batch (K <= 65536). */
extern double (*const oc_sparse_density_avx512)(int64_t M, int64_t K, const float *A, int64_t lda,
                                                int64_t rows);
extern void (*const oc_sparse_fwd_rows_avx512)(const oc_sparse_fwd *j, int64_t r0, int64_t r1);
extern void (*const oc_sparse_at_cols_avx512)(const oc_sparse_at *j, int64_t m0, int64_t m1);

#endif
