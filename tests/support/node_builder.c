#include "node_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

/* Test support: running out of memory here is not a case worth reporting. */
static void *xmalloc(size_t size)
{
    void *p = calloc(1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "node_builder: out of memory\n");
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

nb_node *nb_new(const char *op_type, const char *domain, int opset, int n_in, int n_out)
{
    if (n_in < 0 || n_in > NB_MAX_IO || n_out < 0 || n_out > NB_MAX_IO) {
        fprintf(stderr, "node_builder: %d inputs / %d outputs, at most %d\n", n_in, n_out,
                NB_MAX_IO);
        abort();
    }
    nb_node *b = xmalloc(sizeof *b);
    Onnx__NodeProto init = ONNX__NODE_PROTO__INIT;
    b->proto = init;
    char buf[64];
    for (int i = 0; i < n_in; i++) {
        snprintf(buf, sizeof buf, "in%d", i);
        b->in_names[i] = xstrdup(buf);
        b->in_idx[i] = i;
    }
    for (int i = 0; i < n_out; i++) {
        snprintf(buf, sizeof buf, "out%d", i);
        b->out_names[i] = xstrdup(buf);
        b->out_idx[i] = NB_MAX_IO + i;
    }
    b->proto.n_input = (size_t)n_in;
    b->proto.input = b->in_names;
    b->proto.n_output = (size_t)n_out;
    b->proto.output = b->out_names;
    b->proto.op_type = xstrdup(op_type);
    b->proto.domain = xstrdup(domain ? domain : "");
    b->proto.attribute = b->attrs;
    snprintf(buf, sizeof buf, "test_%s", op_type);
    b->proto.name = xstrdup(buf);

    b->node.proto = &b->proto;
    b->node.name = b->proto.name;
    b->node.op_type = b->proto.op_type;
    b->node.domain = b->proto.domain;
    b->node.opset = opset;
    b->node.n_in = n_in;
    b->node.n_out = n_out;
    b->node.in = b->in_idx;
    b->node.out = b->out_idx;
    b->node.op = oc_op_find(b->node.domain, op_type);
    b->node.since = b->node.op ? oc_op_resolve_version(b->node.op, opset) : 0;
    b->nthreads = 1;
    return b;
}

static void free_outputs(nb_node *b)
{
    for (int i = 0; i < NB_MAX_IO; i++) {
        oc_aligned_free(b->out_data[i]);
        b->out_data[i] = NULL;
    }
    oc_aligned_free(b->workspace);
    b->workspace = NULL;
}

static void free_tensor_proto(Onnx__TensorProto *t)
{
    if (!t) return;
    free(t->dims);
    free(t->raw_data.data);
    free(t);
}

void nb_free(nb_node *b)
{
    if (!b) return;
    free_outputs(b);
    oc_free(b->node.params);
    for (int i = 0; i < NB_MAX_IO; i++) {
        free(b->in_names[i]);
        free(b->out_names[i]);
    }
    for (size_t i = 0; i < b->proto.n_attribute; i++) {
        Onnx__AttributeProto *a = b->attrs[i];
        free(a->name);
        free(a->s.data);
        free(a->floats);
        free(a->ints);
        for (size_t k = 0; k < a->n_strings; k++) free(a->strings[k].data);
        free(a->strings);
        free_tensor_proto(a->t);
        free(a);
    }
    free(b->proto.op_type);
    free(b->proto.domain);
    free(b->proto.name);
    free(b);
}

void nb_name(nb_node *b, const char *name)
{
    free(b->proto.name);
    b->proto.name = xstrdup(name);
    b->node.name = b->proto.name;
}

void nb_omit_input(nb_node *b, int i)
{
    b->in_names[i][0] = '\0';
    b->in_idx[i] = -1;
}

void nb_omit_output(nb_node *b, int i)
{
    b->out_names[i][0] = '\0';
    b->out_idx[i] = -1;
}

static Onnx__AttributeProto *add_attr(nb_node *b, const char *name, int type)
{
    if (b->proto.n_attribute >= NB_MAX_ATTRS) {
        fprintf(stderr, "node_builder: more than %d attributes\n", NB_MAX_ATTRS);
        abort();
    }
    Onnx__AttributeProto *a = xmalloc(sizeof *a);
    Onnx__AttributeProto init = ONNX__ATTRIBUTE_PROTO__INIT;
    *a = init;
    a->name = xstrdup(name);
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)type;
    b->attrs[b->proto.n_attribute++] = a;
    return a;
}

