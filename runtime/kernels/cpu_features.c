/*
 * Run-time CPU detection for kernel dispatch (see cpu_features.h).
 *
 * Detection runs once; the result is cached in an atomic int so concurrent
 * first calls are harmless (they compute the same value). The compiler
 * builtins read CPUID and, for AVX/AVX-512, also check that the OS enabled
 * the wider register state (XCR0), which a bare CPUID test would miss.
 *
 * ONNXC_HAVE_AVX512_KERNELS / ONNXC_HAVE_AVX2_KERNELS are defined by
 * cmake/Kernels.cmake when the compiler accepted the flags for those files;
 * without them the family is never selected, whatever the CPU.
 */
#include "cpu_features.h"

#include <stdlib.h>
#include <string.h>

/* -1: not decided yet; else an oc_isa. */
static int active_isa = -1;
static int supported_isa = -1;

static int detect(void)
{
    int best = OC_ISA_PORTABLE;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
#if defined(ONNXC_HAVE_AVX2_KERNELS)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = OC_ISA_AVX2;
#endif
#if defined(ONNXC_HAVE_AVX512_KERNELS)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2"))
        best = OC_ISA_AVX512;
#endif
#endif
    return best;
}

oc_isa oc_cpu_isa_supported(void)
{
    int s = __atomic_load_n(&supported_isa, __ATOMIC_RELAXED);
    if (s < 0) {
        s = detect();
        __atomic_store_n(&supported_isa, s, __ATOMIC_RELAXED);
    }
    return (oc_isa)s;
}

static int from_env(int best)
{
    const char *v = getenv("ONNXC_CPU");
    if (!v || !*v) return best;
    int want = best;
    if (!strcmp(v, "avx512")) want = OC_ISA_AVX512;
    else if (!strcmp(v, "avx2")) want = OC_ISA_AVX2;
    else if (!strcmp(v, "portable")) want = OC_ISA_PORTABLE;
    return want < best ? want : best;
}

oc_isa oc_cpu_isa(void)
{
    int a = __atomic_load_n(&active_isa, __ATOMIC_RELAXED);
    if (a < 0) {
        a = from_env(oc_cpu_isa_supported());
        __atomic_store_n(&active_isa, a, __ATOMIC_RELAXED);
    }
    return (oc_isa)a;
}

oc_isa oc_cpu_set_isa(int isa)
{
    int best = oc_cpu_isa_supported();
    int a = isa < 0 ? from_env(best) : (isa < best ? isa : best);
    __atomic_store_n(&active_isa, a, __ATOMIC_RELAXED);
    return (oc_isa)a;
}

const char *oc_isa_name(oc_isa isa)
{
    switch (isa) {
    case OC_ISA_AVX512: return "avx512";
    case OC_ISA_AVX2: return "avx2";
    default: return "portable";
    }
}
