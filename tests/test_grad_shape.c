/*
 * Backward passes of the data-movement family (runtime/ops/{reshape,
 * transpose,concat,gather,shape}.c).
 *
 * Every op is checked against central finite differences with gc_check
 * (tests/support/gradcheck.h): in double (h 1e-6, tol 1e-6) and once in
 * float (h 1e-2, tol 2e-2). These ops are linear in their data input, so
 * the differences are exact up to rounding. gc_check also verifies that
 * backward adds into the gradient instead of overwriting it.
 *
 * The threaded paths (large tensors) are compared bit for bit with naive
 * loops written here (one add per element, or Gather's adds in index
 * order), with 1 and 2..4 threads; and Concat(x, x), where both inputs
 * share one gradient buffer, against hand-computed values.
 */
#include "gradcheck.h"
#include "op_check.h"

#include <stdio.h>
#include <stdlib.h>

static onnxc_error err;

/* ----------------------------------------------------------------------- */
/* Inputs                                                                   */

/* Tensors' data is malloc'd and kept in a list freed by free_tensors. */
static void *allocs[64];
static int n_allocs;

static void *keep(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    cr_assert(p && n_allocs < 64);
    allocs[n_allocs++] = p;
    return p;
}

static void free_tensors(void)
{
    for (int i = 0; i < n_allocs; i++) free(allocs[i]);
    n_allocs = 0;
}

/* A float or double tensor with values in [-1, 1) from an LCG. */
static oc_tensor make(oc_dtype dtype, int rank, const int64_t *dims, unsigned seed)
{
    oc_shape sh = {.rank = rank};
    for (int i = 0; i < rank; i++) sh.dims[i] = dims[i];
    int64_t n = oc_shape_numel(&sh);
    void *p = keep((size_t)n * oc_dtype_size(dtype));
    unsigned s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        double v = ((s >> 8) & 0xffffff) / 8388608.0 - 1.0;
        if (dtype == ONNXC_DOUBLE) ((double *)p)[i] = v;
        else ((float *)p)[i] = (float)v;
    }
    return nb_tensor(dtype, rank, dims, p);
}

