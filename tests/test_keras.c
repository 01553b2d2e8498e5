/*
 * Keras import (converter/keras_*.c).
 *
 *   - every real .h5 / .keras in shared/models/real converts, passes Python's
 *     onnx.checker, loads, and reproduces NAME.output.npy (computed outside
 *     onnxc from the files' own weights) within 1e-5;
 *   - small Keras files written here with the HDF5 C API and libzip in each
 *     layout Keras uses (2.0 bare layer list with fixed-length strings, 2.x,
 *     3.x legacy h5, nested Sequential, functional in the Keras 2 and 3
 *     formats, .keras zips with auto-named weight groups, weights-only files
 *     with an arch spec) give hand-computed outputs;
 *   - hostile files (Lambda layers, bad / non-UTF-8 / deep JSON, wrong weight
 *     shapes, links and storage outside the file, soft-link cycles, huge
 *     dataspaces, NaN weights, unsafe zip entries, truncation and bit flips)
 *     are refused with the right status and a message naming the problem.
 *
 * Reference network used by the layout tests (weights below):
 *   x[N,3] -> Dense(2, relu) -> Dropout -> Dense(1, linear)
 *   K1 = [[1,-1],[0.5,2],[-1,0.25]], b1 = [0.1,-0.2], K2 = [[2],[-3]], b2 = [0.5]
 * For x = [[1,2,3],[-1,0,1]], by hand:
 *   row 1: x K1 + b1 = [-0.9, 3.55] -> relu [0, 3.55] -> 3.55 * -3 + 0.5 = -10.15
 *   row 2: x K1 + b1 = [-1.9, 1.05] -> relu [0, 1.05] -> 1.05 * -3 + 0.5 = -2.65
 */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "compare.h"
#include "keras.h"
#include "keras_files.h"
#include "keras_internal.h"
#include "onnxc.h"
#include "testutil.h"

/* libhdf5 mallocs sizes read from corrupted headers (bit-flip test) and
 * handles a NULL result; under ASan such a request must return NULL too. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static const float K1[] = {1, -1, 0.5f, 2, -1, 0.25f};
static const float B1[] = {0.1f, -0.2f};
static const float K2[] = {2, -3};
static const float B2[] = {0.5f};
static const float X[] = {1, 2, 3, -1, 0, 1};
static const double Y[] = {-10.15, -2.65};

/* Keras files are written with support/keras_files.h. */

/* The reference network's weights under the given names. */
#define REF_DENSE1(k, b) {k, 2, {3, 2}, K1}, {b, 1, {2, 0}, B1}
#define REF_DENSE2(k, b) {k, 2, {2, 1}, K2}, {b, 1, {1, 0}, B2}

/* ------------------------------------------------------------------------ */
/* Converting and running                                                    */

static char *tmp_dir;

static void setup(void)
{
    tmp_dir = tu_tmpdir("keras");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);   /* the test's own HDF5 calls */
}

static void teardown(void)
{
    tu_rmtree(tmp_dir);
    free(tmp_dir);
}

TestSuite(keras, .init = setup, .fini = teardown, .timeout = 600);

static char *tmp(const char *name) { return tu_path("%s/%s", tmp_dir, name); }

/* In this process, so that ASan/LSan see every allocation of the
 * conversion; oc_keras_to_onnx runs the same code in a child process. */
static onnxc_status convert(const char *path, const char *arch, void **bytes, size_t *size,
                            onnxc_error *err)
{
    onnxc_limits lim;
    onnxc_limits_default(&lim);
    *bytes = NULL;
    return oc_keras_convert_local(path, arch, &lim, bytes, size, err);
}

/* The public, process-isolated path. */
static onnxc_status convert_isolated(const char *path, const char *arch, void **bytes, size_t *size,
                                     onnxc_error *err)
{
    onnxc_limits lim;
    onnxc_limits_default(&lim);
    *bytes = NULL;
    return oc_keras_to_onnx(path, arch, &lim, bytes, size, err);
}

/* Python's onnx.checker on the bytes (an outside judge of the file). */
static void py_check(const void *bytes, size_t size, const char *what)
{
    char *p = tu_path("%s/check-%08llx.onnx", tmp_dir, (unsigned long long)tu_hash(what));
    cr_assert(tu_write_file(p, bytes, size));
    tu_proc pr;
    const char *argv[] = {"/usr/bin/python3", "-c",
                          "import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]))", p, NULL};
    tu_run(argv, 120, &pr);
    cr_expect_eq(pr.status, 0, "%s: onnx.checker failed: %s", what, pr.err);
    tu_proc_free(&pr);
    free(p);
}

/* Convert `path`, check it, run it on x [rows, cols] and compare with y. */
static void expect_runs(const char *path, const char *arch, const float *x, int rank,
                        const int64_t *dims, const double *y, size_t ny, const char *what)
{
    onnxc_error err;
    void *bytes;
    size_t size;
    cr_assert_eq(convert(path, arch, &bytes, &size, &err), ONNXC_OK, "%s: %s", what, err.message);
    py_check(bytes, size, what);
    onnxc_model *m = NULL;
    onnxc_session *s = NULL;
    cr_assert_eq(onnxc_model_load_memory(bytes, size, NULL, what, NULL, &m, &err), ONNXC_OK, "%s: %s",
                 what, err.message);
    oc_free(bytes);
    cr_assert_eq(onnxc_session_create(m, NULL, &s, &err), ONNXC_OK, "%s: %s", what, err.message);
    onnxc_tensor in = {.dtype = ONNXC_FLOAT, .rank = rank, .data = (void *)x};
    memcpy(in.dims, dims, (size_t)rank * sizeof dims[0]);
    onnxc_tensor out = {0};
    cr_assert_eq(onnxc_session_run(s, &in, 1, &out, 1, &err), ONNXC_OK, "%s: %s", what, err.message);
    int64_t n = 1;
    for (int i = 0; i < out.rank; i++) n *= out.dims[i];
    cr_assert_eq((size_t)n, ny, "%s: %lld outputs, expected %zu", what, (long long)n, ny);
    for (size_t i = 0; i < ny; i++) {
        double g = ((const float *)out.data)[i];
        cr_expect(fabs(g - y[i]) <= 1e-5 * fmax(1.0, fabs(y[i])), "%s: output %zu = %.9g, expected %.9g",
                  what, i, g, y[i]);
    }
    onnxc_session_free(s);
    onnxc_model_free(m);
}

static void expect_ref(const char *path, const char *arch, const char *what)
{
    expect_runs(path, arch, X, 2, (int64_t[]){2, 3}, Y, 2, what);
}

