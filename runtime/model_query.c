/* Read-only questions about a loaded model: declared inputs/outputs, metadata, nodes. */
#include <string.h>

#include "alloc.h"
#include "plan.h"

static void fill_info(const oc_graph *g, int v, onnxc_value_info *info)
{
    memset(info, 0, sizeof *info);
    const oc_value *val = &g->values[v];
    info->name = val->name;
    info->rank = -1;
    if (val->kind == OC_VALUE_INITIALIZER) {
        info->dtype = val->init.dtype;
        info->rank = val->init.shape.rank;
        memcpy(info->dims, val->init.shape.dims, sizeof info->dims);
    }
    const Onnx__ValueInfoProto *vi = val->info;
    if (!vi || !vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) return;
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    if (tt->has_elem_type) info->dtype = (onnxc_dtype)tt->elem_type;
    if (!tt->shape || tt->shape->n_dim > ONNXC_MAX_RANK) return;
    info->rank = (int)tt->shape->n_dim;
    for (int d = 0; d < info->rank; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        info->dims[d] = -1;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dim->dim_value >= 0)
            info->dims[d] = dim->dim_value;
        else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            info->dim_names[d] = dim->dim_param;
    }
}

size_t onnxc_model_input_count(const onnxc_model *m) { return m ? (size_t)m->graph.n_inputs : 0; }
size_t onnxc_model_output_count(const onnxc_model *m) { return m ? (size_t)m->graph.n_outputs : 0; }

onnxc_status onnxc_model_input(const onnxc_model *m, size_t index, onnxc_value_info *info)
{
    if (!m || !info || index >= (size_t)m->graph.n_inputs) return ONNXC_ERR_ARGUMENT;
    fill_info(&m->graph, m->graph.inputs[index], info);
    return ONNXC_OK;
}

onnxc_status onnxc_model_output(const onnxc_model *m, size_t index, onnxc_value_info *info)
{
    if (!m || !info || index >= (size_t)m->graph.n_outputs) return ONNXC_ERR_ARGUMENT;
    fill_info(&m->graph, m->graph.outputs[index], info);
    return ONNXC_OK;
}

void onnxc_model_get_meta(const onnxc_model *m, onnxc_model_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    const Onnx__ModelProto *p = m->proto;
    meta->ir_version = p->ir_version;
    meta->producer_name = p->producer_name ? p->producer_name : "";
    meta->producer_version = p->producer_version ? p->producer_version : "";
    meta->graph_name = p->graph && p->graph->name ? p->graph->name : "";
    meta->opset_onnx = m->opset_onnx;
    meta->opset_count = p->n_opset_import;
}

onnxc_status onnxc_model_opset(const onnxc_model *m, size_t index, const char **domain,
                               int64_t *version)
{
    if (!m || index >= m->proto->n_opset_import) return ONNXC_ERR_ARGUMENT;
    const Onnx__OperatorSetIdProto *o = m->proto->opset_import[index];
    *domain = o->domain && o->domain[0] ? o->domain : "ai.onnx";
    *version = o->version;
    return ONNXC_OK;
}

size_t onnxc_model_node_count(const onnxc_model *m) { return m ? (size_t)m->graph.n_nodes : 0; }

onnxc_status onnxc_model_node(const onnxc_model *m, size_t index, onnxc_node_info *info)
{
    if (!m || !info || index >= (size_t)m->graph.n_nodes) return ONNXC_ERR_ARGUMENT;
    const oc_graph *g = &m->graph;
    const oc_node *n = &g->nodes[index];
    memset(info, 0, sizeof *info);
    info->name = n->name;
    info->op_type = n->op_type;
    info->domain = n->domain;
    info->input_count = (size_t)n->n_in;
    info->output_count = (size_t)n->n_out;
    info->first_output = n->n_out ? n->proto->output[0] : "";
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        /* Parameters are floating-point weights, as Keras counts them;
         * integer initializers (Reshape shapes, axes) are not. */
        if (v >= 0 && g->values[v].kind == OC_VALUE_INITIALIZER &&
            oc_dtype_is_float(g->values[v].init.dtype)) {
            int64_t e = oc_shape_numel(&g->values[v].init.shape);
            if (e > 0) info->param_count += (uint64_t)e;
        }
    }
    return ONNXC_OK;
}