/* A 1-D int64 tensor (shape, axes, indices) copied from vals[n]. */
static oc_tensor ints(const int64_t *vals, int64_t n)
{
    int64_t *p = keep((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = vals[i];
    return nb_tensor(ONNXC_INT64, 1, (int64_t[]){n}, p);
}

/* gc_check with the double (h 1e-6, tol 1e-6) or float (h 1e-2, tol 2e-2)
 * settings, failing the test with gc's message. */
static void expect_grad(nb_node *b, const oc_tensor *const *in, uint32_t mask, bool f64,
                        const char *what)
{
    gc_options o = f64 ? (gc_options){.h = 1e-6, .tol = 1e-6, .seed = 7}
                       : (gc_options){.h = 1e-2, .tol = 2e-2, .seed = 7};
    char msg[512];
    cr_assert(gc_check(b, in, mask, &o, msg, sizeof msg), "%s: %s", what, msg);
}

static oc_dtype dt(bool f64) { return f64 ? ONNXC_DOUBLE : ONNXC_FLOAT; }

/*
 * Forward with nb_eval, then backward once with `nthreads` threads and a
 * workspace of backward_workspace bytes. din buffers are added into.
 */
static onnxc_status backward(nb_node *b, const oc_tensor *const *in, oc_tensor *const *out,
                             const oc_tensor *const *dout, oc_tensor *const *din, int nthreads)
{
    b->nthreads = nthreads;
    onnxc_status st = nb_eval(b, in, out, &err);
    if (st != ONNXC_OK) return st;
    oc_op_ctx ctx = {.node = &b->node, .n_in = b->node.n_in, .n_out = b->node.n_out, .in = in,
                     .out = out, .nthreads = nthreads, .err = &err};
    size_t ws = b->node.op->backward_workspace ? b->node.op->backward_workspace(&ctx) : 0;
    void *w = aligned_alloc(64, (ws + 64 + 63) & ~(size_t)63);
    cr_assert(w);
    ctx.workspace = w;
    ctx.workspace_bytes = ws;
    st = b->node.op->backward(&ctx, dout, din);
    free(w);
    return st;
}

/* ----------------------------------------------------------------------- */
/* Reshape, Flatten, Squeeze, Unsqueeze, Identity                           */

static void reshape_case(int opset, int rank, const int64_t *dims, const int64_t *shape, int k,
                         bool f64)
{
    nb_node *b = nb_new("Reshape", "", opset, 2, 1);
    oc_tensor x = make(dt(f64), rank, dims, 1), s = ints(shape, k);
    expect_grad(b, IN(&x, &s), 1u, f64, "Reshape");
    nb_free(b);
    free_tensors();
}

Test(grad_reshape, zero_and_minus_one)
{
    /* [2,3,4] -> [0,-1] = [2,12]; -> [-1,2,0] = [3,2,4]; -> [4,-1] = [4,6] */
    reshape_case(14, 3, D(2, 3, 4), D(0, -1), 2, true);
    reshape_case(14, 3, D(2, 3, 4), D(-1, 2, 0), 3, true);
    reshape_case(5, 3, D(2, 3, 4), D(4, -1), 2, true);
    reshape_case(13, 2, D(3, 4), D(0, 2, -1), 3, false);
}

Test(grad_reshape, masks)
{
    /* Only the data input is differentiable, for every op of reshape.c. */
    static const char *ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
                                "Transpose", "Gather"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const oc_op_def *d = oc_op_find("", ops[i]);
        cr_assert(d && d->backward, "%s has no backward", ops[i]);
        cr_assert_eq(d->grad_inputs, 1u, "%s: grad_inputs %#x", ops[i], d->grad_inputs);
    }
    const oc_op_def *c = oc_op_find("", "Concat");
    cr_assert(c->backward && (c->grad_inputs & 0xffffu) == 0xffffu);
    /* No gradient at all through shape-only ops and constants. */
    static const char *none[] = {"Shape", "Constant", "ConstantOfShape"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        const oc_op_def *d = oc_op_find("", none[i]);
        cr_assert(d && d->grad_inputs == 0 && !d->backward, "%s", none[i]);
    }
}

static void flatten_case(int opset, int64_t axis, bool f64)
{
    nb_node *b = nb_new("Flatten", "", opset, 1, 1);
    nb_attr_int(b, "axis", axis);
    oc_tensor x = make(dt(f64), 3, D(2, 3, 4), 2);
    char what[64];
    snprintf(what, sizeof what, "Flatten axis %lld", (long long)axis);
    expect_grad(b, IN(&x), 1u, f64, what);
    nb_free(b);
    free_tensors();
}

Test(grad_reshape, flatten)
{
    flatten_case(13, 0, true);  /* [1, 24] */
    flatten_case(13, 2, true);  /* [6, 4] */
    flatten_case(13, -1, true); /* [6, 4] */
    flatten_case(11, -3, true); /* [1, 24] */
    flatten_case(9, 3, true);   /* [24, 1] */
    flatten_case(13, 1, false); /* [2, 12] */
}

Test(grad_reshape, squeeze)
{
    for (int f64 = 1; f64 >= 0; f64--) {
        /* Opset 11: axes attribute, negative allowed. [2,1,3,1] -> [2,3]. */
        nb_node *b = nb_new("Squeeze", "", 11, 1, 1);
        nb_attr_ints(b, "axes", D(1, -1), 2);
        oc_tensor x = make(dt(f64), 4, D(2, 1, 3, 1), 3);
        expect_grad(b, IN(&x), 1u, f64, "Squeeze-11");
        nb_free(b);
        /* Opset 13: axes input. [2,1,3,1] -> [2,3,1]. */
        b = nb_new("Squeeze", "", 13, 2, 1);
        oc_tensor axes = ints(D(1), 1);
        expect_grad(b, IN(&x, &axes), 1u, f64, "Squeeze-13");
        nb_free(b);
        /* Opset 13 without axes: every size-1 dim. */
        b = nb_new("Squeeze", "", 13, 1, 1);
        expect_grad(b, IN(&x), 1u, f64, "Squeeze-13 all");
        nb_free(b);
        free_tensors();
    }
}

Test(grad_reshape, unsqueeze)
{
    for (int f64 = 1; f64 >= 0; f64--) {
        /* Opset 11: attribute. [2,3] -> [1,2,3,1]. */
        nb_node *b = nb_new("Unsqueeze", "", 11, 1, 1);
        nb_attr_ints(b, "axes", D(0, 3), 2);
        oc_tensor x = make(dt(f64), 2, D(2, 3), 4);
        expect_grad(b, IN(&x), 1u, f64, "Unsqueeze-11");
        nb_free(b);
        /* Opset 13: input, negative axis. [2,3] -> [2,1,3,1]. */
        b = nb_new("Unsqueeze", "", 13, 2, 1);
        oc_tensor axes = ints(D(-1, 1), 2);
        expect_grad(b, IN(&x, &axes), 1u, f64, "Unsqueeze-13");
        nb_free(b);
        free_tensors();
    }
}

Test(grad_reshape, identity)
{
    for (int f64 = 1; f64 >= 0; f64--) {
        nb_node *b = nb_new("Identity", "", 16, 1, 1);
        oc_tensor x = make(dt(f64), 3, D(2, 3, 2), 5);
        expect_grad(b, IN(&x), 1u, f64, "Identity");
        nb_free(b);
        free_tensors();
    }
}

/* Integer data runs forward, but its gradient is refused with a message. */
Test(grad_reshape, integer_gradient_refused)
{
    nb_node *b = nb_new("Reshape", "", 14, 2, 1);
    int32_t x[4] = {1, 2, 3, 4}, g[4] = {0};
    oc_tensor tx = nb_tensor(ONNXC_INT32, 2, D(2, 2), x), s = ints(D(-1), 1), y;
    oc_tensor tg = nb_tensor(ONNXC_INT32, 2, D(2, 2), g);
    oc_tensor dy = nb_tensor(ONNXC_INT32, 1, D(4), x);
    expect_fail(backward(b, IN(&tx, &s), OUT(&y), IN(&dy), OUT(&tg, NULL), 1),
                ONNXC_ERR_UNSUPPORTED, MSG("test_Reshape", "int32", "float or double"), &err);
    nb_free(b);
    free_tensors();
}

/* ----------------------------------------------------------------------- */
/* Transpose                                                                */

static void transpose_case(int rank, const int64_t *dims, const int64_t *perm, bool f64)
{
    nb_node *b = nb_new("Transpose", "", 13, 1, 1);
    if (perm) nb_attr_ints(b, "perm", perm, (size_t)rank);
    oc_tensor x = make(dt(f64), rank, dims, 6);
    expect_grad(b, IN(&x), 1u, f64, "Transpose");
    nb_free(b);
    free_tensors();
}

Test(grad_transpose, three_d)
{
    transpose_case(3, D(2, 3, 4), D(1, 2, 0), true);
    transpose_case(3, D(2, 3, 4), D(2, 0, 1), true);
    transpose_case(3, D(2, 3, 4), D(0, 2, 1), true); /* batched 2-D tiles */
    transpose_case(3, D(2, 3, 4), NULL, true);       /* default: reversed */
    transpose_case(3, D(2, 1, 3), D(1, 0, 2), true); /* moves nothing */
    transpose_case(3, D(3, 2, 4), D(2, 1, 0), false);
}

Test(grad_transpose, four_d)
{
    transpose_case(4, D(2, 3, 2, 4), D(0, 2, 3, 1), true); /* NCHW -> NHWC */
    transpose_case(4, D(2, 3, 2, 4), D(0, 3, 1, 2), true); /* NHWC -> NCHW */
    transpose_case(4, D(2, 3, 2, 4), D(3, 1, 0, 2), true);
    transpose_case(4, D(2, 1, 3, 2), D(2, 1, 3, 0), true);
    transpose_case(4, D(2, 3, 2, 4), D(1, 3, 2, 0), false);
}

/* Large enough for the threaded paths: each dX element is one add of the
 * dY element it came from, so any thread count gives the naive result. */
Test(grad_transpose, threads_match_naive)
{
    static const int64_t perms[][4] = {{0, 2, 3, 1}, {3, 2, 1, 0}, {0, 1, 3, 2}};
    const int64_t dims[4] = {3, 20, 24, 40}, n = 3 * 20 * 24 * 40;
    for (size_t p = 0; p < 3; p++) {
        const int64_t *perm = perms[p];
        int64_t ydims[4], xs[4] = {20 * 24 * 40, 24 * 40, 40, 1};
        for (int k = 0; k < 4; k++) ydims[k] = dims[perm[k]];
        oc_tensor x = make(ONNXC_FLOAT, 4, dims, 7), dy = make(ONNXC_FLOAT, 4, ydims, 8);
        oc_tensor g0 = make(ONNXC_FLOAT, 4, dims, 9);
        float *want = keep((size_t)n * sizeof *want);
        /* want = g0 + transpose(dY, inverse perm), by unravelling dY's index. */
        memcpy(want, g0.data, (size_t)n * sizeof *want);
        for (int64_t j = 0; j < n; j++) {
            int64_t rem = j, off = 0;
            for (int k = 3; k >= 0; k--) {
                off += (rem % ydims[k]) * xs[perm[k]];
                rem /= ydims[k];
            }
            want[off] += ((const float *)dy.data)[j];
        }
        for (int nt = 1; nt <= 4; nt++) {
            nb_node *b = nb_new("Transpose", "", 13, 1, 1);
            nb_attr_ints(b, "perm", perm, 4);
            oc_tensor g = make(ONNXC_FLOAT, 4, dims, 9), y; /* same start as g0 */
            cr_assert_eq(backward(b, IN(&x), OUT(&y), IN(&dy), OUT(&g), nt), ONNXC_OK, "%s",
                         err.message);
            cr_assert(memcmp(g.data, want, (size_t)n * sizeof *want) == 0,
                      "perm %zu, %d threads: not the naive result", p, nt);
            nb_free(b);
        }
        free_tensors();
    }
}

/* ----------------------------------------------------------------------- */
/* Concat                                                                   */

Test(grad_concat, three_inputs_middle_axis)
{
    for (int f64 = 1; f64 >= 0; f64--) {
        /* [2,1,3] ++ [2,2,3] ++ [2,3,3] on axis 1 (and -2 from opset 11). */
        oc_tensor a = make(dt(f64), 3, D(2, 1, 3), 10), c = make(dt(f64), 3, D(2, 2, 3), 11),
                  d = make(dt(f64), 3, D(2, 3, 3), 12);
        nb_node *b = nb_new("Concat", "", 13, 3, 1);
        nb_attr_int(b, "axis", 1);
        expect_grad(b, IN(&a, &c, &d), 7u, f64, "Concat axis 1");
        nb_free(b);
        b = nb_new("Concat", "", 11, 3, 1);
        nb_attr_int(b, "axis", -2);
        expect_grad(b, IN(&a, &c, &d), 7u, f64, "Concat axis -2");
        /* Only some inputs need a gradient. */
        expect_grad(b, IN(&a, &c, &d), 5u, f64, "Concat, inputs 0 and 2");
        nb_free(b);
        free_tensors();
    }
    /* Outer axis (one whole tensor after another) and last axis. */
    oc_tensor a = make(ONNXC_DOUBLE, 2, D(2, 3), 13), c = make(ONNXC_DOUBLE, 2, D(1, 3), 14);
    nb_node *b = nb_new("Concat", "", 13, 2, 1);
    nb_attr_int(b, "axis", 0);
    expect_grad(b, IN(&a, &c), 3u, true, "Concat axis 0");
    nb_free(b);
    oc_tensor e = make(ONNXC_DOUBLE, 2, D(2, 2), 15);
    b = nb_new("Concat", "", 13, 2, 1);
    nb_attr_int(b, "axis", 1);
    expect_grad(b, IN(&a, &e), 3u, true, "Concat axis 1 of 2");
    nb_free(b);
    free_tensors();
}

/* Concat(x, x): both inputs share one gradient buffer, which gets both
 * slices. Hand-computed: x [2,2], dY [2,4] = [[1,2,3,4],[5,6,7,8]],
 * dX starts at 100: 100 + [[1+3, 2+4], [5+7, 6+8]]. */
Test(grad_concat, same_input_twice)
{
    nb_node *b = nb_new("Concat", "", 13, 2, 1);
    nb_attr_int(b, "axis", 1);
    float x[4] = {0}, dyv[8] = {1, 2, 3, 4, 5, 6, 7, 8}, g[4] = {100, 100, 100, 100};
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 2, D(2, 2), x), y;
    oc_tensor dy = nb_tensor(ONNXC_FLOAT, 2, D(2, 4), dyv), tg = nb_tensor(ONNXC_FLOAT, 2, D(2, 2), g);
    cr_assert_eq(backward(b, IN(&tx, &tx), OUT(&y), IN(&dy), OUT(&tg, &tg), 2), ONNXC_OK, "%s",
                 err.message);
    expect_floats(&tg, (const float[]){104, 106, 112, 114}, 4, 0);
    nb_free(b);
}

