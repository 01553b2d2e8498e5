/*
 * Gradient (ai.onnx.preview.training, version 1).
 *
 * Outputs dY/dX_i for the tensors named by attribute `xs`, where Y is the
 * tensor named by `y`, computed by the nodes of the enclosing graph that lie
 * between xs/zs and y. Inputs are the values of xs followed by zs (zs: other
 * inputs the nodes need, held constant). The upstream gradient of y is 1 in
 * every element, so for non-scalar y the result is d(sum Y)/dX.
 *
 * The node re-runs that small subgraph itself, forward then backward with
 * each op's backward function, entirely inside its workspace:
 *   [oc_tensor value[n_local]] [oc_tensor grad[n_local]] [pointer arrays]
 *   [per-node scratch] [value data...] [gradient data...]
 * infer sizes it; run recomputes the same layout (infer is deterministic).
 */
#include <string.h>

#include "../alloc.h"
#include "../attr.h"
#include "../op.h"

typedef struct grad_params {
    int n_x, n_z;
    int n_sub;                /* subgraph nodes, in graph order */
    int n_local;              /* values the subgraph touches */
    int y_slot;
    int *sub;                 /* [n_sub] node index */
    int *slot;                /* [graph n_values] local slot or -1 */
    int *value;               /* [n_local] graph value of each slot */
    int *input_slot;          /* [n_x + n_z] slot of each node input */
} grad_params;

/* The i-th STRINGS entry as a C string in buf (bytes are not NUL-terminated). */
static const char *attr_str(const Onnx__AttributeProto *a, size_t i, char *buf, size_t size)
{
    size_t len = a->strings[i].len < size - 1 ? a->strings[i].len : size - 1;
    memcpy(buf, a->strings[i].data, len);
    buf[len] = '\0';
    return buf;
}

