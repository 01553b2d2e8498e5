/*
 * Dropout (opset 7, 10, 12, 13).
 *
 *   7, 10   attribute ratio = 0.5; always inference: output = data, mask all
 *           ones (mask has data's dtype at 7, bool from 10).
 *   12, 13  optional inputs ratio (float scalar, default 0.5) and
 *           training_mode (bool scalar, default false); attribute seed.
 *           Inference: output = data, mask all true. Training:
 *             mask   = uniform[0, 1) >= ratio
 *             output = data * mask * 1 / (1 - ratio)
 *           13 only added bfloat16.
 *
 * The uniform numbers reproduce the ONNX reference (numpy's legacy
 * RandomState): `np.random.seed(seed); np.random.uniform(0, 1, shape)`, one
 * MT19937 double per element in C order (see rng.h). With a seed attribute
 * the mask is the same on every run (its low 32 bits seed the generator;
 * numpy only accepts seeds in [0, 2^32)). Without one, a seed is drawn from
 * the session's RNG state, which advances, so each run differs: the op is
 * marked OC_OP_NONDETERMINISTIC and never constant-folded.
 * Types: data float, double; ratio float, double.
 *
 * Training (ctx->training, Keras fit semantics): when the node has no
 * training_mode input (every version), it drops as if training_mode were
 * true, with the ratio it has (attribute, input or 0.5); an explicit
 * training_mode input still decides. The keep mask [n] (one byte per element)
 * goes to ctx->saved for the backward pass:
 *   dropping:      dx += dy * mask * 1 / (1 - ratio)
 *   not dropping:  dx += dy
 * At opset 7 in training the mask output holds 1/0 in data's dtype.
 */
#include "nn.h"

#include <string.h>

#include "../attr.h"
#include "../rng.h"

typedef struct do_params {
    float ratio;                       /* attribute (before 12) */
    bool has_seed;
    uint32_t seed;
} do_params;

static onnxc_status do_init(oc_node *node, onnxc_error *err)
{
    do_params p = {.ratio = 0.5f};
    if (node->since < 12) {
        if (node->n_in > 1)
            return oc_node_fail(node, err, ONNXC_ERR_MODEL,
                                "expected 1 input before opset 12 (Dropout-%d takes the ratio "
                                "as an attribute), got %d",
                                node->since, node->n_in);
        OC_TRY(oc_attr_float(node, "ratio", 0.5f, &p.ratio, err));
    } else {
        int64_t seed;
        p.has_seed = oc_attr_find(node, "seed") != NULL;
        OC_TRY(oc_attr_int(node, "seed", 0, &seed, err));
        p.seed = (uint32_t)seed;
    }
    return oc_nn_set_params(node, &p, sizeof p, err);
}

/* Optional scalar input i must hold one element of an allowed dtype. */
static onnxc_status do_scalar(const oc_op_ctx *ctx, int i, bool want_bool)
{
    const oc_tensor *t = ctx->in[i];
    char s[160];
    if (want_bool ? t->dtype != ONNXC_BOOL : !oc_dtype_is_float(t->dtype))
        return oc_nn_bad_dtype(ctx, i, want_bool ? "bool" : "float, double");
    if (oc_shape_numel(&t->shape) != 1)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "input %d '%s': expected a scalar, got shape %s", i,
                            oc_nn_in_name(ctx->node, i), oc_shape_str(&t->shape, s, sizeof s));
    return ONNXC_OK;
}

