/*
 * Clip: Y = min(max(X, lo), hi), same shape and dtype as X.
 *
 * Spec summary:
 *   1, 6   lo/hi are float attributes `min`/`max`, defaulting to the float
 *          range (lowest()/max()); T float types. (1 also had consumed_inputs.)
 *   11     lo/hi become optional scalar inputs 1 and 2 of type T; an omitted
 *          one defaults to T's lowest()/max().
 *   12, 13 T widened to integer types (13: bfloat16).
 *   When lo > hi every element becomes hi (that is what min(max(x,lo),hi)
 *   gives). NaN in X stays NaN (the comparisons below are false for NaN).
 * We accept a bound tensor with one element of any rank ([] or [1]) and
 * read it at run time, since it is usually a graph input or initializer.
 *
 * Implemented dtypes: float, double, int8..int64, uint8..uint64.
 *
 * Backward (float, double): dX = dY where lo <= X <= hi, else 0; the bounds
 * get no gradient. At X equal to a bound the gradient passes, as in torch's
 * clamp and TensorFlow's clip_by_value (so Clip(x, 0, 6) at x = 0 passes,
 * unlike Relu); with lo > hi nothing passes, matching the constant output.
 */
#include "elementwise.h"

#include <float.h>
#include <math.h>

#include "../alloc.h"
#include "../attr.h"

typedef struct clip_params {
    float lo, hi;                     /* opset < 11 attributes */
} clip_params;

/* y[i] = min(max(x[i], lo), hi); lo/hi point at one element of T. */
typedef void (*clip_fn)(void *y, const void *x, int64_t n, const void *lo, const void *hi);

#define CLIP_KERNEL(S, T, LOWEST, MAX)                                                     \
    static void clip_##S(void *yv, const void *xv, int64_t n, const void *lop,            \
                         const void *hip)                                                  \
    {                                                                                      \
        T *restrict y = yv;                                                                \
        const T *restrict x = xv;                                                          \
        const T lo = lop ? *(const T *)lop : (LOWEST), hi = hip ? *(const T *)hip : (MAX); \
        for (int64_t i = 0; i < n; i++) {                                                  \
            T v = x[i] < lo ? lo : x[i];                                                   \
            y[i] = v > hi ? hi : v;                                                        \
        }                                                                                  \
    }
CLIP_KERNEL(f32, float, -FLT_MAX, FLT_MAX)
CLIP_KERNEL(f64, double, -DBL_MAX, DBL_MAX)
CLIP_KERNEL(i8, int8_t, INT8_MIN, INT8_MAX)
CLIP_KERNEL(i16, int16_t, INT16_MIN, INT16_MAX)
CLIP_KERNEL(i32, int32_t, INT32_MIN, INT32_MAX)
CLIP_KERNEL(i64, int64_t, INT64_MIN, INT64_MAX)
CLIP_KERNEL(u8, uint8_t, 0, UINT8_MAX)
CLIP_KERNEL(u16, uint16_t, 0, UINT16_MAX)
CLIP_KERNEL(u32, uint32_t, 0, UINT32_MAX)
CLIP_KERNEL(u64, uint64_t, 0, UINT64_MAX)

#define DTYPE_SLOTS (ONNXC_BFLOAT16 + 1)
static const clip_fn table[DTYPE_SLOTS] = {
    [ONNXC_FLOAT] = clip_f32, [ONNXC_DOUBLE] = clip_f64, [ONNXC_INT8] = clip_i8,
    [ONNXC_INT16] = clip_i16, [ONNXC_INT32] = clip_i32, [ONNXC_INT64] = clip_i64,
    [ONNXC_UINT8] = clip_u8,  [ONNXC_UINT16] = clip_u16, [ONNXC_UINT32] = clip_u32,
    [ONNXC_UINT64] = clip_u64,
};

static onnxc_status clip_init(oc_node *node, onnxc_error *err)
{
    if (node->since >= 11) return ONNXC_OK;
    if (node->since < 6) OC_TRY(oc_ew_refuse_legacy(node, err));
    clip_params p;
    OC_TRY(oc_attr_float(node, "min", -FLT_MAX, &p.lo, err));
    OC_TRY(oc_attr_float(node, "max", FLT_MAX, &p.hi, err));
    clip_params *dst = oc_malloc(sizeof *dst);
    if (!dst) return oc_node_fail(node, err, ONNXC_ERR_NOMEM, "out of memory for attributes");
    *dst = p;
    oc_free(node->params);
    node->params = dst;
    return ONNXC_OK;
}

