/*
 * Elementwise ops with more than one input (runtime/ops/{binary,pow,clip,
 * cast,where,expand}.c), driven node by node through
 * tests/support/node_builder. Unary ops: test_ops_unary.c; the broadcast
 * helpers: test_broadcast.c.
 *
 * Expected values are hand-computed, or computed with numpy 1.x / torch in
 * python (the snippet is in the comment next to each literal).
 */
#include "op_check.h"

static onnxc_error err;

/* ----------------------------------------------------------------------- */
/* Binary arithmetic                                                        */

Test(binary, add_bcast_3d_with_column)
{
    float a[24], b[3] = {10, 20, 30};
    for (int i = 0; i < 24; i++) a[i] = (float)i;
    /* numpy: (np.arange(24,dtype=np.float32).reshape(2,3,4) +
     *         np.array([[10],[20],[30]],np.float32)).ravel() */
    static const float want[24] = {10, 11, 12, 13, 24, 25, 26, 27, 38, 39, 40, 41,
                                   22, 23, 24, 25, 36, 37, 38, 39, 50, 51, 52, 53};
    nb_node *n = nb_new("Add", "", 17, 2, 1);
    oc_tensor ta = nb_tensor(ONNXC_FLOAT, 3, D(2, 3, 4), a),
              tb = nb_tensor(ONNXC_FLOAT, 2, D(3, 1), b);
    oc_tensor y;
    EVAL_OK(n, IN(&ta, &tb), OUT(&y), &err);
    expect_shape(&y, 3, D(2, 3, 4));
    expect_floats(&y, want, 24, 0);
    /* Operands swapped: same result. */
    EVAL_OK(n, IN(&tb, &ta), OUT(&y), &err);
    expect_floats(&y, want, 24, 0);
    nb_free(n);
}

/* [N,K] + [K], large enough to run in parallel; every thread count must give
 * the same bits, and each element is exactly x + bias (one float add). */
Test(binary, add_row_bias_parallel)
{
    enum { N = 300, K = 130 };
    static float x[N * K], bias[K];
    for (int i = 0; i < N * K; i++) x[i] = (float)(i % 97) * 0.25f - 3.0f;
    for (int k = 0; k < K; k++) bias[k] = (float)k * 0.5f;
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 2, D(N, K), x),
              tb = nb_tensor(ONNXC_FLOAT, 1, D(K), bias);
    for (int threads = 1; threads <= 4; threads += 3) {
        nb_node *n = nb_new("Add", "", 14, 2, 1);
        n->nthreads = threads;
        oc_tensor y;
        EVAL_OK(n, IN(&tx, &tb), OUT(&y), &err);
        expect_shape(&y, 2, D(N, K));
        const float *py = y.data;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < K; k++)
                cr_assert_eq(py[i * K + k], x[i * K + k] + bias[k], "threads %d [%d,%d]", threads,
                             i, k);
        nb_free(n);
    }
}

Test(binary, scalar_operands)
{
    double a[6] = {1, 2, 3, 4, 5, 6}, s = 2;
    oc_tensor ta = nb_tensor(ONNXC_DOUBLE, 2, D(2, 3), a),
              ts = nb_tensor(ONNXC_DOUBLE, 0, NULL, &s);
    oc_tensor y;
    nb_node *n = nb_new("Sub", "", 13, 2, 1);
    EVAL_OK(n, IN(&ts, &ta), OUT(&y), &err); /* 2 - a, hand-computed */
    expect_shape(&y, 2, D(2, 3));
    const double *py = y.data;
    for (int i = 0; i < 6; i++) cr_assert_eq(py[i], 2.0 - a[i]);
    nb_free(n);
    n = nb_new("Mul", "", 13, 2, 1);
    EVAL_OK(n, IN(&ts, &ts), OUT(&y), &err); /* scalar * scalar = scalar 4 */
    cr_assert_eq(y.shape.rank, 0);
    cr_assert_eq(*(double *)y.data, 4.0);
    nb_free(n);
}

