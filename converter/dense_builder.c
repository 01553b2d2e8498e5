/*
 * Dense network -> serialized ONNX ModelProto (see dense_builder.h).
 *
 * Every protobuf-c struct, string and constant is allocated through
 * db_alloc, which records it in ctx->owned; db_free releases them all, so no
 * error path can leak. Weight arrays are borrowed: raw_data points at the
 * caller's floats and they are copied once, by the pack.
 */
#include "dense_builder.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "onnx.pb-c.h"

#define OPSET 13
#define IR_VERSION 7

static const char *const act_names[OC_ACT_COUNT] = {
    [OC_ACT_LINEAR] = "linear",       [OC_ACT_RELU] = "relu",
    [OC_ACT_SIGMOID] = "sigmoid",     [OC_ACT_TANH] = "tanh",
    [OC_ACT_SOFTMAX] = "softmax",     [OC_ACT_ELU] = "elu",
    [OC_ACT_SELU] = "selu",           [OC_ACT_SOFTPLUS] = "softplus",
    [OC_ACT_GELU] = "gelu",           [OC_ACT_LEAKY_RELU] = "leaky_relu",
    [OC_ACT_CLIP] = "relu(max_value)", [OC_ACT_SWISH] = "swish",
    [OC_ACT_SOFTSIGN] = "softsign",   [OC_ACT_EXPONENTIAL] = "exponential",
    [OC_ACT_LOG_SOFTMAX] = "log_softmax",
};

const char *oc_act_name(oc_act_kind kind)
{
    return (unsigned)kind < OC_ACT_COUNT ? act_names[kind] : "unknown";
}

bool oc_act_parse(const char *name, oc_act *act)
{
    oc_act a = {.kind = OC_ACT_LINEAR, .alpha = 1.0f, .max = 0.0f, .axis = -1};
    if (!name) {
        *act = a;
        return true;
    }
    static const struct { const char *name; oc_act_kind kind; float alpha; } table[] = {
        {"linear", OC_ACT_LINEAR, 1.0f},     {"relu", OC_ACT_RELU, 1.0f},
        {"sigmoid", OC_ACT_SIGMOID, 1.0f},   {"tanh", OC_ACT_TANH, 1.0f},
        {"softmax", OC_ACT_SOFTMAX, 1.0f},   {"elu", OC_ACT_ELU, 1.0f},
        {"selu", OC_ACT_SELU, 1.0f},         {"softplus", OC_ACT_SOFTPLUS, 1.0f},
        {"gelu", OC_ACT_GELU, 1.0f},         {"swish", OC_ACT_SWISH, 1.0f},
        {"silu", OC_ACT_SWISH, 1.0f},        {"softsign", OC_ACT_SOFTSIGN, 1.0f},
        {"exponential", OC_ACT_EXPONENTIAL, 1.0f},
        {"log_softmax", OC_ACT_LOG_SOFTMAX, 1.0f},
        /* keras.activations.leaky_relu defaults to negative_slope 0.2
         * (Keras 3); the LeakyReLU layer's 0.3 is set by the layer parser. */
        {"leaky_relu", OC_ACT_LEAKY_RELU, 0.2f},
        {"relu6", OC_ACT_CLIP, 1.0f},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(name, table[i].name) != 0) continue;
        a.kind = table[i].kind;
        a.alpha = table[i].alpha;
        if (!strcmp(name, "relu6")) a.max = 6.0f;
        *act = a;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Allocation bookkeeping                                                    */

typedef struct db_ctx {
    void **owned;                     /* every allocation, freed by db_free */
    size_t n_owned, cap_owned;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    const char **names;               /* every value name, kept unique */
    size_t n_names, cap_names;
    bool nomem;
    /* The running value: its name and shape (dims[0] is the batch, -1). */
    const char *cur;
    int rank;
    int64_t dims[ONNXC_MAX_RANK];
} db_ctx;

static bool db_grow(db_ctx *c, void *arrp, size_t *cap, size_t need, size_t elem)
{
    void **arr = arrp;
    if (need <= *cap) return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) ncap *= 2;
    void *p = oc_realloc(*arr, ncap * elem);
    if (!p) {
        c->nomem = true;
        return false;
    }
    *arr = p;
    *cap = ncap;
    return true;
}

