/*
 * One portable loop, compiled for three kernel families.
 *
 *     OC_MULTIVERSION(oc_scale, (float *x, int64_t n, float s), (x, n, s))
 *
 * after a `static inline` void function oc_scale_body with the same
 * parameters defines void oc_scale(), which calls a copy of the body compiled for
 * AVX-512, AVX2 or baseline x86-64, by oc_cpu_isa() (cpu_features.h). The
 * compiler vectorizes each copy for its target; no intrinsics needed. For
 * element-wise loops whose every output depends on its own inputs only. The
 * AVX copies may contract a*b+c into an FMA, so results can differ in the
 * last bit between families (never between thread counts).
 */
#ifndef OC_MULTIVERSION_H
#define OC_MULTIVERSION_H

#include "cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define OC_MULTIVERSION(NAME, PARAMS, ARGS)                                              \
    __attribute__((target("avx512f,fma"))) static void NAME##_avx512 PARAMS              \
    {                                                                                    \
        NAME##_body ARGS;                                                                \
    }                                                                                    \
    __attribute__((target("avx2,fma"))) static void NAME##_avx2 PARAMS                   \
    {                                                                                    \
        NAME##_body ARGS;                                                                \
    }                                                                                    \
    static void NAME##_portable PARAMS { NAME##_body ARGS; }                             \
    void NAME PARAMS                                                                     \
    {                                                                                    \
        switch (oc_cpu_isa()) {                                                          \
        case OC_ISA_AVX512: NAME##_avx512 ARGS; break;                                   \
        case OC_ISA_AVX2: NAME##_avx2 ARGS; break;                                       \
        default: NAME##_portable ARGS; break;                                            \
        }                                                                                \
    }
#else
#define OC_MULTIVERSION(NAME, PARAMS, ARGS)                                              \
    void NAME PARAMS { NAME##_body ARGS; }
#endif

#endif
