/*
 * BatchNormalization (opset 7, 9, 14, 15).
 *
 *   X [N, C, D1, ..., Dk], scale, B, mean, var [C] -> Y like X
 *   inference:  Y = (X - mean) / sqrt(var + epsilon) * scale + B
 *
 * Attributes: epsilon = 1e-5, momentum = 0.9 (all versions);
 *   spatial = 1 (7 only): spatial = 0 keeps statistics per activation, i.e.
 *     scale..var have the shape [C, D1, ..., Dk]. In inference that is the
 *     same formula with C*D1*..*Dk "channels" of one element each, which is
 *     how it is computed here.
 *   training_mode = 0 (14+): with 1, Y is normalized with the batch's own
 *     statistics (population variance, divisor N*D1*..*Dk) and the optional
 *     outputs 1 and 2 are the updated running statistics
 *       running_mean = mean * momentum + batch_mean * (1 - momentum)
 *       running_var  = var  * momentum + batch_var  * (1 - momentum)
 *     Without training_mode those outputs are invalid.
 * Before 14 the extra outputs (mean, var, saved_mean, saved_var) meant a
 * training graph of a legacy format; onnxc refuses them. 15 let scale/B and
 * mean/var have their own dtypes; onnxc needs them all equal to X's.
 * Types: float, double; statistics are accumulated in double.
 *
 * Training (ctx->training, Keras fit semantics): Y always uses the batch
 * statistics, as with training_mode = 1. When the node has no running-
 * statistics outputs (an inference graph being trained), the running mean
 * and var INPUTS are updated in place with the formulas above (population
 * variance, as the ONNX text says), so that the trained model saves them.
 * The batch mean and 1/sqrt(var + eps) per channel go to ctx->saved for the
 * backward pass.
 *
 * Backward, per channel c over its m = N*D1*..*Dk elements, xh = normalized x:
 *   batch statistics:  dB += sum dy, dscale += sum dy*xh,
 *     dx += scale*inv_std * (dy - sum(dy)/m - xh * sum(dy*xh)/m)
 *     plus, when gradients reach the running-statistics outputs,
 *     (1-momentum)/m * d_running_mean + (1-momentum)*2*(x-mean)/m * d_running_var
 *   given statistics (inference): the affine map, dx += dy * scale*inv_std,
 *     dscale += sum dy*xh, dB += sum dy.
 * Threads own whole channels in both directions: every sum has one fixed
 * order, whatever the thread count.
 */
#include "nn.h"

#include <math.h>

#include "../attr.h"

typedef struct bn_params {
    float epsilon, momentum;
    bool spatial;                      /* false: per-activation statistics (opset 7) */
    bool training;
} bn_params;

static onnxc_status bn_init(oc_node *node, onnxc_error *err)
{
    bn_params p = {.spatial = true, .training = false};
    int64_t v;
    OC_TRY(oc_attr_float(node, "epsilon", 1e-5f, &p.epsilon, err));
    OC_TRY(oc_attr_float(node, "momentum", 0.9f, &p.momentum, err));
    if (node->since < 9) {
        OC_TRY(oc_attr_int(node, "spatial", 1, &v, err));
        p.spatial = v != 0;
    }
    if (node->since >= 14) {
        OC_TRY(oc_attr_int(node, "training_mode", 0, &v, err));
        p.training = v != 0;
    }
    for (int i = 1; i < node->n_out; i++) {
        if (!oc_nn_has_out(node, i)) continue;
        if (node->since < 14)
            return oc_node_fail(node, err, ONNXC_ERR_UNSUPPORTED,
                                "output %d is requested: the training-mode outputs of "
                                "BatchNormalization-%d (mean, var, saved_mean, saved_var) are "
                                "not supported; use opset >= 14 with training_mode = 1, or "
                                "drop the extra outputs for inference",
                                i, node->since);
        if (!p.training)
            return oc_node_fail(node, err, ONNXC_ERR_MODEL,
                                "output %d (running statistics) is only valid with "
                                "training_mode = 1, got training_mode = 0",
                                i);
    }
    return oc_nn_set_params(node, &p, sizeof p, err);
}

static const char *const bn_names[] = {"X", "scale", "B", "mean", "var"};

