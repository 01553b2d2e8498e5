/*
 * GEMM driver: cache blocking, thread split and kernel dispatch for the two
 * entry points of sgemm.h. The micro-kernels and the panel layout are
 * described in sgemm_internal.h.
 *
 * C is cut into tiles: row tiles of at most `mr` rows (M split into
 * ceil(M/mr) tiles whose heights differ by at most one, so M = 32 with
 * mr = 12 gives 11+11+10, not 12+12+8) by column panels of `nr` columns.
 * Every tile is computed by one kernel call that sums all of K (oc_sgemm_run)
 * or one K chunk (oc_sgemm_fast) in registers.
 *
 * oc_sgemm_run, per thread, over its own rectangle of tiles:
 *
 *   for each group of panels whose [K][nr] panels fit in half of L2
 *     for each row tile                 A rows stream from memory once per group
 *       for each K chunk                (one, unless A is copied and K > 2048)
 *         for each panel in the group   the panel comes from L2, the A rows from L1
 *           tile kernel; chunks after the first resume the FMA chains from C,
 *           the last applies bias/activation
 *
 * Summing all of K in one call beat chunks of ~384 (which kept a tile's A
 * chunk in L1 while the panels streamed past) on every layer shape of the
 * benchmark models, for both the AVX-512 and AVX2 kernels: 3-9% per product
 * (paired alternating runs, e.g. 256x1024x1024 0.93x, 256x1024x784 0.92x,
 * 4096x512x784 0.97x); the hardware prefetchers keep mr rows of A and one
 * panel streaming, and every extra chunk re-reads and re-writes the C tile.
 *
 * Resuming from C (init_c) repeats exactly the operations of one long
 * chain, so the chunking never shows in the results.
 *
 * oc_sgemm_fast, per thread:
 *
 *   for jc in columns step 128          op(B) chunk [256][128] packed on the stack
 *     for pc in K step 256              (128 KiB: stays in L2)
 *       pack op(B)[pc.., jc..]
 *       for each row tile               op(A) tile packed when transA (unless
 *                                       the family reads A transposed: tile_t)
 *         for each panel of the chunk
 *           tile kernel: C = alpha*chunk + (pc == 0 ? beta : 1)*C
 *
 * With B = op(B) row-major, N a multiple of nr and either few row tiles or
 * rows on cache lines, families with tile_d kernels read the panels straight
 * from B instead (reads_b_in_place).
 *
 * oc_sgemm_fast_cut also ends a chunk at kcut; when K <= 256 both halves are
 * packed at once and each row tile runs the first half's then the second
 * half's kernels, so that the C tile is still in L1 for the second.
 *
 * Three shapes skip all of this on the AVX-512 family when they run on one
 * thread: products with at most 16 columns (a classifier layer's forward,
 * and its dW = A^T B) and products with K <= 16 (its dX) go to the narrow
 * kernels of sgemm_narrow_avx512.c, with the same arithmetic
 * (narrow_kernel).
 *
 * Threads: a product below PAR_MIN multiply-adds runs on the calling thread
 * with no OpenMP region (a team costs microseconds; a small layer takes
 * less), unless it is a GEMV over a B of GEMV_PAR_MIN or more elements.
 * Otherwise the tile grid is cut into `parts` rectangles, along the panels
 * or along the row tiles, whichever balances the threads' shares better
 * (plan_grid has the rule). Which
 * thread computes a tile never changes how it is computed, so results are
 * bit-identical for any thread count.
 */
#include "sgemm.h"

#include <string.h>

#include "../parallel.h"
#include "sgemm_internal.h"

/* Multiply-adds worth a thread team: 128x64x64 (2^19) took 5.3 us on one
 * thread and 5.8 us on two, the team's start and join eating the gain. */
#define PAR_MIN (1 << 20)
/* Elements of B from which the GEMV kernels (M <= 4) split B's panels
 * between threads even below PAR_MIN: 512 KiB of weights stream from L3 or
 * memory, and two cores stream twice as fast. Batch 1 at 2 threads
 * (paired alternating runs, onnxc bench): 784-512x6-10 0.87x, 784-1024-
 * 1024-10 0.80x of the one-thread-per-layer time; 784x64 (50k) stays
 * serial: it sits in L2 and takes ~1 us, less than a team start. */
