/*
 * Ops that change only the shape of a tensor, never its bytes: Reshape,
 * Flatten, Squeeze, Unsqueeze and Identity. infer computes the new shape;
 * run copies the input's bytes to the output unchanged (nothing at all when
 * the plan aliases the two buffers), so every fixed-size dtype works.
 *
 *   Reshape-5/13/14 (data, shape:int64[k]): numpy.reshape. A 0 in `shape`
 *     copies the input dim at the same position, unless allowzero=1 (14+)
 *     where 0 means a zero-sized dim; at most one -1, inferred from the
 *     element count. Reshape-1 (shape as an attribute) is not supported.
 *   Flatten-1/9/11/13 (axis=1): output [d0*...*d(axis-1), d(axis)*...*dn];
 *     axis in [0, r] before opset 11, [-r, r] from 11.
 *   Squeeze-1/11/13: remove the listed size-1 axes (all size-1 axes when
 *     none are given); axes is an attribute before 13 (non-negative before
 *     11), an optional int64 input from 13. Squeezing a dim != 1 is an error.
 *   Unsqueeze-1/11/13: insert size-1 dims at the listed positions of the
 *     output (rank r + k); attribute before 13, required input from 13;
 *     duplicates are an error.
 *   Identity-1/13/14/16: a copy (tensors only; sequences/optionals are not
 *     supported by onnxc).
 * Versions 19 and 21 only widened the type lists (float8, int4).
 *
 * Backward (float/double): dX += dY in the same element order, for the data
 * input only.
 */
#include <stdio.h>
#include <string.h>

#include "../attr.h"
#include "movement.h"

/* Every op here: output 0 gets input 0's bytes. */
static onnxc_status copy_run(oc_op_ctx *ctx)
{
    const oc_tensor *x = ctx->in[0];
    oc_tensor *y = ctx->out[0];
    size_t bytes = 0;
    if (!oc_shape_bytes(&x->shape, x->dtype, &bytes))
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE, "input size overflows");
    oc_mv_copy(y->data, x->data, bytes, ctx->nthreads);
    return ONNXC_OK;
}

/*
 * Backward of every op here: the output holds the input's elements in the
 * same order, so dX += dY element by element (only input 0, the data, has a
 * gradient; shape and axes inputs have none).
 */
static onnxc_status copy_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                  oc_tensor *const *din)
{
    if (!dout[0] || !din[0]) return ONNXC_OK;
    OC_TRY(oc_mv_grad_dtypes(ctx->node, "input 'data'", din[0], dout[0], ctx->err));
    int64_t n = oc_tensor_numel(din[0]);
    if (oc_tensor_numel(dout[0]) != n)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "backward: expected %lld gradient elements for the output (as the "
                            "input), got %lld",
                            (long long)n, (long long)oc_tensor_numel(dout[0]));
    oc_mv_add_blocks(din[0]->data, n, dout[0]->data, n, 1, n, din[0]->dtype, ctx->nthreads);
    return ONNXC_OK;
}

static onnxc_status set_output(oc_op_ctx *ctx, const oc_shape *shape, size_t *workspace_bytes)
{
    size_t es;
    OC_TRY(oc_mv_elem_size(ctx->node, "input 'data'", ctx->in[0]->dtype, &es, ctx->err));
    ctx->out[0]->dtype = ctx->in[0]->dtype;
    ctx->out[0]->shape = *shape;
    *workspace_bytes = 0;
    return ONNXC_OK;
}

/* A node whose schema version lacks an input it was given. */
static onnxc_status check_max_inputs(const oc_node *n, int max, const char *why, onnxc_error *err)
{
    if (n->n_in > max)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL, "expected at most %d input(s) at %s-%d, got %d (%s)",
                            max, n->op_type, n->since, n->n_in, why);
    return ONNXC_OK;
}

/* ---- Reshape ------------------------------------------------------------ */

