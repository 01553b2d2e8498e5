/*
 * Shape and data-movement ops (Reshape, Flatten, Squeeze, Unsqueeze,
 * Identity, Transpose, Concat, Gather, Shape, Constant, ConstantOfShape)
 * and the ai.onnx.preview.training optimizers, driven one node at a time
 * through tests/support/node_builder. Expected values are hand-computed,
 * computed by numpy (the command is in the comment), or produced by a naive
 * index-by-index reference loop written here.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "node_builder.h"

#define TRAINING "ai.onnx.preview.training"

static onnxc_error err;

static void eval_ok(nb_node *b, const oc_tensor *const *in, oc_tensor *const *out)
{
    memset(&err, 0, sizeof err);
    onnxc_status st = nb_eval(b, in, out, &err);
    cr_assert_eq(st, ONNXC_OK, "%s: %s", b->node.op_type, err.message);
}

/* Expect a failure with `status` whose message contains every string in `parts`. */
static void eval_fails(nb_node *b, const oc_tensor *const *in, oc_tensor *const *out,
                       onnxc_status status, const char *const *parts)
{
    memset(&err, 0, sizeof err);
    onnxc_status st = nb_eval(b, in, out, &err);
    cr_assert_eq(st, status, "expected %s, got %s: %s", onnxc_status_name(status),
                 onnxc_status_name(st), err.message);
    for (; parts && *parts; parts++)
        cr_assert(strstr(err.message, *parts), "message lacks '%s': %s", *parts, err.message);
}

static void assert_shape(const oc_tensor *t, int rank, const int64_t *dims)
{
    cr_assert_eq(t->shape.rank, rank, "rank: expected %d, got %d", rank, t->shape.rank);
    for (int i = 0; i < rank; i++)
        cr_assert_eq(t->shape.dims[i], dims[i], "dim %d: expected %lld, got %lld", i,
                     (long long)dims[i], (long long)t->shape.dims[i]);
}

static float iota24[24] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                           12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};

/* ---- Reshape ------------------------------------------------------------ */

/* Reshape [2,3,4] by `shape` (opset, allowzero < 0: attribute absent). */
static nb_node *reshape_node(int opset, int allowzero)
{
    nb_node *b = nb_new("Reshape", "", opset, 2, 1);
    if (allowzero >= 0) nb_attr_int(b, "allowzero", allowzero);
    return b;
}

Test(reshape, zero_copies_dim_and_minus_one_infers)
{
    nb_node *b = reshape_node(13, -1);
    int64_t shp[] = {0, -1};
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 3, (int64_t[]){2, 3, 4}, iota24);
    oc_tensor s = nb_tensor(ONNXC_INT64, 1, (int64_t[]){2}, shp);
    oc_tensor y;
    eval_ok(b, (const oc_tensor *[]){&x, &s}, (oc_tensor *[]){&y});
    assert_shape(&y, 2, (int64_t[]){2, 12});
    cr_assert_eq(y.dtype, ONNXC_FLOAT);
    cr_assert(memcmp(y.data, iota24, sizeof iota24) == 0, "bytes changed");
    nb_free(b);
}

Test(reshape, int64_and_bool_move_as_bytes)
{
    int64_t v[6] = {-1, 2, -3, 4, -5, 6};
    uint8_t flags[6] = {1, 0, 0, 1, 1, 0};
    int64_t shp[] = {3, -1};
    oc_tensor s = nb_tensor(ONNXC_INT64, 1, (int64_t[]){2}, shp);
    oc_tensor xs[2] = {nb_tensor(ONNXC_INT64, 1, (int64_t[]){6}, v),
                       nb_tensor(ONNXC_BOOL, 2, (int64_t[]){1, 6}, flags)};
    for (int i = 0; i < 2; i++) {
        nb_node *b = reshape_node(14, 0);
        oc_tensor y;
        eval_ok(b, (const oc_tensor *[]){&xs[i], &s}, (oc_tensor *[]){&y});
        assert_shape(&y, 2, (int64_t[]){3, 2});
        cr_assert_eq(y.dtype, xs[i].dtype);
        cr_assert(memcmp(y.data, xs[i].data, i ? sizeof flags : sizeof v) == 0);
        nb_free(b);
    }
}

Test(reshape, allowzero_keeps_zero)
{
    /* Empty input [0,3,4]: with allowzero=1, 0 means a zero dim, so [3,4,0]
     * (also 0 elements) is a valid target; without it, 0 would copy dim 2. */
    nb_node *b = reshape_node(14, 1);
    int64_t shp[] = {3, 4, 0};
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 3, (int64_t[]){0, 3, 4}, iota24);
    oc_tensor s = nb_tensor(ONNXC_INT64, 1, (int64_t[]){3}, shp);
    oc_tensor y;
    eval_ok(b, (const oc_tensor *[]){&x, &s}, (oc_tensor *[]){&y});
    assert_shape(&y, 3, (int64_t[]){3, 4, 0});
    nb_free(b);

    /* Same request without allowzero: 0 copies input dim 2 (4) -> [3,4,4],
     * 48 elements != 0. */
    b = reshape_node(14, 0);
    oc_tensor y2;
    eval_fails(b, (const oc_tensor *[]){&x, &s}, (oc_tensor *[]){&y2}, ONNXC_ERR_SHAPE,
               (const char *[]){"[0,3,4]", "[3,4,0]", NULL});
    nb_free(b);
}

