/*
 * Where: Y = condition ? X : Y, all three broadcast multidirectionally.
 *
 * Spec summary: versions 9, 16 (16 adds bfloat16). condition is bool; X and
 * Y share any type T, which the output takes.
 * Implemented for every T the runtime stores densely (anything but string
 * and the 4-bit types): the kernel only moves bytes, by element size.
 *
 * Backward (float, double): the upstream gradient is routed by the
 * condition, dX = cond ? dOut : 0 and dY = cond ? 0 : dOut, each summed
 * back to its input's shape over the broadcast dims (oc_bcast_reduce_add;
 * the routed term is formed in the workspace, [output shape], only for a
 * broadcast input). The condition is not differentiable.
 */
#include "elementwise.h"

#include <stdio.h>
#include <string.h>

/* y[i] = c[i*sc] ? a[i*sa] : b[i*sb] (all strides 0 or 1) for element
 * size ES; the all-contiguous case gets its own loop to vectorize. */
#define WHERE_ROW(NAME, T)                                                                 \
    static void NAME(void *yv, const uint8_t *restrict c, int64_t sc, const void *av,     \
                     int64_t sa, const void *bv, int64_t sb, int64_t n)                    \
    {                                                                                      \
        T *restrict y = yv;                                                                \
        const T *restrict a = av;                                                          \
        const T *restrict b = bv;                                                          \
        if (sc && sa && sb) {                                                              \
            for (int64_t i = 0; i < n; i++) y[i] = c[i] ? a[i] : b[i];                     \
        } else {                                                                           \
            for (int64_t i = 0; i < n; i++) y[i] = c[i * sc] ? a[i * sa] : b[i * sb];      \
        }                                                                                  \
    }
WHERE_ROW(where_1, uint8_t)
WHERE_ROW(where_2, uint16_t)
WHERE_ROW(where_4, uint32_t)
WHERE_ROW(where_8, uint64_t)

typedef void (*where_fn)(void *y, const uint8_t *c, int64_t sc, const void *a, int64_t sa,
                         const void *b, int64_t sb, int64_t n);

/* Element sizes without a typed kernel (complex128: 16 bytes). */
static void where_bytes(char *y, const uint8_t *c, int64_t sc, const char *a, int64_t sa,
                        const char *b, int64_t sb, int64_t n, size_t es)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(y + (size_t)i * es,
               c[i * sc] ? a + (size_t)(i * sa) * es : b + (size_t)(i * sb) * es, es);
}

static where_fn fn_for(size_t es)
{
    switch (es) {
    case 1: return where_1;
    case 2: return where_2;
    case 4: return where_4;
    case 8: return where_8;
    default: return NULL;
    }
}

static onnxc_status where_infer(oc_op_ctx *ctx, size_t *ws)
{
    const oc_tensor *c = ctx->in[0], *x = ctx->in[1], *y = ctx->in[2];
    *ws = 0;
    char what[300];
    snprintf(what, sizeof what, "input 0 '%s' (condition)", oc_ew_input_name(ctx->node, 0));
    OC_TRY(oc_check_dtype(ctx->node, what, c->dtype, ONNXC_BOOL, ctx->err));
    if (oc_dtype_size(x->dtype) == 0) return oc_ew_bad_dtype(ctx, 1, "any fixed-size type");
    OC_TRY(oc_ew_same_dtype(ctx, 1, 2));
    oc_shape cx;
    OC_TRY(oc_broadcast_shape(ctx->node, &c->shape, &x->shape, &cx, ctx->err));
    OC_TRY(oc_broadcast_shape(ctx->node, &cx, &y->shape, &ctx->out[0]->shape, ctx->err));
    ctx->out[0]->dtype = x->dtype;
    return ONNXC_OK;
}

static onnxc_status where_run(oc_op_ctx *ctx)
{
    const oc_tensor *c = ctx->in[0], *x = ctx->in[1], *y = ctx->in[2];
    oc_tensor *out = ctx->out[0];
    oc_bcast bc;
    oc_bcast_init(&bc, &out->shape, 3, (const oc_shape *[]){&c->shape, &x->shape, &y->shape});
    size_t es = oc_dtype_size(x->dtype);
    where_fn fn = fn_for(es);
    const uint8_t *pc = c->data;
    const char *px = x->data, *py = y->data;
    char *po = out->data;
    int parts = oc_ew_parts(bc.numel, ctx->nthreads);
    OC_PAR_FOR(parts, k, {
        int64_t lo, hi, o, len;
        oc_split_range(bc.numel, parts, k, &lo, &hi);
        oc_bcast_iter it;
        oc_bcast_iter_begin(&it, &bc, lo, hi);
        while ((len = oc_bcast_iter_next(&it, &o)) > 0) {
            const uint8_t *sc = pc + it.seg[0];
            const char *sx = px + (size_t)it.seg[1] * es, *sy = py + (size_t)it.seg[2] * es;
            if (fn)
                fn(po + (size_t)o * es, sc, bc.inner[0], sx, bc.inner[1], sy, bc.inner[2], len);
            else
                where_bytes(po + (size_t)o * es, sc, bc.inner[0], sx, bc.inner[1], sy,
                            bc.inner[2], len, es);
        }
    });
    return ONNXC_OK;
}

