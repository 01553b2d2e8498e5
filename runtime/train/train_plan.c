#include "train_plan.h"

#include <string.h>

#include "alloc.h"
#include "clock.h"

void oc_train_plan_free(oc_train_plan *tp)
{
    oc_plan_free(&tp->fwd);
    oc_free(tp->grads);
    oc_aligned_free(tp->grad_arena);
    oc_free(tp->bsteps);
    oc_free(tp->dout_pool);
    oc_free(tp->din_pool);
    oc_aligned_free(tp->bwork);
    oc_free(tp->zero_at);
    oc_free(tp->zero_len);
    memset(tp, 0, sizeof *tp);
}

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/*
 * Forward steps whose outputs nothing in the step needs: the loss reads
 * loss_value (the logits when the final Softmax/Sigmoid is fused into the
 * loss), and backward steps read their forward steps' inputs and outputs,
 * which are live through them anyway. The usual dead step is that final
 * Softmax, whose exp per element would be wasted every step. `live` is
 * scratch of n_values bytes. BatchNormalization stays: in training it
 * updates its running statistics in place, a side effect. Steps keep their
 * arena offsets, so dropping one changes no other buffer.
 */
static void drop_dead_steps(oc_plan *p, int loss_value, uint8_t *live)
{
    memset(live, 0, (size_t)p->n_values + 1);
    if (loss_value >= 0) live[loss_value] = 1;
    for (int s = p->n_steps - 1; s >= 0; s--) {
        const oc_node *n = p->steps[s].node;
        bool needed = !strcmp(n->op_type, "BatchNormalization");
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && live[n->out[k]]) needed = true;
        if (!needed) {
            p->steps[s].node = NULL; /* marked dead; removed below */
            continue;
        }
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) live[n->in[k]] = 1;
    }
    int w = 0;
    for (int s = 0; s < p->n_steps; s++)
        if (p->steps[s].node) p->steps[w++] = p->steps[s];
    p->n_steps = w;
}

/*
 * Which gradient buffers the backward pass may overwrite, and which must be
 * zeroed first. A buffer written by exactly one backward input slot of an op
 * flagged OC_OP_BACKWARD_OVERWRITE is overwritten (that op computes dW with
 * beta = 0: no memset, no read of the old values); every other buffer, and
 * every parameter slot no gradient reaches, is zeroed before each pass.
 */
static onnxc_status plan_zeroing(oc_train_plan *tp, const oc_graph *g, const oc_train_spec *spec,
                                 onnxc_error *err)
{
    const int nv = g->n_values;
    int *contrib = oc_calloc((size_t)nv + 1, sizeof *contrib);
    uint8_t *over = oc_calloc((size_t)nv + 1, 1);
    tp->zero_at = oc_calloc((size_t)nv * 2 + 1, sizeof *tp->zero_at);
    tp->zero_len = oc_calloc((size_t)nv * 2 + 1, sizeof *tp->zero_len);
    onnxc_status st = ONNXC_OK;
    if (!contrib || !over || !tp->zero_at || !tp->zero_len) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory building the training plan");
        goto done;
    }
    for (int i = 0; i < tp->n_bsteps; i++) {
        const oc_bstep *b = &tp->bsteps[i];
        const oc_node *n = b->fwd->node;
        for (int k = 0; k < n->n_in; k++)
            if (b->din[k]) contrib[n->in[k]]++;
    }
    for (int i = 0; i < tp->n_bsteps; i++) {
        oc_bstep *b = &tp->bsteps[i];
        const oc_node *n = b->fwd->node;
        if (!(n->op->flags & OC_OP_BACKWARD_OVERWRITE)) continue;
        for (int k = 0; k < n->n_in && k < 32; k++)
            if (b->din[k] && contrib[n->in[k]] == 1) {
                b->overwrite |= 1u << k;
                over[n->in[k]] = 1;
            }
    }
    for (int v = 0; v < nv; v++) {
        float *at = NULL;
        if (tp->grads[v].data && !over[v]) at = tp->grads[v].data;
        else if (!tp->grads[v].data && spec->is_param[v] && spec->param_grad[v]) at = spec->param_grad[v];
        if (!at) continue;
        tp->zero_at[tp->n_zero] = at;
        tp->zero_len[tp->n_zero] = (size_t)oc_shape_numel(&tp->fwd.tensors[v].shape);
        tp->n_zero++;
    }
