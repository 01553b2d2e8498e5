/*
 * exp() of many floats at once, for Softmax.
 *
 * oc_exp_shifted: y[i] = exp(x[i] - shift) for i in [0, n), where every
 * x[i] - shift is <= 0 or NaN (shift = the max of x, as Softmax does it).
 * Relative error <= 2 ulp of float over (-87.3, 0] (test_kernels_misc
 * sweeps it against double exp); arguments below -87.33 give 0 (the exact
 * value is < 1.2e-38); NaN gives NaN. y may be x, or must not overlap it.
 * Vectorized per kernel family (multiversion.h): the families may differ in
 * the last bit, thread counts never do.
 */
#ifndef OC_VEXP_H
#define OC_VEXP_H

#include <stdint.h>

void oc_exp_shifted(float *y, const float *x, float shift, int64_t n);

#endif
