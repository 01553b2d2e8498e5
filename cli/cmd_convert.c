/* onnxc convert: load any supported format, save ONNX (atomically). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: onnxc convert IN -o OUT.onnx [--external-data] [--external-threshold BYTES]\n"
    "                     [--arch SPEC]\n"
    "\n"
    "Re-save IN (.onnx, Keras .h5 or .keras) as ONNX. Every field of an ONNX input\n"
    "is kept, unknown ones included. --external-data moves initializers of at\n"
    "least BYTES (default 1024) to OUT.onnx.data beside the model. --arch gives the\n"
    "architecture of a weights-only Keras file, e.g. 784,64:relu,10:softmax.\n";

int cmd_convert(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"external-data", no_argument, 0, 'x'},
        {"external-threshold", required_argument, 0, 't'},
        {"arch", required_argument, 0, 'a'},
        {0, 0, 0, 0},
    };
    const char *out = NULL, *arch = NULL;
    onnxc_save_options save = {0};
    long threshold = 1024;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'x': save.external_data = 1; break;
        case 't':
            if (!cli_parse_int(optarg, 0, 1L << 40, &threshold))
                return cli_usage_error("convert", "--external-threshold expects a byte count, got '%s'", optarg);
            break;
        case 'a': arch = optarg; break;
        default: return cli_usage_error("convert", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage_error("convert", "expected one input model");
    if (!out) return cli_usage_error("convert", "missing -o OUT.onnx");
    save.external_threshold = (size_t)threshold;
    onnxc_error err;
    onnxc_model *m = NULL;
    onnxc_status st = arch ? onnxc_model_load_keras(argv[optind], arch, NULL, &m, &err)
                           : onnxc_model_load(argv[optind], NULL, &m, &err);
    if (st != ONNXC_OK) return cli_report(&err);
    int rc = EXIT_OK;
    if (onnxc_model_save(m, out, &save, &err) != ONNXC_OK) rc = cli_report(&err);
    onnxc_model_free(m);
    return rc;
}
