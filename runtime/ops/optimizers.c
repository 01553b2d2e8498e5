/*
 * The optimizer ops of ai.onnx.preview.training (version 1): one update step
 * for n tensors at once. Inputs are R (learning rate, float/double scalar),
 * T (update count, int64 scalar), then groups of n tensors; outputs are
 * groups of n tensors (float or double, all one dtype, each group's i-th
 * tensor shaped like X_i):
 *
 *   Adagrad  in: R, T, X[n], G[n], H[n]        out: X_new[n], H_new[n]
 *     r = R / (1 + T * decay_factor)
 *     Gr = norm_coefficient * X + G
 *     H_new = H + Gr * Gr
 *     X_new = X - r * Gr / (sqrt(H_new) + epsilon)
 *
 *   Momentum in: R, T, X[n], G[n], V[n]        out: X_new[n], V_new[n]
 *     Gr = norm_coefficient * X + G
 *     V_new = alpha * V + (T > 0 ? beta : 1) * Gr
 *     standard: X_new = X - R * V_new
 *     nesterov: X_new = X - R * (Gr + alpha * V_new)
 *
 *   Adam     in: R, T, X[n], G[n], V[n], H[n]  out: X_new[n], V_new[n], H_new[n]
 *     Gr = norm_coefficient * X + G
 *     V_new = alpha * V + (1 - alpha) * Gr
 *     H_new = beta * H + (1 - beta) * Gr * Gr
 *     R_adj = T > 0 ? R * sqrt(1 - beta^T) / (1 - alpha^T) : R
 *     X_new = (1 - norm_coefficient_post) * (X - R_adj * V_new / (sqrt(H_new) + epsilon))
 *
 * The spec speaks of numpy broadcasting, but every tensor of a group
 * describes the same variable, so onnxc requires equal shapes. Scalars that
 * depend only on R and T are computed once in double; the per-element math
 * runs in the tensors' dtype, as the ONNX reference (numpy float32) does.
 * Every element is read before its outputs are written, so outputs may
 * alias their inputs (in-place update).
 */
#include <math.h>
#include <string.h>

#include "../alloc.h"
#include "../attr.h"
#include "../op.h"
#include "../parallel.h"

typedef enum opt_kind { OPT_ADAGRAD, OPT_MOMENTUM, OPT_ADAM } opt_kind;

typedef struct opt_params {
    opt_kind kind;
    int n;                            /* tensors optimized */
    int groups_in, groups_out;        /* tensors per variable in inputs / outputs */
    float alpha, beta, epsilon, norm, norm_post, decay;
    bool nesterov;
} opt_params;

