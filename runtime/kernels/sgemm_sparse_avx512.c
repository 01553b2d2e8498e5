/*
 * AVX-512 kernels that skip the zeros of a batch X (sgemm_sparse.h), built
 * with -mavx512f -mfma -mbmi2 and called only when oc_cpu_isa() is AVX-512.
 *
 * Both find the nonzeros with one test per 16 floats of X into bit masks
 * (row_mask), then walk the set bits (count trailing zeros, clear the
 * lowest).
 *
 * Forward, Y = act(X·W + b). Row r's mask is ceil(K/64) words, bit k set
 * when x[r, k] != 0. For one block of 64 output columns (4 zmm accumulators
 * per row), K is walked one 64-row slice of W at a time (16 KiB: stays in
 * L1), every row of the block through that slice before the next; a row's
 * partial sums wait in a scratch row between the slices of one K chunk.
 * Per nonzero: one broadcast of x, four loads of W's row k, four FMAs, so
 * it is bound by loads and the broadcast (a zmm load is two of Zen 4's
 * 256-bit load slots, and a zmm broadcast takes an FP pipe there: in a
 * replica of the loop, 86 us with it, 72 with x held in a register, 80
 * with ymm FMAs, whose broadcast is a plain load) where the dense tile,
 * which shares each W load between 12 rows, is bound by FMAs: on the seed
 * model's first layer at batch 128, 86 us where the dense GEMM takes 114
 * at 50% nonzeros, about the same with none (bench/sparse_layer in
 * bench/RESULTS_TRAIN.md as of cffbbc3, Zen 4).
 *
 * Backward, C = X^T·B. Columns of X are taken four at a time (a group: rows
 * m..m+3 of C); a group's mask over the batch rows has bit r set when any
 * of x[r, m..m+3] is nonzero (neighbouring pixels are mostly all black or
 * all not: 62% of Fashion-MNIST's groups of 4 have a nonzero, where 50% of
 * its pixels do). Per set bit: four broadcasts, four loads of B's row r, 16
 * FMAs, the group's zeros multiplied as the dense kernel does. Group masks
 * come from per-row tests (a byte per 32 columns) by 8x8 bit-matrix
 * transposes (a 32-bit word per 128 columns and one vptestmd per group and
 * 16 rows instead: the same time). Seed model, batch 128: 83 us against the
 * dense 126 (same run).
 *
 * The forward can leave its masks in the caller's buffer (j->masks) and
 * the weight gradient of the same step take them from there instead of
 * reading X again: the seed model's first-layer backward at batch 128,
 * bench/train_anatomy in bench/RESULTS_TRAIN.md, took 83.0 us as of 083db44
 * and 79.2 as of 0dedd56 (Zen 4; 82.5 and 78.7, medians of five runs of
 * the two builds alternating).
 *
 * Each accumulator is one element's sum over one K chunk in ascending k,
 * with the dense epilogue, the same code (sgemm_avx512_epilogue.h): +C
 * by an FMA with beta, + bias (zero when none), max(0, .) for ReLU.
 */
#include "sgemm_sparse_internal.h"

#include "sgemm_sparse.h"

#include <stddef.h>
#include <string.h>

#if defined(ONNXC_HAVE_AVX512_KERNELS) && defined(__AVX512F__) && defined(__FMA__)

#include <immintrin.h>

#include "sgemm_avx512_epilogue.h"
#include "sgemm_avx512_transpose.h"

#define INLINE static inline __attribute__((always_inline))

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Vector v of NV at p: the last one masked by tail when PART (a block
 * narrower than 16 NV columns). Masked loads cost Zen 4 more than plain
 * ones, so a full block's instantiation has none. */
#define LOAD_VEC(NV, PART, v, p, tail) \
    ((PART) && (v) == (NV) - 1 ? _mm512_maskz_loadu_ps((tail), (p)) : _mm512_loadu_ps(p))

/* `CALL(nv, part)` for nv = ceil(n / 16) (1..4) and part = n % 16 != 0. */
#define DISPATCH_NV(n, CALL)                                  \
    do {                                                      \
        const int part_ = (n) % 16 != 0;                      \
        switch (((n) + 15) / 16 * 2 + part_) {                \
        case 2: CALL(1, 0); break;                            \
        case 3: CALL(1, 1); break;                            \
        case 4: CALL(2, 0); break;                            \
        case 5: CALL(2, 1); break;                            \
        case 6: CALL(3, 0); break;                            \
        case 7: CALL(3, 1); break;                            \
        case 8: CALL(4, 0); break;                            \
        default: CALL(4, 1); break;                           \
        }                                                     \
    } while (0)

