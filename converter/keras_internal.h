/*
 * Shared by the Keras import files:
 *
 *   keras_config.c   JSON model config -> flat list of leaf layers (oc_kmodel)
 *   keras_hdf5.c     safe libhdf5 access: no links to other files, limits
 *   keras_weights.c  find each layer's weights in the three file layouts
 *   keras_zip.c      .keras zip entries into memory
 *   keras_convert.c  the steps above, shapes, the builder (in this process)
 *   keras_sandbox.c  oc_keras_to_onnx: keras_convert.c in a child process
 *
 * A model is flattened to its leaf layers in execution order: nested
 * Sequential / functional models are inlined, functional models must form a
 * chain. Each leaf remembers where its weights live in either layout.
 */
#ifndef OC_KERAS_INTERNAL_H
#define OC_KERAS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dense_builder.h"
#include "onnxc.h"

typedef enum oc_kl_kind {
    OC_KL_INPUT,          /* InputLayer of a nested model: nothing to do */
    OC_KL_DENSE,
    OC_KL_ACTIVATION,     /* Activation, ReLU, LeakyReLU, Softmax, ELU */
    OC_KL_FLATTEN,
    OC_KL_RESHAPE,
    OC_KL_IDENTITY,       /* Dropout and friends: identity at inference */
    OC_KL_BATCHNORM
} oc_kl_kind;

#define OC_KL_MAX_WEIGHTS 4

typedef struct oc_kweight {
    const char *role;                 /* "kernel", "bias", "gamma", ... (static) */
    float *data;                      /* oc_malloc'd once loaded */
    int rank;
    int64_t dims[ONNXC_MAX_RANK];
    char *source;                     /* dataset path, for messages */
} oc_kweight;

typedef struct oc_klayer {
    oc_kl_kind kind;
    char *name;                       /* the config's layer name */
    char *class_name;
    char *h5_group;                   /* legacy h5: top-level layer group holding the weights */
    char *store_path;                 /* Keras 3 weights store: "layers/dense", nested
                                       * "layers/sequential/layers/dense" */
    char *store_alt;                  /* same under "_layer_checkpoint_dependencies" (tf.keras 2.1x) */
    oc_act act;                       /* DENSE, ACTIVATION */
    int64_t units;                    /* DENSE */
    bool use_bias;                    /* DENSE */
    bool channels_first;              /* FLATTEN */
    int rank;                         /* RESHAPE target rank */
    int64_t target[ONNXC_MAX_RANK];   /* RESHAPE target (no batch dim), may hold -1 */
    int64_t axis;                     /* BATCHNORM axis as configured (may be negative) */
    float epsilon;                    /* BATCHNORM */
    bool center, scale;               /* BATCHNORM */
    int n_weights;                    /* roles the layer needs, in file order */
    oc_kweight w[OC_KL_MAX_WEIGHTS];
} oc_klayer;

typedef struct oc_kmodel {
    char *name;                       /* top-level model name, or NULL */
    char *input_name;                 /* InputLayer name, or NULL */
    int in_rank;                      /* dims after the batch dim; -1: unknown */
    int64_t in_dims[ONNXC_MAX_RANK];  /* -1: None */
    oc_klayer *layers;
    size_t n_layers, cap_layers;
    bool from_spec;                   /* layers come from --arch: match weights by order */
} oc_kmodel;

void oc_kmodel_free(oc_kmodel *m);

/* Append a zeroed leaf layer; NULL when out of memory. */
oc_klayer *oc_kmodel_add(oc_kmodel *m);

/* Fill layer->n_weights and the roles from kind / use_bias / center / scale. */
void oc_klayer_set_roles(oc_klayer *l);

/*
 * keras_config.c. Parse a model config (HDF5 model_config or .keras
 * config.json). `what` names the source in messages ("x.h5: model_config").
 * Checks UTF-8 and nesting depth before json-c sees the text. Unconvertible
 * layers are all reported, one per line (ONNXC_ERR_UNSUPPORTED).
 */
onnxc_status oc_keras_parse_config(const char *json, size_t len, const char *what,
                                   oc_kmodel *out, onnxc_error *err);

/* Config walking state shared by keras_config.c and keras_layers.c. */
struct json_object;
typedef struct oc_kcfg {
    const char *what;                 /* message prefix source, e.g. "x.h5: model_config" */
    onnxc_error *err;
    onnxc_status status;              /* first problem's status, ONNXC_OK if none */
    oc_kmodel *m;
    int leaves;                       /* leaf layers seen so far */
} oc_kcfg;

/* Record one problem (a line of the final message). */
void oc_kcfg_problem(oc_kcfg *c, onnxc_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* keras_layers.c: fill leaf `l` (name, class and paths set) from the
 * layer's config object; problems go to c. `top` is true for layers of the
 * outermost model, whose first InputLayer gives the graph input. */
void oc_keras_parse_leaf(oc_kcfg *c, oc_klayer *l, struct json_object *cfg, bool top);

/* Read a Keras shape list ([null, 28, 28]) into rank / dims after the batch
 * dim (-1 for null). False when malformed. */
bool oc_keras_shape(struct json_object *arr, int *rank, int64_t *dims);

/* Build a model of Dense layers named dense, dense_1, ... from an --arch
 * spec, for weights-only files. */
onnxc_status oc_keras_model_from_spec(const char *spec, oc_kmodel *out, onnxc_error *err);

/* keras_convert.c: the whole conversion in this process (what
 * oc_keras_to_onnx runs in a child process; see keras_sandbox.c). Same
 * contract as oc_keras_to_onnx. */
onnxc_status oc_keras_convert_local(const char *path, const char *arch_spec, const onnxc_limits *limits,
                                    void **onnx, size_t *size, onnxc_error *err);

/* keras_zip.c: the parts of a Keras 3 .keras zip that onnxc reads. */
typedef struct oc_kzip {
    char *config;                     /* config.json, NUL-terminated */
    size_t config_len;
    void *weights;                    /* model.weights.h5 image */
    size_t weights_len;
} oc_kzip;

/* Read config.json and model.weights.h5 into memory. Refuses archives with
 * unsafe entry names ("..", absolute), duplicate or encrypted entries,
 * sizes past the limits and entries whose data does not match their
 * recorded size or CRC. */
onnxc_status oc_keras_zip_read(const void *data, size_t size, const char *path,
                               const onnxc_limits *limits, oc_kzip *out, onnxc_error *err);
void oc_kzip_free(oc_kzip *z);

/* Strict UTF-8 check (no overlongs, surrogates or code points past
 * U+10FFFF, no NUL). Returns the byte offset of the first bad byte, or
 * (size_t)-1 when valid. */
size_t oc_utf8_check(const char *s, size_t len);

/* Keras' to_snake_case of a class name: "BatchNormalization" ->
 * "batch_normalization", "LeakyReLU" -> "leaky_re_lu". Writes at most
 * size bytes with the NUL. */
void oc_keras_snake_case(const char *cls, char *out, size_t size);

#endif
