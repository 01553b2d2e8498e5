/*
 * Unary elementwise ops (runtime/ops/unary.c) through
 * tests/support/node_builder. Expected values come from numpy / torch in
 * float32 or float64 as each comment says.
 */
#include "op_check.h"

static onnxc_error err;

/* ----------------------------------------------------------------------- */
/* Unary                                                                    */

static void check_unary(const char *op, int opset, const float *want, float tol)
{
    static float x[6] = {-3.0f, -1.0f, -0.25f, 0.0f, 0.5f, 2.0f};
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(6), x), y;
    nb_node *n = nb_new(op, "", opset, 1, 1);
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    expect_floats(&y, want, 6, tol);
    nb_free(n);
}

Test(unary, float_functions)
{
    /* x = [-3,-1,-0.25,0,0.5,2] float32; expected from numpy/torch float32:
     * torch.sigmoid, np.tanh, F.softplus, F.elu, F.selu, F.leaky_relu(.,0.01),
     * np.clip(0.2*x+0.5,0,1), np.exp, np.abs, np.negative, np.maximum(x,0). */
    check_unary(
        "Sigmoid", 13,
        (const float[]){0.047425874f, 0.26894143f, 0.4378235f, 0.5f, 0.62245935f, 0.880797f},
        1e-6f);
    check_unary("Tanh", 13,
                (const float[]){-0.9950548f, -0.7615942f, -0.24491866f, 0, 0.4621172f, 0.9640276f},
                1e-6f);
    check_unary(
        "Softplus", 1,
        (const float[]){0.048587352f, 0.3132617f, 0.5759394f, 0.6931472f, 0.974077f, 2.126928f},
        1e-6f);
    check_unary("Elu", 6, (const float[]){-0.95021296f, -0.63212055f, -0.22119921f, 0, 0.5f, 2},
                1e-6f);
    check_unary("Selu", 6,
                (const float[]){-1.6705687f, -1.1113307f, -0.38889018f, 0, 0.5253505f, 2.101402f},
                1e-6f);
    check_unary("LeakyRelu", 16, (const float[]){-0.03f, -0.01f, -0.0025f, 0, 0.5f, 2}, 1e-7f);
    check_unary("HardSigmoid", 6, (const float[]){0, 0.3f, 0.45f, 0.5f, 0.6f, 0.9f}, 1e-7f);
    check_unary("Exp", 13,
                (const float[]){0.049787067f, 0.36787942f, 0.7788007f, 1, 1.6487212f, 7.3890557f},
                1e-6f);
    check_unary("Abs", 13, (const float[]){3, 1, 0.25f, 0, 0.5f, 2}, 0);
    check_unary("Neg", 13, (const float[]){3, 1, 0.25f, 0, -0.5f, -2}, 0);
    check_unary("Relu", 14, (const float[]){0, 0, 0, 0, 0.5f, 2}, 0);
}

Test(unary, log_sqrt_reciprocal)
{
    /* np.log([0.5,1,2,10]), np.sqrt([0,0.25,2,9]), np.reciprocal([0.5,-4,3,8]) float32 */
    struct {
        const char *op;
        float x[4], want[4];
    } cases[] = {
        {"Log", {0.5f, 1, 2, 10}, {-0.6931472f, 0, 0.6931472f, 2.3025851f}},
        {"Sqrt", {0, 0.25f, 2, 9}, {0, 0.5f, 1.4142135f, 3}},
        {"Reciprocal", {0.5f, -4, 3, 8}, {2, -0.25f, 0.33333334f, 0.125f}},
    };
    for (size_t c = 0; c < 3; c++) {
        oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(4), cases[c].x), y;
        nb_node *n = nb_new(cases[c].op, "", 13, 1, 1);
        EVAL_OK(n, IN(&tx), OUT(&y), &err);
        expect_floats(&y, cases[c].want, 4, 1e-6f);
        nb_free(n);
    }
}

Test(unary, attributes)
{
    /* F.elu(x, alpha=2); np.clip(0.5*x+0.1, 0, 1) (float32 math). */
    static float x[6] = {-3.0f, -1.0f, -0.25f, 0.0f, 0.5f, 2.0f};
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(6), x), y;
    nb_node *n = nb_new("Elu", "", 6, 1, 1);
    nb_attr_float(n, "alpha", 2.0f);
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    expect_floats(&y, (const float[]){-1.9004259f, -1.2642411f, -0.44239843f, 0, 0.5f, 2}, 6,
                  1e-6f);
    nb_free(n);
    n = nb_new("HardSigmoid", "", 6, 1, 1);
    nb_attr_float(n, "alpha", 0.5f);
    nb_attr_float(n, "beta", 0.1f);
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    expect_floats(&y, (const float[]){0, 0, 0, 0.1f, 0.35f, 1}, 6, 1e-7f);
    nb_free(n);
    n = nb_new("LeakyRelu", "", 6, 1, 1);
    nb_attr_int(n, "alpha", 2); /* wrong attribute type */
    expect_fail(nb_init(n, &err), ONNXC_ERR_MODEL, MSG("test_LeakyRelu", "alpha"), &err);
    nb_free(n);
}

