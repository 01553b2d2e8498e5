/*
 * Packing op(B) into the micro-kernels' panel layout (sgemm_internal.h),
 * and the pre-packed weight blocks of sgemm.h.
 *
 * A pre-packed block is one 64-byte aligned allocation:
 *
 *     [0, 64)    oc_sgemm_pb header: magic, kernel family, nr, K, N
 *     [64, ...)  panels of op(B) [K, N] for that family's nr
 *
 * so the caller frees it with a single oc_aligned_free, and oc_sgemm_run
 * picks the kernels of the family the block was packed for.
 */
#include <assert.h>
#include <string.h>

#include "alloc.h"
#include "multiversion.h"
#include "sgemm.h"
#include "sgemm_internal.h"

#define PB_MAGIC 0x4f435042u /* "OCPB" */
#define PB_HEADER 64

struct oc_sgemm_pb {
    uint32_t magic;
    int32_t isa;       /* oc_isa of the panels */
    int32_t nr;        /* panel width */
    int32_t reserved;
    int64_t K, N;      /* op(B) is [K, N] */
    unsigned char pad[PB_HEADER - 32];
};
_Static_assert(sizeof(struct oc_sgemm_pb) == PB_HEADER, "packed header is one cache line");

const oc_sgemm_kernels *oc_sgemm_kernels_for(oc_isa isa)
{
    switch (isa) {
    case OC_ISA_AVX512:
        if (oc_sgemm_kernels_avx512.nr) return &oc_sgemm_kernels_avx512;
        break;
    case OC_ISA_AVX2:
        if (oc_sgemm_kernels_avx2.nr) return &oc_sgemm_kernels_avx2;
        break;
    default: break;
    }
    return &oc_sgemm_kernels_portable;
}

/* One panel row: cols floats. The usual widths (the panel widths 32, 16, 8
 * and their halves) get fixed-size copies that compile to a few vector
 * moves; a call to memcpy per row was over half of packing a [784, 64]
 * weight (4.1 us -> 1.7 us with AVX-512 moves, measured in isolation). */
static inline __attribute__((always_inline)) void copy_row(float *restrict d,
                                                           const float *restrict s, int cols)
{
    switch (cols) {
    case 32: memcpy(d, s, 32 * sizeof(float)); break;
    case 16: memcpy(d, s, 16 * sizeof(float)); break;
    case 8: memcpy(d, s, 8 * sizeof(float)); break;
    case 4: memcpy(d, s, 4 * sizeof(float)); break;
    default: memcpy(d, s, (size_t)cols * sizeof(float)); break;
    }
}

static inline __attribute__((always_inline)) void
oc_sgemm_pack_panels_body(int nr, int transB, const float *B, int64_t ldb, int64_t k0, int64_t kc,
                          int64_t j0, int64_t nc, float *dst)
{
    const int64_t panels = oc_sgemm_panel_count(nr, nc);
    if (!transB) {
        /* Rows of B are rows of the panels. Walk B row by row (one contiguous
         * read of nc floats, dealt out to every panel), not panel by panel:
         * the latter reads B with a stride of ldb floats, one cache line per
         * row per panel, which made packing a 150 MB model take seconds. */
        for (int64_t k = 0; k < kc; k++) {
            const float *src = B + (k0 + k) * ldb + j0;
            for (int64_t p = 0; p < panels; p++) {
                const int w = oc_sgemm_panel_width(nr, nc, p);
                const int64_t rem = nc - p * nr;
                const int cols = rem < w ? (int)rem : w;
                float *d = dst + p * nr * kc + k * w; /* row k of panel p [kc][w] */
                copy_row(d, src + p * nr, cols);
                for (int c = cols; c < w; c++) d[c] = 0.0f;
            }
        }
        return;
    }
    for (int64_t p = 0; p < panels; p++) {
        const int w = oc_sgemm_panel_width(nr, nc, p);
        const int64_t rem = nc - p * nr;
        const int cols = rem < w ? (int)rem : w;
        const int64_t j = j0 + p * nr; /* first column of op(B) in this panel */
        float *d = dst + p * nr * kc;  /* [kc][w] */
        /* op(B)[k][j] = B[j][k]: read rows of B (contiguous k), write panel
         * columns, in k blocks of 64 so the w written lines stay cached. */
        for (int64_t kb = 0; kb < kc; kb += 64) {
            const int64_t ke = kb + 64 < kc ? kb + 64 : kc;
            for (int c = 0; c < cols; c++) {
                const float *src = B + (j + c) * ldb + k0;
                for (int64_t k = kb; k < ke; k++) d[k * w + c] = src[k];
            }
            for (int c = cols; c < w; c++)
                for (int64_t k = kb; k < ke; k++) d[k * w + c] = 0.0f;
        }
    }
}