/* Conversion fails with `status` and a message holding every `needle`. */
static void expect_refused(const char *path, const char *arch, onnxc_status status,
                           const char *const *needles, const char *what)
{
    onnxc_error err;
    void *bytes = NULL;
    size_t size;
    onnxc_status st = convert(path, arch, &bytes, &size, &err);
    oc_free(bytes);
    cr_assert_eq(st, status, "%s: status %s (%s), expected %s", what, onnxc_status_name(st),
                 st ? err.message : "converted", onnxc_status_name(status));
    for (const char *const *n = needles; *n; n++)
        cr_expect(strstr(err.message, *n), "%s: message lacks '%s': %s", what, *n, err.message);
    /* The isolated path reports exactly the same. */
    onnxc_error err2;
    cr_expect_eq(convert_isolated(path, arch, &bytes, &size, &err2), st, "%s: isolated: %s", what, err2.message);
    cr_expect_str_eq(err2.message, err.message, "%s: isolated message differs", what);
    oc_free(bytes);
}

#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ------------------------------------------------------------------------ */
/* Real Keras files                                                          */

static void real_file(const char *path)
{
    char *name = tu_basename(path, strstr(path, ".keras") ? ".keras" : ".h5");
    char *dir = tu_path("%s/models/real", ONNXC_SHARED_DIR);
    char *xin = tu_path("%s/%s.input.npy", dir, name), *yout = tu_path("%s/%s.output.npy", dir, name);
    onnxc_error err;
    void *bytes;
    size_t size;
    cr_assert_eq(convert(path, NULL, &bytes, &size, &err), ONNXC_OK, "%s: %s", name, err.message);
    py_check(bytes, size, name);
    onnxc_model *m = NULL;
    onnxc_session *s = NULL;
    cr_assert_eq(onnxc_model_load_memory(bytes, size, NULL, name, NULL, &m, &err), ONNXC_OK, "%s: %s",
                 name, err.message);
    oc_free(bytes);

    onnxc_model_meta meta;
    onnxc_model_get_meta(m, &meta);
    cr_expect_str_eq(meta.producer_name, "onnxc");
    cr_expect_eq(meta.opset_onnx, 13);
    cr_expect_eq(meta.ir_version, 7);
    onnxc_value_info vi;
    cr_assert_eq(onnxc_model_input(m, 0, &vi), ONNXC_OK);
    cr_expect(vi.dim_names[0] && !strcmp(vi.dim_names[0], "N"), "%s: batch dim is not symbolic N", name);

    onnxc_tensor in = {0}, want = {0}, got = {0};
    cr_assert_eq(onnxc_tensor_load(xin, &in, &err), ONNXC_OK, "%s: %s", xin, err.message);
    cr_assert_eq(onnxc_tensor_load(yout, &want, &err), ONNXC_OK, "%s: %s", yout, err.message);
    cr_assert_eq(onnxc_session_create(m, NULL, &s, &err), ONNXC_OK, "%s: %s", name, err.message);
    cr_assert_eq(onnxc_session_run(s, &in, 1, &got, 1, &err), ONNXC_OK, "%s: %s", name, err.message);
    char why[1024];
    /* The reference is float64 math rounded to float32. Float32 sums of
     * 2352 products (the 2.14 file) land 1.3e-5 from it on values near 0.45,
     * as numpy's float32 matmul does, so the 1e-5 is numpy's allclose rule:
     * |got - want| <= 1e-5 + 1e-5 |want|. */
    cr_expect(cmp_tensor(&got, &want, cmp_onnx(1e-5, 1e-5), why, sizeof why), "%s: %s", name, why);
    onnxc_session_free(s);
    onnxc_model_free(m);
    onnxc_tensor_release(&in);
    onnxc_tensor_release(&want);
    free(xin);
    free(yout);
    free(dir);
    free(name);
}

Test(keras, real_files_match_reference_outputs)
{
    char *dir = tu_path("%s/models/real", ONNXC_SHARED_DIR);
    size_t n5, nk;
    char **h5 = tu_list(dir, ".h5", &n5), **kz = tu_list(dir, ".keras", &nk);
    cr_assert(n5 >= 5 && nk >= 2, "expected the shared Keras files in %s", dir);
    for (size_t i = 0; i < n5; i++) real_file(h5[i]);
    for (size_t i = 0; i < nk; i++) real_file(kz[i]);
    tu_list_free(h5, n5);
    tu_list_free(kz, nk);
    free(dir);
}

/* The tf2onnx layout, node by node, for a Keras 2.4 file with Flatten and
 * Dropout (InputLayer flatten_1_input [N,28,28], Dense dense_2 / dense_3). */
Test(keras, tf2onnx_layout_of_keras_2_4_file)
{
    char *path = tu_path("%s/models/real/keras-2.4.0_dig94_keras_mnist.h5", ONNXC_SHARED_DIR);
    onnxc_error err;
    onnxc_model *m = NULL;
    /* onnxc_model_load sniffs the HDF5 signature and converts. */
    cr_assert_eq(onnxc_model_load(path, NULL, &m, &err), ONNXC_OK, "%s", err.message);
    static const char *const ops[] = {"Reshape", "MatMul", "Add", "Relu", "MatMul", "Add"};
    static const char *const names[] = {"flatten_1/Reshape", "dense_2/MatMul", "dense_2/BiasAdd",
                                        "dense_2/Relu", "dense_3/MatMul", "dense_3/BiasAdd"};
    cr_assert_eq(onnxc_model_node_count(m), 6);
    for (size_t i = 0; i < 6; i++) {
        onnxc_node_info ni;
        cr_assert_eq(onnxc_model_node(m, i, &ni), ONNXC_OK);
        cr_expect_str_eq(ni.op_type, ops[i]);
        cr_expect_str_eq(ni.name, names[i]);
    }
    onnxc_value_info in, out;
    cr_assert_eq(onnxc_model_input(m, 0, &in), ONNXC_OK);
    cr_assert_eq(onnxc_model_output(m, 0, &out), ONNXC_OK);
    cr_expect_str_eq(in.name, "flatten_1_input");
    cr_expect(in.rank == 3 && in.dims[1] == 28 && in.dims[2] == 28);
    cr_expect_str_eq(out.name, "dense_3");
    cr_expect(out.rank == 2 && out.dims[1] == 10);
    uint64_t count, bytes;
    onnxc_model_param_totals(m, &count, &bytes);
    /* 784*128 + 128 + 128*10 + 10 float weights; bytes add the INT64 shape [2]. */
    cr_expect_eq(count, 784 * 128 + 128 + 1280 + 10);
    cr_expect_eq(bytes, 4 * (784 * 128 + 128 + 1280 + 10) + 16);
    onnxc_model_free(m);
    free(path);
}

/* ------------------------------------------------------------------------ */
/* Layouts of every Keras version, on the reference network                  */

