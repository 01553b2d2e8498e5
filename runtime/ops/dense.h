/* The plan's fused dense layer (dense.c; built by runtime/fuse_dense.c). */
#ifndef OC_OPS_DENSE_H
#define OC_OPS_DENSE_H

#include "../kernels/sgemm.h"
#include "../op.h"

typedef struct oc_dense_params {
    const oc_sgemm_pb *w;        /* packed op(W) [K, N], owned by the session's pack cache */
    const float *bias;           /* [N] or NULL; a constant the plan or model owns */
    oc_act act;
    int64_t K, N;                /* K > 0, N > 0 */
} oc_dense_params;

/* Not in any group table: files cannot name it. */
extern const oc_op_def oc_op_dense;

#endif
