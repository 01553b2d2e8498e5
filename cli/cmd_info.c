/* onnxc info: a model.summary()-style table. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dot.h"

static const char help[] =
    "usage: onnxc info MODEL\n"
    "       onnxc info --dot MODEL\n"
    "       onnxc info --ops\n"
    "\n"
    "Print the producer, IR version and opsets, the inputs and outputs with\n"
    "their shapes (symbolic dims by name), one row per node with its op, output\n"
    "shape and parameter count, the parameter totals, and any unsupported ops.\n"
    "MODEL may be .onnx, .h5 or .keras.\n"
    "\n"
    "  --dot    write the graph in Graphviz format instead, one box per node with\n"
    "           its op, output shape and parameter count:\n"
    "               onnxc info --dot model.onnx | dot -Tsvg > model.svg\n"
    "  --ops    list every operator onnxc implements, with its domain, the opset\n"
    "           versions it implements and whether it can be trained through\n";

/* One implemented operator, for sorting the --ops listing. */
static int cmp_op(const void *a, const void *b)
{
    const onnxc_op_support *x = a, *y = b;
    int d = strcmp(x->domain, y->domain);
    return d ? d : strcmp(x->op_type, y->op_type);
}

/* --ops: by domain (ai.onnx first, as "" sorts first), then by name. */
static int print_ops(void)
{
    size_t n = onnxc_supported_op_count();
    onnxc_op_support *ops = calloc(n + 1, sizeof *ops);
    if (!ops) {
        fprintf(stderr, "onnxc: error: out of memory\n");
        return EXIT_BAD_INPUT;
    }
    size_t count = 0;
    while (count < n && onnxc_supported_op(count, &ops[count]) == ONNXC_OK) count++;
    qsort(ops, count, sizeof *ops, cmp_op);
    printf("onnxc %s: ai.onnx opsets up to %d; %zu operators\n", onnxc_version(), ONNXC_MAX_OPSET, count);
    printf("%-26s %-26s %-28s %s\n", "Domain", "Op", "Versions", "Training");
    for (size_t i = 0; i < count; i++) {
        char versions[128];
        size_t used = 0;
        versions[0] = '\0';
        for (size_t k = 0; k < ops[i].version_count && used < sizeof versions; k++) {
            int w = snprintf(versions + used, sizeof versions - used, "%s%d", k ? ", " : "", ops[i].versions[k]);
            if (w > 0) used += (size_t)w;
        }
        printf("%-26s %-26s %-28s %s\n", ops[i].domain[0] ? ops[i].domain : "ai.onnx", ops[i].op_type, versions,
               ops[i].differentiable ? "backward" : "-");
    }
    free(ops);
    return EXIT_OK;
}

static int print_dot(const char *path)
{
    onnxc_model *m;
    int rc = cli_load_model(path, &m);
    if (rc) return rc;
    const char *slash = strrchr(path, '/');
    rc = cli_write_dot(stdout, m, slash ? slash + 1 : path);
    onnxc_model_free(m);
    return rc;
}

static void format_dims(char *buf, size_t size, int rank, const int64_t *dims,
                        const char *const *names)
{
    if (rank < 0) {
        snprintf(buf, size, "?");
        return;
    }
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < rank && used < size; d++) {
        int n;
        if (names && names[d]) n = snprintf(buf + used, size - used, "%s%s", d ? ", " : "", names[d]);
        else if (dims[d] < 0) n = snprintf(buf + used, size - used, "%s?", d ? ", " : "");
        else n = snprintf(buf + used, size - used, "%s%" PRId64, d ? ", " : "", dims[d]);
        if (n > 0) used += (size_t)n;
    }
    if (used < size) snprintf(buf + used, size - used, "]");
}

static void print_value(const onnxc_value_info *v)
{
    char dims[256];
    format_dims(dims, sizeof dims, v->rank, v->dims, v->dim_names);
    printf("  %-32s %-8s %s\n", v->name, onnxc_dtype_name(v->dtype), dims);
}

/* 1234567 -> "1,234,567" */
static const char *grouped(uint64_t n, char *buf, size_t size)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%" PRIu64, n);
    size_t len = strlen(raw), out = 0;
    for (size_t i = 0; i < len && out + 2 < size; i++) {
        if (i && (len - i) % 3 == 0) buf[out++] = ',';
        buf[out++] = raw[i];
    }
    buf[out] = '\0';
    return buf;
}

