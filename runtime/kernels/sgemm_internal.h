/*
 * Between the GEMM driver (sgemm.c, sgemm_pack.c) and the per-ISA
 * micro-kernels (sgemm_avx512.c, sgemm_avx2.c, sgemm_portable.c).
 *
 * Panel layout. op(B) [K, N] is cut into column panels of `nr` columns
 * (nr = 32 for AVX-512, 16 for AVX2, 8 portable); the last panel is nr/2
 * wide when at most nr/2 columns remain (so a 10-wide output layer reads
 * 16-float rows, not 32). Panel p holds its K rows one after the other,
 * each `w` floats (w = its width), columns past N zero:
 *
 *     panel p at float offset p*nr*K:   [K][w]   (w = nr or nr/2)
 *
 * Every panel starts 64-byte aligned when the block does (nr*4 bytes is a
 * multiple of 64 for nr >= 16; the portable kernels use unaligned access).
 *
 * A micro-kernel computes one tile of C: `mr` rows by one panel, with the
 * whole K range (or one K chunk) summed in registers, then applies the
 * epilogue on the way out:
 *
 *     acc[r][j] = (init_c ? C[r][j] : 0), then acc += A[r][k] * P[k][j] for
 *                 k = 0..K-1 in order, one FMA each
 *     C[r][j] = relu?( alpha*acc[r][j] + beta*C[r][j] + bias[j] ),  j < n
 *
 * (beta == 0: C is not read there; bias NULL: none). With init_c, alpha 1
 * and beta 0, a K range can be summed in several calls whose chunks follow
 * each other and the result is bit-identical to one call. A row r is
 * A + r*lda, its k-th value A[r*lda + k]. Columns n..w-1 of the tile are
 * computed and dropped.
 */
#ifndef OC_SGEMM_INTERNAL_H
#define OC_SGEMM_INTERNAL_H

#include <stdint.h>

#include "cpu_features.h"

#define OC_SGEMM_MR_MAX 12    /* largest tile height of any family */
#define OC_SGEMM_SMALL_MAX 4  /* M handled by the GEMV kernels */

typedef struct oc_sgemm_epi {
    float alpha, beta;
    const float *bias;        /* [n] for this tile's columns, or NULL */
    int relu;
    int init_c;               /* accumulators start from C (else 0) */
    int64_t ldp;              /* tile_d kernels: row stride of P in floats */
} oc_sgemm_epi;

/* One tile: C[mr, n] (row stride ldc) from A[mr, K] (row stride lda) and a
 * panel P [K][w]. */
typedef void (*oc_sgemm_tile_fn)(int64_t K, const float *A, int64_t lda, const float *P, float *C,
                                 int64_t ldc, int n, const oc_sgemm_epi *ep);

typedef struct oc_sgemm_kernels {
    oc_isa isa;
    int nr;                   /* panel width */
    int mr;                   /* tallest tile */
    /* tile[h][m]: m rows (1..mr) on a full (h = 0) or half (h = 1) panel. */
    oc_sgemm_tile_fn tile[2][OC_SGEMM_MR_MAX + 1];
    /* tile_t[h][m]: the same with A stored transposed, A[r][k] at A[k*lda + r]
     * (oc_sgemm_fast with transA); all NULL: the driver transposes A tiles
     * into a buffer first. */
    oc_sgemm_tile_fn tile_t[2][OC_SGEMM_MR_MAX + 1];
    /* tile_d[m]: the full-panel tile reading its panel straight from a
     * row-major B (op(B) = B): row k of the panel at P + k*ep->ldp, any
     * alignment. The same arithmetic as tile[0][m] on a packed copy: the
     * driver skips packing B. All NULL: B is always packed. */
    oc_sgemm_tile_fn tile_d[OC_SGEMM_MR_MAX + 1];
    /* small[h][m]: GEMV kernels for a whole product of M = m <= 4 rows, with
     * interleaved partial sums; NULL: use tile[h][m]. */
    oc_sgemm_tile_fn small[2][OC_SGEMM_SMALL_MAX + 1];
} oc_sgemm_kernels;

/* The K chunk of oc_sgemm_fast: each chunk's products are summed from zero
 * and then added to C (sgemm.c). */