static onnxc_status do_infer(oc_op_ctx *ctx, size_t *ws)
{
    *ws = 0;
    OC_TRY(oc_nn_float_input(ctx, 0));
    if (ctx->n_in > 1 && ctx->in[1]) OC_TRY(do_scalar(ctx, 1, false));
    if (ctx->n_in > 2 && ctx->in[2]) OC_TRY(do_scalar(ctx, 2, true));
    ctx->out[0]->dtype = ctx->in[0]->dtype;
    ctx->out[0]->shape = ctx->in[0]->shape;
    /* [n] keep flags (0/1) from the forward to the backward pass. */
    if (ctx->training) ctx->saved_bytes = (size_t)oc_shape_numel(&ctx->in[0]->shape);
    if (ctx->n_out > 1 && ctx->out[1]) {
        ctx->out[1]->dtype = ctx->node->since >= 10 ? ONNXC_BOOL : ctx->in[0]->dtype;
        ctx->out[1]->shape = ctx->in[0]->shape;
    }
    return ONNXC_OK;
}

/* This run's ratio, and whether it drops at all: the training_mode input
 * when given, else the session's training flag; ratio 0 never drops. */
static void do_mode(const oc_op_ctx *ctx, double *ratio, bool *drop)
{
    const do_params *p = ctx->node->params;
    *ratio = p->ratio;
    if (ctx->n_in > 1 && ctx->in[1]) {
        const oc_tensor *r = ctx->in[1];
        /* float scalar: the comparison below uses its exact value, as numpy. */
        *ratio = r->dtype == ONNXC_FLOAT ? (double)*(const float *)r->data
                                         : *(const double *)r->data;
    }
    const bool training = ctx->n_in > 2 && ctx->in[2] ? *(const uint8_t *)ctx->in[2]->data != 0
                                                      : ctx->training;
    *drop = training && *ratio != 0.0;
}

/* Mask output from keep flags: bool (10+) or data's dtype (7); NULL keep: all ones. */
static void do_write_mask(oc_tensor *mask, const uint8_t *keep, int64_t n)
{
    if (mask->dtype == ONNXC_BOOL) {
        if (!keep) memset(mask->data, 1, (size_t)n);
        else if (mask->data != keep) memcpy(mask->data, keep, (size_t)n);
    } else if (mask->dtype == ONNXC_FLOAT) {
        for (int64_t i = 0; i < n; i++) ((float *)mask->data)[i] = keep ? (float)keep[i] : 1.0f;
    } else {
        for (int64_t i = 0; i < n; i++) ((double *)mask->data)[i] = keep ? (double)keep[i] : 1.0;
    }
}

/* Inference: output = data, mask all ones. */
static void do_identity(oc_op_ctx *ctx, int64_t n)
{
    const oc_tensor *X = ctx->in[0];
    oc_tensor *mask = ctx->n_out > 1 ? ctx->out[1] : NULL;
    const size_t es = oc_dtype_size(X->dtype);
    if (ctx->out[0]->data != X->data) memcpy(ctx->out[0]->data, X->data, (size_t)n * es);
    if (mask) do_write_mask(mask, NULL, n);
}

/* Training: y = x * m * scale with m = (u >= ratio), u drawn in element order.
 * scale is computed in T, and (x * m) * scale in that order, as numpy does. */
#define DO_TRAIN(NAME, T)                                                                  \
    static void NAME(T *y, uint8_t *mask, const T *x, int64_t n, double ratio,            \
                     oc_mt19937 *mt)                                                       \
    {                                                                                      \
        const T scale = (T)1 / ((T)1 - (T)ratio);                                          \
        for (int64_t i = 0; i < n; i++) {                                                  \
            const bool keep = oc_mt_next_double(mt) >= ratio;                              \
            y[i] = ((T)keep * x[i]) * scale;                                               \
            if (mask) mask[i] = keep;                                                      \
        }                                                                                  \
    }
DO_TRAIN(do_train_f32, float)
DO_TRAIN(do_train_f64, double)