/* CALL(nv, part) on each block of `width` (<= 64) of the N output columns,
 * with c0 (the block's first column) and tail (its last vector's lanes) in
 * scope for CALL. */
#define FOR_EACH_BLOCK(N, width, CALL)                                                \
    for (int64_t c0 = 0; c0 < (N); c0 += (width)) {                                   \
        const int64_t n_ = min64((width), (N) - c0);                                  \
        const __mmask16 tail = oc_avx512_lane_mask(n_, (int)((n_ + 15) / 16) - 1);    \
        DISPATCH_NV(n_, CALL);                                                        \
    }

/* Bits of the lanes in m of the 16 floats at v that are not +0 or -0 (any
 * other bit than the sign set: NaN is not zero); lanes outside m are not
 * read and give 0. */
INLINE uint64_t nonzero_lanes(const float *v, __mmask16 m)
{
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
    return _mm512_mask_test_epi32_mask(m, _mm512_castps_si512(_mm512_maskz_loadu_ps(m, v)), magnitude);
}

/* The dense epilogue (sgemm_avx512_epilogue.h, alpha 1) on nv vectors of
 * one output row, the last one's lanes masked by tail. */
INLINE void store_row(const int NV, const __m512 *acc, float *c, __mmask16 tail, float beta,
                      const float *bias, int relu)
{
    const __m512 zero = _mm512_setzero_ps(), vbeta = _mm512_set1_ps(beta);
    for (int v = 0; v < NV; v++) {
        const __mmask16 m = v == NV - 1 ? tail : (__mmask16)0xFFFF;
        oc_avx512_epilogue(acc[v], c + 16 * v, m, 0, zero, beta != 0.0f, vbeta,
                           bias ? _mm512_maskz_loadu_ps(m, bias + 16 * v) : zero, relu);
    }
}

/* ---- forward ---------------------------------------------------------------- */

#define FWD_COLS 64     /* output columns per block: 4 zmm accumulators */
#define FWD_ROWS 128    /* rows whose masks are built at once (and, transB, per transposed W slice) */
#define FWD_MASK_WORDS 2048 /* mask words on the stack: K up to 65536 (sgemm_sparse.c) */

/*
 * Block row r through W's slice w: its partial sums from the scratch row
 * (or zero at a chunk's first slice), then for every nonzero x[k] a
 * broadcast of it, a load of W's row k and NV FMAs, then into the scratch
 * row or, at a chunk's last slice, through the epilogue into Y.
 *
 * Other walks, timed against this one on the seed layer at batch 128 (Zen 4,
 * alternating in one process, same bits): rows walking the union of their
 * nonzeros, sharing each load of W, with the block's rows first sorted by
 * where their nonzeros start so that unions are small (pairs: 58% of K
 * instead of 66% unsorted; quads 64% instead of 79%): quads 1-4% slower
 * (their 16 FMAs and 4 broadcasts take ~22 cycles a union bit: a zmm
 * broadcast takes an FMA pipe, and folded into the FMA ({1to16}) it took
 * twice as long), pairs on ymm 1-2% faster (9.5 cycles a bit for 16 ymm
 * FMAs; needs AVX512VL for 24 ymm registers, without it they spill); two rows
 * side by side each over its own nonzeros (8 FMA chains): the same time, so
 * the walk is bound by loads, not FMA latency (on a batch without zeros it
 * takes ~4 cycles a nonzero, one zmm load of W a cycle); a row on ymm: 10%
 * slower; 64, 32 or 16 rows a block instead of 128: 2, 4, 9% slower; a row
 * through a whole 256-row chunk, W from L2, no scratch: 8-13% slower; 32
 * output columns a block (2 zmm, the mask walked twice): 1.44-1.5x slower;
 * a slice walked densely, every k with its zeros (the same bits), when at
 * least T of its 64 bits are set: slower for every T (T = 32: 1.19-1.26x,
 * 40: 1.15x, 48: 1.06x, 56: 1.01x), so a nonzero costs the walk no more
 * than a k of a dense walk; x read from the uint8 batch through a
 * 256-float table, with masks from byte tests (a quarter of X's traffic):
 * the same time (0.995-1.024x).
 */
