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

/* Not in any group table: files cannot name them. */
extern const oc_op_def oc_op_dense;
extern const oc_op_def oc_op_dense_train;

#endif
