#include "plan.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "fuse_dense.h"

#define ALIGN 64

static size_t align_up(size_t n) { return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

void oc_plan_free(oc_plan *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_owned; i++) oc_aligned_free(p->owned[i]);
    if (p->input_value_copy && p->model)
        for (int i = 0; i < p->model->graph.n_inputs; i++) oc_free(p->input_value_copy[i]);
    oc_free(p->owned);
    oc_free(p->input_value_copy);
    oc_free(p->input_value_used);
    oc_free(p->tensors);
    oc_free(p->known);
    oc_free(p->steps);
    oc_free(p->step_in);
    oc_free(p->step_out);
    oc_aligned_free(p->arena);
    oc_free(p->fused);
    memset(p, 0, sizeof *p);
}

onnxc_status oc_check_input(const onnxc_model *m, int i, const oc_tensor *t, onnxc_error *err)
{
    const oc_value *val = &m->graph.values[m->graph.inputs[i]];
    char got[128];
    oc_shape_str(&t->shape, got, sizeof got);
    if (t->shape.rank < 0 || t->shape.rank > OC_MAX_RANK)
        return oc_fail(err, ONNXC_ERR_SHAPE, "input '%s': rank %d is outside [0, %d]", val->name,
                       t->shape.rank, OC_MAX_RANK);
    if (oc_shape_numel(&t->shape) < 0)
        return oc_fail(err, ONNXC_ERR_SHAPE, "input '%s': shape %s has negative dims or overflows",
                       val->name, got);
    if (oc_dtype_size(t->dtype) == 0)
        return oc_fail(err, ONNXC_ERR_SHAPE, "input '%s': dtype %s cannot be computed on", val->name,
                       oc_dtype_name(t->dtype));
    const Onnx__ValueInfoProto *vi = val->info;
    if (!vi || !vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) return ONNXC_OK;
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    if (tt->has_elem_type && tt->elem_type != 0 && tt->elem_type != (int)t->dtype)
        return oc_fail(err, ONNXC_ERR_SHAPE, "input '%s': expected dtype %s, got %s", val->name,
                       oc_dtype_name((oc_dtype)tt->elem_type), oc_dtype_name(t->dtype));
    if (!tt->shape) return ONNXC_OK;
    char want[256] = "[";
    for (size_t d = 0; d < tt->shape->n_dim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        size_t used = strlen(want);
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            snprintf(want + used, sizeof want - used, "%s%lld", d ? "," : "", (long long)dim->dim_value);
        else
            snprintf(want + used, sizeof want - used, "%s%s", d ? "," : "",
                     dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM ? dim->dim_param : "?");
    }
    strncat(want, "]", sizeof want - strlen(want) - 1);
    if ((int)tt->shape->n_dim != t->shape.rank)
        return oc_fail(err, ONNXC_ERR_SHAPE, "input '%s': expected shape %s (rank %zu), got %s",
                       val->name, want, tt->shape->n_dim, got);
    for (size_t d = 0; d < tt->shape->n_dim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            dim->dim_value > 0 && dim->dim_value != t->shape.dims[d])
            return oc_fail(err, ONNXC_ERR_SHAPE, "input '%s': expected shape %s, got %s (dim %zu)",
                           val->name, want, got, d);
    }
    return ONNXC_OK;
}

/* --- arena assignment -------------------------------------------------------- */

typedef struct block { size_t offset, size; int last; } block;

typedef struct arena_planner {
    block *active;            /* sorted by offset */
    int n_active;
    size_t high_water;
} arena_planner;

static void expire(arena_planner *a, int step)
{
    int w = 0;
    for (int r = 0; r < a->n_active; r++)
        if (a->active[r].last >= step) a->active[w++] = a->active[r];
    a->n_active = w;
}

/* First fit among blocks alive now; `active` has room for one more. */
static size_t place(arena_planner *a, size_t size, int last)
{
    size = align_up(size ? size : 1);
    size_t at = 0;
    int pos = 0;
    for (; pos < a->n_active; pos++) {
        if (a->active[pos].offset >= at + size) break;
        size_t end = a->active[pos].offset + a->active[pos].size;
        if (end > at) at = end;
    }
    memmove(&a->active[pos + 1], &a->active[pos], (size_t)(a->n_active - pos) * sizeof(block));
    a->active[pos] = (block){at, size, last};
    a->n_active++;
    if (at + size > a->high_water) a->high_water = at + size;
    return at;
}