Test(reshape, errors_name_both_shapes)
{
    struct {
        int64_t shp[3];
        int n;
        const char *req, *why;
    } cases[] = {
        {{-1, -1}, 2, "[-1,-1]", "at most one -1"},
        {{5, 5}, 2, "[5,5]", "expected 24 elements, got 25"},
        {{-2, 12}, 2, "[-2,12]", "got -2"},
        {{5, -1}, 2, "[5,-1]", "multiple of 5"},
    };
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 3, (int64_t[]){2, 3, 4}, iota24);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nb_node *b = reshape_node(13, -1);
        oc_tensor s = nb_tensor(ONNXC_INT64, 1, (int64_t[]){cases[i].n}, cases[i].shp);
        oc_tensor y;
        eval_fails(b, (const oc_tensor *[]){&x, &s}, (oc_tensor *[]){&y}, ONNXC_ERR_SHAPE,
                   (const char *[]){"test_Reshape", "[2,3,4]", cases[i].req, cases[i].why, NULL});
        nb_free(b);
    }
}

Test(reshape, allowzero_before_opset_14_is_refused)
{
    nb_node *b = reshape_node(13, 1);
    cr_assert_neq(nb_init(b, &err), ONNXC_OK);
    cr_assert(strstr(err.message, "allowzero"), "%s", err.message);
    nb_free(b);
}

/* ---- Flatten ------------------------------------------------------------ */

static void flatten_case(int opset, int64_t axis, int64_t d0, int64_t d1)
{
    nb_node *b = nb_new("Flatten", "", opset, 1, 1);
    nb_attr_int(b, "axis", axis);
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 3, (int64_t[]){2, 3, 4}, iota24);
    oc_tensor y;
    eval_ok(b, (const oc_tensor *[]){&x}, (oc_tensor *[]){&y});
    assert_shape(&y, 2, (int64_t[]){d0, d1});
    cr_assert(memcmp(y.data, iota24, sizeof iota24) == 0);
    nb_free(b);
}

Test(flatten, axes)
{
    flatten_case(9, 0, 1, 24);   /* axis 0: (1, everything) */
    flatten_case(13, 1, 2, 12);
    flatten_case(13, 3, 24, 1);  /* axis == rank */
    flatten_case(13, -1, 6, 4);  /* negative from opset 11 */
    flatten_case(11, -3, 1, 24);
}

Test(flatten, negative_axis_before_11_and_out_of_range)
{
    nb_node *b = nb_new("Flatten", "", 9, 1, 1);
    nb_attr_int(b, "axis", -1);
    cr_assert_eq(nb_init(b, &err), ONNXC_ERR_MODEL);
    nb_free(b);
    b = nb_new("Flatten", "", 13, 1, 1);
    nb_attr_int(b, "axis", 4);
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 3, (int64_t[]){2, 3, 4}, iota24), y;
    eval_fails(b, (const oc_tensor *[]){&x}, (oc_tensor *[]){&y}, ONNXC_ERR_MODEL,
               (const char *[]){"axis", "4", NULL});
    nb_free(b);
}

/* ---- Squeeze / Unsqueeze -------------------------------------------------- */

Test(squeeze, attribute_form)
{
    nb_node *b = nb_new("Squeeze", "", 11, 1, 1);
    nb_attr_ints(b, "axes", (int64_t[]){-1}, 1);
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 3, (int64_t[]){1, 3, 1}, iota24), y;
    eval_ok(b, (const oc_tensor *[]){&x}, (oc_tensor *[]){&y});
    assert_shape(&y, 2, (int64_t[]){1, 3});
    cr_assert(memcmp(y.data, iota24, 3 * sizeof(float)) == 0);
    nb_free(b);
}

Test(squeeze, input_form_and_all_ones)
{
    int64_t axes[] = {0};
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 3, (int64_t[]){1, 3, 1}, iota24), y;
    oc_tensor a = nb_tensor(ONNXC_INT64, 1, (int64_t[]){1}, axes);
    nb_node *b = nb_new("Squeeze", "", 13, 2, 1);
    eval_ok(b, (const oc_tensor *[]){&x, &a}, (oc_tensor *[]){&y});
    assert_shape(&y, 2, (int64_t[]){3, 1});
    nb_free(b);

    /* No axes: every size-1 dim goes. */
    b = nb_new("Squeeze", "", 13, 1, 1);
    eval_ok(b, (const oc_tensor *[]){&x}, (oc_tensor *[]){&y});
    assert_shape(&y, 1, (int64_t[]){3});
    nb_free(b);
}

