/*
 * Splitting loops over threads (OpenMP), deterministically: work is cut into
 * `parts` contiguous chunks whose bounds depend only on the sizes and
 * `parts`, each chunk computed by one thread in a fixed order, so results
 * never depend on which thread ran what.
 */
#ifndef OC_PARALLEL_H
#define OC_PARALLEL_H

#include <stdint.h>

#include "fp_env.h"

/* Elementwise work below this many elements stays on one thread: starting a
 * parallel region costs more than it saves (measured scale: ~10 us). */
#define OC_EW_PARALLEL_MIN 32768

/*
 * OC_PAR_FOR(parts, c, { body }): run body for c = 0 .. parts-1, the chunks
 * spread over `parts` OpenMP threads. With parts <= 1 the body runs on the
 * calling thread without entering OpenMP at all: even a one-thread region
 * costs a futex wake in libgomp's barrier, ~3 us on this project's VMs, far
 * more than a small op's arithmetic. `continue` ends the chunk; no `break`.
 * The body may not contain preprocessor directives (it is a macro argument).
 * Workers run their chunks in the calling thread's floating-point
 * environment (fp_env.h), then return to their own.
 */
#define OC_EW_PRAGMA_(x) _Pragma(#x)
#ifdef _OPENMP
#define OC_PAR_FOR(parts, c, ...)                                                         \
    do {                                                                                  \
        const int oc_par_n_ = (parts);                                                    \
        if (oc_par_n_ <= 1) {                                                             \
            for (int c = 0; c < oc_par_n_; c++) __VA_ARGS__                               \
        } else {                                                                          \
            const oc_fp_env oc_par_env_ = oc_fp_env_get();                                \
            OC_EW_PRAGMA_(omp parallel for num_threads(oc_par_n_) schedule(static))       \
            for (int c = 0; c < oc_par_n_; c++) {                                         \
                const oc_fp_env oc_par_own_ = oc_fp_env_swap(oc_par_env_);                \
                for (int oc_par_once_ = 0; oc_par_once_ < 1; oc_par_once_++) __VA_ARGS__  \
                oc_fp_env_swap(oc_par_own_);                                              \
            }                                                                             \
        }                                                                                 \
    } while (0)
#else
#define OC_PAR_FOR(parts, c, ...)                                                         \
    do {                                                                                  \
        const int oc_par_n_ = (parts);                                                    \
        for (int c = 0; c < oc_par_n_; c++) __VA_ARGS__                                   \
    } while (0)
#endif

/* Split [0, n) into `parts` near-equal ranges; range i is [*lo, *hi). */
static inline void oc_split_range(int64_t n, int parts, int i, int64_t *lo, int64_t *hi)
{
    int64_t q = n / parts, r = n % parts;
    *lo = (int64_t)i * q + (i < r ? i : r);
    *hi = *lo + q + (i < r ? 1 : 0);
}

/* Chunks for an elementwise loop over n elements with up to nthreads threads:
 * 1 below OC_EW_PARALLEL_MIN, else nthreads. */
static inline int oc_ew_parts(int64_t n, int nthreads)
{
    return (n > OC_EW_PARALLEL_MIN && nthreads > 1) ? nthreads : 1;
}

#endif