static onnxc_status clip_infer(oc_op_ctx *ctx, size_t *ws)
{
    const oc_tensor *x = ctx->in[0];
    *ws = 0;
    bool legacy = ctx->node->since < 11;
    if (x->dtype <= 0 || x->dtype >= DTYPE_SLOTS || !table[x->dtype] ||
        (legacy && !oc_dtype_is_float(x->dtype)))
        return oc_ew_bad_dtype(ctx, 0,
                               legacy ? "float, double (opset < 11)"
                                      : "float, double, int8, int16, int32, int64, uint8, "
                                        "uint16, uint32, uint64");
    if (legacy && ctx->n_in > 1)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_MODEL,
                            "expected 1 input at opset %d (min/max are attributes before "
                            "opset 11), got %d",
                            ctx->node->opset, ctx->n_in);
    for (int i = 1; i < ctx->n_in && i < 3; i++) {
        const oc_tensor *b = ctx->in[i];
        if (!b) continue;
        OC_TRY(oc_ew_same_dtype(ctx, 0, i));
        if (oc_tensor_numel(b) != 1) {
            char sb[128];
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                                "input %d '%s' (%s): expected a scalar, got shape %s", i,
                                oc_ew_input_name(ctx->node, i), i == 1 ? "min" : "max",
                                oc_shape_str(&b->shape, sb, sizeof sb));
        }
    }
    ctx->out[0]->dtype = x->dtype;
    ctx->out[0]->shape = x->shape;
    return ONNXC_OK;
}

static onnxc_status clip_run(oc_op_ctx *ctx)
{
    const oc_tensor *x = ctx->in[0];
    oc_tensor *y = ctx->out[0];
    const void *lo = NULL, *hi = NULL;
    float flo, fhi;
    double dlo, dhi;
    if (ctx->node->since < 11) {
        /* Attributes are float; widen for a double input. */
        const clip_params *p = ctx->node->params;
        flo = p->lo;
        fhi = p->hi;
        dlo = p->lo;
        dhi = p->hi;
        bool f64 = x->dtype == ONNXC_DOUBLE;
        lo = f64 ? (const void *)&dlo : (const void *)&flo;
        hi = f64 ? (const void *)&dhi : (const void *)&fhi;
    } else {
        if (ctx->n_in > 1 && ctx->in[1]) lo = ctx->in[1]->data;
        if (ctx->n_in > 2 && ctx->in[2]) hi = ctx->in[2]->data;
    }
    clip_fn fn = table[x->dtype];
    int64_t n = oc_tensor_numel(x);
    size_t es = oc_dtype_size(x->dtype);
    int parts = oc_ew_parts(n, ctx->nthreads);
    OC_PAR_FOR(parts, c, {
        int64_t a, b;
        oc_split_range(n, parts, c, &a, &b);
        fn((char *)y->data + (size_t)a * es, (const char *)x->data + (size_t)a * es, b - a, lo,
           hi);
    });
    return ONNXC_OK;
}

/* dx[i] += dy[i] where lo <= x[i] <= hi (false for NaN). */
#define CLIP_GRAD(S, T)                                                                    \
    static void clip_grad_##S(T *restrict dx, const T *restrict x, const T *restrict dy,   \
                              int64_t n, double lo, double hi)                             \
    {                                                                                      \
        for (int64_t i = 0; i < n; i++)                                                    \
            dx[i] += (x[i] >= lo && x[i] <= hi) ? dy[i] : (T)0;                            \
    }
CLIP_GRAD(f32, float)
CLIP_GRAD(f64, double)

static onnxc_status clip_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                  oc_tensor *const *din)
{
    if (!dout[0] || !din[0]) return ONNXC_OK;
    const oc_tensor *x = ctx->in[0];
    if (!oc_dtype_is_float(x->dtype)) return oc_ew_bad_grad_dtype(ctx, 0);
    bool f64 = x->dtype == ONNXC_DOUBLE;
    /* Bounds as double: exact for float and double elements. */
    double lo = -INFINITY, hi = INFINITY;
    if (ctx->node->since < 11) {
        const clip_params *p = ctx->node->params;
        lo = p->lo;
        hi = p->hi;
    } else {
        if (ctx->n_in > 1 && ctx->in[1]) lo = oc_tensor_get_double(ctx->in[1], 0);
        if (ctx->n_in > 2 && ctx->in[2]) hi = oc_tensor_get_double(ctx->in[2], 0);
    }
    int64_t n = oc_tensor_numel(x);
    int parts = oc_ew_parts(n, ctx->nthreads);
    OC_PAR_FOR(parts, c, {
        int64_t a, b;
        oc_split_range(n, parts, c, &a, &b);
        if (f64)
            clip_grad_f64((double *)din[0]->data + a, (const double *)x->data + a,
                          (const double *)dout[0]->data + a, b - a, lo, hi);
        else
            clip_grad_f32((float *)din[0]->data + a, (const float *)x->data + a,
                          (const float *)dout[0]->data + a, b - a, lo, hi);
    });
    return ONNXC_OK;
}

const oc_op_def oc_op_clip = {
    .name = "Clip", .domain = "", .versions = {1, 6, 11, 12, 13},
    .min_inputs = 1, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .init = clip_init, .infer = clip_infer, .run = clip_run,
    .grad_inputs = 1u, .backward = clip_backward,
};
