/* Graphviz output for `onnxc info --dot` (see dot.h). */
#include "dot.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* What a tensor name refers to, for drawing edges. */
typedef enum name_kind { NAME_INPUT, NAME_NODE, NAME_INITIALIZER } name_kind;

typedef struct name_entry {
    const char *name;
    name_kind kind;
    size_t index;             /* graph input, producing node, or initializer */
} name_entry;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const name_entry *)a)->name, ((const name_entry *)b)->name);
}

/* Sorted (name -> producer) table: one lookup per edge stays fast for
 * graphs with many thousands of nodes. */
typedef struct name_table {
    name_entry *entries;
    size_t count;
} name_table;

static bool table_build(const onnxc_model *m, name_table *t)
{
    size_t n_in = onnxc_model_input_count(m), n_nodes = onnxc_model_node_count(m);
    size_t n_init = onnxc_model_initializer_count(m), cap = n_in + n_init;
    for (size_t i = 0; i < n_nodes; i++) {
        onnxc_node_info ni;
        if (onnxc_model_node(m, i, &ni) == ONNXC_OK) cap += ni.output_count;
    }
    t->entries = calloc(cap + 1, sizeof *t->entries);
    t->count = 0;
    if (!t->entries) return false;
    for (size_t i = 0; i < n_init; i++) {
        onnxc_tensor view;
        if (onnxc_model_initializer(m, i, &view) == ONNXC_OK && view.name)
            t->entries[t->count++] = (name_entry){view.name, NAME_INITIALIZER, i};
    }
    for (size_t i = 0; i < n_in; i++) {
        onnxc_value_info v;
        if (onnxc_model_input(m, i, &v) == ONNXC_OK) t->entries[t->count++] = (name_entry){v.name, NAME_INPUT, i};
    }
    for (size_t i = 0; i < n_nodes; i++) {
        onnxc_node_info ni;
        if (onnxc_model_node(m, i, &ni) != ONNXC_OK) continue;
        for (size_t k = 0; k < ni.output_count; k++) {
            const char *name;
            if (onnxc_model_node_output(m, i, k, &name) == ONNXC_OK && name[0])
                t->entries[t->count++] = (name_entry){name, NAME_NODE, i};
        }
    }
    qsort(t->entries, t->count, sizeof *t->entries, cmp_entry);
    return true;
}

static const name_entry *table_find(const name_table *t, const char *name)
{
    name_entry key = {.name = name};
    return bsearch(&key, t->entries, t->count, sizeof key, cmp_entry);
}

/* Text inside a Graphviz HTML-like label: XML escapes, control characters
 * dropped. Names longer than `max` bytes keep their end (the specific part of
 * "StatefulPartitionedCall/sequential/dense_1/BiasAdd"), after an ellipsis. */
static void html_text(FILE *f, const char *s, size_t max)
{
    size_t len = strlen(s);
    if (max && len > max) {
        s += len - max;
        /* Do not start inside a UTF-8 sequence. */
        while ((*s & 0xC0) == 0x80) s++;
        fputs("\xE2\x80\xA6", f);  /* … */
    }
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20) fputc(*s, f);
        }
    }
}

static void html_dims(FILE *f, int rank, const int64_t *dims, const char *const *names)
{
    if (rank < 0) {
        fputs("?", f);
        return;
    }
    fputc('[', f);
    for (int d = 0; d < rank; d++) {
        if (d) fputs(", ", f);
        if (names && names[d]) html_text(f, names[d], 16);
        else if (dims[d] < 0) fputc('?', f);
        else fprintf(f, "%" PRId64, dims[d]);
    }
    fputc(']', f);
}

/* 1234567 -> "1,234,567" */
static void grouped(FILE *f, uint64_t n)
{
    char raw[32];
    int len = snprintf(raw, sizeof raw, "%" PRIu64, n);
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0) fputc(',', f);
        fputc(raw[i], f);
    }
}

static bool in_list(const char *op, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(op, *list)) return true;
    return false;
}

