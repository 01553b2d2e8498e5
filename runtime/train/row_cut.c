/* Where a step's parameter gradients are cut in two (row_cut.h). */
#include "row_cut.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "attr.h"
#include "ops/dense.h"


typedef struct rows_ctx {
    const oc_plan *p;
    const uint8_t *dep;          /* [n_values] the value depends on the batch */
    int64_t rows;
} rows_ctx;

static const oc_tensor *tensor_of(const rows_ctx *c, int v) { return &c->p->tensors[v]; }
static bool is_act(const rows_ctx *c, int v) { return v >= 0 && c->dep[v]; }

/* Axis 0 is the batch: rank >= 1 and dims[0] == rows. */
static bool batch_major(const rows_ctx *c, int v)
{
    const oc_tensor *t = tensor_of(c, v);
    return t->shape.rank >= 1 && t->shape.dims[0] == c->rows;
}

/* A row-major reshape that keeps axis 0 and each row's element count maps
 * row i's elements to row i. */
static bool keeps_rows(const rows_ctx *c, int in, int out)
{
    if (!batch_major(c, in) || !batch_major(c, out)) return false;
    return oc_shape_numel(&tensor_of(c, in)->shape) == oc_shape_numel(&tensor_of(c, out)->shape);
}

/* A constant operand broadcast against a batch-major output of rank r must
 * not have a batch axis of its own. */
static bool broadcast_free(const rows_ctx *c, int v, int out_rank)
{
    const oc_tensor *t = tensor_of(c, v);
    return t->shape.rank < out_rank || t->shape.dims[0] == 1;
}

static bool axis_after_batch(const oc_node *n, const char *name, int64_t def, int rank)
{
    int64_t axis;
    onnxc_error ignored;
    if (oc_attr_int(n, name, def, &axis, &ignored) != ONNXC_OK) return false;
    if (axis < 0) axis += rank;
    return axis >= 1;
}

static bool in_list(const char *op, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(op, *list)) return true;
    return false;
}

static const char *const elementwise_unary[] = {
    "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
    "Softplus", "Softsign", "Exp", "Log", "Neg", "Abs", "Sqrt", "Reciprocal", "Erf", "Cast",
    "Identity", "Dropout", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Clip", "Not",
    "IsNaN", "IsInf", "ThresholdedRelu", "Mish", "Gelu", NULL};
static const char *const elementwise_binary[] = {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "PRelu", "Equal",
    "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Mod", NULL};
static const char *const per_sample[] = {
    "Conv", "ConvTranspose", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool",
    "InstanceNormalization", "LRN", NULL};

/* One node whose inputs include activations: true when output row i depends
 * on input row i only. */
static bool node_keeps_rows(const rows_ctx *c, const oc_node *n)
{
    const char *op = n->op_type;
    if (n->op == &oc_op_dense_train || n->op == &oc_op_dense) {
        /* A fused Dense layer (fuse_dense.h): a row-wise product with
         * constant or trained W and bias. */
        for (int k = 1; k < n->n_in; k++)
            if (is_act(c, n->in[k])) return false;
        return is_act(c, n->in[0]) && batch_major(c, n->in[0]) && n->out[0] >= 0 && batch_major(c, n->out[0]);
    }
    if (n->domain[0]) return false;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0 && !batch_major(c, n->out[k])) return false;
    const int out_rank = n->out[0] >= 0 ? tensor_of(c, n->out[0])->shape.rank : 0;

    if (in_list(op, elementwise_unary) || in_list(op, per_sample) || in_list(op, elementwise_binary)) {
        /* Activations shaped like the output; constants without a batch axis. */
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0) continue;
            if (is_act(c, v)) {
                if (!batch_major(c, v) || tensor_of(c, v)->shape.rank != out_rank) return false;
            } else if (!in_list(op, per_sample) && !broadcast_free(c, v, out_rank)) {
                return false;
            }
        }
        return true;
    }
    if (!strcmp(op, "MaxPool")) /* its Indices count across the batch */
        return (n->n_out < 2 || n->out[1] < 0) && is_act(c, n->in[0]) && batch_major(c, n->in[0]);
    if (!strcmp(op, "MatMul")) {
        int a = n->in[0], b = n->in[1];
        if (!is_act(c, a) || !batch_major(c, a) || tensor_of(c, a)->shape.rank < 2) return false;
        if (!is_act(c, b)) return tensor_of(c, b)->shape.rank <= 2 || broadcast_free(c, b, out_rank);
        /* Two activations: a per-sample batched product only. */
        return tensor_of(c, a)->shape.rank >= 3 && tensor_of(c, b)->shape.rank == tensor_of(c, a)->shape.rank &&
               batch_major(c, b);
    }
    if (!strcmp(op, "Gemm")) {
        int64_t trans_a;
        onnxc_error ignored;
        if (oc_attr_int(n, "transA", 0, &trans_a, &ignored) != ONNXC_OK || trans_a) return false;
        if (!is_act(c, n->in[0]) || !batch_major(c, n->in[0]) || is_act(c, n->in[1])) return false;
        return n->n_in < 3 || n->in[2] < 0 || (!is_act(c, n->in[2]) && broadcast_free(c, n->in[2], 2));
    }
    if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax") || !strcmp(op, "Hardmax"))
        return is_act(c, n->in[0]) && axis_after_batch(n, "axis", n->since < 13 ? 1 : -1, out_rank);
    if (!strcmp(op, "LayerNormalization")) {
        for (int k = 1; k < n->n_in; k++)
            if (is_act(c, n->in[k])) return false;
        return axis_after_batch(n, "axis", -1, out_rank);
    }
    if (!strcmp(op, "Flatten"))
        return axis_after_batch(n, "axis", 1, tensor_of(c, n->in[0])->shape.rank) &&
               keeps_rows(c, n->in[0], n->out[0]);
    if (!strcmp(op, "Reshape") || !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze")) {
        for (int k = 1; k < n->n_in; k++)
            if (is_act(c, n->in[k])) return false; /* a shape computed from the batch */
        return keeps_rows(c, n->in[0], n->out[0]);
    }
    if (!strcmp(op, "Transpose")) {
        const int64_t *perm;
        size_t count;
        onnxc_error ignored;
        if (oc_attr_ints(n, "perm", &perm, &count, &ignored) != ONNXC_OK || count == 0) return false;
        return perm[0] == 0;
    }
    if (!strcmp(op, "Concat")) {
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && (!is_act(c, n->in[k]) || !batch_major(c, n->in[k]))) return false;
        return axis_after_batch(n, "axis", 0, out_rank);
    }
    if (!strcmp(op, "Gather")) {
        int64_t axis;
        onnxc_error ignored;
        if (oc_attr_int(n, "axis", 0, &axis, &ignored) != ONNXC_OK) return false;
        int data = n->in[0], idx = n->in[1];
        const int data_rank = tensor_of(c, data)->shape.rank;
        if (axis < 0) axis += data_rank;
        /* An embedding (constant table, batch-major indices) or a selection
         * along a later axis of batch-major data. */
        if (!is_act(c, data)) return axis == 0 && batch_major(c, idx);
        return !is_act(c, idx) && axis >= 1 && batch_major(c, data);
    }
    return false;
}

