/* onnxc_trainer: one optimizer step = zero grads, forward, loss, backward, update. */
#include "trainer.h"

#include <math.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "alloc.h"
#include "attr.h"
#include "clock.h"
#include "dist.h"
#include "kernels/finite.h"
#include "row_cut.h"

static const char *const loss_names[] = {
    [ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY] = "sparse_categorical_crossentropy",
    [ONNXC_LOSS_CATEGORICAL_CROSSENTROPY] = "categorical_crossentropy",
    [ONNXC_LOSS_BINARY_CROSSENTROPY] = "binary_crossentropy",
    [ONNXC_LOSS_MSE] = "mse",
};

const char *onnxc_loss_name(onnxc_loss loss)
{
    return (unsigned)loss < sizeof loss_names / sizeof loss_names[0] ? loss_names[loss] : "unknown";
}

onnxc_status onnxc_loss_from_name(const char *name, onnxc_loss *out, onnxc_error *err)
{
    for (size_t i = 0; i < sizeof loss_names / sizeof loss_names[0]; i++)
        if (name && !strcmp(name, loss_names[i])) {
            *out = (onnxc_loss)i;
            return ONNXC_OK;
        }
    if (name && (!strcmp(name, "mean_squared_error"))) {
        *out = ONNXC_LOSS_MSE;
        return ONNXC_OK;
    }
    return oc_fail(err, ONNXC_ERR_ARGUMENT,
                   "unknown loss '%s': expected sparse_categorical_crossentropy, categorical_crossentropy, "
                   "binary_crossentropy or mse", name ? name : "");
}

void onnxc_trainer_options_default(onnxc_trainer_options *o)
{
    memset(o, 0, sizeof *o);
    o->loss = ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    onnxc_optimizer_defaults(ONNXC_OPT_ADAM, &o->optimizer);
    o->seed = 1;
}

void onnxc_trainer_free(onnxc_trainer *t)
{
    if (!t) return;
    for (int i = 0; i < OC_PLAN_CACHE; i++) {
        if (t->train_batch[i]) oc_train_plan_free(&t->train[i]);
        if (t->eval_batch[i]) oc_plan_free(&t->eval[i]);
    }
    oc_optim_free(&t->optim);
    oc_free(t->variable);
    oc_free(t->is_param);
    oc_free(t->param_grad);
    oc_free(t->params.data);
    oc_free(t->params.offset);
    oc_free(t->params.size);
    oc_free(t->param_values);
    oc_aligned_free(t->grad_flat);
    oc_free(t->labels);
    oc_aligned_free(t->targets);
    oc_free(t->row_loss);
    oc_dist_free(t->dist);
    for (int i = 0; i < OC_SHARD_SETS; i++) oc_shard_set_free(&t->shards[i]);
    oc_aligned_free(t->grad_flat2);
    oc_free(t->param_grad2);
    oc_split_state_free(&t->split_state);
    oc_free(t);
}

/* When the prediction is Softmax/Sigmoid of something and the loss is a
 * cross-entropy, train on the logits with the fused stable kernel. */
static void find_logits(onnxc_trainer *t)
{
    const oc_graph *g = &t->model->graph;
    t->loss_value = t->pred_value;
    t->from_logits = t->opt.from_logits; /* the output already holds logits */
    if (t->from_logits) return;
    int prod = g->values[t->pred_value].producer;
    if (prod < 0) return;
    const oc_node *n = &g->nodes[prod];
    bool ce = t->opt.loss == ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ||
              t->opt.loss == ONNXC_LOSS_CATEGORICAL_CROSSENTROPY;
    if (n->n_in < 1 || n->in[0] < 0 || n->domain[0]) return;
    if (ce && !strcmp(n->op_type, "Softmax")) {
        /* Only a softmax over the last axis of a 2-D tensor is the Keras case. */
        int64_t axis;
        onnxc_error ignored;
        if (oc_attr_int(n, "axis", n->since < 13 ? 1 : -1, &axis, &ignored) != ONNXC_OK) return;
        if (axis != -1 && axis != 1) return;
    } else if (!(t->opt.loss == ONNXC_LOSS_BINARY_CROSSENTROPY && !strcmp(n->op_type, "Sigmoid"))) {
        return;
    }
    t->loss_value = n->in[0];
    t->from_logits = true;
}

