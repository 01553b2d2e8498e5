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
 * Split by columns, the big layer's dW, m and v never leave their core
 * (oc_split_state), and W is written once per step by streaming stores;
 * what crosses is activations: thread 1's 32 columns of the layer's output
 * going forward and of its output gradient coming back (16 KB each at batch
 * 128), and the input batch, which both threads read. (fit() gathering the
 * batch twice, once on each thread, made the steps ~20 us faster and the
 * gathers slower by more: not kept.) The price is the middle of the step,
 * which thread 1 waits through: ~35 us of a 145 us column step on a Zen 5
 * VM, ~63 of ~250 on a Zen 4 VM, where shards are the faster way
 * (thread_tuner.h).
 *
 *     thread 0                          thread 1
 *     (first column step: m, v of its   (the same)
 *     half into its own block)
 *     steps before the layer (if any)
 *     ---------------------------------------------------- barrier (if any)
 *     forward, columns [0, cols)        forward, columns [cols, N)
 *     ---------------------------------------------------- barrier
 *     later steps, loss, their backward
 *     ---------------------------------------------------- barrier
 *     dZ, db, dW of columns [0, cols)   the same for columns [cols, N)
 *     finite? (its part, see below)     finite? (its part)
 *     ---------------------------------------------------- barrier
 *     update: its columns of W (from    update: its columns of W and b
 *     its block) and b, and every
 *     other parameter
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
 *     bias, if trained) are parameters, and which alone writes W's gradient
 *     (it goes to the threads' own blocks, see oc_split_state);
 *   - it has at least 2 * OC_SPLIT_MIN_COLS output columns; the split falls
 *     at a multiple of 16 columns (64 bytes: no cache line of W or of the
 *     activations holds both threads' columns);
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
 * Each thread's half of the split layer's gradient and optimizer state, in
 * a contiguous block of its own. In the model's [K, N] layout a row of W
 * interleaves the two threads' columns (128 bytes each for 64 columns), and
 * two cores writing such rows trade their cache lines: Adam on the two
 * column halves of a [784, 64] weight, in place, took 71 us a step where
 * two contiguous halves take 6 (measured here; a prefetcher bringing the
 * neighbour's lines along, presumably). So dW's half goes to the block, m
 * and v live there while column steps run, and the update writes the
 * model's W with streaming stores, which take no line into a cache. W
 * itself stays in the model: it is what users read and write.
 *
 * While `owns`, the flat m and v of W's halves are stale: anything else
 * that reads or writes the optimizer state (another way of stepping,
 * checkpoints, a distributed group) first calls oc_column_state_release.
 */
typedef struct oc_split_state {
    bool owns;                   /* the blocks hold the state of the halves `half` */
    oc_param_block half[2];      /* W's halves they were taken for */
    int slots;                   /* optimizer slots (0..2) */
    float *block[2];             /* per half: gradient, m, v, each [rows * cols] padded to 16 floats */
    size_t capacity[2];          /* floats */
    void *work;                  /* thread 1's backward workspace (thread 0 has the plan's) */
    size_t work_bytes;
} oc_split_state;

/* Give the flat optimizer slots back their values (no-op when not owned). */
void oc_column_state_release(onnxc_trainer *t);
void oc_split_state_free(oc_split_state *st);

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