static onnxc_status opt_init(oc_node *n, opt_kind kind, onnxc_error *err)
{
    int gin = kind == OPT_ADAM ? 4 : 3, gout = gin - 1;
    static const char *const layout[] = {
        "R, T, X[n], G[n], H[n]", "R, T, X[n], G[n], V[n]", "R, T, X[n], G[n], V[n], H[n]"};
    if (n->n_in < 2 + gin || (n->n_in - 2) % gin != 0)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                            "expected inputs %s (2 + %d*n), got %d inputs", layout[kind], gin,
                            n->n_in);
    int count = (n->n_in - 2) / gin;
    if (n->n_out != gout * count)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                            "expected %d outputs (%d per optimized tensor, %d tensors), got %d",
                            gout * count, gout, count, n->n_out);
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] < 0)
            return oc_node_fail(n, err, ONNXC_ERR_MODEL, "input %d is empty: every input is required", i);
    for (int i = 0; i < n->n_out; i++)
        if (n->out[i] < 0)
            return oc_node_fail(n, err, ONNXC_ERR_MODEL, "output %d is empty: every output is required", i);

    opt_params p = {.kind = kind, .n = count, .groups_in = gin, .groups_out = gout};
    switch (kind) {
    case OPT_ADAGRAD:
        OC_TRY(oc_attr_float(n, "decay_factor", 0.0f, &p.decay, err));
        OC_TRY(oc_attr_float(n, "epsilon", 1e-6f, &p.epsilon, err));
        OC_TRY(oc_attr_float(n, "norm_coefficient", 0.0f, &p.norm, err));
        break;
    case OPT_MOMENTUM: {
        static const char *const required[] = {"alpha", "beta", "mode", "norm_coefficient"};
        for (int i = 0; i < 4; i++) OC_TRY(oc_attr_require(n, required[i], err));
        const char *mode;
        size_t len;
        OC_TRY(oc_attr_float(n, "alpha", 0.0f, &p.alpha, err));
        OC_TRY(oc_attr_float(n, "beta", 0.0f, &p.beta, err));
        OC_TRY(oc_attr_float(n, "norm_coefficient", 0.0f, &p.norm, err));
        OC_TRY(oc_attr_string(n, "mode", &mode, &len, err));
        if (len == 8 && memcmp(mode, "nesterov", 8) == 0)
            p.nesterov = true;
        else if (!(len == 8 && memcmp(mode, "standard", 8) == 0))
            return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                                "attribute 'mode': expected \"standard\" or \"nesterov\", got "
                                "\"%.*s\"",
                                (int)(len > 64 ? 64 : len), mode);
        break;
    }
    case OPT_ADAM:
        OC_TRY(oc_attr_float(n, "alpha", 0.9f, &p.alpha, err));
        OC_TRY(oc_attr_float(n, "beta", 0.999f, &p.beta, err));
        OC_TRY(oc_attr_float(n, "epsilon", 1e-6f, &p.epsilon, err));
        OC_TRY(oc_attr_float(n, "norm_coefficient", 0.0f, &p.norm, err));
        OC_TRY(oc_attr_float(n, "norm_coefficient_post", 0.0f, &p.norm_post, err));
        break;
    }
    opt_params *mem = oc_malloc(sizeof *mem);
    if (!mem) return oc_node_fail(n, err, ONNXC_ERR_NOMEM, "out of memory for parameters");
    *mem = p;
    n->params = mem;
    return ONNXC_OK;
}

static onnxc_status adagrad_init(oc_node *n, onnxc_error *err) { return opt_init(n, OPT_ADAGRAD, err); }
static onnxc_status momentum_init(oc_node *n, onnxc_error *err) { return opt_init(n, OPT_MOMENTUM, err); }
static onnxc_status adam_init(oc_node *n, onnxc_error *err) { return opt_init(n, OPT_ADAM, err); }

static onnxc_status check_scalar(const oc_op_ctx *ctx, int i, const char *name, bool want_float)
{
    const oc_tensor *t = ctx->in[i];
    char buf[160];
    if (want_float ? !oc_dtype_is_float(t->dtype) : t->dtype != ONNXC_INT64)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE, "input '%s': expected dtype %s, got %s",
                            name, want_float ? "float or double" : "int64",
                            oc_dtype_name(t->dtype));
    if (oc_tensor_numel(t) != 1)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "input '%s': expected a scalar, got shape %s", name,
                            oc_shape_str(&t->shape, buf, sizeof buf));
    return ONNXC_OK;
}

