/*
 * onnxc — read, run, train and write ONNX models on the CPU.
 *
 * Usage:
 *
 *     onnxc_error err;
 *     onnxc_model *model = NULL;
 *     onnxc_session *sess = NULL;
 *     if (onnxc_model_load("mnist.onnx", NULL, &model, &err) != ONNXC_OK ||
 *         onnxc_session_create(model, NULL, &sess, &err) != ONNXC_OK) {
 *         fprintf(stderr, "%s\n", err.message);
 *         ...
 *     }
 *     float x[3 * 784] = {0};
 *     onnxc_tensor in = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {3, 784}, .data = x};
 *     onnxc_tensor out = {0};                 // data == NULL: session-owned result
 *     onnxc_session_run(sess, &in, 1, &out, 1, &err);
 *     // out.data points at [3, 10] floats, valid until the next run or free
 *     onnxc_session_free(sess);
 *     onnxc_model_free(model);
 *
 * Conventions:
 *   - Every fallible function returns an onnxc_status and, when `err` is not
 *     NULL, writes a message naming the file, node or tensor involved, what was
 *     expected and what was found. Several independent problems are reported
 *     one per line. The library never exits, aborts or prints on bad input.
 *   - Handles are opaque. Each `_create`/`_load` has a matching `_free`, and
 *     `_free(NULL)` is a no-op.
 *   - Strings and arrays returned by query functions are owned by the handle
 *     they came from and stay valid until it is freed, unless stated otherwise.
 */
#ifndef ONNXC_H
#define ONNXC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared here is the library's exported interface. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define ONNXC_VERSION_MAJOR 0
#define ONNXC_VERSION_MINOR 1
#define ONNXC_VERSION_PATCH 0

/* Version of the library actually linked, "MAJOR.MINOR.PATCH". Static string. */
const char *onnxc_version(void);

/* ------------------------------------------------------------------------ */
/* Status and errors                                                         */

typedef enum onnxc_status {
    ONNXC_OK = 0,
    ONNXC_ERR_ARGUMENT,     /* caller passed something invalid (NULL, bad count) */
    ONNXC_ERR_IO,           /* a file could not be opened, read or written */
    ONNXC_ERR_PARSE,        /* bytes are not a well-formed protobuf / npy / json ... */
    ONNXC_ERR_MODEL,        /* well-formed, but the model is not valid ONNX */
    ONNXC_ERR_UNSUPPORTED,  /* valid ONNX that onnxc does not implement */
    ONNXC_ERR_LIMIT,        /* a configured safety limit was exceeded */
    ONNXC_ERR_SHAPE,        /* a tensor's dtype or shape does not fit */
    ONNXC_ERR_RUNTIME,      /* a kernel failed on the data (index out of range, ...) */
    ONNXC_ERR_NOMEM,        /* an allocation failed */
    ONNXC_ERR_NUMERIC       /* NaN or Inf where a finite value is required */
} onnxc_status;

#define ONNXC_ERROR_MESSAGE_SIZE 8192

/* Filled by failing calls. Several problems are separated by '\n'. */
typedef struct onnxc_error {
    onnxc_status status;
    char message[ONNXC_ERROR_MESSAGE_SIZE];
} onnxc_error;

/* Short constant name of a status, e.g. "parse error". Static string. */
const char *onnxc_status_name(onnxc_status status);

/* ------------------------------------------------------------------------ */
/* Element types: the values of ONNX TensorProto.DataType.                   */

typedef enum onnxc_dtype {
    ONNXC_UNDEFINED = 0,
    ONNXC_FLOAT = 1,
    ONNXC_UINT8 = 2,
    ONNXC_INT8 = 3,
    ONNXC_UINT16 = 4,
    ONNXC_INT16 = 5,
    ONNXC_INT32 = 6,
    ONNXC_INT64 = 7,
    ONNXC_STRING = 8,
    ONNXC_BOOL = 9,
    ONNXC_FLOAT16 = 10,
    ONNXC_DOUBLE = 11,
    ONNXC_UINT32 = 12,
    ONNXC_UINT64 = 13,
    ONNXC_COMPLEX64 = 14,
    ONNXC_COMPLEX128 = 15,
    ONNXC_BFLOAT16 = 16,
    ONNXC_FLOAT8E4M3FN = 17,
    ONNXC_FLOAT8E4M3FNUZ = 18,
    ONNXC_FLOAT8E5M2 = 19,
    ONNXC_FLOAT8E5M2FNUZ = 20,
    ONNXC_UINT4 = 21,
    ONNXC_INT4 = 22
} onnxc_dtype;

