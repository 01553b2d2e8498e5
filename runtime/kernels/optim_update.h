/*
 * Element-wise optimizer updates (Keras formulas) over one contiguous range,
 * vectorized for the kernel family in effect (cpu_features.h). The trainer
 * calls it once per parameter tensor chunk; every element's update depends
 * only on its own w, g and state, so the split never changes a result.
 *
 * Results may differ in the last bit between families (the AVX paths
 * contract a*b+c into one FMA); within one family they are fixed.
 */
#ifndef OC_OPTIM_UPDATE_H
#define OC_OPTIM_UPDATE_H

#include <stdint.h>

#include "onnxc.h"

typedef struct oc_optim_coef {
    onnxc_optimizer_kind kind;
    float lr;                /* learning rate */
    float alpha;             /* Adam: lr * sqrt(1 - b2^t) / (1 - b1^t) */
    float b1, b2, eps;       /* Adam betas; epsilon (all but SGD) */
    float momentum, rho;     /* SGD momentum / Nesterov; RMSprop */
    float decay;             /* AdamW: lr * weight_decay */
} oc_optim_coef;

/* w [n] -= update(g [n]); m, v [n]: state slots (NULL when unused). */
void oc_optim_update(const oc_optim_coef *c, float *w, const float *g, float *m, float *v,
                     int64_t n);

/*
 * The same update, bit for bit, with the new w written by non-temporal
 * stores: they go to memory without first taking the cache lines over. For
 * weights another core has read since they were last written (two threads
 * training batch shards, train/shards.h), where a plain store must first
 * invalidate every line in the other core's cache, one at a time; measured
 * there: ~30 -> ~17 us for half the seed model's 55k parameters. Wrong for
 * weights only this core reads: they would leave its cache.
 */
void oc_optim_update_streamed(const oc_optim_coef *c, float *w, const float *g, float *m, float *v,
                              int64_t n);

/*
 * The streamed update of `rows` rows of `len` weights, row r at w + r * ldw,
 * whose gradient and state are contiguous ([rows * len] at g, m, v): for a
 * thread that keeps its columns' state in a block of its own while the
 * weights stay interleaved with another thread's in the model
 * (train/column_split.h). Bit for bit oc_optim_update on each row.
 */
void oc_optim_update_rows_streamed(const oc_optim_coef *c, int64_t rows, int64_t len, float *w, int64_t ldw,
                                   const float *g, float *m, float *v);

/*
 * The same update over a block of `rows` rows of `cols` elements: row r's
 * weights at w + r * ldw, its gradient and state at g, m, v + r * ld. For a
 * thread that owns some columns of a [rows, N] weight (train/column_split.h):
 * one call instead of one per row, the same bits as oc_optim_update on each.
 */
void oc_optim_update_2d(const oc_optim_coef *c, int64_t rows, int64_t cols, float *w, int64_t ldw,
                        const float *g, float *m, float *v, int64_t ld);

#endif
