/*
 * MatMul (opset 1, 9, 13): numpy.matmul.
 *
 *   A [..., M, K] x B [..., K, N] -> Y [broadcast(A..., B...), M, N]
 *
 * A 1-D A [K] is read as [1, K] and that 1 is dropped from Y; a 1-D B [K] is
 * read as [K, 1], likewise (both 1-D: Y is a scalar). The batch dims (all
 * but the last two) broadcast numpy-style. Types: float, double at every
 * version; int32, int64, uint32, uint64 from 9 (they wrap on overflow, like
 * numpy). 13 only added bfloat16, which onnxc does not compute in.
 *
 * Float products go through oc_sgemm_fast (kernels/sgemm.h) and oc_dgemm. When B has no batch dims
 * (the usual [batch, in] x [in, out] layer, or [b, t, in] x [in, out]) the
 * batches of A are contiguous rows, so the whole product is one GEMM with
 * M' = batches * M; otherwise one GEMM per output batch, the batches spread
 * over threads when there are enough of them. Every output element sums in
 * ascending k either way, so the split never changes a bit.
 *
 * Backward (float, double; at the end of the file): dA += dY * B^T and
 * dB += A^T * dY per batch, summed over broadcast batch dims, through the
 * same GEMM with beta = 1.
 */
#include "nn.h"

#include <string.h>

#include "../gemm_ref.h"
#include "../kernels/sgemm.h"

typedef struct mm_geom {
    int64_t M, K, N;
    int batch_rank;                    /* output batch dims */
    int64_t batch[OC_MAX_RANK];
    int64_t a_step[OC_MAX_RANK];       /* A matrices per batch index step, 0: broadcast */
    int64_t b_step[OC_MAX_RANK];
    int64_t nbatch;                    /* prod(batch) */
    bool b_single;                     /* B has no batch dims (rank <= 2) */
} mm_geom;

/* Geometry and output shape from the input shapes, with the node-naming
 * errors of infer (run calls it again on the same, already checked shapes). */
static onnxc_status mm_geom_make(const oc_op_ctx *ctx, mm_geom *g, oc_shape *out)
{
    const oc_shape *a = &ctx->in[0]->shape, *b = &ctx->in[1]->shape;
    char sa[160], sb[160];
    for (int i = 0; i < 2; i++)
        if (ctx->in[i]->shape.rank == 0)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                                "input %d '%s': expected rank >= 1, got a scalar", i,
                                oc_nn_in_name(ctx->node, i));
    g->M = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    g->K = a->dims[a->rank - 1];
    int64_t kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
    g->N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if (g->K != kb)
        return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                            "inner dims differ: A is %s, B is %s (A's last dim %lld, "
                            "B's %s dim %lld)",
                            oc_shape_str(a, sa, sizeof sa), oc_shape_str(b, sb, sizeof sb),
                            (long long)g->K, b->rank >= 2 ? "second-to-last" : "only",
                            (long long)kb);

    int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0;
    int br = ra > rb ? ra : rb;
    g->batch_rank = br;
    g->b_single = rb == 0;
    int64_t step_a = 1, step_b = 1;
    g->nbatch = 1;
    for (int d = br - 1; d >= 0; d--) {
        int da = d - (br - ra), db = d - (br - rb);
        int64_t x = da >= 0 ? a->dims[da] : 1, y = db >= 0 ? b->dims[db] : 1;
        if (x != y && x != 1 && y != 1)
            return oc_node_fail(ctx->node, ctx->err, ONNXC_ERR_SHAPE,
                                "batch dims do not broadcast: A is %s, B is %s (batch dim %d "
                                "is %lld vs %lld, expected equal or one of them 1)",
                                oc_shape_str(a, sa, sizeof sa), oc_shape_str(b, sb, sizeof sb),
                                d, (long long)x, (long long)y);
        g->batch[d] = x == 1 ? y : x;
        g->a_step[d] = x == 1 ? 0 : step_a;
        g->b_step[d] = y == 1 ? 0 : step_b;
        step_a *= x;
        step_b *= y;
        g->nbatch *= g->batch[d];
    }
    out->rank = 0;
    for (int d = 0; d < br; d++) out->dims[out->rank++] = g->batch[d];
    if (a->rank >= 2) out->dims[out->rank++] = g->M;
    if (b->rank >= 2) out->dims[out->rank++] = g->N;
    return ONNXC_OK;
}

