/*
 * ReduceSum, ReduceMean, ReduceMax and ArgMax.
 *
 *   ReduceSum  1, 11, 13      sum over `axes`
 *   ReduceMean 1, 11, 13, 18  sum / count
 *   ReduceMax  1, 11, 12, 13, 18, 20   max (NaN wins, as numpy.max)
 *     reduced dims are kept as 1 (keepdims = 1, default) or dropped.
 *     `axes` is an attribute (Sum before 13, Mean/Max before 18) or the
 *     optional int64 input 1 (then `noop_with_empty_axes` = 0 says what empty
 *     or absent axes mean: 0 reduce everything, 1 return the input). No axes
 *     otherwise means all axes. Axes lie in [-r, r-1], no repeats.
 *     Types: float, double, int32, int64, uint32, uint64; ReduceMax also
 *     int8, uint8 (12+) and bool (20+). Integer sums wrap; an integer mean
 *     truncates toward zero. Over an empty set: sum 0, mean NaN (0 for
 *     integers), max -inf (the type's minimum for integers).
 *   ArgMax 1, 11, 12, 13      int64 index of the max along `axis` (0),
 *     keepdims = 1; select_last_index = 0 (12+) picks the last of equal
 *     maxima instead of the first. NaN counts as the maximum (numpy.argmax).
 *
 * Kernel: the input's dims are merged into alternating groups of kept and
 * reduced dims (size-1 dims dropped). If the last group is reduced, each
 * output element sums contiguous runs of it ("gather"); if it is kept, rows
 * of the last group are accumulated into a block of 256 outputs at a time
 * ("rows", vectorizable). Either way an output element sees its inputs in
 * C order and is computed by one thread, so results do not depend on the
 * thread count. Float sums and means accumulate in double.
 */
#include "nn.h"

#include <math.h>
#include <string.h>

#include "../attr.h"
#include "movement.h"

typedef enum red_kind { RED_SUM, RED_MEAN, RED_MAX } red_kind;

typedef struct red_params {
    red_kind kind;
    bool keepdims;
    bool axes_input;                   /* axes are input 1, not an attribute */
    bool noop_empty;                   /* noop_with_empty_axes */
    int n_axes;                        /* attribute axes */
    int64_t axes[OC_MAX_RANK];
} red_params;

static onnxc_status red_init(oc_node *node, onnxc_error *err, red_kind kind)
{
    red_params p = {.kind = kind};
    int64_t v;
    OC_TRY(oc_attr_int(node, "keepdims", 1, &v, err));
    p.keepdims = v != 0;
    p.axes_input = node->since >= (kind == RED_SUM ? 13 : 18);
    if (p.axes_input) {
        OC_TRY(oc_attr_int(node, "noop_with_empty_axes", 0, &v, err));
        p.noop_empty = v != 0;
        if (oc_attr_find(node, "axes"))
            return oc_node_fail(node, err, ONNXC_ERR_MODEL,
                                "attribute 'axes' is not part of %s-%d, which takes the axes as "
                                "input 1",
                                node->op_type, node->since);
    } else {
        const int64_t *axes;
        size_t n;
        OC_TRY(oc_attr_ints(node, "axes", &axes, &n, err));
        if (n > OC_MAX_RANK)
            return oc_node_fail(node, err, ONNXC_ERR_MODEL,
                                "attribute 'axes' has %zu entries: expected at most %d (distinct "
                                "axes of a tensor of rank <= %d)",
                                n, OC_MAX_RANK, OC_MAX_RANK);
        p.n_axes = (int)n;
        for (size_t i = 0; i < n; i++) p.axes[i] = axes[i];
        if (node->n_in > 1)
            return oc_node_fail(node, err, ONNXC_ERR_MODEL,
                                "expected 1 input for %s-%d (axes is an attribute), got %d",
                                node->op_type, node->since, node->n_in);
    }
    return oc_nn_set_params(node, &p, sizeof p, err);
}

static onnxc_status sum_init(oc_node *n, onnxc_error *e) { return red_init(n, e, RED_SUM); }
static onnxc_status mean_init(oc_node *n, onnxc_error *e) { return red_init(n, e, RED_MEAN); }
static onnxc_status max_init(oc_node *n, onnxc_error *e) { return red_init(n, e, RED_MAX); }

