/*
 * Optimizer update kernels (optim_update.h): one portable body compiled for
 * each kernel family (multiversion.h), vectorized 4, 8 or 16 wide. This file
 * is built with -fno-math-errno so that sqrtf is one instruction.
 */
#include "optim_update.h"

#include <math.h>

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
