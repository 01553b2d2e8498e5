/*
 * Trained models are ordinary ONNX: ONNX Runtime (onnxruntime-node, CPU)
 * loads the file onnxc_model_save writes after training and predicts within
 * 1e-5 of onnxc's own run of that file.
 *
 * Two models are trained for one epoch (batch 32, Adam) on the first 2000
 * Fashion-MNIST training images through the public API: the seed network
 * from onnxc_model_from_spec, and a copy of the third-party tf2onnx model
 * shared/models/real/tf2onnx-1.17_op13_ohhmkar_gopherRT_mnist.onnx (an
 * imported model trains too). Each is saved, reloaded, and run by onnxc and
 * by ORT (tests/interop/ort_run.js) on the first 64 t10k images. The test
 * also checks that training changed the weights and lowered the loss on
 * those images, and that the reloaded file predicts bit for bit what the
 * in-memory trained model predicted.
 *
 * Needs node and onnxruntime-node (tests/interop/README.md): when either is
 * missing the tests FAIL and say how to install them; ONNXC_SKIP_ORT=1 skips
 * them deliberately.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "dataset.h"
#include "onnxc.h"
#include "testutil.h"

#ifndef ONNXC_TEST_NODE
#define ONNXC_TEST_NODE "node"
#endif

#define ORT_RUN ONNXC_SOURCE_DIR "/tests/interop/ort_run.js"
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define THIRD_PARTY ONNXC_SHARED_DIR "/models/real/tf2onnx-1.17_op13_ohhmkar_gopherRT_mnist.onnx"
#define N_TRAIN 2000
#define N_TEST 64
#define ORT_ATOL 1e-5

#define INSTALL_HINT                                                                        \
    "ONNX Runtime for node is needed by this test. Install node (Debian: apt-get install "  \
    "nodejs npm) and onnxruntime-node:\n"                                                   \
    "  mkdir -p " ONNXC_SOURCE_DIR "/.cache/ort && cd " ONNXC_SOURCE_DIR "/.cache/ort && "  \
    "npm install --ignore-scripts onnxruntime-node\n"                                       \
    "then run with NODE_PATH=" ONNXC_SOURCE_DIR "/.cache/ort/node_modules (or install "     \
    "elsewhere and point NODE_PATH at its node_modules). See tests/interop/README.md. "     \
    "To skip these tests deliberately, set ONNXC_SKIP_ORT=1."

static void require_ort_and_data(void)
{
    const char *skip = getenv("ONNXC_SKIP_ORT");
    if (skip && !strcmp(skip, "1")) cr_skip_test("ONNXC_SKIP_ORT=1: ONNX Runtime interop skipped on request");
    if (!tu_is_dir(FASHION_DIR)) cr_skip_test(FASHION_DIR " is not installed");
    cr_assert(tu_have_program(ONNXC_TEST_NODE), "`%s` is not in PATH.\n" INSTALL_HINT, ONNXC_TEST_NODE);
    /* Before training, so a missing package fails at once. */
    tu_proc p;
    tu_run((const char *[]){ONNXC_TEST_NODE, ORT_RUN, "--check", NULL}, 60, &p);
    cr_assert_neq(p.status, 3, "onnxruntime-node not found (NODE_PATH=%s).\n" INSTALL_HINT,
                  getenv("NODE_PATH") ? getenv("NODE_PATH") : "(unset)");
    cr_assert_eq(p.status, 0, "`node ort_run.js --check` exited %d\n%s", p.status, p.err);
    tu_proc_free(&p);
}

/* The first `n` samples of an idx split, as a dataset of uint8 28x28 images
 * (the trainer scales them by 1/255 and flattens them to 784). */
