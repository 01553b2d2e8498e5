/*
 * Group table of the elementwise ops; each entry is defined in its family
 * file (unary.c, binary.c, pow.c, clip.c, cast.c, where.c, expand.c). Below the
 * table: the checks the family shares (declared in elementwise.h).
 */
#include "elementwise.h"

#include "../attr.h"

const oc_op_def *const oc_ops_elementwise[] = {
    /* unary.c */
    &oc_op_abs, &oc_op_neg, &oc_op_exp, &oc_op_log, &oc_op_sqrt, &oc_op_reciprocal,
    &oc_op_relu, &oc_op_leaky_relu, &oc_op_elu, &oc_op_selu, &oc_op_sigmoid,
    &oc_op_hard_sigmoid, &oc_op_tanh, &oc_op_softplus, &oc_op_softsign, &oc_op_erf, &oc_op_not,
    /* binary.c, pow.c */
    &oc_op_add, &oc_op_sub, &oc_op_mul, &oc_op_div, &oc_op_pow, &oc_op_equal, &oc_op_greater,
    &oc_op_less,
    /* clip.c, cast.c, where.c, expand.c */
    &oc_op_clip, &oc_op_cast, &oc_op_where, &oc_op_expand,
    NULL,
};

const char *oc_ew_input_name(const oc_node *n, int i)
{
    if (i < 0 || (size_t)i >= n->proto->n_input || !n->proto->input[i]) return "";
    return n->proto->input[i];
}

onnxc_status oc_ew_same_dtype(const oc_op_ctx *ctx, int i, int j)
{
    oc_dtype want = ctx->in[i]->dtype, got = ctx->in[j]->dtype;
    if (want == got) return ONNXC_OK;
    return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                        "input %d '%s': expected dtype %s (the dtype of input %d '%s'), got %s",
                        j, oc_ew_input_name(ctx->node, j), oc_dtype_name(want), i,
                        oc_ew_input_name(ctx->node, i), oc_dtype_name(got));
}

onnxc_status oc_ew_bad_dtype(const oc_op_ctx *ctx, int i, const char *supported)
{
    return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_UNSUPPORTED,
                        "input %d '%s' has dtype %s; onnxc implements %s for dtypes: %s", i,
                        oc_ew_input_name(ctx->node, i), oc_dtype_name(ctx->in[i]->dtype),
                        ctx->node->op_type, supported);
}

onnxc_status oc_ew_bad_grad_dtype(const oc_op_ctx *ctx, int i)
{
    return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_UNSUPPORTED,
                        "input %d '%s' has dtype %s; onnxc differentiates %s only for dtypes: "
                        "float, double",
                        i, oc_ew_input_name(ctx->node, i), oc_dtype_name(ctx->in[i]->dtype),
                        ctx->node->op_type);
}

onnxc_status oc_ew_refuse_legacy(const oc_node *n, onnxc_error *err)
{
    OC_TRY(oc_attr_absent(n, "consumed_inputs",
                          "it is an opset-1 memory hint; re-export the model with opset >= 6",
                          err));
    int64_t broadcast = 0;
    OC_TRY(oc_attr_int(n, "broadcast", 0, &broadcast, err));
    if (broadcast != 0)
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "attribute 'broadcast' = %lld is not supported: legacy (opset < 7) "
                            "broadcasting with 'axis'; re-export the model with opset >= 7",
                            (long long)broadcast);
    return ONNXC_OK;
}
