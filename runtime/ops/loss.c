/*
 * NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12, 13).
 *
 *   input/scores [N, C, d1, ..., dk] (k >= 0), target/labels [N, d1, ..., dk]
 *   (int32/int64), optional weight [C]:
 *
 *   NLL:  l[n, d] = -input[n, c, d] * w[c],            c = target[n, d]
 *   SCE:  l[n, d] = -logsoftmax(scores[n, :, d])[c] * w[c]
 *         with the optional output log_prob = logsoftmax over C, like scores
 *
 *   w[c] = weight[c], or 1 without weights; positions whose target equals
 *   `ignore_index` get l = 0 and w = 0. Other targets must lie in [0, C).
 *   reduction = "mean" (default): sum(l) / sum(w)   (NaN if every w is 0)
 *               "sum": sum(l);  "none": l, shaped like the target.
 *
 * 13 only added bfloat16. Types: float, double; values are computed and
 * summed in double, positions in C order on one thread (the sums are
 * order-fixed; loss tensors are small next to the layers that feed them).
 * The log-softmax subtracts the max over C before exp(), as in softmax.c.
 */
#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../attr.h"

typedef enum loss_red { LOSS_NONE, LOSS_SUM, LOSS_MEAN } loss_red;

typedef struct loss_params {
    loss_red red;
    bool sce;                          /* SoftmaxCrossEntropyLoss */
    bool has_ignore;
    int64_t ignore;
} loss_params;

static onnxc_status loss_init(oc_node *node, onnxc_error *err, bool sce)
{
    loss_params p = {.red = LOSS_MEAN, .sce = sce};
    const char *s;
    size_t len;
    OC_TRY(oc_attr_string(node, "reduction", &s, &len, err));
    if (s) {
        if (len == 4 && memcmp(s, "none", 4) == 0) p.red = LOSS_NONE;
        else if (len == 3 && memcmp(s, "sum", 3) == 0) p.red = LOSS_SUM;
        else if (len == 4 && memcmp(s, "mean", 4) == 0) p.red = LOSS_MEAN;
        else
            return oc_node_fail(node, err, ONNXC_ERR_MODEL,
                                "attribute 'reduction' is '%.*s': expected 'none', 'sum' or "
                                "'mean'",
                                (int)(len > 64 ? 64 : len), s);
    }
    p.has_ignore = oc_attr_find(node, "ignore_index") != NULL;
    OC_TRY(oc_attr_int(node, "ignore_index", 0, &p.ignore, err));
    if (!sce && node->n_out > 1)
        return oc_node_fail(node, err, ONNXC_ERR_MODEL, "expected 1 output, got %d",
                            node->n_out);
    return oc_nn_set_params(node, &p, sizeof p, err);
}

static onnxc_status nll_init(oc_node *n, onnxc_error *e) { return loss_init(n, e, false); }
static onnxc_status sce_init(oc_node *n, onnxc_error *e) { return loss_init(n, e, true); }

static onnxc_status loss_infer(oc_op_ctx *ctx, size_t *ws)
{
    const loss_params *p = ctx->node->params;
    const oc_shape *x = &ctx->in[0]->shape, *t = &ctx->in[1]->shape;
    char sx[160], st[160];
    *ws = 0;
    OC_TRY(oc_nn_float_input(ctx, 0));
    if (x->rank < 2)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "input 0 '%s': expected rank >= 2 ([N, C, d1, ...]), got shape %s",
                            oc_nn_in_name(ctx->node, 0), oc_shape_str(x, sx, sizeof sx));
    if (ctx->in[1]->dtype != ONNXC_INT32 && ctx->in[1]->dtype != ONNXC_INT64)
        return oc_nn_bad_dtype(ctx, 1, "int32, int64");
    bool ok = t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
    for (int d = 1; ok && d < t->rank; d++) ok = t->dims[d] == x->dims[d + 1];
    if (!ok)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "input 1 '%s' (target) has shape %s: expected input 0's shape %s "
                            "without the class dim 1",
                            oc_nn_in_name(ctx->node, 1), oc_shape_str(t, st, sizeof st),
                            oc_shape_str(x, sx, sizeof sx));
    if (ctx->n_in > 2 && ctx->in[2]) {
        const oc_shape *w = &ctx->in[2]->shape;
        OC_TRY(oc_nn_same_dtype(ctx, 0, 2));
        if (w->rank != 1 || w->dims[0] != x->dims[1])
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                                "input 2 '%s' (weight) has shape %s: expected [%lld], one "
                                "weight per class",
                                oc_nn_in_name(ctx->node, 2), oc_shape_str(w, st, sizeof st),
                                (long long)x->dims[1]);
    }
    ctx->out[0]->dtype = ctx->in[0]->dtype;
    if (p->red == LOSS_NONE)
        ctx->out[0]->shape = *t;
    else
        ctx->out[0]->shape.rank = 0;
    if (ctx->n_out > 1 && ctx->out[1]) {
        ctx->out[1]->dtype = ctx->in[0]->dtype;
        ctx->out[1]->shape = *x;
    }
    return ONNXC_OK;
}

