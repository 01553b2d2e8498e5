/*
 * Dense-layer fusion in training plans (runtime/fuse_dense.c with
 * runtime/ops/dense_train.c): MatMul/Gemm [+ Add] [+ Relu] whose weights
 * are trained run as one step, forward (bias and ReLU in the GEMM's
 * epilogue) and backward (ReLU mask and bias gradient in one pass, then
 * dW and dX).
 *
 * tests/tools/make_train_fusion_cases.py writes models in each layout
 * (tf2onnx MatMul+Add+Relu with the bias as either Add operand, PyTorch
 * Gemm transB=1, Gemm transB=0 with a [1, N] bias, MatMul+Relu without
 * bias, a pre-activation that is also a graph output, a layer wide enough
 * for the backward's column split, a 3-D input) and torch's float64 weights after each
 * of 3 SGD steps. Each case trains here with 1 and 2 threads: every weight
 * must match torch after every step, the two thread counts must agree bit
 * for bit, and the training plan must hold the expected number of fused
 * steps (so the test fails if fusion silently stops happening).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/dense.h"
#include "support/compare.h"
#include "support/testutil.h"
#include "trainer.h"

#define GENERATOR ONNXC_SOURCE_DIR "/tests/tools/make_train_fusion_cases.py"

static char *dir;

static void make_cases(void)
{
    char why[2048];
    dir = tu_generate(GENERATOR, "train_fusion", 300, why, sizeof why);
    cr_assert(dir, "%s", why);
}

static void remove_cases(void)
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

/* Fused Dense steps in the trainer's training plan(s). */
static int fused_steps(const onnxc_trainer *t)
{
    int n = 0;
    for (int i = 0; i < OC_PLAN_CACHE; i++) {
        if (!t->train_batch[i]) continue;
        const oc_plan *p = &t->train[i].fwd;
        for (int s = 0; s < p->n_steps; s++) n += p->steps[s].node->op == &oc_op_dense_train;
    }
    return n;
}

/* Train `name` for 3 SGD steps on `threads` threads; returns every
 * initializer's values after the last step, concatenated. */
static float *train_case(const char *name, onnxc_loss loss, int threads, int expect_fused,
                         size_t *total)
{
    char *path = tu_path("%s/%s.onnx", dir, name);
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(path, NULL, &m, &err), ONNXC_OK, "%s", err.message);
    onnxc_tensor x = read_npy(name, "x"), t = read_npy(name, "t");
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    o.loss = loss;
    o.threads = threads;
    onnxc_optimizer_defaults(ONNXC_OPT_SGD, &o.optimizer);
    o.optimizer.learning_rate = 0.1;
    onnxc_trainer *tr;
    cr_assert_eq(onnxc_trainer_create(m, &o, &tr, &err), ONNXC_OK, "%s: %s", name, err.message);
    const size_t n_init = onnxc_model_initializer_count(m);
    for (int step = 1; step <= 3; step++) {
        cr_assert_eq(onnxc_trainer_step(tr, &x, &t, NULL, &err), ONNXC_OK, "%s step %d: %s", name, step,
                     err.message);
        for (size_t i = 0; i < n_init; i++) {
            char suffix[32], why[1024];
            snprintf(suffix, sizeof suffix, "p%zu.s%d", i, step);
            onnxc_tensor want = read_npy(name, suffix), got;
            cr_assert_eq(onnxc_model_initializer(m, i, &got), ONNXC_OK);
            cr_assert(cmp_tensor(&got, &want, cmp_onnx(1e-5, 1e-5), why, sizeof why),
                      "%s, %d threads, step %d: initializer %zu against torch: %s", name, threads, step, i, why);
            free(want.data);
        }
    }
    cr_expect_eq(fused_steps(tr), expect_fused, "%s: fused Dense steps in the training plan", name);
    *total = 0;
    for (size_t i = 0; i < n_init; i++) {
        onnxc_tensor v;
        onnxc_model_initializer(m, i, &v);
        *total += v.capacity / sizeof(float);
    }
    float *all = malloc(*total * sizeof *all), *at = all;
    for (size_t i = 0; i < n_init; i++) {
        onnxc_tensor v;
        onnxc_model_initializer(m, i, &v);
        memcpy(at, v.data, v.capacity);
        at += v.capacity / sizeof(float);
    }
    onnxc_trainer_free(tr);
    onnxc_model_free(m);
    free(x.data);
    free(t.data);
    free(path);
    return all;
}

static void run_case(const char *name, onnxc_loss loss, int expect_fused)
{
    size_t n1, n2;
    float *one = train_case(name, loss, 1, expect_fused, &n1);
    float *two = train_case(name, loss, 2, expect_fused, &n2);
    cr_assert_eq(n1, n2);
    cr_expect(!memcmp(one, two, n1 * sizeof *one), "%s: 1 and 2 threads give different weights", name);
    free(one);
    free(two);
}

TestSuite(train_fusion, .init = make_cases, .fini = remove_cases, .timeout = 300);

Test(train_fusion, tf2onnx_matmul_add_relu_to_softmax)
{
    run_case("tf2onnx", ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 3);
}

Test(train_fusion, pytorch_gemm_trans_b) { run_case("gemm_t", ONNXC_LOSS_MSE, 2); }

Test(train_fusion, gemm_row_bias_and_matmul_relu_without_bias) { run_case("gemm_n", ONNXC_LOSS_MSE, 2); }

Test(train_fusion, graph_output_keeps_its_relu_apart) { run_case("exposed", ONNXC_LOSS_MSE, 2); }

Test(train_fusion, wide_layer_split_over_threads) { run_case("wide", ONNXC_LOSS_MSE, 2); }

Test(train_fusion, three_d_input_rows) { run_case("seq", ONNXC_LOSS_MSE, 2); }
