/*
 * The trainer end to end, through the public API: learning a separable
 * problem, bit-identical weights for 1 and 2 threads, write-back that changes
 * only initializer values (checked by python onnx on the two files),
 * checkpoint/resume equal to an uninterrupted run, NaN detection, and no
 * allocation in a step once its batch shape's plans exist (the one test
 * that reaches inside: it forces each way of running a step).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "onnxc.h"
#include "testutil.h"
#include "train/trainer.h"

/* 4 features, 2 classes: class = (x0 + x1 - x2 > 0); 512 samples. */
static onnxc_dataset *separable(uint64_t seed, size_t n, bool poison)
{
    float *x = malloc(n * 4 * sizeof *x);
    int64_t *y = malloc(n * sizeof *y);
    tu_rng r = {seed};
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < 4; j++) x[i * 4 + j] = (float)tu_rng_uniform(&r, -1, 1);
        y[i] = x[i * 4] + x[i * 4 + 1] - x[i * 4 + 2] > 0;
    }
    if (poison) x[5] = NAN;
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {(int64_t)n, 4}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {(int64_t)n}, .data = y};
    onnxc_dataset *ds;
    onnxc_error err;
    cr_assert_eq(onnxc_dataset_from_tensors(&xt, &yt, &ds, &err), ONNXC_OK, "%s", err.message);
    free(x);
    free(y);
    return ds;
}

static onnxc_model *spec_model(const char *spec, uint64_t seed)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec(spec, seed, &m, &err), ONNXC_OK, "%s", err.message);
    return m;
}

static onnxc_trainer *trainer(onnxc_model *m, int threads, double lr)
{
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    o.threads = threads;
    if (lr > 0) o.optimizer.learning_rate = lr;
    onnxc_trainer *t;
    onnxc_error err;
    cr_assert_eq(onnxc_trainer_create(m, &o, &t, &err), ONNXC_OK, "%s", err.message);
    return t;
}

/* True when every initializer of a and b holds the same bytes. */
static bool same_weights(const onnxc_model *a, const onnxc_model *b)
{
    if (onnxc_model_initializer_count(a) != onnxc_model_initializer_count(b)) return false;
    for (size_t i = 0; i < onnxc_model_initializer_count(a); i++) {
        onnxc_tensor x, y;
        cr_assert_eq(onnxc_model_initializer(a, i, &x), ONNXC_OK);
        cr_assert_eq(onnxc_model_initializer(b, i, &y), ONNXC_OK);
        if (strcmp(x.name, y.name) || x.capacity != y.capacity || memcmp(x.data, y.data, x.capacity)) return false;
    }
    return true;
}

static void model_bytes(const onnxc_model *m, void **data, size_t *size)
{
    onnxc_error err;
    cr_assert_eq(onnxc_model_save_memory(m, data, size, &err), ONNXC_OK, "%s", err.message);
}

Test(trainer, learns_a_separable_problem)
{
    onnxc_dataset *ds = separable(7, 512, false);
    onnxc_model *m = spec_model("4,16:relu,2:softmax", 3);
    onnxc_trainer *t = trainer(m, 1, 0.01);
    onnxc_fit_options fo = {.epochs = 15, .batch_size = 32};
    onnxc_epoch_log hist[15];
    onnxc_error err;
    cr_assert_eq(onnxc_trainer_fit(t, ds, &fo, hist, 15, &err), ONNXC_OK, "%s", err.message);
    cr_expect(hist[14].loss < hist[0].loss * 0.5, "loss %g -> %g", hist[0].loss, hist[14].loss);
    double loss, acc;
    cr_assert_eq(onnxc_trainer_evaluate(t, ds, 64, &loss, &acc, NULL, 0, &err), ONNXC_OK, "%s", err.message);
    cr_expect(acc > 0.95, "accuracy %g", acc);
    cr_expect_eq(onnxc_trainer_iterations(t), 15 * 16);
    onnxc_trainer_free(t);
    onnxc_model_free(m);
    onnxc_dataset_free(ds);
}

