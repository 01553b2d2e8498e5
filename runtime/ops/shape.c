/*
 * Ops whose output comes from a shape or an attribute rather than from
 * input values: Shape, Constant, ConstantOfShape.
 *
 *   Shape-1/13/15 (19, 21: wider types): the input's dims as int64[k]. From
 *     15, `start` (default 0) and `end` (default r) slice the dims; negative
 *     values count from the back, and both are clamped to [0, r], so an
 *     empty slice is possible. Flagged OC_OP_SHAPE_ONLY: the planner can fold
 *     it, and run never reads the input's data.
 *   Constant-1/9/11/12/13 (19, 21: wider types): exactly one of `value`
 *     (a TensorProto), `sparse_value` (11+), `value_float`, `value_floats`,
 *     `value_int`, `value_ints`, `value_string`, `value_strings` (12+).
 *     Strings and sparse tensors are refused as unsupported.
 *   ConstantOfShape-9 (20, 21: wider types): a tensor of shape `input`
 *     (int64[k], all >= 0; empty: a scalar) filled with the one element of
 *     the `value` attribute (default float 0).
 *
 * None of the three has a gradient (grad_inputs 0, no backward): training
 * treats their outputs as constants.
 *
 * Ownership of Constant's value (node->params). The graph frees params with
 * a single oc_free, so everything the node owns lives in that one block:
 *
 *     [constant_params | padding to 64 | copied bytes, if any]
 *
 * `value.data` points either into the model (the attribute's raw_data,
 * float_data, ints..., which live as long as the model and hence the node),
 * or at the copied bytes at the end of the params block. When
 * oc_tensor_from_proto has to convert (owned = true), its aligned buffer is
 * copied into the params block and freed right away; nothing else is owned.
 * ConstantOfShape keeps its single element inside its params the same way.
 */
#include <stdio.h>
#include <string.h>

#include "../alloc.h"
#include "../attr.h"
#include "movement.h"

/* ---- Shape -------------------------------------------------------------- */

static onnxc_status shape_init(oc_node *n, onnxc_error *err)
{
    if (n->since < 15) {
        OC_TRY(oc_attr_absent(n, "start", "it exists from opset 15 on", err));
        OC_TRY(oc_attr_absent(n, "end", "it exists from opset 15 on", err));
    }
    int64_t v;
    OC_TRY(oc_attr_int(n, "start", 0, &v, err));
    return oc_attr_int(n, "end", 0, &v, err);
}

/* The slice [start, end) of the input's axes, both clamped to [0, rank]. */
static onnxc_status shape_range(const oc_op_ctx *ctx, int *start, int *end)
{
    int64_t rank = ctx->in[0]->shape.rank, s, e;
    OC_TRY(oc_attr_int(ctx->node, "start", 0, &s, ctx->err));
    OC_TRY(oc_attr_int(ctx->node, "end", rank, &e, ctx->err));
    if (s < 0) s += rank;
    if (e < 0) e += rank;
    s = s < 0 ? 0 : s > rank ? rank : s;
    e = e < 0 ? 0 : e > rank ? rank : e;
    *start = (int)s;
    *end = (int)(e > s ? e : s);
    return ONNXC_OK;
}

static onnxc_status shape_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    int start, end;
    OC_TRY(shape_range(ctx, &start, &end));
    ctx->out[0]->dtype = ONNXC_INT64;
    ctx->out[0]->shape.rank = 1;
    ctx->out[0]->shape.dims[0] = end - start;
    *workspace_bytes = 0;
    return ONNXC_OK;
}

static onnxc_status shape_run(oc_op_ctx *ctx)
{
    int start, end;
    OC_TRY(shape_range(ctx, &start, &end));
    int64_t *y = ctx->out[0]->data; /* [end - start] */
    for (int k = start; k < end; k++) y[k - start] = ctx->in[0]->shape.dims[k];
    return ONNXC_OK;
}

const oc_op_def oc_op_shape = {
    .name = "Shape",
    .domain = "",
    .versions = {1, 13, 15, 19, 21},
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .flags = OC_OP_SHAPE_ONLY,
    .init = shape_init,
    .infer = shape_infer,
    .run = shape_run,
    .grad_inputs = 0, /* no gradient: only the input's shape is read */
};

/* ---- Constant ----------------------------------------------------------- */

typedef struct constant_params {
    oc_tensor value;                  /* data: into the model, or at `tail` */
} constant_params;

/* Offset of the copied bytes inside the params block (64-byte multiple, so
 * they are as aligned as oc_malloc's block). */
#define CONST_TAIL ((sizeof(constant_params) + 63) / 64 * 64)

/* Allocate params with `tail_bytes` of room after them; value.data points there. */
static constant_params *params_with_tail(oc_node *n, size_t tail_bytes, onnxc_error *err)
{
    constant_params *p = oc_calloc(1, CONST_TAIL + tail_bytes);
    if (!p) {
        oc_node_fail(n, err, ONNXC_ERR_NOMEM, "out of memory for a %zu-byte constant",
                     tail_bytes);
        return NULL;
    }
    p->value.data = (char *)p + CONST_TAIL;
    n->params = p;
    return p;
}