Test(grad_concat, threads_match_naive)
{
    /* [4, a_i, 3000] on axis 1: every dX element is one add of dY's. */
    const int64_t rows[3] = {2, 5, 3}, inner = 3000, total = 10;
    oc_tensor x[3], dy = make(ONNXC_FLOAT, 3, D(4, total, inner), 20);
    for (int i = 0; i < 3; i++) x[i] = make(ONNXC_FLOAT, 3, D(4, rows[i], inner), 21 + (unsigned)i);
    for (int nt = 1; nt <= 4; nt++) {
        nb_node *b = nb_new("Concat", "", 13, 3, 1);
        nb_attr_int(b, "axis", 1);
        oc_tensor g[3], y;
        for (int i = 0; i < 3; i++) g[i] = make(ONNXC_FLOAT, 3, D(4, rows[i], inner), 30 + (unsigned)i);
        cr_assert_eq(backward(b, IN(&x[0], &x[1], &x[2]), OUT(&y), IN(&dy), OUT(&g[0], &g[1], &g[2]), nt),
                     ONNXC_OK, "%s", err.message);
        int64_t off = 0;
        for (int i = 0; i < 3; i++) {
            oc_tensor g0 = make(ONNXC_FLOAT, 3, D(4, rows[i], inner), 30 + (unsigned)i);
            const float *gi = g[i].data, *s0 = g0.data, *d = dy.data;
            for (int64_t o = 0; o < 4; o++)
                for (int64_t e = 0; e < rows[i] * inner; e++) {
                    float want = s0[o * rows[i] * inner + e] + d[(o * total * inner) + off + e];
                    cr_assert(gi[o * rows[i] * inner + e] == want, "input %d [%lld,%lld], %d threads",
                              i, (long long)o, (long long)e, nt);
                }
            off += rows[i] * inner;
        }
        nb_free(b);
    }
    free_tensors();
}