Test(trainer, weights_identical_for_one_and_two_threads)
{
    onnxc_dataset *ds = separable(11, 1000, false);
    void *bytes[2];
    size_t size[2];
    for (int threads = 1; threads <= 2; threads++) {
        onnxc_model *m = spec_model("4,300:relu,200:relu,2:softmax", 5);
        onnxc_trainer *t = trainer(m, threads, 0);
        onnxc_fit_options fo = {.epochs = 2, .batch_size = 100};
        onnxc_error err;
        cr_assert_eq(onnxc_trainer_fit(t, ds, &fo, NULL, 0, &err), ONNXC_OK, "%s", err.message);
        model_bytes(m, &bytes[threads - 1], &size[threads - 1]);
        onnxc_trainer_free(t);
        onnxc_model_free(m);
    }
    cr_assert_eq(size[0], size[1]);
    cr_expect(memcmp(bytes[0], bytes[1], size[0]) == 0, "weights differ between 1 and 2 threads");
    free(bytes[0]);
    free(bytes[1]);
    onnxc_dataset_free(ds);
}

Test(trainer, writes_back_only_initializer_values)
{
    /* A third-party tf2onnx model: train it, save, compare protos in python. */
    const char *src = ONNXC_SHARED_DIR "/models/real/tf2onnx-1.17_op13_ohhmkar_gopherRT_mnist.onnx";
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(src, NULL, &m, &err), ONNXC_OK, "%s", err.message);
    size_t n = 64;
    float *x = calloc(n * 784, sizeof *x);
    int64_t *y = calloc(n, sizeof *y);
    tu_rng r = {3};
    for (size_t i = 0; i < n * 784; i++) x[i] = (float)tu_rng_uniform(&r, 0, 1);
    for (size_t i = 0; i < n; i++) y[i] = (int64_t)(i % 10);
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {(int64_t)n, 784}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {(int64_t)n}, .data = y};
    onnxc_trainer *t = trainer(m, 1, 0);
    onnxc_batch_result br;
    cr_assert_eq(onnxc_trainer_step(t, &xt, &yt, &br, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_trainer_step(t, &xt, &yt, &br, &err), ONNXC_OK, "%s", err.message);
    char *dir = tu_tmpdir("writeback");
    char *out = tu_path("%s/trained.onnx", dir);
    cr_assert_eq(onnxc_model_save(m, out, NULL, &err), ONNXC_OK, "%s", err.message);
    const char *script =
        "import sys, onnx\n"
        "a, b = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])\n"
        "changed = [x.name for x, y in zip(a.graph.initializer, b.graph.initializer) if x.raw_data != y.raw_data]\n"
        "assert len(changed) == 6, changed\n"
        "for m in (a, b):\n"
        "    for t in m.graph.initializer: t.ClearField('raw_data')\n"
        "assert a == b, 'something besides initializer values changed'\n";
    char *py = tu_path("%s/check.py", dir);
    tu_write_file(py, script, strlen(script));
    tu_proc p;
    tu_run((const char *[]){"/usr/bin/python3", py, src, out, NULL}, 120, &p);
    cr_expect_eq(p.status, 0, "python check failed: %s", p.err);
    tu_proc_free(&p);
    onnxc_trainer_free(t);
    onnxc_model_free(m);
    tu_rmtree(dir);
    free(dir);
    free(out);
    free(py);
    free(x);
    free(y);
}

