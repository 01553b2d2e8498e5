/* The onnxc command line: a thin layer over include/onnxc.h. */
#ifndef ONNXC_CLI_H
#define ONNXC_CLI_H

#include <stdbool.h>

#include "onnxc.h"

/* Exit codes shared by every subcommand. */
enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_BAD_INPUT = 2 };

/* Print each line of err's message as "onnxc: error: <line>" on stderr;
 * returns the exit code for its status (1 for argument errors, else 2). */
int cli_report(const onnxc_error *err);
/* Usage error: one line on stderr, plus a hint to run --help. Returns 1. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv holds -h/--help. */
bool cli_wants_help(int argc, char **argv);
/* Parse a positive int option value; false on junk or out of range. */
bool cli_parse_int(const char *s, long min, long max, long *out);
/* Load a .onnx, .h5 or .keras model, reporting errors. Returns exit code. */
int cli_load_model(const char *path, onnxc_model **out);

int cmd_info(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