void onnxc_model_param_totals(const onnxc_model *m, uint64_t *count, uint64_t *bytes)
{
    *count = *bytes = 0;
    for (int v = 0; v < m->graph.n_values; v++) {
        const oc_value *val = &m->graph.values[v];
        if (val->kind != OC_VALUE_INITIALIZER) continue;
        int64_t e = oc_shape_numel(&val->init.shape);
        if (e <= 0) continue;
        if (oc_dtype_is_float(val->init.dtype)) *count += (uint64_t)e;
        *bytes += (uint64_t)e * oc_dtype_size(val->init.dtype);
    }
}

/* Probe values for symbolic dims: two runs with different values tell fixed
 * dims from ones that follow the inputs. Primes, so products stay telling. */
static int64_t probe_value(int run, int symbol) { return (run ? 211 : 101) + 2 * symbol; }

static onnxc_status probe_shapes(const onnxc_model *m, int run, const char **symbols, int *n_symbols,
                                 oc_plan *plan, onnxc_error *err)
{
    const oc_graph *g = &m->graph;
    oc_tensor *in = oc_calloc((size_t)g->n_inputs + 1, sizeof *in);
    if (!in) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_inputs; i++) {
        onnxc_value_info info;
        fill_info(g, g->inputs[i], &info);
        in[i].dtype = info.dtype ? info.dtype : ONNXC_FLOAT;
        in[i].shape.rank = info.rank < 0 ? 0 : info.rank;
        for (int d = 0; d < in[i].shape.rank; d++) {
            if (info.dims[d] >= 0) {
                in[i].shape.dims[d] = info.dims[d];
                continue;
            }
            int sym = -1;
            const char *name = info.dim_names[d] ? info.dim_names[d] : "?";
            for (int k = 0; k < *n_symbols; k++)
                if (!strcmp(symbols[k], name)) sym = k;
            if (sym < 0 && *n_symbols < 64) {
                sym = (*n_symbols)++;
                symbols[sym] = name;
            }
            in[i].shape.dims[d] = probe_value(run, sym < 0 ? 63 : sym);
        }
    }
    uint64_t rng = 1;
    oc_plan_options opt = {.nthreads = 1, .rng = &rng, .shape_only = true};
    onnxc_status st = oc_plan_build(plan, m, in, &opt, err);
    oc_free(in);
    return st;
}

onnxc_status onnxc_model_infer_shapes(const onnxc_model *m, onnxc_node_shape *shapes,
                                      onnxc_error *err)
{
    if (!m || !shapes) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_model_infer_shapes: NULL argument");
    const char *symbols[64];
    int n_symbols = 0;
    oc_plan a, b;
    OC_TRY(probe_shapes(m, 0, symbols, &n_symbols, &a, err));
    int n0 = n_symbols;
    n_symbols = 0;
    onnxc_status st = probe_shapes(m, 1, symbols, &n_symbols, &b, err);
    if (st != ONNXC_OK) {
        oc_plan_free(&a);
        return st;
    }
    (void)n0;
    const oc_graph *g = &m->graph;
    for (int i = 0; i < g->n_nodes; i++) {
        onnxc_node_shape *s = &shapes[i];
        memset(s, 0, sizeof *s);
        s->rank = -1;
        int v = g->nodes[i].n_out ? g->nodes[i].out[0] : -1;
        if (v < 0) continue;
        const oc_tensor *ta = &a.tensors[v], *tb = &b.tensors[v];
        s->dtype = ta->dtype;
        if (ta->dtype == ONNXC_UNDEFINED || ta->shape.rank != tb->shape.rank) continue;
        s->rank = ta->shape.rank;
        for (int d = 0; d < s->rank; d++) {
            s->dims[d] = ta->shape.dims[d] == tb->shape.dims[d] ? ta->shape.dims[d] : -1;
            if (s->dims[d] >= 0) continue;
            for (int k = 0; k < n_symbols; k++)
                if (ta->shape.dims[d] == probe_value(0, k) && tb->shape.dims[d] == probe_value(1, k))
                    s->dim_names[d] = symbols[k];
        }
    }
    oc_plan_free(&a);
    oc_plan_free(&b);
    return ONNXC_OK;
}

