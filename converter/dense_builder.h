/*
 * Builds the serialized ONNX ModelProto of a dense network in the tf2onnx
 * layout, the way tf2onnx writes a Keras Sequential model:
 *
 *   input "<input>" FLOAT [N, d1, ...]        (N symbolic, "unk__k" for unknown dims)
 *   Reshape(x, "<layer>/shape" = [-1, ...])   Flatten / Reshape layers
 *   MatMul(x, "<layer>/kernel" [in, out])     Dense ...
 *   Add(.., "<layer>/bias" [out])             ... unless use_bias is false
 *   Relu / Sigmoid / Softmax(axis=-1) / ...   the activation, if not linear
 *   BatchNormalization(x, gamma, beta, mean, var)
 *   output named after the last layer
 *
 * opset 13 (default domain), ir_version 7, producer "onnxc" <version>.
 * Node names are "<layer>/<Op>", node outputs "<layer>/<Op>:0".
 *
 * The builder borrows the caller's weight arrays (they are copied once, into
 * the packed bytes) and checks that every layer fits the running shape.
 */
#ifndef OC_DENSE_BUILDER_H
#define OC_DENSE_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "onnxc.h"

typedef enum oc_act_kind {
    /* The activations onnxc_model_from_spec accepts, in this order. */
    OC_ACT_LINEAR,
    OC_ACT_RELU,
    OC_ACT_SIGMOID,
    OC_ACT_TANH,
    OC_ACT_SOFTMAX,
    OC_ACT_ELU,
    OC_ACT_SELU,
    OC_ACT_SOFTPLUS,
    OC_ACT_GELU,          /* exact form: x * 0.5 * (1 + Erf(x / sqrt 2)) */
    /* Only reachable from Keras layers and activation strings. */
    OC_ACT_LEAKY_RELU,    /* alpha */
    OC_ACT_CLIP,          /* ReLU(max_value): Clip(x, 0, max) */
    OC_ACT_SWISH,         /* x * Sigmoid(x) (Keras "swish" / "silu") */
    OC_ACT_SOFTSIGN,
    OC_ACT_EXPONENTIAL,
    OC_ACT_LOG_SOFTMAX,
    OC_ACT_COUNT
} oc_act_kind;

/* Number of leading oc_act_kind values that a spec may name. */
#define OC_ACT_SPEC_COUNT (OC_ACT_GELU + 1)

typedef struct oc_act {
    oc_act_kind kind;
    float alpha;          /* ELU (default 1), LEAKY_RELU (Keras default 0.3) */
    float max;            /* CLIP upper bound */
    int64_t axis;         /* SOFTMAX, LOG_SOFTMAX; default -1 */
} oc_act;

/* Name used by Keras and specs ("relu"), for messages. Static string. */
const char *oc_act_name(oc_act_kind kind);

/* Keras activation string -> act with Keras defaults. Accepts the aliases
 * Keras accepts ("silu" for swish, "None"-free: NULL means linear).
 * Returns false for names it does not know. */
bool oc_act_parse(const char *name, oc_act *act);

typedef enum oc_db_kind {
    OC_DB_DENSE,          /* MatMul + Add + activation */
    OC_DB_ACTIVATION,     /* activation only */
    OC_DB_RESHAPE,        /* Reshape to [-1, shape...] */
    OC_DB_BATCHNORM       /* inference batch normalization */
} oc_db_kind;

typedef struct oc_db_layer {
    oc_db_kind kind;
    const char *name;                 /* prefixes node and initializer names */
    oc_act act;                       /* DENSE (after the bias), ACTIVATION */
    /* DENSE: in = the last dim of the running shape. */
    int64_t units;
    const float *kernel;              /* [in, units] */
    const float *bias;                /* [units], or NULL: no Add node */
    /* RESHAPE: the dims after the batch dim; at most one -1. */
    int rank;
    int64_t shape[ONNXC_MAX_RANK - 1];
    /* BATCHNORM: channel axis counted with the batch dim, so >= 1. Axis 1
     * becomes a BatchNormalization node; the last axis of a rank > 2 value
     * becomes Mul + Add with the folded per-channel scale and shift
     * (BatchNormalization normalizes axis 1 only). */
    int axis;
    float epsilon;
    const float *gamma;               /* [C], or NULL: ones (scale=False) */
    const float *beta;                /* [C], or NULL: zeros (center=False) */
    const float *mean;                /* [C] moving mean */
    const float *var;                 /* [C] moving variance */
} oc_db_layer;

typedef struct oc_db_model {
    const char *graph_name;           /* NULL: "onnxc" */
    const char *input_name;           /* NULL: "input" */
    const char *output_name;          /* NULL: the last layer's name */
    const char *doc_string;           /* NULL: none */
    int in_rank;                      /* dims after the batch dim, >= 1 */
    int64_t in_dims[ONNXC_MAX_RANK - 1]; /* -1: unknown (symbolic in the file) */
    const oc_db_layer *layers;
    size_t n_layers;
} oc_db_model;

/*
 * Build and serialize. On success *bytes is oc_malloc'd (caller frees with
 * oc_free) and *size its length. Errors name the layer: a Dense whose input
 * width is unknown, a Reshape whose element count does not match, ...
 */
onnxc_status oc_db_build(const oc_db_model *m, void **bytes, size_t *size, onnxc_error *err);

#endif