Test(keras, keras_2_0_bare_layer_list_fixed_strings)
{
    /* Keras 2.0: "config" is the layer list, the first Dense carries
     * batch_input_shape, strings are fixed-length ('S'). */
    const char *cfg =
        "{\"class_name\": \"Sequential\", \"config\": ["
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", \"trainable\": true, "
        "\"batch_input_shape\": [null, 3], \"dtype\": \"float32\", \"units\": 2, \"activation\": \"relu\", "
        "\"use_bias\": true}}, "
        "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout_1\", \"rate\": 0.5}}, "
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_2\", \"units\": 1, \"activation\": \"linear\", "
        "\"use_bias\": true}}]}";
    kf_layer g[] = {{"dense_1", 2, {REF_DENSE1("dense_1/kernel:0", "dense_1/bias:0")}},
                  {"dropout_1", 0, {{0}}},
                  {"dense_2", 2, {REF_DENSE2("dense_2/kernel:0", "dense_2/bias:0")}}};
    char *p = tmp("k20.h5");
    kf_write_legacy(p, cfg, "model_weights", g, 3, false);
    expect_ref(p, NULL, "keras 2.0 layout");
    free(p);
}

Test(keras, keras_3_legacy_h5_paths)
{
    const char *cfg =
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"sequential\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 3], \"dtype\": \"float32\", "
        "\"sparse\": false, \"name\": \"input_layer\"}}, "
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 2, \"activation\": \"relu\"}}, "
        "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout\", \"rate\": 0.25}}, "
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", \"units\": 1, \"activation\": \"linear\"}}]}}";
    kf_layer g[] = {{"dense", 2, {REF_DENSE1("sequential/dense/kernel", "sequential/dense/bias")}},
                  {"dropout", 0, {{0}}},
                  {"dense_1", 2, {REF_DENSE2("sequential/dense_1/kernel", "sequential/dense_1/bias")}}};
    char *p = tmp("k3.h5");
    kf_write_legacy(p, cfg, "model_weights", g, 3, true);
    expect_ref(p, NULL, "keras 3 h5 layout");
    free(p);
}

Test(keras, nested_sequential_shares_the_group)
{
    /* Inner model "block" keeps its layers' weights in model_weights/block;
     * bias is listed before kernel to show matching is by name. */
    const char *cfg =
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"outer\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3], \"name\": \"x_in\"}}, "
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"block\", \"layers\": ["
        "  {\"class_name\": \"Dense\", \"config\": {\"name\": \"hidden\", \"units\": 2, \"activation\": \"relu\", "
        "   \"batch_input_shape\": [null, 3]}}, "
        "  {\"class_name\": \"Dropout\", \"config\": {\"name\": \"drop\", \"rate\": 0.5}}]}}, "
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"out\", \"units\": 1}}]}}";
    kf_layer g[] = {{"block", 2, {{"hidden/bias:0", 1, {2, 0}, B1}, {"hidden/kernel:0", 2, {3, 2}, K1}}},
                  {"out", 2, {REF_DENSE2("out/kernel:0", "out/bias:0")}}};
    char *p = tmp("nested.h5");
    kf_write_legacy(p, cfg, "model_weights", g, 2, true);
    expect_ref(p, NULL, "nested Sequential");
    free(p);
}

Test(keras, functional_keras_2_inbound_nodes)
{
    /* Layers listed out of order; the chain comes from inbound_nodes. */
    const char *cfg =
        "{\"class_name\": \"Functional\", \"config\": {\"name\": \"model\", \"layers\": ["
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_2\", \"units\": 1, \"activation\": \"linear\"}, "
        " \"name\": \"dense_2\", \"inbound_nodes\": [[[\"dropout\", 0, 0, {}]]]}, "
        "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3], \"name\": \"input_1\"}, "
        " \"name\": \"input_1\", \"inbound_nodes\": []}, "
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", \"units\": 2, \"activation\": \"relu\"}, "
        " \"name\": \"dense_1\", \"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]}, "
        "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout\", \"rate\": 0.1}, "
        " \"name\": \"dropout\", \"inbound_nodes\": [[[\"dense_1\", 0, 0, {}]]]}], "
        "\"input_layers\": [[\"input_1\", 0, 0]], \"output_layers\": [[\"dense_2\", 0, 0]]}}";
    kf_layer g[] = {{"dense_2", 2, {REF_DENSE2("dense_2/kernel:0", "dense_2/bias:0")}},
                  {"input_1", 0, {{0}}},
                  {"dense_1", 2, {REF_DENSE1("dense_1/kernel:0", "dense_1/bias:0")}},
                  {"dropout", 0, {{0}}}};
    char *p = tmp("func2.h5");
    kf_write_legacy(p, cfg, "model_weights", g, 4, true);
    expect_ref(p, NULL, "functional keras 2");
    free(p);
}

/* A Keras 3 functional config.json: config names differ from the weight
 * store's auto names (layers/dense, layers/dense_1). */
static const char *const FUNC3 =
    "{\"module\": \"keras.src.models.functional\", \"class_name\": \"Functional\", \"config\": {"
    "\"name\": \"functional\", \"trainable\": true, \"layers\": ["
    "{\"module\": \"keras.layers\", \"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 3], "
    " \"dtype\": \"float32\", \"sparse\": false, \"name\": \"input_layer\"}, \"registered_name\": null, "
    " \"name\": \"input_layer\", \"inbound_nodes\": []}, "
    "{\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"config\": {\"name\": \"hidden\", \"units\": 2, "
    " \"activation\": \"relu\", \"use_bias\": true}, \"name\": \"hidden\", \"inbound_nodes\": [{\"args\": "
    " [{\"class_name\": \"__keras_tensor__\", \"config\": {\"shape\": [null, 3], \"dtype\": \"float32\", "
    " \"keras_history\": [\"input_layer\", 0, 0]}}], \"kwargs\": {}}]}, "
    "{\"module\": \"keras.layers\", \"class_name\": \"Dropout\", \"config\": {\"name\": \"drop\", \"rate\": 0.5, "
    " \"seed\": null}, \"name\": \"drop\", \"inbound_nodes\": [{\"args\": [{\"class_name\": \"__keras_tensor__\", "
    " \"config\": {\"keras_history\": [\"hidden\", 0, 0]}}], \"kwargs\": {\"training\": false}}]}, "
    "{\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"config\": {\"name\": \"out\", \"units\": 1, "
    " \"activation\": \"linear\"}, \"name\": \"out\", \"inbound_nodes\": [{\"args\": [{\"class_name\": "
    " \"__keras_tensor__\", \"config\": {\"keras_history\": [\"drop\", 0, 0]}}], \"kwargs\": {}}]}], "
    "\"input_layers\": [\"input_layer\", 0, 0], \"output_layers\": [\"out\", 0, 0]}}";