/* ------------------------------------------------------------------------ */
/* Backward                                                                 */

/* g[i] (+)= (c[i*sc] != 0) == pick ? d[i] : 0 for n elements. */
#define WHERE_GRAD(S, T)                                                                   \
    static void where_grad_##S(void *gv, bool acc, const uint8_t *restrict c, int64_t sc,  \
                               bool pick, const void *dv, int64_t n)                       \
    {                                                                                      \
        T *restrict g = gv;                                                                \
        const T *restrict d = dv;                                                          \
        for (int64_t i = 0; i < n; i++) {                                                  \
            T v = (c[i * sc] != 0) == pick ? d[i] : (T)0;                                  \
            g[i] = acc ? g[i] + v : v;                                                     \
        }                                                                                  \
    }
WHERE_GRAD(f32, float)
WHERE_GRAD(f64, double)

static bool where_broadcast(const oc_op_ctx *ctx, int k)
{
    return oc_tensor_numel(ctx->in[k]) != oc_tensor_numel(ctx->out[0]);
}

static size_t where_backward_workspace(const oc_op_ctx *ctx)
{
    if (!where_broadcast(ctx, 1) && !where_broadcast(ctx, 2)) return 0;
    return (size_t)oc_tensor_numel(ctx->out[0]) * oc_dtype_size(ctx->out[0]->dtype);
}

static onnxc_status where_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                   oc_tensor *const *din)
{
    const oc_tensor *c = ctx->in[0], *d = dout[0];
    if (!d || oc_tensor_numel(d) == 0) return ONNXC_OK;
    oc_bcast bc;
    oc_bcast_init(&bc, &d->shape, 1, (const oc_shape *[]){&c->shape});
    for (int k = 1; k <= 2; k++) {
        if (!din[k]) continue;
        if (!oc_dtype_is_float(ctx->in[k]->dtype)) return oc_ew_bad_grad_dtype(ctx, k);
        bool f64 = d->dtype == ONNXC_DOUBLE, reduce = where_broadcast(ctx, k);
        size_t es = oc_dtype_size(d->dtype);
        oc_tensor tmp = *d;                   /* [output shape], the routed term */
        if (reduce) {
            if (ctx->workspace_bytes < (size_t)bc.numel * es)
                return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                                    "backward workspace: expected %zu bytes, got %zu",
                                    (size_t)bc.numel * es, ctx->workspace_bytes);
            tmp.data = ctx->workspace;
        } else {
            tmp.data = din[k]->data;
        }
        char *pg = tmp.data;
        const char *pd = d->data;
        const uint8_t *pc = c->data;
        int parts = oc_ew_parts(bc.numel, ctx->nthreads);
        OC_PAR_FOR(parts, p, {
            int64_t lo, hi, o, len;
            oc_split_range(bc.numel, parts, p, &lo, &hi);
            oc_bcast_iter it;
            oc_bcast_iter_begin(&it, &bc, lo, hi);
            while ((len = oc_bcast_iter_next(&it, &o)) > 0) {
                if (f64)
                    where_grad_f64(pg + (size_t)o * es, !reduce, pc + it.seg[0], bc.inner[0],
                                   k == 1, pd + (size_t)o * es, len);
                else
                    where_grad_f32(pg + (size_t)o * es, !reduce, pc + it.seg[0], bc.inner[0],
                                   k == 1, pd + (size_t)o * es, len);
            }
        });
        if (reduce) oc_bcast_reduce_add(din[k], &tmp, 1.0, ctx->nthreads);
    }
    return ONNXC_OK;
}

const oc_op_def oc_op_where = {
    .name = "Where", .domain = "", .versions = {9, 16},
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = where_infer, .run = where_run,
    .grad_inputs = (1u << 1) | (1u << 2), .backward = where_backward,
    .backward_workspace = where_backward_workspace,
};
