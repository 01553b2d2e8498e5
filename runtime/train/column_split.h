/*
 * Column split: the model-parallel two-thread step. When one Dense layer
 * holds most of a network's parameters (the seed model's first layer: 50k
 * of 55k), two threads split that layer's output columns: each computes its
 * columns of the forward pass, of db and of dW, and updates its columns of
 * W, b and their optimizer state. The rest of the step (the small layers,
 * the loss, their backward pass and the update of their parameters) runs on
 * thread 0 between the two halves.
 *
 * Why not batch shards (shards.h) for such a network: each shard reads all
 * the weights in its forward pass, and the update then writes half of them
 * on each core, so every step moves half the weights, half the gradients
 * and their cache lines between the cores (bench/cross_core: 15-17 us for
 * the seed model's 107 KB half, against 2.5-4 us for lines one core owns).
 * Split by columns, the big layer's W, dW, m and v never leave their core;
 * what crosses is activations: thread 1's 32 columns of the layer's output
 * going forward and of its output gradient coming back (16 KB each at batch
 * 128), and the input batch, which both threads read.
 *
 *     thread 0                          thread 1
 *     steps before the layer (if any)
 *     ---------------------------------------------------- barrier (if any)
 *     forward, columns [0, cols)        forward, columns [cols, N)
 *     ---------------------------------------------------- barrier
 *     later steps, loss, their backward
 *     ---------------------------------------------------- barrier
 *     dZ, db, dW of columns [0, cols)   the same for columns [cols, N)
 *     finite? (its part, see below)     finite? (its part)
 *     ---------------------------------------------------- barrier
 *     update: its columns of W and b,   update: its columns of W and b
 *     and every other parameter
 *
 * Every value is computed as the one-thread step computes it (the same
 * kernels on column ranges, each column alike whatever the split; the row
 * cut of row_cut.h applies to dW as ever), so results do not depend on the
 * thread count. The trainer still times this way against one thread
 * (thread_tuner.h).
 *
 * A step can be split when (oc_column_split_find):
 *   - the last backward step is a fused Dense layer whose input needs no
 *     gradient (a first layer: nothing before it is trained), whose W (and
 *     bias, if trained) are parameters it alone writes the gradient slots of;
 *   - W is stored [N, K] (Gemm with transB, as PyTorch exports it), so that
 *     each thread's columns are whole rows of W, dW, m and v. In the [K, N]
 *     layout every row interleaves the two threads' columns (128 bytes each
 *     for 64 columns), and the caches trade those lines back and forth: two
 *     threads updating the column halves of a [784, 64] weight with Adam
 *     took 71 us a step where two contiguous halves take 6 (a
 *     prefetcher bringing the neighbour's lines along, presumably; the
 *     forward and dW products suffer alike);
 *   - it has at least 2 * OC_SPLIT_MIN_COLS output columns; the split falls
 *     at a multiple of 16 columns (64 bytes: rows of W, dW, m, v and of the
 *     activations never share a cache line between the threads);
 *   - its W and bias hold at least OC_SPLIT_MIN_SHARE of the parameters:
 *     the rest of the step runs on one thread, and the layer's share of the
 *     step's arithmetic is about its share of the parameters.
 */
#ifndef OC_TRAIN_COLUMN_SPLIT_H
#define OC_TRAIN_COLUMN_SPLIT_H

#include "onnxc.h"
#include "optim.h"
#include "train_plan.h"

#define OC_SPLIT_MIN_COLS 16
#define OC_SPLIT_MIN_SHARE 0.75

typedef struct oc_column_split {
    bool usable;                 /* false: step the batch another way */
    int step;                    /* the layer's step in the forward plan */
    int64_t cols, n;             /* thread 0 owns columns [0, cols), thread 1 [cols, n) */
    /* Each thread's part of the layer's parameters; has_bias: b is trained. */
    oc_param_block w_half[2], b_half[2];
    bool has_bias;
} oc_column_split;

/*
 * Can the step of this training plan split a layer's columns? params and
 * param_values ([params->count] value index of each), param_grad ([n_values]
 * flat-buffer slot of each parameter's gradient): the trainer's. On false,
 * *why (if not NULL) says what keeps the layer whole.
 */
bool oc_column_split_find(const oc_train_plan *tp, const oc_param_set *params, const int *param_values,
                          float *const *param_grad, oc_column_split *cs, char *why, size_t why_size);

/*
 * The step of oc_trainer_step_local, split by columns over two threads, for
 * a trainer with two threads whose plan `tp` (the whole batch `in`) has the
 * split `cs`, with the targets already bound (k classes).
 */
onnxc_status oc_trainer_step_columns(onnxc_trainer *t, oc_train_plan *tp, const oc_column_split *cs,
                                     const oc_tensor *in, int64_t k, bool sparse, onnxc_batch_result *result,
                                     onnxc_error *err);

#endif
