/*
 * Dense: the plan's fused dense layer (runtime/fuse_dense.c), never read from
 * a file. One step computes
 *
 *     Y [rows, N] = act(X [rows, K] · W + bias)
 *
 * for MatMul(X, W) [+ Add(bias)] [+ Relu] or Gemm(X, W, bias) [+ Relu] with
 * W and bias constant. W comes pre-packed into the kernel's panel layout
 * (pack_cache.h), and bias and ReLU are applied while each output tile is
 * still in registers, so Y is written once and the intermediate MatMul/Add
 * outputs never exist. X may have leading batch dims: rows = numel(X) / K.
 */
#include "dense.h"

static onnxc_status dense_infer(oc_op_ctx *ctx, size_t *ws)
{
    /* Built by the plan with shapes already inferred; never planned itself. */
    (void)ws;
    return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_MODEL,
                        "the fused Dense op cannot appear in a model file");
}

static onnxc_status dense_run(oc_op_ctx *ctx)
{
    const oc_dense_params *p = ctx->node->params;
    const oc_tensor *x = ctx->in[0];
    const int64_t rows = oc_tensor_numel(x) / p->K; /* K > 0: checked when fused */
    oc_sgemm_run(rows, p->N, p->K, x->data, p->K, p->w, ctx->out[0]->data, p->N, p->bias, p->act,
                 0, ctx->nthreads);
    return ONNXC_OK;
}

const oc_op_def oc_op_dense = {
    .name = "Dense", .domain = "onnxc.fused", .versions = {1},
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = dense_infer, .run = dense_run,
};
