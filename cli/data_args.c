/* --data DIR | --x X.npy --y Y.npy: parsing, validation and loading. */
#include "data_args.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_data_option(const char *cmd, int code, const char *value, cli_data_args *a)
{
    const char **slot = code == CLI_OPT_DATA ? &a->dir : code == CLI_OPT_X ? &a->x_path : &a->y_path;
    const char *name = code == CLI_OPT_DATA ? "--data" : code == CLI_OPT_X ? "--x" : "--y";
    if (*slot) return cli_usage_error(cmd, "%s is given twice", name);
    if (!*value) return cli_usage_error(cmd, "%s expects a path, got an empty string", name);
    *slot = value;
    return EXIT_OK;
}

int cli_data_validate(const char *cmd, const cli_data_args *a)
{
    bool npy = a->x_path || a->y_path;
    if (a->dir && npy) return cli_usage_error(cmd, "give either --data DIR or --x X.npy --y Y.npy, not both");
    if (!a->dir && !npy) return cli_usage_error(cmd, "no data: give --data DIR or --x X.npy --y Y.npy");
    if (npy && !a->x_path) return cli_usage_error(cmd, "--y needs --x X.npy as well");
    if (npy && !a->y_path) return cli_usage_error(cmd, "--x needs --y Y.npy as well");
    return EXIT_OK;
}

bool cli_data_has_split(const char *dir, const char *split)
{
    /* The same three spellings runtime/data_idx.c looks for. */
    static const char *const patterns[] = {"%s/%s-images-idx3-ubyte", "%s/%s-images-idx3-ubyte.gz",
                                           "%s/%s-images.idx3-ubyte"};
    char path[4096];
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        int n = snprintf(path, sizeof path, patterns[i], dir, split);
        struct stat sb;
        if (n > 0 && (size_t)n < sizeof path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) return true;
    }
    return false;
}

int cli_data_load(const cli_data_args *a, const char *split, onnxc_dataset **out)
{
    onnxc_error err;
    onnxc_status st = a->dir ? onnxc_dataset_load_idx(a->dir, split, out, &err)
                             : onnxc_dataset_load_npy(a->x_path, a->y_path, out, &err);
    if (st != ONNXC_OK) {
        *out = NULL;
        /* A file that cannot be read is bad input, even when the library
         * files it as an argument problem. */
        int rc = cli_report(&err);
        return rc == EXIT_USAGE ? EXIT_BAD_INPUT : rc;
    }
    return EXIT_OK;
}

void cli_data_describe(const cli_data_args *a, const char *split, char *buf, size_t size)
{
    if (a->dir) snprintf(buf, size, "%s (%s)", a->dir, split);
    else snprintf(buf, size, "%s, %s", a->x_path, a->y_path);
}