INLINE void fwd_row(const int NV, const int PART, const oc_sparse_fwd *j, int64_t r0, int64_t r,
                    const uint64_t *mask, int64_t words, int64_t w, int64_t w0, int64_t w1, const float *wk,
                    int64_t ldw, int64_t ch, int last_chunk, int64_t c0, __mmask16 tail, float *scratch)
{
    __m512 acc[4];
    float *s = scratch + r * FWD_COLS;
    for (int v = 0; v < NV; v++) acc[v] = w == w0 ? _mm512_setzero_ps() : _mm512_load_ps(s + 16 * v);
    const float *x = j->X + (r0 + r) * j->ldx + w * 64;
    for (uint64_t m = mask[r * words + w]; m; m &= m - 1) {
        const int64_t k = __builtin_ctzll(m);
        const __m512 a = _mm512_set1_ps(x[k]);
        const float *b = wk + k * ldw;
        for (int v = 0; v < NV; v++) acc[v] = _mm512_fmadd_ps(a, LOAD_VEC(NV, PART, v, b + 16 * v, tail), acc[v]);
    }
    if (w == w1 - 1)
        store_row(NV, acc, j->Y + (r0 + r) * j->ldy + c0, tail, ch > 0 ? 1.0f : j->beta,
                  last_chunk && j->bias ? j->bias + c0 : NULL, last_chunk && j->relu);
    else
        for (int v = 0; v < NV; v++) _mm512_store_ps(s + 16 * v, acc[v]);
}

/*
 * Prefetch into L1 line group i (< 64) of the slice w of W for the column
 * block c0 (16 nv columns): W's row 64w + i from column c0 (nv lines), or
 * with transB (W [N, K]) row c0 + i from column 64w (4 lines). A slice is
 * 16 KiB; block row r asks for groups r, r + nr, ..., so the next slice
 * arrives while this one is used. The hardware prefetcher keeps up with W
 * in L2 (one thread: no change), not with W in memory: two shards' update
 * writes W with streaming stores (optim_update.h), and a 64-row shard's
 * first layer took ~59 us against ~42-45 with this (seed model, Zen 4).
 * Always inlined: GCC takes a function of prefetches alone for a pure one
 * and deletes its calls.
 */
INLINE void prefetch_slice(const oc_sparse_fwd *j, int64_t w, int64_t c0, int nv, int64_t i)
{
    if (j->transB) {
        if (64 * w >= j->K || i >= 16 * nv || c0 + i >= j->N) return;
        const char *p = (const char *)(j->W + (c0 + i) * j->ldw + 64 * w);
        for (int l = 0; l < 4 && 64 * w + 16 * l < j->K; l++) _mm_prefetch(p + 64 * l, _MM_HINT_T0);
    } else {
        if (64 * w + i >= j->K) return;
        const char *p = (const char *)(j->W + (64 * w + i) * j->ldw + c0);
        for (int l = 0; l < nv; l++) _mm_prefetch(p + 64 * l, _MM_HINT_T0);
    }
}

/* Rows [r0, r0 + nr) of the block, columns [c0, c0 + NV*16) (the last
 * vector masked by tail). mask: [nr][words]. scratch: [nr][FWD_COLS].
 * slice: [64][FWD_COLS], for transB. */