#ifndef GEMV_PAR_MIN
#define GEMV_PAR_MIN (1 << 17)
#endif
#ifndef L2_BLOCK_BYTES
#define L2_BLOCK_BYTES (512 * 1024)       /* panels swept by all row tiles at once */
#endif
#define COPY_KC 2048                      /* longest K chunk of a copied A tile (run_part) */
#define FAST_KC OC_SGEMM_FAST_KC          /* K chunk of oc_sgemm_fast */
#define FAST_NC 128                       /* column chunk of oc_sgemm_fast (multiple of nr) */


static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* First row of row tile t when M rows are cut into T near-equal tiles. */
static inline int64_t tile_row(int64_t M, int64_t T, int64_t t)
{
    int64_t q = M / T, r = M % T;
    return t * q + (t < r ? t : r);
}

/* The shape of one product and how its tile grid is shared out. */
typedef struct grid {
    int64_t M, N, K;
    int nr;
    int64_t T, P;          /* row tiles, panels */
    int small;             /* M <= 4 with GEMV kernels: one row tile */
    int parts;             /* threads used */
    int by_panels;         /* split panels (else row tiles) between parts */
} grid;

static void plan_grid(grid *g, const oc_sgemm_kernels *kern, int64_t M, int64_t N, int64_t K,
                      int nthreads)
{
    g->M = M, g->N = N, g->K = K, g->nr = kern->nr;
    g->small = M <= OC_SGEMM_SMALL_MAX && kern->small[0][M] != NULL;
    g->T = g->small ? 1 : (M + kern->mr - 1) / kern->mr;
    g->P = oc_sgemm_panel_count(kern->nr, N);
    g->parts = 1;
    g->by_panels = 0;
    const double macs = (double)M * (double)N * (double)(K > 0 ? K : 1);
    if (nthreads < 2 || (macs < (double)PAR_MIN && !(g->small && (double)N * (double)K >= GEMV_PAR_MIN)))
        return;
    /* The busiest part's share of C under each split: row tiles differ in
     * height by at most one, panels are nr wide (the last may be narrower). */
    const int pr = (int)min64(nthreads, g->T), pp = (int)min64(nthreads, g->P);
    const double rows_max = (double)((g->T + pr - 1) / pr) * (double)((M + g->T - 1) / g->T);
    const double cols_max = (double)min64(N, (g->P + pp - 1) / pp * g->nr);
    const double by_rows = pr > 1 ? rows_max * (double)N : 1e300;
    const double by_cols = pp > 1 ? (double)M * cols_max : 1e300;
    if (pr < 2 && pp < 2) return;
    /* Panels when they balance at least as well and each part gets two or
     * more (a thread then reads only its share of B, which stays in its own
     * L2), or when they balance clearly better: M = 128 is 11 row tiles, 6 + 5
     * between two threads (55%), but 2 + 2 panels of N = 128 split evenly.
     * Otherwise row tiles, so that each thread reads only its rows of A. */
    if ((g->P >= 2 * nthreads && by_cols <= by_rows) || by_cols < 0.95 * by_rows) {
        g->by_panels = 1;
        g->parts = pp;
    } else {
        g->parts = pr;
    }
}

/* Part i's rectangle: row tiles [*t0, *t1), panels [*p0, *p1). */
static void part_rect(const grid *g, int i, int64_t *t0, int64_t *t1, int64_t *p0, int64_t *p1)
{
    *t0 = 0, *t1 = g->T, *p0 = 0, *p1 = g->P;
    if (g->by_panels) oc_split_range(g->P, g->parts, i, p0, p1);
    else oc_split_range(g->T, g->parts, i, t0, t1);
}

static inline oc_sgemm_tile_fn pick(const oc_sgemm_kernels *kern, const grid *g, int half, int64_t m)
{
    return g->small ? kern->small[half][m] : kern->tile[half][m];
}