/* Trainable parameters: float initializers that feed a differentiable input
 * of a node the loss depends on. */
static onnxc_status find_params(onnxc_trainer *t, onnxc_error *err)
{
    const oc_graph *g = &t->model->graph;
    uint8_t *reaches = oc_calloc((size_t)g->n_values + 1, 1);
    if (!reaches) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    reaches[t->loss_value] = 1;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const oc_node *n = &g->nodes[i];
        bool any = false;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && reaches[n->out[k]]) any = true;
        if (!any) continue;
        for (int k = 0; k < n->n_in && k < 32; k++)
            if (n->in[k] >= 0 && ((n->op->grad_inputs >> k) & 1)) reaches[n->in[k]] = 1;
    }
    size_t count = 0;
    for (int v = 0; v < g->n_values; v++) {
        const oc_value *val = &g->values[v];
        if (val->kind != OC_VALUE_INITIALIZER || !oc_dtype_is_float(val->init.dtype)) continue;
        t->variable[v] = 1;
        if (reaches[v] && val->init.dtype == ONNXC_FLOAT && oc_shape_numel(&val->init.shape) > 0) {
            t->is_param[v] = 1;
            count++;
        }
    }
    oc_free(reaches);
    oc_param_set *p = &t->params;
    p->data = oc_calloc(count + 1, sizeof *p->data);
    p->offset = oc_calloc(count + 1, sizeof *p->offset);
    p->size = oc_calloc(count + 1, sizeof *p->size);
    t->param_values = oc_calloc(count + 1, sizeof *t->param_values);
    if (!p->data || !p->offset || !p->size || !t->param_values)
        return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    for (int v = 0; v < g->n_values; v++) {
        if (!t->is_param[v]) continue;
        size_t n = (size_t)oc_shape_numel(&g->values[v].init.shape);
        p->data[p->count] = g->values[v].init.data;
        p->offset[p->count] = p->total;
        p->size[p->count] = n;
        t->param_values[p->count] = v;
        p->count++;
        p->total += (n + 15) & ~(size_t)15; /* 64-byte aligned segments */
    }
    /* A model without parameters can still be evaluated; step refuses it. */
    t->grad_flat = oc_aligned_alloc((p->total ? p->total : 16) * sizeof(float));
    if (!t->grad_flat) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for gradients");
    memset(t->grad_flat, 0, (p->total ? p->total : 16) * sizeof(float));
    for (size_t i = 0; i < p->count; i++) t->param_grad[t->param_values[i]] = t->grad_flat + p->offset[i];
    return ONNXC_OK;
}

static int default_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

onnxc_status onnxc_trainer_create(onnxc_model *model, const onnxc_trainer_options *options,
                                  onnxc_trainer **out, onnxc_error *err)
{
    if (!model || !out) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_trainer_create: NULL argument");
    *out = NULL;
    if (model->inference_only)
        return oc_fail(err, ONNXC_ERR_ARGUMENT,
                       "%s: cannot train: the model was made inference-only "
                       "(onnxc_model_set_inference_only) and its weights are fixed; load the file again",
                       model->label);
    OC_TRY(oc_model_require_supported(model, err));
    const oc_graph *g = &model->graph;
    if (g->n_inputs != 1)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s: training needs a model with one input, it has %d",
                       model->label, g->n_inputs);
    onnxc_trainer *t = oc_calloc(1, sizeof *t);
    if (!t) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    t->model = model;
    if (options) t->opt = *options;
    else onnxc_trainer_options_default(&t->opt);
    t->nthreads = t->opt.threads > 0 ? t->opt.threads : default_threads();
    t->rng = t->opt.seed ? t->opt.seed : 1;
    t->pred_value = g->outputs[0];
    t->variable = oc_calloc((size_t)g->n_values + 1, 1);
    t->is_param = oc_calloc((size_t)g->n_values + 1, 1);
    t->param_grad = oc_calloc((size_t)g->n_values + 1, sizeof *t->param_grad);
    onnxc_status st = (!t->variable || !t->is_param || !t->param_grad)
                          ? oc_fail(err, ONNXC_ERR_NOMEM, "out of memory") : ONNXC_OK;
    if (st == ONNXC_OK) {
        find_logits(t);
        st = find_params(t, err);
    }
    if (st == ONNXC_OK) st = oc_optim_init(&t->optim, &t->opt.optimizer, t->params.total, err);
    if (st != ONNXC_OK) {
        onnxc_trainer_free(t);
        return st;
    }
    *out = t;
    return ONNXC_OK;
}

