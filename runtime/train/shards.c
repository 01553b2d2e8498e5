/* Batch shards (shards.h): two shards of rows side by side on two threads. */
#include "shards.h"

#include "trainer.h"

#include <math.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "alloc.h"
#include "kernels/finite.h"
#include "kernels/optim_update.h"
#include "parallel.h"

/* ---- shard sets --------------------------------------------------------------- */

void oc_shard_set_free(oc_shard_set *s)
{
    if (s->usable)
        for (int i = 0; i < 2; i++) oc_train_plan_free(&s->plan[i]);
    s->batch = 0;
    s->usable = false;
}

/* The second shard's gradient buffer and its per-value slots, on first use. */
static onnxc_status ensure_grad2(onnxc_trainer *t, onnxc_error *err)
{
    if (t->grad_flat2) return ONNXC_OK;
    const oc_graph *g = &t->model->graph;
    const size_t total = t->params.total ? t->params.total : 16;
    t->param_grad2 = oc_calloc((size_t)g->n_values + 1, sizeof *t->param_grad2);
    t->grad_flat2 = oc_aligned_alloc(total * sizeof(float));
    if (!t->param_grad2 || !t->grad_flat2) {
        oc_free(t->param_grad2);
        oc_aligned_free(t->grad_flat2);
        t->param_grad2 = NULL;
        t->grad_flat2 = NULL;
        return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for a second gradient buffer");
    }
    memset(t->grad_flat2, 0, total * sizeof(float));
    for (size_t i = 0; i < t->params.count; i++)
        t->param_grad2[t->param_values[i]] = t->grad_flat2 + t->params.offset[i];
    return ONNXC_OK;
}

/* Both shard plans, one thread each, for a batch of `in`'s rows cut at
 * `cut`. A plan that cannot be built (say a graph with a fixed batch size)
 * leaves the set unusable: that batch is stepped whole. */
static onnxc_status build_set(onnxc_trainer *t, oc_shard_set *s, const oc_tensor *in, int64_t cut,
                              onnxc_error *err)
{
    const int64_t n = in->shape.dims[0];
    s->batch = n;
    s->usable = false;
    s->first[0] = 0, s->rows[0] = cut;
    s->first[1] = cut, s->rows[1] = n - cut;
    float *const *slots[2] = {t->param_grad, t->param_grad2};
    onnxc_error build_err;
    for (int i = 0; i < 2; i++) {
        oc_tensor part = *in;
        part.shape.dims[0] = s->rows[i];
        oc_train_spec spec = {.variable = t->variable, .is_param = t->is_param, .param_grad = slots[i],
                              .loss_value = t->loss_value, .nthreads = 1, .rng = &t->rng};
        onnxc_status st = oc_train_plan_build(&s->plan[i], t->model, &part, &spec, &build_err);
        if (st != ONNXC_OK) {
            if (i) oc_train_plan_free(&s->plan[0]);
            if (st != ONNXC_ERR_NOMEM) return ONNXC_OK;
            s->batch = 0;
            return oc_fail(err, st, "%s", build_err.message);
        }
    }
    s->usable = true;
    return ONNXC_OK;
}

/* The set for this batch (NULL: step it whole). */
static onnxc_status get_set(onnxc_trainer *t, const oc_tensor *in, int64_t cut, oc_shard_set **out,
                            onnxc_error *err)
{
    *out = NULL;
    oc_tensor part = *in;
    part.shape.dims[0] = cut;
    for (int i = 0; i < OC_SHARD_SETS; i++) {
        oc_shard_set *s = &t->shards[i];
        if (!s->batch || s->batch != in->shape.dims[0] || s->first[1] != cut) continue;
        if (!s->usable) return ONNXC_OK;
        if (oc_plan_matches(&s->plan[0].fwd, &part)) {
            *out = s;
            return ONNXC_OK;
        }
    }
    oc_shard_set *s = &t->shards[t->shard_next];
    t->shard_next = (t->shard_next + 1) % OC_SHARD_SETS;
    oc_shard_set_free(s);
    OC_TRY(build_set(t, s, in, cut, err));
    if (s->usable) *out = s;
    return ONNXC_OK;
}

/* ---- the step ---------------------------------------------------------------- */

typedef struct shard_job {
    onnxc_trainer *t;
    oc_shard_set *set;
    const oc_tensor *in;
    size_t row_bytes;            /* one sample of the input */
    int64_t n, k;
    bool sparse;
    onnxc_status status[2];
    onnxc_error err[2];
    size_t correct[2];
    bool finite[2];              /* the shard's loss */
    bool grads_finite[2];        /* each half of the summed gradient */
    int parts;                   /* threads the sum and the update were split over */
    oc_optim_coef coef;          /* this step's optimizer coefficients */
} shard_job;