INLINE void fwd_block(const int NV, const int PART, const oc_sparse_fwd *j, int64_t r0, int64_t nr,
                      const uint64_t *mask, int64_t words, int64_t c0, __mmask16 tail,
                      float *scratch, float *slice)
{
    for (int64_t ch = 0; ch < j->K; ch += OC_SPARSE_KC) {
        const int64_t chend = min64(ch + OC_SPARSE_KC, j->K);
        const int last_chunk = chend >= j->K;
        const int64_t w0 = ch / 64, w1 = (chend + 63) / 64;
        for (int64_t w = w0; w < w1; w++) {
            /* W's row 64w, column c0; with transB, a transposed copy of
             * rows [c0, c0 + 16 NV) x columns [64w, 64w + 64) of W [N, K]. */
            const float *wk = j->W + w * 64 * j->ldw + c0;
            int64_t ldw = j->ldw;
            if (j->transB) {
                const int kw = (int)min64(64, j->K - 64 * w), n = (int)min64(16 * NV, j->N - c0);
                for (int cb = 0; 16 * cb < n; cb++)
                    for (int kb = 0; 16 * kb < kw; kb++)
                        oc_avx512_transpose16(j->W + (c0 + 16 * cb) * j->ldw + 64 * w + 16 * kb, j->ldw,
                                    n - 16 * cb < 16 ? n - 16 * cb : 16, kw - 16 * kb < 16 ? kw - 16 * kb : 16,
                                    slice + 16 * kb * FWD_COLS + 16 * cb, FWD_COLS);
                wk = slice, ldw = FWD_COLS;
            }
            /* The slice after this one: the next in K, else the next
             * column block's first (its width is at most this one's). */
            const int64_t next_w = 64 * (w + 1) < j->K ? w + 1 : 0, next_c = next_w ? c0 : c0 + FWD_COLS;
            for (int64_t r = 0; r < nr; r++) {
                if (next_c < j->N)
                    for (int64_t i = r; i < 64; i += nr) prefetch_slice(j, next_w, next_c, NV, i);
                fwd_row(NV, PART, j, r0, r, mask, words, w, w0, w1, wk, ldw, ch, last_chunk, c0, tail, scratch);
            }
        }
    }
}

/* Row masks of x [n] into mw [ceil(n/64)]: bit k of word w for x[64w + k]
 * != 0 (as nonzero_lanes). Returns the number of set bits. Whole words take
 * four unmasked tests and no length checks: on the seed model's first layer
 * at batch 128 that took ~1 us off the forward product and 2-3 us off dW
 * against a length test per 16 lanes (Zen 4, alternating in one process).
 * The forward builds all its rows' masks before it walks: testing each
 * row's 64 columns just before walking them took 98.7 us against 89.0. */
static inline int64_t row_mask(const float *x, int64_t n, uint64_t *mw)
{
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
    int64_t set = 0, w = 0;
    for (; 64 * w + 64 <= n; w++) {
        const float *p = x + 64 * w;
        uint64_t word = 0;
        for (int q = 0; q < 4; q++)
            word |= (uint64_t)_mm512_test_epi32_mask(_mm512_castps_si512(_mm512_loadu_ps(p + 16 * q)), magnitude)
                    << (16 * q);
        mw[w] = word;
        set += __builtin_popcountll(word);
    }
    if (64 * w < n) {
        uint64_t word = 0;
        for (int q = 0; 64 * w + 16 * q < n; q++)
            word |= nonzero_lanes(x + 64 * w + 16 * q, oc_avx512_lane_mask(n - 64 * w - 16 * q, 0)) << (16 * q);
        mw[w] = word;
        set += __builtin_popcountll(word);
    }
    return set;
}

static void fwd_rows(const oc_sparse_fwd *j, int64_t r0, int64_t r1)
{
    const int64_t words = oc_sparse_mask_words(j->K);
    int64_t rows_at_once = FWD_MASK_WORDS / words;
    if (rows_at_once > FWD_ROWS) rows_at_once = FWD_ROWS;
    if (rows_at_once < 1) rows_at_once = 1; /* K <= 64 * FWD_MASK_WORDS: the caller's test */
    _Alignas(64) float scratch[FWD_ROWS * FWD_COLS];
    _Alignas(64) float slice[64 * FWD_COLS];
    uint64_t stack_mask[FWD_MASK_WORDS];
    for (int64_t rb = r0; rb < r1; rb += rows_at_once) {
        const int64_t nr = min64(rows_at_once, r1 - rb);
        /* The caller's masks ([M][words]) when it keeps them for dW. */
        uint64_t *mask = j->masks ? j->masks + rb * words : stack_mask;
        for (int64_t r = 0; r < nr; r++) {
            for (int64_t i = r; i < 64; i += nr) prefetch_slice(j, 0, 0, (int)min64(4, (j->N + 15) / 16), i);
            row_mask(j->X + (rb + r) * j->ldx, j->K, mask + r * words);
        }
#define FWD_BLOCK(nv, part) fwd_block(nv, part, j, rb, nr, mask, words, c0, tail, scratch, slice)
        FOR_EACH_BLOCK(j->N, FWD_COLS, FWD_BLOCK)
#undef FWD_BLOCK
    }
}