/* ----------------------------------------------------------------------- */
/* Gather                                                                   */

Test(grad_gather, axis0_repeated_negative)
{
    for (int f64 = 1; f64 >= 0; f64--) {
        /* data [5,3], indices [2,3] with 0 twice and 4 (= -1) three times. */
        nb_node *b = nb_new("Gather", "", 13, 2, 1);
        oc_tensor x = make(dt(f64), 2, D(5, 3), 40);
        int64_t iv[6] = {0, -1, 4, 2, 0, -1};
        oc_tensor idx = nb_tensor(ONNXC_INT64, 2, D(2, 3), iv);
        expect_grad(b, IN(&x, &idx), 1u, f64, "Gather axis 0");
        nb_free(b);
        free_tensors();
    }
}

Test(grad_gather, axis1_repeated_negative)
{
    for (int f64 = 1; f64 >= 0; f64--) {
        /* data [2,4,3], int32 indices {1,-3,1,3,-1} on axis 1: 1 three times,
         * 3 twice, 0 and 2 never (their gradient stays 0). */
        nb_node *b = nb_new("Gather", "", 13, 2, 1);
        nb_attr_int(b, "axis", 1);
        oc_tensor x = make(dt(f64), 3, D(2, 4, 3), 41);
        int32_t iv[5] = {1, -3, 1, 3, -1};
        oc_tensor idx = nb_tensor(ONNXC_INT32, 1, D(5), iv);
        expect_grad(b, IN(&x, &idx), 1u, f64, "Gather axis 1");
        nb_free(b);
        /* Last axis, negative attribute, scalar index (output drops the axis). */
        b = nb_new("Gather", "", 13, 2, 1);
        nb_attr_int(b, "axis", -1);
        int64_t one = -2;
        oc_tensor sidx = nb_tensor(ONNXC_INT64, 0, NULL, &one);
        expect_grad(b, IN(&x, &sidx), 1u, f64, "Gather axis -1, scalar index");
        nb_free(b);
        free_tensors();
    }
}

