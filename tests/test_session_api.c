/*
 * The public model/session API: introspection, binding by name and position,
 * caller-owned outputs, re-planning on new shapes, thread settings, and the
 * error paths (each message names what is wrong). Models are built here with
 * python's onnx.helper or taken from ../shared/models/real; expected values
 * are hand-computed.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "onnxc.h"
#include "testutil.h"

#define REAL ONNXC_SHARED_DIR "/models/real/"

static onnxc_model *load(const char *path)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(path, NULL, &m, &err), ONNXC_OK, "%s", err.message);
    return m;
}

/* Writes a model built by a python snippet (variable `m`) to dir/name. */
static char *python_model(const char *dir, const char *name, const char *body)
{
    char *path = tu_path("%s/%s", dir, name);
    char *script = tu_path("import onnx, numpy as np\nfrom onnx import helper as h, numpy_helper as nh, TensorProto as T\n"
                           "%s\nonnx.save(m, %s%s%s)\n", body, "'", path, "'");
    char *py = tu_path("%s/%s.py", dir, name);
    tu_write_file(py, script, strlen(script));
    tu_proc p;
    tu_run((const char *[]){"/usr/bin/python3", py, NULL}, 60, &p);
    cr_assert_eq(p.status, 0, "model script failed: %s", p.err);
    tu_proc_free(&p);
    free(script);
    free(py);
    return path;
}

Test(api, introspection_of_a_tf2onnx_model)
{
    onnxc_model *m = load(REAL "tf2onnx-1.14_op15_qianxyz_mnist-webui_model.onnx");
    cr_assert_eq(onnxc_model_input_count(m), 1);
    onnxc_value_info in, out;
    cr_assert_eq(onnxc_model_input(m, 0, &in), ONNXC_OK);
    cr_expect_str_eq(in.name, "input");
    cr_expect_eq(in.dtype, ONNXC_FLOAT);
    cr_expect_eq(in.rank, 3);
    cr_expect_eq(in.dims[0], -1);
    cr_expect_str_eq(in.dim_names[0], "unk__8");
    cr_expect_eq(in.dims[1], 28);
    cr_assert_eq(onnxc_model_output(m, 0, &out), ONNXC_OK);
    cr_expect_str_eq(out.dim_names[0], "unk__9");
    onnxc_model_meta meta;
    onnxc_model_get_meta(m, &meta);
    cr_expect_str_eq(meta.producer_name, "tf2onnx");
    cr_expect_eq(meta.ir_version, 8);
    cr_expect_eq(meta.opset_onnx, 15);
    /* Reshape -> MatMul -> Add -> Relu -> MatMul -> Add -> Softmax; 784*256+256+256*10+10 params */
    cr_expect_eq(onnxc_model_node_count(m), 7);
    uint64_t params, bytes;
    onnxc_model_param_totals(m, &params, &bytes);
    cr_expect_eq(params, 784 * 256 + 256 + 256 * 10 + 10);
    onnxc_node_shape shapes[7];
    onnxc_error err;
    cr_assert_eq(onnxc_model_infer_shapes(m, shapes, &err), ONNXC_OK, "%s", err.message);
    /* Reshape output [unk__8, 784]: the batch symbol follows from the input */
    cr_expect_eq(shapes[0].rank, 2);
    cr_expect_str_eq(shapes[0].dim_names[0], "unk__8");
    cr_expect_eq(shapes[0].dims[1], 784);
    cr_expect_eq(shapes[6].dims[1], 10);
    onnxc_model_free(m);
}

