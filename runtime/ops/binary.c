/*
 * Binary elementwise ops with numpy broadcasting: Add, Sub, Mul, Div,
 * Equal, Greater, Less (Pow is in pow.c).
 *
 * Spec summary (ONNX opset 7-17):
 *   C = A op B, A and B of the same type T, broadcast multidirectionally;
 *   Equal/Greater/Less output bool. Versions: Add/Sub/Mul/Div 1,6,7,13,14;
 *   Equal 1,7,11,13; Greater/Less 1,7,9,13 — later versions only widen T.
 *   Opset < 7 broadcasts only with the `broadcast` attribute, which we
 *   refuse; without it the shapes must be equal.
 *   Integer Div rounds toward zero (C semantics, as onnxruntime and the ONNX
 *   reference for same-sign operands); division by zero is a runtime error
 *   here rather than a crash. Integer overflow wraps (two's complement).
 *
 * Implemented dtypes: float, double, int8..int64, uint8..uint64; Equal also
 * bool. float16/bfloat16 are refused in infer.
 *
 * Backward (float, double; comparisons have none): with dC the upstream
 * gradient, over C's shape,
 *   Add dA = dC,     dB = dC           Mul dA = dC*B,  dB = dC*A
 *   Sub dA = dC,     dB = -dC          Div dA = dC/B,  dB = -(dC/B)*(A/B)
 * (A/B² written so that B² cannot overflow), each then summed back to the
 * operand's shape over its broadcast dims by oc_bcast_reduce_add. Mul/Div
 * form the term in the workspace ([C's shape]) only when the operand is
 * broadcast; otherwise they add it straight into the gradient.
 */
#include "elementwise.h"

#include <string.h>

#include "../attr.h"

typedef enum bin_kind {
    BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, /* output T */
    BIN_EQ, BIN_GT, BIN_LT,             /* output bool */
    BIN_COUNT
} bin_kind;

/* A block of `rows` rows of n elements: row r reads a from a + r*ra and b
 * from b + r*rb, writes y + r*n; along a row a steps by sa and b by sb, each
 * 0 or 1. Untyped so one table holds every (op, dtype) pair; each body
 * casts to its element types. */
typedef void (*bin_row_fn)(void *y, const void *a, int64_t sa, int64_t ra, const void *b,
                           int64_t sb, int64_t rb, int64_t n, int64_t rows);

/* The four stride cases get their own inner loops so each is a plain
 * contiguous loop gcc vectorizes (a broadcast operand is hoisted into a
 * register instead of being reloaded with stride 0). The row loop lives
 * here, not in the caller, so short rows ([N,10] + [10]) cost no call each. */
#define BIN_ROW(NAME, TI, TO, EXPR)                                                        \
    static void NAME(void *yv, const void *av, int64_t sa, int64_t ra, const void *bv,    \
                     int64_t sb, int64_t rb, int64_t n, int64_t rows)                      \
    {                                                                                      \
        for (int64_t r = 0; r < rows; r++) {                                               \
            TO *restrict y = (TO *)yv + r * n;                                             \
            const TI *restrict a = (const TI *)av + r * ra;                                \
            const TI *restrict b = (const TI *)bv + r * rb;                                \
            if (sa && sb) {                                                                \
                for (int64_t i = 0; i < n; i++) {                                          \
                    TI x = a[i], z = b[i];                                                 \
                    y[i] = (EXPR);                                                         \
                }                                                                          \
            } else if (sa) {                                                               \
                const TI z = b[0];                                                         \
                for (int64_t i = 0; i < n; i++) {                                          \
                    TI x = a[i];                                                           \
                    y[i] = (EXPR);                                                         \
                }                                                                          \
            } else if (sb) {                                                               \
                const TI x = a[0];                                                         \
                for (int64_t i = 0; i < n; i++) {                                          \
                    TI z = b[i];                                                           \
                    y[i] = (EXPR);                                                         \
                }                                                                          \
            } else {                                                                       \
                const TI x = a[0], z = b[0];                                               \
                const TO v = (EXPR);                                                       \
                for (int64_t i = 0; i < n; i++) y[i] = v;                                  \
            }                                                                              \
        }                                                                                  \
    }

