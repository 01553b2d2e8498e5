/*
 * Backward passes of the elementwise family (runtime/ops/{unary,binary,pow,
 * clip,where,expand,cast}.c) and the broadcast-gradient reduction
 * oc_bcast_reduce_add (runtime/broadcast.c).
 *
 * Every op is checked against central finite differences with gc_check
 * (tests/support/gradcheck.h): in double (h 1e-6, tol 1e-6) and once in
 * float (h 1e-2, tol 2e-2), with test points kept away from kinks (|x| >
 * 0.1 for Relu/LeakyRelu/Abs, >= 0.05 from Clip bounds, >= 0.1 from
 * HardSigmoid's corners, x >= 0.2 for Log/Sqrt and Pow's base, |x| >= 0.5
 * for Reciprocal and Div's divisor, where the third derivative would
 * otherwise swamp float-sized steps). gc_check also
 * verifies that backward adds into the gradient instead of overwriting it.
 * The reduction is compared with a naive double sum written here (unravel
 * each element, clamp broadcast dims to 0), and its bits with 1 and 2..4
 * threads.
 */
#include "broadcast.h"
#include "gradcheck.h"
#include "op_check.h"

#include <stdio.h>
#include <stdlib.h>

static onnxc_error err;

/* ----------------------------------------------------------------------- */
/* Inputs                                                                   */

typedef enum gen_kind {
    GEN_SIGNED,        /* ±[0.1, 2]: away from 0 (Relu, Abs, ... kinks) */
    GEN_POSITIVE,      /* [0.2, 2.5] (Log, Sqrt, Pow base) */
    GEN_WIDE,          /* [-4, 4], at least 0.1 from 0 and ±2.5 (HardSigmoid) */
    GEN_EXPONENT,      /* [-2, 2] */
    GEN_DIVISOR,       /* ±[0.5, 2]: 1/x and a/x stay smooth at float steps */
} gen_kind;

static double draw(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffffff) / 16777216.0;
}

static double gen_value(gen_kind kind, unsigned *s)
{
    double u = draw(s), sign = draw(s) < 0.5 ? -1.0 : 1.0;
    switch (kind) {
    case GEN_SIGNED: return sign * (0.1 + 1.9 * u);
    case GEN_POSITIVE: return 0.2 + 2.3 * u;
    case GEN_EXPONENT: return -2.0 + 4.0 * u;
    case GEN_DIVISOR: return sign * (0.5 + 1.5 * u);
    case GEN_WIDE:
    default: {
        /* |x| in [0.1, 2.4] or [2.6, 4]: alpha*x + beta (0.2, 0.5) stays
         * 0.02 from the corners 0 and 1. */
        double m = 0.1 + 3.7 * u;
        if (m > 2.4 && m < 2.6) m += 0.3;
        return sign * m;
    }
    }
}

/* A tensor of `dtype` (float/double) with values from `kind`; the data is
 * malloc'd and kept in a list freed by free_tensors. */
static void *allocs[64];
static int n_allocs;

static oc_tensor make(oc_dtype dtype, int rank, const int64_t *dims, gen_kind kind,
                      unsigned seed)
{
    oc_shape sh = {.rank = rank};
    for (int i = 0; i < rank; i++) sh.dims[i] = dims[i];
    int64_t n = oc_shape_numel(&sh);
    size_t es = oc_dtype_size(dtype);
    void *p = calloc((size_t)(n ? n : 1), es);
    cr_assert(p && n_allocs < 64);
    allocs[n_allocs++] = p;
    unsigned s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        double v = gen_value(kind, &s);
        if (dtype == ONNXC_DOUBLE) ((double *)p)[i] = v;
        else ((float *)p)[i] = (float)v;
    }
    return nb_tensor(dtype, rank, dims, p);
}