Test(binary, int_arith_wraps)
{
    /* int32: INT32_MAX + 1 wraps to INT32_MIN; 65536 * 65536 wraps to 0
     * (numpy int32 arithmetic gives the same). */
    int32_t a[3] = {INT32_MAX, 65536, -5}, b[3] = {1, 65536, 7};
    oc_tensor ta = nb_tensor(ONNXC_INT32, 1, D(3), a), tb = nb_tensor(ONNXC_INT32, 1, D(3), b);
    oc_tensor y;
    nb_node *n = nb_new("Add", "", 14, 2, 1);
    EVAL_OK(n, IN(&ta, &tb), OUT(&y), &err);
    cr_assert_eq(((int32_t *)y.data)[0], INT32_MIN);
    cr_assert_eq(((int32_t *)y.data)[2], 2);
    nb_free(n);
    n = nb_new("Mul", "", 14, 2, 1);
    EVAL_OK(n, IN(&ta, &tb), OUT(&y), &err);
    cr_assert_eq(((int32_t *)y.data)[1], 0);
    cr_assert_eq(((int32_t *)y.data)[2], -35);
    nb_free(n);
    /* uint8 opset 14: 200 + 100 = 44 (mod 256). */
    uint8_t c[1] = {200}, d[1] = {100};
    oc_tensor tc = nb_tensor(ONNXC_UINT8, 1, D(1), c), td = nb_tensor(ONNXC_UINT8, 1, D(1), d);
    n = nb_new("Add", "", 14, 2, 1);
    EVAL_OK(n, IN(&tc, &td), OUT(&y), &err);
    cr_assert_eq(((uint8_t *)y.data)[0], 44);
    nb_free(n);
}

Test(binary, int_div_truncates)
{
    /* C / onnxruntime semantics, hand-computed: 7/2=3, -7/2=-3, 7/-2=-3,
     * -7/-2=3, INT_MIN/-1 wraps to INT_MIN (no trap), 0/5=0. */
    int32_t a[6] = {7, -7, 7, -7, INT32_MIN, 0}, b[6] = {2, 2, -2, -2, -1, 5};
    int32_t want[6] = {3, -3, -3, 3, INT32_MIN, 0};
    oc_tensor ta = nb_tensor(ONNXC_INT32, 1, D(6), a), tb = nb_tensor(ONNXC_INT32, 1, D(6), b);
    oc_tensor y;
    nb_node *n = nb_new("Div", "", 14, 2, 1);
    EVAL_OK(n, IN(&ta, &tb), OUT(&y), &err);
    cr_assert_eq(y.dtype, ONNXC_INT32);
    for (int i = 0; i < 6; i++) cr_assert_eq(((int32_t *)y.data)[i], want[i], "[%d]", i);
    /* int64 with a broadcast divisor: [-9, 9, 10] / 4 = [-2, 2, 2]. */
    int64_t c[3] = {-9, 9, 10}, d = 4;
    oc_tensor tc = nb_tensor(ONNXC_INT64, 1, D(3), c), td = nb_tensor(ONNXC_INT64, 0, NULL, &d);
    EVAL_OK(n, IN(&tc, &td), OUT(&y), &err);
    cr_assert_eq(((int64_t *)y.data)[0], -2);
    cr_assert_eq(((int64_t *)y.data)[1], 2);
    cr_assert_eq(((int64_t *)y.data)[2], 2);
    nb_free(n);
}

Test(binary, int_div_by_zero_is_an_error)
{
    int64_t a[2] = {1, 2}, b[2] = {1, 0};
    oc_tensor ta = nb_tensor(ONNXC_INT64, 1, D(2), a), tb = nb_tensor(ONNXC_INT64, 1, D(2), b);
    oc_tensor y;
    nb_node *n = nb_new("Div", "", 13, 2, 1);
    nb_name(n, "divider");
    expect_fail(nb_eval(n, IN(&ta, &tb), OUT(&y), &err), ONNXC_ERR_RUNTIME,
                MSG("divider", "Div", "division by zero", "element 1"), &err);
    nb_free(n);
}

