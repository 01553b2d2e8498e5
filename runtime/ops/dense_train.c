/*
 * Dense in a training plan (runtime/fuse_dense.c builds it), never read from
 * a file:
 *
 *     Y [rows, N] = act(X [rows, K] · op(W) + b)
 *
 * for MatMul(X, W) [+ Add(b)] [+ Relu] or Gemm(X, W, b) [+ Relu] whose W
 * (and b) are being trained. Inputs: X, W ([K, N], or [N, K] with transB),
 * optional b ([N], [1, N] ...). X may have leading batch dims:
 * rows = numel(X) / K.
 *
 * Forward: oc_sgemm_fast_dense packs W as it goes (it changed since the
 * last step; each thread packs the panels it reads) and adds b and applies
 * ReLU while each output tile is in registers, so the MatMul and Add
 * outputs never exist.
 *
 * Backward, from dY [rows, N]:
 *     one pass over dY:   dZ = dY masked by Y > 0 (ReLU), and db = column sums
 *     dW = X^T · dZ       ([K, N]; with transB dW = dZ^T · X, [N, K])
 *     dX = dZ · op(W)^T   (only when X needs a gradient)
 * instead of separate Relu, Add and MatMul backward steps, which copied dY
 * once for the Add and reduced it for db in another pass. dZ lives in the
 * backward workspace [rows, N] (with ReLU only). Each gradient is written
 * (ctx->din_overwrite) or added to, like MatMul's and Gemm's backward.
 *
 * Determinism: the GEMMs are oc_sgemm_fast/oc_sgemm_run (thread-count
 * independent), the column sums add rows in ascending order whoever owns
 * the column (kernels/dense_grad.h). With ctx->grad_row_cut, dW and db are
 * each the sum of two row ranges' sums, as two batch shards give them.
 */
#include "dense.h"

#include "../kernels/dense_grad.h"
#include "../parallel.h"

static onnxc_status dense_train_infer(oc_op_ctx *ctx, size_t *ws)
{
    (void)ws;
    return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_MODEL,
                        "the fused Dense op cannot appear in a model file");
}

static const float *bias_of(const oc_op_ctx *ctx)
{
    return ctx->n_in > 2 && ctx->in[2] ? ctx->in[2]->data : NULL;
}

static onnxc_status dense_train_run(oc_op_ctx *ctx)
{
    const oc_dense_params *p = ctx->node->params;
    const oc_tensor *x = ctx->in[0], *w = ctx->in[1];
    const int64_t rows = oc_tensor_numel(x) / p->K; /* K > 0: checked when fused */
    oc_sgemm_fast_dense(p->transB, rows, p->N, p->K, x->data, p->K, w->data, p->transB ? p->K : p->N,
                        bias_of(ctx), p->act, ctx->out[0]->data, p->N, ctx->nthreads);
    return ONNXC_OK;
}

static size_t dense_train_backward_workspace(const oc_op_ctx *ctx)
{
    const oc_dense_params *p = ctx->node->params;
    if (p->act != OC_ACT_RELU) return 0;
    return (size_t)oc_tensor_numel(ctx->out[0]) * sizeof(float);
}

static onnxc_status dense_train_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                         oc_tensor *const *din)
{
    const oc_dense_params *p = ctx->node->params;
    const oc_tensor *x = ctx->in[0], *w = ctx->in[1], *y = ctx->out[0];
    if (!dout[0]) return ONNXC_OK;
    const int64_t K = p->K, N = p->N, rows = oc_tensor_numel(x) / K;
    const bool relu = p->act == OC_ACT_RELU;
    oc_tensor *dx = din[0], *dw = din[1], *db = ctx->n_in > 2 ? din[2] : NULL;
    const float *dz = dout[0]->data; /* [rows, N] */
    /* Parameter gradients in two row ranges (train/row_cut.h), or one. */
    const int64_t cut = ctx->grad_row_cut > 0 && ctx->grad_row_cut < rows ? ctx->grad_row_cut : 0;
    if (relu || db) {
        if (relu && ctx->workspace_bytes < (size_t)(rows * N) * sizeof(float))
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                                "backward workspace: expected %zu bytes, got %zu",
                                (size_t)(rows * N) * sizeof(float), ctx->workspace_bytes);
        float *masked = relu ? ctx->workspace : NULL;
        float *bias_grad = db ? db->data : NULL;
        const int add = !(ctx->din_overwrite & 4u);
        /* Threads own column ranges; below a few thousand columns x rows
         * the pass is cheaper than a parallel region. */
        int parts = oc_ew_parts(rows * N, ctx->nthreads);
        if (parts > N) parts = (int)N;
        OC_PAR_FOR(parts, c, {
            int64_t lo, hi;
            oc_split_range(N, parts, c, &lo, &hi);
            oc_dense_grad_cols(dout[0]->data, relu ? y->data : NULL, masked, bias_grad, add, rows,
                               cut, N, lo, hi);
        });
        if (relu) dz = masked;
    }
    if (dw) {
        /* With a cut, rows [cut, rows) are a second product added to the
         * first (C = P0, then C + P1), which is what two shards' P0 + P1
         * gives (oc_sgemm_fast_cut). */
        const float beta = (ctx->din_overwrite & 2u) ? 0.0f : 1.0f;
        if (p->transB) /* dW [N, K] (+)= dZ^T [N, rows] · X [rows, K] */
            oc_sgemm_fast_cut(1, 0, N, K, rows, cut, dz, N, x->data, K, beta, dw->data, K, ctx->nthreads);
        else           /* dW [K, N] (+)= X^T [K, rows] · dZ [rows, N] */
            oc_sgemm_fast_cut(1, 0, K, N, rows, cut, x->data, K, dz, N, beta, dw->data, N, ctx->nthreads);
    }
    if (dx) {
        const float beta = (ctx->din_overwrite & 1u) ? 0.0f : 1.0f;
        /* dX [rows, K] (+)= dZ [rows, N] · op(W)^T; op(W)^T is W itself with transB */
        oc_sgemm_fast(0, p->transB ? 0 : 1, rows, K, N, 1.0f, dz, N, w->data, p->transB ? K : N,
                      beta, dx->data, K, ctx->nthreads);
    }
    return ONNXC_OK;
}

const oc_op_def oc_op_dense_train = {
    .name = "Dense", .domain = "onnxc.fused", .versions = {1},
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = dense_train_infer, .run = dense_train_run,
    .flags = OC_OP_BACKWARD_OVERWRITE, .grad_inputs = 0x7, .backward = dense_train_backward,
    .backward_workspace = dense_train_backward_workspace,
};
