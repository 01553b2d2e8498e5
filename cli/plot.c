/*
 * Training curves as SVG (written here) or PNG (through gnuplot); see
 * plot.h. Both formats draw the same figure from the same axis ranges:
 *
 *                          title
 *     Loss                           Accuracy
 *     +------------------------+     +------------------------+
 *     |  \                     |     |        ______------    |
 *     |   `--.___              |     |   _.--'                |
 *     |          ``----.....   |     |  /                     |
 *     +------------------------+     +------------------------+
 *                Epoch                          Epoch
 *                      -o- train   -o- validation
 *
 * The legend sits below the panels, outside both, so it never hides a
 * curve (loss falls and accuracy rises, so no corner is free in both).
 */
#define _GNU_SOURCE /* mkstemps */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

extern char **environ;

/* Figure layout, in SVG user units (= PNG pixels). */
#define FIG_W 1000
#define PANEL_W (FIG_W / 2)
#define PLOT_LEFT 78      /* panel edge to plot area: tick labels, y label */
#define PLOT_RIGHT 28
#define PLOT_H 300
#define BELOW_PLOT 94     /* tick labels, "Epoch", legend */
#define MAX_MARKERS 60    /* beyond this many epochs markers only clutter */

typedef struct axis {
    double lo, hi, step;      /* range shown; ticks at multiples of step */
    int decimals;             /* digits after the point in tick labels */
    int significant;          /* > 0: labels in %g style with this many digits */
} axis;

typedef struct series_style {
    const char *name, *cls;   /* legend text, SVG class */
    const char *color;
    const char *dash;         /* SVG stroke-dasharray, or NULL */
    bool hollow;              /* markers filled white */
} series_style;

static const series_style styles[2] = {
    {"train", "train", "#1f77b4", NULL, false},
    {"validation", "validation", "#ff7f0e", "7 4", true},
};

/* Which value of a point: loss or accuracy, train or validation. */
static double value(const cli_epoch_point *p, bool accuracy, bool validation)
{
    if (accuracy) return validation ? p->val_accuracy : p->accuracy;
    return validation ? p->val_loss : p->loss;
}

static bool series_present(const cli_history *h, bool accuracy, bool validation)
{
    for (size_t i = 0; i < h->count; i++)
        if (isfinite(value(&h->points[i], accuracy, validation))) return true;
    return false;
}

/* 1, 2 or 5 times a power of ten, near span / target. */
static double nice_step(double span, int target, int *decimals)
{
    double raw = span / target;
    int k = (int)floor(log10(raw));
    double mag = pow(10.0, k), m = raw / mag;
    double nice = m <= 1.0 ? 1.0 : m <= 2.0 ? 2.0 : m <= 5.0 ? 5.0 : 10.0;
    if (nice == 10.0) {
        nice = 1.0;
        k++;
        mag *= 10.0;
    }
    *decimals = k < 0 ? -k : 0;
    return nice * mag;
}

/* A y axis over the data [lo, hi] padded by 4%, widened to whole ticks.
 * The padding does not cross 0 (losses and accuracies are >= 0) nor, for
 * accuracy, 1, when the data stays inside them. */
static axis y_axis(double lo, double hi, bool accuracy)
{
    axis a;
    /* Beyond +-1e300 the span could overflow; a curve that flat (relative
     * to its size) is drawn as a flat line in the middle. */
    lo = fmax(lo, -1e300);
    hi = fmin(hi, 1e300);
    double data_lo = lo, data_hi = hi;
    if (!(hi - lo > 1e-9 * fmax(fabs(lo), fabs(hi)) + 1e-200)) {
        double pad = fabs(lo) > 1e-12 ? fabs(lo) * 0.1 : 0.5;
        lo -= pad;
        hi += pad;
    }
    double pad = (hi - lo) * 0.04;
    lo -= pad;
    hi += pad;
    if (data_lo >= 0.0 && lo < 0.0) lo = 0.0;
    if (accuracy && data_hi <= 1.0 && hi > 1.0) hi = 1.0;
    a.step = nice_step(hi - lo, 5, &a.decimals);
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    /* Fixed-point labels while they stay short; past that (a diverging
     * loss) the %g style, with the digits that tell the ticks apart. */
    double big = fmax(fabs(a.lo), fabs(a.hi));
    a.significant = 0;
    if (big >= 1e6 || a.decimals > 6) {
        int digits = (int)floor(log10(big)) - (int)floor(log10(a.step)) + 1;
        a.significant = digits < 1 ? 1 : digits > 12 ? 12 : digits;
    }
    return a;
}