Test(squeeze, dim_not_one_is_an_error)
{
    int64_t axes[] = {1};
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 3, (int64_t[]){1, 3, 1}, iota24), y;
    oc_tensor a = nb_tensor(ONNXC_INT64, 1, (int64_t[]){1}, axes);
    nb_node *b = nb_new("Squeeze", "", 13, 2, 1);
    eval_fails(b, (const oc_tensor *[]){&x, &a}, (oc_tensor *[]){&y}, ONNXC_ERR_SHAPE,
               (const char *[]){"axis 1", "[1,3,1]", "got 3", NULL});
    nb_free(b);
}

Test(unsqueeze, attribute_form)
{
    nb_node *b = nb_new("Unsqueeze", "", 11, 1, 1);
    nb_attr_ints(b, "axes", (int64_t[]){0, -1}, 2);
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 2, (int64_t[]){3, 4}, iota24), y;
    eval_ok(b, (const oc_tensor *[]){&x}, (oc_tensor *[]){&y});
    assert_shape(&y, 4, (int64_t[]){1, 3, 4, 1});
    cr_assert(memcmp(y.data, iota24, 12 * sizeof(float)) == 0);
    nb_free(b);
}

Test(unsqueeze, input_form_unsorted)
{
    int64_t axes[] = {2, 0};
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 2, (int64_t[]){3, 4}, iota24), y;
    oc_tensor a = nb_tensor(ONNXC_INT64, 1, (int64_t[]){2}, axes);
    nb_node *b = nb_new("Unsqueeze", "", 13, 2, 1);
    eval_ok(b, (const oc_tensor *[]){&x, &a}, (oc_tensor *[]){&y});
    assert_shape(&y, 4, (int64_t[]){1, 3, 1, 4});
    nb_free(b);
}

Test(unsqueeze, duplicates_refused)
{
    int64_t axes[] = {1, -3}; /* output rank 4: -3 is axis 1 again */
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 2, (int64_t[]){3, 4}, iota24), y;
    oc_tensor a = nb_tensor(ONNXC_INT64, 1, (int64_t[]){2}, axes);
    nb_node *b = nb_new("Unsqueeze", "", 13, 2, 1);
    eval_fails(b, (const oc_tensor *[]){&x, &a}, (oc_tensor *[]){&y}, ONNXC_ERR_MODEL,
               (const char *[]){"axis 1 more than once", NULL});
    nb_free(b);

    /* Before opset 13 the attribute is required. */
    b = nb_new("Unsqueeze", "", 11, 1, 1);
    cr_assert_eq(nb_init(b, &err), ONNXC_ERR_MODEL);
    nb_free(b);
}

Test(identity, copies_doubles)
{
    double v[3] = {1.5, -2.25, 1e300};
    oc_tensor x = nb_tensor(ONNXC_DOUBLE, 1, (int64_t[]){3}, v), y;
    nb_node *b = nb_new("Identity", "", 16, 1, 1);
    eval_ok(b, (const oc_tensor *[]){&x}, (oc_tensor *[]){&y});
    assert_shape(&y, 1, (int64_t[]){3});
    cr_assert(memcmp(y.data, v, sizeof v) == 0);
    nb_free(b);
}

Test(identity, large_copy_split_across_threads)
{
    /* 3 MiB: above the size where the copy is split into per-thread chunks. */
    size_t n = (size_t)3 << 20;
    uint8_t *v = malloc(n);
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++) v[i] = (uint8_t)(i * 7u + (i >> 12));
    oc_tensor x = nb_tensor(ONNXC_UINT8, 1, (int64_t[]){(int64_t)n}, v), y;
    nb_node *b = nb_new("Identity", "", 13, 1, 1);
    b->nthreads = 3;
    eval_ok(b, (const oc_tensor *[]){&x}, (oc_tensor *[]){&y});
    cr_assert(memcmp(y.data, v, n) == 0);
    nb_free(b);
    free(v);
}

/* ---- Transpose ---------------------------------------------------------- */

Test(transpose, perm_3d)
{
    /* numpy: np.transpose(np.arange(24).reshape(2,3,4), P).flatten() */
    static const struct {
        int64_t perm[3];
        int64_t dims[3];
        float want[24];
    } cases[] = {
        {{2, 0, 1}, {4, 2, 3}, {0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21,
                                2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23}},
        {{1, 0, 2}, {3, 2, 4}, {0, 1, 2, 3, 12, 13, 14, 15, 4, 5, 6, 7,
                                16, 17, 18, 19, 8, 9, 10, 11, 20, 21, 22, 23}},
    };
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 3, (int64_t[]){2, 3, 4}, iota24);
    for (size_t i = 0; i < 2; i++) {
        nb_node *b = nb_new("Transpose", "", 13, 1, 1);
        nb_attr_ints(b, "perm", cases[i].perm, 3);
        oc_tensor y;
        eval_ok(b, (const oc_tensor *[]){&x}, (oc_tensor *[]){&y});
        assert_shape(&y, 3, cases[i].dims);
        cr_assert(memcmp(y.data, cases[i].want, sizeof cases[i].want) == 0, "case %zu", i);
        nb_free(b);
    }
}

