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
 * Zeros: the forward product and dW = X^T dZ go through
 * kernels/sgemm_sparse.h, which skips X's zeros when it has many (an image
 * batch's black background, a ReLU layer's output), and dX skips dZ's (the
 * ReLU mask's); otherwise they run the dense GEMM. The bits are the same
 * either way, so the choice never shows. The forward keeps X's nonzero
 * masks in ctx->saved for dW (layout below), which then need not read X
 * again.
 *
 * Determinism: the GEMMs are oc_sgemm_fast/oc_sgemm_run (thread-count
 * independent), the column sums add rows in ascending order whoever owns
 * the column (kernels/dense_grad.h). With ctx->grad_row_cut, dW and db are
 * each the sum of two row ranges' sums, as two batch shards give them.
 */
#include "dense.h"

#include "../kernels/dense_grad.h"
#include "../kernels/sgemm_sparse.h"
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

/*
 * ctx->saved, when the plan gave it (oc_dense_train_saved_bytes): a header
 * of SAVED_HEADER bytes whose first word is 1 when the forward pass of this
 * step left X's masks after it, then those masks (sgemm_sparse.h:
 * [rows][oc_sparse_mask_words(K)]).
 */
enum { SAVED_HEADER = 64 };

size_t oc_dense_train_saved_bytes(int64_t rows, int64_t K)
{
    const size_t masks = oc_sparse_masks_bytes(rows, K);
    return masks ? SAVED_HEADER + masks : 0;
}

static int64_t rows_of(const oc_op_ctx *ctx)
{
    const oc_dense_params *p = ctx->node->params;
    return oc_tensor_numel(ctx->in[0]) / p->K; /* K > 0: checked when fused */
}

/* Where the forward may write X's masks: NULL when the plan gave no room. */
static uint64_t *masks_room(const oc_op_ctx *ctx)
{
    const oc_dense_params *p = ctx->node->params;
    if (!ctx->saved || ctx->saved_bytes < oc_dense_train_saved_bytes(rows_of(ctx), p->K)) return NULL;
    return (uint64_t *)((char *)ctx->saved + SAVED_HEADER);
}

/* X's masks from this step's forward pass, or NULL (dW then reads X). */
static const uint64_t *saved_masks(const oc_op_ctx *ctx)
{
    uint64_t *room = masks_room(ctx);
    return room && ((const uint64_t *)ctx->saved)[0] == 1 ? room : NULL;
}

/* Y[:, c0:c1] = act(X · op(W)[:, c0:c1] + b[c0:c1]) on `threads` threads.
 * The call for column 0 (there is one each step) records X's masks. */
static void forward_cols(const oc_op_ctx *ctx, int64_t c0, int64_t c1, int threads)
{
    const oc_dense_params *p = ctx->node->params;
    const float *x = ctx->in[0]->data, *w = ctx->in[1]->data, *b = bias_of(ctx);
    /* op(W)'s columns c0.. start at row c0 of W [N, K] (transB), else at column c0 of W [K, N]. */
    const float *wc = p->transB ? w + c0 * p->K : w + c0;
    uint64_t *masks = c0 == 0 ? masks_room(ctx) : NULL;
    const int ran = oc_sgemm_fast_dense_sparse_a(p->transB, rows_of(ctx), c1 - c0, p->K, x, p->K, wc,
                                                 p->transB ? p->K : p->N, b ? b + c0 : NULL, p->act,
                                                 (float *)ctx->out[0]->data + c0, p->N, threads, masks);
    if (masks) ((uint64_t *)ctx->saved)[0] = ran ? 1 : 0;
}

static onnxc_status dense_train_run(oc_op_ctx *ctx)
{
    const oc_dense_params *p = ctx->node->params;
    forward_cols(ctx, 0, p->N, ctx->nthreads);
    return ONNXC_OK;
}

void oc_dense_train_forward_cols(const oc_op_ctx *ctx, int64_t c0, int64_t c1) { forward_cols(ctx, c0, c1, 1); }

static size_t dense_train_backward_workspace(const oc_op_ctx *ctx)
{
    const oc_dense_params *p = ctx->node->params;
    if (p->act != OC_ACT_RELU) return 0;
    return (size_t)oc_tensor_numel(ctx->out[0]) * sizeof(float);
}

/*
 * The parameter side of the backward pass for columns [c0, c1): dZ masked
 * by ReLU (into the workspace) and db in one pass over dY, then dW's part
 * for those columns at dw_part (leading dimension ldw; NULL: in din[1]'s
 * own layout), on `threads` threads. *dz_out: dZ [rows, N] (dY itself
 * without ReLU).
 */
