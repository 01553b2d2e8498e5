/*
 * Safe, read-only access to an HDF5 file through libhdf5 for the Keras
 * importer. Paths are walked one link at a time: hard links are followed,
 * soft links at most OC_H5_MAX_SOFT_HOPS deep (a cycle is an error), and
 * external or user-defined links are refused, never followed. Datasets that
 * keep their data outside the file (external storage, virtual datasets) or
 * need a filter plugin are refused; sizes are checked against the limits
 * before anything is allocated. Every libhdf5 return value is checked, so
 * truncated or corrupted files end in an error, not a crash.
 *
 * libhdf5 1.10 is still not memory-safe on every corrupted file (it trusts
 * some lengths it reads), which is why keras_sandbox.c runs all of this in a
 * child process.
 *
 * libhdf5 is not thread-safe and prints errors by default: callers hold
 * oc_h5_enter() / oc_h5_leave() around all use (a process-wide lock that
 * also silences the library's automatic error printing).
 */
#ifndef OC_KERAS_HDF5_H
#define OC_KERAS_HDF5_H

#include <hdf5.h>
#include <stdbool.h>

#include "keras_internal.h"

#define OC_H5_MAX_SOFT_HOPS 8

typedef struct oc_h5 {
    hid_t file;                       /* H5I_INVALID_HID when closed */
    const char *label;                /* file name for messages (borrowed) */
    uint64_t file_size;               /* bytes of the file or image */
    onnxc_limits limits;
    uint64_t total_bytes;             /* weight bytes read so far */
    void *image;                      /* in-memory file (borrowed), or NULL */
    size_t image_size;
} oc_h5;

void oc_h5_enter(void);
void oc_h5_leave(void);
/* Around fork(): the parent holds the lock so no thread is inside libhdf5
 * while the process is copied; the child gets a fresh lock. */
void oc_h5_fork_prepare(void);
void oc_h5_fork_parent(void);
void oc_h5_fork_child(void);

/* Open an in-memory file image read-only without copying it; `image` must
 * stay alive until oc_h5_close. `label` names it in messages. Checks the
 * global heaps first (see scan_heaps in keras_hdf5.c). */
onnxc_status oc_h5_open_image(oc_h5 *h, void *image, size_t size, const char *label,
                              const onnxc_limits *limits, onnxc_error *err);
/* Close the file and any handle still open in it. Safe on a closed one. */
void oc_h5_close(oc_h5 *h);

/* Open the group or dataset at `path` (relative to `loc`, or absolute).
 * *missing (may be NULL) is set and ONNXC_OK returned with *out invalid
 * when some component does not exist; without `missing` that is an error.
 * Close *out with H5Oclose. */
onnxc_status oc_h5_open(oc_h5 *h, hid_t loc, const char *path, hid_t *out, bool *missing,
                        onnxc_error *err);

/* The strings of attribute `name` of `obj` (fixed- or variable-length, any
 * character set; an empty attribute of any type gives none). *found is false
 * when there is no such attribute. Free with oc_h5_free_strings. `where`
 * names obj in messages. */
onnxc_status oc_h5_attr_strings(oc_h5 *h, hid_t obj, const char *where, const char *name,
                                char ***out, size_t *n, bool *found, onnxc_error *err);
void oc_h5_free_strings(char **s, size_t n);

/* Names of the links in group `g` (at most 1 << 20). */
onnxc_status oc_h5_list(oc_h5 *h, hid_t g, const char *where, char ***names, size_t *n,
                        onnxc_error *err);

/* Read the float dataset at `path` (relative to loc) into w->data as native
 * floats; fills rank, dims and source (`shown`, the path in messages).
 * Refuses non-float types, non-finite values and sizes past the limits. */
onnxc_status oc_h5_read_floats(oc_h5 *h, hid_t loc, const char *path, const char *shown,
                               oc_kweight *w, onnxc_error *err);

/*
 * keras_weights.c: load every leaf's weights (l->w[k].data) from
 *   - a legacy h5 layout: `root` is the model_weights group (full model) or
 *     the file root (save_weights), `root_path` its name for messages;
 *     groups per top-level layer with weight_names attributes;
 *   - the Keras 3 weights store (.keras model.weights.h5, *.weights.h5):
 *     layers/<auto_name>/vars/<i>.
 * Weights are matched by name where the file has names, by order for
 * models from an --arch spec; any weight left over is an error.
 */
onnxc_status oc_keras_weights_legacy(oc_h5 *h, hid_t root, const char *root_path, oc_kmodel *m,
                                     onnxc_error *err);
onnxc_status oc_keras_weights_store(oc_h5 *h, oc_kmodel *m, onnxc_error *err);

#endif