Test(transpose, default_reverses)
{
    /* numpy: np.transpose(np.arange(24).reshape(2,3,4)).flatten() */
    static const float want[24] = {0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21,
                                   2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23};
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 3, (int64_t[]){2, 3, 4}, iota24), y;
    nb_node *b = nb_new("Transpose", "", 13, 1, 1);
    eval_ok(b, (const oc_tensor *[]){&x}, (oc_tensor *[]){&y});
    assert_shape(&y, 3, (int64_t[]){4, 3, 2});
    cr_assert(memcmp(y.data, want, sizeof want) == 0);
    nb_free(b);
}

/* Naive reference: walk every input index, write to its permuted place. */
static void transpose_ref(const uint8_t *x, uint8_t *y, const int64_t *dims, const int64_t *perm,
                          int rank, size_t es)
{
    int64_t numel = 1, ystride[OC_MAX_RANK], idx[OC_MAX_RANK] = {0};
    for (int i = 0; i < rank; i++) numel *= dims[i];
    /* stride of output axis k, then indexed by the input axis it shows */
    int64_t s = 1, in_to_out_stride[OC_MAX_RANK];
    for (int k = rank - 1; k >= 0; k--) {
        ystride[k] = s;
        s *= dims[perm[k]];
    }
    for (int k = 0; k < rank; k++) in_to_out_stride[perm[k]] = ystride[k];
    for (int64_t e = 0; e < numel; e++) {
        int64_t off = 0;
        for (int i = 0; i < rank; i++) off += idx[i] * in_to_out_stride[i];
        memcpy(y + off * (int64_t)es, x + e * (int64_t)es, es);
        for (int i = rank - 1; i >= 0; i--) {
            if (++idx[i] < dims[i]) break;
            idx[i] = 0;
        }
    }
}

static void transpose_vs_ref(oc_dtype dt, int rank, const int64_t *dims, const int64_t *perm,
                             int nthreads)
{
    size_t es = oc_dtype_size(dt);
    int64_t numel = 1;
    for (int i = 0; i < rank; i++) numel *= dims[i];
    uint8_t *x = malloc((size_t)numel * es), *want = malloc((size_t)numel * es);
    for (int64_t i = 0; i < numel * (int64_t)es; i++) x[i] = (uint8_t)(i * 131u + (i >> 8));
    transpose_ref(x, want, dims, perm, rank, es);
    nb_node *b = nb_new("Transpose", "", 13, 1, 1);
    b->nthreads = nthreads;
    nb_attr_ints(b, "perm", perm, (size_t)rank);
    oc_tensor in = nb_tensor(dt, rank, dims, x), y;
    eval_ok(b, (const oc_tensor *[]){&in}, (oc_tensor *[]){&y});
    cr_assert(memcmp(y.data, want, (size_t)numel * es) == 0, "dtype %s rank %d perm[0]=%lld",
              oc_dtype_name(dt), rank, (long long)perm[0]);
    nb_free(b);
    free(x);
    free(want);
}

Test(transpose, matches_naive_reference)
{
    /* 2-D blocked path (odd sizes cross tile edges), batched 2-D, general. */
    transpose_vs_ref(ONNXC_FLOAT, 2, (int64_t[]){37, 45}, (int64_t[]){1, 0}, 1);
    transpose_vs_ref(ONNXC_UINT8, 2, (int64_t[]){300, 257}, (int64_t[]){1, 0}, 2);
    transpose_vs_ref(ONNXC_INT64, 3, (int64_t[]){3, 33, 70}, (int64_t[]){0, 2, 1}, 2);
    transpose_vs_ref(ONNXC_DOUBLE, 4, (int64_t[]){2, 3, 5, 7}, (int64_t[]){0, 2, 3, 1}, 1);
    transpose_vs_ref(ONNXC_INT16, 4, (int64_t[]){4, 1, 6, 5}, (int64_t[]){3, 1, 0, 2}, 2);
    transpose_vs_ref(ONNXC_FLOAT, 5, (int64_t[]){2, 3, 4, 5, 6}, (int64_t[]){4, 2, 0, 3, 1}, 2);
    transpose_vs_ref(ONNXC_FLOAT, 3, (int64_t[]){50, 40, 60}, (int64_t[]){1, 0, 2}, 2);
    transpose_vs_ref(ONNXC_INT32, 3, (int64_t[]){1, 9, 1}, (int64_t[]){2, 1, 0}, 1);
}

Test(transpose, invalid_perm_refused)
{
    nb_node *b = nb_new("Transpose", "", 13, 1, 1);
    nb_attr_ints(b, "perm", (int64_t[]){0, 0, 1}, 3);
    cr_assert_eq(nb_init(b, &err), ONNXC_ERR_MODEL);
    cr_assert(strstr(err.message, "permutation"), "%s", err.message);
    nb_free(b);
}

/* ---- Concat ------------------------------------------------------------- */

