/*
 * Portable micro-kernels: plain C that any compiler can vectorize for the
 * baseline of its target (SSE2 on x86-64, NEON on arm64). Used on CPUs
 * without AVX2/FMA and, through ONNXC_CPU=portable, to test the driver
 * without SIMD. Layout and contract: sgemm_internal.h.
 *
 * Tile: up to 4 rows by one 8-column panel (half panels: 4 columns); the
 * 4x8 accumulator block is 8 SSE registers. Each accumulator is one
 * element's K sum in ascending k. No GEMV kernels: small M uses the tile.
 */
#include "sgemm_internal.h"

#include <stddef.h>

#define INLINE static inline __attribute__((always_inline))

INLINE void tile_body(const int MR, const int W, int64_t K, const float *A, int64_t lda,
                      const float *P, float *C, int64_t ldc, int n, const oc_sgemm_epi *ep)
{
    float acc[4][8];
    const int nn = n < W ? n : W; /* n <= W always; tells the compiler too */
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < W; j++) acc[r][j] = ep->init_c && j < nn ? C[r * ldc + j] : 0.0f;
    for (int64_t k = 0; k < K; k++) {
        const float *p = P + k * W;
        for (int r = 0; r < MR; r++) {
            const float a = A[r * lda + k];
            for (int j = 0; j < W; j++) acc[r][j] += a * p[j];
        }
    }
    const float alpha = ep->alpha, beta = ep->beta;
    for (int r = 0; r < MR; r++) {
        float *c = C + r * ldc;
        for (int j = 0; j < nn; j++) {
            float x = acc[r][j];
            if (alpha != 1.0f) x *= alpha;
            if (beta != 0.0f) x += beta * c[j];
            if (ep->bias) x += ep->bias[j];
            if (ep->relu && x < 0.0f) x = 0.0f; /* NaN fails the test and stays NaN */
            c[j] = x;
        }
    }
}

#define TILE(MR, W)                                                                               \
    static void tile_##MR##_##W(int64_t K, const float *A, int64_t lda, const float *P, float *C,  \
                                int64_t ldc, int n, const oc_sgemm_epi *ep)                       \
    {                                                                                             \
        tile_body(MR, W, K, A, lda, P, C, ldc, n, ep);                                            \
    }
TILE(1, 8) TILE(2, 8) TILE(3, 8) TILE(4, 8)
TILE(1, 4) TILE(2, 4) TILE(3, 4) TILE(4, 4)

const oc_sgemm_kernels oc_sgemm_kernels_portable = {
    .isa = OC_ISA_PORTABLE,
    .nr = 8,
    .mr = 4,
    .tile = {{NULL, tile_1_8, tile_2_8, tile_3_8, tile_4_8},
             {NULL, tile_1_4, tile_2_4, tile_3_4, tile_4_4}},
    .small = {{NULL}, {NULL}},
};
