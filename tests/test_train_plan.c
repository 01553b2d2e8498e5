/*
 * The training plan's gradient bookkeeping (runtime/train/train_plan.c):
 * buffers with one contributor are overwritten by it, buffers with several
 * are zeroed and accumulated, every step. tests/tools/make_shared_grad_case.py
 * builds a model where a weight feeds two MatMuls and an activation is read
 * three times, and records torch's weights after each of 3 SGD steps; onnxc
 * must match them step by step (a stale or overwritten accumulation would
 * show at once).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "support/testutil.h"

#define GENERATOR ONNXC_SOURCE_DIR "/tests/tools/make_shared_grad_case.py"

static onnxc_tensor npy(const char *dir, const char *name)
{
    char *path = tu_path("%s/%s.npy", dir, name);
    onnxc_tensor t;
    char why[256];
    cr_assert(tu_npy_read(path, &t, why, sizeof why), "%s: %s", path, why);
    free(path);
    return t;
}

Test(train_plan, shared_gradients_match_torch_each_step, .timeout = 120)
{
    char why[2048];
    char *dir = tu_generate(GENERATOR, "shared_grad", 120, why, sizeof why);
    cr_assert(dir, "%s", why);

    char *path = tu_path("%s/shared.onnx", dir);
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(path, NULL, &m, &err), ONNXC_OK, "%s", err.message);
    onnxc_tensor x = npy(dir, "x"), t = npy(dir, "t");
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    o.loss = ONNXC_LOSS_MSE;
    onnxc_optimizer_defaults(ONNXC_OPT_SGD, &o.optimizer);
    o.optimizer.learning_rate = 0.05;
    onnxc_trainer *tr;
    cr_assert_eq(onnxc_trainer_create(m, &o, &tr, &err), ONNXC_OK, "%s", err.message);
    static const char *const names[] = {"W", "b", "V"};
    for (int step = 1; step <= 3; step++) {
        cr_assert_eq(onnxc_trainer_step(tr, &x, &t, NULL, &err), ONNXC_OK, "%s", err.message);
        for (size_t i = 0; i < 3; i++) {
            char want_name[8];
            snprintf(want_name, sizeof want_name, "%s%d", names[i], step);
            onnxc_tensor want = npy(dir, want_name), got;
            cr_assert_eq(onnxc_model_initializer(m, i, &got), ONNXC_OK);
            size_t n = 1;
            for (int d = 0; d < want.rank; d++) n *= (size_t)want.dims[d];
            const float *g = got.data, *w = want.data;
            for (size_t j = 0; j < n; j++)
                cr_assert(fabsf(g[j] - w[j]) <= 1e-5f + 1e-5f * fabsf(w[j]),
                          "step %d: %s[%zu] = %.8g, torch says %.8g", step, names[i], j, (double)g[j],
                          (double)w[j]);
            free(want.data);
        }
    }
    onnxc_trainer_free(tr);
    onnxc_model_free(m);
    free(x.data);
    free(t.data);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