/* Lower-case ONNX name ("float", "int64", ...), or "unknown". Static string. */
const char *onnxc_dtype_name(onnxc_dtype dtype);

#define ONNXC_MAX_RANK 8

/*
 * A dense, C-ordered tensor owned by whoever filled `data`.
 * As a run input: data points at prod(dims) elements the caller owns.
 * As a run output: see onnxc_session_run.
 */
typedef struct onnxc_tensor {
    const char *name;              /* optional: bind by name instead of position */
    onnxc_dtype dtype;
    int rank;
    int64_t dims[ONNXC_MAX_RANK];
    void *data;
    size_t capacity;               /* bytes available at data, for caller-owned outputs */
} onnxc_tensor;

/* ------------------------------------------------------------------------ */
/* Tensor files                                                              */

/*
 * Read a tensor file; the extension picks the format: ".npy" (numpy format
 * versions 1-3, C order; float16/32/64, int8/16/32/64, uint8/16/32/64, bool) or
 * ".pb" (a serialized TensorProto). On success out->data is allocated by the
 * library and owned by the caller: release it with onnxc_tensor_release.
 * out->name is NULL.
 */
onnxc_status onnxc_tensor_load(const char *path, onnxc_tensor *out, onnxc_error *err);

/* Write `t` to `path` (format by extension, as above), atomically. */
onnxc_status onnxc_tensor_save(const char *path, const onnxc_tensor *t, onnxc_error *err);

/* Free the data of a tensor filled by onnxc_tensor_load; sets data to NULL. */
void onnxc_tensor_release(onnxc_tensor *t);

/* ------------------------------------------------------------------------ */
/* Loading and saving                                                        */

/* Safety limits applied while loading untrusted files. */
typedef struct onnxc_limits {
    uint64_t max_file_bytes;       /* size of the .onnx file itself */
    uint64_t max_tensor_bytes;     /* one initializer or constant */
    uint64_t max_total_bytes;      /* all initializers together */
    uint64_t max_nodes;            /* nodes in all graphs together */
    uint32_t max_graph_depth;      /* nesting of subgraphs and protobuf messages */
} onnxc_limits;

/* The defaults: 4 GiB file, 4 GiB tensor, 16 GiB total, 10 M nodes, subgraph depth 16. */
void onnxc_limits_default(onnxc_limits *limits);

typedef struct onnxc_model onnxc_model;

/*
 * Load an ONNX model from a file. External data files are resolved relative
 * to the model's folder and must stay inside it. `limits` may be NULL for the
 * defaults. On success *out owns the model; free it with onnxc_model_free.
 */
onnxc_status onnxc_model_load(const char *path, const onnxc_limits *limits,
                              onnxc_model **out, onnxc_error *err);

/*
 * Load from memory. The bytes are copied where needed; the caller keeps
 * ownership of `data`. `base_dir` resolves external data (NULL: external data
 * is refused). `label` names the model in messages (NULL: "<memory>").
 */
onnxc_status onnxc_model_load_memory(const void *data, size_t size, const char *base_dir,
                                     const char *label, const onnxc_limits *limits,
                                     onnxc_model **out, onnxc_error *err);

void onnxc_model_free(onnxc_model *model);

/*
 * Load a Keras model (.h5 from Keras 2.0-3.x, or a Keras 3 .keras zip),
 * converted in memory to ONNX in the tf2onnx layout. onnxc_model_load does
 * the same when it sees an HDF5 or zip signature. `arch_spec` supplies the
 * architecture for weights-only files (same syntax as onnxc_model_from_spec),
 * else NULL. No code in the file is ever run; Lambda layers are refused.
 */
onnxc_status onnxc_model_load_keras(const char *path, const char *arch_spec,
                                    const onnxc_limits *limits, onnxc_model **out,
                                    onnxc_error *err);

/*
 * Build a new dense network from a spec such as "784,64:relu,64:relu,10:softmax":
 * the input width, then one "units[:activation]" per Dense layer (activation
 * linear, relu, sigmoid, tanh, softmax, elu, selu, softplus, gelu). The graph is
 * in the tf2onnx layout (MatMul + Add + activation node per layer) with a
 * symbolic batch dim; kernels are Glorot-uniform from `seed`, biases zero.
 */
