/*
 * Group table of the neural-network ops; each entry is defined in its family
 * file (matmul.c, gemm.c, softmax.c, batchnorm.c, dropout.c, reduce.c,
 * loss.c). Below the table: the checks the family shares (nn.h).
 */
#include "nn.h"

#include <string.h>

#include "../alloc.h"

const oc_op_def *const oc_ops_nn[] = {
    /* matmul.c, gemm.c */
    &oc_op_matmul, &oc_op_gemm,
    /* softmax.c */
    &oc_op_softmax, &oc_op_log_softmax,
    /* batchnorm.c, dropout.c */
    &oc_op_batch_normalization, &oc_op_dropout,
    /* reduce.c */
    &oc_op_reduce_sum, &oc_op_reduce_mean, &oc_op_reduce_max, &oc_op_arg_max,
    /* loss.c */
    &oc_op_nll_loss, &oc_op_softmax_cross_entropy_loss,
    NULL,
};

const char *oc_nn_in_name(const oc_node *n, int i)
{
    if (i < 0 || (size_t)i >= n->proto->n_input || !n->proto->input[i]) return "";
    return n->proto->input[i];
}

onnxc_status oc_nn_bad_dtype(const oc_op_ctx *ctx, int i, const char *supported)
{
    return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_UNSUPPORTED,
                        "input %d '%s' has dtype %s; onnxc implements %s-%d for dtypes: %s", i,
                        oc_nn_in_name(ctx->node, i), oc_dtype_name(ctx->in[i]->dtype),
                        ctx->node->op_type, ctx->node->since, supported);
}

onnxc_status oc_nn_same_dtype(const oc_op_ctx *ctx, int i, int j)
{
    oc_dtype want = ctx->in[i]->dtype, got = ctx->in[j]->dtype;
    if (want == got) return ONNXC_OK;
    return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                        "input %d '%s': expected dtype %s (the dtype of input %d '%s'), got %s",
                        j, oc_nn_in_name(ctx->node, j), oc_dtype_name(want), i,
                        oc_nn_in_name(ctx->node, i), oc_dtype_name(got));
}

onnxc_status oc_nn_float_input(const oc_op_ctx *ctx, int i)
{
    if (oc_dtype_is_float(ctx->in[i]->dtype)) return ONNXC_OK;
    return oc_nn_bad_dtype(ctx, i, "float, double");
}

onnxc_status oc_nn_set_params(oc_node *node, const void *params, size_t size, onnxc_error *err)
{
    void *p = oc_malloc(size);
    if (!p) return oc_node_fail(node, err, ONNXC_ERR_NOMEM, "out of memory for attributes");
    memcpy(p, params, size);
    oc_free(node->params);
    node->params = p;
    return ONNXC_OK;
}