/* Which dims are reduced; *noop when the op returns its input unchanged. */
static onnxc_status red_axes(const oc_op_ctx *ctx, bool reduce[OC_MAX_RANK], bool *noop)
{
    const red_params *p = ctx->node->params;
    const int rank = ctx->in[0]->shape.rank;
    int64_t raw[OC_MAX_RANK];
    int n = p->n_axes, norm[OC_MAX_RANK];
    const char *what = "attribute 'axes'";
    memcpy(raw, p->axes, sizeof raw);
    if (p->axes_input) {
        n = 0;
        what = "input 1 'axes'";
        if (ctx->n_in > 1 && ctx->in[1])
            OC_TRY(oc_mv_read_i64(ctx->node, what, ctx->in[1], false, raw, OC_MAX_RANK, &n,
                                  ctx->err));
    }
    *noop = n == 0 && p->axes_input && p->noop_empty;
    OC_TRY(oc_mv_axes(ctx->node, what, raw, n, rank, true, norm, ctx->err));
    for (int d = 0; d < OC_MAX_RANK; d++) reduce[d] = n == 0 && !*noop;
    for (int i = 0; i < n; i++) reduce[norm[i]] = true;
    return ONNXC_OK;
}

static bool red_dtype_ok(red_kind kind, oc_dtype t, int since)
{
    switch (t) {
    case ONNXC_FLOAT: case ONNXC_DOUBLE: case ONNXC_INT32: case ONNXC_INT64:
    case ONNXC_UINT32: case ONNXC_UINT64:
        return true;
    case ONNXC_INT8: case ONNXC_UINT8: return kind == RED_MAX && since >= 12;
    case ONNXC_BOOL: return kind == RED_MAX && since >= 20;
    default: return false;
    }
}

/* Output shape for the reduced dims: kept as 1 with keepdims, else dropped. */
static void red_out_shape(const oc_shape *x, const bool *reduce, bool keepdims, oc_shape *out)
{
    out->rank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!reduce[d])
            out->dims[out->rank++] = x->dims[d];
        else if (keepdims)
            out->dims[out->rank++] = 1;
    }
}

static onnxc_status red_infer(oc_op_ctx *ctx, size_t *ws)
{
    const red_params *p = ctx->node->params;
    const oc_tensor *x = ctx->in[0];
    *ws = 0;
    if (!red_dtype_ok(p->kind, x->dtype, ctx->node->since))
        return oc_nn_bad_dtype(ctx, 0,
                               p->kind != RED_MAX ? "float, double, int32, int64, uint32, uint64"
                               : ctx->node->since >= 20
                                   ? "float, double, int32, int64, uint32, uint64, int8, uint8, bool"
                               : ctx->node->since >= 12
                                   ? "float, double, int32, int64, uint32, uint64, int8, uint8"
                                   : "float, double, int32, int64, uint32, uint64");
    bool reduce[OC_MAX_RANK], noop;
    OC_TRY(red_axes(ctx, reduce, &noop));
    ctx->out[0]->dtype = x->dtype;
    red_out_shape(&x->shape, reduce, p->keepdims, &ctx->out[0]->shape);
    return ONNXC_OK;
}

/* ---- geometry ------------------------------------------------------------ */

typedef struct red_geom {
    int nk, nr;                        /* kept / reduced groups */
    int64_t ksize[OC_MAX_RANK], kstride[OC_MAX_RANK];
    int64_t rsize[OC_MAX_RANK], rstride[OC_MAX_RANK];
    bool inner_reduced;                /* the last group is reduced ("gather") */
    int64_t inner;                     /* size of the last group (stride 1) */
    int64_t out_numel, red_numel;
    int64_t units;                     /* work items: outputs, or rows of `inner` outputs */
    int64_t odo_count;                 /* reduced index combinations walked per item */
    int odo_n;                         /* reduced groups the odometer walks */
    bool mean;
} red_geom;

