/*
 * Concat-1/4/11/13: join a variadic list of tensors along `axis`. All inputs
 * share dtype, rank and every dim except the one on `axis`.
 *   - Concat-1: axis optional, default 1; Concat-4: axis required;
 *   - from 11: axis may be negative, in [-r, r-1].
 *
 * With outer = prod(dims[0:axis]), every input is, in memory, `outer`
 * contiguous chunks of dims[axis:] elements; the output interleaves them:
 * for each outer index o, the chunk of input 0, then of input 1, ...
 * So run is a sequence of memcpy's of whole chunks, any dtype.
 *
 * Backward (float/double): each input's gradient gets its slice of dY added.
 */
#include <stdio.h>
#include <string.h>

#include "../attr.h"
#include "../parallel.h"
#include "movement.h"

static onnxc_status concat_init(oc_node *n, onnxc_error *err)
{
    int64_t axis;
    if (n->since >= 4) OC_TRY(oc_attr_require(n, "axis", err));
    OC_TRY(oc_attr_int(n, "axis", 1, &axis, err));
    if (axis < 0 && n->since < 11)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                            "attribute 'axis': expected >= 0 before opset 11, got %lld",
                            (long long)axis);
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] < 0)
            return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                                "input %d is empty: expected a tensor for every input", i);
    return ONNXC_OK;
}

static onnxc_status concat_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    const oc_node *n = ctx->node;
    const oc_tensor *x0 = ctx->in[0];
    int rank = x0->shape.rank, axis;
    int64_t a;
    size_t es;
    char b0[160], b1[160];
    OC_TRY(oc_mv_elem_size(n, "input 0", x0->dtype, &es, ctx->err));
    if (rank == 0)
        return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE,
                            "input 0 is a scalar: expected tensors of rank >= 1");
    OC_TRY(oc_attr_int(n, "axis", 1, &a, ctx->err));
    OC_TRY(oc_axis(n, a, rank, "attribute 'axis'", &axis, ctx->err));
    oc_shape out = x0->shape;
    for (int i = 1; i < ctx->n_in; i++) {
        const oc_tensor *x = ctx->in[i];
        if (x->dtype != x0->dtype)
            return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE,
                                "input %d: expected dtype %s (as input 0), got %s", i,
                                oc_dtype_name(x0->dtype), oc_dtype_name(x->dtype));
        bool fits = x->shape.rank == rank;
        for (int k = 0; fits && k < rank; k++)
            fits = k == axis || x->shape.dims[k] == x0->shape.dims[k];
        if (!fits)
            return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE,
                                "input %d: expected shape %s except on axis %d, got %s", i,
                                oc_shape_str(&x0->shape, b0, sizeof b0), axis,
                                oc_shape_str(&x->shape, b1, sizeof b1));
        if (__builtin_add_overflow(out.dims[axis], x->shape.dims[axis], &out.dims[axis]))
            return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE, "concatenated dim overflows");
    }
    ctx->out[0]->dtype = x0->dtype;
    ctx->out[0]->shape = out;
    *workspace_bytes = 0;
    return ONNXC_OK;
}