/* Hand-computed scatter-add: data [3], indices {2,0,2,-1}, dY {1,2,3,4}:
 * dData = [2, 0, 1+3+4] added to [10, 10, 10]. */
Test(grad_gather, hand_scatter_add)
{
    nb_node *b = nb_new("Gather", "", 13, 2, 1);
    float x[3] = {0}, dyv[4] = {1, 2, 3, 4}, g[3] = {10, 10, 10};
    int64_t iv[4] = {2, 0, 2, -1};
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(3), x), idx = nb_tensor(ONNXC_INT64, 1, D(4), iv), y;
    oc_tensor dy = nb_tensor(ONNXC_FLOAT, 1, D(4), dyv), tg = nb_tensor(ONNXC_FLOAT, 1, D(3), g);
    cr_assert_eq(backward(b, IN(&tx, &idx), OUT(&y), IN(&dy), OUT(&tg, NULL), 1), ONNXC_OK, "%s",
                 err.message);
    expect_floats(&tg, (const float[]){12, 10, 18}, 3, 0);
    nb_free(b);
}

/*
 * Repeated indices with many threads: the float sums must be exactly the
 * naive loop's, which adds dY blocks in index order. Axis 0 (outer 1: the
 * inner range is split) and axis 1 (outer 6: outer indices are split).
 */