static void free_tensors(void)
{
    for (int i = 0; i < n_allocs; i++) free(allocs[i]);
    n_allocs = 0;
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

/* ----------------------------------------------------------------------- */
/* Unary                                                                    */

typedef void (*attr_fn)(nb_node *b);

/* Op in double on [2,3,4] and in float on [3,4]. */
static void unary(const char *op, int opset, gen_kind kind, attr_fn attrs)
{
    for (int f64 = 1; f64 >= 0; f64--) {
        nb_node *b = nb_new(op, "", opset, 1, 1);
        if (attrs) attrs(b);
        oc_tensor x = f64 ? make(ONNXC_DOUBLE, 3, D(2, 3, 4), kind, 1)
                          : make(ONNXC_FLOAT, 2, D(3, 4), kind, 2);
        expect_grad(b, IN(&x), 1, f64, f64 ? "double" : "float");
        nb_free(b);
        free_tensors();
    }
}

static void leaky_attrs(nb_node *b) { nb_attr_float(b, "alpha", 0.2f); }
static void elu_attrs(nb_node *b) { nb_attr_float(b, "alpha", 0.7f); }
static void hard_sigmoid_attrs(nb_node *b)
{
    nb_attr_float(b, "alpha", 0.2f);
    nb_attr_float(b, "beta", 0.5f);
}

Test(grad_unary, relu) { unary("Relu", 14, GEN_SIGNED, NULL); }
Test(grad_unary, leaky_relu) { unary("LeakyRelu", 16, GEN_SIGNED, leaky_attrs); }
Test(grad_unary, leaky_relu_default_alpha) { unary("LeakyRelu", 16, GEN_SIGNED, NULL); }
Test(grad_unary, sigmoid) { unary("Sigmoid", 13, GEN_SIGNED, NULL); }
Test(grad_unary, tanh) { unary("Tanh", 13, GEN_SIGNED, NULL); }
Test(grad_unary, elu) { unary("Elu", 6, GEN_SIGNED, elu_attrs); }
Test(grad_unary, selu) { unary("Selu", 6, GEN_SIGNED, NULL); }
Test(grad_unary, softplus) { unary("Softplus", 1, GEN_SIGNED, NULL); }
Test(grad_unary, softsign) { unary("Softsign", 1, GEN_SIGNED, NULL); }
Test(grad_unary, erf) { unary("Erf", 13, GEN_SIGNED, NULL); }
Test(grad_unary, exp) { unary("Exp", 13, GEN_SIGNED, NULL); }
Test(grad_unary, log) { unary("Log", 13, GEN_POSITIVE, NULL); }
Test(grad_unary, neg) { unary("Neg", 13, GEN_SIGNED, NULL); }
Test(grad_unary, sqrt) { unary("Sqrt", 13, GEN_POSITIVE, NULL); }
Test(grad_unary, abs) { unary("Abs", 13, GEN_SIGNED, NULL); }
Test(grad_unary, reciprocal) { unary("Reciprocal", 13, GEN_DIVISOR, NULL); }
Test(grad_unary, hard_sigmoid) { unary("HardSigmoid", 6, GEN_WIDE, hard_sigmoid_attrs); }

/* The kink conventions, hand-computed: Relu passes nothing at 0, Abs gives
 * 0 at 0, LeakyRelu alpha * dY at 0. */
Test(grad_unary, kinks_at_zero)
{
    float x[3] = {0, 1, -1}, dy[3] = {5, 5, 5};
    static const struct {
        const char *op;
        float want[3];
    } cases[] = {
        {"Relu", {0, 5, 0}},
        {"Abs", {0, 5, -5}},
        {"LeakyRelu", {0.05f, 5, 0.05f}}, /* default alpha 0.01 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nb_node *b = nb_new(cases[c].op, "", 16, 1, 1);
        oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(3), x), y;
        EVAL_OK(b, IN(&tx), OUT(&y), &err);
        float g[3] = {0};
        oc_tensor tdy = nb_tensor(ONNXC_FLOAT, 1, D(3), dy), tg = nb_tensor(ONNXC_FLOAT, 1, D(3), g);
        oc_op_ctx ctx = {.node = &b->node, .n_in = 1, .n_out = 1, .in = IN(&tx), .out = OUT(&y),
                         .nthreads = 1, .err = &err};
        cr_assert_eq(b->node.op->backward(&ctx, IN(&tdy), OUT(&tg)), ONNXC_OK, "%s",
                     err.message);
        expect_floats(&tg, cases[c].want, 3, 1e-7f);
        nb_free(b);
    }
}

Test(grad_unary, not_and_integers_have_no_gradient)
{
    nb_node *b = nb_new("Not", "", 1, 1, 1);
    cr_assert_eq(b->node.op->grad_inputs, 0u);
    cr_assert_null(b->node.op->backward);
    nb_free(b);
    /* Relu on int32 runs forward, but asking for its gradient is refused. */
    b = nb_new("Relu", "", 14, 1, 1);
    int32_t x[2] = {-1, 2}, g[2] = {0, 0};
    oc_tensor tx = nb_tensor(ONNXC_INT32, 1, D(2), x), y;
    EVAL_OK(b, IN(&tx), OUT(&y), &err);
    oc_tensor tg = nb_tensor(ONNXC_INT32, 1, D(2), g);
    oc_op_ctx ctx = {.node = &b->node, .n_in = 1, .n_out = 1, .in = IN(&tx), .out = OUT(&y),
                     .nthreads = 1, .err = &err};
    expect_fail(b->node.op->backward(&ctx, IN(&y), OUT(&tg)), ONNXC_ERR_UNSUPPORTED,
                MSG("test_Relu", "int32", "float, double"), &err);
    nb_free(b);
}

/* ----------------------------------------------------------------------- */
/* Binary, with broadcasting                                                */

typedef struct shape2 {
    int ra;
    int64_t da[4];
    int rb;
    int64_t db[4];
} shape2;

/* The broadcasting cases: same shape, [2,3,4] with [3,1] both ways round,
 * [N,K] with [K] (bias), scalar with tensor both ways round, and two
 * operands that both broadcast ([2,1,4] with [3,1]). */
static const shape2 bin_shapes[] = {
    {3, {2, 3, 4}, 3, {2, 3, 4}}, {3, {2, 3, 4}, 2, {3, 1}}, {2, {3, 1}, 3, {2, 3, 4}},
    {2, {5, 7}, 1, {7}},          {1, {7}, 2, {5, 7}},       {0, {0}, 3, {2, 3, 4}},
    {3, {2, 3, 4}, 0, {0}},       {3, {2, 1, 4}, 2, {3, 1}},
};

/* Every shape case in double, then [2,3,4] with [3,1] and [5,7] with [7] in
 * float. kb: values of B (Div keeps B away from 0). */
static void binary(const char *op, gen_kind ka, gen_kind kb)
{
    for (size_t c = 0; c < sizeof bin_shapes / sizeof bin_shapes[0]; c++) {
        const shape2 *s = &bin_shapes[c];
        nb_node *b = nb_new(op, "", 14, 2, 1);
        oc_tensor ta = make(ONNXC_DOUBLE, s->ra, s->da, ka, 3),
                  tb = make(ONNXC_DOUBLE, s->rb, s->db, kb, 4);
        char what[64];
        snprintf(what, sizeof what, "double case %zu", c);
        expect_grad(b, IN(&ta, &tb), 3, true, what);
        nb_free(b);
        free_tensors();
    }
    for (size_t c = 1; c <= 3; c += 2) {
        const shape2 *s = &bin_shapes[c];
        nb_node *b = nb_new(op, "", 14, 2, 1);
        oc_tensor ta = make(ONNXC_FLOAT, s->ra, s->da, ka, 5),
                  tb = make(ONNXC_FLOAT, s->rb, s->db, kb, 6);
        expect_grad(b, IN(&ta, &tb), 3, false, c == 1 ? "float [2,3,4],[3,1]" : "float [5,7],[7]");
        nb_free(b);
        free_tensors();
    }
}

Test(grad_binary, add) { binary("Add", GEN_EXPONENT, GEN_EXPONENT); }
Test(grad_binary, sub) { binary("Sub", GEN_EXPONENT, GEN_EXPONENT); }
Test(grad_binary, mul) { binary("Mul", GEN_EXPONENT, GEN_EXPONENT); }
Test(grad_binary, div) { binary("Div", GEN_EXPONENT, GEN_DIVISOR); }

/* Only one operand asks for a gradient: the other stays untouched (NULL). */
Test(grad_binary, one_operand_only)
{
    nb_node *b = nb_new("Mul", "", 14, 2, 1);
    oc_tensor ta = make(ONNXC_DOUBLE, 2, D(5, 7), GEN_EXPONENT, 8),
              tb = make(ONNXC_DOUBLE, 1, D(7), GEN_EXPONENT, 9);
    expect_grad(b, IN(&ta, &tb), 2, true, "dB only");
    expect_grad(b, IN(&ta, &tb), 1, true, "dA only");
    nb_free(b);
    free_tensors();
}

/* ----------------------------------------------------------------------- */
/* Pow                                                                      */

Test(grad_pow, base_and_exponent_broadcast)
{
    for (size_t c = 0; c < sizeof bin_shapes / sizeof bin_shapes[0]; c++) {
        const shape2 *s = &bin_shapes[c];
        nb_node *b = nb_new("Pow", "", 15, 2, 1);
        oc_tensor tx = make(ONNXC_DOUBLE, s->ra, s->da, GEN_POSITIVE, 10),
                  ty = make(ONNXC_DOUBLE, s->rb, s->db, GEN_EXPONENT, 11);
        char what[64];
        snprintf(what, sizeof what, "double case %zu", c);
        expect_grad(b, IN(&tx, &ty), 3, true, what);
        nb_free(b);
        free_tensors();
    }
    nb_node *b = nb_new("Pow", "", 15, 2, 1);
    oc_tensor tx = make(ONNXC_FLOAT, 3, D(2, 3, 4), GEN_POSITIVE, 12),
              ty = make(ONNXC_FLOAT, 2, D(3, 1), GEN_EXPONENT, 13);
    expect_grad(b, IN(&tx, &ty), 3, false, "float");
    nb_free(b);
    free_tensors();
}

/* Opset 12+: a float base with a double exponent (gradients in each one's
 * dtype; the output is float, so float steps), and an int64 exponent (only
 * the base is differentiable). */
Test(grad_pow, mixed_dtypes)
{
    nb_node *b = nb_new("Pow", "", 15, 2, 1);
    oc_tensor tx = make(ONNXC_FLOAT, 2, D(3, 4), GEN_POSITIVE, 14),
              ty = make(ONNXC_DOUBLE, 1, D(4), GEN_EXPONENT, 15);
    expect_grad(b, IN(&tx, &ty), 3, false, "float ^ double");
    int64_t e[4] = {2, 3, -1, 0};
    oc_tensor te = nb_tensor(ONNXC_INT64, 1, D(4), e);
    oc_tensor td = make(ONNXC_DOUBLE, 2, D(3, 4), GEN_POSITIVE, 16);
    expect_grad(b, IN(&td, &te), 1, true, "double ^ int64");
    nb_free(b);
    free_tensors();
}

/* At x = 0, torch's conventions (hand-computed): d(0^2)/dx = 0,
 * d(0^0.5)/dx = +inf, x^0 has gradient 0 in x even at x = 0, and
 * d(0^y)/dy = 0 for every y >= 0 (0^0 = 1 included). */
Test(grad_pow, zero_base)
{
    double x[3] = {0, 0, 0}, y[3] = {2, 0.5, 0}, dz[3] = {1, 1, 1}, gx[3] = {0}, gy[3] = {0};
    nb_node *b = nb_new("Pow", "", 15, 2, 1);
    oc_tensor tx = nb_tensor(ONNXC_DOUBLE, 1, D(3), x), ty = nb_tensor(ONNXC_DOUBLE, 1, D(3), y);
    oc_tensor z;
    EVAL_OK(b, IN(&tx, &ty), OUT(&z), &err);
    oc_tensor tdz = nb_tensor(ONNXC_DOUBLE, 1, D(3), dz), tgx = nb_tensor(ONNXC_DOUBLE, 1, D(3), gx),
              tgy = nb_tensor(ONNXC_DOUBLE, 1, D(3), gy);
    oc_op_ctx ctx = {.node = &b->node, .n_in = 2, .n_out = 1, .in = IN(&tx, &ty), .out = OUT(&z),
                     .nthreads = 1, .err = &err};
    cr_assert_eq(b->node.op->backward(&ctx, IN(&tdz), OUT(&tgx, &tgy)), ONNXC_OK, "%s",
                 err.message);
    cr_assert_eq(gx[0], 0.0);
    cr_assert(isinf(gx[1]) && gx[1] > 0, "0.5 * 0^-0.5 = +inf, got %g", gx[1]);
    cr_assert_eq(gx[2], 0.0);
    for (int i = 0; i < 3; i++) cr_assert_eq(gy[i], 0.0, "[%d]: %g", i, gy[i]);
    nb_free(b);
}

/* ----------------------------------------------------------------------- */
/* Clip, Where, Expand, Cast                                                */

/* x values at least 0.05 from the bounds -0.5 and 0.8. */
static oc_tensor clip_input(oc_dtype dtype, unsigned seed)
{
    oc_tensor t = make(dtype, 3, D(2, 3, 4), GEN_SIGNED, seed);
    for (int64_t i = 0; i < 24; i++) {
        double v = oc_tensor_get_double(&t, i);
        if (fabs(v + 0.5) < 0.05 || fabs(v - 0.8) < 0.05) v += 0.12;
        if (dtype == ONNXC_DOUBLE) ((double *)t.data)[i] = v;
        else ((float *)t.data)[i] = (float)v;
    }
    return t;
}

Test(grad_clip, bounds_as_inputs)
{
    for (int f64 = 1; f64 >= 0; f64--) {
        oc_dtype dt = f64 ? ONNXC_DOUBLE : ONNXC_FLOAT;
        double lo64 = -0.5, hi64 = 0.8;
        float lo32 = -0.5f, hi32 = 0.8f;
        oc_tensor x = clip_input(dt, 17);
        oc_tensor lo = nb_tensor(dt, 0, NULL, f64 ? (void *)&lo64 : (void *)&lo32),
                  hi = nb_tensor(dt, 0, NULL, f64 ? (void *)&hi64 : (void *)&hi32);
        nb_node *b = nb_new("Clip", "", 13, 3, 1);
        expect_grad(b, IN(&x, &lo, &hi), 1, f64, "min and max");
        nb_free(b);
        /* Without min: only the upper bound cuts. */
        b = nb_new("Clip", "", 13, 3, 1);
        nb_omit_input(b, 1);
        expect_grad(b, IN(&x, NULL, &hi), 1, f64, "max only");
        nb_free(b);
        free_tensors();
    }
}

Test(grad_clip, legacy_attributes)
{
    nb_node *b = nb_new("Clip", "", 6, 1, 1);
    nb_attr_float(b, "min", -0.5f);
    nb_attr_float(b, "max", 0.8f);
    oc_tensor x = clip_input(ONNXC_DOUBLE, 18);
    expect_grad(b, IN(&x), 1, true, "opset 6 double");
    nb_free(b);
    free_tensors();
    b = nb_new("Clip", "", 6, 1, 1);
    nb_attr_float(b, "min", -0.5f);
    nb_attr_float(b, "max", 0.8f);
    x = clip_input(ONNXC_FLOAT, 19);
    expect_grad(b, IN(&x), 1, false, "opset 6 float");
    nb_free(b);
    free_tensors();
}

/* Hand-computed: the gradient passes on [lo, hi] inclusive, nothing outside. */
Test(grad_clip, at_the_bounds)
{
    float x[5] = {-1, -0.5f, 0, 0.8f, 1}, lo = -0.5f, hi = 0.8f, dy[5] = {1, 2, 3, 4, 5};
    float g[5] = {0};
    nb_node *b = nb_new("Clip", "", 13, 3, 1);
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 1, D(5), x), tlo = nb_tensor(ONNXC_FLOAT, 0, NULL, &lo),
              thi = nb_tensor(ONNXC_FLOAT, 0, NULL, &hi), y;
    EVAL_OK(b, IN(&tx, &tlo, &thi), OUT(&y), &err);
    oc_tensor tdy = nb_tensor(ONNXC_FLOAT, 1, D(5), dy), tg = nb_tensor(ONNXC_FLOAT, 1, D(5), g);
    oc_op_ctx ctx = {.node = &b->node, .n_in = 3, .n_out = 1, .in = IN(&tx, &tlo, &thi),
                     .out = OUT(&y), .nthreads = 1, .err = &err};
    cr_assert_eq(b->node.op->backward(&ctx, IN(&tdy), OUT(&tg, NULL, NULL)), ONNXC_OK, "%s",
                 err.message);
    expect_floats(&tg, (const float[]){0, 2, 3, 4, 0}, 5, 0);
    cr_assert_eq(b->node.op->grad_inputs, 1u, "min/max are not differentiable");
    nb_free(b);
}

/* condition pattern from a seed; values of X and Y from gen. */
static oc_tensor make_cond(int rank, const int64_t *dims, unsigned seed)
{
    oc_shape sh = {.rank = rank};
    for (int i = 0; i < rank; i++) sh.dims[i] = dims[i];
    int64_t n = oc_shape_numel(&sh);
    uint8_t *p = calloc((size_t)(n ? n : 1), 1);
    cr_assert(p && n_allocs < 64);
    allocs[n_allocs++] = p;
    unsigned s = seed;
    for (int64_t i = 0; i < n; i++) p[i] = draw(&s) < 0.5;
    return nb_tensor(ONNXC_BOOL, rank, dims, p);
}

Test(grad_where, routed_and_broadcast)
{
    static const struct {
        int rc, rx, ry;
        int64_t dc[3], dx[3], dy[3];
    } cases[] = {
        {3, 3, 3, {2, 3, 4}, {2, 3, 4}, {2, 3, 4}}, /* no broadcast */
        {3, 2, 0, {2, 3, 4}, {3, 1}, {0}},           /* X [3,1], Y scalar */
        {2, 3, 1, {3, 1}, {2, 3, 4}, {4}},           /* condition broadcast, Y [4] */
        {1, 0, 2, {4}, {0}, {5, 4}},                 /* X scalar, Y [N,K] */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int f64 = 1; f64 >= 0; f64--) {
            oc_dtype dt = f64 ? ONNXC_DOUBLE : ONNXC_FLOAT;
            oc_tensor tc = make_cond(cases[c].rc, cases[c].dc, 20 + (unsigned)c),
                      tx = make(dt, cases[c].rx, cases[c].dx, GEN_EXPONENT, 21),
                      ty = make(dt, cases[c].ry, cases[c].dy, GEN_EXPONENT, 22);
            nb_node *b = nb_new("Where", "", 16, 3, 1);
            char what[64];
            snprintf(what, sizeof what, "%s case %zu", f64 ? "double" : "float", c);
            expect_grad(b, IN(&tc, &tx, &ty), 6, f64, what);
            nb_free(b);
            free_tensors();
        }
    }
}

