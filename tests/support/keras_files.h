/*
 * Writing small Keras files the way Keras writes them (through h5py and
 * zipfile), for the Keras importer's tests (test_keras.c) and the fuzzers'
 * seed corpus (fuzz/make_seeds.c).
 *
 *   legacy .h5   @model_config (and keras_version, backend) on the root,
 *                layer groups with `weight_names` under "model_weights"
 *                (a whole-model file) or the root (save_weights);
 *   weights store  Keras 3's model.weights.h5: PATH/vars/0, PATH/vars/1 ...
 *   .keras       a zip of metadata.json, config.json, model.weights.h5.
 *
 * Strings are h5py's: fixed-length NUL-padded (numpy 'S', Keras 2.0) or
 * variable-length UTF-8 (`vlen`). These are fixtures: a libhdf5 or libzip
 * call that fails prints what failed and aborts (a test then crashes, which
 * Criterion reports as a failure).
 */
#ifndef ONNXC_TEST_KERAS_FILES_H
#define ONNXC_TEST_KERAS_FILES_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>

hid_t kf_create(const char *path);
/* A scalar string attribute. */
void kf_attr_text(hid_t obj, const char *name, const char *text, bool vlen);
/* A 1-D string array attribute; an empty list is written as h5py writes
 * Keras' empty weight_names: a float array of length 0. */
void kf_attr_list(hid_t obj, const char *name, const char *const *items, size_t n, bool vlen);
/* A group (intermediate groups created); close it with H5Gclose. */
hid_t kf_group(hid_t loc, const char *path);
/* A float32 dataset [dims] (rank 0: a scalar). */
void kf_dataset(hid_t loc, const char *path, int rank, const hsize_t *dims, const float *data);

/* One weight of a layer group: its name (a path inside the group). */
typedef struct kf_weight {
    const char *name;
    int rank;
    hsize_t dims[2];
    const float *data;
} kf_weight;

typedef struct kf_layer {
    const char *name;
    int n;
    kf_weight w[4];
} kf_layer;

/* Legacy layout: `config` (NULL: a save_weights file) on the root, the
 * layer groups under `root` ("model_weights", or "" for the file root). */
void kf_write_legacy(const char *path, const char *config, const char *root, const kf_layer *layers,
                     int n_layers, bool vlen);

/* Keras 3 weights store: for each i, paths[i]/vars/k holds vars[i][k],
 * k < n_vars[i], plus the empty top-level "vars" group Keras writes. */
void kf_write_store(const char *path, const char *const *paths, const kf_weight *const *vars,
                    const int *n_vars, int n);

/* A .keras zip: metadata.json, `config` as config.json, the file
 * `weights_file` (NULL: none) as model.weights.h5, and an entry named
 * `extra` (NULL: none) holding "x". */
void kf_write_zip(const char *path, const char *config, const char *weights_file, const char *extra);

#endif