static onnxc_status do_run(oc_op_ctx *ctx)
{
    const do_params *p = ctx->node->params;
    const oc_tensor *X = ctx->in[0];
    const int64_t n = oc_tensor_numel(X);
    double ratio;
    bool drop;
    do_mode(ctx, &ratio, &drop);
    if (!drop) {
        do_identity(ctx, n);
        return ONNXC_OK;
    }
    if (!(ratio > 0.0 && ratio < 1.0)) {
        if (ctx->node->since < 12)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                                "attribute 'ratio' is %g: expected a value in [0, 1) in "
                                "training mode", ratio);
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                            "input 1 '%s' (ratio) is %g: expected a value in [0, 1) in "
                            "training mode",
                            oc_nn_in_name(ctx->node, 1), ratio);
    }
    uint32_t seed = p->seed;
    if (!p->has_seed) {
        if (!ctx->rng)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                                "training mode without a 'seed' attribute needs the session's "
                                "random state, and none was given");
        seed = (uint32_t)(oc_rng_next(ctx->rng) >> 32);
    }
    oc_mt19937 mt;
    oc_mt_seed(&mt, seed);
    oc_tensor *mask = ctx->n_out > 1 ? ctx->out[1] : NULL;
    /* Keep flags go to the saved buffer (backward), else straight to a bool mask. */
    uint8_t *keep = ctx->saved ? ctx->saved
                               : (mask && mask->dtype == ONNXC_BOOL ? mask->data : NULL);
    if (X->dtype == ONNXC_FLOAT)
        do_train_f32(ctx->out[0]->data, keep, X->data, n, ratio, &mt);
    else
        do_train_f64(ctx->out[0]->data, keep, X->data, n, ratio, &mt);
    if (mask) do_write_mask(mask, keep, n);
    return ONNXC_OK;
}

#define DO_BACK(NAME, T)                                                                   \
    static void NAME(T *dx, const T *dy, const uint8_t *keep, int64_t n, double ratio,    \
                     int nthreads)                                                         \
    {                                                                                      \
        const T scale = (T)1 / ((T)1 - (T)ratio);                                          \
        const int parts = oc_ew_parts(n, nthreads);                                        \
        OC_PAR_FOR(parts, c, {                                                             \
            int64_t lo, hi;                                                                \
            oc_split_range(n, parts, c, &lo, &hi);                                         \
            if (keep)                                                                      \
                for (int64_t i = lo; i < hi; i++) dx[i] += ((T)keep[i] * dy[i]) * scale;   \
            else                                                                           \
                for (int64_t i = lo; i < hi; i++) dx[i] += dy[i];                          \
        });                                                                                \
    }
DO_BACK(do_back_f32, float)
DO_BACK(do_back_f64, double)

static onnxc_status do_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                oc_tensor *const *din)
{
    const oc_tensor *X = ctx->in[0];
    const int64_t n = oc_tensor_numel(X);
    if (!dout[0] || !din[0] || n == 0) return ONNXC_OK;
    double ratio;
    bool drop;
    do_mode(ctx, &ratio, &drop);
    const uint8_t *keep = NULL;
    if (drop) {
        const oc_tensor *mask = ctx->n_out > 1 ? ctx->out[1] : NULL;
        keep = ctx->saved ? ctx->saved
                          : (mask && mask->dtype == ONNXC_BOOL ? mask->data : NULL);
        if (!keep)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                                "backward through a dropping Dropout needs its mask: run the "
                                "forward with training semantics or request the mask output");
    }
    if (X->dtype == ONNXC_FLOAT)
        do_back_f32(din[0]->data, dout[0]->data, keep, n, ratio, ctx->nthreads);
    else
        do_back_f64(din[0]->data, dout[0]->data, keep, n, ratio, ctx->nthreads);
    return ONNXC_OK;
}

const oc_op_def oc_op_dropout = {
    .name = "Dropout", .domain = "", .versions = {7, 10, 12, 13},
    .min_inputs = 1, .max_inputs = 3, .min_outputs = 1, .max_outputs = 2,
    .flags = OC_OP_NONDETERMINISTIC,
    .init = do_init, .infer = do_infer, .run = do_run,
    .grad_inputs = 0x1, .backward = do_backward,
};