static void red_geom_make(const oc_shape *s, const bool *reduce, bool mean, red_geom *g)
{
    memset(g, 0, sizeof *g);
    g->mean = mean;
    g->out_numel = g->red_numel = 1;
    int64_t stride = 1;
    int last_kind = -1;                /* 0 kept, 1 reduced */
    /* Walk from the innermost dim out, merging a dim into the group before it
     * when it has the same kind (strides stay consistent in C order). */
    int64_t size[OC_MAX_RANK], str[OC_MAX_RANK];
    int kind[OC_MAX_RANK], n = 0;
    for (int d = s->rank - 1; d >= 0; d--) {
        const int64_t len = s->dims[d];
        if (reduce[d]) g->red_numel *= len; else g->out_numel *= len;
        if (len != 1) {
            const int k = reduce[d] ? 1 : 0;
            if (k == last_kind) {
                size[n - 1] *= len;
            } else {
                size[n] = len;
                str[n] = stride;
                kind[n++] = k;
                last_kind = k;
            }
        }
        stride *= len;
    }
    /* Groups were collected innermost first; store them outermost first. */
    for (int i = n - 1; i >= 0; i--) {
        if (kind[i]) {
            g->rsize[g->nr] = size[i];
            g->rstride[g->nr++] = str[i];
        } else {
            g->ksize[g->nk] = size[i];
            g->kstride[g->nk++] = str[i];
        }
    }
    g->inner_reduced = n > 0 && kind[0] == 1;
    g->inner = n > 0 ? size[0] : 1;
    if (g->inner_reduced) {
        g->units = g->out_numel;
        g->odo_n = g->nr - 1;
    } else {
        g->units = g->inner > 0 ? g->out_numel / g->inner : 0;
        g->odo_n = g->nr;
    }
    g->odo_count = 1;
    for (int i = 0; i < g->odo_n; i++) g->odo_count *= g->rsize[i];
}

/* Input offset of kept index `o` over the first `nk` kept groups. */
static inline int64_t red_base(const red_geom *g, int64_t o, int nk)
{
    int64_t off = 0;
    for (int d = nk - 1; d >= 0; d--) {
        off += (o % g->ksize[d]) * g->kstride[d];
        o /= g->ksize[d];
    }
    return off;
}

/* Odometer over the first odo_n reduced groups, in C order. */
typedef struct red_odo {
    int64_t idx[OC_MAX_RANK];
    int64_t off;
} red_odo;

static inline void red_odo_next(red_odo *od, const red_geom *g)
{
    for (int d = g->odo_n - 1; d >= 0; d--) {
        od->off += g->rstride[d];
        if (++od->idx[d] < g->rsize[d]) return;
        od->off -= g->rstride[d] * g->rsize[d];
        od->idx[d] = 0;
    }
}

/* ---- kernels --------------------------------------------------------------- */

#define RED_CHUNK 256

/* Accumulation steps and results. `cnt` (elements reduced) and `mean` are
 * locals of the kernel. Signed integer sums wrap through uint64. */
#define STEP_ADD(a, v) ((a) += (v))
#define STEP_ADD_WRAP(a, v) ((a) = (int64_t)((uint64_t)(a) + (uint64_t)(int64_t)(v)))
#define STEP_MAX(a, v) ((a) = ((v) > (a) || isnan((double)(v))) ? (v) : (a))
#define FIN_FLOAT(T, a) ((T)(mean ? (a) / (double)cnt : (a)))
#define FIN_INT(T, a) ((T)(mean ? (cnt ? (a) / cnt : 0) : (a)))
#define FIN_MAX(T, a) (a)