static void *db_alloc(db_ctx *c, size_t size)
{
    if (c->nomem) return NULL;
    if (!db_grow(c, &c->owned, &c->cap_owned, c->n_owned + 1, sizeof *c->owned)) return NULL;
    void *p = oc_calloc(1, size);
    if (!p) {
        c->nomem = true;
        return NULL;
    }
    c->owned[c->n_owned++] = p;
    return p;
}

static char *db_fmt(db_ctx *c, const char *fmt, ...) OC_PRINTF(2, 3);
static char *db_fmt(db_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        c->nomem = true;
        return NULL;
    }
    char *s = db_alloc(c, (size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void db_free(db_ctx *c)
{
    for (size_t i = 0; i < c->n_owned; i++) oc_free(c->owned[i]);
    oc_free(c->owned);
    oc_free(c->nodes);
    oc_free(c->inits);
    oc_free(c->names);
}

static bool db_name_used(const db_ctx *c, const char *s)
{
    for (size_t i = 0; i < c->n_names; i++)
        if (!strcmp(c->names[i], s)) return true;
    return false;
}

/* `base`, or base_1, base_2 ... when taken; registered as used. Keras layer
 * names are unique within one model, but nested models may repeat them. */
static const char *db_unique(db_ctx *c, const char *base)
{
    if (!base || c->nomem) return NULL;
    const char *s = base;
    for (int k = 1; db_name_used(c, s); k++) {
        s = db_fmt(c, "%s_%d", base, k);
        if (!s) return NULL;
    }
    if (!db_grow(c, &c->names, &c->cap_names, c->n_names + 1, sizeof *c->names)) return NULL;
    c->names[c->n_names++] = s;
    return s;
}

/* ------------------------------------------------------------------------ */
/* Protobuf pieces                                                           */

/* A float initializer. `data` is borrowed when `borrow`, else copied into
 * builder-owned memory. */
static const char *db_init_float(db_ctx *c, const char *name, int rank, const int64_t *dims,
                                 const float *data, bool borrow)
{
    Onnx__TensorProto *t = db_alloc(c, sizeof *t);
    int64_t *d = db_alloc(c, sizeof(int64_t) * (size_t)(rank ? rank : 1));
    const char *uname = db_unique(c, name);
    if (!t || !d || !uname) return NULL;
    onnx__tensor_proto__init(t);
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        d[i] = dims[i];
        n *= (size_t)dims[i];
    }
    const float *src = data;
    if (!borrow) {
        float *copy = db_alloc(c, n * sizeof(float));
        if (!copy) return NULL;
        memcpy(copy, data, n * sizeof(float));
        src = copy;
    }
    t->name = (char *)uname;
    t->n_dims = (size_t)rank;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    /* raw_data is little-endian by definition; let protobuf-c encode. */
    t->n_float_data = n;
    t->float_data = (float *)src;
#else
    t->has_raw_data = 1;
    t->raw_data.len = n * sizeof(float);
    t->raw_data.data = (uint8_t *)src;  /* only read by the pack */
#endif
    if (!db_grow(c, &c->inits, &c->cap_inits, c->n_inits + 1, sizeof *c->inits)) return NULL;
    c->inits[c->n_inits++] = t;
    return uname;
}

static const char *db_scalar(db_ctx *c, const char *name, float v)
{
    return db_init_float(c, name, 0, NULL, &v, false);
}

static const char *db_init_int64(db_ctx *c, const char *name, size_t n, const int64_t *vals)
{
    Onnx__TensorProto *t = db_alloc(c, sizeof *t);
    int64_t *d = db_alloc(c, sizeof(int64_t));
    int64_t *copy = db_alloc(c, n * sizeof(int64_t));
    const char *uname = db_unique(c, name);
    if (!t || !d || !copy || !uname) return NULL;
    onnx__tensor_proto__init(t);
    memcpy(copy, vals, n * sizeof(int64_t));
    d[0] = (int64_t)n;
    t->name = (char *)uname;
    t->n_dims = 1;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    t->n_int64_data = n;
    t->int64_data = copy;
    if (!db_grow(c, &c->inits, &c->cap_inits, c->n_inits + 1, sizeof *c->inits)) return NULL;
    c->inits[c->n_inits++] = t;
    return uname;
}

static Onnx__AttributeProto *db_attr_float(db_ctx *c, const char *name, float v)
{
    Onnx__AttributeProto *a = db_alloc(c, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;   /* static strings only */
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1;
    a->f = v;
    return a;
}

static Onnx__AttributeProto *db_attr_int(db_ctx *c, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = db_alloc(c, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = v;
    return a;
}

/* Append node "<layer>/<tag>" of `op` reading `in`, with at most one
 * attribute; returns its output name "<layer>/<tag>:0" (NULL: no memory). */
static const char *db_node(db_ctx *c, const char *layer, const char *tag, const char *op,
                           size_t n_in, const char *const *in, Onnx__AttributeProto *attr)
{
    Onnx__NodeProto *nd = db_alloc(c, sizeof *nd);
    char **ins = db_alloc(c, n_in * sizeof *ins);
    char **outs = db_alloc(c, sizeof *outs);
    Onnx__AttributeProto **attrs = attr ? db_alloc(c, sizeof *attrs) : NULL;
    char *name = db_fmt(c, "%s/%s", layer, tag);
    const char *out = name ? db_unique(c, db_fmt(c, "%s:0", name)) : NULL;
    if (!nd || !ins || !outs || (attr && !attrs) || !out) return NULL;
    for (size_t i = 0; i < n_in; i++) {
        if (!in[i]) return NULL;
        ins[i] = (char *)in[i];
    }
    onnx__node_proto__init(nd);
    nd->name = name;
    nd->op_type = (char *)op;
    nd->domain = (char *)"";
    nd->n_input = n_in;
    nd->input = ins;
    nd->n_output = 1;
    nd->output = outs;
    outs[0] = (char *)out;
    if (attr) {
        attrs[0] = attr;
        nd->n_attribute = 1;
        nd->attribute = attrs;
    }
    if (!db_grow(c, &c->nodes, &c->cap_nodes, c->n_nodes + 1, sizeof *c->nodes)) return NULL;
    c->nodes[c->n_nodes++] = nd;
    return out;
}

/* Unary node on the running value. */
static bool db_unary(db_ctx *c, const char *layer, const char *op, Onnx__AttributeProto *attr)
{
    const char *in[1] = {c->cur};
    c->cur = db_node(c, layer, op, op, 1, in, attr);
    return c->cur != NULL;
}

static bool db_binary(db_ctx *c, const char *layer, const char *tag, const char *op,
                      const char *a, const char *b)
{
    const char *in[2] = {a, b};
    c->cur = db_node(c, layer, tag, op, 2, in, NULL);
    return c->cur != NULL;
}

/* ------------------------------------------------------------------------ */
/* Layers                                                                    */

static onnxc_status db_activation(db_ctx *c, const char *layer, const oc_act *a, onnxc_error *err)
{
    const char *x = c->cur;
    switch (a->kind) {
    case OC_ACT_LINEAR: return ONNXC_OK;
    case OC_ACT_RELU: db_unary(c, layer, "Relu", NULL); break;
    case OC_ACT_SIGMOID: db_unary(c, layer, "Sigmoid", NULL); break;
    case OC_ACT_TANH: db_unary(c, layer, "Tanh", NULL); break;
    case OC_ACT_SELU: db_unary(c, layer, "Selu", NULL); break;
    case OC_ACT_SOFTPLUS: db_unary(c, layer, "Softplus", NULL); break;
    case OC_ACT_SOFTSIGN: db_unary(c, layer, "Softsign", NULL); break;
    case OC_ACT_EXPONENTIAL: db_unary(c, layer, "Exp", NULL); break;
    case OC_ACT_ELU: db_unary(c, layer, "Elu", db_attr_float(c, "alpha", a->alpha)); break;
    case OC_ACT_LEAKY_RELU:
        db_unary(c, layer, "LeakyRelu", db_attr_float(c, "alpha", a->alpha));
        break;
    case OC_ACT_SOFTMAX:
    case OC_ACT_LOG_SOFTMAX:
        if (a->axis < -c->rank || a->axis >= c->rank)
            return oc_fail(err, ONNXC_ERR_MODEL, "layer '%s': %s axis %lld is outside [%d, %d]",
                           layer, oc_act_name(a->kind), (long long)a->axis, -c->rank, c->rank - 1);
        db_unary(c, layer, a->kind == OC_ACT_SOFTMAX ? "Softmax" : "LogSoftmax",
                 db_attr_int(c, "axis", a->axis));
        break;
    case OC_ACT_CLIP: {
        /* Clip-13 takes min and max as inputs. */
        const char *in[3] = {x, db_scalar(c, db_fmt(c, "%s/clip_min", layer), 0.0f),
                             db_scalar(c, db_fmt(c, "%s/clip_max", layer), a->max)};
        c->cur = db_node(c, layer, "Clip", "Clip", 3, in, NULL);
        break;
    }
    case OC_ACT_SWISH:
        if (db_unary(c, layer, "Sigmoid", NULL)) db_binary(c, layer, "Mul", "Mul", x, c->cur);
        break;
    case OC_ACT_GELU: {
        /* Keras gelu (approximate=False): 0.5 * x * (1 + erf(x / sqrt(2))). */
        const char *sqrt2 = db_scalar(c, db_fmt(c, "%s/gelu_sqrt2", layer), (float)M_SQRT2);
        const char *one = db_scalar(c, db_fmt(c, "%s/gelu_one", layer), 1.0f);
        const char *half = db_scalar(c, db_fmt(c, "%s/gelu_half", layer), 0.5f);
        if (db_binary(c, layer, "Div", "Div", x, sqrt2) && db_unary(c, layer, "Erf", NULL) &&
            db_binary(c, layer, "Add", "Add", c->cur, one) &&
            db_binary(c, layer, "Mul", "Mul", x, c->cur))
            db_binary(c, layer, "Mul_1", "Mul", c->cur, half);
        break;
    }
    default:
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "layer '%s': unknown activation %d", layer,
                       (int)a->kind);
    }
    if (!c->cur) c->nomem = true;
    return ONNXC_OK;
}

static onnxc_status db_dense(db_ctx *c, const oc_db_layer *l, onnxc_error *err)
{
    int64_t in = c->dims[c->rank - 1];
    if (c->rank < 2 || in <= 0)
        return oc_fail(err, ONNXC_ERR_MODEL,
                       "layer '%s' (Dense): the input's last dim must be known; got %s", l->name,
                       c->rank < 2 ? "a rank-1 value" : "an unknown width");
    if (l->units <= 0 || !l->kernel)
        return oc_fail(err, ONNXC_ERR_MODEL, "layer '%s' (Dense): expected units > 0 and a kernel",
                       l->name);
    int64_t n;
    if (__builtin_mul_overflow(in, l->units, &n) || n > (int64_t)(SIZE_MAX / sizeof(float)))
        return oc_fail(err, ONNXC_ERR_LIMIT, "layer '%s' (Dense): kernel [%lld, %lld] is too large",
                       l->name, (long long)in, (long long)l->units);
    int64_t kd[2] = {in, l->units};
    const char *w = db_init_float(c, db_fmt(c, "%s/kernel", l->name), 2, kd, l->kernel, true);
    if (!db_binary(c, l->name, "MatMul", "MatMul", c->cur, w)) return ONNXC_OK;
    if (l->bias) {
        const char *b = db_init_float(c, db_fmt(c, "%s/bias", l->name), 1, &l->units, l->bias, true);
        /* tf2onnx keeps TF's op name, BiasAdd, as the Add node's name. */
        if (!db_binary(c, l->name, "BiasAdd", "Add", c->cur, b)) return ONNXC_OK;
    }
    c->dims[c->rank - 1] = l->units;
    return db_activation(c, l->name, &l->act, err);
}

static const char *shape_str(int rank, const int64_t *dims, char *buf, size_t size)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, size - o, "[");
    for (int i = 0; i < rank && o < size; i++) {
        if (dims[i] < 0) o += (size_t)snprintf(buf + o, size - o, "%sN", i ? "," : "");
        else o += (size_t)snprintf(buf + o, size - o, "%s%lld", i ? "," : "", (long long)dims[i]);
    }
    if (o < size) snprintf(buf + o, size - o, "]");
    return buf;
}

