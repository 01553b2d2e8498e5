/*
 * AVX-512 kernels for the three products of oc_sgemm_fast that the 12-row x
 * 32-column tile kernels (sgemm_avx512.c) fit badly: those of a classifier
 * layer (at most 16 outputs). Built with -mavx512f -mfma; the driver
 * (sgemm.c narrow_kernel) calls them for the AVX-512 family only.
 *
 *     narrow_at   C [M, N] = alpha A^T B (+ beta C),  A [K, M], B [K, N], N <= 16
 *                 (dW = H^T dZ of a 64 -> 10 layer: M = 64 features, N = 10
 *                 classes, K = the batch)
 *     short_k     C [M, N] = act(alpha A op(B) + beta C + bias),  A [M, K], K <= 16
 *                 (dX = dZ W^T of the same layer: K = 10)
 *     narrow_n    the same with N <= 16, K <= 256 (the layer's forward: N = 10)
 *
 * Why: the tile kernels broadcast one A value per row and k and feed it to
 * one vector FMA per 16 columns. With N <= 16 that is a broadcast per FMA,
 * and on Zen 4 a zmm broadcast takes an FP pipe, so half the FP work is
 * broadcasts (seed model, batch 128: dW 4.2 us for 8192 vector FMAs, ~1.9
 * cycles each); with K = 10 a 12-row tile does 10 steps between its setup
 * and its epilogue (dX 3.9 us for 5120 FMAs). narrow_at keeps the features
 * (M) in the vector lanes and broadcasts dZ: one broadcast per 4 FMAs.
 * narrow_n transposes 64 rows of A at a time so that the rows fill the
 * lanes, and broadcasts op(B): the same ratio, and every lane used where
 * the tiles use 10 of 16. short_k keeps a row's whole output in 4 zmm and
 * runs two rows at once over an op(B) packed once. Figures: sgemm.c.
 *
 * Same results as the tile kernels, bit for bit: each element of C is one
 * FMA chain over k in ascending order starting from zero (per K chunk of
 * OC_SGEMM_FAST_KC, and ending at kcut, as oc_sgemm_fast_cut cuts them),
 * then the same epilogue (sgemm_avx512_epilogue.h), which narrow_at and
 * narrow_n apply element by element after transposing their sums back. An
 * FMA's product does not depend on which operand is broadcast, so their
 * transposed chains are the tiles' chains. The driver may therefore pick
 * these kernels or the tiles by shape and thread count without the results
 * ever showing it.
 */
#include "sgemm_internal.h"

#include <stddef.h>

#include "../parallel.h"

#if defined(ONNXC_HAVE_AVX512_KERNELS) && defined(__AVX512F__) && defined(__FMA__)

#include <immintrin.h>

#include "sgemm_avx512_epilogue.h"
#include "sgemm_avx512_transpose.h"

#define INLINE static inline __attribute__((always_inline))

/* Keep a loaded vector in a register: without this GCC folds the load into
 * every FMA that uses it, loading it once per row (as in sgemm_avx512.c). */
#define IN_REGISTER(x) __asm__("" : "+v"(x))

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- shared by narrow_at and narrow_n: C's rows in the vector lanes ---------- */

#define LANES 64  /* rows of C per block: 4 zmm of lanes */
#define MAX_NB 6  /* columns of C per pass: 6 x 4 accumulators */

/*
 * Columns [n0, n0 + NB) of a block of C whose rows are the lanes: for k in
 * [k0, k1), the lane vector l(k) at L + k * ldl (lanes [0, width); MASKED:
 * masked loads, else aligned full ones) times the scalar s(k, n) at S + k
 * * sk + (n0 + n) * sn, broadcast. acc[n][v] lane i is row 16 v + i's sum,
 * into tile[n0 + n] ([N][LANES]). Per k: 4 loads, NB broadcasts, 4 NB FMAs.
 */
INLINE void lanes_pass(const int NB, const int MASKED, const float *L, int64_t ldl, int64_t width, const float *S,
                       int64_t sk, int64_t sn, int64_t k0, int64_t k1, int64_t n0, float (*tile)[LANES])
{
    __m512 acc[MAX_NB][4];
    __mmask16 lanes[4];
    for (int v = 0; v < 4; v++) lanes[v] = oc_avx512_lane_mask(width, v);
    for (int n = 0; n < NB; n++)
        for (int v = 0; v < 4; v++) acc[n][v] = _mm512_setzero_ps();
    for (int64_t k = k0; k < k1; k++) {
        const float *l = L + k * ldl, *s = S + k * sk + n0 * sn;
        __m512 lv[4];
        for (int v = 0; v < 4; v++)
            lv[v] = MASKED ? _mm512_maskz_loadu_ps(lanes[v], l + 16 * v) : _mm512_load_ps(l + 16 * v);
        for (int n = 0; n < NB; n++) {
            const __m512 sv = _mm512_set1_ps(s[n * sn]);
            for (int v = 0; v < 4; v++) acc[n][v] = _mm512_fmadd_ps(sv, lv[v], acc[n][v]);
        }
    }
    for (int n = 0; n < NB; n++)
        for (int v = 0; v < 4; v++) _mm512_store_ps(tile[n0 + n] + 16 * v, acc[n][v]);
}

