#include "graph_build.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "alloc.h"
#include "attr.h"
#include "external_data.h"
#include "op.h"

/* --- name table ------------------------------------------------------------ */

/*
 * FNV-1a alone lets a file choose its names so that they all land in one
 * slot: the low bits of the hash depend only on the low bits of the state,
 * so colliding names are found in milliseconds, and 130k of them made every
 * lookup walk one cluster (minutes to load an 11 MB file). A per-process
 * random seed in the starting state and a final avalanche (murmur3's fmix64,
 * which feeds every bit into the low ones the table uses) make a name's slot
 * unknowable to whoever wrote the file. Lookups stay deterministic within a
 * process; nothing depends on the table's order.
 */
static uint64_t name_seed(void)
{
    static _Atomic uint64_t seed;
    uint64_t s = atomic_load_explicit(&seed, memory_order_relaxed);
    if (s) return s;
    uint64_t fresh = 0;
    if (getrandom(&fresh, sizeof fresh, GRND_NONBLOCK) != (ssize_t)sizeof fresh) {
        /* No entropy yet (early boot): addresses and time still vary. */
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        fresh = (uint64_t)(uintptr_t)&t ^ (uint64_t)t.tv_nsec * 0x9e3779b97f4a7c15ull ^
                (uint64_t)(uintptr_t)&seed;
    }
    fresh |= 1; /* 0 means "not yet chosen" */
    /* The first seed stored wins, so every table in the process agrees. */
    if (!atomic_compare_exchange_strong(&seed, &s, fresh)) return s;
    return fresh;
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull ^ name_seed(); /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

int oc_graph_find(const oc_graph *g, const char *name)
{
    if (!g->name_table_size || !name) return -1;
    size_t mask = g->name_table_size - 1;
    for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        int v = g->name_table[i];
        if (v < 0) return -1;
        if (strcmp(g->values[v].name, name) == 0) return v;
    }
}

static void table_insert(oc_graph *g, int v)
{
    size_t mask = g->name_table_size - 1;
    size_t i = hash_name(g->values[v].name) & mask;
    while (g->name_table[i] >= 0) i = (i + 1) & mask;
    g->name_table[i] = v;
}

/* Adds a value; fails when the name is already taken. */
static onnxc_status add_value(oc_graph *g, const char *name, oc_value_kind kind, int producer,
                              int *index, onnxc_error *err)
{
    int prev = oc_graph_find(g, name);
    if (prev >= 0) {
        static const char *const kinds[] = {"a graph input", "an initializer", "a node output"};
        return oc_fail(err, ONNXC_ERR_MODEL, "duplicate tensor name '%s': already %s, defined again as %s",
                       name, kinds[g->values[prev].kind], kinds[kind]);
    }
    int v = g->n_values++;
    oc_value *val = &g->values[v];
    memset(val, 0, sizeof *val);
    val->name = name;
    val->kind = kind;
    val->producer = producer;
    table_insert(g, v);
    *index = v;
    return ONNXC_OK;
}

void oc_graph_free(oc_graph *g)
{
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].init_owned) oc_aligned_free(g->values[i].init.data);
    for (int i = 0; i < g->n_nodes; i++) {
        oc_free(g->nodes[i].in);
        oc_free(g->nodes[i].out);
        oc_free(g->nodes[i].params);
    }
    oc_free(g->values);
    oc_free(g->nodes);
    oc_free(g->inputs);
    oc_free(g->outputs);
    oc_free(g->name_table);
    memset(g, 0, sizeof *g);
}

/* --- building ---------------------------------------------------------------- */