/* Epochs: the data range plus a little room so end markers clear the
 * frame; ticks on whole epochs. */
static axis x_axis(const cli_history *h)
{
    axis a;
    double lo = h->points[0].epoch, hi = h->points[h->count - 1].epoch;
    if (hi <= lo) {
        /* One epoch: a unit of room either side, and its one tick. */
        lo -= 0.5;
        hi += 0.5;
    }
    a.step = nice_step(hi - lo, 8, &a.decimals);
    if (a.step < 1.0) a.step = 1.0;
    a.decimals = 0;
    a.significant = 0;
    double pad = (hi - lo) * 0.03;
    a.lo = lo - pad;
    a.hi = hi + pad;
    return a;
}

/* Epochs count from 1: the first tick at a multiple of the step >= 1. */
static double first_x_tick(const axis *a)
{
    double x0 = ceil(a->lo / a->step - 1e-9) * a->step;
    return x0 >= 1.0 - 1e-9 ? x0 : ceil(1.0 / a->step - 1e-9) * a->step;
}

/* Ticks from `first` to the axis end. Counted, not stepped to (adding a
 * step to a large value may not change it), and at most 64. */
static int tick_count(const axis *a, double first)
{
    double n = floor((a->hi - first) / a->step + 1e-6) + 1.0;
    return n >= 1.0 && n <= 64.0 ? (int)n : n > 64.0 ? 64 : 0;
}

static axis panel_y_axis(const cli_history *h, bool accuracy, bool *empty)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < h->count; i++)
        for (int v = 0; v < 2; v++) {
            double x = value(&h->points[i], accuracy, v);
            if (!isfinite(x)) continue;
            if (x < lo) lo = x;
            if (x > hi) hi = x;
        }
    *empty = !(lo <= hi);
    if (*empty) return y_axis(0.0, 1.0, accuracy);
    return y_axis(lo, hi, accuracy);
}

/* ------------------------------------------------------------------------ */
/* SVG                                                                       */

/* Text content or attribute value with XML's five special characters
 * escaped; control characters (not allowed in XML 1.0) become spaces. */
static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
        }
    }
}

typedef struct frame {
    double x, y, w, h;        /* plot area */
    axis ax, ay;
} frame;

static double px(const frame *fr, double v) { return fr->x + (v - fr->ax.lo) / (fr->ax.hi - fr->ax.lo) * fr->w; }
static double py(const frame *fr, double v) { return fr->y + fr->h - (v - fr->ay.lo) / (fr->ay.hi - fr->ay.lo) * fr->h; }

/* Gridlines, axes with outward tick marks, tick labels, axis labels. */
static void svg_axes(FILE *f, const frame *fr, const char *ylabel)
{
    double bottom = fr->y + fr->h, right = fr->x + fr->w;
    fprintf(f, "  <rect class=\"plot-area\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fbfbfb\" stroke=\"#d0d0d0\"/>\n",
            fr->x, fr->y, fr->w, fr->h);
    fputs("  <g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n", f);
    double x0 = first_x_tick(&fr->ax);
    int nx = tick_count(&fr->ax, x0), ny = tick_count(&fr->ay, fr->ay.lo);
#define X_TICK(i) (x0 + (i) * fr->ax.step)
#define Y_TICK(i) (fr->ay.lo + (i) * fr->ay.step)
    for (int i = 0; i < nx; i++)
        fprintf(f, "    <line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(fr, X_TICK(i)), fr->y,
                px(fr, X_TICK(i)), bottom);
    for (int i = 0; i < ny; i++)
        fprintf(f, "    <line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", fr->x, py(fr, Y_TICK(i)), right,
                py(fr, Y_TICK(i)));
    fputs("  </g>\n", f);

    fputs("  <g class=\"axes\" stroke=\"#333333\" stroke-width=\"1.2\" stroke-linecap=\"square\">\n", f);
    fprintf(f, "    <line class=\"x-axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", fr->x, bottom, right, bottom);
    fprintf(f, "    <line class=\"y-axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", fr->x, fr->y, fr->x, bottom);
    for (int i = 0; i < nx; i++)
        fprintf(f, "    <line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(fr, X_TICK(i)), bottom,
                px(fr, X_TICK(i)), bottom + 5);
    for (int i = 0; i < ny; i++)
        fprintf(f, "    <line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", fr->x - 5, py(fr, Y_TICK(i)), fr->x,
                py(fr, Y_TICK(i)));
    fputs("  </g>\n", f);

    fputs("  <g class=\"tick-labels\" fill=\"#333333\" font-size=\"11\">\n", f);
    for (int i = 0; i < nx; i++)
        fprintf(f, "    <text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", px(fr, X_TICK(i)), bottom + 19,
                X_TICK(i));
    for (int i = 0; i < ny; i++) {
        double v = Y_TICK(i), shown = fabs(v) < fr->ay.step * 1e-6 ? 0.0 : v;  /* not "-0.00" */
        if (fr->ay.significant)
            fprintf(f, "    <text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*g</text>\n", fr->x - 9, py(fr, v) + 4,
                    fr->ay.significant, shown);
        else
            fprintf(f, "    <text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", fr->x - 9, py(fr, v) + 4,
                    fr->ay.decimals, shown);
    }
#undef X_TICK
#undef Y_TICK
    fputs("  </g>\n", f);

    fprintf(f, "  <text class=\"axis-label x-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\">Epoch</text>\n",
            fr->x + fr->w / 2, bottom + 42);
    double lx = fr->x - PLOT_LEFT + 20, ly = fr->y + fr->h / 2;
    fprintf(f, "  <text class=\"axis-label y-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\" "
               "transform=\"rotate(-90 %.1f %.1f)\">%s</text>\n", lx, ly, lx, ly, ylabel);
}

