/*
 * uint8 -> float conversion of training batches (convert_u8.h), per kernel
 * family (cpu_features.h).
 *
 * A vector division is the slow part (a zmm divide issues every ~10 cycles),
 * so the AVX copies compute q = x * (1/255) and correct it once with two
 * FMAs: r = x - q*255 (exact), q + r/255. That is the correctly rounded
 * x / 255 for every one of the 256 inputs (tests/test_kernels_misc.c checks
 * each family against a true division). Without hardware FMA, fmaf would be
 * a libm call, so the portable copy divides.
 */
#include "convert_u8.h"

#include "cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
static inline __attribute__((always_inline)) void
fma_body(const uint8_t *restrict src, float *restrict dst, int64_t n)
{
    const float inv = 1.0f / 255.0f;
    for (int64_t i = 0; i < n; i++) {
        const float x = (float)src[i], q = x * inv;
        dst[i] = __builtin_fmaf(__builtin_fmaf(-q, 255.0f, x), inv, q);
    }
}

__attribute__((target("avx512f,fma"))) static void
convert_avx512(const uint8_t *src, float *dst, int64_t n)
{
    fma_body(src, dst, n);
}

__attribute__((target("avx2,fma"))) static void
convert_avx2(const uint8_t *src, float *dst, int64_t n)
{
    fma_body(src, dst, n);
}
#endif

static void convert_portable(const uint8_t *restrict src, float *restrict dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = (float)src[i] / 255.0f;
}

void oc_u8_to_unit_float(const uint8_t *src, float *dst, int64_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    switch (oc_cpu_isa()) {
    case OC_ISA_AVX512: convert_avx512(src, dst, n); return;
    case OC_ISA_AVX2: convert_avx2(src, dst, n); return;
    default: break;
    }
#endif
    convert_portable(src, dst, n);
}
