/*
 * Cast: Y = X converted to the dtype in attribute `to`, same shape.
 *
 * Spec summary: versions 1 (`to` is a STRING such as "FLOAT"), 6 (`to` is
 * an INT, a TensorProto.DataType), 9 (adds string), 13 (adds bfloat16).
 * Any numeric type converts to any other. The spec leaves out-of-range
 * conversions undefined; we define them without C undefined behaviour and as
 * numpy does on x86:
 *   float -> int64           toward zero; NaN/out of range -> INT64_MIN
 *   float -> int32/16/8, uint16/8  toward zero through int32 (NaN/out of
 *                             int32 range -> INT32_MIN), then wrap to width
 *   float -> uint32          toward zero through int64, then wrap
 *   float -> uint64          toward zero; negative wraps (-1 -> 2^64-1)
 *   int -> int               wraps to the width (two's complement)
 *   any -> bool              x != 0 (NaN -> true); bool -> any: 0 or 1
 * Implemented dtypes (both sides): float, double, int8, int16, int32, int64,
 * uint8, uint16, uint32, uint64, bool. Others (string, float16, bfloat16,
 * complex) are refused with ONNXC_ERR_UNSUPPORTED.
 *
 * Backward: between float types (float <-> double, or to the same type) the
 * gradient passes through, converted to the input's dtype. A cast to or
 * from an integer or bool type has no gradient: backward adds nothing.
 * grad_inputs is a per-op constant, so it keeps input 0's bit set for the
 * float case; integer tensors never get gradient buffers, so nothing
 * arrives there in practice.
 */
#include "elementwise.h"

#include <string.h>

#include "../alloc.h"
#include "../attr.h"

typedef void (*cast_fn)(void *y, const void *x, int64_t n);

static inline int32_t f64_to_i32(double x)
{
    if (x > -2147483649.0 && x < 2147483648.0) return (int32_t)x;
    return INT32_MIN;
}

/* Reading a source element: bool is normalized to 0/1 in case a producer
 * stored another non-zero byte. */
#define LOAD_b(v) ((uint8_t)((v) != 0))
#define LOAD_N(v) (v)

/* Converting a value v of the source type; SF: the source is a float type
 * (a constant, so the unused branch folds away). */
#define TO_f32(v, SF) ((float)(v))
#define TO_f64(v, SF) ((double)(v))
#define TO_i64(v, SF) ((SF) ? oc_ew_f64_to_i64((double)(v)) : (int64_t)(v))
#define TO_i32(v, SF) ((SF) ? f64_to_i32((double)(v)) : (int32_t)(v))
#define TO_i16(v, SF) ((int16_t)((SF) ? f64_to_i32((double)(v)) : (int16_t)(v)))
#define TO_i8(v, SF) ((int8_t)((SF) ? f64_to_i32((double)(v)) : (int8_t)(v)))
#define TO_u64(v, SF) ((SF) ? oc_ew_f64_to_u64((double)(v)) : (uint64_t)(v))
#define TO_u32(v, SF) ((uint32_t)((SF) ? (uint64_t)oc_ew_f64_to_i64((double)(v)) : (uint64_t)(v)))
#define TO_u16(v, SF) ((uint16_t)((SF) ? (uint32_t)f64_to_i32((double)(v)) : (uint16_t)(v)))
#define TO_u8(v, SF) ((uint8_t)((SF) ? (uint32_t)f64_to_i32((double)(v)) : (uint8_t)(v)))
#define TO_b(v, SF) ((uint8_t)((v) != 0))

/* X(dtype, C type, suffix, is float, loader); two identical lists because a
 * macro cannot expand itself (source loop and destination loop). */