static void svg_marker(FILE *f, const series_style *st, double x, double y)
{
    fprintf(f, "    <circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.6\" fill=\"%s\" stroke=\"%s\" stroke-width=\"1.6\"/>\n", x, y,
            st->hollow ? "#ffffff" : st->color, st->color);
}

/* One polyline per series (non-finite values are left out, so the line
 * joins their neighbours), then its markers. */
static void svg_series(FILE *f, const frame *fr, const cli_history *h, bool accuracy, bool validation)
{
    const series_style *st = &styles[validation];
    fprintf(f, "  <polyline class=\"series %s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" "
               "stroke-linejoin=\"round\" stroke-linecap=\"round\"%s%s%s points=\"",
            st->cls, st->color, st->dash ? " stroke-dasharray=\"" : "", st->dash ? st->dash : "", st->dash ? "\"" : "");
    bool first = true;
    for (size_t i = 0; i < h->count; i++) {
        double v = value(&h->points[i], accuracy, validation);
        if (!isfinite(v)) continue;
        fprintf(f, "%s%.1f,%.1f", first ? "" : " ", px(fr, h->points[i].epoch), py(fr, v));
        first = false;
    }
    fputs("\"/>\n", f);
    if (h->count > MAX_MARKERS) return;
    fprintf(f, "  <g class=\"markers %s\">\n", st->cls);
    for (size_t i = 0; i < h->count; i++) {
        double v = value(&h->points[i], accuracy, validation);
        if (isfinite(v)) svg_marker(f, st, px(fr, h->points[i].epoch), py(fr, v));
    }
    fputs("  </g>\n", f);
}

static void svg_panel(FILE *f, const cli_history *h, int index, double top, bool with_val)
{
    bool accuracy = index == 1;
    const char *name = accuracy ? "Accuracy" : "Loss";
    bool empty;
    frame fr = {
        .x = index * PANEL_W + PLOT_LEFT, .y = top, .w = PANEL_W - PLOT_LEFT - PLOT_RIGHT, .h = PLOT_H,
        .ax = x_axis(h), .ay = panel_y_axis(h, accuracy, &empty),
    };
    fprintf(f, " <g class=\"panel\" id=\"panel-%s\">\n", accuracy ? "accuracy" : "loss");
    fprintf(f, "  <text class=\"panel-title\" x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\">%s</text>\n",
            fr.x, top - 10, name);
    svg_axes(f, &fr, name);
    if (empty) {
        fprintf(f, "  <text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888888\">no data in the log</text>\n",
                fr.x + fr.w / 2, fr.y + fr.h / 2);
    } else {
        if (series_present(h, accuracy, false)) svg_series(f, &fr, h, accuracy, false);
        if (with_val && series_present(h, accuracy, true)) svg_series(f, &fr, h, accuracy, true);
    }
    fputs(" </g>\n", f);
}

