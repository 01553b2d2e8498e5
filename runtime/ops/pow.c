/*
 * Pow: Z = X ^ Y elementwise, numpy broadcasting.
 *
 * Spec summary: versions 1 (legacy `broadcast`), 7 (X, Y same float type),
 * 12 (X: T in float16/float/double/int32/int64 (+bfloat16 at 13), Y: T1 any
 * numeric type, independently), 15 (bfloat16 exponent). Z has X's type.
 * The ONNX reference computes np.power(x, y).astype(x.dtype): numpy promotes
 * a float32 base with an integer exponent to float64, and an integer base
 * with a float exponent to float, then converts back to the base type.
 *
 * How we compute, in blocks of POW_BLOCK elements:
 *   integer base and integer exponent: exact int64 exponentiation by
 *     squaring, wrapping on overflow like numpy; a negative exponent gives
 *     trunc(1 / x^-y) (1, -1 or 0: numpy refuses it, onnxruntime computes
 *     this);
 *   otherwise in double: pow(x, y) then converted to X's type (toward zero
 *     for an integer base). float^float is computed in double too: at least
 *     as accurate as float powf.
 * Blocks are loaded into double or int64 scratch arrays on the stack, so the
 * base x exponent type combinations need no generated kernels; Pow is rare
 * and pow() dominates the cost anyway.
 *
 * Backward, for each float (float or double) input that asks for it, in
 * double per block like the forward pass:
 *   dX = dZ * Y * X^(Y-1), taken as 0 where Y = 0 (Z is constant 1 there;
 *        0 * 0^-1 would give NaN at X = 0)
 *   dY = dZ * Z * ln(X), taken as 0 where X = 0 and Y >= 0, as torch does
 *        (the limit for Y > 0; ln(0) would give 0 * -inf = NaN, or -inf
 *        for 0^0)
 * with Z the forward output. A broadcast input's term is formed in the
 * workspace ([Z's shape], in that input's dtype) and summed back to its
 * shape by oc_bcast_reduce_add; otherwise it is added in place.
 */
#include "elementwise.h"

#define POW_BLOCK 256

static bool base_ok(oc_dtype t)
{
    return t == ONNXC_FLOAT || t == ONNXC_DOUBLE || t == ONNXC_INT32 || t == ONNXC_INT64;
}

static bool exp_ok(oc_dtype t) { return oc_dtype_is_float(t) || oc_dtype_is_int(t); }

/* n elements of t from element off, stride s in {0,1}, as double / as int64. */
static void load_f64(double *dst, const oc_tensor *t, int64_t off, int64_t s, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (t->dtype == ONNXC_UINT64) /* get_double would go through int64 */
            dst[i] = (double)((const uint64_t *)t->data)[off + i * s];
        else
            dst[i] = oc_tensor_get_double(t, off + i * s);
    }
}

static void load_i64(int64_t *dst, const oc_tensor *t, int64_t off, int64_t s, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (t->dtype == ONNXC_UINT64) /* keep the bits: 2^63.. wrap like numpy's int64 */
            dst[i] = (int64_t)((const uint64_t *)t->data)[off + i * s];
        else
            dst[i] = oc_tensor_get_int(t, off + i * s);
    }
}