static onnxc_status reshape_init(oc_node *n, onnxc_error *err)
{
    int64_t allowzero = 0;
    if (n->since < 14)
        OC_TRY(oc_attr_absent(n, "allowzero", "it exists from opset 14 on", err));
    OC_TRY(oc_attr_int(n, "allowzero", 0, &allowzero, err));
    if (allowzero != 0 && allowzero != 1)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL, "attribute 'allowzero': expected 0 or 1, got %lld",
                            (long long)allowzero);
    return ONNXC_OK;
}

static onnxc_status reshape_fail(const oc_node *n, onnxc_error *err, const oc_shape *in,
                                 const int64_t *req, int count, const char *why)
{
    char a[160], b[160];
    return oc_node_fail(n, err, ONNXC_ERR_SHAPE,
                        "cannot reshape input of shape %s to requested shape %s: %s",
                        oc_shape_str(in, a, sizeof a), oc_mv_list_str(req, count, b, sizeof b), why);
}

static onnxc_status reshape_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    const oc_node *n = ctx->node;
    const oc_shape *in = &ctx->in[0]->shape;
    int64_t allowzero = 0, req[OC_MAX_RANK];
    int count = 0;
    char why[200];
    OC_TRY(oc_attr_int(n, "allowzero", 0, &allowzero, ctx->err));
    OC_TRY(oc_mv_read_i64(n, "input 'shape'", ctx->in[1], false, req, OC_MAX_RANK, &count,
                          ctx->err));
    oc_shape out = {.rank = count};
    int infer_at = -1;
    int64_t known = 1; /* product of the dims that are not -1 */
    for (int i = 0; i < count; i++) {
        int64_t v = req[i];
        if (v == -1) {
            if (infer_at >= 0) {
                snprintf(why, sizeof why, "expected at most one -1, got two (positions %d and %d)",
                         infer_at, i);
                return reshape_fail(n, ctx->err, in, req, count, why);
            }
            infer_at = i;
            continue;
        }
        if (v < -1) {
            snprintf(why, sizeof why, "expected dims >= -1, got %lld at position %d",
                     (long long)v, i);
            return reshape_fail(n, ctx->err, in, req, count, why);
        }
        if (v == 0 && !allowzero) {
            if (i >= in->rank) {
                snprintf(why, sizeof why,
                         "0 at position %d copies input dim %d, but the input has rank %d", i, i,
                         in->rank);
                return reshape_fail(n, ctx->err, in, req, count, why);
            }
            v = in->dims[i];
        }
        out.dims[i] = v;
        if (__builtin_mul_overflow(known, v, &known))
            return reshape_fail(n, ctx->err, in, req, count, "element count overflows");
    }
    int64_t numel = oc_shape_numel(in);
    if (infer_at >= 0) {
        if (known == 0) {
            snprintf(why, sizeof why,
                     "the -1 cannot be inferred because the other dims multiply to 0");
            return reshape_fail(n, ctx->err, in, req, count, why);
        }
        if (numel % known != 0) {
            snprintf(why, sizeof why,
                     "expected the input's %lld elements to be a multiple of %lld "
                     "(the product of the other dims)",
                     (long long)numel, (long long)known);
            return reshape_fail(n, ctx->err, in, req, count, why);
        }
        out.dims[infer_at] = numel / known;
    } else if (known != numel) {
        snprintf(why, sizeof why, "expected %lld elements, got %lld", (long long)numel,
                 (long long)known);
        return reshape_fail(n, ctx->err, in, req, count, why);
    }
    return set_output(ctx, &out, workspace_bytes);
}

const oc_op_def oc_op_reshape = {
    .name = "Reshape",
    .domain = "",
    .versions = {5, 13, 14, 19, 21},
    .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .value_inputs = 1u << 1,
    .init = reshape_init,
    .infer = reshape_infer,
    .run = copy_run,
    .grad_inputs = 1u, .backward = copy_backward,
};

/* ---- Flatten ------------------------------------------------------------ */

