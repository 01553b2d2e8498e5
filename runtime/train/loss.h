/*
 * Loss functions with their gradients, as Keras computes them.
 *
 * All take predictions `pred` [n, k] row-major (logits when `from_logits`),
 * targets, and return the mean loss over the n samples. When `grad` is not
 * NULL, dLoss/dpred (already divided by n, or by `divisor`) is ADDED into
 * it, [n, k].
 * Per-sample losses go to `row_loss` [n] so the mean is summed in a fixed
 * order: results do not depend on the thread count.
 */
#ifndef OC_LOSS_H
#define OC_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "onnxc.h"

typedef struct oc_loss_args {
    onnxc_loss kind;
    bool from_logits;          /* pred holds logits of a Softmax / Sigmoid */
    const float *pred;         /* [n, k] */
    int64_t n, k;
    const int64_t *labels;     /* [n] class indices (sparse CE), else NULL */
    const float *targets;      /* [n, k] (CE one-hot, BCE, MSE), else NULL */
    float *grad;               /* [n, k] or NULL: dL/dpred added here */
    double *row_loss;          /* [n] scratch */
    int64_t divisor;           /* the gradient is divided by this (0: n), e.g. the
                                  whole batch when these n rows are part of it */
    int64_t first;             /* the batch index of row 0 (messages) */
    int nthreads;
} oc_loss_args;

typedef struct oc_loss_result {
    double loss;               /* mean over the batch */
    size_t correct;            /* argmax (or threshold 0.5) matches */
} oc_loss_result;

/* Fails (ONNXC_ERR_SHAPE) on a label outside [0, k). */
onnxc_status oc_loss_compute(const oc_loss_args *a, oc_loss_result *r, onnxc_error *err);

/* Keras's clipping epsilon for probabilities (backend.epsilon()). */
#define OC_LOSS_EPSILON 1e-7f

#endif