/* ---- pre-packed B --------------------------------------------------------- */

typedef struct run_job {
    grid g;
    const oc_sgemm_kernels *kern;
    const float *A;        /* [M, K], row stride lda */
    int64_t lda;
    const float *P;        /* panels of op(B) [K, N] */
    float *C;              /* [M, N], row stride ldc */
    int64_t ldc;
    const float *bias;     /* [N] or NULL */
    int relu, accumulate;
} run_job;

/* A row stride that is a multiple of 4 KiB: see run_part. */
static inline int aliasing_stride(int64_t lda) { return (lda * (int64_t)sizeof(float)) % 4096 == 0; }

/* Row stride of the copied A tile: the chunk plus one cache line, so that
 * its rows never sit a multiple of 4 KiB apart (see run_part). */
#define APACK_LD(kc) ((kc) + 16)

static void run_part(const run_job *j, int part)
{
    /* One A tile chunk [mr][<= COPY_KC], copied when A's rows alias in L1
     * (below); 99 KiB of stack. */
    _Alignas(64) float abuf[OC_SGEMM_MR_MAX * APACK_LD(COPY_KC)];
    const grid *g = &j->g;
    int64_t t0, t1, p0, p1;
    part_rect(g, part, &t0, &t1, &p0, &p1);
    const int64_t panel_bytes = max64(1, g->K) * g->nr * (int64_t)sizeof(float);
    const int64_t group = max64(1, L2_BLOCK_BYTES / panel_bytes);
    for (int64_t pg = p0; pg < p1; pg += group) {
        const int64_t pe = min64(p1, pg + group);
        /* A row stride of a multiple of 4 KiB (K = 1024, 2048 ...) puts all
         * mr rows of a tile in one L1 set, which has fewer ways than the tile
         * has rows plus panel lines: every k then misses. Such tiles are read
         * from a copy with a padded stride instead (measured: 784-1024-1024
         * at batch 256 went from 49 to ~190 GFLOP/s). Same values, same
         * order: results do not change. The copy holds at most COPY_KC of K,
         * so longer rows are summed in chunks (the GEMV kernels never copy:
         * their partial sums cannot resume). */
        const int copy_a = !g->small && aliasing_stride(j->lda);
        const int chunks = copy_a ? (int)((g->K + COPY_KC - 1) / COPY_KC) : 1;
        for (int64_t t = t0; t < t1; t++) {
            const int64_t r0 = tile_row(g->M, g->T, t), m = tile_row(g->M, g->T, t + 1) - r0;
            for (int c = 0; c < chunks; c++) {
                int64_t k0, k1;
                oc_split_range(g->K, chunks, c, &k0, &k1);
                const int last = c == chunks - 1;
                const float *a = j->A + r0 * j->lda + k0;
                int64_t alda = j->lda;
                if (copy_a) {
                    for (int64_t r = 0; r < m; r++)
                        memcpy(abuf + r * APACK_LD(k1 - k0), j->A + (r0 + r) * j->lda + k0,
                               (size_t)(k1 - k0) * sizeof(float));
                    a = abuf, alda = APACK_LD(k1 - k0);
                }
                oc_sgemm_epi ep = {.alpha = 1.0f, .beta = 0.0f, .bias = NULL,
                                   .relu = last && j->relu, .init_c = c > 0 || j->accumulate};
                for (int64_t p = pg; p < pe; p++) {
                    const int w = oc_sgemm_panel_width(g->nr, g->N, p);
                    const int n = (int)min64(w, g->N - p * g->nr);
                    ep.bias = last && j->bias ? j->bias + p * g->nr : NULL;
                    pick(j->kern, g, w != g->nr, m)(k1 - k0, a, alda,
                                                    j->P + p * g->nr * g->K + k0 * w,
                                                    j->C + r0 * j->ldc + p * g->nr, j->ldc, n,
                                                    &ep);
                }
            }
        }
    }
}