/* ---- backward: C = X^T B ------------------------------------------------------ */

#define AT_COLS 64          /* columns of B (and C) per block: up to 4 zmm per C row */
#define AT_GROUP 4          /* columns of X (rows of C) summed at once */
#define AT_SLAB 512         /* columns of X (rows of C) whose group masks are built at once */
#define AT_GROUPS (AT_SLAB / AT_GROUP)
#define AT_ROW_BYTES (OC_SPARSE_KC + 8) /* one 32-column block's group bits, a byte per batch row */

/* The 8x8 bit matrix in x (byte i, bit j: element (i, j)) transposed
 * (Hacker's Delight, transpose8). */
static inline uint64_t transpose8(uint64_t x)
{
    uint64_t t;
    t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
    x = x ^ t ^ (t << 7);
    t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
    x = x ^ t ^ (t << 14);
    t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
    x = x ^ t ^ (t << 28);
    return x;
}

/* One bit per group of 4 lanes of a 64-lane mask: bit g set when any of
 * lanes 4g..4g+3 is. */
static inline unsigned group_bits(uint64_t m)
{
    m |= m >> 1;
    m |= m >> 2;
    return (unsigned)_pext_u64(m, 0x1111111111111111ull);
}

/* Bits [m0, m0 + cols) of a row's masks mw (m0 a multiple of 16) into
 * words [ceil(cols/64)], as row_mask gives them for x + m0 and cols: bits
 * past cols are zero. */
static inline void mask_bits(const uint64_t *mw, int64_t m0, int64_t cols, uint64_t *words)
{
    const int64_t w0 = m0 / 64, shift = m0 % 64, last = (m0 + cols - 1) / 64;
    for (int64_t b = 0; 64 * b < cols; b++) {
        uint64_t v = mw[w0 + b] >> shift;
        if (shift && w0 + b + 1 <= last) v |= mw[w0 + b + 1] << (64 - shift);
        if (cols - 64 * b < 64) v &= (1ull << (cols - 64 * b)) - 1;
        words[b] = v;
    }
}

/*
 * Group masks of X's columns [m0, m0 + cols) over the batch rows [q0, q0 +
 * nq), nq <= OC_SPARSE_KC: gm[g] (4 words = 256 bits, bit r for row q0 + r)
 * for columns m0 + 4g .. m0 + 4g + 3. Each row's tests (row_mask, or the
 * forward's masks when the caller kept them) fold into a bit per group by
 * pext, a byte per 32 columns (per-byte shifts and masks instead took ~1.6x
 * as long: 12 of the seed model's 84 us for dW at batch 128, Zen 4), and
 * 8x8 transposes of those bytes give 8 rows' bits of 8 groups at a time.
 * blocks: [cols/32][AT_ROW_BYTES] bytes of scratch.
 */
static void group_masks(const oc_sparse_at *j, int64_t q0, int64_t nq, int64_t m0, int64_t cols,
                        uint8_t *blocks, uint64_t (*gm)[4])
{
    const int64_t nb = (cols + 31) / 32, nq8 = (nq + 7) / 8 * 8, ngroups = (cols + 3) / 4;
    for (int64_t r = 0; r < nq; r++) {
        uint64_t words[AT_SLAB / 64];
        if (j->masks)
            mask_bits(j->masks + (q0 + r) * oc_sparse_mask_words(j->M), m0, cols, words);
        else
            row_mask(j->X + (q0 + r) * j->ldx + m0, cols, words);
        for (int64_t b = 0; b < nb; b += 2) {
            const unsigned g = group_bits(words[b / 2]); /* 16 groups: blocks b and b + 1 */
            blocks[b * AT_ROW_BYTES + r] = (uint8_t)g;
            if (b + 1 < nb) blocks[(b + 1) * AT_ROW_BYTES + r] = (uint8_t)(g >> 8);
        }
    }
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *row = blocks + b * AT_ROW_BYTES;
        for (int64_t r = nq; r < nq8; r++) row[r] = 0;
        uint8_t bytes[8][32];
        memset(bytes, 0, sizeof bytes);
        for (int64_t R = 0; R < nq8 / 8; R++) {
            uint64_t x;
            memcpy(&x, row + 8 * R, 8);
            x = transpose8(x);
            for (int g = 0; g < 8; g++) bytes[g][R] = (uint8_t)(x >> (8 * g));
        }
        for (int g = 0; g < 8 && 8 * b + g < ngroups; g++) memcpy(gm[8 * b + g], bytes[g], 32);
    }
}

