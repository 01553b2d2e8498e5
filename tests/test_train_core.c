/*
 * Loss functions and optimizer updates against independent references:
 * losses and gradients from PyTorch 1.13 (torch.nn.functional, float32),
 * optimizer trajectories from the Keras update formulas evaluated in numpy
 * float64 (two steps on w = [1, -2], g1 = [0.1, -0.3], g2 = [0.2, 0.05]).
 * The python snippets that produced each literal are quoted beside it.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_features.h"
#include "loss.h"
#include "optim.h"

static void check_close(const float *got, const double *want, int n, double tol, const char *what)
{
    for (int i = 0; i < n; i++)
        cr_expect(fabs(got[i] - want[i]) <= tol, "%s[%d]: got %.9g, want %.9g", what, i, got[i], want[i]);
}

static const float logits[6] = {1.0f, 2.0f, 0.5f, -1.0f, 0.0f, 3.0f};

Test(loss, sparse_ce_from_logits_matches_torch)
{
    /* torch.nn.functional.cross_entropy(z, [1, 2]) and z.grad */
    int64_t labels[2] = {1, 2};
    float grad[6] = {0};
    double rows[2];
    oc_loss_args a = {.kind = ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, .from_logits = true, .pred = logits,
                      .n = 2, .k = 3, .labels = labels, .grad = grad, .row_loss = rows, .nthreads = 1};
    oc_loss_result r;
    onnxc_error err;
    cr_assert_eq(oc_loss_compute(&a, &r, &err), ONNXC_OK, "%s", err.message);
    cr_expect(fabs(r.loss - 0.2651263475418091) < 1e-6, "loss %.9g", r.loss);
    const double want[6] = {0.11561194062232971, -0.18573415279388428, 0.07012218981981277,
                            0.008573911152780056, 0.023306312039494514, -0.03188022971153259};
    check_close(grad, want, 6, 1e-6, "dz");
    cr_expect_eq(r.correct, 2);
}

Test(loss, categorical_ce_soft_targets_matches_torch)
{
    /* -(t * log_softmax(z, 1)).sum(1).mean(), t = [[.2,.5,.3],[0,0,1]] */
    const float t[6] = {0.2f, 0.5f, 0.3f, 0, 0, 1};
    float grad[6] = {0};
    double rows[2];
    oc_loss_args a = {.kind = ONNXC_LOSS_CATEGORICAL_CROSSENTROPY, .from_logits = true, .pred = logits,
                      .n = 2, .k = 3, .targets = t, .grad = grad, .row_loss = rows, .nthreads = 1};
    oc_loss_result r;
    cr_assert_eq(oc_loss_compute(&a, &r, NULL), ONNXC_OK);
    cr_expect(fabs(r.loss - 0.5901263356208801) < 1e-6, "loss %.9g", r.loss);
    const double want[6] = {0.015611939132213593, 0.06426584720611572, -0.0798778161406517,
                            0.008573911152780056, 0.023306312039494514, -0.03188022971153259};
    check_close(grad, want, 6, 1e-6, "dz");
}

Test(loss, binary_ce_from_logits_and_mse_match_torch)
{
    /* binary_cross_entropy_with_logits(b, bt) and mse_loss(b, bt), mean over all elements */
    const float b[4] = {0.3f, -1.2f, 2.0f, 0.1f}, bt[4] = {1, 0, 0, 1};
    float grad[4] = {0};
    double rows[2];
    oc_loss_args a = {.kind = ONNXC_LOSS_BINARY_CROSSENTROPY, .from_logits = true, .pred = b, .n = 2, .k = 2,
                      .targets = bt, .grad = grad, .row_loss = rows, .nthreads = 1};
    oc_loss_result r;
    cr_assert_eq(oc_loss_compute(&a, &r, NULL), ONNXC_OK);
    cr_expect(fabs(r.loss - 0.8972406387329102) < 1e-6, "bce %.9g", r.loss);
    const double want[4] = {-0.1063893735408783, 0.05786880478262901, 0.22019925713539124, -0.11875520646572113};
    check_close(grad, want, 4, 1e-6, "bce grad");

    float g2[4] = {0};
    a.kind = ONNXC_LOSS_MSE;
    a.from_logits = false;
    a.grad = g2;
    cr_assert_eq(oc_loss_compute(&a, &r, NULL), ONNXC_OK);
    cr_expect(fabs(r.loss - 1.6850000619888306) < 1e-6, "mse %.9g", r.loss);
    const double want2[4] = {-0.35, -0.6, 1.0, -0.45};
    check_close(g2, want2, 4, 1e-6, "mse grad");
}

