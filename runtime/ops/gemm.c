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
 * Float Gemm: Y is first filled with beta * C (broadcast), then oc_sgemm_fast
 * adds alpha * A'B' with beta = 1 (or writes it with beta = 0 when there is
 * no C or beta is 0, so NaNs in an unused C never reach Y).
 *
 * Backward (float, double; at the end of the file): gradients of A, B and C,
 * each product one oc_sgemm_fast that reads the stored, possibly transposed,
 * operands in place.
 */
#include "nn.h"

#include <string.h>

#include "../attr.h"
#include "../gemm_ref.h"
#include "../kernels/sgemm.h"

typedef oc_gemm_params gemm_params;

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
        oc_sgemm_fast(p->trans_a, p->trans_b, M, N, K, p->alpha, A->data, lda, B->data, ldb,
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

/* --- backward ------------------------------------------------------------------
 *
 * With A' = op(A) [M,K], B' = op(B) [K,N]:
 *     dA' = alpha * dY * B'^T        dB' = alpha * A'^T * dY
 *     dA  = transA ? dA'^T : dA'     dB  = transB ? dB'^T : dB'
 * and each is one oc_sgemm_fast with beta = 1 on the stored A and B, picking the
 * transposes so that no copy is needed (the transposed forms follow from
 * (XY)^T = Y^T X^T):
 *     dA [M,K] = dY * B'^T           dA [K,M] = B' * dY^T
 *     dB [K,N] = A'^T * dY           dB [N,K] = dY^T * A'
 * op(X)^T of a stored X is "transpose unless transX", op(X) is "transX".
 *
 * dC = beta * dY summed over the dims C broadcasts along: per C element in
 * ascending row, then column order, in double ([N] and [1,N] C: column sums
 * in the workspace, [N] doubles, rows visited in ascending order).
 */

/* g (+)= alpha * op(x) * op(y), float or double by `f32`; `overwrite`: g is
 * written, not added to (its only contributor, see ctx->din_overwrite). */
static void gemm_acc(bool f32, int tx, int ty, int64_t M, int64_t N, int64_t K, float alpha,
                     const void *x, int64_t ldx, const void *y, int64_t ldy, void *g, int64_t ldg,
                     int nt, bool overwrite)
{
    if (f32)
        oc_sgemm_fast(tx, ty, M, N, K, alpha, x, ldx, y, ldy, overwrite ? 0.0f : 1.0f, g, ldg, nt);
    else
        oc_dgemm(tx, ty, M, N, K, (double)alpha, x, ldx, y, ldy, overwrite ? 0.0 : 1.0, g, ldg, nt);
}

static size_t gemm_backward_workspace(const oc_op_ctx *ctx)
{
    const oc_tensor *C = ctx->n_in > 2 ? ctx->in[2] : NULL;
    if (!C) return 0;
    int64_t sm, sn;
    const int64_t M = ctx->out[0]->shape.dims[0], N = ctx->out[0]->shape.dims[1];
    gemm_c_strides(C, M, N, &sm, &sn);
    return sm == 0 && sn != 0 ? (size_t)N * sizeof(double) : 0;
}

/* dC [C's shape] += beta * dY [M,N] summed over C's broadcast dims. */
#define GEMM_DBIAS(NAME, T)                                                                \
    static void NAME(T *dc, const T *dy, int64_t M, int64_t N, int64_t sm, int64_t sn,     \
                     double beta, double *colsum, int nthreads)                            \
    {                                                                                      \
        if (sm != 0 && sn != 0) { /* C is [M,N]: no reduction */                           \
            OC_PAR_FOR(oc_ew_parts(M * N, nthreads), c, {                                  \
                int64_t lo, hi;                                                            \
                oc_split_range(M * N, oc_ew_parts(M * N, nthreads), c, &lo, &hi);          \
                for (int64_t i = lo; i < hi; i++) dc[i] += (T)(beta * (double)dy[i]);      \
            });                                                                            \
        } else if (sm == 0 && sn != 0) { /* [N] or [1,N]: column sums, rows in order */    \
            OC_PAR_FOR(oc_ew_parts(M * N, nthreads), c, {                                  \
                int64_t lo, hi;                                                            \
                oc_split_range(N, oc_ew_parts(M * N, nthreads), c, &lo, &hi);              \
                for (int64_t j = lo; j < hi; j++) colsum[j] = 0.0;                         \
                for (int64_t i = 0; i < M; i++)                                            \
                    for (int64_t j = lo; j < hi; j++) colsum[j] += (double)dy[i * N + j];  \
                for (int64_t j = lo; j < hi; j++) dc[j] += (T)(beta * colsum[j]);          \
            });                                                                            \
        } else { /* [M,1] row sums, or a scalar: one sum per C element */                  \
            const int64_t rows = sm != 0 ? M : 1;                                          \
            const int64_t span = sm != 0 ? 1 : M; /* dY rows per C element */              \
            const int parts = rows > 1 ? oc_ew_parts(M * N, nthreads) : 1;                 \
            OC_PAR_FOR(parts, c, {                                                         \
                int64_t lo, hi;                                                            \
                oc_split_range(rows, parts, c, &lo, &hi);                                  \
                for (int64_t r = lo; r < hi; r++) {                                        \
                    double s = 0.0;                                                        \
                    const T *y = dy + r * span * N;                                        \
                    for (int64_t k = 0; k < span * N; k++) s += (double)y[k];              \
                    dc[r] += (T)(beta * s);                                                \
                }                                                                          \
            });                                                                            \
        }                                                                                  \
    }
GEMM_DBIAS(gemm_dbias_f32, float)
GEMM_DBIAS(gemm_dbias_f64, double)

static onnxc_status gemm_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                  oc_tensor *const *din)
{
    const gemm_params *p = ctx->node->params;
    const oc_tensor *A = ctx->in[0], *B = ctx->in[1], *dY = dout[0];
    const oc_tensor *C = ctx->n_in > 2 ? ctx->in[2] : NULL;
    if (!dY) return ONNXC_OK;
    if (!oc_dtype_is_float(A->dtype))
        return oc_nn_bad_dtype(ctx, 0, "float, double (the types Gemm differentiates)");
    int64_t M, K, N;
    OC_TRY(gemm_dims(ctx, p, &M, &K, &N));
    const bool f32 = A->dtype == ONNXC_FLOAT;
    const int ta = p->trans_a, tb = p->trans_b;
    const int64_t lda = ta ? M : K, ldb = tb ? K : N;
    const int nt = ctx->nthreads;
    const bool ow0 = ctx->din_overwrite & 1u, ow1 = ctx->din_overwrite & 2u;
    if (din[0]) {
        if (!ta) /* dA [M,K] = alpha * dY [M,N] * B'^T */
            gemm_acc(f32, 0, !tb, M, K, N, p->alpha, dY->data, N, B->data, ldb, din[0]->data, K, nt, ow0);
        else     /* dA [K,M] = alpha * B' [K,N] * dY^T */
            gemm_acc(f32, tb, 1, K, M, N, p->alpha, B->data, ldb, dY->data, N, din[0]->data, M, nt, ow0);
    }
    if (din[1]) {
        if (!tb) /* dB [K,N] = alpha * A'^T [K,M] * dY [M,N] */
            gemm_acc(f32, !ta, 0, K, N, M, p->alpha, A->data, lda, dY->data, N, din[1]->data, N, nt, ow1);
        else     /* dB [N,K] = alpha * dY^T [N,M] * A' [M,K] */
            gemm_acc(f32, 1, ta, N, K, M, p->alpha, dY->data, N, A->data, lda, din[1]->data, K, nt, ow1);
    }
    if (C && ctx->n_in > 2 && din[2] && (ctx->din_overwrite & 4u))
        memset(din[2]->data, 0, (size_t)oc_tensor_numel(din[2]) * oc_dtype_size(C->dtype));
    if (C && ctx->n_in > 2 && din[2]) {
        int64_t sm, sn;
        gemm_c_strides(C, M, N, &sm, &sn);
        if (f32)
            gemm_dbias_f32(din[2]->data, dY->data, M, N, sm, sn, (double)p->beta, ctx->workspace, nt);
        else
            gemm_dbias_f64(din[2]->data, dY->data, M, N, sm, sn, (double)p->beta, ctx->workspace, nt);
    }
    return ONNXC_OK;
}

const oc_op_def oc_op_gemm = {
    .name = "Gemm", .domain = "", .versions = {7, 9, 11, 13},
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .init = gemm_init, .infer = gemm_infer, .run = gemm_run,
    .flags = OC_OP_BACKWARD_OVERWRITE, .grad_inputs = 0x7, .backward = gemm_backward,
    .backward_workspace = gemm_backward_workspace,
};
