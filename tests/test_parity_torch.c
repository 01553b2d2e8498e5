/*
 * Training parity with PyTorch: the same initial weights, the same batches
 * and Adam at batch 32 give the same per-step losses (within 1e-4 relative)
 * and the same weights after 100 steps (within 5e-5 absolute) as PyTorch 1.13.
 *
 * The reference lives in the .npy files of tests/parity, written once by
 * tests/parity/make_reference.py with Debian's python3-torch and committed;
 * this test needs no torch. README.md there describes the setup, in short:
 * the seed network 784-64(relu)-64(relu)-10(softmax) with numpy Glorot
 * weights, the first 3200 Fashion-MNIST training images in a fixed
 * permutation, cross-entropy on the logits, Keras-form Adam (lr 1e-3,
 * epsilon 1e-7). Here the network comes from onnxc_model_from_spec, its
 * initializers are overwritten through onnxc_model_initializer views, and
 * 100 onnxc_trainer_step calls run on exactly the reference batches.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "onnxc.h"
#include "testutil.h"

#define PARITY_DIR ONNXC_SOURCE_DIR "/tests/parity"
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define SPEC "784,64:relu,64:relu,10:softmax"
#define STEPS 100
#define BATCH 32
#define N_IMAGES (STEPS * BATCH)
#define LOSS_RTOL 1e-4   /* the figures */
#define WEIGHT_ATOL 5e-5

/* Read tests/parity/<name>.npy, checking its dtype and element count. */
static onnxc_tensor reference(const char *name, onnxc_dtype dtype, int64_t numel)
{
    char *path = tu_path("%s/%s.npy", PARITY_DIR, name);
    onnxc_tensor t;
    char why[512];
    cr_assert(tu_npy_read(path, &t, why, sizeof why), "%s: %s (regenerate with tests/parity/make_reference.py)",
              path, why);
    int64_t n = 1;
    for (int d = 0; d < t.rank; d++) n *= t.dims[d];
    cr_assert(t.dtype == dtype && n == numel, "%s: expected %s with %lld elements, got %s with %lld", path,
              onnxc_dtype_name(dtype), (long long)numel, onnxc_dtype_name(t.dtype), (long long)n);
    free(path);
    return t;
}

/* "dense_1/kernel" -> "<prefix>_dense_1_kernel", the reference file's name. */
static char *file_name(const char *prefix, const char *initializer)
{
    char *s = tu_path("%s_%s", prefix, initializer);
    for (char *c = s; *c; c++)
        if (*c == '/') *c = '_';
    return s;
}

static size_t numel(const onnxc_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->rank; d++) n *= (size_t)t->dims[d];
    return n;
}

/* The reference is what the C side will be judged by: check it is sane
 * (a permutation of the 3200 rows, finite decreasing-ish losses). */
static void check_reference_data(const int64_t *idx, const double *loss)
{
    unsigned char *seen = calloc(N_IMAGES, 1);
    for (int i = 0; i < N_IMAGES; i++) {
        cr_assert(idx[i] >= 0 && idx[i] < N_IMAGES && !seen[idx[i]], "batch_indices.npy: entry %d = %lld is not "
                  "part of a permutation of 0..%d", i, (long long)idx[i], N_IMAGES - 1);
        seen[idx[i]] = 1;
    }
    free(seen);
    for (int s = 0; s < STEPS; s++) cr_assert(isfinite(loss[s]) && loss[s] > 0, "losses.npy[%d] = %g", s, loss[s]);
    /* ln(10) = 2.30 for an untrained 10-class softmax; well below after 100 steps. */
    cr_assert(fabs(loss[0] - log(10.0)) < 0.2 && loss[STEPS - 1] < 1.0, "losses.npy: %g ... %g", loss[0],
              loss[STEPS - 1]);
}

/* The seed network with the reference's initial weights written into it. */
static onnxc_model *reference_model(void)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec(SPEC, 99, &m, &err), ONNXC_OK, "%s", err.message);
    size_t n = onnxc_model_initializer_count(m);
    cr_assert_eq(n, 6, "%s: expected 6 initializers, got %zu", SPEC, n);
    for (size_t i = 0; i < n; i++) {
        onnxc_tensor view;
        cr_assert_eq(onnxc_model_initializer(m, i, &view), ONNXC_OK);
        char *name = file_name("initial", view.name);
        onnxc_tensor w = reference(name, ONNXC_FLOAT, (int64_t)numel(&view));
        cr_assert(w.rank == view.rank && !memcmp(w.dims, view.dims, (size_t)w.rank * sizeof w.dims[0]),
                  "%s: shape differs from initializer '%s'", name, view.name);
        memcpy(view.data, w.data, numel(&view) * sizeof(float));  /* views are writable */
        free(w.data);
        free(name);
    }
    return m;
}

/*
 * Train 100 steps with `threads` threads and compare with the reference.
 * Returns the trained model (for comparisons across thread counts).
 */
