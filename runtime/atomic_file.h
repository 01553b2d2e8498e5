/*
 * Crash-safe file replacement: write a temporary file "<path>.tmp.XXXXXX" in
 * the destination's folder, fsync it, rename it over the destination and
 * fsync the folder. A crash, SIGKILL or error at any point leaves either the
 * complete old file or the complete new one at `path`, never a mix.
 *
 * Temporaries: the writer holds an exclusive flock(2) on its temporary from
 * creation to rename. A writer killed mid-save (SIGKILL, power loss) leaves
 * its temporary behind, unlocked; the next oc_atomic_open for the same
 * `path` removes every "<path>.tmp.XXXXXX" (exactly six letters or digits)
 * that no live process holds locked. Temporaries of a writer still running,
 * in this process or another, are left alone.
 */
#ifndef OC_ATOMIC_FILE_H
#define OC_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "onnxc.h"

typedef struct oc_atomic_file {
    FILE *fp;                 /* write through this */
    char *final_path;
    char *tmp_path;
    int dir_fd;               /* the destination's folder (fsync after rename) */
    bool dir_open;            /* dir_fd is valid (a zeroed struct has none) */
} oc_atomic_file;

onnxc_status oc_atomic_open(oc_atomic_file *f, const char *path, onnxc_error *err);
/* Flush, fsync, rename, fsync the folder; on any failure the temporary is
 * removed, `path` keeps its old contents and the message names `path`. */
onnxc_status oc_atomic_commit(oc_atomic_file *f, onnxc_error *err);
/* Abandon: remove the temporary file. Safe after commit or on a zeroed struct. */
void oc_atomic_abort(oc_atomic_file *f);
/* A write into f failed with errno `errnum`: abandon the temporary and
 * return ONNXC_ERR_IO with "<path>: write failed: <reason>; the old file is
 * kept" (for a full disk: "No space left on device", "File too large"). */
onnxc_status oc_atomic_fail(oc_atomic_file *f, int errnum, onnxc_error *err);

/* Convenience: atomically replace `path` with `size` bytes. */
onnxc_status oc_atomic_write(const char *path, const void *data, size_t size, onnxc_error *err);

/* Remove unlocked "<path>.tmp.XXXXXX" files left by killed writers (what
 * oc_atomic_open does first). Best effort: errors are ignored. */
void oc_atomic_clean_stale(const char *path);

#endif
