/* onnxc run: bind tensor files to inputs, run once, write or print outputs. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: onnxc run MODEL [-i [NAME=]FILE]... [-o FILE]... [--threads N]\n"
    "\n"
    "Run MODEL once. Each -i binds a tensor file to the input NAME, or to the\n"
    "next input in graph order when no NAME= is given. Each -o writes the next\n"
    "graph output, in graph-output order; outputs without -o are printed.\n"
    "The extension picks the format: .npy (numpy, versions 1-3) or .pb\n"
    "(serialized TensorProto). --threads sets the kernel threads (default: all).\n";

#define MAX_FILES 64

static void print_tensor(const char *name, const onnxc_tensor *t)
{
    printf("%s: %s [", name, onnxc_dtype_name(t->dtype));
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++) {
        printf("%s%" PRId64, d ? ", " : "", t->dims[d]);
        n *= t->dims[d];
    }
    printf("]\n");
    int64_t shown = n < 64 ? n : 64;
    for (int64_t i = 0; i < shown; i++) {
        switch (t->dtype) {
        case ONNXC_FLOAT: printf("%s%.7g", i ? " " : "  ", ((const float *)t->data)[i]); break;
        case ONNXC_DOUBLE: printf("%s%.15g", i ? " " : "  ", ((const double *)t->data)[i]); break;
        case ONNXC_INT64: printf("%s%" PRId64, i ? " " : "  ", ((const int64_t *)t->data)[i]); break;
        case ONNXC_INT32: printf("%s%" PRId32, i ? " " : "  ", ((const int32_t *)t->data)[i]); break;
        case ONNXC_BOOL: case ONNXC_UINT8:
            printf("%s%u", i ? " " : "  ", ((const uint8_t *)t->data)[i]); break;
        default: printf("%s?", i ? " " : "  "); break;
        }
    }
    printf("%s\n", n > shown ? " ..." : "");
}

int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    static const struct option opts[] = {
        {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 't'},
        {0, 0, 0, 0},
    };
    const char *in_args[MAX_FILES], *out_files[MAX_FILES];
    int n_in = 0, n_out = 0;
    long threads = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "i:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (n_in == MAX_FILES) return cli_usage_error("run", "too many -i (max %d)", MAX_FILES);
            in_args[n_in++] = optarg;
            break;
        case 'o':
            if (n_out == MAX_FILES) return cli_usage_error("run", "too many -o (max %d)", MAX_FILES);
            out_files[n_out++] = optarg;
            break;
        case 't':
            if (!cli_parse_int(optarg, 1, 4096, &threads))
                return cli_usage_error("run", "--threads expects 1..4096, got '%s'", optarg);
            break;
        default: return cli_usage_error("run", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage_error("run", "expected one MODEL argument");
    onnxc_model *m;
    int rc = cli_load_model(argv[optind], &m);
    if (rc) return rc;
    size_t n_inputs = onnxc_model_input_count(m), n_outputs = onnxc_model_output_count(m);
    onnxc_tensor *inputs = calloc(n_inputs + 1, sizeof *inputs);
    onnxc_tensor *outputs = calloc(n_outputs + 1, sizeof *outputs);
    int *filled = calloc(n_inputs + 1, sizeof *filled);
    onnxc_session *s = NULL;
    onnxc_error err;
    rc = EXIT_OK;
    if (!inputs || !outputs || !filled) {
        fprintf(stderr, "onnxc: error: out of memory\n");
        rc = EXIT_BAD_INPUT;
        goto done;
    }
    if ((size_t)n_out > n_outputs) {
        rc = cli_usage_error("run", "%d -o given, the model has %zu outputs", n_out, n_outputs);
        goto done;
    }
    size_t next = 0;
    for (int i = 0; i < n_in; i++) {
        const char *arg = in_args[i], *file = arg;
        size_t slot = SIZE_MAX;
        const char *eq = strchr(arg, '=');
        if (eq) {
            for (size_t k = 0; k < n_inputs; k++) {
                onnxc_value_info vi;
                onnxc_model_input(m, k, &vi);
                if (strlen(vi.name) == (size_t)(eq - arg) && !strncmp(vi.name, arg, (size_t)(eq - arg))) {
                    slot = k;
                    file = eq + 1;
                }
            }
        }
        if (slot == SIZE_MAX) {
            while (next < n_inputs && filled[next]) next++;
            slot = next;
        }
        if (slot >= n_inputs) {
            rc = cli_usage_error("run", "too many inputs: the model takes %zu", n_inputs);
            goto done;
        }
        if (filled[slot]) {
            onnxc_value_info vi;
            onnxc_model_input(m, slot, &vi);
            rc = cli_usage_error("run", "input '%s' is given twice", vi.name);
            goto done;
        }
        if (onnxc_tensor_load(file, &inputs[slot], &err) != ONNXC_OK) {
            rc = cli_report(&err);
            goto done;
        }
        filled[slot] = 1;
    }
    for (size_t k = 0; k < n_inputs; k++)
        if (!filled[k]) {
            onnxc_value_info vi;
            onnxc_model_input(m, k, &vi);
            fprintf(stderr, "onnxc: error: %s: input '%s' is missing; pass -i %s=FILE\n", argv[optind],
                    vi.name, vi.name);
            rc = EXIT_BAD_INPUT;
            goto done;
        }
    onnxc_session_options so = {.threads = (int)threads};
    if (onnxc_session_create(m, &so, &s, &err) != ONNXC_OK ||
        onnxc_session_run(s, inputs, n_inputs, outputs, n_outputs, &err) != ONNXC_OK) {
        rc = cli_report(&err);
        goto done;
    }
    for (size_t k = 0; k < n_outputs; k++) {
        onnxc_value_info vi;
        onnxc_model_output(m, k, &vi);
        if ((int)k < n_out) {
            if (onnxc_tensor_save(out_files[k], &outputs[k], &err) != ONNXC_OK) {
                rc = cli_report(&err);
                goto done;
            }
        } else {
            print_tensor(vi.name, &outputs[k]);
        }
    }
done:
    onnxc_session_free(s);
    if (inputs)
        for (size_t k = 0; k < n_inputs; k++) onnxc_tensor_release(&inputs[k]);
    free(inputs);
    free(outputs);
    free(filled);
    onnxc_model_free(m);
    return rc;
}