Test(loss, label_out_of_range_is_refused)
{
    int64_t labels[2] = {1, 3};
    double rows[2];
    oc_loss_args a = {.kind = ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, .from_logits = true, .pred = logits,
                      .n = 2, .k = 3, .labels = labels, .row_loss = rows, .nthreads = 1};
    oc_loss_result r;
    onnxc_error err;
    cr_assert_eq(oc_loss_compute(&a, &r, &err), ONNXC_ERR_SHAPE);
    cr_expect(strstr(err.message, "label 3 of sample 1") != NULL, "%s", err.message);
}

Test(loss, large_logits_stay_finite)
{
    const float z[3] = {1000.0f, -1000.0f, 999.0f};
    int64_t label = 2;
    float grad[3] = {0};
    double rows[1];
    oc_loss_args a = {.kind = ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, .from_logits = true, .pred = z,
                      .n = 1, .k = 3, .labels = &label, .grad = grad, .row_loss = rows, .nthreads = 1};
    oc_loss_result r;
    cr_assert_eq(oc_loss_compute(&a, &r, NULL), ONNXC_OK);
    /* log(1 + e^-1) + 1 - 0: hand-computed logsumexp */
    cr_expect(fabs(r.loss - 1.3132616875182228) < 1e-5, "loss %.9g", r.loss);
    cr_expect(isfinite(grad[0]) && isfinite(grad[1]) && isfinite(grad[2]));
}

/* Many classes: the loss keeps each row's exps for up to 256 classes and
 * takes them again beyond; both against softmax and logsumexp evaluated
 * here in long double (dL/dz = (softmax(z) - onehot) / n). The exps are
 * float, each within 2 ulp (2.4e-7 relative, kernels/vexp.h), so log(sum)
 * and each row's loss are within 2.4e-7 of exact, and each probability
 * within 2.4e-7 relative. */
Test(loss, sparse_ce_many_classes_match_softmax)
{
    static const int classes[] = {10, 256, 257, 1000};
    for (size_t c = 0; c < sizeof classes / sizeof *classes; c++) {
        const int k = classes[c], n = 2;
        float *z = malloc(sizeof(float) * (size_t)(n * k)), *grad = calloc((size_t)(n * k), sizeof(float));
        for (int i = 0; i < n * k; i++) z[i] = (float)sin(0.37 * i) * 4.0f;
        int64_t labels[2] = {k - 1, k / 3};
        double rows[2];
        oc_loss_args a = {.kind = ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, .from_logits = true, .pred = z,
                          .n = n, .k = k, .labels = labels, .grad = grad, .row_loss = rows, .nthreads = 1};
        oc_loss_result r;
        cr_assert_eq(oc_loss_compute(&a, &r, NULL), ONNXC_OK);
        long double total = 0;
        for (int i = 0; i < n; i++) {
            long double sum = 0;
            for (int j = 0; j < k; j++) sum += expl((long double)z[i * k + j]);
            total += logl(sum) - z[i * k + labels[i]];
            for (int j = 0; j < k; j++) {
                long double prob = expl((long double)z[i * k + j]) / sum;
                long double want = (prob - (j == labels[i])) / n;
                /* prob is off by at most 2 x 2.4e-7 relative (its exp and the
                 * sum), halved by n = 2; plus the float rounding of g. */
                cr_expect(fabsl(grad[i * k + j] - want) <= 2.4e-7L * prob + 3e-8L, "k=%d: grad[%d][%d] = %.9g, want %.9Lg", k, i,
                          j, grad[i * k + j], want);
            }
        }
        cr_expect(fabsl(r.loss - total / n) <= 2.4e-7L, "k=%d: loss %.12g, want %.12Lg", k, r.loss, total / n);
        free(z);
        free(grad);
    }
}

