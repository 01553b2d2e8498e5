/*
 * Gemm (opset 7, 9, 11, 13): Y = alpha * A' * B' + beta * C
 *
 *   A' = transA ? A^T : A   [M, K]   (A is 2-D: [M, K] or [K, M])
 *   B' = transB ? B^T : B   [K, N]
 *   C broadcasts unidirectionally to [M, N]: [], [1], [N], [1, N], [M, 1],
 *   [M, N] ... Y is [M, N].
 *
 * Attributes alpha = 1.0, beta = 1.0, transA = 0, transB = 0.
 * Versions: 7 made C broadcast (6 and older had `broadcast`; not supported);
 * 9 added int32/int64/uint32/uint64; 11 made C optional; 13 added bfloat16.
 * Integer Gemm is computed exactly with wrap-around, and only with alpha and
 * beta equal to 1 (the spec does not say how a float alpha scales integers).
 *
 * Float Gemm: Y is first filled with beta * C (broadcast), then oc_sgemm
 * adds alpha * A'B' with beta = 1 (or writes it with beta = 0 when there is
 * no C or beta is 0, so NaNs in an unused C never reach Y).
 */
#include "nn.h"

#include <string.h>

#include "../attr.h"
#include "../gemm_ref.h"

typedef struct gemm_params {
    float alpha, beta;
    int trans_a, trans_b;
} gemm_params;

static onnxc_status gemm_init(oc_node *node, onnxc_error *err)
{
    gemm_params p;
    int64_t ta, tb;
    OC_TRY(oc_attr_float(node, "alpha", 1.0f, &p.alpha, err));
    OC_TRY(oc_attr_float(node, "beta", 1.0f, &p.beta, err));
    OC_TRY(oc_attr_int(node, "transA", 0, &ta, err));
    OC_TRY(oc_attr_int(node, "transB", 0, &tb, err));
    p.trans_a = ta != 0;
    p.trans_b = tb != 0;
    if (node->since < 11 && !oc_nn_has_in(node, 2))
        return oc_node_fail(node, err, ONNXC_ERR_MODEL,
                            "input 2 'C' is required before opset 11 (this node resolves to "
                            "Gemm-%d); got none",
                            node->since);
    return oc_nn_set_params(node, &p, sizeof p, err);
}

/* M, K, N of the product, checking ranks and the inner dims. */
static onnxc_status gemm_dims(const oc_op_ctx *ctx, const gemm_params *p, int64_t *M,
                              int64_t *K, int64_t *N)
{
    const oc_shape *a = &ctx->in[0]->shape, *b = &ctx->in[1]->shape;
    char sa[160], sb[160];
    for (int i = 0; i < 2; i++)
        if (ctx->in[i]->shape.rank != 2)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                                "input %d '%s': expected a 2-D matrix, got shape %s", i,
                                oc_nn_in_name(ctx->node, i),
                                oc_shape_str(&ctx->in[i]->shape, sa, sizeof sa));
    *M = a->dims[p->trans_a ? 1 : 0];
    *K = a->dims[p->trans_a ? 0 : 1];
    int64_t kb = b->dims[p->trans_b ? 1 : 0];
    *N = b->dims[p->trans_b ? 0 : 1];
    if (*K != kb)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "inner dims differ: A is %s (transA=%d), B is %s (transB=%d): "
                            "K = %lld vs %lld",
                            oc_shape_str(a, sa, sizeof sa), p->trans_a,
                            oc_shape_str(b, sb, sizeof sb), p->trans_b, (long long)*K,
                            (long long)kb);
    return ONNXC_OK;
}

static bool gemm_int(oc_dtype t)
{
    return t == ONNXC_INT32 || t == ONNXC_INT64 || t == ONNXC_UINT32 || t == ONNXC_UINT64;
}

static onnxc_status gemm_infer(oc_op_ctx *ctx, size_t *ws)
{
    const gemm_params *p = ctx->node->params;
    const oc_dtype t = ctx->in[0]->dtype;
    *ws = 0;
    bool is_int = ctx->node->since >= 9 && gemm_int(t);
    if (!oc_dtype_is_float(t) && !is_int)
        return oc_nn_bad_dtype(ctx, 0,
                               ctx->node->since >= 9 ? "float, double, int32, int64, uint32, uint64"
                                                     : "float, double");
    OC_TRY(oc_nn_same_dtype(ctx, 0, 1));
    if (is_int && (p->alpha != 1.0f || p->beta != 1.0f))
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_UNSUPPORTED,
                            "integer Gemm (dtype %s) with alpha = %g, beta = %g: onnxc "
                            "implements integer Gemm only for alpha = beta = 1",
                            oc_dtype_name(t), (double)p->alpha, (double)p->beta);
    int64_t M, K, N;
    OC_TRY(gemm_dims(ctx, p, &M, &K, &N));
    oc_shape y = {.rank = 2, .dims = {M, N}};
    const oc_tensor *c = ctx->n_in > 2 ? ctx->in[2] : NULL;
    if (c) {
        OC_TRY(oc_nn_same_dtype(ctx, 0, 2));
        if (!oc_broadcast_to_ok(&c->shape, &y) || c->shape.rank > 2) {
            char sc[160], sy[160];
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                                "input 2 '%s' (C) has shape %s: expected a shape that "
                                "broadcasts to the output %s",
                                oc_nn_in_name(ctx->node, 2), oc_shape_str(&c->shape, sc, sizeof sc),
                                oc_shape_str(&y, sy, sizeof sy));
        }
    }
    ctx->out[0]->dtype = t;
    ctx->out[0]->shape = y;
    return ONNXC_OK;
}