/* All N columns of the block, in passes of at most MAX_NB, split evenly
 * (10 = 5 + 5). */
INLINE void lanes_passes(const int MASKED, int64_t N, const float *L, int64_t ldl, int64_t width, const float *S,
                         int64_t sk, int64_t sn, int64_t k0, int64_t k1, float (*tile)[LANES])
{
    const int passes = (int)((N + MAX_NB - 1) / MAX_NB);
    for (int p = 0; p < passes; p++) {
        int64_t n0, n1;
        oc_split_range(N, passes, p, &n0, &n1);
#define PASS(nb) lanes_pass(nb, MASKED, L, ldl, width, S, sk, sn, k0, k1, n0, tile)
        switch (n1 - n0) {
        case 1: PASS(1); break;
        case 2: PASS(2); break;
        case 3: PASS(3); break;
        case 4: PASS(4); break;
        case 5: PASS(5); break;
        default: PASS(6); break;
        }
#undef PASS
    }
}

/* The tile's first `rows` lanes are rows of C (C points at the first):
 * 16 at a time through a transpose, then the epilogue on each row's N
 * columns, as the tile kernels apply it. */
INLINE void lanes_flush(float (*tile)[LANES], int64_t rows, int64_t N, float *C, int64_t ldc, float alpha,
                        float beta, __m512 bias, int relu)
{
    _Alignas(64) float row[16][16];
    const __mmask16 cols = oc_avx512_lane_mask(N, 0);
    const __m512 valpha = _mm512_set1_ps(alpha), vbeta = _mm512_set1_ps(beta);
    for (int64_t s = 0; s < rows; s += 16) {
        const int sw = (int)min64(16, rows - s);
        oc_avx512_transpose16(tile[0] + s, LANES, (int)N, sw, row[0], 16);
        for (int i = 0; i < sw; i++)
            oc_avx512_epilogue(_mm512_load_ps(row[i]), C + (s + i) * ldc, cols, alpha != 1.0f, valpha, beta != 0.0f,
                               vbeta, bias, relu);
    }
}

/* ---- narrow_at: C = A^T B, N <= 16 ------------------------------------------ */

/* Features (columns of A, rows of C) in the lanes, dZ (B) broadcast; K in
 * the dense driver's chunks (oc_sgemm_fast_chunk_end), each flushed with beta
 * for the first and 1 after, as the driver gives its tile kernels. */
static void narrow_at(const oc_sgemm_narrow_job *j)
{
    _Alignas(64) float tile[16][LANES]; /* one chunk's sums, [column of C][row of C] */
    for (int64_t m0 = 0; m0 < j->M; m0 += LANES) {
        const int64_t mw = min64(LANES, j->M - m0);
        int64_t q0 = 0;
        do {
            const int64_t q1 = oc_sgemm_fast_chunk_end(q0, j->K, j->kcut);
            lanes_passes(1, j->N, j->A + m0, j->lda, mw, j->B, j->ldb, 1, q0, q1, tile);
            lanes_flush(tile, mw, j->N, j->C + m0 * j->ldc, j->ldc, j->alpha, q0 == 0 ? j->beta : 1.0f,
                        _mm512_setzero_ps(), 0);
            q0 = q1;
        } while (q0 < j->K);
    }
}

/* ---- short_k: C = act(A op(B) + beta C + bias), K <= 16 ------------------------ */

#define SK_COLS 64 /* columns of C per block: 4 zmm */

/*
 * Rows [r, r + R) (R = 1 or 2) of C, block columns [c0, c0 + 16 NV) (the
 * last vector masked by the lane masks m): each row's NV accumulators over
 * the K rows of the packed block ob [K][SK_COLS], then the epilogue.
 */