#define OC_SGEMM_FAST_KC 256

/* End of the K chunk that starts at pc: OC_SGEMM_FAST_KC on, but no further
 * than K, nor past a cut kcut (0: none) that lies after pc. Every kernel
 * that must give oc_sgemm_fast's bits (the tiles, the narrow and the
 * zero-skipping ones) cuts its sums here. */
static inline int64_t oc_sgemm_fast_chunk_end(int64_t pc, int64_t K, int64_t kcut)
{
    const int64_t end = pc + OC_SGEMM_FAST_KC < K ? pc + OC_SGEMM_FAST_KC : K;
    return kcut > pc && kcut < end ? kcut : end;
}

/*
 * A whole oc_sgemm_fast product for the narrow AVX-512 kernels
 * (sgemm_narrow_avx512.c), which give the tile kernels' results bit for
 * bit where they apply (sgemm.c narrow_kernel says where):
 *
 *     narrow_at: C [M, N] = alpha A^T B + beta C, A [K, M], B [K, N],
 *                N <= 16, K chunks ending at kcut too; no bias, no act
 *     short_k:   C [M, N] = act(alpha A op(B) + beta C + bias), A [M, K],
 *                K <= OC_SGEMM_SHORT_K_MAX, one chunk
 *     narrow_n:  the same with N <= 16 and K <= OC_SGEMM_NARROW_N_MAX_K
 */
#define OC_SGEMM_SHORT_K_MAX 16
#define OC_SGEMM_NARROW_N_MAX_K OC_SGEMM_FAST_KC /* one K chunk */
typedef struct oc_sgemm_narrow_job {
    int64_t M, N, K, kcut;
    int transB;
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb;
    float *C;
    int64_t ldc;
    const float *bias;        /* [N] or NULL */
    int relu;
} oc_sgemm_narrow_job;

/* NULL when the build has no AVX-512 kernels. */
extern void (*const oc_sgemm_narrow_at_avx512)(const oc_sgemm_narrow_job *j);
extern void (*const oc_sgemm_short_k_avx512)(const oc_sgemm_narrow_job *j);
extern void (*const oc_sgemm_narrow_n_avx512)(const oc_sgemm_narrow_job *j);

/* Each is defined in its own file; a family the build could not compile has
 * a table with nr == 0, which oc_cpu_isa never selects. */
extern const oc_sgemm_kernels oc_sgemm_kernels_avx512;
extern const oc_sgemm_kernels oc_sgemm_kernels_avx2;
extern const oc_sgemm_kernels oc_sgemm_kernels_portable;

const oc_sgemm_kernels *oc_sgemm_kernels_for(oc_isa isa);

/* Width of panel p of an N-column matrix with panel size nr. */
static inline int oc_sgemm_panel_width(int nr, int64_t N, int64_t p)
{
    int64_t rem = N - p * nr;
    return rem > nr / 2 ? nr : nr / 2;
}

/* Panels covering N columns, and floats they take for K rows. */
static inline int64_t oc_sgemm_panel_count(int nr, int64_t N) { return (N + nr - 1) / nr; }
static inline int64_t oc_sgemm_panels_floats(int nr, int64_t K, int64_t N)
{
    int64_t p = oc_sgemm_panel_count(nr, N);
    return p == 0 ? 0 : ((p - 1) * nr + oc_sgemm_panel_width(nr, N, p - 1)) * K;
}

/*
 * Pack rows [k0, k0+kc) and columns [j0, j0+nc) of op(B) into panels at
 * `dst` (layout above, with K = kc, N = nc). transB: B is [N, K] (ldb >= K),
 * else [K, N] (ldb >= N).
 */
void oc_sgemm_pack_panels(int nr, int transB, const float *B, int64_t ldb, int64_t k0, int64_t kc,
                          int64_t j0, int64_t nc, float *dst);

/* The panels of a pre-packed block (sgemm_pack.c), after asserting that it
 * is one and was packed for [K, N]; its family and panel width go to *isa
 * and *nr. */
typedef struct oc_sgemm_pb oc_sgemm_pb;
const float *oc_sgemm_pb_panels(const oc_sgemm_pb *pb, int64_t K, int64_t N, oc_isa *isa, int *nr);

#endif