static onnxc_status bn_infer(oc_op_ctx *ctx, size_t *ws)
{
    const bn_params *p = ctx->node->params;
    const oc_shape *x = &ctx->in[0]->shape;
    char sx[160], si[160], sw[160];
    *ws = 0;
    OC_TRY(oc_nn_float_input(ctx, 0));
    if (x->rank < 2)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "input 0 'X': expected rank >= 2 ([N, C, ...]), got shape %s",
                            oc_shape_str(x, sx, sizeof sx));
    /* Per-channel statistics: [C]; per-activation (spatial = 0): X's shape
     * without N, also accepted flattened. */
    oc_shape want = {.rank = 1, .dims = {x->dims[1]}};
    if (!p->spatial) {
        want.rank = x->rank - 1;
        for (int d = 1; d < x->rank; d++) want.dims[d - 1] = x->dims[d];
    }
    const int64_t channels = oc_shape_numel(&want);
    for (int i = 1; i < 5; i++) {
        const oc_shape *s = &ctx->in[i]->shape;
        OC_TRY(oc_nn_same_dtype(ctx, 0, i));
        bool ok = oc_shape_equal(s, &want) || (s->rank == 1 && s->dims[0] == channels);
        if (!ok)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                                "input %d '%s' (%s) has shape %s: expected %s for X of shape %s",
                                i, oc_nn_in_name(ctx->node, i), bn_names[i],
                                oc_shape_str(s, si, sizeof si),
                                oc_shape_str(&want, sw, sizeof sw),
                                oc_shape_str(x, sx, sizeof sx));
    }
    ctx->out[0]->dtype = ctx->in[0]->dtype;
    ctx->out[0]->shape = *x;
    /* [2, channels] doubles: batch mean, then 1/sqrt(batch var + eps). */
    if (ctx->training) ctx->saved_bytes = 2 * (size_t)channels * sizeof(double);
    for (int i = 1; i < 3 && i < ctx->n_out; i++) {
        if (!ctx->out[i]) continue;
        ctx->out[i]->dtype = ctx->in[0]->dtype;
        ctx->out[i]->shape = ctx->in[2 + i]->shape;
    }
    return ONNXC_OK;
}

/* X viewed as [N, C, plane], the per-channel vectors [C] and where the
 * running statistics go. */
typedef struct bn_args {
    const void *scale, *bias, *mean, *var;
    void *run_mean, *run_var;          /* updated running statistics, or NULL */
    double *saved;                     /* [2, C] batch mean, inv_std; or NULL */
    bool batch;                        /* normalize with the batch statistics */
    int64_t N, C, plane;
} bn_args;

static bn_args bn_args_make(const oc_op_ctx *ctx)
{
    const bn_params *p = ctx->node->params;
    const oc_shape *x = &ctx->in[0]->shape;
    bn_args a = {
        .scale = ctx->in[1]->data, .bias = ctx->in[2]->data,
        .mean = ctx->in[3]->data, .var = ctx->in[4]->data,
        .saved = ctx->saved,
        .batch = p->training || ctx->training,
        .N = x->dims[0], .C = x->dims[1], .plane = 1,
    };
    for (int d = 2; d < x->rank; d++) a.plane *= x->dims[d];
    if (!p->spatial) {
        /* Per-activation statistics: every element of a sample is its own channel. */
        a.C *= a.plane;
        a.plane = 1;
    }
    return a;
}

/* Threads for a loop over whole channels of X. */
static int bn_parts(const oc_op_ctx *ctx, const bn_args *a)
{
    if (oc_ew_parts(oc_tensor_numel(ctx->in[0]), ctx->nthreads) == 1 || a->C < 2) return 1;
    return a->C < ctx->nthreads ? (int)a->C : ctx->nthreads;
}

/* Batch mean and population variance of channel c, two passes in double. */
#define BN_STATS(NAME, T)                                                                  \
    static void NAME(const T *x, const bn_args *a, int64_t c, double *mu, double *sigma2)  \
    {                                                                                      \
        const int64_t stride = a->C * a->plane;                                            \
        const double cnt = (double)(a->N * a->plane);                                      \
        double s = 0.0, q = 0.0;                                                           \
        for (int64_t n = 0; n < a->N; n++) {                                               \
            const T *xr = x + n * stride + c * a->plane;                                   \
            for (int64_t i = 0; i < a->plane; i++) s += (double)xr[i];                     \
        }                                                                                  \
        *mu = cnt > 0 ? s / cnt : 0.0;                                                     \
        for (int64_t n = 0; n < a->N; n++) {                                               \
            const T *xr = x + n * stride + c * a->plane;                                   \
            for (int64_t i = 0; i < a->plane; i++) {                                       \
                const double d = (double)xr[i] - *mu;                                      \
                q += d * d;                                                                \
            }                                                                              \
        }                                                                                  \
        *sigma2 = cnt > 0 ? q / cnt : 0.0;                                                 \
    }