void nb_attr_int(nb_node *b, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = add_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void nb_attr_float(nb_node *b, const char *name, float v)
{
    Onnx__AttributeProto *a = add_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void nb_attr_ints(nb_node *b, const char *name, const int64_t *v, size_t n)
{
    Onnx__AttributeProto *a = add_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->ints = xmalloc(n * sizeof *v);
    if (n) memcpy(a->ints, v, n * sizeof *v);
    a->n_ints = n;
}

void nb_attr_floats(nb_node *b, const char *name, const float *v, size_t n)
{
    Onnx__AttributeProto *a = add_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->floats = xmalloc(n * sizeof *v);
    if (n) memcpy(a->floats, v, n * sizeof *v);
    a->n_floats = n;
}

void nb_attr_string(nb_node *b, const char *name, const char *s)
{
    Onnx__AttributeProto *a = add_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(s);
    a->s.data = (uint8_t *)xstrdup(s);
}

void nb_attr_strings(nb_node *b, const char *name, const char *const *s, size_t n)
{
    Onnx__AttributeProto *a = add_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    a->strings = xmalloc(n * sizeof *a->strings);
    for (size_t i = 0; i < n; i++) {
        a->strings[i].len = strlen(s[i]);
        a->strings[i].data = (uint8_t *)xstrdup(s[i]);
    }
    a->n_strings = n;
}

void nb_attr_tensor(nb_node *b, const char *name, const oc_tensor *t)
{
    Onnx__AttributeProto *a = add_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    Onnx__TensorProto *tp = xmalloc(sizeof *tp);
    Onnx__TensorProto init = ONNX__TENSOR_PROTO__INIT;
    *tp = init;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    tp->n_dims = (size_t)t->shape.rank;
    tp->dims = xmalloc((size_t)t->shape.rank * sizeof *tp->dims);
    for (int i = 0; i < t->shape.rank; i++) tp->dims[i] = t->shape.dims[i];
    size_t bytes = 0;
    if (!oc_shape_bytes(&t->shape, t->dtype, &bytes)) abort();
    tp->has_raw_data = 1;
    tp->raw_data.len = bytes;
    tp->raw_data.data = xmalloc(bytes);
    if (bytes) memcpy(tp->raw_data.data, t->data, bytes);
    a->t = tp;
}

oc_tensor nb_tensor(oc_dtype dtype, int rank, const int64_t *dims, void *data)
{
    oc_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.shape.rank = rank;
    for (int i = 0; i < rank; i++) t.shape.dims[i] = dims[i];
    t.data = data;
    return t;
}

oc_tensor nb_tensor_shape(oc_dtype dtype, int rank, const int64_t *dims)
{
    return nb_tensor(dtype, rank, dims, NULL);
}

onnxc_status nb_init(nb_node *b, onnxc_error *err)
{
    if (!b->node.op)
        return oc_node_fail(&b->node, err, ONNXC_ERR_UNSUPPORTED, "op is not registered");
    if (!b->node.since)
        return oc_node_fail(&b->node, err, ONNXC_ERR_UNSUPPORTED,
                            "opset %d predates every version of the op", b->node.opset);
    if (b->initialized || !b->node.op->init) return ONNXC_OK;
    OC_TRY(b->node.op->init(&b->node, err));
    b->initialized = true;
    return ONNXC_OK;
}

static void make_ctx(nb_node *b, oc_op_ctx *ctx, const oc_tensor *const *in,
                     oc_tensor *const *out, onnxc_error *err)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->node = &b->node;
    ctx->n_in = b->node.n_in;
    ctx->n_out = b->node.n_out;
    ctx->in = in;
    ctx->out = out;
    ctx->nthreads = b->nthreads > 0 ? b->nthreads : 1;
    static uint64_t rng = 0x9E3779B97F4A7C15ull;
    ctx->rng = &rng;
    ctx->err = err;
}

onnxc_status nb_infer(nb_node *b, const oc_tensor *const *in, oc_tensor *const *out, size_t *ws,
                      onnxc_error *err)
{
    OC_TRY(nb_init(b, err));
    for (int i = 0; i < b->node.n_out; i++)
        if (out[i]) memset(out[i], 0, sizeof *out[i]);
    oc_op_ctx ctx;
    make_ctx(b, &ctx, in, out, err);
    *ws = 0;
    return b->node.op->infer(&ctx, ws);
}

onnxc_status nb_eval(nb_node *b, const oc_tensor *const *in, oc_tensor *const *out,
                     onnxc_error *err)
{
    size_t ws = 0;
    OC_TRY(nb_infer(b, in, out, &ws, err));
    free_outputs(b);
    for (int i = 0; i < b->node.n_out; i++) {
        if (!out[i]) continue;
        size_t bytes = 0;
        if (!oc_shape_bytes(&out[i]->shape, out[i]->dtype, &bytes))
            return oc_node_fail(&b->node, err, ONNXC_ERR_SHAPE,
                                "output %d: inferred size overflows", i);
        /* At least one byte so empty tensors still get a distinct pointer. */
        b->out_data[i] = oc_aligned_alloc(bytes ? bytes : 1);
        if (!b->out_data[i]) return oc_fail(err, ONNXC_ERR_NOMEM, "node_builder: output %d", i);
        /* Poison, so a kernel that skips elements is caught. */
        memset(b->out_data[i], 0xA5, bytes);
        out[i]->data = b->out_data[i];
    }
    if (ws) {
        b->workspace = oc_aligned_alloc(ws);
        if (!b->workspace) return oc_fail(err, ONNXC_ERR_NOMEM, "node_builder: workspace");
    }
    oc_op_ctx ctx;
    make_ctx(b, &ctx, in, out, err);
    ctx.workspace = b->workspace;
    ctx.workspace_bytes = ws;
    return b->node.op->run(&ctx);
}
