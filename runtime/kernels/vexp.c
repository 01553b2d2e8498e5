/*
 * oc_exp_shifted (vexp.h). exp(d) = 2^k * exp(r) with k = round(d / ln 2)
 * and r = d - k ln 2 in [-ln2/2, ln2/2]; ln 2 is split in two so that k ln 2
 * is exact; exp(r) is Cephes' expf polynomial (degree 5, ~1 ulp); 2^k is
 * built in the exponent field, valid for k in [-126, 0], i.e. d down to
 * -87.33. Written as plain per-element C so each family's copy vectorizes.
 */
#include "vexp.h"

#include <string.h>

#include "multiversion.h"

#define EXP_MIN_ARG (-87.33654f) /* ln(2^-126): the smallest normal result */

static inline __attribute__((always_inline)) void oc_exp_shifted_body(float *y, const float *x, float shift,
                                                                     int64_t n)
{
    /* Element i reads x[i] and writes y[i] only: no dependence across
     * iterations, even in place (y == x). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC ivdep
#endif
    for (int64_t i = 0; i < n; i++) {
        const float d = x[i] - shift;
        /* k = round(d * log2(e)) by the 1.5 * 2^23 trick: the float sum's low
         * mantissa bits hold k, read back as an integer. */
        const float big = d * 1.44269504088896341f + 12582912.0f;
        uint32_t kb;
        memcpy(&kb, &big, sizeof kb);
        const float k = big - 12582912.0f;
        const float r = (d - k * 0.693359375f) - k * -2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        const float er = p * r * r + r + 1.0f;
        /* 2^k: (k + 127) in the exponent field; kb - 0x4B400000 = k. In
         * unsigned arithmetic: out of range (then the select below drops
         * it) the bits wrap instead of overflowing. */
        const uint32_t bits = (kb - 0x4B400000u + 127u) << 23;
        float scale;
        memcpy(&scale, &bits, sizeof scale);
        const float v = er * scale;
        y[i] = d < EXP_MIN_ARG ? 0.0f : v;
    }
}

OC_MULTIVERSION(oc_exp_shifted, (float *y, const float *x, float shift, int64_t n), (y, x, shift, n))