onnxc_status onnxc_model_from_spec(const char *spec, uint64_t seed, onnxc_model **out,
                                   onnxc_error *err);

typedef struct onnxc_save_options {
    /* Move initializers of at least `external_threshold` bytes into a side
     * file next to the model, named `external_file` (NULL: "<model>.data").
     * So that a crash never pairs a model with another save's side file,
     * each save writes the side file under whichever of that name and its
     * ".alt" twin ("model.onnx.alt.data") the model on disk does not read,
     * and removes the other once the new model is in place. */
    int external_data;
    size_t external_threshold;
    const char *external_file;
} onnxc_save_options;

/*
 * Serialize the model, with its current initializer values, to `path`. Every
 * field the model was loaded with is kept, unknown ones included. The write
 * is atomic: a temporary file in the same folder is written, fsync'd and
 * renamed over `path`; on failure the old file is untouched. `options` may
 * be NULL (everything inline).
 */
onnxc_status onnxc_model_save(const onnxc_model *model, const char *path,
                              const onnxc_save_options *options, onnxc_error *err);

/*
 * Serialize to a new buffer. On success *data is malloc'd and owned by the
 * caller (free with free()). External data is always written inline.
 */
onnxc_status onnxc_model_save_memory(const onnxc_model *model, void **data, size_t *size,
                                     onnxc_error *err);

/* ------------------------------------------------------------------------ */
/* Model introspection                                                       */

/* One graph input or output as declared in the file. */
typedef struct onnxc_value_info {
    const char *name;
    onnxc_dtype dtype;
    int rank;                         /* -1 when the file declares no shape */
    int64_t dims[ONNXC_MAX_RANK];     /* -1 for a symbolic or unknown dim */
    const char *dim_names[ONNXC_MAX_RANK]; /* dim_param, or NULL */
} onnxc_value_info;

size_t onnxc_model_input_count(const onnxc_model *model);
size_t onnxc_model_output_count(const onnxc_model *model);
/* Inputs exclude initializers that are also listed as graph inputs. */
onnxc_status onnxc_model_input(const onnxc_model *model, size_t index, onnxc_value_info *info);
onnxc_status onnxc_model_output(const onnxc_model *model, size_t index, onnxc_value_info *info);

typedef struct onnxc_model_meta {
    int64_t ir_version;
    const char *producer_name;        /* "" when absent */
    const char *producer_version;
    const char *graph_name;
    int64_t opset_onnx;               /* version of the default domain, 0 if absent */
    size_t opset_count;
} onnxc_model_meta;

void onnxc_model_get_meta(const onnxc_model *model, onnxc_model_meta *meta);
/* The index-th opset_import entry. */
onnxc_status onnxc_model_opset(const onnxc_model *model, size_t index, const char **domain,
                               int64_t *version);

/* One node of the main graph, in execution order. */
typedef struct onnxc_node_info {
    const char *name;                 /* node name, or "" */
    const char *op_type;
    const char *domain;               /* "" for ai.onnx */
    size_t input_count, output_count;
    const char *first_output;         /* name of output 0 */
    uint64_t param_count;             /* float initializer elements it reads */
} onnxc_node_info;

size_t onnxc_model_node_count(const onnxc_model *model);
onnxc_status onnxc_model_node(const onnxc_model *model, size_t index, onnxc_node_info *info);
/* Name of input k (k < input_count) or output k (k < output_count) of the
 * index-th node, as in the file; "" for an omitted optional one. Owned by
 * the model. With these a caller can follow every edge of the graph. */
onnxc_status onnxc_model_node_input(const onnxc_model *model, size_t index, size_t k,
                                    const char **name);
onnxc_status onnxc_model_node_output(const onnxc_model *model, size_t index, size_t k,
                                     const char **name);

/*
 * Everything that stops the model from running: every unsupported op (each
 * with its domain and opset, once per op type), then, if all ops are
 * supported, shape and type errors found by inferring shapes with probe
 * values for symbolic dims. ONNXC_OK when the model can run. Loading only
 * checks structure, so a model with unsupported ops still loads, prints and
 * re-saves.
 */
onnxc_status onnxc_model_check(const onnxc_model *model, onnxc_error *err);