static const kf_weight D1[] = {REF_DENSE1("0", "1")};
static const kf_weight D2[] = {REF_DENSE2("0", "1")};

Test(keras, keras_zip_functional_auto_named_weights)
{
    char *w = tmp("model.weights.h5"), *p = tmp("func3.keras");
    kf_write_store(w, (const char *const[]){"layers/dense", "layers/dense_1"}, (const kf_weight *const[]){D1, D2},
                (int[]){2, 2}, 2);
    /* Keras 3 Dropout layers own a seed generator state: not a weight. */
    hid_t f = H5Fopen(w, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = kf_group(f, "layers/dropout/seed_generator/vars");
    kf_dataset(g, "0", 1, (hsize_t[]){2}, (const float[]){1, 2});
    H5Gclose(g);
    H5Fclose(f);
    kf_write_zip(p, FUNC3, w, NULL);
    expect_ref(p, NULL, "keras 3 functional .keras");
    free(w);
    free(p);
}

Test(keras, keras_zip_nested_sequential)
{
    const char *cfg =
        "{\"module\": \"keras\", \"class_name\": \"Sequential\", \"config\": {\"name\": \"sequential_9\", "
        "\"layers\": [{\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 3], \"name\": \"in\"}}, "
        "{\"module\": \"keras\", \"class_name\": \"Sequential\", \"config\": {\"name\": \"block\", \"layers\": ["
        " {\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 3], \"name\": \"block_in\"}}, "
        " {\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_77\", \"units\": 2, \"activation\": \"relu\"}}]}}, "
        "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout_3\", \"rate\": 0.5}}, "
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_78\", \"units\": 1}}]}}";
    char *w = tmp("nested.weights.h5"), *p = tmp("nested.keras");
    kf_write_store(w, (const char *const[]){"layers/sequential/layers/dense", "layers/dense"},
                (const kf_weight *const[]){D1, D2}, (int[]){2, 2}, 2);
    kf_write_zip(p, cfg, w, NULL);
    expect_ref(p, NULL, "nested .keras");
    free(w);
    free(p);
}

Test(keras, weights_only_files_with_arch_spec)
{
    kf_layer g[] = {{"dense", 2, {REF_DENSE1("dense/kernel:0", "dense/bias:0")}},
                  {"dropout", 0, {{0}}},
                  {"dense_1", 2, {REF_DENSE2("dense_1/kernel:0", "dense_1/bias:0")}}};
    char *p = tmp("weights_only.h5"), *q = tmp("model.weights.h5");
    kf_write_legacy(p, NULL, "", g, 3, true);
    expect_refused(p, NULL, ONNXC_ERR_UNSUPPORTED, NEEDLES("weights_only.h5", "only weights", "784,64:relu"),
                   "tf.keras save_weights without arch");
    expect_ref(p, "3,2:relu,1", "tf.keras save_weights + arch");
    kf_write_store(q, (const char *const[]){"layers/dense", "layers/dense_1"}, (const kf_weight *const[]){D1, D2},
                (int[]){2, 2}, 2);
    expect_refused(q, NULL, ONNXC_ERR_UNSUPPORTED, NEEDLES("only weights"), "keras 3 weights without arch");
    expect_ref(q, "3,2:relu,1", "keras 3 .weights.h5 + arch");
    /* The spec must fit the file. */
    expect_refused(q, "3,5:relu,1", ONNXC_ERR_MODEL, NEEDLES("layers/dense/vars/0", "[3,2]", "[3,5]"),
                   "arch spec with the wrong width");
    expect_refused(q, "3,2:relu", ONNXC_ERR_MODEL, NEEDLES("layers/dense_1"), "arch spec with too few layers");
    expect_refused(p, "3,2:relu", ONNXC_ERR_MODEL, NEEDLES("weight tensors"), "arch spec with too few layers");
    free(p);
    free(q);
}

/* ------------------------------------------------------------------------ */
/* Layers and activations                                                    */

/* A one-layer model x[N,in] -> layer, in the Keras 3 h5 layout. */
static char *one_dense(const char *file, const char *activation, int64_t in, int64_t units,
                       const float *k, const float *b)
{
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
             "{\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, %lld], \"name\": \"x\"}}, "
             "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": %lld, \"activation\": %s}}]}}",
             (long long)in, (long long)units, activation);
    kf_layer g[] = {{"d", 2, {{"s/d/kernel", 2, {(hsize_t)in, (hsize_t)units}, k}, {"s/d/bias", 1, {(hsize_t)units, 0}, b}}}};
    char *p = tmp(file);
    kf_write_legacy(p, cfg, "model_weights", g, 1, true);
    return p;
}

/* Every Dense activation Keras names. z = x K + b for x = [[0.7], [-1.3]],
 * K = [[1, -2, 0.5]], b = [0, 0.5, -1] is [[0.7, -0.9, -0.65], [-1.3, 3.1,
 * -1.65]]; the expected values are numpy's (float64) f(z), e.g. softmax per
 * row, gelu 0.5 z (1 + erf(z / sqrt 2)), selu with Keras' constants. */
