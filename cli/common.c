#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_report(const onnxc_error *err)
{
    const char *line = err->message;
    if (!*line) fprintf(stderr, "onnxc: error: %s\n", onnxc_status_name(err->status));
    while (*line) {
        const char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        fprintf(stderr, "onnxc: error: %.*s\n", len, line);
        if (!nl) break;
        line = nl + 1;
    }
    return err->status == ONNXC_ERR_ARGUMENT ? EXIT_USAGE : EXIT_BAD_INPUT;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "onnxc %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'onnxc %s --help')\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return true;
    }
    return false;
}

bool cli_parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s) return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

int cli_load_model(const char *path, onnxc_model **out)
{
    onnxc_error err;
    if (onnxc_model_load(path, NULL, out, &err) != ONNXC_OK) return cli_report(&err);
    return EXIT_OK;
}
