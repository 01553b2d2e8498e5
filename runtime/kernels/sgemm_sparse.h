/*
 * The two products of a training step's first Dense layer, skipping the
 * exact zeros of its input batch X [rows, K]:
 *
 *     forward   Y  = act(X · W + b)           W [K, N] (MatMul) or [N, K] (Gemm transB)
 *     backward  dW = X^T · dZ (+ beta dW)     [K, N];  with transB dZ^T · X, [N, K]
 *
 * Image batches are mostly black background: Fashion-MNIST's pixels are 50%
 * zeros, MNIST's 81%. A zero x[r, k] contributes nothing to Y[r, :] nor to
 * dW[k, :], so its multiply-adds can be skipped; the dense GEMM spends them
 * anyway, and these two products are ~75% of a batch-128 step of a
 * 784-64-64-10 network.
 *
 * Same results as the dense kernels, bit for bit. Each entry point has the
 * contract of the dense call it names and computes every output element
 * with the same FMA chain in the same order (the K chunks of oc_sgemm_fast,
 * its epilogue, the cut), minus the links whose x is zero. Such a link
 * would add x*w = +-0 to a running sum that starts from +0 and so is never
 * -0: adding it changes nothing. So the choice between the sparse and the
 * dense kernels, which depends on the data, never shows in the results,
 * whatever the thread count or the split of the batch between threads. The
 * one exception: a skipped link whose w (a weight or an output gradient) is
 * infinite or NaN would have made the dense sum NaN; the sparse sum is
 * whatever the other links give (still non-finite when dZ is, as the
 * trainer's finite check wants).
 *
 * The sparse kernels exist for the AVX-512 family only (the bit-identity is
 * with its dense kernels). Elsewhere, and for batches with more than 70%
 * nonzeros (sampled from 8 rows; above that the skipped work no longer pays
 * for loading a row of W per nonzero), outputs narrower than 32 columns
 * (same reason) or batches of at most 4 rows (the GEMV kernels sum
 * differently), every call runs the dense GEMM. No allocation; ~70 KiB of
 * stack per thread.
 */
#ifndef OC_SGEMM_SPARSE_H
#define OC_SGEMM_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "sgemm.h"

/*
 * Nonzero masks of a batch X [rows, K], which the forward product finds
 * anyway and the weight gradient of the same step can take instead of
 * reading X again for its zeros: oc_sparse_mask_words(K) words a row, bit
 * k % 64 of word k / 64 set when x[r, k] is not +-0 (NaN counts as
 * nonzero). A buffer of oc_sparse_masks_bytes(rows, K) bytes holds them;
 * that is 0 when the sparse kernels can never run for the shape.
 */
static inline int64_t oc_sparse_mask_words(int64_t K) { return (K + 63) / 64; }
size_t oc_sparse_masks_bytes(int64_t rows, int64_t K);

/* oc_sgemm_fast_dense(transB, M, N, K, A, lda, B, ldb, bias, act, C, ldc,
 * nthreads), with zeros of A [M, K] skipped. Returns 1 when the sparse
 * kernels ran, 0 when the dense GEMM did (same results). masks: NULL, or
 * oc_sparse_masks_bytes(M, K) bytes that get A's masks when it returns 1. */
int oc_sgemm_fast_dense_sparse_a(int transB, int64_t M, int64_t N, int64_t K, const float *A,
                                  int64_t lda, const float *B, int64_t ldb, const float *bias,
                                  oc_act act, float *C, int64_t ldc, int nthreads, uint64_t *masks);

/* oc_sgemm_fast(0, transB, M, N, K, 1, A, lda, B, ldb, beta, C, ldc,
 * nthreads) with zeros of A [M, K] skipped: a Dense layer's input gradient
 * dX = dZ · op(W)^T, whose dZ carries the ReLU mask's zeros. Returns 1 when
 * the sparse kernels ran. */
int oc_sgemm_fast_sparse_a(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                           const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int nthreads);

/* oc_sgemm_fast_cut(1, 0, M, N, K, kcut, A, lda, B, ldb, beta, C, ldc,
 * nthreads): C [M, N] = A^T · B (+ beta C) with A [K, M] (row stride lda),
 * B [K, N], summed in K chunks that also end at kcut, with zeros of A
 * skipped. (A is the batch, K its rows, M its features.) Returns 1 when the
 * sparse kernels ran, 0 when the dense GEMM did. masks: NULL, or A's masks
 * as a forward call that returned 1 left them (A unchanged since): the
 * zeros are then taken from them and the density is not sampled again. */
int oc_sgemm_fast_cut_sparse_at(int64_t M, int64_t N, int64_t K, int64_t kcut, const float *A,
                                 int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                                 int64_t ldc, int nthreads, const uint64_t *masks);

/* oc_sgemm_fast_cut(1, 0, M, N, K, kcut, A, lda, B, ldb, beta, C, ldc,
 * nthreads): C [M, N] = A^T · B (+ beta C) with B [K, N] the batch (K rows
 * of N features) and A [K, M], with zeros of B skipped: the weight gradient
 * dW [N_out, K_in] = dZ^T · X of a layer with transposed weights. Returns
 * 1 when the sparse kernels ran. masks: B's, as for the call above. */
int oc_sgemm_fast_cut_sparse_b(int64_t M, int64_t N, int64_t K, int64_t kcut, const float *A,
                               int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                               int64_t ldc, int nthreads, const uint64_t *masks);

/* Fraction of nonzeros (NaN counts as nonzero) in up to 8 rows of A [M, K]
 * spread over the batch: what the entry points decide with. */
double oc_sparse_sample_density(int64_t M, int64_t K, const float *A, int64_t lda);

#endif