Test(api, bind_by_name_replan_and_caller_buffers)
{
    char *dir = tu_tmpdir("api");
    char *path = python_model(dir, "sub.onnx",
        "g = h.make_graph([h.make_node('Sub', ['a', 'b'], ['c'])], 'g',\n"
        "  [h.make_tensor_value_info('a', T.FLOAT, ['N', 2]), h.make_tensor_value_info('b', T.FLOAT, ['N', 2])],\n"
        "  [h.make_tensor_value_info('c', T.FLOAT, ['N', 2])])\n"
        "m = h.make_model(g, opset_imports=[h.make_opsetid('', 13)])");
    onnxc_model *m = load(path);
    onnxc_session *s;
    onnxc_error err;
    cr_assert_eq(onnxc_session_create(m, NULL, &s, &err), ONNXC_OK, "%s", err.message);
    float a[4] = {5, 6, 7, 8}, b[4] = {1, 2, 3, 4};
    /* given in the other order, bound by name: c = a - b */
    onnxc_tensor in[2] = {
        {.name = "b", .dtype = ONNXC_FLOAT, .rank = 2, .dims = {2, 2}, .data = b},
        {.name = "a", .dtype = ONNXC_FLOAT, .rank = 2, .dims = {2, 2}, .data = a},
    };
    float c[4] = {0};
    onnxc_tensor out = {.data = c, .capacity = sizeof c};
    cr_assert_eq(onnxc_session_run(s, in, 2, &out, 1, &err), ONNXC_OK, "%s", err.message);
    cr_expect(c[0] == 4 && c[3] == 4);
    /* a new batch size re-plans */
    in[0].dims[0] = in[1].dims[0] = 1;
    onnxc_tensor out2 = {0};
    cr_assert_eq(onnxc_session_run(s, in, 2, &out2, 1, &err), ONNXC_OK, "%s", err.message);
    cr_expect_eq(out2.dims[0], 1);
    cr_expect_eq(((float *)out2.data)[1], 4);
    /* too small a caller buffer */
    in[0].dims[0] = in[1].dims[0] = 2;
    onnxc_tensor small = {.data = c, .capacity = 8};
    cr_expect_eq(onnxc_session_run(s, in, 2, &small, 1, &err), ONNXC_ERR_SHAPE);
    cr_expect(strstr(err.message, "needs 16 bytes") != NULL, "%s", err.message);
    /* unknown name, duplicate, wrong count, wrong dtype, wrong rank */
    in[0].name = "zz";
    cr_expect_eq(onnxc_session_run(s, in, 2, &out, 1, &err), ONNXC_ERR_ARGUMENT);
    cr_expect(strstr(err.message, "'zz'") != NULL, "%s", err.message);
    in[0].name = "a";
    cr_expect_eq(onnxc_session_run(s, in, 2, &out, 1, &err), ONNXC_ERR_ARGUMENT);
    cr_expect(strstr(err.message, "twice") != NULL, "%s", err.message);
    in[0].name = "b";
    cr_expect_eq(onnxc_session_run(s, in, 1, &out, 1, &err), ONNXC_ERR_ARGUMENT);
    in[0].dtype = ONNXC_DOUBLE;
    cr_expect_eq(onnxc_session_run(s, in, 2, &out, 1, &err), ONNXC_ERR_SHAPE);
    cr_expect(strstr(err.message, "input 'b': expected dtype float, got double") != NULL, "%s", err.message);
    in[0].dtype = ONNXC_FLOAT;
    in[0].rank = 1;
    cr_expect_eq(onnxc_session_run(s, in, 2, &out, 1, &err), ONNXC_ERR_SHAPE);
    cr_expect(strstr(err.message, "expected shape [N,2]") != NULL, "%s", err.message);
    cr_expect_eq(onnxc_session_set_threads(s, -1, &err), ONNXC_ERR_ARGUMENT);
    cr_expect_eq(onnxc_session_set_threads(s, 2, &err), ONNXC_OK);
    cr_expect_eq(onnxc_session_threads(s), 2);
    onnxc_session_free(s);
    onnxc_model_free(m);
    tu_rmtree(dir);
    free(dir);
    free(path);
}