Test(trainer, resume_from_checkpoint_matches_uninterrupted)
{
    onnxc_dataset *ds = separable(21, 300, false);
    char *dir = tu_tmpdir("resume");
    char *ck = tu_path("%s/ck.onnx", dir);
    onnxc_error err;
    /* straight: 3 epochs */
    onnxc_model *a = spec_model("4,8:relu,2:softmax", 9);
    onnxc_trainer *ta = trainer(a, 1, 0);
    onnxc_fit_options fo = {.epochs = 3, .batch_size = 32};
    cr_assert_eq(onnxc_trainer_fit(ta, ds, &fo, NULL, 0, &err), ONNXC_OK, "%s", err.message);
    /* interrupted: 1 epoch with a checkpoint, then a fresh process-like start that resumes */
    onnxc_model *b = spec_model("4,8:relu,2:softmax", 9);
    onnxc_trainer *tb = trainer(b, 1, 0);
    onnxc_fit_options f1 = {.epochs = 1, .batch_size = 32, .checkpoint_path = ck};
    cr_assert_eq(onnxc_trainer_fit(tb, ds, &f1, NULL, 0, &err), ONNXC_OK, "%s", err.message);
    onnxc_trainer_free(tb);
    onnxc_model_free(b);
    onnxc_model *c = spec_model("4,8:relu,2:softmax", 123); /* other init: resume must overwrite */
    onnxc_trainer *tc = trainer(c, 2, 0);
    onnxc_fit_options f2 = {.epochs = 3, .batch_size = 32, .resume_path = ck, .checkpoint_path = ck};
    cr_assert_eq(onnxc_trainer_fit(tc, ds, &f2, NULL, 0, &err), ONNXC_OK, "%s", err.message);
    cr_expect_eq(onnxc_trainer_iterations(tc), onnxc_trainer_iterations(ta));
    cr_expect(same_weights(a, c), "resumed weights differ from the uninterrupted run");
    /* the checkpoint is plain ONNX: it loads and passes check */
    onnxc_model *ckm;
    cr_assert_eq(onnxc_model_load(ck, NULL, &ckm, &err), ONNXC_OK, "%s", err.message);
    cr_expect_eq(onnxc_model_check(ckm, &err), ONNXC_OK, "%s", err.message);
    onnxc_model_free(ckm);
    /* a mismatched checkpoint is refused */
    onnxc_model *d = spec_model("4,9:relu,2:softmax", 9);
    onnxc_trainer *td = trainer(d, 1, 0);
    cr_expect_eq(onnxc_trainer_fit(td, ds, &f2, NULL, 0, &err), ONNXC_ERR_MODEL);
    cr_expect(strstr(err.message, "does not match") != NULL, "%s", err.message);
    onnxc_trainer_free(td);
    onnxc_model_free(d);
    onnxc_trainer_free(ta);
    onnxc_trainer_free(tc);
    onnxc_model_free(a);
    onnxc_model_free(c);
    onnxc_dataset_free(ds);
    tu_rmtree(dir);
    free(dir);
    free(ck);
}

Test(trainer, nan_stops_with_the_step_and_keeps_weights)
{
    onnxc_dataset *ds = separable(5, 64, true);
    onnxc_model *m = spec_model("4,8:relu,2:softmax", 1);
    void *before;
    size_t nb;
    model_bytes(m, &before, &nb);
    onnxc_trainer *t = trainer(m, 1, 0);
    onnxc_fit_options fo = {.epochs = 1, .batch_size = 64, .no_shuffle = true};
    onnxc_error err;
    cr_assert_eq(onnxc_trainer_fit(t, ds, &fo, NULL, 0, &err), ONNXC_ERR_NUMERIC);
    cr_expect(strstr(err.message, "step 1") != NULL, "%s", err.message);
    cr_expect(strstr(err.message, "epoch 1, batch 1 of 1: ") == err.message, "%s", err.message);
    void *after;
    size_t na;
    model_bytes(m, &after, &na);
    cr_expect(na == nb && memcmp(before, after, na) == 0, "weights changed by a failed step");
    free(before);
    free(after);
    onnxc_trainer_free(t);
    onnxc_model_free(m);
    onnxc_dataset_free(ds);
}

