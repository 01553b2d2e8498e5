/*
 * Data-parallel training: a trainer's state as one rank of a group
 * (onnxc_trainer_set_distributed), and the collective pieces that the step
 * (trainer.c) and fit (fit.c) are built from. The transport itself is the
 * caller's (onnxc_distributed callbacks); nothing here knows about MPI.
 *
 * One step on N ranks:
 *
 *   rank r: forward + loss on its rows; loss gradient *= rows_r / rows_global
 *   backward, last layers first; as soon as a bucket of parameter gradients
 *   is complete, allreduce_start(bucket)      -- the sums overlap backward
 *   wait for every bucket; grad_flat now holds the global batch's mean
 *   gradient, the same bits on every rank; every rank takes the same update
 *
 * Failures. A rank that fails before its sums are started (bad rows, NaN
 * loss, a stop request) still takes part in them, with NaN in every bucket it
 * has not started, so every other rank's sum turns non-finite and its update
 * is refused as well; then all ranks call `agree` once, and every rank
 * returns the failure of the lowest rank that failed on its own (not merely
 * by seeing another's NaN), prefixed "rank R: ". A NaN that only shows in the
 * summed gradient is reported by every rank alike, without a rank. The good
 * path costs no collective beyond the gradient sums.
 */
#ifndef OC_DIST_H
#define OC_DIST_H

#include "trainer.h"

typedef struct oc_dist oc_dist;

void oc_dist_free(oc_dist *d);
int oc_dist_rank(const oc_dist *d);
int oc_dist_world(const oc_dist *d);
/* Hash of the bucket layout: ranks must cut the gradient the same way. */
uint64_t oc_dist_layout_hash(const oc_dist *d);

/* --- hooks in oc_trainer_step_local ------------------------------------- */

/* grad [rows, k], the loss gradient (a mean over this rank's rows), times
 * rows / global rows: the ranks' sum is then the global batch's mean. */
void oc_dist_scale_loss_grad(const oc_dist *d, float *grad, int64_t rows, int64_t k);

/* The plan's backward, with each bucket's sum started as soon as backward
 * has written its last gradient into it; returns when every sum is done. */
onnxc_status oc_dist_backward(onnxc_trainer *t, oc_train_plan *tp, onnxc_error *err);

/* --- collectives for fit.c ---------------------------------------------- */

/* Take part in one step while failing with `st` (message in err): the other
 * ranks' step fails too; returns the agreed failure (see above). */
onnxc_status oc_dist_fail_step(onnxc_trainer *t, onnxc_status st, onnxc_error *err);

/* Agree on `st` (this rank's outcome, message in err when not OK): returns
 * ONNXC_OK on every rank when no rank failed, else the first failing rank's
 * status with its message, prefixed "rank R: ", in err on every rank. */
onnxc_status oc_dist_agree(onnxc_trainer *t, onnxc_status st, onnxc_error *err);

/* In-place sum of v [n] over the ranks. */
onnxc_status oc_dist_sum(onnxc_trainer *t, double *v, size_t n, onnxc_error *err);

/* 64-bit hash of `bytes` bytes, continuing from h (start with 0). */
uint64_t oc_dist_hash(uint64_t h, const void *data, size_t bytes);

#define OC_DIST_MAX_CHECKS 4
#define OC_DIST_MAX_EXTRA 8

/*
 * Check that hash[i] is the same on every rank, for i < n (at most
 * OC_DIST_MAX_CHECKS), and sum extra [n_extra] (at most OC_DIST_MAX_EXTRA)
 * in the same allreduce. The outcome is the same on every rank:
 * ONNXC_ERR_ARGUMENT, "the N ranks' <what[i]> differ: <hint>" for the
 * first hash that differs.
 */
onnxc_status oc_dist_check_same(onnxc_trainer *t, const uint64_t *hash, const char *const *what, size_t n,
                                const char *hint, double *extra, size_t n_extra, onnxc_error *err);

/* First row of rank r's shard of n rows over `world` ranks: rank r takes
 * [begin(r), begin(r + 1)), contiguous, sizes differing by at most one. */
size_t oc_dist_shard_begin(size_t n, int r, int world);

#endif
