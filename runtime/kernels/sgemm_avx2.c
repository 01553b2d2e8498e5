/*
 * AVX2 + FMA micro-kernels (compiled with -mavx2 -mfma; only called when
 * oc_cpu_isa() says the CPU has them). Layout and contract:
 * sgemm_internal.h.
 *
 * Tile kernel, up to 6 rows by one 16-column panel: 12 ymm accumulators
 * (6 rows x 2 vectors of 8), 2 for the panel row, 1 broadcast: 15 of the 16
 * ymm registers. 12 independent FMA chains cover 2 pipes x 4 cycles of
 * latency with room to spare. Each accumulator is one element's K sum in
 * ascending k, so results do not depend on how M was split.
 *
 * GEMV kernels (M = 1..3) keep U interleaved partial sums per element
 * (U = 4 for one row, 2 otherwise) to have 8-12 chains in flight.
 */
#include "sgemm_internal.h"

#if defined(ONNXC_HAVE_AVX2_KERNELS) && defined(__AVX2__) && defined(__FMA__)

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

/* All-ones in the lanes of vector v (of 8) that hold one of the n columns. */
INLINE __m256i lane_mask(int n, int v)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8 * v), idx);
}

INLINE void store_tile(const int MR, const int NV, __m256 acc[][2], float *C, int64_t ldc, int n,
                       const oc_sgemm_epi *ep)
{
    const __m256 zero = _mm256_setzero_ps();
    const __m256 alpha = _mm256_set1_ps(ep->alpha), beta = _mm256_set1_ps(ep->beta);
    const int scale = ep->alpha != 1.0f, load_c = ep->beta != 0.0f, relu = ep->relu;
    __m256 bias[2] = {zero, zero};
    __m256i m[2];
    int full[2], any[2];
    for (int v = 0; v < NV; v++) {
        m[v] = lane_mask(n, v);
        full[v] = n - 8 * v >= 8;
        any[v] = n - 8 * v > 0;
        if (ep->bias && any[v]) bias[v] = _mm256_maskload_ps(ep->bias + 8 * v, m[v]);
    }
    for (int r = 0; r < MR; r++) {
        float *c = C + r * ldc;
        for (int v = 0; v < NV; v++) {
            if (!any[v]) continue;
            __m256 x = acc[r][v];
            if (scale) x = _mm256_mul_ps(x, alpha);
            if (load_c) {
                __m256 old = full[v] ? _mm256_loadu_ps(c + 8 * v) : _mm256_maskload_ps(c + 8 * v, m[v]);
                x = _mm256_fmadd_ps(beta, old, x);
            }
            x = _mm256_add_ps(x, bias[v]);
            if (relu) x = _mm256_max_ps(zero, x); /* NaN in x stays NaN */
            if (full[v]) _mm256_storeu_ps(c + 8 * v, x);
            else _mm256_maskstore_ps(c + 8 * v, m[v], x);
        }
    }
}

/* Accumulators: zero, or C's current values (masked to the n columns). */
INLINE void init_tile(const int MR, const int NV, __m256 acc[][2], const float *C, int64_t ldc,
                      int n, int from_c)
{
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = from_c ? _mm256_maskload_ps(C + r * ldc + 8 * v, lane_mask(n, v))
                               : _mm256_setzero_ps();
}

