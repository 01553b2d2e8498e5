/*
 * Where a training step's parameter gradients are cut in two.
 *
 * With two threads, a step on a batch of n rows runs fastest as two shards
 * of rows side by side (shards.h): each thread runs forward and backward on
 * its own rows, in its own cache, and the two parameter gradients are added.
 * That sum is a different rounding than one sum over all n rows, and speed
 * must never change results. So the rule is a property of the batch and the
 * graph, never of the thread count: when a step can be sharded at row `cut`,
 * every run of it — one thread, two, or more — sums each parameter gradient
 * as (rows [0, cut)) + (rows [cut, n)). Unsharded steps get this from the
 * fused Dense backward (ops/dense_train.c, oc_op_ctx.grad_row_cut: each dW
 * GEMM in two K ranges, the second added to the first, and db likewise),
 * which computes bit for bit what the shards compute and add.
 *
 * A step is cut when (oc_grad_row_cut):
 *   - 2 * OC_CUT_MIN_ROWS <= n <= 2 * OC_CUT_MAX_ROWS: halves big enough to
 *     be worth a thread, and no longer than one K chunk of oc_sgemm_fast
 *     (256), so that a half's dW is one register sum, the same in a shard
 *     and in the unsharded GEMM;
 *   - the graph's rows are independent (oc_rows_independent): row i of every
 *     value depends on row i of the input only;
 *   - every parameter gradient comes from a fused Dense layer that writes it
 *     (its only contributor), as W or bias, with more than 4 rows in its dW
 *     GEMM (below that the GEMM is a GEMV that interleaves partial sums);
 *   - nothing random (Dropout draws a mask over the whole batch) and at
 *     most OC_CUT_MAX_PARAMS parameters (a second gradient buffer).
 * Distributed steps, which sum their gradients during backward, are never
 * cut (the trainer's decision, per step: a trainer can join a group later).
 */
#ifndef OC_TRAIN_ROW_CUT_H
#define OC_TRAIN_ROW_CUT_H

#include "train_plan.h"

#define OC_CUT_MIN_ROWS 64
#define OC_CUT_MAX_ROWS 256
#define OC_CUT_MAX_PARAMS ((size_t)1 << 24)

/*
 * The row at which the step of this training plan (built for its whole
 * batch, tp->batch rows) cuts its parameter gradients, or 0: one sum.
 * is_param: [n_values]; params: the parameter count. On 0, *why (if not
 * NULL) says what keeps the batch whole.
 */
int64_t oc_grad_row_cut(const oc_train_plan *tp, const uint8_t *is_param, size_t params, char *why,
                        size_t why_size);

/*
 * Can this plan's forward be run on any split of the batch rows and give,
 * row for row, what it gives on the whole batch? The plan was built for
 * `rows` rows; `depends` is scratch of [n_values] bytes. On false, *why says
 * which node (or input use) keeps the rows together.
 */
bool oc_rows_independent(const oc_plan *p, int64_t rows, uint8_t *depends, char *why, size_t why_size);

#endif
