/*
 * Dense-network specs (converter/spec.c) and onnxc_model_from_spec
 * (converter/init_model.c): parsing with its error messages, the tf2onnx
 * graph it builds, Glorot-uniform kernels (limit sqrt(6 / (in + out))), zero
 * biases, determinism per seed, and a forward pass against a double-precision
 * reference written here from the model's own initializers.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "onnxc.h"
#include "spec.h"

Test(spec, parses_good_specs)
{
    oc_spec s;
    onnxc_error err;
    cr_assert_eq(oc_spec_parse("784,64:relu,64:relu,10:softmax", &s, &err), ONNXC_OK, "%s", err.message);
    cr_expect_eq(s.input, 784);
    cr_assert_eq(s.n_layers, 3);
    cr_expect(s.layers[0].units == 64 && s.layers[0].act == OC_ACT_RELU);
    cr_expect(s.layers[2].units == 10 && s.layers[2].act == OC_ACT_SOFTMAX);
    oc_spec_free(&s);

    cr_assert_eq(oc_spec_parse(" 3 , 4 : tanh ,2", &s, &err), ONNXC_OK, "%s", err.message);
    cr_expect(s.input == 3 && s.n_layers == 2 && s.layers[0].act == OC_ACT_TANH);
    cr_expect(s.layers[1].units == 2 && s.layers[1].act == OC_ACT_LINEAR, "no activation means linear");
    oc_spec_free(&s);

    const char *acts[] = {"linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "gelu"};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "5,7:%s", acts[i]);
        cr_assert_eq(oc_spec_parse(text, &s, &err), ONNXC_OK, "%s: %s", text, err.message);
        cr_expect_eq((int)s.layers[0].act, (int)i, "%s", text);
        oc_spec_free(&s);
    }
}

static void bad(const char *text, const char *needle)
{
    oc_spec s;
    onnxc_error err;
    cr_assert_eq(oc_spec_parse(text, &s, &err), ONNXC_ERR_ARGUMENT, "'%s' was accepted", text);
    cr_expect(strstr(err.message, needle), "'%s': message lacks '%s': %s", text, needle, err.message);
    cr_expect(s.layers == NULL && s.n_layers == 0);
}

Test(spec, refuses_bad_specs_with_messages)
{
    bad("", "expected the input width and at least one layer");
    bad("784", "at least one layer");
    bad("784,", "layer 1: expected units");
    bad("784,,10", "layer 1: expected units");
    bad("784,0", "layer 1: expected units as an integer in [1, 16777216], got '0'");
    bad("784,64:reluu", "layer 1: unknown activation 'reluu'; expected one of linear, relu, sigmoid, tanh, "
                        "softmax, elu, selu, softplus, gelu");
    bad("784,64:relu,10:", "layer 2: unknown activation ''");
    bad("784,64:relu:x", "unknown activation 'relu:x'");
    bad("784,64:swish", "unknown activation 'swish'");
    bad("abc,3", "input width as an integer");
    bad("-1,3", "input width");
    bad("7 84,3", "got '7 84'");
    bad("784:relu,3", "input width");
    bad("784,99999999999", "layer 1: expected units");
    bad("784,16777217", "got '16777217'");
    bad("784,1e3", "got '1e3'");
}

Test(spec, from_spec_builds_the_tf2onnx_layout)
{
    onnxc_model *m = NULL;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec("784,64:relu,64:relu,10:softmax", 42, &m, &err), ONNXC_OK, "%s",
                 err.message);
    static const char *const ops[] = {"MatMul", "Add", "Relu", "MatMul", "Add", "Relu", "MatMul", "Add", "Softmax"};
    static const char *const names[] = {"dense/MatMul", "dense/BiasAdd", "dense/Relu",
                                        "dense_1/MatMul", "dense_1/BiasAdd", "dense_1/Relu",
                                        "dense_2/MatMul", "dense_2/BiasAdd", "dense_2/Softmax"};
    cr_assert_eq(onnxc_model_node_count(m), 9);
    for (size_t i = 0; i < 9; i++) {
        onnxc_node_info ni;
        cr_assert_eq(onnxc_model_node(m, i, &ni), ONNXC_OK);
        cr_expect_str_eq(ni.op_type, ops[i]);
        cr_expect_str_eq(ni.name, names[i]);
    }
    onnxc_value_info in, out;
    cr_assert_eq(onnxc_model_input(m, 0, &in), ONNXC_OK);
    cr_assert_eq(onnxc_model_output(m, 0, &out), ONNXC_OK);
    cr_expect_str_eq(in.name, "input");
    cr_expect(in.rank == 2 && in.dims[1] == 784 && in.dim_names[0] && !strcmp(in.dim_names[0], "N"));
    cr_expect_str_eq(out.name, "dense_2");
    cr_expect(out.rank == 2 && out.dims[1] == 10);
    onnxc_model_meta meta;
    onnxc_model_get_meta(m, &meta);
    cr_expect_str_eq(meta.producer_name, "onnxc");
    cr_expect_str_eq(meta.producer_version, onnxc_version());
    cr_expect_eq(meta.opset_onnx, 13);
    cr_expect_eq(meta.ir_version, 7);
    uint64_t count, bytes;
    onnxc_model_param_totals(m, &count, &bytes);
    cr_expect_eq(count, 784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10);
    onnxc_model_free(m);
}

/* The initializer `name` of a loaded model (float data, element count). */
static const float *init_data(const onnxc_model *m, const char *name, int64_t *n)
{
    int v = oc_graph_find(&m->graph, name);
    cr_assert(v >= 0, "no initializer %s", name);
    const oc_value *val = &m->graph.values[v];
    cr_assert_eq(val->kind, OC_VALUE_INITIALIZER);
    cr_assert_eq(val->init.dtype, ONNXC_FLOAT);
    *n = oc_shape_numel(&val->init.shape);
    return val->init.data;
}

