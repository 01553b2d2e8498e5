/*
 * Shared pieces of the elementwise op family (unary.c, binary.c, pow.c,
 * cast.c, clip.c, where.c, expand.c): the op definitions the group
 * table lists, and checks every family member reports the same way.
 */
#ifndef OC_OPS_ELEMENTWISE_H
#define OC_OPS_ELEMENTWISE_H

#include <math.h>

#include "../broadcast.h"
#include "../op.h"

/* unary.c */
extern const oc_op_def oc_op_abs, oc_op_neg, oc_op_exp, oc_op_log, oc_op_sqrt, oc_op_reciprocal,
    oc_op_relu, oc_op_leaky_relu, oc_op_elu, oc_op_selu, oc_op_sigmoid, oc_op_hard_sigmoid,
    oc_op_tanh, oc_op_softplus, oc_op_softsign, oc_op_erf, oc_op_not;
/* binary.c, pow.c */
extern const oc_op_def oc_op_add, oc_op_sub, oc_op_mul, oc_op_div, oc_op_pow, oc_op_equal,
    oc_op_greater, oc_op_less;
/* clip.c, cast.c, where.c, expand.c */
extern const oc_op_def oc_op_clip, oc_op_cast, oc_op_where, oc_op_expand;

/* Name of input i as written in the model ("" when omitted). */
const char *oc_ew_input_name(const oc_node *n, int i);

/* ONNXC_ERR_SHAPE "input j 'name': expected dtype <input i's>, got ..." unless
 * inputs i and j have the same dtype. */
onnxc_status oc_ew_same_dtype(const oc_op_ctx *ctx, int i, int j);

/* ONNXC_ERR_UNSUPPORTED naming the node, input i, its dtype and the dtypes
 * onnxc implements for the op (`supported`, e.g. "float, double"). */
onnxc_status oc_ew_bad_dtype(const oc_op_ctx *ctx, int i, const char *supported);

/* ONNXC_ERR_UNSUPPORTED for a backward pass asked for a gradient through
 * input i, whose dtype has none here (onnxc differentiates float and
 * double only). */
onnxc_status oc_ew_bad_grad_dtype(const oc_op_ctx *ctx, int i);

/* Refuse the opset < 7 attributes we do not implement: `consumed_inputs`
 * (opset 1) and a non-zero `broadcast` (legacy unidirectional broadcast with
 * `axis`, opset 1-6). */
onnxc_status oc_ew_refuse_legacy(const oc_node *n, onnxc_error *err);

/*
 * double -> int64 rounding toward zero without undefined behaviour: values
 * outside the int64 range and NaN give INT64_MIN, the "integer indefinite"
 * value x86 conversions (and so numpy and onnxruntime there) produce.
 */
static inline int64_t oc_ew_f64_to_i64(double x)
{
    if (x >= -9223372036854775808.0 && x < 9223372036854775808.0) return (int64_t)x;
    return INT64_MIN;
}

/* double -> uint64 rounding toward zero: negative values wrap like the int64
 * conversion (-1.0 -> 2^64-1, as numpy gives), values >= 2^64 and NaN give 0. */
static inline uint64_t oc_ew_f64_to_u64(double x)
{
    if (x >= 9223372036854775808.0 && x < 18446744073709551616.0) return (uint64_t)x;
    int64_t i = oc_ew_f64_to_i64(x);
    return i == INT64_MIN ? 0 : (uint64_t)i;
}

#endif
