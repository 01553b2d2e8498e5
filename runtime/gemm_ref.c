/*
 * Cache-blocked reference GEMM (see gemm_ref.h for the contract).
 *
 * Loop nest, per thread, over the thread's own rows of C:
 *
 *   for jc in N step NC            column block of C: a few rows of it stay in L1
 *     for pc in K step KC          depth block: the [KC,NC] panel of op(B) stays in L2
 *       panel = transB ? pack B^T into a stack buffer : point into B
 *       for i in rows step MR      4 rows at a time share each load of the panel
 *         for p in KC step 4       4 products per load/store of C
 *           for j in NC            contiguous in C and panel: vectorizes (restrict)
 *             c[i][j] += a[i][p]*b[p][j]; ... += a[i][p+3]*b[p+3][j]
 *
 * Every C element receives its products one at a time in ascending k
 * (blocking only cuts that sequence into runs), so blocking, row grouping
 * and thread count never change a result bit. alpha is folded into the A
 * value (exact when alpha == 1); beta scales C once before the products.
 *
 * Threads split the rows in whole groups of MR, so the rows left over when
 * MR does not divide M are always the last ones and always take the same
 * single-row path, whichever thread owns them.
 *
 * This is the "reference" kernel: a later packed register-tiled kernel can
 * replace oc_sgemm/oc_dgemm behind the same interface.
 */
#include "gemm_ref.h"

#include <stddef.h>

#include "parallel.h"

#define GEMM_NC 256                  /* columns of C per block */
#define GEMM_MR 4                    /* rows per micro-step, and the unit threads split */
#define GEMM_PACK_BYTES 65536        /* stack panel of op(B) when transB: [KC][NC] */
#define GEMM_KC(T) ((int64_t)(GEMM_PACK_BYTES / (GEMM_NC * sizeof(T))))
/* Below this many multiply-adds a thread team costs more than it saves. */
#define GEMM_PARALLEL_MIN (1 << 16)


static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* How many threads a product of this size deserves. */
static int gemm_parts(int64_t M, int64_t N, int64_t K, int nthreads)
{
    int64_t groups = (M + GEMM_MR - 1) / GEMM_MR;
    if (nthreads < 2 || groups < 2) return 1;
    if ((double)M * (double)N * (double)K < (double)GEMM_PARALLEL_MIN) return 1;
    return groups < nthreads ? (int)groups : nthreads;
}

/*
 * GEMM_DEFINE(T, P) defines, for element type T and prefix P (s or d):
 *   P##_rows4 / P##_rows1   the micro-steps on 4 rows / 1 row of a block
 *   P##_rows                all rows [r0, r1) of one C block against one panel
 *   P##_thread              one thread's share: beta, blocking, packing
 *   oc_##P##gemm, oc_##P##gemm_naive
 * A[i][k] of op(A) is read as AT(i, k).
 */
#define AT(i, k) (transA ? A[(k) * lda + (i)] : A[(i) * lda + (k)])