/* One line per unsupported (domain, op_type, opset), in first-use order. */
static onnxc_status list_unsupported(const onnxc_model *m, onnxc_error *err)
{
    const oc_graph *g = &m->graph;
    onnxc_status st = ONNXC_OK;
    for (int i = 0; i < g->n_nodes; i++) {
        const oc_node *n = &g->nodes[i];
        if (n->op) continue;
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !g->nodes[j].op && !strcmp(g->nodes[j].op_type, n->op_type) &&
                   !strcmp(g->nodes[j].domain, n->domain);
        if (seen) continue;
        const oc_op_def *def = oc_op_find(n->domain, n->op_type);
        const char *dom = n->domain[0] ? n->domain : "ai.onnx";
        if (def)
            st = oc_append(err, ONNXC_ERR_UNSUPPORTED,
                           "%s: unsupported op %s (domain %s, opset %d): onnxc implements it from opset %d",
                           m->label, n->op_type, dom, n->opset, def->versions[0]);
        else
            st = oc_append(err, ONNXC_ERR_UNSUPPORTED, "%s: unsupported op %s (domain %s, opset %d)",
                           m->label, n->op_type, dom, n->opset);
    }
    return st;
}

onnxc_status oc_model_require_supported(const onnxc_model *m, onnxc_error *err)
{
    if (m->n_unsupported == 0) return ONNXC_OK;
    oc_error_clear(err);
    return list_unsupported(m, err);
}

/* True when every symbolic or unknown input dim is the leading (batch) one,
 * so probing with a batch size exercises exactly what a run will. */
static bool only_batch_dims_symbolic(const onnxc_model *m)
{
    for (int i = 0; i < m->graph.n_inputs; i++) {
        onnxc_value_info info;
        fill_info(&m->graph, m->graph.inputs[i], &info);
        if (info.rank < 0) return false;
        for (int d = 1; d < info.rank; d++)
            if (info.dims[d] < 0) return false;
    }
    return true;
}

onnxc_status onnxc_model_check(const onnxc_model *m, onnxc_error *err)
{
    if (!m) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_model_check: NULL model");
    OC_TRY(oc_model_require_supported(m, err));
    onnxc_node_shape *shapes = oc_calloc((size_t)m->graph.n_nodes + 1, sizeof *shapes);
    if (!shapes) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    onnxc_status st = onnxc_model_infer_shapes(m, shapes, err);
    oc_free(shapes);
    if (st != ONNXC_OK && only_batch_dims_symbolic(m)) {
        oc_prefix(err, "%s", m->label);
        return st;
    }
    /* Symbolic feature dims: probe values cannot stand in for them (a
     * MatMul needs the real width), so shapes are checked at run time. */
    oc_error_clear(err);
    return ONNXC_OK;
}

void onnxc_model_weights_changed(onnxc_model *m)
{
    if (m) m->weights_generation++; /* sessions compare it at each run (session.c) */
}

size_t onnxc_model_initializer_count(const onnxc_model *m)
{
    return m && m->proto->graph ? m->proto->graph->n_initializer : 0;
}

onnxc_status onnxc_model_initializer(const onnxc_model *m, size_t index, onnxc_tensor *view)
{
    if (!m || !view || index >= onnxc_model_initializer_count(m)) return ONNXC_ERR_ARGUMENT;
    int v = oc_graph_find(&m->graph, m->proto->graph->initializer[index]->name);
    if (v < 0) return ONNXC_ERR_ARGUMENT;
    const oc_tensor *t = &m->graph.values[v].init;
    memset(view, 0, sizeof *view);
    view->name = m->graph.values[v].name;
    view->dtype = t->dtype;
    view->rank = t->shape.rank;
    memcpy(view->dims, t->shape.dims, sizeof view->dims);
    view->data = t->data;
    oc_shape_bytes(&t->shape, t->dtype, &view->capacity);
    return ONNXC_OK;
}