/*
 * Type lists: X(dtype enum, C type, suffix, U) where U is the unsigned type
 * the arithmetic runs in, so integer overflow wraps instead of being
 * undefined (it is at least 32 bits: uint16*uint16 promoted to int could
 * overflow). For floats U is the type itself.
 */
#define FLOAT_TYPES(X) X(ONNXC_FLOAT, float, f32, float) X(ONNXC_DOUBLE, double, f64, double)
#define SINT_TYPES(X)                                                                      \
    X(ONNXC_INT8, int8_t, i8, uint32_t) X(ONNXC_INT16, int16_t, i16, uint32_t)             \
    X(ONNXC_INT32, int32_t, i32, uint32_t) X(ONNXC_INT64, int64_t, i64, uint64_t)
#define UINT_TYPES(X)                                                                      \
    X(ONNXC_UINT8, uint8_t, u8, uint32_t) X(ONNXC_UINT16, uint16_t, u16, uint32_t)         \
    X(ONNXC_UINT32, uint32_t, u32, uint32_t) X(ONNXC_UINT64, uint64_t, u64, uint64_t)
#define NUM_TYPES(X) FLOAT_TYPES(X) SINT_TYPES(X) UINT_TYPES(X)

#define DEF_ARITH(E, T, S, U)                                                              \
    BIN_ROW(add_##S, T, T, (T)((U)x + (U)z))                                               \
    BIN_ROW(sub_##S, T, T, (T)((U)x - (U)z))                                               \
    BIN_ROW(mul_##S, T, T, (T)((U)x * (U)z))                                               \
    BIN_ROW(eq_##S, T, uint8_t, x == z)                                                    \
    BIN_ROW(gt_##S, T, uint8_t, x > z)                                                     \
    BIN_ROW(lt_##S, T, uint8_t, x < z)
NUM_TYPES(DEF_ARITH)
BIN_ROW(eq_bool, uint8_t, uint8_t, (x != 0) == (z != 0))

/* Division. Floats follow IEEE (x/0 = ±inf or NaN). Integers: the divisor
 * was checked for zeros before the loop; x / -1 is computed as a wrapping
 * negation because INT_MIN / -1 traps on x86. */
#define DEF_FDIV(E, T, S, U) BIN_ROW(div_##S, T, T, x / z)
#define DEF_SDIV(E, T, S, U) BIN_ROW(div_##S, T, T, z == -1 ? (T)(0u - (U)x) : (T)(x / z))
#define DEF_UDIV(E, T, S, U) BIN_ROW(div_##S, T, T, (T)(x / z))
FLOAT_TYPES(DEF_FDIV)
SINT_TYPES(DEF_SDIV)
UINT_TYPES(DEF_UDIV)

#define DTYPE_SLOTS (ONNXC_BFLOAT16 + 1)
#define ROW_ENTRY(P, E, S) [E] = P##_##S,
#define ADD_E(E, T, S, U) ROW_ENTRY(add, E, S)
#define SUB_E(E, T, S, U) ROW_ENTRY(sub, E, S)
#define MUL_E(E, T, S, U) ROW_ENTRY(mul, E, S)
#define DIV_E(E, T, S, U) ROW_ENTRY(div, E, S)
#define EQ_E(E, T, S, U) ROW_ENTRY(eq, E, S)
#define GT_E(E, T, S, U) ROW_ENTRY(gt, E, S)
#define LT_E(E, T, S, U) ROW_ENTRY(lt, E, S)

static const bin_row_fn row_table[BIN_COUNT][DTYPE_SLOTS] = {
    [BIN_ADD] = {NUM_TYPES(ADD_E)},
    [BIN_SUB] = {NUM_TYPES(SUB_E)},
    [BIN_MUL] = {NUM_TYPES(MUL_E)},
    [BIN_DIV] = {NUM_TYPES(DIV_E)},
    [BIN_EQ] = {NUM_TYPES(EQ_E)[ONNXC_BOOL] = eq_bool},
    [BIN_GT] = {NUM_TYPES(GT_E)},
    [BIN_LT] = {NUM_TYPES(LT_E)},
};

#define NUM_NAMES "float, double, int8, int16, int32, int64, uint8, uint16, uint32, uint64"

static bin_row_fn row_for(bin_kind kind, oc_dtype t)
{
    return (t > 0 && t < DTYPE_SLOTS) ? row_table[kind][t] : NULL;
}

static onnxc_status bin_init(oc_node *node, onnxc_error *err)
{
    return node->since < 7 ? oc_ew_refuse_legacy(node, err) : ONNXC_OK;
}

static onnxc_status bin_infer(oc_op_ctx *ctx, bin_kind kind)
{
    const oc_tensor *a = ctx->in[0], *b = ctx->in[1];
    if (!row_for(kind, a->dtype))
        return oc_ew_bad_dtype(ctx, 0, kind == BIN_EQ ? NUM_NAMES ", bool" : NUM_NAMES);
    OC_TRY(oc_ew_same_dtype(ctx, 0, 1));
    oc_tensor *y = ctx->out[0];
    if (ctx->node->since < 7 && !oc_shape_equal(&a->shape, &b->shape)) {
        char sa[128], sb[128];
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "opset %d without the 'broadcast' attribute needs equal shapes, "
                            "got %s and %s",
                            ctx->node->opset, oc_shape_str(&a->shape, sa, sizeof sa),
                            oc_shape_str(&b->shape, sb, sizeof sb));
    }
    OC_TRY(oc_broadcast_shape(ctx->node, &a->shape, &b->shape, &y->shape, ctx->err));
    y->dtype = kind >= BIN_EQ ? ONNXC_BOOL : a->dtype;
    return ONNXC_OK;
}

/* Integer division by zero has no value in any integer type: report it,
 * with the first offending element of B (B's own layout, before broadcast). */
static onnxc_status check_divisor(const oc_op_ctx *ctx)
{
    const oc_tensor *b = ctx->in[1];
    if (!oc_dtype_is_int(b->dtype)) return ONNXC_OK;
    int64_t n = oc_tensor_numel(b);
    size_t es = oc_dtype_size(b->dtype);
    static const uint8_t zero[8];
    for (int64_t i = 0; i < n; i++) {
        if (memcmp((const char *)b->data + (size_t)i * es, zero, es) == 0) {
            char sb[128];
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                                "integer division by zero: input 1 '%s' (shape %s) is 0 at "
                                "element %lld",
                                oc_ew_input_name(ctx->node, 1),
                                oc_shape_str(&b->shape, sb, sizeof sb), (long long)i);
        }
    }
    return ONNXC_OK;
}

static onnxc_status bin_run(oc_op_ctx *ctx, bin_kind kind)
{
    const oc_tensor *a = ctx->in[0], *b = ctx->in[1];
    oc_tensor *y = ctx->out[0];
    /* An empty output divides nothing, whatever B holds. */
    if (kind == BIN_DIV && oc_tensor_numel(y) > 0) OC_TRY(check_divisor(ctx));
    bin_row_fn fn = row_for(kind, a->dtype);
    oc_bcast bc;
    oc_bcast_init(&bc, &y->shape, 2, (const oc_shape *[]){&a->shape, &b->shape});
    size_t ea = oc_dtype_size(a->dtype), ey = oc_dtype_size(y->dtype);
    const char *pa = a->data, *pb = b->data;
    char *py = y->data;
    int parts = oc_ew_parts(bc.numel, ctx->nthreads);
    /* Each chunk owns a contiguous range of output elements. */
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi, o, len, rows;
        oc_split_range(bc.numel, parts, c, &lo, &hi);
        oc_bcast_iter it;
        oc_bcast_iter_begin(&it, &bc, lo, hi);
        while ((len = oc_bcast_iter_block(&it, &o, &rows)) > 0)
            fn(py + (size_t)o * ey, pa + (size_t)it.seg[0] * ea, bc.inner[0], bc.outer[0],
               pb + (size_t)it.seg[1] * ea, bc.inner[1], bc.outer[1], len, rows);
    });
    return ONNXC_OK;
}

/* ------------------------------------------------------------------------ */
/* Backward                                                                 */

/* Gradient term of one operand over a segment of n elements of C: dy steps
 * by 1, a and b by sa and sb (0 or 1); g[i] += term (acc) or g[i] = term. */
typedef void (*bin_grad_fn)(void *g, bool acc, const void *dy, const void *a, int64_t sa,
                            const void *b, int64_t sb, int64_t n);

#define BIN_GRAD(NAME, T, EXPR)                                                            \
    static void NAME(void *gv, bool acc, const void *dyv, const void *av, int64_t sa,      \
                     const void *bv, int64_t sb, int64_t n)                                \
    {                                                                                      \
        T *restrict g = gv;                                                                \
        const T *restrict dy = dyv, *restrict a = av, *restrict b = bv;                    \
        if (acc) {                                                                         \
            for (int64_t i = 0; i < n; i++) {                                              \
                const T d = dy[i], x = a[i * sa], z = b[i * sb];                           \
                (void)x;                                                                   \
                (void)z;                                                                   \
                g[i] += (EXPR);                                                            \
            }                                                                              \
        } else {                                                                           \
            for (int64_t i = 0; i < n; i++) {                                              \
                const T d = dy[i], x = a[i * sa], z = b[i * sb];                           \
                (void)x;                                                                   \
                (void)z;                                                                   \
                g[i] = (EXPR);                                                             \
            }                                                                              \
        }                                                                                  \
    }
#define DEF_BIN_GRADS(S, T)                                                                \
    BIN_GRAD(mul_da_##S, T, d * z)                                                         \
    BIN_GRAD(mul_db_##S, T, d * x)                                                         \
    BIN_GRAD(div_da_##S, T, d / z)                                                         \
    BIN_GRAD(div_db_##S, T, -(d / z) * (x / z))
DEF_BIN_GRADS(f32, float)
DEF_BIN_GRADS(f64, double)

/* [Mul, Div][operand][float, double] */
static const bin_grad_fn grad_table[2][2][2] = {
    {{mul_da_f32, mul_da_f64}, {mul_db_f32, mul_db_f64}},
    {{div_da_f32, div_da_f64}, {div_db_f32, div_db_f64}},
};

/* Does operand k's gradient need summing over broadcast dims? */
static bool bin_broadcast(const oc_op_ctx *ctx, int k)
{
    return oc_tensor_numel(ctx->in[k]) != oc_tensor_numel(ctx->out[0]);
}

static size_t bin_backward_workspace(const oc_op_ctx *ctx)
{
    /* One term of C's shape at a time, for a broadcast operand. */
    if (!bin_broadcast(ctx, 0) && !bin_broadcast(ctx, 1)) return 0;
    return (size_t)oc_tensor_numel(ctx->out[0]) * oc_dtype_size(ctx->out[0]->dtype);
}

/* Mul/Div: operand k's term over C, into din[k] or into the workspace and
 * then reduced into din[k]. */
static onnxc_status bin_grad_term(oc_op_ctx *ctx, const oc_tensor *dy, oc_tensor *dx, int k,
                                  bin_kind kind)
{
    const oc_tensor *a = ctx->in[0], *b = ctx->in[1];
    bool f64 = a->dtype == ONNXC_DOUBLE, reduce = bin_broadcast(ctx, k);
    bin_grad_fn fn = grad_table[kind == BIN_DIV][k][f64];
    size_t es = oc_dtype_size(a->dtype);
    oc_tensor tmp = *dy;                      /* [C's shape], the term */
    if (reduce) {
        if (ctx->workspace_bytes < (size_t)oc_tensor_numel(dy) * es)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                                "backward workspace: expected %zu bytes, got %zu",
                                (size_t)oc_tensor_numel(dy) * es, ctx->workspace_bytes);
        tmp.data = ctx->workspace;
    }
    char *pg = reduce ? tmp.data : dx->data;
    const char *pa = a->data, *pb = b->data, *pd = dy->data;
    oc_bcast bc;
    oc_bcast_init(&bc, &dy->shape, 2, (const oc_shape *[]){&a->shape, &b->shape});
    int parts = oc_ew_parts(bc.numel, ctx->nthreads);
    /* Each chunk owns a range of C's elements (and so of g's). */
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi, o, len;
        oc_split_range(bc.numel, parts, c, &lo, &hi);
        oc_bcast_iter it;
        oc_bcast_iter_begin(&it, &bc, lo, hi);
        while ((len = oc_bcast_iter_next(&it, &o)) > 0)
            fn(pg + (size_t)o * es, !reduce, pd + (size_t)o * es, pa + (size_t)it.seg[0] * es,
               bc.inner[0], pb + (size_t)it.seg[1] * es, bc.inner[1], len);
    });
    if (reduce) oc_bcast_reduce_add(dx, &tmp, 1.0, ctx->nthreads);
    return ONNXC_OK;
}

static onnxc_status bin_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                 oc_tensor *const *din, bin_kind kind)
{
    const oc_tensor *dy = dout[0];
    if (!dy || oc_tensor_numel(dy) == 0) return ONNXC_OK;
    for (int k = 0; k < 2; k++) {
        if (!din[k]) continue;
        if (!oc_dtype_is_float(ctx->in[k]->dtype)) return oc_ew_bad_grad_dtype(ctx, k);
        if (kind == BIN_ADD || kind == BIN_SUB)
            oc_bcast_reduce_add(din[k], dy, kind == BIN_SUB && k == 1 ? -1.0 : 1.0,
                                ctx->nthreads);
        else
            OC_TRY(bin_grad_term(ctx, dy, din[k], k, kind));
    }
    return ONNXC_OK;
}

/* BIN_OP: no gradient (comparisons); BIN_OP_GRAD: differentiable in A and B. */
#define BIN_OP_FNS(VAR, KIND)                                                              \
    static onnxc_status VAR##_infer(oc_op_ctx *ctx, size_t *ws)                            \
    {                                                                                      \
        *ws = 0;                                                                           \
        return bin_infer(ctx, KIND);                                                       \
    }                                                                                      \
    static onnxc_status VAR##_run(oc_op_ctx *ctx) { return bin_run(ctx, KIND); }
#define BIN_OP(VAR, NAME, KIND, ...)                                                       \
    BIN_OP_FNS(VAR, KIND)                                                                  \
    const oc_op_def oc_op_##VAR = {                                                        \
        .name = NAME, .domain = "", .versions = {__VA_ARGS__},                             \
        .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,              \
        .init = bin_init, .infer = VAR##_infer, .run = VAR##_run,                          \
    };
#define BIN_OP_GRAD(VAR, NAME, KIND, ...)                                                  \
    BIN_OP_FNS(VAR, KIND)                                                                  \
    static onnxc_status VAR##_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,       \
                                       oc_tensor *const *din)                              \
    {                                                                                      \
        return bin_backward(ctx, dout, din, KIND);                                         \
    }                                                                                      \
    const oc_op_def oc_op_##VAR = {                                                        \
        .name = NAME, .domain = "", .versions = {__VA_ARGS__},                             \
        .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,              \
        .init = bin_init, .infer = VAR##_infer, .run = VAR##_run,                          \
        .grad_inputs = 3u, .backward = VAR##_backward,                                     \
        .backward_workspace = (KIND == BIN_MUL || KIND == BIN_DIV) ? bin_backward_workspace \
                                                                   : NULL,                 \
    };

BIN_OP_GRAD(add, "Add", BIN_ADD, 1, 6, 7, 13, 14)
BIN_OP_GRAD(sub, "Sub", BIN_SUB, 1, 6, 7, 13, 14)
BIN_OP_GRAD(mul, "Mul", BIN_MUL, 1, 6, 7, 13, 14)
BIN_OP_GRAD(div, "Div", BIN_DIV, 1, 6, 7, 13, 14)
BIN_OP(equal, "Equal", BIN_EQ, 1, 7, 11, 13)
BIN_OP(greater, "Greater", BIN_GT, 1, 7, 9, 13)
BIN_OP(less, "Less", BIN_LT, 1, 7, 9, 13)