static onnxc_status db_reshape(db_ctx *c, const oc_db_layer *l, onnxc_error *err)
{
    char a[160], b[160];
    int64_t known = 1;
    for (int i = 1; i < c->rank; i++) {
        if (c->dims[i] < 0 || __builtin_mul_overflow(known, c->dims[i], &known))
            return oc_fail(err, ONNXC_ERR_MODEL,
                           "layer '%s' (Reshape): input shape %s must be fully known", l->name,
                           shape_str(c->rank, c->dims, a, sizeof a));
    }
    if (l->rank < 1 || l->rank > ONNXC_MAX_RANK - 1)
        return oc_fail(err, ONNXC_ERR_MODEL, "layer '%s' (Reshape): target rank %d is outside [1, %d]",
                       l->name, l->rank, ONNXC_MAX_RANK - 1);
    int64_t target[ONNXC_MAX_RANK] = {-1};
    int64_t prod = 1;
    int free_at = -1;
    for (int i = 0; i < l->rank; i++) {
        int64_t d = l->shape[i];
        target[i + 1] = d;
        if (d == -1 && free_at < 0) free_at = i + 1;
        else if (d <= 0 || __builtin_mul_overflow(prod, d, &prod))
            return oc_fail(err, ONNXC_ERR_MODEL,
                           "layer '%s' (Reshape): target %s has an unusable dim", l->name,
                           shape_str(l->rank, l->shape, b, sizeof b));
    }
    if (free_at > 0) {
        if (known % prod != 0)
            return oc_fail(err, ONNXC_ERR_SHAPE, "layer '%s' (Reshape): cannot reshape %s to %s",
                           l->name, shape_str(c->rank, c->dims, a, sizeof a),
                           shape_str(l->rank, l->shape, b, sizeof b));
        target[free_at] = known / prod;
    } else if (prod != known) {
        return oc_fail(err, ONNXC_ERR_SHAPE,
                       "layer '%s' (Reshape): cannot reshape %s (%lld elements per sample) to %s",
                       l->name, shape_str(c->rank, c->dims, a, sizeof a), (long long)known,
                       shape_str(l->rank, l->shape, b, sizeof b));
    }
    /* The file keeps -1 for the batch and the resolved feature dims, as
     * tf2onnx's const-folded shape does ([-1, 784]). */
    const char *shape = db_init_int64(c, db_fmt(c, "%s/shape", l->name), (size_t)l->rank + 1, target);
    if (!db_binary(c, l->name, "Reshape", "Reshape", c->cur, shape)) return ONNXC_OK;
    c->rank = l->rank + 1;
    for (int i = 1; i < c->rank; i++) c->dims[i] = target[i];
    return ONNXC_OK;
}

