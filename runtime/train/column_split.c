/* Column split (column_split.h): one Dense layer's columns on two threads. */
#include "column_split.h"

#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "alloc.h"
#include "kernels/finite.h"
#include "kernels/optim_update.h"
#include "ops/dense.h"

/* ---- which layer, and where it is cut ----------------------------------------- */

static bool refuse(char *why, size_t why_size, const oc_node *n, const char *fmt, int64_t a, int64_t b)
{
    if (why && why_size) {
        char reason[160];
        snprintf(reason, sizeof reason, fmt, (long long)a, (long long)b);
        if (n) snprintf(why, why_size, "node '%s' (%s): %s", n->name ? n->name : "", n->op_type, reason);
        else snprintf(why, why_size, "%s", reason);
    }
    return false;
}

/* The parameter whose gradient slot is `slot` (-1: none). */
static int param_of_slot(const oc_param_set *params, const int *param_values, float *const *param_grad,
                         const void *slot)
{
    for (size_t i = 0; i < params->count; i++)
        if (param_grad[param_values[i]] == slot) return (int)i;
    return -1;
}

bool oc_column_split_find(const oc_train_plan *tp, const oc_param_set *params, const int *param_values,
                          float *const *param_grad, oc_column_split *cs, char *why, size_t why_size)
{
    *cs = (oc_column_split){0};
    if (tp->n_bsteps < 1) return refuse(why, why_size, NULL, "no backward step", 0, 0);
    const oc_bstep *b = &tp->bsteps[tp->n_bsteps - 1];
    const oc_node *node = b->fwd->node;
    if (node->op != &oc_op_dense_train)
        return refuse(why, why_size, node, "the first layer trained is not a fused Dense layer", 0, 0);
    if (b->din[0]) return refuse(why, why_size, node, "its input needs a gradient", 0, 0);
    const oc_dense_params *p = node->params;
    const int w = b->din[1] ? param_of_slot(params, param_values, param_grad, b->din[1]->data) : -1;
    if (w < 0 || params->size[w] != (size_t)(p->K * p->N))
        return refuse(why, why_size, node, "its weight is not a trained parameter", 0, 0);
    const bool has_bias = node->n_in > 2 && b->din[2];
    const int bias = has_bias ? param_of_slot(params, param_values, param_grad, b->din[2]->data) : -1;
    if (has_bias && (bias < 0 || params->size[bias] != (size_t)p->N))
        return refuse(why, why_size, node, "its bias's gradient is not a parameter's", 0, 0);
    if (!(b->overwrite & 2u))
        return refuse(why, why_size, node, "its weight's gradient has other contributors", 0, 0);
    const int64_t cols = (p->N / 2) & ~(int64_t)15;
    if (cols < OC_SPLIT_MIN_COLS || p->N - cols < OC_SPLIT_MIN_COLS)
        return refuse(why, why_size, node, "%lld columns, fewer than %lld to split", p->N,
                      2 * OC_SPLIT_MIN_COLS);
    size_t all = 0;
    for (size_t i = 0; i < params->count; i++) all += params->size[i];
    const size_t mine = params->size[w] + (has_bias ? params->size[bias] : 0);
    if ((double)mine < OC_SPLIT_MIN_SHARE * (double)all)
        return refuse(why, why_size, node, "its %lld parameters are under 3/4 of all %lld", (int64_t)mine,
                      (int64_t)all);

    cs->usable = true;
    cs->step = (int)(b->fwd - tp->fwd.steps);
    cs->cols = cols, cs->n = p->N;
    cs->has_bias = has_bias;
    const size_t wp = (size_t)w;
    if (p->transB) { /* W [N, K]: output column j is row j */
        cs->w_half[0] = (oc_param_block){wp, 0, cols, p->K, p->K};
        cs->w_half[1] = (oc_param_block){wp, (size_t)(cols * p->K), p->N - cols, p->K, p->K};
    } else {         /* W [K, N] */
        cs->w_half[0] = (oc_param_block){wp, 0, p->K, cols, p->N};
        cs->w_half[1] = (oc_param_block){wp, (size_t)cols, p->K, p->N - cols, p->N};
    }
    if (has_bias) {
        cs->b_half[0] = (oc_param_block){(size_t)bias, 0, 1, cols, cols};
        cs->b_half[1] = (oc_param_block){(size_t)bias, (size_t)cols, 1, p->N - cols, p->N - cols};
    }
    return true;
}