Test(keras, dense_activations)
{
    static const struct { const char *name; double y[6]; } acts[] = {
        {"linear", {0.7, -0.9, -0.65, -1.3, 3.1, -1.65}},
        {"relu", {0.7, 0, 0, 0, 3.1, 0}},
        {"sigmoid", {0.668187772, 0.289050497, 0.342989537, 0.214165017, 0.956892745, 0.16110895}},
        {"tanh", {0.604367777, -0.71629787, -0.571669966, -0.861723159, 0.995949359, -0.928857621}},
        {"softmax", {0.684398623, 0.138177699, 0.177423678, 0.0120256546, 0.97950001, 0.00847433554}},
        {"elu", {0.7, -0.59343034, -0.477954223, -0.727468207, 3.1, -0.807950091}},
        {"selu", {0.735490691, -1.04330949, -0.840291005, -1.27896138, 3.25717306, -1.42045652}},
        {"softplus", {1.10318605, 0.341153875, 0.420055336, 0.241008454, 3.14406397, 0.175674437}},
        {"gelu", {0.530625443, -0.165654113, -0.167599972, -0.12584063, 3.09700043, -0.0816279223}},
        {"swish", {0.467731441, -0.260145448, -0.222943199, -0.278414522, 2.96636751, -0.265829767}},
        {"softsign", {0.411764706, -0.473684211, -0.393939394, -0.565217391, 0.756097561, -0.622641509}},
        {"exponential", {2.01375271, 0.40656966, 0.522045777, 0.272531793, 22.1979513, 0.192049909}},
        {"log_softmax", {-0.379214748, -1.97921475, -1.72921475, -4.42071303, -0.0207130315, -4.77071303}},
        {"relu6", {0.7, 0, 0, 0, 3.1, 0}},
        {"leaky_relu", {0.7, -0.18, -0.13, -0.26, 3.1, -0.33}},
    };
    static const float k[] = {1, -2, 0.5f}, b[] = {0, 0.5f, -1}, x[] = {0.7f, -1.3f};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        char act[64], file[64];
        snprintf(act, sizeof act, "\"%s\"", acts[i].name);
        snprintf(file, sizeof file, "act_%s.h5", acts[i].name);
        char *p = one_dense(file, act, 1, 3, k, b);
        /* gelu needs Erf and softsign Softsign, which the runtime may not
         * have yet: then the conversion is checked (onnx.checker) but not run. */
        if (!strcmp(acts[i].name, "gelu") || !strcmp(acts[i].name, "softsign")) {
            onnxc_error err;
            onnxc_model *m = NULL;
            void *bytes;
            size_t size;
            cr_assert_eq(convert(p, NULL, &bytes, &size, &err), ONNXC_OK, "%s: %s", acts[i].name, err.message);
            py_check(bytes, size, acts[i].name);
            onnxc_status st = onnxc_model_load_memory(bytes, size, NULL, acts[i].name, NULL, &m, &err);
            if (st == ONNXC_OK) {
                onnxc_session *sess = NULL;
                onnxc_tensor in = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {2, 1}, .data = (void *)x}, out = {0};
                st = onnxc_session_create(m, NULL, &sess, &err);
                if (st == ONNXC_OK) st = onnxc_session_run(sess, &in, 1, &out, 1, &err);
                onnxc_session_free(sess);
            }
            onnxc_model_free(m);
            oc_free(bytes);
            if (st == ONNXC_ERR_UNSUPPORTED) {
                cr_log_info("activation %s converted and checked, not run: %s", acts[i].name, err.message);
                free(p);
                continue;
            }
        }
        expect_runs(p, NULL, x, 2, (int64_t[]){2, 1}, acts[i].y, 6, acts[i].name);
        free(p);
    }
    /* Keras 3 may serialize an activation as a function object. */
    char *p = one_dense("act_obj.h5", "{\"module\": \"keras.activations\", \"class_name\": \"function\", "
                                      "\"config\": \"relu\", \"registered_name\": \"function\"}", 1, 3, k, b);
    expect_runs(p, NULL, x, 2, (int64_t[]){2, 1}, acts[1].y, 6, "activation object");
    free(p);
}

/* x[N,4] -> one activation layer; expected values by hand or numpy. */
static void act_layer(const char *layer_json, const double *y, const char *what)
{
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
             "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4], \"name\": \"x\"}}, %s]}}",
             layer_json);
    char *p = tmp("act_layer.h5");
    kf_write_legacy(p, cfg, "model_weights", (kf_layer[]){{"a", 0, {{0}}}}, 1, true);
    static const float x[] = {-2, -0.5f, 0.5f, 8};
    expect_runs(p, NULL, x, 2, (int64_t[]){1, 4}, y, 4, what);
    free(p);
}

Test(keras, activation_layers)
{
    act_layer("{\"class_name\": \"LeakyReLU\", \"config\": {\"name\": \"a\", \"alpha\": 0.3}}",
              (double[]){-0.6, -0.15, 0.5, 8}, "LeakyReLU alpha (Keras 2)");
    act_layer("{\"class_name\": \"LeakyReLU\", \"config\": {\"name\": \"a\", \"negative_slope\": 0.1}}",
              (double[]){-0.2, -0.05, 0.5, 8}, "LeakyReLU negative_slope (Keras 3)");
    act_layer("{\"class_name\": \"LeakyReLU\", \"config\": {\"name\": \"a\"}}",
              (double[]){-0.6, -0.15, 0.5, 8}, "LeakyReLU default 0.3");
    act_layer("{\"class_name\": \"ReLU\", \"config\": {\"name\": \"a\", \"max_value\": 6.0, "
              "\"negative_slope\": 0.0, \"threshold\": 0.0}}", (double[]){0, 0, 0.5, 6}, "ReLU max_value");
    act_layer("{\"class_name\": \"ReLU\", \"config\": {\"name\": \"a\", \"max_value\": null}}",
              (double[]){0, 0, 0.5, 8}, "ReLU");
    /* numpy: expm1 / softmax / tanh of [-2, -0.5, 0.5, 8]. */
    act_layer("{\"class_name\": \"ELU\", \"config\": {\"name\": \"a\", \"alpha\": 1.0}}",
              (double[]){-0.864664717, -0.39346934, 0.5, 8}, "ELU");
    act_layer("{\"class_name\": \"Softmax\", \"config\": {\"name\": \"a\", \"axis\": -1}}",
              (double[]){4.53635503e-05, 0.000203305328, 0.000552641178, 0.99919869}, "Softmax");
    act_layer("{\"class_name\": \"Activation\", \"config\": {\"name\": \"a\", \"activation\": \"tanh\"}}",
              (double[]){-0.96402758, -0.462117157, 0.462117157, 0.999999775}, "Activation tanh");
}

/* BatchNormalization, inference: gamma [1,2,0.5], beta [0,1,-1], mean
 * [0.5,-1,2], var [4,0.25,1], epsilon 1e-3; expected from numpy's
 * (x - mean) / sqrt(var + eps) * gamma + beta for x = [[1,2,3],[-1,0.5,-2]]. */
static const float BN_G[] = {1, 2, 0.5f}, BN_B[] = {0, 1, -1}, BN_M[] = {0.5f, -1, 2}, BN_V[] = {4, 0.25f, 1};

static void bn_case(const char *axis, const char *shape, const char *flags, bool full, int rank,
                    const int64_t *dims, const double *y, const char *what)
{
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
             "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": %s, \"name\": \"x\"}}, "
             "{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"bn\", \"axis\": %s, "
             "\"momentum\": 0.99, \"epsilon\": 0.001%s}}]}}", shape, axis, flags);
    kf_layer full_g = {"bn", 4, {{"bn/gamma:0", 1, {3, 0}, BN_G}, {"bn/beta:0", 1, {3, 0}, BN_B},
                               {"bn/moving_mean:0", 1, {3, 0}, BN_M}, {"bn/moving_variance:0", 1, {3, 0}, BN_V}}};
    kf_layer bare_g = {"bn", 2, {{"bn/moving_mean:0", 1, {3, 0}, BN_M}, {"bn/moving_variance:0", 1, {3, 0}, BN_V}}};
    char *p = tmp("bn.h5");
    kf_write_legacy(p, cfg, "model_weights", full ? &full_g : &bare_g, 1, true);
    static const float x[] = {1, 2, 3, -1, 0.5f, -2};
    expect_runs(p, NULL, x, rank, dims, y, 6, what);
    free(p);
}

