/*
 * The epilogue of sgemm_internal.h on one AVX-512 vector of accumulators,
 * and the lane masks of a partial vector, shared by the dense tile kernels
 * (sgemm_avx512.c) and the zero-skipping kernels (sgemm_sparse_avx512.c):
 * the two must round alike for the sparse ones to give the dense results
 * bit for bit (sgemm_sparse.h), so they run the same code. Include only
 * from files built with -mavx512f.
 *
 *     x = acc;  x *= alpha (scale);  x = beta*C + x by an FMA (load_c);
 *     x += bias (zero when none);  x = max(0, x) (relu);  store lanes m
 */
#ifndef OC_SGEMM_AVX512_EPILOGUE_H
#define OC_SGEMM_AVX512_EPILOGUE_H

#include <immintrin.h>
#include <stdint.h>

/* Lanes of vector v (of 16) that hold one of the n valid columns. */
static inline __attribute__((always_inline)) __mmask16 oc_avx512_lane_mask(int64_t n, int v)
{
    const int64_t cnt = n - 16 * (int64_t)v;
    return cnt >= 16 ? (__mmask16)0xFFFF : cnt <= 0 ? (__mmask16)0 : (__mmask16)((1u << cnt) - 1);
}

static inline __attribute__((always_inline)) void
oc_avx512_epilogue(__m512 x, float *c, __mmask16 m, int scale, __m512 alpha, int load_c, __m512 beta,
                   __m512 bias, int relu)
{
    if (scale) x = _mm512_mul_ps(x, alpha);
    if (load_c) x = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m, c), x);
    x = _mm512_add_ps(x, bias);
    /* max(0, x): the second operand is returned for NaN, so NaN stays. */
    if (relu) x = _mm512_max_ps(_mm512_setzero_ps(), x);
    _mm512_mask_storeu_ps(c, m, x);
}

#endif