Test(concat, negative_axis)
{
    /* [[1,2],[3,4]] ++ [[5],[6]] on axis -1 -> [[1,2,5],[3,4,6]] (by hand) */
    int64_t a[] = {1, 2, 3, 4}, c[] = {5, 6};
    static const int64_t want[] = {1, 2, 5, 3, 4, 6};
    oc_tensor x0 = nb_tensor(ONNXC_INT64, 2, (int64_t[]){2, 2}, a);
    oc_tensor x1 = nb_tensor(ONNXC_INT64, 2, (int64_t[]){2, 1}, c), y;
    nb_node *b = nb_new("Concat", "", 13, 2, 1);
    nb_attr_int(b, "axis", -1);
    eval_ok(b, (const oc_tensor *[]){&x0, &x1}, (oc_tensor *[]){&y});
    assert_shape(&y, 2, (int64_t[]){2, 3});
    cr_assert(memcmp(y.data, want, sizeof want) == 0);
    nb_free(b);
}

Test(concat, axis_0_three_inputs_and_mismatch)
{
    float a[] = {1, 2}, c[] = {3, 4, 5, 6}, e[] = {7, 8};
    static const float want[] = {1, 2, 3, 4, 5, 6, 7, 8};
    oc_tensor x0 = nb_tensor(ONNXC_FLOAT, 2, (int64_t[]){1, 2}, a);
    oc_tensor x1 = nb_tensor(ONNXC_FLOAT, 2, (int64_t[]){2, 2}, c);
    oc_tensor x2 = nb_tensor(ONNXC_FLOAT, 2, (int64_t[]){1, 2}, e), y;
    nb_node *b = nb_new("Concat", "", 11, 3, 1);
    nb_attr_int(b, "axis", 0);
    eval_ok(b, (const oc_tensor *[]){&x0, &x1, &x2}, (oc_tensor *[]){&y});
    assert_shape(&y, 2, (int64_t[]){4, 2});
    cr_assert(memcmp(y.data, want, sizeof want) == 0);
    nb_free(b);

    b = nb_new("Concat", "", 11, 2, 1);
    nb_attr_int(b, "axis", 1);
    eval_fails(b, (const oc_tensor *[]){&x0, &x1}, (oc_tensor *[]){&y}, ONNXC_ERR_SHAPE,
               (const char *[]){"input 1", "[1,2]", "[2,2]", NULL});
    nb_free(b);
}

/* ---- Gather ------------------------------------------------------------- */

Test(gather, negative_indices)
{
    /* data [[1,2],[3,4],[5,6]], indices [-1, 0] -> rows 2 and 0 (by hand) */
    float d[] = {1, 2, 3, 4, 5, 6};
    int64_t idx[] = {-1, 0};
    static const float want[] = {5, 6, 1, 2};
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 2, (int64_t[]){3, 2}, d);
    oc_tensor i = nb_tensor(ONNXC_INT64, 1, (int64_t[]){2}, idx), y;
    nb_node *b = nb_new("Gather", "", 13, 2, 1);
    eval_ok(b, (const oc_tensor *[]){&x, &i}, (oc_tensor *[]){&y});
    assert_shape(&y, 2, (int64_t[]){2, 2});
    cr_assert(memcmp(y.data, want, sizeof want) == 0);
    nb_free(b);
}

Test(gather, axis_1_int32_2d_indices)
{
    /* numpy: np.take(np.arange(6).reshape(2,3), [[2,-3],[1,1]], axis=1)
     *   -> [[[2,0],[1,1]], [[5,3],[4,4]]], shape (2,2,2) */
    int64_t d[] = {0, 1, 2, 3, 4, 5};
    int32_t idx[] = {2, -3, 1, 1};
    static const int64_t want[] = {2, 0, 1, 1, 5, 3, 4, 4};
    oc_tensor x = nb_tensor(ONNXC_INT64, 2, (int64_t[]){2, 3}, d);
    oc_tensor i = nb_tensor(ONNXC_INT32, 2, (int64_t[]){2, 2}, idx), y;
    nb_node *b = nb_new("Gather", "", 13, 2, 1);
    nb_attr_int(b, "axis", 1);
    eval_ok(b, (const oc_tensor *[]){&x, &i}, (oc_tensor *[]){&y});
    assert_shape(&y, 3, (int64_t[]){2, 2, 2});
    cr_assert(memcmp(y.data, want, sizeof want) == 0);
    nb_free(b);
}

Test(gather, out_of_range_index_is_a_runtime_error)
{
    float d[] = {1, 2, 3, 4, 5, 6};
    int64_t idx[] = {0, 3};
    oc_tensor x = nb_tensor(ONNXC_FLOAT, 2, (int64_t[]){3, 2}, d);
    oc_tensor i = nb_tensor(ONNXC_INT64, 1, (int64_t[]){2}, idx), y;
    nb_node *b = nb_new("Gather", "", 13, 2, 1);
    nb_name(b, "embed");
    eval_fails(b, (const oc_tensor *[]){&x, &i}, (oc_tensor *[]){&y}, ONNXC_ERR_RUNTIME,
               (const char *[]){"embed", "index 3", "[-3, 2]", NULL});
    nb_free(b);
}

/* ---- Shape / Constant / ConstantOfShape ----------------------------------- */