static onnxc_status plan_memory(oc_plan *p, const oc_plan_options *opt, size_t *ws_bytes,
                                onnxc_error *err)
{
    const oc_graph *g = &p->model->graph;
    int *last = oc_malloc(((size_t)p->n_values + 1) * sizeof *last);
    size_t *offset = oc_malloc(((size_t)p->n_values + 1) * sizeof *offset);
    int total_out = 0;
    for (int s = 0; s < p->n_steps; s++) total_out += p->steps[s].ctx.n_out + 2; /* + workspace, saved */
    arena_planner a = {.active = oc_malloc(((size_t)total_out + 1) * sizeof(block))};
    onnxc_status st = ONNXC_OK;
    if (!last || !offset || !a.active) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory planning buffers");
        goto done;
    }
    for (int v = 0; v < p->n_values; v++) last[v] = -1;
    for (int s = 0; s < p->n_steps; s++) {
        const oc_node *n = p->steps[s].node;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) last[n->out[k]] = s;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && last[n->in[k]] >= 0) last[n->in[k]] = s;
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (last[g->outputs[i]] >= 0) last[g->outputs[i]] = p->n_steps;
    if (opt->keep)
        for (int v = 0; v < p->n_values; v++)
            if (opt->keep[v] && last[v] >= 0) last[v] = p->n_steps;
    for (int s = 0; s < p->n_steps; s++) {
        expire(&a, s);
        const oc_node *n = p->steps[s].node;
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (v < 0) continue;
            size_t bytes;
            oc_shape_bytes(&p->tensors[v].shape, p->tensors[v].dtype, &bytes);
            offset[v] = place(&a, bytes, last[v]);
        }
        p->steps[s].workspace_offset = place(&a, ws_bytes[s], s);
        if (p->steps[s].ctx.saved_bytes)
            p->steps[s].saved_offset = place(&a, p->steps[s].ctx.saved_bytes, p->n_steps);
    }
    p->arena_bytes = a.high_water;
    p->arena = oc_aligned_alloc(p->arena_bytes ? p->arena_bytes : ALIGN);
    if (!p->arena) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory: the plan needs %zu bytes of activations",
                     p->arena_bytes);
        goto done;
    }
    for (int s = 0; s < p->n_steps; s++) {
        const oc_node *n = p->steps[s].node;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) p->tensors[n->out[k]].data = (char *)p->arena + offset[n->out[k]];
        p->steps[s].ctx.workspace = (char *)p->arena + p->steps[s].workspace_offset;
        p->steps[s].ctx.workspace_bytes = ws_bytes[s];
        if (p->steps[s].ctx.saved_bytes)
            p->steps[s].ctx.saved = (char *)p->arena + p->steps[s].saved_offset;
    }
done:
    oc_free(last);
    oc_free(offset);
    oc_free(a.active);
    return st;
}

/* --- building ---------------------------------------------------------------- */

static void mark_needed_values(const oc_graph *g, uint8_t *need)
{
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const oc_node *n = &g->nodes[i];
        if (!n->op) continue;
        bool out_needed = false;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && need[n->out[k]]) out_needed = true;
        for (int k = 0; k < n->n_in && k < 32; k++) {
            if (n->in[k] < 0) continue;
            if ((n->op->value_inputs >> k) & 1) need[n->in[k]] = 1;
            if (out_needed && !(n->op->flags & OC_OP_SHAPE_ONLY)) need[n->in[k]] = 1;
        }
    }
}

static onnxc_status check_outputs(const oc_node *n, oc_op_ctx *ctx, const onnxc_limits *lim,
                                  onnxc_error *err)
{
    for (int k = 0; k < ctx->n_out; k++) {
        const oc_tensor *t = ctx->out[k];
        if (!t) continue;
        size_t bytes;
        if (oc_dtype_size(t->dtype) == 0 || t->shape.rank < 0 || t->shape.rank > OC_MAX_RANK ||
            !oc_shape_bytes(&t->shape, t->dtype, &bytes))
            return oc_node_fail(n, err, ONNXC_ERR_SHAPE,
                                "output %d has an invalid dtype or shape (internal inference error)", k);
        if (bytes > lim->max_tensor_bytes)
            return oc_node_fail(n, err, ONNXC_ERR_LIMIT, "output %d needs %zu bytes, over max_tensor_bytes",
                                k, bytes);
    }
    return ONNXC_OK;
}