#define RED_KERNEL(NAME, T, ACC, CNT_T, INIT, STEP, FIN)                                   \
    static void NAME(const red_geom *g, const void *xv, void *yv, int64_t lo, int64_t hi)  \
    {                                                                                      \
        const T *x = xv;                                                                   \
        T *y = yv;                                                                         \
        const CNT_T cnt = (CNT_T)g->red_numel;                                             \
        const bool mean = g->mean;                                                         \
        (void)cnt;                                                                         \
        (void)mean;                                                                        \
        if (g->inner_reduced) {                                                            \
            for (int64_t o = lo; o < hi; o++) {                                            \
                const T *xb = x + red_base(g, o, g->nk);                                   \
                ACC a = INIT;                                                              \
                red_odo od = {.off = 0};                                                   \
                for (int64_t r = 0; r < g->odo_count; r++) {                               \
                    const T *xr = xb + od.off;                                             \
                    for (int64_t l = 0; l < g->inner; l++) STEP(a, xr[l]);                 \
                    red_odo_next(&od, g);                                                  \
                }                                                                          \
                y[o] = FIN(T, a);                                                          \
            }                                                                              \
            return;                                                                        \
        }                                                                                  \
        ACC acc[RED_CHUNK];                                                                \
        for (int64_t u = lo; u < hi; u++) {                                                \
            const T *xb = x + red_base(g, u, g->nk - 1);                                   \
            for (int64_t jc = 0; jc < g->inner; jc += RED_CHUNK) {                         \
                const int64_t nc = g->inner - jc < RED_CHUNK ? g->inner - jc : RED_CHUNK;  \
                for (int64_t j = 0; j < nc; j++) acc[j] = INIT;                            \
                red_odo od = {.off = 0};                                                   \
                for (int64_t r = 0; r < g->odo_count; r++) {                               \
                    const T *restrict xr = xb + od.off + jc;                               \
                    for (int64_t j = 0; j < nc; j++) STEP(acc[j], xr[j]);                  \
                    red_odo_next(&od, g);                                                  \
                }                                                                          \
                T *yr = y + u * g->inner + jc;                                             \
                for (int64_t j = 0; j < nc; j++) yr[j] = FIN(T, acc[j]);                   \
            }                                                                              \
        }                                                                                  \
    }

RED_KERNEL(sum_f32, float, double, int64_t, 0.0, STEP_ADD, FIN_FLOAT)
RED_KERNEL(sum_f64, double, double, int64_t, 0.0, STEP_ADD, FIN_FLOAT)
RED_KERNEL(sum_i32, int32_t, int64_t, int64_t, 0, STEP_ADD_WRAP, FIN_INT)
RED_KERNEL(sum_i64, int64_t, int64_t, int64_t, 0, STEP_ADD_WRAP, FIN_INT)
RED_KERNEL(sum_u32, uint32_t, uint64_t, uint64_t, 0, STEP_ADD, FIN_INT)
RED_KERNEL(sum_u64, uint64_t, uint64_t, uint64_t, 0, STEP_ADD, FIN_INT)
RED_KERNEL(max_f32, float, float, int64_t, -INFINITY, STEP_MAX, FIN_MAX)
RED_KERNEL(max_f64, double, double, int64_t, -INFINITY, STEP_MAX, FIN_MAX)
RED_KERNEL(max_i8, int8_t, int8_t, int64_t, INT8_MIN, STEP_MAX, FIN_MAX)
RED_KERNEL(max_u8, uint8_t, uint8_t, int64_t, 0, STEP_MAX, FIN_MAX)
RED_KERNEL(max_i32, int32_t, int32_t, int64_t, INT32_MIN, STEP_MAX, FIN_MAX)
RED_KERNEL(max_i64, int64_t, int64_t, int64_t, INT64_MIN, STEP_MAX, FIN_MAX)
RED_KERNEL(max_u32, uint32_t, uint32_t, int64_t, 0, STEP_MAX, FIN_MAX)
RED_KERNEL(max_u64, uint64_t, uint64_t, int64_t, 0, STEP_MAX, FIN_MAX)

typedef void (*red_fn)(const red_geom *g, const void *x, void *y, int64_t lo, int64_t hi);

static red_fn red_kernel(red_kind kind, oc_dtype t)
{
    const bool sum = kind != RED_MAX;
    switch (t) {
    case ONNXC_FLOAT: return sum ? sum_f32 : max_f32;
    case ONNXC_DOUBLE: return sum ? sum_f64 : max_f64;
    case ONNXC_INT32: return sum ? sum_i32 : max_i32;
    case ONNXC_INT64: return sum ? sum_i64 : max_i64;
    case ONNXC_UINT32: return sum ? sum_u32 : max_u32;
    case ONNXC_UINT64: return sum ? sum_u64 : max_u64;
    case ONNXC_INT8: return max_i8;
    case ONNXC_UINT8: case ONNXC_BOOL: return max_u8;
    default: return NULL;
    }
}