/* x^y in wrapping int64 arithmetic (done in uint64: overflow is defined). */
static int64_t ipow(int64_t x, int64_t y)
{
    if (y < 0) return x == 1 ? 1 : x == -1 ? ((y & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)x;
    uint64_t e = (uint64_t)y;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

static void store(const oc_tensor *z, int64_t off, const double *vf, const int64_t *vi,
                  int64_t n)
{
    switch (z->dtype) {
    case ONNXC_FLOAT:
        for (int64_t i = 0; i < n; i++) ((float *)z->data)[off + i] = (float)vf[i];
        break;
    case ONNXC_DOUBLE:
        for (int64_t i = 0; i < n; i++) ((double *)z->data)[off + i] = vf[i];
        break;
    case ONNXC_INT32:
        for (int64_t i = 0; i < n; i++)
            ((int32_t *)z->data)[off + i] = (int32_t)(vi ? vi[i] : oc_ew_f64_to_i64(vf[i]));
        break;
    default: /* int64 */
        for (int64_t i = 0; i < n; i++)
            ((int64_t *)z->data)[off + i] = vi ? vi[i] : oc_ew_f64_to_i64(vf[i]);
        break;
    }
}

static onnxc_status pow_init(oc_node *node, onnxc_error *err)
{
    return node->since < 7 ? oc_ew_refuse_legacy(node, err) : ONNXC_OK;
}

static onnxc_status pow_infer(oc_op_ctx *ctx, size_t *ws)
{
    const oc_tensor *x = ctx->in[0], *y = ctx->in[1];
    *ws = 0;
    if (!base_ok(x->dtype)) return oc_ew_bad_dtype(ctx, 0, "float, double, int32, int64");
    if (ctx->node->since < 12) {
        /* Before 12 both inputs are one type T. */
        OC_TRY(oc_ew_same_dtype(ctx, 0, 1));
    } else if (!exp_ok(y->dtype)) {
        return oc_ew_bad_dtype(ctx, 1,
                               "float, double, int8, int16, int32, int64, uint8, uint16, "
                               "uint32, uint64");
    }
    if (ctx->node->since < 7 && !oc_shape_equal(&x->shape, &y->shape)) {
        char sa[128], sb[128];
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "opset %d without the 'broadcast' attribute needs equal shapes, "
                            "got %s and %s",
                            ctx->node->opset, oc_shape_str(&x->shape, sa, sizeof sa),
                            oc_shape_str(&y->shape, sb, sizeof sb));
    }
    OC_TRY(oc_broadcast_shape(ctx->node, &x->shape, &y->shape, &ctx->out[0]->shape, ctx->err));
    ctx->out[0]->dtype = x->dtype;
    return ONNXC_OK;
}

/* Output elements [lo, hi): walk row segments, in blocks of POW_BLOCK. */
static void pow_range(const oc_tensor *x, const oc_tensor *y, const oc_tensor *z,
                      const oc_bcast *bc, int64_t lo, int64_t hi)
{
    bool int_path = oc_dtype_is_int(x->dtype) && oc_dtype_is_int(y->dtype);
    double fx[POW_BLOCK], fy[POW_BLOCK];
    int64_t ix[POW_BLOCK], iy[POW_BLOCK];
    oc_bcast_iter it;
    oc_bcast_iter_begin(&it, bc, lo, hi);
    int64_t o, len;
    while ((len = oc_bcast_iter_next(&it, &o)) > 0) {
        for (int64_t done = 0; done < len; done += POW_BLOCK) {
            int64_t n = len - done < POW_BLOCK ? len - done : POW_BLOCK;
            int64_t ox = it.seg[0] + done * bc->inner[0], oy = it.seg[1] + done * bc->inner[1];
            if (int_path) {
                load_i64(ix, x, ox, bc->inner[0], n);
                load_i64(iy, y, oy, bc->inner[1], n);
                for (int64_t i = 0; i < n; i++) ix[i] = ipow(ix[i], iy[i]);
                store(z, o + done, NULL, ix, n);
            } else {
                load_f64(fx, x, ox, bc->inner[0], n);
                load_f64(fy, y, oy, bc->inner[1], n);
                for (int64_t i = 0; i < n; i++) fx[i] = pow(fx[i], fy[i]);
                store(z, o + done, fx, NULL, n);
            }
        }
    }
}

static onnxc_status pow_run(oc_op_ctx *ctx)
{
    const oc_tensor *x = ctx->in[0], *y = ctx->in[1];
    oc_tensor *z = ctx->out[0];
    oc_bcast bc;
    oc_bcast_init(&bc, &z->shape, 2, (const oc_shape *[]){&x->shape, &y->shape});
    int parts = oc_ew_parts(bc.numel, ctx->nthreads);
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(bc.numel, parts, c, &lo, &hi);
        pow_range(x, y, z, &bc, lo, hi);
    });
    return ONNXC_OK;
}

/* ------------------------------------------------------------------------ */
/* Backward                                                                 */

static bool pow_broadcast(const oc_op_ctx *ctx, int k)
{
    return oc_tensor_numel(ctx->in[k]) != oc_tensor_numel(ctx->out[0]);
}

static size_t pow_backward_workspace(const oc_op_ctx *ctx)
{
    /* One term of Z's shape at a time, in the dtype of its input. */
    size_t most = 0;
    for (int k = 0; k < 2; k++) {
        size_t es = oc_dtype_size(ctx->in[k]->dtype);
        if (oc_dtype_is_float(ctx->in[k]->dtype) && pow_broadcast(ctx, k) && es > most)
            most = es;
    }
    return (size_t)oc_tensor_numel(ctx->out[0]) * most;
}