/* dtype and dims from the proto, bytes from the side file. */
static onnxc_status read_external(const onnxc_model *m, const Onnx__TensorProto *tp,
                                  oc_tensor *out, const char *what, onnxc_error *err)
{
    if (tp->has_raw_data || tp->n_float_data || tp->n_int32_data || tp->n_int64_data ||
        tp->n_double_data || tp->n_uint64_data || tp->n_string_data)
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: external tensor also holds inline data", what);
    if (!tp->has_data_type || !oc_dtype_known(tp->data_type) || !oc_dtype_size(tp->data_type))
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s: unsupported data_type %d", what,
                       (int)tp->data_type);
    if (tp->n_dims > OC_MAX_RANK)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s: rank %zu exceeds the maximum of %d", what,
                       tp->n_dims, OC_MAX_RANK);
    memset(out, 0, sizeof *out);
    out->dtype = (oc_dtype)tp->data_type;
    out->shape.rank = (int)tp->n_dims;
    for (size_t d = 0; d < tp->n_dims; d++) out->shape.dims[d] = tp->dims[d];
    size_t nbytes;
    if (!oc_shape_bytes(&out->shape, out->dtype, &nbytes))
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: dims are negative or their product overflows", what);
    if (nbytes > m->limits.max_tensor_bytes)
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: %zu bytes exceed max_tensor_bytes (%llu)", what,
                       nbytes, (unsigned long long)m->limits.max_tensor_bytes);
    return oc_external_read(tp, m->base_dir, nbytes, &out->data, what, err);
}

/*
 * The declared size of every initializer together, before any is read:
 * external data counts against max_total_bytes like inline data (which the
 * wire scan bounds), or a model could name one 4 GiB file a hundred times
 * and have onnxc read 400 GiB. Tensors whose dims overflow are left to the
 * per-tensor checks.
 */
static onnxc_status check_total(const onnxc_model *m, onnxc_error *err)
{
    const Onnx__GraphProto *gp = m->proto->graph;
    uint64_t total = 0, max = m->limits.max_total_bytes;
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->has_data_type || !oc_dtype_known(tp->data_type) || tp->n_dims > OC_MAX_RANK) continue;
        oc_shape shape = {.rank = (int)tp->n_dims};
        for (size_t d = 0; d < tp->n_dims; d++) shape.dims[d] = tp->dims[d];
        size_t nbytes;
        if (!oc_shape_bytes(&shape, (oc_dtype)tp->data_type, &nbytes)) continue;
        if (nbytes > max || total > max - nbytes)
            return oc_fail(err, ONNXC_ERR_LIMIT,
                           "initializers declare more than max_total_bytes (%llu) together (at initializer '%.500s')",
                           (unsigned long long)max, tp->name ? tp->name : "");
        total += nbytes;
    }
    return ONNXC_OK;
}

static onnxc_status add_initializers(onnxc_model *m, onnxc_error *err)
{
    oc_graph *g = &m->graph;
    const Onnx__GraphProto *gp = m->proto->graph;
    if (gp->n_sparse_initializer)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "sparse initializers are not supported (%zu found)",
                       gp->n_sparse_initializer);
    OC_TRY(check_total(m, err));
    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0])
            return oc_fail(err, ONNXC_ERR_MODEL, "initializer #%zu has no name", i);
        int v;
        OC_TRY(add_value(g, tp->name, OC_VALUE_INITIALIZER, -1, &v, err));
        oc_value *val = &g->values[v];
        val->init_proto = tp;
        char what[600];
        snprintf(what, sizeof what, "initializer '%.500s'", tp->name);
        if (oc_tensor_is_external(tp)) {
            OC_TRY(read_external(m, tp, &val->init, what, err));
            val->init_owned = true;
        } else {
            OC_TRY(oc_tensor_from_proto(tp, &m->limits, &val->init, &val->init_owned, what, err));
        }
    }
    return ONNXC_OK;
}

/* A declared rank onnxc cannot represent (as for initializers, refused at
 * load: the public value_info and every tensor hold at most 8 dims), or a
 * negative declared dim. */