static void svg_legend(FILE *f, double y, bool with_val, bool markers)
{
    /* Entry width: a 34-unit line sample, a gap, the text (~7 units per
     * character at 13px); centred as a whole under the two panels. */
    int n = with_val ? 2 : 1;
    double widths[2], total = 0;
    for (int i = 0; i < n; i++) {
        widths[i] = 34 + 8 + 7.5 * (double)strlen(styles[i].name);
        total += widths[i] + (i ? 28 : 0);
    }
    double x = (FIG_W - total) / 2;
    fputs(" <g class=\"legend\" font-size=\"13\">\n", f);
    for (int i = 0; i < n; i++) {
        const series_style *st = &styles[i];
        fprintf(f, "  <line class=\"legend-line %s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"2.2\"%s%s%s/>\n",
                st->cls, x, y, x + 34, y, st->color, st->dash ? " stroke-dasharray=\"" : "", st->dash ? st->dash : "",
                st->dash ? "\"" : "");
        if (markers) svg_marker(f, st, x + 17, y);
        fprintf(f, "  <text x=\"%.1f\" y=\"%.1f\" fill=\"#222222\">%s</text>\n", x + 42, y + 4.5, st->name);
        x += widths[i] + 28;
    }
    fputs(" </g>\n", f);
}

static void write_svg(FILE *f, const cli_history *h, const char *title)
{
    double top = title ? 76 : 44;
    double height = top + PLOT_H + BELOW_PLOT;
    bool with_val = series_present(h, false, true) || series_present(h, true, true);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
               "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
            FIG_W, height, FIG_W, height);
    fputs(" <title>", f);
    xml_text(f, title ? title : "Training history");
    fputs("</title>\n", f);
    fputs(" <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n", f);
    if (title) {
        fprintf(f, " <text class=\"title\" x=\"%d\" y=\"30\" text-anchor=\"middle\" font-size=\"17\" "
                   "font-weight=\"bold\" fill=\"#222222\">", FIG_W / 2);
        xml_text(f, title);
        fputs("</text>\n", f);
    }
    svg_panel(f, h, 0, top, with_val);
    svg_panel(f, h, 1, top, with_val);
    svg_legend(f, height - 22, with_val, h->count <= MAX_MARKERS);
    fputs("</svg>\n", f);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* `name` as found on PATH, into buf; false when absent. */
static bool find_program(const char *name, char *buf, size_t size)
{
    const char *path = getenv("PATH");
    if (!path) return false;
    while (*path) {
        size_t len = strcspn(path, ":");
        snprintf(buf, size, "%.*s/%s", (int)len, len ? path : ".", name);
        if (access(buf, X_OK) == 0) return true;
        path += len + (path[len] == ':');
    }
    return false;
}

int cli_plot_check_target(const char *cmd, const char *path)
{
    char gnuplot[4096];
    if (has_suffix(path, ".svg")) return EXIT_OK;
    if (!has_suffix(path, ".png"))
        return cli_usage_error(cmd, "the plot's format follows its extension: expected .svg or .png, got '%s'", path);
    if (find_program("gnuplot", gnuplot, sizeof gnuplot)) return EXIT_OK;
    fprintf(stderr, "onnxc: error: %s: writing PNG needs gnuplot on PATH, which was not found "
                    "(Debian: apt-get install gnuplot-nox), or write .svg instead\n", path);
    return EXIT_BAD_INPUT;
}

/* A new temporary file beside `path` (same folder, so rename is atomic):
 * "<path>.tmpXXXXXX<suffix>". Returns its descriptor, or -1. */
static int temp_beside(const char *path, const char *suffix, char *tmp, size_t size)
{
    if ((size_t)snprintf(tmp, size, "%s.tmpXXXXXX%s", path, suffix) >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkstemps(tmp, (int)strlen(suffix));
    /* mkstemp creates 0600; the plot is an ordinary file, so give it the
     * mode fopen would (0666 less the umask). */
    mode_t mask = umask(0);
    umask(mask);
    if (fd >= 0) (void)fchmod(fd, 0666 & ~mask);
    return fd;
}

static int commit(const char *tmp, const char *path)
{
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "onnxc: error: %s: cannot write the plot: %s\n", path, strerror(errno));
        unlink(tmp);
        return EXIT_BAD_INPUT;
    }
    return EXIT_OK;
}

