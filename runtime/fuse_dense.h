/*
 * Dense-layer fusion, a pass of the plan (plan.c): after shapes are inferred
 * and constants folded, each
 *
 *     MatMul(X, W) [-> Add(., b)] [-> Relu]      (tf2onnx, Keras 3 layout)
 *     Gemm(X, W, b; transB 0 or 1) [-> Relu]     (PyTorch layout)
 *
 * with W a float initializer and b a constant [N] becomes one Dense step
 * (ops/dense.h) that runs the packed-weight GEMM with bias and ReLU in its
 * epilogue. An Add or Relu is absorbed only when it is the sole reader of the
 * value before it and that value is not a graph output (nor, in inference,
 * kept for some other reason), so no value anyone reads disappears. In a
 * training plan W and b may be weights being trained; the fused step then
 * also computes the layer's whole backward pass (ops/dense_train.c).
 */
#ifndef OC_FUSE_DENSE_H
#define OC_FUSE_DENSE_H

#include "ops/dense.h"
#include "pack_cache.h"
#include "plan.h"

/* One fused step's node and the storage it points into; plan-owned. */
typedef struct oc_fused_dense {
    oc_node node;
    int in[3], out;              /* node.in / node.out point here: X (W, b in training) */
    const oc_tensor *in_slots[3]; /* training: the step's ctx.in */
    oc_dense_params params;
} oc_fused_dense;

/*
 * The transB with which node n can read its input 1 as a packed dense
 * weight: 0 for MatMul, trans_b for a Gemm with alpha 1 and A not
 * transposed; -1 for any other node. Only what the node itself says: the
 * shapes, the constness of the weight and the bias are checked per plan.
 * (inference_only.c uses it to know which weights to pack ahead.)
 */
int oc_dense_head_transB(const oc_node *n);

/*
 * Rewrites p->steps in place (ws_bytes [n_steps] moves with them). Must run
 * before memory planning. Inference plans need opt->packs (no packs: no
 * fusion). Training plans (opt->training) fuse layers whose W and b are
 * trained into oc_op_dense_train steps; their inputs, weights and outputs
 * stay for the backward pass, the absorbed MatMul/Add outputs disappear.
 */
onnxc_status oc_fuse_dense(oc_plan *p, const oc_plan_options *opt, size_t *ws_bytes,
                           onnxc_error *err);

#endif