static onnxc_status opt_infer(oc_op_ctx *ctx, size_t *workspace_bytes)
{
    const oc_node *n = ctx->node;
    const opt_params *p = n->params;
    char a[160], b[160];
    OC_TRY(check_scalar(ctx, 0, "R", true));
    OC_TRY(check_scalar(ctx, 1, "T", false));
    oc_dtype dt = ctx->in[2]->dtype;
    if (!oc_dtype_is_float(dt))
        return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE,
                            "input 2 (X_1): expected dtype float or double, got %s",
                            oc_dtype_name(dt));
    for (int i = 0; i < p->n; i++) {
        const oc_tensor *x = ctx->in[2 + i];
        for (int g = 0; g < p->groups_in; g++) {
            int k = 2 + g * p->n + i;
            const oc_tensor *t = ctx->in[k];
            if (t->dtype != dt)
                return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE,
                                    "input %d: expected dtype %s (as X_1), got %s", k,
                                    oc_dtype_name(dt), oc_dtype_name(t->dtype));
            if (!oc_shape_equal(&t->shape, &x->shape))
                return oc_node_fail(n, ctx->err, ONNXC_ERR_SHAPE,
                                    "input %d: expected shape %s (as X_%d, input %d), got %s", k,
                                    oc_shape_str(&x->shape, a, sizeof a), i + 1, 2 + i,
                                    oc_shape_str(&t->shape, b, sizeof b));
        }
        for (int g = 0; g < p->groups_out; g++) {
            oc_tensor *y = ctx->out[g * p->n + i];
            y->dtype = dt;
            y->shape = x->shape;
        }
    }
    *workspace_bytes = 0;
    return ONNXC_OK;
}

/* Tensors of at least 32768 elements are split across threads; elements are
 * independent. */


#define DEFINE_KERNELS(T, SQRT)                                                                 \
    static void adagrad_##T(T *xo, T *ho, const T *x, const T *g, const T *h, int64_t count,   \
                            const opt_params *p, double r, int nt)                             \
    {                                                                                          \
        const T norm = (T)p->norm, eps = (T)p->epsilon, rr = (T)r;                             \
        const int parts = oc_ew_parts(count, nt);                                               \
        OC_PAR_FOR(parts, c, {                                                                 \
        int64_t lo, hi;                                                                        \
        oc_split_range(count, parts, c, &lo, &hi);                                             \
        for (int64_t j = lo; j < hi; j++) {                                                    \
            T gr = norm * x[j] + g[j];                                                         \
            T hn = h[j] + gr * gr;                                                             \
            T xn = x[j] - rr * gr / (SQRT(hn) + eps);                                          \
            ho[j] = hn;                                                                        \
            xo[j] = xn;                                                                        \
        }                                                                                      \
        });                                                                                    \
    }                                                                                          \
    static void momentum_##T(T *xo, T *vo, const T *x, const T *g, const T *v, int64_t count,  \
                             const opt_params *p, double r, bool first, int nt)                \
    {                                                                                          \
        const T norm = (T)p->norm, alpha = (T)p->alpha, rr = (T)r;                             \
        const T beta = first ? (T)1 : (T)p->beta; /* first step: beta is 1 */                  \
        const bool nesterov = p->nesterov;                                                     \
        const int parts = oc_ew_parts(count, nt);                                               \
        OC_PAR_FOR(parts, c, {                                                                 \
        int64_t lo, hi;                                                                        \
        oc_split_range(count, parts, c, &lo, &hi);                                             \
        for (int64_t j = lo; j < hi; j++) {                                                    \
            T gr = norm * x[j] + g[j];                                                         \
            T vn = alpha * v[j] + beta * gr;                                                   \
            T xn = nesterov ? x[j] - rr * (gr + alpha * vn) : x[j] - rr * vn;                  \
            vo[j] = vn;                                                                        \
            xo[j] = xn;                                                                        \
        }                                                                                      \
        });                                                                                    \
    }                                                                                          \
    static void adam_##T(T *xo, T *vo, T *ho, const T *x, const T *g, const T *v, const T *h,  \
                         int64_t count, const opt_params *p, double r_adj, int nt)             \
    {                                                                                          \
        const T norm = (T)p->norm, alpha = (T)p->alpha, beta = (T)p->beta;                     \
        const T alpha1 = (T)(1.0 - p->alpha), beta1 = (T)(1.0 - p->beta);                      \
        const T eps = (T)p->epsilon, rr = (T)r_adj, post = (T)(1.0 - p->norm_post);            \
        const int parts = oc_ew_parts(count, nt);                                               \
        OC_PAR_FOR(parts, c, {                                                                 \
        int64_t lo, hi;                                                                        \
        oc_split_range(count, parts, c, &lo, &hi);                                             \
        for (int64_t j = lo; j < hi; j++) {                                                    \
            T gr = norm * x[j] + g[j];                                                         \
            T vn = alpha * v[j] + alpha1 * gr;                                                 \
            T hn = beta * h[j] + beta1 * (gr * gr);                                            \
            T xn = post * (x[j] - rr * (vn / (SQRT(hn) + eps)));                               \
            vo[j] = vn;                                                                        \
            ho[j] = hn;                                                                        \
            xo[j] = xn;                                                                        \
        }                                                                                      \
        });                                                                                    \
    }