static int save_svg(const cli_history *h, const char *path, const char *title)
{
    char tmp[4096];
    int fd = temp_beside(path, "", tmp, sizeof tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "onnxc: error: %s: cannot write the plot: %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return EXIT_BAD_INPUT;
    }
    write_svg(f, h, title);
    bool ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
    int saved = errno;
    if (fclose(f) != 0) ok = false;
    if (!ok) {
        fprintf(stderr, "onnxc: error: %s: cannot write the plot: %s\n", path, strerror(saved ? saved : EIO));
        unlink(tmp);
        return EXIT_BAD_INPUT;
    }
    return commit(tmp, path);
}

/* ------------------------------------------------------------------------ */
/* PNG through gnuplot                                                       */

/* A gnuplot single-quoted string: only ' needs escaping, as ''. */
static void gp_string(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
    }
    fputc('\'', f);
}

static void gp_panel(FILE *f, const cli_history *h, const char *data, bool accuracy, bool with_val)
{
    bool empty;
    axis ax = x_axis(h), ay = panel_y_axis(h, accuracy, &empty);
    const char *name = accuracy ? "Accuracy" : "Loss";
    fprintf(f, "set title '%s' font ',12'\nset ylabel '%s'\n", name, name);
    fprintf(f, "set xrange [%.17g:%.17g]\nset xtics %.17g, %.17g\nset format x '%%.0f'\n", ax.lo, ax.hi,
            first_x_tick(&ax), ax.step);
    fprintf(f, "set yrange [%.17g:%.17g]\nset ytics %.17g\nset format y '%%.%d%c'\n", ay.lo, ay.hi, ay.step,
            ay.significant ? ay.significant : ay.decimals, ay.significant ? 'g' : 'f');
    int col = accuracy ? 3 : 2;
    bool train = series_present(h, accuracy, false), val = with_val && series_present(h, accuracy, true);
    if (empty || (!train && !val)) {
        /* Nothing to draw, but keep the panel (and the legend) in place. */
        fputs("set label 1 'no data in the log' at graph 0.5, 0.5 center tc rgb '#888888'\n"
              "plot NaN notitle\nunset label 1\n", f);
        return;
    }
    bool markers = h->count <= MAX_MARKERS;
    const char *with = markers ? "linespoints" : "lines";
    fputs("plot ", f);
    if (train) {
        gp_string(f, data);
        fprintf(f, " using 1:%d with %s lw 2%s lc rgb '%s' title 'train'", col, with, markers ? " pt 7 ps 0.8" : "",
                styles[0].color);
    }
    if (val) {
        fputs(train ? ", \\\n     " : "", f);
        gp_string(f, data);
        fprintf(f, " using 1:%d with %s lw 2 dt (7,4)%s lc rgb '%s' title 'validation'", col + 2, with,
                markers ? " pt 6 ps 0.8" : "", styles[1].color);
    }
    fputc('\n', f);
}

/* Data file (epoch, loss, accuracy, val_loss, val_accuracy; '?' for
 * missing) and the script that draws it into `out`. */
static bool write_gnuplot_files(FILE *data, FILE *script, const char *data_path, const cli_history *h,
                                const char *title, const char *out)
{
    for (size_t i = 0; i < h->count; i++) {
        const cli_epoch_point *p = &h->points[i];
        double v[4] = {p->loss, p->accuracy, p->val_loss, p->val_accuracy};
        fprintf(data, "%d", p->epoch);
        for (int k = 0; k < 4; k++) {
            if (isfinite(v[k])) fprintf(data, " %.17g", v[k]);
            else fputs(" ?", data);
        }
        fputc('\n', data);
    }
    double height = (title ? 76 : 44) + PLOT_H + BELOW_PLOT;
    bool with_val = series_present(h, false, true) || series_present(h, true, true);
    fprintf(script, "set terminal pngcairo size %d,%.0f noenhanced font 'DejaVu Sans,10'\nset output ", FIG_W, height);
    gp_string(script, out);
    fputs("\nset encoding utf8\nset datafile missing '?'\n", script);
    /* Margins as fractions of the figure, matching the SVG layout: room
     * for the title on top and for "Epoch" and the legend below. */
    fprintf(script, "set multiplot layout 1,2 margins %.3f,%.3f,%.3f,%.3f spacing %.3f",
            (double)PLOT_LEFT / FIG_W, 1.0 - (double)PLOT_RIGHT / FIG_W, (double)BELOW_PLOT / height,
            1.0 - (title ? 76.0 : 44.0) / height, (double)(PLOT_LEFT + PLOT_RIGHT) / FIG_W);
    if (title) {
        fputs(" title ", script);
        gp_string(script, title);
        fputs(" font ',14'", script);
    }
    fputs("\nset grid lt 1 dt solid lc rgb '#e3e3e3' lw 1\nset border 3 lc rgb '#333333'\nset tics nomirror out\n"
          "set xlabel 'Epoch'\n", script);
    /* One legend for both panels, centred under them (as in the SVG). */
    fprintf(script, "set key at screen 0.5, screen %.3f center horizontal width 2 samplen 3\n", 22.0 / height);
    gp_panel(script, h, data_path, false, with_val);
    fputs("unset key\n", script);
    gp_panel(script, h, data_path, true, with_val);
    fputs("unset multiplot\n", script);
    return fflush(data) == 0 && !ferror(data) && fflush(script) == 0 && !ferror(script);
}

