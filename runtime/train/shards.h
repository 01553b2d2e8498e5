/*
 * Batch shards: with two threads, a training step whose parameter gradients
 * are cut at row `cut` (row_cut.h) runs as two shards of rows, [0, cut) and
 * [cut, n), side by side in one parallel region. Each thread runs its
 * shard's forward, loss and backward on its own training plan, activations
 * and gradient buffer; then each sums the two gradients over its half of
 * the flat parameter range and applies the optimizer to it there.
 *
 * Why: splitting every op between two threads costs a team start and a
 * hand-off of activations between the cores per op (~3.3 us per parallel
 * region on these VMs; a batch-128 step of the seed model is ~180 us on one
 * thread). A shard keeps its rows in its own core's cache from the input to
 * the weight gradient, and the step has two barriers.
 *
 * Results are those of the unsharded step with the same cut, bit for bit
 * (row_cut.h), so they do not depend on the thread count. Other thread
 * counts run the unsharded step.
 * The trainer still times shards against one thread (thread_tuner.h).
 */
#ifndef OC_SHARDS_H
#define OC_SHARDS_H

#include "onnxc.h"
#include "train_plan.h"

/* Shard sets a trainer keeps (the full batch and an epoch's last one). */
#define OC_SHARD_SETS 2

typedef struct oc_shard_set {
    int64_t batch;               /* rows of the whole batch; 0: slot empty */
    bool usable;                 /* false: the shard plans could not be built */
    int64_t first[2], rows[2];   /* each shard's rows of the batch */
    oc_train_plan plan[2];
} oc_shard_set;

void oc_shard_set_free(oc_shard_set *s);

/*
 * The step of oc_trainer_step_local on two shards, for a trainer with two
 * threads whose plan `tp` (the whole batch `in`, n rows) has a row cut, with
 * the targets already bound (k classes). Returns ONNXC_OK with *done = false
 * (nothing changed) when the shard plans cannot be built for this batch.
 */
onnxc_status oc_trainer_step_sharded(onnxc_trainer *t, const oc_train_plan *tp, const oc_tensor *in,
                                     int64_t k, bool sparse, onnxc_batch_result *result, bool *done,
                                     onnxc_error *err);

#endif