onnxc_status onnxc_trainer_set_threads(onnxc_trainer *t, int threads, onnxc_error *err)
{
    if (!t || threads < 0 || threads > 4096)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "expected 0..4096 threads, got %d", threads);
    t->nthreads = threads ? threads : default_threads();
    t->threads_lately = 0;
    for (int i = 0; i < OC_PLAN_CACHE; i++) {
        if (t->train_batch[i]) oc_plan_set_threads(&t->train[i].fwd, t->nthreads);
        if (t->eval_batch[i]) oc_plan_set_threads(&t->eval[i], t->nthreads);
    }
    return ONNXC_OK;
}

void onnxc_trainer_params(const onnxc_trainer *t, size_t *tensors, size_t *elements)
{
    *tensors = t->params.count;
    *elements = 0;
    for (size_t i = 0; i < t->params.count; i++) *elements += t->params.size[i];
}

uint64_t onnxc_trainer_iterations(const onnxc_trainer *t) { return t->optim.iterations; }

onnxc_status oc_trainer_bind_input(const onnxc_trainer *t, const onnxc_tensor *x, oc_tensor *in,
                                   onnxc_error *err)
{
    if (!x || !x->data || x->rank < 1 || x->rank > OC_MAX_RANK)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "x: expected a tensor [batch, ...] with data");
    if (x->dtype != ONNXC_FLOAT)
        return oc_fail(err, ONNXC_ERR_SHAPE, "x: expected float, got %s", onnxc_dtype_name(x->dtype));
    memset(in, 0, sizeof *in);
    in->dtype = ONNXC_FLOAT;
    in->data = x->data;
    in->shape.rank = x->rank;
    memcpy(in->shape.dims, x->dims, sizeof x->dims);
    onnxc_value_info vi;
    onnxc_model_input(t->model, 0, &vi);
    if (vi.rank < 1) return ONNXC_OK;
    /* A sample with the same element count as the declared per-sample
     * shape takes that shape (28x28 images feed a 784-wide input). */
    int64_t want = 1, have = 1;
    for (int d = 1; d < vi.rank; d++) {
        if (vi.dims[d] < 0) return ONNXC_OK;
        want *= vi.dims[d];
    }
    for (int d = 1; d < x->rank; d++) have *= x->dims[d];
    if (want != have)
        return oc_fail(err, ONNXC_ERR_SHAPE,
                       "x: each sample has %lld elements, the model input '%s' takes %lld", (long long)have,
                       vi.name, (long long)want);
    in->shape.rank = vi.rank;
    for (int d = 1; d < vi.rank; d++) in->shape.dims[d] = vi.dims[d];
    return ONNXC_OK;
}

static onnxc_status ensure_scratch(onnxc_trainer *t, int64_t rows, onnxc_error *err)
{
    if (rows <= t->scratch_rows) return ONNXC_OK;
    oc_free(t->labels);
    oc_aligned_free(t->targets);
    oc_free(t->row_loss);
    int64_t k = t->classes > 0 ? t->classes : 1;
    t->labels = oc_malloc((size_t)rows * sizeof *t->labels);
    t->targets = oc_aligned_alloc((size_t)(rows * k) * sizeof *t->targets);
    t->row_loss = oc_malloc((size_t)rows * sizeof *t->row_loss);
    t->scratch_rows = rows;
    if (!t->labels || !t->targets || !t->row_loss) {
        t->scratch_rows = 0;
        return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for batch scratch");
    }
    return ONNXC_OK;
}

