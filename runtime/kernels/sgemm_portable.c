/*
 * Portable micro-kernels: plain C with GCC/Clang generic vectors (4 floats),
 * which the compiler maps to the baseline SIMD of its target (SSE2 on
 * x86-64, NEON on arm64) or to scalar code. Used on CPUs without AVX2/FMA
 * and, through ONNXC_CPU=portable, to test the driver without the AVX
 * files. Layout and contract: sgemm_internal.h.
 *
 * Tile: up to 4 rows by one 8-column panel (half panels: 4 columns), 8
 * vector accumulators. They are named variables (c<row><vector>), not an
 * array: GCC keeps array accumulators in memory, and its auto-vectorizer
 * turned the plain-loop version of this kernel into shuffles (4x slower).
 * Each accumulator lane is one element's K sum in ascending k (a multiply
 * then an add, or an FMA where the target fuses them: either way the same
 * for every M and thread count). No GEMV kernels: small M uses the tile.
 */
#include "sgemm_internal.h"

#include <stddef.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

typedef float vf4 __attribute__((vector_size(16)));

INLINE vf4 load4(const float *p)
{
    vf4 v;
    memcpy(&v, p, sizeof v); /* unaligned-safe; compiles to one load */
    return v;
}

/* The epilogue of sgemm_internal.h on one row: n columns of x[0..W). */
INLINE void store_row(const float *x, float *c, int n, const oc_sgemm_epi *ep)
{
    const float alpha = ep->alpha, beta = ep->beta;
    for (int j = 0; j < n; j++) {
        float v = x[j];
        if (alpha != 1.0f) v *= alpha;
        if (beta != 0.0f) v += beta * c[j];
        if (ep->bias) v += ep->bias[j];
        if (ep->relu && v < 0.0f) v = 0.0f; /* NaN fails the test and stays NaN */
        c[j] = v;
    }
}

#define ROWS4(X) X(0) X(1) X(2) X(3)

INLINE void tile_body(const int MR, const int W, int64_t K, const float *A, int64_t lda,
                      const float *P, float *C, int64_t ldc, int n, const oc_sgemm_epi *ep)
{
    const vf4 z = {0, 0, 0, 0};
    const int nn = n < W ? n : W; /* n <= W always; tells the compiler too */
#define DECL(r) vf4 c##r##0 = z, c##r##1 = z;
    ROWS4(DECL)
#undef DECL
    if (ep->init_c) {
        float t[8] = {0};
#define INIT(r)                                                                                   \
    if (MR > r) {                                                                                 \
        memcpy(t, C + r * ldc, (size_t)nn * sizeof(float));                                      \
        c##r##0 = load4(t);                                                                       \
        if (W > 4) c##r##1 = load4(t + 4);                                                        \
    }
        ROWS4(INIT)
#undef INIT
    }
    for (int64_t k = 0; k < K; k++) {
        const float *p = P + k * W;
        const vf4 b0 = load4(p), b1 = W > 4 ? load4(p + 4) : b0;
#define STEP(r)                                                                                   \
    if (MR > r) {                                                                                 \
        const float a = A[r * lda + k];                                                           \
        c##r##0 += a * b0;                                                                        \
        if (W > 4) c##r##1 += a * b1;                                                             \
    }
        ROWS4(STEP)
#undef STEP
    }
    float out[8];
#define STORE(r)                                                                                  \
    if (MR > r) {                                                                                 \
        memcpy(out, &c##r##0, sizeof c##r##0);                                                    \
        if (W > 4) memcpy(out + 4, &c##r##1, sizeof c##r##1);                                     \
        store_row(out, C + r * ldc, nn, ep);                                                      \
    }
    ROWS4(STORE)
#undef STORE
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
