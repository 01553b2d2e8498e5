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

/* acc[i] += b[i] for i < n (acc and b apart), in one pass with the scan:
 * true when every sum is finite. */
bool oc_add_all_finite(float *acc, const float *b, int64_t n);

#endif