void oc_sgemm_run(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const oc_sgemm_pb *pb, float *C, int64_t ldc, const float *bias, oc_act act,
                  int accumulate, int nthreads)
{
    if (M <= 0 || N <= 0) return;
    oc_isa isa;
    int nr;
    run_job j;
    j.P = oc_sgemm_pb_panels(pb, K, N, &isa, &nr);
    j.kern = oc_sgemm_kernels_for(isa);
    plan_grid(&j.g, j.kern, M, N, K, nthreads);
    j.A = A, j.lda = lda, j.C = C, j.ldc = ldc, j.bias = bias;
    j.relu = act == OC_ACT_RELU;
    j.accumulate = accumulate != 0;
    OC_PAR_FOR(j.g.parts, i, { run_part(&j, i); });
}

/* ---- general GEMM, B packed per call ---------------------------------------- */

typedef struct fast_job {
    grid g;
    const oc_sgemm_kernels *kern;
    int transA, transB;
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb;
    float *C;
    int64_t ldc;
    const float *bias;     /* [N] or NULL, added after the last K chunk */
    int relu;              /* applied after the last K chunk */
    int64_t kcut;          /* 0, or a K chunk ends here too (oc_sgemm_fast_cut) */
} fast_job;

/* End of the K chunk that starts at pc: FAST_KC long at most, and ending
 * at the cut. */
static int64_t chunk_end(const fast_job *j, int64_t pc)
{
    return oc_sgemm_fast_chunk_end(pc, j->g.K, j->kcut);
}

/* op(A)'s tile of rows [r0, r0 + m) and K range [pc, pc + kc), for the
 * kernel `*fn` will name: in place, or copied into abuf. */
static const float *a_tile(const fast_job *j, int64_t r0, int64_t m, int64_t pc, int64_t kc,
                           float *abuf, int64_t *alda, int *direct_t)
{
    const grid *g = &j->g;
    /* Kernels that read A transposed in place (tile_t) need no copy;
     * GEMV kernels and families without them get op(A) packed. */
    *direct_t = j->transA && !g->small && j->kern->tile_t[0][m];
    if (*direct_t) {
        *alda = j->lda;
        return j->A + pc * j->lda + r0;
    }
    if (j->transA) {
        /* op(A)[r0+r][pc+k] = A[pc+k][r0+r]: m contiguous floats per k. */
        for (int64_t k = 0; k < kc; k++) {
            const float *src = j->A + (pc + k) * j->lda + r0;
            for (int64_t r = 0; r < m; r++) abuf[r * kc + k] = src[r];
        }
        *alda = kc;
        return abuf;
    }
    if (!g->small && aliasing_stride(j->lda)) {
        /* Rows 4 KiB apart share one L1 set: copy (see run_part). */
        for (int64_t r = 0; r < m; r++)
            memcpy(abuf + r * APACK_LD(kc), j->A + (r0 + r) * j->lda + pc, (size_t)kc * sizeof(float));
        *alda = APACK_LD(kc);
        return abuf;
    }
    *alda = j->lda;
    return j->A + r0 * j->lda + pc;
}

/* Row tiles up to which B is read in place even when its rows are not on
 * cache lines (reads_b_in_place). */
#define DIRECT_B_MAX_TILES 4

/* Can the tile kernels read op(B) = B [K, N] in place (tile_d) rather than
 * from packed copies? Only full panels (N a multiple of nr), rows of A read
 * in place, more than the GEMV rows. Packing copies B through the cache
 * before the product and stalls on its misses, where the kernels overlap
 * them with arithmetic: for a training step's first layer (784x64 weights,
 * changed by every update) it was ~5% of a batch-128 step. But every row
 * tile reads B again, and rows not on 64-byte lines cost 3 cache lines per
 * 32-float panel row instead of 2: then only with few row tiles (batch 32:
 * 3; epoch 0.115 -> 0.107 s), not at 11 (batch 128) or on 64-row batch
 * shards, where it was a wash or 2% slower. On lines (the loader puts
 * weights there, loader.c) it won at every size measured: batch-128 epochs
 * 0.092 -> 0.089 s on 1 thread, 0.082 -> 0.080 s on 2. The sums are the same
 * either way: packing only moves floats. */
