/*
 * Unary elementwise ops: Y = f(X), same shape, same dtype.
 *
 * Spec summary (versions where the schema changed; later ones only widened
 * T to bfloat16/int types):
 *   Abs 1,6,13       |x|                      float, double, all ints (6+)
 *   Neg 1,6,13       -x                       float, double, signed ints (6+)
 *   Exp/Log/Sqrt/Reciprocal/Sigmoid/Tanh 1,6,13                float, double
 *   Relu 1,6,13,14   max(x, 0)                float, double, signed ints (14)
 *   LeakyRelu 1,6,16 x < 0 ? alpha*x : x      alpha = 0.01
 *   Elu 1,6          x < 0 ? alpha*(e^x-1) : x              alpha = 1
 *   Selu 1,6         gamma*(x > 0 ? x : alpha*(e^x-1))
 *                    alpha = 1.67326319..., gamma = 1.05070102...
 *   HardSigmoid 1,6  max(0, min(1, alpha*x + beta))  alpha = 0.2, beta = 0.5
 *   Softplus 1       log(1 + e^x)
 *   Softsign 1       x / (1 + |x|)
 *   Erf 9,13         erf(x)    (Keras gelu: x/2 * (1 + erf(x/sqrt 2)))
 *   Not 1            !x                        bool
 * Version 1 of each had the `consumed_inputs` attribute, which we refuse.
 * Integer ops are accepted at every version (a superset of the spec).
 *
 * Numerics: Sigmoid and Softplus are written so that no exp() overflows:
 * with e = exp(-|x|) <= 1, sigmoid = x >= 0 ? 1/(1+e) : e/(1+e), and
 * softplus = log1p(e) + max(x, 0). Elu/Selu use expm1 for small |x|.
 * <tgmath.h> picks expf/exp etc. from the argument type, so one expression
 * serves float and double (compute stays in the element type).
 *
 * Backward (float and double; Not has none): dX += dY * f'(X), written with
 * the forward output Y where that is cheaper or exact: Sigmoid Y(1-Y), Tanh
 * 1-Y^2, Exp Y, Sqrt 1/(2Y), Reciprocal -Y^2. At kinks we take the one-sided
 * value torch uses: Relu 0 at x = 0, LeakyRelu/Elu/Selu the x <= 0 branch,
 * Abs 0 at x = 0, HardSigmoid 0 where alpha*x+beta is exactly 0 or 1.
 */
#include "elementwise.h"

#include <tgmath.h>

#include "../alloc.h"
#include "../attr.h"

typedef struct un_params {
    float alpha, beta, gamma;
} un_params;

/* y[i] = f(x[i]) for i < n. Untyped so one table per op covers all dtypes. */
typedef void (*un_fn)(void *y, const void *x, int64_t n, const un_params *p);

#define UN_KERNEL(NAME, T, EXPR)                                                           \
    static void NAME(void *yv, const void *xv, int64_t n, const un_params *p)              \
    {                                                                                      \
        T *restrict y = yv;                                                                \
        const T *restrict xs = xv;                                                         \
        (void)p;                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                  \
            const T x = xs[i];                                                             \
            y[i] = (EXPR);                                                                 \
        }                                                                                  \
    }

/* Sigmoid helpers: one exp of a non-positive argument, never overflows. */
static inline float sigmoid_f32(float x)
{
    float e = exp(-fabs(x));
    return x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}