Test(api, every_unsupported_op_is_listed_but_the_model_loads)
{
    char *dir = tu_tmpdir("api");
    char *path = python_model(dir, "unsup.onnx",
        "g = h.make_graph([h.make_node('Sin', ['x'], ['y']), h.make_node('Cos', ['y'], ['z']),\n"
        "                  h.make_node('Sin', ['z'], ['w']), h.make_node('Foo', ['w'], ['v'], domain='com.example')], 'g',\n"
        "  [h.make_tensor_value_info('x', T.FLOAT, [2])], [h.make_tensor_value_info('v', T.FLOAT, [2])])\n"
        "m = h.make_model(g, opset_imports=[h.make_opsetid('', 13), h.make_opsetid('com.example', 1)])");
    onnxc_model *m = load(path);
    onnxc_error err;
    cr_assert_eq(onnxc_model_check(m, &err), ONNXC_ERR_UNSUPPORTED);
    cr_expect(strstr(err.message, "unsupported op Sin (domain ai.onnx, opset 13)") != NULL, "%s", err.message);
    cr_expect(strstr(err.message, "unsupported op Cos") != NULL, "%s", err.message);
    cr_expect(strstr(err.message, "unsupported op Foo (domain com.example, opset 1)") != NULL, "%s", err.message);
    cr_expect(strstr(strstr(err.message, "Sin") + 3, "Sin") == NULL, "Sin listed twice: %s", err.message);
    onnxc_session *s;
    cr_expect_eq(onnxc_session_create(m, NULL, &s, &err), ONNXC_ERR_UNSUPPORTED);
    /* it still re-saves losslessly */
    void *bytes;
    size_t n;
    cr_expect_eq(onnxc_model_save_memory(m, &bytes, &n, &err), ONNXC_OK);
    free(bytes);
    onnxc_model_free(m);
    tu_rmtree(dir);
    free(dir);
    free(path);
}

Test(api, memory_load_refuses_external_data_without_a_folder)
{
    char *dir = tu_tmpdir("api");
    char *path = python_model(dir, "ext.onnx",
        "W = nh.from_array(np.ones((300, 4), np.float32), 'W')\n"
        "g = h.make_graph([h.make_node('MatMul', ['x', 'W'], ['y'])], 'g',\n"
        "  [h.make_tensor_value_info('x', T.FLOAT, [1, 300])], [h.make_tensor_value_info('y', T.FLOAT, [1, 4])], [W])\n"
        "m = h.make_model(g, opset_imports=[h.make_opsetid('', 13)])\n"
        "onnx.save(m, '/dev/null')\n"
        "from onnx.external_data_helper import convert_model_to_external_data\n"
        "convert_model_to_external_data(m, location='w.bin', size_threshold=0)");
    void *data;
    size_t size;
    cr_assert(tu_read_file(path, &data, &size));
    onnxc_model *m = NULL;
    onnxc_error err;
    cr_expect_eq(onnxc_model_load_memory(data, size, NULL, "mem", NULL, &m, &err), ONNXC_ERR_MODEL);
    cr_expect(strstr(err.message, "initializer 'W'") != NULL, "%s", err.message);
    /* with the folder it loads, and y = 300 ones summed */
    cr_assert_eq(onnxc_model_load_memory(data, size, dir, "mem", NULL, &m, &err), ONNXC_OK, "%s", err.message);
    onnxc_session *s;
    cr_assert_eq(onnxc_session_create(m, NULL, &s, &err), ONNXC_OK);
    float x[300];
    for (int i = 0; i < 300; i++) x[i] = 1;
    onnxc_tensor in = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {1, 300}, .data = x}, out = {0};
    cr_assert_eq(onnxc_session_run(s, &in, 1, &out, 1, &err), ONNXC_OK, "%s", err.message);
    cr_expect_eq(((float *)out.data)[3], 300.0f);
    onnxc_session_free(s);
    onnxc_model_free(m);
    free(data);
    tu_rmtree(dir);
    free(dir);
    free(path);
}

Test(api, null_arguments_are_refused)
{
    onnxc_error err;
    onnxc_model *m;
    cr_expect_eq(onnxc_model_load(NULL, NULL, &m, &err), ONNXC_ERR_ARGUMENT);
    cr_expect_eq(onnxc_model_load("/nonexistent/x.onnx", NULL, &m, &err), ONNXC_ERR_IO);
    cr_expect(strstr(err.message, "/nonexistent/x.onnx") != NULL, "%s", err.message);
    cr_expect_eq(onnxc_session_run(NULL, NULL, 0, NULL, 0, &err), ONNXC_ERR_ARGUMENT);
    onnxc_model_free(NULL);
    onnxc_session_free(NULL);
    cr_expect_str_eq(onnxc_status_name(ONNXC_ERR_PARSE), "parse error");
    cr_expect_str_eq(onnxc_dtype_name(ONNXC_INT64), "int64");
}