Test(spec, glorot_uniform_kernels_and_zero_biases)
{
    onnxc_model *m = NULL;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec("784,64:relu,10", 7, &m, &err), ONNXC_OK, "%s", err.message);
    const struct { const char *k, *b; int in, out; } layers[] = {{"dense/kernel", "dense/bias", 784, 64},
                                                                  {"dense_1/kernel", "dense_1/bias", 64, 10}};
    for (int l = 0; l < 2; l++) {
        int64_t n, nb;
        const float *w = init_data(m, layers[l].k, &n), *b = init_data(m, layers[l].b, &nb);
        cr_assert_eq(n, (int64_t)layers[l].in * layers[l].out);
        cr_assert_eq(nb, layers[l].out);
        double limit = sqrt(6.0 / (layers[l].in + layers[l].out));
        double sum = 0, sq = 0, lo = 0, hi = 0;
        for (int64_t i = 0; i < n; i++) {
            cr_assert(w[i] >= -limit && w[i] < limit, "%s[%lld] = %g outside +-%g", layers[l].k, (long long)i,
                      w[i], limit);
            sum += w[i];
            sq += (double)w[i] * w[i];
            lo = fmin(lo, w[i]);
            hi = fmax(hi, w[i]);
        }
        /* U(-a, a): mean 0, variance a^2/3; bounds within 7 standard errors. */
        double mean = sum / (double)n, var = sq / (double)n - mean * mean, a2 = limit * limit;
        cr_expect(fabs(mean) < 7 * sqrt(a2 / 3 / (double)n), "%s: mean %g", layers[l].k, mean);
        cr_expect(fabs(var - a2 / 3) < 7 * a2 * sqrt(4.0 / 45 / (double)n) , "%s: variance %g, expected %g",
                  layers[l].k, var, a2 / 3);
        cr_expect(lo < -0.95 * limit && hi > 0.95 * limit, "%s: values span [%g, %g] of +-%g", layers[l].k, lo,
                  hi, limit);
        for (int64_t i = 0; i < nb; i++) cr_expect_eq(b[i], 0.0f, "%s[%lld] = %g", layers[l].b, (long long)i, b[i]);
    }
    onnxc_model_free(m);
}