static int reads_b_in_place(const fast_job *j)
{
    const grid *g = &j->g;
    const int on_lines = ((uintptr_t)j->B & 63) == 0 && j->ldb % 16 == 0;
    return !j->transA && !j->transB && !g->small && (g->T <= DIRECT_B_MAX_TILES || on_lines) &&
           j->kern->tile_d[1] && g->N % g->nr == 0;
}

static void fast_part(const fast_job *j, int part)
{
    /* op(B) chunks [kc][nc] as panels (one, or both halves of a cut product
     * whose K fits), and one op(A) tile [mr][kc] (transA). */
    _Alignas(64) float bbuf[FAST_KC * FAST_NC];
    _Alignas(64) float abuf[OC_SGEMM_MR_MAX * APACK_LD(FAST_KC)];
    const grid *g = &j->g;
    const int nr = g->nr;
    int64_t t0, t1, p0, p1;
    part_rect(g, part, &t0, &t1, &p0, &p1);
    const int64_t cend = min64(g->N, p1 * nr);
    const int direct_b = reads_b_in_place(j);
    for (int64_t jc = p0 * nr; jc < cend; jc += FAST_NC) {
        const int64_t nc = min64(FAST_NC, cend - jc);
        const int64_t np = oc_sgemm_panel_count(nr, nc);
        /* K == 0 still takes one (empty) pass, which applies beta. */
        int64_t pc = 0;
        do {
            /* One chunk per pass; or, when the two halves of a cut product
             * fit the buffer together, both, so that each C tile gets its
             * second half while still in L1. */
            int64_t start[2], kc[2];
            const float *panels[2];
            int chunks = 1;
            start[0] = pc, kc[0] = chunk_end(j, pc) - pc;
            if (j->kcut > 0 && pc + kc[0] == j->kcut && g->K - pc <= FAST_KC) {
                chunks = 2;
                start[1] = j->kcut, kc[1] = g->K - j->kcut;
            }
            float *dst = bbuf;
            for (int c = 0; c < chunks; c++) {
                if (direct_b) { /* the panels are B's own rows (reads_b_in_place) */
                    panels[c] = j->B + start[c] * j->ldb + jc;
                    continue;
                }
                oc_sgemm_pack_panels(nr, j->transB, j->B, j->ldb, start[c], kc[c], jc, nc, dst);
                panels[c] = dst;
                dst += np * nr * kc[c];
            }
            for (int64_t t = t0; t < t1; t++) {
                const int64_t r0 = tile_row(g->M, g->T, t), m = tile_row(g->M, g->T, t + 1) - r0;
                for (int c = 0; c < chunks; c++) {
                    const int last = start[c] + kc[c] >= g->K;
                    oc_sgemm_epi ep = {.alpha = j->alpha, .beta = start[c] == 0 ? j->beta : 1.0f,
                                       .bias = NULL, .relu = last && j->relu, .init_c = 0,
                                       .ldp = j->ldb};
                    int64_t alda;
                    int direct_t;
                    const float *a = a_tile(j, r0, m, start[c], kc[c], abuf, &alda, &direct_t);
                    for (int64_t q = 0; q < np; q++) {
                        const int w = oc_sgemm_panel_width(nr, nc, q);
                        const int n = (int)min64(w, nc - q * nr);
                        const oc_sgemm_tile_fn fn = direct_b ? j->kern->tile_d[m]
                                                    : direct_t ? j->kern->tile_t[w != nr][m]
                                                               : pick(j->kern, g, w != nr, m);
                        ep.bias = last && j->bias ? j->bias + jc + q * nr : NULL;
                        fn(kc[c], a, alda, panels[c] + (direct_b ? q * nr : q * nr * kc[c]),
                           j->C + r0 * j->ldc + jc + q * nr, j->ldc, n, &ep);
                    }
                }
            }
            pc = start[chunks - 1] + kc[chunks - 1];
        } while (pc < g->K);
    }
}