/* ---- the step ---------------------------------------------------------------- */

typedef struct column_job {
    onnxc_trainer *t;
    oc_train_plan *tp;
    const oc_column_split *cs;
    const oc_tensor *in;
    int64_t n, k;
    bool sparse;
    onnxc_status status[2];      /* per thread */
    onnxc_error err[2];
    oc_loss_result loss;         /* thread 0's */
    bool loss_finite;
    bool grads_finite[2];        /* per half */
    oc_optim_coef coef;          /* this step's optimizer coefficients */
    bool take_state;             /* first move the flat m, v of W's halves into the blocks */
} column_job;

static bool running(const column_job *j) { return j->status[0] == ONNXC_OK && j->status[1] == ONNXC_OK; }

/* Half h's blocks of the parameters other than its columns of W: its
 * columns of b, and for h = 0 every other parameter whole. visit returns
 * false to stop. */
static bool for_each_block(const column_job *j, int h, bool (*visit)(const column_job *, const oc_param_block *))
{
    const oc_column_split *cs = j->cs;
    if (cs->has_bias && !visit(j, &cs->b_half[h])) return false;
    if (h == 0) {
        const oc_param_set *p = &j->t->params;
        for (size_t i = 0; i < p->count; i++) {
            if (i == cs->w_half[0].param || (cs->has_bias && i == cs->b_half[0].param)) continue;
            const oc_param_block whole = {i, 0, 1, (int64_t)p->size[i], (int64_t)p->size[i]};
            if (!visit(j, &whole)) return false;
        }
    }
    return true;
}

static bool block_finite(const column_job *j, const oc_param_block *b)
{
    const oc_param_set *p = &j->t->params;
    return oc_all_finite_2d(j->t->grad_flat + p->offset[b->param] + b->first, b->rows, b->cols, b->ld);
}

static bool block_update(const column_job *j, const oc_param_block *b)
{
    oc_optim_update_block(&j->t->optim, &j->coef, &j->t->params, j->t->grad_flat, b);
    return true;
}

/* ---- each thread's own block of the layer's state ------------------------------- */

static size_t half_size(const oc_param_block *b) { return (size_t)(b->rows * b->cols); }

/* Half h's gradient, m and v, each [rows * cols] (m, v NULL without them). */
static void own_arrays(const oc_split_state *st, const oc_param_block *b, int h, float **g, float **m, float **v)
{
    const size_t n = (half_size(b) + 15) & ~(size_t)15;
    *g = st->block[h];
    *m = st->slots >= 1 ? st->block[h] + n : NULL;
    *v = st->slots >= 2 ? st->block[h] + 2 * n : NULL;
}

/* Between a flat optimizer slot's rows of half b (row r at first + r * ld)
 * and the contiguous block: to the block, or back. */
static void move_slot(float *flat, const oc_param_block *b, size_t offset, float *own, bool to_block)
{
    for (int64_t r = 0; r < b->rows; r++) {
        float *f = flat + offset + b->first + (size_t)(r * b->ld), *o = own + r * b->cols;
        memcpy(to_block ? o : f, to_block ? f : o, (size_t)b->cols * sizeof(float));
    }
}

static void take_state(onnxc_trainer *t, const oc_column_split *cs, int h)
{
    float *g, *m, *v;
    const oc_param_block *b = &cs->w_half[h];
    own_arrays(&t->split_state, b, h, &g, &m, &v);
    const size_t offset = t->params.offset[b->param];
    if (m) move_slot(t->optim.slot1, b, offset, m, true);
    if (v) move_slot(t->optim.slot2, b, offset, v, true);
}

void oc_column_state_release(onnxc_trainer *t)
{
    oc_split_state *st = &t->split_state;
    if (!st->owns) return;
    for (int h = 0; h < 2; h++) {
        float *g, *m, *v;
        const oc_param_block *b = &st->half[h];
        own_arrays(st, b, h, &g, &m, &v);
        const size_t offset = t->params.offset[b->param];
        if (m) move_slot(t->optim.slot1, b, offset, m, false);
        if (v) move_slot(t->optim.slot2, b, offset, v, false);
    }
    st->owns = false;
}