Test(grad_expand, sums_back)
{
    static const struct {
        int rx;
        int64_t dx[3];
        int rs;
        int64_t shape[3];
    } cases[] = {
        {2, {3, 1}, 3, {2, 3, 4}}, /* [3,1] -> [2,3,4] */
        {1, {4}, 2, {5, 4}},       /* bias-like [4] -> [5,4] */
        {1, {1}, 1, {6}},          /* [1] -> [6] */
        {2, {3, 4}, 1, {1}},       /* shape [1]: no growth, plain pass-through */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int f64 = 1; f64 >= 0; f64--) {
            oc_tensor x = make(f64 ? ONNXC_DOUBLE : ONNXC_FLOAT, cases[c].rx, cases[c].dx,
                               GEN_EXPONENT, 23);
            int64_t shape_dims[1] = {cases[c].rs};
            oc_tensor s = nb_tensor(ONNXC_INT64, 1, shape_dims, (void *)cases[c].shape);
            nb_node *b = nb_new("Expand", "", 13, 2, 1);
            char what[64];
            snprintf(what, sizeof what, "%s case %zu", f64 ? "double" : "float", c);
            expect_grad(b, IN(&x, &s), 1, f64, what);
            nb_free(b);
            free_tensors();
        }
    }
}

static void cast_case(oc_dtype from, oc_dtype to, bool f64_steps)
{
    nb_node *b = nb_new("Cast", "", 13, 1, 1);
    nb_attr_int(b, "to", to);
    oc_tensor x = make(from, 2, D(3, 4), GEN_EXPONENT, 24);
    char what[64];
    snprintf(what, sizeof what, "%s -> %s", oc_dtype_name(from), oc_dtype_name(to));
    expect_grad(b, IN(&x), 1, f64_steps, what);
    nb_free(b);
    free_tensors();
}

