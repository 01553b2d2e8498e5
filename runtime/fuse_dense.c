/* Dense-layer fusion of the inference plan (fuse_dense.h). */
#include "fuse_dense.h"

#include <string.h>

#include "alloc.h"
#include "ops/nn.h"

enum { READ_BY_MANY = -2 };

static bool is_op(const oc_node *n, const char *type)
{
    return n && !strcmp(n->op_type, type) && n->domain[0] == '\0';
}

static bool is_float(const oc_tensor *t) { return t && t->dtype == ONNXC_FLOAT; }

/* The op_type a fused node reports in messages and traces. */
static const char *fused_type(const char *head, bool add, bool relu)
{
    if (!strcmp(head, "Gemm")) return relu ? "Gemm+Relu" : "Gemm";
    if (add) return relu ? "MatMul+Add+Relu" : "MatMul+Add";
    return relu ? "MatMul+Relu" : "MatMul";
}

/* A constant bias for an N-wide output: N elements along the last dim only
 * ([N], [1,N], [1,1,N] ...), and no more dims than the output has. */
static bool bias_shape_ok(const oc_shape *b, int64_t N, int out_rank)
{
    if (b->rank < 1 || b->rank > out_rank || b->dims[b->rank - 1] != N) return false;
    for (int d = 0; d < b->rank - 1; d++)
        if (b->dims[d] != 1) return false;
    return true;
}

/* A value a fused step may read as its weight or bias: in inference a
 * constant; in training also a weight being trained (a variable initializer,
 * read afresh every step). */
static bool usable_constant(const oc_plan *p, const oc_plan_options *opt, int v)
{
    if (v < 0) return false;
    if (p->known[v]) return true;
    return opt->training && opt->variable && opt->variable[v] &&
           p->model->graph.values[v].kind == OC_VALUE_INITIALIZER;
}

/* The weight W of a head node when it can be fused: a 2-D float initializer
 * with K and N >= 1 that usable_constant allows (inference packs it once;
 * training packs it every step). A weight released for inference only has
 * no data but is packed already. */
static bool fusable_weight(const oc_plan *p, const oc_plan_options *opt, int v)
{
    const oc_graph *g = &p->model->graph;
    if (v < 0 || g->values[v].kind != OC_VALUE_INITIALIZER || !usable_constant(p, opt, v))
        return false;
    const oc_tensor *w = &p->tensors[v];
    return is_float(w) && w->shape.rank == 2 && w->shape.dims[0] > 0 && w->shape.dims[1] > 0 &&
           (w->data || g->values[v].released);
}

typedef struct match {
    int head, add, relu;         /* step indices, -1 when absent */
    int x, w, b, y;              /* value indices: input, weight, bias (-1: none), fused output */
    int transB;
    int64_t K, N;
} match;

int oc_dense_head_transB(const oc_node *n)
{
    if (n->n_in < 2 || n->n_out != 1) return -1;
    if (is_op(n, "MatMul")) return 0;
    if (!is_op(n, "Gemm")) return -1;
    const oc_gemm_params *gp = n->params;
    if (!gp || gp->alpha != 1.0f || gp->trans_a) return -1;
    return gp->trans_b ? 1 : 0;
}

/* Does step s start a dense layer? Fills m's head, x, w, transB, bias, K, N. */
static bool match_head(const oc_plan *p, const oc_plan_options *opt, int s, match *m)
{
    const oc_node *n = p->steps[s].node;
    const int transB = oc_dense_head_transB(n);
    if (transB < 0) return false;
    const oc_tensor *x = n->in[0] >= 0 ? &p->tensors[n->in[0]] : NULL;
    if (n->out[0] < 0 || !is_float(x) || !is_float(&p->tensors[n->out[0]]) ||
        !fusable_weight(p, opt, n->in[1]))
        return false;
    *m = (match){.head = s, .add = -1, .relu = -1, .x = n->in[0], .w = n->in[1], .b = -1,
                 .y = n->out[0], .transB = transB};
    const oc_shape *ws = &p->tensors[m->w].shape;
    m->K = ws->dims[transB ? 1 : 0];
    m->N = ws->dims[transB ? 0 : 1];
    if (is_op(n, "MatMul")) return x->shape.rank >= 1 && x->shape.dims[x->shape.rank - 1] == m->K;
    /* Gemm */
    if (x->shape.rank != 2 || x->shape.dims[1] != m->K) return false;
    const oc_gemm_params *gp = n->params;
    const int c = n->n_in > 2 ? n->in[2] : -1;
    if (c < 0 || gp->beta == 0.0f) return true;       /* no C term */
    const oc_tensor *ct = &p->tensors[c];
    if (gp->beta != 1.0f || !usable_constant(p, opt, c) || !is_float(ct) ||
        !bias_shape_ok(&ct->shape, m->N, 2))
        return false;
    m->b = c;
    return true;
}