#define GEMM_DEFINE(T, P)                                                                        \
    /* c_r[0,nc) += sum_{q<4} a[r*4+q] * b_q[0,nc), r < 4, products in q order. */               \
    static void P##_k4_r4(int64_t nc, const T *a, const T *restrict b0, const T *restrict b1,    \
                          const T *restrict b2, const T *restrict b3, T *restrict c0,             \
                          T *restrict c1, T *restrict c2, T *restrict c3)                         \
    {                                                                                            \
        const T a00 = a[0], a01 = a[1], a02 = a[2], a03 = a[3];                                  \
        const T a10 = a[4], a11 = a[5], a12 = a[6], a13 = a[7];                                  \
        const T a20 = a[8], a21 = a[9], a22 = a[10], a23 = a[11];                                \
        const T a30 = a[12], a31 = a[13], a32 = a[14], a33 = a[15];                              \
        for (int64_t j = 0; j < nc; j++) {                                                       \
            const T x0 = b0[j], x1 = b1[j], x2 = b2[j], x3 = b3[j];                              \
            T s;                                                                                 \
            s = c0[j]; s += a00 * x0; s += a01 * x1; s += a02 * x2; s += a03 * x3; c0[j] = s;    \
            s = c1[j]; s += a10 * x0; s += a11 * x1; s += a12 * x2; s += a13 * x3; c1[j] = s;    \
            s = c2[j]; s += a20 * x0; s += a21 * x1; s += a22 * x2; s += a23 * x3; c2[j] = s;    \
            s = c3[j]; s += a30 * x0; s += a31 * x1; s += a32 * x2; s += a33 * x3; c3[j] = s;    \
        }                                                                                        \
    }                                                                                            \
    /* One product per row: c_r[0,nc) += a[r] * b[0,nc), r < 4. */                               \
    static void P##_k1_r4(int64_t nc, const T *a, const T *restrict b, T *restrict c0,           \
                          T *restrict c1, T *restrict c2, T *restrict c3)                         \
    {                                                                                            \
        const T a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];                                      \
        for (int64_t j = 0; j < nc; j++) {                                                       \
            const T x = b[j];                                                                    \
            c0[j] += a0 * x; c1[j] += a1 * x; c2[j] += a2 * x; c3[j] += a3 * x;                  \
        }                                                                                        \
    }                                                                                            \
    /* Single row: c[0,nc) += sum_{q<4} a[q] * b_q[0,nc), products in q order. */                \
    static void P##_k4_r1(int64_t nc, const T *a, const T *restrict b0, const T *restrict b1,    \
                          const T *restrict b2, const T *restrict b3, T *restrict c)              \
    {                                                                                            \
        const T a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];                                      \
        for (int64_t j = 0; j < nc; j++) {                                                       \
            T s = c[j];                                                                          \
            s += a0 * b0[j]; s += a1 * b1[j]; s += a2 * b2[j]; s += a3 * b3[j];                  \
            c[j] = s;                                                                            \
        }                                                                                        \
    }                                                                                            \
    static void P##_k1_r1(int64_t nc, T a, const T *restrict b, T *restrict c)                   \
    {                                                                                            \
        for (int64_t j = 0; j < nc; j++) c[j] += a * b[j];                                       \
    }                                                                                            \
    /* Rows [r0, r1) of the C block at column jc against the [kc, nc] panel      */              \
    /* bp (row stride ldp), whose row p is depth pc + p.                          */              \
    static void P##_rows(int transA, int64_t r0, int64_t r1, int64_t pc, int64_t kc, int64_t nc, \
                         T alpha, const T *A, int64_t lda, const T *bp, int64_t ldp, T *C,        \
                         int64_t ldc)                                                            \
    {                                                                                            \
        T a[16];                                                                                 \
        int64_t i = r0;                                                                          \
        for (; i + GEMM_MR <= r1; i += GEMM_MR) {                                                \
            T *c0 = C + i * ldc, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc;                 \
            int64_t p = 0;                                                                       \
            for (; p + 4 <= kc; p += 4) {                                                        \
                for (int r = 0; r < 4; r++)                                                      \
                    for (int q = 0; q < 4; q++) a[r * 4 + q] = alpha * AT(i + r, pc + p + q);    \
                const T *b = bp + p * ldp;                                                       \
                P##_k4_r4(nc, a, b, b + ldp, b + 2 * ldp, b + 3 * ldp, c0, c1, c2, c3);          \
            }                                                                                    \
            for (; p < kc; p++) {                                                                \
                for (int r = 0; r < 4; r++) a[r] = alpha * AT(i + r, pc + p);                    \
                P##_k1_r4(nc, a, bp + p * ldp, c0, c1, c2, c3);                                  \
            }                                                                                    \
        }                                                                                        \
        for (; i < r1; i++) {                                                                    \
            T *c = C + i * ldc;                                                                  \
            int64_t p = 0;                                                                       \
            for (; p + 4 <= kc; p += 4) {                                                        \
                for (int q = 0; q < 4; q++) a[q] = alpha * AT(i, pc + p + q);                    \
                const T *b = bp + p * ldp;                                                       \
                P##_k4_r1(nc, a, b, b + ldp, b + 2 * ldp, b + 3 * ldp, c);                       \
            }                                                                                    \
            for (; p < kc; p++) P##_k1_r1(nc, alpha * AT(i, pc + p), bp + p * ldp, c);           \
        }                                                                                        \
    }                                                                                            \
    /* One thread's rows [r0, r1) of C: scale by beta, then add the products. */                 \
    static void P##_thread(int transA, int transB, int64_t r0, int64_t r1, int64_t N, int64_t K, \
                           T alpha, const T *A, int64_t lda, const T *B, int64_t ldb, T beta,     \
                           T *C, int64_t ldc)                                                    \
    {                                                                                            \
        T pack[GEMM_PACK_BYTES / sizeof(T)]; /* [kc][nc] panel of B^T when transB */             \
        const int64_t kcmax = GEMM_KC(T);                                                        \
        for (int64_t i = r0; i < r1; i++) {                                                      \
            T *c = C + i * ldc;                                                                  \
            if (beta == (T)0)                                                                    \
                for (int64_t j = 0; j < N; j++) c[j] = (T)0;                                     \
            else if (beta != (T)1)                                                               \
                for (int64_t j = 0; j < N; j++) c[j] *= beta;                                    \
        }                                                                                        \
        for (int64_t jc = 0; jc < N; jc += GEMM_NC) {                                            \
            const int64_t nc = min64(GEMM_NC, N - jc);                                           \
            for (int64_t pc = 0; pc < K; pc += kcmax) {                                          \
                const int64_t kc = min64(kcmax, K - pc);                                         \
                const T *bp;                                                                     \
                int64_t ldp;                                                                     \
                if (transB) {                                                                    \
                    /* op(B)[pc+p][jc+j] = B[jc+j][pc+p]: read B rows, write panel columns. */   \
                    for (int64_t j = 0; j < nc; j++) {                                           \
                        const T *brow = B + (jc + j) * ldb + pc;                                 \
                        for (int64_t p = 0; p < kc; p++) pack[p * nc + j] = brow[p];             \
                    }                                                                            \
                    bp = pack;                                                                   \
                    ldp = nc;                                                                    \
                } else {                                                                         \
                    bp = B + pc * ldb + jc;                                                      \
                    ldp = ldb;                                                                   \
                }                                                                                \
                P##_rows(transA, r0, r1, pc, kc, nc, alpha, A, lda, bp, ldp, C + jc, ldc);       \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
    void oc_##P##gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, T alpha,          \
                      const T *A, int64_t lda, const T *B, int64_t ldb, T beta, T *C,             \
                      int64_t ldc, int nthreads)                                                 \
    {                                                                                            \
        if (M <= 0 || N <= 0) return;                                                            \
        const int64_t groups = (M + GEMM_MR - 1) / GEMM_MR;                                      \
        const int parts = gemm_parts(M, N, K, nthreads);                                         \
        OC_PAR_FOR(parts, t, {                                                                   \
            int64_t g0, g1;                                                                      \
            oc_split_range(groups, parts, t, &g0, &g1);                                          \
            P##_thread(transA, transB, g0 * GEMM_MR, min64(g1 * GEMM_MR, M), N, K, alpha, A,     \
                       lda, B, ldb, beta, C, ldc);                                               \
        });                                                                                      \
    }                                                                                            \
    void oc_##P##gemm_naive(int transA, int transB, int64_t M, int64_t N, int64_t K, T alpha,    \
                            const T *A, int64_t lda, const T *B, int64_t ldb, T beta, T *C,       \
                            int64_t ldc)                                                         \
    {                                                                                            \
        for (int64_t i = 0; i < M; i++)                                                          \
            for (int64_t j = 0; j < N; j++) {                                                    \
                T s = 0;                                                                         \
                for (int64_t k = 0; k < K; k++)                                                  \
                    s += AT(i, k) * (transB ? B[j * ldb + k] : B[k * ldb + j]);                  \
                T *c = C + i * ldc + j;                                                          \
                *c = alpha * s + (beta == (T)0 ? (T)0 : beta * *c);                              \
            }                                                                                    \
    }

GEMM_DEFINE(float, s)
GEMM_DEFINE(double, d)