bool oc_rows_independent(const oc_plan *p, int64_t rows, uint8_t *depends, char *why, size_t why_size)
{
    const oc_graph *g = &p->model->graph;
    memset(depends, 0, (size_t)p->n_values);
    for (int i = 0; i < g->n_inputs; i++) {
        if (p->input_value_used[i]) {
            snprintf(why, why_size, "the plan reads the values of input '%s'", g->values[g->inputs[i]].name);
            return false;
        }
        depends[g->inputs[i]] = 1;
        const oc_tensor *t = &p->tensors[g->inputs[i]];
        if (t->shape.rank < 1 || t->shape.dims[0] != rows) {
            snprintf(why, why_size, "input '%s' is not batch-major", g->values[g->inputs[i]].name);
            return false;
        }
    }
    rows_ctx c = {p, depends, rows};
    for (int s = 0; s < p->n_steps; s++) {
        const oc_node *n = p->steps[s].node;
        bool any = false;
        for (int k = 0; k < n->n_in; k++)
            if (is_act(&c, n->in[k])) any = true;
        if (!any) continue; /* constants and weights only: the same in every shard */
        if (!node_keeps_rows(&c, n)) {
            snprintf(why, why_size, "node '%s' (%s) may mix the rows of a batch", n->name, n->op_type);
            return false;
        }
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) depends[n->out[k]] = 1;
    }
    return true;
}


/* A parameter gradient that a shard computes exactly as the cut unsharded
 * step does: W or bias of a fused Dense layer, its only contributor, and a
 * dW GEMM wider than the GEMV kernels (sgemm.h: M <= 4). */
static bool cut_gradient(const oc_bstep *b, int k)
{
    const oc_node *n = b->fwd->node;
    if (n->op != &oc_op_dense_train || (k != 1 && k != 2) || !(b->overwrite & (1u << k))) return false;
    const oc_dense_params *p = n->params;
    return k == 2 || (p->transB ? p->N : p->K) > 4;
}

int64_t oc_grad_row_cut(const oc_train_plan *tp, const uint8_t *is_param, size_t params, char *why,
                        size_t why_size)
{
    char ignored[8];
    if (!why) why = ignored, why_size = sizeof ignored;
    const int64_t n = tp->batch;
    if (n < 2 * OC_CUT_MIN_ROWS || n > 2 * OC_CUT_MAX_ROWS) {
        snprintf(why, why_size, "a batch of %lld rows (cut from %d to %d)", (long long)n,
                 2 * OC_CUT_MIN_ROWS, 2 * OC_CUT_MAX_ROWS);
        return 0;
    }
    if (params > OC_CUT_MAX_PARAMS) {
        snprintf(why, why_size, "%zu parameters", params);
        return 0;
    }
    const oc_plan *p = &tp->fwd;
    for (int s = 0; s < p->n_steps; s++) {
        const oc_node *node = p->steps[s].node;
        if ((node->op->flags & OC_OP_NONDETERMINISTIC) || !strcmp(node->op_type, "Dropout")) {
            snprintf(why, why_size, "node '%s' (%s) draws random numbers", node->name, node->op_type);
            return 0;
        }
    }
    uint8_t *depends = oc_malloc((size_t)p->n_values + 1);
    if (!depends) { /* no memory to check: the batch stays whole, which is always correct */
        snprintf(why, why_size, "out of memory");
        return 0;
    }
    const bool independent = oc_rows_independent(p, n, depends, why, why_size);
    oc_free(depends);
    if (!independent) return 0;
    for (int i = 0; i < tp->n_bsteps; i++) {
        const oc_bstep *b = &tp->bsteps[i];
        const oc_node *node = b->fwd->node;
        for (int k = 0; k < node->n_in; k++)
            if (b->din[k] && node->in[k] >= 0 && is_param[node->in[k]] && !cut_gradient(b, k)) {
                snprintf(why, why_size, "node '%s' (%s) computes the gradient of a parameter", node->name,
                         node->op_type);
                return 0;
            }
    }
    return (n + 1) / 2;
}
