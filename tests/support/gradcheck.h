/*
 * Finite-difference check of an op's backward pass.
 *
 * For a node built with node_builder and concrete inputs, draws a random
 * upstream gradient dY for every output, takes L = sum_k <Y_k, dY_k>, and
 * compares the op's backward (dL/dX_i, accumulated into zeroed buffers) with
 * central differences (L(x + h) - L(x - h)) / 2h, element by element, for
 * every input whose bit is set in `check`. Inputs may be float or double;
 * L is summed in double. The caller keeps test points away from kinks
 * (|x| >= a few h for Relu, Abs, Clip bounds, ...).
 *
 * Also checks that backward ADDS: running it twice must double the result.
 */
#ifndef GC_GRADCHECK_H
#define GC_GRADCHECK_H

#include <stdbool.h>

#include "node_builder.h"

typedef struct gc_options {
    double h;            /* step, e.g. 1e-3 for float, 1e-6 for double */
    double tol;          /* |num - ana| <= tol * max(1, |num|, |ana|) */
    bool training;       /* run forward with ctx->training (Dropout, BatchNorm) */
    unsigned seed;       /* for dY */
} gc_options;

/* Returns true when every checked element matches; otherwise false with the
 * first mismatch (input, element, analytic, numeric) in msg. */
bool gc_check(nb_node *b, const oc_tensor *const *in, uint32_t check, const gc_options *opt,
              char *msg, size_t msg_size);

#endif
