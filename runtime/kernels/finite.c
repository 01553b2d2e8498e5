/* NaN/Inf scan (finite.h): a float is not finite exactly when its exponent
 * bits are all ones, an integer test that vectorizes with no dependency
 * chain between elements (a float sum would serialize on add latency). */
#include "finite.h"

#include <string.h>

#include "multiversion.h"

/* 1 when x is NaN or +-Inf (all exponent bits set), else 0. */
static inline __attribute__((always_inline)) uint32_t nonfinite(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
}

static inline __attribute__((always_inline)) void
oc_nonfinite_any_body(const float *restrict x, int64_t n, uint32_t *restrict any)
{
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad |= nonfinite(x[i]);
    *any = bad;
}

OC_MULTIVERSION(oc_nonfinite_any, (const float *x, int64_t n, uint32_t *any), (x, n, any))

static inline __attribute__((always_inline)) void
oc_nonfinite_any_2d_body(const float *restrict x, int64_t rows, int64_t cols, int64_t ld, uint32_t *restrict any)
{
    uint32_t bad = 0;
    for (int64_t r = 0; r < rows; r++) {
        uint32_t row_bad;
        oc_nonfinite_any_body(x + r * ld, cols, &row_bad);
        bad |= row_bad;
    }
    *any = bad;
}

OC_MULTIVERSION(oc_nonfinite_any_2d, (const float *x, int64_t rows, int64_t cols, int64_t ld, uint32_t *any),
                (x, rows, cols, ld, any))

static inline __attribute__((always_inline)) void
oc_add_nonfinite_any_body(float *restrict acc, const float *restrict b, int64_t n, uint32_t *restrict any)
{
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const float s = acc[i] + b[i];
        bad |= nonfinite(s);
        acc[i] = s;
    }
    *any = bad;
}

OC_MULTIVERSION(oc_add_nonfinite_any, (float *acc, const float *b, int64_t n, uint32_t *any), (acc, b, n, any))

bool oc_add_all_finite(float *acc, const float *b, int64_t n)
{
    uint32_t any = 0;
    oc_add_nonfinite_any(acc, b, n, &any);
    return any == 0;
}

bool oc_all_finite(const float *x, int64_t n)
{
    uint32_t any = 0;
    oc_nonfinite_any(x, n, &any);
    return any == 0;
}

bool oc_all_finite_2d(const float *x, int64_t rows, int64_t cols, int64_t ld)
{
    uint32_t any = 0;
    oc_nonfinite_any_2d(x, rows, cols, ld, &any);
    return any == 0;
}