void oc_split_state_free(oc_split_state *st)
{
    for (int h = 0; h < 2; h++) oc_aligned_free(st->block[h]);
    oc_aligned_free(st->work);
    *st = (oc_split_state){0};
}

/* Blocks big enough for this split, the state of another split given back. */
static onnxc_status prepare_state(onnxc_trainer *t, const oc_column_split *cs, onnxc_error *err)
{
    oc_split_state *st = &t->split_state;
    const bool same = st->owns && !memcmp(st->half, cs->w_half, sizeof st->half);
    if (!same) oc_column_state_release(t);
    st->slots = oc_optim_slots(t->optim.hp.kind);
    for (int h = 0; h < 2; h++) {
        const size_t floats = 3 * ((half_size(&cs->w_half[h]) + 15) & ~(size_t)15);
        if (st->block[h] && st->capacity[h] >= floats) continue;
        float *p = oc_aligned_alloc(floats * sizeof(float));
        if (!p) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for a thread's block of a layer's state");
        oc_aligned_free(st->block[h]);
        st->block[h] = p;
        st->capacity[h] = floats;
    }
    return ONNXC_OK;
}

static void half_cols(const oc_column_split *cs, int h, int64_t *c0, int64_t *c1)
{
    *c0 = h ? cs->cols : 0;
    *c1 = h ? cs->n : cs->cols;
}

/* Thread 0: the steps after the layer, the loss, and the backward steps
 * down to the layer's. */
static void middle(column_job *j)
{
    onnxc_trainer *t = j->t;
    oc_train_plan *tp = j->tp;
    onnxc_error *err = &j->err[0];
    j->status[0] = oc_plan_run_steps(&tp->fwd, j->cs->step + 1, tp->fwd.n_steps, err);
    if (j->status[0] != ONNXC_OK) return;
    oc_loss_args la = {.kind = t->opt.loss, .from_logits = t->from_logits,
                       .pred = tp->fwd.tensors[t->loss_value].data, .n = j->n, .k = j->k,
                       .labels = j->sparse ? t->labels : NULL, .targets = j->sparse ? NULL : t->targets,
                       .grad = tp->grads[t->loss_value].data, .row_loss = t->row_loss, .nthreads = 1};
    j->status[0] = oc_loss_compute(&la, &j->loss, err);
    if (j->status[0] != ONNXC_OK) return;
    j->loss_finite = isfinite(j->loss.loss);
    if (j->loss_finite) j->status[0] = oc_train_plan_backward_steps(tp, 0, tp->n_bsteps - 1, err);
}

/* The layer's backward pass for half h's columns on thread `me`, each half
 * masking dY into its own workspace (thread 1's never meets thread 0's
 * lines), then whether half h's gradients are all finite. */
static void layer_backward(column_job *j, int h, int me)
{
    oc_train_plan *tp = j->tp;
    const oc_bstep *b = &tp->bsteps[tp->n_bsteps - 1];
    oc_op_ctx ctx = oc_train_plan_bstep_ctx(tp, b, h ? j->t->split_state.work : tp->bwork, &j->err[me]);
    int64_t c0, c1;
    half_cols(j->cs, h, &c0, &c1);
    float *g, *m, *v;
    const oc_param_block *wb = &j->cs->w_half[h];
    own_arrays(&j->t->split_state, wb, h, &g, &m, &v);
    j->status[me] = oc_dense_train_backward_cols(&ctx, b->dout, b->din, c0, c1, g, wb->cols);
    if (j->status[me] == ONNXC_OK)
        j->grads_finite[h] = oc_all_finite(g, (int64_t)half_size(wb)) && for_each_block(j, h, block_finite);
}

/* Half h's update: its columns of W from its own block (the model's W
 * written by streaming stores: the other thread's columns share its rows'
 * cache lines' neighbourhood, and nothing reads W again before this
 * thread's next forward pass), then the rest of its part. */
static void update_half(const column_job *j, int h)
{
    float *g, *m, *v;
    const oc_param_block *wb = &j->cs->w_half[h];
    own_arrays(&j->t->split_state, wb, h, &g, &m, &v);
    float *w = j->t->params.data[wb->param] + wb->first;
    oc_optim_update_rows_streamed(&j->coef, wb->rows, wb->cols, w, wb->ld, g, m, v);
    for_each_block(j, h, block_update);
}