Test(grad_cast, float_types_pass_through)
{
    cast_case(ONNXC_DOUBLE, ONNXC_DOUBLE, true);
    /* Float output or input: float-sized steps (exact for a linear map). */
    cast_case(ONNXC_DOUBLE, ONNXC_FLOAT, false);
    cast_case(ONNXC_FLOAT, ONNXC_DOUBLE, false);
    cast_case(ONNXC_FLOAT, ONNXC_FLOAT, false);
}

/* To an integer type: no gradient, backward adds nothing (gc_check's
 * objective ignores integer outputs, so the finite difference is 0 too). */
Test(grad_cast, integer_targets_get_nothing)
{
    cast_case(ONNXC_DOUBLE, ONNXC_INT64, true);
    cast_case(ONNXC_FLOAT, ONNXC_INT32, false);
    /* From an integer: backward with a gradient buffer of the int type adds nothing. */
    nb_node *b = nb_new("Cast", "", 13, 1, 1);
    nb_attr_int(b, "to", ONNXC_FLOAT);
    int32_t x[2] = {1, 2}, g[2] = {7, 7};
    float dy[2] = {1, 1};
    oc_tensor tx = nb_tensor(ONNXC_INT32, 1, D(2), x), y;
    EVAL_OK(b, IN(&tx), OUT(&y), &err);
    oc_tensor tdy = nb_tensor(ONNXC_FLOAT, 1, D(2), dy), tg = nb_tensor(ONNXC_INT32, 1, D(2), g);
    oc_op_ctx ctx = {.node = &b->node, .n_in = 1, .n_out = 1, .in = IN(&tx), .out = OUT(&y),
                     .nthreads = 1, .err = &err};
    cr_assert_eq(b->node.op->backward(&ctx, IN(&tdy), OUT(&tg)), ONNXC_OK, "%s", err.message);
    cr_assert(g[0] == 7 && g[1] == 7);
    nb_free(b);
}