static onnxc_model *train_and_compare(int threads)
{
    if (!tu_is_dir(FASHION_DIR)) cr_skip_test(FASHION_DIR " is not installed (Debian: fashion-mnist data)");
    onnxc_tensor idx_t = reference("batch_indices", ONNXC_INT64, N_IMAGES);
    onnxc_tensor loss_t = reference("losses", ONNXC_DOUBLE, STEPS);
    const int64_t *idx = idx_t.data;
    const double *ref_loss = loss_t.data;
    check_reference_data(idx, ref_loss);

    onnxc_dataset *ds;
    onnxc_error err;
    cr_assert_eq(onnxc_dataset_load_idx(FASHION_DIR, "train", &ds, &err), ONNXC_OK, "%s", err.message);
    /* Rows are gathered here, not by the library: the raw uint8 pixels and
     * int64 labels the idx loader keeps (dataset.h). */
    cr_assert(ds->n >= N_IMAGES && ds->sample_elems == 784 && ds->x_type == ONNXC_UINT8 &&
              ds->y_type == ONNXC_INT64, "unexpected Fashion-MNIST layout");
    const uint8_t *pixels = ds->x;
    const int64_t *labels = ds->y;

    onnxc_model *m = reference_model();
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o); /* sparse CE, Adam lr 1e-3 b1 0.9 b2 0.999 eps 1e-7 */
    o.threads = threads;
    cr_assert_eq(o.optimizer.kind, ONNXC_OPT_ADAM);
    cr_assert(o.optimizer.learning_rate == 1e-3 && o.optimizer.epsilon == 1e-7 && o.optimizer.beta_1 == 0.9 &&
              o.optimizer.beta_2 == 0.999, "the Keras Adam defaults changed; the reference uses them");
    onnxc_trainer *t;
    cr_assert_eq(onnxc_trainer_create(m, &o, &t, &err), ONNXC_OK, "%s", err.message);

    float *x = malloc((size_t)BATCH * 784 * sizeof *x); /* [32, 784] */
    int64_t y[BATCH];
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {BATCH, 784}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {BATCH}, .data = y};
    double worst = 0.0;
    int worst_step = 0;
    for (int s = 0; s < STEPS; s++) {
        for (int r = 0; r < BATCH; r++) {
            int64_t row = idx[s * BATCH + r];
            /* pixels / 255 in float32, as numpy's astype(float32) / float32(255) */
            for (int j = 0; j < 784; j++) x[r * 784 + j] = (float)pixels[row * 784 + j] / 255.0f;
            y[r] = labels[row];
        }
        onnxc_batch_result br;
        cr_assert_eq(onnxc_trainer_step(t, &xt, &yt, &br, &err), ONNXC_OK, "step %d: %s", s + 1, err.message);
        double rel = fabs(br.loss - ref_loss[s]) / fabs(ref_loss[s]);
        cr_expect(rel <= LOSS_RTOL, "%d thread(s), step %d: loss %.9g, PyTorch %.9g (relative difference %.3g > %g)",
                  threads, s + 1, br.loss, ref_loss[s], rel, LOSS_RTOL);
        if (rel > worst) {
            worst = rel;
            worst_step = s + 1;
        }
    }
    cr_log_info("%d thread(s): largest loss difference %.3g relative, at step %d", threads, worst, worst_step);
    cr_expect_eq(onnxc_trainer_iterations(t), STEPS);

    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor view;
        cr_assert_eq(onnxc_model_initializer(m, i, &view), ONNXC_OK);
        char *name = file_name("final", view.name);
        size_t n = numel(&view);
        onnxc_tensor w = reference(name, ONNXC_FLOAT, (int64_t)n);
        const float *got = view.data, *want = w.data;
        double max_diff = 0.0;
        size_t at = 0, bad = 0;
        for (size_t k = 0; k < n; k++) {
            double d = fabs((double)got[k] - (double)want[k]);
            bad += !(d <= WEIGHT_ATOL); /* NaN counts as bad */
            if (!(d <= max_diff)) {
                max_diff = d;
                at = k;
            }
        }
        cr_expect_eq(bad, 0, "%d thread(s), '%s' after %d steps: %zu of %zu weights differ from PyTorch by more than "
                     "%g; largest %.3g at flat index %zu (onnxc %.9g, PyTorch %.9g)",
                     threads, view.name, STEPS, bad, n, WEIGHT_ATOL, max_diff, at, got[at], want[at]);
        cr_log_info("%d thread(s), %s: largest weight difference %.3g", threads, view.name, max_diff);
        free(w.data);
        free(name);
    }
    free(x);
    onnxc_trainer_free(t);
    onnxc_dataset_free(ds);
    free(idx_t.data);
    free(loss_t.data);
    return m;
}

Test(parity_torch, adam_100_steps_one_thread, .timeout = 300)
{
    onnxc_model_free(train_and_compare(1));
}

Test(parity_torch, adam_100_steps_two_threads, .timeout = 300)
{
    onnxc_model *two = train_and_compare(2);
    /* Results do not depend on the thread count: bit for bit. */
    onnxc_model *one = train_and_compare(1);
    for (size_t i = 0; i < onnxc_model_initializer_count(one); i++) {
        onnxc_tensor a, b;
        cr_assert_eq(onnxc_model_initializer(one, i, &a), ONNXC_OK);
        cr_assert_eq(onnxc_model_initializer(two, i, &b), ONNXC_OK);
        cr_expect(a.capacity == b.capacity && !memcmp(a.data, b.data, a.capacity),
                  "'%s' differs between 1 and 2 threads", a.name);
    }
    onnxc_model_free(one);
    onnxc_model_free(two);
}