/* reader[v]: the one step that reads value v, -1 when none, READ_BY_MANY
 * when several do or it must survive the plan (graph output, kept). A
 * training plan keeps every value for its backward pass, but a fused step's
 * backward needs only its own input, weight and output, so there an
 * absorbed value need only not be a graph output. */
static void count_readers(const oc_plan *p, const oc_plan_options *opt, int *reader)
{
    const oc_graph *g = &p->model->graph;
    for (int v = 0; v < p->n_values; v++) reader[v] = -1;
    for (int s = 0; s < p->n_steps; s++) {
        const oc_node *n = p->steps[s].node;
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0) continue;
            reader[v] = reader[v] == -1 || reader[v] == s ? s : READ_BY_MANY;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) reader[g->outputs[i]] = READ_BY_MANY;
    if (opt->keep && !opt->training)
        for (int v = 0; v < p->n_values; v++)
            if (opt->keep[v]) reader[v] = READ_BY_MANY;
}

/* Extend m over an Add of a constant bias (MatMul heads without one). */
static void match_add(const oc_plan *p, const oc_plan_options *opt, const int *reader, match *m)
{
    const int s = reader[m->y];
    if (m->b >= 0 || s < 0) return;
    const oc_node *n = p->steps[s].node;
    if (!is_op(n, "Add") || n->n_in != 2 || n->out[0] < 0) return;
    const int other = n->in[0] == m->y ? n->in[1] : n->in[0];
    if (other < 0 || other == m->y || !usable_constant(p, opt, other)) return;
    const oc_tensor *b = &p->tensors[other], *y = &p->tensors[m->y], *out = &p->tensors[n->out[0]];
    if (!is_float(b) || !is_float(out) || !oc_shape_equal(&out->shape, &y->shape) ||
        !bias_shape_ok(&b->shape, m->N, y->shape.rank))
        return;
    m->add = s;
    m->b = other;
    m->y = n->out[0];
}

static void match_relu(const oc_plan *p, const int *reader, match *m)
{
    const int s = reader[m->y];
    if (s < 0) return;
    const oc_node *n = p->steps[s].node;
    if (!is_op(n, "Relu") || n->out[0] < 0 || !is_float(&p->tensors[n->out[0]])) return;
    m->relu = s;
    m->y = n->out[0];
}

/* The fused node's identity: messages and traces name the head node, with
 * an op_type that lists what was fused. */
static oc_fused_dense *new_fused(oc_plan *p, const match *m, const oc_op_def *op)
{
    const oc_node *head = p->steps[m->head].node;
    oc_fused_dense *f = &p->fused[p->n_fused++];
    f->node = *head;            /* name, proto, graph */
    f->node.op_type = fused_type(head->op_type, m->add >= 0, m->relu >= 0);
    f->node.domain = "";
    f->node.op = op;
    f->node.n_out = 1;
    f->node.in = f->in;
    f->node.out = &f->out;
    f->node.params = &f->params;
    f->out = m->y;
    f->params = (oc_dense_params){.transB = m->transB, .act = m->relu >= 0 ? OC_ACT_RELU : OC_ACT_NONE,
                                  .K = m->K, .N = m->N};
    return f;
}

/* Turn step m->head into the fused Dense step of an inference plan: W comes
 * packed from the cache, the bias as a pointer. */
