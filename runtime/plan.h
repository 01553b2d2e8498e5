/*
 * The execution plan: built once per set of input shapes, then run many
 * times with no decisions and no allocation.
 *
 * Building walks the sorted nodes once: each op's infer sets output dtypes
 * and shapes; nodes whose inputs are all known (initializers, Constant,
 * Shape of anything, and the shape-computing chains behind Reshape/Expand/...)
 * are computed right there ("folded"); the rest become steps. Step outputs
 * and workspaces get offsets in one arena, reusing memory once a buffer's
 * last reader has run.
 */
#ifndef OC_PLAN_H
#define OC_PLAN_H

#include "op.h"

typedef struct oc_step {
    oc_node *node;
    oc_op_ctx ctx;               /* in/out point into plan->tensors */
    size_t workspace_offset;     /* into the arena */
    size_t saved_offset;         /* training: ctx.saved, into the arena */
} oc_step;

typedef struct oc_plan_options {
    int nthreads;
    uint64_t *rng;
    /* [n_values] or NULL: values that change between runs although stored as
     * initializers (weights being trained). They are never folded. */
    const uint8_t *variable;
    /* Only infer shapes: no arena, no steps (for `onnxc info`). */
    bool shape_only;
    /* [n_values] or NULL: keep these values alive to the end (backward pass). */
    const uint8_t *keep;
    /* Run with training semantics (ctx->training) and give ops their
     * forward-to-backward `saved` buffers. */
    bool training;
    /* Packed weights for fused dense layers (fuse_dense.h), or NULL: no
     * fusion. Must outlive the plan. */
    struct oc_pack_cache *packs;
} oc_plan_options;

typedef struct oc_plan {
    const onnxc_model *model;
    int n_values;
    oc_tensor *tensors;          /* [n_values]: dtype, shape, data for this plan */
    uint8_t *known;              /* [n_values]: value fixed at plan time */
    uint8_t *input_value_used;   /* [n_inputs]: the plan depends on that input's data */
    void **input_value_copy;     /* [n_inputs]: copy of such data, to detect a change */
    oc_step *steps;
    int n_steps;
    const oc_tensor **step_in;   /* pooled storage for step ctx.in arrays */
    oc_tensor **step_out;
    void *arena;
    size_t arena_bytes;
    void **owned;                /* folded values' buffers */
    int n_owned;
    struct oc_fused_dense *fused; /* [n_fused] nodes of fused Dense steps */
    int n_fused;
    /* NULL, or [n_steps]: each step's run time in seconds is added to its
     * entry (bench/train_anatomy). Set and owned by the caller; the plan
     * only writes it. */
    double *step_seconds;
} oc_plan;

/*
 * inputs: [graph.n_inputs] tensors with dtype, shape and data, in graph order.
 * Checks them against the declared input types.
 */
onnxc_status oc_plan_build(oc_plan *plan, const onnxc_model *m, const oc_tensor *inputs,
                           const oc_plan_options *opt, onnxc_error *err);
void oc_plan_free(oc_plan *plan);

/* Does `inputs` fit this plan (same shapes, same data where it was used)? */
bool oc_plan_matches(const oc_plan *plan, const oc_tensor *inputs);

/* Point the graph inputs at `inputs` (same shapes as built) and run every step. */
onnxc_status oc_plan_run(oc_plan *plan, const oc_tensor *inputs, onnxc_error *err);
/* The same in parts: point the inputs, then run steps [from, to). */
void oc_plan_bind_inputs(oc_plan *plan, const oc_tensor *inputs);
onnxc_status oc_plan_run_steps(oc_plan *plan, int from, int to, onnxc_error *err);

void oc_plan_set_threads(oc_plan *plan, int nthreads);

/* Check a caller tensor against a graph input's declaration. */
onnxc_status oc_check_input(const onnxc_model *m, int input_index, const oc_tensor *t,
                            onnxc_error *err);

#endif
