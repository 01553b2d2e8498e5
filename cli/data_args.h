/*
 * The data options shared by `onnxc train` and `onnxc eval`:
 *
 *   --data DIR           an MNIST-style idx folder (train-* and optionally t10k-*)
 *   --x X.npy --y Y.npy  samples [n, ...] and labels [n] or targets [n, k]
 *
 * Exactly one of the two forms must be given. A command adds
 * CLI_DATA_OPTIONS to its getopt_long table and hands the three option codes
 * to cli_data_option.
 */
#ifndef ONNXC_CLI_DATA_ARGS_H
#define ONNXC_CLI_DATA_ARGS_H

#include <getopt.h>
#include <stdbool.h>

#include "onnxc.h"

/* getopt_long codes of the data options, above every short option. */
enum { CLI_OPT_DATA = 0x200, CLI_OPT_X, CLI_OPT_Y };

#define CLI_DATA_OPTIONS                                  \
    {"data", required_argument, 0, CLI_OPT_DATA},         \
    {"x", required_argument, 0, CLI_OPT_X},               \
    {"y", required_argument, 0, CLI_OPT_Y}

typedef struct cli_data_args {
    const char *dir;             /* --data, or NULL */
    const char *x_path, *y_path; /* --x / --y, or NULL */
} cli_data_args;

/* Record option `code` (one of CLI_OPT_*) with its value. Returns 0, or the
 * usage-error exit code when the option was already given. */
int cli_data_option(const char *cmd, int code, const char *value, cli_data_args *a);

/* After parsing: exactly one of --data DIR or --x/--y must be present.
 * Returns 0 or the usage-error exit code (one line on stderr). */
int cli_data_validate(const char *cmd, const cli_data_args *a);

/* True when `dir` holds the images file of `split` under one of the names
 * the idx loader accepts (plain, .gz, or the ".idx3-ubyte" spelling). */
bool cli_data_has_split(const char *dir, const char *split);

/*
 * Load one dataset. With --x/--y the npy pair (split is ignored); with
 * --data the idx `split`. Returns 0 with *out owned by the caller
 * (onnxc_dataset_free), or the exit code after reporting the error.
 */
int cli_data_load(const cli_data_args *a, const char *split, onnxc_dataset **out);

/* "DIR (t10k)" or "X.npy/Y.npy": names the data in messages. */
void cli_data_describe(const cli_data_args *a, const char *split, char *buf, size_t size);

#endif