static onnxc_status db_batchnorm(db_ctx *c, const oc_db_layer *l, onnxc_error *err)
{
    if (l->axis < 1 || l->axis >= c->rank)
        return oc_fail(err, ONNXC_ERR_MODEL,
                       "layer '%s' (BatchNormalization): axis %d is outside [1, %d]", l->name,
                       l->axis, c->rank - 1);
    int64_t ch = c->dims[l->axis];
    if (ch <= 0 || !l->mean || !l->var)
        return oc_fail(err, ONNXC_ERR_MODEL,
                       "layer '%s' (BatchNormalization): expected a known channel dim and moving "
                       "mean/variance", l->name);
    size_t n = (size_t)ch;
    if (l->axis == 1) {
        float *ones = NULL, *zeros = NULL;
        if (!l->gamma || !l->beta) {
            ones = db_alloc(c, n * sizeof(float));
            zeros = db_alloc(c, n * sizeof(float));
            if (!ones || !zeros) return ONNXC_OK;
            for (size_t i = 0; i < n; i++) ones[i] = 1.0f;
        }
        const char *in[5] = {
            c->cur,
            db_init_float(c, db_fmt(c, "%s/gamma", l->name), 1, &ch, l->gamma ? l->gamma : ones, true),
            db_init_float(c, db_fmt(c, "%s/beta", l->name), 1, &ch, l->beta ? l->beta : zeros, true),
            db_init_float(c, db_fmt(c, "%s/moving_mean", l->name), 1, &ch, l->mean, true),
            db_init_float(c, db_fmt(c, "%s/moving_variance", l->name), 1, &ch, l->var, true)};
        c->cur = db_node(c, l->name, "FusedBatchNormV3", "BatchNormalization", 5, in,
                         db_attr_float(c, "epsilon", l->epsilon));
        if (!c->cur) c->nomem = true;
        return ONNXC_OK;
    }
    if (l->axis != c->rank - 1)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                       "layer '%s' (BatchNormalization): axis %d of a rank-%d value; onnxc converts "
                       "axis 1 or the last axis", l->name, l->axis, c->rank);
    /* Channels last: y = x * s + t with s = gamma / sqrt(var + eps) and
     * t = beta - mean * s, folded in double (what the op computes). */
    float *s = db_alloc(c, n * sizeof(float));
    float *t = db_alloc(c, n * sizeof(float));
    if (!s || !t) return ONNXC_OK;
    for (size_t i = 0; i < n; i++) {
        double g = l->gamma ? l->gamma[i] : 1.0, b = l->beta ? l->beta[i] : 0.0;
        double sc = g / sqrt((double)l->var[i] + (double)l->epsilon);
        s[i] = (float)sc;
        t[i] = (float)(b - (double)l->mean[i] * sc);
    }
    const char *sn = db_init_float(c, db_fmt(c, "%s/scale", l->name), 1, &ch, s, true);
    const char *tn = db_init_float(c, db_fmt(c, "%s/shift", l->name), 1, &ch, t, true);
    if (db_binary(c, l->name, "Mul", "Mul", c->cur, sn)) db_binary(c, l->name, "Add", "Add", c->cur, tn);
    return ONNXC_OK;
}