static onnxc_status check_declared_rank(const Onnx__ValueInfoProto *vi, const char *what,
                                        onnxc_error *err)
{
    const Onnx__TypeProto *t = vi->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type->shape)
        return ONNXC_OK;
    size_t rank = t->tensor_type->shape->n_dim;
    if (rank > OC_MAX_RANK)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s '%.500s': rank %zu exceeds the maximum of %d",
                       what, vi->name, rank, OC_MAX_RANK);
    /* A negative size is no shape at all. -1 is kept (some exporters write
     * it for "unknown", and it is read as such); anything below is refused. */
    for (size_t d = 0; d < rank; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = t->tensor_type->shape->dim[d];
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dim->dim_value < -1)
            return oc_fail(err, ONNXC_ERR_MODEL, "%s '%.500s': dim %zu is %lld; expected a size >= 0 or a name",
                           what, vi->name, d, (long long)dim->dim_value);
    }
    return ONNXC_OK;
}

static onnxc_status add_inputs(onnxc_model *m, onnxc_error *err)
{
    oc_graph *g = &m->graph;
    const Onnx__GraphProto *gp = m->proto->graph;
    g->inputs = oc_malloc((gp->n_input + 1) * sizeof *g->inputs);
    if (!g->inputs) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !vi->name[0])
            return oc_fail(err, ONNXC_ERR_MODEL, "graph input #%zu has no name", i);
        OC_TRY(check_declared_rank(vi, "graph input", err));
        int v = oc_graph_find(g, vi->name);
        if (v >= 0 && g->values[v].kind == OC_VALUE_INITIALIZER) {
            /* IR < 4 lists initializers as inputs too; they stay weights. */
            g->values[v].info = vi;
            continue;
        }
        OC_TRY(add_value(g, vi->name, OC_VALUE_INPUT, -1, &v, err));
        g->values[v].info = vi;
        g->inputs[g->n_inputs++] = v;
    }
    return ONNXC_OK;
}

static int64_t domain_opset(const onnxc_model *m, const char *domain, bool *found)
{
    const char *want = (!domain || !strcmp(domain, "ai.onnx")) ? "" : domain;
    for (size_t i = 0; i < m->proto->n_opset_import; i++) {
        const char *d = m->proto->opset_import[i]->domain ? m->proto->opset_import[i]->domain : "";
        if (!strcmp(d, "ai.onnx")) d = "";
        if (!strcmp(d, want)) {
            *found = true;
            return m->proto->opset_import[i]->version;
        }
    }
    *found = false;
    return 0;
}

/* Fills nodes in file order and defines their outputs. */
static onnxc_status add_nodes(onnxc_model *m, oc_node *file_nodes, onnxc_error *err)
{
    oc_graph *g = &m->graph;
    const Onnx__GraphProto *gp = m->proto->graph;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        oc_node *n = &file_nodes[i];
        n->proto = np;
        n->graph = g;
        n->name = np->name ? np->name : "";
        n->op_type = np->op_type ? np->op_type : "";
        n->domain = (np->domain && strcmp(np->domain, "ai.onnx")) ? np->domain : "";
        if (!n->op_type[0]) return oc_fail(err, ONNXC_ERR_MODEL, "node #%zu has no op_type", i);
        n->n_in = (int)np->n_input;
        n->n_out = (int)np->n_output;
        n->in = oc_malloc((np->n_input + 1) * sizeof *n->in);
        n->out = oc_malloc((np->n_output + 1) * sizeof *n->out);
        if (!n->in || !n->out) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
        for (size_t o = 0; o < np->n_output; o++) {
            n->out[o] = -1;
            if (!np->output[o][0]) continue;
            onnxc_status st = add_value(g, np->output[o], OC_VALUE_NODE_OUTPUT, (int)i, &n->out[o], err);
            if (st != ONNXC_OK) {
                char label[512];
                oc_prefix(err, "%s", oc_node_label(n, label, sizeof label));
                return st;
            }
        }
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        oc_node *n = &file_nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            const char *name = n->proto->input[k];
            n->in[k] = -1;
            if (!name[0]) continue;
            n->in[k] = oc_graph_find(g, name);
            if (n->in[k] < 0) {
                char label[512];
                oc_append(err, ONNXC_ERR_MODEL,
                          "%s: input %d '%s' is undefined: expected a graph input, an initializer or a node output",
                          oc_node_label(n, label, sizeof label), k, name);
            }
        }
    }
    return err && err->status != ONNXC_OK ? err->status : ONNXC_OK;
}