/* Issue #6: nothing is allocated per step. The seed network at batch 128
 * on an image-like batch (half its pixels zero, so the first layer takes
 * the zero-skipping kernels and keeps their masks), on two threads, each
 * way a step can run (one thread, two shards, the first layer's columns
 * split) forced in turn: after a few steps to build that way's plans, 20
 * more make no allocation through the library's wrappers (alloc.h), which
 * every allocation of the library goes through. */
Test(trainer, steps_allocate_nothing_once_warm)
{
    enum { ROWS = 128, FEATURES = 784, WARM = 3, COUNTED = 20 };
    float *x = malloc((size_t)ROWS * FEATURES * sizeof *x);
    int64_t y[ROWS];
    tu_rng r = {42};
    for (size_t i = 0; i < (size_t)ROWS * FEATURES; i++)
        x[i] = tu_rng_uniform(&r, 0, 1) < 0.5 ? 0.0f : (float)(1 + (int)tu_rng_uniform(&r, 0, 255)) / 255.0f;
    for (int i = 0; i < ROWS; i++) y[i] = i % 10;
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {ROWS, FEATURES}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {ROWS}, .data = y};
    onnxc_model *m = spec_model("784,64:relu,64:relu,10:softmax", 1);
    onnxc_trainer *t = trainer(m, 2, 0);
    onnxc_batch_result res;
    onnxc_error err;
    cr_assert_eq(onnxc_trainer_step(t, &xt, &yt, &res, &err), ONNXC_OK, "%s", err.message);
    cr_assert(oc_trainer_columns_usable(t), "the seed network's first layer should be splittable by columns");
    const oc_way ways[] = {OC_WAY_ONE_THREAD, OC_WAY_PARALLEL, OC_WAY_COLUMNS};
    for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
        oc_trainer_force_way(t, ways[w]);
        for (int i = 0; i < WARM; i++)
            cr_assert_eq(onnxc_trainer_step(t, &xt, &yt, &res, &err), ONNXC_OK, "%s", err.message);
        oc_alloc_fail_after(-1); /* restarts the count */
        for (int i = 0; i < COUNTED; i++)
            cr_assert_eq(onnxc_trainer_step(t, &xt, &yt, &res, &err), ONNXC_OK, "%s", err.message);
        const long made = oc_alloc_fail_after(-1);
        cr_expect_eq(made, 0, "way %d: %ld allocations in %d steps", (int)ways[w], made, COUNTED);
    }
    onnxc_trainer_free(t);
    onnxc_model_free(m);
    free(x);
}

/* Allocations of a warm trainer's 2-epoch fit of n samples at batch 32. */
static long fit_allocations(size_t n, int threads)
{
    onnxc_dataset *ds = separable(3, n, false);
    onnxc_model *m = spec_model("4,16:relu,2:softmax", 2);
    onnxc_trainer *t = trainer(m, threads, 0);
    onnxc_fit_options fo = {.epochs = 1, .batch_size = 32};
    onnxc_error err;
    cr_assert_eq(onnxc_trainer_fit(t, ds, &fo, NULL, 0, &err), ONNXC_OK, "%s", err.message);
    fo.epochs = 2;
    oc_alloc_fail_after(-1);
    cr_assert_eq(onnxc_trainer_fit(t, ds, &fo, NULL, 0, &err), ONNXC_OK, "%s", err.message);
    const long made = oc_alloc_fail_after(-1);
    onnxc_trainer_free(t);
    onnxc_model_free(m);
    onnxc_dataset_free(ds);
    return made;
}

/* fit() allocates per call (the shuffle order, the batch buffers), never
 * per batch: 10 and 40 steps an epoch make as many allocations. */
Test(trainer, fit_allocates_per_call_not_per_batch)
{
    for (int threads = 1; threads <= 2; threads++) {
        const long few = fit_allocations(320, threads), many = fit_allocations(1280, threads);
        cr_expect_eq(few, many, "%d threads: %ld allocations for 20 steps, %ld for 80", threads, few, many);
    }
}