Test(binary, float_div_ieee)
{
    /* IEEE: 1/0 = inf, -1/0 = -inf, 0/0 = NaN (numpy with warnings off). */
    float a[3] = {1, -1, 0}, b[3] = {0, 0, 0};
    oc_tensor ta = nb_tensor(ONNXC_FLOAT, 1, D(3), a), tb = nb_tensor(ONNXC_FLOAT, 1, D(3), b);
    oc_tensor y;
    nb_node *n = nb_new("Div", "", 7, 2, 1);
    EVAL_OK(n, IN(&ta, &tb), OUT(&y), &err);
    const float *p = y.data;
    cr_assert(isinf(p[0]) && p[0] > 0 && isinf(p[1]) && p[1] < 0 && isnan(p[2]));
    nb_free(n);
}

Test(binary, compare_ops)
{
    /* Hand-computed. x [2,3] vs y [3]. */
    float x[6] = {1, 2, 3, 4, 5, 6}, yv[3] = {2, 2, 7};
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 2, D(2, 3), x), ty = nb_tensor(ONNXC_FLOAT, 1, D(3), yv);
    static const struct {
        const char *op;
        uint8_t want[6];
    } cases[] = {{"Equal", {0, 1, 0, 0, 0, 0}},
                 {"Greater", {0, 0, 0, 1, 1, 0}},
                 {"Less", {1, 0, 1, 0, 0, 1}}};
    for (size_t c = 0; c < 3; c++) {
        nb_node *n = nb_new(cases[c].op, "", 13, 2, 1);
        oc_tensor out;
        EVAL_OK(n, IN(&tx, &ty), OUT(&out), &err);
        cr_assert_eq(out.dtype, ONNXC_BOOL);
        expect_shape(&out, 2, D(2, 3));
        cr_assert_arr_eq(out.data, cases[c].want, 6, "%s", cases[c].op);
        nb_free(n);
    }
    /* Equal on bool and on int64 with a scalar. */
    uint8_t p[4] = {0, 1, 1, 0}, q[4] = {0, 1, 0, 1}, wb[4] = {1, 1, 0, 0};
    oc_tensor tp = nb_tensor(ONNXC_BOOL, 1, D(4), p), tq = nb_tensor(ONNXC_BOOL, 1, D(4), q);
    nb_node *n = nb_new("Equal", "", 11, 2, 1);
    oc_tensor out;
    EVAL_OK(n, IN(&tp, &tq), OUT(&out), &err);
    cr_assert_arr_eq(out.data, wb, 4);
    int64_t i64[3] = {5, -5, 5}, five = 5;
    uint8_t wi[3] = {1, 0, 1};
    oc_tensor ti = nb_tensor(ONNXC_INT64, 1, D(3), i64),
              tf = nb_tensor(ONNXC_INT64, 0, NULL, &five);
    EVAL_OK(n, IN(&ti, &tf), OUT(&out), &err);
    cr_assert_arr_eq(out.data, wi, 3);
    nb_free(n);
}

Test(binary, dtype_mismatch_is_an_error)
{
    float a[2] = {0};
    double b[2] = {0};
    oc_tensor ta = nb_tensor(ONNXC_FLOAT, 1, D(2), a), tb = nb_tensor(ONNXC_DOUBLE, 1, D(2), b);
    oc_tensor y;
    nb_node *n = nb_new("Mul", "", 14, 2, 1);
    nb_name(n, "scale");
    size_t ws;
    expect_fail(nb_infer(n, IN(&ta, &tb), OUT(&y), &ws, &err), ONNXC_ERR_SHAPE,
                MSG("scale", "input 1 'in1'", "expected dtype float", "got double"), &err);
    nb_free(n);
}

Test(binary, unbroadcastable_is_an_error)
{
    oc_tensor ta = nb_tensor_shape(ONNXC_FLOAT, 2, D(2, 3)),
              tb = nb_tensor_shape(ONNXC_FLOAT, 1, D(4));
    oc_tensor y;
    size_t ws;
    nb_node *n = nb_new("Add", "", 14, 2, 1);
    expect_fail(nb_infer(n, IN(&ta, &tb), OUT(&y), &ws, &err), ONNXC_ERR_SHAPE,
                MSG("test_Add", "[2,3]", "[4]"), &err);
    nb_free(n);
}