/* ----------------------------------------------------------------------- */
/* oc_bcast_reduce_add                                                      */

/* Naive reference: for every src element, unravel its index, drop dims
 * where dst has size 1 (or is missing), ravel into dst, add in double. */
static void naive_reduce(double *ref, const oc_shape *ds, const double *src, const oc_shape *ss)
{
    int64_t n = oc_shape_numel(ss);
    int lead = ss->rank - ds->rank;
    for (int64_t e = 0; e < n; e++) {
        int64_t idx[OC_MAX_RANK], rem = e;
        for (int d = ss->rank - 1; d >= 0; d--) {
            idx[d] = rem % ss->dims[d];
            rem /= ss->dims[d];
        }
        int64_t j = 0;
        for (int d = 0; d < ds->rank; d++) j = j * ds->dims[d] + (ds->dims[d] == 1 ? 0 : idx[lead + d]);
        ref[j] += src[e];
    }
}

static void reduce_case(const oc_shape *ds, const oc_shape *ss, oc_dtype dt, double alpha)
{
    int64_t nd = oc_shape_numel(ds), ns = oc_shape_numel(ss);
    double *src64 = malloc((size_t)(ns ? ns : 1) * sizeof(double));
    double *ref = calloc((size_t)(nd ? nd : 1), sizeof(double));
    size_t es = oc_dtype_size(dt);
    void *src = malloc((size_t)(ns ? ns : 1) * es), *first = NULL;
    cr_assert(src64 && ref && src);
    unsigned s = 99;
    for (int64_t i = 0; i < ns; i++) {
        /* Values exact in float, so the float reference sees the same inputs. */
        src64[i] = (float)(draw(&s) * 2 - 1);
        if (dt == ONNXC_DOUBLE) ((double *)src)[i] = src64[i];
        else ((float *)src)[i] = (float)src64[i];
    }
    naive_reduce(ref, ds, src64, ss);
    char a[128], b[128];
    oc_shape_str(ds, a, sizeof a);
    oc_shape_str(ss, b, sizeof b);
    for (int threads = 1; threads <= 4; threads++) {
        void *dst = malloc((size_t)(nd ? nd : 1) * es);
        cr_assert(dst);
        /* Start from 1 in every element: the reduction must add. */
        for (int64_t j = 0; j < nd; j++) {
            if (dt == ONNXC_DOUBLE) ((double *)dst)[j] = 1.0;
            else ((float *)dst)[j] = 1.0f;
        }
        oc_tensor td = {.dtype = dt, .shape = *ds, .data = dst},
                  ts = {.dtype = dt, .shape = *ss, .data = src};
        oc_bcast_reduce_add(&td, &ts, alpha, threads);
        for (int64_t j = 0; j < nd; j++) {
            double got = oc_tensor_get_double(&td, j), want = 1.0 + alpha * ref[j];
            double tol = dt == ONNXC_DOUBLE ? 1e-12 : 1e-6;
            cr_assert(fabs(got - want) <= tol * (1 + fabs(want)),
                      "%s -> %s (%s, %d threads) [%lld]: expected %.17g, got %.17g", b, a,
                      oc_dtype_name(dt), threads, (long long)j, want, got);
        }
        if (!first) {
            first = dst;
        } else {
            cr_assert(memcmp(first, dst, (size_t)nd * es) == 0,
                      "%s -> %s: %d threads differ from 1 thread", b, a, threads);
            free(dst);
        }
    }
    free(first);
    free(src);
    free(src64);
    free(ref);
}