static onnxc_status gradient_init(oc_node *n, onnxc_error *err)
{
    const oc_graph *g = n->graph;
    if (!g) return oc_node_fail(n, err, ONNXC_ERR_MODEL, "Gradient needs its enclosing graph");
    const Onnx__AttributeProto *xs = oc_attr_find(n, "xs"), *zs = oc_attr_find(n, "zs");
    const char *ybytes;
    size_t ylen;
    OC_TRY(oc_attr_string(n, "y", &ybytes, &ylen, err));
    if (!xs || xs->n_strings == 0 || !ybytes)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL, "attributes 'xs' (names) and 'y' (name) are required");
    /* STRING attributes are bytes, not NUL-terminated. */
    char yname[1024];
    if (ylen >= sizeof yname || memchr(ybytes, 0, ylen))
        return oc_node_fail(n, err, ONNXC_ERR_MODEL, "attribute 'y' is not a valid tensor name");
    memcpy(yname, ybytes, ylen);
    yname[ylen] = '\0';
    int n_x = (int)xs->n_strings, n_z = zs ? (int)zs->n_strings : 0;
    if (n->n_in != n_x + n_z || n->n_out != n_x)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL, "expected %d inputs (xs then zs) and %d outputs, got %d and %d",
                            n_x + n_z, n_x, n->n_in, n->n_out);
    int y = oc_graph_find(g, yname);
    if (y < 0) return oc_node_fail(n, err, ONNXC_ERR_MODEL, "y '%s' is not a tensor of the graph", yname);

    size_t nv = (size_t)g->n_values, nn = (size_t)g->n_nodes;
    size_t bytes = sizeof(grad_params) + sizeof(int) * (nn + 2 * nv + (size_t)n_x + (size_t)n_z + 4);
    grad_params *p = oc_calloc(1, bytes);
    uint8_t *in_sub = oc_calloc(nn + 1, 1);
    int *stack = oc_malloc((nn + 1) * sizeof *stack);
    if (!p || !in_sub || !stack) {
        oc_free(p); oc_free(in_sub); oc_free(stack);
        return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    }
    p->n_x = n_x;
    p->n_z = n_z;
    p->sub = (int *)(p + 1);
    p->slot = p->sub + nn;
    p->value = p->slot + nv;
    p->input_slot = p->value + nv;
    for (size_t v = 0; v < nv; v++) p->slot[v] = -1;
    /* Inputs first: they cut the walk. */
    for (int i = 0; i < n_x + n_z; i++) {
        char buf[1024];
        const char *name = i < n_x ? attr_str(xs, (size_t)i, buf, sizeof buf)
                                   : attr_str(zs, (size_t)(i - n_x), buf, sizeof buf);
        int v = oc_graph_find(g, name);
        if (v < 0 || v != n->in[i]) {
            oc_free(p); oc_free(in_sub); oc_free(stack);
            return oc_node_fail(n, err, ONNXC_ERR_MODEL, "input %d must be '%s', the %d-th name of xs then zs",
                                i, name, i);
        }
        if (p->slot[v] < 0) {
            p->slot[v] = p->n_local;
            p->value[p->n_local++] = v;
        }
        p->input_slot[i] = p->slot[v];
    }
    onnxc_status st = ONNXC_OK;
    int sp = 0;
    if (p->slot[y] < 0) {
        if (g->values[y].producer < 0) st = oc_node_fail(n, err, ONNXC_ERR_MODEL, "y '%s' is not computed from xs", yname);
        else stack[sp++] = g->values[y].producer;
    }
    while (sp && st == ONNXC_OK) {
        int ni = stack[--sp];
        if (in_sub[ni]) continue;
        in_sub[ni] = 1;
        const oc_node *m = &g->nodes[ni];
        for (int k = 0; k < m->n_in; k++) {
            int v = m->in[k];
            if (v < 0 || p->slot[v] >= 0) continue;
            const oc_value *val = &g->values[v];
            if (val->kind == OC_VALUE_INPUT) {
                st = oc_node_fail(n, err, ONNXC_ERR_MODEL, "'%s' feeds y but is neither in xs nor in zs", val->name);
                break;
            }
            if (val->kind == OC_VALUE_NODE_OUTPUT && !in_sub[val->producer]) stack[sp++] = val->producer;
        }
    }
    for (size_t ni = 0; ni < nn && st == ONNXC_OK; ni++) {
        if (!in_sub[ni]) continue;
        const oc_node *m = &g->nodes[ni];
        if (m == n || !m->op) {
            st = oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED, "cannot differentiate through node %zu", ni);
            break;
        }
        p->sub[p->n_sub++] = (int)ni;
        for (int k = 0; k < m->n_in + m->n_out; k++) {
            int v = k < m->n_in ? m->in[k] : m->out[k - m->n_in];
            if (v >= 0 && p->slot[v] < 0) {
                p->slot[v] = p->n_local;
                p->value[p->n_local++] = v;
            }
        }
    }
    oc_free(in_sub);
    oc_free(stack);
    if (st != ONNXC_OK) {
        oc_free(p);
        return st;
    }
    p->y_slot = p->slot[y];
    n->params = p;
    return ONNXC_OK;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

typedef struct layout {
    oc_tensor *val, *grad;        /* [n_local] */
    const oc_tensor **in_ptrs;    /* per node, max inputs */
    oc_tensor **out_ptrs;
    char *scratch;
    size_t scratch_bytes;
    char *data;                   /* value and gradient bytes */
    size_t total;
} layout;