Test(binary, unsupported_dtype)
{
    oc_tensor ta = nb_tensor_shape(ONNXC_FLOAT16, 1, D(2));
    oc_tensor y;
    size_t ws;
    nb_node *n = nb_new("Add", "", 14, 2, 1);
    expect_fail(nb_infer(n, IN(&ta, &ta), OUT(&y), &ws, &err), ONNXC_ERR_UNSUPPORTED,
                MSG("test_Add", "float16"), &err);
    nb_free(n);
}

Test(binary, legacy_opsets)
{
    /* Opset 6 without `broadcast`: equal shapes work, others are refused. */
    float a[2] = {1, 2}, b[2] = {3, 4}, want[2] = {4, 6};
    oc_tensor ta = nb_tensor(ONNXC_FLOAT, 1, D(2), a), tb = nb_tensor(ONNXC_FLOAT, 1, D(2), b);
    oc_tensor y;
    nb_node *n = nb_new("Add", "", 6, 2, 1);
    cr_assert_eq(n->node.since, 6);
    EVAL_OK(n, IN(&ta, &tb), OUT(&y), &err);
    expect_floats(&y, want, 2, 0);
    oc_tensor ts = nb_tensor(ONNXC_FLOAT, 0, NULL, a);
    expect_fail(nb_eval(n, IN(&ta, &ts), OUT(&y), &err), ONNXC_ERR_SHAPE, MSG("equal shapes"),
                &err);
    nb_free(n);
    n = nb_new("Add", "", 6, 2, 1);
    nb_attr_int(n, "broadcast", 1);
    expect_fail(nb_init(n, &err), ONNXC_ERR_UNSUPPORTED, MSG("test_Add", "broadcast"), &err);
    nb_free(n);
    n = nb_new("Relu", "", 1, 1, 1);
    nb_attr_ints(n, "consumed_inputs", D(0), 1);
    expect_fail(nb_init(n, &err), ONNXC_ERR_UNSUPPORTED, MSG("test_Relu", "consumed_inputs"), &err);
    nb_free(n);
}

Test(binary, version_resolution)
{
    nb_node *n = nb_new("Add", "", 12, 2, 1);
    cr_assert_eq(n->node.since, 7);
    nb_free(n);
    n = nb_new("Add", "", 17, 2, 1);
    cr_assert_eq(n->node.since, 14);
    nb_free(n);
    n = nb_new("Where", "", 8, 3, 1);
    cr_assert_eq(n->node.since, 0);
    nb_free(n);
    n = nb_new("Clip", "", 12, 3, 1);
    cr_assert_eq(n->node.since, 12);
    nb_free(n);
}

/* ----------------------------------------------------------------------- */
/* Pow                                                                      */