Test(keras, batch_normalization)
{
    static const double y[] = {0.249968756, 12.9760718, -0.500249813, -0.749906268, 6.98803588, -2.99900075};
    static const double bare[] = {0.249968756, 5.98803588, 0.999500375, -0.749906268, 2.99401794, -3.9980015};
    bn_case("[1]", "[null, 3]", "", true, 2, (int64_t[]){2, 3}, y, "BN axis [1] (tf.keras)");
    bn_case("-1", "[null, 3]", "", true, 2, (int64_t[]){2, 3}, y, "BN axis -1 (Keras 3)");
    bn_case("-1", "[null, 3]", ", \"center\": false, \"scale\": false", false, 2, (int64_t[]){2, 3}, bare,
            "BN center/scale false");
    /* Channels last on a rank-3 value becomes Mul + Add. */
    bn_case("-1", "[null, 2, 3]", "", true, 3, (int64_t[]){1, 2, 3}, y, "BN rank 3 channels last");
}

Test(keras, flatten_and_reshape)
{
    /* x [1,2,2] = [[1,2],[3,4]] -> flat [1,2,3,4] -> Dense(1) kernel [1,2,3,4]^T, bias 0 -> 30. */
    static const float k[] = {1, 2, 3, 4}, b[] = {0}, x[] = {1, 2, 3, 4};
    const char *layers[] = {"{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\", \"data_format\": \"channels_last\"}}",
                            "{\"class_name\": \"Reshape\", \"config\": {\"name\": \"f\", \"target_shape\": [-1]}}",
                            "{\"class_name\": \"Reshape\", \"config\": {\"name\": \"f\", \"target_shape\": [4]}}"};
    for (int i = 0; i < 3; i++) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg,
                 "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                 "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 2, 2], \"name\": \"x\"}}, "
                 "%s, {\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 1}}]}}", layers[i]);
        kf_layer g[] = {{"f", 0, {{0}}}, {"d", 2, {{"d/kernel:0", 2, {4, 1}, k}, {"d/bias:0", 1, {1, 0}, b}}}};
        char *p = tmp("flat.h5");
        kf_write_legacy(p, cfg, "model_weights", g, 2, true);
        expect_runs(p, NULL, x, 3, (int64_t[]){1, 2, 2}, (double[]){30}, 1, layers[i]);
        free(p);
    }
}

/* ------------------------------------------------------------------------ */
/* Refusals                                                                  */

/* The reference network in the Keras 2 layout with `config` as its
 * model_config. */
static char *ref_with_config(const char *file, const char *config)
{
    kf_layer g[] = {{"dense", 2, {REF_DENSE1("dense/kernel:0", "dense/bias:0")}},
                  {"dense_1", 2, {REF_DENSE2("dense_1/kernel:0", "dense_1/bias:0")}}};
    char *p = tmp(file);
    kf_write_legacy(p, config, "model_weights", g, 2, true);
    return p;
}

#define SEQ_HEAD "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": [" \
                 "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3], \"name\": \"x\"}}, "
#define DENSE_A "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 2, \"activation\": \"relu\"}}"
#define DENSE_B "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", \"units\": 1}}"

Test(keras, lambda_and_other_unconvertible_layers_listed_at_once)
{
    char *p = ref_with_config("lambda.h5",
        SEQ_HEAD DENSE_A ", "
        "{\"class_name\": \"Lambda\", \"config\": {\"name\": \"evil\", \"function\": "
        "[\"4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMEAAAAfABTACkBTqkAKQHaAXhyAQAAAHIBAAAA\", null, null], "
        "\"function_type\": \"lambda\", \"module\": \"__main__\"}}, "
        "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv\", \"filters\": 4}}, "
        DENSE_B "]}}");
    onnxc_error err;
    void *bytes = NULL;
    size_t size;
    cr_assert_eq(convert(p, NULL, &bytes, &size, &err), ONNXC_ERR_UNSUPPORTED, "%s", err.message);
    char *nl = strchr(err.message, '\n');
    cr_assert(nl, "expected one line per layer: %s", err.message);
    cr_expect(strstr(err.message, "'evil' (Lambda)") && strstr(err.message, "Python code"), "%s", err.message);
    cr_expect(strstr(nl + 1, "'conv' (Conv2D)"), "%s", err.message);
    cr_expect(strstr(err.message, "lambda.h5"), "%s", err.message);
    free(p);
}

Test(keras, malformed_json)
{
    char *p = ref_with_config("badjson.h5", SEQ_HEAD DENSE_A ", " DENSE_B "]");
    expect_refused(p, NULL, ONNXC_ERR_PARSE, NEEDLES("badjson.h5", "model_config", "malformed JSON"), "truncated JSON");
    free(p);
    p = ref_with_config("trailing.h5", SEQ_HEAD DENSE_A ", " DENSE_B "]}} x");
    expect_refused(p, NULL, ONNXC_ERR_PARSE, NEEDLES("extra text"), "trailing text");
    free(p);
    p = ref_with_config("notmodel.h5", "[1, 2, 3]");
    expect_refused(p, NULL, ONNXC_ERR_MODEL, NEEDLES("model_config"), "a list of numbers");
    free(p);
    p = ref_with_config("units.h5", SEQ_HEAD "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", "
                                    "\"units\": \"two\"}}, " DENSE_B "]}}");
    expect_refused(p, NULL, ONNXC_ERR_MODEL, NEEDLES("'dense' (Dense)", "units"), "units as a string");
    free(p);
}

Test(keras, non_utf8_json)
{
    char *p = ref_with_config("latin1.h5", SEQ_HEAD "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\xe9nse\", "
                                           "\"units\": 2}}, " DENSE_B "]}}");
    expect_refused(p, NULL, ONNXC_ERR_PARSE, NEEDLES("UTF-8", "0xe9"), "latin-1 byte");
    free(p);
    /* An overlong encoding of '/' (0xC0 0xAF). */
    p = ref_with_config("overlong.h5", SEQ_HEAD "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\xc0\xaf\", "
                                       "\"units\": 2}}, " DENSE_B "]}}");
    expect_refused(p, NULL, ONNXC_ERR_PARSE, NEEDLES("UTF-8"), "overlong UTF-8");
    free(p);
}

Test(keras, deeply_nested_json)
{
    size_t depth = 5000;
    char *cfg = malloc(2 * depth + 1);
    for (size_t i = 0; i < depth; i++) cfg[i] = '[', cfg[depth + i] = ']';
    cfg[2 * depth] = '\0';
    char *p = ref_with_config("deep.h5", cfg);
    expect_refused(p, NULL, ONNXC_ERR_LIMIT, NEEDLES("nested deeper"), "JSON 5000 deep");
    free(p);
    free(cfg);
}