BN_STATS(bn_stats_f32, float)
BN_STATS(bn_stats_f64, double)

/*
 * Channel c of X into Y. With batch statistics, also writes the running
 * ones (run_mean/run_var may alias mean/var: each is read before it is
 * written) and the saved mean / inv_std.
 */
#define BN_KERNEL(NAME, T, STATS)                                                          \
    static void NAME(T *y, const T *x, const bn_args *a, const bn_params *p, int64_t c)    \
    {                                                                                      \
        const T *scale = a->scale, *bias = a->bias, *mean = a->mean, *var = a->var;        \
        const int64_t stride = a->C * a->plane;                                            \
        double mu = (double)mean[c], sigma2 = (double)var[c];                              \
        if (a->batch) {                                                                    \
            STATS(x, a, c, &mu, &sigma2);                                                  \
            const double mom = (double)p->momentum;                                        \
            if (a->run_mean)                                                               \
                ((T *)a->run_mean)[c] = (T)((double)mean[c] * mom + mu * (1.0 - mom));     \
            if (a->run_var)                                                                \
                ((T *)a->run_var)[c] = (T)((double)var[c] * mom + sigma2 * (1.0 - mom));   \
            if (a->saved) {                                                                \
                a->saved[c] = mu;                                                          \
                a->saved[a->C + c] = 1.0 / sqrt(sigma2 + (double)p->epsilon);              \
            }                                                                              \
        }                                                                                  \
        /* y = (x - mu) * k + b, k = scale / sqrt(var + eps). */                           \
        const T m = (T)mu;                                                                 \
        const T k = (T)((double)scale[c] / sqrt(sigma2 + (double)p->epsilon));             \
        const T b = bias[c];                                                               \
        for (int64_t n = 0; n < a->N; n++) {                                               \
            const T *xr = x + n * stride + c * a->plane;                                   \
            T *yr = y + n * stride + c * a->plane;                                         \
            for (int64_t i = 0; i < a->plane; i++) yr[i] = (xr[i] - m) * k + b;            \
        }                                                                                  \
    }
BN_KERNEL(bn_f32, float, bn_stats_f32)
BN_KERNEL(bn_f64, double, bn_stats_f64)

static onnxc_status bn_run(oc_op_ctx *ctx)
{
    const bn_params *p = ctx->node->params;
    const oc_tensor *X = ctx->in[0];
    bn_args a = bn_args_make(ctx);
    const bool has_rm = ctx->n_out > 1 && ctx->out[1], has_rv = ctx->n_out > 2 && ctx->out[2];
    if (has_rm || has_rv) {
        a.run_mean = has_rm ? ctx->out[1]->data : NULL;
        a.run_var = has_rv ? ctx->out[2]->data : NULL;
    } else if (ctx->training) {
        /* Keras fit: the graph has no place for the new statistics but the
         * model's running mean/var inputs (initializers). */
        a.run_mean = (void *)ctx->in[3]->data;
        a.run_var = (void *)ctx->in[4]->data;
    }
    const int parts = bn_parts(ctx, &a);
    const bool f32 = X->dtype == ONNXC_FLOAT;
    void *y = ctx->out[0]->data;
    OC_PAR_FOR(parts, t, {
        int64_t lo, hi;
        oc_split_range(a.C, parts, t, &lo, &hi);
        for (int64_t c = lo; c < hi; c++) {
            if (f32)
                bn_f32(y, X->data, &a, p, c);
            else
                bn_f64(y, X->data, &a, p, c);
        }
    });
    return ONNXC_OK;
}

/* Upstream gradients and the gradients to add into (any may be NULL). */
typedef struct bn_grads {
    const void *dy, *drm, *drv;        /* [N,C,plane], [C], [C] */
    void *dx, *dscale, *dbias;         /* [N,C,plane], [C], [C] */
} bn_grads;