Test(pow, mixed_types)
{
    oc_tensor y;
    nb_node *n = nb_new("Pow", "", 15, 2, 1);
    /* float ^ int64 -> float: [1,2,3]^[4,5,6] = [1,32,729] (ONNX test
     * pow_types_float32_int64). */
    float xf[3] = {1, 2, 3};
    int64_t e64[3] = {4, 5, 6};
    oc_tensor txf = nb_tensor(ONNXC_FLOAT, 1, D(3), xf), te = nb_tensor(ONNXC_INT64, 1, D(3), e64);
    EVAL_OK(n, IN(&txf, &te), OUT(&y), &err);
    expect_floats(&y, (const float[]){1, 32, 729}, 3, 0);
    /* int32 ^ float -> int32 (pow_types_int32_float32). */
    int32_t xi[3] = {1, 2, 3};
    float ef[3] = {4, 5, 6};
    oc_tensor txi = nb_tensor(ONNXC_INT32, 1, D(3), xi), tef = nb_tensor(ONNXC_FLOAT, 1, D(3), ef);
    EVAL_OK(n, IN(&txi, &tef), OUT(&y), &err);
    cr_assert_eq(y.dtype, ONNXC_INT32);
    cr_assert_arr_eq(y.data, ((int32_t[]){1, 32, 729}), 3 * sizeof(int32_t));
    /* int64 ^ int64, exact past 2^53: 3^39 = 4052555153018976267; negative
     * exponents truncate 1/x^n: 2^-1 = 0, (-1)^-3 = -1, 1^-5 = 1. */
    int64_t b[4] = {3, 2, -1, 1}, p[4] = {39, -1, -3, -5};
    oc_tensor tb = nb_tensor(ONNXC_INT64, 1, D(4), b), tp = nb_tensor(ONNXC_INT64, 1, D(4), p);
    EVAL_OK(n, IN(&tb, &tp), OUT(&y), &err);
    cr_assert_arr_eq(y.data, ((int64_t[]){4052555153018976267LL, 0, -1, 1}), 4 * sizeof(int64_t));
    /* float ^ scalar float broadcast: [4, 9, 2] ^ 0.5 = [2, 3, sqrt 2]. */
    float xs[3] = {4, 9, 2}, half = 0.5f;
    oc_tensor txs = nb_tensor(ONNXC_FLOAT, 1, D(3), xs),
              th = nb_tensor(ONNXC_FLOAT, 0, NULL, &half);
    EVAL_OK(n, IN(&txs, &th), OUT(&y), &err);
    expect_floats(&y, (const float[]){2, 3, 1.41421354f}, 3, 1e-7f);
    nb_free(n);
    /* Opset 7: one type T; a mixed pair is an error naming the input. */
    n = nb_new("Pow", "", 11, 2, 1);
    size_t ws;
    expect_fail(nb_infer(n, IN(&txf, &te), OUT(&y), &ws, &err), ONNXC_ERR_SHAPE,
                MSG("test_Pow", "input 1", "int64"), &err);
    nb_free(n);
}

/* ----------------------------------------------------------------------- */
/* Clip                                                                     */

Test(clip, attribute_form)
{
    float x[5] = {-2, -0.5f, 0, 3, NAN};
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(5), x), y;
    nb_node *n = nb_new("Clip", "", 6, 1, 1);
    nb_attr_float(n, "min", -1);
    nb_attr_float(n, "max", 1);
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    expect_floats(&y, (const float[]){-1, -0.5f, 0, 1, NAN}, 5, 0);
    nb_free(n);
    /* No attributes: the float range, so nothing changes. */
    n = nb_new("Clip", "", 6, 1, 1);
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    expect_floats(&y, x, 5, 0);
    nb_free(n);
}

Test(clip, input_form)
{
    float x[4] = {-2, -0.5f, 0, 3}, lo = -1, hi = 1;
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(4), x), tlo = nb_tensor(ONNXC_FLOAT, 0, NULL, &lo),
              thi = nb_tensor(ONNXC_FLOAT, 1, D(1), &hi), y;
    nb_node *n = nb_new("Clip", "", 13, 3, 1);
    EVAL_OK(n, IN(&tx, &tlo, &thi), OUT(&y), &err);
    expect_floats(&y, (const float[]){-1, -0.5f, 0, 1}, 4, 0);
    nb_free(n);
    /* max omitted (empty name): only the lower bound applies. */
    n = nb_new("Clip", "", 13, 3, 1);
    nb_omit_input(n, 2);
    EVAL_OK(n, IN(&tx, &tlo, NULL), OUT(&y), &err);
    expect_floats(&y, (const float[]){-1, -0.5f, 0, 3}, 4, 0);
    nb_free(n);
    /* min omitted, one input only: upper bound. */
    n = nb_new("Clip", "", 11, 1, 1);
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    expect_floats(&y, x, 4, 0);
    nb_free(n);
    /* min > max: every element becomes max (spec). */
    float big = 5;
    oc_tensor tbig = nb_tensor(ONNXC_FLOAT, 0, NULL, &big);
    n = nb_new("Clip", "", 13, 3, 1);
    EVAL_OK(n, IN(&tx, &tbig, &thi), OUT(&y), &err);
    expect_floats(&y, (const float[]){1, 1, 1, 1}, 4, 0);
    nb_free(n);
    /* int32 (opset 12+). */
    int32_t xi[4] = {-100, 5, 50, 7}, li = 0, hi_i = 10;
    oc_tensor txi = nb_tensor(ONNXC_INT32, 1, D(4), xi), tli = nb_tensor(ONNXC_INT32, 0, NULL, &li),
              thi_i = nb_tensor(ONNXC_INT32, 0, NULL, &hi_i);
    n = nb_new("Clip", "", 12, 3, 1);
    EVAL_OK(n, IN(&txi, &tli, &thi_i), OUT(&y), &err);
    cr_assert_arr_eq(y.data, ((int32_t[]){0, 5, 10, 7}), 4 * sizeof(int32_t));
    /* Bound of another dtype: error naming the input. */
    size_t ws;
    expect_fail(nb_infer(n, IN(&txi, &tlo, &thi_i), OUT(&y), &ws, &err), ONNXC_ERR_SHAPE,
                MSG("test_Clip", "input 1", "expected dtype int32", "got float"), &err);
    nb_free(n);
}