static onnxc_status db_layer(db_ctx *c, const oc_db_layer *l, onnxc_error *err)
{
    if (!l->name || !l->name[0]) return oc_fail(err, ONNXC_ERR_ARGUMENT, "dense builder: layer without a name");
    switch (l->kind) {
    case OC_DB_DENSE: return db_dense(c, l, err);
    case OC_DB_ACTIVATION: return db_activation(c, l->name, &l->act, err);
    case OC_DB_RESHAPE: return db_reshape(c, l, err);
    case OC_DB_BATCHNORM: return db_batchnorm(c, l, err);
    }
    return oc_fail(err, ONNXC_ERR_ARGUMENT, "layer '%s': unknown layer kind %d", l->name, (int)l->kind);
}

/* ------------------------------------------------------------------------ */
/* Graph and model                                                           */

static Onnx__ValueInfoProto *db_value_info(db_ctx *c, const char *name, int rank,
                                           const int64_t *dims, int *unk)
{
    Onnx__ValueInfoProto *vi = db_alloc(c, sizeof *vi);
    Onnx__TypeProto *tp = db_alloc(c, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = db_alloc(c, sizeof *tt);
    Onnx__TensorShapeProto *sh = db_alloc(c, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dv = db_alloc(c, (size_t)rank * sizeof *dv);
    if (!vi || !tp || !tt || !sh || !dv) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = db_alloc(c, sizeof *d);
        if (!d) return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (i == 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = (char *)"N";
        } else if (dims[i] < 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = db_fmt(c, "unk__%d", (*unk)++);
            if (!d->dim_param) return NULL;
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        dv[i] = d;
    }
    sh->n_dim = (size_t)rank;
    sh->dim = dv;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = (char *)name;
    vi->type = tp;
    return vi;
}

static onnxc_status db_pack(db_ctx *c, const oc_db_model *m, Onnx__ValueInfoProto *in,
                            Onnx__ValueInfoProto *out, void **bytes, size_t *size,
                            onnxc_error *err)
{
    Onnx__GraphProto g;
    Onnx__ModelProto mp;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    Onnx__ValueInfoProto *ins[1] = {in}, *outs[1] = {out};
    onnx__graph_proto__init(&g);
    onnx__model_proto__init(&mp);
    onnx__operator_set_id_proto__init(&opset);
    opset.domain = (char *)"";
    opset.has_version = 1;
    opset.version = OPSET;
    g.name = (char *)(m->graph_name ? m->graph_name : "onnxc");
    g.n_node = c->n_nodes;
    g.node = c->nodes;
    g.n_initializer = c->n_inits;
    g.initializer = c->inits;
    g.n_input = 1;
    g.input = ins;
    g.n_output = 1;
    g.output = outs;
    mp.has_ir_version = 1;
    mp.ir_version = IR_VERSION;
    mp.n_opset_import = 1;
    mp.opset_import = opsets;
    mp.producer_name = (char *)"onnxc";
    mp.producer_version = (char *)onnxc_version();
    mp.doc_string = (char *)m->doc_string;
    mp.graph = &g;
    size_t n = onnx__model_proto__get_packed_size(&mp);
    uint8_t *buf = oc_malloc(n);
    if (!buf) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory packing a %zu-byte ONNX model", n);
    size_t wrote = onnx__model_proto__pack(&mp, buf);
    if (wrote != n) {
        oc_free(buf);
        return oc_fail(err, ONNXC_ERR_RUNTIME, "protobuf pack wrote %zu bytes; expected %zu", wrote, n);
    }
    *bytes = buf;
    *size = n;
    return ONNXC_OK;
}

onnxc_status oc_db_build(const oc_db_model *m, void **bytes, size_t *size, onnxc_error *err)
{
    if (!m || !bytes || !size || (m->n_layers && !m->layers))
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "oc_db_build: NULL argument");
    if (m->in_rank < 1 || m->in_rank > ONNXC_MAX_RANK - 1)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "dense builder: input rank %d is outside [1, %d]",
                       m->in_rank, ONNXC_MAX_RANK - 1);
    db_ctx c = {0};
    c.rank = m->in_rank + 1;
    c.dims[0] = -1;
    for (int i = 0; i < m->in_rank; i++) c.dims[i + 1] = m->in_dims[i] > 0 ? m->in_dims[i] : -1;
    int in_rank = c.rank;
    int64_t in_dims[ONNXC_MAX_RANK];
    memcpy(in_dims, c.dims, sizeof in_dims);
    const char *in_name = db_unique(&c, m->input_name ? m->input_name : "input");
    c.cur = in_name;

    onnxc_status st = ONNXC_OK;
    for (size_t i = 0; i < m->n_layers && st == ONNXC_OK && !c.nomem; i++)
        st = db_layer(&c, &m->layers[i], err);

    if (st == ONNXC_OK && !c.nomem) {
        const char *last = m->n_layers ? m->layers[m->n_layers - 1].name : "output";
        const char *want = m->output_name ? m->output_name : last;
        if (c.cur == in_name) {
            /* Nothing was emitted (only Dropout-like layers): the graph
             * still needs a node between input and output. */
            const char *in[1] = {c.cur};
            c.cur = db_node(&c, want, "Identity", "Identity", 1, in, NULL);
        }
        const char *out_name = db_unique(&c, want);
        if (c.cur && out_name) {
            /* Only the graph output reads the last node's value. */
            c.nodes[c.n_nodes - 1]->output[0] = (char *)out_name;
            int unk = 1;
            Onnx__ValueInfoProto *vin = db_value_info(&c, in_name, in_rank, in_dims, &unk);
            Onnx__ValueInfoProto *vout = db_value_info(&c, out_name, c.rank, c.dims, &unk);
            if (vin && vout) st = db_pack(&c, m, vin, vout, bytes, size, err);
        }
    }
    if (st == ONNXC_OK && c.nomem) st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory building the ONNX graph");
    db_free(&c);
    return st;
}