/*
 * The index-th initializer (weights and constants, in file order) as a view:
 * name, dtype, dims and data point into the model and stay valid until it is
 * freed. Writing through data changes the weights that train and save at
 * once, and those that sessions run after onnxc_model_weights_changed:
 * sessions keep packed copies of weights (and values computed from them).
 * After onnxc_model_set_inference_only, data is NULL for a released weight.
 */
size_t onnxc_model_initializer_count(const onnxc_model *model);
onnxc_status onnxc_model_initializer(const onnxc_model *model, size_t index, onnxc_tensor *view);

/* Initializer data was written through views: every session of the model
 * drops its packed copies and re-plans at its next run. (Trainers read the
 * weights from the model at each step and need no call; a trainer's own
 * steps already tell the sessions.) */
void onnxc_model_weights_changed(onnxc_model *model);

/* Floating-point initializer elements (the parameters, as Keras counts
 * them) and the bytes of all initializers. */
void onnxc_model_param_totals(const onnxc_model *model, uint64_t *count, uint64_t *bytes);

/*
 * Shape of every node's first output when each symbolic input dim is bound
 * to a probe value. `dims` receives rank and dims per node (node order, -1 for
 * a dim that varies with the symbolic input dims); `dim_names` names a dim
 * that equals one input symbol. Arrays must hold node_count entries.
 */
typedef struct onnxc_node_shape {
    onnxc_dtype dtype;
    int rank;                          /* -1 when unknown */
    int64_t dims[ONNXC_MAX_RANK];
    const char *dim_names[ONNXC_MAX_RANK];
} onnxc_node_shape;

onnxc_status onnxc_model_infer_shapes(const onnxc_model *model, onnxc_node_shape *shapes,
                                      onnxc_error *err);

/* ------------------------------------------------------------------------ */
/* Supported operators                                                       */

/* Newest ai.onnx opset onnxc loads; a model importing a newer one is refused. */
#define ONNXC_MAX_OPSET 21

/* One operator onnxc implements. */
typedef struct onnxc_op_support {
    const char *domain;          /* "" for ai.onnx, else e.g. "ai.onnx.preview.training" */
    const char *op_type;
    /* The opset versions at which the op's ONNX schema changed that onnxc
     * implements, ascending. A node runs with the largest one <= its model's
     * opset; a model whose opset predates the first cannot use the op. */
    const int *versions;
    size_t version_count;
    bool differentiable;         /* has a backward pass: onnxc_trainer trains through it */
} onnxc_op_support;

/* Number of operators onnxc implements (in every domain). */
size_t onnxc_supported_op_count(void);

/*
 * The index-th implemented operator, 0 <= index < onnxc_supported_op_count(),
 * in a fixed order (by op family, not by name). Strings and arrays are static.
 * ONNXC_ERR_ARGUMENT when index is out of range or info is NULL.
 */
onnxc_status onnxc_supported_op(size_t index, onnxc_op_support *info);

/* ------------------------------------------------------------------------ */
/* Inference                                                                 */

/*
 * Make `model` inference-only, so that it holds each dense-layer weight once.
 * Sessions run every MatMul or Gemm whose B is a float initializer with that
 * weight packed into the GEMM kernels' layout; normally each session packs
 * its own copy and the model also keeps the file's bytes (for saving and
 * training), so those weights are in memory twice or more. This call packs
 * them now, once, into the model, where every session finds them, and frees
 * the file's bytes of each weight that only such layers read, one weight at
 * a time (a 147 MB 784-4096-4096-4096-10 model: 2.1x its file size resident
 * after a normal first run, 1.1x after this call, 1.5x at the peak while
 * its largest weight is packed). Results are bit-identical to a normal
 * model's: a plan that needs a released weight in its original layout
 * unpacks it exactly.
 *
 * Irreversible: the weights are fixed from now on. onnxc_model_save,
 * onnxc_model_save_memory and onnxc_trainer_create refuse the model
 * (ONNXC_ERR_ARGUMENT); load the file again to save or train. Sessions
 * created before the call re-plan on their next run, onto the packed
 * weights; none may be running during the call. Refused for a model with
 * unsupported ops. A second call does nothing.
 * `onnxc run` and `onnxc bench` call it.
 */
onnxc_status onnxc_model_set_inference_only(onnxc_model *model, onnxc_error *err);