/* g[i] (+)= t[i] for n elements of g's float dtype. */
static void put_term(const oc_tensor *g, int64_t off, const double *t, int64_t n, bool acc)
{
    if (g->dtype == ONNXC_DOUBLE) {
        double *p = (double *)g->data + off;
        for (int64_t i = 0; i < n; i++) p[i] = (acc ? p[i] : 0.0) + t[i];
    } else {
        float *p = (float *)g->data + off;
        for (int64_t i = 0; i < n; i++) p[i] = (acc ? p[i] : 0.0f) + (float)t[i];
    }
}

/* Input k's term over Z's elements [lo, hi) into g (Z's element order). */
static void pow_grad_range(const oc_op_ctx *ctx, const oc_tensor *dz, const oc_tensor *g, int k,
                           bool acc, const oc_bcast *bc, int64_t lo, int64_t hi)
{
    const oc_tensor *x = ctx->in[0], *y = ctx->in[1], *z = ctx->out[0];
    double fx[POW_BLOCK], fy[POW_BLOCK], fd[POW_BLOCK], fz[POW_BLOCK];
    oc_bcast_iter it;
    oc_bcast_iter_begin(&it, bc, lo, hi);
    int64_t o, len;
    while ((len = oc_bcast_iter_next(&it, &o)) > 0) {
        for (int64_t done = 0; done < len; done += POW_BLOCK) {
            int64_t n = len - done < POW_BLOCK ? len - done : POW_BLOCK;
            load_f64(fx, x, it.seg[0] + done * bc->inner[0], bc->inner[0], n);
            load_f64(fy, y, it.seg[1] + done * bc->inner[1], bc->inner[1], n);
            load_f64(fd, dz, o + done, 1, n);
            if (k == 0) {
                for (int64_t i = 0; i < n; i++)
                    fx[i] = fy[i] == 0.0 ? 0.0 : fd[i] * fy[i] * pow(fx[i], fy[i] - 1.0);
            } else {
                load_f64(fz, z, o + done, 1, n);
                for (int64_t i = 0; i < n; i++)
                    fx[i] = (fx[i] == 0.0 && fy[i] >= 0.0) ? 0.0 : fd[i] * fz[i] * log(fx[i]);
            }
            put_term(g, o + done, fx, n, acc);
        }
    }
}

static onnxc_status pow_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                 oc_tensor *const *din)
{
    const oc_tensor *dz = dout[0];
    if (!dz || oc_tensor_numel(dz) == 0) return ONNXC_OK;
    oc_bcast bc;
    oc_bcast_init(&bc, &dz->shape, 2,
                  (const oc_shape *[]){&ctx->in[0]->shape, &ctx->in[1]->shape});
    for (int k = 0; k < 2; k++) {
        if (!din[k]) continue;
        if (!oc_dtype_is_float(ctx->in[k]->dtype) || !oc_dtype_is_float(dz->dtype))
            return oc_ew_bad_grad_dtype(ctx, k);
        bool reduce = pow_broadcast(ctx, k);
        oc_tensor tmp = *dz;                  /* [Z's shape], input k's dtype */
        tmp.dtype = din[k]->dtype;
        if (reduce) {
            size_t need = (size_t)bc.numel * oc_dtype_size(tmp.dtype);
            if (ctx->workspace_bytes < need)
                return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                                    "backward workspace: expected %zu bytes, got %zu", need,
                                    ctx->workspace_bytes);
            tmp.data = ctx->workspace;
        } else {
            tmp.data = din[k]->data;
        }
        int parts = oc_ew_parts(bc.numel, ctx->nthreads);
        OC_PAR_FOR(parts, c, {
            int64_t lo, hi;
            oc_split_range(bc.numel, parts, c, &lo, &hi);
            pow_grad_range(ctx, dz, &tmp, k, !reduce, &bc, lo, hi);
        });
        if (reduce) oc_bcast_reduce_add(din[k], &tmp, 1.0, ctx->nthreads);
    }
    return ONNXC_OK;
}

const oc_op_def oc_op_pow = {
    .name = "Pow", .domain = "", .versions = {1, 7, 12, 13, 15},
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .init = pow_init, .infer = pow_infer, .run = pow_run,
    .grad_inputs = 3u, .backward = pow_backward, .backward_workspace = pow_backward_workspace,
};
