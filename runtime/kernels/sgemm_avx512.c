/*
 * AVX-512 micro-kernels (compiled with -mavx512f -mfma; only called when
 * oc_cpu_isa() says the CPU has them). Layout and contract:
 * sgemm_internal.h.
 *
 * Tile kernel, up to 12 rows by one 32-column panel: 24 zmm accumulators
 * (12 rows x 2 vectors of 16), 2 for the panel row, 1 for the broadcast A
 * value. Per k: 2 aligned panel loads + 12 broadcasts feed 24 FMAs, so the
 * two FMA pipes stay busy with a 4-cycle FMA latency (24 independent chains
 * >= 2 pipes x 4 cycles). Each accumulator is one element's whole K sum in
 * ascending k, whatever `mr` is: row results never depend on how M was
 * split into tiles or threads.
 *
 * GEMV kernels (M = 1..4): too few rows to hide FMA latency with rows alone,
 * so each element keeps U interleaved partial sums (U = 4 for 1-3 rows, 2
 * for 4: 8-24 chains), added pairwise at the end.
 *
 * The row count and panel width are compile-time constants of an
 * always-inline body, instantiated once per (mr, width) so the accumulator
 * arrays live in registers.
 */
#include "sgemm_internal.h"

#if defined(ONNXC_HAVE_AVX512_KERNELS) && defined(__AVX512F__) && defined(__FMA__)

#include <immintrin.h>

#include "sgemm_avx512_epilogue.h"

#define INLINE static inline __attribute__((always_inline))

/* Keep a loaded panel vector in a register: without this GCC folds the load
 * into every FMA that uses it, doubling the loads when two rows share it. */
#define IN_REGISTER(x) __asm__("" : "+v"(x))

/* The epilogue of sgemm_internal.h on MR rows x NV vectors of accumulators. */
INLINE void store_tile(const int MR, const int NV, __m512 acc[][2], float *C, int64_t ldc, int n,
                       const oc_sgemm_epi *ep)
{
    const __m512 zero = _mm512_setzero_ps();
    const __m512 alpha = _mm512_set1_ps(ep->alpha), beta = _mm512_set1_ps(ep->beta);
    const int scale = ep->alpha != 1.0f, load_c = ep->beta != 0.0f, relu = ep->relu;
    __m512 bias[2] = {zero, zero};
    __mmask16 m[2];
    for (int v = 0; v < NV; v++) {
        m[v] = oc_avx512_lane_mask(n, v);
        if (ep->bias) bias[v] = _mm512_maskz_loadu_ps(m[v], ep->bias + 16 * v);
    }
    for (int r = 0; r < MR; r++) {
        float *c = C + r * ldc;
        for (int v = 0; v < NV; v++) {
            if (!m[v]) continue;
            oc_avx512_epilogue(acc[r][v], c + 16 * v, m[v], scale, alpha, load_c, beta, bias[v], relu);
        }
    }
}

/* Accumulators: zero, or C's current values (masked to the n columns). */
INLINE void init_tile(const int MR, const int NV, __m512 acc[][2], const float *C, int64_t ldc,
                      int n, int from_c)
{
    if (!from_c) {
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
        return;
    }
    const __mmask16 m0 = oc_avx512_lane_mask(n, 0), m1 = oc_avx512_lane_mask(n, 1);
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_maskz_loadu_ps(v ? m1 : m0, C + r * ldc + 16 * v);
}

/* TA = 0: row r of A at A + r*lda (A[r][k] = A[r*lda + k]); TA = 1: A is stored
 * transposed, A[r][k] = A[k*lda + r], so the MR values of one k are adjacent
 * (dW = X^T dY reads X [batch, in] this way, with no transposing copy).
 * DIRECT = 0: P is a packed panel [K][16*NV], 64-byte aligned; DIRECT = 1:
 * row k of the panel is at P + k*ep->ldp (B read in place, unaligned). */
INLINE void tile_body(const int MR, const int NV, const int TA, const int DIRECT, int64_t K,
                      const float *A, int64_t lda, const float *P, float *C, int64_t ldc, int n,
                      const oc_sgemm_epi *ep)
{
    __m512 acc[OC_SGEMM_MR_MAX][2];
    init_tile(MR, NV, acc, C, ldc, n, ep->init_c);
    const int64_t ldp = DIRECT ? ep->ldp : 16 * NV;
    for (int64_t k = 0; k < K; k++) {
        const float *p = P + k * ldp;
        __m512 b0 = DIRECT ? _mm512_loadu_ps(p) : _mm512_load_ps(p);
        __m512 b1 = NV > 1 ? (DIRECT ? _mm512_loadu_ps(p + 16) : _mm512_load_ps(p + 16)) : b0;
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(TA ? A[k * lda + r] : A[r * lda + k]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            if (NV > 1) acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    store_tile(MR, NV, acc, C, ldc, n, ep);
}

/* M = MR <= 4 rows, U partial sums per element: partial u takes k = u mod U. */
INLINE void small_body(const int MR, const int NV, const int U, int64_t K, const float *A,
                       int64_t lda, const float *P, float *C, int64_t ldc, int n,
                       const oc_sgemm_epi *ep)
{
    __m512 acc[OC_SGEMM_SMALL_MAX][2][4];
    __m512 first[OC_SGEMM_SMALL_MAX][2]; /* partial 0 starts from C with init_c */
    init_tile(MR, NV, first, C, ldc, n, ep->init_c);
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) {
            acc[r][v][0] = first[r][v];
            for (int u = 1; u < U; u++) acc[r][v][u] = _mm512_setzero_ps();
        }
    const int w = 16 * NV;
    int64_t k = 0;
    for (; k + U <= K; k += U) {
#pragma GCC unroll 4
        for (int u = 0; u < U; u++) {
            const float *p = P + (k + u) * w;
            __m512 b0 = _mm512_load_ps(p);
            __m512 b1 = NV > 1 ? _mm512_load_ps(p + 16) : b0;
            if (MR > 1) {
                IN_REGISTER(b0);
                IN_REGISTER(b1);
            }
            for (int r = 0; r < MR; r++) {
                __m512 a = _mm512_set1_ps(A[r * lda + k + u]);
                acc[r][0][u] = _mm512_fmadd_ps(a, b0, acc[r][0][u]);
                if (NV > 1) acc[r][1][u] = _mm512_fmadd_ps(a, b1, acc[r][1][u]);
            }
        }
    }
    for (int u = 0; k < K; k++, u++) { /* the last K mod U products, into partials 0.. */
        const float *p = P + k * w;
        __m512 b0 = _mm512_load_ps(p);
        __m512 b1 = NV > 1 ? _mm512_load_ps(p + 16) : b0;
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(A[r * lda + k]);
            acc[r][0][u] = _mm512_fmadd_ps(a, b0, acc[r][0][u]);
            if (NV > 1) acc[r][1][u] = _mm512_fmadd_ps(a, b1, acc[r][1][u]);
        }
    }
    __m512 sum[OC_SGEMM_SMALL_MAX][2];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++)
            sum[r][v] = U == 4 ? _mm512_add_ps(_mm512_add_ps(acc[r][v][0], acc[r][v][1]),
                                               _mm512_add_ps(acc[r][v][2], acc[r][v][3]))
                               : _mm512_add_ps(acc[r][v][0], acc[r][v][1]);
    store_tile(MR, NV, sum, C, ldc, n, ep);
}