#define SRC_TYPES(X)                                                                       \
    X(ONNXC_FLOAT, float, f32, 1, N) X(ONNXC_DOUBLE, double, f64, 1, N)                    \
    X(ONNXC_INT8, int8_t, i8, 0, N) X(ONNXC_INT16, int16_t, i16, 0, N)                     \
    X(ONNXC_INT32, int32_t, i32, 0, N) X(ONNXC_INT64, int64_t, i64, 0, N)                  \
    X(ONNXC_UINT8, uint8_t, u8, 0, N) X(ONNXC_UINT16, uint16_t, u16, 0, N)                 \
    X(ONNXC_UINT32, uint32_t, u32, 0, N) X(ONNXC_UINT64, uint64_t, u64, 0, N)              \
    X(ONNXC_BOOL, uint8_t, b, 0, b)
#define DST_TYPES(X, ...)                                                                  \
    X(__VA_ARGS__, ONNXC_FLOAT, float, f32) X(__VA_ARGS__, ONNXC_DOUBLE, double, f64)      \
    X(__VA_ARGS__, ONNXC_INT8, int8_t, i8) X(__VA_ARGS__, ONNXC_INT16, int16_t, i16)       \
    X(__VA_ARGS__, ONNXC_INT32, int32_t, i32) X(__VA_ARGS__, ONNXC_INT64, int64_t, i64)    \
    X(__VA_ARGS__, ONNXC_UINT8, uint8_t, u8) X(__VA_ARGS__, ONNXC_UINT16, uint16_t, u16)   \
    X(__VA_ARGS__, ONNXC_UINT32, uint32_t, u32)                                            \
    X(__VA_ARGS__, ONNXC_UINT64, uint64_t, u64) X(__VA_ARGS__, ONNXC_BOOL, uint8_t, b)

#define CAST_KERNEL(SE, ST, SS, SF, SL, DE, DT, DS)                                        \
    static void cast_##SS##_##DS(void *yv, const void *xv, int64_t n)                      \
    {                                                                                      \
        DT *restrict y = yv;                                                               \
        const ST *restrict x = xv;                                                         \
        for (int64_t i = 0; i < n; i++) {                                                  \
            const ST v = LOAD_##SL(x[i]);                                                  \
            y[i] = TO_##DS(v, SF);                                                         \
        }                                                                                  \
    }
#define CAST_KERNELS_FROM(SE, ST, SS, SF, SL) DST_TYPES(CAST_KERNEL, SE, ST, SS, SF, SL)
SRC_TYPES(CAST_KERNELS_FROM)

#define DTYPE_SLOTS (ONNXC_BFLOAT16 + 1)
#define CAST_ENTRY(SE, ST, SS, SF, SL, DE, DT, DS) [SE][DE] = cast_##SS##_##DS,
#define CAST_ENTRIES_FROM(SE, ST, SS, SF, SL) DST_TYPES(CAST_ENTRY, SE, ST, SS, SF, SL)
static const cast_fn table[DTYPE_SLOTS][DTYPE_SLOTS] = {SRC_TYPES(CAST_ENTRIES_FROM)};

#define CAST_NAMES "float, double, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool"

static bool castable(oc_dtype t) { return t > 0 && t < DTYPE_SLOTS && table[t][ONNXC_FLOAT]; }

/* Cast-1 names the type as a string, e.g. "FLOAT". */
static int dtype_from_name(const char *s, size_t len)
{
    for (int t = 1; t < DTYPE_SLOTS; t++) {
        const char *name = oc_dtype_name((oc_dtype)t);
        if (strlen(name) != len) continue;
        size_t i = 0;
        while (i < len && (s[i] | 0x20) == name[i]) i++;
        if (i == len) return t;
    }
    return 0;
}