/* Packing only moves floats: every family gives the same bytes. */
OC_MULTIVERSION(oc_sgemm_pack_panels,
                (int nr, int transB, const float *B, int64_t ldb, int64_t k0, int64_t kc,
                 int64_t j0, int64_t nc, float *dst),
                (nr, transB, B, ldb, k0, kc, j0, nc, dst))

size_t oc_sgemm_packed_b_size(int64_t K, int64_t N)
{
    if (K < 0 || N < 1) return 0;
    const int nr = oc_sgemm_kernels_for(oc_cpu_isa())->nr;
    return PB_HEADER + (size_t)oc_sgemm_panels_floats(nr, K, N) * sizeof(float);
}

oc_sgemm_pb *oc_sgemm_pack_b_to(void *dst, int transB, int64_t K, int64_t N, const float *B,
                                int64_t ldb)
{
    const oc_sgemm_kernels *kern = oc_sgemm_kernels_for(oc_cpu_isa());
    oc_sgemm_pb *pb = dst;
    memset(pb, 0, sizeof *pb);
    pb->magic = PB_MAGIC;
    pb->isa = (int32_t)kern->isa;
    pb->nr = kern->nr;
    pb->K = K;
    pb->N = N;
    oc_sgemm_pack_panels(kern->nr, transB, B, ldb, 0, K, 0, N,
                         (float *)((unsigned char *)dst + PB_HEADER));
    return pb;
}

oc_sgemm_pb *oc_sgemm_packed_b(int transB, int64_t K, int64_t N, const float *B, int64_t ldb)
{
    size_t bytes = oc_sgemm_packed_b_size(K, N);
    if (bytes == 0) return NULL;
    void *mem = oc_aligned_alloc(bytes);
    if (!mem) return NULL;
    return oc_sgemm_pack_b_to(mem, transB, K, N, B, ldb);
}

void oc_sgemm_unpack_b(const oc_sgemm_pb *pb, int transB, float *B, int64_t ldb)
{
    assert(pb && pb->magic == PB_MAGIC && "oc_sgemm_unpack_b: not a packed block");
    const float *panels = (const float *)((const unsigned char *)pb + PB_HEADER);
    const int64_t K = pb->K, N = pb->N;
    for (int64_t p = 0; p < oc_sgemm_panel_count(pb->nr, N); p++) {
        const int w = oc_sgemm_panel_width(pb->nr, N, p);
        const int64_t rem = N - p * pb->nr;
        const int cols = rem < w ? (int)rem : w; /* the rest of the panel is zero padding */
        const float *src = panels + p * pb->nr * K; /* [K][w] */
        const int64_t j = p * pb->nr;
        for (int64_t k = 0; k < K; k++)
            for (int c = 0; c < cols; c++) {
                if (transB) B[(j + c) * ldb + k] = src[k * w + c];
                else B[k * ldb + j + c] = src[k * w + c];
            }
    }
}

int64_t oc_sgemm_pb_k(const oc_sgemm_pb *pb) { return pb->K; }
int64_t oc_sgemm_pb_n(const oc_sgemm_pb *pb) { return pb->N; }

/* For sgemm.c: the panels, family and width of a checked block. */
const float *oc_sgemm_pb_panels(const oc_sgemm_pb *pb, int64_t K, int64_t N, oc_isa *isa, int *nr)
{
    assert(pb && pb->magic == PB_MAGIC && "oc_sgemm_run: not a packed block");
    assert(pb->K == K && pb->N == N && "oc_sgemm_run: block packed for another K or N");
    (void)K;
    (void)N;
    *isa = (oc_isa)pb->isa;
    *nr = pb->nr;
    return (const float *)((const unsigned char *)pb + PB_HEADER);
}