/* Strides of C seen as [M, N] (0 along a broadcast dim). */
static void gemm_c_strides(const oc_tensor *c, int64_t M, int64_t N, int64_t *sm, int64_t *sn)
{
    oc_shape y = {.rank = 2, .dims = {M, N}};
    int64_t st[2];
    oc_broadcast_strides(&c->shape, &y, st);
    *sm = st[0];
    *sn = st[1];
}

/* y[M,N] = beta * broadcast(c), row by row. */
#define GEMM_FILL(NAME, T)                                                                 \
    static void NAME(T *y, const T *c, int64_t M, int64_t N, int64_t sm, int64_t sn, T beta) \
    {                                                                                      \
        for (int64_t i = 0; i < M; i++) {                                                  \
            const T *cr = c + i * sm;                                                      \
            T *yr = y + i * N;                                                             \
            for (int64_t j = 0; j < N; j++) yr[j] = beta * cr[j * sn];                     \
        }                                                                                  \
    }
GEMM_FILL(fill_f32, float)
GEMM_FILL(fill_f64, double)
GEMM_FILL(fill_u32, uint32_t)
GEMM_FILL(fill_u64, uint64_t)

/* Integer y[M,N] += A'B' (exact, wrap-around in the unsigned type). */
#define GEMM_INT(NAME, U)                                                                  \
    static void NAME(int ta, int tb, int64_t M, int64_t N, int64_t K, const U *a, const U *b, \
                     U *y)                                                                 \
    {                                                                                      \
        for (int64_t i = 0; i < M; i++)                                                    \
            for (int64_t k = 0; k < K; k++) {                                              \
                const U aik = ta ? a[k * M + i] : a[i * K + k];                            \
                U *yr = y + i * N;                                                         \
                for (int64_t j = 0; j < N; j++) yr[j] += aik * (tb ? b[j * K + k] : b[k * N + j]); \
            }                                                                              \
    }
GEMM_INT(gemm_u32, uint32_t)
GEMM_INT(gemm_u64, uint64_t)

static onnxc_status gemm_run(oc_op_ctx *ctx)
{
    const gemm_params *p = ctx->node->params;
    const oc_tensor *A = ctx->in[0], *B = ctx->in[1];
    const oc_tensor *C = ctx->n_in > 2 ? ctx->in[2] : NULL;
    oc_tensor *Y = ctx->out[0];
    int64_t M, K, N;
    OC_TRY(gemm_dims(ctx, p, &M, &K, &N));
    int64_t sm = 0, sn = 0;
    if (C) gemm_c_strides(C, M, N, &sm, &sn);
    const int64_t lda = p->trans_a ? M : K, ldb = p->trans_b ? K : N;
    switch (A->dtype) {
    case ONNXC_FLOAT: {
        const bool use_c = C && p->beta != 0.0f;
        if (use_c) fill_f32(Y->data, C->data, M, N, sm, sn, p->beta);
        oc_sgemm(p->trans_a, p->trans_b, M, N, K, p->alpha, A->data, lda, B->data, ldb,
                 use_c ? 1.0f : 0.0f, Y->data, N, ctx->nthreads);
        break;
    }
    case ONNXC_DOUBLE: {
        const bool use_c = C && p->beta != 0.0f;
        if (use_c) fill_f64(Y->data, C->data, M, N, sm, sn, (double)p->beta);
        oc_dgemm(p->trans_a, p->trans_b, M, N, K, (double)p->alpha, A->data, lda, B->data, ldb,
                 use_c ? 1.0 : 0.0, Y->data, N, ctx->nthreads);
        break;
    }
    case ONNXC_INT32: case ONNXC_UINT32:
        /* alpha = beta = 1 (checked in infer): Y = C + A'B'. */
        if (C) fill_u32(Y->data, C->data, M, N, sm, sn, 1);
        else memset(Y->data, 0, (size_t)(M * N) * sizeof(uint32_t));
        gemm_u32(p->trans_a, p->trans_b, M, N, K, A->data, B->data, Y->data);
        break;
    default: /* int64, uint64 */
        if (C) fill_u64(Y->data, C->data, M, N, sm, sn, 1);
        else memset(Y->data, 0, (size_t)(M * N) * sizeof(uint64_t));
        gemm_u64(p->trans_a, p->trans_b, M, N, K, A->data, B->data, Y->data);
        break;
    }
    return ONNXC_OK;
}

const oc_op_def oc_op_gemm = {
    .name = "Gemm", .domain = "", .versions = {7, 9, 11, 13},
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .init = gemm_init, .infer = gemm_infer, .run = gemm_run,
};