static void barrier(void)
{
#ifdef _OPENMP
#pragma omp barrier
#endif
}

/* Thread `me` of `parts` (2, or 1 when OpenMP gave one thread: it then
 * takes both halves in turn). Barriers are met by both threads alike. */
static void step_body(column_job *j, int me, int parts)
{
    oc_train_plan *tp = j->tp;
    const oc_column_split *cs = j->cs;
    if (j->take_state)
        for (int h = me; h < 2; h += parts) take_state(j->t, cs, h); /* into the cache of the thread that owns it */
    if (me == 0) {
        oc_train_plan_zero_grads(tp);
        j->status[0] = oc_plan_run_steps(&tp->fwd, 0, cs->step, &j->err[0]);
    }
    if (cs->step > 0) barrier();
    for (int h = me; h < 2; h += parts)
        if (running(j)) {
            int64_t c0, c1;
            half_cols(cs, h, &c0, &c1);
            oc_dense_train_forward_cols(&tp->fwd.steps[cs->step].ctx, c0, c1);
        }
    barrier();
    if (me == 0 && running(j)) middle(j);
    barrier();
    for (int h = me; h < 2; h += parts)
        if (running(j) && j->loss_finite) layer_backward(j, h, me);
    barrier();
    for (int h = me; h < 2; h += parts)
        if (running(j) && j->loss_finite && j->grads_finite[0] && j->grads_finite[1]) update_half(j, h);
}

/* Thread 1's backward workspace, grown to the largest plan's. */
static onnxc_status ensure_split_work(onnxc_trainer *t, size_t bytes, onnxc_error *err)
{
    oc_split_state *st = &t->split_state;
    if (st->work && st->work_bytes >= bytes) return ONNXC_OK;
    void *p = oc_aligned_alloc(bytes ? bytes : 64);
    if (!p) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for a second backward workspace");
    oc_aligned_free(st->work);
    st->work = p;
    st->work_bytes = bytes;
    return ONNXC_OK;
}

onnxc_status oc_trainer_step_columns(onnxc_trainer *t, oc_train_plan *tp, const oc_column_split *cs,
                                     const oc_tensor *in, int64_t k, bool sparse, onnxc_batch_result *result,
                                     onnxc_error *err)
{
    OC_TRY(ensure_split_work(t, tp->bwork_bytes, err));
    OC_TRY(prepare_state(t, cs, err));
    const int64_t n = in->shape.dims[0];
    column_job j = {.t = t, .tp = tp, .cs = cs, .in = in, .n = n, .k = k, .sparse = sparse,
                    .take_state = !t->split_state.owns};
    oc_optim_coef_next(&t->optim, &j.coef);
    oc_plan_set_threads(&tp->fwd, 1); /* thread 0 runs the other steps alone */
    oc_plan_bind_inputs(&tp->fwd, in); /* before thread 1 reads them */
#ifdef _OPENMP
    const oc_fp_env env = oc_fp_env_get(); /* the caller's, in both threads (fp_env.h) */
#pragma omp parallel num_threads(2)
    {
        const oc_fp_env own = oc_fp_env_swap(env);
        step_body(&j, omp_get_thread_num(), omp_get_num_threads());
        oc_fp_env_swap(own);
    }
#else
    step_body(&j, 0, 1);
#endif
    /* The blocks hold the halves' optimizer state from here on. */
    t->split_state.owns = true;
    memcpy(t->split_state.half, cs->w_half, sizeof t->split_state.half);
    for (int i = 0; i < 2; i++)
        if (j.status[i] != ONNXC_OK) {
            if (err) *err = j.err[i];
            return j.status[i];
        }
    if (!j.loss_finite) return oc_trainer_fail_loss(t, j.loss.loss, err);
    if (!j.grads_finite[0] || !j.grads_finite[1]) return oc_trainer_fail_gradient(t, err);
    oc_optim_count_step(&t->optim);
    t->model->weights_generation++; /* sessions re-pack the weights they cached */
    t->column_steps++;
    if (result) *result = (onnxc_batch_result){j.loss.loss, j.loss.correct, (size_t)n};
    return ONNXC_OK;
}
