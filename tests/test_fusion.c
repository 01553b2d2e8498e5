/*
 * Dense-layer fusion of the inference plan (runtime/fuse_dense.c).
 *
 * tests/tools/make_fusion_models.py writes models in every shape of the
 * pattern (tf2onnx MatMul+Add+Relu, PyTorch Gemm transB=1, an intermediate
 * that is also a graph output, a MatMul read twice, batched 3-D input,
 * unfusable Gemm alpha/beta, a wide layer) with outputs computed by numpy in
 * float64. Each model runs through a session at 1 and 2 threads: the output
 * must match numpy and be bit-identical across thread counts, and the plan
 * must contain exactly the expected number of fused Dense steps.
 *
 * Each case also runs on the model made inference-only
 * (onnxc_model_set_inference_only): the expected weights are released (their
 * initializer views lose their data) and the output is bit-identical to the
 * normal model's, including where a plan needs a released weight unpacked
 * (folded at plan time, or a Gemm the fusion does not take).
 *
 * A second test checks that a session notices weights changed by a trainer
 * (its packed copies are re-made) and answers like a fresh session.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_dense.h"
#include "pack_cache.h"
#include "plan.h"
#include "support/testutil.h"

#define GENERATOR ONNXC_SOURCE_DIR "/tests/tools/make_fusion_models.py"

static char *dir;

static void make_models(void)
{
    char why[2048];
    dir = tu_generate(GENERATOR, "fusion", 300, why, sizeof why);
    cr_assert(dir, "%s", why);
}

static void remove_models(void)
{
    tu_rmtree(dir);
    free(dir);
}

static onnxc_tensor read_npy(const char *name, const char *suffix)
{
    onnxc_tensor t;
    char why[1024];
    cr_assert(tu_case_npy(dir, name, suffix, &t, why, sizeof why), "%s", why);
    return t;
}

/* Fused Dense steps in a plan built like a session's. */
static int count_dense_steps(const onnxc_model *m, const onnxc_tensor *x)
{
    oc_tensor in = {.dtype = x->dtype, .data = x->data};
    in.shape.rank = x->rank;
    memcpy(in.shape.dims, x->dims, sizeof x->dims);
    oc_pack_cache packs;
    onnxc_error err;
    cr_assert_eq(oc_pack_cache_init(&packs, m->graph.n_values, 0, &err), ONNXC_OK);
    uint64_t rng = 1;
    oc_plan_options opt = {.nthreads = 1, .rng = &rng, .packs = &packs};
    oc_plan plan;
    cr_assert_eq(oc_plan_build(&plan, m, &in, &opt, &err), ONNXC_OK, "%s", err.message);
    int dense = 0;
    for (int s = 0; s < plan.n_steps; s++) dense += plan.steps[s].node->op == &oc_op_dense;
    oc_plan_free(&plan);
    oc_pack_cache_free(&packs);
    return dense;
}

/* Initializers whose bytes onnxc_model_set_inference_only freed. */
static int count_released(const onnxc_model *m)
{
    int released = 0;
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor view;
        cr_assert_eq(onnxc_model_initializer(m, i, &view), ONNXC_OK);
        released += view.data == NULL && view.capacity > 0;
    }
    return released;
}

/* The same case on an inference-only model: bit-identical to `want`. */
static void run_inference_only(const char *path, const char *name, const onnxc_tensor *x,
                               int n_outputs, int expect_released, const float *want, size_t bytes)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(path, NULL, &m, &err), ONNXC_OK, "%s", err.message);
    /* A session planned before the call (its plan may read the weights the
     * call frees, in unfused nodes) must re-plan, not read freed memory. */
    onnxc_session *early;
    onnxc_tensor early_out[2] = {{0}};
    cr_assert_eq(onnxc_session_create(m, NULL, &early, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_session_run(early, x, 1, early_out, (size_t)n_outputs, &err), ONNXC_OK, "%s: %s",
                 name, err.message);
    cr_assert_eq(onnxc_model_set_inference_only(m, &err), ONNXC_OK, "%s: %s", name, err.message);
    cr_expect_eq(count_released(m), expect_released, "%s: released weights", name);
    memset(early_out, 0, sizeof early_out);
    cr_assert_eq(onnxc_session_run(early, x, 1, early_out, (size_t)n_outputs, &err), ONNXC_OK,
                 "%s (session made before the call): %s", name, err.message);
    cr_expect(memcmp(early_out[0].data, want, bytes) == 0,
              "%s (inference-only, session made before the call): differs from the normal model", name);
    onnxc_session_free(early);
    for (int threads = 1; threads <= 2; threads++) {
        onnxc_session *s;
        onnxc_session_options so = {.threads = threads};
        cr_assert_eq(onnxc_session_create(m, &so, &s, &err), ONNXC_OK, "%s", err.message);
        onnxc_tensor out[2] = {{0}};
        cr_assert_eq(onnxc_session_run(s, x, 1, out, (size_t)n_outputs, &err), ONNXC_OK,
                     "%s (inference-only): %s", name, err.message);
        cr_expect(memcmp(out[0].data, want, bytes) == 0,
                  "%s (inference-only, %d threads): differs from the normal model", name, threads);
        onnxc_session_free(s);
    }
    onnxc_model_free(m);
}