/* y[M,N] = a[M,K] * b[K,N] for one matrix of each, `nt` threads. */
typedef void (*mm_fn)(const void *a, const void *b, void *y, int64_t M, int64_t N, int64_t K,
                      int nt);

static void mm_f32(const void *a, const void *b, void *y, int64_t M, int64_t N, int64_t K, int nt)
{
    oc_sgemm_fast(0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, y, N, nt);
}

static void mm_f64(const void *a, const void *b, void *y, int64_t M, int64_t N, int64_t K, int nt)
{
    oc_dgemm(0, 0, M, N, K, 1.0, a, K, b, N, 0.0, y, N, nt);
}

/* Integer products in the unsigned type of the same width: wraps like numpy
 * instead of overflowing (signed results are the same bits). Exact, so the
 * i-k-j order (contiguous inner loop) is free to choose; single-threaded. */
#define MM_INT(NAME, U)                                                                    \
    static void NAME(const void *av, const void *bv, void *yv, int64_t M, int64_t N,       \
                     int64_t K, int nt)                                                    \
    {                                                                                      \
        const U *a = av, *b = bv;                                                          \
        U *y = yv;                                                                         \
        (void)nt;                                                                          \
        for (int64_t i = 0; i < M; i++) {                                                  \
            U *restrict yr = y + i * N;                                                    \
            for (int64_t j = 0; j < N; j++) yr[j] = 0;                                     \
            for (int64_t k = 0; k < K; k++) {                                              \
                const U aik = a[i * K + k];                                                \
                const U *restrict br = b + k * N;                                          \
                for (int64_t j = 0; j < N; j++) yr[j] += aik * br[j];                      \
            }                                                                              \
        }                                                                                  \
    }
MM_INT(mm_u32, uint32_t)
MM_INT(mm_u64, uint64_t)

static mm_fn mm_kernel(oc_dtype t, int since)
{
    switch (t) {
    case ONNXC_FLOAT: return mm_f32;
    case ONNXC_DOUBLE: return mm_f64;
    case ONNXC_INT32: case ONNXC_UINT32: return since >= 9 ? mm_u32 : NULL;
    case ONNXC_INT64: case ONNXC_UINT64: return since >= 9 ? mm_u64 : NULL;
    default: return NULL;
    }
}

static onnxc_status mm_infer(oc_op_ctx *ctx, size_t *ws)
{
    *ws = 0;
    if (!mm_kernel(ctx->in[0]->dtype, ctx->node->since))
        return oc_nn_bad_dtype(ctx, 0,
                               ctx->node->since >= 9 ? "float, double, int32, int64, uint32, uint64"
                                                     : "float, double");
    OC_TRY(oc_nn_same_dtype(ctx, 0, 1));
    mm_geom g;
    oc_shape out;
    OC_TRY(mm_geom_make(ctx, &g, &out));
    ctx->out[0]->dtype = ctx->in[0]->dtype;
    ctx->out[0]->shape = out;
    return ONNXC_OK;
}

/* Offsets (in matrices) of A and B for output batch t. */
static void mm_batch_offsets(const mm_geom *g, int64_t t, int64_t *oa, int64_t *ob)
{
    *oa = *ob = 0;
    for (int d = g->batch_rank - 1; d >= 0; d--) {
        int64_t i = t % g->batch[d];
        t /= g->batch[d];
        *oa += i * g->a_step[d];
        *ob += i * g->b_step[d];
    }
}