Test(spec, same_seed_same_weights)
{
    onnxc_model *a = NULL, *b = NULL, *c = NULL;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec("20,30:tanh,5:sigmoid", 123, &a, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_model_from_spec("20,30:tanh,5:sigmoid", 123, &b, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_model_from_spec("20,30:tanh,5:sigmoid", 124, &c, &err), ONNXC_OK, "%s", err.message);
    const char *names[] = {"dense/kernel", "dense_1/kernel"};
    for (int i = 0; i < 2; i++) {
        int64_t n;
        const float *wa = init_data(a, names[i], &n), *wb = init_data(b, names[i], &n), *wc = init_data(c, names[i], &n);
        cr_expect(memcmp(wa, wb, (size_t)n * sizeof *wa) == 0, "%s differs for equal seeds", names[i]);
        cr_expect(memcmp(wa, wc, (size_t)n * sizeof *wa) != 0, "%s equal for seeds 123 and 124", names[i]);
    }
    onnxc_model_free(a);
    onnxc_model_free(b);
    onnxc_model_free(c);
}

/* Reference forward pass in double from the model's own kernels. */
Test(spec, forward_pass_matches_reference)
{
    onnxc_model *m = NULL;
    onnxc_session *s = NULL;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec("4,6:elu,3:softmax", 99, &m, &err), ONNXC_OK, "%s", err.message);
    int64_t n;
    const float *k1 = init_data(m, "dense/kernel", &n), *k2 = init_data(m, "dense_1/kernel", &n);
    float x[8] = {0.5f, -1, 2, 0.25f, -0.75f, 1.5f, 0, -2};
    double want[6];
    for (int r = 0; r < 2; r++) {
        double h[6], z[3], zmax = -INFINITY, sum = 0;
        for (int j = 0; j < 6; j++) {
            double a = 0;
            for (int i = 0; i < 4; i++) a += (double)x[r * 4 + i] * k1[i * 6 + j];
            h[j] = a > 0 ? a : expm1(a);
        }
        for (int j = 0; j < 3; j++) {
            z[j] = 0;
            for (int i = 0; i < 6; i++) z[j] += h[i] * k2[i * 3 + j];
            zmax = fmax(zmax, z[j]);
        }
        for (int j = 0; j < 3; j++) sum += exp(z[j] - zmax);
        for (int j = 0; j < 3; j++) want[r * 3 + j] = exp(z[j] - zmax) / sum;
    }
    cr_assert_eq(onnxc_session_create(m, NULL, &s, &err), ONNXC_OK, "%s", err.message);
    onnxc_tensor in = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {2, 4}, .data = x}, out = {0};
    cr_assert_eq(onnxc_session_run(s, &in, 1, &out, 1, &err), ONNXC_OK, "%s", err.message);
    cr_assert(out.rank == 2 && out.dims[0] == 2 && out.dims[1] == 3);
    for (int i = 0; i < 6; i++)
        cr_expect(fabs(((float *)out.data)[i] - want[i]) < 1e-6, "output %d: %g vs %g", i, ((float *)out.data)[i],
                  want[i]);
    onnxc_session_free(s);
    onnxc_model_free(m);
}

Test(spec, from_spec_errors)
{
    onnxc_model *m = NULL;
    onnxc_error err;
    cr_expect_eq(onnxc_model_from_spec("784,64:bogus", 1, &m, &err), ONNXC_ERR_ARGUMENT);
    cr_expect(strstr(err.message, "unknown activation 'bogus'"), "%s", err.message);
    cr_expect_null(m);
    /* A 16M x 16M kernel is 1 PiB: refused before any allocation. */
    cr_expect_eq(onnxc_model_from_spec("16777216,16777216", 1, &m, &err), ONNXC_ERR_LIMIT);
    cr_expect(strstr(err.message, "max_tensor_bytes"), "%s", err.message);
    cr_expect_eq(onnxc_model_from_spec(NULL, 1, &m, &err), ONNXC_ERR_ARGUMENT);
}
