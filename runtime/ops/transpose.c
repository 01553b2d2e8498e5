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
 *
 * Backward (float/double): dX += transpose(dY, inverse perm).
 */
#include <string.h>

#include "../alloc.h"
#include "../attr.h"
#include "../parallel.h"
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

/*
 * Batched 2-D tiles of TILE x TILE elements: the output is written one
 * contiguous row segment at a time while the TILE input rows it reads from
 * usually stay in L1 for the whole tile, so an input line is fetched about
 * once per tile instead of once per element. (Power-of-two widths can still
 * cause cache-set conflicts; a variant copying each input tile into a stack
 * buffer first was measured and gave no clear gain on these machines.)
 */
enum { TILE = 32 };

/* out[c0:c1, :] of in [R, C] -> out [C, R]: one column strip of tiles. */
static void tile_strip(char *out, const char *in, int64_t R, int64_t C, int64_t c0, int64_t c1,
                       size_t es)
{
    for (int64_t r0 = 0; r0 < R; r0 += TILE) {
        int64_t r1 = r0 + TILE < R ? r0 + TILE : R;
        for (int64_t c = c0; c < c1; c++)
            gather_row(out + (size_t)(c * R + r0) * es, in + (size_t)(r0 * C + c) * es, r1 - r0,
                       C, es);
    }
}

/*
 * out = transpose(in, perm) for a tensor of `shape` with `es`-byte elements.
 * out and in must not overlap. Threads write disjoint output parts.
 */
static void transpose_bytes(char *out, const char *in, const oc_shape *shape, const int *perm_in,
                            size_t es, int nt)
{
    int64_t numel = oc_shape_numel(shape);
    if (numel <= 0) return;
    int rank = shape->rank, perm[OC_MAX_RANK];
    int64_t dims[OC_MAX_RANK];
    memcpy(dims, shape->dims, sizeof dims);
    memcpy(perm, perm_in, (size_t)rank * sizeof *perm);
    simplify(dims, perm, &rank);
    if (rank <= 1) {
        oc_mv_copy(out, in, (size_t)numel * es, nt);
        return;
    }
    /* Below 64 KiB one thread moves the bytes faster than a team starts. */
    const int parts = (size_t)numel * es >= ((size_t)1 << 16) && nt > 1 ? nt : 1;

    /* Batched 2-D: [B, R, C] -> [B, C, R]. */
    if ((rank == 2 && perm[0] == 1) || (rank == 3 && perm[0] == 0 && perm[1] == 2)) {
        int64_t B = rank == 3 ? dims[0] : 1, R = dims[rank - 2], C = dims[rank - 1];
        int64_t T = TILE, strips = (C + T - 1) / T;
        /* Strip t writes output rows [c0, c1) of one batch only. */
        OC_PAR_FOR(parts, w, {
            int64_t t0, t1;
            oc_split_range(B * strips, parts, w, &t0, &t1);
            for (int64_t t = t0; t < t1; t++) {
                int64_t b = t / strips, c0 = (t % strips) * T;
                int64_t c1 = c0 + T < C ? c0 + T : C;
                tile_strip(out + (size_t)(b * R * C) * es, in + (size_t)(b * R * C) * es, R, C,
                           c0, c1, es);
            }
        });
        return;
    }

    /* General: output rows along the last output axis. */
    int64_t stride[OC_MAX_RANK], odims[OC_MAX_RANK];
    stride[rank - 1] = 1;
    for (int i = rank - 2; i >= 0; i--) stride[i] = stride[i + 1] * dims[i + 1];
    for (int k = 0; k < rank; k++) odims[k] = dims[perm[k]];
    int64_t len = odims[rank - 1], step = stride[perm[rank - 1]];
    int64_t rows = numel / len;
    OC_PAR_FOR(parts, w, {
        int64_t row0, row1;
        oc_split_range(rows, parts, w, &row0, &row1);
        for (int64_t row = row0; row < row1; row++) {
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
    });
}

static onnxc_status transpose_run(oc_op_ctx *ctx)
{
    const oc_tensor *x = ctx->in[0];
    int perm[OC_MAX_RANK];
    OC_TRY(get_perm(ctx->node, x->shape.rank, perm, ctx->err));
    transpose_bytes(ctx->out[0]->data, x->data, &x->shape, perm, oc_dtype_size(x->dtype),
                    ctx->nthreads);
    return ONNXC_OK;
}

/* ---- Backward ------------------------------------------------------------
 * Y = transpose(X, perm) sets Y[j] = X[i] with j[k] = i[perm[k]], so
 * dX = transpose(dY, inv) with inv[perm[k]] = k. Backward must add, so
 * dY is transposed into the workspace by the forward kernel (the tiled
 * paths stay in one place) and then added into dX; when the permutation
 * moves no element (only size-1 axes move) dY is added directly.
 */

/* Does perm move no element of a tensor with dims (size-1 axes aside)? */
static bool moves_nothing(const int64_t *dims_in, const int *perm_in, int rank)
{
    int64_t dims[OC_MAX_RANK];
    int perm[OC_MAX_RANK];
    memcpy(dims, dims_in, (size_t)rank * sizeof *dims);
    memcpy(perm, perm_in, (size_t)rank * sizeof *perm);
    simplify(dims, perm, &rank);
    return rank <= 1;
}

/* Workspace for backward: [numel of the input] elements, none when the
 * permutation moves nothing. infer has validated perm against the rank. */
static size_t transpose_backward_workspace(const oc_op_ctx *ctx)
{
    const oc_tensor *x = ctx->in[0];
    int perm[OC_MAX_RANK];
    size_t bytes = 0;
    if (get_perm(ctx->node, x->shape.rank, perm, NULL) != ONNXC_OK ||
        moves_nothing(x->shape.dims, perm, x->shape.rank) ||
        !oc_shape_bytes(&x->shape, x->dtype, &bytes))
        return 0;
    return bytes;
}

static onnxc_status transpose_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                       oc_tensor *const *din)
{
    if (!dout[0] || !din[0]) return ONNXC_OK;
    const oc_node *n = ctx->node;
    oc_tensor *dx = din[0];
    const oc_tensor *dy = dout[0];
    OC_TRY(oc_mv_grad_dtypes(n, "input 'data'", dx, dy, ctx->err));
    int rank = dx->shape.rank, perm[OC_MAX_RANK], inv[OC_MAX_RANK];
    OC_TRY(get_perm(n, rank, perm, ctx->err));
    for (int k = 0; k < rank; k++) inv[perm[k]] = k;
    int64_t numel = oc_tensor_numel(dx);
    if (numel <= 0) return ONNXC_OK;
    if (moves_nothing(dy->shape.dims, inv, rank)) {
        oc_mv_add_blocks(dx->data, numel, dy->data, numel, 1, numel, dx->dtype, ctx->nthreads);
        return ONNXC_OK;
    }
    size_t es = oc_dtype_size(dx->dtype), need = (size_t)numel * es;
    if (ctx->workspace_bytes < need || !ctx->workspace)
        return oc_node_fail(n, ctx->err, ONNXC_ERR_RUNTIME,
                            "backward workspace: expected %zu bytes, got %zu", need,
                            ctx->workspace_bytes);
    /* [dx dims] dY transposed back into X's layout. */
    char *t = ctx->workspace;
    transpose_bytes(t, dy->data, &dy->shape, inv, es, ctx->nthreads);
    oc_mv_add_blocks(dx->data, numel, t, numel, 1, numel, dx->dtype, ctx->nthreads);
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
    .grad_inputs = 1u,
    .backward = transpose_backward,
    .backward_workspace = transpose_backward_workspace,
};