/* y into t->labels (sparse CE) or t->targets, checked against [n, k]. */
static onnxc_status bind_targets(onnxc_trainer *t, const onnxc_tensor *y, int64_t n, int64_t k,
                                 bool *sparse, onnxc_error *err)
{
    if (!y || !y->data || y->rank < 1 || y->dims[0] != n)
        return oc_fail(err, ONNXC_ERR_SHAPE, "y: expected %lld rows to match x", (long long)n);
    int64_t per = 1;
    for (int d = 1; d < y->rank; d++) per *= y->dims[d];
    oc_tensor yt = {.dtype = y->dtype, .data = y->data};
    *sparse = t->opt.loss == ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    if (*sparse) {
        if (per != 1)
            return oc_fail(err, ONNXC_ERR_SHAPE,
                           "y: sparse categorical cross-entropy takes one integer label per sample, got %lld values",
                           (long long)per);
        for (int64_t i = 0; i < n; i++) {
            double v = oc_tensor_get_double(&yt, i);
            if (v != floor(v))
                return oc_fail(err, ONNXC_ERR_SHAPE, "y: label %g of sample %lld is not an integer", v, (long long)i);
            t->labels[i] = (int64_t)v;
        }
        return ONNXC_OK;
    }
    if (per != k)
        return oc_fail(err, ONNXC_ERR_SHAPE, "y: %s needs %lld target values per sample, got %lld",
                       onnxc_loss_name(t->opt.loss), (long long)k, (long long)per);
    for (int64_t i = 0; i < n * k; i++) t->targets[i] = (float)oc_tensor_get_double(&yt, i);
    return ONNXC_OK;
}

static oc_train_plan *get_train_plan(onnxc_trainer *t, const oc_tensor *in, onnxc_error *err)
{
    for (int i = 0; i < OC_PLAN_CACHE; i++)
        if (t->train_batch[i] && oc_plan_matches(&t->train[i].fwd, in)) return &t->train[i];
    int slot = t->train_next;
    t->train_next = (t->train_next + 1) % OC_PLAN_CACHE;
    if (t->train_batch[slot]) oc_train_plan_free(&t->train[slot]);
    t->train_batch[slot] = 0;
    oc_train_spec spec = {.variable = t->variable, .is_param = t->is_param, .param_grad = t->param_grad,
                          .loss_value = t->loss_value, .nthreads = t->nthreads, .rng = &t->rng};
    if (oc_train_plan_build(&t->train[slot], t->model, in, &spec, err) != ONNXC_OK) return NULL;
    t->train_batch[slot] = in->shape.dims[0] ? in->shape.dims[0] : 1;
    t->train_cut[slot] = oc_grad_row_cut(&t->train[slot], t->is_param, t->params.total, NULL, 0);
    oc_column_split_find(&t->train[slot], &t->params, t->param_values, t->param_grad, &t->split[slot], NULL, 0);
    unsigned ways = (1u << OC_WAY_PARALLEL) | (1u << OC_WAY_ONE_THREAD);
    if (t->nthreads == 2 && t->split[slot].usable) ways |= 1u << OC_WAY_COLUMNS;
    t->tuner[slot] = oc_thread_tuner_new(ways, t->first_way);
    return &t->train[slot];
}

static oc_plan *get_eval_plan(onnxc_trainer *t, const oc_tensor *in, onnxc_error *err)
{
    for (int i = 0; i < OC_PLAN_CACHE; i++)
        if (t->eval_batch[i] && oc_plan_matches(&t->eval[i], in)) return &t->eval[i];
    int slot = t->eval_next;
    t->eval_next = (t->eval_next + 1) % OC_PLAN_CACHE;
    if (t->eval_batch[slot]) oc_plan_free(&t->eval[slot]);
    t->eval_batch[slot] = 0;
    oc_plan_options opt = {.nthreads = t->nthreads, .rng = &t->rng, .variable = t->variable};
    if (oc_plan_build(&t->eval[slot], t->model, in, &opt, err) != ONNXC_OK) return NULL;
    t->eval_batch[slot] = in->shape.dims[0] ? in->shape.dims[0] : 1;
    return &t->eval[slot];
}

/* pred/logits as [n, k]. */
static onnxc_status loss_view(const oc_tensor *v, int64_t n, int64_t *k, onnxc_error *err)
{
    if (v->dtype != ONNXC_FLOAT)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "training needs a float output, got %s", oc_dtype_name(v->dtype));
    int64_t numel = oc_shape_numel(&v->shape);
    if (v->shape.rank < 1 || v->shape.dims[0] != n || n == 0)
        return oc_fail(err, ONNXC_ERR_SHAPE, "the model output does not have the batch as its first dim");
    *k = numel / n;
    return ONNXC_OK;
}

static bool all_finite(const float *x, size_t n) { return oc_all_finite(x, (int64_t)n); }