static void gather_threads(int axis, const int64_t *dims, int64_t n_idx)
{
    int64_t *iv = keep((size_t)n_idx * sizeof *iv);
    int64_t s = dims[axis];
    unsigned r = 99;
    for (int64_t j = 0; j < n_idx; j++) { /* few distinct values: many repeats */
        r = r * 1103515245u + 12345u;
        int64_t k = (int64_t)((r >> 8) % 3);
        iv[j] = (j % 2) ? k - s : k; /* half of them negative */
    }
    oc_tensor x = make(ONNXC_FLOAT, 3, dims, 50), idx = nb_tensor(ONNXC_INT64, 1, &n_idx, iv);
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; k++) outer *= dims[k];
    for (int k = axis + 1; k < 3; k++) inner *= dims[k];
    int64_t ydims[3] = {dims[0], dims[1], dims[2]};
    ydims[axis] = n_idx;
    oc_tensor dy = make(ONNXC_FLOAT, 3, ydims, 51);
    int64_t n = oc_tensor_numel(&x);
    float *want = keep((size_t)n * sizeof *want);
    const float *d = dy.data;
    for (int64_t i = 0; i < n; i++) want[i] = 0.5f;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < n_idx; j++) {
            int64_t k = iv[j] < 0 ? iv[j] + s : iv[j];
            for (int64_t i = 0; i < inner; i++)
                want[(o * s + k) * inner + i] += d[(o * n_idx + j) * inner + i];
        }
    for (int nt = 1; nt <= 4; nt++) {
        nb_node *b = nb_new("Gather", "", 13, 2, 1);
        nb_attr_int(b, "axis", axis);
        float *gv = keep((size_t)n * sizeof *gv);
        for (int64_t i = 0; i < n; i++) gv[i] = 0.5f;
        oc_tensor g = nb_tensor(ONNXC_FLOAT, 3, dims, gv), y;
        cr_assert_eq(backward(b, IN(&x, &idx), OUT(&y), IN(&dy), OUT(&g, NULL), nt), ONNXC_OK,
                     "%s", err.message);
        cr_assert(memcmp(gv, want, (size_t)n * sizeof *want) == 0,
                  "axis %d, %d threads: not the naive index-order sums", axis, nt);
        nb_free(b);
    }
    free_tensors();
}

Test(grad_gather, threads_match_naive)
{
    gather_threads(0, D(5, 40, 100), 60);  /* embedding-like: outer 1 */
    gather_threads(1, D(6, 7, 500), 40);   /* outer 6 < or > threads */
    gather_threads(2, D(64, 3, 4), 300);   /* inner 1, outer 192 */
}

Test(grad_gather, bad_index_in_backward)
{
    /* The forward refuses it first; backward checks again instead of
     * writing out of bounds. */
    nb_node *b = nb_new("Gather", "", 13, 2, 1);
    float x[3] = {0}, dyv[1] = {1}, g[3] = {0};
    int64_t iv[1] = {3};
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(3), x), idx = nb_tensor(ONNXC_INT64, 1, D(1), iv);
    oc_tensor y = nb_tensor(ONNXC_FLOAT, 1, D(1), dyv);
    oc_tensor dy = nb_tensor(ONNXC_FLOAT, 1, D(1), dyv), tg = nb_tensor(ONNXC_FLOAT, 1, D(3), g);
    oc_op_ctx ctx = {.node = &b->node, .n_in = 2, .n_out = 1, .in = IN(&tx, &idx), .out = OUT(&y),
                     .nthreads = 1, .err = &err};
    cr_assert_eq(nb_init(b, &err), ONNXC_OK);
    expect_fail(b->node.op->backward(&ctx, IN(&dy), OUT(&tg, NULL)), ONNXC_ERR_RUNTIME,
                MSG("test_Gather", "index 3", "[-3, 2]"), &err);
    nb_free(b);
}
