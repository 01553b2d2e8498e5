/*
 * Softmax and LogSoftmax (opset 1, 11, 13).
 *
 *   softmax(x)_i    = exp(x_i - m) / sum_j exp(x_j - m)
 *   logsoftmax(x)_i = (x_i - m) - log(sum_j exp(x_j - m)),    m = max_j x_j
 *
 * Subtracting the max keeps every exp() in (0, 1]: no overflow for large
 * inputs, and the sum is >= 1 so the log never sees 0.
 *
 * Which elements form one softmax changed at 13:
 *   1, 11  the input is coerced to 2-D at `axis` (default 1):
 *          [a0..a(k-1), ak..a(n-1)] -> [a0*..*a(k-1), ak*..*a(n-1)], and each
 *          row of that matrix is normalized (the whole flattened tail).
 *          11 only allowed a negative axis.
 *   13     normalized along the single dim `axis` (default -1).
 * Both are described here as [outer, n, inner] with each softmax running
 * over n elements spaced `inner` apart: before 13 inner = 1 always.
 * Types: float, double. The sum is accumulated in double.
 * Backward (at the end of the file) reads the forward output, not X.
 */
#include "nn.h"

#include <math.h>

#include "../attr.h"
#include "../kernels/vexp.h"

typedef struct sm_params {
    int64_t axis;
    bool log;                          /* LogSoftmax */
} sm_params;

typedef struct sm_geom {
    int64_t outer, n, inner;
} sm_geom;

static onnxc_status sm_init_common(oc_node *node, onnxc_error *err, bool log)
{
    sm_params p = {.log = log};
    OC_TRY(oc_attr_int(node, "axis", node->since >= 13 ? -1 : 1, &p.axis, err));
    return oc_nn_set_params(node, &p, sizeof p, err);
}

static onnxc_status softmax_init(oc_node *n, onnxc_error *e) { return sm_init_common(n, e, false); }
static onnxc_status log_softmax_init(oc_node *n, onnxc_error *e) { return sm_init_common(n, e, true); }

static onnxc_status sm_geometry(const oc_op_ctx *ctx, sm_geom *g)
{
    const sm_params *p = ctx->node->params;
    const oc_shape *s = &ctx->in[0]->shape;
    int ax;
    OC_TRY(oc_axis(ctx->node, p->axis, s->rank, "attribute 'axis'", &ax, ctx->err));
    g->outer = g->n = g->inner = 1;
    for (int d = 0; d < ax; d++) g->outer *= s->dims[d];
    if (ctx->node->since >= 13) {
        g->n = s->dims[ax];
        for (int d = ax + 1; d < s->rank; d++) g->inner *= s->dims[d];
    } else {
        for (int d = ax; d < s->rank; d++) g->n *= s->dims[d];
    }
    return ONNXC_OK;
}

static onnxc_status sm_infer(oc_op_ctx *ctx, size_t *ws)
{
    *ws = 0;
    OC_TRY(oc_nn_float_input(ctx, 0));
    sm_geom g;
    OC_TRY(sm_geometry(ctx, &g));
    ctx->out[0]->dtype = ctx->in[0]->dtype;
    ctx->out[0]->shape = ctx->in[0]->shape;
    return ONNXC_OK;
}

/* One softmax over x[0], x[s], ..., x[(n-1)s] into y (same spacing). y may
 * be x (in place): every x_i is read before y_i is written. */
#define SM_LANE(NAME, T)                                                                   \
    static void NAME(T *y, const T *x, int64_t n, int64_t s, bool log_out)                \
    {                                                                                      \
        if (n == 0) return;                                                                \
        T m = x[0];                                                                        \
        for (int64_t i = 1; i < n; i++)                                                    \
            if (x[i * s] > m) m = x[i * s];                                                \
        /* A NaN input makes every output NaN, as in numpy: it never becomes m, but its */ \
        /* exp() poisons the sum. */                                                       \
        double sum = 0.0;                                                                  \
        if (log_out) {                                                                     \
            for (int64_t i = 0; i < n; i++) sum += exp((double)(x[i * s] - m));           \
            const T lse = (T)log(sum);                                                     \
            for (int64_t i = 0; i < n; i++) y[i * s] = (x[i * s] - m) - lse;               \
        } else {                                                                           \
            for (int64_t i = 0; i < n; i++) {                                              \
                const T e = (T)exp((double)(x[i * s] - m));                                \
                y[i * s] = e;                                                              \
                sum += e;                                                                  \
            }                                                                              \
            for (int64_t i = 0; i < n; i++) y[i * s] = (T)(y[i * s] / sum);                \
        }                                                                                  \
    }
SM_LANE(sm_lane_f32, float)
SM_LANE(sm_lane_f64, double)

/* sm_lane_f32 for a contiguous softmax (not log): the exps vectorized
 * (kernels/vexp.h, within 2 ulp of the correctly rounded ones), the sum and
 * the division still in double. Same NaN behaviour: a NaN never becomes m,
 * its exp is NaN and poisons the sum. */
