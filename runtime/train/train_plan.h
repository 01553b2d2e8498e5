/*
 * A training plan: the forward plan run with training semantics, every value
 * kept for the backward pass, a gradient buffer for every value on a path
 * from a parameter to the loss, and the backward steps in reverse order.
 */
#ifndef OC_TRAIN_PLAN_H
#define OC_TRAIN_PLAN_H

#include "plan.h"

typedef struct oc_bstep {
    oc_step *fwd;                /* the forward step it differentiates */
    const oc_tensor **dout;      /* [n_out] gradient per output, NULL: none */
    oc_tensor **din;             /* [n_in] gradient per input, NULL: not needed */
    uint32_t overwrite;          /* ctx.din_overwrite for this step */
} oc_bstep;

typedef struct oc_train_plan {
    int64_t batch;               /* rows it was built for: input 0's first dim */
    oc_plan fwd;
    oc_tensor *grads;            /* [n_values]: data NULL where no gradient */
    float *grad_arena;           /* activation gradients (parameters' are shared) */
    size_t grad_arena_floats;
    oc_bstep *bsteps;            /* in execution order (reverse of forward) */
    int n_bsteps;
    const oc_tensor **dout_pool;
    oc_tensor **din_pool;
    void *bwork;                 /* backward workspace, max over steps */
    size_t bwork_bytes;
    /* Gradient buffers to zero before each backward pass: those with several
     * contributors or one that only adds, and parameters no gradient reaches.
     * Buffers whose single contributor overwrites them are left alone. */
    float **zero_at;             /* [n_zero] */
    size_t *zero_len;            /* [n_zero] floats */
    int n_zero;
    /* The next backward pass's ctx.grad_row_cut (train/row_cut.h); 0: one
     * sum over the rows. Set by the trainer. */
    int64_t row_cut;
    /* NULL, or [n_bsteps]: each backward step's time in seconds is added to
     * its entry (bench/train_anatomy). Set and owned by the caller. */
    double *bstep_seconds;
} oc_train_plan;

typedef struct oc_train_spec {
    const uint8_t *variable;     /* [n_values] float initializers: never folded */
    const uint8_t *is_param;     /* [n_values] trainable parameters */
    float *const *param_grad;    /* [n_values] flat-buffer slot of each param's gradient */
    int loss_value;              /* value the loss reads (logits or prediction) */
    int nthreads;
    uint64_t *rng;
} oc_train_spec;

onnxc_status oc_train_plan_build(oc_train_plan *tp, const onnxc_model *m, const oc_tensor *inputs,
                                 const oc_train_spec *spec, onnxc_error *err);
void oc_train_plan_free(oc_train_plan *tp);

/* Zero the gradient buffers that the next backward pass adds into, parameter
 * slots of the flat buffer included (see zero_at). */
void oc_train_plan_zero_grads(oc_train_plan *tp);
/* Run the backward steps; the loss gradient must already be in grads[loss_value]. */
onnxc_status oc_train_plan_backward(oc_train_plan *tp, onnxc_error *err);
/* The same in parts: backward steps [from, to). */
onnxc_status oc_train_plan_backward_steps(oc_train_plan *tp, int from, int to, onnxc_error *err);
/* The context backward step b runs with: its forward step's, with the
 * backward workspace `workspace` (tp->bwork_bytes) and the plan's row cut. */
oc_op_ctx oc_train_plan_bstep_ctx(const oc_train_plan *tp, const oc_bstep *b, void *workspace, onnxc_error *err);

#endif
