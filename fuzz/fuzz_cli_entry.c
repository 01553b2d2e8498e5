/*
 * The command-line fuzz entry (see fuzz_entries.h): the input becomes an
 * argv, which runs in a fresh empty folder. With no files around and no
 * path able to reach outside the folder, every command fails fast at its
 * first file (no model, no data, no log) except `init`, which writes a
 * model into the folder; specs that would make that slow are refused.
 */
#define _GNU_SOURCE
#include "fuzz_entries.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnxc.h"
#include "spec.h"

/* `onnxc init SPEC` builds and writes the whole network: at most this many
 * parameters (1 MiB of floats). */
#define CLI_SPEC_MAX_PARAMS ((uint64_t)1 << 18)

void oc_fuzz_argv_free(oc_fuzz_argv *a)
{
    free(a->text);
    memset(a, 0, sizeof *a);
}

/* False when `arg` is a spec for a network past CLI_SPEC_MAX_PARAMS. */
static bool spec_is_small(const char *arg)
{
    oc_spec s;
    onnxc_error err;
    if (oc_spec_parse(arg, &s, &err) != ONNXC_OK) return true;
    uint64_t total = 0;
    int64_t in = s.input;
    for (int i = 0; i < s.n_layers && total <= CLI_SPEC_MAX_PARAMS; i++) {
        total += (uint64_t)in * (uint64_t)s.layers[i].units + (uint64_t)s.layers[i].units;
        in = s.layers[i].units;
    }
    oc_spec_free(&s);
    return total <= CLI_SPEC_MAX_PARAMS;
}

int oc_fuzz_cli_split(const uint8_t *data, size_t size, oc_fuzz_argv *out)
{
    memset(out, 0, sizeof *out);
    if (size == 0 || memchr(data, '/', size)) return -1;
    /* A trailing separator ends the last token rather than adding an empty one. */
    size_t n = size;
    if (data[n - 1] == '\0' || data[n - 1] == '\n') n--;
    out->text = malloc(n + 1);
    if (!out->text) return -1;
    memcpy(out->text, data, n);
    out->text[n] = '\0';
    out->argv[out->argc++] = "onnxc";
    char *tok = out->text;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && out->text[i] != '\0' && out->text[i] != '\n') continue;
        out->text[i] = '\0';
        if (out->argc > OC_FUZZ_CLI_MAX_ARGS || !strcmp(tok, "-") || !spec_is_small(tok)) {
            oc_fuzz_argv_free(out);
            return -1;
        }
        out->argv[out->argc++] = tok;
        tok = out->text + i + 1;
    }
    out->argv[out->argc] = NULL;
    return 0;
}

/* glibc's getopt keeps a pointer into the last argv it scanned (to resume a
 * cluster such as -abc) and only forgets it when optind is 0. The commands
 * set optind = 1 themselves, which is right for a process that parses one
 * command line, so a scan of an empty argv with optind = 0 clears that
 * state before each run. */
static void reset_getopt(void)
{
    char arg0[] = "onnxc";
    char *argv[] = {arg0, NULL};
    optind = 0;
    opterr = 0;
    while (getopt(1, argv, ":") != -1) {
    }
    optind = 1;
}

int oc_fuzz_cli(const uint8_t *data, size_t size, oc_fuzz_cli_fn run)
{
    oc_fuzz_argv a;
    if (oc_fuzz_cli_split(data, size, &a) != 0) return -1;

    static unsigned long runs;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/cli-%lu", oc_fuzz_tmpdir(), runs++);
    if (mkdir(dir, 0700) != 0) oc_fuzz_fail("cannot create %s: %s", dir, strerror(errno));
    int home = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (home < 0 || chdir(dir) != 0) oc_fuzz_fail("cannot enter %s: %s", dir, strerror(errno));

    FILE *null_out = fopen("/dev/null", "w");
    if (!null_out) oc_fuzz_fail("cannot open /dev/null: %s", strerror(errno));
    int saved_in = dup(STDIN_FILENO), null_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (saved_in < 0 || null_in < 0 || dup2(null_in, STDIN_FILENO) < 0)
        oc_fuzz_fail("cannot redirect stdin: %s", strerror(errno));
    close(null_in);
    fflush(stdout);
    fflush(stderr);
    FILE *saved_stdout = stdout, *saved_stderr = stderr;
    stdout = null_out;
    stderr = null_out;

    reset_getopt();
    int rc = run(a.argc, a.argv);

    fflush(null_out);
    stdout = saved_stdout;
    stderr = saved_stderr;
    fclose(null_out);
    dup2(saved_in, STDIN_FILENO);
    close(saved_in);
    if (fchdir(home) != 0) oc_fuzz_fail("cannot return from %s: %s", dir, strerror(errno));
    close(home);
    oc_fuzz_rmtree(dir);
    oc_fuzz_argv_free(&a);
    OC_FUZZ_CHECK(rc >= 0 && rc <= 2, "onnxc exited %d; expected 0, 1 or 2", rc);
    return 0;
}
