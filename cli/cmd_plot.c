/* onnxc plot: training curves from an `onnxc train --log` file. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "plot.h"

static const char help[] =
    "usage: onnxc plot LOG.jsonl -o OUT.svg|OUT.png [--title TEXT]\n"
    "\n"
    "Draw loss and accuracy per epoch, training against validation, from a log\n"
    "written by 'onnxc train --log': two panels with axes, gridlines and a\n"
    "legend. When the log repeats an epoch (a run resumed from an earlier\n"
    "checkpoint), its last record is drawn.\n"
    "\n"
    "  -o, --output FILE   the figure, replaced atomically; .svg is written\n"
    "                      directly, .png is rendered by gnuplot, which must be\n"
    "                      on PATH (Debian package gnuplot-nox)\n"
    "  --title TEXT        title above the panels (default: the log's file name)\n";

enum { OPT_TITLE = 0x100 };

int cmd_plot(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"title", required_argument, 0, OPT_TITLE},
        {0, 0, 0, 0},
    };
    const char *out = NULL, *title = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (out) return cli_usage_error("plot", "-o is given twice");
            out = optarg;
            break;
        case OPT_TITLE: title = optarg; break;
        case ':': return cli_usage_error("plot", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("plot", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind == argc) return cli_usage_error("plot", "expected a LOG.jsonl argument");
    if (optind != argc - 1) return cli_usage_error("plot", "expected one LOG, got '%s' as well", argv[optind + 1]);
    if (!out || !*out) return cli_usage_error("plot", "missing -o OUT.svg");
    const char *log = argv[optind];
    int rc = cli_plot_check_target("plot", out);
    if (rc) return rc;
    if (!title) {
        const char *slash = strrchr(log, '/');
        title = slash ? slash + 1 : log;
    }
    cli_history h = {0};
    rc = cli_history_read(log, &h);
    if (!rc) rc = cli_plot_write(&h, out, *title ? title : NULL);
    if (!rc) printf("Wrote %s (%zu epochs)\n", out, h.count);
    cli_history_free(&h);
    return rc;
}
