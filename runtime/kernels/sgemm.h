/*
 * Fast single-precision GEMM for dense layers (runtime/kernels/).
 *
 * Two kinds of entry points:
 *
 * 1. Pre-packed weights, for MatMul/Gemm/Dense whose B is an initializer:
 *
 *        oc_sgemm_pb *w = oc_sgemm_packed_b(0, in, out, W, out);  // W [in, out]
 *        ...
 *        oc_sgemm_run(batch, out, in, x, in, w, y, out, bias, OC_ACT_RELU, 0, nthreads);
 *        oc_aligned_free(w);
 *
 *    computes y = act(x·W + bias) with bias and activation applied while each
 *    output tile is still in registers (one pass over y). B is packed once
 *    into the panel layout of the kernel family in effect (cpu_features.h);
 *    the packed block remembers its family, so oc_sgemm_run stays correct
 *    even if the family is switched later.
 *
 * 2. oc_sgemm_fast: same contract as oc_sgemm in gemm_ref.h (BLAS argument
 *    conventions, row-major, transposes, alpha/beta, beta == 0 never reads
 *    C), for products whose B changes every call (backward passes, MatMul of
 *    two activations). It packs B in cache-sized chunks on the stack;
 *    oc_sgemm_fast_dense adds entry 1's bias and activation to it (a dense
 *    layer being trained).
 *
 * Determinism: every C element is computed by one thread, its K products
 * accumulated with FMAs in ascending k in one register, in a grouping that
 * depends only on (M, K) and the kernel family, never on the thread count.
 * So results are bit-identical for any `nthreads`. Two documented
 * exceptions to "independent of M": with M <= 4 (AVX-512) or M <= 3
 * (AVX2), both entry points use a GEMV kernel that keeps 2 or 4
 * interleaved partial sums per element (k mod 2 or k mod 4) to hide FMA
 * latency, so a row of a batch-1 product may differ in the last bits from
 * the same row computed in a larger batch. oc_sgemm_fast also sums K in
 * chunks of 256: an element is alpha*chunk0 + beta*C, then + alpha*chunk1,
 * ... (oc_sgemm_run's K chunks resume the same FMA chain: invisible).
 *
 * No function here allocates except oc_sgemm_packed_b, and none opens an
 * OpenMP region for products below ~2^20 multiply-adds, so a batch-1 dense
 * layer costs a function call plus its arithmetic. Stack use: oc_sgemm_fast
 * needs ~150 KiB of stack per thread.
 */
#ifndef OC_SGEMM_H
#define OC_SGEMM_H

#include <stddef.h>
#include <stdint.h>

typedef enum oc_act {
    OC_ACT_NONE = 0,
    OC_ACT_RELU = 1,  /* max(0, x); NaN stays NaN */
} oc_act;

/* Packed op(B): a 64-byte header followed by panels, in one 64-byte aligned
 * block. Opaque; free with oc_aligned_free (runtime/alloc.h). */
typedef struct oc_sgemm_pb oc_sgemm_pb;

/*
 * Pack op(B) [K, N] for oc_sgemm_run: transB == 0 reads B as [K, N] with row
 * stride ldb >= N (tf2onnx MatMul weights [in, out]); transB != 0 reads B as
 * [N, K] with ldb >= K (PyTorch Gemm transB=1 weights [out, in]). Returns a
 * new block owned by the caller, or NULL when allocation fails or K < 0 or
 * N < 1.
 */
oc_sgemm_pb *oc_sgemm_packed_b(int transB, int64_t K, int64_t N, const float *B, int64_t ldb);

/* Bytes a packed op(B) [K, N] takes with the kernel family now in effect
 * (0 when K < 0 or N < 1), for callers that keep it in their own memory. */
size_t oc_sgemm_packed_b_size(int64_t K, int64_t N);

/* Pack into caller memory `dst` (64-byte aligned, oc_sgemm_packed_b_size
 * bytes, sized under the same kernel family). Also re-packs in place after
 * the weights changed (training). Returns dst as a packed block. */
oc_sgemm_pb *oc_sgemm_pack_b_to(void *dst, int transB, int64_t K, int64_t N, const float *B,
                                int64_t ldb);

/* The inverse of packing: writes op(B) back in the layout oc_sgemm_packed_b
 * read it from (transB and ldb as there). Exact: packing only moves floats.
 * For weights whose original bytes were freed (onnxc_model_set_inference_only)
 * when a plan needs them unpacked. */
void oc_sgemm_unpack_b(const oc_sgemm_pb *pb, int transB, float *B, int64_t ldb);

/* K and N a block was packed for. */
int64_t oc_sgemm_pb_k(const oc_sgemm_pb *pb);
int64_t oc_sgemm_pb_n(const oc_sgemm_pb *pb);

/*
 * C[M,N] = act(A[M,K]·B + bias), or with `accumulate`
 * C = act(C + A·B + bias) (the FMA chain of each element starts from C).
 * A: row stride lda >= K. C: row stride ldc >= N, must not overlap A.
 * pb: packed for exactly this K and N (checked by assert).
 * bias: [N] or NULL. Without `accumulate` C is never read.
 */
void oc_sgemm_run(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const oc_sgemm_pb *pb, float *C, int64_t ldc, const float *bias, oc_act act,
                  int accumulate, int nthreads);

/* C = alpha*op(A)·op(B) + beta*C, exactly the contract of oc_sgemm
 * (gemm_ref.h), with the kernel family in effect. */
void oc_sgemm_fast(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                   int64_t ldc, int nthreads);

/* oc_sgemm_fast (alpha 1) with a K chunk also ending at kcut (0 < kcut <
 * K; else none): C = P0 + beta*C, then C + P1, where P0 and P1 are the
 * products over k < kcut and k >= kcut, each summed from zero. Bit for bit
 * what the calls for [0, kcut) (beta) and [kcut, K) (beta 1) give, but with
 * K <= 256 each C tile gets both halves while in L1 (a weight gradient
 * summed in two halves of a batch, train/row_cut.h). */
void oc_sgemm_fast_cut(int transA, int transB, int64_t M, int64_t N, int64_t K, int64_t kcut,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                       int64_t ldc, int nthreads);

/* C[M,N] = act(A[M,K]·op(B) + bias) with B packed per call, as
 * oc_sgemm_fast (transA 0, alpha 1, beta 0) adding bias [N] (or NULL) and
 * applying act while the last K chunk's tile is in registers: a dense layer
 * whose weights change every call (training). */
void oc_sgemm_fast_dense(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *B, int64_t ldb, const float *bias, oc_act act, float *C,
                         int64_t ldc, int nthreads);

#endif
