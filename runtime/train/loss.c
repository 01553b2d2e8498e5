#include "loss.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "kernels/multiversion.h"
#include "kernels/vexp.h"
#include "parallel.h"

static int64_t argmax_row(const float *row, int64_t k)
{
    int64_t best = 0;
    for (int64_t j = 1; j < k; j++)
        if (row[j] > row[best]) best = j;
    return best;
}

/* Logits whose exps softmax_ce_row computes at once (its scratch). */
#define EXP_CHUNK 256

static float max_row(const float *z, int64_t k)
{
    float m = z[0];
    for (int64_t j = 1; j < k; j++) m = z[j] > m ? z[j] : m;
    return m;
}

/* Softmax cross-entropy from logits: loss = logsumexp(z) - z[label];
 * dz = softmax(z) - onehot, scaled by 1/n. Stable: shifts by m = max(z).
 * e: scratch of EXP_CHUNK floats. */
static double softmax_ce_row(const float *z, int64_t k, float m, const int64_t *label, const float *target,
                             float *grad, float scale, float *e)
{
    /* exp(z[j] - m) in float, vectorized (within 2 ulp: kernels/vexp.h),
     * once per logit: the sum for the loss and, over the sum, the
     * probabilities for the gradient. Rows longer than the scratch take
     * their exps again for the gradient, with the same result. The exps
     * were most of the loss's time at 10 classes in double. */
    double sum = 0.0;
    for (int64_t j0 = 0; j0 < k; j0 += EXP_CHUNK) {
        const int64_t n = k - j0 < EXP_CHUNK ? k - j0 : EXP_CHUNK;
        oc_exp_shifted(e, z + j0, m, n);
        for (int64_t j = 0; j < n; j++) sum += e[j];
    }
    double lse = log(sum) + m;
    double loss = 0.0;
    if (label) loss = lse - z[*label];
    else
        for (int64_t j = 0; j < k; j++) loss += (double)target[j] * (lse - z[j]);
    if (grad) {
        double tsum = 0.0, inv = 1.0 / sum;
        if (!label)
            for (int64_t j = 0; j < k; j++) tsum += target[j];
        for (int64_t j0 = 0; j0 < k; j0 += EXP_CHUNK) {
            const int64_t n = k - j0 < EXP_CHUNK ? k - j0 : EXP_CHUNK;
            if (k > EXP_CHUNK) oc_exp_shifted(e, z + j0, m, n);
            for (int64_t i = 0; i < n; i++) {
                const int64_t j = j0 + i;
                double p = (double)e[i] * inv;
                double t = label ? (j == *label) : target[j];
                /* d/dz of sum_j t_j (lse - z_j) = p * sum(t) - t */
                double g = label ? p - t : p * tsum - t;
                grad[j] += (float)(g * scale);
            }
        }
    }
    return loss;
}

/* Rows of the usual classifier at once: softmax cross-entropy from logits
 * with integer labels and at most SPARSE_CE_MAX_K classes, a block of
 * CE_LANES rows at a time, copied column by column so that every step is a
 * loop over the block's rows that the compiler vectorizes (one copy per
 * kernel family, multiversion.h). A row at a time, its max, double sum,
 * log and division were one chain of dependent scalar operations, ~350
 * instructions a row at 10 classes; 128 rows of 10 took 3.9 us, and 3.0 us
 * this way (Zen 4, AVX-512, the two alternating in one process; the scalar
 * log of each row is ~1 us of that). The arithmetic of each row is
 * softmax_ce_row's, operation for operation: the max by argmax_row's test,
 * exps by oc_exp_shifted, their sum in double in ascending j, the log, p =
 * e * (1 / sum), g = p - t; this file is built without FMA contraction, so
 * no family fuses a multiply and an add (CMake), and the results are the
 * per-row path's bit for bit. NaN logits give the same NaNs: a NaN at j = 0
 * is the max and argmax, elsewhere it is skipped by both. */
#define CE_LANES 16
#define SPARSE_CE_MAX_K 64

typedef struct ce_block {
    float z[SPARSE_CE_MAX_K][CE_LANES]; /* logits, [class][row]; then z - max, then its exp */
    float m[CE_LANES];                  /* each row's max logit */
    int32_t best[CE_LANES];             /* its first index */
    int32_t label[CE_LANES];
    double sum[CE_LANES];               /* sum of the exps */
} ce_block;

/* The block's logits from z [CE_LANES, k] (a strided gather per class),
 * each row's max and argmax, then z - max. */