static void sm_row_f32(float *y, const float *x, int64_t n)
{
    if (n == 0) return;
    float m = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i] > m) m = x[i];
    oc_exp_shifted(y, x, m, n);
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += y[i];
    for (int64_t i = 0; i < n; i++) y[i] = (float)(y[i] / sum);
}

static onnxc_status sm_run(oc_op_ctx *ctx)
{
    const sm_params *p = ctx->node->params;
    sm_geom g;
    OC_TRY(sm_geometry(ctx, &g));
    const oc_tensor *X = ctx->in[0];
    oc_tensor *Y = ctx->out[0];
    const bool f32 = X->dtype == ONNXC_FLOAT;
    /* Threads take whole softmax lanes: lane l is (outer l / inner, offset l % inner). */
    const int64_t lanes = g.outer * g.inner;
    const int parts = oc_ew_parts(lanes * g.n, ctx->nthreads);
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(lanes, parts, c, &lo, &hi);
        for (int64_t l = lo; l < hi; l++) {
            const int64_t off = (l / g.inner) * g.n * g.inner + l % g.inner;
            if (f32 && g.inner == 1 && !p->log)
                sm_row_f32((float *)Y->data + off, (const float *)X->data + off, g.n);
            else if (f32)
                sm_lane_f32((float *)Y->data + off, (const float *)X->data + off, g.n, g.inner,
                            p->log);
            else
                sm_lane_f64((double *)Y->data + off, (const double *)X->data + off, g.n,
                            g.inner, p->log);
        }
    });
    return ONNXC_OK;
}

/* --- backward ------------------------------------------------------------------
 *
 * Per lane, from the forward output Y (ctx->out[0] still holds it):
 *   Softmax:     dX_i += Y_i * (dY_i - sum_j dY_j Y_j)
 *   LogSoftmax:  dX_i += dY_i - exp(Y_i) * sum_j dY_j      (exp(Y) = softmax(X))
 * Lanes are independent, so threads take whole lanes, as in the forward;
 * each lane's sum runs in ascending order in double.
 */
#define SM_BACK_LANE(NAME, T)                                                              \
    static void NAME(T *dx, const T *y, const T *dy, int64_t n, int64_t s, bool log_out)   \
    {                                                                                      \
        double sum = 0.0;                                                                  \
        if (log_out) {                                                                     \
            for (int64_t i = 0; i < n; i++) sum += (double)dy[i * s];                      \
            for (int64_t i = 0; i < n; i++)                                                \
                dx[i * s] += (T)((double)dy[i * s] - exp((double)y[i * s]) * sum);         \
        } else {                                                                           \
            for (int64_t i = 0; i < n; i++) sum += (double)dy[i * s] * (double)y[i * s];   \
            for (int64_t i = 0; i < n; i++)                                                \
                dx[i * s] += (T)((double)y[i * s] * ((double)dy[i * s] - sum));            \
        }                                                                                  \
    }
SM_BACK_LANE(sm_back_lane_f32, float)
SM_BACK_LANE(sm_back_lane_f64, double)

static onnxc_status sm_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                oc_tensor *const *din)
{
    const sm_params *p = ctx->node->params;
    if (!dout[0] || !din[0]) return ONNXC_OK;
    sm_geom g;
    OC_TRY(sm_geometry(ctx, &g));
    const oc_tensor *Y = ctx->out[0], *dY = dout[0];
    oc_tensor *dX = din[0];
    const bool f32 = Y->dtype == ONNXC_FLOAT;
    const int64_t lanes = g.outer * g.inner;
    const int parts = oc_ew_parts(lanes * g.n, ctx->nthreads);
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(lanes, parts, c, &lo, &hi);
        for (int64_t l = lo; l < hi; l++) {
            const int64_t off = (l / g.inner) * g.n * g.inner + l % g.inner;
            if (f32)
                sm_back_lane_f32((float *)dX->data + off, (const float *)Y->data + off,
                                 (const float *)dY->data + off, g.n, g.inner, p->log);
            else
                sm_back_lane_f64((double *)dX->data + off, (const double *)Y->data + off,
                                 (const double *)dY->data + off, g.n, g.inner, p->log);
        }
    });
    return ONNXC_OK;
}

const oc_op_def oc_op_softmax = {
    .name = "Softmax", .domain = "", .versions = {1, 11, 13},
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .init = softmax_init, .infer = sm_infer, .run = sm_run,
    .grad_inputs = 0x1, .backward = sm_backward,
};

const oc_op_def oc_op_log_softmax = {
    .name = "LogSoftmax", .domain = "", .versions = {1, 11, 13},
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .init = log_softmax_init, .infer = sm_infer, .run = sm_run,
    .grad_inputs = 0x1, .backward = sm_backward,
};
