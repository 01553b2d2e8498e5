/*
 * Shared pieces of the neural-network op family (matmul.c, gemm.c,
 * softmax.c, batchnorm.c, dropout.c, reduce.c, loss.c): the op definitions
 * the group table lists, and the checks every member reports the same way.
 * The helpers are defined in group_nn.c.
 */
#ifndef OC_OPS_NN_H
#define OC_OPS_NN_H

#include <stddef.h>

#include "../broadcast.h"
#include "../op.h"

/* matmul.c, gemm.c */
extern const oc_op_def oc_op_matmul, oc_op_gemm;
/* Gemm's node->params (read by the plan's Dense fusion too). */
typedef struct oc_gemm_params {
    float alpha, beta;
    int trans_a, trans_b;
} oc_gemm_params;
/* softmax.c */
extern const oc_op_def oc_op_softmax, oc_op_log_softmax;
/* batchnorm.c, dropout.c */
extern const oc_op_def oc_op_batch_normalization, oc_op_dropout;
/* reduce.c */
extern const oc_op_def oc_op_reduce_sum, oc_op_reduce_mean, oc_op_reduce_max, oc_op_arg_max;
/* loss.c */
extern const oc_op_def oc_op_nll_loss, oc_op_softmax_cross_entropy_loss;

/* Name of input i as written in the model ("" when omitted). */
const char *oc_nn_in_name(const oc_node *n, int i);

/* ONNXC_ERR_UNSUPPORTED naming the node, input i and its dtype, and listing
 * the dtypes onnxc implements for this op and version (`supported`). */
onnxc_status oc_nn_bad_dtype(const oc_op_ctx *ctx, int i, const char *supported);

/* ONNXC_ERR_SHAPE unless inputs i and j have the same dtype. */
onnxc_status oc_nn_same_dtype(const oc_op_ctx *ctx, int i, int j);

/* Input i must be float or double (the floating types onnxc computes in). */
onnxc_status oc_nn_float_input(const oc_op_ctx *ctx, int i);

/* Is optional input / output i present (listed and not the empty name)? */
static inline bool oc_nn_has_in(const oc_node *n, int i) { return i < n->n_in && n->in[i] >= 0; }
static inline bool oc_nn_has_out(const oc_node *n, int i)
{
    return i < n->n_out && n->out[i] >= 0;
}

/* Copy `size` bytes of parsed attributes into a fresh node->params
 * (replacing any earlier one). */
onnxc_status oc_nn_set_params(oc_node *node, const void *params, size_t size, onnxc_error *err);

#endif