Test(reduce_add, shapes_against_naive)
{
    static const struct {
        oc_shape dst, src;
    } cases[] = {
        {{1, {4}}, {3, {2, 3, 4}}},             /* trailing bias */
        {{2, {3, 1}}, {3, {2, 3, 4}}},          /* reduced inner dim and outer dim */
        {{3, {2, 1, 4}}, {3, {2, 3, 4}}},       /* middle dim */
        {{0, {0}}, {3, {2, 3, 4}}},             /* scalar */
        {{1, {1}}, {2, {5, 7}}},                /* [1] */
        {{3, {2, 3, 4}}, {3, {2, 3, 4}}},       /* nothing reduced */
        {{2, {1, 7}}, {2, {5, 7}}},             /* [1,K] */
        {{4, {5, 1, 6, 1}}, {4, {5, 3, 6, 2}}}, /* alternating kept/reduced */
        {{3, {1, 3, 1}}, {5, {2, 2, 1, 3, 5}}}, /* rank grows, size-1 dims */
        {{2, {300, 1}}, {2, {300, 130}}},       /* row sums, parallel size */
        {{1, {130}}, {3, {2, 150, 130}}},       /* bias, parallel size */
        {{1, {1500}}, {2, {40, 1500}}},         /* bias wider than one column block */
        {{3, {4, 1, 1200}}, {3, {4, 10, 1200}}}, /* several rows of blocks */
        {{2, {3, 1}}, {2, {3, 0}}},             /* empty source: nothing added */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        reduce_case(&cases[c].dst, &cases[c].src, ONNXC_DOUBLE, 1.0);
        reduce_case(&cases[c].dst, &cases[c].src, ONNXC_FLOAT, 1.0);
        reduce_case(&cases[c].dst, &cases[c].src, ONNXC_FLOAT, -1.0);
    }
}