static onnxc_status mm_run(oc_op_ctx *ctx)
{
    const oc_tensor *A = ctx->in[0], *B = ctx->in[1];
    oc_tensor *Y = ctx->out[0];
    mm_geom g;
    oc_shape out;
    OC_TRY(mm_geom_make(ctx, &g, &out));
    mm_fn fn = mm_kernel(A->dtype, ctx->node->since);
    const size_t es = oc_dtype_size(A->dtype);
    if (g.b_single) {
        fn(A->data, B->data, Y->data, g.nbatch * g.M, g.N, g.K, ctx->nthreads);
        return ONNXC_OK;
    }
    const size_t a_mat = (size_t)(g.M * g.K) * es, b_mat = (size_t)(g.K * g.N) * es,
                 y_mat = (size_t)(g.M * g.N) * es;
    /* Many small products: one batch per thread. Few large ones: threads
     * inside each GEMM. */
    const bool per_batch = ctx->nthreads > 1 && g.nbatch >= ctx->nthreads &&
                           (double)g.nbatch * (double)g.M * (double)g.N * (double)g.K >= 65536.0;
    const int parts = per_batch ? ctx->nthreads : 1;
    const int inner = per_batch ? 1 : ctx->nthreads;
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(g.nbatch, parts, c, &lo, &hi);
        for (int64_t t = lo; t < hi; t++) {
            int64_t oa, ob;
            mm_batch_offsets(&g, t, &oa, &ob);
            fn((const char *)A->data + (size_t)oa * a_mat, (const char *)B->data + (size_t)ob * b_mat,
               (char *)Y->data + (size_t)t * y_mat, g.M, g.N, g.K, inner);
        }
    });
    return ONNXC_OK;
}

/* --- backward ------------------------------------------------------------------
 *
 * Per output batch t (A matrix a(t), B matrix b(t)):
 *     dA[a(t)] [M,K] += dY[t] [M,N] * B[b(t)]^T
 *     dB[b(t)] [K,N] += A[a(t)]^T   * dY[t] [M,N]
 * A broadcast batch dim maps several t to one matrix: its gradient sums
 * them. 1-D operands need nothing special: [K] has the memory of [1,K] (or
 * [K,1]), and dY drops that 1 without changing its memory either.
 *
 * Determinism: oc_sgemm_fast with beta = 1 adds each product to the gradient
 * in a fixed order of k (chunks of 256, ascending), the same for any thread
 * count. Across batches, each gradient matrix receives its t's in ascending order from the one thread that owns
 * it, so splitting the matrices over threads changes no bit either.
 */

/* g[M',N'] (+)= op(x) * op(y), float or double by `f32`; `overwrite`: g is
 * written, not added to (its only contributor, see ctx->din_overwrite). */
static void mm_gemm_acc(bool f32, int tx, int ty, int64_t M, int64_t N, int64_t K, const void *x,
                        int64_t ldx, const void *y, int64_t ldy, void *g, int64_t ldg, int nt,
                        bool overwrite)
{
    if (f32)
        oc_sgemm_fast(tx, ty, M, N, K, 1.0f, x, ldx, y, ldy, overwrite ? 0.0f : 1.0f, g, ldg, nt);
    else
        oc_dgemm(tx, ty, M, N, K, 1.0, x, ldx, y, ldy, overwrite ? 0.0 : 1.0, g, ldg, nt);
}

/* Gradient of one operand (which = 0: A, 1: B) for every output batch:
 * threads own whole gradient matrices; each adds its batches in ascending t. */