/* Runs a node now, at plan time, into buffers the plan owns. */
static onnxc_status fold_node(oc_plan *p, oc_op_ctx *ctx, size_t ws, onnxc_error *err)
{
    for (int k = 0; k < ctx->n_out; k++) {
        oc_tensor *t = ctx->out[k];
        if (!t) continue;
        size_t bytes;
        oc_shape_bytes(&t->shape, t->dtype, &bytes);
        t->data = oc_aligned_alloc(bytes ? bytes : 1);
        if (!t->data) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory folding constants");
        memset(t->data, 0, bytes);
        p->owned[p->n_owned++] = t->data;
    }
    void *workspace = NULL;
    if (ws) {
        workspace = oc_aligned_alloc(ws);
        if (!workspace) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory folding constants");
    }
    ctx->workspace = workspace;
    ctx->workspace_bytes = ws;
    onnxc_status st = ctx->node->op->run(ctx);
    oc_aligned_free(workspace);
    ctx->workspace = NULL;
    return st;
}

/* Inference-only models (inference_only.c) keep some weights only packed.
 * A node that reads one other than as a fused dense layer's B (folded at
 * plan time, or a shape the fusion does not take) gets it unpacked into plan
 * memory. */
static onnxc_status unpack_released_inputs(oc_plan *p, const oc_node *n, onnxc_error *err)
{
    const oc_graph *g = &p->model->graph;
    for (int k = 0; k < n->n_in; k++) {
        const int v = n->in[k];
        if (v < 0 || !g->values[v].released || p->tensors[v].data) continue;
        void *w;
        OC_TRY(oc_model_unpack_released(p->model, v, &w, err));
        p->owned[p->n_owned++] = w;
        p->tensors[v].data = w;
    }
    return ONNXC_OK;
}

onnxc_status oc_plan_build(oc_plan *p, const onnxc_model *m, const oc_tensor *inputs,
                           const oc_plan_options *opt, onnxc_error *err)
{
    memset(p, 0, sizeof *p);
    OC_TRY(oc_model_require_supported(m, err));
    const oc_graph *g = &m->graph;
    p->model = m;
    p->n_values = g->n_values;
    size_t total_in = 0, total_out = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        total_in += (size_t)g->nodes[i].n_in;
        total_out += (size_t)g->nodes[i].n_out;
    }
    p->tensors = oc_calloc((size_t)g->n_values + 1, sizeof *p->tensors);
    p->known = oc_calloc((size_t)g->n_values + 1, 1);
    p->input_value_used = oc_calloc((size_t)g->n_inputs + 1, 1);
    p->input_value_copy = oc_calloc((size_t)g->n_inputs + 1, sizeof(void *));
    p->steps = oc_calloc((size_t)g->n_nodes + 1, sizeof *p->steps);
    p->step_in = oc_calloc(total_in + 1, sizeof *p->step_in);
    p->step_out = oc_calloc(total_out + 1, sizeof *p->step_out);
    /* Folded outputs, and weights unpacked by unpack_released_inputs. */
    p->owned = oc_calloc(total_out + (size_t)g->n_values + 1, sizeof *p->owned);
    uint8_t *need = oc_calloc((size_t)g->n_values + 1, 1);
    size_t *ws_bytes = oc_calloc((size_t)g->n_nodes + 1, sizeof *ws_bytes);
    onnxc_status st = ONNXC_OK;
    if (!p->tensors || !p->known || !p->input_value_used || !p->input_value_copy || !p->steps ||
        !p->step_in || !p->step_out || !p->owned || !need || !ws_bytes) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory building the plan");
        goto done;
    }
    int nthreads = opt->nthreads > 0 ? opt->nthreads : 1;

    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == OC_VALUE_INITIALIZER) {
            p->tensors[v] = g->values[v].init;
            p->known[v] = !(opt->variable && opt->variable[v]);
        }
    mark_needed_values(g, need);
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if ((st = oc_check_input(m, i, &inputs[i], err)) != ONNXC_OK) goto done;
        p->tensors[v] = inputs[i];
        p->tensors[v].data = NULL;
        if (!need[v]) continue;
        /* This input's values decide shapes: the plan is only valid for them. */
        size_t bytes;
        oc_shape_bytes(&inputs[i].shape, inputs[i].dtype, &bytes);
        if (!inputs[i].data) {
            st = oc_fail(err, ONNXC_ERR_SHAPE, "input '%s' determines output shapes; its values are needed",
                         g->values[v].name);
            goto done;
        }
        p->input_value_copy[i] = oc_malloc(bytes ? bytes : 1);
        if (!p->input_value_copy[i]) {
            st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(p->input_value_copy[i], inputs[i].data, bytes);
        p->tensors[v].data = p->input_value_copy[i];
        p->input_value_used[i] = 1;
        p->known[v] = 1;
    }

    const oc_tensor **in_pool = p->step_in;
    oc_tensor **out_pool = p->step_out;
    for (int i = 0; i < g->n_nodes; i++) {
        oc_node *n = &g->nodes[i];
        oc_op_ctx ctx = {.node = n, .n_in = n->n_in, .n_out = n->n_out, .in = in_pool, .out = out_pool,
                         .nthreads = nthreads, .rng = opt->rng, .err = err,
                         .training = opt->training};
        bool all_known = true;
        for (int k = 0; k < n->n_in; k++) {
            in_pool[k] = n->in[k] >= 0 ? &p->tensors[n->in[k]] : NULL;
            if (n->in[k] >= 0 && !p->known[n->in[k]]) all_known = false;
        }
        for (int k = 0; k < n->n_out; k++) {
            out_pool[k] = n->out[k] >= 0 ? &p->tensors[n->out[k]] : NULL;
            if (out_pool[k]) memset(out_pool[k], 0, sizeof *out_pool[k]);
        }
        size_t ws = 0;
        if ((st = n->op->infer(&ctx, &ws)) != ONNXC_OK) goto done;
        if ((st = check_outputs(n, &ctx, &m->limits, err)) != ONNXC_OK) goto done;
        bool fold = (n->op->flags & OC_OP_SHAPE_ONLY) ||
                    (all_known && !(n->op->flags & OC_OP_NONDETERMINISTIC) && !ctx.saved_bytes);
        if (fold) {
            if ((st = unpack_released_inputs(p, n, err)) != ONNXC_OK ||
                (st = fold_node(p, &ctx, ws, err)) != ONNXC_OK)
                goto done;
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k] >= 0) p->known[n->out[k]] = 1;
            continue;
        }
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && need[n->out[k]]) {
                st = oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                                  "output '%s' determines a shape but changes from run to run",
                                  g->values[n->out[k]].name);
                goto done;
            }
        if (opt->shape_only) continue;
        ws_bytes[p->n_steps] = ws;
        p->steps[p->n_steps].node = n;
        p->steps[p->n_steps].ctx = ctx;
        p->n_steps++;
        in_pool += n->n_in;
        out_pool += n->n_out;
    }
    if (!opt->shape_only && (st = oc_fuse_dense(p, opt, ws_bytes, err)) == ONNXC_OK) {
        for (int s = 0; s < p->n_steps && st == ONNXC_OK; s++)
            st = unpack_released_inputs(p, p->steps[s].node, err);
        if (st == ONNXC_OK) st = plan_memory(p, opt, ws_bytes, err);
    }