static inline __attribute__((always_inline)) void ce_shift_body(ce_block *b, const float *restrict z, int64_t k)
{
    for (int64_t j = 0; j < k; j++)
        for (int i = 0; i < CE_LANES; i++) b->z[j][i] = z[i * k + j];
    for (int i = 0; i < CE_LANES; i++) b->m[i] = b->z[0][i], b->best[i] = 0;
    for (int64_t j = 1; j < k; j++)
        for (int i = 0; i < CE_LANES; i++) {
            const float v = b->z[j][i];
            const int above = v > b->m[i]; /* argmax_row's test: false for NaN */
            b->m[i] = above ? v : b->m[i];
            b->best[i] = above ? (int32_t)j : b->best[i];
        }
    for (int64_t j = 0; j < k; j++)
        for (int i = 0; i < CE_LANES; i++) b->z[j][i] -= b->m[i];
}

OC_MULTIVERSION(ce_shift, (ce_block *b, const float *z, int64_t k), (b, z, k))

/* The exps' sums, in double, in ascending j. */
static inline __attribute__((always_inline)) void ce_sum_body(ce_block *b, int64_t k)
{
    for (int i = 0; i < CE_LANES; i++) b->sum[i] = 0.0;
    for (int64_t j = 0; j < k; j++)
        for (int i = 0; i < CE_LANES; i++) b->sum[i] += b->z[j][i];
}

OC_MULTIVERSION(ce_sum, (ce_block *b, int64_t k), (b, k))

/* grad [rows, k] += (p - onehot) * scale with p = e * (1 / sum), for the
 * block's first `rows` rows (a strided scatter per class). */
static inline __attribute__((always_inline)) void ce_grad_body(ce_block *b, int64_t k, float scale,
                                                              float *restrict grad, int rows)
{
    double inv[CE_LANES];
    float g[SPARSE_CE_MAX_K][CE_LANES];
    for (int i = 0; i < CE_LANES; i++) inv[i] = 1.0 / b->sum[i];
    for (int64_t j = 0; j < k; j++)
        for (int i = 0; i < CE_LANES; i++)
            g[j][i] = (float)(((double)b->z[j][i] * inv[i] - (double)(b->label[i] == j)) * scale);
    if (rows == CE_LANES) /* the same additions either way; this order vectorizes */
        for (int64_t j = 0; j < k; j++)
            for (int i = 0; i < CE_LANES; i++) grad[i * k + j] += g[j][i];
    else
        for (int i = 0; i < rows; i++)
            for (int64_t j = 0; j < k; j++) grad[i * k + j] += g[j][i];
}

OC_MULTIVERSION(ce_grad, (ce_block *b, int64_t k, float scale, float *grad, int rows), (b, k, scale, grad, rows))

static size_t sparse_softmax_ce_rows(const oc_loss_args *a, int64_t lo, int64_t hi, float scale)
{
    const int64_t k = a->k;
    ce_block b;
    size_t correct = 0;
    for (int64_t r0 = lo; r0 < hi; r0 += CE_LANES) {
        const int rows = hi - r0 < CE_LANES ? (int)(hi - r0) : CE_LANES;
        const float *z = a->pred + r0 * k;
        float tail[CE_LANES * SPARSE_CE_MAX_K]; /* a short block, its other rows zero */
        if (rows < CE_LANES) {
            memset(tail, 0, sizeof tail);
            memcpy(tail, z, (size_t)(rows * k) * sizeof(float));
        }
        for (int i = 0; i < CE_LANES; i++)
            b.label[i] = i < rows ? (int32_t)a->labels[r0 + i] : 0; /* in [0, k): checked by oc_loss_compute */
        ce_shift(&b, rows < CE_LANES ? tail : z, k);
        oc_exp_shifted(b.z[0], b.z[0], 0.0f, k * CE_LANES);
        ce_sum(&b, k);
        for (int i = 0; i < rows; i++) {
            correct += b.best[i] == b.label[i];
            const double lse = log(b.sum[i]) + b.m[i];
            a->row_loss[r0 + i] = lse - z[i * k + b.label[i]];
        }
        if (!a->grad) continue;
        ce_grad(&b, k, scale, a->grad + r0 * k, rows);
    }
    return correct;
}

/* Cross-entropy on probabilities (graph does not end in Softmax): Keras
 * normalizes rows to sum 1, clips to [eps, 1 - eps] and takes -sum t log p. */
static double prob_ce_row(const float *p, int64_t k, const int64_t *label, const float *target,
                          float *grad, float scale)
{
    double s = 0.0;
    for (int64_t j = 0; j < k; j++) s += p[j];
    if (s <= 0) s = 1;
    double loss = 0.0;
    for (int64_t j = 0; j < k; j++) {
        double t = label ? (j == *label) : target[j];
        if (t == 0) continue;
        double q = p[j] / s;
        double qc = q < OC_LOSS_EPSILON ? OC_LOSS_EPSILON : q > 1 - OC_LOSS_EPSILON ? 1 - OC_LOSS_EPSILON : q;
        loss -= t * log(qc);
    }
    if (grad) {
        /* d/dp_j of -sum_i t_i log(p_i / s) = -t_j/p_j + sum(t)/s (unclipped region) */
        double tsum = 0.0;
        for (int64_t j = 0; j < k; j++) tsum += label ? (j == *label) : target[j];
        for (int64_t j = 0; j < k; j++) {
            double t = label ? (j == *label) : target[j];
            double q = p[j] / s;
            double g = tsum / s;
            if (t != 0 && q > OC_LOSS_EPSILON && q < 1 - OC_LOSS_EPSILON) g -= t / p[j];
            grad[j] += (float)(g * scale);
        }
    }
    return loss;
}

