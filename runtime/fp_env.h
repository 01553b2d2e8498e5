/*
 * The floating-point environment a computation runs in, and carrying it to
 * the OpenMP threads that share the work.
 *
 * Training flushes subnormal floats to zero, as TensorFlow does around
 * every op on CPUs (so Keras models train that way): on x86, FTZ (results
 * that would be subnormal become 0) and DAZ (subnormal inputs read as 0) in
 * MXCSR. Subnormals are where decaying values end up, Adam's moment
 * estimates of weights whose inputs are mostly zero (image borders) among
 * them, and arithmetic on them is slow: on this project's machines a
 * batch-32 epoch of the seed model took 0.127 s with them and 0.114 s
 * without, and every figure a model learns stayed the same to four digits.
 *
 * MXCSR belongs to each thread, and OpenMP's pool threads start with the
 * default (IEEE, subnormals kept). So that results never depend on the
 * thread count, every parallel region in runtime/ runs its chunks in the
 * environment of the thread that opened it (parallel.h's OC_PAR_FOR, the
 * GEMM drivers, the batch shards) and restores the worker's own afterwards,
 * leaving the pool as it found it for other OpenMP code in the process. A
 * new thread starts in its creator's environment, so before switching, the
 * trainer has the pool's threads created in the caller's own
 * (oc_fp_env_prime_pool). Inference never changes the environment: it runs
 * in the caller's.
 *
 * Elsewhere than x86 the environment is not touched (oc_fp_env is 0).
 */
#ifndef OC_FP_ENV_H
#define OC_FP_ENV_H

#if defined(__SSE__) && defined(__GNUC__)
#define OC_FP_ENV_X86 1
#endif

typedef unsigned oc_fp_env;

/* MXCSR bits: flush-to-zero (15) and denormals-are-zero (6). */
#define OC_FP_ENV_FLUSH 0x8040u

/* stmxcsr/ldmxcsr as volatile asm with a memory clobber: the compiler may
 * neither merge two reads of MXCSR across a write (GCC treats the
 * _mm_getcsr builtin as a pure load and did merge them here) nor move
 * memory accesses across a switch. */
static inline oc_fp_env oc_fp_env_get(void)
{
#ifdef OC_FP_ENV_X86
    unsigned e;
    __asm__ volatile("stmxcsr %0" : "=m"(e) : : "memory");
    return e;
#else
    return 0;
#endif
}

static inline void oc_fp_env_set(oc_fp_env e)
{
#ifdef OC_FP_ENV_X86
    __asm__ volatile("ldmxcsr %0" : : "m"(e) : "memory");
#else
    (void)e;
#endif
}

/* Switch the calling thread to e; returns the environment it had. Only
 * writes MXCSR when it changes (a write waits for the FP pipeline). */
static inline oc_fp_env oc_fp_env_swap(oc_fp_env e)
{
    const oc_fp_env old = oc_fp_env_get();
    if (old != e) oc_fp_env_set(e);
    return old;
}

/* e with subnormals flushed to zero (x86); e unchanged elsewhere. */
static inline oc_fp_env oc_fp_env_flushing(oc_fp_env e)
{
#ifdef OC_FP_ENV_X86
    return e | OC_FP_ENV_FLUSH;
#else
    return e;
#endif
}

/* Have the calling thread's OpenMP pool hold `threads` threads, creating
 * any missing ones now, in the calling thread's current environment (they
 * keep it as their own). Remembers per calling thread how many it has
 * primed: one comparison once done. */
void oc_fp_env_prime_pool(int threads);

#endif