static onnxc_status flatten_init(oc_node *n, onnxc_error *err)
{
    int64_t axis;
    OC_TRY(oc_attr_int(n, "axis", 1, &axis, err));
    if (axis < 0 && n->since < 11)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                            "attribute 'axis': expected >= 0 before opset 11, got %lld",
                            (long long)axis);
    return ONNXC_OK;
}

static onnxc_status flatten_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    const oc_node *n = ctx->node;
    const oc_shape *in = &ctx->in[0]->shape;
    int64_t axis;
    OC_TRY(oc_attr_int(n, "axis", 1, &axis, ctx->err));
    /* The axis may equal the rank (everything goes to the outer dim). */
    if (axis < -(int64_t)in->rank || axis > in->rank)
        return oc_node_fail(n, ctx->err, ONNXC_ERR_MODEL,
                            "attribute 'axis' %lld out of range: expected [%d, %d] for rank %d",
                            (long long)axis, n->since < 11 ? 0 : -in->rank, in->rank, in->rank);
    int a = (int)(axis < 0 ? axis + in->rank : axis);
    oc_shape out = {.rank = 2, .dims = {1, 1}};
    for (int i = 0; i < in->rank; i++) {
        int64_t *d = &out.dims[i < a ? 0 : 1];
        if (__builtin_mul_overflow(*d, in->dims[i], d))
            return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE, "flattened dim overflows");
    }
    return set_output(ctx, &out, workspace_bytes);
}

const oc_op_def oc_op_flatten = {
    .name = "Flatten",
    .domain = "",
    .versions = {1, 9, 11, 13, 21},
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .init = flatten_init,
    .infer = flatten_infer,
    .run = copy_run,
    .grad_inputs = 1u, .backward = copy_backward,
};

/* ---- Squeeze / Unsqueeze ------------------------------------------------ */

/* axes from the attribute (before 13) or input 1 (13+). *given is false when
 * there are none at all (an empty list is "given": it squeezes nothing, as in
 * ONNX's own shape inference). */
static onnxc_status get_axes(oc_op_ctx *ctx, int64_t *axes, int *count, bool *given,
                             const char **what)
{
    const oc_node *n = ctx->node;
    *count = 0;
    *given = false;
    if (n->since < 13) {
        const int64_t *vals;
        size_t k;
        *what = "attribute 'axes'";
        OC_TRY(oc_attr_ints(n, "axes", &vals, &k, ctx->err));
        if (!oc_attr_find(n, "axes")) return ONNXC_OK;
        if (k > 2 * OC_MAX_RANK)
            return oc_node_fail(n, ctx->err, ONNXC_ERR_UNSUPPORTED,
                                "attribute 'axes': expected at most %d values, got %zu",
                                2 * OC_MAX_RANK, k);
        if (k) memcpy(axes, vals, k * sizeof *vals); /* an empty list has no storage (NULL) */
        *count = (int)k;
        *given = true;
        return ONNXC_OK;
    }
    *what = "input 'axes'";
    if (ctx->n_in < 2 || !ctx->in[1]) return ONNXC_OK;
    *given = true;
    return oc_mv_read_i64(n, *what, ctx->in[1], false, axes, OC_MAX_RANK, count, ctx->err);
}

static onnxc_status squeeze_init(oc_node *n, onnxc_error *err)
{
    if (n->since >= 13)
        return oc_attr_absent(n, "axes", "from opset 13 axes is input 1", err);
    return check_max_inputs(n, 1, "axes is an attribute before opset 13", err);
}

