/*
 * Where: Y = condition ? X : Y, all three broadcast multidirectionally.
 *
 * Spec summary: versions 9, 16 (16 adds bfloat16). condition is bool; X and
 * Y share any type T, which the output takes.
 * Implemented for every T the runtime stores densely (anything but string
 * and the 4-bit types): the kernel only moves bytes, by element size.
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
    OC_EW_PARALLEL_FOR(parts)
    for (int k = 0; k < parts; k++) {
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
    }
    return ONNXC_OK;
}

const oc_op_def oc_op_where = {
    .name = "Where", .domain = "", .versions = {9, 16},
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = where_infer, .run = where_run,
};
