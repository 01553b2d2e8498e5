/*
 * The loaded model: the unpacked ModelProto (kept, so that a save writes back
 * every field it was loaded with) and onnxc's own view of the main graph —
 * values, nodes in topological order, and the op each node resolves to.
 */
#ifndef OC_GRAPH_H
#define OC_GRAPH_H

#include "onnx.pb-c.h"
#include "error.h"
#include "tensor.h"

struct oc_op_def;
struct oc_pack_cache;

typedef enum oc_value_kind {
    OC_VALUE_INPUT,        /* graph input the caller feeds */
    OC_VALUE_INITIALIZER,  /* weight or constant stored in the file */
    OC_VALUE_NODE_OUTPUT   /* produced by a node */
} oc_value_kind;

typedef struct oc_value {
    const char *name;                 /* owned by the proto */
    oc_value_kind kind;
    int producer;                     /* node index, or -1 */
    int n_consumers;
    /* Initializers: dtype, dims and data. data aliases the proto's raw_data /
     * float_data / int64_data / double_data when the layout allows, so that
     * training updates are saved by re-packing the proto; otherwise it points
     * at a converted copy or external bytes owned by the model. */
    oc_tensor init;
    Onnx__TensorProto *init_proto;
    bool init_owned;                  /* init.data must be oc_aligned_free'd */
    /* Inference-only models: init.data was freed (NULL) and the weight lives
     * on only as its packed copy in the model's pack cache. */
    bool released;
    /* Declared type of graph inputs/outputs/value_info, or NULL. */
    const Onnx__ValueInfoProto *info;
} oc_value;

typedef struct oc_node {
    const Onnx__NodeProto *proto;
    const char *name;                 /* "" when the file has none */
    const char *op_type;
    const char *domain;               /* "" for ai.onnx */
    const struct oc_op_def *op;       /* NULL when unsupported */
    int opset;                        /* imported version of the node's domain */
    int since;                        /* schema version the op resolves to */
    int n_in, n_out;
    int *in;                          /* [n_in] value index, -1: omitted optional */
    int *out;                         /* [n_out] value index, -1: omitted optional */
    void *params;                     /* op-specific, set by op->init, oc_free'd */
    const struct oc_graph *graph;     /* the graph holding the node (ops that
                                         look beyond their inputs: Gradient) */
} oc_node;

typedef struct oc_graph {
    oc_value *values;
    int n_values;
    oc_node *nodes;                   /* topologically sorted */
    int n_nodes;
    int *inputs;                      /* graph inputs that are not initializers */
    int n_inputs;
    int *outputs;
    int n_outputs;
    /* Open-addressing name -> value index table, size a power of two. */
    int *name_table;
    size_t name_table_size;
} oc_graph;

struct onnxc_model {
    Onnx__ModelProto *proto;
    char *label;                      /* file path or "<memory>", for messages */
    char *base_dir;                   /* folder for external data, or NULL */
    onnxc_limits limits;
    oc_graph graph;
    int64_t opset_onnx;               /* 0 when the default domain is not imported */
    int64_t opset_training;           /* ai.onnx.preview.training, 0 if absent */
    int64_t opset_ml;
    int n_unsupported;                /* nodes whose op onnxc cannot run */
    /* Memory-mapped or read external data files, freed with the model. */
    void **external_buffers;
    size_t n_external_buffers;
    /* Bumped whenever onnxc changes initializer values in place (a training
     * step, a checkpoint restore) or frees them (inference_only.c): sessions
     * holding packed copies of the weights, or plans reading them, compare
     * it before each run and re-plan when it moved. */
    uint64_t weights_generation;
    /* onnxc_model_set_inference_only: the weights can no longer change;
     * `packs` holds every dense weight packed once, shared read-only by all
     * sessions (inference_only.c). NULL otherwise. */
    bool inference_only;
    struct oc_pack_cache *packs;
};

/* Value index for `name`, or -1. */
int oc_graph_find(const oc_graph *g, const char *name);

/* Message prefix for a node: "node 'name' (OpType)" or "node #i (OpType)". */
const char *oc_node_label(const oc_node *n, char *buf, size_t size);

/* Fill `err` with "<node label>: <message>"; returns status. */
onnxc_status oc_node_fail(const oc_node *n, onnxc_error *err, onnxc_status status,
                          const char *fmt, ...) OC_PRINTF(4, 5);

/* Reads a whole regular file into an oc_malloc'd buffer, refusing FIFOs,
 * devices and sizes over `max` (loader.c; the Keras converter uses it too). */
onnxc_status oc_read_file(const char *path, uint64_t max, uint8_t **data, size_t *size,
                          onnxc_error *err);

/* ONNXC_OK when every node has an op; else lists the unsupported ones. */
onnxc_status oc_model_require_supported(const onnxc_model *m, onnxc_error *err);

/* inference_only.c: a released weight v (values[v].released) unpacked from
 * the model's packed copy into a new oc_aligned_alloc'd buffer (*out, the
 * caller frees), bit-identical to the bytes the file held. */
onnxc_status oc_model_unpack_released(const onnxc_model *m, int v, void **out, onnxc_error *err);
/* Frees the model's shared pack cache (onnxc_model_free). */
void oc_model_free_packs(onnxc_model *m);

/* Decode a TensorProto (not external) into `out`. Aliases the proto's storage
 * when possible (*owned = false), else allocates a 64-byte aligned copy
 * (*owned = true). `what` names the tensor in messages. */
onnxc_status oc_tensor_from_proto(const Onnx__TensorProto *tp, const onnxc_limits *limits,
                                  oc_tensor *out, bool *owned, const char *what,
                                  onnxc_error *err);

#endif