/* A transposed C (trans_c) is written through a tile: each group's sums go
 * into it as they are in registers (tile[k][n], k one of AT_TILE_K columns
 * of X, n one of AT_COLS columns of B), and every AT_TILE_K columns of X the
 * tile goes into C by 16x16 transposes, whole 64-byte runs of C's rows.
 * (Transposing each group's 4 x 64 sums into C directly touched 64 rows of
 * C per group, 4 floats each: ~40% of the product's time.) */
#define AT_TILE_K 64

/* The tile's first `cols` rows (X's columns m..) by n columns into C rows
 * c0 + i, columns m.., with the dense epilogue per element (x = beta*C + sum,
 * then + 0). */
static void tile_flush(const oc_sparse_at *j, float (*tile)[AT_COLS], int64_t m, int64_t cols, int64_t c0,
                       int64_t n, float beta)
{
    const __m512 vbeta = _mm512_set1_ps(beta), zero = _mm512_setzero_ps();
    _Alignas(64) float block[16][16];
    for (int64_t kb = 0; kb < cols; kb += 16) {
        const int kw = (int)min64(16, cols - kb);
        const __mmask16 lm = kw >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << kw) - 1);
        for (int64_t nb = 0; nb < n; nb += 16) {
            const int nw = (int)min64(16, n - nb);
            oc_avx512_transpose16(tile[kb] + nb, AT_COLS, kw, nw, block[0], 16);
            for (int i = 0; i < nw; i++)
                oc_avx512_epilogue(_mm512_load_ps(block[i]), j->C + (c0 + nb + i) * j->ldc + m + kb, lm, 0, zero,
                                   beta != 0.0f, vbeta, zero, 0);
        }
    }
}

/* C rows m .. m + KT - 1, columns [c0, c0 + 16 NV): the sum over the set
 * bits of the group mask gm (batch rows q0 + r), then the epilogue with
 * beta. A group's rows r where some but not all of its KT x values are
 * zero multiply those zeros too, as the dense kernel does. (Groups of 2
 * pixels on ymm, 16 accumulators, 55% of the group-rows nonzero: the same
 * time as these, alternating in one process on the seed layer, Zen 4;
 * single pixels, each over its own nonzeros (50%): 1.49-1.53x slower;
 * groups of 4 on ymm, 32 columns a pass, the broadcasts plain loads: 90
 * against 80 us. These take ~19 cycles per set bit for 16 FMAs, 84% of
 * Zen 4's FMA peak. Updating each finished group's weights by Adam right
 * after its epilogue, so that the divider would run beside these FMAs,
 * took 97.7 us against 96.0 for this and the update apart.) */
INLINE void at_group(const int NV, const int PART, const int KT, const oc_sparse_at *j, int64_t m, int64_t q0,
                     const uint64_t *gm, int64_t c0, __mmask16 tail, float beta, float (*tile)[AT_COLS],
                     int64_t tile_col)
{
    __m512 acc[4][4];
    for (int t = 0; t < KT; t++)
        for (int v = 0; v < NV; v++) acc[t][v] = _mm512_setzero_ps();
    for (int w = 0; w < 4; w++) {
        for (uint64_t bits = gm[w]; bits; bits &= bits - 1) {
            const int64_t r = q0 + 64 * w + __builtin_ctzll(bits);
            const float *x = j->X + r * j->ldx + m;
            const float *b = j->B + r * j->ldb + c0;
            __m512 a[4];
            for (int t = 0; t < KT; t++) a[t] = _mm512_set1_ps(x[t]);
            for (int v = 0; v < NV; v++) {
                const __m512 bv = LOAD_VEC(NV, PART, v, b + 16 * v, tail);
                for (int t = 0; t < KT; t++) acc[t][v] = _mm512_fmadd_ps(a[t], bv, acc[t][v]);
            }
        }
    }
    if (!j->trans_c) {
        for (int t = 0; t < KT; t++)
            store_row(NV, acc[t], j->C + (m + t) * j->ldc + c0, tail, beta, NULL, 0);
        return;
    }
    for (int t = 0; t < KT; t++)
        for (int v = 0; v < NV; v++) _mm512_store_ps(tile[tile_col + t] + 16 * v, acc[t][v]);
}