static onnxc_dataset *first_samples(const char *split, size_t n)
{
    onnxc_dataset *all, *out;
    onnxc_error err;
    cr_assert_eq(onnxc_dataset_load_idx(FASHION_DIR, split, &all, &err), ONNXC_OK, "%s", err.message);
    cr_assert(all->n >= n && all->x_type == ONNXC_UINT8 && all->y_type == ONNXC_INT64 && all->sample_elems == 784,
              "%s/%s: unexpected layout", FASHION_DIR, split);
    onnxc_tensor x = {.dtype = ONNXC_UINT8, .rank = 3, .dims = {(int64_t)n, 28, 28}, .data = (void *)all->x};
    onnxc_tensor y = {.dtype = ONNXC_INT64, .rank = 1, .dims = {(int64_t)n}, .data = (void *)all->y};
    cr_assert_eq(onnxc_dataset_from_tensors(&x, &y, &out, &err), ONNXC_OK, "%s", err.message);
    onnxc_dataset_free(all);
    return out;
}

/* The first N_TEST t10k images as float [64, 784] pixels / 255. */
static float *test_images(void)
{
    onnxc_dataset *ds;
    onnxc_error err;
    cr_assert_eq(onnxc_dataset_load_idx(FASHION_DIR, "t10k", &ds, &err), ONNXC_OK, "%s", err.message);
    float *x = malloc((size_t)N_TEST * 784 * sizeof *x);
    const uint8_t *px = ds->x;
    for (size_t i = 0; i < (size_t)N_TEST * 784; i++) x[i] = (float)px[i] / 255.0f;
    onnxc_dataset_free(ds);
    return x;
}

/* onnxc's prediction for x [64, 784], copied out of the session. */
static onnxc_tensor predict(const onnxc_model *m, float *x)
{
    onnxc_session *s;
    onnxc_session_options so = {.threads = 1};
    onnxc_error err;
    cr_assert_eq(onnxc_session_create(m, &so, &s, &err), ONNXC_OK, "%s", err.message);
    onnxc_tensor in = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {N_TEST, 784}, .data = x};
    onnxc_tensor out = {0}, copy;
    cr_assert_eq(onnxc_session_run(s, &in, 1, &out, 1, &err), ONNXC_OK, "%s", err.message);
    cr_assert(cmp_tensor_copy(&copy, &out));
    onnxc_session_free(s);
    return copy;
}

/* Mean cross-entropy of softmax outputs p [64, 10] against the t10k labels. */
static double test_loss(const onnxc_tensor *p, const int64_t *labels)
{
    const float *v = p->data;
    double sum = 0.0;
    for (int i = 0; i < N_TEST; i++) sum -= log(fmax(v[i * 10 + labels[i]], 1e-12));
    return sum / N_TEST;
}

/* Every float initializer's bytes, concatenated, to tell whether training
 * changed them. */
static size_t weights_snapshot(const onnxc_model *m, unsigned char **out)
{
    size_t total = 0;
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        cr_assert_eq(onnxc_model_initializer(m, i, &v), ONNXC_OK);
        total += v.capacity;
    }
    *out = malloc(total);
    size_t at = 0;
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        onnxc_model_initializer(m, i, &v);
        memcpy(*out + at, v.data, v.capacity);
        at += v.capacity;
    }
    return total;
}