/* Forward, loss and backward of shard i, on its own buffers. */
static void run_shard(shard_job *j, int i)
{
    onnxc_trainer *t = j->t;
    oc_train_plan *tp = &j->set->plan[i];
    const int64_t first = j->set->first[i], rows = j->set->rows[i];
    oc_tensor part = *j->in;
    part.shape.dims[0] = rows;
    part.data = (char *)j->in->data + (size_t)first * j->row_bytes;
    oc_train_plan_zero_grads(tp);
    j->status[i] = oc_plan_run(&tp->fwd, &part, &j->err[i]);
    if (j->status[i] != ONNXC_OK) return;
    /* The loss gradient is divided by the whole batch, as in one step. */
    oc_loss_args la = {.kind = t->opt.loss, .from_logits = t->from_logits,
                       .pred = tp->fwd.tensors[t->loss_value].data, .n = rows, .k = j->k,
                       .labels = j->sparse ? t->labels + first : NULL,
                       .targets = j->sparse ? NULL : t->targets + first * j->k,
                       .grad = tp->grads[t->loss_value].data, .row_loss = t->row_loss + first,
                       .divisor = j->n, .first = first, .nthreads = 1};
    oc_loss_result lr;
    j->status[i] = oc_loss_compute(&la, &lr, &j->err[i]);
    if (j->status[i] != ONNXC_OK) return;
    j->correct[i] = lr.correct;
    j->finite[i] = isfinite(lr.loss);
    if (j->finite[i]) j->status[i] = oc_train_plan_backward(tp, &j->err[i]);
}

static bool shards_ok(const shard_job *j)
{
    return j->status[0] == ONNXC_OK && j->status[1] == ONNXC_OK && j->finite[0] && j->finite[1];
}

static bool grads_finite(const shard_job *j)
{
    for (int i = 0; i < j->parts; i++)
        if (!j->grads_finite[i]) return false;
    return true;
}

/* Part `part` of `parts` of the flat gradient range, cut at 16 floats. */
static void flat_part(const shard_job *j, int part, int parts, size_t *lo, size_t *hi)
{
    int64_t a, b;
    oc_split_range((int64_t)(j->t->params.total / 16), parts, part, &a, &b);
    *lo = (size_t)a * 16, *hi = (size_t)b * 16;
}

/*
 * Thread `me` of `parts` (2, or 1 when OpenMP gave one thread): its shard,
 * then — once both shards are done — the summed gradient of its part of the
 * flat range (shard 0's + shard 1's, the order the unsharded step's cut
 * sums in), then — once every part is known finite — the optimizer update
 * of the same part, still in this thread's cache. Two barriers in all.
 * With one thread, part 0 is the whole range and sums into grad_flat.
 */
static void step_body(shard_job *j, int me, int parts)
{
    for (int i = me; i < 2; i += parts) run_shard(j, i);
#ifdef _OPENMP
#pragma omp barrier
#endif
    size_t lo, hi;
    flat_part(j, me, parts, &lo, &hi);
    /* The sum goes into this thread's own shard's buffer, whose lines its
     * backward pass just wrote: only the other shard's half crosses cores. */
    float *const g0 = j->t->grad_flat, *const g1 = j->t->grad_flat2;
    float *const sum = me ? g1 : g0;
    if (shards_ok(j)) {
        /* g0 + g1 in either order: float addition commutes, bit for bit. */
        j->grads_finite[me] = oc_add_all_finite(sum + lo, (me ? g0 : g1) + lo, (int64_t)(hi - lo));
    }
#ifdef _OPENMP
#pragma omp barrier
#endif
    /* Streamed: the other thread read these weights in its forward pass. */
    if (shards_ok(j) && grads_finite(j))
        oc_optim_update_range(&j->t->optim, &j->coef, &j->t->params, sum, lo, hi, true);
}

onnxc_status oc_trainer_step_sharded(onnxc_trainer *t, const oc_train_plan *tp, const oc_tensor *in,
                                     int64_t k, bool sparse, onnxc_batch_result *result, bool *done,
                                     onnxc_error *err)
{
    *done = false;
    const int64_t n = in->shape.dims[0];
    OC_TRY(ensure_grad2(t, err));
    oc_shard_set *set;
    OC_TRY(get_set(t, in, tp->row_cut, &set, err));
    if (!set) return ONNXC_OK;
    *done = true;

    shard_job j = {.t = t, .set = set, .in = in, .n = n, .k = k, .sparse = sparse};
    j.row_bytes = (size_t)(oc_shape_numel(&in->shape) / n) * oc_dtype_size(in->dtype);
    oc_optim_coef_next(&t->optim, &j.coef);
#ifdef _OPENMP
    const oc_fp_env env = oc_fp_env_get(); /* the caller's, in both threads (fp_env.h) */
#pragma omp parallel num_threads(2)
    {
        const oc_fp_env own = oc_fp_env_swap(env);
        const int parts = omp_get_num_threads();
#pragma omp single
        j.parts = parts;
        step_body(&j, omp_get_thread_num(), parts);
        oc_fp_env_swap(own);
    }
#else
    j.parts = 1;
    step_body(&j, 0, 1);
#endif
    for (int i = 0; i < 2; i++)
        if (j.status[i] != ONNXC_OK) {
            if (err) *err = j.err[i];
            return j.status[i];
        }
    double sum = 0.0;
    for (int64_t r = 0; r < n; r++) sum += t->row_loss[r];
    const double loss = sum / (double)n;
    if (!shards_ok(&j)) return oc_trainer_fail_loss(t, loss, err);
    if (!grads_finite(&j)) return oc_trainer_fail_gradient(t, err);
    oc_optim_count_step(&t->optim);
    t->model->weights_generation++; /* sessions re-pack the weights they cached */
    t->sharded_steps++;
    if (result) *result = (onnxc_batch_result){loss, j.correct[0] + j.correct[1], (size_t)n};
    return ONNXC_OK;
}