#define TILE(MR, NV)                                                                              \
    static void tile_##MR##_##NV(int64_t K, const float *A, int64_t lda, const float *P, float *C, \
                                 int64_t ldc, int n, const oc_sgemm_epi *ep)                      \
    {                                                                                             \
        tile_body(MR, NV, 0, 0, K, A, lda, P, C, ldc, n, ep);                                     \
    }                                                                                             \
    static void tile_t_##MR##_##NV(int64_t K, const float *A, int64_t lda, const float *P,        \
                                   float *C, int64_t ldc, int n, const oc_sgemm_epi *ep)          \
    {                                                                                             \
        tile_body(MR, NV, 1, 0, K, A, lda, P, C, ldc, n, ep);                                     \
    }
#define TILE_D(MR)                                                                                \
    static void tile_d_##MR(int64_t K, const float *A, int64_t lda, const float *P, float *C,     \
                            int64_t ldc, int n, const oc_sgemm_epi *ep)                           \
    {                                                                                             \
        tile_body(MR, 2, 0, 1, K, A, lda, P, C, ldc, n, ep);                                      \
    }
#define SMALL(MR, NV, U)                                                                           \
    static void small_##MR##_##NV(int64_t K, const float *A, int64_t lda, const float *P, float *C, \
                                  int64_t ldc, int n, const oc_sgemm_epi *ep)                      \
    {                                                                                              \
        small_body(MR, NV, U, K, A, lda, P, C, ldc, n, ep);                                        \
    }
#define TILES(NV)                                                                                 \
    TILE(1, NV) TILE(2, NV) TILE(3, NV) TILE(4, NV) TILE(5, NV) TILE(6, NV) TILE(7, NV)          \
    TILE(8, NV) TILE(9, NV) TILE(10, NV) TILE(11, NV) TILE(12, NV)
TILES(1)
TILES(2)
TILE_D(1) TILE_D(2) TILE_D(3) TILE_D(4) TILE_D(5) TILE_D(6) TILE_D(7) TILE_D(8) TILE_D(9)
TILE_D(10) TILE_D(11) TILE_D(12)
SMALL(1, 1, 4) SMALL(2, 1, 4) SMALL(3, 1, 4) SMALL(4, 1, 2)
SMALL(1, 2, 4) SMALL(2, 2, 4) SMALL(3, 2, 4) SMALL(4, 2, 2)

#define ROW(NV)                                                                                   \
    {NULL, tile_1_##NV, tile_2_##NV, tile_3_##NV, tile_4_##NV, tile_5_##NV, tile_6_##NV,           \
     tile_7_##NV, tile_8_##NV, tile_9_##NV, tile_10_##NV, tile_11_##NV, tile_12_##NV}
#define ROW_T(NV)                                                                                 \
    {NULL, tile_t_1_##NV, tile_t_2_##NV, tile_t_3_##NV, tile_t_4_##NV, tile_t_5_##NV,              \
     tile_t_6_##NV, tile_t_7_##NV, tile_t_8_##NV, tile_t_9_##NV, tile_t_10_##NV, tile_t_11_##NV,   \
     tile_t_12_##NV}

const oc_sgemm_kernels oc_sgemm_kernels_avx512 = {
    .isa = OC_ISA_AVX512,
    .nr = 32,
    .mr = 12,
    .tile = {ROW(2), ROW(1)},
    .tile_t = {ROW_T(2), ROW_T(1)},
    .tile_d = {NULL, tile_d_1, tile_d_2, tile_d_3, tile_d_4, tile_d_5, tile_d_6, tile_d_7, tile_d_8,
               tile_d_9, tile_d_10, tile_d_11, tile_d_12},
    .small = {{NULL, small_1_2, small_2_2, small_3_2, small_4_2},
              {NULL, small_1_1, small_2_1, small_3_1, small_4_1}},
};

#else /* the compiler could not build AVX-512 code: a table never selected */

const oc_sgemm_kernels oc_sgemm_kernels_avx512 = {.isa = OC_ISA_AVX512, .nr = 0};

#endif
