/*
 * Fuzz entries: one function per kind of untrusted input, shared by the
 * libFuzzer targets (fuzz/fuzz_*.c, clang -fsanitize=fuzzer) and the
 * regression test (tests/test_fuzz_regressions.c, the ordinary build), so a
 * saved crash input replays through exactly the code that found it.
 *
 *     fuzz_onnx   onnxc_model_load_memory, the query API, save + reload,
 *                 onnxc_model_check, plan and run on zero inputs when small
 *     fuzz_npy    .npy ("\x93NUMPY") or a serialized TensorProto (.pb)
 *     fuzz_idx    idx images/labels, plain (from memory) or gzip (a file)
 *     fuzz_keras  HDF5 / zip signature: the in-process Keras conversion,
 *                 then the ONNX entry on its output; any other bytes: the
 *                 Keras JSON model-config parser. With the environment
 *                 variable ONNXC_FUZZ_KERAS_SANDBOX set, the conversion
 *                 runs in a child process as onnxc_model_load_keras runs
 *                 it (scripts/fuzz.sh replays libhdf5's faults that way)
 *     fuzz_spec   dense-network specs: oc_spec_parse, the --arch parser of
 *                 weights-only Keras files, onnxc_model_from_spec
 *     fuzz_cli    the command line: argv split from the input, run in a
 *                 fresh empty folder (fuzz_cli_entry.c)
 *
 * Besides "no crash", each entry checks the library's contract: a failing
 * call returns a status other than ONNXC_OK with a non-empty message, and
 * what succeeds is consistent (a loaded model re-saves and loads again, a
 * parsed tensor's header round-trips, views cover their bytes). A broken
 * contract aborts with a message on stderr, which the fuzzer reports like
 * any other crash.
 *
 * Every entry returns 0 when the input reached the library and -1 when it
 * was refused up front (libFuzzer then leaves it out of the corpus). None
 * depends on libFuzzer.
 */
#ifndef OC_FUZZ_ENTRIES_H
#define OC_FUZZ_ENTRIES_H

#include <stddef.h>
#include <stdint.h>

int oc_fuzz_onnx(const uint8_t *data, size_t size);
int oc_fuzz_npy(const uint8_t *data, size_t size);
int oc_fuzz_idx(const uint8_t *data, size_t size);
int oc_fuzz_keras(const uint8_t *data, size_t size);
int oc_fuzz_spec(const uint8_t *data, size_t size);

/* The ONNX entry on bytes the library made itself (a Keras conversion, a
 * spec): these must load and pass onnxc_model_check. */
void oc_fuzz_onnx_trusted(const void *data, size_t size, const char *what);

/* ------------------------------------------------------------------------ */
/* Command line                                                              */

/* Arguments after the program name, at most. */
#define OC_FUZZ_CLI_MAX_ARGS 16

typedef struct oc_fuzz_argv {
    int argc;
    char *argv[OC_FUZZ_CLI_MAX_ARGS + 2];   /* "onnxc", the tokens, NULL */
    char *text;                             /* malloc'd storage of the tokens */
} oc_fuzz_argv;

/*
 * Split `data` into argv: tokens separated by NUL or newline, the first
 * one naming the command. Refuses (-1) inputs a run must not see: more than
 * OC_FUZZ_CLI_MAX_ARGS tokens, a '/' anywhere (no path can leave the run's
 * empty folder), an argument that is exactly "-" (stdin), and specs that
 * would make `onnxc init` build a large network. 0: *out is filled; free
 * with oc_fuzz_argv_free.
 */
int oc_fuzz_cli_split(const uint8_t *data, size_t size, oc_fuzz_argv *out);
void oc_fuzz_argv_free(oc_fuzz_argv *a);

/* Runs one command line: argv[0] is "onnxc". */
typedef int (*oc_fuzz_cli_fn)(int argc, char **argv);

/*
 * Split `data` and call `run` with the current folder set to a fresh empty
 * one (removed afterwards), stdin from /dev/null and the stdout / stderr
 * streams pointed at /dev/null (the FILE pointers only, so a sanitizer
 * report still reaches file descriptor 2). getopt is reset first. Returns
 * -1 for a refused input, else 0.
 */
int oc_fuzz_cli(const uint8_t *data, size_t size, oc_fuzz_cli_fn run);

/* ------------------------------------------------------------------------ */
/* Shared plumbing                                                           */

/* A folder for this process's scratch files ($TMPDIR or /tmp), created on
 * first use and removed at exit. Aborts when it cannot be made. */
const char *oc_fuzz_tmpdir(void);

/* Remove a folder tree (no symlinks followed); missing is fine. */
void oc_fuzz_rmtree(const char *path);

/* Abort with a message: a broken library contract. */
void oc_fuzz_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

#define OC_FUZZ_CHECK(cond, ...)                     \
    do {                                             \
        if (!(cond)) oc_fuzz_fail(__VA_ARGS__);      \
    } while (0)

#endif