/* Infers every subgraph value; with `base` set, also places all buffers. */
static onnxc_status plan_sub(oc_op_ctx *ctx, char *base, layout *L)
{
    const grad_params *p = ctx->node->params;
    const oc_graph *g = ctx->node->graph;
    int max_io = 1;
    for (int i = 0; i < p->n_sub; i++) {
        const oc_node *m = &g->nodes[p->sub[i]];
        if (m->n_in + m->n_out > max_io) max_io = m->n_in + m->n_out;
    }
    size_t off = 0;
    size_t hdr_val = off; off += align64((size_t)p->n_local * sizeof(oc_tensor));
    size_t hdr_grad = off; off += align64((size_t)p->n_local * sizeof(oc_tensor));
    size_t hdr_in = off; off += align64((size_t)max_io * sizeof(void *));
    size_t hdr_out = off; off += align64((size_t)max_io * sizeof(void *));
    oc_tensor local_val[64], local_grad[64];
    const oc_tensor *in_ptrs[64];
    oc_tensor *out_ptrs[64];
    bool in_ws = base != NULL;
    if (!in_ws && (p->n_local > 64 || max_io > 64))
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_UNSUPPORTED, "subgraph too large for Gradient");
    L->val = in_ws ? (oc_tensor *)(base + hdr_val) : local_val;
    L->grad = in_ws ? (oc_tensor *)(base + hdr_grad) : local_grad;
    L->in_ptrs = in_ws ? (const oc_tensor **)(base + hdr_in) : in_ptrs;
    L->out_ptrs = in_ws ? (oc_tensor **)(base + hdr_out) : out_ptrs;
    memset(L->val, 0, (size_t)p->n_local * sizeof(oc_tensor));
    for (int i = 0; i < p->n_x + p->n_z; i++) L->val[p->input_slot[i]] = *ctx->in[i];
    for (int s = 0; s < p->n_local; s++) {
        const oc_value *v = &g->values[p->value[s]];
        if (v->kind == OC_VALUE_INITIALIZER) L->val[s] = v->init;
    }
    size_t scratch = 0;
    for (int i = 0; i < p->n_sub; i++) {
        const oc_node *m = &g->nodes[p->sub[i]];
        for (int k = 0; k < m->n_in; k++) L->in_ptrs[k] = m->in[k] >= 0 ? &L->val[p->slot[m->in[k]]] : NULL;
        for (int k = 0; k < m->n_out; k++) L->out_ptrs[k] = m->out[k] >= 0 ? &L->val[p->slot[m->out[k]]] : NULL;
        oc_op_ctx c = {.node = m, .n_in = m->n_in, .n_out = m->n_out, .in = L->in_ptrs, .out = L->out_ptrs,
                       .nthreads = 1, .rng = ctx->rng, .err = ctx->err};
        for (int k = 0; k < m->n_out; k++) {
            if (!L->out_ptrs[k]) continue;
            void *keep = L->out_ptrs[k]->data;
            memset(L->out_ptrs[k], 0, sizeof(oc_tensor));
            L->out_ptrs[k]->data = keep;
        }
        size_t ws = 0;
        OC_TRY(m->op->infer(&c, &ws));
        size_t bw = m->op->backward_workspace ? m->op->backward_workspace(&c) : 0;
        if (ws > scratch) scratch = ws;
        if (bw > scratch) scratch = bw;
        for (int k = 0; k < m->n_out; k++) {
            oc_tensor *t = L->out_ptrs[k];
            if (!t) continue;
            size_t b;
            oc_shape_bytes(&t->shape, t->dtype, &b);
            t->data = base ? base + off : NULL;
            off += align64(b ? b : 1);
        }
    }
    L->scratch = base ? base + off : NULL;
    L->scratch_bytes = scratch;
    off += align64(scratch ? scratch : 1);
    for (int s = 0; s < p->n_local; s++) {
        L->grad[s] = L->val[s];
        size_t b;
        oc_shape_bytes(&L->val[s].shape, L->val[s].dtype, &b);
        L->grad[s].data = base ? base + off : NULL;
        off += align64(b ? b : 1);
    }
    L->total = off;
    return ONNXC_OK;
}

static onnxc_status gradient_infer(oc_op_ctx *ctx, size_t *ws)
{
    const grad_params *p = ctx->node->params;
    for (int i = 0; i < p->n_x; i++)
        if (!oc_dtype_is_float(ctx->in[i]->dtype))
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE, "xs[%d]: expected float or double, got %s",
                                i, oc_dtype_name(ctx->in[i]->dtype));
    layout L;
    OC_TRY(plan_sub(ctx, NULL, &L));
    for (int i = 0; i < p->n_x; i++) {
        ctx->out[i]->dtype = ctx->in[i]->dtype;
        ctx->out[i]->shape = ctx->in[i]->shape;
    }
    *ws = L.total;
    return ONNXC_OK;
}