static inline double sigmoid_f64(double x)
{
    double e = exp(-fabs(x));
    return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

UN_KERNEL(exp_f32, float, exp(x))
UN_KERNEL(exp_f64, double, exp(x))
UN_KERNEL(log_f32, float, log(x))
UN_KERNEL(log_f64, double, log(x))
UN_KERNEL(sqrt_f32, float, sqrt(x))
UN_KERNEL(sqrt_f64, double, sqrt(x))
UN_KERNEL(tanh_f32, float, tanh(x))
UN_KERNEL(tanh_f64, double, tanh(x))
UN_KERNEL(reciprocal_f32, float, 1.0f / x)
UN_KERNEL(reciprocal_f64, double, 1.0 / x)
UN_KERNEL(sigmoid_k_f32, float, sigmoid_f32(x))
UN_KERNEL(sigmoid_k_f64, double, sigmoid_f64(x))
UN_KERNEL(softplus_f32, float, log1p(exp(-fabs(x))) + (x > 0 ? x : 0.0f))
UN_KERNEL(softplus_f64, double, log1p(exp(-fabs(x))) + (x > 0 ? x : 0.0))
UN_KERNEL(softsign_f32, float, x / (1.0f + fabs(x)))
UN_KERNEL(softsign_f64, double, x / (1.0 + fabs(x)))
UN_KERNEL(erf_f32, float, erf(x))
UN_KERNEL(erf_f64, double, erf(x))
UN_KERNEL(leaky_relu_f32, float, x < 0 ? p->alpha * x : x)
UN_KERNEL(leaky_relu_f64, double, x < 0 ? (double)p->alpha * x : x)
UN_KERNEL(elu_f32, float, x < 0 ? p->alpha * expm1(x) : x)
UN_KERNEL(elu_f64, double, x < 0 ? (double)p->alpha * expm1(x) : x)
UN_KERNEL(selu_f32, float, p->gamma * (x > 0 ? x : p->alpha * expm1(x)))
UN_KERNEL(selu_f64, double, (double)p->gamma * (x > 0 ? x : (double)p->alpha * expm1(x)))
UN_KERNEL(hard_sigmoid_f32, float, fmax(0.0f, fmin(1.0f, p->alpha * x + p->beta)))
UN_KERNEL(hard_sigmoid_f64, double,
          fmax(0.0, fmin(1.0, (double)p->alpha * x + (double)p->beta)))
UN_KERNEL(not_bool, uint8_t, (uint8_t)(x == 0))

/* Integer Abs/Neg wrap at the minimum (|INT_MIN| = INT_MIN, as numpy) by
 * negating in the unsigned twin type, which has no overflow. Relu keeps NaN
 * (x < 0 is false for NaN), like numpy's maximum. */
#define DEF_SIGNED(T, S, U)                                                                \
    UN_KERNEL(abs_##S, T, x < 0 ? (T)(0u - (U)x) : x)                                      \
    UN_KERNEL(neg_##S, T, (T)(0u - (U)x))                                                  \
    UN_KERNEL(relu_##S, T, x < 0 ? (T)0 : x)
DEF_SIGNED(float, f32, float)
DEF_SIGNED(double, f64, double)
DEF_SIGNED(int8_t, i8, uint32_t)
DEF_SIGNED(int16_t, i16, uint32_t)
DEF_SIGNED(int32_t, i32, uint32_t)
DEF_SIGNED(int64_t, i64, uint64_t)
/* Abs of an unsigned value is the value. */
UN_KERNEL(copy_u8, uint8_t, x)
UN_KERNEL(copy_u16, uint16_t, x)
UN_KERNEL(copy_u32, uint32_t, x)
UN_KERNEL(copy_u64, uint64_t, x)

/* Backward: dx[i] += the gradient from x, the forward output y and the
 * upstream gradient g = dy[i]. */
typedef void (*un_grad_fn)(void *dx, const void *x, const void *y, const void *dy, int64_t n,
                           const un_params *p);

#define UN_GRAD(NAME, T, EXPR)                                                             \
    static void NAME(void *dxv, const void *xv, const void *yv, const void *gv, int64_t n, \
                     const un_params *p)                                                   \
    {                                                                                      \
        T *restrict dx = dxv;                                                              \
        const T *restrict xs = xv, *restrict ys = yv, *restrict gs = gv;                   \
        (void)p;                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                  \
            const T x = xs[i], y = ys[i], g = gs[i];                                       \
            (void)x;                                                                       \
            (void)y;                                                                       \
            dx[i] += (EXPR);                                                               \
        }                                                                                  \
    }

/* Each gradient once per element type: T the type, A(v) a float attribute
 * widened to T. */
#define DEF_GRADS(S, T, A)                                                                 \
    UN_GRAD(relu_grad_##S, T, x > 0 ? g : (T)0)                                           \
    UN_GRAD(leaky_relu_grad_##S, T, x > 0 ? g : A(p->alpha) * g)                          \
    UN_GRAD(elu_grad_##S, T, x > 0 ? g : g * (A(p->alpha) * exp(x)))                      \
    UN_GRAD(selu_grad_##S, T,                                                              \
            x > 0 ? A(p->gamma) * g : g * (A(p->gamma) * A(p->alpha) * exp(x)))           \
    UN_GRAD(sigmoid_grad_##S, T, g * (y * (1 - y)))                                       \
    UN_GRAD(tanh_grad_##S, T, g * (1 - y * y))                                            \
    UN_GRAD(softplus_grad_##S, T, g * sigmoid_##S(x))                                     \
    UN_GRAD(softsign_grad_##S, T, g / ((1 + fabs(x)) * (1 + fabs(x))))                   \
    /* d erf(x)/dx = 2/sqrt(pi) e^(-x^2) */                                                \
    UN_GRAD(erf_grad_##S, T, g * (T)1.1283791670955126 * exp(-x * x))                    \
    UN_GRAD(exp_grad_##S, T, g * y)                                                       \
    UN_GRAD(log_grad_##S, T, g / x)                                                       \
    UN_GRAD(neg_grad_##S, T, -g)                                                          \
    UN_GRAD(sqrt_grad_##S, T, g / (2 * y))                                                \
    UN_GRAD(abs_grad_##S, T, x > 0 ? g : x < 0 ? -g : (T)0)                               \
    UN_GRAD(reciprocal_grad_##S, T, -g * (y * y))                                         \
    UN_GRAD(hard_sigmoid_grad_##S, T,                                                      \
            (A(p->alpha) * x + A(p->beta) > 0 && A(p->alpha) * x + A(p->beta) < 1)        \
                ? A(p->alpha) * g                                                          \
                : (T)0)
#define AS_F32(v) (v)
#define AS_F64(v) ((double)(v))
DEF_GRADS(f32, float, AS_F32)
DEF_GRADS(f64, double, AS_F64)

#define DTYPE_SLOTS (ONNXC_BFLOAT16 + 1)
#define SIGNED_ENTRIES(OP)                                                                 \
    [ONNXC_FLOAT] = OP##_f32, [ONNXC_DOUBLE] = OP##_f64, [ONNXC_INT8] = OP##_i8,          \
    [ONNXC_INT16] = OP##_i16, [ONNXC_INT32] = OP##_i32, [ONNXC_INT64] = OP##_i64
#define SIGNED_NAMES "float, double, int8, int16, int32, int64"

static onnxc_status un_init_common(oc_node *node, onnxc_error *err)
{
    return node->since < 6 ? oc_ew_refuse_legacy(node, err) : ONNXC_OK;
}

/* Attribute ops keep their (defaulted) attributes in node->params. */
static onnxc_status un_init_attrs(oc_node *node, onnxc_error *err, float alpha, float beta,
                                  float gamma)
{
    OC_TRY(un_init_common(node, err));
    un_params p;
    OC_TRY(oc_attr_float(node, "alpha", alpha, &p.alpha, err));
    OC_TRY(oc_attr_float(node, "beta", beta, &p.beta, err));
    OC_TRY(oc_attr_float(node, "gamma", gamma, &p.gamma, err));
    un_params *dst = oc_malloc(sizeof *dst);
    if (!dst) return oc_node_fail(node, err, ONNXC_ERR_NOMEM, "out of memory for attributes");
    *dst = p;
    oc_free(node->params);
    node->params = dst;
    return ONNXC_OK;
}

/* Spec defaults per op (alpha, beta, gamma). */
static onnxc_status leaky_relu_init(oc_node *n, onnxc_error *e)
{
    return un_init_attrs(n, e, 0.01f, 0, 0);
}
static onnxc_status elu_init(oc_node *n, onnxc_error *e)
{
    return un_init_attrs(n, e, 1.0f, 0, 0);
}
static onnxc_status hard_sigmoid_init(oc_node *n, onnxc_error *e)
{
    return un_init_attrs(n, e, 0.2f, 0.5f, 0);
}
static onnxc_status selu_init(oc_node *n, onnxc_error *e)
{
    /* The spec's defaults, written as the float32 values it stores. */
    return un_init_attrs(n, e, 1.67326319217681884765625f, 0, 1.05070102214813232421875f);
}

static onnxc_status un_infer(oc_op_ctx *ctx, size_t *ws, const un_fn *table, const char *names)
{
    const oc_tensor *x = ctx->in[0];
    *ws = 0;
    if (x->dtype <= 0 || x->dtype >= DTYPE_SLOTS || !table[x->dtype])
        return oc_ew_bad_dtype(ctx, 0, names);
    ctx->out[0]->dtype = x->dtype;
    ctx->out[0]->shape = x->shape;
    return ONNXC_OK;
}

static onnxc_status un_run(oc_op_ctx *ctx, const un_fn *table)
{
    const oc_tensor *x = ctx->in[0];
    oc_tensor *y = ctx->out[0];
    un_fn fn = table[x->dtype];
    const un_params *p = ctx->node->params;
    int64_t n = oc_tensor_numel(x);
    size_t es = oc_dtype_size(x->dtype);
    int parts = oc_ew_parts(n, ctx->nthreads);
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(n, parts, c, &lo, &hi);
        fn((char *)y->data + (size_t)lo * es, (const char *)x->data + (size_t)lo * es, hi - lo,
           p);
    });
    return ONNXC_OK;
}

/* dX += f'(X) dY, split over elements like the forward run. */
static onnxc_status un_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                oc_tensor *const *din, un_grad_fn f32, un_grad_fn f64)
{
    if (!dout[0] || !din[0]) return ONNXC_OK;
    const oc_tensor *x = ctx->in[0], *y = ctx->out[0], *dy = dout[0];
    oc_tensor *dx = din[0];
    un_grad_fn fn = x->dtype == ONNXC_FLOAT ? f32 : x->dtype == ONNXC_DOUBLE ? f64 : NULL;
    if (!fn) return oc_ew_bad_grad_dtype(ctx, 0);
    const un_params *p = ctx->node->params;
    int64_t n = oc_tensor_numel(x);
    size_t es = oc_dtype_size(x->dtype);
    int parts = oc_ew_parts(n, ctx->nthreads);
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(n, parts, c, &lo, &hi);
        size_t off = (size_t)lo * es;
        fn((char *)dx->data + off, (const char *)x->data + off, (const char *)y->data + off,
           (const char *)dy->data + off, hi - lo, p);
    });
    return ONNXC_OK;
}

/* One op's def; its dtype table VAR##_table is defined just before.
 * The variadic arguments are the schema versions. UN_OP: no gradient (Not);
 * UN_OP_GRAD: differentiable, with kernels VAR##_grad_f32/_f64. */
#define UN_OP_FNS(VAR, NAMES)                                                              \
    static onnxc_status VAR##_infer(oc_op_ctx *ctx, size_t *ws)                            \
    {                                                                                      \
        return un_infer(ctx, ws, VAR##_table, NAMES);                                      \
    }                                                                                      \
    static onnxc_status VAR##_run(oc_op_ctx *ctx) { return un_run(ctx, VAR##_table); }
#define UN_OP(VAR, NAME, INIT, NAMES, ...)                                                 \
    UN_OP_FNS(VAR, NAMES)                                                                  \
    const oc_op_def oc_op_##VAR = {                                                        \
        .name = NAME, .domain = "", .versions = {__VA_ARGS__},                             \
        .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,              \
        .init = INIT, .infer = VAR##_infer, .run = VAR##_run,                              \
    };
#define UN_OP_GRAD(VAR, NAME, INIT, NAMES, ...)                                            \
    UN_OP_FNS(VAR, NAMES)                                                                  \
    static onnxc_status VAR##_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,       \
                                       oc_tensor *const *din)                              \
    {                                                                                      \
        return un_backward(ctx, dout, din, VAR##_grad_f32, VAR##_grad_f64);                \
    }                                                                                      \
    const oc_op_def oc_op_##VAR = {                                                        \
        .name = NAME, .domain = "", .versions = {__VA_ARGS__},                             \
        .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,              \
        .init = INIT, .infer = VAR##_infer, .run = VAR##_run,                              \
        .grad_inputs = 1u, .backward = VAR##_backward,                                     \
    };

#define FLOAT_NAMES "float, double"
#define FLOAT_TABLE(VAR, K)                                                                \
    static const un_fn VAR##_table[DTYPE_SLOTS] = {[ONNXC_FLOAT] = K##_f32,               \
                                                   [ONNXC_DOUBLE] = K##_f64};

static const un_fn abs_table[DTYPE_SLOTS] = {
    SIGNED_ENTRIES(abs),         [ONNXC_UINT8] = copy_u8,   [ONNXC_UINT16] = copy_u16,
    [ONNXC_UINT32] = copy_u32, [ONNXC_UINT64] = copy_u64,
};
static const un_fn neg_table[DTYPE_SLOTS] = {SIGNED_ENTRIES(neg)};
static const un_fn relu_table[DTYPE_SLOTS] = {SIGNED_ENTRIES(relu)};
static const un_fn not_table[DTYPE_SLOTS] = {[ONNXC_BOOL] = not_bool};
FLOAT_TABLE(exp, exp)
FLOAT_TABLE(log, log)
FLOAT_TABLE(sqrt, sqrt)
FLOAT_TABLE(reciprocal, reciprocal)
FLOAT_TABLE(sigmoid, sigmoid_k)
FLOAT_TABLE(tanh, tanh)
FLOAT_TABLE(softplus, softplus)
FLOAT_TABLE(softsign, softsign)
FLOAT_TABLE(erf, erf)
FLOAT_TABLE(leaky_relu, leaky_relu)
FLOAT_TABLE(elu, elu)
FLOAT_TABLE(selu, selu)
FLOAT_TABLE(hard_sigmoid, hard_sigmoid)

UN_OP_GRAD(abs, "Abs", un_init_common, SIGNED_NAMES ", uint8, uint16, uint32, uint64", 1, 6, 13)
UN_OP_GRAD(neg, "Neg", un_init_common, SIGNED_NAMES, 1, 6, 13)
UN_OP_GRAD(relu, "Relu", un_init_common, SIGNED_NAMES, 1, 6, 13, 14)
UN_OP(not, "Not", NULL, "bool", 1)
UN_OP_GRAD(exp, "Exp", un_init_common, FLOAT_NAMES, 1, 6, 13)
UN_OP_GRAD(log, "Log", un_init_common, FLOAT_NAMES, 1, 6, 13)
UN_OP_GRAD(sqrt, "Sqrt", un_init_common, FLOAT_NAMES, 1, 6, 13)
UN_OP_GRAD(reciprocal, "Reciprocal", un_init_common, FLOAT_NAMES, 1, 6, 13)
UN_OP_GRAD(sigmoid, "Sigmoid", un_init_common, FLOAT_NAMES, 1, 6, 13)
UN_OP_GRAD(tanh, "Tanh", un_init_common, FLOAT_NAMES, 1, 6, 13)
UN_OP_GRAD(softplus, "Softplus", NULL, FLOAT_NAMES, 1)
UN_OP_GRAD(softsign, "Softsign", NULL, FLOAT_NAMES, 1)
UN_OP_GRAD(erf, "Erf", NULL, FLOAT_NAMES, 9, 13)
UN_OP_GRAD(leaky_relu, "LeakyRelu", leaky_relu_init, FLOAT_NAMES, 1, 6, 16)
UN_OP_GRAD(elu, "Elu", elu_init, FLOAT_NAMES, 1, 6)
UN_OP_GRAD(selu, "Selu", selu_init, FLOAT_NAMES, 1, 6)
UN_OP_GRAD(hard_sigmoid, "HardSigmoid", hard_sigmoid_init, FLOAT_NAMES, 1, 6)