Test(keras, weight_shape_mismatch)
{
    const float k[15] = {0};
    kf_layer g[] = {{"dense", 2, {{"dense/kernel:0", 2, {3, 5}, k}, {"dense/bias:0", 1, {2, 0}, B1}}},
                  {"dense_1", 2, {REF_DENSE2("dense_1/kernel:0", "dense_1/bias:0")}}};
    char *p = tmp("mismatch.h5");
    kf_write_legacy(p, SEQ_HEAD DENSE_A ", " DENSE_B "]}}", "model_weights", g, 2, true);
    expect_refused(p, NULL, ONNXC_ERR_MODEL,
                   NEEDLES("mismatch.h5", "model_weights/dense/dense/kernel:0", "[3,5]", "expects [3,2]"),
                   "kernel [3,5] for units 2");
    free(p);
    /* A weight the config has no layer for. */
    kf_layer g2[] = {{"dense", 2, {REF_DENSE1("dense/kernel:0", "dense/bias:0")}},
                   {"dense_1", 3, {REF_DENSE2("dense_1/kernel:0", "dense_1/bias:0"), {"dense_1/extra:0", 1, {1, 0}, B2}}}};
    p = tmp("extra.h5");
    kf_write_legacy(p, SEQ_HEAD DENSE_A ", " DENSE_B "]}}", "model_weights", g2, 2, true);
    expect_refused(p, NULL, ONNXC_ERR_MODEL, NEEDLES("dense_1/extra:0"), "extra weight");
    free(p);
}

/* The reference model, with model_weights/dense replaced by `make`. */
static char *ref_with_hook(const char *file, void (*make)(hid_t mw, const char *dir))
{
    char *p = ref_with_config(file, SEQ_HEAD DENSE_A ", " DENSE_B "]}}");
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t mw = H5Gopen2(f, "model_weights", H5P_DEFAULT);
    cr_assert(H5Ldelete(mw, "dense", H5P_DEFAULT) >= 0);
    make(mw, tmp_dir);
    H5Gclose(mw);
    H5Fclose(f);
    return p;
}

static void make_external_link(hid_t mw, const char *dir)
{
    (void)dir;
    cr_assert(H5Lcreate_external("/etc/other.h5", "/model_weights/dense", mw, "dense", H5P_DEFAULT,
                                 H5P_DEFAULT) >= 0);
}