/* Kahn's algorithm, taking ready nodes in file order, so already-sorted
 * files keep their order. file_nodes are moved into g->nodes. */
static onnxc_status topo_sort(oc_graph *g, oc_node *file_nodes, int n, onnxc_error *err)
{
    int *pending = oc_calloc((size_t)n + 1, sizeof *pending);  /* [n] unresolved inputs */
    int *order = oc_malloc(((size_t)n + 1) * sizeof *order);
    int *new_index = oc_malloc(((size_t)n + 1) * sizeof *new_index);
    /* consumers in CSR form: for value v, nodes reading it */
    int *cons_start = oc_calloc((size_t)g->n_values + 1, sizeof *cons_start);
    int total = 0;
    for (int i = 0; i < n; i++) total += file_nodes[i].n_in;
    int *cons = oc_malloc(((size_t)total + 1) * sizeof *cons);
    int *fill = oc_calloc((size_t)g->n_values + 1, sizeof *fill);
    onnxc_status st = ONNXC_OK;
    if (!pending || !order || !new_index || !cons_start || !cons || !fill) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory sorting nodes");
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < file_nodes[i].n_in; k++) {
            int v = file_nodes[i].in[k];
            if (v < 0) continue;
            g->values[v].n_consumers++;
            cons_start[v + 1]++;
            if (g->values[v].kind == OC_VALUE_NODE_OUTPUT) pending[i]++;
        }
    for (int v = 0; v < g->n_values; v++) cons_start[v + 1] += cons_start[v];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < file_nodes[i].n_in; k++) {
            int v = file_nodes[i].in[k];
            if (v >= 0) cons[cons_start[v] + fill[v]++] = i;
        }
    /* A min-heap would keep file order strictly; a scan from the lowest
     * unfinished index is simpler and is linear for sorted files. */
    int done_count = 0, head = 0;
    char *emitted = oc_calloc((size_t)n + 1, 1);
    int *stack = oc_malloc(((size_t)n + 1) * sizeof *stack); /* ready nodes behind `head` */
    if (!emitted || !stack) {
        oc_free(emitted);
        oc_free(stack);
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory sorting nodes");
        goto done;
    }
    int sp = 0;
    while (done_count < n) {
        int pick = -1;
        if (sp) pick = stack[--sp];
        else {
            while (head < n && (emitted[head] || pending[head])) head++;
            if (head < n) pick = head;
            else {
                for (int i = 0; i < n; i++)
                    if (!emitted[i] && !pending[i]) { pick = i; break; }
            }
        }
        if (pick < 0) break;
        if (emitted[pick]) continue;
        emitted[pick] = 1;
        order[done_count++] = pick;
        for (int o = 0; o < file_nodes[pick].n_out; o++) {
            int v = file_nodes[pick].out[o];
            if (v < 0) continue;
            for (int c = cons_start[v]; c < cons_start[v + 1]; c++) {
                int j = cons[c];
                if (--pending[j] == 0 && j < head) stack[sp++] = j;
            }
        }
    }
    if (done_count < n) {
        /* One line: the count and the first few nodes stuck in or behind it. */
        char label[512], names[1536] = "";
        int listed = 0;
        for (int i = 0; i < n && listed < 3; i++)
            if (!emitted[i]) {
                size_t used = strlen(names);
                snprintf(names + used, sizeof names - used, "%s%s", listed ? ", " : "",
                         oc_node_label(&file_nodes[i], label, sizeof label));
                listed++;
            }
        st = oc_fail(err, ONNXC_ERR_MODEL, "the graph has a cycle: %d nodes can never run, among them %s",
                     n - done_count, names);
    } else {
        for (int i = 0; i < n; i++) g->nodes[i] = file_nodes[order[i]];
        for (int i = 0; i < n; i++) new_index[order[i]] = i;
        for (int v = 0; v < g->n_values; v++)
            if (g->values[v].producer >= 0) g->values[v].producer = new_index[g->values[v].producer];
    }
    oc_free(emitted);
    oc_free(stack);
