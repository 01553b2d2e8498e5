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
 *
 * Two threads are not always faster than one: on a shared machine the
 * second core may be busy with other work (measured on this project's VMs:
 * some minutes 1.3x faster, others 0.88x). Since both ways give the same
 * bits, the trainer times them and runs the faster (oc_shard_tuner): shards,
 * or the whole batch on one thread.
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

/* How a two-thread trainer runs steps that can be sharded. */
typedef enum oc_shard_way { OC_WAY_SHARDS = 0, OC_WAY_ONE_THREAD = 1 } oc_shard_way;

/*
 * Picks the faster way from the trainer's own step times: a window of
 * OC_TUNE_WINDOW steps each way first, then the faster way, re-timing the
 * other for one window after every OC_TUNE_PROBE windows, so that a change
 * in the machine's load is noticed within a few hundred steps. A window's
 * figure is its median step, so that the first step (which builds plans)
 * or one preempted step does not decide. Zeroed: no measurements yet,
 * shards first.
 */
#define OC_TUNE_WINDOW 16
#define OC_TUNE_PROBE 15

typedef struct oc_shard_tuner {
    oc_shard_way way;            /* the way the next step runs */
    double median[2];            /* seconds per step in each way's last window; 0: not timed */
    double window[OC_TUNE_WINDOW]; /* this window's step times so far */
    int window_steps;
    int windows;                 /* full windows the faster way ran since the last probe */
    bool probing;                /* this window times the slower way again */
} oc_shard_tuner;

/* One step of t->way took `seconds`. */
void oc_shard_tuner_record(oc_shard_tuner *t, double seconds);

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
