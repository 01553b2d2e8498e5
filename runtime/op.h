/*
 * The operator interface. Each op is one oc_op_def in a group table
 * (runtime/ops/group_*.c); oc_op_find maps (domain, op_type) to it once at
 * load, and the plan calls its functions:
 *
 *   init  (load time, optional)  parse and validate attributes into
 *                                 node->params; check everything that does
 *                                 not depend on input shapes.
 *   infer (plan time, required)  set each output's dtype and shape from the
 *                                 inputs' dtypes and shapes (and values of
 *                                 the inputs in `value_inputs`), and the
 *                                 scratch bytes run will need.
 *   run   (run time, required)   compute outputs. No allocation: use
 *                                 ctx->workspace.
 *   backward (training, optional) given the forward ctx (inputs and outputs
 *                                 as computed) and dL/d(output k) in dout[k]
 *                                 (NULL when no gradient reaches output k),
 *                                 ADD dL/d(input k) into din[k] (NULL when
 *                                 input k needs none; same shape and dtype as
 *                                 the input). Never overwrite: several
 *                                 consumers accumulate into one buffer, and a
 *                                 separate step zeroes them. Scratch comes
 *                                 from ctx->workspace, sized by
 *                                 backward_workspace alone (the forward
 *                                 workspace is gone by then).
 *
 * Training mode: ctx->training is true when a trainer runs the graph
 * (Keras fit semantics: Dropout drops, BatchNormalization uses batch
 * statistics and updates its running mean/var inputs in place). An op that
 * must carry data from forward to backward (Dropout's mask) sets
 * ctx->saved_bytes in infer; the plan then gives ctx->saved, which lives from
 * the forward run to the backward run.
 *
 * Adding an op: write its oc_op_def in the file of its family, add it to that
 * file's group table, and list the tier-1 cases it enables in the tests.
 * `versions` lists the opset versions at which the ONNX schema changed
 * (python3 -c "import onnx.defs as d; print(d.get_schema('Op', N).since_version)");
 * a node resolves to the largest one <= its domain's imported opset, stored
 * in node->since, and kernels branch on it for version-specific semantics.
 */
#ifndef OC_OP_H
#define OC_OP_H

#include "error.h"
#include "graph.h"
#include "tensor.h"

#define OC_MAX_VERSIONS 12

typedef struct oc_op_ctx {
    const oc_node *node;
    int n_in, n_out;
    const oc_tensor *const *in;       /* [n_in]; NULL entry: omitted optional input */
    oc_tensor *const *out;            /* [n_out]; NULL entry: omitted optional output */
    void *workspace;                  /* run: workspace_bytes of 64-byte aligned scratch */
    size_t workspace_bytes;
    int nthreads;                     /* >= 1 */
    uint64_t *rng;                    /* session RNG state for unseeded randomness */
    onnxc_error *err;
    bool training;                    /* run with Keras fit semantics (see above) */
    void *saved;                      /* training: forward -> backward scratch */
    size_t saved_bytes;               /* set by infer when training needs it */
    /* backward, ops flagged OC_OP_BACKWARD_OVERWRITE only: bit k set means
     * din[k] holds garbage and this step is its only contributor, so it must
     * be written (=), not added to (+=). Saves zeroing it and reading it back. */
    uint32_t din_overwrite;
    /* backward: 0, or the row (0 < cut < rows) at which parameter gradients
     * are summed in two parts, (rows [0, cut)) + (rows [cut, rows)), as two
     * shards of the batch would compute them (train/row_cut.h). Only the
     * fused Dense op, whose gradients the trainer cuts, reads it. */
    int64_t grad_row_cut;
} oc_op_ctx;

enum {
    /* Output values depend only on input shapes (Shape, Size): always foldable. */
    OC_OP_SHAPE_ONLY = 1u << 0,
    /* Output differs between runs (unseeded randomness): never folded. */
    OC_OP_NONDETERMINISTIC = 1u << 1,
    /* backward honours ctx->din_overwrite (else the plan zeroes first). */
    OC_OP_BACKWARD_OVERWRITE = 1u << 2,
};

typedef struct oc_op_def {
    const char *name;
    const char *domain;               /* "" = ai.onnx */
    int versions[OC_MAX_VERSIONS];    /* ascending, 0-terminated */
    int min_inputs, max_inputs;       /* max -1: variadic */
    int min_outputs, max_outputs;
    unsigned flags;
    uint32_t value_inputs;            /* bit i: infer reads input i's values */
    onnxc_status (*init)(oc_node *node, onnxc_error *err);
    /* Called with ctx->in[i]->data set for known values (always for inputs in
     * value_inputs), out[i]->dtype/shape to fill. */
    onnxc_status (*infer)(oc_op_ctx *ctx, size_t *workspace_bytes);
    onnxc_status (*run)(oc_op_ctx *ctx);
    /* Training. grad_inputs: bit i set when input i is differentiable (float
     * data, not shapes/axes/indices). */
    uint32_t grad_inputs;
    onnxc_status (*backward)(oc_op_ctx *ctx, const oc_tensor *const *dout, oc_tensor *const *din);
    size_t (*backward_workspace)(const oc_op_ctx *ctx);
} oc_op_def;

/* The op for (domain, op_type), or NULL. Domain "ai.onnx" equals "". */
const oc_op_def *oc_op_find(const char *domain, const char *op_type);
/* Largest version in def->versions <= opset, or 0 when opset predates it. */
int oc_op_resolve_version(const oc_op_def *def, int64_t opset);
/* Calls fn for every registered op (for `onnxc info --ops`). */
void oc_op_foreach(void (*fn)(const oc_op_def *def, void *user), void *user);

/* Group tables, NULL-terminated, one per family file. */
extern const oc_op_def *const oc_ops_elementwise[];
extern const oc_op_def *const oc_ops_nn[];
extern const oc_op_def *const oc_ops_shape[];
extern const oc_op_def *const oc_ops_training[];

/* Helpers shared by ops ------------------------------------------------- */

/* Normalize axis in [-rank, rank-1] to [0, rank); names node and value on error. */
onnxc_status oc_axis(const oc_node *n, int64_t axis, int rank, const char *what, int *out,
                     onnxc_error *err);
/* Shape error naming the node: expected vs got. */
onnxc_status oc_check_dtype(const oc_node *n, const char *what, oc_dtype got, oc_dtype want,
                            onnxc_error *err);
/* Is dtype one of the runtime's numeric types (float, double, int32, int64...). */
bool oc_dtype_is_float(oc_dtype t);
bool oc_dtype_is_int(oc_dtype t);

#endif
