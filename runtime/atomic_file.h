/*
 * Crash-safe file replacement: write a temporary file in the destination's
 * folder, fsync it, rename it over the destination and fsync the folder. A
 * crash or error at any point leaves either the old file or the new one.
 */
#ifndef OC_ATOMIC_FILE_H
#define OC_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "onnxc.h"

typedef struct oc_atomic_file {
    FILE *fp;                 /* write through this */
    char *final_path;
    char *tmp_path;
} oc_atomic_file;

onnxc_status oc_atomic_open(oc_atomic_file *f, const char *path, onnxc_error *err);
/* Flush, fsync, rename; on any failure the temporary is removed. */
onnxc_status oc_atomic_commit(oc_atomic_file *f, onnxc_error *err);
/* Abandon: remove the temporary file. Safe after commit or on a zeroed struct. */
void oc_atomic_abort(oc_atomic_file *f);

/* Convenience: atomically replace `path` with `size` bytes. */
onnxc_status oc_atomic_write(const char *path, const void *data, size_t size, onnxc_error *err);

#endif