/* Header colour by what the op does, so layers stand out from plumbing. */
static const char *op_colour(const onnxc_node_info *ni, bool supported)
{
    static const char *const activations[] = {
        "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Sigmoid", "HardSigmoid", "HardSwish",
        "Tanh", "Softmax", "LogSoftmax", "Softplus", "Softsign", "Mish", "ThresholdedRelu", "Clip", NULL};
    static const char *const shapes[] = {
        "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split", "Slice", "Gather",
        "Expand", "Shape", "Identity", "Cast", "Constant", "Dropout", NULL};
    if (!supported) return "#f8cecc";
    if (ni->param_count > 0) return "#cfe3c4";
    if (in_list(ni->op_type, activations)) return "#fde3c5";
    if (in_list(ni->op_type, shapes)) return "#e4e4e4";
    return "#d6e4f5";
}

static void write_value_node(FILE *f, const char *id, const onnxc_value_info *v, bool input)
{
    fprintf(f, "  %s [shape=box, style=\"rounded,filled\", fillcolor=\"%s\", color=\"%s\", margin=\"0.18,0.1\", "
               "label=<<b>", id, input ? "#e8f1fb" : "#fdf1e3", input ? "#5b8cc4" : "#d28a3a");
    html_text(f, v->name, 40);
    fprintf(f, "</b><br/><font point-size=\"9\" color=\"#444444\">%s ", onnxc_dtype_name(v->dtype));
    html_dims(f, v->rank, v->dims, v->dim_names);
    fputs("</font>>];\n", f);
}

static void write_op_node(FILE *f, size_t i, const onnxc_node_info *ni, const onnxc_node_shape *shape,
                          bool supported)
{
    fprintf(f, "  n%zu [label=<<table border=\"1\" cellborder=\"0\" cellspacing=\"0\" cellpadding=\"3\" "
               "color=\"#8a8a8a\" bgcolor=\"#ffffff\">", i);
    fprintf(f, "<tr><td bgcolor=\"%s\"><b>", op_colour(ni, supported));
    if (ni->domain[0] && strcmp(ni->domain, "ai.onnx") != 0) {
        html_text(f, ni->domain, 24);
        fputc('.', f);
    }
    html_text(f, ni->op_type, 0);
    fputs(supported ? "</b>" : "</b> (unsupported)", f);
    fputs("</td></tr>", f);
    if (ni->name[0]) {
        fputs("<tr><td><font point-size=\"9\" color=\"#555555\">", f);
        html_text(f, ni->name, 36);
        fputs("</font></td></tr>", f);
    }
    if (shape && shape->rank >= 0) {
        fputs("<tr><td><font point-size=\"9\">", f);
        html_dims(f, shape->rank, shape->dims, shape->dim_names);
        fputs("</font></td></tr>", f);
    }
    if (ni->param_count > 0) {
        fputs("<tr><td><font point-size=\"9\" color=\"#2f6a1f\">", f);
        grouped(f, ni->param_count);
        fputs(ni->param_count == 1 ? " param" : " params", f);
        fputs("</font></td></tr>", f);
    }
    fputs("</table>>];\n", f);
}

static const char *canonical_domain(const char *d) { return d && strcmp(d, "ai.onnx") != 0 ? d : ""; }

/* Whether onnxc implements the node's op at its model's opset (the same
 * rule the loader applies: some implemented version <= the opset). */
static bool node_supported(const onnxc_model *m, const onnxc_node_info *ni)
{
    const char *domain = canonical_domain(ni->domain);
    int64_t opset = 0;
    onnxc_model_meta meta;
    onnxc_model_get_meta(m, &meta);
    for (size_t i = 0; i < meta.opset_count; i++) {
        const char *d;
        int64_t v;
        if (onnxc_model_opset(m, i, &d, &v) == ONNXC_OK && !strcmp(canonical_domain(d), domain)) opset = v;
    }
    onnxc_op_support s;
    for (size_t k = 0; onnxc_supported_op(k, &s) == ONNXC_OK; k++)
        if (!strcmp(s.op_type, ni->op_type) && !strcmp(canonical_domain(s.domain), domain))
            return s.version_count > 0 && s.versions[0] <= opset;
    return false;
}