done:
    oc_free(contrib);
    oc_free(over);
    return st;
}

onnxc_status oc_train_plan_build(oc_train_plan *tp, const onnxc_model *m, const oc_tensor *inputs,
                                 const oc_train_spec *spec, onnxc_error *err)
{
    memset(tp, 0, sizeof *tp);
    tp->batch = inputs[0].shape.rank >= 1 ? inputs[0].shape.dims[0] : 1;
    const oc_graph *g = &m->graph;
    const int nv = g->n_values;
    uint8_t *keep = oc_malloc((size_t)nv + 1);
    uint8_t *needs = oc_calloc((size_t)nv + 1, 1);   /* depends on a parameter */
    uint8_t *reaches = oc_calloc((size_t)nv + 1, 1); /* the loss depends on it */
    onnxc_status st = ONNXC_OK;
    if (!keep || !needs || !reaches) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory building the training plan");
        goto done;
    }
    memset(keep, 1, (size_t)nv + 1);
    oc_plan_options opt = {.nthreads = spec->nthreads, .rng = spec->rng, .variable = spec->variable,
                           .keep = keep, .training = true};
    if ((st = oc_plan_build(&tp->fwd, m, inputs, &opt, err)) != ONNXC_OK) goto done;
    oc_plan *p = &tp->fwd;
    drop_dead_steps(p, spec->loss_value, reaches); /* before anything points at steps */
    memset(reaches, 0, (size_t)nv + 1);

    /* Which values carry gradients: forward from parameters, backward from the loss. */
    for (int v = 0; v < nv; v++) needs[v] = spec->is_param[v];
    for (int s = 0; s < p->n_steps; s++) {
        const oc_node *n = p->steps[s].node;
        bool any = false;
        for (int k = 0; k < n->n_in && k < 32; k++)
            if (n->in[k] >= 0 && needs[n->in[k]] && ((n->op->grad_inputs >> k) & 1)) any = true;
        /* Gradients flow through float values only: a Cast to an integer
         * type ends the path. */
        for (int k = 0; k < n->n_out; k++)
            if (any && n->out[k] >= 0 && p->tensors[n->out[k]].dtype == ONNXC_FLOAT) needs[n->out[k]] = 1;
    }
    if (spec->loss_value >= 0) reaches[spec->loss_value] = 1;
    for (int s = p->n_steps - 1; s >= 0; s--) {
        const oc_node *n = p->steps[s].node;
        bool any = false;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && reaches[n->out[k]]) any = true;
        if (!any) continue;
        for (int k = 0; k < n->n_in && k < 32; k++)
            if (n->in[k] >= 0 && ((n->op->grad_inputs >> k) & 1)) reaches[n->in[k]] = 1;
    }

    tp->grads = oc_calloc((size_t)nv + 1, sizeof *tp->grads);
    size_t total_in = 0, total_out = 0;
    for (int s = 0; s < p->n_steps; s++) {
        total_in += (size_t)p->steps[s].ctx.n_in;
        total_out += (size_t)p->steps[s].ctx.n_out;
    }
    tp->bsteps = oc_calloc((size_t)p->n_steps + 1, sizeof *tp->bsteps);
    tp->din_pool = oc_calloc(total_in + 1, sizeof *tp->din_pool);
    tp->dout_pool = oc_calloc(total_out + 1, sizeof *tp->dout_pool);
    if (!tp->grads || !tp->bsteps || !tp->din_pool || !tp->dout_pool) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory building the training plan");
        goto done;
    }
    /* Gradient buffers: parameters use the owner's flat buffer, the rest one arena. */
    size_t floats = 0;
    for (int v = 0; v < nv; v++) {
        if (!needs[v] || !reaches[v]) continue;
        tp->grads[v] = p->tensors[v];
        tp->grads[v].data = NULL;
        if (p->tensors[v].dtype != ONNXC_FLOAT) {
            st = oc_fail(err, ONNXC_ERR_UNSUPPORTED, "tensor '%s': training needs float32 gradients, it is %s",
                         g->values[v].name, oc_dtype_name(p->tensors[v].dtype));
            goto done;
        }
        if (!spec->is_param[v]) floats += round16((size_t)oc_shape_numel(&p->tensors[v].shape));
    }
    tp->grad_arena_floats = floats;
    tp->grad_arena = oc_aligned_alloc((floats ? floats : 16) * sizeof(float));
    if (!tp->grad_arena) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for %zu gradient values", floats);
        goto done;
    }
    floats = 0;
    for (int v = 0; v < nv; v++) {
        if (!needs[v] || !reaches[v]) continue;
        if (spec->is_param[v]) {
            tp->grads[v].data = spec->param_grad[v];
        } else {
            tp->grads[v].data = tp->grad_arena + floats;
            floats += round16((size_t)oc_shape_numel(&p->tensors[v].shape));
        }
    }

    /* Backward steps, reverse order, only where a gradient flows through. */
    const oc_tensor **dpool = tp->dout_pool;
    oc_tensor **ipool = tp->din_pool;
    for (int s = p->n_steps - 1; s >= 0; s--) {
        oc_step *fs = &p->steps[s];
        const oc_node *n = fs->node;
        bool has_out = false, has_in = false;
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            dpool[k] = (v >= 0 && tp->grads[v].data) ? &tp->grads[v] : NULL;
            if (dpool[k]) has_out = true;
        }
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            ipool[k] = (v >= 0 && k < 32 && ((n->op->grad_inputs >> k) & 1) && tp->grads[v].data)
                           ? &tp->grads[v] : NULL;
            if (ipool[k]) has_in = true;
        }
        if (!has_out || !has_in) continue;
        if (!n->op->backward) {
            st = oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                              "onnxc cannot train through %s yet (no backward pass)", n->op_type);
            goto done;
        }
        size_t ws = n->op->backward_workspace ? n->op->backward_workspace(&fs->ctx) : 0;
        if (ws > tp->bwork_bytes) tp->bwork_bytes = ws;
        tp->bsteps[tp->n_bsteps++] = (oc_bstep){fs, dpool, ipool, 0};
        dpool += n->n_out;
        ipool += n->n_in;
    }
    tp->bwork = oc_aligned_alloc(tp->bwork_bytes ? tp->bwork_bytes : 64);
    if (!tp->bwork) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for backward workspace");
        goto done;
    }
    st = plan_zeroing(tp, g, spec, err);