static int run_gnuplot(const char *script_path, const char *out)
{
    char gnuplot[4096];
    if (!find_program("gnuplot", gnuplot, sizeof gnuplot)) return cli_plot_check_target("plot", out);
    char *argv[] = {gnuplot, (char *)script_path, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, gnuplot, NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "onnxc: error: %s: cannot start %s: %s\n", out, gnuplot, strerror(rc));
        return EXIT_BAD_INPUT;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return EXIT_BAD_INPUT;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "onnxc: error: %s: gnuplot failed (%s %d) drawing the plot\n", out,
                WIFEXITED(status) ? "exit status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return EXIT_BAD_INPUT;
    }
    return EXIT_OK;
}

static int save_png(const cli_history *h, const char *path, const char *title)
{
    int rc = cli_plot_check_target("plot", path);
    if (rc) return rc;
    const char *tmpdir = getenv("TMPDIR");
    char data_path[4096], script_path[4096], out_tmp[4096];
    snprintf(data_path, sizeof data_path, "%s/onnxc-plot-XXXXXX.dat", tmpdir && *tmpdir ? tmpdir : "/tmp");
    snprintf(script_path, sizeof script_path, "%s/onnxc-plot-XXXXXX.gp", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd_data = mkstemps(data_path, 4), fd_script = fd_data >= 0 ? mkstemps(script_path, 3) : -1;
    int fd_out = fd_script >= 0 ? temp_beside(path, ".png", out_tmp, sizeof out_tmp) : -1;
    FILE *data = fd_data >= 0 ? fdopen(fd_data, "w") : NULL;
    FILE *script = fd_script >= 0 ? fdopen(fd_script, "w") : NULL;
    rc = EXIT_BAD_INPUT;
    if (!data || !script || fd_out < 0)
        fprintf(stderr, "onnxc: error: %s: cannot create temporary files for gnuplot: %s\n", path, strerror(errno));
    else if (!write_gnuplot_files(data, script, data_path, h, title, out_tmp))
        fprintf(stderr, "onnxc: error: %s: cannot write temporary files for gnuplot: %s\n", path, strerror(errno));
    else
        rc = EXIT_OK;
    if (data) fclose(data);
    else if (fd_data >= 0) close(fd_data);
    if (script) fclose(script);
    else if (fd_script >= 0) close(fd_script);
    if (fd_out >= 0) close(fd_out);
    if (rc == EXIT_OK) rc = run_gnuplot(script_path, path);
    struct stat st;
    if (rc == EXIT_OK && (stat(out_tmp, &st) != 0 || st.st_size == 0)) {
        fprintf(stderr, "onnxc: error: %s: gnuplot wrote no image\n", path);
        rc = EXIT_BAD_INPUT;
    }
    if (fd_data >= 0) unlink(data_path);
    if (fd_script >= 0) unlink(script_path);
    if (rc == EXIT_OK) return commit(out_tmp, path);
    if (fd_out >= 0) unlink(out_tmp);
    return rc;
}

int cli_plot_write(const cli_history *h, const char *path, const char *title)
{
    if (!h->count) {
        fprintf(stderr, "onnxc: error: %s: no epochs to plot\n", path);
        return EXIT_BAD_INPUT;
    }
    if (has_suffix(path, ".png")) return save_png(h, path, title);
    if (has_suffix(path, ".svg")) return save_svg(h, path, title);
    return cli_plot_check_target("plot", path);
}