/* Train `m` one epoch, save it, reload it, and compare ORT with onnxc. */
static void train_save_compare(onnxc_model *m, const char *what)
{
    onnxc_error err;
    onnxc_dataset *train = first_samples("train", N_TRAIN);
    onnxc_dataset *t10k = first_samples("t10k", N_TEST);
    const int64_t *labels = t10k->y;
    float *x = test_images();
    char *dir = tu_tmpdir("train-interop");
    char *saved = tu_path("%s/trained.onnx", dir), *x_path = tu_path("%s/x.npy", dir);
    char *ort_dir = tu_path("%s/ort", dir), *ort_out = tu_path("%s/ort/output_0.npy", dir);

    onnxc_tensor before = predict(m, x);
    unsigned char *w0;
    size_t w_size = weights_snapshot(m, &w0);

    onnxc_trainer_options to;
    onnxc_trainer_options_default(&to);
    to.threads = 1;
    onnxc_trainer *t;
    cr_assert_eq(onnxc_trainer_create(m, &to, &t, &err), ONNXC_OK, "%s: %s", what, err.message);
    onnxc_fit_options fo = {.epochs = 1, .batch_size = 32};
    onnxc_epoch_log log;
    cr_assert_eq(onnxc_trainer_fit(t, train, &fo, &log, 1, &err), ONNXC_OK, "%s: %s", what, err.message);
    cr_expect_eq(onnxc_trainer_iterations(t), (N_TRAIN + 31) / 32, "%s", what);
    onnxc_trainer_free(t);

    unsigned char *w1;
    cr_assert_eq(weights_snapshot(m, &w1), w_size);
    cr_expect(memcmp(w0, w1, w_size) != 0, "%s: training left every weight unchanged", what);
    onnxc_tensor trained = predict(m, x);
    double loss0 = test_loss(&before, labels), loss1 = test_loss(&trained, labels);
    cr_expect_lt(loss1, loss0, "%s: loss on 64 t10k images %g before training, %g after", what, loss0, loss1);
    cr_log_info("%s: t10k[:64] loss %.4f -> %.4f, train accuracy %.3f", what, loss0, loss1, log.accuracy);

    cr_assert_eq(onnxc_model_save(m, saved, NULL, &err), ONNXC_OK, "%s: %s", what, err.message);
    onnxc_model *reloaded;
    cr_assert_eq(onnxc_model_load(saved, NULL, &reloaded, &err), ONNXC_OK, "%s: %s", what, err.message);
    onnxc_tensor got = predict(reloaded, x);
    char why[1024];
    cr_expect(cmp_tensor_identical(&got, &trained, why, sizeof why),
              "%s: the saved file predicts differently from the model that was trained: %s", what, why);

    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {N_TEST, 784}, .data = x};
    cr_assert(tu_npy_write(x_path, &xt), "cannot write %s", x_path);
    tu_proc p;
    tu_run((const char *[]){ONNXC_TEST_NODE, ORT_RUN, saved, x_path, "--out", ort_dir, NULL}, 300, &p);
    cr_assert_neq(p.status, 127, "cannot run `%s`.\n" INSTALL_HINT, ONNXC_TEST_NODE);
    cr_assert_neq(p.status, 3, "onnxruntime-node not found (NODE_PATH=%s).\n" INSTALL_HINT,
                  getenv("NODE_PATH") ? getenv("NODE_PATH") : "(unset)");
    cr_assert_eq(p.status, 0, "%s: ONNX Runtime on %s: ort_run.js exited %d\n%s", what, saved, p.status, p.err);
    tu_proc_free(&p);
    onnxc_tensor ref;
    cr_assert(tu_npy_read(ort_out, &ref, why, sizeof why), "%s: ORT output: %s", what, why);
    cr_expect(cmp_tensor(&got, &ref, cmp_onnx(0.0, ORT_ATOL), why, sizeof why),
              "%s after training: onnxc vs ONNX Runtime on 64 t10k images: %s", what, why);
    double max_diff = 0.0;
    for (int64_t i = 0; ref.dtype == ONNXC_FLOAT && i < cmp_numel(&ref) && i < cmp_numel(&got); i++)
        max_diff = fmax(max_diff, fabs(cmp_get_double(&got, i) - cmp_get_double(&ref, i)));
    cr_log_info("%s: largest |onnxc - ORT| %.3g", what, max_diff);

    free(ref.data);
    cmp_tensor_free(&got);
    cmp_tensor_free(&trained);
    cmp_tensor_free(&before);
    onnxc_model_free(reloaded);
    free(w0);
    free(w1);
    free(x);
    tu_rmtree(dir);
    free(dir);
    free(saved);
    free(x_path);
    free(ort_dir);
    free(ort_out);
    onnxc_dataset_free(train);
    onnxc_dataset_free(t10k);
}

Test(train_interop, seed_model_trained_runs_in_ort, .timeout = 600)
{
    require_ort_and_data();
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec("784,64:relu,64:relu,10:softmax", 1, &m, &err), ONNXC_OK, "%s",
                 err.message);
    train_save_compare(m, "seed model 784,64:relu,64:relu,10:softmax");
    onnxc_model_free(m);
}

Test(train_interop, third_party_model_trained_runs_in_ort, .timeout = 600)
{
    require_ort_and_data();
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(THIRD_PARTY, NULL, &m, &err), ONNXC_OK, "%s", err.message);
    train_save_compare(m, "tf2onnx-1.17 gopherRT mnist");
    onnxc_model_free(m);
}