static onnxc_status squeeze_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    const oc_node *n = ctx->node;
    const oc_shape *in = &ctx->in[0]->shape;
    int64_t axes[2 * OC_MAX_RANK];
    int count, norm[2 * OC_MAX_RANK];
    bool given;
    const char *what;
    char buf[160];
    OC_TRY(get_axes(ctx, axes, &count, &given, &what));
    bool drop[OC_MAX_RANK] = {false};
    if (!given) {
        for (int i = 0; i < in->rank; i++) drop[i] = in->dims[i] == 1;
    } else {
        if (count > in->rank)
            return oc_node_fail(n, ctx->err, ONNXC_ERR_MODEL,
                                "%s: expected at most %d axes for input shape %s, got %d", what,
                                in->rank, oc_shape_str(in, buf, sizeof buf), count);
        OC_TRY(oc_mv_axes(n, what, axes, count, in->rank, n->since >= 11, norm, ctx->err));
        for (int i = 0; i < count; i++) {
            if (in->dims[norm[i]] != 1)
                return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE,
                                    "cannot squeeze axis %d of input shape %s: expected size 1, "
                                    "got %lld",
                                    norm[i], oc_shape_str(in, buf, sizeof buf),
                                    (long long)in->dims[norm[i]]);
            drop[norm[i]] = true;
        }
    }
    oc_shape out = {.rank = 0};
    for (int i = 0; i < in->rank; i++)
        if (!drop[i]) out.dims[out.rank++] = in->dims[i];
    return set_output(ctx, &out, workspace_bytes);
}

const oc_op_def oc_op_squeeze = {
    .name = "Squeeze",
    .domain = "",
    .versions = {1, 11, 13, 21},
    .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .value_inputs = 1u << 1,
    .init = squeeze_init,
    .infer = squeeze_infer,
    .run = copy_run,
    .grad_inputs = 1u, .backward = copy_backward,
};

static onnxc_status unsqueeze_init(oc_node *n, onnxc_error *err)
{
    if (n->since >= 13) {
        OC_TRY(oc_attr_absent(n, "axes", "from opset 13 axes is input 1", err));
        if (n->n_in < 2 || n->in[1] < 0)
            return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                                "input 'axes' is required from opset 13, got none");
        return ONNXC_OK;
    }
    OC_TRY(check_max_inputs(n, 1, "axes is an attribute before opset 13", err));
    return oc_attr_require(n, "axes", err);
}

static onnxc_status unsqueeze_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    const oc_node *n = ctx->node;
    const oc_shape *in = &ctx->in[0]->shape;
    int64_t axes[2 * OC_MAX_RANK];
    int count, norm[2 * OC_MAX_RANK];
    bool given;
    const char *what;
    OC_TRY(get_axes(ctx, axes, &count, &given, &what));
    if (!given)
        return oc_node_fail(n, ctx->err, ONNXC_ERR_MODEL, "%s is required, got none", what);
    int rank = in->rank + count;
    if (rank > OC_MAX_RANK)
        return oc_node_fail(n, ctx->err, ONNXC_ERR_UNSUPPORTED,
                            "output rank %d exceeds onnxc's maximum rank %d", rank, OC_MAX_RANK);
    /* Axes index the output, so they are checked against the output rank. */
    OC_TRY(oc_mv_axes(n, what, axes, count, rank, n->since >= 11, norm, ctx->err));
    bool inserted[OC_MAX_RANK] = {false};
    for (int i = 0; i < count; i++) inserted[norm[i]] = true;
    oc_shape out = {.rank = rank};
    for (int i = 0, j = 0; i < rank; i++) out.dims[i] = inserted[i] ? 1 : in->dims[j++];
    return set_output(ctx, &out, workspace_bytes);
}

const oc_op_def oc_op_unsqueeze = {
    .name = "Unsqueeze",
    .domain = "",
    .versions = {1, 11, 13, 21},
    .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .value_inputs = 1u << 1,
    .init = unsqueeze_init,
    .infer = unsqueeze_infer,
    .run = copy_run,
    .grad_inputs = 1u, .backward = copy_backward,
};

/* ---- Identity ----------------------------------------------------------- */

static onnxc_status identity_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    return set_output(ctx, &ctx->in[0]->shape, workspace_bytes);
}

const oc_op_def oc_op_identity = {
    .name = "Identity",
    .domain = "",
    .versions = {1, 13, 14, 16, 19, 21},
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .infer = identity_infer,
    .run = copy_run,
    .grad_inputs = 1u, .backward = copy_backward,
};