onnxc_status onnxc_trainer_step(onnxc_trainer *t, const onnxc_tensor *x, const onnxc_tensor *y,
                                onnxc_batch_result *result, onnxc_error *err)
{
    /* The distributed step enters the trainer's environment itself. */
    if (t && t->dist) return onnxc_trainer_step_distributed(t, x, y, 0, result, err);
    const oc_fp_env caller = oc_trainer_fp_enter(t);
    const onnxc_status st = oc_trainer_step_local(t, x, y, result, err);
    oc_fp_env_swap(caller);
    return st;
}

/* The step on the whole batch with `threads` threads. */
static onnxc_status step_whole(onnxc_trainer *t, oc_train_plan *tp, const oc_tensor *in, int64_t n,
                               int64_t k, bool sparse, int threads, onnxc_batch_result *result,
                               onnxc_error *err)
{
    oc_plan_set_threads(&tp->fwd, threads); /* a few stores: the tuner may switch */
    oc_train_plan_zero_grads(tp); /* what backward adds into, parameter slots included */
    OC_TRY(oc_plan_run(&tp->fwd, in, err));
    oc_loss_args la = {.kind = t->opt.loss, .from_logits = t->from_logits,
                       .pred = tp->fwd.tensors[t->loss_value].data, .n = n, .k = k,
                       .labels = sparse ? t->labels : NULL, .targets = sparse ? NULL : t->targets,
                       .grad = tp->grads[t->loss_value].data, .row_loss = t->row_loss,
                       .nthreads = threads};
    oc_loss_result lr;
    double t0 = t->phase_seconds ? oc_seconds() : 0.0;
    OC_TRY(oc_loss_compute(&la, &lr, err));
    if (t->phase_seconds) t->phase_seconds[0] += oc_seconds() - t0;
    if (t->dist) oc_dist_scale_loss_grad(t->dist, la.grad, n, k);
    if (!isfinite(lr.loss)) return oc_trainer_fail_loss(t, lr.loss, err);
    OC_TRY(t->dist ? oc_dist_backward(t, tp, err) : oc_train_plan_backward(tp, err));
    t0 = t->phase_seconds ? oc_seconds() : 0.0;
    OC_TRY(oc_trainer_update(t, threads, err));
    if (t->phase_seconds) t->phase_seconds[1] += oc_seconds() - t0;
    if (result) *result = (onnxc_batch_result){lr.loss, lr.correct, (size_t)n};
    return ONNXC_OK;
}

onnxc_status oc_trainer_step_local(onnxc_trainer *t, const onnxc_tensor *x, const onnxc_tensor *y,
                                   onnxc_batch_result *result, onnxc_error *err)
{
    if (!t) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_trainer_step: NULL trainer");
    if (t->params.count == 0)
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: nothing to train: no float initializer reaches the output",
                       t->model->label);
    oc_tensor in;
    OC_TRY(oc_trainer_bind_input(t, x, &in, err));
    int64_t n = in.shape.dims[0];
    oc_train_plan *tp = get_train_plan(t, &in, err);
    if (!tp) return err ? err->status : ONNXC_ERR_RUNTIME;
    int64_t k = 0;
    OC_TRY(loss_view(&tp->fwd.tensors[t->loss_value], n, &k, err));
    t->classes = k;
    OC_TRY(ensure_scratch(t, n, err));
    bool sparse;
    OC_TRY(bind_targets(t, y, n, k, &sparse, err));

    /* Parameter gradients cut in two where the step could run as two shards
     * (row_cut.h): always, whatever the thread count, so that two threads
     * can run the shards and give the same bits. */
    const int slot = (int)(tp - t->train);
    tp->row_cut = t->dist ? 0 : t->train_cut[slot];
    if (t->nthreads < 2 || t->dist) {
        oc_column_state_release(t);
        t->threads_lately = t->nthreads;
        return step_whole(t, tp, &in, n, k, sparse, t->nthreads, result, err);
    }
    /* A dominant layer's columns split over two threads, or in parallel
     * (two shards with two threads, else every op on all threads), or on
     * one thread, whichever has been fastest lately for this batch shape
     * (thread_tuner.h): the same bits every way. */
    oc_thread_tuner *tuner = &t->tuner[slot];
    t->threads_lately = tuner->way == OC_WAY_ONE_THREAD ? 1 : t->nthreads;
    const double t0 = oc_seconds();
    bool done = false;
    if (tuner->way == OC_WAY_COLUMNS) {
        OC_TRY(oc_trainer_step_columns(t, tp, &t->split[slot], &in, k, sparse, result, err));
        done = true;
    } else {
        oc_column_state_release(t); /* the other ways update W from the flat state */
        if (tuner->way == OC_WAY_PARALLEL && tp->row_cut && t->nthreads == 2)
            OC_TRY(oc_trainer_step_sharded(t, tp, &in, k, sparse, result, &done, err));
    }
    if (!done) {
        OC_TRY(step_whole(t, tp, &in, n, k, sparse, tuner->way == OC_WAY_PARALLEL ? t->nthreads : 1, result,
                          err));
        t->one_thread_steps += tuner->way == OC_WAY_ONE_THREAD;
    }
    oc_thread_tuner_record(tuner, oc_seconds() - t0);
    return ONNXC_OK;
}

