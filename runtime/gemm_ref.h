/*
 * Dense matrix multiply, row-major (C order), BLAS argument conventions:
 *
 *     C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C[M,N]
 *
 * op(A) = A ([M,K], row stride lda >= K) or, with transA, A^T where A is
 * [K,M] with lda >= M; likewise op(B) = B ([K,N], ldb >= N) or B^T with B
 * [N,K], ldb >= K. C is [M,N] with ldc >= N and must not overlap A or B.
 * beta == 0 overwrites C without reading it (old NaNs do not leak through).
 *
 * Results are bit-identical for every `nthreads`: threads own whole rows of
 * C, and each element sums its K products in ascending k order no matter
 * how the work is split. Calls from a run() function: no allocation.
 *
 * The _naive variants are the textbook triple loop, kept as the reference
 * that tests compare the blocked kernel against.
 */
#ifndef OC_GEMM_REF_H
#define OC_GEMM_REF_H

#include <stdint.h>

void oc_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc, int nthreads);
void oc_dgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, double alpha,
              const double *A, int64_t lda, const double *B, int64_t ldb, double beta, double *C,
              int64_t ldc, int nthreads);

void oc_sgemm_naive(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                    float *C, int64_t ldc);
void oc_dgemm_naive(int transA, int transB, int64_t M, int64_t N, int64_t K, double alpha,
                    const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                    double *C, int64_t ldc);

#endif