/* Backward of channel c (see the top of the file for the formulas). */
#define BN_BACK(NAME, T, STATS)                                                            \
    static void NAME(const T *x, const bn_args *a, const bn_grads *g, const bn_params *p,  \
                     int64_t c)                                                            \
    {                                                                                      \
        const T *scale = a->scale, *dy = g->dy;                                            \
        const int64_t stride = a->C * a->plane;                                            \
        const double cnt = (double)(a->N * a->plane);                                      \
        double mu, inv;                                                                    \
        if (a->batch && a->saved) {                                                        \
            mu = a->saved[c];                                                              \
            inv = a->saved[a->C + c];                                                      \
        } else {                                                                           \
            double sigma2 = (double)((const T *)a->var)[c];                                \
            mu = (double)((const T *)a->mean)[c];                                          \
            if (a->batch) STATS(x, a, c, &mu, &sigma2);                                    \
            inv = 1.0 / sqrt(sigma2 + (double)p->epsilon);                                 \
        }                                                                                  \
        double sdy = 0.0, sdyx = 0.0; /* sum dy, sum dy * xh */                            \
        if (dy)                                                                            \
            for (int64_t n = 0; n < a->N; n++) {                                           \
                const T *xr = x + n * stride + c * a->plane, *gr = dy + n * stride + c * a->plane; \
                for (int64_t i = 0; i < a->plane; i++) {                                   \
                    sdy += (double)gr[i];                                                  \
                    sdyx += (double)gr[i] * ((double)xr[i] - mu) * inv;                    \
                }                                                                          \
            }                                                                              \
        if (g->dbias) ((T *)g->dbias)[c] += (T)sdy;                                        \
        if (g->dscale) ((T *)g->dscale)[c] += (T)sdyx;                                     \
        if (!g->dx) return;                                                                \
        const double k = (double)scale[c] * inv;                                           \
        /* dx = k*dy - k/m*sdy - k/m*sdyx*xh  (+ running-statistics terms)     */           \
        double c0 = 0.0, c1 = 0.0; /* dx = k*dy + c0 + c1 * (x - mu) */                    \
        if (a->batch && cnt > 0) {                                                         \
            const double one_m = 1.0 - (double)p->momentum;                                \
            c0 = -k * sdy / cnt;                                                           \
            c1 = -k * sdyx * inv / cnt;                                                    \
            if (g->drm) c0 += one_m / cnt * (double)((const T *)g->drm)[c];                \
            if (g->drv) c1 += one_m * 2.0 / cnt * (double)((const T *)g->drv)[c];          \
        }                                                                                  \
        for (int64_t n = 0; n < a->N; n++) {                                               \
            const T *xr = x + n * stride + c * a->plane;                                   \
            const T *gr = dy ? dy + n * stride + c * a->plane : NULL;                      \
            T *dr = (T *)g->dx + n * stride + c * a->plane;                                \
            for (int64_t i = 0; i < a->plane; i++)                                         \
                dr[i] += (T)((gr ? k * (double)gr[i] : 0.0) + c0 + c1 * ((double)xr[i] - mu)); \
        }                                                                                  \
    }
BN_BACK(bn_back_f32, float, bn_stats_f32)
BN_BACK(bn_back_f64, double, bn_stats_f64)

static onnxc_status bn_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                oc_tensor *const *din)
{
    const bn_params *p = ctx->node->params;
    const oc_tensor *X = ctx->in[0];
    bn_grads g = {
        .dy = dout[0] ? dout[0]->data : NULL,
        .drm = ctx->n_out > 1 && dout[1] ? dout[1]->data : NULL,
        .drv = ctx->n_out > 2 && dout[2] ? dout[2]->data : NULL,
        .dx = din[0] ? din[0]->data : NULL,
        .dscale = din[1] ? din[1]->data : NULL,
        .dbias = din[2] ? din[2]->data : NULL,
    };
    if (!g.dy && !g.drm && !g.drv) return ONNXC_OK;
    bn_args a = bn_args_make(ctx);
    const int parts = bn_parts(ctx, &a);
    const bool f32 = X->dtype == ONNXC_FLOAT;
    OC_PAR_FOR(parts, t, {
        int64_t lo, hi;
        oc_split_range(a.C, parts, t, &lo, &hi);
        for (int64_t c = lo; c < hi; c++) {
            if (f32)
                bn_back_f32(X->data, &a, &g, p, c);
            else
                bn_back_f64(X->data, &a, &g, p, c);
        }
    });
    return ONNXC_OK;
}

const oc_op_def oc_op_batch_normalization = {
    .name = "BatchNormalization", .domain = "", .versions = {7, 9, 14, 15},
    .min_inputs = 5, .max_inputs = 5, .min_outputs = 1, .max_outputs = 5,
    .init = bn_init, .infer = bn_infer, .run = bn_run,
    .grad_inputs = 0x7, .backward = bn_backward,
};