/*
 * The narrow AVX-512 kernel for this product, or NULL (sgemm_internal.h):
 * narrow_at for C = A^T B with N <= 16 (a classifier layer's dW), narrow_n
 * for C = A op(B) with N <= 16 and K <= 256 (its forward), short_k for K <=
 * 16 (its dX). All give the tile kernels' bits, so the choice
 * may depend on the thread count: they run on the calling thread, and
 * only products the tiles would also run on one thread are given to them.
 * Not for M <= 4, where the GEMV kernels sum differently. The seed model's
 * 64 -> 10 layer on Zen 4 (tiles, then these; the dX through the
 * zero-skipping entry point, W [64, 10]): batch 128 dW 4.2 -> 2.0 us, dX
 * 3.9 -> 2.7 us, forward 3.1 -> 2.35 us; batch 32 1.3 -> 0.7, 1.6 -> 0.8
 * and 1.2 -> 1.1 us; a 128 -> 10 and a 256 -> 10 forward at batch 128,
 * 5.7 -> 4.4 and 11.1 -> 8.3 us.
 */
static void (*narrow_kernel(const fast_job *j, int64_t M, int64_t N, int64_t K, int nthreads))(
    const oc_sgemm_narrow_job *)
{
    if (j->kern->isa != OC_ISA_AVX512 || M <= OC_SGEMM_SMALL_MAX || K <= 0 ||
        (nthreads > 1 && (double)M * (double)N * (double)K >= (double)PAR_MIN))
        return NULL;
    if (j->transA && !j->transB && N <= 16 && !j->bias && !j->relu) return oc_sgemm_narrow_at_avx512;
    if (!j->transA && N <= 16 && K <= OC_SGEMM_NARROW_N_MAX_K && !j->kcut) return oc_sgemm_narrow_n_avx512;
    if (!j->transA && K <= OC_SGEMM_SHORT_K_MAX && !j->kcut) return oc_sgemm_short_k_avx512;
    return NULL;
}

static void fast_go(fast_job *j, int64_t M, int64_t N, int64_t K, int nthreads)
{
    if (M <= 0 || N <= 0) return;
    j->kern = oc_sgemm_kernels_for(oc_cpu_isa());
    void (*narrow)(const oc_sgemm_narrow_job *) = narrow_kernel(j, M, N, K, nthreads);
    if (narrow) {
        const oc_sgemm_narrow_job nj = {.M = M, .N = N, .K = K, .kcut = j->kcut, .transB = j->transB,
                                        .alpha = j->alpha, .beta = j->beta, .A = j->A, .B = j->B, .lda = j->lda,
                                        .ldb = j->ldb, .C = j->C, .ldc = j->ldc, .bias = j->bias, .relu = j->relu};
        narrow(&nj);
        return;
    }
    plan_grid(&j->g, j->kern, M, N, K, nthreads);
    OC_PAR_FOR(j->g.parts, i, { fast_part(j, i); });
}

void oc_sgemm_fast(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                   int64_t ldc, int nthreads)
{
    fast_job j = {.transA = transA, .transB = transB, .alpha = alpha, .beta = beta, .A = A,
                  .B = B, .lda = lda, .ldb = ldb, .C = C, .ldc = ldc};
    fast_go(&j, M, N, K, nthreads);
}

void oc_sgemm_fast_cut(int transA, int transB, int64_t M, int64_t N, int64_t K, int64_t kcut,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                       int64_t ldc, int nthreads)
{
    fast_job j = {.transA = transA, .transB = transB, .alpha = 1.0f, .beta = beta, .A = A, .B = B,
                  .lda = lda, .ldb = ldb, .C = C, .ldc = ldc, .kcut = kcut > 0 && kcut < K ? kcut : 0};
    fast_go(&j, M, N, K, nthreads);
}

void oc_sgemm_fast_dense(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *B, int64_t ldb, const float *bias, oc_act act, float *C,
                         int64_t ldc, int nthreads)
{
    fast_job j = {.transB = transB, .alpha = 1.0f, .beta = 0.0f, .A = A, .B = B, .lda = lda,
                  .ldb = ldb, .C = C, .ldc = ldc, .bias = bias, .relu = act == OC_ACT_RELU};
    fast_go(&j, M, N, K, nthreads);
}
