/* Priming the OpenMP pool before the environment changes (fp_env.h). */
#include "fp_env.h"

void oc_fp_env_prime_pool(int threads)
{
#ifdef _OPENMP
    /* Threads this calling thread's pool is known to hold (libgomp keeps a
     * pool per thread that opens regions, and keeps its threads). */
    static _Thread_local int primed = 1;
    if (threads <= primed) return;
    /* A region with a body the compiler cannot drop (GCC removes an
     * empty one, creating no thread). */
#pragma omp parallel num_threads(threads)
    __asm__ volatile("" : : : "memory");
    primed = threads;
#else
    (void)threads;
#endif
}