static int print_summary(const char *path)
{
    onnxc_model *m;
    int rc = cli_load_model(path, &m);
    if (rc) return rc;

    onnxc_model_meta meta;
    onnxc_model_get_meta(m, &meta);
    printf("Model: %s\n", path);
    printf("Producer: %s %s\n", meta.producer_name[0] ? meta.producer_name : "(none)", meta.producer_version);
    printf("IR version: %" PRId64 "\nOpsets:", meta.ir_version);
    for (size_t i = 0; i < meta.opset_count; i++) {
        const char *dom;
        int64_t ver;
        onnxc_model_opset(m, i, &dom, &ver);
        printf("%s %s %" PRId64, i ? "," : "", dom, ver);
    }
    printf("\nInputs:\n");
    for (size_t i = 0; i < onnxc_model_input_count(m); i++) {
        onnxc_value_info v;
        onnxc_model_input(m, i, &v);
        print_value(&v);
    }
    printf("Outputs:\n");
    for (size_t i = 0; i < onnxc_model_output_count(m); i++) {
        onnxc_value_info v;
        onnxc_model_output(m, i, &v);
        print_value(&v);
    }

    size_t n = onnxc_model_node_count(m);
    onnxc_node_shape *shapes = calloc(n + 1, sizeof *shapes);
    onnxc_error err;
    /* Shapes need every op: inferring them through an unsupported node
     * is not defined (and crashed the planner), so ask only when all run. */
    bool supported = onnxc_model_check(m, &err) != ONNXC_ERR_UNSUPPORTED;
    bool have_shapes = shapes && supported && onnxc_model_infer_shapes(m, shapes, &err) == ONNXC_OK;
    static const char rule[] =
        "________________________________________________________________________________________";
    printf("%s\n %-44s %-28s %12s\n", rule, "Node (type)", "Output shape", "Param #");
    printf("========================================================================================\n");
    for (size_t i = 0; i < n; i++) {
        onnxc_node_info ni;
        onnxc_model_node(m, i, &ni);
        char label[512], dims[256], count[32];
        snprintf(label, sizeof label, "%s (%s)", ni.name[0] ? ni.name : ni.first_output, ni.op_type);
        if (have_shapes) format_dims(dims, sizeof dims, shapes[i].rank, shapes[i].dims, shapes[i].dim_names);
        else snprintf(dims, sizeof dims, "?");
        printf(" %-44s %-28s %12s\n", label, dims, grouped(ni.param_count, count, sizeof count));
    }
    free(shapes);
    uint64_t params, bytes;
    onnxc_model_param_totals(m, &params, &bytes);
    char count[32];
    printf("========================================================================================\n");
    printf("Total params: %s (%.2f KB)\n", grouped(params, count, sizeof count), bytes / 1024.0);
    if (!supported && onnxc_model_check(m, &err) == ONNXC_ERR_UNSUPPORTED) {
        printf("Unsupported ops:\n");
        const char *line = err.message;
        while (*line) {
            const char *nl = strchr(line, '\n');
            int len = nl ? (int)(nl - line) : (int)strlen(line);
            printf("  %.*s\n", len, line);
            if (!nl) break;
            line = nl + 1;
        }
    } else {
        printf("Unsupported ops: none\n");
    }
    onnxc_model_free(m);
    return EXIT_OK;
}

enum { OPT_DOT = 0x100, OPT_OPS };

int cmd_info(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    static const struct option opts[] = {
        {"dot", no_argument, 0, OPT_DOT},
        {"ops", no_argument, 0, OPT_OPS},
        {0, 0, 0, 0},
    };
    bool dot = false, ops = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DOT: dot = true; break;
        case OPT_OPS: ops = true; break;
        default: return cli_usage_error("info", "unknown option '%s'", argv[optind - 1]);
        }
    }
    int rest = argc - optind;
    if (ops) {
        if (dot || rest) return cli_usage_error("info", "--ops takes no MODEL and no other option");
        return print_ops();
    }
    if (rest != 1) return cli_usage_error("info", "expected one MODEL argument");
    return dot ? print_dot(argv[optind]) : print_summary(argv[optind]);
}
