/*
 * Transpose-1/13 (21: wider types): numpy.transpose. Output axis k is input
 * axis perm[k]; perm defaults to the reversed axes and must be a permutation
 * of 0..r-1.
 *
 * The kernel first simplifies the problem: size-1 axes are dropped (they do
 * not move any byte) and input axes that stay next to each other in the
 * output are merged, so e.g. [N,C,H,W] -> [N,H,W,C] becomes a batched 2-D
 * transpose [N, C, H*W] -> [N, H*W, C]. Then:
 *   - rank <= 1 after simplification: one memcpy;
 *   - batched 2-D ([B,R,C] -> [B,C,R]): cache-blocked tiles;
 *   - anything else: one output row at a time, each a strided gather (or a
 *     memcpy when the innermost axis did not move).
 * Elements are moved as 1/2/4/8-byte words (memcpy for other sizes), so
 * every fixed-size dtype works. Threads split output tiles/rows: each thread
 * writes its own part of the output.
 */
#include <string.h>

#include "../alloc.h"
#include "../attr.h"
#include "movement.h"

typedef struct transpose_params {
    int n_perm;                       /* 0: attribute absent (reverse) */
    int perm[OC_MAX_RANK];
} transpose_params;

static onnxc_status transpose_init(oc_node *n, onnxc_error *err)
{
    const int64_t *perm;
    size_t k;
    OC_TRY(oc_attr_ints(n, "perm", &perm, &k, err));
    if (k > OC_MAX_RANK)
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "attribute 'perm' has %zu entries: onnxc's maximum rank is %d", k,
                            OC_MAX_RANK);
    bool seen[OC_MAX_RANK] = {false};
    for (size_t i = 0; i < k; i++) {
        if (perm[i] < 0 || perm[i] >= (int64_t)k || seen[perm[i]])
            return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                                "attribute 'perm': expected a permutation of 0..%zu, got %lld "
                                "at position %zu",
                                k - 1, (long long)perm[i], i);
        seen[perm[i]] = true;
    }
    transpose_params *p = oc_calloc(1, sizeof *p);
    if (!p) return oc_node_fail(n, err, ONNXC_ERR_NOMEM, "out of memory for parameters");
    p->n_perm = (int)k;
    for (size_t i = 0; i < k; i++) p->perm[i] = (int)perm[i];
    n->params = p;
    return ONNXC_OK;
}

/* The permutation for an input of `rank`. */
static onnxc_status get_perm(const oc_node *n, int rank, int *perm, onnxc_error *err)
{
    const transpose_params *p = n->params;
    if (p->n_perm == 0) {
        for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
        return ONNXC_OK;
    }
    if (p->n_perm != rank)
        return oc_node_fail(n, err, ONNXC_ERR_SHAPE,
                            "attribute 'perm' has %d entries: expected one per input axis (%d)",
                            p->n_perm, rank);
    memcpy(perm, p->perm, (size_t)rank * sizeof *perm);
    return ONNXC_OK;
}

static onnxc_status transpose_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    const oc_tensor *x = ctx->in[0];
    int perm[OC_MAX_RANK];
    size_t es;
    OC_TRY(oc_mv_elem_size(ctx->node, "input 'data'", x->dtype, &es, ctx->err));
    OC_TRY(get_perm(ctx->node, x->shape.rank, perm, ctx->err));
    oc_tensor *y = ctx->out[0];
    y->dtype = x->dtype;
    y->shape.rank = x->shape.rank;
    for (int k = 0; k < x->shape.rank; k++) y->shape.dims[k] = x->shape.dims[perm[k]];
    *workspace_bytes = 0;
    return ONNXC_OK;
}

/*
 * Drop size-1 axes and merge input axes that stay adjacent in the output.
 * In: dims[rank], perm[rank]. Out: dims/perm of the same meaning, *rank
 * reduced; the tensor's bytes and the output order are unchanged.
 */
static void simplify(int64_t *dims, int *perm, int *rank)
{
    int r = *rank, compact[OC_MAX_RANK], nk = 0;
    int64_t kd[OC_MAX_RANK];
    for (int i = 0; i < r; i++) {
        compact[i] = dims[i] == 1 ? -1 : nk;
        if (dims[i] != 1) kd[nk++] = dims[i];
    }
    int op[OC_MAX_RANK], no = 0;
    for (int k = 0; k < r; k++)
        if (compact[perm[k]] >= 0) op[no++] = compact[perm[k]];
    /* Groups of output positions whose input axes are consecutive. */
    int g_start[OC_MAX_RANK], g_len[OC_MAX_RANK], ng = 0;
    for (int k = 0; k < no; k++) {
        if (ng > 0 && op[k] == g_start[ng - 1] + g_len[ng - 1]) {
            g_len[ng - 1]++;
        } else {
            g_start[ng] = op[k];
            g_len[ng] = 1;
            ng++;
        }
    }
    /* The new input axes are the groups ordered by their first input axis. */
    int rank_of[OC_MAX_RANK];
    for (int g = 0; g < ng; g++) {
        rank_of[g] = 0;
        for (int h = 0; h < ng; h++) rank_of[g] += g_start[h] < g_start[g];
    }
    for (int g = 0; g < ng; g++) {
        int64_t d = 1;
        for (int j = 0; j < g_len[g]; j++) d *= kd[g_start[g] + j];
        dims[rank_of[g]] = d;
        perm[g] = rank_of[g];
    }
    *rank = ng;
}