/* Binary cross-entropy, averaged over the k outputs as Keras does. */
static double bce_row(const float *x, int64_t k, const float *t, bool logits, float *grad, float scale)
{
    double loss = 0.0;
    for (int64_t j = 0; j < k; j++) {
        double z = x[j], y = t[j];
        if (logits) {
            /* max(z,0) - z*y + log(1 + exp(-|z|)) */
            loss += (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
            if (grad) grad[j] += (float)((1.0 / (1.0 + exp(-z)) - y) * scale / (double)k);
        } else {
            double p = z < OC_LOSS_EPSILON ? OC_LOSS_EPSILON : z > 1 - OC_LOSS_EPSILON ? 1 - OC_LOSS_EPSILON : z;
            loss -= y * log(p) + (1 - y) * log(1 - p);
            if (grad && z > OC_LOSS_EPSILON && z < 1 - OC_LOSS_EPSILON)
                grad[j] += (float)((p - y) / (p * (1 - p)) * scale / (double)k);
        }
    }
    return loss / (double)k;
}

static double mse_row(const float *x, int64_t k, const float *t, float *grad, float scale)
{
    double loss = 0.0;
    for (int64_t j = 0; j < k; j++) {
        double d = (double)x[j] - t[j];
        loss += d * d;
        if (grad) grad[j] += (float)(2.0 * d * scale / (double)k);
    }
    return loss / (double)k;
}

/* Loss (into a->row_loss), gradient and correct count of rows [lo, hi). */
static size_t loss_rows(const oc_loss_args *a, int64_t lo, int64_t hi, float scale)
{
    const int64_t k = a->k;
    if (a->kind == ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY && a->from_logits && a->labels &&
        k <= SPARSE_CE_MAX_K)
        return sparse_softmax_ce_rows(a, lo, hi, scale);
    float e[EXP_CHUNK];
    size_t correct = 0;
    for (int64_t i = lo; i < hi; i++) {
        const float *x = a->pred + i * k;
        float *g = a->grad ? a->grad + i * k : NULL;
        const int64_t *label = a->labels ? &a->labels[i] : NULL;
        const float *t = a->targets ? a->targets + i * k : NULL;
        double l = 0.0;
        switch (a->kind) {
        case ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
        case ONNXC_LOSS_CATEGORICAL_CROSSENTROPY:
            l = a->from_logits ? softmax_ce_row(x, k, max_row(x, k), label, t, g, scale, e)
                               : prob_ce_row(x, k, label, t, g, scale);
            correct += argmax_row(x, k) == (label ? *label : argmax_row(t, k));
            break;
        case ONNXC_LOSS_BINARY_CROSSENTROPY: {
            l = bce_row(x, k, t, a->from_logits, g, scale);
            size_t ok = 1;
            for (int64_t j = 0; j < k; j++) {
                bool pos = a->from_logits ? x[j] > 0 : x[j] > 0.5f;
                ok &= pos == (t[j] > 0.5f);
            }
            correct += ok;
            break;
        }
        case ONNXC_LOSS_MSE:
            l = mse_row(x, k, t, g, scale);
            break;
        }
        a->row_loss[i] = l;
    }
    return correct;
}

onnxc_status oc_loss_compute(const oc_loss_args *a, oc_loss_result *r, onnxc_error *err)
{
    const int64_t n = a->n, k = a->k;
    if (a->labels)
        for (int64_t i = 0; i < n; i++)
            if (a->labels[i] < 0 || a->labels[i] >= k)
                return oc_fail(err, ONNXC_ERR_SHAPE,
                               "label %lld of sample %lld is outside [0, %lld): the model has %lld outputs",
                               (long long)a->labels[i], (long long)(a->first + i), (long long)k,
                               (long long)k);
    const int64_t divisor = a->divisor > 0 ? a->divisor : n > 0 ? n : 1;
    const float scale = 1.0f / (float)divisor;
    size_t correct = 0;
    /* Rows are independent; each chunk adds its exact integer count. */
    const int parts = n * k > 65536 && a->nthreads > 1 ? a->nthreads : 1;
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(n, parts, c, &lo, &hi);
        size_t chunk_correct = loss_rows(a, lo, hi, scale);
        __atomic_fetch_add(&correct, chunk_correct, __ATOMIC_RELAXED);
    });
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += a->row_loss[i];
    r->loss = sum / (double)(n > 0 ? n : 1);
    r->correct = correct;
    return ONNXC_OK;
}