/* ----------------------------------------------------------------------- */
/* Cast                                                                     */

Test(cast, float_to_int_truncates)
{
    /* numpy: np.array([1.9,-1.9,0.5,-0.5,-1.0],np.float32).astype(np.int32)
     *        = [1,-1,0,0,-1] */
    float x[5] = {1.9f, -1.9f, 0.5f, -0.5f, -1.0f};
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(5), x), y;
    nb_node *n = nb_new("Cast", "", 13, 1, 1);
    nb_attr_int(n, "to", ONNXC_INT32);
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    cr_assert_eq(y.dtype, ONNXC_INT32);
    cr_assert_arr_eq(y.data, ((int32_t[]){1, -1, 0, 0, -1}), 5 * sizeof(int32_t));
    nb_free(n);
    /* numpy: np.array([-1.0, 300.0], np.float32).astype(np.uint8) = [255, 44] */
    float w[2] = {-1.0f, 300.0f};
    oc_tensor tw = nb_tensor(ONNXC_FLOAT, 1, D(2), w);
    n = nb_new("Cast", "", 13, 1, 1);
    nb_attr_int(n, "to", ONNXC_UINT8);
    EVAL_OK(n, IN(&tw), OUT(&y), &err);
    cr_assert_arr_eq(y.data, ((uint8_t[]){255, 44}), 2);
    nb_free(n);
}

Test(cast, bool_and_widening)
{
    /* to bool: x != 0, NaN is true (numpy: bool(np.nan) is True). */
    float x[4] = {0, -0.0f, 2, NAN};
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(4), x), y;
    nb_node *n = nb_new("Cast", "", 9, 1, 1);
    nb_attr_int(n, "to", ONNXC_BOOL);
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    cr_assert_arr_eq(y.data, ((uint8_t[]){0, 0, 1, 1}), 4);
    nb_free(n);
    /* bool -> float: 0/1; int64 -> double exact below 2^53. */
    uint8_t b[3] = {1, 0, 1};
    oc_tensor tb = nb_tensor(ONNXC_BOOL, 1, D(3), b);
    n = nb_new("Cast", "", 13, 1, 1);
    nb_attr_int(n, "to", ONNXC_FLOAT);
    EVAL_OK(n, IN(&tb), OUT(&y), &err);
    expect_floats(&y, (const float[]){1, 0, 1}, 3, 0);
    nb_free(n);
    int64_t i[2] = {-(1LL << 52), 123456789012LL};
    oc_tensor ti = nb_tensor(ONNXC_INT64, 1, D(2), i);
    n = nb_new("Cast", "", 13, 1, 1);
    nb_attr_int(n, "to", ONNXC_DOUBLE);
    EVAL_OK(n, IN(&ti), OUT(&y), &err);
    cr_assert_eq(((double *)y.data)[0], -4503599627370496.0);
    cr_assert_eq(((double *)y.data)[1], 123456789012.0);
    nb_free(n);
    /* Cast-1 names the type as a string. */
    n = nb_new("Cast", "", 1, 1, 1);
    nb_attr_string(n, "to", "INT64");
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    cr_assert_eq(y.dtype, ONNXC_INT64);
    nb_free(n);
}