done:
    oc_free(need);
    oc_free(ws_bytes);
    if (st != ONNXC_OK) oc_plan_free(p);
    return st;
}

bool oc_plan_matches(const oc_plan *p, const oc_tensor *inputs)
{
    const oc_graph *g = &p->model->graph;
    for (int i = 0; i < g->n_inputs; i++) {
        const oc_tensor *t = &p->tensors[g->inputs[i]];
        if (t->dtype != inputs[i].dtype || !oc_shape_equal(&t->shape, &inputs[i].shape)) return false;
        if (p->input_value_used[i]) {
            size_t bytes;
            oc_shape_bytes(&t->shape, t->dtype, &bytes);
            if (memcmp(p->input_value_copy[i], inputs[i].data, bytes) != 0) return false;
        }
    }
    return true;
}

void oc_plan_bind_inputs(oc_plan *p, const oc_tensor *inputs)
{
    const oc_graph *g = &p->model->graph;
    for (int i = 0; i < g->n_inputs; i++)
        if (!p->input_value_used[i]) p->tensors[g->inputs[i]].data = inputs[i].data;
}

onnxc_status oc_plan_run_steps(oc_plan *p, int from, int to, onnxc_error *err)
{
    for (int s = from; s < to; s++) {
        oc_step *step = &p->steps[s];
        step->ctx.err = err;
        const double t0 = p->step_seconds ? oc_seconds() : 0.0;
        onnxc_status st = step->node->op->run(&step->ctx);
        if (p->step_seconds) p->step_seconds[s] += oc_seconds() - t0;
        if (st != ONNXC_OK) return st;
    }
    return ONNXC_OK;
}

onnxc_status oc_plan_run(oc_plan *p, const oc_tensor *inputs, onnxc_error *err)
{
    oc_plan_bind_inputs(p, inputs);
    return oc_plan_run_steps(p, 0, p->n_steps, err);
}

void oc_plan_set_threads(oc_plan *p, int nthreads)
{
    for (int s = 0; s < p->n_steps; s++) p->steps[s].ctx.nthreads = nthreads > 0 ? nthreads : 1;
}