INLINE void tile_body(const int MR, const int NV, int64_t K, const float *A, int64_t lda,
                      const float *P, float *C, int64_t ldc, int n, const oc_sgemm_epi *ep)
{
    __m256 acc[6][2];
    init_tile(MR, NV, acc, C, ldc, n, ep->init_c);
    for (int64_t k = 0; k < K; k++) {
        const float *p = P + k * (8 * NV);
        __m256 b0 = _mm256_load_ps(p);
        __m256 b1 = NV > 1 ? _mm256_load_ps(p + 8) : b0;
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m256 a = _mm256_broadcast_ss(A + r * lda + k);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            if (NV > 1) acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    store_tile(MR, NV, acc, C, ldc, n, ep);
}

INLINE void small_body(const int MR, const int NV, const int U, int64_t K, const float *A,
                       int64_t lda, const float *P, float *C, int64_t ldc, int n,
                       const oc_sgemm_epi *ep)
{
    __m256 acc[OC_SGEMM_SMALL_MAX][2][4];
    __m256 first[OC_SGEMM_SMALL_MAX][2]; /* partial 0 starts from C with init_c */
    init_tile(MR, NV, first, C, ldc, n, ep->init_c);
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) {
            acc[r][v][0] = first[r][v];
            for (int u = 1; u < U; u++) acc[r][v][u] = _mm256_setzero_ps();
        }
    const int w = 8 * NV;
    int64_t k = 0;
    for (; k + U <= K; k += U) {
#pragma GCC unroll 4
        for (int u = 0; u < U; u++) {
            const float *p = P + (k + u) * w;
            __m256 b0 = _mm256_load_ps(p);
            __m256 b1 = NV > 1 ? _mm256_load_ps(p + 8) : b0;
            for (int r = 0; r < MR; r++) {
                __m256 a = _mm256_broadcast_ss(A + r * lda + k + u);
                acc[r][0][u] = _mm256_fmadd_ps(a, b0, acc[r][0][u]);
                if (NV > 1) acc[r][1][u] = _mm256_fmadd_ps(a, b1, acc[r][1][u]);
            }
        }
    }
    for (int u = 0; k < K; k++, u++) {
        const float *p = P + k * w;
        __m256 b0 = _mm256_load_ps(p);
        __m256 b1 = NV > 1 ? _mm256_load_ps(p + 8) : b0;
        for (int r = 0; r < MR; r++) {
            __m256 a = _mm256_broadcast_ss(A + r * lda + k);
            acc[r][0][u] = _mm256_fmadd_ps(a, b0, acc[r][0][u]);
            if (NV > 1) acc[r][1][u] = _mm256_fmadd_ps(a, b1, acc[r][1][u]);
        }
    }
    __m256 sum[OC_SGEMM_SMALL_MAX][2];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++)
            sum[r][v] = U == 4 ? _mm256_add_ps(_mm256_add_ps(acc[r][v][0], acc[r][v][1]),
                                               _mm256_add_ps(acc[r][v][2], acc[r][v][3]))
                               : _mm256_add_ps(acc[r][v][0], acc[r][v][1]);
    store_tile(MR, NV, sum, C, ldc, n, ep);
}

#define TILE(MR, NV)                                                                              \
    static void tile_##MR##_##NV(int64_t K, const float *A, int64_t lda, const float *P, float *C, \
                                 int64_t ldc, int n, const oc_sgemm_epi *ep)                      \
    {                                                                                             \
        tile_body(MR, NV, K, A, lda, P, C, ldc, n, ep);                                           \
    }
#define SMALL(MR, NV, U)                                                                           \
    static void small_##MR##_##NV(int64_t K, const float *A, int64_t lda, const float *P, float *C, \
                                  int64_t ldc, int n, const oc_sgemm_epi *ep)                      \
    {                                                                                              \
        small_body(MR, NV, U, K, A, lda, P, C, ldc, n, ep);                                        \
    }
#define TILES(NV) TILE(1, NV) TILE(2, NV) TILE(3, NV) TILE(4, NV) TILE(5, NV) TILE(6, NV)
TILES(1)
TILES(2)
SMALL(1, 1, 4) SMALL(2, 1, 2) SMALL(3, 1, 2)
SMALL(1, 2, 4) SMALL(2, 2, 2) SMALL(3, 2, 2)

#define ROW(NV) {NULL, tile_1_##NV, tile_2_##NV, tile_3_##NV, tile_4_##NV, tile_5_##NV, tile_6_##NV}

const oc_sgemm_kernels oc_sgemm_kernels_avx2 = {
    .isa = OC_ISA_AVX2,
    .nr = 16,
    .mr = 6,
    .tile = {ROW(2), ROW(1)},
    .small = {{NULL, small_1_2, small_2_2, small_3_2}, {NULL, small_1_1, small_2_1, small_3_1}},
};

#else

const oc_sgemm_kernels oc_sgemm_kernels_avx2 = {.isa = OC_ISA_AVX2, .nr = 0};

#endif