/* Up to 64 classes, sparse labels on logits take a batched path (blocks
 * of 16 rows held column by column, vectorized per kernel family). It must
 * give what the general per-row path gives (tested against torch above)
 * bit for bit, in every family this machine has: categorical
 * cross-entropy on one-hot targets computes the same sums (lse - z[label],
 * softmax - onehot) there. 37 rows (two blocks and a part), ties (argmax
 * takes the first), huge logits, and NaNs at j = 0 and inside a row. */
Test(loss, batched_sparse_ce_equals_per_row_path)
{
    enum { N = 37 };
    static const int classes[] = {1, 3, 10, 64};
    enum { CLASSES = sizeof classes / sizeof *classes };
    for (int run = 0; run < (OC_ISA_AVX512 + 1) * CLASSES; run++) { /* each family, each class count */
        const int isa = run / CLASSES, k = classes[run % CLASSES];
        if (oc_cpu_set_isa(isa) != (oc_isa)isa) continue; /* not on this machine */
        const char *fam = oc_isa_name((oc_isa)isa);
        float *z = malloc(sizeof(float) * N * (size_t)k), *t = calloc((size_t)(N * k), sizeof(float));
        float *g1 = calloc((size_t)(N * k), sizeof(float)), *g2 = calloc((size_t)(N * k), sizeof(float));
        int64_t labels[N];
        double rows1[N], rows2[N];
        for (int i = 0; i < N * k; i++) z[i] = (float)sin(0.91 * i) * 6.0f;
        for (int i = 0; i < N; i++) {
            labels[i] = (i * 7) % k;
            t[i * k + labels[i]] = 1.0f;
        }
        z[3 * k] = 1e30f; /* row 3: one huge logit */
        for (int j = 0; j < k; j++) z[5 * k + j] = 2.5f; /* row 5: all tied */
        z[8 * k] = NAN;   /* row 8: NaN first */
        if (k > 2) z[20 * k + 2] = NAN; /* row 20: NaN inside */
        oc_loss_args a = {.kind = ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, .from_logits = true, .pred = z,
                          .n = N, .k = k, .labels = labels, .grad = g1, .row_loss = rows1, .nthreads = 1};
        oc_loss_args b = {.kind = ONNXC_LOSS_CATEGORICAL_CROSSENTROPY, .from_logits = true, .pred = z,
                          .n = N, .k = k, .targets = t, .grad = g2, .row_loss = rows2, .nthreads = 1};
        oc_loss_result r1, r2;
        cr_assert_eq(oc_loss_compute(&a, &r1, NULL), ONNXC_OK);
        cr_assert_eq(oc_loss_compute(&b, &r2, NULL), ONNXC_OK);
        cr_expect_eq(r1.correct, r2.correct, "%s k=%d: %zu correct, per-row path %zu", fam, k, r1.correct,
                     r2.correct);
        for (int i = 0; i < N; i++) {
            cr_expect(rows1[i] == rows2[i] || (isnan(rows1[i]) && isnan(rows2[i])),
                      "%s k=%d row %d: loss %.17g, per-row path %.17g", fam, k, i, rows1[i], rows2[i]);
            for (int j = 0; j < k; j++) {
                const float x = g1[i * k + j], y = g2[i * k + j];
                cr_expect(memcmp(&x, &y, sizeof x) == 0 || (isnan(x) && isnan(y)),
                          "%s k=%d grad[%d][%d] = %.9g, per-row path %.9g", fam, k, i, j, x, y);
            }
        }
        cr_expect(isnan(rows1[8]), "k=%d: a NaN logit gives a NaN loss", k);
        free(z);
        free(t);
        free(g1);
        free(g2);
    }
    oc_cpu_set_isa(-1);
}