static void run_case(const char *name, int expect_dense, int n_outputs, int expect_released)
{
    char *path = tu_path("%s/%s.onnx", dir, name);
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(path, NULL, &m, &err), ONNXC_OK, "%s", err.message);
    onnxc_tensor x = read_npy(name, "x"), want = read_npy(name, "y");
    cr_expect_eq(count_dense_steps(m, &x), expect_dense, "%s: fused Dense steps", name);

    float *first = NULL;
    size_t bytes = 0;
    for (int threads = 1; threads <= 2; threads++) {
        onnxc_session *s;
        onnxc_session_options so = {.threads = threads};
        cr_assert_eq(onnxc_session_create(m, &so, &s, &err), ONNXC_OK, "%s", err.message);
        onnxc_tensor out[2] = {{0}};
        cr_assert_eq(onnxc_session_run(s, &x, 1, out, (size_t)n_outputs, &err), ONNXC_OK, "%s: %s",
                     name, err.message);
        const float *y = out[0].data, *w = want.data;
        size_t n = 1;
        for (int d = 0; d < want.rank; d++) n *= (size_t)want.dims[d];
        cr_assert_eq(out[0].rank, want.rank, "%s: output rank", name);
        for (size_t i = 0; i < n; i++)
            cr_assert(fabsf(y[i] - w[i]) <= 2e-4f + 2e-4f * fabsf(w[i]),
                      "%s (%d threads): y[%zu] = %.8g, numpy says %.8g", name, threads, i, (double)y[i],
                      (double)w[i]);
        if (threads == 1) {
            bytes = n * sizeof(float);
            first = malloc(bytes);
            memcpy(first, y, bytes);
        } else {
            cr_expect(memcmp(first, y, bytes) == 0, "%s: 2 threads differ from 1 thread", name);
        }
        onnxc_session_free(s);
    }
    run_inference_only(path, name, &x, n_outputs, expect_released, first, bytes);
    free(first);
    free(x.data);
    free(want.data);
    free(path);
    onnxc_model_free(m);
}

TestSuite(fusion, .init = make_models, .fini = remove_models, .timeout = 300);

/* Arguments: fused Dense steps, outputs, weights an inference-only model releases. */
Test(fusion, tf2onnx_two_layers) { run_case("tf2onnx_two_layers", 2, 1, 2); }
Test(fusion, pytorch_gemm) { run_case("pytorch_gemm", 2, 1, 2); }
Test(fusion, intermediate_output_stays) { run_case("intermediate_output", 1, 2, 1); }
Test(fusion, shared_matmul_keeps_its_add) { run_case("shared_matmul", 1, 1, 1); }
Test(fusion, batched_input) { run_case("batched_input", 1, 1, 1); }
/* w1 is read by a Gemm with alpha 0.5: kept; w2 is released. */
Test(fusion, unfusable_left_alone) { run_case("unfusable", 1, 1, 1); }
Test(fusion, wide_layer) { run_case("wide_layer", 1, 1, 1); }
Test(fusion, released_weight_folded_at_plan_time) { run_case("released_then_folded", 1, 1, 1); }
Test(fusion, released_weight_in_an_unfused_gemm) { run_case("gemm_full_c", 0, 1, 1); }