/*
 * Decode a TENSOR attribute into the node's params (allocated here). Aliased
 * data stays in the model; converted data is copied to the end of the params
 * block and the decoder's buffer is freed, so one oc_free releases all.
 */
static onnxc_status decode_tensor_attr(oc_node *n, const Onnx__AttributeProto *a,
                                       onnxc_error *err)
{
    if ((a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR) || !a->t)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL, "attribute '%s': expected a tensor",
                            a->name);
    const Onnx__TensorProto *tp = a->t;
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "attribute '%s': tensors with external data are not supported in "
                            "attributes; store the bytes inline",
                            a->name);
    if (tp->data_type == ONNXC_STRING)
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "attribute '%s': string tensors are not supported", a->name);
    onnxc_limits limits;
    onnxc_limits_default(&limits);
    oc_tensor t;
    bool owned = false;
    char what[300];
    char label[256];
    snprintf(what, sizeof what, "%s attribute '%s'", oc_node_label(n, label, sizeof label),
             a->name);
    OC_TRY(oc_tensor_from_proto(tp, &limits, &t, &owned, what, err));
    size_t es, bytes = 0;
    onnxc_status st = oc_mv_elem_size(n, "the constant", t.dtype, &es, err);
    if (st == ONNXC_OK && !oc_shape_bytes(&t.shape, t.dtype, &bytes))
        st = oc_node_fail(n, err, ONNXC_ERR_SHAPE, "attribute '%s': size overflows", a->name);
    constant_params *p = NULL;
    if (st == ONNXC_OK) {
        p = params_with_tail(n, owned ? bytes : 0, err);
        if (!p) st = ONNXC_ERR_NOMEM;
    }
    if (p) {
        void *tail = p->value.data;
        p->value = t;
        if (owned) {
            if (bytes) memcpy(tail, t.data, bytes);
            p->value.data = tail;
        }
    }
    if (owned) oc_aligned_free(t.data);
    return st;
}

/* value_float(s) / value_int(s): alias the attribute's array (lives with the
 * model); a scalar is copied into the params block. */
static onnxc_status list_attr(oc_node *n, const Onnx__AttributeProto *a, bool is_float,
                              bool scalar, onnxc_error *err)
{
    int want = is_float ? (scalar ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT
                                  : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS)
                        : (scalar ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT
                                  : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (a->has_type && (int)a->type != want)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL, "attribute '%s' has the wrong type (%d)",
                            a->name, (int)a->type);
    constant_params *p = params_with_tail(n, scalar ? 8 : 0, err);
    if (!p) return ONNXC_ERR_NOMEM;
    p->value.dtype = is_float ? ONNXC_FLOAT : ONNXC_INT64;
    if (scalar) {
        p->value.shape.rank = 0;
        if (is_float)
            memcpy(p->value.data, &a->f, sizeof a->f);
        else
            memcpy(p->value.data, &a->i, sizeof a->i);
        return ONNXC_OK;
    }
    p->value.shape.rank = 1;
    p->value.shape.dims[0] = (int64_t)(is_float ? a->n_floats : a->n_ints);
    p->value.data = is_float ? (void *)a->floats : (void *)a->ints;
    return ONNXC_OK;
}

static onnxc_status constant_init(oc_node *n, onnxc_error *err)
{
    static const char *const names[] = {"value",      "sparse_value", "value_float",
                                        "value_floats", "value_int",  "value_ints",
                                        "value_string", "value_strings"};
    const Onnx__AttributeProto *found = NULL;
    int which = -1, count = 0;
    for (int i = 0; i < 8; i++) {
        const Onnx__AttributeProto *a = oc_attr_find(n, names[i]);
        if (!a) continue;
        count++;
        found = a;
        which = i;
    }
    if (count != 1)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                            "expected exactly one of the attributes value, sparse_value, "
                            "value_float(s), value_int(s), value_string(s), got %d",
                            count);
    int since = which == 0 ? 1 : which == 1 ? 11 : 12;
    if (n->since < since)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                            "attribute '%s' exists from Constant-%d on, the node resolves to "
                            "Constant-%d",
                            names[which], since, n->since);
    if (found->ref_attr_name)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                            "attribute '%s' refers to a function attribute outside a function",
                            names[which]);
    switch (which) {
    case 0: return decode_tensor_attr(n, found, err);
    case 1:
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "attribute 'sparse_value' is not supported: onnxc has no sparse "
                            "tensors; store the constant densely in 'value'");
    case 2: return list_attr(n, found, true, true, err);
    case 3: return list_attr(n, found, true, false, err);
    case 4: return list_attr(n, found, false, true, err);
    case 5: return list_attr(n, found, false, false, err);
    default:
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "attribute '%s' is not supported: onnxc has no string tensors",
                            names[which]);
    }
}

static onnxc_status constant_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    const constant_params *p = ctx->node->params;
    ctx->out[0]->dtype = p->value.dtype;
    ctx->out[0]->shape = p->value.shape;
    *workspace_bytes = 0;
    return ONNXC_OK;
}

