/*
 * Training curves: loss and accuracy per epoch, training against
 * validation, as one figure with two panels (loss left, accuracy right),
 * each with axes, ticks, gridlines and axis labels, and a shared legend.
 *
 *   .svg  written here, by hand: no dependency, and the result is plain
 *         markup that a test can parse and a browser shows.
 *   .png  rendered by gnuplot (Debian package gnuplot-nox) when it is on
 *         PATH; without it, a clear error that names the package.
 *
 * The epochs come from `onnxc train` itself (cli_history_add from its
 * progress callback) or from its --log file (cli_history_read).
 */
#ifndef ONNXC_CLI_PLOT_H
#define ONNXC_CLI_PLOT_H

#include <stdbool.h>
#include <stddef.h>

/* One epoch; NaN for a value the log does not have (no validation set). */
typedef struct cli_epoch_point {
    int epoch;
    double loss, accuracy;
    double val_loss, val_accuracy;
} cli_epoch_point;

/* Epochs in increasing order, each at most once. */
typedef struct cli_history {
    cli_epoch_point *points;     /* [count] */
    size_t count, capacity;
} cli_history;

void cli_history_free(cli_history *h);

/* Add an epoch, keeping the order. A record for an epoch already present
 * replaces it: after a --resume from an earlier checkpoint the log repeats
 * epochs, and the later run is the one the saved model comes from.
 * False when out of memory. */
bool cli_history_add(cli_history *h, const cli_epoch_point *p);

/*
 * Read a JSON-lines log as `onnxc train --log` writes it: one object per
 * line with "epoch" and any of "loss", "accuracy", "val_loss",
 * "val_accuracy" (numbers, or null for a non-finite value); other keys are
 * ignored, blank lines skipped. Returns 0, or the exit code after printing
 * "onnxc: error: LOG:LINE: ..." for the first bad line.
 */
int cli_history_read(const char *path, cli_history *h);

/*
 * Before any long work: check that `path` names a format this build can
 * write (.svg, or .png with gnuplot on PATH). Returns 0, or the exit code
 * after one line on stderr (1 for an unknown extension, 2 for a missing
 * renderer). `cmd` names the subcommand in usage errors.
 */
int cli_plot_check_target(const char *cmd, const char *path);

/*
 * Draw `h` into `path` (format by extension, as above), replacing the file
 * atomically. `title` may be NULL. Returns 0, or the exit code after
 * printing the error.
 */
int cli_plot_write(const cli_history *h, const char *path, const char *title);

#endif