typedef struct onnxc_session onnxc_session;

typedef struct onnxc_session_options {
    int threads;                       /* 0: OpenMP default (OMP_NUM_THREADS) */
    uint64_t seed;                     /* RNG for ops without their own seed */
} onnxc_session_options;

/*
 * Create a session that runs `model`. The session borrows the model, which
 * must outlive it. `options` may be NULL. The execution plan is built on the
 * first run for each set of input shapes and reused after that.
 */
onnxc_status onnxc_session_create(const onnxc_model *model, const onnxc_session_options *options,
                                  onnxc_session **out, onnxc_error *err);
void onnxc_session_free(onnxc_session *session);

/* Threads used by this session's kernels. Results do not depend on it. */
onnxc_status onnxc_session_set_threads(onnxc_session *session, int threads, onnxc_error *err);
int onnxc_session_threads(const onnxc_session *session);

/*
 * Run the model.
 * inputs: one tensor per graph input; bound by `name` when set, else by
 *   position. Data is read during the call only.
 * outputs: n_outputs <= graph outputs, in graph-output order. For each, when
 *   `data` is NULL the call fills dtype/rank/dims and points `data` at a
 *   session-owned buffer valid until the next run or onnxc_session_free; when
 *   `data` is set, the result is written there and `capacity` must be large
 *   enough (else ONNXC_ERR_SHAPE, with the size needed in the message).
 */
onnxc_status onnxc_session_run(onnxc_session *session, const onnxc_tensor *inputs, size_t n_inputs,
                               onnxc_tensor *outputs, size_t n_outputs, onnxc_error *err);

/* ------------------------------------------------------------------------ */
/* Training data                                                             */

/*
 * A labelled dataset held in its stored type (uint8 images stay uint8 and are
 * scaled to [0,1] floats one batch at a time). Samples whose element count
 * equals the model's per-sample input are reshaped to fit (28x28 -> 784).
 */
typedef struct onnxc_dataset onnxc_dataset;

/* MNIST-style idx files in `dir`: "<split>-images-idx3-ubyte[.gz]" and
 * "<split>-labels-idx1-ubyte[.gz]", split "train" or "t10k". */
onnxc_status onnxc_dataset_load_idx(const char *dir, const char *split, onnxc_dataset **out,
                                    onnxc_error *err);
/* X.npy [n, ...] (float32/float64/uint8 -> uint8 scaled by 1/255) and
 * Y.npy [n] integer labels or [n, classes] float targets. */
onnxc_status onnxc_dataset_load_npy(const char *x_path, const char *y_path, onnxc_dataset **out,
                                    onnxc_error *err);
/* From caller tensors (copied): x [n, ...], y [n] or [n, k]. */
onnxc_status onnxc_dataset_from_tensors(const onnxc_tensor *x, const onnxc_tensor *y,
                                        onnxc_dataset **out, onnxc_error *err);
size_t onnxc_dataset_size(const onnxc_dataset *ds);
/* Elements per sample of x, and of y (1 for integer labels). */
size_t onnxc_dataset_sample_elems(const onnxc_dataset *ds);
size_t onnxc_dataset_label_elems(const onnxc_dataset *ds);
/* Largest integer label + 1 (0 for float targets). */
size_t onnxc_dataset_classes(const onnxc_dataset *ds);
void onnxc_dataset_free(onnxc_dataset *ds);

/* ------------------------------------------------------------------------ */
/* Training                                                                  */

typedef enum onnxc_loss {
    ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, /* integer labels, softmax output */
    ONNXC_LOSS_CATEGORICAL_CROSSENTROPY,        /* one-hot targets, softmax output */
    ONNXC_LOSS_BINARY_CROSSENTROPY,             /* 0/1 targets, sigmoid output */
    ONNXC_LOSS_MSE                              /* mean squared error */
} onnxc_loss;

/* Keras names ("sparse_categorical_crossentropy", "mse", ...). */
onnxc_status onnxc_loss_from_name(const char *name, onnxc_loss *out, onnxc_error *err);
const char *onnxc_loss_name(onnxc_loss loss);

