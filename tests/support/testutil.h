/*
 * Plumbing for end-to-end tests: temporary folders, files, folder listings,
 * running a program (the onnxc CLI, python, node) and capturing its exit
 * code and output, and a small independent .npy reader/writer.
 *
 *     char *dir = tu_tmpdir("roundtrip");
 *     char *out = tu_path("%s/out.onnx", dir);
 *     tu_proc p;
 *     tu_run((const char *[]){ONNXC_CLI, "convert", in, "-o", out, NULL}, 120, &p);
 *     cr_assert_eq(p.status, 0, "onnxc convert exited %d: %s", p.status, p.err);
 *     tu_proc_free(&p);
 *     tu_rmtree(dir);
 *
 * Everything returned is malloc'd and owned by the caller. Allocation
 * failures abort (this is test code; there is nothing sensible to recover).
 * The .npy code is written from the numpy format description, not shared with
 * the library, so it can judge the library's own .npy files.
 */
#ifndef ONNXC_TEST_TESTUTIL_H
#define ONNXC_TEST_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TU_SANITIZED: this test is built with AddressSanitizer (GCC or clang). */
#if defined(__SANITIZE_ADDRESS__)
#define TU_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_SANITIZED 1
#endif
#endif

#include "onnxc.h"

#if defined(__GNUC__)
#define TU_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TU_PRINTF(a, b)
#endif

/* printf into a new string. */
char *tu_path(const char *fmt, ...) TU_PRINTF(1, 2);
char *tu_strdup(const char *s);

/* A new empty folder $TMPDIR/onnxc-<tag>-XXXXXX (TMPDIR default /tmp). */
char *tu_tmpdir(const char *tag);
/* Remove a folder and everything under it (no symlinks followed). */
void tu_rmtree(const char *path);

bool tu_exists(const char *path);
bool tu_is_dir(const char *path);
/* File size in bytes, or -1 when it cannot be stat'ed. */
int64_t tu_file_size(const char *path);
/* Whole file into a new buffer (NUL-terminated beyond *size). */
bool tu_read_file(const char *path, void **data, size_t *size);
bool tu_write_file(const char *path, const void *data, size_t size);

/* Entries of `dir` whose names end in `suffix` ("" for all; "." and ".."
 * never), as full paths sorted by name. *count gets the number. */
char **tu_list(const char *dir, const char *suffix, size_t *count);
void tu_list_free(char **list, size_t count);
/* Entries of `dir` ("." and ".." not counted). */
size_t tu_count_files(const char *dir);

/* A file's bytes, kept to compare the file with later (saves that must
 * leave the old version intact). tu_blob_read aborts when the file cannot
 * be read; free b.data. */
typedef struct tu_blob {
    void *data;
    size_t size;
} tu_blob;
tu_blob tu_blob_read(const char *path);
/* Does the file at `path` hold exactly these bytes? (false: unreadable) */
bool tu_blob_matches(const tu_blob *b, const char *path);

/* File name without folder and without `suffix` (when it ends in it). */
char *tu_basename(const char *path, const char *suffix);

/* A program found in $PATH (or an explicit path that is executable). */
bool tu_have_program(const char *name);

typedef struct tu_proc {
    int status;   /* exit code; 128 + signal when killed; 127 when exec failed */
    char *out;    /* everything written to stdout */
    char *err;    /* everything written to stderr */
} tu_proc;

/*
 * Run argv[0] (looked up in $PATH) with argv (NULL-terminated), stdin from
 * /dev/null, stdout and stderr captured. The child is killed after
 * `timeout_s` seconds (0: no limit). Returns p->status == 0.
 */
bool tu_run(const char *const *argv, unsigned timeout_s, tu_proc *p);
void tu_proc_free(tu_proc *p);
/* "onnxc run a.onnx -i x.npy" — the command line for messages. */
char *tu_argv_str(const char *const *argv);

/*
 * Test cases made by a Python script: runs `/usr/bin/python3 SCRIPT DIR`
 * for a new tu_tmpdir(tag) and returns DIR (free it; remove it with
 * tu_rmtree). On failure returns NULL with the script's exit status and
 * stderr in why.
 */
char *tu_generate(const char *script, const char *tag, unsigned timeout_s, char *why,
                  size_t why_size);

/* A generated case's array DIR/NAME.SUFFIX.npy, read with tu_npy_read. */
bool tu_case_npy(const char *dir, const char *name, const char *suffix, onnxc_tensor *out,
                 char *why, size_t why_size);

/* A [rows, features] float batch uniform in [-1, 1) and int64 labels in
 * [0, classes), from a fixed seed; data malloc'd (free both). */
void tu_random_batch(int rows, int features, int classes, onnxc_tensor *x, onnxc_tensor *y);

/* The model's initializer `name` (a view of the model's storage), or false. */
bool tu_initializer(const onnxc_model *m, const char *name, onnxc_tensor *out);
/* Every initializer's bytes, concatenated, in a malloc'd buffer (free it):
 * two models whose weights are bit for bit the same give the same bytes. */
bool tu_weight_bytes(const onnxc_model *m, char **data, size_t *size);

/*
 * .npy (format 1.0-3.0, C order) for dtypes float32/64, int8/16/32/64,
 * uint8/16/32/64 and bool. tu_npy_read fills *out (data malloc'd; free with
 * free()) or returns false with the reason in `why`.
 */
bool tu_npy_read(const char *path, onnxc_tensor *out, char *why, size_t why_size);
bool tu_npy_write(const char *path, const onnxc_tensor *t);

/* Deterministic random numbers (splitmix64). */
typedef struct tu_rng {
    uint64_t state;
} tu_rng;
uint64_t tu_rng_next(tu_rng *r);
/* Uniform in [lo, hi). */
double tu_rng_uniform(tu_rng *r, double lo, double hi);
/* FNV-1a hash of a string, for per-model seeds. */
uint64_t tu_hash(const char *s);

#endif
