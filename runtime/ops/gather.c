/*
 * Gather-1/11/13: pick slices of `data` along `axis` (default 0, negative
 * counts from the back) at the positions in `indices` (int32 or int64, any
 * rank q). Output shape: data[:axis] + indices.shape + data[axis+1:], so
 *
 *   out[o, j, i] = data[o, indices[j], i]
 *
 * with o over the outer dims, j over all indices and i over the inner dims.
 * An index k in [-s, -1] means k + s (s = data.shape[axis]); anything
 * outside [-s, s-1] is a run-time error naming the index (ONNXC_ERR_RUNTIME).
 * Gather-1 only promised in-range indices; accepting negative ones there
 * too changes nothing for valid models.
 *
 * Each (o, j) pair copies one contiguous block of prod(data[axis+1:])
 * elements, as bytes, so every dtype works.
 *
 * Backward (float/double): dData += scatter-add of dY by indices, summed in
 * index order (see gather_backward).
 */
#include <string.h>

#include "../attr.h"
#include "../parallel.h"
#include "movement.h"

static onnxc_status gather_init(oc_node *n, onnxc_error *err)
{
    int64_t axis;
    return oc_attr_int(n, "axis", 0, &axis, err);
}

static onnxc_status gather_axis(const oc_op_ctx *ctx, int *axis)
{
    int64_t a;
    OC_TRY(oc_attr_int(ctx->node, "axis", 0, &a, ctx->err));
    return oc_axis(ctx->node, a, ctx->in[0]->shape.rank, "attribute 'axis'", axis, ctx->err);
}

static onnxc_status gather_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    const oc_node *n = ctx->node;
    const oc_tensor *data = ctx->in[0], *idx = ctx->in[1];
    size_t es;
    int axis;
    OC_TRY(oc_mv_elem_size(n, "input 'data'", data->dtype, &es, ctx->err));
    if (data->shape.rank < 1)
        return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE,
                            "input 'data' is a scalar: expected rank >= 1");
    if (idx->dtype != ONNXC_INT32 && idx->dtype != ONNXC_INT64)
        return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE,
                            "input 'indices': expected dtype int32 or int64, got %s",
                            oc_dtype_name(idx->dtype));
    OC_TRY(gather_axis(ctx, &axis));
    int rank = data->shape.rank - 1 + idx->shape.rank;
    if (rank > OC_MAX_RANK)
        return oc_node_fail(n, ctx->err, ONNXC_ERR_UNSUPPORTED,
                            "output rank %d exceeds onnxc's maximum rank %d", rank, OC_MAX_RANK);
    oc_shape out = {.rank = 0};
    for (int k = 0; k < axis; k++) out.dims[out.rank++] = data->shape.dims[k];
    for (int k = 0; k < idx->shape.rank; k++) out.dims[out.rank++] = idx->shape.dims[k];
    for (int k = axis + 1; k < data->shape.rank; k++) out.dims[out.rank++] = data->shape.dims[k];
    ctx->out[0]->dtype = data->dtype;
    ctx->out[0]->shape = out;
    *workspace_bytes = 0;
    return ONNXC_OK;
}

static inline int64_t index_at(const oc_tensor *idx, int64_t j)
{
    return idx->dtype == ONNXC_INT64 ? ((const int64_t *)idx->data)[j]
                                     : ((const int32_t *)idx->data)[j];
}

/* Every index in [-s, s-1] for s = data.shape[axis]. Checked before
 * writing anything, so a failure leaves no half-written output and the
 * reported index is the first bad one. */
static onnxc_status check_indices(const oc_op_ctx *ctx, int axis)
{
    const oc_tensor *idx = ctx->in[1];
    int64_t s = ctx->in[0]->shape.dims[axis], n_idx = oc_tensor_numel(idx);
    for (int64_t j = 0; j < n_idx; j++) {
        int64_t k = index_at(idx, j);
        if (k < -s || k >= s)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                                "index %lld (element %lld of input 'indices') out of range: "
                                "expected [%lld, %lld] for axis %d of size %lld",
                                (long long)k, (long long)j, (long long)-s, (long long)(s - 1),
                                axis, (long long)s);
    }
    return ONNXC_OK;
}

/* Copy one block. Word-sized blocks (1-D gathers of scalars) use a memcpy
 * of constant size, which compiles to one move and stays alignment-safe. */
static inline void copy_block(char *dst, const char *src, size_t bytes)
{
    switch (bytes) {
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, bytes);
    }
}