static void make_soft_cycle(hid_t mw, const char *dir)
{
    (void)dir;
    cr_assert(H5Lcreate_soft("/model_weights/loop", mw, "dense", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    cr_assert(H5Lcreate_soft("/model_weights/dense", mw, "loop", H5P_DEFAULT, H5P_DEFAULT) >= 0);
}

static void make_external_storage(hid_t mw, const char *dir)
{
    hid_t g = kf_group(mw, "dense");
    const char *wn[] = {"dense/kernel:0", "dense/bias:0"};
    kf_attr_list(g, "weight_names", wn, 2, true);
    char *ext = tu_path("%s/kernel.bin", dir);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    cr_assert(H5Pset_external(dcpl, ext, 0, sizeof K1) >= 0);
    hsize_t dims[2] = {3, 2};
    hid_t s = H5Screate_simple(2, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(g, "dense/kernel:0", H5T_IEEE_F32LE, s, lcpl, dcpl, H5P_DEFAULT);
    cr_assert(d >= 0);
    cr_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, K1) >= 0);
    kf_dataset(g, "dense/bias:0", 1, (hsize_t[]){2}, B1);
    H5Dclose(d);
    H5Sclose(s);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Gclose(g);
    free(ext);
}

static void make_huge(hid_t mw, const char *dir)
{
    (void)dir;
    hid_t g = kf_group(mw, "dense");
    const char *wn[] = {"dense/kernel:0", "dense/bias:0"};
    kf_attr_list(g, "weight_names", wn, 2, true);
    /* 2^50 floats declared, nothing stored: chunked storage is allocated
     * only when written. */
    hsize_t dims[2] = {(hsize_t)1 << 30, (hsize_t)1 << 20}, chunk[2] = {64, 64};
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    hid_t s = H5Screate_simple(2, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(g, "dense/kernel:0", H5T_IEEE_F32LE, s, lcpl, dcpl, H5P_DEFAULT);
    cr_assert(d >= 0);
    kf_dataset(g, "dense/bias:0", 1, (hsize_t[]){2}, B1);
    H5Dclose(d);
    H5Sclose(s);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Gclose(g);
}

static void make_nan(hid_t mw, const char *dir)
{
    (void)dir;
    hid_t g = kf_group(mw, "dense");
    const char *wn[] = {"dense/kernel:0", "dense/bias:0"};
    kf_attr_list(g, "weight_names", wn, 2, true);
    float k[6] = {1, 2, NAN, 4, 5, 6};
    kf_dataset(g, "dense/kernel:0", 2, (hsize_t[]){3, 2}, k);
    kf_dataset(g, "dense/bias:0", 1, (hsize_t[]){2}, B1);
    H5Gclose(g);
}

Test(keras, links_and_storage_outside_the_file)
{
    char *p = ref_with_hook("extlink.h5", make_external_link);
    expect_refused(p, NULL, ONNXC_ERR_UNSUPPORTED, NEEDLES("extlink.h5", "external link", "model_weights/dense"),
                   "external link");
    free(p);
    p = ref_with_hook("extstore.h5", make_external_storage);
    expect_refused(p, NULL, ONNXC_ERR_UNSUPPORTED, NEEDLES("extstore.h5", "external file", "dense/kernel:0"),
                   "external storage");
    free(p);
    p = ref_with_hook("cycle.h5", make_soft_cycle);
    expect_refused(p, NULL, ONNXC_ERR_MODEL, NEEDLES("cycle.h5", "soft links", "cycle"), "soft-link cycle");
    free(p);
}

Test(keras, huge_dataspace_and_nan_weights)
{
    char *p = ref_with_hook("huge.h5", make_huge);
    expect_refused(p, NULL, ONNXC_ERR_LIMIT, NEEDLES("huge.h5", "dense/kernel:0", "max_tensor_bytes"),
                   "2^50-element dataspace");
    free(p);
    p = ref_with_hook("nan.h5", make_nan);
    expect_refused(p, NULL, ONNXC_ERR_MODEL, NEEDLES("dense/kernel:0", "NaN"), "NaN weight");
    free(p);
}

Test(keras, unsafe_and_broken_zips)
{
    char *w = tmp("model.weights.h5"), *p = tmp("evil.keras");
    kf_write_store(w, (const char *const[]){"layers/dense", "layers/dense_1"}, (const kf_weight *const[]){D1, D2},
                (int[]){2, 2}, 2);
    kf_write_zip(p, FUNC3, w, "../../etc/evil");
    expect_refused(p, NULL, ONNXC_ERR_MODEL, NEEDLES("evil.keras", "../../etc/evil"), "'..' entry");
    kf_write_zip(p, FUNC3, w, "/abs/path");
    expect_refused(p, NULL, ONNXC_ERR_MODEL, NEEDLES("/abs/path"), "absolute entry");
    kf_write_zip(p, FUNC3, NULL, NULL);
    expect_refused(p, NULL, ONNXC_ERR_MODEL, NEEDLES("model.weights.h5"), "no weights entry");
    /* Cut the archive short: libzip finds no central directory. */
    kf_write_zip(p, FUNC3, w, NULL);
    void *data;
    size_t size;
    cr_assert(tu_read_file(p, &data, &size));
    cr_assert(tu_write_file(p, data, size / 2));
    expect_refused(p, NULL, ONNXC_ERR_PARSE, NEEDLES("zip"), "truncated zip");
    free(data);
    free(w);
    free(p);
}

/* Truncations and random bit flips of real files end in a clean refusal or
 * a model that loads; never a crash (ASan runs this in CI). */
Test(keras, truncated_and_bit_flipped_files)
{
    const char *files[] = {"keras-2.4.0_dig94_keras_mnist.h5", "keras-3.3.3_4bumuhammad_mnist_model.h5",
                           "keras-3.6.0_Carvas91_mnist_model.keras"};
    tu_rng rng = {20240601};
    for (size_t f = 0; f < 3; f++) {
        char *src = tu_path("%s/models/real/%s", ONNXC_SHARED_DIR, files[f]);
        char *dst = tmp(strstr(files[f], ".keras") ? "mut.keras" : "mut.h5");
        uint8_t *data;
        size_t size;
        cr_assert(tu_read_file(src, (void **)&data, &size));
        uint8_t *copy = malloc(size);
        for (int round = 0; round < 60; round++) {
            memcpy(copy, data, size);
            size_t n = size;
            if (round < 12) {
                n = (size_t)((double)size * (round + 1) / 13.0);   /* truncated */
            } else {
                /* Flips in the first 64 KiB, where the metadata lives. */
                size_t span = size < 65536 ? size : 65536;
                for (int k = 0; k < 8; k++) copy[tu_rng_next(&rng) % span] ^= (uint8_t)(1u << (tu_rng_next(&rng) % 8));
            }
            cr_assert(tu_write_file(dst, copy, n));
            onnxc_error err;
            void *bytes = NULL;
            size_t bsize;
            /* Isolated: libhdf5 1.10 can crash on some of these. */
            onnxc_status st = convert_isolated(dst, NULL, &bytes, &bsize, &err);
            if (round < 12) cr_expect_neq(st, ONNXC_OK, "%s cut to %zu bytes converted", files[f], n);
            if (st == ONNXC_OK) {
                onnxc_model *m = NULL;
                onnxc_model_load_memory(bytes, bsize, NULL, "mutant", NULL, &m, &err);
                onnxc_model_free(m);
            } else {
                cr_expect(strlen(err.message) > 0, "%s: refusal without a message", files[f]);
            }
            oc_free(bytes);
        }
        free(copy);
        free(data);
        free(src);
        free(dst);
    }
}

/* One flipped bit (byte 1990: the high bit of a variable-length string's
 * heap index) makes libhdf5 1.10.8 read through a wild pointer. The
 * conversion must come back as a refusal (a crash of the child process, or
 * an error from a libhdf5 that checks the index). */
Test(keras, crash_in_libhdf5_is_contained)
{
    char *src = tu_path("%s/models/real/keras-3.10.0_Abdullah2265Habib_mnist_model.h5", ONNXC_SHARED_DIR);
    uint8_t *data;
    size_t size;
    cr_assert(tu_read_file(src, (void **)&data, &size));
    cr_assert(size > 1990 && data[1990] == 0);
    data[1990] ^= 0x80;
    char *p = tmp("crasher.h5");
    cr_assert(tu_write_file(p, data, size));
    onnxc_error err;
    void *bytes = NULL;
    size_t n;
    onnxc_status st = convert_isolated(p, NULL, &bytes, &n, &err);
    cr_expect_eq(st, ONNXC_ERR_PARSE, "status %s: %s", onnxc_status_name(st), st ? err.message : "converted");
    cr_expect(strstr(err.message, "crasher.h5"), "%s", err.message);
    oc_free(bytes);
    /* The isolated path returns the same model bytes as the local one. */
    void *a, *b;
    size_t na, nb;
    cr_assert_eq(convert(src, NULL, &a, &na, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(convert_isolated(src, NULL, &b, &nb, &err), ONNXC_OK, "%s", err.message);
    cr_expect(na == nb && memcmp(a, b, na) == 0, "isolated conversion differs");
    oc_free(a);
    oc_free(b);
    free(data);
    free(src);
    free(p);
}

/* libhdf5 prints its error stack by default; the library must not. */
Test(keras, library_never_prints)
{
    char *p = tmp("cut.h5");
    char *src = tu_path("%s/models/real/keras-2.7.0_ghss-k_mlp.h5", ONNXC_SHARED_DIR);
    void *data;
    size_t size;
    cr_assert(tu_read_file(src, &data, &size));
    cr_assert(tu_write_file(p, data, size / 3));
    char *log = tmp("stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(log, "w");
    cr_assert(f && saved >= 0);
    dup2(fileno(f), 2);
    onnxc_error err;
    void *bytes = NULL;
    size_t n;
    onnxc_status a = convert(p, NULL, &bytes, &n, &err);
    onnxc_status b = convert_isolated(p, NULL, &bytes, &n, &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(f);
    cr_expect(a != ONNXC_OK && b != ONNXC_OK, "a truncated file converted");
    cr_expect_eq(tu_file_size(log), 0, "the conversion wrote to stderr");
    free(data);
    free(src);
    free(log);
    free(p);
}

Test(keras, sniff)
{
    cr_expect_eq(oc_keras_sniff("\x89HDF\r\n\x1a\n", 8), 1);
    cr_expect_eq(oc_keras_sniff("PK\x03\x04", 4), 2);
    cr_expect_eq(oc_keras_sniff("\x08\x07\x12", 3), 0);
    cr_expect_eq(oc_keras_sniff("\x89HDF", 4), 0);
    char *p = tmp("fake.h5");
    cr_assert(tu_write_file(p, "\x89HDF\r\n\x1a\n garbage", 17));
    expect_refused(p, NULL, ONNXC_ERR_PARSE, NEEDLES("fake.h5", "HDF5"), "HDF5 signature then garbage");
    free(p);
}
