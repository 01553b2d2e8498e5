/*
 * A 16x16 float transpose on AVX-512, shared by the kernels that write or
 * read a matrix across its rows: the zero-skipping kernels
 * (sgemm_sparse_avx512.c) and the narrow ones (sgemm_narrow_avx512.c).
 * Include only from files built with -mavx512f.
 */
#ifndef OC_SGEMM_AVX512_TRANSPOSE_H
#define OC_SGEMM_AVX512_TRANSPOSE_H

#include <immintrin.h>
#include <stdint.h>

/* dst[k * ldd + c] = src[c * lds + k] for c < rows, k < cols (both <= 16);
 * dst's other lanes of the 16x16 block get zeros. Three rounds of shuffles:
 * pairs within 128-bit lanes, quads within lanes, then lanes. */
static inline __attribute__((always_inline)) void oc_avx512_transpose16(const float *src, int64_t lds, int rows,
                                                                     int cols, float *dst, int64_t ldd)
{
    const __mmask16 cm = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
    __m512 r[16], t[16], u[16];
    for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_maskz_loadu_ps(cm, src + i * lds) : _mm512_setzero_ps();
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    /* u[4i + j], 128-bit lane L: column 4L + j of rows 4i..4i+3. */
    for (int j = 0; j < 4; j++) {
        const __m512 v02 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
        const __m512 w02 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
        const __m512 v13 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
        const __m512 w13 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
        _mm512_storeu_ps(dst + (0 + j) * ldd, _mm512_shuffle_f32x4(v02, w02, 0x88));
        _mm512_storeu_ps(dst + (8 + j) * ldd, _mm512_shuffle_f32x4(v02, w02, 0xDD));
        _mm512_storeu_ps(dst + (4 + j) * ldd, _mm512_shuffle_f32x4(v13, w13, 0x88));
        _mm512_storeu_ps(dst + (12 + j) * ldd, _mm512_shuffle_f32x4(v13, w13, 0xDD));
    }
}

#endif
