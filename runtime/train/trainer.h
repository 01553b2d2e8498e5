/* The trainer's internals, shared by trainer.c, fit.c and checkpoint.c. */
#ifndef OC_TRAINER_H
#define OC_TRAINER_H

#include "column_split.h"
#include "fp_env.h"
#include "loss.h"
#include "optim.h"
#include "shards.h"
#include "thread_tuner.h"
#include "train_plan.h"

#define OC_PLAN_CACHE 3

struct onnxc_trainer {
    onnxc_model *model;
    onnxc_trainer_options opt;
    int nthreads;
    uint64_t rng;                /* Dropout without a seed attribute */
    int pred_value;              /* graph output 0 */
    int loss_value;              /* logits when fused, else pred_value */
    bool from_logits;
    int64_t classes;             /* pred's trailing size k */
    uint8_t *variable;           /* [n_values] float initializers */
    uint8_t *is_param;           /* [n_values] */
    float **param_grad;          /* [n_values] slot in grad_flat, or NULL */
    oc_param_set params;
    int *param_values;           /* [params.count] value index of each */
    float *grad_flat;            /* [params.total] */
    oc_optim_state optim;
    oc_train_plan train[OC_PLAN_CACHE];
    oc_plan eval[OC_PLAN_CACHE];
    int64_t train_batch[OC_PLAN_CACHE], eval_batch[OC_PLAN_CACHE]; /* 0: empty slot */
    int64_t train_cut[OC_PLAN_CACHE]; /* each train plan's row cut (row_cut.h), 0: none */
    int train_next, eval_next;   /* round-robin replacement */
    /* Per-batch scratch, grown to the largest batch seen. */
    int64_t scratch_rows;
    int64_t *labels;             /* [rows] */
    float *targets;              /* [rows * classes] */
    double *row_loss;            /* [rows] */
    struct oc_dist *dist;        /* data-parallel state (dist.h); NULL: one process */
    /* Batch shards (shards.h), two threads only. */
    float *grad_flat2;           /* [params.total] the second shard's gradients */
    float **param_grad2;         /* [n_values] slot in grad_flat2, or NULL */
    oc_shard_set shards[OC_SHARD_SETS];
    int shard_next;              /* round-robin replacement */
    uint64_t sharded_steps;      /* steps taken as two shards (tests) */
    oc_thread_tuner tuner[OC_PLAN_CACHE]; /* per train plan: parallel or one thread */
    oc_way first_way;            /* oc_thread_tuner_new's `first` (tests; zero: parallel, its own choice) */
    /* A layer's columns split over two threads (column_split.h), two threads only. */
    oc_column_split split[OC_PLAN_CACHE]; /* per train plan */
    uint64_t column_steps;       /* steps taken split by columns (tests) */
    uint64_t one_thread_steps;   /* steps a trainer with several threads ran on one (epoch logs) */
    int threads_lately;          /* threads the last step ran on; 0: none since create/set_threads */
    oc_split_state split_state;  /* the split layer's state, per thread (column_split.h) */
    /* NULL, or [2]: the seconds of a whole-batch step's loss and optimizer
     * update (NaN check included) are added here (bench/train_anatomy). Set
     * and owned by the caller. */
    double *phase_seconds;
};

/* Switch the calling thread to the floating-point environment of t's
 * arithmetic (fp_env.h: subnormals flushed unless the options keep them);
 * returns the environment to restore with oc_fp_env_swap. */
static inline oc_fp_env oc_trainer_fp_enter(const onnxc_trainer *t)
{
    const oc_fp_env now = oc_fp_env_get();
    if (!t || t->opt.keep_denormals) return now;
    oc_fp_env_prime_pool(t->nthreads); /* workers created later would inherit the flush */
    return oc_fp_env_swap(oc_fp_env_flushing(now));
}

/* Threads for the work around the steps (batch gathers, evaluation): those
 * the last step ran on. Where the tuner runs the steps on one thread, the
 * other core is busy (thread_tuner.h), and a two-thread region there waits
 * for it: with a process spinning on the second vCPU of a Zen 4 VM, the
 * gathers of a seed-model epoch at batch 128 took 0.13-0.20 s on two
 * threads against 0.017 on one (medians, bench/RESULTS_BUSY_CORE.md), and
 * in one timed run the one-thread steps between them took 650 us on
 * average against 280 (the gathers' worker, spinning after its region,
 * shared the first core). */
static inline int oc_trainer_threads_lately(const onnxc_trainer *t)
{
    return t->threads_lately > 0 && t->threads_lately < t->nthreads ? t->threads_lately : t->nthreads;
}

/* Tests and benchmarks: every cached train plan's tuner runs `way` only
 * (a plan built later starts with its own tuner). */
static inline void oc_trainer_force_way(onnxc_trainer *t, oc_way way)
{
    for (int i = 0; i < OC_PLAN_CACHE; i++) {
        t->tuner[i].ways = 1u << way;
        t->tuner[i].way = way;
    }
}

/* Whether a cached train plan can split a layer's columns (OC_WAY_COLUMNS). */
static inline bool oc_trainer_columns_usable(const onnxc_trainer *t)
{
    for (int i = 0; i < OC_PLAN_CACHE; i++)
        if (t->train_batch[i] && t->split[i].usable) return true;
    return false;
}

/* Shape x [batch, ...] to the model input (reshaping a sample whose element
 * count matches, e.g. 28x28 -> 784). */
onnxc_status oc_trainer_bind_input(const onnxc_trainer *t, const onnxc_tensor *x, oc_tensor *in,
                                   onnxc_error *err);

/* onnxc_trainer_step's work on this process's rows. With t->dist set it
 * scales the loss gradient to the global batch and sums the gradients over
 * the ranks during backward (dist.c, which calls it). */
onnxc_status oc_trainer_step_local(onnxc_trainer *t, const onnxc_tensor *x, const onnxc_tensor *y,
                                   onnxc_batch_result *result, onnxc_error *err);

/* ONNXC_ERR_NUMERIC for the next step (weights untouched) when its loss is
 * not finite, or when a gradient is not (loss finite). Every way of taking
 * a step says it the same way. */
onnxc_status oc_trainer_fail_loss(const onnxc_trainer *t, double loss, onnxc_error *err);
onnxc_status oc_trainer_fail_gradient(const onnxc_trainer *t, onnxc_error *err);

/* The optimizer update from grad_flat on `threads` threads (ONNXC_ERR_NUMERIC,
 * weights untouched, when a gradient is not finite). Shared by the step and a
 * distributed rank that has no rows in a batch but still takes the summed step. */
onnxc_status oc_trainer_update(onnxc_trainer *t, int threads, onnxc_error *err);

#endif