static void shape_case(int opset, int64_t start, int64_t end, int n, const int64_t *want)
{
    nb_node *b = nb_new("Shape", "", opset, 1, 1);
    if (start != INT64_MIN) nb_attr_int(b, "start", start);
    if (end != INT64_MIN) nb_attr_int(b, "end", end);
    /* Shape never reads the input's data: pass none. */
    oc_tensor x = nb_tensor_shape(ONNXC_FLOAT, 4, (int64_t[]){2, 3, 4, 5}), y;
    eval_ok(b, (const oc_tensor *[]){&x}, (oc_tensor *[]){&y});
    cr_assert_eq(y.dtype, ONNXC_INT64);
    assert_shape(&y, 1, (int64_t[]){n});
    cr_assert(n == 0 || memcmp(y.data, want, (size_t)n * sizeof *want) == 0, "start %lld end %lld",
              (long long)start, (long long)end);
    nb_free(b);
}

Test(shape, start_end_with_clamping)
{
    const int64_t none = INT64_MIN;
    shape_case(13, none, none, 4, (int64_t[]){2, 3, 4, 5});
    shape_case(15, 1, -1, 2, (int64_t[]){3, 4});
    shape_case(15, -1, none, 1, (int64_t[]){5});
    shape_case(15, -10, 2, 2, (int64_t[]){2, 3}); /* start clamped to 0 */
    shape_case(15, 2, 10, 2, (int64_t[]){4, 5});  /* end clamped to 4 */
    shape_case(15, 3, 1, 0, NULL);                /* empty slice */
    cr_assert(oc_op_find("", "Shape")->flags & OC_OP_SHAPE_ONLY);

    nb_node *b = nb_new("Shape", "", 13, 1, 1);
    nb_attr_int(b, "start", 1);
    cr_assert_eq(nb_init(b, &err), ONNXC_ERR_UNSUPPORTED, "start before opset 15");
    nb_free(b);
}

Test(constant, tensor_attribute)
{
    int32_t v[] = {7, -8, 9, 10, 11, 12};
    oc_tensor t = nb_tensor(ONNXC_INT32, 2, (int64_t[]){3, 2}, v), y;
    nb_node *b = nb_new("Constant", "", 13, 0, 1);
    nb_attr_tensor(b, "value", &t);
    eval_ok(b, NULL, (oc_tensor *[]){&y});
    cr_assert_eq(y.dtype, ONNXC_INT32);
    assert_shape(&y, 2, (int64_t[]){3, 2});
    cr_assert(memcmp(y.data, v, sizeof v) == 0);
    nb_free(b);
}

/* Move a tensor attribute's bytes from raw_data to int32_data, the typed
 * field ONNX uses for narrow types, so decoding must convert (owned copy).
 * raw_data.data stays allocated for nb_free; `wide` must outlive the node. */
static void to_int32_data(nb_node *b, int attr, int32_t *wide, size_t n)
{
    Onnx__TensorProto *tp = b->attrs[attr]->t;
    tp->has_raw_data = 0;
    tp->int32_data = wide;
    tp->n_int32_data = n;
}

Test(constant, converted_tensor_lives_in_params)
{
    /* uint8 [3] stored as int32_data {200, 0, 7}: decoded into a new buffer,
     * which the op keeps inside its params block (freed by nb_free; ASan
     * builds catch a leak or a dangling pointer). */
    uint8_t raw[3] = {0};
    int32_t wide[3] = {200, 0, 7};
    oc_tensor t = nb_tensor(ONNXC_UINT8, 1, (int64_t[]){3}, raw), y;
    nb_node *b = nb_new("Constant", "", 13, 0, 1);
    nb_attr_tensor(b, "value", &t);
    to_int32_data(b, 0, wide, 3);
    eval_ok(b, NULL, (oc_tensor *[]){&y});
    cr_assert_eq(y.dtype, ONNXC_UINT8);
    cr_assert(memcmp(y.data, (uint8_t[]){200, 0, 7}, 3) == 0);
    nb_free(b);

    /* ConstantOfShape with an int16 value -3 stored as int32_data. */
    int16_t one = 0;
    int32_t minus3 = -3;
    int64_t shp[] = {4};
    oc_tensor v = nb_tensor(ONNXC_INT16, 1, (int64_t[]){1}, &one);
    oc_tensor s = nb_tensor(ONNXC_INT64, 1, (int64_t[]){1}, shp);
    b = nb_new("ConstantOfShape", "", 9, 1, 1);
    nb_attr_tensor(b, "value", &v);
    to_int32_data(b, 0, &minus3, 1);
    eval_ok(b, (const oc_tensor *[]){&s}, (oc_tensor *[]){&y});
    cr_assert_eq(y.dtype, ONNXC_INT16);
    for (int i = 0; i < 4; i++) cr_assert_eq(((int16_t *)y.data)[i], -3);
    nb_free(b);
}