static onnxc_status constant_run(oc_op_ctx *ctx)
{
    const constant_params *p = ctx->node->params;
    size_t bytes = 0;
    oc_shape_bytes(&p->value.shape, p->value.dtype, &bytes); /* checked in init */
    oc_mv_copy(ctx->out[0]->data, p->value.data, bytes, ctx->nthreads);
    return ONNXC_OK;
}

const oc_op_def oc_op_constant = {
    .name = "Constant",
    .domain = "",
    .versions = {1, 9, 11, 12, 13, 19, 21},
    .min_inputs = 0, .max_inputs = 0,
    .min_outputs = 1, .max_outputs = 1,
    .init = constant_init,
    .infer = constant_infer,
    .run = constant_run,
    .grad_inputs = 0, /* no inputs, no gradient */
};

/* ---- ConstantOfShape ---------------------------------------------------- */

typedef struct cos_params {
    oc_dtype dtype;
    size_t size;                      /* bytes of one element */
    bool zero;                        /* all bytes 0: the fill is a memset */
    unsigned char value[16];          /* the element */
} cos_params;

static onnxc_status cos_init(oc_node *n, onnxc_error *err)
{
    cos_params *p = oc_calloc(1, sizeof *p);
    if (!p) return oc_node_fail(n, err, ONNXC_ERR_NOMEM, "out of memory for parameters");
    n->params = p; /* freed by the graph, also on failure below */
    p->dtype = ONNXC_FLOAT;
    p->size = sizeof(float);
    p->zero = true;
    const Onnx__AttributeProto *a = oc_attr_find(n, "value");
    if (!a) return ONNXC_OK;
    if ((a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR) || !a->t)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL, "attribute 'value': expected a tensor");
    if (a->t->data_type == ONNXC_STRING)
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "attribute 'value': string tensors are not supported");
    onnxc_limits limits;
    onnxc_limits_default(&limits);
    oc_tensor t;
    bool owned = false;
    OC_TRY(oc_tensor_from_proto(a->t, &limits, &t, &owned, "ConstantOfShape attribute 'value'",
                                err));
    onnxc_status st = oc_mv_elem_size(n, "attribute 'value'", t.dtype, &p->size, err);
    char buf[160];
    if (st == ONNXC_OK && oc_shape_numel(&t.shape) != 1)
        st = oc_node_fail(n, err, ONNXC_ERR_MODEL,
                          "attribute 'value': expected a one-element tensor, got shape %s",
                          oc_shape_str(&t.shape, buf, sizeof buf));
    if (st == ONNXC_OK && p->size > sizeof p->value)
        st = oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED, "attribute 'value': dtype %s too wide",
                          oc_dtype_name(t.dtype));
    if (st == ONNXC_OK) {
        p->dtype = t.dtype;
        memcpy(p->value, t.data, p->size);
        for (size_t i = 0; i < p->size; i++) p->zero &= p->value[i] == 0;
    }
    if (owned) oc_aligned_free(t.data);
    return st;
}

static onnxc_status cos_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    const oc_node *n = ctx->node;
    const cos_params *p = n->params;
    int64_t dims[OC_MAX_RANK];
    int count;
    char buf[160];
    OC_TRY(oc_mv_read_i64(n, "input 'input'", ctx->in[0], false, dims, OC_MAX_RANK, &count,
                          ctx->err));
    oc_shape out = {.rank = count};
    for (int i = 0; i < count; i++) {
        if (dims[i] < 0)
            return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE,
                                "input 'input': expected dims >= 0, got %s",
                                oc_mv_list_str(dims, count, buf, sizeof buf));
        out.dims[i] = dims[i];
    }
    size_t bytes;
    if (!oc_shape_bytes(&out, p->dtype, &bytes))
        return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE, "output shape %s overflows",
                            oc_mv_list_str(dims, count, buf, sizeof buf));
    ctx->out[0]->dtype = p->dtype;
    ctx->out[0]->shape = out;
    *workspace_bytes = 0;
    return ONNXC_OK;
}

static onnxc_status cos_run(oc_op_ctx *ctx)
{
    const cos_params *p = ctx->node->params;
    size_t bytes = 0;
    oc_shape_bytes(&ctx->out[0]->shape, p->dtype, &bytes); /* checked in infer */
    char *y = ctx->out[0]->data;
    if (bytes == 0) return ONNXC_OK;
    if (p->zero) {
        memset(y, 0, bytes);
        return ONNXC_OK;
    }
    /* Write one element, then double the filled prefix: log2(n) memcpy's. */
    memcpy(y, p->value, p->size);
    for (size_t done = p->size; done < bytes;) {
        size_t n = done < bytes - done ? done : bytes - done;
        memcpy(y + done, y, n);
        done += n;
    }
    return ONNXC_OK;
}

const oc_op_def oc_op_constant_of_shape = {
    .name = "ConstantOfShape",
    .domain = "",
    .versions = {9, 20, 21},
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .value_inputs = 1u << 0,
    .init = cos_init,
    .infer = cos_infer,
    .run = cos_run,
    .grad_inputs = 0, /* no gradient: the input is an integer shape */
};
