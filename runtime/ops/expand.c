/*
 * Expand: broadcast `input` to `shape`, like input * ones(shape).
 *
 * Spec summary: versions 8, 13 (13 adds bfloat16). Input 1 `shape` is a 1-D
 * int64 tensor. The output shape is the multidirectional broadcast of the
 * input's shape with `shape`: dims align at the right and either side may
 * be 1, so the output can be larger than `shape` (shape [1] on a [3,4]
 * input gives [3,4]) and keeps the input's rank when `shape` is shorter.
 * Any element type with a fixed size is moved; values are not inspected.
 *
 * The output shape depends on the values of `shape`, so the def sets bit 1
 * of value_inputs and infer reads them.
 *
 * Backward (float, double): dInput = dY summed over the broadcast dims
 * (oc_bcast_reduce_add); `shape` is not differentiable.
 */
#include "elementwise.h"

#include <stdio.h>
#include <string.h>

static onnxc_status expand_infer(oc_op_ctx *ctx, size_t *ws)
{
    const oc_tensor *x = ctx->in[0], *s = ctx->in[1];
    *ws = 0;
    if (oc_dtype_size(x->dtype) == 0) return oc_ew_bad_dtype(ctx, 0, "any fixed-size type");
    char what[300], sb[128];
    snprintf(what, sizeof what, "input 1 '%s' (shape)", oc_ew_input_name(ctx->node, 1));
    OC_TRY(oc_check_dtype(ctx->node, what, s->dtype, ONNXC_INT64, ctx->err));
    if (s->shape.rank != 1)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "%s: expected a 1-D tensor, got shape %s", what,
                            oc_shape_str(&s->shape, sb, sizeof sb));
    if (!s->data)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_UNSUPPORTED,
                            "%s: the values are not known when planning", what);
    int64_t rank = s->shape.dims[0];
    if (rank > OC_MAX_RANK)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_UNSUPPORTED,
                            "%s has %lld dims; onnxc supports rank <= %d", what, (long long)rank,
                            OC_MAX_RANK);
    oc_shape want;
    memset(&want, 0, sizeof want);
    want.rank = (int)rank;
    const int64_t *v = s->data;
    for (int i = 0; i < want.rank; i++) {
        if (v[i] < 0)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                                "%s: dim %d is %lld, expected >= 0", what, i, (long long)v[i]);
        want.dims[i] = v[i];
    }
    OC_TRY(oc_broadcast_shape(ctx->node, &x->shape, &want, &ctx->out[0]->shape, ctx->err));
    ctx->out[0]->dtype = x->dtype;
    return ONNXC_OK;
}

/* n copies of the es-byte element at src into dst. */
static void fill(char *restrict dst, const char *restrict src, size_t es, int64_t n)
{
    switch (es) {
    case 1: memset(dst, src[0], (size_t)n); return;
    case 4: {
        uint32_t v;
        memcpy(&v, src, 4);
        for (int64_t i = 0; i < n; i++) memcpy(dst + 4 * i, &v, 4);
        return;
    }
    case 8: {
        uint64_t v;
        memcpy(&v, src, 8);
        for (int64_t i = 0; i < n; i++) memcpy(dst + 8 * i, &v, 8);
        return;
    }
    default:
        for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * es, src, es);
    }
}

static onnxc_status expand_run(oc_op_ctx *ctx)
{
    const oc_tensor *x = ctx->in[0];
    oc_tensor *y = ctx->out[0];
    oc_bcast bc;
    oc_bcast_init(&bc, &y->shape, 1, (const oc_shape *[]){&x->shape});
    size_t es = oc_dtype_size(x->dtype);
    const char *px = x->data;
    char *py = y->data;
    int parts = oc_ew_parts(bc.numel, ctx->nthreads);
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi, o, len;
        oc_split_range(bc.numel, parts, c, &lo, &hi);
        oc_bcast_iter it;
        oc_bcast_iter_begin(&it, &bc, lo, hi);
        /* Each segment is either a contiguous run of the input (copy) or
         * one input element repeated (fill). */
        while ((len = oc_bcast_iter_next(&it, &o)) > 0) {
            const char *src = px + (size_t)it.seg[0] * es;
            if (bc.inner[0])
                memcpy(py + (size_t)o * es, src, (size_t)len * es);
            else
                fill(py + (size_t)o * es, src, es, len);
        }
    });
    return ONNXC_OK;
}

static onnxc_status expand_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                    oc_tensor *const *din)
{
    if (!dout[0] || !din[0]) return ONNXC_OK;
    if (!oc_dtype_is_float(ctx->in[0]->dtype)) return oc_ew_bad_grad_dtype(ctx, 0);
    oc_bcast_reduce_add(din[0], dout[0], 1.0, ctx->nthreads);
    return ONNXC_OK;
}

const oc_op_def oc_op_expand = {
    .name = "Expand", .domain = "", .versions = {8, 13},
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .value_inputs = 1u << 1,
    .infer = expand_infer, .run = expand_run,
    .grad_inputs = 1u, .backward = expand_backward,
};