/* Two steps of `kind` with Keras defaults; compare with the numpy trajectory. */
static void two_steps(onnxc_optimizer_kind kind, const double want[2])
{
    onnxc_optimizer hp;
    onnxc_optimizer_defaults(kind, &hp);
    if (kind == ONNXC_OPT_NESTEROV) hp.learning_rate = 0.01;
    float w[16] = {1.0f, -2.0f};
    float *data[1] = {w};
    size_t offset[1] = {0}, size[1] = {2};
    oc_param_set p = {.count = 1, .data = data, .offset = offset, .size = size, .total = 16};
    oc_optim_state s;
    cr_assert_eq(oc_optim_init(&s, &hp, 16, NULL), ONNXC_OK);
    float g1[16] = {0.1f, -0.3f}, g2[16] = {0.2f, 0.05f};
    oc_optim_step(&s, &p, g1, 1);
    oc_optim_step(&s, &p, g2, 1);
    check_close(w, want, 2, 2e-6, "w");
    cr_expect_eq(s.iterations, 2);
    oc_optim_free(&s);
}

/* numpy: a = lr*sqrt(1-b2**t)/(1-b1**t); m += (g-m)*(1-b1); v += (g*g-v)*(1-b2); w -= a*m/(sqrt(v)+eps) */
Test(optimizer, adam_keras_formula)
{
    two_steps(ONNXC_OPT_ADAM, (const double[]){0.9980348632468621, -1.9984614785910002});
}

/* numpy: w -= lr*wd*w, then the Adam step (wd = 0.004) */
Test(optimizer, adamw_keras_formula)
{
    two_steps(ONNXC_OPT_ADAMW, (const double[]){0.9980268672627356, -1.998445482622958});
}

/* numpy: vel = 0.9*vel - 0.01*g; w += 0.9*vel - 0.01*g */
Test(optimizer, nesterov_keras_formula)
{
    two_steps(ONNXC_OPT_NESTEROV, (const double[]){0.99349, -1.99282});
}

/* numpy: acc = 0.1 + sum g^2; w -= 1e-3*g/sqrt(acc+1e-7) */
Test(optimizer, adagrad_keras_formula)
{
    two_steps(ONNXC_OPT_ADAGRAD, (const double[]){0.999182091185111, -1.9994257135263653});
}

/* numpy: ms = 0.9*ms + 0.1*g^2; w -= 1e-3*g/sqrt(ms+1e-7) */
Test(optimizer, rmsprop_keras_formula)
{
    two_steps(ONNXC_OPT_RMSPROP, (const double[]){0.9939807667387869, -1.9973849122865877});
}

/* hand: w -= 0.01*g twice; momentum: vel = 0.9 vel - 0.01 g; w += vel */
Test(optimizer, sgd_and_momentum)
{
    two_steps(ONNXC_OPT_SGD, (const double[]){1 - 0.001 - 0.002, -2 + 0.003 - 0.0005});
    two_steps(ONNXC_OPT_MOMENTUM, (const double[]){1 - 0.001 - (0.0009 + 0.002), -2 + 0.003 + (0.0027 - 0.0005)});
}

Test(optimizer, names_and_defaults)
{
    onnxc_optimizer o;
    onnxc_error err;
    cr_assert_eq(onnxc_optimizer_from_name("adam", &o, &err), ONNXC_OK);
    cr_expect(o.learning_rate == 1e-3 && o.beta_1 == 0.9 && o.beta_2 == 0.999 && o.epsilon == 1e-7);
    cr_assert_eq(onnxc_optimizer_from_name("adamax", &o, &err), ONNXC_ERR_ARGUMENT);
    cr_expect(strstr(err.message, "adamax") != NULL);
    onnxc_loss l;
    cr_assert_eq(onnxc_loss_from_name("sparse_categorical_crossentropy", &l, &err), ONNXC_OK);
    cr_expect_eq(l, ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY);
    cr_assert_eq(onnxc_loss_from_name("hinge", &l, &err), ONNXC_ERR_ARGUMENT);
}