/* Everything a kernel needs: X viewed as [N, C, D], target as [N, D]. */
typedef struct loss_args {
    const loss_params *p;
    const void *x, *w;                 /* [N, C, D], [C] or NULL */
    const oc_tensor *target;           /* [N, D] int32/int64 */
    void *y, *log_prob;                /* [N, D] or scalar; [N, C, D] or NULL */
    int64_t N, C, D;
} loss_args;

static inline int64_t loss_target(const oc_tensor *t, int64_t i)
{
    return t->dtype == ONNXC_INT64 ? ((const int64_t *)t->data)[i]
                                   : (int64_t)((const int32_t *)t->data)[i];
}

/* Returns the flat target index of the first out-of-range target, or -1. */
#define LOSS_KERNEL(NAME, T)                                                               \
    static int64_t NAME(const loss_args *a)                                                \
    {                                                                                      \
        const T *x = a->x, *w = a->w;                                                      \
        T *y = a->y, *lp = a->log_prob;                                                    \
        const int64_t C = a->C, D = a->D;                                                  \
        double total = 0.0, wsum = 0.0;                                                    \
        for (int64_t n = 0; n < a->N; n++)                                                 \
            for (int64_t d = 0; d < D; d++) {                                              \
                const T *xs = x + n * C * D + d; /* class c at xs[c * D] */                \
                double m = 0.0, logsum = 0.0;                                              \
                if (a->p->sce) {                                                           \
                    m = C > 0 ? (double)xs[0] : 0.0;                                       \
                    for (int64_t c = 1; c < C; c++)                                        \
                        if ((double)xs[c * D] > m) m = (double)xs[c * D];                  \
                    double s = 0.0;                                                        \
                    for (int64_t c = 0; c < C; c++) s += exp((double)xs[c * D] - m);       \
                    logsum = log(s);                                                       \
                    if (lp)                                                                \
                        for (int64_t c = 0; c < C; c++)                                    \
                            lp[n * C * D + c * D + d] = (T)(((double)xs[c * D] - m) - logsum); \
                }                                                                          \
                const int64_t t = loss_target(a->target, n * D + d);                       \
                double l = 0.0, wt = 0.0;                                                  \
                if (!(a->p->has_ignore && t == a->p->ignore)) {                            \
                    if (t < 0 || t >= C) return n * D + d;                                 \
                    wt = w ? (double)w[t] : 1.0;                                           \
                    const double v = a->p->sce ? ((double)xs[t * D] - m) - logsum          \
                                               : (double)xs[t * D];                        \
                    l = -v * wt;                                                           \
                }                                                                          \
                if (a->p->red == LOSS_NONE)                                                \
                    y[n * D + d] = (T)l;                                                   \
                total += l;                                                                \
                wsum += wt;                                                                \
            }                                                                              \
        if (a->p->red == LOSS_SUM) y[0] = (T)total;                                        \
        if (a->p->red == LOSS_MEAN) y[0] = (T)(total / wsum);                              \
        return -1;                                                                         \
    }
LOSS_KERNEL(loss_f32, float)
LOSS_KERNEL(loss_f64, double)

static onnxc_status loss_run(oc_op_ctx *ctx)
{
    const oc_shape *x = &ctx->in[0]->shape;
    loss_args a = {
        .p = ctx->node->params,
        .x = ctx->in[0]->data,
        .w = ctx->n_in > 2 && ctx->in[2] ? ctx->in[2]->data : NULL,
        .target = ctx->in[1],
        .y = ctx->out[0]->data,
        .log_prob = ctx->n_out > 1 && ctx->out[1] ? ctx->out[1]->data : NULL,
        .N = x->dims[0], .C = x->dims[1], .D = 1,
    };
    for (int d = 2; d < x->rank; d++) a.D *= x->dims[d];
    int64_t bad = ctx->in[0]->dtype == ONNXC_FLOAT ? loss_f32(&a) : loss_f64(&a);
    if (bad >= 0) {
        const loss_params *p = a.p;
        char ign[64] = "";
        if (p->has_ignore) snprintf(ign, sizeof ign, " or ignore_index %lld", (long long)p->ignore);
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_RUNTIME,
                            "input 1 '%s' (target) element %lld is %lld: expected a class in "
                            "[0, %lld)%s",
                            oc_nn_in_name(ctx->node, 1), (long long)bad,
                            (long long)loss_target(a.target, bad), (long long)a.C, ign);
    }
    return ONNXC_OK;
}

const oc_op_def oc_op_nll_loss = {
    .name = "NegativeLogLikelihoodLoss", .domain = "", .versions = {12, 13},
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .init = nll_init, .infer = loss_infer, .run = loss_run,
};

const oc_op_def oc_op_softmax_cross_entropy_loss = {
    .name = "SoftmaxCrossEntropyLoss", .domain = "", .versions = {12, 13},
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 2,
    .init = sce_init, .infer = loss_infer, .run = loss_run,
};