done:
    oc_free(keep);
    oc_free(needs);
    oc_free(reaches);
    if (st != ONNXC_OK) oc_train_plan_free(tp);
    return st;
}

void oc_train_plan_zero_grads(oc_train_plan *tp)
{
    for (int i = 0; i < tp->n_zero; i++) memset(tp->zero_at[i], 0, tp->zero_len[i] * sizeof(float));
}

oc_op_ctx oc_train_plan_bstep_ctx(const oc_train_plan *tp, const oc_bstep *b, void *workspace, onnxc_error *err)
{
    /* The forward workspace is gone by now; backward gets its own. */
    oc_op_ctx ctx = b->fwd->ctx;
    ctx.workspace = workspace;
    ctx.workspace_bytes = tp->bwork_bytes;
    ctx.err = err;
    ctx.din_overwrite = b->overwrite;
    ctx.grad_row_cut = tp->row_cut;
    return ctx;
}

onnxc_status oc_train_plan_backward_steps(oc_train_plan *tp, int from, int to, onnxc_error *err)
{
    for (int i = from; i < to; i++) {
        oc_bstep *b = &tp->bsteps[i];
        oc_op_ctx ctx = oc_train_plan_bstep_ctx(tp, b, tp->bwork, err);
        const double t0 = tp->bstep_seconds ? oc_seconds() : 0.0;
        onnxc_status st = b->fwd->node->op->backward(&ctx, b->dout, b->din);
        if (tp->bstep_seconds) tp->bstep_seconds[i] += oc_seconds() - t0;
        if (st != ONNXC_OK) return st;
    }
    return ONNXC_OK;
}

onnxc_status oc_train_plan_backward(oc_train_plan *tp, onnxc_error *err)
{
    return oc_train_plan_backward_steps(tp, 0, tp->n_bsteps, err);
}