DEFINE_KERNELS(float, sqrtf)
DEFINE_KERNELS(double, sqrt)

static onnxc_status opt_run(oc_op_ctx *ctx)
{
    const opt_params *p = ctx->node->params;
    double R = oc_tensor_get_double(ctx->in[0], 0);
    int64_t t = oc_tensor_get_int(ctx->in[1], 0);
    bool is_float = ctx->in[2]->dtype == ONNXC_FLOAT;
    int n = p->n, nt = ctx->nthreads;
    /* Step-dependent scalars, once, in double. */
    double r = R;
    if (p->kind == OPT_ADAGRAD) r = R / (1.0 + (double)t * p->decay);
    if (p->kind == OPT_ADAM && t > 0)
        r = R * sqrt(1.0 - pow(p->beta, (double)t)) / (1.0 - pow(p->alpha, (double)t));
    for (int i = 0; i < n; i++) {
        int64_t count = oc_tensor_numel(ctx->in[2 + i]);
        void *x = ctx->in[2 + i]->data, *g = ctx->in[2 + n + i]->data;
        void *s1 = ctx->in[2 + 2 * n + i]->data; /* H (Adagrad) or V */
        void *s2 = p->kind == OPT_ADAM ? ctx->in[2 + 3 * n + i]->data : NULL; /* H (Adam) */
        void *xo = ctx->out[i]->data, *o1 = ctx->out[n + i]->data;
        void *o2 = p->kind == OPT_ADAM ? ctx->out[2 * n + i]->data : NULL;
        switch (p->kind) {
        case OPT_ADAGRAD:
            if (is_float) adagrad_float(xo, o1, x, g, s1, count, p, r, nt);
            else adagrad_double(xo, o1, x, g, s1, count, p, r, nt);
            break;
        case OPT_MOMENTUM:
            if (is_float) momentum_float(xo, o1, x, g, s1, count, p, r, t <= 0, nt);
            else momentum_double(xo, o1, x, g, s1, count, p, r, t <= 0, nt);
            break;
        case OPT_ADAM:
            if (is_float) adam_float(xo, o1, o2, x, g, s1, s2, count, p, r, nt);
            else adam_double(xo, o1, o2, x, g, s1, s2, count, p, r, nt);
            break;
        }
    }
    return ONNXC_OK;
}

#define TRAINING_DOMAIN "ai.onnx.preview.training"

const oc_op_def oc_op_adagrad = {
    .name = "Adagrad",
    .domain = TRAINING_DOMAIN,
    .versions = {1},
    .min_inputs = 5, .max_inputs = -1,
    .min_outputs = 2, .max_outputs = -1,
    .init = adagrad_init,
    .infer = opt_infer,
    .run = opt_run,
};

const oc_op_def oc_op_momentum = {
    .name = "Momentum",
    .domain = TRAINING_DOMAIN,
    .versions = {1},
    .min_inputs = 5, .max_inputs = -1,
    .min_outputs = 2, .max_outputs = -1,
    .init = momentum_init,
    .infer = opt_infer,
    .run = opt_run,
};

const oc_op_def oc_op_adam = {
    .name = "Adam",
    .domain = TRAINING_DOMAIN,
    .versions = {1},
    .min_inputs = 6, .max_inputs = -1,
    .min_outputs = 3, .max_outputs = -1,
    .init = adam_init,
    .infer = opt_infer,
    .run = opt_run,
};