done:
    oc_free(pending);
    oc_free(order);
    oc_free(new_index);
    oc_free(cons_start);
    oc_free(cons);
    oc_free(fill);
    return st;
}

/* Integer attributes that ONNX defines as booleans. A value other than 0
 * or 1 has no single meaning (2^32 is "nonzero" to one runtime and 0 to
 * another that narrows it to 32 bits), so it is refused, not interpreted. */
static const char *const flag_attrs[] = {
    "keepdims", "transA", "transB", "select_last_index", "noop_with_empty_axes", "training_mode",
    "allowzero", "saturate", "largest", "sorted", "exclusive", "reverse", "fmod", "upper",
    "detect_negative", "detect_positive",
};

static onnxc_status check_flags(const oc_node *n, onnxc_error *err)
{
    if (n->domain[0]) return ONNXC_OK;
    for (size_t i = 0; i < sizeof flag_attrs / sizeof flag_attrs[0]; i++) {
        const Onnx__AttributeProto *a = oc_attr_find(n, flag_attrs[i]);
        if (a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT && a->i != 0 && a->i != 1)
            return oc_node_fail(n, err, ONNXC_ERR_MODEL, "attribute '%s' = %lld: expected 0 or 1", flag_attrs[i],
                                (long long)a->i);
    }
    return ONNXC_OK;
}

static onnxc_status resolve_ops(onnxc_model *m, onnxc_error *err)
{
    oc_graph *g = &m->graph;
    onnxc_status first = ONNXC_OK;
    for (int i = 0; i < g->n_nodes; i++) {
        oc_node *n = &g->nodes[i];
        char label[512];
        bool found;
        int64_t opset = domain_opset(m, n->domain, &found);
        if (!found) {
            first = oc_append(err, ONNXC_ERR_MODEL, "%s: domain '%s' is not in opset_import",
                              oc_node_label(n, label, sizeof label), n->domain);
            continue;
        }
        n->opset = (int)opset;
        const oc_op_def *def = oc_op_find(n->domain, n->op_type);
        int since = def ? oc_op_resolve_version(def, opset) : 0;
        /* Unsupported ops are not a load error: the model can still be
         * inspected and re-saved. onnxc_model_check and session creation
         * list them all. */
        if (!def || !since) {
            m->n_unsupported++;
            continue;
        }
        n->op = def;
        n->since = since;
        int max_in = def->max_inputs < 0 ? 1 << 30 : def->max_inputs;
        int max_out = def->max_outputs < 0 ? 1 << 30 : def->max_outputs;
        if (n->n_in < def->min_inputs || n->n_in > max_in) {
            first = oc_append(err, ONNXC_ERR_MODEL, "%s: expected %d to %d inputs, got %d",
                              oc_node_label(n, label, sizeof label), def->min_inputs, def->max_inputs, n->n_in);
            continue;
        }
        if (n->n_out < def->min_outputs || n->n_out > max_out) {
            first = oc_append(err, ONNXC_ERR_MODEL, "%s: expected %d to %d outputs, got %d",
                              oc_node_label(n, label, sizeof label), def->min_outputs, def->max_outputs, n->n_out);
            continue;
        }
        /* An empty name marks an omitted *optional* input or output; the
         * first min_inputs / min_outputs are required by every schema onnxc
         * implements, and kernels rely on them being there. */
        for (int k = 0; k < def->min_inputs && k < n->n_in; k++)
            if (n->in[k] < 0) {
                first = oc_append(err, ONNXC_ERR_MODEL, "%s: input %d is required, got the empty name",
                                  oc_node_label(n, label, sizeof label), k);
                break;
            }
        for (int k = 0; k < def->min_outputs && k < n->n_out; k++)
            if (n->out[k] < 0) {
                first = oc_append(err, ONNXC_ERR_MODEL, "%s: output %d is required, got the empty name",
                                  oc_node_label(n, label, sizeof label), k);
                break;
            }
    }
    if (first != ONNXC_OK) return err ? err->status : first;
    for (int i = 0; i < g->n_nodes; i++) {
        oc_node *n = &g->nodes[i];
        if (n->op) {
            onnxc_error one;
            onnxc_status st = check_flags(n, &one);
            if (st == ONNXC_OK && n->op->init) st = n->op->init(n, &one);
            if (st != ONNXC_OK) first = oc_append(err, st, "%s", one.message);
        }
    }
    return first == ONNXC_OK ? ONNXC_OK : err ? err->status : first;
}

