/*
 * Build one ONNX node in C and drive its op through init / infer / run,
 * without a model file or a plan. For op unit tests.
 *
 *     nb_node *b = nb_new("LeakyRelu", "", 16, 1, 1);
 *     nb_attr_float(b, "alpha", 0.2f);
 *     float x[] = {-1, 2};
 *     oc_tensor in = nb_tensor(ONNXC_FLOAT, 1, (int64_t[]){2}, x);
 *     oc_tensor out;
 *     onnxc_error err;
 *     cr_assert_eq(nb_eval(b, (const oc_tensor *[]){&in}, (oc_tensor *[]){&out}, &err),
 *                  ONNXC_OK, "%s", err.message);
 *     // out.data: [2] floats owned by b
 *     nb_free(b);
 *
 * The builder owns the NodeProto it builds (plain malloc, freed by nb_free,
 * never by protobuf_c_message_free_unpacked), the oc_node pointing at it,
 * the node's params after init, and every output buffer nb_eval allocates.
 * Allocation failures in the builder itself abort the test (it is test code).
 */
#ifndef NB_NODE_BUILDER_H
#define NB_NODE_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "op.h"
#include "tensor.h"

#define NB_MAX_IO 16
#define NB_MAX_ATTRS 32

typedef struct nb_node {
    Onnx__NodeProto proto;
    char *in_names[NB_MAX_IO];
    char *out_names[NB_MAX_IO];
    Onnx__AttributeProto *attrs[NB_MAX_ATTRS];
    oc_node node;
    int in_idx[NB_MAX_IO];            /* node.in: i, or -1 when omitted */
    int out_idx[NB_MAX_IO];
    bool initialized;                 /* op->init has run (nb_init) */
    void *out_data[NB_MAX_IO];        /* buffers allocated by nb_eval */
    void *workspace;
    int nthreads;                     /* for nb_eval / nb_run; default 1 */
} nb_node;

/*
 * A node `op_type` of `domain` ("" = ai.onnx) in a model importing `opset`
 * for that domain, with n_in inputs named "in0".."inN" and n_out outputs
 * "out0".. . The node is named "test_<op_type>" (change with nb_name). The op
 * is resolved with oc_op_find / oc_op_resolve_version: node.op is NULL when
 * the op is not registered, node.since 0 when the opset predates it.
 */
nb_node *nb_new(const char *op_type, const char *domain, int opset, int n_in, int n_out);
void nb_free(nb_node *b);

void nb_name(nb_node *b, const char *name);
/* Mark optional input/output i omitted: empty name, node.in[i] = -1. */
void nb_omit_input(nb_node *b, int i);
void nb_omit_output(nb_node *b, int i);

/* Attributes (added in call order; the same name twice adds it twice). */
void nb_attr_int(nb_node *b, const char *name, int64_t v);
void nb_attr_float(nb_node *b, const char *name, float v);
void nb_attr_ints(nb_node *b, const char *name, const int64_t *v, size_t n);
void nb_attr_floats(nb_node *b, const char *name, const float *v, size_t n);
void nb_attr_string(nb_node *b, const char *name, const char *s);
void nb_attr_strings(nb_node *b, const char *name, const char *const *s, size_t n);
/* TENSOR attribute holding a copy of t's elements as raw_data. */
void nb_attr_tensor(nb_node *b, const char *name, const oc_tensor *t);

/* A tensor value aliasing `data` (not copied). rank <= OC_MAX_RANK. */
oc_tensor nb_tensor(oc_dtype dtype, int rank, const int64_t *dims, void *data);
/* A tensor with a known dtype/shape but no values (for infer-only tests). */
oc_tensor nb_tensor_shape(oc_dtype dtype, int rank, const int64_t *dims);

/* Run op->init once (no-op when the op has none). Fails with
 * ONNXC_ERR_UNSUPPORTED when the op is unregistered or the opset too old. */
onnxc_status nb_init(nb_node *b, onnxc_error *err);

/*
 * nb_init, then op->infer. in: n_in tensors (NULL entries: omitted inputs);
 * out: n_out tensors to receive dtype and shape (NULL entries: omitted).
 * Inputs' `data` is passed through as is (NULL = value unknown), so pass
 * values for inputs the op lists in value_inputs. *ws gets the workspace size.
 */
onnxc_status nb_infer(nb_node *b, const oc_tensor *const *in, oc_tensor *const *out, size_t *ws,
                      onnxc_error *err);

/*
 * nb_infer, then allocate each output (64-byte aligned, owned by b, freed by
 * nb_free or the next nb_eval) and the workspace, then op->run with
 * b->nthreads threads. On success every non-NULL out[i] has dtype, shape and
 * data set.
 */
onnxc_status nb_eval(nb_node *b, const oc_tensor *const *in, oc_tensor *const *out,
                     onnxc_error *err);

#endif
