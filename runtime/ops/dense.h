/* The plan's fused dense layers (built by runtime/fuse_dense.c): dense.c for
 * inference plans, dense_train.c for training plans. */
#ifndef OC_OPS_DENSE_H
#define OC_OPS_DENSE_H

#include "../kernels/sgemm.h"
#include "../op.h"

typedef struct oc_dense_params {
    /* Inference only: W and bias are constants, read once at plan time. */
    const oc_sgemm_pb *w;        /* packed op(W) [K, N], owned by the session's pack cache */
    const float *bias;           /* [N] or NULL; a constant the plan or model owns */
    /* Training only: W ([K, N], or [N, K] with transB) is input 1 and the
     * bias ([N], [1, N] ...) optional input 2, read every step. */
    int transB;
    oc_act act;
    int64_t K, N;                /* K > 0, N > 0 */
} oc_dense_params;

/* Bytes of forward-to-backward state (ctx->saved) a training Dense step
 * over a batch of `rows` rows of K features wants: room for the batch's
 * nonzero masks, which dW then takes from the forward pass; 0 when the
 * zero-skipping kernels can never run for the shape. */
size_t oc_dense_train_saved_bytes(int64_t rows, int64_t K);

/* Not in any group table: files cannot name them. */
extern const oc_op_def oc_op_dense;
extern const oc_op_def oc_op_dense_train;

/*
 * A training Dense step on its output columns [c0, c1) only, on the calling
 * thread, for two threads that split a layer's columns between them
 * (train/column_split.h). Each column comes out bit for bit as the whole op
 * computes it, whatever the split.
 *
 * Forward: Y[:, c0:c1] = act(X · op(W)[:, c0:c1] + b[c0:c1]).
 * Backward (ctx as oc_train_plan_backward gives it; its workspace holds
 * [rows, N] floats with ReLU): the masked dZ and db of those columns, and
 * dW's part for them (columns of [K, N], rows of [N, K] with transB),
 * written (or added, as the op would) at dw with leading dimension ldw:
 * [K, c1 - c0] or [c1 - c0, K] there.
 * Never dX: the caller splits only layers whose input needs no gradient
 * (din[0] NULL).
 */
void oc_dense_train_forward_cols(const oc_op_ctx *ctx, int64_t c0, int64_t c1);
onnxc_status oc_dense_train_backward_cols(oc_op_ctx *ctx, const oc_tensor *const *dout, oc_tensor *const *din,
                                          int64_t c0, int64_t c1, float *dw, int64_t ldw);

#endif