static onnxc_status red_run(oc_op_ctx *ctx)
{
    const red_params *p = ctx->node->params;
    const oc_tensor *X = ctx->in[0];
    oc_tensor *Y = ctx->out[0];
    bool reduce[OC_MAX_RANK], noop;
    OC_TRY(red_axes(ctx, reduce, &noop));
    /* Axes from an input were read when the plan was built; values that
     * changed since then would not fit the output buffer. */
    oc_shape want;
    red_out_shape(&X->shape, reduce, p->keepdims, &want);
    if (!noop && !oc_shape_equal(&want, &Y->shape)) {
        char a[160], b[160];
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                            "input 1 'axes' changed after planning: output shape would be %s, "
                            "planned %s",
                            oc_shape_str(&want, a, sizeof a), oc_shape_str(&Y->shape, b, sizeof b));
    }
    if (noop) {
        oc_mv_copy(Y->data, X->data, (size_t)oc_tensor_numel(X) * oc_dtype_size(X->dtype),
                   ctx->nthreads);
        return ONNXC_OK;
    }
    red_geom g;
    red_geom_make(&X->shape, reduce, p->kind == RED_MEAN, &g);
    red_fn fn = red_kernel(p->kind, X->dtype);
    int parts = oc_ew_parts(oc_tensor_numel(X), ctx->nthreads);
    if (parts > g.units) parts = g.units > 0 ? (int)g.units : 1;
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(g.units, parts, c, &lo, &hi);
        fn(&g, X->data, Y->data, lo, hi);
    });
    return ONNXC_OK;
}

/* ---- ArgMax ------------------------------------------------------------------ */

typedef struct am_params {
    int64_t axis;
    bool keepdims, last;
} am_params;

static onnxc_status am_init(oc_node *node, onnxc_error *err)
{
    am_params p;
    int64_t v;
    OC_TRY(oc_attr_int(node, "axis", 0, &p.axis, err));
    OC_TRY(oc_attr_int(node, "keepdims", 1, &v, err));
    p.keepdims = v != 0;
    v = 0;
    if (node->since >= 12) OC_TRY(oc_attr_int(node, "select_last_index", 0, &v, err));
    p.last = v != 0;
    return oc_nn_set_params(node, &p, sizeof p, err);
}

static bool am_dtype_ok(oc_dtype t)
{
    return oc_dtype_is_float(t) || oc_dtype_is_int(t);
}

static onnxc_status am_infer(oc_op_ctx *ctx, size_t *ws)
{
    const am_params *p = ctx->node->params;
    const oc_shape *s = &ctx->in[0]->shape;
    *ws = 0;
    if (!am_dtype_ok(ctx->in[0]->dtype))
        return oc_nn_bad_dtype(ctx, 0, "float, double, int8-64, uint8-64");
    int ax;
    OC_TRY(oc_axis(ctx->node, p->axis, s->rank, "attribute 'axis'", &ax, ctx->err));
    oc_shape out = {.rank = 0};
    for (int d = 0; d < s->rank; d++) {
        if (d != ax)
            out.dims[out.rank++] = s->dims[d];
        else if (p->keepdims)
            out.dims[out.rank++] = 1;
    }
    if (s->dims[ax] == 0 && oc_shape_numel(&out) > 0) {
        char b[160];
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "input 0 '%s' has shape %s: expected a non-empty axis %d (the "
                            "maximum of nothing has no index)",
                            oc_nn_in_name(ctx->node, 0), oc_shape_str(s, b, sizeof b), ax);
    }
    ctx->out[0]->dtype = ONNXC_INT64;
    ctx->out[0]->shape = out;
    return ONNXC_OK;
}

/* y[o*inner + j] = index along n of the max of x[o, :, j]. A NaN is greater
 * than every number; equal values (NaN with NaN) keep the first index, or
 * the last with `last`. */