static void mm_grad_batched(const oc_op_ctx *ctx, const mm_geom *g, const oc_tensor *dY,
                            oc_tensor *dX, int which)
{
    const oc_tensor *A = ctx->in[0], *B = ctx->in[1];
    const bool f32 = A->dtype == ONNXC_FLOAT;
    const size_t es = oc_dtype_size(A->dtype);
    const int64_t M = g->M, N = g->N, K = g->K;
    const size_t a_mat = (size_t)(M * K) * es, b_mat = (size_t)(K * N) * es,
                 y_mat = (size_t)(M * N) * es;
    const int64_t nmat = oc_tensor_numel(dX) / (which == 0 ? M * K : K * N);
    const bool per_mat = ctx->nthreads > 1 && nmat >= ctx->nthreads &&
                         (double)g->nbatch * (double)M * (double)N * (double)K >= 65536.0;
    const int parts = per_mat ? ctx->nthreads : 1;
    const int inner = per_mat ? 1 : ctx->nthreads;
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(nmat, parts, c, &lo, &hi);
        for (int64_t t = 0; t < g->nbatch && lo < hi; t++) {
            int64_t oa, ob;
            mm_batch_offsets(g, t, &oa, &ob);
            const int64_t own = which == 0 ? oa : ob;
            if (own < lo || own >= hi) continue;
            const char *a = (const char *)A->data + (size_t)oa * a_mat;
            const char *b = (const char *)B->data + (size_t)ob * b_mat;
            const char *dy = (const char *)dY->data + (size_t)t * y_mat;
            if (which == 0) /* dA[M,K] += dY[M,N] * B[K,N]^T */
                mm_gemm_acc(f32, 0, 1, M, K, N, dy, N, b, N,
                            (char *)dX->data + (size_t)oa * a_mat, K, inner, false);
            else            /* dB[K,N] += A[M,K]^T * dY[M,N] */
                mm_gemm_acc(f32, 1, 0, K, N, M, a, K, dy, N,
                            (char *)dX->data + (size_t)ob * b_mat, N, inner, false);
        }
    });
}

static onnxc_status mm_backward(oc_op_ctx *ctx, const oc_tensor *const *dout,
                                oc_tensor *const *din)
{
    const oc_tensor *A = ctx->in[0], *B = ctx->in[1], *dY = dout[0];
    if (!dY) return ONNXC_OK;
    if (!oc_dtype_is_float(A->dtype))
        return oc_nn_bad_dtype(ctx, 0, "float, double (the types MatMul differentiates)");
    mm_geom g;
    oc_shape out;
    OC_TRY(mm_geom_make(ctx, &g, &out));
    const bool f32 = A->dtype == ONNXC_FLOAT;
    if (g.b_single) {
        /* A's batches are contiguous rows: A' [R,K] * B [K,N], R = nbatch*M. The
         * sum over batches of dB is the inner dimension of one product. */
        const int64_t R = g.nbatch * g.M;
        if (din[0]) mm_gemm_acc(f32, 0, 1, R, g.K, g.N, dY->data, g.N, B->data, g.N,
                                din[0]->data, g.K, ctx->nthreads, ctx->din_overwrite & 1u);
        if (din[1]) mm_gemm_acc(f32, 1, 0, g.K, g.N, R, A->data, g.K, dY->data, g.N,
                                din[1]->data, g.N, ctx->nthreads, ctx->din_overwrite & 2u);
        return ONNXC_OK;
    }
    /* Several batches add into one gradient matrix: start from zero. */
    for (int i = 0; i < 2; i++)
        if (din[i] && (ctx->din_overwrite >> i & 1u))
            memset(din[i]->data, 0, (size_t)oc_tensor_numel(din[i]) * oc_dtype_size(A->dtype));
    if (din[0]) mm_grad_batched(ctx, &g, dY, din[0], 0);
    if (din[1]) mm_grad_batched(ctx, &g, dY, din[1], 1);
    return ONNXC_OK;
}

const oc_op_def oc_op_matmul = {
    .name = "MatMul", .domain = "", .versions = {1, 9, 13},
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = mm_infer, .run = mm_run,
    .flags = OC_OP_BACKWARD_OVERWRITE, .grad_inputs = 0x3, .backward = mm_backward,
};