static onnxc_status param_grads_cols(oc_op_ctx *ctx, const oc_tensor *const *dout, oc_tensor *const *din,
                                     int64_t c0, int64_t c1, float *dw_part, int64_t ldw, int threads,
                                     const float **dz_out)
{
    const oc_dense_params *p = ctx->node->params;
    const oc_tensor *x = ctx->in[0], *y = ctx->out[0];
    const int64_t K = p->K, N = p->N, rows = oc_tensor_numel(x) / K;
    const bool relu = p->act == OC_ACT_RELU;
    oc_tensor *dw = din[1], *db = ctx->n_in > 2 ? din[2] : NULL;
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
        int parts = oc_ew_parts(rows * (c1 - c0), threads);
        if (parts > c1 - c0) parts = (int)(c1 - c0);
        OC_PAR_FOR(parts, c, {
            int64_t lo, hi;
            oc_split_range(c1 - c0, parts, c, &lo, &hi);
            oc_dense_grad_cols(dout[0]->data, relu ? y->data : NULL, masked, bias_grad, add, rows, cut, N,
                               c0 + lo, c0 + hi);
        });
        if (relu) dz = masked;
    }
    *dz_out = dz;
    if (dw) {
        /* With a cut, rows [cut, rows) are a second product added to the
         * first (C = P0, then C + P1), which is what two shards' P0 + P1
         * gives (oc_sgemm_fast_cut). */
        const float beta = (ctx->din_overwrite & 2u) ? 0.0f : 1.0f;
        if (!dw_part) /* in dW itself: rows c0.. of [N, K], columns c0.. of [K, N] */
            dw_part = (float *)dw->data + (p->transB ? c0 * K : c0), ldw = p->transB ? K : N;
        const uint64_t *masks = saved_masks(ctx);
        if (p->transB) /* dW [N, K] (+)= dZ^T [N, rows] · X [rows, K]: rows c0..c1 */
            oc_sgemm_fast_cut_sparse_b(c1 - c0, K, rows, cut, dz + c0, N, x->data, K, beta, dw_part, ldw, threads,
                                       masks);
        else           /* dW [K, N] (+)= X^T [K, rows] · dZ [rows, N]: columns c0..c1 */
            oc_sgemm_fast_cut_sparse_at(K, c1 - c0, rows, cut, x->data, K, dz + c0, N, beta, dw_part, ldw, threads,
                                        masks);
    }
    return ONNXC_OK;
}

static onnxc_status dense_train_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                         oc_tensor *const *din)
{
    const oc_dense_params *p = ctx->node->params;
    if (!dout[0]) return ONNXC_OK;
    const float *dz = NULL;
    OC_TRY(param_grads_cols(ctx, dout, din, 0, p->N, NULL, 0, ctx->nthreads, &dz));
    oc_tensor *dx = din[0];
    if (dx) {
        const int64_t K = p->K, N = p->N, rows = oc_tensor_numel(ctx->in[0]) / K;
        const float beta = (ctx->din_overwrite & 1u) ? 0.0f : 1.0f;
        /* dX [rows, K] (+)= dZ [rows, N] · op(W)^T; op(W)^T is W itself with
         * transB. dZ holds the ReLU mask's zeros, which are skipped. */
        oc_sgemm_fast_sparse_a(p->transB ? 0 : 1, rows, K, N, dz, N, ctx->in[1]->data, p->transB ? K : N, beta,
                               dx->data, K, ctx->nthreads);
    }
    return ONNXC_OK;
}

onnxc_status oc_dense_train_backward_cols(oc_op_ctx *ctx, const oc_tensor *const *dout, oc_tensor *const *din,
                                          int64_t c0, int64_t c1, float *dw, int64_t ldw)
{
    if (!dout[0]) return ONNXC_OK;
    if (din[0])
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                            "a column range of a Dense backward pass cannot give the input's gradient");
    const float *dz = NULL;
    return param_grads_cols(ctx, dout, din, c0, c1, dw, ldw, 1, &dz);
}

const oc_op_def oc_op_dense_train = {
    .name = "Dense", .domain = "onnxc.fused", .versions = {1},
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = dense_train_infer, .run = dense_train_run,
    .flags = OC_OP_BACKWARD_OVERWRITE, .grad_inputs = 0x7, .backward = dense_train_backward,
    .backward_workspace = dense_train_backward_workspace,
};