#define AM_KERNEL(NAME, T)                                                                 \
    static void NAME(const void *xv, int64_t *y, int64_t lo, int64_t hi, int64_t n,        \
                     int64_t inner, bool last)                                             \
    {                                                                                      \
        const T *x = xv;                                                                   \
        for (int64_t l = lo; l < hi; l++) {                                                \
            const T *xl = x + (l / inner) * n * inner + l % inner;                         \
            T best = xl[0];                                                                \
            bool best_nan = isnan((double)best);                                           \
            int64_t bi = 0;                                                                \
            for (int64_t i = 1; i < n; i++) {                                              \
                const T v = xl[i * inner];                                                 \
                const bool v_nan = isnan((double)v);                                       \
                bool take;                                                                 \
                if (best_nan)                                                              \
                    take = last && v_nan;                                                  \
                else                                                                       \
                    take = v_nan || v > best || (last && v == best);                       \
                if (take) {                                                                \
                    best = v;                                                              \
                    best_nan = v_nan;                                                      \
                    bi = i;                                                                \
                }                                                                          \
            }                                                                              \
            y[l] = bi;                                                                     \
        }                                                                                  \
    }
AM_KERNEL(am_f32, float)
AM_KERNEL(am_f64, double)
AM_KERNEL(am_i8, int8_t)
AM_KERNEL(am_u8, uint8_t)
AM_KERNEL(am_i16, int16_t)
AM_KERNEL(am_u16, uint16_t)
AM_KERNEL(am_i32, int32_t)
AM_KERNEL(am_u32, uint32_t)
AM_KERNEL(am_i64, int64_t)
AM_KERNEL(am_u64, uint64_t)

typedef void (*am_fn)(const void *x, int64_t *y, int64_t lo, int64_t hi, int64_t n, int64_t inner,
                      bool last);

static am_fn am_kernel(oc_dtype t)
{
    switch (t) {
    case ONNXC_FLOAT: return am_f32;
    case ONNXC_DOUBLE: return am_f64;
    case ONNXC_INT8: return am_i8;
    case ONNXC_UINT8: return am_u8;
    case ONNXC_INT16: return am_i16;
    case ONNXC_UINT16: return am_u16;
    case ONNXC_INT32: return am_i32;
    case ONNXC_UINT32: return am_u32;
    case ONNXC_INT64: return am_i64;
    default: return am_u64;
    }
}

static onnxc_status am_run(oc_op_ctx *ctx)
{
    const am_params *p = ctx->node->params;
    const oc_tensor *X = ctx->in[0];
    const oc_shape *s = &X->shape;
    int ax;
    OC_TRY(oc_axis(ctx->node, p->axis, s->rank, "attribute 'axis'", &ax, ctx->err));
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < ax; d++) outer *= s->dims[d];
    for (int d = ax + 1; d < s->rank; d++) inner *= s->dims[d];
    const int64_t lanes = outer * inner;
    am_fn fn = am_kernel(X->dtype);
    const int parts = oc_ew_parts(oc_tensor_numel(X), ctx->nthreads);
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(lanes, parts, c, &lo, &hi);
        fn(X->data, ctx->out[0]->data, lo, hi, s->dims[ax], inner, p->last);
    });
    return ONNXC_OK;
}

const oc_op_def oc_op_reduce_sum = {
    .name = "ReduceSum", .domain = "", .versions = {1, 11, 13},
    .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .value_inputs = 1u << 1,
    .init = sum_init, .infer = red_infer, .run = red_run,
};

const oc_op_def oc_op_reduce_mean = {
    .name = "ReduceMean", .domain = "", .versions = {1, 11, 13, 18},
    .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .value_inputs = 1u << 1,
    .init = mean_init, .infer = red_infer, .run = red_run,
};

const oc_op_def oc_op_reduce_max = {
    .name = "ReduceMax", .domain = "", .versions = {1, 11, 12, 13, 18, 20},
    .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .value_inputs = 1u << 1,
    .init = max_init, .infer = red_infer, .run = red_run,
};

const oc_op_def oc_op_arg_max = {
    .name = "ArgMax", .domain = "", .versions = {1, 11, 12, 13},
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .init = am_init, .infer = am_infer, .run = am_run,
};
