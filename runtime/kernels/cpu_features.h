/*
 * Which SIMD kernel family this process uses, decided at run time.
 *
 * The library is compiled for baseline x86-64 (or any other target); only the
 * files holding AVX2 / AVX-512 kernels get the matching -m flags (see
 * cmake/Kernels.cmake). Before calling into one of those files, code asks
 * oc_cpu_isa() which family the CPU supports:
 *
 *     OC_ISA_AVX512   AVX-512F + FMA + BMI2 (also needs the OS to save zmm
 *                     state; every AVX-512 CPU so far has BMI2)
 *     OC_ISA_AVX2     AVX2 + FMA
 *     OC_ISA_PORTABLE plain C, whatever the compiler vectorizes by itself
 *
 * The environment variable ONNXC_CPU=avx512|avx2|portable lowers the choice
 * (for testing every path on one machine); a request above what the CPU or
 * the build supports is clamped down to the best available. Tests switch
 * paths with oc_cpu_set_isa() instead of the environment.
 */
#ifndef OC_CPU_FEATURES_H
#define OC_CPU_FEATURES_H

typedef enum oc_isa {
    OC_ISA_PORTABLE = 0,
    OC_ISA_AVX2 = 1,
    OC_ISA_AVX512 = 2,
} oc_isa;

/* The best family both this CPU and this build support (ignores overrides). */
oc_isa oc_cpu_isa_supported(void);

/* The family kernels should use now: the override if one is set (clamped to
 * what is supported), else ONNXC_CPU if set and valid, else the best
 * supported. Cheap after the first call (one atomic load). */
oc_isa oc_cpu_isa(void);

/* Force a family for the rest of the process (tests, benchmarks); a negative
 * value drops the override and returns to ONNXC_CPU / detection. Returns the
 * family actually in effect, lower than `isa` when the CPU lacks it. Not
 * meant to be called while kernels run on other threads. */
oc_isa oc_cpu_set_isa(int isa);

/* "avx512", "avx2", "portable". Static string. */
const char *oc_isa_name(oc_isa isa);

#endif