Test(cast, unsupported_types)
{
    nb_node *n = nb_new("Cast", "", 13, 1, 1);
    nb_name(n, "to_half");
    nb_attr_int(n, "to", ONNXC_FLOAT16);
    expect_fail(nb_init(n, &err), ONNXC_ERR_UNSUPPORTED, MSG("to_half", "float16"), &err);
    nb_free(n);
    n = nb_new("Cast", "", 13, 1, 1);
    nb_attr_int(n, "to", ONNXC_FLOAT);
    oc_tensor ts = nb_tensor_shape(ONNXC_STRING, 1, D(2)), y;
    size_t ws;
    expect_fail(nb_infer(n, IN(&ts), OUT(&y), &ws, &err), ONNXC_ERR_UNSUPPORTED,
                MSG("test_Cast", "string", "float"), &err);
    nb_free(n);
    n = nb_new("Cast", "", 13, 1, 1);
    expect_fail(nb_init(n, &err), ONNXC_ERR_MODEL, MSG("test_Cast", "'to'"), &err);
    nb_free(n);
}

/* ----------------------------------------------------------------------- */
/* Expand, Where                                                            */

Test(expand, shapes_and_values)
{
    /* [3,1] to [2,1,6] -> [2,3,6]: numpy np.broadcast_to(x, (2,3,6)). */
    float x[3] = {1, 2, 3};
    int64_t shape[3] = {2, 1, 6};
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 2, D(3, 1), x),
              ts = nb_tensor(ONNXC_INT64, 1, D(3), shape), y;
    nb_node *n = nb_new("Expand", "", 13, 2, 1);
    cr_assert(n->node.op->value_inputs & 2u);
    EVAL_OK(n, IN(&tx, &ts), OUT(&y), &err);
    expect_shape(&y, 3, D(2, 3, 6));
    const float *p = y.data;
    for (int i = 0; i < 36; i++) cr_assert_eq(p[i], x[(i / 6) % 3], "[%d]", i);
    /* Shape [1] on [3,1]: output keeps [3,1] (the spec's "output can be
     * larger than shape"). */
    int64_t one = 1;
    oc_tensor t1 = nb_tensor(ONNXC_INT64, 1, D(1), &one);
    EVAL_OK(n, IN(&tx, &t1), OUT(&y), &err);
    expect_shape(&y, 2, D(3, 1));
    expect_floats(&y, x, 3, 0);
    /* [3] to [4]: error with both shapes. */
    int64_t four = 4;
    oc_tensor t4 = nb_tensor(ONNXC_INT64, 1, D(1), &four), tv = nb_tensor(ONNXC_FLOAT, 1, D(3), x);
    expect_fail(nb_eval(n, IN(&tv, &t4), OUT(&y), &err), ONNXC_ERR_SHAPE,
                MSG("test_Expand", "[3]", "[4]"), &err);
    nb_free(n);
}

Test(where, broadcast_three_ways)
{
    /* cond [2,1], x [1,3], y scalar -> [2,3]; hand-computed. */
    uint8_t c[2] = {1, 0};
    int64_t x[3] = {10, 20, 30}, yv = -1;
    oc_tensor tc = nb_tensor(ONNXC_BOOL, 2, D(2, 1), c), tx = nb_tensor(ONNXC_INT64, 2, D(1, 3), x),
              ty = nb_tensor(ONNXC_INT64, 0, NULL, &yv), out;
    nb_node *n = nb_new("Where", "", 16, 3, 1);
    EVAL_OK(n, IN(&tc, &tx, &ty), OUT(&out), &err);
    expect_shape(&out, 2, D(2, 3));
    cr_assert_arr_eq(out.data, ((int64_t[]){10, 20, 30, -1, -1, -1}), 6 * sizeof(int64_t));
    /* The condition must be bool. */
    oc_tensor bad = nb_tensor(ONNXC_FLOAT, 2, D(2, 1), x);
    size_t ws;
    expect_fail(nb_infer(n, IN(&bad, &tx, &ty), OUT(&out), &ws, &err), ONNXC_ERR_SHAPE,
                MSG("test_Where", "condition", "bool", "float"), &err);
    nb_free(n);
}