INLINE void sk_rows(const int R, const int NV, const oc_sgemm_narrow_job *j, int64_t r, int64_t c0,
                    const float (*ob)[SK_COLS], const __mmask16 *m, const __m512 *bias)
{
    __m512 acc[2][4];
    for (int i = 0; i < R; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    const float *a = j->A + r * j->lda;
    for (int64_t k = 0; k < j->K; k++) {
        __m512 x[2];
        for (int i = 0; i < R; i++) x[i] = _mm512_set1_ps(a[i * j->lda + k]);
        for (int v = 0; v < NV; v++) {
            __m512 w = _mm512_load_ps(ob[k] + 16 * v);
            if (R > 1) IN_REGISTER(w);
            for (int i = 0; i < R; i++) acc[i][v] = _mm512_fmadd_ps(x[i], w, acc[i][v]);
        }
    }
    const __m512 alpha = _mm512_set1_ps(j->alpha), beta = _mm512_set1_ps(j->beta);
    for (int i = 0; i < R; i++)
        for (int v = 0; v < NV; v++)
            oc_avx512_epilogue(acc[i][v], j->C + (r + i) * j->ldc + c0 + 16 * v, m[v], j->alpha != 1.0f, alpha,
                               j->beta != 0.0f, beta, bias[v], j->relu);
}

INLINE void sk_block(const int NV, const oc_sgemm_narrow_job *j, int64_t c0, const float (*ob)[SK_COLS],
                     const __mmask16 *m, const __m512 *bias)
{
    int64_t r = 0;
    for (; r + 2 <= j->M; r += 2) sk_rows(2, NV, j, r, c0, ob, m, bias);
    if (r < j->M) sk_rows(1, NV, j, r, c0, ob, m, bias);
}

static void short_k(const oc_sgemm_narrow_job *j)
{
    _Alignas(64) float ob[OC_SGEMM_SHORT_K_MAX][SK_COLS]; /* op(B) [K][block columns], zero beyond N */
    for (int64_t c0 = 0; c0 < j->N; c0 += SK_COLS) {
        const int64_t nw = min64(SK_COLS, j->N - c0);
        __mmask16 m[4];
        __m512 bias[4];
        for (int v = 0; v < 4; v++) {
            m[v] = oc_avx512_lane_mask(nw, v);
            bias[v] = j->bias ? _mm512_maskz_loadu_ps(m[v], j->bias + c0 + 16 * v) : _mm512_setzero_ps();
        }
        if (j->transB) /* B [N, K]: 16 of its rows at a time become 16 columns of ob */
            for (int v = 0; v < 4; v++)
                oc_avx512_transpose16(j->B + (c0 + 16 * v) * j->ldb, j->ldb, m[v] ? (int)min64(16, nw - 16 * v) : 0,
                                      (int)j->K, ob[0] + 16 * v, SK_COLS);
        else
            for (int64_t k = 0; k < j->K; k++)
                for (int v = 0; v < 4; v++)
                    _mm512_store_ps(ob[k] + 16 * v, _mm512_maskz_loadu_ps(m[v], j->B + k * j->ldb + c0 + 16 * v));
        switch ((nw + 15) / 16) {
        case 1: sk_block(1, j, c0, (const float(*)[SK_COLS])ob, m, bias); break;
        case 2: sk_block(2, j, c0, (const float(*)[SK_COLS])ob, m, bias); break;
        case 3: sk_block(3, j, c0, (const float(*)[SK_COLS])ob, m, bias); break;
        default: sk_block(4, j, c0, (const float(*)[SK_COLS])ob, m, bias); break;
        }
    }
}

/* ---- narrow_n: C = act(A op(B) + beta C + bias), N <= 16, K <= 256 ------------- */

/* 64 rows of A at a time transposed into the lanes, op(B) broadcast. */
static void narrow_n(const oc_sgemm_narrow_job *j)
{
    _Alignas(64) float at[OC_SGEMM_NARROW_N_MAX_K][LANES]; /* the block of A transposed, [k][row]: 64 KiB */
    _Alignas(64) float tile[16][LANES];                     /* its sums, [column of C][row] */
    const __m512 bias = j->bias ? _mm512_maskz_loadu_ps(oc_avx512_lane_mask(j->N, 0), j->bias) : _mm512_setzero_ps();
    /* op(B)[k][n]: B [N, K] with transB, else B [K, N]. */
    const int64_t sk = j->transB ? 1 : j->ldb, sn = j->transB ? j->ldb : 1;
    for (int64_t r0 = 0; r0 < j->M; r0 += LANES) {
        const int64_t mr = min64(LANES, j->M - r0);
        for (int64_t k = 0; k < j->K; k += 16) /* rows past mr come out zero */
            for (int v = 0; v < 4; v++) {
                const int rows_v = 16 * v < mr ? (int)min64(16, mr - 16 * v) : 0;
                oc_avx512_transpose16(rows_v ? j->A + (r0 + 16 * v) * j->lda + k : j->A, j->lda, rows_v,
                                      (int)min64(16, j->K - k), at[k] + 16 * v, LANES);
            }
        lanes_passes(0, j->N, at[0], LANES, LANES, j->B, sk, sn, 0, j->K, tile);
        lanes_flush(tile, mr, j->N, j->C + r0 * j->ldc, j->ldc, j->alpha, j->beta, bias, j->relu);
    }
}

void (*const oc_sgemm_narrow_at_avx512)(const oc_sgemm_narrow_job *j) = narrow_at;
void (*const oc_sgemm_short_k_avx512)(const oc_sgemm_narrow_job *j) = short_k;
void (*const oc_sgemm_narrow_n_avx512)(const oc_sgemm_narrow_job *j) = narrow_n;

#else

void (*const oc_sgemm_narrow_at_avx512)(const oc_sgemm_narrow_job *j) = NULL;
void (*const oc_sgemm_short_k_avx512)(const oc_sgemm_narrow_job *j) = NULL;
void (*const oc_sgemm_narrow_n_avx512)(const oc_sgemm_narrow_job *j) = NULL;

#endif