onnxc_status oc_trainer_fail_loss(const onnxc_trainer *t, double loss, onnxc_error *err)
{
    return oc_fail(err, ONNXC_ERR_NUMERIC, "step %llu: the loss is %s; weights left as they were",
                   (unsigned long long)(t->optim.iterations + 1), isnan(loss) ? "NaN" : "infinite");
}

onnxc_status oc_trainer_fail_gradient(const onnxc_trainer *t, onnxc_error *err)
{
    return oc_fail(err, ONNXC_ERR_NUMERIC, "step %llu: a gradient is NaN or infinite; weights left as they were",
                   (unsigned long long)(t->optim.iterations + 1));
}

onnxc_status oc_trainer_update(onnxc_trainer *t, int threads, onnxc_error *err)
{
    if (!all_finite(t->grad_flat, t->params.total)) return oc_trainer_fail_gradient(t, err);
    oc_optim_step(&t->optim, &t->params, t->grad_flat, threads);
    t->model->weights_generation++; /* sessions re-pack the weights they cached */
    return ONNXC_OK;
}

static onnxc_status evaluate_batch(onnxc_trainer *t, const onnxc_tensor *x, const onnxc_tensor *y,
                                   onnxc_batch_result *result, uint64_t *confusion, size_t classes,
                                   onnxc_error *err)
{
    if (!t) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_trainer_evaluate_batch: NULL trainer");
    oc_tensor in;
    OC_TRY(oc_trainer_bind_input(t, x, &in, err));
    int64_t n = in.shape.dims[0];
    oc_plan *p = get_eval_plan(t, &in, err);
    if (!p) return err ? err->status : ONNXC_ERR_RUNTIME;
    const int threads = oc_trainer_threads_lately(t);
    oc_plan_set_threads(p, threads);
    int64_t k = 0;
    OC_TRY(loss_view(&p->tensors[t->loss_value], n, &k, err));
    t->classes = k;
    OC_TRY(ensure_scratch(t, n, err));
    bool sparse;
    OC_TRY(bind_targets(t, y, n, k, &sparse, err));
    OC_TRY(oc_plan_run(p, &in, err));
    const float *pred = p->tensors[t->loss_value].data;
    oc_loss_args la = {.kind = t->opt.loss, .from_logits = t->from_logits, .pred = pred, .n = n, .k = k,
                       .labels = sparse ? t->labels : NULL, .targets = sparse ? NULL : t->targets,
                       .row_loss = t->row_loss, .nthreads = threads};
    oc_loss_result lr;
    OC_TRY(oc_loss_compute(&la, &lr, err));
    if (confusion && sparse)
        for (int64_t i = 0; i < n; i++) {
            const float *row = pred + i * k;
            int64_t best = 0;
            for (int64_t j = 1; j < k; j++)
                if (row[j] > row[best]) best = j;
            if ((size_t)t->labels[i] < classes && (size_t)best < classes)
                confusion[(size_t)t->labels[i] * classes + (size_t)best]++;
        }
    if (result) *result = (onnxc_batch_result){lr.loss, lr.correct, (size_t)n};
    return ONNXC_OK;
}

onnxc_status onnxc_trainer_evaluate_batch(onnxc_trainer *t, const onnxc_tensor *x,
                                          const onnxc_tensor *y, onnxc_batch_result *result,
                                          uint64_t *confusion, size_t classes, onnxc_error *err)
{
    const oc_fp_env caller = oc_trainer_fp_enter(t);
    const onnxc_status st = evaluate_batch(t, x, y, result, confusion, classes, err);
    oc_fp_env_swap(caller);
    return st;
}