typedef enum onnxc_optimizer_kind {
    ONNXC_OPT_SGD,       /* Keras SGD, momentum 0 */
    ONNXC_OPT_MOMENTUM,  /* SGD with momentum 0.9 */
    ONNXC_OPT_NESTEROV,  /* SGD with Nesterov momentum 0.9 */
    ONNXC_OPT_ADAM,
    ONNXC_OPT_ADAMW,
    ONNXC_OPT_RMSPROP,
    ONNXC_OPT_ADAGRAD
} onnxc_optimizer_kind;

/* Hyper-parameters; onnxc_optimizer_defaults fills Keras's defaults. */
typedef struct onnxc_optimizer {
    onnxc_optimizer_kind kind;
    double learning_rate;    /* Adam/AdamW/RMSprop/Adagrad 1e-3, SGD 1e-2 */
    double beta_1, beta_2;   /* Adam/AdamW 0.9, 0.999 */
    double epsilon;          /* 1e-7 */
    double momentum;         /* SGD variants */
    double rho;              /* RMSprop 0.9 */
    double weight_decay;     /* AdamW 0.004 */
    double initial_accumulator_value; /* Adagrad 0.1 */
} onnxc_optimizer;

void onnxc_optimizer_defaults(onnxc_optimizer_kind kind, onnxc_optimizer *out);
/* "sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", with defaults. */
onnxc_status onnxc_optimizer_from_name(const char *name, onnxc_optimizer *out, onnxc_error *err);

typedef struct onnxc_trainer onnxc_trainer;

typedef struct onnxc_trainer_options {
    onnxc_loss loss;
    onnxc_optimizer optimizer;   /* kind and hyper-parameters */
    int threads;                 /* 0: OpenMP default */
    uint64_t seed;               /* Dropout and shuffling */
    /* The model's output holds logits (a final linear layer), as Keras's
     * from_logits=True. Without it, a final Softmax/Sigmoid is still trained
     * from its logits, and any other output is taken as probabilities. */
    bool from_logits;
    /* false (the default): the trainer's arithmetic flushes subnormal floats
     * (magnitudes below ~1.2e-38) to zero, as TensorFlow does on CPUs for
     * every op, so Keras models train that way too. Subnormal arithmetic is
     * slow on x86 and Adam's moment estimates decay into that range, so
     * small models train faster this way, with the same accuracies. true:
     * the trainer computes in the calling thread's floating-point state as
     * it is, which keeps subnormals (IEEE, PyTorch's default) unless the
     * caller set FTZ/DAZ itself. Only the trainer's calls are affected, and
     * they restore the calling thread's state before returning; inference
     * sessions always run in the caller's state. */
    bool keep_denormals;
} onnxc_trainer_options;

/* Keras defaults: sparse categorical cross-entropy, Adam, seed 1. */
void onnxc_trainer_options_default(onnxc_trainer_options *opt);

/*
 * Prepare `model` for training. The trainer borrows the model and updates its
 * floating-point initializers in place, so onnxc_model_save writes the trained
 * weights with every other field unchanged. When the graph ends in Softmax
 * (or Sigmoid) and the loss is a cross-entropy, the loss is computed from the
 * logits in one fused, numerically stable kernel, as Keras does.
 */
onnxc_status onnxc_trainer_create(onnxc_model *model, const onnxc_trainer_options *options,
                                  onnxc_trainer **out, onnxc_error *err);
void onnxc_trainer_free(onnxc_trainer *trainer);
onnxc_status onnxc_trainer_set_threads(onnxc_trainer *trainer, int threads, onnxc_error *err);

/* Number of trainable tensors and their total elements. */
void onnxc_trainer_params(const onnxc_trainer *trainer, size_t *tensors, size_t *elements);

typedef struct onnxc_batch_result {
    double loss;                 /* mean over the batch */
    size_t correct;              /* samples whose prediction matches (classification) */
    size_t count;                /* samples in the batch */
} onnxc_batch_result;

/*
 * One optimizer step on a batch: zero gradients, forward, loss, backward,
 * update. x: [batch, ...] float; y: [batch] int32/int64 labels or
 * [batch, k] float targets. Stops with ONNXC_ERR_NUMERIC, weights untouched,
 * when the loss or a gradient is not finite.
 */
onnxc_status onnxc_trainer_step(onnxc_trainer *trainer, const onnxc_tensor *x,
                                const onnxc_tensor *y, onnxc_batch_result *result,
                                onnxc_error *err);

/* Forward only, inference semantics (no dropout); for evaluation.
 * confusion: NULL or [classes * classes] counts to add into, row = label. */