/* What an inference-only model refuses, and sessions made before the call. */
Test(fusion_weights, inference_only_model)
{
    onnxc_model *m, *ref;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec("12,16:relu,3:softmax", 7, &m, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_model_from_spec("12,16:relu,3:softmax", 7, &ref, &err), ONNXC_OK, "%s", err.message);
    float xs[5 * 12];
    for (int i = 0; i < 5 * 12; i++) xs[i] = (float)((i * 37) % 11) / 11.0f;
    onnxc_tensor x4 = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {4, 12}, .data = xs};
    onnxc_tensor x5 = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {5, 12}, .data = xs};

    onnxc_session *early, *rs;
    cr_assert_eq(onnxc_session_create(m, NULL, &early, &err), ONNXC_OK);
    cr_assert_eq(onnxc_session_create(ref, NULL, &rs, &err), ONNXC_OK);
    onnxc_tensor got = {0}, want = {0};
    cr_assert_eq(onnxc_session_run(early, &x4, 1, &got, 1, &err), ONNXC_OK, "%s", err.message);

    cr_assert_eq(onnxc_model_set_inference_only(NULL, &err), ONNXC_ERR_ARGUMENT);
    cr_assert_eq(onnxc_model_set_inference_only(m, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_model_set_inference_only(m, &err), ONNXC_OK, "a second call: %s", err.message);
    cr_expect_eq(count_released(m), 2, "both kernels are released, the biases kept");

    /* The early session re-plans for 5 rows on the model's packed weights. */
    for (int rows = 4; rows <= 5; rows++) {
        onnxc_tensor *x = rows == 4 ? &x4 : &x5;
        got = want = (onnxc_tensor){0}; /* outputs in the sessions' buffers */
        cr_assert_eq(onnxc_session_run(early, x, 1, &got, 1, &err), ONNXC_OK, "%d rows: %s", rows,
                     err.message);
        cr_assert_eq(onnxc_session_run(rs, x, 1, &want, 1, &err), ONNXC_OK, "%s", err.message);
        cr_expect(memcmp(got.data, want.data, (size_t)rows * 3 * sizeof(float)) == 0,
                  "%d rows: the inference-only model answers differently", rows);
    }

    char *dir = tu_tmpdir("inference_only");
    char *path = tu_path("%s/m.onnx", dir);
    void *bytes = NULL;
    size_t size = 0;
    cr_assert_eq(onnxc_model_save(m, path, NULL, &err), ONNXC_ERR_ARGUMENT);
    cr_expect(strstr(err.message, "inference-only") && strstr(err.message, "m.onnx"), "%s", err.message);
    cr_expect(!tu_exists(path), "a refused save wrote %s", path);
    cr_assert_eq(onnxc_model_save_memory(m, &bytes, &size, &err), ONNXC_ERR_ARGUMENT);
    cr_expect_null(bytes);
    onnxc_trainer *t = NULL;
    cr_assert_eq(onnxc_trainer_create(m, NULL, &t, &err), ONNXC_ERR_ARGUMENT);
    cr_expect(strstr(err.message, "cannot train") != NULL, "%s", err.message);
    cr_expect_null(t);
    tu_rmtree(dir);
    free(dir), free(path);
    onnxc_session_free(early);
    onnxc_session_free(rs);
    onnxc_model_free(m);
    onnxc_model_free(ref);
}

/* A trainer step changes the weights a session has packed: the session's
 * next run must use the new weights, exactly like a fresh session. */
Test(fusion_weights, session_sees_training_updates)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec("12,16:relu,3:softmax", 7, &m, &err), ONNXC_OK, "%s", err.message);
    float xs[4 * 12];
    for (int i = 0; i < 4 * 12; i++) xs[i] = (float)((i * 37) % 11) / 11.0f;
    onnxc_tensor x = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {4, 12}, .data = xs};
    int64_t labels[4] = {0, 1, 2, 1};
    onnxc_tensor y = {.dtype = ONNXC_INT64, .rank = 1, .dims = {4}, .data = labels};

    onnxc_session *old;
    cr_assert_eq(onnxc_session_create(m, NULL, &old, &err), ONNXC_OK);
    onnxc_tensor before = {0};
    cr_assert_eq(onnxc_session_run(old, &x, 1, &before, 1, &err), ONNXC_OK, "%s", err.message);
    float saved[12];
    memcpy(saved, before.data, sizeof saved);

    onnxc_trainer *t;
    onnxc_trainer_options to;
    onnxc_trainer_options_default(&to);
    to.optimizer.learning_rate = 0.1;
    cr_assert_eq(onnxc_trainer_create(m, &to, &t, &err), ONNXC_OK, "%s", err.message);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(onnxc_trainer_step(t, &x, &y, NULL, &err), ONNXC_OK, "%s", err.message);

    onnxc_tensor after = {0}, fresh_out = {0};
    cr_assert_eq(onnxc_session_run(old, &x, 1, &after, 1, &err), ONNXC_OK, "%s", err.message);
    onnxc_session *fresh;
    cr_assert_eq(onnxc_session_create(m, NULL, &fresh, &err), ONNXC_OK);
    cr_assert_eq(onnxc_session_run(fresh, &x, 1, &fresh_out, 1, &err), ONNXC_OK, "%s", err.message);
    cr_expect(memcmp(after.data, fresh_out.data, sizeof saved) == 0,
              "the old session still answers with the weights it packed before training");
    cr_expect(memcmp(after.data, saved, sizeof saved) != 0, "three steps at lr 0.1 changed nothing");
    onnxc_session_free(old);
    onnxc_session_free(fresh);
    onnxc_trainer_free(t);
    onnxc_model_free(m);
}
