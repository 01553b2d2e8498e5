/* onnxc init: a fresh dense network from a spec (onnxc_model_from_spec). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char help[] =
    "usage: onnxc init SPEC -o MODEL.onnx [--seed N]\n"
    "\n"
    "Write a new, untrained dense network. SPEC is the input width followed by\n"
    "one UNITS[:ACTIVATION] per Dense layer, e.g. 784,64:relu,64:relu,10:softmax.\n"
    "Activations: linear (the default), relu, sigmoid, tanh, softmax, elu, selu,\n"
    "softplus, gelu. Kernels are Glorot-uniform from --seed (default 1), biases\n"
    "zero; the same SPEC and seed always give the same file.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   where to write the model (required)\n"
    "  --seed N            initialization seed, 0..2^64-1 (default 1)\n";

enum { OPT_SEED = 0x100 };

/* A whole decimal number in 0..UINT64_MAX; strtoull alone accepts "-1". */
static bool parse_seed(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = (uint64_t)v;
    return true;
}

int cmd_init(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"seed", required_argument, 0, OPT_SEED},
        {0, 0, 0, 0},
    };
    const char *out_path = NULL;
    uint64_t seed = 1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (out_path) return cli_usage_error("init", "-o is given twice");
            out_path = optarg;
            break;
        case OPT_SEED:
            if (!parse_seed(optarg, &seed))
                return cli_usage_error("init", "--seed expects an integer 0..2^64-1, got '%s'", optarg);
            break;
        case ':': return cli_usage_error("init", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("init", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind == argc) return cli_usage_error("init", "expected a SPEC such as 784,64:relu,10:softmax");
    if (optind != argc - 1) return cli_usage_error("init", "expected one SPEC, got '%s' as well", argv[optind + 1]);
    if (!out_path || !*out_path) return cli_usage_error("init", "missing -o MODEL.onnx");

    onnxc_error err;
    onnxc_model *m = NULL;
    if (onnxc_model_from_spec(argv[optind], seed, &m, &err) != ONNXC_OK) return cli_report(&err);
    int rc = EXIT_OK;
    if (onnxc_model_save(m, out_path, NULL, &err) != ONNXC_OK) {
        rc = cli_report(&err);
    } else {
        uint64_t params, bytes;
        onnxc_model_param_totals(m, &params, &bytes);
        printf("%s: %zu nodes, %" PRIu64 " parameters (seed %" PRIu64 ")\n", out_path,
               onnxc_model_node_count(m), params, seed);
    }
    onnxc_model_free(m);
    return rc;
}
