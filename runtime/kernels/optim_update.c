/*
 * Optimizer update kernels (optim_update.h): one portable body compiled for
 * each kernel family (multiversion.h), vectorized 4, 8 or 16 wide. This file
 * is built with -fno-math-errno so that sqrtf is one instruction.
 *
 * Adam is bound by the divider, which its sqrt and division share: on Zen 4
 * a zmm vsqrtps takes 2.77 ns, a vdivps 1.67 ns and the two 4.43 ns a
 * vector of 16 (independent chains, measured alone; bench/peak_fma
 * --divider times the pair in every training report), so the seed model's
 * 55k parameters need >= 15 us a step. Interleaving the first layer's
 * update into the next forward pass (bound by loads, its divider idle),
 * 1, 2 or 4 vectors after each row's walk, saved nothing: forward and
 * update 107.7, 109.1 and 126.9 us interleaved against 108.7, 111.6 and
 * 122.9 apart (alternating in one process).
 */
#include "optim_update.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "multiversion.h"

static inline __attribute__((always_inline)) void
oc_optim_update_body(const oc_optim_coef *c, float *restrict w, const float *restrict g,
                     float *restrict m, float *restrict v, int64_t n)
{
    const float lr = c->lr, eps = c->eps, mom = c->momentum, rho = c->rho;
    switch (c->kind) {
    case ONNXC_OPT_SGD:
        for (int64_t j = 0; j < n; j++) w[j] -= lr * g[j];
        break;
    case ONNXC_OPT_MOMENTUM:
        /* velocity = momentum * velocity - lr * g; w += velocity */
        for (int64_t j = 0; j < n; j++) {
            m[j] = mom * m[j] - lr * g[j];
            w[j] += m[j];
        }
        break;
    case ONNXC_OPT_NESTEROV:
        /* w += momentum * velocity - lr * g, with the updated velocity */
        for (int64_t j = 0; j < n; j++) {
            m[j] = mom * m[j] - lr * g[j];
            w[j] += mom * m[j] - lr * g[j];
        }
        break;
    case ONNXC_OPT_ADAM:
    case ONNXC_OPT_ADAMW: {
        const float alpha = c->alpha, omb1 = 1.0f - c->b1, omb2 = 1.0f - c->b2;
        const float keep = 1.0f - c->decay; /* AdamW decays w first, decoupled */
        for (int64_t j = 0; j < n; j++) {
            const float gj = g[j];
            const float mj = m[j] + (gj - m[j]) * omb1;
            const float vj = v[j] + (gj * gj - v[j]) * omb2;
            m[j] = mj;
            v[j] = vj;
            w[j] = w[j] * keep - alpha * mj / (sqrtf(vj) + eps);
        }
        break;
    }
    case ONNXC_OPT_RMSPROP:
        for (int64_t j = 0; j < n; j++) {
            m[j] = rho * m[j] + (1.0f - rho) * g[j] * g[j];
            w[j] -= lr * g[j] / sqrtf(m[j] + eps);
        }
        break;
    case ONNXC_OPT_ADAGRAD:
        for (int64_t j = 0; j < n; j++) {
            m[j] += g[j] * g[j];
            w[j] -= lr * g[j] / sqrtf(m[j] + eps);
        }
        break;
    }
}

OC_MULTIVERSION(oc_optim_update,
                (const oc_optim_coef *c, float *w, const float *g, float *m, float *v, int64_t n),
                (c, w, g, m, v, n))

static inline __attribute__((always_inline)) void
oc_optim_update_2d_body(const oc_optim_coef *c, int64_t rows, int64_t cols, float *w, int64_t ldw,
                        const float *g, float *m, float *v, int64_t ld)
{
    for (int64_t r = 0; r < rows; r++)
        oc_optim_update_body(c, w + r * ldw, g + r * ld, m ? m + r * ld : NULL, v ? v + r * ld : NULL, cols);
}

OC_MULTIVERSION(oc_optim_update_2d,
                (const oc_optim_coef *c, int64_t rows, int64_t cols, float *w, int64_t ldw, const float *g,
                 float *m, float *v, int64_t ld),
                (c, rows, cols, w, ldw, g, m, v, ld))

/* Floats updated at once in oc_optim_update_streamed: a chunk of w in L1. */
#define STREAM_CHUNK 256

/* dst[0..n) = src[0..n), 16-byte stores bypassing the cache where dst is
 * aligned for them. */
static void stream_floats(float *dst, const float *src, int64_t n)
{
#ifdef __SSE2__
    int64_t j = 0;
    for (; j < n && ((uintptr_t)(dst + j) & 15); j++) dst[j] = src[j];
    for (; j + 4 <= n; j += 4) _mm_stream_ps(dst + j, _mm_loadu_ps(src + j));
    for (; j < n; j++) dst[j] = src[j];
#else
    memcpy(dst, src, (size_t)n * sizeof(float));
#endif
}

void oc_optim_update_streamed(const oc_optim_coef *c, float *w, const float *g, float *m, float *v,
                              int64_t n)
{
    /* The same kernel on a copy of each chunk of w, then the chunk streamed
     * back: identical arithmetic, only the stores of w differ. */
    _Alignas(64) float chunk[STREAM_CHUNK];
    for (int64_t j = 0; j < n; j += STREAM_CHUNK) {
        const int64_t len = n - j < STREAM_CHUNK ? n - j : STREAM_CHUNK;
        memcpy(chunk, w + j, (size_t)len * sizeof(float));
        oc_optim_update(c, chunk, g + j, m ? m + j : NULL, v ? v + j : NULL, len);
        stream_floats(w + j, chunk, len);
    }
#ifdef __SSE2__
    _mm_sfence(); /* the streamed stores are visible before the caller's barrier */
#endif
}

void oc_optim_update_rows_streamed(const oc_optim_coef *c, int64_t rows, int64_t len, float *w, int64_t ldw,
                                   const float *g, float *m, float *v)
{
    if (ldw == len) { /* the rows are one contiguous range */
        oc_optim_update_streamed(c, w, g, m, v, rows * len);
        return;
    }
    if (len > STREAM_CHUNK) { /* rows longer than a chunk: one at a time */
        for (int64_t r = 0; r < rows; r++) {
            const int64_t at = r * len;
            oc_optim_update_streamed(c, w + r * ldw, g + at, m ? m + at : NULL, v ? v + at : NULL, len);
        }
        return;
    }
    /* Whole rows gathered into a chunk, updated as one range, streamed back. */
    const int64_t per = STREAM_CHUNK / len;
    _Alignas(64) float chunk[STREAM_CHUNK];
    for (int64_t r0 = 0; r0 < rows; r0 += per) {
        const int64_t nr = rows - r0 < per ? rows - r0 : per, at = r0 * len;
        for (int64_t i = 0; i < nr; i++) memcpy(chunk + i * len, w + (r0 + i) * ldw, (size_t)len * sizeof(float));
        oc_optim_update(c, chunk, g + at, m ? m + at : NULL, v ? v + at : NULL, nr * len);
        for (int64_t i = 0; i < nr; i++) stream_floats(w + (r0 + i) * ldw, chunk + i * len, len);
    }
#ifdef __SSE2__
    _mm_sfence(); /* the streamed stores are visible before the caller's barrier */
#endif
}