onnxc_status onnxc_trainer_evaluate_batch(onnxc_trainer *trainer, const onnxc_tensor *x,
                                          const onnxc_tensor *y, onnxc_batch_result *result,
                                          uint64_t *confusion, size_t classes, onnxc_error *err);

/* Optimizer steps taken so far. */
uint64_t onnxc_trainer_iterations(const onnxc_trainer *trainer);

typedef struct onnxc_epoch_log {
    int epoch;                   /* 1-based */
    double loss, accuracy;
    bool has_validation;
    double val_loss, val_accuracy;
    double seconds;              /* training time of the epoch, data loading excluded */
    double samples_per_second;
    double data_seconds;         /* gathering the epoch's batches (left out of seconds) */
    /* With several threads: the epoch's steps that ran on one thread, the
     * trainer having timed that as the faster way (a small batch, or the
     * other cores busy with other work); 0 with one thread. */
    size_t one_thread_steps;
} onnxc_epoch_log;

/* Progress callback: called after every batch (step counts within the epoch)
 * and at the end of each epoch (log != NULL). Return nonzero to stop. */
typedef int (*onnxc_progress_fn)(void *user, int epoch, int epochs, size_t step, size_t steps,
                                 double loss, double accuracy, const onnxc_epoch_log *log);

typedef struct onnxc_fit_options {
    int epochs;                  /* default 1 */
    int batch_size;              /* default 32 */
    double validation_split;     /* last fraction of `train`, taken before shuffling */
    const onnxc_dataset *validation; /* or an explicit validation set (overrides split) */
    bool no_shuffle;
    const char *checkpoint_path; /* saved atomically after every epoch, or NULL */
    const char *resume_path;     /* continue from this checkpoint, or NULL */
    onnxc_progress_fn progress;
    void *progress_user;
} onnxc_fit_options;

/*
 * Keras fit(): epochs of shuffled mini-batches (shuffling seeded by the
 * trainer's seed and the epoch), validation after each epoch. `history`
 * receives up to `history_capacity` epoch logs (may be NULL).
 */
onnxc_status onnxc_trainer_fit(onnxc_trainer *trainer, const onnxc_dataset *train,
                               const onnxc_fit_options *options, onnxc_epoch_log *history,
                               size_t history_capacity, onnxc_error *err);

/* Loss, accuracy and (optional) confusion matrix over a whole dataset. */
onnxc_status onnxc_trainer_evaluate(onnxc_trainer *trainer, const onnxc_dataset *data,
                                    int batch_size, double *loss, double *accuracy,
                                    uint64_t *confusion, size_t classes, onnxc_error *err);

/* ------------------------------------------------------------------------ */
/* Data-parallel training                                                    */

/*
 * One process per rank, as in MPI and Horovod: every rank holds the same
 * model, trainer options and dataset; each computes the gradient of its own
 * rows of every global batch, the gradients are summed over the ranks, and
 * every rank applies the same optimizer step. The library never talks to a
 * network: the caller plugs a transport in through these callbacks (the onnxc
 * CLI built with -DONNXC_MPI=ON implements them with MPI, cli/mpi_dist.c).
 *
 * Rules for the callbacks:
 *   - Every one is collective: all ranks make the same calls in the same
 *     order with the same counts (a trainer checks that the ranks' models,
 *     options and data agree before it trains, so the counts do).
 *   - They are called from the thread that called the onnxc_trainer_*
 *     function, never from the kernels' OpenMP threads, one call at a time
 *     (MPI_THREAD_FUNNELED is enough).
 *   - They return ONNXC_OK, or a status with a message in `err`. A transport
 *     failure cannot be agreed on (the transport is what failed): the trainer
 *     returns it on the rank that saw it and refuses further collective work.
 *     MPI's default error handler aborts the whole job instead, which is fine.
 */