static onnxc_status cast_init(oc_node *node, onnxc_error *err)
{
    OC_TRY(oc_attr_require(node, "to", err));
    const Onnx__AttributeProto *a = oc_attr_find(node, "to");
    int64_t to = 0;
    if (node->since < 6 && a->has_s) {
        const char *s;
        size_t len;
        OC_TRY(oc_attr_string(node, "to", &s, &len, err));
        to = dtype_from_name(s, len);
        if (!to)
            return oc_node_fail(node, err, ONNXC_ERR_MODEL,
                                "attribute 'to' = '%.*s': expected a type name such as FLOAT",
                                (int)len, s);
    } else {
        OC_TRY(oc_attr_int(node, "to", 0, &to, err));
    }
    if (!oc_dtype_known((int)to) || to != (int)to)
        return oc_node_fail(node, err, ONNXC_ERR_MODEL,
                            "attribute 'to' = %lld: expected a TensorProto.DataType value",
                            (long long)to);
    if (!castable((oc_dtype)to))
        return oc_node_fail(node, err, ONNXC_ERR_UNSUPPORTED,
                            "Cast to %s is not supported; onnxc casts among: %s",
                            oc_dtype_name((oc_dtype)to), CAST_NAMES);
    int *p = oc_malloc(sizeof *p);
    if (!p) return oc_node_fail(node, err, ONNXC_ERR_NOMEM, "out of memory for attributes");
    *p = (int)to;
    oc_free(node->params);
    node->params = p;
    return ONNXC_OK;
}

static onnxc_status cast_infer(oc_op_ctx *ctx, size_t *ws)
{
    const oc_tensor *x = ctx->in[0];
    oc_dtype to = (oc_dtype) * (const int *)ctx->node->params;
    *ws = 0;
    if (!castable(x->dtype))
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_UNSUPPORTED,
                            "Cast from %s (input 0 '%s') to %s is not supported; onnxc casts "
                            "among: %s",
                            oc_dtype_name(x->dtype), oc_ew_input_name(ctx->node, 0),
                            oc_dtype_name(to), CAST_NAMES);
    ctx->out[0]->dtype = to;
    ctx->out[0]->shape = x->shape;
    return ONNXC_OK;
}

static onnxc_status cast_run(oc_op_ctx *ctx)
{
    const oc_tensor *x = ctx->in[0];
    oc_tensor *y = ctx->out[0];
    cast_fn fn = table[x->dtype][y->dtype];
    int64_t n = oc_tensor_numel(x);
    size_t ex = oc_dtype_size(x->dtype), ey = oc_dtype_size(y->dtype);
    int parts = oc_ew_parts(n, ctx->nthreads);
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(n, parts, c, &lo, &hi);
        fn((char *)y->data + (size_t)lo * ey, (const char *)x->data + (size_t)lo * ex, hi - lo);
    });
    return ONNXC_OK;
}

/* dx[i] += (dx's type) dy[i], for float/double on either side. */
#define CAST_GRAD(NAME, TX, TY)                                                            \
    static void NAME(void *dxv, const void *dyv, int64_t lo, int64_t hi)                   \
    {                                                                                      \
        TX *restrict dx = dxv;                                                             \
        const TY *restrict dy = dyv;                                                       \
        for (int64_t i = lo; i < hi; i++) dx[i] += (TX)dy[i];                              \
    }
CAST_GRAD(cast_grad_ff, float, float)
CAST_GRAD(cast_grad_fd, float, double)
CAST_GRAD(cast_grad_df, double, float)
CAST_GRAD(cast_grad_dd, double, double)

static onnxc_status cast_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                  oc_tensor *const *din)
{
    if (!dout[0] || !din[0]) return ONNXC_OK;
    oc_dtype tx = din[0]->dtype, ty = dout[0]->dtype;
    if (!oc_dtype_is_float(tx) || !oc_dtype_is_float(ty)) return ONNXC_OK;
    void (*fn)(void *, const void *, int64_t, int64_t) =
        tx == ONNXC_FLOAT ? (ty == ONNXC_FLOAT ? cast_grad_ff : cast_grad_fd)
                          : (ty == ONNXC_FLOAT ? cast_grad_df : cast_grad_dd);
    int64_t n = oc_tensor_numel(din[0]);
    int parts = oc_ew_parts(n, ctx->nthreads);
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(n, parts, c, &lo, &hi);
        fn(din[0]->data, dout[0]->data, lo, hi);
    });
    return ONNXC_OK;
}

const oc_op_def oc_op_cast = {
    .name = "Cast", .domain = "", .versions = {1, 6, 9, 13},
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .init = cast_init, .infer = cast_infer, .run = cast_run,
    .grad_inputs = 1u, .backward = cast_backward,
};
