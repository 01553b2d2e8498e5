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

/* What the epilogue of a tile needs, computed once per call. */
typedef struct store_ctx {
    __m256 alpha, beta, bias[2];
    __m256i mask[2];
    int full[2], any[2];     /* vector v holds 8 / at least 1 of the n columns */
    int scale, load_c, relu;
} store_ctx;

INLINE void store_setup(store_ctx *st, int n, const oc_sgemm_epi *ep)
{
    st->alpha = _mm256_set1_ps(ep->alpha);
    st->beta = _mm256_set1_ps(ep->beta);
    st->scale = ep->alpha != 1.0f;
    st->load_c = ep->beta != 0.0f;
    st->relu = ep->relu;
    for (int v = 0; v < 2; v++) {
        st->mask[v] = lane_mask(n, v);
        st->full[v] = n - 8 * v >= 8;
        st->any[v] = n - 8 * v > 0;
        st->bias[v] = ep->bias && st->any[v] ? _mm256_maskload_ps(ep->bias + 8 * v, st->mask[v])
                                             : _mm256_setzero_ps();
    }
}

/* The epilogue of sgemm_internal.h on one vector: columns 8v.. of row c. */
INLINE void store_vec(const store_ctx *st, int v, __m256 x, float *c)
{
    if (!st->any[v]) return;
    c += 8 * v;
    if (st->scale) x = _mm256_mul_ps(x, st->alpha);
    if (st->load_c) {
        __m256 old = st->full[v] ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, st->mask[v]);
        x = _mm256_fmadd_ps(st->beta, old, x);
    }
    x = _mm256_add_ps(x, st->bias[v]);
    if (st->relu) x = _mm256_max_ps(_mm256_setzero_ps(), x); /* NaN in x stays NaN */
    if (st->full[v]) _mm256_storeu_ps(c, x);
    else _mm256_maskstore_ps(c, st->mask[v], x);
}

/* Accumulators are named variables (c<row><vector>), not arrays: with only 16
 * ymm registers GCC keeps array accumulators in memory, one store per FMA.
 * Rows >= MR and vectors >= NV are dead code, removed by the compiler. */
#define ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)