Test(constant, value_forms)
{
    oc_tensor y;
    nb_node *b = nb_new("Constant", "", 13, 0, 1);
    nb_attr_floats(b, "value_floats", (float[]){0.5f, -1.0f}, 2);
    eval_ok(b, NULL, (oc_tensor *[]){&y});
    cr_assert_eq(y.dtype, ONNXC_FLOAT);
    assert_shape(&y, 1, (int64_t[]){2});
    cr_assert(((float *)y.data)[0] == 0.5f && ((float *)y.data)[1] == -1.0f);
    nb_free(b);

    b = nb_new("Constant", "", 12, 0, 1);
    nb_attr_int(b, "value_int", -42);
    eval_ok(b, NULL, (oc_tensor *[]){&y});
    cr_assert_eq(y.dtype, ONNXC_INT64);
    cr_assert_eq(y.shape.rank, 0);
    cr_assert_eq(*(int64_t *)y.data, -42);
    nb_free(b);

    b = nb_new("Constant", "", 13, 0, 1);
    nb_attr_float(b, "value_float", 2.5f);
    eval_ok(b, NULL, (oc_tensor *[]){&y});
    cr_assert_eq(y.shape.rank, 0);
    cr_assert_eq(*(float *)y.data, 2.5f);
    nb_free(b);
}

Test(constant, refusals)
{
    nb_node *b = nb_new("Constant", "", 13, 0, 1);
    nb_attr_string(b, "value_string", "hello");
    cr_assert_eq(nb_init(b, &err), ONNXC_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "string"), "%s", err.message);
    nb_free(b);

    b = nb_new("Constant", "", 13, 0, 1);
    nb_attr_int(b, "sparse_value", 0);
    b->attrs[0]->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR;
    cr_assert_eq(nb_init(b, &err), ONNXC_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "sparse_value"), "%s", err.message);
    nb_free(b);

    b = nb_new("Constant", "", 13, 0, 1);
    nb_attr_int(b, "value_int", 1);
    nb_attr_float(b, "value_float", 1.0f);
    cr_assert_eq(nb_init(b, &err), ONNXC_ERR_MODEL, "two values");
    nb_free(b);

    b = nb_new("Constant", "", 11, 0, 1);
    nb_attr_int(b, "value_int", 1);
    cr_assert_eq(nb_init(b, &err), ONNXC_ERR_MODEL, "value_int needs opset 12");
    nb_free(b);
}

Test(constant_of_shape, value_and_default)
{
    int64_t shp[] = {2, 3};
    oc_tensor s = nb_tensor(ONNXC_INT64, 1, (int64_t[]){2}, shp), y;
    int32_t seven = 7;
    oc_tensor v = nb_tensor(ONNXC_INT32, 1, (int64_t[]){1}, &seven);
    nb_node *b = nb_new("ConstantOfShape", "", 9, 1, 1);
    nb_attr_tensor(b, "value", &v);
    eval_ok(b, (const oc_tensor *[]){&s}, (oc_tensor *[]){&y});
    cr_assert_eq(y.dtype, ONNXC_INT32);
    assert_shape(&y, 2, (int64_t[]){2, 3});
    for (int i = 0; i < 6; i++) cr_assert_eq(((int32_t *)y.data)[i], 7);
    nb_free(b);

    b = nb_new("ConstantOfShape", "", 9, 1, 1);
    eval_ok(b, (const oc_tensor *[]){&s}, (oc_tensor *[]){&y});
    cr_assert_eq(y.dtype, ONNXC_FLOAT);
    for (int i = 0; i < 6; i++) cr_assert_eq(((float *)y.data)[i], 0.0f);
    nb_free(b);

    /* Empty shape: a scalar. */
    oc_tensor e = nb_tensor(ONNXC_INT64, 1, (int64_t[]){0}, shp);
    b = nb_new("ConstantOfShape", "", 9, 1, 1);
    eval_ok(b, (const oc_tensor *[]){&e}, (oc_tensor *[]){&y});
    cr_assert_eq(y.shape.rank, 0);
    nb_free(b);
}

/* ---- Optimizers --------------------------------------------------------- */

static void assert_close(const float *got, const float *want, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        cr_assert(fabsf(got[i] - want[i]) <= 1e-6f + 1e-5f * fabsf(want[i]),
                  "%s[%d]: expected %.9g, got %.9g", what, i, want[i], got[i]);
}