/* Columns [m0, m0 + cols) of X in groups of AT_GROUP (the last 1..AT_GROUP - 1
 * wide), gm their masks; a transposed C through the tile, AT_TILE_K columns
 * at a time. */
INLINE void at_block(const int NV, const int PART, const oc_sparse_at *j, int64_t m0, int64_t cols, int64_t q0,
                     uint64_t (*gm)[4], int64_t c0, __mmask16 tail, float beta, float (*tile)[AT_COLS])
{
    for (int64_t span = 0; span < cols; span += AT_TILE_K) {
        const int64_t span_cols = min64(AT_TILE_K, cols - span);
        for (int64_t g = span / AT_GROUP; AT_GROUP * g < span + span_cols; g++) {
            const int64_t m = m0 + AT_GROUP * g, col = AT_GROUP * g - span;
            switch (cols - AT_GROUP * g < AT_GROUP ? cols - AT_GROUP * g : AT_GROUP) {
            case 1: at_group(NV, PART, 1, j, m, q0, gm[g], c0, tail, beta, tile, col); break;
            case 2: at_group(NV, PART, 2, j, m, q0, gm[g], c0, tail, beta, tile, col); break;
            case 3: at_group(NV, PART, 3, j, m, q0, gm[g], c0, tail, beta, tile, col); break;
            default: at_group(NV, PART, 4, j, m, q0, gm[g], c0, tail, beta, tile, col); break;
            }
        }
        if (j->trans_c) tile_flush(j, tile, m0 + span, span_cols, c0, min64(16 * NV, j->N - c0), beta);
    }
}

static void at_cols(const oc_sparse_at *j, int64_t m0, int64_t m1)
{
    uint8_t blocks[(AT_SLAB / 32) * AT_ROW_BYTES];
    uint64_t gm[AT_GROUPS][4];
    _Alignas(64) float tile[AT_TILE_K][AT_COLS]; /* trans_c only */
    int64_t q0 = 0;
    do {
        /* The dense driver's K chunk (oc_sgemm_fast_chunk_end). */
        const int64_t q1 = oc_sgemm_fast_chunk_end(q0, j->K, j->kcut);
        const float beta = q0 == 0 ? j->beta : 1.0f;
        for (int64_t s0 = m0; s0 < m1; s0 += AT_SLAB) {
            const int64_t cols = min64(AT_SLAB, m1 - s0);
            group_masks(j, q0, q1 - q0, s0, cols, blocks, gm);
#define AT_BLOCK(nv, part) at_block(nv, part, j, s0, cols, q0, gm, c0, tail, beta, tile)
            FOR_EACH_BLOCK(j->N, AT_COLS, AT_BLOCK)
#undef AT_BLOCK
        }
        q0 = q1;
    } while (q0 < j->K);
}

static double density(int64_t M, int64_t K, const float *A, int64_t lda, int64_t rows)
{
    uint64_t mw[FWD_MASK_WORDS];
    int64_t set = 0;
    for (int64_t i = 0; i < rows; i++) set += row_mask(A + (i * M / rows) * lda, K, mw);
    return (double)set / (double)(rows * K);
}

double (*const oc_sparse_density_avx512)(int64_t, int64_t, const float *, int64_t, int64_t) = density;
void (*const oc_sparse_fwd_rows_avx512)(const oc_sparse_fwd *, int64_t, int64_t) = fwd_rows;
void (*const oc_sparse_at_cols_avx512)(const oc_sparse_at *, int64_t, int64_t) = at_cols;

#else

double (*const oc_sparse_density_avx512)(int64_t, int64_t, const float *, int64_t, int64_t) = NULL;
void (*const oc_sparse_fwd_rows_avx512)(const oc_sparse_fwd *, int64_t, int64_t) = NULL;
void (*const oc_sparse_at_cols_avx512)(const oc_sparse_at *, int64_t, int64_t) = NULL;

#endif