static onnxc_status gather_run(oc_op_ctx *ctx)
{
    const oc_tensor *data = ctx->in[0], *idx = ctx->in[1];
    int axis;
    OC_TRY(gather_axis(ctx, &axis));
    int64_t s = data->shape.dims[axis];
    int64_t n_idx = oc_tensor_numel(idx);
    OC_TRY(check_indices(ctx, axis));
    size_t es = oc_dtype_size(data->dtype);
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; k++) outer *= data->shape.dims[k];
    for (int k = axis + 1; k < data->shape.rank; k++) inner *= data->shape.dims[k];
    size_t block = (size_t)inner * es;
    int64_t total = outer * n_idx;
    if (total == 0 || block == 0) return ONNXC_OK;
    const char *src = data->data;
    char *dst = ctx->out[0]->data;
    /* Below 64 KiB one thread copies faster than a team starts. */
    int parts = (size_t)total * block >= ((size_t)1 << 16) ? ctx->nthreads : 1;
    if (parts > total) parts = (int)total;
    /* Chunk c writes output blocks [lo, hi) only. */
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(total, parts, c, &lo, &hi);
        for (int64_t t = lo; t < hi; t++) {
            int64_t o = t / n_idx, k = index_at(idx, t % n_idx);
            if (k < 0) k += s;
            copy_block(dst + (size_t)t * block, src + (size_t)(o * s + k) * block, block);
        }
    });
    return ONNXC_OK;
}

/*
 * Backward (float/double, data input only): scatter-add,
 *
 *   dData[o, k(j), i] += dY[o, j, i]    for every j, k(j) = indices[j] wrapped,
 *
 * where repeated indices send several dY blocks to one dData block. To keep
 * the sums independent of the thread count, threads never split j: a task
 * owns one outer index o and one range [i0, i1) of the inner elements, and
 * walks j in order, so every dData element receives its adds in index order
 * from a single thread. With few outer indices (axis 0: outer = 1, an
 * embedding table) the inner range is split instead.
 */
#define SCATTER_ADD(NAME, T)                                                                 \
    static void NAME(T *dx, const T *dy, const oc_tensor *idx, int64_t s, int64_t n_idx,     \
                     int64_t inner, int64_t o, int64_t i0, int64_t i1)                       \
    {                                                                                        \
        for (int64_t j = 0; j < n_idx; j++) {                                                \
            int64_t k = index_at(idx, j);                                                    \
            if (k < 0) k += s;                                                               \
            T *d = dx + (o * s + k) * inner;                                                 \
            const T *g = dy + (o * n_idx + j) * inner;                                       \
            for (int64_t i = i0; i < i1; i++) d[i] += g[i];                                  \
        }                                                                                    \
    }
SCATTER_ADD(scatter_add_f32, float)
SCATTER_ADD(scatter_add_f64, double)
#undef SCATTER_ADD

static onnxc_status gather_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                    oc_tensor *const *din)
{
    if (!dout[0] || !din[0]) return ONNXC_OK;
    const oc_tensor *data = ctx->in[0], *idx = ctx->in[1];
    oc_tensor *dx = din[0];
    const oc_tensor *dy = dout[0];
    OC_TRY(oc_mv_grad_dtypes(ctx->node, "input 'data'", dx, dy, ctx->err));
    int axis;
    OC_TRY(gather_axis(ctx, &axis));
    OC_TRY(check_indices(ctx, axis));
    int64_t s = data->shape.dims[axis], n_idx = oc_tensor_numel(idx);
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; k++) outer *= data->shape.dims[k];
    for (int k = axis + 1; k < data->shape.rank; k++) inner *= data->shape.dims[k];
    if (outer == 0 || inner == 0 || n_idx == 0) return ONNXC_OK;
    /* Tasks: outer x parts of the inner range, at least 64 elements a part. */
    int nt = ctx->nthreads, parts = 1;
    bool big = outer * n_idx * inner >= ((int64_t)1 << 15);
    if (big && nt > 1 && outer < nt) {
        int64_t want = (nt + outer - 1) / outer, most = inner / 64;
        parts = (int)(want < most ? want : most);
        if (parts < 1) parts = 1;
    }
    int64_t tasks = outer * parts;
    bool dbl = dx->dtype == ONNXC_DOUBLE;
    /* Each thread takes a contiguous range of tasks; task t = (o, c) adds
     * into rows o of dData, columns [i0, i1) only. */
    int chunks = big && tasks > 1 ? (int)(tasks < nt ? tasks : nt) : 1;
    OC_PAR_FOR(chunks, w, {
        int64_t t0, t1;
        oc_split_range(tasks, chunks, w, &t0, &t1);
        for (int64_t t = t0; t < t1; t++) {
            int64_t o = t / parts, c = t % parts, i0, i1;
            oc_split_range(inner, (int)parts, (int)c, &i0, &i1);
            if (dbl)
                scatter_add_f64(dx->data, dy->data, idx, s, n_idx, inner, o, i0, i1);
            else
                scatter_add_f32(dx->data, dy->data, idx, s, n_idx, inner, o, i0, i1);
        }
    });
    return ONNXC_OK;
}

const oc_op_def oc_op_gather = {
    .name = "Gather",
    .domain = "",
    .versions = {1, 11, 13},
    .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .init = gather_init,
    .infer = gather_infer,
    .run = gather_run,
    .grad_inputs = 1u, /* data only: indices have no gradient */
    .backward = gather_backward,
};