/* Title line: file name, then producer, opset and parameter total. */
static void write_header(FILE *f, const onnxc_model *m, const char *title)
{
    onnxc_model_meta meta;
    onnxc_model_get_meta(m, &meta);
    uint64_t params, bytes;
    onnxc_model_param_totals(m, &params, &bytes);
    fputs("digraph onnx {\n  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=13, labelloc=t, nodesep=0.35, "
          "ranksep=0.3, bgcolor=\"#ffffff\", pad=0.25, label=<<b>", f);
    html_text(f, title, 60);
    fputs("</b><br/><font point-size=\"10\" color=\"#555555\">", f);
    if (meta.producer_name[0]) {
        html_text(f, meta.producer_name, 30);
        if (meta.producer_version[0]) fputc(' ', f);
        html_text(f, meta.producer_version, 20);
        fputs(" · ", f);
    }
    fprintf(f, "opset %" PRId64 " · ", meta.opset_onnx);
    grouped(f, params);
    fputs(" params</font><br/> >];\n", f);
    fputs("  node [shape=plain, fontname=\"Helvetica\", fontsize=11];\n"
          "  edge [color=\"#666666\", arrowsize=0.7];\n", f);
}

int cli_write_dot(FILE *f, const onnxc_model *m, const char *title)
{
    name_table t;
    size_t n = onnxc_model_node_count(m);
    onnxc_node_shape *shapes = calloc(n + 1, sizeof *shapes);
    if (!shapes || !table_build(m, &t)) {
        free(shapes);
        fprintf(stderr, "onnxc: error: %s: out of memory\n", title);
        return EXIT_BAD_INPUT;
    }
    onnxc_error err;
    /* Shapes are a bonus: a model with unsupported ops still draws, without
     * them (they cannot be inferred through an op onnxc does not know). */
    bool all_supported = onnxc_model_check(m, &err) != ONNXC_ERR_UNSUPPORTED;
    bool have_shapes = all_supported && onnxc_model_infer_shapes(m, shapes, &err) == ONNXC_OK;

    write_header(f, m, title);
    char id[32];
    for (size_t i = 0; i < onnxc_model_input_count(m); i++) {
        onnxc_value_info v;
        if (onnxc_model_input(m, i, &v) != ONNXC_OK) continue;
        snprintf(id, sizeof id, "in%zu", i);
        write_value_node(f, id, &v, true);
    }
    for (size_t i = 0; i < n; i++) {
        onnxc_node_info ni;
        if (onnxc_model_node(m, i, &ni) != ONNXC_OK) continue;
        write_op_node(f, i, &ni, have_shapes ? &shapes[i] : NULL, all_supported || node_supported(m, &ni));
        /* One edge per distinct producer: Add(x, x) draws a single arrow. */
        for (size_t k = 0; k < ni.input_count; k++) {
            const char *name;
            if (onnxc_model_node_input(m, i, k, &name) != ONNXC_OK || !name[0]) continue;
            const name_entry *e = table_find(&t, name);
            if (!e || e->kind == NAME_INITIALIZER) continue;
            bool repeated = false;
            for (size_t j = 0; j < k && !repeated; j++) {
                const char *prev;
                repeated = onnxc_model_node_input(m, i, j, &prev) == ONNXC_OK && !strcmp(prev, name);
            }
            if (!repeated) fprintf(f, "  %s%zu -> n%zu;\n", e->kind == NAME_INPUT ? "in" : "n", e->index, i);
        }
    }
    for (size_t i = 0; i < onnxc_model_output_count(m); i++) {
        onnxc_value_info v;
        if (onnxc_model_output(m, i, &v) != ONNXC_OK) continue;
        snprintf(id, sizeof id, "out%zu", i);
        write_value_node(f, id, &v, false);
        const name_entry *e = table_find(&t, v.name);
        if (e && e->kind != NAME_INITIALIZER)
            fprintf(f, "  %s%zu -> %s;\n", e->kind == NAME_INPUT ? "in" : "n", e->index, id);
    }
    fputs("}\n", f);
    free(t.entries);
    free(shapes);
    if (fflush(f) != 0 || ferror(f)) {
        fprintf(stderr, "onnxc: error: %s: cannot write the graph\n", title);
        return EXIT_BAD_INPUT;
    }
    return EXIT_OK;
}