/* The bias gradient of Add [512,1000] + [1000], through the op's backward:
 * the same bits with 1 and 2 threads, and each element the float of the
 * column's double sum (summed here in the same fixed order, row by row). */
Test(reduce_add, bias_gradient_bit_identical)
{
    enum { N = 512, K = 1000 };
    float *x = malloc(sizeof(float) * N * K), *dy = malloc(sizeof(float) * N * K);
    float bias[K], g1[K], g2[K];
    cr_assert(x && dy);
    unsigned s = 5;
    for (int i = 0; i < N * K; i++) {
        x[i] = (float)draw(&s);
        dy[i] = (float)(draw(&s) * 2 - 1) * 1e-3f;
    }
    for (int k = 0; k < K; k++) bias[k] = 0.5f;
    nb_node *b = nb_new("Add", "", 14, 2, 1);
    oc_tensor tx = nb_tensor(ONNXC_FLOAT, 2, D(N, K), x), tb = nb_tensor(ONNXC_FLOAT, 1, D(K), bias);
    oc_tensor y;
    EVAL_OK(b, IN(&tx, &tb), OUT(&y), &err);
    oc_tensor tdy = nb_tensor(ONNXC_FLOAT, 2, D(N, K), dy);
    float *gs[2] = {g1, g2};
    for (int t = 1; t <= 2; t++) {
        memset(gs[t - 1], 0, sizeof g1);
        oc_tensor tg = nb_tensor(ONNXC_FLOAT, 1, D(K), gs[t - 1]);
        oc_op_ctx ctx = {.node = &b->node, .n_in = 2, .n_out = 1, .in = IN(&tx, &tb),
                         .out = OUT(&y), .nthreads = t, .err = &err};
        cr_assert_eq(b->node.op->backward(&ctx, IN(&tdy), OUT(NULL, &tg)), ONNXC_OK, "%s",
                     err.message);
    }
    cr_assert(memcmp(g1, g2, sizeof g1) == 0, "bias gradient differs between 1 and 2 threads");
    for (int k = 0; k < K; k++) {
        double sum = 0;
        for (int i = 0; i < N; i++) sum += dy[i * K + k];
        cr_assert(fabs(g1[k] - sum) <= 1e-6 * (1 + fabs(sum)), "[%d]: expected %.9g, got %.9g", k,
                  sum, g1[k]);
    }
    nb_free(b);
    free(x);
    free(dy);
}