static onnxc_status add_outputs(onnxc_model *m, onnxc_error *err)
{
    oc_graph *g = &m->graph;
    const Onnx__GraphProto *gp = m->proto->graph;
    g->outputs = oc_malloc((gp->n_output + 1) * sizeof *g->outputs);
    if (!g->outputs) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    if (gp->n_output == 0) return oc_fail(err, ONNXC_ERR_MODEL, "the graph declares no outputs");
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        int v = vi->name ? oc_graph_find(g, vi->name) : -1;
        if (v < 0)
            return oc_fail(err, ONNXC_ERR_MODEL,
                           "graph output '%s' is not produced by any node, input or initializer",
                           vi->name ? vi->name : "");
        OC_TRY(check_declared_rank(vi, "graph output", err));
        if (!g->values[v].info || g->values[v].kind == OC_VALUE_NODE_OUTPUT) g->values[v].info = vi;
        g->outputs[g->n_outputs++] = v;
    }
    return ONNXC_OK;
}

onnxc_status oc_graph_build(onnxc_model *m, onnxc_error *err)
{
    oc_graph *g = &m->graph;
    const Onnx__GraphProto *gp = m->proto->graph;
    size_t n_values = gp->n_input + gp->n_initializer;
    for (size_t i = 0; i < gp->n_node; i++) n_values += gp->node[i]->n_output;
    if (n_values > (1u << 30) || gp->n_node > (1u << 30))
        return oc_fail(err, ONNXC_ERR_LIMIT, "graph too large");
    g->values = oc_calloc(n_values + 1, sizeof *g->values);
    g->name_table_size = 16;
    while (g->name_table_size < 2 * (n_values + 1)) g->name_table_size <<= 1;
    g->name_table = oc_malloc(g->name_table_size * sizeof *g->name_table);
    oc_node *file_nodes = oc_calloc(gp->n_node + 1, sizeof *file_nodes);
    g->nodes = oc_calloc(gp->n_node + 1, sizeof *g->nodes);
    if (!g->values || !g->name_table || !file_nodes || !g->nodes) {
        oc_free(file_nodes);
        return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for a graph of %zu values", n_values);
    }
    memset(g->name_table, 0xff, g->name_table_size * sizeof *g->name_table);

    onnxc_status st = oc_check_functions(m->proto, err);
    if (st == ONNXC_OK) st = add_initializers(m, err);
    if (st == ONNXC_OK) st = add_inputs(m, err);
    if (st == ONNXC_OK) st = add_nodes(m, file_nodes, err);
    if (st == ONNXC_OK) st = topo_sort(g, file_nodes, (int)gp->n_node, err);
    if (st == ONNXC_OK) {
        g->n_nodes = (int)gp->n_node;
        oc_free(file_nodes);
        file_nodes = NULL;
        st = add_outputs(m, err);
    }
    if (st == ONNXC_OK) st = resolve_ops(m, err);
    if (file_nodes) {
        /* Nodes not yet moved into g->nodes: free their arrays here. */
        for (size_t i = 0; i < gp->n_node; i++) {
            oc_free(file_nodes[i].in);
            oc_free(file_nodes[i].out);
        }
        oc_free(file_nodes);
    }
    /* value_info annotations, for shapes in `info` */
    if (st == ONNXC_OK)
        for (size_t i = 0; i < gp->n_value_info; i++) {
            int v = gp->value_info[i]->name ? oc_graph_find(g, gp->value_info[i]->name) : -1;
            if (v >= 0 && !g->values[v].info) g->values[v].info = gp->value_info[i];
        }
    return st;
}