/* Copy n elements of `es` bytes from src (stride `stride` elements) to dst
 * (contiguous). A memcpy of constant size compiles to one load/store and,
 * unlike a typed pointer, is safe when an initializer's bytes are unaligned. */
static void gather_row(char *dst, const char *src, int64_t n, int64_t stride, size_t es)
{
#define GATHER_ROW(ES)                                                                 \
    for (int64_t i = 0; i < n; i++) memcpy(dst + i * (ES), src + i * stride * (ES), (ES))
    switch (es) {
    case 1: GATHER_ROW(1); break;
    case 2: GATHER_ROW(2); break;
    case 4: GATHER_ROW(4); break;
    case 8: GATHER_ROW(8); break;
    default: GATHER_ROW((int64_t)es); break;
    }
#undef GATHER_ROW
}

enum { TILE = 32 };

/* out[b, c0:c1, :] of in [B, R, C] -> out [B, C, R], one tile column at a time. */
static void tile_2d(char *out, const char *in, int64_t R, int64_t C, int64_t c0, int64_t c1,
                    size_t es)
{
    for (int64_t r0 = 0; r0 < R; r0 += TILE) {
        int64_t r1 = r0 + TILE < R ? r0 + TILE : R;
        for (int64_t c = c0; c < c1; c++)
            gather_row(out + (size_t)(c * R + r0) * es, in + (size_t)(r0 * C + c) * es, r1 - r0,
                       C, es);
    }
}

static onnxc_status transpose_run(oc_op_ctx *ctx)
{
    const oc_tensor *x = ctx->in[0];
    char *out = ctx->out[0]->data;
    const char *in = x->data;
    size_t es = oc_dtype_size(x->dtype);
    int64_t numel = oc_tensor_numel(x);
    if (numel <= 0) return ONNXC_OK;
    int rank = x->shape.rank, perm[OC_MAX_RANK];
    int64_t dims[OC_MAX_RANK];
    OC_TRY(get_perm(ctx->node, rank, perm, ctx->err));
    memcpy(dims, x->shape.dims, sizeof dims);
    simplify(dims, perm, &rank);
    if (rank <= 1) {
        oc_mv_copy(out, in, (size_t)numel * es, ctx->nthreads);
        return ONNXC_OK;
    }
    int nt = ctx->nthreads;
    bool big = (size_t)numel * es >= ((size_t)1 << 16);
    (void)nt, (void)big; /* unused without OpenMP */

    /* Batched 2-D: [B, R, C] -> [B, C, R]. */
    if ((rank == 2 && perm[0] == 1) || (rank == 3 && perm[0] == 0 && perm[1] == 2)) {
        int64_t B = rank == 3 ? dims[0] : 1, R = dims[rank - 2], C = dims[rank - 1];
        int64_t ctiles = (C + TILE - 1) / TILE;
#pragma omp parallel for num_threads(nt) schedule(static) if (big)
        for (int64_t t = 0; t < B * ctiles; t++) {
            int64_t b = t / ctiles, c0 = (t % ctiles) * TILE;
            int64_t c1 = c0 + TILE < C ? c0 + TILE : C;
            tile_2d(out + (size_t)(b * R * C) * es, in + (size_t)(b * R * C) * es, R, C, c0, c1,
                    es);
        }
        return ONNXC_OK;
    }

    /* General: output rows along the last output axis. */
    int64_t stride[OC_MAX_RANK], odims[OC_MAX_RANK];
    stride[rank - 1] = 1;
    for (int i = rank - 2; i >= 0; i--) stride[i] = stride[i + 1] * dims[i + 1];
    for (int k = 0; k < rank; k++) odims[k] = dims[perm[k]];
    int64_t len = odims[rank - 1], step = stride[perm[rank - 1]];
    int64_t rows = numel / len;
#pragma omp parallel for num_threads(nt) schedule(static) if (big)
    for (int64_t row = 0; row < rows; row++) {
        int64_t rem = row, off = 0;
        for (int k = rank - 2; k >= 0; k--) {
            off += (rem % odims[k]) * stride[perm[k]];
            rem /= odims[k];
        }
        char *dst = out + (size_t)(row * len) * es;
        const char *src = in + (size_t)off * es;
        if (step == 1)
            memcpy(dst, src, (size_t)len * es);
        else
            gather_row(dst, src, len, step, es);
    }
    return ONNXC_OK;
}

const oc_op_def oc_op_transpose = {
    .name = "Transpose",
    .domain = "",
    .versions = {1, 13, 21},
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .init = transpose_init,
    .infer = transpose_infer,
    .run = transpose_run,
};