/* Mul with a broadcast operand on a large tensor goes through the
 * workspace and the parallel term pass: same bits for 1 and 3 threads. */
Test(reduce_add, mul_broadcast_threads)
{
    enum { N = 256, K = 300 };
    double *a = malloc(sizeof(double) * N * K), *dy = malloc(sizeof(double) * N * K);
    double w[K], g1[K], g3[K];
    void *ws = malloc(sizeof(double) * N * K);
    cr_assert(a && dy && ws);
    unsigned s = 6;
    for (int i = 0; i < N * K; i++) {
        a[i] = draw(&s) - 0.5;
        dy[i] = draw(&s) - 0.5;
    }
    for (int k = 0; k < K; k++) w[k] = draw(&s);
    nb_node *b = nb_new("Mul", "", 14, 2, 1);
    oc_tensor ta = nb_tensor(ONNXC_DOUBLE, 2, D(N, K), a), tw = nb_tensor(ONNXC_DOUBLE, 1, D(K), w);
    oc_tensor y;
    EVAL_OK(b, IN(&ta, &tw), OUT(&y), &err);
    oc_tensor tdy = nb_tensor(ONNXC_DOUBLE, 2, D(N, K), dy);
    double *gs[2] = {g1, g3};
    for (int r = 0; r < 2; r++) {
        memset(gs[r], 0, sizeof g1);
        oc_tensor tg = nb_tensor(ONNXC_DOUBLE, 1, D(K), gs[r]);
        oc_op_ctx ctx = {.node = &b->node, .n_in = 2, .n_out = 1, .in = IN(&ta, &tw),
                         .out = OUT(&y), .nthreads = r ? 3 : 1, .err = &err};
        size_t need = b->node.op->backward_workspace(&ctx);
        cr_assert_eq(need, sizeof(double) * N * K);
        ctx.workspace = ws;
        ctx.workspace_bytes = need;
        cr_assert_eq(b->node.op->backward(&ctx, IN(&tdy), OUT(NULL, &tg)), ONNXC_OK, "%s",
                     err.message);
    }
    cr_assert(memcmp(g1, g3, sizeof g1) == 0, "dW differs between 1 and 3 threads");
    for (int k = 0; k < K; k++) {
        double sum = 0;
        for (int i = 0; i < N; i++) sum += dy[i * K + k] * a[i * K + k];
        cr_assert(fabs(g1[k] - sum) <= 1e-12 * (1 + fabs(sum)), "[%d]: %.17g vs %.17g", k, g1[k],
                  sum);
    }
    nb_free(b);
    free(a);
    free(dy);
    free(ws);
}