typedef struct onnxc_distributed {
    int rank;                    /* this process, 0 <= rank < world_size */
    int world_size;              /* processes taking part, >= 1 */
    void *user;                  /* handed to every callback; owned by the caller */
    /* The gradient is summed in pieces ("buckets") of at least this many
     * bytes, last layers first, each started as soon as backward has finished
     * it, so the sums overlap the rest of backward. 0: 4 MiB; SIZE_MAX: one
     * sum of the whole gradient after backward. Must be equal on all ranks. */
    size_t bucket_bytes;
    /* Start an in-place element-wise sum of data[0, count) over all ranks.
     * When the matching allreduce_wait returns, data holds the sum, the same
     * bits on every rank (MPI_Iallreduce with MPI_SUM). The trainer does not
     * touch data in between. *handle is the callback's own (NULL allowed). */
    onnxc_status (*allreduce_start)(void *user, float *data, size_t count, void **handle,
                                    onnxc_error *err);
    /* Wait for a sum started by allreduce_start and release its handle. The
     * trainer waits for the sums in the order it started them. */
    onnxc_status (*allreduce_wait)(void *user, void *handle, onnxc_error *err);
    /* Optional (NULL: none): let a started sum progress (MPI_Test), called
     * between backward steps while sums are in flight. Must not block. */
    void (*allreduce_poll)(void *user, void *handle);
    /* Blocking in-place sum of data[0, count) over all ranks: metrics, row
     * counts, consistency checks. Same bits on every rank. */
    onnxc_status (*allreduce_doubles)(void *user, double *data, size_t count, onnxc_error *err);
    /* Agree on a failure. On entry `outcome` holds this rank's status and
     * message (ONNXC_OK: nothing to report); on return it holds, on every
     * rank, the status and message of the lowest rank that reported a
     * failure, or ONNXC_OK when none did. Returns ONNXC_OK, or the
     * transport's own failure (then `outcome` describes that). */
    onnxc_status (*agree)(void *user, onnxc_error *outcome);
} onnxc_distributed;

/*
 * Make `trainer` one rank of a data-parallel group; d == NULL makes it a
 * single process again. *d is copied; d->user and what the callbacks use
 * must stay valid until the trainer is freed or this is called again.
 * Refused (ONNXC_ERR_ARGUMENT) when rank, world_size or a required callback
 * is missing or out of range. After this:
 *
 *   - onnxc_trainer_fit is collective. Every rank passes the same dataset
 *     (all of it) and options. Each global batch of n = batch_size rows (the
 *     last one may be smaller) comes from the same seeded shuffle on every
 *     rank; rank r computes rows [r*n/N, (r+1)*n/N) of it, scales its loss
 *     gradient by its rows / n, and the sum over the ranks is the mean
 *     gradient of the global batch, as one process would compute it up to
 *     float summation order. Validation is split over the ranks the same way.
 *     Epoch logs (history, the progress callback's `log`) cover the whole
 *     global batches and validation set; the per-step loss and accuracy given
 *     to the progress callback are this rank's rows only. Only rank 0 writes
 *     checkpoint_path. Every rank reads resume_path itself, so the file must
 *     be on a filesystem all ranks see. Before training, ranks whose model,
 *     weights, options or data differ are refused; after every epoch, weights
 *     that differ between ranks (a transport whose sums differ) stop training.
 *   - A failure on any rank during fit or a step (unreadable or wrong data, a
 *     NaN, a checkpoint that cannot be written, a progress callback that asks
 *     to stop) makes every rank return the same status and the message of the
 *     first failing rank, prefixed "rank R: "; no rank changes its weights in
 *     that step, and the last checkpoint written stays as it was.
 *   - onnxc_trainer_step is onnxc_trainer_step_distributed with global_rows 0.
 *   - onnxc_trainer_evaluate and onnxc_trainer_evaluate_batch stay local:
 *     no communication.
 */
onnxc_status onnxc_trainer_set_distributed(onnxc_trainer *trainer, const onnxc_distributed *d,
                                           onnxc_error *err);

/*
 * One collective optimizer step: x and y hold this rank's rows of a global
 * batch of `global_rows` samples (0: the sum of the ranks' rows, found with
 * one more small allreduce). A rank without rows passes x = y = NULL. The
 * update uses the mean gradient over the global batch; `result` describes
 * this rank's rows (loss: their mean; count: their number). On a failure on
 * any rank, every rank returns the same status and message and no weight
 * changes. On a trainer that is not distributed this is onnxc_trainer_step
 * (global_rows must then be 0 or x's rows).
 */
onnxc_status onnxc_trainer_step_distributed(onnxc_trainer *trainer, const onnxc_tensor *x,
                                            const onnxc_tensor *y, size_t global_rows,
                                            onnxc_batch_result *result, onnxc_error *err);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* ONNXC_H */