static void fill_ones(oc_tensor *t)
{
    int64_t n = oc_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        if (t->dtype == ONNXC_DOUBLE) ((double *)t->data)[i] = 1.0;
        else ((float *)t->data)[i] = 1.0f;
    }
}

static onnxc_status gradient_run(oc_op_ctx *ctx)
{
    const grad_params *p = ctx->node->params;
    const oc_graph *g = ctx->node->graph;
    layout L;
    OC_TRY(plan_sub(ctx, ctx->workspace, &L));
    for (int i = 0; i < p->n_sub; i++) {
        const oc_node *m = &g->nodes[p->sub[i]];
        for (int k = 0; k < m->n_in; k++) L.in_ptrs[k] = m->in[k] >= 0 ? &L.val[p->slot[m->in[k]]] : NULL;
        for (int k = 0; k < m->n_out; k++) L.out_ptrs[k] = m->out[k] >= 0 ? &L.val[p->slot[m->out[k]]] : NULL;
        oc_op_ctx c = {.node = m, .n_in = m->n_in, .n_out = m->n_out, .in = L.in_ptrs, .out = L.out_ptrs,
                       .nthreads = ctx->nthreads, .rng = ctx->rng, .err = ctx->err,
                       .workspace = L.scratch, .workspace_bytes = L.scratch_bytes};
        OC_TRY(m->op->run(&c));
    }
    for (int s = 0; s < p->n_local; s++) {
        size_t b;
        oc_shape_bytes(&L.grad[s].shape, L.grad[s].dtype, &b);
        memset(L.grad[s].data, 0, b);
    }
    fill_ones(&L.grad[p->y_slot]);
    /* Backward in reverse; pointer arrays for dout/din live on the stack. */
    for (int i = p->n_sub - 1; i >= 0; i--) {
        const oc_node *m = &g->nodes[p->sub[i]];
        if (!m->op->backward)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_UNSUPPORTED, "cannot differentiate through %s",
                                m->op_type);
        const oc_tensor *dout[16];
        oc_tensor *din[16];
        if (m->n_in > 16 || m->n_out > 16)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_UNSUPPORTED, "node with too many inputs");
        for (int k = 0; k < m->n_in; k++) {
            L.in_ptrs[k] = m->in[k] >= 0 ? &L.val[p->slot[m->in[k]]] : NULL;
            din[k] = (m->in[k] >= 0 && ((m->op->grad_inputs >> k) & 1) &&
                      oc_dtype_is_float(L.val[p->slot[m->in[k]]].dtype))
                         ? &L.grad[p->slot[m->in[k]]] : NULL;
        }
        for (int k = 0; k < m->n_out; k++) {
            L.out_ptrs[k] = m->out[k] >= 0 ? &L.val[p->slot[m->out[k]]] : NULL;
            dout[k] = m->out[k] >= 0 && oc_dtype_is_float(L.val[p->slot[m->out[k]]].dtype)
                          ? &L.grad[p->slot[m->out[k]]] : NULL;
        }
        oc_op_ctx c = {.node = m, .n_in = m->n_in, .n_out = m->n_out, .in = L.in_ptrs, .out = L.out_ptrs,
                       .nthreads = ctx->nthreads, .rng = ctx->rng, .err = ctx->err,
                       .workspace = L.scratch, .workspace_bytes = L.scratch_bytes};
        OC_TRY(m->op->backward(&c, dout, din));
    }
    for (int i = 0; i < p->n_x; i++) {
        size_t b;
        oc_shape_bytes(&ctx->out[i]->shape, ctx->out[i]->dtype, &b);
        memcpy(ctx->out[i]->data, L.grad[p->input_slot[i]].data, b);
    }
    return ONNXC_OK;
}

const oc_op_def oc_op_Gradient = {
    .name = "Gradient",
    .domain = "ai.onnx.preview.training",
    .versions = {1},
    .min_inputs = 1, .max_inputs = -1,
    .min_outputs = 1, .max_outputs = -1,
    .init = gradient_init,
    .infer = gradient_infer,
    .run = gradient_run,
};
