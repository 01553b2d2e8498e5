/* onnxc check: load (structure) + onnxc_model_check (ops, shapes). */
#include <stdio.h>

#include "cli.h"

static const char help[] =
    "usage: onnxc check MODEL\n"
    "\n"
    "Validate MODEL (.onnx, .h5 or .keras): protobuf framing, tensors, names,\n"
    "graph order, supported ops and shape inference. Exits 0 when the model can\n"
    "run, 2 with every problem found (one per line on stderr).\n";

int cmd_check(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    if (argc != 2) return cli_usage_error("check", "expected one MODEL argument");
    onnxc_model *m;
    int rc = cli_load_model(argv[1], &m);
    if (rc) return rc;
    onnxc_error err;
    if (onnxc_model_check(m, &err) != ONNXC_OK) rc = cli_report(&err);
    else printf("%s: ok\n", argv[1]);
    onnxc_model_free(m);
    return rc;
}