INLINE void tile_body(const int MR, const int NV, int64_t K, const float *A, int64_t lda,
                      const float *P, float *C, int64_t ldc, int n, const oc_sgemm_epi *ep)
{
    const __m256 z = _mm256_setzero_ps();
    const __m256i m0 = lane_mask(n, 0), m1 = lane_mask(n, 1);
#define DECL(r) __m256 c##r##0 = z, c##r##1 = z;
    ROWS6(DECL)
#undef DECL
    if (ep->init_c) {
#define INIT(r)                                                                                   \
    if (MR > r) {                                                                                 \
        c##r##0 = _mm256_maskload_ps(C + r * ldc, m0);                                            \
        if (NV > 1) c##r##1 = _mm256_maskload_ps(C + r * ldc + 8, m1);                            \
    }
        ROWS6(INIT)
#undef INIT
    }
    for (int64_t k = 0; k < K; k++) {
        const float *p = P + k * (8 * NV);
        const __m256 b0 = _mm256_load_ps(p);
        const __m256 b1 = NV > 1 ? _mm256_load_ps(p + 8) : b0;
#define STEP(r)                                                                                   \
    if (MR > r) {                                                                                 \
        const __m256 a = _mm256_broadcast_ss(A + r * lda + k);                                    \
        c##r##0 = _mm256_fmadd_ps(a, b0, c##r##0);                                                \
        if (NV > 1) c##r##1 = _mm256_fmadd_ps(a, b1, c##r##1);                                    \
    }
        ROWS6(STEP)
#undef STEP
    }
    store_ctx st;
    store_setup(&st, n, ep);
#define STORE(r)                                                                                  \
    if (MR > r) {                                                                                 \
        store_vec(&st, 0, c##r##0, C + r * ldc);                                                  \
        if (NV > 1) store_vec(&st, 1, c##r##1, C + r * ldc);                                      \
    }
    ROWS6(STORE)
#undef STORE
}

/*
 * M = MR <= 3 rows, U = 4 (one row) or 2 partial sums per element: partial u
 * takes k = u mod U, partial 0 starts from C with init_c. Accumulator
 * c<row><vector><partial>.
 */
#define ROWS3(X) X(0) X(1) X(2)

INLINE void small_body(const int MR, const int NV, const int U, int64_t K, const float *A,
                       int64_t lda, const float *P, float *C, int64_t ldc, int n,
                       const oc_sgemm_epi *ep)
{
    const __m256 z = _mm256_setzero_ps();
    const __m256i m0 = lane_mask(n, 0), m1 = lane_mask(n, 1);
    const int w = 8 * NV;
#define DECL(r)                                                                                   \
    __m256 c##r##00 = z, c##r##01 = z, c##r##02 = z, c##r##03 = z;                                \
    __m256 c##r##10 = z, c##r##11 = z, c##r##12 = z, c##r##13 = z;
    ROWS3(DECL)
#undef DECL
    if (ep->init_c) {
#define INIT(r)                                                                                   \
    if (MR > r) {                                                                                 \
        c##r##00 = _mm256_maskload_ps(C + r * ldc, m0);                                           \
        if (NV > 1) c##r##10 = _mm256_maskload_ps(C + r * ldc + 8, m1);                           \
    }
        ROWS3(INIT)
#undef INIT
    }
    /* One product into partial u (a literal digit), from panel row kk. */
#define STEP(r, u, kk, b0, b1)                                                                    \
    if (MR > r) {                                                                                 \
        const __m256 a = _mm256_broadcast_ss(A + r * lda + (kk));                                 \
        c##r##0##u = _mm256_fmadd_ps(a, b0, c##r##0##u);                                          \
        if (NV > 1) c##r##1##u = _mm256_fmadd_ps(a, b1, c##r##1##u);                              \
    }
#define PART(u, kk)                                                                               \
    {                                                                                             \
        const float *p = P + (kk) * w;                                                            \
        const __m256 b0 = _mm256_load_ps(p);                                                      \
        const __m256 b1 = NV > 1 ? _mm256_load_ps(p + 8) : b0;                                    \
        STEP(0, u, kk, b0, b1) STEP(1, u, kk, b0, b1) STEP(2, u, kk, b0, b1)                      \
    }
    int64_t k = 0;
    for (; k + U <= K; k += U) {
        PART(0, k)
        PART(1, k + 1)
        if (U > 2) {
            PART(2, k + 2)
            PART(3, k + 3)
        }
    }
    /* The last K mod U products go to partials 0, 1, 2 in order. */
    if (k < K) PART(0, k)
    if (k + 1 < K) PART(1, k + 1)
    if (k + 2 < K) PART(2, k + 2)
#undef PART
#undef STEP
    store_ctx st;
    store_setup(&st, n, ep);
#define STORE(r)                                                                                  \
    if (MR > r) {                                                                                 \
        __m256 s0 = U > 2 ? _mm256_add_ps(_mm256_add_ps(c##r##00, c##r##01),                      \
                                          _mm256_add_ps(c##r##02, c##r##03))                      \
                          : _mm256_add_ps(c##r##00, c##r##01);                                    \
        store_vec(&st, 0, s0, C + r * ldc);                                                       \
        if (NV > 1) {                                                                             \
            __m256 s1 = U > 2 ? _mm256_add_ps(_mm256_add_ps(c##r##10, c##r##11),                  \
                                              _mm256_add_ps(c##r##12, c##r##13))                  \
                              : _mm256_add_ps(c##r##10, c##r##11);                                \
            store_vec(&st, 1, s1, C + r * ldc);                                                   \
        }                                                                                         \
    }
    ROWS3(STORE)
#undef STORE
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