static onnxc_status concat_run(oc_op_ctx *ctx)
{
    const oc_tensor *x0 = ctx->in[0];
    oc_tensor *y = ctx->out[0];
    size_t es = oc_dtype_size(x0->dtype);
    int rank = x0->shape.rank, axis;
    int64_t a;
    OC_TRY(oc_attr_int(ctx->node, "axis", 1, &a, ctx->err));
    OC_TRY(oc_axis(ctx->node, a, rank, "attribute 'axis'", &axis, ctx->err));
    int64_t outer = 1, inner = 1; /* inner: elements per unit of the axis */
    for (int k = 0; k < axis; k++) outer *= y->shape.dims[k];
    for (int k = axis + 1; k < rank; k++) inner *= y->shape.dims[k];
    size_t out_chunk = (size_t)(y->shape.dims[axis] * inner) * es; /* bytes per outer index */
    if (outer == 0 || out_chunk == 0) return ONNXC_OK;
    if (outer == 1) { /* concatenating whole tensors: one (parallel) copy each */
        char *dst = y->data;
        for (int i = 0; i < ctx->n_in; i++) {
            size_t bytes = (size_t)(ctx->in[i]->shape.dims[axis] * inner) * es;
            oc_mv_copy(dst, ctx->in[i]->data, bytes, ctx->nthreads);
            dst += bytes;
        }
        return ONNXC_OK;
    }
    /* Below 64 KiB one thread copies faster than a team starts. */
    int parts = (size_t)outer * out_chunk >= ((size_t)1 << 16) ? ctx->nthreads : 1;
    if (parts > outer) parts = (int)outer;
    /* Each outer index writes its own output chunk: independent iterations. */
    OC_PAR_FOR(parts, c, {
        int64_t o0, o1;
        oc_split_range(outer, parts, c, &o0, &o1);
        for (int64_t o = o0; o < o1; o++) {
            char *dst = (char *)y->data + (size_t)o * out_chunk;
            for (int i = 0; i < ctx->n_in; i++) {
                const oc_tensor *x = ctx->in[i];
                size_t chunk = (size_t)(x->shape.dims[axis] * inner) * es;
                if (chunk) memcpy(dst, (const char *)x->data + (size_t)o * chunk, chunk);
                dst += chunk;
            }
        }
    });
    return ONNXC_OK;
}

/*
 * Backward (float/double): input i's gradient is its slice of dY. In the
 * same outer x chunk view as run, input i's chunk for outer index o sits at
 * dY[o * out_chunk + offset_i], where offset_i counts the chunks of the
 * inputs before it. Inputs are done one after another, so an input listed
 * twice (Concat(x, x)) gets both slices added into its one gradient buffer
 * without two threads ever writing the same element.
 */
static onnxc_status concat_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                    oc_tensor *const *din)
{
    const oc_tensor *dy = dout[0];
    if (!dy) return ONNXC_OK;
    int rank = dy->shape.rank, axis;
    int64_t a;
    OC_TRY(oc_attr_int(ctx->node, "axis", 1, &a, ctx->err));
    OC_TRY(oc_axis(ctx->node, a, rank, "attribute 'axis'", &axis, ctx->err));
    int64_t outer = 1, inner = 1; /* inner: elements per unit of the axis */
    for (int k = 0; k < axis; k++) outer *= dy->shape.dims[k];
    for (int k = axis + 1; k < rank; k++) inner *= dy->shape.dims[k];
    int64_t out_chunk = dy->shape.dims[axis] * inner; /* elements per outer index */
    size_t es = oc_dtype_size(dy->dtype);
    for (int i = 0; i < ctx->n_in; i++) { /* check all before adding any */
        if (!din[i]) continue;
        char what[32];
        snprintf(what, sizeof what, "input %d", i);
        OC_TRY(oc_mv_grad_dtypes(ctx->node, what, din[i], dy, ctx->err));
    }
    int64_t offset = 0; /* elements of dY's chunk before input i's part */
    for (int i = 0; i < ctx->n_in; i++) {
        int64_t chunk = ctx->in[i]->shape.dims[axis] * inner;
        if (din[i]) {
            /* [outer, chunk] += dY[outer, offset : offset + chunk] */
            oc_mv_add_blocks(din[i]->data, chunk, (const char *)dy->data + (size_t)offset * es,
                             out_chunk, outer, chunk, dy->dtype, ctx->nthreads);
        }
        offset += chunk;
    }
    return ONNXC_OK;
}

const oc_op_def oc_op_concat = {
    .name = "Concat",
    .domain = "",
    .versions = {1, 4, 11, 13},
    .min_inputs = 1, .max_inputs = -1,
    .min_outputs = 1, .max_outputs = 1,
    .init = concat_init,
    .infer = concat_infer,
    .run = concat_run,
    .grad_inputs = UINT32_MAX, /* every input (the first 32 of a longer list) */
    .backward = concat_backward,
};