Test(unary, stable_for_large_inputs)
{
    /* torch float64: sigmoid(-100) = 3.7200759760208356e-44,
     * sigmoid(-30) = 9.3576229688392989e-14, sigmoid(100) = 1;
     * softplus(-100) = 3.720075976020836e-44, softplus(100) = 100. */
    double x[4] = {-100, -30, 100, -1000};
    oc_tensor tx = nb_tensor(ONNXC_DOUBLE, 1, D(4), x), y;
    nb_node *n = nb_new("Sigmoid", "", 13, 1, 1);
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    const double *p = y.data;
    cr_assert(fabs(p[0] - 3.7200759760208356e-44) < 1e-57);
    cr_assert(fabs(p[1] - 9.3576229688392989e-14) < 1e-27);
    cr_assert_eq(p[2], 1.0);
    cr_assert_eq(p[3], 0.0);
    nb_free(n);
    n = nb_new("Softplus", "", 13, 1, 1);
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    p = y.data;
    cr_assert(fabs(p[0] - 3.720075976020836e-44) < 1e-57);
    cr_assert_eq(p[2], 100.0);
    cr_assert_eq(p[3], 0.0);
    nb_free(n);
    /* float32: no NaN or inf where exp(|x|) would overflow. */
    float xf[2] = {-200, 200};
    oc_tensor tf = nb_tensor(ONNXC_FLOAT, 1, D(2), xf);
    n = nb_new("Sigmoid", "", 13, 1, 1);
    EVAL_OK(n, IN(&tf), OUT(&y), &err);
    expect_floats(&y, (const float[]){0, 1}, 2, 0);
    nb_free(n);
    n = nb_new("Softplus", "", 1, 1, 1);
    EVAL_OK(n, IN(&tf), OUT(&y), &err);
    expect_floats(&y, (const float[]){0, 200}, 2, 0);
    nb_free(n);
}

Test(unary, integer_and_bool)
{
    /* Abs int8: |-128| wraps to -128 as in numpy; Relu int32 (opset 14). */
    int8_t a[3] = {-128, -5, 7};
    oc_tensor ta = nb_tensor(ONNXC_INT8, 1, D(3), a), y;
    nb_node *n = nb_new("Abs", "", 13, 1, 1);
    EVAL_OK(n, IN(&ta), OUT(&y), &err);
    cr_assert_arr_eq(y.data, ((int8_t[]){-128, 5, 7}), 3);
    nb_free(n);
    int32_t r[3] = {-4, 0, 9};
    oc_tensor tr = nb_tensor(ONNXC_INT32, 1, D(3), r);
    n = nb_new("Relu", "", 14, 1, 1);
    EVAL_OK(n, IN(&tr), OUT(&y), &err);
    cr_assert_arr_eq(y.data, ((int32_t[]){0, 0, 9}), 3 * sizeof(int32_t));
    nb_free(n);
    uint8_t b[2][2] = {{1, 0}, {0, 1}};
    oc_tensor tb = nb_tensor(ONNXC_BOOL, 2, D(2, 2), b);
    n = nb_new("Not", "", 1, 1, 1);
    EVAL_OK(n, IN(&tb), OUT(&y), &err);
    expect_shape(&y, 2, D(2, 2));
    cr_assert_arr_eq(y.data, ((uint8_t[]){0, 1, 1, 0}), 4);
    nb_free(n);
    /* Exp on int32 is not in the spec and not implemented. */
    n = nb_new("Exp", "", 13, 1, 1);
    size_t ws;
    expect_fail(nb_infer(n, IN(&tr), OUT(&y), &ws, &err), ONNXC_ERR_UNSUPPORTED,
                MSG("test_Exp", "int32", "float, double"), &err);
    nb_free(n);
}

/* A large unary op runs in parallel and matches the single-thread bits. */
Test(unary, parallel_matches_serial)
{
    enum { N = 100000 };
    static float x[N], y1[N];
    for (int i = 0; i < N; i++) x[i] = (float)(i % 1000) * 0.01f - 5.0f;
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(N), x), y;
    nb_node *n = nb_new("Tanh", "", 13, 1, 1);
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    memcpy(y1, y.data, sizeof y1);
    n->nthreads = 4;
    EVAL_OK(n, IN(&tx), OUT(&y), &err);
    cr_assert_arr_eq(y.data, y1, sizeof y1);
    nb_free(n);
}
