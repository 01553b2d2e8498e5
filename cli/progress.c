/* Keras-style progress bar for onnxc train (see progress.h). */
#include "progress.h"

#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30          /* Keras's Progbar width */
#define REDRAW_INTERVAL 0.1   /* seconds: at most ten redraws a second */

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_init(cli_progress *p, FILE *out, bool tty)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = tty;
    p->epoch_start = cli_now();
    p->last_draw = -1.0;
}

/* snprintf that appends at *used and never runs past size. */
__attribute__((format(printf, 4, 5)))
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used >= size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used = *used + (size_t)n < size ? *used + (size_t)n : size - 1;
}

/* " 312/1875 [====>......]": the step count is padded to the width of the
 * total, so the bar does not move as the count grows. */
static void format_bar(char *buf, size_t size, size_t *used, size_t step, size_t steps)
{
    int digits = 1;
    for (size_t s = steps; s >= 10; s /= 10) digits++;
    append(buf, size, used, "%*zu/%zu [", digits, step, steps);
    size_t filled = steps ? BAR_WIDTH * step / steps : BAR_WIDTH;
    if (filled > BAR_WIDTH) filled = BAR_WIDTH;
    for (size_t i = 0; i + 1 < filled; i++) append(buf, size, used, "=");
    if (filled > 0) append(buf, size, used, "%c", step < steps ? '>' : '=');
    for (size_t i = filled; i < BAR_WIDTH; i++) append(buf, size, used, ".");
    append(buf, size, used, "]");
}

/* Keras's ETA: "42s", "3:05" or "1:02:03". */
static void format_eta(char *buf, size_t size, size_t *used, double eta)
{
    long s = eta > 0 && eta < 1e9 ? (long)eta : 0;
    if (s > 3600) append(buf, size, used, " - ETA: %ld:%02ld:%02ld", s / 3600, s % 3600 / 60, s % 60);
    else if (s > 60) append(buf, size, used, " - ETA: %ld:%02ld", s / 60, s % 60);
    else append(buf, size, used, " - ETA: %lds", s);
}

/* " 2s 1ms/step": epoch time (validation included), then the time per
 * training step in the unit Keras picks. */
static void format_timing(char *buf, size_t size, size_t *used, double elapsed, double train, size_t steps)
{
    double per = steps ? train / (double)steps : 0.0;
    append(buf, size, used, " - %.0fs", elapsed);
    if (per >= 1.0 || per == 0.0) append(buf, size, used, " %.0fs/step", per);
    else if (per >= 1e-3) append(buf, size, used, " %.0fms/step", per * 1e3);
    else append(buf, size, used, " %.0fus/step", per * 1e6);
}

/* Columns of the terminal behind `out` (it may be resized while training). */
static size_t terminal_columns(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1) return ws.ws_col;
    return 80;
}

static void draw(cli_progress *p, char *line, bool final)
{
    size_t len = strlen(line);
    if (p->tty && !final) {
        /* Keep the bar on one row, with the cursor inside it: '\r' only
         * returns to the start of the row it is on. */
        size_t cols = terminal_columns(p->out);
        if (len >= cols) line[len = cols - 1] = '\0';
    }
    if (p->tty) {
        /* Blank what is left of a longer previous line. */
        int pad = p->line_open && p->last_len > len ? (int)(p->last_len - len) : 0;
        fprintf(p->out, "\r%s%*s", line, pad, "");
        p->line_open = true;
    } else {
        fputs(line, p->out);
    }
    if (final) {
        fputc('\n', p->out);
        p->line_open = false;
    }
    p->last_len = len;
    fflush(p->out);
}

void cli_progress_update(cli_progress *p, int epoch, int epochs, size_t step, size_t steps,
                         double loss, double accuracy, const onnxc_epoch_log *log)
{
    double now = cli_now();
    if (!log && step == steps) p->train_seconds = now - p->epoch_start;
    if (epoch != p->epoch) {
        cli_progress_finish(p);
        fprintf(p->out, "Epoch %d/%d\n", epoch, epochs);
        fflush(p->out);
        p->epoch = epoch;
        p->last_draw = -1.0;
    }
    /* Without a terminal only the epoch's final line is written; on one the
     * last batch is always drawn, since validation may follow for a while. */
    if (!log && (!p->tty || (step < steps && now - p->last_draw < REDRAW_INTERVAL))) return;
    p->last_draw = now;

    char line[512];
    size_t used = 0;
    line[0] = '\0';
    double elapsed = now - p->epoch_start;
    format_bar(line, sizeof line, &used, step, steps);
    if (log) {
        format_timing(line, sizeof line, &used, elapsed, p->train_seconds > 0 ? p->train_seconds : elapsed,
                      steps);
        loss = log->loss;
        accuracy = log->accuracy;
    } else {
        format_eta(line, sizeof line, &used, step ? elapsed / (double)step * (double)(steps - step) : 0.0);
    }
    append(line, sizeof line, &used, " - loss: %.4f - accuracy: %.4f", loss, accuracy);
    if (log && log->has_validation)
        append(line, sizeof line, &used, " - val_loss: %.4f - val_accuracy: %.4f", log->val_loss,
               log->val_accuracy);
    draw(p, line, log != NULL);
    if (log) {
        p->epoch_start = cli_now();
        p->train_seconds = 0.0;
    }
}

void cli_progress_finish(cli_progress *p)
{
    if (!p->line_open) return;
    fputc('\n', p->out);
    fflush(p->out);
    p->line_open = false;
}
