/* onnxc: inspect, check, convert and run ONNX models. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cmd_info, "summarize a model: inputs, outputs, nodes, parameters"},
    {"check", cmd_check, "validate a model; exit 2 listing every problem"},
    {"convert", cmd_convert, "re-save a model (.onnx, .h5, .keras) as ONNX"},
    {"run", cmd_run, "run a model on .npy or .pb tensors"},
    {"init", cmd_init, "write a new dense network from a spec (784,64:relu,10:softmax)"},
    {"train", cmd_train, "train a model on idx or .npy data, Keras fit() style"},
    {"eval", cmd_eval, "loss, accuracy and confusion matrix of a model on labelled data"},
    {"plot", cmd_plot, "draw loss and accuracy curves from a training log (.svg, .png)"},
    {"bench", cmd_bench, "time a model per batch size on synthetic inputs"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: onnxc COMMAND [ARGS]   (onnxc COMMAND --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit codes: 0 success, 1 usage error, 2 bad input\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("onnxc %s\n", onnxc_version());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "onnxc: unknown command '%s' (see 'onnxc --help')\n", argv[1]);
    return EXIT_USAGE;
}