/* Every floating-point initializer of m set to zero through its view. */
static void zero_weights(onnxc_model *m)
{
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        cr_assert_eq(onnxc_model_initializer(m, i, &v), ONNXC_OK);
        if (v.dtype == ONNXC_FLOAT && v.data) memset(v.data, 0, v.capacity);
    }
}

/* Weights written through initializer views: a session (which keeps packed
 * copies) runs them after onnxc_model_weights_changed, a trainer at once.
 * With every weight and bias zero each logit is 0 and softmax gives 0.1 to
 * each of the 10 classes; a last bias of [ln 9, 0, ...] gives class 0 a
 * probability of 9/(9+9) = 0.5, and label 0 a cross-entropy of ln 2. */
Test(api, weights_written_through_views_run_after_weights_changed)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec("784,64:relu,64:relu,10:softmax", 3, &m, &err), ONNXC_OK, "%s",
                 err.message);
    enum { ROWS = 2, IN = 784, CLASSES = 10 };
    static float x[ROWS * IN];
    for (int i = 0; i < ROWS * IN; i++) x[i] = (float)(i % 7) * 0.25f;
    onnxc_tensor in = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {ROWS, IN}, .data = x};
    float y[ROWS * CLASSES];
    onnxc_tensor out = {.data = y, .capacity = sizeof y};
    onnxc_session *s;
    cr_assert_eq(onnxc_session_create(m, NULL, &s, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_session_run(s, &in, 1, &out, 1, &err), ONNXC_OK, "%s", err.message);
    float spread = 0;
    for (int i = 0; i < ROWS * CLASSES; i++) spread = fmaxf(spread, fabsf(y[i] - 0.1f));
    cr_assert(spread > 1e-3f, "the random model's outputs are not uniform");

    zero_weights(m);
    onnxc_model_weights_changed(m);
    cr_assert_eq(onnxc_session_run(s, &in, 1, &out, 1, &err), ONNXC_OK, "%s", err.message);
    for (int i = 0; i < ROWS * CLASSES; i++)
        cr_expect(fabsf(y[i] - 0.1f) < 1e-7f, "output %d: %.9g, want 0.1", i, y[i]);

    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    onnxc_trainer *t;
    cr_assert_eq(onnxc_trainer_create(m, &o, &t, &err), ONNXC_OK, "%s", err.message);
    int64_t labels[ROWS] = {0, 0};
    onnxc_tensor lt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {ROWS}, .data = labels};
    onnxc_batch_result r;
    cr_assert_eq(onnxc_trainer_evaluate_batch(t, &in, &lt, &r, NULL, 0, &err), ONNXC_OK, "%s", err.message);
    cr_expect(fabs(r.loss - log(10.0)) < 1e-6, "loss %.9g, want ln 10", r.loss);
    bool set = false;
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        cr_assert_eq(onnxc_model_initializer(m, i, &v), ONNXC_OK);
        if (v.rank == 1 && v.dims[0] == CLASSES) {
            ((float *)v.data)[0] = logf(9.0f);
            set = true;
        }
    }
    cr_assert(set, "no bias of %d values", CLASSES);
    cr_assert_eq(onnxc_trainer_evaluate_batch(t, &in, &lt, &r, NULL, 0, &err), ONNXC_OK, "%s", err.message);
    cr_expect(fabs(r.loss - log(2.0)) < 1e-6, "the trainer sees the new bias at once: loss %.9g, want ln 2",
              r.loss);
    onnxc_model_weights_changed(m);
    cr_assert_eq(onnxc_session_run(s, &in, 1, &out, 1, &err), ONNXC_OK, "%s", err.message);
    cr_expect(fabsf(y[0] - 0.5f) < 1e-6f && fabsf(y[1] - 0.5f / 9.0f) < 1e-6f, "session: %.9g %.9g", y[0], y[1]);
    onnxc_trainer_free(t);
    onnxc_session_free(s);
    onnxc_model_free(m);
}