static onnxc_status build_fused(oc_plan *p, const match *m, oc_pack_cache *packs,
                                onnxc_error *err)
{
    oc_step *st = &p->steps[m->head];
    char label[160];
    oc_node_label(st->node, label, sizeof label);
    const oc_sgemm_pb *pb;
    OC_TRY(oc_pack_cache_get(packs, m->w, &p->tensors[m->w], m->transB, &pb, label, err));
    oc_fused_dense *f = new_fused(p, m, &oc_op_dense);
    f->in[0] = m->x;
    f->node.n_in = 1;
    f->params.w = pb;
    f->params.bias = m->b >= 0 ? p->tensors[m->b].data : NULL;
    st->node = &f->node;
    /* The head's ctx arrays hold >= 1 input and exactly 1 output slot. */
    st->ctx.node = &f->node;
    st->ctx.n_in = 1;
    st->ctx.n_out = 1;
    /* ctx.out is const for ops; the slot itself is plan->step_out storage. */
    ((oc_tensor **)st->ctx.out)[0] = &p->tensors[m->y];
    st->ctx.workspace_bytes = 0;
    return ONNXC_OK;
}

/* The same in a training plan: X, W and the bias stay inputs (the backward
 * pass writes their gradients, and W is packed afresh every step). */
static void build_fused_train(oc_plan *p, const match *m)
{
    oc_step *st = &p->steps[m->head];
    oc_fused_dense *f = new_fused(p, m, &oc_op_dense_train);
    f->in[0] = m->x;
    f->in[1] = m->w;
    f->in[2] = m->b;
    f->node.n_in = m->b >= 0 ? 3 : 2;
    for (int k = 0; k < f->node.n_in; k++) f->in_slots[k] = &p->tensors[f->in[k]];
    st->node = &f->node;
    st->ctx.node = &f->node;
    st->ctx.in = f->in_slots;   /* a MatMul head has only 2 input slots */
    st->ctx.n_in = f->node.n_in;
    st->ctx.n_out = 1;
    ((oc_tensor **)st->ctx.out)[0] = &p->tensors[m->y];
    st->ctx.saved_bytes = oc_dense_train_saved_bytes(oc_shape_numel(&p->tensors[m->x].shape) / m->K, m->K);
}

onnxc_status oc_fuse_dense(oc_plan *p, const oc_plan_options *opt, size_t *ws_bytes,
                           onnxc_error *err)
{
    if ((!opt->packs && !opt->training) || opt->shape_only || p->n_steps == 0) return ONNXC_OK;
    int *reader = oc_malloc(((size_t)p->n_values + 1) * sizeof *reader);
    uint8_t *drop = oc_calloc((size_t)p->n_steps + 1, 1);
    p->fused = oc_calloc((size_t)p->n_steps + 1, sizeof *p->fused);
    onnxc_status st = ONNXC_OK;
    if (!reader || !drop || !p->fused) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory fusing dense layers");
        goto done;
    }
    count_readers(p, opt, reader);
    for (int s = 0; s < p->n_steps; s++) {
        match m;
        if (drop[s] || !match_head(p, opt, s, &m)) continue;
        if (!is_op(p->steps[s].node, "Gemm")) match_add(p, opt, reader, &m);
        match_relu(p, reader, &m);
        if (opt->training) {
            /* A lone MatMul gains nothing over its own kernels. */
            if (m.add < 0 && m.relu < 0 && m.b < 0) continue;
            build_fused_train(p, &m);
        } else {
            if ((st = build_fused(p, &m, opt->packs, err)) != ONNXC_OK) goto done;
        }
        ws_bytes[s] = 0;
        if (m.add >= 0) drop[m.add] = 1;
        if (m.relu >= 0) drop[m.relu] = 1;
    }
    /* Close the gaps the absorbed steps left; order is kept. */
    int w = 0;
    for (int s = 0; s < p->n_steps; s++) {
        if (drop[s]) continue;
        p->steps[w] = p->steps[s];
        ws_bytes[w] = ws_bytes[s];
        w++;
    }
    p->n_steps = w;
done:
    oc_free(reader);
    oc_free(drop);
    return st;
}
