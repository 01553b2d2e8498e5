/*
 * Keras-style training progress, driven by onnxc_progress_fn:
 *
 *     Epoch 1/5
 *      312/1875 [====>.........................] - ETA: 3s - loss: 0.7001 - accuracy: 0.7603
 *
 * and, when the epoch ends,
 *
 *     1875/1875 [==============================] - 2s 1ms/step - loss: 0.5012 - accuracy: 0.8234 - val_loss: 0.4521 - val_accuracy: 0.8390
 *
 * On a terminal the bar is redrawn in place with '\r', at most ten times a
 * second, cut to the terminal's width (a wrapped line could not be redrawn
 * in place); elsewhere (a pipe, a file) only the epoch header and the final line
 * of each epoch are written, so logs stay readable.
 */
#ifndef ONNXC_CLI_PROGRESS_H
#define ONNXC_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "onnxc.h"

typedef struct cli_progress {
    FILE *out;
    bool tty;                /* redraw in place */
    int epoch;               /* epoch whose header is printed; 0 before the first */
    double epoch_start;      /* monotonic seconds when the current epoch began */
    double train_seconds;    /* the epoch's batches alone, without validation */
    double last_draw;        /* when the bar was last drawn */
    size_t last_len;         /* length of the line on screen, to blank leftovers */
    bool line_open;          /* a bar without its '\n' is on screen */
} cli_progress;

/* Start timing now; `tty` picks in-place redraws. */
void cli_progress_init(cli_progress *p, FILE *out, bool tty);

/* One onnxc_progress_fn call: a batch done (log NULL) or an epoch done. */
void cli_progress_update(cli_progress *p, int epoch, int epochs, size_t step, size_t steps,
                         double loss, double accuracy, const onnxc_epoch_log *log);

/* End a half-drawn bar with '\n' (before an error message, or at the end). */
void cli_progress_finish(cli_progress *p);

/* Monotonic clock in seconds. */
double cli_now(void);

#endif
