/* Is every float finite? (the trainer's NaN/Inf guard on gradients) */
#ifndef OC_FINITE_H
#define OC_FINITE_H

#include <stdbool.h>
#include <stdint.h>

/* True when none of x [n] is NaN or +-Inf. Reads all n values (no early
 * exit: the common case is "all finite", and a branch-free scan vectorizes). */
bool oc_all_finite(const float *x, int64_t n);

/* The same over `rows` rows of `cols` floats, row r at x + r * ld. */
bool oc_all_finite_2d(const float *x, int64_t rows, int64_t cols, int64_t ld);

#endif