Test(optimizers, adam_one_step_with_bias_correction)
{
    /* numpy, with the ONNX reference formula:
     *   from onnx.backend.test.case.node.adam import apply_adam
     *   apply_adam(np.float32(0.01), np.int64(3), x, g, v, h, norm_coefficient=0.01,
     *              norm_coefficient_post=0.05, alpha=0.9, beta=0.999, epsilon=1e-6)
     * with float32 arrays x, g, v, h as below. */
    float r = 0.01f, x[] = {0.5f, -1.5f, 2.0f}, g[] = {0.1f, -0.2f, 0.3f};
    float v[] = {0.05f, 0.0f, -0.1f}, h[] = {0.01f, 0.02f, 0.0f};
    int64_t t = 3;
    static const float want_x[] = {0.473934948f, -1.42470837f, 1.91099846f};
    static const float want_v[] = {0.0555000007f, -0.0215000007f, -0.0579999946f};
    static const float want_h[] = {0.0100010252f, 0.0200262256f, 0.000102400016f};
    nb_node *b = nb_new("Adam", TRAINING, 1, 6, 3);
    nb_attr_float(b, "alpha", 0.9f);
    nb_attr_float(b, "beta", 0.999f);
    nb_attr_float(b, "epsilon", 1e-6f);
    nb_attr_float(b, "norm_coefficient", 0.01f);
    nb_attr_float(b, "norm_coefficient_post", 0.05f);
    int64_t d3[] = {3};
    oc_tensor R = nb_tensor(ONNXC_FLOAT, 0, NULL, &r), T = nb_tensor(ONNXC_INT64, 0, NULL, &t);
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 1, d3, x), G = nb_tensor(ONNXC_FLOAT, 1, d3, g);
    oc_tensor V = nb_tensor(ONNXC_FLOAT, 1, d3, v), H = nb_tensor(ONNXC_FLOAT, 1, d3, h);
    oc_tensor xo, vo, ho;
    eval_ok(b, (const oc_tensor *[]){&R, &T, &X, &G, &V, &H}, (oc_tensor *[]){&xo, &vo, &ho});
    assert_shape(&xo, 1, d3);
    assert_close(xo.data, want_x, 3, "X_new");
    assert_close(vo.data, want_v, 3, "V_new");
    assert_close(ho.data, want_h, 3, "H_new");
    nb_free(b);
}

Test(optimizers, momentum_and_adagrad_by_hand)
{
    /* Momentum, standard, T=1 (beta applies): norm 0, alpha 0.5, beta 0.25, R 0.1
     *   V_new = 0.5*V + 0.25*G;  X_new = X - 0.1*V_new
     *   X=[1,2], G=[4,-8], V=[2,0] -> V_new=[2,-2], X_new=[0.8,2.2] */
    float r = 0.1f, x[] = {1, 2}, g[] = {4, -8}, v[] = {2, 0};
    int64_t t = 1, d2[] = {2};
    oc_tensor R = nb_tensor(ONNXC_FLOAT, 0, NULL, &r), T = nb_tensor(ONNXC_INT64, 0, NULL, &t);
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 1, d2, x), G = nb_tensor(ONNXC_FLOAT, 1, d2, g);
    oc_tensor V = nb_tensor(ONNXC_FLOAT, 1, d2, v), xo, vo;
    nb_node *b = nb_new("Momentum", TRAINING, 1, 5, 2);
    nb_attr_float(b, "alpha", 0.5f);
    nb_attr_float(b, "beta", 0.25f);
    nb_attr_string(b, "mode", "standard");
    nb_attr_float(b, "norm_coefficient", 0.0f);
    eval_ok(b, (const oc_tensor *[]){&R, &T, &X, &G, &V}, (oc_tensor *[]){&xo, &vo});
    assert_close(vo.data, (float[]){2, -2}, 2, "V_new");
    assert_close(xo.data, (float[]){0.8f, 2.2f}, 2, "X_new");
    nb_free(b);

    /* Adagrad, T=2, decay 0.5, norm 0, eps 0: r = 0.1/(1+1) = 0.05
     *   H_new = H + G^2 = [0+9, 7+9] = [9, 16]
     *   X_new = X - 0.05*G/sqrt(H_new) = [1 - 0.05*3/3, 2 - 0.05*(-3)/4] = [0.95, 2.0375] */
    float ga[] = {3, -3}, h[] = {0, 7};
    oc_tensor Ga = nb_tensor(ONNXC_FLOAT, 1, d2, ga), H = nb_tensor(ONNXC_FLOAT, 1, d2, h), ho;
    t = 2;
    b = nb_new("Adagrad", TRAINING, 1, 5, 2);
    nb_attr_float(b, "decay_factor", 0.5f);
    nb_attr_float(b, "epsilon", 0.0f);
    eval_ok(b, (const oc_tensor *[]){&R, &T, &X, &Ga, &H}, (oc_tensor *[]){&xo, &ho});
    assert_close(ho.data, (float[]){9, 16}, 2, "H_new");
    assert_close(xo.data, (float[]){0.95f, 2.0375f}, 2, "X_new");
    nb_free(b);
}

Test(optimizers, grouping_is_checked)
{
    /* Adam with 7 inputs: 2 + 4n does not fit. */
    nb_node *b = nb_new("Adam", TRAINING, 1, 7, 3);
    cr_assert_eq(nb_init(b, &err), ONNXC_ERR_MODEL);
    cr_assert(strstr(err.message, "2 + 4*n"), "%s", err.message);
    nb_free(b);
    b = nb_new("Momentum", TRAINING, 1, 5, 2);
    nb_attr_float(b, "alpha", 0.5f);
    nb_attr_float(b, "beta", 0.25f);
    nb_attr_string(b, "mode", "heavy-ball");
    nb_attr_float(b, "norm_coefficient", 0.0f);
    cr_assert_eq(nb_init(b, &err), ONNXC_ERR_MODEL);
    cr_assert(strstr(err.message, "nesterov"), "%s", err.message);
    nb_free(b);
}
